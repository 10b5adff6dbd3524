// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: journal replay before serving, as the kernel's ext4 and
 * e2fsck do it, written from the jbd2 format (jbd2.h).
 *
 * The log runs from the journal super block's s_start, wrapping from its
 * end to s_first, through transactions numbered from s_sequence: each is
 * descriptor blocks (each followed by the blocks it describes), revoke
 * blocks, and a commit block.  A transaction counts only with its commit
 * block; the first block that is not the next expected one ends the log.
 * A block is written home from the last committed transaction that holds
 * it, unless a revoke record of that or a later transaction names it.
 *
 * Nothing is written until the whole log has been read and checked: a
 * checksum that fails in a transaction (but one whose commit time is
 * before the last commit's: a stale block of an older log, which ends the
 * log as in the kernel), a block outside the file system or a log longer
 * than the journal refuses the image as it is.
 * Then the blocks go home, the device is flushed, and only then is the
 * journal marked empty, so a crash during replay replays again.  As
 * e2fsck does, the next transaction is numbered one past the first that
 * did not commit, so that stale commit blocks of the old log never match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>

#include "ext4.h"
#include "jbd2.h"

enum pass { PASS_SCAN, PASS_REVOKE, PASS_CHECK, PASS_REPLAY };

struct revoke {
	blk64_t blk;
	uint32_t seq;
};

struct jnl {
	struct jbd2_log l;
	uint32_t end;		/* the first transaction that did not commit */
	unsigned char *buf, *data;
	struct revoke *revokes;
	size_t nr_revokes, max_revokes;
	struct ext4_replay_stats *st;
};

static int jnl_read(struct jnl *j, uint32_t jblk, unsigned char *buf)
{
	errcode_t err = io_channel_read_blk64(j->l.fs->io, j->l.map[jblk], 1, buf);

	if (err)
		jbd2_err(&j->l, "can't read journal block %u: %s", jblk, error_message(err));
	return err ? -1 : 0;
}

static bool jnl_tail_ok(const struct jnl *j, const unsigned char *b)
{
	size_t at = j->l.bsize - JBD2_TAIL_SIZE;

	return !j->l.csum || jbd2_crc_zeroed(j->l.seed, b, j->l.bsize, at) == jbd2_get32(b + at);
}

static int cmp_revoke(const void *a, const void *b)
{
	const struct revoke *x = a, *y = b;

	if (x->blk != y->blk)
		return x->blk < y->blk ? -1 : 1;
	return (int32_t)(x->seq - y->seq) < 0 ? -1 : (x->seq != y->seq);
}

static int jnl_add_revoke(struct jnl *j, blk64_t blk, uint32_t seq)
{
	if (j->nr_revokes == j->max_revokes) {
		size_t n = j->max_revokes ? 2 * j->max_revokes : 1024;
		struct revoke *r = realloc(j->revokes, n * sizeof(*r));

		if (!r)
			return -1;
		j->revokes = r;
		j->max_revokes = n;
	}
	j->revokes[j->nr_revokes++] = (struct revoke){ .blk = blk, .seq = seq };
	return 0;
}

/* Revoked for @seq: a record for @blk in transaction @seq or later. */
static bool jnl_revoked(const struct jnl *j, blk64_t blk, uint32_t seq)
{
	size_t lo = 0, hi = j->nr_revokes;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (j->revokes[mid].blk < blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < j->nr_revokes && j->revokes[lo].blk == blk; lo++)
		if ((int32_t)(j->revokes[lo].seq - seq) >= 0)
			return true;
	return false;
}

static int jnl_revoke_block(struct jnl *j, const unsigned char *b, uint32_t seq)
{
	unsigned int rsize = j->l.b64 ? 8 : 4, off;
	uint32_t used = jbd2_get32(b + JBD2_R_COUNT);
	blk64_t blk;

	if (used > j->l.bsize - (j->l.csum ? JBD2_TAIL_SIZE : 0) || used < JBD2_R_RECORDS) {
		jbd2_err(&j->l, "a revoke block of transaction %u is corrupt (%u bytes used)", seq, used);
		return -1;
	}
	for (off = JBD2_R_RECORDS; off + rsize <= used; off += rsize) {
		blk = j->l.b64 ? (blk64_t)jbd2_get32(b + off) << 32 | jbd2_get32(b + off + 4)
			     : jbd2_get32(b + off);
		if (jnl_add_revoke(j, blk, seq))
			return -1;
	}
	return 0;
}

