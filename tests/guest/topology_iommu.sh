#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --iommu
#
# Topology verdicts with an IOMMU that translates (intel-iommu, DMA
# domains): a client behind the switch is refused, since its traffic to a
# BAR behind the switch never reaches the IOMMU that its addresses need;
# the path through the host bridge, opted in and allowlisted, is accepted
# although the kernel enabled ACS redirect on the root ports under the
# IOMMU: that traffic goes up to the host bridge, and the IOMMU, anyway.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 6
setup_providers || bail "cannot register the rig's providers"
domain=$(cat "/sys/bus/pci/devices/$nic/iommu_group/type") || bail "the NIC has no IOMMU group"
echo "IOMMU domain of $nic: $domain"

explain "$shm" "$nic"
check "the NIC's DMA is translated ($domain), as the rig intends" [ "${domain#DMA}" != "$domain" ]
check "same switch, translated client: refused, naming the domain and iommu=pt" \
	expect_verdict "$shm" "$nic" "refused: the client's DMA is translated by the IOMMU ($domain domain), which traffic across a switch never reaches: boot with iommu=pt"
check "find gives the NIC none" [ "$(find_for "$nic")" = none ]

# acs_redirecting BDF...: those of BDFs whose ACS control has P2P Request
# or Completion Redirect or Egress Control set, joined with ';'.
acs_redirecting() {
	local d ctrl list=
	for d in "$@"; do
		ctrl=$(setpci -s "$d" ECAP_ACS+6.w 2>/dev/null) || continue
		(((0x$ctrl & 0x2c) != 0)) && list+="${list:+;}$d"
	done
	echo "$list"
}
# The devices from the provider up to its root port, then from the client.
mapfile -t path < <({ sysfs_path "$shm" | tac; sysfs_path "$outside" | tac; } | grep -E '^[0-9a-f]{4}:')
expected=$(acs_redirecting "${path[@]}")
echo "ACS redirect set by the kernel on: $expected"
echo 1 >/sys/module/p2pdma/parameters/allow_host_bridge
host_bridge_id >/sys/kernel/debug/p2pdma/host_bridge_allowlist
explain "$shm" "$outside"
check "the kernel enabled ACS redirect on the root ports" [ -n "$expected" ]
check "through the host bridge, translated: accepted, ACS redirect or not" \
	expect_verdict "$shm" "$outside" "accepted: through host bridge, distance $(pci_hops "$shm" "$outside")"
check "find gives the outside drive a provider" finds_provider "$outside"
