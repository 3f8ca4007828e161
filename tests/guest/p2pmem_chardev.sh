#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# /dev/p2pmem<N>: one per provider, its parent the provider's PCI device,
# root only (a non-root open fails), linked by the installed udev rule as
# /dev/p2pmem/by-pci/<bdf>. On the ivshmem BAR: the mapping
# checks of tests/lib/usermap.sh (data against the host's backing file,
# accounting, MAP_PRIVATE, offset, zero length, oversize, a second
# process, fork) without any opt-in, and revocation: the device removed
# under a mapping, SIGBUS on the next access, the char device gone.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"
# shellcheck source=tests/lib/usermap.sh
. "$(dirname "$0")/../lib/usermap.sh"

plan $((6 + USER_MAPPING_CHECKS + 3))
backing=/run/out/ivshmem.bin
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
mem=/sys/bus/pci/devices/$shm/p2pmem

run modprobe p2pdma || bail "cannot load p2pdma"
run modprobe nvme || bail "cannot load nvme"
wait_namespace serial p2p-legacy >/dev/null || bail "no rig drive p2p-legacy"
legacy=$(pci_by_serial p2p-legacy)
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"
wait_for "/sys/bus/pci/devices/$legacy/p2pmem" || bail "the legacy CMB did not register"

# one_per_provider: a char device for each provider's PCI device, and no
# more.
one_per_provider() {
	local p providers devices
	providers=$(for p in /sys/bus/pci/devices/*/p2pmem; do basename "$(dirname "$p")"; done | sort)
	devices=$(for p in /sys/class/p2pdma/*; do basename "$(readlink -f "$p/device")"; done | sort)
	echo "providers: $providers; char devices' parents: $devices"
	[ -n "$providers" ] && [ "$providers" = "$devices" ]
}
non_root_refused() {
	! setpriv --reuid=65534 --regid=65534 --clear-groups \
		python3 -c "open('$1', 'rb')" 2>/tmp/err &&
		grep -q PermissionError /tmp/err
}

check "one char device per provider (ivshmem, both CMBs), parented to it" one_per_provider
node=$(chardev_of "$shm")
check "the ivshmem BAR's char device exists (${node:-none})" [ -c "$node" ]
check "it is root's alone (0600)" [ "$(stat -c %a "$node")" = 600 ]
check "a non-root user cannot open it" non_root_refused "$node"
# udev_links NODE: the /dev links udev's rules give NODE.
udev_links() {
	udevadm test --action=add "/sys/class/p2pdma/$(basename "$1")" 2>&1 |
		sed -n 's/^DEVLINKS=//p'
}
check "the installed udev rule links /dev/p2pmem/by-pci/$shm to it" \
	grep -qw "/dev/p2pmem/by-pci/$shm" <(udev_links "$node")
check "its major:minor match sysfs dev" \
	[ "$(cat "/sys/class/p2pdma/$(basename "$node")/dev")" = "$(stat -c '%Hr:%Lr' "$node")" ]
user_mapping_checks "$node"
revocation_checks "$node" "$shm"
check "the char device went with the provider" [ ! -e "/sys/class/p2pdma/$(basename "$node")" ]
echo 1 >/sys/bus/pci/rescan
