#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --cmb-mb 1024
#
# A CMB whose BAR the firmware places above 4 GiB (1 GiB CMBs do not fit
# below it). CMBMSC's base must equal the BAR's bus address, written high
# dword first: a controller that took a base truncated to its low 32 bits
# would serve its own DMA to that range of RAM from its CMB, so the drive's
# I/O through RAM pages there is checked page by page. Then p2p memory
# from that CMB moves data between the drives behind the switch.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 6
readonly CMBMSC=0x50 FOUR_GIB=$((1 << 32))
bar_py=$(dirname "$0")/../lib/bar.py
phys_io=$(dirname "$0")/../lib/phys_io.py
copy=/run/repo/tools/p2pmem-copy

run modprobe nvme || bail "cannot load nvme"
cmb=$(pci_by_serial p2p-cmb) || bail "no p2p-cmb"
wait_for "/sys/bus/pci/devices/$cmb/p2pmem" || bail "the CMB of p2p-cmb did not register"
drive=$(wait_namespace serial p2p-cmb) || bail "no namespace on p2p-cmb"
other=$(wait_namespace serial p2p-legacy) || bail "no namespace on p2p-legacy"
start=$(awk 'NR == 3 { print $1 }' "/sys/bus/pci/devices/$cmb/resource")
cmbmsc=$("$bar_py" read64 "$cmb" 0 "$CMBMSC")
echo "p2p-cmb: BAR2 at $start, CMBMSC $cmbmsc, CMB $RIG_CMB_BYTES bytes"

check "the CMB's BAR lies above 4 GiB" [ $((start)) -ge $FOUR_GIB ]
check "CMBMSC holds CRE, CMSE and the BAR's full bus address" \
	[ $((cmbmsc)) = $((start | 3)) ]
check "all of the CMB is registered" \
	[ "$(cat "/sys/bus/pci/devices/$cmb/p2pmem/size")" = "$RIG_CMB_BYTES" ]

# The RAM a base truncated to 32 bits would shadow.
low=$((start & (FOUR_GIB - 1)))
marked_pattern "high$RANDOM" $((4 << 20)) >/tmp/pattern
check "the drive's own O_DIRECT I/O through RAM pages at the base's low 32 bits reads back" \
	python3 "$phys_io" "$drive" 0 /tmp/pattern $low $((low + RIG_CMB_BYTES))

node=$(chardev_of "$cmb") || bail "no char device for $cmb"
marked_pattern "copy$RANDOM" $((8 << 20)) >/tmp/pattern2
dd if=/tmp/pattern2 of="$other" bs=1M seek=16 oflag=direct status=none ||
	bail "cannot write $other"
check "8 MiB p2p-legacy -> CMB above 4 GiB -> p2p-cmb, verified" \
	"$copy" -m "$node" -i "$other" -o "$drive" -O 16M -s 8M -c 1M -v
at16m() {
	dd if="$drive" of=/tmp/readback bs=1M skip=16 count=8 iflag=direct status=none &&
		cmp /tmp/pattern2 /tmp/readback
}
check "p2p-cmb holds the data" at16m
run modprobe -r nvme
