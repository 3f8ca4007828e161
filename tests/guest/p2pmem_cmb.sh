#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The NVMe CMB provider on the rig's drives: both CMB styles register with
# the size QEMU was given, data written through an allocation is in the
# CMB BAR, a controller reset leaves the CMB enabled and usable, controllers
# bound after load are found, unbinding nvme waits for held memory, and
# cmb=0 switches the provider off. Reading registers and BARs that nvme
# owns needs the rig's iomem=relaxed.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 18
readonly MIB=$((1 << 20)) CMBMSC=0x50 CMSE=2
bar_py=$(dirname "$0")/../lib/bar.py
ctl=/sys/kernel/debug/p2pdma_test/control
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko

run modprobe nvme || bail "cannot load nvme"
wait_for /sys/class/nvme/nvme2 || bail "the three rig drives did not appear"
cmb=$(pci_by_serial p2p-cmb)
legacy=$(pci_by_serial p2p-legacy)
outside=$(pci_by_serial p2p-outside)
stat_of() { cat "/sys/bus/pci/devices/$1/p2pmem/$2"; }
cmbmsc() { "$bar_py" read64 "$cmb" 0 "$CMBMSC"; }
cmb_enabled() { (($(cmbmsc) & CMSE)); }

# through_bar BDF: a token written through a new allocation from BDF is
# in BDF's BAR2 at the allocation's offset; the allocation is freed.
through_bar() {
	local token="cmb-$RANDOM$RANDOM" bus start ok
	echo "alloc $1 $MIB" >"$ctl" && echo "write $1 $token" >"$ctl" || return 1
	bus=$(awk -v d="$1" '$1 == d { print $3 }' "$ctl" | tail -n 1)
	start=$(awk 'NR == 3 { print $1 }' "/sys/bus/pci/devices/$1/resource")
	echo "$1: allocation at bus $bus, BAR2 at $start"
	"$bar_py" read "$1" 2 $((bus - start)) ${#token} | grep -qx "$token"
	ok=$?
	echo "free $1" >"$ctl"
	return $ok
}

before=$(cmbmsc)
echo "CMBMSC of p2p-cmb as the nvme driver left it: $before"
check "the stock nvme driver left the 1.4-style CMB disabled" [ $((before & CMSE)) = 0 ]
check "modprobe p2pdma" modprobe p2pdma
check "p2p-cmb (1.4-style) registers the CMB QEMU was given" \
	bash -c "[ \$(cat /sys/bus/pci/devices/$cmb/p2pmem/size) = $RIG_CMB_BYTES ] && [ \$(cat /sys/bus/pci/devices/$cmb/p2pmem/published) = 1 ]"
check "p2p-legacy registers the CMB QEMU was given" \
	bash -c "[ \$(cat /sys/bus/pci/devices/$legacy/p2pmem/size) = $RIG_CMB_BYTES ] && [ \$(cat /sys/bus/pci/devices/$legacy/p2pmem/published) = 1 ]"
check "p2p-outside, without a CMB, is no provider" [ ! -e "/sys/bus/pci/devices/$outside/p2pmem" ]
echo "CMBMSC of p2p-cmb: $(cmbmsc)"
check "CMBMSC holds CRE, CMSE and the BAR's bus address" \
	bash -c "[ \$(( $(cmbmsc) )) = \$(( $(awk 'NR == 3 { print $1 }' "/sys/bus/pci/devices/$cmb/resource") | 3 )) ]"

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client $test_ko"
check "p2p-cmb: data written through an allocation is in the CMB BAR" through_bar "$cmb"
check "p2p-legacy: data written through an allocation is in the CMB BAR" through_bar "$legacy"

cmb_ctrl=$(nvme_by_serial p2p-cmb)
run nvme reset "/dev/$cmb_ctrl"
enabled_again() {
	local i
	for ((i = 0; i < 50; i++)); do cmb_enabled && return 0; sleep 0.1; done
	return 1
}
check "after nvme reset the 1.4-style CMB is enabled again" enabled_again
check "after nvme reset p2p-cmb memory works again" through_bar "$cmb"
run nvme reset "/dev/$(nvme_by_serial p2p-legacy)"
sleep 1
check "after nvme reset p2p-legacy memory works again" through_bar "$legacy"

# Unbinding nvme while memory is held waits for it.
echo "alloc $cmb 4096" >"$ctl"
echo "$cmb" >/sys/bus/pci/drivers/nvme/unbind &
unbind=$!
sleep 2
check "unbinding nvme waits while CMB memory is held" kill -0 "$unbind"
echo "free $cmb" >"$ctl"
check "the unbind completes once it is freed, the CMB provider with it" \
	bash -c "while kill -0 $unbind 2>/dev/null; do sleep 0.1; done; [ ! -e /sys/bus/pci/devices/$cmb/p2pmem ]"
wait "$unbind"
echo "$cmb" >/sys/bus/pci/drivers/nvme/bind
check "a controller bound after load is found" \
	bash -c "for i in \$(seq 50); do [ -e /sys/bus/pci/devices/$cmb/p2pmem/size ] && exit 0; sleep 0.1; done; exit 1"

run rmmod p2pdma_test
check "modprobe -r p2pdma withdraws the CMBs" \
	bash -c "modprobe -r p2pdma && [ ! -e /sys/bus/pci/devices/$legacy/p2pmem ]"
check "cmb=maybe is refused at load, and the log says why" \
	bash -c "! modprobe p2pdma cmb=maybe && dmesg | grep -q \"maybe' invalid for parameter .cmb'\""
check "modprobe p2pdma cmb=0 loads" modprobe p2pdma cmb=0
check "with cmb=0 no CMB is registered" \
	bash -c "[ ! -e /sys/bus/pci/devices/$cmb/p2pmem ] && [ ! -e /sys/bus/pci/devices/$legacy/p2pmem ]"
run modprobe -r p2pdma
