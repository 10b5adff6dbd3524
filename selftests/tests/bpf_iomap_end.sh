#!/bin/bash
# The optional iomap_end member: a program that sets it is told of every
# mapping that asked for FUSE_IOMAP_END, with the bytes written, before the
# END upcall, which the server still gets.  blockfs --out-of-place: in
# place it asks for ioends, not ENDs.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup --out-of-place
attach "$mnt" "$TESTBPF/end_counter.bpf.o"
ends=$(counter "$mnt" iomap_end_upcalls)
dd if=/dev/urandom of="$mnt/f" bs=64k count=8 oflag=direct status=none || fail "write failed"
id=$("$BPFTOOL" map show | awk '$3 == "name" && $4 == "ends" { sub(":", "", $1); print $1; exit }')
"$BPFTOOL" -j map dump id "$id" > "$T_TMP/ends" || fail "can't dump the program's map"
read -r calls bytes < <(python3 -c 'import json, sys; d = {e["formatted"]["key"]: e["formatted"]["value"] for e in json.load(open(sys.argv[1]))}; print(d[0], d[1])' "$T_TMP/ends")
upcalls=$(($(counter "$mnt" iomap_end_upcalls) - ends))
[ "$upcalls" -gt 0 ] || fail "no END upcall for the writes"
expect_eq "iomap_end calls vs END upcalls" "$calls" "$upcalls"
expect_eq "bytes iomap_end was told of" "$bytes" $((8 * 65536))
