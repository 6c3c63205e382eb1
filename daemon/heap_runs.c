/*
 * heap_runs.c - free runs: segregated size bins with split and coalesce.
 *
 * Every free byte of the pool belongs to exactly one run, and runs are
 * maximal: when a block is freed it merges with the run that ends where it
 * starts and the run that starts where it ends.  So "some free, suitably
 * aligned stretch of the pool could hold this request" is the same as "some
 * run could hold it", and the bins below find such a run whenever one exists.
 *
 * Each run sits in two red-black trees:
 *   runs      ordered by address, to find the neighbours of a freed block
 *   bin[b]    ordered by (length, address), one tree per size class
 *
 * Size classes count granules: one class per count up to BIN_EXACT (so every
 * sub-page size at the default granularity has its own bin), then four per
 * power of two.  A bitmap of non-empty bins finds the next candidate bin in a
 * few word operations.
 *
 * Placement is best fit, ties to the lowest address, carving from the low end
 * of the run (Johnstone and Wilson found best fit with address-ordered ties
 * among the least fragmenting policies).  Cost: O(log n) per operation for n
 * runs.  The one exception is an aligned request that only a run shorter
 * than size + align could hold: those candidates are tried in order, which is
 * bounded by the number of runs in that narrow length window.
 *
 * Whenever the whole pages of a run change, the buddy view is told
 * (buddy_add/buddy_remove), so it always equals the union of W(run).
 */
#include <stdlib.h>

#include "heap_internal.h"

