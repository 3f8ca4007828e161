#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# Our rebuilt nvmet-tcp serves I/O on the guest's loopback: export a rig
# drive, connect with nvme-tcp to 127.0.0.1, write a pattern with O_DIRECT
# and read it back through the connection and from the drive.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan $((FABRIC_IO_CHECKS + 4))
readonly ADDR=127.0.0.1 SIZE=$((4 << 20))

run modprobe -a nvme nvme-tcp || bail "cannot load drivers"
configfs_mount || bail "cannot mount configfs"
drive=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"
run ip link set lo up

check "nvmet-tcp: modprobe's file is in updates/dkms" installed_by_dkms nvmet-tcp
check "nvmet-tcp: modprobe loads it" modprobe nvmet-tcp
check "nvmet-tcp: loaded module is this checkout's build" loaded_is_checkout nvmet-tcp
fabric_io_checks tcp "$ADDR" "$drive" "$SIZE"
check "nvmet-tcp and nvmet unload after teardown" unloads nvmet-tcp nvmet
