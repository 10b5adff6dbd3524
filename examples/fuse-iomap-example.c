// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-example: the smallest useful libfuse-iomap server.  It serves
 * one file, "data", whose bytes are [OFFSET, OFFSET+LENGTH) of a block
 * device.  The kernel asks where a range of "data" lives; we answer
 * "OFFSET + pos on the device", and the kernel moves the bytes itself.
 * With --bpf the library loads extent_map and publishes the file's one
 * extent after its first read, so later reads make no upcall at all.
 * "data" can be truncated and written again up to LENGTH: what a truncate
 * cut off reads as a hole until written.
 *
 * Build against an installed library:
 *   cc -o fuse-iomap-example fuse-iomap-example.c $(pkg-config --cflags --libs fuse-iomap)
 */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fuse_iomap_server.h>

#define BLOCK	4096ULL
#define FILE_INO	2

struct example {
	uint64_t offset, length;	/* the device range that is "data" */
	uint32_t cookie;		/* the kernel's name for our device */
	uint64_t size;			/* of "data", at most length */
	uint64_t data_end;		/* bytes from here on are a hole */
};

static uint64_t ex_round_up(uint64_t x)
{
	return (x + BLOCK - 1) & ~(BLOCK - 1);
}

static void ex_stat(fuse_ino_t ino, struct example *ex, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	st->st_size = ino == FUSE_ROOT_ID ? 0 : (off_t)ex->size;
	st->st_blocks = st->st_size / 512;
	st->st_blksize = BLOCK;
}

static void ex_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = FILE_INO, .attr_timeout = 60, .entry_timeout = 60 };

	if (parent != FUSE_ROOT_ID || strcmp(name, "data")) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ex_stat(FILE_INO, fi_req_ctx(req), &e.attr);
	fuse_reply_entry(req, &e);
}

static void ex_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	ex_stat(ino, fi_req_ctx(req), &st);
	fuse_reply_attr(req, &st, 60);
}

/*
 * Only the size matters here: the kernel keeps an iomap file's times and
 * size itself and tells us the size at a truncate, the only time it
 * changes blocks.  The library forgets the published extent first.
 */
static void ex_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct example *ex = fi_req_ctx(req);
	struct stat st;

	(void)fi;
	if ((to_set & FUSE_SET_ATTR_SIZE) && ino == FILE_INO) {
		if ((uint64_t)attr->st_size > ex->length) {
			fuse_reply_err(req, EFBIG);
			return;
		}
		ex->size = attr->st_size;
		if (ex->data_end > ex->size)
			ex->data_end = ex->size;
	}
	ex_stat(ino, ex, &st);
	fuse_reply_attr(req, &st, 60);
}

static void ex_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	static const char *const names[] = { ".", "..", "data" };
	char buf[512];
	size_t used = 0;
	struct stat st = { 0 };

	(void)ino, (void)fi;
	for (off_t i = off; i < 3; i++) {
		st.st_ino = i == 2 ? FILE_INO : FUSE_ROOT_ID;
		st.st_mode = i == 2 ? S_IFREG : S_IFDIR;
		used += fuse_add_direntry(req, buf + used, sizeof(buf) - used, names[i], &st, i + 1);
	}
	fuse_reply_buf(req, buf, used < size ? used : size);
}

/*
 * Where [pos, pos+count) of "data" lives: OFFSET + pos.  Past what a
 * truncate left, a hole, until a write asks for the blocks again.  (A
 * write that then fails shows what the blocks held before: this file's
 * own old bytes.  A real file system hands out UNWRITTEN blocks there.)
 */
