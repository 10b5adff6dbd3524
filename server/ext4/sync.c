// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: the file-system-wide requests (statfs, flush, fsync)
 * and what stays on stable storage when they return: a journal commit,
 * or metadata flushed in place without the journal; between requests,
 * the journal's timed commit; and the journal's counters, in the stats
 * file and at exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>
#include <ext2fs/ext2fs.h>
#include <fuse_lowlevel.h>

#include "ext4.h"

void ext4_statfs(fuse_req_t req, fuse_ino_t nodeid)
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
void ext4_flush(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);

	(void)nodeid, (void)fi;
	fuse_reply_err(req, s->jnl ? ENOSYS : ext4_sync(s, false));
}

void ext4_fsync(fuse_req_t req, fuse_ino_t nodeid, int datasync, struct fuse_file_info *fi)
{
	(void)nodeid, (void)datasync, (void)fi;
	fuse_reply_err(req, ext4_sync(srv_of(req), true));
}

/* The journal's counters, to stderr and the stats file. */
void ext4_report(const char *image, struct ext4srv *s)
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
