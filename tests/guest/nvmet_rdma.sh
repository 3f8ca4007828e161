#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# nvmet-rdma from updates/dkms serves I/O end to end over rxe: a rig drive
# behind the switch is exported, the guest connects to itself with
# nvme-rdma, writes a pattern with O_DIRECT, reads it back through the
# connection and from the drive directly, disconnects and tears down.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan $((FABRIC_IO_CHECKS + 4))
readonly ADDR=192.0.2.1 SIZE=$((16 << 20))

run modprobe -a nvme e1000e crc32_generic rdma_rxe nvme-rdma || bail "cannot load drivers"
configfs_mount || bail "cannot mount configfs"
drive=$(wait_namespace serial p2p-cmb) || bail "no rig drive p2p-cmb"
nic=$(rig_nic) || bail "no e1000e netdev"
run ip link set "$nic" up
run ip addr add "$ADDR/24" dev "$nic"
run rdma link add rxe0 type rxe netdev "$nic" || bail "cannot add rxe0 on $nic"

check "nvmet-rdma: modprobe's file is in updates/dkms" installed_by_dkms nvmet-rdma
check "nvmet-rdma: modprobe loads it" modprobe nvmet-rdma
check "nvmet-rdma: loaded module is this checkout's build" loaded_is_checkout nvmet-rdma
fabric_io_checks rdma "$ADDR" "$drive" "$SIZE"
run rdma link delete rxe0
check "nvmet-rdma and nvmet unload after teardown" unloads nvmet-rdma nvmet
