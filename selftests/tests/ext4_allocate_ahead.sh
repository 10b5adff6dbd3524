#!/bin/bash
# fuse-iomap-ext4 --bpf allocates ahead of appends: 256 MiB of 1 MiB
# buffered appends, then 64 MiB of 4 KiB ones (dd bs=4k), each make at
# most one BEGIN upcall per 8 MiB (the allocations grow with the file from
# 1 MiB to 16 MiB while space allows, in up to four runs of free blocks
# when one is cut short; logged: how many were for
# writeback).
# After close st_blocks matches the size
# (the unused tail is freed), after unmount e2fsck -fn is clean (no
# leaked blocks), and the kernel's ext4 reads the same bytes.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

pattern() { { yes 'allocation ahead of appends, one line after another.' || true; } | head -c "$1"; }

ext4_load
img=$T_TMP/img
mke2fs -q -F -t ext4 -b 4096 "$img" 512M || fail "mke2fs failed"
ours=$T_TMP/ours
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf -l "$T_TMP/ext4.log" "$img" "$ours"
for spec in big:1M:256 small:4k:16384; do
	IFS=: read -r name bs count <<<"$spec"
	size=$(($(numfmt --from=iec "${bs^^}") * count))
	before=$(counter "$ours" iomap_begin_upcalls) lines=$(wc -l < "$T_TMP/ext4.log")
	pattern $size | dd of="$ours/$name" bs="$bs" iflag=fullblock conv=fsync status=none ||
		fail "$name: dd failed"
	begins=$(($(counter "$ours" iomap_begin_upcalls) - before))
	# BEGIN lines' opflags: FUSE_IOMAP_OP_WRITEBACK is 0x10000.
	wb=$(tail -n +$((lines + 1)) "$T_TMP/ext4.log" |
		python3 -c 'import sys; print(sum(1 for l in sys.stdin if l.startswith("BEGIN ") and int(l.split()[4], 16) & 0x10000))')
	log "$name: $count appends of $bs, $begins BEGIN upcalls, $wb of them for writeback"
	[ "$begins" -le $((size >> 23)) ] ||
		fail "$name: $begins BEGIN upcalls for $((size >> 20)) MiB of $bs appends, want at most $((size >> 23))"
	blocks=$(stat -c %b "$ours/$name")
	[ $((blocks * 512)) -ge "$size" ] && [ $((blocks * 512)) -le $((size + (16 << 10))) ] ||
		fail "$name: after close, st_blocks is $blocks ($((blocks * 512)) bytes) for $size bytes: the tail was not freed"
done
drop_caches
cmp <(pattern $((256 << 20))) "$ours/big" || fail "big reads differently from what was written"
cmp <(pattern $((64 << 20))) "$ours/small" || fail "small reads differently from what was written"
stop_server "$ours" "$SERVER_PID"
ext4_fsck_clean "$img"
mkdir -p "$T_TMP/kern"
mount -o ro,loop "$img" "$T_TMP/kern" || fail "kernel ext4 can't mount the image"
defer "umount '$T_TMP/kern' 2>/dev/null"
cmp <(pattern $((256 << 20))) "$T_TMP/kern/big" || fail "the kernel's ext4 reads big differently"
cmp <(pattern $((64 << 20))) "$T_TMP/kern/small" || fail "the kernel's ext4 reads small differently"
