#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad build inputs stop the build with one clear line of ours saying what is
# wrong and what to do: missing headers, an unsupported kernel, a kernel with
# CONFIG_PCI_P2PDMA=y (make, Kbuild and DKMS), another architecture than
# x86-64 (DKMS), missing or mismatched kernel
# source, a patch that does not apply. KSRC= of the right version builds.
# Runs in the kernel's root with TEST_KVER, TEST_KDIR, REPO and OUT set by
# tests/run.

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"

plan 11
read -r kversion series < <("$REPO/scripts/kernel-info" "$TEST_KDIR")
src=$("$REPO/scripts/kernel-source" "$series")

# refuses PATTERN COMMAND...: COMMAND fails and prints exactly one line of
# ours ("p2pdma-dkms: ..."), which matches PATTERN.
refuses() {
	local pattern=$1 log status=0
	shift
	log=$(mktemp -p "$OUT")
	"$@" >"$log" 2>&1 || status=$?
	sed 's/^/  | /' "$log"
	[ "$status" -ne 0 ] &&
		[ "$(grep -c 'p2pdma-dkms: ' "$log")" -eq 1 ] &&
		grep 'p2pdma-dkms: ' "$log" | grep -qE "$pattern"
}

build() {
	make -C "$REPO" --no-print-directory KVER="$TEST_KVER" BUILD="$OUT/build" "$@"
}

# A copy of the target's headers whose top-level links still resolve.
headers_copy() {
	local dir=$1 link
	cp -a "$(readlink -f "$TEST_KDIR")" "$dir"
	for link in "$dir"/*; do
		[ -L "$link" ] && ln -sfn "$(readlink -f "$TEST_KDIR/$(basename "$link")")" "$link"
	done
}

check "missing headers: stops and says what to install" \
	refuses 'no kernel headers at /lib/modules/0\.0\.0-none/build: install them \(apt-get install linux-headers-0\.0\.0-none\)' \
	make -C "$REPO" --no-print-directory KVER=0.0.0-none BUILD="$OUT/build"

headers_copy "$OUT/old-kernel"
sed -i 's/^#define LINUX_VERSION_PATCHLEVEL .*/#define LINUX_VERSION_PATCHLEVEL 6/' \
	"$OUT/old-kernel/include/generated/uapi/linux/version.h"
check "unsupported kernel series: stops and names the supported ones" \
	refuses 'kernel 6\.6\.[0-9]+ .* is not supported: this package supports Debian.s 6\.1 and 6\.12' \
	build KDIR="$OUT/old-kernel"

headers_copy "$OUT/p2pdma-kernel"
sed -i 's/^# CONFIG_PCI_P2PDMA is not set$/CONFIG_PCI_P2PDMA=y/' "$OUT/p2pdma-kernel/.config"
check "CONFIG_PCI_P2PDMA=y: make stops" \
	refuses 'has CONFIG_PCI_P2PDMA=y: use its own P2PDMA framework' \
	build KDIR="$OUT/p2pdma-kernel"

echo CONFIG_PCI_P2PDMA=y >>"$OUT/p2pdma-kernel/include/config/auto.conf"
check "CONFIG_PCI_P2PDMA=y: Kbuild stops a direct M= build" \
	refuses 'this kernel has CONFIG_PCI_P2PDMA=y' \
	make -C "$OUT/p2pdma-kernel" M="$REPO/build/$TEST_KVER" modules

# DKMS in a tree of its own, so the real installation stays untouched.
dkms_refuses_p2pdma_kernel() {
	local tree=$OUT/dkms version status=0
	version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")
	mkdir -p "$tree/dkms"
	"$REPO/scripts/copy-package" "$tree/source/p2pdma-$version"
	local opts=(--dkmstree "$tree/dkms" --sourcetree "$tree/source")
	dkms add "p2pdma/$version" "${opts[@]}" || return 1
	dkms build "p2pdma/$version" -k "$TEST_KVER" "${opts[@]}" \
		--kernelsourcedir "$OUT/p2pdma-kernel" || status=$?
	# 77: DKMS's "BUILD_EXCLUSIVE does not match, not built".
	[ "$status" -eq 77 ] && [ ! -e "$tree/dkms/p2pdma/$version/$TEST_KVER/x86_64/module" ]
}
check "CONFIG_PCI_P2PDMA=y: dkms build refuses (BUILD_EXCLUSIVE_CONFIG)" \
	dkms_refuses_p2pdma_kernel

# dkms_refuses_arch ARCH: DKMS, in its own tree, builds nothing for ARCH.
dkms_refuses_arch() {
	local tree=$OUT/dkms-$1 version status=0
	version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")
	mkdir -p "$tree/dkms"
	"$REPO/scripts/copy-package" "$tree/source/p2pdma-$version"
	local opts=(--dkmstree "$tree/dkms" --sourcetree "$tree/source")
	dkms add "p2pdma/$version" "${opts[@]}" || return 1
	dkms build "p2pdma/$version" -k "$TEST_KVER" -a "$1" "${opts[@]}" || status=$?
	[ "$status" -eq 77 ] && [ ! -e "$tree/dkms/p2pdma/$version/$TEST_KVER/$1/module" ]
}
check "another architecture (arm64): dkms build refuses (BUILD_EXCLUSIVE_ARCH)" \
	dkms_refuses_arch aarch64

mkdir -p "$OUT/no-source"
check "missing kernel source: stops and says how to get it" \
	refuses "no kernel source for $series .*apt-get install linux-source-$series" \
	env LINUX_SOURCE_DIR="$OUT/no-source" P2PDMA_CACHE="$OUT/cache" \
	make -C "$REPO" --no-print-directory KVER="$TEST_KVER" BUILD="$OUT/build"

check "KSRC= that is not a kernel tree: stops" \
	refuses "KSRC=$OUT/no-source is not a kernel tree" \
	build KSRC="$OUT/no-source"

mkdir -p "$OUT/old-source/drivers"
cp -pR "$src/Makefile" "$OUT/old-source/"
cp -pR "$src/drivers/nvme" "$OUT/old-source/drivers/"
older=$((${kversion##*.} - 1))
sed -i "s/^SUBLEVEL = .*/SUBLEVEL = $older/" "$OUT/old-source/Makefile"
check "source of another version: stops and names both versions" \
	refuses "is kernel $series\\.$older but the target kernel is $kversion" \
	build KSRC="$OUT/old-source"

"$REPO/scripts/copy-package" "$OUT/repo"
mkdir -p "$OUT/repo/nvmet-p2p/patches/$series"
cat >"$OUT/repo/nvmet-p2p/patches/$series/9999-does-not-apply.patch" <<'PATCH'
--- a/drivers/nvme/target/core.c
+++ b/drivers/nvme/target/core.c
@@ -1,3 +1,3 @@
-this line is not in core.c
+nor is this one
 and neither is this
PATCH
check "a patch that does not apply: stops and names it" \
	refuses "patch 9999-does-not-apply\\.patch does not apply to linux-source-$series" \
	make -C "$OUT/repo" --no-print-directory KVER="$TEST_KVER" BUILD="$OUT/build"

check "KSRC= of the target's version builds the nvmet family" \
	bash -c "make -C '$REPO' KVER='$TEST_KVER' BUILD='$OUT/ksrc-build' KSRC='$src' &&
		test -f '$OUT/ksrc-build/nvmet-p2p/drivers/nvme/target/nvmet.ko'"
