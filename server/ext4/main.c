// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: an ext4 image served through Debian's libext2fs, with
 * file data on the iomap path: the kernel asks this server where a file's
 * blocks are (ext4_map.c) and moves the data to and from the image itself.
 * File data never passes through the server.
 *
 * This file opens the image (refusing what it cannot serve safely), gives
 * the kernel a block device for it, answers the file-system-wide requests
 * (statfs, xattrs, fsync) and closes the image cleanly at the end.
 * A journal that needs recovery is replayed first (replay.c).  Read-write,
 * metadata goes through the journal (journal.c), and the image stays
 * clean; with --journal=off (or no journal) it is marked not clean while
 * served, and clean again when the server stops normally.
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
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>
#include <fuse_lowlevel.h>

#include "ext4.h"

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
	struct ext4srv *s = srv_of(req);
	struct ext2_super_block *sb = s->fs->super;
	blk64_t reserved = ext2fs_r_blocks_count(sb) + s->tree_reserve;
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
	/* As the kernel's ext4: neither root's blocks nor the trees' are available. */
	sv.f_bavail = sv.f_bfree > reserved ? sv.f_bfree - reserved : 0;
	sv.f_favail = sv.f_ffree;
	fuse_reply_statfs(req, &sv);
}

static void ext4_open(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	/* We are the only writer: what the kernel cached stays true. */
	fi->keep_cache = 1;
	ext4_writer_open(srv_of(req), to_ino(nodeid), fi);
	fuse_reply_open(req, fi);
}

/* One "name value" line per counter, replaced whole (written to a new file, renamed). */
static void ext4_write_stats(struct ext4srv *s)
{
	const struct ext4_journal_stats *js = ext4_journal_stats(s);
	char tmp[4096];
	FILE *f;

	if (!s->stats_path || snprintf(tmp, sizeof(tmp), "%s.tmp", s->stats_path) >= (int)sizeof(tmp))
		return;
	s->stats_at = js->transactions;
	f = fopen(tmp, "w");
	if (!f)
		goto fail;
	fprintf(f, "journal %s\ntransactions %" PRIu64 "\nblocks_journaled %" PRIu64
		"\nlog_writes %" PRIu64 "\nrevoke_records %" PRIu64 "\ncheckpoints %" PRIu64 "\ncommit_us_total %" PRIu64
		"\ncommit_us_max %" PRIu64 "\nreplays %u\nreplayed_transactions %u"
		"\nreplayed_blocks %" PRIu64 "\n",
		s->journal ? "ordered" : "off", js->transactions, js->blocks, js->log_writes,
		js->revokes,
		js->checkpoints, js->commit_us, js->commit_us_max, s->did_replay ? 1 : 0,
		s->replayed.transactions, s->replayed.blocks);
	if (!fclose(f) && !rename(tmp, s->stats_path))
		return;
	unlink(tmp);
fail:
	if (!s->stats_failed)
		fprintf(stderr, "fuse-iomap-ext4: can't write the stats file %s: %s\n",
			s->stats_path, strerror(errno));
	s->stats_failed = true;
}

void ext4_idle(void *ctx)
{
	struct ext4srv *s = ctx;

	if (!s->jnl)
		return;
	ext4_journal_idle(s);
	if (s->stats_path && ext4_journal_stats(s)->transactions != s->stats_at)
		ext4_write_stats(s);
}

/*
 * With @sync, the metadata and the data the kernel wrote to stable
 * storage: a journal commit.  Without, metadata to the image (unless the
 * journal keeps it).
 */
int ext4_sync(struct ext4srv *s, bool sync)
{
	errcode_t err;

	if (!s->rw || (s->jnl && !sync))
		return 0;
	if (s->jnl) {
		int ret = ext4_journal_commit(s);

		if (s->stats_path)
			ext4_write_stats(s);
		return ret;
	}
	err = ext2fs_flush2(s->fs, sync ? 0 : EXT2_FLAG_FLUSH_NO_SYNC);
	if (!err && sync && fsync(s->dev_fd) < 0)
		return errno;
	return to_errno(err);
}

/*
 * A close: without the journal, the metadata goes to the image, as
 * fuse2fs does it.  With it, a close has nothing to write, and ENOSYS
 * tells the kernel to send no FLUSH again: one round trip less per close.
 */
