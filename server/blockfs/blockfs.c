// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-blockfs: the reference server of the iomap data path.
 *
 * File data lives on a block device and never passes through this server:
 * it keeps the namespace (memns) and, per regular file, a list of extents,
 * and answers FUSE_IOMAP_BEGIN, END and IOEND.  The metadata lives in
 * memory, saved to a side file (--meta) on fsync, syncfs and exit, and
 * read back at start.
 *
 * In place (the default), ext4's way: a write into a hole preallocates at
 * least BFS_PREALLOC blocks (also past EOF) as UNWRITTEN extents, which
 * read as zeros; writes into them are answered UNWRITTEN with
 * FUSE_IOMAP_F_WANT_IOEND, and FUSE_IOMAP_IOEND converts what reached the
 * device.  The size grows at ioend too (FUSE_IOMAP_IOEND_APPEND): only
 * data on the device becomes part of the file.  No FUSE_IOMAP_END.
 *
 * --out-of-place: every write goes to newly allocated blocks, staged in
 * the file's "cow" list (copy on write) beside its extents.  BEGIN for a
 * write stages them (or hands out the ones already staged there: dirty
 * pages wait for writeback on them), END gives back those of a new
 * staging the write did not touch, writeback stages blocks where none
 * are, and IOEND, once the data is on the device, moves the written ones
 * into the file's extents and frees the blocks they replace.  Until then
 * the file reads its old blocks: a crash never shows blocks that were not
 * written.
 *
 * With --meta, freed blocks are not reused until the side file no longer
 * points at them (the next save): else another file's data could land in
 * a block that the saved metadata still gives to the file that freed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <fuse_lowlevel.h>

#include "extents.h"
#include "fuse_iomap_server.h"

/* Blocks a write into a hole allocates at least (up to the next extent). */
#define BFS_PREALLOC	64
/* Devices one server stripes over, at most. */
#define BFS_MAX_DEVS	16

struct bfs_file {
	struct ext_list ext;
	struct ext_list cow;	/* --out-of-place: staged blocks, not yet in ext */
};

struct bfs_dev {
	const char *path;		/* as given */
	int fd;
	uint32_t cookie;		/* as registered with the library */
	struct balloc alloc;
	/* With --meta: blocks freed since the last save, by device block (lblk = pblk). */
	struct ext_list freed;
};

struct blockfs {
	struct fi_memns ns;		/* first: the session's userdata */
	unsigned int bbits;		/* log2 of the block size */
	struct bfs_dev dev[BFS_MAX_DEVS];
	unsigned int ndev;
	uint64_t chunk;			/* --stripe: blocks a chunk; 0: one device */
	bool out_of_place;
	struct fi_server *srv;
	bool bpf;			/* --bpf: the extent_map tier */
	const char *meta;		/* --meta, or NULL */
};

/* The BPF tier must not answer from @n's extents while they change. */
static void bfs_bpf_forget(struct blockfs *bfs, struct fi_memns_node *n)
{
	if (bfs->bpf)
		fi_server_bpf_forget(bfs->srv, n->st.st_ino);
}

static struct fi_extent bfs_fi_extent(struct blockfs *bfs, const struct ext *e)
{
	return (struct fi_extent){
		.lblk = e->lblk, .len = e->len, .pblk = e->pblk, .dev = bfs->dev[e->dev].cookie,
		.type = e->unwritten ? FUSE_IOMAP_TYPE_UNWRITTEN : FUSE_IOMAP_TYPE_MAPPED,
	};
}

/*
 * @n's blocks [lblk, lblk + len) are now @e, or a hole (@e NULL): the BPF
 * tier's store takes the change in place (every change of a file's
 * extents in place is reported so: bfs_iomap_ops.reports_changes).
 */
static void bfs_bpf_update(struct blockfs *bfs, struct fi_memns_node *n, uint64_t lblk,
			   uint64_t len, const struct ext *e)
{
	struct fi_extent x;

	if (!bfs->bpf)
		return;
	if (e)
		x = bfs_fi_extent(bfs, e);
	fi_server_bpf_update(bfs->srv, n->st.st_ino, lblk, len, e ? &x : NULL, e ? 1 : 0);
}

