// SPDX-License-Identifier: GPL-2.0
/*
 * extent_map: answers FUSE_IOMAP_BEGIN from extents the server put in BPF
 * maps (see fuse_iomap_extent_map.h): a bounded binary search over the
 * file's sorted extents, O(log n) map lookups.  Reads and zeroing get the
 * extent or hole at pos; writes only overwrites of written extents (with
 * FUSE_IOMAP_END when they may grow the file: see mapped_flags()), and
 * writeback only written extents (a hole or unwritten extent has to be
 * allocated or converted: the server's).  Everything else, and any file
 * without an entry, falls back to the upcall.
 *
 * Files flagged FI_FILE_IOEND take FUSE_IOMAP_IOEND instead: writes that
 * may grow them ask for an ioend rather than FUSE_IOMAP_END, and writes
 * (O_DIRECT, buffered, writeback) into their UNWRITTEN extents are
 * answered too, UNWRITTEN with FUSE_IOMAP_F_WANT_IOEND.  iomap_ioend then
 * handles those ioends here: it marks the blocks written in `written` (so
 * that the next iomap_begin answers them MAPPED before the server has
 * converted its extent) and queues the ioend on `ioend_queue` for the
 * server, which applies it as if it had come as an upcall.  Holes stay
 * the server's to allocate.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"
#include "fuse_iomap_extent_map.h"

char LICENSE[] SEC("license") = "GPL";

/* Blocks one iomap_begin looks up in `written` to size a run. */
#define RUN_LOOKUPS	64

/*
 * Blocks iomap_ioend ever marked in `written` (the library reads it: while
 * it is 0 there is nothing to delete when a server frees blocks).
 */
__u64 marked_blocks;

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FI_WRITTEN_MAX);
	__type(key, struct fi_written_key);
	__type(value, __u8);
} written SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FI_IOEND_QUEUE_BYTES);	/* the library may change it before load */
} ioend_queue SEC(".maps");

static struct fi_extent *get(__u64 nodeid, __u32 gen, __u32 idx)
{
	struct fi_extent_key k = { .nodeid = nodeid, .gen = gen, .idx = idx };

	return bpf_map_lookup_elem(&extents, &k);
}

/*
 * The largest index in [0, f->count) whose extent starts at or before
 * @lblk (0 if none does), in *idx.  -1 when the list changed under us or
 * is longer than the search can handle.
 */
static __always_inline int search(__u64 nodeid, const struct fi_file *f, __u64 lblk, __u32 *idx)
{
	__u32 lo = 0, hi = f->count, i;
	struct fi_extent *e;

	for (i = 0; i < FI_EXTENT_SEARCH_STEPS && hi - lo > 1; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		e = get(nodeid, f->gen, mid);
		if (!e)
			return -1;
		if (e->lblk <= lblk)
			lo = mid;
		else
			hi = mid;
	}
	if (hi - lo > 1)
		return -1;
	*idx = lo;
	return 0;
}

/* [lblk, end) at device block @pblk (the block of lblk) of @dev, as @type. */
static __always_inline void set(struct fuse_iomap_io *m, __u64 lblk, __u64 end, __u64 pblk,
				__u16 type, __u32 dev, __u32 blkbits)
{
	m->offset = lblk << blkbits;
	m->length = (end - lblk) << blkbits;
	m->type = type;
	if (type == FUSE_IOMAP_TYPE_HOLE) {
		m->addr = FUSE_IOMAP_NULL_ADDR;
		m->dev = FUSE_IOMAP_DEV_NULL;
	} else {
		m->addr = pblk << blkbits;
		m->dev = dev;
	}
}

/*
 * The flags of a written (MAPPED) mapping.  The kernel keeps a file's
 * times and hands them over itself (SETATTR at inode writeback, fsync,
 * close, unmount): only the size needs the server, so a write that may
 * grow the file asks for FUSE_IOMAP_END, or for an FI_FILE_IOEND file an
 * ioend (the size is committed once the data is on the device), and so
 * does such a file's writeback up to EOF.
 */
