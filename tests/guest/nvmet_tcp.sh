#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Our rebuilt nvmet-tcp serves I/O on the guest's loopback: export a rig
# drive, connect with nvme-tcp to 127.0.0.1, write a pattern with O_DIRECT
# and read it back through the connection and from the drive.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 11
readonly ADDR=127.0.0.1 SIZE=$((4 << 20))

run modprobe -a nvme nvme-tcp || bail "cannot load drivers"
configfs_mount || bail "cannot mount configfs"
drive=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"
run ip link set lo up

check "nvmet-tcp: modprobe's file is in updates/dkms" installed_by_dkms nvmet-tcp
check "nvmet-tcp: modprobe loads it" modprobe nvmet-tcp
check "nvmet-tcp: loaded module is this checkout's build" loaded_is_checkout nvmet-tcp
check "export $drive on a tcp port" nvmet_export tcp "$ADDR" 4420 "$drive"
check "nvme connect over tcp" \
	run nvme connect -t tcp -a "$ADDR" -s 4420 -n "$TEST_NQN"
remote=$(wait_namespace subsysnqn "$TEST_NQN")
check "the remote namespace appears ($remote)" [ -b "$remote" ]

head -c "$SIZE" /dev/urandom >/tmp/pattern
check "write 4 MiB with O_DIRECT through the connection" \
	write_direct /tmp/pattern "$remote" "$SIZE"
check "read back through the connection equals the pattern" \
	same_data /tmp/pattern "$remote" "$SIZE"
check "the drive itself holds the pattern" \
	same_data /tmp/pattern "$drive" "$SIZE"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
check "nvmet-tcp and nvmet unload after teardown" \
	run modprobe -r nvmet-tcp nvmet
