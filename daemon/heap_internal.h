/*
 * heap_internal.h - the engine's shared state and the contracts between its
 * files.  Nothing here is seen outside daemon/heap*.c (and the engine's own
 * unit tests).
 *
 * Vocabulary (docs/design.md has the full story):
 *   granule  the pool's granularity g; every extent starts and ends on one.
 *   extent   a maximal piece of the pool with one owner: a free run, a live
 *            small block, a cached small block, or a page span.  Extents
 *            tile [0, max_size) exactly.
 *   run      a free extent.  Runs are maximal: two runs never touch.
 *   short    a run of at most SHORT_MAX granules.  Short runs have no record
 *            of their own: the block map says where they are, and a bin per
 *            length lists where they may be (heap_runs.c).
 *   long     a run of more than SHORT_MAX granules: a record in two trees.
 *   cached   a freed small block kept unmerged for reuse by its size
 *            (heap_cache.c); free space, but not a run.
 *   span     a live block at or above the large threshold: whole pages.
 *   W(run)   the whole buddy units (2^kmin pages) inside a run; the buddy
 *            view holds exactly the union of W over all runs, as aligned
 *            power-of-two blocks of at least one unit.
 *
 * Naming: heap_* is the public API (heap.h), and the few of heap.c's own
 * functions declared below that other engine files call (the metadata,
 * and the free path's lookups that heap_resize.c shares); runs_*,
 * buddy_*, bm_*, spans_*, dirty_*, cache_* belong to heap_runs.c,
 * heap_buddy.c, heap_blockmap.c, heap_spans.c, heap_dirty.c and
 * heap_cache.c.  All of them assume the caller owns the heap (one thread
 * at a time).
 */
#ifndef POOLMGR_HEAP_INTERNAL_H
#define POOLMGR_HEAP_INTERNAL_H

#include <assert.h>
#include <bsd/sys/tree.h>
#include <stdbool.h>
#include <stdint.h>

#include "heap.h"

#define SHORT_MAX 256		/* longest short run, granules */
#define SHORT_WORDS ((SHORT_MAX + 1 + 63) / 64)	/* bitmap of bins 1..256 */

#define BUDDY_ORDERS 40		/* pages up to 2^39 */
#define CHUNK_SHIFT 12
#define CHUNK_GRANULES (1u << CHUNK_SHIFT)	/* bitmap chunk: 4096 granules */
#define CHUNK_WORDS (CHUNK_GRANULES / 64)
#define CACHE_GRANULES 64	/* cached sizes: 2..64 granules */
#define CACHE_MAX 1024		/* cached blocks per size at most */
#define CACHE_DEFAULT 4		/* ... and by default */
#define RETAIN_DEFAULT 256	/* pages kept dirty by default: 1 MiB */
#define RETAIN_SHARE 4		/* ... or up to 1/4 of the live pages */
#define RETAIN_RECYCLE 4	/* entries a full ring looks at for a stale one */
#define RETAIN_CUT_DEFAULT (4u << 20)	/* bytes one cut may give back */
#define RETAIN_LOOKS 1024	/* queued ranges one cut may look at */
#define MAX_POOL_SHIFT 48
#define NODE_KINDS 6		/* tree nodes of up to 96 bytes */
#define NODE_KIND(size) ((unsigned)((size) - 1) / 16)	/* of a node's size */
#define CLASS_MIN 3		/* log2 of the least granularity */
#define CLASSES_USED (MAX_POOL_SHIFT + 1 - CLASS_MIN)
/* The least class of a block longer than CACHE_GRANULES granules: such a
 * block has at least (CACHE_GRANULES + 1) << CLASS_MIN bytes. */
#define CLASS_LONG (CLASS_MIN + 6)

/* A long run: more than SHORT_MAX granules, kept in two trees. */
struct lrun {
	RB_ENTRY(lrun) by_addr;
	RB_ENTRY(lrun) by_size;
	uint64_t start;		/* bytes */
	uint64_t len;		/* bytes, multiple of g, > SHORT_MAX granules */
};
RB_HEAD(lrun_addr_tree, lrun);
RB_HEAD(lrun_size_tree, lrun);
RB_PROTOTYPE(lrun_addr_tree, lrun, by_addr, lrun_addr_cmp)
RB_PROTOTYPE(lrun_size_tree, lrun, by_size, lrun_size_cmp)

/* Where runs_each_from goes on: long runs from off while bin is 0, then
 * the short runs of bin (a length in granules) from entry. */
struct runs_cursor {
	uint64_t off;
	unsigned bin;
	uint32_t entry;
};

/*
 * The bin of short runs of one length: how many there are, and a stack of
 * offsets where such a run may start.  Every short run of the length has at
 * least one entry; an entry may be stale (the run was merged or taken
 * since), and is checked against the block map when it is popped.
 */
