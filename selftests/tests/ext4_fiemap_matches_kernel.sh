#!/bin/bash
# For every file of an ext4 image, the physical extents FIEMAP reports
# through fuse-iomap-ext4 equal the kernel ext4 driver's (after merging
# physically contiguous neighbours), and a count-only FIEMAP gives as many
# extents as a full one.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
ext4_make_image "$T_TMP/img"
ext4_mount_both "$T_TMP/img"

ext4_each_file "$kern" merged > "$T_TMP/kern.merged"
ext4_each_file "$ours" merged > "$T_TMP/ours.merged"
[ "$(grep -c '^# ' "$T_TMP/kern.merged")" -ge 8 ] || fail "only $(grep -c '^# ' "$T_TMP/kern.merged") files compared"
diff "$T_TMP/kern.merged" "$T_TMP/ours.merged" > "$T_TMP/diff" ||
	fail "FIEMAP differs from the kernel's: $(grep '^[<>#]' "$T_TMP/diff" | head -3 | tr '\n' ' ')"
ext4_each_file "$ours" count > "$T_TMP/count"
ext4_each_file "$ours" full | awk '/^# / { if (f) print f, n; f = $2; n = -1; next } { n++ } END { print f, n }' > "$T_TMP/full"
paste -d' ' <(paste - - < "$T_TMP/count") "$T_TMP/full" | while read -r _ f count g full; do
	[ "$count" = "$full" ] || fail "$f: count-only FIEMAP says $count extents, a full one returned $full"
done
awk '/^# / { f = $2; next } f == "./frag1" { n++ } END { exit !(n > 1) }' "$T_TMP/ours.merged" ||
	fail "frag1 is not fragmented: the test proves little"
awk '/^# / { f = $2; next } f == "./unwritten" && $4 == 1 { u = 1 } END { exit !u }' "$T_TMP/ours.merged" ||
	fail "no unwritten extent reported for 'unwritten'"
stop_server "$ours" "$SERVER_PID"
