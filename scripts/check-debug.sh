#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check-debug`: build (or reuse) the debug kernel of
# scripts/debug-kernel.sh (KASAN, kmemleak, lockdep, fault injection...),
# build listenq against it, boot it and run the kselftest suite, then a
# kmemleak scan that must find nothing. Any KASAN, lockdep or kmemleak
# report fails the run. Ends with "N passed, N failed".
#
# CHECK_DEBUG_TESTS="listenq:enomem listenq:failslab ..." runs only those
# tests (what .ci/run does, see docs/testing.md, "CI"); empty: the whole suite.
# VM_TIMEOUT (default 5400 s) bounds the guest, CHECK_DEBUG_TEST_TIMEOUT
# (default 2700 s) each test program; DEBUG_SUITE_ENV the suite's sizes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/setup-host.sh" || { record "host set-up" 1; finish; }

logs="$BUILD/check-debug"
rm -rf "$logs"
mkdir -p "$logs"

rel=$("$TOP/scripts/debug-kernel.sh" 2> "$logs/kernel.log")
built=$?
sed 's/^/# /' "$logs/kernel.log"
record "debug kernel builds (linux-source-6.12, scripts/debug-kernel.config)" $built
[ $built -eq 0 ] || finish
read -r wall cpu jobs < "$BUILD/debug-kernel/root/.build-seconds"
echo "# debug kernel $rel$(grep -q '^==> building' "$logs/kernel.log" || echo ", cached"):" \
	"build took $((wall / 60))m$((wall % 60))s with ${jobs:-?} jobs, CPU $((${cpu:-0} / 60))m$((${cpu:-0} % 60))s"

"$TOP/scripts/install-tests.sh" > "$logs/tests-build.log" 2>&1
record "kselftests build" $? || true
[ -s "$BUILD/ksft/kselftest-list.txt" ] || { cat "$logs/tests-build.log"; finish; }

KDIR="$BUILD/debug-kernel/obj" "$TOP/scripts/build-module.sh" "$rel" > "$logs/build.log" 2>&1
built=$?
grep -E ': (warning|error):' "$logs/build.log"
record "$rel: module builds with W=1, warnings as errors" $built
[ $built -eq 0 ] || finish

# KASAN and lockdep make every packet and every module load several times
# dearer under TCG: the floods are smaller here (they still overflow the
# queues they test) and the stress waits longer for its 50 reloads.
DEBUG_SUITE_ENV=${DEBUG_SUITE_ENV-FLOOD_SYNS=3000 FLOOD_RMMOD_SYNS=12000 STRESS_MAX_SECONDS=1200}

# Each test program gets 45 minutes instead of tests/settings' 10: KASAN
# and lockdep make the slowest ones several times slower (stress: 50
# reloads at about 15 s each).
runner_args=(-o "${CHECK_DEBUG_TEST_TIMEOUT:-2700}")
for t in ${CHECK_DEBUG_TESTS:-}; do
	runner_args+=(-t "$t")
done
echo "# $rel: booting the debug VM for ${CHECK_DEBUG_TESTS:-the whole kselftest suite}"
# kmemleak: boot-time objects are marked as seen before the suite (scan,
# clear); after it, objects must be 5 s old to be reported, and a leak
# shows after two scans. Its report goes to kmemleak.txt.
guest=$(cat <<EOF
mount -t debugfs debugfs /sys/kernel/debug
kml=/sys/kernel/debug/kmemleak
echo scan > \$kml && echo clear > \$kml || echo "kmemleak is not running" > \$LISTENQ_OUT/kmemleak.txt
cd build/ksft && $DEBUG_SUITE_ENV LISTENQ_KO=$BUILD/$rel/listenq.ko ./run_kselftest.sh ${runner_args[*]} 2>&1 |
	while IFS= read -r l; do printf '%(%s)T %s\n' -1 "\$l"; done > \$LISTENQ_OUT/ktap-times.log
sleep 6
echo scan > \$kml && sleep 1 && echo scan > \$kml && cat \$kml >> \$LISTENQ_OUT/kmemleak.txt ||
	echo "kmemleak scan failed" >> \$LISTENQ_OUT/kmemleak.txt
EOF
)
out="$logs/vm"
start=$SECONDS
# KASAN and lockdep under TCG on a busy host: a vCPU can be off the host
# CPU for long, so RCU's stall warning waits 2 minutes instead of 21 s.
VM_MEM=${VM_MEM:-3G} VM_TIMEOUT=${VM_TIMEOUT:-5400} VM_QUIET=1 \
	VM_APPEND="rcupdate.rcu_cpu_stall_timeout=120 ${VM_APPEND:-}" \
	"$TOP/scripts/vm-run.sh" -o "$out" "$rel" "$guest"
vm=$?
took=$((SECONDS - start))
sed 's/^[0-9]* //' "$out/ktap-times.log" > "$out/ktap.log" 2>/dev/null
sed "s/^/# [$rel] /" "$out/ktap.log" 2>/dev/null
echo "# $rel: the suite took $((took / 60))m$((took % 60))s in the debug VM"
# Seconds per test program (its result line's time minus the previous one's).
awk '/^[0-9]+ (not )?ok [0-9]+ selftests: / { sub(/ # .*/, "")
	if (prev) printf "# %s: %ds\n", $NF, $1 - prev; prev = $1; next }
	!prev && /^[0-9]+ / { prev = $1 }' "$out/ktap-times.log" 2>/dev/null | sed "s/^# /# [$rel] took /"
add_counts "$(awk -f "$TOP/scripts/ktap-count.awk" "$out/ktap.log" 2>/dev/null || echo 0 1 0)"
sed "s/^/# [kmemleak] /" "$out/kmemleak.txt" 2>/dev/null
[ -e "$out/kmemleak.txt" ] && [ ! -s "$out/kmemleak.txt" ]
record "$rel: kmemleak finds nothing after the suite" $?
record "$rel: debug VM ran the suite with a clean kernel log (KASAN, lockdep, ...)" $vm
finish
