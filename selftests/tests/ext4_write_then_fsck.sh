#!/bin/bash
# A write workload through fuse-iomap-ext4 (create, append, overwrite,
# writes into holes and over unwritten extents, O_DIRECT, mmap, truncate
# down and up, rename, unlink, mkdir/rmdir, many names) equals the same
# workload run by the kernel's ext4 on a copy of the image; after unmount
# `e2fsck -fn` is clean and the kernel's ext4 reads exactly that tree.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
ext4_make_image "$T_TMP/ours.img"
cp --sparse=always "$T_TMP/ours.img" "$T_TMP/kern.img"
head -c $((8 << 20)) /dev/urandom > "$T_TMP/blob"
kern=$T_TMP/kern ours=$T_TMP/ours
mkdir -p "$kern"

mount -o loop "$T_TMP/kern.img" "$kern" || fail "kernel ext4 can't mount the copy"
defer "umount '$kern' 2>/dev/null"
ext4_workload "$kern" "$T_TMP/blob" || fail "the workload failed on the kernel's ext4"
python3 "$REPO/selftests/lib/tree.py" --no-dir-size "$kern" > "$T_TMP/want.manifest"
umount "$kern"

start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" -l "$T_TMP/ext4.log" "$T_TMP/ours.img" "$ours"
ext4_workload "$ours" "$T_TMP/blob" > "$T_TMP/workload.out" 2>&1 ||
	fail "the workload failed through our server: $(tail -n1 "$T_TMP/workload.out")"
python3 "$REPO/selftests/lib/tree.py" --no-dir-size "$ours" > "$T_TMP/ours.manifest"
diff "$T_TMP/want.manifest" "$T_TMP/ours.manifest" > "$T_TMP/diff" ||
	fail "through our server the tree differs from the kernel's: $(grep '^[<>]' "$T_TMP/diff" | head -2 | tr '\n' ' ')"
[ "$(grep -c "^IOEND " "$T_TMP/ext4.log")" -gt 0 ] || fail "no FUSE_IOMAP_IOEND: the writes did not take the iomap path"
stop_server "$ours" "$SERVER_PID"

e2fsck -fn "$T_TMP/ours.img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck -fn after our writes: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"
mount -o ro,loop "$T_TMP/ours.img" "$kern" || fail "kernel ext4 can't mount the image we wrote"
python3 "$REPO/selftests/lib/tree.py" --no-dir-size "$kern" > "$T_TMP/after.manifest"
umount "$kern"
diff "$T_TMP/want.manifest" "$T_TMP/after.manifest" > "$T_TMP/diff" ||
	fail "the kernel's ext4 reads another tree from our image: $(grep '^[<>]' "$T_TMP/diff" | head -2 | tr '\n' ' ')"
