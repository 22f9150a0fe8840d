#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what building and testing listenq needs on a Debian 12 host.
# Idempotent: apt runs only when a package is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(build-essential bc bison flex libelf-dev libssl-dev kmod xz-utils cpio
      rsync sparse busybox-static qemu-system-x86 seabios iproute2 nftables procps
      linux-source-6.12 tmux jq dkms python3
      gnuplot-nox bpftrace)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A few paths of the kernel source: kselftest harness and runner, checkpatch,
# and the net code listenq mirrors (read, never committed).
stamp="$KSRC/.extracted"
tarball=/usr/src/linux-source-6.12.tar.xz
if [ ! -e "$stamp" ] || [ "$tarball" -nt "$stamp" ]; then
	log "extracting selftests, checkpatch and net sources from $tarball"
	rm -rf "$KSRC"
	mkdir -p "$KSRC"
	p=linux-source-6.12
	tar -xJf "$tarball" -C "$KSRC" --strip-components=1 \
		$p/tools/testing/selftests/kselftest $p/tools/testing/selftests/kselftest.h \
		$p/tools/testing/selftests/kselftest_harness.h $p/tools/testing/selftests/lib.mk \
		$p/tools/testing/selftests/run_kselftest.sh \
		$p/scripts/checkpatch.pl $p/scripts/spelling.txt $p/scripts/const_structs.checkpatch \
		$p/net/ipv4/af_inet.c $p/net/ipv4/inet_connection_sock.c $p/net/core/request_sock.c \
		$p/net/socket.c
	touch "$stamp"
fi
