#!/usr/bin/python3
"""Run POSIX operations whose outcome a file system must get right, in DIR,
and print one line per outcome (errors as errno names, no inode numbers or
clock times), so that two file systems can be compared by their output.

usage: posix_ops.py DIR
"""
import errno
import os
import stat
import sys


def out(what, value):
    print("%s: %s" % (what, value))


def attempt(what, fn, *args):
    try:
        r = fn(*args)
        out(what, "ok" if r is None else r)
    except OSError as e:
        out(what, errno.errorcode.get(e.errno, e.errno))


def st(path, fields=("mode", "nlink", "uid", "gid", "size")):
    s = os.lstat(path)
    vals = {"mode": "%o" % s.st_mode, "nlink": s.st_nlink, "uid": s.st_uid, "gid": s.st_gid,
            "size": s.st_size, "atime": s.st_atime_ns, "mtime": s.st_mtime_ns}
    return " ".join("%s=%s" % (f, vals[f]) for f in fields)


def put(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    os.write(fd, data)
    os.close(fd)


def get(path):
    with open(path, "rb") as f:
        return f.read()


def rename_over():
    put("a", b"A" * 5000)
    put("b", b"B" * 100)
    fd = os.open("b", os.O_RDONLY)
    os.rename("a", "b")
    out("rename over: new name reads", get("b")[:3] + b" len %d" % len(get("b")))
    out("rename over: old name exists", os.path.exists("a"))
    out("rename over: replaced file still open reads", os.read(fd, 10))
    out("rename over: replaced file nlink", os.fstat(fd).st_nlink)
    os.close(fd)
    os.mkdir("d1")
    os.mkdir("d2")
    put("d2/x", b"x")
    attempt("rename dir over non-empty dir", os.rename, "d1", "d2")
    os.mkdir("d3")
    attempt("rename dir over empty dir", os.rename, "d1", "d3")
    attempt("rename file over dir", os.rename, "b", "d3")
    attempt("rename dir over file", os.rename, "d3", "b")
    attempt("rename to itself", os.rename, "b", "b")
    os.link("b", "b_link")
    attempt("rename over own hard link", os.rename, "b", "b_link")
    out("after rename over own hard link", "%s %s" % (os.path.exists("b"), st("b_link", ("nlink",))))
    os.mkdir("d3/sub")
    attempt("move dir to other parent", os.rename, "d3/sub", "d2/sub")
    out("parent nlinks after move", "%s / %s" % (st("d3", ("nlink",)), st("d2", ("nlink",))))
    attempt("move dir into itself", os.rename, "d2", "d2/sub/inner")


def unlink_open():
    put("u", b"still here" * 1000)
    fd = os.open("u", os.O_RDWR)
    os.unlink("u")
    out("unlink open: name exists", os.path.exists("u"))
    out("unlink open: reads", os.pread(fd, 10, 9990))
    os.pwrite(fd, b"more", 20000)
    out("unlink open: after write", "%s %s" % (os.fstat(fd).st_size, os.pread(fd, 4, 20000)))
    out("unlink open: nlink", os.fstat(fd).st_nlink)
    os.close(fd)
    attempt("unlink missing", os.unlink, "u")
    os.mkdir("ud")
    attempt("unlink dir", os.unlink, "ud")
    put("ud/f", b"")
    attempt("rmdir non-empty", os.rmdir, "ud")
    attempt("rmdir file", os.rmdir, "ud/f")
    os.unlink("ud/f")
    attempt("rmdir empty", os.rmdir, "ud")


def append_trunc():
    put("ap", b"12345")
    fd = os.open("ap", os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"678")
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"9")
    os.pwrite(fd, b"AB", 1)  # Linux: O_APPEND wins over the offset
    os.close(fd)
    out("O_APPEND", get("ap"))
    put("tr", b"x" * 10000)
    fd = os.open("tr", os.O_WRONLY | os.O_TRUNC)
    out("O_TRUNC size", os.fstat(fd).st_size)
    os.write(fd, b"yz")
    os.close(fd)
    out("O_TRUNC then write", get("tr"))
    attempt("O_CREAT|O_EXCL existing", os.open, "tr", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.truncate("tr", 10000)
    out("truncate up reads zeros", get("tr")[:4] + b" " + str(get("tr")[2:].count(0)).encode())
    os.truncate("tr", 1)
    out("truncate down", get("tr"))


def links():
    put("h", b"h")
    os.link("h", "h2")
    os.link("h", "h3")
    out("hard links", st("h", ("nlink",)))
    os.unlink("h2")
    out("after unlinking one", st("h3", ("nlink",)))
    attempt("link to dir", os.link, ".", "dirlink")
    attempt("link over existing", os.link, "h", "h3")
    os.mkdir("nl")
    out("empty dir nlink", st("nl", ("nlink",)))
    for i in range(3):
        os.mkdir("nl/%d" % i)
    out("dir with 3 subdirs nlink", st("nl", ("nlink",)))
    os.symlink("h", "sym")
    out("symlink", "%s -> %s" % (st("sym", ("mode", "size")), os.readlink("sym")))
    long = "t" * 300
    os.symlink(long, "longsym")
    out("long symlink", "%s %s" % (st("longsym", ("size",)), os.readlink("longsym") == long))
    attempt("mkdir existing", os.mkdir, "nl")
    attempt("name too long", put, "n" * 256, b"")
    os.mkfifo("fifo", 0o640)
    out("fifo", st("fifo", ("mode",)))


def attrs():
    put("at", b"attrs")
    os.chmod("at", 0o4751)
    out("chmod", st("at", ("mode",)))
    os.chown("at", 1234, 5678)
    out("chown", st("at", ("uid", "gid")))
    os.utime("at", ns=(1000000123456789, 1500000987654321))
    out("utimens", st("at", ("atime", "mtime")))
    os.utime("at", ns=(-1000000000, 4000000000123456789))
    out("utimens far", st("at", ("atime", "mtime")))
    os.mkdir("sg")
    os.chown("sg", 0, 4321)
    os.chmod("sg", 0o2775)
    put("sg/f", b"")
    os.mkdir("sg/d")
    out("setgid dir: new file", st("sg/f", ("gid",)))
    out("setgid dir: new dir", st("sg/d", ("mode", "gid")))
    os.chmod("at", 0o644)
    fd = os.open("at", os.O_RDWR)
    os.ftruncate(fd, 3)
    os.fchmod(fd, 0o600)
    out("ftruncate+fchmod", st("at", ("mode", "size")))
    os.close(fd)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    os.chdir(sys.argv[1])
    os.umask(0o022)
    for step in (rename_over, unlink_open, append_trunc, links, attrs):
        os.mkdir(step.__name__)
        os.chdir(step.__name__)
        step()
        os.chdir("..")
    out("tree", sorted(os.listdir(".")))


if __name__ == "__main__":
    main()
