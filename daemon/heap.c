/*
 * heap.c - the poolmgr allocator engine: policy, and the public API's
 * making and ending of a heap, allocation, free, trim and retention.
 *
 * ALGORITHM
 *
 * The pool [0, max_size) is tiled by extents: free runs, live small blocks,
 * cached small blocks and page spans.  No byte of the pool holds metadata;
 * everything below lives in daemon memory.
 *
 *   heap_blockmap.c start and live bits: the extents and small-block sizes
 *   heap_runs.c     free runs: short ones in bins by length (no record),
 *                   long ones in trees; best fit, split, coalesce
 *   heap_cache.c    freed small blocks kept for O(1) reuse
 *   heap_buddy.c    the buddy view: whole free units as 2^k-page blocks
 *   heap_spans.c    records of page spans (blocks >= the large threshold)
 *   heap_dirty.c    pages that may hold data; release and known-zero
 *   heap_reserve.c  a block made where the owner says (a restored heap)
 *   heap_walk.c     the live blocks in address order (listings)
 *   heap_resize.c   blocks that grow, shrink, move or split in two; the
 *                   looks at one live block
 *   heap_stats.c    the statistics, derived when asked; the saved events
 *   heap_check.c    the invariant walk
 *
 * A small request (below the large threshold, default 128 KiB) rounds up to
 * the granularity and takes a cached block of its exact size, or else the
 * best-fitting run.  A large request rounds up to whole pages and asks the
 * buddy for the lowest block of the smallest order that holds it, taking
 * only the pages it needs (the rest of the block stays free); when the
 * buddy has no such block the runs find any that can hold the aligned span.
 * The commonest calls (a block into or out of its cache, its live field in
 * one bitmap word and its end in that word or the next) have straight-line
 * fast paths below; everything else goes through the general ones.
 *
 * INVARIANTS (heap_check verifies all of them)
 *   1. Extents tile [0, max_size); each starts with its start bit set and no
 *      other start bit is set; chunk counts and summary words match, and
 *      no chunk is kept empty.
 *   2. Runs are maximal (never touch); each short run is counted in the bin
 *      of its length and has an entry there, each long run is in both trees.
 *   3. The buddy blocks are exactly the maximal aligned decomposition of the
 *      whole units of the runs.
 *   4. Cached blocks carry their mark and are on the stack of their size;
 *      their pages are dirty.
 *   5. allocated + cached + free bytes == max_size (allocated_bytes is
 *      derived so), and the counters match the extents.
 *   6. The dirty stretches are disjoint and count the dirty pages.
 *   7. The hints (the chunk directory's front table, the smallest and the
 *      last long run, the bins' summary words, the mask of non-empty buddy
 *      orders, the remembered dirty stretch) say only what is true.
 *   8. No block or cached block ends above top, the high-water mark.
 *   9. free_dirty is the number of dirty pages that lie wholly in runs; the
 *      retention queue's entries are page ranges inside the pool.
 *
 * GUARANTEES
 *   - A request fails with -ENOMEM only when no run can hold it, after the
 *     caches have been merged back into the runs (rule 4 of the design).
 *   - A request raises the high-water mark (top) only when no run below it
 *     can hold it, again after merging the caches: caches cost no space.
 *   - A failed call changes nothing.
 *   - A cached block, or a block freed next to live blocks, costs O(1) word
 *     operations; anything touching a long run, a span or a dirty stretch
 *     is O(log n) in their numbers; nothing walks all blocks except
 *     heap_check (heap_trim visits the cached blocks and the free runs of
 *     a page or more; heap_trim_step at most 1024 runs per step, those
 *     it passes over counted too).
 *   - No call gives back more pages than it freed itself and retain_cut
 *     bytes of kept ones (and one queued range), however far the
 *     retention bound fell; heap_retain_step gives back the rest.  The
 *     pages a merge of the caches freed while held for a call are that
 *     call's own: its cut gives them back too, so a pool within its bound
 *     is within it after the call.  While held (heap_set_retain_hold),
 *     frees give back only a span's own.
 *   - heap_split releases nothing: a big span's tail can be punched out
 *     by its owner in slices before heap_free_released frees it.
 *
 * Metadata allocation failure in the daemon is fatal (abort), as in most
 * daemons: the engine would otherwise have to unwind half-made changes.
 * heap_reserve alone makes what it may need first (heap_reserve.c): the
 * owner rebuilding a heap after a restart can start fresh instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap_internal.h"

void *
heap_meta_alloc(struct heap *h, size_t size)
{
	void *p = malloc(size);

	if (!p) {
		fprintf(stderr, "poolmgr heap: out of metadata memory\n");
		abort();
	}
	h->st.metadata_bytes += size;
	return p;
}

void *
heap_meta_realloc(struct heap *h, void *p, size_t old, size_t size)
{
	void *q = realloc(p, size);

	if (!q) {
		fprintf(stderr, "poolmgr heap: out of metadata memory\n");
		abort();
	}
	h->st.metadata_bytes += size - old;
	return q;
}

void
heap_meta_free(struct heap *h, void *p, size_t size)
{
	if (!p)
		return;
	h->st.metadata_bytes -= size;
	free(p);
}

/*
 * Tree nodes (long runs, buddy blocks, spans, dirty stretches) come and go
 * on the hot paths; up to NODE_SPARE freed nodes of each size are kept for
 * reuse instead of going back to malloc.  Kept nodes stay counted as
 * metadata.
 */