static struct blockfs *bfs_of(struct fi_memns *ns)
{
	return (struct blockfs *)ns;
}

static struct bfs_file *bfs_file(struct fi_memns_node *n)
{
	if (!n->data)
		n->data = calloc(1, sizeof(struct bfs_file));
	return n->data;
}

/*
 * Blocks that change hands: the BPF tier must not remember them written
 * (see fi_server_bpf_blocks_reset()).
 */
static void bfs_blocks_reset(struct blockfs *bfs, uint32_t dev, uint64_t pblk, uint64_t len)
{
	if (bfs->bpf)
		fi_server_bpf_blocks_reset(bfs->srv, bfs->dev[dev].cookie, pblk, len);
}

static void bfs_free_piece(void *arg, struct ext piece)
{
	struct blockfs *bfs = arg;
	struct bfs_dev *d = &bfs->dev[piece.dev];

	bfs_blocks_reset(bfs, piece.dev, piece.pblk, piece.len);
	/* Out of memory, the blocks stay in use until a restart: that is safe. */
	if (bfs->meta) {
		ext_insert(&d->freed, (struct ext){ piece.pblk, piece.pblk, piece.len, 0, 0 });
		return;
	}
	balloc_mark(&d->alloc, piece.pblk, piece.len, 0);
}

/* The side file no longer points at the freed blocks: they may be reused. */
static void bfs_release_freed(struct blockfs *bfs)
{
	for (unsigned int k = 0; k < bfs->ndev; k++) {
		struct bfs_dev *d = &bfs->dev[k];

		for (size_t i = 0; i < d->freed.nr; i++)
			balloc_mark(&d->alloc, d->freed.v[i].pblk, d->freed.v[i].len, 0);
		d->freed.nr = 0;
	}
}

/* The device that holds file block @lblk's chunk (famfs-style striping). */
static uint32_t bfs_stripe_dev(struct blockfs *bfs, uint64_t lblk)
{
	return bfs->chunk ? lblk / bfs->chunk % bfs->ndev : 0;
}

static int bfs_resize(struct fi_memns *ns, struct fi_memns_node *n, off_t size)
{
	struct blockfs *bfs = bfs_of(ns);
	struct bfs_file *f = bfs_file(n);
	uint64_t keep = ((uint64_t)size + (1U << bfs->bbits) - 1) >> bfs->bbits;

	if (!f)
		return -ENOMEM;
	/* The store lets go of the blocks before they are free. */
	bfs_bpf_update(bfs, n, keep, UINT64_MAX - keep, NULL);
	/* Preallocated and staged blocks past the new size go too. */
	if (ext_remove(&f->ext, keep, UINT64_MAX - keep, bfs_free_piece, bfs) ||
	    ext_remove(&f->cow, keep, UINT64_MAX - keep, bfs_free_piece, bfs)) {
		/* Some of them may still be the file's. */
		bfs_bpf_forget(bfs, n);
		return -ENOMEM;
	}
	return 0;
}

static void bfs_free_data(struct fi_memns *ns, struct fi_memns_node *n)
{
	struct blockfs *bfs = bfs_of(ns);
	struct bfs_file *f = n->data;

	if (!f)
		return;
	bfs_bpf_forget(bfs, n);
	for (size_t i = 0; i < f->ext.nr; i++)
		bfs_free_piece(bfs, f->ext.v[i]);
	for (size_t i = 0; i < f->cow.nr; i++)
		bfs_free_piece(bfs, f->cow.v[i]);
	ext_free(&f->ext);
	ext_free(&f->cow);
	free(f);
}

static void bfs_statfs(struct fi_memns *ns, struct statvfs *sv)
{
	struct blockfs *bfs = bfs_of(ns);

	sv->f_blocks = sv->f_bfree = 0;
	for (unsigned int k = 0; k < bfs->ndev; k++) {
		sv->f_blocks += bfs->dev[k].alloc.nblocks;
		sv->f_bfree += bfs->dev[k].alloc.nfree;
	}
	sv->f_bavail = sv->f_bfree;
}

