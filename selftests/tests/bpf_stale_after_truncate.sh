#!/bin/bash
# fuse-iomap-ext4 --bpf writing: after truncate down (and up again), after
# rewriting a truncated file (new blocks), and after unlink and recreate
# (the inode number comes back), no read, O_DIRECT or buffered, returns
# old blocks; the BPF tier answered reads all along.  e2fsck -fn is clean.
# Then fuse-iomap-blockfs --out-of-place --bpf: every rewrite moves the
# blocks, and reads never see the old ones.  (Hole punching is supported
# by neither server.)
# TIMEOUT: 200
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

fi_load
modprobe loop
img=$T_TMP/img ours=$T_TMP/ours
mke2fs -q -F -t ext4 -b 4096 "$img" 64M || fail "mke2fs failed"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf "$img" "$ours"
for x in A B C D; do head -c $((1 << 20)) /dev/urandom > "$T_TMP/$x"; done
head -c $((1 << 20)) /dev/zero > "$T_TMP/zero"

# check FILE WANT WHAT: O_DIRECT and buffered reads (cold) equal WANT, twice
# (the second time answered by BPF).
check() {
	local i
	for i in 1 2; do
		echo 3 > /proc/sys/vm/drop_caches
		dd if="$1" of="$T_TMP/got" bs=64k iflag=direct status=none
		cmp -s "$T_TMP/got" "$2" || fail "$3: O_DIRECT read $i differs: $(cmp "$T_TMP/got" "$2" | head -1), chunks $(python3 "$REPO/selftests/lib/chunks.py" "$T_TMP/got" "$T_TMP"/{A,B,C,D,zero}); $(xfs_io -r -c 'fiemap -v' "$1" | tail -n +3 | head -3 | tr '\n' ' ')"
		echo 3 > /proc/sys/vm/drop_caches
		cmp -s "$1" "$2" || fail "$3: buffered read $i differs"
	done
}

cp "$T_TMP/A" "$ours/f" && sync
check "$ours/f" "$T_TMP/A" "first write"
hits=$(counter "$ours" bpf_hits)
[ "$hits" -gt 0 ] || fail "BPF answered no read"

truncate -s 0 "$ours/f" && truncate -s 1M "$ours/f"
check "$ours/f" "$T_TMP/zero" "truncate to 0 and back to 1 MiB"

dd if="$T_TMP/B" of="$ours/f" bs=64k conv=notrunc status=none && sync
check "$ours/f" "$T_TMP/B" "rewrite after truncate"

ino=$(stat -c %i "$ours/f")
rm "$ours/f"
cp "$T_TMP/C" "$ours/g" && sync
log "unlinked inode $ino, new file has inode $(stat -c %i "$ours/g")"
check "$ours/g" "$T_TMP/C" "unlink and recreate"

cp "$T_TMP/D" "$ours/h" && sync
check "$ours/h" "$T_TMP/D" "before partial truncate"
truncate -s 100000 "$ours/h" && truncate -s 1M "$ours/h"
{ head -c 100000 "$T_TMP/D"; head -c $(((1 << 20) - 100000)) /dev/zero; } > "$T_TMP/D2"
check "$ours/h" "$T_TMP/D2" "truncate to 100000 and back"

[ "$(counter "$ours" bpf_hits)" -gt "$hits" ] || fail "BPF stopped answering"
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 || fail "e2fsck -fn: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"

make_dev 64
bmnt=$T_TMP/bmnt
start_server "$bmnt" "$T_TMP/bfs.out" "$BLOCKFS" --out-of-place --bpf "$dev" "$bmnt"
cp "$T_TMP/A" "$bmnt/f" && sync
check "$bmnt/f" "$T_TMP/A" "out of place: first write"
dd if="$T_TMP/B" of="$bmnt/f" bs=64k conv=notrunc oflag=direct status=none || fail "O_DIRECT rewrite failed"
check "$bmnt/f" "$T_TMP/B" "out of place: O_DIRECT rewrite"
dd if="$T_TMP/C" of="$bmnt/f" bs=64k conv=notrunc status=none && sync
check "$bmnt/f" "$T_TMP/C" "out of place: buffered rewrite"
[ "$(counter "$bmnt" bpf_hits)" -gt 0 ] || fail "BPF answered no read on blockfs"
stop_server "$bmnt" "$SERVER_PID"
