/*
 * test_heap_rules.c - the engine's numbered rules (docs/design.md), one
 * group of cmocka tests per rule, the classic lab cases of rule 4 spelled
 * out one by one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "heap.h"
#include "heap_internal.h"
#include "heap_owner.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

/* ---- rule 1: buddy for pages, bins for blocks ---------------------------- */

static void
large_request_is_page_granular(void **state)
{
	struct heap *h = make(1 * MiB, 0, 0, 0);
	uint64_t a, b;

	(void)state;
	a = alloc_ok(h, 128 * KiB + 1);
	assert_int_equal(a % PAGE, 0);
	assert_int_equal(usable(h, a), 128 * KiB + PAGE);	/* 33 pages */
	/* The tail of the 64-page buddy block was split off, not wasted. */
	b = alloc_ok(h, 1 * MiB - 128 * KiB - PAGE);
	assert_int_equal(stats(h).free_bytes, 0);
	check_ok(h);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(stats(h).largest_free, 1 * MiB);
	assert_int_equal(stats(h).free_runs, 1);
	check_ok(h);
	heap_destroy(h);
}

static void
spans_split_and_coalesce(void **state)
{
	struct heap *h = make(1 * MiB, 0, 0, 0);
	uint64_t s[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		s[i] = alloc_ok(h, 256 * KiB);
		assert_int_equal(s[i], (uint64_t)i * 256 * KiB);
	}
	check_ok(h);
	/* Free in an order that needs every merge. */
	assert_int_equal(heap_free(h, s[1]), 0);
	assert_int_equal(heap_free(h, s[2]), 0);
	assert_int_equal(stats(h).largest_free, 512 * KiB);
	assert_int_equal(heap_free(h, s[0]), 0);
	assert_int_equal(heap_free(h, s[3]), 0);
	assert_int_equal(stats(h).largest_free, 1 * MiB);
	check_ok(h);
	/* The whole pool is one buddy block again: a full-size span fits. */
	s[0] = alloc_ok(h, 1 * MiB);
	assert_int_equal(s[0], 0);
	heap_destroy(h);
}

static void
span_fits_run_that_is_not_buddy_aligned(void **state)
{
	/* Threshold of one page: every page-sized request is a span. */
	struct heap *h = make(4 * PAGE, 0, PAGE, 0);
	uint64_t p[4], two;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		p[i] = alloc_ok(h, PAGE);
	assert_int_equal(heap_free(h, p[1]), 0);
	assert_int_equal(heap_free(h, p[2]), 0);
	/* Pages 1-2 are free but are not a buddy pair: a pure buddy says no. */
	two = alloc_ok(h, 2 * PAGE);
	assert_int_equal(two, PAGE);
	check_ok(h);
	heap_destroy(h);
}

static void
small_blocks_come_from_bins(void **state)
{
	struct heap *h = make(64 * KiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t a, b, c;

	(void)state;
	a = alloc_ok(h, 100);
	b = alloc_ok(h, 3000);
	c = alloc_ok(h, 5000);	/* sub-threshold, above a page: no rounding */
	assert_int_equal(usable(h, a), 112);
	assert_int_equal(usable(h, b), 3008);
	assert_int_equal(usable(h, c), 5008);
	assert_int_equal(b, a + 112);
	assert_int_equal(c, b + 3008);
	assert_int_equal(stats(h).spans, 0);
	check_ok(h);
	heap_destroy(h);
}

/* ---- rule 2: out-of-band metadata ------------------------------------- */

static void
whole_pool_is_usable(void **state)
{
	struct heap *h = make(64 * KiB, 8, 0, HEAP_CACHE_NONE);
	uint64_t off, n = 0;

	(void)state;
	/* One block covering every byte ... */
	off = alloc_ok(h, 64 * KiB);
	assert_int_equal(off, 0);
	assert_int_equal(heap_free(h, off), 0);
	/* ... or 8192 blocks of 8 bytes: no headers between them. */
	while (heap_alloc(h, 8, 0, &off) == 0)
		n++;
	assert_int_equal(n, 64 * KiB / 8);
	check_ok(h);
	heap_destroy(h);
}

static void
metadata_of_huge_pool_follows_use(void **state)
{
	struct heap *h = make(1 * TiB, 0, 0, 0);
	uint64_t a, b;

	(void)state;
	a = alloc_ok(h, 64);
	assert_true(stats(h).metadata_bytes < 1 * MiB);
	b = alloc_ok(h, 100 * GiB);
	assert_true(stats(h).metadata_bytes < 1 * MiB);
	printf("1 TiB pool, one 64 B block and one 100 GiB span: %llu bytes "
	       "of metadata\n", (unsigned long long)stats(h).metadata_bytes);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, a), 0);
	check_ok(h);
	heap_destroy(h);
}

/* ---- rule 3: granularity and alignment -------------------------------- */

static void
granularity_rounds_and_aligns(void **state)
{
	static const uint32_t gs[] = {8, 16, 32, 64, 4096};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
		struct heap *h = make(1 * MiB, gs[i], 0, 0);
		uint64_t a = alloc_ok(h, 1), b = alloc_ok(h, gs[i] + 1);

		assert_int_equal(usable(h, a), gs[i]);
		assert_int_equal(usable(h, b), 2 * gs[i]);
		assert_int_equal(a % gs[i], 0);
		assert_int_equal(b % gs[i], 0);
		check_ok(h);
		heap_destroy(h);
	}
}

/*
 * Pages, and granules, of 256 KiB: the default threshold (128 KiB) lies
 * inside one granule, and is taken as that granule.  Requests below it
 * are small blocks of one granule, the others spans, and every block's
 * end is where the next extent starts.
 */
static void
granule_above_the_default_threshold(void **state)
{
	struct heap_config cfg = {
		.max_size = 16 * MiB, .granularity = 256 * KiB,
		.page_size = 256 * KiB,
	};
	struct heap_stats st;
	uint64_t a, b, c;
	struct heap *h;

	(void)state;
	assert_int_equal(heap_create(&cfg, &h), 0);
	a = alloc_ok(h, 100);
	b = alloc_ok(h, 200 * KiB);
	c = alloc_ok(h, 300 * KiB);
	check_ok(h);
	assert_int_equal(usable(h, a), 256 * KiB);
	assert_int_equal(usable(h, b), 256 * KiB);
	assert_int_equal(usable(h, c), 512 * KiB);
	st = stats(h);
	assert_int_equal(st.spans, 1);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A threshold above the pool makes every request small, however far above
 * it is: near 2^64 its rounding to granules wrapped to 0 (every request a
 * page span), or a small block's end was looked for past 2^64 (lengths
 * near 2^64).
 */
static void
threshold_above_the_pool_makes_no_spans(void **state)
{
	const uint64_t thresholds[] = {UINT64_MAX, UINT64_MAX - 64 * KiB,
				       2 * MiB};
	uint64_t off[40], whole;
	unsigned i, k;

	(void)state;
	for (k = 0; k < sizeof(thresholds) / sizeof(thresholds[0]); k++) {
		struct heap *h = make(1 * MiB, 0, thresholds[k], 0);

		assert_int_equal(heap_block_size(h, 200000), 200000);
		for (i = 0; i < 40; i++) {
			off[i] = alloc_ok(h, 4000);
			assert_int_equal(usable(h, off[i]), 4000);
		}
		assert_true(off[39] > 64 * KiB);
		assert_int_equal(stats(h).spans, 0);
		check_ok(h);
		for (i = 0; i < 40; i++)
			assert_int_equal(heap_free(h, off[i]), 0);
		whole = alloc_ok(h, 1 * MiB);
		assert_int_equal(usable(h, whole), 1 * MiB);
		assert_int_equal(stats(h).spans, 0);
		check_ok(h);
		assert_int_equal(heap_free(h, whole), 0);
		check_ok(h);
		heap_destroy(h);
	}
}

/*
 * The threshold the engine works with, in the stats, is what its owner
 * takes for its own (the daemon's pool did the rounding itself, and would
 * have wrapped a threshold near 2^64 to 0): the configured one rounded up
 * to granules, the default for 0, and one granule past the largest pool
 * for anything above it.  A request of it is a span where the pool can
 * hold one, a granule less is not.
 */
static void
threshold_reported_as_used(void **state)
{
	const uint64_t in[] = {0, 100, 128 * KiB + 1, 2 * MiB, UINT64_MAX,
			       UINT64_MAX - 64 * KiB, (1ull << 48) + 1};
	const uint64_t out[] = {128 * KiB, 112, 128 * KiB + 16, 2 * MiB,
				(1ull << 48) + 16, (1ull << 48) + 16,
				(1ull << 48) + 16};
	unsigned k;

	(void)state;
	for (k = 0; k < sizeof(in) / sizeof(in[0]); k++) {
		struct heap *h = make(4 * MiB, 16, in[k], 0);
		uint64_t t = stats(h).large_threshold;

		assert_int_equal(t, out[k]);
		if (t <= 4 * MiB) {
			assert_int_equal(heap_block_size(h, t),
					 (t + PAGE - 1) / PAGE * PAGE);
			assert_int_equal(heap_block_size(h, t - 16), t - 16);
		}
		heap_destroy(h);
	}
}

static void
bad_granularity_refused(void **state)
{
	struct heap_config cfg = {.max_size = MiB, .page_size = PAGE};
	struct heap *h;

	(void)state;
	cfg.granularity = 4;
	assert_int_equal(heap_create(&cfg, &h), -EINVAL);
	cfg.granularity = 24;
	assert_int_equal(heap_create(&cfg, &h), -EINVAL);
	cfg.granularity = 8192;	/* above the page */
	assert_int_equal(heap_create(&cfg, &h), -EINVAL);
	cfg.granularity = 16;
	cfg.max_size = 0;
	assert_int_equal(heap_create(&cfg, &h), -EINVAL);
}

static void
aligned_allocations(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, 0);
	uint64_t align, off;

	(void)state;
	alloc_ok(h, 24);	/* knock everything off page alignment */
	for (align = 1; align <= 8 * MiB; align <<= 1) {
		assert_int_equal(heap_alloc(h, 40, align, &off), 0);
		assert_int_equal(off % align, 0);
		assert_int_equal(heap_alloc(h, 200 * KiB, align, &off), 0);
		assert_int_equal(off % align, 0);
		assert_int_equal(off % PAGE, 0);
		check_ok(h);
	}
	assert_int_equal(heap_alloc(h, 40, 3, &off), -EINVAL);
	assert_int_equal(heap_alloc(h, 40, 48, &off), -EINVAL);
	heap_destroy(h);
}

static void
aligned_request_uses_only_run_that_fits(void **state)
{
	/* A 4 KiB pool, granularity 8: free runs at 8..1024 and 2048..4096. */
	struct heap *h = make(PAGE, 8, 0, HEAP_CACHE_NONE);
	uint64_t a, b, off;

	(void)state;
	a = alloc_ok(h, 8);
	alloc_ok(h, 1016);		/* 8..1024 */
	b = alloc_ok(h, 1024);		/* 1024..2048 */
	alloc_ok(h, 2048);		/* 2048..4096 */
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, a), 0);
	/* 1024 bytes aligned to 1024: only the run at 1024 qualifies. */
	assert_int_equal(heap_alloc(h, 1024, 1024, &off), 0);
	assert_int_equal(off, 1024);
	assert_int_equal(heap_alloc(h, 8, 16, &off), 0);
	assert_int_equal(off, 0);
	check_ok(h);
	heap_destroy(h);
}

/* ---- rule 4: exactness, the lab cases ---------------------------------- */

static struct heap *
lab_pool(void)
{
	/* One 4 KiB page, granularity 8, caches on (the default). */
	return make(PAGE, 8, 0, 0);
}

