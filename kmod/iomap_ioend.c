// SPDX-License-Identifier: GPL-2.0
/*
 * After the data is on the device: FUSE_IOMAP_IOEND.  A write mapping
 * that asked for it (FUSE_IOMAP_F_WANT_IOEND) or that was UNWRITTEN gets
 * one, so that the server converts unwritten extents and commits the size
 * only for data that really reached the device:
 *
 *   O_DIRECT:  iomap_dio_ops.end_io, before the write is reported done;
 *   writeback: the ioend's bio completion hands it to a work item, which
 *              merges adjacent ioends of a file and ends the folios'
 *              writeback only after the server (or BPF) took it, so that
 *              fsync's wait covers the conversion.
 *
 * The BPF tier is asked first (fuse_bpf_ops.iomap_ioend), then the server.
 * Failed I/O has nothing to convert and is not sent.
 */
#include "fuse_i.h"
#include "compat.h"

#include <linux/bio.h>
#include <linux/workqueue.h>

#include "fuse_iomap_trace.h"

static struct workqueue_struct *fuse_iomap_ioend_wq;

static int fuse_iomap_ioend_upcall(struct inode *inode, const struct fuse_iomap_ioend_in *in)
{
	struct fuse_mount *fm = get_fuse_mount(inode);
	struct fuse_iomap_conn *ic = fm->fc->iomap;
	struct fuse_iomap_ioend_out out;
	FUSE_ARGS(args);
	int err;

	args.opcode = FUSE_IOMAP_IOEND;
	args.nodeid = get_node_id(inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(*in);
	args.in_args[0].value = in;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(out);
	args.out_args[0].value = &out;
	/*
	 * Not interruptible: the data is already on the device, and a
	 * conversion lost to a signal would read back as zeros.
	 */
	args.force = true;

	atomic64_inc(&ic->ioend_upcalls);
	trace_fuse_iomap_upcall_ioend(ic->id, args.nodeid, in->pos, in->written, in->flags);
	err = fuse_iomap_request(fm, &args);
	if (err == -ENOSYS) {
		/* It handed out a mapping that needs an ioend: it must take it. */
		pr_warn_ratelimited("conn %u: server does not implement FUSE_IOMAP_IOEND\n", ic->id);
		err = -EIO;
	}
	return err;
}

/* 0 handled, FUSE_BPF_NO_ANSWER (also when no program has the hook), or -errno. */
static int fuse_iomap_ioend_bpf(struct inode *inode, const struct fuse_iomap_ioend_in *in)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	struct fuse_bpf_iomap_ioend_args args = {
		.nodeid = get_node_id(inode),
		.attr_ino = in->attr_ino,
		.pos = in->pos,
		.written = in->written,
		.new_addr = in->new_addr,
		.i_size = i_size_read(inode),
		.flags = in->flags,
		.error = in->error,
		.dev = in->dev,
		.blkbits = ic->blkbits,
		.conn_id = ic->id,
	};
	struct fuse_bpf_ops *ops;
	int ret = FUSE_BPF_NO_ANSWER;
	bool ran = false;

	rcu_read_lock();
	ops = rcu_dereference(ic->bpf_ops);
	if (ops && ops->iomap_ioend) {
		ret = ops->iomap_ioend(&args);
		ran = true;
	}
	rcu_read_unlock();
	if (!ran)
		return FUSE_BPF_NO_ANSWER;

	trace_fuse_iomap_bpf_ioend(ic->id, args.nodeid, in->pos, in->written, in->flags, ret);
	if (ret == 0) {
		atomic64_inc(&ic->bpf_ioend_handled);
		return 0;
	}
	if (ret == FUSE_BPF_NO_ANSWER) {
		atomic64_inc(&ic->bpf_ioend_fallbacks);
		return ret;
	}
	atomic64_inc(&ic->bpf_ioend_errors);
	return fuse_bpf_ret_errno(ic, ret);
}

/*
 * Tell the BPF tier, else the server, that [@pos, @pos + @written) of
 * @inode is on the device.  The file is at least pos + written long
 * (writeback clamps its ioends to i_size; O_DIRECT sets i_size after
 * this), and every ioend says so (APPEND), not only one that reaches
 * i_size: an unsynced append may have raised i_size past the size the
 * server has, and data synced below that i_size (RWF_DSYNC) must not lie
 * past the server's EOF after a crash.  The server takes the larger.
 */
static int fuse_iomap_ioend(struct inode *inode, u32 flags, loff_t pos, u64 written,
			    u64 addr, u32 dev)
{
	struct fuse_iomap_ioend_in in = {
		.flags = flags,
		.attr_ino = get_fuse_inode(inode)->orig_ino,
		.pos = pos,
		.new_addr = addr,
		.written = written,
		.dev = dev,
	};
	int err;

	if (!compat_conn_connected(get_fuse_conn(inode)))
		return -ENOTCONN;
	in.flags |= FUSE_IOMAP_IOEND_APPEND;
	err = fuse_iomap_ioend_bpf(inode, &in);
	if (err != FUSE_BPF_NO_ANSWER)
		return err;
	return fuse_iomap_ioend_upcall(inode, &in);
}

/*
 * O_DIRECT: iomap calls this in task context before the write is reported
 * done (it invalidates the page cache after it, so a racing buffered read
 * cannot cache the zeros of a not yet converted extent).  A mapping that
 * wanted an ioend carries IOMAP_F_SHARED (see fuse_iomap_begin), which is
 * what iomap tells us here as IOMAP_DIO_COW.
 */
