#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
#
# p2pdma_find() on the plain rig, through the test client: equal providers
# take turns, a provider that is a client wins, a full provider is passed
# over, a refused client gets none, an opted-in host bridge path gets
# one; rxe is refused unless soft_rdma=1, and is then
# judged as the NIC under its netdev, in the kernel and in p2pdma-explain.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 12
readonly ADDR=192.0.2.1
setup_providers || bail "cannot register the rig's providers"
params=/sys/module/p2pdma/parameters
allowlist=/sys/kernel/debug/p2pdma/host_bridge_allowlist
providers="$cmb $legacy $shm"

# three_finds CLIENT...: the providers of three finds, sorted.
three_finds() {
	local i
	for i in 1 2 3; do find_for "$@"; done | sort | tr '\n' ' '
}
full_passed_over() {
	local got
	got=$(three_finds "$nic")
	echo "finds for $nic: $got"
	! grep -q "$shm" <<<"$got"
}
check "three finds for the NIC take turns over the three providers" \
	[ "$(three_finds "$nic")" = "$(tr ' ' '\n' <<<"$providers" | sort | tr '\n' ' ')" ]
check "a provider that is one of the clients wins every time" \
	[ "$(three_finds "$cmb" "$nic")" = "$cmb $cmb $cmb " ]
check "the outside drive gets none" [ "$(find_for "$outside")" = none ]
check "neither do the NIC and the outside drive together" [ "$(find_for "$nic" "$outside")" = none ]

run echo "alloc $shm $(cat "/sys/bus/pci/devices/$shm/p2pmem/available")" >"$find_ctl"
check "a full provider is passed over" full_passed_over
run echo "free $shm" >"$find_ctl"

# A host bridge path, opted in and allowlisted, gets a provider. (That a
# cached verdict does not outlive a hot-add is topology_acs's.)
echo 1 >"$params/allow_host_bridge"
host_bridge_id >"$allowlist"
check "allowlisted host bridge: the outside drive gets a provider" \
	finds_provider "$outside"
echo clear >"$allowlist"
echo 0 >"$params/allow_host_bridge"

# rxe over the NIC: a client whose "DMA" is the CPU's.
run modprobe -a e1000e crc32_generic rdma_rxe || bail "cannot load rxe"
netdev=$(rig_nic) || bail "no e1000e netdev"
run ip link set "$netdev" up
run ip addr add "$ADDR/24" dev "$netdev"
run rdma link add rxe0 type rxe netdev "$netdev" || bail "cannot add rxe0"
explain "$shm" rxe0
check "explain resolves rxe0 to a virtual client over the NIC, refused" \
	expect_verdict "$shm" "virt:$nic" "refused: the client moves data with the CPU (software RDMA)"
check "find gives rxe none" [ "$(find_for "virt:$nic")" = none ]
check "soft_rdma=1 is accepted at run time" bash -c "echo 1 >$params/soft_rdma"
explain "$shm" rxe0
check "with soft_rdma=1, rxe is judged as the NIC: same switch" \
	expect_verdict "$shm" "virt:$nic" "accepted: same switch, distance $(pci_hops "$shm" "$nic")"
check "and find gives it a provider" finds_provider "virt:$nic"
echo 0 >"$params/soft_rdma"
run rdma link delete rxe0
run rmmod p2pdma_test
check "nvme and p2pdma unload with their providers registered" unloads nvme p2pdma
