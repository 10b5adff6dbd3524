#!/bin/bash
# Eight servers started at the same instant, each on an image file of its
# own (four fuse-iomap-ext4, two with --bpf; two fuse-iomap-blockfs; two
# examples/fuse-iomap-example), as fstab lines mounted in parallel at boot
# are: each gets a loop device of its own from the library
# (fi_open_device), none fails with "Device or resource busy" from two
# processes taking the same free loop device, all eight are mounted and
# serve a file's bytes, and each exits 0 at its unmount.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

EXAMPLE=$BUILD/examples/fuse-iomap-example
export LD_LIBRARY_PATH=$BUILD/stage/usr/lib
[ -x "$EXAMPLE" ] || fail "$EXAMPLE not built"

fi_load
modprobe loop
n=8
for i in 0 1 2 3; do
	mke2fs -q -F -t ext4 -b 4096 "$T_TMP/img$i" 32M || fail "mke2fs img$i failed"
done
for i in 4 5 6 7; do
	truncate -s 32M "$T_TMP/img$i"
done
cmds=(
	"$EXT4SRV" "$EXT4SRV --bpf" "$EXT4SRV" "$EXT4SRV --bpf"
	"$BLOCKFS" "$BLOCKFS" "$EXAMPLE --bpf" "$EXAMPLE"
)

# Each server waits in a read of one fifo, which this shell holds open
# for writing (and reading, so that opening it does not block); closing it
# lets all eight go at once.
mkfifo "$T_TMP/go"
exec 3<> "$T_TMP/go"
pids=()
for ((i = 0; i < n; i++)); do
	mnt=$T_TMP/mnt$i
	mkdir -p "$mnt"
	case ${cmds[i]} in
	*example*) args=("$T_TMP/img$i" 0 $((16 << 20)) "$mnt") ;;
	*) args=("$T_TMP/img$i" "$mnt") ;;
	esac
	# shellcheck disable=SC2086 # cmds[i] is a program and its options
	(exec 3>&-; read -r _ < "$T_TMP/go" || true; exec ${cmds[i]} "${args[@]}") \
		> "$T_TMP/srv$i.out" 2>&1 &
	pids+=($!)
	echo "$T_TMP/srv$i.out" >> "${T_SERVERS:-/dev/null}"
	defer "disown $! 2>/dev/null; kill -9 $! 2>/dev/null; umount -l '$mnt' 2>/dev/null"
done
waiting() {
	local pid
	for pid in "${pids[@]}"; do
		find "/proc/$pid/fd" -lname "$T_TMP/go" 2>/dev/null | grep -q . || return 1
	done
}
wait_for 30 waiting || fail "the servers' shells did not all open $T_TMP/go"
exec 3>&-

for ((i = 0; i < n; i++)); do
	mnt=$T_TMP/mnt$i
	if ! wait_for 40 is_mounted "$mnt"; then
		kill -0 "${pids[i]}" 2>/dev/null ||
			fail "server $i (${cmds[i]##*/}) exited before mounting: $(tail -n1 "$T_TMP/srv$i.out")"
		fail "server $i (${cmds[i]##*/}) has not mounted $mnt after 20 s"
	fi
done
loops=$(for ((i = 0; i < n; i++)); do
	losetup -j "$T_TMP/img$i" | cut -d: -f1
done | sort -u | wc -l)
expect_eq "loop devices, one per image" "$loops" $n

head -c $((1 << 20)) /dev/urandom > "$T_TMP/data"
for ((i = 0; i < n; i++)); do
	mnt=$T_TMP/mnt$i
	case ${cmds[i]} in
	*example*) f=$mnt/data ;;
	*) f=$mnt/f ;;
	esac
	dd if="$T_TMP/data" of="$f" bs=64k conv=notrunc,fsync status=none ||
		fail "server $i (${cmds[i]##*/}): write failed"
done
drop_caches
for ((i = 0; i < n; i++)); do
	mnt=$T_TMP/mnt$i
	case ${cmds[i]} in
	*example*) f=$mnt/data ;;
	*) f=$mnt/f ;;
	esac
	cmp "$T_TMP/data" <(head -c $((1 << 20)) "$f") ||
		fail "server $i (${cmds[i]##*/}): the bytes read back differ"
done
for ((i = 0; i < n; i++)); do
	stop_server "$T_TMP/mnt$i" "${pids[i]}"
	! grep -i "error\|busy\|can't" "$T_TMP/srv$i.out" > "$T_TMP/bad" ||
		fail "server $i (${cmds[i]##*/}) said: $(head -n1 "$T_TMP/bad")"
done
for i in 0 1 2 3; do
	e2fsck -fn "$T_TMP/img$i" > "$T_TMP/fsck.out" 2>&1 ||
		fail "img$i not clean after its server: $(grep -v '^Pass\|^e2fsck' "$T_TMP/fsck.out" | head -n2)"
done
log "$n servers started at once on $n image files: all mounted, served and unmounted"
