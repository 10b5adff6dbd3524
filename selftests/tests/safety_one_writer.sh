#!/bin/bash
# One writer per image.  While fuse-iomap-ext4 serves an image read-write,
# the kernel's ext4 can't mount it (mount -o loop of the image file, which
# reuses the server's loop device, nor the loop device itself), and a
# second fuse-iomap-ext4, read-write or read-only, is refused with a
# message naming the image and who holds it; the served files read right
# and the image is e2fsck-clean afterwards.  The reverse: an image the
# kernel's ext4 has mounted read-write is refused by our server, read-write
# or read-only; one it has mounted read-only is shared by a read-only
# server only.  The same for a block device, and for fuse-iomap-blockfs.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
img=$T_TMP/img ours=$T_TMP/ours kmnt=$T_TMP/kmnt other=$T_TMP/other
mkdir -p "$T_TMP/src" "$kmnt" "$other"
head -c $((3 << 20)) /dev/urandom > "$T_TMP/src/a"
mke2fs -q -F -t ext4 -b 4096 -d "$T_TMP/src" "$img" 64M || fail "mke2fs failed"
defer "umount '$kmnt' 2>/dev/null"

# kernel_mount_fails WHAT MOUNT-ARGS...: mount(8) of the image must fail
# and leave nothing mounted.
kernel_mount_fails() {
	local what=$1 rc=0
	shift
	mount "$@" "$kmnt" > "$T_TMP/mount.out" 2>&1 || rc=$?
	if is_mounted "$kmnt"; then
		umount "$kmnt"
		fail "$what: the kernel mounted the image while our server writes it"
	fi
	[ $rc != 0 ] || fail "$what: mount said it worked"
	log "$what: $(cat "$T_TMP/mount.out")"
}

# server_refused WHAT PATTERN SERVER-ARGS...: our server must exit 1 with
# a message matching PATTERN, mounting nothing.
server_refused() {
	local what=$1 pattern=$2 rc=0
	shift 2
	timeout 30 "$@" "$other" > "$T_TMP/other.out" 2>&1 || rc=$?
	if is_mounted "$other"; then
		umount -l "$other"
		fail "$what: served"
	fi
	expect_eq "$what: exit status" "$rc" 1
	grep -q -- "$pattern" "$T_TMP/other.out" ||
		fail "$what: want a message matching '$pattern', got: $(cat "$T_TMP/other.out")"
}

# --- our server writes: everyone else keeps off -------------------------------
start_server "$ours" "$T_TMP/ours.out" "$EXT4SRV" "$img" "$ours"
loopdev=$(losetup -n -O NAME -j "$img")
[ -b "$loopdev" ] || fail "no loop device backs $img while served: '$loopdev'"
kernel_mount_fails "mount -o loop IMAGE" -o loop "$img"
kernel_mount_fails "mount of the server's loop device" "$loopdev"
server_refused "a second read-write server" \
	"^fuse-iomap-ext4: $img (through $loopdev) is held open exclusively by pid [0-9]* (fuse-iomap-ext4)" \
	"$EXT4SRV" "$img"
server_refused "a second, read-only server" \
	"^fuse-iomap-ext4: $img (through $loopdev) is held open exclusively by pid [0-9]* (fuse-iomap-ext4)" \
	"$EXT4SRV" --read-only "$img"
cmp "$ours/a" "$T_TMP/src/a" || fail "a served file reads wrong after the refusals"
cp "$T_TMP/src/a" "$ours/b" && sync "$ours/b" || fail "can't write through our server"
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 || fail "image not clean after serving: $(tail -n3 "$T_TMP/fsck.out")"

# --- the kernel has it: we keep off, but for read-only sharing ----------------
mount -o loop "$img" "$kmnt" || fail "the kernel's ext4 can't mount $img"
server_refused "read-write, image mounted read-write by the kernel" \
	"^fuse-iomap-ext4: $img (through /dev/loop[0-9]*) is mounted read-write on $kmnt" "$EXT4SRV" "$img"
server_refused "read-only, image mounted read-write by the kernel" \
	"^fuse-iomap-ext4: $img (through /dev/loop[0-9]*) is mounted read-write on $kmnt" \
	"$EXT4SRV" --read-only "$img"
umount "$kmnt"
mount -o ro,loop "$img" "$kmnt" || fail "the kernel's ext4 can't mount $img read-only"
server_refused "read-write, image mounted read-only by the kernel" \
	"^fuse-iomap-ext4: $img (through /dev/loop[0-9]*) is mounted read-only on $kmnt" "$EXT4SRV" "$img"
start_server "$ours" "$T_TMP/ro.out" "$EXT4SRV" --read-only "$img" "$ours"
cmp "$ours/b" "$T_TMP/src/a" || fail "the read-only server beside a read-only mount reads wrong"
stop_server "$ours" "$SERVER_PID"
umount "$kmnt"

# --- a block device: fuse-iomap-ext4 and fuse-iomap-blockfs --------------------
dev=$(losetup -f --show "$img") || fail "losetup failed"
defer "losetup -d $dev"
mount "$dev" "$kmnt" || fail "the kernel's ext4 can't mount $dev"
server_refused "fuse-iomap-ext4 on a mounted device" \
	"^fuse-iomap-ext4: $dev is mounted read-write on $kmnt" "$EXT4SRV" "$dev"
server_refused "fuse-iomap-blockfs on a mounted device" \
	"^fuse-iomap-blockfs: $dev is mounted read-write on $kmnt" "$BLOCKFS" "$dev"
umount "$kmnt"
start_server "$ours" "$T_TMP/dev.out" "$EXT4SRV" "$dev" "$ours"
kernel_mount_fails "mount of a device our server writes" "$dev"
server_refused "fuse-iomap-blockfs on a device fuse-iomap-ext4 serves" \
	"^fuse-iomap-blockfs: $dev is held open exclusively by pid [0-9]* (fuse-iomap-ext4)" \
	"$BLOCKFS" "$dev"
cmp "$ours/b" "$T_TMP/src/a" || fail "a file served from $dev reads wrong"
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$dev" > "$T_TMP/fsck.out" 2>&1 || fail "device not clean after serving: $(tail -n3 "$T_TMP/fsck.out")"
