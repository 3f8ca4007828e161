#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1
# runs: host
#
# In the kernel's root (TEST_ROOT, the bookworm root: every command that
# reads or changes its installation runs there, with in_root), with the
# p2pdma-dkms package installed (tests/run --install, or debian_package
# before this), our NVMe PCI driver and nvmet family are in charge for
# the kernel (modprobe resolves them to updates/dkms, this
# build's srcversions) and in its initramfs, with p2pdma.ko, which nvme.ko
# needs to boot from an NVMe root. A user's "dkms remove" for that one
# kernel puts the in-tree ones back in charge and Debian's nvme.ko back
# into the initramfs, and drops p2pdma (a guest then serves NVMe-oF with
# Debian's nvmet); DKMS's autoinstall, as installing
# that kernel's headers runs it (a kernel upgrade), brings ours back in
# both places, from the package's source. Leaves the package's modules
# installed for the kernel.

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"
# shellcheck source=tests/lib/root.sh
. "$REPO/tests/lib/root.sh"
# shellcheck source=tests/lib/stock_guest.sh
. "$REPO/tests/lib/stock_guest.sh"

plan 11
root=${TEST_ROOT:?tests/run names the root of the kernel}
modules=(nvme)
for ko in "$REPO/build/$TEST_KVER/nvmet-p2p/drivers/nvme/target/"*.ko; do
	modules+=("$(basename "$ko" .ko)")
done
echo "replaced modules of $TEST_KVER: ${modules[*]}"
initrd=/boot/initrd.img-$TEST_KVER
[ -e "$root$initrd" ] || bail "no $initrd in $root: install initramfs-tools there and the kernel again"
in_root_package "$root" package_installed p2pdma-dkms ||
	bail "the p2pdma-dkms package is not installed in $root: run tests/run --install"
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")

# installed_here: DKMS has this version installed for the kernel.
installed_here() {
	local status
	status=$(in_root "$root" dkms status -m p2pdma -v "$version" -k "$TEST_KVER")
	echo "$status"
	[[ $status == *': installed'* ]]
}
# all_resolve_to DIR: modprobe's file for every family module is under DIR.
all_resolve_to() {
	local m file
	for m in "${modules[@]}"; do
		file=$(in_root "$root" modinfo -k "$TEST_KVER" -n "$m") || return 1
		echo "$m -> $file"
		[[ $file == "/lib/modules/$TEST_KVER/$1/"* ]] || return 1
	done
}
# no_p2pdma: modprobe finds no p2pdma for the kernel (negated in the
# root: in_root failing must not pass).
no_p2pdma() {
	# shellcheck disable=SC2016 # expanded in the root
	in_root "$root" sh -c '! modinfo -k "$1" -n p2pdma' no_p2pdma "$TEST_KVER"
}
# autoinstall: what installing the kernel's headers runs, from the
# package's source in /usr/src.
autoinstall() {
	in_root "$root" /etc/kernel/header_postinst.d/dkms "$TEST_KVER" && installed_here
}

check "the package's DKMS modules are installed for $TEST_KVER" installed_here
check "our nvme driver and nvmet family are in charge, this build's" \
	in_root_package "$root" installed_is_build "$TEST_KVER"
check "the initramfs holds our nvme.ko and p2pdma.ko" \
	in_root_package "$root" initramfs_has "$TEST_KVER" updates/dkms yes
check "dkms remove p2pdma/$version -k $TEST_KVER (a user removing it from one kernel)" \
	in_root "$root" dkms remove "p2pdma/$version" -k "$TEST_KVER"
check "after removal no p2pdma module is found" no_p2pdma
check "after removal the in-tree nvme driver and nvmet family are in charge" \
	all_resolve_to kernel/drivers/nvme
check "the initramfs holds Debian's nvme.ko again, and no p2pdma.ko" \
	in_root_package "$root" initramfs_has "$TEST_KVER" kernel/drivers/nvme/host no
check "a guest on the root then serves NVMe-oF over rdma with Debian's nvmet" \
	stock_nvmet_guest "$OUT/stock" "$TEST_KVER" "$root"
check "DKMS autoinstall for $TEST_KVER, as a kernel upgrade runs it" autoinstall
check "after it our nvme driver and nvmet family are in charge, this build's" \
	in_root_package "$root" installed_is_build "$TEST_KVER"
check "the initramfs holds our nvme.ko and p2pdma.ko again" \
	in_root_package "$root" initramfs_has "$TEST_KVER" updates/dkms yes
