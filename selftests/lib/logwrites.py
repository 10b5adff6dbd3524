#!/usr/bin/python3
"""Read the log device of the kernel's dm-log-writes target and replay it.

usage: logwrites.py marks LOGDEV          print "INDEX NAME" per mark entry
       logwrites.py count LOGDEV          print the number of entries
       logwrites.py replay LOGDEV TARGET UPTO
       logwrites.py replay-inc LOGDEV TARGET FROM UPTO
       logwrites.py selftest

replay applies entries 0 <= index < UPTO (replay-inc: FROM <= index < UPTO)
to TARGET, a copy of the device as it was when logging started, opened
in place (never truncated) and fsync'd at the end.  Errors go to stderr
as "logwrites.py: ..." with exit status 1.

The on-disk format, as read in the kernel's drivers/md/dm-log-writes.c
(6.x) and Documentation/admin-guide/device-mapper/log-writes.rst:
  - Every integer is little-endian.  The unit of the log is "sectorsize",
    the logical block size of the logged (data) device: 512 or 4096.
  - Byte 0 holds the super block, padded with zeros to one sectorsize:
    u64 magic 0x6a736677736872, u64 version 1, u64 nr_entries,
    u32 sectorsize.  The kernel rewrites it only after a FUA or MARK
    entry, so nr_entries counts what was logged up to the last of those;
    removing the target logs a final mark "dm-log-writes-end", which makes
    it count everything.  Anything past entry nr_entries-1 may be stale.
  - Entries follow from byte sectorsize on, back to back, each one
    sectorsize block holding u64 sector, u64 nr_sectors, u64 flags,
    u64 data_len (then zeros), followed by nr_sectors * sectorsize bytes
    of written data -- except DISCARD entries, which have no data after
    their block.  Entry 0 is an ordinary entry (the super is not one).
  - sector and nr_sectors are in sectorsize units, not 512-byte ones (the
    kernel divides the bio's sectors by sectorsize/512), so an entry
    covers bytes [sector * sectorsize, (sector + nr_sectors) * sectorsize)
    of the device.  With sectorsize 512 both units agree.
  - flags: FLUSH 1, FUA 2, DISCARD 4, MARK 8, METADATA 16 (REQ_META, a
    hint only).  A MARK entry has nr_sectors 0; its name is the data_len
    bytes right after the 32-byte entry header, in the same block, with
    no NUL.  A pure flush has nr_sectors 0 and writes nothing.
"""
import os
import struct
import subprocess
import sys
import tempfile

MAGIC = 0x6A736677736872
VERSION = 1
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
SUPER = struct.Struct("<QQQI")  # magic, version, nr_entries, sectorsize
ENTRY = struct.Struct("<QQQQ")  # sector, nr_sectors, flags, data_len
CHUNK = 1 << 20                 # copy/zero in 1 MiB pieces: bounded memory


class LogError(Exception):
    pass


class Log:
    """A log device, read front to back through one buffered file."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb", buffering=CHUNK)
        # seek, not stat: a block device's st_size is 0.
        self.size = self.f.seek(0, os.SEEK_END)
        self.f.seek(0)
        head = self.f.read(SUPER.size)
        if len(head) < SUPER.size:
            raise LogError(f"{path}: too short to hold a log super block")
        magic, version, self.nr_entries, self.sectorsize = SUPER.unpack(head)
        if magic != MAGIC:
            raise LogError(f"{path}: bad magic {magic:#x}, not a dm-log-writes log")
        if version != VERSION:
            raise LogError(f"{path}: log version {version}, only {VERSION} is known")
        ss = self.sectorsize
        if ss < 512 or ss & (ss - 1):
            raise LogError(f"{path}: bad sectorsize {ss}")

    def entries(self):
        """Yield (index, sector, nr_sectors, flags, name, data_offset) per
        entry; name is the mark's bytes or None.  The caller may read the
        entry's data at data_offset before asking for the next one."""
        ss, pos = self.sectorsize, self.sectorsize
        for index in range(self.nr_entries):
            if pos + ss > self.size:
                raise LogError(f"{self.path}: truncated: entry {index} of {self.nr_entries} "
                               f"would start at byte {pos}, the log ends at {self.size}")
            self.f.seek(pos)
            block = self.f.read(ss)
            sector, nr_sectors, flags, data_len = ENTRY.unpack_from(block)
            name = None
            if flags & MARK:
                if data_len > ss - ENTRY.size:
                    raise LogError(f"{self.path}: entry {index}: mark of {data_len} bytes "
                                   f"does not fit its {ss}-byte block")
                name = block[ENTRY.size:ENTRY.size + data_len]
            data_bytes = 0 if flags & DISCARD else nr_sectors * ss
            if pos + ss + data_bytes > self.size:
                raise LogError(f"{self.path}: truncated: entry {index}'s {data_bytes} bytes "
                               f"of data run past the log's end at {self.size}")
            yield index, sector, nr_sectors, flags, name, pos + ss
            pos += ss + data_bytes

    def copy(self, out, src, dst, length):
        self.f.seek(src)
        out.seek(dst)
        while length:
            piece = self.f.read(min(length, CHUNK))
            out.write(piece)
            length -= len(piece)


