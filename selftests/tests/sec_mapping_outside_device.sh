#!/bin/bash
# Mappings outside the registered device are refused, from a server and
# from BPF alike: past its end (by one block, straddling it, far away, and
# wrapping), to a cookie never registered, and to a device the server
# released.  The device is an 8 MiB window (loop --offset/--sizelimit) into
# a larger file: the bytes around the window are unchanged after refused
# writes, and the block layer never saw an I/O past the device's end.  The
# window's last block, as a control, is read and written.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

fi_load
modprobe loop
backing=$T_TMP/backing
head -c $((10 << 20)) /dev/urandom > "$backing"
dev=$(losetup -f --show --offset $((1 << 20)) --sizelimit $((8 << 20)) "$backing") ||
	fail "losetup of the window failed"
defer "losetup -d $dev"
DEVSIZE=$((8 << 20)) LAST=$(((8 << 20) - 4096))
outside() { { head -c $((1 << 20)) "$backing"; tail -c $((1 << 20)) "$backing"; } | sha256sum; }
before=$(outside)
mnt=$T_TMP/mnt
CRAFT_WANT=$T_TMP/last
dd if="$backing" of="$CRAFT_WANT" bs=4096 skip=$(((9 << 20) / 4096 - 1)) count=1 status=none
dmesg_lines=$(dmesg | wc -l)

craft_try last_block	none		read	-r "mapped,0,4096,$LAST,reg"
craft_try last_block_w	none		write	-r "mapped,0,4096,$LAST,reg"
head -c 4096 /dev/zero > "$CRAFT_WANT"
cmp -s <(dev_bytes "$dev" "$LAST" 4096) "$CRAFT_WANT" || fail "the write to the last block did not land"
craft_try one_past	dev_range	read	-r "mapped,0,4096,$DEVSIZE,reg"
craft_try straddle	dev_range	read	-r "mapped,0,8192,$LAST,reg"
craft_try far		dev_range	read	-r "mapped,0,4096,$((1 << 40)),reg"
craft_try wraps		overflow	read	-r "mapped,0,8192,0xfffffffffffff000,reg"
craft_try one_past_w	dev_range	write	-r "hole,0,4096,null,0" -w "mapped,0,4096,$DEVSIZE,reg"
craft_try straddle_w	dev_range	write	-r "mapped,0,8192,$LAST,reg" -w overwrite,0,0,0,0
craft_try cookie	dev_unknown	read	-r "mapped,0,4096,0,2"
craft_try released	dev_unknown	read	-u -r "mapped,0,4096,0,reg"
craft_try released_w	dev_unknown	write	-u -r "mapped,0,4096,0,reg"

# The same through the BPF tier: fuzz_answers, block k answered by entry k.
cat > "$T_TMP/plan" <<PLAN
PLAN 0x0 0x10 map 0 2 0x0 0x1000 $LAST 1 0x0 0 0 0 0 0 0
PLAN 0x1000 0x10 map 0 2 0x1000 0x1000 $DEVSIZE 1 0x0 0 0 0 0 0 0
PLAN 0x2000 0x10 map 0 2 0x2000 0x2000 $LAST 1 0x0 0 0 0 0 0 0
PLAN 0x3000 0x10 map 0 2 0x3000 0x1000 0x0 2 0x0 0 0 0 0 0 0
PLAN 0x4000 0x11 map 0 0 0x4000 0x1000 0xffffffffffffffff 0 0x0 2 0x4000 0x1000 $DEVSIZE 1 0x0
PLAN
python3 "$REPO/selftests/lib/fuzz_check.py" batch "$T_TMP/plan" > "$T_TMP/batch"
start_server "$mnt" "$T_TMP/bpf.out" "$CRAFT" "$dev" "$mnt"
attach "$mnt" "$TESTBPF/fuzz_answers.bpf.o"
"$BPFTOOL" batch file "$T_TMP/batch" > "$T_TMP/bpftool.out" 2>&1 ||
	fail "bpftool could not fill fz_answers: $(tail -n1 "$T_TMP/bpftool.out")"
dd if="$mnt/f" of="$T_TMP/got" bs=4096 count=1 iflag=direct status=none || fail "bpf: the last block"
cmp -s "$T_TMP/got" "$CRAFT_WANT" || fail "bpf: the last block's bytes differ"
for b in 1 2 3; do
	out=$(dd if="$mnt/f" of=/dev/null bs=4096 count=1 skip=$b iflag=direct 2>&1) &&
		fail "bpf: read of block $b (outside the device) succeeded"
	grep -q "Input/output error" <<<"$out" || fail "bpf: block $b: want EIO, got: $out"
done
out=$(dd if=/dev/zero of="$mnt/f" bs=4096 count=1 seek=4 oflag=direct conv=notrunc 2>&1) &&
	fail "bpf: write past the device's end succeeded"
grep -q "Input/output error" <<<"$out" || fail "bpf: write of block 4: want EIO, got: $out"
expect_eq "bpf: answers refused" "$(counter "$mnt" bpf_rejected)" 4
expect_eq "bpf: refused as outside the device" \
	$(($(counter "$mnt" rejected/dev_range) + $(counter "$mnt" rejected/dev_unknown))) 4
stop_server "$mnt" "$SERVER_PID"

expect_eq "the bytes around the device" "$(outside)" "$before"
dmesg | tail -n +$((dmesg_lines + 1)) | grep -m1 'beyond end of device' &&
	fail "the block layer saw an I/O past the device's end"
true
