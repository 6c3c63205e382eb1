/*
 * heap_cache.c - freed small blocks kept for fast reuse.
 *
 * A freed block of 2 .. CACHE_GRANULES granules is parked on the LIFO of
 * its exact size instead of being merged into the runs: the next request of
 * that size takes it back in O(1), with no neighbour to look at and no bin
 * to update, and a recently freed block is likely still warm in the
 * clients' caches.
 *
 * A cached block is marked in the block map itself: its start bit is set,
 * its live bit is clear (so a second free of it is refused like any double
 * free), and the live bit of its second granule is set.  A run never has a
 * live bit inside it and a live block's second live bit belongs to its
 * slack, so the mark tells a cached block from a run and from a live block
 * in the one word both bits share (blocks whose first granule ends a word
 * are not cached).  A cached block whose live field, once it is live again,
 * would cross into the next word is taken back by the general path.
 *
 * Cached bytes are counted apart from both live and free bytes; a cached
 * block stays held (struct heap_counts), so that moving a block into or
 * out of its cache moves no count but the cache's own.  Bounds:
 * cache_limit blocks per size, and never more bytes than 1/16 of the live
 * bytes plus one page, so the cache cannot hold a noticeable share of a
 * pool.  Rule 4 holds because an allocation that finds no run flushes every
 * cache into the runs (merging as it goes) and tries again before it fails;
 * an allocation whose best run lies above the high-water mark does the same
 * before it raises the mark, so caches never make the pool touch more
 * memory (rule 5).
 * Push and pop are on the hot paths: they are inline, in heap_internal.h.
 */
#include <stdlib.h>

#include "heap_internal.h"

int
cache_init(struct heap *h)
{
	unsigned n;

	for (n = 1; n <= CACHE_GRANULES; n++) {
		struct block_cache *bc = &h->cache[n];
		uint64_t len = (uint64_t)n << h->gshift;

		bc->off = NULL;
		bc->count = 0;
		bc->room = (uint8_t)bm_room(h, len);
		bc->drop = (uint8_t)(h->slack_bits - bc->room);
		bc->cls = (uint8_t)heap_class_of(len);
	}
	/* Requests up to this size may be served by a cache. */
	h->cache_size_max = (uint64_t)CACHE_GRANULES << h->gshift;
	if (h->cache_size_max > h->threshold - 1)
		h->cache_size_max = h->threshold - 1;
	return 0;
}

/* The stack of one size, made at its first use. */
void *
cache_stack(struct heap *h, struct block_cache *bc)
{
	(void)bc;
	return heap_meta_alloc(h, h->cache_limit * sizeof(uint64_t));
}

/*
 * Merge every cached block into the runs.  Each gives back at most the
 * pages it frees: the flush, one call however many blocks it merges, then
 * cuts what the pool keeps over its bound once.  True when some page came
 * wholly free (while the retention is held, a cut is then due).
 */
bool
cache_flush(struct heap *h)
{
	bool freed = false;
	unsigned n;

	for (n = 2; n <= CACHE_GRANULES && h->st.cached_bytes; n++) {
		struct block_cache *bc = &h->cache[n];
		uint64_t len = (uint64_t)n << h->gshift, off = 0, pf, pe;

		while (bc->count) {
			cache_pop(h, len, &off);
			heap_held_out(h, len);
			runs_give(h, off, len, &pf, &pe);
			if (pe > pf) {
				dirty_retain_own(h, pf, pe);
				freed = true;
			}
		}
	}
	if (freed)	/* else nothing changed what the pool keeps */
		dirty_retain_fit(h);
	return freed;
}

/*
 * Merge the cached block at off into the runs, out of turn: a block growing
 * in place needs the room (rule 7: free space after it counts, cached or
 * not).  Linear in the blocks cached of its size, at most cache_limit.
 */
void
cache_release(struct heap *h, uint64_t off)
{
	struct chunk *c = bm_chunk_at(h, off);
	uint64_t len, gi = off >> h->gshift, pf, pe;
	struct block_cache *bc;
	uint32_t i;

	assert(c && bm_cached_in(h, c, off));
	len = cache_len(h, off);
	bc = &h->cache[len >> h->gshift];
	for (i = 0; i < bc->count && bc->off[i] != off; i++)
		;
	assert(i < bc->count);
	bc->off[i] = bc->off[--bc->count];
	LW(c, bm_word(h, off)) &= ~(2ull << (gi & 63));	/* the mark */
	h->st.cached_bytes -= len;
	heap_held_out(h, len);
	runs_give(h, off, len, &pf, &pe);
	if (pe > pf)
		dirty_retain_own(h, pf, pe);	/* one of many: no cut */
}

/* Debug: is off a cached block of len bytes?  Linear; for heap_check. */
bool
cache_holds(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t n = len >> h->gshift;
	uint32_t i;

	if (n < 2 || n > CACHE_GRANULES)
		return false;
	for (i = 0; i < h->cache[n].count; i++)
		if (h->cache[n].off[i] == off)
			return true;
	return false;
}

void
cache_destroy(struct heap *h)
{
	unsigned n;

	for (n = 2; n <= CACHE_GRANULES; n++)
		heap_meta_free(h, h->cache[n].off,
			       h->cache_limit * sizeof(uint64_t));
}