struct sbin {
	uint64_t *v;		/* v[-1] holds the capacity */
	uint32_t len;		/* entries, stale ones included */
	uint32_t count;		/* short runs of this length */
};

/* A free run as a placement sees it: short runs have no record. */
struct fit {
	uint64_t start, len;	/* bytes */
	struct lrun *lr;	/* the record of a long run, else NULL */
};

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
 * Bitmap chunk for CHUNK_GRANULES granules.  The start word and the live
 * word of each 64 granules sit side by side (w[2i], w[2i + 1]) so that one
 * cache line serves both.  A start bit marks the first granule of every
 * extent.  A live bit marks the first granule of every live small block,
 * followed inside the block by its slack bits.
 */
struct chunk {
	/* First, so that each word pair is 16-byte aligned and never straddles
	 * a cache line (malloc returns 16-byte aligned memory). */
	uint64_t w[2 * CHUNK_WORDS];
	uint64_t index;
	uint32_t nstart;	/* set start bits */
	uint64_t any;		/* bit i: start word i is not zero */
};

#define SW(c, i) ((c)->w[2 * (i)])	/* start word i */
#define LW(c, i) ((c)->w[2 * (i) + 1])	/* live word i */

/* Set and clear the start bit m of word i of chunk c, keeping its counts. */
static inline void
sw_set(struct chunk *c, unsigned i, uint64_t m)
{
	c->nstart += !(SW(c, i) & m);
	SW(c, i) |= m;
	c->any |= 1ull << i;
}

static inline void
sw_clear(struct chunk *c, unsigned i, uint64_t m)
{
	c->nstart -= !!(SW(c, i) & m);
	SW(c, i) &= ~m;
	if (!SW(c, i))
		c->any &= ~(1ull << i);
}

/* The first non-zero start word after word i of c, or CHUNK_WORDS. */
static inline unsigned
sw_next(const struct chunk *c, unsigned i)
{
	uint64_t a = i >= 63 ? 0 : c->any & (~0ull << (i + 1));

	return a ? (unsigned)__builtin_ctzll(a) : CHUNK_WORDS;
}

/* The last non-zero start word before word i of c, or CHUNK_WORDS. */
static inline unsigned
sw_prev(const struct chunk *c, unsigned i)
{
	uint64_t a = c->any & ((1ull << i) - 1);

	return a ? 63 - (unsigned)__builtin_clzll(a) : CHUNK_WORDS;
}

/*
 * The cache of one block size (n granules), with what the fast paths need
 * to know about that size worked out once: the live field's slack room,
 * how many low slack bits it drops, and the size class.
 */
struct block_cache {
	uint64_t *off;		/* LIFO of cached block offsets */
	uint32_t count;
	uint8_t room;		/* bm_room of the size */
	uint8_t drop;		/* slack_bits - room */
	uint8_t cls;		/* heap_class_of the size */
};

struct slot {
	uint64_t index;
	struct chunk *c;	/* NULL: empty slot */
};

/*
 * The chunk directory: a hash table (open addressing, linear probing) and,
 * in front of it, a direct-mapped table of the same size indexed by the low
 * bits of the chunk index.  A pool's chunks are mostly consecutive, so the
 * front table alone finds nearly all of them in one load; a miss probes the
 * hash table and refills the entry.  A front entry that names a chunk is
 * right (index and chunk match); an empty one has index NO_CHUNK.
 */
#define NO_CHUNK UINT64_MAX

/*
 * THE STATISTICS.  The fast paths update only what they must; the rest of
 * heap_stats and heap_class_stats is derived when asked (heap_get_stats,
 * heap_get_class_stats, heap_events_save: sums over the cached sizes, the
 * classes and the bins' summary words, never over the blocks).  Kept:
 *
 *   st (below)          bytes asked for by live blocks, bytes in caches and
 *                       in runs, released and of metadata; frees, cache
 *                       hits, refusals; live spans
 *   held[n]             blocks of n <= CACHE_GRANULES granules that are
 *                       live or cached: a block moving into or out of its
 *                       cache leaves it alone
 *   cache[n].count      ... of them cached (the cache's own stack)
 *   heap_cls_live(h, i)->blocks, ->bytes   live blocks of class i longer
 *                       than CACHE_GRANULES granules
 *   heap_cls_allocs(h, i)   allocations of class i
 *   sbin[n].count, nlong  the short and the long free runs
 *
 * Derived, exact between calls:
 *
 *   allocated_bytes  = max_size - free_bytes - cached_bytes (invariant 5)
 *   cached_blocks    = sum of cache[n].count
 *   live_blocks      = sum of (held[n] - cache[n].count) + sum of the
 *                      classes' blocks
 *   class i's live   = its blocks and bytes + the live blocks of its sizes
 *                      of up to CACHE_GRANULES granules
 *   allocs           = sum of the classes' allocs
 *   free_runs        = sum of sbin[n].count + nlong
 *
 * So a block taken from its cache moves cached_bytes, requested_bytes,
 * cache_hits and its class's allocs; one freed into its cache
 * requested_bytes, cached_bytes and frees; one taken from or given to the
 * runs requested_bytes, free_bytes, held[n] (or its class's blocks and
 * bytes), and its class's allocs or frees.  heap_check verifies each derived value, and
 * held and the class counters, against its walk.
 *
 * No block is shorter than the least granularity, 2^CLASS_MIN bytes, or
 * longer than a pool, 2^MAX_POOL_SHIFT: only the classes between have
 * counters (the others report nothing).  Allocations are counted for all
 * of them in every heap (saved events may name any, heap_events_save);
 * live blocks longer than CACHE_GRANULES granules only from CLASS_LONG
 * up to the heap's own largest class, cls_top: the heap record ends with
 * those, sized when it is made, so a small pool does not carry the
 * counters of classes it cannot hold.
 */
