#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the debug kernel of `make check-debug` from Debian's linux-source-6.12
# with the config fragment scripts/debug-kernel.config over allnoconfig, and
# install it where the VM runner boots kernels from. Cached: it is rebuilt
# only when the source package's version or the fragment changes.
# Prints the kernel release on stdout; progress and timing go to stderr.
#
#   build/debug-kernel/src     the unpacked source tree (once per version)
#   build/debug-kernel/obj     the O= build directory: KDIR for listenq.ko
#   build/debug-kernel/root    boot/vmlinuz-R and lib/modules/R (kernel_dir)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=/usr/src/linux-source-6.12.tar.xz
fragment="$TOP/scripts/debug-kernel.config"
dk="$BUILD/debug-kernel"
src="$dk/src"
obj="$dk/obj"
root="$dk/root"
jobs=${DEBUG_KERNEL_JOBS:-$(nproc)}

[ -e "$tarball" ] || die "no $tarball: run scripts/setup-host.sh"
version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$({ echo "linux-source-6.12 $version"; cat "$fragment"; } | sha256sum | cut -c1-16)

mkdir -p "$dk"
# One build at a time: a second caller waits, then finds the cache warm.
exec 9> "$dk/lock"
flock 9

if [ "$(cat "$root/.key" 2>/dev/null)" = "$key" ]; then
	cat "$root/.release"
	exit 0
fi

if [ "$(cat "$src/.version" 2>/dev/null)" != "$version" ]; then
	log "unpacking linux-source-6.12 $version into $src"
	rm -rf "$src" "$obj"
	mkdir -p "$src"
	tar -xJf "$tarball" -C "$src" --strip-components=1
	echo "$version" > "$src/.version"
fi

# allnoconfig with the fragment's values forced: everything not asked for
# (and not selected by what was) stays off, which keeps the build short.
mkdir -p "$obj"
make -s -C "$src" O="$obj" KCONFIG_ALLCONFIG="$fragment" allnoconfig > "$dk/config.log" 2>&1 ||
	{ cat "$dk/config.log" >&2; die "debug kernel: allnoconfig failed"; }
missing=()
while read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF "$line" "$obj/.config" || missing+=("$line")
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		! grep -q "^$opt=" "$obj/.config" || missing+=("$line")
		;;
	esac
done < "$fragment"
if [ ${#missing[@]} -gt 0 ]; then
	printf 'listenq: debug kernel: not in the final .config: %s\n' "${missing[@]}" >&2
	die "debug kernel: fix scripts/debug-kernel.config (unmet dependencies?)"
fi
rel=$(make -s -C "$src" O="$obj" kernelrelease)

log "building debug kernel $rel with $jobs jobs (log: $dk/build.log)"
# Wall and CPU seconds: on a shared machine the wall time says little, the
# CPU time divided by the cores says what an idle machine would take.
TIMEFORMAT="%0R %0U %0S"
{ time nice -n 19 make -C "$src" O="$obj" -j"$jobs" all > "$dk/build.log" 2>&1; } 2> "$dk/build.time" ||
	{ tail -n 40 "$dk/build.log" >&2; die "debug kernel build failed (see $dk/build.log)"; }
read -r wall user sys < "$dk/build.time"
cpu=$((user + sys))
log "debug kernel build took $((wall / 60))m$((wall % 60))s with $jobs jobs on $(nproc) cores;" \
	"CPU $((cpu / 60))m$((cpu % 60))s, so about $((cpu / jobs / 60))m on $jobs idle cores"

rm -rf "$root"
mkdir -p "$root/boot"
cp "$obj/arch/x86/boot/bzImage" "$root/boot/vmlinuz-$rel"
cp "$obj/System.map" "$root/boot/System.map-$rel"
# Nothing is modular, but modules.builtin lets the tests' modprobe of
# inet_diag, tcp_diag, ... succeed as it does on Debian's kernels.
make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$root" modules_install > "$dk/install.log" 2>&1 ||
	{ cat "$dk/install.log" >&2; die "debug kernel: modules_install failed"; }
depmod -b "$root" "$rel"
echo "$rel" > "$root/.release"
echo "$wall $cpu $jobs" > "$root/.build-seconds"
echo "$key" > "$root/.key"
echo "$rel"
