#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --iommu --append iommu=pt
#
# The remedy that p2pdma's IOMMU refusal names, applied: with iommu=pt the
# switch-local path is accepted, and the opted-in, allowlisted path through
# the host bridge is accepted too, with the ACS redirect the kernel set on
# the root ports left as it is.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 6
setup_providers || bail "cannot register the rig's providers"
domain=$(cat "/sys/bus/pci/devices/$nic/iommu_group/type") || bail "the NIC has no IOMMU group"
echo "IOMMU domain of $nic: $domain"

explain "$shm" "$nic"
check "iommu=pt: the NIC's IOMMU domain is identity" [ "$domain" = identity ]
check "same switch, identity domain: accepted" \
	expect_verdict "$shm" "$nic" "accepted: same switch, distance $(pci_hops "$shm" "$nic")"
check "find gives the NIC a provider" finds_provider "$nic"
acs_set() {
	local port ctrl
	for port in 0000:00:10.0 0000:00:11.0; do
		ctrl=$(setpci -s "$port" ECAP_ACS+6.w) || return 1
		echo "ACS control of $port: $ctrl"
		(((0x$ctrl & 0x2c) != 0)) || return 1
	done
}
check "the kernel set ACS redirect on the root ports, and it stays" acs_set
echo 1 >/sys/module/p2pdma/parameters/allow_host_bridge
host_bridge_id >/sys/kernel/debug/p2pdma/host_bridge_allowlist
explain "$shm" "$outside"
check "through the allowlisted host bridge: accepted" \
	expect_verdict "$shm" "$outside" "accepted: through host bridge, distance $(pci_hops "$shm" "$outside")"
check "find gives the outside drive a provider" finds_provider "$outside"
