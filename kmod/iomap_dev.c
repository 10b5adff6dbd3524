// SPDX-License-Identifier: GPL-2.0
/*
 * The block devices a server registers with its iomap connection, by
 * ioctl on /dev/fuse-iomap, and the cookies that name them in mappings.
 *
 * Only a caller with CAP_SYS_RAWIO may register a device.  Devices are
 * never freed before the connection, so a struct iomap handed to fs/iomap
 * (which keeps the bdev pointer until the I/O completes) cannot outlive
 * its device.  Cookies are handed out cyclically: one left behind in a BPF
 * map after its device went never names another device.
 */
#include "fuse_i.h"
#include "compat.h"

#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/rculist.h>
#include <linux/slab.h>

struct fuse_iomap_dev *fuse_iomap_dev_lookup(struct fuse_iomap_conn *ic, u32 cookie)
{
	struct fuse_iomap_dev *dev;

	rcu_read_lock();
	dev = idr_find(&ic->devs, cookie);
	rcu_read_unlock();
	return dev;
}

/*
 * The cookie @bdev was registered under (for an ioend, which keeps no
 * cookie).  No dev_lock: the ioend work item calls this, and it runs on a
 * WQ_MEM_RECLAIM queue that reclaim may wait for, while registration
 * allocates under dev_lock.  all_devs only grows until the connection
 * ends.
 */
u32 fuse_iomap_dev_cookie(struct fuse_iomap_conn *ic, struct block_device *bdev)
{
	struct fuse_iomap_dev *dev;
	u32 cookie = FUSE_IOMAP_DEV_NULL;

	rcu_read_lock();
	list_for_each_entry_rcu(dev, &ic->all_devs, all)
		if (dev->bdev == bdev)
			cookie = dev->cookie;
	rcu_read_unlock();
	return cookie;
}

static struct fuse_iomap_dev *fuse_iomap_dev_open(struct fuse_iomap_conn *ic, int fd)
{
	struct fuse_iomap_dev *dev;
	struct file *file;
	int err;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
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
	if (bdev_logical_block_size(dev->bdev) > (1U << ic->blkbits)) {
		kfree(dev);
		err = -EINVAL;
		goto out_fput;
	}
	return dev;

out_fput:
	fput(file);
	return ERR_PTR(err);
}

static void fuse_iomap_dev_close(struct fuse_iomap_dev *dev)
{
	fput(dev->file);
	kfree(dev);
}

/*
 * A second live device makes the connection multi-device (see multi_dev):
 * only while no file has been set up with large folios, and only with
 * blocks of a page or more, so that no folio spans two mappings.
 */
static int fuse_iomap_dev_may_add(struct fuse_iomap_conn *ic)
{
	lockdep_assert_held(&ic->dev_lock);
	if (!ic->nr_devs || ic->multi_dev)
		return 0;
	if (ic->blkbits < PAGE_SHIFT) {
		pr_info_ratelimited("fuse-iomap: connection %u: a second device needs iomap_blksize of %lu or more\n",
				    ic->id, PAGE_SIZE);
		return -EINVAL;
	}
	if (ic->file_inodes) {
		pr_info_ratelimited("fuse-iomap: connection %u: register every device before files are opened\n",
				    ic->id);
		return -EBUSY;
	}
	ic->multi_dev = true;
	return 0;
}

static int fuse_iomap_dev_register(struct fuse_iomap_conn *ic,
				   struct fuse_iomap_dev_register __user *argp)
{
	struct fuse_iomap_dev_register arg;
	struct fuse_iomap_dev *dev;
	int id, err;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved[0] || arg.reserved[1])
		return -EINVAL;
	dev = fuse_iomap_dev_open(ic, arg.fd);
	if (IS_ERR(dev))
		return PTR_ERR(dev);

	/* Reserve the cookie now; mappings may name it only once all is done. */
	mutex_lock(&ic->dev_lock);
	err = fuse_iomap_dev_may_add(ic);
	id = err ?: idr_alloc_cyclic(&ic->devs, NULL, 1, INT_MAX, GFP_KERNEL);
	if (id >= 0)
		ic->nr_devs++;
	mutex_unlock(&ic->dev_lock);
	if (id < 0) {
		err = id;
		goto out_close;
	}
	dev->cookie = id;
	arg.cookie = id;
	arg.logical_block_size = bdev_logical_block_size(dev->bdev);
	arg.size = dev->size;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		err = -EFAULT;
		goto out_remove;
	}

	mutex_lock(&ic->dev_lock);
	idr_replace(&ic->devs, dev, id);
	list_add_tail_rcu(&dev->all, &ic->all_devs);
	mutex_unlock(&ic->dev_lock);
	return 0;

out_remove:
	mutex_lock(&ic->dev_lock);
	idr_remove(&ic->devs, id);
	ic->nr_devs--;
	mutex_unlock(&ic->dev_lock);
out_close:
	fuse_iomap_dev_close(dev);
	return err;
}

static int fuse_iomap_dev_unregister(struct fuse_iomap_conn *ic, u32 __user *argp)
{
	struct fuse_iomap_dev *dev = NULL;
	u32 cookie;

	if (get_user(cookie, argp))
		return -EFAULT;
	mutex_lock(&ic->dev_lock);
	/* A reserved cookie (NULL) is its registration's to drop. */
	if (idr_find(&ic->devs, cookie)) {
		dev = idr_remove(&ic->devs, cookie);
		ic->nr_devs--;
	}
	mutex_unlock(&ic->dev_lock);
	/*
	 * New mappings to it are refused from now on, but the file stays open
	 * in all_devs until the connection ends (and with it the device's
	 * exclusive claim): bios and ioends already in flight, and folios
	 * under writeback through a mapping handed out before, still use the
	 * bdev, and nothing short of the connection's end says when the last
	 * of them is done.
	 */
	return dev ? 0 : -ENOENT;
}

long fuse_iomap_dev_ioctl(struct fuse_dev *fud, unsigned int cmd, void __user *argp)
{
	struct fuse_iomap_conn *ic;

	if (!capable(CAP_SYS_RAWIO))
		return -EPERM;
	if (!fud)
		return -EINVAL;
	ic = compat_dev_conn(fud)->iomap;
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

/* At the connection's end: no I/O can be in flight any more. */
void fuse_iomap_devs_free(struct fuse_iomap_conn *ic)
{
	struct fuse_iomap_dev *dev, *next;

	list_for_each_entry_safe(dev, next, &ic->all_devs, all)
		fuse_iomap_dev_close(dev);
	idr_destroy(&ic->devs);
}
