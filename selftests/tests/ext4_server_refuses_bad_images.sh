#!/bin/bash
# fuse-iomap-ext4 refuses, with a message naming the image and the reason,
# exit status 1 and nothing mounted: a missing image, a file that is not
# ext4, an unsupported feature, for reading only an image whose journal
# needs recovery (read-write replays it: that image, with an empty
# journal, then serves and comes out without needs_recovery), and, for
# writing only, an image that was not cleanly unmounted (which it then
# serves with --read-only).
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
modprobe loop
mnt=$T_TMP/mnt
mkdir -p "$mnt"
head -c $((4 << 20)) /dev/urandom > "$T_TMP/garbage"
mke2fs -q -F -t ext4 "$T_TMP/recover.img" 32M
debugfs -w -R "feature needs_recovery" "$T_TMP/recover.img" > /dev/null 2>&1
mke2fs -q -F -t ext4 -O inline_data "$T_TMP/inline.img" 32M
mke2fs -q -F -t ext4 "$T_TMP/unclean.img" 32M
debugfs -w -R "ssv state 0" "$T_TMP/unclean.img" > /dev/null 2>&1

refused() {	# IMAGE PATTERN [OPTION]
	local rc=0
	"$EXT4SRV" ${3:-} "$1" "$mnt" > "$T_TMP/out" 2>&1 || rc=$?
	expect_eq "exit status for $1" "$rc" 1
	grep -q -- "$2" "$T_TMP/out" || fail "for $1, want a message matching '$2', got: $(cat "$T_TMP/out")"
	! is_mounted "$mnt" || fail "$mnt mounted after refusing $1"
}
refused "$T_TMP/missing.img" "can't open $T_TMP/missing.img as ext4: No such file or directory"
refused "$T_TMP/garbage" "can't open $T_TMP/garbage as ext4: .*[Bb]ad magic"
refused "$T_TMP/recover.img" "journal needs recovery (serve it read-write once" --read-only
refused "$T_TMP/inline.img" "inline_data is not supported"
refused "$T_TMP/inline.img" "inline_data is not supported" --read-only
refused "$T_TMP/unclean.img" "not cleanly unmounted"

start_server "$mnt" "$T_TMP/ro.out" "$EXT4SRV" --read-only "$T_TMP/unclean.img" "$mnt"
[ -d "$mnt/lost+found" ] || fail "the unclean image served --read-only shows no lost+found"
stop_server "$mnt" "$SERVER_PID"

start_server "$mnt" "$T_TMP/rw.out" "$EXT4SRV" "$T_TMP/recover.img" "$mnt"
stop_server "$mnt" "$SERVER_PID"
grep -q "journal replayed: 0 transactions" "$T_TMP/rw.out" ||
	fail "no replay message for the image needing recovery: $(head -n1 "$T_TMP/rw.out")"
! dumpe2fs -h "$T_TMP/recover.img" 2> /dev/null | grep -q 'features:.*needs_recovery' ||
	fail "needs_recovery is still set after our server replayed the journal"
ext4_fsck_clean "$T_TMP/recover.img"
