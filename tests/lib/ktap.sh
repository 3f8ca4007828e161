# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# KTAP for test scripts, sourced by tests/lib/guest.sh (guest tests) and by
# host tests. Results go to $KTAP; diagnostics go to stdout, which the
# runner keeps as a log. Checks run on after a failure, so one run reports
# every case; a case that never runs fails through the plan.

set -uo pipefail

KTAP=${KTAP:-/run/out/ktap}
ktap_count=0

# plan N: the number of check calls this script makes.
plan() {
	printf 'KTAP version 1\n1..%d\n' "$1" >"$KTAP"
}

# check DESCRIPTION COMMAND...: one KTAP case, passed when COMMAND succeeds.
# The log line gives the seconds since the script started, to find slow steps.
check() {
	local desc=$1
	shift
	ktap_count=$((ktap_count + 1))
	echo "== case $ktap_count (at ${SECONDS} s): $desc"
	if "$@"; then
		echo "ok $ktap_count $desc" >>"$KTAP"
	else
		echo "not ok $ktap_count $desc" >>"$KTAP"
		echo "FAILED case $ktap_count: $desc (command: $*)"
	fi
}

# bail REASON: stop here; the cases not run yet fail.
bail() {
	echo "Bail out! $*" >>"$KTAP"
	echo "BAIL OUT: $*"
	exit 1
}

# run COMMAND...: a set-up step, echoed with its output in guest.log.
run() {
	echo "+ $*"
	"$@"
}