static const struct fi_memns_backend bfs_backend = {
	.resize = bfs_resize,
	.free_data = bfs_free_data,
	.statfs = bfs_statfs,
};

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

static int bfs_commit_locked(struct blockfs *bfs);

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
static int bfs_extents(void *ctx, uint64_t nodeid, struct fi_extent **vp, uint32_t *np,
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

static int bfs_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
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

static int bfs_end(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in)
{
	struct blockfs *bfs = ctx;
	int err;

	fi_memns_lock(&bfs->ns);
	err = bfs_end_locked(bfs, nodeid, in);
	fi_memns_unlock(&bfs->ns);
	return err;
}

static int bfs_save(struct blockfs *bfs, const char *path);

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

static int bfs_ioend(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
		     struct fuse_iomap_ioend_out *out)
{
	struct blockfs *bfs = ctx;
	int err;

	fi_memns_lock(&bfs->ns);
	err = bfs_ioend_locked(bfs, nodeid, in, out);
	fi_memns_unlock(&bfs->ns);
	return err;
}

/* --- fsync, syncfs ------------------------------------------------------------------- */

/*
 * With --meta, what was fsync'd survives a server that is killed: the
 * data on the device first, then the metadata that points at it (the
 * library applied the queued ioends before this request came).  The
 * whole side file is written: it is small for the files our tests use.
 */
static int bfs_commit_locked(struct blockfs *bfs)
{
	int err;

	for (unsigned int k = 0; k < bfs->ndev; k++) {
		if (fdatasync(bfs->dev[k].fd)) {
			err = errno;
			fprintf(stderr, "fuse-iomap-blockfs: can't flush %s: %s\n",
				bfs->dev[k].path, strerror(err));
			return -err;
		}
	}
	err = bfs->meta ? bfs_save(bfs, bfs->meta) : 0;
	if (err) {
		fprintf(stderr, "fuse-iomap-blockfs: can't save %s: %s\n", bfs->meta, strerror(-err));
		return -EIO;
	}
	bfs_release_freed(bfs);
	return 0;
}

/*
 * Under the lock, so that every conversion and remap the file saves had
 * its data complete before the flush.
 */
static int bfs_sync(struct blockfs *bfs)
{
	int err;

	fi_memns_lock(&bfs->ns);
	err = bfs_commit_locked(bfs);
	fi_memns_unlock(&bfs->ns);
	return err;
}

static void bfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	fuse_reply_err(req, -bfs_sync(fi_req_ctx(req)));
}

static int bfs_syncfs(void *ctx)
{
	return bfs_sync(ctx);
}

static const struct fi_iomap_ops bfs_iomap_ops = {
	.begin = bfs_begin,
	.end = bfs_end,
	.ioend = bfs_ioend,
	.extents = bfs_extents,
	.reports_changes = true,
	.syncfs = bfs_syncfs,
};

/* --- the side file ----------------------------------------------------------------- */

/*
 * Format, one record a line:  B <block size> / N <ino> <mode> <uid> <gid>
 * <size> <mtime s> <mtime ns> / L <ino> <hex target> / D <dir> <ino> <hex
 * name> / E <ino> <lblk> <pblk> <len> <unwritten> <device>, unwritten 1
 * for an unwritten extent, else 0, device the index of its DEVICE
 * argument (files without them, from before unwritten extents or
 * striping, still load: all written, device 0).  Inode numbers are the
 * saved ones; loading renumbers.
 */
static void bfs_put_hex(FILE *fp, const char *s)
{
	for (; *s; s++)
		fprintf(fp, "%02x", (unsigned char)*s);
}

