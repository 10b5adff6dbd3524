# Helpers for tests of the iomap data path.  Sourced after common.sh.

BLOCKFS=$BUILD/server/fuse-iomap-blockfs
CRAFT=$BUILD/testsrv/fuse-iomap-craft
FIEMAP_PY=$REPO/selftests/lib/fiemap.py

# make_dev MIB: a loop device over a fresh MIB-MiB file, in $dev.
make_dev() {
	local img=$T_TMP/dev$RANDOM.img
	modprobe loop 2>/dev/null || true
	truncate -s "${1}M" "$img"
	dev=$(losetup -f --show "$img") || fail "losetup $img failed"
	defer "losetup -d $dev 2>/dev/null"
}

# start_blockfs MNT DEV [OPTION...]: serve DEV at MNT, logging iomap
# requests to $T_TMP/blockfs.log.  Sets SERVER_PID.
start_blockfs() {
	local mnt=$1 dev=$2
	shift 2
	start_server "$mnt" "$T_TMP/blockfs.out" "$BLOCKFS" -l "$T_TMP/blockfs.log" "$@" "$dev" "$mnt"
}

# refused_without_rawio WHAT MNT CMD...: CMD, a server that mounts MNT with
# iomap, run without CAP_SYS_RAWIO, must fail with EPERM and leave MNT
# unmounted.
refused_without_rawio() {
	local what=$1 mnt=$2 rc=0
	shift 2
	mkdir -p "$mnt"
	setpriv --bounding-set -sys_rawio --inh-caps -sys_rawio -- "$@" > "$T_TMP/out" 2>&1 || rc=$?
	[ $rc != 0 ] || fail "$what mounted with iomap without CAP_SYS_RAWIO"
	grep -q "Operation not permitted" "$T_TMP/out" || fail "want EPERM, $what said: $(cat "$T_TMP/out")"
	! is_mounted "$mnt" || fail "$mnt is mounted"
}

# blockfs_setup [OPTION...]: load the module, make a 64 MiB device ($dev)
# and serve it with blockfs and OPTIONs at $mnt.
blockfs_setup() {
	fi_load
	make_dev 64
	mnt=$T_TMP/mnt
	start_blockfs "$mnt" "$dev" "$@"
}

