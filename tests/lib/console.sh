# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What fails a guest run when its kernel console shows it.

readonly CONSOLE_FAILURES='Oops:|BUG:|WARNING:|Kernel panic|general protection fault|blocked for more than|UBSAN:|KASAN:|kmemleak:|rig: guest killed'

# console_failure CONSOLE_LOG: print the first failure line and succeed if
# there is one.
console_failure() {
	local line
	line=$(grep -m1 -E "$CONSOLE_FAILURES" "$1") || return 1
	echo "${line//$'\r'/}"
}
