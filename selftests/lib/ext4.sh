# Helpers for the ext4 server's tests: an image built by mke2fs -d and the
# kernel's ext4, served by us and mounted by the kernel side by side.
# Sourced after common.sh and iomap.sh.

EXT4SRV=$BUILD/server/fuse-iomap-ext4
# EXT4_JOURNAL=MODE: every server a test starts runs with --journal=MODE
# (journal_off_unchanged runs earlier tests so).
if [ -n "${EXT4_JOURNAL:-}" ]; then
	EXT4SRV=$REPO/selftests/lib/ext4-journal
	export EXT4_JOURNAL EXT4_BIN=$BUILD/server/fuse-iomap-ext4
fi

# ext4_load: our module, loop devices, and the kernel's ext4 to compare with.
ext4_load() {
	fi_load
	modprobe loop
	modprobe ext4
}

# ext4_make_image IMG: a copy of the test image, built once per boot (the
# tests that use it only read it).
ext4_make_image() {
	local cache=/tmp/fi-cache/ext4-test.img
	modprobe loop
	modprobe ext4
	if [ ! -f "$cache" ]; then
		mkdir -p /tmp/fi-cache
		ext4_build_image "$cache.tmp"
		mv "$cache.tmp" "$cache"
	fi
	cp --sparse=always "$cache" "$1" || fail "can't copy $cache"
}

# ext4_build_image IMG: regular, empty, sparse, fragmented, large sparse
# and partly unwritten files, directories, fast and slow symlinks, hard
# links and xattrs.
ext4_build_image() {
	local img=$1 src=$T_TMP/src scratch=$T_TMP/scratch i
	rm -rf "$src" && mkdir -p "$src/dir/sub/deeper" "$src/empty_dir" "$scratch"
	head -c 123457 /dev/urandom > "$src/small"
	head -c $((3 << 20)) /dev/urandom > "$src/dir/medium"
	: > "$src/empty"
	printf 'x' > "$src/dir/sub/one_byte"
	truncate -s $((40 << 20)) "$src/sparse"
	for i in 1 7 300 9000; do
		dd if=/dev/urandom of="$src/sparse" bs=4096 count=3 seek=$i conv=notrunc status=none
	done
	ln -s small "$src/fast_link"
	ln -s "dir/sub/deeper/$(printf 'n%.0s' $(seq 200))" "$src/slow_link"
	ln "$src/small" "$src/dir/hard_link"
	ln "$src/small" "$src/dir/sub/hard_link2"
	setfattr -n user.colour -v blue "$src/small"
	setfattr -n user.empty "$src/dir/medium"
	setfattr -n user.big -v "$(head -c 1500 /dev/zero | tr '\0' 'z')" "$src/dir"
	chmod 0751 "$src/dir/sub"
	chmod 4755 "$src/dir/medium"
	mke2fs -q -F -t ext4 -b 4096 -d "$src" "$img" 512M || fail "mke2fs -d failed"

	# The kernel's ext4 adds what mke2fs does not make: fragmentation from
	# interleaved appends, a 256 MiB sparse file, unwritten extents.
	mount -o loop "$img" "$scratch" || fail "kernel ext4 can't mount $img"
	for i in $(seq 0 23); do
		dd if=/dev/urandom of="$scratch/frag1" bs=8192 count=1 oflag=append conv=notrunc,fsync status=none
		dd if=/dev/urandom of="$scratch/frag2" bs=4096 count=1 oflag=append conv=notrunc,fsync status=none
	done
	truncate -s 256M "$scratch/large_sparse"
	for i in 0 1000 16384 50000 65534; do
		dd if=/dev/urandom of="$scratch/large_sparse" bs=4096 count=2 seek=$i conv=notrunc status=none
	done
	fallocate -l $((1 << 20)) "$scratch/unwritten"
	dd if=/dev/urandom of="$scratch/unwritten" bs=4096 count=4 seek=10 conv=notrunc,fsync status=none
	umount "$scratch" || fail "can't unmount $scratch"
	e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 || fail "the test image is not clean: $(tail -1 "$T_TMP/fsck.out")"
}

# ext4_mount_both IMG: our server (read-only) at $ours, the kernel's ext4 (read-only)
# at $kern, both over IMG.
ext4_mount_both() {
	local img=$1
	ours=$T_TMP/ours kern=$T_TMP/kern
	mkdir -p "$kern"
	mount -o ro,noload,loop "$img" "$kern" || fail "kernel ext4 can't mount $img"
	defer "umount '$kern' 2>/dev/null"
	start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" -r -l "$T_TMP/ext4.log" "$img" "$ours"
}

# ext4_each_file DIR COMMAND: fiemap.py COMMAND over every regular file
# under DIR, paths relative to DIR.
ext4_each_file() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 python3 "$FIEMAP_PY" "$2")
}

