// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: the hook mechanism.  Redirects send a kernel function's calls
 * to a listenq wrapper of the same prototype, which runs in place of the
 * function, in its caller's context, and calls the stock function right
 * after its fentry call (lq_fentry_end()), so that call is not hooked
 * again.  This file also resolves unexported helpers and drains tasks out
 * of the wrappers before the module goes away.
 *
 * A redirect goes by direct call where the wrapper has a trampoline
 * (direct.S) and ftrace allows it: the fentry call becomes a call to the
 * trampoline, which returns into the wrapper, with no registers saved and
 * no handler run.  Otherwise, and for the listen hooks, it goes through an
 * ftrace ops shared by a set of functions (IPMODIFY): the handler picks
 * the function by the address ftrace reports and rewrites the return
 * address of the ftrace trampoline.
 *
 * Contexts: the ops handler runs with preemption disabled on every kernel
 * (the recursion lock) and does nothing but pick the wrapper; all work is
 * in the wrappers, which run where their callers run.  Nothing listenq
 * does runs in an ftrace or kprobe handler, so nothing that may sleep on
 * PREEMPT_RT (spinlock_t, kfree(), allocations) ever runs with preemption
 * or interrupts disabled by listenq.
 *
 * Unloading (lq_redirects_drain()): a wrapper whose body may block is a
 * read-side section of lq_srcu: always on the listen path (lock_sock()),
 * and on PREEMPT_RT every wrapper, where spinlock_t and local_bh_disable()
 * may block and RCU Tasks takes a task blocked on an rtmutex for quiescent
 * (the scheduler counts that wait as a voluntary switch).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/static_call.h>
#include <linux/uaccess.h>
#include <net/inet_common.h>
#include <net/tcp.h>

#include "compat.h"
#include "listenq.h"

/* The wrappers' read side; see lq_hold() and lq_redirects_drain(). */
DEFINE_SRCU(lq_srcu);

/* Calls a hook saw for a function it was not set up for (none). */
static atomic_t lq_foreign_calls = ATOMIC_INIT(0);
static bool lq_lookup_ok;
/* A hook could not be removed: the module text must stay (lq_hook_fence()). */
static bool lq_pinned;
static struct lq_redirects lq_listen_redirects;

/*
 * IBT (6.12 is built with X86_KERNEL_IBT): an indirect call must land on an
 * ENDBR64.  Two things get in the way of calling unexported helpers through
 * a pointer: kprobes reports a function's address after its ENDBR (that is
 * where it probes), and at boot the kernel turns the ENDBR of functions that
 * are never called indirectly into a 4-byte NOP ("sealing": seen here for
 * kallsyms_lookup_name and tcp_fastopen_init_key_once), so an indirect call
 * to them faults on IBT hardware whatever address is used.  Hence:
 * - step back over an ENDBR, sealed or not, to the function's first byte;
 * - never call through a pointer: the helpers are reached by static calls,
 *   which the kernel patches into direct CALL instructions, and a direct
 *   call is not subject to IBT.
 */
#define LQ_ENDBR64		0xfa1e0ff3U	/* f3 0f 1e fa */
#define LQ_ENDBR_SEALED		0x001f0f66U	/* osp nopl (%rax) */

static unsigned long lq_func_start(unsigned long addr)
{
	u32 insn;

	if (!IS_ENABLED(CONFIG_X86_KERNEL_IBT) || !addr)
		return addr;
	if (copy_from_kernel_nofault(&insn, (void *)(addr - 4), sizeof(insn)))
		return addr;
	if (insn == LQ_ENDBR64 || insn == LQ_ENDBR_SEALED)
		return addr - 4;
	return addr;
}

/*
 * Where kprobes places a probe on function @name, or 0 if it cannot;
 * @on_fentry: that place is the function's fentry call (kprobe on ftrace).
 */
static unsigned long lq_probe_point(const char *name, bool *on_fentry)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;

	if (register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	*on_fentry = kprobe_ftrace(&kp);
	unregister_kprobe(&kp);
	return addr;
}

