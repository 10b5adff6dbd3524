// SPDX-License-Identifier: GPL-2.0
/* See onefile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "onefile.h"

static int onefile_resize(struct fi_memns *ns, struct fi_memns_node *n, off_t size)
{
	(void)ns, (void)n, (void)size;
	return 0;
}

static void onefile_free(struct fi_memns *ns, struct fi_memns_node *n)
{
	(void)ns, (void)n;
}

static const struct fi_memns_backend onefile_backend = {
	.resize = onefile_resize,
	.free_data = onefile_free,
};

/*
 * The library's loop answers every FUSE_IOMAP_BEGIN through begin(); a
 * test that crafts the wire bytes itself runs this one instead.  The test
 * unmounts, which ends the connection and the loop.
 */
static int onefile_wire_loop(struct fi_onefile *of, struct fuse_session *se)
{
	struct fuse_buf fbuf = { .mem = NULL };
	int res;

	for (;;) {
		const struct fuse_in_header *ih;

		res = fuse_session_receive_buf(se, &fbuf);
		if (res == -EINTR)
			continue;
		if (res <= 0)
			break;
		ih = fbuf.mem;
		if ((fbuf.flags & FUSE_BUF_IS_FD) || (size_t)res < sizeof(*ih)) {
			res = -EIO;
			break;
		}
		if (ih->opcode == FUSE_IOMAP_BEGIN &&
		    (size_t)res >= sizeof(*ih) + sizeof(struct fuse_iomap_begin_in)) {
			res = of->begin_wire(of->ctx, fuse_session_fd(se), ih->unique,
					     (const void *)(ih + 1));
			if (res < 0)
				break;
		} else if (ih->opcode == FUSE_IOMAP_END || ih->opcode == FUSE_IOMAP_IOEND) {
			/* Taken, with nothing to commit (the IOEND reply's newsize is 0). */
			struct {
				struct fuse_out_header oh;
				struct fuse_iomap_ioend_out out;
			} r = { .oh = { .len = sizeof(r.oh), .unique = ih->unique } };

			if (ih->opcode == FUSE_IOMAP_IOEND)
				r.oh.len = sizeof(r);
			if (write(fuse_session_fd(se), &r, r.oh.len) < 0 && errno != ENOENT) {
				res = -errno;
				break;
			}
		} else {
			fuse_session_process_buf(se, &fbuf);
		}
	}
	free(fbuf.mem);
	return res < 0 ? res : 0;
}

int fi_onefile_serve(struct fi_onefile *of)
{
	struct fuse_lowlevel_ops ops = { 0 };
	struct fi_memns *ns = of->ctx;
	struct fi_memns_node *f;
	struct fi_server *srv;
	uint32_t cookie;
	uint64_t size;
	int fd, ret = 1;

	fd = open(of->dev, (of->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: can't open %s: %s\n", of->opts.name, of->dev, strerror(errno));
		return 1;
	}
	if (fi_memns_init(ns, &onefile_backend, 4096)) {
		fprintf(stderr, "%s: out of memory\n", of->opts.name);
		goto out_close;
	}
	f = fi_memns_new_node(ns, S_IFREG | 0644, NULL);
	if (!f || fi_memns_link_name(fi_memns_node(ns, FUSE_ROOT_ID), "f", f)) {
		fprintf(stderr, "%s: out of memory\n", of->opts.name);
		goto out_destroy;
	}
	f->st.st_size = of->size;
	fi_memns_fill_ops(&ops);
	srv = fi_server_new(&of->opts, &ops, of->iomap, of->ctx);
	if (!srv)
		goto out_destroy;
	if (!fi_server_mount(srv) && !fi_server_add_device(srv, fd, &cookie, &size) &&
	    (!of->ready || !of->ready(srv, cookie, size, of->ctx))) {
		if (of->begin_wire)
			ret = onefile_wire_loop(of, fi_server_session(srv)) ? 1 : 0;
		else
			ret = fi_server_serve(srv) ? 1 : 0;
	}
	fi_server_destroy(srv);
out_destroy:
	fi_memns_destroy(ns);
out_close:
	close(fd);
	return ret;
}
