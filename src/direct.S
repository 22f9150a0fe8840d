/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listenq: the direct-call trampolines of the redirects that have one:
 * listen_stop (registry.c), the TCP receive path (livestate.c) and the
 * request queue (mirror.c); see hook.c, lq_redirects_install().
 *
 * ftrace patches the traced function's fentry call into a call to one of
 * these.  At that point the arguments are still in their registers (no
 * wrapper takes any on the stack) and the stack holds the return address
 * into the traced function, right after its fentry call, above the one
 * into its caller.  The trampoline calls the wrapper, then drops the
 * first return address and returns to the caller: the wrapper runs in
 * place of the function, with its arguments and in its caller's context.
 *
 * The return stack buffer: the fentry call pushed an entry that no return
 * will consume the usual way.  Jumping to the wrapper would leave it there
 * and every return above the wrapper would then mispredict.  Calling the
 * wrapper keeps its return predicted; the final RET mispredicts once and
 * consumes that entry, so the RSB is balanced from there up: the same
 * rebalancing as ftrace_regs_caller's call before its direct jump.
 * CALL_DEPTH_ACCOUNT counts the fentry call, which reached here without a
 * call thunk, for call depth tracking, as the kernel's own direct
 * trampolines do.  While the wrapper runs, the unwinder sees the traced
 * function between it and the caller.
 *
 * When another ftrace user shares the function, ftrace_regs_caller runs it
 * first and then returns here with the same stack, so this works either
 * way.  Reached by a direct call or by ftrace's return, never indirectly:
 * the ENDBR that SYM_FUNC_START emits under IBT is only a NOP here.
 */
#include <linux/linkage.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

#include "compat.h"

.macro LQ_DIRECT wrapper
SYM_FUNC_START(\wrapper\()_direct)
	CALL_DEPTH_ACCOUNT
	call	\wrapper
	addq	$8, %rsp
	/* the stack is now the traced function's at its entry */
	UNWIND_HINT_FUNC
	RET
SYM_FUNC_END(\wrapper\()_direct)
.endm

	.text
LQ_DIRECT lq_listen_stop
LQ_DIRECT lq_v4_conn_request
LQ_DIRECT lq_v6_conn_request
LQ_DIRECT lq_v4_cookie_check
LQ_DIRECT lq_v6_cookie_check
LQ_DIRECT lq_check_req
LQ_DIRECT lq_req_err
LQ_DIRECT lq_hash_add
LQ_DIRECT lq_v4_destructor
LQ_DIRECT lq_v6_destructor
LQ_DIRECT lq_reqsk_drop
LQ_DIRECT lq_reqsk_drop_and_put
LQ_DIRECT lq_reqsk_timer
