// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-blockfs: a file's data as the namespace (memns) sees it
 * (resizing, freeing, statfs), what the BPF tier is told of a change, and
 * fsync and syncfs: the devices flushed, then the side file saved.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockfs.h"

/* The BPF tier must not answer from @n's extents while they change. */
void bfs_bpf_forget(struct blockfs *bfs, struct fi_memns_node *n)
{
	if (bfs->bpf)
		fi_server_bpf_forget(bfs->srv, n->st.st_ino);
}

struct fi_extent bfs_fi_extent(struct blockfs *bfs, const struct ext *e)
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
void bfs_bpf_update(struct blockfs *bfs, struct fi_memns_node *n, uint64_t lblk,
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

struct bfs_file *bfs_file(struct fi_memns_node *n)
{
	if (!n->data)
		n->data = calloc(1, sizeof(struct bfs_file));
	return n->data;
}

/*
 * Blocks that change hands: the BPF tier must not remember them written
 * (see fi_server_bpf_blocks_reset()).
 */
void bfs_blocks_reset(struct blockfs *bfs, uint32_t dev, uint64_t pblk, uint64_t len)
{
	if (bfs->bpf)
		fi_server_bpf_blocks_reset(bfs->srv, bfs->dev[dev].cookie, pblk, len);
}

void bfs_free_piece(void *arg, struct ext piece)
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
uint32_t bfs_stripe_dev(struct blockfs *bfs, uint64_t lblk)
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

const struct fi_memns_backend bfs_backend = {
	.resize = bfs_resize,
	.free_data = bfs_free_data,
	.statfs = bfs_statfs,
};

/* --- fsync, syncfs ------------------------------------------------------------------- */

/*
 * With --meta, what was fsync'd survives a server that is killed: the
 * data on the device first, then the metadata that points at it (the
 * library applied the queued ioends before this request came).  The
 * whole side file is written: it is small for the files our tests use.
 */
int bfs_commit_locked(struct blockfs *bfs)
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

void bfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	fuse_reply_err(req, -bfs_sync(fi_req_ctx(req)));
}

int bfs_syncfs(void *ctx)
{
	return bfs_sync(ctx);
}
