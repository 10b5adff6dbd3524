// SPDX-License-Identifier: GPL-2.0
/*
 * The request loop.  libfuse3 does not know our opcodes, so each thread
 * receives requests with fuse_session_receive_buf(), answers FUSE_IOMAP_*
 * itself (request.c) and hands every other request to
 * fuse_session_process_buf(), after draining what the BPF tier queued
 * where a request needs it.  libfuse stays unmodified.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <linux/fuse.h>

#include "internal.h"

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
	*res = fi_lib_reply(srv, ih->unique, err, NULL, 0);
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
		res = fi_lib_iomap_request(srv, ih, res - sizeof(*ih), inflight);
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
