#!/bin/bash
# A sleepable fuse_bpf_ops program (struct_ops.s/) does not load: the hooks
# run under rcu_read_lock() and for IOMAP_NOWAIT I/O.  The verifier says
# which member it refused, the load fails with EINVAL and nothing gets
# attached.  Ops without a name are refused too.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
attach_refused "$mnt" "$TESTBPF/sleepable.bpf.o"
grep -q "attach to unsupported member iomap_begin of struct fuse_bpf_ops" "$T_TMP/out" ||
	fail "no verifier log line: $(tail -n3 "$T_TMP/out")"
grep -q "can't load .*sleepable.bpf.o: Invalid argument" "$T_TMP/out" ||
	fail "want EINVAL from the load: $(tail -n1 "$T_TMP/out")"
dmesg | grep -q "fuse_bpf_ops: sleepable_begin refused: sleepable" ||
	fail "no kernel message saying why: $(dmesg | tail -n2)"

attach_refused "$mnt" "$TESTBPF/unnamed.bpf.o"

# The same program, not sleepable and named, loads: it was the flag.
attach "$mnt" "$TESTBPF/no_answer.bpf.o"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" "no_answer"
