/*
 * heap_internal.h - the engine's shared state and the contracts between its
 * files.  Nothing here is seen outside daemon/heap*.c.
 *
 * Vocabulary (docs/design.md has the full story):
 *   granule  the pool's granularity g; every extent starts and ends on one.
 *   extent   a maximal piece of the pool with one owner: a free run, a live
 *            small block, a cached small block, or a page span.  Extents
 *            tile [0, max_size) exactly.
 *   run      a free extent.  Runs are maximal: two runs never touch.
 *   span     a live block at or above the large threshold: whole pages.
 *   W(run)   the whole pages inside a run; the buddy view holds exactly the
 *            union of W over all runs, as aligned power-of-two blocks.
 *
 * Naming: heap_* is the public API (heap.h); runs_*, buddy_*, bm_*, spans_*,
 * dirty_*, cache_* belong to heap_runs.c, heap_buddy.c, heap_blockmap.c,
 * heap_spans.c, heap_dirty.c and heap_cache.c.  All of them assume the caller
 * owns the heap (one thread at a time).
 */
#ifndef POOLMGR_HEAP_INTERNAL_H
#define POOLMGR_HEAP_INTERNAL_H

#include <assert.h>
#include <bsd/sys/tree.h>
#include <stdbool.h>
#include <stdint.h>

#include "heap.h"

/* Size bins: one per granule count up to BIN_EXACT, then 4 per power of 2. */
#define BIN_EXACT 256
#define NBINS (BIN_EXACT + 4 * 40)
#define BIN_WORDS ((NBINS + 63) / 64)

#define BUDDY_ORDERS 40		/* pages up to 2^39 */
#define CHUNK_GRANULES 4096	/* bitmap chunk: 4096 granules */
#define CHUNK_WORDS (CHUNK_GRANULES / 64)
#define CACHE_GRANULES 64	/* cached classes: 1..64 granules */
#define RETAIN_RING 256		/* retention queue entries */
#define RETAIN_DEFAULT 256	/* pages kept dirty by default: 1 MiB */
#define MAX_POOL_SHIFT 48

struct run {
	RB_ENTRY(run) by_addr;
	RB_ENTRY(run) by_size;
	uint64_t start;		/* bytes */
	uint64_t len;		/* bytes, multiple of g, > 0 */
	uint32_t bin;
};
RB_HEAD(run_addr_tree, run);
RB_HEAD(run_size_tree, run);
RB_PROTOTYPE(run_addr_tree, run, by_addr, run_addr_cmp)
RB_PROTOTYPE(run_size_tree, run, by_size, run_size_cmp)

struct bblock {
	RB_ENTRY(bblock) link;
	uint64_t page;		/* first page; order is the tree it is in */
};
RB_HEAD(bblock_tree, bblock);
RB_PROTOTYPE(bblock_tree, bblock, link, bblock_cmp)

struct span {
	RB_ENTRY(span) link;
	uint64_t start, len;	/* bytes, page-aligned */
	uint64_t requested;
};
RB_HEAD(span_tree, span);
RB_PROTOTYPE(span_tree, span, link, span_cmp)

struct dirty {
	RB_ENTRY(dirty) link;
	uint64_t first, end;	/* pages [first, end) */
};
RB_HEAD(dirty_tree, dirty);
RB_PROTOTYPE(dirty_tree, dirty, link, dirty_cmp)

/*
 * Bitmap chunk for CHUNK_GRANULES granules.  start[] has a bit at the first
 * granule of every extent.  live[] has a bit at the first granule of every
 * live small block, followed inside the block by its slack bits.
 */
struct chunk {
	uint64_t index;
	uint32_t nstart, nlive;	/* set bits in start[] and live[] */
	uint64_t start[CHUNK_WORDS];
	uint64_t live[CHUNK_WORDS];
};

struct chunk_map {
	struct chunk **slot;	/* open addressing, linear probing */
	uint64_t cap;		/* power of two */
	uint64_t count;
	struct chunk *last;	/* one-entry lookup cache */
};

struct block_cache {
	uint64_t *off;		/* LIFO of cached block offsets */
	uint32_t count;
};

struct heap {
	struct heap_config cfg;
	uint64_t max_size, page, g, threshold;
	unsigned gshift, pshift, slack_bits;
	uint64_t npages;

	/* Free runs: by address and in size bins. */
	struct run_addr_tree runs;
	struct run_size_tree bin[NBINS];
	uint64_t bin_nonempty[BIN_WORDS];

	/* Buddy view of the whole free pages. */
	struct bblock_tree order[BUDDY_ORDERS];
	uint64_t order_nonempty;
	uint64_t buddy_blocks;

