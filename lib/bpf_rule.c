// SPDX-License-Identifier: GPL-2.0
/*
 * When the BPF tier's extent lists change: "publish after a read, forget
 * before a change", kept here once for every server.
 *
 * A list published from state read before a change would hand the kernel
 * blocks the file no longer has.  So every change the library sees is
 * bracketed: its begin forgets the file's list and counts the change;
 * a publish asks the server for the list only if no change began since
 * the read's BEGIN arrived and none is running, and checks that again,
 * under the lock, before it writes the maps.  One counter for all files:
 * under a burst of changes a publish is skipped and the next read's
 * upcall publishes instead, which costs an upcall, never a wrong block.
 *
 * A server that reports its changes (fi_iomap_ops.reports_changes) says
 * itself what changed, with fi_server_bpf_update() or
 * fi_server_bpf_forget(), at the moment it changes it: its brackets only
 * count, and a list in the store stays there across them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

void fi_lib_rule_init(struct fi_rule *r)
{
	pthread_mutex_init(&r->lock, NULL);
}

void fi_lib_rule_destroy(struct fi_rule *r)
{
	if (r->on)
		fi_lib_bpf_stop(&r->bpf);
	r->on = false;
	pthread_mutex_destroy(&r->lock);
}

uint64_t fi_lib_rule_seq(struct fi_rule *r)
{
	uint64_t seq;

	pthread_mutex_lock(&r->lock);
	seq = r->running ? UINT64_MAX : r->changes;
	pthread_mutex_unlock(&r->lock);
	return seq;
}

static void fi_lib_rule_begin(struct fi_rule *r, uint64_t nodeid, bool forget)
{
	pthread_mutex_lock(&r->lock);
	r->changes++;
	r->running++;
	if (r->on && forget)
		fi_lib_store_forget(&r->bpf, nodeid);
	pthread_mutex_unlock(&r->lock);
}

void fi_lib_rule_change_begin(struct fi_rule *r, uint64_t nodeid)
{
	fi_lib_rule_begin(r, nodeid, !r->reports);
}

/*
 * An ioend upcall to a server whose ioends only convert in place
 * (fi_iomap_ops.ioend_in_place) keeps the file's list, so that writes
 * elsewhere in the file stay in the kernel while the server converts.
 * The list is wrong only for the blocks being converted, and no read
 * can map those: buffered ones are under writeback, and direct ones
 * belong to a write that has not completed, until the kernel has the
 * reply.  So it is published again before the reply, and forgotten
 * instead if another change gets in the way of that publish.  It still
 * counts as a change: a publish of a list read before it is skipped.
 */
void fi_lib_rule_in_place_begin(struct fi_rule *r)
{
	pthread_mutex_lock(&r->lock);
	r->changes++;
	r->running++;
	pthread_mutex_unlock(&r->lock);
}

void fi_lib_rule_in_place_end(struct fi_server *srv, uint64_t nodeid)
{
	fi_lib_rule_change_end(&srv->rule);
	if (!fi_lib_rule_publish(srv, nodeid, fi_lib_rule_seq(&srv->rule)))
		fi_server_bpf_forget(srv, nodeid);
}

void fi_lib_rule_change_end(struct fi_rule *r)
{
	pthread_mutex_lock(&r->lock);
	r->running--;
	pthread_mutex_unlock(&r->lock);
}

static bool fi_lib_rule_quiet_since(struct fi_rule *r, uint64_t seq)
{
	return r->on && !r->running && r->changes == seq;
}

static uint64_t fi_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t fi_now_us(void)
{
	return fi_now_ns() / 1000;
}

bool fi_lib_rule_publish(struct fi_server *srv, uint64_t nodeid, uint64_t seq)
{
	struct fi_rule *r = &srv->rule;
	struct fi_extent *v = NULL;
	uint32_t n = 0, flags = 0;
	uint64_t t0, t1, t2;
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = fi_lib_rule_quiet_since(r, seq) && srv->iomap.extents;
	pthread_mutex_unlock(&r->lock);
	t0 = fi_now_us();
	/* The server's callback runs unlocked: it takes its own locks. */
	if (!ok || srv->iomap.extents(srv->ctx, nodeid, &v, &n, &flags)) {
		free(v);
		return false;
	}
	pthread_mutex_lock(&r->lock);
	t1 = fi_now_us();
	ok = fi_lib_rule_quiet_since(r, seq) && !fi_lib_store_publish(&r->bpf, nodeid, v, n, flags);
	t2 = fi_now_us();
	pthread_mutex_unlock(&r->lock);
	free(v);
	if (ok && srv->opts.log)
		fprintf(srv->opts.log, "PUBLISH %" PRIu64 " %u %" PRIu64 " %" PRIu64 "\n", nodeid, n,
			t1 - t0, t2 - t1);
	return ok;
}

