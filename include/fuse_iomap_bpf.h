/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * fuse-iomap-bpf ABI: the one header shared by the kernel module, the BPF
 * programs, the loader and the servers.
 *
 * The wire structs keep the field order and sizes of the fuse-iomap v8
 * proposal so that a server written for it needs no layout change.  Flag
 * and type values are ours: the kernel translates them to and from its
 * IOMAP_* values explicitly and never passes them through.
 */
#ifndef FUSE_IOMAP_BPF_H
#define FUSE_IOMAP_BPF_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <linux/types.h>
#include <linux/ioctl.h>
#endif

/*
 * Opcodes.  fuse 7.41 (Linux 6.12) uses opcodes up to 52 plus
 * CUSE_INIT (4096) and FUSE_NOTIFY_REPLY (41).  Ours sit at 0x4f490000
 * ("OI" << 16): far above anything upstream will allocate in this kernel's
 * lifetime and below the sign bit, so they never collide with a known
 * opcode and a server that does not know them answers ENOSYS.
 */
#define FUSE_IOMAP_OPCODE_BASE	0x4f490000u
#define FUSE_IOMAP_BEGIN	(FUSE_IOMAP_OPCODE_BASE + 1)
#define FUSE_IOMAP_END		(FUSE_IOMAP_OPCODE_BASE + 2)
/* After the I/O of a write mapping completed: see struct fuse_iomap_ioend_in. */
#define FUSE_IOMAP_IOEND	(FUSE_IOMAP_OPCODE_BASE + 3)

/* Mapping types (struct fuse_iomap_io.type). */
#define FUSE_IOMAP_TYPE_HOLE		0	/* no blocks; reads give zeros */
#define FUSE_IOMAP_TYPE_DELALLOC	1	/* reserved, not yet allocated */
#define FUSE_IOMAP_TYPE_MAPPED		2	/* blocks at addr on dev */
#define FUSE_IOMAP_TYPE_UNWRITTEN	3	/* allocated, reads give zeros */
#define FUSE_IOMAP_TYPE_INLINE		4	/* data inline in metadata */
#define FUSE_IOMAP_TYPE_PURE_OVERWRITE	255	/* write mapping only: as read */

/* No device address (HOLE, DELALLOC, INLINE). */
#define FUSE_IOMAP_NULL_ADDR		(~0ULL)
/* No mapping may end past 2^63 (a hole to the end of any file ends here). */
#define FUSE_IOMAP_MAX_END		(1ULL << 63)
/* Device cookie meaning "no device". */
#define FUSE_IOMAP_DEV_NULL		0

/* Mapping flags (struct fuse_iomap_io.flags). */
#define FUSE_IOMAP_F_NEW		(1U << 0)
#define FUSE_IOMAP_F_DIRTY		(1U << 1)
#define FUSE_IOMAP_F_SHARED		(1U << 2)
#define FUSE_IOMAP_F_MERGED		(1U << 3)
#define FUSE_IOMAP_F_BOUNDARY		(1U << 4)
#define FUSE_IOMAP_F_ANON_WRITE		(1U << 5)
#define FUSE_IOMAP_F_ATOMIC_BIO		(1U << 6)
#define FUSE_IOMAP_F_WANT_IOMAP_END	(1U << 12)
#define FUSE_IOMAP_F_SIZE_CHANGED	(1U << 13)
#define FUSE_IOMAP_F_STALE		(1U << 14)
/*
 * Ours: send FUSE_IOMAP_IOEND (or call fuse_bpf_ops.iomap_ioend) once the
 * data written through this write mapping is on the device.  Needed on an
 * UNWRITTEN write mapping for O_DIRECT and writeback (the conversion is
 * the server's, at ioend); optional on a MAPPED one (say, for the size).
 */
#define FUSE_IOMAP_F_WANT_IOEND		(1U << 15)

