#!/bin/bash
# With extent_map attached (fuse-iomap-ext4 --bpf), a file whose slot in
# the store is mid-change (its seq left odd, by fi-store) costs exactly one
# FUSE_IOMAP_BEGIN upcall and the bytes are still right; the server
# publishes the file again and the next read of it makes no upcall.
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
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --read-only --bpf "$T_TMP/img" "$ours"

f=frag2
dd if="$ours/$f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
ino=$(stat -c %i "$ours/$f")
"$FISTORE" "$SERVER_PID" dump "$ino" > "$T_TMP/file" || fail "$f ($ino) is not published"
count=$(sed -n '1s/^seq [0-9]* count \([0-9]*\) .*/\1/p' "$T_TMP/file")
[ "${count:-0}" -ge 10 ] || fail "$f has only ${count:-no} extents: $(head -n1 "$T_TMP/file")"

# A change of the file's list that never ends (its seq left odd): the
# program has no answer for it.  Read the block extent 5 maps.
lblk=$(awk 'NR == 7 { print $1 }' "$T_TMP/file")
"$FISTORE" "$SERVER_PID" hold "$ino" || fail "can't hold $f's slot"
echo 3 > /proc/sys/vm/drop_caches
before=$(counter "$ours" iomap_begin_upcalls)
dd if="$ours/$f" of="$T_TMP/got" bs=4096 skip="$lblk" count=1 iflag=direct status=none || fail "read of block $lblk failed"
expect_eq "upcalls for the file without an answer" $(($(counter "$ours" iomap_begin_upcalls) - before)) 1
cmp -s "$T_TMP/got" <(dd if="$kern/$f" bs=4096 skip="$lblk" count=1 status=none) || fail "block $lblk differs from the kernel's"

before=$(counter "$ours" iomap_begin_upcalls)
echo 3 > /proc/sys/vm/drop_caches
cmp -s "$ours/$f" "$kern/$f" || fail "$f differs from the kernel's"
expect_eq "upcalls after the server published $f again" "$(counter "$ours" iomap_begin_upcalls)" "$before"