static void
request_just_below_threshold_stays_small(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	uint64_t a, b;

	(void)state;
	/* 131071 rounds up to the threshold but is not a span request. */
	a = alloc_ok(h, 128 * KiB - 1);
	assert_int_equal(usable(h, a), 128 * KiB);
	assert_int_equal(stats(h).spans, 0);
	b = alloc_ok(h, 16);
	assert_int_equal(b, a + 128 * KiB);
	assert_int_equal(heap_realloc(h, b, 128 * KiB - 8, &b), 0);
	check_ok(h);
	heap_destroy(h);
}

static void
trim_counts_what_the_cache_flush_released(void **state)
{
	struct heap_config cfg = {
		.max_size = MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
	};
	struct heap *h;
	uint64_t a;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	a = alloc_ok(h, 100);
	assert_int_equal(heap_free(h, a), 0);	/* cached: page stays */
	assert_int_equal(heap_trim(h), PAGE);
	assert_int_equal(own.released, PAGE);
	heap_destroy(h);
}

static void
lab_one_4096_block_fits(void **state)
{
	struct heap *h = lab_pool();
	uint64_t off;

	(void)state;
	off = alloc_ok(h, 4096);
	assert_int_equal(off, 0);
	assert_int_equal(heap_alloc(h, 1, 0, &off), -ENOMEM);
	check_ok(h);
	heap_destroy(h);
}

static void
lab_512_blocks_of_8_fit(void **state)
{
	struct heap *h = lab_pool();
	uint64_t off, seen[512];
	int i;

	(void)state;
	for (i = 0; i < 512; i++) {
		seen[i] = alloc_ok(h, 8);
		assert_int_equal(seen[i] % 8, 0);
		if (i)
			assert_int_not_equal(seen[i], seen[i - 1]);
	}
	assert_int_equal(heap_alloc(h, 8, 0, &off), -ENOMEM);
	assert_int_equal(stats(h).allocated_bytes, 4096);
	check_ok(h);
	heap_destroy(h);
}

static void
lab_freed_block_serves_smaller_and_keeps_rest(void **state)
{
	struct heap *h = lab_pool();
	uint64_t a, b, c, off;

	(void)state;
	a = alloc_ok(h, 1000);	/* N1 */
	alloc_ok(h, 3096);	/* the rest of the page */
	assert_int_equal(heap_free(h, a), 0);
	b = alloc_ok(h, 600);	/* N2 <= N1: in N1's place */
	assert_int_equal(b, a);
	c = alloc_ok(h, 400);	/* N1 - N2 still there */
	assert_int_equal(c, a + 600);
	assert_int_equal(heap_alloc(h, 8, 0, &off), -ENOMEM);
	check_ok(h);
	heap_destroy(h);
}

