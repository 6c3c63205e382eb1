/*
 * heap_check.c - walk all metadata and verify every invariant.
 *
 * O(extents + buddy blocks + dirty stretches + bin entries * log); for
 * tests, `poolctl check` and debugging, never on a hot path.  The first
 * violation is reported as text and the walk stops.  The walk allocates its
 * scratch with plain malloc: metadata_bytes does not move.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"

struct checker {
	struct heap *h;
	char *msg;
	size_t msglen;
	bool failed;
	bool nomem;		/* it could not be done: no fault found */
	uint64_t *sorted[SHORT_MAX + 1];	/* each bin's entries, sorted */
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

/*
 * The ending of a noun after the count n ("1 run", "2 runs"); the engine
 * links without the daemon's log_plural.
 */
static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* Totals gathered while walking the extents. */
struct tally {
	uint64_t extents, free, runs, live, live_blocks, requested;
	uint64_t cached, cached_blocks, spans, units, nlong;
	uint64_t free_dirty;	/* dirty pages wholly inside runs */
	uint64_t shorts[SHORT_MAX + 1];
	uint64_t cls_blocks[HEAP_NCLASSES], cls_bytes[HEAP_NCLASSES];
	/* What the engine keeps of them (struct heap_counts): the live and
	 * cached blocks of each size up to CACHE_GRANULES granules, the live
	 * ones of each class above. */
	uint64_t held[CACHE_GRANULES + 1];
	uint64_t long_blocks[HEAP_NCLASSES], long_bytes[HEAP_NCLASSES];
};

/* A live or cached block of len bytes. */
static void
tally_held(const struct heap *h, struct tally *t, uint64_t len, bool live)
{
	uint64_t n = len >> h->gshift;
	unsigned k = heap_class_of(len);

	if (live) {
		t->cls_blocks[k]++;
		t->cls_bytes[k] += len;
	}
	if (n <= CACHE_GRANULES) {
		t->held[n]++;
	} else {
		t->long_blocks[k]++;
		t->long_bytes[k] += len;
	}
}

static int
off_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool
sorted_bins(struct checker *c)
{
	struct heap *h = c->h;
	unsigned n;

	for (n = 1; n <= SHORT_MAX; n++) {
		const struct sbin *sb = &h->sbin[n];

		uint32_t cap = sb->v ? (uint32_t)sb->v[-1] : 0;

		if (sb->len > cap || (sb->count == 0 && sb->len != 0))
			return fail(c, "bin %u: length %u, capacity %u, "
				    "%u run%s", n, sb->len, cap, sb->count,
				    plural(sb->count));
		if (!sb->len)
			continue;
		c->sorted[n] = malloc(sb->len * sizeof(uint64_t));
		if (!c->sorted[n]) {
			c->nomem = true;
			return fail(c, "out of memory for the check");
		}
		memcpy(c->sorted[n], sb->v, sb->len * sizeof(uint64_t));
		qsort(c->sorted[n], sb->len, sizeof(uint64_t), off_cmp);
	}
	return true;
}

static bool
bin_has_entry(struct checker *c, unsigned n, uint64_t start)
{
	const uint64_t *v = c->sorted[n];
	size_t lo = 0, hi = c->h->sbin[n].len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return v && lo < c->h->sbin[n].len && v[lo] == start;
}

/* Its whole units must be in the buddy as the maximal aligned blocks. */
static bool
check_run_units(struct checker *c, uint64_t start, uint64_t len,
		struct tally *t)
{
	struct heap *h = c->h;
	uint64_t unit = h->page << h->kmin;
	uint64_t first = round_up(start, unit) >> h->pshift;
	uint64_t end = round_down(start + len, unit) >> h->pshift;

	while (first < end) {
		unsigned k = first ? (unsigned)__builtin_ctzll(first)
				   : BUDDY_ORDERS - 1;

		if (k > BUDDY_ORDERS - 1)
			k = BUDDY_ORDERS - 1;
		while (first + (1ull << k) > end)
			k--;
		if (!buddy_has(h, first, k))
			return fail(c, "buddy lacks page 0x%" PRIx64
				    " order %u of run 0x%" PRIx64,
				    first, k, start);
		t->units++;
		first += 1ull << k;
	}
	return true;
}

static bool
check_run(struct checker *c, uint64_t off, uint64_t len, bool is_long,
	  struct tally *t)
{
	struct heap *h = c->h;