	struct span_tree spans;
	struct chunk_map chunks;

	/* Pages that may hold data: handed out since their last release. */
	struct dirty_tree dirty;
	uint64_t dirty_pages;
	struct {
		uint64_t first, end;
	} retain[RETAIN_RING];
	unsigned retain_head, retain_count;
	uint64_t retained_pages;
	uint64_t retain_limit;

	struct block_cache cache[CACHE_GRANULES + 1];
	uint32_t cache_limit;

	struct heap_stats st;
	struct heap_class_stats cls[HEAP_NCLASSES];
};

/* heap.c */
void *heap_meta_alloc(struct heap *h, size_t size);
void heap_meta_free(struct heap *h, void *p, size_t size);
unsigned heap_class_of(uint64_t size);
void heap_count_live(struct heap *h, uint64_t len, uint64_t requested,
		     int sign);
int heap_free_small(struct heap *h, uint64_t off, bool to_cache);

static inline uint64_t
round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline uint64_t
round_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

static inline unsigned
log2_floor(uint64_t x)
{
	assert(x != 0);
	return 63 - (unsigned)__builtin_clzll(x);
}

static inline unsigned
log2_ceil(uint64_t x)
{
	return x <= 1 ? 0 : log2_floor(x - 1) + 1;
}

/* heap_runs.c: free runs, size bins, split and coalesce. */
unsigned runs_bin_of(const struct heap *h, uint64_t len);
struct run *runs_find(struct heap *h, uint64_t start);
struct run *runs_containing(struct heap *h, uint64_t off);
struct run *runs_best_fit(struct heap *h, uint64_t len, uint64_t align);
void runs_take(struct heap *h, struct run *r, uint64_t off, uint64_t len);
void runs_give(struct heap *h, uint64_t off, uint64_t len,
	       uint64_t *new_first, uint64_t *new_end);
void runs_destroy(struct heap *h);

/* heap_buddy.c: the buddy view of whole free pages. */
void buddy_add(struct heap *h, uint64_t first, uint64_t end);
void buddy_remove(struct heap *h, uint64_t first, uint64_t end);
bool buddy_find(struct heap *h, uint64_t npages, uint64_t align_pages,
		uint64_t *page);
bool buddy_has(struct heap *h, uint64_t page, unsigned order);
void buddy_destroy(struct heap *h);

/* heap_blockmap.c: start and live bits, chunk directory. */
int bm_init(struct heap *h);
void bm_destroy(struct heap *h);
bool bm_is_start(struct heap *h, uint64_t off);
void bm_set_start(struct heap *h, uint64_t off);
void bm_clear_start(struct heap *h, uint64_t off);
bool bm_is_live(struct heap *h, uint64_t off);
void bm_set_live(struct heap *h, uint64_t off, uint64_t len, uint64_t slack);
uint64_t bm_clear_live(struct heap *h, uint64_t off, uint64_t len);
uint64_t bm_slack(struct heap *h, uint64_t off, uint64_t len);
uint64_t bm_stored_slack(const struct heap *h, uint64_t len, uint64_t slack);
uint64_t bm_next_start(struct heap *h, uint64_t off, uint64_t limit);
bool bm_live_block(struct heap *h, uint64_t off, uint64_t limit,
		   uint64_t *len);
bool bm_prev_start(struct heap *h, uint64_t off, uint64_t *prev, bool *live);
uint64_t bm_count_starts(struct heap *h);

/* heap_spans.c: live page spans. */
struct span *spans_find(struct heap *h, uint64_t start);
struct span *spans_insert(struct heap *h, uint64_t start, uint64_t len,
			  uint64_t requested);
void spans_remove(struct heap *h, struct span *s);
void spans_destroy(struct heap *h);

/* heap_dirty.c: dirty pages, retention and release. */
void dirty_mark(struct heap *h, uint64_t off, uint64_t len);
void dirty_zero(struct heap *h, uint64_t off, uint64_t len);
void dirty_release_now(struct heap *h, uint64_t first, uint64_t end);
void dirty_retain(struct heap *h, uint64_t first, uint64_t end);
uint64_t dirty_release_all_free(struct heap *h);
void dirty_destroy(struct heap *h);

/* heap_cache.c: freed small blocks kept for fast reuse. */
int cache_init(struct heap *h);
bool cache_push(struct heap *h, uint64_t off, uint64_t len);
bool cache_pop(struct heap *h, uint64_t len, uint64_t *off);
void cache_flush(struct heap *h);
bool cache_holds(struct heap *h, uint64_t off, uint64_t len);
void cache_destroy(struct heap *h);

#endif /* POOLMGR_HEAP_INTERNAL_H */
