#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --cmb-mb 2
#
# nvmet-rdma on a provider smaller than its queues need: a 2 MiB CMB (the
# exported drive's own) of which the test client holds all but 256 KiB,
# under 128 KiB writes, 32 in flight. fio's data verifies, part of the
# I/O ran on the CMB, the rest fell back to system memory and was
# counted, and the CMB is all free after disconnect.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 9
port=$P2P_PORT
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko
ctl=/sys/kernel/debug/p2pdma_test/control

p2p_rig cmb
cmb=$(pci_by_serial p2p-cmb)
check "the CMB has the size QEMU was given ($RIG_CMB_BYTES bytes)" \
	[ "$(cat "$mem/size")" = "$RIG_CMB_BYTES" ]
nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"
run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || bail "cannot connect"
remote=$(wait_namespace subsysnqn "$TEST_NQN") || bail "no remote namespace"
check "the I/O queues took the small CMB" queues_on "$cmb"
# Room for two writes' buffers (less what CPUs cache): how many are in
# flight at the target at once depends on TCG's pace, so a whole 2 MiB
# would run out only now and then.
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client $test_ko"
hold() { echo "alloc $cmb $(($(cat "$mem/available") - (256 << 10)))" >"$ctl"; }
check "the test client holds all of the CMB but 256 KiB" hold
# More buffers in flight than the CMB holds; every block read back and
# checked.
fio_verify() {
	fio --name=p2p --filename="$remote" --ioengine=libaio --direct=1 \
		--rw=randwrite --bs=128k --iodepth=32 --size=8M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--output=/tmp/fio.out
	local status=$?
	grep -E 'err=|IOPS' /tmp/fio.out
	return $status
}
check "fio's 8 MiB of 128 KiB writes, 32 in flight, verify" fio_verify
echo "port stats:"
cat "$port/p2pmem_stats"
check "some I/Os ran on the CMB" [ "$(port_stat ios)" -gt 0 ]
check "the rest fell back to system memory and were counted" \
	[ "$(port_stat fallback_exhausted)" -gt 0 ]
check "the CMB counted failed allocations as the port counted fallbacks" \
	[ "$(cat "$mem/failed_allocations")" -ge "$(port_stat fallback_exhausted)" ]
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
echo "free $cmb" >"$ctl"
run rmmod p2pdma_test
nvmet_clear
check "the CMB has all its memory back" provider_all_back
run rdma link delete rxe0
