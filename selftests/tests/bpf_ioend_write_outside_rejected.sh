#!/bin/bash
# An iomap_ioend that stores anywhere but its maps (here: into its
# arguments, to shorten the write it reports) does not load: the verifier
# refuses it with our message, the loader fails with a clear error, and
# nothing gets attached.  The same ops with an iomap_ioend that writes
# only a map (a global counter) load.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
attach_refused "$mnt" "$TESTBPF/ioend_write_args.bpf.o"
grep -q "fuse_bpf_ops: a program may write only its answer" "$T_TMP/out" || fail "no verifier message: $(tail -n3 "$T_TMP/out")"
grep -q "can't load .*ioend_write_args.bpf.o: Permission denied" "$T_TMP/out" ||
	fail "no loader error naming the object: $(tail -n1 "$T_TMP/out")"
# Without the store it loads, so it was the store.
attach "$mnt" "$TESTBPF/ioend_no_answer.bpf.o"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" ioend_no_answer
