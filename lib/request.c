// SPDX-License-Identifier: GPL-2.0
/*
 * Answering FUSE_IOMAP_BEGIN, END and IOEND through the server's
 * fi_iomap_ops, with the BPF tier's bookkeeping around each (its queued
 * ioends drained first, a file's list forgotten before a change and
 * published after an answer), and the log line of each.  Every request
 * gets exactly one reply, an error reply when its payload is too short to
 * be ours.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/fuse.h>

#include "internal.h"

int fi_lib_reply(struct fi_server *srv, uint64_t unique, int error,
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
	return fi_lib_reply(srv, ih->unique, err, &out, sizeof(out));
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
		return fi_lib_reply(srv, ih->unique, 0, NULL, 0);
	if (change)
		fi_lib_rule_change_begin(&srv->rule, ih->nodeid);
	err = fi_lib_errno(srv, "FUSE_IOMAP_END", srv->iomap.end(srv->ctx, ih->nodeid, in));
	if (change)
		fi_lib_rule_change_end(&srv->rule);
	return fi_lib_reply(srv, ih->unique, err, NULL, 0);
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
		return fi_lib_reply(srv, ih->unique, err, &out, sizeof(out));
	if (srv->iomap.ioend_in_place) {
		fi_lib_rule_in_place_begin(&srv->rule);
		err = fi_lib_errno(srv, "FUSE_IOMAP_IOEND",
			       srv->iomap.ioend(srv->ctx, ih->nodeid, in, &out));
		fi_lib_rule_in_place_end(srv, ih->nodeid);
		return fi_lib_reply(srv, ih->unique, err, &out, sizeof(out));
	}
	fi_lib_rule_change_begin(&srv->rule, ih->nodeid);
	err = fi_lib_errno(srv, "FUSE_IOMAP_IOEND",
		       srv->iomap.ioend(srv->ctx, ih->nodeid, in, &out));
	fi_lib_rule_change_end(&srv->rule);
	ret = fi_lib_reply(srv, ih->unique, err, &out, sizeof(out));
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
int fi_lib_iomap_request(struct fi_server *srv, const struct fuse_in_header *ih, size_t argsize,
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
	return fi_lib_reply(srv, ih->unique, -EINVAL, NULL, 0);
}
