// SPDX-License-Identifier: GPL-2.0
/*
 * extent_map's store, the library's side: the file table and the extent
 * arrays in the program's arena, written with plain stores under the
 * rule's lock (see fuse_iomap_extent_map.h for the layout and why a
 * reader never uses a torn list), and the marks the program's ioends
 * leave, freed here.  No bpf() call after the program is loaded.
 *
 * The arena is written, never read back: what the library needs to know
 * (which slot holds which file, where its array is, the free arrays) is
 * kept in its own memory, so whatever else writes the arena can cost the
 * program its answers but cannot steer the library's stores.
 *
 * Extent arrays come in power-of-two sizes, one free list per size;
 * a freed array may be reused at once (readers of it see their slot's
 * seq move).  So the store's memory is bounded by the largest set of
 * lists that was ever published at once, at most twice their size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "extent_map.skel.h"

/* The library's copy of a slot. */
struct fi_store_own {
	uint64_t nodeid;	/* as in the arena's slot */
	struct fi_store_extent *ext;
	uint32_t cap;
	uint32_t seq;
	uint32_t gen;		/* of the base */
	uint32_t count, flags;	/* as in the arena's slot */
	uint32_t on;		/* overlay extents */
	struct fi_store_extent *over;	/* FI_OVERLAY_MAX of them, or NULL */
	struct fi_extent *ov;	/* the overlay as written there */
};

/* Keeps the compiler from moving stores across it; the CPU keeps their order (TSO). */
#define fi_store_barrier() __atomic_thread_fence(__ATOMIC_RELEASE)

/* The seq a slot will have once the change now beginning ends. */
static uint32_t fi_store_next_seq(const struct fi_store_own *o)
{
	return ((o->seq + 1) | 1) + 1;
}

static void fi_store_seq_begin(struct fi_store_file *s, struct fi_store_own *o)
{
	o->seq = (o->seq + 1) | 1;
	__atomic_store_n(&s->seq, o->seq, __ATOMIC_RELAXED);
	fi_store_barrier();
}

static void fi_store_seq_end(struct fi_store_file *s, struct fi_store_own *o)
{
	fi_store_barrier();
	__atomic_store_n(&s->seq, ++o->seq, __ATOMIC_RELAXED);
}

static unsigned int fi_store_class(uint64_t n)
{
	unsigned int c = 0;

	while ((1ULL << c) < n)
		c++;
	return c;
}

static struct fi_store_extent *fi_store_alloc(struct fi_store *st, unsigned int c)
{
	size_t bytes = sizeof(struct fi_store_extent) << c;
	struct fi_store_freelist *fl = &st->free[c];
	char *p;

	if (fl->n) {
		p = fl->v[--fl->n];
	} else {
		if (bytes > (size_t)(st->end - st->brk))
			return NULL;
		p = st->brk;
		st->brk += bytes;
	}
	st->bytes += bytes;
	return (struct fi_store_extent *)p;
}

/* Without memory to remember it, an array is lost to the store: never reused. */
static void fi_store_free(struct fi_store *st, struct fi_store_extent *v, uint32_t cap)
{
	struct fi_store_freelist *fl;
	unsigned int c;
	char **nv;

	if (!v)
		return;
	c = fi_store_class(cap);
	fl = &st->free[c];
	st->bytes -= sizeof(struct fi_store_extent) << c;
	if (fl->n == fl->cap) {
		nv = realloc(fl->v, (fl->cap ? 2 * fl->cap : 16) * sizeof(*nv));
		if (!nv)
			return;
		fl->v = nv;
		fl->cap = fl->cap ? 2 * fl->cap : 16;
	}
	fl->v[fl->n++] = (char *)v;
}

