#!/bin/bash
# Three writers append 64 KiB at a time to their own files on a small
# fuse-iomap-ext4 file system (--bpf), each fsyncing every 4 appends,
# until the file system is full.  Each must see ENOSPC, from a write or
# an fsync, and nothing else.  After a remount every byte an fsync
# acknowledged reads back, each file's st_blocks matches its size (the
# blocks allocated ahead were freed), and e2fsck -fn is clean.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# writer FILE LOG N: the appends; LOG gets "acked BYTES" after each fsync
# and "end ERRNO-NAME" at the end.
writer() {
	python3 - "$@" <<'PY'
import errno, os, sys
path, log, n = sys.argv[1], open(sys.argv[2], "w", buffering=1), int(sys.argv[3])
chunk = (b"writer %d " % n) * 8192
chunk = chunk[:65536]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
size = 0
try:
    for i in range(100000):
        if os.write(fd, chunk) != len(chunk):
            raise OSError(errno.ENOSPC, "short write")
        size += len(chunk)
        if i % 4 == 3:
            os.fsync(fd)
            log.write("acked %d\n" % size)
except OSError as e:
    log.write("end %s\n" % errno.errorcode.get(e.errno, e.errno))
os.close(fd)
PY
}

ext4_load
img=$T_TMP/img
mke2fs -q -F -t ext4 -b 4096 "$img" 64M || fail "mke2fs failed"
ours=$T_TMP/ours
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf -l "$T_TMP/ext4.log" "$img" "$ours"
for n in 1 2 3; do
	writer "$ours/w$n" "$T_TMP/w$n.log" $n &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait_for 200 eval "! kill -0 $pid 2>/dev/null" || fail "a writer still runs after 200 s"
done
for n in 1 2 3; do
	end=$(awk '$1 == "end" { print $2 }' "$T_TMP/w$n.log")
	[ "$end" = ENOSPC ] || fail "writer $n ended with '${end:-nothing}', want ENOSPC"
	acked[n]=$(awk '$1 == "acked" { a = $2 } END { print a + 0 }' "$T_TMP/w$n.log")
done
log "fsync'd: ${acked[1]} ${acked[2]} ${acked[3]} bytes; $(df -k "$ours" | awk 'NR == 2 { print $4 }') KiB free"
stop_server "$ours" "$SERVER_PID"
ext4_fsck_clean "$img"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" -l "$T_TMP/ext4.log" "$img" "$ours"
for n in 1 2 3; do
	size=$(stat -c %s "$ours/w$n")
	[ "$size" -ge "${acked[n]}" ] || fail "w$n is $size bytes after the remount, ${acked[n]} were fsync'd"
	cmp -n "${acked[n]}" <(python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.buffer.write(((b"writer %d " % n) * 8192)[:65536] * 2000)' $n) "$ours/w$n" ||
		fail "w$n: what an fsync acknowledged does not read back"
	blocks=$(stat -c %b "$ours/w$n")
	[ $((blocks * 512)) -le $((size + 4095 + (16 << 10))) ] ||
		fail "w$n: st_blocks $blocks ($((blocks * 512)) bytes) for $size bytes: its tail was not freed"
done
stop_server "$ours" "$SERVER_PID"
ext4_fsck_clean "$img" "after the remount"
