// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: installing and removing the hooks, resolving unexported helpers,
 * and draining tasks out of the module before it goes away.
 *
 * Every hook is an ftrace ops shared by a set of functions (one trampoline
 * for the set, argument registers only: cheaper per call than a kprobe,
 * which saves every register and looks the probe up).  The handler picks
 * the function by the address ftrace reports, then either
 * - watches it: runs listenq's function on entry, with the arguments; or
 * - redirects it (IPMODIFY): rewrites the return address of the ftrace
 *   trampoline, so the call continues in listenq's function with the
 *   original arguments.  The wrapper calls the stock function right after
 *   its fentry call (lq_fentry_end()), so that call is not hooked again.
 *
 * The redirects every connection passes (livestate.c, mirror.c) go by
 * direct call where ftrace allows: the fentry call becomes a call to a
 * trampoline of direct.S, which jumps to the wrapper, with no registers
 * saved and no handler run (lq_redirects_install()).
 *
 * inet_listen() is redirected; on 6.6+ __inet_listen_sk() too, in replace
 * mode, for mptcp_listen(), which calls it on the subflow without
 * inet_listen().  inet_csk_listen_stop() is watched: it runs on every path
 * that takes a socket out of LISTEN (close, shutdown, disconnect,
 * tcp_abort, MPTCP), after the state change and before the socket can be
 * freed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/static_call.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <net/inet_common.h>

#include "compat.h"
#include "listenq.h"

static atomic_t lq_inflight = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(lq_drain_wq);
/* Calls a hook saw for a function it was not set up for (none). */
static atomic_t lq_foreign_calls = ATOMIC_INIT(0);
static bool lq_lookup_ok;
static struct lq_watch_set *lq_stop_watches, *lq_listen_redirects;

/*
 * Every function that ftrace sends a task into brackets its body with
 * these, so rmmod can wait for tasks sleeping inside (e.g. in lock_sock()).
 */
void notrace lq_hook_enter(void)
{
	atomic_inc(&lq_inflight);
}

void notrace lq_hook_exit(void)
{
	if (atomic_dec_and_test(&lq_inflight))
		wake_up(&lq_drain_wq);
}

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
 * Resolve kallsyms_lookup_name() (for the watches) and the helpers each
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
 * A set of watches shares one ftrace ops.  ftrace reports the fentry call
 * of the traced function, at its first byte or right after an ENDBR; the
 * handler picks the watch by that address.  A call matching none would be
 * an ftrace bookkeeping error: it is counted and left alone.
 */
#define LQ_FENTRY_MAX	16	/* the fentry call is at most this far in */

struct lq_watch_set {
	struct ftrace_ops ops;
	const struct lq_watch *watches;
	unsigned int nr;
	const char *what;
	atomic_t missed;		/* calls the recursion guard refused */
	unsigned long starts[];		/* of each watched function */
};

/*
 * No FTRACE_OPS_FL_RECURSION: the handler takes the recursion lock (which
 * also disables preemption, so unregistering waits for running handlers)
 * itself, as livepatch's does, so ftrace's trampoline calls it directly
 * instead of through its assist function.
 */
static void notrace lq_ftrace_watch(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op,
				    struct ftrace_regs *fregs)
{
	struct lq_watch_set *set = container_of(op, struct lq_watch_set, ops);
	const struct lq_watch *w;
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
		w = &set->watches[i];
		if (w->fn)
			w->fn(fregs);
		/*
		 * Wrappers call the stock function past this hook; should
		 * listenq's text call it anyway, let that call run.
		 */
		else if (!lq_in_module_text(parent_ip))
			lq_ftrace_set_ip(fregs, (unsigned long)w->redirect);
		break;
	}
	if (i == set->nr)
		atomic_inc(&lq_foreign_calls);
	ftrace_test_recursion_unlock(bit);
}

/*
 * Start watching the @nr functions of @watches (@what names them in
 * messages) and store the set in @setp; from the next call on, on every
 * CPU, each runs its watch's fn on entry, or is redirected to its wrapper.
 */
