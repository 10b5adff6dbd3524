#!/bin/bash
# One minute (ten with STRESS_LONG=1, make check-long) of parallel I/O on
# fuse-iomap-ext4 --bpf: fio with crc32c
# verify (buffered and O_DIRECT random read/write, one run after another),
# and three churn.py processes (writes, reads checked against a model,
# truncates, renames, unlinks), while the BPF tier is detached and attached
# again every few seconds (the loader detaches the server's extent_map and
# attaches it again by its map id, so that it answers from the extents
# the server keeps publishing).  Then:
# every fio run verified, every churn model matched, e2fsck -fn clean, the
# kernel quiet (the runner), and the kernel's unreclaimable slab back to
# its level from before insmod once the module is gone.
# TIMEOUT: 540
# TIMEOUT_LONG: 1200
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

SECONDS_WANTED=60
[ "${STRESS_LONG:-0}" != 1 ] || SECONDS_WANTED=600
unreclaimable_kb() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	awk '$1 == "SUnreclaim:" { print $2 }' /proc/meminfo
}
# The module's objects go back to the slab after RCU grace periods, later
# on a busy machine.
slab_back() {
	after=$(unreclaimable_kb)
	[ $((after - base)) -le 2048 ]
}

modprobe loop
modprobe ext4
img=$T_TMP/img ours=$T_TMP/ours
mke2fs -q -F -t ext4 -b 4096 "$img" 256M || fail "mke2fs failed"
fi_unload
# The server's loop device is the kernel's, not ours: make it exist now.
losetup -f > /dev/null
base=$(unreclaimable_kb)
fi_load
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf "$img" "$ours"
mkdir "$ours/fio"
ops_map=$("$LOADER" show "$ours" | sed -n 's/.*ops extent_map link [0-9]* map \([0-9]*\).*/\1/p')
[ -n "$ops_map" ] || fail "no map id for the server's extent_map: $("$LOADER" show "$ours")"

end=$((SECONDS + SECONDS_WANTED))
(
	cd "$T_TMP"
	while [ $SECONDS -lt $end ]; do
		fio --minimal --verify_state_save=0 --directory="$ours/fio" --ioengine=psync \
			--verify=crc32c --verify_fatal=1 --do_verify=1 --size=8M \
			--name=direct --direct=1 --rw=randrw --bs=4k --filename=direct \
			--name=buffered --rw=randrw --bs=16k --filename=buffered >> fio.out 2>&1 ||
			{ touch fio.failed; exit 1; }
		echo $((${runs:-0} + 1)) > fio.runs
		runs=$(cat fio.runs)
	done
) &
fio=$!
defer "kill $fio 2>/dev/null"
churn=()
for i in 1 2 3; do
	python3 "$REPO/selftests/lib/churn.py" "$ours/churn$i" "$SECONDS_WANTED" "$i" \
		> "$T_TMP/churn$i.out" 2>&1 &
	churn+=($!)
	defer "kill ${churn[-1]} 2>/dev/null"
done

flips=0
while [ $SECONDS -lt $end ] && [ ! -e "$T_TMP/fio.failed" ]; do
	sleep 2
	"$LOADER" detach "$ours" > "$T_TMP/flip.out" 2>&1 || fail "detach $flips: $(tail -n1 "$T_TMP/flip.out")"
	sleep 1
	"$LOADER" attach "$ours" "map:$ops_map" > "$T_TMP/flip.out" 2>&1 ||
		fail "attach $flips: $(tail -n1 "$T_TMP/flip.out")"
	flips=$((flips + 1))
done
wait $fio || fail "fio failed: $(grep -i 'verify\|error\|bad' "$T_TMP/fio.out" | head -2 | tr '\n' ' ')"
for i in 1 2 3; do
	wait "${churn[i - 1]}" || fail "churn $i: $(tail -n1 "$T_TMP/churn$i.out")"
	log "churn $i: $(cat "$T_TMP/churn$i.out")"
done
log "$SECONDS_WANTED s: $(cat "$T_TMP/fio.runs") fio runs verified, $flips detach/attach rounds;" \
	"$(counter "$ours" iomap_begin_upcalls) BEGIN upcalls, $(counter "$ours" bpf_hits) BPF answers"
[ "$(counter "$ours" bpf_hits)" -gt 0 ] || fail "the BPF tier answered nothing"
"$LOADER" detach "$ours" > /dev/null
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck -fn: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"

fi_unload
# A leak of one small object per I/O would be megabytes by now.
wait_for 40 slab_back || fail "unreclaimable slab grew by $((after - base)) kB over the run"
log "unreclaimable slab: $base kB before insmod, $after kB after rmmod"
fi_load
