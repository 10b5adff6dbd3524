#!/bin/bash
# O_DIRECT 4 KiB readers racing truncate (shrink and regrow) and writes
# (overwrites, and extending writes at and past EOF, O_DIRECT and
# buffered) on one file of fuse-iomap-ext4 --bpf, for 20 s (180 s with
# STRESS_LONG=1).  The image's free space was filled with "STALE" bytes
# through the kernel's ext4 beforehand.  Every 512-byte sector a reader
# gets is either zeros (a hole, or past a regrow) or the writer's pattern
# for that very block and a generation the writer had begun (old or new
# bytes); a read past EOF is short: never STALE bytes, never another
# block's bytes, never an error.  simple_reads moved (the library
# republishes a file's extents after a read's upcall, so the simple path
# takes reads between changes), e2fsck -fn is clean afterwards, and the
# kernel stays quiet (the runner's log scan).
# TIMEOUT: 150
# TIMEOUT_LONG: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

SECS=20
[ "${STRESS_LONG:-0}" != 1 ] || SECS=180
ext4_load
img=$T_TMP/img ours=$T_TMP/ours kern=$T_TMP/kern
mke2fs -q -F -t ext4 -b 4096 "$img" 64M || fail "mke2fs failed"
mkdir -p "$kern"
mount -o loop "$img" "$kern" || fail "kernel ext4 can't mount $img"
yes STALE > "$kern/stale" 2> /dev/null || true
sync
[ "$(stat -c %s "$kern/stale")" -gt $((40 << 20)) ] || fail "the STALE file is only $(stat -c %s "$kern/stale") bytes"
rm "$kern/stale"
umount "$kern" || fail "can't unmount $kern"
grep -qa STALE "$img" || fail "no STALE bytes left in the image's free space"

start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf "$img" "$ours"
expect_eq "attached ops" "$(counter "$ours" bpf_ops)" extent_map
expect_eq "simple_read knob" "$(cat "$(conn_dir "$ours")/simple_read")" 1
: > "$ours/f" || fail "can't create the file"
s0=$(counter "$ours" simple_reads) r0=$(counter "$ours" bpf_rejected)
out=$(python3 "$REPO/selftests/lib/simple_read_io.py" race "$ours/f" "$SECS" 3 256 2>&1) ||
	fail "race: $(tail -n1 <<<"$out")"
simple=$(($(counter "$ours" simple_reads) - s0))
log "$SECS s: $out; $simple reads through the simple path"
[ "$simple" -gt 0 ] || fail "no read took the simple path"
expect_eq "rejected BPF answers" "$(counter "$ours" bpf_rejected)" "$r0"
stop_server "$ours" "$SERVER_PID"
e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck -fn: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | tr '\n' ' ')"
