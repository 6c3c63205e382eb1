/*
 * heap_dirty.c - which pages may hold data, and giving free ones back.
 *
 * A page is dirty from the moment any part of it is handed out until the
 * owner releases it (punches a hole in the memfd).  Pages never handed out,
 * or released since, read as zero: calloc zeroes only the dirty part of a
 * block, and the resident estimate is the dirty page count.
 *
 * Dirty pages are kept as disjoint, non-touching intervals in a red-black
 * tree, so the cost follows the number of dirty stretches, not the pool size.
 * Most allocations land in the stretch the previous one marked (the used
 * part of a pool is usually one stretch), so that stretch is remembered and
 * checked first.
 *
 * Release policy, when pages become wholly free:
 *   - from a page span (a large block): released at once;
 *   - from small blocks: queued, and released oldest first once more
 *     free dirty pages wait than the bound, the larger of retain_limit
 *     (default 256) and a quarter of the live pages.  The free dirty pages
 *     are counted exactly (free_dirty: heap_runs.c moves whole pages in and
 *     out as runs grow and shrink, dirty_mark and the releases here keep
 *     it to the dirty ones), so pages handed out again, or only partly
 *     live, never push free ones out.
 *     Churning small blocks then reuse warm pages instead of faulting fresh
 *     zero pages in and punching them out again, and the bound grows with
 *     the pool's working set: a fixed one made a pool with megabytes of
 *     churning blocks punch holes on most frees of a page.
 *     The bound falls as fast as it grows: freeing (or shrinking) a big
 *     block takes a quarter of its pages off it at once, and the pages
 *     kept for it are then too many by as much (a 3 GiB span freed gave
 *     back 767 MiB of kept pages in that one call, 0.23 s of punching).
 *     So a call gives back at most what it freed itself and cut_pages
 *     more, looking at RETAIN_LOOKS queued ranges at most: later frees,
 *     heap_retain_step, or a trim give back the rest.
 *     Even its own pages are too many when one request frees thousands
 *     of blocks (4096 pages punched one by one: 19 ms): while the owner
 *     holds (retain_hold), frees only queue their pages, the ring
 *     growing past its bound as it must, and heap_retain_step gives them
 *     back later, the bound's excess like any other.
 * heap_trim releases everything free at once.
 */
#include <limits.h>
#include <stdlib.h>

#include "heap_internal.h"

static int
dirty_cmp(struct dirty *a, struct dirty *b)
{
	return a->first < b->first ? -1 : a->first > b->first;
}

RB_GENERATE(dirty_tree, dirty, link, dirty_cmp)

/*
 * The interval with the greatest first <= page, or NULL.  One descent that
 * keeps the last node not past page: RB_NFIND and a step back (RB_PREV,
 * or RB_MAX) walked the tree twice, on every allocation the hint misses.
 * A stretch that holds page ends it: the stretches are disjoint, so no
 * other can start after its first and at or before page.
 */
static struct dirty *
dirty_at_or_before(struct heap *h, uint64_t page)
{
	struct dirty *d = RB_ROOT(&h->dirty), *best = NULL;

	while (d) {
		if (d->first <= page) {
			if (page < d->end)
				return d;
			best = d;
			d = RB_RIGHT(d, link);
		} else {
			d = RB_LEFT(d, link);
		}
	}
	return best;
}

/* The first stretch that ends after page first, or NULL. */
static struct dirty *
dirty_from(struct heap *h, uint64_t first)
{
	struct dirty *d = dirty_at_or_before(h, first);

	if (!d || d->end <= first)
		d = d ? RB_NEXT(dirty_tree, &h->dirty, d)
		      : RB_MIN(dirty_tree, &h->dirty);
	return d;
}

static void
dirty_delete(struct heap *h, struct dirty *d)
{
	if (h->dirty_hint == d)
		h->dirty_hint = NULL;
	RB_REMOVE(dirty_tree, &h->dirty, d);
	heap_node_free(h, d, sizeof(*d));
}

