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
plan $((${#importers[@]} + 3))
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

# Our nvme.ko replaces Debian's but loads against Debian's nvme-core and
# kernel: every symbol it imports must have the CRC of Debian's
# Module.symvers (p2pdma's come from our build), the same CRCs Debian's
# own nvme.ko was built against.
nvme_ko=$REPO/build/$TEST_KVER/nvme-p2p/drivers/nvme/host/nvme.ko
kernel_symvers=$TEST_KDIR/Module.symvers
# imports_have_kernel_crcs: each import's CRC is the kernel's, or ours for
# p2pdma's exports; none is missing from both.
imports_have_kernel_crcs() {
	local crc sym theirs n=0 bad=0
	while read -r crc sym _; do
		theirs=$(awk -v s="$sym" '$2 == s { print $1; exit }' "$kernel_symvers" "$symvers")
		n=$((n + 1))
		if [ -z "$theirs" ] || [ "$((crc))" != "$((theirs))" ]; then
			echo "nvme.ko: $sym: imports $crc, Module.symvers has ${theirs:-nothing}"
			bad=1
		fi
	done < <(modprobe --dump-modversions "$nvme_ko")
	echo "nvme.ko: $n imports checked"
	[ "$n" -gt 0 ] && [ "$bad" = 0 ]
}
# same_imports_as_intree: where both drivers import a symbol, the CRCs
# are equal.
same_imports_as_intree() {
	local intree both
	intree=$(find "$moddir/kernel/drivers/nvme/host" -name 'nvme.ko*' | head -n 1)
	both=$(join <(modprobe --dump-modversions "$intree" | awk '{ print $2, $1 }' | sort) \
		<(modprobe --dump-modversions "$nvme_ko" | awk '{ print $2, $1 }' | sort))
	echo "symbols both nvme.ko import: $(wc -l <<<"$both") ($intree)"
	[ -n "$both" ] && awk '$2 != $3 { print "differs:", $0; bad = 1 } END { exit bad }' <<<"$both"
}
check "nvme.ko: every import has the CRC of the kernel's Module.symvers" imports_have_kernel_crcs
check "nvme.ko: the CRCs of what Debian's nvme.ko imports too are the same" same_imports_as_intree
