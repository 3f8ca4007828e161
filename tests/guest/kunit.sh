#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: debug
#
# The KUnit suites of our modules, in the debug kernel (the only one with
# KUnit), on the rig's devices: tests/kunit/p2pdma_kunit.ko (the core's
# exported API and attributes), nvme-p2p-kunit.ko (where the NVMe driver
# finds a CMB) and nvmet-p2p-kunit.ko (nvmet-p2p's provider selection). Each KUnit case is one result, read from the suites' KTAP in
# debugfs; a case that never ran fails through the plan, counted from
# the sources, and a crash fails the guest through its console.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

build=/run/repo/build/$(uname -r)
suites=("$build/tests/kunit/p2pdma_kunit.ko"
	"$build/nvme-p2p/drivers/nvme/host/nvme-p2p-kunit.ko"
	"$build/nvmet-p2p/drivers/nvme/target/nvmet-p2p-kunit.ko")
sources=(/run/repo/tests/kunit/*.c /run/repo/nvme-p2p/*kunit*.c /run/repo/nvmet-p2p/*kunit*.c)
plan "$(cat "${sources[@]}" | grep -cE '^[[:space:]]*KUNIT_CASE(_PARAM)?\(')"

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
[ -d /sys/kernel/debug/kunit ] || bail "no KUnit in this kernel ($(uname -r)): run with --kernel debug"

# The fixture the suites expect: p2pdma with the CMBs our nvme registers, the
# ivshmem BAR as a generic provider, the drives' driver, nvmet.
run modprobe -a nvme p2pdma e1000e || bail "cannot load p2pdma and drivers"
ivshmem=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
bind_bar_provider "$ivshmem" || bail "cannot bind $ivshmem to p2pdma_bar"
run modprobe nvmet || bail "cannot load nvmet"
for ko in "${suites[@]}"; do
	run insmod "$ko" || bail "cannot load $ko"
done

# One result per top-level case of each suite's KTAP. A skipped case
# fails too: here, on the rig it was written for, every case must run.
for results in /sys/kernel/debug/kunit/*/results; do
	suite=$(basename "$(dirname "$results")")
	echo "== suite $suite"
	cat "$results"
	while read -r line; do
		status=ok
		case "$line" in
		"not ok "*) status="not ok" ;;
		*"# SKIP"*) status=skipped ;;
		esac
		# No sed here: a process per case cost the debug guest 30 s.
		[[ $line =~ ^(not\ )?ok\ [0-9]+\ ([^ #]+) ]]
		check "$suite: ${BASH_REMATCH[2]:-$line}" [ "$status" = ok ]
	done < <(sed -nE 's/^    ((not )?ok [0-9]+ .*)/\1/p' "$results")
done

# Unload it all: what a module leaves behind, the rig's kmemleak scan
# after this script reports.
for ko in "${suites[@]}"; do
	run rmmod "$(basename "$ko" .ko)"
done
run modprobe -r nvmet nvme p2pdma
