#!/bin/bash
# Parallel stress on fuse-iomap-ext4 leaves an image e2fsck accepts and the
# kernel's ext4 reads the same.
#
# First, quick: the reproductions of what e2fsck once rejected, each on a
# fresh image: a write into a KEEP_SIZE preallocation past EOF (buffered
# and O_DIRECT; initialized blocks past i_size), and a truncate down to a
# few extents (a depth-1 tree that could be shorter).
#
# Then churn.py --seed (selftests/lib/churn.py): 4 processes x 5000
# operations on shared directories, creating,
# writing and reading (buffered and O_DIRECT), truncating, preallocating
# (KEEP_SIZE too), fsyncing, renaming, linking, symlinking, unlinking,
# mkdir/rmdir, chmod/chown/utimes and readdir, every byte checked against
# its model; with the BPF tier off and on, for one random seed (two
# under STRESS_LONG=1; STRESS_SEED="S ..." names them).  After each run: no
# unexpected errno, every model matched, e2fsck -fn exits 0 and says
# nothing, and the kernel's ext4 (ro,noload) reads the same tree (tree.py)
# and the bytes, modes, owners and set times of every modelled file.
# Under TCG one run of 4 x 5000 took about 110 s on an idle host (280-320 s
# at load 9 on 2 cores).  make check-long (STRESS_LONG=1) runs 4 x 20000;
# STRESS_SEED="S ..." (passed into the guest by selftests/run) replays seeds.
# TIMEOUT: 1800
# TIMEOUT_LONG: 6000
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

PROCS=4 OPS=5000 NSEEDS=1
[ "${STRESS_LONG:-0}" != 1 ] || OPS=20000 NSEEDS=2
SEEDS=${STRESS_SEED:-}
if [ -z "$SEEDS" ]; then
	for ((i = 0; i < NSEEDS; i++)); do
		SEEDS+=" $((RANDOM * 32768 + RANDOM))"
	done
fi
CHURN=$REPO/selftests/lib/churn.py
TREE=$REPO/selftests/lib/tree.py
img=$T_TMP/img ours=$T_TMP/ours kern=$T_TMP/kern
mkdir -p "$kern"

ext4_load

# fsck_clean WHAT: e2fsck -fn on $img exits 0 and prints nothing but its passes and summary.
fsck_clean() {
	local rc=0
	e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 || rc=$?
	grep -v '^Pass [0-9]\|^e2fsck [0-9]\|^$\|: [0-9]*/[0-9]* files (.*), [0-9]*/[0-9]* blocks$' \
		"$T_TMP/fsck.out" > "$T_TMP/fsck.msg" || true
	[ $rc = 0 ] && [ ! -s "$T_TMP/fsck.msg" ] ||
		fail "$1: e2fsck -fn exit $rc: $(head -4 "$T_TMP/fsck.msg" | tr '\n\t' '  ')"
}

# serve [--bpf]: a fresh image, served at $ours.
serve() {
	mke2fs -q -F -t ext4 -b 4096 "$img" 128M || fail "mke2fs failed"
	start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "$@" "$img" "$ours"
}

# The reproductions: a few seconds, and a clear message if one comes back.
repro() {
	local what=$1
	shift
	serve
	(cd "$ours" && "$@") > "$T_TMP/repro.out" 2>&1 || fail "$what failed: $(tail -n1 "$T_TMP/repro.out")"
	stop_server "$ours" "$SERVER_PID"
	fsck_clean "$what"
}
repro "buffered write into a KEEP_SIZE preallocation past EOF" \
	xfs_io -f -c "pwrite 0 100k" -c "falloc -k 100k 1m" -c "pwrite 200k 4k" -c fsync f
repro "O_DIRECT write into a KEEP_SIZE preallocation past EOF" \
	xfs_io -f -d -c "pwrite 0 100k" -c "falloc -k 100k 1m" -c "pwrite 200k 4k" -c fsync f
gaps=()
for i in 0 2 4 6 8 10 12; do
	gaps+=(-c "pwrite $((i * 4))k 4k")
done
repro "truncate of a 7-extent file to 2 extents" xfs_io -f "${gaps[@]}" -c "truncate 10000" -c fsync f
log "reproductions: e2fsck clean"

for mode in off on; do
	for seed in $SEEDS; do
		run="seed $seed, BPF $mode"
		start=$SECONDS
		log "$run: $PROCS x $OPS operations (replay: $CHURN --seed $seed --procs $PROCS --ops $OPS DIR, on a fresh mount)"
		if [ $mode = on ]; then serve --bpf; else serve; fi
		python3 "$CHURN" --seed "$seed" --procs "$PROCS" --ops "$OPS" \
			--manifest "$T_TMP/model.json" "$ours/churn" > "$T_TMP/churn.out" 2>&1 ||
			fail "$run: $(tail -n1 "$T_TMP/churn.out")"
		grep '^worker' "$T_TMP/churn.out" >&2
		if [ $mode = on ]; then
			[ "$(counter "$ours" bpf_hits)" -gt 0 ] || fail "$run: the BPF tier answered nothing"
		fi
		python3 "$TREE" --no-dir-size --no-xattrs "$ours" > "$T_TMP/ours.manifest"
		stop_server "$ours" "$SERVER_PID"
		fsck_clean "$run, after unmount"
		mount -o ro,noload,loop "$img" "$kern" || fail "$run: kernel ext4 can't mount the image"
		python3 "$TREE" --no-dir-size --no-xattrs "$kern" > "$T_TMP/kern.manifest"
		python3 "$CHURN" --check "$T_TMP/model.json" "$kern/churn" > "$T_TMP/check.out" 2>&1 ||
			{ umount "$kern"; fail "$run: through the kernel's ext4: $(tail -n1 "$T_TMP/check.out")"; }
		umount "$kern"
		diff "$T_TMP/ours.manifest" "$T_TMP/kern.manifest" > "$T_TMP/diff" ||
			fail "$run: the kernel's ext4 reads another tree: $(grep '^[<>]' "$T_TMP/diff" | head -2 | tr '\n' ' ')"
		log "$run: $PROCS x $OPS operations, e2fsck clean, kernel ext4 agrees" \
			"($(wc -l < "$T_TMP/kern.manifest") names, $(cat "$T_TMP/check.out")); $((SECONDS - start)) s"
	done
done
