// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-fuzz: a TEST-ONLY server that answers every FUSE_IOMAP_BEGIN
 * with something drawn from a seeded generator: valid mappings, valid ones
 * with one field mutated, random ones, replies too short or too long,
 * error codes, and stray writes (a wrong unique id, an impossible error
 * code, a length that lies) before the real reply.  It serves one regular
 * file, "f", and registers one block device.
 *
 * It judges nothing about mappings: it logs what it put on the wire, one
 * line per request, and the test's oracle (selftests/lib/oracle.py) says
 * what the kernel must have done with it.  What it does check is the
 * kernel's answer to each stray write, since only it sees that.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <linux/fuse.h>
#include <fuse_lowlevel.h>

#include "onefile.h"

#define FZ_SUPPORTED_FLAGS (FUSE_IOMAP_F_NEW | FUSE_IOMAP_F_DIRTY | FUSE_IOMAP_F_SHARED | \
			    FUSE_IOMAP_F_MERGED | FUSE_IOMAP_F_WANT_IOMAP_END)

struct fuzz {
	struct fi_memns ns;		/* first: the session's userdata */
	uint64_t rng;			/* xorshift64* state */
	uint32_t cookie;
	uint64_t dev_size;
	uint64_t blksize;
	bool valid_only;		/* --valid-only: every answer a valid mapping */
	FILE *log;
	unsigned long strays, stray_surprises;
};

static uint64_t rnd(struct fuzz *z)
{
	z->rng ^= z->rng >> 12;
	z->rng ^= z->rng << 25;
	z->rng ^= z->rng >> 27;
	return z->rng * 0x2545f4914f6cdd1dULL;
}

/* 0 .. n-1 */
static uint64_t below(struct fuzz *z, uint64_t n)
{
	return n ? rnd(z) % n : 0;
}

static bool chance(struct fuzz *z, unsigned int percent)
{
	return below(z, 100) < percent;
}

/* A mapping that passes every rule for @pos, of @type. */
static struct fuse_iomap_io valid_io(struct fuzz *z, uint64_t pos, uint16_t type)
{
	uint64_t bs = z->blksize, blk = pos / bs, back = below(z, 4);
	struct fuse_iomap_io m = { .type = type };

	if (back > blk)
		back = blk;
	m.offset = (blk - back) * bs;
	m.length = (back + 1 + below(z, 4)) * bs;
	m.flags = rnd(z) & FZ_SUPPORTED_FLAGS;
	if (type == FUSE_IOMAP_TYPE_MAPPED || type == FUSE_IOMAP_TYPE_UNWRITTEN) {
		if (m.length > z->dev_size)
			m.length = z->dev_size / bs * bs;
		m.addr = below(z, (z->dev_size - m.length) / bs + 1) * bs;
		m.dev = z->cookie;
	} else {
		m.addr = FUSE_IOMAP_NULL_ADDR;
		m.dev = FUSE_IOMAP_DEV_NULL;
	}
	return m;
}

static uint16_t any_type(struct fuzz *z)
{
	static const uint16_t types[] = {
		FUSE_IOMAP_TYPE_HOLE, FUSE_IOMAP_TYPE_DELALLOC, FUSE_IOMAP_TYPE_MAPPED,
		FUSE_IOMAP_TYPE_MAPPED, FUSE_IOMAP_TYPE_MAPPED, FUSE_IOMAP_TYPE_UNWRITTEN,
	};

	return types[below(z, sizeof(types) / sizeof(types[0]))];
}

/* What a careful server would answer. */
static void valid_answer(struct fuzz *z, uint64_t pos, uint32_t opflags,
			 struct fuse_iomap_begin_out *out)
{
	if (!(opflags & FUSE_IOMAP_OP_WRITE)) {
		out->read = valid_io(z, pos, any_type(z));
		/* Ignored for reads: garbage shows that it is. */
		memset(&out->write, (int)below(z, 256), sizeof(out->write));
	} else if (chance(z, 50)) {
		out->read = valid_io(z, pos, FUSE_IOMAP_TYPE_MAPPED);
		out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	} else {
		out->write = valid_io(z, pos, FUSE_IOMAP_TYPE_MAPPED);
		out->read = valid_io(z, pos, any_type(z));
	}
}

