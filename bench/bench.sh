#!/bin/bash
# make bench: in ONE guest boot, the same ext4 image (a copy per system, so
# that one system's writes do not move another's files) served four ways:
#   ext4          the kernel's ext4 driver
#   fuse2fs       Debian's fuse2fs (every byte through /dev/fuse)
#   iomap_upcall  fuse-iomap-ext4, no BPF: one FUSE_IOMAP_BEGIN per mapping
#   iomap_bpf     fuse-iomap-ext4 --bpf: extent_map answers in the kernel
# Six fio workloads, each the median of $ROUNDS runs, systems interleaved run
# by run, caches dropped before every run.  Then the mapping-cost
# microbenchmark: fio 4k O_DIRECT random reads of a file of N one-block
# extents answered by extent_map, N = 10 .. 1M.  Writes results to
# $OUT (results.tsv, mapping.tsv; bench/report.py makes results.md and
# ratios.png on the host).
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/bench
ROUNDS=${ROUNDS:-3}
RUNTIME=${RUNTIME:-6}
W=/tmp/bench
BUILD=$REPO/build
SYSTEMS="ext4 fuse2fs iomap_upcall iomap_bpf"
WORKLOADS="seqread_1m_buffered seqwrite_1m_buffered seqread_1m_direct randread_4k_direct randread_4k_buffered randwrite_4k_direct"

rm -rf "$W" "$OUT.tmp" && mkdir -p "$W" "$OUT.tmp"
insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
modprobe fuse
say() { echo "bench: $*"; }

# --- the image: a sequential file, a fragmented one, a rewrite target -------
say "building the image"
mkdir -p "$W/tree"
head -c $((256 << 20)) /dev/urandom > "$W/tree/seq"
mke2fs -q -t ext4 -d "$W/tree" "$W/master.img" 1536M
rm -rf "$W/tree"
mkdir -p "$W/m"
mount -o loop "$W/master.img" "$W/m"
head -c $((64 << 20)) /dev/urandom > "$W/m/rewrite"
sync
python3 - "$W/m" <<'PY'
import errno, os, sys
# A fragmented file, whatever ext4's allocator prefers: fill every free block
# with 64 KiB files, free every other one, write "frag" (it can only land in
# the 64 KiB holes), then free the rest.
d = sys.argv[1]
os.mkdir(d + "/fill")
piece, n = 64 << 10, 0
while True:
    fd = os.open("%s/fill/%d" % (d, n), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, piece)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        break
    finally:
        os.close(fd)
    n += 1
for i in range(0, n + 1, 2):
    os.unlink("%s/fill/%d" % (d, i))
os.sync()
with open(d + "/frag", "wb") as f:
    for i in range(1024):
        f.write(os.urandom(piece))
    f.flush()
    os.fsync(f.fileno())
for i in range(1, n + 1, 2):
    if os.path.exists("%s/fill/%d" % (d, i)):
        os.unlink("%s/fill/%d" % (d, i))
os.rmdir(d + "/fill")
PY
sync
say "frag has $(xfs_io -r -c 'fiemap' "$W/m/frag" | grep -c 'data\|\.\.') extents"
umount "$W/m"

# --- the four systems ---------------------------------------------------------
declare -A MNT CONN
for s in $SYSTEMS; do
	cp --sparse=always "$W/master.img" "$W/$s.img"
	MNT[$s]=$W/mnt_$s
	mkdir -p "${MNT[$s]}"
done
mount -o loop "$W/ext4.img" "${MNT[ext4]}"
fuse2fs "$W/fuse2fs.img" "${MNT[fuse2fs]}" > "$W/fuse2fs.out" 2>&1
"$BUILD/server/fuse-iomap-ext4" "$W/iomap_upcall.img" "${MNT[iomap_upcall]}" > "$W/upcall.out" 2>&1 &
"$BUILD/server/fuse-iomap-ext4" --bpf "$W/iomap_bpf.img" "${MNT[iomap_bpf]}" > "$W/bpf.out" 2>&1 &
for i in $(seq 100); do
	n=0
	for s in $SYSTEMS; do grep -q " ${MNT[$s]} " /proc/mounts && n=$((n + 1)); done
	[ $n = 4 ] && break
	sleep 0.1
