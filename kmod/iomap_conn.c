// SPDX-License-Identifier: GPL-2.0
/*
 * Per-connection iomap state: the iomap mount options, the connection's
 * lifetime, and its counters in /sys/fs/fuseiomap/iomap/<id>/.  Devices
 * are in iomap_dev.c, the BPF tier's attachment in bpf_ops.c.
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

static struct kobject *fuse_iomap_kobj;	/* /sys/fs/fuseiomap/iomap */

static atomic64_t fuse_iomap_last_gen;

#define FUSE_IOMAP_RULE_NAME_(up, name)	[FUSE_IOMAP_RULE_##up] = #name,
static const char *const fuse_iomap_rule_names[FUSE_IOMAP_NR_RULES] = {
	FUSE_IOMAP_RULE_LIST(FUSE_IOMAP_RULE_NAME_)
};
#undef FUSE_IOMAP_RULE_NAME_

const char *fuse_iomap_rule_name(enum fuse_iomap_rule rule)
{
	if (rule >= FUSE_IOMAP_NR_RULES)
		return "?";
	return fuse_iomap_rule_names[rule];
}

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

/* --- sysfs ----------------------------------------------------------------- */

#define to_ic(k) container_of(k, struct fuse_iomap_conn, kobj)

static ssize_t begin_upcalls_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&to_ic(kobj)->begin_upcalls));
}

static ssize_t end_upcalls_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&to_ic(kobj)->end_upcalls));
}

static ssize_t rejected_total_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	struct fuse_iomap_conn *ic = to_ic(kobj);
	s64 sum = 0;
	int i;

	for (i = 0; i < FUSE_IOMAP_NR_RULES; i++)
		sum += atomic64_read(&ic->rejected[i]);
	return sysfs_emit(buf, "%lld\n", sum);
}

#define FUSE_IOMAP_COUNTER(name)							\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)	\
{											\
	return sysfs_emit(buf, "%lld\n", atomic64_read(&to_ic(kobj)->name));		\
}
FUSE_IOMAP_COUNTER(bpf_hits)
FUSE_IOMAP_COUNTER(bpf_fallbacks)
FUSE_IOMAP_COUNTER(bpf_rejected)
FUSE_IOMAP_COUNTER(bpf_errors)
FUSE_IOMAP_COUNTER(simple_reads)
FUSE_IOMAP_COUNTER(ioend_upcalls)
FUSE_IOMAP_COUNTER(bpf_ioend_handled)
FUSE_IOMAP_COUNTER(bpf_ioend_fallbacks)
FUSE_IOMAP_COUNTER(bpf_ioend_errors)
FUSE_IOMAP_COUNTER(times_flushed)

static ssize_t bpf_ioend_committed_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&to_ic(kobj)->bpf_ioend_committed));
}

/*
 * The server's count of the ioends BPF queued that it has applied (the
 * library writes it after each batch): pending is what it has not.
 */
static ssize_t bpf_ioend_committed_store(struct kobject *kobj, struct kobj_attribute *a,
					 const char *buf, size_t count)
{
	s64 v;
	int err = kstrtos64(buf, 0, &v);

	if (err)
		return err;
	if (v < 0)
		return -EINVAL;
	atomic64_set(&to_ic(kobj)->bpf_ioend_committed, v);
	return count;
}

static ssize_t bpf_ioend_pending_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	struct fuse_iomap_conn *ic = to_ic(kobj);

	return sysfs_emit(buf, "%lld\n", max_t(s64, 0, atomic64_read(&ic->bpf_ioend_handled) -
						       atomic64_read(&ic->bpf_ioend_committed)));
}

static ssize_t simple_read_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_ic(kobj)->simple_read));
}

/* Off compares the simple read path with iomap_dio_rw, on the same mount. */
static ssize_t simple_read_store(struct kobject *kobj, struct kobj_attribute *a,
				 const char *buf, size_t count)
{
	bool on;
	int err = kstrtobool(buf, &on);

	if (err)
		return err;
	WRITE_ONCE(to_ic(kobj)->simple_read, on);
	return count;
}

