/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listenq: the direct-call trampolines of the wrappers on the connection
 * path: the TCP receive path's (livestate.c) and the mirror's (mirror.c);
 * see hook.c, lq_redirects_install().
 *
 * ftrace patches the traced function's fentry call into a call to one of
 * these.  At that point the arguments are still in their registers and the
 * stack holds the return address into the traced function (right after
 * its fentry call) above the one into its caller.  Dropping the first and
 * jumping to the wrapper runs the wrapper in place of the function, with
 * its arguments, returning straight to the caller: two instructions
 * instead of an ftrace trampoline saving the argument registers and a
 * handler rewriting the return address.
 *
 * When another ftrace user shares the function, ftrace's own trampoline
 * runs it first and then returns here with the same stack, so this works
 * either way.  No accounting for call depth tracking (CALL_THUNKS): the
 * fentry call made here is never returned from, and the wrapper's return
 * balances the caller's call.  Reached by direct call or by ftrace's
 * return, never by an indirect call; the ENDBR that SYM_FUNC_START emits
 * under IBT is only a NOP here.
 */
#include <linux/linkage.h>
#include <asm/unwind_hints.h>

.macro LQ_DIRECT wrapper
SYM_FUNC_START(\wrapper\()_direct)
	addq	$8, %rsp
	/* the stack is now that of a call into the wrapper */
	UNWIND_HINT_FUNC
	jmp	\wrapper
SYM_FUNC_END(\wrapper\()_direct)
.endm

	.text
LQ_DIRECT lq_v4_conn_request
LQ_DIRECT lq_v6_conn_request
LQ_DIRECT lq_v4_cookie_check
LQ_DIRECT lq_v6_cookie_check
LQ_DIRECT lq_check_req
LQ_DIRECT lq_req_err
LQ_DIRECT lq_hash_add
LQ_DIRECT lq_v4_destructor
LQ_DIRECT lq_v6_destructor
