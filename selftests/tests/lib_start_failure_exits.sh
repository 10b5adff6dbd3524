#!/bin/bash
# A server whose start fails after its mount (here fuse-iomap-ext4 --bpf
# with too few file descriptors left for the BPF tier, open-files limits
# from 10 to 40) exits within 20 s with a nonzero status and a message,
# leaves no mount behind, and the image is clean (e2fsck -fn); a limit
# that suffices serves.  Such a server used to hang in its own unmount,
# which waited for an INIT only that server could answer, and a later
# sync(1) hung with it.
# TIMEOUT: 600
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
img=$T_TMP/img
mnt=$T_TMP/mnt
mkdir -p "$mnt"
mke2fs -q -F -t ext4 "$img" 64M || fail "mke2fs failed"
after_mount=0 served=0
for n in $(seq 10 2 40); do
	( ulimit -n "$n"; exec "$EXT4SRV" --bpf "$img" "$mnt" ) > "$T_TMP/srv.out" 2>&1 &
	pid=$!
	wait_for 40 eval "is_mounted '$mnt' || ! kill -0 $pid 2>/dev/null" || true
	sleep 1	# the BPF tier starts after the mount
	if is_mounted "$mnt" && kill -0 "$pid" 2>/dev/null && ! grep -q "can't" "$T_TMP/srv.out"; then
		served=$((served + 1))
		umount "$mnt"
	fi
	wait_for 40 eval "! kill -0 $pid 2>/dev/null" ||
		fail "limit $n: the server is still running 40 s on: $(tail -n1 "$T_TMP/srv.out")"
	rc=0
	wait "$pid" || rc=$?
	! is_mounted "$mnt" || fail "limit $n: $mnt is still mounted after the server exited"
	if grep -q "can't load extent_map" "$T_TMP/srv.out"; then
		after_mount=$((after_mount + 1))
		[ "$rc" != 0 ] || fail "limit $n: the BPF tier failed, and the server exited 0"
	fi
	log "limit $n: exit $rc: $(grep -m1 "can't" "$T_TMP/srv.out" || echo served)"
done
[ "$after_mount" -gt 0 ] || fail "no limit made the BPF tier fail after the mount: the case is not tested"
[ "$served" -gt 0 ] || fail "no limit was enough to serve"
timeout 30 sync || fail "sync hung after the failed starts"
ext4_fsck_clean "$img" "after the failed starts"
