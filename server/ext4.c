// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: an ext4 image served through Debian's libext2fs, with
 * file data on the iomap path: the kernel asks this server where a file's
 * blocks are (read from the inode's extent tree) and reads them from the
 * image itself.  File data never passes through the server.
 *
 * This version serves images read-only: names, attributes, directories,
 * symlinks, hard links, xattrs, statfs, and mappings (holes as HOLE,
 * uninitialized extents as UNWRITTEN).  Images needing journal recovery,
 * or with features it cannot map (inline data, encryption, verity,
 * casefolding), are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <linux/loop.h>
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>
#include <fuse_lowlevel.h>

#include "iomap_session.h"
#include "mount.h"

struct ext4srv {
	ext2_filsys fs;
	unsigned int bbits;	/* log2 of the file system block size */
	uint32_t cookie;	/* of the registered block device */
};

static struct ext4srv *srv_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* fuse's root is node 1; ext4's root directory is inode 2 (1 is bad blocks). */
static ext2_ino_t to_ino(fuse_ino_t nodeid)
{
	return nodeid == FUSE_ROOT_ID ? EXT2_ROOT_INO : nodeid;
}

static fuse_ino_t to_nodeid(ext2_ino_t ino)
{
	return ino == EXT2_ROOT_INO ? FUSE_ROOT_ID : ino;
}

/* libext2fs errors are com_err codes; the kernel wants an errno. */
static int to_errno(errcode_t err)
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
	}
	return EIO;
}

static int read_inode(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	if (ino < EXT2_FIRST_INO(s->fs->super) && ino != EXT2_ROOT_INO)
		return ESTALE;
	return to_errno(ext2fs_read_inode_full(s->fs, ino, (struct ext2_inode *)inode,
					       sizeof(*inode)));
}

static int fill_stat(struct ext4srv *s, ext2_ino_t ino, struct stat *st)
{
	struct ext2_inode_large inode;
	int err = read_inode(s, ino, &inode);

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = inode.i_mode;
	st->st_nlink = inode.i_links_count;
	st->st_uid = inode_uid(inode);
	st->st_gid = inode_gid(inode);
	st->st_size = EXT2_I_SIZE(&inode);
	st->st_blocks = ext2fs_get_stat_i_blocks(s->fs, (struct ext2_inode *)&inode);
	st->st_blksize = s->fs->blocksize;
	st->st_atime = inode.i_atime;
	st->st_mtime = inode.i_mtime;
	st->st_ctime = inode.i_ctime;
	if (LINUX_S_ISCHR(inode.i_mode) || LINUX_S_ISBLK(inode.i_mode)) {
		/* Old (16-bit) device numbers in i_block[0], new ones in [1]. */
		uint32_t d = inode.i_block[0] ? inode.i_block[0] : inode.i_block[1];

		st->st_rdev = inode.i_block[0] ? makedev((d >> 8) & 0xff, d & 0xff)
					       : makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
	}
	return 0;
}

static void ext4_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ext4srv *s = srv_of(req);
	struct fuse_entry_param e = { .attr_timeout = 60.0, .entry_timeout = 60.0 };
	ext2_ino_t ino;
	int err;

	err = to_errno(ext2fs_lookup(s->fs, to_ino(parent), name, strlen(name), NULL, &ino));
	if (!err)
		err = fill_stat(s, ino, &e.attr);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	e.ino = to_nodeid(ino);
	fuse_reply_entry(req, &e);
}

static void ext4_getattr(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct stat st;
	int err;

	(void)fi;
	err = fill_stat(srv_of(req), to_ino(nodeid), &st);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, 60.0);
}