struct heap_counts {
	uint64_t requested_bytes;
	uint64_t cached_bytes;
	uint64_t free_bytes;
	uint64_t released_bytes;
	uint64_t metadata_bytes;
	uint64_t frees;
	uint64_t cache_hits;
	uint64_t failed_allocs;
	uint64_t invalid_frees;
	uint64_t spans;
};

/* The live blocks of one size class longer than CACHE_GRANULES granules. */
struct class_live {
	uint64_t blocks, bytes;
};

struct chunk_map {
	struct slot *front;	/* direct-mapped: front[index & mask] */
	uint64_t mask;		/* cap - 1 */
	struct slot *slot;	/* open addressing, linear probing */
	uint64_t cap;		/* power of two, both tables */
	uint64_t count;
};

struct heap {
	struct chunk_map chunks;	/* first: the hottest lookup */
	struct heap_config cfg;
	uint64_t max_size, page, g, threshold;
	unsigned gshift, pshift, slack_bits;
	unsigned cls_top;	/* the largest class a block can be in */
	uint64_t npages;
	unsigned kmin;		/* smallest buddy order a span can ask for */
	bool small_spans;	/* a span can be SHORT_MAX granules or less */

	/* Free runs: short ones in bins by length, long ones in trees. */
	struct sbin sbin[SHORT_MAX + 1];
	uint64_t sbin_nonempty[SHORT_WORDS];
	uint64_t sbin_words;	/* bit w: sbin_nonempty[w] is not zero */
	struct lrun_addr_tree lruns;
	struct lrun_size_tree lsize;
	struct lrun *lmin;	/* the smallest long run, or NULL: unknown */
	struct lrun *lhint;	/* the long run last made or resized, or NULL */
	uint64_t nlong;

	/* Buddy view of the whole free units. */
	struct bblock_tree order[BUDDY_ORDERS];
	uint64_t order_nonempty;
	uint64_t buddy_blocks;

	struct span_tree spans;

	/* Pages that may hold data: handed out since their last release. */
	struct dirty_tree dirty;
	struct dirty *dirty_hint;	/* the stretch last marked, or NULL */
	uint64_t dirty_pages;
	struct retained {
		uint64_t first, end;
	} *retain;		/* FIFO ring of retain_cap entries */
	unsigned retain_cap, retain_head, retain_count;
	uint64_t free_dirty;	/* dirty pages wholly inside free runs */
	uint64_t retain_limit;
	uint64_t cut_pages;	/* retain_cut: pages one cut may give back */
	bool retain_hold;	/* heap_set_retain_hold: frees give none back */
	/* Pages (and ranges) that merges of cached blocks queued while
	 * held: the cut after the hold gives them back too. */
	uint64_t merged_pages;
	unsigned merged_ranges;	/* at most the blocks the caches hold */
	/* A trim in steps (heap_trim_step): where the next step looks, and
	 * what the current one may still do. */
	bool trimming;
	struct runs_cursor trim_at;
	uint64_t trim_pages;

	struct block_cache cache[CACHE_GRANULES + 1];
	/* The blocks of each size up to CACHE_GRANULES granules that are live
	 * or cached (struct heap_counts): moving a block into or out of its
	 * cache leaves this alone, and held[n] - cache[n].count are live.
	 * Every such size has it, cached or not (a span of so few granules
	 * too). */
	uint64_t held[CACHE_GRANULES + 1];
	uint32_t cache_limit;
	uint64_t top;		/* highest end of a block handed out: since
				 * the last trim, which lowers it */
	uint64_t cache_size_max;	/* sizes 1..this may be in a cache */

