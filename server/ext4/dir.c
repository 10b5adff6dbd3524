// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: the namespace.  Lookup and readdir, and every change
 * of names: new files, directories, symlinks and device nodes, hard links,
 * unlink, rmdir and rename (over an existing target too).  Directories
 * grow through libext2fs; link counts follow the kernel's ext4 (a
 * directory counts its subdirectories' "..").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <linux/fs.h>

#include "ext4.h"

static int check_name(const char *name)
{
	return strlen(name) > EXT2_NAME_LEN ? ENAMETOOLONG : 0;
}

static int find(struct ext4srv *s, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
	int err = check_name(name);

	return err ? err : to_errno(ext2fs_lookup(s->fs, dir, name, strlen(name), NULL, ino));
}

/* For a new name: ENOENT is what we want. */
static int check_free(struct ext4srv *s, ext2_ino_t dir, const char *name)
{
	ext2_ino_t ino;
	int err = find(s, dir, name, &ino);

	return err == ENOENT ? 0 : err ? err : EEXIST;
}

void ext4_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	ext2_ino_t ino;
	int err = find(srv_of(req), to_ino(parent), name, &ino);

	if (err)
		fuse_reply_err(req, err);
	else
		ext4_reply_entry(req, ino, NULL);
}

/* --- reading ----------------------------------------------------------------- */

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	off_t from;		/* the offset asked for */
	off_t blk;		/* the directory block being read */
	bool full;
};

static mode_t dirent_mode(int type)
{
	switch (type) {
	case EXT2_FT_REG_FILE: return S_IFREG;
	case EXT2_FT_DIR: return S_IFDIR;
	case EXT2_FT_SYMLINK: return S_IFLNK;
	case EXT2_FT_CHRDEV: return S_IFCHR;
	case EXT2_FT_BLKDEV: return S_IFBLK;
	case EXT2_FT_FIFO: return S_IFIFO;
	case EXT2_FT_SOCK: return S_IFSOCK;
	}
	return 0;
}

static int dirent_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return EXT2_FT_REG_FILE;
	case S_IFDIR: return EXT2_FT_DIR;
	case S_IFLNK: return EXT2_FT_SYMLINK;
	case S_IFCHR: return EXT2_FT_CHRDEV;
	case S_IFBLK: return EXT2_FT_BLKDEV;
	case S_IFIFO: return EXT2_FT_FIFO;
	case S_IFSOCK: return EXT2_FT_SOCK;
	}
	return EXT2_FT_UNKNOWN;
}

/*
 * An entry's offset is its place in the directory, plus one: block number
 * times block size, plus its offset in the block.  Entries never move
 * there (unlink merges a name's space into the one before it, link takes
 * free space), so a readdir continued while other names come and go
 * returns each of the names that stayed exactly once.  Counting entries
 * instead skipped or repeated them.  Needs DIRENT_FLAG_INCLUDE_EMPTY: every
 * block then starts with a call at offset 0.
 */
static int add_dirent(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
		      int blocksize, char *block, void *priv)
{
	struct dirbuf *d = priv;
	int len = ext2fs_dirent_name_len(de);
	char name[EXT2_NAME_LEN + 1];
	struct stat st = { 0 };
	off_t pos;
	size_t n;

	(void)dir, (void)entry, (void)block;
	if (!offset)
		d->blk++;
	pos = d->blk * blocksize + offset;
	if (!de->inode || pos < d->from)
		return 0;
	memcpy(name, de->name, len);
	name[len] = 0;
	st.st_ino = de->inode;
	st.st_mode = dirent_mode(ext2fs_dirent_file_type(de));
	n = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &st, pos + 1);
	if (n > d->size - d->used) {
		d->full = true;
		return DIRENT_ABORT;
	}
	d->used += n;
	return 0;
}