static int ex_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		    struct fuse_iomap_begin_out *out)
{
	struct example *ex = ctx;
	uint64_t pos = in->pos & ~(BLOCK - 1), end = ex_round_up(ex->data_end);

	if (nodeid != FILE_INO)
		return -EINVAL;
	if ((in->opflags & FUSE_IOMAP_OP_WRITE) && pos < ex->length &&
	    in->pos + in->count > ex->data_end) {
		ex->data_end = in->pos + in->count < ex->length ? in->pos + in->count : ex->length;
		end = ex->length;
	}
	if (pos >= ex->length) {
		out->read = fi_iomap_hole(pos, FUSE_IOMAP_MAX_END - pos);
	} else if (pos >= end) {
		out->read = fi_iomap_hole(pos, ex->length - pos);
	} else {
		out->read = (struct fuse_iomap_io){
			.offset = pos, .length = end - pos, .addr = ex->offset + pos,
			.type = FUSE_IOMAP_TYPE_MAPPED, .dev = ex->cookie,
		};
	}
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;	/* writes go where reads come from */
	return 0;
}

/* For --bpf: the whole file is one extent; the library frees the array. */
static int ex_extents(void *ctx, uint64_t nodeid, struct fi_extent **v, uint32_t *n,
		      uint32_t *flags)
{
	struct example *ex = ctx;

	if (nodeid != FILE_INO || !(*v = calloc(1, sizeof(**v))))
		return -ENOMEM;
	**v = (struct fi_extent){ .lblk = 0, .len = ex_round_up(ex->data_end) / BLOCK,
				  .pblk = ex->offset / BLOCK, .dev = ex->cookie,
				  .type = FUSE_IOMAP_TYPE_MAPPED };
	*n = (*v)->len ? 1 : 0;
	*flags = 0;
	return 0;
}

int main(int argc, char *argv[])
{
	const struct fuse_lowlevel_ops ll = {
		.lookup = ex_lookup, .getattr = ex_getattr, .setattr = ex_setattr,
		.readdir = ex_readdir,
	};
	const struct fi_iomap_ops iomap = { .begin = ex_begin, .extents = ex_extents };
	struct fi_server_opts o = {
		.name = "fuse-iomap-example", .fsname = "fuse-iomap-example", .subtype = "example",
		.mount_opts = "iomap",
	};
	struct example ex = { 0 };
	struct fi_server *srv;
	uint64_t size;
	int bpf = 0, fd, ret = 1;

	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("fuse-iomap-example (libfuse-iomap %s)\n", fi_version());
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--bpf"))
		bpf = 1, argv++, argc--;
	if (argc != 5) {
		fprintf(stderr, "usage: fuse-iomap-example [--bpf|--version] DEVICE OFFSET LENGTH MOUNTPOINT\n"
			"  serves DEVICE's bytes [OFFSET, OFFSET+LENGTH) as MOUNTPOINT/data\n"
			"  (DEVICE: a block device or an image file)\n"
			"  (OFFSET and LENGTH in bytes, multiples of 4096)\n");
		return 2;
	}
	ex.offset = strtoull(argv[2], NULL, 0);
	ex.length = strtoull(argv[3], NULL, 0);
	ex.size = ex.data_end = ex.length;
	o.mountpoint = argv[4];
	if ((ex.offset | ex.length) % BLOCK || !ex.length) {
		fprintf(stderr, "fuse-iomap-example: OFFSET and LENGTH must be multiples of 4096\n");
		return 2;
	}
	if (fi_check_mountpoint(o.name, o.mountpoint, true))
		return 1;
	fd = fi_open_device(o.name, argv[1], true);
	if (fd < 0)
		return 1;
	srv = fi_server_new(&o, &ll, &iomap, &ex);
	if (!srv || fi_server_mount(srv) || fi_server_add_device(srv, fd, &ex.cookie, &size))
		goto out;
	if (ex.offset + ex.length > size)
		fprintf(stderr, "fuse-iomap-example: %s has only %llu bytes\n", argv[1],
			(unsigned long long)size);
	else if (!bpf || !fi_server_bpf_start(srv, 0))
		ret = fi_server_serve(srv) ? 1 : 0;
out:
	fi_server_destroy(srv);
	close(fd);
	return ret;
}
