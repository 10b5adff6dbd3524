#!/bin/bash
# No torn list reaches the kernel: fuse-iomap-blockfs --bpf --out-of-place
# moves a block to newly allocated space at every write and reuses what it
# frees, so the file's list in the store is forgotten and published again
# all the time (in place when its array has room).  For 15 s one writer
# rewrites random blocks of a 256-block file (each with its own stamp, so
# the bytes never change) with O_DIRECT while 4 readers read random blocks
# with O_DIRECT and check every byte.  A reader that used a list half
# written, or one from before a move, would read a freed block that now
# holds another block's stamp.  No wrong byte; the lists were published
# again (PUBLISH lines) and some reads were answered by BPF.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

SECS=15
blockfs_setup --bpf --out-of-place
stamped_file "$mnt/f" || fail "can't write $mnt/f"
sync
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
hits=$(counter "$mnt" bpf_hits) published=$(log_count PUBLISH)
python3 - "$mnt/f" $SECS > "$T_TMP/run" <<'PY' || fail "$(tail -n3 "$T_TMP/run" | tr '\n' ' ')"
import mmap, os, random, sys, time
path, secs = sys.argv[1], int(sys.argv[2])
def stamp(b):
    return (b"block %d " % b).ljust(4096, b".")
def writer(end):
    fd, buf, n = os.open(path, os.O_WRONLY | os.O_DIRECT), mmap.mmap(-1, 4096), 0
    r = random.Random(1)
    while time.time() < end:
        b = r.randrange(256)
        buf[:] = stamp(b)
        if os.pwrite(fd, buf, b * 4096) != 4096:
            sys.exit("short write")
        n += 1
    print("writes", n)
def reader(k, end):
    fd, buf, n, bad = os.open(path, os.O_RDONLY | os.O_DIRECT), mmap.mmap(-1, 4096), 0, 0
    r = random.Random(100 + k)
    while time.time() < end:
        b = r.randrange(256)
        if os.preadv(fd, [buf], b * 4096) != 4096 or buf[:] != stamp(b):
            bad += 1
            if bad < 3:
                print("reader %d: block %d read %r" % (k, b, buf[:20]))
        n += 1
    print("reads", n, bad)
end = time.time() + secs
kids = []
for k in range(5):
    pid = os.fork()
    if pid == 0:
        sys.stdout.flush()
        try:
            writer(end) if k == 0 else reader(k, end)
        finally:
            sys.stdout.flush()
            os._exit(0)
    kids.append(pid)
bad = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) != 0 for p in kids)
sys.exit(bad)
PY
writes=$(awk '$1 == "writes" { print $2 }' "$T_TMP/run")
reads=$(awk '$1 == "reads" { n += $2 } END { print n + 0 }' "$T_TMP/run")
bad=$(awk '$1 == "reads" { n += $3 } END { print n + 0 }' "$T_TMP/run")
published=$(($(log_count PUBLISH) - published))
rose=$(($(counter "$mnt" bpf_hits) - hits))
log "$writes writes, $reads reads ($bad wrong), $published publishes, $rose BPF answers"
expect_eq "wrong reads (of $reads)" "$bad" 0
[ "${writes:-0}" -ge 50 ] || fail "only ${writes:-0} writes in $SECS s"
[ "$published" -ge 10 ] || fail "the list was published again only $published times"
[ "$rose" -ge 1 ] || fail "no read was answered by BPF"
drop_caches
python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
sys.exit(any(d[b * 4096:(b + 1) * 4096] != (b"block %d " % b).ljust(4096, b".") for b in range(256)))' "$mnt/f" ||
	fail "the file reads differently after the run"
