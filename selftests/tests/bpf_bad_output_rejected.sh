#!/bin/bash
# A fuse_bpf_ops program answering each kind of invalid mapping (one file
# block per validation rule): every read fails with EIO, that rule's
# counter and bpf_rejected move, nothing else is counted as rejected, and
# the kernel stays quiet.  A bogus return value is EIO and an errno is
# passed through (both counted in bpf_errors); where the program has no
# answer the upcall gives the right bytes.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
grep -q '^1 ' "$(conn_dir "$mnt")/devices" || fail "the server's device is not cookie 1: $(cat "$(conn_dir "$mnt")/devices")"
head -c $((16 * 4096)) /dev/urandom > "$T_TMP/data"
cp "$T_TMP/data" "$mnt/f" && sync || fail "can't write the test file"
attach "$mnt" "$TESTBPF/bad_output.bpf.o"

readblk() {	# BLOCK: O_DIRECT read of one block; prints dd's error
	{ dd if="$mnt/f" of="$T_TMP/got" bs=4096 skip="$1" count=1 iflag=direct status=none 2>&1 >/dev/null || true; } | head -n1
}
blk=1
for rule in type flags length overflow align need_dev unexpected_dev pos dev_unknown dev_range inline; do
	before=$(counter "$mnt" mappings_rejected) bpf_before=$(counter "$mnt" bpf_rejected)
	rule_before=$(counter "$mnt" "rejected/$rule")
	out=$(readblk $blk)
	grep -q "Input/output error" <<<"$out" || fail "block $blk ($rule): want EIO, got: ${out:-success}"
	[ "$(counter "$mnt" "rejected/$rule")" -gt "$rule_before" ] || fail "block $blk: rejected/$rule did not move"
	expect_eq "block $blk ($rule): other rejections" \
		$(($(counter "$mnt" mappings_rejected) - before)) $(($(counter "$mnt" "rejected/$rule") - rule_before))
	[ "$(counter "$mnt" bpf_rejected)" -gt "$bpf_before" ] || fail "block $blk: bpf_rejected did not move"
	blk=$((blk + 1))
done

errors=$(counter "$mnt" bpf_errors)
out=$(readblk 12)
grep -q "Input/output error" <<<"$out" || fail "bogus return value: want EIO, got: ${out:-success}"
out=$(readblk 13)
grep -q "No space left on device" <<<"$out" || fail "return -ENOSPC: want ENOSPC, got: ${out:-success}"
[ "$(counter "$mnt" bpf_errors)" -ge $((errors + 2)) ] || fail "bpf_errors did not count both"
dmesg | grep -q "fuse_bpf_ops returned 12345: EIO" || fail "no kernel message for the bogus return value"

for b in 0 14 15; do
	readblk $b > "$T_TMP/err"
	[ ! -s "$T_TMP/err" ] || fail "block $b (no answer, upcall): $(cat "$T_TMP/err")"
	cmp -s "$T_TMP/got" <(dd if="$T_TMP/data" bs=4096 skip=$b count=1 status=none) ||
		fail "block $b read through the upcall differs"
done
[ "$(counter "$mnt" bpf_fallbacks)" -ge 3 ] || fail "fallbacks not counted"
