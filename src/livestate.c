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
 * Each of them is redirected (hook.c: by a direct call through direct.S
 * where ftrace allows it) to a wrapper that snapshots this
 * CPU's MIB counters of the listener's netns, calls the stock function and
 * charges the difference: cheaper per call than a kretprobe, which saves
 * every register twice and keeps a return frame per call.  Listener
 * packets are processed lockless in softirq, so both snapshots run on one
 * CPU (see struct lq_frame for the rare exception and for nesting).
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

#include <linux/bottom_half.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/static_call.h>
#include <net/inet_connection_sock.h>
#include <net/request_sock.h>
#include <net/sock.h>
#include <net/tcp.h>
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

/*
 * A wrapper's frame.  Frames run with BH off (softirq, or disabled here for
 * the rare listener packet processed from a socket backlog), so on one CPU
 * they only nest as tcp_v6_conn_request() handing an IPv4 SYN to
 * tcp_v4_conn_request(): the inner frame charges what it saw and moves the
 * outer frame's snapshot past it, so nothing is counted twice.
 */
struct lq_frame {
	const struct sock *sk;		/* NULL: nothing to charge */
	struct net *net;
	struct lq_frame *outer;
	bool bh_disabled;		/* by lq_frame_enter() */
	unsigned long mib[LQ_NR_COUNTERS];
};

/* The innermost open frame on this CPU. */
static DEFINE_PER_CPU(struct lq_frame *, lq_top_frame);

static notrace const struct linux_mib *lq_this_mib(const struct net *net)
{
	return this_cpu_ptr(net->mib.net_statistics);
}

/* Snapshots the counters if @sk is a listener; else leaves nothing to charge. */
static notrace void lq_frame_enter(struct lq_frame *f, const struct sock *sk)
{
	const struct linux_mib *m;
	int i;

	f->sk = NULL;
	if (!sk || READ_ONCE(sk->sk_state) != TCP_LISTEN)
		return;
	f->sk = sk;
	f->net = sock_net(sk);
	f->bh_disabled = !in_softirq();
	if (f->bh_disabled)
		local_bh_disable();
	m = lq_this_mib(f->net);
	for (i = 0; i < LQ_NR_COUNTERS; i++)
		f->mib[i] = READ_ONCE(m->mibs[lq_mib_idx[i]]);
	f->outer = this_cpu_read(lq_top_frame);
	this_cpu_write(lq_top_frame, f);
}

/* Charges what the counters moved since lq_frame_enter(). */
static noinline notrace void lq_frame_leave(const struct lq_frame *f)
{
	unsigned long delta[LQ_NR_COUNTERS] __uninitialized;
	struct lq_frame *outer = f->outer;
	const struct linux_mib *m;
	bool moved = false;
	int i;

	if (!f->sk)
		return;
	m = lq_this_mib(f->net);
	for (i = 0; i < LQ_NR_COUNTERS; i++) {
		delta[i] = READ_ONCE(m->mibs[lq_mib_idx[i]]) - f->mib[i];
		moved |= delta[i] != 0;
	}
	this_cpu_write(lq_top_frame, outer);
	if (moved && outer && outer->net == f->net)
		for (i = 0; i < LQ_NR_COUNTERS; i++)
			outer->mib[i] += delta[i];
	lq_registry_charge(f->sk, delta, moved);
	if (f->bh_disabled)
		local_bh_enable();
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
 * The wrappers: a snapshot, the stock call, the charge.  The charge
 * (lq_frame_leave(), never inlined) always follows, so the stock call is
 * a call, not a tail jump; it enters the stock function past its hook
 * (lq_fentry_end()) either way.
 *
 * Context: the caller's, the listener's softirq receive path, or a task
 * processing a socket backlog (BH disabled by lq_frame_enter()).  On a
 * generic kernel that never blocks and needs no lq_srcu section.  On
 * PREEMPT_RT softirq is a preemptible thread, local_bh_disable() and the
 * registry lock may block, so each wrapper is a section (lq_rt_hold()),
 * opened before its frame.  The per-CPU frame stack and the charge hint
 * (registry.c) rely on a BH-disabled section being exclusive on its CPU:
 * on 6.1 and 6.12 PREEMPT_RT local_bh_disable() takes the per-CPU
 * softirq local lock and disables migration, so it is there too.
 */
notrace int lq_v4_conn_request(struct sock *sk, struct sk_buff *skb)
{
	struct lq_frame f __uninitialized;
	int idx = lq_rt_hold();
	int ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v4_conn_request)(sk, skb);
	lq_frame_leave(&f);
	lq_rt_release(idx);
	return ret;
}

