/*
 * heap.h - the poolmgr allocator engine.
 *
 * One heap manages one pool's offset space [0, max_size).  It never reads or
 * writes the pool's memory: all metadata lives in the calling process, and
 * the engine talks about memory only through offsets.  What the owner must do
 * to the memory (give pages back, zero bytes for calloc, copy bytes for a
 * moving realloc) it is told through the callbacks in heap_config.
 *
 * The engine does no I/O and takes no locks: one heap must be used by one
 * thread at a time (the daemon owns each heap from its event loop).
 *
 * Every function returns 0 or a positive count on success and a negative
 * errno-style code on failure; a failed call changes nothing but the
 * count of its failure.  One kind of change is left even so: a request
 * refused with -ENOMEM may first have merged the reuse caches into the
 * free runs, as it must before refusing (no live block changes, and
 * free plus cached bytes stay as they were), and given back pages that
 * merge freed.
 *
 *   -EINVAL     bad argument: size 0, alignment not a power of two, or an
 *               offset that is not the start of a live block (never
 *               allocated, interior offset, double free)
 *   -ENOMEM     no free run of the pool can hold the request now
 *   -EFBIG      the request is larger than the whole pool could ever hold
 *   -EOVERFLOW  nmemb * size (calloc) overflows
 *   -EAGAIN     heap_resize only: the block cannot change size in place
 *   -EBUSY      heap_reserve only: some byte of the block is not free
 *
 * See docs/design.md for the data structures and their invariants.
 */
#ifndef POOLMGR_HEAP_H
#define POOLMGR_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The null offset: never the start of a block. */
#define HEAP_OFF_NONE UINT64_MAX

/* Default large-request threshold: requests at or above it get page spans. */
#define HEAP_DEFAULT_LARGE_THRESHOLD (128u * 1024u)
#define HEAP_DEFAULT_GRANULARITY 16u

struct heap;

struct heap_config {
	uint64_t max_size;	  /* pool size in bytes; rounded up to pages */
	uint32_t granularity;	  /* power of two >= 8; 0 = 16 */
	uint32_t page_size;	  /* power of two; 0 = sysconf(_SC_PAGESIZE) */
	uint64_t large_threshold; /* bytes, rounded up to granules; 0 =
				   * 128 KiB; above 2^48 (any pool's
				   * size): no request is large */
	uint32_t retain_pages;	  /* dirty free pages of small blocks kept
				   * before giving them back, or 1/4 of the
				   * live pages if more; 0 = 256,
				   * HEAP_RETAIN_NONE = give back at once */
	uint32_t cache_blocks;	  /* freed small blocks kept per size class
				   * for fast reuse; 0 = 4, HEAP_CACHE_NONE
				   * = no cache */
	uint64_t retain_cut;	  /* bytes of kept pages one call gives
				   * back, at most, when the pool keeps more
				   * than retain_pages allows (the bound
				   * fell: a big block was freed or shrunk);
				   * the rest goes with later frees or
				   * heap_retain_step.  Rounded up to pages;
				   * 0 = 4 MiB, UINT64_MAX = no limit */

	/*
	 * release: the pages [off, off + len) are free; the owner should give
	 * them back to the OS (punch a hole).  off and len are page-aligned.
	 * Return 0 on success; on failure the pages stay counted as dirty.
	 */
	int (*release)(void *ctx, uint64_t off, uint64_t len);
	/* zero: calloc needs [off, off + len) zeroed (it may hold old data). */
	void (*zero)(void *ctx, uint64_t off, uint64_t len);
	/* copy: a moving heap_realloc needs len bytes copied from src to dst. */
	void (*copy)(void *ctx, uint64_t dst, uint64_t src, uint64_t len);
	void *ctx;
};

#define HEAP_RETAIN_NONE UINT32_MAX
#define HEAP_CACHE_NONE UINT32_MAX

/*
 * Size classes reported by heap_get_class_stats: class i holds blocks whose
 * rounded size is in [2^i, 2^(i+1)).
 */
#define HEAP_NCLASSES 64

