#!/usr/bin/python3
# The python cells of bench/explain.sh, one process each (so that
# fi-offcpu follows one writer), and bench/journal.sh's
# metadata_create_unlink.  Prints the cell's I/Os (files) per second, its
# loop alone timed:
#   append_4k_buffered_fsync DIR IOS   4 KiB appends, fdatasync every 16
#   fsync_4k_append DIR IOS            4 KiB appends, fsync after each
#   metadata_create_unlink DIR FILES   create, write 4 KiB, fsync, close, unlink
# usage: explain_io.py CELL DIR IOS FILES
import os
import sys
import time

cell, d, ios, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
buf = os.urandom(4096)
t = time.monotonic()
if cell == "metadata_create_unlink":
    for i in range(files):
        p = os.path.join(d, "m%d" % i)
        fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
        os.write(fd, buf)
        os.fsync(fd)
        os.close(fd)
        os.unlink(p)
else:
    every, sync = (16, os.fdatasync) if cell == "append_4k_buffered_fsync" else (1, os.fsync)
    fd = os.open(os.path.join(d, "f"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    for i in range(ios):
        os.write(fd, buf)
        if (i + 1) % every == 0:
            sync(fd)
    os.close(fd)
print("%.1f" % ((files if cell == "metadata_create_unlink" else ios) / (time.monotonic() - t)))
