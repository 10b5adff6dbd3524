#!/bin/bash
# A server (selftests/servers/stripe.c) registers two devices through the
# library and maps one file across both, 64 KiB pieces alternating.  Bytes
# written through the file (O_DIRECT and buffered) land on the right device
# at the right place, and bytes put on the devices read back through the
# file, O_DIRECT and buffered.  With --ioend, ioends of pieces on two
# devices whose sectors follow on are never merged into one.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

STRIPE=$BUILD/testsrv/fuse-iomap-stripe
fi_load
make_dev 4; dev0=$dev
make_dev 4; dev1=$dev
mnt=$T_TMP/mnt
chunk=65536 size=$((8 << 20))

start_server "$mnt" "$T_TMP/stripe.out" "$STRIPE" "$dev0" "$dev1" "$mnt"
grep -q "^cookies [0-9]* [0-9]* size $size$" "$T_TMP/stripe.out" || fail "server said: $(cat "$T_TMP/stripe.out")"
read -r _ c0 c1 _ < "$T_TMP/stripe.out"
[ "$c0" != "$c1" ] || fail "both devices got cookie $c0"

# piece_check FILE WHAT: piece i of FILE equals device (i % 2) at (i / 2) * chunk.
piece_check() {
	python3 - "$1" "$dev0" "$dev1" $chunk $size <<'PY' > "$T_TMP/check.out" 2>&1 || fail "$2: $(cat "$T_TMP/check.out")"
import mmap, os, sys
path, devs, chunk, size = sys.argv[1], sys.argv[2:4], int(sys.argv[4]), int(sys.argv[5])
data = open(path, "rb").read()
# O_DIRECT: the devices' own page cache may hold older bytes.
fds = [os.open(d, os.O_RDONLY | os.O_DIRECT) for d in devs]
buf = mmap.mmap(-1, chunk)
for i in range(size // chunk):
    d = i % 2
    if os.preadv(fds[d], [buf], i // 2 * chunk) != chunk or buf[:] != data[i * chunk:(i + 1) * chunk]:
        sys.exit(f"piece {i} is not on {devs[d]} at {i // 2 * chunk}")
PY
}

head -c $size /dev/urandom > "$T_TMP/a"
dd if="$T_TMP/a" of="$mnt/f" bs=1M oflag=direct conv=notrunc status=none || fail "O_DIRECT write failed"
piece_check "$T_TMP/a" "O_DIRECT write"
cmp "$T_TMP/a" <(dd if="$mnt/f" bs=1M iflag=direct status=none) || fail "O_DIRECT read-back differs"

head -c $size /dev/urandom > "$T_TMP/b"
dd if="$T_TMP/b" of="$mnt/f" bs=1M conv=notrunc,fsync status=none || fail "buffered write failed"
piece_check "$T_TMP/b" "buffered write"

# Straight onto the devices, then through the file with cold caches.
head -c $((size / 2)) /dev/urandom > "$T_TMP/d0"
head -c $((size / 2)) /dev/urandom > "$T_TMP/d1"
dd if="$T_TMP/d0" of="$dev0" bs=1M oflag=direct status=none
dd if="$T_TMP/d1" of="$dev1" bs=1M oflag=direct status=none
drop_caches
dd if="$mnt/f" of="$T_TMP/c" bs=1M iflag=direct status=none || fail "O_DIRECT read failed"
piece_check "$T_TMP/c" "O_DIRECT read"
drop_caches
cp "$mnt/f" "$T_TMP/e" || fail "buffered read failed"
cmp "$T_TMP/c" "$T_TMP/e" || fail "buffered and O_DIRECT reads differ"
stop_server "$mnt" "$SERVER_PID"

# --ioend: piece i on device i % 2 at i * chunk, unwritten until its ioend.
# Pieces next to each other in the file are then next to each other in
# sector numbers too, on two devices; each piece pair is written back by
# two writeback starts (the second piece first), whose ioends complete
# together.  No ioend may cover two devices' blocks (fs/iomap merges by
# sector, not device): the server checks each one's device cookie.
start_server "$mnt" "$T_TMP/stripe-ioend.out" "$STRIPE" --ioend "$dev0" "$dev1" "$mnt"
isize=$(awk '/^cookies/ { print $5 }' "$T_TMP/stripe-ioend.out")
expect_eq "--ioend size" "$isize" $((size / 2))
head -c $isize /dev/urandom > "$T_TMP/g"
python3 - "$mnt/f" "$T_TMP/g" $chunk > "$T_TMP/py.out" 2>&1 <<'PY' || fail "--ioend writes: $(tail -n1 "$T_TMP/py.out")"
import ctypes, os, sys
path, data, chunk = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
SYNC_FILE_RANGE_WRITE = 2
fd = os.open(path, os.O_RDWR)
for p in range(0, len(data) // chunk, 2):
    os.pwrite(fd, data[p * chunk:(p + 2) * chunk], p * chunk)
    for q in (p + 1, p):
        if libc.sync_file_range(fd, q * chunk, chunk, SYNC_FILE_RANGE_WRITE):
            sys.exit(f"sync_file_range: {os.strerror(ctypes.get_errno())}")
os.fsync(fd)
os.close(fd)
PY
python3 - "$T_TMP/g" "$dev0" "$dev1" $chunk <<'PY' > "$T_TMP/check.out" 2>&1 || fail "--ioend: $(cat "$T_TMP/check.out")"
import mmap, os, sys
data, devs, chunk = open(sys.argv[1], "rb").read(), sys.argv[2:4], int(sys.argv[4])
fds = [os.open(d, os.O_RDONLY | os.O_DIRECT) for d in devs]
buf = mmap.mmap(-1, chunk)
for i in range(len(data) // chunk):
    if os.preadv(fds[i % 2], [buf], i * chunk) != chunk or buf[:] != data[i * chunk:(i + 1) * chunk]:
        sys.exit(f"piece {i} is not on {devs[i % 2]} at {i * chunk}")
PY
drop_caches
cmp "$T_TMP/g" "$mnt/f" || fail "--ioend: the file reads differently after its ioends"
stop_server "$mnt" "$SERVER_PID"
read -r _ ioends _ wrong < <(grep '^ioends' "$T_TMP/stripe-ioend.out")
log "--ioend: $ioends ioends, $wrong naming the wrong device"
[ "${ioends:-0}" -gt 0 ] || fail "--ioend: no ioend reached the server"
[ "$wrong" = 0 ] || fail "--ioend: $wrong ioends named a device that does not hold all their blocks: $(grep -m2 'names device' "$T_TMP/stripe-ioend.out" | tr '\n' ' ')"
