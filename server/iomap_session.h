/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The request loop of our iomap servers.  libfuse3 does not know our two
 * opcodes, so we receive each request with fuse_session_receive_buf(),
 * answer FUSE_IOMAP_BEGIN and FUSE_IOMAP_END ourselves, and hand every
 * other request to fuse_session_process_buf().  libfuse stays unmodified.
 */
#ifndef FI_IOMAP_SESSION_H
#define FI_IOMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <fuse_lowlevel.h>

#include "fuse_iomap_bpf.h"
#include "mount.h"

struct fi_iomap_ops {
	/*
	 * Fill *out for nodeid; return 0 or a positive errno (below 512).
	 * Anything else is answered with EIO and logged.
	 */
	int (*begin)(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		     struct fuse_iomap_begin_out *out);
	/*
	 * Optional, for test servers only: write the reply to FUSE_IOMAP_BEGIN
	 * @unique on @fd yourself, well-formed or not, instead of begin().
	 * Return 0 or -errno (which ends serving).
	 */
	int (*begin_wire)(void *ctx, int fd, uint64_t unique, const struct fuse_iomap_begin_in *in);
	/* Optional; return 0 or a positive errno, as begin(). */
	int (*end)(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in);
};

/* What an iomap server's main() hands fi_iomap_serve(). */
struct fi_iomap_server {
	const char *name;		/* program name, for messages */
	struct fi_mount mount;		/* mountpoint, fsname, subtype, options */
	int dev_fd;			/* the block device to register */
	const struct fuse_lowlevel_ops *ops;
	const struct fi_iomap_ops *iomap;
	void *ctx;			/* userdata of both tables */
	bool debug;			/* libfuse's -d */
	FILE *log;			/* one line per BEGIN/END, or NULL */
	/* Called once the device is registered, before serving: 0 or -errno. */
	int (*ready)(struct fuse_session *se, uint32_t cookie, uint64_t size, void *ctx);
};

/*
 * Mount, register the device, serve until unmounted (a signal starts the
 * unmount; serving goes on until the kernel ends the connection), unmount.
 * Returns -1
 * if it never got to serve (after printing why), else 0, or 1 if serving
 * ended in an error.
 */
int fi_iomap_serve(struct fi_iomap_server *srv);



/* Helpers for building answers. */
static inline struct fuse_iomap_io fi_iomap_hole(uint64_t offset, uint64_t length)
{
	return (struct fuse_iomap_io){
		.offset = offset, .length = length, .addr = FUSE_IOMAP_NULL_ADDR,
		.type = FUSE_IOMAP_TYPE_HOLE, .dev = FUSE_IOMAP_DEV_NULL,
	};
}

#endif
