#!/bin/bash
# The simple read path on fuse-iomap-ext4 --bpf over the test image (made
# with mke2fs -d, plus the kernel's fallocate and a file fio wrote with
# crc32c verify headers through the kernel's ext4): after one warm-up
# read per file (which publishes its extents), random block-aligned 4 KiB
# O_DIRECT reads of every kind of file read the bytes the kernel's ext4
# driver reads on the same image; blocks in holes and in unwritten
# extents read zeros; simple_reads rises by exactly the number of reads.
# Then fio --verify_only reads the fio file back through our mount with
# psync, libaio (iodepth 16) and io_uring (iodepth 16), O_DIRECT 4 KiB:
# no verify error, and simple_reads rises by at least the reads fio
# issued (its json read total_ios) each time.  A missing fio engine fails.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"
. "$REPO/selftests/lib/bpf.sh"

IO="python3 $REPO/selftests/lib/simple_read_io.py"
for e in psync libaio io_uring; do
	fio --enghelp 2>/dev/null | grep -qw "$e" || fail "fio in the guest has no $e engine"
done

ext4_load
img=$T_TMP/img ours=$T_TMP/ours kern=$T_TMP/kern
ext4_make_image "$img"
mkdir -p "$kern"

# fio's file, written with verify headers by the kernel's ext4.
FIOJOB=(--name=v --filename=fiodata --rw=randwrite --bs=4k --size=4M --direct=1
	--verify=crc32c --verify_fatal=1 --randrepeat=1 --randseed=4242 --verify_state_save=0)
mount -o loop "$img" "$kern" || fail "kernel ext4 can't mount the image"
(cd "$kern" && fio "${FIOJOB[@]}" --ioengine=psync --do_verify=0 --output-format=terse > "$T_TMP/fio-write.out" 2>&1) ||
	fail "fio write on the kernel's ext4: $(tail -n2 "$T_TMP/fio-write.out" | tr '\n' ' ')"
umount "$kern" || fail "can't unmount $kern"

# Part 1: bytes against the kernel's ext4, read-only side by side.
mount -o ro,noload,loop "$img" "$kern" || fail "kernel ext4 can't mount the image read-only"
defer "umount '$kern' 2>/dev/null"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --read-only --bpf -l "$T_TMP/ext4.log" "$img" "$ours"
expect_eq "attached ops" "$(counter "$ours" bpf_ops)" extent_map
expect_eq "simple_read knob default" "$(cat "$(conn_dir "$ours")/simple_read")" 1
files="small dir/medium sparse large_sparse unwritten frag1 frag2 fiodata"
for f in $files; do
	dd if="$ours/$f" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read of $f failed"
done

# The kernel says which blocks are unwritten: unwritten's first 10 blocks.
python3 "$FIEMAP_PY" merged "$kern/unwritten" > "$T_TMP/unwritten.fiemap"
awk '$1 == 0 && $4 == 1 { ok = 1 } END { exit !ok }' "$T_TMP/unwritten.fiemap" ||
	fail "the kernel does not report unwritten's first extent as unwritten: $(head -3 "$T_TMP/unwritten.fiemap" | tr '\n' ' ')"
cmp -s <(head -c 40960 "$kern/unwritten") <(head -c 40960 /dev/zero) || fail "the kernel's unwritten blocks are not zeros"

c0=$(counter "$ours" simple_reads) rej0=$(counter "$ours" bpf_rejected)
n=$($IO compare "$ours" "$kern" 16 40 $files) || fail "random reads: $n"
z1=$($IO zeros "$ours/sparse" 0 4 100 5000 10239) || fail "holes: $z1"
z2=$($IO zeros "$ours/large_sparse" 5 20000 65000) || fail "holes: $z2"
z3=$($IO zeros "$ours/unwritten" 0 3 9 14 200 255) || fail "unwritten: $z3"
total=$((n + z1 + z2 + z3))
expect_eq "simple_reads after $total reads" $(($(counter "$ours" simple_reads) - c0)) $total
expect_eq "rejected BPF answers" "$(counter "$ours" bpf_rejected)" "$rej0"
log "$total reads through the simple path, bytes as the kernel's ext4"
stop_server "$ours" "$SERVER_PID"
umount "$kern" || fail "can't unmount $kern"

# Part 2: fio verify, one engine after another (fio opens its file read-write).
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" --bpf -l "$T_TMP/ext4-rw.log" "$img" "$ours"
for e in psync libaio io_uring; do
	depth=16
	[ $e != psync ] || depth=1
	dd if="$ours/fiodata" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read for $e failed"
	c0=$(counter "$ours" simple_reads)
	(cd "$ours" && fio "${FIOJOB[@]}" --verify_only --ioengine=$e --iodepth=$depth --output-format=json \
		> "$T_TMP/fio-$e.json" 2> "$T_TMP/fio-$e.err") ||
		fail "fio --verify_only with $e: $(grep -i 'verify\|error\|bad' "$T_TMP/fio-$e.err" "$T_TMP/fio-$e.json" | head -2 | tr '\n' ' ')"
	read -r err ios < <(python3 -c '
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])["jobs"][0]	# after any note fio prints first
print(j["error"], j["read"]["total_ios"])' "$T_TMP/fio-$e.json") || fail "can't read fio's json for $e"
	expect_eq "fio $e error" "$err" 0
	expect_eq "fio $e verify reads" "$ios" $((4 << 20 >> 12))
	got=$(($(counter "$ours" simple_reads) - c0))
	[ "$got" -ge "$ios" ] || fail "fio $e: $ios reads, simple_reads rose by $got"
	log "fio $e: $ios reads verified, simple_reads +$got"
done
stop_server "$ours" "$SERVER_PID"
