#!/bin/bash
# For a known workload the connection's sysfs counters equal the number of
# FUSE_IOMAP_BEGIN, FUSE_IOMAP_END and FUSE_IOMAP_IOEND requests the server
# logged (blockfs in place asks for ioends, not ENDs, for its writes).
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
expect_eq "begin upcalls of a fresh mount" "$(counter "$mnt" iomap_begin_upcalls)" 0
expect_eq "end upcalls of a fresh mount" "$(counter "$mnt" iomap_end_upcalls)" 0
expect_eq "ioend upcalls of a fresh mount" "$(counter "$mnt" ioend_upcalls)" 0
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
ioends=$(counter "$mnt" ioend_upcalls)
# O_DIRECT reads of 128 blocks ask once per read: at least that many.
[ "$begins" -ge 128 ] || fail "only $begins FUSE_IOMAP_BEGIN upcalls for the workload"
[ "$ioends" -gt 0 ] || fail "no FUSE_IOMAP_IOEND upcall for the writes"
stop_server "$mnt" "$SERVER_PID"
expect_eq "FUSE_IOMAP_BEGIN: sysfs counter vs server log" "$begins" "$(log_count BEGIN)"
expect_eq "FUSE_IOMAP_END: sysfs counter vs server log" "$ends" "$(log_count END)"
expect_eq "FUSE_IOMAP_IOEND: sysfs counter vs server log" "$ioends" "$(log_count IOEND)"