/* One data block of a committed transaction, in the check or replay pass. */
static int jnl_tag(struct jnl *j, enum pass pass, uint32_t jblk, blk64_t blk, uint32_t flags,
		   uint32_t sum, uint32_t seq)
{
	unsigned char be_seq[4];
	uint32_t want;

	if (pass == PASS_CHECK && blk >= ext2fs_blocks_count(j->l.fs->super)) {
		jbd2_err(&j->l, "transaction %u writes block %llu, outside the file system", seq,
			(unsigned long long)blk);
		return -1;
	}
	if (jnl_revoked(j, blk, seq)) {
		if (pass == PASS_REPLAY)
			j->st->revoked++;
		return 0;
	}
	if (jnl_read(j, jblk, j->data))
		return -1;
	if (pass == PASS_CHECK) {
		if (!j->l.csum)
			return 0;
		jbd2_put32(be_seq, seq);
		want = jbd2_crc(jbd2_crc(j->l.seed, be_seq, 4), j->data, j->l.bsize);
		if (j->l.v3 ? want == sum : (want & 0xffff) == sum)
			return 0;
		jbd2_err(&j->l, "journal block %u of transaction %u has a bad checksum", jblk, seq);
		return -1;
	}
	if (flags & JBD2_TAG_ESCAPE)
		jbd2_put32(j->data, JBD2_MAGIC);
	if (io_channel_write_blk64(j->l.fs->io, blk, 1, j->data)) {
		jbd2_err(&j->l, "can't write block %llu", (unsigned long long)blk);
		return -1;
	}
	j->st->blocks++;
	return 0;
}

/*
 * A descriptor block's tags; the journal block after @jblk holds the first
 * one's data.  Returns how many there are, or -1.
 */
static long jnl_descriptor(struct jnl *j, enum pass pass, uint32_t jblk, uint32_t seq)
{
	size_t limit = j->l.bsize - (j->l.csum ? JBD2_TAIL_SIZE : 0), off = JBD2_H_SIZE;
	unsigned char *b = j->buf;
	uint32_t flags, sum;
	long n = 0;
	blk64_t blk;

	while (off + j->l.tag_bytes <= limit) {
		const unsigned char *t = b + off;

		blk = jbd2_get32(t);
		flags = j->l.v3 ? jbd2_get32(t + 4) : jbd2_get16(t + 6);
		sum = j->l.v3 ? jbd2_get32(t + 12) : jbd2_get16(t + 4);
		if (j->l.b64)
			blk |= (blk64_t)jbd2_get32(t + 8) << 32;
		jblk = jbd2_next(&j->l, jblk);
		n++;
		if ((pass == PASS_CHECK || pass == PASS_REPLAY) &&
		    jnl_tag(j, pass, jblk, blk, flags, sum, seq))
			return -1;
		off += j->l.tag_bytes + (flags & JBD2_TAG_SAME_UUID ? 0 : JBD2_UUID_SIZE);
		if (flags & JBD2_TAG_LAST)
			break;
	}
	return n;
}

/*
 * A commit block (in j->buf): 1 if it commits transaction @seq, 0 if the
 * log ends before it, -1 if the journal is corrupt.  A checksum that
 * failed here, or in a block of the transaction it commits, means a stale
 * block of an older log if its time is before the last commit's (the log
 * ends), and a damaged transaction otherwise, which e2fsck must look at.
 */
static int jnl_commit(struct jnl *j, uint32_t seq, bool bad, uint64_t *last_sec)
{
	const unsigned char *b = j->buf;
	uint64_t sec = (uint64_t)jbd2_get32(b + JBD2_C_SEC) << 32 | jbd2_get32(b + JBD2_C_SEC + 4);

	if (j->l.csum && jbd2_crc_zeroed(j->l.seed, b, j->l.bsize, JBD2_C_CHECKSUM) !=
			       jbd2_get32(b + JBD2_C_CHECKSUM))
		bad = true;
	if (bad && sec < *last_sec)
		return 0;
	if (bad) {
		jbd2_err(&j->l, "transaction %u has a bad checksum (run e2fsck -f)", seq);
		return -1;
	}
	*last_sec = sec;
	return 1;
}

