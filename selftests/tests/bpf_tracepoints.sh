#!/bin/bash
# fuse_iomap:fuse_iomap_bpf_begin reports every question put to the BPF
# tier with the connection, node, range and outcome: "no answer" (then an
# upcall event follows), "answer" (then the accepted or rejected event),
# and "error" with the value returned.  Fields are primitive.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
T=/sys/kernel/tracing
e=$T/events/fuse_iomap/fuse_iomap_bpf_begin
[ -d "$e" ] || fail "no tracepoint fuse_iomap:fuse_iomap_bpf_begin"
! grep -q 'char\[\]\|__data_loc' "$e/format" || fail "fuse_iomap_bpf_begin has a non-primitive field"
conn=$(stat -c %d "$mnt")
head -c $((16 * 4096)) /dev/urandom > "$mnt/f" && sync
nodeid=$(awk '/^BEGIN/ { print $2; exit }' "$T_TMP/blockfs.log")

defer "echo 0 > $T/events/fuse_iomap/enable; echo > $T/trace"
echo > $T/trace
echo 1 > $T/events/fuse_iomap/enable
attach "$mnt" "$TESTBPF/bad_output.bpf.o"
rd() { dd if="$mnt/f" of=/dev/null bs=4096 skip="$1" count=1 iflag=direct status=none 2>/dev/null || true; }
rd 0		# no answer: upcall
rd 1		# answer, rejected (type)
rd 12		# error
echo 0 > $T/events/fuse_iomap/enable
cp $T/trace "$T_TMP/trace"

grep -q "fuse_iomap_bpf_begin: conn $conn nodeid $nodeid pos 0 count 4096 opflags 0x10 no answer (1)" "$T_TMP/trace" ||
	fail "no 'no answer' event: $(grep bpf_begin "$T_TMP/trace" | head -1)"
grep -A3 "bpf_begin: conn $conn nodeid $nodeid pos 0 " "$T_TMP/trace" | grep -q "fuse_iomap_upcall_begin: conn $conn nodeid $nodeid .* pos 0 " ||
	fail "no upcall after 'no answer'"
grep -q "fuse_iomap_bpf_begin: conn $conn nodeid $nodeid pos 4096 count 4096 opflags 0x10 answer (0)" "$T_TMP/trace" ||
	fail "no 'answer' event"
grep -q "fuse_iomap_mapping_rejected: conn $conn .* rule type " "$T_TMP/trace" || fail "no rejected event for the BPF answer"
grep -q "fuse_iomap_bpf_begin: conn $conn nodeid $nodeid pos 49152 count 4096 opflags 0x10 error (12345)" "$T_TMP/trace" ||
	fail "no 'error' event"
