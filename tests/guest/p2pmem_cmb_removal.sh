#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie debug
#
# Taking an NVMe controller away while its CMB's memory is held: unbinding
# nvme waits for memory a kernel user holds, with the controller still
# enabled and its CMB on, while allocations fail, and an unrelated device
# binds meanwhile without waiting; removal of the device with a process mapping the CMB
# (char device) revokes the mapping (SIGBUS) instead of waiting; a
# transfer in flight through the char device ends cleanly; rmmod nvme
# waits for held memory too; rescan and rebind bring the CMB back. (A
# function reset, which waits the same way, is p2pmem_cmb's: in the debug
# kernel Debian's nvme-core makes lockdep report every function reset of
# an NVMe controller, whichever nvme driver runs it.)

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"
# shellcheck source=tests/lib/usermap.sh
. "$(dirname "$0")/../lib/usermap.sh"

plan 17
ctl=/sys/kernel/debug/p2pdma_test/control
bar_py=$(dirname "$0")/../lib/bar.py
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko
copy=/run/repo/tools/p2pmem-copy

run modprobe -a nvme e1000e || bail "cannot load nvme and e1000e"
cmb=$(pci_by_serial p2p-cmb) || bail "no p2p-cmb"
nic=$(pci_by_id 0x8086:0x10d3) || bail "no e1000e"
dev=/sys/bus/pci/devices/$cmb
mem=$dev/p2pmem
wait_for "$mem" || bail "the CMB of p2p-cmb did not register"
other=$(wait_namespace serial p2p-legacy) || bail "no namespace on p2p-legacy"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client $test_ko"

# rebinds_nic: the e1000e unbinds and binds again within 20 s.
rebinds_nic() {
	timeout 20 bash -c "echo $nic >/sys/bus/pci/drivers/e1000e/unbind &&
		echo $nic >/sys/bus/pci/drivers/e1000e/bind" &&
		[ -e "/sys/bus/pci/devices/$nic/driver" ]
}
# cmb_back: within 20 s the CMB is registered and published again, all
# of it free (its files appear before it is published).
cmb_back() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(cat "$mem/published" 2>/dev/null)" = 1 ] &&
			[ "$(cat "$mem/available")" = "$RIG_CMB_BYTES" ] && return 0
		sleep 0.1
	done
	return 1
}

# Unbind with memory a kernel user holds.
echo "alloc $cmb $MIB" >"$ctl"
echo "$cmb" >/sys/bus/pci/drivers/nvme/unbind &
unbind=$!
check "unbinding nvme waits while CMB memory is held" still_waits "$unbind"
check "the CMB is withdrawn meanwhile: allocations fail" \
	bash -c "[ \$(cat $mem/published) = 0 ] && ! echo 'alloc $cmb 4096' >$ctl"
# still_on: CC.EN and CMBMSC.CMSE set, read from the BAR.
still_on() {
	local cc cmbmsc
	cc=$("$bar_py" read64 "$cmb" 0 0x14) && cmbmsc=$("$bar_py" read64 "$cmb" 0 0x50) &&
		echo "CC $cc, CMBMSC $cmbmsc" && ((cc & 1)) && ((cmbmsc & 2))
}
check "while it waits the controller is still enabled, its CMB on" still_on
check "an unrelated device (the e1000e) unbinds and binds meanwhile" rebinds_nic
echo "free $cmb" >"$ctl"
check "the unbind completes once the memory is freed" gone_soon "$unbind"
check "the CMB's files went with it" [ ! -e "$mem" ]
echo "$cmb" >/sys/bus/pci/drivers/nvme/bind
check "binding nvme again registers the whole CMB again" cmb_back

# Device removal while a process maps the CMB through its char device and
# a transfer through the char device is in flight.
node=$(chardev_of "$cmb") || bail "no char device for $cmb"
rm -rf /tmp/um && mkdir /tmp/um
marked_pattern "r$RANDOM" $MIB >/tmp/um/pattern1
python3 "$USERMAP" fill "$node" $MIB /tmp/um/pattern1 /tmp/um/go >/tmp/um/out 2>&1 &
victim=$!
ready /tmp/um/out || bail "the mapping process did not start"
"$copy" -m "$node" -i "$other" -s 64M -c 1M -t 2 >/tmp/copy.log 2>&1 &
copier=$!
sleep 1
echo 1 >"$dev/remove" &
remove=$!
check "removing p2p-cmb completes with its CMB mapped and a transfer running" \
	gone_soon "$remove"
touch /tmp/um/go
wait "$victim"
status=$?
echo "mapping process exit status: $status"
check "the mapping process died of SIGBUS on its next access" [ "$status" = 135 ]
wait "$copier"
status=$?
cat /tmp/copy.log
check "the transfer ended, done or refused (ENODEV), no other error" \
	bash -c "[ $status = 0 ] || grep -q 'No such device' /tmp/copy.log"
echo 1 >/sys/bus/pci/rescan
check "a rescan brings p2p-cmb back, its CMB registered" cmb_back

# Device removal with memory a kernel user holds.
echo "alloc $cmb $MIB" >"$ctl"
echo 1 >"$dev/remove" &
remove=$!
check "removing p2p-cmb waits while CMB memory is held" still_waits "$remove"
check "an unrelated device binds meanwhile" rebinds_nic
echo "free $cmb" >"$ctl"
check "the removal completes once the memory is freed" gone_soon "$remove"
echo 1 >/sys/bus/pci/rescan
check "a rescan brings it back again" cmb_back

# rmmod nvme with memory held.
echo "alloc $cmb $MIB" >"$ctl"
rmmod nvme &
rmmod=$!
check "rmmod nvme waits while CMB memory is held" still_waits "$rmmod"
echo "free $cmb" >"$ctl"
check "rmmod nvme completes once it is freed; the CMB is gone" \
	bash -c "$(declare -f gone_soon); gone_soon $rmmod && [ ! -e $mem ] && [ ! -d /sys/module/nvme ]"
run rmmod p2pdma_test
run modprobe -r p2pdma