int fi_lib_store_init(struct fi_bpf *b)
{
	size_t page = sysconf(_SC_PAGESIZE), globals, size;
	struct fi_store *st = &b->store;
	char *base, *root;

	base = bpf_map__initial_value(b->skel->maps.store, &globals);
	if (!base)
		return -ENOMEM;
	if (globals > fi_store_table_off(page))
		return -EINVAL;
	size = (size_t)bpf_map__max_entries(b->skel->maps.store) * page;
	memset(st, 0, sizeof(*st));
	st->own = calloc(FI_STORE_FILES, sizeof(*st->own));
	if (!st->own)
		return -ENOMEM;
	/* The root is at the start or on the last page (fi_store_table_off()). */
	root = (char *)b->skel->arena;
	st->end = root > base ? root : base + size;
	st->files = (struct fi_store_file *)(base + fi_store_table_off(page));
	st->brk = (char *)(st->files + FI_STORE_FILES);
	if (st->brk > st->end)
		return -ENOMEM;
	b->skel->arena->root.files = st->files;
	return 0;
}

void fi_lib_store_destroy(struct fi_bpf *b)
{
	struct fi_store *st = &b->store;

	for (unsigned int c = 0; c < FI_STORE_CLASSES; c++)
		free(st->free[c].v);
	free(st->own);
	memset(st, 0, sizeof(*st));
}

/* @nodeid's slot index, or -1; in *spare the first reusable one on its probe path (or -1). */
static int fi_store_find(struct fi_store *st, uint64_t nodeid, int *spare)
{
	uint32_t h = fi_store_hash(nodeid);

	*spare = -1;
	for (unsigned int i = 0; i < FI_STORE_PROBES; i++) {
		int at = (h + i) & (FI_STORE_FILES - 1);
		uint64_t id = st->own[at].nodeid;

		if (id == nodeid)
			return at;
		if (*spare < 0 && (id == FI_STORE_GONE || !id))
			*spare = at;
		if (!id)
			break;
	}
	return -1;
}

/* Write slot @at whole from the library's copy and these values, for seq @seq. */
static void fi_store_set(struct fi_store *st, int at, uint32_t seq, uint32_t count, uint32_t flags)
{
	struct fi_store_file *s = &st->files[at];
	struct fi_store_own *o = &st->own[at];

	o->count = count;
	o->flags = flags;
	s->nodeid = o->nodeid;
	s->flags = flags;
	s->count = count;
	s->ext = o->ext;
	s->over = o->over;
	s->ocount = o->on;
	s->gen = o->gen;
	s->check = fi_store_file_check(o->nodeid, seq, flags, count, o->on, o->gen);
}

/* Array entries a list of @n extents takes, its index included. */
static uint64_t fi_store_units(uint32_t n)
{
	uint64_t words = fi_index_top(n) + fi_index_other(n);

	return n + (words * sizeof(uint64_t) + sizeof(struct fi_store_extent) - 1) /
		   sizeof(struct fi_store_extent);
}

/* Extents @v of @nodeid, checked as @kind for version @ver, into the store at @to. */
static void fi_store_fill_extents(struct fi_store_extent *to, uint64_t kind, uint64_t nodeid,
				  uint32_t ver, const struct fi_extent *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		to[i] = (struct fi_store_extent){
			.lblk = v[i].lblk, .len = v[i].len, .pblk = v[i].pblk, .dev = v[i].dev,
			.type = v[i].type,
			.check = fi_store_extent_check(kind, nodeid, ver, i, &v[i]),
		};
}

/* A base list @v of @nodeid, checked for @gen, and its index, into the store at @to. */
static void fi_store_fill(struct fi_store_extent *to, uint64_t nodeid, uint32_t gen,
			  const struct fi_extent *v, uint32_t n)
{
	uint32_t top = fi_index_top(n), other = fi_index_other(n);
	uint64_t *index = (uint64_t *)&to[n];

	fi_store_fill_extents(to, FI_CHECK_BASE, nodeid, gen, v, n);
	for (uint32_t j = 0; j < top; j++)
		index[j] = v[(uint64_t)j << (2 * FI_INDEX_SHIFT)].lblk;
	for (uint32_t j = 0; j < other; j++)
		index[top + j] = v[(uint64_t)j << FI_INDEX_SHIFT].lblk;
}