	/* Freed tree nodes kept for reuse, by size in 16-byte steps. */
	struct spare *spare[NODE_KINDS];
	unsigned nspare[NODE_KINDS];

	struct heap_counts st;
	uint64_t cls_allocs[CLASSES_USED];	/* by heap_cls_allocs() */
	/* Last: CLASS_LONG .. cls_top, by heap_cls_live() (none when
	 * cls_top < CLASS_LONG); metadata_bytes counts them with the record. */
	struct class_live cls_live[];
};

/* heap.c */
void heap_node_keep(struct heap *h, void *p, unsigned kind);
void *heap_meta_alloc(struct heap *h, size_t size);
void *heap_meta_realloc(struct heap *h, void *p, size_t old, size_t size);
void heap_meta_free(struct heap *h, void *p, size_t size);
void *heap_node_alloc(struct heap *h, size_t size);
void heap_node_free(struct heap *h, void *p, size_t size);
/* The free path's, which the resizing family (heap_resize.c) shares:
 * the length of a live small block, and the free of a span. */
bool heap_small_block(struct heap *h, uint64_t off, uint64_t *len);
void heap_free_span(struct heap *h, struct span *s, bool released);

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

static inline unsigned
heap_class_of(uint64_t size)
{
	return log2_floor(size);
}

/* Has size class i counters (struct heap_counts)? */
static inline bool
heap_class_used(unsigned i)
{
	return i >= CLASS_MIN && i <= MAX_POOL_SHIFT;
}

/* The allocations of size class i, one that has counters. */
#define heap_cls_allocs(h, i) ((h)->cls_allocs[(uint64_t)(i) - CLASS_MIN])

/* Has this heap live counters for class i (heap_cls_live)? */
static inline bool
heap_class_live(const struct heap *h, unsigned i)
{
	return i >= CLASS_LONG && i <= h->cls_top;
}

/*
 * The live counters of class i, that of a block longer than CACHE_GRANULES
 * granules in this heap (so heap_class_live).  Not asserted here: the
 * callers are the hot paths, and heap_check finds a count out of place.
 */
#define heap_cls_live(h, i) (&(h)->cls_live[(uint64_t)(i) - CLASS_LONG])

/*
 * Bytes in live blocks: all that is neither free nor cached (invariant 5).
 * Exact between calls; inside one, a block on its way between the live
 * set and the runs or a cache counts as live until it gets there.
 */
static inline uint64_t
heap_allocated(const struct heap *h)
{
	return h->max_size - h->st.free_bytes - h->st.cached_bytes;
}

/*
 * A block of len bytes joins the blocks held out of the runs (live or
 * cached: a cache's blocks stay held), or leaves them.
 */
static inline void
heap_held_in(struct heap *h, uint64_t len)
{
	uint64_t n = len >> h->gshift;
	struct class_live *c;

	if (n <= CACHE_GRANULES) {
		h->held[n]++;
		return;
	}
	c = heap_cls_live(h, heap_class_of(len));
	c->blocks++;
	c->bytes += len;
}

static inline void
heap_held_out(struct heap *h, uint64_t len)
{
	uint64_t n = len >> h->gshift;
	struct class_live *c;

	if (n <= CACHE_GRANULES) {
		assert(h->held[n] > h->cache[n].count);
		h->held[n]--;
		return;
	}
	c = heap_cls_live(h, heap_class_of(len));
	assert(c->blocks > 0 && c->bytes >= len);
	c->blocks--;
	c->bytes -= len;
}

/*
 * Account a block of len bytes (requested of them) joining the live set;
 * one taken from a cache was held already and counts only its requested
 * bytes.
 */
static inline void
heap_count_in(struct heap *h, uint64_t len, uint64_t requested)
{
	h->st.requested_bytes += requested;
	heap_held_in(h, len);
}

/* ... and leaving it; one going to a cache stays held (cache_push). */
static inline void
heap_count_out(struct heap *h, uint64_t len, uint64_t requested)
{
	h->st.requested_bytes -= requested;
	heap_held_out(h, len);
}

/*
 * heap_reserve.c: allocations that may fail, for what heap_reserve makes
 * ahead (they count in metadata_bytes as heap_meta_alloc's do).
 */
void *meta_try_alloc(struct heap *h, size_t size);
void *meta_try_realloc(struct heap *h, void *p, size_t old, size_t size);

/* heap_runs.c: free runs, bins, split and coalesce. */
bool runs_is_short(const struct heap *h, uint64_t len);
bool runs_at(struct heap *h, uint64_t start, struct fit *f);
bool runs_cover_before(struct heap *h, uint64_t off);
bool runs_ending_at(struct heap *h, uint64_t off, struct fit *f);
bool runs_containing(struct heap *h, uint64_t off, struct fit *f);
bool runs_best_fit(struct heap *h, uint64_t len, uint64_t align,
		   bool sure_only, struct fit *f);
