/*
 * test_heap_meta.c - rule 2: metadata is sized by what is in use.
 *
 * 10^6 live 64-byte blocks must cost at most 2% of their bytes in engine
 * metadata (Linux's struct page costs about 1.6% of a 4 KiB page), and the
 * metadata must shrink back when the blocks go.  The heap record itself is
 * sized by the pool it serves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

#define NBLOCKS 1000000u

static struct heap *
make(uint64_t max, uint32_t cache)
{
	struct heap_config cfg = {.max_size = max, .page_size = 4096,
				  .cache_blocks = cache};
	struct heap *h = NULL;

	assert_int_equal(heap_create(&cfg, &h), 0);
	return h;
}

static uint64_t
metadata(struct heap *h)
{
	struct heap_stats st;

	heap_get_stats(h, &st);
	return st.metadata_bytes;
}

static double
fill_and_measure(struct heap *h, uint64_t *offs, uint64_t (*size_of)(uint32_t))
{
	struct heap_stats st;
	uint32_t i;

	for (i = 0; i < NBLOCKS; i++)
		assert_int_equal(heap_alloc(h, size_of(i), 0, &offs[i]), 0);
	heap_get_stats(h, &st);
	assert_int_equal(st.live_blocks, NBLOCKS);
	return (double)st.metadata_bytes / (double)st.allocated_bytes;
}

static uint64_t
size_64(uint32_t i)
{
	(void)i;
	return 64;
}

static uint64_t
size_mixed(uint32_t i)
{
	/* 16..512 bytes, spread deterministically. */
	return 16 + (uint64_t)(i * 2654435761u) % 497;
}

static void
million_blocks(uint64_t (*size_of)(uint32_t), const char *what)
{
	struct heap *h = make(1ull << 30, 0);
	uint64_t *offs = malloc(NBLOCKS * sizeof(*offs));
	uint64_t empty = metadata(h);
	double ratio;
	char msg[256];
	uint32_t i;

	assert_non_null(offs);
	ratio = fill_and_measure(h, offs, size_of);
	printf("%u live %s blocks: metadata %.3f%% of allocated bytes\n",
	       NBLOCKS, what, ratio * 100);
	assert_true(ratio <= 0.02);
	if (heap_check(h, msg, sizeof(msg)))
		fail_msg("heap_check: %s", msg);
	/* Free in a scattered order, so merging is exercised. */
	for (i = 0; i < NBLOCKS; i++) {
		uint32_t j = (uint32_t)((i * 7919ull) % NBLOCKS);

		assert_int_equal(heap_free(h, offs[j]), 0);
	}
	heap_trim(h);
	printf("after freeing them: %llu bytes of metadata (empty heap: %llu)\n",
	       (unsigned long long)metadata(h), (unsigned long long)empty);
	/* Only the grown chunk directory may remain. */
	assert_true(metadata(h) < empty + 64 * 1024);
	if (heap_check(h, msg, sizeof(msg)))
		fail_msg("heap_check: %s", msg);
	free(offs);
	heap_destroy(h);
}

static void
million_64_byte_blocks(void **state)
{
	(void)state;
	million_blocks(size_64, "64-byte");
}

static void
million_mixed_blocks(void **state)
{
	(void)state;
	million_blocks(size_mixed, "16-512-byte");
}

/*
 * A block as long as its whole pool: the largest class this heap counts,
 * counted and given back.
 */
static void
whole_pool_block(uint64_t max)
{
	struct heap *h = make(max, 0);
	struct heap_class_stats cs;
	unsigned top = 63 - (unsigned)__builtin_clzll(max);
	char msg[256];
	uint64_t off;

	assert_int_equal(heap_alloc(h, max, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(heap_get_class_stats(h, top, &cs), 0);
	assert_int_equal(cs.live_blocks, 1);
	assert_int_equal(cs.live_bytes, max);
	if (heap_check(h, msg, sizeof(msg)))
		fail_msg("heap_check: %s", msg);
	assert_int_equal(heap_free(h, off), 0);
	assert_int_equal(heap_get_class_stats(h, top, &cs), 0);
	assert_int_equal(cs.live_blocks, 0);
	if (heap_check(h, msg, sizeof(msg)))
		fail_msg("heap_check: %s", msg);
	heap_destroy(h);
}

/*
 * The heap record itself follows the pool: a small pool's carries no live
 * counters (a block count and a byte count) for the size classes longer
 * than the pool, 2^17 .. 2^48 bytes for one of 64 KiB, so it is smaller
 * than the largest pool's by at least those.
 */
static void
record_follows_pool_size(void **state)
{
	struct heap *small = make(64 * 1024, 0);
	struct heap *largest = make(1ull << 48, 0);

	(void)state;
	printf("empty heap: %llu bytes of metadata for a 64 KiB pool, %llu "
	       "for a 256 TiB one\n", (unsigned long long)metadata(small),
	       (unsigned long long)metadata(largest));
	assert_true(metadata(small) + 32 * 2 * sizeof(uint64_t) <=
		    metadata(largest));
	heap_destroy(small);
	heap_destroy(largest);
	whole_pool_block(64 * 1024);	/* a small block: no span */
	whole_pool_block(1024 * 1024);	/* a span */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(million_64_byte_blocks),
		cmocka_unit_test(million_mixed_blocks),
		cmocka_unit_test(record_follows_pool_size),
	};

	return cmocka_run_group_tests_name("heap metadata", tests, NULL, NULL);
}
