#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# insmod/rmmod, modinfo fields, and the life of /proc/listenq.
. "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 10
listenq_unload_quiet
dmesg_mark

# ktap_test_result splits its command into words: test through a function.
modinfo_has() { [ -n "$(modinfo -F "$1" "$LISTENQ_KO")" ]; }

for field in license author description version; do
	ktap_test_result "modinfo has $field" modinfo_has "$field"
done
ktap_test_result "modinfo license is GPL" test "$(modinfo -F license "$LISTENQ_KO")" = GPL

insmod "$LISTENQ_KO"
ktap_test_result "insmod loads listenq" grep -q '^listenq ' /proc/modules

mode=$(stat -c %a /proc/listenq 2>/dev/null)
ktap_test_result "/proc/listenq exists with mode 0644" test "$mode" = 644

first=$(head -n 1 /proc/listenq 2>/dev/null)
ktap_test_result "/proc/listenq starts with a header line" \
	test "${first%% *}" = netns

rmmod listenq
ktap_test_result "rmmod removes /proc/listenq" test ! -e /proc/listenq

ktap_test_result "dmesg free of warnings" dmesg_clean_since_mark
ktap_finished
