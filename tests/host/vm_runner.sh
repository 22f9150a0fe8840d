#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of the test VM runner itself (host side): the guest's exit status
# comes back, a panic fails the run, a kernel warning fails the run, and a
# hung guest is killed at the timeout.
# Usage: vm_runner.sh RELEASE
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/build/linux-source/tools/testing/selftests/kselftest/ktap_helpers.sh"
rel=$1
run() { VM_QUIET=1 "$TOP/scripts/vm-run.sh" "$@" > /dev/null 2>&1; }

ktap_print_header
ktap_set_plan 5

run "$rel" 'exit 0'
ktap_test_result "$rel: a guest command exiting 0 passes" test $? -eq 0

run "$rel" 'exit 3'
ktap_test_result "$rel: a guest command exiting 3 fails the run with 3" test $? -eq 3

start=$SECONDS
run -t 120 "$rel" 'echo c > /proc/sysrq-trigger; sleep 100; exit 0'
rc=$?
ktap_test_result "$rel: a guest panic fails the run at once" \
	test $rc -ne 0 -a $rc -ne 124 -a $((SECONDS - start)) -lt 100

run "$rel" 'echo "WARNING: CPU: 0 PID: 1 at listenq-runner-selftest" > /dev/kmsg; exit 0'
ktap_test_result "$rel: a kernel warning fails a passing command" test $? -ne 0

start=$SECONDS
run -t 25 "$rel" 'sleep 1000; exit 0'
rc=$?
ktap_test_result "$rel: a hung guest is killed at the timeout" \
	test $rc -eq 124 -a $((SECONDS - start)) -lt 60
ktap_finished
