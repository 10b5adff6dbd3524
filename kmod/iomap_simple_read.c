// SPDX-License-Identifier: GPL-2.0
/*
 * The simple read path: an O_DIRECT read of at most one block, starting
 * at a block boundary and inside i_size, that the BPF tier maps.  Such a
 * read needs one bio at most, so it skips fs/iomap's iterator and its
 * per-read allocation: the bio comes from our bio_set, with what its
 * completion needs in front of it, and a hole or unwritten block is
 * zeros.  (7.3's fs/iomap has such a one-bio read itself, and no longer
 * exports what ours needs: there the written block goes to it.)  It is a
 * database's random read, where iomap_dio_rw's state machine is most of
 * the cost.  Everything else, and every read when the
 * connection's simple_read knob is off, goes through iomap_dio_rw.
 *
 * The rest is iomap_dio_rw's behaviour for reads: the page cache over
 * the range is written back first, inode_dio_begin() holds off truncate
 * until the bio completes, IOCB_NOWAIT is honoured, user pages are
 * dirtied after the read.
 */
#include "fuse_i.h"
#include "compat.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/pagemap.h>
#include <linux/uio.h>

#include "fuse_iomap_trace.h"

struct fuse_simple_read {
	struct kiocb *iocb;
	unsigned int size;
	bool dirty;
	struct bio bio;		/* last: the bio_set's front pad is the rest */
};

static struct bio_set fuse_simple_read_bioset;

int fuse_iomap_simple_read_init(void)
{
	return bioset_init(&fuse_simple_read_bioset, BIO_POOL_SIZE,
			   offsetof(struct fuse_simple_read, bio), BIOSET_NEED_BVECS);
}

void fuse_iomap_simple_read_exit(void)
{
	bioset_exit(&fuse_simple_read_bioset);
}

static bool fuse_simple_read_fits(struct kiocb *iocb, struct iov_iter *to,
				  struct fuse_iomap_conn *ic)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	size_t count = iov_iter_count(to);

	/* A polled read needs its bio in iocb->private; fuse has no ->iopoll anyway. */
	if (!READ_ONCE(ic->simple_read) || (iocb->ki_flags & IOCB_HIPRI))
		return false;
	if (count > i_blocksize(inode) || (iocb->ki_pos & (i_blocksize(inode) - 1)))
		return false;
	return iocb->ki_pos + count <= i_size_read(inode);
}

/* Gives the pages back, dirtying them first for a read into user memory. */
static void fuse_simple_read_release(struct fuse_simple_read *sr)
{
	if (sr->dirty) {
		bio_check_pages_dirty(&sr->bio);
	} else {
		bio_release_pages(&sr->bio, false);
		bio_put(&sr->bio);
	}
}

static void fuse_simple_read_end_io(struct bio *bio)
{
	struct fuse_simple_read *sr = container_of(bio, struct fuse_simple_read, bio);
	struct kiocb *iocb = sr->iocb;
	ssize_t ret = bio->bi_status ? blk_status_to_errno(bio->bi_status) : sr->size;

	fuse_simple_read_release(sr);
	if (ret > 0)
		iocb->ki_pos += ret;
	inode_dio_end(file_inode(iocb->ki_filp));
	iocb->ki_complete(iocb, ret);
}

/*
 * One bio for the whole read: the bytes read, -EIOCBQUEUED, -errno, or
 * -ENOTBLK when it cannot be done in one (nothing happened then).
 */
