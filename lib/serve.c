// SPDX-License-Identifier: GPL-2.0
/*
 * The server object and its request loop.  libfuse3 does not know our
 * opcodes, so each thread receives requests with fuse_session_receive_buf(),
 * answers FUSE_IOMAP_* itself and hands every other request to
 * fuse_session_process_buf().  libfuse stays unmodified.  Every request
 * gets exactly one reply, an error reply when its payload is too short to
 * be ours.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/fuse.h>

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

/* --- answering FUSE_IOMAP_* ------------------------------------------------ */

static int fi_reply(struct fi_server *srv, uint64_t unique, int error,
		    const void *payload, size_t len)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + (error ? 0 : len),
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	ssize_t n = writev(fuse_session_fd(srv->se), iov, error || !len ? 1 : 2);

	/* ENOENT: the request was interrupted and is gone; nothing to do. */
	if (n < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * The kernel takes a reply's error only as a negated errno above -512
 * (ERESTARTSYS and below are its own) and answers anything else by
 * failing our write, which would end serving.  A callback that breaks the
 * convention is a bug in the server, not in the request: the request gets
 * EIO and serving goes on.
 */
int fi_lib_errno(const struct fi_server *srv, const char *op, int err)
{
	if (err <= 0 && err > -512)
		return err;
	fprintf(stderr, "%s: %s callback returned %d, not 0 or a negative errno above -512: "
		"answering EIO\n", srv->opts.name, op, err);
	return -EIO;
}

/* What a log line ends in: nothing single-threaded, else who and how busy. */
static void fi_log_tail(const struct fi_server *srv, unsigned int inflight, char *buf, size_t size)
{
	buf[0] = 0;
	if (srv->opts.threads > 1)
		snprintf(buf, size, " t=%ld inflight=%u", (long)syscall(SYS_gettid), inflight);
}

/* The same, for a line that is not a mapping request (QIOEND, FSYNC): as busy as now. */
void fi_lib_log_tail(struct fi_server *srv, char *buf, size_t size)
{
	unsigned int inflight;

	pthread_mutex_lock(&srv->lock);
	inflight = srv->inflight;
	pthread_mutex_unlock(&srv->lock);
	fi_log_tail(srv, inflight, buf, size);
}

static bool fi_is_change_begin(const struct fuse_iomap_begin_in *in)
{
	return in->opflags & (FUSE_IOMAP_OP_WRITE | FUSE_IOMAP_OP_ZERO | FUSE_IOMAP_OP_UNSHARE);
}

/* A write's END may commit or undo blocks that BEGIN handed out. */
static bool fi_is_change_end(const struct fuse_iomap_end_in *in)
{
	return (in->opflags & FUSE_IOMAP_OP_WRITE) &&
	       (in->map.type != FUSE_IOMAP_TYPE_MAPPED || (in->map.flags & FUSE_IOMAP_F_NEW));
}

/*
 * The write mapping of @out is unwritten, converted at its ioend, or
 * written blocks to overwrite in place: either way the file's list as it
 * is now is what BPF may answer the next writes from.  New blocks are
 * not: they hold no data until this write lands.
 */
static bool fi_hands_out_known(const struct fuse_iomap_begin_out *out)
{
	const struct fuse_iomap_io *w =
		out->write.type == FUSE_IOMAP_TYPE_PURE_OVERWRITE ? &out->read : &out->write;

	if (w->type == FUSE_IOMAP_TYPE_UNWRITTEN)
		return w->flags & FUSE_IOMAP_F_WANT_IOEND;
	return w->type == FUSE_IOMAP_TYPE_MAPPED && out->write.type == FUSE_IOMAP_TYPE_PURE_OVERWRITE &&
	       !(w->flags & FUSE_IOMAP_F_NEW);
}

static int fi_begin(struct fi_server *srv, const struct fuse_in_header *ih,
		    const struct fuse_iomap_begin_in *in, const char *tail)
{
	struct fuse_iomap_begin_out out;
	bool change = fi_is_change_begin(in);
	uint64_t seq = 0;
	int err;

	if (srv->opts.log)
		fprintf(srv->opts.log, "BEGIN %" PRIu64 " %" PRIu64 " %" PRIu64 " 0x%x%s\n",
			(uint64_t)ih->nodeid, (uint64_t)in->pos, (uint64_t)in->count,
			in->opflags, tail);
	memset(&out, 0, sizeof(out));
	if (change)
		fi_lib_rule_change_begin(&srv->rule, ih->nodeid);
	else
		seq = fi_lib_rule_seq(&srv->rule);
	err = -ENOSYS;
	if (srv->iomap.begin)
		err = fi_lib_errno(srv, "FUSE_IOMAP_BEGIN",
			       srv->iomap.begin(srv->ctx, ih->nodeid, in, &out));
	if (change) {
		fi_lib_rule_change_end(&srv->rule);
		seq = fi_lib_rule_seq(&srv->rule);
	}
	/*
	 * A read came here: BPF had no answer.  Next time it will, from the
	 * moment this read returns: publish first, then reply.  So too after
	 * a write that was handed unwritten blocks (say, preallocated): they
	 * read as zeros until their ioend, so the next writes into them and
	 * their ioends can stay in the kernel; and after an overwrite in
	 * place, which BPF answers only from a list, so that the file's next
	 * overwrites (which it may run under i_rwsem shared) stay there too.
	 */
	if (!err && !change)
		fi_lib_rule_publish(srv, ih->nodeid, seq);
	else if (!err && fi_hands_out_known(&out))
		fi_lib_rule_publish_after(srv, ih->nodeid, seq);
	return fi_reply(srv, ih->unique, err, &out, sizeof(out));
}

static int fi_end(struct fi_server *srv, const struct fuse_in_header *ih,
		  const struct fuse_iomap_end_in *in, const char *tail)
{
	bool change = fi_is_change_end(in);
	int err = 0;

	if (srv->opts.log)
		fprintf(srv->opts.log, "END %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " 0x%x%s\n",
			(uint64_t)ih->nodeid, (uint64_t)in->pos, (uint64_t)in->count,
			(int64_t)in->written, in->opflags, tail);
	if (!srv->iomap.end)
		return fi_reply(srv, ih->unique, 0, NULL, 0);
	if (change)
		fi_lib_rule_change_begin(&srv->rule, ih->nodeid);
	err = fi_lib_errno(srv, "FUSE_IOMAP_END", srv->iomap.end(srv->ctx, ih->nodeid, in));
	if (change)
		fi_lib_rule_change_end(&srv->rule);
	return fi_reply(srv, ih->unique, err, NULL, 0);
}

static int fi_ioend(struct fi_server *srv, const struct fuse_in_header *ih,
		    const struct fuse_iomap_ioend_in *in, const char *tail)
{
	struct fuse_iomap_ioend_out out = { 0 };
	int err = -ENOSYS, ret;

	if (srv->opts.log)
		fprintf(srv->opts.log, "IOEND %" PRIu64 " %" PRIu64 " %" PRIu64 " %d 0x%x%s\n",
			(uint64_t)ih->nodeid, (uint64_t)in->pos, (uint64_t)in->written,
			in->error, in->flags, tail);
	if (!srv->iomap.ioend)
		return fi_reply(srv, ih->unique, err, &out, sizeof(out));
	if (srv->iomap.ioend_in_place) {
		fi_lib_rule_in_place_begin(&srv->rule);
		err = fi_lib_errno(srv, "FUSE_IOMAP_IOEND",
			       srv->iomap.ioend(srv->ctx, ih->nodeid, in, &out));
		fi_lib_rule_in_place_end(srv, ih->nodeid);
		return fi_reply(srv, ih->unique, err, &out, sizeof(out));
	}
	fi_lib_rule_change_begin(&srv->rule, ih->nodeid);
	err = fi_lib_errno(srv, "FUSE_IOMAP_IOEND",
		       srv->iomap.ioend(srv->ctx, ih->nodeid, in, &out));
	fi_lib_rule_change_end(&srv->rule);
	ret = fi_reply(srv, ih->unique, err, &out, sizeof(out));
	/*
	 * The BPF tier sent it here (it had no list, or its queue was full,
	 * or the ioend was too long for it): publish the list again, as
	 * after a drain, so that the file's next ioends and writes stay in
	 * the kernel.  After the reply: the writer waits for it, not for this.
	 */
	if (!err)
		fi_lib_rule_publish_after(srv, ih->nodeid, fi_lib_rule_seq(&srv->rule));
	return ret;
}

/* 0, or -errno when the reply could not be written (which ends serving). */
static int fi_handle(struct fi_server *srv, const struct fuse_in_header *ih, size_t argsize,
		     unsigned int inflight)
{
	const void *arg = ih + 1;
	char tail[64];

	/*
	 * What the BPF tier queued is the server's before it answers about
	 * any file's blocks again.
	 */
	fi_lib_ioend_drain(srv);
	fi_log_tail(srv, inflight, tail, sizeof(tail));
	switch (ih->opcode) {
	case FUSE_IOMAP_BEGIN:
		if (argsize < sizeof(struct fuse_iomap_begin_in))
			break;
		return fi_begin(srv, ih, arg, tail);
	case FUSE_IOMAP_END:
		if (argsize < sizeof(struct fuse_iomap_end_in))
			break;
		return fi_end(srv, ih, arg, tail);
	case FUSE_IOMAP_IOEND:
		if (argsize < sizeof(struct fuse_iomap_ioend_in))
			break;
		return fi_ioend(srv, ih, arg, tail);
	}
	return fi_reply(srv, ih->unique, -EINVAL, NULL, 0);
}

/* --- the loop ----------------------------------------------------------------- */

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

static bool fi_is_ours(uint32_t opcode)
{
	return opcode == FUSE_IOMAP_BEGIN || opcode == FUSE_IOMAP_END || opcode == FUSE_IOMAP_IOEND;
}

/*
 * libfuse's requests before which the server must have applied the
 * ioends the BPF tier queued: the ones that commit (a sync, the last
 * close), change a file's blocks or size, or end the connection; and
 * FORGET, which may free a node id that a new file then gets (a record
 * applied after that would land on the new file).
 */
static bool fi_drains(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_SYNCFS:
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_SETATTR:
	case FUSE_FALLOCATE:
	case FUSE_DESTROY:
		return true;
	}
	return false;
}

