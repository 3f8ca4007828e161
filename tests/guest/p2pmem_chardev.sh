#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie
#
# /dev/p2pmem<N>: one per provider, its parent the provider's PCI device,
# root only (a non-root open fails), linked by the installed udev rule as
# /dev/p2pmem/by-pci/<bdf>. On the ivshmem BAR: the mapping
# checks of tests/lib/usermap.sh (data against the host's backing file,
# accounting, MAP_PRIVATE, offset, zero length, oversize, a second
# process, fork) without any opt-in, and revocation: the device removed
# under a mapping, SIGBUS on the next access, the char device gone.
# P2PMEM_IOC_RW obeys what O_DIRECT on the drive obeys: a read-only drive
# or one in use as swap is not written, the page cache stays coherent
# both ways, the memory's address meets the queue's DMA alignment, and
# the mapping's protection is respected; a new mapping starts zeroed.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"
# shellcheck source=tests/lib/usermap.sh
. "$(dirname "$0")/../lib/usermap.sh"

plan $((6 + 12 + USER_MAPPING_CHECKS + 3))
backing=/run/out/ivshmem.bin
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
mem=/sys/bus/pci/devices/$shm/p2pmem

run modprobe p2pdma || bail "cannot load p2pdma"
run modprobe nvme || bail "cannot load nvme"
drive=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"
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
# udev_links NODE: the /dev links udev's rules give NODE (systemd 257
# indents udevadm test's properties).
udev_links() {
	udevadm test --action=add "/sys/class/p2pdma/$(basename "$1")" 2>&1 |
		sed -n 's/^ *DEVLINKS=//p'
}
check "the installed udev rule links /dev/p2pmem/by-pci/$shm to it" \
	grep -qw "/dev/p2pmem/by-pci/$shm" <(udev_links "$node")
check "its major:minor match sysfs dev" \
	[ "$(cat "/sys/class/p2pdma/$(basename "$node")/dev")" = "$(stat -c '%Hr:%Lr' "$node")" ]

# The rules O_DIRECT obeys, through P2PMEM_IOC_RW on p2p-legacy.
rw_py=/run/repo/tests/lib/p2pmem_rw.py
rw() { python3 "$rw_py" "$@"; }
# holds FILE OFFSET: the drive holds FILE at OFFSET (read with O_DIRECT).
holds_at() {
	dd if="$drive" of=/tmp/readback bs=1M skip=$(($2 >> 20)) \
		count=$(($(stat -c %s "$1") >> 20)) iflag=direct status=none &&
		cmp "$1" /tmp/readback
}
readonly AT=$((32 * MIB))
marked_pattern "old$RANDOM" $MIB >/tmp/old
marked_pattern "new$RANDOM" $MIB >/tmp/new
dd if=/tmp/old of="$drive" bs=1M seek=32 oflag=direct status=none
check "a write from a mapping lands on the drive" \
	bash -c "[ \$(python3 $rw_py write $node $drive $AT /tmp/new) = ok ] && $(declare -f holds_at); drive=$drive holds_at /tmp/new $AT"
dd if=/tmp/old of="$drive" bs=1M seek=32 oflag=direct status=none
run blockdev --setro "$drive"
check "a read-only drive is not written (EPERM)" \
	bash -c "[ \$(python3 $rw_py write $node $drive $AT /tmp/new) = EPERM ]"
run blockdev --setrw "$drive"
check "and keeps its data" holds_at /tmp/old $AT
run mkswap "$drive"
run swapon "$drive"
check "a drive in use as swap is not written (ETXTBSY)" \
	bash -c "[ \$(python3 $rw_py write $node $drive $AT /tmp/new) = ETXTBSY ]"
run swapoff "$drive"
dd if=/tmp/old of="$drive" bs=1M seek=32 oflag=direct status=none
# The drive's page cache lives while the drive is open: its last close
# writes it back and drops it. Keep it open for the coherence checks.
exec 7<"$drive"
# buffered_holds FILE: a buffered read at AT, through the page cache, is FILE.
buffered_holds() { cmp <(dd if="$drive" bs=1M skip=32 count=1 status=none) "$1"; }
buffered_holds /tmp/old >/dev/null  # the old data is now cached
rw write "$node" "$drive" $AT /tmp/new
check "a buffered reader then sees what the ioctl wrote, not stale cache" \
	buffered_holds /tmp/new
dd if=/tmp/old of="$drive" bs=1M seek=32 status=none conv=notrunc  # dirty, unwritten
check "a read first writes back dirty cache: the mapping gets it" \
	bash -c "[ \"\$(python3 $rw_py read $node $drive $AT $MIB | tail -n 1)\" = $(md5sum </tmp/old | cut -d' ' -f1) ]"
dd if=/tmp/old of="$drive" bs=1M seek=32 status=none conv=notrunc  # dirty again
rw write "$node" "$drive" $AT /tmp/new
sync
check "a write is not undone by the dirty cache written back later" holds_at /tmp/new $AT
exec 7<&-
check "an address off the queue's DMA alignment is refused (EINVAL)" \
	bash -c "[ \$(python3 $rw_py read $node $drive $AT 4096 rw 1) = EINVAL ]"
check "a read into a mapping without PROT_WRITE is refused (EFAULT)" \
	bash -c "[ \$(python3 $rw_py read $node $drive $AT 4096 r) = EFAULT ]"
check "a write from a PROT_NONE mapping is refused (EFAULT)" \
	bash -c "[ \$(python3 $rw_py write $node $drive $AT /tmp/new none) = EFAULT ]"
check "the refusals left the drive's data" holds_at /tmp/new $AT
check "a new mapping is zeroed, not what the last one held" \
	bash -c "[ \$(python3 $rw_py fresh $node $MIB) = zero ]"

user_mapping_checks "$node"
revocation_checks "$node" "$shm"
check "the char device went with the provider" [ ! -e "/sys/class/p2pdma/$(basename "$node")" ]
echo 1 >/sys/bus/pci/rescan
