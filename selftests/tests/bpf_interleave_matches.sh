#!/bin/bash
# interleave: a file striped famfs-style (4 stripes of one device, 16-block
# chunks, round robin) served by fuse-iomap-blockfs from its side file;
# the interleave program, given only the layout's numbers, answers every
# mapping with no upcall: FIEMAP equals the server's extents, O_DIRECT and
# buffered reads equal the device bytes at the striped places, and an
# overwrite lands where the formula says.  A file without a layout still
# goes to the server.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

fi_load
make_dev 64
mnt=$T_TMP/mnt meta=$T_TMP/meta
S=4 CHUNK=16 BLOCKS=1024 STRIPE_LEN=1024
starts="1024 3072 5120 7168"
python3 - "$meta" $S $CHUNK $BLOCKS "$starts" <<'PY'
import sys
meta, s, chunk, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
starts = list(map(int, sys.argv[5].split()))
with open(meta, "w") as f:
    f.write("B 4096\nN 1 40755 0 0 0 0 0\nN 2 100644 0 0 %d 0 0\nN 3 100644 0 0 8192 0 0\n" % (blocks * 4096))
    f.write("D 1 2 %s\nD 1 3 %s\n" % (b"striped".hex(), b"plain".hex()))
    for c in range(blocks // chunk):
        f.write("E 2 %d %d %d\n" % (c * chunk, starts[c % s] + (c // s) * chunk, chunk))
    f.write("E 3 0 100 2\n")
PY
for st in $starts; do
	dd if=/dev/urandom of="$dev" bs=4096 seek="$st" count=$STRIPE_LEN conv=notrunc status=none
done
sync
start_blockfs "$mnt" "$dev" --meta "$meta"
python3 "$FIEMAP_PY" merged "$mnt/striped" > "$T_TMP/fiemap.upcall" || fail "FIEMAP through the server failed"

attach "$mnt" "$BUILD/bpf/interleave.bpf.o"
layouts=$("$BPFTOOL" map show | awk '$3 == "name" && $4 == "layouts" { sub(":", "", $1); print $1; exit }')
nodeid=$(stat -c %i "$mnt/striped")
value=$(python3 - $S $CHUNK $BLOCKS "$starts" <<'PY'
import struct, sys
s, chunk, blocks = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
starts = list(map(int, sys.argv[4].split()))
v = struct.pack("<IIQ", s, chunk.bit_length() - 1, blocks)
for i in range(16):
    v += struct.pack("<QQII", starts[i] if i < s else 0, 1024 if i < s else 0, 1 if i < s else 0, 0)
print(" ".join(str(b) for b in v))
PY
)
"$BPFTOOL" map update id "$layouts" key $(python3 -c 'import struct, sys; print(" ".join(str(b) for b in struct.pack("<Q", int(sys.argv[1]))))' "$nodeid") value $value ||
	fail "can't set the layout"

begins=$(counter "$mnt" iomap_begin_upcalls)
echo 3 > /proc/sys/vm/drop_caches
python3 "$FIEMAP_PY" merged "$mnt/striped" > "$T_TMP/fiemap.bpf"
diff "$T_TMP/fiemap.upcall" "$T_TMP/fiemap.bpf" > /dev/null || fail "FIEMAP by BPF differs: $(diff "$T_TMP/fiemap.upcall" "$T_TMP/fiemap.bpf" | head -3 | tr '\n' ' ')"
python3 - "$dev" $S $CHUNK $BLOCKS "$starts" > "$T_TMP/want" <<'PY'
import sys
dev, s, chunk, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
starts = list(map(int, sys.argv[5].split()))
with open(dev, "rb") as d:
    for b in range(blocks):
        c = b // chunk
        d.seek((starts[c % s] + (c // s) * chunk + b % chunk) * 4096)
        sys.stdout.buffer.write(d.read(4096))
PY
dd if="$mnt/striped" of="$T_TMP/direct" bs=64k iflag=direct status=none
cmp -s "$T_TMP/direct" "$T_TMP/want" || fail "O_DIRECT read differs from the striped device bytes"
echo 3 > /proc/sys/vm/drop_caches
cmp -s "$mnt/striped" "$T_TMP/want" || fail "buffered read differs from the striped device bytes"
expect_eq "BEGIN upcalls for the striped file" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"

# Overwrite file block 100 (chunk 6: stripe 2, its chunk 1, block 4).
head -c 4096 /dev/urandom > "$T_TMP/new"
dd if="$T_TMP/new" of="$mnt/striped" bs=4096 seek=100 oflag=direct conv=notrunc status=none || fail "overwrite failed"
blockdev --flushbufs "$dev"
cmp -s "$T_TMP/new" <(dd if="$dev" bs=4096 skip=$((5120 + 16 + 4)) count=1 status=none) ||
	fail "the overwrite did not land at stripe 2, chunk 1, block 4"

cat "$mnt/plain" > /dev/null
[ "$(counter "$mnt" iomap_begin_upcalls)" -gt "$begins" ] || fail "a file without a layout did not reach the server"
