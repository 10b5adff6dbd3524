#!/bin/bash
# insmod and rmmod fuse_iomap.ko three times: its device, file system types
# and module BTF appear after each load and are gone after each unload.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"

module_loaded fuse_iomap && fi_unload
log "module: $KMOD"

for i in 1 2 3; do
	insmod "$KMOD" || fail "insmod #$i failed"
	# devtmpfs creates the node asynchronously.
	wait_for 15 test -c /dev/fuse-iomap || fail "/dev/fuse-iomap missing after insmod #$i"
	grep -qw fuseiomap /proc/filesystems || fail "no fuseiomap file system type after insmod #$i"
	grep -qw fuseiomapblk /proc/filesystems || fail "no fuseiomapblk file system type after insmod #$i"
	[ -e /sys/kernel/btf/fuse_iomap ] || fail "/sys/kernel/btf/fuse_iomap missing after insmod #$i"
	[ -d /sys/fs/fuseiomap ] || fail "/sys/fs/fuseiomap missing after insmod #$i"
	# The built-in fuse is untouched.
	grep -qP '\tfuse$' /proc/filesystems || fail "built-in fuse type gone after insmod #$i"
	rmmod fuse_iomap || fail "rmmod #$i failed"
	wait_for 15 test ! -e /dev/fuse-iomap || fail "/dev/fuse-iomap still there after rmmod #$i"
	for p in /sys/kernel/btf/fuse_iomap /sys/fs/fuseiomap; do
		[ ! -e $p ] || fail "$p still there after rmmod #$i"
	done
	! grep -qw fuseiomap /proc/filesystems || fail "fuseiomap type still registered after rmmod #$i"
done
