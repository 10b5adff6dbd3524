#!/bin/bash
# The demo, run inside the guest by 'make demo'.  Narrates each step, prints
# every command it runs exactly as it runs it ("$ ..." lines can be pasted
# into a root shell in the repository, in the guest or on a machine running
# the pinned kernel), says what each number means, and ends with what to
# read and run next.  It does not check results the way the tests do: a
# step that fails stops the demo (set -e) and the guest powers off.
set -eu -o pipefail
work=/tmp/demo
# The kernel target's build tree (build for the default one).
B=$(scripts/target --var BUILD)
mkdir -p "$work/plain" "$work/iomap"

say() { printf '\n== %s\n' "$*"; }
# Explanations, indented under the output they explain.
note() { printf '   %s\n' "$@"; }
# run 'CMD': print CMD, then run it through eval, so that what is printed is
# exactly what runs, quoting and redirections included.
run() { printf '$ %s\n' "$1"; eval "$1"; }
# run_bg 'CMD': the same, in the background; its pid is in $bg.
run_bg() { printf '$ %s &\n' "$1"; eval "$1 &"; bg=$!; }
wait_mounted() { for _ in $(seq 50); do grep -q " $1 " /proc/mounts && return; sleep 0.1; done; }
counter() { cat "$conn/$1"; }

say "This is a QEMU guest running Debian's stock kernel $(uname -r), the pinned one."
note "Every line starting with \$ is a command, printed exactly as it runs (as root, in the repository)."
say "Load our module, fuse_iomap.ko: a renamed copy of the kernel's fuse that lives beside the built-in one."
run "insmod $B/kmod/fuse_iomap.ko"
run 'ls -l /dev/fuse /dev/fuse-iomap'
note "/dev/fuse is the built-in fuse's device, /dev/fuse-iomap ours: both misc devices (major 10), each its own minor."
run 'grep fuse /proc/filesystems'
note "fuse, fuseblk and fusectl are the built-in fuse's; fuseiomap, fuseiomapblk and fuseiomapctl are" \
	"their counterparts in our module (nodev: the file system needs no block device to mount)."

say "1. Plain FUSE: an unmodified libfuse3 server on 'fuseiomap'; every byte goes through the server."
run_bg "$B/server/fuse-iomap-memfs $work/plain"
memfs=$bg
wait_mounted "$work/plain"
run "echo 'hello through fuse-iomap' > $work/plain/greeting"
run "cat $work/plain/greeting"
run "umount $work/plain"
wait $memfs

say "2. iomap: file data lives on a block device.  The server only says where; the kernel moves the bytes."
run 'modprobe loop'
run "truncate -s 256M $work/disk.img"
run "dev=\$(losetup -f --show $work/disk.img); echo \$dev"
note "a 256 MiB loop device; fuse-iomap-blockfs keeps its files on it, in extents it allocates."
run_bg "$B/server/fuse-iomap-blockfs -l $work/requests.log \$dev $work/iomap"
blockfs=$bg
wait_mounted "$work/iomap"
run "grep ' $work/iomap ' /proc/mounts"
note "fuseiomap.blockfs is the type and the server's name; iomap says the kernel does the I/O itself;" \
	"iomap_blksize=4096: the server maps file ranges in 4 KiB blocks."
run "conn=/sys/fs/fuseiomap/iomap/\$(stat -c %d $work/iomap); ls \$conn"
note "One directory of counters per mounted connection, named by the mount's device number (stat -c %d)."

say "Write a 32 MiB file, then read it back from a cold cache, counting the server's mapping requests."
run "head -c \$((32 << 20)) /dev/urandom > $work/ref"
run "cp $work/ref $work/iomap/data"
run 'sync; echo 3 > /proc/sys/vm/drop_caches'
before=$(counter iomap_begin_upcalls) wends=$(counter iomap_end_upcalls)
run "cmp $work/ref $work/iomap/data"
after=$(counter iomap_begin_upcalls)
note "cmp printed nothing: the bytes are identical." \
	"FUSE_IOMAP_BEGIN upcalls for the read: $((after - before)) (iomap_begin_upcalls went from $before to $after)." \
	"An upcall is the kernel asking the server \"where on the device is this range of this file?\"." \
	"32 MiB is 8192 pages of 4 KiB: the kernel asks once per readahead batch (about $((32768 / (after - before))) KiB each)," \
	"not once per page, and reads the data from the device itself; the server never sees the bytes."

