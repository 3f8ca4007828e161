#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: debug
#
# The debugfs explain file under two threads of one process on one open
# file, in the debug kernel (KASAN watches): one writes device lists,
# each write replacing (and freeing) the report the other reads.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 2
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
run modprobe p2pdma || bail "cannot load p2pdma"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"

# race BDF: 300 writes of "BDF BDF" while the other thread reads.
race() {
	python3 - "$1" <<'PY'
import os, sys, threading
fd = os.open("/sys/kernel/debug/p2pdma/explain", os.O_RDWR)
cmd = f"{sys.argv[1]} {sys.argv[1]}\n".encode()
done = threading.Event()
def reader():
    while not done.is_set():
        os.pread(fd, 65536, 0)
t = threading.Thread(target=reader, daemon=True)
t.start()
try:
    for _ in range(300):
        os.pwrite(fd, cmd, 0)
finally:
    done.set()
    t.join()
print(os.pread(fd, 65536, 0).decode().splitlines()[0])
PY
}
check "two threads write and read one explain file, 300 writes" \
	bash -c "$(declare -f race); race $shm >/tmp/race.out"
check "the report read afterwards is whole" \
	grep -q "^$shm -> $shm: accepted: same device" /tmp/race.out
echo "$shm" >/sys/bus/pci/drivers/p2pdma_bar/unbind
echo >"/sys/bus/pci/devices/$shm/driver_override"
run modprobe -r p2pdma
