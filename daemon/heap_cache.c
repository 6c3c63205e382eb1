/*
 * heap_cache.c - freed small blocks kept for fast reuse.
 *
 * A freed block of up to CACHE_GRANULES granules is parked on the LIFO of its
 * exact size instead of being merged into the runs: the next request of that
 * size takes it back in O(1), and a recently freed block is likely still warm
 * in the clients' caches.  A cached block keeps its start bit, has its live
 * bit clear (so a second free of it is refused like any double free) and is
 * counted apart from both live and free bytes.
 *
 * Bounds: cache_limit blocks per size, and never more bytes than 1/16 of the
 * live bytes plus one page, so the cache cannot hold a noticeable share of a
 * pool.  Rule 4 holds because an allocation that finds no run flushes every
 * cache into the runs (merging as it goes) and tries again before it fails.
 */
#include <stdlib.h>

#include "heap_internal.h"

int
cache_init(struct heap *h)
{
	unsigned n;

	if (h->cache_limit == 0)
		return 0;
	for (n = 1; n <= CACHE_GRANULES; n++)
		h->cache[n].off = heap_meta_alloc(h, h->cache_limit *
						  sizeof(uint64_t));
	return 0;
}

static bool
cache_has_room(const struct heap *h, uint64_t len)
{
	return h->st.cached_bytes + len <=
	       h->st.allocated_bytes / 16 + h->page;
}

/* Park a block that was just taken out of the live set. */
bool
cache_push(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t n = len >> h->gshift;
	struct block_cache *c;

	if (h->cache_limit == 0 || n > CACHE_GRANULES)
		return false;
	c = &h->cache[n];
	if (c->count == h->cache_limit || !cache_has_room(h, len))
		return false;
	c->off[c->count++] = off;
	h->st.cached_bytes += len;
	h->st.cached_blocks++;
	return true;
}

bool
cache_pop(struct heap *h, uint64_t len, uint64_t *off)
{
	uint64_t n = len >> h->gshift;
	struct block_cache *c;

	if (h->cache_limit == 0 || n > CACHE_GRANULES)
		return false;
	c = &h->cache[n];
	if (c->count == 0)
		return false;
	*off = c->off[--c->count];
	h->st.cached_bytes -= len;
	h->st.cached_blocks--;
	return true;
}

/* Merge every cached block into the runs. */
void
cache_flush(struct heap *h)
{
	unsigned n;

	for (n = 1; n <= CACHE_GRANULES && h->st.cached_blocks; n++) {
		struct block_cache *c = &h->cache[n];
		uint64_t len = (uint64_t)n << h->gshift;

		while (c->count) {
			uint64_t off = c->off[--c->count], pf, pe;

			h->st.cached_bytes -= len;
			h->st.cached_blocks--;
			runs_give(h, off, len, &pf, &pe);
			if (pe > pf)
				dirty_retain(h, pf, pe);
		}
	}
}

/* Debug: is off a cached block of len bytes?  Linear; for heap_check. */
bool
cache_holds(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t n = len >> h->gshift;
	uint32_t i;

	if (h->cache_limit == 0 || n > CACHE_GRANULES)
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

	if (h->cache_limit == 0)
		return;
	for (n = 1; n <= CACHE_GRANULES; n++)
		heap_meta_free(h, h->cache[n].off,
			       h->cache_limit * sizeof(uint64_t));
}
