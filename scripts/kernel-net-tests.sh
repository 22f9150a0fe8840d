#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel's own net selftests that exercise listen(), taken from
# linux-source-6.12 and run in the test VM on the stock kernel and with
# listenq loaded in each mode (scripts/kernel-net-guest.sh compares).
#
# Usage:
#   kernel-net-tests.sh build
#       extract and build them -> build/ksft-net/{quick,full}/
#   kernel-net-tests.sh run [-f] -o OUTDIR RELEASE
#       boot RELEASE once, run them in every mode -> OUTDIR/ktap.log;
#       the exit status is the VM's (scripts/vm-run.sh)
#   kernel-net-tests.sh check [-f] [RELEASE...]
#       build, run on each release (default: KERNELS), count the results
#       ("make check-kernel-net")
# -f runs the full profile: the kernel's own parameters, no reduction.
#
# The quick profile, the one `make check` runs, differs from the kernel's
# in two parameters only, because qemu TCG makes every TCP connection cost
# milliseconds (docs/testing.md, "The kernel's own net selftests"):
#   tcp_fastopen_backup_key: TFO_CONNECTIONS per run instead of 10000, a
#     key rotated every TFO_CONNECTIONS / 20 instead of every 50, so each
#     of the script's 16 runs still goes through one whole rotation cycle
#     (20 rotations: a new backup key on each of the 10 listeners, then
#     each swaps it in).
#   stress_reuseport_listen.sh: STRESS_ADDRS addresses x 80 listeners
#     instead of 300 x 80.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TFO_CONNECTIONS=100
STRESS_ADDRS=30

NET_TESTS=(reuseport_addr_any.sh reuseport_dualstack reuseaddr_conflict
	   reuseaddr_ports_exhausted.sh sk_bind_sendto_listen so_incoming_cpu
	   stress_reuseport_listen.sh tcp_fastopen_backup_key.sh tcp_inq)
# The programs behind them, and what the wrappers need next to them.
NET_PROGS=(reuseport_addr_any reuseport_dualstack reuseaddr_conflict
	   reuseaddr_ports_exhausted sk_bind_sendto_listen so_incoming_cpu
	   stress_reuseport_listen tcp_fastopen_backup_key tcp_inq)
NET_FILES=(reuseport_addr_any.sh reuseaddr_ports_exhausted.sh
	   stress_reuseport_listen.sh tcp_fastopen_backup_key.sh
	   in_netns.sh lib.sh)

DEST="$BUILD/ksft-net"
SRC="$DEST/src"
TARBALL=/usr/src/linux-source-6.12.tar.xz

# Only these paths of the tarball; the stamp records them, so a new test
# in the lists above re-extracts.
extract() {
	local p=linux-source-6.12 s=tools/testing/selftests paths=() f want
	for f in "${NET_PROGS[@]}"; do paths+=("$p/$s/net/$f.c"); done
	for f in "${NET_FILES[@]}"; do paths+=("$p/$s/net/$f"); done
	paths+=("$p/$s/kselftest.h" "$p/$s/kselftest_harness.h" "$p/$s/kselftest"
		"$p/$s/run_kselftest.sh")
	want=$(printf '%s\n' "${paths[@]}")
	if [ -e "$SRC/.extracted" ] && [ ! "$TARBALL" -nt "$SRC/.extracted" ] &&
	   [ "$(cat "$SRC/.extracted")" = "$want" ]; then
		return
	fi
	[ -e "$TARBALL" ] || die "$TARBALL missing (run scripts/setup-host.sh)"
	log "extracting the net selftests from $TARBALL"
	rm -rf "$SRC"
	mkdir -p "$SRC"
	tar -xJf "$TARBALL" -C "$SRC" --strip-components=1 "${paths[@]}"
	echo "$want" > "$SRC/.extracted"
}

# subst FILE FROM TO: replace the one line FROM (fixed string) by TO, or
# fail: a changed upstream test must not silently run unreduced.
subst() {
	local n
	n=$(grep -cxF -- "$2" "$1" || true)
	[ "$n" -eq 1 ] || die "$1: expected one line '$2', found $n"
	awk -v from="$2" -v to="$3" '$0 == from { $0 = to } { print }' "$1" > "$1.new"
	mv "$1.new" "$1"
}