void ext4_readdir(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct dirbuf d = { .req = req, .size = size, .from = off, .blk = -1 };
	errcode_t err;

	(void)fi;
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	err = ext2fs_dir_iterate2(srv_of(req)->fs, to_ino(nodeid), DIRENT_FLAG_INCLUDE_EMPTY, NULL,
				  add_dirent, &d);
	if (err && !d.full)
		fuse_reply_err(req, to_errno(err));
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

void ext4_readlink(fuse_req_t req, fuse_ino_t nodeid)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	ext2_file_t file;
	unsigned int got;
	char *buf;
	int err;

	err = ext4_read_inode(s, ino, &inode);
	if (err || !LINUX_S_ISLNK(inode.i_mode)) {
		fuse_reply_err(req, err ? err : EINVAL);
		return;
	}
	buf = calloc(1, EXT2_I_SIZE(&inode) + 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (ext2fs_is_fast_symlink(ext2(&inode))) {
		memcpy(buf, inode.i_block, EXT2_I_SIZE(&inode));
	} else {
		err = to_errno(ext2fs_file_open(s->fs, ino, 0, &file));
		if (!err) {
			err = to_errno(ext2fs_file_read(file, buf, EXT2_I_SIZE(&inode), &got));
			ext2fs_file_close(file);
		}
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_readlink(req, buf);
	free(buf);
}

/* --- changing ---------------------------------------------------------------- */

/* A directory changed: its times, and its link count by @nlink. */
static int touch_dir(struct ext4srv *s, ext2_ino_t dir, int nlink)
{
	struct ext2_inode_large inode;
	int err = ext4_read_inode(s, dir, &inode);

	if (err)
		return err;
	inode.i_links_count += nlink;
	ext4_touch(&inode, true);
	return ext4_write_inode(s, dir, &inode);
}

/* A new name for @ino in @dir, which gains @nlink links (a moved directory's ".."). */
static int add_link(struct ext4srv *s, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		    mode_t mode, int nlink)
{
	errcode_t err = ext2fs_link(s->fs, dir, name, ino, dirent_type(mode));

	if (err == EXT2_ET_DIR_NO_SPACE) {
		err = ext2fs_expand_dir(s->fs, dir);
		if (!err)
			err = ext2fs_link(s->fs, dir, name, ino, dirent_type(mode));
	}
	return err ? to_errno(err) : touch_dir(s, dir, nlink);
}

static int remove_link(struct ext4srv *s, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		       bool isdir)
{
	int err = to_errno(ext2fs_unlink(s->fs, dir, name, ino, 0));

	if (!err)
		err = touch_dir(s, dir, isdir ? -1 : 0);
	if (!err)
		err = ext4_drop_link(s, ino);
	return err;
}

/*
 * libext2fs makes directories and symlinks owned by root with its own
 * modes and second-granular times: make them the caller's.
 */
static int own_inode(struct ext4srv *s, ext2_ino_t dir, ext2_ino_t ino, mode_t mode,
		     const struct fuse_ctx *who)
{
	struct ext2_inode_large parent, inode;
	uint32_t gid = who->gid;
	int err;

	err = ext4_read_inode(s, dir, &parent);
	if (!err)
		err = ext4_read_inode(s, ino, &inode);
	if (err)
		return err;
	if (parent.i_mode & S_ISGID) {
		gid = inode_gid(parent);
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	inode.i_mode = mode;
	inode.i_uid = who->uid & 0xffff;
	ext2fs_set_i_uid_high(inode, who->uid >> 16);
	inode.i_gid = gid & 0xffff;
	ext2fs_set_i_gid_high(inode, gid >> 16);
	ext4_touch(&inode, true);
	inode.i_atime = inode.i_mtime;
	inode.i_atime_extra = inode.i_mtime_extra;
	return ext4_write_inode(s, ino, &inode);
}

/* Name a just-made inode, or undo it. */
static int link_new(struct ext4srv *s, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		    mode_t mode)
{
	/* ext2fs_mkdir already counted a new directory's "..". */
	int err = add_link(s, dir, name, ino, mode, 0);

	if (err) {
		if (S_ISDIR(mode))
			touch_dir(s, dir, -1);
		ext4_drop_link(s, ino);
	}
	return err;
}

static void set_rdev(struct ext2_inode_large *inode, dev_t rdev)
{
	unsigned int ma = major(rdev), mi = minor(rdev);

	/* ext4's encodings: 8+8 bits in i_block[0], or 12+20 in i_block[1]. */
	if (ma < 256 && mi < 256)
		inode->i_block[0] = ma << 8 | mi;
	else
		inode->i_block[1] = (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev, ext2_ino_t *ino)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t dir = to_ino(parent);
	struct ext2_inode_large inode;
	int err;

	err = check_free(s, dir, name);
	if (!err)
		err = ext4_new_inode(s, dir, mode, fuse_req_ctx(req), ino, &inode);
	if (err)
		return err;
	if (S_ISCHR(mode) || S_ISBLK(mode)) {
		set_rdev(&inode, rdev);
		err = ext4_write_inode(s, *ino, &inode);
		if (err) {
			ext4_drop_link(s, *ino);
			return err;
		}
	}
	return link_new(s, dir, name, *ino, mode);
}

void ext4_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	ext2_ino_t ino;
	int err = make_node(req, parent, name, mode, rdev, &ino);

	if (err)
		fuse_reply_err(req, err);
	else
		ext4_reply_entry(req, ino, NULL);
}

void ext4_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		 struct fuse_file_info *fi)
{
	ext2_ino_t ino;
	int err = make_node(req, parent, name, S_IFREG | (mode & 07777), 0, &ino);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->keep_cache = 1;
	ext4_reply_entry(req, ino, fi);
}

void ext4_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t dir = to_ino(parent), ino;
	int err;

	err = check_free(s, dir, name);
	if (!err)
		err = to_errno(ext2fs_new_inode(s->fs, dir, LINUX_S_IFDIR | 0755, NULL, &ino));
	/* No name yet: we link it ourselves, growing the parent if need be. */
	if (!err)
		err = to_errno(ext2fs_mkdir(s->fs, dir, ino, NULL));
	if (!err) {
		err = own_inode(s, dir, ino, S_IFDIR | (mode & 07777), fuse_req_ctx(req));
		if (err) {
			touch_dir(s, dir, -1);
			ext4_drop_link(s, ino);
		}
	}
	if (!err)
		err = link_new(s, dir, name, ino, S_IFDIR);
	if (err)
		fuse_reply_err(req, err);
	else
		ext4_reply_entry(req, ino, NULL);
}

