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

readblk() {	# BLOCK: one O_DIRECT 4 KiB read into $T_TMP/got; prints dd's error
	{ dd if="$mnt/f" of="$T_TMP/got" bs=4096 skip="$1" count=1 iflag=direct status=none 2>&1 >/dev/null || true; } | head -n1
}
c() { counter "$mnt" "$1"; }

# The control first: a valid answer takes the simple path.
s0=$(c simple_reads)
out=$(readblk 16)
[ -z "$out" ] || fail "block 16 (valid answer): $out"
cmp -s "$T_TMP/got" <(dev_bytes "$dev" 40960 4096) || fail "block 16 (valid answer) differs from the device at 40960"
expect_eq "simple_reads after the valid answer" $(($(c simple_reads) - s0)) 1
expect_eq "rejections after the valid answer" "$(c mappings_rejected)" 0

blk=1
for rule in type flags length overflow align need_dev unexpected_dev pos dev_unknown dev_range inline; do
	s0=$(c simple_reads) all0=$(c mappings_rejected) bpf0=$(c bpf_rejected) r0=$(c "rejected/$rule")
	out=$(readblk $blk)
	grep -q "Input/output error" <<<"$out" || fail "block $blk ($rule): want EIO, got: ${out:-success}"
	expect_eq "block $blk: rejected/$rule delta" $(($(c "rejected/$rule") - r0)) 1
	expect_eq "block $blk ($rule): mappings_rejected delta" $(($(c mappings_rejected) - all0)) 1
	expect_eq "block $blk ($rule): bpf_rejected delta" $(($(c bpf_rejected) - bpf0)) 1
	expect_eq "block $blk ($rule): simple_reads delta" $(($(c simple_reads) - s0)) 0
	log "block $blk ($rule): EIO, counted once"
	blk=$((blk + 1))
done

s0=$(c simple_reads) errors=$(c bpf_errors)
out=$(readblk 12)
grep -q "Input/output error" <<<"$out" || fail "bogus return value: want EIO, got: ${out:-success}"
out=$(readblk 13)
grep -q "No space left on device" <<<"$out" || fail "return -ENOSPC: want ENOSPC, got: ${out:-success}"
expect_eq "bpf_errors delta" $(($(c bpf_errors) - errors)) 2
expect_eq "simple_reads after the errors" $(($(c simple_reads) - s0)) 0

s0=$(c simple_reads) fb0=$(c bpf_fallbacks)
for b in 0 15; do
	out=$(readblk $b)
	[ -z "$out" ] || fail "block $b (no answer, upcall): $out"
	cmp -s "$T_TMP/got" <(dd if="$T_TMP/data" bs=4096 skip=$b count=1 status=none) ||
		fail "block $b read through the upcall differs"
done
expect_eq "simple_reads after reads with no answer" $(($(c simple_reads) - s0)) 0
[ "$(c bpf_fallbacks)" -ge $((fb0 + 2)) ] || fail "fallbacks not counted"
