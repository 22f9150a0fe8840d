// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: the registry of listeners, one listen_sock per listening socket.
 *
 * Locking: one spinlock, always taken with BH disabled, protects the hash.
 * Entries are added while the socket listens (under its lock in replace
 * mode and at adoption; in observe mode checked under ours, see
 * lq_registry_add()) and removed by the inet_csk_listen_stop() redirect,
 * after the stock function, while the caller still holds its reference
 * on the socket.  A reader that finds an entry under the lock may
 * therefore dereference its socket.
 * Nothing sleeps under the lock; freeing happens outside it (see
 * lq_table_free_any()).  On PREEMPT_RT the lock is a sleeping lock and
 * every caller is in a context that may take one (none runs with
 * preemption or interrupts truly disabled).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hashtable.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/static_call.h>
#include <net/inet_connection_sock.h>
#include <net/inet_hashtables.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "compat.h"
#include "listenq.h"

#define LQ_HASH_BITS	10

static DEFINE_HASHTABLE(lq_hash, LQ_HASH_BITS);
static DEFINE_SPINLOCK(lq_lock);

/*
 * Bumped under lq_lock by every change but a charge: a listener added,
 * replaced or stopped, peaks reset.  While it stays put, a CPU's hint on
 * the last listener it charged holds: that listener is still registered
 * (so alive) and its peaks are at least the hint's.
 */
static unsigned long lq_gen;

struct lq_charge_hint {
	const struct sock *sk;
	unsigned long gen;
	u32 accept_peak;
	u32 syn_peak;
};

static DEFINE_PER_CPU(struct lq_charge_hint, lq_hint);

static notrace void lq_gen_bump(void)
{
	WRITE_ONCE(lq_gen, lq_gen + 1);
}

static notrace struct listen_sock *lq_find(const struct sock *sk)
{
	struct listen_sock *ls;

	hash_for_each_possible(lq_hash, ls, node, (unsigned long)sk)
		if (ls->sk == sk)
			return ls;
	return NULL;
}

/*
 * The one way into the registry: add @ls if its socket still listens and,
 * for an adopted entry, has none yet.  A fresh listen() always wins over
 * what was there (an entry adopted at load while the listen path ran); an
 * adopted entry never replaces one, so a socket has one entry at most.
 * Observe mode calls this after the stock inet_listen(), without the socket
 * lock: a close stores TCP_CLOSE before its listen_stop wrapper takes
 * lq_lock, so either the state read here shows the close, or the wrapper
 * comes later and removes the entry.  Returns false if @ls was not added.
 */
bool notrace lq_registry_add(struct listen_sock *ls)
{
	struct listen_sock *old = NULL;
	bool listening;

	spin_lock_bh(&lq_lock);
	listening = READ_ONCE(ls->sk->sk_state) == TCP_LISTEN;
	if (listening) {
		old = lq_find(ls->sk);
		if (old && ls->origin == LQ_ORIGIN_ADOPTED) {
			listening = false;	/* listened meanwhile: keep that */
			old = NULL;
		} else {
			if (old)
				hash_del(&old->node);
			hash_add(lq_hash, &ls->node, (unsigned long)ls->sk);
			lq_gen_bump();
		}
	}
	spin_unlock_bh(&lq_lock);
	lq_table_free(old);
	return listening;
}

/* Re-listen on a listener: only the accept side changes. */
void notrace lq_registry_relisten(struct sock *sk, const struct lq_params *p)
{
	struct listen_sock *ls;

	spin_lock_bh(&lq_lock);
	ls = lq_find(sk);
	if (ls) {
		ls->cur.backlog = p->backlog;
		ls->cur.somaxconn = p->somaxconn;
		ls->cur.accept_max = p->accept_max;
		ls->cur.accept_limit_by = p->accept_limit_by;
	}
	spin_unlock_bh(&lq_lock);
}

