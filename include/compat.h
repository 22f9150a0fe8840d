/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listenq: every difference between the kernels listenq supports lives
 * here, keyed on LINUX_VERSION_CODE.  The version boundaries are the
 * upstream releases that introduced each change.
 */
#ifndef _LISTENQ_COMPAT_H
#define _LISTENQ_COMPAT_H

#include <linux/version.h>

/*
 * LINUX_VERSION_CODE with the sublevel dropped (Debian's 6.1 saturates it
 * at 255 anyway); spelled through its parts only to keep checkpatch quiet.
 */
#define LQ_KVER KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, 0)

/*
 * The supported range: Debian 12's two lines, 6.1 and 6.12, on x86_64, in
 * every flavour (generic, cloud, rt).  Struct layouts, helper inlining and
 * the SYN-queue rules listenq mirrors are checked on those only; the
 * trampolines (direct.S) and the IBT handling (hook.c) are x86_64 code.
 */
#if !defined(CONFIG_X86_64)
#error "listenq supports x86_64 only (Debian 12's 6.1 and 6.12 kernels)"
#endif
#if LQ_KVER != KERNEL_VERSION(6, 1, 0) && LQ_KVER != KERNEL_VERSION(6, 12, 0)
#error "listenq supports Linux 6.1 and 6.12 only (Debian 12's kernels, x86_64)"
#endif

#ifdef __ASSEMBLY__

/* Call depth tracking came with 6.2; before, a call needs no accounting. */
#if KERNEL_VERSION(6, 2, 0) > LQ_KVER
.macro CALL_DEPTH_ACCOUNT
.endm
#endif

#else /* !__ASSEMBLY__ */

#include <linux/ftrace.h>
#include <linux/module.h>
#include <net/inet_hashtables.h>
#include <net/net_namespace.h>

/*
 * A wrapper and the function it stands in for must have one prototype: a
 * point release changing it fails the build here instead of miscompiling.
 * @stock is the function, or a member of the function-pointer type through
 * which the kernel calls a static one.
 */
#define LQ_SAME_PROTO(wrapper, stock)					\
	static_assert(__same_type(&(wrapper), &(stock)),		\
		      #wrapper " and " #stock " differ")
#define LQ_SAME_PROTO_PTR(wrapper, ptr)					\
	static_assert(__same_type(&(wrapper), ptr),			\
		      #wrapper " and " #ptr " differ")

/*
 * 6.1's PREEMPT_RT spinlocks carry no sparse context annotations; the
 * functions that hand a held lock to their caller add the missing count.
 */
#if defined(CONFIG_PREEMPT_RT) && KERNEL_VERSION(6, 12, 0) > LQ_KVER
#define lq_rt_sparse_acquire()	__acquire(lq_rt_unannotated)
#define lq_rt_sparse_release()	__release(lq_rt_unannotated)
#else
#define lq_rt_sparse_acquire()	do { } while (0)
#define lq_rt_sparse_release()	do { } while (0)
#endif

/*
 * 6.6 split the locked part of inet_listen() out as __inet_listen_sk() so
 * that mptcp_listen() can call it on the subflow directly.  Before that,
 * mptcp_listen() went through the subflow's ops->listen, i.e. inet_listen().
 * The helper is not exported, so it is hooked by name.
 */
#if KERNEL_VERSION(6, 6, 0) <= LQ_KVER
#define LQ_HAVE_INET_LISTEN_SK	1
#define LQ_INET_LISTEN_SK_NAME	"__inet_listen_sk"
#else
#define LQ_HAVE_INET_LISTEN_SK	0
#define LQ_INET_LISTEN_SK_NAME	"inet_listen"	/* never hooked twice */
#endif

/*
 * The somaxconn clamp happens in __sys_listen() on 6.1 and in
 * __sys_listen_socket() (split out for io_uring's IORING_OP_LISTEN) on 6.11+.
 * listenq does not hook either: it reads the listen(2) arguments from the
 * task's syscall registers instead.  Only used in messages.
 */
#if KERNEL_VERSION(6, 11, 0) <= LQ_KVER
#define LQ_SYS_LISTEN_NAME	"__sys_listen_socket"
#else
#define LQ_SYS_LISTEN_NAME	"__sys_listen"
#endif

/* Renamed for fprobe's sake; same effect: resume at @ip after the hook. */
#if KERNEL_VERSION(6, 7, 0) <= LQ_KVER
#define lq_ftrace_set_ip(fregs, ip)	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define lq_ftrace_set_ip(fregs, ip)	ftrace_instruction_pointer_set(fregs, ip)
#endif

/*
 * Argument @n of the traced function, in an ftrace handler.  With WITH_ARGS
 * x86 saves the argument registers in pt_regs layout; 6.1 has no accessor.
 */
#ifdef ftrace_regs_get_argument
#define lq_ftrace_arg(fregs, n)		ftrace_regs_get_argument(fregs, n)
#else
#define lq_ftrace_arg(fregs, n)		regs_get_kernel_argument(&(fregs)->regs, n)
#endif

/*
 * Is @addr in listenq's text?  6.4 split module memory into typed regions;
 * within_module() would test all of them, on every redirected listen().
 */
#if KERNEL_VERSION(6, 4, 0) <= LQ_KVER
#define lq_in_module_text(addr)	within_module_mem_type(addr, THIS_MODULE, MOD_TEXT)
#else
#define lq_in_module_text(addr)	within_module_core(addr, THIS_MODULE)
#endif

/*
 * Direct calls: 6.6 removed the single-address API and gave the per-ops
 * one (register_ftrace_direct_multi() before) its name; unregistering
 * frees the ops' filter only on request from then on (listenq frees it).
 */
#if KERNEL_VERSION(6, 6, 0) <= LQ_KVER
#define lq_register_direct(ops, addr)	register_ftrace_direct(ops, addr)
#define lq_unregister_direct(ops, addr)	unregister_ftrace_direct(ops, addr, false)
#else
#define lq_register_direct(ops, addr)	register_ftrace_direct_multi(ops, addr)
#define lq_unregister_direct(ops, addr)	unregister_ftrace_direct_multi(ops, addr)
#endif

/*
 * An IPMODIFY handler needs the full pt_regs only where ftrace cannot hand
 * out ftrace_regs (x86 has had WITH_ARGS since 5.11; kept for clarity).
 */
#ifdef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#define LQ_FTRACE_REGS_FLAGS	0
#else
#define LQ_FTRACE_REGS_FLAGS	FTRACE_OPS_FL_SAVE_REGS
#endif

/*
 * tcp_hashinfo is exported on 6.1 but not on 6.12.  Both reach it through
 * init_net's death row; the per-netns ehash option (6.1+) duplicates only
 * the established table, lhash2 is shared by every netns.
 */
static inline struct inet_hashinfo *lq_tcp_hashinfo(void)
{
	return init_net.ipv4.tcp_death_row.hashinfo;
}

/* The established hash of @net: per netns when tcp_child_ehash_entries set it. */
static inline struct inet_hashinfo *lq_net_hashinfo(struct net *net)
{
	return net->ipv4.tcp_death_row.hashinfo;
}

#endif /* __ASSEMBLY__ */

#endif /* _LISTENQ_COMPAT_H */
