#!/bin/bash
# Upcalls per 1000 writes with fuse-iomap-blockfs --bpf: the write path's
# cost in round trips, not in time.  Runs in the guest:
#
#   selftests/vm/boot --timeout 1800 [--env OLD=DIR] -- bench/write_upcalls.sh
#
# For each tree (this one, and OLD, another checkout with its own build/,
# if given) it loads that tree's fuse_iomap.ko and, on a fresh blockfs
# --bpf mount, counts FUSE_IOMAP_BEGIN, END and IOEND upcalls and ioends
# BPF queued during:
#   overwrite  1000 random 4 KiB O_DIRECT and 1000 buffered overwrites of a
#              written 16 MiB file after one warm-up read, then sync
#   append     1000 buffered 4 KiB appends to a new file, then fsync
#   unwritten  1000 random 4 KiB O_DIRECT writes into a new sparse 16 MiB
#              file (blockfs preallocates: writes into unwritten extents)
# and prints one line per tree and workload.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
W=/tmp/write_upcalls
N=1000

counters() {	# CONNDIR: begin end ioend queued
	local c=$1
	echo "$(cat $c/iomap_begin_upcalls) $(cat $c/iomap_end_upcalls)" \
	     "$(cat $c/ioend_upcalls 2>/dev/null || echo 0) $(cat $c/bpf_ioend_handled 2>/dev/null || echo 0)"
}

random_writes() {	# FILE FLAG(-d or empty) SEED: N random 4 KiB pwrites in one xfs_io
	python3 - "$N" "$3" <<'PY' > "$W/cmds"
import random, sys
random.seed(int(sys.argv[2]))
for _ in range(int(sys.argv[1])):
    print("pwrite -q -S 0x%02x %d 4096" % (random.randrange(256), random.randrange(4096) * 4096))
PY
	local args=()
	while read -r l; do args+=(-c "$l"); done < "$W/cmds"
	xfs_io $2 "${args[@]}" "$1"
}

run_tree() {	# NAME TREE
	local name=$1 tree=$2 mnt=$W/mnt dev pid c b a
	rmmod fuse_iomap 2>/dev/null || true
	insmod "$tree/build/kmod/fuse_iomap.ko"
	truncate -s 1G "$W/dev.img"
	dev=$(losetup -f --show "$W/dev.img")
	mkdir -p "$mnt"
	"$tree/build/server/fuse-iomap-blockfs" --bpf "$dev" "$mnt" > "$W/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q " $mnt " /proc/mounts && break; sleep 0.1; done
	c=/sys/fs/fuseiomap/iomap/$(stat -c %d "$mnt")

	head -c 16M /dev/urandom > "$mnt/ow" && sync
	dd if="$mnt/ow" of=/dev/null bs=4096 count=1 iflag=direct status=none
	b=$(counters $c)
	random_writes "$mnt/ow" -d 1
	random_writes "$mnt/ow" "" 2
	sync
	a=$(counters $c)
	report "$name" overwrite $((2 * N)) "$b" "$a"

	b=$(counters $c)
	dd if=/dev/zero of="$mnt/app" bs=4096 count=$N conv=fsync status=none
	a=$(counters $c)
	report "$name" append $N "$b" "$a"

	truncate -s 16M "$mnt/sparse"
	b=$(counters $c)
	random_writes "$mnt/sparse" -d 3
	sync
	a=$(counters $c)
	report "$name" unwritten $N "$b" "$a"

	umount "$mnt"
	wait $pid || true
	losetup -d "$dev"
	rm -f "$W/dev.img"
}

report() {	# TREE WORKLOAD WRITES "BEFORE" "AFTER"
	python3 - "$@" <<'PY'
import sys
tree, wl, n, b, a = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
d = [1000.0 * (int(y) - int(x)) / n for x, y in zip(b, a)]
print("write_upcalls: %-5s %-9s per 1000 writes: BEGIN %.1f END %.1f IOEND %.1f queued %.1f" % (tree, wl, *d))
PY
}

modprobe loop
mkdir -p "$W"
[ -z "${OLD:-}" ] || run_tree before "$OLD"
run_tree after "$REPO"
