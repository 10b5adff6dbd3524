#!/usr/bin/env python3
"""Drive fuzzed iomap answers through the kernel and judge every one.

  fuzz_check.py batch PLAN                      bpftool batch lines filling
                                                fz_answers from a --plan file
  fuzz_check.py run reply MNT DEV LOG CONN N SEED
  fuzz_check.py run bpf   MNT DEV LOG CONN PLAN

"run" does one 4 KiB O_DIRECT read or write of MNT/f per answer: in reply
mode N operations on random blocks, each answered by fuse-iomap-fuzz (its
LOG says what it put on the wire); in bpf mode one operation per PLAN line
on that line's block, answered by fuzz_answers from the map (and by the
server, with valid mappings, when the program has no answer).  For each,
the oracle below (the validation rules restated from the ABI's point of
view) says what the kernel must do: fail with EIO (and which rule's counter
moves), fail with the errno given, read zeros, or move the bytes to or from
the claimed device address, which is then read back from DEV.  At the end
the connection's counters (sysfs dir CONN) must agree.  Exit 1 with the
first disagreement; print a summary.
"""
import errno
import mmap
import os
import random
import re
import sys
import time

BS = 4096
HDR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../include/fuse_iomap_bpf.h")


def abi():
    """The FUSE_IOMAP_* numbers of the ABI header, and its rule names in order."""
    text = open(HDR).read()
    c = {}
    for name, expr in re.findall(r"^#define\s+(FUSE_\w+)\s+(.+?)\s*(?:/\*.*)?$", text, re.M):
        expr = re.sub(r"(?<=[0-9a-fA-F])[uUlL]+\b", "", expr)
        if re.fullmatch(r"[()~0-9a-fA-FxX <]+", expr):
            c[name] = eval(expr) & (2 ** 64 - 1)
    body = re.search(r"#define FUSE_IOMAP_RULE_LIST\(X\)(.*?)\n\n", text, re.S).group(1)
    rules = re.findall(r"X\(\w+, (\w+)\)", body)
    return c, rules


C, RULES = abi()
T_HOLE, T_DELALLOC, T_MAPPED = C["FUSE_IOMAP_TYPE_HOLE"], C["FUSE_IOMAP_TYPE_DELALLOC"], C["FUSE_IOMAP_TYPE_MAPPED"]
T_UNWRITTEN, T_INLINE, T_OVER = C["FUSE_IOMAP_TYPE_UNWRITTEN"], C["FUSE_IOMAP_TYPE_INLINE"], C["FUSE_IOMAP_TYPE_PURE_OVERWRITE"]
NULL_ADDR, MAX_END, DEV_NULL = C["FUSE_IOMAP_NULL_ADDR"], C["FUSE_IOMAP_MAX_END"], C["FUSE_IOMAP_DEV_NULL"]
F_OK = (C["FUSE_IOMAP_F_NEW"] | C["FUSE_IOMAP_F_DIRTY"] | C["FUSE_IOMAP_F_SHARED"] |
        C["FUSE_IOMAP_F_MERGED"] | C["FUSE_IOMAP_F_WANT_IOMAP_END"] | C["FUSE_IOMAP_F_WANT_IOEND"])
OP_WRITE, OP_DIRECT = C["FUSE_IOMAP_OP_WRITE"], C["FUSE_IOMAP_OP_DIRECT"]
NO_ANSWER = C["FUSE_BPF_NO_ANSWER"]
S_MAXBYTES = 2 ** 63 - 1        # MAX_LFS_FILESIZE, what fuse sets
U64 = 2 ** 64


class Io:
    def __init__(self, f):
        self.type, self.offset, self.length, self.addr, self.dev, self.flags = (int(x, 0) for x in f)


