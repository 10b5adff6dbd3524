#!/bin/bash
# A queued ioend that the server fails to apply reaches the writer, as a
# failed bio would.  fuse-iomap-ioendfail serves a file of unwritten
# blocks with the BPF tier, so writeback's ioends are queued by
# extent_map (the kernel has ended writeback with success by then) and
# applied by the server at the next drain; while a flag file exists it
# fails them with EIO.  With two files open on it: a write then fsync
# returns EIO, a second fsync on the same fd returns 0, and the other fd's
# fsync sees EIO once (errseq).  The same for close (FLUSH) and syncfs.
# Without the flag, writes and fsyncs succeed, before and after.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

IOENDFAIL=$BUILD/testsrv/fuse-iomap-ioendfail
flag=$T_TMP/fail mnt=$T_TMP/mnt

fi_load
make_dev 16
start_server "$mnt" "$T_TMP/server.out" "$IOENDFAIL" "$dev" "$mnt" "$flag" "$T_TMP/server.log"
need_counters "$mnt" bpf_ioend_handled ioend_upcalls
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
handled=$(counter "$mnt" bpf_ioend_handled)

python3 - "$mnt/f" "$flag" > "$T_TMP/py.out" 2>&1 <<'PY' || fail "$(tail -n1 "$T_TMP/py.out")"
import ctypes, errno, os, sys
path, flag = sys.argv[1:]
libc = ctypes.CDLL(None, use_errno=True)

def call(what, fn, *args):
    """0, or the errno that fn raised."""
    try:
        fn(*args)
        return 0
    except OSError as e:
        return e.errno

def syncfs(fd):
    if libc.syncfs(fd) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")

def expect(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {errno.errorcode.get(got, got)}, want {errno.errorcode.get(want, want)}")
    print(f"# {what}: {errno.errorcode.get(got, 'ok')}")

def write(fd, off, byte):
    os.pwrite(fd, bytes([byte]) * 4096, off)

a = os.open(path, os.O_RDWR)
b = os.open(path, os.O_RDWR)
write(a, 0, 0x41)
expect("fsync after a good ioend", call("fsync", os.fsync, a), 0)

open(flag, "w").close()
write(a, 65536, 0x42)
expect("fsync after a failed queued ioend", call("fsync", os.fsync, a), errno.EIO)
expect("the same fd's next fsync", call("fsync", os.fsync, a), 0)
expect("the other fd's fsync", call("fsync", os.fsync, b), errno.EIO)
expect("the other fd's next fsync", call("fsync", os.fsync, b), 0)

# close (FLUSH): the closing fd hears it, and the open one once.
c = os.open(path, os.O_RDWR)
write(c, 131072, 0x43)
expect("close after a failed queued ioend", call("close", os.close, c), errno.EIO)
expect("fsync of an fd open across that close", call("fsync", os.fsync, a), errno.EIO)
expect("its next fsync", call("fsync", os.fsync, a), 0)

# syncfs: the server answers FUSE_SYNCFS with it.  The errors so far
# reached the super block too: take them first.
call("syncfs", syncfs, b)
expect("syncfs with nothing new", call("syncfs", syncfs, b), 0)
write(a, 196608, 0x44)
expect("syncfs after a failed queued ioend", call("syncfs", syncfs, b), errno.EIO)
expect("fsync after that syncfs", call("fsync", os.fsync, a), errno.EIO)
expect("the other fd's fsync after that syncfs", call("fsync", os.fsync, b), errno.EIO)

os.unlink(flag)
write(a, 262144, 0x45)
expect("fsync once the server applies ioends again", call("fsync", os.fsync, a), 0)
expect("the other fd's fsync", call("fsync", os.fsync, b), 0)
os.close(a)
os.close(b)
PY
cat "$T_TMP/py.out" >&2
d_handled=$(($(counter "$mnt" bpf_ioend_handled) - handled))
[ "$d_handled" -ge 5 ] || fail "only $d_handled ioends were queued by BPF: the test did not test queued ioends"
stop_server "$mnt" "$SERVER_PID"
failed=$(awk '/^ioends failed:/ { print $3 }' "$T_TMP/server.out")
[ "${failed:-0}" -ge 3 ] || fail "the server failed ${failed:-no} ioends, want at least 3"
