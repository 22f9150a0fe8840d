#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test VM (one boot per kernel): run the benchmark's workloads
# round by round; in each round every workload runs once under every
# configuration, back to back:
#   stock      module not loaded
#   replace    insmod listenq.ko mode=replace
#   observe    insmod listenq.ko mode=observe
#   tcpsynbl   module not loaded, bpftrace's tcpsynbl.bt attached
# The configuration is switched per workload, not per round: the samples
# compared are seconds apart, not minutes, so the host's drift (under TCG
# the guest runs as fast as a host core that other guests share) hits
# them alike.  The first configuration rotates with the round and the
# workload, so none is always first after a switch.  A short untimed run
# of the same workload follows every switch: loading the module or
# bpftrace patches kernel text, and TCG translates the patched code anew.
#
# synflood reads softirq time from the benchmark's softirq clock
# (bench/kmod), loaded for that workload only: its probes run in every
# softirq, and the other workloads should not pay for them.
#
# Usage: bench-guest.sh LISTENQ_KO SOFTIRQ_CLOCK_KO
# Environment (set by scripts/bench.sh): BENCH_ROUNDS, BENCH_ITER,
#   BENCH_ITER4096, BENCH_SYNS, BENCH_SCALE, BENCH_MEM_N, BENCH_CONFIGS,
#   BENCH_WORKLOADS.
# Writes $LISTENQ_OUT/raw.txt ("config round workload value" lines) and
# $LISTENQ_OUT/info.txt ("key value" lines).
set -uo pipefail

ko=$1
clock_ko=$2
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
	bpftrace "$bt_tool" > "$bt_log" 2>&1 &
	bt_pid=$!
	for _ in $(seq 1 1200); do
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

# pid_gone PID TENTHS: wait up to TENTHS tenths of a second for PID to exit.
pid_gone() {
	for _ in $(seq 1 "$2"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# bpftrace detaches and exits on SIGINT, but now and then (1 in 5 stops
# here) it sits on in epoll_wait as if the signal had not come; repeated
# signals, then SIGKILL after 10 s, end it (the kernel detaches the probes
# when its descriptors close).  If even that fails, tcpsynbl is dropped for
# the rest of the run.
bt_stop() {
	local t
	[ -n "$bt_pid" ] || return 0
	for t in 1 2 3 4 5 6 7 8 9 10; do
		kill -INT "$bt_pid" 2>/dev/null
		pid_gone "$bt_pid" 10 && break
	done
	if ! pid_gone "$bt_pid" 1; then
		note "bpftrace $bt_pid ignored SIGINT for ${t} s, killed"
		kill -KILL "$bt_pid"
		if ! pid_gone "$bt_pid" 300; then
			note "bpftrace $bt_pid survived SIGKILL; no more tcpsynbl samples"
			ps -eo pid,stat,wchan:32,comm | awk '$2 ~ /D/' | sed 's/^/#   D: /'
			skip_tcpsynbl=1
			bt_pid=
			return 0
		fi
	fi
	wait "$bt_pid" 2>/dev/null
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

# The workloads, in order: "NAME|ARGS...|WARM-UP ARGS..." (no warm-up:
# empty).  BENCH_WORKLOADS="listen128 connect ..." runs only those.
# share N D: N / D, at least 1.
share() { echo $(($1 / $2 > 0 ? $1 / $2 : 1)); }
workloads=(
	"mem128|mem 128 $mem_n|"
	"mem4096|mem 4096 $(share "$mem_n" 8)|"
	"listen128|listen 128 $iter|listen 128 $(share "$iter" 10)"
	"listen4096|listen 4096 $iter4096|listen 4096 $(share "$iter4096" 10)"
	"connect|connect $iter|connect $(share "$iter" 10)"
	"synflood|synflood $syns|synflood $(share "$syns" 10)"
	"scale|scale $scale|"
)
if [ -n "${BENCH_WORKLOADS:-}" ]; then
	picked=()
	for w in "${workloads[@]}"; do
		[[ " $BENCH_WORKLOADS " == *" ${w%%|*} "* ]] && picked+=("$w")
	done
	workloads=("${picked[@]}")
	echo "workloads $BENCH_WORKLOADS" >> "$info"
fi

skip_tcpsynbl=0
n=${#configs[@]}
for r in $(seq 1 "$rounds"); do
	start=$SECONDS
	for j in "${!workloads[@]}"; do
		args=${workloads[$j]#*|}
		warm=${args#*|}
		args=${args%%|*}
		clock=0
		if [ "${workloads[$j]%%|*}" = synflood ]; then
			if ! insmod "$clock_ko"; then
				note "round $r: cannot load the softirq clock $clock_ko"
				fail=1
				continue
			fi
			clock=1
		fi
		for k in $(seq 0 $((n - 1))); do
			cfg=${configs[$(((k + r - 1 + j) % n))]}
			[ "$cfg" = tcpsynbl ] && [ $skip_tcpsynbl = 1 ] && continue
			if ! config_up "$cfg"; then
				if [ "$cfg" = tcpsynbl ]; then
					skip_tcpsynbl=1
					echo "tcpsynbl missing: bpftrace could not attach" >> "$info"
					continue
				fi
				note "round $r: cannot set up $cfg"
				fail=1
				continue
			fi
			# untimed; a failure shows in the timed run
			# shellcheck disable=SC2086
			[ -z "$warm" ] || "$lqb" $warm > /dev/null 2>&1 || :
			# shellcheck disable=SC2086
			run "$cfg" "$r" $args
			config_down "$cfg" || { note "cannot tear down $cfg"; fail=1; }
		done
		[ $clock = 0 ] || rmmod lqb_softirq_clock || { note "cannot unload the softirq clock"; fail=1; }
	done
	note "round $r/$rounds took $((SECONDS - start))s"
done
exit $fail
