#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot Debian kernel RELEASE in qemu and run COMMAND inside as root, on the
# host's root filesystem (read-only, 9p) with the kernel's own modules.
#
# Usage: vm-run.sh [-t SECONDS] [-o OUTDIR] RELEASE COMMAND...
# Environment:
#   VM_ACCEL           tcg,thread=single (default), tcg (multi-threaded TCG)
#                      or kvm (opt-in: nested KVM may hang)
#   VM_SMP, VM_MEM     vCPUs (default 2) and memory (default 2G)
#   VM_TIMEOUT         seconds before a hung guest is killed (default 600)
#   VM_APPEND          extra kernel command line
#   VM_QUIET=1         do not echo the console while it runs
#   VM_ICOUNT=N        TCG only: count instructions, each taking 2^N ns of
#                      guest time (qemu -icount), so the guest's clocks
#                      measure instructions executed, not host speed
#                      (and a CPU without CX16, see below)
#   VM_CPU             qemu -cpu model (default max; host on KVM)
#
# The exit status is the command's, read from the guest's second serial
# port. The run fails (status 125 if the command itself passed) when the
# guest panics, hangs (124), or its console/dmesg shows WARNING, BUG, Oops
# or a leak report; then the console tail is printed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

timeout_s=${VM_TIMEOUT:-600}
outdir=
while getopts "t:o:" opt; do
	case $opt in
	t) timeout_s=$OPTARG ;;
	o) outdir=$OPTARG ;;
	*) die "usage: vm-run.sh [-t SECONDS] [-o OUTDIR] RELEASE COMMAND..." ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || die "usage: vm-run.sh [-t SECONDS] [-o OUTDIR] RELEASE COMMAND..."
rel=$1
shift

kdir=$(kernel_dir "$rel")
vmlinuz="$kdir/root/boot/vmlinuz-$rel"
[ -e "$vmlinuz" ] || die "kernel $rel not fetched (run scripts/fetch-kernels.sh)"

initrd="$BUILD/vm/$rel/initramfs.cpio.gz"
if [ ! -e "$initrd" ] || [ "$TOP/scripts/vm-initramfs.sh" -nt "$initrd" ]; then
	mkdir -p "$(dirname "$initrd")"
	"$TOP/scripts/vm-initramfs.sh" "$rel" "$initrd.$$" && mv "$initrd.$$" "$initrd" ||
		die "cannot build the initramfs for $rel"
fi

mkdir -p "$BUILD/vm-out"
[ -n "$outdir" ] || outdir=$(mktemp -d "$BUILD/vm-out/run.XXXXXX")
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir"/{status,console.log,dmesg.txt}
printf '%s\n' "$*" > "$outdir/cmd.sh"

# A task blocked for 120 s or a CPU stuck for 20 s panics the guest, so a
# hang ends in minutes with its stack traces in console.log, not at the
# timeout without them (both are failures either way: see $splat below).
append="console=ttyS0 no_timer_check loglevel=5 panic_on_warn=1 oops=panic panic=-1 slub_debug=FZPU"
append+=" sysctl.kernel.hung_task_panic=1 softlockup_panic=1"
case $rel in
6.1.*|6.1-*) ;;
*) append+=" kfence.sample_interval=1" ;;
esac
append+=" LISTENQ_TOP=$TOP LISTENQ_OUT=$outdir LISTENQ_KROOT=$kdir/root ${VM_APPEND:-}"

# Single-threaded TCG by default (all vCPUs on one host thread).  With
# multi-threaded TCG a vCPU could run stale code while another one patched
# it: ftrace and kprobe call sites, rewritten at every insmod and rmmod,
# gave "Oops: int3" and jumps to address 0 under load, with listenq's hooks
# and without them (a function_graph tracer switch did it too); never with
# thread=single.  VM_ACCEL=tcg selects multi-threaded TCG, kvm KVM.
accel=${VM_ACCEL:-tcg,thread=single}
cpu=max
if [ "$accel" = kvm ]; then
	cpu=host
fi

icount=()
if [ -n "${VM_ICOUNT:-}" ]; then
	[ "$accel" != kvm ] || die "VM_ICOUNT needs TCG"
	icount=(-icount "shift=$VM_ICOUNT,sleep=on")
	# Under -icount, guests died right after the cmpxchg16b of SLUB's
	# allocation fast path with garbage RFLAGS (docs/testing.md, "The test VM");
	# without CX16 SLUB takes its irq-off path instead.
	cpu=max,cx16=off
fi
cpu=${VM_CPU:-$cpu}

console_dest="stdio,signal=off"
[ "${VM_QUIET:-0}" = 1 ] && console_dest="null"

timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
	-accel "$accel" "${icount[@]}" -cpu "$cpu" -smp "${VM_SMP:-2}" -m "${VM_MEM:-2G}" \
	-machine "${VM_MACHINE:-q35}" -nodefaults -display none -no-reboot \
	-kernel "$vmlinuz" -initrd "$initrd" -append "$append" \
	-chardev "$console_dest,id=con,logfile=$outdir/console.log" \
	-serial chardev:con \
	-chardev "file,id=status,path=$outdir/status" -serial chardev:status \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$TOP",mount_tag=top,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$outdir",mount_tag=vmout,security_model=none \
	-device virtio-rng-pci < /dev/null
qemu_rc=$?

rc=$(sed -n 's/^EXIT \([0-9]*\).*/\1/p' "$outdir/status" 2>/dev/null | tail -n 1)
why=
if [ $qemu_rc -eq 124 ] || [ $qemu_rc -eq 137 ]; then
	why="guest hung: killed after ${timeout_s}s"
	rc=124
elif [ -z "$rc" ]; then
	why="guest stopped without reporting an exit status (panic or crash)"
	rc=125
fi
# A kernel splat fails the run even when the command passed.
splat='WARNING:|BUG:|Oops|Kernel panic|kernel BUG|general protection|UBSAN:|KASAN:|KFENCE:|unreferenced object|possible recursive locking|circular locking|soft lockup|blocked for more than|rcu_sched detected stall|rcu: INFO|ODEBUG:|leak detector disabled'
if grep -Eq "$splat" "$outdir/console.log" "$outdir/dmesg.txt" 2>/dev/null; then
	why="${why:+$why; }kernel reported a problem: $(grep -Eho "$splat" "$outdir/console.log" "$outdir/dmesg.txt" 2>/dev/null | sort -u | tr '\n' ' ')"
	[ "$rc" -eq 0 ] && rc=125
fi
if [ -n "$why" ]; then
	echo "vm-run: $rel: $why" >&2
	log_file="$outdir/console.log"
	[ -s "$outdir/dmesg.txt" ] && log_file="$outdir/dmesg.txt"
	echo "vm-run: log tail ($log_file):" >&2
	tail -n 100 "$log_file" >&2
fi
exit "$rc"
