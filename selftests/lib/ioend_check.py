#!/usr/bin/python3
"""Checks for files written into unwritten (preallocated) extents.

usage: ioend_check.py states FILE WRITTEN
       ioend_check.py device FILE REF DEV
       ioend_check.py unwritten FILE

states: WRITTEN lists what was written to FILE, one "offset length" line
per write (bytes).  Every 4 KiB block a write touched must be mapped by
FIEMAP and not flagged unwritten (it was converted at ioend); every other
block FIEMAP maps must be flagged unwritten (preallocated, never written:
nobody zeroed it instead).  Prints "written W unwritten U" (blocks).

device: every extent FIEMAP maps without the unwritten flag holds, on DEV
at the reported address, the bytes REF has at that file offset (up to
REF's size).  Unwritten extents are skipped: their device blocks hold
whatever was there before (the file reads them as zeros).

unwritten: prints the file blocks FIEMAP flags unwritten, one per line.

Exit 1 with the first differences on stderr.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fiemap import fiemap, FIEMAP_EXTENT_UNWRITTEN  # noqa: E402

BS = 4096


def extents(path):
    return fiemap(path, fiemap(path, 0)[0] + 16)[1]


def block_states(path):
    """file block -> True if unwritten, False if written; holes left out."""
    st = {}
    for log, _phys, length, flags in extents(path):
        uw = bool(flags & FIEMAP_EXTENT_UNWRITTEN)
        for b in range(log // BS, (log + length + BS - 1) // BS):
            st[b] = uw
    return st


def states(path, written_list):
    written = set()
    with open(written_list) as f:
        for line in f:
            if not line.strip():
                continue
            off, length = map(int, line.split()[:2])
            written.update(range(off // BS, (off + length + BS - 1) // BS))
    st = block_states(path)
    bad = []
    for b in sorted(written):
        if b not in st:
            bad.append("block %d (offset %d) was written but FIEMAP shows a hole" % (b, b * BS))
        elif st[b]:
            bad.append("block %d (offset %d) was written but is still unwritten" % (b, b * BS))
    for b in sorted(set(st) - written):
        if not st[b]:
            bad.append("block %d (offset %d) was never written but is not unwritten" % (b, b * BS))
    if bad:
        sys.stderr.write("%s: %d blocks wrong: %s\n" % (path, len(bad), "; ".join(bad[:4])))
        return 1
    print("written %d unwritten %d" % (len(written), sum(1 for b in st if st[b])))
    return 0


def device(path, ref, dev):
    size = os.path.getsize(ref)
    subprocess.run(["blockdev", "--flushbufs", dev], check=True)
    checked = 0
    with open(ref, "rb") as r, open(dev, "rb", buffering=0) as d:
        for log, phys, length, flags in extents(path):
            if flags & FIEMAP_EXTENT_UNWRITTEN or log >= size:
                continue
            n = min(length, size - log)
            r.seek(log)
            want = r.read(n)
            d.seek(phys)
            got = d.read(n)
            if got != want:
                at = next(i for i in range(n) if i >= len(got) or got[i] != want[i])
                sys.stderr.write("%s: device %s at %d (file offset %d) differs from what was "
                                 "written (extent of %d bytes at file offset %d)\n"
                                 % (path, dev, phys + at, log + at, length, log))
                return 1
            checked += n
    print("checked %d bytes" % checked)
    return 0


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "states":
        return states(a[1], a[2])
    if len(a) == 4 and a[0] == "device":
        return device(a[1], a[2], a[3])
    if len(a) == 2 and a[0] == "unwritten":
        for b, uw in sorted(block_states(a[1]).items()):
            if uw:
                print(b)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
