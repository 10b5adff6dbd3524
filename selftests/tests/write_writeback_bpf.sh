#!/bin/bash
# Writeback asks the BPF tier first: fuse-iomap-blockfs --bpf, a written
# file, one warm-up read (the library publishes its extents), buffered
# overwrites of written blocks, then sync.  Neither the writes nor their
# writeback made a FUSE_IOMAP_BEGIN upcall (the counter and the server's
# log agree), every writeback question was answered by extent_map
# (tracepoint fuse_iomap_bpf_begin) and bpf_hits rose by exactly the
# answers (writes and writeback); the
# bytes are right through the mount after dropping caches and on the
# device at the FIEMAP address, and the blocks did not move.  A write into
# a hole afterwards still goes to the server, writeback included.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

WRITEBACK=0x10000	# FUSE_IOMAP_OP_WRITEBACK, as the tracepoint prints opflags

blockfs_setup --bpf
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
head -c $((4 << 20)) /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" && sync || fail "writing $mnt/f failed"
drop_caches
fiemap "$mnt/f" > "$T_TMP/before"
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"

T=/sys/kernel/tracing
defer "echo 0 > $T/events/fuse_iomap/fuse_iomap_bpf_begin/enable; echo > $T/trace"
begins=$(counter "$mnt" iomap_begin_upcalls) logged=$(log_count BEGIN) hits=$(counter "$mnt" bpf_hits)
echo > $T/trace
echo 1 > $T/events/fuse_iomap/fuse_iomap_bpf_begin/enable
# fuse's bdi has a strict dirty limit: writeback starts during the writes.
head -c $((1 << 20)) /dev/urandom > "$T_TMP/new"
for spec in "0 100" "4000 200" "65536 65536" "1000000 777777" "3000000 5000" "4194000 304"; do
	set -- $spec
	dd if="$T_TMP/new" of="$mnt/f" iflag=count_bytes oflag=seek_bytes seek="$1" count="$2" conv=notrunc status=none ||
		fail "buffered overwrite of $2 bytes at $1 failed"
	dd if="$T_TMP/new" of="$T_TMP/ref" iflag=count_bytes oflag=seek_bytes seek="$1" count="$2" conv=notrunc status=none
done
sync
echo 0 > $T/events/fuse_iomap/fuse_iomap_bpf_begin/enable
grep "fuse_iomap_bpf_begin: " $T/trace > "$T_TMP/trace" || fail "no question was put to the BPF tier"
# Questions "ALL ANSWERED WRITEBACK WRITEBACK_ANSWERED".
read -r all answered wb wb_answered < <(python3 - "$T_TMP/trace" $WRITEBACK <<'PY'
import re, sys
wb = int(sys.argv[2], 0)
qs = [(int(re.search(r" opflags (0x[0-9a-f]+) ", l).group(1), 16) & wb, l.rstrip().endswith(" answer (0)"))
      for l in open(sys.argv[1])]
print(len(qs), sum(a for _, a in qs), sum(1 for w, _ in qs if w), sum(1 for w, a in qs if w and a))
PY
)
[ "$wb" -gt 0 ] || fail "writeback asked the BPF tier nothing: $(head -3 "$T_TMP/trace")"
expect_eq "writeback questions extent_map answered" "$wb_answered" "$wb"
expect_eq "questions extent_map answered (writes and writeback)" "$answered" "$all"
expect_eq "FUSE_IOMAP_BEGIN upcalls during overwrites and writeback" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
expect_eq "BEGIN requests in the server's log" "$(log_count BEGIN)" "$logged"
expect_eq "bpf_hits" $(($(counter "$mnt" bpf_hits) - hits)) "$answered"
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0

check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after writeback answered by BPF, the bytes differ"
fiemap "$mnt/f" > "$T_TMP/after"
cmp -s "$T_TMP/before" "$T_TMP/after" || fail "in-place overwrites moved blocks"

# A hole is the server's to allocate, at write and at writeback.
truncate -s $((8 << 20)) "$mnt/f" || fail "truncate up failed"
truncate -s $((8 << 20)) "$T_TMP/ref"
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "second warm-up read failed"
begins=$(counter "$mnt" iomap_begin_upcalls)
dd if="$T_TMP/new" of="$mnt/f" bs=4096 count=16 seek=1536 conv=notrunc status=none || fail "write into the hole failed"
dd if="$T_TMP/new" of="$T_TMP/ref" bs=4096 count=16 seek=1536 conv=notrunc status=none
sync
[ "$(counter "$mnt" iomap_begin_upcalls)" -gt "$begins" ] || fail "a write into a hole made no upcall"
expect_eq "rejected mappings after the hole write" "$(counter "$mnt" mappings_rejected)" 0
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after the write into the hole, the bytes differ"
check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
stop_server "$mnt" "$SERVER_PID"
