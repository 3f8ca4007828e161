#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie
#
# The modules modprobe loads are the ones "dkms install" put into
# updates/dkms, built from this checkout (srcversion equal to the
# checkout's build), and they unload again: p2pdma, the NVMe PCI driver
# (which needs p2pdma) and the nvmet family.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

read -ra family <<<"$EXPECT_NVMET_FAMILY"
plan $((4 + 5 + 3 * ${#family[@]} + 1))

check "p2pdma: modprobe's file is in updates/dkms" installed_by_dkms p2pdma
check "p2pdma: modprobe loads it" modprobe p2pdma
check "p2pdma: loaded module is this checkout's build" loaded_is_checkout p2pdma
check "p2pdma: modprobe -r unloads it" unloads p2pdma

check "nvme: modprobe's file is in updates/dkms" installed_by_dkms nvme
check "nvme: modprobe loads it, and p2pdma with it" \
	bash -c "modprobe nvme && [ -d /sys/module/p2pdma ]"
check "nvme: loaded module is this checkout's build" loaded_is_checkout nvme
check "nvme: nvme-core is the kernel's own" \
	bash -c "modinfo -n nvme-core | grep -q '^/lib/modules/$(uname -r)/kernel/'"
check "nvme: modprobe -r unloads it, and p2pdma with it" unloads nvme p2pdma

for m in "${family[@]}"; do
	check "$m: modprobe's file is in updates/dkms" installed_by_dkms "$m"
	check "$m: modprobe loads it" modprobe "$m"
	check "$m: loaded module is this checkout's build" loaded_is_checkout "$m"
done
# Unloading the transports first lets nvmet go last.
check "nvmet family: modprobe -r unloads it" unloads "${family[@]}"
