#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# For each selected release: install the matching headers (to build against)
# and download + unpack the image and its modules into build/kernels/R (to
# boot in the test VM). Images are never installed on the host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for rel in $(resolve_kernels); do
	kdir=$(kernel_dir "$rel")
	if [ ! -e "$(headers_dir "$rel")/Makefile" ]; then
		log "installing linux-headers-$rel"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"linux-headers-$rel" >/dev/null
	fi
	[ -e "$kdir/.unpacked" ] && continue
	log "downloading linux-image-$rel"
	rm -rf "$kdir"
	mkdir -p "$kdir/deb"
	(cd "$kdir/deb" && apt-get download -qq -o APT::Sandbox::User=root "linux-image-$rel" >/dev/null)
	dpkg-deb -x "$kdir"/deb/*.deb "$kdir/root"
	rm -rf "$kdir/deb"
	[ -e "$kdir/root/boot/vmlinuz-$rel" ] || die "no vmlinuz-$rel in linux-image-$rel"
	# The package leaves modules.dep to its postinst; build it here.
	depmod -b "$kdir/root" "$rel"
	touch "$kdir/.unpacked"
done
