#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Differential test: listen_scenario's transcript (every return value,
# errno, socket option and ss/inet_diag row of a fixed scenario) must be
# byte-identical without listenq, with mode=replace and with mode=observe.
. "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 5
listenq_unload_quiet
dmesg_mark

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# scenario NAME: the transcript into $tmp/NAME.txt, status into $tmp/NAME.rc
scenario() {
	"$TEST_DIR/listen_scenario" > "$tmp/$1.txt" 2> "$tmp/$1.err"
	echo $? > "$tmp/$1.rc"
}

scenario none
ran_clean() { [ "$(cat "$tmp/none.rc")" = 0 ] && [ "$(tail -n 1 "$tmp/none.txt")" = end ]; }
if ! ran_clean; then
	sed 's/^/# /' "$tmp/none.err"
fi
ktap_test_result "scenario runs to its end without listenq" ran_clean
echo "# transcript: $(wc -l < "$tmp/none.txt") lines"

for mode in replace observe; do
	if insmod "$LISTENQ_KO" mode="$mode"; then
		scenario "$mode"
		rmmod listenq
	else
		echo "insmod mode=$mode failed" > "$tmp/$mode.txt"
	fi
	same_as_none() { cmp -s "$tmp/none.txt" "$tmp/$CUR.txt"; }
	CUR=$mode
	if ! same_as_none; then
		echo "# diff without listenq (-) and with mode=$mode (+):"
		diff -u "$tmp/none.txt" "$tmp/$mode.txt" | tail -n +3 | head -n 80 | sed 's/^/# /'
	fi
	ktap_test_result "mode=$mode: transcript identical to no module" same_as_none
done

# A second run without the module: the transcript is deterministic.
scenario again
CUR=again
ktap_test_result "transcript identical on a second run without listenq" same_as_none

ktap_test_result "dmesg free of warnings" dmesg_clean_since_mark
ktap_finished