int fi_server_bpf_start(struct fi_server *srv, uint32_t max_extents)
{
	int err;

	if (!srv->iomap.extents || !srv->se || srv->opts.stock) {
		fprintf(stderr, "%s: the BPF tier needs an iomap mount and an extents() callback\n",
			srv->opts.name);
		return -EINVAL;
	}
	srv->rule.bpf.max_extents = max_extents;
	err = fi_lib_bpf_start(&srv->rule.bpf, srv->opts.name, srv->opts.mountpoint);
	if (!err) {
		err = fi_lib_ioend_start(srv);
		if (err)
			fi_lib_bpf_stop(&srv->rule.bpf);
	}
	if (err)
		return err;
	pthread_mutex_lock(&srv->rule.lock);
	srv->rule.on = true;
	pthread_mutex_unlock(&srv->rule.lock);
	return 0;
}

/*
 * A server that reports its changes keeps the store right at every
 * moment, so the list it gives now is right now: its publish needs only
 * that no change runs or begins while the list is read, from now on.
 */
bool fi_lib_rule_publish_after(struct fi_server *srv, uint64_t nodeid, uint64_t seq)
{
	struct fi_rule *r = &srv->rule;
	bool kept;

	if (!r->reports)
		return fi_lib_rule_publish(srv, nodeid, seq);
	pthread_mutex_lock(&r->lock);
	kept = r->on && fi_lib_store_settled(&r->bpf, nodeid);
	pthread_mutex_unlock(&r->lock);
	return kept || fi_lib_rule_publish(srv, nodeid, fi_lib_rule_seq(r));
}

void fi_server_bpf_forget(struct fi_server *srv, uint64_t nodeid)
{
	fi_lib_rule_begin(&srv->rule, nodeid, true);
	fi_lib_rule_change_end(&srv->rule);
}

void fi_server_bpf_update(struct fi_server *srv, uint64_t nodeid, uint64_t lblk, uint64_t len,
			  const struct fi_extent *v, uint32_t n)
{
	struct fi_rule *r = &srv->rule;
	uint64_t t0 = fi_now_ns(), t1;
	bool on;
	int err;

	pthread_mutex_lock(&r->lock);
	/* A publish of a list read before this goes no further. */
	r->changes++;
	on = r->on;
	err = on ? fi_lib_store_update(&r->bpf, nodeid, lblk, len, v, n) : 0;
	if (err)
		fi_lib_store_forget(&r->bpf, nodeid);
	pthread_mutex_unlock(&r->lock);
	t1 = fi_now_ns();
	if (on && srv->opts.log)
		fprintf(srv->opts.log, "UPDATE %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %" PRIu64 "%s\n",
			nodeid, lblk, len, n, t1 - t0, err ? " forgot" : "");
}

int fi_server_bpf_set_ioend_queue(struct fi_server *srv, uint32_t bytes)
{
	if (srv->rule.bpf.skel) {
		fprintf(stderr, "%s: the ioend queue is sized before fi_server_bpf_start()\n",
			srv->opts.name);
		return -EBUSY;
	}
	if (bytes > FI_IOEND_QUEUE_MAX) {
		fprintf(stderr, "%s: an ioend queue of %u bytes: at most %u\n", srv->opts.name,
			bytes, FI_IOEND_QUEUE_MAX);
		return -EINVAL;
	}
	srv->rule.bpf.queue_bytes = bytes;
	return 0;
}

void fi_server_bpf_blocks_reset(struct fi_server *srv, uint32_t dev, uint64_t pblk, uint64_t len)
{
	bool on;

	pthread_mutex_lock(&srv->rule.lock);
	on = srv->rule.on;
	pthread_mutex_unlock(&srv->rule.lock);
	/* Unlocked: the program and its marks stay until fi_server_destroy(). */
	if (on)
		fi_lib_store_unmark_blocks(&srv->rule.bpf, dev, pblk, len);
}

/* --- the libfuse requests that change mappings ---------------------------------- */

static struct fi_server *fi_srv(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fi_wrap_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			    struct fuse_file_info *fi)
{
	struct fi_server *srv = fi_srv(req);
	bool change = to_set & FUSE_SET_ATTR_SIZE;

	if (change)
		fi_lib_rule_change_begin(&srv->rule, ino);
	srv->ll.setattr(req, ino, attr, to_set, fi);
	if (change)
		fi_lib_rule_change_end(&srv->rule);
}

static void fi_wrap_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			      off_t length, struct fuse_file_info *fi)
{
	struct fi_server *srv = fi_srv(req);

	fi_lib_rule_change_begin(&srv->rule, ino);
	srv->ll.fallocate(req, ino, mode, offset, length, fi);
	fi_lib_rule_change_end(&srv->rule);
}

void fi_lib_rule_wrap_ops(struct fuse_lowlevel_ops *ll)
{
	if (ll->setattr)
		ll->setattr = fi_wrap_setattr;
	if (ll->fallocate)
		ll->fallocate = fi_wrap_fallocate;
}
