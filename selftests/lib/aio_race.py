"""aio_race.py FILE ROUNDS SEED: fallocate against in-flight O_DIRECT writes.

Each round: FILE gets [off, off + 1 MiB) preallocated (unwritten), an
O_DIRECT write of new bytes into that range is submitted with io_submit
and, without reaping it, the same range is zeroed (FALLOC_FL_ZERO_RANGE,
or PUNCH_HOLE on odd rounds); then the write is reaped.  The range must
then read, through O_DIRECT and the page cache, as zeros: fallocate
waits for direct I/O in flight, as the kernel's ext4 does, so the write
ended before the range was zeroed.  Prints one line per round; exits 1
with the first bad block, saying whether it held the new bytes (the
write landed after the fallocate) or something else (old blocks).
"""
import ctypes, mmap, os, random, sys

SYS_io_setup, SYS_io_destroy, SYS_io_getevents, SYS_io_submit = 206, 207, 208, 209
IOCB_CMD_PWRITE = 1
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 1, 2, 0x10
MIB, BLK = 1 << 20, 4096


class Iocb(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint64), ("key", ctypes.c_uint32),
                ("rw_flags", ctypes.c_int32), ("opcode", ctypes.c_uint16),
                ("reqprio", ctypes.c_int16), ("fildes", ctypes.c_uint32),
                ("buf", ctypes.c_uint64), ("nbytes", ctypes.c_uint64),
                ("offset", ctypes.c_int64), ("reserved2", ctypes.c_uint64),
                ("flags", ctypes.c_uint32), ("resfd", ctypes.c_uint32)]


class Event(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint64), ("obj", ctypes.c_uint64),
                ("res", ctypes.c_int64), ("res2", ctypes.c_int64)]


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def check(ret, what):
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def fallocate(fd, mode, off, length, what):
    check(libc.fallocate(fd, mode, off, length), what)


def main():
    path, rounds, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    ctx = ctypes.c_ulong(0)
    check(libc.syscall(SYS_io_setup, 1, ctypes.byref(ctx)), "io_setup")
    buf = mmap.mmap(-1, MIB)
    cbuf = (ctypes.c_char * MIB).from_buffer(buf)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    for r in range(rounds):
        off = rng.randrange(0, 16) * MIB
        new = bytes([0x30 + r % 64]) * BLK
        buf[:] = new * (MIB // BLK)
        fallocate(fd, 0, off, MIB, "preallocation")
        iocb = Iocb(data=r, opcode=IOCB_CMD_PWRITE, fildes=fd,
                    buf=ctypes.addressof(cbuf), nbytes=MIB, offset=off)
        p = ctypes.pointer(iocb)
        check(libc.syscall(SYS_io_submit, ctx, 1, ctypes.byref(p)), "io_submit")
        punch = r % 2 == 1
        mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE if punch else FALLOC_FL_ZERO_RANGE
        fallocate(fd, mode, off, MIB, "PUNCH_HOLE" if punch else "ZERO_RANGE")
        ev = Event()
        check(libc.syscall(SYS_io_getevents, ctx, 1, 1, ctypes.byref(ev), None), "io_getevents")
        if ev.res != MIB:
            sys.exit(f"round {r}: the write returned {ev.res}")
        got = {}
        with open(path, "rb", buffering=0) as f:
            f.seek(off)
            got["buffered"] = f.read(MIB)
        rbuf = mmap.mmap(-1, MIB)
        os.preadv(fd, [rbuf], off)
        got["O_DIRECT"] = bytes(rbuf)
        for how, data in got.items():
            for b in range(0, MIB, BLK):
                blk = data[b:b + BLK]
                if blk == bytes(BLK):
                    continue
                what = "the write's bytes, after the fallocate returned" if blk == new else \
                    f"neither zeros nor the new bytes: {blk[:40]!r}"
                sys.exit(f"round {r} ({'punch' if punch else 'zero'} at {off}): {how} block at "
                         f"{off + b} reads {what}")
        print(f"round {r}: {'punch' if punch else 'zero'} at {off >> 20} MiB: zeros")
    os.close(fd)
    libc.syscall(SYS_io_destroy, ctx)


main()
