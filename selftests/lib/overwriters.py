#!/usr/bin/python3
# overwriters.py FILE JOBS WRITES SEED OUT: JOBS processes at once, each making
# WRITES 4 KiB O_DIRECT overwrites at random blocks of its own 1/JOBS of
# FILE (which must exist, a multiple of 4 KiB * JOBS), each block's bytes
# derived from SEED, the job and the block; then writes to OUT the sha256
# of what FILE must now hold, computed from its old bytes (read first) and
# the writes.  The last write of a block wins, as each job writes its own part.
import hashlib
import mmap
import os
import random
import sys

path, jobs, writes, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
BS = 4096
size = os.path.getsize(path)
part = size // BS // jobs
with open(path, "rb") as f:
    want = bytearray(f.read())


def block(job, b, n):
    return hashlib.sha256(("%s %d %d %d" % (seed, job, b, n)).encode()).digest() * (BS // 32)


def plan(job):
    rnd = random.Random("%s %d" % (seed, job))
    return [job * part + rnd.randrange(part) for _ in range(writes)]


pids = []
for job in range(jobs):
    pid = os.fork()
    if pid == 0:
        fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, BS)
        for n, b in enumerate(plan(job)):
            buf[:] = block(job, b, n)
            if os.pwrite(fd, buf, b * BS) != BS:
                os._exit(2)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    _, status = os.waitpid(pid, 0)
    if status:
        sys.exit("overwriters.py: a writer failed (status %d)" % status)
for job in range(jobs):
    for n, b in enumerate(plan(job)):
        want[b * BS:(b + 1) * BS] = block(job, b, n)
with open(out, "w") as f:
    f.write(hashlib.sha256(want).hexdigest() + "\n")
