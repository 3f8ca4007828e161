#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make dkms-install" for one kernel puts our NVMe PCI driver and nvmet
# family in charge (modprobe resolves them to updates/dkms) and into the
# kernel's initramfs, with p2pdma.ko, which nvme.ko needs to boot from an
# NVMe root; "dkms remove" puts the in-tree ones back in charge and
# Debian's nvme.ko back into the initramfs, and drops p2pdma; DKMS's
# autoinstall, as installing that kernel's headers runs it (a kernel
# upgrade), brings ours back in both places. Leaves this checkout
# installed for the kernel.

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"

plan 10
modules=(nvme)
for ko in "$REPO/build/$TEST_KVER/nvmet-p2p/drivers/nvme/target/"*.ko; do
	modules+=("$(basename "$ko" .ko)")
done
echo "replaced modules of $TEST_KVER: ${modules[*]}"
initrd=/boot/initrd.img-$TEST_KVER
[ -e "$initrd" ] || bail "no $initrd: install initramfs-tools (scripts/setup does) and the kernel again"
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")

# all_resolve_to DIR: modprobe's file for every family module is under DIR.
all_resolve_to() {
	local m file
	for m in "${modules[@]}"; do
		file=$(modinfo -k "$TEST_KVER" -n "$m") || return 1
		echo "$m -> $file"
		[[ $file == "/lib/modules/$TEST_KVER/$1/"* ]] || return 1
	done
}
# initramfs_has NVME_DIR P2PDMA: the initramfs holds nvme.ko under
# NVME_DIR of the kernel's modules, and p2pdma.ko if P2PDMA is "yes".
initramfs_has() {
	local list nvme p2pdma
	list=$(lsinitramfs "$initrd") || return 1
	nvme=$(grep -E '/nvme\.ko(\.xz)?$' <<<"$list" | grep -F "lib/modules/$TEST_KVER/")
	p2pdma=$(grep -E '/p2pdma\.ko(\.xz)?$' <<<"$list")
	echo "in $initrd: ${nvme:-no nvme.ko} ${p2pdma:-, no p2pdma.ko}"
	[[ $nvme == *"/lib/modules/$TEST_KVER/$1/"* ]] && [ "$(wc -l <<<"$nvme")" = 1 ] || return 1
	if [ "$2" = yes ]; then [ -n "$p2pdma" ]; else [ -z "$p2pdma" ]; fi
}
# autoinstall: what installing the kernel's headers runs, from the package
# source in /usr/src, here this checkout's.
autoinstall() {
	rm -rf "/usr/src/p2pdma-$version"
	"$REPO/scripts/copy-package" "/usr/src/p2pdma-$version"
	/etc/kernel/header_postinst.d/dkms "$TEST_KVER" &&
		[ -n "$(dkms status -m p2pdma -v "$version" -k "$TEST_KVER" | grep installed)" ]
}

check "scripts/dkms install for $TEST_KVER (make dkms-install)" \
	"$REPO/scripts/dkms" install "$TEST_KVER"
check "our nvme driver and nvmet family are in charge" all_resolve_to updates/dkms
check "the initramfs holds our nvme.ko and p2pdma.ko" initramfs_has updates/dkms yes
check "dkms remove for $TEST_KVER" "$REPO/scripts/dkms" remove "$TEST_KVER"
check "after removal no p2pdma module is found" \
	bash -c "! modinfo -k '$TEST_KVER' -n p2pdma"
check "after removal the in-tree nvme driver and nvmet family are in charge" \
	all_resolve_to kernel/drivers/nvme
check "the initramfs holds Debian's nvme.ko again, and no p2pdma.ko" \
	initramfs_has kernel/drivers/nvme/host no
check "DKMS autoinstall for $TEST_KVER, as a kernel upgrade runs it" autoinstall
check "after it our nvme driver and nvmet family are in charge" all_resolve_to updates/dkms
check "the initramfs holds our nvme.ko and p2pdma.ko again" initramfs_has updates/dkms yes
