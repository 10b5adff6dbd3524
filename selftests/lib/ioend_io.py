#!/usr/bin/python3
"""Writes to a file and to its reference copy, for the ioend tests.

usage: ioend_io.py [--verify] [--seed N] [--conn DIR] FILE REF WRITTEN OP...

OP is one of
  dOFF+LEN   O_DIRECT write of LEN bytes at OFF (both 4 KiB aligned)
  DOFF+LEN   the same with O_DSYNC
  bOFF+LEN   buffered write (any offset and length)
  aLEN       buffered append of LEN bytes at FILE's size
  AOFF+LEN   O_DIRECT append: OFF must be FILE's size (4 KiB aligned)
  fsync, fdatasync, syncfs
  rOFF+LEN   O_DIRECT read, compared with REF
  pending+   (--conn: the connection's sysfs directory) bpf_ioend_pending
             is above 0 and is bpf_ioend_handled - bpf_ioend_committed
  pending0   bpf_ioend_pending is 0 and committed = handled
  sh:CMD     run the shell command CMD, which must succeed
  seek:OUT   append FILE's data segments (SEEK_DATA/SEEK_HOLE) to OUT, one
             "data START END" line each, then "--"
All in one process, the files open throughout: closing a file of the
mount (FLUSH, RELEASE) drains the BPF tier's ioend queue, so the checks
of what is pending must come before.
Each write puts fresh random bytes into FILE and the same bytes into REF
at the same offset, and appends "OFF LEN" to WRITTEN.  After each write
stat must show the new size at once (REF's).  --verify: after each
write, read the blocks it touched back with O_DIRECT and compare them
with REF (a read right after the write, through whatever answers the
mapping).  Exit 1 at the first difference or error.
"""
import ctypes
import mmap
import os
import random
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fiemap import seek_map  # noqa: E402

BS = 4096


def main():
    args = sys.argv[1:]
    verify = False
    seed = None
    conn = None
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--verify":
            verify = True
        elif opt == "--seed":
            seed = int(args.pop(0))
        elif opt == "--conn":
            conn = args.pop(0)
        else:
            sys.exit(__doc__)
    if len(args) < 3:
        sys.exit(__doc__)
    path, ref, written = args[:3]
    rnd = random.Random(seed)
    fd_b = os.open(path, os.O_WRONLY)
    fd_d = os.open(path, os.O_WRONLY | os.O_DIRECT)
    fd_s = os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)
    fd_r = os.open(path, os.O_RDONLY | os.O_DIRECT)
    fd_ref = os.open(ref, os.O_RDWR)
    log = open(written, "a")

    def counter(name):
        with open(os.path.join(conn, name)) as f:
            return int(f.read())

    def compare(what, start, end):
        buf = mmap.mmap(-1, end - start)
        try:
            got = os.preadv(fd_r, [buf], start)
        except OSError as e:
            sys.exit("O_DIRECT read %s failed: %s" % (what, e))
        want_bytes = os.pread(fd_ref, end - start, start)
        if buf[:got] != want_bytes:
            at = next((i for i in range(min(got, len(want_bytes))) if buf[i] != want_bytes[i]),
                      min(got, len(want_bytes)))
            kind = "stale bytes" if b"stale block" in buf[:got] else \
                "zeros" if buf[at:at + 16] == bytes(16) else "other bytes"
            sys.exit("%s differs at offset %d (%s; read %d of %d bytes)"
                     % (what, start + at, kind, got, len(want_bytes)))

    for op in args[3:]:
        if op in ("pending+", "pending0"):
            p, h, c = (counter("bpf_ioend_" + n) for n in ("pending", "handled", "committed"))
            if p != h - c:
                sys.exit("%s: bpf_ioend_pending %d, but handled %d - committed %d" % (op, p, h, c))
            if op == "pending+" and p == 0:
                sys.exit("pending+: bpf_ioend_pending is 0 (handled %d): the queue was drained "
                         "with no upcall, sync or close" % h)
            if op == "pending0" and p != 0:
                sys.exit("pending0: %d ioends queued by BPF not committed (handled %d)" % (p, h))
            continue
        if op.startswith("seek:"):
            with open(op[5:], "a") as out:
                for start, stop in seek_map(fd_b):
                    out.write("data %d %d\n" % (start, stop))
                out.write("--\n")
            continue
        if op.startswith("sh:"):
            r = subprocess.run(op[3:], shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode:
                sys.exit("%s failed: %s" % (op[3:], r.stdout.decode(errors="replace").strip()[-200:]))
            continue
        if op[0] == "r":
            off, n = map(int, op[1:].split("+"))
            compare("read %s" % op, off, off + n)
            continue
        if op in ("fsync", "fdatasync", "syncfs"):
            try:
                if op == "syncfs":
                    if ctypes.CDLL(None, use_errno=True).syncfs(fd_b):
                        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
                else:
                    (os.fsync if op == "fsync" else os.fdatasync)(fd_b)
            except OSError as e:
                sys.exit("%s of %s failed: %s" % (op, path, e))
            continue
        kind, spec = op[0], op[1:]
        if kind == "a":
            off, n = os.fstat(fd_b).st_size, int(spec)
        else:
            off, n = map(int, spec.split("+"))
        if kind == "A" and off != os.fstat(fd_b).st_size:
            sys.exit("append at %d: %s is %d bytes" % (off, path, os.fstat(fd_b).st_size))
        data = rnd.randbytes(n) if seed is not None else os.urandom(n)
        try:
            if kind in "dDA":
                if off % BS or n % BS:
                    sys.exit("O_DIRECT write %s not 4 KiB aligned" % op)
                buf = mmap.mmap(-1, n)
                buf[:] = data
                done = os.pwrite(fd_s if kind == "D" else fd_d, buf, off)
            elif kind in "ba":
                done = os.pwrite(fd_b, data, off)
            else:
                sys.exit("unknown op %s" % op)
        except OSError as e:
            sys.exit("write %s to %s failed: %s" % (op, path, e))
        if done != n:
            sys.exit("short write %s: %d bytes" % (op, done))
        os.pwrite(fd_ref, data, off)
        log.write("%d %d\n" % (off, n))
        log.flush()
        size, want = os.fstat(fd_b).st_size, os.fstat(fd_ref).st_size
        if size != want:
            sys.exit("after write %s, stat says %d bytes, want %d" % (op, size, want))
        if verify:
            compare("a read right after write %s" % op, off // BS * BS, (off + n + BS - 1) // BS * BS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
