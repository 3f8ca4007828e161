# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# For host tests that remove the package's modules from a kernel: a rig
# guest that then serves NVMe-oF with Debian's own nvmet (the user's
# kernel works as before). Needs $REPO.

# shellcheck source=tests/lib/console.sh
. "$REPO/tests/lib/console.sh"

# stock_nvmet_guest DIR KVER ROOT: boot KVER on ROOT (tests/rig/root) with
# tests/guest/nvmet_rdma.sh told to expect Debian's modules
# (EXPECT_STOCK): every planned case passes, the guest finishes and its
# console is clean. Logs in DIR.
stock_nvmet_guest() {
	local dir=$1 kver=$2 opts=(--root "$3") plan passed bad
	[ -z "${P2PDMA_GUEST_APPEND:-}" ] || opts+=(--append "$P2PDMA_GUEST_APPEND")
	rm -rf "$dir"
	mkdir -p "$dir"
	printf "EXPECT_KVER='%s'\nEXPECT_STOCK=1\n" "$kver" >"$dir/expect"
	"$REPO/tests/rig/boot" "${opts[@]}" --timeout "${P2PDMA_GUEST_TIMEOUT:-300}" "$kver" "$dir" \
		'exec bash /run/repo/tests/guest/nvmet_rdma.sh' >"$dir/boot.log" 2>&1 ||
		{ echo "the guest failed: $(tail -n 1 "$dir/boot.log")"; return 1; }
	cat "$dir/ktap"
	if bad=$(console_failure "$dir/console.log"); then
		echo "console: $bad ($dir/console.log)"
		return 1
	fi
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$dir/ktap")
	passed=$(grep -c '^ok ' "$dir/ktap")
	if [ ! -f "$dir/exit-status" ] || [ -z "$plan" ] || [ "$passed" != "$plan" ]; then
		echo "$passed of ${plan:-?} cases passed: see $dir/guest.log"
		return 1
	fi
	rm -f "$dir"/*.img "$dir"/ivshmem*.bin "$dir/initramfs.gz"
}
