// SPDX-License-Identifier: GPL-2.0
/*
 * The ioends the BPF tier handled.  extent_map's iomap_ioend answers an
 * ioend in the kernel (no upcall) and queues it on its ioend_queue ring
 * buffer; here the server gets each one, in completion order, through
 * fi_iomap_ops.ioend exactly as if it had come as a FUSE_IOMAP_IOEND
 * upcall.  The program already made iomap_begin answer as the server
 * will (its marks), so a record may wait, but not past the
 * moment the server next speaks about the file's blocks or its size:
 * the queue is drained before every FUSE_IOMAP_* upcall, before FSYNC,
 * FSYNCDIR, SYNCFS, FLUSH, RELEASE, SETATTR, FALLOCATE, DESTROY, FORGET
 * and BATCH_FORGET reach the server, and when serving ends (serve.c calls
 * fi_lib_ioend_drain()).
 * No thread of its own: nothing waits on the queue but those points.
 *
 * After each drain the cumulative count of records applied goes to the
 * connection's sysfs bpf_ioend_committed (handled - committed = pending,
 * which a test or an operator can watch), and the files it touched get
 * their extent lists published again, so that the BPF tier keeps
 * answering them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "internal.h"

void fi_lib_ioend_init(struct fi_ioend_queue *q)
{
	pthread_mutex_init(&q->lock, NULL);
	q->committed_fd = -1;
}

/*
 * The kernel was told the I/O succeeded when the program queued it, so
 * the error waits for the file's next FSYNC or FLUSH (and the next
 * SYNCFS), whose answer hands it to the kernel: it then reaches every
 * open file of it once, as a failed bio's would.  The first error of a
 * file is kept; without memory for it, it goes at least to SYNCFS.
 * Under q->lock.
 */
static void fi_ioend_keep_error(struct fi_ioend_queue *q, uint64_t nodeid, int err)
{
	struct fi_ioend_err *v;
	unsigned int cap;

	q->syncfs_err = err;
	for (unsigned int i = 0; i < q->nerrs; i++)
		if (q->errs[i].nodeid == nodeid)
			return;
	if (q->nerrs == q->cap_errs) {
		cap = q->cap_errs ? 2 * q->cap_errs : 8;
		v = realloc(q->errs, cap * sizeof(*v));
		if (!v)
			return;
		q->errs = v;
		q->cap_errs = cap;
	}
	q->errs[q->nerrs++] = (struct fi_ioend_err){ .nodeid = nodeid, .err = err };
}

int fi_lib_ioend_take_error(struct fi_server *srv, uint64_t nodeid)
{
	struct fi_ioend_queue *q = &srv->ioq;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	if (!nodeid) {
		err = q->syncfs_err;
		q->syncfs_err = 0;
	}
	for (unsigned int i = 0; nodeid && i < q->nerrs; i++) {
		if (q->errs[i].nodeid != nodeid)
			continue;
		err = q->errs[i].err;
		q->errs[i] = q->errs[--q->nerrs];
		break;
	}
	pthread_mutex_unlock(&q->lock);
	return err;
}

/*
 * The file of an applied record is published again after the drain, and
 * only then are the record's marks freed: until then they are what makes
 * its blocks read as written.  A file past FI_IOEND_REPUBLISH, or a mark
 * the drain cannot remember for want of memory, loses its list now
 * instead (a read's upcall publishes it again).  Under q->lock.
 */
static void fi_ioend_touch(struct fi_server *srv, const struct fi_ioend_rec *rec)
{
	struct fi_ioend_queue *q = &srv->ioq;
	struct fi_ioend_marks *v;
	unsigned int i, cap;
	bool known = false;

	/*
	 * Its ioend() brought the store up to date: the marks are not needed.
	 * A drain may apply hundreds of records, each a change to the overlay,
	 * so the overlay is folded here, not after the drain, before it fills.
	 * Under q->lock, but no server lock: a server never holds one around
	 * a drain, so asking it for the list here cannot deadlock.
	 */
	if (srv->rule.reports) {
		fi_lib_store_unmark(&srv->rule.bpf, rec->tag, rec->mark);
		fi_lib_rule_publish_after(srv, rec->nodeid, fi_lib_rule_seq(&srv->rule));
		return;
	}
	for (i = 0; i < q->ntouched && !known; i++)
		known = q->touched[i] == rec->nodeid;
	if (!known && q->ntouched < FI_IOEND_REPUBLISH) {
		q->touched[q->ntouched++] = rec->nodeid;
		known = true;
	}
	if (!rec->mark[0] && known)
		return;
	if (known && q->ndone == q->cap_done) {
		cap = q->cap_done ? 2 * q->cap_done : 64;
		v = realloc(q->done, cap * sizeof(*v));
		if (v) {
			q->done = v;
			q->cap_done = cap;
		}
	}
	if (!known || q->ndone == q->cap_done) {
		fi_server_bpf_forget(srv, rec->nodeid);
		fi_lib_store_unmark(&srv->rule.bpf, rec->tag, rec->mark);
		return;
	}
	q->done[q->ndone].tag = rec->tag;
	memcpy(q->done[q->ndone].mark, rec->mark, sizeof(rec->mark));
	q->ndone++;
}

