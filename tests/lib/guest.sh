# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by guest test scripts (tests/guest/*.sh), which run in the rig's
# chroot: KTAP helpers, rig helpers, and the facts the host computed for
# this run (/run/out/expect: srcversions of the checkout's build, modules).

# shellcheck source=tests/lib/ktap.sh
. "$(dirname "${BASH_SOURCE[0]}")/ktap.sh"

# sysfs_read VAR FILE: VAR = FILE's first line without spaces ('' if
# FILE cannot be read). No process: the device lookups run in polling
# loops, where a process per read (a second in the debug kernel) was most
# of their time.
sysfs_read() {
	local -n sysfs_read_var=$1
	sysfs_read_var=
	read -r sysfs_read_var 2>/dev/null <"$2"
	sysfs_read_var=${sysfs_read_var// /}
}

# nvme_by_serial SERIAL: the controller (nvmeN) of the rig drive SERIAL.
nvme_by_serial() {
	local c serial
	for c in /sys/class/nvme/nvme*; do
		sysfs_read serial "$c/serial"
		if [ "$serial" = "$1" ]; then
			basename "$c"
			return 0
		fi
	done
	return 1
}

# pci_by_serial SERIAL: the PCI address of the rig drive SERIAL.
pci_by_serial() {
	local c
	c=$(nvme_by_serial "$1") || return 1
	basename "$(readlink -f "/sys/class/nvme/$c/device")"
}

# pci_by_id VENDOR:DEVICE: the PCI address of the first such device.
pci_by_id() {
	local d vendor device
	for d in /sys/bus/pci/devices/*; do
		sysfs_read vendor "$d/vendor"
		sysfs_read device "$d/device"
		if [ "$vendor:$device" = "$1" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

# bar_size BDF BAR: size in bytes of BAR (0-5) of PCI device BDF.
bar_size() {
	local start end
	read -r start end _ < <(sed -n "$(($2 + 1))p" "/sys/bus/pci/devices/$1/resource")
	echo $((end == 0 ? 0 : end - start + 1))
}

# rig_nic: the netdev of the rig's e1000e (behind the switch).
rig_nic() {
	local n
	for n in /sys/bus/pci/drivers/e1000e/*/net/*; do
		[ -e "$n" ] && basename "$n" && return 0
	done
	return 1
}

# chardev_of BDF: the /dev node of PCI device BDF's p2pmem char device.
chardev_of() {
	local c
	for c in /sys/class/p2pdma/*; do
		if [ "$(basename "$(readlink -f "$c/device")")" = "$1" ]; then
			echo "/dev/$(basename "$c")"
			return 0
		fi
	done
	return 1
}

# bind_bar_provider BDF: hand PCI device BDF to p2pdma_bar (through
# driver_override) and wait until its memory is registered (p2pmem/).
bind_bar_provider() {
	echo p2pdma_bar >"/sys/bus/pci/devices/$1/driver_override" &&
		echo "$1" >/sys/bus/pci/drivers_probe &&
		wait_for "/sys/bus/pci/devices/$1/p2pmem"
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

# gone_soon PID: process PID ends within 30 s.
gone_soon() {
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# still_waits PID: process PID is still running 2 s later.
still_waits() {
	sleep 2
	kill -0 "$1"
}

# installed_by_dkms MODULE: modprobe's file for MODULE is in updates/dkms
# and is there.
installed_by_dkms() {
	local file updates
	updates=/lib/modules/$(uname -r)/updates/dkms
	file=$(modinfo -n "$1") || return 1
	echo "$1 -> $file"
	[[ $file == "$updates/$1.ko" || $file == "$updates/$1.ko.xz" ]] &&
		[ -f "$file" ]
}

# unloads MODULE...: every MODULE is loaded, and modprobe -r removes them.
unloads() {
	local m
	for m in "$@"; do
		[ -d "/sys/module/${m//-/_}" ] || { echo "$m is not loaded"; return 1; }
	done
	modprobe -r "$@" || return 1
	for m in "$@"; do
		[ ! -d "/sys/module/${m//-/_}" ] || { echo "$m is still loaded"; return 1; }
	done
}

# loaded_is_checkout MODULE: the loaded MODULE has the srcversion of this
# checkout's build (in-tree modules of the nvmet family have none).
loaded_is_checkout() {
	local var=EXPECT_SRCVERSION_${1//-/_} sysfs=/sys/module/${1//-/_}
	echo "$1: loaded $(cat "$sysfs/srcversion" 2>&1), checkout ${!var:-none}"
	[ -n "${!var:-}" ] && [ "$(cat "$sysfs/srcversion")" = "${!var}" ]
}

# Facts the host wrote for this run: EXPECT_KVER, EXPECT_NVMET_FAMILY, EXPECT_SRCVERSION_<module> (tests/run) and RIG_*
# (what QEMU was given, tests/rig/boot).
set -a
for facts in /run/out/expect /run/out/rig.env; do
	# shellcheck source=/dev/null
	[ -f "$facts" ] && . "$facts"
done
set +a
