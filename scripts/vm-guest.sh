#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the test VM, on the host's root filesystem mounted read-only.
# Runs $LISTENQ_OUT/cmd.sh, saves dmesg, reports the exit status on the
# second serial port (the host's own channel, not the console), powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
hostname listenq-vm
# devtmpfs lacks the links udev would make; the kselftest runner logs to /dev/stdout.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ip link set lo up
# Surface every kernel message at warning level or above on the console.
echo 5 > /proc/sys/kernel/printk
cd "$LISTENQ_TOP" || exit 1

bash "$LISTENQ_OUT/cmd.sh" < /dev/null > /dev/console 2>&1
rc=$?
dmesg > "$LISTENQ_OUT/dmesg.txt"
sync
echo "EXIT $rc" > /dev/ttyS1
# Let the UART drain before the power goes.
sleep 1
# PID 1 must not exit while the power-off runs: that panics ("Attempted to
# kill init") and fails a passing run.  Power-off shuts the 9p root down, so
# an external command started after it may fail (exit 127); start the
# sleeper first and wait for it with the builtin, looping if it dies.
sleep 60 &
echo o > /proc/sysrq-trigger
while :; do wait; done