def rule_of(m, pos, write_map, devs):
    """The first rule mapping m breaks for pos, or None."""
    mask = BS - 1
    if m.type == T_INLINE:
        return "inline"
    if m.type == T_OVER:
        return "pure_overwrite"
    if m.type not in (T_HOLE, T_DELALLOC, T_MAPPED, T_UNWRITTEN):
        return "type"
    if m.flags & ~F_OK:
        return "flags"
    if not m.length:
        return "length"
    if m.offset >= S_MAXBYTES:
        return "maxbytes"
    end = m.offset + m.length
    if end >= U64 or end > MAX_END:
        return "overflow"
    if (m.offset | m.length) & mask:
        return "align"
    if pos < m.offset or pos >= end:
        return "pos"
    if m.type in (T_HOLE, T_DELALLOC):
        return "unexpected_dev" if m.dev != DEV_NULL or m.addr != NULL_ADDR else None
    if m.dev == DEV_NULL or m.addr == NULL_ADDR:
        return "need_dev"
    if m.addr & mask:
        return "align"
    if m.addr + m.length >= U64:
        return "overflow"
    if m.dev not in devs:
        return "dev_unknown"
    size, writable = devs[m.dev]
    if m.addr + m.length > size:
        return "dev_range"
    if write_map and not writable:
        return "dev_readonly"
    return None


def use(m, pos, write_map, need_mapped, devs):
    r = rule_of(m, pos, write_map, devs)
    # An unwritten extent is written when the server converts it at ioend.
    if r is None and need_mapped and m.type != T_MAPPED and not (
            m.type == T_UNWRITTEN and m.flags & C["FUSE_IOMAP_F_WANT_IOEND"]):
        r = "write_type"
    return r


def apply(opflags, rd, wr, pos, devs):
    """(rule, the mapping the I/O uses) for an O_DIRECT read or write."""
    if not opflags & OP_WRITE:
        return use(rd, pos, False, False, devs), rd
    if wr.type == T_OVER:
        return use(rd, pos, True, True, devs), rd
    r = use(wr, pos, True, True, devs) or use(rd, pos, False, False, devs)
    return r, wr


def expect(mode, opflags, kind, err, rd, wr, pos, devs):
    """What the kernel must do: ("err", errno, rule) | ("zeros",) | ("dev", addr)."""
    if kind in ("short", "long", "junk"):
        return ("err", errno.EIO, None)
    if kind == "errno":
        # A server's ENOSYS means "not implemented": that is an EIO here.
        return ("err", errno.EIO if mode == "reply" and err == errno.ENOSYS else err, None)
    rule, m = apply(opflags, rd, wr, pos, devs)
    if rule:
        return ("err", errno.EIO, rule)
    if not opflags & OP_WRITE:
        if m.type == T_DELALLOC:
            return ("err", errno.EIO, None)     # fs/iomap: no direct read of delalloc
        if m.type != T_MAPPED:
            return ("zeros",)
    return ("dev", m.addr + pos - m.offset)


def parse_begin(line):
    """A fuse-iomap-fuzz BEGIN line: (pos, opflags, kind, errno, read, write, stray)."""
    f = line.split()
    return (int(f[1], 0), int(f[3], 0), f[4], int(f[5]), Io(f[7:13]), Io(f[13:19]), f[19])


def parse_plan(line):
    """A --plan line: (pos, opflags, kind, ret, read, write)."""
    f = line.split()
    return (int(f[1], 0), int(f[2], 0), f[3], int(f[4]), Io(f[5:11]), Io(f[11:17]))