#define NODE_SPARE 16

struct spare {
	struct spare *next;
};

void *
heap_node_alloc(struct heap *h, size_t size)
{
	unsigned k = (unsigned)(size - 1) / 16;
	struct spare *sp;

	assert(k < NODE_KINDS);
	sp = h->spare[k];
	if (!sp)	/* every node of a kind is allocated the same size */
		return heap_meta_alloc(h, 16 * (k + 1));
	h->spare[k] = sp->next;
	h->nspare[k]--;
	return sp;
}

void
heap_node_free(struct heap *h, void *p, size_t size)
{
	unsigned k = (unsigned)(size - 1) / 16;
	struct spare *sp = p;

	assert(k < NODE_KINDS && size >= sizeof(*sp));
	if (h->nspare[k] >= NODE_SPARE) {
		heap_meta_free(h, p, 16 * (k + 1));
		return;
	}
	sp->next = h->spare[k];
	h->spare[k] = sp;
	h->nspare[k]++;
}

/*
 * A node of kind made ahead (heap_reserve.c) joins the spares, however
 * many there are: the call that made it is about to take it.
 */
void
heap_node_keep(struct heap *h, void *p, unsigned kind)
{
	struct spare *sp = p;

	assert(kind < NODE_KINDS);
	sp->next = h->spare[kind];
	h->spare[kind] = sp;
	h->nspare[kind]++;
}

static void
spares_destroy(struct heap *h)
{
	unsigned k;

	for (k = 0; k < NODE_KINDS; k++) {
		while (h->spare[k]) {
			struct spare *sp = h->spare[k];

			h->spare[k] = sp->next;
			heap_meta_free(h, sp, 16 * (k + 1));
		}
	}
}

static bool
is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* The heap record with the live counters of classes up to top. */
static size_t
heap_record_size(unsigned top)
{
	size_t n = top >= CLASS_LONG ? top - CLASS_LONG + 1 : 0;

	return sizeof(struct heap) + n * sizeof(struct class_live);
}

