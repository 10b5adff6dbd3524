#!/bin/bash
# A crash loses only what nobody fsync'd, and never shows stale blocks:
# fuse-iomap-blockfs --meta (first with the ioend upcall, then with --bpf,
# whose ioends are queued, then --out-of-place, which remaps at ioend) on
# a device whose blocks hold old bytes (and in later rounds the earlier
# rounds' files).  Random whole-block
# writes (O_DIRECT and buffered) into two sparse files, so into holes
# (the server preallocates unwritten blocks) and into unwritten and
# written blocks, with an fsync of a file every 4 to 12 writes and reads
# checked against the model, until the server is SIGKILLed after a
# random number of writes.  A new server with the same metadata: every
# block reads as its last fsync'd write or a later write to it (or zeros
# if none was fsync'd), never as zeros where an fsync'd write was, the
# old bytes, or another block's data (crash_model.py); and what the files
# read is on the device at the FIEMAP address of the extents not flagged
# unwritten.  The seed is logged; STRESS_SEED=N replays one.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 16
stale_fill "$dev"
mnt=$T_TMP/mnt
seed=${STRESS_SEED:-$RANDOM}
for mode in upcall bpf oop; do
	meta=$T_TMP/$mode.meta wlog=$T_TMP/$mode.model
	case $mode in
	upcall) opt=() ;;
	bpf) opt=(--bpf) ;;
	oop) opt=(--out-of-place) ;;
	esac
	start_blockfs "$mnt" "$dev" --meta "$meta" "${opt[@]}"
	# Crash after 20 to 100 writes.
	model_start "$mode" "$mnt" "$wlog" "$seed" $((20 + (seed * 7 + ${#mode}) % 80)) 40
	model_crash "$mode" "$mnt" "$wlog" "$seed"

	# A new mount: nothing of the old one is in the page cache.
	start_blockfs "$mnt" "$dev" --meta "$meta" "${opt[@]}"
	out=$(python3 "$CRASH_MODEL" check "$mnt" "$wlog" "$dev" 2> "$T_TMP/check.err") ||
		fail "$mode (seed $seed): after the crash, $(tail -n1 "$T_TMP/check.err")"
	log "$mode: after the crash, $out"
	expect_eq "$mode: rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
	stop_server "$mnt" "$SERVER_PID"
done
