#!/bin/bash
# fuse-iomap-ext4 initializes exactly the written blocks of uninitialized
# extents, splitting them anywhere in the tree: O_DIRECT and buffered
# writes at the start, the middle and the end of a fallocated 16 MiB
# file, then every other block of 3,200 in random order (middle splits,
# across leaf boundaries, until the tree has depth 2), then the gaps of
# a stretch of those (joins).  After an fsync and unmount: the tree has
# depth 2, e2fsck -fn is clean, the kernel's ext4 reads what was written
# and zeros elsewhere, and its FIEMAP equals ours after a remount.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
img=$T_TMP/img
mke2fs -q -F -t ext4 -b 4096 "$img" 128M || fail "mke2fs failed"
rw=$T_TMP/rw
start_server "$rw" "$T_TMP/ext4.out" "$EXT4SRV" -l "$T_TMP/ext4.log" "$img" "$rw"
fallocate -l $((16 << 20)) "$rw/f" || fail "fallocate failed"
truncate -s $((16 << 20)) "$T_TMP/ref"
ops=$(python3 -c 'import random
r = random.Random(5)
ops = ["d0+4096", "d%d+4096" % (4095 * 4096), "d%d+4096" % (2048 * 4096), "b%d+5000" % (256 * 4096 + 100)]
stride = [10 + 2 * i for i in range(1600)]
r.shuffle(stride)
ops += ["d%d+4096" % (b * 4096) for b in stride]
ops += ["d%d+4096" % (b * 4096) for b in range(11, 400, 2)]
ops += ["b%d+%d" % (3300 * 4096 + 10, 3 * 4096)]
print(" ".join(ops))')
python3 "$REPO/selftests/lib/ioend_io.py" "$rw/f" "$T_TMP/ref" "$T_TMP/written" $ops fsync \
	> "$T_TMP/io.out" 2>&1 || fail "writes: $(tail -n1 "$T_TMP/io.out")"
drop_caches
cmp "$rw/f" "$T_TMP/ref" || fail "the file reads differently from what was written"
check_unwritten_states "$rw/f" "$T_TMP/written"
stop_server "$rw" "$SERVER_PID"

depth=$(debugfs -R "ex /f" "$img" 2>/dev/null | awk 'NR == 2 { split($0, a, "/"); print a[2] + 0 }')
log "extent tree depth $depth, $(debugfs -R "ex /f" "$img" 2>/dev/null | grep -c ' - ') tree entries"
[ "${depth:-0}" -ge 2 ] || fail "the extent tree has depth ${depth:-?}, want 2: the test proves little"
ext4_fsck_clean "$img"
ext4_mount_both "$img"
cmp "$kern/f" "$T_TMP/ref" || fail "the kernel's ext4 reads the file differently"
python3 "$FIEMAP_PY" merged "$kern/f" > "$T_TMP/kern.merged"
python3 "$FIEMAP_PY" merged "$ours/f" > "$T_TMP/ours.merged"
diff "$T_TMP/kern.merged" "$T_TMP/ours.merged" > "$T_TMP/diff" ||
	fail "FIEMAP differs from the kernel's: $(grep '^[<>]' "$T_TMP/diff" | head -n3 | tr '\n' ' ')"
stop_server "$ours" "$SERVER_PID"