static int
run_addr_cmp(struct run *a, struct run *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

static int
run_size_cmp(struct run *a, struct run *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE(run_addr_tree, run, by_addr, run_addr_cmp)
RB_GENERATE(run_size_tree, run, by_size, run_size_cmp)

unsigned
runs_bin_of(const struct heap *h, uint64_t len)
{
	uint64_t n = len >> h->gshift;
	unsigned e;

	assert(n > 0);
	if (n <= BIN_EXACT)
		return (unsigned)n - 1;
	e = log2_floor(n);	/* >= 8 */
	return BIN_EXACT + (e - 8) * 4 + (unsigned)((n >> (e - 2)) & 3);
}

static void
bin_insert(struct heap *h, struct run *r)
{
	unsigned b = runs_bin_of(h, r->len);

	r->bin = b;
	RB_INSERT(run_size_tree, &h->bin[b], r);
	h->bin_nonempty[b / 64] |= 1ull << (b % 64);
}

static void
bin_remove(struct heap *h, struct run *r)
{
	unsigned b = r->bin;

	RB_REMOVE(run_size_tree, &h->bin[b], r);
	if (RB_EMPTY(&h->bin[b]))
		h->bin_nonempty[b / 64] &= ~(1ull << (b % 64));
}

/* First non-empty bin >= b, or NBINS. */
static unsigned
bin_next_nonempty(const struct heap *h, unsigned b)
{
	unsigned w = b / 64;
	uint64_t bits;

	if (b >= NBINS)
		return NBINS;
	bits = h->bin_nonempty[w] & (~0ull << (b % 64));
	while (bits == 0) {
		if (++w >= BIN_WORDS)
			return NBINS;
		bits = h->bin_nonempty[w];
	}
	return w * 64 + (unsigned)__builtin_ctzll(bits);
}

/* The pages wholly inside [a, b): [first, end), possibly empty. */
static void
whole_pages(const struct heap *h, uint64_t a, uint64_t b, uint64_t *first,
	    uint64_t *end)
{
	*first = round_up(a, h->page) >> h->pshift;
	*end = round_down(b, h->page) >> h->pshift;
	if (*end < *first)
		*end = *first;
}

/*
 * Pages wholly inside the run [x, y) that overlap [off, off + len): the pages
 * that join (on give) or leave (on take) the buddy view.
 */
static void
touched_pages(const struct heap *h, uint64_t x, uint64_t y, uint64_t off,
	      uint64_t len, uint64_t *first, uint64_t *end)
{
	uint64_t wf, we, tf, te;

	whole_pages(h, x, y, &wf, &we);
	tf = round_down(off, h->page) >> h->pshift;
	te = round_up(off + len, h->page) >> h->pshift;
	*first = wf > tf ? wf : tf;
	*end = we < te ? we : te;
	if (*end < *first)
		*end = *first;
}

static void
run_resize(struct heap *h, struct run *r, uint64_t start, uint64_t len)
{
	bin_remove(h, r);
	/* The new start stays between the neighbours: no reordering needed. */
	r->start = start;
	r->len = len;
	bin_insert(h, r);
}

static struct run *
run_new(struct heap *h, uint64_t start, uint64_t len)
{
	struct run *r = heap_meta_alloc(h, sizeof(*r));

	r->start = start;
	r->len = len;
	RB_INSERT(run_addr_tree, &h->runs, r);
	bin_insert(h, r);
	h->st.free_runs++;
	return r;
}

static void
run_delete(struct heap *h, struct run *r)
{
	bin_remove(h, r);
	RB_REMOVE(run_addr_tree, &h->runs, r);
	h->st.free_runs--;
	heap_meta_free(h, r, sizeof(*r));
}

struct run *
runs_find(struct heap *h, uint64_t start)
{
	struct run key = {.start = start};

	return RB_FIND(run_addr_tree, &h->runs, &key);
}

struct run *
runs_containing(struct heap *h, uint64_t off)
{
	struct run key = {.start = off + 1};
	struct run *r = RB_NFIND(run_addr_tree, &h->runs, &key);

	r = r ? RB_PREV(run_addr_tree, &h->runs, r)
	      : RB_MAX(run_addr_tree, &h->runs);
	if (r && off >= r->start && off - r->start < r->len)
		return r;
	return NULL;
}

static bool
run_fits(const struct run *r, uint64_t len, uint64_t align)
{
	uint64_t at = round_up(r->start, align);

	return at - r->start <= r->len && r->len - (at - r->start) >= len;
}

/*
 * Best fit for len bytes at the given alignment (a power of two >= g), or
 * NULL when no run can hold it.
 */
struct run *
runs_best_fit(struct heap *h, uint64_t len, uint64_t align)
{
	struct run key = {.len = len, .start = 0};
	uint64_t sure = len + (align - h->g);	/* any run this long fits */
	unsigned b;
	struct run *r;

	if (align <= h->g) {
		b = runs_bin_of(h, len);
		r = RB_NFIND(run_size_tree, &h->bin[b], &key);
		if (r)
			return r;
		b = bin_next_nonempty(h, b + 1);
		return b < NBINS ? RB_MIN(run_size_tree, &h->bin[b]) : NULL;
	}

	/* Aligned: first the smallest run that fits whatever its start ... */
	if (sure <= h->max_size) {
		key.len = sure;
		b = runs_bin_of(h, sure);
		r = RB_NFIND(run_size_tree, &h->bin[b], &key);
		if (!r) {
			b = bin_next_nonempty(h, b + 1);
			r = b < NBINS ? RB_MIN(run_size_tree, &h->bin[b]) : NULL;
		}
		if (r)
			return r;
	}
	/* ... then the shorter runs whose start happens to suit. */
	key.len = len;
	for (b = runs_bin_of(h, len); b < NBINS; b = bin_next_nonempty(h, b + 1)) {
		b = bin_next_nonempty(h, b);
		if (b >= NBINS)
			break;
		for (r = RB_NFIND(run_size_tree, &h->bin[b], &key); r;
		     r = RB_NEXT(run_size_tree, &h->bin[b], r)) {
			if (r->len >= sure)
				return NULL;	/* would have been found above */
			if (run_fits(r, len, align))
				return r;
		}
	}
	return NULL;
}

/*
 * Take [off, off + len) out of run r, which holds it.  What is left on
 * either side stays free.  The taken piece becomes one extent: its start bit
 * is set, and so is the start bit of a remainder after it.
 */
void
runs_take(struct heap *h, struct run *r, uint64_t off, uint64_t len)
{
	uint64_t x = r->start, y = r->start + r->len;
	uint64_t pf, pe;

	assert(off >= x && off + len <= y && len > 0);
	touched_pages(h, x, y, off, len, &pf, &pe);
	if (pe > pf)
		buddy_remove(h, pf, pe);

	h->st.free_bytes -= len;
	if (off > x && off + len < y) {
		run_resize(h, r, x, off - x);
		run_new(h, off + len, y - off - len);
		bm_set_start(h, off);
		bm_set_start(h, off + len);
	} else if (off > x) {
		run_resize(h, r, x, off - x);
		bm_set_start(h, off);
	} else if (off + len < y) {
		run_resize(h, r, off + len, y - off - len);
		bm_set_start(h, off + len);
	} else {
		run_delete(h, r);
	}
}

/*
 * Make [off, off + len) free, merging with the runs on both sides.  The
 * caller has cleared the live bits of what was there.  Returns in
 * [*new_first, *new_end) the pages that became wholly free.
 */
/*
 * The run that ends at off, if any.  The start bits usually name the
 * extent before off at once, and a live block there needs no tree lookup.
 */
static struct run *
run_ending_at(struct heap *h, uint64_t off)
{
	uint64_t prev;
	bool live;
	struct run *r;

	if (off == 0)
		return NULL;
	if (!bm_prev_start(h, off, &prev, &live))
		return runs_containing(h, off - 1);
	if (live)
		return NULL;
	r = runs_find(h, prev);
	return r && r->start + r->len == off ? r : NULL;
}

/* The run that starts at off, if any. */
static struct run *
run_starting_at(struct heap *h, uint64_t off)
{
	if (off >= h->max_size || bm_is_live(h, off))
		return NULL;
	return runs_find(h, off);
}

void
runs_give(struct heap *h, uint64_t off, uint64_t len, uint64_t *new_first,
	  uint64_t *new_end)
{
	struct run *left = run_ending_at(h, off);
	struct run *right = run_starting_at(h, off + len);
	uint64_t x = left ? left->start : off;
	uint64_t y = right ? right->start + right->len : off + len;

	h->st.free_bytes += len;
	if (left && right) {
		bm_clear_start(h, right->start);
		run_delete(h, right);
		run_resize(h, left, x, y - x);
	} else if (left) {
		run_resize(h, left, x, y - x);
	} else if (right) {
		bm_clear_start(h, right->start);
		run_resize(h, right, off, y - off);
	} else {
		run_new(h, off, len);
	}
	if (left)
		bm_clear_start(h, off);
	else
		bm_set_start(h, off);

	touched_pages(h, x, y, off, len, new_first, new_end);
	if (*new_end > *new_first)
		buddy_add(h, *new_first, *new_end);
}

void
runs_destroy(struct heap *h)
{
	struct run *r, *next;

	for (r = RB_MIN(run_addr_tree, &h->runs); r; r = next) {
		next = RB_NEXT(run_addr_tree, &h->runs, r);
		RB_REMOVE(run_addr_tree, &h->runs, r);
		heap_meta_free(h, r, sizeof(*r));
	}
}
