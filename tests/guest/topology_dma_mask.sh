#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --ivshmem-mb 1024
#
# A client whose DMA mask does not reach the provider: with a 1 GiB
# ivshmem BAR the firmware puts the 64-bit BARs above 4 GiB, and the NIC,
# bound to the test client with a 32-bit mask, is refused with its mask
# and the BAR's end; bound again with a 64-bit mask it is accepted.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 7
setup_providers || bail "cannot register the rig's providers"
read -r bar_start bar_end _ < <(sed -n 3p "/sys/bus/pci/devices/$shm/resource")
echo "ivshmem BAR 2: $bar_start - $bar_end"
# bind_nic BITS: the NIC bound to the test client with a BITS-bit mask.
bind_nic() {
	local d=/sys/bus/pci/devices/$nic
	[ -e "$d/driver" ] && echo "$nic" >"$d/driver/unbind"
	echo "$1" >/sys/module/p2pdma_test/parameters/dma_bits &&
		echo p2pdma_test >"$d/driver_override" &&
		echo "$nic" >/sys/bus/pci/drivers_probe &&
		[ "$(basename "$(readlink "$d/driver")")" = p2pdma_test ]
}

check "the ivshmem BAR lies above 4 GiB" [ $((bar_start)) -ge $((1 << 32)) ]
check "the NIC binds to the test client with a 32-bit DMA mask" bind_nic 32
explain "$shm" "$nic"
check "32-bit mask: refused, naming the mask and the BAR's end" \
	expect_verdict "$shm" "$nic" "refused: the client's DMA mask 0xffffffff does not reach the provider's bus addresses (up to $(printf '%#x' "$bar_end"))"
check "find gives the NIC none" [ "$(find_for "$nic")" = none ]
check "the NIC binds again with a 64-bit DMA mask" bind_nic 64
explain "$shm" "$nic"
check "64-bit mask: accepted" \
	expect_verdict "$shm" "$nic" "accepted: same switch, distance $(pci_hops "$shm" "$nic")"
check "find gives the NIC a provider" finds_provider "$nic"
