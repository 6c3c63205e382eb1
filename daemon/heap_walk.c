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
 * heap_free_around looks both ways from a live block over the free space
 * next to it: forward as above; back, a run ending where it is (a run's
 * start from its record or the block map, heap_runs.c) or a cached block
 * (its start the last start bit before, at most a cache's largest block
 * away), until a live extent or the pool's start.  Runs are maximal, so
 * runs and cached blocks alternate: the steps each way are at most twice
 * the cached blocks met, plus two.
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

/* Where the free space ending at off begins: runs and cached blocks. */
static uint64_t
free_back_from(struct heap *h, uint64_t off)
{
	uint64_t reach = (uint64_t)CACHE_GRANULES << h->gshift, q;
	struct fit f;
	bool live;

	while (off > 0) {
		if (runs_ending_at(h, off, &f)) {
			off = f.start;
			continue;
		}
		q = bm_prev_start(h, off, off > reach ? off - reach : 0, &live);
		if (q == HEAP_OFF_NONE || live || !bm_cached(h, q))
			break;	/* a live block or span ends at off */
		assert(q + cache_len(h, q) == off);
		off = q;
	}
	return off;
}

/* Where the free space starting at off ends: the next live extent. */
static uint64_t
free_on_from(struct heap *h, uint64_t off)
{
	uint64_t len;

	while (off < h->top) {
		if (bm_is_live(h, off) || span_start(h, off))
			return off;
		if (!step_over(h, off, &len)) {
			assert(!"an extent neither live, cached, a run nor a span");
			return off;
		}
		assert(len > 0);
		off += len;
	}
	return h->max_size;	/* nothing above top is live (invariant 8) */
}

int
heap_free_around(struct heap *h, uint64_t off, uint64_t *start,
		 uint64_t *end)
{
	struct heap_block_info bi;
	int rc;

	if ((rc = heap_block_info(h, off, &bi)))
		return rc;
	*start = free_back_from(h, off);
	*end = free_on_from(h, off + bi.size);
	return 0;
}
