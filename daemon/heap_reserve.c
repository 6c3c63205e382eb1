/*
 * heap_reserve.c - a live block made where the owner says, not where a
 * placement would put it: the owner rebuilds a heap block by block after a
 * restart in place, from what heap_block_info told it of each block.
 *
 * The block must lie wholly in free space.  Free space is the runs and the
 * cached blocks (heap_cache.c): a cached block is free, only not merged, so
 * a reservation over one merges it into the runs first, as a block growing
 * in place does (heap_resize).  Refusing there would make the answer depend
 * on what the caches happen to hold, which the owner cannot see.  The look
 * comes first and changes nothing, so a refusal leaves the caches as they
 * were.  Once the block lies in one run it is taken from it exactly as an
 * allocation takes it (runs_take: the bins, the long runs' trees and the
 * buddy view follow), and gets what an allocation gives it: a span record
 * or a live field with its slack, the high-water mark, the counts, and its
 * pages marked dirty, so that a calloc reusing them after a free zeroes
 * them.  Only the event counters are left alone: the owner restores them.
 *
 * The owner rebuilding a heap after a restart starts fresh when memory
 * runs out, rather than die (pool_restore.c), so a reservation makes what
 * its block's books may need first, with allocations that may fail: room
 * on the bins' stacks for the pieces of the run left, the tree nodes (a
 * span's record, a dirty stretch, a long run's record and the buddy
 * blocks taking the block out leaves), and the chunks of the block map
 * its start bits and live field go in, with room in the map.  Any of them
 * refused, the call is -ENOMEM with no block made and the free space as it
 * was; what was made stays for later calls.  Merging cached blocks first,
 * and the cut after, are as fatal out of memory as in any other call: the
 * daemon's restore reserves into a fresh heap, which has no cached block.
 */
#include <errno.h>
#include <stdlib.h>

#include "heap_internal.h"

/* malloc for a book made ahead: NULL when there is no memory. */
__attribute__((noinline)) void *
meta_try_alloc(struct heap *h, size_t size)
{
	void *p = malloc(size);

	if (p)
		h->st.metadata_bytes += size;
	return p;
}

__attribute__((noinline)) void *
meta_try_realloc(struct heap *h, void *p, size_t old, size_t size)
{
	void *q = realloc(p, size);

	if (q)
		h->st.metadata_bytes += size - old;
	return q;
}

/* Up to need[k] spare nodes of each kind k, made now. */
static __attribute__((noinline)) int
stock_nodes(struct heap *h, const unsigned need[NODE_KINDS])
{
	unsigned k;

	for (k = 0; k < NODE_KINDS; k++) {
		while (h->nspare[k] < need[k]) {
			void *p = meta_try_alloc(h, 16 * (k + 1));

			if (!p)
				return -ENOMEM;
			heap_node_keep(h, p, k);
		}
	}
	return 0;
}

/*
 * What making the block [off, off + size) out of run f may allocate, made
 * now (the header comment): the run's books and the nodes, then the
 * chunks its bits go in, made empty (made[], *nmade: the caller drops
 * those its block left empty).  Made in that order, a refusal leaves no
 * empty chunk behind.
 */
static int
reserve_stock(struct heap *h, const struct fit *f, uint64_t off,
	      uint64_t size, bool span, struct chunk **made, unsigned *nmade)
{
	unsigned need[NODE_KINDS] = {0}, n = 0;
	uint64_t at[3];
	int rc;

	*nmade = 0;
	if ((rc = runs_take_stock(h, f, off, size, need)))
		return rc;
	if (span)
		need[NODE_KIND(sizeof(struct span))]++;
	need[NODE_KIND(sizeof(struct dirty))]++;
	if ((rc = stock_nodes(h, need)))
		return rc;
	/* The block's start bit and live field (slack_bits after it, within
	 * the block), and the start bit of the run left after it. */
	at[n++] = off;
	if (!span)
		at[n++] = off + (size - h->g < (uint64_t)h->slack_bits * h->g
					 ? size - h->g
					 : (uint64_t)h->slack_bits * h->g);
	if (off + size < f->start + f->len)
		at[n++] = off + size;
	return bm_make(h, at, n, made, nmade);
}

/*
 * Could the engine have made a block of this kind, size and request?  A
 * span is whole pages (splits and shrinks make spans of any number), and
 * asked for more than its length less a page (heap_split relies on it); a
 * small block is granules, at most the large threshold (a whole number of
 * granules: a request just under it rounds up to it), and asked for more
 * than its length less a granule (its slack bits hold less).
 */
