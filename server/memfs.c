// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-memfs: a minimal libfuse3 low-level server that keeps files in
 * memory.  It exists to test the plumbing (mounting on fuseiomap through
 * /dev/fuse-iomap, or on the stock fuse) with an unmodified libfuse3; it
 * does no iomap.  The session runs single-threaded, so no locking.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>

#include "mount.h"

#define MEMFS_MAX_NAME	255

struct memfs_dirent {
	struct memfs_dirent *next;
	fuse_ino_t ino;
	char name[];
};

struct memfs_node {
	struct stat st;
	uint64_t nlookup;		/* kernel references (lookup - forget) */
	char *data;			/* file contents or symlink target */
	size_t cap;			/* bytes allocated at data */
	struct memfs_dirent *entries;	/* directories: unsorted list */
};

struct memfs {
	struct memfs_node **nodes;	/* indexed by inode number; NULL = free */
	size_t nr_nodes;
	size_t cap_nodes;
};

static struct memfs *memfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct memfs_node *memfs_node(struct memfs *fs, fuse_ino_t ino)
{
	if (ino >= fs->nr_nodes)
		return NULL;
	return fs->nodes[ino];
}

static void memfs_touch(struct memfs_node *n, bool data)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	n->st.st_ctim = now;
	if (data)
		n->st.st_mtim = now;
}

static struct memfs_node *memfs_new_node(struct memfs *fs, mode_t mode, const struct fuse_ctx *ctx)
{
	struct memfs_node *n;
	fuse_ino_t ino;

	if (fs->nr_nodes == fs->cap_nodes) {
		size_t cap = fs->cap_nodes * 2;
		struct memfs_node **nodes = realloc(fs->nodes, cap * sizeof(*nodes));

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
	n->st.st_blksize = 4096;
	memfs_touch(n, true);
	n->st.st_atim = n->st.st_mtim;
	return n;
}

static void memfs_free_node(struct memfs *fs, struct memfs_node *n)
{
	struct memfs_dirent *d, *next;

	for (d = n->entries; d; d = next) {
		next = d->next;
		free(d);
	}
	fs->nodes[n->st.st_ino] = NULL;
	free(n->data);
	free(n);
}

static void memfs_maybe_free(struct memfs *fs, struct memfs_node *n)
{
	if (!n->st.st_nlink && !n->nlookup && n->st.st_ino != FUSE_ROOT_ID)
		memfs_free_node(fs, n);
}

static struct memfs_dirent **memfs_find(struct memfs_node *dir, const char *name)
{
	struct memfs_dirent **pp;

	for (pp = &dir->entries; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			return pp;
	return NULL;
}

static int memfs_link_name(struct memfs_node *dir, const char *name, struct memfs_node *n)
{
	size_t len = strlen(name);
	struct memfs_dirent *d;

	if (len > MEMFS_MAX_NAME)
		return ENAMETOOLONG;
	d = malloc(sizeof(*d) + len + 1);
	if (!d)
		return ENOMEM;
	memcpy(d->name, name, len + 1);
	d->ino = n->st.st_ino;
	d->next = dir->entries;
	dir->entries = d;
	dir->st.st_size++;
	memfs_touch(dir, true);
	return 0;
}

/* Remove the entry at @pp from @dir; the node keeps its link count. */
static fuse_ino_t memfs_drop_name(struct memfs_node *dir, struct memfs_dirent **pp)
{
	struct memfs_dirent *d = *pp;
	fuse_ino_t ino = d->ino;

	*pp = d->next;
	free(d);
	dir->st.st_size--;
	memfs_touch(dir, true);
	return ino;
}

static void memfs_unlink_entry(struct memfs *fs, struct memfs_node *dir, struct memfs_dirent **pp)
{
	struct memfs_node *n = memfs_node(fs, memfs_drop_name(dir, pp));

	if (S_ISDIR(n->st.st_mode)) {
		dir->st.st_nlink--;
		n->st.st_nlink = 0;
	} else {
		n->st.st_nlink--;
	}
	memfs_touch(n, false);
	memfs_maybe_free(fs, n);
}

static void memfs_reply_entry(fuse_req_t req, struct memfs_node *n)
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

static void memfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *dir = memfs_node(fs, parent);
	struct memfs_dirent **pp;

