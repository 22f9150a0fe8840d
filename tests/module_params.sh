#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module parameters as hostile input: every invalid value fails insmod with
# a line in dmesg naming the parameter, valid ones load, runtime writes
# through /sys/module are checked the same way, read-only ones refuse.
. "$(dirname "$0")/lib.sh"

P=/sys/module/listenq/parameters

# value → the line listenq must log when insmod gets it
BAD_MODES=(bogus REPLACE replace2 observe, "" 1)
BAD_INJECT=(-1 -2147483648 1000001 4294967295 4294967296 99999999999999999999
	abc 1.5 12abc 7,8 "")
GOOD_INJECT=(0 1 100 0x10 1000000)
BAD_TABLE_BYTES=(0 4095 1073741825 4294967296 -4096 1M abc "")
GOOD_TABLE_BYTES=(4096 65536 1048576 1073741824)

ktap_print_header
ktap_set_plan $(( ${#BAD_MODES[@]} + ${#BAD_INJECT[@]} + ${#GOOD_INJECT[@]} + 2 + 1 +
	${#BAD_INJECT[@]} - 1 + 5 + 4 + 1 +
	${#BAD_TABLE_BYTES[@]} + ${#GOOD_TABLE_BYTES[@]} + 4 ))
listenq_unload_quiet
dmesg_mark

# ktap_test_result word-splits its command; values here may be empty.
check() {
	local description=$1
	shift
	if "$@"; then
		ktap_test_pass "$description"
	else
		ktap_test_fail "$description"
	fi
}

# insmod must fail, leave no module, and log @2 (a fixed string).
insmod_fails_with() {
	local param=$1 line=$2 mark
	mark="listenq-params-$RANDOM$RANDOM"
	echo "$mark" > /dev/kmsg
	if insmod "$LISTENQ_KO" "$param" 2>/dev/null; then
		rmmod listenq
		echo "# insmod accepted '$param'"
		return 1
	fi
	if grep -q '^listenq ' /proc/modules; then
		echo "# listenq loaded after a failed insmod"
		return 1
	fi
	if ! dmesg | sed -n "/$mark/,\$p" | grep -qF -- "$line"; then
		echo "# no dmesg line '$line' for '$param'; got:"
		dmesg | sed -n "/$mark/,\$p" | tail -n +2 | sed 's/^/#   /'
		return 1
	fi
}

insmod_loads() {
	local param=$1 want=$2 got
	insmod "$LISTENQ_KO" "$param" || return 1
	got=$(cat "$P/${param%%=*}")
	rmmod listenq || return 1
	[ "$got" = "$want" ] || { echo "# $param shows '$got', want '$want'"; return 1; }
}

for v in "${BAD_MODES[@]}"; do
	check "insmod mode='$v' fails" \
		insmod_fails_with "mode=$v" "listenq: mode=$v: must be replace or observe"
done
for v in "${BAD_INJECT[@]}"; do
	check "insmod inject_alloc_fail='$v' fails" \
		insmod_fails_with "inject_alloc_fail=$v" \
		"listenq: inject_alloc_fail=$v: must be an integer from 0 to 1000000"
done
for v in "${GOOD_INJECT[@]}"; do
	check "insmod inject_alloc_fail=$v loads" \
		insmod_loads "inject_alloc_fail=$v" "$((v))"
done
for v in "${BAD_TABLE_BYTES[@]}"; do
	check "insmod max_table_bytes='$v' fails" \
		insmod_fails_with "max_table_bytes=$v" \
		"listenq: max_table_bytes=$v: must be an integer from 4096 to 1073741824"
done
for v in "${GOOD_TABLE_BYTES[@]}"; do
	check "insmod max_table_bytes=$v loads" \
		insmod_loads "max_table_bytes=$v" "$v"
done
check "insmod mode=replace loads" insmod_loads mode=replace replace
check "insmod mode=observe loads" insmod_loads mode=observe observe

# A parameter given without a value is refused by the kernel itself.
check "insmod mode (no value) fails" \
	insmod_fails_with mode "listenq: \`' invalid for parameter \`mode'"

# ---- runtime writes ------------------------------------------------------
insmod "$LISTENQ_KO" inject_alloc_fail=7 || ktap_exit_fail_msg "insmod failed"

# A write through sysfs, in a subshell so that a failed write is a status.
sysfs_write() { (printf '%s' "$2" > "$P/$1") 2>/dev/null; }

runtime_bad_inject() {
	local v=$1 mark before
	mark="listenq-params-$RANDOM$RANDOM"
	echo "$mark" > /dev/kmsg
	before=$(cat $P/inject_alloc_fail)
	if sysfs_write inject_alloc_fail "$v"; then
		echo "# write '$v' accepted"
		return 1
	fi
	[ "$(cat $P/inject_alloc_fail)" = "$before" ] || { echo "# value changed"; return 1; }
	dmesg | sed -n "/$mark/,\$p" |
		grep -qF -- "listenq: inject_alloc_fail=$v: must be an integer from 0 to 1000000"
}
# (an empty write never reaches the module: not tried)
for v in "${BAD_INJECT[@]}"; do
	[ -n "$v" ] || continue
	check "write inject_alloc_fail='$v' refused" runtime_bad_inject "$v"
done

runtime_good_inject() {
	sysfs_write inject_alloc_fail "$1" && [ "$(cat $P/inject_alloc_fail)" = "$2" ]
}
check "write inject_alloc_fail=250 taken" runtime_good_inject 250 250
check "write inject_alloc_fail=1000000 with newline taken" \
	runtime_good_inject $'1000000\n' 1000000
check "write inject_alloc_fail=' 42' refused" runtime_bad_inject ' 42'
check "write inject_alloc_fail=0 taken" runtime_good_inject 0 0

# Unprivileged: the parameter is 0600, nobody cannot write it.
unpriv_write_refused() {
	! setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -c "printf 5 > $P/inject_alloc_fail" 2>/dev/null &&
		[ "$(cat $P/inject_alloc_fail)" = 0 ]
}
check "nobody cannot write inject_alloc_fail" unpriv_write_refused

# Read-only parameters refuse writes, even from root.
readonly_refuses() {
	local name=$1 v=$2 before
	before=$(cat "$P/$name")
	if sysfs_write "$name" "$v"; then
		echo "# write to $name accepted"
		return 1
	fi
	[ "$(cat "$P/$name")" = "$before" ]
}
check "mode is read-only at runtime" readonly_refuses mode observe
check "mode is read-only to garbage too" readonly_refuses mode bogus
check "live_tables is read-only" readonly_refuses live_tables 0
check "untracked is read-only" readonly_refuses untracked 0

# max_table_bytes: root may change it at runtime, within its range only.
table_bytes_write() {
	local v=$1 want=$2
	if [ "$want" = refused ]; then
		want=$(cat $P/max_table_bytes)
		! sysfs_write max_table_bytes "$v" || return 1
	else
		sysfs_write max_table_bytes "$v" || return 1
	fi
	[ "$(cat $P/max_table_bytes)" = "$want" ]
}
check "write max_table_bytes=8192 taken" table_bytes_write 8192 8192
check "write max_table_bytes=4095 refused" table_bytes_write 4095 refused
check "nobody cannot write max_table_bytes" \
	eval '! setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -c "printf 4096 > $P/max_table_bytes" 2>/dev/null &&
		[ "$(cat $P/max_table_bytes)" = 8192 ]'
sysfs_write max_table_bytes 1048576
if [ -e "$P/mirror_entries" ]; then
	check "mirror_entries is read-only" readonly_refuses mirror_entries 0
else
	check "mirror_entries absent (not in this version)" true
fi

rmmod listenq
check "dmesg free of warnings" dmesg_clean_since_mark
ktap_finished
