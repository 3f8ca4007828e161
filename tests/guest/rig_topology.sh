#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
#
# The rig is what later tests rely on: two CMB drives, the ivshmem BAR and
# the NIC behind one PCIe switch, one drive outside it, BAR sizes as QEMU
# was given them, no IOMMU, and the ivshmem BAR is the host's backing file.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 9

run modprobe -a nvme e1000e || bail "cannot load drivers"
wait_for /sys/class/nvme/nvme2 || bail "the three rig drives did not appear"
cmb=$(pci_by_serial p2p-cmb)
legacy=$(pci_by_serial p2p-legacy)
outside=$(pci_by_serial p2p-outside)
ivshmem=$(pci_by_id 0x1af4:0x1110)
nic=$(pci_by_id 0x8086:0x10d3)
echo "cmb=$cmb legacy=$legacy outside=$outside ivshmem=$ivshmem nic=$nic"

# upstream_port BDF: the switch upstream port above BDF (its grandparent).
upstream_port() {
	basename "$(dirname "$(dirname "$(readlink -f "/sys/bus/pci/devices/$1")")")"
}
switch=$(upstream_port "$cmb")

behind_switch() {
	local d
	[ "$(cat "/sys/bus/pci/devices/$switch/class")" = 0x060400 ] || return 1
	for d in "$cmb" "$legacy" "$ivshmem" "$nic"; do
		echo "$d under $(upstream_port "$d")"
		[ "$(upstream_port "$d")" = "$switch" ] || return 1
	done
}
check "CMB drives, ivshmem and NIC sit behind one switch ($switch)" behind_switch
check "the p2p-outside drive is not behind that switch" \
	bash -c "! readlink -f /sys/bus/pci/devices/$outside | grep -q /$switch/"
check "p2p-cmb BAR2 is the CMB QEMU was given" \
	[ "$(bar_size "$cmb" 2)" = "$RIG_CMB_BYTES" ]
check "p2p-legacy BAR2 is the CMB QEMU was given" \
	[ "$(bar_size "$legacy" 2)" = "$RIG_CMB_BYTES" ]
check "p2p-outside has no CMB BAR" [ "$(bar_size "$outside" 2)" = 0 ]
check "ivshmem BAR2 is the size of the host's backing file" \
	[ "$(bar_size "$ivshmem" 2)" = "$(stat -c %s /run/out/ivshmem.bin)" ]

bar_py=$(dirname "$0")/../lib/bar.py
token="p2pdma-rig-$RANDOM$RANDOM"
echo 1 >"/sys/bus/pci/devices/$ivshmem/enable"
run "$bar_py" write "$ivshmem" 2 0x100000 "$token"
check "a write to the ivshmem BAR lands in the host's backing file" \
	bash -c "dd if=/run/out/ivshmem.bin bs=1M skip=1 count=1 status=none |
		head -c ${#token} | grep -qx '$token'"
check "the ivshmem BAR reads back what was written" \
	bash -c "'$bar_py' read $ivshmem 2 0x100000 ${#token} | grep -qx '$token'"
check "no IOMMU translates the rig devices" \
	[ ! -e "/sys/bus/pci/devices/$cmb/iommu_group" ]
