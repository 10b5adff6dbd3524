#!/bin/bash
# The BPF tier's store changes without a bpf() call: 1,000 rounds of
# create, write 4 KiB, fsync, O_DIRECT read back and unlink on
# fuse-iomap-ext4 --bpf (each write allocates ahead, each unlink frees the
# blocks; the library publishes and forgets lists and resets marks all
# along) make no BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM or their batch
# forms from the server, counted by the syscalls:sys_enter_bpf tracepoint
# (which does count such a call from the test itself).  The lists were
# published (PUBLISH lines in the server's log), the reads were answered by
# BPF (bpf_hits rose by at least 500: measured 1,000), and e2fsck is clean.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

N=1000
T=/sys/kernel/tracing
ev=$T/events/syscalls/sys_enter_bpf
ext4_beside_kernel 256M --bpf --log "$T_TMP/ext4.log"
[ -d "$ev" ] || fail "no syscalls:sys_enter_bpf tracepoint in $T"
# The server attaches its program (a struct_ops map update) after mounting.
wait_for 30 eval '[ "$(counter "$T_TMP/mnt" bpf_ops)" = extent_map ]' || fail "extent_map was never attached"
echo > "$T/trace"
# BPF_MAP_UPDATE_ELEM 2, BPF_MAP_DELETE_ELEM 3, BPF_MAP_UPDATE_BATCH 26, BPF_MAP_DELETE_BATCH 27
echo 'cmd == 2 || cmd == 3 || cmd == 26 || cmd == 27' > "$ev/filter"
defer "echo 0 > '$ev/enable'; echo 0 > '$ev/filter'; echo > '$T/trace'"
echo 1 > "$ev/enable"

hits=$(counter "$T_TMP/mnt" bpf_hits)
python3 - "$T_TMP/mnt" $N <<'PY' || fail "the rounds failed"
import ctypes, mmap, os, sys
d, n = sys.argv[1], int(sys.argv[2])
# The canary: one BPF_MAP_UPDATE_ELEM of our own (it fails: no attributes).
ctypes.CDLL(None, use_errno=True).syscall(321, 2, None, 0)
block = mmap.mmap(-1, 4096)
got = mmap.mmap(-1, 4096)
for i in range(n):
    block[:16] = (b"round %d" % i).ljust(16, b".")
    p = os.path.join(d, "r%d" % (i % 7))
    fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
    if os.pwritev(fd, [block], 0) != 4096:
        sys.exit("round %d: short write" % i)
    os.fsync(fd)
    if os.preadv(fd, [got], 0) != 4096 or got[:] != block[:]:
        sys.exit("round %d: read back %r" % (i, got[:16]))
    os.close(fd)
    os.unlink(p)
PY
echo 0 > "$ev/enable"
grep 'sys_bpf(cmd: ' "$T/trace" > "$T_TMP/calls" || true
canary=$(grep -c '^ *python3-' "$T_TMP/calls" || true)
[ "$canary" -ge 1 ] || fail "the tracepoint did not count the test's own BPF_MAP_UPDATE_ELEM: $(head -c 300 "$T/trace")"
grep '^ *fuse-iomap-ext4-' "$T_TMP/calls" > "$T_TMP/server_calls" || true
[ ! -s "$T_TMP/server_calls" ] ||
	fail "$(wc -l < "$T_TMP/server_calls") bpf() map updates or deletes by the server in $N rounds: $(head -n3 "$T_TMP/server_calls" | tr -s ' ' | tr '\n' ' ')"
# At least every other round published and read through BPF: a publish
# that meets a change in progress (the last round's close trimming its
# tail) is skipped, and that round's read goes to the server.
publishes=$(grep -c '^PUBLISH ' "$T_TMP/ext4.log" || true)
[ "$publishes" -ge $((N / 2)) ] || fail "only $publishes lists published in $N rounds"
rose=$(($(counter "$T_TMP/mnt" bpf_hits) - hits))
[ "$rose" -ge $((N / 2)) ] || fail "bpf_hits rose by $rose in $N rounds, want at least $((N / 2))"
stop_server "$T_TMP/mnt" "$SERVER_PID"
ext4_fsck_clean "$T_TMP/ours.img"
log "$N rounds: $publishes publishes, $rose BPF answers, 0 map updates or deletes by the server"