static bool
reserve_valid(const struct heap *h, uint64_t off,
	      const struct heap_block_info *bi)
{
	uint64_t size = bi->size, req = bi->requested;
	uint64_t unit = bi->span ? h->page : h->g;

	if ((bi->span != 0 && bi->span != 1) || size == 0 || req == 0 ||
	    req > size)
		return false;
	if (off >= h->max_size || size > h->max_size - off ||
	    ((off | size) & (unit - 1)))
		return false;
	if (!bi->span && size > h->threshold)
		return false;
	return size - req < unit;
}

/* The cached block holding the byte at off: its start and length. */
static bool
cached_over(struct heap *h, uint64_t off, uint64_t *start, uint64_t *len)
{
	uint64_t reach = (uint64_t)CACHE_GRANULES << h->gshift;
	uint64_t top = off + h->g, p;
	bool live;

	if (h->st.cached_bytes == 0)
		return false;
	p = bm_prev_start(h, top, top > reach ? top - reach : 0, &live);
	if (p == HEAP_OFF_NONE || live || !bm_cached(h, p))
		return false;
	*start = p;
	*len = cache_len(h, p);
	return p + *len > off;
}

/* The length of the cached block starting at off, or 0. */
static uint64_t
cached_at(struct heap *h, uint64_t off)
{
	if (h->st.cached_bytes == 0 || off >= h->max_size ||
	    !bm_is_start(h, off) || bm_is_live(h, off) || !bm_cached(h, off))
		return 0;
	return cache_len(h, off);
}

/*
 * Is every byte of [off, end) free: runs and cached blocks, one after
 * another?  A look only.  Runs never touch, so every other extent passed
 * is a cached block: the walk is bounded by what the caches hold.
 * *cached: some of it is cached; if none is, one run holds it all, *f.
 */
static bool
reserve_is_free(struct heap *h, uint64_t off, uint64_t end, bool *cached,
		struct fit *f)
{
	uint64_t at, p, n;
	struct fit next;

	*cached = false;
	if (runs_containing(h, off, f))
		at = f->start + f->len;
	else if (cached_over(h, off, &p, &n))
		at = p + n, *cached = true;
	else
		return false;
	while (at < end) {
		if (runs_at(h, at, &next))
			at += next.len;
		else if ((n = cached_at(h, at)))
			at += n, *cached = true;
		else
			return false;
	}
	return true;
}

/*
 * Merge the cached blocks over [off, end), known to be free, into the
 * runs; then one run holds it all, which *f names.  The retention is held
 * meanwhile: the pages merged are about to be live again, and giving them
 * back first would be a hole punched for nothing.
 */
static void
reserve_uncache(struct heap *h, uint64_t off, uint64_t end, struct fit *f)
{
	bool hold = h->retain_hold;
	uint64_t p, n;

	h->retain_hold = true;
	if (cached_over(h, off, &p, &n))
		cache_release(h, p);
	for (;;) {
		if (!runs_containing(h, off, f))
			abort();	/* the look said it was free */
		if (f->start + f->len >= end)
			break;
		cache_release(h, f->start + f->len);
	}
	h->retain_hold = hold;
}

int
heap_reserve(struct heap *h, uint64_t off, const struct heap_block_info *bi)
{
	uint64_t size = bi->size, end = off + size, req = bi->requested;
	struct chunk *made[3];
	unsigned nmade;
	bool cached;
	struct fit f;

	if (!reserve_valid(h, off, bi))
		return -EINVAL;
	if (!reserve_is_free(h, off, end, &cached, &f))
		return -EBUSY;
	if (cached)
		reserve_uncache(h, off, end, &f);
	if (reserve_stock(h, &f, off, size, bi->span, made, &nmade)) {
		if (cached)	/* the merge's cut, as after a block */
			dirty_retain_fit_merged(h);
		return -ENOMEM;
	}
	runs_take(h, &f, off, size);
	if (bi->span) {
		spans_insert(h, off, size, req);
	} else {
		bm_set_live(h, off, size, size - req);
		req = size - bm_stored_slack(h, size, size - req);
	}
	if (end > h->top)
		h->top = end;
	heap_count_in(h, size, req);
	dirty_mark(h, off, size);
	/* A chunk under a live field whose bits there are all 0. */
	while (nmade)
		bm_drop_if_empty(h, made[--nmade]);
	/* The merged blocks' pages around the block may have joined what the
	 * pool keeps: one cut, as a cache flush makes. */
	if (cached)
		dirty_retain_fit_merged(h);
	return 0;
}
