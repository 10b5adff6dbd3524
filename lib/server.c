// SPDX-License-Identifier: GPL-2.0
/*
 * The server object: made, mounted, given its block devices (which the
 * kernel registers by ioctl on the session's fd) and destroyed.  Serving
 * is serve.c's; the answers to our own opcodes are request.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>

#include "internal.h"

const char *fi_version(void)
{
	return FI_VERSION;
}

void *fi_req_ctx(fuse_req_t req)
{
	struct fi_server *srv = fuse_req_userdata(req);

	return srv->ctx;
}

struct fi_server *fi_server_new(const struct fi_server_opts *opts,
				const struct fuse_lowlevel_ops *ll,
				const struct fi_iomap_ops *iomap, void *ctx)
{
	const char *name = opts->name ? opts->name : "libfuse-iomap";
	struct fi_server *srv;

	if (!opts->name || !opts->mountpoint) {
		fprintf(stderr, "%s: fi_server_new: name and mountpoint are needed\n", name);
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		fprintf(stderr, "%s: out of memory\n", name);
		return NULL;
	}
	srv->opts = *opts;
	srv->ll = *ll;
	if (iomap)
		srv->iomap = *iomap;
	srv->ctx = ctx;
	srv->mount = (struct fi_mount){
		.prog = opts->name, .mountpoint = opts->mountpoint, .fsname = opts->fsname,
		.subtype = opts->subtype, .extra_opts = opts->mount_opts, .stock = opts->stock,
		.max_file_size = opts->max_file_size,
		.readonly = opts->readonly, .fd = -1,
	};
	pthread_mutex_init(&srv->lock, NULL);
	fi_lib_rule_init(&srv->rule);
	srv->rule.reports = srv->iomap.reports_changes;
	fi_lib_ioend_init(&srv->ioq);
	if (opts->log)
		setvbuf(opts->log, NULL, _IOLBF, 0);
	return srv;
}

int fi_server_mount(struct fi_server *srv)
{
	char *fargv[] = { (char *)srv->opts.name, "-d", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(srv->opts.debug ? 2 : 1, fargv);
	struct fuse_lowlevel_ops ll = srv->ll;
	int err;

	fi_lib_rule_wrap_ops(&ll);
	srv->se = fuse_session_new(&args, &ll, sizeof(ll), srv);
	if (!srv->se) {
		fprintf(stderr, "%s: can't create the FUSE session\n", srv->opts.name);
		return -ENOMEM;
	}
	if (fuse_set_signal_handlers(srv->se)) {
		fprintf(stderr, "%s: can't set signal handlers\n", srv->opts.name);
		err = -EIO;
		goto fail;
	}
	srv->signals = true;
	err = fi_lib_mount(srv->se, &srv->mount);
	if (err)
		goto fail;
	return 0;
fail:
	if (srv->signals)
		fuse_remove_signal_handlers(srv->se);
	srv->signals = false;
	fuse_session_destroy(srv->se);
	srv->se = NULL;
	return err;
}

int fi_server_add_device(struct fi_server *srv, int fd, uint32_t *cookie, uint64_t *size)
{
	struct fuse_iomap_dev_register reg = { .fd = fd };
	int err;

	if (!srv->se || srv->opts.stock) {
		fprintf(stderr, "%s: a device needs an iomap mount first\n", srv->opts.name);
		return -EINVAL;
	}
	if (ioctl(fuse_session_fd(srv->se), FUSE_IOMAP_IOC_DEV_REGISTER, &reg) < 0) {
		err = errno;
		fprintf(stderr, "%s: can't register a device for %s: %s\n", srv->opts.name,
			srv->opts.mountpoint, strerror(err));
		return -err;
	}
	*cookie = reg.cookie;
	if (size)
		*size = reg.size;
	return 0;
}

int fi_server_remove_device(struct fi_server *srv, uint32_t cookie)
{
	int err;

	if (!srv->se || ioctl(fuse_session_fd(srv->se), FUSE_IOMAP_IOC_DEV_UNREGISTER, &cookie)) {
		err = srv->se ? errno : EINVAL;
		fprintf(stderr, "%s: can't unregister device %u from %s: %s\n", srv->opts.name,
			cookie, srv->opts.mountpoint, strerror(err));
		return -err;
	}
	return 0;
}

struct fuse_session *fi_server_session(struct fi_server *srv)
{
	return srv->se;
}

void fi_server_destroy(struct fi_server *srv)
{
	if (!srv)
		return;
	if (srv->se) {
		if (srv->signals)
			fuse_remove_signal_handlers(srv->se);
		if (srv->mount.stock)
			fi_lib_unmount(srv->se, &srv->mount);
		/*
		 * Ours: the connection ends first (closing /dev/fuse-iomap
		 * aborts it), then the mount.  A mount never served (a later
		 * step of starting failed, say the BPF tier's) would otherwise
		 * wait at its unmount for an INIT that only this thread could
		 * answer, and the server would hang instead of exiting.
		 */
		fuse_session_destroy(srv->se);
		if (!srv->mount.stock)
			fi_lib_unmount(NULL, &srv->mount);
	}
	/* Whatever the BPF tier queued since serving ended is the server's too. */
	fi_lib_ioend_drain(srv);
	fi_lib_ioend_stop(srv);
	fi_lib_rule_destroy(&srv->rule);
	pthread_mutex_destroy(&srv->ioq.lock);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
