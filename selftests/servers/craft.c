// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-craft: a TEST-ONLY server that answers every FUSE_IOMAP_BEGIN
 * with the mapping given on its command line, good or bad, so that tests
 * can show what the kernel does with each.  It serves one regular file,
 * "f", and registers one block device.  Never use it for data you keep.
 *
 * A mapping is TYPE,OFFSET,LENGTH,ADDR,DEV[,FLAGS]; numbers take any C
 * base; DEV "reg" is the registered device's cookie; ADDR "null" is
 * FUSE_IOMAP_NULL_ADDR.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <fuse_lowlevel.h>

#include "onefile.h"

struct craft {
	struct fi_memns ns;		/* first: the session's userdata */
	struct fuse_iomap_begin_out out;
	struct fuse_iomap_io writeback;	/* --writeback: the write mapping for writeback */
	bool writeback_set, writeback_reg, writeback_old;
	uint64_t fallback_from;		/* --direct-fallback: ENOTBLK from here on */
	bool fallback;
	bool dev_reg[2];		/* read/write DEV was "reg" */
	bool dev_old[2];		/* read/write DEV was "old" */
	uint32_t cookie, old_cookie;
	bool unregister;		/* --unregister: drop the device at once */
	const char *reregister;		/* --reregister: drop it, register this again */
	uint32_t cookie_before;		/* the first registration's */
	int begin_ret;			/* --begin-returns: what craft_begin returns */
};

/* @m ends at @end at the latest. */
static void clip(struct fuse_iomap_io *m, uint64_t end)
{
	if (m->offset < end && m->offset + m->length > end)
		m->length = end - m->offset;
}

static int craft_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		       struct fuse_iomap_begin_out *out)
{
	struct craft *c = ctx;

	(void)nodeid;
	if (c->fallback && (in->opflags & FUSE_IOMAP_OP_DIRECT) &&
	    (in->opflags & FUSE_IOMAP_OP_WRITE) && in->pos >= c->fallback_from)
		return -ENOTBLK;
	*out = c->out;
	if (c->fallback && (in->opflags & FUSE_IOMAP_OP_DIRECT)) {
		/* Direct up to the fallback offset, so that the write goes on past it. */
		clip(&out->read, c->fallback_from);
		clip(&out->write, c->fallback_from);
	}
	if (c->writeback_set && (in->opflags & FUSE_IOMAP_OP_WRITEBACK)) {
		out->write = c->writeback;
		if (c->writeback_reg)
			out->write.dev = c->cookie;
		if (c->writeback_old)
			out->write.dev = c->old_cookie;
		return 0;
	}
	if (c->dev_reg[0])
		out->read.dev = c->cookie;
	if (c->dev_reg[1])
		out->write.dev = c->cookie;
	if (c->dev_old[0])
		out->read.dev = c->old_cookie;
	if (c->dev_old[1])
		out->write.dev = c->old_cookie;
	return c->begin_ret;
}

static const struct fi_iomap_ops craft_ops = {
	.begin = craft_begin,
};

/* Unregister @c's device and register @path in its place: a new cookie. */
static int craft_reregister(struct fi_server *srv, struct craft *c)
{
	int fd, err;

	err = fi_server_remove_device(srv, c->cookie);
	if (err)
		return err;
	fd = open(c->reregister, O_RDWR);
	if (fd < 0)
		return -errno;
	err = fi_server_add_device(srv, fd, &c->cookie, NULL);
	close(fd);
	if (err)
		return err;
	c->old_cookie = c->cookie_before;
	printf("old cookie %u new cookie %u\n", c->old_cookie, c->cookie);
	return 0;
}

static int craft_ready(struct fi_server *srv, uint32_t cookie, uint64_t size, void *ctx)
{
	struct craft *c = ctx;
	int err;

	c->cookie = c->cookie_before = cookie;
	if (c->reregister) {
		err = craft_reregister(srv, c);
		if (err) {
			fprintf(stderr, "fuse-iomap-craft: can't register %s again: %s\n",
				c->reregister, strerror(-err));
			return err;
		}
	}
	if (c->unregister && fi_server_remove_device(srv, cookie))
		return -EIO;
	printf("cookie %u size %" PRIu64 "\n", cookie, size);
	fflush(stdout);
	return 0;
}