/*
 * Charge MIB deltas (and the current queue lengths, for the peaks) to the
 * listener @sk, with BH off (a live-state frame); @moved: a delta is not
 * zero.  @sk is only compared until found: an entry in the registry means
 * listen_stop has not run, so the socket is alive.
 */
void notrace lq_registry_charge(const struct sock *sk,
				const unsigned long *delta, bool moved)
{
	struct lq_charge_hint *hint = this_cpu_ptr(&lq_hint);
	struct listen_sock *ls;

	/*
	 * Most segments move no counter and raise no peak: skip the lock when
	 * the hint shows that.  With lq_gen unchanged @sk is still registered,
	 * and a listener is freed only after an RCU grace period (softirq is a
	 * reader), so its queues may be read here.
	 */
	if (!moved && hint->sk == sk && hint->gen == READ_ONCE(lq_gen) &&
	    READ_ONCE(sk->sk_ack_backlog) <= hint->accept_peak &&
	    inet_csk_reqsk_queue_len(sk) <= hint->syn_peak)
		return;
	/* BH is off already: no _bh, whose unlock would check for softirqs */
	spin_lock(&lq_lock);
	ls = lq_find(sk);
	if (ls) {
		lq_live_apply(&ls->live, sk, delta);
		hint->sk = sk;
		hint->gen = lq_gen;
		hint->accept_peak = ls->live.accept_peak;
		hint->syn_peak = ls->live.syn_peak;
	}
	spin_unlock(&lq_lock);
}

/* echo reset > /proc/listenq: zero the peaks and counters of @net. */
void lq_registry_reset(const struct net *net)
{
	struct listen_sock *ls;
	int bkt;

	spin_lock_bh(&lq_lock);
	hash_for_each(lq_hash, bkt, ls, node)
		if (net_eq(sock_net(ls->sk), net))
			memset(&ls->live, 0, sizeof(ls->live));
	lq_gen_bump();
	spin_unlock_bh(&lq_lock);
}

/*
 * A listener stopped listening, or a listen start failed after its entry
 * was added: drop the entry and free its table.
 */
notrace void lq_registry_unlisten(struct sock *sk)
{
	struct listen_sock *ls;
	unsigned long flags;

	/*
	 * irqsave, not _bh: a caller may run with BH off already
	 * (tcp_abort() from a BPF iterator, under lock_sock_fast()).  The
	 * caller is the task closing the socket, never a holder of lq_lock,
	 * so taking it here cannot deadlock.
	 */
	spin_lock_irqsave(&lq_lock, flags);
	ls = lq_find(sk);
	if (ls) {
		hash_del(&ls->node);
		lq_gen_bump();
	}
	spin_unlock_irqrestore(&lq_lock, flags);
	lq_table_free_any(ls);
}

static void lq_unresolved_listen_stop(struct sock *sk)
{
}

DEFINE_STATIC_CALL(lq_stock_listen_stop, lq_unresolved_listen_stop);

/*
 * Runs instead of inet_csk_listen_stop(sk), on every path that ends a
 * listen: close, shutdown/disconnect, tcp_abort() (SOCK_DESTROY, BPF
 * iterators), MPTCP.  Context: the caller's, a task holding the socket
 * lock, with BH enabled or (tcp_abort() from a BPF iterator) disabled,
 * preemptible on PREEMPT_RT in both cases; the caller holds a reference
 * on @sk.  The entry goes after the stock function, which drops the
 * queued requests through the mirror's wrappers while it still exists;
 * the work after the call also keeps the call from being a tail call.
 * A section of lq_srcu on every kernel: the stock function reschedules.
 */
notrace void lq_listen_stop(struct sock *sk)
{
	int idx = lq_hold();

	static_call(lq_stock_listen_stop)(sk);
	lq_registry_unlisten(sk);
	lq_release(idx);
}

LQ_SAME_PROTO(lq_listen_stop, inet_csk_listen_stop);

