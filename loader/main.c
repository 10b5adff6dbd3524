// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-bpf: attach a fuse_bpf_ops object to an iomap mount, detach
 * it, and show what is attached where, with the connection's counters.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fuse_iomap_bpf.h"
#include "loader.h"

#define PROG "fuse-iomap-bpf"

static const char *const counters[] = {
	"iomap_begin_upcalls", "iomap_end_upcalls", "mappings_rejected",
	"bpf_hits", "bpf_fallbacks", "bpf_rejected", "bpf_errors", "simple_reads",
	"ioend_upcalls", "bpf_ioend_handled", "bpf_ioend_fallbacks", "bpf_ioend_errors",
	"bpf_ioend_pending", "times_flushed",
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " attach MOUNTPOINT OBJECT|map:ID\n"
"       " PROG " detach MOUNTPOINT\n"
"       " PROG " show [MOUNTPOINT]\n"
"       " PROG " stats MOUNTPOINT [-i SECONDS [-c COUNT]]\n"
"       " PROG " --version | --help\n"
"\n"
"attach  load the fuse_bpf_ops in OBJECT (a BPF object file with one\n"
"        .struct_ops.link map) for the iomap mount at MOUNTPOINT and attach\n"
"        it; the link is pinned at " FI_PIN_DIR "/fuse-iomap-<conn> so it\n"
"        stays attached after this command exits.  A connection takes one\n"
"        fuse_bpf_ops at a time (EBUSY otherwise).  With map:ID, attach\n"
"        the ops already loaded in struct_ops map ID (say a server's, after\n"
"        a detach: 'detach' and 'show' print the map id) to the same\n"
"        connection again; the program answers from its own maps, as\n"
"        filled by their owner.\n"
"detach  detach every fuse_bpf_ops attached to MOUNTPOINT's connection,\n"
"        ours or a server's, and remove the pin.\n"
"show    per iomap connection: mountpoint, attached ops (name, link and map\n"
"        ids) and counters; only MOUNTPOINT's if given.\n"
"stats   MOUNTPOINT's counters, one line; with -i, again every SECONDS\n"
"        (COUNT times, or until interrupted).\n"
"\n"
"Needs root (CAP_BPF and CAP_SYS_ADMIN) and fuse_iomap.ko loaded.\n");
}

/* libbpf's own messages go out as ours, like every other line we print. */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	fputs(PROG ": ", stderr);
	return vfprintf(stderr, fmt, ap);
}

/* libbpf's own errors (from 4000 up) have no strerror() text. */
static const char *bpf_errstr(int err, char *buf, size_t size)
{
	if (libbpf_strerror(err, buf, size) < 0)
		snprintf(buf, size, "%s", strerror(err));
	return buf;
}

/* Every command reads the module's sysfs: say plainly when it is missing. */
static int module_loaded(void)
{
	if (access("/sys/module/fuse_iomap", F_OK) == 0)
		return 1;
	fprintf(stderr, PROG ": fuse_iomap.ko is not loaded (insmod it first)\n");
	return 0;
}

static int conn_or_die(const char *mnt, struct fi_conn *c)
{
	int err;

	if (!module_loaded())
		return -ENOENT;
	err = fi_conn_of(mnt, c);
	if (err == -ENODEV)
		fprintf(stderr, PROG ": %s is not an iomap mount of fuse_iomap.ko\n", mnt);
	else if (err)
		fprintf(stderr, PROG ": can't stat %s: %s\n", mnt, strerror(-err));
	return err;
}

/* Pin a new link at the connection's pin path; the caller closes @link_fd. */
static int pin_link(int link_fd, uint32_t id, char *pin, size_t size)
{
	snprintf(pin, size, FI_PIN_DIR "/fuse-iomap-%u", id);
	if (!bpf_obj_pin(link_fd, pin))
		return 0;
	fprintf(stderr, PROG ": attached, but can't pin the link at %s: %s; detaching\n", pin,
		strerror(errno));
	return -1;
}

/*
 * Attach again ops that are loaded already (a server's, after a detach):
 * a new link for their struct_ops map, which keeps the maps the program
 * answers from, and whoever fills them.
 */
