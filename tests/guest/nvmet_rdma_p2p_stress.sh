#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# nvmet-rdma on p2p memory under pressure, over rxe (soft_rdma=1) with the
# ivshmem BAR as the only provider: when the provider is nearly full, fio's
# writes still verify and the port counts fallbacks; when the provider's
# device is removed in the middle of a fio run, the removal completes,
# fio verifies without an error, and the queues carry on in system memory.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 11
readonly KIB=1024
port=$P2P_PORT
ctl=/sys/kernel/debug/p2pdma_test/control
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko

p2p_rig ivshmem
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client"

nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"
run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || bail "cannot connect"
remote=$(wait_namespace subsysnqn "$TEST_NQN") || bail "no remote namespace"
# fio_verify SIZE LOOPS: 128 KiB random writes, 16 in flight, each pass
# read back and verified.
fio_verify() {
	fio --name=p2p --filename="$remote" --ioengine=libaio --direct=1 \
		--rw=randwrite --bs=128k --iodepth=16 --size="$1" --loops="$2" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--output=/tmp/fio.out
	local status=$?
	grep -E 'err=|IOPS' /tmp/fio.out
	return $status
}

# Nearly full: the test client holds all but 256 KiB.
run echo "alloc $shm $(($(cat "$mem/available") - 256 * KIB))" >"$ctl"
check "with 256 KiB of p2p memory left, fio's 8 MiB of writes verify" fio_verify 8M 1
echo "port stats:"
cat "$port/p2pmem_stats"
check "some I/Os still ran on p2p memory" [ "$(port_stat ios)" -gt 0 ]
check "the rest fell back to system memory and were counted" \
	[ "$(port_stat fallback_exhausted)" -gt 0 ]
run echo "free $shm" >"$ctl"
check "all of the provider is free again" provider_all_back
ios_before_run=$(port_stat ios)

# The provider's device goes away in the middle of a run: fio runs one
# 16 MiB verified pass after another until told to stop, so it is still
# running however fast the guest is.
rm -f /tmp/stop
fio_until_stop() {
	local runs=0
	while [ ! -e /tmp/stop ]; do
		fio_verify 16M 1 || return 1
		runs=$((runs + 1))
	done
	echo "$runs verified fio runs"
}
fio_until_stop >/tmp/fio.log 2>&1 &
fio=$!
for ((i = 0; i < 300 && $(port_stat ios) < ios_before_run + 200; i++)); do sleep 0.1; done
ios_before=$(port_stat ios)
fallbacks_before=$(port_stat fallback_exhausted)
echo "removing $shm with fio running (p2p I/Os so far: $ios_before)"
echo 1 >"/sys/bus/pci/devices/$shm/remove" &
remove=$!
check "the device removal completes while fio runs" \
	bash -c "for i in \$(seq 600); do kill -0 $remove 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
check "the provider is gone" [ ! -e "/sys/bus/pci/devices/$shm" ]
check "fio was still running when the provider went" kill -0 "$fio"
# Some I/O on system memory after the removal, then the last pass ends.
for ((i = 0; i < 300 && $(port_stat fallback_exhausted) < fallbacks_before + 50; i++)); do sleep 0.1; done
touch /tmp/stop
check "fio finishes and every block verifies" wait "$fio"
cat /tmp/fio.log
check "the queues went on in system memory, counted as fallbacks" \
	[ "$(port_stat fallback_exhausted)" -gt "$fallbacks_before" ]
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
run rdma link delete rxe0
run rmmod p2pdma_test
check "nvmet-rdma, nvmet, nvme and p2pdma unload" unloads nvmet-rdma nvmet nvme p2pdma
echo 1 >/sys/bus/pci/rescan