	if (len == 0 || (len & (h->g - 1)) || (off & (h->g - 1)))
		return fail(c, "run 0x%" PRIx64 "+0x%" PRIx64
			    " not on granules", off, len);
	if (is_long != !runs_is_short(h, len))
		return fail(c, "run 0x%" PRIx64 "+0x%" PRIx64 " filed as %s",
			    off, len, is_long ? "long" : "short");
	if (!is_long) {
		unsigned n = (unsigned)(len >> h->gshift);

		if (!bin_has_entry(c, n, off))
			return fail(c, "short run 0x%" PRIx64 "+0x%" PRIx64
				    " has no entry in its bin", off, len);
		t->shorts[n]++;
	} else {
		t->nlong++;
	}
	t->free += len;
	t->runs++;
	if (round_down(off + len, h->page) > round_up(off, h->page))
		t->free_dirty += dirty_pages_in(h,
				round_up(off, h->page) >> h->pshift,
				(off + len) >> h->pshift);
	return check_run_units(c, off, len, t);
}

static bool
check_live(struct checker *c, uint64_t off, uint64_t len, struct tally *t)
{
	struct heap *h = c->h;

	if (len == 0 || len > h->threshold || (len & (h->g - 1)))
		return fail(c, "small block 0x%" PRIx64
			    " has length 0x%" PRIx64, off, len);
	t->live += len;
	t->live_blocks++;
	t->requested += len - bm_slack(h, off, len);
	tally_held(h, t, len, true);
	return true;
}

/* The extent at off (a start bit), its length into *len. */
static bool
check_extent(struct checker *c, uint64_t off, bool *was_run, uint64_t *len,
	     struct tally *t)
{
	struct heap *h = c->h;
	uint64_t limit = off + h->threshold + h->g;
	struct lrun key = {.start = off}, *r;
	struct span *s;
	bool run = false;

	if (limit > h->max_size)
		limit = h->max_size;
	if (bm_is_live(h, off)) {
		*len = bm_next_start(h, off, limit) - off;
		if (!check_live(c, off, *len, t))
			return false;
	} else if (bm_cached(h, off)) {
		*len = bm_next_start(h, off, limit) - off;
		if (!cache_holds(h, off, *len))
			return fail(c, "marked block 0x%" PRIx64 "+0x%" PRIx64
				    " is not in the cache", off, *len);
		t->cached += *len;
		t->cached_blocks++;
		tally_held(h, t, *len, false);
	} else if ((r = RB_FIND(lrun_addr_tree, &h->lruns, &key))) {
		*len = r->len;
		if (RB_FIND(lrun_size_tree, &h->lsize, r) != r)
			return fail(c, "long run 0x%" PRIx64 " not in the size "
				    "tree", off);
		run = true;
		if (!check_run(c, off, r->len, true, t))
			return false;
	} else if ((off & (h->page - 1)) == 0 && (s = spans_find(h, off))) {
		/* Whole pages, asking more than all but the last: the
		 * request rounded up (heap_split relies on it). */
		if ((s->len & (h->page - 1)) || s->requested > s->len ||
		    s->requested + h->page <= s->len)
			return fail(c, "span 0x%" PRIx64 " malformed", off);
		*len = s->len;
		t->live += s->len;
		t->live_blocks++;
		t->requested += s->requested;
		t->spans++;
		tally_held(h, t, s->len, true);
	} else {
		uint64_t lim = off + ((uint64_t)(SHORT_MAX + 1) << h->gshift);

		if (lim > h->max_size)
			lim = h->max_size;
		*len = bm_next_start(h, off, lim) - off;
		if (!runs_is_short(h, *len))
			return fail(c, "free extent 0x%" PRIx64 " is longer "
				    "than a short run and has no record", off);
		run = true;
		if (!check_run(c, off, *len, false, t))
			return false;
	}
	if (run && *was_run)
		return fail(c, "runs touch at 0x%" PRIx64, off);
	if (!run && off + *len > h->top)
		return fail(c, "block 0x%" PRIx64 "+0x%" PRIx64 " ends above "
			    "the high-water mark 0x%" PRIx64, off, *len, h->top);
	*was_run = run;
	return true;
}

/* Invariant 1: the extents tile the pool. */
static bool
walk_extents(struct checker *c, struct tally *t)
{
	struct heap *h = c->h;
	uint64_t off = 0, len = 0;
	bool was_run = false;

	while (off < h->max_size) {
		if (!bm_is_start(h, off))
			return fail(c, "no start bit at extent 0x%"
				    PRIx64, off);
		t->extents++;
		if (!check_extent(c, off, &was_run, &len, t))
			return false;
		if (len > h->max_size - off)
			return fail(c, "extent 0x%" PRIx64
				    " runs past the pool", off);
		off += len;
	}
	return true;
}

