// SPDX-License-Identifier: GPL-2.0
/*
 * Regular files of an iomap mount: read and write (O_DIRECT through
 * iomap_dio_rw, buffered through the page cache), mmap, SEEK_DATA and
 * SEEK_HOLE, FIEMAP, truncate, and the address space operations.  Every
 * one of them asks fuse_iomap_map_ops where the data lives and moves it
 * itself.  open, release, flush, fsync, locks and attributes stay fuse's.
 *
 * The kernel owns i_size, mtime and ctime, as in fuse's writeback-cache
 * mode: a GETATTR reply changes none of them (a SETATTR that truncates
 * does).  The server learns a new size from FUSE_IOMAP_IOEND (APPEND) or
 * FUSE_IOMAP_END, whichever its write mappings asked for; write and
 * page_mkwrite set the times and dirty the inode, and
 * fuse_iomap_write_inode() sends them to the server (SETATTR) at inode
 * writeback, fsync, close and unmount.  So an overwrite needs no upcall.
 */
#include "fuse_i.h"
#include "compat.h"

#include <linux/falloc.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/uio.h>

void fuse_iomap_init_file_inode(struct inode *inode)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;

	if (!ic)
		return;
	inode->i_data.a_ops = &fuse_iomap_aops;
	inode->i_blkbits = ic->blkbits;
	inode->i_flags &= ~S_NOCMTIME;
	mutex_lock(&ic->dev_lock);
	ic->file_inodes++;
	if (!ic->multi_dev)
		mapping_set_large_folios(inode->i_mapping);
	mutex_unlock(&ic->dev_lock);
}

/*
 * IOCB_NOWAIT is honoured as the kernel's iomap file systems honour it
 * (io_uring then submits inline instead of handing each I/O to a
 * worker): a direct read or write that would need an upcall says EAGAIN,
 * and page cache writes refuse it outright, as ext4's do.
 */
void fuse_iomap_open(struct file *file)
{
	file->f_mode |= FMODE_NOWAIT;
}

ssize_t fuse_iomap_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	bool simple;
	ssize_t ret;

	if (!(iocb->ki_flags & IOCB_DIRECT))
		return generic_file_read_iter(iocb, to);
	if (!iov_iter_count(to))
		return 0;

	/* Shared against truncate, which holds it exclusive. */
	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (!inode_trylock_shared(inode))
			return -EAGAIN;
	} else {
		inode_lock_shared(inode);
	}
	ret = fuse_iomap_simple_read(iocb, to, &simple);
	if (!simple)
		ret = iomap_dio_rw(iocb, to, &fuse_iomap_map_ops, NULL, 0, NULL, 0);
	inode_unlock_shared(inode);
	return ret;
}

/*
 * Extending the file to @newsize exposes the rest of the block that held
 * EOF.  That tail was never written by the file, and on the device it can
 * hold anything: zero it (through the page cache, so it also reaches the
 * device at writeback).  Blocks wholly past EOF are the server's to keep
 * as holes or unwritten.
 */
static int fuse_iomap_zero_eof(struct inode *inode, loff_t newsize)
{
	loff_t isize = i_size_read(inode);
	loff_t end = min_t(loff_t, newsize, round_up(isize, i_blocksize(inode)));

	if (end <= isize)
		return 0;
	return compat_zero_range(inode, isize, end - isize, &fuse_iomap_map_ops);
}

/*
 * The buffered part of an O_DIRECT write did not reach the device: drop
 * what it left in the page cache (write(2) will not count it, and a read
 * must not see it) and any growth of i_size past what write(2) returns.
 */
static void fuse_iomap_fallback_failed(struct inode *inode, loff_t oldsize, loff_t pos,
				       loff_t end)
{
	filemap_invalidate_lock(inode->i_mapping);
	truncate_inode_pages_range(inode->i_mapping, pos, end);
	if (i_size_read(inode) > max(oldsize, pos)) {
		i_size_write(inode, max(oldsize, pos));
		truncate_pagecache(inode, max(oldsize, pos));
	}
	filemap_invalidate_unlock(inode->i_mapping);
}

