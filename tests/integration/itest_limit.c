/*
 * itest_limit.c - a pool's limit: the most bytes its live blocks may hold
 * together, raised and lowered while clients run (pool_create_set,
 * pool_set, `poolctl create/set --limit`).
 *
 *   refused_at_limit_then_raised  an allocation past the limit is -ENOMEM
 *       and changes nothing but failed_allocs (once, cache or not), with
 *       the limit in the log's reason; a client of another pool and one
 *       of the same pool are served meanwhile; raised by pool_set, the
 *       same request on the same connection goes through.
 *   lowered_takes_nothing_back  lowered below what the pool holds, every
 *       block stays and keeps its bytes, and the next allocation is
 *       -ENOMEM; failed_allocs counts each refusal once.
 *   realloc_by_growth     a growing realloc is refused past the limit and
 *       leaves its block as it was; one whose growth fits goes through,
 *       though the block and its new place together would not.
 *   big_realloc_by_growth  a block of 1 MiB or more, which the library
 *       moves itself: when its new place does not fit beside it under the
 *       limit, the daemon's move does, counted by its growth; that first
 *       refusal is not in failed_allocs.
 *   batch_all_or_nothing  an AllocBatch past the limit: -ENOMEM, no block
 *       made; one that fits, all of it.
 *   bad_limits_change_nothing  above the size or below a granule: -EINVAL
 *       at create (no pool) and set (the limit as it was); the pool's
 *       owner may not change it (-EPERM); a file's pool: -EROFS.
 *   reads_commit_past_the_limit  a limit bounds live blocks, not pages:
 *       a reader of another uid that reads one byte of each page of a
 *       64 MiB pool with a limit of 1 MiB and no block makes it resident
 *       (committed_bytes near 64 MiB); a trim (in steps) gives it back,
 *       the pages lying past the high-water mark, and says so in its
 *       count (docs/security.md, Not protected).
 *   trim_keeps_blocks_below_the_mark  a live block of 1 MiB with a
 *       pattern, stray bytes written past it and the whole pool read by
 *       a reader of another uid: a trim (at once, release_step 0) leaves
 *       the pool no more resident than the block and a few pages, the
 *       block's bytes as they were, and a calloc past the block reads
 *       zero, where the stray bytes were.
 *   kept_across_restart   the limit survives SIGUSR2 and still refuses.
 *   kept_across_crash     a limit given at creation, one set later and
 *       one removed survive a crash under systemd's fd store, twice.
 *   file_pool_limit       `limit =` in a [pool] section, changed by a
 *       reload (logged old -> new).
 *   poolctl_limit         `poolctl create --limit`, `set --limit` (and
 *       none), usage errors exit 2, `stats` shows the limit, in --json
 *       too.
 *   evicts_down_to_limit  an allocation refused by the limit evicts
 *       unheld evictable names until it fits; a lowered limit evicts them
 *       until the pool holds no more than it, and none held or not
 *       evictable.
 *   move_evicts_for_growth  a realloc that can only move, refused by the
 *       limit, evicts what its growth lacks under it, not its whole new
 *       size: one name, and the block moves; a growth the names could not
 *       make room for evicts none.
 *   cache_within_limit_share  a handle's cache keeps no more than 1/16 of
 *       the limit it was opened under, not 1/16 of the pool's size: the
 *       bytes it keeps leave another connection's allocations their room;
 *       opened again after the limit is raised, it keeps more.
 *   refills_within_limit_share  a cache's refills take at most 1/1024 of
 *       the limit, not of the size: 255 allocations of 256 B under a 1 MiB
 *       limit of a 64 MiB pool leave 1 to 3 blocks cached.
 *   raised_live_reaches_cache  a handle opened under a 1 MiB limit keeps
 *       at most 64 KiB; the limit raised live by an admin's connection,
 *       the handle's next refill brings it, and the same handle keeps
 *       what its budget asked (512 KiB of 256 B blocks freed, all kept).
 *   lowered_live_sheds_cache  a limit lowered live (16 MiB to 4 MiB)
 *       reaches a cache at its next eviction, which sheds it down to the
 *       new 256 KiB bound; lowered again (1 MiB), at its next refill, down
 *       to 64 KiB; the daemon's books agree.
 *   lowered_live_keeps_to_bound  a limit lowered live (16 MiB to 4 MiB)
 *       under a cache of one thread holding 512 KiB: the next refill sheds
 *       it down to the new 256 KiB bound, not to nothing; the blocks it
 *       keeps are still live in the daemon's books, and handed out again
 *       with no round trip.
 *   lowered_live_then_steady  right after a shrink to a lowered bound
 *       (16 MiB to 4 MiB), a steady pattern that frees one live block
 *       and then allocates one of the same size, 256 times: the cache
 *       keeps what the shrink left it, with no round trip; the first
 *       free does not find the cache full and evict half of it.
 *   lowered_live_sheds_no_more  a cache of blocks of many sizes, a few
 *       of each, over a bound lowered live: it gives back what is over
 *       the bound less a 32nd (the room it is cut to) and less than a
 *       block more, not a block of every size.
 *   lowered_live_levels_threads  two threads' caches of 256 KiB each, the
 *       limit lowered live to leave 256 KiB: each keeps about half, and
 *       the blocks each then asks for again are all its cache's; not one
 *       thread's emptied while the other keeps all.
 *   older_bound_taken_last  two threads of one handle: the first's
 *       refill reply, read while the limit was 16 MiB, is taken only
 *       after the second's, read once it was lowered to 4 MiB (the first
 *       thread held in cache_bounds_hook); the older bound is ignored, so
 *       512 KiB freed next keep the cache within the new 256 KiB bound.
 *   quota_lowered_live  a quota set live reaches the cache at its next
 *       refill: down to 1/8 of it.
 *   raised_across_restart  a limit raised before a restart in place
 *       reaches the cache from the new daemon: the connection and the
 *       handle survive, and the next refill brings it.
 *   stats_by_name_reports_caches  pool_stats_by_name on a connection
 *       with two caching handles of the pool: client_cached_bytes counts
 *       what both hold at the call, as pool_stats does its own handle's.
 *   stats_by_name_handle_closed  one of the two handles closed by another
 *       thread after pool_stats_by_name read their reports and before it
 *       sent them (held there by stats_reports_hook): the daemon refuses
 *       the closed handle's report (-EBADF), the library asks again
 *       without it, and the answer is 0 with the open handle's cached
 *       bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
/* Larger than any block a client cache keeps: each goes to the daemon. */
#define BIG (256 * KiB)
#define POOL_SIZE (64 * MiB)
#define OTHER_UID 65534
#define OTHER_GID 65534

static struct daemon_proc d;

static int
create_limited(struct pool_conn *c, const char *name, uint64_t size,
	       uint64_t limit)
{
	struct pool_create_opts o = {.max_size = size, .mode = 0666};
	struct pool_set_opts s = {.which = POOL_SET_LIMIT, .limit = limit};

	return pool_create_set(c, name, &o, &s);
}

static int
set_limit(struct pool_conn *c, const char *name, uint64_t limit)
{
	struct pool_set_opts o = {.which = POOL_SET_LIMIT, .limit = limit};

	return pool_set(c, name, &o);
}

/* What a refused request must leave as it was. */
static void
expect_unchanged(const struct pool_stats *a, const struct pool_stats *b)
{
	assert_int_equal(a->allocated_bytes, b->allocated_bytes);
	assert_int_equal(a->live_blocks, b->live_blocks);
	assert_int_equal(a->allocs, b->allocs);
	assert_int_equal(a->frees, b->frees);
	assert_int_equal(a->limit, b->limit);
}

/* ---- refusals and a raised limit ---------------------------------------- */

/*
 * Another client, while the first is refused at the limit: served in
 * pool "other" (far past cam's limit), and in cam as long as it fits.
 */
