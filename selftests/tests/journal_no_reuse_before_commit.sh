#!/bin/bash
# A block freed in the running transaction is not given to file data
# before that transaction commits (issue 26).  A nearly full ext4 image
# sits under dm-log-writes.  fuse-iomap-ext4 (journal on, --commit=3600 so
# that only what the test does commits) serves it: file A is written and
# fsync'd with its directory, a filler takes all the space our allocator
# gives out, then A is removed (no fsync) and B written with O_DIRECT.
# With nowhere else to go, B lands in A's old blocks (checked with
# FIEMAP: the test proves nothing otherwise).  A flush of the device (not
# a commit) and a log mark cut the power there.  logwrites.py rebuilds the image at the mark; our server replays
# its journal and serves it: A is gone or reads A's bytes, never B's; B,
# if there, holds only its own bytes or zeros; e2fsck -fn is clean.
# Before the fix the replay gave A back its blocks with B's bytes in them.
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

LOGWRITES=$REPO/selftests/lib/logwrites.py
name=fi-reuse-$$

ext4_load
modprobe dm_log_writes || fail "can't load dm-log-writes"
base=$T_TMP/base.img
# Small enough that the trees' reserve is its minimum, 64 blocks: the
# filler then leaves B fewer other free blocks than it needs.
mke2fs -q -F -t ext4 -b 4096 -E nodiscard "$base" 12M || fail "mke2fs failed"
cp --sparse=always "$base" "$T_TMP/data.img"
truncate -s 256M "$T_TMP/log.img"
ddev=$(losetup -f --show "$T_TMP/data.img") || fail "losetup failed"
defer "losetup -d $ddev 2>/dev/null"
ldev=$(losetup -f --show "$T_TMP/log.img") || fail "losetup failed"
defer "losetup -d $ldev 2>/dev/null"
sz=$(blockdev --getsz "$ddev")
dmsetup --noudevsync create "$name" --table "0 $sz log-writes $ddev $ldev" &&
	dmsetup --noudevsync mknodes "$name" || fail "can't create dm-log-writes over $ddev"
defer "dmsetup --noudevsync remove $name 2>/dev/null"

head -c $((1 << 20)) /dev/zero | tr '\0' A > "$T_TMP/a.pat"
head -c $((768 << 10)) /dev/zero | tr '\0' B > "$T_TMP/b.pat"
free_blocks() { stat -f -c %f "$mnt"; }

mnt=$T_TMP/mnt
start_server "$mnt" "$T_TMP/ext4.out" "$EXT4SRV" --commit=3600 "/dev/mapper/$name" "$mnt"
dd if="$T_TMP/a.pat" of="$mnt/A" bs=1M oflag=direct conv=fsync status=none ||
	fail "can't write A"
sync "$mnt" || fail "can't fsync the root directory"
python3 "$FIEMAP_PY" merged "$mnt/A" > "$T_TMP/a.map" || fail "FIEMAP of A failed"
# All the space data may take, fsync'd: then A's blocks are all there is.
# The free blocks data allocation leaves to the extent trees, as the
# server sizes them: 2% of the blocks, 64 to 4096.
RESERVE=$(($(stat -f -c %b "$mnt") / 50))
[ $RESERVE -ge 64 ] || RESERVE=64
[ $RESERVE -le 4096 ] || RESERVE=4096
free=$(free_blocks)
[ "$free" -gt $((RESERVE + 256)) ] || fail "only $free free blocks"
fallocate -l $(((free - RESERVE) * 4096)) "$mnt/filler" || fail "can't fallocate the filler"
sync "$mnt/filler" "$mnt" || fail "can't fsync the filler"
free=$(free_blocks)
log "free blocks with A and the filler: $free"

# rm A: freed in the running transaction, at the FORGET after the unlink.
rm "$mnt/A"
wait_for 30 eval '[ "$(free_blocks)" -ge $((free + 256)) ]' ||
	fail "statfs: $(free_blocks) free blocks 30 s after rm A, not $((free + 256))"
dd if="$T_TMP/b.pat" of="$mnt/B" bs=768k oflag=direct status=none || fail "can't write B"
# dm-log-writes logs a write only at the flush after it: one, not a
# commit, is what a disk writing its cache back on its own amounts to.
python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "/dev/mapper/$name" ||
	fail "can't flush /dev/mapper/$name"
dmsetup --noudevsync message "$name" 0 mark cut || fail "can't mark the log"
cmp -s "$T_TMP/b.pat" "$mnt/B" || fail "B does not read back its bytes before the cut"
python3 "$FIEMAP_PY" merged "$mnt/B" > "$T_TMP/b.map" || fail "FIEMAP of B failed"
shared=$(python3 - "$T_TMP/a.map" "$T_TMP/b.map" <<'PY'
import sys
def blocks(path):
    s = set()
    for line in open(path):
        f = line.split()
        if len(f) >= 3 and f[0].isdigit():
            s.update(range(int(f[1]) // 4096, (int(f[1]) + int(f[2])) // 4096))
    return s
print(len(blocks(sys.argv[1]) & blocks(sys.argv[2])))
PY
)
log "B took $shared of A's old blocks"
[ "$shared" -gt 0 ] || fail "B did not land in A's old blocks (A: $(tr '\n' ' ' < "$T_TMP/a.map"); B: $(tr '\n' ' ' < "$T_TMP/b.map")): nothing shown"
stop_server "$mnt" "$SERVER_PID"
dmsetup --noudevsync remove "$name" || fail "can't remove dm-log-writes"

# The power cut: the image as the log had it at the mark.
python3 "$LOGWRITES" marks "$ldev" > "$T_TMP/marks" || fail "can't read the log's marks"
idx=$(awk '$2 == "cut" { print $1 }' "$T_TMP/marks")
[ -n "$idx" ] || fail "no mark in the log: $(tr '\n' ' ' < "$T_TMP/marks")"
cut=$T_TMP/cut.img
cp --sparse=always "$base" "$cut"
python3 "$LOGWRITES" replay "$ldev" "$cut" $((idx + 1)) || fail "can't replay the log"
start_server "$mnt" "$T_TMP/cut.out" "$EXT4SRV" "$cut" "$mnt"
log "$(grep -h 'replayed' "$T_TMP/cut.out")"
if [ -e "$mnt/A" ]; then
	if ! cmp -s "$T_TMP/a.pat" "$mnt/A"; then
		nb=$(tr -cd B < "$mnt/A" | wc -c)
		fail "after the cut A is back and does not read A's bytes ($nb bytes of B's in it)"
	fi
	log "after the cut A is back with its own bytes"
else
	log "after the cut A is gone"
fi
if [ -e "$mnt/B" ]; then
	[ "$(tr -d 'B\0' < "$mnt/B" | wc -c)" = 0 ] ||
		fail "after the cut B holds bytes that are not B's"
fi
stop_server "$mnt" "$SERVER_PID"
ext4_fsck_clean "$cut" "after the cut"
