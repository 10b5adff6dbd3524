// SPDX-License-Identifier: GPL-2.0
/* See onefile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int fi_onefile_serve(struct fi_iomap_server *srv, struct fi_memns *ns, const char *dev, bool ro,
		     off_t size, const char *mountpoint)
{
	struct fuse_lowlevel_ops ops = { 0 };
	struct fi_memns_node *f;
	int ret = 1;

	srv->dev_fd = open(dev, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (srv->dev_fd < 0) {
		fprintf(stderr, "%s: can't open %s: %s\n", srv->name, dev, strerror(errno));
		return 1;
	}
	if (fi_memns_init(ns, &onefile_backend, 4096)) {
		fprintf(stderr, "%s: out of memory\n", srv->name);
		goto out_close;
	}
	f = fi_memns_new_node(ns, S_IFREG | 0644, NULL);
	if (!f || fi_memns_link_name(fi_memns_node(ns, FUSE_ROOT_ID), "f", f)) {
		fprintf(stderr, "%s: out of memory\n", srv->name);
		goto out_destroy;
	}
	f->st.st_size = size;
	fi_memns_fill_ops(&ops);
	srv->ops = &ops;
	srv->mount.mountpoint = mountpoint;
	ret = fi_iomap_serve(srv) ? 1 : 0;
out_destroy:
	fi_memns_destroy(ns);
out_close:
	close(srv->dev_fd);
	return ret;
}
