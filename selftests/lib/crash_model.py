#!/usr/bin/python3
"""Random block writes with fsyncs, then a model check after a crash.

usage: crash_model.py run DIR LOG SEED
       crash_model.py check DIR LOG [DEV]

run: DIR holds FILES files f0.. of BLOCKS 4 KiB blocks each (created and
fsync'd by the caller).  Forever: a whole-block write (O_DIRECT or
buffered, at random) of bytes that name the file, block and sequence
number, to a random block of a random file; every 4 to 12 writes an
fsync of a random file; now and then an O_DIRECT read, which must give
the block's last write (or zeros).  LOG gets "S FILE BLOCK SEQ" before a
write starts, "W FILE BLOCK SEQ" once it returned, "F FILE" once an fsync
returned, flushed at once.  The first failing call ends the run with
"E what" in LOG and status 0 (the server was killed: expected), except
a read that differs from the model: status 2.

check (after the crash and a new server): every block of every file may
read as its last write completed before a completed fsync of its file,
or as any write to it started after that one; a block with no such
write may also read as zeros.  Anything else fails: zeros where an
fsync'd write was, another block's data, the old bytes of the device, or
bytes nobody wrote.  Each file's size is what the caller made it.
With DEV: what each file reads is on DEV at the address FIEMAP gives for
every extent not flagged unwritten.
Prints "blocks B, fsync'd F, later L, zeros Z".
"""
import hashlib
import mmap
import os
import random
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fiemap import fiemap, FIEMAP_EXTENT_UNWRITTEN  # noqa: E402

BS = 4096
FILES = 2
BLOCKS = 256


def data(f, b, seq):
    return hashlib.shake_256(b"file %d block %d seq %d" % (f, b, seq)).digest(BS)


def run(d, logpath, seed):
    rnd = random.Random(seed)
    log = open(logpath, "a", buffering=1)
    paths = [os.path.join(d, "f%d" % f) for f in range(FILES)]
    try:
        fd_b = [os.open(p, os.O_RDWR) for p in paths]
        fd_d = [os.open(p, os.O_RDWR | os.O_DIRECT) for p in paths]
    except OSError as e:
        log.write("E open: %s\n" % e)
        return 0
    buf = mmap.mmap(-1, BS)
    last = {}                                  # (f, b) -> seq of the last write
    seq = 0
    until_fsync = rnd.randint(4, 12)
    while True:
        f, b = rnd.randrange(FILES), rnd.randrange(BLOCKS)
        if rnd.random() < 0.2:
            try:
                n = os.preadv(fd_d[f], [buf], b * BS)
            except OSError as e:
                log.write("E read f%d block %d: %s\n" % (f, b, e))
                return 0
            want = data(f, b, last[f, b]) if (f, b) in last else bytes(BS)
            if n != BS or buf[:] != want:
                log.write("E MODEL read f%d block %d differs from its last write\n" % (f, b))
                return 2
            continue
        seq += 1
        direct = rnd.random() < 0.5
        log.write("S %d %d %d\n" % (f, b, seq))
        try:
            if direct:
                buf[:] = data(f, b, seq)
                n = os.pwrite(fd_d[f], buf, b * BS)
            else:
                n = os.pwrite(fd_b[f], data(f, b, seq), b * BS)
        except OSError as e:
            log.write("E write f%d block %d: %s\n" % (f, b, e))
            return 0
        if n != BS:
            log.write("E short write f%d block %d: %d\n" % (f, b, n))
            return 0
        last[f, b] = seq
        log.write("W %d %d %d\n" % (f, b, seq))
        until_fsync -= 1
        if until_fsync == 0:
            until_fsync = rnd.randint(4, 12)
            f = rnd.randrange(FILES)
            try:
                os.fsync(fd_b[f])
            except OSError as e:
                log.write("E fsync f%d: %s\n" % (f, e))
                return 0
            log.write("F %d\n" % f)


def on_device(path, content, dev):
    """None, or where DEV differs from CONTENT at PATH's written extents."""
    with open(dev, "rb", buffering=0) as d:
        for log, phys, length, flags in fiemap(path, fiemap(path, 0)[0] + 16)[1]:
            if flags & FIEMAP_EXTENT_UNWRITTEN or log >= len(content):
                continue
            n = min(length, len(content) - log)
            d.seek(phys)
            if d.read(n) != content[log:log + n]:
                return "device bytes at %d (file offset %d, %d bytes) differ from what the file reads" \
                    % (phys, log, n)
    return None


def check(d, logpath, dev=None):
    started = {}            # (f, b) -> [seq, ...] in order
    durable = {}            # (f, b) -> seq: last write completed before a completed fsync
    completed = {f: {} for f in range(FILES)}   # writes completed, not yet covered by an fsync
    for line in open(logpath):
        w = line.split()
        if not w:
            continue
        if w[0] == "S":
            f, b, s = map(int, w[1:])
            started.setdefault((f, b), []).append(s)
        elif w[0] == "W":
            f, b, s = map(int, w[1:])
            completed[f][b] = s
        elif w[0] == "F":
            # Single-threaded: every write logged before it completed
            # before the fsync started.
            f = int(w[1])
            for b, s in completed[f].items():
                durable[f, b] = s
            completed[f] = {}
    owner = {}
    for (f, b), seqs in started.items():
        for s in seqs:
            owner[data(f, b, s)] = (f, b, s)
    stats = {"fsync'd": 0, "later": 0, "zeros": 0}
    bad = []
    for f in range(FILES):
        path = os.path.join(d, "f%d" % f)
        try:
            size = os.path.getsize(path)
        except OSError as e:
            bad.append("f%d: %s" % (f, e.strerror))
            continue
        if size != BLOCKS * BS:
            bad.append("f%d is %d bytes, want %d" % (f, size, BLOCKS * BS))
            continue
        fd = os.open(path, os.O_RDONLY)
        content = b""
        while len(content) < size:
            chunk = os.pread(fd, size - len(content), len(content))
            if not chunk:
                break
            content += chunk
        if dev:
            subprocess.run(["blockdev", "--flushbufs", dev], check=True)
            err = on_device(path, content, dev)
            if err:
                bad.append("f%d: %s" % (f, err))
        for b in range(BLOCKS):
            got = content[b * BS:(b + 1) * BS]
            seqs = started.get((f, b), [])
            dur = durable.get((f, b))
            allowed = [s for s in seqs if dur is None or s >= dur]
            if any(got == data(f, b, s) for s in allowed):
                stats["fsync'd" if dur is not None and got == data(f, b, dur) else "later"] += 1
                continue
            if dur is None and got == bytes(BS):
                stats["zeros"] += 1
                continue
            if got == bytes(BS):
                what = "zeros, but write %d was fsync'd" % dur
            elif got in owner:
                of, ob, os_ = owner[got]
                what = "the data of f%d block %d seq %d" % (of, ob, os_) if (of, ob) != (f, b) else \
                    "write %d, older than the fsync'd write %d" % (os_, dur)
            elif b"stale block" in got:
                what = "the device's old bytes (stale)"
            else:
                what = "bytes nobody wrote"
            bad.append("f%d block %d reads %s" % (f, b, what))
        os.close(fd)
    if bad:
        sys.stderr.write("%d blocks wrong: %s\n" % (len(bad), "; ".join(bad[:4])))
        return 1
    print("blocks %d, fsync'd %d, later %d, zeros %d"
          % (FILES * BLOCKS, stats["fsync'd"], stats["later"], stats["zeros"]))
    return 0


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "run":
        return run(a[1], a[2], int(a[3]))
    if len(a) in (3, 4) and a[0] == "check":
        return check(*a[1:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
