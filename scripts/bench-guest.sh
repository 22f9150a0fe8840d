#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test VM (one boot per kernel): run the benchmark's workloads
# round by round, each round through every configuration, interleaved:
#   stock      module not loaded
#   replace    insmod listenq.ko mode=replace
#   observe    insmod listenq.ko mode=observe
#   tcpsynbl   module not loaded, bpftrace's tcpsynbl.bt attached
# The first configuration rotates from round to round, so a drift of the
# machine (other VMs on the host) does not favour one of them.
#
# Usage: bench-guest.sh LISTENQ_KO
# Environment (set by scripts/bench.sh): BENCH_ROUNDS, BENCH_ITER,
#   BENCH_ITER4096, BENCH_SYNS, BENCH_SCALE, BENCH_MEM_N, BENCH_CONFIGS.
# Writes $LISTENQ_OUT/raw.txt ("config round workload value" lines) and
# $LISTENQ_OUT/info.txt ("key value" lines).
set -uo pipefail

ko=$1
out=${LISTENQ_OUT:?}
lqb="$LISTENQ_TOP/build/bench/lqbench"
raw="$out/raw.txt"
info="$out/info.txt"
: > "$raw"
: > "$info"

rounds=${BENCH_ROUNDS:-5}
iter=${BENCH_ITER:-20000}
iter4096=${BENCH_ITER4096:-$iter}
syns=${BENCH_SYNS:-20000}
scale=${BENCH_SCALE:-100 1000 10000 24000}
mem_n=${BENCH_MEM_N:-2000}
read -r -a configs <<< "${BENCH_CONFIGS:-stock replace observe tcpsynbl}"

fail=0
note() { echo "# bench: $*"; }

# One network namespace for the whole run, its own sysctls (set by
# lqbench): a namespace per workload would be torn down by a work item
# while the next workload is timed.
if [ "${BENCH_NETNS:-}" != 1 ]; then
	BENCH_NETNS=1 exec unshare -n bash "$0" "$@"
fi
ip link set lo up

{
	echo "kernel $(uname -r)"
	echo "tcp_sock $(awk '$1 == "TCP" { print $4 }' /proc/slabinfo)"
	echo "cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "ncpu $(nproc)"
	echo "rounds $rounds"
	echo "iter $iter"
	echo "iter4096 $iter4096"
	echo "syns $syns"
	echo "mem_n $mem_n"
} >> "$info"

mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
bt_tool=/usr/sbin/tcpsynbl.bt
bt_pid=
bt_log=/tmp/tcpsynbl.log

# tcpsynbl prints its banner from BEGIN, after every probe is attached.
bt_start() {
	local i
	bpftrace "$bt_tool" > "$bt_log" 2>&1 &
	bt_pid=$!
	for i in $(seq 1 1200); do
		grep -q '^Tracing SYN backlog' "$bt_log" && return 0
		kill -0 "$bt_pid" 2>/dev/null || break
		sleep 0.1
	done
	note "bpftrace tcpsynbl did not attach:"
	sed 's/^/#   /' "$bt_log"
	kill "$bt_pid" 2>/dev/null
	wait "$bt_pid" 2>/dev/null
	bt_pid=
	return 1
}

bt_stop() {
	[ -n "$bt_pid" ] || return 0
	kill -INT "$bt_pid"
	wait "$bt_pid"
	bt_pid=
}

config_up() {
	case $1 in
	stock) ;;
	replace|observe) insmod "$ko" "mode=$1" ;;
	tcpsynbl) command -v bpftrace >/dev/null && [ -e "$bt_tool" ] && bt_start ;;
	esac
}

config_down() {
	case $1 in
	replace|observe) rmmod listenq ;;
	tcpsynbl) bt_stop ;;
	esac
}

# run CONFIG ROUND ARGS...: one lqbench workload, its lines into raw.txt.
run() {
	local cfg=$1 r=$2 line
	shift 2
	if ! line=$("$lqb" "$@"); then
		note "$cfg round $r: lqbench $* failed"
		fail=1
		return
	fi
	printf '%s\n' "$line" | sed "s/^/$cfg $r /" >> "$raw"
}

skip_tcpsynbl=0
for r in $(seq 1 "$rounds"); do
	n=${#configs[@]}
	for k in $(seq 0 $((n - 1))); do
		cfg=${configs[$(((k + r - 1) % n))]}
		[ "$cfg" = tcpsynbl ] && [ $skip_tcpsynbl = 1 ] && continue
		note "round $r/$rounds: $cfg"
		if ! config_up "$cfg"; then
			if [ "$cfg" = tcpsynbl ]; then
				skip_tcpsynbl=1
				echo "tcpsynbl missing: bpftrace could not attach" >> "$info"
				continue
			fi
			note "cannot set up $cfg"
			fail=1
			continue
		fi
		start=$SECONDS
		run "$cfg" "$r" mem 128 "$mem_n"
		run "$cfg" "$r" mem 4096 $((mem_n / 8 > 0 ? mem_n / 8 : 1))
		run "$cfg" "$r" listen 128 "$iter"
		run "$cfg" "$r" listen 4096 "$iter4096"
		run "$cfg" "$r" connect "$iter"
		run "$cfg" "$r" synflood "$syns"
		# shellcheck disable=SC2086
		run "$cfg" "$r" scale $scale
		config_down "$cfg" || { note "cannot tear down $cfg"; fail=1; }
		note "round $r/$rounds: $cfg took $((SECONDS - start))s"
	done
done
exit $fail
