#!/usr/bin/python3
"""FIEMAP and SEEK_DATA/SEEK_HOLE probes that xfs_io does not offer.

usage: fiemap.py COMMAND FILE...  (with several files, each file's output
                                   follows a "# FILE" line)
       fiemap.py count FILE     extents FIEMAP reports with fm_extent_count = 0
       fiemap.py full FILE      extents a full FIEMAP returns (count, then one
                                "logical physical length flags" line each)
       fiemap.py unsynced FILE  the same, without FIEMAP_FLAG_SYNC: what the
                                file system maps before dirty pages are
                                written back
       fiemap.py merged FILE    "logical physical length unwritten" per
                                extent, physically contiguous neighbours of
                                the same kind joined
       fiemap.py seek FILE      "data START END" per data segment, walking
                                SEEK_DATA/SEEK_HOLE from 0 to EOF
"""
import fcntl
import os
import struct
import sys

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 1
FIEMAP_EXTENT_UNWRITTEN = 0x800
HDR = "=QQIIII"          # fm_start, fm_length, fm_flags, mapped, count, reserved
EXT = "=QQQQQIIII"       # logical, physical, length, reserved64[2], flags, reserved[3]


def fiemap_fd(fd, count, flags=FIEMAP_FLAG_SYNC):
    """(extents mapped, [(logical, physical, length, flags)]) of open file fd."""
    buf = bytearray(struct.pack(HDR, 0, 0xFFFFFFFFFFFFFFFF, flags, 0, count, 0)
                    + bytes(struct.calcsize(EXT) * count))
    fcntl.ioctl(fd, FS_IOC_FIEMAP, buf)
    mapped = struct.unpack_from(HDR, buf)[3]
    exts = []
    for i in range(min(mapped, count)):
        e = struct.unpack_from(EXT, buf, struct.calcsize(HDR) + i * struct.calcsize(EXT))
        exts.append((e[0], e[1], e[2], e[5]))
    return mapped, exts


def fiemap(path, count, flags=FIEMAP_FLAG_SYNC):
    with open(path, "rb") as f:
        return fiemap_fd(f.fileno(), count, flags)


def seek_map(fd):
    """[(start, end)] of each data segment, SEEK_DATA/SEEK_HOLE from 0 to EOF."""
    end = os.fstat(fd).st_size
    pos, out = 0, []
    while pos < end:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break
        pos = os.lseek(fd, start, os.SEEK_HOLE)
        out.append((start, pos))
    return out


def report(cmd, path):
    if cmd == "count":
        print(fiemap(path, 0)[0])
    elif cmd in ("full", "unsynced"):
        flags = FIEMAP_FLAG_SYNC if cmd == "full" else 0
        n = fiemap(path, 0, flags)[0]
        mapped, exts = fiemap(path, n + 16, flags)
        print(mapped)
        for e in exts:
            print("%d %d %d 0x%x" % e)
    elif cmd == "merged":
        out = []
        for log, phys, length, flags in fiemap(path, fiemap(path, 0)[0] + 16)[1]:
            uw = 1 if flags & FIEMAP_EXTENT_UNWRITTEN else 0
            if out and out[-1][0] + out[-1][2] == log and out[-1][1] + out[-1][2] == phys \
                    and out[-1][3] == uw:
                out[-1][2] += length
            else:
                out.append([log, phys, length, uw])
        for e in out:
            print("%d %d %d %d" % tuple(e))
    elif cmd == "seek":
        fd = os.open(path, os.O_RDONLY)
        for start, stop in seek_map(fd):
            print("data %d %d" % (start, stop))
        os.close(fd)
    else:
        sys.exit(__doc__)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, paths = sys.argv[1], sys.argv[2:]
    for path in paths:
        if len(paths) > 1:
            print("# " + path)
        report(cmd, path)


if __name__ == "__main__":
    main()
