#!/bin/bash
# extent_map with a file of a million extents: fuse-iomap-blockfs --bpf
# starts from a side file describing one file of 1,000,000 one-block
# extents (every other block), publishes them after the first read, and
# then 2,000 O_DIRECT reads at random places (extents and the holes between
# them) make no upcall and return what the device holds at the mapped
# block (a stamp per sampled block) or zeros.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

N=1000000
fi_load
make_dev $(((N + 64) * 4 / 1024 + 16))
mnt=$T_TMP/mnt meta=$T_TMP/meta
spaced_extents $N 4242 2000 0
[ "$(grep -c '^E ' "$meta")" = $N ] || fail "the side file does not hold $N extents"
start_blockfs "$mnt" "$dev" --bpf --meta "$meta"
dd if="$mnt/big" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
"$FISTORE" "$SERVER_PID" dump 2 > "$T_TMP/file" || fail "the file is not published"
read -r _ _ _ count _ < "$T_TMP/file"
expect_eq "published count" "$count" $N
bytes=$("$FISTORE" "$SERVER_PID" bytes) || fail "can't measure the store"
log "store: $bytes bytes resident for $N extents and the file table: $((bytes / N)) bytes per extent"
begins=$(counter "$mnt" iomap_begin_upcalls) hits=$(counter "$mnt" bpf_hits)
python3 - "$mnt/big" "$T_TMP/samples" <<'PY' || fail "reads through the BPF tier returned wrong bytes"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
bad = 0
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
expect_eq "FUSE_IOMAP_BEGIN upcalls for 4000 reads" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
[ "$(counter "$mnt" bpf_hits)" -ge $((hits + 4000)) ] || fail "only $(( $(counter "$mnt" bpf_hits) - hits )) BPF answers"
