// SPDX-License-Identifier: GPL-2.0
/*
 * The mapping path: fs/iomap asks where [pos, pos+count) of a file lives;
 * we ask the server (FUSE_IOMAP_BEGIN), check its answer against every rule
 * in fuse_iomap_check(), and only then turn it into a struct iomap.  A bad
 * answer fails that I/O with EIO and never reaches the block layer.  When
 * the mapping asked for it, FUSE_IOMAP_END tells the server how many bytes
 * were done; FUSE_IOMAP_IOEND, once they are on the device, is
 * iomap_ioend.c's.
 *
 * Our FUSE_IOMAP_* values are translated to the kernel's IOMAP_* ones here,
 * explicitly, in both directions: the ABI does not follow kernel changes.
 */
#include "fuse_i.h"
#include "compat.h"

#include <linux/blkdev.h>
#include <linux/overflow.h>

#define CREATE_TRACE_POINTS
#include "fuse_iomap_trace.h"

#define FUSE_IOMAP_RULE_NONE	(-1)

/* Mapping flags a server may set on this kernel. */
#define FUSE_IOMAP_F_SUPPORTED	(FUSE_IOMAP_F_NEW | FUSE_IOMAP_F_DIRTY | FUSE_IOMAP_F_SHARED | \
				 FUSE_IOMAP_F_MERGED | FUSE_IOMAP_F_WANT_IOMAP_END | \
				 FUSE_IOMAP_F_WANT_IOEND)

static u32 fuse_iomap_opflags(unsigned int flags)
{
	u32 op = 0;

	if (flags & IOMAP_WRITE)
		op |= FUSE_IOMAP_OP_WRITE;
	if (flags & IOMAP_ZERO)
		op |= FUSE_IOMAP_OP_ZERO;
	if (flags & IOMAP_REPORT)
		op |= FUSE_IOMAP_OP_REPORT;
	if (flags & IOMAP_FAULT)
		op |= FUSE_IOMAP_OP_FAULT;
	if (flags & IOMAP_DIRECT)
		op |= FUSE_IOMAP_OP_DIRECT;
	if (flags & IOMAP_NOWAIT)
		op |= FUSE_IOMAP_OP_NOWAIT;
	if (flags & IOMAP_OVERWRITE_ONLY)
		op |= FUSE_IOMAP_OP_OVERWRITE_ONLY;
	if (flags & IOMAP_UNSHARE)
		op |= FUSE_IOMAP_OP_UNSHARE;
	return op;
}

static u16 fuse_iomap_type_to_kernel(u16 type)
{
	switch (type) {
	case FUSE_IOMAP_TYPE_HOLE:
		return IOMAP_HOLE;
	case FUSE_IOMAP_TYPE_DELALLOC:
		return IOMAP_DELALLOC;
	case FUSE_IOMAP_TYPE_MAPPED:
		return IOMAP_MAPPED;
	case FUSE_IOMAP_TYPE_UNWRITTEN:
		return IOMAP_UNWRITTEN;
	}
	/* fuse_iomap_check() let nothing else through */
	WARN_ON_ONCE(1);
	return IOMAP_HOLE;
}

static u16 fuse_iomap_type_from_kernel(u16 type)
{
	switch (type) {
	case IOMAP_DELALLOC:
		return FUSE_IOMAP_TYPE_DELALLOC;
	case IOMAP_MAPPED:
		return FUSE_IOMAP_TYPE_MAPPED;
	case IOMAP_UNWRITTEN:
		return FUSE_IOMAP_TYPE_UNWRITTEN;
	}
	return FUSE_IOMAP_TYPE_HOLE;
}

static u16 fuse_iomap_flags_to_kernel(u16 flags)
{
	u16 f = 0;

	if (flags & FUSE_IOMAP_F_NEW)
		f |= IOMAP_F_NEW;
	if (flags & FUSE_IOMAP_F_DIRTY)
		f |= IOMAP_F_DIRTY;
	if (flags & FUSE_IOMAP_F_SHARED)
		f |= IOMAP_F_SHARED;
	if (flags & FUSE_IOMAP_F_MERGED)
		f |= IOMAP_F_MERGED;
	/* IOMAP_F_PRIVATE is ours to use: "send FUSE_IOMAP_END". */
	if (flags & FUSE_IOMAP_F_WANT_IOMAP_END)
		f |= IOMAP_F_PRIVATE;
	return f;
}

