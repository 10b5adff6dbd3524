// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: metadata writes through the ext4 journal (jbd2.h), in
 * ordered mode as the kernel's ext4 does it by default.
 *
 * libext2fs writes every metadata block through its io_channel; ours (an
 * io_manager layered over unix_io) keeps what the running transaction
 * wrote as a map from block to its newest copy, and reads see the map
 * first.  Nothing reaches the block's home until it is in a committed
 * transaction.  A commit happens between requests (ext4_journal_idle(),
 * fsync, unmount):
 *
 *   1. libext2fs's in-memory metadata (super block, group descriptors,
 *      bitmaps) goes into the map;
 *   2. descriptor, metadata and revoke blocks are written to the log, and
 *      the device flushed: the data the kernel wrote, which ioends made
 *      reachable, is stable with them, before
 *   3. the commit block is written and flushed.
 *
 * Checkpointing writes the committed blocks home and moves the log's
 * start past them; it only happens right after a commit, when the log has
 * less room left than a transaction may take, or at the end.  So the
 * committed copy in the map is the newest copy whenever it goes home.
 *
 * A block freed in the running transaction leaves the map: the kernel may
 * now write file data there, which neither a checkpoint nor a replay may
 * overwrite.  If the log still holds a copy, the transaction revokes it.
 * Data the server writes itself (zeroing the edges of a punched range)
 * goes straight home, like the kernel's, and is flushed before the commit.
 *
 * File data gets such a block only once that transaction has committed
 * (unless it was allocated in it too: the last commit then gives it to no
 * one), as with the kernel's ext4: the kernel writes file data in place,
 * outside the journal, and a crash before the commit would give the block
 * back to its old owner with the new owner's bytes in it.  When only such
 * blocks are left, map.c commits and allocates again.  libext2fs's own
 * allocations (extent tree, directory, xattr and symlink blocks) are
 * journaled like everything it writes, so they may take such a block
 * when nothing else is left.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <et/com_err.h>

#include "ext4.h"
#include "jbd2.h"

struct jentry {
	struct jentry *next;	/* in its hash bucket */
	struct jentry *run_next, **run_pprev;	/* on the running list, while running */
	blk64_t blk;
	bool running;		/* changed in the running transaction */
	bool in_log;		/* in a committed transaction not yet checkpointed */
	unsigned char *data;
};

struct ext4_journal {
	struct jbd2_log l;
	io_channel real;	/* unix_io's channel under ours */
	bool active;		/* off: a plain pass-through to real */
	bool broken;		/* a commit failed: no more commits */
	struct jentry **hash;
	size_t nr_buckets, nr_entries, nr_running;
	/*
	 * The running entries: a commit walks them, not the hash, which has
	 * a bucket per log block (a 1 GiB log: 262,144 buckets per fsync).
	 */
	struct jentry *run;
	blk64_t *revokes;	/* the running transaction's revoke records */
	size_t nr_revokes, max_revokes;
	uint32_t head;		/* where the next transaction goes in the log */
	uint32_t used;		/* log blocks of transactions not checkpointed */
	uint32_t max_trans;	/* the log blocks a transaction may take */
	uint32_t tid;		/* the running transaction */
	struct timespec dirty_since;	/* when the running transaction began changing */
	bool dirty;
	ext2fs_block_bitmap freed;	/* freed in the running transaction: not for file data */
	blk64_t nr_freed;	/* blocks marked in it (some maybe twice): 0 if none */
	ext2fs_block_bitmap fresh;	/* allocated in the running transaction */
	bool range_noted;	/* ext4_block_range_stats(): the callback saw the range */
	unsigned char *buf;	/* one block, aligned */
	struct ext4_journal_stats st;
};

/* --- the io_channel ------------------------------------------------------------ */

struct jio {
	io_channel real;
	struct ext4_journal *j;	/* NULL until ext4_journal_start() */
};

static struct jio *jio_of(io_channel io)
{
	return io->private_data;
}

/* [blk, blk + count) of the channel's block size (count < 0: -count bytes) in bytes. */
static void jio_range(io_channel io, unsigned long long blk, int count, uint64_t *off,
		      uint64_t *len)
{
	*off = blk * (uint64_t)io->block_size;
	*len = count < 0 ? (uint64_t)-count : (uint64_t)count * io->block_size;
}

/* @n whole file system blocks from the device, bypassing the map. */
static errcode_t real_blocks(struct ext4_journal *j, blk64_t blk, uint32_t n, void *buf,
			     bool write)
{
	io_channel r = j->real;
	unsigned long long at = blk * (uint64_t)j->l.bsize / r->block_size;
	int len = -(int)(n * j->l.bsize);

	return write ? io_channel_write_blk64(r, at, len, buf)
		     : io_channel_read_blk64(r, at, len, buf);
}

static errcode_t real_block(struct ext4_journal *j, blk64_t blk, void *buf, bool write)
{
	return real_blocks(j, blk, 1, buf, write);
}

static struct jentry **jentry_slot(struct ext4_journal *j, blk64_t blk)
{
	struct jentry **pp = &j->hash[(blk * 0x9e3779b97f4a7c15ULL >> 40) & (j->nr_buckets - 1)];

