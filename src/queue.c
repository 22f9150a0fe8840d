// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: the classic listen_sock model, sizing and allocation.
 *
 * Before 4.4 every listener carried a SYN hash table sized from the
 * accept backlog, capped by tcp_max_syn_backlog, floored at 8 and rounded
 * up to a power of two with room for one more entry.  listenq rebuilds
 * that table per listener; mirror.c links the real requests into it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "listenq.h"

#define LQ_SYN_TABLE_FLOOR	8U
#define LQ_MIN_QLEN_LOG		3U

static atomic_t lq_tables_live = ATOMIC_INIT(0);
static atomic_t lq_alloc_count = ATOMIC_INIT(0);

int lq_live_tables(void)
{
	return atomic_read(&lq_tables_live);
}

/* inject_alloc_fail=N: every Nth allocation fails, counting all of them. */
static notrace bool lq_inject_fail(void)
{
	unsigned int every = READ_ONCE(listenq_inject_alloc_fail);

	if (!every)
		return false;
	return (unsigned int)atomic_inc_return(&lq_alloc_count) % every == 0;
}

/*
 * The SYN table is bounded by the accept queue limit and by
 * tcp_max_syn_backlog (compared as unsigned, as the old kernel did); the
 * smallest of backlog, somaxconn and max_syn_backlog wins, earliest on a tie.
 */
static notrace enum lq_limit lq_syn_limit(const struct lq_params *p, u32 *limit)
{
	u32 msb = (u32)p->max_syn_backlog;

	if (p->accept_max <= msb) {
		*limit = p->accept_max;
		return p->accept_limit_by;
	}
	*limit = msb;
	return LQ_LIMIT_MAX_SYN_BACKLOG;
}

struct listen_sock *notrace lq_table_alloc(struct sock *sk,
					   const struct lq_params *p,
					   enum lq_origin origin)
{
	struct listen_sock *ls;
	enum lq_limit by;
	u64 entries;
	size_t size;
	bool vm;
	u32 n;

	/* the smallest table (the floor: 16 buckets) fills kmalloc-256 */
	BUILD_BUG_ON(sizeof(*ls) + 2 * LQ_SYN_TABLE_FLOOR * sizeof(ls->syn_table[0]) > 256);

	by = lq_syn_limit(p, &n);
	if (n < LQ_SYN_TABLE_FLOOR) {
		n = LQ_SYN_TABLE_FLOOR;
		by = LQ_LIMIT_FLOOR;
	}
	/* u64: n + 1 may not fit in u32 when both limits are huge. */
	entries = roundup_pow_of_two((u64)n + 1);
	if (entries > U32_MAX)
		return NULL;	/* cannot be allocated anyway: -ENOMEM */

	size = struct_size(ls, syn_table, entries);
	vm = size > PAGE_SIZE;
	if (lq_inject_fail())
		return NULL;
	if (vm)
		/* vzalloc(), quiet: a huge sysctl-driven size may fail */
		ls = __vmalloc(size, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	else
		ls = kzalloc(size, GFP_KERNEL);
	if (!ls)
		return NULL;

	ls->sk = sk;
	ls->cur = *p;
	ls->first_max_syn_backlog = p->max_syn_backlog;
	ls->origin = origin;
	ls->syn_limit_by = by;
	ls->nr_table_entries = entries;
	/* entries is a power of two >= 16, so this is the smallest l >= 3 */
	ls->max_qlen_log = max_t(u32, LQ_MIN_QLEN_LOG, ilog2(entries));
	ls->vmalloced = vm;
	ls->alloc_bytes = size;
	atomic_inc(&lq_tables_live);
	return ls;
}

void notrace lq_table_free(struct listen_sock *ls)
{
	if (!ls)
		return;
	lq_mirror_clear(ls);
	if (ls->vmalloced)
		vfree(ls);
	else
		kfree(ls);
	atomic_dec(&lq_tables_live);
}

static LLIST_HEAD(lq_vfree_list);

static void lq_vfree_work_fn(struct work_struct *work)
{
	struct listen_sock *ls, *tmp;

	llist_for_each_entry_safe(ls, tmp, llist_del_all(&lq_vfree_list), reap)
		lq_table_free(ls);
}

static DECLARE_WORK(lq_vfree_work, lq_vfree_work_fn);

/*
 * From the listen_stop redirect, in the context of whoever ends the
 * listen: a task, but maybe with BH disabled (tcp_abort() from a BPF
 * iterator).  kfree() works in any such context, so the common small
 * table goes at once and a close wakes nobody; vfree() must not run with
 * BH disabled (and vfree_atomic() is not exported), so a vzalloc'd table
 * waits for a work item.
 */
void notrace lq_table_free_any(struct listen_sock *ls)
{
	if (!ls)
		return;
	if (!ls->vmalloced) {
		lq_table_free(ls);
		return;
	}
	if (llist_add(&ls->reap, &lq_vfree_list))
		schedule_work(&lq_vfree_work);
}

/* Unload: no deferred free may outlive the module. */
void lq_table_free_flush(void)
{
	flush_work(&lq_vfree_work);
	lq_vfree_work_fn(NULL);
}