static void ext4_readlink(fuse_req_t req, fuse_ino_t nodeid)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	ext2_file_t file;
	unsigned int got;
	char *buf;
	int err;

	err = read_inode(s, ino, &inode);
	if (err || !LINUX_S_ISLNK(inode.i_mode)) {
		fuse_reply_err(req, err ? err : EINVAL);
		return;
	}
	buf = calloc(1, EXT2_I_SIZE(&inode) + 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (ext2fs_is_fast_symlink((struct ext2_inode *)&inode)) {
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

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	off_t skip, idx;
	bool full;
};

static int ext4_dir_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
			  int blocksize, char *block, void *priv)
{
	struct dirbuf *d = priv;
	int len = ext2fs_dirent_name_len(de);
	char name[EXT2_NAME_LEN + 1];
	struct stat st = { 0 };
	size_t n;

	(void)dir, (void)entry, (void)offset, (void)blocksize, (void)block;
	if (d->idx++ < d->skip)
		return 0;
	memcpy(name, de->name, len);
	name[len] = 0;
	st.st_ino = de->inode;
	switch (ext2fs_dirent_file_type(de)) {
	case EXT2_FT_REG_FILE: st.st_mode = S_IFREG; break;
	case EXT2_FT_DIR: st.st_mode = S_IFDIR; break;
	case EXT2_FT_SYMLINK: st.st_mode = S_IFLNK; break;
	case EXT2_FT_CHRDEV: st.st_mode = S_IFCHR; break;
	case EXT2_FT_BLKDEV: st.st_mode = S_IFBLK; break;
	case EXT2_FT_FIFO: st.st_mode = S_IFIFO; break;
	case EXT2_FT_SOCK: st.st_mode = S_IFSOCK; break;
	}
	n = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &st, d->idx);
	if (n > d->size - d->used) {
		d->full = true;
		return DIRENT_ABORT;
	}
	d->used += n;
	return 0;
}

static void ext4_readdir(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct dirbuf d = { .req = req, .size = size, .skip = off };
	errcode_t err;

	(void)fi;
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Offsets are entry indexes, "." and ".." included. */
	err = ext2fs_dir_iterate2(srv_of(req)->fs, to_ino(nodeid), 0, NULL, ext4_dir_entry, &d);
	if (err && !d.full)
		fuse_reply_err(req, to_errno(err));
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

struct xattr_list {
	char *buf;
	size_t size, used;
};

static int ext4_xattr_name(char *name, char *value, size_t value_len, void *priv)
{
	struct xattr_list *l = priv;
	size_t n = strlen(name) + 1;

	(void)value, (void)value_len;
	if (l->buf && l->used + n <= l->size)
		memcpy(l->buf + l->used, name, n);
	l->used += n;
	return 0;
}

static int open_xattrs(struct ext4srv *s, fuse_ino_t nodeid, struct ext2_xattr_handle **h)
{
	errcode_t err = ext2fs_xattrs_open(s->fs, to_ino(nodeid), h);

	if (err)
		return to_errno(err);
	err = ext2fs_xattrs_read(*h);
	if (err) {
		ext2fs_xattrs_close(h);
		return to_errno(err);
	}
	return 0;
}

static void ext4_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size)
{
	struct ext2_xattr_handle *h;
	struct xattr_list l = { .size = size };
	int err;

	err = open_xattrs(srv_of(req), nodeid, &h);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	l.buf = size ? malloc(size) : NULL;
	ext2fs_xattrs_iterate(h, ext4_xattr_name, &l);
	ext2fs_xattrs_close(&h);
	if (!size)
		fuse_reply_xattr(req, l.used);
	else if (l.used > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, l.buf, l.used);
	free(l.buf);
}

static void ext4_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name, size_t size)
{
	struct ext2_xattr_handle *h;
	size_t len = 0;
	void *value;
	int err;

	err = open_xattrs(srv_of(req), nodeid, &h);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	err = to_errno(ext2fs_xattr_get(h, name, &value, &len));
	ext2fs_xattrs_close(&h);
	if (err)
		fuse_reply_err(req, err);
	else if (!size)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
	if (!err)
		ext2fs_free_mem(&value);
}

static void ext4_statfs(fuse_req_t req, fuse_ino_t nodeid)
{
	struct ext2_super_block *sb = srv_of(req)->fs->super;
	struct statvfs sv = {
		.f_bsize = EXT2_BLOCK_SIZE(sb),
		.f_frsize = EXT2_BLOCK_SIZE(sb),
		.f_blocks = ext2fs_blocks_count(sb),
		.f_bfree = ext2fs_free_blocks_count(sb),
		.f_files = sb->s_inodes_count,
		.f_ffree = sb->s_free_inodes_count,
		.f_namemax = EXT2_NAME_LEN,
	};

	(void)nodeid;
	sv.f_bavail = sv.f_bfree > ext2fs_r_blocks_count(sb) ? sv.f_bfree - ext2fs_r_blocks_count(sb) : 0;
	sv.f_favail = sv.f_ffree;
	fuse_reply_statfs(req, &sv);
}

/* --- mappings --------------------------------------------------------------- */

static struct fuse_iomap_io ext4_extent_map(struct ext4srv *s, blk64_t lblk, blk64_t pblk,
					    blk64_t len, bool uninit)
{
	return (struct fuse_iomap_io){
		.offset = lblk << s->bbits, .length = len << s->bbits,
		.addr = pblk << s->bbits, .dev = s->cookie,
		.type = uninit ? FUSE_IOMAP_TYPE_UNWRITTEN : FUSE_IOMAP_TYPE_MAPPED,
	};
}

