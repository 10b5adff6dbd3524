#!/bin/bash
# fuse-iomap-blockfs keeps its metadata in memory and saves it to --meta
# PATH at exit: without it, written data is lost.  A PATH it cannot write
# (on a read-only file system, in a directory that does not exist, or a
# directory itself) is refused at start, with a message naming PATH, exit
# status 1 and nothing mounted.  A writable PATH serves, and keeps a file
# across a restart.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 16
mnt=$T_TMP/mnt
mkdir -p "$mnt" "$T_TMP/ro" "$T_TMP/isdir"
# Root writes anywhere but on a read-only mount.
mount -t tmpfs -o ro tmpfs "$T_TMP/ro" || fail "can't mount a read-only tmpfs"
defer "umount '$T_TMP/ro'"

refused() {	# META WHY
	local rc=0
	timeout 10 "$BLOCKFS" --meta "$1" "$dev" "$mnt" > "$T_TMP/out" 2>&1 || rc=$?
	if is_mounted "$mnt"; then
		umount -l "$mnt"
		fail "--meta $1 ($2): served anyway"
	fi
	expect_eq "--meta $1 ($2): exit status" "$rc" 1
	grep -q "^fuse-iomap-blockfs: .*$1.*$2" "$T_TMP/out" ||
		fail "--meta $1: want a message naming it and saying '$2', got: $(cat "$T_TMP/out")"
}
refused "$T_TMP/ro/meta" "Read-only file system"
refused "$T_TMP/nodir/meta" "No such file or directory"
refused "$T_TMP/isdir" "not a regular file"

start_blockfs "$mnt" "$dev" --meta "$T_TMP/meta"
echo kept > "$mnt/x"
stop_server "$mnt" "$SERVER_PID"
start_blockfs "$mnt" "$dev" --meta "$T_TMP/meta"
expect_eq "a file after a restart with --meta" "$(cat "$mnt/x")" kept
stop_server "$mnt" "$SERVER_PID"