	while (*pp && (*pp)->blk != blk)
		pp = &(*pp)->next;
	return pp;
}

static void jentry_drop(struct ext4_journal *j, struct jentry **pp)
{
	struct jentry *e = *pp;

	*pp = e->next;
	if (e->running) {
		*e->run_pprev = e->run_next;
		if (e->run_next)
			e->run_next->run_pprev = e->run_pprev;
		j->nr_running--;
	}
	j->nr_entries--;
	free(e->data);
	free(e);
}

static void revoke_cancel(struct ext4_journal *j, blk64_t blk)
{
	for (size_t i = 0; i < j->nr_revokes; i++) {
		if (j->revokes[i] == blk) {
			j->revokes[i] = j->revokes[--j->nr_revokes];
			return;
		}
	}
}

static void journal_touch(struct ext4_journal *j)
{
	if (!j->dirty) {
		clock_gettime(CLOCK_MONOTONIC, &j->dirty_since);
		j->dirty = true;
	}
}

/* @blk's newest copy becomes @data, in the running transaction unless nothing changed. */
static errcode_t journal_put(struct ext4_journal *j, blk64_t blk, const void *data)
{
	struct jentry **pp = jentry_slot(j, blk), *e = *pp;
	errcode_t err;

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || posix_memalign((void **)&e->data, j->l.bsize, j->l.bsize)) {
			free(e);
			return EXT2_ET_NO_MEMORY;
		}
		/* A write that changes nothing (most bitmaps at a flush) is not journaled. */
		err = real_block(j, blk, e->data, false);
		if (err || !memcmp(e->data, data, j->l.bsize)) {
			free(e->data);
			free(e);
			return err;
		}
		e->blk = blk;
		*pp = e;
		j->nr_entries++;
	} else if (!memcmp(e->data, data, j->l.bsize)) {
		return 0;
	}
	memcpy(e->data, data, j->l.bsize);
	if (!e->running) {
		e->running = true;
		e->run_next = j->run;
		e->run_pprev = &j->run;
		if (j->run)
			j->run->run_pprev = &e->run_next;
		j->run = e;
		j->nr_running++;
	}
	revoke_cancel(j, blk);
	journal_touch(j);
	return 0;
}

/* Whether the map holds every block of bytes [off, end). */
static bool jio_all_mapped(struct ext4_journal *j, uint64_t off, uint64_t end)
{
	for (uint64_t b = off / j->l.bsize; b * j->l.bsize < end; b++)
		if (!*jentry_slot(j, b))
			return false;
	return true;
}

static errcode_t jio_read64(io_channel io, unsigned long long blk, int count, void *data)
{
	struct jio *c = jio_of(io);
	struct ext4_journal *j = c->j;
	uint64_t off, len, b, end;
	errcode_t err;

	if (!j || !j->active || !j->nr_entries)
		return io_channel_read_blk64(c->real, blk, count, data);
	jio_range(io, blk, count, &off, &len);
	end = off + len;
	/*
	 * A range the map holds whole needs nothing from the device: so goes
	 * the super block, which each flush reads back to write 1 KiB of it.
	 */
	if (!jio_all_mapped(j, off, end)) {
		err = io_channel_read_blk64(c->real, blk, count, data);
		if (err)
			return err;
	}
	for (b = off / j->l.bsize; b * j->l.bsize < end; b++) {
		struct jentry *e = *jentry_slot(j, b);
		uint64_t from, to;

		if (!e)
			continue;
		from = b * j->l.bsize > off ? b * j->l.bsize : off;
		to = (b + 1) * j->l.bsize < end ? (b + 1) * j->l.bsize : end;
		memcpy((char *)data + (from - off), e->data + (from - b * j->l.bsize), to - from);
	}
	return 0;
}

static errcode_t jio_write64(io_channel io, unsigned long long blk, int count, const void *data)
{
	struct jio *c = jio_of(io);
	struct ext4_journal *j = c->j;
	uint64_t off, len, b, end;
	errcode_t err = 0;

	if (!j || !j->active)
		return io_channel_write_blk64(c->real, blk, count, data);
	jio_range(io, blk, count, &off, &len);
	end = off + len;
	for (b = off / j->l.bsize; !err && b * j->l.bsize < end; b++) {
		uint64_t start = b * j->l.bsize;

		if (start >= off && start + j->l.bsize <= end) {
			err = journal_put(j, b, (const char *)data + (start - off));
			continue;
		}
		/* Part of a block (the super block, 1 KiB): the rest as it is now. */
		err = io_channel_read_blk64(io, start / io->block_size, -(int)j->l.bsize, j->buf);
		if (err)
			break;
		memcpy(j->buf + (off > start ? off - start : 0),
		       (const char *)data + (start > off ? start - off : 0),
		       (end < start + j->l.bsize ? end : start + j->l.bsize) -
			       (off > start ? off : start));
		err = journal_put(j, b, j->buf);
	}
	return err;
}

static errcode_t jio_read(io_channel io, unsigned long blk, int count, void *data)
{
	return jio_read64(io, blk, count, data);
}

