/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernels fuse_iomap.ko builds for (deps.pins' targets): Debian's 6.12
 * and 7.3.  Where their fs/iomap, block layer or fs/fuse differ in what our
 * files call, the difference is here, and our files call compat_*() and
 * test COMPAT_* without a version test of their own.
 *
 * Included by our .c files after "fuse_i.h".
 */
#ifndef _FUSE_IOMAP_COMPAT_H
#define _FUSE_IOMAP_COMPAT_H

#include <linux/backing-dev.h>
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/iomap.h>
#include <linux/pagemap.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0) && LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#define COMPAT_612	1
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(7, 3, 0) && LINUX_VERSION_CODE < KERNEL_VERSION(7, 4, 0)
#define COMPAT_612	0
#include "fuse_dev_i.h"
#else
#error "fuse_iomap.ko builds for Linux 6.12 and 7.3 (deps.pins' targets) only"
#endif

#if COMPAT_612

/* --- 6.12 ------------------------------------------------------------------ */

/* The simple read path builds its own bio from the user's pages. */
#define COMPAT_DIO_READ_SIMPLE	0

static inline ssize_t compat_dio_read_simple(struct kiocb *iocb, struct iov_iter *to,
					     const struct iomap *iomap, unsigned int flags)
{
	return -ENOTBLK;
}

static inline bool compat_conn_connected(struct fuse_conn *fc)
{
	return READ_ONCE(fc->connected);
}

static inline struct fuse_conn *compat_dev_conn(struct fuse_dev *fud)
{
	return fud->fc;
}

static inline bool compat_inode_dirty_datasync(struct inode *inode)
{
	return inode->i_state & I_DIRTY_DATASYNC;
}

/*
 * fuse counts finished writeback itself, for its WRITE requests, and
 * turns the generic counting off.  Ours is plain block I/O ending in
 * folio_end_writeback(): without the generic counting this bdi never
 * earns a share of the dirty limit, and a writer faulting on a mapped
 * page livelocks in balance_dirty_pages (writeback cleans the page, the
 * store faults again).
 */
static inline void compat_bdi_count_writeback(struct backing_dev_info *bdi)
{
	bdi->capabilities |= BDI_CAP_WRITEBACK_ACCT;
}

static inline ssize_t compat_buffered_write(struct kiocb *iocb, struct iov_iter *from,
					    const struct iomap_ops *ops)
{
	return iomap_file_buffered_write(iocb, from, ops, NULL);
}

static inline int compat_zero_range(struct inode *inode, loff_t pos, loff_t len,
				    const struct iomap_ops *ops)
{
	return iomap_zero_range(inode, pos, len, NULL, ops);
}

static inline int compat_truncate_page(struct inode *inode, loff_t pos,
				       const struct iomap_ops *ops)
{
	return iomap_truncate_page(inode, pos, NULL, ops);
}

static inline vm_fault_t compat_page_mkwrite(struct vm_fault *vmf, const struct iomap_ops *ops)
{
	return iomap_page_mkwrite(vmf, ops);
}

static inline int compat_read_folio(struct folio *folio, const struct iomap_ops *ops)
{
	return iomap_read_folio(folio, ops);
}

static inline void compat_readahead(struct readahead_control *rac, const struct iomap_ops *ops)
{
	iomap_readahead(rac, ops);
}

static inline bool compat_bdev_iter_is_aligned(struct block_device *bdev, struct iov_iter *iter)
{
	return bdev_iter_is_aligned(bdev, iter);
}

static inline int compat_bio_iov_iter_get_pages(struct bio *bio, struct iov_iter *iter)
{
	return bio_iov_iter_get_pages(bio, iter);
}

/* --- writeback --- */

static inline bool compat_ioend_unwritten(const struct iomap_ioend *ioend)
{
	return ioend->io_type == IOMAP_UNWRITTEN;
}

/*
 * An ioend keeps only its mapping's iomap.flags (io_flags), not
 * iomap->private: this bit carries "wants FUSE_IOMAP_IOEND" over.  In 6.12
 * the bits past IOMAP_F_PRIVATE are the file system's to use.
 */
#define COMPAT_IOEND_WANTED	(IOMAP_F_PRIVATE << 1)

static inline bool compat_ioend_wants_ioend(const struct iomap_ioend *ioend)
{
	return ioend->io_flags & COMPAT_IOEND_WANTED;
}

/*
 * fs/iomap adds a range to the open ioend when the type and the SHARED
 * flag are the same and the sectors follow on: it compares neither
 * devices nor whether the mappings want an ioend.  But an ioend is sent
 * (or not) whole, with one device's cookie: it must hold ranges of one
 * device that all want FUSE_IOMAP_IOEND, or none.  Nothing else reads
 * SHARED in our writeback, so it is set here: the open ioend's, to let the
 * range join, or its opposite, to start a new ioend, which then takes its
 * flags from this mapping.
 */
static inline void compat_writeback_split(struct iomap_writepage_ctx *wpc)
{
	struct iomap_ioend *ioend = wpc->ioend;
	u16 shared;

	if (fuse_iomap_wants_ioend(&wpc->iomap))
		wpc->iomap.flags |= COMPAT_IOEND_WANTED;
	if (!ioend)
		return;
	shared = ioend->io_flags & IOMAP_F_SHARED;
	if (ioend->io_bio.bi_bdev != wpc->iomap.bdev ||
	    ((ioend->io_flags ^ wpc->iomap.flags) & COMPAT_IOEND_WANTED))
		shared ^= IOMAP_F_SHARED;
	wpc->iomap.flags = (wpc->iomap.flags & ~IOMAP_F_SHARED) | shared;
}

static inline int compat_writeback_map_blocks(struct iomap_writepage_ctx *wpc,
					      struct inode *inode, loff_t offset,
					      unsigned int len)
{
	int err = fuse_iomap_map_writeback(inode, offset, len, &wpc->iomap);

	if (!err)
		compat_writeback_split(wpc);
	return err;
}

/* Called just before the ioend's bio is submitted (or failed, with @status). */
static inline int compat_writeback_prepare_ioend(struct iomap_ioend *ioend, int status)
{
	if (fuse_iomap_ioend_wanted(ioend))
		ioend->io_bio.bi_end_io = fuse_iomap_writeback_end_bio;
	return status;
}

static inline int compat_writepages(struct address_space *mapping, struct writeback_control *wbc)
{
	static const struct iomap_writeback_ops ops = {
		.map_blocks	= compat_writeback_map_blocks,
		.prepare_ioend	= compat_writeback_prepare_ioend,
	};
	struct iomap_writepage_ctx wpc = { };

	return iomap_writepages(mapping, wbc, &wpc, &ops);
}

#else /* !COMPAT_612 */

/* --- 7.3 ------------------------------------------------------------------- */

/*
 * bio_iov_iter_get_pages(), bio_set_pages_dirty() and
 * bio_check_pages_dirty() are no longer exported, and fs/iomap has its
 * own one-bio read of a MAPPED block: the simple read path hands it our
 * mapping.
 */
#define COMPAT_DIO_READ_SIMPLE	1

/*
 * The caller's convention: the inode_dio_begin() it took is its own to
 * end, unless -EIOCBQUEUED.  __iomap_dio_read_simple() ends one itself,
 * at once or, queued, at completion: it gets one of its own.
 */
static inline ssize_t compat_dio_read_simple(struct kiocb *iocb, struct iov_iter *to,
					     const struct iomap *iomap, unsigned int flags)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct iomap_iter iomi = {
		.inode	= inode,
		.pos	= iocb->ki_pos,
		.len	= iov_iter_count(to),
		.flags	= flags,
		.iomap	= *iomap,
	};
	ssize_t ret;

	inode_dio_begin(inode);
	ret = __iomap_dio_read_simple(iocb, to, &iomi);
	if (ret == -EIOCBQUEUED)
		inode_dio_end(inode);
	return ret;
}

