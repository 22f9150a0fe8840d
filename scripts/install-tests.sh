#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the kselftests and install them, with the kernel's own runner, as
# build/ksft/{run_kselftest.sh,kselftest/,kselftest-list.txt,listenq/}.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The VM test of the listenq command runs tools/build/listenq.
make -s -C "$TOP/tools"

dest="$BUILD/ksft"
rm -rf "$dest"
mkdir -p "$dest" "$BUILD/tests"
make -s -C "$TOP/tests" OUTPUT="$BUILD/tests" KSFT_DIR="$KSFT_SRC" \
	INSTALL_PATH="$dest/listenq" install >/dev/null
make -s -C "$TOP/tests" OUTPUT="$BUILD/tests" KSFT_DIR="$KSFT_SRC" \
	COLLECTION=listenq emit_tests | grep '^listenq:' > "$dest/kselftest-list.txt"
cp "$KSFT_SRC/run_kselftest.sh" "$dest/"
cp -r "$KSFT_SRC/kselftest" "$dest/"
