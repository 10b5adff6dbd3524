#!/bin/bash
# make bench-explain: where a write's time goes, on the kernel's ext4 and
# on fuse-iomap-ext4 --bpf, in one guest boot.  Each cell runs once per
# system on a fresh 2 GiB ext4 image of its own (mke2fs defaults, a file in
# the guest's tmpfs /tmp on a loop device: the kernel's mount on one, the
# server on one it is given), under fi-offcpu
# (bench/offcpu.c), which follows the writer and what it forks:
#   on-CPU and off-CPU time, and the kernel stacks its sleeps began with
#   context switches (voluntary and preempted)
#   every CPU's busy time (/proc/stat), and the server's own (schedstat)
# and around it the image's device: write requests and flushes
# (/sys/block/loopN/stat).
# Cells (IOS I/Os each; a file is one I/O in metadata_create_unlink):
#   randwrite_4k_direct           4 KiB O_DIRECT overwrites in random order
#                                 of a written 64 MiB file (its extents
#                                 published to BPF by a read first)
#   randwrite_4k_direct_prealloc  the same into a file fallocated to 1 GiB
#   seqwrite_4k_buffered          4 KiB buffered appends to a new file, fsync
#   append_4k_buffered_fsync      4 KiB appends, fdatasync every 16
#   fsync_4k_append               4 KiB appends, fsync after each
#   metadata_create_unlink        create, write 4 KiB, fsync, close, unlink
# Writes $OUT/explain.json (every number, every stack) and explain.md (the
# table per cell, printed at the end; bench/explain.py makes it).
# Knobs: IOS (default 4096; the writes of randwrite cover IOS * 4 KiB),
# FILES (default 500), TOP (stacks per run kept in explain.json, default
# 30; the tables show the 5 largest), CELLS (a comma separated subset),
# EXPLAIN_OUT (where the results go, default BUILD/bench: build/bench for
# the default kernel target).
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/$("$REPO/scripts/target" --var BUILD)
OUT=${EXPLAIN_OUT:-$BUILD/bench}
W=/tmp/explain
IOS=${IOS:-4096}
FILES=${FILES:-500}
TOP=${TOP:-30}
CELLS=${CELLS:-randwrite_4k_direct,randwrite_4k_direct_prealloc,seqwrite_4k_buffered,append_4k_buffered_fsync,fsync_4k_append,metadata_create_unlink}
SYSTEMS="ext4 iomap_bpf"
OFFCPU=$BUILD/benchtools/fi-offcpu

say() { echo "explain: $*"; }
die() { echo "explain: error: $*" >&2; exit 1; }
[[ $IOS =~ ^[1-9][0-9]*$ ]] && [ $((IOS % 16)) = 0 ] || die "IOS=$IOS is not a positive multiple of 16"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "FILES=$FILES is not a positive integer"
[ -x "$OFFCPU" ] || die "$OFFCPU not built (make all)"

# mount_sys SYS IMG MNT: DEV becomes the block device the system writes to.
mount_sys() {
	local sys=$1 img=$2 mnt=$3 i
	mkdir -p "$mnt"
	case $sys in
	ext4)
		mount -o loop "$img" "$mnt"
		DEV=$(findmnt -n -o SOURCE "$mnt") ;;
	iomap_bpf)
		# The server's metadata and the kernel's data on one loop device,
		# so that its counts hold both (given the image file, libext2fs
		# would write the file past the loop device).
		DEV=$(losetup -f --show "$img")
		"$BUILD/server/fuse-iomap-ext4" --bpf "$DEV" "$mnt" >> "$W/server.log" 2>&1 &
		echo $! > "$W/server.pid"
		for i in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
		mountpoint -q "$mnt" || die "fuse-iomap-ext4 did not mount: $(tail -n1 "$W/server.log")" ;;
	esac
}

umount_sys() {	# SYS MNT
	umount "$2"
	if [ "$1" = iomap_bpf ]; then
		wait "$(cat "$W/server.pid")" || die "fuse-iomap-ext4 exited with an error: $(tail -n1 "$W/server.log")"
		losetup -d "$DEV"
	fi
}

# The untimed part of CELL in MNT.
prepare() {
	case $1 in
	randwrite_4k_direct)
		head -c $((64 << 20)) /dev/urandom > "$2/f" ;;
	randwrite_4k_direct_prealloc)
		fallocate -l 1G "$2/f" ;;
	esac
}

