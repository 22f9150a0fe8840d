#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the test VM: run the kernel's net selftests of listen() (built by
# scripts/kernel-net-tests.sh) on the stock kernel, then with listenq
# loaded in mode=replace, then in mode=observe, and print KTAP: one result
# per mode and test, plus the module's load and unload in each mode.
#
# Usage: kernel-net-guest.sh KSFT_DIR LISTENQ_KO
#
# The kernel's own runner runs the tests, once per mode, inside a network
# namespace made for that mode, so no socket or sysctl of one mode meets
# the next. (Not the runner's own -n, a namespace per test: under Debian's
# /bin/sh, dash, it takes "&>" for "&" and returns before the test ends.)
# A result with the module loaded passes only when the test ends as it did
# on the stock kernel: same exit class (pass, skip, fail) and the same
# sub-test results. Full logs go to $LISTENQ_OUT/net/.
set -u

KSFT=$1
KO=$2
REL=$(uname -r)
MODES=(replace observe)
mapfile -t TESTS < <(sed -n 's/^net://p' "$KSFT/kselftest-list.txt")
LOGS=${LISTENQ_OUT:-/tmp}/net
SPLAT='WARNING:|BUG:|Oops|general protection|UBSAN:|KASAN:|KFENCE:|unreferenced object|blocked for more than'

N=0
ok() { N=$((N + 1)); echo "ok $N $REL $*"; }
not_ok() { N=$((N + 1)); echo "not ok $N $REL $*"; }
comment() { sed 's/^/#   /'; }

# run_mode MODE: the runner once over every test, in a network namespace
# made for this mode; each line stamped with the second it came, so the
# time of each test shows. Leaves $LOGS/MODE/run.log.
run_mode() {
	local ns="knet-$1-$RANDOM" line
	# Through a pipe: the runner reopens /dev/stdout to append each test's
	# output, which a plain file redirect would then overwrite.
	if ip netns add "$ns" && ip -n "$ns" link set lo up; then
		ip netns exec "$ns" "$KSFT/run_kselftest.sh" 2>&1 |
			while IFS= read -r line; do
				printf '%s %s\n' "$SECONDS" "$line"
			done > "$LOGS/$1/run.log"
	else
		echo "$SECONDS cannot create the network namespace $ns" > "$LOGS/$1/run.log"
	fi
	ip netns del "$ns" 2> /dev/null
}

# test_result MODE TEST: cut TEST's part out of MODE's run into
# $LOGS/MODE/TEST.log, leave OUTCOME (pass, skip or fail: why) and SUBS
# (its sub-test results) for the caller.
test_result() {
	local log="$LOGS/$1/$2.log" line secs
	secs=$(awk -v t="$2" '
		$2 == "#" && $3 == "selftests:" && $4 == "net:" && $5 == t { on = 1; first = $1 }
		on && $0 ~ "^[0-9]+ (not )?ok [0-9]+ selftests: net: " { last = $1; on = 0 }
		END { if (last != "") print last - first; else print "?" }' "$LOGS/$1/run.log")
	awk -v t="$2" '
		$2 == "#" && $3 == "selftests:" && $4 == "net:" && $5 == t { on = 1 }
		on { sub(/^[0-9]+ /, ""); print }
		on && $0 ~ "^(not )?ok [0-9]+ selftests: net: " { on = 0 }' "$LOGS/$1/run.log" > "$log"
	line=$(grep -E '^(not )?ok [0-9]+ selftests: net: ' "$log" | tail -n 1)
	case $line in
	"ok "*"# SKIP"*) OUTCOME=skip ;;
	"ok "*) OUTCOME=pass ;;
	"not ok "*) OUTCOME="fail: ${line#*selftests: net: }" ;;
	*) OUTCOME="fail: the runner reported no result" ;;
	esac
	SUBS=$(grep -E '^# (not )?ok [0-9]+ ' "$log" | sed 's/^# //')
	echo "# $1: $2: $OUTCOME, $(echo "$SUBS" | grep -c .) sub-results, ${secs}s"
}