static ssize_t bpf_ops_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	struct fuse_bpf_ops *ops;
	ssize_t len;

	rcu_read_lock();
	ops = rcu_dereference(to_ic(kobj)->bpf_ops);
	len = sysfs_emit(buf, "%s\n", ops ? ops->name : "");
	rcu_read_unlock();
	return len;
}

static ssize_t generation_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_ic(kobj)->gen);
}

static ssize_t blksize_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%u\n", 1U << to_ic(kobj)->blkbits);
}

static ssize_t devices_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	struct fuse_iomap_conn *ic = to_ic(kobj);
	struct fuse_iomap_dev *dev;
	int id, len = 0;

	mutex_lock(&ic->dev_lock);
	idr_for_each_entry(&ic->devs, dev, id)
		len += sysfs_emit_at(buf, len, "%u %pg %llu %s\n", dev->cookie, dev->bdev,
				     dev->size, dev->writable ? "rw" : "ro");
	mutex_unlock(&ic->dev_lock);
	return len;
}

static struct kobj_attribute fuse_iomap_attr_begin = __ATTR(iomap_begin_upcalls, 0444,
							    begin_upcalls_show, NULL);
static struct kobj_attribute fuse_iomap_attr_end = __ATTR(iomap_end_upcalls, 0444,
							  end_upcalls_show, NULL);
static struct kobj_attribute fuse_iomap_attr_rejected = __ATTR(mappings_rejected, 0444,
							       rejected_total_show, NULL);
static struct kobj_attribute fuse_iomap_attr_blksize = __ATTR_RO(blksize);
static struct kobj_attribute fuse_iomap_attr_generation = __ATTR_RO(generation);
static struct kobj_attribute fuse_iomap_attr_devices = __ATTR_RO(devices);
static struct kobj_attribute fuse_iomap_attr_bpf_ops = __ATTR_RO(bpf_ops);
static struct kobj_attribute fuse_iomap_attr_bpf_hits = __ATTR_RO(bpf_hits);
static struct kobj_attribute fuse_iomap_attr_bpf_fallbacks = __ATTR_RO(bpf_fallbacks);
static struct kobj_attribute fuse_iomap_attr_bpf_rejected = __ATTR_RO(bpf_rejected);
static struct kobj_attribute fuse_iomap_attr_bpf_errors = __ATTR_RO(bpf_errors);
static struct kobj_attribute fuse_iomap_attr_simple_reads = __ATTR_RO(simple_reads);
static struct kobj_attribute fuse_iomap_attr_simple_read = __ATTR_RW_MODE(simple_read, 0644);
static struct kobj_attribute fuse_iomap_attr_ioend_upcalls = __ATTR_RO(ioend_upcalls);
static struct kobj_attribute fuse_iomap_attr_bpf_ioend_handled = __ATTR_RO(bpf_ioend_handled);
static struct kobj_attribute fuse_iomap_attr_bpf_ioend_fallbacks = __ATTR_RO(bpf_ioend_fallbacks);
static struct kobj_attribute fuse_iomap_attr_bpf_ioend_errors = __ATTR_RO(bpf_ioend_errors);
static struct kobj_attribute fuse_iomap_attr_bpf_ioend_committed =
	__ATTR_RW_MODE(bpf_ioend_committed, 0644);
static struct kobj_attribute fuse_iomap_attr_bpf_ioend_pending = __ATTR_RO(bpf_ioend_pending);
static struct kobj_attribute fuse_iomap_attr_times_flushed = __ATTR_RO(times_flushed);

