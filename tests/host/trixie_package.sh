#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: trixie
# runs: host
#
# The packages on Debian 13, in the trixie root (tests/rig/root: its dkms
# 3.2, gcc-14, linux-source-6.12 and newest 6.12.N+deb13 kernel). apt-get
# purge of what tests/run --install put there puts Debian's modules back,
# and a guest booting the root then serves NVMe-oF with Debian's nvmet.
# apt-get install from inside the root, as a trixie user does, builds and
# installs this checkout's modules (tests/run built it in the root:
# build/TEST_KVER), signed with DKMS's own key; the backports' 7.x kernel,
# built with CONFIG_PCI_P2PDMA=y, is skipped by the install and refused
# by make, with the message to use its own framework. Leaves the packages
# installed, for the guests.

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"
# shellcheck source=tests/lib/root.sh
. "$REPO/tests/lib/root.sh"
# shellcheck source=tests/lib/stock_guest.sh
. "$REPO/tests/lib/stock_guest.sh"

plan 8
root=${TEST_ROOT:?tests/run names the trixie root}
kver=$TEST_KVER
k7=$(find "$root/usr/src" -mindepth 1 -maxdepth 1 -name 'linux-headers-7.*+deb13-amd64' -printf '%f\n' | sed 's/^linux-headers-//' | sort -V | tail -n 1)
echo "trixie root $root: $kver, and $k7 (headers only)"
debs=()
for deb in "$REPO"/build/deb/p2pdma-dkms_*.deb "$REPO"/build/deb/p2pdma-tools_*.deb; do
	debs+=("./build/deb/${deb##*/}")
done
[ -e "$REPO/build/$kver/p2pdma/p2pdma.ko" ] || bail "no build of this checkout for $kver: tests/run builds it in the root"
# Nothing is purged unless there is something to install again.
for deb in "${debs[@]}"; do
	[ -e "$REPO/build/deb/${deb##*/}" ] || bail "no packages in build/deb: make deb (tests/run --install does)"
done
modules=(p2pdma nvme nvmet nvmet-rdma)

check "the root has Debian 13's 6.12 kernel and a 7.x kernel's headers" \
	bash -c "[[ '$kver' == 6.12.*+deb13-amd64 ]] && [ -n '$k7' ]"

# purged: after apt-get purge, Debian's modules are in charge for $kver
# and DKMS knows nothing of ours.
purged() {
	local m file
	in_root "$root" apt-get purge -y p2pdma-dkms p2pdma-tools >"$OUT/purge.log" 2>&1 ||
		{ cat "$OUT/purge.log"; return 1; }
	for m in nvme nvmet nvmet-rdma; do
		file=$(in_root "$root" modinfo -k "$kver" -n "$m") || return 1
		echo "$m -> $file"
		[[ $file == "/lib/modules/$kver/kernel/drivers/nvme/"* ]] || return 1
	done
	# shellcheck disable=SC2016 # expanded in the root
	in_root "$root" sh -c '! modinfo -k "$1" -n p2pdma 2>/dev/null && [ -z "$(dkms status p2pdma)" ]' \
		purged "$kver" && [ ! -e "$root/var/lib/dkms/p2pdma" ]
}
check "apt-get purge in the root (p2pdma-dkms and -tools) puts Debian's nvme and nvmet back for $kver" purged

check "a guest on the root then serves NVMe-oF over rdma with Debian's nvmet" \
	stock_nvmet_guest "$OUT/stock" "$kver" "$root"

# apt_install LOG: both packages, reinstalled if installed, the output in
# $OUT/LOG.
apt_install() {
	in_root_package "$root" install_debs "${debs[@]}" >"$OUT/$1" 2>&1
	local status=$?
	cat "$OUT/$1"
	return $status
}
check "apt-get install of both packages in the root" apt_install install.log

# ours_and_built: each module resolves to updates/dkms and has the
# srcversion of this checkout's build for the kernel.
ours_and_built() {
	in_root_package "$root" installed_is_build "$kver"
}
check "$kver: the modules DKMS installed are in charge (updates/dkms) and this checkout's build" ours_and_built

# signed_by_dkms_key: each module is signed, by the key whose certificate
# DKMS keeps in /var/lib/dkms/mok.pub (its serial is the signature's key
# id).
signed_by_dkms_key() {
	local serial m signer key
	serial=$(in_root "$root" openssl x509 -in /var/lib/dkms/mok.pub -inform DER -noout -serial) || return 1
	serial=${serial#serial=}
	echo "mok.pub serial $serial"
	for m in "${modules[@]}"; do
		signer=$(in_root "$root" modinfo -k "$kver" -F signer "$m")
		key=$(in_root "$root" modinfo -k "$kver" -F sig_key "$m" | tr -d ':\n')
		echo "$m: signer '$signer', key $key"
		[ "$signer" = "DKMS module signing key" ] && [ "$key" = "$serial" ] || return 1
	done
}
check "they are signed with DKMS's key (/var/lib/dkms/mok.pub)" signed_by_dkms_key

check "$k7 (CONFIG_PCI_P2PDMA=y): the install skips it and says to use its own framework" \
	bash -c "grep -F 'p2pdma-dkms: $k7 has CONFIG_PCI_P2PDMA=y: skipped; use that kernel' '$OUT/install.log' &&
		[ -z \"\$(ls '$root/lib/modules/$k7/updates/dkms' 2>/dev/null)\" ]"
# refused_7x: make for the 7.x kernel fails with one line of ours, which
# names the kernel's own framework.
refused_7x() {
	! in_root "$root" make -C /run/repo --no-print-directory KVER="$k7" \
		BUILD=/tmp/p2pdma-build7 modules >"$OUT/build7.log" 2>&1 || return 1
	cat "$OUT/build7.log"
	[ "$(grep -c 'p2pdma-dkms: ' "$OUT/build7.log")" = 1 ] &&
		grep -q 'has CONFIG_PCI_P2PDMA=y: use its own P2PDMA framework' "$OUT/build7.log"
}
check "$k7: make refuses with one line saying to use its own framework" refused_7x
rm -rf "$root/tmp/p2pdma-build7"
