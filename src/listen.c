// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: listen start re-implemented (mode=replace) and the recording
 * wrapper around the stock inet_listen() (mode=observe).
 *
 * The replacement follows inet_listen(), __inet_listen_sk() (6.6+) and
 * inet_csk_listen_start() of the running kernel step by step; the only
 * addition is the listen_sock allocation, done before the socket changes
 * state so that a failure leaves it in CLOSE, ready for another listen().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/sched.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <linux/unistd.h>
#include <asm/syscall.h>
#include <net/inet_common.h>
#include <net/inet_connection_sock.h>
#include <net/inet_sock.h>
#include <net/mptcp.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "compat.h"
#include "listenq.h"

#define LQ_SYS_LISTEN	4	/* socketcall(2) call number of listen */

/*
 * Read fd and backlog of the listen(2) this task is executing, if it is
 * one.  Native, x32, ia32 listen and ia32 socketcall(SYS_LISTEN) are
 * recognised; anything else (kernel_listen(), io_uring) is an in-kernel
 * caller.
 */
static notrace bool lq_syscall_listen_args(int *fd, int *backlog)
{
	struct pt_regs *regs;
	unsigned long args[6];
	long nr;

	if (current->flags & (PF_KTHREAD | PF_IO_WORKER))
		return false;
	regs = task_pt_regs(current);
	nr = syscall_get_nr(current, regs);
	if (nr < 0)
		return false;
	syscall_get_arguments(current, regs, args);
#ifdef CONFIG_IA32_EMULATION
	if (in_ia32_syscall()) {
		u32 __user *uargs;
		u32 ufd, ubl;

		if (nr == __NR_ia32_listen) {
			*fd = (int)args[0];
			*backlog = (int)args[1];
			return true;
		}
		if (nr != __NR_ia32_socketcall || args[0] != LQ_SYS_LISTEN)
			return false;
		uargs = compat_ptr(args[1]);
		if (get_user(ufd, &uargs[0]) || get_user(ubl, &uargs[1]))
			return false;
		*fd = (int)ufd;
		*backlog = (int)ubl;
		return true;
	}
#endif
	if ((nr & ~__X32_SYSCALL_BIT) != __NR_listen)
		return false;
	*fd = (int)args[0];
	*backlog = (int)args[1];
	return true;
}

/*
 * Does @fd name the socket that is being put into listen?  For MPTCP the
 * fd is the MPTCP socket while the listen runs on its TCP subflow.
 */
static notrace bool lq_fd_is(int fd, struct sock *sk)
{
	struct socket *fsock;
	struct file *file;
	bool match = false;

	file = fget(fd);
	if (!file)
		return false;
	fsock = sock_from_file(file);
	if (fsock && fsock->sk) {
		match = fsock->sk == sk;
		if (!match && fsock->sk->sk_protocol == IPPROTO_MPTCP &&
		    sk->sk_protocol == IPPROTO_TCP && sk_is_mptcp(sk))
			match = true;
	}
	fput(file);
	return match;
}

/*
 * Fill @p for a listen() on @sk that received @received.  When the task is
 * in listen(2) on this socket the raw backlog comes from its arguments and
 * the kernel's clamp is recomputed as a check; otherwise (in-kernel callers,
 * adoption) the received value is all there is.
 */
void notrace lq_params_read(struct sock *sk, int received, struct lq_params *p,
			    bool from_syscall)
{
	struct net *net = sock_net(sk);
	int fd, raw, clamped;

	p->somaxconn = READ_ONCE(net->core.sysctl_somaxconn);
	p->max_syn_backlog = READ_ONCE(net->ipv4.sysctl_max_syn_backlog);
	p->accept_max = (u32)received;
	p->backlog = received;
	if (from_syscall && lq_syscall_listen_args(&fd, &raw) && lq_fd_is(fd, sk)) {
		clamped = (unsigned int)raw > (unsigned int)p->somaxconn ?
			  p->somaxconn : raw;
		if (clamped == received)
			p->backlog = raw;
		else
			pr_info_once("backlog %d clamped by %s should be %d, got %d; recording %d\n",
				     raw, LQ_SYS_LISTEN_NAME, clamped, received,
				     received);
	}
	/* which side bounded the accept queue; backlog on a tie */
	p->accept_limit_by = p->accept_max == (u32)p->backlog ?
			     LQ_LIMIT_BACKLOG : LQ_LIMIT_SOMAXCONN;
}

/*
 * inet_csk_listen_start() of both kernels, with reqsk_queue_alloc()
 * inlined.  @ls joins the registry as the socket turns LISTEN, before
 * ->hash() makes it reachable: listeners take SYNs without the socket
 * lock, so the first SYN may come at once and must find its entry.  On
 * failure the entry goes again; nothing reached the listener meanwhile.
 */
