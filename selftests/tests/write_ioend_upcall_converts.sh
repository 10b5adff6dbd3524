#!/bin/bash
# Writes into unwritten extents, converted at ioend by the upcall:
# fuse-iomap-blockfs (no BPF) on a device whose blocks hold another file's
# old bytes.  A write into a hole preallocates at least 64 blocks as
# unwritten; O_DIRECT and buffered writes (whole blocks, partial blocks,
# a write crossing blocks) into those blocks and into new holes come back
# as data, and every byte never written reads as zeros, never as the old
# bytes: through the mount after dropping caches, and again after a
# remount from the saved metadata.  FIEMAP shows the blocks written as
# no longer unwritten and every other block as unwritten; the written
# ones are on the device at the FIEMAP address.  Each O_DIRECT write
# made one FUSE_IOMAP_IOEND (flags UNWRITTEN and DIRECT), the writeback
# of the buffered ones some with WRITEBACK, and the ioend_upcalls counter
# and the server's log agree.
# TIMEOUT: 150
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

UNWRITTEN=0x2 DIRECT=0x8 WRITEBACK=0x20	# FUSE_IOMAP_IOEND_*

fi_load
make_dev 16
stale_fill "$dev"
mnt=$T_TMP/mnt meta=$T_TMP/meta ref=$T_TMP/ref written=$T_TMP/written
start_blockfs "$mnt" "$dev" --meta "$meta"
need_counters "$mnt" ioend_upcalls
truncate -s $((4 << 20)) "$mnt/f" "$ref" || fail "can't create $mnt/f"
: > "$written"
ioends=$(counter "$mnt" ioend_upcalls) logged=$(log_count IOEND)

K=4096
# Holes at blocks 0, 300 and 600 (buffered at 300); the other writes land
# in what those preallocated.
ops="d0+$K d$((5 * K))+$((2 * K)) b$((30 * K + 1000))+100 d$((20 * K))+$K b$((50 * K))+$((3 * K))
     d$((40 * K))+$((4 * K)) b$((57 * K + 4000))+200 b$((300 * K))+$((3 * K)) d$((310 * K))+$K
     d$((600 * K))+$K b$((620 * K))+$K"
python3 "$REPO/selftests/lib/ioend_io.py" "$mnt/f" "$ref" "$written" $ops 2> "$T_TMP/io.err" ||
	fail "$(tail -n1 "$T_TMP/io.err")"
sync

n_direct=$(grep -o '\bd[0-9]' <<<"$ops" | wc -l)
python3 - "$T_TMP/blockfs.log" "$logged" $UNWRITTEN $DIRECT $WRITEBACK > "$T_TMP/ioends" <<'PY'
import sys
log, skip, uw, direct, wb = sys.argv[1], int(sys.argv[2]), *(int(a, 0) for a in sys.argv[3:])
lines = [l.split() for l in open(log) if l.startswith("IOEND ")][skip:]
flags = [int(l[5], 0) for l in lines]
print(len(flags), sum(1 for f in flags if f & uw), sum(1 for f in flags if f & direct),
      sum(1 for f in flags if f & wb))
PY
read -r all uw dio wb < "$T_TMP/ioends"
expect_eq "ioend_upcalls vs IOEND lines in the server's log" $(($(counter "$mnt" ioend_upcalls) - ioends)) "$all"
expect_eq "IOENDs with the flag DIRECT (one per O_DIRECT write)" "$dio" "$n_direct"
[ "$wb" -ge 1 ] || fail "no IOEND with the flag WRITEBACK for the buffered writes (IOENDs: $all)"
expect_eq "IOENDs with the flag UNWRITTEN" "$uw" "$all"
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0

check_unwritten_states "$mnt/f" "$written"
[ $((uw_written + uw_unwritten)) -ge 192 ] ||
	fail "3 writes into holes preallocated $((uw_written + uw_unwritten)) blocks, want at least 3 x 64"
log "FIEMAP: $uw_written blocks written, $uw_unwritten unwritten"
check_written_on_device "$mnt/f" "$ref" "$dev"
drop_caches
cmp "$mnt/f" "$ref" > "$T_TMP/cmp" 2>&1 ||
	fail "bytes differ from what was written ($(grep -c "$STALE_LINE" "$mnt/f") lines of stale bytes): $(head -c 200 "$T_TMP/cmp")"

# The unwritten state is metadata the server keeps: it survives a remount.
stop_server "$mnt" "$SERVER_PID"
start_blockfs "$mnt" "$dev" --meta "$meta"
cmp "$mnt/f" "$ref" > "$T_TMP/cmp" 2>&1 ||
	fail "after a remount, bytes differ ($(grep -c "$STALE_LINE" "$mnt/f") lines of stale bytes): $(head -c 200 "$T_TMP/cmp")"
check_unwritten_states "$mnt/f" "$written"
stop_server "$mnt" "$SERVER_PID"