static u16 fuse_iomap_flags_from_kernel(u16 flags)
{
	u16 f = 0;

	if (flags & IOMAP_F_NEW)
		f |= FUSE_IOMAP_F_NEW;
	if (flags & IOMAP_F_DIRTY)
		f |= FUSE_IOMAP_F_DIRTY;
	if (flags & IOMAP_F_SHARED)
		f |= FUSE_IOMAP_F_SHARED;
	if (flags & IOMAP_F_MERGED)
		f |= FUSE_IOMAP_F_MERGED;
	if (flags & IOMAP_F_PRIVATE)
		f |= FUSE_IOMAP_F_WANT_IOMAP_END;
	return f;
}

/* The rules of fuse_iomap_check() that hold for any use of a mapping. */
static int fuse_iomap_check_map(struct inode *inode, struct fuse_iomap_conn *ic,
				const struct fuse_iomap_io *map, u64 pos, bool write_map,
				struct fuse_iomap_dev **devp)
{
	u64 mask = (1ULL << ic->blkbits) - 1;
	struct fuse_iomap_dev *dev;
	u64 end, dev_end;

	*devp = NULL;
	switch (map->type) {
	case FUSE_IOMAP_TYPE_HOLE:
	case FUSE_IOMAP_TYPE_DELALLOC:
	case FUSE_IOMAP_TYPE_MAPPED:
	case FUSE_IOMAP_TYPE_UNWRITTEN:
		break;
	case FUSE_IOMAP_TYPE_INLINE:
		return FUSE_IOMAP_RULE_INLINE;
	case FUSE_IOMAP_TYPE_PURE_OVERWRITE:
		/* The caller resolves it to the read mapping. */
		return FUSE_IOMAP_RULE_PURE_OVERWRITE;
	default:
		return FUSE_IOMAP_RULE_TYPE;
	}
	if (map->flags & ~FUSE_IOMAP_F_SUPPORTED)
		return FUSE_IOMAP_RULE_FLAGS;
	if (!map->length)
		return FUSE_IOMAP_RULE_LENGTH;
	if (map->offset >= inode->i_sb->s_maxbytes)
		return FUSE_IOMAP_RULE_MAXBYTES;
	if (check_add_overflow(map->offset, map->length, &end) || end > FUSE_IOMAP_MAX_END)
		return FUSE_IOMAP_RULE_OVERFLOW;
	if ((map->offset | map->length) & mask)
		return FUSE_IOMAP_RULE_ALIGN;
	if (pos < map->offset || pos >= end)
		return FUSE_IOMAP_RULE_POS;

	if (map->type == FUSE_IOMAP_TYPE_HOLE || map->type == FUSE_IOMAP_TYPE_DELALLOC) {
		if (map->dev != FUSE_IOMAP_DEV_NULL || map->addr != FUSE_IOMAP_NULL_ADDR)
			return FUSE_IOMAP_RULE_UNEXPECTED_DEV;
		return FUSE_IOMAP_RULE_NONE;
	}

	if (map->dev == FUSE_IOMAP_DEV_NULL || map->addr == FUSE_IOMAP_NULL_ADDR)
		return FUSE_IOMAP_RULE_NEED_DEV;
	if (map->addr & mask)
		return FUSE_IOMAP_RULE_ALIGN;
	if (check_add_overflow(map->addr, map->length, &dev_end))
		return FUSE_IOMAP_RULE_OVERFLOW;
	dev = fuse_iomap_dev_lookup(ic, map->dev);
	if (!dev)
		return FUSE_IOMAP_RULE_DEV_UNKNOWN;
	if (dev_end > dev->size)
		return FUSE_IOMAP_RULE_DEV_RANGE;
	if (write_map && !dev->writable)
		return FUSE_IOMAP_RULE_DEV_READONLY;
	*devp = dev;
	return FUSE_IOMAP_RULE_NONE;
}

