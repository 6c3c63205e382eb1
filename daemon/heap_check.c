/*
 * heap_check.c - walk all metadata and verify every invariant.
 *
 * O(extents + buddy blocks + dirty stretches); for tests, `poolctl check`
 * and debugging, never on a hot path.  The first violation is reported as
 * text and the walk stops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "heap_internal.h"

struct checker {
	struct heap *h;
	char *msg;
	size_t msglen;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static bool
fail(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return false;
	c->failed = true;
	if (c->msg && c->msglen) {
		va_start(ap, fmt);
		vsnprintf(c->msg, c->msglen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Totals gathered while walking the extents. */
struct tally {
	uint64_t extents, free, runs, live, live_blocks, requested;
	uint64_t cached, cached_blocks, spans;
	uint64_t cls_blocks[HEAP_NCLASSES], cls_bytes[HEAP_NCLASSES];
};

static bool
check_run(struct checker *c, struct run *r, struct tally *t)
{
	struct heap *h = c->h;
	struct run *next = RB_NEXT(run_addr_tree, &h->runs, r);

	if (r->len == 0 || (r->len & (h->g - 1)) || (r->start & (h->g - 1)))
		return fail(c, "run %#" PRIx64 "+%#" PRIx64 " not on granules",
			    r->start, r->len);
	if (next && r->start + r->len >= next->start)
		return fail(c, "runs %#" PRIx64 " and %#" PRIx64
			    " touch or overlap", r->start, next->start);
	if (r->bin != runs_bin_of(h, r->len) ||
	    RB_FIND(run_size_tree, &h->bin[r->bin], r) != r)
		return fail(c, "run %#" PRIx64 " not in its bin", r->start);
	if (bm_is_live(h, r->start))
		return fail(c, "run %#" PRIx64 " has a live bit", r->start);
	t->free += r->len;
	t->runs++;
	return true;
}

/* Its whole pages must be in the buddy as the maximal aligned blocks. */
static bool
check_run_pages(struct checker *c, struct run *r, uint64_t *blocks)
{
	struct heap *h = c->h;
	uint64_t first = round_up(r->start, h->page) >> h->pshift;
	uint64_t end = round_down(r->start + r->len, h->page) >> h->pshift;

	while (first < end) {
		unsigned k = first ? (unsigned)__builtin_ctzll(first)
				   : BUDDY_ORDERS - 1;

		if (k > BUDDY_ORDERS - 1)
			k = BUDDY_ORDERS - 1;
		while (first + (1ull << k) > end)
			k--;
		if (!buddy_has(h, first, k))
			return fail(c, "buddy lacks page %#" PRIx64
				    " order %u of run %#" PRIx64,
				    first, k, r->start);
		(*blocks)++;
		first += 1ull << k;
	}
	return true;
}

static bool
check_small(struct checker *c, uint64_t off, uint64_t len, struct tally *t)
{
	struct heap *h = c->h;
	unsigned k;

	if (len == 0 || len > h->threshold || (len & (h->g - 1)))
		return fail(c, "small block %#" PRIx64 " has length %#" PRIx64,
			    off, len);
	if (bm_is_live(h, off)) {
		t->live += len;
		t->live_blocks++;
		t->requested += len - bm_slack(h, off, len);
		k = heap_class_of(len);
		t->cls_blocks[k]++;
		t->cls_bytes[k] += len;
	} else if (cache_holds(h, off, len)) {
		t->cached += len;
		t->cached_blocks++;
	} else {
		return fail(c, "extent %#" PRIx64 " is neither run, span, live "
			    "nor cached", off);
	}
	return true;
}

/* Invariant 1: the extents tile the pool. */
static bool
walk_extents(struct checker *c, struct tally *t)
{
	struct heap *h = c->h;
	uint64_t off = 0, len;

	while (off < h->max_size) {
		struct run *r;
		struct span *s;

		if (!bm_is_start(h, off))
			return fail(c, "no start bit at extent %#" PRIx64, off);
		t->extents++;
		if ((r = runs_find(h, off))) {
			if (!check_run(c, r, t))
				return false;
			len = r->len;
		} else if ((s = spans_find(h, off))) {
			if ((s->len & (h->page - 1)) || s->requested > s->len ||
			    s->requested == 0)
				return fail(c, "span %#" PRIx64 " malformed", off);
			t->live += s->len;
			t->live_blocks++;
			t->requested += s->requested;
			t->spans++;
			t->cls_blocks[heap_class_of(s->len)]++;
			t->cls_bytes[heap_class_of(s->len)] += s->len;
			len = s->len;
		} else {
			uint64_t limit = off + h->threshold + h->g;

			if (limit > h->max_size)
				limit = h->max_size;
			len = bm_next_start(h, off, limit) - off;
			if (!check_small(c, off, len, t))
				return false;
		}
		if (len > h->max_size - off)
			return fail(c, "extent %#" PRIx64 " runs past the pool",
				    off);
		off += len;
	}
	return true;
}