	if (!dir || !S_ISDIR(dir->st.st_mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	pp = memfs_find(dir, name);
	if (!pp) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memfs_reply_entry(req, memfs_node(fs, (*pp)->ino));
}

static void memfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *n = memfs_node(fs, ino);

	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		memfs_maybe_free(fs, n);
	}
	fuse_reply_none(req);
}

static void memfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct memfs_node *n = memfs_node(memfs_of(req), ino);
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

static int memfs_resize(struct memfs_node *n, off_t size)
{
	if ((size_t)size > n->cap) {
		size_t cap = n->cap ? n->cap : 4096;
		char *data;

		while (cap < (size_t)size)
			cap *= 2;
		data = realloc(n->data, cap);
		if (!data)
			return ENOMEM;
		memset(data + n->cap, 0, cap - n->cap);
		n->data = data;
		n->cap = cap;
	}
	if (size < n->st.st_size)
		memset(n->data + size, 0, n->st.st_size - size);
	n->st.st_size = size;
	return 0;
}

static void memfs_set_time(struct timespec *t, const struct timespec *v, bool now)
{
	if (now)
		clock_gettime(CLOCK_REALTIME, t);
	else
		*t = *v;
}

static void memfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	struct memfs_node *n = memfs_node(memfs_of(req), ino);
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
		err = memfs_resize(n, attr->st_size);
		if (err) {
			fuse_reply_err(req, err);
			return;
		}
		memfs_touch(n, true);
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		n->st.st_mode = (n->st.st_mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		n->st.st_uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		n->st.st_gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		memfs_set_time(&n->st.st_atim, &attr->st_atim, to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		memfs_set_time(&n->st.st_mtim, &attr->st_mtim, to_set & FUSE_SET_ATTR_MTIME_NOW);
	memfs_touch(n, false);
	memfs_getattr(req, ino, NULL);
}

static void memfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct memfs_node *n = memfs_node(memfs_of(req), ino);

	if (!n || !S_ISLNK(n->st.st_mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, n->data);
}

/* Common part of mknod/mkdir/symlink/create: a new node named @name. */
static struct memfs_node *memfs_make(fuse_req_t req, fuse_ino_t parent, const char *name,
				     mode_t mode, int *errp)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *dir = memfs_node(fs, parent), *n;

	if (!dir || !S_ISDIR(dir->st.st_mode)) {
		*errp = ENOTDIR;
		return NULL;
	}
	if (memfs_find(dir, name)) {
		*errp = EEXIST;
		return NULL;
	}
	n = memfs_new_node(fs, mode, fuse_req_ctx(req));
	if (!n) {
		*errp = ENOMEM;
		return NULL;
	}
	*errp = memfs_link_name(dir, name, n);
	if (*errp) {
		n->st.st_nlink = 0;
		memfs_maybe_free(fs, n);
		return NULL;
	}
	if (S_ISDIR(mode))
		dir->st.st_nlink++;
	return n;
}

static void memfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			dev_t rdev)
{
	struct memfs_node *n;
	int err;

	if (!S_ISREG(mode) && !S_ISFIFO(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	n = memfs_make(req, parent, name, mode, &err);
	if (!n) {
		fuse_reply_err(req, err);
		return;
	}
	n->st.st_rdev = rdev;
	memfs_reply_entry(req, n);
}

static void memfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct memfs_node *n;
	int err;

	n = memfs_make(req, parent, name, S_IFDIR | (mode & 07777), &err);
	if (!n)
		fuse_reply_err(req, err);
	else
		memfs_reply_entry(req, n);
}

static void memfs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	char *copy = strdup(target);
	struct memfs_node *n;
	int err = ENOMEM;

	n = copy ? memfs_make(req, parent, name, S_IFLNK | 0777, &err) : NULL;
	if (!n) {
		free(copy);
		fuse_reply_err(req, err);
		return;
	}
	n->data = copy;
	n->cap = n->st.st_size = strlen(copy);
	memfs_reply_entry(req, n);
}

static void memfs_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool want_dir)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *dir = memfs_node(fs, parent), *n;
	struct memfs_dirent **pp;

	pp = dir ? memfs_find(dir, name) : NULL;
	if (!pp) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = memfs_node(fs, (*pp)->ino);
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
	memfs_unlink_entry(fs, dir, pp);
	fuse_reply_err(req, 0);
}

static void memfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	memfs_remove(req, parent, name, false);
}

static void memfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	memfs_remove(req, parent, name, true);
}

static void memfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *src = memfs_node(fs, parent), *dst = memfs_node(fs, newparent);
	struct memfs_node *n, *victim;
	struct memfs_dirent **pp, **vp;
	int err;

	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pp = src ? memfs_find(src, name) : NULL;
	if (!pp || !dst) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = memfs_node(fs, (*pp)->ino);
	vp = memfs_find(dst, newname);
	if (vp) {
		victim = memfs_node(fs, (*vp)->ino);
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
		memfs_unlink_entry(fs, dst, vp);
	}
	err = memfs_link_name(dst, newname, n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	/* Entries are prepended, so the old name may have moved in the list. */
	memfs_drop_name(src, memfs_find(src, name));
	if (S_ISDIR(n->st.st_mode) && src != dst) {
		src->st.st_nlink--;
		dst->st.st_nlink++;
	}
	memfs_touch(n, false);
	fuse_reply_err(req, 0);
}

static void memfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *n = memfs_node(fs, ino), *dir = memfs_node(fs, newparent);
	int err;

	if (!n || !dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (memfs_find(dir, newname)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	err = memfs_link_name(dir, newname, n);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	n->st.st_nlink++;
	memfs_touch(n, false);
	memfs_reply_entry(req, n);
}

static void memfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct memfs_node *n = memfs_node(memfs_of(req), ino);

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_TRUNC) && S_ISREG(n->st.st_mode)) {
		memfs_resize(n, 0);
		memfs_touch(n, true);
	}
	fuse_reply_open(req, fi);
}