/*
 * Before libfuse sees @ih: drain the ioend queue where needed and log an
 * FSYNC.  A queued ioend that failed to apply fails the file's next FSYNC
 * or FLUSH here, and the next SYNCFS.  libfuse 3.14 does not know
 * FUSE_SYNCFS (it answers ENOSYS): an iomap mount's gets its answer here,
 * from fi_iomap_ops.syncfs if there is one.  True if answered here.
 */
static bool fi_before_libfuse(struct fi_server *srv, const struct fuse_in_header *ih, int *res)
{
	char tail[64];
	int err;

	if (!fi_drains(ih->opcode))
		return false;
	fi_lib_ioend_drain(srv);
	if (ih->opcode == FUSE_FSYNC && srv->opts.log) {
		fi_lib_log_tail(srv, tail, sizeof(tail));
		fprintf(srv->opts.log, "FSYNC %" PRIu64 "%s\n", (uint64_t)ih->nodeid, tail);
	}
	switch (ih->opcode) {
	case FUSE_FSYNC:
	case FUSE_FLUSH:
		err = fi_lib_ioend_take_error(srv, ih->nodeid);
		break;
	case FUSE_SYNCFS:
		if (srv->opts.stock)
			return false;
		err = srv->iomap.syncfs ?
		      fi_lib_errno(srv, "FUSE_SYNCFS", srv->iomap.syncfs(srv->ctx)) : 0;
		err = fi_lib_ioend_take_error(srv, 0) ?: err;
		break;
	default:
		return false;
	}
	if (!err && ih->opcode != FUSE_SYNCFS)
		return false;
	*res = fi_reply(srv, ih->unique, err, NULL, 0);
	return true;
}