bool runs_alloc(struct heap *h, uint64_t len, uint64_t limit, uint64_t *off);
void runs_unpick(struct heap *h, const struct fit *f);
uint64_t runs_tail(struct heap *h);
int runs_take_stock(struct heap *h, const struct fit *f, uint64_t off,
		    uint64_t len, unsigned need[NODE_KINDS]);
void runs_take(struct heap *h, const struct fit *f, uint64_t off,
	       uint64_t len);
void runs_give(struct heap *h, uint64_t off, uint64_t len,
	       uint64_t *new_first, uint64_t *new_end);
void runs_each(struct heap *h, uint64_t min,
	       bool (*fn)(struct heap *h, uint64_t start, uint64_t len));
bool runs_each_from(struct heap *h, uint64_t min, struct runs_cursor *at,
		    uint64_t *looks,
		    bool (*fn)(struct heap *h, uint64_t start, uint64_t len));
void runs_destroy(struct heap *h);
bool sbin_holds(struct heap *h, uint64_t start, uint64_t len);

/* heap_buddy.c: the buddy view of whole free units. */
void buddy_add(struct heap *h, uint64_t first, uint64_t end);
void buddy_remove(struct heap *h, uint64_t first, uint64_t end);
bool buddy_find(struct heap *h, uint64_t npages, uint64_t align_pages,
		uint64_t *page);
bool buddy_has(struct heap *h, uint64_t page, unsigned order);
void buddy_destroy(struct heap *h);

/* heap_blockmap.c: start and live bits, chunk directory. */
int bm_make(struct heap *h, const uint64_t *offs, unsigned n,
	    struct chunk **made, unsigned *nmade);
int bm_init(struct heap *h);
struct chunk *bm_chunk_find(const struct heap *h, uint64_t index);
struct chunk *bm_chunk_probe(struct heap *h, uint64_t index);
void bm_destroy(struct heap *h);
void bm_set_start_slow(struct heap *h, uint64_t off);
void bm_drop_if_empty(struct heap *h, struct chunk *c);
void bm_set_live_slow(struct heap *h, uint64_t off, uint64_t len,
		      uint64_t slack);
uint64_t bm_clear_live_slow(struct heap *h, uint64_t off, uint64_t len);
uint64_t bm_slack(struct heap *h, uint64_t off, uint64_t len);
uint64_t bm_scan_forward(struct heap *h, uint64_t gi, uint64_t gend);
uint64_t bm_scan_backward(struct heap *h, uint64_t gi, uint64_t gfloor,
			  bool *live);
uint64_t bm_count_starts(struct heap *h);

/*
 * The hot lookups, inline: the chunk of a granule (the front table first),
 * and the bits at one offset.
 */
static inline struct chunk *
bm_chunk(struct heap *h, uint64_t index)
{
	const struct slot *f = &h->chunks.front[index & h->chunks.mask];

	if (__builtin_expect(f->index == index, 1))
		return f->c;
	return bm_chunk_probe(h, index);
}

static inline struct chunk *
bm_chunk_at(struct heap *h, uint64_t off)
{
	return bm_chunk(h, off >> h->gshift >> CHUNK_SHIFT);
}

/* Word and bit of off within its chunk. */
static inline unsigned
bm_word(const struct heap *h, uint64_t off)
{
	return (unsigned)((off >> h->gshift) & (CHUNK_GRANULES - 1)) / 64;
}

static inline uint64_t
bm_mask(const struct heap *h, uint64_t off)
{
	return 1ull << ((off >> h->gshift) & 63);
}

static inline bool
bm_is_start(struct heap *h, uint64_t off)
{
	struct chunk *c = bm_chunk_at(h, off);

	return c && (SW(c, bm_word(h, off)) & bm_mask(h, off));
}

static inline bool
bm_is_live(struct heap *h, uint64_t off)
{
	struct chunk *c = bm_chunk_at(h, off);

	return c && (LW(c, bm_word(h, off)) & bm_mask(h, off));
}

static inline void
bm_set_start(struct heap *h, uint64_t off)
{
	struct chunk *c = bm_chunk_at(h, off);
	uint64_t m = bm_mask(h, off);
	unsigned w = bm_word(h, off);

	if (!c)
		bm_set_start_slow(h, off);
	else
		sw_set(c, w, m);
}

static inline void
bm_clear_start(struct heap *h, uint64_t off)
{
	struct chunk *c = bm_chunk_at(h, off);
	uint64_t m = bm_mask(h, off);
	unsigned w = bm_word(h, off);

	if (c && (SW(c, w) & m)) {
		sw_clear(c, w, m);
		if (c->nstart == 0)
			bm_drop_if_empty(h, c);
	}
}

