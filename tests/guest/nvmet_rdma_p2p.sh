#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie debug
# rig-options: --ivshmem-mb 8
#
# nvmet-rdma with allow_p2pmem over rxe (soft_rdma=1, the test-rig option):
# the port refuses bad input, its I/O queues take their data buffers from
# the ivshmem BAR behind the switch (the only provider: cmb=0), data written through the connection
# reads back and is on the drive, blocks of it are in the host's ivshmem
# backing file, the counters rise, and everything is given back at
# disconnect. Then a port with allow_p2pmem=0, and rxe without
# soft_rdma, leave the provider untouched and still move the data.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 26
# 4 MiB through the p2p buffers shows the data path; the later round trips
# show where buffers came from, 1 MiB each. Short, because the debug
# kernel runs this test too (16 MiB took it 2 minutes more there), as is
# the 8 MiB BAR: the guest reads all its backing file over 9p, which took
# the debug kernel 55 s for 64 MiB.
readonly SIZE=$((4 << 20)) ROUND_TRIP=$((1 << 20))
backing=/run/out/ivshmem.bin
port=$P2P_PORT

p2p_rig ivshmem

run_id=$RANDOM$RANDOM
marked_pattern "$run_id" "$SIZE" >/tmp/pattern

mkdir -p "$port"
check "allow_p2pmem is 0 on a new port" [ "$(cat "$port/allow_p2pmem")" = 0 ]
check "allow_p2pmem=maybe is refused with EINVAL and changes nothing" \
	bash -c "! echo maybe >$port/allow_p2pmem 2>/tmp/err && grep -q 'Invalid argument' /tmp/err && [ \$(cat $port/allow_p2pmem) = 0 ]"
rmdir "$port"
check "export the drive on an RDMA port with allow_p2pmem=1" \
	nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1
check "allow_p2pmem cannot change while the port is enabled (EACCES)" \
	bash -c "! echo 0 >$port/allow_p2pmem 2>/tmp/err && grep -q 'Permission denied' /tmp/err && [ \$(cat $port/allow_p2pmem) = 1 ]"
allocs_before=$(cat "$mem/allocations")
check "nvme connect over rdma" run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN"
remote=$(wait_namespace subsysnqn "$TEST_NQN")
check "the remote namespace appears (${remote:-none})" [ -b "$remote" ]
check "the I/O queues took the ivshmem BAR as their provider" queues_on "$shm"
check "write 4 MiB with O_DIRECT through the connection" \
	write_direct /tmp/pattern "$remote" "$SIZE"
check "read back through the connection equals the pattern" \
	same_data /tmp/pattern "$remote" "$SIZE"
check "the drive itself holds the pattern" same_data /tmp/pattern "$drive" "$SIZE"
check "blocks of the pattern passed through the BAR: the host's backing file has them" \
	pattern_passed_through "$backing" "$run_id" /tmp/pattern
echo "port stats:"; cat "$port/p2pmem_stats"
check "p2pmem_stats counts at least the bytes written and read" \
	[ "$(port_stat bytes)" -ge $((2 * SIZE)) ]
no_fallback() { [ "$(port_stat fallback_exhausted)" = 0 ] && [ "$(port_stat fallback_namespace)" = 0 ]; }
check "no I/O fell back to system memory" no_fallback
check "the provider counted at least as many allocations as p2p I/Os" \
	[ $(($(cat "$mem/allocations") - allocs_before)) -ge "$(port_stat ios)" ]
check "p2pmem/users names nvmet" grep -q '^nvmet ' "$mem/users"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
check "the provider has all its memory back" provider_all_back

# allow_p2pmem=0: the stock path, the provider untouched.
allocs_before=$(cat "$mem/allocations")
check "export on a port with allow_p2pmem=0" nvmet_export rdma "$P2P_ADDR" 4420 "$drive"
# round_trip: connect, write the pattern, read it back through the
# connection.
round_trip() {
	local r
	nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" >/dev/null &&
		r=$(wait_namespace subsysnqn "$TEST_NQN") &&
		write_direct /tmp/pattern "$r" "$ROUND_TRIP" &&
		same_data /tmp/pattern "$r" "$ROUND_TRIP"
}
check "connect, write and read back 1 MiB on it" round_trip
check "allow_p2pmem=0: no allocation from the provider" \
	[ "$(cat "$mem/allocations")" = "$allocs_before" ]
run nvme disconnect -n "$TEST_NQN"
nvmet_clear

# rxe without soft_rdma: refused as a CPU-driven client, system memory.
echo 0 >/sys/module/p2pdma/parameters/soft_rdma
nic_pci=$(basename "$(readlink -f "/sys/class/net/$nic/device")")
check "export on a p2p port again" nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1
check "without soft_rdma: connect, write and read back 1 MiB" round_trip
on_system_memory() {
	[ "$(port_stat queues_system_memory)" -ge 1 ] && [ "$(port_stat queues_p2p)" = 0 ] &&
		[ "$(port_stat provider)" = none ]
}
check "the queues ran on system memory, counted, no provider" on_system_memory
logged_once() {
	[ "$(dmesg | grep -c "no p2p memory that virt:$nic_pci and every namespace can reach")" = 1 ]
}
check "the log says why, once, naming the virtual client" logged_once
check "and the provider was not touched" [ "$(cat "$mem/allocations")" = "$allocs_before" ]
run nvme disconnect -n "$TEST_NQN"
nvmet_clear
run rdma link delete rxe0
check "nvmet-rdma and nvmet unload after teardown" unloads nvmet-rdma nvmet