static void ext4_flush(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);

	(void)nodeid, (void)fi;
	fuse_reply_err(req, s->jnl ? ENOSYS : ext4_sync(s, false));
}

static void ext4_fsync(fuse_req_t req, fuse_ino_t nodeid, int datasync, struct fuse_file_info *fi)
{
	(void)nodeid, (void)datasync, (void)fi;
	fuse_reply_err(req, ext4_sync(srv_of(req), true));
}

static void ext4_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Truncation must come as SETATTR, after the kernel dropped the page
	 * cache past the new size; and cached pages stay valid across opens. */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_AUTO_INVAL_DATA);
}

/* --- opening ----------------------------------------------------------------- */

/* What this server can't serve at all, or not read-write; checked before anything is written. */
static const char *ext4_unsupported(ext2_filsys fs, bool rw)
{
	struct ext2_super_block *sb = fs->super;

	if (ext2fs_has_feature_inline_data(sb))
		return "feature inline_data is not supported";
	if (ext2fs_has_feature_encrypt(sb))
		return "feature encrypt is not supported";
	if (ext2fs_has_feature_verity(sb))
		return "feature verity is not supported";
	if (ext2fs_has_feature_casefold(sb))
		return "feature casefold is not supported";
	if (fs->blocksize > 4096)
		return "block sizes above 4096 are not supported";
	if (!rw) {
		if (ext2fs_has_feature_journal_needs_recovery(sb))
			return "its journal needs recovery (serve it read-write once to replay "
			       "it, or run e2fsck -E journal_only)";
		return NULL;
	}
	/* Writing: only what this server keeps right (serve the rest with --read-only). */
	if (!ext2fs_has_feature_extents(sb))
		return "writing needs feature extent (use --read-only)";
	if (ext2fs_has_feature_bigalloc(sb))
		return "writing with feature bigalloc is not supported (use --read-only)";
	if (ext2fs_has_feature_quota(sb))
		return "writing with feature quota is not supported (use --read-only)";
	return NULL;
}

/* What the image's state (after journal replay) must be for writing. */
static const char *ext4_unwritable(ext2_filsys fs)
{
	struct ext2_super_block *sb = fs->super;

	if (!(sb->s_state & EXT2_VALID_FS) || (sb->s_state & EXT2_ERROR_FS))
		return "it was not cleanly unmounted or has errors (run e2fsck -f first, or use --read-only)";
	return NULL;
}

/*
 * The block device to serve for @image, claimed, or made from an image
 * file, as fi_open_device() says; with our own words for what is not ext4.
 */
static int ext4_open_dev(const char *image, bool ro)
{
	struct stat st;
	int fd, err;

	if (stat(image, &st) < 0) {
		err = errno;
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: %s\n", image, strerror(err));
		return -err;
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: not an ext4 file system "
			"(neither an image file nor a block device)\n", image);
		return -EINVAL;
	}
	fd = fi_open_device("fuse-iomap-ext4", image, !ro);
	if (fd == -EROFS)
		fprintf(stderr, "fuse-iomap-ext4: %s is read-only: serve it with --read-only\n", image);
	return fd;
}