static int
neighbour_child(void *arg)
{
	struct pool_conn *c;
	struct pool *o, *p;
	pool_off_t a, b;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "other", &o), 0, 11);
	CHECK_RC(pool_alloc(o, 4 * MiB, &a), 0, 12);
	CHECK_RC(pool_free(o, a), 0, 13);
	CHECK_RC(pool_open(c, "cam", &p), 0, 14);
	CHECK_RC(pool_alloc(p, BIG, &a), 0, 15);	/* 1 MiB: full */
	CHECK_RC(pool_alloc(p, BIG, &b), -ENOMEM, 16);
	CHECK_RC(pool_free(p, a), 0, 17);
	pool_close(p);
	pool_close(o);
	pool_disconnect(c);
	return 0;
}

static void
refused_at_limit_then_raised(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	pool_off_t a, b, x;
	pid_t pid;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "cam", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(create_limited(c, "other", POOL_SIZE, 0), 0);
	assert_int_equal(harness_stats_of(c, "cam").limit, 1 * MiB);
	assert_int_equal(harness_stats_of(c, "other").limit, 0);
	EXPECT_RC(pool_open(c, "cam", &p), 0);
	EXPECT_RC(pool_alloc(p, 2 * BIG, &a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &b), 0);		/* 768 KiB */
	was = harness_stats_of(c, "cam");
	assert_int_equal(was.allocated_bytes, 3 * BIG);

	EXPECT_RC(pool_alloc(p, 2 * BIG, &x), -ENOMEM);
	now = harness_stats_of(c, "cam");
	expect_unchanged(&now, &was);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 1);
	harness_expect_logged(&d,
			      "pool cam holds 768.0 KiB of its 1.0 MiB limit");

	pid = harness_spawn(neighbour_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	now = harness_stats_of(c, "cam");
	assert_int_equal(now.allocated_bytes, 3 * BIG);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 2);

	/* Raised: the same request, the same connection. */
	EXPECT_RC(set_limit(c, "cam", 2 * MiB), 0);
	harness_expect_logged(&d, "pool cam set by uid 0: "
			      "limit 1048576 -> 2097152");
	EXPECT_RC(pool_alloc(p, 2 * BIG, &x), 0);
	now = harness_stats_of(c, "cam");
	assert_int_equal(now.allocated_bytes, 5 * BIG);
	assert_int_equal(now.limit, 2 * MiB);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 2);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_free(p, b), 0);
	EXPECT_RC(pool_free(p, a), 0);
	harness_expect_checked(c, "cam");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a lowered limit ---------------------------------------------------- */

static void
lowered_takes_nothing_back(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	pool_off_t a, b, x;
	size_t usable;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "low", POOL_SIZE, 4 * MiB), 0);
	EXPECT_RC(pool_open(c, "low", &p), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &b), 0);
	memset(pool_ptr(p, a), 0x5a, 1 * MiB);
	was = harness_stats_of(c, "low");

	EXPECT_RC(set_limit(c, "low", 1 * MiB), 0);
	now = harness_stats_of(c, "low");
	assert_int_equal(now.allocated_bytes, was.allocated_bytes);
	assert_int_equal(now.live_blocks, 2);
	assert_int_equal(now.limit, 1 * MiB);
	EXPECT_RC(pool_usable_size(p, a, &usable), 0);
	assert_int_equal(usable, 1 * MiB);
	assert_int_equal(((uint8_t *)pool_ptr(p, a))[1 * MiB - 1], 0x5a);

	/* Over the limit now: even the smallest block is refused. */
	was = harness_stats_of(c, "low");
	EXPECT_RC(pool_alloc(p, 16, &x), -ENOMEM);
	EXPECT_RC(pool_alloc(p, BIG, &x), -ENOMEM);
	now = harness_stats_of(c, "low");
	expect_unchanged(&now, &was);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 2);

	/* Freed below it, room again; removed, no bound but the size. */
	EXPECT_RC(pool_free(p, b), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), -ENOMEM);
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_flush(p), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	EXPECT_RC(set_limit(c, "low", 0), 0);
	EXPECT_RC(pool_alloc(p, 32 * MiB, &a), 0);
	assert_int_equal(harness_stats_of(c, "low").limit, 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- realloc ------------------------------------------------------------ */

static void
realloc_by_growth(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	pool_off_t a, b, n;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "r", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(pool_open(c, "r", &p), 0);
	EXPECT_RC(pool_alloc(p, BIG, &a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &b), 0);
	memset(pool_ptr(p, a), 0x77, BIG);
	was = harness_stats_of(c, "r");

	/* 768 KiB more: 1.25 MiB in all. */
	EXPECT_RC(pool_realloc(p, a, 4 * BIG, &n), -ENOMEM);
	now = harness_stats_of(c, "r");
	expect_unchanged(&now, &was);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 1);
	assert_int_equal(((uint8_t *)pool_ptr(p, a))[BIG - 1], 0x77);

	/*
	 * 512 KiB more: 1 MiB once done, though a block that moves holds
	 * its old place and its new one for a moment.
	 */
	EXPECT_RC(pool_realloc(p, a, 3 * BIG, &n), 0);
	now = harness_stats_of(c, "r");
	assert_int_equal(now.allocated_bytes, 4 * BIG);
	assert_int_equal(((uint8_t *)pool_ptr(p, n))[BIG - 1], 0x77);
	EXPECT_RC(pool_realloc(p, b, 2 * BIG, &a), -ENOMEM);
	assert_int_equal(harness_stats_of(c, "r").allocated_bytes, 4 * BIG);
	/* Shrinking needs no room, and makes some. */
	EXPECT_RC(pool_realloc(p, n, BIG, &a), 0);
	assert_int_equal(harness_stats_of(c, "r").allocated_bytes, 2 * BIG);
	EXPECT_RC(pool_realloc(p, b, 2 * BIG, &n), 0);
	assert_int_equal(harness_stats_of(c, "r").allocated_bytes, 3 * BIG);
	harness_expect_checked(c, "r");
	pool_close(p);
	pool_disconnect(c);
}

static void
big_realloc_by_growth(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	pool_off_t a, b, n;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "rb", POOL_SIZE, 3 * MiB), 0);
	EXPECT_RC(pool_open(c, "rb", &p), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &b), 0);	/* a cannot grow */
	memset(pool_ptr(p, a), 0x42, 1 * MiB);
	was = harness_stats_of(c, "rb");

	/* 2 MiB beside a's 1 MiB and b's: 4; moved: 3. */
	EXPECT_RC(pool_realloc(p, a, 2 * MiB, &n), 0);
	assert_true(n != a);
	assert_int_equal(((uint8_t *)pool_ptr(p, n))[1 * MiB - 1], 0x42);
	now = harness_stats_of(c, "rb");
	assert_int_equal(now.allocated_bytes, 3 * MiB);
	assert_int_equal(now.failed_allocs, was.failed_allocs);
	/* Past it by its growth alone: refused, counted once. */
	EXPECT_RC(pool_realloc(p, b, 2 * MiB, &a), -ENOMEM);
	now = harness_stats_of(c, "rb");
	assert_int_equal(now.allocated_bytes, 3 * MiB);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 1);
	harness_expect_checked(c, "rb");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- batches ------------------------------------------------------------ */

static void
batch_all_or_nothing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	size_t three[3] = {BIG, BIG, BIG}, two[2] = {BIG, BIG};
	pool_off_t offs[3], a, b;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "bt", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(pool_open(c, "bt", &p), 0);
	EXPECT_RC(pool_alloc(p, 2 * BIG, &a), 0);
	was = harness_stats_of(c, "bt");
	EXPECT_RC(pool_alloc_batch(p, 3, three, offs), -ENOMEM);
	now = harness_stats_of(c, "bt");
	expect_unchanged(&now, &was);
	assert_int_equal(now.failed_allocs, was.failed_allocs + 1);
	EXPECT_RC(pool_alloc_batch(p, 2, two, offs), 0);
	now = harness_stats_of(c, "bt");
	assert_int_equal(now.allocated_bytes, 1 * MiB);
	assert_int_equal(now.live_blocks, 3);
	EXPECT_RC(pool_alloc(p, 16, &b), -ENOMEM);
	harness_expect_checked(c, "bt");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- bad values and rights ---------------------------------------------- */