def replay(log, target, first, upto):
    if not 0 <= first <= upto <= log.nr_entries:
        raise LogError(f"bad range [{first}, {upto}): the log has {log.nr_entries} entries")
    ss, zeros = log.sectorsize, bytes(CHUNK)
    with open(target, "r+b", buffering=0) as out:
        target_size = out.seek(0, os.SEEK_END)
        for index, sector, nr_sectors, flags, name, data in log.entries():
            if index >= upto:
                break
            if index < first or flags & MARK or not nr_sectors:
                continue
            offset, length = sector * ss, nr_sectors * ss
            if offset + length > target_size:
                raise LogError(f"entry {index} covers bytes {offset}-{offset + length}, "
                               f"past the end of {target} ({target_size} bytes)")
            if flags & DISCARD:
                # A discarded range may read back as zeros; make it so.
                out.seek(offset)
                while length:
                    length -= out.write(zeros[:min(length, CHUNK)])
            else:
                log.copy(out, data, offset, length)
        os.fsync(out.fileno())


def main(argv):
    shapes = {"marks": 1, "count": 1, "replay": 3, "replay-inc": 4, "selftest": 0}
    if not argv or shapes.get(argv[0]) != len(argv) - 1:
        raise LogError("usage: logwrites.py marks|count LOGDEV | replay LOGDEV TARGET UPTO"
                       " | replay-inc LOGDEV TARGET FROM UPTO | selftest")
    cmd, args = argv[0], argv[1:]
    if cmd == "selftest":
        return selftest()
    log = Log(args[0])
    if cmd == "marks":
        for index, _, _, _, name, _ in log.entries():
            if name is not None:
                text = name.replace(b"\0", b"").decode("utf-8", "replace")
                print(index, text)
    elif cmd == "count":
        for _ in log.entries():  # walk it all, so that a truncated log fails
            pass
        print(log.nr_entries)
    else:
        try:
            numbers = [int(a) for a in args[2:]]
        except ValueError:
            raise LogError(f"not an entry index: {' '.join(args[2:])}")
        first, upto = numbers if cmd == "replay-inc" else (0, numbers[0])
        replay(log, args[1], first, upto)


# ---- selftest: a synthetic log in the format above, replayed and checked.

def build_log(path, ss, entries, counted):
    """Write a log of entries (sector, nr_sectors, flags, payload) whose
    super counts only the first `counted`, as the kernel's may."""
    with open(path, "wb") as f:
        f.write(SUPER.pack(MAGIC, VERSION, counted, ss).ljust(ss, b"\0"))
        for sector, nr, flags, payload in entries:
            meta = payload if flags & MARK else b""
            f.write((ENTRY.pack(sector, nr, flags, len(meta)) + meta).ljust(ss, b"\0"))
            if not flags & (MARK | DISCARD):
                f.write(payload)


def selftest():
    def run(*args):
        p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def expect_error(what, *args):
        rc, out, err = run(*args)
        assert rc == 1 and err.startswith("logwrites.py: ") and not out, (what, rc, out, err)

    for ss in (512, 4096):
        blk = lambda c, n: bytes([c]) * (n * ss)
        entries = [
            (2, 2, 0, blk(0x41, 2)),               # 0 write A over blocks 2-3
            (0, 1, FUA, blk(0x42, 1)),             # 1 FUA write B over block 0
            (0, 0, MARK, b"first"),                # 2
            (3, 2, DISCARD, None),                 # 3 discard blocks 3-4
            (0, 0, FLUSH, b""),                    # 4 pure flush
            (5, 3, FLUSH | FUA, os.urandom(3 * ss)),  # 5 random data, blocks 5-7
            (3, 1, METADATA, blk(0x43, 1)),        # 6 write C over block 3
            (0, 0, MARK, b"dm-log-writes-end"),    # 7
        ]
        stale = [(0, 1, 0, blk(0x5A, 1))]          # past nr_entries: ignored
        base = blk(0xEE, 16)

        def expected(upto):  # the image after entries [0, upto), modelled directly
            img = bytearray(base)
            for sector, nr, flags, payload in entries[:upto]:
                if flags & DISCARD:
                    img[sector * ss:(sector + nr) * ss] = bytes(nr * ss)
                elif nr:
                    img[sector * ss:(sector + nr) * ss] = payload
            return bytes(img)

        with tempfile.TemporaryDirectory() as tmp:
            log, img = os.path.join(tmp, "log"), os.path.join(tmp, "img")
            build_log(log, ss, entries + stale, len(entries))

            def fresh(image=base):
                with open(img, "wb") as f:
                    f.write(image)

            def read():
                with open(img, "rb") as f:
                    return f.read()

            assert run("count", log) == (0, "8\n", ""), run("count", log)
            assert run("marks", log) == (0, "2 first\n7 dm-log-writes-end\n", ""), run("marks", log)
            for upto in range(len(entries) + 1):
                fresh()
                assert run("replay", log, img, str(upto)) == (0, "", ""), upto
                assert read() == expected(upto), (ss, upto)
            fresh()
            for a, b in ((0, 3), (3, 3), (3, 6), (6, 8)):  # incremental, same image
                assert run("replay-inc", log, img, str(a), str(b)) == (0, "", ""), (a, b)
                assert read() == expected(b), (ss, a, b)
            expect_error("upto past the end", "replay", log, img, "9")
            expect_error("from after upto", "replay-inc", log, img, "5", "4")
            expect_error("not a number", "replay", log, img, "x")
            fresh(base[:6 * ss])  # too small for entry 5
            expect_error("target too small", "replay", log, img, "8")
            fresh()
            with open(log, "r+b") as f:  # cut inside entry 5's data
                f.truncate(ss * 7 + ss * 2)
            expect_error("truncated count", "count", log)
            expect_error("truncated replay", "replay", log, img, "8")
            with open(log, "r+b") as f:
                f.write(b"\0" * 8)
            expect_error("bad magic", "count", log)
            expect_error("missing log", "count", os.path.join(tmp, "none"))
    print("selftest passed")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (LogError, OSError) as e:
        sys.stderr.write(f"logwrites.py: {e}\n")
        sys.exit(1)
