#!/usr/bin/python3
"""The workload of journal_power_cut_fsync, and its check after a power cut.

usage: powercut.py run DIR MANIFEST MARKCMD...
       powercut.py check DIR MANIFEST STEP [between]

run: POWERCUT_STEPS steps in DIR, each one operation (create, append,
overwrite, fallocate, truncate, rename, unlink, mkdir; three creates, then
each kind once, then random ones) followed by an fsync of what it changed (the file, and its directory when a name changed).  Once the
fsync returned, MARKCMD is run with the step's number appended (it puts
a mark in dm-log-writes' log).  MANIFEST gets one JSON line per step:
the names in DIR after it, with the sha256 and size of each file.

Every byte written is its file's: each 4 KiB block starts with
"<file id> <block> <version>" and repeats it, so that a block of one
file found in another is seen.

check: DIR as the image holds it after a power cut at STEP's mark (its
fsync returned): the names and every file's bytes are exactly STEP's.
With "between": the cut came after STEP's mark but before STEP+1's: the
same holds except for what step STEP+1 touched, whose names may or may
not be there, and whose blocks must be zeros or the file's own.
Prints what it checked; exits 1 with the first difference.
"""
import hashlib
import json
import os
import random
import subprocess
import sys

BS = 4096
STEPS = int(os.environ.get("POWERCUT_STEPS", "40"))


def block(fid, n, version):
    head = b"%s %d %d\n" % (fid.encode(), n, version)
    return (head * (BS // len(head) + 1))[:BS]


def fsync_path(p):
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def write_blocks(path, fid, first, count, version):
    with open(path, "r+b" if os.path.exists(path) else "wb") as f:
        f.seek(first * BS)
        for n in range(first, first + count):
            f.write(block(fid, n, version))
        f.flush()
        os.fsync(f.fileno())


def snapshot(top):
    names = {}
    for root, dirs, files in os.walk(top):
        for d in dirs:
            names[os.path.relpath(os.path.join(root, d), top)] = "dir"
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                data = f.read()
            names[os.path.relpath(p, top)] = [len(data), hashlib.sha256(data).hexdigest()]
    return names


OPS = ["create", "append", "overwrite", "fallocate", "truncate", "rename", "unlink", "mkdir"]


def step(top, rng, i, files, version, op=None):
    """One operation (OP, else a random one) and its fsyncs; returns the
    names it touched."""
    live = sorted(files)
    if op is None:
        op = rng.choice(OPS + ["create"]) if live else "create"
    if op == "create" or (op in ("rename", "unlink") and len(live) < 3):
        name = "d%d/f%d" % (i % 3, i)
        os.makedirs(os.path.join(top, "d%d" % (i % 3)), exist_ok=True)
        write_blocks(os.path.join(top, name), "f%d" % i, 0, rng.randint(1, 40), version)
        files[name] = "f%d" % i
        fsync_path(os.path.dirname(os.path.join(top, name)))
        fsync_path(top)
        return [name]
    name = rng.choice(live)
    p = os.path.join(top, name)
    nblocks = (os.path.getsize(p) + BS - 1) // BS
    if op == "append":
        write_blocks(p, files[name], nblocks, rng.randint(1, 64), version)
    elif op == "overwrite":
        first = rng.randrange(max(nblocks, 1))
        write_blocks(p, files[name], first, rng.randint(1, 8), version)
    elif op == "fallocate":
        fd = os.open(p, os.O_RDWR)
        os.posix_fallocate(fd, nblocks * BS, rng.randint(1, 256) * BS)
        os.fsync(fd)
        os.close(fd)
    elif op == "truncate":
        os.truncate(p, rng.randrange(nblocks * BS + 1))
        fsync_path(p)
    elif op == "rename":
        new = "d%d/r%d" % (rng.randrange(3), i)
        os.makedirs(os.path.join(top, os.path.dirname(new)), exist_ok=True)
        os.rename(p, os.path.join(top, new))
        files[new] = files.pop(name)
        for d in {os.path.dirname(p), os.path.dirname(os.path.join(top, new))}:
            fsync_path(d)
        return [name, new]
    elif op == "unlink":
        os.unlink(p)
        del files[name]
        fsync_path(os.path.dirname(p))
    elif op == "mkdir":
        name = "d%d/sub%d" % (rng.randrange(3), i)
        os.makedirs(os.path.join(top, name))
        fsync_path(os.path.dirname(os.path.join(top, name)))
    return [name]


def run(top, manifest, markcmd):
    rng = random.Random(int(os.environ.get("POWERCUT_SEED", "1")))
    files = {}
    # Three files, then every operation once in a random order, then random
    # ones: a short run still covers each kind.
    plan = ["create"] * 3 + rng.sample(OPS, len(OPS))
    with open(manifest, "w") as out:
        for i in range(STEPS):
            touched = step(top, rng, i, files, version=i, op=plan[i] if i < len(plan) else None)
            subprocess.run(markcmd + [str(i)], check=True)
            out.write(json.dumps({"step": i, "touched": touched, "ids": files,
                                  "names": snapshot(top)}) + "\n")
            out.flush()


def own_blocks(path, fid):
    with open(path, "rb") as f:
        n = 0
        while True:
            b = f.read(BS)
            if not b:
                return None
            if b.strip(b"\0") and not b.startswith(b"%s %d " % (fid.encode(), n)):
                return "block %d of %s holds %r" % (n, path, b[:24])
            n += 1


def check(top, manifest, stepno, between):
    steps = [json.loads(line) for line in open(manifest)]
    want = steps[stepno]
    nxt = steps[stepno + 1] if between and stepno + 1 < len(steps) else None
    loose = set(nxt["touched"]) if nxt else set()
    for t in list(loose):
        loose.update(os.path.dirname(t).split("/")[:1])
    got = snapshot(top)
    got.pop("lost+found", None)
    for name, meta in want["names"].items():
        if name in loose:
            continue
        if got.get(name) != meta:
            return "%s: %s, want %s" % (name, got.get(name, "missing"), meta)
    for name in got:
        if name not in want["names"] and name not in loose:
            return "%s is there, but step %d did not leave it" % (name, stepno)
    ids = dict(want["ids"], **(nxt["ids"] if nxt else {}))
    for name in loose:
        if got.get(name) not in (None, "dir") and name in ids:
            bad = own_blocks(os.path.join(top, name), ids[name])
            if bad:
                return bad
    print("step %d%s: %d names checked" % (stepno, " (+ part of the next)" if nxt else "",
                                           len(want["names"])))
    return None


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4:])
        return 0
    if len(sys.argv) in (5, 6) and sys.argv[1] == "check":
        err = check(sys.argv[2], sys.argv[3], int(sys.argv[4]),
                    len(sys.argv) == 6 and sys.argv[5] == "between")
        if err:
            print("powercut.py: " + err, file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
