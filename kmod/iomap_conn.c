// SPDX-License-Identifier: GPL-2.0
/*
 * Per-connection iomap state: the iomap mount options and the
 * connection's lifetime.  Its counters in /sys/fs/fuseiomap/iomap/<id>/
 * are in iomap_sysfs.c, devices in iomap_dev.c, the BPF tier's
 * attachment in bpf_ops.c.
 *
 * Only a mounter with CAP_SYS_RAWIO may enable iomap: a server of an
 * iomap mount steers kernel I/O to raw device blocks.
 */
#include "fuse_i.h"
#include "compat.h"

#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs_parser.h>
#include <linux/kdev_t.h>
#include <linux/slab.h>

#define FUSE_IOMAP_DEFAULT_BLKSIZE	4096

/* The description is in patches/0001 (inode.c has fuse's MODULE_* lines). */
MODULE_VERSION(FUSE_IOMAP_VERSION);

static atomic64_t fuse_iomap_last_gen;

/*
 * Sends one of our requests.  A request in flight when the server dies
 * ends with ECONNABORTED, one sent after with ENOTCONN: the same event,
 * so the caller sees ENOTCONN for both, whatever the timing.
 */
int fuse_iomap_request(struct fuse_mount *fm, struct fuse_args *args)
{
	int err = fuse_simple_request(fm, args);

	return err == -ECONNABORTED ? -ENOTCONN : err;
}

/* --- mount options ------------------------------------------------------- */

int fuse_iomap_parse_enable(struct fs_context *fsc, struct fuse_fs_context *ctx)
{
	if (!capable(CAP_SYS_RAWIO)) {
		pr_warn_ratelimited("iomap mount by %s[%d] refused: needs CAP_SYS_RAWIO\n",
				    current->comm, task_pid_nr(current));
		return -EPERM;
	}
	ctx->iomap = true;
	if (!ctx->iomap_blksize)
		ctx->iomap_blksize = FUSE_IOMAP_DEFAULT_BLKSIZE;
	return 0;
}

int fuse_iomap_parse_blksize(struct fs_context *fsc, struct fuse_fs_context *ctx,
			     unsigned int blksize)
{
	if (blksize < SECTOR_SIZE || blksize > PAGE_SIZE || !is_power_of_2(blksize))
		return invalfc(fsc, "iomap_blksize must be a power of 2 from 512 to %lu",
			       PAGE_SIZE);
	ctx->iomap_blksize = blksize;
	return 0;
}

/*
 * The largest file the server's format can hold (ext4: 2^32 - 1 blocks).
 * It becomes s_maxbytes, so that the VFS refuses with EFBIG what the
 * server could not map: writes (generic_write_checks), truncates
 * (inode_newsize_ok) and fallocate (vfs_fallocate) past it.  Without it
 * fuse's MAX_LFS_FILESIZE stands.
 */
int fuse_iomap_parse_maxbytes(struct fs_context *fsc, struct fuse_fs_context *ctx,
			      u64 maxbytes)
{
	if (!maxbytes || maxbytes > MAX_LFS_FILESIZE)
		return invalfc(fsc, "iomap_maxbytes must be from 1 to %lld", MAX_LFS_FILESIZE);
	ctx->iomap_maxbytes = maxbytes;
	return 0;
}

void fuse_iomap_show_options(struct seq_file *m, struct fuse_conn *fc)
{
	if (!fc->iomap)
		return;
	seq_printf(m, ",iomap,iomap_blksize=%u", 1U << fc->iomap->blkbits);
	if (fc->iomap->maxbytes)
		seq_printf(m, ",iomap_maxbytes=%llu", fc->iomap->maxbytes);
}

int fuse_iomap_module_init(struct kobject *parent)
{
	int err = fuse_iomap_simple_read_init();

	if (err)
		return err;
	err = fuse_iomap_ioend_init();
	if (err)
		goto out_simple_read;
	err = fuse_iomap_sysfs_init(parent);
	if (err)
		goto out_ioend;
	/* Last: BPF ops may attach as soon as the type exists. */
	err = fuse_bpf_ops_register();
	if (err)
		goto out_kobj;
	return 0;

out_kobj:
	fuse_iomap_sysfs_exit();
out_ioend:
	fuse_iomap_ioend_exit();
out_simple_read:
	fuse_iomap_simple_read_exit();
	return err;
}

