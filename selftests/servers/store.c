// SPDX-License-Identifier: GPL-2.0
/*
 * fi-store: look into, or write over, the extent store of a running
 * server's extent_map (the BPF arena its library writes), for tests.
 * The arena is found among the server's descriptors (pidfd_getfd) and
 * mapped at the address the server mapped it at, as an arena must be.
 * The file table is found where the header says it starts, not through
 * the root, which libbpf may have put on the arena's last page.
 *
 *   fi-store PID dump NODEID        the slot, its extents, then its overlay's ("over ...")
 *   fi-store PID hold NODEID        leave the slot's seq odd: a change that never ends
 *   fi-store PID flip NODEID SECS   move the seq odd and even for SECS seconds
 *   fi-store PID scribble SEED SECS random bytes over slots and extent arrays
 *   fi-store PID bytes              the server's resident bytes of the arena
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "fuse_iomap_extent_map.h"

#define PROG "fi-store"
#define ARENA_TYPE 33	/* BPF_MAP_TYPE_ARENA */

struct store {
	char *base;
	size_t size;
	struct fi_store_file *files;
};

static int die(const char *what, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(err));
	exit(1);
}

/* The server's fd of its arena, and the arena's size in pages. */
static int find_arena(pid_t pid, int *fd, unsigned long *pages)
{
	char path[320], line[256];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		int type = -1;
		unsigned long max = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "map_type: %d", &type);
			sscanf(line, "max_entries: %lu", &max);
		}
		fclose(f);
		if (type == ARENA_TYPE) {
			*fd = atoi(d->d_name);
			*pages = max;
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	return -ENOENT;
}

/* Where the server mapped @size bytes of a bpf-map: the arena. */
static int find_addr(pid_t pid, size_t size, unsigned long *addr)
{
	unsigned long lo, hi;
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo == size &&
		    strstr(line, "bpf-map")) {
			*addr = lo;
			fclose(f);
			return 0;
		}
	fclose(f);
	return -ENOENT;
}

static void open_store(pid_t pid, struct store *st)
{
	unsigned long pages, addr;
	int sfd, pidfd, fd, err;
	void *p;

	err = find_arena(pid, &sfd, &pages);
	if (err)
		die("no BPF arena among the server's descriptors", -err);
	st->size = pages * sysconf(_SC_PAGESIZE);
	err = find_addr(pid, st->size, &addr);
	if (err)
		die("the server has not mapped its arena", -err);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open", errno);
	fd = syscall(SYS_pidfd_getfd, pidfd, sfd, 0);
	if (fd < 0)
		die("pidfd_getfd of the arena", errno);
	p = mmap((void *)addr, st->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE,
		 fd, 0);
	if (p == MAP_FAILED)
		die("mmap of the arena at the server's address", errno);
	st->base = p;
	st->files = (struct fi_store_file *)((char *)p + fi_store_table_off(sysconf(_SC_PAGESIZE)));
}

static struct fi_store_file *slot_of(struct store *st, uint64_t nodeid)
{
	struct fi_store_file *t = st->files;
	uint32_t h = fi_store_hash(nodeid);

	for (unsigned int i = 0; i < FI_STORE_PROBES; i++) {
		struct fi_store_file *s = &t[(h + i) & (FI_STORE_FILES - 1)];

		if (s->nodeid == nodeid)
			return s;
		if (!s->nodeid)
			break;
	}
	return NULL;
}

