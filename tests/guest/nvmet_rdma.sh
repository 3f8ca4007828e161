#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# nvmet-rdma from updates/dkms serves I/O end to end over rxe: a rig drive
# behind the switch is exported, the guest connects to itself with
# nvme-rdma, writes a pattern with O_DIRECT, reads it back through the
# connection and from the drive directly, disconnects and tears down.
# With EXPECT_STOCK=1 (a host test boots it so, after removing the
# package's modules from the kernel), the same with Debian's own nvmet-rdma
# and nvme, and no p2pdma.

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

# debian_loaded MODULE...: each MODULE is loaded from the kernel's own
# file (its srcversion, or none, is that file's), and p2pdma is not
# loaded.
debian_loaded() {
	local m file loaded
	for m in "$@"; do
		file=$(modinfo -n "$m") || return 1
		loaded=$(cat "/sys/module/${m//-/_}/srcversion" 2>/dev/null)
		echo "$m: $file; srcversion loaded '$loaded', of the file '$(modinfo -F srcversion "$file")'"
		[ -d "/sys/module/${m//-/_}" ] && [[ $file == "/lib/modules/$(uname -r)/kernel/"* ]] &&
			[ "$loaded" = "$(modinfo -F srcversion "$file")" ] || return 1
	done
	[ ! -d /sys/module/p2pdma ]
}

if [ "${EXPECT_STOCK:-0}" = 1 ]; then
	check "nvmet-rdma: modprobe's file is the kernel's own" \
		bash -c "modinfo -n nvmet-rdma | grep -q '^/lib/modules/$(uname -r)/kernel/'"
	check "nvmet-rdma: modprobe loads it" modprobe nvmet-rdma
	check "nvmet-rdma, nvmet and nvme loaded are Debian's, and no p2pdma" \
		debian_loaded nvmet-rdma nvmet nvme
else
	check "nvmet-rdma: modprobe's file is in updates/dkms" installed_by_dkms nvmet-rdma
	check "nvmet-rdma: modprobe loads it" modprobe nvmet-rdma
	check "nvmet-rdma: loaded module is this checkout's build" loaded_is_checkout nvmet-rdma
fi
fabric_io_checks rdma "$ADDR" "$drive" "$SIZE"
run rdma link delete rxe0
check "nvmet-rdma and nvmet unload after teardown" unloads nvmet-rdma nvmet
