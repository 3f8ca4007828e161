#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The nvmet half of "make bench" (tests/bench), in the guest: fio through
# nvmet-rdma over rxe against the rig's drive behind the switch, with our
# family and allow_p2pmem=1 (the ivshmem BAR as provider), with our family
# and allow_p2pmem=0, and with the in-tree modules; the three alternate for
# $P2PDMA_BENCH_ROUNDS rounds. One line per run:
#   nvmet-bench <config> <job> <IOPS>
# A run during which an NVMe command timed out (QEMU under TCG stalls now
# and then, whatever the configuration) measures the stall, not the path:
# it is reported as nvmet-bench-stalled and run again, up to twice.

set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/guest.sh
. "$repo/tests/lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$repo/tests/lib/nvmet.sh"

readonly ADDR=192.0.2.1
secs=${P2PDMA_BENCH_SECS:-5}
rounds=${P2PDMA_BENCH_ROUNDS:-3}
intree=/lib/modules/$(uname -r)/kernel/drivers/nvme/target

modprobe nvme cmb=0
modprobe -a p2pdma e1000e crc32_generic rdma_rxe nvme-rdma rdma_cm ib_core
configfs_mount
drive=$(wait_namespace serial p2p-cmb)
shm=$(pci_by_id 0x1af4:0x1110)
bind_bar_provider "$shm"
nic=$(rig_nic)
ip link set "$nic" up
ip addr add "$ADDR/24" dev "$nic"
rdma link add rxe0 type rxe netdev "$nic"
echo 1 >/sys/module/p2pdma/parameters/soft_rdma

# load CONFIG: the nvmet family of that configuration.
load() {
	# rmmod, not modprobe -r: that would unload p2pdma too, and reload it
	# later without this run's parameters (soft_rdma, cmb).
	rmmod nvmet-rdma nvmet 2>/dev/null || true
	if [ "$1" = stock ]; then
		insmod "$(ls "$intree"/nvmet.ko*)"
		insmod "$(ls "$intree"/nvmet-rdma.ko*)"
	else
		modprobe nvmet-rdma
	fi
}

# live: wait up to 60 s until the host's controller of $TEST_NQN is live
# again (after a timeout it resets and reconnects).
live() {
	local c i
	for ((i = 0; i < 600; i++)); do
		for c in /sys/class/nvme/nvme*; do
			[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$TEST_NQN" ] &&
				[ "$(cat "$c/state" 2>/dev/null)" = live ] && return 0
		done
		sleep 0.1
	done
	return 1
}

# nvme_timeouts: how many NVMe command timeouts the kernel logged so far.
nvme_timeouts() {
	dmesg | grep -c 'nvme.*timeout' || true
}

# run_config CONFIG: export, connect, one fio run per job, disconnect.
run_config() {
	local attrs=() remote job rw bs iops attempt timeouts
	load "$1"
	[ "$1" != p2p_on ] || attrs=(allow_p2pmem=1)
	nvmet_export rdma "$ADDR" 4420 "$drive" "${attrs[@]}"
	nvme connect -t rdma -a "$ADDR" -s 4420 -n "$TEST_NQN" >/dev/null
	remote=$(wait_namespace subsysnqn "$TEST_NQN")
	for job in randread:4k randwrite:4k read:128k write:128k; do
		rw=${job%:*}
		bs=${job#*:}
		for attempt in 1 2 3; do
			live || echo "nvmet-bench: the controller is not live after 60 s"
			timeouts=$(nvme_timeouts)
			fio --name=bench --filename="$remote" --ioengine=libaio --direct=1 \
				--rw="$rw" --bs="$bs" --iodepth=16 --size=64M \
				--runtime="$secs" --time_based --output-format=terse \
				--terse-version=3 >/tmp/fio.terse
			# terse v3: field 8 is read IOPS, field 49 write IOPS.
			IFS=';' read -ra f </tmp/fio.terse
			iops=$((f[7] + f[48]))
			if [ "$(nvme_timeouts)" = "$timeouts" ]; then
				echo "nvmet-bench $1 $rw-$bs $iops"
				break
			fi
			echo "nvmet-bench-stalled $1 $rw-$bs $iops (attempt $attempt)"
		done
	done
	if [ "$1" = p2p_on ]; then
		sed 's/^/p2pmem_stats: /' "$NVMET/ports/1/p2pmem_stats"
		# A p2p_on run on system memory would make the ratios lie.
		if [ "$(sed -n 's/^queues_p2p //p' "$NVMET/ports/1/p2pmem_stats")" = 0 ]; then
			echo "nvmet-bench: p2p_on got no queue on p2p memory" >&2
			exit 1
		fi
	fi
	nvme disconnect -n "$TEST_NQN" >/dev/null
	nvmet_clear
}

for ((round = 0; round < rounds; round++)); do
	for config in p2p_on p2p_off stock; do
		run_config "$config"
	done
done
rdma link delete rxe0