static const struct lq_redirect lq_stop_redirect[] = {
	LQ_REDIRECT("inet_csk_listen_stop", lq_listen_stop),
};

static struct lq_redirects lq_stop_hook;

/*
 * First of all hooks: from the moment an entry can be made, the end of
 * every listen removes it.
 */
int lq_registry_install(void)
{
	if (!lq_resolve_stock(lq_stock_listen_stop, "inet_csk_listen_stop")) {
		pr_err("inet_csk_listen_stop is not traceable\n");
		return -ENOENT;
	}
	return lq_redirects_install(&lq_stop_hook, lq_stop_redirect,
				    ARRAY_SIZE(lq_stop_redirect), "listen stop");
}

/* Last of all hooks, once no task can add an entry. */
void lq_registry_remove(void)
{
	lq_redirects_unhook(&lq_stop_hook);
}

/* Adopt one listener found in lhash2; we hold a reference on it. */
static int lq_adopt_one(struct sock *sk)
{
	struct listen_sock *ls = NULL;
	struct lq_params p;
	bool known;
	int err = 0;

	/*
	 * Under the socket lock the state cannot go from LISTEN to CLOSE, and
	 * listen_stop (which would remove us) follows that transition, so an
	 * entry added here is removed again when the socket stops listening.
	 */
	lock_sock(sk);
	if (sk->sk_state != TCP_LISTEN)
		goto out;
	spin_lock_bh(&lq_lock);
	known = lq_find(sk);
	spin_unlock_bh(&lq_lock);
	if (known)
		goto out;	/* listened through our hook meanwhile */

	lq_params_read(sk, READ_ONCE(sk->sk_max_ack_backlog), &p, false);
	/* a cgroup at its limit costs its listener the table, not the load */
	ls = lq_table_alloc(sk, &p, LQ_ORIGIN_ADOPTED) ?:
	     lq_table_alloc_bare(sk, &p, LQ_ORIGIN_ADOPTED);
	if (!ls) {
		err = -ENOMEM;
		goto out;
	}
	/* an observe-mode listen() may have added its entry meanwhile */
	if (!lq_registry_add(ls))
		lq_table_free(ls);
out:
	release_sock(sk);
	return err;
}

/*
 * Run @use on every socket in buckets 0 to @nr - 1 of @table, outside the
 * bucket locks (@use may sleep): @collect takes a reference on each socket
 * of one bucket, or returns -E2BIG when @cap is too small, and then the
 * array doubles and the bucket is collected again.  Returns how many @use
 * calls failed, or -ENOMEM.
 */
int lq_walk_buckets(void *table, unsigned int nr, lq_collect_fn collect,
		    int (*use)(struct sock *sk))
{
	int cap = 64, n, j, failed = 0;
	struct sock **socks;
	unsigned int i;

	socks = kmalloc_array(cap, sizeof(*socks), GFP_KERNEL);
	if (!socks)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		n = collect(table, i, socks, cap);
		if (n == -E2BIG) {
			kfree(socks);
			cap *= 2;
			socks = kmalloc_array(cap, sizeof(*socks), GFP_KERNEL);
			if (!socks)
				return -ENOMEM;
			i--;	/* same bucket again */
			continue;
		}
		for (j = 0; j < n; j++) {
			if (use(socks[j]))
				failed++;
			sock_gen_put(socks[j]);
		}
		cond_resched();
	}
	kfree(socks);
	return failed;
}

/* lq_collect_fn for the listeners of one lhash2 bucket of @table. */
static int lq_collect(void *table, unsigned int bkt, struct sock **socks,
		      int cap)
{
	struct inet_listen_hashbucket *ilb2 =
		&((struct inet_hashinfo *)table)->lhash2[bkt];
	struct hlist_nulls_node *node;
	struct sock *sk;
	int n = 0;

	spin_lock_bh(&ilb2->lock);
	sk_nulls_for_each(sk, node, &ilb2->nulls_head) {
		if (n == cap) {
			while (n)
				sock_put(socks[--n]);
			n = -E2BIG;
			break;
		}
		if (refcount_inc_not_zero(&sk->sk_refcnt))
			socks[n++] = sk;
	}
	spin_unlock_bh(&ilb2->lock);
	return n;
}

