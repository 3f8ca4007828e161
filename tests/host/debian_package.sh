#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.12
#
# The Debian packages, end to end on Debian 12 (in the bookworm root, as
# every host test runs in its kernel's root): "make deb" builds
# p2pdma-dkms and p2pdma-tools, lintian finds no error in either, the
# DKMS source holds what the build needs and no tests. Installed (in place
# of a developer install), the package's modules are in charge for every
# Debian kernel with headers, and are this checkout's build: the same
# srcversions as build/<release>/, which tests/run built from the checkout
# (an independent fact); the tools are on the PATH with man pages that
# list exactly the options their --help lists. Purged, Debian's nvme and
# nvmet family are in charge again, in the initramfs too, and nothing of
# the package is left. Installed again, ours are back: the guests that run
# after the host tests load the package's modules. Once per run (the
# packages cover both kernels).

# shellcheck source=tests/lib/ktap.sh
. "$REPO/tests/lib/ktap.sh"
# shellcheck source=tests/lib/package.sh
. "$REPO/tests/lib/package.sh"

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")
mapfile -t kernels < <("$REPO/scripts/kernels" installed)
[ ${#kernels[@]} -gt 0 ] || bail "no Debian kernel with headers installed (tests/rig/root installs them)"
plan $((14 + 4 * ${#kernels[@]}))
for kver in "${kernels[@]}"; do
	[ -e "/boot/initrd.img-$kver" ] ||
		bail "no /boot/initrd.img-$kver: install initramfs-tools and the kernel again"
	# What the installed modules must match. tests/run has built the
	# kernels of this run (with W=1, so this is quick there).
	run make -C "$REPO" --no-print-directory KVER="$kver" W=1 >"$OUT/build-$kver.log" 2>&1 ||
		bail "make KVER=$kver failed: see $OUT/build-$kver.log"
done
export DEBIAN_FRONTEND=noninteractive

# The packages are installed as on a machine that runs its newest Debian
# kernel, not the host's, which uname -r in the root reports (none of
# them, so DKMS's common.postinst would build for every kernel itself):
# DKMS's postinst then installs for that kernel alone, and the package's
# own step (debian/p2pdma-dkms.postinst) must install for every other one.
running=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -n 1)
mkdir -p "$OUT/bin"
cat >"$OUT/bin/uname" <<EOF
#!/bin/sh
[ "\$*" = -r ] && exec echo "$running"
exec /usr/bin/uname "\$@"
EOF
chmod +x "$OUT/bin/uname"
# install_as_running_newest DEB...: install_debs with that uname -r in
# the maintainer scripts' PATH (apt sets theirs from DPkg::Path).
install_as_running_newest() {
	install_debs "-oDPkg::Path=$OUT/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
}
debs=$REPO/build/deb
dkms_deb=
tools_deb=

# build_debs: make deb leaves exactly one .deb of each package.
build_debs() {
	local found
	make -C "$REPO" --no-print-directory deb || return 1
	found=$(find "$debs" -maxdepth 1 -name '*.deb' -printf '%f\n' | sort)
	echo "in $debs: $found"
	[ "$found" = "$(printf '%s\n' "p2pdma-dkms_${version}_all.deb" "p2pdma-tools_${version}_amd64.deb")" ] ||
		return 1
	dkms_deb=$debs/p2pdma-dkms_${version}_all.deb
	tools_deb=$debs/p2pdma-tools_${version}_amd64.deb
}

# lintian_clean DEB: lintian reports no error (E:) on DEB.
lintian_clean() {
	local log status=0
	[ -f "$1" ] || return 1
	log=$OUT/lintian-$(basename "$1" .deb).log
	lintian --fail-on error "$1" >"$log" 2>&1 || status=$?
	cat "$log"
	[ "$status" -eq 0 ] && ! grep -q '^E: ' "$log"
}

# deb_files DEB: the paths DEB holds, without the leading ".".
deb_files() {
	dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'
}

# dkms_source_complete: the DKMS source is there, with dkms.conf.
dkms_source_complete() {
	local files
	files=$(deb_files "$dkms_deb") || return 1
	grep -x "/usr/src/p2pdma-$version/dkms.conf" <<<"$files" &&
		grep -x "/usr/src/p2pdma-$version/Kbuild" <<<"$files" &&
		grep -x "/usr/src/p2pdma-$version/scripts/dkms-initramfs" <<<"$files"
}

# no_tests_shipped: no tests/ directory in the DKMS source, and every
# KUnit file there is a module directory's own (nvme-p2p-kunit.c,
# nvmet-p2p-kunit.c and their headers are built into the modules' build
# for a kernel with KUnit, never installed; p2pdma-kunit.h is included by
# p2pdma itself).
no_tests_shipped() {
	local files bad
	files=$(deb_files "$dkms_deb") || return 1
	bad=$(grep -E "^/usr/src/p2pdma-$version/tests(/|$)" <<<"$files")
	bad+=$(grep -i kunit <<<"$files" |
		grep -vE "^/usr/src/p2pdma-$version/(p2pdma|nvme-p2p|nvmet-p2p)/[^/]*kunit[^/]*$")
	echo "KUnit files: $(grep -ic kunit <<<"$files"); not wanted: ${bad:-none}"
	[ -z "$bad" ] && grep -q "/usr/src/p2pdma-$version/p2pdma/" <<<"$files"
}

# ours_in_charge KVER: modprobe resolves p2pdma, nvme and the nvmet family
# to DKMS's updates/dkms/ with this build's srcversions, no test or KUnit
# module is installed, and the initramfs holds our nvme.ko and p2pdma.ko.
ours_in_charge() {
	local kver=$1
	installed_is_build "$kver" || return 1
	[ -z "$(find "/lib/modules/$kver/updates" -name '*kunit*' -o -name 'p2pdma_test*')" ] ||
		return 1
	initramfs_has "$kver" updates/dkms yes
}

# debian_in_charge KVER: modprobe resolves nvme and nvmet to the kernel's
# own drivers/nvme and finds no p2pdma.
debian_in_charge() {
	local kver=$1 m file
	for m in nvme nvmet; do
		file=$(modinfo -k "$kver" -n "$m") || return 1
		echo "$kver: $m -> $file"
		[[ $file == "/lib/modules/$kver/kernel/drivers/nvme/"* ]] || return 1
	done
	! modinfo -k "$kver" -n p2pdma
}

# install_packages: apt-get install of both .debs (as on a machine that
# runs its newest kernel), reinstalled if a package of the same version is
# installed; left as it is only if this very build is installed already
# (same files and maintainer scripts, and this build's modules for every
# kernel), as tests/run --install leaves it.
install_packages() {
	local kver
	if deb_is_installed "$dkms_deb" && deb_is_installed "$tools_deb"; then
		for kver in "${kernels[@]}"; do
			ours_in_charge "$kver" >/dev/null ||
				{ install_as_running_newest "$dkms_deb" "$tools_deb"; return; }
		done
		echo "this build's packages are installed already, with its modules for ${kernels[*]}"
		return 0
	fi
	install_as_running_newest "$dkms_deb" "$tools_deb"
}

# on_path TOOL: the TOOL that the PATH finds is the package's.
on_path() {
	local tool
	for tool in p2pmem-copy p2pdma-explain; do
		echo "$tool: $(command -v "$tool")"
		[ "$(command -v "$tool")" = "/usr/bin/$tool" ] || return 1
	done
}

# help_options TOOL: the options TOOL --help lists (the option column of
# its indented option lines), one a line; fails if --help does.
help_options() {
	"$1" --help >"$OUT/$1.help" || return 1
	sed -n 's/^  \(-.*\)$/\1/p' "$OUT/$1.help" | sed 's/  .*//' |
		grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed 's/^[ ,]//' | sort -u
}

# man_options PAGE: the options the OPTIONS section of the installed man
# page PAGE lists (the tags of its .TP paragraphs), one a line.
man_options() {
	zcat "$1" | sed -n '/^\.SH OPTIONS/,/^\.SH /p' | grep -A 1 '^\.TP' |
		grep -vE '^(\.TP|--)$' | sed 's/\\-/-/g' |
		grep -oE '(^|[ ,"])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed 's/^[ ,"]//' | sort -u
}

# help_matches_man TOOL PAGE: TOOL --help exits 0 and lists exactly the
# options its man page lists.
help_matches_man() {
	local help man
	help=$(help_options "$1") || return 1
	man=$(man_options "$2") || return 1
	echo "$1 --help: $(tr '\n' ' ' <<<"$help")"
	echo "$2: $(tr '\n' ' ' <<<"$man")"
	[ -n "$help" ] && [ "$help" = "$man" ]
}

# installed_files: dpkg -L lists the man pages and the udev rule, which
# are there.
installed_files() {
	local pkg_path pkg path
	for pkg_path in p2pdma-tools:/usr/share/man/man1/p2pmem-copy.1.gz \
		p2pdma-tools:/usr/share/man/man8/p2pdma-explain.8.gz \
		p2pdma-dkms:/lib/udev/rules.d/60-p2pmem.rules; do
		pkg=${pkg_path%%:*}
		path=${pkg_path#*:}
		# Not "dpkg -L | grep -q": under pipefail, grep's early exit
		# fails the pipeline when dpkg is still writing.
		if ! grep -qx "$path" <<<"$(dpkg -L "$pkg")" || [ ! -f "$path" ]; then
			echo "$pkg: no $path"
			return 1
		fi
	done
}

# nothing_left: after the purge, no trace of either package.
nothing_left() {
	local left=() path pkg status
	status=$(dkms status 2>/dev/null | grep '^p2pdma[/,]')
	[ -z "$status" ] || left+=("dkms status: $status")
	for path in /usr/src/p2pdma-* /var/lib/dkms/p2pdma /lib/udev/rules.d/60-p2pmem.rules \
		/etc/udev/rules.d/60-p2pmem.rules /usr/bin/p2pmem-copy /usr/bin/p2pdma-explain \
		/var/log/p2pdma-dkms /var/cache/p2pdma-dkms/source; do
		[ ! -e "$path" ] || left+=("$path")
	done
	for pkg in p2pdma-dkms p2pdma-tools; do
		case "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" in
		'' | not-installed) ;;
		*) left+=("$pkg: $(dpkg-query -W -f='${db:Status-Status}' "$pkg")") ;;
		esac
	done
	echo "left behind: ${left[*]:-nothing}"
	[ ${#left[@]} -eq 0 ]
}

check "make deb builds p2pdma-dkms and p2pdma-tools" build_debs
[ -n "$dkms_deb" ] || bail "make deb failed: nothing to install"
check "lintian: no error in p2pdma-dkms" lintian_clean "$dkms_deb"
check "lintian: no error in p2pdma-tools" lintian_clean "$tools_deb"
check "the p2pdma-dkms .deb holds /usr/src/p2pdma-$version/dkms.conf" dkms_source_complete
check "the p2pdma-dkms .deb holds no tests and no KUnit file but the modules' own" no_tests_shipped
check "no developer install (scripts/dkms) is left" remove_developer_install
check "apt-get install of both packages" install_packages
for kver in "${kernels[@]}"; do
	check "$kver: the package's p2pdma, nvme and nvmet are in charge, this build's, and in the initramfs" \
		ours_in_charge "$kver"
done
check "p2pmem-copy and p2pdma-explain on the PATH are /usr/bin's" on_path
check "p2pmem-copy --help exits 0 and lists exactly the options of p2pmem-copy(1)" \
	help_matches_man p2pmem-copy /usr/share/man/man1/p2pmem-copy.1.gz
check "p2pdma-explain --help exits 0 and lists exactly the options of p2pdma-explain(8)" \
	help_matches_man p2pdma-explain /usr/share/man/man8/p2pdma-explain.8.gz
check "dpkg -L: the man pages and the udev rule are installed" installed_files
check "apt-get purge of both packages" apt-get purge -y p2pdma-dkms p2pdma-tools
for kver in "${kernels[@]}"; do
	check "$kver: after the purge Debian's nvme and nvmet are in charge, no p2pdma" \
		debian_in_charge "$kver"
	check "$kver: after the purge the initramfs holds Debian's nvme.ko and no p2pdma.ko" \
		initramfs_has "$kver" kernel/drivers/nvme/host no
done
check "after the purge nothing of the packages is left" nothing_left
check "apt-get install of both packages again" \
	install_as_running_newest "$dkms_deb" "$tools_deb"
for kver in "${kernels[@]}"; do
	check "$kver: ours are in charge again, this build's, and in the initramfs" \
		ours_in_charge "$kver"
done
