#!/bin/bash
# Who may steer a connection's mappings from BPF: an unprivileged user can
# neither load nor attach a fuse_bpf_ops (loader and bpftool both refused);
# root's ops for a connection that does not exist are refused (ENODEV);
# and two servers cannot answer for each other: a connection that has ops
# refuses a second (EBUSY, the first stays), and ops attached to one
# connection never see another's I/O.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

# nobody; and root without any capability (who may still stat the mount,
# which is not mounted allow_other).
unpriv() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"; }
nocaps() { setpriv --inh-caps=-all --bounding-set=-all -- "$@"; }

fi_load
make_dev 64
devA=$dev
make_dev 64
devB=$dev
mntA=$T_TMP/a mntB=$T_TMP/b
start_server "$mntA" "$T_TMP/a.out" "$BLOCKFS" --bpf "$devA" "$mntA"
pidA=$SERVER_PID
start_server "$mntB" "$T_TMP/b.out" "$BLOCKFS" "$devB" "$mntB"
pidB=$SERVER_PID
expect_eq "A's ops (its server's)" "$(counter "$mntA" bpf_ops)" extent_map
chmod 0755 "$T_TMP"

# Unprivileged: nothing loads, nothing attaches.
out=$(nocaps "$LOADER" attach "$mntB" "$TESTBPF/no_answer.bpf.o" 2>&1) &&
	fail "root without capabilities attached ops: $out"
grep -q 'Operation not permitted' <<<"$out" || fail "loader without capabilities: want EPERM, got: $out"
for who in unpriv nocaps; do
	out=$($who "$BPFTOOL" struct_ops register "$TESTBPF/no_answer.bpf.o" 2>&1) &&
		fail "$who: bpftool registered ops: $out"
done
expect_eq "B's ops after the unprivileged attempts" "$(counter "$mntB" bpf_ops)" ""
log "unprivileged: refused ($(tail -n1 <<<"$out"))"

# Root, but no such connection: the ops name connection 0.
out=$("$BPFTOOL" struct_ops register "$TESTBPF/no_answer.bpf.o" 2>&1) &&
	fail "ops for a connection that does not exist were attached: $out"
grep -q 'No such device' <<<"$out" || fail "attach to no connection: want ENODEV, got: $out"
dmesg | grep -q "fuse_bpf_ops 'no_answer' refused: no iomap connection 0" ||
	fail "no kernel message for the attach to a missing connection"

# A's server holds A: a second ops is refused and A's stays.
out=$("$LOADER" attach "$mntA" "$TESTBPF/no_answer.bpf.o" 2>&1) &&
	fail "a second ops was attached to A: $out"
grep -q 'Device or resource busy' <<<"$out" || fail "second attach to A: want EBUSY, got: $out"
expect_eq "A's ops after the refused attach" "$(counter "$mntA" bpf_ops)" extent_map

# B gets its own; each connection's I/O goes to its own ops only.
attach "$mntB" "$TESTBPF/no_answer.bpf.o"
dd if=/dev/urandom of="$mntA/f" bs=64k count=4 conv=fsync status=none
dd if=/dev/urandom of="$mntB/f" bs=64k count=4 conv=fsync status=none
dd if="$mntA/f" of=/dev/null bs=64k iflag=direct status=none
a_hits=$(counter "$mntA" bpf_hits) a_fb=$(counter "$mntA" bpf_fallbacks)
b_hits=$(counter "$mntB" bpf_hits) b_fb=$(counter "$mntB" bpf_fallbacks)
for i in 1 2 3; do
	dd if="$mntB/f" of=/dev/null bs=64k iflag=direct status=none
done
expect_eq "A's BPF calls while B is read" \
	"$(counter "$mntA" bpf_hits) $(counter "$mntA" bpf_fallbacks)" "$a_hits $a_fb"
[ "$(counter "$mntB" bpf_fallbacks)" -gt "$b_fb" ] || fail "B's own ops did not see B's reads"
expect_eq "B's hits (no_answer never answers)" "$(counter "$mntB" bpf_hits)" "$b_hits"
b_fb=$(counter "$mntB" bpf_fallbacks)
for i in 1 2 3; do
	dd if="$mntA/f" of=/dev/null bs=64k iflag=direct status=none
done
expect_eq "B's BPF calls while A is read" "$(counter "$mntB" bpf_fallbacks)" "$b_fb"
[ "$(counter "$mntA" bpf_hits)" -gt "$a_hits" ] || fail "A's ops did not answer A's reads"
stop_server "$mntA" "$pidA"
stop_server "$mntB" "$pidB"