/* Walk the extent tree's leaves for the one holding @lblk, or the hole around it. */
static int ext4_map_extents(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode *inode,
			    blk64_t lblk, struct fuse_iomap_io *map)
{
	blk64_t hole_end = FUSE_IOMAP_MAX_END >> s->bbits;
	struct ext2fs_extent e;
	ext2_extent_handle_t h;
	errcode_t err;

	err = ext2fs_extent_open2(s->fs, ino, inode, &h);
	if (err)
		return to_errno(err);
	for (err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e); !err;
	     err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &e)) {
		if (!(e.e_flags & EXT2_EXTENT_FLAGS_LEAF) || !e.e_len)
			continue;
		if (e.e_lblk > lblk) {
			hole_end = e.e_lblk;
			break;
		}
		if (lblk < e.e_lblk + e.e_len) {
			*map = ext4_extent_map(s, e.e_lblk, e.e_pblk, e.e_len,
					       e.e_flags & EXT2_EXTENT_FLAGS_UNINIT);
			ext2fs_extent_free(h);
			return 0;
		}
	}
	ext2fs_extent_free(h);
	if (err && err != EXT2_ET_EXTENT_NO_NEXT && err != EXT2_ET_EXTENT_NOT_FOUND)
		return to_errno(err);
	*map = fi_iomap_hole(lblk << s->bbits, (hole_end - lblk) << s->bbits);
	return 0;
}

/* Block-mapped (ext2/3 style) files: one run of contiguous blocks. */
static int ext4_map_blockmap(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode *inode,
			     blk64_t lblk, blk64_t want, struct fuse_iomap_io *map)
{
	blk64_t first, pblk, n;
	errcode_t err;

	err = ext2fs_bmap2(s->fs, ino, inode, NULL, 0, lblk, NULL, &first);
	if (err)
		return to_errno(err);
	for (n = 1; n < want; n++) {
		err = ext2fs_bmap2(s->fs, ino, inode, NULL, 0, lblk + n, NULL, &pblk);
		if (err)
			return to_errno(err);
		if (!first ? pblk != 0 : pblk != first + n)
			break;
	}
	*map = first ? ext4_extent_map(s, lblk, first, n, false)
		     : fi_iomap_hole(lblk << s->bbits, n << s->bbits);
	return 0;
}

static int ext4_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		      struct fuse_iomap_begin_out *out)
{
	struct ext4srv *s = ctx;
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	blk64_t lblk = in->pos >> s->bbits;
	blk64_t want = ((in->pos + (in->count ? in->count : 1) - 1) >> s->bbits) - lblk + 1;
	int err;

	/* Read-only: the mount is MS_RDONLY, so the kernel sends no writes. */
	if (in->opflags & FUSE_IOMAP_OP_WRITE)
		return EROFS;
	err = read_inode(s, ino, &inode);
	if (err)
		return err;
	if (!LINUX_S_ISREG(inode.i_mode))
		return EINVAL;
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	if (inode.i_flags & EXT4_EXTENTS_FL)
		return ext4_map_extents(s, ino, (struct ext2_inode *)&inode, lblk, &out->read);
	return ext4_map_blockmap(s, ino, (struct ext2_inode *)&inode, lblk, want, &out->read);
}

static const struct fi_iomap_ops ext4_iomap_ops = {
	.begin = ext4_begin,
};

/* --- opening ----------------------------------------------------------------- */

static int ext4_check_features(const char *image, ext2_filsys fs)
{
	const char *why = NULL;

	if (ext2fs_has_feature_journal_needs_recovery(fs->super))
		why = "its journal needs recovery (run e2fsck -fy first; journal replay is not supported)";
	else if (ext2fs_has_feature_inline_data(fs->super))
		why = "feature inline_data is not supported";
	else if (ext2fs_has_feature_encrypt(fs->super))
		why = "feature encrypt is not supported";
	else if (ext2fs_has_feature_verity(fs->super))
		why = "feature verity is not supported";
	else if (ext2fs_has_feature_casefold(fs->super))
		why = "feature casefold is not supported";
	else if (fs->blocksize > 4096)
		why = "block sizes above 4096 are not supported";
	if (!why)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't serve %s: %s\n", image, why);
	return -1;
}

