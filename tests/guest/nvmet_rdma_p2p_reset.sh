#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# nvmet-rdma on a CMB (p2p-cmb's own, over rxe with soft_rdma=1) while that
# controller is reset over and over under a verifying fio job: every block
# verifies, the I/O went through the CMB, and CMBMSC, sampled from the BAR
# all along, never shows the CMB off while it is published. Commands that
# a reset cancels are requeued into the same buffers; with the CMB off
# they would read or write what the controller no longer decodes. Then
# p2p-legacy, pinned to that CMB, under fio while nvme unbinds from
# p2p-cmb: the unbind waits for nvmet's buffers only, nvmet falls back to
# system memory, and every block verifies.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 13
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
	bash -c "grep -q ' samples, ' /tmp/watch && ! grep ' with published ' /tmp/watch | grep -qv ' with published 1: '"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
check "the CMB has all its memory back" provider_all_back
check "the drive still reads" dd if="$drive" of=/dev/null bs=1M count=4 iflag=direct status=none

# Memory held by nvmet when the CMB's controller goes: p2p-legacy, pinned
# to p2p-cmb's CMB, exported under fio; nvme unbinds from p2p-cmb.
legacy=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"
nvmet_export rdma "$P2P_ADDR" 4420 "$legacy" allow_p2pmem=1 "ns.p2pmem=$cmb" ||
	bail "cannot export p2p-legacy"
run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || bail "cannot connect"
remote=$(wait_namespace subsysnqn "$TEST_NQN") || bail "no remote namespace"
rm -f /tmp/stop2
fio_until_stop() {
	local runs=0
	while [ ! -e /tmp/stop2 ]; do
		fio --name=unbind --filename="$remote" --ioengine=libaio --direct=1 \
			--rw=randwrite --bs=64k --iodepth=8 --size=16M \
			--verify=crc32c --do_verify=1 --verify_fatal=1 \
			--output=/tmp/fio2.out || return 1
		runs=$((runs + 1))
	done
	echo "$runs verified fio runs"
}
fio_until_stop >/tmp/fio2.log 2>&1 &
fio=$!
ios=$(port_stat ios)
for ((i = 0; i < 300 && $(port_stat ios) < ios + 100; i++)); do sleep 0.1; done
fallbacks=$(port_stat fallback_exhausted)
echo "unbinding nvme from p2p-cmb with nvmet on its CMB (p2p I/Os so far: $(port_stat ios))"
echo "$cmb" >/sys/bus/pci/drivers/nvme/unbind &
unbind=$!
check "unbinding p2p-cmb's nvme completes while nvmet uses its CMB" gone_soon "$unbind"
for ((i = 0; i < 300 && $(port_stat fallback_exhausted) < fallbacks + 50; i++)); do sleep 0.1; done
touch /tmp/stop2
check "fio was running throughout, and every block verifies" wait "$fio"
cat /tmp/fio2.log
check "the queues went on in system memory, counted as fallbacks" \
	[ "$(port_stat fallback_exhausted)" -gt "$fallbacks" ]
run nvme disconnect -n "$TEST_NQN"
nvmet_clear
echo "$cmb" >/sys/bus/pci/drivers/nvme/bind
check "binding nvme again registers the CMB again" \
	bash -c "$(declare -f wait_for); wait_for $mem/published 20 && [ \$(cat $mem/published) = 1 ]"
run rdma link delete rxe0
