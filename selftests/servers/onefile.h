/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What our test servers share: a namespace of the root and one regular
 * file, "f", whose data lives nowhere (its every mapping is the server's
 * iomap answer), served through libfuse-iomap with one block device.
 */
#ifndef FI_ONEFILE_H
#define FI_ONEFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "fuse_iomap_server.h"

struct fi_onefile {
	struct fi_server_opts opts;	/* name, mount options, log */
	const struct fi_iomap_ops *iomap;
	void *ctx;			/* starts with the struct fi_memns */
	const char *dev;
	bool ro;			/* open dev read-only */
	off_t size;			/* of "f" */
	/* Optional: called once the device is registered; 0 or -errno. */
	int (*ready)(struct fi_server *srv, uint32_t cookie, uint64_t size, void *ctx);
	/*
	 * Test only: write the reply to FUSE_IOMAP_BEGIN @unique on @fd
	 * yourself, well-formed or not, instead of iomap->begin().  0 or
	 * -errno (which ends serving).
	 */
	int (*begin_wire)(void *ctx, int fd, uint64_t unique, const struct fuse_iomap_begin_in *in);
};

/* Serve until unmounted; returns main()'s exit status. */
int fi_onefile_serve(struct fi_onefile *of);

#endif
