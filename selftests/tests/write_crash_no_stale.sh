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

MODEL=$REPO/selftests/lib/crash_model.py
BLOCKS=256	# crash_model.py's files: f0, f1 of 1 MiB

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
	truncate -s $((BLOCKS * 4096)) "$mnt/f0" "$mnt/f1" || fail "$mode: can't create the files"
	python3 -c 'import os, sys; [os.fsync(os.open(p, os.O_RDONLY)) for p in sys.argv[1:]]' "$mnt/f0" "$mnt/f1" ||
		fail "$mode: can't fsync the new files"
	# Crash after 20 to 100 writes.
	kill_at=$((20 + (seed * 7 + ${#mode}) % 80))
	log "$mode: seed $seed, SIGKILL after $kill_at writes"
	: > "$wlog"
	python3 "$MODEL" run "$mnt" "$wlog" "$seed" > "$T_TMP/$mode.run.out" 2>&1 &
	wl=$!
	defer "kill -9 $wl 2>/dev/null"
	wait_for 40 eval "[ \$(grep -c '^W ' '$wlog') -ge $kill_at ] || ! kill -0 $wl 2>/dev/null" ||
		fail "$mode: fewer than $kill_at writes in 40 s ($(grep -c '^W ' "$wlog") done)"
	kill -0 $wl 2>/dev/null ||
		fail "$mode (seed $seed): the workload ended before the crash: $(tail -n1 "$wlog") $(tail -n1 "$T_TMP/$mode.run.out")"
	crash_server "$mnt"
	rc=0
	wait $wl || rc=$?
	[ $rc = 0 ] || fail "$mode (seed $seed): the workload failed: $(grep '^E' "$wlog" | tail -n1) $(tail -n1 "$T_TMP/$mode.run.out")"
	log "$mode: $(grep -c '^W ' "$wlog") writes, $(grep -c '^F ' "$wlog") fsyncs, then: $(grep '^E' "$wlog" | tail -n1)"

	# A new mount: nothing of the old one is in the page cache.
	start_blockfs "$mnt" "$dev" --meta "$meta" "${opt[@]}"
	out=$(python3 "$MODEL" check "$mnt" "$wlog" "$dev" 2> "$T_TMP/check.err") ||
		fail "$mode (seed $seed): after the crash, $(tail -n1 "$T_TMP/check.err")"
	log "$mode: after the crash, $out"
	expect_eq "$mode: rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
	stop_server "$mnt" "$SERVER_PID"
done
