#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
# rig-options: --iommu
#
# The IOMMU variant of the rig: with intel-iommu and intel_iommu=on every
# rig device sits in a translated (DMA or DMA-FQ) IOMMU group.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 5

run modprobe nvme || bail "cannot load nvme"
wait_for /sys/class/nvme/nvme2 || bail "the three rig drives did not appear"

translated() {
	local group type
	group=$(readlink -f "/sys/bus/pci/devices/$1/iommu_group") || return 1
	type=$(cat "$group/type") || return 1
	echo "$1: group $(basename "$group"), type $type"
	[ "$type" = DMA ] || [ "$type" = DMA-FQ ]
}
check "the guest booted with intel_iommu=on" grep -qw intel_iommu=on /proc/cmdline
check "p2p-cmb is in a translated IOMMU group" translated "$(pci_by_serial p2p-cmb)"
check "p2p-outside is in a translated IOMMU group" translated "$(pci_by_serial p2p-outside)"
check "ivshmem is in a translated IOMMU group" translated "$(pci_by_id 0x1af4:0x1110)"
check "the NIC is in a translated IOMMU group" translated "$(pci_by_id 0x8086:0x10d3)"
