#!/bin/bash
# The bpftool we build (with bpftool/patches/) shows and dumps a struct_ops
# map whose type fuse_iomap.ko registered: `struct_ops show` names the
# kernel type fuse_bpf_ops, `struct_ops dump` prints the ops with the
# connection id and name, plain and JSON, and neither crashes.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
id=$(stat -c %d "$mnt")
attach "$mnt" "$TESTBPF/no_answer.bpf.o"
"$BPFTOOL" struct_ops show > "$T_TMP/show" 2>&1 || fail "struct_ops show failed: $(tail -n2 "$T_TMP/show")"
grep -Eq '^[0-9]+: no_answer +fuse_bpf_ops' "$T_TMP/show" || fail "struct_ops show: $(cat "$T_TMP/show")"
"$BPFTOOL" struct_ops dump name no_answer > "$T_TMP/dump" 2>&1 || fail "struct_ops dump failed: $(tail -n2 "$T_TMP/dump")"
grep -q "\"conn_id\": $id," "$T_TMP/dump" || fail "dump lacks conn_id $id: $(head -c 600 "$T_TMP/dump")"
grep -q '"name": "no_answer"' "$T_TMP/dump" || fail "dump lacks the ops name"
"$BPFTOOL" -j struct_ops show > "$T_TMP/json" || fail "struct_ops show -j failed"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not any(m["kernel_struct_ops"] == "fuse_bpf_ops" for m in (d if isinstance(d, list) else [d])))' "$T_TMP/json" ||
	fail "JSON show: $(cat "$T_TMP/json")"