# build_profile NAME: one runnable tree, laid out as the kernel's
# installer does: run_kselftest.sh, kselftest/, kselftest-list.txt, net/.
build_profile() {
	local name=$1 out="$DEST/$1" net="$SRC/tools/testing/selftests/net" work f
	work="$DEST/$name-src"
	rm -rf "$out" "$work"
	mkdir -p "$out/net" "$work"
	for f in "${NET_PROGS[@]}"; do cp "$net/$f.c" "$work/"; done
	for f in "${NET_FILES[@]}"; do cp "$net/$f" "$work/"; done
	if [ "$name" = quick ]; then
		subst "$work/tcp_fastopen_backup_key.c" \
			$'\tint n_loops = 10000;' $'\tint n_loops = '"$TFO_CONNECTIONS;"
		subst "$work/tcp_fastopen_backup_key.c" \
			$'\tint key_rotate_interval = 50;' \
			$'\tint key_rotate_interval = '"$((TFO_CONNECTIONS / 20));"
		subst "$work/stress_reuseport_listen.sh" \
			'ip netns exec $NS ./stress_reuseport_listen 300 80' \
			"ip netns exec \$NS ./stress_reuseport_listen $STRESS_ADDRS 80"
		echo "timeout=900" > "$out/net/settings"
	else
		echo "timeout=3600" > "$out/net/settings"
	fi
	for f in "${NET_PROGS[@]}"; do
		# -I net: the sources include "../kselftest.h" relative to it.
		gcc -O2 -g -Wall -D_GNU_SOURCE= -I"$net" "$work/$f.c" -o "$out/net/$f" -lpthread
	done
	for f in "${NET_FILES[@]}"; do install -m 0755 "$work/$f" "$out/net/$f"; done
	printf 'net:%s\n' "${NET_TESTS[@]}" > "$out/kselftest-list.txt"
	cp "$SRC/tools/testing/selftests/run_kselftest.sh" "$out/"
	cp -r "$SRC/tools/testing/selftests/kselftest" "$out/"
}

build() {
	extract
	build_profile quick
	build_profile full
}

# run [-f] -o OUTDIR RELEASE
run() {
	local profile=quick outdir='' rel ko vm_timeout=3600 opt OPTIND=1
	while getopts "fo:" opt; do
		case $opt in
		f) profile=full; vm_timeout=$((4 * 3600)) ;;
		o) outdir=$OPTARG ;;
		*) die "usage: kernel-net-tests.sh run [-f] -o OUTDIR RELEASE" ;;
		esac
	done
	shift $((OPTIND - 1))
	if [ -z "$outdir" ] || [ $# -ne 1 ]; then
		die "usage: kernel-net-tests.sh run [-f] -o OUTDIR RELEASE"
	fi
	rel=$1
	ko="$BUILD/$rel/listenq.ko"
	[ -e "$ko" ] || die "$ko missing (run scripts/build-module.sh $rel)"
	[ -x "$DEST/$profile/net/tcp_inq" ] || die "net selftests not built (kernel-net-tests.sh build)"
	mkdir -p "$outdir"
	VM_QUIET=1 "$TOP/scripts/vm-run.sh" -t "${VM_TIMEOUT:-$vm_timeout}" -o "$outdir" "$rel" \
		"scripts/kernel-net-guest.sh $DEST/$profile $ko > \$LISTENQ_OUT/ktap.log 2>&1"
}

# check [-f] [RELEASE...]: the whole lane, with its own count.
check() {
	local full=() opt OPTIND=1 rel rels out pass=0 fail=0 skip=0 rc start
	while getopts "f" opt; do
		case $opt in
		f) full=(-f) ;;
		*) die "usage: kernel-net-tests.sh check [-f] [RELEASE...]" ;;
		esac
	done
	shift $((OPTIND - 1))
	"$TOP/scripts/setup-host.sh"
	"$TOP/scripts/fetch-kernels.sh"
	if [ $# -gt 0 ]; then rels=("$@"); else mapfile -t rels < <(resolve_kernels); fi
	build
	for rel in "${rels[@]}"; do
		"$TOP/scripts/build-module.sh" "$rel" > /dev/null
		out="$BUILD/vm-out/kernel-net-$rel"
		start=$SECONDS
		rc=0
		run "${full[@]}" -o "$out" "$rel" || rc=$?
		sed "s/^/# [$rel] /" "$out/ktap.log" 2>/dev/null || true
		read -r p f s < <(grep -E '^(not )?ok ' "$out/ktap.log" 2>/dev/null |
			awk '{ if ($1 == "not") f++; else if ($0 ~ /# SKIP/) s++; else p++ }
			     END { print p + 0, f + 0, s + 0 }')
		pass=$((pass + p))
		fail=$((fail + f))
		skip=$((skip + s))
		if [ "$rc" -ne 0 ]; then
			fail=$((fail + 1))
			echo "not ok $rel: the VM ran the net selftests with a clean kernel log (status $rc)"
		fi
		echo "# $rel: $((SECONDS - start))s"
	done
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
build) build ;;
run) run "$@" ;;
check) check "$@" ;;
*) die "usage: kernel-net-tests.sh build | run [-f] -o OUTDIR RELEASE | check [-f] [RELEASE...]" ;;
esac
