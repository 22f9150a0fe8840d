#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The listenq command against the live module: the table (fill bars, sort
# order, clamp hints), --json, --prometheus, --port, --netns into another
# namespace, and the "module not loaded" error.  A kselftest: runs from the
# installed collection (build/ksft/listenq/), next to lib.sh and listen_hold;
# the tool is the repository's tools/build/listenq (LISTENQ_TOOLS_DIR=
# overrides where tools/ is).
. "$(dirname "$0")/lib.sh"

TOOLS_DIR=${LISTENQ_TOOLS_DIR:-$TEST_DIR/../../../tools}
TOOL="$TOOLS_DIR/build/listenq"
CHECK_PROMETHEUS="$TOOLS_DIR/tests/check_prometheus.sh"
# Ports of this test's listeners: one that fits, one clamped, one filled.
PORT_FITS=47001
PORT_CLAMPED=47002
PORT_FULL=47003
PORT_OTHER_NETNS=47004

ktap_print_header
ktap_set_plan 12
[ -x "$TOOL" ] || ktap_exit_fail_msg "no $TOOL: build it with make tool"
listenq_unload_quiet
dmesg_mark

tmp=$(mktemp -d)
saved_somaxconn=$(sysctl -n net.core.somaxconn)
saved_max_syn=$(sysctl -n net.ipv4.tcp_max_syn_backlog)
cleanup() {
	[ -n "${other_pid:-}" ] && kill "$other_pid" 2>/dev/null
	sysctl -qw net.core.somaxconn="$saved_somaxconn" net.ipv4.tcp_max_syn_backlog="$saved_max_syn"
	listenq_unload_quiet
	rm -rf "$tmp"
}
trap cleanup EXIT

# ktap_test_result splits its command into words: test through functions.
not_loaded_error() {
	"$TOOL" > "$tmp/out" 2> "$tmp/err"
	[ $? -eq 2 ] && grep -q '^listenq: /proc/listenq not found; load the module with' "$tmp/err"
}
ktap_test_result "without the module: 'not found; load the module', exit 2" not_loaded_error

insmod "$LISTENQ_KO"
ktap_test_result "insmod loads listenq" grep -q '^listenq ' /proc/modules

# Listeners of known backlogs, two connections waiting on the backlog-2 one
# (never accepted), and every view of them captured while they exist.
sysctl -qw net.core.somaxconn=1024 net.ipv4.tcp_max_syn_backlog=512
"$TEST_DIR/listen_hold" 127.0.0.1:$PORT_FITS:16 127.0.0.1:$PORT_CLAMPED:8192 \
	127.0.0.1:$PORT_FULL:2 -- bash -c '
	exec 3<>/dev/tcp/127.0.0.1/'$PORT_FULL' 4<>/dev/tcp/127.0.0.1/'$PORT_FULL' || exit 1
	sleep 0.2	# the handshakes complete in softirq
	"$1" > "$2/table" && "$1" --json > "$2/json" && "$1" --prometheus > "$2/prom" &&
		"$1" --port '$PORT_CLAMPED' > "$2/port"' _ "$TOOL" "$tmp"
ktap_test_result "the tool runs against the live module" test $? -eq 0

# The row of port P in the table, and the line under it.
row_of() { grep -A1 -E "^127\.0\.0\.1:$1 " "$tmp/table"; }
table_rows() {
	row_of $PORT_FITS | grep -qE ' 16 +16 +accept 0/16 \[-{10}\] +syn 0/32 ' &&
		row_of $PORT_FULL | grep -qF 'accept 2/2 [##########]'
}
ktap_test_result "table: requested and granted backlog, fill bars" table_rows

full_first() { [ "$(sed -n 3p "$tmp/table" | cut -d' ' -f1)" = "127.0.0.1:$PORT_FULL" ]; }
ktap_test_result "table: the full listener sorts first" full_first

clamp_hint() {
	row_of $PORT_CLAMPED | grep -q ' 8192 \+1024 ' &&
		row_of $PORT_CLAMPED | grep -q 'hint: .*net.core.somaxconn=1024.*all >= 8192 (now 8192, 1024, 512).*sysctl -w net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192' &&
		! row_of $PORT_FITS | grep -q hint:
}
ktap_test_result "table: hint names somaxconn and tcp_max_syn_backlog for the clamped one" clamp_hint

json_rows() {
	jq -e --arg p ":$PORT_CLAMPED" '.[] | select(.local | endswith($p)) |
		.backlog == 8192 and .accept_max == 1024 and .somaxconn == 1024 and
		.max_syn_backlog == 512 and .accept_limit_by == "somaxconn"' "$tmp/json" > /dev/null &&
		jq -e --arg p ":$PORT_FULL" '.[] | select(.local | endswith($p)) | .accept_len == 2' \
			"$tmp/json" > /dev/null
}
ktap_test_result "--json: the live rows, numbers as numbers (jq)" json_rows

prometheus_rows() {
	"$CHECK_PROMETHEUS" < "$tmp/prom" &&
		grep -qE "^listenq_accept_queue_length\{netns=\"[0-9]+\",family=\"inet\",local=\"127\.0\.0\.1:$PORT_FULL\"\} 2$" "$tmp/prom" &&
		grep -qE "^listenq_accept_queue_max\{.*local=\"127\.0\.0\.1:$PORT_CLAMPED\"\} 1024$" "$tmp/prom"
}
ktap_test_result "--prometheus: valid exposition with the live values" prometheus_rows

port_filter() {
	[ "$(grep -c '^127\.0\.0\.1:' "$tmp/port")" -eq 1 ] &&
		grep -q "^127\.0\.0\.1:$PORT_CLAMPED " "$tmp/port"
}
ktap_test_result "--port shows that port only" port_filter

# A listener in a namespace of its own: only --netns into it shows it.
unshare -n "$TEST_DIR/listen_hold" 0.0.0.0:$PORT_OTHER_NETNS:64 -- sleep 60 &
other_pid=$!
other_netns() {
	local i
	for i in $(seq 50); do
		"$TOOL" --netns=/proc/$other_pid/ns/net > "$tmp/other" 2>&1 &&
			grep -q "^0\.0\.0\.0:$PORT_OTHER_NETNS " "$tmp/other" && break
		sleep 0.1
	done
	grep -q "^0\.0\.0\.0:$PORT_OTHER_NETNS " "$tmp/other" &&
		! "$TOOL" | grep -q ":$PORT_OTHER_NETNS "
}
ktap_test_result "--netns=/proc/PID/ns/net shows that namespace's listeners" other_netns
kill "$other_pid"
wait "$other_pid" 2>/dev/null
other_pid=

rmmod listenq
ktap_test_result "after rmmod: 'not found; load the module', exit 2" not_loaded_error

ktap_test_result "dmesg free of warnings" dmesg_clean_since_mark
ktap_finished