bool fi_lib_store_settled(struct fi_bpf *b, uint64_t nodeid)
{
	int at, spare;

	if (!b->skel || !nodeid || nodeid == FI_STORE_GONE)
		return false;
	at = fi_store_find(&b->store, nodeid, &spare);
	return at >= 0 && b->store.own[at].on < FI_OVERLAY_MAX / 2;
}

void fi_lib_store_forget(struct fi_bpf *b, uint64_t nodeid)
{
	struct fi_store *st = &b->store;
	struct fi_store_own *o;
	int at, spare;

	if (!b->skel || !nodeid || nodeid == FI_STORE_GONE)
		return;
	at = fi_store_find(st, nodeid, &spare);
	if (at < 0)
		return;
	o = &st->own[at];
	fi_store_seq_begin(&st->files[at], o);
	fi_store_free(st, o->ext, o->cap);
	fi_store_free(st, o->over, o->over ? FI_OVERLAY_MAX : 0);
	free(o->ov);
	*o = (struct fi_store_own){ .nodeid = FI_STORE_GONE, .seq = o->seq, .gen = o->gen };
	fi_store_set(st, at, o->seq + 1, 0, 0);
	fi_store_seq_end(&st->files[at], o);
}

/*
 * In place when the file's array has room (readers answer nothing while
 * seq is odd), else a new array filled first and switched to.  On
 * failure the file has no list (an upcall, never a stale answer).
 */
int fi_lib_store_publish(struct fi_bpf *b, uint64_t nodeid, const struct fi_extent *v,
			 uint32_t n, uint32_t flags)
{
	struct fi_store *st = &b->store;
	struct fi_store_extent *old, *nv = NULL;
	struct fi_store_own *o;
	unsigned int c;
	uint64_t units;
	uint32_t seq, gen;
	int at, spare;

	if (!b->skel)
		return -ENODEV;
	if (!nodeid || nodeid == FI_STORE_GONE)
		return -EINVAL;
	if (n > FI_STORE_MAX_EXTENTS) {
		fi_lib_store_forget(b, nodeid);
		return -E2BIG;
	}
	at = fi_store_find(st, nodeid, &spare);
	if (at < 0 && spare < 0)
		return -ENOSPC;
	if (at < 0) {
		at = spare;
		st->own[at] = (struct fi_store_own){ .nodeid = nodeid, .seq = st->own[at].seq,
						     .gen = st->own[at].gen };
	}
	o = &st->own[at];
	old = o->ext;
	seq = fi_store_next_seq(o);
	gen = o->gen + 1;
	units = fi_store_units(n);
	/* A new base replaces the overlay too. */
	if (n && units <= o->cap) {
		fi_store_seq_begin(&st->files[at], o);
		fi_store_fill(old, nodeid, gen, v, n);
		o->gen = gen;
		o->on = 0;
		fi_store_set(st, at, seq, n, flags);
		fi_store_seq_end(&st->files[at], o);
		return 0;
	}
	c = fi_store_class(units);
	if (n) {
		nv = fi_store_alloc(st, c);
		if (!nv) {
			fi_lib_store_forget(b, nodeid);
			return -ENOSPC;
		}
		fi_store_fill(nv, nodeid, gen, v, n);
	}
	fi_store_seq_begin(&st->files[at], o);
	fi_store_free(st, old, o->cap);
	o->ext = nv;
	o->cap = n ? 1U << c : 0;
	o->gen = gen;
	o->on = 0;
	fi_store_set(st, at, seq, n, flags);
	fi_store_seq_end(&st->files[at], o);
	return 0;
}

/* Whether @b continues @a: the same kind, and for blocks, the next ones of the same device. */
static bool fi_store_joins(const struct fi_extent *a, const struct fi_extent *b)
{
	if (a->lblk + a->len != b->lblk || a->type != b->type)
		return false;
	return a->type == FUSE_IOMAP_TYPE_HOLE ||
	       (a->dev == b->dev && a->pblk + a->len == b->pblk);
}

