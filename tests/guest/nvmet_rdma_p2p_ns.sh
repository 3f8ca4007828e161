#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
#
# While a port's controllers use p2p memory, enabling a namespace whose
# drive cannot reach that memory fails (EINVAL, with a log line naming
# both); a drive behind the same switch is accepted; once the host is gone
# the same namespace enables, and on a port without p2p it always does.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 9
subsys=$NVMET/subsystems/$TEST_NQN

p2p_rig ivshmem
outside=$(wait_namespace serial p2p-outside) || bail "no rig drive p2p-outside"
legacy=$(wait_namespace serial p2p-legacy) || bail "no rig drive p2p-legacy"
truncate -s 64M /tmp/ns.img
# ns_enable NSID DEVICE: create namespace NSID on DEVICE and enable it.
ns_enable() {
	mkdir -p "$subsys/namespaces/$1" &&
		echo "$2" >"$subsys/namespaces/$1/device_path" || return 1
	# A file buffered: 6.1's tmpfs has no O_DIRECT.
	[ ! -f "$2" ] || echo 1 >"$subsys/namespaces/$1/buffered_io" || return 1
	echo 1 >"$subsys/namespaces/$1/enable"
}
# refused NSID DEVICE: enabling fails with EINVAL, the log names DEVICE,
# and the namespace stays disabled.
refused() {
	dmesg -C
	! ns_enable "$1" "$2" 2>/tmp/err && grep -q 'Invalid argument' /tmp/err &&
		dmesg | grep -q "namespace $1 ($2) cannot reach p2p memory $shm" &&
		[ "$(cat "$subsys/namespaces/$1/enable")" = 0 ]
}

nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 || bail "cannot export"
run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || bail "cannot connect"
wait_namespace subsysnqn "$TEST_NQN" >/dev/null
check "the port's queues use the ivshmem BAR" queues_on "$shm"
check "the drive outside the switch is refused as namespace 2" refused 2 "$outside"
check "a file is refused as namespace 3" refused 3 /tmp/ns.img
check "the other drive behind the switch is accepted as namespace 4" ns_enable 4 "$legacy"
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
# enables_soon NSID: enabling succeeds within 10 s (the target frees the
# controller after the host has gone).
enables_soon() {
	local i
	for ((i = 0; i < 100; i++)); do
		echo 1 >"$subsys/namespaces/$1/enable" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
check "with no controller left, the outside drive enables" enables_soon 2
nvmet_clear

nvmet_export rdma "$P2P_ADDR" 4420 "$drive" || bail "cannot export"
run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || bail "cannot connect"
check "on a port without p2p, the outside drive enables while connected" ns_enable 2 "$outside"
check "and so does a file" ns_enable 3 /tmp/ns.img
check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
nvmet_clear
run rdma link delete rxe0
