#!/bin/bash
# SEEK_DATA and SEEK_HOLE over files with unwritten extents, through
# fuse-iomap-ext4 and through the kernel's ext4 on a copy of the image,
# after the same operations: dirty page cache over part of an unwritten
# extent, a small hole after dirty pages, a partial first block, and the
# state after writeback (fsync).  All while the file stays open: closing
# a fuse file writes it back.  Then e2fsck -fn is clean and the kernel's
# ext4 reads our image's file as it reads its own.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
mke2fs -q -F -t ext4 -b 4096 "$T_TMP/ours.img" 64M || fail "mke2fs failed"
cp --sparse=always "$T_TMP/ours.img" "$T_TMP/kern.img"
ours=$T_TMP/ours kern=$T_TMP/kern
mkdir -p "$kern"
mount -o loop "$T_TMP/kern.img" "$kern" || fail "kernel ext4 can't mount the copy"
defer "umount '$kern' 2>/dev/null"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" -l "$T_TMP/ext4.log" "$T_TMP/ours.img" "$ours"
for m in ours kern; do
	dir=${!m}
	fallocate -l $((1 << 20)) "$dir/f" || fail "$m: fallocate failed"
	fallocate -l $((1 << 20)) "$dir/g" || fail "$m: fallocate failed"
	truncate -s $((1 << 20)) "$T_TMP/$m.ref"
	python3 "$REPO/selftests/lib/ioend_io.py" --seed 1 "$dir/f" "$T_TMP/$m.ref" "$T_TMP/$m.w" \
		seek:"$T_TMP/$m.seek" b40960+4096 seek:"$T_TMP/$m.seek" \
		b53248+4096 seek:"$T_TMP/$m.seek" b0+100 seek:"$T_TMP/$m.seek" \
		fsync seek:"$T_TMP/$m.seek" > "$T_TMP/$m.io" 2>&1 || fail "$m: $(tail -n1 "$T_TMP/$m.io")"
	python3 "$REPO/selftests/lib/ioend_io.py" --seed 2 "$dir/g" "$T_TMP/$m.ref" "$T_TMP/$m.w" \
		b4096+8192 seek:"$T_TMP/$m.seek" d16384+4096 seek:"$T_TMP/$m.seek" \
		b1044480+4096 seek:"$T_TMP/$m.seek" fsync seek:"$T_TMP/$m.seek" > "$T_TMP/$m.io" 2>&1 ||
		fail "$m: $(tail -n1 "$T_TMP/$m.io")"
done
grep -q 'data 40960 45056' "$T_TMP/kern.seek" || fail "the kernel's ext4 does not see the write at 40960 as data: $(tr '\n' ' ' < "$T_TMP/kern.seek")"
diff "$T_TMP/kern.seek" "$T_TMP/ours.seek" > "$T_TMP/diff" ||
	fail "SEEK_DATA/SEEK_HOLE differ from the kernel's ext4 (< kernel, > ours): $(tr '\n' ' ' < "$T_TMP/diff")"
for f in f g; do
	cmp "$ours/$f" "$kern/$f" || fail "$f reads differently through our mount"
done
stop_server "$ours" "$SERVER_PID"
ext4_fsck_clean "$T_TMP/ours.img"
mkdir -p "$T_TMP/check"
mount -o ro,loop "$T_TMP/ours.img" "$T_TMP/check" || fail "kernel ext4 can't mount our image"
defer "umount '$T_TMP/check' 2>/dev/null"
for f in f g; do
	cmp "$T_TMP/check/$f" "$kern/$f" || fail "the kernel's ext4 reads $f of our image differently"
done
