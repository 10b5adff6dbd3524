#!/usr/bin/env python3
"""Random namespace and data churn in DIR for SECONDS, checked against a model.

usage: churn.py DIR SECONDS SEED

Creates, writes (buffered and O_DIRECT), reads back, truncates, renames
(over existing files too) and unlinks files under DIR, keeping what each
file must hold in memory; every read is compared with the model, and at
the end every file is.  Exit 1 at the first difference or unexpected error;
print the counts of operations done.
"""
import mmap
import os
import random
import sys
import time

BS = 4096
MAX_SIZE = 1 << 20


def main():
    d, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    rnd = random.Random(seed)
    model = {}                                   # name -> bytearray
    counts = {}
    buf = mmap.mmap(-1, 16 * BS)
    os.makedirs(d, exist_ok=True)

    def path(n):
        return os.path.join(d, n)

    def check(name, data, off, what):
        want = bytes(model[name][off:off + len(data)])
        if data != want:
            sys.exit("%s: %s at %d: %d bytes differ from what was written" % (path(name), what, off, len(data)))

    def write(name):
        m = model.setdefault(name, bytearray())
        off = rnd.randrange(0, MAX_SIZE)
        if rnd.random() < 0.4:
            # O_DIRECT: whole aligned blocks from an aligned buffer.
            off, n = off // BS * BS, rnd.randint(1, 16) * BS
            data = rnd.randbytes(n)
            buf[:n] = data
            fd = os.open(path(name), os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
            os.pwritev(fd, [memoryview(buf)[:n]], off)
        else:
            data = rnd.randbytes(rnd.randint(1, 3 * BS))
            fd = os.open(path(name), os.O_WRONLY | os.O_CREAT, 0o644)
            os.pwrite(fd, data, off)
        os.close(fd)
        if len(m) < off:
            m.extend(bytes(off - len(m)))
        m[off:off + len(data)] = data

    def read(name):
        m = model[name]
        if os.stat(path(name)).st_size != len(m):
            sys.exit("%s: size %d, want %d" % (path(name), os.stat(path(name)).st_size, len(m)))
        if rnd.random() < 0.4:
            off, n = rnd.randrange(0, MAX_SIZE) // BS * BS, rnd.randint(1, 16) * BS
            fd = os.open(path(name), os.O_RDONLY | os.O_DIRECT)
            got = os.preadv(fd, [memoryview(buf)[:n]], off)
            data = bytes(buf[:got])
            what = "O_DIRECT read"
        else:
            off = rnd.randrange(0, len(m) + 1)
            fd = os.open(path(name), os.O_RDONLY)
            data = os.pread(fd, rnd.randint(1, 64 * 1024), off)
            what = "read"
        os.close(fd)
        check(name, data, off, what)

    def truncate(name):
        size = rnd.randrange(0, MAX_SIZE)
        os.truncate(path(name), size)
        m = model[name]
        del m[size:]
        m.extend(bytes(size - len(m)))

    def rename(name):
        to = "f%d" % rnd.randrange(16)
        os.rename(path(name), path(to))
        model[to] = model.pop(name)

    def unlink(name):
        os.unlink(path(name))
        del model[name]

    ops = [(write, 30), (read, 30), (truncate, 10), (rename, 10), (unlink, 5)]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        name = "f%d" % rnd.randrange(16)
        op = rnd.choices([o for o, _ in ops], [w for _, w in ops])[0]
        if op is not write and name not in model:
            op = write
        op(name)
        counts[op.__name__] = counts.get(op.__name__, 0) + 1
        if rnd.random() < 0.05:
            fd = os.open(d, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    for name in sorted(model):
        with open(path(name), "rb") as f:
            data = f.read()
        if data != bytes(model[name]):
            sys.exit("%s: its final contents differ from what was written" % path(name))
    if sorted(os.listdir(d)) != sorted(model):
        sys.exit("%s: names %s, want %s" % (d, sorted(os.listdir(d)), sorted(model)))
    print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))


if __name__ == "__main__":
    main()
