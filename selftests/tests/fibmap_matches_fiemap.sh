#!/bin/bash
# FIBMAP (bmap) on iomap files: for every regular file of the test image
# (contiguous, fragmented, sparse, partly unwritten), served by
# fuse-iomap-ext4 read-only without and with --bpf, FIBMAP of each block
# (all of the first 2048, then every 97th) equals the kernel's ext4 on the
# same image, and equals FIEMAP: the device block inside written extents,
# 0 in holes and in unwritten extents (as ext4 answers).
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# fibmap ROOT: "path block answer" lines for every regular file under ROOT,
# then a line "fiemap-mismatch N" counting blocks whose answer differs
# from what FIEMAP says.
fibmap() {
	python3 - "$1" "$REPO/selftests/lib" <<'PY'
import fcntl, os, struct, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2])
from fiemap import fiemap, FIEMAP_EXTENT_UNWRITTEN
FIBMAP, BLK = 1, 4096
root, bad = sys.argv[1], 0
for dirpath, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)
        if os.path.islink(path):
            continue
        nblocks = (os.path.getsize(path) + BLK - 1) // BLK
        want = {}
        for log, phys, length, flags in fiemap(path, fiemap(path, 0)[0] + 16)[1]:
            for i in range(length // BLK):
                want[log // BLK + i] = 0 if flags & FIEMAP_EXTENT_UNWRITTEN else phys // BLK + i
        blocks = list(range(min(nblocks, 2048))) + list(range(2048, nblocks, 97))
        with open(path, "rb") as f:
            for b in blocks:
                got = struct.unpack("i", fcntl.ioctl(f.fileno(), FIBMAP, struct.pack("i", b)))[0]
                print(rel, b, got)
                if got != want.get(b, 0):
                    bad += 1
                    if bad <= 3:
                        print(f"# {rel} block {b}: FIBMAP {got}, FIEMAP {want.get(b, 0)}", file=sys.stderr)
print("fiemap-mismatch", bad)
PY
}

ext4_load
ext4_make_image "$T_TMP/img"
ext4_mount_both "$T_TMP/img"
fibmap "$kern" > "$T_TMP/kern.fibmap" 2> "$T_TMP/kern.err" || fail "FIBMAP on the kernel's ext4 failed: $(tail -n1 "$T_TMP/kern.err")"
expect_eq "FIBMAP against FIEMAP on the kernel's ext4" "$(tail -n1 "$T_TMP/kern.fibmap")" "fiemap-mismatch 0"
grep -q ' [1-9][0-9]*$' "$T_TMP/kern.fibmap" || fail "no FIBMAP answer was a block"
for mode in upcall bpf; do
	if [ $mode = bpf ]; then
		stop_server "$ours" "$SERVER_PID"
		start_server "$ours" "$T_TMP/ext4-bpf.out" "$EXT4SRV" -r --bpf "$T_TMP/img" "$ours"
	fi
	fibmap "$ours" > "$T_TMP/$mode.fibmap" 2> "$T_TMP/$mode.err" ||
		fail "$mode: FIBMAP failed: $(tail -n1 "$T_TMP/$mode.err")"
	diff "$T_TMP/kern.fibmap" "$T_TMP/$mode.fibmap" > "$T_TMP/diff" ||
		fail "$mode: FIBMAP differs from the kernel's ext4 (< kernel, > ours): $(grep '^[<>]' "$T_TMP/diff" | head -n4 | tr '\n' ' ')"
done
log "$(grep -c . "$T_TMP/kern.fibmap") blocks asked, $(grep -c ' 0$' "$T_TMP/kern.fibmap") answered 0"
stop_server "$ours" "$SERVER_PID"
