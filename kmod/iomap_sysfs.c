// SPDX-License-Identifier: GPL-2.0
/*
 * A connection's counters and settings in /sys/fs/fuseiomap/iomap/<id>/,
 * one file each, and rejected/<rule>: how many answers each validation
 * rule refused.  The directory lives as long as the connection's state
 * (its kobject is the struct fuse_iomap_conn's); iomap_conn.c adds it at
 * mount and removes it at unmount.
 */
#include "fuse_i.h"

#include <linux/slab.h>

static struct kobject *fuse_iomap_kobj;	/* /sys/fs/fuseiomap/iomap */

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

int fuse_iomap_sysfs_init(struct kobject *parent)
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

/* The connection's directory, named by its id, under /sys/fs/fuseiomap/iomap. */
int fuse_iomap_sysfs_conn_add(struct fuse_iomap_conn *ic)
{
	return kobject_init_and_add(&ic->kobj, &fuse_iomap_conn_ktype, fuse_iomap_kobj,
				    "%u", ic->id);
}

void fuse_iomap_sysfs_exit(void)
{
	kobject_put(fuse_iomap_kobj);
}
