// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-blockfs: answering FUSE_IOMAP_BEGIN, END and IOEND, in place
 * or out of place (see blockfs.h), and the allocation they make.
 */
#include <errno.h>
#include <stdlib.h>

#include "blockfs.h"

/* --- answering FUSE_IOMAP_BEGIN ---------------------------------------------- */

static struct fuse_iomap_io bfs_map(struct blockfs *bfs, uint16_t type, struct ext e,
				    uint16_t flags)
{
	return (struct fuse_iomap_io){
		.offset = e.lblk << bfs->bbits, .length = e.len << bfs->bbits,
		.addr = e.pblk << bfs->bbits, .type = type,
		.flags = flags, .dev = bfs->dev[e.dev].cookie,
	};
}

static struct fuse_iomap_io bfs_mapped(struct blockfs *bfs, struct ext e, uint16_t flags)
{
	return bfs_map(bfs, FUSE_IOMAP_TYPE_MAPPED, e, flags);
}

/* What is at @lblk now: the extent (MAPPED or UNWRITTEN), or the hole up to the next one. */
static struct fuse_iomap_io bfs_lookup(struct blockfs *bfs, struct bfs_file *f, uint64_t lblk)
{
	size_t i = ext_find(&f->ext, lblk);
	uint64_t end;

	if (i < f->ext.nr && f->ext.v[i].lblk <= lblk) {
		struct ext *e = &f->ext.v[i];

		return bfs_map(bfs, e->unwritten ? FUSE_IOMAP_TYPE_UNWRITTEN : FUSE_IOMAP_TYPE_MAPPED,
			       *e, 0);
	}
	/* Past the last extent, one hole to the end of any file. */
	end = i < f->ext.nr ? f->ext.v[i].lblk : FUSE_IOMAP_MAX_END >> bfs->bbits;
	return fi_iomap_hole(lblk << bfs->bbits, (end - lblk) << bfs->bbits);
}

/*
 * Up to @want new blocks at @lblk in @l (the file's extents, as UNWRITTEN,
 * or its cow list), on the device of @lblk's chunk; *e says which.  Out of
 * space while freed blocks wait for a save, it saves and tries again.
 */
static int bfs_allocate(struct blockfs *bfs, struct ext_list *l, uint64_t lblk, uint64_t want,
			bool unwritten, struct ext *e)
{
	struct bfs_dev *d;

	*e = (struct ext){ .lblk = lblk, .unwritten = unwritten, .dev = bfs_stripe_dev(bfs, lblk) };
	d = &bfs->dev[e->dev];
	e->len = balloc_alloc(&d->alloc, want, &e->pblk);
	if (!e->len && d->freed.nr && !bfs_commit_locked(bfs))
		e->len = balloc_alloc(&d->alloc, want, &e->pblk);
	if (!e->len)
		return ENOSPC;
	bfs_blocks_reset(bfs, e->dev, e->pblk, e->len);
	if (ext_insert(l, *e)) {
		balloc_mark(&d->alloc, e->pblk, e->len, 0);
		return ENOMEM;
	}
	return 0;
}

/*
 * In place.  Written blocks are overwritten where they are; a write that
 * may grow the file asks for an ioend, which commits the size.  Unwritten
 * ones are written as UNWRITTEN and converted at ioend (O_DIRECT and
 * writeback need FUSE_IOMAP_F_WANT_IOEND for that; a buffered write gets
 * the same answer, and its writeback asks again).  A hole gets an
 * unwritten extent of at least BFS_PREALLOC blocks, or up to the next
 * extent; striped, the rest of its chunk.
 */
static int bfs_begin_write_in_place(struct blockfs *bfs, struct fi_memns_node *n,
				    struct bfs_file *f, const struct fuse_iomap_begin_in *in,
				    struct fuse_iomap_io cur, uint64_t want, uint64_t run,
				    struct fuse_iomap_begin_out *out)
{
	uint64_t lblk = in->pos >> bfs->bbits;
	struct ext e;
	int err;

	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	if (cur.type == FUSE_IOMAP_TYPE_MAPPED) {
		out->read = cur;
		if (in->pos + in->count > (uint64_t)n->st.st_size)
			out->read.flags |= FUSE_IOMAP_F_WANT_IOEND;
		return 0;
	}
	if (cur.type == FUSE_IOMAP_TYPE_UNWRITTEN) {
		out->read = cur;
		out->read.flags |= FUSE_IOMAP_F_WANT_IOEND;
		return 0;
	}
	if (bfs->chunk)
		want = bfs->chunk - lblk % bfs->chunk;
	else if (want < BFS_PREALLOC)
		want = BFS_PREALLOC;
	if (want > run)
		want = run;
	err = bfs_allocate(bfs, &f->ext, lblk, want, true, &e);
	if (err)
		return err;
	bfs_bpf_update(bfs, n, e.lblk, e.len, &e);
	out->read = bfs_map(bfs, FUSE_IOMAP_TYPE_UNWRITTEN, e, FUSE_IOMAP_F_WANT_IOEND);
	return 0;
}