class Run:
    def __init__(self, mnt, dev, log, conn):
        self.fd = os.open(os.path.join(mnt, "f"), os.O_RDWR | os.O_DIRECT)
        self.devfd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
        self.log = open(log)
        self.conn = conn
        self.buf = mmap.mmap(-1, BS)
        self.chk = mmap.mmap(-1, BS)
        self.rules = {r: 0 for r in RULES}
        self.stats = {"ops": 0, "upcalls": 0, "honoured": 0, "refused": 0, "errno": 0,
                      "bytes_checked": 0, "strays": 0}
        for _ in range(100):
            first = self.log.readline().split()
            if first:
                break
            time.sleep(0.1)
        if first[0] != "DEVICE":
            sys.exit("fuzz log does not start with DEVICE: %r" % first)
        self.devs = {int(first[1]): (int(first[2], 0), True)}

    def new_lines(self):
        return [l for l in iter(self.log.readline, "") if l.startswith("BEGIN")]

    def op(self, pos, opflags, rnd):
        """Do one operation; its outcome: ("ok", bytes) or ("err", errno)."""
        try:
            if opflags & OP_WRITE:
                self.buf[:] = rnd.randbytes(BS)
                os.pwritev(self.fd, [self.buf], pos)
            else:
                self.buf[:] = b"\xa5" * BS
                os.preadv(self.fd, [self.buf], pos)
            return ("ok", bytes(self.buf))
        except OSError as e:
            return ("err", e.errno)

    def judge(self, what, want, got):
        self.stats["ops"] += 1
        if want[0] == "err":
            if got != ("err", want[1]):
                sys.exit("%s: want %s, got %s" % (what, errno.errorcode.get(want[1]), show(got)))
            if want[2]:
                self.rules[want[2]] += 1
                self.stats["refused"] += 1
            else:
                self.stats["errno"] += 1
            return
        if got[0] != "ok":
            sys.exit("%s: want %s, got %s" % (what, want, show(got)))
        if want[0] == "zeros":
            ref = bytes(BS)
        else:
            os.preadv(self.devfd, [self.chk], want[1])
            ref = bytes(self.chk)
        if got[1] != ref:
            sys.exit("%s: the bytes differ from %s" % (what, "zeros" if want[0] == "zeros" else
                                                         "the device's at 0x%x" % want[1]))
        self.stats["honoured"] += 1
        self.stats["bytes_checked"] += BS

    def counter(self, name):
        return int(open(os.path.join(self.conn, name)).read())

    def check_rules(self):
        for r in RULES:
            got = self.counter("rejected/" + r)
            if got != self.rules[r]:
                sys.exit("counter rejected/%s is %d, the oracle counted %d" % (r, got, self.rules[r]))


def show(got):
    return "success" if got[0] == "ok" else errno.errorcode.get(got[1], str(got[1]))