/*
 * Invariant 5, and every statistic against the walk: those the engine
 * derives (struct heap_counts) as heap_get_stats and heap_get_class_stats
 * report them, and the counters it derives them from.
 */
static bool
check_totals(struct checker *c, const struct tally *t)
{
	struct heap *h = c->h;
	struct heap_stats st;
	struct heap_class_stats cs;
	struct span *s;
	uint64_t records = 0;
	unsigned k;

	heap_get_stats(h, &st);
	if (bm_count_starts(h) != t->extents)
		return fail(c, "%" PRIu64 " start bits for %" PRIu64 " extents",
			    bm_count_starts(h), t->extents);
	if (t->free != st.free_bytes || t->runs != st.free_runs)
		return fail(c, "free bytes %" PRIu64 " in %" PRIu64 " runs, "
			    "counted %" PRIu64 " in %" PRIu64, st.free_bytes,
			    st.free_runs, t->free, t->runs);
	if (t->live != st.allocated_bytes || t->live_blocks != st.live_blocks ||
	    t->requested != st.requested_bytes)
		return fail(c, "allocated %" PRIu64 "/%" PRIu64 " blocks counted "
			    "%" PRIu64 "/%" PRIu64, st.allocated_bytes,
			    st.live_blocks, t->live, t->live_blocks);
	if (t->cached != st.cached_bytes ||
	    t->cached_blocks != st.cached_blocks)
		return fail(c, "cached bytes %" PRIu64 " counted %" PRIu64,
			    st.cached_bytes, t->cached);
	if (t->spans != st.spans)
		return fail(c, "spans %" PRIu64 " counted %" PRIu64, st.spans,
			    t->spans);
	/* The walk met each span it counted; no other record may be. */
	RB_FOREACH(s, span_tree, &h->spans)
		records++;
	if (records != t->spans)
		return fail(c, "%" PRIu64 " span records for %" PRIu64 " spans",
			    records, t->spans);
	if (t->free + t->live + t->cached != h->max_size)
		return fail(c, "free + allocated + cached != max_size");
	for (k = 1; k <= CACHE_GRANULES; k++)
		if (h->held[k] != t->held[k] ||
		    h->cache[k].count > h->held[k])
			return fail(c, "size of %u granule%s: %" PRIu64 " held, "
				    "%u cached, walked %" PRIu64, k, plural(k),
				    h->held[k], h->cache[k].count,
				    t->held[k]);
	for (k = 0; k < HEAP_NCLASSES; k++) {
		bool used = heap_class_live(h, k);

		heap_get_class_stats(h, k, &cs);
		if (t->cls_blocks[k] != cs.live_blocks ||
		    t->cls_bytes[k] != cs.live_bytes ||
		    t->long_blocks[k] !=
			    (used ? heap_cls_live(h, k)->blocks : 0) ||
		    t->long_bytes[k] != (used ? heap_cls_live(h, k)->bytes : 0))
			return fail(c, "size class %u counters off", k);
	}
	return true;
}

/* Invariant 2: bins count their runs, the long-run trees agree. */
static bool
check_bins(struct checker *c, const struct tally *t)
{
	struct heap *h = c->h;
	uint64_t n = 0;
	struct lrun *r;
	unsigned b;

	for (b = 1; b <= SHORT_MAX; b++) {
		bool nonempty = h->sbin_nonempty[b / 64] >> (b % 64) & 1;

		if (h->sbin[b].count != t->shorts[b])
			return fail(c, "bin %u counts %u run%s, the walk "
				    "found %" PRIu64, b, h->sbin[b].count,
				    plural(h->sbin[b].count), t->shorts[b]);
		if (nonempty != (h->sbin[b].count != 0))
			return fail(c, "bin %u emptiness bit wrong", b);
	}
	if (h->sbin_nonempty[0] & 1)
		return fail(c, "bin 0 marked non-empty");
	for (b = 0; b < SHORT_WORDS; b++)
		if (!!(h->sbin_words >> b & 1) != !!h->sbin_nonempty[b])
			return fail(c, "bin word %u emptiness bit wrong", b);
	RB_FOREACH(r, lrun_size_tree, &h->lsize) {
		if (RB_FIND(lrun_addr_tree, &h->lruns, r) != r)
			return fail(c, "long run 0x%" PRIx64 " not in the "
				    "address tree", r->start);
		n++;
	}
	if (h->lmin && h->lmin != RB_MIN(lrun_size_tree, &h->lsize))
		return fail(c, "the remembered smallest long run is not");
	if (h->lhint && RB_FIND(lrun_addr_tree, &h->lruns, h->lhint) != h->lhint)
		return fail(c, "the remembered long run is not in the trees");
	if (n != t->nlong || n != h->nlong)
		return fail(c, "%" PRIu64 " long runs in the size tree, %"
			    PRIu64 " counted, %" PRIu64 " walked", n, h->nlong,
			    t->nlong);
	return true;
}

