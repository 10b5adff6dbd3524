#!/bin/bash
# make bench: in ONE guest boot, the same ext4 image (a copy per system, so
# that one system's writes do not move another's files) served four ways:
#   ext4          the kernel's ext4 driver
#   fuse2fs       Debian's fuse2fs (every byte through /dev/fuse)
#   iomap_upcall  fuse-iomap-ext4, no BPF: one FUSE_IOMAP_BEGIN per mapping
#   iomap_bpf     fuse-iomap-ext4 --bpf: extent_map answers in the kernel
# and, for the 4 KiB random O_DIRECT read cells (the only reads small enough
# for the simple read path), a fifth row:
#   iomap_bpf_nosimple  the same iomap_bpf mount with its simple read path
#                 off (/sys/fs/fuseiomap/iomap/<id>/simple_read = 0 during
#                 the run, 1 again after it)
# Six psync cells at queue depth 1 (the bench's original six) and nine
# io_uring cells (4 KiB random direct reads of a contiguous and a fragmented
# file at queue depth 1 and 32 with 1 and 4 jobs, 128 KiB sequential direct
# reads at queue depth 8), each the median of $ROUNDS runs with their
# min-max, systems interleaved run by run, caches dropped before every run.
# Then the mapping-cost microbenchmark: fio 4k O_DIRECT random reads of a
# file of N one-block extents answered by extent_map, N = 10 .. 1M.  Writes
# results to $OUT (results.tsv, mapping.tsv; bench/report.py makes
# results.md and ratios.png on the host).
#
# Knobs (environment; the guest starts empty, so pass them with
# selftests/vm/boot --env NAME=VALUE):
#   ROUNDS      runs per cell and system (default 5)
#   RUNTIME     seconds of the time-based psync cells and of each mapping-cost
#               run (default 4)
#   QD_RUNTIME  seconds of each io_uring cell (default 2), after
#   RAMP        seconds of unmeasured warm-up (default 1)
#   NOSIMPLE    1 (default): add the iomap_bpf_nosimple rows, an error if the
#               module has no simple_read knob; 0: leave them out
#   BENCH_CELLS only these cells, comma separated WORKLOAD:ENGINE:DEPTH:JOBS
#               (e.g. randwrite_4k_direct:psync:1:1); default all of them
# Time: with ROUNDS=5 RUNTIME=4 QD_RUNTIME=3 RAMP=1, and the hook dropping
# the caches once per clone, one boot took about 65 min on the project's
# machine (2 cores shared with two other TCG guests): 17 min for the psync
# cells, 43 for the io_uring ones (6 s per run besides fio's runtime).
# The defaults now (QD_RUNTIME=2, caches dropped once per system, no
# nosimple rows for 128 KiB and 1 MiB reads) are meant to bring that
# towards 45 min; not yet measured.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/bench
ROUNDS=${ROUNDS:-5}
RUNTIME=${RUNTIME:-4}
QD_RUNTIME=${QD_RUNTIME:-2}
RAMP=${RAMP:-1}
NOSIMPLE=${NOSIMPLE:-1}
W=/tmp/bench
BUILD=$REPO/build
SYSTEMS="ext4 fuse2fs iomap_upcall iomap_bpf"

rm -rf "$W" "$OUT.tmp" && mkdir -p "$W" "$OUT.tmp"
insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
modprobe fuse
say() { echo "bench: $*"; }
say "ROUNDS=$ROUNDS RUNTIME=$RUNTIME QD_RUNTIME=$QD_RUNTIME RAMP=$RAMP NOSIMPLE=$NOSIMPLE"
# io_uring: Debian's fio must have the engine and the kernel must let us use it.
fio --enghelp 2>/dev/null | grep -qw io_uring ||
	{ echo "bench: error: this fio ($(fio --version)) has no io_uring engine (fio --enghelp)"; exit 1; }
if [ -r /proc/sys/kernel/io_uring_disabled ] && [ "$(cat /proc/sys/kernel/io_uring_disabled)" != 0 ]; then
	echo "bench: error: io_uring is disabled (kernel.io_uring_disabled = $(cat /proc/sys/kernel/io_uring_disabled))"; exit 1
