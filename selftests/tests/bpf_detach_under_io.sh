#!/bin/bash
# fio with crc32c verify runs on fuse-iomap-ext4 --bpf while the BPF tier
# is detached and attached again ROUNDS times (10; 40 under STRESS_LONG=1;
# the loader detaches the server's extent_map first, then each fresh
# extent_map it attaches, whose empty maps send every mapping to the
# server): fio passes, every attach works, the kernel stays quiet, e2fsck
# is clean.
# TIMEOUT: 600
# TIMEOUT_LONG: 1800
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

ROUNDS=10
[ "${STRESS_LONG:-0}" != 1 ] || ROUNDS=40
fi_load
modprobe loop
img=$T_TMP/img ours=$T_TMP/ours
mke2fs -q -F -t ext4 -b 4096 "$img" 128M || fail "mke2fs failed"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf "$img" "$ours"
# fio runs again and again (each run verifies what it wrote) until the
# rounds are done: the rounds do not depend on how fast the guest is.
(
	cd "$T_TMP"
	while [ ! -e stop ]; do
		fio --minimal --verify_state_save=0 --directory="$ours" --ioengine=psync \
			--verify=crc32c --verify_fatal=1 --do_verify=1 --size=8M \
			--name=direct --direct=1 --rw=randrw --bs=4k --filename=direct \
			--name=buffered --rw=randrw --bs=16k --filename=buffered >> fio.out 2>&1 ||
			{ touch failed; exit 1; }
		runs=$((${runs:-0} + 1))
		echo $runs > runs
	done
) &
fio=$!
defer "touch '$T_TMP/stop'; kill $fio 2>/dev/null"
# Rounds before fio's I/O has begun (slow to start on a busy machine) would
# detach and attach under no I/O at all.
wait_for 60 eval "[ -e '$T_TMP/failed' ] || [ \$(counter '$ours' bpf_hits) -gt 0 ]" ||
	log "no BPF answer to fio in 60 s"
for i in $(seq $ROUNDS); do
	[ ! -e "$T_TMP/failed" ] || break
	"$LOADER" detach "$ours" > /dev/null || fail "detach $i failed"
	sleep 0.3
	"$LOADER" attach "$ours" "$BUILD/bpf/extent_map.bpf.o" > "$T_TMP/attach.out" 2>&1 ||
		fail "attach $i failed: $(tail -n1 "$T_TMP/attach.out")"
	sleep 0.3
done
touch "$T_TMP/stop"
wait $fio || fail "fio failed (round $i): $(grep -i 'verify\|error\|bad' "$T_TMP/fio.out" | head -2 | tr '\n' ' ')"
log "$(cat "$T_TMP/runs") fio runs, all verified, over $ROUNDS detach/attach rounds"
"$LOADER" detach "$ours" > /dev/null
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 || fail "e2fsck -fn: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"
