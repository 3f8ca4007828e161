#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.12
#
# The packages on Debian 13, in a trixie root of its own (tests/rig/root:
# its dkms 3.2, gcc-14, linux-source-6.12 and newest 6.12.N+deb13 kernel),
# installed with apt from inside it as a trixie user does: the modules
# DKMS installs are this checkout's (built in the root for comparison),
# signed with DKMS's own key, and the backports' 7.x kernel, built with
# CONFIG_PCI_P2PDMA=y, is refused by make and skipped by the install with
# the message to use its own framework; apt-get purge puts Debian's
# modules back. The root is left as it was built.

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"

plan 8
root=$("$REPO/tests/rig/root" trixie 2>"$OUT/root.log") ||
	{ cat "$OUT/root.log"; bail "no trixie root: see $OUT/root.log"; }
echo "trixie root: $root"
kver=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -name '6.12.*+deb13-amd64' -printf '%f\n' | sort -V | tail -n 1)
k7=$(find "$root/usr/src" -mindepth 1 -maxdepth 1 -name 'linux-headers-7.*+deb13-amd64' -printf '%f\n' | sed 's/^linux-headers-//' | sort -V | tail -n 1)
echo "kernels: $kver, and $k7 (headers only)"

mounts=()
cleanup() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}"
	done
	rm -rf "$root/tmp/p2pdma"
}
trap cleanup EXIT
for d in proc sys dev; do
	mount --bind "/$d" "$root/$d" && mounts+=("$root/$d")
done
mkdir -p "$root/run/repo" "$root/tmp/p2pdma"
mount --bind "$REPO" "$root/run/repo" && mounts+=("$root/run/repo")
mount -o remount,bind,ro "$root/run/repo"
debs=()
for deb in "$REPO"/build/deb/p2pdma-dkms_*.deb "$REPO"/build/deb/p2pdma-tools_*.deb; do
	cp "$deb" "$root/tmp/p2pdma/" && debs+=("/tmp/p2pdma/${deb##*/}")
done

# in_root COMMAND...: COMMAND in the trixie root, with a clean environment.
in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}
modules=(p2pdma nvme nvmet nvmet-rdma)

have_kernels() { [ -n "$kver" ] && [ -n "$k7" ]; }
check "the root has Debian 13's 6.12 kernel and a 7.x kernel's headers" have_kernels
check "make in the root builds this checkout for $kver (trixie's gcc)" \
	bash -c "chroot '$root' make -C /run/repo --no-print-directory KVER=$kver BUILD=/tmp/p2pdma/build modules >'$OUT/build.log' 2>&1 || { tail -n 20 '$OUT/build.log'; false; }"

# apt_install: both packages, reinstalled if a run before left them.
apt_install() {
	local opts=() status
	# shellcheck disable=SC2016 # a dpkg-query field, not a shell variable
	if in_root dpkg-query -W -f='${Status}' p2pdma-dkms 2>/dev/null | grep -q 'ok installed'; then
		opts+=(--reinstall)
	fi
	in_root apt-get install -y "${opts[@]}" "${debs[@]}" >"$OUT/install.log" 2>&1
	status=$?
	cat "$OUT/install.log"
	return $status
}
check "apt-get install of both packages in the root" apt_install

# ours_and_built: each module resolves to updates/dkms and has the
# srcversion of the build made in the root above.
ours_and_built() {
	local m file built ko
	for m in "${modules[@]}"; do
		file=$(in_root modinfo -k "$kver" -n "$m") || return 1
		case "$m" in
		p2pdma) ko=/tmp/p2pdma/build/p2pdma/p2pdma.ko ;;
		nvme) ko=/tmp/p2pdma/build/nvme-p2p/drivers/nvme/host/nvme.ko ;;
		*) ko=/tmp/p2pdma/build/nvmet-p2p/drivers/nvme/target/$m.ko ;;
		esac
		built=$(in_root modinfo -F srcversion "$ko")
		echo "$m -> $file, srcversion $(in_root modinfo -k "$kver" -F srcversion "$m"), built $built"
		[[ $file == "/lib/modules/$kver/updates/dkms/"* ]] &&
			[ "$(in_root modinfo -k "$kver" -F srcversion "$m")" = "$built" ] || return 1
	done
}
check "$kver: ${modules[*]} are DKMS's (updates/dkms) and this checkout's build" ours_and_built

# signed_by_dkms_key: each module is signed, by the key whose certificate
# DKMS keeps in /var/lib/dkms/mok.pub (its serial is the signature's key
# id).
signed_by_dkms_key() {
	local serial m signer key
	serial=$(in_root openssl x509 -in /var/lib/dkms/mok.pub -inform DER -noout -serial) || return 1
	serial=${serial#serial=}
	echo "mok.pub serial $serial"
	for m in "${modules[@]}"; do
		signer=$(in_root modinfo -k "$kver" -F signer "$m")
		key=$(in_root modinfo -k "$kver" -F sig_key "$m" | tr -d ':\n')
		echo "$m: signer '$signer', key $key"
		[ "$signer" = "DKMS module signing key" ] && [ "$key" = "$serial" ] || return 1
	done
}
check "they are signed with DKMS's key (/var/lib/dkms/mok.pub)" signed_by_dkms_key

check "$k7 (CONFIG_PCI_P2PDMA=y): the install skips it and says to use its own framework" \
	bash -c "grep -F 'p2pdma-dkms: $k7 has CONFIG_PCI_P2PDMA=y: skipped; use that kernel' '$OUT/install.log' &&
		[ -z \"\$(ls '$root/lib/modules/$k7/updates/dkms' 2>/dev/null)\" ]"
check "$k7: make refuses with one line saying to use its own framework" \
	bash -c "! chroot '$root' make -C /run/repo --no-print-directory KVER=$k7 BUILD=/tmp/p2pdma/build7 modules >'$OUT/build7.log' 2>&1 &&
		cat '$OUT/build7.log' && [ \"\$(grep -c 'p2pdma-dkms: ' '$OUT/build7.log')\" = 1 ] &&
		grep -q 'has CONFIG_PCI_P2PDMA=y: use its own P2PDMA framework' '$OUT/build7.log'"

# purged: after apt-get purge, Debian's modules are in charge for $kver
# and DKMS knows nothing of ours.
purged() {
	local m file
	in_root apt-get purge -y p2pdma-dkms p2pdma-tools >"$OUT/purge.log" 2>&1 || { cat "$OUT/purge.log"; return 1; }
	for m in nvme nvmet nvmet-rdma; do
		file=$(in_root modinfo -k "$kver" -n "$m") || return 1
		echo "$m -> $file"
		[[ $file == "/lib/modules/$kver/kernel/drivers/nvme/"* ]] || return 1
	done
	! in_root modinfo -k "$kver" -n p2pdma 2>/dev/null &&
		[ -z "$(in_root dkms status p2pdma)" ] && [ ! -e "$root/var/lib/dkms/p2pdma" ]
}
check "apt-get purge in the root puts Debian's nvme and nvmet back for $kver" purged
