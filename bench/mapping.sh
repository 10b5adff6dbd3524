#!/bin/bash
# The mapping-cost microbenchmark, in the guest (bench/bench.sh runs it
# when MAPPING=1; make bench-mapping runs it alone; it runs against another
# build too):
#   bench/mapping.sh BUILD WORKDIR OUT.tsv [RUNTIME]
# For N = 10, 1,000, 100,000 and 1,000,000 one-block extents (every other
# block of one file, fuse-iomap-blockfs --bpf from a side file, one mount
# per N, all four mounted at once), ROUNDS rounds (default 3) of RUNTIME
# seconds (default 4) of fio 4 KiB O_DIRECT random reads over each whole
# file, every mapping answered by extent_map.  The rounds interleave the
# four files and rotate their order, so that the guest's drift under TCG
# (a round's latency moves by 1.5x from one minute to the next) falls on
# every N alike.  Per N: the median read latency (fio's clat p50, the
# median over rounds with their min-max, and the mean), IOPS, the upcalls
# (0), the lookup's own cost in ns (extent_map_begin's run time over its
# runs, kernel.bpf_stats_enabled), the store's resident bytes per extent
# (the server's arena pages, from fi-store), and the paired ratio: each
# round's p50 over the same round's at 10 extents, median and min-max.
set -euo pipefail
BUILD=$1 W=$2 TSV=$3 RUNTIME=${4:-4} ROUNDS=${ROUNDS:-3}
NS="10 1000 100000 1000000"
say() { echo "bench: $*"; }
BPFTOOL=$BUILD/bpftool/bpftool
FISTORE=$BUILD/testsrv/fi-store

# prog_stats ID: "run_time_ns run_cnt" of BPF program ID.
prog_stats() {
	"$BPFTOOL" -j prog show id "$1" | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}
# newest_begin: the id of the newest extent_map_begin (the kernel keeps 15
# characters of a program's name), that is the one the last mount loaded.
newest_begin() {
	"$BPFTOOL" -j prog show | python3 -c '
import json, sys
p = [p["id"] for p in json.load(sys.stdin) if p.get("name", "").startswith("extent_map_begi")]
print(max(p) if p else 0)'
}