void ext4_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t dir = to_ino(parent), ino;
	int err;

	err = check_free(s, dir, name);
	if (!err && strlen(target) >= s->fs->blocksize)
		err = ENAMETOOLONG;
	if (!err)
		err = to_errno(ext2fs_new_inode(s->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino));
	if (!err)
		err = to_errno(ext2fs_symlink(s->fs, dir, ino, NULL, target));
	if (!err) {
		err = own_inode(s, dir, ino, S_IFLNK | 0777, fuse_req_ctx(req));
		if (!err)
			err = link_new(s, dir, name, ino, S_IFLNK);
		else
			ext4_drop_link(s, ino);
	}
	if (err)
		fuse_reply_err(req, err);
	else
		ext4_reply_entry(req, ino, NULL);
}

void ext4_link(fuse_req_t req, fuse_ino_t nodeid, fuse_ino_t parent, const char *name)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t ino = to_ino(nodeid), dir = to_ino(parent);
	struct ext2_inode_large inode;
	int err;

	err = check_free(s, dir, name);
	if (!err)
		err = ext4_read_inode(s, ino, &inode);
	if (!err && LINUX_S_ISDIR(inode.i_mode))
		err = EPERM;
	if (!err && inode.i_links_count >= EXT2_LINK_MAX)
		err = EMLINK;
	if (!err) {
		inode.i_links_count++;
		ext4_touch(&inode, false);
		err = ext4_write_inode(s, ino, &inode);
	}
	if (!err) {
		err = add_link(s, dir, name, ino, inode.i_mode, 0);
		if (err)
			ext4_drop_link(s, ino);
	}
	if (err)
		fuse_reply_err(req, err);
	else
		ext4_reply_entry(req, ino, NULL);
}

