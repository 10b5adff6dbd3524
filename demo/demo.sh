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

say "3. A real file system: an ext4 image, served through libext2fs, beside the kernel's own ext4 driver."
modprobe ext4
mkdir -p "$work/tree/docs" "$work/ext4" "$work/kernel"
cp /usr/share/common-licenses/GPL-2 "$work/tree/docs/GPL-2"
head -c $((8 << 20)) /dev/urandom > "$work/tree/blob"
ln -s docs/GPL-2 "$work/tree/license"
run mke2fs -q -t ext4 -d "$work/tree" "$work/ext4.img" 64M
BLOCKFS_EXT4=build/server/fuse-iomap-ext4
"$BLOCKFS_EXT4" --read-only "$work/ext4.img" "$work/ext4" &
ext4srv=$!
wait_mounted "$work/ext4"
run mount -o ro,noload,loop "$work/ext4.img" "$work/kernel"
run ls -l "$work/ext4" "$work/ext4/docs"
run head -n 3 "$work/ext4/docs/GPL-2"
echo "FIEMAP of blob through our server, then through the kernel's ext4:"
xfs_io -r -c "fiemap -v" "$work/ext4/blob" | tail -n +2
xfs_io -r -c "fiemap -v" "$work/kernel/blob" | tail -n +2
echo "sha256 through ours and through the kernel's:"
sha256sum "$work/ext4/blob" "$work/kernel/blob" | cut -c1-16
econn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/ext4")
echo "FUSE_IOMAP_BEGIN upcalls for this mount so far: $(cat "$econn/iomap_begin_upcalls")"
run umount "$work/kernel"
run umount "$work/ext4"
wait $ext4srv

say "4. Writing through it: the kernel writes file data to the image; the server allocates blocks with libext2fs."
"$BLOCKFS_EXT4" "$work/ext4.img" "$work/ext4" &
ext4srv=$!
wait_mounted "$work/ext4"
run mkdir "$work/ext4/new"
run cp "$work/tree/blob" "$work/ext4/new/blob-copy"
run dd if=/dev/urandom of="$work/ext4/new/direct" bs=1M count=4 oflag=direct status=none
run mv "$work/ext4/docs/GPL-2" "$work/ext4/new/GPL-2"
run truncate -s 1M "$work/ext4/blob"
sha256sum "$work/ext4/new/"* | cut -c1-16 > "$work/ours.sums"
wconn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/ext4")
echo "FUSE_IOMAP_BEGIN / FUSE_IOMAP_END upcalls for the writes: $(cat "$wconn/iomap_begin_upcalls") / $(cat "$wconn/iomap_end_upcalls")"
run umount "$work/ext4"
wait $ext4srv
run e2fsck -fn "$work/ext4.img"
run mount -o ro,loop "$work/ext4.img" "$work/kernel"
run ls -l "$work/kernel/new"
sha256sum "$work/kernel/new/"* | cut -c1-16 > "$work/kernel.sums"
if cmp -s "$work/ours.sums" "$work/kernel.sums"; then
	echo "the kernel's ext4 reads the same bytes we wrote: $(tr '\n' ' ' < "$work/kernel.sums")"
else
	echo "MISMATCH between what we wrote and what the kernel's ext4 reads"; exit 1
fi
run umount "$work/kernel"

say "5. The BPF tier: extent_map answers FUSE_IOMAP_BEGIN inside the kernel; the server fills its maps."
"$BLOCKFS_EXT4" --read-only --bpf "$work/ext4.img" "$work/ext4" &
ext4srv=$!
wait_mounted "$work/ext4"
run build/loader/fuse-iomap-bpf show "$work/ext4"
bconn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/ext4")
for round in first second; do
	echo 3 > /proc/sys/vm/drop_caches
	b0=$(cat "$bconn/iomap_begin_upcalls") h0=$(cat "$bconn/bpf_hits")
	dd if="$work/ext4/new/blob-copy" of=/dev/null bs=64k iflag=direct status=none
	echo "$round cold O_DIRECT read of new/blob-copy: $(($(cat "$bconn/iomap_begin_upcalls") - b0)) FUSE_IOMAP_BEGIN upcalls, $(($(cat "$bconn/bpf_hits") - h0)) answers from BPF"
done
run build/bpftool/bpftool struct_ops show
run umount "$work/ext4"
wait $ext4srv
run rmmod fuse_iomap
say "Done."
