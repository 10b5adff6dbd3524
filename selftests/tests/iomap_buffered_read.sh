#!/bin/bash
# Buffered reads (whole file, readahead, odd offsets and lengths) of a file
# written with O_DIRECT, from a cold page cache, return the bytes written.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c $((5 << 20)) /dev/urandom > "$T_TMP/ref"
dd if="$T_TMP/ref" of="$mnt/f" bs=1M oflag=direct status=none || fail "O_DIRECT write failed"
# Size not a block multiple: the last block is read partly.
truncate -s 5000001 "$mnt/f" "$T_TMP/ref"
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "buffered read: bytes differ from what was written"
drop_caches
for range in "0 1" "4095 2" "12345 70000" "1048000 3000000" "4999990 11"; do
	set -- $range
	cmp <(tail -c +$(($1 + 1)) "$mnt/f" | head -c "$2") <(tail -c +$(($1 + 1)) "$T_TMP/ref" | head -c "$2") ||
		fail "buffered read of $2 bytes at $1 differs"
done
expect_eq "bytes past EOF" "$(tail -c +5000002 "$mnt/f" | wc -c)" 0
stop_server "$mnt" "$SERVER_PID"
