#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
# rig-options: --acs-pair
#
# ACS redirect on the bridge two devices share: the rig's switch ports
# have no ACS, so the pair here is two functions of one device below root
# port rp3, which has. Without redirect the root port routes between them
# (a switch path); with it their traffic goes up through the host bridge,
# refused unless allowed and allowlisted, and then accepted as a host
# bridge path; with no IOMMU here, pci=disable_acs_redir is the other way
# out. A verdict cached before redirect was set by hand (which nothing
# notices) is walked again when the client is hot-added again.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 7
params=/sys/module/p2pdma/parameters
allowlist=/sys/kernel/debug/p2pdma/host_bridge_allowlist
setup_providers || bail "cannot register the rig's providers"
mf=$(pci_by_serial p2p-mf) || bail "no p2p-mf: not the --acs-pair rig"
pair=${mf%.1}.0
rp3=$(basename "$(dirname "$(readlink -f "/sys/bus/pci/devices/$mf")")")
bind_bar_provider "$pair" || bail "the pair's ivshmem did not register"
acs=$(setpci -s "$rp3" ECAP_ACS+6.w) || bail "$rp3 has no ACS"
echo "pair: $pair and $mf below $rp3 (ACS control $acs)"
redirect() { setpci -s "$rp3" "ECAP_ACS+6.w=$(printf '%04x' $((0x$acs | 0xc)))"; }
# hb_hops A B: links from each up to the host bridge: the PCI devices on
# their sysfs paths.
hb_hops() {
	{ sysfs_path "$1"; sysfs_path "$2"; } | grep -cE '^[0-9a-f]{4}:'
}

explain "$pair" "$mf"
check "below one root port without redirect: accepted, the root port routing" \
	expect_verdict "$pair" "$mf" "accepted: same switch, distance $(pci_hops "$pair" "$mf") (common bridge $rp3)"
run redirect
explain "$pair" "$mf"
check "ACS redirect on it sends the traffic up: refused, naming disable_acs_redir (no IOMMU)" \
	expect_verdict "$pair" "$mf" "refused: ACS redirect on $rp3 sends the traffic up through the host bridge, which p2pdma uses only with allow_host_bridge=1 and a host bridge on the allowlist; or boot with pci=disable_acs_redir=$rp3"
echo 1 >"$params/allow_host_bridge"
host_bridge_id >"$allowlist"
explain "$pair" "$mf"
check "opted in and allowlisted: accepted as a host bridge path" \
	expect_verdict "$pair" "$mf" "accepted: through host bridge, distance $(hb_hops "$pair" "$mf") (ACS redirect on $rp3 sends it up)"
echo clear >"$allowlist"
echo 0 >"$params/allow_host_bridge"

# With redirect, find caches a refusal (the switch-side providers are
# host bridge paths, refused too). Redirect cleared by hand is noticed by
# nothing, until the client is hot-added again.
check "with redirect, find gives the client no provider" [ "$(find_for "$mf")" = none ]
run setpci -s "$rp3" "ECAP_ACS+6.w=$acs"
check "the cached refusal outlives redirect cleared by hand" [ "$(find_for "$mf")" = none ]
echo 1 >"/sys/bus/pci/devices/$mf/remove"
echo 1 >/sys/bus/pci/rescan
wait_for "/sys/bus/pci/devices/$mf" || bail "p2p-mf did not come back"
check "once the client is hot-added again, its verdict is walked afresh: the pair's memory" \
	[ "$(find_for "$mf")" = "$pair" ]
check "p2pdma-explain agrees" \
	bash -c "$(declare -f explain verdict expect_verdict); explain_script=$explain_script; explain $pair $mf >/dev/null; expect_verdict $pair $mf 'accepted: same switch'"