/*
 * fs/iomap stops an O_DIRECT write short when a mapping asks for it (the
 * server answering ENOTBLK, say for a partial block it cannot write in
 * place): write the rest through the page cache and flush it, as ext4
 * does.  *@buffered says whether that happened: the caller must then sync
 * an O_SYNC write itself, since fs/iomap synced the direct part only.
 */
static ssize_t fuse_iomap_dio_write(struct kiocb *iocb, struct iov_iter *from, bool extending,
				    loff_t oldsize, bool *buffered)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t done, ret;
	loff_t pos;

	/* Extending: wait, so that i_size moves only once the data is there. */
	done = iomap_dio_rw(iocb, from, &fuse_iomap_map_ops, &fuse_iomap_dio_write_ops,
			    extending ? IOMAP_DIO_FORCE_WAIT : 0, NULL, 0);
	if (done == -ENOTBLK)
		done = 0;
	if (done < 0 || !iov_iter_count(from))
		return done;
	/* The page cache part could wait on the server. */
	if (iocb->ki_flags & IOCB_NOWAIT)
		return done ?: -EAGAIN;

	*buffered = true;
	pos = iocb->ki_pos;
	ret = compat_buffered_write(iocb, from, &fuse_iomap_map_ops);
	if (ret <= 0)
		return done ?: ret;
	/* On a writeback error it puts ki_pos back to @pos and counts @done only. */
	done = direct_write_fallback(iocb, from, done, ret);
	if (iocb->ki_pos == pos)
		fuse_iomap_fallback_failed(inode, oldsize, pos, pos + ret - 1);
	return done;
}

/*
 * Under IOCB_NOWAIT only a direct write inside i_size goes on, and only
 * while no privileges are left to strip: the rest can wait on the server.
 */
static int fuse_iomap_write_nowait(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);

	if (!(iocb->ki_flags & IOCB_DIRECT))
		return -EOPNOTSUPP;
	if (!IS_NOSEC(inode) || iocb->ki_pos + iov_iter_count(from) > i_size_read(inode))
		return -EAGAIN;
	return 0;
}

/*
 * An O_DIRECT overwrite of one aligned block inside i_size, with no
 * privileges left to strip, runs under i_rwsem shared, as on ext4 and
 * XFS, so that parallel writers of one file do not queue behind each
 * other.  One block: its one mapping either lets it through (a written
 * block, fuse_iomap_begin) or turns it back before any I/O went out.
 */
static bool fuse_iomap_write_shared(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	unsigned int bsize = i_blocksize(inode);
	loff_t pos = iocb->ki_pos;

	return (iocb->ki_flags & IOCB_DIRECT) && !(iocb->ki_flags & IOCB_APPEND) &&
	       IS_NOSEC(inode) && iov_iter_count(from) == bsize && !(pos & (bsize - 1)) &&
	       pos + bsize <= i_size_read(inode);
}

/* -ENOTBLK: not an overwrite after all; the caller takes i_rwsem exclusive. */
static ssize_t fuse_iomap_write_overwrite(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t ret;

	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (!inode_trylock_shared(inode))
			return -EAGAIN;
	} else {
		inode_lock_shared(inode);
	}
	/* i_size or the mode may have changed before the lock was ours. */
	ret = -ENOTBLK;
	if (!fuse_iomap_write_shared(iocb, from))
		goto out_unlock;
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out_unlock;
	ret = kiocb_modified(iocb);
	if (ret)
		goto out_unlock;
	ret = iomap_dio_rw(iocb, from, &fuse_iomap_map_ops, &fuse_iomap_dio_write_ops,
			   IOMAP_DIO_OVERWRITE_ONLY, NULL, 0);
	/* 0: the page cache could not be dropped; that fallback is exclusive. */
	if (!ret || (ret == -EAGAIN && !(iocb->ki_flags & IOCB_NOWAIT)))
		ret = -ENOTBLK;
	else if (ret > 0)
		fuse_write_update_attr(inode, iocb->ki_pos, ret);