fi

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
# iomap_bpf_nosimple: the iomap_bpf mount with the simple read path off.
MNT[iomap_bpf_nosimple]=${MNT[iomap_bpf]} CONN[iomap_bpf_nosimple]=${CONN[iomap_bpf]}
if [ "$NOSIMPLE" = 1 ]; then
	[ -w "${CONN[iomap_bpf]}/simple_read" ] || {
		echo "bench: error: ${CONN[iomap_bpf]}/simple_read is missing: this fuse_iomap.ko has no simple read path knob," \
			"so there are no iomap_bpf_nosimple rows to measure (NOSIMPLE=0 leaves them out)"; exit 1; }
	[ "$(cat "${CONN[iomap_bpf]}/simple_read")" = 1 ] ||
		{ echo "bench: error: ${CONN[iomap_bpf]}/simple_read is not 1 (the default) at mount"; exit 1; }
	# Whatever happens, the mount keeps its simple path on.
	trap 'echo 1 > "${CONN[iomap_bpf]}/simple_read" 2>/dev/null || true' EXIT
fi
# io_uring setup, once, on the kernel's ext4: a clear error here rather than
# a failed cell 40 minutes in.
fio --name=probe --ioengine=io_uring --iodepth=4 --filename="${MNT[ext4]}/seq" --rw=randread --bs=4k \
	--direct=1 --size=1M --io_size=64k --output="$W/probe.out" > "$W/probe.err" 2>&1 ||
	{ echo "bench: error: fio's io_uring engine does not work in this guest:"; cat "$W/probe.out" "$W/probe.err"; exit 1; }
# Warm-up for the BPF tier: one read per file publishes its extents.
for f in seq frag rewrite; do
	dd if="${MNT[iomap_bpf]}/$f" of=/dev/null bs=4096 count=1 iflag=direct status=none
done

# --- the cells ------------------------------------------------------------------
# A cell is WORKLOAD ENGINE DEPTH JOBS.  The six psync cells (queue depth 1,
# one job) are the bench's original six; the io_uring cells are the depths
# people quote: 4 KiB random O_DIRECT reads of the contiguous "seq" and the
# fragmented "frag" at queue depth 1 and 32 with 1 and 4 jobs, and 128 KiB
# sequential O_DIRECT reads at queue depth 8.  The io_uring cells run
# QD_RUNTIME seconds after RAMP seconds of warm-up (time_based).
CELLS="seqread_1m_buffered:psync:1:1 seqwrite_1m_buffered:psync:1:1 seqread_1m_direct:psync:1:1
randread_4k_direct_frag:psync:1:1 randread_4k_buffered:psync:1:1 randwrite_4k_direct:psync:1:1"
for wl in randread_4k_direct randread_4k_direct_frag; do
	for qd in 1 32; do
		for nj in 1 4; do CELLS="$CELLS $wl:io_uring:$qd:$nj"; done
	done
done
CELLS="$CELLS seqread_128k_direct:io_uring:8:1"
[ -z "${BENCH_CELLS:-}" ] || CELLS=${BENCH_CELLS//,/ }

job() {	# WORKLOAD DIR: fio arguments
	case $1 in
	seqread_1m_buffered)     echo "--filename=$2/seq --rw=read --bs=1M --size=256M" ;;
	seqwrite_1m_buffered)    echo "--filename=$2/newfile --rw=write --bs=1M --size=128M --end_fsync=1" ;;
	seqread_1m_direct)       echo "--filename=$2/seq --rw=read --bs=1M --size=256M --direct=1" ;;
	randread_4k_direct_frag) echo "--filename=$2/frag --rw=randread --bs=4k --size=64M --direct=1" ;;
	randread_4k_direct)      echo "--filename=$2/seq --rw=randread --bs=4k --size=256M --direct=1" ;;
	randread_4k_buffered)    echo "--filename=$2/frag --rw=randread --bs=4k --size=64M" ;;
	randwrite_4k_direct)     echo "--filename=$2/rewrite --rw=randwrite --bs=4k --size=64M --direct=1" ;;
	seqread_128k_direct)     echo "--filename=$2/seq --rw=read --bs=128k --size=256M --direct=1" ;;
	esac
}
timing() {	# WORKLOAD ENGINE: fio's time arguments
	if [ "$2" = io_uring ]; then
		echo "--time_based --runtime=$QD_RUNTIME --ramp_time=$RAMP"
	else
		case $1 in seq*) ;; *) echo "--time_based --runtime=$RUNTIME" ;; esac
	fi
}
systems() {	# WORKLOAD: the systems of its cell (iomap_bpf_nosimple only where the simple path can apply)
	case $1 in
	randread_4k_direct*) [ "$NOSIMPLE" = 1 ] && echo "$SYSTEMS iomap_bpf_nosimple" || echo "$SYSTEMS" ;;
	*) echo "$SYSTEMS" ;;
	esac
}