/*
 * dirty_mark_slow when no stretch covers the pages [first, end): d, the
 * stretch before them (or NULL), grows over them, or a new one is made,
 * and the stretches it then touches are swallowed.  Out of line, so that
 * the common case, a stretch the hint missed that covers the block
 * already, saves no registers.
 */
static __attribute__((noinline)) void
dirty_extend(struct heap *h, struct dirty *d, uint64_t first, uint64_t end)
{
	uint64_t before = h->dirty_pages;
	struct dirty *next;

	if (d && d->end >= first) {
		h->dirty_pages -= d->end - d->first;
	} else {
		d = heap_node_alloc(h, sizeof(*d));
		d->first = first;
		d->end = first;
		RB_INSERT(dirty_tree, &h->dirty, d);
	}
	/* Swallow the intervals that now touch or overlap. */
	while ((next = RB_NEXT(dirty_tree, &h->dirty, d)) && next->first <= end) {
		if (next->end > end)
			end = next->end;
		h->dirty_pages -= next->end - next->first;
		dirty_delete(h, next);
	}
	d->end = end;
	h->dirty_pages += d->end - d->first;
	h->dirty_hint = d;
	/*
	 * The pages that were clean were wholly free (anything handed out is
	 * dirty): taking them from their run counted them out of free_dirty
	 * as if dirty (free_dirty_take), so they come back in here.
	 */
	h->free_dirty += h->dirty_pages - before;
}

/* dirty_mark when the remembered stretch does not cover the block. */
void
dirty_mark_slow(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t first = off >> h->pshift;
	uint64_t end = round_up(off + len, h->page) >> h->pshift;
	struct dirty *d = dirty_at_or_before(h, first);

	if (d && d->end >= end) {
		h->dirty_hint = d;
		return;
	}
	dirty_extend(h, d, first, end);
}

/*
 * The pages [a, b) of the dirty stretch d (which holds them) were released:
 * d shrinks, splits or goes.  Returns the stretch after the hole, if any.
 */
static struct dirty *
dirty_cut(struct heap *h, struct dirty *d, uint64_t a, uint64_t b)
{
	struct dirty *next = RB_NEXT(dirty_tree, &h->dirty, d);

	assert(d->first <= a && a < b && b <= d->end);
	h->dirty_pages -= b - a;
	if (d->first < a && d->end > b) {
		struct dirty *tail = heap_node_alloc(h, sizeof(*tail));

		tail->first = b;
		tail->end = d->end;
		d->end = a;
		RB_INSERT(dirty_tree, &h->dirty, tail);
		return tail;
	}
	if (d->first < a)
		d->end = a;
	else if (d->end > b)
		d->first = b;	/* order unchanged */
	else
		dirty_delete(h, d);
	return next;
}

/* calloc: zero the part of [off, off + len) that lies on dirty pages. */
void
dirty_zero(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t first = off >> h->pshift;
	uint64_t end = round_up(off + len, h->page) >> h->pshift;
	struct dirty *d = dirty_from(h, first);

	for (; d && d->first < end; d = RB_NEXT(dirty_tree, &h->dirty, d)) {
		uint64_t a = d->first << h->pshift, b = d->end << h->pshift;

		if (a < off)
			a = off;
		if (b > off + len)
			b = off + len;
		if (a < b && h->cfg.zero)
			h->cfg.zero(h->cfg.ctx, a, b - a);
	}
}

/*
 * How many of the pages [first, end) are dirty.  For heap_check, and for
 * the cut after a merge before a block's pages are marked.
 */
uint64_t
dirty_pages_in(struct heap *h, uint64_t first, uint64_t end)
{
	struct dirty *d = dirty_from(h, first);
	uint64_t n = 0;

	for (; d && d->first < end; d = RB_NEXT(dirty_tree, &h->dirty, d))
		n += (d->end < end ? d->end : end) -
		     (d->first > first ? d->first : first);
	return n;
}

/*
 * The dirty pages among [first, end), all of them free, are released: by
 * the owner now through cfg->release, or (owner_done) already, by the owner
 * on its own while they were still a live span's.
 */
