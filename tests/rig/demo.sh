#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of "make demo" (tests/demo): tell the operator, step by
# step, what the rig holds, what was loaded from where, and what I/O went
# through an nvmet-rdma port over rxe. Stops at the first failing step.

set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/guest.sh
. "$repo/tests/lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$repo/tests/lib/nvmet.sh"

readonly ADDR=192.0.2.1
say() { printf '   %s\n' "$*"; }

echo "== Guest up: kernel $(uname -r)"
modprobe -a nvme e1000e crc32_generic rdma_rxe nvme-rdma
configfs_mount
drive=$(wait_namespace serial p2p-cmb)
nic=$(rig_nic)

echo "== PCI devices behind the rig's switch and beside it"
lspci -tv | sed 's/^/   /'
for serial in p2p-cmb p2p-legacy p2p-outside; do
	bdf=$(pci_by_serial "$serial")
	cmb=$(bar_size "$bdf" 2)
	if [ "$cmb" -gt 0 ]; then
		say "NVMe $serial at $bdf: controller memory buffer of $((cmb >> 20)) MiB"
	else
		say "NVMe $serial at $bdf: no controller memory buffer"
	fi
done
say "ivshmem at $(pci_by_id 0x1af4:0x1110), e1000e at $(pci_by_id 0x8086:0x10d3) ($nic)"

echo "== Modules: what modprobe loads, and from where"
modprobe p2pdma
modprobe nvmet-rdma
for m in p2pdma nvmet nvmet-rdma; do
	say "$m $(modinfo -F version "$m") from $(modinfo -n "$m")"
done
say "kernel log: $(dmesg | grep -m1 -o 'p2pdma: version .*')"
for serial in p2p-cmb p2p-legacy p2p-outside; do
	p2pmem=/sys/bus/pci/devices/$(pci_by_serial "$serial")/p2pmem
	if [ -d "$p2pmem" ]; then
		say "p2p memory: CMB of $serial, $(($(cat "$p2pmem/size") >> 20)) MiB, published=$(cat "$p2pmem/published")"
	else
		say "p2p memory: none on $serial"
	fi
done

echo "== NVMe-oF target: $drive exported by nvmet-rdma on $ADDR:4420 over rxe"
ip link set "$nic" up
ip addr add "$ADDR/24" dev "$nic"
rdma link add rxe0 type rxe netdev "$nic"
nvmet_export rdma "$ADDR" 4420 "$drive"
nvme connect -t rdma -a "$ADDR" -s 4420 -n "$TEST_NQN" >/dev/null
remote=$(wait_namespace subsysnqn "$TEST_NQN")
say "host side connected: $remote is $TEST_NQN over rdma"

echo "== fio: 5 s of 4 KiB random reads and writes through the fabric"
fio --name=demo --filename="$remote" --direct=1 --rw=randrw --bs=4k \
	--iodepth=16 --ioengine=libaio --runtime=5 --time_based \
	--output-format=terse --terse-version=3 >/tmp/fio.terse
# terse v3: field 8 read IOPS, 49 write IOPS, 7 and 48 KiB/s.
IFS=';' read -ra f </tmp/fio.terse
say "read:  ${f[7]} IOPS, $((f[6] / 1024)) MiB/s"
say "write: ${f[48]} IOPS, $((f[47] / 1024)) MiB/s"

echo "== Data check: 8 MiB written through the fabric, read from the drive"
head -c $((8 << 20)) /dev/urandom >/tmp/pattern
write_direct /tmp/pattern "$remote" $((8 << 20))
same_data /tmp/pattern "$drive" $((8 << 20))
say "the drive holds exactly what was written through nvmet-rdma"

echo "== Teardown"
nvme disconnect -n "$TEST_NQN" >/dev/null
nvmet_clear
rdma link delete rxe0
modprobe -r nvmet-rdma nvmet p2pdma
say "disconnected, target cleared, modules unloaded"
