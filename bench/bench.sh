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
#                 its slices, 1 during everyone else's and after the run)
# The image (3 GiB, made by the kernel's ext4 here) holds "seq" (256 MiB,
# contiguous), "rewrite" (64 MiB), "frag" (64 MiB in 64 KiB pieces, about
# 770 extents) and "frag100k" (every other 4 KiB block of a 781 MiB sparse
# file: 100,000 one-block extents, half of its reads land on holes).
# Eleven psync cells at queue depth 1, one job:
#   seqread_1m_buffered, seqwrite_1m_buffered (128 MiB new file, end_fsync),
#   seqread_1m_direct, randread_4k_direct_frag, randread_4k_buffered (frag),
#   randwrite_4k_direct (overwrites of rewrite), the bench's original six;
#   seqwrite_4k_buffered      4 KiB buffered appends, 64 MiB new file, end_fsync
#   randwrite_4k_direct_prealloc  4 KiB random O_DIRECT writes into a file
#                             fallocated to 1 GiB (untimed) before each round
#                             and deleted after it
#   append_4k_buffered_fsync  4 KiB buffered appends, fdatasync every 16
#                             writes, 16 MiB new file (a log)
#   seqwrite_1m_direct        1 MiB O_DIRECT appends, 128 MiB new file
#   randread_4k_direct_frag100k  4 KiB random O_DIRECT reads of frag100k
# and randwrite_4k_direct with 4 jobs (parallel overwrites of one file),
# and nine io_uring cells (4 KiB random direct reads of seq and frag at
# queue depth 1 and 32 with 1 and 4 jobs, 128 KiB sequential direct reads
# at queue depth 8).  "New file" cells delete their file before and after
# each round.  Every cell is the median of $ROUNDS rounds with their
# min-max and coefficient of variation; caches are dropped once per system
# and round.  One fio per cell and round runs every system's jobs
# (stonewalled).  In a time-based cell (the io_uring ones and the psync
# cells that are not seq*/append*) each system's share of a round is
# $SLICES jobs of RUNTIME/SLICES (psync) or QD_RUNTIME/SLICES (io_uring,
# each after its own RAMP) seconds, interleaved slice-major (ext4 fuse2fs
# iomap_upcall iomap_bpf [nosimple] ext4 fuse2fs ...), so that a slow
# minute of the host hits every system; the round's value sums the slices'
# bytes, I/Os and runtimes, its p50/p99 come from their merged latency
# histograms (fio json+ bins) and its upcall counts are the slices' summed
# deltas.  Size-based cells run one job per system and round.
# paired_ratio: each slice of a system over the ext4 slice next to it in
# time (the same slice number of the same round; a size-based cell's round
# is its one slice), the median over all rounds and slices with its
# min-max.  A slow minute of the host slows both sides of a pair, so it
# spreads less than the ratio of the rounds' medians (ratio_vs_ext4).
# Then the mapping-cost microbenchmark: fio 4k O_DIRECT random reads of a
# file of N one-block extents answered by extent_map, N = 10 .. 1M.  Writes
# results to $OUT (results.tsv, mapping.tsv; bench/report.py makes
# results.md and ratios.png on the host).
#
# Memory: /tmp in the guest is a tmpfs; the bench remounts it at the guest's
# RAM less 1.5 GiB and wants 6 GiB of it (four image copies of ~0.8 GiB
# each that grow with the writes; see the "image" lines it prints after
# each cell): make bench boots the guest with VM_MEM=8G.
#
# Knobs (environment; the guest starts empty, so pass them with
# selftests/vm/boot --env NAME=VALUE):
#   ROUNDS      rounds per cell and system (default 5)
#   RUNTIME     seconds per round and system of the time-based psync cells,
#               and of each mapping-cost run (default 4)
#   QD_RUNTIME  seconds per round and system of each io_uring cell (default
#               2), measured after RAMP (per slice)
#   RAMP        seconds of unmeasured warm-up of every io_uring job (default 1)
#   SLICES      jobs per system and round in time-based cells (default 2)
#   NOSIMPLE    1 (default): add the iomap_bpf_nosimple rows, an error if the
#               module has no simple_read knob; 0: leave them out
#   BENCH_CELLS only these cells, comma separated WORKLOAD:ENGINE:DEPTH:JOBS
#               (e.g. randwrite_4k_direct:psync:1:1); default all of them
#   MAPPING     1 (default): the mapping-cost microbenchmark; 0: leave it out
#   BENCH_SYSTEMS only these systems, comma separated, ext4 among them
#               (default ext4 fuse2fs iomap_upcall iomap_bpf)
# Time: about two hours under TCG on 2 host cores (make bench allows three):
# the image 1.5 min, the eleven psync cells 40 min, the io_uring cells
# about 70 (5 min per one-job cell, 12-15 per four-job cell: fio sets up
# four jobs per slice), the mapping cost a few minutes.  Measured on a
# loaded host up to the fourth io_uring cell; the rest is extrapolated.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/$("$REPO/scripts/target" --var BUILD)
OUT=$BUILD/bench
ROUNDS=${ROUNDS:-5}
RUNTIME=${RUNTIME:-4}
QD_RUNTIME=${QD_RUNTIME:-2}
RAMP=${RAMP:-1}
SLICES=${SLICES:-2}
NOSIMPLE=${NOSIMPLE:-1}
MAPPING=${MAPPING:-1}
W=/tmp/bench
SYSTEMS=${BENCH_SYSTEMS:-ext4 fuse2fs iomap_upcall iomap_bpf}
SYSTEMS=${SYSTEMS//,/ }
TMP_NEED=6144	# MiB of /tmp the bench wants (see "Memory" above)

say() { echo "bench: $*"; }
for s in $SYSTEMS; do
	case " ext4 fuse2fs iomap_upcall iomap_bpf " in *" $s "*) ;; *)
		echo "bench: error: BENCH_SYSTEMS: no system '$s' (ext4 fuse2fs iomap_upcall iomap_bpf)"; exit 1 ;;
	esac
