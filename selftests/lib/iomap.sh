# Helpers for tests of the iomap data path.  Sourced after common.sh.

BLOCKFS=$BUILD/server/fuse-iomap-blockfs
CRAFT=$BUILD/testsrv/fuse-iomap-craft
FIEMAP_PY=$REPO/selftests/lib/fiemap.py

# make_dev MIB: a loop device over a fresh MIB-MiB file, in $dev.
make_dev() {
	local img=$T_TMP/dev$RANDOM.img
	modprobe loop 2>/dev/null || true
	truncate -s "${1}M" "$img"
	dev=$(losetup -f --show "$img") || fail "losetup $img failed"
	defer "losetup -d $dev 2>/dev/null"
}

# start_blockfs MNT DEV [OPTION...]: serve DEV at MNT, logging iomap
# requests to $T_TMP/blockfs.log.  Sets SERVER_PID.
start_blockfs() {
	local mnt=$1 dev=$2
	shift 2
	start_server "$mnt" "$T_TMP/blockfs.out" "$BLOCKFS" -l "$T_TMP/blockfs.log" "$@" "$dev" "$mnt"
}

# blockfs_setup [OPTION...]: load the module, make a 64 MiB device ($dev)
# and serve it with blockfs and OPTIONs at $mnt.
blockfs_setup() {
	fi_load
	make_dev 64
	mnt=$T_TMP/mnt
	start_blockfs "$mnt" "$dev" "$@"
}

# conn_dir MNT: the connection's sysfs directory.
conn_dir() { echo "/sys/fs/fuseiomap/iomap/$(stat -c %d "$1")"; }
# counter MNT NAME: a counter of MNT's connection (e.g. iomap_begin_upcalls,
# rejected/align).
counter() { cat "$(conn_dir "$1")/$2"; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# fiemap FILE: "logical physical length" per extent, in bytes, from
# xfs_io -c "fiemap -v" (512-byte units there); holes are left out.
fiemap() {
	xfs_io -c "fiemap -v" "$1" | awk '
		$2 ~ /^\[/ && $3 != "hole" {
			split(substr($2, 2, length($2) - 3), l, "\\.\\.")
			split($3, p, "\\.\\.")
			print l[1] * 512, p[1] * 512, (l[2] - l[1] + 1) * 512
		}'
}

# dev_bytes DEV OFFSET LENGTH: bytes of DEV as they are on the device (the
# kernel writes file data with bios, past the device's page cache).
dev_bytes() {
	blockdev --flushbufs "$1"
	dd if="$1" bs=4096 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# check_on_device FILE REF DEV: every byte of FILE that FIEMAP maps is, on
# DEV at the reported address, the byte REF has at that file offset.
check_on_device() {
	local file=$1 ref=$2 dev=$3 size l p n
	size=$(stat -c %s "$ref")
	fiemap "$file" > "$T_TMP/fiemap.$$"
	[ -s "$T_TMP/fiemap.$$" ] || fail "$file: FIEMAP reports no extents"
	while read -r l p n; do
		[ "$l" -lt "$size" ] || continue
		[ $((l + n)) -le "$size" ] || n=$((size - l))
		cmp <(dev_bytes "$dev" "$p" "$n") \
		    <(dd if="$ref" bs=4096 iflag=skip_bytes,count_bytes skip="$l" count="$n" status=none) ||
			fail "$file: device $dev at $p (file offset $l, $n bytes) differs from what was written"
	done < "$T_TMP/fiemap.$$"
}

# log_count WHAT: number of WHAT (BEGIN or END) lines in the server log.
log_count() { grep -c "^$1 " "$T_TMP/blockfs.log" || true; }
