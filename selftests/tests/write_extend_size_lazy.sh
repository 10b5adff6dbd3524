#!/bin/bash
# The kernel owns the size of a file growing into preallocated blocks:
# fuse-iomap-blockfs --bpf --meta, a one-block file (its write into a hole
# preallocated at least 64 blocks past EOF), one warm-up read, then
# O_DIRECT and buffered appends inside those blocks.  stat shows each new
# size at once, and neither the appends nor their writeback and fsync
# made a FUSE_IOMAP_BEGIN, END or IOEND upcall (counters and the server's
# log agree): extent_map answered the mappings and queued the ioends
# (flag APPEND), which fsync committed.  The bytes are right through the
# mount after dropping caches and on the device at the FIEMAP address.
# Then one more O_DIRECT append, not fsync'd, and the server is SIGKILLed:
# a new server with the same metadata reports the fsync'd size (or the
# later one, with the later bytes or zeros there) and the fsync'd bytes.
# TIMEOUT: 150
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

K=4096
IO=$REPO/selftests/lib/ioend_io.py

fi_load
make_dev 16
stale_fill "$dev"
mnt=$T_TMP/mnt meta=$T_TMP/meta ref=$T_TMP/ref written=$T_TMP/written
start_blockfs "$mnt" "$dev" --bpf --meta "$meta"
need_counters "$mnt" ioend_upcalls bpf_ioend_handled bpf_ioend_pending
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
touch "$mnt/f" "$ref" "$written" || fail "can't create $mnt/f"
# Held open until the crash: an inode the kernel evicts between two of
# the commands below (memory pressure) comes back with a FORGET, which
# drains the queue, and a LOOKUP, whose mappings are upcalls again.
exec 9< "$mnt/f"
python3 "$IO" "$mnt/f" "$ref" "$written" d0+$K fsync 2> "$T_TMP/io.err" || fail "$(tail -n1 "$T_TMP/io.err")"
dd if="$mnt/f" of=/dev/null bs=$K count=1 iflag=direct status=none || fail "warm-up read failed"

# 6 O_DIRECT appends (24 KiB), 10 buffered ones (12 KiB), all inside the
# 64 blocks from 0, then fsync.
ops=() size=$K
for n in 1 2 1 1 3 1; do ops+=("A$size+$((n * K))"); size=$((size + n * K)); done
for n in 1000 1000 1000 1000 1000 1000 1000 1000 1000 3288; do ops+=("a$n"); done
begins=$(counter "$mnt" iomap_begin_upcalls) ends=$(counter "$mnt" iomap_end_upcalls)
ioends=$(counter "$mnt" ioend_upcalls) handled=$(counter "$mnt" bpf_ioend_handled)
lb=$(log_count BEGIN) le=$(log_count END) li=$(log_count IOEND)
# ioend_io.py checks after each append that stat shows the new size, and
# that fsync returned with nothing the BPF tier queued left uncommitted.
python3 "$IO" --conn "$(conn_dir "$mnt")" "$mnt/f" "$ref" "$written" "${ops[@]}" pending+ fsync pending0 \
	2> "$T_TMP/io.err" || fail "$(tail -n1 "$T_TMP/io.err")"
synced=$(stat -c %s "$ref")
expect_eq "size in stat after the appends" "$(stat -c %s "$mnt/f")" "$synced"
expect_eq "FUSE_IOMAP_BEGIN upcalls for the appends" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
expect_eq "FUSE_IOMAP_END upcalls for the appends" "$(counter "$mnt" iomap_end_upcalls)" "$ends"
expect_eq "FUSE_IOMAP_IOEND upcalls for the appends" "$(counter "$mnt" ioend_upcalls)" "$ioends"
expect_eq "BEGIN lines in the server's log" "$(log_count BEGIN)" "$lb"
expect_eq "END lines in the server's log" "$(log_count END)" "$le"
expect_eq "IOEND lines in the server's log" "$(log_count IOEND)" "$li"
[ $(($(counter "$mnt" bpf_ioend_handled) - handled)) -ge 7 ] ||
	fail "BPF handled $(($(counter "$mnt" bpf_ioend_handled) - handled)) ioends for 6 O_DIRECT appends and a writeback"
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
check_unwritten_states "$mnt/f" "$written"
check_written_on_device "$mnt/f" "$ref" "$dev"
drop_caches
cmp "$mnt/f" "$ref" || fail "after the appends, the bytes differ"

# An append nobody fsync'd, then a crash.
python3 "$IO" --conn "$(conn_dir "$mnt")" "$mnt/f" "$ref" "$written" "A$synced+$((2 * K))" pending+ \
	2> "$T_TMP/io.err" || fail "$(tail -n1 "$T_TMP/io.err")"
later=$(stat -c %s "$ref")
expect_eq "size in stat after the last append" "$(stat -c %s "$mnt/f")" "$later"
# The server dies before fd 9 closes (a FLUSH would drain the queue),
# and fd 9 closes before crash_server waits for the device: the mount it
# holds keeps the device registered.
kill -9 "$SERVER_PID"
exec 9<&-
crash_server "$mnt"
start_blockfs "$mnt" "$dev" --bpf --meta "$meta"
got=$(stat -c %s "$mnt/f") || fail "after the crash, the new server has no $mnt/f: the fsync was not saved"
cmp -n "$synced" "$mnt/f" "$ref" || fail "after the crash, the fsync'd bytes differ"
if [ "$got" = "$later" ]; then
	cmp -s <(tail -c +$((synced + 1)) "$mnt/f") <(tail -c +$((synced + 1)) "$ref") ||
		cmp -s <(tail -c +$((synced + 1)) "$mnt/f") <(head -c $((later - synced)) /dev/zero) ||
		fail "after the crash, the append nobody fsync'd reads as neither its bytes nor zeros"
	log "the new server reports the size of the append nobody fsync'd ($later)"
else
	expect_eq "size the new server reports (fsync'd $synced, then $later)" "$got" "$synced"
fi
stop_server "$mnt" "$SERVER_PID"
