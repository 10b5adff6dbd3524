#!/bin/bash
# POSIX semantics through fuse-iomap-ext4 equal the kernel's ext4 on the
# same image: rename over an existing file or directory, unlink of an open
# file (still readable and writable until close), O_APPEND, O_TRUNC, hard
# link and directory link counts, chmod/chown/utimens (nanoseconds, far
# dates) seen by stat, set-group-ID directories, and the errors of the
# operations that must fail.  After unmount `e2fsck -fn` is clean.
# TIMEOUT: 200
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
kern=$T_TMP/kern ours=$T_TMP/ours
mke2fs -q -F -t ext4 -b 4096 "$T_TMP/kern.img" 64M || fail "mke2fs failed"
cp --sparse=always "$T_TMP/kern.img" "$T_TMP/ours.img"
mkdir -p "$kern"

mount -o loop "$T_TMP/kern.img" "$kern" || fail "kernel ext4 can't mount the image"
defer "umount '$kern' 2>/dev/null"
python3 "$REPO/selftests/lib/posix_ops.py" "$kern" > "$T_TMP/want" 2>&1 ||
	fail "posix_ops.py failed on the kernel's ext4: $(tail -n1 "$T_TMP/want")"
umount "$kern"

start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "$T_TMP/ours.img" "$ours"
python3 "$REPO/selftests/lib/posix_ops.py" "$ours" > "$T_TMP/got" 2>&1 ||
	fail "posix_ops.py failed through our server: $(tail -n1 "$T_TMP/got")"
[ "$(wc -l < "$T_TMP/want")" -ge 40 ] || fail "only $(wc -l < "$T_TMP/want") outcomes"
diff "$T_TMP/want" "$T_TMP/got" > "$T_TMP/diff" ||
	fail "differs from the kernel's ext4: $(grep '^[<>]' "$T_TMP/diff" | head -2 | tr '\n' ' ')"
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$T_TMP/ours.img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck -fn: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"
