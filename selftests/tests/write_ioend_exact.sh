#!/bin/bash
# The kernel sends FUSE_IOMAP_IOEND only for what asked for one.
# fuse-iomap-ioendfail (test server) hands out a file of unwritten
# blocks, wants an ioend for those only, and counts any other ioend as
# unasked.  Every other block of the first 512 KiB is written and synced
# (converted); then all of it is written again and synced, so writeback
# meets written and unwritten blocks side by side, in one ioend chain.
# No ioend names a written block (fs/iomap may add a range to the open
# ioend or start another, and the flag that says "send an ioend" must
# follow the range, not mark the ioend before that choice), and the bytes
# read back right: without and with the BPF tier.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

IOENDFAIL=$BUILD/testsrv/fuse-iomap-ioendfail
mnt=$T_TMP/mnt K=4096 N=128

fi_load
make_dev 16
for mode in upcall bpf; do
	opt=()
	[ $mode = bpf ] || opt=(--no-bpf)
	start_server "$mnt" "$T_TMP/$mode.out" "$IOENDFAIL" "${opt[@]}" "$dev" "$mnt" "$T_TMP/noflag"
	python3 - "$mnt/f" $N > "$T_TMP/py.out" 2>&1 <<'PY' || fail "$mode: $(tail -n1 "$T_TMP/py.out")"
import os, sys
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR)
for b in range(0, n, 2):
    os.pwrite(fd, b"%c" % (0x41 + b % 26) * 4096, b * 4096)
os.fsync(fd)
data = b"".join(b"%c" % (0x61 + b % 26) * 4096 for b in range(n))
os.pwrite(fd, data, 0)
os.fsync(fd)
os.close(fd)
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
import mmap
buf = mmap.mmap(-1, len(data))
os.preadv(fd, [buf], 0)
if bytes(buf) != data:
    sys.exit("O_DIRECT bytes differ from what was written")
PY
	stop_server "$mnt" "$SERVER_PID"
	unasked=$(awk '/^ioends unasked:/ { print $3 }' "$T_TMP/$mode.out")
	[ -n "$unasked" ] || fail "$mode: the server printed no count: $(tail -n1 "$T_TMP/$mode.out")"
	[ "$unasked" = 0 ] ||
		fail "$mode: $unasked ioends the server did not ask for: $(grep -m3 'unasked ioend' "$T_TMP/$mode.out" | tr '\n' ' ')"
done
