#!/bin/bash
# The mount helper as make install installs it, in the guest's /sbin:
# 'mount -T FSTAB MNT' of the line "IMAGE MNT fuseiomap.ext4 bpf,ro 0 0"
# mounts, shows in findmnt, serves the image's bytes with extent_map
# attached (warm O_DIRECT reads make no upcall), runs the server in a
# session of its own with its output in /run/fuse-iomap; umount ends the
# server and e2fsck -fn is clean.  'mount -t fuseiomap.ext4 IMAGE MNT -o
# bpf,ro' works too; a line without ro mounts read-write and what it
# writes the kernel's ext4 reads back after umount.  fuseiomap.blockfs
# mounts a device through its helper and keeps a file across two mounts
# (meta=).  An unknown option and a missing image fail the mount with the
# reason.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

fi_load
modprobe loop
modprobe ext4
modprobe overlay

# make install, into a DESTDIR: the helpers as installed (version and
# servers' directory filled in), the servers beside them.
root=$T_TMP/root
make -C "$REPO" -s install DESTDIR="$root" PREFIX=/usr/local > "$T_TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -n1 "$T_TMP/install.log")"
export FUSE_IOMAP_BINDIR=$root/usr/local/bin

# mount(8) runs helpers from /sbin only, read-only here (the host's root):
# an overlay on it takes ours.
sbin=$(realpath /sbin)
mkdir -p "$T_TMP/sbin.up" "$T_TMP/sbin.work"
mount -t overlay overlay -o "lowerdir=$sbin,upperdir=$T_TMP/sbin.up,workdir=$T_TMP/sbin.work" "$sbin" ||
	fail "can't mount an overlay on $sbin"
defer "umount -l '$sbin'"
cp -a "$root/sbin/mount.fuseiomap.ext4" "$root/sbin/mount.fuseiomap.blockfs" "$sbin/" ||
	fail "can't put the helpers in $sbin"
expect_eq "installed helper's --version" "$(/sbin/mount.fuseiomap.ext4 --version)" \
	"mount.fuseiomap.ext4 $(cat "$REPO/VERSION")"

# An image with known files.
src=$T_TMP/src img=$T_TMP/img mnt=$T_TMP/mnt kern=$T_TMP/kern
mkdir -p "$src/dir" "$mnt" "$kern"
echo "hello from fuseiomap.ext4" > "$src/hello.txt"
head -c $((3 << 20)) /dev/urandom > "$src/dir/blob"
mke2fs -q -F -t ext4 -b 4096 -d "$src" "$img" 64M || fail "mke2fs -d failed"
log=/run/fuse-iomap/ext4-$(printf '%s' "${mnt#/}" | tr / _).log

# server_of MNT: the pid the helper reported (mount -v passes -v on).
server_of() { sed -n "s|.*mounted on $1 by server \([0-9]*\) .*|\1|p" "$T_TMP/mount.out" | tail -n1; }
# exited PID: gone, or a zombie nobody reaps yet.
exited() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$st" ] || [ "$st" = Z ]
}
# unmount_check MNT PID: umount ends the server, and the image is clean.
unmount_check() {
	umount "$1" || fail "can't unmount $1"
	wait_for 40 exited "$2" || fail "server $2 still running 40s after umount $1"
	e2fsck -fn "$img" > "$T_TMP/fsck.out" 2>&1 ||
		fail "e2fsck -fn after umount: $(grep -v '^Pass\|^e2fsck\|^$' "$T_TMP/fsck.out" | head -3 | xargs)"
}

# --- the fstab line, bpf,ro ----------------------------------------------------
echo "$img $mnt fuseiomap.ext4 bpf,ro 0 0" > "$T_TMP/fstab"
mount -v -T "$T_TMP/fstab" "$mnt" > "$T_TMP/mount.out" 2>&1 ||
	fail "mount -T fstab failed: $(tail -n3 "$T_TMP/mount.out" | xargs)"
defer "umount -l '$mnt' 2>/dev/null"
pid=$(server_of "$mnt")
[ -n "$pid" ] || fail "the helper did not report the server: $(cat "$T_TMP/mount.out")"
defer "kill -9 $pid 2>/dev/null"

expect_eq "findmnt FSTYPE" "$(findmnt -n -o FSTYPE "$mnt")" fuseiomap.ext4
expect_eq "findmnt SOURCE" "$(findmnt -n -o SOURCE "$mnt")" "$img"
findmnt -n -o OPTIONS "$mnt" | grep -qw ro || fail "not mounted ro: $(findmnt -n -o OPTIONS "$mnt")"
cmp "$src/hello.txt" "$mnt/hello.txt" || fail "hello.txt differs through the mount"
expect_eq "ps of the server" "$(ps -o comm= -p "$pid")" fuse-iomap-ext4
expect_eq "the server's session" "$(ps -o sid= -p "$pid" | tr -d ' ')" "$pid"
expect_eq "the server's stdin" "$(readlink "/proc/$pid/fd/0")" /dev/null
expect_eq "the server's stderr" "$(readlink "/proc/$pid/fd/2")" "$log"
grep -q "^=== .*fuse-iomap-ext4 --bpf --read-only $img $mnt\$" "$log" ||
	fail "no start line in $log: $(head -n1 "$log")"