/* Called under q->lock for each record, in the order the program queued them. */
static int fi_ioend_apply(void *ctx, void *data, size_t size)
{
	struct fi_server *srv = ctx;
	struct fi_ioend_queue *q = &srv->ioq;
	struct fuse_iomap_ioend_out out = { 0 };
	struct fi_ioend_rec rec;
	char tail[64];
	int err;

	/* Cannot happen (the program writes whole records): skip it. */
	if (size < sizeof(rec))
		return 0;
	/* The ring's memory is the kernel's to reuse once we return: copy. */
	memcpy(&rec, data, sizeof(rec));
	if (srv->opts.log) {
		fi_lib_log_tail(srv, tail, sizeof(tail));
		fprintf(srv->opts.log, "QIOEND %" PRIu64 " %" PRIu64 " %" PRIu64 " %d 0x%x%s\n",
			(uint64_t)rec.nodeid, (uint64_t)rec.in.pos, (uint64_t)rec.in.written,
			rec.in.error, rec.in.flags, tail);
	}
	q->applied++;
	if (!srv->iomap.ioend)
		return 0;
	/*
	 * The program marked every range of a queued ioend written, so a
	 * list that only converts in place stays right as it is.
	 */
	if (!srv->iomap.ioend_in_place)
		fi_lib_rule_change_begin(&srv->rule, rec.nodeid);
	err = fi_lib_errno(srv, "FUSE_IOMAP_IOEND (queued)",
			   srv->iomap.ioend(srv->ctx, rec.nodeid, &rec.in, &out));
	if (!srv->iomap.ioend_in_place)
		fi_lib_rule_change_end(&srv->rule);
	if (err) {
		fprintf(stderr, "%s: queued ioend of node %" PRIu64 " [%" PRIu64 ", +%" PRIu64
			") failed: %s\n", srv->opts.name, (uint64_t)rec.nodeid,
			(uint64_t)rec.in.pos, (uint64_t)rec.in.written, strerror(-err));
		fi_ioend_keep_error(q, rec.nodeid, err);
	}
	fi_ioend_touch(srv, &rec);
	return 0;
}

int fi_lib_ioend_start(struct fi_server *srv)
{
	struct fi_ioend_queue *q = &srv->ioq;
	int fd = fi_lib_bpf_queue_fd(&srv->rule.bpf), err;
	char path[128];

	q->rb = ring_buffer__new(fd, fi_ioend_apply, srv, NULL);
	if (!q->rb) {
		err = -errno;
		fprintf(stderr, "%s: can't open the ioend queue of extent_map: %s\n",
			srv->opts.name, strerror(-err));
		return err;
	}
	/* A module without the counter still works: only the count goes unsaid. */
	snprintf(path, sizeof(path), "/sys/fs/fuseiomap/iomap/%u/bpf_ioend_committed",
		 srv->rule.bpf.conn_id);
	q->committed_fd = open(path, O_WRONLY | O_CLOEXEC);
	return 0;
}

void fi_lib_ioend_stop(struct fi_server *srv)
{
	struct fi_ioend_queue *q = &srv->ioq;

	pthread_mutex_lock(&q->lock);
	ring_buffer__free(q->rb);
	q->rb = NULL;
	if (q->committed_fd >= 0)
		close(q->committed_fd);
	q->committed_fd = -1;
	free(q->errs);
	q->errs = NULL;
	free(q->done);
	q->done = NULL;
	q->ndone = q->cap_done = 0;
	q->nerrs = q->cap_errs = 0;
	pthread_mutex_unlock(&q->lock);
}

void fi_lib_ioend_drain(struct fi_server *srv)
{
	struct fi_ioend_queue *q = &srv->ioq;
	uint64_t touched[FI_IOEND_REPUBLISH];
	struct fi_ioend_marks *done;
	unsigned int n, ndone;
	char buf[32];
	int len, ret;

	pthread_mutex_lock(&q->lock);
	if (!q->rb) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	q->ntouched = 0;
	ret = ring_buffer__consume(q->rb);
	if (ret < 0)
		fprintf(stderr, "%s: can't read the ioend queue: %s\n", srv->opts.name,
			strerror(-ret));
	/*
	 * The connection is gone once unmounted (ENODEV, ENOENT): the count
	 * then has no reader.
	 */
	if (q->applied != q->told && q->committed_fd >= 0) {
		len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", q->applied);
		if (pwrite(q->committed_fd, buf, len, 0) == len)
			q->told = q->applied;
	}
	n = q->ntouched;
	memcpy(touched, q->touched, n * sizeof(*touched));
	done = q->done;
	ndone = q->ndone;
	q->done = NULL;
	q->ndone = q->cap_done = 0;
	pthread_mutex_unlock(&q->lock);

	/*
	 * Unlocked: publishing asks the server, which takes its own locks.
	 * This drain's marks are its own to free, after its publishes.
	 */
	for (unsigned int i = 0; i < n; i++)
		if (!fi_lib_rule_publish(srv, touched[i], fi_lib_rule_seq(&srv->rule)))
			fi_server_bpf_forget(srv, touched[i]);
	for (unsigned int i = 0; i < ndone; i++)
		fi_lib_store_unmark(&srv->rule.bpf, done[i].tag, done[i].mark);
	free(done);
}