static errcode_t jio_write(io_channel io, unsigned long blk, int count, const void *data)
{
	return jio_write64(io, blk, count, data);
}

static errcode_t jio_set_blksize(io_channel io, int blksize)
{
	errcode_t err = io_channel_set_blksize(jio_of(io)->real, blksize);

	if (!err)
		io->block_size = blksize;
	return err;
}

static errcode_t jio_flush(io_channel io)
{
	return io_channel_flush(jio_of(io)->real);
}

static errcode_t jio_set_option(io_channel io, const char *option, const char *arg)
{
	io_channel r = jio_of(io)->real;

	if (!r->manager->set_option)
		return EXT2_ET_INVALID_ARGUMENT;
	return r->manager->set_option(r, option, arg);
}

static errcode_t jio_close(io_channel io)
{
	struct jio *c = jio_of(io);
	errcode_t err;

	if (--io->refcount > 0)
		return 0;
	err = io_channel_close(c->real);
	free(c);
	free(io->name);
	free(io);
	return err;
}

static errcode_t jio_open(const char *name, int flags, io_channel *channel);

static struct struct_io_manager journal_io = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "fuse-iomap-ext4 journal",
	.open = jio_open,
	.close = jio_close,
	.set_blksize = jio_set_blksize,
	.read_blk = jio_read,
	.write_blk = jio_write,
	.flush = jio_flush,
	.set_option = jio_set_option,
	.read_blk64 = jio_read64,
	.write_blk64 = jio_write64,
};

io_manager ext4_journal_io_manager = &journal_io;

static errcode_t jio_open(const char *name, int flags, io_channel *channel)
{
	struct jio *c = calloc(1, sizeof(*c));
	io_channel io = calloc(1, sizeof(*io));
	errcode_t err = EXT2_ET_NO_MEMORY;

	if (!c || !io || !(io->name = strdup(name)))
		goto out;
	err = unix_io_manager->open(name, flags, &c->real);
	if (err)
		goto out;
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = &journal_io;
	io->block_size = c->real->block_size;
	io->refcount = 1;
	io->flags = c->real->flags;
	io->align = c->real->align;
	io->private_data = c;
	*channel = io;
	return 0;
out:
	if (io)
		free(io->name);
	free(io);
	free(c);
	return err;
}

/* --- blocks freed ------------------------------------------------------------------ */

static int revoke_add(struct ext4_journal *j, blk64_t blk)
{
	if (j->nr_revokes == j->max_revokes) {
		size_t n = j->max_revokes ? 2 * j->max_revokes : 256;
		blk64_t *r = realloc(j->revokes, n * sizeof(*r));

		if (!r)
			return -1;
		j->revokes = r;
		j->max_revokes = n;
	}
	j->revokes[j->nr_revokes++] = blk;
	return 0;
}

static void journal_freed(struct ext4_journal *j, blk64_t blk, blk64_t num)
{
	for (; num; num--, blk++) {
		struct jentry **pp = jentry_slot(j, blk);

		if (!*pp)
			continue;
		/* Without the record a replay would write the old copy over new data. */
		if ((*pp)->in_log && revoke_add(j, blk))
			j->broken = true;
		jentry_drop(j, pp);
		journal_touch(j);
	}
}

/*
 * Only a block the last commit gives to someone waits for the next one.
 * One allocated since was free there, or freed since and marked then
 * (marks stay until the commit): an allocate-ahead tail freed before the
 * commit is free at once, as before.
 */
static void freed_note(struct ext4_journal *j, blk64_t blk, blk64_t num)
{
	blk64_t end = blk + num - 1, to;

	/*
	 * Run by run of blocks not allocated since, stepping over the ones
	 * that were: a tail is one run.  (libext2fs 1.47.0's find_first_zero
	 * on a tree bitmap fails where no bit is set from the range on.)
	 */
	while (blk <= end) {
		if (ext2fs_find_first_set_block_bitmap2(j->fresh, blk, end, &to))
			to = end + 1;
		if (to > blk) {
			ext2fs_mark_block_bitmap_range2(j->freed, blk, to - blk);
			j->nr_freed += to - blk;
		}
		for (blk = to; blk <= end && ext2fs_test_block_bitmap2(j->fresh, blk); blk++)
			;
	}
}

static void journal_range_stats(ext2_filsys fs, blk64_t blk, blk_t num, int inuse)
{
	struct ext4_journal *j = fs->priv_data;

	if (!j || !j->active || !num)
		return;
	j->range_noted = true;
	if (inuse > 0) {
		ext2fs_mark_block_bitmap_range2(j->fresh, blk, num);
		return;
	}
	freed_note(j, blk, num);
	if (j->nr_entries)
		journal_freed(j, blk, num);
}

static void journal_block_stats(ext2_filsys fs, blk64_t blk, int inuse)
{
	journal_range_stats(fs, blk, 1, inuse);
}

/*
 * ext2fs_block_alloc_stats_range(), with the journal told.  libext2fs
 * 1.47.0 (Debian 12's) calls the range callback with the range's end and
 * 0 blocks, later releases with the range: where the callback learnt
 * nothing, it is called here with the range.  Without, a directory block
 * freed by ext4_punch() stayed in the map, the kernel wrote file data
 * there, and a checkpoint wrote the old directory block over it
 * (ext4_stress_fsck_clean).
 */