static int fuse_iomap_dio_end_io(struct kiocb *iocb, ssize_t size, int error, unsigned int flags)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	u32 ioflags = FUSE_IOMAP_IOEND_DIRECT;

	if (error || size <= 0 || !(flags & (IOMAP_DIO_UNWRITTEN | IOMAP_DIO_COW)))
		return error;
	if (flags & IOMAP_DIO_UNWRITTEN)
		ioflags |= FUSE_IOMAP_IOEND_UNWRITTEN;
	return fuse_iomap_ioend(inode, ioflags, iocb->ki_pos, size, FUSE_IOMAP_NULL_ADDR,
				FUSE_IOMAP_DEV_NULL);
}

const struct iomap_dio_ops fuse_iomap_dio_write_ops = {
	.end_io		= fuse_iomap_dio_end_io,
};

/* --- writeback ----------------------------------------------------------- */

bool fuse_iomap_ioend_wanted(const struct iomap_ioend *ioend)
{
	return compat_ioend_unwritten(ioend) || compat_ioend_wants_ioend(ioend);
}

/* Bio completion (interrupt context): on to the work item. */
void fuse_iomap_writeback_end_bio(struct bio *bio)
{
	struct iomap_ioend *ioend = iomap_ioend_from_bio(bio);
	struct fuse_iomap_conn *ic = get_fuse_conn(ioend->io_inode)->iomap;
	unsigned long flags;
	bool first;

	spin_lock_irqsave(&ic->ioend_lock, flags);
	first = list_empty(&ic->ioend_list);
	list_add_tail(&ioend->io_list, &ic->ioend_list);
	spin_unlock_irqrestore(&ic->ioend_lock, flags);
	if (first)
		queue_work(fuse_iomap_ioend_wq, &ic->ioend_work);
}

/* One ioend, with the ones merged into it: send, then end their writeback. */
static void fuse_iomap_ioend_finish(struct iomap_ioend *ioend)
{
	struct inode *inode = ioend->io_inode;
	int err = blk_status_to_errno(ioend->io_bio.bi_status);
	u32 flags = FUSE_IOMAP_IOEND_WRITEBACK;

	if (compat_ioend_unwritten(ioend))
		flags |= FUSE_IOMAP_IOEND_UNWRITTEN;
	/* io_size is clamped to EOF: zero when writeback raced a truncate. */
	if (!err && ioend->io_size)
		err = fuse_iomap_ioend(inode, flags, ioend->io_offset, ioend->io_size,
				       (u64)ioend->io_sector << SECTOR_SHIFT,
				       fuse_iomap_dev_cookie(get_fuse_conn(inode)->iomap,
							     ioend->io_bio.bi_bdev));
	if (err)
		pr_warn_ratelimited("conn %u: nodeid %llu: writeback of %zu bytes at %lld failed: %d\n",
				    get_fuse_conn(inode)->iomap->id, get_node_id(inode),
				    ioend->io_size, ioend->io_offset, err);
	iomap_finish_ioends(ioend, err);
}

/*
 * Moves the ioends of @first's file and device from @from to @to, sorted
 * by offset.  fs/iomap's merge compares sectors but not devices: two
 * devices' ioends must never meet in one list.
 */
static void fuse_iomap_ioends_like(struct iomap_ioend *first, struct list_head *from,
				   struct list_head *to)
{
	struct block_device *bdev = first->io_bio.bi_bdev;
	struct inode *inode = first->io_inode;
	struct iomap_ioend *ioend, *next;

	list_for_each_entry_safe(ioend, next, from, io_list)
		if (ioend->io_inode == inode && ioend->io_bio.bi_bdev == bdev)
			list_move_tail(&ioend->io_list, to);
	iomap_sort_ioends(to);
}

static void fuse_iomap_ioend_work(struct work_struct *work)
{
	struct fuse_iomap_conn *ic = container_of(work, struct fuse_iomap_conn, ioend_work);
	struct iomap_ioend *ioend;
	LIST_HEAD(all);
	LIST_HEAD(one);

	spin_lock_irq(&ic->ioend_lock);
	list_splice_init(&ic->ioend_list, &all);
	spin_unlock_irq(&ic->ioend_lock);

	/* Merging only within one file and device: two files' blocks can follow on. */
	while ((ioend = list_first_entry_or_null(&all, struct iomap_ioend, io_list))) {
		fuse_iomap_ioends_like(ioend, &all, &one);
		while ((ioend = list_first_entry_or_null(&one, struct iomap_ioend, io_list))) {
			list_del_init(&ioend->io_list);
			iomap_ioend_try_merge(ioend, &one);
			fuse_iomap_ioend_finish(ioend);
			cond_resched();
		}
	}
}

void fuse_iomap_ioend_conn_init(struct fuse_iomap_conn *ic)
{
	spin_lock_init(&ic->ioend_lock);
	INIT_LIST_HEAD(&ic->ioend_list);
	INIT_WORK(&ic->ioend_work, fuse_iomap_ioend_work);
}

/* Every file is gone by now, and with it every ioend: wait for the work. */
void fuse_iomap_ioend_conn_free(struct fuse_iomap_conn *ic)
{
	flush_work(&ic->ioend_work);
}

int fuse_iomap_ioend_init(void)
{
	/* Writeback completion: reclaim may wait for it. */
	fuse_iomap_ioend_wq = alloc_workqueue("fuse_iomap_ioend", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return fuse_iomap_ioend_wq ? 0 : -ENOMEM;
}

void fuse_iomap_ioend_exit(void)
{
	destroy_workqueue(fuse_iomap_ioend_wq);
}