static inline bool compat_conn_connected(struct fuse_conn *fc)
{
	return READ_ONCE(fc->chan->connected);
}

static inline struct fuse_conn *compat_dev_conn(struct fuse_dev *fud)
{
	return fud->chan->conn;
}

static inline bool compat_inode_dirty_datasync(struct inode *inode)
{
	return inode_state_read_once(inode) & I_DIRTY_DATASYNC;
}

/* Writeback is counted for every bdi: fuse no longer turns it off. */
static inline void compat_bdi_count_writeback(struct backing_dev_info *bdi)
{
}

static inline ssize_t compat_buffered_write(struct kiocb *iocb, struct iov_iter *from,
					    const struct iomap_ops *ops)
{
	return iomap_file_buffered_write(iocb, from, ops, NULL, NULL);
}

static inline int compat_zero_range(struct inode *inode, loff_t pos, loff_t len,
				    const struct iomap_ops *ops)
{
	return iomap_zero_range(inode, pos, len, NULL, ops, NULL, NULL);
}

static inline int compat_truncate_page(struct inode *inode, loff_t pos,
				       const struct iomap_ops *ops)
{
	return iomap_truncate_page(inode, pos, NULL, ops, NULL, NULL);
}

static inline vm_fault_t compat_page_mkwrite(struct vm_fault *vmf, const struct iomap_ops *ops)
{
	return iomap_page_mkwrite(vmf, ops, NULL);
}

