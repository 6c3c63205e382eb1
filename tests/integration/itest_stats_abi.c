/*
 * itest_stats_abi.c - a program built against the 320-byte struct
 * pool_stats of libpoolclient.so.1 before it grew (user_quota and its
 * reserved room made it 384 bytes), as such a program is linked: bound to
 * pool_stats, pool_stats_by_name and pool_list at LIBPOOLCLIENT_1, through
 * the shared library.
 *
 *   old_stats_fill_old_layout  the LIBPOOLCLIENT_1 pool_stats and
 *       pool_stats_by_name fill the old structure with the right values,
 *       up to its last field (limit), and write nothing past its 320
 *       bytes: the bytes after it keep their pattern (and under ASan, a
 *       structure of exactly 320 bytes on the heap is not overrun).
 *   old_list_steps_by_320  the LIBPOOLCLIENT_1 pool_list gives an array
 *       of 320-byte entries: each pool's name and settings where the old
 *       program looks for them.
 *   new_is_the_default  a program built now (this one's plain calls)
 *       binds to the LIBPOOLCLIENT_1.13 versions and gets user_quota,
 *       and user_quota_entries (LIBPOOLCLIENT_1.16, in the same 384
 *       bytes) of a pool with uids' own user quotas, which the old
 *       calls fill nothing of.
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

#include "harness.h"
#include "poolclient.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define OLD_SIZE 320
#define AFTER 64	/* the bytes past an old structure that are watched */
#define PATTERN 0xa5

/* struct pool_stats as poolclient.h had it before user_quota. */
struct old_pool_stats {
	char name[POOL_NAME_MAX + 1];
	uint64_t max_size;
	uint64_t committed_bytes, allocated_bytes, requested_bytes;
	uint64_t free_bytes, largest_free, live_blocks, clients;
	uint64_t allocs, frees, failed_allocs, invalid_frees;
	uint64_t cached_bytes, metadata_bytes, released_bytes;
	uint64_t persistent_blocks;
	uint32_t granularity, page_size;
	uint32_t mode, uid, gid;
	uint32_t alloc_waits;
	uint64_t quota, client_cached_bytes, retain_bytes;
	uint64_t free_resident_bytes, books_bytes, named_blocks;
	uint64_t release_steps, retain_steps;
	uint32_t numa_policy, numa_node;
	uint64_t evictions, evicted_bytes, limit;
};
_Static_assert(sizeof(struct old_pool_stats) == OLD_SIZE, "the old size");

/* The entry points such a program was linked to. */
int old_pool_stats(struct pool *, struct old_pool_stats *);
int old_pool_stats_by_name(struct pool_conn *, const char *,
			   struct old_pool_stats *);
int old_pool_list(struct pool_conn *, struct old_pool_stats **, size_t *);
__asm__(".symver old_pool_stats, pool_stats@LIBPOOLCLIENT_1");
__asm__(".symver old_pool_stats_by_name, pool_stats_by_name@LIBPOOLCLIENT_1");
__asm__(".symver old_pool_list, pool_list@LIBPOOLCLIENT_1");

static struct daemon_proc d;

/*
 * Pools "a" and "b", each with a quota, a limit and a user quota; "a"
 * with two uids' own user quotas too, which the old layout has no room
 * for.
 */
static struct pool_conn *
start_two_pools(void)
{
	struct pool_create_opts o = {.max_size = 8 * MiB, .mode = 0640,
				     .quota = 3 * MiB};
	struct pool_set_opts s = {.which = POOL_SET_LIMIT |
				  POOL_SET_USER_QUOTA, .limit = 4 * MiB,
				  .user_quota = 2 * MiB};
	struct pool_user_quota own[2] = {{.uid = 1000, .bytes = 1 * MiB},
					 {.uid = 1001, .bytes = 0}};
	struct pool_conn *c;

	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create_user_quotas(c, "a", &o, &s, own, 2), 0);
	o.max_size = 16 * MiB;
	o.mode = 0600;
	s.limit = 5 * MiB;
	s.user_quota = 1 * MiB;
	EXPECT_RC(pool_create_set(c, "b", &o, &s), 0);
	return c;
}