struct heap_stats {
	uint64_t max_size;	  /* bytes managed */
	uint64_t page_size;
	uint64_t granularity;
	uint64_t large_threshold; /* requests of this many bytes or more are
				   * page spans: cfg's rounded up to granules
				   * (above the largest pool, one granule past
				   * it) */
	uint64_t allocated_bytes; /* bytes in live blocks (rounded sizes) */
	uint64_t requested_bytes; /* bytes the callers asked for */
	uint64_t live_blocks;
	uint64_t cached_bytes;	  /* freed blocks kept in the reuse caches */
	uint64_t cached_blocks;
	uint64_t free_bytes;	  /* bytes in free runs (cache excluded) */
	uint64_t free_runs;
	uint64_t largest_free;	  /* longest free run, bytes */
	uint64_t resident_bytes;  /* estimate: pages handed out since their
				   * last release */
	uint64_t released_bytes;  /* total given back through release() */
	uint64_t free_resident_bytes; /* wholly free pages not given back yet
				   * (kept for reuse): a trim releases them */
	uint64_t metadata_bytes;  /* daemon memory the engine uses */
	uint64_t allocs;	  /* successful allocations (all kinds) */
	uint64_t frees;		  /* successful frees */
	uint64_t failed_allocs;	  /* allocations refused with -ENOMEM */
	uint64_t invalid_frees;	  /* frees and reallocs refused with -EINVAL:
				   * off no live block's start */
	uint64_t cache_hits;	  /* allocations served from a cache */
	uint64_t spans;		  /* live page spans (large blocks) */
	uint64_t retain_bytes;	  /* the least free memory of small blocks
				   * kept for reuse (retain_pages); 0: none */
	uint64_t retain_excess_bytes; /* kept free pages over the bound, which
				   * heap_retain_step would give back (at
				   * most: some may not be queued) */
};

/* Usage of one size class. */
struct heap_class_stats {
	uint64_t min_size, max_size; /* rounded sizes the class holds */
	uint64_t live_blocks;
	uint64_t live_bytes;
	uint64_t allocs;
};

/*
 * heap_create - make a heap over [0, cfg->max_size).  Returns 0, -EINVAL for
 * a bad configuration (granularity not a power of two >= 8, granularity above
 * the page size, max_size 0 or above 2^48), or -ENOMEM.
 */
int heap_create(const struct heap_config *cfg, struct heap **out);

/* heap_destroy - free all metadata.  NULL is a no-op. */
void heap_destroy(struct heap *h);

/*
 * heap_alloc - allocate size bytes aligned to align (0 or any power of two;
 * the result is always aligned to the granularity, and page spans to the
 * page size).  Sizes round up to the granularity; sizes at or above the
 * large threshold round up to whole pages.  Never fails with -ENOMEM while a
 * free run of the pool could hold the request.
 */
int heap_alloc(struct heap *h, uint64_t size, uint64_t align, uint64_t *out);

/*
 * heap_calloc - allocate nmemb * size bytes, all zero.  Calls cfg->zero only
 * for the parts of the block that lie on pages that may hold old data.
 */
int heap_calloc(struct heap *h, uint64_t nmemb, uint64_t size, uint64_t *out);

/*
 * heap_free - free the block starting at off.  HEAP_OFF_NONE is a no-op.
 * Anything else that is not the start of a live block is -EINVAL.
 */
int heap_free(struct heap *h, uint64_t off);

/*
 * heap_resize - change the block at off to size bytes without moving it:
 * shrinking always works, growing works when the free space after the block
 * (free runs, and freed blocks in the reuse caches) is long enough.
 * Returns -EAGAIN (nothing changed) when the block would have to move,
 * including small blocks growing past the large threshold.
 */
int heap_resize(struct heap *h, uint64_t off, uint64_t size);

/*
 * heap_free_after - the free bytes right after the live block at off, in
 * *out: the free runs and cached blocks that follow it one after another,
 * the room heap_resize would grow it into.  The count stops once it
 * reaches max (the last run may take it past max), so that the look costs
 * at most max / (2 * granularity) steps however long the free space is.
 * -EINVAL when off is not the start of a live block.
 */
