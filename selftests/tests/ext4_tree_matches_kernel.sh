#!/bin/bash
# An ext4 image (made by mke2fs -d, fragmented and grown by the kernel's
# ext4) served by fuse-iomap-ext4 and mounted by the kernel side by side:
# names, types, sizes, modes, owners, link counts, symlink targets, xattrs
# and the sha256 of every file are identical.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

fi_load
ext4_make_image "$T_TMP/img"
ext4_mount_both "$T_TMP/img"

python3 "$REPO/selftests/lib/tree.py" "$kern" > "$T_TMP/kern.manifest"
python3 "$REPO/selftests/lib/tree.py" "$ours" > "$T_TMP/ours.manifest"
[ "$(wc -l < "$T_TMP/kern.manifest")" -ge 15 ] || fail "the kernel sees only $(wc -l < "$T_TMP/kern.manifest") entries"
diff "$T_TMP/kern.manifest" "$T_TMP/ours.manifest" > "$T_TMP/diff" ||
	fail "tree differs from the kernel's: $(grep '^[<>]' "$T_TMP/diff" | head -2 | tr '\n' ' ')"
grep -q '^large_sparse file .* size=268435456 ' "$T_TMP/ours.manifest" || fail "no 256 MiB sparse file in the tree"
grep -q 'user.colour=626c7565' "$T_TMP/ours.manifest" || fail "xattr user.colour missing"
grep -q '^dir/hard_link file .* nlink=3 ' "$T_TMP/ours.manifest" || fail "hard link count is not 3"
stop_server "$ours" "$SERVER_PID"