dmesg_mark() {
	MARK="listenq-net-selftests-$1-$RANDOM"
	echo "$MARK" > /dev/kmsg
}
dmesg_since_mark() { dmesg | sed -n "/$MARK/,\$p" | tail -n +2; }

echo "TAP version 13"
echo "1..$(((1 + ${#MODES[@]}) * ${#TESTS[@]} + 2 * ${#MODES[@]}))"
echo "# $REL: ${#TESTS[@]} net selftests from $KSFT, stock then mode=${MODES[*]}"
mkdir -p "$LOGS/stock" || exit 1

# The stock kernel: the reference.
declare -A STOCK_OUTCOME STOCK_SUBS
grep -q '^listenq ' /proc/modules && rmmod listenq
run_mode stock
for t in "${TESTS[@]}"; do
	test_result stock "$t"
	STOCK_OUTCOME[$t]=$OUTCOME
	STOCK_SUBS[$t]=$SUBS
	case $OUTCOME in
	pass) ok "stock: $t" ;;
	skip) ok "stock: $t # SKIP $(grep -m 1 -iE 'skip' "$LOGS/stock/$t.log" | cut -c 1-120)" ;;
	*)
		comment < "$LOGS/stock/$t.log"
		not_ok "stock: $t ($OUTCOME)"
		;;
	esac
done

for m in "${MODES[@]}"; do
	mkdir -p "$LOGS/$m"
	dmesg_mark "$m"
	loaded=0
	if insmod "$KO" mode="$m" 2> "$LOGS/$m/insmod.err"; then
		# The running mode, not only the requested one: replace falls
		# back to observe when a helper it needs is missing.
		if dmesg_since_mark | grep -q "listenq: loaded, .*mode=$m\$" &&
		   [ "$(cat /sys/module/listenq/parameters/mode)" = "$m" ]; then
			loaded=1
			ok "$m: insmod mode=$m, the module runs in mode=$m"
		else
			dmesg_since_mark | comment
			not_ok "$m: insmod mode=$m, the module runs in mode=$m"
		fi
	else
		comment < "$LOGS/$m/insmod.err"
		not_ok "$m: insmod mode=$m, the module runs in mode=$m"
	fi

	[ $loaded -eq 1 ] && run_mode "$m"
	for t in "${TESTS[@]}"; do
		if [ $loaded -eq 0 ]; then
			not_ok "$m: $t (module not loaded in mode=$m)"
			continue
		fi
		test_result "$m" "$t"
		why=
		if ! grep -q '^listenq ' /proc/modules; then
			why="the module is gone"
		elif [ "$OUTCOME" != "${STOCK_OUTCOME[$t]}" ]; then
			why="$OUTCOME, on stock: ${STOCK_OUTCOME[$t]}"
		elif [ "$SUBS" != "${STOCK_SUBS[$t]}" ]; then
			why="sub-results differ from stock"
			diff <(echo "${STOCK_SUBS[$t]}") <(echo "$SUBS") | comment
		elif [ "$OUTCOME" != pass ] && [ "$OUTCOME" != skip ]; then
			why="$OUTCOME, as on stock"
		fi
		if [ -n "$why" ]; then
			comment < "$LOGS/$m/$t.log"
			not_ok "$m: $t ($why)"
		elif [ "$OUTCOME" = skip ]; then
			ok "$m: $t, as on stock # SKIP as on stock"
		else
			ok "$m: $t, as on stock"
		fi
	done

	# Unload: the module goes and the kernel log stays clean.
	why=
	if [ $loaded -eq 1 ]; then
		rmmod listenq 2> "$LOGS/$m/rmmod.err" || why="rmmod failed: $(cat "$LOGS/$m/rmmod.err")"
	fi
	grep -q '^listenq ' /proc/modules && why="${why:-the module is still loaded}"
	if dmesg_since_mark | grep -Eq "$SPLAT"; then
		why="${why:+$why; }kernel log: $(dmesg_since_mark | grep -Eo "$SPLAT" | sort -u | tr '\n' ' ')"
		dmesg_since_mark | comment
	fi
	if [ -z "$why" ]; then
		ok "$m: rmmod, kernel log clean"
	else
		not_ok "$m: rmmod, kernel log clean ($why)"
	fi
done
