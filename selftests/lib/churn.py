#!/usr/bin/env python3
"""Random namespace and data churn, checked against a model.

usage: churn.py DIR SECONDS SEED [NAME=WEIGHT,...]
       churn.py --seed SEED [--procs N] [--ops N] [--only I] [--manifest FILE] DIR
       churn.py --check MANIFEST DIR

First form: one process, in DIR, for SECONDS.  NAME is write, read,
truncate, rename, unlink or direct (the share of writes and reads done
with O_DIRECT, in percent); paranoid=1 checks the whole file after every
operation.  Creates, writes (buffered and O_DIRECT), reads back,
truncates, renames (over existing files too) and unlinks files under DIR,
keeping what each file must hold in memory; every read is compared with
the model, and at the end every file is.

Second form (--seed): N processes (default 4), OPS operations each
(default 5000), on directories they share (DIR/s0..s3): create, mkdir,
rmdir, link, symlink, unlink, rename, chmod/chown/utimes, truncate,
fallocate (KEEP_SIZE too), buffered and O_DIRECT writes and reads, fsync
and fdatasync, readdir.  Each process owns its regular files (p<I>f<K>,
in any shared directory) and checks their bytes, size, mode, owner and
times against its model, and that readdir lists exactly its own names
where they are; the other names (sub<K> directories, l<K> symlinks, h<K>
hard links to anyone's files) race between processes, so an error another
process can cause (ENOENT, EEXIST, ENOTEMPTY) is expected there.  Any
other error fails.  Worker I draws from SEED/I alone: --only I replays
one worker by itself.  --manifest writes every owned file's model (path,
size, sha256, mode, owner, mtime) for --check, which checks DIR (say, the
same image mounted another way) against it.

Exit 1 at the first difference or unexpected error (with the seed and
the command that replays it); print the counts of operations done.
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


# --- shared directories, several processes -----------------------------------

import ctypes
import errno
import hashlib
import itertools
import json
import stat as st_

FALLOC_FL_KEEP_SIZE = 1
NDIRS, NFILES, NNAMES = 4, 6, 8
S_MAX = 192 * 1024          # small files: cheap ops, and still trees of depth 1
SHARED_OPS = {              # name: weight (create first, write second: the loop relies on it)
    "create": 3, "write": 14, "dwrite": 8, "read": 10, "dread": 5, "truncate": 6,
    "falloc": 8, "fsync": 2, "attr": 6, "rename": 5, "unlink": 3, "link": 4,
    "symlink": 4, "mkdir": 4, "rmdir": 4, "readdir": 5, "unlink_name": 4, "rename_name": 4,
}
_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]


def fallocate(fd, mode, off, n):
    if _libc.fallocate(fd, mode, off, n) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Fail(Exception):
    pass


def worker(top, seed, me, nops):
    rnd = random.Random("%d/%d" % (seed, me))
    os.umask(0)
    files = {}      # k -> {"dir", "data", "mode", "uid", "gid", "mtime"}
    recent = []     # the last operations, for the failure message
    counts, spent = {}, {}
    buf = mmap.mmap(-1, 4 * BS)

    def own(k, d=None):
        return os.path.join(top, "s%d" % (files[k]["dir"] if d is None else d), "p%df%d" % (me, k))

    def shared(kind):
        """A racing name: top-level, or one level down in a sub directory."""
        d = os.path.join(top, "s%d" % rnd.randrange(NDIRS))
        if kind != "sub" and rnd.random() < 0.3:
            d = os.path.join(d, "sub%d" % rnd.randrange(NNAMES))
        return os.path.join(d, "%s%d" % (kind, rnd.randrange(NNAMES)))

    def diff(k, data, off, what):
        want = bytes(files[k]["data"][off:off + len(data)])
        if data == want:
            return
        i = next((i for i in range(min(len(data), len(want))) if data[i] != want[i]),
                 min(len(data), len(want)))
        raise Fail("%s: %s of %d at %d (size %d): got %d bytes, want %d; first difference at %d (%s)"
                   % (own(k), what, len(data), off, len(files[k]["data"]), len(data), len(want),
                      off + i, "zeros" if not any(data[i:i + 16]) else "data"))

    def check_stat(k):
        f, st = files[k], os.stat(own(k))
        got = (st.st_size, st_.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        want = (len(f["data"]), f["mode"], f["uid"], f["gid"])
        if got != want:
            raise Fail("%s: (size, mode, uid, gid) %s, want %s" % (own(k), got, want))
        if f["mtime"] is not None and st.st_mtime_ns != f["mtime"]:
            raise Fail("%s: mtime %d, want %d" % (own(k), st.st_mtime_ns, f["mtime"]))

    def fd_of(k, direct):
        """Mostly a descriptor kept open (opens and closes are slow under
        emulation), sometimes a fresh one; done() closes only those."""
        f, flags = files[k], os.O_RDWR | (os.O_DIRECT if direct else 0)
        if rnd.random() < 0.15:
            return os.open(own(k), flags), True
        if f["fds"][direct] is None:
            f["fds"][direct] = os.open(own(k), flags)
        return f["fds"][direct], False

    def done(fd, fresh):
        if fresh:
            os.close(fd)

    def forget(k):
        for fd in files.pop(k)["fds"]:
            if fd is not None:
                os.close(fd)

    def extend(k, size):
        m = files[k]["data"]
        if len(m) < size:
            m.extend(bytes(size - len(m)))
        files[k]["mtime"] = None

    def op_create(k):
        d = rnd.randrange(NDIRS)
        mode = rnd.choice([0o644, 0o600, 0o664])
        files[k] = {"dir": d, "data": bytearray(), "mode": mode, "uid": 0, "gid": 0, "mtime": None,
                    "fds": [None, None]}
        files[k]["fds"][0] = os.open(own(k), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)

    def write_at(k, off, data, direct):
        n = len(data)
        fd, fresh = fd_of(k, direct)
        try:
            if direct:
                buf[:n] = data
                got = os.pwritev(fd, [memoryview(buf)[:n]], off)
            else:
                got = os.pwrite(fd, data, off)
        finally:
            done(fd, fresh)
        if got != n:
            raise Fail("%s: short %swrite at %d: %d of %d"
                       % (own(k), "O_DIRECT " if direct else "", off, got, n))
        extend(k, off + n)
        files[k]["data"][off:off + n] = data
        return "%d+%d" % (off, n)

    def op_write(k):
        off, n = rnd.randrange(S_MAX), rnd.randint(1, 2 * BS)
        return write_at(k, off, rnd.randbytes(n), False)

    def op_dwrite(k):
        off, n = rnd.randrange(S_MAX // BS) * BS, rnd.randint(1, 4) * BS
        return write_at(k, off, rnd.randbytes(n), True)

    def op_read(k):
        if rnd.random() < 0.3:
            check_stat(k)
        off = rnd.randrange(len(files[k]["data"]) + 1)
        fd, fresh = fd_of(k, False)
        try:
            data = os.pread(fd, rnd.randint(1, 4 * BS), off)
        finally:
            done(fd, fresh)
        diff(k, data, off, "read")
        return "%d" % off

    def op_dread(k):
        off, n = rnd.randrange((S_MAX + 16 * BS) // BS) * BS, rnd.randint(1, 4) * BS
        fd, fresh = fd_of(k, True)
        try:
            got = os.preadv(fd, [memoryview(buf)[:n]], off)
        finally:
            done(fd, fresh)
        diff(k, bytes(buf[:got]), off, "O_DIRECT read")
        return "%d+%d" % (off, n)

    def op_truncate(k):
        size = rnd.randrange(S_MAX)
        os.truncate(own(k), size)
        del files[k]["data"][size:]
        extend(k, size)
        return "%d" % size

    def op_falloc(k):
        off, n = rnd.randrange(S_MAX), rnd.randint(1, 16 * BS)
        keep = rnd.random() < 0.6
        fd, fresh = fd_of(k, False)
        try:
            fallocate(fd, FALLOC_FL_KEEP_SIZE if keep else 0, off, n)
        finally:
            done(fd, fresh)
        if not keep:
            extend(k, off + n)
        files[k]["mtime"] = None
        return "%s%d+%d" % ("keep " if keep else "", off, n)

    def op_fsync(k):
        how = rnd.randrange(3)
        fd, fresh = fd_of(k, False) if how < 2 else (os.open(os.path.dirname(own(k)), os.O_RDONLY), True)
        try:
            (os.fsync, os.fdatasync, os.fsync)[how](fd)
        finally:
            done(fd, fresh)
        return ("fsync", "fdatasync", "fsync dir")[how]

    def op_attr(k):
        how = rnd.randrange(3)
        if how == 0:
            files[k]["mode"] = rnd.choice([0o600, 0o640, 0o644, 0o664, 0o700, 0o755])
            os.chmod(own(k), files[k]["mode"])
        elif how == 1:
            files[k]["uid"], files[k]["gid"] = rnd.choice([0, 1000, 65534]), rnd.choice([0, 100, 65534])
            os.chown(own(k), files[k]["uid"], files[k]["gid"])
        else:
            t = rnd.randrange(1 << 31) * 10 ** 9 + rnd.randrange(10 ** 9)
            os.utime(own(k), ns=(t, t))
            files[k]["mtime"] = t
        return ("chmod", "chown", "utimes")[how]

    def op_rename(k):
        to, d = rnd.randrange(NFILES), rnd.randrange(NDIRS)
        src = own(k)
        if to in files:
            dst = own(to)
        else:
            dst = os.path.join(top, "s%d" % d, "p%df%d" % (me, to))
        os.rename(src, dst)
        if to in files and to != k:
            forget(to)
        f = files.pop(k)
        f["dir"] = int(os.path.basename(os.path.dirname(dst))[1:])
        files[to] = f
        return "-> %s" % dst

    def op_unlink(k):
        os.unlink(own(k))
        forget(k)

    def op_link(k):
        os.link(own(k), shared("h"))

    def op_symlink(k):
        os.symlink(rnd.choice(["../s0", "p%df%d" % (me, k), "x" * rnd.randint(1, 200)]),
                   shared("l"))

    def op_mkdir(k):
        d = shared("sub")
        if rnd.random() < 0.3:
            d = os.path.join(d, "sub%d" % rnd.randrange(NNAMES))
        os.mkdir(d)

    def op_rmdir(k):
        d = shared("sub")
        if rnd.random() < 0.3:
            d = os.path.join(d, "sub%d" % rnd.randrange(NNAMES))
        os.rmdir(d)

    def op_readdir(k):
        d = rnd.randrange(NDIRS)
        if rnd.random() < 0.3:
            os.listdir(shared("sub"))
            return
        names = os.listdir(os.path.join(top, "s%d" % d))
        got = sorted(n for n in names if n.startswith("p%df" % me))
        want = sorted("p%df%d" % (me, j) for j, f in files.items() if f["dir"] == d)
        if got != want:
            raise Fail("readdir s%d: own names %s, want %s" % (d, got, want))

    def op_unlink_name(k):
        os.unlink(shared(rnd.choice("hl")))

    def op_rename_name(k):
        kind = rnd.choice(["h", "l", "sub"])
        os.rename(shared(kind), shared(kind))

    # What another process can make happen to a racing name.
    racing = {"link": {errno.EEXIST, errno.ENOENT}, "symlink": {errno.EEXIST, errno.ENOENT},
              "mkdir": {errno.EEXIST, errno.ENOENT}, "rmdir": {errno.ENOENT, errno.ENOTEMPTY},
              "readdir": {errno.ENOENT}, "unlink_name": {errno.ENOENT},
              "rename_name": {errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST}}
    ops = locals()
    fns = [ops["op_" + n] for n in SHARED_OPS]
    names, cum = list(SHARED_OPS), list(itertools.accumulate(SHARED_OPS.values()))
    timed = bool(os.environ.get("CHURN_TIMES"))

    def before():
        return "; the operations before: " + " ".join(
            "%s(p%df%d)%s" % (names[j], me, k, "[%s]" % what if what else "") for j, k, what in recent)

    for i in range(nops):
        j = rnd.choices(range(len(names)), cum_weights=cum)[0]
        k = rnd.randrange(NFILES)
        if k not in files:
            j = 0
        elif j == 0:
            j = 1
        name, what = names[j], None
        t0 = time.monotonic() if timed else 0
        try:
            what = fns[j](k)
            counts[name] = counts.get(name, 0) + 1
        except OSError as e:
            if e.errno not in racing.get(name, ()):
                raise Fail("op %d, %s on p%df%d: unexpected %s%s" % (i, name, me, k, e, before())) from None
            counts[name + "_raced"] = counts.get(name + "_raced", 0) + 1
        except Fail as e:
            raise Fail("op %d, %s: %s%s" % (i, name, e, before())) from None
        if timed:
            spent[name] = spent.get(name, 0) + time.monotonic() - t0
        recent.append((j, k, what))
        if len(recent) > 10:
            del recent[0]
    for f in files.values():
        for fd in f["fds"]:
            if fd is not None:
                os.close(fd)
    for k in sorted(files):
        check_stat(k)
        with open(own(k), "rb") as f:
            diff(k, f.read(), 0, "final whole-file read")
    for d in range(NDIRS):
        got = sorted(n for n in os.listdir(os.path.join(top, "s%d" % d)) if n.startswith("p%df" % me))
        want = sorted("p%df%d" % (me, j) for j, f in files.items() if f["dir"] == d)
        if got != want:
            raise Fail("final readdir s%d: own names %s, want %s" % (d, got, want))
    if os.environ.get("CHURN_TIMES"):
        counts.update(("ms_" + n, int(t * 1000)) for n, t in spent.items())
    return counts, {os.path.relpath(own(k), top): {
        "size": len(f["data"]), "sha256": hashlib.sha256(f["data"]).hexdigest(),
        "mode": f["mode"], "uid": f["uid"], "gid": f["gid"], "mtime": f["mtime"]}
        for k, f in files.items()}


def check_manifest(manifest, top):
    with open(manifest) as f:
        want = json.load(f)
    for rel, m in sorted(want.items()):
        p = os.path.join(top, rel)
        st = os.stat(p)
        with open(p, "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()
        got = {"size": st.st_size, "sha256": h, "mode": st_.S_IMODE(st.st_mode),
               "uid": st.st_uid, "gid": st.st_gid,
               "mtime": st.st_mtime_ns if m["mtime"] is not None else None}
        if got != m:
            sys.exit("%s: %s, want %s" % (p, got, m))
    print("%d files as in %s" % (len(want), manifest))


def shared_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="churn.py")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--ops", type=int, default=5000)
    ap.add_argument("--only", type=int)
    ap.add_argument("--manifest")
    ap.add_argument("--check", metavar="MANIFEST")
    ap.add_argument("dir")
    a = ap.parse_args(argv)
    if a.check:
        return check_manifest(a.check, a.dir)
    if a.seed is None:
        ap.error("--seed or --check is needed")
    replay = "python3 %s --seed %d --procs %d --ops %d %s" % (
        os.path.abspath(__file__), a.seed, a.procs, a.ops, a.dir)
    print("churn: seed %d; replay: %s (one worker alone: add --only I)" % (a.seed, replay),
          flush=True)
    for d in range(NDIRS):
        os.makedirs(os.path.join(a.dir, "s%d" % d), exist_ok=True)
    workers = [a.only] if a.only is not None else range(a.procs)
    pids = {}
    for me in workers:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                try:
                    res = {"ok": worker(a.dir, a.seed, me, a.ops)}
                except Fail as e:
                    res = {"fail": str(e)}
                except Exception as e:
                    import traceback
                    res = {"fail": "%r at %s" % (e, traceback.format_exc().splitlines()[-3].strip())}
                with os.fdopen(w, "w") as f:
                    json.dump(res, f)
            finally:
                os._exit(0)
        os.close(w)
        pids[me] = (pid, r)
    failed, manifest = [], {}
    for me, (pid, r) in pids.items():
        with os.fdopen(r) as f:
            text = f.read()
        os.waitpid(pid, 0)
        res = json.loads(text) if text else {"fail": "died without an answer"}
        if "fail" in res:
            failed.append("worker %d: %s" % (me, res["fail"]))
            continue
        counts, files = res["ok"]
        manifest.update(files)
        print("worker %d: %s" % (me, " ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    if failed:
        for f in failed:
            print(f)
        sys.exit("churn seed %d: %s; replay: %s" % (a.seed, failed[0], replay))
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(manifest, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
        shared_main(sys.argv[1:])
    else:
        main()
