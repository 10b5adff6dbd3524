#!/bin/bash
# A full ioend queue falls back to the upcall, never to dropping a change:
# fuse-iomap-blockfs --bpf with the smallest queue (one page: 64 records)
# on a device whose blocks hold another file's old bytes.  300 O_DIRECT
# writes into unwritten blocks, with nothing to drain the queue between
# them, are more than it holds: some ioends were handled by BPF, some
# fell back (bpf_ioend_fallbacks) and went to the server as
# FUSE_IOMAP_IOEND upcalls, one for each, and every write had exactly one
# ioend.  Nothing was lost: the bytes are right through the mount after
# dropping caches (never written = zeros, never the old bytes), FIEMAP
# shows exactly the written blocks converted, the written ones are on the
# device at the FIEMAP address; and after a remount without BPF from the
# saved metadata, the server's own extents say the same, having applied
# every ioend once (QIOEND + IOEND lines = writes).
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

K=4096 N=300
IO=$REPO/selftests/lib/ioend_io.py
QUEUE_OPT="--ioend-queue 4096"	# fuse-iomap-blockfs: the ioend ring buffer's bytes

fi_load
make_dev 16
stale_fill "$dev"
mnt=$T_TMP/mnt meta=$T_TMP/meta ref=$T_TMP/ref written=$T_TMP/written
start_blockfs "$mnt" "$dev" --bpf --meta "$meta" $QUEUE_OPT
need_counters "$mnt" ioend_upcalls bpf_ioend_handled bpf_ioend_fallbacks bpf_ioend_errors bpf_ioend_pending
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
truncate -s $((4 << 20)) "$mnt/f" "$ref" || fail "can't create $mnt/f"
: > "$written"
# Writes into holes: each preallocates at least 64 unwritten blocks.
holes=()
for b in 0 128 256 384 512 640 768 896; do holes+=("d$((b * K))+$K"); done
python3 "$IO" "$mnt/f" "$ref" "$written" "${holes[@]}" 2> "$T_TMP/io.err" || fail "$(tail -n1 "$T_TMP/io.err")"
sync
dd if="$mnt/f" of=/dev/null bs=$K count=1 iflag=direct status=none || fail "warm-up read failed"
python3 "$IOEND_CHECK" unwritten "$mnt/f" | awk '$1 < 1024' > "$T_TMP/unwritten"
[ "$(wc -l < "$T_TMP/unwritten")" -ge $N ] ||
	fail "8 writes into holes left $(wc -l < "$T_TMP/unwritten") unwritten blocks, want at least $N"
mapfile -t ops < <(awk 'BEGIN { srand(14) } { print rand(), "d" $1 * 4096 "+4096" }' "$T_TMP/unwritten" |
	sort -g | head -n $N | cut -d' ' -f2)

ioends=$(counter "$mnt" ioend_upcalls) handled=$(counter "$mnt" bpf_ioend_handled)
fallbacks=$(counter "$mnt" bpf_ioend_fallbacks) li=$(log_count IOEND) lq=$(log_count QIOEND)
python3 "$IO" "$mnt/f" "$ref" "$written" "${ops[@]}" 2> "$T_TMP/io.err" || fail "$(tail -n1 "$T_TMP/io.err")"
d_handled=$(($(counter "$mnt" bpf_ioend_handled) - handled))
d_fallbacks=$(($(counter "$mnt" bpf_ioend_fallbacks) - fallbacks))
d_ioends=$(($(counter "$mnt" ioend_upcalls) - ioends))
log "$N writes: $d_handled ioends queued by BPF, $d_fallbacks fell back to the upcall"
[ "$d_fallbacks" -ge 1 ] || fail "$N ioends into a 64-record queue: none fell back (handled $d_handled)"
[ "$d_handled" -ge 1 ] || fail "none of $N ioends was queued by BPF"
expect_eq "ioends for $N O_DIRECT writes (handled + fallbacks)" $((d_handled + d_fallbacks)) $N
expect_eq "FUSE_IOMAP_IOEND upcalls vs fallbacks" "$d_ioends" "$d_fallbacks"
expect_eq "IOEND lines in the server's log vs upcalls" $(($(log_count IOEND) - li)) "$d_ioends"
expect_eq "bpf_ioend_errors" "$(counter "$mnt" bpf_ioend_errors)" 0
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0

sync
check_unwritten_states "$mnt/f" "$written"
check_written_on_device "$mnt/f" "$ref" "$dev"
drop_caches
cmp "$mnt/f" "$ref" > "$T_TMP/cmp" 2>&1 ||
	fail "bytes differ from what was written ($(grep -c "$STALE_LINE" "$mnt/f") lines of stale bytes): $(head -c 200 "$T_TMP/cmp")"
stop_server "$mnt" "$SERVER_PID"
expect_eq "ioends the server applied (QIOEND + IOEND lines) for $N writes" \
	$(($(log_count QIOEND) - lq + $(log_count IOEND) - li)) $N

# The server's own extents, without BPF.
start_blockfs "$mnt" "$dev" --meta "$meta"
cmp "$mnt/f" "$ref" > "$T_TMP/cmp" 2>&1 ||
	fail "after a remount without BPF, bytes differ ($(grep -c "$STALE_LINE" "$mnt/f") lines of stale bytes): $(head -c 200 "$T_TMP/cmp")"
check_unwritten_states "$mnt/f" "$written"
stop_server "$mnt" "$SERVER_PID"
