#!/bin/bash
# An image with feature orphan_file (mke2fs's default on Debian 13) that
# the kernel's ext4 left at a power cut with a file open and without names
# (in the orphan file, orphan_present set): fuse-iomap-ext4 replays the
# journal, frees that inode as the kernel's ext4 does at its mount, says
# so, clears orphan_present, and serves the image; e2fsck -fn is clean
# after, and the free block and inode counts equal those the kernel's ext4
# leaves when it mounts a copy of the crashed image.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# hold MNT: a 1 MiB file, fsync'd, open in a process of its own, then
# unlinked, and the unlink committed (the kernel commits every 5 s); and
# a file that stays, fsync'd.
hold() {
	(
		exec 9> "$1/open_unlinked"
		head -c $((1 << 20)) /dev/urandom >&9
		python3 -c 'import os; os.fsync(9)'
		: > "$T_TMP/holding"
		exec sleep 600
	) > /dev/null 2>&1 &
	echo $! > "$T_TMP/holder"
	wait_for 30 test -e "$T_TMP/holding" || return 1
	head -c $((256 << 10)) /dev/urandom | dd of="$1/kept" bs=64k conv=fsync status=none
	rm "$1/open_unlinked"
	python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$1"
	sleep 6
}
# release MNT: the holder goes after the crash, so its close is lost.
release() {
	kill -9 "$(cat "$T_TMP/holder")"
	wait "$(cat "$T_TMP/holder")" 2> /dev/null || true
}

ext4_load
img=$T_TMP/img
mke2fs -q -F -t ext4 -b 4096 -O orphan_file "$img" 128M || fail "mke2fs -O orphan_file failed"
ext4_crash_kernel "$img" hold release
dumpe2fs -h "$img" 2> /dev/null | grep -q 'features:.*orphan_present' ||
	fail "the crash left no orphan_present: $(dumpe2fs -h "$img" 2> /dev/null | grep features)"

# The kernel's own recovery of a copy: the counts to match.
cp --sparse=always "$img" "$T_TMP/kern.img"
mkdir -p "$T_TMP/kern"
mount -o loop "$T_TMP/kern.img" "$T_TMP/kern" || fail "the kernel's ext4 can't mount the crashed image"
umount "$T_TMP/kern"
counts() { dumpe2fs -h "$1" 2> /dev/null | grep -E '^Free (blocks|inodes):' | tr -s ' ' | paste -sd' '; }
want=$(counts "$T_TMP/kern.img")
[ -n "$want" ] || fail "no free counts from dumpe2fs"

mnt=$T_TMP/ours
start_server "$mnt" "$T_TMP/ours.out" "$EXT4SRV" "$img" "$mnt"
[ "$(cat "$mnt/kept" | wc -c)" = $((256 << 10)) ] || fail "kept is not 256 KiB through our server"
[ ! -e "$mnt/open_unlinked" ] || fail "the unlinked file has a name"
stop_server "$mnt" "$SERVER_PID"
grep -q 'journal replayed' "$T_TMP/ours.out" || fail "no journal replay: $(head -n1 "$T_TMP/ours.out")"
grep -q ': 1 orphan inodes cleaned up' "$T_TMP/ours.out" ||
	fail "not one orphan cleaned up: $(grep -v 'journal replayed' "$T_TMP/ours.out" | head -n2 | tr '\n' ' ')"
! dumpe2fs -h "$img" 2> /dev/null | grep -q 'features:.*orphan_present' || fail "orphan_present is still set"
ext4_fsck_clean "$img" "after our orphan recovery"
expect_eq "free counts against the kernel's recovery" "$(counts "$img")" "$want"
