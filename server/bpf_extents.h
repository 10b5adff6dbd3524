/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The extent_map BPF tier for a server: load bpf/extent_map.bpf.c through
 * its skeleton, attach it to the server's own connection, and keep files'
 * extent lists in its maps.  A server forgets a file's extents before it
 * changes where the file's blocks are, and publishes them again when it
 * likes (our servers: when a read asked them, i.e. BPF had no answer).
 */
#ifndef FI_BPF_EXTENTS_H
#define FI_BPF_EXTENTS_H

#include <stdint.h>

#include "extent_map.h"

struct extent_map_bpf;
struct bpf_link;

struct fi_bpf {
	struct extent_map_bpf *skel;
	struct bpf_link *link;
	uint32_t conn_id;
	uint32_t next_gen;
	uint32_t max_extents;
};

/* Load and attach for the iomap mount at @mountpoint; 0 or -errno (after a message). */
int fi_bpf_start(struct fi_bpf *b, const char *name, const char *mountpoint);
void fi_bpf_stop(struct fi_bpf *b);
/* @nodeid's extents are no longer to be used; harmless if it had none, or after stop. */
void fi_bpf_forget(struct fi_bpf *b, uint64_t nodeid);
/* @nodeid's complete, sorted extent list; 0 or -errno (then none is published). */
int fi_bpf_publish(struct fi_bpf *b, uint64_t nodeid, const struct fi_extent *v, uint32_t n,
		   uint32_t flags);

#endif
