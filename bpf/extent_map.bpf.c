// SPDX-License-Identifier: GPL-2.0
/*
 * extent_map: answers FUSE_IOMAP_BEGIN from the store the server's library
 * writes in this program's arena (see fuse_iomap_extent_map.h): a bounded
 * probe of the file table and a binary search over the file's sorted
 * extents, plain loads throughout, checked by the slot's sequence count.
 * Reads and zeroing get the extent or hole at pos; writes only overwrites
 * of written extents (with FUSE_IOMAP_END when they may grow the file: see
 * mapped_flags()), and writeback only written extents (a hole or unwritten
 * extent has to be allocated or converted: the server's).  Everything
 * else, a file with no slot, and a slot that changed while we read it,
 * falls back to the upcall.
 *
 * Files flagged FI_FILE_IOEND take FUSE_IOMAP_IOEND instead: writes that
 * may grow them ask for an ioend rather than FUSE_IOMAP_END, and writes
 * (O_DIRECT, buffered, writeback) into their UNWRITTEN extents are
 * answered too, UNWRITTEN with FUSE_IOMAP_F_WANT_IOEND.  iomap_ioend then
 * handles those ioends here: it marks the ranges written (so that the
 * next iomap_begin answers them MAPPED before the server has converted
 * its extent) and queues the ioend on `ioend_queue` for the server, which
 * applies it as if it had come as an upcall.  Holes stay the server's to
 * allocate.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"
#include "fuse_iomap_extent_map.h"

/* Keeps clang from moving loads across it; the CPU keeps their order (TSO). */
#define barrier() asm volatile("" ::: "memory")

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, FI_STORE_PAGES);	/* the library may change it before load */
} store SEC(".maps");

struct fi_store_root FI_ARENA root;

struct fi_mark marks[FI_MARKS];
__u64 mark_tags;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FI_IOEND_QUEUE_BYTES);	/* the library may change it before load */
} ioend_queue SEC(".maps");

/* A slot as one lookup read it. */
struct view {
	struct fi_store_extent FI_ARENA *ext;
	struct fi_store_extent FI_ARENA *over;
	__u64 nodeid;
	__u32 seq, flags, count, ocount, gen;
};

/* The slot of @nodeid, read into *w with the even seq it had, or NULL. */
static __always_inline struct fi_store_file FI_ARENA *lookup(__u64 nodeid, struct view *w)
{
	struct fi_store_file FI_ARENA *t = root.files;
	__u32 h = fi_store_hash(nodeid);
	int i;

	if (!t)
		return NULL;
	bpf_for(i, 0, FI_STORE_PROBES) {
		struct fi_store_file FI_ARENA *s = &t[(h + i) & (FI_STORE_FILES - 1)];
		__u64 id = s->nodeid;

		if (!id)
			return NULL;
		if (id != nodeid)
			continue;
		w->seq = s->seq;
		barrier();
		w->nodeid = s->nodeid;
		w->flags = s->flags;
		w->count = s->count;
		w->ext = s->ext;
		w->ocount = s->ocount;
		w->over = s->over;
		w->gen = s->gen;
		if ((w->seq & 1) || w->nodeid != nodeid || w->ocount > FI_OVERLAY_MAX ||
		    s->check != fi_store_file_check(nodeid, w->seq, w->flags, w->count,
						    w->ocount, w->gen))
			return NULL;
		return s;
	}
	return NULL;
}

/* Whether everything read since lookup() came from one version of @s. */
static __always_inline bool unchanged(struct fi_store_file FI_ARENA *s, const struct view *w)
{
	barrier();
	return s->seq == w->seq;
}

/*
 * The last i in [lo, hi) whose key (the u64 at @base + i * @stride) is at
 * most @key, else lo, in *out.  -1: too wide a range.
 */
static __always_inline int search_keys(const char FI_ARENA *base, __u32 stride, __u32 lo,
				       __u32 hi, __u64 key, __u32 *out)
{
	int i;

	for (i = 0; i <= FI_INDEX_SHIFT && hi - lo > 1; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		if (*(const __u64 FI_ARENA *)(base + (__u64)mid * stride) <= key)
			lo = mid;
		else
			hi = mid;
	}
	if (hi - lo > 1)
		return -1;
	*out = lo;
	return 0;
}