# The measured command of CELL in MNT, into CMD.
workload() {
	local cell=$1 f=$2/f
	case $cell in
	randwrite_4k_direct|randwrite_4k_direct_prealloc)
		CMD=(xfs_io -d -c "pwrite -R -Z 1 -b 4k 0 $((IOS * 4))k" "$f") ;;
	seqwrite_4k_buffered)
		CMD=(xfs_io -f -c "pwrite -b 4k 0 $((IOS * 4))k" -c fsync "$f") ;;
	append_4k_buffered_fsync|fsync_4k_append|metadata_create_unlink)
		CMD=(python3 "$REPO/bench/explain_io.py" "$cell" "$2" "$IOS" "$FILES") ;;
	esac
}

# warm CMD...: CMD's program, libraries and script read from 9p now, as
# drop_caches has just dropped them: in the timed run they cost up to
# 2 ms per I/O, more on a busy host, and as much on either system.
warm() {
	case $1 in
	python3) python3 -c 'import os, sys, time' && cat "$2" > /dev/null ;;
	xfs_io) xfs_io -V > /dev/null ;;
	esac
}

dev_stat() {	# DEV: "writes flushes" completed
	awk '{ print $5, ($16 == "" ? 0 : $16) }' "/sys/block/${1#/dev/}/stat"
}

insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
rm -rf "$W" && mkdir -p "$W" "$OUT"
say "IOS=$IOS FILES=$FILES TOP=$TOP; kernel $(uname -r), $(nproc) CPUs"
: > "$W/runs.jsonl"
for cell in ${CELLS//,/ }; do
	for sys in $SYSTEMS; do
		img=$W/$sys.img mnt=$W/$sys
		rm -f "$img"
		mke2fs -q -F -t ext4 "$img" 2G
		mount_sys "$sys" "$img" "$mnt"
		prepare "$cell" "$mnt"
		sync
		echo 3 > /proc/sys/vm/drop_caches
		# As in make bench: a read publishes the file's extents to BPF.
		if [ "$cell" = randwrite_4k_direct ]; then cat "$mnt/f" > /dev/null; fi
		workload "$cell" "$mnt"
		warm "${CMD[@]}"
		read -r w0 f0 < <(dev_stat "$DEV")
		watch=(); [ "$sys" = iomap_bpf ] && watch=(-p "$(cat "$W/server.pid")")
		"$OFFCPU" -t "$TOP" "${watch[@]}" -- "${CMD[@]}" > "$W/run.json" 2> "$W/run.err" ||
			die "$cell on $sys: $(tail -n1 "$W/run.err")"
		read -r w1 f1 < <(dev_stat "$DEV")
		n=$IOS; [ "$cell" = metadata_create_unlink ] && n=$FILES
		python3 - "$W/run.json" "$cell" "$sys" "$n" $((w1 - w0)) $((f1 - f0)) "$W/run.err" \
			>> "$W/runs.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["exit"]:
    sys.exit("explain: error: %s on %s: the workload exited with %d: %s" % (
        sys.argv[2], sys.argv[3], r["exit"], open(sys.argv[7]).read().strip()[-300:]))
r.update(cell=sys.argv[2], system=sys.argv[3], ios=int(sys.argv[4]), dev_writes=int(sys.argv[5]),
         dev_flushes=int(sys.argv[6]))
print(json.dumps(r))
PY
		say "$cell $sys: $(python3 -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1])][-1]
print("%.0f ms wall, %.1f us/IO on-CPU, %.1f us/IO off-CPU" % (r["wall_us"] / 1e3, r["oncpu_us"] / r["ios"], r["offcpu_us"] / r["ios"]))' "$W/runs.jsonl")"
		[ "$sys" = iomap_bpf ] && grep -h . "/sys/fs/fuseiomap/iomap/$(stat -c %d "$mnt")"/{iomap_begin_upcalls,iomap_end_upcalls,ioend_upcalls} 2>/dev/null |
			paste -sd' ' | sed 's/^/explain: upcalls BEGIN END IOEND since mount: /'
		umount_sys "$sys" "$mnt"
	done
done
python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])], indent=1))' \
	"$W/runs.jsonl" > "$OUT/explain.json"
python3 "$REPO/bench/explain.py" "$OUT/explain.json" > "$OUT/explain.md"
cat "$OUT/explain.md"
