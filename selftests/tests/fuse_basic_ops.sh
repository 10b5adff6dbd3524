#!/bin/bash
# The minimal server (unmodified libfuse3) mounted on fuseiomap through
# /dev/fuse-iomap: create, write, read back, stat, mkdir, readdir, rename,
# unlink, rmdir, symlink; then a clean unmount and server exit.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/basic_ops.sh"

fi_load
mnt=$T_TMP/mnt
start_server "$mnt" "$T_TMP/server.log" "$MEMFS" "$mnt"
expect_eq "mount type" "$(mount_type "$mnt")" fuseiomap.memfs
basic_ops "$mnt"
stop_server "$mnt" "$SERVER_PID"
