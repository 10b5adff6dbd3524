#!/bin/bash
# The mapping-cost microbenchmark, in the guest (bench/bench.sh runs it
# when MAPPING=1; it runs alone too, say against another build):
#   bench/mapping.sh BUILD WORKDIR OUT.tsv [RUNTIME]
# For N = 10, 1,000, 100,000 and 1,000,000 one-block extents (every other
# block of one file, fuse-iomap-blockfs --bpf from a side file), RUNTIME
# seconds (default 4) of fio 4 KiB O_DIRECT random reads over the whole
# file, every mapping answered by extent_map.  Per N: the read latency and
# IOPS, the upcalls (0), the lookup's own cost in ns (extent_map_begin's
# run time over its runs, kernel.bpf_stats_enabled) and the store's
# resident bytes per extent (the server's arena pages, from fi-store).
set -euo pipefail
BUILD=$1 W=$2 TSV=$3 RUNTIME=${4:-4}
say() { echo "bench: $*"; }
BPFTOOL=$BUILD/bpftool/bpftool
FISTORE=$BUILD/testsrv/fi-store

# prog_stats: "run_time_ns run_cnt" of the newest extent_map_begin (the
# kernel keeps 15 characters of a program's name).
prog_stats() {
	"$BPFTOOL" -j prog show | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin) if p.get("name", "").startswith("extent_map_begi")]
p = max(p, key=lambda p: p["id"]) if p else {}
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

mkdir -p "$W"
echo -e "extents\tlat_us\tiops\tupcalls\tlookup_ns\tstore_bytes_per_extent" > "$TSV"
truncate -s $(( (1000000 + 64) * 4096 + (16 << 20) )) "$W/dev.img"
dev=$(losetup -f --show "$W/dev.img")
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
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
	read -r t0 r0 < <(prog_stats)
	# Random 4 KiB reads over the whole file, extents and holes alike: every one a BPF answer.
	fio --name=m --ioengine=psync --output-format=json --filename="$W/bfs/big" --rw=randread \
		--bs=4k --direct=1 --size=$((2 * n * 4096)) --time_based --runtime="$RUNTIME" \
		--randrepeat=1 > "$W/m.json" 2> "$W/m.err" || { echo "bench: fio failed: $(tail -n1 "$W/m.err")"; exit 1; }
	read -r t1 r1 < <(prog_stats)
	u1=$(cat "$c/iomap_begin_upcalls")
	bytes=$("$FISTORE" "$bfs" bytes 2>/dev/null || echo 0)
	read -r lat iops < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%.1f %.0f" % (r["clat_ns"]["mean"] / 1000, r["iops"]))' "$W/m.json")
	ns=$(( (t1 - t0) / ((r1 - r0) > 0 ? (r1 - r0) : 1) ))
	echo -e "$n\t$lat\t$iops\t$((u1 - u0))\t$ns\t$((bytes / n))" >> "$TSV"
	say "  $n extents: $lat us per 4k read, $iops IOPS, $((u1 - u0)) upcalls, $ns ns per lookup, $((bytes / n)) B/extent of store"
	umount "$W/bfs"
	wait $bfs
done
sysctl -qw kernel.bpf_stats_enabled="$old_stats"
losetup -d "$dev"
rm -f "$W/dev.img" "$W/meta"