static bool
check_totals(struct checker *c, const struct tally *t)
{
	struct heap *h = c->h;
	const struct heap_stats *st = &h->st;
	unsigned k;

	if (bm_count_starts(h) != t->extents)
		return fail(c, "%" PRIu64 " start bits for %" PRIu64 " extents",
			    bm_count_starts(h), t->extents);
	if (t->free != st->free_bytes || t->runs != st->free_runs)
		return fail(c, "free bytes %" PRIu64 " counted %" PRIu64,
			    st->free_bytes, t->free);
	if (t->live != st->allocated_bytes || t->live_blocks != st->live_blocks ||
	    t->requested != st->requested_bytes)
		return fail(c, "allocated %" PRIu64 "/%" PRIu64 " blocks counted "
			    "%" PRIu64 "/%" PRIu64, st->allocated_bytes,
			    st->live_blocks, t->live, t->live_blocks);
	if (t->cached != st->cached_bytes || t->cached_blocks != st->cached_blocks)
		return fail(c, "cached bytes %" PRIu64 " counted %" PRIu64,
			    st->cached_bytes, t->cached);
	if (t->spans != st->spans)
		return fail(c, "spans %" PRIu64 " counted %" PRIu64, st->spans,
			    t->spans);
	if (t->free + t->live + t->cached != h->max_size)
		return fail(c, "free + allocated + cached != max_size");
	for (k = 0; k < HEAP_NCLASSES; k++)
		if (t->cls_blocks[k] != h->cls[k].live_blocks ||
		    t->cls_bytes[k] != h->cls[k].live_bytes)
			return fail(c, "size class %u counters off", k);
	return true;
}

static bool
check_bins(struct checker *c)
{
	struct heap *h = c->h;
	uint64_t n = 0;
	unsigned b;

	for (b = 0; b < NBINS; b++) {
		bool nonempty = !RB_EMPTY(&h->bin[b]);
		struct run *r;

		if (nonempty != !!(h->bin_nonempty[b / 64] & (1ull << (b % 64))))
			return fail(c, "bin %u emptiness bit wrong", b);
		RB_FOREACH(r, run_size_tree, &h->bin[b]) {
			if (r->bin != b || runs_find(h, r->start) != r)
				return fail(c, "bin %u holds a stray run", b);
			n++;
		}
	}
	if (n != h->st.free_runs)
		return fail(c, "bins hold %" PRIu64 " runs, not %" PRIu64, n,
			    h->st.free_runs);
	return true;
}

/* Invariant 3: buddy == maximal decomposition of the runs' whole pages. */
static bool
check_buddy(struct checker *c)
{
	struct heap *h = c->h;
	uint64_t expected = 0, n = 0;
	unsigned k;
	struct run *r;

	RB_FOREACH(r, run_addr_tree, &h->runs)
		if (!check_run_pages(c, r, &expected))
			return false;
	for (k = 0; k < BUDDY_ORDERS; k++) {
		struct bblock *b;

		if (!RB_EMPTY(&h->order[k]) != !!(h->order_nonempty & (1ull << k)))
			return fail(c, "order %u emptiness bit wrong", k);
		RB_FOREACH(b, bblock_tree, &h->order[k]) {
			if (b->page & ((1ull << k) - 1))
				return fail(c, "buddy block %#" PRIx64
					    " misaligned for order %u", b->page, k);
			n++;
		}
	}
	if (n != expected || n != h->buddy_blocks)
		return fail(c, "buddy has %" PRIu64 " blocks, runs make %" PRIu64,
			    n, expected);
	return true;
}

static bool
check_dirty(struct checker *c)
{
	struct heap *h = c->h;
	struct dirty *d, *prev = NULL;
	uint64_t pages = 0;

	RB_FOREACH(d, dirty_tree, &h->dirty) {
		if (d->first >= d->end || d->end > h->npages)
			return fail(c, "dirty stretch %#" PRIx64 " malformed",
				    d->first);
		if (prev && prev->end >= d->first)
			return fail(c, "dirty stretches touch at %#" PRIx64,
				    d->first);
		pages += d->end - d->first;
		prev = d;
	}
	if (pages != h->dirty_pages)
		return fail(c, "dirty pages %" PRIu64 " counted %" PRIu64,
			    h->dirty_pages, pages);
	return true;
}

int
heap_check(struct heap *h, char *msg, size_t msglen)
{
	struct checker c = {.h = h, .msg = msg, .msglen = msglen};
	struct tally t = {0};

	if (msg && msglen)
		msg[0] = '\0';
	if (walk_extents(&c, &t) && check_totals(&c, &t) && check_bins(&c) &&
	    check_buddy(&c) && check_dirty(&c))
		return 0;
	return -EFAULT;
}
