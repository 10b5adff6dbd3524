#!/bin/bash
# fio random writes with crc32c verification through fuse-iomap-ext4,
# O_DIRECT and buffered, into preallocated files and into holes: fio's
# verify passes through our mount, `e2fsck -fn` is clean after unmount,
# and fio's verify-only pass over the kernel's ext4 mounting the same image
# finds every block it wrote.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
img=$T_TMP/fio.img ours=$T_TMP/ours kern=$T_TMP/kern
mke2fs -q -F -t ext4 -b 4096 "$img" 256M || fail "mke2fs failed"
mkdir -p "$kern"

# JOBDIR ARGS...: the four jobs; the same arguments re-run them verify-only.
jobs() {
	local dir=$1
	shift
	(cd "$T_TMP" && fio --output-format=terse --minimal --verify_state_save=0 "$@" \
		--directory="$dir" --ioengine=psync --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=1 --randseed=4242 --size=24M \
		--name=direct_prealloc --filename=direct_prealloc --direct=1 --rw=randwrite --bs=4k \
		--name=direct_holes --filename=direct_holes --direct=1 --rw=randwrite --bs=16k --fallocate=none \
		--name=buffered_prealloc --filename=buffered_prealloc --rw=randwrite --bs=4k \
		--name=buffered_holes --filename=buffered_holes --rw=randwrite --bsrange=1k-64k --fallocate=none)
}

start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "$img" "$ours"
jobs "$ours" > "$T_TMP/fio.out" 2> "$T_TMP/fio.err" ||
	fail "fio through our mount: $(grep -i 'verify\|error\|bad' "$T_TMP/fio.err" "$T_TMP/fio.out" | head -2 | tr '\n' ' ')"
[ "$(wc -l < "$T_TMP/fio.out")" = 4 ] || fail "want 4 fio job results, got: $(head -c 300 "$T_TMP/fio.out")"
awk -F';' '$5 != 0 { print "job " $3 " error " $5; bad = 1 } END { exit bad }' "$T_TMP/fio.out" > "$T_TMP/bad" ||
	fail "fio: $(cat "$T_TMP/bad")"
stop_server "$ours" "$SERVER_PID"

e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck -fn after fio: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"
mount -o loop "$img" "$kern" || fail "kernel ext4 can't mount the image"
defer "umount '$kern' 2>/dev/null"
jobs "$kern" --verify_only > "$T_TMP/kfio.out" 2> "$T_TMP/kfio.err" ||
	fail "fio verify-only on the kernel's ext4: $(grep -i 'verify\|error\|bad' "$T_TMP/kfio.err" "$T_TMP/kfio.out" | head -2 | tr '\n' ' ')"
umount "$kern"
