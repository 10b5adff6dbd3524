/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuse-iomap: file data of an iomap mount moves through fs/iomap straight
 * to the server's block devices; the server only answers where a file range
 * lives (FUSE_IOMAP_BEGIN), hears how much was written (FUSE_IOMAP_END) and
 * what reached the device (FUSE_IOMAP_IOEND), when its mappings ask.
 *
 * The first part of this header is what the fs/fuse copy calls (see
 * patches/0002-*); the rest is shared by our own files.
 */
#ifndef _FS_FUSE_IOMAP_H
#define _FS_FUSE_IOMAP_H

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/iomap.h>
#include <linux/kobject.h>
#include <linux/idr.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "fuse_iomap_bpf.h"

struct fuse_conn;
struct fuse_fs_context;
struct fiemap_extent_info;

/* --- called from fs/fuse ------------------------------------------------ */

/* inode.c */
int fuse_iomap_parse_enable(struct fs_context *fsc, struct fuse_fs_context *ctx);
int fuse_iomap_parse_blksize(struct fs_context *fsc, struct fuse_fs_context *ctx,
			     unsigned int blksize);
int fuse_iomap_parse_maxbytes(struct fs_context *fsc, struct fuse_fs_context *ctx,
			      u64 maxbytes);
int fuse_iomap_conn_init(struct fuse_conn *fc, struct fuse_fs_context *ctx,
			 struct super_block *sb);
void fuse_iomap_conn_free(struct fuse_conn *fc);
void fuse_iomap_sb_destroy(struct super_block *sb);
void fuse_iomap_show_options(struct seq_file *m, struct fuse_conn *fc);
int fuse_iomap_module_init(struct kobject *parent);
void fuse_iomap_module_exit(void);
void fuse_iomap_init_file_inode(struct inode *inode);

/* dev.c */
long fuse_iomap_dev_ioctl(struct fuse_dev *fud, unsigned int cmd, void __user *argp);

/* file.c */
void fuse_iomap_open(struct file *file);
ssize_t fuse_iomap_read_iter(struct kiocb *iocb, struct iov_iter *to);
ssize_t fuse_iomap_write_iter(struct kiocb *iocb, struct iov_iter *from);
int fuse_iomap_mmap(struct file *file, struct vm_area_struct *vma);
loff_t fuse_iomap_lseek(struct file *file, loff_t offset, int whence);
int fuse_iomap_fsync(struct file *file, loff_t start, loff_t end, int datasync);
int fuse_iomap_server_wb_error(struct file *file, int err);
int fuse_iomap_fallocate_begin(struct inode *inode, int mode, loff_t offset, loff_t length);
int fuse_iomap_write_inode(struct inode *inode);

/* dir.c */
int fuse_iomap_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
		      u64 start, u64 len);
int fuse_iomap_setsize_begin(struct inode *inode, loff_t newsize);

extern const struct address_space_operations fuse_iomap_aops;

/* Regular file of an iomap mount?  (Set once, in fuse_init_file_inode.) */
static inline bool fuse_iomap_inode(const struct inode *inode)
{
	return inode->i_mapping->a_ops == &fuse_iomap_aops;
}

/*
 * What a create, link, unlink or rename in @dir makes stale.  fuse drops
 * all of the directory's attributes, so the next permission check on it
 * asks the server (a GETATTR per create or unlink).  An iomap server owns
 * its directories as a kernel file system does: such a change moves their
 * times, size, blocks and link count, never their mode or owner.
 */
static inline u32 fuse_iomap_dir_changed_mask(struct inode *dir)
{
	if (!get_fuse_conn(dir)->iomap)
		return STATX_BASIC_STATS;
	return STATX_MTIME | STATX_CTIME | STATX_SIZE | STATX_BLOCKS | STATX_NLINK;
}

/*
 * After an unlink or a rename over a name, fuse drops the inode's link
 * count locally and invalidates its ctime, so that the next stat asks the
 * server and gets the count the server holds.  An iomap file's ctime is
 * the kernel's (fuse_get_cache_mask), so nothing would ask, and the local
 * count would stand until eviction: ext4_stress_fsck_clean once saw stat
 * say 0 links for a file that had a name.  Ask for the link count itself.
 */
static inline void fuse_iomap_entry_unlinked(struct inode *inode)
{
	if (fuse_iomap_inode(inode))
		fuse_invalidate_attr_mask(inode, STATX_NLINK);
}

/*
 * fuse forgets S_NOSEC at each attribute refresh, in case another client
 * set a suid bit or security.capability.  An iomap server's file system
 * has no other client: such changes are made through the kernel, and the
 * VFS then clears S_NOSEC itself.  Without S_NOSEC every write after a
 * refresh would take i_rwsem exclusive to look (fuse_iomap_write_iter).
 */
static inline bool fuse_iomap_keeps_nosec(struct inode *inode)
{
	return fuse_iomap_inode(inode) && !is_sxid(inode->i_mode);
}

/*
 * For the same reason a file this kernel just created has no
 * security.capability (only a setxattr sets one, and clears S_NOSEC), and
 * its first write need not ask the server with FUSE_GETXATTR.  Called
 * before the dentry makes the inode reachable, so no setxattr can race.
 */
static inline void fuse_iomap_created(struct inode *inode)
{
	if (fuse_iomap_keeps_nosec(inode))
		inode_has_no_xattr(inode);
}

/* --- shared by our own files --------------------------------------------- */

/*
 * What our iomap_ops keep in iomap->private: the device cookie, for
 * FUSE_IOMAP_END to hand back, and whether the mapping wants
 * FUSE_IOMAP_IOEND.  Not an iomap.flags bit: 7.3's fs/iomap uses every bit
 * but IOMAP_F_PRIVATE (ours: "wants FUSE_IOMAP_END") for itself.
 */
