#!/bin/bash
# Overwrites of a warm file make no upcall: fuse-iomap-blockfs --bpf, a
# written 4 MiB file, one warm-up read (the library publishes its
# extents), then 2,000 O_DIRECT and 2,000 buffered 4 KiB overwrites at
# random blocks inside i_size, and sync.  No FUSE_IOMAP_BEGIN, END or
# IOEND was sent (the counters, ioend_upcalls included, and the server's
# log agree): extent_map
# answered the writes and their writeback, and the kernel keeps the times,
# so mtime and ctime advance in stat at once.  The bytes are right through
# the mount after dropping caches and on the device at the FIEMAP address;
# after unmount and a fresh mount the server reports the kernel's mtime
# and the new bytes.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

meta=$T_TMP/meta
blockfs_setup --bpf --meta "$meta"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
head -c $((4 << 20)) /dev/urandom > "$T_TMP/ref"
cp "$T_TMP/ref" "$mnt/f" && sync || fail "writing $mnt/f failed"
drop_caches
read -r m0 c0 < <(stat -c '%.9Y %.9Z' "$mnt/f")
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
sleep 1.1	# the times come from the coarse clock: let it move

need_counters "$mnt" ioend_upcalls
begins=$(counter "$mnt" iomap_begin_upcalls) ends=$(counter "$mnt" iomap_end_upcalls)
ioends=$(counter "$mnt" ioend_upcalls)
lb=$(log_count BEGIN) le=$(log_count END) li=$(log_count IOEND)
python3 - "$mnt/f" "$T_TMP/ref" <<'PY' || fail "overwrites failed"
import mmap, os, random, sys
path, ref = sys.argv[1:3]
rnd = random.Random(14)
blocks = os.path.getsize(ref) // 4096
buf = mmap.mmap(-1, 4096)			# page-aligned, for O_DIRECT
fd_d = os.open(path, os.O_WRONLY | os.O_DIRECT)
fd_b = os.open(path, os.O_WRONLY)
fd_r = os.open(ref, os.O_WRONLY)
for fd in [fd_d] * 2000 + [fd_b] * 2000:
    off = rnd.randrange(blocks) * 4096
    data = os.urandom(4096)
    buf[:] = data
    if os.pwrite(fd, buf, off) != 4096:
        sys.exit("short overwrite at %d" % off)
    os.pwrite(fd_r, data, off)
for fd in (fd_d, fd_b, fd_r):
    os.close(fd)
PY
sync
read -r m1 c1 < <(stat -c '%.9Y %.9Z' "$mnt/f")
expect_eq "FUSE_IOMAP_BEGIN upcalls for 4,000 overwrites" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
expect_eq "FUSE_IOMAP_END upcalls for 4,000 overwrites" "$(counter "$mnt" iomap_end_upcalls)" "$ends"
expect_eq "FUSE_IOMAP_IOEND upcalls for 4,000 overwrites" "$(counter "$mnt" ioend_upcalls)" "$ioends"
expect_eq "BEGIN requests in the server's log" "$(log_count BEGIN)" "$lb"
expect_eq "END requests in the server's log" "$(log_count END)" "$le"
expect_eq "IOEND requests in the server's log" "$(log_count IOEND)" "$li"
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
python3 -c 'import sys; a = sys.argv[1:]; sys.exit(not (float(a[1]) > float(a[0]) and float(a[3]) > float(a[2])))' \
	"$m0" "$m1" "$c0" "$c1" || fail "times did not advance: mtime $m0 -> $m1, ctime $c0 -> $c1"

check_on_device "$mnt/f" "$T_TMP/ref" "$dev"
drop_caches
cmp "$mnt/f" "$T_TMP/ref" || fail "after the overwrites, the bytes differ"
stop_server "$mnt" "$SERVER_PID"
start_blockfs "$mnt" "$dev" --bpf --meta "$meta"
expect_eq "mtime the server reports after a remount" "$(stat -c '%.9Y' "$mnt/f")" "$m1"
cmp "$mnt/f" "$T_TMP/ref" || fail "after a remount, the bytes differ"
stop_server "$mnt" "$SERVER_PID"
