#!/bin/bash
# Parallel O_DIRECT overwriters of one file do not queue behind each other
# on i_rwsem: an aligned one-block overwrite of a written block inside
# i_size takes it shared, as on the kernel's ext4.  Four writers of 512
# random 4 KiB overwrites each, in their own quarter of a 16 MiB file,
# under fi-offcpu: the time they sleep in rwsem_down_write_slowpath from a
# write is 0 on the kernel's ext4 and on ours (before: the writers waited
# there while another's write went to the device).  The bytes are what
# the writes say, after dropping the caches.  On ours the BPF tier answers
# them all, with no upcall: the file's list, gone after its ioends, is back
# after the first overwrite's upcall (one dd before the writers).  Then the same writers over a
# file whose quarters are written, written, fallocated and a hole: writes
# that are not pure overwrites are turned back and retried with i_rwsem
# exclusive, and the bytes are right too.  e2fsck is clean.
# TIMEOUT: 240
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

OFFCPU=$BUILD/benchtools/fi-offcpu
WRITERS="python3 $REPO/selftests/lib/overwriters.py"
[ -x "$OFFCPU" ] || fail "$OFFCPU not built"
ext4_beside_kernel 256M --bpf
head -c $((16 << 20)) /dev/urandom > "$T_TMP/data"

# check_bytes FILE: FILE holds what overwriters.py said it must.
check_bytes() {
	drop_caches
	expect_eq "sha256 of $1 after the writes" "$(sha256sum < "$1" | cut -d' ' -f1)" "$(cat "$T_TMP/want")"
}

# queued DIR [CONN]: µs that four overwriters of DIR/f slept on i_rwsem taken for write.
queued() {
	cp "$T_TMP/data" "$1/f" && sync
	cat "$1/f" > /dev/null
	dd if="$T_TMP/data" of="$1/f" bs=4k count=1 conv=notrunc oflag=direct status=none
	[ -z "${2-}" ] || begins=$(cat "$2/iomap_begin_upcalls")
	"$OFFCPU" -t 1000 -- $WRITERS "$1/f" 4 512 s1 "$T_TMP/want" > "$T_TMP/run.json" \
		2> "$T_TMP/run.err" || fail "fi-offcpu: $(tail -n1 "$T_TMP/run.err")"
	[ -z "${2-}" ] || expect_eq "BEGIN upcalls of the overwriters" \
		"$(($(cat "$2/iomap_begin_upcalls") - begins))" 0
	check_bytes "$1/f"
	python3 - "$T_TMP/run.json" "$1/f" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["exit"]:
    sys.exit("the writers failed on %s (exit %d)" % (sys.argv[2], r["exit"]))
print(int(sum(s["us"] for s in r["stacks"] if "rwsem_down_write_slowpath" in s["frames"]
              and any(f.endswith("write_iter") for f in s["frames"]))))
PY
}
ref=$(queued "$T_TMP/ref")
got=$(queued "$T_TMP/mnt" "$(conn_dir "$T_TMP/mnt")")
log "µs asleep on i_rwsem for write: kernel ext4 $ref, ours $got"
expect_eq "kernel ext4's overwriters: µs asleep on i_rwsem for write" "$ref" 0
expect_eq "our overwriters: µs asleep on i_rwsem for write" "$got" 0

# Quarters: written, written, fallocated (unwritten), a hole.
g=$T_TMP/mnt/g
dd if="$T_TMP/data" of="$g" bs=1M count=8 status=none
fallocate -o $((8 << 20)) -l $((4 << 20)) "$g"
truncate -s $((16 << 20)) "$g"
sync
$WRITERS "$g" 4 256 s2 "$T_TMP/want" || fail "the writers failed on $g"
check_bytes "$g"
stop_server "$T_TMP/mnt" "$SERVER_PID"
ext4_fsck_clean "$T_TMP/ours.img"