static __u16 mapped_flags(const struct fuse_bpf_iomap_begin_args *args, const struct fi_file *f,
			  bool write, bool wb)
{
	bool ioend = f->flags & FI_FILE_IOEND;

	if (write && args->pos + args->count > args->i_size)
		return ioend ? FUSE_IOMAP_F_WANT_IOEND : FUSE_IOMAP_F_WANT_IOMAP_END;
	if (wb && ioend && args->pos + args->count >= args->i_size)
		return FUSE_IOMAP_F_WANT_IOEND;
	return 0;
}

static bool is_written(__u32 dev, __u64 pblk)
{
	struct fi_written_key k = { .dev = dev, .pblk = pblk };

	return bpf_map_lookup_elem(&written, &k) != NULL;
}

/*
 * @lblk is in UNWRITTEN extent @e of an FI_FILE_IOEND file.  Blocks that
 * iomap_ioend saw written (and the server may not have converted yet) are
 * MAPPED: answer the run of blocks at lblk that are all written or all
 * not, at most RUN_LOOKUPS long, within @e and within what was asked.
 */
static __always_inline int answer_unwritten(const struct fuse_bpf_iomap_begin_args *args,
			    struct fuse_iomap_begin_out *out, const struct fi_file *f,
			    const struct fi_extent *e, __u64 lblk, bool write, bool wb)
{
	__u64 pblk = e->pblk + (lblk - e->lblk), left = e->lblk + e->len - lblk, run = 1;
	__u64 asked = ((args->pos + args->count - 1) >> args->blkbits) + 1 - lblk;
	__u32 dev = e->dev;
	bool first = is_written(dev, pblk);
	int i;

	/* No lookups past what was asked: a 4 KiB write costs one. */
	if (left > asked)
		left = asked;
	if (left > RUN_LOOKUPS)
		left = RUN_LOOKUPS;
	bpf_for(i, 1, RUN_LOOKUPS) {
		if (i >= left || is_written(dev, pblk + i) != first)
			break;
		run++;
	}
	if (first) {
		set(&out->read, lblk, lblk + run, pblk, FUSE_IOMAP_TYPE_MAPPED, dev, args->blkbits);
		out->read.flags = mapped_flags(args, f, write, wb);
	} else {
		set(&out->read, lblk, lblk + run, pblk, FUSE_IOMAP_TYPE_UNWRITTEN, dev,
		    args->blkbits);
		/* Converted at ioend, by the server or by iomap_ioend below. */
		if (write || wb)
			out->read.flags = FUSE_IOMAP_F_WANT_IOEND;
	}
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

SEC("struct_ops/iomap_begin")
int BPF_PROG(extent_map_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	struct fi_file_key fk = { .nodeid = args->nodeid };
	__u32 bits = args->blkbits, lo = 0;
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
	if (search(fk.nodeid, f, lblk, &lo))
		return FUSE_BPF_NO_ANSWER;
	e = f->count ? get(fk.nodeid, f->gen, lo) : NULL;
	if (f->count && !e)
		return FUSE_BPF_NO_ANSWER;
	if (e && e->lblk <= lblk && lblk < e->lblk + e->len) {
		if (e->type == FUSE_IOMAP_TYPE_UNWRITTEN && (f->flags & FI_FILE_IOEND))
			return answer_unwritten(args, out, f, e, lblk, write, wb);
		if ((write || wb) && e->type != FUSE_IOMAP_TYPE_MAPPED)
			return FUSE_BPF_NO_ANSWER;
		set(&out->read, lblk, e->lblk + e->len, e->pblk + (lblk - e->lblk), e->type,
		    e->dev, bits);
		out->read.flags = mapped_flags(args, f, write, wb);
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
	set(&out->read, lblk, end, 0, FUSE_IOMAP_TYPE_HOLE, 0, bits);
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

/*
 * Mark the UNWRITTEN blocks of [first, end) written.  At most one step per
 * block plus one per extent: the bound holds for FI_IOEND_MAX_BLOCKS.
 * 0, or -1 when the list changed under us or a map update failed.
 */
static __always_inline int mark_written(__u64 nodeid, const struct fi_file *f, __u64 first,
					__u64 end)
{
	__u32 idx = 0, gen = f->gen, count = f->count;
	struct fi_written_key k = {};
	struct fi_extent *e;
	__u64 blk = first;
	__u8 one = 1;
	int i, err = 0;

	if (!count)
		return 0;
	if (search(nodeid, f, first, &idx))
		return -1;
	e = get(nodeid, gen, idx);
	bpf_for(i, 0, 2 * FI_IOEND_MAX_BLOCKS + 2) {
		if (blk >= end)
			break;
		if (!e) {
			err = -1;
			break;
		}
		if (blk >= e->lblk + e->len) {
			/* Past this extent: the next one, if any. */
			if (++idx >= count)
				break;
			e = get(nodeid, gen, idx);
		} else if (blk < e->lblk) {
			blk = e->lblk;		/* a hole: nothing to mark */
		} else if (e->type != FUSE_IOMAP_TYPE_UNWRITTEN) {
			blk = e->lblk + e->len;
		} else {
			k.dev = e->dev;
			k.pblk = e->pblk + (blk - e->lblk);
			__sync_fetch_and_add(&marked_blocks, 1);
			if (bpf_map_update_elem(&written, &k, &one, BPF_ANY)) {
				err = -1;
				break;
			}
			blk++;
		}
	}
	return blk < end && !err && idx < count ? -1 : err;
}

/*
 * An ioend of an FI_FILE_IOEND file: mark what it wrote, queue it for the
 * server, and tell the kernel it is handled.  Anything unusual (an error,
 * out of place, too long, a file whose list is being changed, a full
 * queue) is left to the upcall.  Blocks marked before a failure stay
 * marked: their data is on the device, and the upcall converts them.
 */
SEC("struct_ops/iomap_ioend")
int BPF_PROG(extent_map_ioend, const struct fuse_bpf_iomap_ioend_args *args)
{
	struct fi_file_key fk = { .nodeid = args->nodeid };
	__u32 bits = args->blkbits;
	struct fi_ioend_rec *rec;
	__u64 first, end;
	struct fi_file *f;

	if (bits > 16 || args->error || (args->flags & FUSE_IOMAP_IOEND_SHARED))
		return FUSE_BPF_NO_ANSWER;
	if (args->written > (__u64)FI_IOEND_MAX_BLOCKS << bits)
		return FUSE_BPF_NO_ANSWER;
	first = args->pos >> bits;
	end = (args->pos + args->written + (1ULL << bits) - 1) >> bits;
	if (end - first > FI_IOEND_MAX_BLOCKS)
		return FUSE_BPF_NO_ANSWER;
	f = bpf_map_lookup_elem(&files, &fk);
	if (!f || !(f->flags & FI_FILE_IOEND))
		return FUSE_BPF_NO_ANSWER;
	rec = bpf_ringbuf_reserve(&ioend_queue, sizeof(*rec), 0);
	if (!rec)
		return FUSE_BPF_NO_ANSWER;	/* the queue is full: the upcall drains it */
	if ((args->flags & FUSE_IOMAP_IOEND_UNWRITTEN) && mark_written(fk.nodeid, f, first, end)) {
		bpf_ringbuf_discard(rec, 0);
		return FUSE_BPF_NO_ANSWER;
	}
	rec->nodeid = args->nodeid;
	rec->in.flags = args->flags;
	rec->in.error = args->error;
	rec->in.attr_ino = args->attr_ino;
	rec->in.pos = args->pos;
	rec->in.new_addr = args->new_addr;
	rec->in.written = args->written;
	rec->in.dev = args->dev;
	rec->in.pad = 0;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops extent_map = {
	.iomap_begin = (void *)extent_map_begin,
	.iomap_ioend = (void *)extent_map_ioend,
	.name = "extent_map",
};
