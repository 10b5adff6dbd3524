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
make_dev 8; dev0=$dev
make_dev 8; dev1=$dev
mnt=$T_TMP/mnt
chunk=65536 size=$((16 << 20))

start_server "$mnt" "$T_TMP/stripe.out" "$STRIPE" "$dev0" "$dev1" "$mnt"
grep -q "^cookies [0-9]* [0-9]* size $size$" "$T_TMP/stripe.out" || fail "server said: $(cat "$T_TMP/stripe.out")"
read -r _ c0 c1 _ < "$T_TMP/stripe.out"
[ "$c0" != "$c1" ] || fail "both devices got cookie $c0"

# piece_check FILE: piece i of FILE equals device (i % 2) at (i / 2) * chunk.
piece_check() {
	local i n=$((size / chunk)) d
	for ((i = 0; i < n; i++)); do
		d=$dev0; [ $((i % 2)) = 1 ] && d=$dev1
		cmp <(dd if="$1" bs=$chunk skip=$i count=1 status=none) \
		    <(dd if="$d" bs=$chunk skip=$((i / 2)) count=1 iflag=direct status=none) ||
			fail "$2: piece $i is not on $d at $((i / 2 * chunk))"
	done
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