/*
 * Walks the log.  The scan pass finds where it ends (j->end); the others
 * stop there.  The replay pass needs the descriptor block in j->buf while
 * it reads data into j->data.
 */
static int jnl_walk(struct jnl *j, enum pass pass)
{
	uint32_t jblk = j->l.start, seq = j->l.seq, type, walked = 0;
	bool bad = false;	/* a checksum failed in this transaction so far */
	uint64_t last_sec = 0;	/* the last commit's time */
	long n;
	int c;

	for (;;) {
		if (pass != PASS_SCAN && seq == j->end)
			return 0;
		if (walked++ > j->l.last - j->l.first) {
			jbd2_err(&j->l, "its log is longer than the journal (transaction %u)", seq);
			return -1;
		}
		if (jnl_read(j, jblk, j->buf))
			return -1;
		type = jbd2_get32(j->buf + JBD2_H_TYPE);
		if (jbd2_get32(j->buf + JBD2_H_MAGIC) != JBD2_MAGIC ||
		    jbd2_get32(j->buf + JBD2_H_SEQUENCE) != seq)
			break;
		if (type == JBD2_DESCRIPTOR) {
			bad |= !jnl_tail_ok(j, j->buf);
			n = jnl_descriptor(j, pass, jblk, seq);
			if (n < 0)
				return -1;
			walked += n;
			while (n-- >= 0)
				jblk = jbd2_next(&j->l, jblk);
		} else if (type == JBD2_REVOKE) {
			bad |= !jnl_tail_ok(j, j->buf);
			if (pass == PASS_REVOKE && jnl_revoke_block(j, j->buf, seq))
				return -1;
			jblk = jbd2_next(&j->l, jblk);
		} else if (type == JBD2_COMMIT) {
			c = jnl_commit(j, seq, bad, &last_sec);
			if (c < 0)
				return -1;
			if (!c)
				break;
			if (pass == PASS_SCAN)
				j->st->transactions++;
			seq++;
			bad = false;
			jblk = jbd2_next(&j->l, jblk);
		} else {
			break;
		}
	}
	if (pass != PASS_SCAN) {
		jbd2_err(&j->l, "transaction %u changed between two reads", seq);
		return -1;
	}
	j->end = seq;
	return 0;
}

/* Marks the journal empty, its next transaction one past the first that did not commit. */
static int jnl_reset(struct jnl *j)
{
	jbd2_sb_set(&j->l, j->end + 1, 0);
	if (io_channel_write_blk64(j->l.fs->io, j->l.map[0], 1, j->l.jsb) ||
	    io_channel_flush(j->l.fs->io)) {
		jbd2_err(&j->l, "can't write the journal super block");
		return -1;
	}
	return 0;
}

static int jnl_replay(struct jnl *j)
{
	if (jbd2_log_map(&j->l) || jnl_walk(j, PASS_SCAN))
		return -1;
	if (j->end == j->l.seq)
		return jnl_reset(j);
	if (jnl_walk(j, PASS_REVOKE))
		return -1;
	if (j->nr_revokes)
		qsort(j->revokes, j->nr_revokes, sizeof(*j->revokes), cmp_revoke);
	if (jnl_walk(j, PASS_CHECK))
		return -1;
	/* From here on the image changes: nothing above wrote to it. */
	if (jnl_walk(j, PASS_REPLAY))
		return -1;
	if (io_channel_flush(j->l.fs->io)) {
		jbd2_err(&j->l, "can't flush the replayed blocks");
		return -1;
	}
	return jnl_reset(j);
}

int ext4_journal_replay(ext2_filsys fs, const char *image, struct ext4_replay_stats *st)
{
	struct jnl j = { .st = st };
	int ret = -1;

	memset(st, 0, sizeof(*st));
	if (jbd2_log_open(&j.l, fs, image, "replay"))
		goto out;
	if (posix_memalign((void **)&j.buf, j.l.bsize, j.l.bsize) ||
	    posix_memalign((void **)&j.data, j.l.bsize, j.l.bsize)) {
		jbd2_err(&j.l, "out of memory");
		goto out;
	}
	ret = j.l.start ? jnl_replay(&j) : 0;
out:
	free(j.revokes);
	free(j.data);
	free(j.buf);
	jbd2_log_close(&j.l);
	return ret < 0 ? -1 : 0;
}
