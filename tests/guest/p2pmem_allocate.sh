#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie
#
# Upstream's p2pmem/allocate on the ivshmem BAR: root only; mapping is
# refused until allow_user_dma opts the provider in (its pages can be
# pinned for any device). Then the mapping checks of tests/lib/usermap.sh
# (data against the host's backing file, accounting, MAP_PRIVATE, offset,
# zero length, oversize, a second process, fork), a fresh mapping zeroed,
# and revocation: the
# device removed under a mapping, SIGBUS on the next access.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"
# shellcheck source=tests/lib/usermap.sh
. "$(dirname "$0")/../lib/usermap.sh"

plan $((6 + USER_MAPPING_CHECKS + 2))
backing=/run/out/ivshmem.bin
shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
dev=/sys/bus/pci/devices/$shm
mem=$dev/p2pmem
alloc=$mem/allocate

run modprobe p2pdma || bail "cannot load p2pdma"
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"

opt_in_refuses_bad_input() {
	! echo maybe >"$mem/allow_user_dma" 2>/dev/null &&
		[ "$(cat "$mem/allow_user_dma")" = 0 ]
}
check "allocate is root's alone (0600)" [ "$(stat -c %a "$alloc")" = 600 ]
check "allow_user_dma is 0 by default" [ "$(cat "$mem/allow_user_dma")" = 0 ]
check "without the opt-in, mmap is refused (EPERM)" map_errno "$alloc" $MIB shared 0 EPERM
check "allow_user_dma=maybe is refused and it stays 0" opt_in_refuses_bad_input
echo 1 >"$mem/allow_user_dma"
check "allow_user_dma takes 1" [ "$(cat "$mem/allow_user_dma")" = 1 ]
check "a new mapping is zeroed, not what the last one held" \
	bash -c "[ \$(python3 /run/repo/tests/lib/p2pmem_rw.py fresh $alloc $MIB) = zero ]"
user_mapping_checks "$alloc"
revocation_checks "$alloc" "$shm"
echo 1 >/sys/bus/pci/rescan