static void
release_dirty(struct heap *h, uint64_t first, uint64_t end, bool owner_done)
{
	struct dirty *d = dirty_from(h, first), *next;

	for (; d && d->first < end; d = next) {
		uint64_t a = d->first > first ? d->first : first;
		uint64_t b = d->end < end ? d->end : end;

		if (!owner_done && h->cfg.release &&
		    h->cfg.release(h->cfg.ctx, a << h->pshift,
				   (b - a) << h->pshift) != 0) {
			next = RB_NEXT(dirty_tree, &h->dirty, d);
			continue;	/* the pages stay dirty */
		}
		h->st.released_bytes += (b - a) << h->pshift;
		h->free_dirty -= b - a;
		next = dirty_cut(h, d, a, b);
	}
}

void
dirty_release_now(struct heap *h, uint64_t first, uint64_t end)
{
	release_dirty(h, first, end, false);
}

void
dirty_forget(struct heap *h, uint64_t first, uint64_t end)
{
	release_dirty(h, first, end, true);
}

/*
 * Which of the pages [first, end) are still wholly free: a page is, when no
 * extent starts inside it (after its first byte) and the extent over it is
 * a run.  The walk goes page by page where extents start inside pages, and
 * jumps over an extent that covers whole pages to its end, so a long run
 * or a large block costs one look, not one per page.  With release, each
 * run's whole pages go back together.  Returns whether any page is free;
 * without release it stops at the first.
 */
static bool
free_pages_in(struct heap *h, uint64_t first, uint64_t end, bool release)
{
	uint64_t p = first, lim = end << h->pshift, gend = lim >> h->gshift;
	bool any = false;

	while (p < end) {
		uint64_t at = p << h->pshift, gi = at >> h->gshift, next;
		/* One lookup of the page's chunk serves both searches. */
		const struct chunk *c = bm_chunk(h, gi >> CHUNK_SHIFT);
		uint64_t f = bm_next_start_in(h, c, gi, gend);

		next = f < gend ? f << h->gshift : lim;
		if (next < at + h->page) {
			p++;	/* another extent starts inside the page */
			continue;
		}
		/* The extent over the page covers the pages up to next. */
		if (runs_cover_in(h, c, at)) {
			if (!release)
				return true;
			any = true;
			dirty_release_now(h, p, next >> h->pshift);
		}
		p = next >> h->pshift;
	}
	return any;
}

static void
release_if_free(struct heap *h, uint64_t first, uint64_t end)
{
	free_pages_in(h, first, end, true);
}

/* The ring slot i entries after the oldest (the ring's size is a power of
 * two: 8, doubled and halved). */
static inline unsigned
retain_slot(const struct heap *h, unsigned i)
{
	assert(h->retain_cap && !(h->retain_cap & (h->retain_cap - 1)));
	return (h->retain_head + i) & (h->retain_cap - 1);
}

/* How many pages the queue may hold now. */
static uint64_t
retain_bound(const struct heap *h)
{
	uint64_t share = (heap_allocated(h) >> h->pshift) / RETAIN_SHARE;

	if (h->retain_limit == 0)
		return 0;	/* HEAP_RETAIN_NONE: nothing waits */
	return share > h->retain_limit ? share : h->retain_limit;
}

/*
 * Is the pool over its bound?  free_dirty is exact: the dirty pages that
 * lie wholly in free runs, the pages the queue exists to give back.  A
 * queued range that was handed out again, or a page only partly live,
 * does not count, so pages about to be reused are not pushed out by them.
 */
static bool
retain_over(const struct heap *h, uint64_t bound)
{
	return h->free_dirty > bound;
}

/* The oldest retained entry leaves the queue; its free pages go back. */
static void
retain_pop(struct heap *h)
{
	unsigned slot = h->retain_head;
	uint64_t first = h->retain[slot].first, end = h->retain[slot].end;

	h->retain_head = retain_slot(h, 1);
	h->retain_count--;
	release_if_free(h, first, end);
}

/* Move the queue into a ring of cap entries (cap >= retain_count). */
static void
retain_resize(struct heap *h, unsigned cap)
{
	struct retained *r = NULL;
	unsigned i;

	assert(cap >= h->retain_count);
	if (cap)
		r = heap_meta_alloc(h, cap * sizeof(*r));
	for (i = 0; i < h->retain_count; i++)
		r[i] = h->retain[retain_slot(h, i)];
	heap_meta_free(h, h->retain, h->retain_cap * sizeof(*r));
	h->retain = r;
	h->retain_cap = cap;
	h->retain_head = 0;
}

