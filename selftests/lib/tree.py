#!/usr/bin/python3
"""Print one line per entry under DIR (sorted, DIR itself excluded): path,
type, mode, link count, owner, then size and sha256 for regular files,
size for directories (unless --no-dir-size: two file systems may grow a
directory differently), the target for symlinks, and every xattr (hex).
Two trees are equal to a user when their manifests are.

--no-xattrs leaves xattrs out (each costs a round trip on a FUSE mount).

usage: tree.py [--no-dir-size] [--no-xattrs] DIR
"""
import hashlib
import os
import stat
import sys


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def line(root, rel, dir_size, xattr=True):
    p = os.path.join(root, rel)
    st = os.lstat(p)
    kind = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
            stat.S_IFCHR: "chr", stat.S_IFBLK: "blk", stat.S_IFIFO: "fifo",
            stat.S_IFSOCK: "sock"}[stat.S_IFMT(st.st_mode)]
    out = "%s %s %o nlink=%d %d:%d" % (rel, kind, stat.S_IMODE(st.st_mode), st.st_nlink,
                                      st.st_uid, st.st_gid)
    if kind == "file":
        out += " size=%d sha256=%s" % (st.st_size, digest(p))
    elif kind == "dir" and dir_size:
        out += " size=%d" % st.st_size
    elif kind == "symlink":
        out += " -> " + os.readlink(p)
    xattrs = []
    for name in sorted(os.listxattr(p, follow_symlinks=False)) if xattr else []:
        xattrs.append("%s=%s" % (name, os.getxattr(p, name, follow_symlinks=False).hex()))
    return out + " xattrs=" + ",".join(xattrs)


def main():
    args = sys.argv[1:]
    dir_size = "--no-dir-size" not in args
    xattr = "--no-xattrs" not in args
    args = [a for a in args if a not in ("--no-dir-size", "--no-xattrs")]
    if len(args) != 1:
        sys.exit(__doc__)
    root = args[0]
    rels = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            rels.append(os.path.relpath(os.path.join(d, n), root))
    for rel in sorted(rels):
        print(line(root, rel, dir_size, xattr))


if __name__ == "__main__":
    main()
