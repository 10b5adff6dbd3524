/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One writer per image.  A server that writes a block device (or an image
 * file, through a loop device) must be its only user: the kernel's ext4,
 * another server or any other writer would corrupt it, and we would
 * corrupt theirs.  So a read-write server holds its device open with
 * O_EXCL for as long as it serves, which makes the kernel refuse to mount
 * it (EBUSY), and refuses a device that something else has mounted or
 * holds open exclusively.  A read-only server shares only with read-only
 * users.
 */
#ifndef FI_CLAIM_H
#define FI_CLAIM_H

#include <stdbool.h>

/*
 * Open the block device @path for serving, read-write and exclusively with
 * @rw, else read-only.  Returns the fd, or -errno after a message starting
 * with @prog naming @path and, when it is in use, who uses it.
 */
int fi_claim_bdev(const char *prog, const char *path, bool rw);

/*
 * Check the loop devices backed by the regular file @image: refuse (-EBUSY,
 * after a message) if one is mounted, but for a read-only mount when
 * !@rw, or is held open exclusively (by a writer).  0 if none is in the way.
 */
int fi_claim_check_loops(const char *prog, const char *image, bool rw);

#endif
