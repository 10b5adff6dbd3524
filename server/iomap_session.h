/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The request loop of our iomap servers.  libfuse3 does not know our two
 * opcodes, so we receive each request with fuse_session_receive_buf(),
 * answer FUSE_IOMAP_BEGIN and FUSE_IOMAP_END ourselves, and hand every
 * other request to fuse_session_process_buf().  libfuse stays unmodified.
 */
#ifndef FI_IOMAP_SESSION_H
#define FI_IOMAP_SESSION_H

#include <stdint.h>
#include <fuse_lowlevel.h>

#include "fuse_iomap_bpf.h"

struct fi_iomap_ops {
	/* Fill *out for nodeid; return 0 or a positive errno. */
	int (*begin)(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		     struct fuse_iomap_begin_out *out);
	/* Optional; return 0 or a positive errno. */
	int (*end)(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in);
};

/* Register the open block device @dev_fd with the connection behind the
 * mounted session's fd.  Returns 0 (filling *cookie and *size) or -errno. */
int fi_iomap_register_dev(struct fuse_session *se, int dev_fd, uint32_t *cookie, uint64_t *size);

/* Serve until @mountpoint is unmounted; a signal (libfuse's handlers) starts
 * the unmount.  0 or -errno. */
int fi_iomap_session_loop(struct fuse_session *se, const struct fi_iomap_ops *ops, void *ctx,
			  const char *mountpoint);

/* Helpers for building answers. */
static inline struct fuse_iomap_io fi_iomap_hole(uint64_t offset, uint64_t length)
{
	return (struct fuse_iomap_io){
		.offset = offset, .length = length, .addr = FUSE_IOMAP_NULL_ADDR,
		.type = FUSE_IOMAP_TYPE_HOLE, .dev = FUSE_IOMAP_DEV_NULL,
	};
}

#endif