static int bfs_save(struct blockfs *bfs, const char *path)
{
	struct fi_memns *ns = &bfs->ns;
	char tmp[4096];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (!fp)
		return -errno;
	fprintf(fp, "B %u\n", 1U << bfs->bbits);
	/* Every node first: names and extents refer to them. */
	for (size_t i = 1; i < ns->nr_nodes; i++) {
		struct fi_memns_node *n = ns->nodes[i];

		if (n && (n->st.st_nlink || i == FUSE_ROOT_ID))
			fprintf(fp, "N %zu %o %u %u %lld %lld %ld\n", i, n->st.st_mode,
				n->st.st_uid, n->st.st_gid, (long long)n->st.st_size,
				(long long)n->st.st_mtim.tv_sec, n->st.st_mtim.tv_nsec);
	}
	for (size_t i = 1; i < ns->nr_nodes; i++) {
		struct fi_memns_node *n = ns->nodes[i];
		struct bfs_file *f;

		if (!n || (!n->st.st_nlink && i != FUSE_ROOT_ID))
			continue;
		if (n->target) {
			fprintf(fp, "L %zu ", i);
			bfs_put_hex(fp, n->target);
			fputc('\n', fp);
		}
		for (struct fi_memns_dirent *d = n->entries; d; d = d->next) {
			fprintf(fp, "D %zu %lu ", i, (unsigned long)d->ino);
			bfs_put_hex(fp, d->name);
			fputc('\n', fp);
		}
		f = S_ISREG(n->st.st_mode) ? n->data : NULL;
		for (size_t k = 0; f && k < f->ext.nr; k++)
			fprintf(fp, "E %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u\n", i,
				f->ext.v[k].lblk, f->ext.v[k].pblk, f->ext.v[k].len,
				f->ext.v[k].unwritten, f->ext.v[k].dev);
	}
	if (fflush(fp) || fsync(fileno(fp)) || fclose(fp))
		return -EIO;
	return rename(tmp, path) ? -errno : 0;
}

static int bfs_get_hex(const char *hex, char *out, size_t max)
{
	size_t n = strlen(hex) / 2;

	if (n >= max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&out[i]) != 1)
			return -1;
	out[n] = 0;
	return 0;
}

static int bfs_load(struct blockfs *bfs, FILE *fp)
{
	struct fi_memns *ns = &bfs->ns;
	size_t cap = 1024, *map = calloc(cap, sizeof(*map));
	char line[8192], text[4096];
	int err = -EINVAL;

	if (!map)
		return -ENOMEM;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long a, b, c, d, e, g;
		unsigned int mode, uid, gid, unw = 0, dev = 0;
		struct fi_memns_node *n;
		long ns_;

		if (line[0] == 'B' && sscanf(line, "B %llu", &a) == 1) {
			if (a != 1U << bfs->bbits)
				goto out;
		} else if (sscanf(line, "N %llu %o %u %u %llu %llu %ld", &a, &mode, &uid, &gid,
				  &b, &c, &ns_) == 7) {
			while (a >= cap) {
				size_t *m = realloc(map, 2 * cap * sizeof(*map));

				if (!m)
					goto out;
				memset(m + cap, 0, cap * sizeof(*m));
				map = m;
				cap *= 2;
			}
			n = a == FUSE_ROOT_ID ? fi_memns_node(ns, FUSE_ROOT_ID) : fi_memns_new_node(ns, mode, NULL);
			if (!n)
				goto out;
			map[a] = n->st.st_ino;
			n->st.st_mode = mode;
			n->st.st_uid = uid;
			n->st.st_gid = gid;
			n->st.st_size = b;
			n->st.st_mtim.tv_sec = c;
			n->st.st_mtim.tv_nsec = ns_;
			n->st.st_nlink = S_ISDIR(mode) ? 2 : 0;
		} else if (sscanf(line, "L %llu %4095s", &a, text) == 2) {
			char target[2048];

			if (a >= cap || !map[a] || bfs_get_hex(text, target, sizeof(target)))
				goto out;
			n = fi_memns_node(ns, map[a]);
			n->target = strdup(target);
		} else if (sscanf(line, "D %llu %llu %4095s", &a, &b, text) == 3) {
			char name[FI_MEMNS_MAX_NAME + 1];
			struct fi_memns_node *dir, *child;

			if (a >= cap || b >= cap || !map[a] || !map[b] ||
			    bfs_get_hex(text, name, sizeof(name)))
				goto out;
			dir = fi_memns_node(ns, map[a]);
			child = fi_memns_node(ns, map[b]);
			if (fi_memns_link_name(dir, name, child))
				goto out;
			if (S_ISDIR(child->st.st_mode))
				dir->st.st_nlink++;
			else
				child->st.st_nlink++;
		} else if (sscanf(line, "E %llu %llu %llu %llu %u %u", &a, &d, &e, &g, &unw, &dev) >= 4) {
			struct bfs_file *f;

			if (a >= cap || !map[a] || dev >= bfs->ndev || !g || unw > 1 ||
			    e + g > bfs->dev[dev].alloc.nblocks)
				goto out;
			f = bfs_file(fi_memns_node(ns, map[a]));
			if (!f || ext_insert(&f->ext, (struct ext){ d, e, g, unw, dev }))
				goto out;
			balloc_mark(&bfs->dev[dev].alloc, e, g, 1);
		} else {
			goto out;
		}
	}
	err = 0;
