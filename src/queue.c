// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: the classic listen_sock model, sizing and allocation.
 *
 * Before 4.4 every listener carried a SYN hash table sized from the
 * accept backlog, capped by tcp_max_syn_backlog, floored at 8 and rounded
 * up to a power of two with room for one more entry.  listenq rebuilds
 * that table per listener; mirror.c links the real requests into it.
 *
 * Memory: a table is charged to the listener's memory cgroup
 * (GFP_KERNEL_ACCOUNT, lq_charge_begin()) and never larger than
 * max_table_bytes, whatever the sysctls of a user-owned netns say.  A
 * charge over the cgroup's limit fails the allocation (no OOM kill for a
 * listen()); mode=observe then keeps a bare entry without a table.
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
static atomic_t lq_untracked_count = ATOMIC_INIT(0);

/* One table allocation: charged, may fail rather than OOM-kill, quiet. */
#define LQ_TABLE_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN | __GFP_ZERO)

int lq_live_tables(void)
{
	return atomic_read(&lq_tables_live);
}

int lq_untracked(void)
{
	return atomic_read(&lq_untracked_count);
}

void lq_untracked_inc(void)
{
	atomic_inc(&lq_untracked_count);
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

/* The most buckets a table of max_table_bytes holds: a power of two. */
static notrace u64 lq_table_cap(void)
{
	size_t bytes = READ_ONCE(listenq_max_table_bytes);

	return rounddown_pow_of_two((bytes - sizeof(struct listen_sock)) /
				    sizeof(struct hlist_head));
}

static notrace void lq_table_init(struct listen_sock *ls, struct sock *sk,
				  const struct lq_params *p, enum lq_origin origin)
{
	ls->sk = sk;
	ls->cur = *p;
	ls->first_max_syn_backlog = p->max_syn_backlog;
	ls->origin = origin;
	atomic_inc(&lq_tables_live);
}

/*
 * The listen_sock of @sk, charged to its memory cgroup: the classic table
 * (see lq_syn_limit()), cut to max_table_bytes.  Process context.
 */
struct listen_sock *notrace lq_table_alloc(struct sock *sk,
					   const struct lq_params *p,
					   enum lq_origin origin)
{
	struct mem_cgroup *memcg;
	struct listen_sock *ls;
	enum lq_limit by;
	u64 entries, cap;
	size_t size;
	bool vm;
	u32 n;

	/* the smallest table (the floor: 16 buckets) fills kmalloc-256 */
	BUILD_BUG_ON(sizeof(*ls) + 2 * LQ_SYN_TABLE_FLOOR * sizeof(ls->syn_table[0]) > 256);
	/* a cap of one page keeps every table of the kzalloc kind whole */
	BUILD_BUG_ON(sizeof(*ls) + 256 * sizeof(ls->syn_table[0]) > LQ_MAX_TABLE_BYTES_MIN);
	/* alloc_bytes holds any capped size */
	BUILD_BUG_ON(LQ_MAX_TABLE_BYTES_MAX > U32_MAX);

	by = lq_syn_limit(p, &n);
	if (n < LQ_SYN_TABLE_FLOOR) {
		n = LQ_SYN_TABLE_FLOOR;
		by = LQ_LIMIT_FLOOR;
	}
	/* u64: n + 1 may not fit in u32 when both limits are huge. */
	entries = roundup_pow_of_two((u64)n + 1);
	cap = lq_table_cap();
	if (entries > cap) {
		entries = cap;
		by = LQ_LIMIT_TABLE_CAP;
	}

	size = struct_size(ls, syn_table, entries);
	vm = size > PAGE_SIZE;
	if (lq_inject_fail())
		return NULL;
	memcg = lq_charge_begin(sk);
	if (vm)
		ls = __vmalloc(size, LQ_TABLE_GFP);
	else
		ls = kmalloc(size, LQ_TABLE_GFP);
	lq_charge_end(memcg);
	if (!ls)
		return NULL;

	lq_table_init(ls, sk, p, origin);
	ls->syn_limit_by = by;
	ls->nr_table_entries = entries;
	/* entries is a power of two >= 16, so this is the smallest l >= 3 */
	ls->max_qlen_log = max_t(u32, LQ_MIN_QLEN_LOG, ilog2(entries));
	ls->vmalloced = vm;
	ls->alloc_bytes = size;
	return ls;
}

/*
 * mode=observe, when lq_table_alloc() failed: an entry without a table
 * (syn_limit_by nomem, alloc none), so the listener still has its row,
 * peaks and counters; the mirror leaves its requests out.  Not subject to
 * inject_alloc_fail.
 */
struct listen_sock *notrace lq_table_alloc_bare(struct sock *sk,
						const struct lq_params *p,
						enum lq_origin origin)
{
	struct mem_cgroup *memcg;
	struct listen_sock *ls;

	memcg = lq_charge_begin(sk);
	ls = kmalloc(sizeof(*ls), LQ_TABLE_GFP);
	lq_charge_end(memcg);
	if (!ls)
		return NULL;
	lq_table_init(ls, sk, p, origin);
	ls->syn_limit_by = LQ_LIMIT_NOMEM;
	ls->alloc_bytes = sizeof(*ls);
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
