// SPDX-License-Identifier: GPL-2.0
/*
 * extent_map: answers FUSE_IOMAP_BEGIN from extents the server put in BPF
 * maps (see fuse_iomap_extent_map.h): a bounded binary search over the file's sorted
 * extents, O(log n) map lookups.  Reads and zeroing get the extent or
 * hole at pos; writes only overwrites of written extents (with
 * FUSE_IOMAP_END when they may grow the file: see want_end()), and
 * writeback only written extents (a hole or unwritten
 * extent has to be allocated or converted: the server's).  Everything
 * else, and any file without an entry, falls back to the upcall.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"
#include "fuse_iomap_extent_map.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FI_EXTENT_MAX_FILES);
	__type(key, struct fi_file_key);
	__type(value, struct fi_file);
} files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);	/* the server may raise it before load */
	__type(key, struct fi_extent_key);
	__type(value, struct fi_extent);
} extents SEC(".maps");

static struct fi_extent *get(__u64 nodeid, __u32 gen, __u32 idx)
{
	struct fi_extent_key k = { .nodeid = nodeid, .gen = gen, .idx = idx };

	return bpf_map_lookup_elem(&extents, &k);
}

static void set(struct fuse_iomap_io *m, __u64 lblk, __u64 end, const struct fi_extent *e,
		__u32 blkbits)
{
	m->offset = lblk << blkbits;
	m->length = (end - lblk) << blkbits;
	if (e) {
		m->addr = (e->pblk + (lblk - e->lblk)) << blkbits;
		m->type = e->type;
		m->dev = e->dev;
	} else {
		m->addr = FUSE_IOMAP_NULL_ADDR;
		m->type = FUSE_IOMAP_TYPE_HOLE;
		m->dev = FUSE_IOMAP_DEV_NULL;
	}
}

/*
 * The kernel keeps a file's times and hands them over itself (SETATTR at
 * inode writeback, fsync, close, unmount): only a write that may grow
 * the file needs FUSE_IOMAP_END, for the size.
 */
static bool want_end(const struct fuse_bpf_iomap_begin_args *args)
{
	return args->pos + args->count > args->i_size;
}

SEC("struct_ops/iomap_begin")
int BPF_PROG(extent_map_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	struct fi_file_key fk = { .nodeid = args->nodeid };
	__u32 bits = args->blkbits, lo = 0, hi, i;
	__u64 lblk, end;
	struct fi_extent *e, *next;
	struct fi_file *f;
	bool write, wb;

	if (bits > 16)
		return FUSE_BPF_NO_ANSWER;
	f = bpf_map_lookup_elem(&files, &fk);
	if (!f)
		return FUSE_BPF_NO_ANSWER;
	wb = args->opflags & FUSE_IOMAP_OP_WRITEBACK;
	write = (args->opflags & FUSE_IOMAP_OP_WRITE) &&
		!(args->opflags & FUSE_IOMAP_OP_ZERO) && !wb;
	if ((write || wb) && (f->flags & FI_FILE_NO_WRITES))
		return FUSE_BPF_NO_ANSWER;
	lblk = args->pos >> bits;
	hi = f->count;
	/* Largest idx with extent lblk <= lblk, in [lo, hi). */
	for (i = 0; i < FI_EXTENT_SEARCH_STEPS && hi - lo > 1; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		e = get(fk.nodeid, f->gen, mid);
		if (!e)
			return FUSE_BPF_NO_ANSWER;
		if (e->lblk <= lblk)
			lo = mid;
		else
			hi = mid;
	}
	if (hi - lo > 1)
		return FUSE_BPF_NO_ANSWER;
	e = f->count ? get(fk.nodeid, f->gen, lo) : NULL;
	if (f->count && !e)
		return FUSE_BPF_NO_ANSWER;
	if (e && e->lblk <= lblk && lblk < e->lblk + e->len) {
		if ((write || wb) && e->type != FUSE_IOMAP_TYPE_MAPPED)
			return FUSE_BPF_NO_ANSWER;
		set(&out->read, lblk, e->lblk + e->len, e, bits);
		if (write && want_end(args))
			out->read.flags = FUSE_IOMAP_F_WANT_IOMAP_END;
		out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
		return 0;
	}
	if (write || wb)
		return FUSE_BPF_NO_ANSWER;	/* allocation is the server's */
	/* A hole: before the first extent, between two, or past the last. */
	end = FUSE_IOMAP_MAX_END >> bits;
	if (e && e->lblk > lblk) {
		end = e->lblk;
	} else if (e && lo + 1 < f->count) {
		next = get(fk.nodeid, f->gen, lo + 1);
		if (!next)
			return FUSE_BPF_NO_ANSWER;
		end = next->lblk;
	}
	if (end <= lblk)
		return FUSE_BPF_NO_ANSWER;
	set(&out->read, lblk, end, NULL, bits);
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops extent_map = {
	.iomap_begin = (void *)extent_map_begin,
	.name = "extent_map",
};
