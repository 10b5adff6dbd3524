#!/bin/bash
# Two iomap mounts, one fuse_bpf_ops each: each program sees only its own
# connection's mappings (the other's counters do not move), a second attach
# to a connection fails with EBUSY and a message, an attach to a connection
# that does not exist fails with ENODEV, and detaching one leaves the other.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
mnt1=$mnt dev1=$dev
make_dev 64
mnt2=$T_TMP/mnt2
start_server "$mnt2" "$T_TMP/blockfs2.out" "$BLOCKFS" -l "$T_TMP/blockfs2.log" "$dev" "$mnt2"
[ "$(stat -c %d "$mnt1")" != "$(stat -c %d "$mnt2")" ] || fail "two mounts, one connection id"
for m in "$mnt1" "$mnt2"; do
	dd if=/dev/urandom of="$m/f" bs=64k count=8 status=none || fail "write to $m failed"
done
sync

attach "$mnt1" "$TESTBPF/no_answer.bpf.o"
echo 3 > /proc/sys/vm/drop_caches
cat "$mnt2/f" > /dev/null
expect_eq "mount 1 fallbacks after reading mount 2" "$(counter "$mnt1" bpf_fallbacks)" 0
expect_eq "mount 2 fallbacks without ops" "$(counter "$mnt2" bpf_fallbacks)" 0
cat "$mnt1/f" > /dev/null
[ "$(counter "$mnt1" bpf_fallbacks)" -gt 0 ] || fail "mount 1's program was not asked"

attach "$mnt2" "$TESTBPF/no_answer.bpf.o"
before1=$(counter "$mnt1" bpf_fallbacks)
echo 3 > /proc/sys/vm/drop_caches
cat "$mnt2/f" > /dev/null
[ "$(counter "$mnt2" bpf_fallbacks)" -gt 0 ] || fail "mount 2's program was not asked"
expect_eq "mount 1 fallbacks after reading mount 2" "$(counter "$mnt1" bpf_fallbacks)" "$before1"

rc=0
"$LOADER" attach "$mnt1" "$TESTBPF/no_answer.bpf.o" > "$T_TMP/busy" 2>&1 || rc=$?
expect_eq "second attach exit status" "$rc" 1
grep -q "Device or resource busy" "$T_TMP/busy" || fail "second attach: want EBUSY, got: $(tail -n1 "$T_TMP/busy")"
dmesg | grep -q "conn $(stat -c %d "$mnt1"): fuse_bpf_ops 'no_answer' refused" ||
	fail "no kernel message for the refused second attach"

# bpftool registers the object as compiled: conn_id 0, no such connection.
mkdir -p /sys/fs/bpf/fi-test
defer "rm -rf /sys/fs/bpf/fi-test"
! "$BPFTOOL" struct_ops register "$TESTBPF/no_answer.bpf.o" /sys/fs/bpf/fi-test > "$T_TMP/nodev" 2>&1 ||
	fail "attaching to connection 0 succeeded"
dmesg | grep -q "fuse_bpf_ops 'no_answer' refused: no iomap connection 0" ||
	fail "no kernel message for the unknown connection: $(tail -n2 "$T_TMP/nodev")"

"$LOADER" detach "$mnt1" > /dev/null || fail "detach from mount 1 failed"
expect_eq "mount 1 ops after detach" "$(counter "$mnt1" bpf_ops)" ""
expect_eq "mount 2 ops after detaching mount 1's" "$(counter "$mnt2" bpf_ops)" no_answer