# conn_dir MNT: the connection's sysfs directory.
conn_dir() { echo "/sys/fs/fuseiomap/iomap/$(stat -c %d "$1")"; }
# counter MNT NAME: a counter of MNT's connection (e.g. iomap_begin_upcalls,
# rejected/align).
counter() { cat "$(conn_dir "$1")/$2"; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# fiemap FILE: "logical physical length" per extent, in bytes, from
# xfs_io -c "fiemap -v" (512-byte units there); holes are left out.
fiemap() {
	xfs_io -c "fiemap -v" "$1" | awk '
		$2 ~ /^\[/ && $3 != "hole" {
			split(substr($2, 2, length($2) - 3), l, "\\.\\.")
			split($3, p, "\\.\\.")
			print l[1] * 512, p[1] * 512, (l[2] - l[1] + 1) * 512
		}'
}

# dev_bytes DEV OFFSET LENGTH: bytes of DEV as they are on the device (the
# kernel writes file data with bios, past the device's page cache).
dev_bytes() {
	blockdev --flushbufs "$1"
	dd if="$1" bs=4096 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# check_on_device FILE REF DEV: every byte of FILE that FIEMAP maps is, on
# DEV at the reported address, the byte REF has at that file offset.
check_on_device() {
	local file=$1 ref=$2 dev=$3 size l p n
	size=$(stat -c %s "$ref")
	fiemap "$file" > "$T_TMP/fiemap.$$"
	[ -s "$T_TMP/fiemap.$$" ] || fail "$file: FIEMAP reports no extents"
	while read -r l p n; do
		[ "$l" -lt "$size" ] || continue
		[ $((l + n)) -le "$size" ] || n=$((size - l))
		cmp <(dev_bytes "$dev" "$p" "$n") \
		    <(dd if="$ref" bs=4096 iflag=skip_bytes,count_bytes skip="$l" count="$n" status=none) ||
			fail "$file: device $dev at $p (file offset $l, $n bytes) differs from what was written"
	done < "$T_TMP/fiemap.$$"
}

# log_count WHAT: number of WHAT (BEGIN or END) lines in the server log.
log_count() { grep -c "^$1 " "$T_TMP/blockfs.log" || true; }

# craft_try NAME RULE OP CRAFT-OPTION...: serve $dev at $mnt with
# fuse-iomap-craft and CRAFT-OPTIONs, and do OP on its file: read (one
# O_DIRECT block), bread (buffered) or write (O_DIRECT).  RULE is the
# rejection counter that must move (the op failing with EIO), or "none": the
# op must work, and a read give the first 4 KiB of $CRAFT_WANT.
craft_try() {
	local name=$1 rule=$2 op=$3 out rc=0 total
	shift 3
	start_server "$mnt" "$T_TMP/$name.out" "$CRAFT" "$@" "$dev" "$mnt"
	case $op in
	read)	out=$(dd if="$mnt/f" of="$T_TMP/got" bs=4096 count=1 iflag=direct 2>&1) || rc=$? ;;
	bread)	out=$(dd if="$mnt/f" of=/dev/null bs=4096 count=1 2>&1) || rc=$? ;;
	write)	out=$(dd if=/dev/zero of="$mnt/f" bs=4096 count=1 oflag=direct conv=notrunc 2>&1) || rc=$? ;;
	esac
	total=$(counter "$mnt" mappings_rejected)
	if [ "$rule" = none ]; then
		[ $rc = 0 ] || fail "$name: a valid mapping failed: $out"
		if [ "$op" = read ]; then
			cmp -s "$T_TMP/got" <(head -c 4096 "$CRAFT_WANT") || fail "$name: bytes differ from the device's"
		fi
		expect_eq "$name: mappings rejected" "$total" 0
	else
		[ $rc != 0 ] || fail "$name: $op with an invalid mapping ($rule) succeeded"
		grep -q "Input/output error" <<<"$out" || fail "$name: want EIO, got: $out"
		# The page cache may retry a failed read: at least once, and only this rule.
		[ "$total" -ge 1 ] || fail "$name: no mapping counted as rejected"
		expect_eq "$name: rejected/$rule vs all rejections" "$(counter "$mnt" "rejected/$rule")" "$total"
	fi
	stop_server "$mnt" "$SERVER_PID"
	log "$name: ok"
}

# --- ioend and unwritten extents (issue 14) ------------------------------------

IOEND_CHECK=$REPO/selftests/lib/ioend_check.py
# What a block of another file, left on the device, holds in these tests.
STALE_LINE='stale block of another file!'

# need_counters MNT NAME...: MNT's connection has each counter (a module
# without them fails the test, saying which).
need_counters() {
	local m=$1 c
	shift
	for c; do
		[ -r "$(conn_dir "$m")/$c" ] || fail "no counter $c in $(conn_dir "$m")"
	done
}

# stale_fill DEV: fill DEV with $STALE_LINE lines, as if its blocks had
# belonged to files deleted before: a block handed out as unwritten must
# never show them.
stale_fill() {
	{ yes "$STALE_LINE" || true; } |
		dd of="$1" bs=1M count=$(($(blockdev --getsize64 "$1") >> 20)) iflag=fullblock oflag=direct status=none ||
		fail "can't fill $1"
}

# check_written_on_device FILE REF DEV: check_on_device for files with
# unwritten extents: the extents FIEMAP does not flag unwritten hold REF's
# bytes on DEV; unwritten ones are skipped (FILE reads them as zeros,
# which the caller checks through the mount).
check_written_on_device() {
	python3 "$IOEND_CHECK" device "$1" "$2" "$3" > /dev/null 2> "$T_TMP/devcheck.err" ||
		fail "$(tail -n1 "$T_TMP/devcheck.err")"
}

