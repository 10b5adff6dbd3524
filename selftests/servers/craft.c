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
	struct memns ns;		/* first: the session's userdata */
	struct fuse_iomap_begin_out out;
	bool dev_reg[2];		/* read/write DEV was "reg" */
	uint32_t cookie;
	bool unregister;		/* --unregister: drop the device at once */
	int begin_ret;			/* --begin-returns: what craft_begin returns */
};

static int craft_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		       struct fuse_iomap_begin_out *out)
{
	struct craft *c = ctx;

	(void)nodeid, (void)in;
	*out = c->out;
	if (c->dev_reg[0])
		out->read.dev = c->cookie;
	if (c->dev_reg[1])
		out->write.dev = c->cookie;
	return c->begin_ret;
}

static const struct fi_iomap_ops craft_ops = {
	.begin = craft_begin,
};

static int craft_ready(struct fuse_session *se, uint32_t cookie, uint64_t size, void *ctx)
{
	struct craft *c = ctx;

	c->cookie = cookie;
	if (c->unregister && ioctl(fuse_session_fd(se), FUSE_IOMAP_IOC_DEV_UNREGISTER, &cookie)) {
		fprintf(stderr, "fuse-iomap-craft: can't unregister: %s\n", strerror(errno));
		return -errno;
	}
	printf("cookie %u size %" PRIu64 "\n", cookie, size);
	fflush(stdout);
	return 0;
}

static int parse_map(const char *spec, struct fuse_iomap_io *m, bool *dev_reg)
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
	m->dev = *dev_reg ? 0 : strtoul(f[4], NULL, 0);
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
"  -e, --begin-returns N make the BEGIN callback return N, any int, sign\n"
"                        and range unchecked (default 0)\n"
"  -l, --log FILE        append one line per FUSE_IOMAP_BEGIN/END to FILE\n"
"  -h, --help\n"
"MAP is TYPE,OFFSET,LENGTH,ADDR,DEV[,FLAGS]: TYPE hole, delalloc, mapped,\n"
"unwritten, inline, overwrite or a number; ADDR a number or null; DEV a\n"
"number or reg (the registered cookie).\n");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "read", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "readonly-dev", no_argument, NULL, 'R' },
		{ "unregister", no_argument, NULL, 'u' },
		{ "begin-returns", required_argument, NULL, 'e' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct craft c = { 0 };
	struct fi_iomap_server srv = {
		.name = "fuse-iomap-craft",
		.mount = { .fsname = "fuse-iomap-craft", .subtype = "craft", .extra_opts = "iomap" },
		.iomap = &craft_ops,
		.ctx = &c,
		.ready = craft_ready,
	};
	bool ro = false;
	off_t size = 1 << 20;
	int opt, ret;

	c.out.read = fi_iomap_hole(0, FUSE_IOMAP_MAX_END);
	c.out.write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	while ((opt = getopt_long(argc, argv, "r:w:s:Rue:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (parse_map(optarg, &c.out.read, &c.dev_reg[0]))
				goto bad;
			break;
		case 'w':
			if (parse_map(optarg, &c.out.write, &c.dev_reg[1]))
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
		case 'l':
			srv.log = fopen(optarg, "a");
			if (!srv.log)
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc - 2)
		goto bad;

	ret = fi_onefile_serve(&srv, &c.ns, argv[optind], ro, size, argv[optind + 1]);
	if (srv.log)
		fclose(srv.log);
	return ret;
bad:
	usage(stderr);
	return 2;
}