[ -d /sys/module/fuse_iomap ] || insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
mkdir -p "$W/runs"
rm -f "$W"/runs/*
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
declare -A DEV PID PROG MNT
cleanup() {
	for n in $NS; do
		[ -z "${MNT[$n]:-}" ] || umount "${MNT[$n]}" 2>/dev/null || true
		[ -z "${PID[$n]:-}" ] || wait "${PID[$n]}" 2>/dev/null || true
		[ -z "${DEV[$n]:-}" ] || losetup -d "${DEV[$n]}" 2>/dev/null || true
	done
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -f "$W"/dev-*.img "$W"/meta-*
}
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

for n in $NS; do
	python3 - "$W/meta-$n" $n <<'PY'
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write("B 4096\nN 1 40755 0 0 0 0 0\nN 2 100644 0 0 %d 0 0\nD 1 2 %s\n" % (2 * n * 4096, b"big".hex()))
    f.writelines("E 2 %d %d 1\n" % (2 * i, i + 16) for i in range(n))
PY
	truncate -s $(( (n + 64) * 4096 + (16 << 20) )) "$W/dev-$n.img"
	DEV[$n]=$(losetup -f --show "$W/dev-$n.img")
	MNT[$n]=$W/bfs-$n
	mkdir -p "${MNT[$n]}"
	"$BUILD/server/fuse-iomap-blockfs" --bpf --meta "$W/meta-$n" "${DEV[$n]}" "${MNT[$n]}" \
		> "$W/bfs-$n.out" 2>&1 &
	PID[$n]=$!
	for _ in $(seq 300); do grep -q " ${MNT[$n]} " /proc/mounts && break; sleep 0.1; done
	grep -q " ${MNT[$n]} " /proc/mounts || { say "error: blockfs with $n extents did not mount: $(tail -n1 "$W/bfs-$n.out")"; exit 1; }
	dd if="${MNT[$n]}/big" of=/dev/null bs=4096 count=1 iflag=direct status=none
	PROG[$n]=$(newest_begin)
done

for r in $(seq "$ROUNDS"); do
	# Rotate the order: round r starts at the ((r-1) mod 4)th N.
	all=($NS) k=$(( (r - 1) % 4 ))
	for n in "${all[@]:k}" "${all[@]:0:k}"; do
		c=/sys/fs/fuseiomap/iomap/$(stat -c %d "${MNT[$n]}")
		u0=$(cat "$c/iomap_begin_upcalls")
		read -r t0 r0 < <(prog_stats "${PROG[$n]}")
		# Random 4 KiB reads over the whole file, extents and holes alike: every one a BPF answer.
		fio --name=m --ioengine=psync --output-format=json --filename="${MNT[$n]}/big" --rw=randread \
			--bs=4k --direct=1 --size=$((2 * n * 4096)) --time_based --runtime="$RUNTIME" \
			--randrepeat=1 > "$W/m.json" 2> "$W/m.err" || { say "fio failed: $(tail -n1 "$W/m.err")"; exit 1; }
		read -r t1 r1 < <(prog_stats "${PROG[$n]}")
		u1=$(cat "$c/iomap_begin_upcalls")
		python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%s %s %.1f %.1f %.0f %s %d %d" % (sys.argv[2], sys.argv[3], r["clat_ns"]["percentile"]["50.000000"] / 1000,
      r["clat_ns"]["mean"] / 1000, r["iops"], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])))' \
			"$W/m.json" "$r" "$n" $((u1 - u0)) $((t1 - t0)) $((r1 - r0)) >> "$W/runs/all"
		say "  round $r, $n extents: $(tail -n1 "$W/runs/all" | awk '{ print $3 " us p50, " $4 " us mean, " $5 " IOPS, " $6 " upcalls" }')"
	done
done

for n in $NS; do
	b=$("$FISTORE" "${PID[$n]}" bytes 2> "$W/store.err") ||
		{ say "fi-store could not read the store's size at $n extents: $(tail -n1 "$W/store.err")" >&2; b=0; }
	echo "$n $b"
done > "$W/runs/bytes"

python3 - "$W/runs/all" "$W/runs/bytes" "$TSV" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
nbytes = dict(l.split() for l in open(sys.argv[2]))
ns = sorted({int(r[1]) for r in runs})
p50 = {(int(r[0]), int(r[1])): float(r[2]) for r in runs}
rounds = sorted({int(r[0]) for r in runs})
base = ns[0]
rng = lambda v: "%s-%s" % (min(v), max(v))
with open(sys.argv[3], "w") as f:
    f.write("extents\tlat_us\tlat_range_us\tmean_us\tiops\tupcalls\tlookup_ns\tstore_bytes_per_extent\t"
            "paired_ratio\tpaired_range\n")
    for n in ns:
        rs = [r for r in runs if int(r[1]) == n]
        lat = [float(r[2]) for r in rs]
        ratios = [round(p50[(k, n)] / p50[(k, base)], 2) for k in rounds]
        cnt = sum(int(r[7]) for r in rs)
        f.write("%d\t%.1f\t%s\t%.1f\t%.0f\t%d\t%d\t%d\t%.2f\t%s\n" % (
            n, statistics.median(lat), rng(lat), statistics.median(float(r[3]) for r in rs),
            statistics.median(float(r[4]) for r in rs), sum(int(r[5]) for r in rs),
            sum(int(r[6]) for r in rs) // max(cnt, 1), int(nbytes.get(str(n), 0)) // n,
            statistics.median(ratios), rng(ratios)))
PY
while IFS=$'\t' read -r n lat lr mean iops up ns bpe pr prr; do
	[ "$n" = extents ] && continue
	say "  $n extents: $lat us p50 ($lr over $ROUNDS rounds, mean $mean), $iops IOPS, $up upcalls, $ns ns per lookup, $bpe B/extent of store, ${pr}x of 10 extents' p50 paired ($prr)"
done < "$TSV"