out:
	free(map);
	return err;
}

/* --- main ------------------------------------------------------------------------ */

static void bfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Truncation must come as SETATTR, after the kernel dropped the page
	 * cache past the new size; and cached pages stay valid across opens. */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_AUTO_INVAL_DATA);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-blockfs [OPTIONS] DEVICE MOUNTPOINT\n"
"       fuse-iomap-blockfs --stripe N:CHUNK [OPTIONS] DEVICE... MOUNTPOINT\n"
"\n"
"Serve a file system whose file data lives on DEVICE (a block device, or an\n"
"image file, which gets a loop device of its own), at\n"
"MOUNTPOINT, through the iomap data path of fuse_iomap.ko: the kernel asks\n"
"this server only where file ranges live on DEVICE and moves the data\n"
"itself.  Metadata (names, attributes, extents) lives in memory.  Runs in\n"
"the foreground until MOUNTPOINT is unmounted (or SIGINT/SIGTERM/SIGHUP).\n"
"Needs root (CAP_SYS_ADMIN and CAP_SYS_RAWIO).  DEVICE is held open\n"
"exclusively while served, so the kernel refuses to mount it; a DEVICE\n"
"that is mounted or held open exclusively is refused.\n"
"\n"
"Blocks are overwritten in place.  A write into a hole allocates at least\n"
"64 blocks (fewer if the next extent is nearer), also past the end of the\n"
"file, as unwritten extents: they read as zeros until data written to them\n"
"reaches DEVICE (the kernel's FUSE_IOMAP_IOEND), and so does a larger\n"
"size.  Truncating frees the blocks past the new size.\n"
"\n"
"With --stripe, file data is striped over N DEVICEs, famfs-style: the\n"
"file's chunk c (CHUNK bytes from c * CHUNK) lives on the (c %% N)th\n"
"DEVICE.  A write into a hole allocates the rest of its chunk, unwritten\n"
"as above; each chunk is one extent (or more, where its device had no\n"
"contiguous run).  The side file names each extent's device by its place\n"
"on the command line: serve the DEVICEs in the same order again.\n"
"\n"
"Options:\n"
"  -s, --block-size N   file system block size, 512..4096 (default 4096)\n"
"  -m, --meta FILE      load the metadata from FILE if it exists, save it\n"
"                       there on fsync, fsyncdir, syncfs and exit, after\n"
"                       flushing DEVICE (otherwise the file system starts\n"
"                       empty and is forgotten): a server that is killed\n"
"                       keeps what was fsync'd.  Freed blocks are reused\n"
"                       only after the next save (one is made when space\n"
"                       runs out).  Refused at start if FILE.tmp can't be\n"
"                       created next to it\n"
"  -S, --stripe N:CHUNK stripe over N DEVICEs (2 to 16) in chunks of CHUNK\n"
"                       bytes (a multiple of the block size; a K or M\n"
"                       suffix multiplies by 1024 or 1048576); not with\n"
"                       --out-of-place\n"
"  -o, --out-of-place   write every write to newly allocated blocks, which\n"
"                       replace the old ones once the data is on DEVICE\n"
"                       (FUSE_IOMAP_IOEND): until then the file reads its\n"
"                       old blocks; holes get just the blocks written,\n"
"                       nothing unwritten\n"
"  -b, --bpf            answer mappings inside the kernel too: load the\n"
"                       extent_map BPF program, attach it to this mount and\n"
"                       keep each file's extents in its store; in place it\n"
"                       also answers writes into unwritten extents and takes\n"
"                       their ioends, queued for this server\n"
"  -q, --ioend-queue BYTES\n"
"                       with --bpf: the size of that queue (default 262144;\n"
"                       rounded up to a power of two of at least a page, 64\n"
"                       bytes an ioend); when it is full the kernel sends\n"
"                       ioends to this server instead\n"
"  -l, --log FILE       append one line per FUSE_IOMAP_BEGIN, END and IOEND\n"
"                       to FILE, one per queued ioend applied (QIOEND) and\n"
"                       one per FSYNC\n"
"  -t, --threads N      answer requests from N threads (default 1); the log\n"
"                       lines then say which thread and how many requests\n"
"                       were in progress\n"
"  -d, --debug          print every request (libfuse debug output)\n"
"  -h, --help           print this help and exit\n"
"  -V, --version        print the version and exit\n");
}

