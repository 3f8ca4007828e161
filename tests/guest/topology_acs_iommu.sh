#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --acs-pair --iommu
#
# Under a translating IOMMU the kernel sets ACS redirect on the root
# ports, rp3 among them: between the two functions below it the traffic
# goes up through the host bridge, where the IOMMU sees it. Refused unless
# allowed and allowlisted, without advising pci=disable_acs_redir (across
# the root port the peer would see IOVAs: turning redirect off would only
# weaken isolation); allowed, accepted with the DMA translated.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 4
setup_providers || bail "cannot register the rig's providers"
mf=$(pci_by_serial p2p-mf) || bail "no p2p-mf: not the --acs-pair rig"
pair=${mf%.1}.0
rp3=$(basename "$(dirname "$(readlink -f "/sys/bus/pci/devices/$mf")")")
bind_bar_provider "$pair" || bail "the pair's ivshmem did not register"
domain=$(cat "/sys/bus/pci/devices/$mf/iommu_group/type")
acs=$(setpci -s "$rp3" ECAP_ACS+6.w)
echo "pair: $pair and $mf below $rp3 (ACS control $acs, domain $domain)"

check "the kernel set ACS redirect on $rp3 and translates $mf's DMA" \
	bash -c "(((0x$acs & 0xc) != 0)) && [ \"${domain#DMA}\" != \"$domain\" ]"
explain "$pair" "$mf"
check "refused for the redirect, naming the host bridge opt-in" \
	expect_verdict "$pair" "$mf" "refused: ACS redirect on $rp3 sends the traffic up through the host bridge, which p2pdma uses only with allow_host_bridge=1 and a host bridge on the allowlist"
no_acs_advice() { ! verdict "$pair" "$mf" | grep -q disable_acs_redir; }
check "without advising pci=disable_acs_redir" no_acs_advice
echo 1 >/sys/module/p2pdma/parameters/allow_host_bridge
host_bridge_id >/sys/kernel/debug/p2pdma/host_bridge_allowlist
explain "$pair" "$mf"
check "allowed and allowlisted: accepted through the host bridge, translated" \
	expect_verdict "$pair" "$mf" "accepted: through host bridge"
