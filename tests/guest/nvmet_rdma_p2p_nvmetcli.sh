#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 trixie
# rig-options: --ivshmem-mb 8
#
# nvmetcli keeps a port's allow_p2pmem and a namespace's p2pmem under the
# names param_allow_p2pmem and device_p2pmem: each pair is one value
# (written through either name, read through both), bad values are
# refused the same way through both, and a configuration that pins the
# ivshmem BAR (not the drive's own CMB, which nvmet would choose) goes
# through nvmetcli's save, clear and restore (tests/lib/nvmetcli_mirror.py
# does what nvmetcli does) and moves verified data through the same
# provider afterwards. The saved file carries no counters.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"
# shellcheck source=tests/lib/nvmet.sh
. "$(dirname "$0")/../lib/nvmet.sh"

plan 25
readonly SIZE=$((1 << 20)) SAVED=/tmp/nvmet.json
mirror=$(dirname "$0")/../lib/nvmetcli_mirror.py
backing=/run/out/ivshmem.bin
port=$P2P_PORT
subsys=$NVMET/subsystems/$TEST_NQN
ns=$subsys/namespaces/1

p2p_rig cmb
cmb=$(pci_by_serial p2p-cmb)
bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"
mem=/sys/bus/pci/devices/$shm/p2pmem
nic_pci=$(basename "$(readlink -f "/sys/class/net/$nic/device")")

# refusal FILE VALUE: writing VALUE to FILE fails; prints the error and
# the kernel's log line about it.
refusal() {
	local err
	dmesg -C
	if err=$({ echo "$2" >"$1"; } 2>&1); then
		echo "accepted"
		return
	fi
	echo "${err##*: } / $(dmesg -t | grep -m 1 nvmet-p2p)"
}
# same_refusal OLD NEW VALUE: VALUE is refused through both names of one
# setting with the same error and log line, and both still read as before.
same_refusal() {
	local before old new
	before=$(cat "$1")
	old=$(refusal "$1" "$3")
	new=$(refusal "$2" "$3")
	echo "${1##*/} <- $3: $old"
	echo "${2##*/} <- $3: $new"
	[ "$old" != accepted ] && [[ $old == *nvmet-p2p* ]] && [ "$old" = "$new" ] &&
		[ "$(cat "$1")" = "$before" ] && [ "$(cat "$2")" = "$before" ]
}
# reads_as FILE... VALUE: every FILE reads VALUE.
reads_as() {
	local want=${*: -1} f
	for f in "${@:1:$#-1}"; do
		echo "${f##*/}: $(cat "$f")"
		[ "$(cat "$f")" = "$want" ] || return 1
	done
}
# written_reads NAME VALUE OTHER: after VALUE is written through NAME, it
# and OTHER both read VALUE.
written_reads() {
	echo "$2" >"$1" && reads_as "$1" "$3" "$2"
}

mkdir -p "$ns" "$port"
check "a new port: param_allow_p2pmem and allow_p2pmem both 0" \
	reads_as "$port/param_allow_p2pmem" "$port/allow_p2pmem" 0
check "a new namespace: device_p2pmem and p2pmem both 1" \
	reads_as "$ns/device_p2pmem" "$ns/p2pmem" 1
check "param_allow_p2pmem=1 reads 1 through both names" \
	written_reads "$port/param_allow_p2pmem" 1 "$port/allow_p2pmem"
check "allow_p2pmem=0 reads 0 through both names" \
	written_reads "$port/allow_p2pmem" 0 "$port/param_allow_p2pmem"
check "device_p2pmem=<ivshmem> reads the PCI name through both names" \
	written_reads "$ns/device_p2pmem" "$shm" "$ns/p2pmem"
check "p2pmem=0 reads 0 through both names" \
	written_reads "$ns/p2pmem" 0 "$ns/device_p2pmem"
check "device_p2pmem=1 reads 1 through both names" \
	written_reads "$ns/device_p2pmem" 1 "$ns/p2pmem"
check "the port's maybe: refused the same through both names" \
	same_refusal "$port/allow_p2pmem" "$port/param_allow_p2pmem" maybe
