/*
 * test_heap_split.c - heap_split: one live block cut in two live blocks,
 * nothing moved, nothing released, every statistic and invariant kept;
 * refused calls change nothing.  The case that matters is the daemon's: a
 * big span shrunk in place whose tail it punches out in slices and then
 * frees with heap_free_released, as it does a big free.
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
#include "heap_owner.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)

static void
split_ok(struct heap *h, uint64_t off, uint64_t keep, uint64_t want_tail,
	 uint64_t want_len)
{
	uint64_t t = 0, tl = 0;
	int rc = heap_split(h, off, keep, &t, &tl);

	if (rc)
		fail_msg("split %#llx at %llu: %s", (unsigned long long)off,
			 (unsigned long long)keep, heap_strerror(rc));
	assert_int_equal(t, want_tail);
	assert_int_equal(tl, want_len);
}

/*
 * The statistics a split may change, and how: one more live block (and
 * span), counted as one allocation; the bytes, the free space and the
 * pages as they were.
 */
static void
expect_split_stats(const struct heap_stats *a, const struct heap_stats *b,
		   unsigned spans)
{
	assert_int_equal(b->live_blocks, a->live_blocks + 1);
	assert_int_equal(b->spans, a->spans + spans);
	assert_int_equal(b->allocs, a->allocs + 1);
	assert_int_equal(b->frees, a->frees);
	assert_int_equal(b->allocated_bytes, a->allocated_bytes);
	assert_true(b->requested_bytes <= a->requested_bytes);
	assert_true(b->requested_bytes <= b->allocated_bytes);
	assert_int_equal(b->free_bytes, a->free_bytes);
	assert_int_equal(b->free_runs, a->free_runs);
	assert_int_equal(b->largest_free, a->largest_free);
	assert_int_equal(b->cached_bytes, a->cached_bytes);
	assert_int_equal(b->cached_blocks, a->cached_blocks);
	assert_int_equal(b->resident_bytes, a->resident_bytes);
	assert_int_equal(b->released_bytes, a->released_bytes);
	assert_int_equal(b->free_resident_bytes, a->free_resident_bytes);
	assert_int_equal(b->invalid_frees, a->invalid_frees);
	assert_int_equal(b->failed_allocs, a->failed_allocs);
}

/*
 * An 8 MiB span cut after 1 MiB and a byte: the first keeps 257 pages, the
 * tail the other 1791, with the part of the request that lay in it; no
 * callback, only the counts of blocks and spans move.
 */
