#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The userspace half of "make bench" (tests/bench), in the guest:
# tools/p2pmem-copy reading 64 MiB of the rig's drive behind the switch
# with O_DIRECT into p2p memory (the ivshmem BAR through its char device,
# the checked ioctl) and into anonymous memory, alternating for
# $P2PDMA_BENCH_ROUNDS rounds. One line per run:
#   copy-bench <memory> <MiB/s>

set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/guest.sh
. "$repo/tests/lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$repo/tests/lib/nvmet.sh"

rounds=${P2PDMA_BENCH_ROUNDS:-3}
modprobe nvme cmb=0
drive=$(wait_namespace serial p2p-cmb)
shm=$(pci_by_id 0x1af4:0x1110)
bind_bar_provider "$shm"
node=$(chardev_of "$shm")
dd if=/dev/urandom of="$drive" bs=1M count=64 oflag=direct status=none

# run NAME ARGS...: one read of the drive, the MiB/s it printed.
run() {
	local name=$1
	shift
	"$repo/tools/p2pmem-copy" "$@" -i "$drive" -s 64M -c 1M -t 2 >/tmp/copy.out
	echo "copy-bench $name $(sed -n 's/.*: \([0-9.]*\) MiB\/s.*/\1/p' /tmp/copy.out)"
}
for ((round = 0; round < rounds; round++)); do
	run p2p -m "$node"
	run anonymous
done
