#!/bin/bash
# Dirty page cache, then an O_DIRECT read of the same range through the
# simple read path: the read sees the dirty data, because the path writes
# the page cache back first (as iomap_dio_rw does), as on the kernel's ext4.
# For each of a few ranges of a file: a buffered 8 KiB write (no sync,
# periodic writeback off), the device still has the old bytes there, then
# two O_DIRECT 4 KiB reads of the range give the new bytes, simple_reads
# moves by exactly the reads, and the device now has the new bytes (the
# flush).  The same on the kernel's ext4 gives the same bytes.
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

# Only our reads write the page cache back.
wb=$(cat /proc/sys/vm/dirty_writeback_centisecs) ex=$(cat /proc/sys/vm/dirty_expire_centisecs)
defer "echo $wb > /proc/sys/vm/dirty_writeback_centisecs; echo $ex > /proc/sys/vm/dirty_expire_centisecs"
echo 0 > /proc/sys/vm/dirty_writeback_centisecs
echo 360000 > /proc/sys/vm/dirty_expire_centisecs

devblk() {	# FILE-BLOCK: its device block
	local c=$(($1 / CHUNK))
	echo $((starts[c % S] + c / S * CHUNK + $1 % CHUNK))
}
# dio_got FILE BLOCK: O_DIRECT read of the block, into $T_TMP/got.
dio_got() {
	dd if="$1" of="$T_TMP/got" bs=4096 skip="$2" count=1 iflag=direct status=none || fail "O_DIRECT read of $1 block $2 failed"
}

kimg=$T_TMP/k.img kern=$T_TMP/kern
mke2fs -q -F -t ext4 -b 4096 "$kimg" 64M || fail "mke2fs failed"
mkdir -p "$kern"
mount -o loop "$kimg" "$kern" || fail "kernel ext4 can't mount $kimg"
defer "umount '$kern' 2>/dev/null"
dd if="$mnt/striped" of="$kern/f" bs=1M status=none && sync || fail "can't copy the striped file to the kernel's ext4"

reads=0
for b in 5 15 100 333 700 1022; do
	head -c 8192 /dev/urandom > "$T_TMP/new"
	for f in "$mnt/striped" "$kern/f"; do
		dd if="$T_TMP/new" of="$f" bs=4096 seek="$b" count=2 conv=notrunc status=none ||
			fail "buffered write to $f at block $b failed"
	done
	for i in 0 1; do
		d=$(devblk $((b + i)))
		! cmp -s <(dd if="$T_TMP/new" bs=4096 skip=$i count=1 status=none) <(dev_bytes "$dev" $((d * 4096)) 4096) ||
			fail "block $((b + i)) was written back before the O_DIRECT read"
	done
	s0=$(counter "$mnt" simple_reads)
	for i in 0 1; do
		dio_got "$mnt/striped" $((b + i))
		cmp -s "$T_TMP/got" <(dd if="$T_TMP/new" bs=4096 skip=$i count=1 status=none) ||
			fail "block $((b + i)): the O_DIRECT read did not see the dirty page cache"
		cp "$T_TMP/got" "$T_TMP/ours.$i"
		dio_got "$kern/f" $((b + i))
		cmp -s "$T_TMP/got" "$T_TMP/ours.$i" || fail "block $((b + i)): the kernel's ext4 reads other bytes than ours"
		d=$(devblk $((b + i)))
		cmp -s "$T_TMP/ours.$i" <(dev_bytes "$dev" $((d * 4096)) 4096) ||
			fail "block $((b + i)): the device does not have the written bytes after the read (no flush?)"
	done
	expect_eq "block $b: simple_reads delta" $(($(counter "$mnt" simple_reads) - s0)) 2
	reads=$((reads + 2))
done
log "$reads O_DIRECT reads over dirty page cache, all through the simple path"
expect_eq "rejected BPF answers" "$(counter "$mnt" bpf_rejected)" 0