static void
span_split_releases_nothing(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, 0);
	struct heap_stats a, b;
	struct heap_class_stats cs;
	uint64_t s, keep = MiB + 1, first = MiB + PAGE;

	(void)state;
	s = alloc_ok(h, 8 * MiB - 100);
	a = stats(h);
	split_ok(h, s, keep, s + first, 8 * MiB - first);
	b = stats(h);
	expect_split_stats(&a, &b, 1);
	/* keep of the first, the request's last 8 MiB - 100 - first bytes in
	 * the tail: the first's slack went. */
	assert_int_equal(b.requested_bytes, keep + (8 * MiB - 100 - first));
	assert_int_equal(own.nrelease + own.nzero + own.ncopy, 0);
	assert_int_equal(usable(h, s), first);
	assert_int_equal(usable(h, s + first), 8 * MiB - first);
	/* By size class: 1 MiB + 4 KiB and 7 MiB - 4 KiB, the tail one
	 * allocation of its class. */
	assert_int_equal(heap_get_class_stats(h, 20, &cs), 0);
	assert_int_equal(cs.live_blocks, 1);
	assert_int_equal(cs.live_bytes, first);
	assert_int_equal(heap_get_class_stats(h, 22, &cs), 0);
	assert_int_equal(cs.live_blocks, 1);
	assert_int_equal(cs.allocs, 1);
	assert_int_equal(heap_get_class_stats(h, 23, &cs), 0);
	assert_int_equal(cs.live_blocks, 0);
	check_ok(h);

	/* Two blocks now: each frees alone, and the pool is whole again. */
	assert_int_equal(heap_free(h, s + first), 0);
	assert_int_equal(own.released, 8 * MiB - first);
	check_ok(h);
	assert_int_equal(heap_free(h, s), 0);
	assert_int_equal(stats(h).free_runs, 1);
	assert_int_equal(stats(h).resident_bytes, 0);
	assert_int_equal(stats(h).allocs - stats(h).frees, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * The daemon's shrink of a big span: split, punch the tail out itself in
 * slices (nothing the engine sees), free it with heap_free_released.  The
 * engine asks for no release of the tail, counts its pages released and
 * zero, and the tail merges with the free run after it, so the first
 * block can grow back in place.
 */
static void
span_tail_freed_as_released(void **state)
{
	struct heap *h = make(64 * MiB, 0, 0, HEAP_CACHE_NONE);
	uint64_t s, after, t = 0, tl = 0;

	(void)state;
	s = alloc_ok(h, 16 * MiB);
	after = alloc_ok(h, 4 * MiB);
	assert_int_equal(heap_free(h, after), 0);	/* a run after s */
	own.released = 0;
	own.nrelease = 0;
	assert_int_equal(heap_split(h, s, 3 * MiB, &t, &tl), 0);
	assert_int_equal(t, s + 3 * MiB);
	assert_int_equal(tl, 13 * MiB);
	assert_int_equal(own.nrelease, 0);
	assert_int_equal(stats(h).resident_bytes, 16 * MiB);
	assert_int_equal(heap_free_released(h, t), 0);
	assert_int_equal(own.nrelease, 0);		/* the owner did it */
	assert_int_equal(stats(h).released_bytes, 4 * MiB + 13 * MiB);
	assert_int_equal(stats(h).resident_bytes, 3 * MiB);
	assert_int_equal(stats(h).live_blocks, 1);
	assert_int_equal(stats(h).spans, 1);
	check_ok(h);
	/* The tail is one run with what followed it. */
	assert_int_equal(stats(h).largest_free, 64 * MiB - 3 * MiB);
	assert_int_equal(heap_resize(h, s, 20 * MiB), 0);
	assert_int_equal(usable(h, s), 20 * MiB);
	check_ok(h);
	assert_int_equal(heap_free(h, s), 0);
	assert_int_equal(stats(h).resident_bytes, 0);
	heap_destroy(h);
}

/*
 * A span's tail is a span whatever its length, even below the large
 * threshold (as a span shrunk in place stays one): a 256 KiB span cut at
 * 200 KiB leaves a tail of 14 pages that heap_free_released accepts; a
 * span of two pages splits into two of one.
 */
static void
short_span_tails_are_spans(void **state)
{
	struct heap *h = make(4 * MiB, 0, 0, 0);
	uint64_t s, two;

	(void)state;
	s = alloc_ok(h, 256 * KiB);
	split_ok(h, s, 200 * KiB, s + 200 * KiB, 56 * KiB);
	assert_int_equal(stats(h).spans, 2);
	assert_int_equal(heap_free_released(h, s + 200 * KiB), 0);
	check_ok(h);
	assert_int_equal(heap_resize(h, s, 2 * PAGE), 0);
	split_ok(h, s, 1, s + PAGE, PAGE);
	assert_int_equal(stats(h).spans, 2);
	assert_int_equal(usable(h, s), PAGE);
	two = s + PAGE;
	assert_int_equal(heap_free_released(h, two), 0);
	assert_int_equal(heap_free(h, s), 0);
	assert_int_equal(stats(h).free_runs, 1);
	check_ok(h);
	heap_destroy(h);
}

/*
 * Every refused split changes nothing at all, not even a counter, and
 * calls back nothing: keep 0, keep the whole block or more, keep that
 * rounds up to the whole block (a span's last page, a small block's last
 * granule), and offsets that are not the start of a live block (inside
 * one, freed, cached, outside the pool, HEAP_OFF_NONE).
 */
static void
bad_splits_change_nothing(void **state)
{
	struct heap *h = make(16 * MiB, 0, 0, 0);
	uint64_t s, small, gone, cached, t = 7, tl = 7;
	struct heap_stats a, b;
	const uint64_t keep_span[] = {0, MiB, MiB + 1, MiB - PAGE + 1,
				      MiB - 1, UINT64_MAX};
	const uint64_t keep_small[] = {0, 1000, 1008, 993, 2000};
	unsigned i;

	(void)state;
	s = alloc_ok(h, MiB);
	small = alloc_ok(h, 1000);		/* 1008 bytes */
	gone = alloc_ok(h, 2000);		/* too big to be cached */
	cached = alloc_ok(h, 48);
	alloc_ok(h, 48);
	assert_int_equal(heap_free(h, gone), 0);
	assert_int_equal(heap_free(h, cached), 0);	/* into its cache */
	assert_int_equal(stats(h).cached_blocks, 1);
	own = (struct owner){0};
	a = stats(h);
	for (i = 0; i < sizeof(keep_span) / sizeof(keep_span[0]); i++)
		assert_int_equal(heap_split(h, s, keep_span[i], &t, &tl),
				 -EINVAL);
	for (i = 0; i < sizeof(keep_small) / sizeof(keep_small[0]); i++)
		assert_int_equal(heap_split(h, small, keep_small[i], &t, &tl),
				 -EINVAL);
	assert_int_equal(heap_split(h, s + PAGE, 1, &t, &tl), -EINVAL);
	assert_int_equal(heap_split(h, small + 16, 1, &t, &tl), -EINVAL);
	assert_int_equal(heap_split(h, small + 1, 1, &t, &tl), -EINVAL);
	assert_int_equal(heap_split(h, gone, 16, &t, &tl), -EINVAL);
	assert_int_equal(heap_split(h, cached, 16, &t, &tl), -EINVAL);
	assert_int_equal(heap_split(h, 16 * MiB, 16, &t, &tl), -EINVAL);
	assert_int_equal(heap_split(h, HEAP_OFF_NONE, 16, &t, &tl), -EINVAL);
	b = stats(h);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(own.nrelease + own.nzero + own.ncopy, 0);
	assert_int_equal(t, 7);
	assert_int_equal(tl, 7);
	assert_int_equal(usable(h, s), MiB);
	assert_int_equal(usable(h, small), 1008);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A small block splits too, at the granularity: 1000 bytes (1008, 63
 * granules) kept to 100 leave 112 and a tail of 896, which holds the
 * block's slack.  Both are live small blocks: each frees alone, into its
 * cache or the runs, and merges with the other's space.
 */
static void
small_block_split(void **state)
{
	struct heap *h = make(MiB, 16, 0, HEAP_CACHE_NONE);
	struct heap_stats a, b;
	uint64_t x, y, z;

	(void)state;
	x = alloc_ok(h, 1000);
	y = alloc_ok(h, 500);
	a = stats(h);
	split_ok(h, x, 100, x + 112, 896);
	b = stats(h);
	expect_split_stats(&a, &b, 0);
	/* 100 of the first, 1000 - 112 of the tail (its 8 bytes of slack). */
	assert_int_equal(b.requested_bytes, a.requested_bytes - 12);
	assert_int_equal(usable(h, x), 112);
	assert_int_equal(usable(h, x + 112), 896);
	assert_int_equal(usable(h, y), 512);
	check_ok(h);
	/* A block of one granule splits off a block of one granule. */
	split_ok(h, x, 1, x + 16, 96);
	assert_int_equal(usable(h, x), 16);
	check_ok(h);
	assert_int_equal(heap_free(h, x + 16), 0);
	assert_int_equal(heap_free(h, x), 0);
	check_ok(h);
	/* Freed beside each other, the pieces are one run again. */
	z = alloc_ok(h, 112);
	assert_int_equal(z, x);
	assert_int_equal(heap_free(h, z), 0);
	assert_int_equal(heap_free(h, x + 112), 0);
	assert_int_equal(heap_free(h, y), 0);
	assert_int_equal(stats(h).free_runs, 1);
	assert_int_equal(stats(h).live_blocks, 0);
	assert_int_equal(stats(h).requested_bytes, 0);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A block's slack bits may reach past where the first piece ends: at
 * granularity 16 a block of 5 granules keeps 4 slack bits, in granules 1
 * to 4.  Cut after one granule, its tail starts on one of them: each
 * piece must read its own length and slack, not the block's old bits.
 * Every slack the block can hold, and every keep, are tried.
 */
static void
split_clears_slack_bits_in_the_tail(void **state)
{
	struct heap *h = make(MiB, 16, 0, HEAP_CACHE_NONE);
	uint64_t size, keep, x, before;

	(void)state;
	for (size = 65; size <= 80; size++) {
		for (keep = 1; keep <= 64; keep++) {
			uint64_t nl = (keep + 15) & ~15ull;

			x = alloc_ok(h, size);
			before = stats(h).requested_bytes;
			split_ok(h, x, keep, x + nl, 80 - nl);
			assert_int_equal(usable(h, x), nl);
			assert_int_equal(usable(h, x + nl), 80 - nl);
			/* The first asks keep, the tail what the block asked
			 * past nl; each may round its slack down (by less
			 * than a granule), never up. */
			assert_true(stats(h).requested_bytes >=
				    before - size + keep + (size - nl));
			assert_true(stats(h).requested_bytes <=
				    before - size + keep + (size - nl) + 30);
			check_ok(h);
			assert_int_equal(heap_free(h, x), 0);
			assert_int_equal(heap_free(h, x + nl), 0);
			check_ok(h);
		}
	}
	assert_int_equal(stats(h).live_blocks, 0);
	heap_destroy(h);
}

/*
 * The tail may start in a bitmap chunk that nothing started in: a span
 * over a whole 1100 KiB pool at granularity 64 (a chunk is 256 KiB), cut
 * so that its tail begins in the last, partial chunk.
 */
static void
span_tail_in_an_empty_chunk(void **state)
{
	struct heap *h = make(1100 * KiB, 64, 0, 0);
	uint64_t s = alloc_ok(h, 1100 * KiB);

	(void)state;
	assert_int_equal(s, 0);
	split_ok(h, s, 1030 * KiB, 1032 * KiB, 68 * KiB);
	check_ok(h);
	assert_int_equal(heap_free(h, 1032 * KiB), 0);
	check_ok(h);
	assert_int_equal(alloc_ok(h, 64 * KiB), 1032 * KiB);
	check_ok(h);
	heap_destroy(h);
}

/*
 * A span cut into 64 spans of one page, freed in a scattered order, some
 * as released by the owner: the heap stays whole at every step and ends
 * as one run, with nothing resident.
 */
static void
span_cut_into_pages(void **state)
{
	struct heap *h = make(MiB, 0, 0, 0);
	uint64_t s = alloc_ok(h, 64 * PAGE), t, tl;
	unsigned i, k;

	(void)state;
	for (i = 63; i > 0; i--) {
		assert_int_equal(heap_split(h, s, (uint64_t)i * PAGE, &t, &tl),
				 0);
		assert_int_equal(t, s + (uint64_t)i * PAGE);
		assert_int_equal(tl, PAGE);
	}
	assert_int_equal(stats(h).spans, 64);
	assert_int_equal(stats(h).live_blocks, 64);
	check_ok(h);
	for (i = 0; i < 64; i++) {
		k = (i * 37) % 64;	/* 37 is prime to 64: each page once */
		if (k % 3)
			assert_int_equal(heap_free(h, s + (uint64_t)k * PAGE),
					 0);
		else
			assert_int_equal(heap_free_released(h, s + (uint64_t)k *
							    PAGE), 0);
		check_ok(h);
	}
	assert_int_equal(stats(h).free_runs, 1);
	assert_int_equal(stats(h).resident_bytes, 0);
	assert_int_equal(stats(h).allocs, stats(h).frees);
	heap_destroy(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(span_split_releases_nothing),
		cmocka_unit_test(span_tail_freed_as_released),
		cmocka_unit_test(short_span_tails_are_spans),
		cmocka_unit_test(bad_splits_change_nothing),
		cmocka_unit_test(small_block_split),
		cmocka_unit_test(split_clears_slack_bits_in_the_tail),
		cmocka_unit_test(span_tail_in_an_empty_chunk),
		cmocka_unit_test(span_cut_into_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