static int
owner_child(void *arg)
{
	struct pool_conn *c;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(set_limit(c, "b", 2 * MiB), -EPERM, 11);
	CHECK_RC(set_limit(c, "b", 0), -EPERM, 12);
	pool_disconnect(c);
	return 0;
}

static void
bad_limits_change_nothing(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct pool_set_opts o = {.which = POOL_SET_OWNER, .uid = OTHER_UID};
	pid_t pid;

	(void)state;
	harness_fixture_start(&d, "[pool f]\nsize = 4M\nlimit = 1M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "big", 4 * MiB, 4 * MiB + 1), -EINVAL);
	EXPECT_RC(create_limited(c, "tiny", 4 * MiB, 8), -EINVAL);
	EXPECT_RC(pool_stats_by_name(c, "big", &st), -ENOENT);
	EXPECT_RC(pool_stats_by_name(c, "tiny", &st), -ENOENT);
	harness_expect_logged(&d, "a limit above the pool's size");

	EXPECT_RC(create_limited(c, "b", 4 * MiB, 1 * MiB), 0);
	EXPECT_RC(set_limit(c, "b", 4 * MiB + 1), -EINVAL);
	EXPECT_RC(set_limit(c, "b", 15), -EINVAL);
	/* A good mode beside a bad limit: neither. */
	o.which = POOL_SET_MODE | POOL_SET_LIMIT;
	o.mode = 0600;
	o.limit = 8 * MiB;
	EXPECT_RC(pool_set(c, "b", &o), -EINVAL);
	st = harness_stats_of(c, "b");
	assert_int_equal(st.limit, 1 * MiB);
	assert_int_equal(st.mode, 0666);
	/* The whole size and a granule are limits. */
	EXPECT_RC(set_limit(c, "b", 4 * MiB), 0);
	EXPECT_RC(set_limit(c, "b", 16), 0);
	EXPECT_RC(set_limit(c, "b", 1 * MiB), 0);
	EXPECT_RC(set_limit(c, "f", 2 * MiB), -EROFS);
	assert_int_equal(harness_stats_of(c, "f").limit, 1 * MiB);

	if (geteuid() == 0) {
		o.which = POOL_SET_OWNER;
		EXPECT_RC(pool_set(c, "b", &o), 0);
		pid = harness_spawn_as(OTHER_UID, OTHER_GID, owner_child,
				       NULL);
		assert_true(pid > 0);
		assert_int_equal(harness_wait(pid), 0);
		assert_int_equal(harness_stats_of(c, "b").limit, 1 * MiB);
	}
	pool_disconnect(c);
}

/* ---- pages a reader faults in ------------------------------------------- */

/* In the child, as another uid: read a byte of each page of pool arg. */
static int
reader_child(void *arg)
{
	const volatile unsigned char *base;
	struct pool_conn *c;
	struct pool *p;
	unsigned sum = 0;
	size_t off;

	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open_readonly(c, arg, &p), 0, 11);
	base = pool_ptr(p, 0);
	CHECK(base != NULL, 12);
	for (off = 0; off < pool_size(p); off += 4096)
		sum += base[off];
	(void)sum;
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* The daemon's punches past pool's high-water mark, as its log says. */
static unsigned
punch_steps(const char *pool)
{
	char *log = harness_log_since(&d, 0), *at, want[96];
	unsigned n = 0;

	assert_non_null(log);
	snprintf(want, sizeof(want), "pool %s: trimmed 0x", pool);
	for (at = log; (at = strstr(at, want)); at += strlen(want))
		n += strncmp(strchr(at + strlen(want), ' '),
			     " past the high-water mark", 25) == 0;
	free(log);
	return n;
}

static void
reads_commit_past_the_limit(void **state)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0644};
	struct pool_set_opts s = {.which = POOL_SET_LIMIT, .limit = 1 * MiB};
	struct pool_stats st;
	struct pool_conn *c;
	uint64_t released = 0, left;
	unsigned steps;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("become another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create_set(c, "rd", &o, &s), 0);
	assert_int_equal(harness_stats_of(c, "rd").committed_bytes, 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, reader_child, "rd");
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	/* Some may go back meanwhile where the host reclaims zero pages:
	 * most of the pool is resident, the limit a small part of it. */
	st = harness_stats_of(c, "rd");
	printf("limit: a reader's reads of a %u MiB pool made %llu KiB "
	       "resident\n", POOL_SIZE / MiB,
	       (unsigned long long)st.committed_bytes / KiB);
	assert_int_equal(st.allocated_bytes, 0);
	assert_true(st.committed_bytes > POOL_SIZE / 8 * 7);
	/* No block was ever handed out: every page is past the mark. */
	EXPECT_RC(pool_trim_by_name(c, "rd", &released), 0);
	left = harness_stats_of(c, "rd").committed_bytes;
	printf("limit: the trim gave back %llu KiB, %llu KiB left\n",
	       (unsigned long long)released / KiB,
	       (unsigned long long)left / KiB);
	assert_true(released > POOL_SIZE / 8 * 7);
	assert_true(released <= POOL_SIZE);
	assert_true(left <= 4 * (uint64_t)st.page_size);
	/* In steps of release_step (1 MiB), each a turn of its own: one
	 * punch of all of it held everyone 0.1 s per GiB. */
	steps = punch_steps("rd");
	printf("limit: the punch past the mark took %u steps\n", steps);
	assert_true(steps >= POOL_SIZE / MiB / 2);
	EXPECT_RC(pool_destroy(c, "rd"), 0);
	pool_disconnect(c);
}

static void
trim_keeps_blocks_below_the_mark(void **state)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0644};
	struct pool_stats st;
	struct pool_conn *c;
	struct pool *p;
	uint64_t released = 0, left, mark, i;
	unsigned char *base;
	pool_off_t a, z;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("become another uid");
	harness_fixture_start(&d, "release_step = 0\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create(c, "kb", &o), 0);
	EXPECT_RC(pool_open(c, "kb", &p), 0);
	base = pool_ptr(p, 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	mark = a + 1 * MiB;	/* the only block ever: the high-water mark */
	for (i = 0; i < 1 * MiB; i++)
		base[a + i] = (unsigned char)(i % 251 + 1);
	/* A writer's stray bytes where no block is: one a page, 2 MiB. */
	for (i = mark; i < mark + 2 * MiB; i += 4096)
		base[i + 7] = 0x5a;
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, reader_child, "kb");
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	st = harness_stats_of(c, "kb");
	assert_true(st.committed_bytes > POOL_SIZE / 8 * 7);
	EXPECT_RC(pool_trim_by_name(c, "kb", &released), 0);
	left = harness_stats_of(c, "kb").committed_bytes;
	printf("limit: with a block of 1 MiB, the trim gave back %llu KiB, "
	       "%llu KiB left\n", (unsigned long long)released / KiB,
	       (unsigned long long)left / KiB);
	assert_true(released > POOL_SIZE / 8 * 7 - 1 * MiB);
	assert_true(left <= mark + 4 * (uint64_t)st.page_size);
	for (i = 0; i < 1 * MiB; i++)
		if (base[a + i] != (unsigned char)(i % 251 + 1))
			fail_msg("byte %llu of the block changed",
				 (unsigned long long)i);
	/* Taken for never written: the engine zeroes none of it. */
	EXPECT_RC(pool_calloc(p, 1, 2 * BIG, &z), 0);
	assert_true(z >= mark && z < mark + 2 * MiB);
	for (i = 0; i < 2 * BIG; i++)
		if (base[z + i])
			fail_msg("byte %llu of the calloc's block is 0x%x",
				 (unsigned long long)i, base[z + i]);
	pool_close(p);
	EXPECT_RC(pool_destroy(c, "kb"), 0);
	pool_disconnect(c);
}

/* ---- restarts and crashes ----------------------------------------------- */

static void
kept_across_restart(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "k", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(set_limit(c, "k", 2 * MiB), 0);
	EXPECT_RC(pool_open(c, "k", &p), 0);
	EXPECT_RC(pool_alloc(p, 2 * MiB, &a), 0);
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(harness_stats_of(c, "k").limit, 2 * MiB);
	EXPECT_RC(pool_alloc(p, BIG, &x), -ENOMEM);
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	pool_close(p);
	pool_disconnect(c);
}