done
case " $SYSTEMS " in *" ext4 "*) ;; *) echo "bench: error: BENCH_SYSTEMS must hold ext4, the reference"; exit 1 ;; esac
case " $SYSTEMS " in *" iomap_bpf "*) ;; *) NOSIMPLE=0 ;; esac
[[ $SLICES =~ ^[1-9][0-9]*$ ]] || { echo "bench: error: SLICES=$SLICES is not a positive integer"; exit 1; }
# One slice's runtime in ms (fio takes "ms"); RUNTIME may be fractional.
SLICE_MS=$(awk -v t="$RUNTIME" -v n="$SLICES" 'BEGIN { printf "%d", t * 1000 / n }')
QD_SLICE_MS=$(awk -v t="$QD_RUNTIME" -v n="$SLICES" 'BEGIN { printf "%d", t * 1000 / n }')
[ "$SLICE_MS" -gt 0 ] && [ "$QD_SLICE_MS" -gt 0 ] ||
	{ echo "bench: error: RUNTIME/SLICES or QD_RUNTIME/SLICES is under 1 ms"; exit 1; }
mem=$(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo)
mount -o remount,size=$((mem - 1536))m /tmp
[ $((mem - 1536)) -ge $TMP_NEED ] ||
	{ echo "bench: error: the guest has $mem MiB of RAM, /tmp (a tmpfs) gets $((mem - 1536)) MiB of it;" \
		"the bench wants $TMP_NEED MiB there: boot it with VM_MEM=8G (make bench does)"; exit 1; }

rm -rf "$W" "$OUT.tmp" && mkdir -p "$W" "$OUT.tmp"
insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
modprobe fuse
say "ROUNDS=$ROUNDS RUNTIME=$RUNTIME QD_RUNTIME=$QD_RUNTIME RAMP=$RAMP SLICES=$SLICES NOSIMPLE=$NOSIMPLE;" \
	"$mem MiB of RAM, /tmp $((mem - 1536)) MiB"