say "Where the file lives on $dev, as FIEMAP reports it:"
run "xfs_io -c 'fiemap -v' $work/iomap/data"
note "EXT is the extent's number; FILE-OFFSET the range of the file and BLOCK-RANGE the range of" \
	"the device it sits on, both in 512-byte sectors; TOTAL its length in sectors; FLAGS 0x1 marks the last."
sector=$(xfs_io -c "fiemap -v" "$work/iomap/data" | awk '$3 ~ /\.\./ { split($3, p, "\\.\\."); print p[1]; exit }')
say "The file's first 16 bytes, then the device's 16 bytes at sector $sector (byte $((sector * 512))):"
run "od -An -tx1 -N16 $work/iomap/data"
run "blockdev --flushbufs \$dev"
run "dd if=\$dev bs=512 skip=$sector count=1 status=none | od -An -tx1 -N16"
note "The same 16 bytes (in hex): the file's data is on the device where FIEMAP says."

say "Counters for this connection (all since it was mounted):"
for c in iomap_begin_upcalls iomap_end_upcalls mappings_rejected; do
	printf '  %-22s %s\n' "$c" "$(counter $c)"
done
note "iomap_begin_upcalls  FUSE_IOMAP_BEGIN: the kernel asked the server where a range is (reads and writes)." \
	"iomap_end_upcalls    FUSE_IOMAP_END: the kernel told the server a write finished, so it can" \
	"                     record the blocks it allocated." \
	"mappings_rejected    answers the kernel refused (outside the device, misaligned...): 0 is right." \
	"The write (cp) made $before BEGIN and $wends END upcalls; the read made the other $((after - before)) BEGINs." \
	"The server logged $(grep -c '^BEGIN' "$work/requests.log") BEGIN requests in $work/requests.log: one per upcall."

run "umount $work/iomap"
wait $blockfs
run 'losetup -d $dev'

say "3. A real file system: an ext4 image, served through libext2fs, beside the kernel's own ext4 driver."
run 'modprobe ext4'
mkdir -p "$work/tree/docs" "$work/ext4" "$work/kernel"
cp /usr/share/common-licenses/GPL-2 "$work/tree/docs/GPL-2"
head -c $((8 << 20)) /dev/urandom > "$work/tree/blob"
ln -s docs/GPL-2 "$work/tree/license"
note "$work/tree holds docs/GPL-2 (a text file), blob (8 MiB of random bytes) and license (a symlink)."
run "mke2fs -q -t ext4 -d $work/tree $work/ext4.img 64M"
run_bg "$B/server/fuse-iomap-ext4 --read-only $work/ext4.img $work/ext4"
ext4srv=$bg
wait_mounted "$work/ext4"
run "mount -o ro,noload,loop $work/ext4.img $work/kernel"
note "The same image twice: $work/ext4 through our server, $work/kernel through the kernel's ext4."
run "ls -l $work/ext4 $work/ext4/docs"
run "head -n 3 $work/ext4/docs/GPL-2"
run "xfs_io -r -c 'fiemap -v' $work/ext4/blob"
run "xfs_io -r -c 'fiemap -v' $work/kernel/blob"
note "The same extents (in 512-byte sectors of the image) through both: our server reads ext4's own extent tree."
run "sha256sum $work/ext4/blob $work/kernel/blob"
note "The same checksum: the same bytes through both."
econn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/ext4")
note "FUSE_IOMAP_BEGIN upcalls for this mount so far: $(cat "$econn/iomap_begin_upcalls") (the reads above, one per batch)."
run "umount $work/kernel"
run "umount $work/ext4"
wait $ext4srv

