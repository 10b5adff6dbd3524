#!/bin/bash
# O_DIRECT reads the simple read path must leave to iomap_dio_rw, on
# fuse-iomap-ext4 --read-only --bpf over the test image, each compared
# with the same read on the kernel's ext4 (same bytes, or same errno):
# a NOWAIT read before the file's extents are published (EAGAIN: it needs
# an upcall) and a plain one (no BPF answer); after the warm-up, 512
# bytes at 512 (not aligned), 8 KiB and 64 KiB reads, a 4 KiB read into a misaligned
# buffer (EINVAL), the tail block of a file whose size is not a block
# multiple (a short read), a read past EOF (0 bytes), reads with the
# connection's simple_read knob at 0, and reads with the BPF program
# detached.  simple_reads does not move for any of them; it does move
# for a qualifying read (a plain one, a NOWAIT one, 512 bytes at 4096,
# and one with the knob back at 1), so that this test can fail.
# TIMEOUT: 150
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

IO="python3 $REPO/selftests/lib/simple_read_io.py"
ext4_load
ext4_make_image "$T_TMP/img"
ours=$T_TMP/ours kern=$T_TMP/kern
mkdir -p "$kern"
mount -o ro,noload,loop "$T_TMP/img" "$kern" || fail "kernel ext4 can't mount the image"
defer "umount '$kern' 2>/dev/null"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --read-only --bpf -l "$T_TMP/ext4.log" "$T_TMP/img" "$ours"
expect_eq "attached ops" "$(counter "$ours" bpf_ops)" extent_map
knob=$(conn_dir "$ours")/simple_read
defer "echo 1 > '$knob' 2>/dev/null"
expect_eq "simple_read knob default" "$(cat "$knob")" 1
cdir=$(conn_dir "$ours")
# The checks are in the helper: one process, not one per read (TCG).
$IO fallthrough "$ours" "$kern" "$cdir" pre 2> "$T_TMP/pre.out" || fail "$(tail -n1 "$T_TMP/pre.out")"
$IO fallthrough "$ours" "$kern" "$cdir" main 2> "$T_TMP/main.out" || fail "$(tail -n1 "$T_TMP/main.out")"
expect_eq "simple_read knob at the end" "$(cat "$knob")" 1
"$LOADER" detach "$ours" > "$T_TMP/detach.out" 2>&1 || fail "detach: $(tail -n1 "$T_TMP/detach.out")"
expect_eq "attached ops after detach" "$(counter "$ours" bpf_ops)" ""
$IO fallthrough "$ours" "$kern" "$cdir" detached 2> "$T_TMP/detached.out" || fail "$(tail -n1 "$T_TMP/detached.out")"
cat "$T_TMP/pre.out" "$T_TMP/main.out" "$T_TMP/detached.out" >&2
stop_server "$ours" "$SERVER_PID"
