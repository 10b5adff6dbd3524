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
# map_id NAME: the id of this test's server's map NAME (the newest map of
# that name if bpftool lists no pids).  From a file, not a pipe: bpftool
# writes line by line (setlinebuf), so an awk that exits at its first
# match while bpftool still writes kills it with SIGPIPE once the list
# outgrows awk's first read, and under pipefail and set -e the test then
# ended with no reason at all.  And the first "files" map listed need not
# be this server's.
"$BPFTOOL" -j map show > "$T_TMP/maps" || fail "bpftool map show failed"
map_id() {
	python3 -c 'import json, sys
maps = [m for m in json.load(open(sys.argv[1])) if m.get("name") == sys.argv[2]]
ours = [m for m in maps if any(p.get("pid") == int(sys.argv[3]) for p in m.get("pids", []))]
print(max(m["id"] for m in ours or maps) if maps else "")' "$T_TMP/maps" "$1" "$SERVER_PID"
}
files_id=$(map_id files) extents_id=$(map_id extents)
[ -n "$files_id" ] && [ -n "$extents_id" ] || fail "extent_map's maps not found: $(tr -d '\n' < "$T_TMP/maps" | cut -c1-300)"
log "map ids: files $files_id, extents $extents_id; maps listed: $(grep -o '"name":' "$T_TMP/maps" | wc -l)"
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