/* --commit=SEC: whole seconds, 1 to EXT4_COMMIT_SEC_MAX. */
static int parse_commit(const char *arg, unsigned int *sec)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || v < 1 || v > EXT4_COMMIT_SEC_MAX) {
		fprintf(stderr, "fuse-iomap-ext4: --commit must be 1 to %u seconds, not %s\n",
			EXT4_COMMIT_SEC_MAX, arg);
		return -1;
	}
	*sec = v;
	return 0;
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
"SIGHUP), then writes all metadata back and closes IMAGE.  Needs root\n"
"(CAP_SYS_ADMIN and CAP_SYS_RAWIO).  Serves read-write unless told otherwise.\n"
"\n"
"One writer per image: read-write, IMAGE (or the loop device made for an\n"
"image file) is held open exclusively while served, so the kernel refuses\n"
"to mount it, and an IMAGE that is mounted or held open exclusively by\n"
"another program is refused.  Read-only, IMAGE is shared with read-only\n"
"mounts only.  The ext4 MMP feature (tune2fs -O mmp) is honoured.\n"
"\n"
"Writes into holes and fallocated space get uninitialized extents, made\n"
"initialized for exactly the blocks written once the data is on IMAGE.\n"
"An append gets blocks ahead: four times what the file reaches, 1 MiB to\n"
"16 MiB (less when space is short); what it did not use is freed when the\n"
"last writer closes the file.\n"
"\n"
"Options:\n"
"  -r, --read-only   serve read-only (and open IMAGE read-only)\n"
"  -b, --bpf         answer mappings inside the kernel too: load the\n"
"                    extent_map BPF program, attach it to this mount, and\n"
"                    keep each file's extents in its store (a file's first\n"
"                    read asks this server; later ones do not); it also\n"
"                    answers writes into uninitialized extents and queues\n"
"                    their ioends for this server\n"
"  -j, --journal=MODE  ordered (the default for an image with a journal):\n"
"                    journal metadata as above; off (the default, and the\n"
"                    only mode, for an image without one): write metadata\n"
"                    in place, the image marked not clean while served, so\n"
"                    that after a crash e2fsck -f must check it before it\n"
"                    is served read-write again\n"
"  -c, --commit=SEC  commit at least every SEC seconds while something\n"
"                    changed (1 to 3600; default 5, as the kernel's ext4\n"
"                    commit= mount option): a crash loses at most that\n"
"                    much of what was not fsync'd\n"
"  -s, --stats FILE  keep the journal's counters in FILE, one \"name value\"\n"
"                    line each: transactions, blocks_journaled,\n"
"                    log_writes, revoke_records, checkpoints,\n"
"                    commit_us_total, commit_us_max, replays,\n"
"                    replayed_transactions, replayed_blocks (rewritten\n"
"                    after each commit)\n"
"  -l, --log FILE    append one line per FUSE_IOMAP_BEGIN and IOEND, and\n"
"                    per queued ioend applied, to FILE\n"
"  -d, --debug       print every request (libfuse debug output)\n"
"  -h, --help        print this help and exit\n"
"  -V, --version     print the version and exit\n"
"\n"
"Read-write, metadata changes go through the ext4 journal in ordered mode,\n"
"as the kernel's ext4 does by default: a transaction commits at fsync,\n"
"every 5 seconds (--commit) while something changed, when the journal\n"
"fills up and at unmount, and file data reaches IMAGE before the commit\n"
"that makes it reachable.  When fsync returns, the file's data and the\n"
"metadata needed to read it are on stable storage.  After a crash (this\n"
"server killed, the machine losing power), serving IMAGE again, or\n"
"mounting it with the kernel's ext4, replays the journal: no e2fsck is\n"
"needed.\n"
"\n"
"An image whose journal needs recovery has its journal replayed first, as\n"
"the kernel's ext4 and e2fsck do; read-only, it is refused.  A corrupt\n"
"journal is refused, the image left as it was.  Not supported: external\n"
"journals, fast commits, and the features inline_data, encrypt, verity and\n"
"casefold.  Read-write also needs the extent feature and refuses bigalloc,\n"
"quota and images that are not clean.  Not implemented:\n"
"setxattr/removexattr, fallocate's COLLAPSE_RANGE and INSERT_RANGE,\n"
"RENAME_EXCHANGE/WHITEOUT, and allocating writes to block-mapped (ext3)\n"
"files.\n");
}

/* Read-write: not clean while we serve (no journal), clean again when we stop. */
static int ext4_set_clean(struct ext4srv *s, bool clean)
{
	if (clean)
		s->fs->super->s_state |= EXT2_VALID_FS;
	else
		s->fs->super->s_state &= ~EXT2_VALID_FS;
	ext2fs_mark_super_dirty(s->fs);
	return to_errno(ext2fs_flush(s->fs));
}

/*
 * Opening read-write starts MMP in libext2fs (and closing stops it); a
 * read-only open skips it, but a reader must not read under a writer on
 * another host either.  Read-only, ext2fs_mmp_start() only checks.
 */
static int ext4_check_mmp(const char *image, struct ext4srv *s)
{
	errcode_t err;

	if (!ext2fs_has_feature_mmp(s->fs->super))
		return 0;
	err = ext2fs_mmp_start(s->fs);
	if (!err)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't serve %s: in use elsewhere (%s)\n", image,
		error_message(err));
	ext2fs_close_free(&s->fs);
	return -1;
}

/* libext2fs's ways of saying there is no ext2/3/4 super block to be found. */
static bool ext4_not_ext4(errcode_t err)
{
	return err == EXT2_ET_BAD_MAGIC || err == EXT2_ET_SHORT_READ;
}

