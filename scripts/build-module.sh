#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build listenq.ko for release R into build/R/ (W=1, warnings are errors).
# Kbuild writes its intermediates next to the sources, so each release gets
# a farm of symlinks to the real tree and src/ stays clean.
# Usage: build-module.sh [--bench] RELEASE [extra kbuild args, e.g. C=2]
#   --bench: the benchmark's softirq clock (bench/kmod) into build/bench-kmod/R/
# KDIR= overrides the headers directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bench=0
if [ "${1:-}" = --bench ]; then
	bench=1
	shift
fi
rel=$1
shift
hdr=${KDIR:-$(headers_dir "$rel")}
[ -e "$hdr/Makefile" ] || hdr="/lib/modules/$rel/build"
[ -e "$hdr/Makefile" ] || die "no kernel headers for $rel: install linux-headers-$rel or set KDIR="

if [ $bench = 1 ]; then
	out="$BUILD/bench-kmod/$rel"
	mkdir -p "$out"
	find "$out" -type l -delete
	for f in "$TOP"/bench/kmod/*.c "$TOP/bench/kmod/Kbuild"; do
		ln -s "$f" "$out/$(basename "$f")"
	done
	exec make -C "$hdr" M="$out" W=1 "$@" modules
fi

out="$BUILD/$rel"
mkdir -p "$out"
# Refresh the farm: new files appear, removed ones disappear.
find "$out" -type l -delete
ln -s "$TOP/Kbuild" "$out/Kbuild"
for d in src include; do
	(cd "$TOP" && find "$d" -type d) | while read -r sub; do mkdir -p "$out/$sub"; done
	(cd "$TOP" && find "$d" -type f \( -name '*.c' -o -name '*.S' -o -name '*.h' \)) |
		while read -r f; do ln -s "$TOP/$f" "$out/$f"; done
done
# Objects of sources that were removed must not linger.
find "$out/src" -name '*.o' | while read -r o; do
	[ -e "${o%.o}.c" ] || [ -e "${o%.o}.S" ] || rm -f "$o" "$(dirname "$o")/.$(basename "$o").cmd"
done

make -C "$hdr" M="$out" W=1 "$@" modules