static int fuse_iomap_reject(struct inode *inode, struct fuse_iomap_conn *ic, u64 pos,
			     bool write_map, int rule, const struct fuse_iomap_io *map)
{
	atomic64_inc(&ic->rejected[rule]);
	trace_fuse_iomap_mapping_rejected(ic->id, get_node_id(inode), pos, write_map, rule, map);
	pr_warn_ratelimited("conn %u: nodeid %llu pos %llu: %s mapping rejected (%s): type %u flags 0x%x offset %llu length %llu addr 0x%llx dev %u\n",
			    ic->id, get_node_id(inode), pos, write_map ? "write" : "read",
			    fuse_iomap_rule_name(rule), map->type, map->flags, map->offset,
			    map->length, map->addr, map->dev);
	return -EIO;
}

static void fuse_iomap_to_kernel(const struct fuse_iomap_io *map, struct fuse_iomap_dev *dev,
				 struct iomap *iomap)
{
	iomap->offset = map->offset;
	iomap->length = map->length;
	iomap->type = fuse_iomap_type_to_kernel(map->type);
	iomap->flags = fuse_iomap_flags_to_kernel(map->flags);
	iomap->addr = dev ? map->addr : IOMAP_NULL_ADDR;
	iomap->bdev = dev ? dev->bdev : NULL;
	iomap->private = fuse_iomap_priv(map->dev, map->flags & FUSE_IOMAP_F_WANT_IOEND);
}

/*
 * Every rule a mapping must pass before the kernel uses it.  @write_map:
 * it will be written to.  @need_mapped: the data will be written to the
 * device right away (O_DIRECT, writeback), so only a MAPPED range will
 * do, or an UNWRITTEN one whose server converts it at ioend: fs/iomap
 * cannot write a hole, and an unwritten extent nobody converts would read
 * back as zeros; a mapping is judged by that only once it is sound.
 * Returns FUSE_IOMAP_RULE_NONE, or the first rule it breaks; on success
 * *devp is its device (NULL for HOLE/DELALLOC).
 */
static int fuse_iomap_check(struct inode *inode, struct fuse_iomap_conn *ic,
			    const struct fuse_iomap_io *map, u64 pos, bool write_map,
			    bool need_mapped, struct fuse_iomap_dev **devp)
{
	int rule = fuse_iomap_check_map(inode, ic, map, pos, write_map, devp);

	if (rule != FUSE_IOMAP_RULE_NONE || !need_mapped || map->type == FUSE_IOMAP_TYPE_MAPPED)
		return rule;
	if (map->type == FUSE_IOMAP_TYPE_UNWRITTEN && (map->flags & FUSE_IOMAP_F_WANT_IOEND))
		return rule;
	return FUSE_IOMAP_RULE_WRITE_TYPE;
}

/* Check @map (see fuse_iomap_check) and, if good, fill @iomap from it. */
static int fuse_iomap_use(struct inode *inode, struct fuse_iomap_conn *ic, u64 pos,
			  const struct fuse_iomap_io *map, bool write_map, bool need_mapped,
			  struct iomap *iomap)
{
	struct fuse_iomap_dev *dev;
	int rule;

	rule = fuse_iomap_check(inode, ic, map, pos, write_map, need_mapped, &dev);
	if (rule != FUSE_IOMAP_RULE_NONE)
		return fuse_iomap_reject(inode, ic, pos, write_map, rule, map);
	trace_fuse_iomap_mapping_accepted(ic->id, get_node_id(inode), pos, write_map,
					  FUSE_IOMAP_RULE_NONE, map);
	fuse_iomap_to_kernel(map, dev, iomap);
	/*
	 * An O_DSYNC direct write skips the sync after a FUA write unless
	 * the mapping says metadata must be committed too: new blocks, a
	 * server that wants to hear the end or the ioend, an extent to
	 * convert, or a size that grows.
	 */
	if (write_map && ((map->flags & (FUSE_IOMAP_F_NEW | FUSE_IOMAP_F_WANT_IOMAP_END |
					 FUSE_IOMAP_F_WANT_IOEND)) ||
			  map->type == FUSE_IOMAP_TYPE_UNWRITTEN ||
			  map->offset + map->length > i_size_read(inode)))
		iomap->flags |= IOMAP_F_DIRTY;
	return 0;
}