# check_unwritten_states FILE WRITTEN: FIEMAP shows every block the
# "offset length" lines of WRITTEN touched as written and every other
# block it maps as unwritten.  Sets uw_written and uw_unwritten (blocks).
check_unwritten_states() {
	local out
	out=$(python3 "$IOEND_CHECK" states "$1" "$2" 2> "$T_TMP/states.err") ||
		fail "FIEMAP: $(tail -n1 "$T_TMP/states.err")"
	read -r _ uw_written _ uw_unwritten <<<"$out"
}

# crash_server MNT: SIGKILL the server ($SERVER_PID) as a crash would, then
# wait until MNT is gone and $dev is free for the next server.  Processes
# using MNT must have ended.
crash_server() {
	local mnt=$1 pid=$SERVER_PID
	kill -9 "$pid" 2>/dev/null || fail "server $pid was not running at the crash"
	wait_for 30 eval "[ ! -e /proc/$pid ] || grep -q '^$pid (.*) Z ' /proc/$pid/stat 2>/dev/null" ||
		fail "server $pid still running 30 s after SIGKILL"
	wait "$pid" 2>/dev/null || true
	umount -l "$mnt" 2>/dev/null || true
	# One python3 (slow to start in a guest) tries for 10 s.
	python3 - "$dev" <<'PY' || fail "$dev still busy 10 s after the server was killed"
import os, sys, time
for _ in range(100):
    try:
        os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL))
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

CRASH_MODEL=$REPO/selftests/lib/crash_model.py

# model_start WHAT MNT WLOG SEED KILL_AT SECONDS: crash_model.py's files
# (f0, f1 of 1 MiB) made and fsync'd on MNT, its workload started, logging
# to WLOG (pid in $wl, output in $T_TMP/WHAT.run.out), and still running
# once it did KILL_AT writes, within SECONDS.
model_start() {
	local what=$1 mnt=$2 wlog=$3 seed=$4 kill_at=$5 secs=$6
	truncate -s $((256 * 4096)) "$mnt/f0" "$mnt/f1" || fail "$what: can't create the files"
	sync "$mnt/f0" "$mnt/f1" ||
		fail "$what: can't fsync the new files"
	log "$what: seed $seed, SIGKILL after $kill_at writes"
	: > "$wlog"
	python3 "$CRASH_MODEL" run "$mnt" "$wlog" "$seed" > "$T_TMP/$what.run.out" 2>&1 &
	wl=$!
	defer "kill -9 $wl 2>/dev/null"
	wait_for "$secs" eval "[ \$(grep -c '^W ' '$wlog') -ge $kill_at ] || ! kill -0 $wl 2>/dev/null" ||
		fail "$what: fewer than $kill_at writes in $secs s ($(grep -c '^W ' "$wlog") done)"
	kill -0 $wl 2>/dev/null ||
		fail "$what (seed $seed): the workload ended before the crash: $(tail -n1 "$wlog") $(tail -n1 "$T_TMP/$what.run.out")"
}

# model_crash WHAT MNT WLOG SEED: crash_server MNT under model_start's
# workload, which must then end as crash_model.py's run does when its
# server dies (status 0, the failing call logged).
model_crash() {
	local what=$1 mnt=$2 wlog=$3 seed=$4 rc=0
	crash_server "$mnt"
	wait $wl || rc=$?
	[ $rc = 0 ] || fail "$what (seed $seed): the workload failed: $(grep '^E' "$wlog" | tail -n1) $(tail -n1 "$T_TMP/$what.run.out")"
	log "$what: $(grep -c '^W ' "$wlog") writes, $(grep -c '^F ' "$wlog") fsyncs, then: $(grep '^E' "$wlog" | tail -n1)"
}
