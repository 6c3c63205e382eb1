/*
 * test_heap_walk.c - heap_next_block: the live blocks in address order,
 * every one of them and nothing else, from any offset, in walks of any
 * bound; runs, cached blocks and spans stepped over by their lengths, a
 * run of half a terabyte in one step; and nothing changed by a walk.
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
		cmocka_unit_test(random_walks_match_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