static int ext4_open_image(const char *image, int flags, ext2_filsys *fs)
{
	errcode_t err = ext2fs_open2(image, NULL, flags, 0, 0, ext4_journal_io_manager, fs);

	if (err) {
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: %s%s%s\n", image,
			ext4_not_ext4(err) ? "not an ext4 file system (" : "",
			err < 256 ? strerror(err) : error_message(err),
			ext4_not_ext4(err) ? ")" : "");
		return -1;
	}
	/*
	 * No write-back cache in libext2fs: a metadata block it freed (an
	 * extent tree block, say) and the kernel then filled with file data
	 * must not be written over later by a cached copy.
	 */
	err = io_channel_set_options((*fs)->io, "cache=off");
	if (!err)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't turn off the block cache for %s: %s\n", image,
		error_message(err));
	ext2fs_close_free(fs);
	return -1;
}

/*
 * The kernel's ext4 keeps the super block's free counts only roughly (the
 * group descriptors are exact): after a crash they are sums to redo, as
 * the kernel does at mount and e2fsck does.
 */
static void ext4_count_free(ext2_filsys fs)
{
	blk64_t blocks = 0;
	uint64_t inodes = 0;
	dgrp_t g;

	for (g = 0; g < fs->group_desc_count; g++) {
		blocks += ext2fs_bg_free_blocks_count(fs, g);
		inodes += ext2fs_bg_free_inodes_count(fs, g);
	}
	ext2fs_free_blocks_count_set(fs->super, blocks);
	fs->super->s_free_inodes_count = inodes;
}

/*
 * Committed journal transactions go home before anything is read, as the
 * kernel's ext4 does at mount; then the image is opened again, since
 * replay rewrote metadata under what libext2fs had read.
 */
static int ext4_recover(const char *image, int flags, struct ext4srv *s)
{
	struct ext4_replay_stats st;

	if (!ext2fs_has_feature_journal_needs_recovery(s->fs->super))
		return 0;
	if (ext4_journal_replay(s->fs, image, &st)) {
		ext2fs_close_free(&s->fs);
		return -1;
	}
	ext2fs_mmp_stop(s->fs);
	ext2fs_free(s->fs);
	s->fs = NULL;
	if (ext4_open_image(image, flags, &s->fs))
		return -1;
	ext2fs_clear_feature_journal_needs_recovery(s->fs->super);
	ext4_count_free(s->fs);
	ext2fs_mark_super_dirty(s->fs);
	s->replayed = st;
	s->did_replay = true;
	fprintf(stderr, "fuse-iomap-ext4: %s: journal replayed: %u transactions, %llu blocks "
		"written, %llu revoked\n", image, st.transactions,
		(unsigned long long)st.blocks, (unsigned long long)st.revoked);
	return 0;
}

/*
 * The inodes a crash left on the orphan list or in the orphan file, freed
 * (or truncated) as the kernel's ext4 does, in a transaction of their own.
 */
static int ext4_recover_orphans(const char *image, struct ext4srv *s)
{
	unsigned int n = 0, m = 0;
	int err;

	if (!s->fs->super->s_last_orphan && !ext2fs_has_feature_orphan_present(s->fs->super))
		return 0;
	err = ext4_orphans_recover(s, &n);
	if (!err)
		err = ext4_orphan_file_recover(s, &m);
	n += m;
	if (!err)
		err = ext4_sync(s, true);
	if (err) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s: can't clean up its orphan inodes: "
			"%s (run e2fsck -f)\n", image, strerror(err));
		return -1;
	}
	fprintf(stderr, "fuse-iomap-ext4: %s: %u orphan inodes cleaned up\n", image, n);
	return 0;
}

/* --journal: "ordered" unless told otherwise or there is no journal. */
static int ext4_journal_mode(const char *image, struct ext4srv *s)
{
	bool has = ext2fs_has_feature_journal(s->fs->super);

	if (s->journal_opt && !strcmp(s->journal_opt, "off")) {
		s->journal = false;
		return 0;
	}
	if (s->journal_opt && !has) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s with --journal=ordered: it has no "
			"journal (tune2fs -O has_journal adds one)\n", image);
		return -1;
	}
	s->journal = has;
	return 0;
}

