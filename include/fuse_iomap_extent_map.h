/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * extent_map's store: what a server's library writes with plain memory
 * stores and bpf/extent_map.bpf.c reads, in one BPF arena
 * (BPF_MAP_TYPE_ARENA) per connection that the library mmap()s.
 *
 * The arena holds a root (struct fi_store_root, the program's one arena
 * global, where libbpf puts it: see fi_store_table_off()), a table of
 * FI_STORE_FILES file slots from the arena's second page, and
 * per file an array of extents sorted by lblk, each with a check, and an
 * index after them (FI_INDEX_SHIFT): the base list, written whole by a
 * publish.  Beside it, a file may have an overlay: up to FI_OVERLAY_MAX
 * extents, sorted, that say what [lblk, lblk + len) of the file is now,
 * whatever the base says there (a HOLE type punches it).  A change of a
 * few extents (a conversion, an allocation, a truncate) rewrites the
 * overlay only, so its cost does not grow with the base; the library
 * publishes the file again (emptying it) once it is half full.  Addresses in the store are the
 * library's (the arena's user mapping); a program uses their low 32 bits,
 * as every arena pointer.  Holes are the gaps (a file's list is
 * complete), past the last extent a hole to any file size.  Blocks are in
 * units of 1 << blkbits.
 *
 * Publication (the library alone writes a slot, under its lock):
 *	seq++ (odd); store barrier; change the slot and its extents;
 *	store barrier; seq++ (even).
 * A program reads seq, then what it needs, then seq again, and answers
 * nothing (the kernel upcalls) unless both reads saw the same even value.
 * A slot keeps its seq across reuse, so a program that matched a node id
 * and then saw the slot given to another file or its extents moved also
 * sees seq move.  Old extent arrays may be reused at once: a reader of
 * one sees the seq of the slot that pointed at it move.  A base extent's
 * check names the list's gen (which each publish moves), not seq, so
 * that a change of the overlay does not rewrite the base.  The ordering
 * this needs (the reader's loads not passing one another, the writer's
 * stores not passing one another) is x86-64's own (TSO): a BPF load or
 * store is one x86 load or store in program order, and both sides only
 * keep the compiler from reordering.  6.12's BPF has no fence instruction
 * for another architecture to use.
 */
#ifndef FI_EXTENT_MAP_H
#define FI_EXTENT_MAP_H

#include <linux/types.h>

#include "fuse_iomap_bpf.h"

/* A pointer into the arena: the program's loads through it are the arena's. */
#ifdef __BPF__
#define FI_ARENA __attribute__((address_space(1)))
#else
#define FI_ARENA
#endif

/* Slots in the file table (a power of 2), and how far a lookup probes. */
#define FI_STORE_FILES		65536
#define FI_STORE_PROBES		16
/*
 * A list longer than FI_INDEX_K extents has an index after its extents
 * in the same array, so that a search reads a few pages, not one per
 * step: the first lblk of every FI_INDEX_K extents, and before those,
 * when there are more than FI_INDEX_K of them, the first of every
 * FI_INDEX_K of those.  At most 2^24 extents in one file (three
 * searches of FI_INDEX_SHIFT steps).
 */
#define FI_INDEX_SHIFT		8
#define FI_INDEX_K		(1U << FI_INDEX_SHIFT)
#define FI_STORE_MAX_EXTENTS	(1U << (3 * FI_INDEX_SHIFT))
/* The arena's default size, in pages: address space, filled as written. */
#define FI_STORE_PAGES		(1U << 18)

/* Overlay extents one file may have; a change past it forgets the file. */
#define FI_OVERLAY_MAX		64

/* fi_store_file.nodeid of a slot whose file went (probing goes on past it). */
#define FI_STORE_GONE		(~0ULL)

/* fi_store_file.flags */
#define FI_FILE_NO_WRITES	(1U << 0)	/* every write asks the server (out of place) */
/*
 * The server takes FUSE_IOMAP_IOEND: writes into UNWRITTEN extents are
 * answered (converted at ioend), and writes that may grow the file ask for
 * ioend instead of FUSE_IOMAP_END.  Without it, neither.
 */
#define FI_FILE_IOEND		(1U << 1)

struct fi_extent {
	__u64 lblk;		/* first file block */
	__u64 len;		/* blocks */
	__u64 pblk;		/* first device block */
	__u32 dev;		/* device cookie */
	__u16 type;		/* FUSE_IOMAP_TYPE_MAPPED or _UNWRITTEN; _HOLE in an overlay */
	__u16 reserved;
};

/*
 * An extent as the store holds it: struct fi_extent and a check that binds
 * it to its file, its place in the list and the list's version.
 */
struct fi_store_extent {
	__u64 lblk;
	__u64 len;
	__u64 pblk;
	__u32 dev;
	__u16 type;
	__u16 reserved;
	__u32 check;		/* fi_store_extent_check() */
	__u32 reserved2;
};

/* One slot of the file table, found by open addressing on the node id. */
struct fi_store_file {
	__u64 nodeid;		/* 0: never used (ends a probe), or FI_STORE_GONE */
	__u32 seq;		/* odd while the library changes the slot */
	__u32 flags;		/* FI_FILE_* */
	__u32 count;		/* base extents, 0 = the base is one hole */
	__u32 check;		/* fi_store_file_check() */
	struct fi_store_extent FI_ARENA *ext;	/* count of them, then the index */
	struct fi_store_extent FI_ARENA *over;	/* ocount of them */
	__u32 ocount;		/* overlay extents, at most FI_OVERLAY_MAX */
	__u32 gen;		/* the base's version, which its checks name */
};

struct fi_store_root {
	struct fi_store_file FI_ARENA *files;	/* FI_STORE_FILES of them, NULL: none yet */
	__u64 reserved[7];
};