/* Append @e to @v (of *n, room for @max), merged with the last one where it continues it. */
static int fi_store_put(struct fi_extent *v, uint32_t *n, uint32_t max, struct fi_extent e)
{
	if (*n && fi_store_joins(&v[*n - 1], &e)) {
		v[*n - 1].len += e.len;
		return 0;
	}
	if (*n == max)
		return -ENOSPC;
	v[(*n)++] = e;
	return 0;
}

/* The part of @e in [from, to), if any. */
static bool fi_store_clip(struct fi_extent e, uint64_t from, uint64_t to, struct fi_extent *out)
{
	uint64_t s = e.lblk > from ? e.lblk : from, t = e.lblk + e.len < to ? e.lblk + e.len : to;

	if (s >= t)
		return false;
	if (e.type != FUSE_IOMAP_TYPE_HOLE)
		e.pblk += s - e.lblk;
	e.lblk = s;
	e.len = t - s;
	*out = e;
	return true;
}

/*
 * The overlay @o has, with [lblk, end) replaced by @v (holes where @v
 * has none), into @nv.  -ENOSPC past FI_OVERLAY_MAX extents.
 */
static int fi_store_splice(const struct fi_store_own *o, uint64_t lblk, uint64_t end,
			   const struct fi_extent *v, uint32_t n, struct fi_extent *nv,
			   uint32_t *nn)
{
	struct fi_extent piece;
	uint64_t at = lblk;
	uint32_t i = 0;
	int err = 0;

	*nn = 0;
	for (; i < o->on && o->ov[i].lblk < lblk && !err; i++)
		if (fi_store_clip(o->ov[i], 0, lblk, &piece))
			err = fi_store_put(nv, nn, FI_OVERLAY_MAX, piece);
	for (uint32_t k = 0; k < n && !err; k++) {
		if (v[k].lblk > at)
			err = fi_store_put(nv, nn, FI_OVERLAY_MAX, (struct fi_extent){
				.lblk = at, .len = v[k].lblk - at, .type = FUSE_IOMAP_TYPE_HOLE });
		if (!err)
			err = fi_store_put(nv, nn, FI_OVERLAY_MAX, v[k]);
		at = v[k].lblk + v[k].len;
	}
	if (!err && at < end)
		err = fi_store_put(nv, nn, FI_OVERLAY_MAX, (struct fi_extent){
			.lblk = at, .len = end - at, .type = FUSE_IOMAP_TYPE_HOLE });
	/* From the one that may reach across lblk on: what lies past end. */
	for (i = i ? i - 1 : 0; i < o->on && !err; i++)
		if (fi_store_clip(o->ov[i], end, UINT64_MAX, &piece))
			err = fi_store_put(nv, nn, FI_OVERLAY_MAX, piece);
	return err;
}

/* @v: sorted, apart, inside [lblk, end), each MAPPED or UNWRITTEN and not empty. */
static bool fi_store_update_valid(uint64_t lblk, uint64_t end, const struct fi_extent *v,
				  uint32_t n)
{
	uint64_t at = lblk;

	if (end <= lblk)
		return false;
	for (uint32_t k = 0; k < n; k++) {
		if (v[k].lblk < at || !v[k].len || v[k].len > end - v[k].lblk ||
		    (v[k].type != FUSE_IOMAP_TYPE_MAPPED && v[k].type != FUSE_IOMAP_TYPE_UNWRITTEN))
			return false;
		at = v[k].lblk + v[k].len;
	}
	return true;
}