/*
 * The largest index in [0, count) whose extent starts at or before @lblk
 * (0 if none does), in *idx, through the list's index (see
 * FI_INDEX_SHIFT).  -1 when the list is longer than the search can
 * handle.  The steps read unchecked: load() checks where they led.
 *
 * search(), resolve() and marked() are global functions, not inlined:
 * the verifier checks a global function once, with any arguments, where
 * it walked an inlined one again on every path that reached it.  Inlined,
 * loading extent_map_begin took 897,668 of the verifier's 1,000,000
 * instructions and 4 s in the TCG guest, and a server's first request
 * after mounting waited for it; now about 6,000 and 50 ms (veristat).
 */
__noinline int search(const struct view *w, __u64 lblk, __u32 *idx)
{
	const char FI_ARENA *index;
	__u32 lo = 0, hi, other, top, j = 0;

	if (!w || !idx)
		return -1;
	index = (const char FI_ARENA *)&w->ext[w->count];
	hi = w->count;
	if (hi > FI_STORE_MAX_EXTENTS)
		return -1;
	other = fi_index_other(hi);
	top = fi_index_top(hi);
	if (other) {
		hi = other;
		if (top) {
			if (search_keys(index, sizeof(__u64), 0, top, lblk, &j))
				return -1;
			lo = j << FI_INDEX_SHIFT;
			hi = lo + FI_INDEX_K < other ? lo + FI_INDEX_K : other;
		}
		if (search_keys(index + top * sizeof(__u64), sizeof(__u64), lo, hi, lblk, &j))
			return -1;
		lo = j << FI_INDEX_SHIFT;
		hi = lo + FI_INDEX_K < w->count ? lo + FI_INDEX_K : w->count;
	}
	return search_keys((const char FI_ARENA *)&w->ext[0].lblk, sizeof(struct fi_store_extent),
			   lo, hi, lblk, idx);
}

/*
 * Extent @idx of the base (or with @over, of the overlay) into *e, field
 * by field (clang-19 does not cast a struct copy's source to the arena).
 * -1 unless its check holds.
 */
static __always_inline int load(struct fi_extent *e, const struct view *w, __u32 idx, bool over)
{
	const struct fi_store_extent FI_ARENA *a = over ? &w->over[idx] : &w->ext[idx];

	e->lblk = a->lblk;
	e->len = a->len;
	e->pblk = a->pblk;
	e->dev = a->dev;
	e->type = a->type;
	if (over ? a->check != fi_store_extent_check(FI_CHECK_OVERLAY, w->nodeid, w->seq, idx, e) :
		   a->check != fi_store_extent_check(FI_CHECK_BASE, w->nodeid, w->gen, idx, e))
		return -1;
	return 0;
}

/*
 * The base's extent at @lblk, or the hole there up to the next one (or
 * to the end of any file), in *r.  -1: no answer.
 */
static __always_inline int resolve_base(const struct view *w, __u64 lblk, __u64 max,
					struct fi_extent *r)
{
	struct fi_extent e = {};
	__u32 idx = 0;
	__u64 end = max;

	if (w->count) {
		if (search(w, lblk, &idx) || load(&e, w, idx, false))
			return -1;
		if (e.lblk <= lblk && lblk < e.lblk + e.len) {
			*r = e;
			return 0;
		}
		/* Only the first extent may start past lblk (a hole before it). */
		if (e.lblk > lblk) {
			if (idx)
				return -1;
			end = e.lblk;
		} else if (idx + 1 < w->count) {
			if (load(&e, w, idx + 1, false))
				return -1;
			end = e.lblk;
		}
	}
	if (end <= lblk)
		return -1;
	*r = (struct fi_extent){ .lblk = lblk, .len = end - lblk, .type = FUSE_IOMAP_TYPE_HOLE };
	return 0;
}

/*
 * What the file has at @lblk, the overlay over the base: in *r an extent
 * (MAPPED, UNWRITTEN or HOLE) that holds @lblk and ends no later than
 * where what the file has there changes, or sooner.  @max is the end of
 * any file, in blocks.  -1: no answer.  Global, as search().
 */
