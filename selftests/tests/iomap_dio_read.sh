#!/bin/bash
# O_DIRECT reads of a file on the iomap path return the bytes written, and
# those bytes sit on the device where FIEMAP says.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c 3000000 /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" || fail "cp to $mnt/f failed"
drop_caches
before=$(counter "$mnt" iomap_begin_upcalls)
for bs in 4096 65536 1048576; do
	dd if="$mnt/f" of="$T_TMP/out" bs=$bs iflag=direct status=none || fail "O_DIRECT read (bs=$bs) failed"
	cmp "$T_TMP/out" "$T_TMP/ref" || fail "O_DIRECT read (bs=$bs): bytes differ from what was written"
done
# An unaligned O_DIRECT read is refused, as on any block file system.
dd if="$mnt/f" of=/dev/null bs=1000 count=1 iflag=direct status=none 2>/dev/null &&
	fail "O_DIRECT read of 1000 bytes succeeded"
[ "$(counter "$mnt" iomap_begin_upcalls)" -gt "$before" ] || fail "O_DIRECT reads made no FUSE_IOMAP_BEGIN upcall"
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
stop_server "$mnt" "$SERVER_PID"
