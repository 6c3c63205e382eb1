/*
 * itest_batch.c - pool_alloc_batch and pool_free_batch: many blocks in one
 * round trip, all or nothing.  A batch that cannot be served whole changes
 * nothing: no block is left allocated by a failed alloc batch, and no block
 * is freed by a free batch with one bad, foreign or repeated offset.
 * Counts are of the daemon's books, so each handle flushes its client
 * cache (what a refill brought along) before they are taken.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

static struct pool_stats
stats_of(struct pool *p)
{
	struct pool_stats st;

	EXPECT_RC(pool_flush(p), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	return st;
}

static void
batches_all_or_nothing(void **state)
{
	static size_t sizes[POOL_BATCH_MAX + 1];
	static pool_off_t offs[POOL_BATCH_MAX + 1];
	struct pool_conn *c, *c2;
	struct pool *p, *q;
	struct daemon_proc d;
	pool_off_t other, twice[2];
	struct pool_stats before, after;
	size_t i, usable;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool b]\nsize = 1M\n"
				       "granularity = 16\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "b", &p), 0);

	/* 1000 blocks of 1..64 bytes in one call, each usable and apart. */
	for (i = 0; i < 1000; i++)
		sizes[i] = 1 + i % 64;
	EXPECT_RC(pool_alloc_batch(p, 1000, sizes, offs), 0);
	for (i = 0; i < 1000; i++) {
		EXPECT_RC(pool_usable_size(p, offs[i], &usable), 0);
		assert_true(usable >= sizes[i]);
		memset(pool_ptr(p, offs[i]), (int)i, sizes[i]);
	}
	assert_int_equal(stats_of(p).live_blocks, 1000);

	/* A free batch with one foreign block frees nothing. */
	EXPECT_RC(pool_connect(NULL, &c2), 0);
	EXPECT_RC(pool_open(c2, "b", &q), 0);
	EXPECT_RC(pool_alloc(q, 32, &other), 0);
	EXPECT_RC(pool_flush(q), 0);
	{
		pool_off_t keep = offs[999];

		offs[999] = other;
		EXPECT_RC(pool_free_batch(p, 1000, offs), -EPERM);
		offs[999] = keep;
	}
	assert_int_equal(stats_of(p).live_blocks, 1001);
	/* Nor does one that names a block twice, or a non-block. */
	twice[0] = twice[1] = offs[3];
	EXPECT_RC(pool_free_batch(p, 2, twice), -EINVAL);
	twice[1] = offs[3] + 1;
	EXPECT_RC(pool_free_batch(p, 2, twice), -EINVAL);
	assert_int_equal(stats_of(p).live_blocks, 1001);

	/* The whole batch goes at once. */
	EXPECT_RC(pool_free_batch(p, 1000, offs), 0);
	assert_int_equal(stats_of(p).live_blocks, 1);

	/*
	 * An alloc batch that cannot fit whole leaves nothing behind, not even
	 * in the counters: only the refusal is counted.
	 */
	for (i = 0; i < 20; i++)
		sizes[i] = 64 * 1024;
	EXPECT_RC(pool_flush(p), 0);
	before = stats_of(p);
	EXPECT_RC(pool_alloc_batch(p, 20, sizes, offs), -ENOMEM);
	after = stats_of(p);
	assert_int_equal(after.live_blocks, 1);
	assert_int_equal(after.allocated_bytes, 32);
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.frees, before.frees);
	assert_true(after.failed_allocs > before.failed_allocs);

	/* Bounds. */
	for (i = 0; i <= POOL_BATCH_MAX; i++)
		sizes[i] = 16;
	EXPECT_RC(pool_alloc_batch(p, POOL_BATCH_MAX + 1, sizes, offs), -E2BIG);
	EXPECT_RC(pool_alloc_batch(p, 0, sizes, offs), -EINVAL);
	sizes[1] = 0;
	EXPECT_RC(pool_alloc_batch(p, 2, sizes, offs), -EINVAL);
	EXPECT_RC(pool_free_batch(p, 0, offs), 0);

	EXPECT_RC(pool_check_by_name(c, "b", NULL, 0), 0);
	pool_disconnect(c2);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batches_all_or_nothing),
	};

	return cmocka_run_group_tests_name("batch alloc and free", tests, NULL,
					   NULL);
}
