#!/bin/bash
# open(O_TRUNC) on an iomap mount truncates through SETATTR, never in
# OPEN: the kernel does not offer FUSE_ATOMIC_O_TRUNC to an iomap
# connection (libfuse would turn it on, and OPEN would then cut blocks
# with none of the truncate path's ordering and no BPF forget).  With
# examples/fuse-iomap-example --bpf: the file's bytes are read, so its
# extent is published in the BPF tier; open(O_TRUNC), grow it back with
# ftruncate and write other bytes at its start.  The size is what was
# written, the new bytes read back, and the rest reads as zeros, never
# the old bytes, through O_DIRECT and the page cache, warm and cold.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

EXAMPLE=$BUILD/examples/fuse-iomap-example
export LD_LIBRARY_PATH=$BUILD/stage/usr/lib
[ -x "$EXAMPLE" ] || fail "$EXAMPLE not built"

fi_load
make_dev 16
mnt=$T_TMP/mnt
len=$((4 << 20))
head -c $((16 << 20)) /dev/urandom > "$T_TMP/devdata"
dd if="$T_TMP/devdata" of="$dev" bs=1M oflag=direct status=none || fail "can't fill $dev"

start_server "$mnt" "$T_TMP/ex.out" "$EXAMPLE" --bpf "$dev" 0 $len "$mnt"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
cmp <(head -c $len "$T_TMP/devdata") <(dd if="$mnt/data" bs=64k iflag=direct status=none) ||
	fail "the file's first bytes differ from the device's"
hits=$(counter "$mnt" bpf_hits)
dd if="$mnt/data" of=/dev/null bs=64k iflag=direct status=none || fail "warm read failed"
[ "$(counter "$mnt" bpf_hits)" -gt "$hits" ] || fail "the extent was not published: no BPF answer to a warm read"

head -c 8192 /dev/urandom > "$T_TMP/new"
python3 - "$mnt/data" "$T_TMP/new" $len > "$T_TMP/py.out" 2>&1 <<'PY' || fail "$(tail -n1 "$T_TMP/py.out")"
import os, sys
path, new, length = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
size = os.fstat(fd).st_size
if size != 0:
    sys.exit(f"size after open(O_TRUNC): {size}, want 0")
os.pwrite(fd, new, 0)
os.close(fd)
if os.stat(path).st_size != len(new):
    sys.exit(f"size after the write: {os.stat(path).st_size}, want {len(new)}")
fd = os.open(path, os.O_WRONLY)
os.ftruncate(fd, length)
os.fsync(fd)
os.close(fd)
PY
{ cat "$T_TMP/new"; head -c $((len - 8192)) /dev/zero; } > "$T_TMP/want"
check() {
	cmp "$T_TMP/want" <(dd if="$mnt/data" bs=64k iflag=direct status=none) > "$T_TMP/cmp" 2>&1 ||
		fail "$1: O_DIRECT bytes differ (old bytes after the truncate?): $(head -c 200 "$T_TMP/cmp")"
	cmp "$T_TMP/want" "$mnt/data" > "$T_TMP/cmp" 2>&1 ||
		fail "$1: buffered bytes differ: $(head -c 200 "$T_TMP/cmp")"
}
check "warm"
drop_caches
check "after dropping caches"
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
stop_server "$mnt" "$SERVER_PID"