/* How many slack bits a block of len bytes has room for. */
static inline unsigned
bm_room(const struct heap *h, uint64_t len)
{
	uint64_t n = (len >> h->gshift) - 1;

	return n < h->slack_bits ? (unsigned)n : h->slack_bits;
}

/* The slack as the block's bits can hold it (high bits kept). */
static inline uint64_t
bm_stored_slack(const struct heap *h, uint64_t len, uint64_t slack)
{
	unsigned drop = h->slack_bits - bm_room(h, len);

	return slack >> drop << drop;
}

/*
 * A block's live field: its live bit and then its slack bits, room + 1
 * bits from its first granule.  Inline when they lie in one word.
 */
static inline void
bm_set_live(struct heap *h, uint64_t off, uint64_t len, uint64_t slack)
{
	unsigned room = bm_room(h, len), sh = (unsigned)(off >> h->gshift) & 63;
	struct chunk *c = bm_chunk_at(h, off);

	if (c && sh + room + 1 <= 64) {
		uint64_t mask = ((2ull << room) - 1) << sh;
		uint64_t field = (1 | (slack >> (h->slack_bits - room)) << 1)
				 << sh;
		uint64_t *lw = &LW(c, bm_word(h, off));

		*lw = (*lw & ~mask) | field;
		return;
	}
	bm_set_live_slow(h, off, len, slack);
}

/* Clear a block's live field; returns the slack it held. */
static inline uint64_t
bm_clear_live(struct heap *h, uint64_t off, uint64_t len)
{
	unsigned room = bm_room(h, len), sh = (unsigned)(off >> h->gshift) & 63;
	struct chunk *c = bm_chunk_at(h, off);

	if (c && sh + room + 1 <= 64) {
		uint64_t *lw = &LW(c, bm_word(h, off));
		uint64_t field = *lw >> sh & ((2ull << room) - 1);

		*lw &= ~(((2ull << room) - 1) << sh);	/* c keeps its start bit */
		return field >> 1 << (h->slack_bits - room);
	}
	return bm_clear_live_slow(h, off, len);
}

/*
 * The first extent start after granule gi and before granule gend, or gend.
 * c is gi's chunk (or NULL: nothing starts in it).  The rest of the chunk
 * is searched inline (its summary word skips empty words); the scan goes on
 * out of line only into the chunks after it.
 */
