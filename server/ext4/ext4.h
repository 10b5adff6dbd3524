/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuse-iomap-ext4: what its files share.  main.c runs the server, image.c
 * opens and closes the image, sync.c answers statfs, flush and fsync,
 * xattr.c the extended attributes; inode.c reads, writes, frees and tracks inodes; dir.c keeps
 * the namespace; map.c answers FUSE_IOMAP_BEGIN and IOEND, convert.c
 * initializes what ioends report written, tail.c allocates ahead of
 * appends and frees what they did not use; replay.c replays the journal
 * (jbd2.h, jbd2.c) before the image is served, and journal.c writes it.
 */
#ifndef FI_EXT4_H
#define FI_EXT4_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <ext2fs/ext2fs.h>
#include <fuse_lowlevel.h>

#include "fuse_iomap_server.h"

/* How long the kernel may cache names and attributes: we are its only writer. */
#define EXT4_TIMEOUT	60.0

/* Commit at least this often while something changed, as the kernel's ext4 does. */
#define EXT4_COMMIT_SEC		5
#define EXT4_COMMIT_SEC_MAX	3600

/* The kernel's references to one inode (FUSE lookup counts), and what we keep for it. */
struct ext4_ref {
	struct ext4_ref *next;
	ext2_ino_t ino;
	bool orphan;		/* no names left: free it at the last forget */
	uint64_t nlookup;
	uint32_t writers;	/* open for writing */
	blk64_t tail_from, tail_to;	/* allocated ahead (tail.c) */
};

/* What the journal writer did (journal.c). */
struct ext4_journal_stats {
	uint64_t transactions;	/* committed */
	uint64_t blocks;	/* written to the log (descriptors, metadata, revokes, commits) */
	uint64_t log_writes;	/* writes that carried them: a contiguous run is one */
	uint64_t revokes;	/* revoke records */
	uint64_t checkpoints;
	uint64_t commit_us, commit_us_max;	/* commit latency, in all and the longest */
};

struct ext4_journal;

/* What replaying the journal before serving did (replay.c). */
struct ext4_replay_stats {
	uint32_t transactions;	/* committed, replayed */
	uint64_t blocks;	/* written home */
	uint64_t revoked;	/* skipped for a revoke record */
};

struct ext4srv {
	ext2_filsys fs;
	unsigned int bbits;	/* log2 of the file system block size */
	uint64_t maxbytes;	/* the largest file size (ext4_max_file_size()) */
	blk64_t tree_reserve;	/* free blocks data allocation leaves to the extent trees */
	uint32_t cookie;	/* of the registered block device */
	bool rw;
	int dev_fd;		/* the registered device, for fsync */
	struct fi_server *srv;
	bool bpf;		/* --bpf: the extent_map tier */
	const char *journal_opt;	/* --journal, or NULL */
	unsigned int commit_sec;	/* --commit: at most this long between commits */
	bool journal;		/* journaling metadata (read-write, --journal=ordered) */
	struct ext4_journal *jnl;	/* while journaling */
	struct ext4_journal_stats jstats;	/* the journal's, once it stopped */
	struct ext4_replay_stats replayed;
	bool did_replay;
	const char *stats_path;	/* --stats */
	uint64_t stats_at;	/* transactions when it was last written */
	bool stats_failed;	/* said once that it can't be written */
	/* The kernel's lookup count per inode, and whether it is unlinked. */
	struct ext4_ref **refs;
	size_t nr_buckets;
};

static inline struct ext4srv *srv_of(fuse_req_t req)
{
	return fi_req_ctx(req);
}

/* fuse's root is node 1; ext4's root directory is inode 2 (1 is bad blocks). */
static inline ext2_ino_t to_ino(fuse_ino_t nodeid)
{
	return nodeid == FUSE_ROOT_ID ? EXT2_ROOT_INO : nodeid;
}

static inline fuse_ino_t to_nodeid(ext2_ino_t ino)
{
	return ino == EXT2_ROOT_INO ? FUSE_ROOT_ID : ino;
}

static inline struct ext2_inode *ext2(struct ext2_inode_large *inode)
{
	return (struct ext2_inode *)inode;
}

/*
 * The BPF tier must not answer from @ino's extents while they change.  The
 * library forgets them before a write's BEGIN, SETATTR of the size and
 * FALLOCATE; this is for the changes it does not see (freeing an inode,
 * truncating at open).
 */
static inline void ext4_bpf_forget(struct ext4srv *s, ext2_ino_t ino)
{
	if (s->bpf && s->srv)
		fi_server_bpf_forget(s->srv, to_nodeid(ino));
}

/* image.c */
int ext4_open_dev(const char *image, bool ro);
int ext4_open_fs(const char *image, struct ext4srv *s);
int ext4_close_fs(const char *image, struct ext4srv *s);

