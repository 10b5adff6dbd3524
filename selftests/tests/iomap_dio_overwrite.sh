#!/bin/bash
# O_DIRECT overwrites of allocated blocks land in place: the mount (cold
# cache) and the device at the FIEMAP address hold the new bytes, and the
# file keeps its blocks.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c $((4 << 20)) /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" && sync || fail "writing $mnt/f failed"
fiemap "$mnt/f" > "$T_TMP/before"
head -c $((1 << 20)) /dev/urandom > "$T_TMP/new"
for at in 0 12288 1048576 3670016; do
	dd if="$T_TMP/new" of="$mnt/f" bs=4096 count=37 seek=$((at / 4096)) oflag=direct conv=notrunc status=none ||
		fail "O_DIRECT overwrite at $at failed"
	dd if="$T_TMP/new" of="$T_TMP/ref" bs=4096 count=37 seek=$((at / 4096)) conv=notrunc status=none
done
# 512-byte O_DIRECT write inside a block.
dd if="$T_TMP/new" of="$mnt/f" bs=512 count=1 seek=9 oflag=direct conv=notrunc status=none ||
	fail "512-byte O_DIRECT overwrite failed"
dd if="$T_TMP/new" of="$T_TMP/ref" bs=512 count=1 seek=9 conv=notrunc status=none
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after O_DIRECT overwrites, bytes differ"
fiemap "$mnt/f" > "$T_TMP/after"
cmp -s "$T_TMP/before" "$T_TMP/after" || fail "in-place overwrite moved blocks: $(tr '\n' ' ' < "$T_TMP/before") -> $(tr '\n' ' ' < "$T_TMP/after")"
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
stop_server "$mnt" "$SERVER_PID"