/* Invariant 3: buddy == maximal decomposition of the runs' whole units. */
static bool
check_buddy(struct checker *c, const struct tally *t)
{
	struct heap *h = c->h;
	uint64_t n = 0;
	unsigned k;

	for (k = 0; k < BUDDY_ORDERS; k++) {
		struct bblock *b;

		if (!RB_EMPTY(&h->order[k]) != !!(h->order_nonempty & (1ull << k)))
			return fail(c, "order %u emptiness bit wrong", k);
		if (k < h->kmin && !RB_EMPTY(&h->order[k]))
			return fail(c, "order %u below the smallest span's", k);
		RB_FOREACH(b, bblock_tree, &h->order[k]) {
			if (b->page & ((1ull << k) - 1))
				return fail(c, "buddy block 0x%" PRIx64
					    " misaligned for order %u", b->page, k);
			n++;
		}
	}
	if (n != t->units || n != h->buddy_blocks)
		return fail(c, "buddy has %" PRIu64 " blocks, runs make %" PRIu64,
			    n, t->units);
	return true;
}

/* Do the dirty stretches cover the pages of [off, off + len)? */
static bool
on_dirty_pages(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t first = off >> h->pshift, last = (off + len - 1) >> h->pshift;
	struct dirty key = {.first = first + 1}, *d;

	d = RB_NFIND(dirty_tree, &h->dirty, &key);
	d = d ? RB_PREV(dirty_tree, &h->dirty, d) : RB_MAX(dirty_tree, &h->dirty);
	return d && d->first <= first && last < d->end;
}

/*
 * Invariant 4: every cached block is marked, once, the facts kept about its
 * size are right, and its pages are dirty (taking it back out of the cache
 * does not mark them).
 */
static bool
check_caches(struct checker *c, const struct tally *t)
{
	struct heap *h = c->h;
	uint64_t n = 0, bytes = 0;
	unsigned k;

	for (k = 2; k <= CACHE_GRANULES && h->cache_limit; k++) {
		const struct block_cache *bc = &h->cache[k];
		uint64_t len = (uint64_t)k << h->gshift;
		uint32_t i, j;

		if (bc->count > h->cache_limit)
			return fail(c, "cache %u holds %u block%s", k,
				    bc->count, plural(bc->count));
		for (i = 0; i < bc->count; i++) {
			uint64_t off = bc->off[i];

			uint64_t lim = off + len + h->g;

			if (lim > h->max_size)
				lim = h->max_size;
			if (!bm_is_start(h, off) || bm_is_live(h, off) ||
			    !bm_cached(h, off) ||
			    bm_next_start(h, off, lim) != off + len)
				return fail(c, "cached 0x%" PRIx64 "+0x%" PRIx64
					    " is not a marked extent", off, len);
			if (bc->room != bm_room(h, len) ||
			    bc->drop != h->slack_bits - bc->room ||
			    bc->cls != heap_class_of(len))
				return fail(c, "cached 0x%" PRIx64 "+0x%" PRIx64
					    ": field or size facts wrong", off,
					    len);
			if (!on_dirty_pages(h, off, len))
				return fail(c, "cached 0x%" PRIx64 "+0x%" PRIx64
					    " is not on dirty pages", off, len);
			for (j = 0; j < i; j++)
				if (bc->off[j] == off)
					return fail(c, "cached 0x%" PRIx64
						    " twice", off);
			n++;
			bytes += len;
		}
	}
	if (n != t->cached_blocks || bytes != t->cached)
		return fail(c, "caches hold %" PRIu64 " blocks, %" PRIu64
			    " marked", n, t->cached_blocks);
	return true;
}

/* The directory's front table: each entry empty, or right. */
static bool
check_front(struct checker *c)
{
	struct heap *h = c->h;
	uint64_t i;

	for (i = 0; i < h->chunks.cap; i++) {
		const struct slot *f = &h->chunks.front[i];

		if (f->index == NO_CHUNK) {
			if (f->c)
				return fail(c, "front entry 0x%" PRIx64 " is "
					    "empty but names a chunk", i);
			continue;
		}
		if ((f->index & (h->chunks.cap - 1)) != i || !f->c ||
		    f->c->index != f->index)
			return fail(c, "front entry 0x%" PRIx64
				    " misplaced", i);
		if (bm_chunk_find(h, f->index) != f->c)
			return fail(c, "front entry 0x%" PRIx64 " names a "
				    "chunk the directory does not hold", i);
	}
	return true;
}

