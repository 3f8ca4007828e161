#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
#
# Topology verdicts on the plain rig, as p2pdma-explain reports
# them: the same device and devices behind the switch are accepted with
# distances counted from the sysfs paths; the drive under the other root
# port is refused until the operator opts in and the host bridge is on the
# allowlist (added through the test-only debugfs knob); ACS redirect on a
# root port of that path is refused with the boot parameter that lifts it;
# bad policy input is refused and changes nothing.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 19
setup_providers || bail "cannot register the rig's providers"
params=/sys/module/p2pdma/parameters
allowlist=/sys/kernel/debug/p2pdma/host_bridge_allowlist
host_bridge=0000:00:00.0
hb_id=$(host_bridge_id)
outside_port=$(basename "$(dirname "$(readlink -f "/sys/bus/pci/devices/$outside")")")

explain "$cmb" "$legacy" "$shm" "$nic" "$outside"
check "same device: the CMB for its own drive, distance 0" \
	expect_verdict "$cmb" "$cmb" "accepted: same device, distance 0"
switch_ok() {
	expect_verdict "$1" "$2" "accepted: same switch, distance $(pci_hops "$1" "$2") (common bridge $(common_bridge "$1" "$2"))"
}
check "same switch: the ivshmem BAR for the NIC" switch_ok "$shm" "$nic"
more_switch_ok() {
	switch_ok "$cmb" "$nic" && switch_ok "$cmb" "$legacy" &&
		switch_ok "$legacy" "$shm"
}
check "same switch: the CMBs for the NIC, each other and the ivshmem" more_switch_ok
check "distances: the same device is closer than the same switch" \
	[ "$(pci_hops "$cmb" "$cmb")" -lt "$(pci_hops "$cmb" "$nic")" ]
check "under the other root port: refused, the path crosses the host bridge" \
	expect_verdict "$shm" "$outside" "refused: different switch: the path goes through the host bridge"
check "the NIC can use all three providers" \
	grep -qx "$nic can use: $cmb (distance 4) $legacy (distance 4) $shm (distance 4)" <<<"$report"
check "the outside drive can use none" grep -qx "$outside can use: none" <<<"$report"

check "allow_host_bridge=2 is refused, the policy stays off" \
	bash -c "! echo 2 >$params/allow_host_bridge && [ \$(cat $params/allow_host_bridge) = N ] && dmesg | grep -q 'allow_host_bridge=2: give 0 or 1'"
echo 1 >"$params/allow_host_bridge"
explain "$shm" "$outside"
check "opted in, q35's host bridge is named as not on the allowlist" \
	expect_verdict "$shm" "$outside" "refused: the path goes through host bridge $host_bridge [$hb_id], which is not on the allowlist"
check "a malformed allowlist entry is refused and adds nothing" \
	bash -c "! echo 'zz:1' >$allowlist && ! echo '8086:29c0:1' >$allowlist && ! grep -q added $allowlist"
echo "$hb_id" >"$allowlist"
check "the test knob lists the host bridge as added" grep -qx "$hb_id added" "$allowlist"
explain "$shm" "$outside"
check "allowlisted: accepted through the host bridge, at the distance of the sysfs paths" \
	expect_verdict "$shm" "$outside" "accepted: through host bridge, distance $(pci_hops "$shm" "$outside")"
check "the host bridge path is longer than the switch path" \
	[ "$(pci_hops "$shm" "$outside")" -gt "$(pci_hops "$shm" "$nic")" ]

# ACS P2P Request and Completion Redirect on the outside drive's root port.
acs=$(setpci -s "$outside_port" ECAP_ACS+6.w)
echo "ACS control of $outside_port: $acs"
run setpci -s "$outside_port" "ECAP_ACS+6.w=$(printf '%04x' $((0x$acs | 0xc)))"
explain "$shm" "$outside"
check "ACS redirect on the root port of a host bridge path refuses nothing" \
	expect_verdict "$shm" "$outside" "accepted: through host bridge, distance $(pci_hops "$shm" "$outside")"
run setpci -s "$outside_port" "ECAP_ACS+6.w=$(printf '%04x' $((0x$acs | 0x8)))"
explain "$shm" "$outside"
check "nor does Completion Redirect alone" \
	expect_verdict "$shm" "$outside" "accepted: through host bridge"
run setpci -s "$outside_port" ECAP_ACS+6.w="$acs"
explain "$shm" "$outside"
check "ACS restored: accepted again" \
	expect_verdict "$shm" "$outside" "accepted: through host bridge"

echo clear >"$allowlist"
explain "$shm" "$outside"
check "allowlist cleared: refused again" \
	expect_verdict "$shm" "$outside" "refused: the path goes through host bridge"
echo 0 >"$params/allow_host_bridge"
explain "$shm" "$outside"
check "opted out: refused as a different switch" \
	expect_verdict "$shm" "$outside" "refused: different switch"
check "explain refuses a device that does not exist" \
	bash -c "! $explain_script 0000:0f:1f.7 2>/dev/null && ! echo 'nonsense' >/sys/kernel/debug/p2pdma/explain"