# BPF: attached, and warm O_DIRECT reads are answered in the kernel.
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
"$LOADER" show "$mnt" | grep -q "ops extent_map link" || fail "fuse-iomap-bpf show: no extent_map on $mnt"
dd if="$mnt/dir/blob" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "warm-up read failed"
begins=$(counter "$mnt" iomap_begin_upcalls)
drop_caches
dd if="$mnt/dir/blob" of="$T_TMP/blob.read" bs=1M iflag=direct status=none || fail "O_DIRECT read failed"
cmp "$src/dir/blob" "$T_TMP/blob.read" || fail "O_DIRECT bytes of dir/blob differ"
expect_eq "upcalls for warm O_DIRECT reads" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
[ "$(counter "$mnt" bpf_hits)" -gt 0 ] || fail "no BPF answers"
unmount_check "$mnt" "$pid"

# --- mount -t, the same options --------------------------------------------------
mount -v -t fuseiomap.ext4 "$img" "$mnt" -o bpf,ro > "$T_TMP/mount.out" 2>&1 ||
	fail "mount -t fuseiomap.ext4 failed: $(tail -n3 "$T_TMP/mount.out" | xargs)"
pid=$(server_of "$mnt")
[ -n "$pid" ] || fail "the helper did not report the server: $(cat "$T_TMP/mount.out")"
defer "kill -9 $pid 2>/dev/null"
expect_eq "findmnt FSTYPE after mount -t" "$(findmnt -n -o FSTYPE "$mnt")" fuseiomap.ext4
cmp "$src/dir/blob" "$mnt/dir/blob" || fail "dir/blob differs through mount -t"
unmount_check "$mnt" "$pid"

# --- read-write: written through us, read back by the kernel's ext4 ----------------
echo "$img $mnt fuseiomap.ext4 bpf 0 0" > "$T_TMP/fstab.rw"
mount -v -T "$T_TMP/fstab.rw" "$mnt" > "$T_TMP/mount.out" 2>&1 ||
	fail "mount -T fstab (rw) failed: $(tail -n3 "$T_TMP/mount.out" | xargs)"
pid=$(server_of "$mnt")
[ -n "$pid" ] || fail "the helper did not report the server: $(cat "$T_TMP/mount.out")"
defer "kill -9 $pid 2>/dev/null"
findmnt -n -o OPTIONS "$mnt" | grep -qw rw || fail "not mounted rw: $(findmnt -n -o OPTIONS "$mnt")"
head -c $((1 << 20)) /dev/urandom > "$T_TMP/new"
cp "$T_TMP/new" "$mnt/dir/new" || fail "can't write dir/new"
echo "written through the fstab mount" > "$mnt/note.txt" || fail "can't write note.txt"
unmount_check "$mnt" "$pid"
mount -o ro,loop "$img" "$kern" || fail "kernel ext4 can't mount the image we wrote"
defer "umount '$kern' 2>/dev/null"
cmp "$T_TMP/new" "$kern/dir/new" || fail "the kernel's ext4 reads other bytes in dir/new"
expect_eq "note.txt by the kernel's ext4" "$(cat "$kern/note.txt")" "written through the fstab mount"
cmp "$src/dir/blob" "$kern/dir/blob" || fail "dir/blob changed"
umount "$kern"

# --- fuseiomap.blockfs: a device, its metadata kept in meta= -----------------------
make_dev 64
for round in 1 2; do
	mount -v -t fuseiomap.blockfs "$dev" "$mnt" -o "bpf,meta=$T_TMP/blockfs.meta,block_size=4096" \
		> "$T_TMP/mount.out" 2>&1 || fail "mount -t fuseiomap.blockfs #$round failed: $(tail -n3 "$T_TMP/mount.out" | xargs)"
	pid=$(server_of "$mnt")
	[ -n "$pid" ] || fail "the blockfs helper did not report the server: $(cat "$T_TMP/mount.out")"
	defer "kill -9 $pid 2>/dev/null"
	expect_eq "findmnt FSTYPE of blockfs" "$(findmnt -n -o FSTYPE "$mnt")" fuseiomap.blockfs
	expect_eq "attached ops on blockfs" "$(counter "$mnt" bpf_ops)" extent_map
	if [ $round = 1 ]; then
		cp "$T_TMP/new" "$mnt/kept" || fail "can't write to blockfs"
	else
		cmp "$T_TMP/new" "$mnt/kept" || fail "blockfs lost the file written in the first mount"
	fi
	umount "$mnt" || fail "can't unmount blockfs #$round"
	wait_for 40 exited "$pid" || fail "blockfs server $pid still running 40s after umount"
done

# --- failures say why ------------------------------------------------------------
rc=0
mount -t fuseiomap.ext4 "$img" "$mnt" -o bpf,bogus > "$T_TMP/err" 2>&1 || rc=$?
[ $rc != 0 ] || fail "mount with an unknown option succeeded"
grep -q "unknown option 'bogus'" "$T_TMP/err" || fail "no clear error for an unknown option: $(cat "$T_TMP/err")"
rc=0
mount -t fuseiomap.ext4 "$T_TMP/missing.img" "$mnt" -o ro > "$T_TMP/err" 2>&1 || rc=$?
[ $rc != 0 ] || fail "mount of a missing image succeeded"
grep -q "fuse-iomap-ext4: can't open $T_TMP/missing.img" "$T_TMP/err" ||
	fail "the server's error did not reach mount's caller: $(cat "$T_TMP/err")"
! is_mounted "$mnt" || fail "$mnt mounted after a failed mount"
