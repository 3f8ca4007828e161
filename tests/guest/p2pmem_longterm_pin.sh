#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie debug
#
# A long-term pin of p2p memory: an RDMA memory registration (rxe) of an
# allocate mapping. These kernels cannot refuse it (upstream's GUP check
# needs CONFIG_PCI_P2PDMA), and the pages cannot go while a device may be
# pointed at them, so removing the provider waits; it must say who holds
# the memory, and complete once the registration is gone.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 6
readonly MIB=$((1 << 20))
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
dev=/sys/bus/pci/devices/$shm
pin_py=/run/repo/tests/lib/pin_mr.py

run modprobe -a p2pdma e1000e crc32_generic rdma_rxe || bail "cannot load p2pdma and rxe"
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"
nic=$(rig_nic) || bail "no e1000e netdev"
run ip link set "$nic" up
run rdma link add rxe0 type rxe netdev "$nic" || bail "cannot add rxe0"
echo 1 >"$dev/p2pmem/allow_user_dma"

rm -f /tmp/go
python3 "$pin_py" "$dev/p2pmem/allocate" $MIB rxe0 /tmp/go >/tmp/pin.out 2>&1 &
pinner=$!
registered() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q registered /tmp/pin.out && return 0
		sleep 0.1
	done
	cat /tmp/pin.out
	return 1
}
check "an RDMA memory registration of 1 MiB of allocate memory succeeds" registered
check "rdma resource show mr lists it" bash -c "rdma resource show mr | grep -q rxe0"
dmesg -C
echo 1 >"$dev/remove" &
remove=$!
check "removing the provider waits while the registration pins the memory" \
	still_waits "$remove"
# reported: within 10 s the log names the bytes, and pins as the holder.
reported() {
	local i
	for ((i = 0; i < 100; i++)); do
		dmesg | grep -q "removal waits for $MIB bytes of p2p memory still in use .*userspace: $MIB bytes pinned past their revoked mappings (an RDMA memory registration" &&
			return 0
		sleep 0.1
	done
	dmesg | tail -n 5
	return 1
}
check "the log says what is held and by what kind of user" reported
touch /tmp/go
check "the registration's process ends" wait "$pinner"
check "the removal completes once the registration is gone" gone_soon "$remove"
run rdma link delete rxe0
echo 1 >/sys/bus/pci/rescan
