#!/bin/bash
# Buffered overwrites (partial blocks included) reach the device by
# writeback: after sync the device at the FIEMAP address and the mount
# (cold cache) hold the new bytes, in place.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c $((4 << 20)) /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" && sync || fail "writing $mnt/f failed"
drop_caches
fiemap "$mnt/f" > "$T_TMP/before"
head -c $((1 << 20)) /dev/urandom > "$T_TMP/new"
for spec in "0 100" "4000 200" "65536 65536" "1000000 777777" "4194000 304"; do
	set -- $spec
	dd if="$T_TMP/new" of="$mnt/f" iflag=count_bytes oflag=seek_bytes seek="$1" count="$2" conv=notrunc status=none ||
		fail "buffered overwrite of $2 bytes at $1 failed"
	dd if="$T_TMP/new" of="$T_TMP/ref" iflag=count_bytes oflag=seek_bytes seek="$1" count="$2" conv=notrunc status=none
done
sync
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after buffered overwrites and writeback, bytes differ"
fiemap "$mnt/f" > "$T_TMP/after"
cmp -s "$T_TMP/before" "$T_TMP/after" || fail "in-place overwrite moved blocks"
stop_server "$mnt" "$SERVER_PID"