int fi_lib_store_update(struct fi_bpf *b, uint64_t nodeid, uint64_t lblk, uint64_t len,
			const struct fi_extent *v, uint32_t n)
{
	struct fi_store *st = &b->store;
	struct fi_extent nv[FI_OVERLAY_MAX];
	struct fi_store_file *s;
	struct fi_store_own *o;
	uint64_t end = len > UINT64_MAX - lblk ? UINT64_MAX : lblk + len;
	uint32_t nn, seq;
	int at, spare, err;

	if (!b->skel)
		return -ENODEV;
	if (!nodeid || nodeid == FI_STORE_GONE || !fi_store_update_valid(lblk, end, v, n))
		return -EINVAL;
	at = fi_store_find(st, nodeid, &spare);
	if (at < 0)
		return 0;	/* not published: the next publish reads the server's list */
	o = &st->own[at];
	s = &st->files[at];
	if (!o->over) {
		o->over = fi_store_alloc(st, fi_store_class(FI_OVERLAY_MAX));
		o->ov = calloc(FI_OVERLAY_MAX, sizeof(*o->ov));
		if (!o->over || !o->ov)
			return -ENOMEM;
	}
	err = fi_store_splice(o, lblk, end, v, n, nv, &nn);
	if (err)
		return err;
	seq = fi_store_next_seq(o);
	fi_store_seq_begin(s, o);
	fi_store_fill_extents(o->over, FI_CHECK_OVERLAY, nodeid, seq, nv, nn);
	memcpy(o->ov, nv, nn * sizeof(*nv));
	o->on = nn;
	fi_store_set(st, at, seq, o->count, o->flags);
	fi_store_seq_end(s, o);
	return 0;
}

size_t fi_lib_store_bytes(struct fi_bpf *b)
{
	return b->skel ? b->store.bytes : 0;
}

/* Free mark @i if @tag still holds it: ready first, so no reader takes it half freed. */
static void fi_store_unmark_one(struct fi_bpf *b, unsigned int i, uint64_t tag)
{
	struct fi_mark *m = &b->skel->bss->marks[i];
	uint64_t t = tag;

	__atomic_compare_exchange_n(&m->ready, &t, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	t = tag;
	__atomic_compare_exchange_n(&m->owner, &t, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void fi_lib_store_unmark(struct fi_bpf *b, uint64_t tag, const uint16_t *mark)
{
	if (!b->skel || !tag)
		return;
	for (unsigned int k = 0; k < FI_IOEND_MARKS && mark[k]; k++)
		if (mark[k] <= FI_MARKS)
			fi_store_unmark_one(b, mark[k] - 1, tag);
}

/* Free mark @i if it lies on [pblk, pblk+len) of @dev. */
static void fi_store_unmark_range(struct fi_bpf *b, unsigned int i, uint32_t dev, uint64_t pblk,
				  uint64_t len)
{
	struct fi_mark *m = &b->skel->bss->marks[i];
	uint64_t tag = __atomic_load_n(&m->ready, __ATOMIC_ACQUIRE);

	if (tag && m->dev == dev && m->pblk < pblk + len && pblk < m->pblk + m->len)
		fi_store_unmark_one(b, i, tag);
}

/*
 * The whole mark goes when it overlaps: a mark lives only until the
 * drain after its ioend, and a server frees or hands out blocks only
 * after a drain and with no I/O in flight to them, so this is the net
 * under that rule, not a path that runs.
 */
void fi_lib_store_unmark_blocks(struct fi_bpf *b, uint32_t dev, uint64_t pblk, uint64_t len)
{
	uint64_t first = pblk >> FI_MARK_GROUP_SHIFT, last;

	if (!b->skel || !len)
		return;
	last = (pblk + len - 1) >> FI_MARK_GROUP_SHIFT;
	/* A range of fewer groups than buckets: only its groups' buckets. */
	if (last - first >= FI_MARK_BUCKETS) {
		for (unsigned int i = 0; i < FI_MARKS; i++)
			fi_store_unmark_range(b, i, dev, pblk, len);
		return;
	}
	for (uint64_t g = first; g <= last; g++) {
		unsigned int at = fi_mark_bucket(dev, g << FI_MARK_GROUP_SHIFT) * FI_MARK_WAYS;

		for (unsigned int w = 0; w < FI_MARK_WAYS; w++)
			fi_store_unmark_range(b, at + w, dev, pblk, len);
	}
}