static struct attribute *fuse_iomap_conn_attrs[] = {
	&fuse_iomap_attr_begin.attr,
	&fuse_iomap_attr_end.attr,
	&fuse_iomap_attr_rejected.attr,
	&fuse_iomap_attr_blksize.attr,
	&fuse_iomap_attr_generation.attr,
	&fuse_iomap_attr_devices.attr,
	&fuse_iomap_attr_bpf_ops.attr,
	&fuse_iomap_attr_bpf_hits.attr,
	&fuse_iomap_attr_bpf_fallbacks.attr,
	&fuse_iomap_attr_bpf_rejected.attr,
	&fuse_iomap_attr_bpf_errors.attr,
	&fuse_iomap_attr_simple_reads.attr,
	&fuse_iomap_attr_simple_read.attr,
	&fuse_iomap_attr_ioend_upcalls.attr,
	&fuse_iomap_attr_bpf_ioend_handled.attr,
	&fuse_iomap_attr_bpf_ioend_fallbacks.attr,
	&fuse_iomap_attr_bpf_ioend_errors.attr,
	&fuse_iomap_attr_bpf_ioend_committed.attr,
	&fuse_iomap_attr_bpf_ioend_pending.attr,
	&fuse_iomap_attr_times_flushed.attr,
	NULL,
};

static const struct attribute_group fuse_iomap_conn_group = {
	.attrs = fuse_iomap_conn_attrs,
};

/* rejected/<rule>: one file per rule, the rule's index kept in the attribute. */
struct fuse_iomap_rule_attr {
	struct kobj_attribute kattr;
	enum fuse_iomap_rule rule;
};

static ssize_t rule_show(struct kobject *kobj, struct kobj_attribute *a, char *buf)
{
	struct fuse_iomap_rule_attr *ra = container_of(a, struct fuse_iomap_rule_attr, kattr);

	return sysfs_emit(buf, "%lld\n", atomic64_read(&to_ic(kobj)->rejected[ra->rule]));
}

/* Filled from fuse_iomap_rule_names at init: one table of names. */
static struct fuse_iomap_rule_attr fuse_iomap_rule_attrs[FUSE_IOMAP_NR_RULES];

static struct attribute *fuse_iomap_rule_attr_ptrs[FUSE_IOMAP_NR_RULES + 1];

static const struct attribute_group fuse_iomap_rule_group = {
	.name = "rejected",
	.attrs = fuse_iomap_rule_attr_ptrs,
};

static const struct attribute_group *fuse_iomap_conn_groups[] = {
	&fuse_iomap_conn_group,
	&fuse_iomap_rule_group,
	NULL,
};

static void fuse_iomap_conn_release(struct kobject *kobj)
{
	kfree(to_ic(kobj));
}

static const struct kobj_type fuse_iomap_conn_ktype = {
	.release	= fuse_iomap_conn_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= fuse_iomap_conn_groups,
};

static int fuse_iomap_sysfs_init(struct kobject *parent)
{
	int i;

	BUILD_BUG_ON(ARRAY_SIZE(fuse_iomap_rule_names) != FUSE_IOMAP_NR_RULES);
	for (i = 0; i < FUSE_IOMAP_NR_RULES; i++) {
		struct fuse_iomap_rule_attr *ra = &fuse_iomap_rule_attrs[i];

		sysfs_attr_init(&ra->kattr.attr);
		ra->kattr.attr.name = fuse_iomap_rule_names[i];
		ra->kattr.attr.mode = 0444;
		ra->kattr.show = rule_show;
		ra->rule = i;
		fuse_iomap_rule_attr_ptrs[i] = &ra->kattr.attr;
	}

	fuse_iomap_kobj = kobject_create_and_add("iomap", parent);
	return fuse_iomap_kobj ? 0 : -ENOMEM;
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
	kobject_put(fuse_iomap_kobj);
out_ioend:
	fuse_iomap_ioend_exit();
out_simple_read:
	fuse_iomap_simple_read_exit();
	return err;
}

void fuse_iomap_module_exit(void)
{
	kobject_put(fuse_iomap_kobj);
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

	err = kobject_init_and_add(&ic->kobj, &fuse_iomap_conn_ktype, fuse_iomap_kobj,
				   "%u", ic->id);
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