/* Operation flags (opflags of begin/end). */
#define FUSE_IOMAP_OP_WRITE		(1U << 0)
#define FUSE_IOMAP_OP_ZERO		(1U << 1)
#define FUSE_IOMAP_OP_REPORT		(1U << 2)
#define FUSE_IOMAP_OP_FAULT		(1U << 3)
#define FUSE_IOMAP_OP_DIRECT		(1U << 4)
#define FUSE_IOMAP_OP_NOWAIT		(1U << 5)
#define FUSE_IOMAP_OP_OVERWRITE_ONLY	(1U << 6)
#define FUSE_IOMAP_OP_UNSHARE		(1U << 7)
#define FUSE_IOMAP_OP_DAX		(1U << 8)
#define FUSE_IOMAP_OP_ATOMIC		(1U << 9)
#define FUSE_IOMAP_OP_DONTCACHE		(1U << 10)
/*
 * Ours, not in the proposal: the mapping is for writeback of dirty page
 * cache.  Return where the data written by an earlier FUSE_IOMAP_OP_WRITE
 * goes: where it is, or the blocks an out-of-place server staged for it
 * (such a server stages blocks here only where none are, for pages
 * dirtied without a write BEGIN, by zeroing say).  The mapping must be
 * MAPPED, or UNWRITTEN with FUSE_IOMAP_F_WANT_IOEND.
 */
#define FUSE_IOMAP_OP_WRITEBACK		(1U << 16)

/* One mapping: file range [offset, offset+length) lives at addr on dev. */
struct fuse_iomap_io {
	__u64 offset;		/* file offset, bytes */
	__u64 length;		/* bytes */
	__u64 addr;		/* device address, bytes, or NULL_ADDR */
	__u16 type;		/* FUSE_IOMAP_TYPE_* */
	__u16 flags;		/* FUSE_IOMAP_F_* */
	__u32 dev;		/* device cookie, or FUSE_IOMAP_DEV_NULL */
};

struct fuse_iomap_begin_in {
	__u32 opflags;		/* FUSE_IOMAP_OP_* */
	__u32 reserved;		/* zero */
	__u64 attr_ino;		/* inode number the server reported */
	__u64 pos;		/* file offset, bytes */
	__u64 count;		/* bytes */
};

struct fuse_iomap_begin_out {
	struct fuse_iomap_io read;	/* where to read from */
	struct fuse_iomap_io write;	/* where to write to; PURE_OVERWRITE = read */
};

struct fuse_iomap_end_in {
	__u32 opflags;
	__u32 reserved;
	__u64 attr_ino;
	__u64 pos;
	__u64 count;
	__s64 written;		/* bytes done, may be less than count */
	struct fuse_iomap_io map;	/* the mapping iomap_begin returned */
};

/*
 * FUSE_IOMAP_IOEND: data written through write mappings that asked for it
 * (FUSE_IOMAP_F_WANT_IOEND) or that were UNWRITTEN reached the device.
 * Sent before the writer hears of completion: for O_DIRECT before the
 * write returns (or the aio/io_uring completion is posted), for writeback
 * before the folios' writeback ends, so fsync's wait covers it.  Adjacent
 * completions of one file are merged into one request.  Laid out as the
 * fuse-iomap v8 proposal's.
 *
 * [pos, pos + written) was written.  It may end inside a block (at EOF):
 * the kernel always writes whole blocks, so conversions cover the range
 * rounded out to blocks.  With FUSE_IOMAP_IOEND_APPEND (on every ioend
 * this module sends) the file is at least pos + written long: the server
 * commits the larger of that and the size it has.  Not sent for failed I/O
 * (nothing to convert); error is 0 today and reserved for that.  The
 * reply may fail the I/O with an errno (the writer, or fsync, sees EIO).
 */
#define FUSE_IOMAP_IOEND_SHARED		(1U << 0)	/* v8's; this module never sets it */
#define FUSE_IOMAP_IOEND_UNWRITTEN	(1U << 1)	/* convert [pos, pos+written) */
#define FUSE_IOMAP_IOEND_BOUNDARY	(1U << 2)	/* v8's; this module never sets it */
#define FUSE_IOMAP_IOEND_DIRECT		(1U << 3)
#define FUSE_IOMAP_IOEND_APPEND		(1U << 4)	/* the size is at least pos + written */
#define FUSE_IOMAP_IOEND_WRITEBACK	(1U << 5)

struct fuse_iomap_ioend_in {
	__u32 flags;		/* FUSE_IOMAP_IOEND_* */
	__s32 error;		/* 0 or a negative errno */
	__u64 attr_ino;
	__u64 pos;		/* file offset, bytes */
	__u64 new_addr;		/* writeback: device address written, bytes;
				   O_DIRECT: FUSE_IOMAP_NULL_ADDR (several
				   mappings may have been written) */
	__u64 written;		/* bytes */
	__u32 dev;		/* device cookie (writeback), or DEV_NULL */
	__u32 pad;
};

struct fuse_iomap_ioend_out {
	__u64 newsize;		/* the server's on-disk file size */
};

