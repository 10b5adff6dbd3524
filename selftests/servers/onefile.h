/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What our test servers share: a namespace of the root and one regular
 * file, "f", whose data lives nowhere (its every mapping is the server's
 * iomap answer), and serving it with one block device registered.
 */
#ifndef FI_ONEFILE_H
#define FI_ONEFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "iomap_session.h"
#include "memns.h"

/*
 * Serve @srv (name, mount options, iomap ops and ctx filled in; @ns is the
 * first member of ctx) at @mountpoint with "f" of @size bytes, registering
 * @dev opened read-only or read-write.  Returns main()'s exit status.
 */
int fi_onefile_serve(struct fi_iomap_server *srv, struct fi_memns *ns, const char *dev, bool ro,
		     off_t size, const char *mountpoint);

#endif