int heap_free_after(struct heap *h, uint64_t off, uint64_t max,
		    uint64_t *out);

/*
 * heap_free_released - heap_free for a large block (a page span) whose pages
 * the owner has already given back to the OS while the block was still
 * live, so that nobody could be handed them meanwhile: the engine counts
 * them as released (zero, not resident) and calls release only for the
 * dirty free pages around it that the free makes whole.  The owner can so
 * punch a big block out in slices, between other work, before freeing it.
 * -EINVAL if off is not the start of a live page span: nothing changes, not
 * even the count of invalid frees (which counts the clients' mistakes).
 */
int heap_free_released(struct heap *h, uint64_t off);

/*
 * heap_split - cut the live block at off in two live blocks, moving and
 * releasing nothing: the first, at off, keeps keep bytes rounded up as
 * heap_resize would round them (whole pages for a page span, granules for
 * a small block); the second, the tail, starts where the first now ends,
 * at *tail_off, and holds the rest, *tail_len bytes.  The tail of a page
 * span is a page span (of any number of pages), that of a small block a
 * small block; it holds the part of the block's request that lay in it.
 * The split counts as one allocation (of the tail), so that allocs minus
 * frees stays the number of live blocks.  An owner shrinking a big span
 * without punching its tail out at once splits it, punches the tail out
 * in slices, and frees it with heap_free_released.  -EINVAL, nothing
 * changed (no counter either): off is not the start of a live block, keep
 * is 0, or keep rounds up to the whole block (no tail to split off).
 */
int heap_split(struct heap *h, uint64_t off, uint64_t keep,
	       uint64_t *tail_off, uint64_t *tail_len);

/*
 * heap_realloc - realloc semantics: off == HEAP_OFF_NONE allocates; size 0
 * frees and stores HEAP_OFF_NONE; otherwise resizes in place when it can,
 * else allocates a new block, calls cfg->copy for the old contents and frees
 * the old block.  On failure the old block is untouched.  An off that is
 * not the start of a live block is -EINVAL, counted in invalid_frees as
 * heap_free counts it: the caller's mistake is the same.
 */
int heap_realloc(struct heap *h, uint64_t off, uint64_t size, uint64_t *out);

/*
 * heap_block_size - the size a block for a request of size bytes would
 * have (0 for size 0 or a size larger than the pool).  Lets the owner check
 * quotas before allocating.
 */
uint64_t heap_block_size(const struct heap *h, uint64_t size);

/* heap_usable_size - the rounded size of the live block at off. */
int heap_usable_size(struct heap *h, uint64_t off, uint64_t *out);

/* What the engine knows of one live block (heap_block_info). */
struct heap_block_info {
	uint64_t size;		/* usable bytes (heap_usable_size) */
	uint64_t requested;	/* bytes the caller asked for, as the stats
				 * count them */
	int span;		/* 1: a page span (large block), 0: a small
				 * block */
};

/*
 * heap_block_info - what the engine knows of the live block at off: 0, or
 * -EINVAL when off is not the start of a live block.  A small block's
 * requested is what its bits keep (requested_bytes counts the same): exact
 * but for tiny blocks, which keep only the high bits of their slack.
 */
int heap_block_info(struct heap *h, uint64_t off, struct heap_block_info *out);

/*
 * heap_next_block - the first live block that starts at *at or after it: 1,
 * with its offset in *at (heap_block_info tells the rest); 0 when there is
 * none.  Each extent the walk looks at takes one of *steps; when none is
 * left first, -EAGAIN with *at where to go on (above where it was, if
 * *steps was not 0).  A look only, for listings: O(log n) a step
 * (heap_walk.c).
 */
int heap_next_block(struct heap *h, uint64_t *at, unsigned *steps);

/*
 * heap_free_around - the free space around the live block at off: *start,
 * where the free runs and cached blocks right before it begin (the end of
 * the live block before it, or 0), and *end, where those right after it
 * end (the start of the live block after it, or the pool's end).  Were
 * the block freed, [*start, *end) would be free, one run once the caches
 * are merged.  -EINVAL when off is not the start of a live block.  A look
 * only: O(log n) a step, and the steps at most twice the cached blocks
 * around the block, plus four (heap_walk.c).
 */