/*
 * Where the file table starts in the arena: at the first page after room
 * for the root.  The root is not always before it: 6.12's libbpf puts a
 * program's arena globals at the arena's start, 7.3's on its last page
 * (when the kernel takes full 64-bit ld_imm64 offsets).  So a library
 * keeps its heap off the root's page, and a reader in another process
 * (selftests' fi-store) finds the table here, not through the root.
 */
static inline unsigned long fi_store_table_off(unsigned long page)
{
	return (sizeof(struct fi_store_root) + page - 1) / page * page;
}

/*
 * The checks: whatever else writes the arena (it is the server's memory)
 * gets past them by chance once in 2^32 reads, and then the kernel still
 * refuses any block outside the server's devices.  A program answers
 * nothing for a slot or extent whose check fails.
 */
static inline __attribute__((always_inline)) __u64 fi_store_mix(__u64 h, __u64 w)
{
	h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 31);
}

static inline __attribute__((always_inline)) __u32
fi_store_file_check(__u64 nodeid, __u32 seq, __u32 flags, __u32 count, __u32 ocount, __u32 gen)
{
	__u64 h = fi_store_mix(0x46495354ULL, nodeid);

	h = fi_store_mix(h, ((__u64)seq << 32) | flags);
	h = fi_store_mix(h, ((__u64)ocount << 32) | gen);
	return (__u32)(fi_store_mix(h, count) >> 32);
}

/* What an extent's check binds it to: a base list (its gen) or an overlay (its seq). */
#define FI_CHECK_BASE		0x46495345ULL
#define FI_CHECK_OVERLAY	0x4649534fULL

/* Of extent @idx of version @ver of @nodeid's base or overlay (@kind). */
static inline __attribute__((always_inline)) __u32
fi_store_extent_check(__u64 kind, __u64 nodeid, __u32 ver, __u32 idx, const struct fi_extent *e)
{
	__u64 h = fi_store_mix(kind, nodeid);

	h = fi_store_mix(h, ((__u64)ver << 32) | idx);
	h = fi_store_mix(h, e->lblk);
	h = fi_store_mix(h, e->len);
	h = fi_store_mix(h, e->pblk);
	return (__u32)(fi_store_mix(h, ((__u64)e->type << 32) | e->dev) >> 32);
}

/* Entries of the index of a list of @n extents: top level, then the other. */
static inline __u32 fi_index_other(__u32 n)
{
	return n > FI_INDEX_K ? (n + FI_INDEX_K - 1) >> FI_INDEX_SHIFT : 0;
}

static inline __u32 fi_index_top(__u32 n)
{
	__u32 m = fi_index_other(n);

	return m > FI_INDEX_K ? (m + FI_INDEX_K - 1) >> FI_INDEX_SHIFT : 0;
}

/* The slot a lookup of @nodeid starts at (Fibonacci hashing). */
static inline __u32 fi_store_hash(__u64 nodeid)
{
	return (__u32)((nodeid * 0x9E3779B97F4A7C15ULL) >> 48) & (FI_STORE_FILES - 1);
}

/*
 * Marks: ranges of UNWRITTEN extents that the program's iomap_ioend saw
 * written and the server has not converted yet (its record is queued).
 * iomap_begin answers them MAPPED although the server's extent still says
 * UNWRITTEN.  They live in the program's .bss, which both sides map, and
 * are keyed by device block, in groups of FI_MARK_GROUP blocks: a mark
 * never crosses a group, and a group's marks are the FI_MARK_WAYS of one
 * bucket.  iomap_ioend claims a free one (owner 0 -> its ioend's tag, a
 * compare-and-swap), fills it in, then sets ready to the tag; a reader
 * takes a mark only when ready and owner are both its tag, read around
 * the fields.  The library frees the marks of a record (owner tag -> 0)
 * once it applied the record and published the file again or forgot its
 * list, and the marks of blocks a server frees or hands out.
 */
#define FI_MARK_GROUP_SHIFT	6
#define FI_MARK_GROUP		(1U << FI_MARK_GROUP_SHIFT)
#define FI_MARK_BUCKET_BITS	9
#define FI_MARK_BUCKETS		(1U << FI_MARK_BUCKET_BITS)
#define FI_MARK_WAYS		16
#define FI_MARKS		(FI_MARK_BUCKETS * FI_MARK_WAYS)
/* Marks one ioend may take; one with more goes to the server. */
#define FI_IOEND_MARKS		8

struct fi_mark {
	__u64 owner;		/* 0: free, else the claiming ioend's tag */
	__u64 ready;		/* == owner once the fields below hold */
	__u64 pblk;		/* first device block */
	__u32 len;		/* blocks, within one group */
	__u32 dev;
};

static inline __u32 fi_mark_bucket(__u32 dev, __u64 pblk)
{
	return (__u32)((((pblk >> FI_MARK_GROUP_SHIFT) ^ ((__u64)dev << 40)) *
			0x9E3779B97F4A7C15ULL) >> (64 - FI_MARK_BUCKET_BITS));
}

/* Blocks one iomap_ioend may handle; a longer range goes to the server. */
#define FI_IOEND_MAX_BLOCKS	256

/*
 * ioend_queue: a BPF ring buffer of the ioends the program handled, in
 * completion order.  The server applies each as if it had come as a
 * FUSE_IOMAP_IOEND upcall (nodeid and the request's fields), and the
 * library then frees its marks: mark[i] - 1 are their indices (0: none),
 * tag their owner.
 */
#define FI_IOEND_QUEUE_BYTES	(256 * 1024)

struct fi_ioend_rec {
	__u64 nodeid;
	struct fuse_iomap_ioend_in in;
	__u64 tag;
	__u16 mark[FI_IOEND_MARKS];
};

#endif
