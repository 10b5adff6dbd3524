#!/bin/bash
# A truncate to the file's own size drops the blocks fallocate -n
# (KEEP_SIZE) preallocated past EOF, as on the kernel's ext4, which frees
# every block past the EOF block on any truncate that does not grow the
# file.  Through fuse-iomap-ext4, without and with --bpf, against the
# kernel's ext4 doing the same on a copy of the image: an unaligned and
# a block-aligned size, and a truncate that grows the file (which keeps
# them, on both).  FIEMAP's logical layout, the size and st_blocks equal
# the kernel's, the bytes too; e2fsck -fn is clean after unmount.
# TIMEOUT: 150
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# state DIR: per file its size, st_blocks and layout.
state() {
	local f
	for f in unaligned aligned grown; do
		echo "$f $(stat -c '%s %b' "$1/$f")"
		ext4_layout "$1/$f"
	done
}

ext4_load
head -c $((1 << 20)) /dev/urandom > "$T_TMP/blob"
for mode in upcall bpf; do
	mke2fs -q -F -t ext4 -b 4096 "$T_TMP/ours.img" 64M || fail "mke2fs failed"
	cp --sparse=always "$T_TMP/ours.img" "$T_TMP/kern.img"
	ours=$T_TMP/ours kern=$T_TMP/kern
	mkdir -p "$kern"
	mount -o loop "$T_TMP/kern.img" "$kern" || fail "kernel ext4 can't mount the copy"
	defer "umount '$kern' 2>/dev/null"
	opt=()
	[ $mode = upcall ] || opt=(--bpf)
	start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "${opt[@]}" -l "$T_TMP/ext4.log" "$T_TMP/ours.img" "$ours"
	for m in ours kern; do
		dir=${!m}
		head -c 100000 "$T_TMP/blob" > "$dir/unaligned" &&
			head -c 65536 "$T_TMP/blob" > "$dir/aligned" &&
			head -c 30000 "$T_TMP/blob" > "$dir/grown" || fail "$mode $m: write failed"
		sync
		for f in unaligned aligned grown; do
			fallocate -n -o "$(stat -c %s "$dir/$f")" -l $((1 << 20)) "$dir/$f" ||
				fail "$mode $m: fallocate -n on $f failed"
		done
		# Read once, so that --bpf holds the extents before the truncate.
		cat "$dir/unaligned" "$dir/aligned" "$dir/grown" > /dev/null
		truncate -s 100000 "$dir/unaligned" && truncate -s 65536 "$dir/aligned" &&
			truncate -s 40000 "$dir/grown" || fail "$mode $m: truncate failed"
	done
	[ $mode = upcall ] || [ "$(counter "$ours" bpf_hits)" -gt 0 ] || fail "bpf: the BPF tier answered nothing"
	state "$kern" > "$T_TMP/kern.state"
	state "$ours" > "$T_TMP/ours.state"
	grep -q '^unaligned 100000 200$' "$T_TMP/kern.state" ||
		fail "$mode: the kernel's ext4 kept blocks past EOF: $(tr '\n' ' ' < "$T_TMP/kern.state")"
	diff "$T_TMP/kern.state" "$T_TMP/ours.state" > "$T_TMP/diff" ||
		fail "$mode: size, st_blocks or FIEMAP differ from the kernel's (< kernel, > ours): $(grep '^[<>]' "$T_TMP/diff" | head -n6 | tr '\n' ' ')"
	drop_caches
	for f in unaligned aligned grown; do
		cmp "$ours/$f" "$kern/$f" || fail "$mode: $f reads differently from the kernel's"
	done
	stop_server "$ours" "$SERVER_PID"
	ext4_fsck_clean "$T_TMP/ours.img" "($mode)"
	umount "$kern"
done