void ext4_block_range_stats(ext2_filsys fs, blk64_t blk, blk_t num, int inuse)
{
	struct ext4_journal *j = fs->priv_data;

	if (j)
		j->range_noted = false;
	ext2fs_block_alloc_stats_range(fs, blk, num, inuse);
	if (j && !j->range_noted)
		journal_range_stats(fs, blk, num, inuse);
}

/* The last commit is durable: what the transactions before it freed is free. */
static void freed_release(struct ext4_journal *j)
{
	ext2fs_clear_block_bitmap(j->fresh);
	if (!j->nr_freed)
		return;
	ext2fs_clear_block_bitmap(j->freed);
	j->nr_freed = 0;
}

/*
 * The first block of [start, end] free in the block map and not freed
 * in the running transaction, in *b; ENOENT if none.
 */
static errcode_t reusable_block(struct ext4_journal *j, ext2_filsys fs, blk64_t start,
				blk64_t end, blk64_t *b)
{
	errcode_t err;

	while (start <= end) {
		err = ext2fs_find_first_zero_block_bitmap2(fs->block_map, start, end, b);
		if (err || !ext2fs_test_block_bitmap2(j->freed, *b))
			return err;
		err = ext2fs_find_first_zero_block_bitmap2(j->freed, *b, end, &start);
		if (err)
			return err;
	}
	return ENOENT;
}

/* Where the run of reusable blocks from @b (reusable itself) ends, @end at most. */
static blk64_t reusable_end(struct ext4_journal *j, ext2_filsys fs, blk64_t b, blk64_t end)
{
	blk64_t busy;

	if (!ext2fs_find_first_set_block_bitmap2(fs->block_map, b, end, &busy))
		end = busy - 1;
	if (!ext2fs_find_first_set_block_bitmap2(j->freed, b, end, &busy))
		end = busy - 1;
	return end + 1;
}

/*
 * ext2fs_new_range()'s search, over blocks that are free and not freed in
 * the running transaction: for file data (map.c).
 *
 * Nor is the file system's last block given out: libext2fs 1.47.0's
 * ext2fs_punch() refuses to free blocks of an extent that ends there
 * (EXT2_ET_BAD_BLOCK_NUM, an off-by-one fixed upstream later), so the file
 * holding it could not be truncated, nor its tail freed.  Holding blocks
 * back until the commit makes allocations sweep on to the end of the disk
 * where they used to take the blocks just freed.
 */
static errcode_t journal_new_range(ext2_filsys fs, int flags, blk64_t goal, blk64_t len,
				   blk64_t *pblk, blk64_t *plen)
{
	struct ext4_journal *j = fs->priv_data;
	blk64_t first = fs->super->s_first_data_block, last = ext2fs_blocks_count(fs->super) - 2;
	blk64_t from, to, b, e;

	if (!j)
		return ext2fs_new_range(fs, flags, goal, len, fs->block_map, pblk, plen);
	if (goal < first || goal > last)
		goal = first;
	for (int pass = 0; pass < 2; pass++) {
		/* From the goal to the end, then from the start up to the goal. */
		if (pass && (goal == first || (flags & EXT2_NEWRANGE_FIXED_GOAL)))
			break;
		from = pass ? first : goal;
		to = pass ? goal - 1 : last;
		while (from <= to && !reusable_block(j, fs, from, to, &b)) {
			if ((flags & EXT2_NEWRANGE_FIXED_GOAL) && b != goal)
				return EXT2_ET_BLOCK_ALLOC_FAIL;
			e = reusable_end(j, fs, b, b + len - 1 < last ? b + len - 1 : last);
			if (!(flags & EXT2_NEWRANGE_MIN_LENGTH) || e - b >= len) {
				*pblk = b;
				*plen = e - b;
				return 0;
			}
			if (flags & EXT2_NEWRANGE_FIXED_GOAL)
				return EXT2_ET_BLOCK_ALLOC_FAIL;
			from = e;
		}
	}
	return EXT2_ET_BLOCK_ALLOC_FAIL;
}

/*
 * One block for libext2fs (ext2fs_alloc_block, ext2fs_new_block with no
 * map): one not freed in the running transaction if there is one, else
 * any free block.  What libext2fs writes into it is journaled, so a crash
 * before the commit leaves the old owner's bytes where they were; taking
 * it spares an extent split at ioend an ENOSPC that a commit in the
 * middle of the split could not cure.
 */
static errcode_t journal_alloc_block(ext2_filsys fs, blk64_t goal, blk64_t *ret)
{
	blk64_t len;

	if (!journal_new_range(fs, 0, goal, 1, ret, &len))
		return 0;
	return ext2fs_new_block2(fs, goal, fs->block_map, ret);
}

bool ext4_journal_deferred(const struct ext4srv *s)
{
	return s->jnl && s->jnl->nr_freed;
}

