#!/bin/bash
# Reading a file through a shared read-only mmap (page faults, fault-around)
# returns the bytes written.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c 3333333 /dev/urandom > "$T_TMP/ref"
dd if="$T_TMP/ref" of="$mnt/f" bs=1M oflag=direct status=none || fail "O_DIRECT write failed"
truncate -s 3333333 "$mnt/f"
drop_caches
python3 - "$mnt/f" > "$T_TMP/out" <<'PY' || fail "mmap read failed"
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    # Touch pages out of order: each fault maps through iomap.
    n = len(m)
    for off in range(n - 1, -1, -7 * 4096):
        m[off]
    sys.stdout.buffer.write(m[:])
PY
cmp "$T_TMP/out" "$T_TMP/ref" || fail "mmap read: bytes differ from what was written"
stop_server "$mnt" "$SERVER_PID"