/*
 * Room for one more entry, the pages [first, end).  A full ring, while the
 * pool is within its bound, looks at up to RETAIN_RECYCLE of its oldest
 * entries: one with a free page goes to the back, a stale one (every page
 * handed out again) is dropped and makes the room, and so is one that the
 * new entry covers (a block freed again: its old entry would otherwise
 * look free and push a truly free range out).  Only if none is stale does
 * the ring grow, doubling until it has room for retain_bound entries (16
 * bytes per page it may keep, 0.4 % of them; the ring's size stays a power
 * of two); at that size the oldest entry goes now, which releases what of
 * it is still free.
 */
static void
retain_make_room(struct heap *h, uint64_t first, uint64_t end)
{
	uint64_t bound = retain_bound(h);
	unsigned k;

	if (h->retain_count < h->retain_cap)
		return;
	for (k = 0; k < RETAIN_RECYCLE && h->retain_count > 0 &&
		    !retain_over(h, bound); k++) {
		struct retained r = h->retain[h->retain_head];

		/* A full ring: moving the head moves the oldest to the back. */
		h->retain_head = retain_slot(h, 1);
		if ((first <= r.first && r.end <= end) ||
		    !free_pages_in(h, r.first, r.end, false)) {
			h->retain_count--;	/* stale: dropped */
			return;
		}
	}
	/* Held (heap_set_retain_hold): nothing may go now, so the ring grows. */
	if (h->retain_count == 0 ||
	    ((h->retain_hold || h->retain_cap < bound) &&
	     h->retain_cap < 1u << 30))
		retain_resize(h, h->retain_cap ? h->retain_cap * 2 : 8);
	else
		retain_pop(h);	/* the oldest entry goes out now */
}

/*
 * Release the oldest queued ranges while the pool is over its bound, until
 * max_pages have gone back (the last range may take it past them by its
 * own pages) or RETAIN_LOOKS ranges, and more_looks, were looked at: the
 * bound may have fallen by gigabytes, and one call must not give all of
 * them back.  A ring three quarters empty is halved, so that its size
 * follows the live set down as well as up.  True while the pool is over
 * its bound with ranges queued: a later cut has work.  Inline: every free
 * of a page of small blocks comes here.
 */
static inline bool
retain_cut(struct heap *h, uint64_t max_pages, unsigned more_looks)
{
	uint64_t bound = retain_bound(h), before = h->free_dirty;
	/*
	 * A cut that may take every page of the pool (retain_cut "no
	 * limit": the owner wants it all at once) is not bounded in ranges
	 * either.
	 */
	unsigned looks = 0, max_looks = max_pages >= h->npages
						? UINT_MAX
						: RETAIN_LOOKS + more_looks;

	assert(max_pages > 0);
	/* Releases only lower free_dirty: before - free_dirty is given back. */
	while (h->retain_count > 0 && retain_over(h, bound) &&
	       before - h->free_dirty < max_pages && looks++ < max_looks)
		retain_pop(h);
	if (h->retain_cap > 8 && h->retain_count <= h->retain_cap / 4)
		retain_resize(h, h->retain_cap / 2);
	return h->retain_count > 0 && retain_over(h, bound);
}

bool
dirty_retain_cut(struct heap *h, uint64_t max_pages)
{
	return retain_cut(h, max_pages, 0);
}

/* A cut of what one call may give back beyond what it freed itself. */
void
dirty_retain_fit(struct heap *h)
{
	if (!h->retain_hold)
		retain_cut(h, h->cut_pages, 0);
}

/*
 * The newest queued entries leave the queue, their free pages going back,
 * while the pool is over its bound, until max_pages have gone back (the
 * last range may take it past them) or looks entries were looked at.
 */
