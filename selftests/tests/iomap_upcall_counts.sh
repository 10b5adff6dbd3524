#!/bin/bash
# For a known workload the connection's sysfs counters equal the number of
# FUSE_IOMAP_BEGIN and FUSE_IOMAP_END requests the server logged.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
expect_eq "begin upcalls of a fresh mount" "$(counter "$mnt" iomap_begin_upcalls)" 0
expect_eq "end upcalls of a fresh mount" "$(counter "$mnt" iomap_end_upcalls)" 0
head -c $((2 << 20)) /dev/urandom > "$T_TMP/data"
cp "$T_TMP/data" "$mnt/a"
dd if="$T_TMP/data" of="$mnt/b" bs=65536 count=8 oflag=direct status=none
sync
drop_caches
cat "$mnt/a" > /dev/null
dd if="$mnt/b" of=/dev/null bs=4096 iflag=direct status=none
xfs_io -c "fiemap" "$mnt/a" > /dev/null
begins=$(counter "$mnt" iomap_begin_upcalls)
ends=$(counter "$mnt" iomap_end_upcalls)
# O_DIRECT reads of 128 blocks ask once per read: at least that many.
[ "$begins" -ge 128 ] || fail "only $begins FUSE_IOMAP_BEGIN upcalls for the workload"
[ "$ends" -gt 0 ] || fail "no FUSE_IOMAP_END upcall for the writes"
stop_server "$mnt" "$SERVER_PID"
expect_eq "FUSE_IOMAP_BEGIN: sysfs counter vs server log" "$begins" "$(log_count BEGIN)"
expect_eq "FUSE_IOMAP_END: sysfs counter vs server log" "$ends" "$(log_count END)"
