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

CRAFT_WANT=$T_TMP/blocks

M="mapped,0,4096,40960,reg"
craft_try valid_control	none		read	-r "$M"
craft_try type		type		read	-r "9,0,4096,40960,reg"
craft_try flags		flags		read	-r "$M,0x10"
craft_try length		length		read	-r "mapped,0,0,40960,reg"
craft_try maxbytes		maxbytes	read	-r "hole,0x8000000000000000,4096,null,0"
craft_try overflow		overflow	read	-r "mapped,0,0xfffffffffffff000,40960,reg"
craft_try align_offset	align		read	-r "mapped,0,1000,40960,reg"
craft_try align_addr		align		read	-r "mapped,0,4096,40961,reg"
craft_try need_dev		need_dev	read	-r "mapped,0,4096,40960,0"
craft_try need_addr		need_dev	read	-r "mapped,0,4096,null,reg"
craft_try unexpected_dev	unexpected_dev	read	-r "hole,0,4096,40960,reg"
craft_try pure_overwrite	pure_overwrite	read	-r "overwrite,0,4096,40960,reg"
craft_try pos			pos		read	-r "mapped,8192,4096,40960,reg"
craft_try dev_unknown		dev_unknown	read	-r "mapped,0,4096,40960,99"
craft_try dev_released	dev_unknown	read	-u -r "$M"
craft_try dev_range		dev_range	read	-r "mapped,0,8192,$((DEVSIZE - 4096)),reg"
craft_try dev_readonly	dev_readonly	write	-R -r "$M"
craft_try write_type		write_type	write	-r "hole,0,4096,null,0" -w "hole,0,4096,null,0"
craft_try inline		inline		bread	-r "inline,0,4096,null,0"
