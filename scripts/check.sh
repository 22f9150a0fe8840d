#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: set up the host, fetch the kernels, build the module for
# each, run the static checks, boot each kernel and run the kselftest suite
# in it, then the runner's own tests. Ends with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

start=$SECONDS
"$TOP/scripts/setup-host.sh" || { record "host set-up" 1; finish; }
"$TOP/scripts/fetch-kernels.sh" || { record "kernel fetch" 1; finish; }
# The PREEMPT_RT flavour of each line (RT_KERNELS= to skip them).
RT_KERNELS=${RT_KERNELS-6.1-rt 6.12-rt}
if [ -n "$RT_KERNELS" ]; then
	KERNELS="$RT_KERNELS" "$TOP/scripts/fetch-kernels.sh" || { record "rt kernel fetch" 1; finish; }
fi
echo "# set-up and kernel fetch: $((SECONDS - start))s"
mapfile -t RELEASES < <(resolve_kernels)
mapfile -t RT_RELEASES < <([ -z "$RT_KERNELS" ] || KERNELS="$RT_KERNELS" resolve_kernels)
echo "# kernels: ${RELEASES[*]} ${RT_RELEASES[*]}"

logs="$BUILD/check"
rm -rf "$logs"
mkdir -p "$logs"

# CHECK_DEBUG=1 (what .ci/run asks): the debug kernel builds meanwhile, at
# nice 19, so it takes only what the lanes leave idle; the debug lane at
# the end waits for it (debug-kernel.sh serialises on a lock).
if [ "${CHECK_DEBUG:-0}" = 1 ]; then
	"$TOP/scripts/debug-kernel.sh" > /dev/null 2> "$logs/debug-kernel.log" &
fi

"$TOP/scripts/install-tests.sh" > "$logs/tests-build.log" 2>&1
record "kselftests build" $? || true
[ -s "$BUILD/ksft/kselftest-list.txt" ] || { cat "$logs/tests-build.log"; finish; }