# ext4_workload DIR BLOB: the write workload of ext4_write_then_fsck, run
# in DIR (a mount of the test image); file data comes from BLOB (8 MiB), so
# two runs write the same bytes.  Stops at the first failing step.
ext4_workload() (
	set -e
	cd "$1"
	local blob=$2 i
	# Create: buffered, O_DIRECT, unaligned, empty, many names.
	dd if="$blob" of=new_buffered bs=64k count=40 status=none
	dd if="$blob" of=new_direct bs=1M count=3 skip=2 oflag=direct status=none
	dd if="$blob" of=new_unaligned bs=777 count=99 skip=5 status=none
	: > new_empty
	mkdir -p many/a/b
	for i in $(seq 1 300); do
		printf '%s\n' "$i" > "many/a_rather_long_file_name_to_fill_directory_blocks_$i"
	done
	# Append: small, unaligned, and across the EOF block.
	printf 'appended\n' >> small
	dd if="$blob" of=dir/medium bs=3000 count=7 skip=11 oflag=append conv=notrunc status=none
	dd if="$blob" of=new_direct bs=4096 count=5 oflag=append,direct conv=notrunc status=none
	# Overwrite in place, partial blocks too.
	dd if="$blob" of=dir/medium bs=4096 count=9 seek=17 skip=30 conv=notrunc status=none
	dd if="$blob" of=frag1 bs=1000 count=33 seek=7 skip=40 conv=notrunc status=none
	dd if="$blob" of=frag2 bs=4096 count=6 seek=3 skip=50 oflag=direct conv=notrunc status=none
	# Into holes: sparse files, past EOF, and over unwritten extents.
	dd if="$blob" of=sparse bs=4096 count=20 seek=100 skip=60 conv=notrunc status=none
	dd if="$blob" of=sparse bs=1234 count=5 seek=7777 skip=3 conv=notrunc status=none
	dd if="$blob" of=large_sparse bs=64k count=4 seek=3000 skip=9 oflag=direct conv=notrunc status=none
	dd if="$blob" of=unwritten bs=555 count=20 seek=300 skip=70 conv=notrunc status=none
	dd if="$blob" of=unwritten bs=4096 count=3 seek=100 skip=80 oflag=direct conv=notrunc status=none
	dd if="$blob" of=new_gap bs=4096 count=2 seek=1000 skip=90 status=none
	python3 - new_mmap "$blob" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 300000)
with open(sys.argv[2], "rb") as b:
    data = b.read(300000)
m = mmap.mmap(fd, 300000)
m[5000:200000] = data[5000:200000]
m.flush()
m.close()
os.close(fd)
PY
	# Truncate down and up.
	truncate -s 1000001 dir/medium
	truncate -s 5000000 dir/medium
	truncate -s 12345 new_buffered
	truncate -s 0 frag1
	truncate -s 70000 frag1
	# Rename, over an existing file too, and a directory to another parent.
	mv new_unaligned renamed
	mv new_empty small
	mv dir/sub many/moved_sub
	# Unlink, a hard-linked name too; mkdir and rmdir.
	rm dir/hard_link new_gap
	for i in $(seq 1 300 | awk 'NR % 3 == 0'); do
		rm "many/a_rather_long_file_name_to_fill_directory_blocks_$i"
	done
	mkdir -p gone/deep/deeper
	rmdir gone/deep/deeper gone/deep
	rmdir many/a/b
	ln -s renamed new_link
	ln renamed many/renamed_link
	chmod 0600 renamed
)

# ext4_fsck_clean IMG [WHAT]: e2fsck -fn finds nothing in IMG (an image or
# a device); else fail with its first findings.
ext4_fsck_clean() {
	e2fsck -fn "$1" > "$T_TMP/fsck.out" 2>&1 ||
		fail "e2fsck -fn${2:+ $2}: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -n3 | tr '\n' ' ')"
}