/* A value a validator might get wrong. */
static uint64_t interesting(struct fuzz *z)
{
	uint64_t bs = z->blksize;
	const uint64_t v[] = {
		0, 1, bs - 1, bs, bs + 1, z->dev_size - bs, z->dev_size, z->dev_size + bs,
		z->cookie, z->cookie + 1, FUSE_IOMAP_NULL_ADDR, FUSE_IOMAP_MAX_END,
		FUSE_IOMAP_MAX_END - bs, ~0ULL - bs + 1, 1ULL << 32, 0x7fffffffffffffffULL,
	};

	return chance(z, 30) ? rnd(z) : v[below(z, sizeof(v) / sizeof(v[0]))];
}

static void mutate_io(struct fuzz *z, struct fuse_iomap_io *m)
{
	switch (below(z, 7)) {
	case 0:
		m->offset = chance(z, 50) ? interesting(z) : m->offset ^ (1ULL << below(z, 64));
		break;
	case 1:
		m->length = chance(z, 50) ? interesting(z) : m->length ^ (1ULL << below(z, 64));
		break;
	case 2:
		m->addr = chance(z, 50) ? interesting(z) : m->addr ^ (1ULL << below(z, 64));
		break;
	case 3:
		m->type = chance(z, 70) ? below(z, 7) : (uint16_t)rnd(z);
		if (chance(z, 20))
			m->type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
		break;
	case 4:
		m->flags ^= 1U << below(z, 16);
		break;
	case 5:
		m->dev = chance(z, 50) ? (uint32_t)interesting(z) : (uint32_t)below(z, 4);
		break;
	default:
		((uint8_t *)m)[below(z, sizeof(*m))] ^= 1U << below(z, 8);
		break;
	}
}

static void random_io(struct fuzz *z, struct fuse_iomap_io *m)
{
	m->offset = interesting(z);
	m->length = interesting(z);
	m->addr = interesting(z);
	m->type = chance(z, 80) ? below(z, 6) : (uint16_t)rnd(z);
	m->flags = chance(z, 70) ? (rnd(z) & FZ_SUPPORTED_FLAGS) : (uint16_t)rnd(z);
	m->dev = chance(z, 60) ? z->cookie : (uint32_t)interesting(z);
}

/*
 * A write the kernel must refuse without touching any request: the errno
 * it must give, and what it gave.
 */
static void stray_write(struct fuzz *z, int fd, uint64_t unique, char *what, size_t size)
{
	struct fuse_out_header oh = { .len = sizeof(oh) };
	int want = EINVAL;
	ssize_t n;

	switch (below(z, 3)) {
	case 0:
		/* Nobody waits for it (bit 0 would make it an interrupt reply). */
		oh.unique = (unique ^ ((below(z, 1 << 20) + 1) << 40)) & ~1ULL;
		oh.error = -EIO;
		want = ENOENT;
		snprintf(what, size, "unique");
		break;
	case 1:
		oh.unique = unique;
		oh.error = chance(z, 50) ? (int32_t)below(z, 1000) + 1 : -512 - (int32_t)below(z, 1000);
		snprintf(what, size, "error%d", oh.error);
		break;
	default:
		oh.unique = unique;
		oh.error = -EIO;
		oh.len = sizeof(oh) + 1 + below(z, 64);
		snprintf(what, size, "len%u", oh.len);
		break;
	}
	n = write(fd, &oh, sizeof(oh));
	z->strays++;
	if (n >= 0 || errno != want) {
		z->stray_surprises++;
		snprintf(what + strlen(what), size - strlen(what), "!%s",
			 n >= 0 ? "accepted" : strerror(errno));
	}
}

static const int fz_errnos[] = {
	EIO, ENOSPC, EPERM, EACCES, ENOMEM, EINVAL, EFBIG, EROFS, EDQUOT, ENODATA,
	ESTALE, EOVERFLOW, ENOSYS,
};

/*
 * Draw an answer to (pos, opflags) into @out.  Returns what else happens
 * to it: "map" (sent as is), "errno" (*error instead), and on the wire
 * "short"/"long" (a payload of the wrong size) or for BPF "none" (no
 * answer) and "junk" (a return value that is no errno).
 */
