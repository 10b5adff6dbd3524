/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the fuse_iomap system, one per decision on the mapping
 * path.  Fields are primitive values only: the connection id (st_dev of
 * the mount), the fuse node id and the numbers of the mapping.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM fuse_iomap

#if !defined(_TRACE_FUSE_IOMAP_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_FUSE_IOMAP_H

#include <linux/tracepoint.h>

#undef FUSE_IOMAP_RULE_TRACE_ENUM_
#define FUSE_IOMAP_RULE_TRACE_ENUM_(up, name)	TRACE_DEFINE_ENUM(FUSE_IOMAP_RULE_##up);
FUSE_IOMAP_RULE_LIST(FUSE_IOMAP_RULE_TRACE_ENUM_)

#undef FUSE_IOMAP_RULE_SYMBOL_
#define FUSE_IOMAP_RULE_SYMBOL_(up, name)	{ FUSE_IOMAP_RULE_##up, #name },
/* __print_symbolic() takes no trailing comma: the count closes the list. */
#define FUSE_IOMAP_RULE_SYMBOLS						\
	FUSE_IOMAP_RULE_LIST(FUSE_IOMAP_RULE_SYMBOL_)			\
	{ FUSE_IOMAP_NR_RULES, "?" }

TRACE_EVENT(fuse_iomap_upcall_begin,
	TP_PROTO(u32 conn, u64 nodeid, u64 attr_ino, u64 pos, u64 count, u32 opflags),
	TP_ARGS(conn, nodeid, attr_ino, pos, count, opflags),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, attr_ino)
		__field(u64, pos)
		__field(u64, count)
		__field(u32, opflags)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->attr_ino = attr_ino;
		__entry->pos = pos;
		__entry->count = count;
		__entry->opflags = opflags;
	),
	TP_printk("conn %u nodeid %llu ino %llu pos %llu count %llu opflags 0x%x",
		  __entry->conn, __entry->nodeid, __entry->attr_ino, __entry->pos,
		  __entry->count, __entry->opflags)
);

TRACE_EVENT(fuse_iomap_bpf_begin,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, u64 count, u32 opflags, int ret),
	TP_ARGS(conn, nodeid, pos, count, opflags, ret),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, pos)
		__field(u64, count)
		__field(u32, opflags)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->pos = pos;
		__entry->count = count;
		__entry->opflags = opflags;
		__entry->ret = ret;
	),
	TP_printk("conn %u nodeid %llu pos %llu count %llu opflags 0x%x %s (%d)",
		  __entry->conn, __entry->nodeid, __entry->pos, __entry->count,
		  __entry->opflags, __entry->ret == 0 ? "answer" :
		  __entry->ret == FUSE_BPF_NO_ANSWER ? "no answer" : "error", __entry->ret)
);

TRACE_EVENT(fuse_iomap_upcall_end,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, u64 count, s64 written, u32 opflags),
	TP_ARGS(conn, nodeid, pos, count, written, opflags),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, pos)
		__field(u64, count)
		__field(s64, written)
		__field(u32, opflags)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->pos = pos;
		__entry->count = count;
		__entry->written = written;
		__entry->opflags = opflags;
	),
	TP_printk("conn %u nodeid %llu pos %llu count %llu written %lld opflags 0x%x",
		  __entry->conn, __entry->nodeid, __entry->pos, __entry->count,
		  __entry->written, __entry->opflags)
);

TRACE_EVENT(fuse_iomap_upcall_ioend,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, u64 written, u32 flags),
	TP_ARGS(conn, nodeid, pos, written, flags),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, pos)
		__field(u64, written)
		__field(u32, flags)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->pos = pos;
		__entry->written = written;
		__entry->flags = flags;
	),
	TP_printk("conn %u nodeid %llu pos %llu written %llu flags 0x%x",
		  __entry->conn, __entry->nodeid, __entry->pos, __entry->written, __entry->flags)
);

/* What fuse_bpf_ops.iomap_ioend returned: 0 handled, 1 no answer, or -errno. */
TRACE_EVENT(fuse_iomap_bpf_ioend,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, u64 written, u32 flags, int ret),
	TP_ARGS(conn, nodeid, pos, written, flags, ret),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, pos)
		__field(u64, written)
		__field(u32, flags)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->pos = pos;
		__entry->written = written;
		__entry->flags = flags;
		__entry->ret = ret;
	),
	TP_printk("conn %u nodeid %llu pos %llu written %llu flags 0x%x ret %d",
		  __entry->conn, __entry->nodeid, __entry->pos, __entry->written, __entry->flags,
		  __entry->ret)
);

TRACE_DEFINE_ENUM(IOMAP_HOLE);
TRACE_DEFINE_ENUM(IOMAP_MAPPED);
TRACE_DEFINE_ENUM(IOMAP_UNWRITTEN);

TRACE_EVENT(fuse_iomap_simple_read,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, u64 count, u16 type),
	TP_ARGS(conn, nodeid, pos, count, type),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, pos)
		__field(u64, count)
		__field(u16, type)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->pos = pos;
		__entry->count = count;
		__entry->type = type;
	),
	TP_printk("conn %u nodeid %llu pos %llu count %llu %s",
		  __entry->conn, __entry->nodeid, __entry->pos, __entry->count,
		  __print_symbolic(__entry->type, { IOMAP_HOLE, "hole" },
				   { IOMAP_MAPPED, "mapped" }, { IOMAP_UNWRITTEN, "unwritten" }))
);

DECLARE_EVENT_CLASS(fuse_iomap_mapping_class,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, bool write_map, int rule,
		 const struct fuse_iomap_io *map),
	TP_ARGS(conn, nodeid, pos, write_map, rule, map),
	TP_STRUCT__entry(
		__field(u32, conn)
		__field(u64, nodeid)
		__field(u64, pos)
		__field(bool, write_map)
		__field(int, rule)
		__field(u64, offset)
		__field(u64, length)
		__field(u64, addr)
		__field(u16, type)
		__field(u16, flags)
		__field(u32, dev)
	),
	TP_fast_assign(
		__entry->conn = conn;
		__entry->nodeid = nodeid;
		__entry->pos = pos;
		__entry->write_map = write_map;
		__entry->rule = rule;
		__entry->offset = map->offset;
		__entry->length = map->length;
		__entry->addr = map->addr;
		__entry->type = map->type;
		__entry->flags = map->flags;
		__entry->dev = map->dev;
	),
	TP_printk("conn %u nodeid %llu pos %llu %s rule %s offset %llu length %llu addr 0x%llx type %u flags 0x%x dev %u",
		  __entry->conn, __entry->nodeid, __entry->pos,
		  __entry->write_map ? "write" : "read",
		  __entry->rule < 0 ? "ok" :
			__print_symbolic(__entry->rule, FUSE_IOMAP_RULE_SYMBOLS),
		  __entry->offset, __entry->length, __entry->addr, __entry->type,
		  __entry->flags, __entry->dev)
);

DEFINE_EVENT(fuse_iomap_mapping_class, fuse_iomap_mapping_accepted,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, bool write_map, int rule,
		 const struct fuse_iomap_io *map),
	TP_ARGS(conn, nodeid, pos, write_map, rule, map));

DEFINE_EVENT(fuse_iomap_mapping_class, fuse_iomap_mapping_rejected,
	TP_PROTO(u32 conn, u64 nodeid, u64 pos, bool write_map, int rule,
		 const struct fuse_iomap_io *map),
	TP_ARGS(conn, nodeid, pos, write_map, rule, map));

#endif /* _TRACE_FUSE_IOMAP_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE fuse_iomap_trace
#include <trace/define_trace.h>