notrace int lq_v6_conn_request(struct sock *sk, struct sk_buff *skb)
{
	struct lq_frame f __uninitialized;
	int idx = lq_rt_hold();
	int ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v6_conn_request)(sk, skb);
	lq_frame_leave(&f);
	lq_rt_release(idx);
	return ret;
}

notrace struct sock *lq_v4_cookie_check(struct sock *sk, struct sk_buff *skb)
{
	struct lq_frame f __uninitialized;
	int idx = lq_rt_hold();
	struct sock *ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v4_cookie_check)(sk, skb);
	lq_frame_leave(&f);
	lq_rt_release(idx);
	return ret;
}

notrace struct sock *lq_v6_cookie_check(struct sock *sk, struct sk_buff *skb)
{
	struct lq_frame f __uninitialized;
	int idx = lq_rt_hold();
	struct sock *ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_v6_cookie_check)(sk, skb);
	lq_frame_leave(&f);
	lq_rt_release(idx);
	return ret;
}

notrace struct sock *lq_check_req(struct sock *sk, struct sk_buff *skb,
				  struct request_sock *req, bool fastopen,
				  bool *lost_race)
{
	struct lq_frame f __uninitialized;
	int idx = lq_rt_hold();
	struct sock *ret;

	lq_frame_enter(&f, sk);
	ret = static_call(lq_stock_check_req)(sk, skb, req, fastopen, lost_race);
	lq_frame_leave(&f);
	/* a Fast Open request is never hashed, so never mirrored */
	if (!fastopen)
		lq_mirror_req_checked(req);
	lq_rt_release(idx);
	return ret;
}

/* @sk is the request; its listener is the one charged. */
notrace void lq_req_err(struct sock *sk, u32 seq, bool abort)
{
	struct lq_frame f __uninitialized;
	int idx = lq_rt_hold();

	lq_frame_enter(&f, inet_reqsk(sk)->rsk_listener);
	static_call(lq_stock_req_err)(sk, seq, abort);
	lq_frame_leave(&f);
	lq_rt_release(idx);
}

LQ_SAME_PROTO(lq_v4_conn_request, tcp_v4_conn_request);
/* static in the kernel: checked against the pointer it is called by */
LQ_SAME_PROTO_PTR(lq_v6_conn_request,
		  ((struct inet_connection_sock_af_ops *)0)->conn_request);
LQ_SAME_PROTO(lq_v4_cookie_check, cookie_v4_check);
LQ_SAME_PROTO(lq_v6_cookie_check, cookie_v6_check);
LQ_SAME_PROTO(lq_check_req, tcp_check_req);
LQ_SAME_PROTO(lq_req_err, tcp_req_err);

static const struct lq_redirect lq_rx_redirects[] = {
	LQ_REDIRECT("tcp_v4_conn_request", lq_v4_conn_request),
	LQ_REDIRECT("tcp_v6_conn_request", lq_v6_conn_request),
	LQ_REDIRECT("cookie_v4_check", lq_v4_cookie_check),
	LQ_REDIRECT("cookie_v6_check", lq_v6_cookie_check),
	LQ_REDIRECT("tcp_check_req", lq_check_req),
	LQ_REDIRECT("tcp_req_err", lq_req_err),
};

static struct lq_redirects lq_rx_hooks;

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
	return lq_redirects_install(&lq_rx_hooks, lq_rx_redirects,
				    ARRAY_SIZE(lq_rx_redirects), "the TCP receive path");
}

void lq_live_remove(void)
{
	lq_redirects_unhook(&lq_rx_hooks);
}