static const char *draw(struct fuzz *z, uint64_t pos, uint32_t opflags,
			struct fuse_iomap_begin_out *out, int *error, bool wire)
{
	unsigned int dice = below(z, 100);

	memset(out, 0, sizeof(*out));
	valid_answer(z, pos, opflags, out);
	*error = 0;
	if (z->valid_only || dice < 30)
		return "map";
	if (dice < 60) {
		mutate_io(z, chance(z, 50) ? &out->read : &out->write);
		return "map";
	}
	if (dice < 75) {
		random_io(z, &out->read);
		random_io(z, &out->write);
		return "map";
	}
	if (dice < 80)
		return wire ? "short" : "none";
	if (dice < 85)
		return wire ? "long" : "junk";
	*error = fz_errnos[below(z, sizeof(fz_errnos) / sizeof(fz_errnos[0]))];
	return "errno";
}

static void log_io(FILE *f, const struct fuse_iomap_io *m)
{
	fprintf(f, " %u 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %u 0x%x", m->type,
		(uint64_t)m->offset, (uint64_t)m->length, (uint64_t)m->addr, m->dev, m->flags);
}

static void log_out(FILE *f, const struct fuse_iomap_begin_out *out)
{
	log_io(f, &out->read);
	log_io(f, &out->write);
}

static int fz_begin_wire(void *ctx, int fd, uint64_t unique, const struct fuse_iomap_begin_in *in)
{
	struct fuzz *z = ctx;
	struct fuse_iomap_begin_out out;
	struct {
		struct fuse_out_header oh;
		uint8_t payload[sizeof(out) + 64];
	} msg;
	char stray[64] = "-";
	const char *kind;
	size_t len = sizeof(out);
	int error;

	if (!z->valid_only && chance(z, 15))
		stray_write(z, fd, unique, stray, sizeof(stray));
	kind = draw(z, in->pos, in->opflags, &out, &error, true);
	if (!strcmp(kind, "short"))
		len = below(z, sizeof(out));
	else if (!strcmp(kind, "long"))
		len = sizeof(out) + 1 + below(z, 64);
	else if (error)
		len = 0;

	memset(&msg, 0, sizeof(msg));
	memcpy(msg.payload, &out, sizeof(out));
	for (size_t i = sizeof(out); i < len; i++)
		msg.payload[i] = (uint8_t)rnd(z);
	msg.oh.len = sizeof(msg.oh) + len;
	msg.oh.error = -error;
	msg.oh.unique = unique;

	fprintf(z->log, "BEGIN 0x%" PRIx64 " 0x%" PRIx64 " 0x%x %s %d %zu", (uint64_t)in->pos,
		(uint64_t)in->count, in->opflags, kind, error, len);
	log_out(z->log, &out);
	fprintf(z->log, " %s\n", stray);
	fflush(z->log);

	/* A reply of the wrong size fails its request; the write says EINVAL. */
	if (write(fd, &msg, msg.oh.len) < 0 && !(errno == EINVAL && len != sizeof(out) && !error))
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

/*
 * --plan: no serving; print N answers for a BPF map, one per file block:
 * the operation to do on that block (O_DIRECT read or write), the
 * program's return value and the answer it hands the kernel.
 */
static void plan(struct fuzz *z, unsigned long n)
{
	for (unsigned long b = 0; b < n; b++) {
		uint32_t opflags = FUSE_IOMAP_OP_DIRECT | (chance(z, 30) ? FUSE_IOMAP_OP_WRITE : 0);
		struct fuse_iomap_begin_out out;
		const char *kind;
		int error, ret = 0;

		kind = draw(z, b * z->blksize, opflags, &out, &error, false);
		if (!strcmp(kind, "none")) {
			ret = FUSE_BPF_NO_ANSWER;
		} else if (!strcmp(kind, "junk")) {
			/* Positive, or below the errno range. */
			ret = chance(z, 50) ? 2 + (int)below(z, 1U << 30) : -512 - (int)below(z, 1U << 30);
		} else if (error) {
			ret = -error;
		}
		fprintf(z->log, "PLAN 0x%" PRIx64 " 0x%x %s %d", b * z->blksize, opflags, kind, ret);
		log_out(z->log, &out);
		fputc('\n', z->log);
	}
}

static int fz_end(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in)
{
	(void)ctx, (void)nodeid, (void)in;
	return 0;
}

/* Never called: fi_onefile_serve() hands every BEGIN to fz_begin_wire(). */
static int fz_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		    struct fuse_iomap_begin_out *out)
{
	(void)ctx, (void)nodeid, (void)in, (void)out;
	return -EIO;
}

