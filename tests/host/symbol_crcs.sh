#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In-tree modules that import symbols of the nvmet family (lpfc imports
# nvmet-fc's) were built against the in-tree family's symbol CRCs. Ours
# must export the same CRCs for those symbols, or such a module no longer
# loads once our family replaces the in-tree one. The expected CRCs come
# from the in-tree modules themselves (modprobe --dump-modversions).

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"

symvers=$REPO/build/$TEST_KVER/Module.symvers
moddir=/lib/modules/$TEST_KVER
[ -f "$symvers" ] || { plan 1; bail "no build for $TEST_KVER: make KVER=$TEST_KVER"; }

# In-tree modules outside drivers/nvme/target that need one of ours.
mapfile -t importers < <(grep -E '^kernel/' "$moddir/modules.dep" |
	grep -v '^kernel/drivers/nvme/target/' | grep 'updates/dkms/' | cut -d: -f1)
plan $((${#importers[@]} + 1))
check "in-tree modules that import our symbols: ${#importers[@]} (lpfc among them)" \
	bash -c "printf '%s\n' ${importers[*]} | grep -q lpfc"

# same_crcs MODULE: every CRC MODULE expects of a symbol we export is ours.
same_crcs() {
	local crc sym ours bad=0 n=0
	while read -r crc sym _; do
		ours=$(awk -v s="$sym" '$2 == s { print $1 }' "$symvers")
		[ -n "$ours" ] || continue
		n=$((n + 1))
		if [ "$((crc))" != "$((ours))" ]; then
			echo "$1: $sym: expects $crc, ours is $ours"
			bad=1
		fi
	done < <(modprobe --dump-modversions "$moddir/$1")
	echo "$1: $n symbols of ours checked"
	[ "$n" -gt 0 ] && [ "$bad" = 0 ]
}
for m in "${importers[@]}"; do
	check "$(basename "$m"): our exports have the CRCs it was built against" same_crcs "$m"
done
