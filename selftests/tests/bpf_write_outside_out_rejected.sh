#!/bin/bash
# A fuse_bpf_ops program that stores anywhere but its answer (here: into
# its arguments) does not load: the verifier refuses it with our message,
# the loader fails with a clear error, and nothing gets attached.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
attach_refused "$mnt" "$TESTBPF/write_outside_out.bpf.o"
grep -q "may write only its answer" "$T_TMP/out" || fail "no verifier message: $(tail -n3 "$T_TMP/out")"
grep -q "can't load .*write_outside_out.bpf.o: Permission denied" "$T_TMP/out" ||
	fail "no loader error naming the object: $(tail -n1 "$T_TMP/out")"
# The same program without the store loads, so it was the store.
attach "$mnt" "$TESTBPF/no_answer.bpf.o"
