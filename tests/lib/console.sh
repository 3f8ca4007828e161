# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What fails a guest run when its kernel console shows it.

# KASAN reports start with "BUG: KASAN:", lockdep's with "WARNING: possible
# ..." or "INFO: trying to register non-static key", kmemleak's scan (the
# rig's init runs one at the end) with "unreferenced object".
readonly CONSOLE_FAILURES='Oops:|BUG:|WARNING:|Kernel panic|general protection fault|blocked for more than|UBSAN:|KASAN:|INFO: trying to register|INFO: rcu_|new suspected memory leaks|unreferenced object|rig: guest killed'

# console_failure CONSOLE_LOG: print the first failure line and succeed if
# there is one.
console_failure() {
	local line
	line=$(grep -m1 -E "$CONSOLE_FAILURES" "$1") || return 1
	echo "${line//$'\r'/}"
}
