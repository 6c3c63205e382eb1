/*
 * heap_stats.c - the statistics the engine derives when asked
 * (heap_get_stats, heap_get_class_stats) and its event counters saved and
 * restored across a restart in place (heap_events_*).
 *
 * The fast paths keep only the counters that cannot be derived (struct
 * heap_counts in heap_internal.h says which).  Everything else is a sum
 * over the cached sizes, the classes or the bins' summary words, never
 * over the blocks, so a call costs the same however many blocks there
 * are.  The sums are exact between calls: allocated bytes are what is
 * neither free nor cached (invariant 5), live blocks the held ones less
 * the caches' counts, allocations the sum of the classes', free runs the
 * bins' counts and the long runs (invariant 2: every short run counted in
 * its bin); heap_check verifies each of them against its walk.  A look
 * only, but for heap_events_restore.
 */
#include <errno.h>
#include <string.h>

#include "heap_internal.h"

/* The sizes of class i that have held counts: [*lo, *hi) granules. */
static void
class_sizes(const struct heap *h, unsigned i, unsigned *lo, unsigned *hi)
{
	*lo = *hi = 1;
	if (i < h->gshift || i - h->gshift > log2_floor(CACHE_GRANULES))
		return;
	*lo = 1u << (i - h->gshift);
	*hi = *lo * 2 < CACHE_GRANULES + 1 ? *lo * 2 : CACHE_GRANULES + 1;
}

static void
class_live(const struct heap *h, unsigned i, uint64_t *blocks,
	   uint64_t *bytes)
{
	unsigned k, lo, hi;

	*blocks = *bytes = 0;
	if (!heap_class_used(i))
		return;
	if (heap_class_live(h, i)) {
		*blocks = heap_cls_live(h, i)->blocks;
		*bytes = heap_cls_live(h, i)->bytes;
	}
	class_sizes(h, i, &lo, &hi);
	for (k = lo; k < hi; k++) {
		uint64_t live = h->held[k] - h->cache[k].count;

		*blocks += live;
		*bytes += live * ((uint64_t)k << h->gshift);
	}
}

static uint64_t
cached_blocks(const struct heap *h)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 2; k <= CACHE_GRANULES; k++)
		n += h->cache[k].count;
	return n;
}

static uint64_t
live_blocks(const struct heap *h)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 1; k <= CACHE_GRANULES; k++)
		n += h->held[k] - h->cache[k].count;
	for (k = CLASS_LONG; k <= h->cls_top; k++)
		n += heap_cls_live(h, k)->blocks;
	return n;
}

static uint64_t
all_allocs(const struct heap *h)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 0; k < CLASSES_USED; k++)
		n += h->cls_allocs[k];
	return n;
}

/* The free runs: the bins' counts and the long runs. */
static uint64_t
free_runs(const struct heap *h)
{
	uint64_t n = h->nlong;
	unsigned w;

	for (w = 0; w < SHORT_WORDS; w++) {
		uint64_t bits = h->sbin_nonempty[w];

		while (bits) {
			n += h->sbin[w * 64 + (unsigned)__builtin_ctzll(bits)]
				     .count;
			bits &= bits - 1;
		}
	}
	return n;
}

uint64_t
heap_allocated_bytes(const struct heap *h)
{
	return heap_allocated(h);
}

void
heap_get_stats(struct heap *h, struct heap_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->max_size = h->max_size;
	out->page_size = h->page;
	out->granularity = h->g;
	out->large_threshold = h->threshold;
	out->allocated_bytes = heap_allocated(h);
	out->requested_bytes = h->st.requested_bytes;
	out->live_blocks = live_blocks(h);
	out->cached_bytes = h->st.cached_bytes;
	out->cached_blocks = cached_blocks(h);
	out->free_bytes = h->st.free_bytes;
	out->free_runs = free_runs(h);
	out->resident_bytes = h->dirty_pages << h->pshift;
	out->released_bytes = h->st.released_bytes;
	out->free_resident_bytes = h->free_dirty << h->pshift;
	out->metadata_bytes = h->st.metadata_bytes;
	out->allocs = all_allocs(h);
	out->frees = h->st.frees;
	out->failed_allocs = h->st.failed_allocs;
	out->invalid_frees = h->st.invalid_frees;
	out->cache_hits = h->st.cache_hits;
	out->spans = h->st.spans;
	out->retain_bytes = h->retain_limit << h->pshift;
	out->retain_excess_bytes = dirty_retain_excess(h) << h->pshift;
	out->largest_free = heap_largest_free(h);
}

uint64_t
heap_largest_free(struct heap *h)
{
	unsigned w;

	if (h->nlong)
		return RB_MAX(lrun_size_tree, &h->lsize)->len;
	for (w = SHORT_WORDS; w-- > 0;)
		if (h->sbin_nonempty[w])
			return (uint64_t)(w * 64 + 63 -
			    (unsigned)__builtin_clzll(h->sbin_nonempty[w]))
			    << h->gshift;
	return 0;
}

void
heap_events_save(const struct heap *h, struct heap_events *ev)
{
	unsigned i;

	ev->allocs = all_allocs(h);
	ev->frees = h->st.frees;
	ev->cache_hits = h->st.cache_hits;
	for (i = 0; i < HEAP_NCLASSES; i++)
		ev->class_allocs[i] = heap_class_used(i)
					      ? heap_cls_allocs(h, i) : 0;
}

int
heap_events_check(const struct heap_events *ev)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < HEAP_NCLASSES; i++) {
		if (ev->class_allocs[i] && !heap_class_used(i))
			return -EINVAL;
		if (__builtin_add_overflow(sum, ev->class_allocs[i], &sum))
			return -EINVAL;
	}
	return sum == ev->allocs ? 0 : -EINVAL;
}

/* allocs is the sum of the classes' allocations, as heap_events_save says. */
void
heap_events_restore(struct heap *h, const struct heap_events *ev)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < HEAP_NCLASSES; i++) {
		sum += ev->class_allocs[i];
		if (heap_class_used(i))
			heap_cls_allocs(h, i) = ev->class_allocs[i];
		else	/* no block is in them */
			assert(ev->class_allocs[i] == 0);
	}
	assert(sum == ev->allocs);
	(void)sum;
	h->st.frees = ev->frees;
	h->st.cache_hits = ev->cache_hits;
}

int
heap_get_class_stats(struct heap *h, unsigned i, struct heap_class_stats *out)
{
	if (i >= HEAP_NCLASSES)
		return -EINVAL;
	out->min_size = 1ull << i;
	out->max_size = i < 63 ? (2ull << i) - 1 : UINT64_MAX;
	class_live(h, i, &out->live_blocks, &out->live_bytes);
	out->allocs = heap_class_used(i) ? heap_cls_allocs(h, i) : 0;
	return 0;
}
