#!/bin/bash
# A buffered writer is throttled as on the kernel's ext4, by the global
# dirty limits, not by fuse's per-mount cap (BDI_CAP_STRICTLIMIT at 1% of
# the dirty limit, for servers nobody trusts): the mount's bdi says
# strict_limit 0 and max_ratio 100, and 128 MiB written through the page
# cache (no sync; the 6 GiB guest's background limit is far above it)
# sleeps in balance_dirty_pages for no time at all on either system
# (fi-offcpu's off-CPU stacks of the writer; before, ours slept there
# while ext4 did not).  The bytes read back after fsync and dropping the
# caches, and e2fsck is clean.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

OFFCPU=$BUILD/benchtools/fi-offcpu
[ -x "$OFFCPU" ] || fail "$OFFCPU not built"
ext4_beside_kernel 512M --bpf
bdi=/sys/class/bdi/$(mountpoint -d "$T_TMP/mnt")
expect_eq "$bdi/strict_limit" "$(cat "$bdi/strict_limit")" 0
expect_eq "$bdi/max_ratio" "$(cat "$bdi/max_ratio")" 100
head -c $((128 << 20)) /dev/urandom > "$T_TMP/data"

# throttled DIR: µs the writer slept in balance_dirty_pages.
throttled() {
	sync
	"$OFFCPU" -t 1000 -- dd if="$T_TMP/data" of="$1/f" bs=1M status=none > "$T_TMP/run.json" \
		2> "$T_TMP/run.err" || fail "fi-offcpu: $(tail -n1 "$T_TMP/run.err")"
	python3 - "$T_TMP/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["exit"]:
    sys.exit("dd exited with %d" % r["exit"])
print(int(sum(s["us"] for s in r["stacks"] if "balance_dirty_pages" in s["frames"])))
PY
}
ref=$(throttled "$T_TMP/ref")
got=$(throttled "$T_TMP/mnt")
log "slept in balance_dirty_pages: ext4 $ref us, ours $got us"
expect_eq "kernel ext4's writer: µs in balance_dirty_pages" "$ref" 0
expect_eq "our writer: µs in balance_dirty_pages" "$got" 0
sync
drop_caches
cmp "$T_TMP/data" "$T_TMP/mnt/f" || fail "the bytes read back differ"
stop_server "$T_TMP/mnt" "$SERVER_PID"
e2fsck -fn "$T_TMP/ours.img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck: $(grep -v '^Pass\|^e2fsck' "$T_TMP/fsck.out" | head -n2)"