/* The start of function @name, found by probing it, or 0. */
static unsigned long lq_kprobe_addr(const char *name)
{
	bool on_fentry;

	return lq_func_start(lq_probe_point(name, &on_fentry));
}

/*
 * The address right after the fentry call of function @name, or 0 when it
 * is not traceable.  Wrappers call the stock function there: the redirect
 * already showed the call to every tracer of the function, and this call
 * neither passes through the hook again nor can be redirected back into
 * the wrapper, even as a tail jump.  kprobes puts its probe on that fentry
 * call (after the ENDBR under IBT) and says whether it did.  A direct call
 * into a function's body is fine under IBT; the static calls below make
 * every such call direct.
 */
unsigned long lq_fentry_end(const char *name)
{
	bool on_fentry = false;
	unsigned long addr = lq_probe_point(name, &on_fentry);

	return addr && on_fentry ? addr + MCOUNT_INSN_SIZE : 0;
}

/* Defaults until resolved; never called once the hooks are live. */
static unsigned long lq_no_lookup(const char *name)
{
	return 0;
}

static int lq_no_inet_listen(struct socket *sock, int backlog)
{
	return -EINVAL;
}

static void lq_no_tfo_key(struct net *net)
{
}

/* The static calls take the kernel's prototypes, checked here. */
LQ_SAME_PROTO(lq_no_lookup, kallsyms_lookup_name);
LQ_SAME_PROTO(lq_no_tfo_key, tcp_fastopen_init_key_once);
LQ_SAME_PROTO(lq_no_inet_listen, inet_listen);

DEFINE_STATIC_CALL(lq_lookup_name, lq_no_lookup);
DEFINE_STATIC_CALL(lq_tfo_key_once, lq_no_tfo_key);
DEFINE_STATIC_CALL(lq_stock_inet_listen, lq_no_inet_listen);

void notrace lq_fastopen_init_key_once(struct net *net)
{
	static_call(lq_tfo_key_once)(net);
}

/* The stock inet_listen(), for observe mode, past its hook. */
int notrace lq_stock_inet_listen(struct socket *sock, int backlog)
{
	return static_call(lq_stock_inet_listen)(sock, backlog);
}

/*
 * The start of function @name: from kallsyms_lookup_name() when it was
 * found, else by probing the function itself.  0 when it does not exist.
 */
unsigned long lq_symbol_start(const char *name)
{
	unsigned long addr = 0;

	if (lq_lookup_ok)
		addr = static_call(lq_lookup_name)(name);
	return addr ? addr : lq_kprobe_addr(name);
}

/*
 * Resolve kallsyms_lookup_name() (for the hooks' addresses) and the helpers each
 * mode needs.  kallsyms_lookup_name() is not exported since 5.7; its
 * address comes from a kprobe on it.  Should it be missing, a kprobe on
 * each function gives its address.  Without the Fast Open helper, fall
 * back to observe mode.
 */
int lq_hook_resolve(bool *replace)
{
	unsigned long addr, lookup;

	lookup = lq_kprobe_addr("kallsyms_lookup_name");
	if (lookup) {
		static_call_update(lq_lookup_name,
				   (unsigned long (*)(const char *))lookup);
		lq_lookup_ok = true;
	}
	if (*replace) {
		addr = lq_symbol_start("tcp_fastopen_init_key_once");
		if (addr) {
			static_call_update(lq_tfo_key_once, (void (*)(struct net *))addr);
			return 0;
		}
		pr_warn("tcp_fastopen_init_key_once not found, falling back to mode=observe\n");
		*replace = false;
	}
	addr = lq_fentry_end("inet_listen");
	if (!addr) {
		pr_err("inet_listen is not traceable\n");
		return -ENOENT;
	}
	static_call_update(lq_stock_inet_listen, (int (*)(struct socket *, int))addr);
	return 0;
}