/*
 * Why a mapping was refused: X(ENUM_SUFFIX, name), in enum order.  Each
 * rule has a counter in /sys/fs/fuseiomap/iomap/<conn>/rejected/<name> and
 * is the "rule" field of the fuse_iomap:fuse_iomap_mapping_rejected
 * tracepoint.  This list is the only place the rules are written down.
 */
#define FUSE_IOMAP_RULE_LIST(X)						\
	X(TYPE, type)			/* unknown type */			\
	X(FLAGS, flags)			/* unknown flag, or one this kernel	\
					   cannot honour */			\
	X(LENGTH, length)		/* zero length */			\
	X(ALIGN, align)			/* offset, length or addr not block	\
					   aligned */				\
	X(OVERFLOW, overflow)		/* offset+length or addr+length wraps */	\
	X(MAXBYTES, maxbytes)		/* offset at or past the file size limit */ \
	X(NEED_DEV, need_dev)		/* MAPPED/UNWRITTEN without device or	\
					   address */				\
	X(UNEXPECTED_DEV, unexpected_dev) /* HOLE/DELALLOC with a device or	\
					   address */				\
	X(PURE_OVERWRITE, pure_overwrite) /* PURE_OVERWRITE as the read mapping */ \
	X(POS, pos)			/* does not cover pos */		\
	X(DEV_UNKNOWN, dev_unknown)	/* cookie not (or no longer) registered */ \
	X(DEV_RANGE, dev_range)		/* [addr, addr+length) outside the device */ \
	X(DEV_READONLY, dev_readonly)	/* write mapping to a device opened	\
					   read-only */				\
	X(WRITE_TYPE, write_type)	/* type unusable for this write (e.g.	\
					   HOLE for O_DIRECT) */		\
	X(INLINE, inline)		/* INLINE: no way to pass the data on	\
					   this ABI */

#define FUSE_IOMAP_RULE_ENUM_(up, name)	FUSE_IOMAP_RULE_##up,
enum fuse_iomap_rule {
	FUSE_IOMAP_RULE_LIST(FUSE_IOMAP_RULE_ENUM_)
	FUSE_IOMAP_NR_RULES,
};
#undef FUSE_IOMAP_RULE_ENUM_

/*
 * Device registration, ioctls on the server's /dev/fuse-iomap fd after the
 * mount.  The caller needs CAP_SYS_RAWIO and an iomap mount.  The device
 * fd must be an open block device; opened O_RDWR it can take writes.
 * Cookies start at 1 (0 = FUSE_IOMAP_DEV_NULL).  A device stays open until
 * the connection ends, even after unregistering (in-flight I/O may still
 * use it); unregistered, it is refused in new mappings.
 */
struct fuse_iomap_dev_register {
	__s32 fd;		/* in: block device fd */
	__u32 flags;		/* in: zero */
	__u32 cookie;		/* out: for fuse_iomap_io.dev */
	__u32 logical_block_size;	/* out: bytes */
	__u64 size;		/* out: device size, bytes */
	__u64 reserved[2];	/* in: zero */
};

#define FUSE_IOMAP_IOC_MAGIC		229	/* fuse's own: FUSE_DEV_IOC_MAGIC */
#define FUSE_IOMAP_IOC_DEV_REGISTER	_IOWR(FUSE_IOMAP_IOC_MAGIC, 0x40, struct fuse_iomap_dev_register)
#define FUSE_IOMAP_IOC_DEV_UNREGISTER	_IOW(FUSE_IOMAP_IOC_MAGIC, 0x41, __u32)

/*
 * The BPF tier: a struct_ops type, fuse_bpf_ops, that fuse_iomap.ko
 * registers.  Attached (through a BPF link) to one iomap connection, its
 * iomap_begin answers FUSE_IOMAP_BEGIN inside the kernel before any
 * upcall.  A program reads only its arguments, plain values; it may write
 * only *out, which is then validated exactly as an upcall reply is.
 *
 * iomap_begin returns:
 *   0                    the answer is in *out;
 *   FUSE_BPF_NO_ANSWER   no answer here: the kernel asks the server
 *                        (FUSE_IOMAP_BEGIN upcall);
 *   a negative errno     fail the I/O with it.
 * Any other value fails the I/O with EIO.
 */
#define FUSE_BPF_NO_ANSWER	1
#define FUSE_BPF_OPS_NAME_LEN	16

