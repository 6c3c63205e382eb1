/*
 * heap_walk.c - the live blocks in address order, for listings.
 *
 * The daemon lists a pool's blocks a page at a time (ListBlocks), each page
 * from an offset the last one ended at, while the pool keeps changing
 * between pages.  The engine keeps no list of blocks, but its extents tile
 * the pool (heap.c, invariant 1), so the blocks in address order are the
 * live extents met walking from one extent to the next.
 *
 * ALGORITHM
 *
 * From an offset, first the extent boundary at or after it: the offset
 * itself when an extent starts there; else the end of the extent over it,
 * a run (its length known from its bin or its record), a span (its record)
 * or a small live or cached block (the next start bit, at most the large
 * threshold away).  Then extent after extent: a live small block or a span
 * ends the walk; a run or a cached block is stepped over by its length.
 * Nothing above top (the high-water mark) is live (invariant 8), so the
 * walk ends there.
 *
 * COST
 *
 * Each step is O(1) on the block map or O(log n) in the long-run or span
 * tree; no step scans the bitmap across a run, however long (a run's
 * length comes from its record or its bin, never from the bits).  Runs
 * are maximal, so between two live blocks lie at most one run between
 * each pair of cached blocks: the steps to the next live block are at
 * most twice the cached blocks plus one, and the caller bounds them
 * (its steps), so that a walk over a pool of many cached blocks still answers
 * in bounded time and says where to go on.
 *
 * A look only: nothing changes, no statistic moves.
 */
#include <errno.h>

#include "heap_internal.h"

/*
 * The end of the extent over off, where no extent starts (off below top):
 * the next extent boundary after off.
 */
static uint64_t
extent_end_over(struct heap *h, uint64_t off)
{
	uint64_t limit = off + h->threshold + h->g;
	struct span *s;
	struct fit f;

	if (runs_containing(h, off, &f))
		return f.start + f.len;
	if ((s = spans_containing(h, off)))
		return s->start + s->len;
	/* A small block, live or cached: its end is near. */
	return bm_next_start(h, off, limit < h->max_size ? limit
							 : h->max_size);
}

/* The length of the extent at p, which starts there and is not live. */
static bool
step_over(struct heap *h, uint64_t p, uint64_t *len)
{
	struct fit f;

	if (runs_at(h, p, &f)) {
		*len = f.len;
		return true;
	}
	if (bm_cached(h, p)) {
		*len = cache_len(h, p);
		return true;
	}
	return false;
}

int
heap_next_block(struct heap *h, uint64_t *at, unsigned *steps)
{
	uint64_t p = *at, len;

	if (p >= h->top)
		return 0;
	p = round_up(p, h->g);
	if (p < h->top && !bm_is_start(h, p))
		p = extent_end_over(h, p);
	while (p < h->top) {
		if (*steps == 0) {
			*at = p;
			return -EAGAIN;
		}
		--*steps;
		if (bm_is_live(h, p) || span_start(h, p)) {
			*at = p;
			return 1;
		}
		if (!step_over(h, p, &len)) {
			assert(!"an extent neither live, cached, a run nor a span");
			return 0;
		}
		assert(len > 0);
		p += len;
	}
	return 0;
}
