#!/bin/bash
# After fstests generic/790: the device block holding EOF carries a
# sentinel past EOF (written to the raw device).  Extending the file by an
# append, by truncate up and by a write past EOF must expose zeros in
# [old EOF, block end), never the sentinel: through the file, and on the
# device after sync and after a remount.  Likewise the old bytes past a
# new EOF after a truncate down and up again ("shrink").
# TIMEOUT: 150
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 64
mnt=$T_TMP/mnt meta=$T_TMP/meta
B=4096 EOF_AT=1000
start_blockfs "$mnt" "$dev" --meta "$meta"

# Each file: 1000 bytes, then the sentinel in its EOF block on the device.
for f in append truncate pastwrite; do
	head -c $EOF_AT /dev/urandom > "$mnt/$f"
	cp "$mnt/$f" "$T_TMP/$f.head"
done
sync
for f in append truncate pastwrite; do
	set -- $(fiemap "$mnt/$f")
	[ "$1" = 0 ] || fail "$f: no extent at offset 0"
	echo "$2" > "$T_TMP/$f.phys"
	head -c $((B - EOF_AT)) /dev/zero | tr '\0' '\245' > "$T_TMP/sentinel"
	dd if="$T_TMP/sentinel" of="$dev" oflag=seek_bytes seek=$(($2 + EOF_AT)) conv=notrunc,fsync status=none ||
		fail "can't write the sentinel to $dev"
	expect_eq "$f: sentinel on the device" "$(dev_bytes "$dev" $(($2 + EOF_AT)) 2 | od -An -tx1 | tr -d ' ')" a5a5
done
head -c $((2 * B)) /dev/urandom > "$mnt/shrink"
head -c $EOF_AT "$mnt/shrink" > "$T_TMP/shrink.head"
sync
set -- $(fiemap "$mnt/shrink")
echo "$2" > "$T_TMP/shrink.phys"
drop_caches

# The three ways of extending, and a truncate down then up.
printf 'tail' >> "$mnt/append"
truncate -s $((3 * B)) "$mnt/append"
truncate -s $((3 * B)) "$mnt/truncate"
printf 'past' | dd of="$mnt/pastwrite" bs=1 seek=$((2 * B + 100)) conv=notrunc status=none
truncate -s $EOF_AT "$mnt/shrink"
truncate -s $((3 * B)) "$mnt/shrink"

gap_is_zero() {		# FILE FROM: bytes [FROM, B) of FILE are zeros
	cmp -s <(dd if="$1" bs=1 skip="$2" count=$((B - $2)) status=none) <(head -c $((B - $2)) /dev/zero)
}
check_all() {
	local when=$1 f from
	for f in append truncate pastwrite shrink; do
		from=$EOF_AT
		[ $f = append ] && from=$((EOF_AT + 4))
		gap_is_zero "$mnt/$f" $from || fail "$f ($when): [$from, $B) of the file is not zero: $(dd if="$mnt/$f" bs=1 skip=$from count=8 status=none | od -An -tx1 | head -1)"
		cmp -s <(head -c $EOF_AT "$mnt/$f") "$T_TMP/$f.head" || fail "$f ($when): the first $EOF_AT bytes changed"
	done
	expect_eq "append ($when): the appended bytes" "$(dd if="$mnt/append" bs=1 skip=$EOF_AT count=4 status=none)" tail
	expect_eq "pastwrite ($when): the bytes written past EOF" "$(dd if="$mnt/pastwrite" bs=1 skip=$((2 * B + 100)) count=4 status=none)" past
}
check_all "through the file"
sync
for f in append truncate pastwrite shrink; do
	from=$EOF_AT
	[ $f = append ] && from=$((EOF_AT + 4))
	phys=$(cat "$T_TMP/$f.phys")
	cmp -s <(dev_bytes "$dev" $((phys + from)) $((B - from))) \
	       <(head -c $((B - from)) /dev/zero) || fail "$f: the device block at $phys still holds non-zero bytes in [$from, $B) after sync"
done
stop_server "$mnt" "$SERVER_PID"
start_blockfs "$mnt" "$dev" --meta "$meta"
drop_caches
check_all "after remount"
stop_server "$mnt" "$SERVER_PID"
