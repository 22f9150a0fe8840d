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
 * into its caller.  The trampoline overwrites the first with the wrapper's
 * address and returns into the wrapper: the stack is then exactly as if
 * the caller had called the wrapper, which runs in place of the function,
 * with its arguments and in its caller's context, and returns to the
 * caller.
 *
 * The return stack buffer: the caller's call and the fentry call pushed
 * two entries, and two returns consume them: this trampoline's RET (the
 * one misprediction: the entry points into the traced function, the
 * return goes to the wrapper) and the wrapper's own, which is predicted,
 * as is every return above it.  Calling the wrapper instead would push a
 * third entry for two returns and leave every return above off by one.
 * Call depth tracking (6.2+) sees the same balance: CALL_DEPTH_ACCOUNT
 * counts the fentry call, which reached here without a call thunk, and
 * the RET takes it back; the caller's call went through the traced
 * function's thunk, and the wrapper's return takes that back.
 *
 * When another ftrace user shares the function, ftrace_regs_caller runs it
 * first and then returns here with the same stack, so this works either
 * way.  Reached by a direct call or by ftrace's return, never indirectly:
 * the ENDBR that SYM_FUNC_START emits under IBT is only a NOP here, and a
 * return needs no ENDBR at its target.  The stack pointer never moves, so
 * the unwinder needs no hint.
 */
#include <linux/linkage.h>
#include <asm/nospec-branch.h>

#include "compat.h"

.macro LQ_DIRECT wrapper
SYM_FUNC_START(\wrapper\()_direct)
	CALL_DEPTH_ACCOUNT
	leaq	\wrapper(%rip), %r11
	movq	%r11, (%rsp)
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