static const struct fi_iomap_ops fz_ops = {
	.begin = fz_begin,
	.end = fz_end,
};

static int fz_ready(struct fi_server *srv, uint32_t cookie, uint64_t size, void *ctx)
{
	struct fuzz *z = ctx;

	(void)srv;
	z->cookie = cookie;
	z->dev_size = size;
	fprintf(z->log, "DEVICE %u 0x%" PRIx64 " %" PRIu64 "\n", cookie, size, z->blksize);
	fflush(z->log);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-fuzz [OPTIONS] DEVICE MOUNTPOINT   (test only)\n"
"\n"
"Serve one file, 'f', answering each FUSE_IOMAP_BEGIN with a reply drawn\n"
"from a seeded generator (valid, mutated, random, malformed, errors), and\n"
"log one line per request.  DEVICE is registered with the connection.\n"
"\n"
"  -S, --seed N          generator seed (default 1)\n"
"  -s, --size BYTES      size of 'f' (default 64 MiB)\n"
"  -l, --log FILE        where the lines go (required)\n"
"  -V, --valid-only      answer only valid mappings\n"
"  -h, --help\n"
"\n"
"or:    fuse-iomap-fuzz --plan N --dev-size BYTES [-S N] [-c COOKIE] -l FILE\n"
"\n"
"Write N answers for a BPF program to FILE instead, one per file block.\n");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 'S' },
		{ "size", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "valid-only", no_argument, NULL, 'V' },
		{ "plan", required_argument, NULL, 'p' },
		{ "dev-size", required_argument, NULL, 'D' },
		{ "cookie", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 1 },
		{ NULL, 0, NULL, 0 },
	};
	struct fuzz z = { .rng = 1, .blksize = 4096, .cookie = 1 };
	struct fi_onefile of = {
		.opts = { .name = "fuse-iomap-fuzz", .fsname = "fuse-iomap-fuzz", .subtype = "fuzz",
			  .mount_opts = "iomap" },
		.iomap = &fz_ops,
		.ctx = &z,
		.ready = fz_ready,
		.begin_wire = fz_begin_wire,
	};
	off_t size = 64 << 20;
	unsigned long plan_n = 0;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "S:s:l:Vp:D:c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			z.rng = strtoull(optarg, NULL, 0) | 1;
			break;
		case 's':
			size = strtoll(optarg, NULL, 0);
			break;
		case 'l':
			z.log = fopen(optarg, "a");
			if (!z.log) {
				fprintf(stderr, "fuse-iomap-fuzz: can't open %s: %s\n", optarg,
					strerror(errno));
				return 1;
			}
			break;
		case 'V':
			z.valid_only = true;
			break;
		case 'p':
			plan_n = strtoul(optarg, NULL, 0);
			break;
		case 'D':
			z.dev_size = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			z.cookie = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 1:
			printf("fuse-iomap-fuzz %s\n", fi_version());
			return 0;
		default:
			goto bad;
		}
	}
	if (plan_n && z.log && z.dev_size >= z.blksize && optind == argc) {
		plan(&z, plan_n);
		return fclose(z.log) ? 1 : 0;
	}
	if (optind != argc - 2 || !z.log)
		goto bad;

	of.dev = argv[optind];
	of.opts.mountpoint = argv[optind + 1];
	of.size = size;
	ret = fi_onefile_serve(&of);
	fprintf(z.log, "STRAYS %lu %lu\n", z.strays, z.stray_surprises);
	fclose(z.log);
	return ret;
bad:
	usage(stderr);
	return 2;
}
