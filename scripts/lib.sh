# SPDX-License-Identifier: GPL-2.0
# Shared paths and helpers for listenq's scripts; sourced, never run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$TOP/build"
KSRC="$BUILD/linux-source"		# paths extracted from linux-source-6.12
KSFT_SRC="$KSRC/tools/testing/selftests"

die() { echo "listenq: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

# Map a KERNELS= word to a release: "6.1" and "6.12" name the Debian LTS
# lines through their meta packages, anything else is taken as a release.
resolve_kernel() {
	local meta
	case "$1" in
	6.1) meta=linux-image-amd64 ;;
	6.12) meta=linux-image-6.12-amd64 ;;
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
kernel_dir() { echo "$BUILD/kernels/$1"; }
headers_dir() { echo "/usr/src/linux-headers-$1"; }
