#!/usr/bin/python3
"""Compare two copies of an ext4 image after journal replay, block by
block: WANT (replayed by e2fsck -E journal_only) and GOT (replayed by our
server, which then served it and closed it).  Every block must be equal,
except where the two writers legitimately differ:
  - in the primary super block, the times, the mount count, the lifetime
    write count and the checksum, and the feature orphan_present, which
    our server clears once it has dealt with the orphan file (as the
    kernel's ext4 does at mount; e2fsck -E journal_only leaves it set);
  - the backup super blocks and group descriptors, which our server's
    libext2fs rewrites at close and e2fsck (master super block only) does
    not;
  - the journal's own blocks (JOURNAL_BLOCKS, a file of block numbers such
    as debugfs -R "blocks <8>" prints): after replaying, our server goes
    on journaling in the same log (a commit at close lands where e2fsck
    leaves the old, replayed transactions).  What those commits carry is
    checkpointed home by the close, so it is compared there.
DUMPE2FS is dumpe2fs's output for WANT (it names the backups).
Prints the differing blocks and exits 1 if there are any.

usage: replay_cmp.py WANT GOT DUMPE2FS [JOURNAL_BLOCKS]
"""
import re
import sys

# (offset, length) in the super block: times, mount count, lifetime writes,
# the high bytes of times, the checksum.
VOLATILE = [(0x2C, 8), (0x34, 2), (0x40, 4), (0x178, 8), (0x274, 6), (0x3FC, 4)]
# s_feature_ro_compat (little-endian) and orphan_present, its bit 0x10000.
RO_COMPAT = 0x64
ORPHAN_PRESENT_BYTE2 = 0x01


def backups(dump):
    """Block numbers of backup super blocks and group descriptors."""
    blocks = set()
    for m in re.finditer(r"Backup superblock at (\d+), Group descriptors at (\d+)-(\d+)", dump):
        blocks.add(int(m.group(1)))
        blocks.update(range(int(m.group(2)), int(m.group(3)) + 1))
    return blocks


def masked_sb(b):
    b = bytearray(b)
    for off, n in VOLATILE:
        b[1024 + off:1024 + off + n] = bytes(n)
    b[1024 + RO_COMPAT + 2] &= ~ORPHAN_PRESENT_BYTE2
    return bytes(b)


def main():
    want_path, got_path, dump_path = sys.argv[1:4]
    dump = open(dump_path).read()
    bs = int(re.search(r"^Block size:\s+(\d+)", dump, re.M).group(1))
    skip = backups(dump)
    journal = set()
    if len(sys.argv) > 4:
        journal = {int(b) for b in open(sys.argv[4]).read().split()}
    skip |= journal
    bad = []
    with open(want_path, "rb") as w, open(got_path, "rb") as g:
        blk = 0
        while True:
            a, b = w.read(bs), g.read(bs)
            if not a and not b:
                break
            if a != b and blk not in skip:
                if blk == 0 and masked_sb(a) == masked_sb(b):
                    pass
                else:
                    bad.append(blk)
            blk += 1
    if bad:
        print("blocks that differ: %d (first: %s)" % (len(bad), " ".join(map(str, bad[:8]))))
        if bad[0] == 0:
            with open(want_path, "rb") as w, open(got_path, "rb") as g:
                a, b = masked_sb(w.read(bs)), masked_sb(g.read(bs))
            print("super block bytes (offset: want/got):",
                  " ".join("0x%x:%d/%d" % (i - 1024, a[i], b[i])
                           for i in range(len(a)) if a[i] != b[i])[:300])
        return 1
    print("equal: %d blocks, %d backup and %d journal blocks not compared"
          % (blk, len(skip - journal), len(journal)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
