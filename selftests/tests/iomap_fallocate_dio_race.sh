#!/bin/bash
# fallocate PUNCH_HOLE and ZERO_RANGE wait for direct I/O in flight, as
# truncate does.  On an ext4 image whose free blocks hold a marker,
# fuse-iomap-ext4 (without and with --bpf) serves a file; each round
# (selftests/lib/aio_race.py) preallocates 1 MiB, submits an O_DIRECT
# write of new bytes into it with io_submit and, before reaping it, zeroes
# or punches the same range.  Every block then reads as zeros, as on the
# kernel's ext4 (run first, on a loop mount of the same kind of image):
# the fallocate waited for the write.  Neither the new bytes (the write's
# ioend converted the range after it was zeroed) nor the marker (blocks
# freed by the fallocate and handed out again); e2fsck -fn is clean.
# STRESS_LONG=1 runs 200 rounds per mode instead of 24.
# TIMEOUT: 300
# TIMEOUT_LONG: 1500
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

rounds=24
[ "${STRESS_LONG:-0}" = 1 ] && rounds=200
seed=${STRESS_SEED:-$RANDOM}

ext4_load
for mode in kernel upcall bpf; do
	img=$T_TMP/$mode.img
	{ yes "$STALE_LINE" || true; } | head -c $((64 << 20)) > "$img"
	mke2fs -q -F -t ext4 -b 4096 -E nodiscard "$img" || fail "mke2fs failed"
	mnt=$T_TMP/mnt
	if [ $mode = kernel ]; then
		mkdir -p "$mnt"
		mount -o loop "$img" "$mnt" || fail "the kernel's ext4 can't mount $img"
		defer "umount '$mnt' 2>/dev/null"
	else
		opt=()
		[ $mode = upcall ] || opt=(--bpf)
		start_server "$mnt" "$T_TMP/ext4.out" "$EXT4SRV" "${opt[@]}" "$img" "$mnt"
	fi
	python3 "$REPO/selftests/lib/aio_race.py" "$mnt/f" $rounds $seed > "$T_TMP/race.out" 2>&1 ||
		fail "$mode (seed $seed): $(tail -n1 "$T_TMP/race.out")"
	log "$mode: $(wc -l < "$T_TMP/race.out") rounds, every block zeros"
	grep -q "$STALE_LINE" "$mnt/f" && fail "$mode (seed $seed): the file holds the marker"
	if [ $mode = kernel ]; then
		umount "$mnt" || fail "can't unmount the kernel's ext4"
	else
		expect_eq "$mode: rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
		stop_server "$mnt" "$SERVER_PID"
	fi
	ext4_fsck_clean "$img" "($mode)"
done