struct bfs_opts {
	unsigned int bs;
	const char *meta, *log, *mnt;
	const char *dev[BFS_MAX_DEVS];
	unsigned int ndev;		/* --stripe's N, else 1 */
	uint64_t chunk;			/* --stripe's CHUNK in bytes, else 0 */
	unsigned int threads;
	uint32_t ioend_queue;		/* bytes, 0 = the library's default */
	bool oop, debug, bpf;
};

/* --stripe N:CHUNK */
static int bfs_parse_stripe(const char *arg, struct bfs_opts *o)
{
	unsigned long n;
	uint64_t chunk;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end != ':' || n < 2 || n > BFS_MAX_DEVS)
		goto bad;
	chunk = strtoull(end + 1, &end, 10);
	if (errno || end == strchr(arg, ':') + 1)
		goto bad;
	if (*end == 'K' || *end == 'k')
		chunk <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		chunk <<= 20, end++;
	if (*end || !chunk || chunk > 1ULL << 30)
		goto bad;
	o->ndev = n;
	o->chunk = chunk;
	return 0;
bad:
	fprintf(stderr, "fuse-iomap-blockfs: bad --stripe '%s': want N:CHUNK, N from 2 to %u devices, CHUNK from one block to 1G bytes\n",
		arg, BFS_MAX_DEVS);
	return -1;
}

