// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: per-listener peaks and drop counters.
 *
 * Rather than re-implement the kernel's drop decisions (which drift between
 * versions), listenq charges the kernel's own counter movements to the
 * listener: every place that increments ListenOverflows, ListenDrops,
 * TCPReqQFullDrop, TCPReqQFullDoCookies or SyncookiesSent for a packet is
 * enclosed, on 6.1 and 6.12, by one of these calls with the listener known,
 * all of them reached for listeners only, so established sockets' segments
 * never meet a probe:
 *
 *   tcp_v4_conn_request(sk), tcp_v6_conn_request(sk)  a SYN to a listener
 *       (tcp_conn_request, tcp_syn_flood_action, cookie_init_sequence; the
 *       broadcast / non-unicast drop of the family's own wrapper)
 *   cookie_v4_check(sk), cookie_v6_check(sk)  a non-SYN segment to a
 *       listener: the cookie ACK -> tcp_v[46]_syn_recv_sock
 *   tcp_check_req(sk)    the third ACK of a queued request; sk is the
 *       listener (or the reuseport one it migrated to) -> syn_recv_sock
 *   tcp_req_err(req)     ICMP abort of a request: tcp_listendrop()
 *
 * (tcp_v[46]_do_rcv() would enclose the first two as well, but they run for
 * every segment of every TCP socket; the benchmark's connection path paid
 * for that.)
 *
 * Each of them is redirected (hook.c) to a wrapper that snapshots this
 * CPU's MIB counters of the listener's netns, calls the stock function and
 * charges the difference: cheaper per call than a kretprobe, which saves
 * every register twice and keeps a return frame per call.  Listener
 * packets are processed lockless in softirq (tcp_v4_rcv never backlogs
 * them), so both snapshots run on one CPU and only a nested call
 * (tcp_v6_conn_request handing an IPv4 SYN to tcp_v4_conn_request) can
 * interleave; the per-CPU running total of what has been charged lets the
 * outer frame subtract what inner frames already took, so nothing is
 * counted twice.
 *
 * Not enclosed: tcp_get_syncookie_mss(), reached from the BPF helper
 * bpf_tcp_gen_syncookie() (XDP SYN proxies) without a packet for the
 * listener; such increments stay unattributed.
 *
 * The peaks are sampled on the same returns: sk_ack_backlog only grows in
 * inet_csk_reqsk_queue_add() and the SYN queue only in
 * inet_csk_reqsk_queue_hash_add(), both reached from these calls only
 * (apart from reuseport migration at close, which is not sampled).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/smp.h>
#include <linux/static_call.h>
#include <net/inet_connection_sock.h>
#include <net/request_sock.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <uapi/linux/snmp.h>

#include "compat.h"
#include "listenq.h"

static const int lq_mib_idx[LQ_NR_COUNTERS] = {
	[LQ_CNT_OVERFLOWS] = LINUX_MIB_LISTENOVERFLOWS,
	[LQ_CNT_DROPS] = LINUX_MIB_LISTENDROPS,
	[LQ_CNT_REQQ_FULL_DROPS] = LINUX_MIB_TCPREQQFULLDROP,
	[LQ_CNT_REQQ_FULL_COOKIES] = LINUX_MIB_TCPREQQFULLDOCOOKIES,
	[LQ_CNT_COOKIES_SENT] = LINUX_MIB_SYNCOOKIESSENT,
};

/* What this CPU has charged so far, per counter; wraps like the MIBs. */
static DEFINE_PER_CPU(unsigned long [LQ_NR_COUNTERS], lq_charged);

struct lq_frame {
	const struct sock *sk;
	struct net *net;
	int cpu;
	unsigned long mib[LQ_NR_COUNTERS];
	unsigned long charged[LQ_NR_COUNTERS];
};

static notrace void lq_snapshot(struct net *net, unsigned long *mib,
				unsigned long *charged)
{
	const struct linux_mib *m = this_cpu_ptr(net->mib.net_statistics);
	int i;

	for (i = 0; i < LQ_NR_COUNTERS; i++) {
		mib[i] = READ_ONCE(m->mibs[lq_mib_idx[i]]);
		charged[i] = this_cpu_read(lq_charged[i]);
	}
}

/* Snapshots the counters if @sk is a listener; else leaves nothing to charge. */
static notrace void lq_frame_enter(struct lq_frame *f, const struct sock *sk)
{
	f->sk = NULL;
	if (!sk || READ_ONCE(sk->sk_state) != TCP_LISTEN)
		return;
	f->sk = sk;
	f->net = sock_net(sk);
	f->cpu = get_cpu();
	lq_snapshot(f->net, f->mib, f->charged);
	put_cpu();
}

/* Charges what the counters moved since lq_frame_enter(). */
static notrace void lq_frame_leave(const struct lq_frame *f)
{
	unsigned long mib[LQ_NR_COUNTERS], charged[LQ_NR_COUNTERS];
	unsigned long delta[LQ_NR_COUNTERS];
	bool moved = false;
	int i;

	if (!f->sk)
		return;
	/* Cannot happen in softirq; a migrated frame is left unattributed. */
	if (get_cpu() == f->cpu) {
		lq_snapshot(f->net, mib, charged);
		for (i = 0; i < LQ_NR_COUNTERS; i++) {
			delta[i] = (mib[i] - f->mib[i]) - (charged[i] - f->charged[i]);
			this_cpu_add(lq_charged[i], delta[i]);
			moved |= delta[i] != 0;
		}
		lq_registry_charge(f->sk, delta, moved);
	}
	put_cpu();
}

/* Under the registry lock, with @sk known to be alive. */
void notrace lq_live_apply(struct lq_live *live, const struct sock *sk,
			   const unsigned long *delta)
{
	u32 accept = READ_ONCE(sk->sk_ack_backlog);
	u32 syn = inet_csk_reqsk_queue_len(sk);
	int i;

	for (i = 0; i < LQ_NR_COUNTERS; i++)
		live->cnt[i] += delta[i];
	if (accept > live->accept_peak)
		live->accept_peak = accept;
	if (syn > live->syn_peak)
		live->syn_peak = syn;
}

/*
 * The stock functions, reached by static calls right after their fentry
 * call (see lq_fentry_end()): most are not exported, and a direct call is
 * not subject to IBT.  The defaults are never called: the redirects start
 * after every call is resolved.
 */
static int lq_unresolved_conn_request(struct sock *sk, struct sk_buff *skb)
{
	return 0;
}

static struct sock *lq_unresolved_cookie_check(struct sock *sk,
					       struct sk_buff *skb)
{
	return sk;
}

static struct sock *lq_unresolved_check_req(struct sock *sk,
					    struct sk_buff *skb,
					    struct request_sock *req,
					    bool fastopen, bool *lost_race)
{
	return NULL;
}

static void lq_unresolved_req_err(struct sock *sk, u32 seq, bool abort)
{
}

DEFINE_STATIC_CALL(lq_stock_v4_conn_request, lq_unresolved_conn_request);
DEFINE_STATIC_CALL(lq_stock_v6_conn_request, lq_unresolved_conn_request);
DEFINE_STATIC_CALL(lq_stock_v4_cookie_check, lq_unresolved_cookie_check);
DEFINE_STATIC_CALL(lq_stock_v6_cookie_check, lq_unresolved_cookie_check);
DEFINE_STATIC_CALL(lq_stock_check_req, lq_unresolved_check_req);
DEFINE_STATIC_CALL(lq_stock_req_err, lq_unresolved_req_err);

/*
 * The wrappers: a snapshot, the stock call, the charge.  Where nothing is
 * to be charged the compiler may turn the stock call into a tail jump,
 * which is fine: it lands past the hook.
 */
static notrace int lq_v4_conn_request(struct sock *sk, struct sk_buff *skb)
{
	struct lq_frame f;
	int ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v4_conn_request)(sk, skb);
	lq_frame_leave(&f);
	return ret;
}