/*
 * 0 with the session "exited" means unmounted, or a signal asked us to
 * stop.  For the latter, one thread starts the unmount, and all serve on
 * until the kernel ends the connection.  True: go on serving.
 */
static bool fi_stop_requested(struct fi_server *srv)
{
	bool serve_on = false;

	pthread_mutex_lock(&srv->lock);
	if (!fi_conn_gone(srv->se)) {
		if (!srv->unmounter) {
			srv->unmounter = fi_spawn_unmount(srv->opts.name, srv->opts.mountpoint);
			if (srv->unmounter < 0)
				srv->error = -ECHILD;
		}
		serve_on = srv->unmounter > 0;
		if (serve_on)
			fuse_session_reset(srv->se);
	}
	pthread_mutex_unlock(&srv->lock);
	return serve_on;
}

static bool fi_has_idle(const struct fi_server *srv)
{
	return srv->iomap.idle && srv->opts.threads <= 1;
}

/* Until a request (or the end) is there to read, calling idle() each idle_ms. */
static void fi_wait_request(struct fi_server *srv)
{
	struct pollfd p = { .fd = fuse_session_fd(srv->se), .events = POLLIN };
	int ms = srv->iomap.idle_ms ? (int)srv->iomap.idle_ms : 1000;

	while (poll(&p, 1, ms) == 0)
		srv->iomap.idle(srv->ctx);
}

