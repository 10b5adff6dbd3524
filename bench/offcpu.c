// SPDX-License-Identifier: GPL-2.0
/*
 * fi-offcpu: run a command and say where its processes' time went, as
 * JSON on stdout: wall time, on-CPU time, off-CPU time in all and by the
 * kernel stack each sleep began with, cpu-clock samples by kernel stack
 * (each the TOP largest, symbolized from /proc/kallsyms), and context
 * switches.  For make bench-explain (bench/explain.sh); the counting is
 * bench/offcpu.bpf.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "offcpu.h"
#include "offcpu.skel.h"

#define PROG "fi-offcpu"
#define OFFCPU_SAMPLE_HZ	1999
#define OFFCPU_MAX_CPUS		256

struct ksym {
	unsigned long long addr;
	char *name;
};

struct ctx {
	struct offcpu_bpf *skel;
	struct ksym *syms;
	size_t nsyms;
	unsigned int top;
	int watch;			/* -p: a process whose CPU time to report, or 0 */
	struct bpf_link *links[OFFCPU_MAX_CPUS];	/* the samplers */
	int nlinks;
	double busy_us, watch_us;	/* over the run: all CPUs busy, @watch's */
};

/* Every CPU's non-idle time since boot, from /proc/stat, in µs. */
static double cpu_busy_us(void)
{
	unsigned long long v[8] = { 0 };
	FILE *fp = fopen("/proc/stat", "r");
	int n = 0;

	if (fp) {
		n = fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(fp);
	}
	if (n != 8)
		return 0;
	/* user nice system idle iowait irq softirq steal: all but idle and iowait */
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e6 / sysconf(_SC_CLK_TCK);
}

/* The time on a CPU of every thread of @pid (schedstat, ns), in µs. */
static double proc_cpu_us(int pid)
{
	char path[64], file[384];
	unsigned long long ns, sum = 0;
	struct dirent *e;
	FILE *fp;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/schedstat", path, e->d_name);
		fp = fopen(file, "r");
		if (fp && fscanf(fp, "%llu", &ns) == 1)
			sum += ns;
		if (fp)
			fclose(fp);
	}
	if (d)
		closedir(d);
	return sum / 1e3;
}

struct row {
	__s32 id;
	struct offcpu_stack st;
};

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Text symbols of the kernel and its modules, sorted by address. */
static int ksyms_load(struct ctx *c)
{
	FILE *fp = fopen("/proc/kallsyms", "r");
	char line[512], name[256], type;
	unsigned long long addr;
	size_t cap = 0;

	if (!fp) {
		fprintf(stderr, PROG ": can't open /proc/kallsyms: %s\n", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 ||
		    (type != 't' && type != 'T') || !addr)
			continue;
		if (c->nsyms == cap) {
			struct ksym *n = realloc(c->syms, (cap = cap ? 2 * cap : 65536) * sizeof(*n));

			if (!n)
				break;
			c->syms = n;
		}
		c->syms[c->nsyms].addr = addr;
		c->syms[c->nsyms++].name = strdup(name);
	}
	fclose(fp);
	if (!c->nsyms) {
		fprintf(stderr, PROG ": /proc/kallsyms shows no addresses (run as root)\n");
		return -1;
	}
	qsort(c->syms, c->nsyms, sizeof(*c->syms), ksym_cmp);
	return 0;
}