static void memfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .attr_timeout = 1.0, .entry_timeout = 1.0 };
	struct memfs_node *n;
	int err;

	n = memfs_make(req, parent, name, S_IFREG | (mode & 07777), &err);
	if (!n) {
		fuse_reply_err(req, err);
		return;
	}
	e.ino = n->st.st_ino;
	e.attr = n->st;
	n->nlookup++;
	fuse_reply_create(req, &e, fi);
}

static void memfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct memfs_node *n = memfs_node(memfs_of(req), ino);

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (off >= n->st.st_size)
		size = 0;
	else if ((off_t)size > n->st.st_size - off)
		size = n->st.st_size - off;
	fuse_reply_buf(req, size ? n->data + off : NULL, size);
}

static void memfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct memfs_node *n = memfs_node(memfs_of(req), ino);
	int err;

	(void)fi;
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (off < 0 || (uint64_t)off + size > (1ULL << 32)) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (off + (off_t)size > n->st.st_size) {
		err = memfs_resize(n, off + size);
		if (err) {
			fuse_reply_err(req, err);
			return;
		}
	}
	memcpy(n->data + off, buf, size);
	memfs_touch(n, true);
	fuse_reply_write(req, size);
}

static void memfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct memfs *fs = memfs_of(req);
	struct memfs_node *dir = memfs_node(fs, ino);
	struct memfs_dirent *d;
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
			st.st_mode = memfs_node(fs, d->ino)->st.st_mode;
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

static void memfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {
		.f_bsize = 4096, .f_frsize = 4096, .f_blocks = 1 << 20,
		.f_bfree = 1 << 19, .f_bavail = 1 << 19, .f_files = 1 << 20,
		.f_ffree = 1 << 19, .f_namemax = MEMFS_MAX_NAME,
	};

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static void memfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops memfs_ops = {
	.lookup = memfs_lookup,
	.forget = memfs_forget,
	.getattr = memfs_getattr,
	.setattr = memfs_setattr,
	.readlink = memfs_readlink,
	.mknod = memfs_mknod,
	.mkdir = memfs_mkdir,
	.symlink = memfs_symlink,
	.unlink = memfs_unlink,
	.rmdir = memfs_rmdir,
	.rename = memfs_rename,
	.link = memfs_link,
	.open = memfs_open,
	.create = memfs_create,
	.read = memfs_read,
	.write = memfs_write,
	.readdir = memfs_readdir,
	.statfs = memfs_statfs,
	.fsync = memfs_fsync,
	.fsyncdir = memfs_fsync,
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-memfs [OPTIONS] MOUNTPOINT\n"
"\n"
"Serve an empty in-memory file system at MOUNTPOINT until it is unmounted\n"
"(or the server gets SIGINT/SIGTERM/SIGHUP, when it unmounts it itself).\n"
"It always runs in the foreground.  File data lives in the server's memory\n"
"and is lost when it exits; it does no iomap.\n"
"\n"
"By default it mounts a 'fuseiomap.memfs' file system through %s,\n"
"which needs fuse_iomap.ko loaded.\n"
"\n"
"Options:\n"
"  --stock      mount on the kernel's own fuse through /dev/fuse instead\n"
"  -d, --debug  print every request (libfuse debug output)\n"
"  -h, --help   print this help and exit\n", FI_DEV_PATH);
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "stock", no_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fi_mount m = { .fsname = "fuse-iomap-memfs", .subtype = "memfs" };
	char *fargv[] = { argv[0], NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
	struct memfs fs = { .nr_nodes = 1, .cap_nodes = 64 };
	struct fuse_session *se;
	struct memfs_node *root;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			m.stock = true;
			break;
		case 'd':
			fargv[args.argc++] = "-d";
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "fuse-iomap-memfs: expected one MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	m.mountpoint = argv[optind];

	fs.nodes = calloc(fs.cap_nodes, sizeof(*fs.nodes));
	root = fs.nodes ? memfs_new_node(&fs, S_IFDIR | 0755, NULL) : NULL;
	if (!root) {
		fprintf(stderr, "fuse-iomap-memfs: out of memory\n");
		return 1;
	}
	se = fuse_session_new(&args, &memfs_ops, sizeof(memfs_ops), &fs);
	if (!se)
		goto out_free;
	if (fuse_set_signal_handlers(se))
		goto out_destroy;
	if (fi_mount(se, &m) < 0)
		goto out_signals;
	ret = fuse_session_loop(se) ? 1 : 0;
	fi_unmount(se, &m);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out_free:
	for (size_t i = 1; i < fs.nr_nodes; i++)
		if (fs.nodes[i])
			memfs_free_node(&fs, fs.nodes[i]);
	free(fs.nodes);
	fuse_opt_free_args(&args);
	return ret;
}
