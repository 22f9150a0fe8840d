#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: set up like `make check`, boot the first kernel of KERNELS,
# load listenq, open listeners that show each limit, print /proc/listenq
# next to `ss -ltn`, unload.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/setup-host.sh"
"$TOP/scripts/fetch-kernels.sh"
rel=$(resolve_kernels | head -n 1)
"$TOP/scripts/build-module.sh" "$rel" > "$BUILD/demo-build.log" 2>&1 ||
	{ cat "$BUILD/demo-build.log"; die "module build failed"; }
"$TOP/scripts/install-tests.sh"

log "booting $rel in qemu (TCG); the guest runs scripts/demo-guest.sh"
exec "$TOP/scripts/vm-run.sh" -t 300 "$rel" "bash scripts/demo-guest.sh $BUILD/$rel/listenq.ko"
