#!/bin/bash
# Writes into holes and past EOF (buffered and O_DIRECT) allocate blocks:
# the bytes are right through the mount (cold cache) and on the device at
# the new FIEMAP addresses, and what was never written reads as zeros.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c $((2 << 20)) /dev/urandom > "$T_TMP/data"
ref=$T_TMP/ref

# A sparse file: nothing allocated.
truncate -s $((8 << 20)) "$mnt/f" "$ref"
expect_eq "extents of an empty sparse file" "$(fiemap "$mnt/f" | wc -l)" 0
# Buffered writes into the hole, one crossing block boundaries.
dd if="$T_TMP/data" of="$mnt/f" iflag=count_bytes oflag=seek_bytes seek=5000 count=100000 conv=notrunc status=none || fail "buffered write into a hole failed"
dd if="$T_TMP/data" of="$ref" iflag=count_bytes oflag=seek_bytes seek=5000 count=100000 conv=notrunc status=none
# O_DIRECT writes into the hole.
dd if="$T_TMP/data" of="$mnt/f" bs=4096 count=64 seek=1024 oflag=direct conv=notrunc status=none || fail "O_DIRECT write into a hole failed"
dd if="$T_TMP/data" of="$ref" bs=4096 count=64 seek=1024 conv=notrunc status=none
# Appends: buffered, then O_DIRECT past EOF.
head -c 12345 "$T_TMP/data" >> "$mnt/f" || fail "append failed"
head -c 12345 "$T_TMP/data" >> "$ref"
size=$(stat -c %s "$ref")
dd if="$T_TMP/data" of="$mnt/f" bs=4096 count=10 seek=$(( (size + 8191) / 4096 )) oflag=direct conv=notrunc status=none || fail "O_DIRECT write past EOF failed"
dd if="$T_TMP/data" of="$ref" bs=4096 count=10 seek=$(( (size + 8191) / 4096 )) conv=notrunc status=none
expect_eq "size" "$(stat -c %s "$mnt/f")" "$(stat -c %s "$ref")"
sync
[ "$(fiemap "$mnt/f" | wc -l)" -ge 3 ] || fail "expected at least 3 extents after writes into holes, got: $(fiemap "$mnt/f" | tr '\n' ' ')"
check_on_device "$mnt/f" "$ref" "$dev"
drop_caches
cmp "$mnt/f" "$ref" || fail "after allocating writes, bytes differ (holes must read as zeros)"
stop_server "$mnt" "$SERVER_PID"