/* Turn the server's answer into @iomap (and @srcmap for a separate write mapping). */
static int fuse_iomap_apply(struct inode *inode, u32 opflags, u64 pos,
			    const struct fuse_iomap_begin_out *out,
			    struct iomap *iomap, struct iomap *srcmap)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	bool need_mapped = (opflags & FUSE_IOMAP_OP_WRITE) && !(opflags & FUSE_IOMAP_OP_ZERO) &&
			   (opflags & (FUSE_IOMAP_OP_DIRECT | FUSE_IOMAP_OP_WRITEBACK));
	u64 end;
	int err;

	if (!(opflags & FUSE_IOMAP_OP_WRITE))
		return fuse_iomap_use(inode, ic, pos, &out->read, false, false, iomap);

	if (out->write.type == FUSE_IOMAP_TYPE_PURE_OVERWRITE)
		return fuse_iomap_use(inode, ic, pos, &out->read, true, need_mapped, iomap);

	err = fuse_iomap_use(inode, ic, pos, &out->write, true, need_mapped, iomap);
	if (err || !srcmap)
		return err;
	err = fuse_iomap_use(inode, ic, pos, &out->read, false, false, srcmap);
	if (err)
		return err;
	/* fs/iomap reads old data through srcmap anywhere in iomap's range. */
	end = min(iomap->offset + iomap->length, srcmap->offset + srcmap->length);
	iomap->length = end - iomap->offset;
	return 0;
}

static int fuse_iomap_upcall_begin(struct inode *inode, u32 opflags, u64 pos, u64 count,
				   struct fuse_iomap_begin_out *out)
{
	struct fuse_mount *fm = get_fuse_mount(inode);
	struct fuse_iomap_conn *ic = fm->fc->iomap;
	struct fuse_iomap_begin_in in = {
		.opflags = opflags,
		.attr_ino = get_fuse_inode(inode)->orig_ino,
		.pos = pos,
		.count = count,
	};
	FUSE_ARGS(args);
	int err;

	args.opcode = FUSE_IOMAP_BEGIN;
	args.nodeid = get_node_id(inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(*out);
	args.out_args[0].value = out;

	atomic64_inc(&ic->begin_upcalls);
	trace_fuse_iomap_upcall_begin(ic->id, args.nodeid, in.attr_ino, pos, count, opflags);
	err = fuse_iomap_request(fm, &args);
	if (err == -ENOSYS) {
		/* A server that mounted with iomap must map its files. */
		pr_warn_ratelimited("conn %u: server does not implement FUSE_IOMAP_BEGIN\n", ic->id);
		err = -EIO;
	}
	return err;
}

/* Runs the attached program, if any (*@ran says so), on @out. */
static int fuse_iomap_bpf_run(struct inode *inode, u32 opflags, u64 pos, u64 count,
			      struct fuse_iomap_begin_out *out, bool *ran)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	struct fuse_bpf_iomap_begin_args args = {
		.nodeid = get_node_id(inode),
		.attr_ino = get_fuse_inode(inode)->orig_ino,
		.pos = pos,
		.count = count,
		.i_size = i_size_read(inode),
		.opflags = opflags,
		.blkbits = ic->blkbits,
		.conn_id = ic->id,
	};
	struct fuse_bpf_ops *ops;
	int ret = FUSE_BPF_NO_ANSWER;

	rcu_read_lock();
	ops = rcu_dereference(ic->bpf_ops);
	if (ops) {
		memset(out, 0, sizeof(*out));
		ret = ops->iomap_begin(&args, out);
	}
	rcu_read_unlock();
	*ran = ops;
	return ret;
}

/* Traces and counts what the program returned: 0, FUSE_BPF_NO_ANSWER or an errno. */
static int fuse_iomap_bpf_ret(struct inode *inode, u32 opflags, u64 pos, u64 count, int ret)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;

	trace_fuse_iomap_bpf_begin(ic->id, get_node_id(inode), pos, count, opflags, ret);
	if (ret == 0)
		return 0;
	if (ret == FUSE_BPF_NO_ANSWER) {
		atomic64_inc(&ic->bpf_fallbacks);
		return ret;
	}
	atomic64_inc(&ic->bpf_errors);
	return fuse_bpf_ret_errno(ic, ret);
}

/* The BPF tier: its answer, an errno, or FUSE_BPF_NO_ANSWER (also when none is attached). */
static int fuse_iomap_bpf_begin(struct inode *inode, u32 opflags, u64 pos, u64 count,
				struct fuse_iomap_begin_out *out)
{
	bool ran;
	int ret = fuse_iomap_bpf_run(inode, opflags, pos, count, out, &ran);

