#!/bin/bash
# Dirty page cache, then an O_DIRECT read of the same range through the
# simple read path: the read sees the dirty data, because the path writes
# the page cache back first (as iomap_dio_rw does), as on the kernel's ext4.
# For each of 8 ranges of a file: 8 KiB written through the page cache,
# by pwrite(2) or by stores into a shared mapping (no sync; the flusher
# finds nothing old enough to write, the fuse bdi's strict_limit is off),
# then two O_DIRECT 4 KiB reads of the range give the new bytes,
# simple_reads moves by exactly the reads, and the device now has the new
# bytes (the flush).  At least 6 of the 8 rounds must have had the old
# bytes on the device when the reads began (the pages still dirty).  The
# same on the kernel's ext4 gives the same bytes.
# Why fuse-iomap-blockfs with bpf/interleave (a striped file, as in
# bpf_interleave_matches) and not fuse-iomap-ext4 with extent_map: the
# flush's writeback BEGIN makes the library forget the file's extents, so
# with extent_map the read after the flush would find no BPF answer and
# go through iomap_dio_rw; interleave answers from a layout that no
# forget touches, so the simple path takes the read after its flush.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

ext4_load
make_dev 64
mnt=$T_TMP/mnt meta=$T_TMP/meta
S=4 CHUNK=16 BLOCKS=1024 STRIPE_LEN=1024
starts=(1024 3072 5120 7168)
python3 - "$meta" $S $CHUNK $BLOCKS "${starts[*]}" <<'PY'
import sys
meta, s, chunk, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
starts = list(map(int, sys.argv[5].split()))
with open(meta, "w") as f:
    f.write("B 4096\nN 1 40755 0 0 0 0 0\nN 2 100644 0 0 %d 0 0\n" % (blocks * 4096))
    f.write("D 1 2 %s\n" % b"striped".hex())
    for c in range(blocks // chunk):
        f.write("E 2 %d %d %d\n" % (c * chunk, starts[c % s] + (c // s) * chunk, chunk))
PY
for st in "${starts[@]}"; do
	dd if=/dev/urandom of="$dev" bs=4096 seek="$st" count=$STRIPE_LEN conv=notrunc status=none
done
sync
start_blockfs "$mnt" "$dev" --meta "$meta"
attach "$mnt" "$BUILD/bpf/interleave.bpf.o"
layouts=$("$BPFTOOL" map show | awk '$3 == "name" && $4 == "layouts" { sub(":", "", $1); print $1; exit }')
[ -n "$layouts" ] || fail "no layouts map"
nodeid=$(stat -c %i "$mnt/striped")
value=$(python3 - $S $CHUNK $BLOCKS "${starts[*]}" <<'PY'
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
expect_eq "simple_read knob" "$(cat "$(conn_dir "$mnt")/simple_read")" 1

# Only our reads write the page cache back: no expiry writeback, and
# not fuse's strict per-bdi dirty limit, which starts writeback at once.
bdi=/sys/class/bdi/$(mountpoint -d "$mnt")
if [ -w "$bdi/strict_limit" ]; then
	defer "echo $(cat "$bdi/strict_limit") > '$bdi/strict_limit'"
	echo 0 > "$bdi/strict_limit" || fail "can't write $bdi/strict_limit"
fi
# (The flusher wakes up anyway, dirty_writeback_centisecs after an inode
# is dirtied, at once if that is 0: it must find nothing old enough.)
ex=$(cat /proc/sys/vm/dirty_expire_centisecs)
defer "echo $ex > /proc/sys/vm/dirty_expire_centisecs"
echo 360000 > /proc/sys/vm/dirty_expire_centisecs

devblk() {	# FILE-BLOCK: its device block
	local c=$(($1 / CHUNK))
	echo $((starts[c % S] + c / S * CHUNK + $1 % CHUNK))
}

kimg=$T_TMP/k.img kern=$T_TMP/kern
mke2fs -q -F -t ext4 -b 4096 "$kimg" 64M || fail "mke2fs failed"
mkdir -p "$kern"
mount -o loop "$kimg" "$kern" || fail "kernel ext4 can't mount $kimg"
defer "umount '$kern' 2>/dev/null"
dd if="$mnt/striped" of="$kern/f" bs=1M status=none && sync || fail "can't copy the striped file to the kernel's ext4"

specs=()
for b in 5 15 100 333 500 700 900 1022; do
	specs+=("$b:$(devblk $b):$(devblk $((b + 1)))")
done
# The writes, reads and checks are in the helper: one process (TCG).
read -r reads dirty < <(python3 "$REPO/selftests/lib/simple_read_io.py" coherent "$mnt/striped" "$kern/f" "$dev" \
	"$(conn_dir "$mnt")" "${specs[@]}" 2> "$T_TMP/coherent.out") || true
[ -n "${dirty:-}" ] || fail "$(tail -n1 "$T_TMP/coherent.out")"
cat "$T_TMP/coherent.out" >&2
expect_eq "O_DIRECT reads" "$reads" 16
# A round whose pages were written back before the read proves nothing.
[ "$dirty" -ge 6 ] || fail "only $dirty of 8 rounds read over still-dirty pages (writeback got there first)"
log "$reads O_DIRECT reads through the simple path, $dirty of 8 rounds over still-dirty pages"
expect_eq "rejected BPF answers" "$(counter "$mnt" bpf_rejected)" 0
