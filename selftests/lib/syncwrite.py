#!/usr/bin/env python3
"""Synchronous O_DIRECT (and buffered O_SYNC) writes, the way databases do them.

usage: syncwrite.py DIR REFDIR SEED

In DIR, for each way of asking for a synchronous write (O_SYNC, O_DSYNC,
pwritev2 with RWF_SYNC or RWF_DSYNC, all with O_DIRECT, and buffered
O_SYNC), each size (4 KiB, 64 KiB, 1 MiB) and each place (blocks already
written, a hole, past EOF), write seeded random bytes and the same bytes
to a copy in REFDIR.  Prints one line per write with its time; exits 1
with the case named when one takes more than 10 s (a hang shows as the
caller's bound running out first).
"""
import mmap
import os
import random
import sys
import time

KIB = 1024
SIZES = (4 * KIB, 64 * KIB, 1024 * KIB)
FILE_SIZE = 2 * 1024 * KIB
MODES = {
    "o_sync": (os.O_DIRECT | os.O_SYNC, 0),
    "o_dsync": (os.O_DIRECT | os.O_DSYNC, 0),
    "rwf_sync": (os.O_DIRECT, os.RWF_SYNC),
    "rwf_dsync": (os.O_DIRECT, os.RWF_DSYNC),
    "buffered_o_sync": (os.O_SYNC, 0),
}
LIMIT = 10.0


def prepare(path, place):
    """A file whose range [0, FILE_SIZE) is written data, a hole, or not there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if place == "written":
            chunk = os.urandom(1024 * KIB)
            for off in range(0, FILE_SIZE, len(chunk)):
                os.pwrite(fd, chunk, off)
            os.fsync(fd)
        elif place == "hole":
            os.ftruncate(fd, 2 * FILE_SIZE)
    finally:
        os.close(fd)


def write(path, flags, rwf, off, data):
    buf = mmap.mmap(-1, len(data))  # page aligned, as O_DIRECT needs
    buf.write(data)
    fd = os.open(path, os.O_WRONLY | flags)
    try:
        t = time.monotonic()
        n = os.pwritev(fd, [buf], off, rwf) if rwf else os.pwritev(fd, [buf], off)
        return n, time.monotonic() - t
    finally:
        os.close(fd)
        buf.close()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    top, refdir, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    for mode, (flags, rwf) in MODES.items():
        for place in ("written", "hole", "eof"):
            name = f"{mode}.{place}"
            path, ref = os.path.join(top, name), os.path.join(refdir, name)
            prepare(path, place)
            with open(path, "rb") as f, open(ref, "wb") as r:
                r.write(f.read())
            for size in SIZES:
                # Past EOF: append; elsewhere: somewhere inside, block aligned.
                off = os.path.getsize(ref) if place == "eof" else rng.randrange(0, FILE_SIZE - size, 4 * KIB)
                data = rng.randbytes(size)
                n, secs = write(path, flags, rwf, off, data)
                print(f"{name} {size} at {off}: {n} bytes in {secs:.2f} s", flush=True)
                if n != size:
                    sys.exit(f"{name}: wrote {n} of {size} bytes at {off}")
                if secs > LIMIT:
                    sys.exit(f"{name}: a {size}-byte write took {secs:.1f} s")
                with open(ref, "r+b") as r:
                    r.seek(off)
                    r.write(data)


if __name__ == "__main__":
    main()
