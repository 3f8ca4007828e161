#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie
#
# CMBs registered by our NVMe PCI driver (nvme.ko rebuilt with nvme-p2p):
# both CMB styles register with the size QEMU was given when nvme binds,
# CMBMSC holds the BAR's bus address, discard and write zeroes (requests
# without data pages) pass the driver's per-request check, data written
# through an allocation is in the CMB BAR, CMBMSC read from the BAR never
# shows the CMB off while it is published, through controller resets (the
# CMB stays, memory held) and a function reset (which waits for the
# memory, like removal, then registers the CMB again), p2pdma cannot go
# while nvme uses it, and cmb=0 leaves the CMBs alone. Reading registers
# and BARs that nvme owns needs the rig's iomem=relaxed.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 24
readonly MIB=$((1 << 20)) CMBMSC=0x50 CMSE_BIT=1
bar_py=$(dirname "$0")/../lib/bar.py
ctl=/sys/kernel/debug/p2pdma_test/control
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko

check "nvme cmb=maybe is refused at load, and the log says why" \
	bash -c "! modprobe nvme cmb=maybe && dmesg | grep -q \"maybe' invalid for parameter .cmb'\""
check "modprobe nvme" modprobe nvme
check "the loaded nvme is this checkout's build" loaded_is_checkout nvme
check "nvme's cmb parameter reads Y and cannot be changed once loaded" \
	bash -c "[ \$(cat /sys/module/nvme/parameters/cmb) = Y ] && ! echo N >/sys/module/nvme/parameters/cmb"
wait_for /sys/class/nvme/nvme2 || bail "the three rig drives did not appear"
cmb=$(pci_by_serial p2p-cmb)
legacy=$(pci_by_serial p2p-legacy)
outside=$(pci_by_serial p2p-outside)
dev=/sys/bus/pci/devices/$cmb
cmbmsc() { "$bar_py" read64 "$cmb" 0 "$CMBMSC"; }
bar2_start() { awk 'NR == 3 { print $1 }' "/sys/bus/pci/devices/$1/resource"; }
# registered BDF: BDF's CMB is registered with QEMU's size and published.
registered() {
	local mem=/sys/bus/pci/devices/$1/p2pmem
	wait_for "$mem" &&
		[ "$(cat "$mem/size")" = "$RIG_CMB_BYTES" ] && [ "$(cat "$mem/published")" = 1 ]
}

check "p2p-cmb (1.4-style) registers the CMB QEMU was given" registered "$cmb"
check "p2p-legacy registers the CMB QEMU was given" registered "$legacy"
check "p2p-outside, without a CMB, is no provider" [ ! -e "/sys/bus/pci/devices/$outside/p2pmem" ]
# Requests without data pages go through our per-request check too.
discards() {
	local ns
	ns=/dev/$(nvme_by_serial p2p-cmb)n1
	wait_for "$ns" && blkdiscard "$ns" && blkdiscard -z -l $((4 * MIB)) "$ns" &&
		cmp -n $((4 * MIB)) "$ns" /dev/zero
}
check "discard and write zeroes on its drive (no data pages) work" discards
echo "CMBMSC of p2p-cmb: $(cmbmsc), BAR2 at $(bar2_start "$cmb")"
check "CMBMSC holds CRE, CMSE and the BAR's bus address" \
	[ $(($(cmbmsc))) = $(($(bar2_start "$cmb") | 3)) ]

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client $test_ko"

# through_bar BDF: a token written through a new allocation from BDF is
# in BDF's BAR2 at the allocation's offset; the allocation is freed.
through_bar() {
	local token="cmb-$RANDOM$RANDOM" bus ok
	echo "alloc $1 $MIB" >"$ctl" && echo "write $1 $token" >"$ctl" || return 1
	bus=$(awk -v d="$1" '$1 == d { print $3 }' "$ctl" | tail -n 1)
	echo "$1: allocation at bus $bus, BAR2 at $(bar2_start "$1")"
	"$bar_py" read "$1" 2 $((bus - $(bar2_start "$1"))) ${#token} | grep -qx "$token"
	ok=$?
	echo "free $1" >"$ctl"
	return $ok
}
check "p2p-cmb: data written through an allocation is in the CMB BAR" through_bar "$cmb"
check "p2p-legacy: data written through an allocation is in the CMB BAR" through_bar "$legacy"

# Five controller resets with memory held, then a function reset, which
# takes the CMB back and registers it again; CMBMSC and p2pmem/published
# sampled all along.
cmb_ctrl=$(nvme_by_serial p2p-cmb)
echo "alloc $cmb $MIB" >"$ctl"
rm -f /tmp/stop
"$bar_py" watch "$cmb" 0 "$CMBMSC" "$CMSE_BIT" \
	"/sys/bus/pci/devices/$cmb/p2pmem/published" /tmp/stop >/tmp/watch 2>&1 &
watcher=$!
sleep 1
resets() {
	local i
	for ((i = 0; i < 5; i++)); do
		nvme reset "/dev/$cmb_ctrl" || return 1
	done
}
check "five controller resets of p2p-cmb with memory held" resets
check "the CMB stayed registered and published, the memory held" \
	bash -c "[ \$(cat $dev/p2pmem/published) = 1 ] && [ \$(cat $dev/p2pmem/in_use) = $MIB ]"
echo 1 >"$dev/reset" &
flr=$!
check "a function reset of p2p-cmb waits while CMB memory is held" still_waits "$flr"
echo "free $cmb" >"$ctl"
check "it completes once the memory is freed" gone_soon "$flr"
check "and registers the CMB again" registered "$cmb"
sleep 1
touch /tmp/stop
wait "$watcher"
watched=$?
cat /tmp/watch
check "CMBMSC never read with CMSE clear while the CMB was published" [ "$watched" = 0 ]
check "the sampling saw the CMB on and published" \
	grep -q "^$(printf '%#x' $(($(bar2_start "$cmb") | 3))) with published 1: " /tmp/watch
check "after the resets p2p-cmb memory works" through_bar "$cmb"
check "CMBMSC still holds the BAR's bus address" \
	[ $(($(cmbmsc))) = $(($(bar2_start "$cmb") | 3)) ]
check "rmmod p2pdma is refused while nvme uses it" bash -c "! rmmod p2pdma && [ -d /sys/module/p2pdma ]"

run rmmod p2pdma_test
run modprobe -r nvme
check "modprobe -r nvme withdraws the CMBs" \
	bash -c "[ ! -e /sys/bus/pci/devices/$cmb/p2pmem ] && [ ! -e /sys/bus/pci/devices/$legacy/p2pmem ]"
check "it turns the 1.4-style CMB off (CMBMSC 0)" [ $(($(cmbmsc))) = 0 ]
run modprobe nvme cmb=0
no_cmbs() {
	wait_for /sys/class/nvme/nvme2 && sleep 1 &&
		[ ! -e "/sys/bus/pci/devices/$cmb/p2pmem" ] &&
		[ ! -e "/sys/bus/pci/devices/$legacy/p2pmem" ] && [ $(($(cmbmsc))) = 0 ]
}
check "with cmb=0 no CMB is registered, and CMBMSC stays 0" no_cmbs
run modprobe -r nvme