static notrace int lq_v6_conn_request(struct sock *sk, struct sk_buff *skb)
{
	struct lq_frame f;
	int ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v6_conn_request)(sk, skb);
	lq_frame_leave(&f);
	return ret;
}

static notrace struct sock *lq_v4_cookie_check(struct sock *sk,
					       struct sk_buff *skb)
{
	struct lq_frame f;
	struct sock *ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v4_cookie_check)(sk, skb);
	lq_frame_leave(&f);
	return ret;
}

static notrace struct sock *lq_v6_cookie_check(struct sock *sk,
					       struct sk_buff *skb)
{
	struct lq_frame f;
	struct sock *ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v6_cookie_check)(sk, skb);
	lq_frame_leave(&f);
	return ret;
}

static notrace struct sock *lq_check_req(struct sock *sk, struct sk_buff *skb,
					 struct request_sock *req,
					 bool fastopen, bool *lost_race)
{
	struct lq_frame f;
	struct sock *ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_check_req)(sk, skb, req, fastopen, lost_race);
	lq_frame_leave(&f);
	return ret;
}

/* @sk is the request; its listener is the one charged. */
static notrace void lq_req_err(struct sock *sk, u32 seq, bool abort)
{
	struct lq_frame f;

	lq_frame_enter(&f, inet_reqsk(sk)->rsk_listener);
	static_call(lq_stock_req_err)(sk, seq, abort);
	lq_frame_leave(&f);
}