out_unlock:
	inode_unlock_shared(inode);
	return ret;
}

ssize_t fuse_iomap_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct fuse_inode *fi = get_fuse_inode(inode);
	bool extending, buffered = false;
	loff_t oldsize;
	ssize_t ret;

	if (fuse_iomap_write_shared(iocb, from)) {
		ret = fuse_iomap_write_overwrite(iocb, from);
		if (ret != -ENOTBLK)
			return ret;
	}
	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (!inode_trylock(inode))
			return -EAGAIN;
	} else {
		inode_lock(inode);
	}
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out_unlock;
	if (iocb->ki_flags & IOCB_NOWAIT) {
		ret = fuse_iomap_write_nowait(iocb, from);
		if (ret)
			goto out_unlock;
	}
	ret = kiocb_modified(iocb);
	if (ret)
		goto out_unlock;

	/* A GETATTR reply from before the write must not shrink i_size under us. */
	oldsize = i_size_read(inode);
	extending = iocb->ki_pos + iov_iter_count(from) > oldsize;
	if (extending)
		set_bit(FUSE_I_SIZE_UNSTABLE, &fi->state);
	ret = fuse_iomap_zero_eof(inode, iocb->ki_pos);
	if (ret)
		goto out_unstable;

	if (iocb->ki_flags & IOCB_DIRECT) {
		ret = fuse_iomap_dio_write(iocb, from, extending, oldsize, &buffered);
	} else {
		buffered = true;
		ret = compat_buffered_write(iocb, from, &fuse_iomap_map_ops);
	}
	if (ret > 0)
		fuse_write_update_attr(inode, iocb->ki_pos, ret);

out_unstable:
	if (extending)
		clear_bit(FUSE_I_SIZE_UNSTABLE, &fi->state);
out_unlock:
	inode_unlock(inode);
	/*
	 * fs/iomap synced an O_SYNC direct write when it completed (fsync
	 * takes no i_rwsem on an iomap file: see fuse_iomap_fsync); page
	 * cache writes are synced here, with the lock dropped.
	 */
	if (ret > 0 && buffered)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

/*
 * fuse_fsync() holds i_rwsem to keep fuse's own writeback requests from
 * racing the FSYNC.  An iomap file's writeback is plain block I/O that
 * filemap_write_and_wait waits for, and fs/iomap syncs an O_SYNC direct
 * write from its completion while the writer holds i_rwsem: like the
 * kernel's iomap file systems, sync without it.
 */
int fuse_iomap_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct inode *inode = file_inode(file);
	struct fuse_conn *fc = get_fuse_conn(inode);
	int err;

	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	/*
	 * The inode carries only the times for the server (a size reaches it
	 * with each ioend): fdatasync leaves them to writeback, as
	 * __generic_file_fsync does, and spares a SETATTR upcall.
	 */
	if (!datasync || compat_inode_dirty_datasync(inode))
		err = sync_inode_metadata(inode, 1);
	if (err || fc->no_fsync)
		return err;
	err = fuse_fsync_common(file, start, end, datasync, FUSE_FSYNC);
	if (err == -ENOSYS) {
		fc->no_fsync = 1;
		return 0;
	}
	return err ? fuse_iomap_server_wb_error(file, err) : 0;
}

/*
 * The server could not make a file's data durable: an ioend that the BPF
 * tier queued, after writeback had already ended with success, failed to
 * apply, say.  The server says so once, in its answer to an FSYNC or a
 * FLUSH; record it in the mapping as a failed bio would be, so that every
 * open file sees it once (errseq), and this file has now seen it.  A
 * signal is no writeback error.
 */
