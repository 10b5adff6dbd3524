#!/bin/bash
# examples/fuse-iomap-example.c, built only against the installed library
# (make install-dev into build/stage, then pkg-config from there) and
# linked to its shared object, serves its one file: the bytes of "data"
# are the device range it was given, for O_DIRECT and buffered reads and
# for an O_DIRECT overwrite.  With --bpf, after one read publishes the
# file's extent, warm O_DIRECT reads make no FUSE_IOMAP_BEGIN upcall.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

EXAMPLE=$BUILD/examples/fuse-iomap-example
export LD_LIBRARY_PATH=$BUILD/stage/usr/lib
[ -x "$EXAMPLE" ] || fail "$EXAMPLE not built"
ldd "$EXAMPLE" | grep -q "libfuse-iomap.so.0 => $BUILD/stage/usr/lib/" ||
	fail "the example does not use the installed shared library: $(ldd "$EXAMPLE" | grep fuse)"
"$EXAMPLE" --version | grep -q "libfuse-iomap $(cat "$REPO/VERSION")" || fail "--version: $("$EXAMPLE" --version)"

fi_load
make_dev 16
mnt=$T_TMP/mnt
off=$((3 << 20)) len=$((8 << 20))
head -c $((16 << 20)) /dev/urandom > "$T_TMP/devdata"
dd if="$T_TMP/devdata" of="$dev" bs=1M oflag=direct status=none || fail "can't fill $dev"
dd if="$T_TMP/devdata" of="$T_TMP/want" bs=1M skip=3 count=8 status=none

# Plain: every mapping is an upcall.
start_server "$mnt" "$T_TMP/ex.out" "$EXAMPLE" "$dev" $off $len "$mnt"
expect_eq "ls" "$(ls "$mnt")" data
expect_eq "size of data" "$(stat -c %s "$mnt/data")" $len
cmp "$T_TMP/want" <(dd if="$mnt/data" bs=1M iflag=direct status=none) || fail "O_DIRECT bytes differ from the device range"
cmp "$T_TMP/want" "$mnt/data" || fail "buffered bytes differ from the device range"
[ "$(counter "$mnt" iomap_begin_upcalls)" -gt 0 ] || fail "no upcall without --bpf"
head -c 65536 /dev/urandom > "$T_TMP/patch"
dd if="$T_TMP/patch" of="$mnt/data" bs=64k seek=5 oflag=direct conv=notrunc status=none || fail "O_DIRECT overwrite failed"
cmp "$T_TMP/patch" <(dd if="$dev" bs=64k skip=$((off / 65536 + 5)) count=1 iflag=direct status=none) ||
	fail "the overwrite did not land at OFFSET + pos on the device"
stop_server "$mnt" "$SERVER_PID"
dd if="$dev" of="$T_TMP/want" bs=1M skip=3 count=8 iflag=direct status=none

# --bpf: the first read publishes; the rest are answered in the kernel.
start_server "$mnt" "$T_TMP/exbpf.out" "$EXAMPLE" --bpf "$dev" $off $len "$mnt"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
dd if="$mnt/data" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
begins=$(counter "$mnt" iomap_begin_upcalls)
for i in 1 2 3; do
	cmp "$T_TMP/want" <(dd if="$mnt/data" bs=64k iflag=direct status=none) || fail "warm O_DIRECT bytes differ (round $i)"
done
expect_eq "FUSE_IOMAP_BEGIN upcalls in warm O_DIRECT reads" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
[ "$(counter "$mnt" bpf_hits)" -ge 384 ] || fail "only $(counter "$mnt" bpf_hits) BPF answers"
expect_eq "rejected BPF answers" "$(counter "$mnt" bpf_rejected)" 0
stop_server "$mnt" "$SERVER_PID"
