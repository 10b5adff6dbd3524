#!/bin/bash
# With an out-of-place server every overwrite goes to new blocks: after
# buffered and O_DIRECT overwrites, FIEMAP reports new addresses, the device
# holds the new bytes there, and the mount (cold cache) reads them.  The
# new blocks replace the old ones only at ioend: before writeback, a
# FIEMAP that does not sync still reports the old addresses.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup --out-of-place
head -c $((1 << 20)) /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" && sync || fail "writing $mnt/f failed"
fiemap "$mnt/f" > "$T_TMP/before"
head -c 65536 /dev/urandom > "$T_TMP/new"

# Buffered, partial blocks at both ends: the old bytes around must survive.
# Before the file is closed (fuse's flush writes back) and unless the
# server saw an IOEND, FIEMAP without FIEMAP_FLAG_SYNC shows the old blocks.
ioends=$(log_count IOEND)
python3 - "$mnt/f" "$T_TMP/new" "$REPO/selftests/lib" "$T_TMP/blockfs.log" > "$T_TMP/unsynced" <<'EOF' ||
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[3])
from fiemap import fiemap_fd
fd = os.open(sys.argv[1], os.O_WRONLY)
if os.pwrite(fd, open(sys.argv[2], "rb").read()[:30000], 10000) != 30000:
    sys.exit("short write")
n = fiemap_fd(fd, 0, 0)[0]
for log, phys, length, flags in fiemap_fd(fd, n + 16, 0)[1]:
    print(log, phys, length)
print("ioends", sum(1 for line in open(sys.argv[4]) if line.startswith("IOEND ")))
os.close(fd)
EOF
	fail "buffered overwrite failed"
dd if="$T_TMP/new" of="$T_TMP/ref" iflag=count_bytes oflag=seek_bytes seek=10000 count=30000 conv=notrunc status=none
if [ "$(awk '$1 == "ioends" { print $2 }' "$T_TMP/unsynced")" = "$ioends" ]; then
	grep -v '^ioends' "$T_TMP/unsynced" | cmp -s "$T_TMP/before" - ||
		fail "before writeback the file maps new blocks already: $(grep -v '^ioends' "$T_TMP/unsynced" | diff "$T_TMP/before" - | tr '\n' ' ')"
else
	log "writeback ran before the unsynced FIEMAP: not checked"
fi
# O_DIRECT, whole blocks.
dd if="$T_TMP/new" of="$mnt/f" bs=4096 count=16 seek=128 oflag=direct conv=notrunc status=none || fail "O_DIRECT overwrite failed"
dd if="$T_TMP/new" of="$T_TMP/ref" bs=4096 count=16 seek=128 conv=notrunc status=none
# O_DIRECT, part of a block: the server asks for the buffered fallback.
dd if="$T_TMP/new" of="$mnt/f" bs=512 count=3 seek=2001 oflag=direct conv=notrunc status=none || fail "512-byte O_DIRECT overwrite failed"
dd if="$T_TMP/new" of="$T_TMP/ref" bs=512 count=3 seek=2001 conv=notrunc status=none
sync
fiemap "$mnt/f" > "$T_TMP/after"

# Which blocks moved: file block -> device block, before and after.
blockmap() { awk '{ for (i = 0; i < $3 / 4096; i++) print $1 / 4096 + i, $2 / 4096 + i }' "$1"; }
join <(blockmap "$T_TMP/before" | sort) <(blockmap "$T_TMP/after" | sort) > "$T_TMP/moves"
for b in 2 9 128 143 250; do
	line=$(awk -v b=$b '$1 == b' "$T_TMP/moves")
	set -- $line
	[ $# = 3 ] || fail "file block $b missing from FIEMAP"
	[ "$2" != "$3" ] || fail "overwritten file block $b stayed at device block $2"
done
set -- $(awk '$1 == 100' "$T_TMP/moves")
[ "$2" = "$3" ] || fail "file block 100 was not written but moved from $2 to $3"
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after out-of-place overwrites, bytes differ"
stop_server "$mnt" "$SERVER_PID"