/*
 * The kernel needs a block device to register.  A regular file gets a loop
 * device of its own that goes away with its last user (LO_FLAGS_AUTOCLEAR).
 */
static int ext4_open_dev(const char *image, bool ro)
{
	struct loop_config cfg = { 0 };
	int fd, ctl, lfd, nr, err;
	char path[32];
	struct stat st;

	fd = open(image, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "fuse-iomap-ext4: can't open %s: %s\n", image, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
		return fd;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	nr = ctl < 0 ? -1 : ioctl(ctl, LOOP_CTL_GET_FREE);
	err = errno;
	if (ctl >= 0)
		close(ctl);
	if (nr < 0) {
		fprintf(stderr, "fuse-iomap-ext4: can't get a loop device for %s: %s\n", image,
			strerror(err));
		close(fd);
		return -err;
	}
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	lfd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	cfg.fd = fd;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
	if (lfd < 0 || ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
		err = errno;
		fprintf(stderr, "fuse-iomap-ext4: can't attach %s to %s: %s\n", image, path, strerror(err));
		if (lfd >= 0)
			close(lfd);
		close(fd);
		return -err;
	}
	close(fd);
	return lfd;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-ext4 [OPTIONS] IMAGE MOUNTPOINT\n"
"\n"
"Serve the ext4 file system in IMAGE (an image file or a block device) at\n"
"MOUNTPOINT through the iomap data path of fuse_iomap.ko: file data moves\n"
"between the kernel and IMAGE directly; this server only maps file blocks.\n"
"Runs in the foreground until MOUNTPOINT is unmounted (or SIGINT/SIGTERM/\n"
"SIGHUP).  Needs CAP_SYS_RAWIO.  This version serves read-only.\n"
"\n"
"Options:\n"
"  -r, --read-only   serve read-only (the default, and for now the only mode)\n"
"  -l, --log FILE    append one line per FUSE_IOMAP_BEGIN to FILE\n"
"  -d, --debug       print every request (libfuse debug output)\n"
"  -h, --help        print this help and exit\n"
"\n"
"Refused: images whose journal needs recovery (run e2fsck first), and the\n"
"features inline_data, encrypt, verity and casefold.\n");
}

static int ext4_ready(struct fuse_session *se, uint32_t cookie, uint64_t size, void *ctx)
{
	(void)se, (void)size;
	((struct ext4srv *)ctx)->cookie = cookie;
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct fuse_lowlevel_ops ops = {
		.lookup = ext4_lookup,
		.getattr = ext4_getattr,
		.readlink = ext4_readlink,
		.readdir = ext4_readdir,
		.listxattr = ext4_listxattr,
		.getxattr = ext4_getxattr,
		.statfs = ext4_statfs,
	};
	struct ext4srv s = { 0 };
	struct fi_iomap_server srv = {
		.name = "fuse-iomap-ext4",
		.mount = { .subtype = "ext4", .readonly = true },
		.ops = &ops,
		.iomap = &ext4_iomap_ops,
		.ctx = &s,
		.ready = ext4_ready,
	};
	const char *image, *log = NULL;
	char extra[64];
	errcode_t err;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "rl:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			break;
		case 'l':
			log = optarg;
			break;
		case 'd':
			srv.debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "fuse-iomap-ext4: expected IMAGE and MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	image = argv[optind];
	srv.mount.mountpoint = argv[optind + 1];
	srv.mount.fsname = image;

	initialize_ext2_error_table();
	err = ext2fs_open2(image, NULL, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &s.fs);
	if (err) {
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: %s\n", image,
			err == ENOENT ? strerror(ENOENT) : error_message(err));
		return 1;
	}
	if (ext4_check_features(image, s.fs))
		goto out_fs;
	s.bbits = __builtin_ctz(s.fs->blocksize);
	srv.dev_fd = ext4_open_dev(image, true);
	if (srv.dev_fd < 0)
		goto out_fs;
	if (log) {
		srv.log = fopen(log, "a");
		if (!srv.log) {
			fprintf(stderr, "fuse-iomap-ext4: can't open %s: %s\n", log, strerror(errno));
			goto out_dev;
		}
	}
	snprintf(extra, sizeof(extra), "iomap,iomap_blksize=%u", s.fs->blocksize);
	srv.mount.extra_opts = extra;
	ret = fi_iomap_serve(&srv) ? 1 : 0;
	if (srv.log)
		fclose(srv.log);
out_dev:
	close(srv.dev_fd);
out_fs:
	ext2fs_close_free(&s.fs);
	return ret;
}