static void *fi_worker(void *arg)
{
	struct fi_server *srv = arg;
	struct fuse_buf fbuf = { .mem = NULL };
	int res;

	for (;;) {
		const struct fuse_in_header *ih;
		unsigned int inflight;

		if (fi_has_idle(srv))
			fi_wait_request(srv);
		res = fuse_session_receive_buf(srv->se, &fbuf);
		if (res == -EINTR)
			continue;
		/* The stock fuse: libfuse unmounts (fusermount3 for users). */
		if (res == 0 && !srv->opts.stock && fi_stop_requested(srv))
			continue;
		if (res <= 0)
			break;
		ih = fbuf.mem;
		/* We never ask for splice, so requests arrive in memory. */
		if ((fbuf.flags & FUSE_BUF_IS_FD) || (size_t)res < sizeof(*ih)) {
			res = -EIO;
			break;
		}
		if (!fi_is_ours(ih->opcode)) {
			if (fi_before_libfuse(srv, ih, &res)) {
				if (res < 0)
					break;
				continue;
			}
			fuse_session_process_buf(srv->se, &fbuf);
			if (fi_has_idle(srv))
				srv->iomap.idle(srv->ctx);
			continue;
		}
		pthread_mutex_lock(&srv->lock);
		inflight = ++srv->inflight;
		pthread_mutex_unlock(&srv->lock);
		res = fi_handle(srv, ih, res - sizeof(*ih), inflight);
		pthread_mutex_lock(&srv->lock);
		srv->inflight--;
		pthread_mutex_unlock(&srv->lock);
		if (res < 0)
			break;
		if (fi_has_idle(srv))
			srv->iomap.idle(srv->ctx);
	}
	free(fbuf.mem);
	if (res < 0) {
		pthread_mutex_lock(&srv->lock);
		if (!srv->error)
			srv->error = res;
		pthread_mutex_unlock(&srv->lock);
		/* The other threads wait in read(): end the connection for all. */
		fuse_session_exit(srv->se);
		fi_lib_unmount(srv->se, &srv->mount);
	}
	return NULL;
}

int fi_server_serve(struct fi_server *srv)
{
	unsigned int n = srv->opts.threads > 1 ? srv->opts.threads : 1, started;
	pthread_t *tids = calloc(n, sizeof(*tids));
	int err;

	if (!srv->se || !tids) {
		free(tids);
		fprintf(stderr, "%s: nothing to serve: %s\n", srv->opts.name,
			srv->se ? strerror(ENOMEM) : "not mounted");
		return srv->se ? -ENOMEM : -EINVAL;
	}
	for (started = 1; started < n; started++) {
		err = pthread_create(&tids[started], NULL, fi_worker, srv);
		if (err) {
			fprintf(stderr, "%s: can't start serving thread %u: %s\n", srv->opts.name,
				started + 1, strerror(err));
			break;
		}
	}
	fi_worker(srv);
	for (unsigned int i = 1; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	/* The last writeback's ioends, if the BPF tier took them. */
	fi_lib_ioend_drain(srv);
	if (srv->unmounter > 0)
		waitpid(srv->unmounter, NULL, 0);
	fuse_session_reset(srv->se);
	if (srv->error)
		fprintf(stderr, "%s: %s: %s\n", srv->opts.name, srv->opts.mountpoint,
			strerror(-srv->error));
	return srv->error;
}
