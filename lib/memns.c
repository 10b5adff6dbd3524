// SPDX-License-Identifier: GPL-2.0
/*
 * memns: an in-memory namespace (directories, names, links, symlinks,
 * attributes) for our libfuse3 low-level servers.  What a regular file
 * holds is the backend's business: memfs keeps bytes in memory, blockfs
 * keeps extents on a block device.  Inode numbers are never reused.
 * Every request takes the namespace's lock (fi_memns_lock()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <fuse_lowlevel.h>

#include "fuse_iomap_server.h"

struct fi_memns *fi_memns_of(fuse_req_t req)
{
	return fi_req_ctx(req);
}

struct fi_memns_node *fi_memns_node(struct fi_memns *fs, fuse_ino_t ino)
{
	if (ino >= fs->nr_nodes)
		return NULL;
	return fs->nodes[ino];
}

void fi_memns_touch(struct fi_memns_node *n, bool data)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	n->st.st_ctim = now;
	if (data)
		n->st.st_mtim = now;
}

struct fi_memns_node *fi_memns_new_node(struct fi_memns *fs, mode_t mode, const struct fuse_ctx *ctx)
{
	struct fi_memns_node *n;
	fuse_ino_t ino;

	if (fs->nr_nodes == fs->cap_nodes) {
		size_t cap = fs->cap_nodes * 2;
		struct fi_memns_node **nodes = realloc(fs->nodes, cap * sizeof(*nodes));

		if (!nodes)
			return NULL;
		fs->nodes = nodes;
		fs->cap_nodes = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	/* Inode numbers are never reused; slot 0 stays empty, 1 is the root. */
	ino = fs->nr_nodes++;
	fs->nodes[ino] = n;
	n->st.st_ino = ino;
	n->st.st_mode = mode;
	n->st.st_nlink = S_ISDIR(mode) ? 2 : 1;
	n->st.st_uid = ctx ? ctx->uid : getuid();
	n->st.st_gid = ctx ? ctx->gid : getgid();
	n->st.st_blksize = fs->blksize;
	fi_memns_touch(n, true);
	n->st.st_atim = n->st.st_mtim;
	return n;
}

static void memns_free_node(struct fi_memns *fs, struct fi_memns_node *n)
{
	struct fi_memns_dirent *d, *next;

	for (d = n->entries; d; d = next) {
		next = d->next;
		free(d);
	}
	fs->nodes[n->st.st_ino] = NULL;
	if (S_ISREG(n->st.st_mode))
		fs->be->free_data(fs, n);
	free(n->target);
	free(n);
}

static void memns_maybe_free(struct fi_memns *fs, struct fi_memns_node *n)
{
	if (!n->st.st_nlink && !n->nlookup && n->st.st_ino != FUSE_ROOT_ID)
		memns_free_node(fs, n);
}

static struct fi_memns_dirent **memns_find(struct fi_memns_node *dir, const char *name)
{
	struct fi_memns_dirent **pp;

