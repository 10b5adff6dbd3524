#!/bin/bash
# FIEMAP with fm_extent_count = 0 reports as many extents as a full FIEMAP
# returns: for a file of one extent, a fragmented one, a sparse one, and one
# whose separately allocated extents merged because they were adjacent.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c $((1 << 20)) /dev/urandom > "$T_TMP/data"
cp "$T_TMP/data" "$mnt/one"
for i in $(seq 0 9); do
	dd if="$T_TMP/data" of="$mnt/frag" bs=4096 count=1 seek=$((2 * i)) conv=notrunc status=none
	dd if="$T_TMP/data" of="$mnt/other" bs=4096 count=1 seek=$i conv=notrunc status=none
done
truncate -s $((32 << 20)) "$mnt/sparse"
dd if="$T_TMP/data" of="$mnt/sparse" bs=4096 count=2 seek=3000 conv=notrunc status=none
# Ten single-block appends with nothing in between: the first preallocates
# 64 blocks (unwritten), the rest write into them, and the ten conversions
# merge into one written extent, followed by the unwritten rest.
for i in $(seq 0 9); do
	dd if="$T_TMP/data" of="$mnt/merged" bs=4096 count=1 seek=$i conv=notrunc status=none
done
sync
for f in one frag sparse merged; do
	count=$(python3 "$FIEMAP_PY" count "$mnt/$f") || fail "$f: count-only FIEMAP failed"
	full=$(python3 "$FIEMAP_PY" full "$mnt/$f" | tail -n +2 | wc -l)
	expect_eq "$f: count-only FIEMAP vs extents a full FIEMAP returned" "$count" "$full"
done
expect_eq "extents of the merged file" "$(python3 "$FIEMAP_PY" count "$mnt/merged")" 2
# FIEMAP_EXTENT_UNWRITTEN is 0x800: written first, then unwritten.
expect_eq "merged: FIEMAP of the written and the unwritten extent" \
	"$(python3 "$FIEMAP_PY" full "$mnt/merged" | tail -n +2 |
	   while read -r l _ n fl; do printf '%d %d %s;' "$l" "$n" "$(((fl & 0x800) ? 1 : 0))"; done)" \
	"0 40960 0;40960 221184 1;"
[ "$(python3 "$FIEMAP_PY" count "$mnt/frag")" -ge 10 ] || fail "frag is not fragmented"
stop_server "$mnt" "$SERVER_PID"
