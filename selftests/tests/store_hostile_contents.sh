#!/bin/bash
# Whatever is in the store, the kernel gets no wrong block: while fi-store
# writes random 8-byte words all over the file table and the first 4 MiB
# of extent arrays of a running fuse-iomap-blockfs --bpf (10 s), two
# readers read random blocks of a 256-block file with O_DIRECT.  Every
# read returns the block's own bytes (from BPF, or from an upcall when a
# slot or extent fails its check or its seq is odd) or fails with EIO;
# none returns other bytes.  Then fi-store moves the file's seq for 5 s (a
# change that never settles): reads go to the server and stay right.
# After that a truncate to the same
# size makes the library write the file's slot and list again, and the
# whole file then reads right with BPF answering.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

SECS=10
blockfs_setup --bpf
stamped_file "$mnt/f" || fail "can't write $mnt/f"
sync
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
begins=$(counter "$mnt" iomap_begin_upcalls)
"$FISTORE" "$SERVER_PID" scribble 7 $SECS > "$T_TMP/scribble" 2>&1 &
scribbler=$!
python3 - "$mnt/f" $SECS > "$T_TMP/run" <<'PY' || fail "$(tail -n3 "$T_TMP/run" | tr '\n' ' ')"
import errno, mmap, os, random, sys, time
path, secs = sys.argv[1], int(sys.argv[2])
end = time.time() + secs
kids = []
for k in range(2):
    pid = os.fork()
    if pid == 0:
        fd, buf, r = os.open(path, os.O_RDONLY | os.O_DIRECT), mmap.mmap(-1, 4096), random.Random(k)
        n = eio = bad = 0
        while time.time() < end:
            b = r.randrange(256)
            n += 1
            try:
                got = os.preadv(fd, [buf], b * 4096)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                eio += 1
                continue
            if got != 4096 or buf[:] != (b"block %d " % b).ljust(4096, b"."):
                bad += 1
                if bad < 3:
                    print("reader %d: block %d: %d bytes %r" % (k, b, got, buf[:20]))
        print("reads", n, eio, bad)
        sys.stdout.flush()
        os._exit(0)
    kids.append(pid)
sys.exit(sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) != 0 for p in kids))
PY
wait $scribbler || fail "fi-store scribble failed: $(cat "$T_TMP/scribble")"
reads=$(awk '$1 == "reads" { n += $2 } END { print n + 0 }' "$T_TMP/run")
eio=$(awk '$1 == "reads" { n += $3 } END { print n + 0 }' "$T_TMP/run")
bad=$(awk '$1 == "reads" { n += $4 } END { print n + 0 }' "$T_TMP/run")
upcalls=$(($(counter "$mnt" iomap_begin_upcalls) - begins))
log "$(cat "$T_TMP/scribble") scribbled; $reads reads: $eio EIO, $bad wrong; $upcalls upcalls"
expect_eq "reads that returned other bytes (of $reads)" "$bad" 0
[ "$reads" -ge 100 ] || fail "only $reads reads in $SECS s"
[ "$upcalls" -ge 1 ] || fail "the scribbling never cost BPF its answer: is it writing the store?"

# A seq that never settles: fi-store moves the file's seq for 5 s, so no
# two reads of it agree.  The reads go to the server and stay right.
ino=$(stat -c %i "$mnt/f")
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "read before the flips failed"
begins=$(counter "$mnt" iomap_begin_upcalls)
"$FISTORE" "$SERVER_PID" flip "$ino" 5 > "$T_TMP/flip" 2>&1 &
flipper=$!
python3 -c 'import mmap, os, sys, time
fd, buf, n, end = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT), mmap.mmap(-1, 4096), 0, time.time() + 4
while time.time() < end:
    b = n % 256
    if os.preadv(fd, [buf], b * 4096) != 4096 or buf[:] != (b"block %d " % b).ljust(4096, b"."):
        sys.exit("block %d read wrong while the seq moved" % b)
    n += 1
print(n)' "$mnt/f" > "$T_TMP/flipreads" || fail "$(cat "$T_TMP/flipreads")"
wait $flipper || fail "fi-store flip failed: $(cat "$T_TMP/flip")"
log "$(cat "$T_TMP/flip") of the seq; $(cat "$T_TMP/flipreads") reads right, $(($(counter "$mnt" iomap_begin_upcalls) - begins)) upcalls"
[ "$(($(counter "$mnt" iomap_begin_upcalls) - begins))" -ge 1 ] || fail "no upcall while the seq never settled"

truncate -s $((256 * 4096)) "$mnt/f" || fail "truncate failed"
drop_caches
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "read after the truncate failed"
begins=$(counter "$mnt" iomap_begin_upcalls) hits=$(counter "$mnt" bpf_hits)
python3 -c 'import mmap, os, sys
fd, buf = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT), mmap.mmap(-1, 4096)
sys.exit(any(os.preadv(fd, [buf], b * 4096) != 4096 or buf[:] != (b"block %d " % b).ljust(4096, b".") for b in range(256)))' "$mnt/f" ||
	fail "the file reads differently after the store was written again"
expect_eq "upcalls for 256 reads after the store was written again" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
[ "$(counter "$mnt" bpf_hits)" -ge $((hits + 256)) ] || fail "BPF did not answer the reads after the store was written again"