static int parse_map(const char *spec, struct fuse_iomap_io *m, bool *dev_reg, bool *dev_old)
{
	char buf[256], *f[6] = { 0 }, *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t && n < 6; t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n < 5)
		return -1;
	if (!strcmp(f[0], "hole"))
		m->type = FUSE_IOMAP_TYPE_HOLE;
	else if (!strcmp(f[0], "delalloc"))
		m->type = FUSE_IOMAP_TYPE_DELALLOC;
	else if (!strcmp(f[0], "mapped"))
		m->type = FUSE_IOMAP_TYPE_MAPPED;
	else if (!strcmp(f[0], "unwritten"))
		m->type = FUSE_IOMAP_TYPE_UNWRITTEN;
	else if (!strcmp(f[0], "inline"))
		m->type = FUSE_IOMAP_TYPE_INLINE;
	else if (!strcmp(f[0], "overwrite"))
		m->type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	else
		m->type = strtoul(f[0], NULL, 0);
	/* Unsigned parsing: out-of-range values are the point of this server. */
	m->offset = strtoull(f[1], NULL, 0);
	m->length = strtoull(f[2], NULL, 0);
	m->addr = strcmp(f[3], "null") ? strtoull(f[3], NULL, 0) : FUSE_IOMAP_NULL_ADDR;
	*dev_reg = !strcmp(f[4], "reg");
	*dev_old = !strcmp(f[4], "old");
	m->dev = *dev_reg || *dev_old ? 0 : strtoul(f[4], NULL, 0);
	m->flags = f[5] ? strtoul(f[5], NULL, 0) : 0;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-craft [OPTIONS] DEVICE MOUNTPOINT   (test only)\n"
"\n"
"Serve one file, 'f', whose every FUSE_IOMAP_BEGIN is answered with the\n"
"given mappings, valid or not.  DEVICE is registered with the connection.\n"
"\n"
"  -r, --read MAP        the read mapping (default: a hole over the file)\n"
"  -w, --write MAP       the write mapping (default: overwrite)\n"
"  -s, --size BYTES      size of 'f' (default 1 MiB)\n"
"  -R, --readonly-dev    register DEVICE opened read-only\n"
"  -u, --unregister      unregister DEVICE right after registering it\n"
"  -g, --reregister DEV  unregister DEVICE right after registering it, then\n"
"                        register block device DEV (DEVICE again, say)\n"
"  -F, --direct-fallback OFFSET\n"
"                        answer O_DIRECT write mappings at or past OFFSET\n"
"                        with ENOTBLK (fs/iomap falls back to the page\n"
"                        cache), and end O_DIRECT mappings at OFFSET\n"
"  -B, --writeback MAP   the write mapping for writeback (default: --write)\n"
"  -e, --begin-returns N make the BEGIN callback return N, any int, sign\n"
"                        and range unchecked (default 0)\n"
"  -l, --log FILE        append one line per FUSE_IOMAP_BEGIN/END to FILE\n"
"  -h, --help\n"
"MAP is TYPE,OFFSET,LENGTH,ADDR,DEV[,FLAGS]: TYPE hole, delalloc, mapped,\n"
"unwritten, inline, overwrite or a number; ADDR a number or null; DEV a\n"
"number, reg (the registered cookie) or old (DEVICE's cookie after\n"
"--reregister).\n");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "read", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "readonly-dev", no_argument, NULL, 'R' },
		{ "unregister", no_argument, NULL, 'u' },
		{ "reregister", required_argument, NULL, 'g' },
		{ "direct-fallback", required_argument, NULL, 'F' },
		{ "writeback", required_argument, NULL, 'B' },
		{ "begin-returns", required_argument, NULL, 'e' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 1 },
		{ NULL, 0, NULL, 0 },
	};
	struct craft c = { 0 };
	struct fi_onefile of = {
		.opts = { .name = "fuse-iomap-craft", .fsname = "fuse-iomap-craft", .subtype = "craft",
			  .mount_opts = "iomap" },
		.iomap = &craft_ops,
		.ctx = &c,
		.ready = craft_ready,
	};
	bool ro = false;
	off_t size = 1 << 20;
	int opt, ret;

	c.out.read = fi_iomap_hole(0, FUSE_IOMAP_MAX_END);
	c.out.write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	while ((opt = getopt_long(argc, argv, "r:w:s:Rue:g:F:B:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (parse_map(optarg, &c.out.read, &c.dev_reg[0], &c.dev_old[0]))
				goto bad;
			break;
		case 'w':
			if (parse_map(optarg, &c.out.write, &c.dev_reg[1], &c.dev_old[1]))
				goto bad;
			break;
		case 's':
			size = strtoll(optarg, NULL, 0);
			break;
		case 'R':
			ro = true;
			break;
		case 'u':
			c.unregister = true;
			break;
		case 'e':
			c.begin_ret = strtol(optarg, NULL, 0);
			break;
		case 'g':
			c.reregister = optarg;
			break;
		case 'F':
			c.fallback = true;
			c.fallback_from = strtoull(optarg, NULL, 0);
			break;
		case 'B':
			if (parse_map(optarg, &c.writeback, &c.writeback_reg, &c.writeback_old))
				goto bad;
			c.writeback_set = true;
			break;
		case 'l':
			of.opts.log = fopen(optarg, "a");
			if (!of.opts.log)
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 1:
			printf("fuse-iomap-craft %s\n", fi_version());
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc - 2)
		goto bad;

	of.dev = argv[optind];
	of.opts.mountpoint = argv[optind + 1];
	of.ro = ro;
	of.size = size;
	ret = fi_onefile_serve(&of);
	if (of.opts.log)
		fclose(of.opts.log);
	return ret;
bad:
	usage(stderr);
	return 2;
}