static int attach_map(const char *mnt, const char *spec)
{
	struct fi_attached a = { 0 };
	char pin[128], *end;
	int map_fd, link_fd;
	unsigned long map_id;
	struct fi_conn c;

	map_id = strtoul(spec, &end, 10);
	if (!*spec || *end || !map_id || map_id > UINT32_MAX) {
		fprintf(stderr, PROG ": map:%s: not a map id\n", spec);
		return 2;
	}
	if (conn_or_die(mnt, &c))
		return 1;
	map_fd = bpf_map_get_fd_by_id(map_id);
	if (map_fd < 0) {
		fprintf(stderr, PROG ": BPF map %lu: %s\n", map_id, strerror(errno));
		return 1;
	}
	if (fi_map_ops(map_fd, &a)) {
		fprintf(stderr, PROG ": BPF map %lu holds no fuse_bpf_ops\n", map_id);
		goto fail;
	}
	if (a.conn_id != c.id) {
		fprintf(stderr, PROG ": %s (map %lu) is for connection %u, not %s's (%u)\n", a.name,
			map_id, a.conn_id, mnt, c.id);
		goto fail;
	}
	/* The kernel checks the generation too: this one is for the report. */
	link_fd = bpf_link_create(map_fd, 0, BPF_STRUCT_OPS, NULL);
	if (link_fd < 0) {
		fprintf(stderr, PROG ": can't attach %s (map %lu) to %s (connection %u): %s%s\n",
			a.name, map_id, mnt, c.id, strerror(errno),
			a.conn_gen != c.gen ? ": it was loaded for an earlier mount with the same "
					      "connection id, which is gone" : "");
		goto fail;
	}
	if (pin_link(link_fd, c.id, pin, sizeof(pin))) {
		close(link_fd);
		goto fail;
	}
	printf("attached %s (map %lu) to %s, connection %u, link pinned at %s\n", a.name, map_id,
	       mnt, c.id, pin);
	close(link_fd);
	close(map_fd);
	return 0;
fail:
	close(map_fd);
	return 1;
}

static int do_attach(const char *mnt, const char *path)
{
	struct bpf_object *obj;
	struct bpf_map *map, *ops_map = NULL;
	struct bpf_link *link;
	struct fuse_bpf_ops *ops;
	struct fi_conn c;
	char pin[128], msg[128];
	size_t size;
	int err;

	if (!strncmp(path, "map:", 4))
		return attach_map(mnt, path + 4);
	if (conn_or_die(mnt, &c))
		return 1;
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, PROG ": can't open %s: %s\n", path,
			bpf_errstr(errno, msg, sizeof(msg)));
		return 1;
	}
	bpf_object__for_each_map(map, obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			ops_map = ops_map ? (void *)-1 : map;
	if (!ops_map || ops_map == (void *)-1) {
		fprintf(stderr, PROG ": %s must hold exactly one struct_ops map\n", path);
		goto fail;
	}
	ops = bpf_map__initial_value(ops_map, &size);
	if (!ops || size < sizeof(*ops)) {
		fprintf(stderr, PROG ": %s: map %s is not a fuse_bpf_ops\n", path,
			bpf_map__name(ops_map));
		goto fail;
	}
	ops->conn_id = c.id;
	ops->conn_gen = c.gen;
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, PROG ": can't load %s: %s\n", path,
			bpf_errstr(-err, msg, sizeof(msg)));
		goto fail;
	}
	link = bpf_map__attach_struct_ops(ops_map);
	if (!link) {
		err = errno;
		fprintf(stderr, PROG ": can't attach %s to %s (connection %u): %s%s\n", path, mnt,
			c.id, bpf_errstr(err, msg, sizeof(msg)), err == EBUSY ? " (it has fuse_bpf_ops attached; detach first)" : "");
		goto fail;
	}
	if (pin_link(bpf_link__fd(link), c.id, pin, sizeof(pin))) {
		bpf_link__destroy(link);
		goto fail;
	}
	printf("attached %s (%s) to %s, connection %u, link pinned at %s\n", path, ops->name,
	       mnt, c.id, pin);
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
fail:
	bpf_object__close(obj);
	return 1;
}

struct detach_conn {
	struct fi_conn conn;
	int detached;
};

static int detach_one(struct fi_attached *a, void *arg)
{
	struct detach_conn *d = arg;

	if (a->conn_id != d->conn.id || a->conn_gen != d->conn.gen)
		return 0;
	if (bpf_link_detach(a->link_fd)) {
		fprintf(stderr, PROG ": can't detach link %u (%s): %s\n", a->link_id, a->name,
			strerror(errno));
		return -1;
	}
	printf("detached %s (link %u, map %u) from connection %u\n", a->name, a->link_id,
	       a->map_id, a->conn_id);
	d->detached++;
	return 0;
}

