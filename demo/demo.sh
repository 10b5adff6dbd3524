#!/bin/bash
# The demo, run inside the guest by 'make demo'.  Narrates each step.
set -eu -o pipefail
KMOD=build/kmod/fuse_iomap.ko
MEMFS=build/server/fuse-iomap-memfs
BLOCKFS=build/server/fuse-iomap-blockfs
work=/tmp/demo
mkdir -p "$work/plain" "$work/iomap"

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
wait_mounted() { for _ in $(seq 50); do grep -q " $1 " /proc/mounts && return; sleep 0.1; done; }

say "This is a QEMU guest running Debian's stock kernel $(uname -r)."
say "Load our module, fuse_iomap.ko: a renamed copy of the kernel's fuse that lives beside the built-in one."
run insmod "$KMOD"
run ls -l /dev/fuse /dev/fuse-iomap
run grep fuse /proc/filesystems

say "1. Plain FUSE: an unmodified libfuse3 server on 'fuseiomap'; every byte goes through the server."
"$MEMFS" "$work/plain" &
memfs=$!
wait_mounted "$work/plain"
run sh -c "echo 'hello through fuse-iomap' > $work/plain/greeting"
run cat "$work/plain/greeting"
run umount "$work/plain"
wait $memfs

say "2. iomap: file data lives on a block device.  The server only says where; the kernel moves the bytes."
modprobe loop
truncate -s 256M "$work/disk.img"
dev=$(losetup -f --show "$work/disk.img")
echo "block device: $dev (256 MiB)"
"$BLOCKFS" -l "$work/requests.log" "$dev" "$work/iomap" &
blockfs=$!
wait_mounted "$work/iomap"
run grep " $work/iomap " /proc/mounts
conn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/iomap")
echo "connection counters: $conn"

say "Write a 32 MiB file, then read it back from a cold cache."
head -c $((32 << 20)) /dev/urandom > "$work/ref"
run cp "$work/ref" "$work/iomap/data"
sync; echo 3 > /proc/sys/vm/drop_caches
before=$(cat "$conn/iomap_begin_upcalls")
run cmp "$work/ref" "$work/iomap/data"
after=$(cat "$conn/iomap_begin_upcalls")
echo "bytes identical; reading 32 MiB took $((after - before)) FUSE_IOMAP_BEGIN upcalls (one per readahead batch of pages, not one per page)"

say "Where the file lives on $dev, as FIEMAP reports it (512-byte units):"
run xfs_io -c "fiemap -v" "$work/iomap/data"
set -- $(xfs_io -c "fiemap -v" "$work/iomap/data" | awk '$3 ~ /\.\./ { split($3, p, "\\.\\."); print p[1] * 512; exit }')
echo "the first 16 bytes of the file, and of $dev at byte $1:"
od -An -tx1 -N16 "$work/iomap/data"
blockdev --flushbufs "$dev"
dd if="$dev" bs=16 count=1 iflag=skip_bytes skip="$1" status=none | od -An -tx1

say "Counters for this connection:"
for c in iomap_begin_upcalls iomap_end_upcalls mappings_rejected; do
	printf '  %-22s %s\n' "$c" "$(cat "$conn/$c")"
done
echo "  the server logged $(grep -c '^BEGIN' "$work/requests.log") FUSE_IOMAP_BEGIN requests"

run umount "$work/iomap"
wait $blockfs
losetup -d "$dev"
run rmmod fuse_iomap
say "Done.  Next step in this project: a BPF program answers the mapping questions inside the kernel, with no upcall."
