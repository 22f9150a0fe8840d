#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# listenq next to BPF trampolines (fentry programs, as bpftrace's kfunc
# probes and libbpf tools use them) on functions it redirects by direct
# call.  A function takes one direct caller only, so:
# - loaded after the BPF programs, listenq hooks those functions through
#   ftrace ops instead, which share them: the syn_queue test (mirror and
#   counters against the kernel's) passes while the programs stay attached
#   and keep running;
# - loaded before, listenq keeps the functions and the BPF programs are
#   refused; listenq keeps working and unloads cleanly.
# And a kprobe (tracefs) on them, which ftrace runs from its own trampoline
# before returning into listenq's: both see every call.
# Skipped where the kernel cannot load a fentry program (no BTF).
. "$(dirname "$0")/lib.sh"

# Direct-call targets: two of the live state's and one of the mirror's.
FUNCS="tcp_v4_conn_request tcp_check_req inet_csk_reqsk_queue_hash_add"
PORT=7391
OUT=$(mktemp)
PROC=$(mktemp)
trap 'rm -f "$OUT" "$PROC"' EXIT

ktap_print_header
listenq_unload_quiet
# shellcheck disable=SC2086
"$TEST_DIR/bpf_fentry" $FUNCS -- true > "$OUT" 2>&1
if [ $? -eq "$KSFT_SKIP" ]; then
	sed 's/^/# /' "$OUT"
	ktap_skip_all "no BPF fentry programs on this kernel"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 6
dmesg_mark

# listenq loaded (by syn_queue) while the BPF programs are attached
# shellcheck disable=SC2086
LISTENQ_KO=$LISTENQ_KO "$TEST_DIR/bpf_fentry" $FUNCS -- "$TEST_DIR/syn_queue" > "$OUT" 2>&1
status=$?
grep -E '^(not ok|# (PASSED|FAILED)|bpf_fentry)' "$OUT" | sed 's/^/# /'
ktap_test_result "BPF programs attached first: syn_queue passes" test $status -eq 0
fell_back() {
	dmesg_since_mark | grep -q 'listenq: the TCP receive path: no direct calls' &&
		dmesg_since_mark | grep -q 'listenq: request insertion: no direct calls'
}
ktap_test_result "listenq says it hooked those functions through ftrace ops" fell_back

# overflow_counted P: listenq counted an overflow of port P in the table
# saved to $PROC.
overflow_counted() {
	awk -v want="127.0.0.1:$1" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$col["local"] == want && $col["overflows"] >= 1 { found = 1 }
		END { exit !found }' "$PROC" || { echo "# listenq missed the overflow"; return 1; }
}

# Three handshakes (one overflowing a backlog of 1) while both are there;
# listenq counts the overflow.
both_run() {
	local f status
	listenq_unload_quiet
	# shellcheck disable=SC2086,SC2016
	"$TEST_DIR/bpf_fentry" $FUNCS -- bash -c '
		insmod "$1" || exit 1
		"$2/listen_hold" -c 3 "127.0.0.1:$3:1" -- bash -c "sleep 0.5; cat /proc/listenq > $4"
		status=$?
		rmmod listenq
		exit $status' _ "$LISTENQ_KO" "$TEST_DIR" $PORT "$PROC" > "$OUT" 2>&1
	status=$?
	sed 's/^/# /' "$OUT"
	[ $status -eq 0 ] || return 1
	for f in $FUNCS; do
		grep -qE "^$f runs [1-9]" "$OUT" || return 1
	done
	overflow_counted $PORT
}
ktap_test_result "the BPF programs run next to listenq" both_run

# listenq loaded first
refused() {
	local status
	listenq_unload_quiet
	insmod "$LISTENQ_KO" || return 1
	# shellcheck disable=SC2086
	"$TEST_DIR/bpf_fentry" $FUNCS -- true > "$OUT" 2>&1
	status=$?
	sed 's/^/# /' "$OUT"
	rmmod listenq || return 1
	[ $status -eq 1 ] && grep -q 'cannot attach: Device or resource busy' "$OUT"
}
ktap_test_result "listenq loaded first: the BPF programs are refused (EBUSY)" refused

# kprobes on two direct-call targets while listenq holds them
TRACEFS=/sys/kernel/tracing
kprobes_too() {
	local status hits
	[ -e $TRACEFS/kprobe_events ] || mount -t tracefs nodev $TRACEFS || return 1
	listenq_unload_quiet
	insmod "$LISTENQ_KO" || return 1
	status=1
	if echo 'p:lqcoexist_syn tcp_v4_conn_request' > $TRACEFS/kprobe_events &&
		echo 'p:lqcoexist_ack tcp_check_req' >> $TRACEFS/kprobe_events &&
		echo 1 > $TRACEFS/events/kprobes/enable; then
		"$TEST_DIR/listen_hold" -c 3 "127.0.0.1:$((PORT + 1)):1" -- \
			bash -c "sleep 0.5; cat /proc/listenq > $PROC"
		status=$?
		echo 0 > $TRACEFS/events/kprobes/enable
	fi
	hits=$(awk '{ printf "%s %s ", $1, $2 }' $TRACEFS/kprobe_profile)
	echo "# kprobe hits: $hits"
	echo > $TRACEFS/kprobe_events
	rmmod listenq || return 1
	[ $status -eq 0 ] && overflow_counted $((PORT + 1)) &&
		[[ $hits =~ lqcoexist_syn\ [1-9] ]] && [[ $hits =~ lqcoexist_ack\ [1-9] ]]
}
ktap_test_result "kprobes on direct-call targets run next to listenq" kprobes_too
ktap_test_result "rmmod, dmesg free of warnings" dmesg_clean_since_mark
ktap_finished
