// SPDX-License-Identifier: GPL-2.0
/*
 * See iomap_session.h.  Every request gets exactly one reply, an error
 * reply when its payload is too short to be ours.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fuse.h>

#include "iomap_session.h"

/* Hand the kernel our block device; it answers with the cookie for mappings. */
static int fi_iomap_register_dev(struct fuse_session *se, int dev_fd, uint32_t *cookie,
				 uint64_t *size)
{
	struct fuse_iomap_dev_register reg = { .fd = dev_fd };

	if (ioctl(fuse_session_fd(se), FUSE_IOMAP_IOC_DEV_REGISTER, &reg) < 0)
		return -errno;
	*cookie = reg.cookie;
	*size = reg.size;
	return 0;
}

static int fi_reply(struct fuse_session *se, uint64_t unique, int error,
		    const void *payload, size_t len)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + (error ? 0 : len),
		.error = -error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	ssize_t n = writev(fuse_session_fd(se), iov, error || !len ? 1 : 2);

	/* ENOENT: the request was interrupted and is gone; nothing to do. */
	if (n < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * The kernel takes a reply's error only as a negated errno below 512
 * (ERESTARTSYS and up are its own) and answers anything else by failing
 * our write, which would end serving.  A callback that breaks the
 * convention is a bug in the server, not in the request: the request gets
 * EIO and serving goes on.
 */
static int fi_errno(const struct fi_iomap_server *srv, const char *op, int err)
{
	if (err >= 0 && err < 512)
		return err;
	fprintf(stderr, "%s: %s callback returned %d, not 0 or a positive errno below 512: "
		"answering EIO\n", srv->name, op, err);
	return EIO;
}

static int fi_handle(struct fuse_session *se, const struct fi_iomap_server *srv,
		     const struct fuse_in_header *ih, const void *arg, size_t argsize)
{
	const struct fi_iomap_ops *ops = srv->iomap;
	void *ctx = srv->ctx;
	FILE *log = srv->log;
	int err;

	if (ih->opcode == FUSE_IOMAP_BEGIN) {
		const struct fuse_iomap_begin_in *in = arg;
		struct fuse_iomap_begin_out out;

		memset(&out, 0, sizeof(out));
		if (argsize < sizeof(*in))
			return fi_reply(se, ih->unique, EINVAL, NULL, 0);
		if (log)
			fprintf(log, "BEGIN %" PRIu64 " %" PRIu64 " %" PRIu64 " 0x%x\n",
				(uint64_t)ih->nodeid, (uint64_t)in->pos, (uint64_t)in->count,
				in->opflags);
		if (ops->begin_wire)
			return ops->begin_wire(ctx, fuse_session_fd(se), ih->unique, in);
		err = fi_errno(srv, "FUSE_IOMAP_BEGIN", ops->begin(ctx, ih->nodeid, in, &out));
		return fi_reply(se, ih->unique, err, &out, sizeof(out));
	} else {
		const struct fuse_iomap_end_in *in = arg;

		if (argsize < sizeof(*in))
			return fi_reply(se, ih->unique, EINVAL, NULL, 0);
		if (log)
			fprintf(log, "END %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " 0x%x\n",
				(uint64_t)ih->nodeid, (uint64_t)in->pos, (uint64_t)in->count,
				(int64_t)in->written, in->opflags);
		err = ops->end ? fi_errno(srv, "FUSE_IOMAP_END", ops->end(ctx, ih->nodeid, in)) : 0;
		return fi_reply(se, ih->unique, err, NULL, 0);
	}
}

/*
 * Unmounting writes back dirty page cache, and on an iomap mount that asks
 * this very server for mappings: a server that unmounted from its own
 * thread would wait for itself.  So a child unmounts while we serve.
 */
static pid_t fi_spawn_unmount(const char *name, const char *mountpoint)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (umount2(mountpoint, 0) < 0 && errno == EBUSY)
			umount2(mountpoint, MNT_DETACH);
		_exit(0);
	}
	if (pid < 0)
		fprintf(stderr, "%s: can't unmount %s: fork: %s\n", name, mountpoint, strerror(errno));
	return pid;
}

/* The kernel ended the connection: unmounted, or aborted. */
static bool fi_conn_gone(struct fuse_session *se)
{
	struct pollfd p = { .fd = fuse_session_fd(se) };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static int fi_iomap_session_loop(struct fuse_session *se, const struct fi_iomap_server *srv)
{
	const char *mountpoint = srv->mount.mountpoint;
	struct fuse_buf fbuf = { .mem = NULL };
	pid_t unmounter = 0;
	int res = 0;

	for (;;) {
		const struct fuse_in_header *ih;

		res = fuse_session_receive_buf(se, &fbuf);
		if (res == -EINTR)
			continue;
		/*
		 * 0 with the session "exited": unmounted, or a signal asked
		 * us to stop.  For the latter, unmount, and serve until done.
		 */
		if (res == 0 && !unmounter && !fi_conn_gone(se)) {
			unmounter = fi_spawn_unmount(srv->name, mountpoint);
			if (unmounter < 0)
				break;
			fuse_session_reset(se);
			continue;
		}
		if (res <= 0)
			break;
		ih = fbuf.mem;
		/* We never ask for splice, so requests arrive in memory. */
		if ((fbuf.flags & FUSE_BUF_IS_FD) || (size_t)res < sizeof(*ih)) {
			res = -EIO;
			break;
		}
		if (ih->opcode == FUSE_IOMAP_BEGIN || ih->opcode == FUSE_IOMAP_END) {
			res = fi_handle(se, srv, ih, ih + 1, res - sizeof(*ih));
			if (res < 0)
				break;
		} else {
			fuse_session_process_buf(se, &fbuf);
		}
	}
	if (unmounter > 0)
		waitpid(unmounter, NULL, 0);
	free(fbuf.mem);
	fuse_session_reset(se);
	/* 0 is how the kernel says the file system was unmounted. */
	return res < 0 ? res : 0;
}

int fi_iomap_serve(struct fi_iomap_server *srv)
{
	char *fargv[] = { (char *)srv->name, "-d", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(srv->debug ? 2 : 1, fargv);
	struct fuse_session *se;
	uint64_t size = 0;
	uint32_t cookie = 0;
	int err, ret = -1;

	srv->mount.prog = srv->name;
	if (srv->log)
		setvbuf(srv->log, NULL, _IOLBF, 0);
	se = fuse_session_new(&args, srv->ops, sizeof(*srv->ops), srv->ctx);
	if (!se)
		return -1;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fi_mount(se, &srv->mount) < 0)
		goto out_signals;
	err = fi_iomap_register_dev(se, srv->dev_fd, &cookie, &size);
	if (err) {
		fprintf(stderr, "%s: can't register the device for %s: %s\n", srv->name,
			srv->mount.mountpoint, strerror(-err));
		goto out_unmount;
	}
	if (srv->ready && srv->ready(se, cookie, size, srv->ctx))
		goto out_unmount;
	err = fi_iomap_session_loop(se, srv);
	if (err)
		fprintf(stderr, "%s: %s: %s\n", srv->name, srv->mount.mountpoint, strerror(-err));
	ret = err ? 1 : 0;
out_unmount:
	fi_unmount(se, &srv->mount);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	return ret;
}
