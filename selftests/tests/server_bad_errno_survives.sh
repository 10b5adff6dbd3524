#!/bin/bash
# A server's FUSE_IOMAP_BEGIN callback that breaks the errno convention
# (0 or a negative errno above -512) is a server bug: the I/O it answers
# fails with EIO, the server says so in one line naming itself, and it
# keeps serving (the next I/O and a plain stat still work).  A valid
# negative errno reaches the caller as it is.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
make_dev 16
mnt=$T_TMP/mnt

# read_gets NAME WANT: an O_DIRECT read of f fails with the error WANT.
read_gets() {
	local out rc=0
	out=$(dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct 2>&1) || rc=$?
	[ $rc != 0 ] || fail "$1: the read succeeded"
	grep -q "$2" <<<"$out" || fail "$1: want '$2', got: $out"
}

for ret in 5 22 -512 70000 -2147483648; do
	start_server "$mnt" "$T_TMP/$ret.out" "$CRAFT" --begin-returns "$ret" "$dev" "$mnt"
	read_gets "BEGIN returning $ret" "Input/output error"
	read_gets "BEGIN returning $ret, again" "Input/output error"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "BEGIN returning $ret: the server exited: $(tail -n1 "$T_TMP/$ret.out")"
	expect_eq "BEGIN returning $ret: size of f" "$(stat -c %s "$mnt/f")" $((1 << 20))
	grep -q "^fuse-iomap-craft: FUSE_IOMAP_BEGIN callback returned $ret.*EIO" "$T_TMP/$ret.out" ||
		fail "BEGIN returning $ret: no line from the server saying so: $(cat "$T_TMP/$ret.out")"
	stop_server "$mnt" "$SERVER_PID"
done

start_server "$mnt" "$T_TMP/enodata.out" "$CRAFT" --begin-returns -61 "$dev" "$mnt"
read_gets "BEGIN returning ENODATA" "No data available"
stop_server "$mnt" "$SERVER_PID"