/*
 * A hook could not be removed: ftrace may go on calling into listenq, so
 * neither its text nor the ops may be freed.  Said once per hook; the
 * module then never leaves memory (lq_hook_fence()).
 */
static void lq_unhook_failed(const char *name, int err)
{
	pr_crit("cannot unhook %s (%d): listenq stays in memory until reboot\n",
		name, err);
	lq_pinned = true;
}

/*
 * The end of unloading (or of a failed load): if a hook could not be
 * removed, the module's memory must never be freed, so the task unloading
 * it waits here for ever, in TASK_IDLE (no hung-task report, no load).
 */
void lq_hook_fence(void)
{
	if (!READ_ONCE(lq_pinned))
		return;
	pr_crit("a hook is still installed: this unload never completes\n");
	for (;;)
		schedule_timeout_idle(MAX_SCHEDULE_TIMEOUT);
}

/*
 * Redirects through an ftrace ops, one ops for a set of functions.  ftrace
 * reports the fentry call of the traced function, at its first byte or
 * right after an ENDBR; the handler picks the redirect by that address.  A
 * call matching none would be an ftrace bookkeeping error: it is counted
 * and left alone.
 */
#define LQ_FENTRY_MAX	16	/* the fentry call is at most this far in */

struct lq_ops_set {
	struct ftrace_ops ops;
	const struct lq_redirect *redirects;
	unsigned int nr;
	const char *what;
	atomic_t missed;		/* calls the recursion guard refused */
	unsigned long starts[];		/* of each redirected function */
};

/*
 * Context: whatever the traced function's caller runs in, with preemption
 * disabled by the recursion lock (on PREEMPT_RT too); it only rewrites
 * the return address, so the wrapper then runs in the caller's context.
 * No FTRACE_OPS_FL_RECURSION: the handler takes the recursion lock itself,
 * as livepatch's does, so ftrace's trampoline calls it directly instead of
 * through its assist function; unregistering waits for running handlers.
 */
static void notrace lq_ftrace_redirect(unsigned long ip, unsigned long parent_ip,
				       struct ftrace_ops *op,
				       struct ftrace_regs *fregs)
{
	struct lq_ops_set *set = container_of(op, struct lq_ops_set, ops);
	unsigned int i;
	int bit;

	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0) {
		atomic_inc(&set->missed);
		return;
	}
	for (i = 0; i < set->nr; i++) {
		if (ip - set->starts[i] >= LQ_FENTRY_MAX)
			continue;
		/*
		 * Wrappers call the stock function past this hook; should
		 * listenq's text call it anyway, let that call run.
		 */
		if (!lq_in_module_text(parent_ip))
			lq_ftrace_set_ip(fregs, (unsigned long)set->redirects[i].wrapper);
		break;
	}
	if (i == set->nr)
		atomic_inc(&lq_foreign_calls);
	ftrace_test_recursion_unlock(bit);
}

/*
 * Redirect the @nr functions of @redirects (@what names them in messages)
 * through one ftrace ops and store the set in @setp; from the next call on,
 * on every CPU, each function's calls run its wrapper.
 */
static int lq_ops_install(struct lq_ops_set **setp, const struct lq_redirect *redirects,
			  unsigned int nr, const char *what)
{
	struct lq_ops_set *set;
	unsigned int i;
	int err;

	set = kzalloc(struct_size(set, starts, nr), GFP_KERNEL);
	if (!set)
		return -ENOMEM;
	set->ops.func = lq_ftrace_redirect;
	set->ops.flags = LQ_FTRACE_REGS_FLAGS | FTRACE_OPS_FL_IPMODIFY;
	set->redirects = redirects;
	set->nr = nr;
	set->what = what;
	for (i = 0; i < nr; i++) {
		set->starts[i] = lq_symbol_start(redirects[i].name);
		err = set->starts[i] ? ftrace_set_filter_ip(&set->ops, set->starts[i], 0, 0) :
				       -ENOENT;
		if (err) {
			pr_err("cannot hook %s (%s): not traceable (%d)\n",
			       redirects[i].name, what, err);
			goto fail;
		}
	}
	err = register_ftrace_function(&set->ops);
	if (err) {
		pr_err("cannot hook %s: %d%s\n", what, err,
		       err == -EBUSY ? " (another IPMODIFY user, e.g. a livepatch)" : "");
		goto fail;
	}
	*setp = set;
	return 0;
fail:
	ftrace_free_filter(&set->ops);
	kfree(set);
	return err;
}

