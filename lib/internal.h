/* SPDX-License-Identifier: GPL-2.0 */
/* libfuse-iomap's own declarations: included by lib/ only. */
#ifndef FI_LIB_INTERNAL_H
#define FI_LIB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fuse_iomap_server.h"

#define FI_DEV_PATH	"/dev/fuse-iomap"
#define FI_FSTYPE	"fuseiomap"

/* mount.c: mounting a session on fuseiomap (through /dev/fuse-iomap) or the stock fuse. */
struct fi_mount {
	const char *prog;	/* program name, for messages */
	const char *mountpoint;
	const char *fsname;
	const char *subtype;
	const char *extra_opts;
	uint64_t max_file_size;	/* iomap_maxbytes, or 0: none given */
	bool stock;
	bool readonly;
	bool mounted_by_us;	/* we called mount(2) and must unmount */
	int fd;			/* the /dev/fuse-iomap fd, or -1 */
};

int fi_lib_mount(struct fuse_session *se, struct fi_mount *m);
void fi_lib_unmount(struct fuse_session *se, struct fi_mount *m);

/* store.c: the program's arena as the library sees it. */
#define FI_STORE_CLASSES	33

struct fi_store_freelist {
	char **v;
	size_t n, cap;
};

struct fi_store {
	struct fi_store_file *files;	/* the file table, in the arena */
	struct fi_store_own *own;	/* the library's copy of it */
	char *brk, *end;		/* arrays never handed out: [brk, end) */
	struct fi_store_freelist free[FI_STORE_CLASSES];	/* of 1 << i extents */
	size_t bytes;			/* in live arrays */
};

/* bpf_maps.c: extent_map, loaded and attached. */
struct extent_map_bpf;
struct bpf_link;

struct fi_bpf {
	struct extent_map_bpf *skel;
	struct bpf_link *link;
	struct fi_store store;
	uint32_t conn_id;
	uint32_t max_extents;
	uint32_t queue_bytes;	/* ioend_queue's size, 0 = the program's */
};

int fi_lib_bpf_start(struct fi_bpf *b, const char *name, const char *mountpoint);
void fi_lib_bpf_stop(struct fi_bpf *b);
/* The ioend_queue ring buffer's fd, or -1. */
int fi_lib_bpf_queue_fd(struct fi_bpf *b);

/* Under the rule's lock, but for the unmarks. */
int fi_lib_store_init(struct fi_bpf *b);
void fi_lib_store_destroy(struct fi_bpf *b);
void fi_lib_store_forget(struct fi_bpf *b, uint64_t nodeid);
/*
 * Whether @nodeid has a list in the store whose overlay is less than
 * half full: one that needs no publish from the server's list yet.
 */
bool fi_lib_store_settled(struct fi_bpf *b, uint64_t nodeid);
/* fi_server_bpf_update() in the store: 0, or -errno and the store unchanged. */
int fi_lib_store_update(struct fi_bpf *b, uint64_t nodeid, uint64_t lblk, uint64_t len,
			const struct fi_extent *v, uint32_t n);
int fi_lib_store_publish(struct fi_bpf *b, uint64_t nodeid, const struct fi_extent *v,
			 uint32_t n, uint32_t flags);
/* Bytes of extent arrays in use. */
size_t fi_lib_store_bytes(struct fi_bpf *b);
/* Free the marks of a queued ioend, once it was applied and its file published or forgotten. */
void fi_lib_store_unmark(struct fi_bpf *b, uint64_t tag, const uint16_t *mark);
/* Free every mark on [pblk, pblk+len) of @dev. */
void fi_lib_store_unmark_blocks(struct fi_bpf *b, uint32_t dev, uint64_t pblk, uint64_t len);

/*
 * bpf_rule.c: when the library publishes and forgets.  A change is
 * bracketed by fi_lib_rule_change_begin/end; a publish goes ahead only if no
 * change ran since @seq was taken (fi_lib_rule_seq(), before the read's
 * BEGIN was answered) and none is running.
 */
struct fi_rule {
	pthread_mutex_t lock;
	struct fi_bpf bpf;
	bool on;
	bool reports;		/* fi_iomap_ops.reports_changes */
	uint64_t changes;	/* changes begun so far */
	unsigned int running;	/* changes begun and not ended */
};