static struct harness_store st;

static void
kept_across_crash(void **state)
{
	struct pool_conn *c;
	int round;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(create_limited(c, "made", POOL_SIZE, 3 * MiB), 0);
	EXPECT_RC(create_limited(c, "set", POOL_SIZE, 0), 0);
	EXPECT_RC(set_limit(c, "set", 5 * MiB), 0);
	EXPECT_RC(create_limited(c, "gone", POOL_SIZE, 7 * MiB), 0);
	EXPECT_RC(set_limit(c, "gone", 0), 0);
	pool_disconnect(c);
	for (round = 0; round < 2; round++) {
		assert_int_equal(harness_store_recover(&st), 0);
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		assert_int_equal(harness_stats_of(c, "made").limit, 3 * MiB);
		assert_int_equal(harness_stats_of(c, "set").limit, 5 * MiB);
		assert_int_equal(harness_stats_of(c, "gone").limit, 0);
		pool_disconnect(c);
	}
}

/* ---- the file ----------------------------------------------------------- */

static void
file_pool_limit(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;

	(void)state;
	harness_fixture_start(&d,
			      "[pool f]\nsize = 8M\nlimit = 1M\nmode = 0666\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(harness_stats_of(c, "f").limit, 1 * MiB);
	EXPECT_RC(pool_open(c, "f", &p), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), -ENOMEM);
	assert_int_equal(harness_reload_with(&d, HARNESS_FIXTURE_CONF
		"[pool f]\nsize = 8M\nlimit = 2M\nmode = 0666\n"), 0);
	harness_expect_logged(&d, "pool f: limit 1048576 -> 2097152");
	assert_int_equal(harness_stats_of(c, "f").limit, 2 * MiB);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	/* Without the key: none. */
	assert_int_equal(harness_reload_with(&d, HARNESS_FIXTURE_CONF
		"[pool f]\nsize = 8M\nmode = 0666\n"), 0);
	assert_int_equal(harness_stats_of(c, "f").limit, 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- poolctl ------------------------------------------------------------ */

static void
poolctl_limit(void **state)
{
	struct pool_conn *c;
	char out[8192], err[1024];

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create p --size 64M --limit 1X"), 2);
	assert_non_null(strstr(err, "bad limit"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --limit lots"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "--json=short create p --size 64M --limit 2M"), 0);
	assert_non_null(strstr(out, "\"limit\":2097152"));
	assert_int_equal(harness_stats_of(c, "p").limit, 2 * MiB);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --limit 1G"), 1);
	assert_non_null(strstr(err, "limit"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --limit 4M"), 0);
	assert_int_equal(harness_stats_of(c, "p").limit, 4 * MiB);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "stats p"), 0);
	assert_non_null(strstr(out, "limit"));
	assert_non_null(strstr(out, "4194304"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "--json=short stats p"), 0);
	assert_non_null(strstr(out, "\"limit\":4194304"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --limit none"), 0);
	assert_int_equal(harness_stats_of(c, "p").limit, 0);
	pool_disconnect(c);
}

/* ---- eviction ----------------------------------------------------------- */

static bool
published(struct pool *p, const char *name)
{
	pool_off_t off;
	int rc = pool_lookup(p, name, &off, NULL);

	if (rc != 0 && rc != -ENOENT)
		fail_msg("lookup of %s: %s", name, pool_strerror(rc));
	return rc == 0;
}

static void
evicts_down_to_limit(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	pool_off_t o[4], held, x, y;
	char name[16];
	unsigned i;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "ev", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(pool_open(c, "ev", &p), 0);
	/* n0, n1, n2 evictable, least recently used first; n3 kept. */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		EXPECT_RC(pool_alloc(p, BIG, &o[i]), 0);
		EXPECT_RC(pool_publish_flags(p, o[i], name, i < 3 ?
					     POOL_PUBLISH_EVICTABLE : 0), 0);
	}
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_free(p, o[i]), 0);	/* the names' alone */
	EXPECT_RC(pool_lookup_retain(p, "n1", &held, NULL), 0);

	/* Full to the limit: the least recently used unheld name goes. */
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	assert_false(published(p, "n0"));
	assert_true(published(p, "n1") && published(p, "n2") &&
		    published(p, "n3"));
	now = harness_stats_of(c, "ev");
	assert_int_equal(now.evictions, 1);
	assert_int_equal(now.evicted_bytes, BIG);
	assert_int_equal(now.allocated_bytes, 1 * MiB);
	assert_int_equal(now.failed_allocs, 0);

	/* What n2 alone cannot make room for evicts nothing. */
	was = now;
	EXPECT_RC(pool_alloc(p, 2 * BIG, &y), -ENOMEM);
	assert_true(published(p, "n2"));
	now = harness_stats_of(c, "ev");
	expect_unchanged(&now, &was);
	assert_int_equal(now.evictions, 1);
	assert_int_equal(now.failed_allocs, 1);

	/* Lowered: n2 goes; n1 (held) and n3 (kept) stay, over it. */
	EXPECT_RC(set_limit(c, "ev", 2 * BIG), 0);
	harness_expect_logged(&d, "limit 1048576 -> 524288, evicted 1 name "
			      "of 262144 bytes");
	assert_false(published(p, "n2"));
	assert_true(published(p, "n1") && published(p, "n3"));
	now = harness_stats_of(c, "ev");
	assert_int_equal(now.allocated_bytes, 3 * BIG);
	assert_int_equal(now.evictions, 2);
	EXPECT_RC(pool_alloc(p, 16, &y), -ENOMEM);

	/* Let go of, n1 is the next to go when the limit is lowered. */
	EXPECT_RC(pool_free(p, held), 0);
	EXPECT_RC(set_limit(c, "ev", BIG), 0);
	assert_false(published(p, "n1"));
	assert_true(published(p, "n3"));
	now = harness_stats_of(c, "ev");
	assert_int_equal(now.allocated_bytes, 2 * BIG);
	assert_int_equal(now.evictions, 3);
	harness_expect_checked(c, "ev");
	pool_close(p);
	pool_disconnect(c);
}

/*
 * a cannot grow in place (b, held, follows it), so it can only move: its
 * new place is 512 KiB, but only its 256 KiB of growth counts against the
 * limit, which is what n's eviction gives back.
 */
static void
move_evicts_for_growth(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats was, now;
	pool_off_t a, b, o, f, n;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "mv", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(pool_open(c, "mv", &p), 0);
	EXPECT_RC(pool_alloc(p, BIG, &a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &b), 0);
	EXPECT_RC(pool_alloc(p, BIG, &o), 0);
	EXPECT_RC(pool_publish_flags(p, o, "n", POOL_PUBLISH_EVICTABLE), 0);
	EXPECT_RC(pool_free(p, o), 0);		/* the name's alone */
	EXPECT_RC(pool_alloc(p, BIG, &f), 0);	/* at the limit */
	memset(pool_ptr(p, a), 0x5a, BIG);
	was = harness_stats_of(c, "mv");
	assert_int_equal(was.allocated_bytes, 1 * MiB);

	EXPECT_RC(pool_realloc(p, a, 2 * BIG, &n), 0);
	printf("limit: a moved from %#llx to %#llx, %llu names evicted\n",
	       (unsigned long long)a, (unsigned long long)n,
	       (unsigned long long)harness_stats_of(c, "mv").evictions);
	assert_true(n != a);
	assert_int_equal(((uint8_t *)pool_ptr(p, n))[BIG - 1], 0x5a);
	assert_false(published(p, "n"));
	now = harness_stats_of(c, "mv");
	assert_int_equal(now.evictions, 1);
	assert_int_equal(now.evicted_bytes, BIG);
	assert_int_equal(now.allocated_bytes, 1 * MiB);
	assert_int_equal(now.failed_allocs, was.failed_allocs);

	/* 512 KiB of growth, and 256 KiB of names: none goes. */
	EXPECT_RC(pool_alloc(p, BIG, &o), -ENOMEM);
	EXPECT_RC(pool_free(p, f), 0);
	EXPECT_RC(pool_alloc(p, BIG, &o), 0);
	EXPECT_RC(pool_publish_flags(p, o, "m", POOL_PUBLISH_EVICTABLE), 0);
	EXPECT_RC(pool_free(p, o), 0);
	was = harness_stats_of(c, "mv");
	EXPECT_RC(pool_realloc(p, n, 4 * BIG, &a), -ENOMEM);
	assert_true(published(p, "m"));
	now = harness_stats_of(c, "mv");
	expect_unchanged(&now, &was);
	assert_int_equal(now.evictions, 1);
	assert_int_equal(((uint8_t *)pool_ptr(p, n))[BIG - 1], 0x5a);
	harness_expect_checked(c, "mv");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- the client cache --------------------------------------------------- */

#define SMALL_BLOCKS 2048u
#define SMALL 256u

static void
refills_within_limit_share(void **state)
{
	static pool_off_t offs[255];
	struct pool_stats ps;
	struct pool_conn *c;
	struct pool *p;
	unsigned i;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "rl", POOL_SIZE, 1 * MiB), 0);
	EXPECT_RC(pool_open(c, "rl", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);	/* whatever the env */
	for (i = 0; i < 255; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);	/* with the cache's report */
	printf("limit: 255 x %u B taken under a 1 MiB limit of a 64 MiB pool: "
	       "%llu B cached\n", SMALL,
	       (unsigned long long)ps.client_cached_bytes);
	/* Refills of 1 KiB: 4 blocks, the one asked for and 3 kept. */
	assert_true(ps.client_cached_bytes > 0);
	assert_true(ps.client_cached_bytes <= 3 * SMALL);
	for (i = 0; i < 255; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* Cached bytes of a handle of c's that frees SMALL_BLOCKS small blocks. */
static uint64_t
cached_after_frees(struct pool_conn *c, const char *name)
{
	static pool_off_t offs[SMALL_BLOCKS];
	struct pool_stats ps;
	struct pool *p;
	unsigned i;

	EXPECT_RC(pool_open(c, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);	/* whatever the env */
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &offs[i]), 0);
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);	/* with the cache's report */
	pool_close(p);
	return ps.client_cached_bytes;
}

static void
cache_within_limit_share(void **state)
{
	struct pool_conn *c, *other;
	struct pool *p, *q;
	pool_off_t x[3];
	uint64_t cached;
	unsigned i;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_connect(NULL, &other), 0);
	EXPECT_RC(create_limited(c, "cl", POOL_SIZE, 1 * MiB), 0);

	/* 512 KiB freed: 4 MiB is 1/16 of the size, 64 KiB of the limit. */
	cached = cached_after_frees(c, "cl");
	printf("limit: %u x %u B freed under a 1 MiB limit of a 64 MiB pool: "
	       "%llu B cached\n", SMALL_BLOCKS, SMALL,
	       (unsigned long long)cached);
	assert_true(cached > 0);
	assert_true(cached <= 1 * MiB / 16);

	/* Kept while another connection takes the rest of the limit. */
	EXPECT_RC(pool_open(c, "cl", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	for (i = 0; i < 64; i++) {
		EXPECT_RC(pool_alloc(p, SMALL, &x[0]), 0);
		EXPECT_RC(pool_free(p, x[0]), 0);
	}
	EXPECT_RC(pool_open(other, "cl", &q), 0);
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_alloc(q, BIG, &x[i]), 0);
	assert_true(harness_stats_of(c, "cl").allocated_bytes <= 1 * MiB);
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_free(q, x[i]), 0);
	pool_close(q);
	pool_close(p);

	/* The limit is read at the open: raised, a new handle keeps more. */
	EXPECT_RC(set_limit(c, "cl", 16 * MiB), 0);
	cached = cached_after_frees(c, "cl");
	printf("limit: raised to 16 MiB, reopened: %llu B cached\n",
	       (unsigned long long)cached);
	assert_true(cached > 1 * MiB / 16);
	assert_true(cached <= 1 * MiB);
	harness_expect_checked(c, "cl");
	pool_disconnect(other);
	pool_disconnect(c);
}

/* ---- a limit changed live, as a handle's cache hears it --------------- */

/* Handle p takes n blocks of size bytes, and frees them into its cache. */
static void
fill_cache(struct pool *p, unsigned n, size_t size)
{
	static pool_off_t offs[SMALL_BLOCKS];
	unsigned i;

	assert_true(n <= SMALL_BLOCKS);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_alloc(p, size, &offs[i]), 0);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
}

/*
 * The cached bytes of handle p once it has taken n blocks of size bytes
 * and freed them all, as pool_stats reports them for it.
 */
static uint64_t
cached_after_cycle(struct pool *p, unsigned n, size_t size)
{
	struct pool_stats ps;

	fill_cache(p, n, size);
	EXPECT_RC(pool_stats(p, &ps), 0);	/* with the cache's report */
	return ps.client_cached_bytes;
}

/*
 * p's cached bytes after one allocation, freed again: a refill, as no
 * block of 128 to 256 B is cached.
 */
static uint64_t
cached_after_refill(struct pool *p)
{
	struct pool_stats ps;
	pool_off_t x;

	EXPECT_RC(pool_alloc(p, 128, &x), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	EXPECT_RC(pool_free(p, x), 0);
	return ps.client_cached_bytes;
}

/*
 * A fixture daemon; connections *c and *admin; pool name of POOL_SIZE
 * made by admin with limit (0: none) and opened by c as *p, its cache's
 * budget 4 MiB whatever the environment says, so that the pool's bounds
 * alone decide what it keeps.
 */
static void
start_cached(const char *name, uint64_t limit, struct pool_conn **c,
	     struct pool_conn **admin, struct pool **p)
{
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, c), 0);
	assert_int_equal(pool_connect(NULL, admin), 0);
	EXPECT_RC(create_limited(*admin, name, POOL_SIZE, limit), 0);
	EXPECT_RC(pool_open(*c, name, p), 0);
	EXPECT_RC(pool_set_cache(*p, 4 * MiB), 0);
}

/*
 * A handle's cache under a 1 MiB limit, the limit raised live to the
 * pool's 64 MiB by another connection (then, with restart, the daemon
 * restarted in place): the same handle's next refills keep what the new
 * bound allows, 1/16 of 64 MiB being the 4 MiB asked for, so the 512 KiB
 * it frees stays cached.
 */
static void
raised_reaches_cache(const char *name, bool restart)
{
	struct pool_conn *c, *admin;
	struct pool *p;
	uint64_t before, after;

	start_cached(name, 1 * MiB, &c, &admin, &p);
	before = cached_after_cycle(p, SMALL_BLOCKS, SMALL);
	EXPECT_RC(set_limit(admin, name, POOL_SIZE), 0);
	if (restart)
		assert_int_equal(harness_restart_in_place(&d), 0);
	after = cached_after_cycle(p, SMALL_BLOCKS, SMALL);
	printf("limit: %u x %u B freed by one handle: %llu B cached under "
	       "1 MiB, %llu B once it is raised live to 64 MiB%s\n",
	       SMALL_BLOCKS, SMALL, (unsigned long long)before,
	       (unsigned long long)after,
	       restart ? " and the daemon restarted in place" : "");
	assert_true(before > 0);
	assert_true(before <= 1 * MiB / 16);
	assert_true(after >= SMALL_BLOCKS * SMALL);
	assert_true(after <= 4 * MiB);
	pool_close(p);
	harness_expect_checked(admin, name);
	pool_disconnect(admin);
	pool_disconnect(c);
}

static void
raised_live_reaches_cache(void **state)
{
	(void)state;
	raised_reaches_cache("rr", false);
}

static void
lowered_live_sheds_cache(void **state)
{
	static pool_off_t offs[SMALL_BLOCKS];
	struct pool_conn *c, *admin;
	struct pool_stats ps;
	struct pool *p;
	uint64_t shed, held, refilled;
	unsigned i;

	(void)state;
	start_cached("ls", 16 * MiB, &c, &admin, &p);	/* 1 MiB: 1/16 */
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_alloc(p, 1 * KiB, &offs[i]), 0);

	/*
	 * 2 MiB live, freed after the limit is lowered: the cache fills
	 * its old 1 MiB budget, and its first eviction brings the new bound.
	 */
	EXPECT_RC(set_limit(admin, "ls", 4 * MiB), 0);
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	shed = ps.client_cached_bytes;
	held = harness_stats_of(admin, "ls").allocated_bytes;
	printf("limit: %u x 1 KiB freed after the limit went 16 -> 4 MiB: "
	       "%llu B cached, the pool holds %llu B\n", SMALL_BLOCKS,
	       (unsigned long long)shed, (unsigned long long)held);
	assert_true(shed > 0);
	assert_true(shed <= 4 * MiB / 16);
	assert_true(held <= 4 * MiB / 16);

	/* Lowered again: the 128 B block's refill brings it. */
	EXPECT_RC(set_limit(admin, "ls", 1 * MiB), 0);
	refilled = cached_after_refill(p);
	printf("limit: lowered 4 -> 1 MiB, after a refill: %llu B cached\n",
	       (unsigned long long)refilled);
	assert_true(refilled <= 1 * MiB / 16);
	assert_true(harness_stats_of(admin, "ls").allocated_bytes <= 1 * MiB / 16);
	pool_close(p);
	harness_expect_checked(admin, "ls");
	pool_disconnect(admin);
	pool_disconnect(c);
}

