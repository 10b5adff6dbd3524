#!/bin/bash
# Without CAP_SYS_RAWIO a server can neither mount with iomap (here
# fuse-iomap-ext4 over an image: EPERM; iomap_requires_rawio shows the same
# for blockfs and mount(2) itself) nor register a block device on an iomap
# connection it holds, even one that a privileged process mounted and
# handed it; unregistering is refused too.  With the capability, both work.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
modprobe loop
mke2fs -q -F -t ext4 -b 4096 "$T_TMP/img" 32M || fail "mke2fs failed"
mnt=$T_TMP/mnt
refused_without_rawio fuse-iomap-ext4 "$mnt" "$EXT4SRV" "$T_TMP/img" "$mnt"
e2fsck -fn "$T_TMP/img" > "$T_TMP/fsck.out" 2>&1 || fail "the refused server left the image unclean"
make_dev 16

# A connection mounted with the capability; a child without it holds the
# fd and tries to register (and unregister) the device.
python3 - "$mnt" "$dev" <<'PY' > "$T_TMP/py" 2>&1 || fail "$(tail -n1 "$T_TMP/py")"
import ctypes, errno, fcntl, os, struct, sys
mnt, dev = sys.argv[1:]
libc = ctypes.CDLL(None, use_errno=True)
# _IOWR(229, 0x40, struct fuse_iomap_dev_register) (40 bytes), _IOW(229, 0x41, __u32)
REGISTER = (3 << 30) | (40 << 16) | (229 << 8) | 0x40
UNREGISTER = (1 << 30) | (4 << 16) | (229 << 8) | 0x41

class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

def drop_rawio():
    h, d = Hdr(0x20080522, 0), (Data * 2)()
    libc.capget(ctypes.byref(h), d)
    d[0].effective &= ~(1 << 17)        # CAP_SYS_RAWIO
    d[0].permitted &= ~(1 << 17)
    assert libc.capset(ctypes.byref(h), d) == 0

def register(fd, devfd):
    arg = bytearray(struct.pack("=iIIIQ2Q", devfd, 0, 0, 0, 0, 0, 0))
    fcntl.ioctl(fd, REGISTER, arg)
    return struct.unpack_from("=iIII", arg)[2]

fd = os.open("/dev/fuse-iomap", os.O_RDWR)
opts = ("fd=%d,rootmode=40000,user_id=0,group_id=0,iomap" % fd).encode()
if libc.mount(b"x", mnt.encode(), b"fuseiomap", 0, opts):
    sys.exit("mount with CAP_SYS_RAWIO failed: " + os.strerror(ctypes.get_errno()))
devfd = os.open(dev, os.O_RDWR)
pid = os.fork()
if pid == 0:
    drop_rawio()
    try:
        register(fd, devfd)
        print("registered without CAP_SYS_RAWIO")
        os._exit(1)
    except OSError as e:
        if e.errno != errno.EPERM:
            print("register without CAP_SYS_RAWIO: want EPERM, got", os.strerror(e.errno))
            os._exit(1)
    try:
        fcntl.ioctl(fd, UNREGISTER, struct.pack("=I", 1))
        print("unregistered without CAP_SYS_RAWIO")
        os._exit(1)
    except OSError as e:
        os._exit(0 if e.errno == errno.EPERM else 1)
_, status = os.waitpid(pid, 0)
if status:
    sys.exit("the child without CAP_SYS_RAWIO was not refused")
cookie = register(fd, devfd)
print("with CAP_SYS_RAWIO: cookie", cookie)
os.close(fd)
libc.umount2(mnt.encode(), 2)           # MNT_DETACH
PY
log "$(cat "$T_TMP/py")"
dmesg | grep -q "iomap mount by .* refused: needs CAP_SYS_RAWIO" || fail "no kernel message saying why"

start_blockfs "$mnt" "$dev"
echo ok > "$mnt/x" && expect_eq "with CAP_SYS_RAWIO" "$(cat "$mnt/x")" ok
stop_server "$mnt" "$SERVER_PID"
