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
 * A kretprobe snapshots this CPU's MIB counters of the listener's netns on
 * entry and charges the difference on return.  Listener packets are
 * processed lockless in softirq (tcp_v4_rcv never backlogs them), so entry
 * and return run on one CPU and only a nested call (tcp_v6_conn_request
 * handing an IPv4 SYN to tcp_v4_conn_request) can interleave; the per-CPU
 * running total of what has been charged lets the outer frame subtract
 * what inner frames already took, so nothing is counted twice.
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

#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/smp.h>
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

/* Arms the return handler (returns 0) only for a listener. */
static notrace int lq_frame_enter(struct kretprobe_instance *ri,
				  const struct sock *sk)
{
	struct lq_frame *f = (struct lq_frame *)ri->data;

	if (!sk || READ_ONCE(sk->sk_state) != TCP_LISTEN)
		return 1;
	f->sk = sk;
	f->net = sock_net(sk);
	f->cpu = smp_processor_id();
	lq_snapshot(f->net, f->mib, f->charged);
	return 0;
}

static notrace int lq_sk_entry(struct kretprobe_instance *ri,
			       struct pt_regs *regs)
{
	return lq_frame_enter(ri, (struct sock *)regs_get_kernel_argument(regs, 0));
}

static notrace int lq_req_entry(struct kretprobe_instance *ri,
				struct pt_regs *regs)
{
	struct sock *req = (struct sock *)regs_get_kernel_argument(regs, 0);

	return lq_frame_enter(ri, inet_reqsk(req)->rsk_listener);
}

static notrace int lq_frame_return(struct kretprobe_instance *ri,
				   struct pt_regs *regs)
{
	struct lq_frame *f = (struct lq_frame *)ri->data;
	unsigned long mib[LQ_NR_COUNTERS], charged[LQ_NR_COUNTERS];
	unsigned long delta[LQ_NR_COUNTERS];
	int i;

	/* Cannot happen in softirq; a migrated frame is left unattributed. */
	if (f->cpu != smp_processor_id())
		return 0;
	lq_snapshot(f->net, mib, charged);
	for (i = 0; i < LQ_NR_COUNTERS; i++) {
		delta[i] = (mib[i] - f->mib[i]) - (charged[i] - f->charged[i]);
		this_cpu_add(lq_charged[i], delta[i]);
	}
	lq_registry_charge(f->sk, delta);
	return 0;
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

#define LQ_KRP(name, entry) {					\
	.kp.symbol_name = name,					\
	.entry_handler = entry,					\
	.handler = lq_frame_return,				\
	.data_size = sizeof(struct lq_frame),			\
}

static struct kretprobe lq_krps[] = {
	LQ_KRP("tcp_v4_conn_request", lq_sk_entry),
	LQ_KRP("tcp_v6_conn_request", lq_sk_entry),
	LQ_KRP("cookie_v4_check", lq_sk_entry),
	LQ_KRP("cookie_v6_check", lq_sk_entry),
	LQ_KRP("tcp_check_req", lq_sk_entry),
	LQ_KRP("tcp_req_err", lq_req_entry),
};

static struct kretprobe *lq_krp_ptrs[ARRAY_SIZE(lq_krps)];

/*
 * After unregistering: calls a probe did not see.  kretprobe.nmissed counts
 * returns lost for lack of instances, kp.nmissed entries skipped because
 * another probe was running on the CPU (an interrupted handler).
 */
void lq_report_missed(const struct kretprobe *rp, const char *what)
{
	if (rp->nmissed || rp->kp.nmissed)
		pr_warn("%s: %d returns and %lu calls missed, %s inexact\n",
			rp->kp.symbol_name, rp->nmissed, rp->kp.nmissed, what);
}

static bool lq_live_on;

int lq_live_install(void)
{
	int i, err;

	for (i = 0; i < ARRAY_SIZE(lq_krps); i++) {
		/* Listener frames nest at most twice per CPU (softirq). */
		lq_krps[i].maxactive = 8 * num_possible_cpus();
		lq_krp_ptrs[i] = &lq_krps[i];
	}
	err = register_kretprobes(lq_krp_ptrs, ARRAY_SIZE(lq_krps));
	if (err) {
		pr_err("cannot probe the TCP receive path: %d\n", err);
		return err;
	}
	lq_live_on = true;
	return 0;
}

void lq_live_remove(void)
{
	int i;

	if (!lq_live_on)
		return;
	unregister_kretprobes(lq_krp_ptrs, ARRAY_SIZE(lq_krps));
	lq_live_on = false;
	for (i = 0; i < ARRAY_SIZE(lq_krps); i++)
		lq_report_missed(&lq_krps[i], "counters");
}