static const struct lq_watch lq_rx_redirects[] = {
	{ .name = "tcp_v4_conn_request", .redirect = (void *)lq_v4_conn_request },
	{ .name = "tcp_v6_conn_request", .redirect = (void *)lq_v6_conn_request },
	{ .name = "cookie_v4_check", .redirect = (void *)lq_v4_cookie_check },
	{ .name = "cookie_v6_check", .redirect = (void *)lq_v6_cookie_check },
	{ .name = "tcp_check_req", .redirect = (void *)lq_check_req },
	{ .name = "tcp_req_err", .redirect = (void *)lq_req_err },
};

/* Point static call @sc past the hook of @name; false when untraceable. */
#define lq_resolve_stock(sc, name) ({					\
	void *__fn = (void *)lq_fentry_end(name);			\
									\
	if (__fn)							\
		static_call_update(sc, __fn);				\
	__fn;								\
})

static struct lq_watch_set *lq_rx_hooks;

int lq_live_install(void)
{
	if (!lq_resolve_stock(lq_stock_v4_conn_request, "tcp_v4_conn_request") ||
	    !lq_resolve_stock(lq_stock_v6_conn_request, "tcp_v6_conn_request") ||
	    !lq_resolve_stock(lq_stock_v4_cookie_check, "cookie_v4_check") ||
	    !lq_resolve_stock(lq_stock_v6_cookie_check, "cookie_v6_check") ||
	    !lq_resolve_stock(lq_stock_check_req, "tcp_check_req") ||
	    !lq_resolve_stock(lq_stock_req_err, "tcp_req_err")) {
		pr_err("the TCP receive path's functions are not all traceable\n");
		return -ENOENT;
	}
	return lq_watch_install(&lq_rx_hooks, lq_rx_redirects,
				ARRAY_SIZE(lq_rx_redirects), "the TCP receive path");
}

/*
 * After the redirects are gone, wait for wrappers still running: those in
 * softirq or with BH off (synchronize_rcu()), and those preempted in
 * process context, e.g. tcp_check_req() on a Fast Open child from the
 * socket backlog (synchronize_rcu_tasks(): no voluntary switch inside).
 */
void lq_live_remove(void)
{
	if (!lq_rx_hooks)
		return;
	lq_watch_remove(&lq_rx_hooks);
	synchronize_rcu();
	synchronize_rcu_tasks();
}