/* sync.c */
int ext4_sync(struct ext4srv *s, bool sync);
void ext4_idle(void *ctx);
void ext4_statfs(fuse_req_t req, fuse_ino_t nodeid);
void ext4_flush(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi);
void ext4_fsync(fuse_req_t req, fuse_ino_t nodeid, int datasync, struct fuse_file_info *fi);
void ext4_report(const char *image, struct ext4srv *s);

/* xattr.c */
void ext4_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size);
void ext4_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name, size_t size);

/* ext4_inode.c */
int to_errno(errcode_t err);
int ext4_read_inode(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode);
int ext4_write_inode(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode);
void ext4_stat(struct ext4srv *s, ext2_ino_t ino, const struct ext2_inode_large *inode,
	       struct stat *st);
void ext4_touch(struct ext2_inode_large *inode, bool mtime);
int ext4_new_inode(struct ext4srv *s, ext2_ino_t dir, mode_t mode, const struct fuse_ctx *who,
		   ext2_ino_t *ino, struct ext2_inode_large *inode);
int ext4_drop_link(struct ext4srv *s, ext2_ino_t ino);
int ext4_set_size(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		  uint64_t size);
void ext4_reply_entry(fuse_req_t req, ext2_ino_t ino, struct fuse_file_info *fi);
void ext4_forget(fuse_req_t req, fuse_ino_t nodeid, uint64_t nlookup);
void ext4_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void ext4_free_orphans(struct ext4srv *s);
int ext4_orphans_recover(struct ext4srv *s, unsigned int *freed);
int ext4_orphan_recover_one(struct ext4srv *s, ext2_ino_t ino);
int ext4_orphan_file_recover(struct ext4srv *s, unsigned int *freed);
struct ext4_ref *ext4_ref_find(struct ext4srv *s, ext2_ino_t ino);
void ext4_getattr(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi);
void ext4_setattr(fuse_req_t req, fuse_ino_t nodeid, struct stat *attr, int to_set,
		  struct fuse_file_info *fi);

/* ext4_dir.c */
void ext4_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ext4_readdir(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
		  struct fuse_file_info *fi);
void ext4_readlink(fuse_req_t req, fuse_ino_t nodeid);
void ext4_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void ext4_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		 struct fuse_file_info *fi);
void ext4_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ext4_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void ext4_link(fuse_req_t req, fuse_ino_t nodeid, fuse_ino_t parent, const char *name);
void ext4_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ext4_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ext4_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		 const char *newname, unsigned int flags);

/* map.c */
/* Sizes ext4srv.tree_reserve: see ext4_tree_reserve() in image.c. */
#define EXT4_TREE_RESERVE_MIN	64
#define EXT4_TREE_RESERVE_MAX	4096
/* At most this many blocks per write mapping: bounds the work of one upcall. */
#define EXT4_MAP_MAX_ALLOC	4096
extern const struct fi_iomap_ops ext4_iomap_ops;
int ext4_punch(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
	       blk64_t first, blk64_t last);
int ext4_shrink_tree(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode);
void ext4_fallocate(fuse_req_t req, fuse_ino_t nodeid, int mode, off_t offset, off_t length,
		    struct fuse_file_info *fi);

/* tail.c */
/* The least a new file gets allocated ahead of its appends (1 MiB of 4 KiB blocks). */
#define EXT4_AHEAD_MIN		256
/* An allocation ahead is taken in at most this many runs of free blocks. */
#define EXT4_AHEAD_RUNS		4
blk64_t ext4_ahead(struct ext4srv *s, const struct ext2_inode_large *inode, blk64_t lblk,
		   blk64_t want);
void ext4_tail_note(struct ext4srv *s, ext2_ino_t ino, blk64_t from, blk64_t to);
int ext4_tail_trim(struct ext4srv *s, struct ext4_ref *r);
void ext4_writer_open(struct ext4srv *s, ext2_ino_t ino, const struct fuse_file_info *fi);
void ext4_tail_keep(struct ext4srv *s, ext2_ino_t ino, blk64_t from);
void ext4_release(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi);

/* convert.c */
bool ext4_extent_continues(const struct ext2fs_extent *prev, const struct ext2fs_extent *e);
int ext4_convert(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		 blk64_t lblk, blk64_t len);

/* journal.c */
extern io_manager ext4_journal_io_manager;
int ext4_journal_start(struct ext4srv *s, const char *image);
int ext4_journal_commit(struct ext4srv *s);
bool ext4_journal_deferred(const struct ext4srv *s);
void ext4_journal_idle(struct ext4srv *s);
int ext4_journal_stop(struct ext4srv *s);
int ext4_journal_write_data(struct ext4srv *s, blk64_t blk, const void *buf);
void ext4_block_range_stats(ext2_filsys fs, blk64_t blk, blk_t num, int inuse);
const struct ext4_journal_stats *ext4_journal_stats(const struct ext4srv *s);

/* replay.c */
int ext4_journal_replay(ext2_filsys fs, const char *image, struct ext4_replay_stats *st);

#endif