/*
 * Out of place: the staged blocks at @lblk, the ones already there (*fresh
 * false) or up to @want new ones, not past the next staged run.
 */
static int bfs_stage(struct blockfs *bfs, struct bfs_file *f, uint64_t lblk, uint64_t want,
		     struct ext *c, bool *fresh)
{
	size_t i = ext_find(&f->cow, lblk);

	*fresh = !(i < f->cow.nr && f->cow.v[i].lblk <= lblk);
	if (!*fresh) {
		*c = f->cow.v[i];
		*c = (struct ext){ lblk, c->pblk + (lblk - c->lblk), c->len - (lblk - c->lblk), 0,
				   c->dev };
		return 0;
	}
	if (i < f->cow.nr && f->cow.v[i].lblk - lblk < want)
		want = f->cow.v[i].lblk - lblk;
	return bfs_allocate(bfs, &f->cow, lblk, want, false, c);
}

/*
 * Out of place.  The old data (the partial blocks of a buffered write)
 * is read from the file's extents; the write goes to staged blocks, and
 * a new staging asks for END, which gives back what the write missed.
 */
static int bfs_begin_write_oop(struct blockfs *bfs, struct bfs_file *f,
			       const struct fuse_iomap_begin_in *in, struct fuse_iomap_io cur,
			       uint64_t want, uint64_t run, struct fuse_iomap_begin_out *out)
{
	uint64_t bmask = (1U << bfs->bbits) - 1, lblk = in->pos >> bfs->bbits;
	uint16_t flags = FUSE_IOMAP_F_WANT_IOEND;
	struct ext c;
	bool fresh;
	int err;

	/* A partial block would need the old data: not with O_DIRECT. */
	if (cur.type != FUSE_IOMAP_TYPE_HOLE && (in->opflags & FUSE_IOMAP_OP_DIRECT) &&
	    ((in->pos | in->count) & bmask))
		return ENOTBLK;
	err = bfs_stage(bfs, f, lblk, want > run ? run : want, &c, &fresh);
	if (err)
		return err;
	/* Unwritten blocks (from an in-place run) read as zeros. */
	out->read = cur;
	if (cur.type != FUSE_IOMAP_TYPE_MAPPED) {
		out->read = fi_iomap_hole(cur.offset, cur.length);
		flags |= FUSE_IOMAP_F_NEW;
	}
	if (fresh)
		flags |= FUSE_IOMAP_F_WANT_IOMAP_END;
	out->write = bfs_mapped(bfs, c, flags);
	return 0;
}

static int bfs_begin_write(struct blockfs *bfs, struct fi_memns_node *n, struct bfs_file *f,
			   const struct fuse_iomap_begin_in *in, struct fuse_iomap_begin_out *out)
{
	uint64_t bmask = (1U << bfs->bbits) - 1;
	uint64_t lblk = in->pos >> bfs->bbits;
	uint64_t want = ((in->pos + (in->count ? in->count : 1) - 1) >> bfs->bbits) - lblk + 1;
	struct fuse_iomap_io cur = bfs_lookup(bfs, f, lblk);
	uint64_t run = (cur.offset + cur.length) / (bmask + 1) - lblk;

	if (bfs->out_of_place)
		return bfs_begin_write_oop(bfs, f, in, cur, want, run, out);
	return bfs_begin_write_in_place(bfs, n, f, in, cur, want, run, out);
}