int
heap_create(const struct heap_config *cfg, struct heap **out)
{
	long sys_page = sysconf(_SC_PAGESIZE);
	uint64_t page = cfg->page_size ? cfg->page_size : (uint64_t)sys_page;
	uint64_t g = cfg->granularity ? cfg->granularity
				      : HEAP_DEFAULT_GRANULARITY;
	uint64_t pf, pe, min_span, threshold;
	struct heap *h;
	unsigned k, top;

	if (!is_pow2(page) || !is_pow2(g) || g < 8 || g > page ||
	    cfg->max_size == 0 || cfg->max_size > (1ull << MAX_POOL_SHIFT))
		return -EINVAL;
	/* No block is longer than the pool. */
	top = log2_floor(round_up(cfg->max_size, page));
	h = calloc(1, heap_record_size(top));
	if (!h)
		return -ENOMEM;
	h->cls_top = top;
	h->cfg = *cfg;
	h->page = page;
	h->g = g;
	h->pshift = log2_floor(page);
	h->gshift = log2_floor(g);
	h->slack_bits = h->gshift;
	h->max_size = round_up(cfg->max_size, page);
	h->npages = h->max_size >> h->pshift;
	/* A whole number of granules, the default too: a granule may be
	 * larger than 128 KiB when the page is, and a small block's end is
	 * looked for within threshold + g bytes, in granules.  Above the
	 * largest pool no request is large, whatever the threshold: there
	 * it is held one granule past that pool, so that neither its
	 * rounding nor the end looked for past a block wraps past 2^64
	 * (a threshold of UINT64_MAX rounded to 0: every request a span). */
	threshold = cfg->large_threshold ? cfg->large_threshold
					 : HEAP_DEFAULT_LARGE_THRESHOLD;
	if (threshold > 1ull << MAX_POOL_SHIFT)
		threshold = (1ull << MAX_POOL_SHIFT) + g;
	h->threshold = round_up(threshold, g);
	heap_set_retain_pages(h, cfg->retain_pages);
	heap_set_retain_cut(h, cfg->retain_cut);
	/* The smallest span, in pages, sets the smallest buddy order used. */
	min_span = round_up(h->threshold, page) >> h->pshift;
	h->kmin = log2_ceil(min_span ? min_span : 1);
	if (h->kmin > BUDDY_ORDERS - 1)
		h->kmin = BUDDY_ORDERS - 1;
	h->cache_limit = cfg->cache_blocks == HEAP_CACHE_NONE ? 0
			 : cfg->cache_blocks ? cfg->cache_blocks : CACHE_DEFAULT;
	if (h->cache_limit > CACHE_MAX)
		h->cache_limit = CACHE_MAX;
	h->st.metadata_bytes = heap_record_size(top);
	RB_INIT(&h->lruns);
	RB_INIT(&h->lsize);
	RB_INIT(&h->spans);
	RB_INIT(&h->dirty);
	for (k = 0; k < BUDDY_ORDERS; k++)
		RB_INIT(&h->order[k]);
	bm_init(h);
	cache_init(h);
	/* One run over everything; its pages are clean (never handed out). */
	runs_give(h, 0, h->max_size, &pf, &pe);
	h->free_dirty = 0;
	*out = h;
	return 0;
}

void
heap_destroy(struct heap *h)
{
	if (!h)
		return;
	cache_destroy(h);
	runs_destroy(h);
	buddy_destroy(h);
	spans_destroy(h);
	dirty_destroy(h);
	bm_destroy(h);
	spares_destroy(h);
	free(h);
}

/*
 * Can merging the caches change the answer for len bytes at align?  A run
 * the merge makes holds cached blocks and the free bytes they touch, no
 * more.  When nothing fit, the request then needs len of those bytes in
 * all.  When the fit found lies above the high-water mark, a better one
 * must start below the mark (whatever lies above it is free already), at
 * some aligned p < top, and [p, min(top, p + len)) must be free after the
 * merge: at least min(len, top - p) cached bytes and free bytes below the
 * mark, least for the highest such p.  Nothing above the mark is allocated
 * or cached, so the free bytes there are exactly max_size - top.  A large
 * request in a pool of small blocks, or one that must fail, thus leaves
 * the caches as they are.
 */
