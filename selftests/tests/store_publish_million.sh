#!/bin/bash
# Publishing and changing a list of 1,000,000 extents: fuse-iomap-blockfs
# --bpf starts from a side file describing one file of 1,000,000 one-block
# extents (every other block); the first read publishes it, then a write
# into one of its holes changes it: blockfs reports the allocation and,
# when the queued ioend is applied, the conversion, each an UPDATE of the
# store's overlay.  The list is not published again (no PUBLISH line
# after the change) and the store's base still holds the 1,000,000, its
# overlay the new block.  The PUBLISH line gives the publish's time in the
# server's extents() and in the store, the UPDATE lines each change's:
# printed, never asserted.  Reads of 500
# sampled extents, their holes and the new block return what the device
# holds there (a stamp per block) or zeros, with no upcall after the
# change.  (blockfs, not ext4: an ext4 file of a million
# extents takes the kernel minutes to write in a test guest; the bytes
# are checked against the layout instead.)
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

N=1000000
fi_load
make_dev $(((N + 64) * 4 / 1024 + 16))
mnt=$T_TMP/mnt meta=$T_TMP/meta
spaced_extents $N 4243 500 1
start_blockfs "$mnt" "$dev" --bpf --meta "$meta"
dd if="$mnt/big" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
read -r _ _ n list_us store_us < <(grep '^PUBLISH 2 ' "$T_TMP/blockfs.log" | tail -n1)
expect_eq "extents in the first publish" "$n" $N
log "publish of $n extents: ${list_us} us in the server's extents(), ${store_us} us in the store"

# The change: one block into the hole at file block 1.
published=$(log_count PUBLISH)
python3 - "$mnt/big" <<'PY' || fail "the write into the hole failed"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf[:] = b"new block 1 ".ljust(4096, b".")
if os.pwritev(fd, [buf], 4096) != 4096:
    sys.exit("short write")
os.fsync(fd)
os.close(fd)
PY
dd if="$mnt/big" of=/dev/null bs=4096 count=1 skip=3 iflag=direct status=none || fail "read after the change failed"
expect_eq "PUBLISH lines after the change" "$(log_count PUBLISH)" "$published"
grep '^UPDATE 2 ' "$T_TMP/blockfs.log" > "$T_TMP/changes"
[ "$(grep -c ' forgot$' "$T_TMP/changes")" = 0 ] || fail "an update forgot the file: $(grep -m1 forgot "$T_TMP/changes")"
[ "$(wc -l < "$T_TMP/changes")" -ge 2 ] || fail "want the allocation and the conversion as updates, got: $(cat "$T_TMP/changes")"
while read -r _ _ lblk len n ns; do
	log "update of [$lblk, +$len) to $n extents: $ns ns"
done < "$T_TMP/changes"
"$FISTORE" "$SERVER_PID" dump 2 > "$T_TMP/file" || fail "the file is not in the store after the change"
read -r _ _ _ count _ < "$T_TMP/file"
expect_eq "base extents after the change" "$count" $N
grep -q '^over 1 1 [0-9]* [0-9]* 2$' "$T_TMP/file" || fail "the overlay does not map block 1 written: $(grep '^over' "$T_TMP/file" | head -3)"

begins=$(counter "$mnt" iomap_begin_upcalls) hits=$(counter "$mnt" bpf_hits)
python3 - "$mnt/big" "$T_TMP/samples" <<'PY' || fail "reads through the BPF tier returned wrong bytes"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
bad = 0
os.preadv(fd, [buf], 4096)
if bytes(buf) != b"new block 1 ".ljust(4096, b"."):
    print("block 1: %r" % bytes(buf[:24]), file=sys.stderr); bad += 1
for line in open(sys.argv[2]):
    i = int(line)
    os.preadv(fd, [buf], 2 * i * 4096)
    if bytes(buf[:32]) != (b"extent %d " % i).ljust(32, b"."):
        print("block %d: %r" % (2 * i, bytes(buf[:24])), file=sys.stderr); bad += 1
    got = os.preadv(fd, [buf], (2 * i + 1) * 4096)
    if got != 4096 or bytes(buf) != bytes(4096):
        print("hole %d: read %d bytes: %r" % (2 * i + 1, got, bytes(buf[:24])), file=sys.stderr); bad += 1
sys.exit(bad > 0)
PY
expect_eq "FUSE_IOMAP_BEGIN upcalls for 1001 reads after the change" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
[ "$(counter "$mnt" bpf_hits)" -ge $((hits + 1001)) ] || fail "only $(( $(counter "$mnt" bpf_hits) - hits )) BPF answers"
