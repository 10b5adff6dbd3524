#!/bin/bash
# One crafted mapping per validation rule: each read or write fails with
# EIO, bumps that rule's counter and no other, and the kernel stays quiet (the
# runner fails the test on any warning).  A valid mapping, as a control,
# reads the device's bytes.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 16
mnt=$T_TMP/mnt
DEVSIZE=$((16 << 20))
head -c 8192 /dev/urandom > "$T_TMP/blocks"
dd if="$T_TMP/blocks" of="$dev" bs=4096 seek=10 conv=fsync status=none

# try NAME RULE OP CRAFT-OPTION...: OP is read (O_DIRECT), bread (buffered)
# or write (O_DIRECT); RULE the counter that must move, or "none".
try() {
	local name=$1 rule=$2 op=$3 out rc=0 total
	shift 3
	start_server "$mnt" "$T_TMP/$name.out" "$CRAFT" "$@" "$dev" "$mnt"
	case $op in
	read)	out=$(dd if="$mnt/f" of="$T_TMP/got" bs=4096 count=1 iflag=direct 2>&1) || rc=$? ;;
	bread)	out=$(dd if="$mnt/f" of=/dev/null bs=4096 count=1 2>&1) || rc=$? ;;
	write)	out=$(dd if=/dev/zero of="$mnt/f" bs=4096 count=1 oflag=direct conv=notrunc 2>&1) || rc=$? ;;
	esac
	total=$(counter "$mnt" mappings_rejected)
	if [ "$rule" = none ]; then
		[ $rc = 0 ] || fail "$name: a valid mapping failed: $out"
		cmp -s "$T_TMP/got" <(head -c 4096 "$T_TMP/blocks") || fail "$name: bytes differ from the device's"
		expect_eq "$name: mappings rejected" "$total" 0
	else
		[ $rc != 0 ] || fail "$name: $op with an invalid mapping ($rule) succeeded"
		grep -q "Input/output error" <<<"$out" || fail "$name: want EIO, got: $out"
		# The page cache may retry a failed read: at least once, and only this rule.
		[ "$total" -ge 1 ] || fail "$name: no mapping counted as rejected"
		expect_eq "$name: rejected/$rule vs all rejections" "$(counter "$mnt" "rejected/$rule")" "$total"
	fi
	stop_server "$mnt" "$SERVER_PID"
	log "$name: ok"
}

M="mapped,0,4096,40960,reg"
try valid_control	none		read	-r "$M"
try type		type		read	-r "9,0,4096,40960,reg"
try flags		flags		read	-r "$M,0x10"
try length		length		read	-r "mapped,0,0,40960,reg"
try maxbytes		maxbytes	read	-r "hole,0x8000000000000000,4096,null,0"
try overflow		overflow	read	-r "mapped,0,0xfffffffffffff000,40960,reg"
try align_offset	align		read	-r "mapped,0,1000,40960,reg"
try align_addr		align		read	-r "mapped,0,4096,40961,reg"
try need_dev		need_dev	read	-r "mapped,0,4096,40960,0"
try need_addr		need_dev	read	-r "mapped,0,4096,null,reg"
try unexpected_dev	unexpected_dev	read	-r "hole,0,4096,40960,reg"
try pure_overwrite	pure_overwrite	read	-r "overwrite,0,4096,40960,reg"
try pos			pos		read	-r "mapped,8192,4096,40960,reg"
try dev_unknown		dev_unknown	read	-r "mapped,0,4096,40960,99"
try dev_released	dev_unknown	read	-u -r "$M"
try dev_range		dev_range	read	-r "mapped,0,8192,$((DEVSIZE - 4096)),reg"
try dev_readonly	dev_readonly	write	-R -r "$M"
try write_type		write_type	write	-r "hole,0,4096,null,0" -w "hole,0,4096,null,0"
try inline		inline		bread	-r "inline,0,4096,null,0"
