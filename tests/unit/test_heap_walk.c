/*
 * test_heap_walk.c - heap_next_block: the live blocks in address order,
 * every one of them and nothing else, from any offset, in walks of any
 * bound; runs, cached blocks and spans stepped over by their lengths, a
 * run of half a terabyte in one step; and nothing changed by a walk.
 * heap_free_around: the free space both sides of a live block, across
 * runs and cached blocks, to the live blocks around it or the pool's
 * ends; heap_fits: a request's size and alignment in a free run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heap.h"
#include "heap_owner.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

/* The first live block at or after from, walking in steps of max. */
static int
next_block(struct heap *h, uint64_t from, unsigned max, uint64_t *off)
{
	uint64_t at = from, before;
	int rc;

	for (;;) {
		unsigned steps = max;

		before = at;
		rc = heap_next_block(h, &at, &steps);
		assert_true(steps <= max);
		if (rc != -EAGAIN)
			break;
		if (at <= before)
			fail_msg("a walk from %#llx stopped at %#llx",
				 (unsigned long long)before,
				 (unsigned long long)at);
	}
	if (rc == 1) {
		assert_true(at >= from);
		*off = at;
	}
	return rc;
}

/* heap_next_block with a bound of max steps. */
static int
next_at(struct heap *h, uint64_t *at, unsigned max)
{
	return heap_next_block(h, at, &max);
}

static void
empty_heap_has_none(void **state)
{
	struct heap *h = make(1 * MiB, 16, 0, 0);
	uint64_t at = 0;

	(void)state;
	assert_int_equal(next_at(h, &at, 100), 0);
	at = UINT64_MAX;
	assert_int_equal(next_at(h, &at, 100), 0);
	heap_destroy(h);
}

/*
 * Live blocks, a cached block, a run between them and a span: each live
 * one found from its start, from inside the extent before it and from an
 * unaligned offset; the cached block and the run are not blocks.
 */
static void
finds_each_kind(void **state)
{
	struct heap *h = make(8 * MiB, 16, 128 * KiB, 4);
	uint64_t a, b, c, d, e, off = 0;
	struct heap_stats before, after;

	(void)state;
	a = alloc_ok(h, 64);
	b = alloc_ok(h, 64);	/* cached once freed */
	c = alloc_ok(h, 1000);	/* a run once freed */
	d = alloc_ok(h, 48);
	e = alloc_ok(h, 300 * KiB);	/* a span */
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	check_ok(h);
	before = stats(h);
	assert_true(before.cached_blocks >= 1);

	assert_int_equal(next_block(h, 0, 1, &off), 1);
	assert_int_equal(off, a);
	assert_int_equal(next_block(h, a, 1, &off), 1);
	assert_int_equal(off, a);
	assert_int_equal(next_block(h, a + 1, 1, &off), 1);
	assert_int_equal(off, d);
	assert_int_equal(next_block(h, b, 1, &off), 1);	/* from a cached one */
	assert_int_equal(off, d);
	assert_int_equal(next_block(h, c + 100, 1, &off), 1);	/* in a run */
	assert_int_equal(off, d);
	assert_int_equal(next_block(h, d + 8, 2, &off), 1);
	assert_int_equal(off, e);
	assert_int_equal(next_block(h, e, 1, &off), 1);
	assert_int_equal(off, e);
	off = 0;
	assert_int_equal(next_block(h, e + 4096, 1, &off), 0);	/* in the span */
	assert_int_equal(next_block(h, e + 300 * KiB - 1, 3, &off), 0);
	assert_int_equal(next_block(h, 7 * MiB, 3, &off), 0);	/* above top */

	/* A walk is a look: nothing moved. */
	after = stats(h);
	assert_memory_equal(&before, &after, sizeof(before));
	check_ok(h);
	heap_destroy(h);
}

/*
 * Half a terabyte free between two blocks is one run: the walk steps over
 * it in one step (the block map is never scanned across it), from its
 * start and from inside it.
 */
static void
long_run_is_one_step(void **state)
{
	struct heap *h = make(1024 * GiB, 16, 128 * KiB, 4);
	struct heap_block_info bi = {.size = 16, .requested = 16, .span = 0};
	uint64_t a = 0, c = 900 * GiB, at;

	(void)state;
	/* Blocks where the test says: all between them is one run. */
	assert_int_equal(heap_reserve(h, a, &bi), 0);
	assert_int_equal(heap_reserve(h, c, &bi), 0);
	check_ok(h);
	assert_int_equal(stats(h).largest_free, c - 16);

	at = a + 16;		/* the run's start: the run, then c */
	assert_int_equal(next_at(h, &at, 2), 1);
	assert_int_equal(at, c);
	at = 100 * GiB + 8;	/* inside the run */
	assert_int_equal(next_at(h, &at, 1), 1);
	assert_int_equal(at, c);
	at = a + 16;		/* one step: the run, and where to go on */
	assert_int_equal(next_at(h, &at, 1), -EAGAIN);
	assert_int_equal(at, c);
	at = c + 16;
	assert_int_equal(next_at(h, &at, 1), 0);
	heap_destroy(h);
}

