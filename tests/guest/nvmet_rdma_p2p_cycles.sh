#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 50 connect / I/O / disconnect cycles against a port on p2p memory (rxe,
# soft_rdma=1, the ivshmem BAR as the only provider): every cycle's data
# reads back, every I/O queue the host created took the provider, and at
# the end the provider has all its memory back, nvmet holds nothing, and
# the modules unload (a leaked reference would hold one of them).

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 6
readonly ADDR=192.0.2.1 CYCLES=50 SIZE=$((1 << 20))
port=$NVMET/ports/1

run modprobe p2pdma cmb=0 || bail "cannot load p2pdma"
run modprobe -a nvme e1000e crc32_generic rdma_rxe nvme-rdma || bail "cannot load drivers"
configfs_mount || bail "cannot mount configfs"
drive=$(wait_namespace serial p2p-cmb) || bail "no rig drive p2p-cmb"
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
mem=/sys/bus/pci/devices/$shm/p2pmem
echo p2pdma_bar >"/sys/bus/pci/devices/$shm/driver_override"
echo "$shm" >/sys/bus/pci/drivers_probe
[ -d "$mem" ] || bail "the ivshmem BAR did not register"
nic=$(rig_nic) || bail "no e1000e netdev"
run ip link set "$nic" up
run ip addr add "$ADDR/24" dev "$nic"
run rdma link add rxe0 type rxe netdev "$nic" || bail "cannot add rxe0 on $nic"
echo 1 >/sys/module/p2pdma/parameters/soft_rdma
run modprobe nvmet-rdma || bail "cannot load nvmet-rdma"
nvmet_export rdma "$ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"
port_stat() { sed -n "s/^$1 //p" "$port/p2pmem_stats"; }

io_queues=0
# cycle N: connect, write and read back 1 MiB at offset N MiB, disconnect.
cycle() {
	local remote c
	nvme connect -t rdma -a "$ADDR" -s 4420 -n "$TEST_NQN" >/dev/null || return 1
	remote=$(wait_namespace subsysnqn "$TEST_NQN") || return 1
	for c in /sys/class/nvme/nvme*; do
		[ "$(cat "$c/subsysnqn")" = "$TEST_NQN" ] || continue
		io_queues=$((io_queues + $(cat "$c/queue_count") - 1))
	done
	head -c "$SIZE" /dev/urandom >/tmp/chunk
	dd if=/tmp/chunk of="$remote" bs=1M seek="$1" oflag=direct status=none &&
		dd if="$remote" of=/tmp/back bs=1M skip="$1" count=1 iflag=direct status=none &&
		cmp /tmp/chunk /tmp/back || return 1
	nvme disconnect -n "$TEST_NQN" >/dev/null
}
cycles() {
	local i
	for ((i = 0; i < CYCLES; i++)); do
		cycle "$i" || { echo "cycle $i failed"; return 1; }
	done
}
check "$CYCLES cycles of connect, 1 MiB written and read back, disconnect" cycles
echo "I/O queues the host created: $io_queues"
cat "$port/p2pmem_stats"
check "every I/O queue the host created took the provider" \
	[ "$(port_stat queues_p2p)" = "$io_queues" ]
check "no I/O fell back to system memory" [ "$(port_stat fallback_exhausted)" = 0 ]
all_back() {
	[ "$(cat "$mem/in_use")" = 0 ] && [ "$(cat "$mem/available")" = "$(cat "$mem/size")" ] &&
		grep -q '^nvmet 0 ' "$mem/users"
}
check "the provider has all its memory back, nvmet holds none" all_back
nvmet_clear
run rdma link delete rxe0
check "nvmet-rdma and nvmet unload" unloads nvmet-rdma nvmet
check "p2pdma unloads, its provider unbinding at once" unloads p2pdma