/* Out of place, writeback goes to staged blocks too, staged now if none are. */
static int bfs_begin_writeback_oop(struct blockfs *bfs, struct bfs_file *f,
				   const struct fuse_iomap_begin_in *in,
				   struct fuse_iomap_begin_out *out)
{
	uint64_t lblk = in->pos >> bfs->bbits;
	uint64_t want = ((in->pos + (in->count ? in->count : 1) - 1) >> bfs->bbits) - lblk + 1;
	struct ext c;
	bool fresh;
	int err = bfs_stage(bfs, f, lblk, want, &c, &fresh);

	if (err)
		return err;
	out->read = bfs_mapped(bfs, c, FUSE_IOMAP_F_WANT_IOEND);
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	return 0;
}

/* The file's whole extent list, for the BPF tier: its next reads need no upcall. */
int bfs_extents(void *ctx, uint64_t nodeid, struct fi_extent **vp, uint32_t *np,
		uint32_t *flags)
{
	struct blockfs *bfs = ctx;
	struct fi_memns_node *n;
	struct fi_extent *v;
	struct bfs_file *f;
	int err = 0;

	fi_memns_lock(&bfs->ns);
	n = fi_memns_node(&bfs->ns, nodeid);
	f = n && S_ISREG(n->st.st_mode) ? n->data : NULL;
	if (!f) {
		err = -EAGAIN;
		goto out;
	}
	v = calloc(f->ext.nr ? f->ext.nr : 1, sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f->ext.nr; i++)
		v[i] = bfs_fi_extent(bfs, &f->ext.v[i]);
	*vp = v;
	*np = f->ext.nr;
	/* In place, extent_map answers unwritten extents and takes ioends. */
	*flags = bfs->out_of_place ? FI_FILE_NO_WRITES : FI_FILE_IOEND;
out:
	fi_memns_unlock(&bfs->ns);
	return err;
}

static int bfs_begin_locked(struct blockfs *bfs, uint64_t nodeid,
			    const struct fuse_iomap_begin_in *in, struct fuse_iomap_begin_out *out)
{
	struct fi_memns_node *n = fi_memns_node(&bfs->ns, nodeid);
	struct bfs_file *f;

	if (!n || !S_ISREG(n->st.st_mode))
		return -ENOENT;
	f = bfs_file(n);
	if (!f)
		return -ENOMEM;
	if ((in->opflags & FUSE_IOMAP_OP_WRITE) &&
	    !(in->opflags & (FUSE_IOMAP_OP_ZERO | FUSE_IOMAP_OP_WRITEBACK)))
		return -bfs_begin_write(bfs, n, f, in, out);
	if ((in->opflags & FUSE_IOMAP_OP_WRITEBACK) && bfs->out_of_place)
		return -bfs_begin_writeback_oop(bfs, f, in, out);

	/* Reads, reports, zeroing and writeback: what is there now. */
	out->read = bfs_lookup(bfs, f, in->pos >> bfs->bbits);
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	/*
	 * In place, writeback converts unwritten blocks at ioend, and
	 * commits the size there when it reaches past ours.
	 */
	if ((in->opflags & FUSE_IOMAP_OP_WRITEBACK) &&
	    (out->read.type == FUSE_IOMAP_TYPE_UNWRITTEN ||
	     (out->read.type == FUSE_IOMAP_TYPE_MAPPED &&
	      in->pos + in->count > (uint64_t)n->st.st_size)))
		out->read.flags |= FUSE_IOMAP_F_WANT_IOEND;
	return 0;
}

int bfs_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
	      struct fuse_iomap_begin_out *out)
{
	struct blockfs *bfs = ctx;
	int err;

	fi_memns_lock(&bfs->ns);
	err = bfs_begin_locked(bfs, nodeid, in, out);
	fi_memns_unlock(&bfs->ns);
	return err;
}

/* --- answering FUSE_IOMAP_END -------------------------------------------------- */

/*
 * Out of place, END comes for a new staging only: the blocks of it the
 * write did not touch go back.  No dirty page can be on them, so no
 * writeback can be using them.
 */