int heap_free_around(struct heap *h, uint64_t off, uint64_t *start,
		     uint64_t *end);

/*
 * heap_fits - whether heap_alloc(size, align) would fit in [start, end)
 * were it one free run: the size rounded and the start aligned as the
 * engine would (whole pages on a page for sizes at or above the large
 * threshold).  false for size 0, a size beyond the pool or an align not
 * a power of two, as heap_alloc would refuse them.  The owner weighs what
 * freeing some blocks would make room for.
 */
bool heap_fits(const struct heap *h, uint64_t size, uint64_t align,
	       uint64_t start, uint64_t end);

/*
 * heap_reserve - make [off, off + bi->size) a live block of that kind,
 * size and requested, exactly as if an allocation had returned it: the
 * owner restores a heap, block by block, after a restart in place.  Its
 * pages count as touched (calloc zeroes them when they are reused), and
 * the statistics count it as an allocation, except the event counters
 * (allocs, per-class allocs): the owner restores those itself
 * (heap_events_restore).  Cached blocks are free space: those the block
 * covers are merged into the runs first.  O(log n) in the runs, spans and
 * dirty stretches, plus the cached blocks it covers.
 *
 *   -EINVAL  bi->span not 0 or 1; size 0 or not a size the engine makes
 *            for that kind (a span: whole pages; a small block: granules,
 *            at most the large threshold); off not aligned to the page
 *            (span) or the granularity; the block past the pool's end;
 *            requested 0, above size, or a page (span) or a granule
 *            (small block) or more below it
 *   -EBUSY   some byte of it is live (nothing changed)
 *   -ENOMEM  no daemon memory for the block's books: no block made, the
 *            free space as it was (the cached blocks it covers may have
 *            been merged), and the call can be made again.  Any other
 *            call takes running out of that memory as fatal.
 */
int heap_reserve(struct heap *h, uint64_t off,
		 const struct heap_block_info *bi);

/*
 * heap_trim - flush the caches and release every dirty free page now.
 * Returns the number of bytes released.
 */
int64_t heap_trim(struct heap *h);

/*
 * heap_top - the high-water mark: the highest end of a block handed out,
 * brought down by a trim (heap_trim, or the last heap_trim_step) to the
 * end of the last block when the free space after that runs to the
 * pool's end.  Not rounded to a page.  No live or cached block ends above
 * it (invariant 8), and a block handed out above it raises it: so the
 * owner may make [heap_top, max_size) read zero (punch it) without
 * telling the engine, as long as no call of the engine comes between the
 * look and the punch.  Pages there that the engine has as dirty (freed
 * behind a trim in steps) stay so in its books, and are released again
 * later, a punch over a hole.  O(1), a look only.
 */
uint64_t heap_top(const struct heap *h);

/*
 * heap_trim_step - heap_trim a step at a time, for an owner that must not
 * stop for all of it at once.  The first call flushes the caches; each
 * later one releases at most max bytes (rounded up to pages; at least one
 * page) of dirty free pages, and a short run (256 granules at most) it
 * reached whole, and looks at no more than 1024 free runs, going on where
 * the last one stopped: the long free runs in address order, then the
 * short ones.  The runs it passes over count too: a run shorter than a
 * page, which has nothing to release (at granularity 8 a long run can
 * be), and a stale entry of a short run's bin.  Returns 1 while the trim
 * goes on, 0 when it has looked at every run or no dirty free page is
 * left anywhere (the next call begins a new trim).
 *
 * The heap may change in any way between steps.  A trim in steps releases
 * every page that was free and dirty when it began and stayed free, except
 * that a short run split or merged meanwhile may be missed; pages freed
 * behind it are retained as after any free.  heap_trim ends a trim in
 * steps: it does all of it.
 */
int heap_trim_step(struct heap *h, uint64_t max);

