#!/bin/bash
# SIGTERM to an iomap server while a file on it is open with dirty page
# cache: the server unmounts (lazily, the file being busy) and keeps
# serving, so that the data still gets its mappings when the file is
# closed; then it exits 0, and the data is on the device (read back after
# a restart).  A server that stopped serving at the signal lost that data.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 64
mnt=$T_TMP/mnt meta=$T_TMP/meta
start_blockfs "$mnt" "$dev" --meta "$meta"
head -c $((4 << 20)) /dev/urandom > "$T_TMP/ref"
exec 3> "$mnt/f"
cat "$T_TMP/ref" >&3			# dirty page cache, file still open
kill -TERM "$SERVER_PID"
wait_for 30 eval "! is_mounted '$mnt'" || fail "$mnt still mounted 30 s after SIGTERM"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited while a file of its mount was still open"
exec 3>&-				# the close writes the data back
wait_for 30 eval "! kill -0 $SERVER_PID 2>/dev/null" || fail "the server did not exit within 30 s of the last close"
rc=0
wait "$SERVER_PID" || rc=$?
expect_eq "server exit status after SIGTERM" "$rc" 0
start_blockfs "$mnt" "$dev" --meta "$meta"
cmp "$mnt/f" "$T_TMP/ref" || fail "data written before SIGTERM did not survive"
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
stop_server "$mnt" "$SERVER_PID"