static ssize_t fuse_simple_read_bio(struct kiocb *iocb, struct iov_iter *to,
				    const struct iomap *iomap)
{
	size_t count = iov_iter_count(to);
	struct fuse_simple_read *sr;
	struct bio *bio;
	ssize_t ret;

	if (((iocb->ki_pos | count) & (bdev_logical_block_size(iomap->bdev) - 1)) ||
	    !compat_bdev_iter_is_aligned(iomap->bdev, to))
		return -EINVAL;

	bio = bio_alloc_bioset(iomap->bdev, bio_iov_vecs_to_alloc(to, BIO_MAX_VECS), REQ_OP_READ,
			       GFP_KERNEL, &fuse_simple_read_bioset);
	sr = container_of(bio, struct fuse_simple_read, bio);
	sr->iocb = iocb;
	sr->size = count;
	sr->dirty = user_backed_iter(to);
	bio->bi_iter.bi_sector = iomap_sector(iomap, iocb->ki_pos);
	bio->bi_ioprio = iocb->ki_ioprio;

	ret = compat_bio_iov_iter_get_pages(bio, to);
	if (ret)
		goto out_put;
	/* Sized for the whole iter, the bio takes it all, but if not: iomap_dio_rw. */
	if (bio->bi_iter.bi_size != count) {
		ret = -ENOTBLK;
		goto out_release;
	}
	if (sr->dirty)
		bio_set_pages_dirty(bio);

	if (is_sync_kiocb(iocb)) {
		ret = submit_bio_wait(bio);
		fuse_simple_read_release(sr);
		if (ret)
			return ret;
		iocb->ki_pos += count;
		return count;
	}
	bio->bi_end_io = fuse_simple_read_end_io;
	submit_bio(bio);
	return -EIOCBQUEUED;

out_release:
	iov_iter_revert(to, bio->bi_iter.bi_size);
	bio_release_pages(bio, false);
out_put:
	bio_put(bio);
	return ret;
}

/*
 * Called with i_rwsem held shared.  *@taken says whether the read was
 * the simple path's (whatever came of it); if not, nothing happened and
 * the caller goes to iomap_dio_rw.
 */
ssize_t fuse_iomap_simple_read(struct kiocb *iocb, struct iov_iter *to, bool *taken)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	size_t count = iov_iter_count(to);
	loff_t pos = iocb->ki_pos;
	unsigned int flags = IOMAP_DIRECT;
	struct iomap iomap = { };
	ssize_t ret;

	*taken = false;
	if (!fuse_simple_read_fits(iocb, to, ic))
		return 0;
	if (iocb->ki_flags & IOCB_NOWAIT)
		flags |= IOMAP_NOWAIT;

	/* What iomap_dio_rw would do first, with the same result. */
	ret = kiocb_write_and_wait(iocb, count);
	if (ret)
		goto out;
	inode_dio_begin(inode);
	ret = fuse_iomap_map_bpf(inode, pos, count, flags, &iomap);
	if (ret == FUSE_BPF_NO_ANSWER)
		goto fall_through;
	if (ret)
		goto out_dio_end;

	/* The answer is block-aligned and covers pos: it covers the whole read. */
	switch (iomap.type) {
	case IOMAP_MAPPED:
		/* 7.3's fs/iomap has this bio itself (compat.h). */
		ret = COMPAT_DIO_READ_SIMPLE ? compat_dio_read_simple(iocb, to, &iomap, flags) :
					       fuse_simple_read_bio(iocb, to, &iomap);
		if (ret == -ENOTBLK)
			goto fall_through;
		break;
	case IOMAP_HOLE:
	case IOMAP_UNWRITTEN:
		ret = iov_iter_zero(count, to);
		iocb->ki_pos += ret;
		break;
	default:
		/* As iomap_dio_rw: a direct read cannot go through delalloc. */
		ret = -EIO;
		break;
	}
	/* No word about iocb once its bio is queued: it may be gone. */
	if (ret > 0 || ret == -EIOCBQUEUED) {
		atomic64_inc(&ic->simple_reads);
		trace_fuse_iomap_simple_read(ic->id, get_node_id(inode), pos, count, iomap.type);
	}
out_dio_end:
	if (ret != -EIOCBQUEUED)
		inode_dio_end(inode);
out:
	*taken = true;
	return ret;

fall_through:
	inode_dio_end(inode);
	return 0;
}
