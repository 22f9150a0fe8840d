#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Loading and unloading 20 times in a row leaves dmesg free of warnings.
. "$(dirname "$0")/lib.sh"

ROUNDS=20
ktap_print_header
ktap_set_plan 2
listenq_unload_quiet
dmesg_mark

ok=0
for _ in $(seq "$ROUNDS"); do
	insmod "$LISTENQ_KO" || break
	head -c 4096 /proc/listenq > /dev/null || break
	rmmod listenq || break
	ok=$((ok + 1))
done
ktap_test_result "insmod, read, rmmod $ROUNDS times" test "$ok" -eq "$ROUNDS"
ktap_test_result "dmesg free of warnings after $ROUNDS reloads" dmesg_clean_since_mark
ktap_finished