static int bfs_parse(int argc, char *argv[], struct bfs_opts *o)
{
	static const struct option longopts[] = {
		{ "block-size", required_argument, NULL, 's' },
		{ "stripe", required_argument, NULL, 'S' },
		{ "meta", required_argument, NULL, 'm' },
		{ "out-of-place", no_argument, NULL, 'o' },
		{ "bpf", no_argument, NULL, 'b' },
		{ "log", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "ioend-queue", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long ul;
	char *end;
	int c;

	*o = (struct bfs_opts){ .bs = 4096, .ndev = 1 };
	while ((c = getopt_long(argc, argv, "s:S:m:obl:t:q:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			errno = 0;
			o->bs = strtoul(optarg, &end, 0);
			if (errno || *end || o->bs < 512 || o->bs > 4096 || (o->bs & (o->bs - 1))) {
				fprintf(stderr, "fuse-iomap-blockfs: bad block size '%s': want a power of 2 from 512 to 4096\n", optarg);
				return 2;
			}
			break;
		case 'S':
			if (bfs_parse_stripe(optarg, o))
				return 2;
			break;
		case 'm':
			o->meta = optarg;
			break;
		case 'o':
			o->oop = true;
			break;
		case 'b':
			o->bpf = true;
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 't':
			errno = 0;
			o->threads = strtoul(optarg, &end, 0);
			if (errno || *end || o->threads < 1 || o->threads > 64) {
				fprintf(stderr, "fuse-iomap-blockfs: bad thread count '%s': want 1 to 64\n", optarg);
				return 2;
			}
			break;
		case 'q':
			errno = 0;
			ul = strtoul(optarg, &end, 0);
			if (errno || *end || !*optarg || ul < 1 || ul > FI_IOEND_QUEUE_MAX) {
				fprintf(stderr, "fuse-iomap-blockfs: bad ioend queue size '%s': want 1 to %u bytes\n",
					optarg, FI_IOEND_QUEUE_MAX);
				return 2;
			}
			o->ioend_queue = ul;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fuse-iomap-blockfs %s\n", FI_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != (int)o->ndev + 1) {
		if (o->chunk)
			fprintf(stderr, "fuse-iomap-blockfs: --stripe %u: expected %u DEVICEs and MOUNTPOINT\n",
				o->ndev, o->ndev);
		else
			fprintf(stderr, "fuse-iomap-blockfs: expected DEVICE and MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	if (o->ioend_queue && !o->bpf) {
		fprintf(stderr, "fuse-iomap-blockfs: --ioend-queue needs --bpf\n");
		return 2;
	}
	if (o->chunk && o->oop) {
		fprintf(stderr, "fuse-iomap-blockfs: --stripe does not go with --out-of-place\n");
		return 2;
	}
	if (o->chunk % o->bs) {
		fprintf(stderr, "fuse-iomap-blockfs: stripe chunk %" PRIu64 " is not a multiple of the block size %u\n",
			o->chunk, o->bs);
		return 2;
	}
	for (unsigned int k = 0; k < o->ndev; k++)
		o->dev[k] = argv[optind + k];
	o->mnt = argv[optind + o->ndev];
	return -1;
}

/*
 * Open @path (a device or an image: fi_open_device) as the next device and
 * size its allocator from it.
 */
static int bfs_open_dev(struct blockfs *bfs, const char *path)
{
	struct bfs_dev *d = &bfs->dev[bfs->ndev];
	uint64_t bytes;
	int fd, err;

	fd = fi_open_device("fuse-iomap-blockfs", path, true);
	if (fd < 0)
		return fd;
	if (ioctl(fd, BLKGETSIZE64, &bytes)) {
		err = errno;
		fprintf(stderr, "fuse-iomap-blockfs: can't get the size of %s: %s\n", path,
			strerror(err));
		close(fd);
		return -err;
	}
	err = balloc_init(&d->alloc, bytes >> bfs->bbits);
	if (err) {
		fprintf(stderr, "fuse-iomap-blockfs: can't size the allocator for %s: %s\n", path,
			strerror(-err));
		close(fd);
		return err;
	}
	d->fd = fd;
	d->path = path;
	bfs->ndev++;
	return 0;
}

static void bfs_close_devs(struct blockfs *bfs)
{
	for (unsigned int k = 0; k < bfs->ndev; k++) {
		close(bfs->dev[k].fd);
		ext_free(&bfs->dev[k].freed);
		balloc_destroy(&bfs->dev[k].alloc);
	}
}

/* Register every device with the library, which gives each its cookie. */
static int bfs_add_devs(struct blockfs *bfs)
{
	uint64_t size;

	for (unsigned int k = 0; k < bfs->ndev; k++)
		if (fi_server_add_device(bfs->srv, bfs->dev[k].fd, &bfs->dev[k].cookie, &size))
			return -1;
	return 0;
}

/*
 * Load @path if it exists, and make sure it can be saved: written data is
 * only reachable through the metadata, so a server that could not save it
 * at exit must not accept any.
 */
static int bfs_meta_start(struct blockfs *bfs, const char *path)
{
	char tmp[4096];
	struct stat st;
	FILE *fp;
	int fd, err;

	fp = fopen(path, "r");
	if (!fp && errno != ENOENT) {
		fprintf(stderr, "fuse-iomap-blockfs: can't load %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fp && (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode))) {
		fprintf(stderr, "fuse-iomap-blockfs: can't load %s: not a regular file\n", path);
		fclose(fp);
		return -1;
	}
	if (fp) {
		err = bfs_load(bfs, fp);
		fclose(fp);
		if (err) {
			fprintf(stderr, "fuse-iomap-blockfs: can't load %s: malformed\n", path);
			return -1;
		}
	}
	/* bfs_save() writes this file and renames it over @path. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "fuse-iomap-blockfs: can't save metadata to %s (%s: %s); "
			"refusing to serve what could not be kept\n", path, tmp, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_lowlevel_ops ops = { .init = bfs_init };
	struct blockfs bfs = { 0 };
	struct fi_server_opts so = {
		.name = "fuse-iomap-blockfs", .fsname = "fuse-iomap-blockfs", .subtype = "blockfs",
	};
	char extra[64];
	struct bfs_opts o;
	bool served = false;
	int ret, err;

	ret = bfs_parse(argc, argv, &o);
	if (ret >= 0)
		return ret;
	bfs.bbits = __builtin_ctz(o.bs);
	bfs.out_of_place = o.oop;
	bfs.bpf = o.bpf;
	bfs.meta = o.meta;
	bfs.chunk = o.chunk / o.bs;
	if (fi_check_mountpoint("fuse-iomap-blockfs", o.mnt, true))
		return 1;
	if (fi_memns_init(&bfs.ns, &bfs_backend, o.bs)) {
		fprintf(stderr, "fuse-iomap-blockfs: out of memory\n");
		return 1;
	}
	ret = 1;
	for (unsigned int k = 0; k < o.ndev; k++)
		if (bfs_open_dev(&bfs, o.dev[k]))
			goto out_dev;
	if (o.meta && bfs_meta_start(&bfs, o.meta))
		goto out_dev;
	if (o.log) {
		so.log = fopen(o.log, "a");
		if (!so.log) {
			fprintf(stderr, "fuse-iomap-blockfs: can't open %s: %s\n", o.log, strerror(errno));
			goto out_dev;
		}
	}

	fi_memns_fill_ops(&ops);
	ops.fsync = bfs_fsync;
	ops.fsyncdir = bfs_fsync;
	snprintf(extra, sizeof(extra), "iomap,iomap_blksize=%u", o.bs);
	so.mountpoint = o.mnt;
	so.mount_opts = extra;
	so.debug = o.debug;
	so.threads = o.threads;
	bfs.srv = fi_server_new(&so, &ops, &bfs_iomap_ops, &bfs);
	if (!bfs.srv)
		goto out_log;
	if (!fi_server_mount(bfs.srv) && !bfs_add_devs(&bfs) &&
	    (!bfs.bpf || (!fi_server_bpf_set_ioend_queue(bfs.srv, o.ioend_queue) &&
			  !fi_server_bpf_start(bfs.srv, 1 << 20)))) {
		served = true;
		ret = fi_server_serve(bfs.srv) ? 1 : 0;
	}
	fi_server_destroy(bfs.srv);
	/* Saved once the last writeback is done: the file system is unmounted. */
	if (served && o.meta) {
		err = 0;
		for (unsigned int k = 0; k < bfs.ndev && !err; k++)
			err = fdatasync(bfs.dev[k].fd) ? -errno : 0;
		err = err ? err : bfs_save(&bfs, o.meta);
		if (err) {
			fprintf(stderr, "fuse-iomap-blockfs: can't save %s: %s\n", o.meta, strerror(-err));
			ret = 1;
		}
	}
out_log:
	if (so.log)
		fclose(so.log);
out_dev:
	/* Files give their blocks back to the allocators: they go last. */
	fi_memns_destroy(&bfs.ns);
	bfs_close_devs(&bfs);
	return ret;
}
