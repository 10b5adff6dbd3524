#!/bin/bash
# Writes through a shared mmap (page_mkwrite), over allocated blocks and
# into holes, reach the device: after munmap and a cold cache the mount and
# the device at the FIEMAP addresses hold the new bytes.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
head -c $((1 << 20)) /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" || fail "writing $mnt/f failed"
truncate -s $((2 << 20)) "$mnt/f" "$T_TMP/ref"	# the second MiB is a hole
sync
python3 - "$mnt/f" "$T_TMP/ref" <<'PY' || fail "mmap write failed"
import mmap, os, sys
data = os.urandom(3 * 4096 + 100)
for path in sys.argv[1:]:
    with open(path, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        for off in (5000, 300000, (1 << 20) + 8192, (2 << 20) - len(data)):
            m[off:off + len(data)] = data
        m.flush()
        m.close()
PY
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after mmap writes, bytes differ"
[ "$(fiemap "$mnt/f" | awk '$1 >= 1048576' | wc -l)" -ge 1 ] || fail "mmap writes into the hole allocated nothing"
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
stop_server "$mnt" "$SERVER_PID"