simple() {	# SYSTEM 0|1: the simple read path knob of its connection
	echo "$2" > "${CONN[$1]}/simple_read" ||
		{ echo "bench: cannot write $2 to ${CONN[$1]}/simple_read"; exit 1; }
	[ "$(cat "${CONN[$1]}/simple_read")" = "$2" ] ||
		{ echo "bench: ${CONN[$1]}/simple_read does not read back $2"; exit 1; }
}

# One fio per cell and round, the systems one after the other in it
# (stonewall: one reporting group each; fio starts slowly under TCG).  Before
# each system's job, $W/hook syncs, drops the caches, sets the simple read
# knob (0 for iomap_bpf_nosimple, 1 otherwise) and notes the connection's
# counters; after it, notes them again.  With 4 jobs it runs once per job:
# only the first syncs, drops and sets the knob (mkdir $W/once/SYSTEM), and
# the report takes the first "pre" and the last "post".
{
	echo '#!/bin/sh'
	echo '# hook pre|post SYSTEM: see bench.sh'
	echo 'case $2 in'
	for s in iomap_upcall iomap_bpf iomap_bpf_nosimple; do echo "$s) c=${CONN[$s]} ;;"; done
	echo '*) c= ;;'
	echo 'esac'
	echo "if [ \$1 = pre ] && mkdir $W/once/\$2 2>/dev/null; then"
	echo '	sync; echo 3 > /proc/sys/vm/drop_caches'
	if [ "$NOSIMPLE" = 1 ]; then
		echo "	case \$2 in iomap_bpf_nosimple) v=0 ;; *) v=1 ;; esac"
		echo "	echo \$v > ${CONN[iomap_bpf]}/simple_read || exit 1"
		echo "	[ \"\$(cat ${CONN[iomap_bpf]}/simple_read)\" = \$v ] || exit 1"
	fi
	echo 'fi'
	echo '[ -z "$c" ] || echo "$1 $2 $(cat $c/iomap_begin_upcalls) $(cat $c/simple_reads 2>/dev/null || echo NA)" \'
	echo '	"$(cat $c/iomap_end_upcalls) $(cat $c/ioend_upcalls 2>/dev/null || echo NA)" >> '"$W/ctr"
} > "$W/hook"
chmod +x "$W/hook"

total=0
for c in $CELLS; do
	IFS=: read -r wl eng qd nj <<< "$c"
	total=$(( total + ROUNDS * $(systems $wl | wc -w) ))