static notrace int lq_csk_listen_start(struct sock *sk, struct listen_sock *ls)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct request_sock_queue *queue = &icsk->icsk_accept_queue;
	struct inet_sock *inet = inet_sk(sk);
	int err;

	/* inet_ulp_can_listen(): a ULP that cannot clone its state can't */
	if (unlikely(icsk->icsk_ulp_ops && !icsk->icsk_ulp_ops->clone))
		return -EINVAL;

	queue->fastopenq.rskq_rst_head = NULL;
	queue->fastopenq.rskq_rst_tail = NULL;
	queue->fastopenq.qlen = 0;
	queue->rskq_accept_head = NULL;

	sk->sk_ack_backlog = 0;
	inet_csk_delack_init(sk);

	/*
	 * inet_sk_state_store() is not exported.  inet_sk_set_state() fires
	 * the same inet_sock_set_state tracepoint and then stores the state;
	 * the barrier gives that store the release ordering of the original
	 * (on x86 it only stops the compiler, stores are ordered anyway).
	 */
	smp_wmb();
	inet_sk_set_state(sk, TCP_LISTEN);
	if (!lq_registry_add(ls))	/* cannot fail: LISTEN, under the lock */
		lq_table_free(ls);
	err = sk->sk_prot->get_port(sk, inet->inet_num);
	if (!err) {
		inet->inet_sport = htons(inet->inet_num);
		sk_dst_reset(sk);
		err = sk->sk_prot->hash(sk);
		if (likely(!err))
			return 0;
	}
	inet_sk_set_state(sk, TCP_CLOSE);
	lq_registry_unlisten(sk);
	return err;
}

/* __inet_listen_sk(): the socket is locked and known to be a stream one. */
static notrace int lq_listen_locked(struct sock *sk, int backlog)
{
	unsigned char old_state = sk->sk_state;
	struct listen_sock *ls;
	struct lq_params p;
	int tfo, err;

	if (!((1 << old_state) & (TCPF_CLOSE | TCPF_LISTEN)))
		return -EINVAL;

	lq_params_read(sk, backlog, &p, true);
	if (old_state == TCP_LISTEN) {
		/* a re-listen only adjusts the backlog */
		WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		lq_registry_relisten(sk, &p);
		return 0;
	}

	ls = lq_table_alloc(sk, &p, LQ_ORIGIN_LISTEN);
	if (!ls)
		return -ENOMEM;

	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	/*
	 * Fast Open without the socket option; a queue length set earlier
	 * (TCP_FASTOPEN, or a listen() undone by shutdown()) is kept.
	 */
	tfo = READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_fastopen);
	if ((tfo & TFO_SERVER_WO_SOCKOPT1) && (tfo & TFO_SERVER_ENABLE) &&
	    !inet_csk(sk)->icsk_accept_queue.fastopenq.max_qlen) {
		fastopen_queue_tune(sk, backlog);
		lq_fastopen_init_key_once(sock_net(sk));
	}

	err = lq_csk_listen_start(sk, ls);
	if (err)
		return err;
	tcp_call_bpf(sk, BPF_SOCK_OPS_TCP_LISTEN_CB, 0, NULL);
	return 0;
}

/*
 * The listen redirects (hook.c, through an ftrace ops).  Context: the
 * task calling listen(2) or io_uring's listen, process context on every
 * kernel; each sleeps in lock_sock() or in an allocation, so each is a
 * section of lq_srcu that unloading waits for.
 */

/* mode=replace: runs instead of inet_listen(). */
int notrace lq_inet_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	int idx = lq_hold();
	int err = -EINVAL;

	lock_sock(sk);
	if (sock->state == SS_UNCONNECTED && sock->type == SOCK_STREAM)
		err = lq_listen_locked(sk, backlog);
	release_sock(sk);
	lq_release(idx);
	return err;
}

/*
 * mode=replace, 6.6+: runs instead of __inet_listen_sk() when called from
 * outside inet_listen(), i.e. by mptcp_listen() on its subflow (with the
 * subflow locked), so MPTCP listeners are recorded as on 6.1.
 */
int notrace lq_inet_listen_sk(struct sock *sk, int backlog)
{
	int idx = lq_hold();
	int err;

	err = lq_listen_locked(sk, backlog);
	lq_release(idx);
	return err;
}

/*
 * mode=observe: the stock inet_listen() does the work; the table is
 * allocated before (process context) and recorded after, if the socket
 * still listens (see lq_registry_add(): no second trip through the socket
 * lock).  A failed allocation never fails the listen(): the listener gets
 * a bare entry, or no row at all (counted in the untracked parameter).
 */
int notrace lq_inet_listen_observe(struct socket *sock, int backlog)
{
	struct listen_sock *ls = NULL;
	struct sock *sk = sock->sk;
	int idx = lq_hold();
	bool starts = false;
	struct lq_params p;
	int err;

	lq_params_read(sk, backlog, &p, true);
	/* unlocked peek, only to decide whether a table will be needed */
	if (sock->state == SS_UNCONNECTED && sock->type == SOCK_STREAM &&
	    READ_ONCE(sk->sk_state) == TCP_CLOSE) {
		starts = true;
		ls = lq_table_alloc(sk, &p, LQ_ORIGIN_LISTEN) ?:
		     lq_table_alloc_bare(sk, &p, LQ_ORIGIN_LISTEN);
	}

	err = lq_stock_inet_listen(sock, backlog);

	if (!err && ls) {
		if (lq_registry_add(ls))
			ls = NULL;
	} else if (!err) {
		/* a re-listen, or a start without memory for any entry */
		if (starts)
			lq_untracked_inc();
		lq_registry_relisten(sk, &p);
	}
	lq_table_free(ls);
	lq_release(idx);
	return err;
}

LQ_SAME_PROTO(lq_inet_listen, inet_listen);
LQ_SAME_PROTO(lq_inet_listen_observe, inet_listen);
#if LQ_HAVE_INET_LISTEN_SK
LQ_SAME_PROTO(lq_inet_listen_sk, __inet_listen_sk);
#endif