/*
 * The largest file, as the kernel's ext4 sets s_maxbytes for extent files:
 * an extent's first logical block is 32 bits, and the kernel keeps the
 * end of the last one (block 2^32 - 2, plus one) in 32 bits too, so
 * 2^32 - 1 blocks.  Without huge_file, i_blocks counts 512-byte sectors
 * in 32 bits, which caps a file lower.  A block number past it would be
 * cut to 32 bits in the extent tree, over the file's first blocks.
 */
static uint64_t ext4_max_file_size(ext2_filsys fs, unsigned int bbits)
{
	uint64_t max = ((1ULL << 32) - 1) << bbits;
	uint64_t sectors_cap = (((1ULL << 32) - 1) >> (bbits - 9)) << bbits;

	if (!ext2fs_has_feature_huge_file(fs->super) && sectors_cap < max)
		max = sectors_cap;
	return max;
}

/*
 * Free blocks that data allocation leaves to the extent trees.  Every
 * write into unwritten blocks that has not reached its ioend may split an
 * extent in two or three when it is converted, and a split may need a
 * new tree block; the conversion runs after writeback has ended, often
 * queued by the BPF tier, where ENOSPC can only fail a later fsync.
 * Their number is bounded by the data in flight, not by anything the
 * server sees, so reserve as the kernel's ext4 does for the same reason
 * (s_resv_clusters): 2% of the file system, at most 4096 blocks, and at
 * least 64 for a small one.
 */
static blk64_t ext4_tree_reserve(ext2_filsys fs)
{
	blk64_t r = ext2fs_blocks_count(fs->super) / 50;

	if (r > EXT4_TREE_RESERVE_MAX)
		r = EXT4_TREE_RESERVE_MAX;
	return r < EXT4_TREE_RESERVE_MIN ? EXT4_TREE_RESERVE_MIN : r;
}

static int ext4_open_fs(const char *image, struct ext4srv *s)
{
	int flags = EXT2_FLAG_64BITS | (s->rw ? EXT2_FLAG_RW : 0);
	const char *why;
	struct stat st;
	errcode_t err;

	/* The kernel writes a block device around its page cache: so must we. */
	if (stat(image, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= EXT2_FLAG_DIRECT_IO;
	if (ext4_open_image(image, flags, &s->fs))
		return -1;
	why = ext4_unsupported(s->fs, s->rw);
	if (why) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s: %s\n", image, why);
		goto out_close;
	}
	s->bbits = __builtin_ctz(s->fs->blocksize);
	s->maxbytes = ext4_max_file_size(s->fs, s->bbits);
	s->tree_reserve = ext4_tree_reserve(s->fs);
	if (!s->rw)
		return ext4_check_mmp(image, s);
	if (ext4_recover(image, flags, s))
		return -1;
	why = ext4_unwritable(s->fs);
	if (why) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s: %s\n", image, why);
		goto out_close;
	}
	err = ext2fs_read_bitmaps(s->fs);
	if (!err && ext4_journal_mode(image, s))
		goto out_close;
	if (!err && s->journal && ext4_journal_start(s, image))
		goto out_close;
	if (!err && !s->journal)
		err = ext4_set_clean(s, false);
	if (!err && !ext4_recover_orphans(image, s))
		return 0;
	if (err)
		fprintf(stderr, "fuse-iomap-ext4: can't prepare %s for writing: %s\n", image,
			err < 256 ? strerror(err) : error_message(err));
	ext4_journal_stop(s);
out_close:
	ext2fs_close_free(&s->fs);
	return -1;
}

/* Write back everything and close; 0 if the image is clean on disk. */
static int ext4_close_fs(const char *image, struct ext4srv *s)
{
	errcode_t err = 0;

	ext4_free_orphans(s);
	if (s->jnl)
		err = ext4_journal_stop(s) ? EIO : 0;
	else if (s->rw)
		err = ext4_set_clean(s, true);
	if (!err)
		err = ext2fs_close_free(&s->fs);
	else
		ext2fs_free(s->fs);
	if (!err)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't write back %s: %s\n", image,
		err < 256 ? strerror(err) : error_message(err));
	return -1;
}