/*
 * One thread's cache, one shard, holds twice the bound the lowered limit
 * leaves it: the shed gives back what is over, and the warm blocks within
 * the bound stay (a shed to nothing would send them all to the daemon and
 * make the next allocations each a round trip).
 */
static void
lowered_live_keeps_to_bound(void **state)
{
	static pool_off_t offs[SMALL_BLOCKS];
	struct pool_conn *c, *admin;
	struct pool_stats ps, books;
	struct pool *p;
	uint64_t filled, shed, daemon_allocs;
	pool_off_t x;
	unsigned i, n;

	(void)state;
	start_cached("lk", 16 * MiB, &c, &admin, &p);	/* 1 MiB: 1/16 */
	filled = cached_after_cycle(p, SMALL_BLOCKS, SMALL);
	EXPECT_RC(set_limit(admin, "lk", 4 * MiB), 0);	/* 256 KiB */

	/* No 128 B block cached: a refill, whose reply brings the bound. */
	EXPECT_RC(pool_alloc(p, 128, &x), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	shed = ps.client_cached_bytes;
	books = harness_stats_of(admin, "lk");
	printf("limit: %llu B cached by one thread, %llu B once a refill "
	       "heard the limit go 16 -> 4 MiB (bound %u B), the pool holds "
	       "%llu B\n", (unsigned long long)filled,
	       (unsigned long long)shed, 4 * MiB / 16,
	       (unsigned long long)books.allocated_bytes);
	assert_true(filled >= SMALL_BLOCKS * SMALL);
	assert_true(shed > 0);
	assert_true(shed <= 4 * MiB / 16);
	/* Most of what the bound leaves: neither emptied nor halved past it. */
	assert_true(shed >= 4 * MiB / 16 / 2);
	/* The daemon has the rest back: only x beside the cached blocks. */
	assert_int_equal(books.allocated_bytes, shed + 128);

	/* What it kept is handed out again with no round trip. */
	daemon_allocs = books.allocs;
	n = (unsigned)(shed / SMALL / 2);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &offs[i]), 0);
	assert_int_equal(harness_stats_of(admin, "lk").allocs, daemon_allocs);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	harness_expect_checked(admin, "lk");
	pool_disconnect(admin);
	pool_disconnect(c);
}

