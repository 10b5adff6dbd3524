#!/bin/bash
# write_crash_no_stale on fuse-iomap-ext4 --bpf: the BPF tier answers
# writes into uninitialized extents and queues their ioends for the
# server.  An ext4 file system made on a device whose blocks hold old
# bytes; random whole-block writes (O_DIRECT and buffered) into two
# sparse files with an fsync every 4 to 12 writes, until the server is
# SIGKILLed after a random number of writes.  Then e2fsck -fy (the
# server keeps no journal yet), e2fsck -fn clean, and through the
# kernel's ext4: every block reads as its last fsync'd write or a later
# one (zeros only if none was fsync'd), never old bytes or another
# block's data, and what the files read is on the device at FIEMAP's
# address (crash_model.py).  The seed is logged; STRESS_SEED=N replays.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
make_dev 64
stale_fill "$dev"
mke2fs -q -F -t ext4 -b 4096 -E nodiscard,lazy_itable_init=0 "$dev" || fail "mke2fs failed"
mnt=$T_TMP/mnt wlog=$T_TMP/model
seed=${STRESS_SEED:-$RANDOM}
start_server "$mnt" "$T_TMP/ext4.out" "$EXT4SRV" --bpf -l "$T_TMP/ext4.log" "$dev" "$mnt"
model_start ext4 "$mnt" "$wlog" "$seed" $((20 + seed % 80)) 60
[ "$(counter "$mnt" bpf_hits)" -gt 0 ] || fail "the BPF tier answered nothing"
log "BPF ioends handled $(counter "$mnt" bpf_ioend_handled), upcalls: BEGIN $(counter "$mnt" iomap_begin_upcalls) IOEND $(counter "$mnt" ioend_upcalls)"
model_crash ext4 "$mnt" "$wlog" "$seed"

rc=0
e2fsck -fy "$dev" > "$T_TMP/fsck-y.out" 2>&1 || rc=$?
[ $rc -lt 4 ] || fail "e2fsck -fy could not repair: $(tail -n3 "$T_TMP/fsck-y.out" | tr '\n' ' ')"
log "e2fsck -fy: exit $rc, $(grep -c . "$T_TMP/fsck-y.out") lines"
ext4_fsck_clean "$dev" "after repair"
kern=$T_TMP/kern
mkdir -p "$kern"
mount -o ro "$dev" "$kern" || fail "kernel ext4 can't mount the image"
defer "umount '$kern' 2>/dev/null"
out=$(python3 "$CRASH_MODEL" check "$kern" "$wlog" "$dev" 2> "$T_TMP/check.err") ||
	fail "(seed $seed) after the crash, through the kernel's ext4: $(tail -n1 "$T_TMP/check.err")"
log "after the crash: $out"