	if (!ran)
		return FUSE_BPF_NO_ANSWER;
	return fuse_iomap_bpf_ret(inode, opflags, pos, count, ret);
}

/* Checks and counts an answer of the BPF tier. */
static int fuse_iomap_bpf_apply(struct inode *inode, u32 opflags, u64 pos,
				const struct fuse_iomap_begin_out *out,
				struct iomap *iomap, struct iomap *srcmap)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	int err = fuse_iomap_apply(inode, opflags, pos, out, iomap, srcmap);

	atomic64_inc(err ? &ic->bpf_rejected : &ic->bpf_hits);
	return err;
}

/* Once the server is gone, no mapping of its (BPF's included) is used. */
static int fuse_iomap_may_map(struct inode *inode)
{
	if (fuse_is_bad(inode))
		return -EIO;
	if (!compat_conn_connected(get_fuse_conn(inode)))
		return -ENOTCONN;
	return 0;
}

/* Every mapping but the simple read path's: the BPF tier, else the server. */
static int fuse_iomap_map(struct inode *inode, u32 opflags, loff_t pos, loff_t count,
			  struct iomap *iomap, struct iomap *srcmap)
{
	struct fuse_iomap_begin_out out;
	int err = fuse_iomap_may_map(inode);

	if (err)
		return err;
	err = fuse_iomap_bpf_begin(inode, opflags, pos, count, &out);
	if (err != FUSE_BPF_NO_ANSWER)
		return err ?: fuse_iomap_bpf_apply(inode, opflags, pos, &out, iomap, srcmap);
	/*
	 * An upcall always sleeps.  A shared overwrite is the BPF tier's
	 * alone: without its answer the write is retried exclusive, and that
	 * attempt asks the server, which so sees one BEGIN per write, as
	 * before, and never OVERWRITE_ONLY.
	 */
	if (opflags & (FUSE_IOMAP_OP_NOWAIT | FUSE_IOMAP_OP_OVERWRITE_ONLY))
		return -EAGAIN;
	err = fuse_iomap_upcall_begin(inode, opflags, pos, count, &out);
	if (err)
		return err;
	return fuse_iomap_apply(inode, opflags, pos, &out, iomap, srcmap);
}

/* The BPF tier hears of the end too (if it wants to), before the server does. */
static void fuse_iomap_bpf_end(struct inode *inode, const struct fuse_iomap_end_in *in)
{
	struct fuse_iomap_conn *ic = get_fuse_conn(inode)->iomap;
	struct fuse_bpf_iomap_end_args args = {
		.nodeid = get_node_id(inode),
		.attr_ino = in->attr_ino,
		.pos = in->pos,
		.count = in->count,
		.written = in->written,
		.opflags = in->opflags,
		.conn_id = ic->id,
	};
	struct fuse_bpf_ops *ops;

	rcu_read_lock();
	ops = rcu_dereference(ic->bpf_ops);
	if (ops && ops->iomap_end)
		ops->iomap_end(&args);
	rcu_read_unlock();
}

