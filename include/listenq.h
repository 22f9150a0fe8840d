/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listenq: shared declarations between the module's source files.
 */
#ifndef _LISTENQ_H
#define _LISTENQ_H

#include <linux/types.h>
#include <linux/sizes.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/sched/mm.h>
#include <net/sock.h>

#define LISTENQ_VERSION "0.1.0"

/* Column names of /proc/listenq, in order; the header line is built from them. */
#define LISTENQ_HEADER							\
	"netns family local origin backlog somaxconn max_syn_backlog "	\
	"accept_max accept_limit_by accept_len syn_len syn_table "	\
	"syn_limit_by max_qlen_log alloc alloc_bytes uid inode "	\
	"accept_peak syn_peak overflows drops reqq_full_drops "		\
	"reqq_full_cookies cookies_sent syn_table_used syn_chain_max "	\
	"syn_table_reqs"

struct sock;
struct socket;
struct net;
struct request_sock;
struct seq_file;
struct sk_buff;
struct timer_list;
struct lq_ops_set;
struct lq_direct_set;

/*
 * A redirect of function @name (see hook.c): its calls run @wrapper, a
 * function of the same prototype, instead; @direct, if set, is @wrapper's
 * direct-call trampoline (direct.S).
 */
struct lq_redirect {
	const char *name;
	void *wrapper;
	void (*direct)(void);
};

/* Redirects installed by lq_redirects_install(): one of the two is set. */
struct lq_redirects {
	struct lq_direct_set *direct;
	struct lq_ops_set *ops;
};

