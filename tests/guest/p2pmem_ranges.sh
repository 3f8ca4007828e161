#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
#
# The provider API's range checks, through the test client's PCI driver on
# the rig's ivshmem: two ranges of one BAR add up, overlapping, misaligned,
# out-of-BAR and non-memory ranges are refused with their errno and a log
# line and change nothing, allocations from both ranges land at the right
# offsets of the host's backing file, and an unbind releases both.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 16
readonly PAGE=4096 MIB=$((1 << 20))
bdf=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
dev=/sys/bus/pci/devices/$bdf
backing=/run/out/ivshmem.bin
ctl=/sys/kernel/debug/p2pdma_test/control
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko
bar_start=$(awk 'NR == 3 { print $1 }' "$dev/resource")

stat_of() { cat "$dev/p2pmem/$1"; }
held() { echo "$*" >"$ctl"; }
# refused ERRNO_TEXT LOG_TEXT BAR BYTES OFFSET: registering fails with
# ERRNO_TEXT, the kernel log says LOG_TEXT, and the size did not change.
refused() {
	local before
	before=$(stat_of size)
	dmesg -C
	! echo "register $bdf $3 $4 $5" 2>/tmp/err >"$ctl" &&
		grep -q "$1" /tmp/err && dmesg | grep -q "$2" &&
		[ "$(stat_of size)" = "$before" ]
}
# offsets: where the held allocations start in BAR 2, oldest first.
offsets() {
	local bus
	while read -r _ _ bus _; do
		echo $((bus - bar_start))
	done <"$ctl"
}
# in_file TEXT OFFSET: the host's backing file has TEXT at OFFSET.
in_file() {
	dd if="$backing" bs=$PAGE skip=$(($2 / PAGE)) count=1 status=none |
		head -c ${#1} | grep -qx "$1"
}

run modprobe p2pdma || bail "cannot load p2pdma"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client $test_ko"
echo p2pdma_test >"$dev/driver_override"
echo "$bdf" >/sys/bus/pci/drivers_probe
check "ivshmem binds to the test client, not yet a provider" \
	bash -c "[ \$(basename \$(readlink $dev/driver)) = p2pdma_test ] && [ ! -e $dev/p2pmem ]"

check "2 MiB at offset 0 of BAR 2 registers" held register "$bdf" 2 $((2 * MIB)) 0
check "4 MiB at offset 8 MiB registers as a second range" \
	held register "$bdf" 2 $((4 * MIB)) $((8 * MIB))
check "p2pmem/size and available are the sum of both ranges" \
	bash -c "[ \$(cat $dev/p2pmem/size) = $((6 * MIB)) ] && [ \$(cat $dev/p2pmem/available) = $((6 * MIB)) ]"
check "a range overlapping the second is refused with EBUSY" \
	refused "Device or resource busy" "overlaps memory registered before" 2 $((2 * MIB)) $((10 * MIB))
check "a range at an offset not 2 MiB aligned is refused with EINVAL" \
	refused "Invalid argument" "is not aligned" 2 $((2 * MIB)) $((MIB))
check "a size not 2 MiB aligned is refused with EINVAL" \
	refused "Invalid argument" "is not aligned" 2 $((3 * MIB)) $((16 * MIB))
check "a range past the end of the BAR is refused with EINVAL" \
	refused "Invalid argument" "do not fit BAR 2" 2 $((4 * MIB)) $((62 * MIB))
check "BAR 1, which the device does not have, is refused with EINVAL" \
	refused "Invalid argument" "BAR 1 is not a memory BAR" 1 0 0
check "BAR 0, 256 bytes of registers, is refused with EINVAL" \
	refused "Invalid argument" "BAR 0 range .* is not aligned" 0 0 0

# genalloc fills chunks in its own order: each allocation must simply lie
# inside one registered range, and the two in different ranges.
held alloc "$bdf" $((4 * MIB))
held alloc "$bdf" $((2 * MIB))
check "both ranges allocated in full empty the pool" [ "$(stat_of available)" = 0 ]
echo "allocation offsets in BAR 2: $(offsets | tr '\n' ' ')"
check "the allocations sit at the two ranges' offsets" \
	[ "$(offsets | sort -n | tr '\n' ' ')" = "0 $((8 * MIB)) " ]
token="range-$RANDOM$RANDOM"
held write "$bdf" "$token"
check "data written to the newest allocation is in the host file at its offset" \
	in_file "$token" "$(offsets | tail -n 1)"
check "the next page is refused: nothing is left" bash -c "! echo 'alloc $bdf $PAGE' >$ctl"

held free "$bdf"
check "unbinding releases both ranges" \
	bash -c "echo $bdf >/sys/bus/pci/drivers/p2pdma_test/unbind && [ ! -e $dev/p2pmem ]"
echo >"$dev/driver_override"
run rmmod p2pdma_test
check "p2pdma unloads" unloads p2pdma