done
[ $n = 4 ] || { echo "bench: not all systems mounted"; cat "$W"/*.out; exit 1; }
for s in iomap_upcall iomap_bpf; do CONN[$s]=/sys/fs/fuseiomap/iomap/$(stat -c %d "${MNT[$s]}"); done
# Warm-up for the BPF tier: one read per file publishes its extents.
for f in seq frag rewrite; do
	dd if="${MNT[iomap_bpf]}/$f" of=/dev/null bs=4096 count=1 iflag=direct status=none
done

job() {	# WORKLOAD DIR: fio arguments
	case $1 in
	seqread_1m_buffered)  echo "--filename=$2/seq --rw=read --bs=1M --size=256M" ;;
	seqwrite_1m_buffered) echo "--filename=$2/newfile --rw=write --bs=1M --size=128M --end_fsync=1" ;;
	seqread_1m_direct)    echo "--filename=$2/seq --rw=read --bs=1M --size=256M --direct=1" ;;
	randread_4k_direct)   echo "--filename=$2/frag --rw=randread --bs=4k --size=64M --direct=1 --time_based --runtime=$RUNTIME" ;;
	randread_4k_buffered) echo "--filename=$2/frag --rw=randread --bs=4k --size=64M --time_based --runtime=$RUNTIME" ;;
	randwrite_4k_direct)  echo "--filename=$2/rewrite --rw=randwrite --bs=4k --size=64M --direct=1 --time_based --runtime=$RUNTIME" ;;
	esac
}

counter() { [ -n "${CONN[$1]:-}" ] && cat "${CONN[$1]}/iomap_begin_upcalls" || echo 0; }

total=$(( $(echo $WORKLOADS | wc -w) * ROUNDS * 4 )) done_runs=0
: > "$W/runs"
for wl in $WORKLOADS; do
	for r in $(seq "$ROUNDS"); do
		for s in $SYSTEMS; do
			done_runs=$((done_runs + 1))
			[ "$wl" != seqwrite_1m_buffered ] || rm -f "${MNT[$s]}/newfile"
			sync
			echo 3 > /proc/sys/vm/drop_caches
			u0=$(counter $s)
			fio --name=b --ioengine=psync --output-format=json --randrepeat=1 --norandommap \
				$(job $wl "${MNT[$s]}") > "$W/fio.json" 2> "$W/fio.err" ||
				{ echo "bench: fio failed for $wl on $s: $(tail -n2 "$W/fio.err")"; exit 1; }
			u1=$(counter $s)
			read -r mbps iops ios < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
io = j["write"] if j["write"]["io_bytes"] > j["read"]["io_bytes"] else j["read"]
print("%.1f %.0f %d" % (io["bw_bytes"] / 1e6, io["iops"], io["total_ios"]))' "$W/fio.json")
			upk=NA
			case $s in
			ext4) upk=0 ;;
			iomap_*) upk=$(python3 -c "print('%.1f' % (1000.0 * ($u1 - $u0) / max($ios, 1)))") ;;
			esac
			echo "$wl $s $r $mbps $iops $upk" >> "$W/runs"
			echo "bench: [$done_runs/$total] $wl $s round $r: $mbps MB/s, $iops IOPS, upcalls/1k IO $upk"
		done
	done
done

python3 - "$W/runs" "$OUT.tmp/results.tsv" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cells = {}
for wl, s, r, mbps, iops, upk in rows:
    cells.setdefault((wl, s), []).append((float(mbps), float(iops), upk))
order_wl = list(dict.fromkeys(r[0] for r in rows))
order_s = list(dict.fromkeys(r[1] for r in rows))
def med(v):
    return statistics.median(v)
with open(sys.argv[2], "w") as f:
    f.write("workload\tsystem\tmbps\tiops\tratio_vs_ext4\tupcalls_per_1k_io\n")
    for wl in order_wl:
        base = med([m for m, _, _ in cells[(wl, "ext4")]])
        for s in order_s:
            v = cells[(wl, s)]
            mb, io = med([m for m, _, _ in v]), med([i for _, i, _ in v])
            ups = [u for _, _, u in v]
            up = "NA" if "NA" in ups else "%.1f" % med([float(u) for u in ups])
            f.write("%s\t%s\t%.1f\t%.0f\t%.3f\t%s\n" % (wl, s, mb, io, mb / base if base else 0, up))
PY

for s in $SYSTEMS; do umount "${MNT[$s]}"; done
wait

# --- mapping cost: extent_map with N extents ----------------------------------
say "mapping cost: extent_map with 10 .. 1,000,000 extents"
echo -e "extents\tlat_us\tiops\tupcalls\tmap_bytes_per_extent" > "$OUT.tmp/mapping.tsv"
truncate -s $(( (1000000 + 64) * 4096 + (16 << 20) )) "$W/dev.img"
dev=$(losetup -f --show "$W/dev.img")
for n in 10 1000 100000 1000000; do
	python3 - "$W/meta" $n <<'PY'
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write("B 4096\nN 1 40755 0 0 0 0 0\nN 2 100644 0 0 %d 0 0\nD 1 2 %s\n" % (2 * n * 4096, b"big".hex()))
    f.writelines("E 2 %d %d 1\n" % (2 * i, i + 16) for i in range(n))
PY
	mkdir -p "$W/bfs"
	"$BUILD/server/fuse-iomap-blockfs" --bpf --meta "$W/meta" "$dev" "$W/bfs" > "$W/bfs.out" 2>&1 &
	bfs=$!
	for i in $(seq 100); do grep -q " $W/bfs " /proc/mounts && break; sleep 0.1; done
	dd if="$W/bfs/big" of=/dev/null bs=4096 count=1 iflag=direct status=none
	c=/sys/fs/fuseiomap/iomap/$(stat -c %d "$W/bfs")
	u0=$(cat "$c/iomap_begin_upcalls")
	# Random 4 KiB reads over the whole file, extents and holes alike: every one a BPF answer.
	fio --name=m --ioengine=psync --output-format=json --filename="$W/bfs/big" --rw=randread \
		--bs=4k --direct=1 --size=$((2 * n * 4096)) --time_based --runtime=$RUNTIME \
		--randrepeat=1 > "$W/m.json" 2> "$W/m.err" || { echo "bench: fio failed: $(tail -n1 "$W/m.err")"; exit 1; }
	u1=$(cat "$c/iomap_begin_upcalls")
	memlock=$("$BUILD/bpftool/bpftool" map show name extents | awk '{ for (i = 1; i < NF; i++) if ($i == "memlock") print $(i + 1) }' | tr -d B)
	read -r lat iops < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%.1f %.0f" % (r["clat_ns"]["mean"] / 1000, r["iops"]))' "$W/m.json")
	echo -e "$n\t$lat\t$iops\t$((u1 - u0))\t$((memlock / 1048576))" >> "$OUT.tmp/mapping.tsv"
	say "  $n extents: $lat us per 4k read, $iops IOPS, $((u1 - u0)) upcalls, $((memlock / 1048576)) B/extent of map"
	umount "$W/bfs"
	wait $bfs
done
losetup -d "$dev"
rmmod fuse_iomap || true
uname -r > "$OUT.tmp/kernel"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
say "done: $OUT/results.tsv, $OUT/mapping.tsv"