# io_uring: Debian's fio must have the engine and the kernel must let us use it.
fio --enghelp 2>/dev/null | grep -qw io_uring ||
	{ echo "bench: error: this fio ($(fio --version)) has no io_uring engine (fio --enghelp)"; exit 1; }
if [ -r /proc/sys/kernel/io_uring_disabled ] && [ "$(cat /proc/sys/kernel/io_uring_disabled)" != 0 ]; then
	echo "bench: error: io_uring is disabled (kernel.io_uring_disabled = $(cat /proc/sys/kernel/io_uring_disabled))"; exit 1
fi

# --- the image: a sequential file, two fragmented ones, a rewrite target ------
say "building the image"
t=$SECONDS
mkdir -p "$W/tree"
head -c $((256 << 20)) /dev/urandom > "$W/tree/seq"
# 1.5 GiB first, as the bench always made it (frag's layout, ~770 extents,
# depends on the free space it is made in), then grown to 3 GiB online.
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
    fd = None
    try:	# a full directory block can fail the create too
        fd = os.open("%s/fill/%d" % (d, n), os.O_WRONLY | os.O_CREAT, 0o644)
        os.posix_fallocate(fd, 0, piece)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        break
    finally:
        if fd is not None:
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
dev=$(findmnt -n -o SOURCE "$W/m")
truncate -s 3G "$W/master.img"
losetup -c "$dev"
resize2fs "$dev" > "$W/resize.out" 2>&1 || { echo "bench: resize2fs failed:"; cat "$W/resize.out"; exit 1; }
# frag100k: every other 4 KiB block of a 200,000-block sparse file, so
# 100,000 one-block extents whatever the allocator does (they are logically
# apart; physically ext4 packs them together).
FRAG100K_SIZE=$((200000 * 4096))
python3 - "$W/m/frag100k" $FRAG100K_SIZE <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.ftruncate(fd, int(sys.argv[2]))
for i in range(0, int(sys.argv[2]) // 4096, 2):
    os.pwrite(fd, os.urandom(4096), i * 4096)
os.fsync(fd)
os.close(fd)
PY
sync
extents() { xfs_io -r -c fiemap "$1" | grep -v hole | grep -c '\.\.'; }	# fiemap's data extents
say "frag has $(extents "$W/m/frag") extents"
n=$(extents "$W/m/frag100k")
# filefrag counts physical discontinuities (a logical hole with a physical gap
# of the same size is not one): ~1 when frag100k's blocks sit every other
# block on disk, its holes then being 100,000 one-block free runs.
say "frag100k has $n extents ($(filefrag "$W/m/frag100k" | awk '{ print $2 }') physically discontiguous runs for filefrag)"
[ "$n" -ge 100000 ] || { echo "bench: error: frag100k has $n extents, not 100,000"; exit 1; }
umount "$W/m"
say "image built in $((SECONDS - t)) s, $(du -m "$W/master.img" | cut -f1) MiB in /tmp"

# --- the four systems ---------------------------------------------------------
declare -A MNT CONN
for s in $SYSTEMS; do
	cp --sparse=always "$W/master.img" "$W/$s.img"
	MNT[$s]=$W/mnt_$s
	mkdir -p "${MNT[$s]}"
done
rm "$W/master.img"
for s in $SYSTEMS; do
	case $s in
	ext4) mount -o loop "$W/ext4.img" "${MNT[ext4]}" ;;
	fuse2fs) fuse2fs "$W/fuse2fs.img" "${MNT[fuse2fs]}" > "$W/fuse2fs.out" 2>&1 ;;
	iomap_upcall) "$BUILD/server/fuse-iomap-ext4" "$W/iomap_upcall.img" "${MNT[iomap_upcall]}" > "$W/upcall.out" 2>&1 & ;;
	iomap_bpf) "$BUILD/server/fuse-iomap-ext4" --bpf "$W/iomap_bpf.img" "${MNT[iomap_bpf]}" > "$W/bpf.out" 2>&1 & ;;
	esac