static int cmd_dump(struct store *st, uint64_t nodeid)
{
	struct fi_store_file *s = slot_of(st, nodeid);

	if (!s) {
		fprintf(stderr, PROG ": node %" PRIu64 " has no slot\n", nodeid);
		return 1;
	}
	printf("seq %u count %u flags 0x%x check 0x%x ocount %u gen %u\n", s->seq, s->count,
	       s->flags, s->check, s->ocount, s->gen);
	for (uint32_t i = 0; i < s->count; i++)
		printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u\n", (uint64_t)s->ext[i].lblk,
		       (uint64_t)s->ext[i].len, (uint64_t)s->ext[i].pblk, s->ext[i].dev,
		       s->ext[i].type);
	for (uint32_t i = 0; i < s->ocount && i < FI_OVERLAY_MAX; i++)
		printf("over %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u\n", (uint64_t)s->over[i].lblk,
		       (uint64_t)s->over[i].len, (uint64_t)s->over[i].pblk, s->over[i].dev,
		       s->over[i].type);
	return 0;
}

static int cmd_seq(struct store *st, uint64_t nodeid, int secs)
{
	struct fi_store_file *s = slot_of(st, nodeid);
	time_t end = time(NULL) + secs;
	uint64_t flips = 0;

	if (!s) {
		fprintf(stderr, PROG ": node %" PRIu64 " has no slot\n", nodeid);
		return 1;
	}
	if (secs < 0) {
		__atomic_store_n(&s->seq, s->seq | 1, __ATOMIC_RELEASE);
		return 0;
	}
	while (time(NULL) < end)
		for (int i = 0; i < 100000; i++, flips++)
			__atomic_fetch_add(&s->seq, 1, __ATOMIC_SEQ_CST);
	printf("%" PRIu64 " flips\n", flips);
	return 0;
}

/* Random 8-byte words at random places of the slot table and what follows it. */
static int cmd_scribble(struct store *st, unsigned int seed, int secs)
{
	char *from = (char *)st->files, *to;
	time_t end = time(NULL) + secs;
	uint64_t words = 0;

	/* The table and the first arrays: further pages would only cost memory. */
	to = from + (size_t)FI_STORE_FILES * sizeof(struct fi_store_file) + (4 << 20);
	if (to > st->base + st->size)
		to = st->base + st->size;
	srandom(seed);
	do {
		for (int i = 0; i < 100000; i++, words++) {
			size_t off = (((size_t)random() << 31) ^ random()) % (size_t)(to - from);
			uint64_t v = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 2) ^ random();

			memcpy(from + (off & ~7UL), &v, sizeof(v));
		}
	} while (time(NULL) < end);
	printf("%" PRIu64 " words\n", words);
	return 0;
}

/* The server's resident bytes of the arena (its smaps Rss): the store's memory. */
static int cmd_bytes(struct store *st, pid_t pid)
{
	char path[64], line[512], perms[8];
	unsigned long lo, hi, kb;
	int in = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		die(path, errno);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3)
			in = lo == (unsigned long)st->base;
		else if (in && sscanf(line, "Rss: %lu kB", &kb) == 1) {
			printf("%lu\n", kb * 1024);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	fprintf(stderr, PROG ": no Rss for the arena in %s\n", path);
	return 1;
}

int main(int argc, char **argv)
{
	struct store st;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: " PROG " PID dump|hold NODEID | flip NODEID SECS |"
			" scribble SEED SECS | bytes\n");
		return 2;
	}
	pid = atoi(argv[1]);
	open_store(pid, &st);
	if (!strcmp(argv[2], "dump") && argc == 4)
		return cmd_dump(&st, strtoull(argv[3], NULL, 0));
	if (!strcmp(argv[2], "hold") && argc == 4)
		return cmd_seq(&st, strtoull(argv[3], NULL, 0), -1);
	if (!strcmp(argv[2], "flip") && argc == 5)
		return cmd_seq(&st, strtoull(argv[3], NULL, 0), atoi(argv[4]));
	if (!strcmp(argv[2], "scribble") && argc == 5)
		return cmd_scribble(&st, strtoul(argv[3], NULL, 0), atoi(argv[4]));
	if (!strcmp(argv[2], "bytes") && argc == 3)
		return cmd_bytes(&st, pid);
	fprintf(stderr, PROG ": bad arguments for %s\n", argv[2]);
	return 2;
}
