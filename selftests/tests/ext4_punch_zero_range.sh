#!/bin/bash
# fallocate PUNCH_HOLE and ZERO_RANGE through fuse-iomap-ext4 (without
# and with --bpf, whose maps held the file's extents before), against the
# kernel's ext4 doing the same on a copy of the image: aligned and
# unaligned ranges, inside one block, past EOF with KEEP_SIZE, and
# growing the file.  The bytes (through the page cache and O_DIRECT), the
# size and FIEMAP's logical layout (which ranges are mapped, and which
# unwritten) equal the kernel's; e2fsck -fn is clean after unmount and
# the kernel's ext4 then reads our image's file as its own.
# TIMEOUT: 200
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
head -c $((4 << 20)) /dev/urandom > "$T_TMP/blob"
for mode in upcall bpf; do
	mke2fs -q -F -t ext4 -b 4096 "$T_TMP/ours.img" 64M || fail "mke2fs failed"
	cp --sparse=always "$T_TMP/ours.img" "$T_TMP/kern.img"
	ours=$T_TMP/ours kern=$T_TMP/kern
	mkdir -p "$kern"
	mount -o loop "$T_TMP/kern.img" "$kern" || fail "kernel ext4 can't mount the copy"
	opt=()
	[ $mode = upcall ] || opt=(--bpf)
	start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "${opt[@]}" -l "$T_TMP/ext4.log" "$T_TMP/ours.img" "$ours"
	for m in ours kern; do
		dir=${!m}
		dd if="$T_TMP/blob" of="$dir/f" bs=1M conv=fsync status=none || fail "$mode $m: write failed"
		cat "$dir/f" > /dev/null
		for op in "-p -o 10000 -l 50000" "-p -o $((1 << 20)) -l $((1 << 20))" \
			  "-p -o $((700 * 4096 + 10)) -l 100" "-z -o $((2 << 20 | 100)) -l 300000" \
			  "-z -n -o $((3 << 20)) -l $((2 << 20))" "-z -o $((7 << 19)) -l $((1 << 20))" \
			  "-z -o $((100 * 4096)) -l $((8 * 4096))"; do
			fallocate $op "$dir/f" || fail "$mode $m: fallocate $op failed"
		done
	done
	[ $mode = upcall ] || [ "$(counter "$ours" bpf_hits)" -gt 0 ] || fail "bpf: the BPF tier answered nothing"
	expect_eq "$mode: size" "$(stat -c %s "$ours/f")" "$(stat -c %s "$kern/f")"
	cmp "$ours/f" "$kern/f" || fail "$mode: the file reads differently from the kernel's"
	cmp <(dd if="$ours/f" bs=64k iflag=direct status=none) "$kern/f" ||
		fail "$mode: O_DIRECT reads differ from the kernel's"
	drop_caches
	cmp "$ours/f" "$kern/f" || fail "$mode: after drop_caches the file reads differently from the kernel's"
	ext4_layout "$kern/f" > "$T_TMP/kern.layout"
	ext4_layout "$ours/f" > "$T_TMP/ours.layout"
	diff "$T_TMP/kern.layout" "$T_TMP/ours.layout" > "$T_TMP/diff" ||
		fail "$mode: FIEMAP layout differs from the kernel's (< kernel, > ours): $(grep '^[<>]' "$T_TMP/diff" | head -n4 | tr '\n' ' ')"
	stop_server "$ours" "$SERVER_PID"
	ext4_fsck_clean "$T_TMP/ours.img" "($mode)"
	mkdir -p "$T_TMP/check"
	mount -o ro,loop "$T_TMP/ours.img" "$T_TMP/check" || fail "kernel ext4 can't mount our image"
	cmp "$T_TMP/check/f" "$kern/f" || fail "$mode: the kernel's ext4 reads our image's file differently"
	umount "$T_TMP/check" "$kern"
done
