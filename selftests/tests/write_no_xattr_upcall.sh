#!/bin/bash
# A write asks the server nothing, not even for security.capability: a
# new file's first write, and buffered and O_DIRECT overwrites and appends
# after it, make no FUSE_GETXATTR (counted in fuse-iomap-ext4 -d's request
# trace), as the kernel's ext4 reads no xattr on a write.  Privileges are
# still removed as on the kernel's ext4, which runs the same steps as the
# reference: a setuid/setgid file (4777, then 2777 after a chmod) written
# by an unprivileged user loses those bits; root's write keeps them.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# The unprivileged writer must reach both mountpoints.
chmod 755 "$T_TMP" "$(dirname "$T_TMP")"
ext4_beside_kernel 64M -d --bpf

# Steps on MNT; prints the modes that the writes left.
steps() {
	local f=$1/f
	dd if=/dev/urandom of="$f" bs=4k count=1 conv=fsync status=none
	chmod 4777 "$f"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		dd if=/dev/urandom of="$f" bs=4k count=1 seek=1 conv=notrunc status=none ||
		fail "nobody can't write to a 4777 file on $1"
	stat -c %a "$f"
	chmod 2777 "$f"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		dd if=/dev/urandom of="$f" bs=4k count=1 seek=2 conv=notrunc status=none
	stat -c %a "$f"
	chmod 6777 "$f"
	dd if=/dev/urandom of="$f" bs=4k count=1 seek=3 conv=notrunc status=none
	stat -c %a "$f"
}
want=$(steps "$T_TMP/ref" | paste -sd' ')
got=$(steps "$T_TMP/mnt" | paste -sd' ')
expect_eq "modes after unprivileged, unprivileged and root writes (kernel ext4: $want)" "$got" "$want"

f=$T_TMP/mnt/g
before=$(srv_requests GETXATTR)
dd if=/dev/urandom of="$f" bs=4k count=1 conv=fsync status=none
dd if=/dev/urandom of="$f" bs=4k count=64 conv=notrunc status=none
dd if=/dev/urandom of="$f" bs=4k count=64 conv=notrunc,fsync oflag=direct status=none
dd if=/dev/urandom of="$f" bs=4k count=64 oflag=append conv=notrunc status=none
dd if=/dev/urandom of="$f" bs=4k count=64 seek=1000 conv=notrunc,fsync status=none
after=$(srv_requests GETXATTR)
expect_eq "GETXATTR upcalls made by a new file's 257 writes" $((after - before)) 0
stop_server "$T_TMP/mnt" "$SERVER_PID"
e2fsck -fn "$T_TMP/ours.img" > "$T_TMP/fsck.out" 2>&1 ||
	fail "e2fsck: $(grep -v '^Pass\|^e2fsck' "$T_TMP/fsck.out" | head -n2)"
log "modes $got as on the kernel's ext4; no GETXATTR in a new file's 257 writes"
