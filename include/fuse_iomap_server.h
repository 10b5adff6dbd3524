/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libfuse-iomap: write a FUSE server whose file data lives on block
 * devices.  The kernel (fuse_iomap.ko, a "fuseiomap" mount) asks the
 * server only where a file range lives, with FUSE_IOMAP_BEGIN, and moves
 * the data itself; a BPF program can answer inside the kernel first.
 *
 * A server is a libfuse3 low-level server (struct fuse_lowlevel_ops for
 * the namespace) plus struct fi_iomap_ops for the mappings.  In main():
 *
 *	srv = fi_server_new(&opts, &ll_ops, &iomap_ops, ctx);
 *	fi_server_mount(srv);
 *	fi_server_add_device(srv, fd, &cookie, &size);	(one or more)
 *	fi_server_bpf_start(srv, 0);			(optional)
 *	fi_server_serve(srv);				(until unmounted)
 *	fi_server_destroy(srv);
 *
 * Errors: every function and every callback returns 0 or a negative errno
 * (-1 to -511); functions print one line saying why before they return an
 * error, starting with opts.name.  libfuse's own callbacks keep libfuse's
 * conventions (fuse_reply_err(req, EIO)).
 *
 * Names: fi_ and FI_ (fi_lib_ is the library's own).  Define FUSE_USE_VERSION (34 or later) before
 * including this header, as for libfuse's.  Build with `pkg-config
 * --cflags --libs fuse-iomap`.
 * The wire structs (fuse_iomap_begin_in and so on) are in
 * fuse_iomap_bpf.h, the ABI header, which this one includes.
 */
#ifndef FUSE_IOMAP_SERVER_H
#define FUSE_IOMAP_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <fuse_lowlevel.h>

#include "fuse_iomap_bpf.h"
#include "fuse_iomap_extent_map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* This library's version, "0.4.0" say. */
const char *fi_version(void);

/* --- the mapping callbacks ------------------------------------------------- */

/*
 * Each is called with the ctx given to fi_server_new().  With opts.threads
 * above 1 they are called from several threads at once, also at the same
 * time as the libfuse callbacks: lock what you share.
 */
struct fi_iomap_ops {
	/*
	 * Where [in->pos, in->pos + in->count) of @nodeid lives:
	 * fill out->read and out->write (FUSE_IOMAP_TYPE_PURE_OVERWRITE as
	 * the write mapping means "as read").  A mapping must hold pos and
	 * may cover less than asked (the kernel asks again for the rest).
	 * The kernel checks every answer and fails the I/O on a bad one.
	 */
	int (*begin)(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		     struct fuse_iomap_begin_out *out);
	/*
	 * Optional.  The I/O through a mapping that asked for it
	 * (FUSE_IOMAP_F_WANT_IOMAP_END) is over: in->written bytes of it
	 * were done.  Commit or roll back what begin() handed out.
	 */
	int (*end)(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in);
	/*
	 * Optional, but needed by a server that hands out UNWRITTEN write
	 * mappings or FUSE_IOMAP_F_WANT_IOEND (the kernel fails the I/O with
	 * EIO without it).  Data written through such a mapping has reached
	 * the device (FUSE_IOMAP_IOEND, see fuse_iomap_bpf.h): convert the
	 * unwritten blocks of [in->pos, in->pos + in->written) rounded out
	 * to blocks (FUSE_IOMAP_IOEND_UNWRITTEN), commit the size
	 * (FUSE_IOMAP_IOEND_APPEND: it is now at least pos + written).  Set
	 * out->newsize to the file's size as the server now has it.  An
	 * error fails the write (or the fsync after writeback).
	 *
	 * With the BPF tier the kernel may not ask: extent_map then queued
	 * the ioend, and the library calls this for it later (see
	 * fi_server_bpf_start()).  Writeback has ended then: an error
	 * fails the file's next FSYNC and FLUSH instead (answered by the
	 * library, once; the kernel hands it to each open file once), and
	 * the next SYNCFS.
	 */
	int (*ioend)(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
		     struct fuse_iomap_ioend_out *out);
	/*
	 * Set if ioend() never moves a block: it converts unwritten blocks
	 * where they are and commits the size, nothing else.  The BPF tier
	 * then keeps the file's extent list across an ioend (the blocks it
	 * converts are marked written, or republished before the kernel
	 * hears back) instead of forgetting it, so that the file's other
	 * writes stay in the kernel meanwhile.  Leave it clear if an ioend
	 * may remap (copy on write, out-of-place writes).
	 */
	bool ioend_in_place;
	/*
	 * Set if you report every change of a file's blocks yourself, at
	 * the moment you make it and under the lock extents() takes: with
	 * fi_server_bpf_update() (what the range is now) or
	 * fi_server_bpf_forget().  The BPF tier then keeps a file's list
	 * in its store across the requests that may change it (BEGIN and
	 * END of writes, IOEND, queued ioends, a truncating SETATTR,
	 * FALLOCATE) instead of forgetting it and publishing it whole again,
	 * and frees a queued ioend's marks once ioend() returned.  A change
	 * you do not report is a wrong block: leave it clear unless every
	 * path that changes extents reports.
	 */
	bool reports_changes;
	/*
	 * Optional, for the BPF tier (fi_server_bpf_start()).  @nodeid's
	 * complete extent list, sorted by lblk, holes left out: a malloc()ed
	 * array in *v that the library frees, its length in *n, and
	 * FI_FILE_* flags in *flags.  -EAGAIN: not now (say, a write is half
	 * done), quietly.
	 */
	int (*extents)(void *ctx, uint64_t nodeid, struct fi_extent **v, uint32_t *n,
		       uint32_t *flags);
	/*
	 * Optional.  FUSE_SYNCFS: make everything so far durable.  libfuse
	 * 3.14 does not know the request (it answers ENOSYS, and the kernel
	 * stops sending it), so the library answers it on an iomap mount:
	 * with this, or 0 without it.  The kernel sends it at syncfs(2)
	 * and sync(2) on an iomap mount; fsync and fsyncdir come through
	 * fuse_lowlevel_ops.
	 */
	int (*syncfs)(void *ctx);
	/*
	 * Optional, and called only with one serving thread (opts.threads 0
	 * or 1).  Called between requests: after each one, and after each
	 * idle_ms milliseconds (0: 1000) in which none came.  For work that
	 * must not run in the middle of a request, such as a journal commit.
	 */
	void (*idle)(void *ctx);
	unsigned int idle_ms;
};

/* --- the server ------------------------------------------------------------ */

struct fi_server_opts {
	const char *name;	/* program name: starts every message */
	const char *mountpoint;
	const char *fsname;	/* the source /proc/mounts shows */
	const char *subtype;	/* the mount's type is fuseiomap.<subtype> */
	const char *mount_opts;	/* more kernel mount options, or NULL */
	/*
	 * The largest file size in bytes your format can hold (ext4 with
	 * 4 KiB blocks: 2^32 - 1 blocks), or 0 for no limit but the
	 * kernel's (MAX_LFS_FILESIZE).  The kernel refuses with EFBIG any
	 * write, truncate or fallocate past it (a write that only straddles
	 * it is cut short there), so that begin() is never asked about an
	 * offset at or past it.  The mount option iomap_maxbytes=N; ignored
	 * with stock.
	 */
	uint64_t max_file_size;
	bool readonly;
	/*
	 * Mount the stock fuse through /dev/fuse (and fusermount3, for
	 * users) instead: no iomap, no devices, no BPF.  For comparisons.
	 */
	bool stock;
	bool debug;		/* libfuse's -d */
	/*
	 * Threads answering requests: 0 or 1 serves from the caller's
	 * thread only; N serves from N threads (the caller's and N-1 more).
	 */
	unsigned int threads;
	/*
	 * One line per mapping request, or NULL:
	 *   BEGIN nodeid pos count opflags
	 *   END nodeid pos count written opflags
	 *   IOEND nodeid pos written error flags
	 *   QIOEND nodeid pos written error flags	(an ioend the BPF tier
	 *				queued, as it is applied: see
	 *				fi_server_bpf_start())
	 *   FSYNC nodeid		(an FSYNC, once the queue is drained
	 *				and before the server sees it)
	 *   PUBLISH nodeid extents list_us store_us
	 *				(a file's extents went to the BPF
	 *				tier's store: microseconds spent in
	 *				your extents() and in the store)
	 *   UPDATE nodeid lblk len extents ns [forgot]
	 *				(fi_server_bpf_update(): nanoseconds
	 *				it took; "forgot" when the change did
	 *				not fit and the file left the store)
	 * pos, count and written in decimal bytes, opflags and flags in hex.
	 * With threads above 1 each line ends in " t=THREAD inflight=N", N
	 * being the mapping requests in progress when this one arrived,
	 * itself included (for QIOEND and FSYNC: when the line was written).
	 * The library makes it line-buffered.
	 */
	FILE *log;
};

struct fi_server;

/*
 * A server for @ll (the libfuse low-level operations: lookup, getattr,
 * read, ...) and @iomap (NULL, or begin() NULL, answers every mapping
 * request with ENOSYS: a server that mounts without iomap).  Both tables are copied; @ctx is yours, and
 * fi_req_ctx() gives it back inside libfuse callbacks (use it instead of
 * fuse_req_userdata()).  NULL (after a message) when out of memory or
 * when opts is incomplete.
 */
struct fi_server *fi_server_new(const struct fi_server_opts *opts,
				const struct fuse_lowlevel_ops *ll,
				const struct fi_iomap_ops *iomap, void *ctx);

/*
 * Before anything is opened: -EPERM unless root (a fuseiomap mount needs
 * CAP_SYS_ADMIN, iomap CAP_SYS_RAWIO) when !stock, -ENOENT or -ENOTDIR
 * for a bad mountpoint.
 */
int fi_check_mountpoint(const char *name, const char *mountpoint, bool need_root);

/* Mount opts.mountpoint.  Signals (INT, TERM, HUP) now start an unmount. */
int fi_server_mount(struct fi_server *srv);

/*
 * Hand the kernel an open block device (O_RDWR for writes).  *cookie is
 * what mappings put in fuse_iomap_io.dev for it, *size its size in bytes.
 * Call after fi_server_mount(), as often as there are devices; the kernel
 * keeps the device open until the mount ends.  The fd stays yours.
 */
int fi_server_add_device(struct fi_server *srv, int fd, uint32_t *cookie, uint64_t *size);

/*
 * Serve until the file system is unmounted (by umount, or by a signal:
 * the library unmounts and keeps serving until the kernel is done).
 * 0, or -errno if serving ended in an error.
 */
int fi_server_serve(struct fi_server *srv);

/* Give a device up: new mappings to @cookie are refused from now on. */
int fi_server_remove_device(struct fi_server *srv, uint32_t cookie);

/*
 * The libfuse session, for a server that polls its fd or runs a loop of
 * its own (fuse_session_receive_buf(), fuse_session_process_buf(), and
 * its own replies to FUSE_IOMAP_*) instead of fi_server_serve().  Valid
 * from fi_server_mount() to fi_server_destroy().
 */
struct fuse_session *fi_server_session(struct fi_server *srv);

/* Unmount if still mounted, stop the BPF tier, free. */
void fi_server_destroy(struct fi_server *srv);

/* Your ctx, from inside a libfuse callback of this server. */
void *fi_req_ctx(fuse_req_t req);

/* --- the BPF tier ------------------------------------------------------------- */

/*
 * Load bpf/extent_map.bpf.c (built into the library) and attach it to
 * this mount: from now on the kernel asks it first, and it answers from
 * the files' extent lists, which the library keeps in the program's store
 * (a BPF arena it writes with plain stores: no bpf() call per change).
 * @max_extents is the longest list you expect in one file (0: 1 Mi);
 * it only sizes the store's address space, whose pages are used as
 * written.
 * Needs iomap_ops.extents.  Call after fi_server_mount().
 *
 * The library keeps the lists right; you only answer extents():
 *  - after a read's FUSE_IOMAP_BEGIN that you answered (so BPF had no
 *    answer), it asks extents() and publishes the list, unless a change
 *    began since that BEGIN arrived; so too after a write's BEGIN that
 *    you answered with unwritten blocks converted at ioend, or with
 *    written blocks to overwrite in place (MAPPED, not NEW);
 *  - before every change it can see, it forgets the file's list first:
 *    a write's BEGIN, an END of a write through a new mapping or one not
 *    MAPPED, IOEND (upcall or queued; but see ioend_in_place), SETATTR
 *    of the size and FALLOCATE.
 * A FORGET of the inode keeps the list (the kernel evicts inodes under
 * memory pressure; the file's blocks stay where they are): a server that
 * frees a node id and may hand it out again calls fi_server_bpf_forget().
 *
 * Files whose extents() sets FI_FILE_IOEND (see fuse_iomap_extent_map.h)
 * get more from the program: it answers writes into their UNWRITTEN
 * extents (UNWRITTEN, FUSE_IOMAP_F_WANT_IOEND) and asks for an ioend,
 * not FUSE_IOMAP_END, on writes that may grow them; and it takes their
 * ioends in the kernel, up to FI_IOEND_MAX_BLOCKS blocks each.  Such an
 * ioend marks the range it wrote in the program's marks, so that it
 * reads as written at once (until the record is applied and the list
 * published again), and goes on a queue (a BPF ring buffer,
 * fi_server_bpf_set_ioend_queue()) instead of to you.  The library
 * applies the queue through iomap_ops.ioend, in order and one record at a
 * time, before every FUSE_IOMAP_BEGIN, END and IOEND you are asked,
 * before FSYNC, FSYNCDIR, SYNCFS, FLUSH, RELEASE, SETATTR, FALLOCATE,
 * DESTROY, FORGET and BATCH_FORGET reach you, and when serving ends or
 * the server is destroyed;
 * then publishes the files it touched again.  So by the time you hear
 * of an fsync, the ioends it waited for are yours.  A full queue is no
 * error: the kernel sends the ioend as an upcall (after a drain).  The
 * count applied goes to the connection's sysfs bpf_ioend_committed.
 */
int fi_server_bpf_start(struct fi_server *srv, uint32_t max_extents);

/*
 * Any other change to where @nodeid's blocks are, or a node id you free
 * and may hand out again: call this first, under the lock your extents()
 * takes.  Harmless without the BPF tier.
 */
void fi_server_bpf_forget(struct fi_server *srv, uint64_t nodeid);

/*
 * Blocks [@lblk, @lblk + @len) of @nodeid (in file system blocks) are now
 * the @n extents of @v: sorted, inside the range, MAPPED or UNWRITTEN,
 * and holes where none is.  The BPF tier's store takes the change where
 * it is (in the file's overlay, see fuse_iomap_extent_map.h) with plain
 * stores: no bpf() call, and a cost that does not grow with the file's
 * list.  Call it where you would call fi_server_bpf_forget(), under the
 * same lock.  A file with no list in the store is left alone (a read's
 * upcall publishes it whole).  Once the overlay is half full, the
 * library calls your extents() for the whole list at its next chance
 * (never from inside this call) and publishes it, which empties the
 * overlay; a change the overlay still has no room for, or a @v that
 * breaks the rules above, forgets the file instead.  Harmless without
 * the BPF tier.
 */
void fi_server_bpf_update(struct fi_server *srv, uint64_t nodeid, uint64_t lblk, uint64_t len,
			  const struct fi_extent *v, uint32_t n);

/*
 * Blocks [@pblk, @pblk + @len) of device @dev (in file system blocks)
 * were freed, or are being handed out anew: forget that the program saw
 * them written.  Call it for every block you allocate for an UNWRITTEN
 * extent (a stale mark would make it read as written: old data), and
 * for those you free.  No I/O may be in flight to them.  A scan of the
 * program's marks in memory, no bpf() call.  Harmless without the BPF
 * tier.
 */
void fi_server_bpf_blocks_reset(struct fi_server *srv, uint32_t dev, uint64_t pblk,
				uint64_t len);

/*
 * The ioend queue's size in bytes, before fi_server_bpf_start(): 0 (the
 * default) is FI_IOEND_QUEUE_BYTES, else rounded up to a power of two of
 * at least a page (one record takes 64 bytes of it).  A queue that
 * fills makes the kernel send ioends as upcalls until the next drain.
 * -EBUSY once started, -EINVAL above FI_IOEND_QUEUE_MAX.
 */
#define FI_IOEND_QUEUE_MAX	(1U << 30)
int fi_server_bpf_set_ioend_queue(struct fi_server *srv, uint32_t bytes);

/* --- building answers ----------------------------------------------------------- */

static inline struct fuse_iomap_io fi_iomap_hole(uint64_t offset, uint64_t length)
{
	return (struct fuse_iomap_io){
		.offset = offset, .length = length, .addr = FUSE_IOMAP_NULL_ADDR,
		.type = FUSE_IOMAP_TYPE_HOLE, .dev = FUSE_IOMAP_DEV_NULL,
	};
}

/* --- one writer per device -------------------------------------------------------- */

/*
 * Open the block device @path for serving: with @rw read-write and
 * exclusively (O_EXCL: the kernel then refuses to mount it), after
 * refusing a device that is mounted or held by someone else; else
 * read-only, shared with read-only users only.  The fd, or -errno after a
 * message naming @path and who uses it.
 */
int fi_claim_bdev(const char *name, const char *path, bool rw);

/*
 * For a regular file @image: -EBUSY (after a message) if a loop device
 * backed by it is mounted (but for a read-only mount when !@rw) or held
 * open exclusively.  0 if none is in the way.
 */
int fi_claim_check_loops(const char *name, const char *image, bool rw);

/*
 * What a server serves from: @path is a block device, claimed as
 * fi_claim_bdev() says, or an image file, which gets a loop device of its
 * own that goes away with its last user, after fi_claim_check_loops().
 * Servers started at once each get their own loop device (a device taken
 * between finding it free and binding it is retried, as losetup does).
 * The block device's fd, or -errno after a message that starts with @name
 * and names @path.
 */
int fi_open_device(const char *name, const char *path, bool rw);

/* --- an in-memory namespace (optional) ---------------------------------------------- */

/*
 * Directories, names, links, symlinks and attributes kept in memory, for
 * servers whose metadata does not live on the device.  Embed struct
 * fi_memns first in your ctx, call fi_memns_fill_ops() on your
 * fuse_lowlevel_ops, and supply a backend for file contents.  Each of its
 * requests holds fs->lock, also while it calls the backend; take it with
 * fi_memns_lock() in your own callbacks that touch nodes.
 */
#define FI_MEMNS_MAX_NAME	255

struct fi_memns_dirent {
	struct fi_memns_dirent *next;
	fuse_ino_t ino;
	char name[];
};

struct fi_memns_node {
	struct stat st;
	uint64_t nlookup;		/* kernel references (lookup - forget) */
	char *target;			/* symlinks */
	void *data;			/* regular files: the backend's */
	struct fi_memns_dirent *entries;	/* directories: unsorted list */
};

struct fi_memns;

struct fi_memns_backend {
	/* Change the size of regular file @n (st_size is still the old one): 0 or -errno. */
	int (*resize)(struct fi_memns *fs, struct fi_memns_node *n, off_t size);
	/* Release what @n holds; it is being freed and its ino may come back. */
	void (*free_data)(struct fi_memns *fs, struct fi_memns_node *n);
	/* Optional: fill in the block counts. */
	void (*statfs)(struct fi_memns *fs, struct statvfs *sv);
};

struct fi_memns {
	pthread_mutex_t lock;
	const struct fi_memns_backend *be;
	unsigned int blksize;		/* st_blksize, f_bsize */
	struct fi_memns_node **nodes;	/* indexed by inode number; NULL = free */
	size_t nr_nodes;
	size_t cap_nodes;
};

/* An empty root directory; 0 or -ENOMEM. */
int fi_memns_init(struct fi_memns *fs, const struct fi_memns_backend *be, unsigned int blksize);
void fi_memns_destroy(struct fi_memns *fs);
/* Fill in every namespace operation; a server adds the data ones. */
void fi_memns_fill_ops(struct fuse_lowlevel_ops *ops);

struct fi_memns *fi_memns_of(fuse_req_t req);
/* The node of @ino, or NULL. */
struct fi_memns_node *fi_memns_node(struct fi_memns *fs, fuse_ino_t ino);
struct fi_memns_node *fi_memns_new_node(struct fi_memns *fs, mode_t mode, const struct fuse_ctx *ctx);
int fi_memns_link_name(struct fi_memns_node *dir, const char *name, struct fi_memns_node *n);
/* Set ctime (and mtime with @data) to now. */
void fi_memns_touch(struct fi_memns_node *n, bool data);
void fi_memns_lock(struct fi_memns *fs);
void fi_memns_unlock(struct fi_memns *fs);

#ifdef __cplusplus
}
#endif

#endif
