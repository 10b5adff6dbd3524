#!/bin/bash
# xfs_io -c "fiemap -v" reports exactly the server's extent list (read back
# from the server's saved metadata), for a contiguous, a fragmented and a
# sparse file.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 64
mnt=$T_TMP/mnt meta=$T_TMP/meta
start_blockfs "$mnt" "$dev" --meta "$meta"
head -c $((1 << 20)) /dev/urandom > "$T_TMP/data"
cp "$T_TMP/data" "$mnt/contig"
# Interleaved appends fragment both files.
for i in $(seq 0 15); do
	dd if="$T_TMP/data" of="$mnt/frag1" bs=8192 count=1 seek=$i conv=notrunc status=none
	dd if="$T_TMP/data" of="$mnt/frag2" bs=4096 count=1 seek=$i conv=notrunc status=none
done
truncate -s $((64 << 20)) "$mnt/sparse"
for at in 1 100 5000 16000; do
	dd if="$T_TMP/data" of="$mnt/sparse" bs=4096 count=3 seek=$at conv=notrunc status=none
done
sync
for f in contig frag1 frag2 sparse; do
	fiemap "$mnt/$f" > "$T_TMP/$f.fiemap"
	echo "$(stat -c %i "$mnt/$f") $f" >> "$T_TMP/inos"
done
stop_server "$mnt" "$SERVER_PID"

while read -r ino f; do
	awk -v i="$ino" '$1 == "E" && $2 == i { print $3 * 4096, $4 * 4096, $5 * 4096 }' "$meta" > "$T_TMP/$f.server"
	[ -s "$T_TMP/$f.server" ] || fail "$f: the server lists no extents"
	cmp -s "$T_TMP/$f.fiemap" "$T_TMP/$f.server" ||
		fail "$f: FIEMAP [$(tr '\n' ';' < "$T_TMP/$f.fiemap")] != server [$(tr '\n' ';' < "$T_TMP/$f.server")]"
done < "$T_TMP/inos"
[ "$(wc -l < "$T_TMP/frag1.server")" -gt 1 ] || fail "frag1 is not fragmented: the test proves nothing"