/* Every chunk: its counts and its summary word agree with its words. */
static bool
check_chunks(struct checker *c)
{
	struct heap *h = c->h;
	uint64_t i, n = 0;

	for (i = 0; i < h->chunks.cap; i++) {
		struct chunk *ch = h->chunks.slot[i].c;
		uint64_t any = 0, starts = 0, live = 0;
		unsigned w;

		if (!ch)
			continue;
		n++;
		if (h->chunks.slot[i].index != ch->index ||
		    bm_chunk_find(h, ch->index) != ch)
			return fail(c, "chunk 0x%" PRIx64 " not found by its "
				    "index", ch->index);
		for (w = 0; w < CHUNK_WORDS; w++) {
			any |= (uint64_t)(SW(ch, w) != 0) << w;
			starts += (uint64_t)__builtin_popcountll(SW(ch, w));
			live |= LW(ch, w);
		}
		if (any != ch->any || starts != ch->nstart)
			return fail(c, "chunk 0x%" PRIx64 ": summary 0x%" PRIx64
				    " for 0x%" PRIx64 ", %u start bits for %"
				    PRIu64, ch->index, ch->any, any, ch->nstart,
				    starts);
		if (ch->nstart == 0 && live == 0)
			return fail(c, "chunk 0x%" PRIx64 " is empty but kept",
				    ch->index);
	}
	if (n != h->chunks.count)
		return fail(c, "%" PRIu64 " chunks, counted %" PRIu64, n,
			    h->chunks.count);
	return true;
}

static bool
check_dirty(struct checker *c)
{
	struct heap *h = c->h;
	struct dirty *d, *prev = NULL;
	uint64_t pages = 0;
	bool hint = h->dirty_hint == NULL;

	RB_FOREACH(d, dirty_tree, &h->dirty) {
		if (d->first >= d->end || d->end > h->npages)
			return fail(c, "dirty stretch 0x%" PRIx64 " malformed",
				    d->first);
		if (prev && prev->end >= d->first)
			return fail(c, "dirty stretches touch at 0x%" PRIx64,
				    d->first);
		pages += d->end - d->first;
		hint |= d == h->dirty_hint;
		prev = d;
	}
	if (pages != h->dirty_pages)
		return fail(c, "dirty pages %" PRIu64 " counted %" PRIu64,
			    h->dirty_pages, pages);
	if (!hint)
		return fail(c, "dirty hint names no stretch");
	return true;
}

/*
 * Invariant 9: the retention queue's entries are page ranges, and
 * free_dirty counts the dirty pages that lie wholly in runs.
 */
static bool
check_retained(struct checker *c, const struct tally *t)
{
	struct heap *h = c->h;
	unsigned i;

	if (h->retain_count > h->retain_cap ||
	    (h->retain_cap && h->retain_head >= h->retain_cap))
		return fail(c, "retention queue of length %u in %u slot%s",
			    h->retain_count, h->retain_cap,
			    plural(h->retain_cap));
	for (i = 0; i < h->retain_count; i++) {
		const struct retained *r =
			&h->retain[(h->retain_head + i) % h->retain_cap];

		if (r->first >= r->end || r->end > h->npages)
			return fail(c, "retained range 0x%" PRIx64 " malformed",
				    r->first);
	}
	if (t->free_dirty != h->free_dirty)
		return fail(c, "free dirty pages %" PRIu64 " counted %" PRIu64,
			    h->free_dirty, t->free_dirty);
	return true;
}

int
heap_check(struct heap *h, char *msg, size_t msglen)
{
	struct checker c = {.h = h, .msg = msg, .msglen = msglen};
	struct tally *t = calloc(1, sizeof(*t));
	bool ok;
	unsigned n;

	if (msg && msglen)
		msg[0] = '\0';
	if (!t) {
		fail(&c, "out of memory for the check");
		return -ENOMEM;
	}
	/* The front table first: the walk's own lookups refill it. */
	ok = check_front(&c) && sorted_bins(&c) && walk_extents(&c, t) &&
	     check_totals(&c, t) && check_bins(&c, t) && check_buddy(&c, t) &&
	     check_caches(&c, t) && check_chunks(&c) && check_dirty(&c) &&
	     check_retained(&c, t);
	for (n = 0; n <= SHORT_MAX; n++)
		free(c.sorted[n]);
	free(t);
	return ok ? 0 : c.nomem ? -ENOMEM : -EFAULT;
}
