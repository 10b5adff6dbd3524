#!/bin/bash
# A size that a synced write made durable survives a power cut, even when
# a later, unsynced append raised i_size first.  fuse-iomap-ext4 (without
# and with --bpf) serves an image over dm-flakey: a 4 KiB file is
# fsync'd; pwrite 4 KiB at 4096 and at 1 MiB (no sync); then
# pwritev2(RWF_DSYNC) of other bytes at 4096.  Its ioend lies below
# i_size (1 MiB + 4 KiB) but past the 4 KiB the server has: the kernel
# says the file is at least that long on every ioend.  Then the device
# drops every write (the power cut) and the server is killed.  Served
# again (journal replay), the file is at least 8 KiB long and holds the
# first block and the synced bytes; e2fsck -fn is clean.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

wb=/proc/sys/vm/dirty_writeback_centisecs
ext4_load
modprobe dm_flakey || fail "can't load dm-flakey"
# The unsynced append must stay in the page cache until the cut.
defer "echo $(cat $wb) > $wb"
echo 0 > $wb
for mode in upcall bpf; do
	img=$T_TMP/$mode.img name=fi-dsync-$$-$mode mnt=$T_TMP/mnt
	mke2fs -q -F -t ext4 -b 4096 "$img" 64M || fail "mke2fs failed"
	loop=$(losetup -f --show "$img") || fail "losetup $img failed"
	defer "losetup -d $loop 2>/dev/null"
	sz=$(blockdev --getsz "$loop")
	dmsetup --noudevsync create "$name" --table "0 $sz flakey $loop 0 3600 0" &&
		dmsetup --noudevsync mknodes "$name" || fail "can't create dm-flakey over $loop"
	defer "dmsetup --noudevsync remove $name 2>/dev/null"
	opt=()
	[ $mode = upcall ] || opt=(--bpf)
	dev=/dev/mapper/$name
	start_server "$mnt" "$T_TMP/ext4.out" "$EXT4SRV" "${opt[@]}" "$dev" "$mnt"
	python3 - "$mnt" > "$T_TMP/py.out" 2>&1 <<'PY' || fail "$mode: $(tail -n1 "$T_TMP/py.out")"
import os, sys
d = sys.argv[1]
fd = os.open(f"{d}/f", os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(fd, b"A" * 4096, 0)
os.fsync(fd)
dfd = os.open(d, os.O_RDONLY)
os.fsync(dfd)
os.pwrite(fd, b"B" * 4096, 4096)
os.pwrite(fd, b"C" * 4096, 1 << 20)
if os.pwritev(fd, [b"D" * 4096], 4096, os.RWF_DSYNC) != 4096:
    sys.exit("short RWF_DSYNC write")
print("size before the cut:", os.fstat(fd).st_size)
PY
	dmsetup --noudevsync suspend --nolockfs "$name" &&
		dmsetup --noudevsync load "$name" --table "0 $sz flakey $loop 0 0 3600 1 drop_writes" &&
		dmsetup --noudevsync resume "$name" || fail "can't make dm-flakey drop writes"
	crash_server "$mnt"
	dmsetup --noudevsync remove "$name" || fail "can't remove dm-flakey"

	dev=$loop
	start_server "$mnt" "$T_TMP/ext4-2.out" "$EXT4SRV" "$loop" "$mnt"
	size=$(stat -c %s "$mnt/f") || fail "$mode: f is gone after the cut"
	log "$mode: size $size after the cut ($(cat "$T_TMP/py.out"))"
	[ "$size" -ge 8192 ] || fail "$mode: size $size after the cut, want at least 8192 (the RWF_DSYNC write ended there)"
	cmp <(head -c 4096 /dev/zero | tr '\0' A; head -c 4096 /dev/zero | tr '\0' D) \
		<(head -c 8192 "$mnt/f") > "$T_TMP/cmp" 2>&1 ||
		fail "$mode: the synced bytes are not there after the cut: $(cat "$T_TMP/cmp")"
	stop_server "$mnt" "$SERVER_PID"
	losetup -d "$loop"
	ext4_fsck_clean "$img" "($mode)"
done