static void
retain_cut_newest(struct heap *h, uint64_t max_pages, unsigned looks)
{
	uint64_t bound = retain_bound(h), before = h->free_dirty;

	while (looks-- > 0 && h->retain_count > 0 && retain_over(h, bound) &&
	       before - h->free_dirty < max_pages) {
		const struct retained *r =
			&h->retain[retain_slot(h, h->retain_count - 1)];

		h->retain_count--;
		release_if_free(h, r->first, r->end);
	}
}

/*
 * dirty_retain_fit once a hold over a merge of cached blocks is over: the
 * pages the merge freed meanwhile are the call's own, so they go back too,
 * and the pool is within its bound again when they have (a merge takes
 * nothing off the bound: cached blocks are not live).  The looks grow
 * with the ranges the merge queued, so the work stays what queueing them
 * cost.  Apart from dirty_retain_fit, which every span's free makes.
 *
 * The cut takes the oldest ranges first, and more than RETAIN_LOOKS
 * stale ones (pages handed out again) may sit ahead of the merge's: it
 * then stopped with the merge's pages all kept, over the bound.  Those
 * are the newest entries, so the rest of the call's budget goes to them,
 * newest first: as many entries as the merge queued, and RETAIN_RECYCLE
 * more for one that an entry queued just before covered (retain_queued).
 * The work stays what queueing them cost, and the pool within its bound.
 */
void
dirty_retain_fit_merged(struct heap *h)
{
	uint64_t pages = h->merged_pages, max = h->cut_pages + pages;
	uint64_t before = h->free_dirty;
	unsigned ranges = h->merged_ranges;

	if (h->retain_hold)
		return;
	h->merged_pages = 0;
	h->merged_ranges = 0;
	if (retain_cut(h, max, ranges) && before - h->free_dirty < max)
		retain_cut_newest(h, max - (before - h->free_dirty),
				  ranges + RETAIN_RECYCLE);
}

/*
 * dirty_retain_fit_merged for an allocation whose block [off, off + len)
 * is live but not marked yet (calloc zeroes what was dirty first): until
 * the marking, free_dirty counts the block's clean pages as dirty ones
 * taken out (free_dirty_take), and a cut then saw the pool keep that many
 * pages fewer than it does, and left as many kept past the bound.  They
 * count for the cut as the marking counts them back.
 */
void
dirty_retain_fit_unmarked(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t first = off >> h->pshift;
	uint64_t end = round_up(off + len, h->page) >> h->pshift;
	uint64_t clean = end - first - dirty_pages_in(h, first, end);

	h->free_dirty += clean;
	dirty_retain_fit_merged(h);
	h->free_dirty -= clean;
}

/* Pages kept over the bound (heap_get_stats); 0 when none is queued. */
uint64_t
dirty_retain_excess(const struct heap *h)
{
	uint64_t bound = retain_bound(h);

	return h->retain_count > 0 && retain_over(h, bound)
		       ? h->free_dirty - bound : 0;
}

/*
 * Are the pages [first, end) in one of the newest entries already?  A
 * block freed and handed out again over and over would otherwise fill the
 * ring with one page.
 */
static bool
retain_queued(const struct heap *h, uint64_t first, uint64_t end)
{
	unsigned k, n = h->retain_count < RETAIN_RECYCLE ? h->retain_count
							 : RETAIN_RECYCLE;
	unsigned slot = h->retain_head + h->retain_count;

	if (n == 0)
		return false;
	/* retain_slot's check, made once for the walk back from the newest. */
	assert(h->retain_cap && !(h->retain_cap & (h->retain_cap - 1)));
	for (k = 0; k < n; k++) {
		const struct retained *r =
			&h->retain[--slot & (h->retain_cap - 1)];

		if (r->first <= first && end <= r->end)
			return true;
	}
	return false;
}

/*
 * Pages [first, end) of small blocks became free: queue them, and release
 * the oldest while over the bound, as many pages as these and cut_pages
 * more: a free gives back its own pages, and a part of what the bound fell
 * by.
 */
