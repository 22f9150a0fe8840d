# SPDX-License-Identifier: GPL-2.0
#
# listenq: out-of-tree module. Kbuild describes the objects; this Makefile
# drives builds for the host and for the Debian test kernels.
#
#   make                  build for the running kernel -> build/$(uname -r)/listenq.ko
#   make modules          build for every kernel in KERNELS -> build/<release>/listenq.ko
#   make check            set up, fetch, build, static checks, kselftests in qemu
#   make check-full       the same with the long tests whole (stress 60 s, 50 reloads)
#   make check-debug      the kselftests on a KASAN/lockdep/kmemleak kernel built here
#   make demo             boot the test VM, load listenq, show /proc/listenq
#   make bench            listenq's cost against the stock kernel, in qemu (see docs/benchmark.md)
#   make lint             checkpatch --strict and sparse only
#   make tool             the listenq command -> tools/build/listenq
#   make install          listenq.ko for the running kernel (KVER=) + the command
#   make uninstall        remove both
#
# KERNELS: Debian LTS lines ("6.1", "6.12", resolved through the meta
# packages) or exact releases; default "6.1 6.12" (demo: "6.12").

SHELL := /bin/bash
KERNELS ?= 6.1 6.12
export KERNELS

.PHONY: all module modules kernels tests check check-full check-debug demo lint clean tool install uninstall \
	bench

all: module

# A plain out-of-tree build for the running kernel, as on a real host.
# KDIR= overrides where its headers are.
module:
	KDIR="$(KDIR)" scripts/build-module.sh "$$(uname -r)"

# The listenq command -> tools/build/listenq.
tool:
	$(MAKE) -C tools

# make install: listenq.ko for the running kernel (KVER= another) into
# /lib/modules/$(KVER)/updates, depmod, and the listenq command into
# $(PREFIX)/sbin. DESTDIR= stages both under another root.
KVER ?= $(shell uname -r)
PREFIX ?= /usr/local
# Explicit: kbuild's default for external modules is extra on 6.1, updates on 6.12.
INSTALL_MOD_DIR = updates
DEPMOD = depmod $(if $(DESTDIR),-b "$(DESTDIR)") "$(KVER)"

install: tool
	KDIR="$(KDIR)" scripts/build-module.sh "$(KVER)"
	KDIR="$(KDIR)" scripts/build-module.sh "$(KVER)" INSTALL_MOD_PATH="$(DESTDIR)" \
		INSTALL_MOD_DIR="$(INSTALL_MOD_DIR)" modules_install
	$(DEPMOD)
	$(MAKE) -C tools install DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)"

uninstall:
	rm -f "$(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)"/listenq.ko*
	$(DEPMOD)
	$(MAKE) -C tools uninstall DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)"

kernels:
	scripts/setup-host.sh
	scripts/fetch-kernels.sh

modules: kernels
	@set -e; . scripts/lib.sh; for rel in $$(resolve_kernels); do \
		scripts/build-module.sh "$$rel"; \
	done

tests:
	scripts/setup-host.sh
	scripts/install-tests.sh

check:
	scripts/check.sh

# The same, with the long tests whole (stress: 60 s and 50 reloads).
check-full:
	SUITE_ENV= scripts/check.sh

bench:
	scripts/bench.sh

# The debug-kernel lane: builds 6.12 from linux-source-6.12 once (cached in
# build/debug-kernel), then the suite and a kmemleak scan in it.
check-debug:
	scripts/check-debug.sh

demo:
	KERNELS="$(if $(filter command line environment,$(origin KERNELS)),$(KERNELS),6.12)" scripts/demo.sh

lint: kernels
	@set -e; . scripts/lib.sh; \
	perl build/linux-source/scripts/checkpatch.pl --strict --no-tree -f src/*.c src/*.S include/*.h bench/kmod/*.c; \
	for rel in $$(resolve_kernels); do \
		scripts/build-module.sh "$$rel" C=2; scripts/build-module.sh --bench "$$rel" C=2; \
	done

clean:
	$(MAKE) -C tools clean
	rm -rf build/

# The kernel's own net selftests of listen() alone (also part of check), on
# KERNELS, stock and in each module mode. FULL=1: the kernel's own
# parameters, no reduction (hours under TCG; VM_ACCEL=kvm where it works).
.PHONY: check-kernel-net
check-kernel-net:
	scripts/kernel-net-tests.sh check $(if $(FULL),-f)
