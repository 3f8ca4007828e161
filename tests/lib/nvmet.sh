# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# nvmet configfs and NVMe-oF host helpers for guest tests. Sourced after
# tests/lib/guest.sh.

readonly NVMET=/sys/kernel/config/nvmet
readonly TEST_NQN=nqn.2026-11.org.p2pdma-dkms:test

# configfs_mount: load configfs (a module on Debian) and mount it.
configfs_mount() {
	modprobe configfs || return 1
	mountpoint -q /sys/kernel/config ||
		mount -t configfs configfs /sys/kernel/config
}

# nvmet_export TRTYPE TRADDR TRSVCID DEVICE [ATTR=VALUE...]: export DEVICE
# as namespace 1 of $TEST_NQN on port 1, with the attributes given written
# before the namespace and the port are enabled: port ones (allow_p2pmem=1)
# and, prefixed "ns.", namespace ones (ns.p2pmem=0).
nvmet_export() {
	local trtype=$1 traddr=$2 trsvcid=$3 device=$4 attr
	local subsys=$NVMET/subsystems/$TEST_NQN port=$NVMET/ports/1
	shift 4
	mkdir "$subsys" &&
		echo 1 >"$subsys/attr_allow_any_host" &&
		mkdir "$subsys/namespaces/1" &&
		echo "$device" >"$subsys/namespaces/1/device_path" &&
		mkdir "$port" &&
		echo "$trtype" >"$port/addr_trtype" &&
		echo ipv4 >"$port/addr_adrfam" &&
		echo "$traddr" >"$port/addr_traddr" &&
		echo "$trsvcid" >"$port/addr_trsvcid" || return 1
	for attr in "$@"; do
		if [[ $attr == ns.* ]]; then
			attr=${attr#ns.}
			echo "${attr#*=}" >"$subsys/namespaces/1/${attr%%=*}"
		else
			echo "${attr#*=}" >"$port/${attr%%=*}"
		fi || return 1
	done
	echo 1 >"$subsys/namespaces/1/enable" &&
		ln -s "$subsys" "$port/subsystems/$TEST_NQN"
}

# nvmet_clear: remove every port, subsystem and namespace, as
# "nvmetcli clear" does.
nvmet_clear() {
	local p s n
	for p in "$NVMET"/ports/*; do
		[ -d "$p" ] || continue
		rm -f "$p"/subsystems/*
		rmdir "$p"
	done
	for s in "$NVMET"/subsystems/*; do
		[ -d "$s" ] || continue
		for n in "$s"/namespaces/*; do
			[ -d "$n" ] || continue
			echo 0 >"$n/enable"
			rmdir "$n"
		done
		rmdir "$s"
	done
}

# nvme_namespace_where ATTR VALUE: the namespace block device whose NVMe
# subsystem (or controller) has ATTR = VALUE (spaces ignored).
nvme_namespace_where() {
	local b v
	for b in /sys/block/nvme*n*; do
		[[ ${b##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		sysfs_read v "$b/device/$1"
		if [ "$v" = "$2" ]; then
			echo "/dev/${b##*/}"
			return 0
		fi
	done
	return 1
}