static bool
flush_may_help(const struct heap *h, uint64_t len, uint64_t align,
	       bool found)
{
	uint64_t room = h->st.cached_bytes + h->st.free_bytes, need = len;

	if (found) {
		if (h->top == 0)
			return false;	/* nothing below the mark */
		room -= h->max_size - h->top;
		if (h->top - round_down(h->top - 1, align) < need)
			need = h->top - round_down(h->top - 1, align);
	}
	return room >= need;
}

/*
 * A run that can hold len bytes at align, and where in it the block goes.
 * The caches are merged back into the runs, and the search made again,
 * before giving up and also before a block would raise the footprint's
 * high-water mark: blocks parked for speed must not make the pool touch
 * memory it did not need (rule 5), so the caches cost speed there, never
 * space.  The retention is held while they merge: the block may go on
 * the pages the merge frees, and giving them back first punched a hole
 * for nothing.  *cut says that the merge freed pages: the caller cuts
 * once the block is live, or refused.
 */
static bool
find_run(struct heap *h, uint64_t len, uint64_t align, bool span,
	 struct fit *f, uint64_t *at, bool *cut)
{
	uint64_t page;
	bool found, popped, hold = h->retain_hold;

	for (;;) {
		found = popped = false;
		if (span &&
		    buddy_find(h, len >> h->pshift, align >> h->pshift, &page)) {
			*at = page << h->pshift;
			if (!runs_containing(h, *at, f))
				abort();	/* the buddy lies */
			found = true;	/* looked up: no bin entry taken */
		} else if (runs_best_fit(h, len, align, false, f)) {
			*at = round_up(f->start, align);
			found = popped = true;
		}
		if (h->st.cached_bytes == 0 || (found && *at + len <= h->top) ||
		    !flush_may_help(h, len, align, found))
			return found;
		/*
		 * Only a fit that popped its bin entry gives it back: a short
		 * run the buddy found (granularity 512 and up make short runs
		 * of 128 KiB) kept its entry, and pushing another one overran
		 * the bin's stack.
		 */
		if (popped)
			runs_unpick(h, f);
		h->retain_hold = true;
		*cut = cache_flush(h);
		h->retain_hold = hold;
	}
}

/*
 * Allocate without touching the dirty set.  Inlined into its two callers:
 * every allocation the caches do not serve passes here, and a call of its
 * own cost about 16 instructions in saved registers alone.
 */
static inline __attribute__((always_inline)) int
alloc_block(struct heap *h, uint64_t size, uint64_t align, bool none_cached,
	    uint64_t *out, uint64_t *lenp)
{
	uint64_t len, at, requested;
	bool span;
	struct fit f;

	if (size == 0 || (align != 0 && !is_pow2(align)))
		return -EINVAL;
	if (size > h->max_size)
		return -EFBIG;
	if (align < h->g)
		align = h->g;

	/* A small request may round up to the threshold: it stays small. */
	span = size >= h->threshold;
	if (span) {
		len = round_up(size, h->page);
		if (align < h->page)
			align = h->page;
	} else {
		len = round_up(size, h->g);
		/*
		 * none_cached: heap_alloc has just read this size's cache
		 * count as zero, and nothing ran since (an assertion here
		 * cost 2-7 instructions per allocation, as much as it saves).
		 */
		if (align == h->g && !none_cached && cache_pop(h, len, &at)) {
			/* Held already, and below the high-water mark. */
			assert(at + len <= h->top);
			bm_set_live(h, at, len, len - size);
			h->st.requested_bytes +=
				len - bm_stored_slack(h, len, len - size);
			h->st.cache_hits++;
			goto counted;
		}
	}
	if (!span && align == h->g &&
	    runs_alloc(h, len, h->st.cached_bytes ? h->top : UINT64_MAX, &at))
		goto small;	/* the common case, in one call */
	{
		/* A scope of its own: the common paths above (a cached
		 * block, the best run at the granule) pay nothing for it. */
		bool cut = false;

		if (!find_run(h, len, align, span, &f, &at, &cut)) {
			if (cut)
				dirty_retain_fit_merged(h);
			h->st.failed_allocs++;
			return -ENOMEM;
		}
		runs_take(h, &f, at, len);
		if (span) {
			spans_insert(h, at, len, size);
			requested = size;
		} else {
			bm_set_live(h, at, len, len - size);
			requested = len - bm_stored_slack(h, len, len - size);
		}
		/* The pages the merge freed that the block left free: one
		 * cut, as a flush makes, once the block is live, its pages
		 * counted as the caller's marking will count them. */
		if (cut)
			dirty_retain_fit_unmarked(h, at, len);
		goto done;
	}
small:
	bm_set_live(h, at, len, len - size);
	requested = len - bm_stored_slack(h, len, len - size);
done:
	if (at + len > h->top)
		h->top = at + len;
	heap_count_in(h, len, requested);
counted:
	heap_cls_allocs(h, heap_class_of(len))++;
	*out = at;
	*lenp = len;
	return 0;
}

