# SPDX-License-Identifier: GPL-2.0
# Shared helpers for listenq's shell kselftests (KTAP output through the
# kernel's own ktap_helpers.sh, installed next to this collection).
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
. "$TEST_DIR/../kselftest/ktap_helpers.sh"

# The module built for the running kernel: build/<release>/listenq.ko,
# two levels above the installed collection (build/ksft/listenq).
LISTENQ_KO=${LISTENQ_KO:-$TEST_DIR/../../$(uname -r)/listenq.ko}

# Kernel messages that mean a test broke the kernel.
KERNEL_SPLAT='WARNING:|BUG:|Oops|general protection|UBSAN:|KASAN:|KFENCE:|unreferenced object|blocked for more than'

listenq_unload_quiet() {
	grep -q '^listenq ' /proc/modules && rmmod listenq
	return 0
}

# A mark in dmesg, so a test can check only what it caused.
dmesg_mark() {
	DMESG_MARK="listenq-selftest-mark-$$-$RANDOM"
	echo "$DMESG_MARK" > /dev/kmsg
}

dmesg_since_mark() {
	dmesg | sed -n "/$DMESG_MARK/,\$p" | tail -n +2
}

dmesg_clean_since_mark() {
	! dmesg_since_mark | grep -Eq "$KERNEL_SPLAT"
}