#define STEADY_LIVE 256u
/*
 * What a cache over its bound is cut down to: a 32nd of it below, so
 * that the next frees find room (cache_shrink_to_budget).
 */
#define CUT_TO(bound) ((bound) - (bound) / 32)

/*
 * One thread holds STEADY_LIVE blocks live and 512 KiB cached; the limit
 * is lowered to leave a 256 KiB budget, and a refill hears it and sheds
 * down to it.  Then, as a program that goes on working would, each live
 * block is freed and one of its size allocated in its place.  Each pair
 * frees one block and takes one back, so the cache needs no more room
 * than the shrink left; were it cut exactly to the budget, the first free
 * would find no credit and evict the older half of the shard.
 */
static void
lowered_live_then_steady(void **state)
{
	static pool_off_t live[STEADY_LIVE];
	struct pool_conn *c, *admin;
	struct pool_stats ps, before, after;
	struct pool *p;
	uint64_t shed, steady;
	pool_off_t x;
	unsigned i;

	(void)state;
	start_cached("lsd", 16 * MiB, &c, &admin, &p);	/* 1 MiB: 1/16 */
	for (i = 0; i < STEADY_LIVE; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &live[i]), 0);
	fill_cache(p, SMALL_BLOCKS, SMALL);
	EXPECT_RC(set_limit(admin, "lsd", 4 * MiB), 0);	/* 256 KiB */
	EXPECT_RC(pool_alloc(p, 128, &x), 0);	/* a refill: it sheds */
	EXPECT_RC(pool_stats(p, &ps), 0);
	shed = ps.client_cached_bytes;
	before = harness_stats_of(admin, "lsd");
	for (i = 0; i < STEADY_LIVE; i++) {
		EXPECT_RC(pool_free(p, live[i]), 0);
		EXPECT_RC(pool_alloc(p, SMALL, &live[i]), 0);
	}
	EXPECT_RC(pool_stats(p, &ps), 0);
	steady = ps.client_cached_bytes;
	after = harness_stats_of(admin, "lsd");
	printf("limit: %llu B cached after the shed to %u B; %u frees and "
	       "allocations in turn then: %llu B cached, the daemon freed "
	       "%llu and allocated %llu blocks meanwhile\n",
	       (unsigned long long)shed, 4 * MiB / 16, STEADY_LIVE,
	       (unsigned long long)steady,
	       (unsigned long long)(after.frees - before.frees),
	       (unsigned long long)(after.allocs - before.allocs));
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(after.allocs, before.allocs);
	assert_true(steady >= shed - SMALL);
	assert_true(shed <= 4 * MiB / 16);
	assert_true(shed >= 4 * MiB / 16 - 4 * MiB / 16 / 16);
	for (i = 0; i < STEADY_LIVE; i++)
		EXPECT_RC(pool_free(p, live[i]), 0);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	harness_expect_checked(admin, "lsd");
	pool_disconnect(admin);
	pool_disconnect(c);
}

#define MIXED_STEP 64u		/* sizes 64 B to 4 KiB, 64 B apart */
#define MIXED_SIZES (4 * KiB / MIXED_STEP)
#define MIXED_EACH 4u

/*
 * Blocks of 64 sizes up to 4 KiB, four of each, spread over some twenty
 * size classes, a few blocks in each stack; the bound lowered live below
 * what they hold.  The shed gives back the bytes over the room it cuts
 * to (CUT_TO), and less than one block more: the share of each stack it
 * takes is rounded down, and then made up a block at a time.  (Rounded
 * up, each stack would give up to a block more than its share, some
 * 15 KiB here, and the cache would keep that much less than it may.)
 */