static const char *ksym_name(const struct ctx *c, unsigned long long addr)
{
	size_t lo = 0, hi = c->nsyms;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (c->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return c->syms[lo].addr <= addr ? c->syms[lo].name : "?";
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->st.ns < y->st.ns ? 1 : x->st.ns > y->st.ns ? -1 : 0;
}

static void print_stack(const struct ctx *c, __s32 id)
{
	const struct bpf_map *map = id & OFFCPU_SPILL ? c->skel->maps.spill : c->skel->maps.stacks;
	__s32 key = id & ~OFFCPU_SPILL;
	__u64 ips[OFFCPU_DEPTH] = { 0 };
	const char *sep = "";
	int i, from = 0;

	printf("[");
	if (id >= 0 && !bpf_map__lookup_elem(map, &key, sizeof(key), ips, sizeof(ips), 0)) {
		/* The tracepoint's own frames end at __schedule: start after it. */
		for (i = 0; i < OFFCPU_DEPTH && ips[i]; i++)
			if (!strcmp(ksym_name(c, ips[i]), "__schedule"))
				from = i + 1;
		for (i = from; i < OFFCPU_DEPTH && ips[i]; i++, sep = ", ")
			printf("%s\"%s\"", sep, ksym_name(c, ips[i]));
	}
	printf("]");
}

/* The rows of a stack-keyed map, largest first; *@n of them. */
static struct row *collect(struct bpf_map *m, bool samples, size_t *n)
{
	struct row *rows = NULL;
	size_t cap = 0;
	__s32 key, next, *prev = NULL;
	__u64 count;

	*n = 0;
	while (!bpf_map__get_next_key(m, prev, &next, sizeof(next))) {
		if (*n == cap) {
			struct row *r = realloc(rows, (cap = cap ? 2 * cap : 256) * sizeof(*r));

			if (!r)
				break;
			rows = r;
		}
		key = next;
		prev = &key;
		rows[*n].id = key;
		if (samples) {
			if (bpf_map__lookup_elem(m, &key, sizeof(key), &count, sizeof(count), 0))
				continue;
			rows[*n].st.count = count;
			rows[*n].st.ns = count * 1000000000ULL / OFFCPU_SAMPLE_HZ;
		} else if (bpf_map__lookup_elem(m, &key, sizeof(key), &rows[*n].st,
						sizeof(rows[*n].st), 0)) {
			continue;
		}
		(*n)++;
	}
	qsort(rows, *n, sizeof(*rows), row_cmp);
	return rows;
}

static void print_rows(const struct ctx *c, const char *name, const struct row *rows, size_t n)
{
	size_t i;

	printf("\"%s\": [", name);
	for (i = 0; i < n && i < c->top; i++) {
		printf("%s\n  {\"us\": %.0f, \"count\": %llu, \"frames\": ", i ? "," : "",
		       rows[i].st.ns / 1e3, (unsigned long long)rows[i].st.count);
		if (rows[i].id == OFFCPU_USER)
			printf("[\"(user space)\"]");
		else
			print_stack(c, rows[i].id);
		printf("}");
	}
	printf("]");
}

static int print_report(const struct ctx *c, double wall_s, int status)
{
	const struct offcpu_totals *t = &c->skel->bss->totals;
	struct row *off, *on;
	size_t noff, non, i;
	__u64 samples = 0;

	off = collect(c->skel->maps.offcpu, false, &noff);
	on = collect(c->skel->maps.oncpu, true, &non);
	for (i = 0; i < non; i++)
		samples += on[i].st.count;
	printf("{\"wall_us\": %.0f, \"oncpu_us\": %.0f, \"offcpu_us\": %.0f, "
	       "\"cpu_busy_us\": %.0f, \"watched_cpu_us\": %.0f, "
	       "\"voluntary\": %llu, \"involuntary\": %llu, \"lost_stacks\": %llu, "
	       "\"exit\": %d, \"sample_hz\": %d, \"samples\": %llu, ",
	       wall_s * 1e6, t->oncpu_ns / 1e3, t->offcpu_ns / 1e3, c->busy_us, c->watch_us,
	       (unsigned long long)t->voluntary, (unsigned long long)t->involuntary,
	       (unsigned long long)t->lost_stacks, status, OFFCPU_SAMPLE_HZ,
	       (unsigned long long)samples);
	print_rows(c, "stacks", off, noff);
	printf(", ");
	print_rows(c, "oncpu_stacks", on, non);
	printf("}\n");
	free(off);
	free(on);
	return 0;
}

/* A cpu-clock sampler on every CPU, each running offcpu_sample. */
static int attach_samplers(struct ctx *c)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = OFFCPU_SAMPLE_HZ,
		.freq = 1,
	};
	int cpu, ncpu = libbpf_num_possible_cpus(), fd;
	struct bpf_link *link;

	for (cpu = 0; cpu < ncpu && cpu < OFFCPU_MAX_CPUS; cpu++) {
		fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			if (errno == ENODEV)	/* a possible CPU that is not online */
				continue;
			fprintf(stderr, PROG ": can't sample CPU %d (perf_event_open): %s\n", cpu,
				strerror(errno));
			return -1;
		}
		link = bpf_program__attach_perf_event(c->skel->progs.offcpu_sample, fd);
		if (!link) {
			fprintf(stderr, PROG ": can't attach to CPU %d's sampler: %s\n", cpu,
				strerror(errno));
			close(fd);
			return -1;
		}
		c->links[c->nlinks++] = link;
	}
	return 0;
}