/*
 * Walk every TCP listener of every netns (lhash2 is shared) and adopt those
 * not yet known.  Runs after the hooks are live, so a listener either is in
 * lhash2 now or will pass through our listen path.
 */
int lq_registry_adopt_all(void)
{
	struct inet_hashinfo *h = lq_tcp_hashinfo();
	int failed;

	failed = lq_walk_buckets(h, h->lhash2_mask + 1, lq_collect, lq_adopt_one);
	if (failed < 0)
		return failed;
	if (failed)
		pr_warn("could not adopt %d listeners (no memory), not shown\n",
			failed);
	return 0;
}

/* Hooks are gone: free what is left without touching any socket. */
void lq_registry_exit(void)
{
	struct listen_sock *ls;
	struct hlist_node *tmp;
	HLIST_HEAD(all);
	int bkt;

	lq_table_free_flush();
	spin_lock_bh(&lq_lock);
	hash_for_each_safe(lq_hash, bkt, tmp, ls, node) {
		hash_del(&ls->node);
		hlist_add_head(&ls->node, &all);
	}
	lq_gen_bump();
	spin_unlock_bh(&lq_lock);
	hlist_for_each_entry_safe(ls, tmp, &all, node)
		lq_table_free(ls);
}

/*
 * For the mirror's wrappers, from softirq, the request timer or a task
 * (IRQs saved, see lq_registry_unlisten()): the entry of listener @sk or NULL,
 * with the lock held either way.
 */
struct listen_sock *notrace lq_registry_find_lock(const struct sock *sk,
						  unsigned long *flags)
	__acquires(lq_registry)
{
	spin_lock_irqsave(&lq_lock, *flags);
	lq_rt_sparse_acquire();
	return lq_find(sk);
}

void notrace lq_registry_unlock_irqrestore(unsigned long flags)
	__releases(lq_registry)
{
	spin_unlock_irqrestore(&lq_lock, flags);
	lq_rt_sparse_release();
}

/* For /proc/listenq: iterate the entries of one netns, under the lock. */
void lq_registry_lock(void)
	__acquires(lq_registry)
{
	spin_lock_bh(&lq_lock);
	lq_rt_sparse_acquire();
}

void lq_registry_unlock(void)
	__releases(lq_registry)
{
	spin_unlock_bh(&lq_lock);
	lq_rt_sparse_release();
}

/*
 * The entry @c names, or the first of @net after it: the (@c->skip)th
 * entry of @net in bucket @c->bkt, else the first of a later bucket.
 * @c is updated to the entry returned.
 */
struct listen_sock *lq_registry_seek(const struct net *net, struct lq_cursor *c)
{
	struct listen_sock *ls;
	unsigned int n;

	for (; c->bkt < HASH_SIZE(lq_hash); c->bkt++, c->skip = 0) {
		n = 0;
		hlist_for_each_entry(ls, &lq_hash[c->bkt], node) {
			if (!net_eq(sock_net(ls->sk), net))
				continue;
			if (n++ == c->skip)
				return ls;
		}
	}
	return NULL;
}

/* The entry of @net after @ls, which @c names; @c follows. */
struct listen_sock *lq_registry_next(const struct net *net, struct listen_sock *ls,
				     struct lq_cursor *c)
{
	while ((ls = hlist_entry_safe(ls->node.next, struct listen_sock, node))) {
		if (net_eq(sock_net(ls->sk), net)) {
			c->skip++;
			return ls;
		}
	}
	c->bkt++;
	c->skip = 0;
	return lq_registry_seek(net, c);
}