def run_reply(r, nops, seed, fsize):
    rnd = random.Random(seed)
    for i in range(nops):
        pos = rnd.randrange(fsize // BS) * BS
        opflags = OP_DIRECT | (OP_WRITE if rnd.random() < 0.3 else 0)
        got = r.op(pos, opflags, rnd)
        lines = r.new_lines()
        if len(lines) != 1:
            sys.exit("op %d: %d FUSE_IOMAP_BEGIN upcalls, want 1" % (i, len(lines)))
        lpos, lop, kind, err, rd, wr, stray = parse_begin(lines[0])
        if (lpos, lop) != (pos, opflags):
            sys.exit("op %d: upcall for 0x%x/0x%x, want 0x%x/0x%x" % (i, lpos, lop, pos, opflags))
        if "!" in stray:
            sys.exit("op %d: a stray write got an unexpected answer: %s" % (i, stray))
        r.stats["strays"] += stray != "-"
        r.stats["upcalls"] += 1
        r.judge("op %d (%s %s at 0x%x): %s" % (i, "write" if opflags & OP_WRITE else "read", kind,
                                              pos, lines[0].strip()),
                expect("reply", opflags, kind, err, rd, wr, pos, r.devs), got)
    r.check_rules()
    if r.counter("iomap_begin_upcalls") != r.stats["upcalls"]:
        sys.exit("begin_upcalls %d, want %d" % (r.counter("iomap_begin_upcalls"), r.stats["upcalls"]))


def overwrite_retried(kind, opflags, rd, wr, pos, devs):
    """Whether a shared overwrite attempt (OVERWRITE_ONLY) is turned back.

    No answer, or a sound mapping that is not a written block wanting
    nothing at ioend, sends the write back to be retried exclusive, and the
    program is asked again.  An errno or a broken rule fails it at once.
    """
    if kind == "none":
        return True
    if kind != "map":
        return False
    rule, m = apply(opflags, rd, wr, pos, devs)
    return rule is None and (m.type != T_MAPPED or
                             bool(m.flags & (C["FUSE_IOMAP_F_NEW"] | C["FUSE_IOMAP_F_WANT_IOEND"])))


def run_bpf(r, plan):
    rnd = random.Random(1)
    want = {"bpf_hits": 0, "bpf_rejected": 0, "bpf_errors": 0, "bpf_fallbacks": 0}
    calls = sum(r.counter(n) for n in want)
    # Every write is one aligned block inside i_size: from the second on, when
    # the first has set S_NOSEC, each is first tried with i_rwsem shared.
    nosec = False
    for i, line in enumerate(plan):
        pos, opflags, kind, ret, rd, wr = parse_plan(line)
        got = r.op(pos, opflags, rnd)
        lines = r.new_lines()
        what = "block %d (%s, ret %d): %s" % (i, "write" if opflags & OP_WRITE else "read", ret,
                                              line.strip())
        shared = bool(opflags & OP_WRITE) and nosec
        nosec = nosec or bool(opflags & OP_WRITE)
        # glibc's preadv2/pwritev2 try the old syscall after ENOSYS: twice.
        asks = 2 if got == ("err", errno.ENOSYS) else 1
        if shared and overwrite_retried(kind, opflags, rd, wr, pos, r.devs):
            asks = 2
        now = sum(r.counter(n) for n in want)
        if now - calls != asks:
            sys.exit("%s: the program was asked %d times, want %d (%s)" %
                     (what, now - calls, asks, show(got)))
        calls = now
        if kind == "none":
            # No answer: the upcall, answered with a valid mapping.
            if len(lines) != 1:
                sys.exit("%s: %d upcalls, want 1" % (what, len(lines)))
            lpos, lop, skind, err, rd, wr, _ = parse_begin(lines[0])
            # The server never sees a shared attempt's OVERWRITE_ONLY.
            if (lpos, lop) != (pos, opflags):
                sys.exit("%s: upcall for 0x%x/0x%x, want 0x%x/0x%x" % (what, lpos, lop, pos, opflags))
            want["bpf_fallbacks"] += asks
            r.stats["upcalls"] += 1
            r.judge(what, expect("reply", lop, skind, err, rd, wr, pos, r.devs), got)
            continue
        if lines:
            sys.exit("%s: %d upcalls, want none" % (what, len(lines)))
        e = expect("bpf", opflags, kind, -ret if kind == "errno" else 0, rd, wr, pos, r.devs)
        if kind == "map":
            want["bpf_rejected" if e[0] == "err" and e[2] else "bpf_hits"] += asks
        else:
            want["bpf_errors"] += asks
        r.judge(what, e, got)
    r.check_rules()
    for name, n in want.items():
        if r.counter(name) != n:
            sys.exit("counter %s is %d, want %d" % (name, r.counter(name), n))


def batch(plan_file):
    for i, line in enumerate(open(plan_file)):
        pos, opflags, kind, ret, rd, wr = parse_plan(line)
        val = (ret & 0xffffffff).to_bytes(4, "little") + bytes(4)
        for m in (rd, wr):
            val += (m.offset.to_bytes(8, "little") + m.length.to_bytes(8, "little") +
                    m.addr.to_bytes(8, "little") + m.type.to_bytes(2, "little") +
                    m.flags.to_bytes(2, "little") + m.dev.to_bytes(4, "little"))
        print("map update name fz_answers key hex %s value hex %s" %
              (" ".join("%02x" % b for b in i.to_bytes(4, "little")),
               " ".join("%02x" % b for b in val)))


def main():
    a = sys.argv[1:]
    if a[:1] == ["batch"] and len(a) == 2:
        return batch(a[1])
    if a[:2] == ["run", "reply"] and len(a) == 8:
        r = Run(*a[2:6])
        run_reply(r, int(a[6]), int(a[7]), os.fstat(r.fd).st_size)
    elif a[:2] == ["run", "bpf"] and len(a) == 7:
        r = Run(*a[2:6])
        run_bpf(r, open(a[6]).readlines())
    else:
        sys.exit(__doc__)
    s = r.stats
    print("%d operations: %d honoured (%d bytes compared), %d refused by a rule, %d errors "
          "passed on; %d upcalls, %d stray writes; rules: %s" %
          (s["ops"], s["honoured"], s["bytes_checked"], s["refused"], s["errno"], s["upcalls"],
           s["strays"], " ".join("%s=%d" % kv for kv in r.rules.items() if kv[1])))


if __name__ == "__main__":
    main()
