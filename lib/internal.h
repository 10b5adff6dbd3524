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
	bool stock;
	bool readonly;
	bool mounted_by_us;	/* we called mount(2) and must unmount */
	int fd;			/* the /dev/fuse-iomap fd, or -1 */
};

int fi_lib_mount(struct fuse_session *se, struct fi_mount *m);
void fi_lib_unmount(struct fuse_session *se, struct fi_mount *m);

/* bpf_maps.c: extent_map, loaded and attached, and its maps. */
struct extent_map_bpf;
struct bpf_link;

struct fi_bpf {
	struct extent_map_bpf *skel;
	struct bpf_link *link;
	uint32_t conn_id;
	uint32_t next_gen;
	uint32_t max_extents;
};

int fi_lib_bpf_start(struct fi_bpf *b, const char *name, const char *mountpoint);
void fi_lib_bpf_stop(struct fi_bpf *b);
void fi_lib_bpf_forget(struct fi_bpf *b, uint64_t nodeid);
int fi_lib_bpf_publish(struct fi_bpf *b, uint64_t nodeid, const struct fi_extent *v, uint32_t n,
		   uint32_t flags);

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
	uint64_t changes;	/* changes begun so far */
	unsigned int running;	/* changes begun and not ended */
};

void fi_lib_rule_init(struct fi_rule *r);
void fi_lib_rule_destroy(struct fi_rule *r);
uint64_t fi_lib_rule_seq(struct fi_rule *r);
void fi_lib_rule_change_begin(struct fi_rule *r, uint64_t nodeid);
void fi_lib_rule_change_end(struct fi_rule *r);
void fi_lib_rule_publish(struct fi_server *srv, uint64_t nodeid, uint64_t seq);
/* Put the library's wrappers into @ll where the server has an op. */
void fi_lib_rule_wrap_ops(struct fuse_lowlevel_ops *ll);

/* serve.c */
struct fi_server {
	struct fi_server_opts opts;
	struct fuse_lowlevel_ops ll;		/* the server's */
	struct fi_iomap_ops iomap;
	void *ctx;
	struct fuse_session *se;
	struct fi_mount mount;
	bool signals;
	struct fi_rule rule;
	/* Serving: the unmount a signal started, requests in progress. */
	pthread_mutex_t lock;
	pid_t unmounter;
	unsigned int inflight;
	int error;
};

#endif