static void
lab_adjacent_free_blocks_merge(void **state)
{
	struct heap *h = lab_pool();
	uint64_t a, b, c, off;

	(void)state;
	a = alloc_ok(h, 1000);
	b = alloc_ok(h, 1000);
	c = alloc_ok(h, 1000);
	alloc_ok(h, 1096);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(heap_free(h, c), 0);
	/* 1000 + 1000 free, but apart: 1500 does not fit anywhere. */
	assert_int_equal(heap_alloc(h, 1500, 0, &off), -ENOMEM);
	assert_int_equal(heap_free(h, b), 0);
	/* Now a, b and c are one run: N1 + N2 + N3 fits. */
	off = alloc_ok(h, 3000);
	assert_int_equal(off, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * Rule 5 with caches on: a block parked in a cache never makes the pool
 * grow.  A request that only the untouched space above the high-water mark
 * could hold merges the caches first, and lands in the hole they leave.
 */
static void
caches_merged_before_the_footprint_grows(void **state)
{
	struct heap *h = make(1 << 20, 16, 0, 0);
	uint64_t x[8], off;
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		x[i] = alloc_ok(h, 32);
		assert_int_equal(x[i], (uint64_t)i * 32);
	}
	assert_int_equal(heap_free(h, x[2]), 0);
	assert_int_equal(heap_free(h, x[3]), 0);
	assert_int_equal(stats(h).cached_blocks, 2);
	/* A cached size is still served from its cache, in place. */
	assert_int_equal(heap_free(h, x[5]), 0);
	assert_int_equal(alloc_ok(h, 32), x[5]);
	assert_int_equal(stats(h).cache_hits, 1);
	/* 64 bytes fit only above offset 256 until x[2] and x[3] merge. */
	off = alloc_ok(h, 64);
	assert_int_equal(off, 64);
	assert_int_equal(stats(h).cached_blocks, 0);
	assert_int_equal(alloc_ok(h, 16), 256);	/* the top moves only now */
	check_ok(h);
	/* After a trim the mark comes down to the last block's end. */
	assert_int_equal(alloc_ok(h, 1024), 272);	/* top: 1296 */
	assert_int_equal(heap_free(h, 256), 0);
	assert_int_equal(heap_free(h, 272), 0);
	assert_true(heap_trim(h) >= 0);
	check_ok(h);
	assert_int_equal(heap_free(h, x[7]), 0);	/* cached, at 224 */
	assert_int_equal(stats(h).cached_blocks, 1);
	assert_int_equal(alloc_ok(h, 48), 224);		/* not 256 */
	assert_int_equal(stats(h).cached_blocks, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * Merging the caches is done only when it might make room: a span that
 * must go above the high-water mark in a pool of small blocks, and a
 * request that must fail, leave the cached blocks where they are.
 */
/*
 * The caches merged for a request that would raise the mark free a page
 * the request then takes: it is not given back on the way, even where the
 * pool keeps no free page (a hole punched, then faulted in again at once).
 */
static void
caches_merged_for_a_request_punch_no_page_it_takes(void **state)
{
	struct heap_config cfg = {
		.max_size = MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
	};
	struct heap *h;
	uint64_t b, f, x;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	alloc_ok(h, PAGE);
	b = alloc_ok(h, 1024);		/* the second page: b, then f */
	f = alloc_ok(h, PAGE - 1024);
	alloc_ok(h, 64);		/* the mark, in the third page */
	assert_int_equal(heap_free(h, f), 0);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(stats(h).cached_blocks, 1);
	assert_int_equal(own.nrelease, 0);
	/* Only the second page, b merged, holds a page below the mark. */
	x = alloc_ok(h, PAGE);
	assert_int_equal(x, PAGE);
	assert_int_equal(stats(h).cached_blocks, 0);
	assert_int_equal(own.nrelease, 0);
	assert_int_equal(stats(h).resident_bytes, 3 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

static void
caches_kept_when_merging_cannot_help(void **state)
{
	static const uint64_t sizes[4] = {512, 256, 192, 64};
	struct heap *h = make(1 << 20, 16, 0, 0);
	uint64_t x[8], y[16], off;
	int i;

	(void)state;
	for (i = 0; i < 8; i++)
		x[i] = alloc_ok(h, 32);
	assert_int_equal(heap_free(h, x[2]), 0);
	assert_int_equal(heap_free(h, x[3]), 0);
	assert_int_equal(stats(h).cached_blocks, 2);
	/* 64 cached bytes and nothing free below offset 256, the mark: no
	 * merge could free the page below the mark. */
	off = alloc_ok(h, 256 * KiB);
	assert_int_equal(off, 256 * KiB);	/* the buddy's block */
	assert_int_equal(stats(h).cached_blocks, 2);
	check_ok(h);
	/* More than all free and cached bytes: refused, caches untouched. */
	assert_int_equal(heap_alloc(h, 1 * MiB - 256 * KiB, 0, &off), -ENOMEM);
	assert_int_equal(stats(h).cached_blocks, 2);
	check_ok(h);
	heap_destroy(h);

	/* A page of blocks, all cached, below the mark: merged, they free
	 * that page and the span starts there. */
	h = make(1 << 20, 16, 0, 0);
	for (i = 0; i < 16; i++)	/* four of each size: the cache's depth */
		y[i] = alloc_ok(h, sizes[i / 4]);
	assert_int_equal(stats(h).allocated_bytes, PAGE);
	for (i = 0; i < 16; i++)
		assert_int_equal(heap_free(h, y[i]), 0);
	assert_int_equal(stats(h).cached_blocks, 16);
	assert_int_equal(alloc_ok(h, 256 * KiB), 0);
	assert_int_equal(stats(h).cached_blocks, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A caller that undoes a group of calls (the daemon's refused AllocBatch)
 * puts the event counters back: allocs, frees, cache hits and per-class
 * allocs read as before the group; the blocks' own counters are back by
 * the undo itself, and a refusal stays counted.
 */
static void
event_counters_restore_after_an_undo(void **state)
{
	struct heap *h = make(1 << 20, 16, 0, 0);
	struct heap_class_stats before_cls, after_cls;
	struct heap_stats before, after;
	struct heap_events ev;
	uint64_t x[4], off;
	int i;

	(void)state;
	x[0] = alloc_ok(h, 100);
	assert_int_equal(heap_free(h, x[0]), 0);	/* cached */
	before = stats(h);
	assert_int_equal(heap_get_class_stats(h, 6, &before_cls), 0);
	heap_events_save(h, &ev);
	for (i = 0; i < 4; i++)
		x[i] = alloc_ok(h, 100);		/* one is a cache hit */
	assert_int_equal(heap_alloc(h, 1 << 20, 0, &off), -ENOMEM);
	for (i = 0; i < 4; i++)
		assert_int_equal(heap_free(h, x[i]), 0);
	heap_events_restore(h, &ev);
	after = stats(h);
	assert_int_equal(heap_get_class_stats(h, 6, &after_cls), 0);
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(after.cache_hits, before.cache_hits);
	assert_int_equal(after.failed_allocs, before.failed_allocs + 1);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after_cls.allocs, before_cls.allocs);
	assert_int_equal(after_cls.live_blocks, before_cls.live_blocks);
	check_ok(h);
	heap_destroy(h);
}

static void
lab_caches_flushed_before_refusing(void **state)
{
	struct heap *h = lab_pool();
	uint64_t offs[256], off;
	int i;

	(void)state;
	/* 16-byte blocks: a block of one granule has no room for the mark. */
	for (i = 0; i < 256; i++)
		offs[i] = alloc_ok(h, 16);
	for (i = 0; i < 256; i++)
		assert_int_equal(heap_free(h, offs[i]), 0);
	assert_true(stats(h).cached_blocks > 0);
	/* Cached blocks must be merged back before 4096 is refused. */
	off = alloc_ok(h, 4096);
	assert_int_equal(off, 0);
	assert_int_equal(stats(h).cached_blocks, 0);
	check_ok(h);
	heap_destroy(h);
}

static void
lab_refusal_only_when_nothing_fits(void **state)
{
	struct heap *h = lab_pool();
	uint64_t blk[8], off;
	int i;

	(void)state;
	for (i = 0; i < 8; i++)
		blk[i] = alloc_ok(h, 512);
	/* Free every other block: 4 runs of 512, none touching. */
	for (i = 0; i < 8; i += 2)
		assert_int_equal(heap_free(h, blk[i]), 0);
	assert_int_equal(heap_alloc(h, 520, 0, &off), -ENOMEM);
	assert_int_equal(stats(h).failed_allocs, 1);
	off = alloc_ok(h, 512);
	assert_int_equal(off % 1024, 0);
	check_ok(h);
	heap_destroy(h);
}

/* ---- rule 5: on demand, and given back -------------------------------- */

static void
placement_prefers_low_addresses(void **state)
{
	struct heap *h = make(16 * MiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t a, b, c, d;

	(void)state;
	a = alloc_ok(h, 64);
	b = alloc_ok(h, 64);
	c = alloc_ok(h, 64);
	assert_true(a < b && b < c && c == 128);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(heap_free(h, c), 0);
	/* Both holes fit: the lower one is taken, the pool's top stays cold. */
	d = alloc_ok(h, 48);
	assert_int_equal(d, 0);
	assert_true(stats(h).resident_bytes <= PAGE);
	heap_destroy(h);
}

static void
large_span_released_at_once(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, 0);
	uint64_t a;

	(void)state;
	a = alloc_ok(h, 8 * MiB);
	assert_int_equal(stats(h).resident_bytes, 8 * MiB);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(own.released, 8 * MiB);
	assert_int_equal(stats(h).resident_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The owner may punch a large block out itself while it is still live (the
 * daemon does so in slices between requests) and then free it with
 * heap_free_released: the engine counts those pages released and clean,
 * asks for no release of them, but still gives back the dirty free pages
 * around it that the free makes whole.  Anything but a live span is -EINVAL
 * with nothing changed.
 */
static void
span_freed_after_the_owner_released_it(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, HEAP_CACHE_NONE);
	struct heap_stats before;
	uint64_t a, b, small, again;
	char msg[256];

	(void)state;
	small = alloc_ok(h, 1024);
	a = alloc_ok(h, 8 * MiB);
	assert_int_equal(stats(h).resident_bytes, 8 * MiB + PAGE);

	/* Not a span, and not a block at all: refused, nothing changed. */
	before = stats(h);
	assert_int_equal(heap_free_released(h, small), -EINVAL);
	assert_int_equal(heap_free_released(h, a + PAGE), -EINVAL);
	assert_int_equal(heap_free_released(h, 64 * MiB), -EINVAL);
	assert_int_equal(stats(h).live_blocks, before.live_blocks);
	assert_int_equal(stats(h).resident_bytes, before.resident_bytes);
	assert_int_equal(stats(h).invalid_frees, before.invalid_frees);
	assert_int_equal(own.nrelease, 0);

	assert_int_equal(heap_free_released(h, a), 0);
	assert_int_equal(own.nrelease, 0);		/* the owner did it */
	assert_int_equal(stats(h).released_bytes, 8 * MiB);
	assert_int_equal(stats(h).resident_bytes, PAGE);
	assert_int_equal(stats(h).live_blocks, 1);
	assert_int_equal(heap_free_released(h, a), -EINVAL);	/* double */
	assert_int_equal(heap_check(h, msg, sizeof(msg)), 0);

	/* Its pages are known zero: calloc over them zeroes nothing. */
	assert_int_equal(heap_calloc(h, 1, 8 * MiB, &again), 0);
	assert_int_equal(again, a);
	assert_int_equal(own.nzero, 0);
	assert_int_equal(heap_free(h, again), 0);
	own.nrelease = 0;
	own.released = 0;

	/* The free pages next to it still go back: the small block's page,
	 * freed first and retained, is whole again only once the span after
	 * it is gone, and only that page is asked for. */
	b = alloc_ok(h, 8 * MiB);
	assert_int_equal(b, a);
	assert_int_equal(heap_free(h, small), 0);
	assert_int_equal(own.nrelease, 0);		/* retained */
	assert_int_equal(heap_free_released(h, b), 0);
	assert_int_equal(heap_trim(h), PAGE);
	assert_int_equal(own.released, PAGE);
	assert_int_equal(stats(h).resident_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

static void
small_pages_retained_then_trimmed(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, HEAP_CACHE_NONE);
	static uint64_t offs[4096];
	int i;

	(void)state;
	for (i = 0; i < 4096; i++)
		offs[i] = alloc_ok(h, 1024);	/* 4 MiB of small blocks */
	assert_int_equal(stats(h).resident_bytes, 4 * MiB);
	for (i = 0; i < 4096; i++)
		assert_int_equal(heap_free(h, offs[i]), 0);
	/* All but a bounded number (256 pages) went back by themselves. */
	assert_true(stats(h).resident_bytes <= 256 * PAGE);
	assert_true(own.released >= 4 * MiB - 256 * PAGE);
	assert_true(heap_trim(h) >= 0);
	assert_int_equal(stats(h).resident_bytes, 0);
	assert_int_equal(own.released, 4 * MiB);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The retention queue may hold a quarter of the live pages when that is
 * more than retain_pages (256): a pool churning megabytes of small blocks
 * keeps its warm pages, and the bound shrinks again with the live set.
 */
static void
retention_follows_live_pages(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, HEAP_CACHE_NONE);
	static uint64_t a[4096], b[4096];
	uint64_t span;
	int i;

	(void)state;
	span = alloc_ok(h, 8 * MiB);		/* 2048 pages, a span */
	for (i = 0; i < 4096; i++)
		a[i] = alloc_ok(h, 1024);	/* 1024 pages */
	for (i = 0; i < 4096; i++)
		b[i] = alloc_ok(h, 1024);	/* 1024 pages */
	assert_int_equal(stats(h).resident_bytes, 4096 * PAGE);
	for (i = 0; i < 4096; i++)
		assert_int_equal(heap_free(h, a[i]), 0);
	/* 3072 live pages: 768 of a's 1024 stay (a fixed 256 kept 256). */
	assert_int_equal(stats(h).resident_bytes, (3072 + 768) * PAGE);
	assert_int_equal(own.released, 256 * PAGE);
	check_ok(h);
	/* The span goes at once, and with 1024 live pages left the queue is
	 * cut back to 256 pages. */
	assert_int_equal(heap_free(h, span), 0);
	assert_int_equal(stats(h).resident_bytes, (1024 + 256) * PAGE);
	assert_int_equal(own.released, (256 + 2048 + 512) * PAGE);
	check_ok(h);
	assert_true(heap_trim(h) >= 0);
	assert_int_equal(stats(h).resident_bytes, 1024 * PAGE);
	for (i = 0; i < 4096; i++)
		assert_int_equal(heap_free(h, b[i]), 0);
	assert_int_equal(stats(h).resident_bytes, 256 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The setting of the two tests below: retain_cut 16 pages, no caches; an
 * 8 MiB span (2048 pages) and two sets of 4096 blocks of 1 KiB (1024
 * pages each), the first set freed: with 3072 live pages the queue keeps
 * 768 of its pages, one page a range.
 */
static struct heap *
make_cut_case(uint64_t *span, uint64_t *a, uint64_t *b)
{
	struct heap_config cfg = {
		.max_size = 64 * MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .cache_blocks = HEAP_CACHE_NONE,
		.retain_cut = 16 * PAGE,
	};
	struct heap *h;
	int i;

	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	*span = alloc_ok(h, 8 * MiB);
	for (i = 0; i < 4096; i++)
		a[i] = alloc_ok(h, 1024);
	for (i = 0; i < 4096; i++)
		b[i] = alloc_ok(h, 1024);
	for (i = 0; i < 4096; i++)
		assert_int_equal(heap_free(h, a[i]), 0);
	assert_int_equal(stats(h).free_resident_bytes, 768 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 0);
	assert_int_equal(own.released, 256 * PAGE);
	own.released = 0;
	return h;
}

/*
 * Freeing the span takes the bound from 768 pages down to 256: the pool
 * keeps 512 pages too many.  The free gives back retain_cut (16 pages) of
 * them, not all: a 3 GiB span freed this way gave back 767 MiB of kept
 * pages in one call.  heap_retain_step gives back the rest, max bytes a
 * step (rounded up to pages), and says when the pool is within its bound.
 */
static void
retention_cut_is_bounded_per_call(void **state)
{
	static uint64_t a[4096], b[4096];
	uint64_t span;
	struct heap *h = make_cut_case(&span, a, b);
	unsigned steps = 0;

	(void)state;
	assert_int_equal(heap_retain_step(h, PAGE), 0);	/* within */
	assert_int_equal(own.released, 0);
	assert_int_equal(heap_free_released(h, span), 0);
	assert_int_equal(own.released, 16 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 752 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 496 * PAGE);
	check_ok(h);
	assert_int_equal(heap_retain_step(h, 5 * PAGE), 1);
	assert_int_equal(own.released, 21 * PAGE);
	assert_int_equal(heap_retain_step(h, 1), 1);		/* a page */
	assert_int_equal(own.released, 22 * PAGE);
	while (heap_retain_step(h, 100 * PAGE))
		steps++;
	assert_int_equal(steps, 4);	/* 490 pages: 100 x 4, then 90 */
	assert_int_equal(own.released, 512 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 256 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 0);
	assert_int_equal(heap_retain_step(h, 100 * PAGE), 0);
	assert_int_equal(own.released, 512 * PAGE);
	check_ok(h);
	assert_int_equal(heap_trim(h), 256 * PAGE);
	heap_destroy(h);
}

/*
 * While held, frees give back none of the pages of small blocks, however
 * far past the bound (256 pages) they go: 4096 blocks of a page freed
 * gave each one's page back at once, 4096 punches in one request.  The
 * ring grows past its bound to queue them all; a span still gives back
 * its own pages, but cuts none of the kept ones.  Turning the hold off
 * gives back nothing either and says there is an excess; heap_retain_step
 * gives it back max bytes a step, down to the bound.  A held page stays
 * dirty: a calloc over it zeroes it.
 */
static void
held_frees_give_back_only_spans(void **state)
{
	static uint64_t a[4096];
	struct heap_config cfg = {
		.max_size = 64 * MiB, .page_size = PAGE, .release = on_release,
		.zero = on_zero, .ctx = &own, .cache_blocks = HEAP_CACHE_NONE,
		.retain_cut = 16 * PAGE,
	};
	struct heap *h;
	uint64_t span, off;
	unsigned i, steps = 0;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	for (i = 0; i < 4096; i++)
		a[i] = alloc_ok(h, PAGE);
	span = alloc_ok(h, MiB);
	assert_int_equal(heap_set_retain_hold(h, 1), 0);	/* within */
	for (i = 0; i < 4096; i++) {
		assert_int_equal(heap_free(h, a[i]), 0);
		if (i % 1024 == 0)
			check_ok(h);
	}
	assert_int_equal(own.released, 0);
	assert_int_equal(stats(h).free_resident_bytes, 4096 * PAGE);
	assert_int_equal(heap_free(h, span), 0);
	assert_int_equal(own.released, MiB);		/* its own only */
	check_ok(h);
	assert_int_equal(stats(h).retain_excess_bytes, (4096 - 256) * PAGE);
	own.nzero = 0;
	assert_int_equal(heap_calloc(h, 1, PAGE, &off), 0);
	assert_true(own.nzero > 0);	/* a held page: still dirty */
	assert_int_equal(heap_free(h, off), 0);
	assert_int_equal(heap_set_retain_hold(h, 0), 1);
	assert_int_equal(own.released, MiB);
	own.released = 0;
	while (heap_retain_step(h, 256 * PAGE)) {
		assert_true(own.released <= (steps + 1) * 256 * PAGE);
		steps++;
	}
	assert_int_equal(steps, 14);	/* 3840 pages: 256 a step, 15 */
	assert_int_equal(own.released, (4096 - 256) * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 256 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 0);
	check_ok(h);
	assert_int_equal(heap_trim(h), 256 * PAGE);
	heap_destroy(h);
}

/*
 * The bound can change on a live heap (a reload of the daemon's file).
 * Lowered, it gives nothing back itself: it says the pool keeps too many,
 * and heap_retain_step gives the excess back max bytes a step, down to the
 * new bound.  Raised, later frees keep more.  HEAP_RETAIN_NONE keeps none;
 * 0 is the default again.
 */
static void
retain_pages_change_on_a_live_heap(void **state)
{
	static uint64_t a[400];
	struct heap_config cfg = {
		.max_size = 16 * MiB, .page_size = PAGE, .release = on_release,
		.zero = on_zero, .ctx = &own, .cache_blocks = HEAP_CACHE_NONE,
		.retain_cut = 16 * PAGE,
	};
	struct heap *h;
	unsigned i, steps = 0;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	for (i = 0; i < 400; i++)
		a[i] = alloc_ok(h, PAGE);
	for (i = 0; i < 300; i++)
		assert_int_equal(heap_free(h, a[i]), 0);
	/* 100 live pages: the default bound, 256, holds. */
	assert_int_equal(stats(h).free_resident_bytes, 256 * PAGE);
	assert_int_equal(own.released, 44 * PAGE);
	own.released = 0;

	assert_int_equal(heap_set_retain_pages(h, 64), 1);
	assert_int_equal(own.released, 0);		/* nothing at once */
	assert_int_equal(stats(h).retain_bytes, 64 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 192 * PAGE);
	check_ok(h);
	while (heap_retain_step(h, 100 * PAGE)) {
		assert_true(own.released <= (steps + 1) * 100 * PAGE);
		steps++;
	}
	assert_int_equal(steps, 1);	/* 192 pages: 100, then 92 */
	assert_int_equal(own.released, 192 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 64 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 0);
	check_ok(h);

	/* Raised: the next frees keep their pages. */
	assert_int_equal(heap_set_retain_pages(h, 1024), 0);
	own.released = 0;
	for (; i < 400; i++)
		assert_int_equal(heap_free(h, a[i]), 0);
	assert_int_equal(own.released, 0);
	assert_int_equal(stats(h).free_resident_bytes, 164 * PAGE);
	check_ok(h);

	/* None: all of it is over the bound; the default again: 256. */
	assert_int_equal(heap_set_retain_pages(h, HEAP_RETAIN_NONE), 1);
	assert_int_equal(stats(h).retain_bytes, 0);
	while (heap_retain_step(h, 100 * PAGE))
		;
	assert_int_equal(stats(h).free_resident_bytes, 0);
	assert_int_equal(own.released, 164 * PAGE);
	assert_int_equal(heap_set_retain_pages(h, 0), 0);
	assert_int_equal(stats(h).retain_bytes, 256 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * Shrinking the span in place to a page takes the bound down the same way:
 * the shrink releases the span's tail and cuts 16 kept pages, like a free.
 * Without steps the pages kept over the bound go with later frees: each
 * free that makes a page wholly free gives back that page and 16 more, so
 * 31 of them bring the pool within its bound.
 */
static void
retention_cut_goes_on_with_later_frees(void **state)
{
	static uint64_t a[4096], b[4096];
	uint64_t span;
	struct heap *h = make_cut_case(&span, a, b);
	int i;

	(void)state;
	assert_int_equal(heap_resize(h, span, PAGE), 0);
	assert_int_equal(own.released, (2047 + 16) * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 496 * PAGE);
	own.released = 0;
	for (i = 0; i < 30 * 4; i++)
		assert_int_equal(heap_free(h, b[i]), 0);
	assert_int_equal(own.released, 30 * 17 * PAGE);
	assert_int_equal(stats(h).retain_excess_bytes, 16 * PAGE);
	for (; i < 31 * 4; i++)
		assert_int_equal(heap_free(h, b[i]), 0);
	assert_int_equal(stats(h).retain_excess_bytes, 0);
	assert_int_equal(stats(h).free_resident_bytes, 256 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A queued page that is handed out again still has its queue entry, but it
 * must not count against the pages that are really free, nor push them
 * out when the queue's ring is full: 16000 frees of 8 pages that are
 * reused at once (the ring holds 512 entries) leave one free page, which
 * stays.
 */
static void
reused_pages_do_not_push_free_ones_out(void **state)
{
	struct heap *h = make(16 * MiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t b[8], a, keep;
	int i, j;

	(void)state;
	for (j = 0; j < 8; j++)
		b[j] = alloc_ok(h, 4096);
	a = alloc_ok(h, 4096);
	keep = alloc_ok(h, 4096);
	assert_int_equal(heap_free(h, a), 0);	/* queued, and stays free */
	for (i = 0; i < 2000; i++) {
		for (j = 0; j < 8; j++) {
			assert_int_equal(heap_free(h, b[j]), 0);
			assert_int_equal(alloc_ok(h, 4096), b[j]);
		}
	}
	assert_int_equal(own.released, 0);
	assert_int_equal(stats(h).resident_bytes, 10 * PAGE);
	check_ok(h);
	assert_true(heap_trim(h) >= 0);
	assert_int_equal(own.released, PAGE);
	assert_int_equal(heap_free(h, keep), 0);
	heap_destroy(h);
}

/*
 * Only pages that are wholly free count against the bound.  200 pages each
 * half live make the dirty pages far more than the live bytes; 4 pages are
 * free for good, and blocks over 2 whole pages each, at 5 places in turn,
 * are freed and at once allocated again.  Free dirty pages never pass 6,
 * below the bound (a quarter of the 105 live pages), so nothing may be
 * given back: an engine that counted the queued ranges (reused ones too)
 * and the dirty pages beyond the live bytes gave back 19 pages, the free
 * ones and blocks about to be allocated again.
 */
static void
partly_used_pages_do_not_count_as_free(void **state)
{
	struct heap_config cfg = {
		.max_size = 16 * MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = 8, .cache_blocks = HEAP_CACHE_NONE,
	};
	static const unsigned qpage[5] = {20, 30, 40, 50, 60};
	uint64_t half = PAGE / 2, q[5];
	static uint64_t x[400];
	struct heap *h;
	int i, r;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	for (i = 0; i < 400; i++)
		assert_int_equal(x[i] = alloc_ok(h, half), (uint64_t)i * half);
	for (i = 1; i < 400; i += 2)
		assert_int_equal(heap_free(h, x[i]), 0);
	for (i = 0; i < 8; i += 2)		/* pages 0-3: free for good */
		assert_int_equal(heap_free(h, x[i]), 0);
	/* Each q[i]: the second half of page k - 1 and pages k, k + 1. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(heap_free(h, x[2 * qpage[i]]), 0);
		assert_int_equal(heap_free(h, x[2 * qpage[i] + 2]), 0);
		q[i] = alloc_ok(h, 5 * half);
		assert_int_equal(q[i], (2 * qpage[i] - 1) * half);
	}
	for (r = 0; r < 100; r++) {
		for (i = 0; i < 5; i++) {
			assert_int_equal(heap_free(h, q[i]), 0);
			assert_int_equal(alloc_ok(h, 5 * half), q[i]);
		}
		if (r % 25 == 0)
			check_ok(h);
	}
	assert_int_equal(own.released, 0);
	assert_int_equal(stats(h).resident_bytes, 200 * PAGE);
	assert_true(heap_trim(h) >= 0);
	assert_int_equal(own.released, 4 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A queued range is judged when it leaves the queue, and by then the run
 * over it may start far before it.  Eight blocks of 64 KiB: block 5 is
 * freed first (its pages 80-95 are queued), then blocks 4 to 0, so the run
 * over block 5 grows down to offset 0, more than two bitmap chunks before
 * page 80, and no extent starts in between; 96 free pages, all within the
 * bound of 96.  Freeing block 7 takes the pool over the bound: the oldest
 * range, block 5's, goes back (found free through the run's record), and
 * nothing else does.
 */
static void
retention_judges_a_range_deep_inside_a_run(void **state)
{
	struct heap_config cfg = {
		.max_size = 16 * MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = 96, .cache_blocks = HEAP_CACHE_NONE,
	};
	uint64_t x[8];
	struct heap *h;
	int i;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(x[i] = alloc_ok(h, 64 * KiB), i * 64 * KiB);
	assert_int_equal(heap_free(h, x[5]), 0);
	for (i = 4; i >= 0; i--)
		assert_int_equal(heap_free(h, x[i]), 0);
	assert_int_equal(own.nrelease, 0);
	assert_int_equal(stats(h).free_resident_bytes, 96 * PAGE);
	check_ok(h);
	assert_int_equal(heap_free(h, x[7]), 0);
	assert_int_equal(own.nrelease, 1);
	assert_int_equal(own.released, 64 * KiB);
	assert_int_equal(own.last_release_off, 5 * 64 * KiB);
	assert_int_equal(stats(h).free_resident_bytes, 96 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * 2048 blocks of 2 KiB at granularity 64, in groups of 64 (live: 0-9,
 * 14-19, 60-63; free: a short run of 2 pages and a long one of 20); the
 * retention keeps 256 of the 704 free pages.
 */
static struct heap *
make_trim_case(uint64_t *x)
{
	struct heap *h = make(16 * MiB, 64, 0, HEAP_CACHE_NONE);
	int i;

	for (i = 0; i < 2048; i++)
		assert_int_equal(x[i] = alloc_ok(h, 2048), (uint64_t)i * 2048);
	for (i = 0; i < 2048; i++) {
		int k = i % 64;

		if ((k >= 10 && k < 14) || (k >= 20 && k < 60))
			assert_int_equal(heap_free(h, x[i]), 0);
	}
	assert_int_equal(stats(h).free_resident_bytes, 256 * PAGE);
	return h;
}

/*
 * heap_trim finds the free dirty pages through the runs (long ones and, at
 * granularity 64, short runs of whole pages too), not page by page: with
 * 2048 blocks of 2 KiB in groups of 64 (live: 0-9, 14-19, 60-63; free: a
 * short run of 2 pages and a long one of 20), the retention keeps 256 of
 * the 704 free pages (the others went back as they were freed), and a trim
 * releases those 256, leaving exactly the 320 pages under live blocks.
 */
static void
trim_releases_every_free_dirty_page(void **state)
{
	static uint64_t x[2048];
	struct heap *h = make_trim_case(x);

	(void)state;
	assert_int_equal(stats(h).resident_bytes, (320 + 256) * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 256 * PAGE);
	assert_int_equal(h->free_dirty, 256);
	check_ok(h);
	assert_int_equal(heap_trim(h), 256 * PAGE);
	assert_int_equal(stats(h).resident_bytes, 320 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	assert_int_equal(h->free_dirty, 0);
	assert_int_equal(own.released, (704 - 256 + 256) * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * heap_top is the high-water mark, unrounded: the end of the highest block
 * handed out.  A free leaves it where it was; a trim, at once or in steps,
 * brings it down to the last live block's end (the daemon punches its
 * memfd from there, rounded up to a page), and a block past it raises it.
 */
static void
heap_top_follows_the_mark(void **state)
{
	struct heap *h = make(1 * MiB, 16, 0, 0);
	uint64_t a, b, end;

	(void)state;
	assert_int_equal(heap_top(h), 0);
	a = alloc_ok(h, 100);
	end = a + usable(h, a);
	assert_int_equal(heap_top(h), end);
	b = alloc_ok(h, 256 * KiB);
	assert_true(b >= end);
	assert_int_equal(heap_top(h), b + 256 * KiB);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_top(h), b + 256 * KiB);
	assert_true(heap_trim(h) >= 0);
	assert_int_equal(heap_top(h), end);
	check_ok(h);
	b = alloc_ok(h, 200 * KiB);
	assert_int_equal(heap_top(h), b + usable(h, b));
	assert_int_equal(heap_free(h, b), 0);
	while (heap_trim_step(h, PAGE))
		;
	assert_int_equal(heap_top(h), end);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The same trim in steps of one page: the first step flushes the caches
 * (none here), every later one releases at most one page of a long run or
 * one short run whole (2 pages), and at the end exactly what heap_trim
 * released is gone: the 256 retained pages, in at least 128 steps.
 */
static void
trim_in_steps_releases_the_same(void **state)
{
	static uint64_t x[2048];
	struct heap *h = make_trim_case(x);
	uint64_t before = own.released, last;
	unsigned steps = 0;

	(void)state;
	do {
		last = own.released;
		steps++;
		if (!heap_trim_step(h, PAGE))
			break;
		assert_true(own.released - last <= 2 * PAGE);
		check_ok(h);
	} while (steps < 10000);
	assert_true(own.released - last <= 2 * PAGE);
	assert_true(steps >= 128 && steps < 10000);
	assert_int_equal(own.released - before, 256 * PAGE);
	assert_int_equal(stats(h).resident_bytes, 320 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	check_ok(h);
	/* A step of 0 bytes still releases a page; the next trim begins anew. */
	assert_int_equal(heap_free(h, x[0]), 0);
	assert_int_equal(heap_free(h, x[1]), 0);
	assert_int_equal(heap_trim(h), PAGE);
	assert_int_equal(heap_trim_step(h, 0), 1);
	heap_destroy(h);
}

/*
 * A trim in steps while the heap changes under it, a block allocated and
 * another freed between steps: every step leaves the heap whole, the trim
 * ends, and a later whole trim finds only pages freed after it passed.
 */
static void
trim_in_steps_while_the_heap_changes(void **state)
{
	static uint64_t x[2048];
	struct heap *h = make_trim_case(x);
	unsigned steps = 0, i = 0;
	uint64_t off;

	(void)state;
	while (heap_trim_step(h, 3 * PAGE) && steps < 100000) {
		steps++;
		check_ok(h);
		/* Take some of the free room, and free a live block. */
		assert_int_equal(heap_alloc(h, 512 + 64 * (steps % 7), 0, &off),
				 0);
		for (; i < 2048; i++) {
			int k = i % 64;

			if (k < 10 || (k >= 14 && k < 20) || k >= 60) {
				assert_int_equal(heap_free(h, x[i++]), 0);
				break;
			}
		}
	}
	assert_true(steps > 0 && steps < 100000);
	check_ok(h);
	assert_true(stats(h).free_resident_bytes <= 256 * PAGE);
	heap_trim(h);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A step looks at no more than 1024 runs: in a heap of 2047 free runs
 * whose only free dirty pages are in the last but one, and no limit on
 * the bytes, the trim goes on after the caches' step and a step of 1024
 * runs, and the next gives those pages back and ends it.
 */
static void
trim_step_looks_at_a_bounded_number_of_runs(void **state)
{
	struct heap *h = make(64 * MiB, 16, 0, HEAP_CACHE_NONE);
	static uint64_t x[4096];
	uint64_t before;
	unsigned steps = 0;
	int i;

	(void)state;
	for (i = 0; i < 4096; i++)
		x[i] = alloc_ok(h, 8 * KiB);
	for (i = 0; i < 4096; i += 2)
		assert_int_equal(heap_free(h, x[i]), 0);
	heap_trim(h);	/* nothing left to release: only runs to look at */
	assert_int_equal(heap_free(h, x[4093]), 0);	/* but these 2 pages */
	assert_int_equal(stats(h).free_resident_bytes, 2 * PAGE);
	before = own.released;
	while (heap_trim_step(h, UINT64_MAX)) {
		assert_int_equal(own.released, before);
		steps++;
	}
	assert_int_equal(steps, 2);	/* caches, 1024 runs */
	assert_int_equal(own.released - before, 2 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The runs a step passes over count toward its 1024 too.  At granularity 8
 * a long run (over 2 KiB) can be shorter than a page, and no step gives
 * it to the release: with 4096 free runs of 3 KiB between 8-byte blocks
 * (every page holds a live byte), then a free block of three pages, a
 * trim with no limit on the bytes goes on after the caches' step and four
 * steps of 1024 runs that release nothing, and the next step gives the
 * three pages back and ends it.
 */
static void
trim_step_counts_runs_shorter_than_a_page(void **state)
{
	struct heap *h = make(16 * MiB, 8, 0, HEAP_CACHE_NONE);
	static uint64_t x[4096];
	uint64_t big, before;
	unsigned steps = 0;
	int i;

	(void)state;
	for (i = 0; i < 4096; i++) {
		x[i] = alloc_ok(h, 3 * KiB);
		(void)alloc_ok(h, 8);
	}
	big = alloc_ok(h, 3 * PAGE);
	(void)alloc_ok(h, 8);	/* big's run stays apart from the pool's tail */
	for (i = 0; i < 4096; i++)
		assert_int_equal(heap_free(h, x[i]), 0);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	assert_int_equal(big % PAGE, 0);
	assert_int_equal(heap_free(h, big), 0);
	assert_int_equal(stats(h).free_resident_bytes, 3 * PAGE);
	assert_int_equal(h->nlong, 4096 + 2);
	before = own.released;
	while (heap_trim_step(h, UINT64_MAX)) {
		assert_int_equal(own.released, before);
		steps++;
	}
	assert_int_equal(steps, 5);	/* caches, then 4 x 1024 runs */
	assert_int_equal(own.released - before, 3 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * But a step stops the trim once no dirty free page is left, ahead of the
 * cursor or behind it: the same 4096 free runs of 3 KiB, with the free
 * block of three pages first in address order this time, are not walked
 * after the step that gave those pages back; and with nothing dirty at
 * all, not after the caches' step.
 */
static void
trim_step_stops_when_nothing_is_left(void **state)
{
	struct heap *h = make(16 * MiB, 8, 0, HEAP_CACHE_NONE);
	static uint64_t x[4096];
	uint64_t big, before;
	unsigned steps = 0;
	int i;

	(void)state;
	big = alloc_ok(h, 3 * PAGE);
	(void)alloc_ok(h, 8);
	for (i = 0; i < 4096; i++) {
		x[i] = alloc_ok(h, 3 * KiB);
		(void)alloc_ok(h, 8);
	}
	for (i = 0; i < 4096; i++)
		assert_int_equal(heap_free(h, x[i]), 0);
	assert_int_equal(heap_free(h, big), 0);
	assert_int_equal(stats(h).free_resident_bytes, 3 * PAGE);
	before = own.released;
	while (heap_trim_step(h, UINT64_MAX))
		steps++;
	assert_int_equal(steps, 1);	/* the caches; then the 3 pages, done */
	assert_int_equal(own.released - before, 3 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	check_ok(h);
	steps = 0;
	while (heap_trim_step(h, UINT64_MAX))
		steps++;
	assert_int_equal(steps, 1);	/* the caches only */
	assert_int_equal(own.released - before, 3 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * So do stale bin entries: a bin's stack may hold as many of them as it
 * has runs, and a few more, before a push compacts it.  At granularity
 * 16, 2048 free runs of one page (bin 256) between 16-byte blocks, the
 * first 1024 merged in pairs into 512 long runs by freeing the blocks
 * between them, leave 1024 stale entries at the bottom of the bin, under
 * 1024 runs and, on top, a page-aligned run of one dirty page: 2562
 * looks in all (513 long runs with the pool's tail, then the bin).  A
 * trim with no limit on the bytes goes on after the caches' step and two
 * steps of 1024, and the next step gives the page back and ends it.
 */
static void
trim_step_counts_stale_bin_entries(void **state)
{
	struct heap *h = make(16 * MiB, 16, 0, HEAP_CACHE_NONE);
	static uint64_t x[2048], sep[2048];
	uint64_t page, before;
	unsigned steps = 0;
	int i;

	(void)state;
	for (i = 0; i < 2048; i++) {
		x[i] = alloc_ok(h, PAGE);
		sep[i] = alloc_ok(h, 16);
	}
	assert_int_equal(heap_alloc(h, PAGE, PAGE, &page), 0);
	(void)alloc_ok(h, 16);	/* page's run stays apart from the tail */
	for (i = 0; i < 2048; i++)
		assert_int_equal(heap_free(h, x[i]), 0);
	for (i = 0; i < 1024; i += 2)
		assert_int_equal(heap_free(h, sep[i]), 0);
	heap_trim(h);	/* nothing but page's page to release below */
	assert_int_equal(heap_free(h, page), 0);
	assert_int_equal(stats(h).free_resident_bytes, PAGE);
	assert_int_equal(h->nlong, 512 + 1);
	assert_int_equal(h->sbin[256].count, 1024 + 1);
	assert_int_equal(h->sbin[256].len, 2048 + 1);
	before = own.released;
	while (heap_trim_step(h, UINT64_MAX)) {
		assert_int_equal(own.released, before);
		steps++;
	}
	assert_int_equal(steps, 3);	/* caches, 2 x 1024 runs or entries */
	assert_int_equal(own.released - before, PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A short run goes back whole in one step, every dirty stretch of it, even
 * when the step's bytes end inside it: the cursor has passed it, and the
 * stretch left would be missed by the whole trim (the fuzzer found this).
 * At granularity 4096, with spans from two pages: pages 0, 1 and 4 are
 * small blocks freed (kept dirty), pages 2-3 a span freed (released at
 * once), page 5 stays live; the short run of pages 0-4 has two dirty
 * stretches, and a trim in steps of one page releases all three pages.
 */
static void
trim_step_releases_a_short_run_whole(void **state)
{
	struct heap *h = make(MiB, PAGE, 2 * PAGE, HEAP_CACHE_NONE);
	uint64_t a, b, c, d, e, before;
	unsigned steps = 0;

	(void)state;
	a = alloc_ok(h, PAGE);
	b = alloc_ok(h, PAGE);
	c = alloc_ok(h, 2 * PAGE);
	d = alloc_ok(h, PAGE);
	e = alloc_ok(h, PAGE);
	assert_int_equal(c, 2 * PAGE);
	assert_int_equal(e, 5 * PAGE);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	assert_int_equal(heap_free(h, d), 0);
	assert_int_equal(stats(h).free_resident_bytes, 3 * PAGE);
	before = own.released;
	while (heap_trim_step(h, PAGE) && steps < 100)
		steps++;
	assert_int_equal(own.released - before, 3 * PAGE);
	assert_int_equal(stats(h).free_resident_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A page span shrunk in place gives its tail back even when the tail lies
 * in a bitmap chunk that nothing starts in: here the last, partial chunk
 * of a 1100 KiB pool (at granularity 64 a chunk is 256 KiB) under a span
 * that fills the pool.  This crashed the engine (a NULL chunk): the
 * one-chunk fast path took the chunk for granted.
 */
static void
span_tail_given_back_in_an_empty_chunk(void **state)
{
	struct heap *h = make(1100 * 1024, 64, 0, 0);
	uint64_t a = alloc_ok(h, 1100 * 1024), out = HEAP_OFF_NONE, len = 0;

	(void)state;
	assert_int_equal(a, 0);
	check_ok(h);
	assert_int_equal(heap_realloc(h, a, 1030 * 1024, &out), 0);
	assert_int_equal(out, a);
	assert_int_equal(heap_usable_size(h, a, &len), 0);
	assert_int_equal(len, 1032 * 1024);	/* whole pages */
	check_ok(h);
	/* The tail is a run again: a block fits in it. */
	assert_int_equal(alloc_ok(h, 64 * 1024), 1032 * 1024);
	check_ok(h);
	heap_destroy(h);
}

static void
release_retain_none_is_immediate(void **state)
{
	struct heap_config cfg = {
		.max_size = MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
		.cache_blocks = HEAP_CACHE_NONE,
	};
	struct heap *h;
	uint64_t a;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	a = alloc_ok(h, 4096);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(own.released, PAGE);
	heap_destroy(h);
}

/* ---- rule 6: known-zero tracking -------------------------------------- */

static void
calloc_zeroes_only_dirty_pages(void **state)
{
	struct heap *h = make(16 * MiB, 0, 0, 0);
	uint64_t a, b;

	(void)state;
	/* Fresh pages are zero: nothing to do. */
	assert_int_equal(heap_calloc(h, 10, 100, &a), 0);
	assert_int_equal(own.nzero, 0);
	assert_int_equal(heap_free(h, a), 0);
	/* The page is dirty now (retained): the reused block must be zeroed. */
	assert_int_equal(heap_calloc(h, 1, 1000, &b), 0);
	assert_int_equal(own.nzero, 1);
	assert_int_equal(own.last_zero_off, b);
	assert_int_equal(own.last_zero_len, usable(h, b));
	assert_int_equal(heap_free(h, b), 0);
	/* After a trim the page was released: zero again without work. */
	heap_trim(h);
	own.nzero = 0;
	assert_int_equal(heap_calloc(h, 1, 1000, &b), 0);
	assert_int_equal(own.nzero, 0);
	heap_destroy(h);
}

static void
calloc_zeroes_only_the_dirty_part(void **state)
{
	struct heap *h = make(16 * MiB, 0, 0, 0);
	uint64_t a, big;

	(void)state;
	a = alloc_ok(h, 2 * PAGE);	/* pages 0-1 dirty */
	assert_int_equal(heap_free(h, a), 0);
	/* 256 KiB from 0: only its first two pages may hold old data. */
	assert_int_equal(heap_calloc(h, 1, 256 * KiB, &big), 0);
	assert_int_equal(big, 0);
	assert_int_equal(own.zeroed, 2 * PAGE);
	assert_int_equal(heap_calloc(h, UINT64_MAX / 2, 3, &a), -EOVERFLOW);
	heap_destroy(h);
}

/* ---- rule 7: realloc ---------------------------------------------------- */

static void
realloc_shrinks_in_place(void **state)
{
	struct heap *h = make(MiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t a, b, n;

	(void)state;
	a = alloc_ok(h, 1000);
	b = alloc_ok(h, 64);
	assert_int_equal(heap_realloc(h, a, 200, &n), 0);
	assert_int_equal(n, a);
	assert_int_equal(usable(h, a), 208);
	/* The 800 bytes given back are usable at once. */
	n = alloc_ok(h, 792);
	assert_int_equal(n, a + 208);
	(void)b;
	check_ok(h);
	heap_destroy(h);
}

static void
realloc_grows_in_place_across_merged_runs(void **state)
{
	struct heap *h = make(MiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t a, b, c, n;

	(void)state;
	a = alloc_ok(h, 256);
	b = alloc_ok(h, 256);
	c = alloc_ok(h, 256);
	alloc_ok(h, 64);	/* a wall after c */
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	/* b and c merged: a can grow over both without moving. */
	assert_int_equal(heap_realloc(h, a, 768, &n), 0);
	assert_int_equal(n, a);
	assert_int_equal(own.ncopy, 0);
	assert_int_equal(heap_resize(h, a, 769), -EAGAIN);
	assert_int_equal(usable(h, a), 768);
	check_ok(h);
	heap_destroy(h);
}

/*
 * Blocks freed into the reuse cache are free space too: a block grows in
 * place over them (they once stood in the way, unmerged, and it moved).
 */
static void
realloc_grows_in_place_over_cached_blocks(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	struct heap_stats st;
	uint64_t a, b, c, n;

	(void)state;
	a = alloc_ok(h, 256);
	b = alloc_ok(h, 64);
	c = alloc_ok(h, 96);
	alloc_ok(h, 64);	/* a wall after c */
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 2);	/* both in the cache */
	assert_int_equal(heap_resize(h, a, 416), 0);
	assert_int_equal(usable(h, a), 416);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 0);
	check_ok(h);
	/* And past them, not at all: the wall. */
	assert_int_equal(heap_resize(h, a, 417), -EAGAIN);
	assert_int_equal(heap_realloc(h, a, 256, &n), 0);
	assert_int_equal(n, a);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A realloc that can neither move nor grow over the runs after it, but
 * can over a cached block there: it grows in place, and no refusal is
 * counted.  Refused, it left the pool with the room it asked for (the
 * daemon then evicted names for it in vain).
 */
static void
realloc_takes_cached_blocks_before_it_refuses(void **state)
{
	struct heap *h = make(PAGE, 0, 0, 0);
	struct heap_stats st;
	uint64_t a, b, n;

	(void)state;
	a = alloc_ok(h, 256);
	b = alloc_ok(h, 64);
	alloc_ok(h, PAGE - 320);	/* the rest of the pool */
	assert_int_equal(heap_free(h, b), 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 1);
	assert_int_equal(st.free_bytes, 0);
	assert_int_equal(heap_realloc(h, a, 320, &n), 0);
	assert_int_equal(n, a);
	assert_int_equal(usable(h, a), 320);
	assert_int_equal(own.ncopy, 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 0);
	assert_int_equal(st.failed_allocs, 0);
	/* Past it, the refusal stands, counted once. */
	assert_int_equal(heap_realloc(h, a, 336, &n), -ENOMEM);
	assert_int_equal(stats(h).failed_allocs, 1);
	assert_int_equal(usable(h, a), 320);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A live block right after the one growing, whatever its slack (whose
 * bits can look like a cached block's mark): it is a wall, never taken
 * for a cached block (that once failed an assertion in the daemon).
 */
static void
realloc_stops_at_live_blocks_of_any_slack(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	uint64_t a, w;
	unsigned s;

	(void)state;
	for (s = 1; s <= 64; s++) {
		a = alloc_ok(h, 256);
		w = alloc_ok(h, 64 + s);	/* the wall, with slack */
		assert_int_equal(w, a + 256);
		assert_int_equal(heap_resize(h, a, 272), -EAGAIN);
		assert_int_equal(usable(h, a), 256);
		check_ok(h);
		assert_int_equal(heap_free(h, a), 0);
		assert_int_equal(heap_free(h, w), 0);
		heap_trim(h);
	}
	heap_destroy(h);
}

/*
 * A cached block that ends the pool: no extent start follows it, and its
 * length is up to the pool's end (it once counted as 64 granules, the
 * growth went past the pool, and the daemon failed an assertion).
 */
static void
resize_over_a_cached_block_at_the_pool_end(void **state)
{
	struct heap *h = make(PAGE, 0, 0, 0);
	struct heap_stats st;
	uint64_t a, b;

	(void)state;
	a = alloc_ok(h, PAGE - 32);
	b = alloc_ok(h, 32);
	assert_int_equal(b, PAGE - 32);
	assert_int_equal(heap_free(h, b), 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 1);
	assert_int_equal(heap_resize(h, a, PAGE + 16), -EFBIG);
	assert_int_equal(heap_resize(h, a, PAGE - 16), 0);
	assert_int_equal(usable(h, a), PAGE - 16);
	assert_int_equal(heap_resize(h, a, PAGE), 0);
	assert_int_equal(usable(h, a), PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A block growing over a cached block takes the pages the merge makes
 * wholly free: none of them is given back on the way, even where the pool
 * keeps no free page (a hole punched, then faulted in again at once).
 */
static void
resize_over_a_cached_block_punches_no_page_it_takes(void **state)
{
	struct heap_config cfg = {
		.max_size = MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
	};
	struct heap_stats st;
	struct heap *h;
	uint64_t a, b;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	a = alloc_ok(h, 4000);
	b = alloc_ok(h, 1008);	/* into the second page */
	assert_int_equal(b, 4000);
	assert_int_equal(heap_free(h, b), 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 1);
	assert_int_equal(own.nrelease, 0);
	/* Over b and the run after it, to the end of the third page. */
	assert_int_equal(heap_resize(h, a, 3 * PAGE), 0);
	assert_int_equal(usable(h, a), 3 * PAGE);
	assert_int_equal(own.nrelease, 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.resident_bytes, 3 * PAGE);
	check_ok(h);
	/* Shrunk back, the two pages it took are dirty and go back. */
	assert_int_equal(heap_resize(h, a, 4000), 0);
	assert_int_equal(own.released, 2 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A realloc whose move is refused after the caches merged, and which then
 * grows in place over the pages the merge freed: none of them is given
 * back on the way (the refusal's cut came before the growth took them).
 */
static void
realloc_growing_after_a_refused_move_punches_no_page_it_takes(void **state)
{
	struct heap_config cfg = {
		.max_size = 8 * PAGE, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
	};
	struct heap_stats st;
	struct heap *h;
	uint64_t a, c, n;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	a = alloc_ok(h, 4000);
	c = alloc_ok(h, 1008);		/* into the second page */
	assert_int_equal(alloc_ok(h, 4 * PAGE - 5008), 5008);
	assert_int_equal(alloc_ok(h, 3 * PAGE), 4 * PAGE);	/* a wall */
	assert_int_equal(heap_free(h, 5008), 0);
	assert_int_equal(heap_free(h, c), 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 1);
	memset(&own, 0, sizeof(own));	/* the free gave back pages 2-3 */
	/* Free and cached bytes would hold 13000, no run does, even merged:
	 * the move is refused, and a grows over c and the run after it. */
	assert_int_equal(heap_realloc(h, a, 13000, &n), 0);
	assert_int_equal(n, a);
	assert_int_equal(usable(h, a), 13008);
	heap_get_stats(h, &st);
	assert_int_equal(st.failed_allocs, 0);
	assert_int_equal(own.ncopy, 0);
	assert_int_equal(own.nrelease, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The setting of the test below: no page kept (HEAP_RETAIN_NONE), a cut
 * of one page, caches deep enough for 64 blocks of 1 KiB.  A 4 MiB span
 * at 0, then 16 pages of 1 KiB blocks and a block of 64 bytes after them,
 * the high-water mark: no free byte below it.  The 64 blocks freed go to
 * their cache, so their pages stay dirty and none is given back.
 */
static struct heap *
make_held_merge_case(uint64_t *a)
{
	struct heap_config cfg = {
		.max_size = 16 * MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
		.retain_cut = PAGE, .cache_blocks = 1024,
	};
	struct heap *h;
	int i;

	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	assert_int_equal(alloc_ok(h, 4 * MiB), 0);
	for (i = 0; i < 64; i++)
		a[i] = alloc_ok(h, KiB);
	assert_int_equal(a[0], 4 * MiB);
	assert_int_equal(alloc_ok(h, 64), 4 * MiB + 16 * PAGE);
	for (i = 0; i < 64; i++)
		assert_int_equal(heap_free(h, a[i]), 0);
	assert_int_equal(stats(h).cached_blocks, 64);
	assert_int_equal(own.nrelease, 0);
	return h;
}

/*
 * A call that merges the caches holds the retention meanwhile and cuts
 * once after: that cut gives back the pages the merge freed, not only
 * retain_cut of them, so the pool is within its bound when the call
 * returns; the pages under the block the call hands out stay.  A cut of
 * retain_cut alone left 14 of the 16 pages kept past a bound of none,
 * until the next free or a trim.
 */
static void
held_merge_ends_within_the_bound(void **state)
{
	struct heap_stats st;
	struct heap *h;
	uint64_t a[64], x;

	(void)state;
	/* 2 KiB, no cached size: the lowest fit is above the mark, so the
	 * caches merge, and the block takes the first of their pages. */
	h = make_held_merge_case(a);
	x = alloc_ok(h, 2 * KiB);
	assert_int_equal(x, 4 * MiB);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 0);
	assert_int_equal(st.retain_excess_bytes, 0);
	assert_int_equal(st.free_resident_bytes, 0);
	assert_int_equal(own.released, 15 * PAGE);
	assert_true(own.last_release_off >= x + PAGE);
	check_ok(h);
	heap_destroy(h);

	/*
	 * A realloc whose move the merge cannot make room for, and which
	 * then grows in place: the 16 MiB pool is a span but for its last
	 * 128 KiB, there 32 blocks of 1 KiB (8 pages), a, a block of 1 KiB
	 * and 23 KiB, all but a freed, and a wall.  Merged, the 1 KiB blocks
	 * free 8 pages that no move of 48 KiB fits in; a grows over the
	 * other two, and the 8 pages go back.
	 */
	memset(&own, 0, sizeof(own));
	{
		struct heap_config cfg = {
			.max_size = 16 * MiB, .page_size = PAGE,
			.release = on_release, .ctx = &own,
			.retain_pages = HEAP_RETAIN_NONE, .retain_cut = PAGE,
			.cache_blocks = 1024,
		};
		uint64_t base = 16 * MiB - 128 * KiB, b, c, d, n;
		int i;

		assert_int_equal(heap_create(&cfg, &h), 0);
		assert_int_equal(alloc_ok(h, base), 0);
		for (i = 0; i < 32; i++)
			a[i] = alloc_ok(h, KiB);
		assert_int_equal(a[0], base);
		b = alloc_ok(h, 24 * KiB);
		c = alloc_ok(h, KiB);
		d = alloc_ok(h, 23 * KiB);
		assert_int_equal(alloc_ok(h, 48 * KiB), base + 80 * KiB);
		assert_int_equal(heap_free(h, d), 0);
		assert_int_equal(heap_free(h, c), 0);
		for (i = 0; i < 32; i++)
			assert_int_equal(heap_free(h, a[i]), 0);
		assert_int_equal(stats(h).cached_blocks, 33);
		assert_int_equal(stats(h).free_resident_bytes, 0);
		memset(&own, 0, sizeof(own));
		assert_int_equal(heap_realloc(h, b, 48 * KiB, &n), 0);
		assert_int_equal(n, b);
		heap_get_stats(h, &st);
		assert_int_equal(st.cached_blocks, 0);
		assert_int_equal(st.retain_excess_bytes, 0);
		assert_int_equal(st.free_resident_bytes, 0);
		assert_int_equal(own.released, 8 * PAGE);
		assert_true(own.last_release_off < b);
		check_ok(h);
		heap_destroy(h);
	}
}

/*
 * An allocation's merged cut counts what the pool keeps as it is once the
 * block's pages are marked: until then, taking the block from its run
 * counts its clean pages as dirty ones it took out (heap_runs.c's
 * free_dirty_take), and a cut that took free_dirty as it stood saw the
 * pool keep that many pages fewer than it does.  A block of 32 KiB aligned
 * to 8 MiB, on clean pages above the mark: the caches merge on its way, 16
 * pages, and all 16 go back.  So counted, 8 stayed kept past a bound of
 * none.
 */
static void
held_merge_cut_sees_the_block_marked(void **state)
{
	struct heap_stats st;
	struct heap *h;
	uint64_t a[64], x;

	(void)state;
	h = make_held_merge_case(a);
	assert_int_equal(heap_alloc(h, 32 * KiB, 8 * MiB, &x), 0);
	assert_int_equal(x, 8 * MiB);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 0);
	assert_int_equal(st.retain_excess_bytes, 0);
	assert_int_equal(st.free_resident_bytes, 0);
	assert_int_equal(own.released, 16 * PAGE);
	assert_true(own.last_release_off < 4 * MiB + 16 * PAGE);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A held merge's cut reaches the bound however many stale ranges sit
 * ahead of the merge's own in the queue.  1536 blocks of a page are freed
 * while the owner holds, each queueing its page, and handed out again:
 * 1536 stale ranges, more than the 1024 a cut looks at and the 64 the
 * merge adds.  Then the merge case after them: the cut looked only at
 * stale ranges and left the 15 pages the merge freed kept past a bound of
 * none, until the next free or a trim.
 */
static void
held_merge_cut_reaches_the_bound_past_stale_ranges(void **state)
{
	struct heap_config cfg = {
		.max_size = 16 * MiB, .page_size = PAGE, .release = on_release,
		.ctx = &own, .retain_pages = HEAP_RETAIN_NONE,
		.retain_cut = PAGE, .cache_blocks = 1024,
	};
	enum { STALE = 1536 };
	uint64_t base = (uint64_t)STALE * PAGE, a[64], x;
	struct heap_stats st;
	struct heap *h;
	int i;

	(void)state;
	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	for (i = 0; i < STALE; i++)
		assert_int_equal(alloc_ok(h, PAGE), (uint64_t)i * PAGE);
	assert_int_equal(heap_set_retain_hold(h, 1), 0);
	for (i = 0; i < STALE; i++)
		assert_int_equal(heap_free(h, (uint64_t)i * PAGE), 0);
	for (i = 0; i < STALE; i++)
		assert_true(alloc_ok(h, PAGE) < base);
	assert_int_equal(heap_set_retain_hold(h, 0), 0);
	assert_int_equal(h->retain_count, STALE);
	assert_int_equal(own.nrelease, 0);

	for (i = 0; i < 64; i++)
		a[i] = alloc_ok(h, KiB);
	assert_int_equal(a[0], base);
	assert_int_equal(alloc_ok(h, 64), base + 16 * PAGE);
	for (i = 0; i < 64; i++)
		assert_int_equal(heap_free(h, a[i]), 0);
	assert_int_equal(stats(h).cached_blocks, 64);
	assert_int_equal(stats(h).free_resident_bytes, 0);

	x = alloc_ok(h, 2 * KiB);
	assert_int_equal(x, base);
	heap_get_stats(h, &st);
	assert_int_equal(st.cached_blocks, 0);
	assert_int_equal(st.retain_excess_bytes, 0);
	assert_int_equal(st.free_resident_bytes, 0);
	assert_int_equal(own.released, 15 * PAGE);
	assert_true(own.last_release_off >= x + PAGE);
	check_ok(h);
	heap_destroy(h);
}

static void
realloc_moves_when_it_must(void **state)
{
	struct heap *h = make(MiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t a, n;

	(void)state;
	a = alloc_ok(h, 100);
	alloc_ok(h, 100);	/* blocks growth */
	assert_int_equal(heap_realloc(h, a, 5000, &n), 0);
	assert_int_not_equal(n, a);
	assert_int_equal(own.ncopy, 1);
	assert_int_equal(own.copied, 112);
	assert_int_equal(own.last_copy_src, a);
	assert_int_equal(own.last_copy_dst, n);
	assert_int_equal(heap_free(h, a), -EINVAL);	/* old one is gone */
	check_ok(h);
	heap_destroy(h);
}

static void
realloc_edge_cases(void **state)
{
	struct heap *h = make(64 * KiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t a, n, big;
	struct heap_stats before;

	(void)state;
	assert_int_equal(heap_realloc(h, HEAP_OFF_NONE, 100, &a), 0);
	assert_int_equal(usable(h, a), 112);
	assert_int_equal(heap_realloc(h, a, 0, &n), 0);
	assert_int_equal(n, HEAP_OFF_NONE);
	assert_int_equal(stats(h).live_blocks, 0);
	/* A failed move leaves the old block as it was. */
	a = alloc_ok(h, 100);
	big = alloc_ok(h, 60 * KiB);
	before = stats(h);
	assert_int_equal(heap_realloc(h, a, 10 * KiB, &n), -ENOMEM);
	assert_int_equal(usable(h, a), 112);
	assert_int_equal(stats(h).allocated_bytes, before.allocated_bytes);
	assert_int_equal(heap_realloc(h, a + 16, 10, &n), -EINVAL);
	assert_int_equal(heap_realloc(h, a, 1 * MiB, &n), -EFBIG);
	(void)big;
	check_ok(h);
	heap_destroy(h);
}

static void
realloc_of_spans(void **state)
{
	struct heap *h = make(16 * MiB, 0, 0, 0);
	uint64_t a, n;

	(void)state;
	a = alloc_ok(h, 1 * MiB);
	assert_int_equal(heap_realloc(h, a, 2 * MiB, &n), 0);
	assert_int_equal(n, a);
	assert_int_equal(heap_realloc(h, a, 512 * KiB + 1, &n), 0);
	assert_int_equal(n, a);
	assert_int_equal(usable(h, a), 512 * KiB + PAGE);
	/* The freed tail went back to the OS at once. */
	assert_int_equal(stats(h).resident_bytes, 512 * KiB + PAGE);
	/* A small block that grows past the threshold must move. */
	n = alloc_ok(h, 100);
	assert_int_equal(heap_resize(h, n, 200 * KiB), -EAGAIN);
	check_ok(h);
	heap_destroy(h);
}

/*
 * heap_free_after: the free run after a block, cached blocks in it
 * counted, up to the live block that ends it or the pool's end; a look
 * that stops once it reaches its bound.
 */
static void
free_after_a_block(void **state)
{
	struct heap *h = make(1 * MiB, 0, 0, 0);
	uint64_t s[3], b[3], len;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		s[i] = alloc_ok(h, 256 * KiB);
	assert_int_equal(s[1], s[0] + 256 * KiB);
	assert_int_equal(s[2], s[1] + 256 * KiB);
	assert_int_equal(heap_free_after(h, s[0], 1 * MiB, &len), 0);
	assert_int_equal(len, 0);		/* s[1] is live */
	assert_int_equal(heap_free(h, s[1]), 0);
	assert_int_equal(heap_free_after(h, s[0], 1 * MiB, &len), 0);
	assert_int_equal(len, 256 * KiB);	/* up to s[2] */
	assert_int_equal(heap_free_after(h, s[2], 1 * MiB, &len), 0);
	assert_int_equal(len, 1 * MiB - s[2] - 256 * KiB);	/* the end */
	/* One run: the look takes it whole, past a bound inside it. */
	assert_int_equal(heap_free_after(h, s[0], PAGE, &len), 0);
	assert_int_equal(len, 256 * KiB);
	assert_int_equal(heap_free_after(h, s[0], 0, &len), 0);
	assert_int_equal(len, 0);
	/* Not the start of a live block: -EINVAL. */
	assert_int_equal(heap_free_after(h, s[1], 1 * MiB, &len), -EINVAL);
	assert_int_equal(heap_free_after(h, s[0] + 16, 1 * MiB, &len),
			 -EINVAL);
	assert_int_equal(heap_free_after(h, 2 * MiB, 1 * MiB, &len), -EINVAL);

	/* A cached block is free space too; the block after it is not. */
	for (i = 0; i < 3; i++)
		b[i] = alloc_ok(h, 64);
	assert_int_equal(b[1], b[0] + 64);
	assert_int_equal(b[2], b[1] + 64);
	assert_int_equal(heap_free(h, b[1]), 0);
	assert_true(stats(h).cached_bytes >= 64);
	assert_int_equal(heap_free_after(h, b[0], 1 * MiB, &len), 0);
	assert_int_equal(len, 64);
	assert_int_equal(heap_free_after(h, b[1], 1 * MiB, &len), -EINVAL);
	check_ok(h);
	heap_destroy(h);
}

/* ---- rule 8: bad calls change nothing --------------------------------- */

static void
bad_frees_change_nothing(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	uint64_t a, b, s;
	struct heap_stats before, after;
	char before_check[256];

	(void)state;
	a = alloc_ok(h, 100);
	b = alloc_ok(h, 100);
	s = alloc_ok(h, 200 * KiB);
	assert_int_equal(heap_free(h, b), 0);	/* b sits in a cache now */
	before = stats(h);
	assert_int_equal(heap_free(h, b), -EINVAL);		/* double (cached) */
	assert_int_equal(heap_free(h, a + 16), -EINVAL);	/* interior */
	assert_int_equal(heap_free(h, a + 1), -EINVAL);		/* unaligned */
	assert_int_equal(heap_free(h, 500 * KiB), -EINVAL);	/* never allocated */
	assert_int_equal(heap_free(h, s + PAGE), -EINVAL);	/* inside a span */
	assert_int_equal(heap_free(h, MiB), -EINVAL);		/* past the pool */
	assert_int_equal(heap_free(h, HEAP_OFF_NONE), 0);	/* no-op */
	after = stats(h);
	assert_int_equal(after.invalid_frees, before.invalid_frees + 6);
	after.invalid_frees = before.invalid_frees;
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(heap_check(h, before_check, sizeof(before_check)), 0);
	/* Double free after the block left the cache and merged. */
	heap_trim(h);
	assert_int_equal(heap_free(h, b), -EINVAL);
	assert_int_equal(heap_free(h, s), 0);
	assert_int_equal(heap_free(h, s), -EINVAL);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A realloc of an offset that is no live block's start is refused as a
 * free of it is, and counted the same: in invalid_frees, nothing else
 * changed.  It was refused uncounted.
 */
static void
bad_reallocs_count_as_invalid_frees(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	uint64_t a, b, s, n = 7;
	struct heap_stats before, after;

	(void)state;
	a = alloc_ok(h, 100);
	b = alloc_ok(h, 100);
	s = alloc_ok(h, 200 * KiB);
	assert_int_equal(heap_free(h, b), 0);	/* b sits in a cache now */
	before = stats(h);
	assert_int_equal(heap_realloc(h, b, 50, &n), -EINVAL);	/* cached */
	assert_int_equal(heap_realloc(h, a + 16, 50, &n), -EINVAL);
	assert_int_equal(heap_realloc(h, a + 1, 50, &n), -EINVAL);
	assert_int_equal(heap_realloc(h, 500 * KiB, 50, &n), -EINVAL);
	assert_int_equal(heap_realloc(h, s + PAGE, 50, &n), -EINVAL);
	assert_int_equal(heap_realloc(h, MiB, 50, &n), -EINVAL);
	assert_int_equal(heap_realloc(h, b, 0, &n), -EINVAL);	/* a free */
	assert_int_equal(n, 7);
	after = stats(h);
	assert_int_equal(after.invalid_frees, before.invalid_frees + 7);
	after.invalid_frees = before.invalid_frees;
	assert_memory_equal(&before, &after, sizeof(before));
	/* Refusals of a size are the caller's mistake about the size. */
	assert_int_equal(heap_realloc(h, a, 2 * MiB, &n), -EFBIG);
	assert_int_equal(stats(h).invalid_frees, before.invalid_frees + 7);
	check_ok(h);
	heap_destroy(h);
}

static void
bad_sizes_are_clear_errors(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	uint64_t off;
	struct heap_stats before;

	(void)state;
	before = stats(h);
	assert_int_equal(heap_alloc(h, 0, 0, &off), -EINVAL);
	assert_int_equal(heap_alloc(h, MiB + 1, 0, &off), -EFBIG);
	assert_int_equal(heap_alloc(h, UINT64_MAX, 0, &off), -EFBIG);
	/* Alignment beyond the pool: only offset 0 qualifies, and it is free. */
	assert_int_equal(heap_alloc(h, 8, 2 * MiB, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(heap_alloc(h, 8, 2 * MiB, &off), -ENOMEM);
	assert_int_equal(heap_free(h, 0), 0);
	heap_trim(h);
	assert_int_equal(heap_calloc(h, 1ull << 33, 1ull << 33, &off),
			 -EOVERFLOW);
	assert_int_equal(heap_calloc(h, 0, 8, &off), -EINVAL);
	assert_int_equal(heap_resize(h, 0, 8), -EINVAL);
	off = alloc_ok(h, 8);
	assert_int_equal(heap_resize(h, off, 0), -EINVAL);
	assert_int_equal(heap_free(h, off), 0);
	assert_int_equal(stats(h).allocated_bytes, before.allocated_bytes);
	check_ok(h);
	heap_destroy(h);
}

/* ---- rule 10: check and stats ------------------------------------------ */

static void
stats_report_what_happened(void **state)
{
	struct heap *h = make(MiB, 0, 0, HEAP_CACHE_NONE);
	struct heap_class_stats cs;
	struct heap_stats st;
	uint64_t a, b, off;

	(void)state;
	a = alloc_ok(h, 100);		/* 112 */
	b = alloc_ok(h, 200 * KiB);	/* 50 pages */
	assert_int_equal(heap_alloc(h, 900 * KiB, 0, &off), -ENOMEM);
	st = stats(h);
	assert_int_equal(st.allocated_bytes, 112 + 200 * KiB);
	assert_int_equal(st.requested_bytes, 100 + 200 * KiB);
	assert_int_equal(st.live_blocks, 2);
	assert_int_equal(st.free_bytes, MiB - 112 - 200 * KiB);
	assert_int_equal(st.allocs, 2);
	assert_int_equal(st.failed_allocs, 1);
	assert_int_equal(st.spans, 1);
	assert_int_equal(st.max_size, MiB);
	/* The buddy placed the 50-page span on the lowest 64-page block. */
	assert_int_equal(b, 256 * KiB);
	assert_int_equal(st.largest_free, MiB - 256 * KiB - 200 * KiB);
	assert_int_equal(heap_get_class_stats(h, 6, &cs), 0);	/* 64..127 */
	assert_int_equal(cs.live_blocks, 1);
	assert_int_equal(cs.live_bytes, 112);
	assert_int_equal(heap_get_class_stats(h, HEAP_NCLASSES, &cs), -EINVAL);
	assert_int_equal(heap_free(h, a), 0);
	assert_int_equal(heap_free(h, b), 0);
	st = stats(h);
	assert_int_equal(st.frees, 2);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.requested_bytes, 0);
	assert_int_equal(st.free_bytes, MiB);
	heap_destroy(h);
}

static void
check_catches_corruption(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	char msg[256];
	struct lrun *r, *hint, fake;
	struct span *s, orphan;
	struct slot front;

	(void)state;
	alloc_ok(h, 100);
	check_ok(h);
	/* Tamper with the engine's own books: check must notice. */
	r = RB_MIN(lrun_addr_tree, &h->lruns);
	r->len -= 16;
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	assert_true(strlen(msg) > 0);
	printf("check reported: %s\n", msg);
	r->len += 16;
	check_ok(h);
	h->st.free_bytes++;	/* allocated_bytes is derived from it */
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	h->st.free_bytes--;
	h->held[7]++;	/* the 112-byte block's size */
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	h->held[7]--;
	check_ok(h);
	bm_set_start(h, 4096);		/* a stray extent start */
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	bm_clear_start(h, 4096);
	check_ok(h);
	/* A front entry of the chunk directory under the wrong index. */
	front = h->chunks.front[0];
	assert_non_null(front.c);
	h->chunks.front[0].index = 1;
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	h->chunks.front[0] = front;
	check_ok(h);
	/* A remembered long run that is not in the trees. */
	fake = *r;
	hint = h->lhint;
	h->lhint = &fake;
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	h->lhint = hint;
	check_ok(h);
	/* A span asking a page less than it holds: heap_split asserts it
	 * asks more, and heap_reserve refuses such a block. */
	s = spans_find(h, alloc_ok(h, 256 * KiB));
	assert_non_null(s);
	s->requested -= PAGE;
	h->st.requested_bytes -= PAGE;	/* the books agree with it */
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	s->requested += PAGE;
	h->st.requested_bytes += PAGE;
	check_ok(h);
	/* A span record where no extent starts, in a free run. */
	orphan = (struct span){.start = 768 * KiB, .len = PAGE,
			       .requested = PAGE};
	RB_INSERT(span_tree, &h->spans, &orphan);
	assert_int_equal(heap_check(h, msg, sizeof(msg)), -EFAULT);
	RB_REMOVE(span_tree, &h->spans, &orphan);
	check_ok(h);
	heap_destroy(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(large_request_is_page_granular),
		cmocka_unit_test(spans_split_and_coalesce),
		cmocka_unit_test(span_fits_run_that_is_not_buddy_aligned),
		cmocka_unit_test(small_blocks_come_from_bins),
		cmocka_unit_test(whole_pool_is_usable),
		cmocka_unit_test(metadata_of_huge_pool_follows_use),
		cmocka_unit_test(granularity_rounds_and_aligns),
		cmocka_unit_test(granule_above_the_default_threshold),
		cmocka_unit_test(threshold_above_the_pool_makes_no_spans),
		cmocka_unit_test(threshold_reported_as_used),
		cmocka_unit_test(bad_granularity_refused),
		cmocka_unit_test(aligned_allocations),
		cmocka_unit_test(aligned_request_uses_only_run_that_fits),
		cmocka_unit_test(request_just_below_threshold_stays_small),
		cmocka_unit_test(trim_counts_what_the_cache_flush_released),
		cmocka_unit_test(lab_one_4096_block_fits),
		cmocka_unit_test(lab_512_blocks_of_8_fit),
		cmocka_unit_test(lab_freed_block_serves_smaller_and_keeps_rest),
		cmocka_unit_test(lab_adjacent_free_blocks_merge),
		cmocka_unit_test(lab_caches_flushed_before_refusing),
		cmocka_unit_test(caches_merged_before_the_footprint_grows),
		cmocka_unit_test(caches_merged_for_a_request_punch_no_page_it_takes),
		cmocka_unit_test(caches_kept_when_merging_cannot_help),
		cmocka_unit_test(event_counters_restore_after_an_undo),
		cmocka_unit_test(lab_refusal_only_when_nothing_fits),
		cmocka_unit_test(placement_prefers_low_addresses),
		cmocka_unit_test(large_span_released_at_once),
		cmocka_unit_test(span_freed_after_the_owner_released_it),
		cmocka_unit_test(small_pages_retained_then_trimmed),
		cmocka_unit_test(trim_in_steps_releases_the_same),
		cmocka_unit_test(trim_in_steps_while_the_heap_changes),
		cmocka_unit_test(trim_step_looks_at_a_bounded_number_of_runs),
		cmocka_unit_test(trim_step_counts_runs_shorter_than_a_page),
		cmocka_unit_test(trim_step_stops_when_nothing_is_left),
		cmocka_unit_test(trim_step_counts_stale_bin_entries),
		cmocka_unit_test(trim_step_releases_a_short_run_whole),
		cmocka_unit_test(retention_follows_live_pages),
		cmocka_unit_test(retention_cut_is_bounded_per_call),
		cmocka_unit_test(retention_cut_goes_on_with_later_frees),
		cmocka_unit_test(reused_pages_do_not_push_free_ones_out),
		cmocka_unit_test(partly_used_pages_do_not_count_as_free),
		cmocka_unit_test(trim_releases_every_free_dirty_page),
		cmocka_unit_test(heap_top_follows_the_mark),
		cmocka_unit_test(span_tail_given_back_in_an_empty_chunk),
		cmocka_unit_test(release_retain_none_is_immediate),
		cmocka_unit_test(retention_judges_a_range_deep_inside_a_run),
		cmocka_unit_test(calloc_zeroes_only_dirty_pages),
		cmocka_unit_test(calloc_zeroes_only_the_dirty_part),
		cmocka_unit_test(realloc_shrinks_in_place),
		cmocka_unit_test(realloc_grows_in_place_across_merged_runs),
		cmocka_unit_test(realloc_grows_in_place_over_cached_blocks),
		cmocka_unit_test(realloc_stops_at_live_blocks_of_any_slack),
		cmocka_unit_test(resize_over_a_cached_block_at_the_pool_end),
		cmocka_unit_test(realloc_takes_cached_blocks_before_it_refuses),
		cmocka_unit_test(resize_over_a_cached_block_punches_no_page_it_takes),
		cmocka_unit_test(realloc_growing_after_a_refused_move_punches_no_page_it_takes),
		cmocka_unit_test(held_merge_ends_within_the_bound),
		cmocka_unit_test(held_merge_cut_sees_the_block_marked),
		cmocka_unit_test(held_merge_cut_reaches_the_bound_past_stale_ranges),
		cmocka_unit_test(realloc_moves_when_it_must),
		cmocka_unit_test(realloc_edge_cases),
		cmocka_unit_test(realloc_of_spans),
		cmocka_unit_test(free_after_a_block),
		cmocka_unit_test(bad_frees_change_nothing),
		cmocka_unit_test(bad_reallocs_count_as_invalid_frees),
		cmocka_unit_test(bad_sizes_are_clear_errors),
		cmocka_unit_test(stats_report_what_happened),
		cmocka_unit_test(check_catches_corruption),
		cmocka_unit_test(held_frees_give_back_only_spans),
		cmocka_unit_test(retain_pages_change_on_a_live_heap),
	};

	return cmocka_run_group_tests_name("heap rules", tests, NULL, NULL);
}
