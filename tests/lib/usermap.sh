# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Checks of userspace mappings of p2p memory, shared by the allocate file
# and the char device tests. Sourced after tests/lib/guest.sh and
# tests/lib/nvmet.sh; the caller sets mem (the provider's p2pmem/ directory)
# and backing (the host's ivshmem backing file, the provider's memory).
# shellcheck disable=SC2154 # mem and backing: set by the caller

readonly MIB=$((1 << 20))
readonly USERMAP=/run/repo/tests/lib/p2pmem_map.py
# The number of check calls user_mapping_checks makes.
# shellcheck disable=SC2034 # read by the tests that source this file
readonly USER_MAPPING_CHECKS=14

# holds BYTES: mapped and in_use are BYTES, available the rest of size.
holds() {
	local size
	size=$(cat "$mem/size")
	echo "mapped $(cat "$mem/mapped"), in_use $(cat "$mem/in_use"), available $(cat "$mem/available") (expected $1 of $size)"
	[ "$(cat "$mem/mapped")" = "$1" ] && [ "$(cat "$mem/in_use")" = "$1" ] &&
		[ "$(cat "$mem/available")" = $((size - $1)) ]
}

# map_errno PATH LEN KIND OFFSET ERRNO: mapping PATH that way gives ERRNO
# ("ok" for success) and leaves nothing held.
map_errno() {
	local got
	got=$(python3 "$USERMAP" try "$1" "$2" "$3" "$4")
	echo "mmap $2 bytes $3 at offset $4: $got"
	[ "$got" = "$5" ] && holds 0
}

# ready FILE: wait up to 20 s for the mapping process writing FILE to say
# it has mapped and filled its memory.
ready() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# both_patterns_in FILE RUN1 PATTERN1 RUN2 PATTERN2: FILE holds both.
both_patterns_in() {
	pattern_passed_through "$1" "$2" "$3" && pattern_passed_through "$1" "$4" "$5"
}

# user_mapping_checks PATH: USER_MAPPING_CHECKS checks of mmap on PATH.
user_mapping_checks() {
	local path=$1 run_id=$RANDOM$RANDOM first second forker size
	size=$(cat "$mem/size")
	rm -rf /tmp/um && mkdir /tmp/um
	marked_pattern "$run_id" $MIB >/tmp/um/pattern1
	marked_pattern "$run_id-2" $MIB >/tmp/um/pattern2

	python3 "$USERMAP" fill "$path" $MIB /tmp/um/pattern1 /tmp/um/go1 >/tmp/um/out1 &
	first=$!
	ready /tmp/um/out1
	check "a 1 MiB MAP_SHARED mapping: mapped and in_use count 1 MiB" holds $MIB
	check "the pattern written through it is in the provider's memory" \
		pattern_passed_through "$backing" "$run_id" /tmp/um/pattern1
	python3 "$USERMAP" fill "$path" $MIB /tmp/um/pattern2 /tmp/um/go2 >/tmp/um/out2 &
	second=$!
	ready /tmp/um/out2
	check "a second process maps 1 MiB of its own: 2 MiB mapped" holds $((2 * MIB))
	check "its pattern is there too, and the first one's still" \
		both_patterns_in "$backing" "$run_id" /tmp/um/pattern1 "$run_id-2" /tmp/um/pattern2
	touch /tmp/um/go1 /tmp/um/go2
	check "the first process reads its pattern back" wait "$first"
	check "the second one too" wait "$second"
	check "both exited: nothing mapped" holds 0

	check "MAP_PRIVATE is refused (EINVAL)" map_errno "$path" $MIB private 0 EINVAL
	check "a non-zero offset is refused (EINVAL)" map_errno "$path" $MIB shared 4096 EINVAL
	check "zero length is refused (EINVAL)" map_errno "$path" 0 shared 0 EINVAL
	check "more than the provider has is refused (ENOMEM)" \
		map_errno "$path" $((size + MIB)) shared 0 ENOMEM

	python3 "$USERMAP" fork "$path" $MIB /tmp/um/pattern1 /tmp/um >/dev/null &
	forker=$!
	wait_for /tmp/um/parent-gone 20
	check "after the parent unmaps, a forked child still holds 1 MiB" holds $MIB
	touch /tmp/um/check
	check "the child read the pattern through the inherited mapping" wait "$forker"
	check "the child exited: nothing mapped" holds 0
}

# revocation_checks PATH DEVICE: 2 checks. A process maps PATH and fills
# it; removing PCI DEVICE completes while it does, and the process dies of
# SIGBUS on its next access.
revocation_checks() {
	local victim remove status
	python3 "$USERMAP" fill "$1" $MIB /tmp/um/pattern1 /tmp/um/go3 >/tmp/um/out3 2>&1 &
	victim=$!
	ready /tmp/um/out3
	echo 1 >"/sys/bus/pci/devices/$2/remove" &
	remove=$!
	check "removing $2 completes while a process has its memory mapped" gone_soon "$remove"
	touch /tmp/um/go3
	wait "$victim"
	status=$?
	echo "mapping process exit status: $status"
	check "the process died of SIGBUS on its next access (exit status 135)" [ "$status" = 135 ]
}
