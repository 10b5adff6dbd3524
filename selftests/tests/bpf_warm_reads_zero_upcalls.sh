#!/bin/bash
# fuse-iomap-ext4 --bpf: after one warm-up read of each file (which
# publishes its extents to extent_map), reading every file of the test
# image end to end, O_DIRECT and then buffered with caches dropped, makes
# no FUSE_IOMAP_BEGIN upcall (the counter and the server's log agree) and
# the bytes equal the kernel ext4 driver's.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

fi_load
ext4_make_image "$T_TMP/img"
ours=$T_TMP/ours kern=$T_TMP/kern
mkdir -p "$kern"
mount -o ro,noload,loop "$T_TMP/img" "$kern" || fail "kernel ext4 can't mount the image"
defer "umount '$kern' 2>/dev/null"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --read-only --bpf -l "$T_TMP/ext4.log" "$T_TMP/img" "$ours"
expect_eq "attached ops" "$(counter "$ours" bpf_ops)" extent_map
"$LOADER" show "$ours" | grep -q "ops extent_map link" || fail "the loader does not show extent_map"

files=$(cd "$ours" && find . -type f -size +0 | sort)
[ "$(echo "$files" | wc -l)" -ge 8 ] || fail "too few files: $files"
for f in $files; do		# warm-up: one upcall per file publishes its extents
	dd if="$ours/$f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read of $f failed"
done

begins=$(counter "$ours" iomap_begin_upcalls) logged=$(grep -c '^BEGIN ' "$T_TMP/ext4.log") hits=$(counter "$ours" bpf_hits)
sum() { (cd "$1" && for f in $files; do echo "$(sha256sum < "$f") $f"; done); }
echo 3 > /proc/sys/vm/drop_caches
(cd "$ours" && for f in $files; do echo "$(dd if="$f" bs=1M iflag=direct status=none | sha256sum) $f"; done) > "$T_TMP/direct"
echo 3 > /proc/sys/vm/drop_caches
sum "$ours" > "$T_TMP/buffered"
sum "$kern" > "$T_TMP/kernel"
diff "$T_TMP/kernel" "$T_TMP/direct" > /dev/null || fail "O_DIRECT bytes differ from the kernel's: $(diff "$T_TMP/kernel" "$T_TMP/direct" | head -2 | tr '\n' ' ')"
diff "$T_TMP/kernel" "$T_TMP/buffered" > /dev/null || fail "buffered bytes differ from the kernel's"
expect_eq "FUSE_IOMAP_BEGIN upcalls after warm-up" "$(counter "$ours" iomap_begin_upcalls)" "$begins"
expect_eq "BEGIN requests in the server's log after warm-up" "$(grep -c '^BEGIN ' "$T_TMP/ext4.log")" "$logged"
[ "$(counter "$ours" bpf_hits)" -gt $((hits + 100)) ] || fail "only $(( $(counter "$ours" bpf_hits) - hits )) BPF answers"
expect_eq "rejected BPF answers" "$(counter "$ours" bpf_rejected)" 0
