// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: the syn_table mirror, each listener's half-open requests linked
 * into the bucket the classic (pre-4.4) kernel would have used.
 *
 * An entry holds a request pointer as a key only; it is never dereferenced
 * after insertion.  Requests are only read at points where the kernel hands
 * them to a hooked function alive.  Removal follows the kernel's removal
 * paths rather than verifying entries later with lookups:
 *
 *   inet_csk_reqsk_queue_hash_add()  before: linked; should the kernel
 *                                    then fail to hash it (a duplicate),
 *                                    it frees it at once, through the
 *                                    destructor
 *   inet_csk_reqsk_queue_drop()      before: RST, ICMP, bad ACK, closed
 *                                    listener, expiry (6.1 via _and_put)
 *   tcp_check_req()                  after (the live state's wrapper):
 *                                    the request is no longer hashed, the
 *                                    handshake completed or it was dropped
 *   tcp_v4/v6_reqsk_destructor()     before: the request is being freed
 *   reqsk_timer_handler()            after: a request migrated (reuseport,
 *                                    tcp_migrate_req) to another listener
 *
 * Each is redirected (hook.c, a direct call where ftrace allows) to a
 * wrapper that acts around the stock function, in its caller's context:
 * softirq, the request timer, or a task (a listener's close drops its
 * queue).  No kprobe or ftrace handler does any of it, so on PREEMPT_RT,
 * where the registry lock and the slab may sleep, they are taken in
 * preemptible (threaded softirq or task) context only.
 *
 * The destructor is the backstop that makes the scheme safe whatever the
 * compiler inlined: a request can only be freed through it (reqsk_free()
 * calls it through rsk_ops, so it is never inlined), and it runs before the
 * memory is released, so a stale key can never match a reused address.
 * The other removal hooks only make removal prompt where a request leaves
 * the queue but lives on (accept queue, references held by packets).
 *
 * Migration adds a clone under the new listener without calling
 * hash_add; the timer's wrapper saves the tuple before the stock handler
 * runs, finds the clone after it with the kernel's own ehash lookup and
 * links it there.
 *
 * Entries come from a slab cache with GFP_ATOMIC (softirq on a generic
 * kernel): one allocation and one hash per SYN queued, none for SYNs the
 * kernel drops or answers with a cookie.  The mirror holds at most what
 * the kernel's queues hold; an allocation failure, or a listener without
 * a table (queue.c), leaves the request out and is counted (mirror_missed).
 * The cache accounts its objects, and each is charged to the listener's
 * memory cgroup (lq_charge_begin()), also in softirq, where nothing would
 * be charged otherwise; an atomic charge over the limit goes through, as
 * the kernel's own atomic charges do, so the mirror never refuses a
 * request the kernel queued for a reason of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jhash.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/timer.h>
#include <linux/static_call.h>
#include <net/inet_connection_sock.h>
#include <net/inet_hashtables.h>
#include <net/inet6_hashtables.h>
#include <net/net_namespace.h>
#include <net/request_sock.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "compat.h"
#include "listenq.h"

struct lq_syn_entry {
	struct hlist_node node;
	const struct request_sock *req;	/* a key: never dereferenced */
};

static struct kmem_cache *lq_syn_cache;
static atomic_t lq_syn_entries = ATOMIC_INIT(0);
static atomic_t lq_syn_missed = ATOMIC_INIT(0);

int lq_mirror_entries(void)
{
	return atomic_read(&lq_syn_entries);
}

int lq_mirror_missed(void)
{
	return atomic_read(&lq_syn_missed);
}

static notrace void lq_syn_entry_free(struct lq_syn_entry *e)
{
	kmem_cache_free(lq_syn_cache, e);
	atomic_dec(&lq_syn_entries);
}

/* The classic inet_synq_hash() / inet6_synq_hash() bucket of a request. */
static notrace u32 lq_syn_bucket(const struct listen_sock *ls,
				 const struct request_sock *req)
{
	const struct inet_request_sock *ireq = inet_rsk(req);
	u32 port = (__force u32)ireq->ir_rmt_port;
	u32 h;

#if IS_ENABLED(CONFIG_IPV6)
	if (ireq->ireq_family == AF_INET6) {
		const __be32 *a = ireq->ir_v6_rmt_addr.s6_addr32;

		h = jhash_3words((__force u32)a[0], (__force u32)a[1],
				 (__force u32)a[2], ls->hash_rnd);
		h = jhash_2words((__force u32)a[3], port, h);
		return h & (ls->nr_table_entries - 1);
	}
#endif
	h = jhash_2words((__force u32)ireq->ir_rmt_addr, port, ls->hash_rnd);
	return h & (ls->nr_table_entries - 1);
}

static notrace struct lq_syn_entry *lq_syn_find(struct hlist_head *chain,
						const struct request_sock *req)
{
	struct lq_syn_entry *e;

	hlist_for_each_entry(e, chain, node)
		if (e->req == req)
			return e;
	return NULL;
}

/*
 * Link @req (alive) under its listener; @e is consumed or returned for the
 * caller to free (listener unknown, or @req already linked).
 */
static notrace struct lq_syn_entry *lq_syn_link(struct listen_sock *ls,
						const struct request_sock *req,
						struct lq_syn_entry *e)
{
	struct hlist_head *chain;

	if (!ls->nr_table_entries) {
		atomic_inc(&lq_syn_missed);
		return e;
	}
	chain = &ls->syn_table[lq_syn_bucket(ls, req)];
	if (lq_syn_find(chain, req))
		return e;
	if (!ls->hash_rnd) {
		/* drawn when first needed: most listeners never see a SYN */
		ls->hash_rnd = get_random_u32() ?: 1;
		chain = &ls->syn_table[lq_syn_bucket(ls, req)];
	}
	if (hlist_empty(chain))
		ls->syn_used++;
	e->req = req;
	hlist_add_head(&e->node, chain);
	ls->syn_linked++;
	return NULL;
}

static notrace void lq_syn_insert(const struct request_sock *req)
{
	const struct sock *listener = req->rsk_listener;
	struct mem_cgroup *memcg;
	struct lq_syn_entry *e;
	struct listen_sock *ls;
	unsigned long flags;

	if (!listener)
		return;
	memcg = lq_charge_begin(listener);
	e = kmem_cache_alloc(lq_syn_cache, GFP_ATOMIC | __GFP_NOWARN);
	lq_charge_end(memcg);
	if (!e) {
		atomic_inc(&lq_syn_missed);
		return;
	}
	atomic_inc(&lq_syn_entries);
	ls = lq_registry_find_lock(listener, &flags);
	if (ls)
		e = lq_syn_link(ls, req, e);
	lq_registry_unlock_irqrestore(flags);
	if (e)
		lq_syn_entry_free(e);
}

/* Unlink @req (alive) from its listener's table, if it is there. */
static notrace void lq_syn_remove(const struct request_sock *req)
{
	const struct sock *listener = req->rsk_listener;
	struct lq_syn_entry *e = NULL;
	struct hlist_head *chain;
	struct listen_sock *ls;
	unsigned long flags;

	/*
	 * No entry anywhere: the common case at the destructor, after the
	 * handshake unlinked the request.  An entry is counted before it is
	 * linked, on entry to hash_add, before the kernel publishes @req; so
	 * whoever removes @req later sees the count.
	 */
	if (!listener || !atomic_read(&lq_syn_entries))
		return;
	ls = lq_registry_find_lock(listener, &flags);
	if (ls && ls->syn_linked) {
		chain = &ls->syn_table[lq_syn_bucket(ls, req)];
		e = lq_syn_find(chain, req);
		if (e) {
			hlist_del(&e->node);
			ls->syn_linked--;
			if (hlist_empty(chain))
				ls->syn_used--;
		}
	}
	lq_registry_unlock_irqrestore(flags);
	if (e)
		lq_syn_entry_free(e);
}

/* A listen_sock leaving the registry: free its entries (no lock needed). */
void lq_mirror_clear(struct listen_sock *ls)
{
	struct lq_syn_entry *e;
	struct hlist_node *tmp;
	u32 i;

	for (i = 0; ls->syn_linked && i < ls->nr_table_entries; i++) {
		hlist_for_each_entry_safe(e, tmp, &ls->syn_table[i], node) {
			hlist_del(&e->node);
			ls->syn_linked--;
			lq_syn_entry_free(e);
		}
	}
	ls->syn_used = 0;
}

/* Longest chain, for /proc/listenq; under the registry lock. */
u32 lq_mirror_chain_max(const struct listen_sock *ls)
{
	struct lq_syn_entry *e;
	u32 i, n, max = 0, seen = 0;

	for (i = 0; seen < ls->syn_linked && i < ls->nr_table_entries; i++) {
		n = 0;
		hlist_for_each_entry(e, &ls->syn_table[i], node)
			n++;
		seen += n;
		if (n > max)
			max = n;
	}
	return max;
}

/*
 * The stock functions, past their hooks (lq_resolve_stock()); the
 * defaults are never called, the redirects start once all are resolved.
 */
static bool lq_unresolved_hash_add(struct sock *sk, struct request_sock *req,
				   unsigned long timeout)
{
	return false;
}

static void lq_unresolved_destructor(struct request_sock *req)
{
}

static bool lq_unresolved_drop(struct sock *sk, struct request_sock *req)
{
	return false;
}

static void lq_unresolved_drop_and_put(struct sock *sk, struct request_sock *req)
{
}

static void lq_unresolved_timer(struct timer_list *t)
{
}

DEFINE_STATIC_CALL(lq_stock_hash_add, lq_unresolved_hash_add);
DEFINE_STATIC_CALL(lq_stock_v4_destructor, lq_unresolved_destructor);
DEFINE_STATIC_CALL(lq_stock_v6_destructor, lq_unresolved_destructor);
DEFINE_STATIC_CALL(lq_stock_drop, lq_unresolved_drop);
DEFINE_STATIC_CALL(lq_stock_drop_and_put, lq_unresolved_drop_and_put);
DEFINE_STATIC_CALL(lq_stock_timer, lq_unresolved_timer);

/*
 * The wrappers.  Context: the caller's.  Generic kernels: softirq (SYN,
 * ACK, RST, ICMP, the timer) or a task with BH disabled (a listener's
 * close, a socket backlog); never blocking, so no lq_srcu section (see
 * lq_redirects_drain()).  PREEMPT_RT: the same, preemptible (threaded
 * softirq, BH-off sections are per-CPU locks), and the registry lock and
 * the slab may block: each wrapper is a section (lq_rt_hold()), opened
 * before them.
 */

/* inet_csk_reqsk_queue_hash_add(sk, req, timeout) */
notrace bool lq_hash_add(struct sock *sk, struct request_sock *req,
			 unsigned long timeout)
{
	int idx = lq_rt_hold();
	bool ret;

	lq_syn_insert(req);
	ret = static_call(lq_stock_hash_add)(sk, req, timeout);
	lq_rt_release(idx);
	return ret;
}

/* inet_csk_reqsk_queue_drop(sk, req): unlinked before the queue lets go. */
notrace bool lq_reqsk_drop(struct sock *sk, struct request_sock *req)
{
	int idx = lq_rt_hold();
	bool ret;

	lq_syn_remove(req);
	ret = static_call(lq_stock_drop)(sk, req);
	lq_rt_release(idx);
	return ret;
}

/* inet_csk_reqsk_queue_drop_and_put(sk, req): the reference may be the last. */
notrace void lq_reqsk_drop_and_put(struct sock *sk, struct request_sock *req)
{
	int idx = lq_rt_hold();

	lq_syn_remove(req);
	static_call(lq_stock_drop_and_put)(sk, req);
	lq_rt_release(idx);
}

/*
 * After tcp_check_req() (not Fast Open), which holds no lock: the caller's
 * reference keeps @req alive.  Unhashed means out of the SYN queue, moved
 * to the accept queue by inet_csk_complete_hashdance() or dropped; the
 * unlocked test is enough, a request is never hashed again.
 */
void notrace lq_mirror_req_checked(struct request_sock *req)
{
	if (atomic_read(&lq_syn_entries) && !sk_hashed(req_to_sk(req)))
		lq_syn_remove(req);
}

/* tcp_v4_reqsk_destructor(req) */
notrace void lq_v4_destructor(struct request_sock *req)
{
	int idx = lq_rt_hold();

	lq_syn_remove(req);
	static_call(lq_stock_v4_destructor)(req);
	lq_rt_release(idx);
}

/* tcp_v6_reqsk_destructor(req) */
notrace void lq_v6_destructor(struct request_sock *req)
{
	int idx = lq_rt_hold();

	lq_syn_remove(req);
	static_call(lq_stock_v6_destructor)(req);
	lq_rt_release(idx);
}

/* What the timer's wrapper needs to find a migrated clone. */
struct lq_timer_frame {
	const struct sock *old_listener;	/* compared only */
	struct net *net;			/* held by lq_reqsk_timer() */
	__be32 raddr, laddr;
	struct in6_addr raddr6, laddr6;
	__be16 rport;
	u16 lport;
	int iif;
	u16 family;
};

/*
 * Fill @f from @req if its listener has stopped listening (migration is
 * possible); false if the handler cannot migrate it.
 */
static notrace bool lq_timer_frame_fill(struct lq_timer_frame *f,
					const struct request_sock *req)
{
	const struct inet_request_sock *ireq = inet_rsk(req);
	const struct sock *listener = req->rsk_listener;

	if (!listener || inet_sk_state_load(listener) == TCP_LISTEN)
		return false;
	f->old_listener = listener;
	f->net = sock_net(listener);
	f->family = ireq->ireq_family;
	f->rport = ireq->ir_rmt_port;
	f->lport = ireq->ir_num;
	f->iif = ireq->ir_iif;
	f->raddr = ireq->ir_rmt_addr;
	f->laddr = ireq->ir_loc_addr;
#if IS_ENABLED(CONFIG_IPV6)
	f->raddr6 = ireq->ir_v6_rmt_addr;
	f->laddr6 = ireq->ir_v6_loc_addr;
#endif
	return true;
}

/* After the handler: link the clone it may have hashed for a new listener. */
static notrace void lq_timer_link_clone(const struct lq_timer_frame *f)
{
	struct inet_hashinfo *h = lq_net_hashinfo(f->net);
	struct sock *sk = NULL;

	rcu_read_lock();
#if IS_ENABLED(CONFIG_IPV6)
	if (f->family == AF_INET6)
		sk = __inet6_lookup_established(f->net, h, &f->raddr6, f->rport,
						&f->laddr6, f->lport, f->iif, 0);
	else
#endif
		sk = __inet_lookup_established(f->net, h, f->raddr, f->rport,
					       f->laddr, f->lport, f->iif, 0);
	if (sk) {
		if (sk->sk_state == TCP_NEW_SYN_RECV &&
		    inet_reqsk(sk)->rsk_listener != f->old_listener)
			lq_syn_insert(inet_reqsk(sk));
		/* never the last reference: the request is still hashed */
		sock_gen_put(sk);
	}
	rcu_read_unlock();
}

/*
 * reqsk_timer_handler(t), in timer (softirq) context.  The handler may
 * free the request, and with it the last reference to the old listener
 * and so to its netns: the tuple is saved and the netns held before it
 * runs.  Only for a request whose listener has stopped listening.
 */
notrace void lq_reqsk_timer(struct timer_list *t)
{
	const struct request_sock *req = container_of(t, struct request_sock, rsk_timer);
	struct lq_timer_frame f __uninitialized;
	int idx = lq_rt_hold();
	bool migrating;

	migrating = lq_timer_frame_fill(&f, req);
	if (migrating)
		f.net = maybe_get_net(f.net);
	static_call(lq_stock_timer)(t);
	if (migrating && f.net) {
		lq_timer_link_clone(&f);
		put_net(f.net);
	}
	lq_rt_release(idx);
}

/*
 * Collect the requests of one ehash bucket with a reference each, so the
 * bucket lock is not held while linking them.  Returns how many, or
 * -E2BIG when @cap was too small.
 */
static int lq_collect_reqs(void *table, unsigned int bkt, struct sock **socks,
			   int cap)
{
	struct inet_hashinfo *h = table;
	struct inet_ehash_bucket *head = &h->ehash[bkt];
	struct hlist_nulls_node *node;
	bool full = false;
	struct sock *sk;
	int n = 0;

	if (hlist_nulls_empty(&head->chain))
		return 0;
	spin_lock_bh(inet_ehash_lockp(h, bkt));
	sk_nulls_for_each(sk, node, &head->chain) {
		if (sk->sk_state != TCP_NEW_SYN_RECV)
			continue;
		if (n == cap) {
			full = true;
			break;
		}
		if (refcount_inc_not_zero(&sk->sk_refcnt))
			socks[n++] = sk;
	}
	spin_unlock_bh(inet_ehash_lockp(h, bkt));
	if (!full)
		return n;
	while (n)
		sock_gen_put(socks[--n]);
	return -E2BIG;
}

/*
 * Link one request found in an established hash.  A request that leaves
 * the queue between collection and linking is unlinked by the destructor
 * wrapper when its last reference (possibly the walk's) goes.
 */
static int lq_adopt_req(struct sock *sk)
{
	lq_syn_insert(inet_reqsk(sk));
	return 0;
}

static int lq_adopt_hash(struct inet_hashinfo *h)
{
	int err = lq_walk_buckets(h, h->ehash_mask + 1, lq_collect_reqs,
				  lq_adopt_req);

	return err < 0 ? err : 0;
}

/*
 * At load, after the listeners are adopted: link the requests already
 * queued.  Most netns share the global hash; those created with
 * tcp_child_ehash_entries have their own.
 */
int lq_mirror_adopt_all(void)
{
	struct inet_hashinfo *global = lq_net_hashinfo(&init_net);
	struct net *net;
	int err;

	err = lq_adopt_hash(global);
	down_read(&net_rwsem);
	for_each_net(net)
		if (!err && lq_net_hashinfo(net) != global)
			err = lq_adopt_hash(lq_net_hashinfo(net));
	up_read(&net_rwsem);
	return err;
}

LQ_SAME_PROTO(lq_hash_add, inet_csk_reqsk_queue_hash_add);
LQ_SAME_PROTO(lq_reqsk_drop, inet_csk_reqsk_queue_drop);
LQ_SAME_PROTO(lq_reqsk_drop_and_put, inet_csk_reqsk_queue_drop_and_put);
/* static in the kernel: checked against the pointers they are called by */
LQ_SAME_PROTO_PTR(lq_v4_destructor, ((struct request_sock_ops *)0)->destructor);
LQ_SAME_PROTO_PTR(lq_v6_destructor, ((struct request_sock_ops *)0)->destructor);
LQ_SAME_PROTO_PTR(lq_reqsk_timer, ((struct timer_list *)0)->function);

/* The ways out of the queue, installed before the way in. */
static const struct lq_redirect lq_removal_redirects[] = {
	LQ_REDIRECT("tcp_v4_reqsk_destructor", lq_v4_destructor),
#if IS_ENABLED(CONFIG_IPV6)
	LQ_REDIRECT("tcp_v6_reqsk_destructor", lq_v6_destructor),
#endif
	LQ_REDIRECT("inet_csk_reqsk_queue_drop", lq_reqsk_drop),
	LQ_REDIRECT("inet_csk_reqsk_queue_drop_and_put", lq_reqsk_drop_and_put),
};

static const struct lq_redirect lq_insertion_redirects[] = {
	LQ_REDIRECT("inet_csk_reqsk_queue_hash_add", lq_hash_add),
	LQ_REDIRECT("reqsk_timer_handler", lq_reqsk_timer),
};

static struct lq_redirects lq_removals, lq_insertions;

int lq_mirror_init(void)
{
	lq_syn_cache = KMEM_CACHE(lq_syn_entry, SLAB_ACCOUNT);
	return lq_syn_cache ? 0 : -ENOMEM;
}

/*
 * Removal hooks first: from the moment a request can be linked, every way
 * out of the queue is hooked.
 */
int lq_mirror_install(void)
{
	int err;

	if (!lq_resolve_stock(lq_stock_hash_add, "inet_csk_reqsk_queue_hash_add") ||
	    !lq_resolve_stock(lq_stock_v4_destructor, "tcp_v4_reqsk_destructor") ||
	    (IS_ENABLED(CONFIG_IPV6) &&
	     !lq_resolve_stock(lq_stock_v6_destructor, "tcp_v6_reqsk_destructor")) ||
	    !lq_resolve_stock(lq_stock_drop, "inet_csk_reqsk_queue_drop") ||
	    !lq_resolve_stock(lq_stock_drop_and_put, "inet_csk_reqsk_queue_drop_and_put") ||
	    !lq_resolve_stock(lq_stock_timer, "reqsk_timer_handler")) {
		pr_err("the request queue's functions are not all traceable\n");
		return -ENOENT;
	}
	err = lq_redirects_install(&lq_removals, lq_removal_redirects,
				   ARRAY_SIZE(lq_removal_redirects), "request removal");
	if (err)
		return err;
	err = lq_redirects_install(&lq_insertions, lq_insertion_redirects,
				   ARRAY_SIZE(lq_insertion_redirects), "request insertion");
	if (err)
		lq_mirror_remove();
	return err;
}

/*
 * Insertion first, so nothing is linked that could not be removed; then
 * wait for the wrappers, which use the registry freed next.
 */
void lq_mirror_remove(void)
{
	bool redirected = lq_redirects_installed(&lq_insertions) ||
			  lq_redirects_installed(&lq_removals);

	lq_redirects_remove(&lq_insertions);
	lq_redirects_remove(&lq_removals);
	if (redirected)
		lq_redirects_drain();
}

/* After every table is freed. */
void lq_mirror_exit(void)
{
	kmem_cache_destroy(lq_syn_cache);
	lq_syn_cache = NULL;
}
