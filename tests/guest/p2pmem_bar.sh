#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels: 6.1 6.12 trixie
#
# The generic BAR provider on the rig's ivshmem: sysfs against the host's
# backing file, allocation accounting against what the test client holds,
# data through an allocation against the backing file in both directions,
# and unbind and device removal while memory is held.

# shellcheck source=tests/lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

plan 37
readonly PAGE=4096 MIB=$((1 << 20))
bdf=$(pci_by_id 0x1af4:0x1110) || bail "no ivshmem device"
dev=/sys/bus/pci/devices/$bdf
backing=/run/out/ivshmem.bin
size=$(stat -c %s "$backing")
ctl=/sys/kernel/debug/p2pdma_test/control
test_ko=/run/repo/build/$(uname -r)/tests/kmod/p2pdma_test.ko

stat_of() { cat "$dev/p2pmem/$1"; }
held() { echo "$*" >"$ctl"; }
# accounts IN_USE: in_use is IN_USE and available + in_use == size.
accounts() {
	local in_use avail
	in_use=$(stat_of in_use)
	avail=$(stat_of available)
	echo "size $size, in_use $in_use (expected $1), available $avail"
	[ "$in_use" = "$1" ] && [ $((avail + in_use)) = "$size" ]
}
bind_provider() {
	echo p2pdma_bar >"$dev/driver_override" &&
		echo "$bdf" >/sys/bus/pci/drivers_probe &&
		[ "$(basename "$(readlink "$dev/driver")")" = p2pdma_bar ]
}

check "generic_bar=9 is refused at load" \
	bash -c '! modprobe p2pdma generic_bar=9 && dmesg | grep -q "generic_bar=9: give a BAR number"'
check "modprobe p2pdma" modprobe p2pdma
tracing=/sys/kernel/tracing
mountpoint -q "$tracing" || mount -t tracefs tracefs "$tracing"
echo 1 >"$tracing/events/p2pdma/enable"
check "ivshmem binds to p2pdma_bar through driver_override" bind_provider
check "p2pmem/size is the size of the host's backing file" [ "$(stat_of size)" = "$size" ]
check "p2pmem/published is 1" [ "$(stat_of published)" = 1 ]
check "nothing in use, all of it available" accounts 0

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
run insmod "$test_ko" || bail "cannot load the test client $test_ko"

many_small() {
	local i
	for ((i = 0; i < 100; i++)); do held alloc "$bdf" "$PAGE" || return 1; done
}
check "100 allocations of 4 KiB are accounted" \
	bash -c "$(declare -f many_small held); bdf=$bdf PAGE=$PAGE ctl=$ctl many_small"
check "in_use counts them, available + in_use == size" accounts $((100 * PAGE))
check "p2pmem/users names the test client with what it holds" \
	grep -qx "p2pdma_test $((100 * PAGE)) 100" "$dev/p2pmem/users"
check "mixed sizes (1 B, 5000 B, 1 MiB + 1)" \
	bash -c "echo 'alloc $bdf 1' >$ctl && echo 'alloc $bdf 5000' >$ctl && echo 'alloc $bdf $((MIB + 1))' >$ctl"
check "each rounds up to whole pages" accounts $((100 * PAGE + PAGE + 2 * PAGE + MIB + PAGE))
failed=$(stat_of failed_allocations)
check "more than is free fails with ENOMEM" \
	bash -c "! echo 'alloc $bdf $((size))' >$ctl 2>/tmp/err && grep -q 'Cannot allocate memory' /tmp/err"
check "the failure is counted and nothing changes" \
	bash -c "[ $(stat_of failed_allocations) = $((failed + 1)) ] && [ \$(cat $dev/p2pmem/available) = $(stat_of available) ]"
check "all the rest in one allocation empties the pool" \
	bash -c "echo 'alloc $bdf $(stat_of available)' >$ctl && [ \$(cat $dev/p2pmem/available) = 0 ]"
check "freeing everything gives it all back" \
	bash -c "echo 'free $bdf' >$ctl && [ \$(cat $dev/p2pmem/in_use) = 0 ] && [ \$(cat $dev/p2pmem/available) = $size ]"
check "p2pmem/users: the test client holds nothing after its frees" \
	bash -c "grep -q '^p2pdma_test 0 ' $dev/p2pmem/users && [ \$(wc -l <$dev/p2pmem/users) = 1 ]"
