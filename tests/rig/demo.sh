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
# cmb=0: QEMU emulates a CMB access by access, and rxe copies with the
# CPU (about 40 IOPS of 4 KiB here); the ivshmem BAR is plain memory.
modprobe nvme cmb=0
modprobe -a p2pdma e1000e crc32_generic rdma_rxe nvme-rdma
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
modprobe nvmet-rdma
for m in p2pdma nvme nvmet nvmet-rdma; do
	say "$m $(modinfo -F version "$m") from $(modinfo -n "$m")"
done
say "kernel log: $(dmesg | grep -m1 -o 'p2pdma: version .*')"
for serial in p2p-cmb p2p-legacy p2p-outside; do
	p2pmem=/sys/bus/pci/devices/$(pci_by_serial "$serial")/p2pmem
	if [ -d "$p2pmem" ]; then
		say "p2p memory: CMB of $serial, $(($(cat "$p2pmem/size") >> 20)) MiB, published=$(cat "$p2pmem/published")"
	else
		say "p2p memory: none on $serial (CMBs not registered: nvme cmb=0)"
	fi
done

shm=$(pci_by_id 0x1af4:0x1110)
bind_bar_provider "$shm"
shm_mem=/sys/bus/pci/devices/$shm/p2pmem
say "p2p memory: ivshmem BAR bound to p2pdma_bar, $(($(cat "$shm_mem/size") >> 20)) MiB"

echo "== NVMe-oF target: $drive exported by nvmet-rdma on $ADDR:4420 over rxe, allow_p2pmem=1"
ip link set "$nic" up
ip addr add "$ADDR/24" dev "$nic"
rdma link add rxe0 type rxe netdev "$nic"
# rxe moves data with the CPU: p2pdma refuses it unless told this is a rig.
echo 1 >/sys/module/p2pdma/parameters/soft_rdma
say "soft_rdma=1: rxe is judged as the NIC under it (test rigs only)"
"$repo/scripts/p2pdma-explain" rxe0 "${drive#/dev/}" | grep -E 'can use|all of them' | sed 's/^/   /'
nvmet_export rdma "$ADDR" 4420 "$drive" allow_p2pmem=1
port=$NVMET/ports/1
provider_line() {
	local bdf=$1 m=/sys/bus/pci/devices/$1/p2pmem
	say "$bdf: in use $(cat "$m/in_use"), allocations $(cat "$m/allocations"), available $(($(cat "$m/available") >> 20)) of $(($(cat "$m/size") >> 20)) MiB"
}
nvme connect -t rdma -a "$ADDR" -s 4420 -n "$TEST_NQN" >/dev/null
remote=$(wait_namespace subsysnqn "$TEST_NQN")
say "host side connected: $remote is $TEST_NQN over rdma"
provider=$(sed -n 's/^provider //p' "$port/p2pmem_stats")
say "the I/O queues took their buffers from $provider (the closest provider)"
provider_line "$provider"

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

echo "== Counters: the port's p2pmem_stats and the provider's p2pmem/"
sed 's/^/   /' "$port/p2pmem_stats"
provider_line "$provider"
sed 's/^/   users: /' "/sys/bus/pci/devices/$provider/p2pmem/users"

echo "== Teardown"
nvme disconnect -n "$TEST_NQN" >/dev/null
nvmet_clear

echo "== Userspace: the drive's data into the ivshmem BAR and out to another drive"
other=$(wait_namespace serial p2p-legacy)
node=$(chardev_of "$shm")
say "$node is the ivshmem BAR's char device; p2pmem-copy moves data with its checked ioctl"
"$repo/tools/p2pmem-copy" -m "$node" -i "$drive" -o "$other" -s 8M -c 1M -t 2 -v | sed 's/^/   /'
same_data /tmp/pattern "$other" $((8 << 20))
say "$other now holds the same 8 MiB, moved drive -> BAR -> drive"
outside=$(wait_namespace serial p2p-outside)
if ! "$repo/tools/p2pmem-copy" -m "$node" -i "$outside" -s 1M 2>/tmp/copy.err; then
	say "$outside (outside the switch) is refused: $(sed 's/^p2pmem-copy: //' /tmp/copy.err)"
fi
rdma link delete rxe0
provider_line "$provider"
say "all of the provider's memory is back"
modprobe -r nvmet-rdma nvmet
say "disconnected, target cleared, nvmet unloaded"