/* A redirect with its direct.S trampoline, WRAPPER##_direct. */
#define LQ_REDIRECT(fname, fwrapper) \
	{ .name = fname, .wrapper = (void *)(fwrapper), .direct = fwrapper##_direct }

/*
 * A wrapper's body is a read-side section of lq_srcu wherever it may
 * block, so that unloading waits for it (lq_redirects_drain()):
 * lq_hold() where it sleeps on every kernel (the listen path, in
 * lock_sock()); lq_rt_hold() in every other wrapper, a section on
 * PREEMPT_RT only, where spinlock_t and local_bh_disable() may block.
 * Both open the section before anything that may block.
 */
extern struct srcu_struct lq_srcu;

static __always_inline int lq_hold(void)
{
	return srcu_read_lock(&lq_srcu);
}

static __always_inline void lq_release(int idx)
{
	srcu_read_unlock(&lq_srcu, idx);
}

#ifdef CONFIG_PREEMPT_RT
#define lq_rt_hold()		lq_hold()
#define lq_rt_release(idx)	lq_release(idx)
#else
static __always_inline int lq_rt_hold(void)
{
	return 0;
}

static __always_inline void lq_rt_release(int idx)
{
}
#endif

enum lq_origin {
	LQ_ORIGIN_LISTEN,
	LQ_ORIGIN_ADOPTED,
};

/* Which value bounded a queue; the order is the tie-break order. */
enum lq_limit {
	LQ_LIMIT_BACKLOG,
	LQ_LIMIT_SOMAXCONN,
	LQ_LIMIT_MAX_SYN_BACKLOG,
	LQ_LIMIT_FLOOR,
	LQ_LIMIT_TABLE_CAP,	/* max_table_bytes */
	LQ_LIMIT_NOMEM,		/* no table at all (mode=observe, see queue.c) */
};

/* What one listen() asked for, and what the kernel made of it. */
struct lq_params {
	int backlog;		/* as passed to listen(2), before any clamp */
	int somaxconn;		/* net.core.somaxconn of the socket's netns */
	int max_syn_backlog;	/* net.ipv4.tcp_max_syn_backlog of that netns */
	u32 accept_max;		/* what inet_listen() received */
	u8 accept_limit_by;	/* LQ_LIMIT_BACKLOG or LQ_LIMIT_SOMAXCONN */
};

/* Per-listener counters: each is this listener's share of one MIB counter. */
enum lq_counter {
	LQ_CNT_OVERFLOWS,	/* LINUX_MIB_LISTENOVERFLOWS */
	LQ_CNT_DROPS,		/* LINUX_MIB_LISTENDROPS */
	LQ_CNT_REQQ_FULL_DROPS,	/* LINUX_MIB_TCPREQQFULLDROP */
	LQ_CNT_REQQ_FULL_COOKIES, /* LINUX_MIB_TCPREQQFULLDOCOOKIES */
	LQ_CNT_COOKIES_SENT,	/* LINUX_MIB_SYNCOOKIESSENT */
	LQ_NR_COUNTERS
};

/* Live state of one listener, under the registry lock. */
struct lq_live {
	u32 accept_peak;
	u32 syn_peak;
	u64 cnt[LQ_NR_COUNTERS];
};

/*
 * The classic per-listener SYN queue model, one per listening socket.  The
 * first part doubles as the registry entry: one allocation per listen(), so
 * inject_alloc_fail counts listens.  Kept small: the header plus 256
 * pointers must fit in a page (see queue.c).
 */
struct listen_sock {
	struct hlist_node node;		/* registry hash chain, under its lock */
	struct llist_node reap;		/* deferred vfree after listen_stop */
	struct sock *sk;		/* never dereferenced once unlinked */
	struct lq_params cur;		/* updated by a re-listen */
	int first_max_syn_backlog;	/* the table columns keep the first listen */
	u8 origin;			/* enum lq_origin */
	u8 syn_limit_by;		/* enum lq_limit */
	u8 max_qlen_log;
	u8 vmalloced;
	u32 nr_table_entries;
	u32 hash_rnd;			/* drawn at the first SYN; 0 until then */
	u32 alloc_bytes;
	struct lq_live live;		/* peaks and counters, under lq_lock */
	u32 syn_used;			/* non-empty syn_table buckets */
	u32 syn_linked;			/* requests linked in syn_table */
	/* the half-open requests, see mirror.c; under lq_lock */
	struct hlist_head syn_table[];
};

/*
 * A place in the registry that outlives the lock: entry number @skip of
 * one netns in hash bucket @bkt.  Entries added or removed meanwhile move
 * it by as many rows, never onto freed memory.
 */
struct lq_cursor {
	unsigned int bkt;
	unsigned int skip;
};

/*
 * Charge the __GFP_ACCOUNT allocations up to lq_charge_end() to @sk's
 * memory cgroup, where the kernel charges the socket itself: the listen
 * path, adoption at load and the mirror in softirq all charge the
 * listener's owner, not whoever happens to run.  The socket pins its memcg
 * (NULL: none, charged to the current task's, or not at all in softirq).
 */
static inline struct mem_cgroup *lq_charge_begin(const struct sock *sk)
{
	return set_active_memcg(sk->sk_memcg);
}

static inline void lq_charge_end(struct mem_cgroup *old)
{
	set_active_memcg(old);
}

/* main.c */
extern unsigned int listenq_inject_alloc_fail;
extern unsigned int listenq_max_table_bytes;

#define LQ_MAX_TABLE_BYTES_MIN		PAGE_SIZE
#define LQ_MAX_TABLE_BYTES_MAX		((unsigned int)SZ_1G)
#define LQ_MAX_TABLE_BYTES_DEFAULT	((unsigned int)SZ_1M)

/* queue.c */
struct listen_sock *lq_table_alloc(struct sock *sk, const struct lq_params *p,
				   enum lq_origin origin);
struct listen_sock *lq_table_alloc_bare(struct sock *sk, const struct lq_params *p,
					enum lq_origin origin);
void lq_table_free(struct listen_sock *ls);
void lq_table_free_any(struct listen_sock *ls);
void lq_table_free_flush(void);
int lq_live_tables(void);
int lq_untracked(void);
void lq_untracked_inc(void);

/* registry.c */
void lq_registry_charge(const struct sock *sk, const unsigned long *delta,
			bool moved);
void lq_registry_reset(const struct net *net);
bool lq_registry_add(struct listen_sock *ls);
void lq_registry_unlisten(struct sock *sk);
void lq_registry_relisten(struct sock *sk, const struct lq_params *p);
int lq_registry_install(void);
void lq_registry_remove(void);
void lq_listen_stop(struct sock *sk);
void lq_listen_stop_direct(void);
typedef int (*lq_collect_fn)(void *table, unsigned int bkt,
			     struct sock **socks, int cap);
int lq_walk_buckets(void *table, unsigned int nr, lq_collect_fn collect,
		    int (*use)(struct sock *sk));
int lq_registry_adopt_all(void);
void lq_registry_exit(void);
struct listen_sock *lq_registry_find_lock(const struct sock *sk,
					  unsigned long *flags);
void lq_registry_unlock_irqrestore(unsigned long flags);
void lq_registry_lock(void);
void lq_registry_unlock(void);
struct listen_sock *lq_registry_seek(const struct net *net, struct lq_cursor *c);
struct listen_sock *lq_registry_next(const struct net *net, struct listen_sock *ls,
				     struct lq_cursor *c);

/* listen.c */
int lq_inet_listen(struct socket *sock, int backlog);
int lq_inet_listen_observe(struct socket *sock, int backlog);
int lq_inet_listen_sk(struct sock *sk, int backlog);
void lq_params_read(struct sock *sk, int received, struct lq_params *p,
		    bool from_syscall);

/* hook.c */
void lq_fastopen_init_key_once(struct net *net);
int lq_hook_resolve(bool *replace);
int lq_hook_install(bool replace);
void lq_hook_remove(void);
void lq_hook_fence(void);
unsigned long lq_symbol_start(const char *name);
unsigned long lq_fentry_end(const char *name);
int lq_stock_inet_listen(struct socket *sock, int backlog);
int lq_redirects_install(struct lq_redirects *r, const struct lq_redirect *redirects,
			 unsigned int nr, const char *what);
bool lq_redirects_installed(const struct lq_redirects *r);
void lq_redirects_remove(struct lq_redirects *r);
void lq_redirects_drain(void);
void lq_redirects_unhook(struct lq_redirects *r);

/* Point static call @sc past the hook of @name; NULL when untraceable. */
#define lq_resolve_stock(sc, name) ({					\
	void *__fn = (void *)lq_fentry_end(name);			\
									\
	if (__fn)							\
		static_call_update(sc, __fn);				\
	__fn;								\
})