int fuse_iomap_server_wb_error(struct file *file, int err)
{
	if (err == -EINTR || err == -ERESTARTSYS)
		return err;
	mapping_set_error(file->f_mapping, err);
	return file_check_and_advance_wb_err(file) ?: err;
}

/*
 * The kernel's times go to the server (see the top of this file).  A
 * server without SETATTR keeps its own: it is said once, and close,
 * fsync and writeback do not fail for it.
 */
int fuse_iomap_write_inode(struct inode *inode)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	int err;

	if (READ_ONCE(ic->no_setattr))
		return 0;
	/*
	 * A file with no name left: the server frees it at the last forget,
	 * and its times go with it.  fuse's unlink would otherwise send a
	 * SETATTR for the new ctime of every file it removes; one that gets
	 * a name again (linkat) is sent its times then.
	 */
	if (!inode->i_nlink)
		return 0;
	err = fuse_flush_times(inode, NULL);
	if (!err)
		atomic64_inc(&ic->times_flushed);
	if (err != -ENOSYS)
		return err;
	WRITE_ONCE(ic->no_setattr, true);
	pr_info_ratelimited("conn %u: the server does not implement SETATTR: file times stay its own\n",
			    ic->id);
	return 0;
}

/*
 * Before a truncate reaches the server (which frees blocks past the new
 * size): zero the part of the new EOF block past the new size, or the old
 * EOF block's tail on extension, and empty the page cache past the new
 * size so that no dirty page can be written back into freed blocks.  It
 * is written back first: if the server then refuses the truncate, the
 * pages past the new size are read again from the device, but the new
 * EOF block's tail stays zeroed (as when ext4's truncate fails after
 * zeroing its partial block).  Called with i_rwsem and the invalidate
 * lock held exclusive.
 */
int fuse_iomap_setsize_begin(struct inode *inode, loff_t newsize)
{
	loff_t oldsize = i_size_read(inode);
	int err;

	inode_dio_wait(inode);
	if (newsize >= oldsize)
		return fuse_iomap_zero_eof(inode, newsize);

	err = compat_truncate_page(inode, newsize, &fuse_iomap_map_ops);
	if (err)
		return err;
	err = filemap_write_and_wait_range(inode->i_mapping, newsize, LLONG_MAX);
	if (err)
		return err;
	truncate_pagecache(inode, newsize);
	return 0;
}

/*
 * Before FUSE_FALLOCATE, which may change the blocks under [offset,
 * offset + length): PUNCH_HOLE frees them, ZERO_RANGE frees them and
 * allocates new ones, preallocation converts nothing but may extend.  As
 * for a truncate, wait for direct I/O first: a late ioend of an async
 * write would convert blocks that were freed, perhaps handed out again.
 * Then write back and drop the range's page cache, so that no dirty page
 * is written into freed blocks and no stale one is read.  Called with
 * i_rwsem and the invalidate lock held exclusive until the server has
 * answered, which keeps new direct I/O, page faults and reads that fill
 * the page cache out of the range meanwhile.
 */
int fuse_iomap_fallocate_begin(struct inode *inode, int mode, loff_t offset, loff_t length)
{
	loff_t end = offset + length - 1;
	int err;

	inode_dio_wait(inode);
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		return 0;
	err = filemap_write_and_wait_range(inode->i_mapping, offset, end);
	if (err)
		return err;
	truncate_pagecache_range(inode, offset, end);
	return 0;
}

static vm_fault_t fuse_iomap_page_mkwrite(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	vm_fault_t ret;

	sb_start_pagefault(inode->i_sb);
	file_update_time(vmf->vma->vm_file);
	filemap_invalidate_lock_shared(inode->i_mapping);
	ret = compat_page_mkwrite(vmf, &fuse_iomap_map_ops);
	filemap_invalidate_unlock_shared(inode->i_mapping);
	sb_end_pagefault(inode->i_sb);
	return ret;
}

