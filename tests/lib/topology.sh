# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers of the topology tests (tests/guest/topology_*.sh), sourced after
# tests/lib/guest.sh. Expected distances and bridges come from the sysfs
# device paths, not from p2pdma.

explain_script=$(dirname "${BASH_SOURCE[0]}")/../../scripts/p2pdma-explain
find_ctl=/sys/kernel/debug/p2pdma_test/control
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko

# sysfs_path BDF: the components of BDF's sysfs device path, one per line.
sysfs_path() {
	readlink -f "/sys/bus/pci/devices/$1" | tr / '\n' | grep -v '^$'
}

# shared_depth A B: how many leading sysfs path components PCI devices A
# and B share; sets path_a and path_b (the components).
shared_depth() {
	local i=0
	mapfile -t path_a < <(sysfs_path "$1")
	mapfile -t path_b < <(sysfs_path "$2")
	while [ $i -lt ${#path_a[@]} ] && [ $i -lt ${#path_b[@]} ] &&
		[ "${path_a[i]}" = "${path_b[i]}" ]; do
		i=$((i + 1))
	done
	depth=$i
}

# pci_hops A B: links between PCI devices A and B: up to the closest
# bridge above both, or up to the host bridge (pciDDDD:BB) and down.
pci_hops() {
	shared_depth "$1" "$2"
	echo $((${#path_a[@]} - depth + ${#path_b[@]} - depth))
}

# common_bridge A B: the closest device above both in sysfs.
common_bridge() {
	shared_depth "$1" "$2"
	echo "${path_a[depth - 1]}"
}

# host_bridge_id: vendor:device of the rig's host bridge, as lspci -n shows.
host_bridge_id() {
	local d=/sys/bus/pci/devices/0000:00:00.0
	echo "$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")"
}

# explain DEVICE...: p2pdma-explain's report, kept in $report as well.
explain() {
	report=$("$explain_script" "$@") || return 1
	echo "$report"
}

# verdict PROVIDER CLIENT: the verdict part of the last report's line.
verdict() {
	grep -F "$1 -> $2: " <<<"$report" | sed 's/^[^ ]* -> [^ ]*: //'
}

# expect_verdict PROVIDER CLIENT TEXT: the last report judged the pairing
# with a verdict that starts with TEXT.
expect_verdict() {
	local v
	v=$(verdict "$1" "$2")
	echo "verdict $1 -> $2: $v"
	[[ $v == "$3"* ]]
}

# find_for CLIENT...: the provider p2pdma_find() gives CLIENTs (or none),
# through the test client module.
find_for() {
	echo "find $*" >"$find_ctl" || return 1
	dmesg | grep -F "p2pdma_test: find $*: " | tail -n 1 | sed 's/.*: //'
}

# finds_provider CLIENT...: find gives CLIENTs a registered provider.
finds_provider() {
	local p
	p=$(find_for "$@")
	echo "find $*: $p"
	[ -n "$p" ] && [ "$p" != none ] && [ -d "/sys/bus/pci/devices/$p/p2pmem" ]
}

# setup_providers: p2pdma, the CMBs of nvme and the ivshmem BAR registered,
# the test client loaded; sets cmb, legacy, outside, shm, nic.
# shellcheck disable=SC2034 # for the tests that source this
setup_providers() {
	modprobe -a p2pdma nvme || return 1
	wait_for /sys/class/nvme/nvme2 || return 1
	cmb=$(pci_by_serial p2p-cmb) && legacy=$(pci_by_serial p2p-legacy) &&
		outside=$(pci_by_serial p2p-outside) &&
		shm=$(pci_by_id 0x1af4:0x1110) && nic=$(pci_by_id 0x8086:0x10d3) ||
		return 1
	bind_bar_provider "$shm" &&
		wait_for "/sys/bus/pci/devices/$cmb/p2pmem" &&
		wait_for "/sys/bus/pci/devices/$legacy/p2pmem" || return 1
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	insmod "$test_ko"
}
