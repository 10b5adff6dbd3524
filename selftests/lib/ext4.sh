# Helpers for the ext4 server's tests: an image built by mke2fs -d and the
# kernel's ext4, served by us and mounted by the kernel side by side.
# Sourced after common.sh and iomap.sh.

EXT4SRV=$BUILD/server/fuse-iomap-ext4

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
	# interleaved appends, a 1 GiB sparse file, unwritten extents.
	mount -o loop "$img" "$scratch" || fail "kernel ext4 can't mount $img"
	for i in $(seq 0 23); do
		dd if=/dev/urandom of="$scratch/frag1" bs=8192 count=1 oflag=append conv=notrunc,fsync status=none
		dd if=/dev/urandom of="$scratch/frag2" bs=4096 count=1 oflag=append conv=notrunc,fsync status=none
	done
	truncate -s 1G "$scratch/large_sparse"
	for i in 0 1000 65536 200000 262142; do
		dd if=/dev/urandom of="$scratch/large_sparse" bs=4096 count=2 seek=$i conv=notrunc status=none
	done
	fallocate -l $((1 << 20)) "$scratch/unwritten"
	dd if=/dev/urandom of="$scratch/unwritten" bs=4096 count=4 seek=10 conv=notrunc,fsync status=none
	umount "$scratch" || fail "can't unmount $scratch"
	e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 || fail "the test image is not clean: $(tail -1 "$T_TMP/fsck.out")"
}

# ext4_mount_both IMG: our server at $ours, the kernel's ext4 (read-only)
# at $kern, both over IMG.
ext4_mount_both() {
	local img=$1
	ours=$T_TMP/ours kern=$T_TMP/kern
	mkdir -p "$kern"
	mount -o ro,noload,loop "$img" "$kern" || fail "kernel ext4 can't mount $img"
	defer "umount '$kern' 2>/dev/null"
	start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" -l "$T_TMP/ext4.log" "$img" "$ours"
}

# ext4_each_file DIR COMMAND: fiemap.py COMMAND over every regular file
# under DIR, paths relative to DIR.
ext4_each_file() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 python3 "$FIEMAP_PY" "$2")
}