__noinline int resolve(const struct view *w, __u64 lblk, __u64 max, struct fi_extent *r)
{
	struct fi_extent o = {};
	__u64 clip = max;
	__u32 i = 0;

	if (!w || !r)
		return -1;
	if (w->ocount) {
		if (search_keys((const char FI_ARENA *)&w->over[0].lblk,
				sizeof(struct fi_store_extent), 0, w->ocount, lblk, &i) ||
		    load(&o, w, i, true))
			return -1;
		if (o.lblk <= lblk && lblk < o.lblk + o.len) {
			*r = o;
			/* A truncate's hole reaches to the end of any offset. */
			if (r->len > max - r->lblk)
				r->len = max - r->lblk;
			return 0;
		}
		if (o.lblk > lblk)
			clip = o.lblk;
		else if (i + 1 < w->ocount) {
			if (load(&o, w, i + 1, true))
				return -1;
			clip = o.lblk;
		}
	}
	if (resolve_base(w, lblk, max, r))
		return -1;
	/* The base answers only up to the overlay's next extent. */
	if (clip <= lblk)
		return -1;
	if (r->lblk + r->len > clip)
		r->len = clip - r->lblk;
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
static __u16 mapped_flags(const struct fuse_bpf_iomap_begin_args *args, __u32 flags, bool write,
			  bool wb)
{
	bool ioend = flags & FI_FILE_IOEND;

	if (write && args->pos + args->count > args->i_size)
		return ioend ? FUSE_IOMAP_F_WANT_IOEND : FUSE_IOMAP_F_WANT_IOMAP_END;
	if (wb && ioend && args->pos + args->count >= args->i_size)
		return FUSE_IOMAP_F_WANT_IOEND;
	return 0;
}

/*
 * Whether device block @pblk of @dev is marked written, and in *run the
 * blocks from it, at most @left, that all are or all are not: within its
 * group, whose marks are all in one bucket.
 */
__noinline int marked(__u32 dev, __u64 pblk, __u64 left, __u64 *run)
{
	__u32 b = fi_mark_bucket(dev, pblk) * FI_MARK_WAYS;
	__u64 lim = (pblk | (FI_MARK_GROUP - 1)) + 1;
	bool hit = false;
	int w;

	if (!run)
		return 0;
	if (pblk + left < lim)
		lim = pblk + left;
	bpf_for(w, 0, FI_MARK_WAYS) {
		struct fi_mark *m = &marks[(b + w) & (FI_MARKS - 1)];
		__u64 tag = m->ready, mp, mend;
		__u32 md;

		if (!tag)
			continue;
		barrier();
		mp = m->pblk;
		mend = mp + m->len;
		md = m->dev;
		barrier();
		if (m->ready != tag || m->owner != tag || md != dev)
			continue;
		if (mp <= pblk && pblk < mend) {
			hit = true;
			if (mend < lim)
				lim = mend;
		} else if (mp > pblk && mp < lim) {
			lim = mp;
		}
	}
	*run = lim - pblk;
	return hit;
}

/*
 * @lblk is in UNWRITTEN extent @e of an FI_FILE_IOEND file.  Ranges that
 * iomap_ioend marked written (and the server may not have converted yet)
 * are MAPPED: answer the run at lblk that is all marked or all not,
 * within @e and within what was asked.
 */
static __always_inline int answer_unwritten(const struct fuse_bpf_iomap_begin_args *args,
			    struct fuse_iomap_begin_out *out, __u32 flags,
			    const struct fi_extent *e, __u64 lblk, bool write, bool wb)
{
	__u64 pblk = e->pblk + (lblk - e->lblk), left = e->lblk + e->len - lblk, run = 0;
	__u64 asked = ((args->pos + args->count - 1) >> args->blkbits) + 1 - lblk;

	/* Nothing past what was asked: the next ask finds newer marks. */
	if (left > asked)
		left = asked;
	if (marked(e->dev, pblk, left, &run)) {
		set(&out->read, lblk, lblk + run, pblk, FUSE_IOMAP_TYPE_MAPPED, e->dev,
		    args->blkbits);
		out->read.flags = mapped_flags(args, flags, write, wb);
	} else {
		set(&out->read, lblk, lblk + run, pblk, FUSE_IOMAP_TYPE_UNWRITTEN, e->dev,
		    args->blkbits);
		/* Converted at ioend, by the server or by iomap_ioend below. */
		if (write || wb)
			out->read.flags = FUSE_IOMAP_F_WANT_IOEND;
	}
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return run ? 0 : FUSE_BPF_NO_ANSWER;
}

/* The answer for @lblk from @e, what the file has there (resolve()). */
static __always_inline int answer(const struct fuse_bpf_iomap_begin_args *args,
				  struct fuse_iomap_begin_out *out, __u32 flags,
				  const struct fi_extent *e, __u64 lblk)
{
	bool wb = args->opflags & FUSE_IOMAP_OP_WRITEBACK;
	bool write = (args->opflags & FUSE_IOMAP_OP_WRITE) &&
		     !(args->opflags & FUSE_IOMAP_OP_ZERO) && !wb;
	__u32 bits = args->blkbits;

	if ((write || wb) && (flags & FI_FILE_NO_WRITES))
		return FUSE_BPF_NO_ANSWER;
	if (e->type == FUSE_IOMAP_TYPE_HOLE) {
		if (write || wb)
			return FUSE_BPF_NO_ANSWER;	/* allocation is the server's */
		set(&out->read, lblk, e->lblk + e->len, 0, FUSE_IOMAP_TYPE_HOLE, 0, bits);
		out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
		return 0;
	}
	if (e->type == FUSE_IOMAP_TYPE_UNWRITTEN && (flags & FI_FILE_IOEND))
		return answer_unwritten(args, out, flags, e, lblk, write, wb);
	if ((write || wb) && e->type != FUSE_IOMAP_TYPE_MAPPED)
		return FUSE_BPF_NO_ANSWER;
	set(&out->read, lblk, e->lblk + e->len, e->pblk + (lblk - e->lblk), e->type,
	    e->dev, bits);
	out->read.flags = mapped_flags(args, flags, write, wb);
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

SEC("struct_ops/iomap_begin")
int BPF_PROG(extent_map_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	struct fi_store_file FI_ARENA *s;
	struct fi_extent e = {};
	struct view w = {};
	__u64 lblk;
	int ret;

	if (args->blkbits > 16)
		return FUSE_BPF_NO_ANSWER;
	s = lookup(args->nodeid, &w);
	if (!s)
		return FUSE_BPF_NO_ANSWER;
	lblk = args->pos >> args->blkbits;
	if (resolve(&w, lblk, FUSE_IOMAP_MAX_END >> args->blkbits, &e))
		return FUSE_BPF_NO_ANSWER;
	ret = answer(args, out, w.flags, &e, lblk);
	return unchanged(s, &w) ? ret : FUSE_BPF_NO_ANSWER;
}

/* The UNWRITTEN pieces of an ioend, split at mark groups. */
struct pieces {
	__u64 pblk[FI_IOEND_MARKS];
	__u32 len[FI_IOEND_MARKS];
	__u32 dev[FI_IOEND_MARKS];
	__u32 n;
};

/*
 * The UNWRITTEN pieces of [first, end) in *p.  Each step takes a piece or
 * passes what is not UNWRITTEN, so FI_IOEND_MARKS pieces need at most
 * twice as many steps and one more.  -1 when there are more pieces, or
 * resolve() has no answer.  @max: as for resolve().
 */
static __always_inline int unwritten_pieces(const struct view *w, __u64 first, __u64 end,
					    __u64 max, struct pieces *p)
{
	struct fi_extent e = {};
	__u64 blk = first;
	int i;

	bpf_for(i, 0, 2 * FI_IOEND_MARKS + 1) {
		__u64 eend, pb, n, gend;
		__u32 k;

		if (blk >= end)
			break;
		if (resolve(w, blk, max, &e))
			return -1;
		eend = e.lblk + e.len;
		if (e.type != FUSE_IOMAP_TYPE_UNWRITTEN) {
			blk = eend;
			continue;
		}
		pb = e.pblk + (blk - e.lblk);
		n = (eend < end ? eend : end) - blk;
		gend = (pb | (FI_MARK_GROUP - 1)) + 1;
		if (pb + n > gend)
			n = gend - pb;
		k = p->n;
		if (k >= FI_IOEND_MARKS)
			return -1;
		p->pblk[k] = pb;
		p->len[k] = n;
		p->dev[k] = e.dev;
		p->n = k + 1;
		blk += n;
	}
	return blk < end ? -1 : 0;
}

static __always_inline void unclaim(const __u16 *mark, __u64 tag)
{
	int k;

	bpf_for(k, 0, FI_IOEND_MARKS) {
		struct fi_mark *m;

		if (!mark[k])
			break;
		m = &marks[(mark[k] - 1) & (FI_MARKS - 1)];
		m->ready = 0;
		__sync_val_compare_and_swap(&m->owner, tag, 0);
	}
}

/* Claim and fill a mark per piece, their indices + 1 in @mark.  -1: a bucket is full. */
static __always_inline int claim(const struct pieces *p, __u64 tag, __u16 *mark)
{
	int k, w;

	bpf_for(k, 0, FI_IOEND_MARKS) {
		__u32 b, got = FI_MARKS;
		struct fi_mark *m;

		if (k >= p->n)
			break;
		b = fi_mark_bucket(p->dev[k], p->pblk[k]) * FI_MARK_WAYS;
		bpf_for(w, 0, FI_MARK_WAYS) {
			__u32 at = (b + w) & (FI_MARKS - 1);

			if (!marks[at].owner &&
			    !__sync_val_compare_and_swap(&marks[at].owner, 0, tag)) {
				got = at;
				break;
			}
		}
		if (got >= FI_MARKS)
			return -1;
		m = &marks[got];
		m->pblk = p->pblk[k];
		m->len = p->len[k];
		m->dev = p->dev[k];
		barrier();
		m->ready = tag;
		mark[k] = got + 1;
	}
	return 0;
}

/*
 * An ioend of an FI_FILE_IOEND file: mark what it wrote, queue it for the
 * server, and tell the kernel it is handled.  Anything unusual (an error,
 * out of place, too long, a file whose list changed while we read it, a
 * full queue or mark bucket) is left to the upcall.  The pieces are read
 * from one version of the list before any mark is claimed.
 */
SEC("struct_ops/iomap_ioend")
int BPF_PROG(extent_map_ioend, const struct fuse_bpf_iomap_ioend_args *args)
{
	struct pieces p = {};
	struct fi_store_file FI_ARENA *s;
	struct fi_ioend_rec *rec;
	struct view w = {};
	__u32 bits = args->blkbits;
	__u64 first, end, tag;
	int ret;

	if (bits > 16 || args->error || (args->flags & FUSE_IOMAP_IOEND_SHARED))
		return FUSE_BPF_NO_ANSWER;
	if (args->written > (__u64)FI_IOEND_MAX_BLOCKS << bits)
		return FUSE_BPF_NO_ANSWER;
	first = args->pos >> bits;
	end = (args->pos + args->written + (1ULL << bits) - 1) >> bits;
	if (end - first > FI_IOEND_MAX_BLOCKS)
		return FUSE_BPF_NO_ANSWER;
	s = lookup(args->nodeid, &w);
	if (!s || !(w.flags & FI_FILE_IOEND))
		return FUSE_BPF_NO_ANSWER;
	ret = 0;
	if (args->flags & FUSE_IOMAP_IOEND_UNWRITTEN)
		ret = unwritten_pieces(&w, first, end, FUSE_IOMAP_MAX_END >> bits, &p);
	if (ret || !unchanged(s, &w))
		return FUSE_BPF_NO_ANSWER;
	rec = bpf_ringbuf_reserve(&ioend_queue, sizeof(*rec), 0);
	if (!rec)
		return FUSE_BPF_NO_ANSWER;	/* the queue is full: the upcall drains it */
	tag = __sync_fetch_and_add(&mark_tags, 1) + 1;
	__builtin_memset(rec->mark, 0, sizeof(rec->mark));
	if (claim(&p, tag, rec->mark)) {
		unclaim(rec->mark, tag);
		bpf_ringbuf_discard(rec, 0);
		return FUSE_BPF_NO_ANSWER;
	}
	rec->nodeid = args->nodeid;
	rec->tag = tag;
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
