# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The Debian packages on the system it runs on (a Debian root of the rig,
# through in_root_package, or a host test chrooted there), for tests/run's
# --install step, the host tests, make demo and make bench: whether they
# are installed and are this checkout's build, and how to get rid of a
# developer install (scripts/dkms) first. Needs $REPO (the checkout).

# installed_modules BUILD: the modules of BUILD that DKMS installs (not
# the KUnit suites).
installed_modules() {
	local ko
	for ko in "$1"/p2pdma/*.ko "$1"/nvme-p2p/drivers/nvme/host/*.ko \
		"$1"/nvmet-p2p/drivers/nvme/target/*.ko; do
		[[ $ko == *kunit.ko ]] || [ ! -e "$ko" ] || echo "$ko"
	done
}

# installed_is_build KVER: every module of this checkout's build for KVER
# ($REPO/build/KVER) that DKMS installs is what modprobe finds there: in
# updates/dkms, with the same srcversion. Says what it compared.
installed_is_build() {
	local ko m file installed built
	for ko in $(installed_modules "$REPO/build/$1"); do
		m=$(basename "$ko" .ko)
		file=$(modinfo -k "$1" -n "$m" 2>/dev/null) || { echo "$1: no $m"; return 1; }
		installed=$(modinfo -k "$1" -F srcversion "$m")
		built=$(modinfo -F srcversion "$ko")
		echo "$1: $m -> $file, srcversion $installed (this build: $built)"
		[[ $file == "/lib/modules/$1/updates/dkms/"* ]] && [ -n "$built" ] &&
			[ "$installed" = "$built" ] || return 1
	done
}

# package_installed PKG: PKG's files are on the system (installed, or
# unpacked and not yet configured); removed with its conffiles left counts
# as not installed.
package_installed() {
	case "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" in
	'' | not-installed | config-files) return 1 ;;
	esac
}

# developer_sources: the /usr/src/p2pdma-<version> directories that no
# package owns (scripts/dkms's copies, "make dkms-install").
developer_sources() {
	local conf
	for conf in /usr/src/p2pdma-*/dkms.conf; do
		[ -e "$conf" ] || continue
		dpkg-query -S "$conf" >/dev/null 2>&1 || echo "${conf%/dkms.conf}"
	done
}

# remove_developer_install: take every developer install out of DKMS and
# /usr/src (scripts/dkms remove for this checkout's version, the same by
# hand for another), so that the package may be installed.
remove_developer_install() {
	local dir version ours
	ours=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")
	for dir in $(developer_sources); do
		version=${dir#/usr/src/p2pdma-}
		echo "removing the developer install $dir"
		if [ "$version" = "$ours" ]; then
			"$REPO/scripts/dkms" remove || return 1
		else
			if [ -n "$(dkms status -m p2pdma -v "$version" 2>/dev/null)" ]; then
				dkms remove "p2pdma/$version" --all || return 1
			fi
			rm -rf "$dir" /etc/udev/rules.d/60-p2pmem.rules
		fi
	done
	[ -z "$(developer_sources)" ]
}

# deb_is_installed DEB: the package DEB holds is installed from a .deb with
# the same version, files (md5sums) and maintainer scripts: installing DEB
# again would change nothing but the DKMS builds.
deb_is_installed() {
	local deb=$1 pkg version dir f status=0
	pkg=$(dpkg-deb -f "$deb" Package) || return 1
	version=$(dpkg-deb -f "$deb" Version) || return 1
	[ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$pkg" 2>/dev/null)" = "installed $version" ] ||
		return 1
	dir=$(mktemp -d)
	dpkg-deb -e "$deb" "$dir" || status=1
	for f in md5sums preinst postinst prerm postrm; do
		if [ -e "$dir/$f" ] || [ -e "/var/lib/dpkg/info/$pkg.$f" ]; then
			cmp -s "$dir/$f" "/var/lib/dpkg/info/$pkg.$f" || status=1
		fi
	done
	rm -rf "$dir"
	return "$status"
}

# install_checkout_for KVER: KVER gets this checkout's build (built
# already in build/KVER), for make demo and make bench: nothing to do if it
# has it; through the packages (make deb) if they are installed, since
# scripts/dkms refuses then; else with scripts/dkms for KVER alone, the
# quicker way.
install_checkout_for() {
	if installed_is_build "$1"; then
		echo "this build is installed for $1 already"
	elif package_installed p2pdma-dkms; then
		make -C "$REPO" deb &&
			install_debs "$REPO"/build/deb/p2pdma-dkms_*.deb "$REPO"/build/deb/p2pdma-tools_*.deb
	else
		"$REPO/scripts/dkms" install "$1"
	fi
}

# install_debs [APT-OPTION...] DEB...: apt-get install of the packages,
# reinstalled if installed already (same version or not). Each option is
# one word (-oName=value).
install_debs() {
	local opts=() deb
	while [[ ${1:-} == -* ]]; do
		opts+=("$1")
		shift
	done
	for deb in "$@"; do
		! package_installed "$(dpkg-deb -f "$deb" Package)" || opts+=(--reinstall)
	done
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${opts[@]}" "$@"
}

# initramfs_has KVER NVME_DIR P2PDMA: KVER's initramfs holds nvme.ko
# under NVME_DIR of the kernel's modules, and p2pdma.ko if P2PDMA is
# "yes", none if "no".
initramfs_has() {
	local initrd=/boot/initrd.img-$1 list nvme p2pdma
	list=$(lsinitramfs "$initrd") || return 1
	nvme=$(grep -E '/nvme\.ko(\.xz)?$' <<<"$list" | grep -F "lib/modules/$1/")
	p2pdma=$(grep -E '/p2pdma\.ko(\.xz)?$' <<<"$list")
	echo "in $initrd: ${nvme:-no nvme.ko} ${p2pdma:-, no p2pdma.ko}"
	[[ $nvme == *"/lib/modules/$1/$2/"* ]] && [ "$(wc -l <<<"$nvme")" = 1 ] || return 1
	if [ "$3" = yes ]; then [ -n "$p2pdma" ]; else [ -z "$p2pdma" ]; fi
}