static void
lowered_live_sheds_no_more(void **state)
{
	static pool_off_t offs[MIXED_SIZES * MIXED_EACH];
	struct pool_conn *c, *admin;
	struct pool_stats ps;
	struct pool *p;
	uint64_t filled, shed;
	pool_off_t x;
	unsigned i;

	(void)state;
	start_cached("lm", 16 * MiB, &c, &admin, &p);	/* 1 MiB: 1/16 */
	for (i = 0; i < MIXED_SIZES * MIXED_EACH; i++)
		EXPECT_RC(pool_alloc(p, (i % MIXED_SIZES + 1) * MIXED_STEP,
				     &offs[i]), 0);
	for (i = 0; i < MIXED_SIZES * MIXED_EACH; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	filled = ps.client_cached_bytes;
	EXPECT_RC(set_limit(admin, "lm", 8 * MiB), 0);	/* 512 KiB */
	EXPECT_RC(pool_alloc(p, 16, &x), 0);	/* none cached: a refill */
	EXPECT_RC(pool_stats(p, &ps), 0);
	shed = ps.client_cached_bytes;
	printf("limit: %llu B cached in blocks of %u sizes, %llu B once a "
	       "refill heard the limit go 16 -> 8 MiB (bound %u B)\n",
	       (unsigned long long)filled, MIXED_SIZES,
	       (unsigned long long)shed, 8 * MiB / 16);
	assert_true(filled > 8 * MiB / 16);
	assert_true(shed <= CUT_TO(8 * MiB / 16));
	assert_true(shed > CUT_TO(8 * MiB / 16) - 4 * KiB);
	assert_int_equal(harness_stats_of(admin, "lm").allocated_bytes,
			 shed + 16);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	harness_expect_checked(admin, "lm");
	pool_disconnect(admin);
	pool_disconnect(c);
}

#define LEVEL_BLOCKS 1024u	/* each thread's: 256 KiB of SMALL */

/* Two threads of one handle, each with its shard, in three steps. */
struct level_run {
	struct pool *p;
	pthread_barrier_t filled, heard, done;
	pool_off_t offs[2][LEVEL_BLOCKS];
	int rc[2];
};

struct level_thread {
	struct level_run *run;
	unsigned me;
};

/*
 * Fills its cache with LEVEL_BLOCKS small blocks; once the bound is
 * lowered and heard, asks for a quarter of them again, and frees those.
 */
static void *
level_thread(void *arg)
{
	struct level_thread *t = arg;
	struct level_run *r = t->run;
	pool_off_t *offs = r->offs[t->me];
	unsigned i;
	int rc = 0, e;

	for (i = 0; i < LEVEL_BLOCKS && rc == 0; i++)
		rc = pool_alloc(r->p, SMALL, &offs[i]);
	for (i = 0; i < LEVEL_BLOCKS && rc == 0; i++)
		rc = pool_free(r->p, offs[i]);
	pthread_barrier_wait(&r->filled);
	pthread_barrier_wait(&r->heard);
	for (i = 0; i < LEVEL_BLOCKS / 4 && rc == 0; i++)
		rc = pool_alloc(r->p, SMALL, &offs[i]);
	pthread_barrier_wait(&r->done);	/* the daemon's count read */
	pthread_barrier_wait(&r->done);
	for (i = 0; i < LEVEL_BLOCKS / 4; i++)
		if ((e = pool_free(r->p, offs[i])) != 0 && rc == 0)
			rc = e;
	r->rc[t->me] = rc;
	return NULL;
}

/*
 * Two threads hold 256 KiB each, and the bound drops to 256 KiB: the
 * shed takes from both alike, so each keeps about 128 KiB and serves the
 * 64 KiB it asks for next from its own shard.  (Emptying the fullest
 * shard, or taking the whole excess from it, would leave one thread
 * nothing, and its allocations would go to the daemon.)
 */
static void
lowered_live_levels_threads(void **state)
{
	static struct level_run r;
	struct level_thread t[2];
	struct pool_conn *c, *admin;
	struct pool_stats ps;
	struct pool *p;
	pthread_t th[2];
	uint64_t filled, shed, allocs;
	pool_off_t x;
	unsigned i;

	(void)state;
	start_cached("lt", 16 * MiB, &c, &admin, &p);	/* 1 MiB: 1/16 */
	memset(&r, 0, sizeof r);
	r.p = p;
	assert_int_equal(pthread_barrier_init(&r.filled, NULL, 3), 0);
	assert_int_equal(pthread_barrier_init(&r.heard, NULL, 3), 0);
	assert_int_equal(pthread_barrier_init(&r.done, NULL, 3), 0);
	for (i = 0; i < 2; i++) {
		t[i].run = &r;
		t[i].me = i;
		assert_int_equal(pthread_create(&th[i], NULL, level_thread,
						&t[i]), 0);
	}
	pthread_barrier_wait(&r.filled);
	EXPECT_RC(pool_stats(p, &ps), 0);
	filled = ps.client_cached_bytes;
	EXPECT_RC(set_limit(admin, "lt", 4 * MiB), 0);	/* 256 KiB */
	EXPECT_RC(pool_alloc(p, 128, &x), 0);	/* a refill: it hears */
	EXPECT_RC(pool_stats(p, &ps), 0);
	shed = ps.client_cached_bytes;
	allocs = harness_stats_of(admin, "lt").allocs;
	pthread_barrier_wait(&r.heard);
	pthread_barrier_wait(&r.done);
	allocs = harness_stats_of(admin, "lt").allocs - allocs;
	pthread_barrier_wait(&r.done);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	printf("limit: two threads cached %llu B, %llu B once the limit went "
	       "16 -> 4 MiB (bound %u B); %u blocks each asked for again "
	       "then took %llu blocks from the daemon\n",
	       (unsigned long long)filled, (unsigned long long)shed,
	       4 * MiB / 16, LEVEL_BLOCKS / 4, (unsigned long long)allocs);
	EXPECT_RC(r.rc[0], 0);
	EXPECT_RC(r.rc[1], 0);
	assert_true(filled >= 2 * LEVEL_BLOCKS * SMALL);
	assert_true(shed <= 4 * MiB / 16);
	assert_true(shed >= 4 * MiB / 16 / 2);
	assert_int_equal(allocs, 0);
	EXPECT_RC(pool_free(p, x), 0);
	pthread_barrier_destroy(&r.filled);
	pthread_barrier_destroy(&r.heard);
	pthread_barrier_destroy(&r.done);
	pool_close(p);
	harness_expect_checked(admin, "lt");
	pool_disconnect(admin);
	pool_disconnect(c);
}

/*
 * In a library hook: tell the test the hook is reached (post), then wait
 * until the test lets this thread go on (go).
 */
static void
hook_hand_over(sem_t *post, sem_t *go)
{
	assert_int_equal(sem_post(post), 0);
	while (sem_wait(go) != 0)
		assert_int_equal(errno, EINTR);
}

/*
 * cache_bounds_hook: a thread that set hold_bounds before its request
 * waits there, its reply read but its bounds not yet taken, until the
 * test lets it go.  Only that one: every other reply's bounds pass.
 */
static __thread bool hold_bounds;
static sem_t bounds_held, bounds_go;

void cache_bounds_hook(void);

void
cache_bounds_hook(void)
{
	if (!hold_bounds)
		return;
	hold_bounds = false;
	hook_hand_over(&bounds_held, &bounds_go);
}

struct held_refill {
	struct pool *p;
	pool_off_t off;
	int rc;
};

/* An allocation of a class nothing holds yet: a refill, held as above. */
static void *
held_refill_thread(void *arg)
{
	struct held_refill *h = arg;

	hold_bounds = true;
	h->rc = pool_alloc(h->p, 96, &h->off);
	return NULL;
}

/*
 * Thread A's refill reply, read under a 16 MiB limit (1 MiB budget), is
 * held before its bounds are taken; the limit is lowered to 4 MiB; the
 * main thread's refill hears it (256 KiB budget) and sheds; then A's
 * older bound is taken.  Were it applied, the budget would be 1 MiB
 * again until the next round trip, and 512 KiB freed would all stay
 * cached with none: the pool's other clients would find a quarter more
 * of the lowered limit held by a cache than the bound allows.
 */
static void
older_bound_taken_last(void **state)
{
	static pool_off_t offs[SMALL_BLOCKS];
	struct held_refill h = {0};
	struct pool_conn *c, *admin;
	struct pool_stats ps, books;
	struct pool *p;
	pthread_t th;
	pool_off_t y;
	unsigned i;

	(void)state;
	start_cached("lo", 16 * MiB, &c, &admin, &p);	/* 1 MiB: 1/16 */
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &offs[i]), 0);
	assert_int_equal(sem_init(&bounds_held, 0, 0), 0);
	assert_int_equal(sem_init(&bounds_go, 0, 0), 0);
	h.p = p;
	assert_int_equal(pthread_create(&th, NULL, held_refill_thread, &h), 0);
	while (sem_wait(&bounds_held) != 0)
		assert_int_equal(errno, EINTR);

	/* A's reply is in, its 16 MiB not taken: the limit goes down. */
	EXPECT_RC(set_limit(admin, "lo", 4 * MiB), 0);	/* 256 KiB */
	EXPECT_RC(pool_alloc(p, 160, &y), 0);	/* a refill: it hears */
	assert_int_equal(sem_post(&bounds_go), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	EXPECT_RC(h.rc, 0);

	/* 512 KiB freed: within the budget in force, kept with no trip. */
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	books = harness_stats_of(admin, "lo");
	printf("limit: a reply read under 16 MiB taken after one read once "
	       "the limit went to 4 MiB (bound %u B); %u x %u B freed next: "
	       "%llu B cached, the pool holds %llu B\n", 4 * MiB / 16,
	       SMALL_BLOCKS, SMALL, (unsigned long long)ps.client_cached_bytes,
	       (unsigned long long)books.allocated_bytes);
	assert_true(ps.client_cached_bytes > 0);
	assert_true(ps.client_cached_bytes <= 4 * MiB / 16);
	assert_true(books.allocated_bytes <= 4 * MiB / 16 + 96 + 160);
	EXPECT_RC(pool_free(p, h.off), 0);
	EXPECT_RC(pool_free(p, y), 0);
	sem_destroy(&bounds_held);
	sem_destroy(&bounds_go);
	pool_close(p);
	harness_expect_checked(admin, "lo");
	pool_disconnect(admin);
	pool_disconnect(c);
}