static int fuse_iomap_upcall_end(struct inode *inode, loff_t pos, loff_t count,
				 ssize_t written, unsigned int flags, const struct iomap *iomap)
{
	struct fuse_mount *fm = get_fuse_mount(inode);
	struct fuse_iomap_conn *ic = fm->fc->iomap;
	struct fuse_iomap_end_in in = {
		.opflags = fuse_iomap_opflags(flags),
		.attr_ino = get_fuse_inode(inode)->orig_ino,
		.pos = pos,
		.count = count,
		.written = written,
		.map = {
			.offset = iomap->offset,
			.length = iomap->length,
			.addr = iomap->addr,
			.type = fuse_iomap_type_from_kernel(iomap->type),
			.flags = fuse_iomap_flags_from_kernel(iomap->flags) |
				 (fuse_iomap_wants_ioend(iomap) ? FUSE_IOMAP_F_WANT_IOEND : 0),
			.dev = fuse_iomap_priv_dev(iomap),
		},
	};
	FUSE_ARGS(args);

	fuse_iomap_bpf_end(inode, &in);

	args.opcode = FUSE_IOMAP_END;
	args.nodeid = get_node_id(inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;

	atomic64_inc(&ic->end_upcalls);
	trace_fuse_iomap_upcall_end(ic->id, args.nodeid, pos, count, written, in.opflags);
	return fuse_iomap_request(fm, &args);
}

static int fuse_iomap_end(struct inode *inode, loff_t pos, loff_t count, ssize_t written,
			  unsigned int flags, struct iomap *iomap)
{
	if (!(iomap->flags & IOMAP_F_PRIVATE))
		return 0;
	return fuse_iomap_upcall_end(inode, pos, count, written, flags, iomap);
}

/*
 * An O_DIRECT overwrite under i_rwsem shared (fuse_iomap_write_iter) may
 * only write blocks already written: no allocation, no conversion at
 * ioend, no zeroing, as ext4 and XFS allow it.  Anything else goes back
 * (-EAGAIN) to be retried with i_rwsem exclusive, after the server has
 * heard the end of a mapping that wanted it.
 */
static int fuse_iomap_overwrite_only(struct inode *inode, loff_t pos, loff_t count,
				     unsigned int flags, struct iomap *iomap)
{
	if (iomap->type == IOMAP_MAPPED && !(iomap->flags & IOMAP_F_NEW) &&
	    !fuse_iomap_wants_ioend(iomap))
		return 0;
	fuse_iomap_end(inode, pos, count, 0, flags, iomap);
	return -EAGAIN;
}

static int fuse_iomap_begin(struct inode *inode, loff_t pos, loff_t count, unsigned int flags,
			    struct iomap *iomap, struct iomap *srcmap)
{
	int err = fuse_iomap_map(inode, fuse_iomap_opflags(flags), pos, count, iomap, srcmap);

	if (err || !(flags & IOMAP_DIRECT) || !(flags & IOMAP_WRITE))
		return err;
	if (flags & IOMAP_OVERWRITE_ONLY) {
		err = fuse_iomap_overwrite_only(inode, pos, count, flags, iomap);
		if (err)
			return err;
	}
	/*
	 * An O_DIRECT write's end_io hears only IOMAP_DIO_UNWRITTEN and
	 * IOMAP_DIO_COW of its mappings, and SHARED is what makes the
	 * latter: there it means "wants an ioend" and nothing else (it
	 * otherwise only stops a FUA write, which a mapping with metadata to
	 * commit at ioend does not want either).
	 */
	iomap->flags &= ~IOMAP_F_SHARED;
	if (fuse_iomap_wants_ioend(iomap))
		iomap->flags |= IOMAP_F_SHARED;
	return 0;
}

const struct iomap_ops fuse_iomap_map_ops = {
	.iomap_begin	= fuse_iomap_begin,
	.iomap_end	= fuse_iomap_end,
};

/*
 * Where writeback of dirty page cache at @offset goes: a MAPPED range.
 * Asked for every dirty range, the answer never reused: an out-of-place
 * server may move a range again as soon as its folio is unlocked, and
 * only the locked folio keeps the answer valid.
 */
int fuse_iomap_map_writeback(struct inode *inode, loff_t offset, unsigned int len,
			     struct iomap *iomap)
{
	return fuse_iomap_map(inode, FUSE_IOMAP_OP_WRITE | FUSE_IOMAP_OP_WRITEBACK, offset, len,
			      iomap, NULL);
}

/*
 * The BPF tier alone, for the simple read path (iomap_simple_read.c): 0
 * with @iomap filled from a checked answer, -errno, or FUSE_BPF_NO_ANSWER.
 * No answer is neither traced nor counted here: the read then goes
 * through iomap_dio_rw, which asks again and does both.
 */
int fuse_iomap_map_bpf(struct inode *inode, loff_t pos, loff_t count, unsigned int flags,
		       struct iomap *iomap)
{
	u32 opflags = fuse_iomap_opflags(flags);
	struct fuse_iomap_begin_out out;
	bool ran;
	int ret = fuse_iomap_may_map(inode);

	if (ret)
		return ret;
	ret = fuse_iomap_bpf_run(inode, opflags, pos, count, &out, &ran);
	if (!ran || ret == FUSE_BPF_NO_ANSWER)
		return FUSE_BPF_NO_ANSWER;
	ret = fuse_iomap_bpf_ret(inode, opflags, pos, count, ret);
	return ret ?: fuse_iomap_bpf_apply(inode, opflags, pos, &out, iomap, NULL);
}