void fi_lib_rule_init(struct fi_rule *r);
void fi_lib_rule_destroy(struct fi_rule *r);
uint64_t fi_lib_rule_seq(struct fi_rule *r);
void fi_lib_rule_change_begin(struct fi_rule *r, uint64_t nodeid);
void fi_lib_rule_change_end(struct fi_rule *r);
/* true when the list went to the store */
bool fi_lib_rule_publish(struct fi_server *srv, uint64_t nodeid, uint64_t seq);
/*
 * After a change: as fi_lib_rule_publish(), but a server that reports its
 * changes kept a list in the store right, which stays until its overlay
 * is half full; then the server's list replaces it, overlay folded in.
 */
bool fi_lib_rule_publish_after(struct fi_server *srv, uint64_t nodeid, uint64_t seq);
void fi_lib_rule_in_place_begin(struct fi_rule *r);
void fi_lib_rule_in_place_end(struct fi_server *srv, uint64_t nodeid);
/* Put the library's wrappers into @ll where the server has an op. */
void fi_lib_rule_wrap_ops(struct fuse_lowlevel_ops *ll);

/*
 * ioend.c: the ioends extent_map handled, queued on its ioend_queue ring
 * buffer, applied through fi_iomap_ops.ioend at the drain points.
 */
#define FI_IOEND_REPUBLISH	16	/* files republished after one drain */

struct ring_buffer;

struct fi_ioend_queue {
	/* One drain at a time: it consumes the ring and applies in order. */
	pthread_mutex_t lock;
	struct ring_buffer *rb;		/* NULL: no queue (no BPF tier) */
	int committed_fd;		/* sysfs bpf_ioend_committed, or -1 */
	uint64_t applied;		/* records applied so far */
	uint64_t told;			/* the count last written to sysfs */
	/* Files whose records this drain applied, to republish after it. */
	uint64_t touched[FI_IOEND_REPUBLISH];
	unsigned int ntouched;
	/* The marks of the records this drain applied, freed after the republish. */
	struct fi_ioend_marks *done;
	unsigned int ndone, cap_done;
	/*
	 * Errors of records that failed to apply, not yet told: one per
	 * file, for its next FSYNC or FLUSH, and the newest for the next
	 * SYNCFS.  The kernel had ended their writeback with success.
	 */
	struct fi_ioend_err *errs;
	unsigned int nerrs, cap_errs;
	int syncfs_err;
};

struct fi_ioend_marks {
	uint64_t tag;
	uint16_t mark[FI_IOEND_MARKS];
};

struct fi_ioend_err {
	uint64_t nodeid;
	int err;
};

void fi_lib_ioend_init(struct fi_ioend_queue *q);
int fi_lib_ioend_start(struct fi_server *srv);
void fi_lib_ioend_stop(struct fi_server *srv);
/* Apply every record queued so far; a no-op without a queue. */
void fi_lib_ioend_drain(struct fi_server *srv);
/*
 * The error of a record of @nodeid that failed to apply, once: 0 if none
 * (or it was taken already).  @nodeid 0: the newest of any file, for
 * SYNCFS, which has its own once.
 */
int fi_lib_ioend_take_error(struct fi_server *srv, uint64_t nodeid);

/* request.c */
/* The kernel takes only 0 or -1..-511 in a reply: anything else is EIO (after a message). */
int fi_lib_errno(const struct fi_server *srv, const char *op, int err);
/* What a log line ends in (empty, or thread and requests in progress). */
void fi_lib_log_tail(struct fi_server *srv, char *buf, size_t size);
/* The one reply to request @unique: 0, or -errno when it could not be written. */
int fi_lib_reply(struct fi_server *srv, uint64_t unique, int error, const void *payload,
		 size_t len);
struct fuse_in_header;
/* FUSE_IOMAP_BEGIN, END or IOEND @ih answered; 0, or -errno when the reply could not be written. */
int fi_lib_iomap_request(struct fi_server *srv, const struct fuse_in_header *ih, size_t argsize,
			 unsigned int inflight);

struct fi_server {
	struct fi_server_opts opts;
	struct fuse_lowlevel_ops ll;		/* the server's */
	struct fi_iomap_ops iomap;
	void *ctx;
	struct fuse_session *se;
	struct fi_mount mount;
	bool signals;
	struct fi_rule rule;
	struct fi_ioend_queue ioq;
	/* Serving: the unmount a signal started, requests in progress. */
	pthread_mutex_t lock;
	pid_t unmounter;
	unsigned int inflight;
	int error;
};

#endif
