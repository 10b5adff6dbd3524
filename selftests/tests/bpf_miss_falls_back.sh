#!/bin/bash
# With extent_map attached (fuse-iomap-ext4 --bpf), an extent missing from
# the map costs exactly one FUSE_IOMAP_BEGIN upcall and the bytes are
# still right; the server publishes the file again and the next read of
# it makes no upcall.
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
le() { python3 -c 'import struct, sys; print(" ".join("%d" % b for b in struct.pack(sys.argv[1], *map(int, sys.argv[2:]))))' "$@"; }
map_id() { "$BPFTOOL" map show | awk -v n="$1" '$3 == "name" && $4 == n { sub(":", "", $1); print $1; exit }'; }
files_id=$(map_id files) extents_id=$(map_id extents)
[ -n "$files_id" ] && [ -n "$extents_id" ] || fail "extent_map's maps not found: $("$BPFTOOL" map show)"
"$BPFTOOL" -j map lookup id "$files_id" key $(le '<Q' "$ino") > "$T_TMP/file" || fail "$f ($ino) is not published"
read -r gen count < <(python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))["formatted"]["value"]; print(v["gen"], v["count"])' "$T_TMP/file")
[ "$count" -ge 10 ] || fail "$f has only $count extents"

# Drop extent 5 and read the block it maps.
k=5
"$BPFTOOL" -j map lookup id "$extents_id" key $(le '<QII' "$ino" "$gen" $k) > "$T_TMP/ext" || fail "no extent $k"
lblk=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["formatted"]["value"]["lblk"])' "$T_TMP/ext")
"$BPFTOOL" map delete id "$extents_id" key $(le '<QII' "$ino" "$gen" $k) || fail "can't delete extent $k"
echo 3 > /proc/sys/vm/drop_caches
before=$(counter "$ours" iomap_begin_upcalls)
dd if="$ours/$f" of="$T_TMP/got" bs=4096 skip="$lblk" count=1 iflag=direct status=none || fail "read of block $lblk failed"
expect_eq "upcalls for the missing extent" $(($(counter "$ours" iomap_begin_upcalls) - before)) 1
cmp -s "$T_TMP/got" <(dd if="$kern/$f" bs=4096 skip="$lblk" count=1 status=none) || fail "block $lblk differs from the kernel's"

before=$(counter "$ours" iomap_begin_upcalls)
echo 3 > /proc/sys/vm/drop_caches
cmp -s "$ours/$f" "$kern/$f" || fail "$f differs from the kernel's"
expect_eq "upcalls after the server published $f again" "$(counter "$ours" iomap_begin_upcalls)" "$before"
