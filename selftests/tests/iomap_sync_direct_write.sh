#!/bin/bash
# Synchronous writes return and their data survives a remount: O_DIRECT
# with O_SYNC, O_DSYNC, RWF_SYNC and RWF_DSYNC, libaio and io_uring with
# O_DSYNC, and buffered O_SYNC, of 4 KiB to 1 MiB, into written blocks,
# holes and past EOF, on blockfs and the ext4 server, BPF tier off and on.
# (fs/iomap syncs an O_DSYNC direct write from its completion, while the
# writer holds i_rwsem: an fsync that takes i_rwsem never returns.)
# TIMEOUT: 900
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# bounded WHAT SECS CMD...: CMD must finish within SECS (a hung write
# cannot be killed: say so and let the runner abort the connection).
bounded() {
	local what=$1 secs=$2 pid rc=0
	shift 2
	"$@" > "$T_TMP/bounded.out" 2>&1 &
	pid=$!
	wait_for "$secs" eval "! kill -0 $pid 2>/dev/null" ||
		fail "$what: still running after ${secs} s (hung?): $(tail -n1 "$T_TMP/bounded.out")"
	wait $pid || rc=$?
	cat "$T_TMP/bounded.out" >> "$T_TMP/writes.$kind.$mode.log"
	[ $rc = 0 ] || fail "$what: $(tail -n1 "$T_TMP/bounded.out")"
}

# aio_job ENGINE MNT [--verify_only]: 1 MiB of 4 KiB O_DIRECT|O_DSYNC random writes.
aio_job() {
	local engine=$1 mnt=$2
	shift 2
	fio --name="$engine" --filename="$mnt/$engine" --ioengine="$engine" --iodepth=8 \
		--direct=1 --sync=dsync --rw=randwrite --bs=4k --size=1M --randrepeat=1 \
		--verify=crc32c --do_verify=0 "$@"
}

# serve KIND MODE MNT: start the server of KIND (blockfs or ext4) at MNT.
serve() {
	local kind=$1 mode=$2 mnt=$3 bpf=''
	[ "$mode" = bpf ] && bpf=--bpf
	if [ "$kind" = blockfs ]; then
		start_server "$mnt" "$T_TMP/$kind.$mode.out" "$BLOCKFS" $bpf --meta "$T_TMP/$kind.$mode.meta" "$dev" "$mnt"
	else
		start_server "$mnt" "$T_TMP/$kind.$mode.out" "$EXT4SRV" $bpf "$T_TMP/$kind.$mode.img" "$mnt"
	fi
}

fi_load
modprobe loop
make_dev 64
seed=1
for kind in blockfs ext4; do
	for mode in upcall bpf; do
		mnt=$T_TMP/$kind.$mode ref=$T_TMP/ref.$kind.$mode
		mkdir -p "$ref"
		[ $kind = ext4 ] && { mke2fs -q -F -t ext4 -b 4096 "$T_TMP/$kind.$mode.img" 64M || fail "mke2fs failed"; }
		[ $kind = blockfs ] && dd if=/dev/zero of="$dev" bs=1M count=1 status=none
		serve $kind $mode "$mnt"
		bounded "$kind/$mode: synchronous writes" 300 python3 "$REPO/selftests/lib/syncwrite.py" "$mnt" "$ref" $seed
		for engine in libaio io_uring; do
			bounded "$kind/$mode: $engine O_DSYNC writes" 60 aio_job $engine "$mnt"
		done
		stop_server "$mnt" "$SERVER_PID"

		serve $kind $mode "$mnt"
		for f in "$ref"/*; do
			cmp "$mnt/${f##*/}" "$f" || fail "$kind/$mode: ${f##*/} differs after a remount"
		done
		for engine in libaio io_uring; do
			aio_job $engine "$mnt" --verify_only > "$T_TMP/verify.out" 2>&1 ||
				fail "$kind/$mode: $engine's O_DSYNC data is not there after a remount: $(grep -m1 -i 'verify\|err' "$T_TMP/verify.out")"
		done
		stop_server "$mnt" "$SERVER_PID"
		if [ $kind = ext4 ]; then
			e2fsck -fn "$T_TMP/$kind.$mode.img" > "$T_TMP/fsck.out" 2>&1 ||
				fail "$kind/$mode: e2fsck -fn: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -n1)"
		fi
		log "$kind/$mode: $(grep -c ' bytes in ' "$T_TMP/writes.$kind.$mode.log") synchronous writes (slowest $(grep -o '[0-9.]* s$' "$T_TMP/writes.$kind.$mode.log" | sort -n | tail -n1)), two fio jobs, all returned, all there after a remount"
		seed=$((seed + 1))
	done
done
