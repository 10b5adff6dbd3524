#!/bin/bash
# SIGKILL fuse-iomap-ext4 (without and with its BPF tier) while fio does
# buffered and O_DIRECT I/O on it: fio ends within 10 s with ENOTCONN or
# EIO, new I/O fails at once (BPF answers no longer count once the server
# is gone), the mount unmounts, and the module unloads.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
modprobe loop
for mode in upcall bpf; do
	img=$T_TMP/$mode.img ours=$T_TMP/$mode
	mke2fs -q -F -t ext4 -b 4096 "$img" 128M || fail "mke2fs failed"
	start_server "$ours" "$T_TMP/$mode.out" "$EXT4SRV" $([ $mode = bpf ] && echo --bpf) "$img" "$ours"
	dd if=/dev/urandom of="$ours/direct" bs=1M count=16 conv=fsync status=none
	dd if=/dev/urandom of="$ours/buffered" bs=1M count=16 conv=fsync status=none
	drop_caches
	fio --directory="$ours" --ioengine=psync --time_based --runtime=120 --size=16M \
		--name=direct --direct=1 --rw=randrw --bs=4k --filename=direct \
		--name=buffered --rw=randrw --bs=16k --filename=buffered > "$T_TMP/$mode.fio" 2>&1 &
	fio=$!
	defer "kill -9 $fio 2>/dev/null"
	# fio is slow to start on a busy machine: wait until its I/O reaches
	# the tier under test (or fio ends), not for a fixed time.
	tier=iomap_begin_upcalls
	[ $mode = upcall ] || tier=bpf_hits
	before=$(counter "$ours" $tier)
	wait_for 60 eval "! kill -0 $fio 2>/dev/null || [ \$(counter '$ours' $tier) -gt $before ]" ||
		log "$mode: no $tier from fio in 60 s"
	kill -0 $fio 2>/dev/null || fail "$mode: fio ended before the kill: $(tail -n3 "$T_TMP/$mode.fio")"
	if [ $mode = bpf ]; then
		[ "$(counter "$ours" bpf_hits)" -gt 0 ] || fail "bpf: the BPF tier answered nothing"
	fi
	kill -9 "$SERVER_PID"
	wait_for 30 eval "! kill -0 $fio 2>/dev/null" ||
		fail "$mode: fio still running 30 s after the server was killed"
	rc=0
	wait $fio || rc=$?
	[ $rc != 0 ] || fail "$mode: fio succeeded although its server died"
	grep -Eq 'Transport endpoint is not connected|Input/output error|err= *(107|5)\b' "$T_TMP/$mode.fio" ||
		fail "$mode: fio did not fail with ENOTCONN/EIO: $(grep -m2 -i 'err' "$T_TMP/$mode.fio" | tr '\n' ' ')"
	out=$(timeout 10 dd if="$ours/direct" of=/dev/null bs=4k count=1 iflag=direct 2>&1) &&
		fail "$mode: a read after the server died succeeded"
	grep -q 'Transport endpoint is not connected' <<<"$out" ||
		fail "$mode: a read after the server died: want ENOTCONN, got: $out"
	wait_for 30 umount "$ours" || fail "$mode: can't unmount $ours after the server died"
	log "$mode: fio failed as it should ($(grep -Eo 'err= *[0-9]+[^:]*' "$T_TMP/$mode.fio" | sort -u | tr '\n' ' ')), unmounted"
done
# Nothing holds the module: the struct_ops maps of the dead server went with it.
fi_unload
fi_load
