// SPDX-License-Identifier: GPL-2.0
/*
 * See extents.h.  Lookup is a binary search; insert and remove move the
 * tail of the array, which is fine for the file sizes our tests use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "extents.h"

size_t ext_find(const struct ext_list *l, uint64_t lblk)
{
	size_t lo = 0, hi = l->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].lblk + l->v[mid].len <= lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int ext_reserve(struct ext_list *l, size_t n)
{
	struct ext *v;
	size_t cap;

	if (l->nr + n <= l->cap)
		return 0;
	cap = l->cap ? l->cap * 2 : 8;
	while (cap < l->nr + n)
		cap *= 2;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

static int ext_contiguous(const struct ext *a, const struct ext *b)
{
	return a->lblk + a->len == b->lblk && a->pblk + a->len == b->pblk &&
	       a->unwritten == b->unwritten && a->dev == b->dev;
}

int ext_insert(struct ext_list *l, struct ext e)
{
	size_t i = ext_find(l, e.lblk);

	if (i > 0 && ext_contiguous(&l->v[i - 1], &e)) {
		l->v[i - 1].len += e.len;
		if (i < l->nr && ext_contiguous(&l->v[i - 1], &l->v[i])) {
			l->v[i - 1].len += l->v[i].len;
			memmove(&l->v[i], &l->v[i + 1], (l->nr - i - 1) * sizeof(e));
			l->nr--;
		}
		return 0;
	}
	if (i < l->nr && ext_contiguous(&e, &l->v[i])) {
		l->v[i].lblk = e.lblk;
		l->v[i].pblk = e.pblk;
		l->v[i].len += e.len;
		return 0;
	}
	if (ext_reserve(l, 1))
		return -ENOMEM;
	memmove(&l->v[i + 1], &l->v[i], (l->nr - i) * sizeof(e));
	l->v[i] = e;
	l->nr++;
	return 0;
}

int ext_remove(struct ext_list *l, uint64_t lblk, uint64_t len,
	       void (*cb)(void *arg, struct ext piece), void *arg)
{
	uint64_t end = lblk + len;
	size_t i = ext_find(l, lblk);

	while (i < l->nr && l->v[i].lblk < end) {
		struct ext *e = &l->v[i];
		uint64_t s = e->lblk > lblk ? e->lblk : lblk;
		uint64_t t = e->lblk + e->len < end ? e->lblk + e->len : end;
		struct ext piece = { s, e->pblk + (s - e->lblk), t - s, e->unwritten, e->dev };

		if (s > e->lblk && t < e->lblk + e->len) {
			/* A hole in the middle: split in two. */
			struct ext tail = { t, e->pblk + (t - e->lblk), e->lblk + e->len - t,
					    e->unwritten, e->dev };

			if (ext_reserve(l, 1))
				return -ENOMEM;
			e = &l->v[i];
			e->len = s - e->lblk;
			memmove(&l->v[i + 2], &l->v[i + 1], (l->nr - i - 1) * sizeof(*e));
			l->v[i + 1] = tail;
			l->nr++;
			i += 2;
		} else if (s > e->lblk) {
			e->len = s - e->lblk;
			i++;
		} else if (t < e->lblk + e->len) {
			e->pblk += t - e->lblk;
			e->len -= t - e->lblk;
			e->lblk = t;
			i++;
		} else {
			memmove(e, e + 1, (l->nr - i - 1) * sizeof(*e));
			l->nr--;
		}
		if (cb)
			cb(arg, piece);
	}
	return 0;
}

int ext_convert(struct ext_list *l, uint64_t lblk, uint64_t len,
		void (*cb)(void *arg, struct ext piece), void *arg)
{
	uint64_t end = lblk + len, at = lblk;

	while (at < end) {
		size_t i = ext_find(l, at);
		struct ext *e, piece;
		uint64_t s, t;

		if (i >= l->nr || l->v[i].lblk >= end)
			break;
		e = &l->v[i];
		s = e->lblk > at ? e->lblk : at;
		t = e->lblk + e->len < end ? e->lblk + e->len : end;
		at = t;
		if (!e->unwritten)
			continue;
		piece = (struct ext){ s, e->pblk + (s - e->lblk), t - s, 0, e->dev };
		/* Room for the split and the insert first: neither may fail halfway. */
		if (ext_reserve(l, 2))
			return -ENOMEM;
		ext_remove(l, s, t - s, NULL, NULL);
		ext_insert(l, piece);
		if (cb)
			cb(arg, piece);
	}
	return 0;
}

void ext_free(struct ext_list *l)
{
	free(l->v);
	l->v = NULL;
	l->nr = l->cap = 0;
}

int balloc_init(struct balloc *b, uint64_t nblocks)
{
	b->map = calloc((nblocks + 7) / 8, 1);
	if (!b->map)
		return -ENOMEM;
	b->nblocks = b->nfree = nblocks;
	b->cursor = 0;
	return 0;
}

static int balloc_used(const struct balloc *b, uint64_t i)
{
	return b->map[i / 8] & (1 << (i % 8));
}

void balloc_mark(struct balloc *b, uint64_t pblk, uint64_t len, int used)
{
	for (uint64_t i = pblk; i < pblk + len; i++) {
		if (!!balloc_used(b, i) == !!used)
			continue;
		b->map[i / 8] ^= 1 << (i % 8);
		b->nfree += used ? -1 : 1;
	}
}

uint64_t balloc_alloc(struct balloc *b, uint64_t want, uint64_t *pblk)
{
	uint64_t scanned, i = b->cursor, got;

	for (scanned = 0; scanned < b->nblocks; scanned++, i = (i + 1) % b->nblocks) {
		if (balloc_used(b, i))
			continue;
		for (got = 0; got < want && i + got < b->nblocks && !balloc_used(b, i + got); got++)
			;
		balloc_mark(b, i, got, 1);
		*pblk = i;
		b->cursor = (i + got) % b->nblocks;
		return got;
	}
	return 0;
}

void balloc_destroy(struct balloc *b)
{
	free(b->map);
	b->map = NULL;
}
