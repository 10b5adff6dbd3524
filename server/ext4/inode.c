// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: inodes.  Reading and writing them (with nanosecond
 * times in the large inode), making new ones, attributes, and their end
 * of life: an inode whose last name goes away stays allocated while the
 * kernel still holds it (an open file stays readable after unlink), and
 * is freed when the kernel forgets it, or when the server stops.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/sysmacros.h>

#include "ext4.h"

#define EXT4_REF_BUCKETS	(1U << 16)

/* libext2fs errors are com_err codes; the kernel wants an errno. */
int to_errno(errcode_t err)
{
	if (err > 0 && err < 256)
		return err;
	switch (err) {
	case 0:
		return 0;
	case EXT2_ET_NO_MEMORY:
		return ENOMEM;
	case EXT2_ET_FILE_NOT_FOUND:
		return ENOENT;
	case EXT2_ET_NO_DIRECTORY:
		return ENOTDIR;
	case EXT2_ET_EA_KEY_NOT_FOUND:
		return ENODATA;
	case EXT2_ET_BAD_INODE_NUM:
		return ESTALE;
	case EXT2_ET_DIR_EXISTS:
		return EEXIST;
	case EXT2_ET_RO_FILSYS:
		return EROFS;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_EA_NO_SPACE:
		return ENOSPC;
	case EXT2_ET_FILE_TOO_BIG:
		return EFBIG;
	case EXT2_ET_UNIMPLEMENTED:
	case EXT2_ET_OP_NOT_SUPPORTED:
		return EOPNOTSUPP;
	}
	return EIO;
}

int ext4_read_inode(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	int err;

	if ((ino < EXT2_FIRST_INO(s->fs->super) && ino != EXT2_ROOT_INO) ||
	    ino > s->fs->super->s_inodes_count)
		return ESTALE;
	err = to_errno(ext2fs_read_inode_full(s->fs, ino, ext2(inode), sizeof(*inode)));
	/* 128-byte inodes have no room for the fields past i_extra_isize. */
	if (!err && EXT2_INODE_SIZE(s->fs->super) <= EXT2_GOOD_OLD_INODE_SIZE)
		inode->i_extra_isize = 0;
	return err;
}

int ext4_write_inode(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	return to_errno(ext2fs_write_inode_full(s->fs, ino, ext2(inode), sizeof(*inode)));
}

/*
 * ext4 keeps seconds in 32 bits and two more bits of epoch beside the
 * nanoseconds, in fields past i_extra_isize's start that only a large enough
 * inode has.  (libext2fs names its own test inode_includes up to 1.47.0 and
 * ext2fs_inode_includes from 1.47.1.)
 */
#define HAS_EXTRA(inode, field) \
	(EXT2_GOOD_OLD_INODE_SIZE + (size_t)(inode)->i_extra_isize >= \
	 offsetof(struct ext2_inode_large, field) + sizeof((inode)->field))

static struct timespec get_time(uint32_t sec, uint32_t extra, bool has_extra)
{
	struct timespec ts = { .tv_sec = (int32_t)sec };

	if (has_extra) {
		ts.tv_sec += (int64_t)(extra & EXT4_EPOCH_MASK) << 32;
		ts.tv_nsec = extra >> EXT4_EPOCH_BITS;
	}
	return ts;
}

static void put_time(uint32_t *sec, uint32_t *extra, bool has_extra, struct timespec ts)
{
	*sec = (uint32_t)ts.tv_sec;
	if (has_extra)
		*extra = (((ts.tv_sec - (int32_t)ts.tv_sec) >> 32) & EXT4_EPOCH_MASK) |
			 (uint32_t)ts.tv_nsec << EXT4_EPOCH_BITS;
}