static void
quota_lowered_live(void **state)
{
	struct pool_set_opts q = {.which = POOL_SET_QUOTA, .quota = 1 * MiB};
	struct pool_conn *c, *admin;
	struct pool *p;
	uint64_t before, after;

	(void)state;
	start_cached("ql", 0, &c, &admin, &p);
	before = cached_after_cycle(p, SMALL_BLOCKS, SMALL);
	EXPECT_RC(pool_set(admin, "ql", &q), 0);
	after = cached_after_refill(p);
	printf("limit: %llu B cached without a quota, %llu B after a refill "
	       "once a 1 MiB quota is set live\n",
	       (unsigned long long)before, (unsigned long long)after);
	assert_true(before >= SMALL_BLOCKS * SMALL);
	assert_true(after <= 1 * MiB / 8);
	pool_close(p);
	pool_disconnect(admin);
	pool_disconnect(c);
}

static void
raised_across_restart(void **state)
{
	(void)state;
	raised_reaches_cache("rx", true);
}

static void
stats_by_name_reports_caches(void **state)
{
	struct pool_conn *c;
	struct pool_stats ps;
	struct pool *p, *q;
	uint64_t by_name;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "sn", POOL_SIZE, 16 * MiB), 0);
	EXPECT_RC(pool_open(c, "sn", &p), 0);
	EXPECT_RC(pool_open(c, "sn", &q), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	EXPECT_RC(pool_set_cache(q, 4 * MiB), 0);
	/* Freed after each handle's last request: no report has them. */
	fill_cache(p, 64, SMALL);
	fill_cache(q, 64, 1 * KiB);
	by_name = harness_stats_of(c, "sn").client_cached_bytes;
	EXPECT_RC(pool_stats(p, &ps), 0);
	printf("limit: two handles' caches, 64 x %u B and 64 x 1 KiB freed: "
	       "%llu B cached by name, %llu B through a handle\n", SMALL,
	       (unsigned long long)by_name,
	       (unsigned long long)ps.client_cached_bytes);
	assert_true(by_name >= 64 * SMALL + 64 * KiB);
	assert_int_equal(by_name, ps.client_cached_bytes);
	pool_close(q);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * stats_reports_hook: once armed, the thread asking stats by name has
 * closer_thread close its handle there, between reading the reports and
 * sending them, and waits until it is closed.  Armed and run in the
 * asking thread only.
 */
static bool close_armed;
static sem_t close_now, closed_now;

void stats_reports_hook(void);

void
stats_reports_hook(void)
{
	if (!close_armed)
		return;
	close_armed = false;
	hook_hand_over(&close_now, &closed_now);
}

static void *
closer_thread(void *arg)
{
	while (sem_wait(&close_now) != 0)
		assert_int_equal(errno, EINTR);
	pool_close(arg);
	assert_int_equal(sem_post(&closed_now), 0);
	return NULL;
}

static void
stats_by_name_handle_closed(void **state)
{
	struct pool_conn *c;
	struct pool_stats by_name, ps;
	struct pool *p, *q;
	pthread_t th;
	bool hooked;
	int rc;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_limited(c, "sc", POOL_SIZE, 16 * MiB), 0);
	EXPECT_RC(pool_open(c, "sc", &p), 0);
	EXPECT_RC(pool_open(c, "sc", &q), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	EXPECT_RC(pool_set_cache(q, 4 * MiB), 0);
	fill_cache(p, 64, SMALL);
	fill_cache(q, 64, 1 * KiB);
	assert_int_equal(sem_init(&close_now, 0, 0), 0);
	assert_int_equal(sem_init(&closed_now, 0, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, closer_thread, q), 0);
	close_armed = true;
	rc = pool_stats_by_name(c, "sc", &by_name);
	hooked = !close_armed;
	if (!hooked) {		/* q is closed all the same */
		close_armed = false;
		assert_int_equal(sem_post(&close_now), 0);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	printf("limit: a handle closed between the reports' reading and "
	       "sending: pool_stats_by_name %d, %llu B cached by name, "
	       "%llu B through the open handle\n", rc,
	       (unsigned long long)by_name.client_cached_bytes,
	       (unsigned long long)ps.client_cached_bytes);
	assert_true(hooked);
	EXPECT_RC(rc, 0);
	assert_true(by_name.client_cached_bytes >= 64 * SMALL);
	assert_int_equal(by_name.client_cached_bytes, ps.client_cached_bytes);
	assert_int_equal(by_name.allocated_bytes, ps.allocated_bytes);
	sem_destroy(&close_now);
	sem_destroy(&closed_now);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(refused_at_limit_then_raised, &d),
		HARNESS_FIXTURE_TEST(lowered_takes_nothing_back, &d),
		HARNESS_FIXTURE_TEST(realloc_by_growth, &d),
		HARNESS_FIXTURE_TEST(big_realloc_by_growth, &d),
		HARNESS_FIXTURE_TEST(batch_all_or_nothing, &d),
		HARNESS_FIXTURE_TEST(bad_limits_change_nothing, &d),
		HARNESS_FIXTURE_TEST(reads_commit_past_the_limit, &d),
		HARNESS_FIXTURE_TEST(trim_keeps_blocks_below_the_mark, &d),
		HARNESS_FIXTURE_TEST(kept_across_restart, &d),
		HARNESS_STORE_TEST(kept_across_crash, &st),
		HARNESS_FIXTURE_TEST(file_pool_limit, &d),
		HARNESS_FIXTURE_TEST(poolctl_limit, &d),
		HARNESS_FIXTURE_TEST(evicts_down_to_limit, &d),
		HARNESS_FIXTURE_TEST(move_evicts_for_growth, &d),
		HARNESS_FIXTURE_TEST(cache_within_limit_share, &d),
		HARNESS_FIXTURE_TEST(refills_within_limit_share, &d),
		HARNESS_FIXTURE_TEST(raised_live_reaches_cache, &d),
		HARNESS_FIXTURE_TEST(lowered_live_sheds_cache, &d),
		HARNESS_FIXTURE_TEST(lowered_live_keeps_to_bound, &d),
		HARNESS_FIXTURE_TEST(lowered_live_then_steady, &d),
		HARNESS_FIXTURE_TEST(lowered_live_sheds_no_more, &d),
		HARNESS_FIXTURE_TEST(lowered_live_levels_threads, &d),
		HARNESS_FIXTURE_TEST(older_bound_taken_last, &d),
		HARNESS_FIXTURE_TEST(quota_lowered_live, &d),
		HARNESS_FIXTURE_TEST(raised_across_restart, &d),
		HARNESS_FIXTURE_TEST(stats_by_name_reports_caches, &d),
		HARNESS_FIXTURE_TEST(stats_by_name_handle_closed, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
