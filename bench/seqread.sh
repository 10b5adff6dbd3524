#!/bin/bash
# Sequential buffered read of one 256 MiB file on one ext4 image, in one
# guest boot: the kernel's ext4, fuse-iomap-ext4 (upcall tier), and
# Debian's fuse2fs, caches dropped before every run, systems interleaved
# round by round.  Prints MB/s per run and the median per system.
# Run with: make bench-seqread   (or selftests/vm/boot -- bench/seqread.sh)
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/$("$REPO/scripts/target" --var BUILD)
work=/tmp/bench-seqread
rounds=${ROUNDS:-3}
rm -rf "$work" && mkdir -p "$work/tree" "$work/ext4" "$work/ours" "$work/fuse2fs"
insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
modprobe fuse
head -c $((256 << 20)) /dev/urandom > "$work/tree/big"
mke2fs -q -t ext4 -d "$work/tree" "$work/img" 1G
rm -rf "$work/tree"

mount -o ro,noload,loop "$work/img" "$work/ext4"
"$BUILD/server/fuse-iomap-ext4" --read-only "$work/img" "$work/ours" &
ours=$!
fuse2fs "$work/img" "$work/fuse2fs" -o ro > /dev/null
for i in $(seq 50); do
	grep -q " $work/ours " /proc/mounts && grep -q " $work/fuse2fs " /proc/mounts && break
	sleep 0.2
done

mbps() {	# FILE: MB/s of one cold sequential read
	sync
	echo 3 > /proc/sys/vm/drop_caches
	dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ { printf "%.0f\n", $(NF-1) * ($NF == "GB/s" ? 1000 : 1) }'
}

: > "$work/results"
for r in $(seq "$rounds"); do
	for sys in ext4 ours fuse2fs; do
		v=$(mbps "$work/$sys/big")
		echo "round $r $sys $v MB/s"
		echo "$sys $v" >> "$work/results"
	done
done
echo "median MB/s over $rounds rounds (256 MiB, dd bs=1M, cold cache):"
for sys in ext4 ours fuse2fs; do
	printf '  %-8s %s\n' "$sys" "$(awk -v s=$sys '$1 == s { print $2 }' "$work/results" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
done
umount "$work/ext4" "$work/ours" "$work/fuse2fs"
wait $ours