checkpatch="$KSRC/scripts/checkpatch.pl"
perl "$checkpatch" --strict --no-tree --terse -f "$TOP"/src/*.c "$TOP"/src/*.S "$TOP"/include/*.h \
	"$TOP"/bench/kmod/*.c > "$logs/checkpatch.log" 2>&1
grep -E 'ERROR|WARNING|CHECK' "$logs/checkpatch.log"
! grep -qE 'ERROR|WARNING|CHECK' "$logs/checkpatch.log"
record "checkpatch --strict on src/, include/ and bench/kmod/" $?

"$TOP/tests/host/tool_tests.sh" > "$logs/tool-tests.log" 2>&1
sed "s/^/# [tools] /" "$logs/tool-tests.log"
add_ktap_counts "$logs/tool-tests.log"

# The test VMs run single-threaded TCG (see vm-run.sh): the two kernels'
# lanes run side by side instead, one host thread each.

# What make check runs of the long tests; make check-full runs them whole.
SUITE_ENV=${SUITE_ENV-STRESS_SECONDS=30 STRESS_RELOADS=12 STRESS_FAULT_SECONDS=10}

"$TOP/scripts/kernel-net-tests.sh" build > "$logs/net-build.log" 2>&1
net_built=$?
record "net selftests from linux-source-6.12 build" $net_built
[ $net_built -eq 0 ] || sed "s/^/# [net build] /" "$logs/net-build.log"

# lane_build REL: build for REL with sparse, recorded; fails if it did not build.
lane_build() {
	local rel=$1 built

	# C=2 runs sparse on every file while building with W=1 -Werror.
	"$TOP/scripts/build-module.sh" "$rel" C=2 > "$logs/build-$rel.log" 2>&1
	built=$?
	record "$rel: module builds with W=1, warnings as errors" $built
	grep -E ': (warning|error):' "$logs/build-$rel.log"
	! grep -qE ': (warning|error):' "$logs/build-$rel.log"
	record "$rel: sparse (C=2) clean" $?
	return $built
}

# lane_suite REL WHAT [run_kselftest.sh options]: boot REL and run the
# kselftests (all, or those the options select), recorded under WHAT.
lane_suite() {
	local rel=$1 what=$2 out vm

	shift 2
	echo "# $rel: booting the test VM for $what"
	out="$logs/vm-$rel"
	VM_QUIET=1 VM_TIMEOUT=${VM_TIMEOUT:-2400} "$TOP/scripts/vm-run.sh" -o "$out" "$rel" \
		"cd build/ksft && $SUITE_ENV LISTENQ_KO=$BUILD/$rel/listenq.ko ./run_kselftest.sh $* 2>&1 | cat > \$LISTENQ_OUT/ktap.log"
	vm=$?
	sed "s/^/# [$rel] /" "$out/ktap.log" 2>/dev/null
	add_counts "$(awk -f "$TOP/scripts/ktap-count.awk" "$out/ktap.log" 2>/dev/null || echo 0 1 0)"
	record "$rel: test VM ran $what with a clean kernel log" $vm
}

# lanes_collect REL...: print the lanes' logs and add up their counts.
lanes_collect() {
	local rel

	for rel in "$@"; do
		grep -v '^# counts ' "$logs/lane-$rel.log"
		add_counts "$(sed -n 's/^# counts //p' "$logs/lane-$rel.log" | grep . || echo 0 1 0)"
	done
}

# kernel_lane REL: build, sparse, the kselftest suite, the kernel's net
# selftests in each mode, the benchmark's smoke; for one kernel, in the
# background.  Its results end with a "# counts P F S" line.
kernel_lane() {
	local rel=$1 built vm bench w

	PASS=0 FAIL=0 SKIP=0 N=0
	lane_build "$rel"
	built=$?
	[ $built -ne 0 ] || lane_suite "$rel" "the suite"
	if [ $built -eq 0 ] && [ $net_built -eq 0 ]; then
		# The kernel's own net selftests of listen(): stock, then with
		# listenq in each mode (docs/testing.md, "The kernel's own net selftests").
		echo "# $rel: booting the test VM for the kernel's net selftests"
		"$TOP/scripts/kernel-net-tests.sh" run -o "$logs/net-$rel" "$rel"
		vm=$?
		sed "s/^/# [$rel net] /" "$logs/net-$rel/ktap.log" 2>/dev/null
		add_ktap_counts "$logs/net-$rel/ktap.log"
		record "$rel: test VM ran the net selftests with a clean kernel log" $vm
	fi
	# The benchmark's softirq clock, same flags (bench.sh builds it again
	# without sparse, a no-op).
	"$TOP/scripts/build-module.sh" --bench "$rel" C=2 > "$logs/build-clock-$rel.log" 2>&1
	record "$rel: bench softirq clock builds with W=1, warnings as errors" $?
	grep -E ': (warning|error):' "$logs/build-clock-$rel.log"
	! grep -qE ': (warning|error):' "$logs/build-clock-$rel.log"
	record "$rel: bench softirq clock sparse (C=2) clean" $?
	if [ $built -eq 0 ]; then
		# The benchmark's smoke, one small round so make bench cannot
		# rot; it asserts nothing about speed, only that everything ran.
		KERNELS=$rel BENCH_SMOKE=1 BENCH_OUT="$logs/bench-$rel" "$TOP/scripts/bench.sh" \
			> "$logs/bench-$rel.log" 2>&1
		bench=$?
		sed "s/^/# [bench $rel] /" "$logs/bench-$rel.log" | grep -v '^# \[bench [^]]*\] ==>'
		for w in listen128 listen4096 connect synflood procread_100 ssread_100 mem128; do
			grep -q "^$rel,$w,replace," "$logs/bench-$rel/results.csv" 2>/dev/null || bench=1
		done
		record "$rel: bench smoke (make bench, one small round)" $bench
	fi
	echo "# counts $PASS $FAIL $SKIP"
}

# Built once here, not by both lanes at the same time.
make -s -C "$TOP/bench" > "$logs/bench-build.log" 2>&1
record "bench/lqbench builds" $?

lane_start=$SECONDS
lanes=()
for rel in "${RELEASES[@]}"; do
	kernel_lane "$rel" > "$logs/lane-$rel.log" 2>&1 &
	lanes+=($!)
done
# The runner's own tests, on the first kernel, meanwhile: they test the
# harness (short boots, mostly waiting for a timeout).
"$TOP/tests/host/vm_runner.sh" "${RELEASES[0]}" > "$logs/vm-runner.log" 2>&1 &
lanes+=($!)
wait "${lanes[@]}"
lanes_collect "${RELEASES[@]}"
echo "# kernel lanes (in parallel): $((SECONDS - lane_start))s"

sed "s/^/# [host] /" "$logs/vm-runner.log"
add_ktap_counts "$logs/vm-runner.log"

# rt_lane REL: a PREEMPT_RT kernel: build, sparse, and the tests that
# exercise every hook under load and unload (README, "Supported kernels"),
# with the same settings and clean-log rule as the generic lanes.
RT_TESTS="listenq:module_load.sh listenq:live_counters listenq:syn_flood
	listenq:unload_under_load listenq:stress listenq:memcg listenq:table_cap
	listenq:enomem listenq:module_params.sh"
rt_lane() {
	local rel=$1 t sel=()

	PASS=0 FAIL=0 SKIP=0 N=0
	for t in $RT_TESTS; do
		sel+=(-t "$t")
	done
	# The set takes 9 to 11 minutes (docs/testing.md, "The rt lanes"):
	# a guest still running at 25 is hung, and CI's time is bounded.
	! lane_build "$rel" || VM_TIMEOUT=${RT_VM_TIMEOUT:-1500} lane_suite "$rel" "the rt tests" "${sel[@]}"
	echo "# counts $PASS $FAIL $SKIP"
}

lane_start=$SECONDS
lanes=()
for rel in "${RT_RELEASES[@]}"; do
	rt_lane "$rel" > "$logs/lane-$rel.log" 2>&1 &
	lanes+=($!)
done
[ ${#lanes[@]} -eq 0 ] || wait "${lanes[@]}"
lanes_collect "${RT_RELEASES[@]}"
[ ${#RT_RELEASES[@]} -eq 0 ] || echo "# rt lanes (in parallel): $((SECONDS - lane_start))s"

# The debug-kernel lane (scripts/check-debug.sh) when CHECK_DEBUG=1, as
# .ci/run asks: its results count in the closing line.  The whole suite
# takes about an hour in the debug VM, so CI runs the part below
# (docs/testing.md, "CI"): every program but the long load, reload and scale
# runs (stress, scale, unload_under_load, module_reload.sh,
# module_params.sh, differential.sh, tool_live.sh), about 30 % of the
# suite's time.  CHECK_DEBUG_TESTS= (empty) runs all of it.
DEBUG_CI_TESTS="listenq:proc_file listenq:clamp_matrix listenq:queue_alloc
	listenq:netns listenq:adopt listenq:enomem listenq:memcg listenq:table_cap
	listenq:live_counters
	listenq:syn_queue listenq:syn_flood listenq:failslab listenq:proc_fuzz
	listenq:userns_reader listenq:module_load.sh"
if [ "${CHECK_DEBUG:-0}" = 1 ]; then
	CHECK_DEBUG_TESTS=${CHECK_DEBUG_TESTS-$(echo $DEBUG_CI_TESTS)} \
		"$TOP/scripts/check-debug.sh" 2>&1 | tee "$logs/check-debug.log" | sed -u 's/^/# [debug] /'
	add_counts "$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
		"$logs/check-debug.log" | grep . || echo 0 1 0)"
fi
finish