check "the namespace's maybe: refused the same through both names" \
	same_refusal "$ns/p2pmem" "$ns/device_p2pmem" maybe
check "a PCI name that is no device: refused the same through both names" \
	same_refusal "$ns/p2pmem" "$ns/device_p2pmem" 0000:7f:1f.7
check "the NIC, which has no p2p memory: refused the same through both names" \
	same_refusal "$ns/p2pmem" "$ns/device_p2pmem" "$nic_pci"
check "p2pmem_stats is read-only and outside nvmetcli's groups" \
	[ "$(stat -c %a "$port/p2pmem_stats")" = 444 ]
rmdir "$ns" "$subsys" "$port"

# The configuration, written through the seeds' and upstream's names.
check "export the drive: allow_p2pmem=1, the namespace's p2pmem pinned to the ivshmem BAR" \
	nvmet_export rdma "$P2P_ADDR" 4420 "$drive" allow_p2pmem=1 "ns.p2pmem=$shm"
check "while the port is enabled, 0 is refused the same through both names" \
	same_refusal "$port/allow_p2pmem" "$port/param_allow_p2pmem" 0
check "while the namespace is enabled, 0 is refused the same through both names" \
	same_refusal "$ns/p2pmem" "$ns/device_p2pmem" 0

# io_through SHM: connect, move a marked pattern through the connection
# and check it everywhere, with the queues on SHM; disconnect.
io_through() {
	local run_id=$RANDOM$RANDOM remote status=0
	marked_pattern "$run_id" "$SIZE" >/tmp/pattern
	run nvme connect -t rdma -a "$P2P_ADDR" -s 4420 -n "$TEST_NQN" || return 1
	remote=$(wait_namespace subsysnqn "$TEST_NQN") &&
		queues_on "$1" &&
		write_direct /tmp/pattern "$remote" "$SIZE" &&
		same_data /tmp/pattern "$remote" "$SIZE" &&
		same_data /tmp/pattern "$drive" "$SIZE" &&
		pattern_passed_through "$backing" "$run_id" /tmp/pattern || status=1
	cat "$port/p2pmem_stats"
	nvme disconnect -n "$TEST_NQN" >/dev/null || status=1
	return $status
}
echo "providers: the drive's CMB $cmb, the ivshmem BAR $shm"
check "data moves through the pinned ivshmem BAR and reads back" io_through "$shm"

# saved EXPR VALUE: in the saved file (c), the Python expression EXPR is
# VALUE.
saved() {
	python3 - "$SAVED" "$1" "$2" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(sys.argv[2], '=', v)
sys.exit(v != sys.argv[3])
EOF
}
check "nvmetcli save" bash -c "python3 '$mirror' save $SAVED && cat $SAVED"
check "the saved port has param allow_p2pmem 1" saved "c['ports'][0]['param']['allow_p2pmem']" 1
check "the saved namespace has device p2pmem <ivshmem>" \
	saved "c['subsystems'][0]['namespaces'][0]['device']['p2pmem']" "$shm"
check "the saved file carries no counters" \
	bash -c "! grep -E 'stats|queues_p2p|fallback' $SAVED"
# restored: nvmetcli's clear, then its restore; no error about p2p.
restored() {
	python3 "$mirror" clear &&
		[ -z "$(ls -A "$NVMET/ports")$(ls -A "$NVMET/subsystems")" ] || return 1
	python3 "$mirror" restore "$SAVED" >/tmp/restore.log || return 1
	cat /tmp/restore.log
	! grep p2pmem /tmp/restore.log
}
check "nvmetcli clear and restore, with no error about p2p settings" restored
check "after restore both port names read 1" \
	reads_as "$port/param_allow_p2pmem" "$port/allow_p2pmem" 1
check "after restore both namespace names read the ivshmem BAR" \
	reads_as "$ns/device_p2pmem" "$ns/p2pmem" "$shm"
check "data moves through the same provider again and reads back" io_through "$shm"
nvmet_clear
check "the ivshmem BAR has all its memory back" provider_all_back
run rdma link delete rxe0
