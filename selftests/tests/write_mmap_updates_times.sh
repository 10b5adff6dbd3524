#!/bin/bash
# A store through a shared mmap into an existing file, then msync: mtime
# and ctime advance, on fuse-iomap-ext4 as on the kernel's ext4 running
# the same steps on a copy of the image (page_mkwrite takes the time, as
# ext4's does).  They stay so after munmap, and after the server is
# stopped and started again the image holds them: the server reports the
# very times stat showed, and the stored bytes.
# TIMEOUT: 120
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ext4_load
mkdir -p "$T_TMP/src"
head -c $((1 << 20)) /dev/urandom > "$T_TMP/src/f"
mke2fs -q -F -t ext4 -b 4096 -d "$T_TMP/src" "$T_TMP/img" 64M || fail "mke2fs failed"
cp "$T_TMP/img" "$T_TMP/kimg"
ours=$T_TMP/ours kern=$T_TMP/kern
mkdir -p "$kern"
mount -o loop "$T_TMP/kimg" "$kern" || fail "kernel ext4 can't mount the image"
defer "umount '$kern' 2>/dev/null"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "$T_TMP/img" "$ours"

# store DIR: prints "mtime ctime" before, after msync, after munmap.
store() {
	python3 - "$1/f" <<'PY'
import mmap, os, sys, time
path = sys.argv[1]
t = lambda: "%d %d" % (os.stat(path).st_mtime_ns, os.stat(path).st_ctime_ns)
before = t()
time.sleep(1.1)		# the times come from the coarse clock: let it move
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    m[5000:5008] = b"mmapped!"
    m[700000:700008] = b"mmapped!"
    m.flush()
    synced = t()
    m.close()
print(before, synced, t())
PY
}
read -r kb_m kb_c ks_m ks_c ku_m ku_c < <(store "$kern") || fail "mmap store on the kernel's ext4 failed"
read -r ob_m ob_c os_m os_c ou_m ou_c < <(store "$ours") || fail "mmap store on ours failed"
[ "$ks_m" -gt "$kb_m" ] && [ "$ks_c" -gt "$kb_c" ] ||
	fail "reference broken: the kernel's ext4 did not advance mtime/ctime ($kb_m $kb_c -> $ks_m $ks_c)"
[ "$os_m" -gt "$ob_m" ] || fail "mtime did not advance after msync: $ob_m -> $os_m"
[ "$os_c" -gt "$ob_c" ] || fail "ctime did not advance after msync: $ob_c -> $os_c"
expect_eq "mtime after munmap" "$ou_m" "$os_m"
expect_eq "ctime after munmap" "$ou_c" "$os_c"
cmp "$ours/f" "$kern/f" || fail "the stored bytes differ from the kernel's ext4"

stop_server "$ours" "$SERVER_PID"
start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "$T_TMP/img" "$ours"
expect_eq "mtime after a remount" "$(stat -c %.9Y "$ours/f" | tr -d .)" "$os_m"
expect_eq "ctime after a remount" "$(stat -c %.9Z "$ours/f" | tr -d .)" "$os_c"
cmp "$ours/f" "$kern/f" || fail "after a remount, the bytes differ from the kernel's ext4"
stop_server "$ours" "$SERVER_PID"
