#!/bin/bash
# rmmod fuse_iomap while a connection is mounted, and while a fuse_bpf_ops
# is attached (its link pinned by the loader) after the unmount: refused
# each time (the kernel's "in use", EWOULDBLOCK: a module with references
# cannot go), and the mount goes on working; after umount and detach it
# succeeds.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

# try_rmmod WHY: rmmod must fail and leave the module loaded.
try_rmmod() {
	local out
	out=$(rmmod fuse_iomap 2>&1) && fail "rmmod succeeded $1"
	grep -q 'in use' <<<"$out" || fail "rmmod $1: want 'in use', got: $out"
	module_loaded fuse_iomap || fail "the module is gone $1"
	log "rmmod $1: $out"
}

blockfs_setup
echo data > "$mnt/f"
# Only the connection may hold the module: not the control file system.
umount "$FI_CTL" || fail "can't unmount $FI_CTL"
try_rmmod "with a mounted connection"
expect_eq "reading after the refused rmmod" "$(cat "$mnt/f")" data

"$LOADER" attach "$mnt" "$BUILD/bpf/extent_map.bpf.o" > "$T_TMP/attach.out" 2>&1 ||
	fail "can't attach: $(tail -n1 "$T_TMP/attach.out")"
conn=$(stat -c %d "$mnt")
try_rmmod "with a mounted connection and a program attached"
stop_server "$mnt" "$SERVER_PID"
[ -e "/sys/fs/bpf/fuse-iomap-$conn" ] || fail "the loader's pin is gone with the mount"
try_rmmod "with a program attached (pinned) after the unmount"

# The loader finds the link by connection id; the mount is gone, so by pin.
rm "/sys/fs/bpf/fuse-iomap-$conn"
fi_unload
fi_load
