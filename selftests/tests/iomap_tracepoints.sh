#!/bin/bash
# The fuse_iomap trace system reports each decision: an upcall sent, a
# mapping accepted, a mapping rejected with its rule; the events carry the
# connection id (st_dev of the mount) and primitive fields only.  blockfs
# runs --out-of-place: in place it asks for ioends, not ENDs.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

fi_load
T=/sys/kernel/tracing
[ -d $T/events/fuse_iomap ] || fail "no fuse_iomap trace system in $T/events"
for e in fuse_iomap_upcall_begin fuse_iomap_upcall_end fuse_iomap_mapping_accepted fuse_iomap_mapping_rejected; do
	[ -d $T/events/fuse_iomap/$e ] || fail "no tracepoint fuse_iomap:$e"
	! grep -q 'char\[\]\|__data_loc' $T/events/fuse_iomap/$e/format || fail "$e has a non-primitive field"
done
defer "echo 0 > $T/events/fuse_iomap/enable; echo > $T/trace"
echo > $T/trace
echo 1 > $T/events/fuse_iomap/enable

make_dev 16
mnt=$T_TMP/mnt
start_blockfs "$mnt" "$dev" --out-of-place
conn=$(stat -c %d "$mnt")
head -c 8192 /dev/urandom > "$mnt/f"
sync
drop_caches
cat "$mnt/f" > /dev/null
stop_server "$mnt" "$SERVER_PID"
start_server "$mnt" "$T_TMP/craft.out" "$CRAFT" -r "mapped,0,4096,4097,reg" "$dev" "$mnt"
conn2=$(stat -c %d "$mnt")
dd if="$mnt/f" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null && fail "a misaligned mapping was used"
stop_server "$mnt" "$SERVER_PID"
echo 0 > $T/events/fuse_iomap/enable
cp $T/trace "$T_TMP/trace"

grep -q "fuse_iomap_upcall_begin: conn $conn nodeid [0-9]* ino [0-9]* pos 0 " "$T_TMP/trace" || fail "no upcall_begin event for conn $conn"
grep -q "fuse_iomap_upcall_end: conn $conn " "$T_TMP/trace" || fail "no upcall_end event for conn $conn"
grep -q "fuse_iomap_mapping_accepted: conn $conn .* rule ok .* type 2 " "$T_TMP/trace" || fail "no mapping_accepted event for a MAPPED extent"
grep -q "fuse_iomap_mapping_rejected: conn $conn2 .* read rule align offset 0 length 4096 addr 0x1001 " "$T_TMP/trace" ||
	fail "no mapping_rejected event naming rule align: $(grep rejected "$T_TMP/trace" | head -1)"
