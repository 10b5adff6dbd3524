#!/bin/bash
# fdatasync makes a file's data durable without a SETATTR upcall for its
# times (counted in times_flushed), as the kernel's fsync leaves an inode
# dirty only in its times to writeback (__generic_file_fsync); fsync still
# sends them, every time.  (That fdatasync keeps the data and the size
# over a power cut is write_dsync_size_survives'.)  The times still reach
# the image: after close and a clean unmount, a new server reports the
# mtime stat showed, and the bytes.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
mke2fs -q -F -t ext4 -b 4096 "$T_TMP/img" 64M || fail "mke2fs failed"
mnt=$T_TMP/mnt
start_server "$mnt" "$T_TMP/srv.out" "$EXT4SRV" --bpf "$T_TMP/img" "$mnt"
flushed() { counter "$mnt" times_flushed; }

head -c $((64 << 10)) /dev/urandom > "$T_TMP/data"
python3 - "$mnt/f" "$T_TMP/data" "$(conn_dir "$mnt")/times_flushed" > "$T_TMP/py.out" 2>&1 <<'PY' ||
import os, sys, time
path, data, counter = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
flushed = lambda: int(open(counter).read())
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, data, 0)
os.fsync(fd)
out = []
for what, sync in (("fdatasync", os.fdatasync), ("fsync", os.fsync)):
    for i in range(4):
        time.sleep(0.01)	# a new mtime each time
        before = flushed()
        os.pwrite(fd, data[i * 4096:(i + 1) * 4096], 8192 + i * 4096)
        sync(fd)
        out.append("%s:%d" % (what, flushed() - before))
print(" ".join(out))
print(os.stat(path).st_mtime_ns)
os.close(fd)
PY
	fail "$(tail -n1 "$T_TMP/py.out")"
got=$(head -n1 "$T_TMP/py.out")
expect_eq "SETATTRs (times_flushed) per overwrite and sync" "$got" \
	"fdatasync:0 fdatasync:0 fdatasync:0 fdatasync:0 fsync:1 fsync:1 fsync:1 fsync:1"
mtime=$(tail -n1 "$T_TMP/py.out")
stop_server "$mnt" "$SERVER_PID"
start_server "$mnt" "$T_TMP/srv2.out" "$EXT4SRV" "$T_TMP/img" "$mnt"
expect_eq "mtime after close and remount" \
	"$(python3 -c 'import os, sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$mnt/f")" "$mtime"
cmp -n $((8192 + 16384)) "$mnt/f" <(head -c 8192 "$T_TMP/data"; head -c 16384 "$T_TMP/data") ||
	fail "the file's bytes after remount differ"
stop_server "$mnt" "$SERVER_PID"
e2fsck -fn "$T_TMP/img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck: $(grep -v '^Pass\|^e2fsck' "$T_TMP/fsck.out" | head -n2)"
log "$got; mtime $mtime kept"
