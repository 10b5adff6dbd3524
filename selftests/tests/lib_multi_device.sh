#!/bin/bash
# A server (selftests/servers/stripe.c) registers two devices through the
# library and maps one file across both, 64 KiB pieces alternating.  Bytes
# written through the file (O_DIRECT and buffered) land on the right device
# at the right place, and bytes put on the devices read back through the
# file, O_DIRECT and buffered.
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