/*
 * Remove the set in @setp, if any, and clear it; no handler of it runs any
 * more when this returns (a redirected task may still be in a wrapper: see
 * lq_redirects_drain()).  If ftrace refuses, the set stays, pinned.
 */
static void lq_ops_remove(struct lq_ops_set **setp)
{
	struct lq_ops_set *set = *setp;
	int err;

	if (!set)
		return;
	*setp = NULL;
	err = unregister_ftrace_function(&set->ops);
	if (err) {
		lq_unhook_failed(set->what, err);
		return;
	}
	ftrace_free_filter(&set->ops);
	if (atomic_read(&set->missed))
		pr_warn("%s: %d calls missed (recursion), inexact\n", set->what,
			atomic_read(&set->missed));
	kfree(set);
}

/*
 * Direct calls: ftrace turns the fentry call of each function into a call
 * to its trampoline in direct.S, which returns into the wrapper.  A direct ops
 * carries one address, so each function gets its own.  No recursion guard
 * is needed: the wrappers call the stock functions past their fentry call.
 */
struct lq_direct {
	struct ftrace_ops ops;
	unsigned long addr;
	const char *name;
};

struct lq_direct_set {
	unsigned int nr;		/* registered so far */
	struct lq_direct direct[];
};

/*
 * Unregister every direct call of @set, newest first, and free it; one
 * that ftrace refuses to remove pins the set (never freed).
 */
static void lq_direct_free(struct lq_direct_set *set)
{
	bool pinned = false;
	struct lq_direct *d;
	int err;

	while (set->nr) {
		d = &set->direct[--set->nr];
		err = lq_unregister_direct(&d->ops, d->addr);
		if (err) {
			lq_unhook_failed(d->name, err);
			pinned = true;
			continue;
		}
		ftrace_free_filter(&d->ops);
	}
	if (!pinned)
		kfree(set);
}

/*
 * Send each of the @nr functions of @redirects to its trampoline and store
 * the set in @setp; all or none.  Fails, without a message, where ftrace
 * refuses: another direct caller such as a BPF trampoline, or an IPMODIFY
 * user without the means to share.
 */
static int lq_direct_install(struct lq_direct_set **setp,
			     const struct lq_redirect *redirects, unsigned int nr)
{
	struct lq_direct_set *set;
	struct lq_direct *d;
	unsigned long start;
	int err;

	set = kzalloc(struct_size(set, direct, nr), GFP_KERNEL);
	if (!set)
		return -ENOMEM;
	while (set->nr < nr) {
		d = &set->direct[set->nr];
		d->addr = (unsigned long)redirects[set->nr].direct;
		d->name = redirects[set->nr].name;
		start = lq_symbol_start(d->name);
		err = start ? ftrace_set_filter_ip(&d->ops, start, 0, 0) : -ENOENT;
		if (!err) {
			err = lq_register_direct(&d->ops, d->addr);
			if (err)
				ftrace_free_filter(&d->ops);
		}
		if (err) {
			lq_direct_free(set);
			return err;
		}
		set->nr++;
	}
	*setp = set;
	return 0;
}

/*
 * Redirect the @nr functions of @redirects: by direct calls when every one
 * has a trampoline and ftrace accepts them, else through a shared ftrace
 * ops, which shares a function with other direct callers.
 */
