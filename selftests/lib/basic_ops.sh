# basic_ops DIR: the everyday operations a user does on a mount, each
# checked against what it should have done.  Sourced after common.sh.
basic_ops() {
	local d=$1 ref=$T_TMP/ref.$$ got

	head -c 300000 /dev/urandom > "$ref"
	cp "$ref" "$d/file" || fail "create+write $d/file failed"
	cmp "$ref" "$d/file" || fail "$d/file: bytes read back differ from bytes written"
	expect_eq "size of $d/file" "$(stat -c %s "$d/file")" 300000
	expect_eq "type of $d/file" "$(stat -c %F "$d/file")" "regular file"
	printf 'more' >> "$d/file" || fail "append to $d/file failed"
	expect_eq "size after append" "$(stat -c %s "$d/file")" 300004
	expect_eq "tail after append" "$(tail -c 4 "$d/file")" more

	mkdir "$d/dir" || fail "mkdir $d/dir failed"
	expect_eq "type of $d/dir" "$(stat -c %F "$d/dir")" directory
	mv "$d/file" "$d/dir/moved" || fail "rename into $d/dir failed"
	[ ! -e "$d/file" ] || fail "$d/file still exists after rename"
	expect_eq "bytes after rename" "$(head -c 300000 "$d/dir/moved" | cmp - "$ref" && echo same)" same

	ln -s dir/moved "$d/link" || fail "symlink failed"
	expect_eq "readlink" "$(readlink "$d/link")" dir/moved
	expect_eq "bytes through symlink" "$(head -c 300000 "$d/link" | cmp - "$ref" && echo same)" same

	got=$(ls -a "$d" | sort | tr '\n' ' ')
	expect_eq "readdir $d" "$got" ". .. dir link "
	got=$(ls -a "$d/dir" | sort | tr '\n' ' ')
	expect_eq "readdir $d/dir" "$got" ". .. moved "

	rm "$d/link" "$d/dir/moved" || fail "unlink failed"
	[ ! -e "$d/dir/moved" ] || fail "$d/dir/moved still exists after unlink"
	rmdir "$d/dir" || fail "rmdir $d/dir failed"
	expect_eq "readdir after cleanup" "$(ls -A "$d" | wc -l)" 0
	rm -f "$ref"
}