/*
 * THE FAST PATHS.  Most calls on a busy pool free a small block into the
 * cache of its size or take one back out.  Both are done in straight-line
 * code on the one bitmap word that holds the block's live field; any other
 * case takes the general path, which does the same things one step at a
 * time.
 *
 * A cached block's pages are dirty: they were dirty while it was live, and
 * pages are released only when wholly free, which a page holding a cached
 * block is not (heap_check verifies it).  So taking a block out of a cache
 * does not touch the dirty set.
 */

/*
 * heap_alloc of a size whose cache holds a block on top whose live field
 * fits in its first bitmap word, or false (the general path then takes it;
 * *none_cached says that the size's cache is empty, so that the general
 * path does not look again).
 */
static inline __attribute__((always_inline)) bool
alloc_cached(struct heap *h, uint64_t size, uint64_t *out, bool *none_cached)
{
	uint64_t len = round_up(size, h->g), n = len >> h->gshift;
	struct block_cache *bc = &h->cache[n];
	uint64_t slack = len - size, p, gi, *lw, mask, kept;
	struct chunk *c;
	unsigned b;

	assert(n <= CACHE_GRANULES);
	if (bc->count == 0) {
		*none_cached = true;
		return false;
	}
	p = bc->off[bc->count - 1];
	gi = p >> h->gshift;
	b = (unsigned)gi & 63;
	if (b + bc->room >= 64)
		return false;
	bc->count--;
	c = bm_chunk(h, gi >> CHUNK_SHIFT);
	lw = &LW(c, (gi & (CHUNK_GRANULES - 1)) / 64);
	assert(c && (*lw >> b & 3) == 2);	/* not live, but marked */
	/* The live field replaces the mark (the mark is inside it). */
	kept = slack >> bc->drop;
	mask = ((2ull << bc->room) - 1) << b;
	*lw = (*lw & ~mask) | ((1 | kept << 1) << b);
	/* Still held (struct heap_counts). */
	h->st.cached_bytes -= len;
	h->st.requested_bytes += len - (kept << bc->drop);
	h->st.cache_hits++;
	heap_cls_allocs(h, bc->cls)++;
	*out = p;
	return true;
}

/*
 * heap_free of a live small block whose live field lies in its first word
 * and whose end is in that word or the next one of the same chunk: into
 * the cache when it has room, else to the runs.  False (nothing done) in
 * any other case.
 */