/* heap_free_around of off: [start, end). */
static void
expect_around(struct heap *h, uint64_t off, uint64_t start, uint64_t end)
{
	uint64_t s = 1, e = 1;

	assert_int_equal(heap_free_around(h, off, &s, &e), 0);
	if (s != start || e != end)
		fail_msg("around %#llx: [%#llx, %#llx), not [%#llx, %#llx)",
			 (unsigned long long)off, (unsigned long long)s,
			 (unsigned long long)e, (unsigned long long)start,
			 (unsigned long long)end);
}

/*
 * Live a, cached b, run c, live d, then a span e: the free space around
 * d is b and c (back to a's end) and the run to e; around a, from the
 * pool's start to d; around e, from d's end to the pool's end, across
 * the free space above the high-water mark.  Not a live block's start
 * (a cached block, a run, inside a block): -EINVAL.  Nothing moves.
 */
static void
free_around_each_kind(void **state)
{
	struct heap *h = make(8 * MiB, 16, 128 * KiB, 4);
	uint64_t a, b, c, d, e, s, t;
	struct heap_stats before, after;

	(void)state;
	a = alloc_ok(h, 64);
	b = alloc_ok(h, 64);
	c = alloc_ok(h, 1000);
	d = alloc_ok(h, 48);
	e = alloc_ok(h, 300 * KiB);
	assert_int_equal(a, 0);
	assert_int_equal(b, 64);
	assert_int_equal(c, 128);
	assert_int_equal(d, 128 + 1008);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	before = stats(h);
	assert_true(before.cached_blocks >= 1);

	expect_around(h, d, 64, e);
	expect_around(h, a, 0, d);
	expect_around(h, e, d + 48, 8 * MiB);
	assert_int_equal(heap_free_around(h, b, &s, &t), -EINVAL);
	assert_int_equal(heap_free_around(h, c, &s, &t), -EINVAL);
	assert_int_equal(heap_free_around(h, d + 16, &s, &t), -EINVAL);
	assert_int_equal(heap_free_around(h, e + 4096, &s, &t), -EINVAL);
	assert_int_equal(heap_free_around(h, 7 * MiB, &s, &t), -EINVAL);
	after = stats(h);
	assert_memory_equal(&before, &after, sizeof(before));

	check_ok(h);
	heap_destroy(h);

	/* Two cached blocks back to back between live ones. */
	h = make(8 * MiB, 16, 128 * KiB, 4);
	a = alloc_ok(h, 32);
	b = alloc_ok(h, 32);
	c = alloc_ok(h, 32);
	d = alloc_ok(h, 32);
	assert_int_equal(d, a + 96);
	assert_int_equal(heap_free(h, b), 0);
	assert_int_equal(heap_free(h, c), 0);
	assert_int_equal(stats(h).cached_blocks, 2);
	expect_around(h, a, 0, d);
	expect_around(h, d, a + 32, 8 * MiB);
	check_ok(h);
	heap_destroy(h);
}

/* Two blocks half a terabyte apart: the run between them, in one look. */
static void
free_around_long_run(void **state)
{
	struct heap *h = make(1024 * GiB, 16, 128 * KiB, 4);
	struct heap_block_info bi = {.size = 16, .requested = 16, .span = 0};
	uint64_t c = 900 * GiB;

	(void)state;
	assert_int_equal(heap_reserve(h, 0, &bi), 0);
	assert_int_equal(heap_reserve(h, c, &bi), 0);
	expect_around(h, 0, 0, c);
	expect_around(h, c, 16, 1024 * GiB);
	heap_destroy(h);
}

/*
 * heap_fits rounds and aligns as heap_alloc does: granules and the
 * asked alignment for a small request, whole pages on a page from the
 * large threshold on; bad requests fit nowhere.
 */