allocs=$(awk '{ print $3 }' "$dev/p2pmem/users")
run rmmod p2pdma_test
run insmod "$test_ko"
held alloc "$bdf" "$PAGE"
held free "$bdf"
check "p2pmem/users: the test client loaded again keeps its one line" \
	bash -c "[ \"\$(cat $dev/p2pmem/users)\" = 'p2pdma_test 0 $((allocs + 1))' ]"
check "allocations equal frees, and the peak was the whole pool" \
	bash -c "[ \$(cat $dev/p2pmem/allocations) = \$(cat $dev/p2pmem/frees) ] && [ \$(cat $dev/p2pmem/peak_in_use) = $size ]"
check "freed 4 KiB buffers wait in the per-CPU caches (p2pmem/cached)" \
	[ "$(stat_of cached)" -ge "$PAGE" ]
check "one allocation of the whole pool returns the cached buffers and succeeds" \
	bash -c "echo 'alloc $bdf $size' >$ctl && [ \$(cat $dev/p2pmem/cached) = 0 ] && [ \$(cat $dev/p2pmem/available) = 0 ]"
held free "$bdf"
held alloc "$bdf" "$PAGE"
held free "$bdf"

# Data: the allocation's bus address minus the BAR's is its offset in the
# host's backing file (bus and CPU addresses are equal on q35).
token="guest-to-host-$RANDOM$RANDOM"
held alloc "$bdf" "$MIB"
held write "$bdf" "$token"
bus=$(awk '{ print $3 }' "$ctl")
bar_start=$(awk 'NR == 3 { print $1 }' "$dev/resource")
offset=$((bus - bar_start))
echo "allocation at bus $bus, BAR2 at $bar_start: file offset $offset"
check "a token written through the allocation is in the host file at its offset" \
	bash -c "dd if=$backing bs=4096 skip=$((offset / PAGE)) count=1 status=none | head -c ${#token} | grep -qx '$token'"
back="h2g-$RANDOM" # the control file shows 16 bytes
printf '%s' "$back" | dd of="$backing" bs=4096 seek=$((offset / PAGE)) conv=notrunc status=none
check "text written into the host file reads back through the allocation" \
	bash -c "awk '{ print \$4 }' $ctl | grep -q '^$back'"

# Removal while memory is held: teardown waits, allocations stop at once,
# and the cached buffers go back to the pool rather than holding it up.
check "a freed buffer is cached before the unbind" [ "$(stat_of cached)" = "$PAGE" ]
echo "$bdf" >/sys/bus/pci/drivers/p2pdma_bar/unbind &
unbind=$!
sleep 2
check "unbind waits while memory is held" kill -0 "$unbind"
check "new allocations fail at once during teardown" \
	bash -c "! echo 'alloc $bdf 4096' >$ctl"
held free "$bdf"
check "unbind completes once the memory is freed" wait "$unbind"
check "p2pmem/ is gone with the provider" [ ! -e "$dev/p2pmem" ]
check "binding again registers the whole BAR again" \
	bash -c "$(declare -f bind_provider); bdf=$bdf dev=$dev bind_provider && [ \$(cat $dev/p2pmem/available) = $size ]"
check "the new provider starts with empty caches" [ "$(stat_of cached)" = 0 ]

# Device removal while memory is held, then a rescan.
held alloc "$bdf" "$MIB"
echo 1 >"$dev/remove" &
remove=$!
sleep 2
check "device removal waits while memory is held" kill -0 "$remove"
held free "$bdf"
check "device removal completes once the memory is freed" \
	bash -c "wait_pid() { while kill -0 \$1 2>/dev/null; do sleep 0.1; done; }; wait_pid $remove; [ ! -e $dev ]"
wait "$remove"
echo 1 >/sys/bus/pci/rescan
check "a rescan brings the device back, no longer a provider" \
	bash -c "[ -e $dev ] && [ ! -e $dev/p2pmem ]"
run rmmod p2pdma_test
check "binding after the rescan registers it again" \
	bash -c "$(declare -f bind_provider); bdf=$bdf dev=$dev bind_provider && [ \$(cat $dev/p2pmem/available) = $size ]"
trace_has() { grep -E "$1" "$tracing/trace"; }
check "trace: p2pdma_register names the device, BAR 2 and its size" \
	trace_has "p2pdma_register: $bdf bar=2 size=$(printf '%#x' "$size") "
check "trace: p2pdma_alloc_failed names the refused size" \
	trace_has "p2pdma_alloc_failed: $bdf size=$size\$"
check "trace: p2pdma_remove at unbind" trace_has "p2pdma_remove: $bdf size="
check "modprobe -r p2pdma unbinds the provider and unloads" unloads p2pdma
echo >"$dev/driver_override"