void
dirty_retain(struct heap *h, uint64_t first, uint64_t end)
{
	if (!retain_queued(h, first, end)) {
		unsigned slot;

		retain_make_room(h, first, end);
		slot = retain_slot(h, h->retain_count);
		h->retain[slot].first = first;
		h->retain[slot].end = end;
		h->retain_count++;
	}
	if (!h->retain_hold)
		retain_cut(h, end - first + h->cut_pages, 0);
}

/*
 * dirty_retain for one block of many that one call frees (a cache flush):
 * no more than its own pages go back, and the call ends with one
 * dirty_retain_fit, so that its cut stays one cut_pages.  (cut_pages is
 * lent out for the one call rather than passed: dirty_retain is on the
 * path of every free.)
 */
void
dirty_retain_own(struct heap *h, uint64_t first, uint64_t end)
{
	uint64_t cut = h->cut_pages;

	h->cut_pages = 0;
	dirty_retain(h, first, end);
	h->cut_pages = cut;
	if (h->retain_hold) {	/* for the cut after the hold */
		h->merged_pages += end - first;
		h->merged_ranges++;
	}
}

/* heap_trim, for each run: release its dirty whole pages; go on while any
 * free dirty page is left. */
static bool
release_run_pages(struct heap *h, uint64_t start, uint64_t len)
{
	uint64_t first = round_up(start, h->page) >> h->pshift;
	uint64_t end = (start + len) >> h->pshift;

	if (end > first)
		dirty_release_now(h, first, end);
	return h->free_dirty > 0;
}

/*
 * heap_trim: release every dirty page that is wholly free.  Free dirty
 * pages lie in runs of a page or more, so those are visited, not the
 * dirty pages: the cost follows the free runs, not the resident memory.
 * Returns bytes.
 */
uint64_t
dirty_release_all_free(struct heap *h)
{
	uint64_t before = h->st.released_bytes;

	h->retain_count = 0;
	retain_resize(h, 0);
	if (h->free_dirty)
		runs_each(h, h->page, release_run_pages);
	return h->st.released_bytes - before;
}

/*
 * heap_trim_step, for one run: release its dirty whole pages, within what
 * the step may still release; false when the step is spent, with the
 * cursor moved back to the first page left of a long run.  A short run,
 * SHORT_MAX granules at most, goes back whole, every dirty stretch of it:
 * the cursor is past it already, and a stretch left would be missed by
 * the whole trim.  A page whose release fails stays dirty and is not
 * looked at again in this trim.
 */
static bool
trim_run_pages(struct heap *h, uint64_t start, uint64_t len)
{
	uint64_t p = round_up(start, h->page) >> h->pshift;
	uint64_t end = (start + len) >> h->pshift;
	bool cut = h->trim_at.bin == 0;
	struct dirty *d;

	while (p < end && (d = dirty_from(h, p)) && d->first < end) {
		uint64_t a = d->first > p ? d->first : p;
		uint64_t b = d->end < end ? d->end : end;

		if (cut && b - a > h->trim_pages)
			b = a + h->trim_pages;
		dirty_release_now(h, a, b);
		h->trim_pages -= b - a < h->trim_pages ? b - a : h->trim_pages;
		p = b;
		if (cut && h->trim_pages == 0) {
			if (p < end)
				h->trim_at.off = p << h->pshift;
			return false;
		}
	}
	return h->trim_pages > 0;
}

/*
 * One step of a stepped trim: up to max_pages dirty free pages (at least
 * one) released, looking at no more than TRIM_RUNS runs, from where the
 * last step stopped: the runs it passes over count too (those shorter
 * than a page, stale bin entries).  True while runs are left to look at.
 */
bool
dirty_trim_step(struct heap *h, uint64_t max_pages)
{
	uint64_t looks = TRIM_RUNS;

	h->trim_pages = max_pages ? max_pages : 1;
	return !runs_each_from(h, h->page, &h->trim_at, &looks,
			       trim_run_pages);
}

void
dirty_destroy(struct heap *h)
{
	heap_meta_free(h, h->retain, h->retain_cap * sizeof(*h->retain));
	struct dirty *d, *next;

	for (d = RB_MIN(dirty_tree, &h->dirty); d; d = next) {
		next = RB_NEXT(dirty_tree, &h->dirty, d);
		dirty_delete(h, d);
	}
}