#define GET_TIME(inode, x) get_time((inode)->i_##x, (inode)->i_##x##_extra, \
				    HAS_EXTRA(inode, i_##x##_extra))
#define PUT_TIME(inode, x, ts) put_time(&(inode)->i_##x, &(inode)->i_##x##_extra, \
					HAS_EXTRA(inode, i_##x##_extra), ts)

static struct timespec now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* A change: ctime, and mtime too when the contents changed. */
void ext4_touch(struct ext2_inode_large *inode, bool mtime)
{
	struct timespec ts = now();

	PUT_TIME(inode, ctime, ts);
	if (mtime)
		PUT_TIME(inode, mtime, ts);
}

void ext4_stat(struct ext4srv *s, ext2_ino_t ino, const struct ext2_inode_large *inode,
	       struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = inode->i_mode;
	st->st_nlink = inode->i_links_count;
	st->st_uid = inode_uid(*inode);
	st->st_gid = inode_gid(*inode);
	st->st_size = EXT2_I_SIZE(inode);
	st->st_blocks = ext2fs_get_stat_i_blocks(s->fs, (struct ext2_inode *)inode);
	st->st_blksize = s->fs->blocksize;
	st->st_atim = GET_TIME(inode, atime);
	st->st_mtim = GET_TIME(inode, mtime);
	st->st_ctim = GET_TIME(inode, ctime);
	if (LINUX_S_ISCHR(inode->i_mode) || LINUX_S_ISBLK(inode->i_mode)) {
		/* Old (16-bit) device numbers in i_block[0], new ones in [1]. */
		uint32_t d = inode->i_block[0] ? inode->i_block[0] : inode->i_block[1];

		st->st_rdev = inode->i_block[0] ? makedev((d >> 8) & 0xff, d & 0xff)
						: makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
	}
}

/* --- the kernel's references ------------------------------------------------- */

static struct ext4_ref **ref_slot(struct ext4srv *s, ext2_ino_t ino)
{
	struct ext4_ref **pp;

	if (!s->refs) {
		s->refs = calloc(EXT4_REF_BUCKETS, sizeof(*s->refs));
		if (!s->refs)
			return NULL;
		s->nr_buckets = EXT4_REF_BUCKETS;
	}
	for (pp = &s->refs[ino % s->nr_buckets]; *pp; pp = &(*pp)->next)
		if ((*pp)->ino == ino)
			break;
	return pp;
}

struct ext4_ref *ext4_ref_find(struct ext4srv *s, ext2_ino_t ino)
{
	struct ext4_ref **pp = ref_slot(s, ino);

	return pp ? *pp : NULL;
}

static int ref_get(struct ext4srv *s, ext2_ino_t ino)
{
	struct ext4_ref **pp = ref_slot(s, ino);

	if (!pp)
		return ENOMEM;
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return ENOMEM;
		(*pp)->ino = ino;
	}
	(*pp)->nlookup++;
	return 0;
}

/*
 * The orphan list (the super block's s_last_orphan, each inode's dtime
 * naming the next) holds the inodes with no names that are still in use,
 * so that after a crash whoever mounts the image frees them, as for the
 * kernel's ext4.  Takes @ino (whose dtime is @next) off it.
 */
static int orphan_remove(struct ext4srv *s, ext2_ino_t ino, ext2_ino_t next)
{
	struct ext2_super_block *sb = s->fs->super;
	struct ext2_inode_large prev;
	ext2_ino_t cur = sb->s_last_orphan;
	uint32_t n;
	int err;

	if (cur == ino) {
		sb->s_last_orphan = next;
		ext2fs_mark_super_dirty(s->fs);
		return 0;
	}
	for (n = 0; cur && n < sb->s_inodes_count; n++) {
		err = ext4_read_inode(s, cur, &prev);
		if (err)
			return err;
		if (prev.i_dtime == ino) {
			prev.i_dtime = next;
			return ext4_write_inode(s, cur, &prev);
		}
		cur = prev.i_dtime;
	}
	return 0;
}

static int ext4_free_inode(struct ext4srv *s, ext2_ino_t ino, bool orphan)
{
	struct ext2_inode_large inode;
	int err = ext4_read_inode(s, ino, &inode);

	if (!err && orphan)
		err = orphan_remove(s, ino, inode.i_dtime);
	if (err)
		return err;
	ext4_bpf_forget(s, ino);
	if (ext2fs_inode_has_valid_blocks2(s->fs, ext2(&inode)))
		err = ext4_punch(s, ino, &inode, 0, ~0ULL);
	if (!err)
		err = to_errno(ext2fs_free_ext_attr(s->fs, ino, &inode));
	if (err)
		return err;
	inode.i_links_count = 0;
	inode.i_dtime = (uint32_t)now().tv_sec;
	err = ext4_write_inode(s, ino, &inode);
	if (!err)
		ext2fs_inode_alloc_stats2(s->fs, ino, -1, LINUX_S_ISDIR(inode.i_mode));
	return err;
}

/* What a truncation left past the end of file; writes @inode. */
static int ext4_drop_past_eof(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	blk64_t keep = (EXT2_I_SIZE(inode) + s->fs->blocksize - 1) >> s->bbits;
	int err = 0;

	if (ext2fs_inode_has_valid_blocks2(s->fs, ext2(inode)))
		err = ext4_punch(s, ino, inode, keep, ~0ULL);
	return err ?: ext4_write_inode(s, ino, inode);
}

/*
 * One inode the orphan file names (not on the list): freed if it has no
 * names, else cut back to its size, as for a listed one.
 */
int ext4_orphan_recover_one(struct ext4srv *s, ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	int err = ext4_read_inode(s, ino, &inode);

	if (err)
		return err;
	if (!inode.i_links_count)
		return ext4_free_inode(s, ino, false);
	return ext4_drop_past_eof(s, ino, &inode);
}

/*
 * After a crash: free the orphans a server or the kernel left, and cut
 * back those it was truncating (an inode with names on the list) to
 * their size.
 */
int ext4_orphans_recover(struct ext4srv *s, unsigned int *freed)
{
	struct ext2_super_block *sb = s->fs->super;
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	int err;

	*freed = 0;
	while ((ino = sb->s_last_orphan)) {
		if (ino < EXT2_FIRST_INO(sb) || ino > sb->s_inodes_count ||
		    *freed >= sb->s_inodes_count)
			return EUCLEAN;
		err = ext4_read_inode(s, ino, &inode);
		if (err)
			return err;
		if (!inode.i_links_count) {
			err = ext4_free_inode(s, ino, true);
		} else {
			sb->s_last_orphan = inode.i_dtime;
			ext2fs_mark_super_dirty(s->fs);
			inode.i_dtime = 0;
			err = ext4_drop_past_eof(s, ino, &inode);
		}
		if (err)
			return err;
		(*freed)++;
	}
	return 0;
}

static void ref_put(struct ext4srv *s, ext2_ino_t ino, uint64_t n)
{
	struct ext4_ref **pp = ref_slot(s, ino), *r;

	if (!pp || !(r = *pp))
		return;
	r->nlookup = n < r->nlookup ? r->nlookup - n : 0;
	if (r->nlookup)
		return;
	*pp = r->next;
	if (r->orphan)
		ext4_free_inode(s, ino, true);
	else
		ext4_tail_trim(s, r);
	free(r);
}

void ext4_forget(fuse_req_t req, fuse_ino_t nodeid, uint64_t nlookup)
{
	ref_put(srv_of(req), to_ino(nodeid), nlookup);
	fuse_reply_none(req);
}

void ext4_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		ref_put(srv_of(req), to_ino(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

/* On the way out nobody holds anything: free what was only kept for the kernel. */
void ext4_free_orphans(struct ext4srv *s)
{
	for (size_t b = 0; b < s->nr_buckets; b++) {
		while (s->refs[b]) {
			struct ext4_ref *r = s->refs[b];

			s->refs[b] = r->next;
			if (r->orphan)
				ext4_free_inode(s, r->ino, true);
			else
				ext4_tail_trim(s, r);
			free(r);
		}
	}
	free(s->refs);
	s->refs = NULL;
}

/* One name less; the last one gone, the inode goes too once the kernel lets go. */
int ext4_drop_link(struct ext4srv *s, ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	struct ext4_ref **pp;
	int err = ext4_read_inode(s, ino, &inode);

	if (err)
		return err;
	if (LINUX_S_ISDIR(inode.i_mode) || inode.i_links_count <= 1)
		inode.i_links_count = 0;
	else
		inode.i_links_count--;
	ext4_touch(&inode, false);
	pp = inode.i_links_count ? NULL : ref_slot(s, ino);
	if (pp && *pp && !(*pp)->orphan) {
		inode.i_dtime = s->fs->super->s_last_orphan;
		s->fs->super->s_last_orphan = ino;
		ext2fs_mark_super_dirty(s->fs);
	}
	err = ext4_write_inode(s, ino, &inode);
	if (err || inode.i_links_count)
		return err;
	if (pp && *pp) {
		(*pp)->orphan = true;
		return 0;
	}
	return ext4_free_inode(s, ino, false);
}

/* Reply with the entry for @ino (fi: to a create), counting the kernel's new reference. */
void ext4_reply_entry(fuse_req_t req, ext2_ino_t ino, struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);
	struct fuse_entry_param e = { .attr_timeout = EXT4_TIMEOUT, .entry_timeout = EXT4_TIMEOUT };
	struct ext2_inode_large inode;
	int err;

	err = ext4_read_inode(s, ino, &inode);
	if (!err)
		err = ref_get(s, ino);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	ext4_stat(s, ino, &inode, &e.attr);
	e.ino = to_nodeid(ino);
	e.generation = inode.i_generation;
	if (fi)
		ext4_writer_open(s, ino, fi);
	/* Not delivered (interrupted): the kernel holds no reference. */
	if (fi ? fuse_reply_create(req, &e, fi) : fuse_reply_entry(req, &e))
		ref_put(s, ino, 1);
}

/* --- new inodes ---------------------------------------------------------------- */

/* Write a new inode whole, so nothing of a freed one (in-inode xattrs) survives. */
static int write_new_inode(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	size_t size = EXT2_INODE_SIZE(s->fs->super);
	char *buf = calloc(1, size > sizeof(*inode) ? size : sizeof(*inode));
	int err;

	if (!buf)
		return ENOMEM;
	memcpy(buf, inode, size < sizeof(*inode) ? size : sizeof(*inode));
	err = to_errno(ext2fs_write_inode_full(s->fs, ino, (struct ext2_inode *)buf, size));
	free(buf);
	return err;
}

/*
 * Allocate and write an inode of @mode for a new name in @dir, owned by
 * the caller (group from a set-group-ID directory, as the kernel does).
 * The caller links it.
 */
int ext4_new_inode(struct ext4srv *s, ext2_ino_t dir, mode_t mode, const struct fuse_ctx *who,
		   ext2_ino_t *ino, struct ext2_inode_large *inode)
{
	struct ext2_inode_large parent;
	struct timespec ts = now();
	uint32_t gid = who->gid;
	ext2_extent_handle_t h;
	int err;

	err = ext4_read_inode(s, dir, &parent);
	if (err)
		return err;
	if (parent.i_mode & S_ISGID) {
		gid = inode_gid(parent);
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	err = to_errno(ext2fs_new_inode(s->fs, dir, mode, NULL, ino));
	if (err)
		return err;
	memset(inode, 0, sizeof(*inode));
	inode->i_mode = mode;
	inode->i_uid = who->uid & 0xffff;
	ext2fs_set_i_uid_high(*inode, who->uid >> 16);
	inode->i_gid = gid & 0xffff;
	ext2fs_set_i_gid_high(*inode, gid >> 16);
	inode->i_links_count = 1;
	if (EXT2_INODE_SIZE(s->fs->super) > EXT2_GOOD_OLD_INODE_SIZE)
		inode->i_extra_isize = sizeof(*inode) - EXT2_GOOD_OLD_INODE_SIZE;
	PUT_TIME(inode, atime, ts);
	PUT_TIME(inode, mtime, ts);
	PUT_TIME(inode, ctime, ts);
	PUT_TIME(inode, crtime, ts);
	if (S_ISREG(mode) && ext2fs_has_feature_extents(s->fs->super)) {
		/* Opening an empty inode's extent tree writes its header into i_block. */
		err = to_errno(ext2fs_extent_open2(s->fs, *ino, ext2(inode), &h));
		if (err)
			return err;
		ext2fs_extent_free(h);
	}
	err = write_new_inode(s, *ino, inode);
	if (!err)
		ext2fs_inode_alloc_stats2(s->fs, *ino, +1, S_ISDIR(mode));
	return err;
}

/* --- attributes ---------------------------------------------------------------- */

/*
 * Truncate or extend; the caller writes the inode.  A size that does not
 * grow the file frees every block past its EOF block, the same size too:
 * so a truncate drops what fallocate KEEP_SIZE preallocated past EOF, as
 * on the kernel's ext4.  Nothing can still write there: the kernel waited
 * for direct I/O, holds no page past the size it sends, and sends no more
 * than its own size, which is ours only once every ioend came.
 */
int ext4_set_size(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode, uint64_t size)
{
	uint64_t keep = (size + s->fs->blocksize - 1) >> s->bbits;
	int err;

	if (size <= EXT2_I_SIZE(inode) && ext2fs_inode_has_valid_blocks2(s->fs, ext2(inode))) {
		ext4_bpf_forget(s, ino);
		err = ext4_punch(s, ino, inode, keep, ~0ULL);
		if (!err)
			err = ext4_shrink_tree(s, ino, inode);
		if (err)
			return err;
	}
	return to_errno(ext2fs_inode_size_set(s->fs, ext2(inode), size));
}

void ext4_getattr(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);
	struct ext2_inode_large inode;
	struct stat st;
	int err;

	(void)fi;
	err = ext4_read_inode(s, to_ino(nodeid), &inode);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	ext4_stat(s, to_ino(nodeid), &inode, &st);
	fuse_reply_attr(req, &st, EXT4_TIMEOUT);
}

static int apply_attr(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		      const struct stat *attr, int to_set)
{
	int err;

	if (to_set & FUSE_SET_ATTR_MODE)
		inode->i_mode = (inode->i_mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID) {
		inode->i_uid = attr->st_uid & 0xffff;
		ext2fs_set_i_uid_high(*inode, attr->st_uid >> 16);
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		inode->i_gid = attr->st_gid & 0xffff;
		ext2fs_set_i_gid_high(*inode, attr->st_gid >> 16);
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (!LINUX_S_ISREG(inode->i_mode))
			return LINUX_S_ISDIR(inode->i_mode) ? EISDIR : EINVAL;
		/* The kernel refuses it first (s_maxbytes): for other callers. */
		if ((uint64_t)attr->st_size > s->maxbytes)
			return EFBIG;
		err = ext4_set_size(s, ino, inode, attr->st_size);
		if (err)
			return err;
	}
	ext4_touch(inode, false);
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		inode->i_atime = inode->i_ctime, inode->i_atime_extra = inode->i_ctime_extra;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		PUT_TIME(inode, atime, attr->st_atim);
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		inode->i_mtime = inode->i_ctime, inode->i_mtime_extra = inode->i_ctime_extra;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		PUT_TIME(inode, mtime, attr->st_mtim);
	/* The kernel keeps an iomap file's ctime: it hands it over here. */
	if (to_set & FUSE_SET_ATTR_CTIME)
		PUT_TIME(inode, ctime, attr->st_ctim);
	return 0;
}

void ext4_setattr(fuse_req_t req, fuse_ino_t nodeid, struct stat *attr, int to_set,
		  struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	struct stat st;
	int err;

	(void)fi;
	err = ext4_read_inode(s, ino, &inode);
	if (!err)
		err = apply_attr(s, ino, &inode, attr, to_set);
	if (!err)
		err = ext4_write_inode(s, ino, &inode);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	ext4_stat(s, ino, &inode, &st);
	fuse_reply_attr(req, &st, EXT4_TIMEOUT);
}
