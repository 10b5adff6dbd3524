#!/bin/bash
# The runner's kernel-log scanner flags a log with a WARNING and one with
# an Oops (printing the offending line) and passes a clean one; it flags
# the first line of each report the debug kernel (make check-debug) makes
# (lockdep, KASAN, PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_LIST, DEBUG_OBJECTS)
# and passes what that kernel prints at every boot.
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

# The debug kernel's reports, first lines as 6.12 prints them, each in an
# otherwise clean log.  The INFO, list and ODEBUG lines carry no WARNING
# or BUG.
while IFS= read -r l; do
	got=$(printf '%s\n%s\n' "$clean" "$l" | "$scan") && fail "log with '$l' passed"
	expect_eq "line flagged" "$got" "$l"
done <<'END'
[   30.112233] WARNING: possible circular locking dependency detected
[   30.112234] WARNING: possible recursive locking detected
[   30.112235] WARNING: inconsistent lock state
[   30.112236] WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected
[   30.112237] WARNING: bad unlock balance detected!
[   30.112238] INFO: trying to register non-static key.
[   30.112239] BUG: KASAN: slab-use-after-free in fuse_iomap_begin+0x1c2/0x5f0 [fuse_iomap]
[   30.112240] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585
[   30.112241] WARNING: suspicious RCU usage
[   30.112242] list_add corruption. prev->next should be next (ffff888102a4e1c8), but was ffff888102a4e1d8. (prev=ffff888102a4e1c8).
[   30.112243] list_del corruption. next->prev should be ffff888104c0a0a0, but was ffff888104c0a0b0. (next=ffff888104c0a0c0)
[   30.112244] ODEBUG: free active (active state 0) object: ffff888106f2a0e8 object type: timer_list hint: fuse_iomap_timeout+0x0/0x80 [fuse_iomap]
[   30.112245] ODEBUG: object 00000000a1b2c3d4 is on stack 00000000e5f6a7b8, but NOT annotated.
[   30.112246] BUG: MAX_LOCKDEP_CHAINS too low!
[   30.112247] [ BUG: Invalid wait context ]
END

# What the debug kernel prints at every boot is no report.
debug_clean='[    0.000000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
[    0.000000] ... MAX_LOCKDEP_SUBCLASSES:  8
[    0.000000] ... MAX_LOCKDEP_CHAINS:      262144
[    0.000000] kasan: KernelAddressSanitizer initialized'
got=$(printf '%s\n%s\n' "$clean" "$debug_clean" | "$scan") || fail "the debug kernel's boot lines flagged: $got"
