#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# nvmet-rdma on a CMB (p2p-cmb's own, over rxe with soft_rdma=1) while that
# controller is reset over and over under a verifying fio job: every block
# verifies, the I/O went through the CMB, and CMBMSC, sampled from the BAR
# all along, never shows the CMB off while it is published. Commands that
# a reset cancels are requeued into the same buffers; with the CMB off
# they would read or write what the controller no longer decodes.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 8
readonly CMBMSC=0x50 CMSE_BIT=1
bar_py=$(dirname "$0")/../lib/bar.py

p2p_rig cmb
cmb=$(pci_by_serial p2p-cmb)
cmb_ctrl=$(nvme_by_serial p2p-cmb)
nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"
run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || bail "cannot connect"
remote=$(wait_namespace subsysnqn "$TEST_NQN") || bail "no remote namespace"
check "the I/O queues took p2p-cmb's CMB" queues_on "$cmb"

rm -f /tmp/stop
"$bar_py" watch "$cmb" 0 "$CMBMSC" "$CMSE_BIT" "$mem/published" /tmp/stop >/tmp/watch 2>&1 &
watcher=$!
fio --name=reset --filename="$remote" --ioengine=libaio --direct=1 \
	--rw=randwrite --bs=64k --iodepth=8 --size=32M --loops=2 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --output=/tmp/fio.out &
fio=$!
resets=0
while kill -0 "$fio" 2>/dev/null; do
	sleep 0.5
	nvme reset "/dev/$cmb_ctrl" 2>/dev/null && resets=$((resets + 1))
done
wait "$fio"
fio_status=$?
touch /tmp/stop
wait "$watcher"
watched=$?
grep -E 'err=|IOPS|verify' /tmp/fio.out
echo "controller resets during the run: $resets"
cat /tmp/watch
cat "$P2P_PORT/p2pmem_stats"

check "fio's writes all verify (status $fio_status)" [ "$fio_status" = 0 ]
check "p2p-cmb was reset during the run, at least 3 times ($resets)" [ "$resets" -ge 3 ]
check "the I/Os went through the CMB" [ "$(port_stat ios)" -gt 0 ]
check "CMBMSC never read with CMSE clear while the CMB was published" [ "$watched" = 0 ]
check "the sampling saw the CMB published throughout" \
	bash -c "! grep -q 'published [0c]' /tmp/watch && grep -q ' samples, ' /tmp/watch"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
check "the CMB has all its memory back" provider_all_back
check "the drive still reads" dd if="$drive" of=/dev/null bs=1M count=4 iflag=direct status=none
run rdma link delete rxe0
