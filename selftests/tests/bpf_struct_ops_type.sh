#!/bin/bash
# fuse_iomap.ko registers the struct_ops type fuse_bpf_ops from its own
# BTF: the type and its value type are in /sys/kernel/btf/fuse_iomap, an
# object with a .struct_ops.link map of that type loads and attaches to an
# iomap mount (a struct_ops map and link appear, the connection shows the
# ops' name), and while it exists the module cannot be removed.
# TIMEOUT: 60
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

blockfs_setup
"$BPFTOOL" btf dump file /sys/kernel/btf/fuse_iomap > "$T_TMP/btf" || fail "no module BTF"
grep -q "STRUCT 'fuse_bpf_ops' size=" "$T_TMP/btf" || fail "struct fuse_bpf_ops not in the module's BTF"
grep -q "STRUCT 'bpf_struct_ops_fuse_bpf_ops' size=" "$T_TMP/btf" || fail "no struct_ops value type in the module's BTF"

attach "$mnt" "$TESTBPF/no_answer.bpf.o"
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" no_answer
"$BPFTOOL" map show > "$T_TMP/maps"
grep -q "struct_ops  name no_answer" "$T_TMP/maps" || fail "no struct_ops map no_answer: $(cat "$T_TMP/maps")"
"$BPFTOOL" link show > "$T_TMP/links"
grep -q "struct_ops" "$T_TMP/links" || fail "no struct_ops link: $(cat "$T_TMP/links")"
stop_server "$mnt" "$SERVER_PID"
umount "$FI_CTL" || fail "can't unmount $FI_CTL"
! rmmod fuse_iomap 2> "$T_TMP/rmmod.err" || fail "rmmod succeeded while a fuse_bpf_ops map exists"
grep -q "in use" "$T_TMP/rmmod.err" || fail "rmmod: want 'in use', got: $(cat "$T_TMP/rmmod.err")"
rm -f /sys/fs/bpf/fuse-iomap-*
wait_for 30 eval '! grep -q "^fuse_iomap " /proc/modules || rmmod fuse_iomap 2>/dev/null' ||
	fail "rmmod still fails after the link is gone"
