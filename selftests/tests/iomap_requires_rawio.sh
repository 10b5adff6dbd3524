#!/bin/bash
# Mounting with iomap without CAP_SYS_RAWIO fails with EPERM (and the
# kernel says why); the same mount with the capability works.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 16
mnt=$T_TMP/mnt
refused_without_rawio "the server" "$mnt" "$BLOCKFS" "$dev" "$mnt"
dmesg | grep -q "iomap mount by .* refused: needs CAP_SYS_RAWIO" || fail "no kernel message saying why"

# The raw syscall, too: EPERM from mount(2) itself.
python3 - "$mnt" <<'PY' > "$T_TMP/py" 2>&1 && fail "mount(2) with iomap and without CAP_SYS_RAWIO: $(cat "$T_TMP/py")"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
# Drop CAP_SYS_RAWIO (17) from this process's effective and permitted sets.
class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
h = Hdr(0x20080522, 0)
d = (Data * 2)()
libc.capget(ctypes.byref(h), d)
d[0].effective &= ~(1 << 17)
d[0].permitted &= ~(1 << 17)
assert libc.capset(ctypes.byref(h), d) == 0
fd = os.open("/dev/fuse-iomap", os.O_RDWR)
opts = ("fd=%d,rootmode=40000,user_id=0,group_id=0,iomap" % fd).encode()
r = libc.mount(b"x", sys.argv[1].encode(), b"fuseiomap", 0, opts)
e = ctypes.get_errno()
print("mount returned", r, os.strerror(e))
sys.exit(0 if r == 0 else (3 if e == 1 else 4))
PY
grep -q "Operation not permitted" "$T_TMP/py" || fail "raw mount(2): want EPERM, got: $(cat "$T_TMP/py")"

start_blockfs "$mnt" "$dev"
echo ok > "$mnt/x" && expect_eq "with CAP_SYS_RAWIO" "$(cat "$mnt/x")" ok
stop_server "$mnt" "$SERVER_PID"
