#!/bin/bash
# fuse-iomap-bpf show/stats/--help: show names the mountpoint, the attached
# ops with the same link and map ids bpftool reports, and the counters
# sysfs holds; stats repeats with -i/-c; errors name the mountpoint and the
# reason and exit 1; --help exits 0 and lists every command.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
id=$(stat -c %d "$mnt")
"$LOADER" show "$mnt" > "$T_TMP/show0" || fail "show failed"
grep -q "^connection $id $mnt\$" "$T_TMP/show0" || fail "show: no line for $mnt: $(cat "$T_TMP/show0")"
grep -q "no fuse_bpf_ops attached" "$T_TMP/show0" || fail "show claims ops before any attach"

attach "$mnt" "$TESTBPF/no_answer.bpf.o"
dd if=/dev/urandom of="$mnt/f" bs=64k count=4 status=none
"$LOADER" show > "$T_TMP/show"
link=$("$BPFTOOL" link show | awk '/struct_ops/ { sub(":", "", $1); print $1; exit }')
map=$("$BPFTOOL" map show | awk '/struct_ops  name no_answer/ { sub(":", "", $1); print $1; exit }')
grep -q "^  ops no_answer link $link map $map\$" "$T_TMP/show" ||
	fail "show: want ops no_answer link $link map $map, got: $(cat "$T_TMP/show")"
for c in iomap_begin_upcalls bpf_fallbacks; do
	grep -q " $c=$(counter "$mnt" $c)\b" "$T_TMP/show" || fail "show: $c differs from sysfs"
done

"$LOADER" stats "$mnt" -i 1 -c 2 > "$T_TMP/stats" || fail "stats failed"
expect_eq "stats lines" "$(grep -c "^connection $id iomap_begin_upcalls=" "$T_TMP/stats")" 2

rc=0
"$LOADER" show "$T_TMP" > "$T_TMP/err" 2>&1 || rc=$?
expect_eq "show of a non-iomap directory" "$rc" 1
grep -q "$T_TMP is not an iomap mount" "$T_TMP/err" || fail "no clear error: $(cat "$T_TMP/err")"
rc=0
"$LOADER" attach "$mnt" "$T_TMP/missing.bpf.o" > "$T_TMP/err" 2>&1 || rc=$?
expect_eq "attach of a missing object" "$rc" 1
grep -q "can't open $T_TMP/missing.bpf.o: No such file or directory" "$T_TMP/err" ||
	fail "no clear error: $(tail -n1 "$T_TMP/err")"
"$LOADER" --help > "$T_TMP/help" || fail "--help failed"
for c in attach detach show stats; do
	grep -q "fuse-iomap-bpf $c" "$T_TMP/help" || fail "--help does not mention $c"
done
