#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# The namespace attribute p2pmem, upstream's values: it reads 1 by
# default; bad input is refused (EINVAL, or ENODEV for a PCI name with no
# p2p memory) and so is any change while the namespace is enabled (EBUSY),
# each leaving the value as it was. A PCI name pins the provider: with the
# drive's own CMB closest, pinning the ivshmem BAR puts the queues and the
# data there (the host's backing file has the blocks). A second namespace
# pinning another provider is refused; a namespace with p2pmem 0 on the
# drive outside the switch enables while connected, and its I/O moves on
# system memory (the port's p2p I/O count stays put) and lands on the drive.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 21
readonly SIZE=$((8 << 20))
backing=/run/out/ivshmem.bin
subsys=$NVMET/subsystems/$TEST_NQN
ns1=$subsys/namespaces/1

p2p_rig cmb
cmb_mem=$mem
cmb=$(pci_by_serial p2p-cmb)
legacy_cmb=$(pci_by_serial p2p-legacy)
outside=$(wait_namespace serial p2p-outside) || bail "no rig drive p2p-outside"
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"
shm_mem=/sys/bus/pci/devices/$shm/p2pmem
wait_for "/sys/bus/pci/devices/$legacy_cmb/p2pmem" || bail "the legacy CMB did not register"
legacy=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"

# refused VALUE ERRNO-TEXT: writing VALUE to namespace 1's p2pmem fails
# with that error and leaves the value as it was.
refused() {
	local before
	before=$(cat "$ns1/p2pmem")
	! echo "$1" >"$ns1/p2pmem" 2>/tmp/err && grep -q "$2" /tmp/err &&
		[ "$(cat "$ns1/p2pmem")" = "$before" ]
}
# takes VALUE READ...: namespace 1's p2pmem takes each VALUE and reads READ.
takes() {
	while [ $# -ge 2 ]; do
		echo "$1" >"$ns1/p2pmem" && [ "$(cat "$ns1/p2pmem")" = "$2" ] || return 1
		shift 2
	done
}
# ns_enable NSID DEVICE P2PMEM: create namespace NSID on DEVICE with that
# p2pmem, and enable it.
ns_enable() {
	local ns=$subsys/namespaces/$1
	mkdir -p "$ns" && echo "$2" >"$ns/device_path" &&
		echo "$3" >"$ns/p2pmem" && echo 1 >"$ns/enable"
}
# pin_conflict_refused: namespace 2 on the legacy drive, pinned to its
# own CMB, fails to enable with EINVAL and a log line naming both pins.
pin_conflict_refused() {
	dmesg -C
	! ns_enable 2 "$legacy" "$legacy_cmb" 2>/tmp/err &&
		grep -q 'Invalid argument' /tmp/err &&
		dmesg | grep -q "namespace 2 pins p2p memory $legacy_cmb, namespace 1 pins $shm"
}
# sysmem_io DEVICE TARGET: data written to DEVICE with O_DIRECT is on
# TARGET, and no I/O of the port used p2p memory meanwhile.
sysmem_io() {
	local ios
	ios=$(port_stat ios)
	head -c "$SIZE" /dev/urandom >/tmp/pattern3
	write_direct /tmp/pattern3 "$1" "$SIZE" && same_data /tmp/pattern3 "$2" "$SIZE" &&
		[ "$(port_stat ios)" = "$ios" ]
}
# all_back: both providers have all their memory free.
all_back() {
	local m
	for m in "$cmb_mem" "$shm_mem"; do
		[ "$(cat "$m/in_use")" = 0 ] && [ "$(cat "$m/available")" = "$(cat "$m/size")" ] || return 1
	done
}

mkdir -p "$ns1"
check "p2pmem reads 1 on a new namespace" [ "$(cat "$ns1/p2pmem")" = 1 ]
check "p2pmem=maybe is refused (EINVAL)" refused maybe 'Invalid argument'
check "a PCI name that does not exist is refused (ENODEV)" \
	refused 0000:00:1f.7 'No such device'
check "the NIC, which has no p2p memory, is refused (ENODEV)" \
	refused "$(pci_by_id 0x8086:0x10d3)" 'No such device'
check "p2pmem takes 0, off, y and the ivshmem BAR's name" \
	takes 0 0 off 0 y 1 "$shm" "$shm"
rmdir "$ns1" "$subsys"

check "export the drive pinned to the ivshmem BAR, on a port with allow_p2pmem=1" \
	nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 "ns.p2pmem=$shm"
check "p2pmem cannot change while the namespace is enabled (EBUSY)" \
	refused 1 'Device or resource busy'
check "nvme connect over rdma" run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN"
remote=$(wait_namespace subsysnqn "$TEST_NQN")
check "the remote namespace appears (${remote:-none})" [ -b "$remote" ]
check "the I/O queues took the pinned ivshmem BAR, not the closer CMB $cmb" queues_on "$shm"
run_id=$RANDOM$RANDOM
marked_pattern "$run_id" "$SIZE" >/tmp/pattern
check "write with O_DIRECT through the connection" write_direct /tmp/pattern "$remote" "$SIZE"
check "the drive itself holds the pattern" same_data /tmp/pattern "$drive" "$SIZE"
check "blocks of the pattern passed through the ivshmem BAR (host backing file)" \
	pattern_passed_through "$backing" "$run_id" /tmp/pattern
check "the CMB gave nothing" [ "$(cat "$cmb_mem/allocations")" = 0 ]

check "a second namespace pinning another provider is refused (EINVAL, logged)" pin_conflict_refused
outside_refused() { ! ns_enable 3 "$outside" 1 2>/dev/null; }
check "the outside drive with p2pmem 1 is refused while connected" outside_refused
check "the outside drive with p2pmem 0 enables while connected" ns_enable 3 "$outside" 0
wait_for_remote3() { remote3=$(remote_nsid 3); }
for ((i = 0; i < 200; i++)); do wait_for_remote3 && break; sleep 0.1; done
check "namespace 3 appears on the host (${remote3:-none})" [ -b "$remote3" ]
check "namespace 3 moves data on system memory, to the outside drive" \
	sysmem_io "$remote3" "$outside"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
check "both providers have all their memory back" all_back
run rdma link delete rxe0
