#!/usr/bin/python3
"""Turn make bench's raw results into what a person reads: DIR/results.md
(the tables) and DIR/ratios.png (gnuplot: ratio to the kernel's ext4 per
cell and system).

usage: report.py DIR
"""
import csv
import os
import subprocess
import sys

SIMPLE_ON, SIMPLE_OFF = "iomap_bpf", "iomap_bpf_nosimple"


def label(r):
    """A cell's short name: the workload, plus depth and jobs for io_uring, jobs if more than one for psync."""
    if r["ioengine"] == "psync":
        return r["workload"] if r["numjobs"] == "1" else "%s x%s" % (r["workload"], r["numjobs"])
    return "%s qd%s x%s" % (r["workload"], r["iodepth"], r["numjobs"])


def ratio(r):
    """The paired ratio to ext4 with its min-max, then the ratio of the medians."""
    p = r.get("paired_ratio", "NA")
    if p in ("NA", "", None):
        return "%.2fx" % float(r["ratio_vs_ext4"])
    return "%.2fx paired (%.2f-%.2f), %.2fx of medians" % (
        float(p), float(r["paired_ratio_min"]), float(r["paired_ratio_max"]), float(r["ratio_vs_ext4"]))


def spread(med, lo, hi, unit, cv="NA"):
    """median unit (min-max, ±coefficient of variation of the rounds); no ± with one round."""
    return "%s %s (%s-%s%s)" % (med, unit, lo, hi, "" if cv in ("NA", "", None) else ", ±%.0f%%" % float(cv))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(d, "results.tsv")), delimiter="\t"))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    cells = list(dict.fromkeys(label(r) for r in rows))
    cell = {(label(r), r["system"]): r for r in rows}
    psync = [c for c in cells if cell[(c, "ext4")]["ioengine"] == "psync"]
    uring = [c for c in cells if c not in psync]
    rounds = sorted(set(r["rounds"] for r in rows))
    slices = sorted(set(r.get("slices", "1") for r in rows if r["ioengine"] == "io_uring" or
                        not r["workload"].startswith(("seq", "append"))))
    kernel = open(os.path.join(d, "kernel")).read().strip() if os.path.exists(os.path.join(d, "kernel")) else "?"
    out = ["# make bench", "",
           "One QEMU guest boot (TCG, no KVM: the CPU bounds every system), kernel %s. "
           "Median of %s rounds per cell; in brackets the rounds' min-max and their spread, ±N%% = "
           "coefficient of variation (sample standard deviation / mean of the rounds' MB/s or IOPS; "
           "none with one round). "
           "One fio per round runs every system; in time-based cells (io_uring, and the psync cells "
           "but seq* and append*) each system's round is %s slices interleaved with the other "
           "systems' (slice-major), its value the slices' bytes and I/Os over their summed runtime, "
           "its p50/p99 from their merged latency histograms. Caches are dropped once per system and "
           "round. `%s` is the `%s` mount with its simple read path off (simple_read = 0) during its "
           "slices, in the cells where the simple path can apply; - where a system has no row."
           % (kernel, "/".join(rounds), "/".join(slices) or "1", SIMPLE_OFF, SIMPLE_ON), "",
           "## psync, queue depth 1, one job", "",
           "Cells: MB/s (min-max, ±CV), ratio to the kernel's ext4 (the median of paired ratios, each "
           "slice over the ext4 slice next to it in time, with their min-max; then the ratio of the "
           "rounds' medians), FUSE_IOMAP_BEGIN/END/IOEND upcalls per 1000 I/Os.", "",
           "| workload | " + " | ".join(systems) + " |",
           "| --- |" + " --- |" * len(systems)]
    for c in psync:
        cs = []
        for s in systems:
            r = cell.get((c, s))
            cs.append("-" if r is None else "%s, %s, %s/%s/%s" % (
                spread(r["mbps"], r["mbps_min"], r["mbps_max"], "MB/s", r.get("mbps_cv")),
                ratio(r),
                r["upcalls_per_1k_io"], r.get("end_upcalls_per_1k_io", "NA"),
                r.get("ioend_upcalls_per_1k_io", "NA")))
        out.append("| %s | %s |" % (c, " | ".join(cs)))

    if uring:
        on_off = SIMPLE_ON in systems and SIMPLE_OFF in systems
        out += ["", "## Queue depth (io_uring)", "",
                "Cells: IOPS (min-max, ±CV), ratio to the kernel's ext4, p50/p99 completion latency in us "
                "(fio clat), MB/s, FUSE_IOMAP_BEGIN upcalls per 1000 I/Os. `qd32 x4`: io_uring queue "
                "depth 32, 4 jobs (group_reporting: IOPS summed over the jobs)."
                + (" Last column: the simple read path's gain, %s IOPS / %s IOPS." % (SIMPLE_ON, SIMPLE_OFF)
                   if on_off else ""), "",
                "| cell | " + " | ".join(systems) + (" | simple path on vs off |" if on_off else " |"),
                "| --- |" + " --- |" * (len(systems) + on_off)]
        gains = []
        for c in uring:
            cs = []
            for s in systems:
                r = cell.get((c, s))
                cs.append("-" if r is None else "%s, %s, %s/%s us, %s MB/s, %s" % (
                    spread(r["iops"], r["iops_min"], r["iops_max"], "IOPS", r.get("iops_cv")),
                    ratio(r),
                    r["p50_us"], r["p99_us"], r["mbps"], r["upcalls_per_1k_io"]))
            if on_off:
                a, b = cell.get((c, SIMPLE_ON)), cell.get((c, SIMPLE_OFF))
                if a and b and float(b["iops"]) > 0:
                    g = float(a["iops"]) / float(b["iops"])
                    cs.append("%.3fx (%+.1f%%)" % (g, 100 * (g - 1)))
                    gains.append((c, g))
                else:
                    cs.append("-")
            out.append("| %s | %s |" % (c, " | ".join(cs)))
        if gains:
            out += ["", "Simple path on vs off (%s / %s, median IOPS): " % (SIMPLE_ON, SIMPLE_OFF)
                    + "; ".join("%s %+.1f%%" % (c, 100 * (g - 1)) for c, g in gains) + "."]
    # Every cell with a nosimple row, psync ones too.
    off = set(label(r) for r in rows if r["system"] == SIMPLE_OFF)
    sp = [r for r in rows if r["system"] in (SIMPLE_ON, SIMPLE_OFF) and label(r) in off
          and r.get("simple_per_1k_io", "NA") != "NA"]
    if sp:
        out += ["", "Reads that took the simple path, per 1000 I/Os (counter simple_reads; in io_uring "
                "cells it also counts the RAMP seconds fio does not report): "
                + "; ".join("%s %s %s" % (label(r), r["system"], r["simple_per_1k_io"]) for r in sp) + "."]

    mp = os.path.join(d, "mapping.tsv")
    if os.path.exists(mp):
        out += ["", "## Mapping cost", "",
                "4 KiB O_DIRECT random reads of a file of N one-block extents, every "
                "mapping answered by extent_map (fuse-iomap-blockfs --bpf), the four files "
                "in interleaved rounds. Latency: fio's p50, the median over rounds (min-max); "
                "paired: each round's p50 over the same round's at 10 extents.", "",
                "| extents | latency per read (us) | paired to 10 extents | IOPS | upcalls | ns per lookup "
                "| store bytes per extent |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in csv.DictReader(open(mp), delimiter="\t"):
            out.append("| %s | %s (%s) | %sx (%s) | %s | %s | %s | %s |" % (
                r["extents"], r["lat_us"], r["lat_range_us"], r["paired_ratio"], r["paired_range"],
                r["iops"], r["upcalls"], r["lookup_ns"], r["store_bytes_per_extent"]))
    open(os.path.join(d, "results.md"), "w").write("\n".join(out) + "\n")

    dat = os.path.join(d, "ratios.dat")
    with open(dat, "w") as f:
        f.write("cell " + " ".join(systems) + "\n")
        for c in cells:
            f.write(c.replace(" ", "_") + " " + " ".join(
                (cell[(c, s)].get("paired_ratio") or "NA").replace("NA", cell[(c, s)]["ratio_vs_ext4"])
                if (c, s) in cell else "NaN" for s in systems) + "\n")
    plot = "\n".join([
        "set terminal png size 1600,600 noenhanced",
        "set output '%s'" % os.path.join(d, "ratios.png"),
        "set title 'Throughput relative to the kernel ext4 driver (paired ratios; 1.0 = equal)'",
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set ylabel 'ratio to ext4'",
        "set xtics rotate by -30", "set key outside top center horizontal", "set yrange [0:*]",
        "set bmargin 10", "set rmargin 8",
        "plot " + ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (dat, i + 2, i + 2)
                            for i in range(len(systems))),
    ])
    subprocess.run(["gnuplot"], input=plot.encode(), check=True)
    os.remove(dat)


if __name__ == "__main__":
    main()