struct fuse_bpf_iomap_begin_args {
	__u64 nodeid;		/* the file's fuse node id */
	__u64 attr_ino;		/* inode number the server reported */
	__u64 pos;		/* file offset, bytes */
	__u64 count;		/* bytes */
	__u64 i_size;		/* the kernel's file size */
	__u32 opflags;		/* FUSE_IOMAP_OP_* */
	__u32 blkbits;		/* log2 of the connection's block size */
	__u32 conn_id;		/* the connection (st_dev of the mount) */
	__u32 reserved;
};

struct fuse_bpf_iomap_end_args {
	__u64 nodeid;
	__u64 attr_ino;
	__u64 pos;
	__u64 count;
	__s64 written;
	__u32 opflags;
	__u32 conn_id;
};

/*
 * For fuse_bpf_ops.iomap_ioend: the FUSE_IOMAP_IOEND request it may handle
 * instead of the server (see struct fuse_iomap_ioend_in).
 */
struct fuse_bpf_iomap_ioend_args {
	__u64 nodeid;
	__u64 attr_ino;
	__u64 pos;
	__u64 written;
	__u64 new_addr;
	__u64 i_size;		/* the kernel's file size */
	__u32 flags;		/* FUSE_IOMAP_IOEND_* */
	__s32 error;
	__u32 dev;
	__u32 blkbits;
	__u32 conn_id;
	__u32 reserved;
};

struct fuse_bpf_ops {
	int (*iomap_begin)(const struct fuse_bpf_iomap_begin_args *args,
			   struct fuse_iomap_begin_out *out);
	/*
	 * Optional: told of every mapping that asked for FUSE_IOMAP_END (by
	 * BPF or by the server), before the END upcall, which still goes out.
	 */
	void (*iomap_end)(const struct fuse_bpf_iomap_end_args *args);
	/*
	 * Optional: tried before the FUSE_IOMAP_IOEND upcall, with
	 * iomap_begin's contract: 0 handled (no upcall), FUSE_BPF_NO_ANSWER
	 * (the upcall goes out), or a negative errno (fails the I/O).  A
	 * program that handles it must make the next iomap_begin for the
	 * range answer as the server will, and hand the change to the
	 * server (a BPF ring buffer, say) so that the server has it before
	 * it answers a mapping of the file, an fsync or a syncfs.  It may
	 * write nothing but its maps.  Not sleepable: it runs under RCU.
	 */
	int (*iomap_ioend)(const struct fuse_bpf_iomap_ioend_args *args);
	/* The connection to attach to: st_dev of the mountpoint (stat -c %d), */
	__u32 conn_id;
	__u32 reserved;
	/*
	 * and its generation (/sys/fs/fuseiomap/iomap/<conn_id>/generation),
	 * never reused while the module is loaded: st_dev is reused by the
	 * next mount, and ops meant for a mount that is gone must not
	 * attach to a new one.  Attaching fails with ENODEV unless both match.
	 */
	__u64 conn_gen;
	char name[FUSE_BPF_OPS_NAME_LEN];	/* not empty */
};

/* The wire layouts: a change here is an ABI break, not an edit. */
_Static_assert(sizeof(struct fuse_iomap_io) == 32, "fuse_iomap_io is ABI");
_Static_assert(sizeof(struct fuse_iomap_begin_in) == 32, "fuse_iomap_begin_in is ABI");
_Static_assert(sizeof(struct fuse_iomap_begin_out) == 64, "fuse_iomap_begin_out is ABI");
_Static_assert(sizeof(struct fuse_iomap_end_in) == 72, "fuse_iomap_end_in is ABI");
_Static_assert(sizeof(struct fuse_iomap_ioend_in) == 48, "fuse_iomap_ioend_in is ABI");
_Static_assert(sizeof(struct fuse_iomap_ioend_out) == 8, "fuse_iomap_ioend_out is ABI");
_Static_assert(sizeof(struct fuse_iomap_dev_register) == 40, "fuse_iomap_dev_register is ABI");
_Static_assert(sizeof(struct fuse_bpf_iomap_begin_args) == 56, "fuse_bpf_iomap_begin_args is ABI");
_Static_assert(sizeof(struct fuse_bpf_iomap_end_args) == 48, "fuse_bpf_iomap_end_args is ABI");
_Static_assert(sizeof(struct fuse_bpf_iomap_ioend_args) == 72, "fuse_bpf_iomap_ioend_args is ABI");

#endif /* FUSE_IOMAP_BPF_H */
