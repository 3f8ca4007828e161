#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
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
readonly CYCLES=50 SIZE=$((1 << 20))
port=$P2P_PORT

p2p_rig ivshmem
nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"

io_queues=0
# cycle N: connect, write and read back 1 MiB at offset N MiB, disconnect.
cycle() {
	local remote c nqn queues
	nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" >/dev/null || return 1
	remote=$(wait_namespace subsysnqn "$TEST_NQN") || return 1
	for c in /sys/class/nvme/nvme*; do
		sysfs_read nqn "$c/subsysnqn"
		[ "$nqn" = "$TEST_NQN" ] || continue
		sysfs_read queues "$c/queue_count"
		io_queues=$((io_queues + queues - 1))
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
all_back() { provider_all_back && grep -q '^nvmet 0 ' "$mem/users"; }
check "the provider has all its memory back, nvmet holds none" all_back
nvmet_clear
run rdma link delete rxe0
check "nvmet-rdma and nvmet unload" unloads nvmet-rdma nvmet
check "nvme and p2pdma unload, the provider unbinding at once" unloads nvme p2pdma