#define FUSE_IOMAP_PRIV_IOEND	BIT_ULL(32)
static_assert(sizeof(void *) >= sizeof(u64));

static inline void *fuse_iomap_priv(u32 cookie, bool wants_ioend)
{
	return (void *)(uintptr_t)(cookie | (wants_ioend ? FUSE_IOMAP_PRIV_IOEND : 0));
}

static inline u32 fuse_iomap_priv_dev(const struct iomap *iomap)
{
	return (u32)(uintptr_t)iomap->private;
}

static inline bool fuse_iomap_wants_ioend(const struct iomap *iomap)
{
	return (uintptr_t)iomap->private & FUSE_IOMAP_PRIV_IOEND;
}

/* A registered block device.  Freed only with the connection. */
struct fuse_iomap_dev {
	struct file *file;
	struct block_device *bdev;
	u64 size;
	u32 cookie;
	bool writable;
	struct list_head all;		/* fuse_iomap_conn.all_devs */
};

struct fuse_iomap_conn {
	struct kobject kobj;		/* /sys/fs/fuseiomap/iomap/<id> */
	struct list_head node;		/* fuse_bpf_conns (bpf_ops.c), while mounted */
	struct fuse_bpf_ops __rcu *bpf_ops;	/* attached BPF tier, or NULL */
	u32 id;				/* st_dev of the mount, as stat() reports it */
	u64 gen;			/* never reused, unlike id */
	unsigned int blkbits;		/* file system block size, fixed at mount */
	u64 maxbytes;			/* iomap_maxbytes (s_maxbytes), or 0: fuse's */

	struct mutex dev_lock;		/* serializes (un)registration */
	struct idr devs;		/* cookie -> live device; RCU lookup */
	struct list_head all_devs;	/* every device ever registered */
	unsigned int nr_devs;		/* live or being registered */
	/*
	 * Two devices were live at once.  fs/iomap (6.12) adds a block to
	 * the bio before it when the sectors follow on, whatever the device:
	 * so files get no large folios, and readahead reads folio by folio.
	 */
	bool multi_dev;
	unsigned long file_inodes;	/* regular files ever set up */

	atomic64_t begin_upcalls;
	atomic64_t end_upcalls;
	atomic64_t rejected[FUSE_IOMAP_NR_RULES];
	atomic64_t bpf_hits;		/* answered by BPF, accepted */
	atomic64_t bpf_fallbacks;	/* BPF had no answer: upcall */
	atomic64_t bpf_rejected;	/* BPF answered, validation refused it */
	atomic64_t bpf_errors;		/* BPF failed the I/O */

	atomic64_t ioend_upcalls;
	atomic64_t bpf_ioend_handled;	/* BPF took the ioend: no upcall */
	atomic64_t bpf_ioend_fallbacks;	/* BPF passed it on: upcall */
	atomic64_t bpf_ioend_errors;	/* BPF failed the I/O */
	atomic64_t bpf_ioend_committed;	/* the server says it applied this many */
	atomic64_t times_flushed;	/* SETATTRs of the kernel's times */

	/* Writeback ioends waiting for ioend_work (iomap_ioend.c). */
	spinlock_t ioend_lock;
	struct list_head ioend_list;
	struct work_struct ioend_work;

	bool no_setattr;		/* the server keeps its own file times */
	bool simple_read;		/* iomap_simple_read.c may take reads */
	atomic64_t simple_reads;	/* reads it took */
};

/* iomap_conn.c */
int fuse_iomap_request(struct fuse_mount *fm, struct fuse_args *args);

/* iomap_sysfs.c */
const char *fuse_iomap_rule_name(enum fuse_iomap_rule rule);
int fuse_iomap_sysfs_init(struct kobject *parent);
void fuse_iomap_sysfs_exit(void);
int fuse_iomap_sysfs_conn_add(struct fuse_iomap_conn *ic);

/* iomap_dev.c */
struct fuse_iomap_dev *fuse_iomap_dev_lookup(struct fuse_iomap_conn *ic, u32 cookie);
u32 fuse_iomap_dev_cookie(struct fuse_iomap_conn *ic, struct block_device *bdev);
void fuse_iomap_devs_free(struct fuse_iomap_conn *ic);

/* bpf_ops.c */
int fuse_bpf_ops_register(void);
void fuse_bpf_conn_add(struct fuse_iomap_conn *ic);
void fuse_bpf_conn_del(struct fuse_iomap_conn *ic);
int fuse_bpf_ret_errno(struct fuse_iomap_conn *ic, int ret);

/* iomap.c */
extern const struct iomap_ops fuse_iomap_map_ops;
int fuse_iomap_map_writeback(struct inode *inode, loff_t offset, unsigned int len,
			     struct iomap *iomap);
int fuse_iomap_map_bpf(struct inode *inode, loff_t pos, loff_t count, unsigned int flags,
		       struct iomap *iomap);

/* iomap_ioend.c */
extern const struct iomap_dio_ops fuse_iomap_dio_write_ops;
bool fuse_iomap_ioend_wanted(const struct iomap_ioend *ioend);
void fuse_iomap_writeback_end_bio(struct bio *bio);
void fuse_iomap_ioend_conn_init(struct fuse_iomap_conn *ic);
void fuse_iomap_ioend_conn_free(struct fuse_iomap_conn *ic);
int fuse_iomap_ioend_init(void);
void fuse_iomap_ioend_exit(void);

/* iomap_simple_read.c */
int fuse_iomap_simple_read_init(void);
void fuse_iomap_simple_read_exit(void);
ssize_t fuse_iomap_simple_read(struct kiocb *iocb, struct iov_iter *to, bool *taken);

#endif /* _FS_FUSE_IOMAP_H */