/* livestate.c; the wrappers and their direct.S trampolines */
int lq_v4_conn_request(struct sock *sk, struct sk_buff *skb);
int lq_v6_conn_request(struct sock *sk, struct sk_buff *skb);
struct sock *lq_v4_cookie_check(struct sock *sk, struct sk_buff *skb);
struct sock *lq_v6_cookie_check(struct sock *sk, struct sk_buff *skb);
struct sock *lq_check_req(struct sock *sk, struct sk_buff *skb,
			  struct request_sock *req, bool fastopen,
			  bool *lost_race);
void lq_req_err(struct sock *sk, u32 seq, bool abort);
void lq_v4_conn_request_direct(void);
void lq_v6_conn_request_direct(void);
void lq_v4_cookie_check_direct(void);
void lq_v6_cookie_check_direct(void);
void lq_check_req_direct(void);
void lq_req_err_direct(void);
void lq_live_apply(struct lq_live *live, const struct sock *sk,
		   const unsigned long *delta);
int lq_live_install(void);
void lq_live_remove(void);

/* mirror.c */
int lq_mirror_entries(void);
int lq_mirror_missed(void);
void lq_mirror_clear(struct listen_sock *ls);
u32 lq_mirror_chain_max(const struct listen_sock *ls);
void lq_mirror_req_checked(struct request_sock *req);
int lq_mirror_init(void);
int lq_mirror_install(void);
int lq_mirror_adopt_all(void);
void lq_mirror_remove(void);
void lq_mirror_exit(void);
/* the wrappers and their direct.S trampolines */
bool lq_hash_add(struct sock *sk, struct request_sock *req, unsigned long timeout);
void lq_v4_destructor(struct request_sock *req);
void lq_v6_destructor(struct request_sock *req);
bool lq_reqsk_drop(struct sock *sk, struct request_sock *req);
void lq_reqsk_drop_and_put(struct sock *sk, struct request_sock *req);
void lq_reqsk_timer(struct timer_list *t);
void lq_hash_add_direct(void);
void lq_v4_destructor_direct(void);
void lq_v6_destructor_direct(void);
void lq_reqsk_drop_direct(void);
void lq_reqsk_drop_and_put_direct(void);
void lq_reqsk_timer_direct(void);

/* procfs.c */
int listenq_procfs_init(void);
void listenq_procfs_exit(void);

#endif /* _LISTENQ_H */
