#!/bin/bash
# fuse-iomap-blockfs --stripe 3:64K --bpf --meta over three devices: a
# 6 MiB file written buffered and 1 MiB more appended O_DIRECT.  The
# side file's extents (the layout) put file chunk c on device c % 3 and
# no extent across a chunk; the bytes the three devices hold at those
# extents, read from the devices and assembled by the layout, equal what
# was written.  After one warm-up read (the library publishes the
# extents, each naming its device's cookie), cold O_DIRECT and buffered
# reads of the whole file and 64 O_DIRECT overwrites make no
# FUSE_IOMAP_BEGIN upcall, and the overwrites land on the devices where
# the layout says.  The file reads back after a remount; a server given
# two of the three devices refuses the side file, and bad --stripe
# arguments are refused with a message.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
devs=()
for i in 0 1 2; do
	make_dev 32
	devs+=("$dev")
done
mnt=$T_TMP/mnt meta=$T_TMP/meta
mkdir -p "$mnt"

bad() {
	local want=$1 rc=0
	shift
	"$BLOCKFS" "$@" > "$T_TMP/bad.out" 2>&1 || rc=$?
	[ $rc = 2 ] || fail "blockfs $* exited $rc, want 2 (usage)"
	grep -q "$want" "$T_TMP/bad.out" || fail "blockfs $*: want '$want', said: $(cat "$T_TMP/bad.out")"
	! is_mounted "$mnt" || fail "blockfs $* mounted $mnt"
}
bad "bad --stripe" --stripe 1:64K "${devs[0]}" "$mnt"
bad "bad --stripe" --stripe 3:0 "${devs[@]}" "$mnt"
bad "not a multiple of the block size" --stripe 3:1000 "${devs[@]}" "$mnt"
bad "expected 3 DEVICEs" --stripe 3:64K "${devs[0]}" "${devs[1]}" "$mnt"
bad "out-of-place" --stripe 3:64K --out-of-place "${devs[@]}" "$mnt"

start_server "$mnt" "$T_TMP/blockfs.out" "$BLOCKFS" -l "$T_TMP/blockfs.log" --stripe 3:64K --bpf \
	--meta "$meta" "${devs[@]}" "$mnt"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
head -c $((7 << 20)) /dev/urandom > "$T_TMP/ref"
dd if="$T_TMP/ref" of="$mnt/f" bs=1M count=6 status=none || fail "buffered write failed"
dd if="$T_TMP/ref" of="$mnt/f" bs=1M skip=6 seek=6 count=1 oflag=direct conv=notrunc,fsync status=none ||
	fail "O_DIRECT append failed"
sync

# layout_check WHEN: the side file's extents (of its one file) against
# the striping, and the file's bytes assembled from the devices by them against $T_TMP/ref.
layout_check() {
	python3 - "$meta" "$T_TMP/ref" "${devs[@]}" <<'PY' || fail "$1"
import sys
meta, ref, devs = sys.argv[1], sys.argv[2], sys.argv[3:]
bs, chunk = 4096, 16
want = open(ref, "rb").read()
got = bytearray(len(want))
covered = 0
for line in open(meta):
    f = line.split()
    if f[0] != "E":
        continue
    if len(f) != 7:
        sys.exit("extent line without a device: %r" % line)
    lblk, pblk, n, unw, dev = map(int, f[2:])
    if lblk // chunk != (lblk + n - 1) // chunk:
        sys.exit("extent %r crosses a chunk" % line)
    if dev != lblk // chunk % len(devs):
        sys.exit("chunk %d is on device %d, want %d" % (lblk // chunk, dev, lblk // chunk % len(devs)))
    if unw:
        sys.exit("extent %r still unwritten after sync" % line)
    with open(devs[dev], "rb") as d:
        d.seek(pblk * bs)
        got[lblk * bs:(lblk + n) * bs] = d.read(n * bs)[:max(0, len(want) - lblk * bs)]
    covered += n
if covered != len(want) // bs:
    sys.exit("the extents cover %d blocks, the file has %d" % (covered, len(want) // bs))
if bytes(got) != want:
    bad = next(i for i in range(len(want)) if got[i] != want[i])
    sys.exit("the devices, read by the layout, differ from the file at byte %d" % bad)
print("layout: %d blocks on %d devices" % (covered, len(devs)))
PY
}
for d in "${devs[@]}"; do blockdev --flushbufs "$d"; done
layout_check "after writing"

drop_caches
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
begins=$(counter "$mnt" iomap_begin_upcalls) hits=$(counter "$mnt" bpf_hits)
drop_caches
cmp <(dd if="$mnt/f" bs=1M iflag=direct status=none) "$T_TMP/ref" || fail "O_DIRECT read differs"
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "buffered read differs"
python3 - "$mnt/f" "$T_TMP/ref" <<'PY' || fail "overwrites failed"
import mmap, os, random, sys
path, ref = sys.argv[1:3]
rnd = random.Random(31)
buf = mmap.mmap(-1, 4096)
fd, fr = os.open(path, os.O_WRONLY | os.O_DIRECT), os.open(ref, os.O_WRONLY)
for _ in range(64):
    off = rnd.randrange(os.path.getsize(ref) // 4096) * 4096
    buf[:] = os.urandom(4096)
    if os.pwrite(fd, buf, off) != 4096:
        sys.exit("short overwrite at %d" % off)
    os.pwrite(fr, buf, off)
os.close(fd), os.close(fr)
PY
expect_eq "FUSE_IOMAP_BEGIN upcalls for warm reads and overwrites" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
[ "$(counter "$mnt" bpf_hits)" -gt $((hits + 100)) ] || fail "only $(( $(counter "$mnt" bpf_hits) - hits )) BPF answers"
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
stop_server "$mnt" "$SERVER_PID"
for d in "${devs[@]}"; do blockdev --flushbufs "$d"; done
layout_check "after the overwrites"

start_server "$mnt" "$T_TMP/blockfs.out" "$BLOCKFS" --stripe 3:64K --bpf --meta "$meta" "${devs[@]}" "$mnt"
cmp "$mnt/f" "$T_TMP/ref" || fail "after a remount, the bytes differ"
stop_server "$mnt" "$SERVER_PID"

rc=0
"$BLOCKFS" --stripe 2:64K --meta "$meta" "${devs[0]}" "${devs[1]}" "$mnt" > "$T_TMP/two.out" 2>&1 || rc=$?
[ $rc != 0 ] || fail "a server with two of the three devices served the side file"
grep -q "can't load $meta" "$T_TMP/two.out" || fail "two devices: said $(cat "$T_TMP/two.out")"
! is_mounted "$mnt" || fail "two devices: $mnt is mounted"