static inline __attribute__((always_inline)) bool
free_fast(struct heap *h, uint64_t off)
{
	uint64_t gi = off >> h->gshift, sw, *lw, rest, n, len, field, mask;
	uint64_t pf, pe;
	struct chunk *c;
	unsigned b, w, room;

	if (off >= h->max_size || (off & (h->g - 1)))
		return false;
	c = bm_chunk(h, gi >> CHUNK_SHIFT);
	if (!c)
		return false;
	b = (unsigned)gi & 63;
	w = (unsigned)(gi & (CHUNK_GRANULES - 1)) / 64;
	sw = SW(c, w);
	lw = &LW(c, w);
	if (!((sw & *lw) >> b & 1))
		return false;	/* not a live small block */
	rest = sw >> b >> 1;	/* start bits after the block's */
	if (rest) {
		n = (uint64_t)__builtin_ctzll(rest) + 1;
	} else {
		if (w == CHUNK_WORDS - 1 || !SW(c, w + 1))
			return false;
		n = 64 - b + (uint64_t)__builtin_ctzll(SW(c, w + 1));
	}
	room = n - 1 < h->slack_bits ? (unsigned)n - 1 : h->slack_bits;
	if (b + room >= 64)
		return false;	/* the live field crosses into the next word */
	len = n << h->gshift;
	mask = ((2ull << room) - 1) << b;
	field = (*lw & mask) >> b;
	*lw &= ~mask;		/* the start bit keeps the chunk */
	h->st.requested_bytes -= len - (field >> 1 << (h->slack_bits - room));
	h->st.frees++;
	if (h->cache_limit && cache_push(h, c, off, len))
		return true;
	heap_held_out(h, len);
	runs_give(h, off, len, &pf, &pe);
	if (pe > pf)
		dirty_retain(h, pf, pe);
	return true;
}

/* heap_alloc of anything alloc_cached does not serve. */
static __attribute__((noinline)) int
alloc_general(struct heap *h, uint64_t size, uint64_t align, bool none_cached,
	      uint64_t *out)
{
	uint64_t off, len;
	int rc = alloc_block(h, size, align, none_cached, &off, &len);

	if (rc)
		return rc;
	dirty_mark(h, off, len);
	*out = off;
	return 0;
}

int
heap_alloc(struct heap *h, uint64_t size, uint64_t align, uint64_t *out)
{
	bool none_cached = false;

	if (size - 1 < h->cache_size_max && align <= h->g &&
	    (align & (align - 1)) == 0 &&
	    alloc_cached(h, size, out, &none_cached))
		return 0;
	return alloc_general(h, size, align, none_cached, out);
}

int
heap_calloc(struct heap *h, uint64_t nmemb, uint64_t size, uint64_t *out)
{
	uint64_t total, off, len;
	int rc;

	if (__builtin_mul_overflow(nmemb, size, &total))
		return -EOVERFLOW;
	rc = alloc_block(h, total, 0, false, &off, &len);
	if (rc)
		return rc;
	/* Pages never handed out, or released since, are zero already. */
	dirty_zero(h, off, len);
	dirty_mark(h, off, len);
	*out = off;
	return 0;
}

/*
 * The next start bit after bit b of chunk c (the end of the extent at b), or
 * CHUNK_GRANULES when the extent runs past the chunk.
 */
