# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Commands inside one of the rig's Debian roots (tests/rig/root), run as
# that system runs them: chrooted, with a clean environment (MAKEFLAGS
# kept: builds use every CPU), /proc, /sys and /dev, this checkout at
# /run/repo (read-write: builds write its build/), and the debug kernel's
# cache at its own path (the build link tests/kernel/build installs names
# it). The mounts live in the command's own mount namespace, so they go
# when it ends, whatever happens, and a guest booting the root never sees
# them. Needs $REPO (the checkout).

# in_root [--out DIR] ROOT COMMAND...: COMMAND in ROOT, with REPO=/run/repo
# (and DIR at /run/out, as in a guest).
in_root() {
	local out='' root kernels=${P2PDMA_CACHE:-/var/cache/p2pdma-dkms}/kernel
	if [ "$1" = --out ]; then
		out=$2
		shift 2
	fi
	root=$1
	shift
	mkdir -p "$root/run/repo" "$root/run/out" || return 1
	[ ! -d "$kernels" ] || mkdir -p "$root$kernels" || return 1
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private /bin/sh -ec '
		r=$1 repo=$2 makeflags=$3 kernels=$4 out=$5
		shift 5
		for d in proc sys dev; do mount --rbind "/$d" "$r/$d"; done
		mount --bind "$repo" "$r/run/repo"
		[ ! -d "$kernels" ] || mount --bind "$kernels" "$r$kernels"
		[ -z "$out" ] || mount --bind "$out" "$r/run/out"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root DEBIAN_FRONTEND=noninteractive REPO=/run/repo \
			MAKEFLAGS="$makeflags" "$@"' \
		in_root "$root" "$REPO" "${MAKEFLAGS:-}" "$kernels" "$out" "$@"
}

# in_root_package ROOT FUNCTION ARG...: a function of tests/lib/package.sh
# (the package's state, its installation), run in ROOT in the checkout:
# paths relative to it are the host's too.
in_root_package() {
	local root=$1
	shift
	in_root "$root" bash -c 'cd /run/repo && . tests/lib/package.sh && "$@"' package "$@"
}

# root_kernel ROOT: the kernel of ROOT's own release that the tests run:
# what scripts/kernels finds there (the newest with headers).
root_kernel() {
	in_root "$1" /run/repo/scripts/kernels default
}

# install_checkout_in ROOT KVER: this checkout built in ROOT for KVER and
# installed there (install_checkout_for), and the tools built on the
# host, for make demo and make bench.
install_checkout_in() {
	make -C "$REPO" tools &&
		in_root "$1" make -C /run/repo KVER="$2" modules &&
		in_root_package "$1" install_checkout_for "$2"
}
