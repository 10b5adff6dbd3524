#!/bin/bash
# ext4's largest file (4 KiB blocks: 2^32 - 1 blocks, 16 TiB - 4 KiB) is
# the mount's limit: through fuse-iomap-ext4, without and with --bpf, a
# write ending at its last byte works, a write straddling it is cut short
# there, and a write, truncate or fallocate past it is EFBIG; a truncate
# to exactly the limit works.  The same steps on a copy of the image under
# the kernel's ext4 give the same results and size, and the mount shows
# the limit (iomap_maxbytes).  The file's first blocks keep their bytes
# after drop_caches, the blocks before the limit read as the kernel's, and
# e2fsck -fn is clean (a block number past 32 bits was once cut to 32 and
# written over the file's first extent).
# TIMEOUT: 200
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

MAX=$((((1 << 32) - 1) << 12))	# ext4_max_size() for 4 KiB blocks, huge_file

# steps FILE: each step and its result (a byte count, "ok" or the errno name).
steps() {
	python3 - "$1" "$MAX" <<'PY'
import ctypes, errno, os, sys
path, mx = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

def step(name, fn):
    try:
        r = fn()
        print(name, "ok" if r is None else r)
    except OSError as e:
        print(name, errno.errorcode[e.errno])

def falloc(mode, off, n):
    if libc.fallocate(fd, mode, off, n) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

TIB16 = 1 << 44
step("pwrite A 64k @960k", lambda: os.pwrite(fd, b"A" * 65536, 960 << 10))
step("fsync", lambda: os.fsync(fd))
step("pwrite B 64k @16T+960k", lambda: os.pwrite(fd, b"B" * 65536, TIB16 + (960 << 10)))
step("pwrite B 4k @16T", lambda: os.pwrite(fd, b"B" * 4096, TIB16))
step("pwrite B 4k @max", lambda: os.pwrite(fd, b"B" * 4096, mx))
step("pwrite C 4k @max-4k", lambda: os.pwrite(fd, b"C" * 4096, mx - 4096))
step("pwrite D 8k @max-4k", lambda: os.pwrite(fd, b"D" * 8192, mx - 4096))
step("fsync", lambda: os.fsync(fd))
step("size", lambda: os.fstat(fd).st_size)
step("ftruncate max+1", lambda: os.ftruncate(fd, mx + 1))
step("ftruncate 16T+1M", lambda: os.ftruncate(fd, TIB16 + (1 << 20)))
step("fallocate 8k @max-4k", lambda: falloc(0, mx - 4096, 8192))
step("fallocate keep 4k @max", lambda: falloc(1, mx, 4096))
step("ftruncate max", lambda: os.ftruncate(fd, mx))
step("size", lambda: os.fstat(fd).st_size)
step("fallocate 8k @max-12k", lambda: falloc(0, mx - 12288, 8192))
step("size", lambda: os.fstat(fd).st_size)
step("fsync", lambda: os.fsync(fd))
os.close(fd)
PY
}

# bytes FILE OFF LEN: sha256 of LEN bytes at OFF.
bytes() {
	python3 -c 'import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(hashlib.sha256(os.pread(fd, int(sys.argv[3]), int(sys.argv[2]))).hexdigest())' "$@"
}

ext4_load
want_a=$(head -c 65536 /dev/zero | tr '\0' A | sha256sum | cut -d' ' -f1)
for mode in upcall bpf; do
	mke2fs -q -F -t ext4 -b 4096 "$T_TMP/ours.img" 64M || fail "mke2fs failed"
	cp --sparse=always "$T_TMP/ours.img" "$T_TMP/kern.img"
	ours=$T_TMP/ours kern=$T_TMP/kern
	mkdir -p "$kern"
	mount -o loop "$T_TMP/kern.img" "$kern" || fail "kernel ext4 can't mount the copy"
	defer "umount '$kern' 2>/dev/null"
	opt=()
	[ $mode = upcall ] || opt=(--bpf)
	start_server "$ours" "$T_TMP/ext4.out" "$EXT4SRV" "${opt[@]}" -l "$T_TMP/ext4.log" "$T_TMP/ours.img" "$ours"
	grep -q " $ours fuseiomap.ext4 .*,iomap_maxbytes=$MAX[, ]" /proc/mounts ||
		fail "$mode: no iomap_maxbytes=$MAX in /proc/mounts: $(grep " $ours " /proc/mounts)"
	steps "$kern/f" > "$T_TMP/kern.steps" 2>&1
	steps "$ours/f" > "$T_TMP/ours.steps" 2>&1
	log "$mode, the kernel's ext4: $(tr '\n' ';' < "$T_TMP/kern.steps")"
	log "$mode, ours: $(tr '\n' ';' < "$T_TMP/ours.steps")"
	# Not two equal wrongs: the kernel's ext4 says what the limit is.
	grep -qx 'pwrite B 64k @16T+960k EFBIG' "$T_TMP/kern.steps" &&
		grep -qx 'pwrite C 4k @max-4k 4096' "$T_TMP/kern.steps" &&
		grep -qx 'ftruncate max+1 EFBIG' "$T_TMP/kern.steps" ||
		fail "$mode: the kernel's ext4 does not refuse past $MAX: $(tr '\n' ';' < "$T_TMP/kern.steps")"
	diff "$T_TMP/kern.steps" "$T_TMP/ours.steps" > "$T_TMP/diff" ||
		fail "$mode: results differ from the kernel's ext4 (< kernel, > ours): $(grep '^[<>]' "$T_TMP/diff" | head -n6 | tr '\n' ' ')"
	drop_caches
	expect_eq "$mode: the bytes at 960 KiB after drop_caches" "$(bytes "$ours/f" $((960 << 10)) 65536)" "$want_a"
	expect_eq "$mode: the last 16 KiB before the limit" "$(bytes "$ours/f" $((MAX - 16384)) 16384)" \
		"$(bytes "$kern/f" $((MAX - 16384)) 16384)"
	stop_server "$ours" "$SERVER_PID"
	ext4_fsck_clean "$T_TMP/ours.img" "($mode)"
	umount "$kern"
	ext4_fsck_clean "$T_TMP/kern.img" "(the kernel's, $mode)"
done
