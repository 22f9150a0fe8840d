#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: set up the host, fetch the kernels, build the module for
# each, run the static checks, boot each kernel and run the kselftest suite
# in it, then the runner's own tests. Ends with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

PASS=0
FAIL=0
SKIP=0
N=0
# record NAME STATUS: one host-side result, printed as KTAP.
record() {
	N=$((N + 1))
	if [ "$2" -eq 0 ]; then
		PASS=$((PASS + 1))
		echo "ok $N $1"
	else
		FAIL=$((FAIL + 1))
		echo "not ok $N $1"
	fi
}
# add_counts "P F S": results counted from a KTAP log.
add_counts() {
	local p f s
	read -r p f s <<< "$1"
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	SKIP=$((SKIP + s))
}
# add_ktap_counts LOG: the results of a host-side KTAP script.
add_ktap_counts() {
	add_counts "$(grep -E '^(not )?ok ' "$1" |
		awk '{ if ($1 == "not") f++; else if ($0 ~ /# SKIP/) s++; else p++ } END { print p + 0, f + 0, s + 0 }')"
}
finish() {
	echo "# wall time: $((SECONDS / 60))m$((SECONDS % 60))s"
	echo "$PASS passed, $FAIL failed, $SKIP skipped"
	[ "$FAIL" -eq 0 ]
	exit
}

start=$SECONDS
"$TOP/scripts/setup-host.sh" || { record "host set-up" 1; finish; }
"$TOP/scripts/fetch-kernels.sh" || { record "kernel fetch" 1; finish; }
echo "# set-up and kernel fetch: $((SECONDS - start))s"
mapfile -t RELEASES < <(resolve_kernels)
echo "# kernels: ${RELEASES[*]}"

logs="$BUILD/check"
rm -rf "$logs"
mkdir -p "$logs"

"$TOP/scripts/install-tests.sh" > "$logs/tests-build.log" 2>&1
record "kselftests build" $? || true
[ -s "$BUILD/ksft/kselftest-list.txt" ] || { cat "$logs/tests-build.log"; finish; }

checkpatch="$KSRC/scripts/checkpatch.pl"
perl "$checkpatch" --strict --no-tree --terse -f "$TOP"/src/*.c "$TOP"/include/*.h \
	> "$logs/checkpatch.log" 2>&1
grep -E 'ERROR|WARNING|CHECK' "$logs/checkpatch.log"
! grep -qE 'ERROR|WARNING|CHECK' "$logs/checkpatch.log"
record "checkpatch --strict on src/ and include/" $?

"$TOP/tests/host/tool_tests.sh" > "$logs/tool-tests.log" 2>&1
sed "s/^/# [tools] /" "$logs/tool-tests.log"
add_ktap_counts "$logs/tool-tests.log"

for rel in "${RELEASES[@]}"; do
	# C=2 runs sparse on every file while building with W=1 -Werror.
	"$TOP/scripts/build-module.sh" "$rel" C=2 > "$logs/build-$rel.log" 2>&1
	built=$?
	record "$rel: module builds with W=1, warnings as errors" $built
	grep -E ': (warning|error):' "$logs/build-$rel.log"
	! grep -qE ': (warning|error):' "$logs/build-$rel.log"
	record "$rel: sparse (C=2) clean" $?
	[ $built -eq 0 ] || continue

	echo "# $rel: booting the test VM for the kselftest suite"
	out="$logs/vm-$rel"
	VM_QUIET=1 "$TOP/scripts/vm-run.sh" -o "$out" "$rel" \
		"cd build/ksft && LISTENQ_KO=$BUILD/$rel/listenq.ko ./run_kselftest.sh 2>&1 | cat > \$LISTENQ_OUT/ktap.log"
	vm=$?
	sed "s/^/# [$rel] /" "$out/ktap.log" 2>/dev/null
	add_counts "$(awk -f "$TOP/scripts/ktap-count.awk" "$out/ktap.log" 2>/dev/null || echo 0 1 0)"
	record "$rel: test VM ran the suite with a clean kernel log" $vm
done

# The kernel's own net selftests of listen(), on the stock kernel and with
# listenq loaded in each mode, one VM per kernel (README.md, "The kernel's
# own net selftests").
"$TOP/scripts/kernel-net-tests.sh" build > "$logs/net-build.log" 2>&1
net_built=$?
record "net selftests from linux-source-6.12 build" $net_built
[ $net_built -eq 0 ] || sed "s/^/# [net build] /" "$logs/net-build.log"
for rel in "${RELEASES[@]}"; do
	[ $net_built -eq 0 ] && [ -e "$BUILD/$rel/listenq.ko" ] || continue
	grep -q '\*\*\* .*Error' "$logs/build-$rel.log" && continue
	echo "# $rel: booting the test VM for the kernel's net selftests"
	start=$SECONDS
	"$TOP/scripts/kernel-net-tests.sh" run -o "$logs/net-$rel" "$rel"
	vm=$?
	sed "s/^/# [$rel] /" "$logs/net-$rel/ktap.log" 2>/dev/null
	add_ktap_counts "$logs/net-$rel/ktap.log"
	record "$rel: test VM ran the net selftests with a clean kernel log ($((SECONDS - start))s)" $vm
done

# The runner's own tests, on the first kernel: they test the harness.
"$TOP/tests/host/vm_runner.sh" "${RELEASES[0]}" > "$logs/vm-runner.log" 2>&1
sed "s/^/# [host] /" "$logs/vm-runner.log"
add_ktap_counts "$logs/vm-runner.log"
finish