/*
 * fuse evicts an inode as soon as its last reference goes and does not
 * write it back then: flush what a shared mapping dirtied now, as fuse
 * does for its own writable mappings.  A writeback error is left for the
 * next fsync or close to report (filemap_write_and_wait would clear it).
 */
static void fuse_iomap_vma_close(struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file->f_mapping;

	filemap_fdatawrite(mapping);
	filemap_fdatawait_keep_errors(mapping);
}

static const struct vm_operations_struct fuse_iomap_vm_ops = {
	.close		= fuse_iomap_vma_close,
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= fuse_iomap_page_mkwrite,
};

int fuse_iomap_mmap(struct file *file, struct vm_area_struct *vma)
{
	file_accessed(file);
	vma->vm_ops = &fuse_iomap_vm_ops;
	return 0;
}

/* Called with i_rwsem held. */
loff_t fuse_iomap_lseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);

	if (whence == SEEK_HOLE)
		offset = iomap_seek_hole(inode, offset, &fuse_iomap_map_ops);
	else
		offset = iomap_seek_data(inode, offset, &fuse_iomap_map_ops);
	if (offset < 0)
		return offset;
	return vfs_setpos(file, offset, inode->i_sb->s_maxbytes);
}

int fuse_iomap_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
		      u64 start, u64 len)
{
	int ret;

	/* Other fuse inodes share this inode_operations table. */
	if (!fuse_iomap_inode(inode))
		return -EOPNOTSUPP;
	inode_lock_shared(inode);
	ret = iomap_fiemap(inode, fieinfo, start, len, &fuse_iomap_map_ops);
	inode_unlock_shared(inode);
	return ret;
}

static int fuse_iomap_read_folio(struct file *file, struct folio *folio)
{
	return compat_read_folio(folio, &fuse_iomap_map_ops);
}

static void fuse_iomap_readahead(struct readahead_control *rac)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(rac->mapping->host)->iomap;
	struct folio *folio;

	if (!READ_ONCE(ic->multi_dev)) {
		compat_readahead(rac, &fuse_iomap_map_ops);
		return;
	}
	/* One bio per folio: iomap_readahead would join blocks of two devices. */
	while ((folio = readahead_folio(rac)))
		compat_read_folio(folio, &fuse_iomap_map_ops);
}

/*
 * FIBMAP (and swap files through it): the device block of a written
 * block, else 0, as ext4 answers: iomap_bmap counts only MAPPED, so
 * unwritten blocks and holes are 0.  The number is only meaningful on the
 * connection's one device: with two, every answer is 0.  i_rwsem keeps a
 * truncate out meanwhile.
 */
static sector_t fuse_iomap_bmap(struct address_space *mapping, sector_t block)
{
	struct inode *inode = mapping->host;
	sector_t ret;

	if (READ_ONCE(get_fuse_conn(inode)->iomap->multi_dev))
		return 0;
	inode_lock_shared(inode);
	ret = iomap_bmap(mapping, block, &fuse_iomap_map_ops);
	inode_unlock_shared(inode);
	return ret;
}

const struct address_space_operations fuse_iomap_aops = {
	.read_folio		= fuse_iomap_read_folio,
	.readahead		= fuse_iomap_readahead,
	.writepages		= compat_writepages,	/* asks fuse_iomap_map_writeback */
	.bmap			= fuse_iomap_bmap,
	.dirty_folio		= iomap_dirty_folio,
	.release_folio		= iomap_release_folio,
	.invalidate_folio	= iomap_invalidate_folio,
	.migrate_folio		= filemap_migrate_folio,
	.is_partially_uptodate	= iomap_is_partially_uptodate,
	.error_remove_folio	= generic_error_remove_folio,
	/* O_DIRECT goes through read_iter/write_iter; this only allows the open. */
	.direct_IO		= noop_direct_IO,
};
