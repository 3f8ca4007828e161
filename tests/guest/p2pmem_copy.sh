#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# tools/p2pmem-copy: NVMe -> p2p memory -> NVMe with O_DIRECT-style
# transfers, threads and verification, between the two drives behind the
# switch, through the ivshmem BAR and through a CMB (the data is on the
# target drive and in the provider's memory). The drive outside the switch
# is refused with EREMOTEIO in both directions and its data stays; plain
# O_DIRECT into a char device mapping fails (EFAULT: it cannot be pinned);
# the allocate file refuses to map without the opt-in; with it, plain
# O_DIRECT between an allocate mapping and the outside drive is refused
# by our nvme driver (EREMOTEIO) and leaves that drive's data as it was,
# while between the drives behind the switch it moves the data. Nothing
# stays mapped.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"
# shellcheck source=tests/lib/usermap.sh
. "$(dirname "$0")/../lib/usermap.sh"

plan 21
readonly SIZE=$((16 << 20))
copy=/run/repo/tools/p2pmem-copy
backing=/run/out/ivshmem.bin
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
[ -x "$copy" ] || bail "no $copy: make builds it"

run modprobe p2pdma || bail "cannot load p2pdma"
run modprobe nvme || bail "cannot load nvme"
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"
cmb=$(pci_by_serial p2p-cmb)
wait_for "/sys/bus/pci/devices/$cmb/p2pmem" || bail "the CMB of p2p-cmb did not register"
first=$(wait_namespace serial p2p-cmb) || bail "no rig drive p2p-cmb"
second=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"
outside=$(wait_namespace serial p2p-outside) || bail "no rig drive p2p-outside"
shm_node=$(chardev_of "$shm") || bail "no char device for $shm"
cmb_node=$(chardev_of "$cmb") || bail "no char device for $cmb"

# copies ARGS...: p2pmem-copy ARGS... succeeds.
copies() { echo "+ p2pmem-copy $*"; "$copy" "$@"; }
# refused ERROR ARGS...: p2pmem-copy ARGS... fails, saying ERROR.
refused() {
	local error=$1
	shift
	echo "+ p2pmem-copy $*"
	! "$copy" "$@" 2>/tmp/copy.err && cat /tmp/copy.err && grep -q "$error" /tmp/copy.err
}
# at OFFSET FILE DEVICE: DEVICE holds FILE at byte OFFSET (read with O_DIRECT).
at() {
	dd if="$3" of=/tmp/readback bs=1M skip=$(($1 >> 20)) count=$(($(stat -c %s "$2") >> 20)) \
		iflag=direct status=none && cmp "$2" /tmp/readback
}
nothing_mapped() {
	local m
	for m in /sys/bus/pci/devices/*/p2pmem; do
		[ "$(cat "$m/mapped")" = 0 ] && [ "$(cat "$m/in_use")" = 0 ] || return 1
	done
}

run_id=$RANDOM$RANDOM
marked_pattern "$run_id" $SIZE >/tmp/pattern1
marked_pattern "$run_id-2" $SIZE >/tmp/pattern2
write_direct /tmp/pattern1 "$first" $SIZE || bail "cannot write $first"
dd if=/tmp/pattern2 of="$second" bs=1M seek=16 oflag=direct status=none || bail "cannot write $second"

check "copy 16 MiB $first -> ivshmem BAR -> $second, 2 threads, verified" \
	copies -m "$shm_node" -i "$first" -o "$second" -s 16M -c 1M -t 2 -v
check "$second holds the data" at 0 /tmp/pattern1 "$second"
check "the data went through the ivshmem BAR (host backing file)" \
	pattern_passed_through "$backing" "$run_id" /tmp/pattern1
check "copy 16 MiB $second -> CMB of $cmb -> $first at 16 MiB, verified" \
	copies -m "$cmb_node" -i "$second" -o "$first" -O 16M -s 16M -c 512k -t 3 -v
check "$first holds the data at 16 MiB" at $SIZE /tmp/pattern2 "$first"
check "the data went through the CMB (sysfs resource2)" \
	pattern_passed_through "/sys/bus/pci/devices/$cmb/resource2" "$run_id-2" /tmp/pattern2

head -c $MIB /dev/urandom >/tmp/outside
write_direct /tmp/outside "$outside" $MIB || bail "cannot write $outside"
dmesg -C
check "reading the outside drive into the BAR is refused (EREMOTEIO)" \
	refused 'Remote I/O error' -m "$shm_node" -i "$outside" -s 1M
check "so is writing it from the BAR" \
	refused 'Remote I/O error' -m "$shm_node" -i "$first" -o "$outside" -s 1M
check "the outside drive's data is untouched" at 0 /tmp/outside "$outside"
check "the log says why and how to find out more" \
	grep -q "may not reach this p2p memory: refused (p2pdma-explain $shm" <(dmesg)
check "plain O_DIRECT into a char device mapping fails (EFAULT: not pinnable)" \
	refused 'Bad address' -m "$shm_node" -p -i "$first" -s 1M
check "without the opt-in, allocate does not map (EPERM)" \
	refused 'Operation not permitted' -a "/sys/bus/pci/devices/$shm/p2pmem/allocate" -i "$outside" -s 1M
alloc=/sys/bus/pci/devices/$shm/p2pmem/allocate
echo 1 >"/sys/bus/pci/devices/$shm/p2pmem/allow_user_dma"
dmesg -C
check "with it, O_DIRECT from the outside drive into allocate is refused (EREMOTEIO)" \
	refused 'Remote I/O error' -a "$alloc" -i "$outside" -s 1M
check "so is O_DIRECT from allocate to the outside drive" \
	refused 'Remote I/O error' -a "$alloc" -i "$first" -o "$outside" -s 1M
check "the outside drive's data is still untouched" at 0 /tmp/outside "$outside"
check "nvme's log names the provider and how to find out more" \
	grep -q "I/O refused: its data is in p2p memory of $shm, which this controller may not reach (p2pdma-explain $shm" <(dmesg)
check "O_DIRECT $first -> allocate -> $second at 32 MiB, verified" \
	copies -a "$alloc" -i "$first" -o "$second" -O 32M -s 4M -v
dd if="$first" of=/tmp/first-32m bs=1M skip=32 count=4 iflag=direct status=none
check "$second holds the data" at $((32 * MIB)) /tmp/first-32m "$second"
check "an anonymous-memory baseline copy to the outside drive verifies" \
	copies -i "$first" -o "$outside" -s 4M -v
head -c $((4 * MIB)) /tmp/pattern1 >/tmp/pattern1-head
check "the outside drive holds it" at 0 /tmp/pattern1-head "$outside"
check "nothing is mapped or in use on any provider" nothing_mapped