static int bfs_end_locked(struct blockfs *bfs, uint64_t nodeid, const struct fuse_iomap_end_in *in)
{
	struct fi_memns_node *n = fi_memns_node(&bfs->ns, nodeid);
	uint64_t ms, me, ts, te;
	struct bfs_file *f;

	if (!n || !S_ISREG(n->st.st_mode) || !(in->opflags & FUSE_IOMAP_OP_WRITE) || !n->data)
		return 0;
	f = n->data;
	ms = in->map.offset >> bfs->bbits;
	me = (in->map.offset + in->map.length) >> bfs->bbits;
	ts = in->pos >> bfs->bbits;
	te = in->written > 0 ? ((in->pos + in->written - 1) >> bfs->bbits) + 1 : ts;
	ts = ts < ms ? ms : ts > me ? me : ts;
	te = te < ts ? ts : te > me ? me : te;
	if (ext_remove(&f->cow, ms, ts - ms, bfs_free_piece, bfs) ||
	    ext_remove(&f->cow, te, me - te, bfs_free_piece, bfs))
		return -ENOMEM;
	return 0;
}

int bfs_end(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in)
{
	struct blockfs *bfs = ctx;
	int err;

	fi_memns_lock(&bfs->ns);
	err = bfs_end_locked(bfs, nodeid, in);
	fi_memns_unlock(&bfs->ns);
	return err;
}

/* --- answering FUSE_IOMAP_IOEND ------------------------------------------------- */

struct bfs_converting {
	struct blockfs *bfs;
	struct fi_memns_node *n;
};

static void bfs_converted(void *arg, struct ext piece)
{
	struct bfs_converting *c = arg;

	/*
	 * Written for good: the store says so first, then the BPF tier's
	 * marks of them are not needed any more.
	 */
	bfs_bpf_update(c->bfs, c->n, piece.lblk, piece.len, &piece);
	bfs_blocks_reset(c->bfs, piece.dev, piece.pblk, piece.len);
}

/*
 * Out of place: the staged blocks of [first, end) hold the data now, and
 * replace what the file had there.  Out of memory, -ENOMEM and the piece
 * at hand may read as a hole (the ioend fails: the writer hears of it).
 */
static int bfs_remap(struct blockfs *bfs, struct bfs_file *f, uint64_t first, uint64_t end)
{
	size_t i;

	while ((i = ext_find(&f->cow, first)) < f->cow.nr && f->cow.v[i].lblk < end) {
		struct ext c = f->cow.v[i];
		uint64_t s = c.lblk > first ? c.lblk : first;
		uint64_t e = c.lblk + c.len < end ? c.lblk + c.len : end;
		struct ext piece = { s, c.pblk + (s - c.lblk), e - s, 0, c.dev };

		if (ext_remove(&f->ext, s, e - s, bfs_free_piece, bfs) ||
		    ext_insert(&f->ext, piece) || ext_remove(&f->cow, s, e - s, NULL, NULL))
			return -ENOMEM;
		first = e;
	}
	return 0;
}

static int bfs_ioend_locked(struct blockfs *bfs, uint64_t nodeid,
			    const struct fuse_iomap_ioend_in *in, struct fuse_iomap_ioend_out *out)
{
	struct fi_memns_node *n = fi_memns_node(&bfs->ns, nodeid);
	uint64_t first, end, bs = 1U << bfs->bbits;
	struct bfs_file *f;

	/*
	 * Gone (its last writeback raced an unlink and the eviction): nothing
	 * is left to convert.
	 */
	if (!n || !S_ISREG(n->st.st_mode))
		return 0;
	f = bfs_file(n);
	if (!f)
		return -ENOMEM;
	first = in->pos >> bfs->bbits;
	end = (in->pos + in->written + bs - 1) >> bfs->bbits;
	if (bfs->out_of_place && in->written) {
		bfs_bpf_forget(bfs, n);
		if (bfs_remap(bfs, f, first, end))
			return -ENOMEM;
	} else if ((in->flags & FUSE_IOMAP_IOEND_UNWRITTEN) && in->written) {
		struct bfs_converting c = { bfs, n };

		if (ext_convert(&f->ext, first, end - first, bfs_converted, &c)) {
			bfs_bpf_forget(bfs, n);
			return -ENOMEM;
		}
	}
	if ((in->flags & FUSE_IOMAP_IOEND_APPEND) && in->pos + in->written > (uint64_t)n->st.st_size)
		n->st.st_size = in->pos + in->written;
	out->newsize = n->st.st_size;
	return 0;
}

int bfs_ioend(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
	      struct fuse_iomap_ioend_out *out)
{
	struct blockfs *bfs = ctx;
	int err;

	fi_memns_lock(&bfs->ns);
	err = bfs_ioend_locked(bfs, nodeid, in, out);
	fi_memns_unlock(&bfs->ns);
	return err;
}
