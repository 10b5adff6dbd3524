#!/bin/bash
# An O_DIRECT write that falls back to the page cache (the server answers
# ENOTBLK) and whose writeback then fails (the writeback mapping is
# refused) leaves write(2)'s return value, the file position and i_size in
# agreement, and no byte it did not count in the file: inside the file,
# partly direct, and extending it.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 8
mnt=$T_TMP/mnt
head -c $((1 << 20)) /dev/urandom > "$T_TMP/old"
dd if="$T_TMP/old" of="$dev" bs=1M conv=fsync status=none

# case NAME FALLBACK_FROM POS LEN WANT_RET: serve $dev as a 1 MiB file whose
# O_DIRECT writes fall back from FALLBACK_FROM and whose writeback is
# refused (dev_range), write LEN bytes at POS, check the outcome.
case_() {
	local name=$1 from=$2 pos=$3 len=$4 want=$5
	start_server "$mnt" "$T_TMP/$name.out" "$CRAFT" --read "mapped,0,2097152,0,reg" \
		--direct-fallback "$from" --writeback "mapped,0,0x100000000000,0,reg" "$dev" "$mnt"
	python3 - "$mnt/f" "$T_TMP/old" "$pos" "$len" "$want" > "$T_TMP/$name.py" 2>&1 <<'PY' ||
import mmap, os, sys
path, oldpath, pos, length, want = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
old = open(oldpath, "rb").read()
size0 = os.stat(path).st_size
buf = mmap.mmap(-1, length)
buf.write(os.urandom(length))
fd = os.open(path, os.O_RDWR | os.O_DIRECT)
os.lseek(fd, pos, os.SEEK_SET)
try:
    ret = os.write(fd, buf)
except OSError as e:
    ret = -e.errno
at = os.lseek(fd, 0, os.SEEK_CUR)
size = os.fstat(fd).st_size
os.close(fd)
done = max(ret, 0)
print(f"write({length} at {pos}) = {ret}, position {at}, size {size} (was {size0})")
if ret != want:
    sys.exit(f"write(2) returned {ret}, want {want}")
if at != pos + done:
    sys.exit(f"file position {at} after write(2) returned {ret} at {pos}: want {pos + done}")
if size != max(size0, pos + done):
    sys.exit(f"i_size {size} after write(2) returned {ret} at {pos} (size was {size0}): want {max(size0, pos + done)}")
with open(path, "rb") as f:
    got = f.read()
if len(got) != size:
    sys.exit(f"read {len(got)} bytes of a {size}-byte file")
# What write(2) did not count is what was there before.
if got[pos + done:] != old[pos + done:size]:
    sys.exit(f"bytes past what write(2) counted ({pos + done}..{size}) are not the old ones")
if got[pos:pos + done] != bytes(buf[:done]):
    sys.exit(f"the {done} bytes write(2) counted are not the ones written")
PY
		fail "$name: $(tail -n1 "$T_TMP/$name.py")"
	log "$name: $(head -n1 "$T_TMP/$name.py")"
	[ "$(counter "$mnt" rejected/dev_range)" -gt 0 ] || fail "$name: writeback was never refused"
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
	wait_for 30 eval "! kill -0 $SERVER_PID 2>/dev/null" || fail "$name: server still running"
}

# All buffered: write(2) fails with EIO and nothing moves.
case_ inside 0 65536 65536 -5
# 32 KiB direct, then the buffered rest fails: write(2) counts 32 KiB.
case_ partly_direct 98304 65536 65536 32768
# Extending, all buffered: i_size stays where it was.
case_ extending 0 1048576 65536 -5
