#!/bin/bash
# A sleepable iomap_ioend (struct_ops.s/iomap_ioend) does not load: the
# hook runs from a bio completion and under RCU, where nothing may sleep.
# The verifier says it refused the member iomap_ioend, the load fails with
# EINVAL, the kernel says why, and nothing gets attached.  The same ops
# with iomap_ioend not sleepable load, attach, and are called: a write
# into a hole of fuse-iomap-blockfs (which preallocates unwritten blocks)
# asks iomap_ioend first, which has no answer, so the ioend falls back to
# the upcall (bpf_ioend_fallbacks and ioend_upcalls rise) and the bytes
# are right.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
need_counters "$mnt" ioend_upcalls bpf_ioend_fallbacks bpf_ioend_handled
attach_refused "$mnt" "$TESTBPF/ioend_sleepable.bpf.o"
grep -q "attach to unsupported member iomap_ioend of struct fuse_bpf_ops" "$T_TMP/out" ||
	fail "no verifier log line: $(tail -n3 "$T_TMP/out")"
grep -q "can't load .*ioend_sleepable.bpf.o: Invalid argument" "$T_TMP/out" ||
	fail "want EINVAL from the load: $(tail -n1 "$T_TMP/out")"
dmesg | grep -q "fuse_bpf_ops: ioend_sleepable refused: sleepable" ||
	fail "no kernel message saying why: $(dmesg | tail -n2)"

# Not sleepable, it loads, and iomap_ioend is asked before the upcall.
attach "$mnt" "$TESTBPF/ioend_no_answer.bpf.o"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" ioend_no_answer
fallbacks=$(counter "$mnt" bpf_ioend_fallbacks) ioends=$(counter "$mnt" ioend_upcalls)
head -c $((64 << 10)) /dev/urandom > "$T_TMP/ref"
dd if="$T_TMP/ref" of="$mnt/f" bs=64k oflag=direct status=none || fail "O_DIRECT write into a hole failed"
[ "$(counter "$mnt" bpf_ioend_fallbacks)" -gt "$fallbacks" ] ||
	fail "iomap_ioend was not asked (bpf_ioend_fallbacks did not rise) for a write into unwritten blocks"
[ "$(counter "$mnt" ioend_upcalls)" -gt "$ioends" ] || fail "no FUSE_IOMAP_IOEND upcall after iomap_ioend had no answer"
expect_eq "ioends handled by a program with no answer" "$(counter "$mnt" bpf_ioend_handled)" 0
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after the fallback, the bytes differ"
check_written_on_device "$mnt/f" "$T_TMP/ref" "$dev"
