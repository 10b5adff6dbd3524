#!/bin/bash
# "Write your own BPF program" (doc/bpf.md, where the README points for
# it) builds as written: its program
# saved as my_ops.bpf.c and its clang command run at the top of a copy of
# the repository give a BPF object with the struct_ops map my_ops, and our
# loader's object reader accepts it.
# WHERE: host
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"

sec=$(sed -n '/^<!-- bpf-example/,/^<!-- \/bpf-example -->/p' "$REPO/doc/bpf.md")
[ -n "$sec" ] || fail "doc/bpf.md has no bpf-example block"
work=$T_TMP/repo
mkdir -p "$work/build"
ln -s "$REPO/include" "$work/include"
ln -s "$BUILD/libbpf" "$work/build/libbpf"
# The program: the indented lines before the prose that follows it.
awk '/^<!-- bpf-example/ { on = 1; next } on && /^[^ ]/ && NR > 1 && seen { exit }
     on && /^    / { sub(/^    /, ""); print; seen = 1; next } on && /^$/ && seen { print }' \
	<<<"$sec" > "$work/my_ops.bpf.c"
grep -q 'SEC(".struct_ops.link")' "$work/my_ops.bpf.c" || fail "no program found in the block: $(head -3 "$work/my_ops.bpf.c")"
cmd=$(grep '^    clang' <<<"$sec" | sed 's/^    //')
[ -n "$cmd" ] || fail "no clang command in the block"
(cd "$work" && bash -c "$cmd") > "$T_TMP/cc.out" 2>&1 || fail "doc/bpf.md's command failed: $(head -3 "$T_TMP/cc.out" | tr '\n' ' ')"
[ -s "$work/my_ops.bpf.o" ] || fail "no my_ops.bpf.o"
"$BUILD/bpftool/bpftool" gen skeleton "$work/my_ops.bpf.o" > "$T_TMP/skel.h" 2> "$T_TMP/skel.err" ||
	fail "bpftool can't read the object: $(head -2 "$T_TMP/skel.err")"
grep -q "struct bpf_map \*my_ops;" "$T_TMP/skel.h" || fail "no my_ops struct_ops map in the object"