static int do_detach(const char *mnt)
{
	struct detach_conn d = { 0 };
	char pin[128];
	int err;

	if (conn_or_die(mnt, &d.conn))
		return 1;
	err = fi_for_each_attached(detach_one, &d);
	snprintf(pin, sizeof(pin), FI_PIN_DIR "/fuse-iomap-%u", d.conn.id);
	if (unlink(pin) && errno != ENOENT)
		fprintf(stderr, PROG ": can't remove %s: %s\n", pin, strerror(errno));
	if (err) {
		if (err != -1)
			fprintf(stderr, PROG ": can't list BPF links: %s\n", strerror(-err));
		return 1;
	}
	if (!d.detached) {
		fprintf(stderr, PROG ": no fuse_bpf_ops attached to %s\n", mnt);
		return 1;
	}
	return 0;
}

static void print_counters(uint32_t id)
{
	long long v;

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (!fi_conn_counter(id, counters[i], &v))
			printf(" %s=%lld", counters[i], v);
	printf("\n");
}

struct show_conn {
	struct fi_conn conn;
	int found;
};

static int show_ops(struct fi_attached *a, void *arg)
{
	struct show_conn *c = arg;

	if (a->conn_id != c->conn.id || a->conn_gen != c->conn.gen)
		return 0;
	printf("  ops %s link %u map %u\n", a->name, a->link_id, a->map_id);
	c->found++;
	return 0;
}

static int show_one(uint32_t id)
{
	struct show_conn c = { .conn.id = id };
	char mnt[4096];
	long long gen;

	if (fi_conn_counter(id, "generation", &gen))
		return 0;	/* unmounted since it was listed */
	c.conn.gen = gen;
	if (fi_conn_mountpoint(id, mnt, sizeof(mnt)))
		snprintf(mnt, sizeof(mnt), "?");
	printf("connection %u %s\n", id, mnt);
	fi_for_each_attached(show_ops, &c);
	if (!c.found)
		printf("  no fuse_bpf_ops attached\n");
	printf(" ");
	print_counters(id);
	return 0;
}

static int do_show(const char *mnt)
{
	struct fi_conn c;
	struct dirent *de;
	uint32_t id;
	DIR *dir;

	if (mnt)
		return conn_or_die(mnt, &c) ? 1 : show_one(c.id);
	if (!module_loaded())
		return 1;
	dir = opendir(FI_SYSFS);
	if (!dir) {
		fprintf(stderr, PROG ": can't list " FI_SYSFS ": %s\n", strerror(errno));
		return 1;
	}
	while ((de = readdir(dir)))
		if (sscanf(de->d_name, "%u", &id) == 1)
			show_one(id);
	closedir(dir);
	return 0;
}

/* A whole number from @min to @max for option -@opt, else -1 after a message. */
static long parse_count(int opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, PROG ": -%c %s: want a whole number from %ld to %ld\n", opt, arg,
			min, max);
		return -1;
	}
	return v;
}

static int do_stats(const char *mnt, int argc, char **argv)
{
	long interval = 0, count = -1;
	struct fi_conn conn;
	int c;

	optind = 0;
	while ((c = getopt(argc, argv, "+:i:c:")) != -1) {
		long *v = c == 'i' ? &interval : c == 'c' ? &count : NULL;

		if (!v) {
			fprintf(stderr, PROG ": stats: bad option -%c, or it lacks a value\n", optopt);
			return 2;
		}
		*v = parse_count(c, optarg, 1, c == 'i' ? 86400 : LONG_MAX);
		if (*v < 0)
			return 2;
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": stats: unexpected '%s'\n", argv[optind]);
		return 2;
	}
	if (conn_or_die(mnt, &conn))
		return 1;
	do {
		printf("connection %u", conn.id);
		print_counters(conn.id);
		fflush(stdout);
		if (!interval || (count > 0 && --count == 0))
			break;
		sleep(interval);
	} while (1);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "--version")) {
		printf(PROG " %s\n", FI_VERSION);
		return 0;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	libbpf_set_print(print_libbpf);
	if (!strcmp(cmd, "attach") && argc == 4)
		return do_attach(argv[2], argv[3]);
	if (!strcmp(cmd, "detach") && argc == 3)
		return do_detach(argv[2]);
	if (!strcmp(cmd, "show") && argc <= 3)
		return do_show(argc == 3 ? argv[2] : NULL);
	if (!strcmp(cmd, "stats") && argc >= 3)
		return do_stats(argv[2], argc - 2, argv + 2);
	fprintf(stderr, PROG ": bad command line\n");
	usage(stderr);
	return 2;
}
