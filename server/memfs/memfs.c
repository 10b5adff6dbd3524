// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-memfs: a minimal libfuse3 low-level server that keeps files in
 * memory.  It exists to test the plumbing (mounting on fuseiomap through
 * /dev/fuse-iomap, or on the stock fuse) with an unmodified libfuse3; it
 * does no iomap.  The session runs single-threaded, so no locking.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fuse_lowlevel.h>

#include "fuse_iomap_server.h"

/* Regular file contents: n->data points at one of these. */
struct memfs_buf {
	char *bytes;
	size_t cap;
};

static int memfs_resize(struct fi_memns *fs, struct fi_memns_node *n, off_t size)
{
	struct memfs_buf *b = n->data;

	(void)fs;
	if (size > (1LL << 32))
		return -EFBIG;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		n->data = b;
	}
	if ((size_t)size > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *bytes;

		while (cap < (size_t)size)
			cap *= 2;
		bytes = realloc(b->bytes, cap);
		if (!bytes)
			return -ENOMEM;
		memset(bytes + b->cap, 0, cap - b->cap);
		b->bytes = bytes;
		b->cap = cap;
	}
	if (size < n->st.st_size)
		memset(b->bytes + size, 0, n->st.st_size - size);
	return 0;
}

static void memfs_free_data(struct fi_memns *fs, struct fi_memns_node *n)
{
	struct memfs_buf *b = n->data;

	(void)fs;
	if (b)
		free(b->bytes);
	free(b);
}

static const struct fi_memns_backend memfs_backend = {
	.resize = memfs_resize,
	.free_data = memfs_free_data,
};

static void memfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fi_memns_node *n = fi_memns_node(fi_memns_of(req), ino);
	struct memfs_buf *b;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	b = n->data;
	if (off >= n->st.st_size)
		size = 0;
	else if ((off_t)size > n->st.st_size - off)
		size = n->st.st_size - off;
	fuse_reply_buf(req, size ? b->bytes + off : NULL, size);
}

static void memfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *n = fi_memns_node(fs, ino);
	struct memfs_buf *b;
	int err;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off + (off_t)size > n->st.st_size) {
		err = memfs_resize(fs, n, off + size);
		if (err) {
			fuse_reply_err(req, err);
			return;
		}
		n->st.st_size = off + size;
	}
	b = n->data;
	if (size)
		memcpy(b->bytes + off, buf, size);
	fi_memns_touch(n, true);
	fuse_reply_write(req, size);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-memfs [OPTIONS] MOUNTPOINT\n"
"\n"
"Serve an empty in-memory file system at MOUNTPOINT until it is unmounted\n"
"(or the server gets SIGINT/SIGTERM/SIGHUP, when it unmounts it itself).\n"
"It always runs in the foreground.  File data lives in the server's memory\n"
"and is lost when it exits; it does no iomap.\n"
"\n"
"By default it mounts a 'fuseiomap.memfs' file system through %s,\n"
"which needs root and fuse_iomap.ko loaded.\n"
"\n"
"Options:\n"
"  --stock      mount on the kernel's own fuse through /dev/fuse instead\n"
"  -d, --debug  print every request (libfuse debug output)\n"
"  -h, --help   print this help and exit\n"
"  -V, --version print the version and exit\n", "/dev/fuse-iomap");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "stock", no_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct fi_server_opts o = {
		.name = "fuse-iomap-memfs", .fsname = "fuse-iomap-memfs", .subtype = "memfs",
	};
	struct fuse_lowlevel_ops ops = {
		.read = memfs_read,
		.write = memfs_write,
	};
	struct fi_server *srv;
	struct fi_memns fs;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.stock = true;
			break;
		case 'd':
			o.debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fuse-iomap-memfs %s\n", FI_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "fuse-iomap-memfs: expected one MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	o.mountpoint = argv[optind];
	/* Through /dev/fuse, fusermount3 mounts for unprivileged users. */
	if (fi_check_mountpoint(o.name, o.mountpoint, !o.stock))
		return 1;

	if (fi_memns_init(&fs, &memfs_backend, 4096)) {
		fprintf(stderr, "fuse-iomap-memfs: out of memory\n");
		return 1;
	}
	fi_memns_fill_ops(&ops);
	srv = fi_server_new(&o, &ops, NULL, &fs);
	if (srv && !fi_server_mount(srv))
		ret = fi_server_serve(srv) ? 1 : 0;
	fi_server_destroy(srv);
	fi_memns_destroy(&fs);
	return ret;
}