static inline int compat_read_folio(struct folio *folio, const struct iomap_ops *ops)
{
	iomap_bio_read_folio(folio, ops);
	return 0;
}

static inline void compat_readahead(struct readahead_control *rac, const struct iomap_ops *ops)
{
	iomap_bio_readahead(rac, ops);
}

/* Never reached (COMPAT_DIO_READ_SIMPLE): our own one-bio read only. */
static inline bool compat_bdev_iter_is_aligned(struct block_device *bdev, struct iov_iter *iter)
{
	return false;
}

static inline int compat_bio_iov_iter_get_pages(struct bio *bio, struct iov_iter *iter)
{
	return -EOPNOTSUPP;
}

/* --- writeback --- */

static inline bool compat_ioend_unwritten(const struct iomap_ioend *ioend)
{
	return ioend->io_flags & IOMAP_IOEND_UNWRITTEN;
}

/* io_private: a mapping's wish for FUSE_IOMAP_IOEND, set by compat_writeback_range. */
#define COMPAT_IOEND_WANTED	((void *)1)

static inline bool compat_ioend_wants_ioend(const struct iomap_ioend *ioend)
{
	return ioend->io_private == COMPAT_IOEND_WANTED;
}

/*
 * A mapping is asked for every dirty range (see fuse_iomap_map_writeback).
 * fs/iomap adds the range to the open ioend when the sectors follow on:
 * it compares neither devices nor io_private.  But an ioend is sent (or
 * not) whole, with one device's cookie: it must hold ranges of one device
 * that all want FUSE_IOMAP_IOEND, or none, so the open one is submitted
 * first when this range differs.
 */
static inline ssize_t compat_writeback_range(struct iomap_writepage_ctx *wpc,
					     struct folio *folio, u64 pos, unsigned int len,
					     u64 end_pos)
{
	struct iomap_ioend *ioend = wpc->wb_ctx;
	void *wanted;
	ssize_t ret;
	int err;

	err = fuse_iomap_map_writeback(wpc->inode, pos, len, &wpc->iomap);
	if (err)
		return err;
	wanted = fuse_iomap_wants_ioend(&wpc->iomap) ? COMPAT_IOEND_WANTED : NULL;
	if (ioend && (ioend->io_bio.bi_bdev != wpc->iomap.bdev || ioend->io_private != wanted)) {
		err = wpc->ops->writeback_submit(wpc, 0);
		wpc->wb_ctx = NULL;
		if (err)
			return err;
	}
	ret = iomap_add_to_ioend(wpc, folio, pos, end_pos, len);
	ioend = wpc->wb_ctx;
	/* A hole (never handed out for writeback) opens no ioend. */
	if (ret > 0 && ioend && wpc->iomap.type != IOMAP_HOLE)
		ioend->io_private = wanted;
	return ret;
}

static inline int compat_writeback_submit(struct iomap_writepage_ctx *wpc, int error)
{
	struct iomap_ioend *ioend = wpc->wb_ctx;

	if (fuse_iomap_ioend_wanted(ioend))
		ioend->io_bio.bi_end_io = fuse_iomap_writeback_end_bio;
	return iomap_ioend_writeback_submit(wpc, error);
}

static inline int compat_writepages(struct address_space *mapping, struct writeback_control *wbc)
{
	static const struct iomap_writeback_ops ops = {
		.writeback_range	= compat_writeback_range,
		.writeback_submit	= compat_writeback_submit,
	};
	struct iomap_writepage_ctx wpc = {
		.inode	= mapping->host,
		.wbc	= wbc,
		.ops	= &ops,
	};

	return iomap_writepages(&wpc);
}

#endif /* COMPAT_612 */

#endif /* _FUSE_IOMAP_COMPAT_H */
