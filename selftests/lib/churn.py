#!/usr/bin/env python3
"""Random namespace and data churn in DIR for SECONDS, checked against a model.

usage: churn.py DIR SECONDS SEED [NAME=WEIGHT,...]

NAME is write, read, truncate, rename, unlink or direct (the share of
writes and reads done with O_DIRECT, in percent); paranoid=1 checks the
whole file after every operation.

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
    history = {}                                 # name -> [(op, off, len)]
    weights = {"write": 30, "read": 30, "truncate": 10, "rename": 10, "unlink": 5, "direct": 40,
               "paranoid": 0}
    for kv in sys.argv[4].split(",") if len(sys.argv) > 4 else []:
        k, v = kv.split("=")
        weights[k] = int(v)
    counts = {}
    buf = mmap.mmap(-1, 16 * BS)
    os.makedirs(d, exist_ok=True)

    def path(n):
        return os.path.join(d, n)

    def check(name, data, off, what):
        want = bytes(model[name][off:off + len(data)])
        if data != want:
            i = next((i for i in range(min(len(data), len(want))) if data[i] != want[i]),
                     min(len(data), len(want)))
            j = i
            while j < min(len(data), len(want)) and data[j] != want[j]:
                j += 1
            sys.exit("%s: %s of %d at %d (size %d): got %d bytes, want %d; first difference "
                     "at %d, %d bytes long, got %s" %
                     (path(name), what, len(data), off, len(model[name]), len(data), len(want),
                      off + i, j - i, "zeros" if not any(data[i:j]) else "data") +
                     "; ops on it: " + " ".join("%s@%d+%d" % h for h in history[name][-12:]))

    def write(name):
        m = model.setdefault(name, bytearray())
        off = rnd.randrange(0, MAX_SIZE)
        direct = rnd.random() < weights["direct"] / 100
        history.setdefault(name, []).append(("dwrite" if direct else "write", off, 0))
        if direct:
            # O_DIRECT: whole aligned blocks from an aligned buffer.
            off, n = off // BS * BS, rnd.randint(1, 16) * BS
            data = rnd.randbytes(n)
            buf[:n] = data
            fd = os.open(path(name), os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
            done = os.pwritev(fd, [memoryview(buf)[:n]], off)
        else:
            data = rnd.randbytes(rnd.randint(1, 3 * BS))
            fd = os.open(path(name), os.O_WRONLY | os.O_CREAT, 0o644)
            done = os.pwrite(fd, data, off)
        os.close(fd)
        if done != len(data):
            sys.exit("%s: short write at %d: %d of %d bytes" % (path(name), off, done, len(data)))
        history[name][-1] = (history[name][-1][0], off, len(data))
        if len(m) < off:
            m.extend(bytes(off - len(m)))
        m[off:off + len(data)] = data

    def read(name):
        m = model[name]
        if os.stat(path(name)).st_size != len(m):
            sys.exit("%s: size %d, want %d" % (path(name), os.stat(path(name)).st_size, len(m)))
        if rnd.random() < weights["direct"] / 100:
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
        history[name].append(("truncate", size, 0))
        m = model[name]
        del m[size:]
        m.extend(bytes(size - len(m)))

    def rename(name):
        to = "f%d" % rnd.randrange(16)
        os.rename(path(name), path(to))
        model[to] = model.pop(name)
        history[to] = history.pop(name) + [("renamed", 0, 0)]

    def unlink(name):
        os.unlink(path(name))
        del model[name]
        del history[name]

    ops = [(op, weights[op.__name__]) for op in (write, read, truncate, rename, unlink)]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        name = "f%d" % rnd.randrange(16)
        op = rnd.choices([o for o, _ in ops], [w for _, w in ops])[0]
        if op is not write and name not in model:
            op = write
        op(name)
        counts[op.__name__] = counts.get(op.__name__, 0) + 1
        if weights["paranoid"] and op not in (unlink, rename) and name in model:
            with open(path(name), "rb") as f:
                check(name, f.read(), 0, "whole-file read after %s" % op.__name__)
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
