// SPDX-License-Identifier: GPL-2.0
/*
 * Per-connection iomap state: the "iomap" mount option, the registered
 * block devices, and the counters in /sys/fs/fuseiomap/iomap/<id>/.
 *
 * Only a mounter with CAP_SYS_RAWIO may enable iomap, and only a caller
 * with CAP_SYS_RAWIO may register a device: a server of an iomap mount
 * steers kernel I/O to raw device blocks.  Devices are never freed before
 * the connection, so a struct iomap handed to fs/iomap (which keeps the
 * bdev pointer until the I/O completes) cannot outlive its device.
 */
#include "fuse_i.h"

#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs_parser.h>
#include <linux/kdev_t.h>
#include <linux/slab.h>

#define FUSE_IOMAP_DEFAULT_BLKSIZE	4096

static struct kobject *fuse_iomap_kobj;	/* /sys/fs/fuseiomap/iomap */

/* Mounted iomap connections, for attaching BPF ops by connection id. */
static LIST_HEAD(fuse_iomap_conns);
static DEFINE_MUTEX(fuse_iomap_conns_lock);

static const char *const fuse_iomap_rule_names[FUSE_IOMAP_NR_RULES] = {
	[FUSE_IOMAP_RULE_TYPE]		 = "type",
	[FUSE_IOMAP_RULE_FLAGS]		 = "flags",
	[FUSE_IOMAP_RULE_LENGTH]	 = "length",
	[FUSE_IOMAP_RULE_ALIGN]		 = "align",
	[FUSE_IOMAP_RULE_OVERFLOW]	 = "overflow",
	[FUSE_IOMAP_RULE_MAXBYTES]	 = "maxbytes",
	[FUSE_IOMAP_RULE_NEED_DEV]	 = "need_dev",
	[FUSE_IOMAP_RULE_UNEXPECTED_DEV] = "unexpected_dev",
	[FUSE_IOMAP_RULE_PURE_OVERWRITE] = "pure_overwrite",
	[FUSE_IOMAP_RULE_POS]		 = "pos",
	[FUSE_IOMAP_RULE_DEV_UNKNOWN]	 = "dev_unknown",
	[FUSE_IOMAP_RULE_DEV_RANGE]	 = "dev_range",
	[FUSE_IOMAP_RULE_DEV_READONLY]	 = "dev_readonly",
	[FUSE_IOMAP_RULE_WRITE_TYPE]	 = "write_type",
	[FUSE_IOMAP_RULE_INLINE]	 = "inline",
};

