#!/bin/bash
# The journal's cost, in one guest boot: fsync-heavy workloads on four
# systems, each on its own fresh 1 GiB ext4 image (mke2fs defaults):
#   ext4        the kernel's ext4 (data=ordered, its default)
#   fuse2fs     Debian's fuse2fs (no journal writes)
#   journal     fuse-iomap-ext4 --bpf (--journal=ordered, the default)
#   nojournal   fuse-iomap-ext4 --bpf --journal=off
# Workloads:
#   fsync_4k_append         append 4 KiB, fsync, repeat (a database log):
#                           APPENDS writes to a new file (fio, psync)
#   metadata_create_unlink  create a file, write 4 KiB, fsync it, unlink
#                           it, FILES times (python3)
# Rounds interleave the systems (ext4 fuse2fs journal nojournal, ROUNDS
# times); each cell prints ops/s per round, the median with its min-max,
# the median of paired ratios to ext4 (each round's value over ext4's in
# the same round) with their min-max, and the ratio of medians.  Writes $OUT/journal.tsv.
# Run with: make bench-journal (make bench runs it too).
# Knobs: ROUNDS (3), APPENDS (4096), FILES (10000).
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/$("$REPO/scripts/target" --var BUILD)
OUT=$BUILD/bench
W=/tmp/bench-journal
ROUNDS=${ROUNDS:-3}
APPENDS=${APPENDS:-4096}
FILES=${FILES:-10000}
SYSTEMS="ext4 fuse2fs journal nojournal"

mount_sys() {	# SYS: a fresh image mounted at $W/SYS
	local sys=$1 img=$W/$1.img mnt=$W/$1
	mke2fs -q -F -t ext4 "$img" 1G
	mkdir -p "$mnt"
	case $sys in
	ext4) mount -o loop "$img" "$mnt" ;;
	fuse2fs) fuse2fs "$img" "$mnt" > /dev/null ;;
	journal) "$BUILD/server/fuse-iomap-ext4" --bpf "$img" "$mnt" \
			>> "$W/ours.log" 2>&1 & ;;
	nojournal) "$BUILD/server/fuse-iomap-ext4" --bpf --journal=off "$img" "$mnt" \
			>> "$W/ours.log" 2>&1 & ;;
	esac
	for _ in $(seq 100); do grep -q " $mnt " /proc/mounts && return 0; sleep 0.1; done
	echo "bench/journal.sh: $sys did not mount" >&2
	return 1
}

umount_sys() {	# SYS
	umount "$W/$1"
	for _ in $(seq 100); do pgrep -f "$W/$1.img" > /dev/null || break; sleep 0.1; done
	rm -f "$W/$1.img"
}

fsync_4k_append() {	# DIR: appends per second
	fio --name=a --directory="$1" --filename=log --rw=write --bs=4k --size=$((APPENDS * 4096)) \
		--ioengine=psync --fsync=1 --output-format=json 2> /dev/null |
		python3 -c 'import json, sys; j = json.load(sys.stdin)["jobs"][0]["write"]; print("%.1f" % j["iops"])'
}

metadata_create_unlink() {	# DIR: files per second
	python3 "$REPO/bench/explain_io.py" metadata_create_unlink "$1" 0 "$FILES"
}

insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
modprobe fuse
rm -rf "$W" && mkdir -p "$W" "$OUT"
: > "$W/results"
for cell in fsync_4k_append metadata_create_unlink; do
	for r in $(seq "$ROUNDS"); do
		for sys in $SYSTEMS; do
			mount_sys "$sys"
			v=$($cell "$W/$sys")
			umount_sys "$sys"
			echo "journal: $cell round $r $sys $v ops/s"
			echo "$cell $sys $r $v" >> "$W/results"
		done
	done
done
cp "$W/results" "$OUT/journal.tsv"
python3 - "$W/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for cell in dict.fromkeys(r[0] for r in rows):
    med = {}
    by = {(r[1], r[2]): float(r[3]) for r in rows if r[0] == cell}
    for sys_ in dict.fromkeys(r[1] for r in rows if r[0] == cell):
        v = sorted(float(r[3]) for r in rows if r[0] == cell and r[1] == sys_)
        med[sys_] = statistics.median(v)
        # Paired: each round's value over ext4's in the same round, next to it in time.
        p = sorted(x / by[("ext4", rnd)] for (s, rnd), x in by.items() if s == sys_ and by.get(("ext4", rnd)))
        print("journal: %-24s %-10s %8.1f ops/s (%.1f-%.1f), %.2fx ext4 paired (%.2f-%.2f), %.2fx of medians" %
              (cell, sys_, med[sys_], v[0], v[-1], statistics.median(p), p[0], p[-1], med[sys_] / med["ext4"]))
PY
grep 'journal:' "$W/ours.log" | tail -n 2 || true
