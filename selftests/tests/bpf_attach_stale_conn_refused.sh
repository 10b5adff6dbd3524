#!/bin/bash
# Ops loaded for a mount that is gone do not attach to a new mount that got
# the same st_dev (the kernel reuses it): attaching them by map:ID fails with
# ENODEV and says why, and the new mount's counters show no BPF answer.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup --bpf
map=$("$LOADER" show "$mnt" | sed -n 's/^  ops extent_map link [0-9]* map \([0-9]*\)$/\1/p')
[ -n "$map" ] || fail "no extent_map attached to $mnt: $("$LOADER" show "$mnt")"
# Keep the server's ops (and their maps) after it exits.
"$BPFTOOL" map pin id "$map" /sys/fs/bpf/fi-test-stale || fail "can't pin map $map"
defer "rm -f /sys/fs/bpf/fi-test-stale"
id=$(stat -c %d "$mnt") gen=$(cat "$(conn_dir "$mnt")/generation")
stop_server "$mnt" "$SERVER_PID"

# A new mount: the kernel hands out the lowest free st_dev, which is the old one.
start_blockfs "$mnt" "$dev"
expect_eq "st_dev of the new mount" "$(stat -c %d "$mnt")" "$id"
newgen=$(cat "$(conn_dir "$mnt")/generation")
[ "$newgen" != "$gen" ] || fail "the new mount has the old mount's generation $gen"

rc=0
"$LOADER" attach "$mnt" "map:$map" > "$T_TMP/out" 2>&1 || rc=$?
expect_eq "loader exit status" "$rc" 1
grep -q "No such device: it was loaded for an earlier mount" "$T_TMP/out" ||
	fail "want ENODEV and why: $(tail -n1 "$T_TMP/out")"
dmesg | grep -q "no iomap connection $id generation $gen" ||
	fail "no kernel message naming the stale connection: $(dmesg | tail -n1)"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" ""

head -c $((1 << 20)) /dev/urandom > "$mnt/f"
sync
drop_caches
cmp -s "$mnt/f" <(head -c $((1 << 20)) "$mnt/f") || fail "reading $mnt/f failed"
dd if="$mnt/f" of=/dev/null bs=4096 iflag=direct status=none || fail "O_DIRECT read failed"
expect_eq "BPF answers on the new mount" "$(counter "$mnt" bpf_hits)" 0
[ "$(counter "$mnt" iomap_begin_upcalls)" -gt 0 ] || fail "the new mount's reads made no upcall"