void ext4_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t dir = to_ino(parent), ino;
	struct ext2_inode_large inode;
	int err;

	err = find(s, dir, name, &ino);
	if (!err)
		err = ext4_read_inode(s, ino, &inode);
	if (!err && LINUX_S_ISDIR(inode.i_mode))
		err = EISDIR;
	if (!err)
		err = remove_link(s, dir, name, ino, false);
	fuse_reply_err(req, err);
}

static int any_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
		     int blocksize, char *block, void *priv)
{
	(void)dir, (void)de, (void)offset, (void)blocksize, (void)block;
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE)
		return 0;
	*(bool *)priv = true;
	return DIRENT_ABORT;
}

static int check_empty(struct ext4srv *s, ext2_ino_t dir)
{
	bool found = false;
	errcode_t err = ext2fs_dir_iterate2(s->fs, dir, 0, NULL, any_entry, &found);

	return err ? to_errno(err) : found ? ENOTEMPTY : 0;
}

void ext4_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t dir = to_ino(parent), ino;
	struct ext2_inode_large inode;
	int err;

	err = find(s, dir, name, &ino);
	if (!err)
		err = ext4_read_inode(s, ino, &inode);
	if (!err && !LINUX_S_ISDIR(inode.i_mode))
		err = ENOTDIR;
	if (!err)
		err = check_empty(s, ino);
	if (!err)
		err = remove_link(s, dir, name, ino, true);
	fuse_reply_err(req, err);
}

static int set_dotdot(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
		      int blocksize, char *block, void *priv)
{
	(void)dir, (void)offset, (void)blocksize, (void)block;
	if (entry != DIRENT_DOT_DOT_FILE)
		return 0;
	de->inode = *(ext2_ino_t *)priv;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

/* Make room for @ino at @dir/@name: an existing target of the same kind goes. */
static int replace_target(struct ext4srv *s, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			  bool isdir, unsigned int flags)
{
	struct ext2_inode_large inode;
	ext2_ino_t old;
	int err = find(s, dir, name, &old);

	if (err == ENOENT)
		return 0;
	if (err)
		return err;
	if (flags & RENAME_NOREPLACE)
		return EEXIST;
	if (old == ino)
		return EALREADY;
	err = ext4_read_inode(s, old, &inode);
	if (err)
		return err;
	if (LINUX_S_ISDIR(inode.i_mode) != isdir)
		return isdir ? ENOTDIR : EISDIR;
	if (isdir) {
		err = check_empty(s, old);
		if (err)
			return err;
	}
	return remove_link(s, dir, name, old, isdir);
}

void ext4_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		 const char *newname, unsigned int flags)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t from = to_ino(parent), to = to_ino(newparent), ino;
	struct ext2_inode_large inode;
	bool isdir;
	int err;

	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	err = find(s, from, name, &ino);
	if (!err)
		err = check_name(newname);
	if (!err)
		err = ext4_read_inode(s, ino, &inode);
	if (err)
		goto out;
	isdir = LINUX_S_ISDIR(inode.i_mode);
	err = replace_target(s, to, newname, ino, isdir, flags);
	if (err)
		goto out;
	/* New name first: a failure after this leaves two names, never none. */
	err = add_link(s, to, newname, ino, inode.i_mode, isdir ? 1 : 0);
	if (!err)
		err = to_errno(ext2fs_unlink(s->fs, from, name, ino, 0));
	if (!err)
		err = touch_dir(s, from, isdir ? -1 : 0);
	if (!err && isdir && from != to)
		err = to_errno(ext2fs_dir_iterate2(s->fs, ino, 0, NULL, set_dotdot, &to));
	if (!err && !(err = ext4_read_inode(s, ino, &inode))) {
		ext4_touch(&inode, false);
		err = ext4_write_inode(s, ino, &inode);
	}
out:
	fuse_reply_err(req, err == EALREADY ? 0 : err);
}
