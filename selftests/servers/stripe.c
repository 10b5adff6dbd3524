// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-stripe (test only): one file, "f", striped over two block
 * devices in CHUNK-byte pieces: piece i lives on device i % 2 at byte
 * (i / 2) * CHUNK.  It registers both devices with the library, so every
 * mapping names one of two cookies.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_iomap_server.h"

struct stripe {
	struct fi_memns ns;	/* first: fi_memns_of() finds it */
	uint32_t cookie[2];
	uint64_t chunk;
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

static int stripe_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
			struct fuse_iomap_begin_out *out)
{
	struct stripe *s = ctx;
	uint64_t piece = in->pos / s->chunk;

	(void)nodeid;
	out->read = (struct fuse_iomap_io){
		.offset = piece * s->chunk, .length = s->chunk,
		.addr = piece / 2 * s->chunk, .type = FUSE_IOMAP_TYPE_MAPPED,
		.dev = s->cookie[piece % 2],
	};
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

static const struct fi_iomap_ops stripe_ops = { .begin = stripe_begin };

int main(int argc, char *argv[])
{
	struct fi_server_opts o = {
		.name = "fuse-iomap-stripe", .fsname = "fuse-iomap-stripe", .subtype = "stripe",
		.mount_opts = "iomap",
	};
	struct fuse_lowlevel_ops ll = { 0 };
	struct stripe s = { .chunk = 65536 };
	struct fi_memns_node *f;
	struct fi_server *srv = NULL;
	uint64_t size[2];
	int fd[2] = { -1, -1 }, ret = 1;

	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("fuse-iomap-stripe %s\n", fi_version());
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: fuse-iomap-stripe DEV0 DEV1 MOUNTPOINT   (test only)\n");
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
	f->st.st_size = 2 * ((size[0] < size[1] ? size[0] : size[1]) / s.chunk) * s.chunk;
	printf("cookies %u %u size %lld\n", s.cookie[0], s.cookie[1], (long long)f->st.st_size);
	fflush(stdout);
	ret = fi_server_serve(srv) ? 1 : 0;
out_srv:
	fi_server_destroy(srv);
out_ns:
	fi_memns_destroy(&s.ns);
out:
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return ret;
}
