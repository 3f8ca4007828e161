#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "dkms remove" for one kernel puts the in-tree NVMe PCI driver and nvmet
# family back in charge (modprobe resolves every module to kernel/...) and
# drops p2pdma; "dkms install" brings ours back in updates/dkms. Leaves the
# kernel installed.

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"

plan 5
modules=(nvme)
for ko in "$REPO/build/$TEST_KVER/nvmet-p2p/drivers/nvme/target/"*.ko; do
	modules+=("$(basename "$ko" .ko)")
done
echo "replaced modules of $TEST_KVER: ${modules[*]}"

# all_resolve_to DIR: modprobe's file for every family module is under DIR.
all_resolve_to() {
	local m file
	for m in "${modules[@]}"; do
		file=$(modinfo -k "$TEST_KVER" -n "$m") || return 1
		echo "$m -> $file"
		[[ $file == "/lib/modules/$TEST_KVER/$1/"* ]] || return 1
	done
}

check "dkms remove for $TEST_KVER" "$REPO/scripts/dkms" remove "$TEST_KVER"
check "after removal no p2pdma module is found" \
	bash -c "! modinfo -k '$TEST_KVER' -n p2pdma"
check "after removal the in-tree nvme driver and nvmet family are in charge" \
	all_resolve_to kernel/drivers/nvme
check "dkms install for $TEST_KVER" "$REPO/scripts/dkms" install "$TEST_KVER"
check "after install our nvme driver and nvmet family are in charge" all_resolve_to updates/dkms