static inline uint64_t
end_in_chunk(const struct chunk *c, uint64_t b)
{
	unsigned w = (unsigned)(b / 64);
	uint64_t bits = SW(c, w) & (~1ull << (b & 63));

	if (!bits) {
		if ((w = sw_next(c, w)) == CHUNK_WORDS)
			return CHUNK_GRANULES;
		bits = SW(c, w);
	}
	return (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
}

/* The live small block at off and its length, or false: the general case. */
static __attribute__((noinline)) bool
small_block_any(struct heap *h, uint64_t off, uint64_t *len)
{
	uint64_t limit = off + h->threshold + h->g;

	if (limit > h->max_size)
		limit = h->max_size;
	return bm_live_block(h, off, limit, len);
}

/*
 * The length of the live small block at off, which runs past its chunk:
 * the next start is looked for from the next chunk on.
 */
static __attribute__((noinline)) bool
small_block_past(struct heap *h, uint64_t off, uint64_t *len)
{
	uint64_t limit = off + h->threshold + h->g, gend, f;

	if (limit > h->max_size)
		limit = h->max_size;
	gend = limit >> h->gshift;
	f = bm_scan_forward(h, ((off >> h->gshift) | (CHUNK_GRANULES - 1)) + 1,
			    gend);
	*len = (f < gend ? f << h->gshift : limit) - off;
	return true;
}

/*
 * The live small block at off and its length, or false.  The common case,
 * its chunk in the directory's front table and its end inside that chunk,
 * makes no call; a block that runs past its chunk (half of them on (d),
 * whose blocks grow) or a front-table miss goes to small_block_any as a
 * tail call, so that the common case saves no registers for it.  Out of
 * line, and not static: the resizing family (heap_resize.c) looks every
 * block up through it too.
 */
bool
heap_small_block(struct heap *h, uint64_t off, uint64_t *len)
{
	uint64_t gi = off >> h->gshift, idx = gi >> CHUNK_SHIFT;
	uint64_t b = gi & (CHUNK_GRANULES - 1), limit, e;
	const struct slot *f = &h->chunks.front[idx & h->chunks.mask];
	const struct chunk *c = f->c;

	if (f->index != idx)
		return small_block_any(h, off, len);
	if (!c)
		return false;
	assert(c->index == idx);
	if (!((SW(c, b / 64) & LW(c, b / 64)) >> (b & 63) & 1))
		return false;
	e = end_in_chunk(c, b);
	if (e == CHUNK_GRANULES)
		return small_block_past(h, off, len);
	/*
	 * As bm_live_block: an end past the limit reads as the limit.  off,
	 * the threshold and the pool's size are whole granules, so comparing
	 * bytes gives what its comparison in granules did.
	 */
	limit = off + h->threshold + h->g;
	if (limit > h->max_size)
		limit = h->max_size;
	e = ((idx << CHUNK_SHIFT) + e) << h->gshift;
	*len = (e < limit ? e : limit) - off;
	return true;
}

static int
free_small(struct heap *h, uint64_t off)
{
	uint64_t gi = off >> h->gshift, b = gi & (CHUNK_GRANULES - 1);
	uint64_t len, e;
	struct chunk *c = bm_chunk(h, gi >> CHUNK_SHIFT);

	/* A live small block: its start and live bits, then its end. */
	if (!c || !((SW(c, b / 64) & LW(c, b / 64)) >> (b & 63) & 1))
		return -EINVAL;
	e = end_in_chunk(c, b);
	if (e < CHUNK_GRANULES)
		len = (e - b) << h->gshift;
	else if (!heap_small_block(h, off, &len))
		return -EINVAL;
	release_small(h, c, off, len);
	return 0;
}

/*
 * released: the owner gave the span's pages back itself, before the free.
 * heap_realloc frees the span it moved from here too.
 */
void
heap_free_span(struct heap *h, struct span *s, bool released)
{
	uint64_t off = s->start, len = s->len, pf, pe;

	heap_count_out(h, len, s->requested);
	h->st.frees++;
	spans_remove(h, s);
	runs_give(h, off, len, &pf, &pe);
	if (released)
		dirty_forget(h, off >> h->pshift, (off + len) >> h->pshift);
	/* A large block's pages go back at once.  With fewer live pages the
	 * retention queue may now be over its bound, by up to a quarter of
	 * them: a cut gives back part of it, later ones the rest. */
	if (pe > pf)
		dirty_release_now(h, pf, pe);
	dirty_retain_fit(h);
}

/* heap_free of anything free_fast does not handle. */
static __attribute__((noinline)) int
free_general(struct heap *h, uint64_t off)
{
	struct span *s;

	if (off == HEAP_OFF_NONE)
		return 0;
	if (plausible(h, off)) {
		if (free_small(h, off) == 0)
			return 0;
		if ((s = span_at(h, off))) {
			heap_free_span(h, s, false);
			return 0;
		}
	}
	h->st.invalid_frees++;
	return -EINVAL;
}

int
heap_free(struct heap *h, uint64_t off)
{
	if (free_fast(h, off))
		return 0;
	return free_general(h, off);
}

int
heap_free_released(struct heap *h, uint64_t off)
{
	struct span *s;

	if (!plausible(h, off) || !(s = span_at(h, off)))
		return -EINVAL;	/* the owner's mistake, not a client's */
	heap_free_span(h, s, true);
	return 0;
}

uint64_t
heap_block_size(const struct heap *h, uint64_t size)
{
	if (size == 0 || size > h->max_size)
		return 0;
	return size >= h->threshold ? round_up(size, h->page)
				    : round_up(size, h->g);
}

bool
heap_fits(const struct heap *h, uint64_t size, uint64_t align,
	  uint64_t start, uint64_t end)
{
	uint64_t len = heap_block_size(h, size), at;

	if (len == 0 || (align != 0 && !is_pow2(align)))
		return false;
	if (align < h->g)
		align = h->g;
	if (size >= h->threshold && align < h->page)
		align = h->page;
	/* An align beyond the pool fits nowhere but at 0. */
	if (align > h->max_size)
		return start == 0 && len <= end;
	at = round_up(start, align);
	return at >= start && at < end && len <= end - at;
}

/* Everything above the last block is clean again: the mark comes down. */
static void
trim_lower_top(struct heap *h)
{
	uint64_t tail = runs_tail(h);

	if (tail < h->top)
		h->top = tail;
}

int64_t
heap_trim(struct heap *h)
{
	uint64_t before = h->st.released_bytes;

	h->trimming = false;	/* this does all a trim in steps would */
	cache_flush(h);		/* may release pages itself */
	dirty_release_all_free(h);
	trim_lower_top(h);
	return (int64_t)(h->st.released_bytes - before);
}

uint64_t
heap_top(const struct heap *h)
{
	return h->top;
}

int
heap_trim_step(struct heap *h, uint64_t max)
{
	uint64_t pages = (max >> h->pshift) + ((max & (h->page - 1)) != 0);

	if (!h->trimming) {	/* the first step: the caches */
		h->trimming = true;
		memset(&h->trim_at, 0, sizeof(h->trim_at));
		cache_flush(h);
		return 1;
	}
	/*
	 * No dirty page is left in a free run, behind the cursor or ahead:
	 * the rest of the walk would look at every run for nothing.
	 */
	if (h->free_dirty && dirty_trim_step(h, pages) && h->free_dirty)
		return 1;
	h->trimming = false;
	trim_lower_top(h);
	return 0;
}

void
heap_set_retain_cut(struct heap *h, uint64_t bytes)
{
	uint64_t cut = bytes ? bytes : RETAIN_CUT_DEFAULT;

	h->cfg.retain_cut = bytes;
	h->cut_pages = (cut >> h->pshift) + ((cut & (h->page - 1)) != 0);
}

int
heap_set_retain_pages(struct heap *h, uint32_t pages)
{
	h->cfg.retain_pages = pages;
	h->retain_limit = pages == HEAP_RETAIN_NONE ? 0
			  : pages ? pages : RETAIN_DEFAULT;
	/* Only HEAP_RETAIN_NONE keeps none: 0 is the default. */
	assert((h->retain_limit == 0) == (pages == HEAP_RETAIN_NONE));
	return dirty_retain_excess(h) != 0;
}

int
heap_set_retain_hold(struct heap *h, int on)
{
	h->retain_hold = on != 0;
	/* What merges freed under the owner's hold is its excess, which
	 * heap_retain_step gives back, not a later call's to cut. */
	h->merged_pages = 0;
	h->merged_ranges = 0;
	return dirty_retain_excess(h) != 0;
}

int
heap_retain_step(struct heap *h, uint64_t max)
{
	uint64_t pages = (max >> h->pshift) + ((max & (h->page - 1)) != 0);

	return dirty_retain_cut(h, pages ? pages : 1);
}

const char *
heap_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument, or not the start of a live block";
	case -ENOMEM:
		return "no free space in the pool can hold the request";
	case -EFBIG:
		return "request larger than the whole pool";
	case -EOVERFLOW:
		return "size computation overflows";
	case -EAGAIN:
		return "block cannot change size in place";
	case -EBUSY:
		return "some byte of the block is not free";
	case -EFAULT:
		return "heap metadata is inconsistent";
	default:
		return "unknown error";
	}
}
