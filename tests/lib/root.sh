# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Commands inside one of the rig's Debian roots (tests/rig/root), run as
# that system runs them: chrooted, with a clean environment (MAKEFLAGS
# kept: builds use every CPU), /proc, /sys
# and /dev, and this checkout at /run/repo (read-write: builds write its
# build/). The mounts live in the command's own mount namespace, so they
# go when it ends, whatever happens, and a guest booting the root never
# sees them. Needs $REPO (the checkout).

# in_root ROOT COMMAND...: COMMAND in ROOT, with REPO=/run/repo.
in_root() {
	local root=$1
	shift
	mkdir -p "$root/run/repo" || return 1
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private /bin/sh -ec '
		r=$1 repo=$2 makeflags=$3
		shift 3
		for d in proc sys dev; do mount --rbind "/$d" "$r/$d"; done
		mount --bind "$repo" "$r/run/repo"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root DEBIAN_FRONTEND=noninteractive REPO=/run/repo \
			MAKEFLAGS="$makeflags" "$@"' \
		in_root "$root" "$REPO" "${MAKEFLAGS:-}" "$@"
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
