# SPDX-License-Identifier: GPL-2.0
# Shared paths and helpers for listenq's scripts; sourced, never run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$TOP/build"
KSRC="$BUILD/linux-source"		# paths extracted from linux-source-6.12
KSFT_SRC="$KSRC/tools/testing/selftests"

die() { echo "listenq: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

# Map a KERNELS= word to a release: "6.1" and "6.12" name the Debian LTS
# lines through their meta packages, "6.1-rt" and "6.12-rt" their
# PREEMPT_RT flavours; anything else is taken as a release.
resolve_kernel() {
	local meta
	case "$1" in
	6.1) meta=linux-image-amd64 ;;
	6.12) meta=linux-image-6.12-amd64 ;;
	6.1-rt) meta=linux-image-rt-amd64 ;;
	6.12-rt) meta=linux-image-6.12-rt-amd64 ;;
	*) echo "$1"; return ;;
	esac
	apt-cache depends "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9].*\)$/\1/p' | grep -v unsigned | head -n 1 |
		grep . || die "cannot resolve $meta (run apt-get update?)"
}

resolve_kernels() {
	local k
	for k in ${KERNELS:-6.1 6.12}; do
		resolve_kernel "$k"
	done
}

# Where the unpacked image of release R lives.
# The debug kernel (scripts/debug-kernel.sh, LOCALVERSION in
# scripts/debug-kernel.config) is built here, not fetched.
kernel_dir() {
	case $1 in
	*-listenq-debug) echo "$BUILD/debug-kernel" ;;
	*) echo "$BUILD/kernels/$1" ;;
	esac
}
headers_dir() { echo "/usr/src/linux-headers-$1"; }

# ---- results of a check run (check.sh, check-debug.sh): host-side results
# as KTAP lines, counts from KTAP logs, and the closing "N passed" line.
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