int lq_watch_install(struct lq_watch_set **setp, const struct lq_watch *watches,
		     unsigned int nr, const char *what)
{
	struct lq_watch_set *set;
	unsigned int i;
	int err;

	set = kzalloc(struct_size(set, starts, nr), GFP_KERNEL);
	if (!set)
		return -ENOMEM;
	set->ops.func = lq_ftrace_watch;
	set->ops.flags = LQ_FTRACE_REGS_FLAGS;
	set->watches = watches;
	set->nr = nr;
	set->what = what;
	for (i = 0; i < nr; i++) {
		if (watches[i].redirect)
			set->ops.flags |= FTRACE_OPS_FL_IPMODIFY;
		set->starts[i] = lq_symbol_start(watches[i].name);
		err = set->starts[i] ? ftrace_set_filter_ip(&set->ops, set->starts[i], 0, 0) :
				       -ENOENT;
		if (err) {
			pr_err("cannot hook %s (%s): not traceable (%d)\n",
			       watches[i].name, what, err);
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
 * Stop watching the set in @setp, if any, and clear it; no handler of it
 * runs any more when this returns (a redirected task may still be in a
 * wrapper: see lq_hook_remove()).
 */
void lq_watch_remove(struct lq_watch_set **setp)
{
	struct lq_watch_set *set = *setp;

	if (!set)
		return;
	*setp = NULL;
	unregister_ftrace_function(&set->ops);
	ftrace_free_filter(&set->ops);
	if (atomic_read(&set->missed))
		pr_warn("%s: %d calls missed (recursion), inexact\n", set->what,
			atomic_read(&set->missed));
	kfree(set);
}

/*
 * Direct calls (the redirects on the connection path): ftrace turns the
 * fentry call of each function into a call to its trampoline in direct.S,
 * which jumps to the wrapper.  A direct ops carries one address, so each
 * function gets its own.  No recursion guard is needed: the wrappers call
 * the stock functions past their fentry call.
 */
struct lq_direct {
	struct ftrace_ops ops;
	unsigned long addr;
};

struct lq_direct_set {
	unsigned int nr;		/* registered so far */
	struct lq_direct direct[];
};

/* Unregister every direct call of @set, newest first, and free it. */
static void lq_direct_free(struct lq_direct_set *set)
{
	struct lq_direct *d;

	while (set->nr) {
		d = &set->direct[--set->nr];
		lq_unregister_direct(&d->ops, d->addr);
		ftrace_free_filter(&d->ops);
	}
	kfree(set);
}

/*
 * Send each of the @nr functions of @redirects to its trampoline and store
 * the set in @setp; all or none.  Fails, without a message, where ftrace
 * refuses: another direct caller such as a BPF trampoline, or an IPMODIFY
 * user without the means to share.
 */
static int lq_direct_install(struct lq_direct_set **setp,
			     const struct lq_watch *redirects, unsigned int nr)
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
		start = lq_symbol_start(redirects[set->nr].name);
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
 * Remove the direct calls of the set in @setp, if any, and clear it.  A
 * task may still be in a trampoline or a wrapper: see lq_redirects_drain().
 */
static void lq_direct_remove(struct lq_direct_set **setp)
{
	struct lq_direct_set *set = *setp;

	if (!set)
		return;
	*setp = NULL;
	lq_direct_free(set);
}

/*
 * Redirect the @nr functions of @redirects (each with a trampoline) by
 * direct calls, or, where ftrace refuses them, through a shared ftrace ops
 * like the listen hooks: it shares a function with other direct callers.
 */
int lq_redirects_install(struct lq_redirects *r, const struct lq_watch *redirects,
			 unsigned int nr, const char *what)
{
	int err;

	err = lq_direct_install(&r->direct, redirects, nr);
	if (!err)
		return 0;
	pr_info("%s: no direct calls (%d, e.g. a BPF trampoline there), hooked through ftrace ops\n",
		what, err);
	return lq_watch_install(&r->ops, redirects, nr, what);
}

/* Remove the redirects of @r, however installed; see lq_direct_remove(). */
void lq_redirects_remove(struct lq_redirects *r)
{
	lq_direct_remove(&r->direct);
	lq_watch_remove(&r->ops);
}

/*
 * After redirects are gone, wait for wrappers (and trampolines) still
 * running: those in softirq or with BH off (synchronize_rcu()), and those
 * preempted in process context, e.g. tcp_check_req() on a Fast Open child
 * from the socket backlog, or a request destructor at close
 * (synchronize_rcu_tasks(): no voluntary switch inside; the stock
 * functions the wrappers call do not sleep either).
 */
void lq_redirects_drain(void)
{
	synchronize_rcu();
	synchronize_rcu_tasks();
}

/* inet_csk_listen_stop(sk) */
static void notrace lq_listen_stop_watch(struct ftrace_regs *fregs)
{
	lq_registry_stop((struct sock *)lq_ftrace_arg(fregs, 0));
}

static const struct lq_watch lq_stop_watch[] = {
	{ .name = "inet_csk_listen_stop", .fn = lq_listen_stop_watch },
};

/*
 * Observe mode leaves __inet_listen_sk() alone: the stock inet_listen() it
 * lets run calls it too, so a wrapper would have to tell the two callers
 * apart to avoid recording twice.  Hence on 6.6+ MPTCP subflow listeners
 * are recorded by replace mode only (and by adoption).
 */
static const struct lq_watch lq_replace_redirects[] = {
	{ .name = "inet_listen", .redirect = (void *)lq_inet_listen },
#if LQ_HAVE_INET_LISTEN_SK
	{ .name = LQ_INET_LISTEN_SK_NAME, .redirect = (void *)lq_inet_listen_sk },
#endif
};

static const struct lq_watch lq_observe_redirect[] = {
	{ .name = "inet_listen", .redirect = (void *)lq_inet_listen_observe },
};

/*
 * Order: the listen_stop watch first, so that no entry created by the
 * listen hook can outlive its socket; adoption follows in main.c.
 */
int lq_hook_install(bool replace)
{
	int err;

	err = lq_watch_install(&lq_stop_watches, lq_stop_watch,
			       ARRAY_SIZE(lq_stop_watch), "listen stop");
	if (err)
		return err;
	if (replace)
		err = lq_watch_install(&lq_listen_redirects, lq_replace_redirects,
				       ARRAY_SIZE(lq_replace_redirects), "listen");
	else
		err = lq_watch_install(&lq_listen_redirects, lq_observe_redirect,
				       ARRAY_SIZE(lq_observe_redirect), "listen");
	if (err)
		lq_hook_remove();
	return err;
}

/*
 * Draining, so no task returns into freed module text:
 * 1. unregister the ftrace ops: no new task is redirected afterwards;
 * 2. synchronize_rcu_tasks(): a task redirected before has left the
 *    trampoline and, as nothing sleeps between the redirect and
 *    lq_hook_enter(), has incremented lq_inflight;
 * 3. wait for lq_inflight to reach 0 (tasks may sleep in lock_sock());
 * 4. synchronize_rcu_tasks() again: a task that just decremented may still
 *    be executing the last instructions of the module function.
 * Watch handlers run with preemption disabled and unregistering their ops
 * waits for running handlers itself.
 */
void lq_hook_remove(void)
{
	if (lq_listen_redirects) {
		lq_watch_remove(&lq_listen_redirects);
		synchronize_rcu_tasks();
		wait_event(lq_drain_wq, !atomic_read(&lq_inflight));
		synchronize_rcu_tasks();
	}
	lq_watch_remove(&lq_stop_watches);
	if (atomic_read(&lq_foreign_calls))
		pr_err("hooks called for %d other functions, left alone\n",
		       atomic_read(&lq_foreign_calls));
}
