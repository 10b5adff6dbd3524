#!/usr/bin/python3
# The tables of make bench-explain from its explain.json (bench/explain.sh):
# per cell, each system's time per I/O split into on-CPU and off-CPU, with
# context switches, device writes and flushes, every CPU's busy time and
# the server's; then the stacks most off-CPU time began with.  The column
# "iomap_bpf - ext4" is the work list.
# usage: explain.py explain.json > explain.md
import json
import sys

SCHED = {"schedule", "schedule_timeout", "io_schedule", "io_schedule_timeout",
         "schedule_preempt_disabled", "schedule_hrtimeout_range_clock",
         "schedule_hrtimeout_range", "preempt_schedule_common", "__cond_resched",
         "preempt_schedule", "preempt_schedule_irq"}
SHOW = 5
P9 = "(loading the program from the guest's 9p root)"
ENTRY = {"do_syscall_64", "entry_SYSCALL_64_after_hwframe", "x64_sys_call"}


def where(frames, depth=4, oncpu=False):
    """The first frames that say why a task slept (or, on a CPU, what it
    ran), innermost first."""
    f = [x for x in frames if (oncpu or x not in SCHED) and x not in ENTRY]
    return " < ".join(f[:depth]) if f else "(no stack)"


def grouped(stacks):
    """(µs, count, where) by summary, largest first.  The guest's root is
    9p: the workload's exec and its loading of programs and libraries
    sleep in p9_*, which is no file system's cost here: one row."""
    by = {}
    for st in stacks:
        key = P9 if any(f.startswith("p9_") for f in st["frames"]) else where(st["frames"])
        us, count = by.get(key, (0, 0))
        by[key] = (us + st["us"], count + st["count"])
    return sorted(((us, n, k) for k, (us, n) in by.items()), reverse=True)


def rows(r):
    n = r["ios"]
    sw = r["voluntary"] + r["involuntary"]
    return [
        ("wall µs", r["wall_us"] / n),
        ("writer on-CPU µs", r["oncpu_us"] / n),
        ("writer off-CPU µs", r["offcpu_us"] / n),
        ("context switches (preempted)", "%.2f (%.2f)" % (sw / n, r["involuntary"] / n)),
        ("device write requests", r["dev_writes"] / n),
        ("device flushes", r["dev_flushes"] / n),
        ("all CPUs busy µs", r["cpu_busy_us"] / n),
        ("server on-CPU µs", r["watched_cpu_us"] / n if r["system"] != "ext4" else "-"),
    ]


def cell(v):
    return "%.2f" % v if isinstance(v, float) else str(v)


def main():
    runs = json.load(open(sys.argv[1]))
    cells = list(dict.fromkeys(r["cell"] for r in runs))
    print("# make bench-explain\n")
    print("Per I/O (a file in metadata_create_unlink). Off-CPU: the writer's sleeps, "
          "by the kernel stack each began with (innermost first).\n")
    for c in cells:
        by = {r["system"]: r for r in runs if r["cell"] == c}
        systems = list(by)
        print("## %s (%d I/Os)\n" % (c, by[systems[0]]["ios"]))
        diff = len(systems) == 2
        print("| per I/O | " + " | ".join(systems) + (" | %s - %s |" % (systems[1], systems[0]) if diff else " |"))
        print("| --- " * (len(systems) + 1 + diff) + "|")
        table = {s: rows(by[s]) for s in systems}
        for i, (name, _) in enumerate(table[systems[0]]):
            vals = [table[s][i][1] for s in systems]
            line = "| %s | " % name + " | ".join(cell(v) for v in vals)
            if diff:
                a, b = vals
                line += " | " + ("%+.2f" % (b - a) if isinstance(a, float) and isinstance(b, float) else "")
            print(line + " |")
        print("\n| system | on-CPU µs/IO (sampled) | samples/IO | share | where it ran (innermost first) |")
        print("| --- | --- | --- | --- | --- |")
        for s in systems:
            r = by[s]
            for st in r.get("oncpu_stacks", [])[:SHOW]:
                print("| %s | %.2f | %.3f | %.0f%% | %s |" % (
                    s, st["us"] / r["ios"], st["count"] / r["ios"],
                    st["count"] / r["samples"] * 100 if r["samples"] else 0,
                    where(st["frames"], 5, oncpu=True)))
        print("\n| system | off-CPU µs/IO | sleeps/IO | share | where it slept |")
        print("| --- | --- | --- | --- | --- |")
        for s in systems:
            r = by[s]
            for us, count, what in grouped(r["stacks"])[:SHOW]:
                share = us / r["offcpu_us"] * 100 if r["offcpu_us"] else 0
                print("| %s | %.2f | %.3f | %.0f%% | %s |" % (
                    s, us / r["ios"], count / r["ios"], share, what))
        print()


main()
