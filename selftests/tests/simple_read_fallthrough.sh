#!/bin/bash
# O_DIRECT reads the simple read path must leave to iomap_dio_rw, on
# fuse-iomap-ext4 --read-only --bpf over the test image, each compared
# with the same read on the kernel's ext4 (same bytes, or same errno):
# a NOWAIT read before the file's extents are published (EAGAIN: it needs
# an upcall) and a plain one (no BPF answer); after the warm-up, 512
# bytes at 512, 8 KiB and 64 KiB reads, a 4 KiB read into a misaligned
# buffer (EINVAL), the tail block of a file whose size is not a block
# multiple (a short read), a read past EOF (0 bytes), reads with the
# connection's simple_read knob at 0, and reads with the BPF program
# detached.  simple_reads does not move for any of them; it does move
# for a qualifying read (a plain one, a NOWAIT one, and one with the
# knob back at 1), so that this test can fail.
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
expect_eq "simple_read knob default" "$(cat "$knob")" 1
size=$(stat -c %s "$kern/small")
[ $((size % 4096)) != 0 ] || fail "small's size $size is a block multiple"
tail_pos=$((size / 4096 * 4096))

# check WHAT WANT-DELTA FILE POS LEN [MODE]: the read on our mount gives
# what it gives on the kernel's ext4 (or $WANT if set, e.g. "err EAGAIN"),
# and simple_reads moves by WANT-DELTA.
check() {
	local what=$1 delta=$2 f=$3 pos=$4 len=$5 mode=${6:-} c0 got want
	c0=$(counter "$ours" simple_reads)
	got=$($IO read "$ours/$f" "$pos" "$len" $mode) || fail "$what: the read helper failed"
	want=${WANT:-$($IO read "$kern/$f" "$pos" "$len" $mode)}
	expect_eq "$what: result" "$got" "$want"
	expect_eq "$what: simple_reads delta" $(($(counter "$ours" simple_reads) - c0)) "$delta"
	log "$what: $got"
}

# No answer: the file's extents are not published yet.
WANT="err EAGAIN" check "NOWAIT, no BPF answer" 0 dir/medium 8192 4096 nowait
b0=$(counter "$ours" iomap_begin_upcalls)
check "no BPF answer (the warm-up)" 0 dir/medium 4096 4096
[ "$(counter "$ours" iomap_begin_upcalls)" -gt "$b0" ] || fail "the warm-up read made no upcall"
check "no BPF answer (the warm-up)" 0 small 0 4096

check "qualifying read" 1 dir/medium 40960 4096
WANT=$($IO read "$kern/dir/medium" 49152 4096) check "qualifying NOWAIT read" 1 dir/medium 49152 4096 nowait
check "512 bytes at 512" 0 dir/medium 512 512
check "512 bytes at 4096" 0 dir/medium 4096 512
check "8 KiB" 0 dir/medium 8192 8192
check "64 KiB" 0 dir/medium $((64 * 4096)) 65536
check "misaligned buffer" 0 dir/medium 16384 4096 misaligned
grep -q "^ok $((size - tail_pos)) " <<<"$($IO read "$kern/small" "$tail_pos" 4096)" ||
	fail "the kernel's read of small's tail block is not short"
check "tail block (crosses EOF)" 0 small "$tail_pos" 4096
check "8 KiB across EOF" 0 small $((tail_pos - 4096)) 8192
check "past EOF" 0 small $((tail_pos + 4096)) 4096
grep -q "^ok 0 " <<<"$($IO read "$ours/small" $((tail_pos + 4096)) 4096)" || fail "a read past EOF did not give 0 bytes"

echo 0 > "$knob" || fail "can't write 0 to $knob"
defer "echo 1 > '$knob' 2>/dev/null"
expect_eq "simple_read knob" "$(cat "$knob")" 0
check "knob 0" 0 dir/medium 20480 4096
WANT=$($IO read "$kern/dir/medium" 24576 4096) check "knob 0, NOWAIT" 0 dir/medium 24576 4096 nowait
check "knob 0, small" 0 small 8192 4096
echo 1 > "$knob" || fail "can't write 1 to $knob"
expect_eq "simple_read knob" "$(cat "$knob")" 1
check "knob back at 1" 1 dir/medium 20480 4096

"$LOADER" detach "$ours" > "$T_TMP/detach.out" 2>&1 || fail "detach: $(tail -n1 "$T_TMP/detach.out")"
expect_eq "attached ops after detach" "$(counter "$ours" bpf_ops)" ""
b0=$(counter "$ours" iomap_begin_upcalls)
check "detached" 0 dir/medium 28672 4096
check "detached, small" 0 small 12288 4096
[ "$(counter "$ours" iomap_begin_upcalls)" -ge $((b0 + 2)) ] || fail "reads with the program detached made no upcalls"
stop_server "$ours" "$SERVER_PID"