# remote_nsid NSID: the block device of namespace NSID of $TEST_NQN on
# this host, the NVMe-oF host side.
remote_nsid() {
	local b nqn nsid
	for b in /sys/block/nvme*n*; do
		[[ ${b##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		sysfs_read nqn "$b/device/subsysnqn"
		sysfs_read nsid "$b/nsid"
		if [ "$nqn" = "$TEST_NQN" ] && [ "$nsid" = "$1" ]; then
			echo "/dev/${b##*/}"
			return 0
		fi
	done
	return 1
}

# wait_namespace ATTR VALUE: wait up to 20 s for that namespace to appear.
wait_namespace() {
	local i
	for ((i = 0; i < 400; i++)); do
		nvme_namespace_where "$1" "$2" && return 0
		sleep 0.05
	done
	return 1
}

# same_data FILE DEVICE BYTES: DEVICE's first BYTES, read with O_DIRECT,
# equal FILE's.
same_data() {
	local mib=$(($3 / 1048576))
	dd if="$2" of=/tmp/readback bs=1M count="$mib" iflag=direct status=none &&
		[ "$(stat -c %s /tmp/readback)" = "$3" ] &&
		cmp -n "$3" "$1" /tmp/readback
}

# write_direct FILE DEVICE BYTES: write FILE to DEVICE with O_DIRECT.
write_direct() {
	local mib=$(($3 / 1048576))
	dd if="$1" of="$2" bs=1M count="$mib" oflag=direct status=none
}

# The number of check calls fabric_io_checks makes.
# shellcheck disable=SC2034 # read by the tests that source this file
readonly FABRIC_IO_CHECKS=7

# fabric_io_checks TRTYPE TRADDR DRIVE BYTES: export DRIVE on a TRTYPE port
# at TRADDR, connect to it from this guest, write BYTES of random data with
# O_DIRECT through the connection, read them back through it and from DRIVE
# itself, disconnect, and clear the target: FABRIC_IO_CHECKS checks.
fabric_io_checks() {
	local trtype=$1 traddr=$2 drive=$3 size=$4 remote
	check "export $drive on a $trtype port" \
		nvmet_export "$trtype" "$traddr" 4420 "$drive"
	check "nvme connect over $trtype" \
		run nvme connect -t "$trtype" -a "$traddr" -s 4420 -n "$TEST_NQN"
	remote=$(wait_namespace subsysnqn "$TEST_NQN")
	check "the remote namespace appears (${remote:-none})" [ -b "$remote" ]
	head -c "$size" /dev/urandom >/tmp/pattern
	check "write $((size >> 20)) MiB with O_DIRECT through the connection" \
		write_direct /tmp/pattern "$remote" "$size"
	check "read back through the connection equals the pattern" \
		same_data /tmp/pattern "$remote" "$size"
	check "the drive itself holds the pattern" \
		same_data /tmp/pattern "$drive" "$size"
	check "nvme disconnect" run nvme disconnect -n "$TEST_NQN"
	nvmet_clear
}

# marked_pattern RUN BYTES: BYTES of random data on stdout whose 4 KiB
# blocks each start with "p2pdma-RUN-<index>-", so that blocks can be
# recognised wherever they land.
marked_pattern() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
run, size = sys.argv[1], int(sys.argv[2])
for i in range(size // 4096):
    head = ('p2pdma-%s-%08d-' % (run, i)).encode()
    sys.stdout.buffer.write(head + os.urandom(4096 - len(head)))
EOF
}

# pattern_blocks_in FILE RUN PATTERN: how many 4 KiB blocks of FILE (a
# backing file, or a BAR's sysfs resource file, which is mapped) carry
# RUN's marker: "<equal to PATTERN's block> <different>".
pattern_blocks_in() {
	python3 - "$1" "$2" "$3" <<'EOF'
import mmap, re, sys
path, run, pattern = sys.argv[1], sys.argv[2], sys.argv[3]
pat = open(pattern, 'rb').read()
with open(path, 'rb') as f:
    if '/resource' in path:
        data = bytes(mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ))
    else:
        data = f.read()
marker = re.compile(rb'p2pdma-' + run.encode() + rb'-(\d{8})-')
same = other = 0
for off in range(0, len(data), 4096):
    m = marker.match(data, off)
    if m:
        i = int(m.group(1))
        if data[off:off + 4096] == pat[i * 4096:(i + 1) * 4096]:
            same += 1
        else:
            other += 1
print(same, other)
EOF
}

# pattern_passed_through FILE RUN PATTERN: FILE holds blocks of PATTERN,
# and no block with RUN's marker that differs from it.
pattern_passed_through() {
	local same other
	read -r same other < <(pattern_blocks_in "$@")
	echo "blocks of the pattern in $1: $same equal, $other different"
	[ "${same:-0}" -ge 1 ] && [ "${other:-1}" = 0 ]
}

readonly P2P_ADDR=192.0.2.1
P2P_PORT=$NVMET/ports/1

# p2p_rig ivshmem|cmb: the rig ready for nvmet-rdma on p2p memory over
# rxe: p2pdma with that provider (cmb: the CMBs our nvme driver registers,
# p2p-cmb's the one used; ivshmem: the ivshmem BAR alone, bound to
# p2pdma_bar, nvme cmb=0), rxe0
# on the e1000e at $P2P_ADDR, soft_rdma=1 (the test-rig option), configfs
# and nvmet-rdma. Sets drive (the p2p-cmb namespace), nic (the netdev),
# shm, and mem (the provider's p2pmem/ directory). Bails out on failure.
p2p_rig() {
	if [ "$1" = cmb ]; then
		run modprobe nvme || bail "cannot load nvme"
	else
		run modprobe nvme cmb=0 || bail "cannot load nvme"
	fi
	run modprobe -a p2pdma e1000e crc32_generic rdma_rxe nvme-rdma || bail "cannot load drivers"
	configfs_mount || bail "cannot mount configfs"
	drive=$(wait_namespace serial p2p-cmb) || bail "no rig drive p2p-cmb"
	shm=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
	if [ "$1" = cmb ]; then
		mem=/sys/bus/pci/devices/$(pci_by_serial p2p-cmb)/p2pmem
		wait_for "$mem" || bail "the CMB of p2p-cmb did not register"
	else
		mem=/sys/bus/pci/devices/$shm/p2pmem
		bind_bar_provider "$shm" || bail "the ivshmem BAR did not register"
	fi
	nic=$(rig_nic) || bail "no e1000e netdev"
	run ip link set "$nic" up
	run ip addr add "$P2P_ADDR/24" dev "$nic"
	run rdma link add rxe0 type rxe netdev "$nic" || bail "cannot add rxe0 on $nic"
	echo 1 >/sys/module/p2pdma/parameters/soft_rdma
	run modprobe nvmet-rdma || bail "cannot load nvmet-rdma"
}

# port_stat NAME: the value of NAME in port 1's p2pmem_stats.
port_stat() {
	sed -n "s/^$1 //p" "$P2P_PORT/p2pmem_stats"
}

# queues_on PROVIDER: port 1's I/O queues took PROVIDER's memory.
queues_on() {
	[ "$(port_stat queues_p2p)" -ge 1 ] && [ "$(port_stat provider)" = "$1" ]
}

# provider_all_back: the provider of p2p_rig has all its memory free.
provider_all_back() {
	[ "$(cat "$mem/in_use")" = 0 ] && [ "$(cat "$mem/available")" = "$(cat "$mem/size")" ]
}
