#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of the listenq command (tools/) and of the packaging: the tool
# against captured /proc/listenq samples (table, JSON, Prometheus, errors,
# a generated 24,000-row file), --watch in a real terminal through tmux,
# the tool's install target, `make install`/`uninstall` staged under a
# temporary root, and Debian's dkms building the module for each test
# kernel in a throwaway DKMS tree.  Prints KTAP, fails if any test fails.
# Needs gcc, python3, tmux, dkms and the test kernels' headers.
# Usage: tool_tests.sh
set -u
. "$(dirname "$0")/../../scripts/lib.sh"

TOOL="$TOP/tools/build/listenq"
SAMPLES="$TOP/tools/tests/samples"
CHECK_PROMETHEUS="$TOP/tools/tests/check_prometheus.sh"
MODULE_VERSION=$(sed -n 's/^#define LISTENQ_VERSION "\(.*\)"/\1/p' "$TOP/include/listenq.h")
PLAN=38

WORK=$(mktemp -d /tmp/listenq-tool-tests.XXXXXX)
TMUX_SOCKET="listenq-tool-tests-$$"
cleanup() {
	tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

N=0
FAILED=0
result() {	# DESCRIPTION STATUS
	N=$((N + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $N $1"
	else
		echo "not ok $N $1"
		FAILED=$((FAILED + 1))
	fi
}
skip() {	# DESCRIPTION REASON
	N=$((N + 1))
	echo "ok $N $1 # SKIP $2"
}
# check DESCRIPTION COMMAND...: one test; its output is shown only on failure.
check() {
	local desc=$1 rc
	shift
	"$@" > "$WORK/check.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || sed 's/^/# /' "$WORK/check.log" | head -n 30
	result "$desc" $rc
}

# run ARGS...: the tool, output in $WORK/out and $WORK/err, status in $RC.
run() {
	"$TOOL" "$@" > "$WORK/out" 2> "$WORK/err"
	RC=$?
}
expect_status() {	# WANT: say what came out when the status differs
	[ "$RC" -eq "$1" ] && return 0
	echo "exit status $RC, expected $1"
	cat "$WORK/out" "$WORK/err"
	return 1
}
out_has() { grep -qF -- "$1" "$WORK/out" || { echo "output lacks: $1"; cat "$WORK/out"; false; }; }
err_has() { grep -qE -- "$1" "$WORK/err" || { echo "stderr lacks: $1"; cat "$WORK/err"; false; }; }

# python3 CODE ARGS...: JSON checks, with the module's own parser.
json_check() { python3 -c "import json, sys
$1" "${@:2}"; }

# ---- build and version ----

t_build() { make -s -B -C "$TOP/tools"; }
t_version() { run --version && [ "$(cat "$WORK/out")" = "listenq $MODULE_VERSION" ]; }
t_dkms_version() { grep -qx "PACKAGE_VERSION=\"$MODULE_VERSION\"" "$TOP/dkms.conf"; }
t_help() {
	local opt
	run --help && expect_status 0 || return 1
	for opt in --watch --json --prometheus --port --netns --file --help --version; do
		out_has "$opt" || return 1
	done
}

# ---- errors ----

t_unknown_option() {
	run --frobnicate
	expect_status 2 && err_has '^Usage: listenq' && err_has "'--frobnicate'" && [ ! -s "$WORK/out" ]
}
t_bad_values() {
	local args
	for args in "--port" "--port=65536" "--port=http" "--watch=0" "--watch=soon" \
		    "--watch --json" "--json stray-argument"; do
		# shellcheck disable=SC2086 # split on purpose
		run $args
		expect_status 2 || { echo "for: $args"; return 1; }
	done
}
t_module_not_loaded() {
	run
	expect_status 2 &&
		err_has '^listenq: /proc/listenq not found; load the module with .*modprobe listenq'
}
t_missing_file() { run --file "$WORK/none.txt"; expect_status 2 && err_has "none.txt: No such file"; }
t_no_header() { run --file "$SAMPLES/no_header.txt"; expect_status 2 && err_has 'no_header.txt:1: not a /proc/listenq header'; }
t_write_error() {
	"$TOOL" --file "$SAMPLES/counters.txt" > /dev/full 2> "$WORK/err"
	RC=$?
	expect_status 2 && err_has 'writing the output'
}

# ---- the table ----

# The LOCAL column of the table's rows, in order, on one line.
table_order() { awk 'NR > 2 && $1 != "hint:" { printf "%s ", $1 }' "$WORK/out"; }
# The hint printed under the row of LOCAL, or nothing.
hint_of() { awk -v l="$1" 'found { if ($1 == "hint:") print; exit } $1 == l { found = 1 }' "$WORK/out"; }

t_table_golden() {
	run --file "$SAMPLES/counters.txt"
	expect_status 0 && diff -u "$SAMPLES/counters.table" "$WORK/out"
}
t_table_order() {
	local want="0.0.0.0:443 0.0.0.0:9000 127.0.0.1:8080 10.0.0.1:80 0.0.0.0:9000 0.0.0.0:22 [::]:443 127.0.0.1:6379 127.0.0.1:5432 "
	run --file "$SAMPLES/counters.txt"
	[ "$(table_order)" = "$want" ] || { echo "order: $(table_order)"; false; }
}
t_table_bars() {
	run --file "$SAMPLES/counters.txt"
	out_has "accept 96/128 [########--]" && out_has "accept 1025/1024 [##########]" &&
		out_has "syn 700/1024 [#######---]" && out_has "accept 1/128 [#---------]" &&
		out_has "accept 0/511 [----------]" &&
		grep -qE '^0\.0\.0\.0:443 +4096 +1024 ' "$WORK/out"
}
t_table_hints() {
	run --file "$SAMPLES/counters.txt"
	hint_of 0.0.0.0:443 | grep -q "net.core.somaxconn=1024.*backlog, somaxconn and tcp_max_syn_backlog all >= 4096 (now 4096, 1024, 1000).*sysctl -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096" &&
		hint_of 10.0.0.1:80 | grep -q "sysctl -w net.ipv4.tcp_max_syn_backlog=1024," &&
		! hint_of 10.0.0.1:80 | grep -q "accept queue" &&
		hint_of 127.0.0.1:6379 | grep -q "backlog -1 takes the limit" &&
		[ -z "$(hint_of 127.0.0.1:8080)$(hint_of 127.0.0.1:5432)$(hint_of 0.0.0.0:22)$(hint_of '[::]:443')" ] &&
		out_has "9 listeners in netns 4026531840, 2 dropping, 5 clamped by a sysctl"
}
t_table_old_format() {
	run --file "$SAMPLES/demo.txt"
	expect_status 0 && out_has "4 listeners in netns 4026531840, 1 clamped by a sysctl" &&
		! grep -q DROPS "$WORK/out" &&
		hint_of 127.0.0.1:8002 | grep -q "sysctl -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096"
}
t_columns_by_name() {
	run --file "$SAMPLES/future.txt"
	expect_status 0 && grep -qE '^127\.0\.0\.1:8001 +16 +8 +accept 8/8 \[##########\] +syn 0/16 .* 4$' "$WORK/out" &&
		hint_of 127.0.0.1:8001 | grep -q "sysctl -w net.core.somaxconn=16,"
}
t_malformed() {
	run --file "$SAMPLES/malformed.txt"
	expect_status 1 && err_has 'malformed.txt:3: malformed line: 17 fields, the header names 27' &&
		err_has "malformed.txt:4: malformed line: accept_len is 'lots'" &&
		err_has 'malformed.txt:5: malformed line: 28 fields' &&
		err_has 'malformed.txt:6: malformed line: empty' &&
		[ "$(table_order)" = "127.0.0.1:8080 127.0.0.1:8084 " ]
}
t_filters() {
	run --file "$SAMPLES/counters.txt" --port 9000
	[ "$(table_order)" = "0.0.0.0:9000 0.0.0.0:9000 " ] || return 1
	run --file "$SAMPLES/multi_netns.txt" --netns=4026532300
	[ "$(table_order)" = "0.0.0.0:80 0.0.0.0:8443 " ] || return 1
	run --file "$SAMPLES/multi_netns.txt" --port=80
	out_has "NETNS       LOCAL" && grep -qE '^4026532300 +0\.0\.0\.0:80 +8192 +4096 ' "$WORK/out"
}
t_stdin() { "$TOOL" --json --file - < "$SAMPLES/counters.txt" | json_check 'assert len(json.load(sys.stdin)) == 9'; }

# ---- JSON ----

# Every row of SAMPLE back from --json: every header column, numbers as numbers.
JSON_ROUNDTRIP='
header = open(sys.argv[1]).readline().split()
rows = json.load(open(sys.argv[2]))
assert len(rows) == int(sys.argv[3]), len(rows)
for row in rows:
    assert list(row) == header, row
    for key, value in row.items():
        text = str(value)
        assert isinstance(value, int) == text.lstrip("-").isdigit(), (key, value)
'
t_json_counters() {
	run --json --file "$SAMPLES/counters.txt"
	expect_status 0 && json_check "$JSON_ROUNDTRIP" "$SAMPLES/counters.txt" "$WORK/out" 9 &&
		json_check 'r = json.load(open(sys.argv[1]))[1]
assert r["local"] == "0.0.0.0:443" and r["overflows"] == 3120 and r["syn_limit_by"] == "max_syn_backlog"' "$WORK/out"
}
t_json_malformed() {
	run --json --file "$SAMPLES/malformed.txt"
	expect_status 1 && json_check "$JSON_ROUNDTRIP" "$SAMPLES/malformed.txt" "$WORK/out" 2
}
t_json_unknown_columns() {
	run --json --file "$SAMPLES/future.txt"
	expect_status 0 && json_check "$JSON_ROUNDTRIP" "$SAMPLES/future.txt" "$WORK/out" 2 &&
		json_check 'r = json.load(open(sys.argv[1]))
assert r[0]["rtt_us"] == 250 and r[1]["rtt_us"] == "\"quoted\\", r' "$WORK/out"
}
t_json_empty() {
	run --json --file "$SAMPLES/header_only.txt"
	expect_status 0 && python3 -m json.tool "$WORK/out" > /dev/null && [ "$(tr -d '\n' < "$WORK/out")" = "[]" ]
}

# ---- Prometheus ----

LABELS_9000='{netns="4026531840",family="inet",local="0.0.0.0:9000"}'
t_prometheus_grammar() {
	run --prometheus --file "$SAMPLES/counters.txt"
	expect_status 0 && "$CHECK_PROMETHEUS" < "$WORK/out"
}
t_prometheus_metrics() {
	local m
	run --prometheus --file "$SAMPLES/counters.txt"
	for m in listenq_accept_queue_length listenq_accept_queue_max listenq_syn_queue_length \
		 listenq_drops_total listenq_accept_queue_overflows_total; do
		grep -q "^# HELP $m " "$WORK/out" || { echo "no HELP for $m"; return 1; }
		[ "$(grep -c "^$m{netns=\"[0-9]*\",family=\"inet6\?\",local=\"[^\"]*\"} [0-9]*$" "$WORK/out")" -eq 8 ] ||
			{ echo "not 8 series of $m"; return 1; }
	done
	grep -q '^# TYPE listenq_drops_total counter$' "$WORK/out" &&
		grep -q '^# TYPE listenq_accept_queue_length gauge$' "$WORK/out"
}
t_prometheus_reuseport() {
	run --prometheus --file "$SAMPLES/counters.txt"
	out_has "listenq_accept_queue_length$LABELS_9000 30" &&
		out_has "listenq_accept_queue_peak$LABELS_9000 70" &&
		out_has "listenq_drops_total$LABELS_9000 1"
}
t_prometheus_old_format() {
	run --prometheus --file "$SAMPLES/demo.txt"
	expect_status 0 && "$CHECK_PROMETHEUS" < "$WORK/out" && ! grep -q _total "$WORK/out" &&
		out_has 'listenq_accept_queue_max{netns="4026531840",family="inet6",local="[::1]:8003"} 0'
}
t_prometheus_checker() {
	# The checker itself must reject what the format forbids.
	! printf '# TYPE a counter\na 1\n' | "$CHECK_PROMETHEUS" &&
		! printf '# TYPE a_total counter\na_total{x="1"} 1\na_total{x="1"} 2\n' | "$CHECK_PROMETHEUS" &&
		! printf 'a 1\n' | "$CHECK_PROMETHEUS" &&
		! printf '# TYPE a gauge\na{x="1} 1\n' | "$CHECK_PROMETHEUS"
}

# ---- 24,000 rows ----

t_big_file() {
	local big="$WORK/big.txt" start=$SECONDS
	head -n 1 "$SAMPLES/counters.txt" > "$big"
	# Distinct addresses, every fifth listener dropping, fills spread.
	awk 'BEGIN { for (i = 0; i < 24000; i++)
		printf "4026531840 inet 10.%d.%d.%d:%d listen 128 4096 1024 128 backlog %d %d 256 backlog 8 kzalloc 2128 0 %d %d 0 %d %d 0 0 0 0 0\n",
			int(i / 65536), int(i / 256) % 256, i % 256, 1024 + i % 60000,
			i % 129, i % 7, 100000 + i, i % 129, 0, (i % 5 == 0) }' >> "$big"
	run --file "$big"
	expect_status 0 && out_has "24000 listeners in netns 4026531840, 4800 dropping" &&
		[ "$(table_order | wc -w)" -eq 24000 ] || return 1
	run --json --file "$big"
	json_check "$JSON_ROUNDTRIP" "$big" "$WORK/out" 24000 || return 1
	run --prometheus --file "$big"
	"$CHECK_PROMETHEUS" < "$WORK/out" &&
		[ "$(grep -c '^listenq_accept_queue_length{' "$WORK/out")" -eq 24000 ] &&
		[ $((SECONDS - start)) -lt 20 ]
}

# ---- --watch in a terminal ----

tmux_() { tmux -L "$TMUX_SOCKET" -f /dev/null "$@"; }
# until the pane shows TEXT (5 s)
wait_pane() {
	local i
	for i in $(seq 50); do
		tmux_ capture-pane -p -t lq | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	echo "pane never showed: $1"
	tmux_ capture-pane -p -t lq
	return 1
}
# until tmux FORMAT expands to VALUE (5 s)
wait_format() {
	local i
	for i in $(seq 50); do
		[ "$(tmux_ display -p -t lq "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "$1 is $(tmux_ display -p -t lq "$1"), expected $2"
	return 1
}
# A shell in a 150x30 terminal, with its tty settings saved in $WORK/stty.before.
watch_session() {
	tmux_ kill-session -t lq 2>/dev/null
	tmux_ new-session -d -s lq -x 150 -y 30 "bash --norc --noprofile" &&
		tmux_ send-keys -t lq "stty -g > $WORK/stty.before; echo before-watch" Enter &&
		wait_pane before-watch
}
# The shell is back with the terminal as it was before --watch.
watch_ended() {
	wait_format '#{pane_current_command}' bash &&
		wait_format '#{alternate_on}' 0 && wait_format '#{cursor_flag}' 1 &&
		tmux_ send-keys -t lq "stty -g > $WORK/stty.after; echo after-watch" Enter &&
		wait_pane after-watch && cmp "$WORK/stty.before" "$WORK/stty.after" &&
		tmux_ capture-pane -p -t lq | grep -q before-watch
}

t_watch_redraws() {
	cp "$SAMPLES/counters.txt" "$WORK/live.txt"
	watch_session &&
		tmux_ send-keys -t lq "$TOOL --watch=0.2 --file $WORK/live.txt" Enter &&
		wait_pane "accept 96/128 [########--]" &&
		wait_format '#{alternate_on}' 1 && wait_format '#{cursor_flag}' 0 || return 1
	sed -i 's/^\(4026531840 inet 127.0.0.1:8080 listen 128 1024 1000 128 backlog\) 96 /\1 12 /' "$WORK/live.txt"
	wait_pane "accept 12/128 [#---------]" &&
		[ "$(tmux_ capture-pane -p -t lq | grep -c '^127.0.0.1:8080 ')" -eq 1 ]
}
t_watch_ctrl_c() { tmux_ send-keys -t lq C-c && watch_ended; }
t_watch_q() {
	watch_session &&
		tmux_ send-keys -t lq "$TOOL --watch --file $SAMPLES/counters.txt" Enter &&
		wait_pane "9 listeners" && tmux_ send-keys -t lq q && watch_ended
}
t_watch_not_a_tty() {
	timeout --preserve-status -s INT 1.5 "$TOOL" --watch=0.4 --file "$SAMPLES/demo.txt" > "$WORK/out" 2>&1
	[ $? -eq 0 ] && [ "$(grep -c '^4 listeners' "$WORK/out")" -ge 2 ] && ! grep -q $'\033' "$WORK/out"
}

# ---- installation ----

t_tool_install() {
	local stage="$WORK/tool-stage"
	make -s -C "$TOP/tools" install DESTDIR="$stage" PREFIX=/usr &&
		[ -x "$stage/usr/sbin/listenq" ] &&
		make -s -C "$TOP/tools" uninstall DESTDIR="$stage" PREFIX=/usr &&
		[ ! -e "$stage/usr/sbin/listenq" ]
}
# The top-level targets, for a test kernel, staged under a temporary root.
t_make_install() {
	local rel=$1 root="$WORK/root" modules
	make -s -C "$TOP" install KVER="$rel" DESTDIR="$root" PREFIX=/usr || return 1
	modules="$root/lib/modules/$rel"
	ls "$modules"/updates/listenq.ko* && grep -q 'updates/listenq.ko' "$modules/modules.dep" &&
		[ -x "$root/usr/sbin/listenq" ] || return 1
	make -s -C "$TOP" uninstall KVER="$rel" DESTDIR="$root" PREFIX=/usr &&
		! ls "$modules"/updates/listenq.ko* 2>/dev/null && ! grep -q listenq "$modules/modules.dep" &&
		[ ! -e "$root/usr/sbin/listenq" ]
}

# dkms add and build in a throwaway tree, with a throwaway signing key:
# nothing under /var/lib/dkms or /usr/src.
t_dkms_build() {
	local rel=$1 dkms="$WORK/dkms-$1" src
	src="$dkms/source/listenq-$MODULE_VERSION"
	mkdir -p "$src" "$dkms/tree" &&
		cp -r "$TOP/Kbuild" "$TOP/dkms.conf" "$TOP/src" "$TOP/include" "$src/" || return 1
	export mok_signing_key="$dkms/mok.key" mok_certificate="$dkms/mok.pub"
	set -- -m listenq -v "$MODULE_VERSION" --sourcetree "$dkms/source" --dkmstree "$dkms/tree"
	dkms add "$@" &&
		dkms build "$@" -k "$rel" --kernelsourcedir "$(headers_dir "$rel")" &&
		ls "$dkms/tree/listenq/$MODULE_VERSION/$rel/"*/module/listenq.ko* &&
		modinfo -F vermagic "$dkms/tree/listenq/$MODULE_VERSION/$rel/"*/module/listenq.ko* | grep -q "^$rel "
}

echo "TAP version 13"
echo "1..$PLAN"

check "tool builds with -Wall -Wextra -Werror" t_build
[ -x "$TOOL" ] || { echo "Bail out! the tool did not build"; exit 1; }
check "--version prints the module's version ($MODULE_VERSION)" t_version
check "dkms.conf PACKAGE_VERSION is the module's version" t_dkms_version
check "--help exits 0 and names every option" t_help
check "unknown option: usage on stderr, exit 2" t_unknown_option
check "bad option values and combinations exit 2" t_bad_values
if [ -e /proc/listenq ]; then
	skip "module not loaded: message and exit 2" "/proc/listenq exists on this host"
else
	check "module not loaded: message and exit 2" t_module_not_loaded
fi
check "--file of a missing file: exit 2 naming it" t_missing_file
check "a file without the header line: exit 2 naming line 1" t_no_header
check "a failed write of the output: exit 2" t_write_error
check "table of the counters sample matches counters.table" t_table_golden
check "table sorted by trouble: drops first, then fill" t_table_order
check "table shows queue fill as bars, requested backlog next to granted" t_table_bars
check "table hints name the clamping sysctls and the values that lift them" t_table_hints
check "table of the current (no counters) format" t_table_old_format
check "columns parsed by header name: reordered and unknown ones" t_columns_by_name
check "malformed lines named on stderr, exit 1, other rows shown" t_malformed
check "--port and --netns filters; NETNS column with several namespaces" t_filters
check "--file - reads stdin" t_stdin
check "--json: every column, numbers as numbers (python json)" t_json_counters
check "--json of a file with malformed lines is valid" t_json_malformed
check "--json carries unknown columns, strings escaped" t_json_unknown_columns
check "--json of a file without listeners is []" t_json_empty
check "--prometheus lines match the exposition grammar" t_prometheus_grammar
check "--prometheus: HELP, TYPE, one series per listener with netns/family/local" t_prometheus_metrics
check "--prometheus: an SO_REUSEPORT group is one series (sum, peak max)" t_prometheus_reuseport
check "--prometheus of the current format: no counters, valid" t_prometheus_old_format
check "the exposition checker rejects invalid input" t_prometheus_checker
check "24,000 rows: table, JSON and Prometheus complete and valid, quick" t_big_file
check "--watch draws in place on a terminal and redraws" t_watch_redraws
check "--watch: Ctrl-C exits and restores the terminal" t_watch_ctrl_c
check "--watch: q exits and restores the terminal" t_watch_q
check "--watch without a terminal prints frames until SIGINT" t_watch_not_a_tty
check "tools: make install / uninstall with DESTDIR" t_tool_install

mapfile -t RELEASES < <(resolve_kernels)
for rel in "${RELEASES[@]}"; do
	if ! grep -q '^install:' "$TOP/Makefile"; then
		skip "$rel: make install / uninstall, staged" "no install target in the top Makefile"
	elif [ ! -e "$(headers_dir "$rel")/Makefile" ]; then
		skip "$rel: make install / uninstall, staged" "no headers for $rel"
	else
		check "$rel: make install / uninstall, staged" t_make_install "$rel"
	fi
done
for rel in "${RELEASES[@]}"; do
	if [ ! -e "$(headers_dir "$rel")/Makefile" ]; then
		skip "$rel: dkms add + build in a throwaway tree" "no headers for $rel"
	else
		check "$rel: dkms add + build in a throwaway tree" t_dkms_build "$rel"
	fi
done

[ "$N" -eq "$PLAN" ] || { echo "# ran $N tests, the plan says $PLAN"; FAILED=$((FAILED + 1)); }
echo "# $((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
