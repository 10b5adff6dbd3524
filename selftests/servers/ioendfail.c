// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ioendfail (test only): one file, "f", as large as the device,
 * whose block b is device block b and starts UNWRITTEN; an ioend converts
 * it.  With the BPF tier (unless --no-bpf), writes into unwritten blocks
 * end in ioends that extent_map queues, applied later through ioend().
 * While the file FLAG exists, ioend() fails with EIO: a queued ioend that
 * cannot be applied, after the kernel already ended writeback with
 * success.  Every ioend is checked against what was asked: only
 * unwritten blocks want one (and, with BPF, writeback up to EOF); any
 * other is counted as unasked and logged.  The counts are printed at
 * exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onefile.h"

#define IEF_BITS	12

struct ioendfail {
	struct fi_memns ns;	/* first: fi_memns_of() finds it */
	pthread_mutex_t lock;	/* written[] */
	const char *flag;
	uint32_t cookie;
	uint64_t nblocks;
	uint8_t *written;
	bool bpf;
	unsigned long failed, unasked;
};

/* The run of blocks in one state from @b on, up to @end. */
static struct fuse_iomap_io ief_lookup(struct ioendfail *f, uint64_t b, uint64_t end)
{
	uint64_t e = b + 1;

	while (e < end && f->written[e] == f->written[b])
		e++;
	return (struct fuse_iomap_io){
		.offset = b << IEF_BITS, .length = (e - b) << IEF_BITS, .addr = b << IEF_BITS,
		.type = f->written[b] ? FUSE_IOMAP_TYPE_MAPPED : FUSE_IOMAP_TYPE_UNWRITTEN,
		.dev = f->cookie,
	};
}

static int ief_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		     struct fuse_iomap_begin_out *out)
{
	struct ioendfail *f = ctx;
	uint64_t b = in->pos >> IEF_BITS;

	(void)nodeid;
	if (b >= f->nblocks) {
		out->read = fi_iomap_hole(b << IEF_BITS, FUSE_IOMAP_MAX_END - (b << IEF_BITS));
		out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
		return (in->opflags & FUSE_IOMAP_OP_WRITE) ? -ENOSPC : 0;
	}
	pthread_mutex_lock(&f->lock);
	out->read = ief_lookup(f, b, f->nblocks);
	pthread_mutex_unlock(&f->lock);
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	if ((in->opflags & (FUSE_IOMAP_OP_WRITE | FUSE_IOMAP_OP_WRITEBACK)) &&
	    out->read.type == FUSE_IOMAP_TYPE_UNWRITTEN)
		out->read.flags |= FUSE_IOMAP_F_WANT_IOEND;
	return 0;
}

/* Blocks [first, end) hold a written one, and do not reach EOF? */
static bool ief_unasked(struct ioendfail *f, uint64_t first, uint64_t end)
{
	bool written = false;

	if (f->bpf && end >= f->nblocks)
		return false;
	pthread_mutex_lock(&f->lock);
	for (uint64_t b = first; b < end && b < f->nblocks; b++)
		written |= f->written[b];
	pthread_mutex_unlock(&f->lock);
	return written;
}

static int ief_ioend(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
		     struct fuse_iomap_ioend_out *out)
{
	struct ioendfail *f = ctx;
	uint64_t first = in->pos >> IEF_BITS;
	uint64_t end = (in->pos + in->written + (1U << IEF_BITS) - 1) >> IEF_BITS;

	(void)nodeid;
	out->newsize = f->nblocks << IEF_BITS;
	if (ief_unasked(f, first, end)) {
		f->unasked++;
		fprintf(stderr, "fuse-iomap-ioendfail: unasked ioend [%llu, +%llu) flags 0x%x\n",
			(unsigned long long)in->pos, (unsigned long long)in->written, in->flags);
	}
	if (!access(f->flag, F_OK)) {
		f->failed++;
		return -EIO;
	}
	if (!(in->flags & FUSE_IOMAP_IOEND_UNWRITTEN))
		return 0;
	pthread_mutex_lock(&f->lock);
	for (uint64_t b = first; b < end && b < f->nblocks; b++)
		f->written[b] = 1;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int ief_extents(void *ctx, uint64_t nodeid, struct fi_extent **vp, uint32_t *np,
		       uint32_t *flags)
{
	struct ioendfail *f = ctx;
	struct fi_extent *v = NULL, *nv;
	uint32_t n = 0;

	(void)nodeid;
	pthread_mutex_lock(&f->lock);
	for (uint64_t b = 0; b < f->nblocks; b += v[n - 1].len) {
		struct fuse_iomap_io io = ief_lookup(f, b, f->nblocks);

		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			pthread_mutex_unlock(&f->lock);
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = (struct fi_extent){
			.lblk = b, .len = io.length >> IEF_BITS, .pblk = b, .dev = f->cookie,
			.type = io.type,
		};
	}
	pthread_mutex_unlock(&f->lock);
	*vp = v;
	*np = n;
	*flags = FI_FILE_IOEND;
	return 0;
}

static const struct fi_iomap_ops ief_ops = {
	.begin = ief_begin,
	.ioend = ief_ioend,
	.ioend_in_place = true,
	.extents = ief_extents,
};

static int ief_ready(struct fi_server *srv, uint32_t cookie, uint64_t size, void *ctx)
{
	struct ioendfail *f = ctx;

	f->cookie = cookie;
	f->nblocks = size >> IEF_BITS;
	f->written = calloc(f->nblocks ? f->nblocks : 1, 1);
	if (!f->written)
		return -ENOMEM;
	return f->bpf ? fi_server_bpf_start(srv, 0) : 0;
}

int main(int argc, char *argv[])
{
	struct ioendfail f = { .lock = PTHREAD_MUTEX_INITIALIZER, .bpf = true };
	struct fi_onefile of = {
		.opts = { .name = "fuse-iomap-ioendfail", .fsname = "fuse-iomap-ioendfail",
			  .subtype = "ioendfail", .mount_opts = "iomap" },
		.iomap = &ief_ops,
		.ctx = &f,
		.ready = ief_ready,
	};
	int fd, ret;

	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("fuse-iomap-ioendfail %s\n", fi_version());
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--no-bpf"))
		f.bpf = false, argv++, argc--;
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: fuse-iomap-ioendfail [--no-bpf] DEV MOUNTPOINT FLAG [LOG]   (test only)\n");
		return 2;
	}
	of.dev = argv[1];
	of.opts.mountpoint = argv[2];
	f.flag = argv[3];
	if (argc == 5) {
		of.opts.log = fopen(argv[4], "a");
		if (!of.opts.log) {
			fprintf(stderr, "fuse-iomap-ioendfail: can't open %s: %s\n", argv[4],
				strerror(errno));
			return 1;
		}
	}
	/* The file's size: the device's, known only once it is open. */
	fd = open(of.dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fuse-iomap-ioendfail: can't open %s: %s\n", of.dev, strerror(errno));
		return 1;
	}
	of.size = lseek(fd, 0, SEEK_END);
	close(fd);
	of.size &= ~(off_t)((1U << IEF_BITS) - 1);
	ret = fi_onefile_serve(&of);
	printf("ioends failed: %lu\nioends unasked: %lu\n", f.failed, f.unasked);
	if (of.opts.log)
		fclose(of.opts.log);
	free(f.written);
	return ret;
}
