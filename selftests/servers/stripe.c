// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-stripe (test only): one file, "f", striped over two block
 * devices in CHUNK-byte pieces: piece i lives on device i % 2 at byte
 * (i / 2) * CHUNK.  It registers both devices with the library, so every
 * mapping names one of two cookies.
 *
 * With --ioend, piece i lives on device i % 2 at byte i * CHUNK instead
 * (so pieces next to each other in the file are next to each other in
 * sector numbers too, on two devices), starts unwritten and is converted
 * at ioend.  Each ioend that names a device must name the one of all its
 * blocks: one that does not is counted and logged, and the counts are
 * printed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_iomap_server.h"

#define STRIPE_BITS	12

struct stripe {
	struct fi_memns ns;	/* first: fi_memns_of() finds it */
	uint32_t cookie[2];
	uint64_t chunk;
	/* --ioend: one byte a block, 1 once written */
	pthread_mutex_t lock;
	uint8_t *written;
	uint64_t nblocks;
	unsigned long ioends, wrong_dev;
};

static int stripe_resize(struct fi_memns *ns, struct fi_memns_node *n, off_t size)
{
	(void)ns, (void)n, (void)size;
	return -EPERM;
}

static void stripe_free(struct fi_memns *ns, struct fi_memns_node *n)
{
	(void)ns, (void)n;
}

static const struct fi_memns_backend stripe_backend = {
	.resize = stripe_resize,
	.free_data = stripe_free,
};

/* --ioend: the run of blocks of one state in the piece at @pos. */
static int stripe_begin_ioend(struct stripe *s, const struct fuse_iomap_begin_in *in,
			      struct fuse_iomap_begin_out *out)
{
	uint64_t piece = in->pos / s->chunk, b = in->pos >> STRIPE_BITS, e = b + 1;
	uint64_t end = (piece + 1) * s->chunk >> STRIPE_BITS;

	if (b >= s->nblocks)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	while (e < end && s->written[e] == s->written[b])
		e++;
	out->read = (struct fuse_iomap_io){
		.offset = b << STRIPE_BITS, .length = (e - b) << STRIPE_BITS,
		.addr = b << STRIPE_BITS, .dev = s->cookie[piece % 2],
		.type = s->written[b] ? FUSE_IOMAP_TYPE_MAPPED : FUSE_IOMAP_TYPE_UNWRITTEN,
	};
	pthread_mutex_unlock(&s->lock);
	if (out->read.type == FUSE_IOMAP_TYPE_UNWRITTEN &&
	    (in->opflags & (FUSE_IOMAP_OP_WRITE | FUSE_IOMAP_OP_WRITEBACK)))
		out->read.flags = FUSE_IOMAP_F_WANT_IOEND;
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

static int stripe_ioend(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
			struct fuse_iomap_ioend_out *out)
{
	struct stripe *s = ctx;
	uint64_t first = in->pos >> STRIPE_BITS;
	uint64_t end = (in->pos + in->written + (1U << STRIPE_BITS) - 1) >> STRIPE_BITS;
	bool wrong = false;

	(void)nodeid;
	out->newsize = s->nblocks << STRIPE_BITS;
	pthread_mutex_lock(&s->lock);
	s->ioends++;
	for (uint64_t b = first; b < end && b < s->nblocks; b++) {
		if (in->dev != FUSE_IOMAP_DEV_NULL &&
		    in->dev != s->cookie[(b << STRIPE_BITS) / s->chunk % 2])
			wrong = true;
		if (in->flags & FUSE_IOMAP_IOEND_UNWRITTEN)
			s->written[b] = 1;
	}
	if (wrong)
		s->wrong_dev++;
	pthread_mutex_unlock(&s->lock);
	if (wrong)
		fprintf(stderr, "fuse-iomap-stripe: ioend [%llu, +%llu) names device %u, not its blocks'\n",
			(unsigned long long)in->pos, (unsigned long long)in->written, in->dev);
	return 0;
}

static int stripe_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
			struct fuse_iomap_begin_out *out)
{
	struct stripe *s = ctx;
	uint64_t piece = in->pos / s->chunk;

	(void)nodeid;
	if (s->written)
		return stripe_begin_ioend(s, in, out);
	out->read = (struct fuse_iomap_io){
		.offset = piece * s->chunk, .length = s->chunk,
		.addr = piece / 2 * s->chunk, .type = FUSE_IOMAP_TYPE_MAPPED,
		.dev = s->cookie[piece % 2],
	};
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

static const struct fi_iomap_ops stripe_ops = { .begin = stripe_begin, .ioend = stripe_ioend };

int main(int argc, char *argv[])
{
	struct fi_server_opts o = {
		.name = "fuse-iomap-stripe", .fsname = "fuse-iomap-stripe", .subtype = "stripe",
		.mount_opts = "iomap",
	};
	struct fuse_lowlevel_ops ll = { 0 };
	struct stripe s = { .chunk = 65536, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fi_memns_node *f;
	struct fi_server *srv = NULL;
	uint64_t size[2], min;
	bool ioend = false;
	int fd[2] = { -1, -1 }, ret = 1;

	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("fuse-iomap-stripe %s\n", fi_version());
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--ioend"))
		ioend = true, argv++, argc--;
	if (argc != 4) {
		fprintf(stderr, "usage: fuse-iomap-stripe [--ioend] DEV0 DEV1 MOUNTPOINT   (test only)\n");
		return 2;
	}
	o.mountpoint = argv[3];
	for (int i = 0; i < 2; i++) {
		fd[i] = open(argv[1 + i], O_RDWR | O_CLOEXEC);
		if (fd[i] < 0) {
			fprintf(stderr, "fuse-iomap-stripe: can't open %s: %s\n", argv[1 + i],
				strerror(errno));
			goto out;
		}
	}
	if (fi_memns_init(&s.ns, &stripe_backend, 4096))
		goto out;
	f = fi_memns_new_node(&s.ns, S_IFREG | 0644, NULL);
	if (!f || fi_memns_link_name(fi_memns_node(&s.ns, FUSE_ROOT_ID), "f", f))
		goto out_ns;
	fi_memns_fill_ops(&ll);
	srv = fi_server_new(&o, &ll, &stripe_ops, &s);
	if (!srv || fi_server_mount(srv) ||
	    fi_server_add_device(srv, fd[0], &s.cookie[0], &size[0]) ||
	    fi_server_add_device(srv, fd[1], &s.cookie[1], &size[1]))
		goto out_srv;
	/* Whole pieces on both devices. */
	min = (size[0] < size[1] ? size[0] : size[1]) / s.chunk * s.chunk;
	f->st.st_size = ioend ? min : 2 * min;
	if (ioend) {
		s.nblocks = min >> STRIPE_BITS;
		s.written = calloc(s.nblocks, 1);
		if (!s.written)
			goto out_srv;
	}
	printf("cookies %u %u size %lld\n", s.cookie[0], s.cookie[1], (long long)f->st.st_size);
	fflush(stdout);
	ret = fi_server_serve(srv) ? 1 : 0;
	if (ioend)
		printf("ioends %lu wrong-device %lu\n", s.ioends, s.wrong_dev);
out_srv:
	fi_server_destroy(srv);
out_ns:
	fi_memns_destroy(&s.ns);
	free(s.written);
out:
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return ret;
}