void fuse_iomap_module_exit(void)
{
	fuse_iomap_sysfs_exit();
	fuse_iomap_ioend_exit();
	fuse_iomap_simple_read_exit();
}

/* --- connection lifetime -------------------------------------------------- */

int fuse_iomap_conn_init(struct fuse_conn *fc, struct fuse_fs_context *ctx,
			 struct super_block *sb)
{
	struct fuse_iomap_conn *ic;
	int err;

	if (!ctx->iomap)
		return 0;

	ic = kzalloc(sizeof(*ic), GFP_KERNEL);
	if (!ic)
		return -ENOMEM;
	/* The same number stat() gives as st_dev for the mountpoint. */
	ic->id = new_encode_dev(fc->dev);
	ic->gen = atomic64_inc_return(&fuse_iomap_last_gen);
	ic->blkbits = ilog2(ctx->iomap_blksize);
	ic->simple_read = true;
	mutex_init(&ic->dev_lock);
	idr_init(&ic->devs);
	INIT_LIST_HEAD(&ic->all_devs);
	fuse_iomap_ioend_conn_init(ic);

	err = fuse_iomap_sysfs_conn_add(ic);
	if (err) {
		kobject_put(&ic->kobj);
		return err;
	}
	fc->iomap = ic;
	/* After fuse_sb_defaults(): the server's limit replaces fuse's. */
	ic->maxbytes = ctx->iomap_maxbytes;
	if (ic->maxbytes)
		sb->s_maxbytes = ic->maxbytes;
	fuse_bpf_conn_add(ic);
	/*
	 * syncfs(2) asks the server (FUSE_SYNCFS), as fsync does for a
	 * file: what it keeps of ioends (the BPF tier's queue included)
	 * must be committed too.  fuse sends it only for virtiofs; a server
	 * without it answers ENOSYS once.
	 */
	fc->sync_fs = 1;
	compat_bdi_count_writeback(sb->s_bdi);
	/*
	 * fuse caps a mount at 1% of the dirty limit, strictly, so that an
	 * untrusted server cannot pin the page cache with WRITE requests it
	 * never answers.  Our writeback is block I/O that the kernel issues
	 * and completes, for a server that needed CAP_SYS_RAWIO: throttle it
	 * as the kernel's ext4 is throttled, by the global limits.  (With the
	 * cap, buffered writers slept in balance_dirty_pages where ext4's do
	 * not: make bench-explain.)
	 */
	sb->s_bdi->capabilities &= ~BDI_CAP_STRICTLIMIT;
	bdi_set_max_ratio(sb->s_bdi, 100);
	/*
	 * Every write asks file_remove_privs() whether suid bits or
	 * security.capability must go, and without S_NOSEC that is a
	 * FUSE_GETXATTR upcall per write.  SB_NOSEC lets an inode found
	 * clean once skip it, as on the kernel's ext4.  It stays right:
	 * fuse clears S_NOSEC whenever it takes attributes from the server,
	 * and the VFS on setxattr and on a mode change.  (fuse sets SB_NOSEC
	 * only with FUSE_HANDLE_KILLPRIV_V2, where the server kills privileges
	 * in WRITE; our writes never reach the server, so the kernel kills
	 * them, through SETATTR and REMOVEXATTR.)
	 */
	sb->s_flags |= SB_NOSEC;
	return 0;
}

/*
 * Called with s_umount held, before the connection is torn down: dirty
 * data can only reach the device while the server still answers.  The
 * sysfs directory goes now, so that a new mount reusing this st_dev can
 * create its own while a slow server still holds this connection.
 */
void fuse_iomap_sb_destroy(struct super_block *sb)
{
	struct fuse_conn *fc = get_fuse_conn_super(sb);

	if (!fc->iomap)
		return;
	if (compat_conn_connected(fc))
		sync_filesystem(sb);
	/* No I/O from here on: the BPF tier lets go of the connection. */
	fuse_bpf_conn_del(fc->iomap);
	kobject_del(&fc->iomap->kobj);
}

void fuse_iomap_conn_free(struct fuse_conn *fc)
{
	struct fuse_iomap_conn *ic = fc->iomap;

	if (!ic)
		return;
	fc->iomap = NULL;
	fuse_bpf_conn_del(ic);
	fuse_iomap_ioend_conn_free(ic);
	fuse_iomap_devs_free(ic);
	kobject_put(&ic->kobj);
}
