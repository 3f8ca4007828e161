# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by guest test scripts (tests/guest/*.sh), which run in the rig's
# chroot: KTAP helpers, rig helpers, and the facts the host computed for
# this run (/run/out/expect: srcversions of the checkout's build, modules).

# shellcheck source=tests/lib/ktap.sh
. "$(dirname "${BASH_SOURCE[0]}")/ktap.sh"

# nvme_by_serial SERIAL: the controller (nvmeN) of the rig drive SERIAL.
nvme_by_serial() {
	local c
	for c in /sys/class/nvme/nvme*; do
		if [ "$(tr -d ' ' <"$c/serial")" = "$1" ]; then
			basename "$c"
			return 0
		fi
	done
	return 1
}

# rig_nic: the netdev of the rig's e1000e (behind the switch).
rig_nic() {
	local n
	for n in /sys/bus/pci/drivers/e1000e/*/net/*; do
		[ -e "$n" ] && basename "$n" && return 0
	done
	return 1
}

# wait_for PATH [SECONDS]: wait until PATH exists.
wait_for() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# installed_by_dkms MODULE: modprobe's file for MODULE is in updates/dkms.
installed_by_dkms() {
	local file updates
	updates=/lib/modules/$(uname -r)/updates/dkms
	file=$(modinfo -n "$1") || return 1
	echo "$1 -> $file"
	[[ $file == "$updates/$1.ko" || $file == "$updates/$1.ko.xz" ]]
}

# loaded_is_checkout MODULE: the loaded MODULE has the srcversion of this
# checkout's build (in-tree modules of the nvmet family have none).
loaded_is_checkout() {
	local var=EXPECT_SRCVERSION_${1//-/_} sysfs=/sys/module/${1//-/_}
	echo "$1: loaded $(cat "$sysfs/srcversion" 2>&1), checkout ${!var:-none}"
	[ -n "${!var:-}" ] && [ "$(cat "$sysfs/srcversion")" = "${!var}" ]
}

# Facts the host computed for this run: EXPECT_KVER, EXPECT_REPO,
# EXPECT_NVMET_FAMILY, EXPECT_SRCVERSION_<module>.
if [ -f /run/out/expect ]; then
	set -a
	# shellcheck source=/dev/null
	. /run/out/expect
	set +a
fi
