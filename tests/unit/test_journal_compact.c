/*
 * test_journal_compact.c - the live set of a crash journal's records
 * (daemon/journal_compact.c), which a compaction in steps writes as the
 * new journal's snapshot.
 *
 *   live_set_read_back     two pools, blocks persisted, grown, unpersisted
 *       and persisted again at the same offset, settings changed, one pool
 *       destroyed: exactly the live pool with its new settings, then its
 *       live blocks at their last sizes, nothing of the other.
 *   bad_records_refused    a persist twice, an unpersist or a resize of a
 *       block that is not persistent, a block of no live pool, a pool
 *       twice, a type unknown here, a length wrong for its type: -EINVAL.
 *   full_table_refused     more persists than the bytes it was sized for
 *       can hold: -EINVAL, not a write past the table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "journal_compact.h"
#include "journal_rec.h"

#define POOL_N	(10 + JREC_NAME_MAX)

static int
pool(struct jcompact *c, uint64_t keep, uint64_t mode)
{
	uint64_t w[POOL_N] = {JREC_POOL, keep, 1 << 20, 16, 4096, 1000,
			      1000, mode, 0, 0};

	memcpy(&w[10], "a", 1);
	return jcompact_feed(c, w, POOL_N);
}

static int
rec(struct jcompact *c, enum jrec_type type, uint64_t keep, uint64_t off,
    uint64_t size)
{
	uint64_t w[7] = {type, keep, off, size, size - 3, 0, 1000};
	static const unsigned n[] = {
		[JREC_PERSIST] = 7, [JREC_RESIZE] = 5, [JREC_UNPERSIST] = 3,
		[JREC_GONE] = 2,
	};

	return jcompact_feed(c, w, n[type]);
}

static void
live_set_read_back(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[JREC_MAX_WORDS], set[7] = {JREC_SET, 1, 7, 8, 0640, 99, 5};
	unsigned n, blocks = 0;
	int type;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 128, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 2, 0, 64), 0);
	assert_int_equal(rec(c, JREC_RESIZE, 1, 0, 4096), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 64, 0), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 128, 0), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 128, 32), 0);
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	assert_int_equal(rec(c, JREC_GONE, 2, 0, 0), 0);

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(n, POOL_N);
	assert_int_equal(w[1], 1);
	assert_int_equal(w[2], 1 << 20);
	assert_int_equal(w[5], 7);
	assert_int_equal(w[6], 8);
	assert_int_equal(w[7], 0640);
	assert_int_equal(w[8], 99);
	assert_int_equal(w[9], 5);
	assert_string_equal((const char *)&w[10], "a");
	while ((type = jcompact_next(c, w, &n)) != 0) {
		assert_int_equal(type, JREC_PERSIST);
		assert_int_equal(n, 7);
		assert_int_equal(w[1], 1);
		if (w[2] == 0)
			assert_int_equal(w[3], 4096);
		else if (w[2] == 128)
			assert_int_equal(w[3], 32);
		else
			fail_msg("block %#llx is not live",
				 (unsigned long long)w[2]);
		assert_int_equal(w[4], w[3] - 3);
		assert_int_equal(w[6], 1000);
		blocks++;
	}
	assert_int_equal(blocks, 2);
	jcompact_free(c);
}

static void
bad_records_refused(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t odd[3] = {7, 1, 0};

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 1, 0600), -EINVAL);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), -EINVAL);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 64, 0), -EINVAL);
	assert_int_equal(rec(c, JREC_RESIZE, 1, 64, 128), -EINVAL);
	assert_int_equal(rec(c, JREC_PERSIST, 3, 0, 64), -EINVAL);
	assert_int_equal(rec(c, JREC_GONE, 3, 0, 0), -EINVAL);
	assert_int_equal(jcompact_feed(c, odd, 3), -EINVAL);
	odd[0] = JREC_UNPERSIST;
	assert_int_equal(jcompact_feed(c, odd, 2), -EINVAL);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 0, 0), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 0, 0), -EINVAL);
	assert_int_equal(rec(c, JREC_GONE, 1, 0, 0), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), -EINVAL);
	jcompact_free(c);
}

static void
full_table_refused(void **state)
{
	/* Room for 2 persist records of 64 bytes, and 1 more. */
	struct jcompact *c = jcompact_new(128);
	uint64_t off;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	for (off = 0; off < 3 * 64; off += 64)
		assert_int_equal(rec(c, JREC_PERSIST, 1, off, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, off, 64), -EINVAL);
	jcompact_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(live_set_read_back),
		cmocka_unit_test(bad_records_refused),
		cmocka_unit_test(full_table_refused),
	};

	return cmocka_run_group_tests_name("journal_compact", tests, NULL,
					   NULL);
}