/* The command, started once its pid is tracked; its exit status. */
static int run(struct ctx *c, char **argv, double *wall_s)
{
	struct timespec t0, t1;
	int go[2], status;
	__u8 one = 1;
	__u32 pid;
	char b = 0;

	if (pipe(go)) {
		fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		/* Our stdout is the report's. */
		if (read(go[0], &b, 1) != 1 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, PROG ": can't run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	if ((int)pid < 0 || bpf_map__update_elem(c->skel->maps.tracked, &pid, sizeof(pid), &one,
						 sizeof(one), BPF_ANY)) {
		fprintf(stderr, PROG ": can't start %s: %s\n", argv[0], strerror(errno));
		close(go[1]);
		return -1;
	}
	c->busy_us = -cpu_busy_us();
	c->watch_us = c->watch ? -proc_cpu_us(c->watch) : 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (write(go[1], &b, 1) != 1)
		fprintf(stderr, PROG ": can't start %s: %s\n", argv[0], strerror(errno));
	close(go[1]);
	if (waitpid(pid, &status, 0) < 0) {
		fprintf(stderr, PROG ": waitpid: %s\n", strerror(errno));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->busy_us += cpu_busy_us();
	c->watch_us = c->watch ? c->watch_us + proc_cpu_us(c->watch) : 0;
	*wall_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [-t TOP] [-p PID] -- COMMAND [ARGS...]\n"
"\n"
"Run COMMAND and print, as one JSON object, where the time of its\n"
"processes (and of what they fork) went: wall_us, oncpu_us, offcpu_us,\n"
"voluntary and involuntary context switches, and the TOP (default 5)\n"
"kernel stacks that the most off-CPU time began with (us, count, frames\n"
"innermost first, from __schedule's caller); its time on a CPU sampled\n"
"at sample_hz by kernel stack (oncpu_stacks, the TOP largest; samples in\n"
"all); and over the same time\n"
"every CPU's busy time (cpu_busy_us, /proc/stat) and, with -p, the time\n"
"on a CPU of PID's threads (watched_cpu_us).  COMMAND's stdout goes to\n"
"stderr.  exit is COMMAND's exit status.  Needs root (BPF,\n"
"/proc/kallsyms).\n"
"\n"
"  -t, --top N   how many stacks (1 to 1000)\n"
"  -p, --pid PID also report PID's CPU time (a server, say)\n"
"  -h, --help    this help\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ctx c = { .top = 5 };
	double wall_s = 0;
	int opt, status, ret = 1;

	while ((opt = getopt_long(argc, argv, "+t:p:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			c.top = atoi(optarg);
			if (c.top < 1 || c.top > 1000) {
				fprintf(stderr, PROG ": --top must be 1 to 1000, not %s\n", optarg);
				return 2;
			}
			break;
		case 'p':
			c.watch = atoi(optarg);
			if (c.watch <= 0 || kill(c.watch, 0)) {
				fprintf(stderr, PROG ": --pid %s: no such process\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": expected a COMMAND\n");
		usage(stderr);
		return 2;
	}
	if (ksyms_load(&c))
		goto out;
	c.skel = offcpu_bpf__open_and_load();
	if (!c.skel) {
		fprintf(stderr, PROG ": can't load the BPF program: %s\n", strerror(errno));
		goto out;
	}
	if (offcpu_bpf__attach(c.skel)) {
		fprintf(stderr, PROG ": can't attach to sched_switch: %s\n", strerror(errno));
		goto out;
	}
	if (attach_samplers(&c))
		goto out;
	status = run(&c, argv + optind, &wall_s);
	if (status >= 0)
		ret = print_report(&c, wall_s, status) ? 1 : 0;
out:
	while (c.nlinks)
		bpf_link__destroy(c.links[--c.nlinks]);
	offcpu_bpf__destroy(c.skel);
	while (c.nsyms)
		free(c.syms[--c.nsyms].name);
	free(c.syms);
	return ret;
}
