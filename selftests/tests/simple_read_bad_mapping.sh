#!/bin/bash
# A BPF answer that breaks a validation rule, for a read the simple read
# path qualifies for (O_DIRECT, 4 KiB, block-aligned, inside i_size):
# bpf/bad_output.bpf.c answers file block k with a mapping breaking rule
# k.  Each such read fails with EIO, and mappings_rejected,
# rejected/<rule> and bpf_rejected each move by exactly one (one
# validation, as through iomap_dio_rw: no second try), nothing else is
# counted as rejected, and simple_reads does not move.  A bogus return
# value is EIO and an errno (ENOSPC) is passed through, simple_reads
# still.  Control: block 16's valid answer reads the device's bytes
# through the simple path (simple_reads +1); blocks 0 and 15 (no answer)
# go to the server and read the file's bytes, simple_reads unmoved.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
grep -q '^1 ' "$(conn_dir "$mnt")/devices" || fail "the server's device is not cookie 1: $(cat "$(conn_dir "$mnt")/devices")"
head -c $((20 * 4096)) /dev/urandom > "$T_TMP/data"
cp "$T_TMP/data" "$mnt/f" && sync || fail "can't write the test file"
attach "$mnt" "$TESTBPF/bad_output.bpf.o"
expect_eq "simple_read knob" "$(cat "$(conn_dir "$mnt")/simple_read")" 1

# The reads and counter checks are in the helper: one process (TCG).
python3 "$REPO/selftests/lib/simple_read_io.py" badmap "$mnt/f" "$T_TMP/data" "$dev" "$(conn_dir "$mnt")" \
	2> "$T_TMP/badmap.out" || fail "$(tail -n1 "$T_TMP/badmap.out")"
cat "$T_TMP/badmap.out" >&2