/* --- commit and checkpoint --------------------------------------------------------- */

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void jblock_header(struct ext4_journal *j, enum jbd2_block_type type)
{
	memset(j->buf, 0, j->l.bsize);
	jbd2_put32(j->buf + JBD2_H_MAGIC, JBD2_MAGIC);
	jbd2_put32(j->buf + JBD2_H_TYPE, type);
	jbd2_put32(j->buf + JBD2_H_SEQUENCE, j->tid);
}

static void jblock_tail(struct ext4_journal *j)
{
	size_t at = j->l.bsize - JBD2_TAIL_SIZE;

	if (j->l.csum)
		jbd2_put32(j->buf + at, jbd2_crc_zeroed(j->l.seed, j->buf, j->l.bsize, at));
}

/* Writes @buf at log block *jblk and moves it on (the commit block). */
static int log_write(struct ext4_journal *j, uint32_t *jblk, const void *buf)
{
	errcode_t err = real_block(j, j->l.map[*jblk], (void *)buf, true);

	if (err) {
		jbd2_err(&j->l, "can't write journal block %u: %s", *jblk, error_message(err));
		return -1;
	}
	*jblk = jbd2_next(&j->l, *jblk);
	j->st.blocks++;
	j->st.log_writes++;
	return 0;
}

/* A tag for @e at @t; its block as the log holds it (escaped) in @out. */
static void log_tag(struct ext4_journal *j, unsigned char *t, const struct jentry *e,
		    unsigned char *out, uint32_t flags)
{
	unsigned char be_tid[4];
	uint32_t sum = 0;

	memcpy(out, e->data, j->l.bsize);
	if (jbd2_get32(out) == JBD2_MAGIC) {
		memset(out, 0, 4);
		flags |= JBD2_TAG_ESCAPE;
	}
	if (j->l.csum) {
		jbd2_put32(be_tid, j->tid);
		sum = jbd2_crc(jbd2_crc(j->l.seed, be_tid, 4), out, j->l.bsize);
	}
	jbd2_put32(t, (uint32_t)e->blk);
	if (j->l.v3) {
		jbd2_put32(t + 4, flags);
		jbd2_put32(t + 8, (uint32_t)(e->blk >> 32));
		jbd2_put32(t + 12, sum);
		return;
	}
	if (j->l.csum)
		put16(t + 4, (uint16_t)sum);
	put16(t + 6, (uint16_t)flags);
	if (j->l.b64)
		jbd2_put32(t + 8, (uint32_t)(e->blk >> 32));
}

/*
 * A transaction is built in a stage, its log blocks in log order, and then
 * written in as few writes as the log's placement allows: one per run of
 * contiguous device blocks, where one pwrite per block made a 4 KiB fsync
 * cost twice the device writes of the kernel's jbd2.
 */
struct log_stage {
	unsigned char *blocks;
	uint32_t n;
};

static unsigned char *stage_next(struct ext4_journal *j, struct log_stage *st)
{
	return st->blocks + (size_t)st->n++ * j->l.bsize;
}

/* The running blocks, each descriptor block before the blocks it names. */
static void log_blocks(struct ext4_journal *j, struct jentry **v, size_t n, struct log_stage *st)
{
	size_t limit = j->l.bsize - (j->l.csum ? JBD2_TAIL_SIZE : 0), i = 0;

	while (i < n) {
		unsigned char *desc = stage_next(j, st);
		size_t from = i, k = i, at = JBD2_H_SIZE;

		/* How many tags fit: the first one carries the UUID. */
		while (k < n && at + j->l.tag_bytes + (k == from ? JBD2_UUID_SIZE : 0) <= limit)
			at += j->l.tag_bytes + (k++ == from ? JBD2_UUID_SIZE : 0);
		jblock_header(j, JBD2_DESCRIPTOR);
		for (at = JBD2_H_SIZE; i < k; i++) {
			uint32_t flags = (i == from ? 0 : JBD2_TAG_SAME_UUID) |
					 (i + 1 == k ? JBD2_TAG_LAST : 0);

			log_tag(j, j->buf + at, v[i], stage_next(j, st), flags);
			at += j->l.tag_bytes;
			if (i == from) {
				memcpy(j->buf + at, j->l.jsb + JBD2_S_UUID, JBD2_UUID_SIZE);
				at += JBD2_UUID_SIZE;
			}
		}
		jblock_tail(j);
		memcpy(desc, j->buf, j->l.bsize);
	}
}

static void log_revokes(struct ext4_journal *j, struct log_stage *st)
{
	size_t rsize = j->l.b64 ? 8 : 4, limit = j->l.bsize - (j->l.csum ? JBD2_TAIL_SIZE : 0);
	size_t i = 0, at;

	while (i < j->nr_revokes) {
		jblock_header(j, JBD2_REVOKE);
		for (at = JBD2_R_RECORDS; i < j->nr_revokes && at + rsize <= limit; i++, at += rsize) {
			if (j->l.b64) {
				jbd2_put32(j->buf + at, (uint32_t)(j->revokes[i] >> 32));
				jbd2_put32(j->buf + at + 4, (uint32_t)j->revokes[i]);
			} else {
				jbd2_put32(j->buf + at, (uint32_t)j->revokes[i]);
			}
		}
		jbd2_put32(j->buf + JBD2_R_COUNT, at);
		jblock_tail(j);
		memcpy(stage_next(j, st), j->buf, j->l.bsize);
	}
}

