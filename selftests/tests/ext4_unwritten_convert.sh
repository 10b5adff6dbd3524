#!/bin/bash
# fuse-iomap-ext4 writes into fallocated (uninitialized) extents without
# zeroing them: fallocate 256 MiB, then 2,000 random 4 KiB O_DIRECT
# writes and an fsync.  The device (a loop device we give the server, so
# data and metadata both go through it) took at most 1.2 times the bytes
# written plus 32 KiB of metadata writes per write (the server writes its
# extent tree and inode through, with no cache: about 6 blocks for each
# conversion); zeroing the extent would add 256 MiB.  Written blocks read back and FIEMAP
# shows them initialized, the rest uninitialized and reading zeros; after
# unmount e2fsck -fn is clean and the kernel's ext4 reads the same bytes
# and sees the same unwritten blocks.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

WRITES=2000
ext4_load
img=$T_TMP/img
mke2fs -q -F -t ext4 -b 4096 "$img" 512M || fail "mke2fs failed"
dev=$(losetup -f --show "$img") || fail "losetup $img failed"
defer "losetup -d $dev 2>/dev/null"
stat_file=/sys/block/$(basename "$dev")/stat
ours=$T_TMP/ours
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" -l "$T_TMP/ext4.log" "$dev" "$ours"
fallocate -l $((256 << 20)) "$ours/f" || fail "fallocate failed"
truncate -s $((256 << 20)) "$T_TMP/ref"
sync
before=$(awk '{ print $7 }' "$stat_file")
ops=$(python3 -c 'import random, sys
r = random.Random(int(sys.argv[1]))
print(" ".join("d%d+4096" % (b * 4096) for b in r.sample(range(65536), int(sys.argv[2]))))' 7 $WRITES)
python3 "$REPO/selftests/lib/ioend_io.py" "$ours/f" "$T_TMP/ref" "$T_TMP/written" $ops fsync \
	> "$T_TMP/io.out" 2>&1 || fail "writes: $(tail -n1 "$T_TMP/io.out")"
sync
after=$(awk '{ print $7 }' "$stat_file")
bytes=$(((after - before) * 512)) data=$((WRITES * 4096))
limit=$((data * 12 / 10 + WRITES * (32 << 10)))
log "the device took $bytes bytes for $data bytes of data (limit $limit)"
[ "$bytes" -le "$limit" ] || fail "the device took $bytes bytes for $data bytes written: zeroing? (limit $limit)"
expect_eq "FUSE_IOMAP_END upcalls" "$(counter "$ours" iomap_end_upcalls)" 0
drop_caches
cmp "$ours/f" "$T_TMP/ref" || fail "the file reads differently from what was written"
check_unwritten_states "$ours/f" "$T_TMP/written"
[ "$uw_written" = $WRITES ] || fail "FIEMAP shows $uw_written blocks written, want $WRITES"
python3 "$IOEND_CHECK" unwritten "$ours/f" > "$T_TMP/ours.uw"
stop_server "$ours" "$SERVER_PID"
ext4_fsck_clean "$dev"
mkdir -p "$T_TMP/kern"
mount -o ro "$dev" "$T_TMP/kern" || fail "kernel ext4 can't mount the image"
defer "umount '$T_TMP/kern' 2>/dev/null"
cmp "$T_TMP/kern/f" "$T_TMP/ref" || fail "the kernel's ext4 reads the file differently"
python3 "$IOEND_CHECK" unwritten "$T_TMP/kern/f" > "$T_TMP/kern.uw"
cmp -s "$T_TMP/ours.uw" "$T_TMP/kern.uw" ||
	fail "the kernel's ext4 sees other unwritten blocks: $(diff "$T_TMP/ours.uw" "$T_TMP/kern.uw" | head -n4 | tr '\n' ' ')"