	for (pp = &dir->entries; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			return pp;
	return NULL;
}

int fi_memns_link_name(struct fi_memns_node *dir, const char *name, struct fi_memns_node *n)
{
	size_t len = strlen(name);
	struct fi_memns_dirent *d;

	if (len > FI_MEMNS_MAX_NAME)
		return -ENAMETOOLONG;
	d = malloc(sizeof(*d) + len + 1);
	if (!d)
		return -ENOMEM;
	memcpy(d->name, name, len + 1);
	d->ino = n->st.st_ino;
	d->next = dir->entries;
	dir->entries = d;
	dir->st.st_size++;
	fi_memns_touch(dir, true);
	return 0;
}

/* Remove the entry at @pp from @dir; the node keeps its link count. */
static fuse_ino_t memns_drop_name(struct fi_memns_node *dir, struct fi_memns_dirent **pp)
{
	struct fi_memns_dirent *d = *pp;
	fuse_ino_t ino = d->ino;

	*pp = d->next;
	free(d);
	dir->st.st_size--;
	fi_memns_touch(dir, true);
	return ino;
}

static void memns_unlink_entry(struct fi_memns *fs, struct fi_memns_node *dir, struct fi_memns_dirent **pp)
{
	struct fi_memns_node *n = fi_memns_node(fs, memns_drop_name(dir, pp));

	if (S_ISDIR(n->st.st_mode)) {
		dir->st.st_nlink--;
		n->st.st_nlink = 0;
	} else {
		n->st.st_nlink--;
	}
	fi_memns_touch(n, false);
	memns_maybe_free(fs, n);
}

static void memns_reply_entry(fuse_req_t req, struct fi_memns_node *n)
{
	struct fuse_entry_param e = {
		.ino = n->st.st_ino,
		.attr = n->st,
		.attr_timeout = 1.0,
		.entry_timeout = 1.0,
	};

	e.attr.st_blocks = (n->st.st_size + 511) / 512;
	n->nlookup++;
	fuse_reply_entry(req, &e);
}

static void memns_lookup_locked(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *dir = fi_memns_node(fs, parent);
	struct fi_memns_dirent **pp;

	if (!dir || !S_ISDIR(dir->st.st_mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	pp = memns_find(dir, name);
	if (!pp) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memns_reply_entry(req, fi_memns_node(fs, (*pp)->ino));
}

static void memns_forget_locked(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *n = fi_memns_node(fs, ino);

	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		memns_maybe_free(fs, n);
	}
	fuse_reply_none(req);
}

static void memns_getattr_locked(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fi_memns_node *n = fi_memns_node(fi_memns_of(req), ino);
	struct stat st;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	st = n->st;
	st.st_blocks = (st.st_size + 511) / 512;
	fuse_reply_attr(req, &st, 1.0);
}

static int memns_resize(struct fi_memns *fs, struct fi_memns_node *n, off_t size)
{
	/* The backend's -errno; the callers here reply with a positive one. */
	int err = -fs->be->resize(fs, n, size);

	if (!err) {
		n->st.st_size = size;
		fi_memns_touch(n, true);
	}
	return err;
}

static void memns_set_time(struct timespec *t, const struct timespec *v, bool now)
{
	if (now)
		clock_gettime(CLOCK_REALTIME, t);
	else
		*t = *v;
}

static void memns_setattr_locked(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	struct fi_memns_node *n = fi_memns_node(fi_memns_of(req), ino);
	int err;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (!S_ISREG(n->st.st_mode)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		err = memns_resize(fi_memns_of(req), n, attr->st_size);
		if (err) {
			fuse_reply_err(req, err);
			return;
		}
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		n->st.st_mode = (n->st.st_mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		n->st.st_uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		n->st.st_gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		memns_set_time(&n->st.st_atim, &attr->st_atim, to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		memns_set_time(&n->st.st_mtim, &attr->st_mtim, to_set & FUSE_SET_ATTR_MTIME_NOW);
	fi_memns_touch(n, false);
	/* The kernel keeps an iomap file's ctime: it hands it over here. */
	if (to_set & FUSE_SET_ATTR_CTIME)
		n->st.st_ctim = attr->st_ctim;
	memns_getattr_locked(req, ino, NULL);
}

static void memns_readlink_locked(fuse_req_t req, fuse_ino_t ino)
{
	struct fi_memns_node *n = fi_memns_node(fi_memns_of(req), ino);

	if (!n || !S_ISLNK(n->st.st_mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, n->target);
}

/* Common part of mknod/mkdir/symlink/create: a new node named @name. */
static struct fi_memns_node *memns_make(fuse_req_t req, fuse_ino_t parent, const char *name,
				     mode_t mode, int *errp)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *dir = fi_memns_node(fs, parent), *n;

	if (!dir || !S_ISDIR(dir->st.st_mode)) {
		*errp = ENOTDIR;
		return NULL;
	}
	if (memns_find(dir, name)) {
		*errp = EEXIST;
		return NULL;
	}
	n = fi_memns_new_node(fs, mode, fuse_req_ctx(req));
	if (!n) {
		*errp = ENOMEM;
		return NULL;
	}
	*errp = -fi_memns_link_name(dir, name, n);
	if (*errp) {
		n->st.st_nlink = 0;
		memns_maybe_free(fs, n);
		return NULL;
	}
	if (S_ISDIR(mode))
		dir->st.st_nlink++;
	return n;
}

static void memns_mknod_locked(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			dev_t rdev)
{
	struct fi_memns_node *n;
	int err;

	if (!S_ISREG(mode) && !S_ISFIFO(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	n = memns_make(req, parent, name, mode, &err);
	if (!n) {
		fuse_reply_err(req, err);
		return;
	}
	n->st.st_rdev = rdev;
	memns_reply_entry(req, n);
}

static void memns_mkdir_locked(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fi_memns_node *n;
	int err;

	n = memns_make(req, parent, name, S_IFDIR | (mode & 07777), &err);
	if (!n)
		fuse_reply_err(req, err);
	else
		memns_reply_entry(req, n);
}

static void memns_symlink_locked(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	char *copy = strdup(target);
	struct fi_memns_node *n;
	int err = ENOMEM;

	n = copy ? memns_make(req, parent, name, S_IFLNK | 0777, &err) : NULL;
	if (!n) {
		free(copy);
		fuse_reply_err(req, err);
		return;
	}
	n->target = copy;
	n->st.st_size = strlen(copy);
	memns_reply_entry(req, n);
}

static void memns_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool want_dir)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *dir = fi_memns_node(fs, parent), *n;
	struct fi_memns_dirent **pp;

	pp = dir ? memns_find(dir, name) : NULL;
	if (!pp) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = fi_memns_node(fs, (*pp)->ino);
	if (want_dir && !S_ISDIR(n->st.st_mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!want_dir && S_ISDIR(n->st.st_mode)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (want_dir && n->entries) {
		fuse_reply_err(req, ENOTEMPTY);
		return;
	}
	memns_unlink_entry(fs, dir, pp);
	fuse_reply_err(req, 0);
}

static void memns_unlink_locked(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	memns_remove(req, parent, name, false);
}

static void memns_rmdir_locked(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	memns_remove(req, parent, name, true);
}

static void memns_rename_locked(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *src = fi_memns_node(fs, parent), *dst = fi_memns_node(fs, newparent);
	struct fi_memns_node *n, *victim;
	struct fi_memns_dirent **pp, **vp;
	int err;

	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pp = src ? memns_find(src, name) : NULL;
	if (!pp || !dst) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = fi_memns_node(fs, (*pp)->ino);
	vp = memns_find(dst, newname);
	if (vp) {
		victim = fi_memns_node(fs, (*vp)->ino);
		if (victim == n) {
			fuse_reply_err(req, 0);
			return;
		}
		if (S_ISDIR(victim->st.st_mode) != S_ISDIR(n->st.st_mode)) {
			fuse_reply_err(req, S_ISDIR(victim->st.st_mode) ? EISDIR : ENOTDIR);
			return;
		}
		if (victim->entries) {
			fuse_reply_err(req, ENOTEMPTY);
			return;
		}
		memns_unlink_entry(fs, dst, vp);
	}
	err = -fi_memns_link_name(dst, newname, n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	/* Entries are prepended, so the old name may have moved in the list. */
	memns_drop_name(src, memns_find(src, name));
	if (S_ISDIR(n->st.st_mode) && src != dst) {
		src->st.st_nlink--;
		dst->st.st_nlink++;
	}
	fi_memns_touch(n, false);
	fuse_reply_err(req, 0);
}

static void memns_link_locked(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *n = fi_memns_node(fs, ino), *dir = fi_memns_node(fs, newparent);
	int err;

	if (!n || !dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (memns_find(dir, newname)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	err = -fi_memns_link_name(dir, newname, n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	n->st.st_nlink++;
	fi_memns_touch(n, false);
	memns_reply_entry(req, n);
}

static void memns_open_locked(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fi_memns_node *n = fi_memns_node(fi_memns_of(req), ino);

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_TRUNC) && S_ISREG(n->st.st_mode) && n->st.st_size) {
		int err = memns_resize(fi_memns_of(req), n, 0);

		if (err) {
			fuse_reply_err(req, err);
			return;
		}
	}
	fuse_reply_open(req, fi);
}

static void memns_create_locked(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .attr_timeout = 1.0, .entry_timeout = 1.0 };
	struct fi_memns_node *n;
	int err;

	n = memns_make(req, parent, name, S_IFREG | (mode & 07777), &err);
	if (!n) {
		fuse_reply_err(req, err);
		return;
	}
	e.ino = n->st.st_ino;
	e.attr = n->st;
	n->nlookup++;
	fuse_reply_create(req, &e, fi);
}

static void memns_readdir_locked(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct fi_memns_node *dir = fi_memns_node(fs, ino);
	struct fi_memns_dirent *d;
	char *buf;
	size_t used = 0;
	off_t i = 0;

	(void)fi;
	if (!dir || !S_ISDIR(dir->st.st_mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Offsets: 1 = ".", 2 = "..", 2 + k = the k-th entry. */
	for (d = dir->entries; ; i++) {
		struct stat st = { 0 };
		const char *name;
		size_t len;

		if (i == 0) {
			name = ".";
			st.st_ino = ino;
		} else if (i == 1) {
			name = "..";
			st.st_ino = FUSE_ROOT_ID;
		} else {
			if (!d)
				break;
			name = d->name;
			st.st_ino = d->ino;
			st.st_mode = fi_memns_node(fs, d->ino)->st.st_mode;
			d = d->next;
		}
		if (i < off)
			continue;
		len = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void memns_statfs_locked(fuse_req_t req, fuse_ino_t ino)
{
	struct fi_memns *fs = fi_memns_of(req);
	struct statvfs sv = {
		.f_bsize = fs->blksize, .f_frsize = fs->blksize, .f_blocks = 1 << 20,
		.f_bfree = 1 << 19, .f_bavail = 1 << 19, .f_files = 1 << 20,
		.f_ffree = 1 << 19, .f_namemax = FI_MEMNS_MAX_NAME,
	};

	(void)ino;
	if (fs->be->statfs)
		fs->be->statfs(fs, &sv);
	fuse_reply_statfs(req, &sv);
}

static void memns_fsync_locked(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	fuse_reply_err(req, 0);
}

/* Every request takes the namespace's lock: the backend runs under it. */
static void memns_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_lookup_locked(req, parent, name);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_forget_locked(req, ino, nlookup);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_getattr_locked(req, ino, fi);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_setattr_locked(req, ino, attr, to_set, fi);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_readlink_locked(req, ino);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			dev_t rdev)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_mknod_locked(req, parent, name, mode, rdev);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_mkdir_locked(req, parent, name, mode);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_symlink_locked(req, target, parent, name);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_unlink_locked(req, parent, name);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_rmdir_locked(req, parent, name);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_rename_locked(req, parent, name, newparent, newname, flags);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_link_locked(req, ino, newparent, newname);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_open_locked(req, ino, fi);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_create_locked(req, parent, name, mode, fi);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_readdir_locked(req, ino, size, off, fi);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_statfs_locked(req, ino);
	pthread_mutex_unlock(&fs->lock);
}

static void memns_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fi_memns *fs = fi_memns_of(req);

	pthread_mutex_lock(&fs->lock);
	memns_fsync_locked(req, ino, datasync, fi);
	pthread_mutex_unlock(&fs->lock);
}

void fi_memns_fill_ops(struct fuse_lowlevel_ops *ops)
{
	ops->lookup = memns_lookup;
	ops->forget = memns_forget;
	ops->getattr = memns_getattr;
	ops->setattr = memns_setattr;
	ops->readlink = memns_readlink;
	ops->mknod = memns_mknod;
	ops->mkdir = memns_mkdir;
	ops->symlink = memns_symlink;
	ops->unlink = memns_unlink;
	ops->rmdir = memns_rmdir;
	ops->rename = memns_rename;
	ops->link = memns_link;
	ops->open = memns_open;
	ops->create = memns_create;
	ops->readdir = memns_readdir;
	ops->statfs = memns_statfs;
	ops->fsync = memns_fsync;
	ops->fsyncdir = memns_fsync;
}

int fi_memns_init(struct fi_memns *fs, const struct fi_memns_backend *be, unsigned int blksize)
{
	fs->be = be;
	fs->blksize = blksize;
	pthread_mutex_init(&fs->lock, NULL);
	fs->nr_nodes = 1;
	fs->cap_nodes = 64;
	fs->nodes = calloc(fs->cap_nodes, sizeof(*fs->nodes));
	if (!fs->nodes)
		return -ENOMEM;
	if (!fi_memns_new_node(fs, S_IFDIR | 0755, NULL)) {
		free(fs->nodes);
		return -ENOMEM;
	}
	return 0;
}

void fi_memns_destroy(struct fi_memns *fs)
{
	for (size_t i = 1; i < fs->nr_nodes; i++)
		if (fs->nodes[i])
			memns_free_node(fs, fs->nodes[i]);
	free(fs->nodes);
}

void fi_memns_lock(struct fi_memns *fs)
{
	pthread_mutex_lock(&fs->lock);
}

void fi_memns_unlock(struct fi_memns *fs)
{
	pthread_mutex_unlock(&fs->lock);
}