static void
fits_as_alloc_would(void **state)
{
	struct heap *h = make(8 * MiB, 16, 128 * KiB, 4);

	(void)state;
	assert_true(heap_fits(h, 64, 0, 0, 64));
	assert_false(heap_fits(h, 64, 0, 0, 63));
	assert_false(heap_fits(h, 64, 0, 8, 72));	/* to 16: ends at 80 */
	assert_true(heap_fits(h, 60, 0, 16, 80));	/* 64 bytes */
	assert_false(heap_fits(h, 65, 0, 16, 80));	/* 80 bytes */
	assert_true(heap_fits(h, 48, 64, 16, 112));
	assert_false(heap_fits(h, 48, 64, 16, 111));
	assert_true(heap_fits(h, 128 * KiB, 0, 100, 100 + 132 * KiB));
	assert_false(heap_fits(h, 128 * KiB, 0, 100, 100 + 128 * KiB));
	assert_false(heap_fits(h, 128 * KiB + 1, 0, 4096,
			       4096 + 128 * KiB + 1));	/* a page more */
	assert_true(heap_fits(h, 128 * KiB + 1, 0, 4096, 4096 + 132 * KiB));
	assert_true(heap_fits(h, 100, 1 * MiB, 5, 1 * MiB + 112));
	assert_false(heap_fits(h, 100, 1 * MiB, 5, 1 * MiB + 100));
	assert_false(heap_fits(h, 0, 0, 0, 8 * MiB));
	assert_false(heap_fits(h, 9 * MiB, 0, 0, 8 * MiB));
	assert_false(heap_fits(h, 64, 48, 0, 8 * MiB));
	assert_false(heap_fits(h, 64, 0, 64, 64));
	assert_false(heap_fits(h, 64, 0, 100, 64));
	assert_true(heap_fits(h, 64, 16 * MiB, 0, 64));
	assert_false(heap_fits(h, 64, 16 * MiB, 16, 8 * MiB));
	heap_destroy(h);
}

/* A model of the live blocks: offsets, kept sorted when asked. */
struct model {
	uint64_t *off;
	size_t n;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The first model block at or after from, or UINT64_MAX. */
static uint64_t
model_next(const struct model *m, uint64_t from)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->off[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n ? m->off[lo] : UINT64_MAX;
}

/* A whole walk in steps of max lists exactly the model, in order. */
static void
walk_matches(struct heap *h, const struct model *m, unsigned max)
{
	uint64_t at = 0, off;
	size_t i = 0;

	while (next_block(h, at, max, &off) == 1) {
		if (i == m->n || off != m->off[i])
			fail_msg("block %zu: walk %#llx, model %#llx", i,
				 (unsigned long long)off,
				 i < m->n ? (unsigned long long)m->off[i] : 0ull);
		i++;
		at = off + 1;
	}
	assert_int_equal(i, m->n);
}

/*
 * Around every model block: from the end of the one before it (or 0) to
 * the start of the one after it (or the pool's end).
 */
static void
around_matches(struct heap *h, const struct model *m)
{
	uint64_t prev_end = 0, size;
	size_t i;

	for (i = 0; i < m->n; i++) {
		assert_int_equal(heap_usable_size(h, m->off[i], &size), 0);
		expect_around(h, m->off[i], prev_end,
			      i + 1 < m->n ? m->off[i + 1] : 256 * MiB);
		prev_end = m->off[i] + size;
	}
}

static uint64_t
random_size(void)
{
	unsigned r = (unsigned)rand() % 100;

	if (r < 70)
		return 1 + (uint64_t)rand() % 512;
	if (r < 95)
		return 1 + (uint64_t)rand() % (64 * KiB);
	return 128 * KiB + (uint64_t)rand() % (1 * MiB);
}

/*
 * Random allocations and frees (small blocks, cached ones, runs, spans):
 * after every batch the walk in steps of 1, 3 and unbounded equals the
 * model, and from random offsets (inside blocks, runs and spans, aligned
 * or not) it finds the model's next block.
 */
static void
random_walks_match_model(void **state)
{
	struct heap *h = make(256 * MiB, 16, 128 * KiB, 4);
	struct model m = {.off = calloc(20000, sizeof(uint64_t))};
	unsigned round, i;

	(void)state;
	assert_non_null(m.off);
	srand(7);
	for (round = 0; round < 40; round++) {
		for (i = 0; i < 500; i++) {
			uint64_t off;

			if (m.n > 0 && (rand() % 100 < 45 || m.n == 20000)) {
				size_t k = (size_t)rand() % m.n;

				assert_int_equal(heap_free(h, m.off[k]), 0);
				m.off[k] = m.off[--m.n];
			} else if (heap_alloc(h, random_size(), 0, &off) == 0) {
				m.off[m.n++] = off;
			}
		}
		check_ok(h);
		qsort(m.off, m.n, sizeof(uint64_t), cmp_u64);
		walk_matches(h, &m, 1);
		walk_matches(h, &m, 3);
		walk_matches(h, &m, 1u << 30);
		around_matches(h, &m);
		for (i = 0; i < 200; i++) {
			uint64_t from = (uint64_t)rand() % (64 * MiB), off = 0;
			uint64_t want = model_next(&m, from);
			int rc = next_block(h, from, 1 + (unsigned)rand() % 4,
					    &off);

			if (want == UINT64_MAX)
				assert_int_equal(rc, 0);
			else {
				assert_int_equal(rc, 1);
				assert_int_equal(off, want);
			}
		}
	}
	free(m.off);
	heap_destroy(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_heap_has_none),
		cmocka_unit_test(finds_each_kind),
		cmocka_unit_test(long_run_is_one_step),
		cmocka_unit_test(free_around_each_kind),
		cmocka_unit_test(free_around_long_run),
		cmocka_unit_test(fits_as_alloc_would),
		cmocka_unit_test(random_walks_match_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