/*
 * heap_retain_step - bring the free pages kept for reuse back within their
 * bound a step at a time.  The bound follows the live pages (retain_pages),
 * so freeing or shrinking a big block can leave the pool keeping far more
 * than it may; the call that did gives back at most retain_cut bytes of
 * that, and each later free of a small block a little more.  A step gives
 * back the oldest kept pages, a freed block's pages at a time, while the
 * pool is over its bound, until max bytes (rounded up to pages; at least
 * one page) have gone back: at most max plus the pages of one small block
 * (the large threshold and two pages).  It looks at no more than 1024
 * queued ranges.  Returns 1 while the pool keeps more than its bound and
 * has queued pages left to give back, 0 otherwise (at once when it is
 * within its bound, but for an amortized halving of the queue).  heap_trim gives back everything anyway.
 */
int heap_retain_step(struct heap *h, uint64_t max);

/*
 * heap_set_retain_cut - change retain_cut (see struct heap_config): what
 * one call may give back, from the next call on.
 */
void heap_set_retain_cut(struct heap *h, uint64_t bytes);

/*
 * heap_set_retain_pages - change retain_pages (see struct heap_config):
 * the bound on the free pages kept for reuse, from the next call on.  It
 * gives nothing back itself, so that its cost is bounded however much a
 * lowered bound leaves kept over it: the owner gives that back with
 * heap_retain_step (later frees and trims give it back too).  Returns what
 * heap_retain_step would: 1 while the pool keeps more than its new bound
 * with queued pages, else 0.
 */
int heap_set_retain_pages(struct heap *h, uint32_t pages);

/*
 * heap_set_retain_hold - while on, the pages of small blocks that become
 * free are only queued for reuse: no call gives any of them back, however
 * far over its bound the pool keeps (the queue grows as it must), and no
 * call cuts what the pool keeps.  Spans still give their own pages back
 * at once.  The owner that must bound what one stretch of calls gives
 * back (many frees in one request) holds, then gives the excess back with
 * heap_retain_step.  heap_retain_step and the trims work as ever.  Returns
 * what heap_retain_step would: 1 while the pool keeps more than its bound
 * with queued pages, else 0.
 */
int heap_set_retain_hold(struct heap *h, int on);

/*
 * heap_check - walk all metadata and verify every invariant.  Returns 0, or
 * -EFAULT with a description of the first violation in msg, or -ENOMEM if
 * there was no memory to check with.
 */
int heap_check(struct heap *h, char *msg, size_t msglen);

void heap_get_stats(struct heap *h, struct heap_stats *out);
/* heap_allocated_bytes - the stats' allocated_bytes alone, in O(1). */
uint64_t heap_allocated_bytes(const struct heap *h);
/*
 * heap_largest_free - the longest free run's bytes (heap_stats'
 * largest_free; cached blocks not counted): O(log n), a look only.
 */
uint64_t heap_largest_free(struct heap *h);

/*
 * The event counters (allocs, frees, cache hits, allocations per class), for
 * a caller that undoes a group of calls it presents as one refused request:
 * heap_events_save before the group, heap_events_restore after the undo, and
 * the counters say nothing happened.  failed_allocs is not restored: the
 * refusal did happen.
 */
struct heap_events {
	uint64_t allocs, frees, cache_hits;
	uint64_t class_allocs[HEAP_NCLASSES];
};

void heap_events_save(const struct heap *h, struct heap_events *ev);
/* ev must be as heap_events_save makes them (heap_events_check). */
void heap_events_restore(struct heap *h, const struct heap_events *ev);
/*
 * heap_events_check - could heap_events_save have made ev?  allocs is the
 * sum of the per-class counts, and only the classes the engine counts are
 * not 0.  Counters handed over from elsewhere (a restart in place) are
 * checked with it before heap_events_restore, which asserts it.  0, or
 * -EINVAL.
 */
int heap_events_check(const struct heap_events *ev);

/* heap_get_class_stats - usage of class i < HEAP_NCLASSES; -EINVAL past it */
int heap_get_class_stats(struct heap *h, unsigned i,
			 struct heap_class_stats *out);

/* heap_strerror - text for one of the codes above. */
const char *heap_strerror(int err);

#endif /* POOLMGR_HEAP_H */