say "4. Writing through it: the kernel writes file data to the image; the server allocates blocks with libext2fs."
run_bg "$B/server/fuse-iomap-ext4 $work/ext4.img $work/ext4"
ext4srv=$bg
wait_mounted "$work/ext4"
wconn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/ext4")
run "mkdir $work/ext4/new"
run "cp $work/tree/blob $work/ext4/new/blob-copy"
run "dd if=/dev/urandom of=$work/ext4/new/direct bs=1M count=4 oflag=direct status=none"
run "mv $work/ext4/docs/GPL-2 $work/ext4/new/GPL-2"
run "truncate -s 1M $work/ext4/blob"
sha256sum "$work/ext4/new/"* | cut -c1-16 > "$work/ours.sums"
note "FUSE_IOMAP_BEGIN / FUSE_IOMAP_END upcalls for these writes: $(cat "$wconn/iomap_begin_upcalls") / $(cat "$wconn/iomap_end_upcalls")." \
	"BEGIN: the server allocated (or found) the blocks; END: it recorded them in the inode's extent tree."
run "umount $work/ext4"
wait $ext4srv
run "e2fsck -fn $work/ext4.img"
note "e2fsck -f checks everything, -n changes nothing.  Five passes without a complaint, then the" \
	"summary (inodes and blocks in use): what our server wrote is a consistent ext4."
run "mount -o ro,loop $work/ext4.img $work/kernel"
run "ls -l $work/kernel/new"
sha256sum "$work/kernel/new/"* | cut -c1-16 > "$work/kernel.sums"
if cmp -s "$work/ours.sums" "$work/kernel.sums"; then
	note "The kernel's ext4 reads the same bytes we wrote (first 16 hex digits of each sha256):" \
		"$(tr '\n' ' ' < "$work/kernel.sums")"
else
	echo "MISMATCH between what we wrote and what the kernel's ext4 reads"; exit 1
fi
run "umount $work/kernel"

say "5. The BPF tier: extent_map answers FUSE_IOMAP_BEGIN inside the kernel; the server fills its maps."
run_bg "$B/server/fuse-iomap-ext4 --read-only --bpf $work/ext4.img $work/ext4"
ext4srv=$bg
wait_mounted "$work/ext4"
run "$B/loader/fuse-iomap-bpf show $work/ext4"
note "The loader's view.  connection $(stat -c %d "$work/ext4") is the mount's device number (stat -c %d);" \
	"ops extent_map is the attached fuse_bpf_ops, by name; link and map are its BPF ids" \
	"(bpftool link show, bpftool map show); then the connection's counters, all 0 so far."
bconn=/sys/fs/fuseiomap/iomap/$(stat -c %d "$work/ext4")
for round in first second; do
	echo 3 > /proc/sys/vm/drop_caches
	b0=$(cat "$bconn/iomap_begin_upcalls") h0=$(cat "$bconn/bpf_hits")
	run "dd if=$work/ext4/new/blob-copy of=/dev/null bs=64k iflag=direct status=none"
	note "$round cold O_DIRECT read: $(($(cat "$bconn/iomap_begin_upcalls") - b0)) FUSE_IOMAP_BEGIN upcall(s), $(($(cat "$bconn/bpf_hits") - h0)) answers from BPF (bpf_hits)."
done
note "dd reads the 8 MiB file in 128 reads of 64 KiB, each asking where its range is (and once" \
	"more at the end).  The very first question found the BPF map empty: the program had no answer" \
	"(a fallback), so it went to the server (an upcall), which answered and published the file's" \
	"extents to the map.  Every later question, in both reads, was answered inside the kernel." \
	"bpf_fallbacks (questions the program left to the server), bpf_rejected (answers validation" \
	"refused) and bpf_errors (the program failed) are now $(cat "$bconn/bpf_fallbacks"), $(cat "$bconn/bpf_rejected") and $(cat "$bconn/bpf_errors")."
run "$B/bpftool/bpftool struct_ops show"
note "bpftool, built from the pinned kernel's tree with our patches: the map's id (the loader's 'map')," \
	"its name, extent_map, and its struct_ops type, fuse_bpf_ops."
run "umount $work/ext4"
wait $ext4srv
run 'rmmod fuse_iomap'

say "Done.  Next steps:"
note "make check          build, boot two guests, run every test; make check T='vm_boot iomap_dio_read' runs some" \
	"make bench          the benchmark against the kernel's ext4" \
	"README.md           'Use it on your machine' (install, DKMS, mount -t fuseiomap.ext4)" \
	"doc/library.md      writing a server; doc/bpf.md: a BPF program of your own" \
	"demo/demo.sh        this script; selftests/tests/*.sh show every feature one at a time" \
	"make help           every target"
