#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# nvmet-rdma with allow_p2pmem over rxe (soft_rdma=1), the NVMe CMB as
# provider: the exported drive's own CMB is the closest provider, data
# written through the connection reads back and is on the drive, blocks of
# it are in the CMB BAR (read through sysfs), the counters rise, turning
# soft_rdma off sends the connected queues' commands to system memory at
# once (and on again to the CMB), and all of the CMB is free again after
# disconnect.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 14
readonly SIZE=$((16 << 20))
port=$P2P_PORT

p2p_rig cmb
cmb=$(pci_by_serial p2p-cmb)
run_id=$RANDOM$RANDOM
marked_pattern "$run_id" "$SIZE" >/tmp/pattern

check "export the drive on an RDMA port with allow_p2pmem=1" \
	nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1
check "nvme connect over rdma" run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN"
remote=$(wait_namespace subsysnqn "$TEST_NQN")
check "the remote namespace appears (${remote:-none})" [ -b "$remote" ]
check "the I/O queues took the drive's own CMB, the closest provider" queues_on "$cmb"
check "write 16 MiB with O_DIRECT through the connection" \
	write_direct /tmp/pattern "$remote" "$SIZE"
check "read back through the connection equals the pattern" \
	same_data /tmp/pattern "$remote" "$SIZE"
check "the drive itself holds the pattern" same_data /tmp/pattern "$drive" "$SIZE"
check "blocks of the pattern are in the CMB BAR (sysfs resource2)" \
	pattern_passed_through "/sys/bus/pci/devices/$cmb/resource2" "$run_id" /tmp/pattern
echo "port stats:"
cat "$port/p2pmem_stats"
check "p2pmem_stats counts at least the bytes written and read, no fallback" \
	bash -c "[ $(port_stat bytes) -ge $((2 * SIZE)) ] && [ $(port_stat fallback_exhausted) = 0 ]"
# A policy turned off applies to the queues already connected.
ios=$(port_stat ios)
refused=$(port_stat fallback_client)
echo 0 >/sys/module/p2pdma/parameters/soft_rdma
head -c $((1 << 20)) /tmp/pattern >/tmp/pattern-1m
check "with soft_rdma=0, 1 MiB more through the connection reads back" \
	bash -c "$(declare -f write_direct same_data); write_direct /tmp/pattern-1m $remote $((1 << 20)) && same_data /tmp/pattern-1m $remote $((1 << 20))"
check "its commands used system memory (fallback_client), none the CMB" \
	bash -c "[ \$(sed -n 's/^fallback_client //p' $port/p2pmem_stats) -gt $refused ] && [ \$(sed -n 's/^ios //p' $port/p2pmem_stats) = $ios ]"
echo 1 >/sys/module/p2pdma/parameters/soft_rdma
check "soft_rdma=1 again: the same queues take the CMB again" \
	bash -c "$(declare -f write_direct); write_direct /tmp/pattern-1m $remote $((1 << 20)) && [ \$(sed -n 's/^ios //p' $port/p2pmem_stats) -gt $ios ]"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
check "the CMB has all its memory back" provider_all_back
run rdma link delete rxe0