static void
expect_old(const struct old_pool_stats *s, const char *name,
	   uint64_t size, uint32_t mode, uint64_t limit)
{
	assert_string_equal(s->name, name);
	assert_int_equal(s->max_size, size);
	assert_int_equal(s->mode, mode);
	assert_int_equal(s->quota, 3 * MiB);
	assert_int_equal(s->limit, limit);
	assert_int_equal(s->granularity, 16);
}

/* An old structure with AFTER bytes of PATTERN after it. */
struct watched {
	struct old_pool_stats s;
	unsigned char after[AFTER];
};

static void
expect_untouched_after(const struct watched *w)
{
	size_t i;

	for (i = 0; i < AFTER; i++)
		assert_int_equal(w->after[i], PATTERN);
}

static void
old_stats_fill_old_layout(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct watched w;
	struct old_pool_stats *exact;
	pool_off_t x;

	(void)state;
	c = start_two_pools();
	EXPECT_RC(pool_open(c, "a", &p), 0);
	EXPECT_RC(pool_alloc(p, 64 * KiB, &x), 0);

	memset(&w, PATTERN, sizeof(w));
	EXPECT_RC(old_pool_stats(p, &w.s), 0);
	expect_old(&w.s, "a", 8 * MiB, 0640, 4 * MiB);
	assert_int_equal(w.s.live_blocks, 1);
	expect_untouched_after(&w);

	memset(&w, PATTERN, sizeof(w));
	EXPECT_RC(old_pool_stats_by_name(c, "b", &w.s), 0);
	expect_old(&w.s, "b", 16 * MiB, 0600, 5 * MiB);
	expect_untouched_after(&w);

	/* Exactly the old size on the heap: ASan sees any byte more. */
	exact = malloc(OLD_SIZE);
	assert_non_null(exact);
	EXPECT_RC(old_pool_stats(p, exact), 0);
	expect_old(exact, "a", 8 * MiB, 0640, 4 * MiB);
	EXPECT_RC(old_pool_stats_by_name(c, "b", exact), 0);
	expect_old(exact, "b", 16 * MiB, 0600, 5 * MiB);
	EXPECT_RC(old_pool_stats_by_name(c, "none", exact), -ENOENT);
	EXPECT_RC(old_pool_stats(p, NULL), -EINVAL);
	free(exact);

	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
old_list_steps_by_320(void **state)
{
	struct pool_conn *c;
	struct old_pool_stats *s;
	size_t n;

	(void)state;
	c = start_two_pools();
	EXPECT_RC(old_pool_list(c, &s, &n), 0);
	assert_int_equal(n, 2);
	expect_old(&s[0], "a", 8 * MiB, 0640, 4 * MiB);
	expect_old(&s[1], "b", 16 * MiB, 0600, 5 * MiB);
	free(s);
	EXPECT_RC(old_pool_list(c, NULL, &n), -EINVAL);
	pool_disconnect(c);
}

static void
new_is_the_default(void **state)
{
	struct pool_conn *c;
	struct pool_stats ps, *s;
	size_t n;

	(void)state;
	c = start_two_pools();
	EXPECT_RC(pool_stats_by_name(c, "a", &ps), 0);
	assert_int_equal(ps.limit, 4 * MiB);
	assert_int_equal(ps.user_quota, 2 * MiB);
	assert_int_equal(ps.user_quota_entries, 2);
	EXPECT_RC(pool_list(c, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(s[1].name, "b");
	assert_int_equal(s[1].limit, 5 * MiB);
	assert_int_equal(s[1].user_quota, 1 * MiB);
	free(s);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(old_stats_fill_old_layout, &d),
		HARNESS_FIXTURE_TEST(old_list_steps_by_320, &d),
		HARNESS_FIXTURE_TEST(new_is_the_default, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
