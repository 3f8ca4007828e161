#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# A file-backed namespace cannot take p2p pages: a subsystem that has one
# beside the drive keeps its queues on system memory, says so in the log
# and counts it, the provider is never touched, and the data of both
# namespaces is right.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 7
readonly SIZE=$((8 << 20))
ns2=$NVMET/subsystems/$TEST_NQN/namespaces/2

p2p_rig ivshmem
head -c "$SIZE" /dev/urandom >/tmp/pattern
truncate -s 64M /tmp/ns2.img
nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"
add_file_ns() {
	# Buffered: 6.1's tmpfs has no O_DIRECT.
	mkdir "$ns2" && echo /tmp/ns2.img >"$ns2/device_path" &&
		echo 1 >"$ns2/buffered_io" && echo 1 >"$ns2/enable"
}
check "a file-backed namespace 2 joins the subsystem" add_file_ns
allocs_before=$(cat "$mem/allocations")
check "nvme connect over rdma" run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN"
wait_namespace subsysnqn "$TEST_NQN" >/dev/null
remote_ns() {
	local b
	for b in /sys/block/nvme*n*; do
		# Not the per-path nvmeXcYnZ disks of native multipath: no node.
		[[ ${b##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		[ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$TEST_NQN" ] &&
			[ "$(cat "$b/nsid" 2>/dev/null)" = "$1" ] && echo "/dev/${b##*/}" && return
	done
	return 1
}
both_namespaces() {
	local r1 r2
	r1=$(remote_ns 1) && r2=$(remote_ns 2) || return 1
	echo "namespace 1 is $r1, namespace 2 is $r2"
	[ -b "$r1" ] && [ -b "$r2" ] || return 1
	write_direct /tmp/pattern "$r1" "$SIZE" && same_data /tmp/pattern "$r1" "$SIZE" &&
		write_direct /tmp/pattern "$r2" "$SIZE" && same_data /tmp/pattern "$r2" "$SIZE"
}
check "8 MiB written and read back on both namespaces" both_namespaces
file_holds_it() {
	head -c "$SIZE" /tmp/ns2.img >/tmp/ns2.head
	od -A d -t x1 -N 16 /tmp/ns2.head
	od -A d -t x1 -N 16 /tmp/pattern
	cmp /tmp/pattern /tmp/ns2.head
}
check "the file holds what was written to namespace 2" file_holds_it
on_system_memory() {
	cat "$P2P_PORT/p2pmem_stats"
	[ "$(port_stat queues_system_memory)" -ge 1 ] && [ "$(port_stat queues_p2p)" = 0 ]
}
check "the queues ran on system memory, counted" on_system_memory
check "the log names the file-backed namespace" \
	bash -c "dmesg | grep -q 'namespace 2 is not a block device: its I/O queues use system memory'"
check "the provider was not touched" [ "$(cat "$mem/allocations")" = "$allocs_before" ]
run nvme disconnect -n "$TEST_NQN"
nvmet_clear
run rdma link delete rxe0