int lq_redirects_install(struct lq_redirects *r, const struct lq_redirect *redirects,
			 unsigned int nr, const char *what)
{
	unsigned int i;
	int err = -EINVAL;

	for (i = 0; i < nr && redirects[i].direct; i++)
		;
	if (i == nr) {
		err = lq_direct_install(&r->direct, redirects, nr);
		if (!err)
			return 0;
		pr_info("%s: no direct calls (%d, e.g. a BPF trampoline there), hooked through ftrace ops\n",
			what, err);
	}
	return lq_ops_install(&r->ops, redirects, nr, what);
}

bool lq_redirects_installed(const struct lq_redirects *r)
{
	return r->direct || r->ops;
}

/*
 * Remove the redirects of @r, however installed, and clear it.  A task may
 * still be in a trampoline or a wrapper: see lq_redirects_drain().
 */
void lq_redirects_remove(struct lq_redirects *r)
{
	struct lq_direct_set *set = r->direct;

	r->direct = NULL;
	if (set)
		lq_direct_free(set);
	lq_ops_remove(&r->ops);
}

/* Remove the redirects of @r, if any, and wait until no task is in them. */
void lq_redirects_unhook(struct lq_redirects *r)
{
	if (!lq_redirects_installed(r))
		return;
	lq_redirects_remove(r);
	lq_redirects_drain();
}

/*
 * After redirects are gone, wait for every task still in a trampoline or
 * a wrapper, so none returns into freed module text:
 * 1. synchronize_rcu(): wrappers in softirq or with BH off, also those
 *    that RCU Tasks does not wait for (softirq on the idle task's stack);
 * 2. synchronize_rcu_tasks(): a task preempted in a trampoline or wrapper,
 *    which cannot block before its lq_srcu section, is now past it or
 *    inside it;
 * 3. synchronize_srcu(): every section, including tasks sleeping in
 *    lock_sock() or blocked on a PREEMPT_RT lock, has ended;
 * 4. synchronize_rcu_tasks() again: a task that just left its section may
 *    still be executing the wrapper's last instructions.
 * Without PREEMPT_RT the connection path's wrappers hold no section: the
 * stock functions they call never block there, so 1 and 2 cover them.
 */
void lq_redirects_drain(void)
{
	synchronize_rcu();
	synchronize_rcu_tasks();
	synchronize_srcu(&lq_srcu);
	synchronize_rcu_tasks();
}

/*
 * Observe mode leaves __inet_listen_sk() alone: the stock inet_listen() it
 * lets run calls it too, so a wrapper would have to tell the two callers
 * apart to avoid recording twice.  Hence on 6.6+ MPTCP subflow listeners
 * are recorded by replace mode only (and by adoption).  No trampolines:
 * these go through an ftrace ops, like a livepatch.
 */
static const struct lq_redirect lq_replace_redirects[] = {
	{ .name = "inet_listen", .wrapper = (void *)lq_inet_listen },
#if LQ_HAVE_INET_LISTEN_SK
	{ .name = LQ_INET_LISTEN_SK_NAME, .wrapper = (void *)lq_inet_listen_sk },
#endif
};

static const struct lq_redirect lq_observe_redirect[] = {
	{ .name = "inet_listen", .wrapper = (void *)lq_inet_listen_observe },
};

/* The listen hooks; the listen_stop redirect (registry.c) comes first. */
int lq_hook_install(bool replace)
{
	if (replace)
		return lq_redirects_install(&lq_listen_redirects, lq_replace_redirects,
					    ARRAY_SIZE(lq_replace_redirects), "listen");
	return lq_redirects_install(&lq_listen_redirects, lq_observe_redirect,
				    ARRAY_SIZE(lq_observe_redirect), "listen");
}

void lq_hook_remove(void)
{
	lq_redirects_unhook(&lq_listen_redirects);
	if (atomic_read(&lq_foreign_calls))
		pr_err("hooks called for %d other functions, left alone\n",
		       atomic_read(&lq_foreign_calls));
}
