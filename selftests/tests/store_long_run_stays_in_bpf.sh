#!/bin/bash
# A long run stays in BPF: 20,000 random 4 KiB O_DIRECT writes (200,000
# with STRESS_LONG=1, make check-long) into a fallocated 64 MiB file on
# fuse-iomap-ext4 --bpf, each converted as it lands (extent_map's ioend
# marks the range and queues it; the server applies the queue when it is
# next asked).  The share of ioends BPF handled in the last 5% of the
# writes is at least the share in the first 5%, less one point for the
# drains that fall at random; the store's resident memory at the end is
# bounded by the file's list (4 x 40 bytes per extent, plus 1 MiB for the
# table and the root); the bytes are right and e2fsck is clean.  Before
# the store, every ioend left one `written` entry per block that nothing
# removed, and once its million entries were used every ioend went to
# the server.
# TIMEOUT: 600
# TIMEOUT_LONG: 2400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

WRITES=20000
[ "${STRESS_LONG:-0}" != 1 ] || WRITES=200000
ext4_beside_kernel 512M --bpf --log "$T_TMP/ext4.log"
mnt=$T_TMP/mnt
need_counters "$mnt" bpf_ioend_handled bpf_ioend_fallbacks
fallocate -l $((64 << 20)) "$mnt/f" || fail "fallocate failed"
sync
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
ino=$(stat -c %i "$mnt/f")

python3 - "$mnt/f" "$T_TMP/written.ref" "$(conn_dir "$mnt")" $WRITES "$FISTORE" "$SERVER_PID" "$ino" \
	> "$T_TMP/run" <<'PY' || fail "the writes failed"
import mmap, os, random, subprocess, sys
path, ref, conn, n, tool, pid, ino = sys.argv[1:8]
n = int(n)
win = n // 20
def counters():
    return [int(open(os.path.join(conn, c)).read()) for c in ("bpf_ioend_handled", "bpf_ioend_fallbacks")]
def store_bytes():
    return int(subprocess.run([tool, pid, "bytes"], check=True, capture_output=True, text=True).stdout)
r = random.Random(200000)
blocks = 16384
data = {}
buf = mmap.mmap(-1, 4096)
fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
marks = {0: counters()}
for i in range(n):
    if i in (win, n - win):
        marks[i] = counters()
    if i == n // 2:
        mid = store_bytes()
    b = r.randrange(blocks)
    stamp = (b"%d/%d " % (b, i)).ljust(64, b".")
    buf[:64] = stamp
    if os.pwrite(fd, buf, b * 4096) != 4096:
        sys.exit("short write at block %d" % b)
    data[b] = stamp
marks[n] = counters()
os.close(fd)
with open(ref, "w") as f:
    f.writelines("%d %s\n" % (b, s.decode()) for b, s in sorted(data.items()))
def share(a, b):
    h, f = marks[b][0] - marks[a][0], marks[b][1] - marks[a][1]
    return h / max(h + f, 1), h, f
for name, a, b in (("first", 0, win), ("last", n - win, n)):
    s, h, f = share(a, b)
    print(name, "%.4f" % s, h, f)
print("bytes", mid, store_bytes())
PY
read -r _ first h1 f1 < <(grep '^first ' "$T_TMP/run")
read -r _ last h2 f2 < <(grep '^last ' "$T_TMP/run")
read -r _ mid end < <(grep '^bytes ' "$T_TMP/run")
log "ioends BPF handled: first 5% $first ($h1 handled, $f1 to the server), last 5% $last ($h2, $f2)"
python3 -c 'import sys; sys.exit(float(sys.argv[2]) < float(sys.argv[1]) - 0.01)' "$first" "$last" ||
	fail "BPF handled $last of the last ioends, $first of the first"
"$FISTORE" "$SERVER_PID" dump "$ino" > "$T_TMP/list" || fail "f is not published after the writes"
read -r _ _ _ count _ < "$T_TMP/list"
limit=$((1048576 + 4 * 40 * count))
log "store: $mid bytes resident halfway, $end at the end, for a list of $count extents (limit $limit)"
[ "$end" -le "$limit" ] || fail "the store holds $end bytes for a list of $count extents (limit $limit)"

drop_caches
python3 - "$mnt/f" "$T_TMP/written.ref" <<'PY' || fail "the file reads differently from what was written"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
bad = 0
for line in open(sys.argv[2]):
    b, stamp = line.split(" ", 1)
    got = os.pread(fd, 64, int(b) * 4096)
    if got != stamp.rstrip("\n").encode().ljust(64, b"."):
        bad += 1
        if bad < 4:
            print("block %s: %r" % (b, got[:24]), file=sys.stderr)
sys.exit(bad > 0)
PY
stop_server "$mnt" "$SERVER_PID"
ext4_fsck_clean "$T_TMP/ours.img"
