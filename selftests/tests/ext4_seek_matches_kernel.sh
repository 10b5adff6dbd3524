#!/bin/bash
# The SEEK_DATA/SEEK_HOLE walk of every file of an ext4 image through
# fuse-iomap-ext4 equals the kernel ext4 driver's.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
ext4_make_image "$T_TMP/img"
ext4_mount_both "$T_TMP/img"
ext4_each_file "$kern" seek > "$T_TMP/kern.seek"
ext4_each_file "$ours" seek > "$T_TMP/ours.seek"
[ "$(grep -c '^# ' "$T_TMP/kern.seek")" -ge 8 ] || fail "too few files compared"
diff "$T_TMP/kern.seek" "$T_TMP/ours.seek" > "$T_TMP/diff" ||
	fail "seek walk differs from the kernel's: $(grep '^[<>#]' "$T_TMP/diff" | head -3 | tr '\n' ' ')"
[ "$(awk '/^# / { f = $2; next } f == "./large_sparse"' "$T_TMP/ours.seek" | wc -l)" -ge 4 ] ||
	fail "large_sparse has too few data segments"
stop_server "$ours" "$SERVER_PID"
