#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of "make bench" (tests/bench): bind the ivshmem BAR to
# p2pdma_bar and run the test client's bench command for each case.

set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/guest.sh
. "$repo/tests/lib/guest.sh"

bdf=$(pci_by_id 0x1af4:0x1110)
modprobe p2pdma
bind_bar_provider "$bdf"
mount -t debugfs debugfs /sys/kernel/debug
insmod "$repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko"
for bytes in 4096 131072; do
	for cpus in 1 2; do
		echo "bench $bdf $bytes $cpus ${P2PDMA_BENCH_MS:-2000}" >/sys/kernel/debug/p2pdma_test/control
		dmesg | grep "bench $bdf bytes=$bytes cpus=$cpus " | tail -n 1
	done
done
rmmod p2pdma_test
modprobe -r p2pdma
