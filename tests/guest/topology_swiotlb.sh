#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --append swiotlb=force
#
# With swiotlb=force every streaming DMA of a client goes through bounce
# buffers in RAM, so data meant for a BAR would never reach it: a client
# behind the switch, accepted on the plain rig, is refused.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/topology.sh
. "$(dirname "$0")/../lib/topology.sh"

plan 3
setup_providers || bail "cannot register the rig's providers"
check "the guest booted with swiotlb=force" grep -qw swiotlb=force /proc/cmdline
explain "$shm" "$nic"
check "same switch under swiotlb=force: refused, naming swiotlb" \
	expect_verdict "$shm" "$nic" "refused: swiotlb bounces all of the client's DMA (swiotlb=force)"
check "find gives the NIC none" [ "$(find_for "$nic")" = none ]