done
nsys=$(echo $SYSTEMS | wc -w)
for i in $(seq 100); do
	n=0
	for s in $SYSTEMS; do grep -q " ${MNT[$s]} " /proc/mounts && n=$((n + 1)); done
	[ $n = "$nsys" ] && break
	sleep 0.1
done
[ $n = "$nsys" ] || { echo "bench: not all systems mounted"; cat "$W"/*.out; exit 1; }
for s in iomap_upcall iomap_bpf; do
	case " $SYSTEMS " in *" $s "*) CONN[$s]=/sys/fs/fuseiomap/iomap/$(stat -c %d "${MNT[$s]}") ;; esac
done
# iomap_bpf_nosimple: the iomap_bpf mount with the simple read path off.
MNT[iomap_bpf_nosimple]=${MNT[iomap_bpf]:-} CONN[iomap_bpf_nosimple]=${CONN[iomap_bpf]:-}
if [ "$NOSIMPLE" = 1 ]; then
	[ -w "${CONN[iomap_bpf]}/simple_read" ] || {
		echo "bench: error: ${CONN[iomap_bpf]}/simple_read is missing: this fuse_iomap.ko has no simple read path knob," \
			"so there are no iomap_bpf_nosimple rows to measure (NOSIMPLE=0 leaves them out)"; exit 1; }
	[ "$(cat "${CONN[iomap_bpf]}/simple_read")" = 1 ] ||
		{ echo "bench: error: ${CONN[iomap_bpf]}/simple_read is not 1 (the default) at mount"; exit 1; }
	# Whatever happens, the mount keeps its simple path on.
	trap '{ echo 1 > "${CONN[iomap_bpf]}/simple_read"; } 2>/dev/null || true' EXIT
fi
# io_uring setup, once, on the kernel's ext4: a clear error here rather than
# a failed cell 40 minutes in.
fio --name=probe --ioengine=io_uring --iodepth=4 --filename="${MNT[ext4]}/seq" --rw=randread --bs=4k \
	--direct=1 --size=1M --io_size=64k --output="$W/probe.out" > "$W/probe.err" 2>&1 ||
	{ echo "bench: error: fio's io_uring engine does not work in this guest:"; cat "$W/probe.out" "$W/probe.err"; exit 1; }
# Warm-up for the BPF tier: one read per file publishes its extents.
case " $SYSTEMS " in *" iomap_bpf "*)
	for f in seq frag frag100k rewrite; do
		dd if="${MNT[iomap_bpf]}/$f" of=/dev/null bs=4096 count=1 iflag=direct status=none
	done ;;
esac
images() { du -m "$W"/*.img | awk '{ printf "%s%s %s", n++ ? ", " : "", $2, $1 } END { printf " MiB" }' |
	sed "s|$W/||g; s|\.img||g"; echo "; /tmp $(df -m --output=used /tmp | tail -n1 | tr -d ' ') MiB used"; }
say "images: $(images)"

# --- the cells ------------------------------------------------------------------
# A cell is WORKLOAD ENGINE DEPTH JOBS.  The psync cells are at queue depth
# 1 with one job; the io_uring cells are the depths people quote: 4 KiB
# random O_DIRECT reads of the contiguous "seq" and the fragmented "frag" at
# queue depth 1 and 32 with 1 and 4 jobs, and 128 KiB sequential O_DIRECT
# reads at queue depth 8.  The io_uring cells run QD_RUNTIME seconds (in
# SLICES jobs, each after RAMP seconds of warm-up).
CELLS="seqread_1m_buffered:psync:1:1 seqwrite_1m_buffered:psync:1:1 seqread_1m_direct:psync:1:1
randread_4k_direct_frag:psync:1:1 randread_4k_buffered:psync:1:1 randwrite_4k_direct:psync:1:1
randwrite_4k_direct:psync:1:4
seqwrite_4k_buffered:psync:1:1 randwrite_4k_direct_prealloc:psync:1:1 append_4k_buffered_fsync:psync:1:1
seqwrite_1m_direct:psync:1:1 randread_4k_direct_frag100k:psync:1:1"
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
	seqwrite_4k_buffered)    echo "--filename=$2/newfile4k --rw=write --bs=4k --size=64M --end_fsync=1" ;;
	randwrite_4k_direct_prealloc) echo "--filename=$2/prealloc --rw=randwrite --bs=4k --size=1G --direct=1" ;;
	append_4k_buffered_fsync) echo "--filename=$2/log --rw=write --bs=4k --size=16M --fdatasync=16" ;;
	seqwrite_1m_direct)      echo "--filename=$2/newfile_direct --rw=write --bs=1M --size=128M --direct=1" ;;
	randread_4k_direct_frag100k) echo "--filename=$2/frag100k --rw=randread --bs=4k --size=$FRAG100K_SIZE --direct=1" ;;
	seqread_128k_direct)     echo "--filename=$2/seq --rw=read --bs=128k --size=256M --direct=1" ;;
	*) echo "bench: error: unknown workload $1" >&2; exit 1 ;;
	esac
}
newfile() {	# WORKLOAD: the file it writes anew each round (deleted before and after it), if any
	case $1 in
	seqwrite_1m_buffered) echo newfile ;;
	seqwrite_4k_buffered) echo newfile4k ;;
	append_4k_buffered_fsync) echo log ;;
	seqwrite_1m_direct) echo newfile_direct ;;
	randwrite_4k_direct_prealloc) echo prealloc ;;
	esac
}
timed() {	# WORKLOAD ENGINE: time based?  (the io_uring cells and the psync cells but seq*/append*)
	[ "$2" = io_uring ] && return 0
	case $1 in seq*|append*) return 1 ;; esac
}
timing() {	# WORKLOAD ENGINE: fio's time arguments, for one slice
	if [ "$2" = io_uring ]; then
		echo "--time_based --runtime=${QD_SLICE_MS}ms --ramp_time=$RAMP"
	elif timed "$1" "$2"; then
		echo "--time_based --runtime=${SLICE_MS}ms"
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

# One fio per cell and round, the systems' jobs one after the other in it
# (stonewall: one reporting group each; fio starts slowly under TCG).  Before
# each job (a system's slice), $W/hook sets the simple read knob (0 for
# iomap_bpf_nosimple, 1 otherwise) and notes the connection's counters, the
# first time in the round for a system after a sync and a cache drop; after
# the job it notes them again.  With 4 jobs (clones) it runs once per clone:
# the first clone of a slice does the work (mkdir $W/once/SYSTEM.SLICE) and
# the others wait for it (.../done) before their I/O; the report takes the
# lowest "pre" and the highest "post" of each slice.
{
	echo '#!/bin/sh'
	echo '# hook pre|post SYSTEM SLICE: see bench.sh'
	echo 'case $2 in'
	for s in iomap_upcall iomap_bpf iomap_bpf_nosimple; do echo "$s) c=${CONN[$s]:-} ;;"; done
	echo '*) c= ;;'
	echo 'esac'
	echo "o=$W/once/\$2.\$3"
	echo 'if [ $1 = pre ] && mkdir $o 2>/dev/null; then'
	echo "	if mkdir $W/once/\$2 2>/dev/null; then sync; echo 3 > /proc/sys/vm/drop_caches; fi"
	if [ "$NOSIMPLE" = 1 ]; then
		echo "	case \$2 in iomap_bpf_nosimple) v=0 ;; *) v=1 ;; esac"
		echo "	echo \$v > ${CONN[iomap_bpf]}/simple_read && [ \"\$(cat ${CONN[iomap_bpf]}/simple_read)\" = \$v ] ||"
		echo "		echo \"\$2 \$3: simple_read is not \$v\" >> $W/hookfail"
	fi
	echo '	touch $o/done'
	echo 'elif [ $1 = pre ]; then'
	echo '	while [ ! -e $o/done ]; do sleep 0.02; done'
	echo 'fi'
	echo '[ -z "$c" ] || echo "$1 $2 $3 $(cat $c/iomap_begin_upcalls) $(cat $c/simple_reads 2>/dev/null || echo NA)" \'
	echo '	"$(cat $c/iomap_end_upcalls) $(cat $c/ioend_upcalls 2>/dev/null || echo NA)" >> '"$W/ctr"
} > "$W/hook"
chmod +x "$W/hook"

# Per system, a round's numbers from its fio json+ and counter file (the
# slices summed), and the cells' medians, min-max and spread over rounds.
cat > "$W/agg.py" <<'PY'
"""agg.py round JSON CTR: one line per system (progress);
agg.py tsv RUNS RAWDIR OUT: results.tsv."""
import json, statistics, sys
from collections import Counter

def pct(bins, p):	# fio's percentile of a clat histogram: the first bin reaching p%
    n, s = sum(bins.values()), 0
    for v in sorted(bins):
        s += bins[v]
        if s >= p / 100.0 * n:
            return v / 1000.0
    return None

def rnd(jfile, cfile):
    ctr = {}	# (system, slice) -> [min pre], [max post]
    for l in open(cfile):
        ph, s, k, *v = l.split()
        v = [None if x == "NA" else int(x) for x in v]
        e, i = ctr.setdefault((s, k), [None, None]), 0 if ph == "pre" else 1
        f = min if ph == "pre" else max
        e[i] = v if e[i] is None else [None if a is None or b is None else f(a, b) for a, b in zip(e[i], v)]
    per = {}
    for j in json.load(open(jfile))["jobs"]:
        s, k = j["jobname"].rsplit(".", 1)
        io = j["write"] if j["write"]["io_bytes"] > j["read"]["io_bytes"] else j["read"]
        a = per.setdefault(s, {"bytes": 0, "ios": 0, "ms": 0, "bins": Counter(), "ctr": [0] * 4, "slices": 0,
                               "rate": {}})
        a["rate"][k] = io["io_bytes"] / max(io["runtime"], 1)
        a["bytes"] += io["io_bytes"]
        a["ios"] += io["total_ios"]
        a["ms"] += io["runtime"]
        a["slices"] += 1
        a["bins"].update({int(b): n for b, n in io["clat_ns"].get("bins", {}).items()})
        if s == "ext4" or s == "fuse2fs":
            a["ctr"] = None
        elif a["ctr"] is not None:
            pre, post = ctr.get((s, k), [None, None])
            if pre is None or post is None:
                a["ctr"] = None
            else:
                a["ctr"] = [None if x is None or b is None or c is None else x + c - b
                            for x, b, c in zip(a["ctr"], pre, post)]
    out = {}
    for s, a in per.items():
        ms, ios = max(a["ms"], 1), max(a["ios"], 1)
        if s == "ext4":
            k = [0.0] * 4
        elif a["ctr"] is None:
            k = [None] * 4
        else:
            k = [None if x is None else 1000.0 * x / ios for x in a["ctr"]]
        out[s] = (a["bytes"] / ms / 1000.0, a["ios"] * 1000.0 / ms, pct(a["bins"], 50), pct(a["bins"], 99), *k,
                  a["slices"], a["rate"])
    return out

def fmt(x, f="%.1f"):
    return "NA" if x is None else f % x

if sys.argv[1] == "round":
    for s, v in rnd(sys.argv[2], sys.argv[3]).items():
        print(s, fmt(v[0]), fmt(v[1], "%.0f"), fmt(v[2]), fmt(v[3]), fmt(v[4]), fmt(v[5]), v[8])
    sys.exit(0)

cells = {}
for line in open(sys.argv[2]):
    wl, eng, qd, nj, r, n = line.split()
    for s, v in rnd("%s/%s.json" % (sys.argv[3], n), "%s/%s.ctr" % (sys.argv[3], n)).items():
        cells.setdefault((wl, eng, qd, nj), {}).setdefault(s, []).append(v)
med = statistics.median
def medna(v):	# median, NA if any is missing
    return "NA" if None in v else "%.1f" % med(v)
def cv(v):	# the rounds' coefficient of variation in %: sample standard deviation / mean
    return "NA" if len(v) < 2 or statistics.mean(v) == 0 else "%.1f" % (100 * statistics.stdev(v) / statistics.mean(v))
def paired(v, ref):
    """Each slice's rate over the ext4 slice next to it in time (slice k of
    the same round), for every round: a slow minute of the host hits both
    sides of a pair, so these spread less than the rounds' medians."""
    r = [a[9][k] / b[9][k] for a, b in zip(v, ref) for k in a[9] if b[9].get(k)]
    return ("%.3f\t%.3f\t%.3f" % (med(r), min(r), max(r))) if r else "NA\tNA\tNA"
with open(sys.argv[4], "w") as f:
    f.write("workload\tioengine\tiodepth\tnumjobs\tsystem\trounds\tmbps\tmbps_min\tmbps_max\t"
            "iops\tiops_min\tiops_max\tp50_us\tp99_us\tratio_vs_ext4\tupcalls_per_1k_io\tsimple_per_1k_io\t"
            "end_upcalls_per_1k_io\tioend_upcalls_per_1k_io\tmbps_cv\tiops_cv\tslices\t"
            "paired_ratio\tpaired_ratio_min\tpaired_ratio_max\n")
    for key, per in cells.items():
        base = med([v[0] for v in per["ext4"]]) if "ext4" in per else 0
        for s, v in per.items():
            mb = [x[0] for x in v]
            io = [x[1] for x in v]
            f.write("%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n" % (
                "\t".join(key), s, len(v), med(mb), min(mb), max(mb), med(io), min(io), max(io),
                medna([x[2] for x in v]), medna([x[3] for x in v]),
                med(mb) / base if base else 0, medna([x[4] for x in v]), medna([x[5] for x in v]),
                medna([x[6] for x in v]), medna([x[7] for x in v]), cv(mb), cv(io), v[0][8],
                paired(v, per["ext4"]) if "ext4" in per else "NA\tNA\tNA"))
PY

total=0
for c in $CELLS; do
	IFS=: read -r wl eng qd nj <<< "$c"
	job "$wl" x > /dev/null
	total=$(( total + ROUNDS * $(systems $wl | wc -w) ))
done
done_runs=0 t0=$SECONDS n=0
mkdir -p "$OUT.tmp/raw"
: > "$OUT.tmp/raw/runs"
for c in $CELLS; do
	IFS=: read -r wl eng qd nj <<< "$c"
	tc=$SECONDS
	nf=$(newfile $wl)
	timed $wl $eng && ns=$SLICES || ns=1
	for r in $(seq "$ROUNDS"); do
		n=$((n + 1))
		[ -z "$nf" ] || for s in $SYSTEMS; do rm -f "${MNT[$s]}/$nf"; done
		if [ "$wl" = randwrite_4k_direct_prealloc ]; then
			# 1 GiB of preallocated (unwritten) space per system, before fio: not timed.
			tf=$SECONDS
			for s in $(systems $wl); do
				fallocate -l 1G "${MNT[$s]}/prealloc" & fp=$!
				for i in $(seq 600); do kill -0 $fp 2>/dev/null || break; sleep 0.2; done
				! kill -0 $fp 2>/dev/null ||
					{ echo "bench: error: fallocate -l 1G on $s has not returned in 120 s"; exit 1; }
				wait $fp || { echo "bench: error: fallocate -l 1G failed on $s"; exit 1; }
			done
			[ "$r" != 1 ] || say "fallocate -l 1G took $((SECONDS - tf)) s for all; allocated MiB:" \
				"$(for s in $(systems $wl); do echo -n " $s $(( $(stat -c '%b * %B' "${MNT[$s]}/prealloc") >> 20 ))"; done)"
		fi
		args=(--output-format=json+ --output="$OUT.tmp/raw/$n.json" --randrepeat=1 --norandommap
			--ioengine=$eng --iodepth=$qd --numjobs=$nj --group_reporting $(timing $wl $eng))
		for k in $(seq $ns); do
			for s in $(systems $wl); do
				args+=(--name=$s.$k --stonewall "--exec_prerun=$W/hook pre $s $k" "--exec_postrun=$W/hook post $s $k"
					$(job $wl "${MNT[$s]}"))
			done
		done
		: > "$W/ctr"
		rm -rf "$W/once" "$W/hookfail" && mkdir "$W/once"
		(cd "$W" && fio "${args[@]}") > "$W/fio.err" 2>&1 ||
			{ echo "bench: fio failed for $wl $eng qd $qd x$nj round $r: $(tail -n3 "$W/fio.err")"; exit 1; }
		[ ! -e "$W/hookfail" ] || { echo "bench: the hook failed: $(cat "$W/hookfail")"; exit 1; }
		[ "$NOSIMPLE" = 1 ] && simple iomap_bpf 1
		if [ -n "$nf" ]; then
			# Untimed: the file goes, and its blocks leave the tmpfs where the
			# system can tell the image (the kernel's ext4 through the loop
			# device; fstrim is a no-op error on the others), else every
			# round's new file would grow the image by its size.
			for s in $SYSTEMS; do rm -f "${MNT[$s]}/$nf"; done
			ft=
			for s in $SYSTEMS; do fstrim "${MNT[$s]}" 2>/dev/null && ft="$ft $s"; done
			[ "$r" != 1 ] || say "fstrim after $wl worked on:${ft:- none}"
		fi
		mv "$W/ctr" "$OUT.tmp/raw/$n.ctr"
		echo "$wl $eng $qd $nj $r $n" >> "$OUT.tmp/raw/runs"
		while read -r s mbps iops p50 p99 up sr sl; do
			done_runs=$((done_runs + 1))
			echo "bench: [$done_runs/$total $((SECONDS - t0))s] $wl $eng qd $qd x$nj $s round $r ($sl slices):" \
				"$mbps MB/s, $iops IOPS, p50/p99 $p50/$p99 us, BEGIN/simple per 1k I/O $up/$sr"
		done < <(python3 "$W/agg.py" round "$OUT.tmp/raw/$n.json" "$OUT.tmp/raw/$n.ctr")
	done
	say "cell $wl $eng qd $qd x$nj: $((SECONDS - tc)) s for $ROUNDS rounds; images: $(images)"
done
say "fio runs took $((SECONDS - t0)) s"

python3 "$W/agg.py" tsv "$OUT.tmp/raw/runs" "$OUT.tmp/raw" "$OUT.tmp/results.tsv"

for s in $SYSTEMS; do umount "${MNT[$s]}"; done
wait
rm -f "$W"/*.img

# --- mapping cost: extent_map with N extents ----------------------------------
if [ "$MAPPING" = 1 ]; then
	say "mapping cost: extent_map with 10 .. 1,000,000 extents ($SECONDS s in)"
	"$REPO/bench/mapping.sh" "$BUILD" "$W/mapping" "$OUT.tmp/mapping.tsv" "$RUNTIME"
fi
rmmod fuse_iomap || true
uname -r > "$OUT.tmp/kernel"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
say "done in $SECONDS s: $OUT/results.tsv, $OUT/mapping.tsv"