/* The stage from log block *jblk on, one write per contiguous run on the device. */
static int log_write_stage(struct ext4_journal *j, uint32_t *jblk, const struct log_stage *st)
{
	uint32_t max_run = INT_MAX / j->l.bsize;

	for (uint32_t i = 0, run; i < st->n; i += run) {
		blk64_t at = j->l.map[*jblk];
		uint32_t next = jbd2_next(&j->l, *jblk);
		errcode_t err;

		for (run = 1; i + run < st->n && run < max_run && j->l.map[next] == at + run; run++)
			next = jbd2_next(&j->l, next);
		err = real_blocks(j, at, run, st->blocks + (size_t)i * j->l.bsize, true);
		if (err) {
			jbd2_err(&j->l, "can't write journal blocks %u-%u: %s", *jblk,
				 *jblk + run - 1, error_message(err));
			return -1;
		}
		*jblk = next;
		j->st.blocks += run;
		j->st.log_writes++;
	}
	return 0;
}

static int log_commit_block(struct ext4_journal *j, uint32_t *jblk)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	jblock_header(j, JBD2_COMMIT);
	jbd2_put32(j->buf + JBD2_C_SEC, (uint32_t)((uint64_t)ts.tv_sec >> 32));
	jbd2_put32(j->buf + JBD2_C_SEC + 4, (uint32_t)ts.tv_sec);
	jbd2_put32(j->buf + JBD2_C_NSEC, (uint32_t)ts.tv_nsec);
	if (j->l.csum)
		jbd2_put32(j->buf + JBD2_C_CHECKSUM,
			   jbd2_crc_zeroed(j->l.seed, j->buf, j->l.bsize, JBD2_C_CHECKSUM));
	return log_write(j, jblk, j->buf);
}

/* Log blocks a transaction of @n blocks and the running revokes takes. */
static uint32_t log_need(const struct ext4_journal *j, size_t n)
{
	size_t limit = j->l.bsize - (j->l.csum ? JBD2_TAIL_SIZE : 0) - JBD2_H_SIZE;
	size_t per_desc = (limit - JBD2_UUID_SIZE) / j->l.tag_bytes;
	size_t per_revoke = (limit - 4) / (j->l.b64 ? 8 : 4);

	return n + (n + per_desc - 1) / per_desc + (j->nr_revokes + per_revoke - 1) / per_revoke + 1;
}

static errcode_t flush_real(struct ext4_journal *j)
{
	return io_channel_flush(j->real);
}

static int write_sb(struct ext4_journal *j, uint32_t start)
{
	jbd2_sb_set(&j->l, j->tid, start);
	if (real_block(j, j->l.map[0], j->l.jsb, true)) {
		jbd2_err(&j->l, "can't write the journal super block");
		return -1;
	}
	return 0;
}

/* All committed blocks home, then the log starts at its head: empty. */
static int checkpoint(struct ext4_journal *j)
{
	errcode_t err = 0;

	for (size_t b = 0; b < j->nr_buckets; b++) {
		struct jentry **pp = &j->hash[b];

		while (*pp) {
			if ((*pp)->running) {
				pp = &(*pp)->next;
				continue;
			}
			if (!err)
				err = real_block(j, (*pp)->blk, (*pp)->data, true);
			jentry_drop(j, pp);
		}
	}
	if (!err)
		err = flush_real(j);
	if (err) {
		jbd2_err(&j->l, "can't write committed blocks home: %s", error_message(err));
		return -1;
	}
	j->used = 0;
	j->st.checkpoints++;
	/* Made stable by the next commit's first flush, before its blocks. */
	return write_sb(j, j->head);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct jentry *x = *(struct jentry *const *)a, *y = *(struct jentry *const *)b;

	return x->blk < y->blk ? -1 : x->blk > y->blk;
}