/* The journal's counters, to stderr and the stats file. */
static void ext4_report(const char *image, struct ext4srv *s)
{
	const struct ext4_journal_stats *js = ext4_journal_stats(s);

	if (!s->journal)
		return;
	ext4_write_stats(s);
	fprintf(stderr, "fuse-iomap-ext4: %s: journal: %" PRIu64 " transactions, %" PRIu64
		" blocks journaled in %" PRIu64 " writes, %" PRIu64 " revoke records, %" PRIu64 " checkpoints, commit "
		"latency mean %" PRIu64 " us, max %" PRIu64 " us\n", image, js->transactions,
		js->blocks, js->log_writes, js->revokes, js->checkpoints,
		js->transactions ? js->commit_us / js->transactions : 0, js->commit_us_max);
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ "bpf", no_argument, NULL, 'b' },
		{ "journal", required_argument, NULL, 'j' },
		{ "commit", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct fuse_lowlevel_ops ops = {
		.init = ext4_init,
		.lookup = ext4_lookup,
		.forget = ext4_forget,
		.forget_multi = ext4_forget_multi,
		.getattr = ext4_getattr,
		.setattr = ext4_setattr,
		.readlink = ext4_readlink,
		.mknod = ext4_mknod,
		.mkdir = ext4_mkdir,
		.unlink = ext4_unlink,
		.rmdir = ext4_rmdir,
		.symlink = ext4_symlink,
		.rename = ext4_rename,
		.link = ext4_link,
		.open = ext4_open,
		.release = ext4_release,
		.flush = ext4_flush,
		.fsync = ext4_fsync,
		.readdir = ext4_readdir,
		.fsyncdir = ext4_fsync,
		.statfs = ext4_statfs,
		.listxattr = ext4_listxattr,
		.getxattr = ext4_getxattr,
		.create = ext4_create,
		.fallocate = ext4_fallocate,
	};
	struct ext4srv s = { .rw = true, .commit_sec = EXT4_COMMIT_SEC };
	struct fi_server_opts o = { .name = "fuse-iomap-ext4", .subtype = "ext4" };
	uint64_t size;
	const char *image, *log = NULL;
	char extra[128];
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "rbj:c:s:l:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			s.rw = false;
			break;
		case 'b':
			s.bpf = true;
			break;
		case 'j':
			if (strcmp(optarg, "ordered") && strcmp(optarg, "off")) {
				fprintf(stderr, "fuse-iomap-ext4: --journal must be ordered or off, "
					"not %s\n", optarg);
				return 2;
			}
			s.journal_opt = optarg;
			break;
		case 'c':
			if (parse_commit(optarg, &s.commit_sec))
				return 2;
			break;
		case 's':
			s.stats_path = optarg;
			break;
		case 'l':
			log = optarg;
			break;
		case 'd':
			o.debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fuse-iomap-ext4 %s\n", FI_VERSION);
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
	o.mountpoint = argv[optind + 1];
	o.fsname = image;
	o.readonly = !s.rw;

	initialize_ext2_error_table();
	if (fi_check_mountpoint("fuse-iomap-ext4", o.mountpoint, true))
		return 1;
	/* The device first: nothing is written to an image someone else uses. */
	s.dev_fd = ext4_open_dev(image, !s.rw);
	if (s.dev_fd < 0)
		return 1;
	if (ext4_open_fs(image, &s))
		goto out_dev;
	if (log) {
		o.log = fopen(log, "a");
		if (!o.log) {
			fprintf(stderr, "fuse-iomap-ext4: can't open %s: %s\n", log, strerror(errno));
			goto out_fs;
		}
	}
	/* Permissions are checked by the kernel, as for its own ext4, for every user. */
	snprintf(extra, sizeof(extra), "iomap,iomap_blksize=%u,default_permissions,allow_other",
		 s.fs->blocksize);
	o.mount_opts = extra;
	o.max_file_size = s.maxbytes;
	s.srv = fi_server_new(&o, &ops, &ext4_iomap_ops, &s);
	if (!s.srv)
		goto out_log;
	if (!fi_server_mount(s.srv) && !fi_server_add_device(s.srv, s.dev_fd, &s.cookie, &size) &&
	    (!s.bpf || !fi_server_bpf_start(s.srv, 0)))
		ret = fi_server_serve(s.srv) ? 1 : 0;
	fi_server_destroy(s.srv);
out_log:
	if (o.log)
		fclose(o.log);
out_fs:
	if (ext4_close_fs(image, &s))
		ret = 1;
	ext4_report(image, &s);
out_dev:
	/* Our claim on the device ends only once the image is written back. */
	close(s.dev_fd);
	return ret;
}