static inline uint64_t
bm_next_start_in(struct heap *h, const struct chunk *c, uint64_t gi,
		 uint64_t gend)
{
	uint64_t f;

	if (c) {
		unsigned w = (unsigned)(gi & (CHUNK_GRANULES - 1)) / 64;
		uint64_t bits = SW(c, w) & (~1ull << (gi & 63));

		if (!bits && (w = sw_next(c, w)) < CHUNK_WORDS)
			bits = SW(c, w);
		if (bits) {
			f = (gi & ~(uint64_t)(CHUNK_GRANULES - 1)) +
			    (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
			return f < gend ? f : gend;
		}
	}
	return bm_scan_forward(h, (gi | (CHUNK_GRANULES - 1)) + 1, gend);
}

/*
 * Is a live small block at off?  If so its length: the distance to the next
 * extent start before limit.
 */
static inline bool
bm_live_block(struct heap *h, uint64_t off, uint64_t limit, uint64_t *len)
{
	struct chunk *c = bm_chunk_at(h, off);
	uint64_t m = bm_mask(h, off), gend = limit >> h->gshift, f;
	unsigned w = bm_word(h, off);

	if (!c || !(SW(c, w) & m) || !(LW(c, w) & m))
		return false;
	f = bm_next_start_in(h, c, off >> h->gshift, gend);
	*len = (f < gend ? f << h->gshift : limit) - off;
	return true;
}

/* The first extent start after off and before limit (exclusive), or limit. */
static inline uint64_t
bm_next_start(struct heap *h, uint64_t off, uint64_t limit)
{
	uint64_t gi = off >> h->gshift, gend = limit >> h->gshift, f;

	f = bm_next_start_in(h, bm_chunk(h, gi >> CHUNK_SHIFT), gi, gend);
	return f < gend ? f << h->gshift : limit;
}

/*
 * The last extent start before off and at or after floor, or HEAP_OFF_NONE;
 * *live says whether a live small block starts there.  Like bm_next_start,
 * inline within the chunk, out of line into the chunks before it.
 */
static inline uint64_t
bm_prev_start(struct heap *h, uint64_t off, uint64_t floor, bool *live)
{
	uint64_t gi = off >> h->gshift, gfloor = floor >> h->gshift, top, f;
	struct chunk *c;

	if (gi <= gfloor)
		return HEAP_OFF_NONE;
	top = gi - 1;
	c = bm_chunk(h, top >> CHUNK_SHIFT);
	if (c) {
		unsigned w = (unsigned)(top & (CHUNK_GRANULES - 1)) / 64;
		uint64_t bits = SW(c, w) & (~0ull >> (63 - (top & 63)));

		if (!bits && (w = sw_prev(c, w)) < CHUNK_WORDS)
			bits = SW(c, w);
		if (bits) {
			unsigned b = 63 - (unsigned)__builtin_clzll(bits);

			f = (top & ~(uint64_t)(CHUNK_GRANULES - 1)) +
			    (uint64_t)w * 64 + b;
			if (f < gfloor)
				return HEAP_OFF_NONE;
			*live = LW(c, w) >> b & 1;
			return f << h->gshift;
		}
		top &= ~(uint64_t)(CHUNK_GRANULES - 1);
	}
	f = bm_scan_backward(h, top & ~63ull, gfloor, live);
	return f == UINT64_MAX ? HEAP_OFF_NONE : f << h->gshift;
}

/* heap_spans.c: live page spans. */
struct span *spans_find(struct heap *h, uint64_t start);
struct span *spans_containing(struct heap *h, uint64_t off);
struct span *spans_insert(struct heap *h, uint64_t start, uint64_t len,
			  uint64_t requested);
void spans_remove(struct heap *h, struct span *s);
void spans_destroy(struct heap *h);

/*
 * Is off worth looking up at all: inside the pool and on a granule?  And
 * the span that starts at off, or NULL.  A block is looked up by these on
 * the free path and in the resizing family (heap.c, heap_resize.c).
 */
static inline bool
plausible(const struct heap *h, uint64_t off)
{
	return off < h->max_size && (off & (h->g - 1)) == 0;
}

static inline struct span *
span_at(struct heap *h, uint64_t off)
{
	return (off & (h->page - 1)) == 0 ? spans_find(h, off) : NULL;
}

/* heap_dirty.c: dirty pages, retention and release. */
void dirty_mark_slow(struct heap *h, uint64_t off, uint64_t len);
void dirty_zero(struct heap *h, uint64_t off, uint64_t len);
void dirty_release_now(struct heap *h, uint64_t first, uint64_t end);
/* The free pages [first, end) were released by the owner itself. */
void dirty_forget(struct heap *h, uint64_t first, uint64_t end);
uint64_t dirty_pages_in(struct heap *h, uint64_t first, uint64_t end);
void dirty_retain(struct heap *h, uint64_t first, uint64_t end);
void dirty_retain_own(struct heap *h, uint64_t first, uint64_t end);
void dirty_retain_fit(struct heap *h);
void dirty_retain_fit_merged(struct heap *h);
void dirty_retain_fit_unmarked(struct heap *h, uint64_t off, uint64_t len);
bool dirty_retain_cut(struct heap *h, uint64_t max_pages);
uint64_t dirty_retain_excess(const struct heap *h);
uint64_t dirty_release_all_free(struct heap *h);
#define TRIM_RUNS 1024		/* runs (and stale bin entries) one trim step
				 * may look at */
bool dirty_trim_step(struct heap *h, uint64_t max_pages);
void dirty_destroy(struct heap *h);

/* heap_cache.c: freed small blocks kept for fast reuse. */
int cache_init(struct heap *h);
bool cache_flush(struct heap *h);
void cache_release(struct heap *h, uint64_t off);
bool cache_holds(struct heap *h, uint64_t off, uint64_t len);
void cache_destroy(struct heap *h);

/*
 * Is the extent at off, whose start bit is set and live bit clear, a cached
 * block?  Its mark: the live bit of its second granule, in the same word,
 * with no start bit there.
 */
static inline bool
bm_cached_in(const struct heap *h, const struct chunk *c, uint64_t off)
{
	unsigned b = (unsigned)(off >> h->gshift) & 63, w = bm_word(h, off);

	return b != 63 && (LW(c, w) & ~SW(c, w)) >> (b + 1) & 1;
}

static inline bool
bm_cached(struct heap *h, uint64_t off)
{
	struct chunk *c = bm_chunk_at(h, off);

	return c && bm_cached_in(h, c, off);
}

/*
 * The length of the cached block at off: to the next extent start, or to
 * the end of the pool when it is the last extent (then no start follows).
 */
static inline uint64_t
cache_len(struct heap *h, uint64_t off)
{
	uint64_t limit = off + ((uint64_t)CACHE_GRANULES << h->gshift);

	return bm_next_start(h, off, limit < h->max_size ? limit
							 : h->max_size) - off;
}

void *cache_stack(struct heap *h, struct block_cache *bc);

/*
 * Park the block [off, off + len) of chunk c, just taken out of the live
 * set (its live bits clear, its requested bytes uncounted; it stays held);
 * false when it cannot be cached and must go to the runs (heap_held_out).
 * Bounds: cache_limit blocks per size, and never more bytes than 1/16 of
 * the live bytes plus one page.  A block whose first granule ends a bitmap
 * word has no room for the mark there and is not cached.
 */
static inline bool
cache_push(struct heap *h, struct chunk *c, uint64_t off, uint64_t len)
{
	uint64_t n = len >> h->gshift, gi = off >> h->gshift;
	struct block_cache *bc = &h->cache[n < CACHE_GRANULES ? n
							      : CACHE_GRANULES];

	/* The block is on its way: heap_allocated still counts it. */
	if (n < 2 || n > CACHE_GRANULES || (gi & 63) == 63 ||
	    bc->count >= h->cache_limit ||
	    h->st.cached_bytes + len > (heap_allocated(h) - len) / 16 + h->page)
		return false;
	if (__builtin_expect(!bc->off, 0))
		bc->off = cache_stack(h, bc);
	LW(c, bm_word(h, off)) |= 2ull << (gi & 63);	/* the mark */
	bc->off[bc->count++] = off;
	h->st.cached_bytes += len;
	return true;
}

/*
 * Take a cached block of len bytes, unmarked; the caller sets it live (the
 * block stays held) or gives it to the runs (heap_held_out).
 */
static inline bool
cache_pop(struct heap *h, uint64_t len, uint64_t *off)
{
	uint64_t n = len >> h->gshift, p;
	struct block_cache *bc;
	struct chunk *c;

	if (n < 2 || n > CACHE_GRANULES)
		return false;
	bc = &h->cache[n];
	if (bc->count == 0)
		return false;
	p = bc->off[--bc->count];
	c = bm_chunk_at(h, p);
	assert(c && bm_cached_in(h, c, p));
	LW(c, bm_word(h, p)) &= ~(2ull << ((p >> h->gshift) & 63));
	h->st.cached_bytes -= len;
	*off = p;
	return true;
}

/*
 * Free the live small block [off, off + len) of chunk c, known to be one.
 * Inlined: every free that free_fast does not take (half of them on (b))
 * passes here, and its own frame saved six registers.  heap_realloc frees
 * the block it moved from by it too (heap_resize.c).
 */
static inline __attribute__((always_inline)) void
release_small(struct heap *h, struct chunk *c, uint64_t off, uint64_t len)
{
	uint64_t slack = bm_clear_live(h, off, len), pf, pe;

	h->st.requested_bytes -= len - slack;
	h->st.frees++;
	if (h->cache_limit && cache_push(h, c, off, len))
		return;
	heap_held_out(h, len);
	runs_give(h, off, len, &pf, &pe);
	if (pe > pf)
		dirty_retain(h, pf, pe);
}

/* Is the extent at p (start bit set, live bit clear) a page span? */
static inline bool
span_start(struct heap *h, uint64_t p)
{
	return h->st.spans && (p & (h->page - 1)) == 0 && spans_find(h, p);
}

/*
 * Is the byte at off, the first of a page no extent starts inside, in a
 * run?  The retention walk asks, with off's chunk c in hand (NULL when
 * nothing starts in it), once for every page or extent it judges: inline.
 * The extent over off starts at off or before it, nearly always in c,
 * where it is read with no further lookup; runs_cover_before looks
 * further back.
 */
static inline bool
runs_cover_in(struct heap *h, const struct chunk *c, uint64_t off)
{
	uint64_t gi = off >> h->gshift, bits = 0, p;
	uint64_t base = gi & ~(uint64_t)(CHUNK_GRANULES - 1);
	unsigned w = (unsigned)(gi - base) / 64, b;

	assert(!c || c->index == gi >> CHUNK_SHIFT);
	if (c) {
		bits = SW(c, w) & (~0ull >> (63 - (gi & 63)));
		if (!bits && (w = sw_prev(c, w)) < CHUNK_WORDS)
			bits = SW(c, w);
	}
	if (!bits)
		return runs_cover_before(h, off);
	b = 63 - (unsigned)__builtin_clzll(bits);
	p = (base + (uint64_t)w * 64 + b) << h->gshift;
	return !(LW(c, w) >> b & 1) && !bm_cached_in(h, c, p) &&
	       !span_start(h, p);
}

/*
 * Mark the pages under [off, off + len) dirty.  Most blocks land in the
 * stretch the last one marked; that case is decided here.
 */
static inline void
dirty_mark(struct heap *h, uint64_t off, uint64_t len)
{
	struct dirty *d = h->dirty_hint;

	if (d && (off >> h->pshift) >= d->first &&
	    (off + len - 1) >> h->pshift < d->end)
		return;
	dirty_mark_slow(h, off, len);
}

#endif /* POOLMGR_HEAP_INTERNAL_H */
