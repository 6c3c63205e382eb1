/*
 * cache_class.c - the size classes of a cache (the "Structure" paragraph
 * of the design in cache.c).
 *
 * Each multiple of the granularity up to CACHE_SMALL_MAX is a class, then
 * four per doubling up to CACHE_MAX_BLOCK.  A request goes to the smallest
 * class that holds it (class_of), a block to the largest class not above
 * its usable size (class_of_block): so any block of a class serves any
 * request of it.  Up to small_max a class is a shift of the size; beyond,
 * a request's is read from a table of 128-byte steps.  Both are inline in
 * cache_internal.h, as every cached alloc and free asks.  This file makes
 * the classes, with that table and the reach of each class (the larger
 * classes an alloc may take a block from when its own is empty), once when
 * the cache is made, and finds a block's class beyond the small ones.
 *
 * Invariants: the sizes rise strictly and are multiples of the
 * granularity; there are at most CACHE_MAX_CLASSES; reach[c] is c or a
 * class at most CACHE_REACH above it, of at most twice its size.
 */
#include <stdint.h>

#include "cache_internal.h"

/* k's classes for granularity g, their table and their reach. */
void
cache_classes_make(struct cache *k, uint32_t g)
{
	uint64_t	s, base;
	unsigned	q, i, c;

	k->nclasses = 0;
	for (s = g; s <= CACHE_SMALL_MAX && s <= CACHE_MAX_BLOCK; s += g)
		k->size[k->nclasses++] = (uint32_t)s;
	for (base = CACHE_SMALL_MAX; base < CACHE_MAX_BLOCK; base *= 2) {
		for (q = 5; q <= 8; q++) {
			s = (base * q / 4 + g - 1) / g * g;
			if (s > CACHE_MAX_BLOCK)
				break;
			if (k->nclasses > 0 && s <= k->size[k->nclasses - 1])
				continue;
			if (k->nclasses == CACHE_MAX_CLASSES)
				break;
			k->size[k->nclasses++] = (uint32_t)s;
		}
	}
	k->small_max = g <= CACHE_SMALL_MAX ? CACHE_SMALL_MAX : 0;
	/* A few larger classes, up to twice the size: see alloc_reach. */
	for (c = 0; c < k->nclasses; c++) {
		for (i = c; i + 1 < k->nclasses && i + 1 - c <= CACHE_REACH &&
		    k->size[i + 1] <= 2 * (uint64_t)k->size[c]; i++)
			;
		k->reach[c] = (uint8_t)i;
	}
	/* lut_big[i]: the smallest class of at least i * 128 bytes. */
	for (i = 0, c = 0; i < sizeof k->lut_big; i++) {
		while (c < k->nclasses && k->size[c] < (uint64_t)i * 128)
			c++;
		k->lut_big[i] = (uint8_t)c;
	}
}

/* class_of_block beyond the small classes. */
int
cache_class_of_block_big(const struct cache *k, uint64_t usable)
{
	int	c;

	if (usable > CACHE_MAX_BLOCK || usable < k->size[0])
		return -1;
	if (usable >= k->size[k->nclasses - 1])
		return (int)k->nclasses - 1;
	if ((c = class_of(k, usable)) < 0)
		return -1;	/* not reached: size[0] <= usable < the last */
	if (k->size[c] > usable)
		c--;
	return c;
}