const char *fuse_iomap_rule_name(enum fuse_iomap_rule rule)
{
	if (rule >= FUSE_IOMAP_NR_RULES)
		return "?";
	return fuse_iomap_rule_names[rule];
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

void fuse_iomap_show_options(struct seq_file *m, struct fuse_conn *fc)
{
	if (fc->iomap)
		seq_printf(m, ",iomap,iomap_blksize=%u", 1U << fc->iomap->blkbits);
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
static struct kobj_attribute fuse_iomap_attr_devices = __ATTR_RO(devices);
static struct kobj_attribute fuse_iomap_attr_bpf_ops = __ATTR_RO(bpf_ops);
static struct kobj_attribute fuse_iomap_attr_bpf_hits = __ATTR_RO(bpf_hits);
static struct kobj_attribute fuse_iomap_attr_bpf_fallbacks = __ATTR_RO(bpf_fallbacks);
static struct kobj_attribute fuse_iomap_attr_bpf_rejected = __ATTR_RO(bpf_rejected);
static struct kobj_attribute fuse_iomap_attr_bpf_errors = __ATTR_RO(bpf_errors);

static struct attribute *fuse_iomap_conn_attrs[] = {
	&fuse_iomap_attr_begin.attr,
	&fuse_iomap_attr_end.attr,
	&fuse_iomap_attr_rejected.attr,
	&fuse_iomap_attr_blksize.attr,
	&fuse_iomap_attr_devices.attr,
	&fuse_iomap_attr_bpf_ops.attr,
	&fuse_iomap_attr_bpf_hits.attr,
	&fuse_iomap_attr_bpf_fallbacks.attr,
	&fuse_iomap_attr_bpf_rejected.attr,
	&fuse_iomap_attr_bpf_errors.attr,
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
	int err = fuse_iomap_sysfs_init(parent);

	if (err)
		return err;
	/* Last: BPF ops may attach as soon as the type exists. */
	err = fuse_bpf_ops_register();
	if (err)
		kobject_put(fuse_iomap_kobj);
	return err;
}

void fuse_iomap_module_exit(void)
{
	kobject_put(fuse_iomap_kobj);
}

/* --- the BPF tier's attachment -------------------------------------------- */

int fuse_iomap_bpf_attach(struct fuse_bpf_ops *ops)
{
	struct fuse_iomap_conn *ic;
	struct fuse_bpf_ops *cur;
	int err = -ENODEV;

	mutex_lock(&fuse_iomap_conns_lock);
	list_for_each_entry(ic, &fuse_iomap_conns, node) {
		if (ic->id != ops->conn_id)
			continue;
		cur = rcu_dereference_protected(ic->bpf_ops,
						lockdep_is_held(&fuse_iomap_conns_lock));
		if (cur) {
			pr_info_ratelimited("conn %u: fuse_bpf_ops '%s' refused: '%s' is attached\n",
					    ic->id, ops->name, cur->name);
			err = -EBUSY;
		} else {
			rcu_assign_pointer(ic->bpf_ops, ops);
			err = 0;
		}
		break;
	}
	mutex_unlock(&fuse_iomap_conns_lock);
	if (err == -ENODEV)
		pr_info_ratelimited("fuse_bpf_ops '%s' refused: no iomap connection %u\n",
				    ops->name, ops->conn_id);
	return err;
}

void fuse_iomap_bpf_detach(struct fuse_bpf_ops *ops)
{
	struct fuse_iomap_conn *ic;

	mutex_lock(&fuse_iomap_conns_lock);
	list_for_each_entry(ic, &fuse_iomap_conns, node)
		if (rcu_access_pointer(ic->bpf_ops) == ops)
			RCU_INIT_POINTER(ic->bpf_ops, NULL);
	mutex_unlock(&fuse_iomap_conns_lock);
	/* No mapping call may still run the program once we return. */
	synchronize_rcu();
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
	ic->blkbits = ilog2(ctx->iomap_blksize);
	mutex_init(&ic->dev_lock);
	idr_init(&ic->devs);
	INIT_LIST_HEAD(&ic->all_devs);

	err = kobject_init_and_add(&ic->kobj, &fuse_iomap_conn_ktype, fuse_iomap_kobj,
				   "%u", ic->id);
	if (err) {
		kobject_put(&ic->kobj);
		return err;
	}
	fc->iomap = ic;
	mutex_lock(&fuse_iomap_conns_lock);
	list_add(&ic->node, &fuse_iomap_conns);
	mutex_unlock(&fuse_iomap_conns_lock);
	/*
	 * fuse counts finished writeback itself, for its WRITE requests, and
	 * turns the generic counting off.  Ours is plain block I/O ending in
	 * folio_end_writeback(): without the generic counting this bdi never
	 * earns a share of the dirty limit, and a writer faulting on a mapped
	 * page livelocks in balance_dirty_pages (writeback cleans the page,
	 * the store faults again).
	 */
	sb->s_bdi->capabilities |= BDI_CAP_WRITEBACK_ACCT;
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
	if (fc->connected)
		sync_filesystem(sb);
	/* No I/O from here on: the BPF tier lets go of the connection. */
	mutex_lock(&fuse_iomap_conns_lock);
	list_del_init(&fc->iomap->node);
	RCU_INIT_POINTER(fc->iomap->bpf_ops, NULL);
	mutex_unlock(&fuse_iomap_conns_lock);
	kobject_del(&fc->iomap->kobj);
}

void fuse_iomap_conn_free(struct fuse_conn *fc)
{
	struct fuse_iomap_conn *ic = fc->iomap;
	struct fuse_iomap_dev *dev, *next;

	if (!ic)
		return;
	fc->iomap = NULL;
	mutex_lock(&fuse_iomap_conns_lock);
	list_del_init(&ic->node);
	mutex_unlock(&fuse_iomap_conns_lock);
	list_for_each_entry_safe(dev, next, &ic->all_devs, all) {
		fput(dev->file);
		kfree(dev);
	}
	idr_destroy(&ic->devs);
	kobject_put(&ic->kobj);
}

/* --- device registration ---------------------------------------------------- */

struct fuse_iomap_dev *fuse_iomap_dev_lookup(struct fuse_iomap_conn *ic, u32 cookie)
{
	struct fuse_iomap_dev *dev;

	rcu_read_lock();
	dev = idr_find(&ic->devs, cookie);
	rcu_read_unlock();
	return dev;
}

static int fuse_iomap_dev_register(struct fuse_iomap_conn *ic,
				   struct fuse_iomap_dev_register __user *argp)
{
	struct fuse_iomap_dev_register arg;
	struct fuse_iomap_dev *dev;
	struct file *file;
	int id, err;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved[0] || arg.reserved[1])
		return -EINVAL;

	file = fget(arg.fd);
	if (!file)
		return -EBADF;
	err = -ENOTBLK;
	if (!S_ISBLK(file_inode(file)->i_mode))
		goto out_fput;
	err = -EBADF;
	if (!(file->f_mode & FMODE_READ))
		goto out_fput;

	err = -ENOMEM;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		goto out_fput;
	dev->file = file;
	dev->bdev = I_BDEV(file->f_mapping->host);
	dev->size = bdev_nr_bytes(dev->bdev);
	dev->writable = file->f_mode & FMODE_WRITE;
	/* fs/iomap issues I/O in file system blocks. */
	err = -EINVAL;
	if (bdev_logical_block_size(dev->bdev) > (1U << ic->blkbits))
		goto out_free;

	mutex_lock(&ic->dev_lock);
	id = idr_alloc(&ic->devs, dev, 1, INT_MAX, GFP_KERNEL);
	if (id < 0) {
		mutex_unlock(&ic->dev_lock);
		err = id;
		goto out_free;
	}
	dev->cookie = id;
	list_add_tail(&dev->all, &ic->all_devs);
	mutex_unlock(&ic->dev_lock);

	arg.cookie = id;
	arg.logical_block_size = bdev_logical_block_size(dev->bdev);
	arg.size = dev->size;
	/* Registered either way; the server learns its cookie from the list. */
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;

out_free:
	kfree(dev);
out_fput:
	fput(file);
	return err;
}

static int fuse_iomap_dev_unregister(struct fuse_iomap_conn *ic, u32 __user *argp)
{
	struct fuse_iomap_dev *dev;
	u32 cookie;

	if (get_user(cookie, argp))
		return -EFAULT;
	mutex_lock(&ic->dev_lock);
	dev = idr_remove(&ic->devs, cookie);
	mutex_unlock(&ic->dev_lock);
	/* The file stays open in all_devs until the connection ends. */
	return dev ? 0 : -ENOENT;
}

long fuse_iomap_dev_ioctl(struct fuse_dev *fud, unsigned int cmd, void __user *argp)
{
	struct fuse_iomap_conn *ic;

	if (!capable(CAP_SYS_RAWIO))
		return -EPERM;
	if (!fud)
		return -EINVAL;
	ic = fud->fc->iomap;
	if (!ic)
		return -EOPNOTSUPP;

	switch (cmd) {
	case FUSE_IOMAP_IOC_DEV_REGISTER:
		return fuse_iomap_dev_register(ic, argp);
	case FUSE_IOMAP_IOC_DEV_UNREGISTER:
		return fuse_iomap_dev_unregister(ic, argp);
	}
	return -ENOTTY;
}
