#!/bin/bash
# Bad input gets a message a user can act on, starting with the program's
# name, and the documented exit status (1: refused, 2: bad command line):
# a file that is not ext4 (or /dev/null), an image on a read-only file
# system (suggests --read-only), a regular file as MOUNTPOINT (refused
# before mounting), running unprivileged ("needs root"), fuse_iomap.ko
# not loaded, a file that is not a BPF object (libbpf's error in words),
# and stats -i/-c values that are not counts.  -b means --bpf in both
# servers that have it, and their --help says so.  The module says what
# it is for in modinfo.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

LOADER=$BUILD/loader/fuse-iomap-bpf
MEMFS=$BUILD/server/fuse-iomap-memfs
mnt=$T_TMP/mnt other=$T_TMP/other
mkdir -p "$mnt" "$other" "$T_TMP/rofs"
: > "$T_TMP/regular"

# says WHAT STATUS PATTERN CMD...: CMD exits with STATUS, says PATTERN,
# every line it prints to stderr starts with its program's name ($PROG if
# set, else CMD's), and
# nothing got mounted on $other or $T_TMP/regular.
says() {
	local what=$1 want=$2 pattern=$3 prog rc=0
	shift 3
	prog=${PROG:-$(basename "$1")}
	timeout 20 "$@" > "$T_TMP/out" 2> "$T_TMP/err" || rc=$?
	for m in "$other" "$T_TMP/regular"; do
		if is_mounted "$m"; then
			umount -l "$m"
			fail "$what: mounted $m"
		fi
	done
	expect_eq "$what: exit status" "$rc" "$want"
	grep -q -- "$pattern" "$T_TMP/err" || fail "$what: want '$pattern', got: $(cat "$T_TMP/err")"
	! grep -v "^$prog: " "$T_TMP/err" > "$T_TMP/stray" ||
		fail "$what: a message not starting with '$prog: ': $(head -n1 "$T_TMP/stray")"
	log "$what: $(head -n1 "$T_TMP/err")"
}

fi_load
modprobe loop
make_dev 16
mke2fs -q -F -t ext4 -b 4096 "$T_TMP/img" 16M || fail "mke2fs failed"
head -c $((1 << 20)) /dev/urandom > "$T_TMP/random"

# --- not ext4 -------------------------------------------------------------------
says "ext4 on /dev/null" 1 "can't open /dev/null as ext4: not an ext4 file system" \
	"$EXT4SRV" /dev/null "$other"
says "ext4 on an empty file" 1 "can't open $T_TMP/regular as ext4: not an ext4 file system" \
	"$EXT4SRV" "$T_TMP/regular" "$other"
says "ext4 on random bytes" 1 "can't open $T_TMP/random as ext4: not an ext4 file system" \
	"$EXT4SRV" "$T_TMP/random" "$other"

# --- an image on a read-only file system ------------------------------------------
mount -t tmpfs tmpfs "$T_TMP/rofs" || fail "can't mount a tmpfs"
defer "umount '$T_TMP/rofs'"
cp "$T_TMP/img" "$T_TMP/rofs/img"
mount -o remount,ro "$T_TMP/rofs" || fail "can't make the tmpfs read-only"
says "ext4 on an image on a read-only file system" 1 "$T_TMP/rofs/img is read-only: serve it with --read-only" \
	"$EXT4SRV" "$T_TMP/rofs/img" "$other"
start_server "$other" "$T_TMP/ro.out" "$EXT4SRV" --read-only "$T_TMP/rofs/img" "$other"
[ -d "$other/lost+found" ] || fail "the read-only image served --read-only shows no lost+found"
stop_server "$other" "$SERVER_PID"

# --- a regular file as MOUNTPOINT -------------------------------------------------
says "ext4 on a file MOUNTPOINT" 1 "can't mount on $T_TMP/regular: not a directory" \
	"$EXT4SRV" "$T_TMP/img" "$T_TMP/regular"
says "blockfs on a file MOUNTPOINT" 1 "can't mount on $T_TMP/regular: not a directory" \
	"$BLOCKFS" "$dev" "$T_TMP/regular"
says "memfs on a file MOUNTPOINT" 1 "can't mount on $T_TMP/regular: not a directory" \
	"$MEMFS" "$T_TMP/regular"
e2fsck -fn "$T_TMP/img" > "$T_TMP/fsck.out" 2>&1 || fail "a refused server left the image unclean"

# --- unprivileged ---------------------------------------------------------------
# Copies nobody can run: the build tree need not be readable by nobody.
mkdir -p "$T_TMP/bin"
cp "$EXT4SRV" "$BLOCKFS" "$MEMFS" "$T_TMP/bin/"
chmod 755 "$T_TMP" "$T_TMP/bin"
for srv in "fuse-iomap-ext4 $T_TMP/img" "fuse-iomap-blockfs $dev" "fuse-iomap-memfs"; do
	set -- $srv
	PROG=$1 says "$1 as nobody" 1 "needs root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$T_TMP/bin/$1" "${@:2}" "$other"
done

# --- the loader -----------------------------------------------------------------
start_blockfs "$mnt" "$dev"
echo "not a BPF object" > "$T_TMP/small.txt"
says "attach of a text file" 1 "can't open $T_TMP/small.txt: BPF object format invalid" \
	"$LOADER" attach "$mnt" "$T_TMP/small.txt"
! grep -q "Unknown error" "$T_TMP/err" || fail "libbpf's error not in words: $(cat "$T_TMP/err")"
for bad in "-i abc" "-i -1" "-i 0" "-i 5x" "-c abc" "-c 0" "-i 1 -c -3"; do
	says "stats $bad" 2 "want a whole number" "$LOADER" stats "$mnt" $bad
done
says "stats -i without a value" 2 "bad option -i" "$LOADER" stats "$mnt" -i
stop_server "$mnt" "$SERVER_PID"

# --- -b and --help ----------------------------------------------------------------
for srv in "$EXT4SRV" "$BLOCKFS"; do
	"$srv" --help > "$T_TMP/help" || fail "$srv --help failed"
	grep -Eq '^ +-b, --bpf ' "$T_TMP/help" || fail "$(basename "$srv") --help: -b is not --bpf"
done
"$BLOCKFS" --help | grep -Eq '^ +-s, --block-size N ' || fail "fuse-iomap-blockfs --help: no -s, --block-size"

# --- fuse_iomap.ko not loaded -----------------------------------------------------
fi_unload
says "show without the module" 1 "fuse_iomap.ko is not loaded" "$LOADER" show
says "stats without the module" 1 "fuse_iomap.ko is not loaded" "$LOADER" stats "$mnt"
says "blockfs without the module" 1 "fuse_iomap.ko is not loaded" "$BLOCKFS" "$dev" "$other"
says "ext4 without the module" 1 "fuse_iomap.ko is not loaded" "$EXT4SRV" "$T_TMP/img" "$other"
e2fsck -fn "$T_TMP/img" > "$T_TMP/fsck.out" 2>&1 || fail "a refused server left the image unclean"

desc=$(modinfo -F description "$KMOD") || fail "modinfo $KMOD failed"
grep -q "fuse-iomap-bpf" <<<"$desc" || fail "modinfo's description of fuse_iomap.ko does not mention fuse-iomap-bpf: '$desc'"