static struct jentry **running_list(struct ext4_journal *j)
{
	struct jentry **v = malloc((j->nr_running ? j->nr_running : 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return NULL;
	for (struct jentry *e = j->run; e; e = e->run_next)
		v[n++] = e;
	qsort(v, n, sizeof(*v), cmp_entry);
	return v;
}

static int log_transaction(struct ext4_journal *j, struct jentry **v)
{
	uint32_t jblk = j->head, need = log_need(j, j->nr_running);
	struct log_stage st = { NULL, 0 };
	int ret;

	/* need counts the commit block, which is written on its own. */
	if (posix_memalign((void **)&st.blocks, j->l.bsize, (size_t)need * j->l.bsize)) {
		jbd2_err(&j->l, "no memory for a transaction of %u log blocks", need);
		return -1;
	}
	log_blocks(j, v, j->nr_running, &st);
	log_revokes(j, &st);
	ret = log_write_stage(j, &jblk, &st);
	free(st.blocks);
	if (ret)
		return -1;
	/* One flush for the data the kernel wrote and the log blocks before the commit block. */
	if (flush_real(j) || log_commit_block(j, &jblk) || flush_real(j)) {
		jbd2_err(&j->l, "can't flush transaction %u", j->tid);
		return -1;
	}
	for (size_t i = 0; i < j->nr_running; i++) {
		v[i]->running = false;
		v[i]->in_log = true;
	}
	j->st.revokes += j->nr_revokes;
	j->run = NULL;
	j->nr_running = 0;
	j->nr_revokes = 0;
	j->head = jblk;
	j->used += need;
	j->tid++;
	j->st.transactions++;
	freed_release(j);
	return 0;
}

/*
 * A transaction bigger than the log's free room: written home in place,
 * the image marked not clean meanwhile, so that a crash now needs e2fsck,
 * as with --journal=off.
 */
static int write_in_place(struct ext4_journal *j, ext2_filsys fs)
{
	errcode_t err;

	fprintf(stderr, "fuse-iomap-ext4: %s: a transaction of %zu blocks does not fit the "
		"journal: written in place\n", j->l.image, j->nr_running);
	j->active = false;
	fs->super->s_state &= ~EXT2_VALID_FS;
	ext2fs_mark_super_dirty(fs);
	err = ext2fs_flush2(fs, 0);
	if (!err) {
		for (size_t b = 0; b < j->nr_buckets; b++)
			while (j->hash[b] && !err) {
				err = real_block(j, j->hash[b]->blk, j->hash[b]->data, true);
				jentry_drop(j, &j->hash[b]);
			}
	}
	j->nr_revokes = 0;
	j->used = 0;
	if (!err)
		err = flush_real(j);
	if (!err && write_sb(j, j->head))
		err = EIO;
	if (!err) {
		fs->super->s_state |= EXT2_VALID_FS;
		ext2fs_mark_super_dirty(fs);
		err = ext2fs_flush2(fs, 0);
	}
	if (!err)
		freed_release(j);
	j->active = true;
	return err ? -1 : 0;
}

static uint64_t us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

int ext4_journal_commit(struct ext4srv *s)
{
	struct ext4_journal *j = s->jnl;
	struct jentry **v = NULL;
	struct timespec t0;
	errcode_t err;
	uint64_t t;
	int ret = -1;

	if (j->broken)
		return EIO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = ext2fs_flush2(s->fs, EXT2_FLAG_FLUSH_NO_SYNC);
	if (err) {
		fprintf(stderr, "fuse-iomap-ext4: %s: can't write metadata: %s\n", j->l.image,
			error_message(err));
		goto out;
	}
	j->dirty = false;
	if (!j->nr_running && !j->nr_revokes) {
		/* Nothing to log: an fsync still wants the data stable. */
		if (fsync(s->dev_fd) < 0) {
			jbd2_err(&j->l, "can't flush the data: %s", strerror(errno));
			goto out;
		}
		/* The image on disk is the metadata in memory: nothing there owns them. */
		freed_release(j);
		return 0;
	}
	if (j->used + log_need(j, j->nr_running) > j->l.last - j->l.first) {
		ret = write_in_place(j, s->fs);
		goto out;
	}
	v = running_list(j);
	if (!v || log_transaction(j, v))
		goto out;
	if (j->l.last - j->l.first - j->used < j->max_trans && checkpoint(j))
		goto out;
	ret = 0;
	t = us_since(&t0);
	j->st.commit_us += t;
	if (t > j->st.commit_us_max)
		j->st.commit_us_max = t;
out:
	free(v);
	if (ret) {
		/* The log may be half written: a replay ends at the torn transaction. */
		j->broken = true;
		return EIO;
	}
	return 0;
}

void ext4_journal_idle(struct ext4srv *s)
{
	struct ext4_journal *j = s->jnl;

	if (!j || j->broken)
		return;
	if (!j->dirty && (s->fs->flags & (EXT2_FLAG_DIRTY | EXT2_FLAG_BB_DIRTY | EXT2_FLAG_IB_DIRTY)))
		journal_touch(j);
	if (!j->dirty)
		return;
	if (us_since(&j->dirty_since) >= s->commit_sec * 1000000ULL ||
	    log_need(j, j->nr_running) >= j->max_trans / 2)
		ext4_journal_commit(s);
}

int ext4_journal_write_data(struct ext4srv *s, blk64_t blk, const void *buf)
{
	struct ext4_journal *j = s->jnl;

	if (!j)
		return to_errno(io_channel_write_blk64(s->fs->io, blk, 1, buf));
	return to_errno(real_block(j, blk, (void *)buf, true));
}

/* --- start and stop ----------------------------------------------------------------- */

/* The bitmaps of blocks freed and allocated in the running transaction: trees, of few runs. */
static int freed_setup(struct ext4_journal *j, ext2_filsys fs)
{
	__u16 type = fs->default_bitmap_type;
	errcode_t err;

	fs->default_bitmap_type = EXT2FS_BMAP64_RBTREE;
	err = ext2fs_allocate_block_bitmap(fs, "freed in the running transaction", &j->freed);
	if (!err)
		err = ext2fs_allocate_block_bitmap(fs, "allocated in the running transaction",
						   &j->fresh);
	fs->default_bitmap_type = type;
	if (err) {
		jbd2_err(&j->l, "can't make a bitmap: %s", error_message(err));
		return -1;
	}
	return 0;
}

static void journal_hooks(ext2_filsys fs, bool on)
{
	ext2fs_set_block_alloc_stats_callback(fs, on ? journal_block_stats : NULL, NULL);
	ext2fs_set_block_alloc_stats_range_callback(fs, on ? journal_range_stats : NULL, NULL);
	ext2fs_set_new_range_callback(fs, on ? journal_new_range : NULL, NULL);
	ext2fs_set_alloc_block_callback(fs, on ? journal_alloc_block : NULL, NULL);
}

static int journal_setup(struct ext4_journal *j, ext2_filsys fs)
{
	uint32_t len;

	if (j->l.start) {
		jbd2_err(&j->l, "its log is not empty");
		return -1;
	}
	if (jbd2_log_map(&j->l))
		return -1;
	len = j->l.last - j->l.first;
	if (len < 64) {
		jbd2_err(&j->l, "it has only %u log blocks", len);
		return -1;
	}
	j->max_trans = len / 4;
	for (j->nr_buckets = 64; j->nr_buckets < len; j->nr_buckets *= 2)
		;
	j->hash = calloc(j->nr_buckets, sizeof(*j->hash));
	if (!j->hash || posix_memalign((void **)&j->buf, j->l.bsize, j->l.bsize)) {
		j->buf = NULL;
		jbd2_err(&j->l, "out of memory");
		return -1;
	}
	/* As the kernel's ext4 sets them before it writes such records. */
	j->l.incompat |= JBD2_INCOMPAT_REVOKE;
	if (ext2fs_has_feature_64bit(fs->super))
		j->l.incompat |= JBD2_INCOMPAT_64BIT;
	j->l.b64 = j->l.incompat & JBD2_INCOMPAT_64BIT;
	if (!j->l.v3)
		j->l.tag_bytes = 8 + (j->l.b64 ? 4 : 0) + (j->l.csum ? 2 : 0);
	j->head = j->l.first;
	j->tid = j->l.seq;
	return freed_setup(j, fs);
}

int ext4_journal_start(struct ext4srv *s, const char *image)
{
	struct ext4_journal *j = calloc(1, sizeof(*j));
	struct jio *c = jio_of(s->fs->io);
	errcode_t err;

	if (!j || s->fs->io->manager != &journal_io) {
		fprintf(stderr, "fuse-iomap-ext4: can't journal %s: %s\n", image,
			j ? "not opened through the journal" : strerror(ENOMEM));
		free(j);
		return -1;
	}
	j->real = c->real;
	if (jbd2_log_open(&j->l, s->fs, image, "write to") || journal_setup(j, s->fs))
		goto fail;
	/* The log starts at its head, empty; needs_recovery tells the kernel to look. */
	if (write_sb(j, j->head))
		goto fail;
	ext2fs_set_feature_journal_needs_recovery(s->fs->super);
	ext2fs_mark_super_dirty(s->fs);
	err = ext2fs_flush2(s->fs, 0);
	if (err) {
		jbd2_err(&j->l, "can't mark it in use: %s", error_message(err));
		goto fail;
	}
	/* The kernel's ext4 updates backups only when it resizes: so do we. */
	s->fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	s->fs->priv_data = j;
	journal_hooks(s->fs, true);
	c->j = j;
	j->active = true;
	s->jnl = j;
	return 0;
fail:
	if (j->freed)
		ext2fs_free_block_bitmap(j->freed);
	if (j->fresh)
		ext2fs_free_block_bitmap(j->fresh);
	free(j->hash);
	free(j->buf);
	jbd2_log_close(&j->l);
	free(j);
	return -1;
}

/* Commit, checkpoint, and leave an empty log and an image that needs no recovery. */
int ext4_journal_stop(struct ext4srv *s)
{
	struct ext4_journal *j = s->jnl;
	errcode_t err;
	int ret = -1;

	if (!j)
		return 0;
	if (!ext4_journal_commit(s) && !checkpoint(j)) {
		j->active = false;
		ext2fs_clear_feature_journal_needs_recovery(s->fs->super);
		ext2fs_mark_super_dirty(s->fs);
		s->fs->flags &= ~EXT2_FLAG_MASTER_SB_ONLY;
		if (write_sb(j, 0) || flush_real(j))
			err = EIO;
		else
			err = ext2fs_flush2(s->fs, 0);
		if (!err)
			ret = 0;
		else
			jbd2_err(&j->l, "can't mark it empty: %s", error_message(err));
	}
	j->active = false;
	jio_of(s->fs->io)->j = NULL;
	s->fs->priv_data = NULL;
	journal_hooks(s->fs, false);
	ext2fs_free_block_bitmap(j->freed);
	ext2fs_free_block_bitmap(j->fresh);
	s->jstats = j->st;
	for (size_t b = 0; b < j->nr_buckets; b++)
		while (j->hash[b])
			jentry_drop(j, &j->hash[b]);
	free(j->hash);
	free(j->revokes);
	free(j->buf);
	jbd2_log_close(&j->l);
	free(j);
	s->jnl = NULL;
	return ret;
}

const struct ext4_journal_stats *ext4_journal_stats(const struct ext4srv *s)
{
	return s->jnl ? &s->jnl->st : &s->jstats;
}
