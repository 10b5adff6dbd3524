#!/bin/bash
# The runner's kernel-log scanner flags a log with a WARNING and one with
# an Oops (printing the offending line) and passes a clean one.
# WHERE: host
# TIMEOUT: 10
. "$REPO/selftests/lib/common.sh"

scan=$REPO/selftests/lib/logscan
clean='[    4.650414] fuse_iomap: loading out-of-tree module taints kernel.
[    4.674052] fuse-iomap: init (API version 7.41)
[    9.746083] reboot: Power down'
warn_line='[   12.000001] WARNING: CPU: 1 PID: 230 at fs/iomap/buffered-io.c:1234 iomap_writepage_map+0x3e/0x400'
oops_line='[   13.500000] Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI'

got=$(printf '%s\n' "$clean" | "$scan") || fail "clean log flagged: $got"
[ -z "$got" ] || fail "clean log printed: $got"

got=$(printf '%s\n%s\n%s\n' "$clean" "$warn_line" '[   12.1] Call Trace:' | "$scan") &&
	fail "log with a WARNING passed"
expect_eq "line flagged in the WARNING log" "$got" "$warn_line"

printf '%s\n%s\n' "$clean" "$oops_line" > "$T_TMP/oops.log"
got=$("$scan" "$T_TMP/oops.log") && fail "log with an Oops passed"
expect_eq "line flagged in the Oops log" "$got" "$oops_line"
