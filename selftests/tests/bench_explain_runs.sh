#!/bin/bash
# make bench-explain on its smallest setting (IOS=64, FILES=8) boots a
# guest and prints, for every write cell, the per-I/O table of both
# systems (the kernel's ext4 and fuse-iomap-ext4 --bpf) with a nonzero
# off-CPU time for each, the stacks that time began with, and on-CPU
# samples by stack.  No timing
# is asserted: only that the tool measures something on both sides.
# WHERE: host
# TIMEOUT: 900
. "$REPO/selftests/lib/common.sh"

out=$BUILD/selftests/$T_NAME
rm -rf "$out" && mkdir -p "$out"
(cd "$REPO" && make -s bench-explain IOS=64 FILES=8 EXPLAIN_OUT="$out") > "$T_TMP/make.out" 2>&1 ||
	fail "make bench-explain failed: $(grep -m1 'error' "$T_TMP/make.out" || tail -n1 "$T_TMP/make.out")"
[ -s "$out/explain.md" ] || fail "no $out/explain.md"
python3 - "$out/explain.json" "$out/explain.md" > "$T_TMP/check.out" 2>&1 <<'PY' || fail "$(tail -n1 "$T_TMP/check.out")"
import json, sys
runs = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
cells = ["randwrite_4k_direct", "randwrite_4k_direct_prealloc", "seqwrite_4k_buffered",
         "append_4k_buffered_fsync", "fsync_4k_append", "metadata_create_unlink"]
for c in cells:
    if "## %s " % c not in md:
        sys.exit("explain.md has no table for %s" % c)
    for s in ("ext4", "iomap_bpf"):
        r = [x for x in runs if x["cell"] == c and x["system"] == s]
        if len(r) != 1:
            sys.exit("%s: %d runs of %s, want 1" % (c, len(r), s))
        r = r[0]
        if not r["offcpu_us"] > 0 or not r["oncpu_us"] > 0:
            sys.exit("%s on %s: on-CPU %s us, off-CPU %s us" % (c, s, r["oncpu_us"], r["offcpu_us"]))
        if not r["stacks"] or not r["stacks"][0]["frames"]:
            sys.exit("%s on %s: no off-CPU stack" % (c, s))
        if not r["samples"] or not r["oncpu_stacks"]:
            sys.exit("%s on %s: no on-CPU sample" % (c, s))
        if s == "iomap_bpf" and not r["watched_cpu_us"] > 0:
            sys.exit("%s: no server CPU time" % c)
# The writer's sleeps inside a write are seen on both sides.
for s, frame in (("ext4", "ext4_file_write_iter"), ("iomap_bpf", "fuse_iomap_write_iter")):
    r = [x for x in runs if x["cell"] == "randwrite_4k_direct" and x["system"] == s][0]
    if not any(frame in st["frames"] for st in r["stacks"]):
        sys.exit("randwrite_4k_direct on %s: no off-CPU stack through %s" % (s, frame))
print("%d runs checked" % len(runs))
PY
grep -q "| writer off-CPU µs |" "$out/explain.md" || fail "explain.md has no off-CPU row"
log "$(tail -n1 "$T_TMP/check.out"); $(grep -c '^## ' "$out/explain.md") tables"