# ext4_crash_kernel IMG WORKLOAD [DROPPED]: the kernel's ext4 runs WORKLOAD
# (a command, given the mount point) on IMG over dm-flakey; then every
# write is dropped (drop_writes), DROPPED runs if given (say, to close the
# files WORKLOAD left open), and the file system is unmounted, so IMG is
# left as a power cut after WORKLOAD would leave it: its journal needs
# recovery.  Fails if it does not.  The periodic write-back of dirty
# pages is off meanwhile: it would write journaled metadata home, and the
# kernel would then drop those transactions from the journal.
ext4_crash_kernel() {
	local img=$1 work=$2 dropped=${3:-} name=fi-crash-$$ mnt=$T_TMP/crash loop sz
	local wb=/proc/sys/vm/dirty_writeback_centisecs
	modprobe dm_flakey || fail "can't load dm-flakey"
	defer "echo $(cat $wb) > $wb"
	echo 0 > $wb
	loop=$(losetup -f --show "$img") || fail "losetup $img failed"
	defer "losetup -d $loop 2>/dev/null"
	sz=$(blockdev --getsz "$loop")
	dmsetup --noudevsync create "$name" --table "0 $sz flakey $loop 0 3600 0" &&
		dmsetup --noudevsync mknodes "$name" || fail "can't create dm-flakey over $loop"
	defer "dmsetup --noudevsync remove $name 2>/dev/null"
	mkdir -p "$mnt"
	mount -t ext4 "/dev/mapper/$name" "$mnt" || fail "the kernel's ext4 can't mount $img"
	defer "umount '$mnt' 2>/dev/null"
	"$work" "$mnt" > "$T_TMP/crash_work.out" 2>&1 ||
		fail "the workload failed on the kernel's ext4: $(tail -n1 "$T_TMP/crash_work.out")"
	dmsetup --noudevsync suspend --nolockfs "$name" &&
		dmsetup --noudevsync load "$name" --table "0 $sz flakey $loop 0 0 3600 1 drop_writes" &&
		dmsetup --noudevsync resume "$name" || fail "can't make dm-flakey drop writes"
	[ -z "$dropped" ] || "$dropped" "$mnt" || fail "$dropped failed after the crash"
	umount "$mnt" || fail "can't unmount the crashed ext4"
	dmsetup --noudevsync remove "$name" || fail "can't remove dm-flakey"
	losetup -d "$loop"
	dumpe2fs -h "$img" 2>/dev/null | grep -q 'features:.*needs_recovery' ||
		fail "the crash left no journal to recover"
}

# ext4_journal_workload DIR: every kind of metadata change, each file and
# directory fsync'd at the end: what a journal must carry.
ext4_journal_workload() (
	set -e
	cd "$1"
	mkdir -p dir/sub dir/gone
	head -c 300000 /dev/urandom > dir/appended
	head -c 5000 /dev/urandom >> dir/appended
	head -c $((2 << 20)) /dev/urandom > dir/overwritten
	dd if=/dev/urandom of=dir/overwritten bs=4096 count=8 seek=100 conv=notrunc status=none
	fallocate -l $((4 << 20)) dir/fallocated
	dd if=/dev/urandom of=dir/fallocated bs=4096 count=3 seek=500 conv=notrunc status=none
	fallocate -n -o $((8 << 20)) -l $((1 << 20)) dir/fallocated
	head -c $((1 << 20)) /dev/urandom > dir/truncated
	truncate -s 70000 dir/truncated
	for i in $(seq 1 200); do echo "file $i" > "dir/gone/f$i"; done
	rm -rf dir/gone
	for i in $(seq 1 50); do echo "small $i" > "dir/sub/s$i"; done
	mv dir/sub/s1 dir/renamed
	mv dir/sub/s2 dir/sub/s3
	ln dir/renamed dir/sub/hard
	ln -s ../renamed dir/sub/link
	ln -s "$(printf 'long%.0s' $(seq 100))" dir/slow_link
	rm dir/sub/s10
	python3 - . <<'PY'
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for n in files + dirs + ["."]:
        p = os.path.join(root, n)
        if not os.path.islink(p):
            fd = os.open(p, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
PY
)

# ext4_layout FILE: "logical length unwritten" per run, physical addresses left out.
ext4_layout() {
	python3 - "$1" "$REPO/selftests/lib" <<'PY'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2])
from fiemap import fiemap, FIEMAP_EXTENT_UNWRITTEN
runs = []
for log, phys, length, flags in fiemap(sys.argv[1], fiemap(sys.argv[1], 0)[0] + 16)[1]:
    uw = 1 if flags & FIEMAP_EXTENT_UNWRITTEN else 0
    if runs and runs[-1][0] + runs[-1][1] == log and runs[-1][2] == uw:
        runs[-1][1] += length
    else:
        runs.append([log, length, uw])
for r in runs:
    print("%d %d %d" % tuple(r))
PY
}

# ext4_beside_kernel SIZE SERVER_ARGS...: a fresh SIZE image for us
# ($T_TMP/ours.img, served at $T_TMP/mnt with the request trace in
# $T_TMP/srv.out) and a copy of it mounted by the kernel's ext4 at
# $T_TMP/ref, so a test runs the same steps on both.
ext4_beside_kernel() {
	local size=$1
	shift
	ext4_load
	mke2fs -q -F -t ext4 -b 4096 "$T_TMP/ours.img" "$size" || fail "mke2fs failed"
	cp --sparse=always "$T_TMP/ours.img" "$T_TMP/ref.img"
	mkdir -p "$T_TMP/ref"
	mount -o loop "$T_TMP/ref.img" "$T_TMP/ref" || fail "the kernel can't mount the image"
	defer "umount '$T_TMP/ref'"
	start_server "$T_TMP/mnt" "$T_TMP/srv.out" "$EXT4SRV" "$@" "$T_TMP/ours.img" "$T_TMP/mnt"
}

# srv_requests OPCODE: how many OPCODE requests the server started by
# ext4_beside_kernel with -d has traced so far.
srv_requests() { grep -c "opcode: $1 " "$T_TMP/srv.out" || true; }
