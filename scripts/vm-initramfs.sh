#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the test VM's initramfs for release R: a static busybox, the modules
# that mount the host's root over 9p (decompressed, busybox insmod cannot
# read .ko.xz; none when built in, as in the debug kernel), and an /init
# that mounts it and hands over to vm-guest.sh.
# Usage: vm-initramfs.sh RELEASE OUTPUT.cpio.gz
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rel=$1
out=$2
kroot="$(kernel_dir "$rel")/root"
[ -d "$kroot/lib/modules/$rel" ] || die "kernel $rel not fetched (run scripts/fetch-kernels.sh)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,mod}
cp /bin/busybox "$stage/bin/busybox"

modprobe -d "$kroot" -S "$rel" --show-depends -a 9p 9pnet_virtio virtio_pci |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$stage/mod.paths"
n=0
while read -r path; do
	n=$((n + 1))
	name=$(printf '%02d-%s' "$n" "$(basename "$path")")
	case "$path" in
	*.xz) xz -dc "$path" > "$stage/mod/${name%.xz}" ;;
	*.zst) zstd -dcq "$path" > "$stage/mod/${name%.zst}" ;;
	*) cp "$path" "$stage/mod/$name" ;;
	esac
done < "$stage/mod.paths"
rm "$stage/mod.paths"

cat > "$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /mod/*.ko; do
	[ -e "$m" ] || continue	# none when the kernel has them built in
	insmod "$m" || echo "vm-init: insmod $m failed"
done
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,ro,cache=loose" hostroot /newroot || {
	echo "vm-init: cannot mount the host root"; echo o > /proc/sysrq-trigger; }
for d in tmp run var/tmp root; do mount -t tmpfs tmpfs "/newroot/$d"; done
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
# The project tree again on its own share: it may live under /tmp or /root,
# which the guest has just covered with tmpfs.
mkdir -p "/newroot$LISTENQ_TOP" 2>/dev/null
mount -t 9p -o "$opts,ro,cache=loose" top "/newroot$LISTENQ_TOP"
# The guest kernel's own modules, from the unpacked image.
mount -t tmpfs tmpfs /newroot/lib/modules
mkdir -p "/newroot/lib/modules/$(uname -r)"
mount --bind "/newroot$LISTENQ_KROOT/lib/modules/$(uname -r)" "/newroot/lib/modules/$(uname -r)"
mkdir -p "/newroot$LISTENQ_OUT" 2>/dev/null
mount -t 9p -o "$opts,rw" vmout "/newroot$LISTENQ_OUT"
umount /proc /sys /dev
exec switch_root /newroot "$LISTENQ_TOP/scripts/vm-guest.sh"
INIT
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
