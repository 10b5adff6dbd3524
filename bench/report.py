#!/usr/bin/python3
"""Turn make bench's raw results into what a person reads: DIR/results.md
(the tables) and DIR/ratios.png (gnuplot: ratio to the kernel's ext4 per
workload and system).

usage: report.py DIR
"""
import csv
import os
import subprocess
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(d, "results.tsv")), delimiter="\t"))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    cell = {(r["workload"], r["system"]): r for r in rows}
    kernel = open(os.path.join(d, "kernel")).read().strip() if os.path.exists(os.path.join(d, "kernel")) else "?"
    out = ["# make bench", "",
           "One QEMU guest boot (TCG, no KVM: the CPU bounds every system), kernel %s. "
           "Median of the runs, systems interleaved run by run, caches dropped before each. "
           "Cells: MB/s, ratio to the kernel's ext4, FUSE_IOMAP_BEGIN upcalls per 1000 I/Os." % kernel, "",
           "| workload | " + " | ".join(systems) + " |",
           "| --- |" + " --- |" * len(systems)]
    for wl in workloads:
        cells = []
        for s in systems:
            r = cell[(wl, s)]
            cells.append("%s MB/s, %.2fx, %s" % (r["mbps"], float(r["ratio_vs_ext4"]), r["upcalls_per_1k_io"]))
        out.append("| %s | %s |" % (wl, " | ".join(cells)))
    mp = os.path.join(d, "mapping.tsv")
    if os.path.exists(mp):
        out += ["", "Mapping cost: 4 KiB O_DIRECT random reads of a file of N one-block extents, every "
                "mapping answered by extent_map (fuse-iomap-blockfs --bpf).", "",
                "| extents | latency per read (us) | IOPS | upcalls | map bytes per extent |", "| --- | --- | --- | --- | --- |"]
        for r in csv.DictReader(open(mp), delimiter="\t"):
            out.append("| %s | %s | %s | %s | %s |" % (r["extents"], r["lat_us"], r["iops"], r["upcalls"],
                                                     r["map_bytes_per_extent"]))
    open(os.path.join(d, "results.md"), "w").write("\n".join(out) + "\n")

    dat = os.path.join(d, "ratios.dat")
    with open(dat, "w") as f:
        f.write("workload " + " ".join(systems) + "\n")
        for wl in workloads:
            f.write(wl + " " + " ".join(cell[(wl, s)]["ratio_vs_ext4"] for s in systems) + "\n")
    plot = "\n".join([
        "set terminal png size 1100,500 noenhanced",
        "set output '%s'" % os.path.join(d, "ratios.png"),
        "set title 'Throughput relative to the kernel ext4 driver (1.0 = equal)'",
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set ylabel 'ratio to ext4'",
        "set xtics rotate by -20", "set key top left", "set yrange [0:*]",
        "plot " + ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (dat, i + 2, i + 2)
                            for i in range(len(systems))),
    ])
    subprocess.run(["gnuplot"], input=plot.encode(), check=True)
    os.remove(dat)


if __name__ == "__main__":
    main()