done
done_runs=0 t0=$SECONDS n=0
mkdir -p "$OUT.tmp/raw"
: > "$OUT.tmp/raw/runs"
for c in $CELLS; do
	IFS=: read -r wl eng qd nj <<< "$c"
	for r in $(seq "$ROUNDS"); do
		n=$((n + 1))
		[ "$wl" != seqwrite_1m_buffered ] || for s in $SYSTEMS; do rm -f "${MNT[$s]}/newfile"; done
		args=(--output-format=json --output="$OUT.tmp/raw/$n.json" --randrepeat=1 --norandommap
			--ioengine=$eng --iodepth=$qd --numjobs=$nj --group_reporting $(timing $wl $eng))
		for s in $(systems $wl); do
			args+=(--name=$s --stonewall "--exec_prerun=$W/hook pre $s" "--exec_postrun=$W/hook post $s"
				$(job $wl "${MNT[$s]}"))
		done
		: > "$W/ctr"
		rm -rf "$W/once" && mkdir "$W/once"
		(cd "$W" && fio "${args[@]}") > "$W/fio.err" 2>&1 ||
			{ echo "bench: fio failed for $wl $eng qd $qd x$nj round $r: $(tail -n3 "$W/fio.err")"; exit 1; }
		[ "$NOSIMPLE" = 1 ] && simple iomap_bpf 1
		mv "$W/ctr" "$OUT.tmp/raw/$n.ctr"
		echo "$wl $eng $qd $nj $r $n" >> "$OUT.tmp/raw/runs"
		while read -r s mbps iops p50 p99; do
			done_runs=$((done_runs + 1))
			echo "bench: [$done_runs/$total $((SECONDS - t0))s] $wl $eng qd $qd x$nj $s round $r: $mbps MB/s, $iops IOPS, p50/p99 $p50/$p99 us"
		done < <(jq -r '.jobs[] | (if .write.io_bytes > .read.io_bytes then .write else .read end) as $io |
			"\(.jobname) \($io.bw_bytes / 1e5 | floor / 10) \($io.iops | floor) \($io.clat_ns.percentile["50.000000"] / 100 | floor / 10) \($io.clat_ns.percentile["99.000000"] / 100 | floor / 10)"' "$OUT.tmp/raw/$n.json")
	done
done
say "fio runs took $((SECONDS - t0)) s"

python3 - "$OUT.tmp/raw/runs" "$OUT.tmp/raw" "$OUT.tmp/results.tsv" <<'PY'
import json, statistics, sys
cells = {}
for line in open(sys.argv[1]):
    wl, eng, qd, nj, r, n = line.split()
    ctr = {}
    for l in open("%s/%s.ctr" % (sys.argv[2], n)):
        ph, s, up, sr, end, ioend = l.split()
        na = lambda x: None if x == "NA" else int(x)
        ctr.setdefault((ph, s), []).append((int(up), na(sr), na(end), na(ioend)))
    for j in json.load(open("%s/%s.json" % (sys.argv[2], n)))["jobs"]:
        s = j["jobname"]
        io = j["write"] if j["write"]["io_bytes"] > j["read"]["io_bytes"] else j["read"]
        p = io["clat_ns"].get("percentile", {})
        us = lambda k: p[k] / 1000.0 if k in p else None
        ios = max(io["total_ios"], 1)
        per_k = [None] * 4	# BEGIN, simple reads, END, IOEND per 1000 I/Os
        if s == "ext4":
            per_k = [0.0] * 4
        elif (("pre", s) in ctr) and (("post", s) in ctr):
            pre, post = ctr[("pre", s)][0], ctr[("post", s)][-1]
            per_k = [None if a is None or b is None else 1000.0 * (b - a) / ios
                     for a, b in zip(pre, post)]
        cells.setdefault((wl, eng, qd, nj), {}).setdefault(s, []).append(
            (io["bw_bytes"] / 1e6, io["iops"], us("50.000000"), us("99.000000"), *per_k))
def med(v):
    return statistics.median(v)
def medna(v):	# median, NA if any is missing
    return "NA" if None in v else "%.1f" % med(v)
with open(sys.argv[3], "w") as f:
    f.write("workload\tioengine\tiodepth\tnumjobs\tsystem\trounds\tmbps\tmbps_min\tmbps_max\t"
            "iops\tiops_min\tiops_max\tp50_us\tp99_us\tratio_vs_ext4\tupcalls_per_1k_io\tsimple_per_1k_io\t"
            "end_upcalls_per_1k_io\tioend_upcalls_per_1k_io\n")
    for key, per in cells.items():
        base = med([v[0] for v in per["ext4"]]) if "ext4" in per else 0
        for s, v in per.items():
            mb = [x[0] for x in v]
            io = [x[1] for x in v]
            f.write("%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\n" % (
                "\t".join(key), s, len(v), med(mb), min(mb), max(mb), med(io), min(io), max(io),
                medna([x[2] for x in v]), medna([x[3] for x in v]),
                med(mb) / base if base else 0, medna([x[4] for x in v]), medna([x[5] for x in v]),
                medna([x[6] for x in v]), medna([x[7] for x in v])))
PY

for s in $SYSTEMS; do umount "${MNT[$s]}"; done
wait

# --- mapping cost: extent_map with N extents ----------------------------------
say "mapping cost: extent_map with 10 .. 1,000,000 extents ($SECONDS s in)"
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
say "done in $SECONDS s: $OUT/results.tsv, $OUT/mapping.tsv"
