/*
 * itest_evict.c - evictable names (docs/protocol.md, "Eviction"): a full
 * pool evicts the names published evictable that nobody holds, least
 * recently used first, rather than refuse an allocation.  Here, which
 * names an allocation, a calloc and a batch evict, and how few: the
 * order, holds, kept names, the quota, refusals, rounds and waits.  A
 * realloc's evictions are itest_evict_realloc.c's, a restart's and a
 * crash's itest_evict_restart.c's; the daemon, its pools and a pool
 * filled with names are evict_util.h's.
 *
 *   lru_order           a pool filled by evictable named blocks: an
 *       allocation that needs one block's room evicts the oldest, and
 *       no other; lookups make names newer, so the next allocation, of
 *       two blocks' room, evicts from the oldest not looked up; the
 *       counters and the listing say so, and the check agrees;
 *   held_never_evicted  the oldest name retained by another client is
 *       passed over by an allocation, a calloc, a batch and a realloc
 *       that must move, each evicting the next oldest; its release makes
 *       it the newest;
 *   kept_never_evicted  names published without the flag stay: once
 *       the evictable ones are gone the allocation is -ENOMEM;
 *   quota_evicts_own_names  -EDQUOT of the quota per connection evicts
 *       the uid's own least recently used unheld names, as few as make
 *       it fit, and none when all of them would not;
 *   too_big             a request larger than the free and evictable
 *       bytes together is -ENOMEM with nothing evicted; so is one that
 *       fits in bytes but not in a run (evictable blocks between kept
 *       ones): an allocation, a calloc, a batch, a realloc that must
 *       move, and an alignment only a held block's place meets; one
 *       aligned where an evictable block lies evicts it;
 *   room_after_a_refusal  such a refusal is not remembered past a free
 *       that lengthens the stretch, nor past the evictable block's last
 *       holder letting it go: each then evicts the one name, and fits;
 *   batch_no_room_evicts_nothing  a batch of two and one of three
 *       blocks, the largest with a window, the others with no run even
 *       were every name evicted: -ENOMEM, no name evicted, in words
 *       that say so, the names' bytes intact, the Check passing, only
 *       the refusals counted;
 *   batch_evicts_the_names_it_needs  a batch that evicting names can
 *       make evicts the least recently used that make it, in one
 *       round, and no newer one;
 *   poolctl_shows       `poolctl names` (text and --json) shows the flag,
 *       `poolctl stats` (text, --json, kv, Prometheus) the counters;
 *   republish_in_place_is_a_use  the oldest evictable name republished
 *       on its own block (a new frame written in place) is the newest:
 *       the next eviction takes the one after it;
 *   refused_lookup_is_no_use  a Lookup with retain of the oldest name,
 *       refused (a client at its blocks allowed), leaves it the oldest:
 *       the next eviction still takes it, not the one after it;
 *   evicts_only_what_is_missing  a block free next to the oldest name's:
 *       an alloc, a calloc, a batch and a Realloc of no block, each of
 *       two blocks' room, evict the one name the free block lacks, not
 *       two blocks' worth;
 *   evicts_one_name_a_round  two free blocks apart, room enough in bytes
 *       but not in a run: two blocks' room evicts the oldest name, next
 *       to one of them, and tries again, nothing more;
 *   evictions_in_steps_wait_few_times  every eviction's pages going
 *       back in steps: a batch of three blocks' room, one block's bytes
 *       and then a run missing, evicts the five least recently used
 *       names that make it, not every name, in one round: one wait;
 *   window_from_the_oldest  the same pool, one allocation of three
 *       blocks' room: the names that make the run, none used after one
 *       that could have gone instead, in one round: two names, one wait;
 *   batch_in_steps_evicts_in_one_round  the batch in blocks half as
 *       big, a run five names away: the five go in one round (rounds
 *       took six, waiting for each); one allocation instead evicts the
 *       one name that makes the run with a free block beside it;
 *   impossible_requests_evict_nothing  a pool at its limit, a raw Alloc
 *       aligned to no power of two: -EINVAL; a raw AllocBatch with a
 *       block of no bytes after one the limit refuses: that refusal;
 *       and no name evicted for the limit's refusal, neither time;
 *   evictable_again_wakes_waiting_alloc  a full pool's names all held
 *       by a reader, then all kept: an Alloc waiting for room is
 *       answered, evicting it, when the reader lets one go, and when a
 *       replace makes one evictable, not at the end of its wait.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "evict_util.h"
#include "harness_raw.h"

/* Every block's pages go back in steps, evicted ones too. */
#define STEPS_CONF	"release_step = 64K\n[pool ev]\nsize = 4M\n"

static int
setup_steps(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, STEPS_CONF) == 0 ? 0 : -1;
}

/* ---- lru_order ------------------------------------------------------ */

static void
lru_order(void **state)
{
	static const int later[] = {3, 4, 5, 6, 7, 1, 2};
	struct pool_conn *c;
	struct pool *p;
	struct pool_named *pn;
	struct pool_stats s;
	pool_off_t offs[NBLK], a, b, off;
	unsigned left, gone;
	size_t n, total, k;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xff, false, offs);
	EXPECT_RC(pool_names(c, POOL, NULL, &pn, &n, &total), 0);
	assert_int_equal(n, NBLK);
	for (k = 0; k < n; k++)
		assert_int_equal(pn[k].evictable, 1);
	free(pn);

	/* One block's room: the oldest goes, no other. */
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	assert_int_equal(a, offs[0]);
	assert_int_equal(names_left(p, offs), 0xfe);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	EXPECT_RC(pool_lookup(p, "n0", &off, NULL), -ENOENT);

	/*
	 * names_left looked every name up, in order: n1 is the oldest now.
	 * Look n1 and n2 up again, so that n3 is.  Two blocks' room evicts
	 * from n3 on, as many as a run of 1 MiB takes, never n1 or n2
	 * while an older one is left.
	 */
	EXPECT_RC(pool_lookup(p, "n1", &off, NULL), 0);
	EXPECT_RC(pool_lookup(p, "n2", &off, NULL), 0);
	EXPECT_RC(pool_alloc(p, 2 * BLK, &b), 0);
	left = names_left(p, offs);
	gone = 0xfe & ~left;
	s = harness_stats(p);
	assert_true(s.evictions >= 3);
	assert_int_equal(s.evicted_bytes, s.evictions * BLK);
	/* The evicted are the oldest, a prefix of the order. */
	for (k = 0; k < sizeof(later) / sizeof(later[0]); k++)
		if (k < s.evictions - 1)
			assert_true(gone & (1u << later[k]));
		else
			assert_false(gone & (1u << later[k]));
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_free(p, b), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- held_never_evicted --------------------------------------------- */

static void
held_never_evicted(void **state)
{
	struct pool_conn *c, *c2;
	struct pool *p, *q;
	pool_off_t offs[NBLK], a, z, batch[2], r, off;
	size_t sizes[2] = {BLK / 2, BLK / 2};

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	open_pool(d.sock, POOL, &c2, &q);
	fill(p, 0xff, false, offs);
	/* Another client holds the oldest. */
	EXPECT_RC(pool_lookup_retain(q, "n0", &off, NULL), 0);
	assert_int_equal(off, offs[0]);

	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	assert_int_equal(a, offs[1]);
	EXPECT_RC(pool_calloc(p, 1, BLK, &z), 0);
	assert_int_equal(z, offs[2]);
	EXPECT_RC(pool_alloc_batch(p, 2, sizes, batch), 0);
	assert_int_equal(names_left(p, offs), 0xf9 & ~0x08);
	/* A realloc that must grow into room it has not. */
	EXPECT_RC(pool_realloc(p, a, 2 * BLK, &r), 0);
	assert_int_equal(names_left(p, offs) & 1, 1);
	assert_true(harness_stats(p).evictions >= 4);

	/* Released, n0 is the newest: every other goes before it. */
	EXPECT_RC(pool_free(q, offs[0]), 0);
	EXPECT_RC(pool_lookup(p, "n0", &off, NULL), 0);
	EXPECT_RC(pool_free(p, r), 0);
	EXPECT_RC(pool_free(p, z), 0);
	EXPECT_RC(pool_free(p, batch[0]), 0);
	EXPECT_RC(pool_free(p, batch[1]), 0);
	harness_expect_checked(c, POOL);
	pool_close(q);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- kept_never_evicted --------------------------------------------- */

static void
kept_never_evicted(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a[4], x;
	int i;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0x0f, false, offs);	/* n0..n3 evictable */
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_alloc(p, BLK, &a[i]), 0);
	assert_int_equal(names_left(p, offs), 0xf0);
	EXPECT_RC(pool_alloc(p, BLK, &x), -ENOMEM);
	assert_int_equal(names_left(p, offs), 0xf0);
	assert_int_equal(harness_stats(p).evictions, 4);
	assert_int_equal(harness_stats(p).named_blocks, 4);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- quota_evicts_own_names ---------------------------------------- */

/* pool's names are n evictable ones, name_of(first) on. */
static void
expect_names_from(struct pool_conn *c, const char *pool, int first, int n)
{
	struct pool_named *pn;
	size_t got, total, i;

	EXPECT_RC(pool_names(c, pool, NULL, &pn, &got, &total), 0);
	assert_int_equal(got, (size_t)n);
	for (i = 0; i < got; i++) {
		assert_string_equal(pn[i].name, name_of(first + (int)i));
		assert_int_equal(pn[i].evictable, 1);
	}
	free(pn);
}

static void
quota_evicts_own_names(void **state)
{
	struct pool_stats s;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[NBLK], x, y;
	int i;

	(void)state;
	open_pool(d.sock, "evq", &c, &p);
	/* 3 MiB published evictable, charged to the uid. */
	for (i = 0; i < 6; i++) {
		EXPECT_RC(pool_alloc(p, BLK, &o[i]), 0);
		EXPECT_RC(pool_publish_flags(p, o[i], name_of(i),
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(p, o[i]), 0);
	}
	/*
	 * 1 MiB fits in the pool's free 1 MiB but would pass this session's
	 * quota (3 MiB persisted by its uid, 3.5 MiB allowed) by 512 KiB:
	 * the uid's least recently used name goes, that one alone, and the
	 * allocation is served.
	 */
	EXPECT_RC(pool_alloc(p, 2 * BLK, &x), 0);
	expect_names_from(c, "evq", 1, 5);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	assert_int_equal(s.quota_refusals, 0);
	/*
	 * 3 MiB more would pass it by 3 MiB with this session's 1 MiB held:
	 * all the uid's names (2.5 MiB) would not do, so none goes.
	 */
	EXPECT_RC(pool_alloc(p, 6 * BLK, &y), -EDQUOT);
	expect_names_from(c, "evq", 1, 5);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.quota_refusals, 1);
	/* A held name is no room: the oldest, held, stays; the next goes. */
	EXPECT_RC(pool_retain(p, o[1]), 0);
	EXPECT_RC(pool_alloc(p, BLK, &y), 0);
	assert_int_equal(harness_stats(p).evictions, 2);
	EXPECT_RC(pool_lookup(p, name_of(1), &y, NULL), 0);
	EXPECT_RC(pool_lookup(p, name_of(2), &y, NULL), -ENOENT);
	EXPECT_RC(pool_free(p, o[1]), 0);
	harness_expect_checked(c, "evq");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- too_big -------------------------------------------------------- */

static void
too_big(void **state)
{
	struct pool_conn *c, *c2;
	struct pool *p, *q;
	struct pool_stats s;
	pool_off_t offs[NBLK], x, off;
	char want[256];

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	open_pool(d.sock, POOL, &c2, &q);
	/* Evictable blocks between kept ones, by offset: n0, n2, n4, n6. */
	fill(p, 0x55, true, offs);

	/* More than the pool: nothing evicted. */
	EXPECT_RC(pool_alloc(p, 8 * BLK, &x), -ENOMEM);
	/* More than the free and the unheld evictable bytes: the same. */
	EXPECT_RC(pool_lookup_retain(q, "n0", &off, NULL), 0);
	EXPECT_RC(pool_alloc(p, 4 * BLK, &x), -ENOMEM);
	assert_int_equal(names_left(p, offs), 0xff);
	assert_int_equal(harness_stats(p).evictions, 0);
	EXPECT_RC(pool_free(q, off), 0);

	/*
	 * 1 MiB: the evictable bytes are 2 MiB, but no two of the blocks are
	 * side by side, and evicting all four would leave no run for it:
	 * -ENOMEM, nothing evicted.  The same for a calloc and a batch
	 * whose largest block is 1 MiB.
	 */
	EXPECT_RC(pool_alloc(p, 2 * BLK, &x), -ENOMEM);
	/* The words say what room there is, and that evictions give none. */
	snprintf(want, sizeof(want), "allocating %u bytes: pool ev's longest "
		 "free run is 0 B (0 B free in all), and evicting its 4 "
		 "evictable names nobody holds (2.0 MiB) would make no room "
		 "for it", 2 * BLK);
	if (strcmp(pool_last_message(-ENOMEM), want))
		fail_msg("words \"%s\", not \"%s\"",
			 pool_last_message(-ENOMEM), want);
	EXPECT_RC(pool_calloc(p, 2, BLK, &x), -ENOMEM);
	{
		size_t sizes[2] = {BLK / 2, 2 * BLK};
		pool_off_t got[2];

		EXPECT_RC(pool_alloc_batch(p, 2, sizes, got), -ENOMEM);
	}
	assert_int_equal(names_left(p, offs), 0xff);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 0);
	assert_int_equal(s.free_bytes + s.cached_bytes, 0);
	assert_int_equal(s.named_blocks, 8);

	/*
	 * n0's block, at 0, held: one block aligned to the pool's size
	 * fits only there, and no eviction can give it: nothing evicted.
	 * Aligned to 1 MiB it fits where n2's block is, the least recently
	 * used: n2 goes, and no other.
	 */
	EXPECT_RC(pool_lookup_retain(q, "n0", &off, NULL), 0);
	assert_int_equal(off, 0);
	EXPECT_RC(pool_alloc_aligned(p, BLK, NBLK * BLK, &x), -ENOMEM);
	assert_int_equal(harness_stats(p).evictions, 0);
	EXPECT_RC(pool_alloc_aligned(p, BLK, 2 * BLK, &x), 0);
	assert_int_equal(x, offs[2]);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(names_left(p, offs), 0xfb);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_free(q, off), 0);

	/*
	 * n1's block held by q alone, its name gone: grown to 1.5 MiB it
	 * would have to move (n2's block, after it, too short to grow
	 * into), and no stretch the evictions could free holds that.
	 */
	EXPECT_RC(pool_lookup_retain(q, "n1", &off, NULL), 0);
	EXPECT_RC(pool_unpublish(q, "n1"), 0);
	EXPECT_RC(pool_realloc(q, off, 3 * BLK, &x), -ENOMEM);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(names_left(p, offs), 0xf9);
	EXPECT_RC(pool_free(q, off), 0);
	harness_expect_checked(c, POOL);
	pool_close(q);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- poolctl_shows -------------------------------------------------- */

static void
poolctl_shows(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a;
	char out[16384], err[1024], want[128];

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0x01, false, offs);	/* n0 evictable */
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "names %s", POOL), 0);
	expect_in(out, "EVICT");
	expect_in(out, " no\n");
	assert_null(strstr(out, " yes\n"));	/* n0 went */
	EXPECT_RC(pool_publish_flags(p, a, "fresh", POOL_PUBLISH_EVICTABLE), 0);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "names %s fresh", POOL),
			 0);
	expect_in(out, " yes\n");
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "--json=short names %s",
					 POOL), 0);
	expect_in(out, "\"evictable\":true");
	expect_in(out, "\"evictable\":false");

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats %s --format=kv",
					 POOL), 0);
	snprintf(want, sizeof(want), "%s evictions 1\n", POOL);
	expect_in(out, want);
	snprintf(want, sizeof(want), "%s evicted_bytes %u\n", POOL, BLK);
	expect_in(out, want);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "--json=short stats %s",
					 POOL), 0);
	expect_in(out, "\"evictions\":1");
	snprintf(want, sizeof(want), "\"evicted_bytes\":%u", BLK);
	expect_in(out, want);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats %s", POOL), 0);
	expect_in(out, "evictions");
	expect_in(out, "evicted");
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats %s "
					 "--format=prometheus", POOL), 0);
	snprintf(want, sizeof(want), "poolmgr_pool_evictions_total{pool=\"%s\"}"
		 " 1\n", POOL);
	expect_in(out, want);
	EXPECT_RC(pool_unpublish(p, "fresh"), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- review of the eviction's books ---------------------------------- */

/*
 * A publish is a use, also a replace of an evictable name by the block it
 * is on (a producer writing a new frame in place): republished, the
 * oldest name becomes the newest, and the next eviction takes the one
 * after it.
 */
static void
republish_in_place_is_a_use(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xff, false, offs);
	EXPECT_RC(pool_publish_flags(p, offs[0], "n0", POOL_PUBLISH_REPLACE |
				     POOL_PUBLISH_EVICTABLE), 0);
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	assert_int_equal(a, offs[1]);
	assert_int_equal(harness_stats(p).evictions, 1);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * Only an answered Lookup is a use.  A retain refused (here by the
 * blocks a client may hold, max_blocks_per_session) answers nothing
 * about the name: it must not move the name away from the eviction it
 * was next for, which a client at its bound could otherwise do for ever
 * with requests that all fail.
 */
#define CAP_BLOCKS	8	/* max_blocks_per_session: fill takes NBLK */

static int
setup_cap(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, "max_blocks_per_session = 8\n" CONF) == 0 ?
	       0 : -1;
}

/* A raw Lookup with retain of name through h: the reply's error. */
static int
raw_lookup_retain(int fd, uint32_t h, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Lookup lu = POOLMGR__LOOKUP__INIT;

	lu.handle = h;
	lu.name.data = (uint8_t *)name;
	lu.name.len = strlen(name);
	lu.retain = true;
	req.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
	req.lookup = &lu;
	return harness_raw_error(fd, &req, NULL);
}

static void
refused_lookup_is_no_use(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a;
	uint32_t other, rh;
	int fd;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xff, false, offs);
	/* A client holding as many blocks as it may, in another pool. */
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RAW(harness_raw_open(fd, "eva", &other), 0);
	EXPECT_RAW(harness_raw_alloc_many(fd, other, 4096, CAP_BLOCKS), 0);
	EXPECT_RAW(harness_raw_open(fd, POOL, &rh), 0);
	EXPECT_RAW(raw_lookup_retain(fd, rh, "n0"), -EDQUOT);
	EXPECT_RAW(raw_lookup_retain(fd, rh, "n0"), -EDQUOT);

	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	assert_int_equal(a, offs[0]);
	assert_int_equal(harness_stats(p).evictions, 1);
	harness_expect_checked(c, POOL);
	close(fd);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- evicting no more than needed ------------------------------------ */

enum two_blocks { BY_ALLOC, BY_CALLOC, BY_BATCH, BY_REALLOC, BY_ALL };

/*
 * Two blocks' room by way, through p or, for a Realloc of no block (the
 * library sends an Alloc for that), through raw handle rh on fd; given
 * back again.  0 or the refusal.
 */
static int
two_blocks(struct pool *p, int fd, uint32_t rh, enum two_blocks way)
{
	size_t sizes[2] = {BLK, BLK};
	pool_off_t o[2];
	uint64_t off = POOL_OFF_NONE;
	int rc;

	switch (way) {
	case BY_ALLOC:
		if ((rc = pool_alloc(p, 2 * BLK, &o[0])) == 0)
			EXPECT_RC(pool_free(p, o[0]), 0);
		return rc;
	case BY_CALLOC:
		if ((rc = pool_calloc(p, 2, BLK, &o[0])) == 0)
			EXPECT_RC(pool_free(p, o[0]), 0);
		return rc;
	case BY_BATCH:
		if ((rc = pool_alloc_batch(p, 2, sizes, o)) == 0) {
			EXPECT_RC(pool_free(p, o[0]), 0);
			EXPECT_RC(pool_free(p, o[1]), 0);
		}
		return rc;
	default:
		if ((rc = harness_raw_realloc(fd, rh, &off, 2 * BLK,
					      false)) == 0)
			EXPECT_RC(harness_raw_free(fd, rh, off), 0);
		return rc;
	}
}

/*
 * n1's block free, next to n0's, the oldest: two blocks' room lacks one,
 * and n0's is the one.  Evicting two blocks' worth, as much as asked
 * for, would take n2 too.
 */
static void
evicts_only_what_is_missing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK];
	uint64_t before;
	uint32_t rh;
	int fd, way;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RC(harness_raw_open(fd, POOL, &rh), 0);
	for (way = BY_ALLOC; way < BY_ALL; way++) {
		fill(p, 0xff, true, offs);
		unpublish(p, 0x02);
		before = harness_stats(p).evictions;
		EXPECT_RC(two_blocks(p, fd, rh, way), 0);
		if (harness_stats(p).evictions - before != 1)
			fail_msg("way %d evicted %llu names, not 1", way,
				 (unsigned long long)
				 (harness_stats(p).evictions - before));
		assert_int_equal(names_left(p, offs), 0xfc);
		harness_expect_checked(c, POOL);
		unpublish(p, 0xfc);
	}
	close(fd);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * n1's and n6's blocks free: two blocks' room in bytes, not in a run.
 * Nothing is missing but a run: one name a round, the oldest, n0, whose
 * block is next to n1's, and no other.
 */
static void
evicts_one_name_a_round(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a;
	struct pool_stats s;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xff, true, offs);
	unpublish(p, 0x42);
	EXPECT_RC(pool_alloc(p, 2 * BLK, &a), 0);
	assert_int_equal(a, offs[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	assert_int_equal(names_left(p, offs), 0xbc);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * n1's and n6's blocks free, every eviction's pages going back in steps
 * (release_step below a block); the names, oldest first: n3, n7, n0, n4,
 * n2, n5.
 */
static void
oldest_first_in_steps(struct pool *p, pool_off_t *offs)
{
	static const int newer[] = {7, 0, 4, 2, 5};
	pool_off_t off;
	size_t k;

	fill(p, 0xff, true, offs);
	unpublish(p, 0x42);
	for (k = 0; k < sizeof(newer) / sizeof(newer[0]); k++)
		EXPECT_RC(pool_lookup(p, name_of(newer[k]), &off, NULL), 0);
}

/*
 * That pool, and a batch of 1.25 MiB and 256 KiB (three blocks' room):
 * one block's bytes are missing, then a run for the first block, which
 * no window of one name gives.  Trials in the engine find the fewest
 * least recently used names that make the whole batch: n3, n7, n0, n4
 * and n2, which make the run; they go in one round, and the batch waits
 * once, for their pages.  By rounds it waited four times (n3 for the
 * bytes; n7; n0; n4 and n2); two blocks' room a round, as much as was
 * asked for, took every name.
 */
static void
evictions_in_steps_wait_few_times(void **state)
{
	const size_t sizes[2] = {5 * BLK / 2, BLK / 2};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], got[2];
	struct pool_stats s;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	oldest_first_in_steps(p, offs);
	EXPECT_RC(pool_alloc_batch(p, 2, sizes, got), 0);
	assert_int_equal(got[0], offs[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 5);
	assert_int_equal(names_left(p, offs), 0x20);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, got[0]), 0);
	EXPECT_RC(pool_free(p, got[1]), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * That pool, and one allocation of three blocks' room.  Taken in oldest
 * first, n3, n7, n0 and n4 make no run of three blocks (n0 and n1's free
 * block two, n3 and n4 two); n2 joins them all: from n2, the older
 * neighbour n3 makes the run with n1's free block.  Two names in one
 * round, one wait for their pages, not five names in four; n4, n0 and n7
 * are kept, though older than n2, as evicting them would not do.
 */
static void
window_from_the_oldest(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a;
	struct pool_stats s;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	oldest_first_in_steps(p, offs);
	EXPECT_RC(pool_alloc(p, 3 * BLK, &a), 0);
	assert_int_equal(a, offs[1]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 2);
	assert_int_equal(s.evicted_bytes, 2 * BLK);
	assert_int_equal(names_left(p, offs), 0xb1);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * Sixteen blocks of QBLK, each a name q<i> by offset, every eviction's
 * pages going back in steps; q0's and q15's blocks free, at the ends:
 * two blocks' room in bytes, not in a run.  The names, oldest first: q3,
 * q5, q7, q9, none next to a free block or to another of them, then q1,
 * next to q0's, then q11, q13, q2...  A batch of 384 KiB and 128 KiB
 * (two blocks' room): the run for its first comes with the fifth name,
 * and trials in the engine find those five, which go in one round, one
 * wait for their pages.  By rounds, each waiting for its pages, it
 * evicted q3; q5; q7 and q9; then q1 and q11 (as many as the rounds
 * before took, four, but stopped once its names held the request's own
 * bytes): six names.  One allocation of 384 KiB instead evicts a
 * window, in one round: q1 alone, with q0's free block, the oldest name
 * that makes one (q3, q5, q7 and q9 alone do not, and are kept).
 */
static void
sixteen_names(struct pool *p, pool_off_t *o)
{
	static const int order[] = {3, 5, 7, 9, 1, 11, 13, 2, 4, 6, 8, 10,
				    12, 14};
	char name[16];
	pool_off_t t;
	size_t k;
	int i;

	alloc_blocks(p, NQBLK, QBLK, true, o);
	for (i = 0; i < NQBLK; i++) {
		assert_int_equal(o[i], i * QBLK);
		snprintf(name, sizeof(name), "q%d", i);
		EXPECT_RC(pool_publish_flags(p, o[i], name,
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(p, o[i]), 0);
	}
	EXPECT_RC(pool_unpublish(p, "q0"), 0);
	EXPECT_RC(pool_unpublish(p, "q15"), 0);
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		snprintf(name, sizeof(name), "q%d", order[k]);
		EXPECT_RC(pool_lookup(p, name, &t, NULL), 0);
	}
}

static void
batch_in_steps_evicts_in_one_round(void **state)
{
	const size_t sizes[2] = {3 * QBLK / 2, QBLK / 2};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[NQBLK], got[2], a;
	uint64_t before;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	sixteen_names(p, o);
	EXPECT_RC(pool_alloc_batch(p, 2, sizes, got), 0);
	assert_int_equal(got[0], o[0]);
	assert_int_equal(harness_stats(p).evictions, 5);
	/* q1, q3, q5, q7 and q9 gone. */
	assert_int_equal(sixteen_left(p, false), 0x7ffe & ~0x02aau);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, got[0]), 0);
	EXPECT_RC(pool_free(p, got[1]), 0);
	sixteen_left(p, true);

	sixteen_names(p, o);
	before = harness_stats(p).evictions;
	EXPECT_RC(pool_alloc(p, 3 * QBLK / 2, &a), 0);
	assert_int_equal(a, o[0]);
	assert_int_equal(harness_stats(p).evictions - before, 1);
	assert_int_equal(sixteen_left(p, false), 0x7ffe & ~0x0002u);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A refusal with no stretch for it is remembered until room is made.
 * n2 and n4 evictable, n1's block free: 1.5 MiB is 1 MiB short, and the
 * two names have it, but apart: refused, none evicted.  n3's block
 * freed: n2's eviction makes the run, and it is made.  Then n0 and n4
 * evictable, n3's and n5's blocks free, n4 held: refused again, none
 * evicted; let go, n4 lies in a stretch that holds the request: it goes
 * for it, alone (n0, least recently used, would make no run), and the
 * request fits.
 */
static void
room_after_a_refusal(void **state)
{
	struct pool_conn *c, *c2;
	struct pool *p, *q;
	pool_off_t offs[NBLK], x, off;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	open_pool(d.sock, POOL, &c2, &q);
	fill(p, 0x14, true, offs);
	unpublish(p, 0x02);
	EXPECT_RC(pool_alloc(p, 3 * BLK, &x), -ENOMEM);
	assert_int_equal(harness_stats(p).evictions, 0);
	unpublish(p, 0x08);
	EXPECT_RC(pool_alloc(p, 3 * BLK, &x), 0);
	assert_int_equal(x, offs[1]);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(names_left(p, offs), 0xf1);
	EXPECT_RC(pool_free(p, x), 0);
	unpublish(p, 0xf1);

	fill(p, 0x11, true, offs);
	unpublish(p, 0x28);
	EXPECT_RC(pool_lookup_retain(q, "n4", &off, NULL), 0);
	EXPECT_RC(pool_alloc(p, 3 * BLK, &x), -ENOMEM);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(names_left(p, offs), 0xd7);
	EXPECT_RC(pool_free(q, off), 0);
	EXPECT_RC(pool_alloc(p, 3 * BLK, &x), 0);
	assert_int_equal(x, offs[3]);
	/* n0 is older, but its block alone makes no run: it stays. */
	assert_int_equal(names_left(p, offs), 0xc7);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(q);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * n0, n1, n3, n5 and n7 evictable, n2, n4 and n6 kept, by offset: the
 * one stretch of 1 MiB the evictions could free is n0's and n1's.  A
 * batch of two 1 MiB blocks, and one of those and 512 KiB more, has a
 * window for its largest block and as many evictable bytes as it needs,
 * but its second 1 MiB no run however many names go: each is refused,
 * no name evicted (rounds evicted every one of them, for nothing), in
 * words that say so; the names' bytes are intact (their blocks were
 * freed and reserved again in the engine's trials, no page given
 * back), the pool's Check passes, and the statistics count the two
 * refusals alone.
 */
static void
batch_no_room_evicts_nothing(void **state)
{
	const size_t two[2] = {2 * BLK, 2 * BLK};
	const size_t three[3] = {2 * BLK, 2 * BLK, BLK};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], got[3];
	struct pool_stats s;
	uint64_t failed;
	char want[256], words[256];

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xab, true, offs);
	failed = harness_stats(p).failed_allocs;
	EXPECT_RC(pool_alloc_batch(p, 2, two, got), -ENOMEM);
	snprintf(words, sizeof(words), "%s", pool_last_message(-ENOMEM));
	assert_int_equal(harness_stats(p).evictions, 0);
	snprintf(want, sizeof(want), "allocation 0 of the batch (%u bytes) "
		 "failed, and evicting pool ev's 5 evictable names nobody "
		 "holds (2.5 MiB) would make no room for the batch", 2 * BLK);
	if (strcmp(words, want))
		fail_msg("words \"%s\", not \"%s\"", words, want);
	EXPECT_RC(pool_alloc_batch(p, 3, three, got), -ENOMEM);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 0);
	assert_int_equal(s.failed_allocs - failed, 2);
	assert_int_equal(s.free_bytes + s.cached_bytes, 0);
	assert_int_equal(s.named_blocks, NBLK);
	assert_int_equal(names_left(p, offs), 0xff);
	harness_expect_checked(c, POOL);
	unpublish(p, 0xff);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * n0, n1, n3, n5, n6 and n7 evictable, n2 and n4 kept, by offset; used
 * in the order n5, n3, n0, n6, n1, n7.  A batch of 1 MiB and 512 KiB
 * lacks 1.5 MiB: n5, n3 and n0 hold it but give no run of 1 MiB; n6
 * with n5 does.  Those four go, in one round, and the batch is had
 * where they were; n1 and n7, the newer, stay.
 */
static void
batch_evicts_the_names_it_needs(void **state)
{
	static const int later[] = {3, 0, 6, 1, 7};
	const size_t sizes[2] = {2 * BLK, BLK};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], got[2], off;
	struct pool_stats s;
	size_t k;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xeb, true, offs);
	for (k = 0; k < sizeof(later) / sizeof(later[0]); k++)
		EXPECT_RC(pool_lookup(p, name_of(later[k]), &off, NULL), 0);
	EXPECT_RC(pool_alloc_batch(p, 2, sizes, got), 0);
	assert_int_equal(got[0], offs[5]);
	assert_true(got[1] == offs[0] || got[1] == offs[3]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 4);
	assert_int_equal(s.evicted_bytes, 4 * BLK);
	assert_int_equal(names_left(p, offs), 0x96);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, got[0]), 0);
	EXPECT_RC(pool_free(p, got[1]), 0);
	unpublish(p, 0x96);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- requests that can never be had ------------------------------- */

/*
 * Pool eva at its limit, 2 MiB of evictable names; a raw client's Alloc
 * of one block's room with an alignment no power of two: the engine can
 * never give it, so it is -EINVAL, and nothing is evicted (the limit's
 * refusal came first, and evicted a name before the engine said so).
 * A batch of one block's room and one of no bytes, which can never be
 * had, is refused by the limit, as it was, but evicts nothing for it.
 */
static void
impossible_requests_evict_nothing(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	Poolmgr__AllocBatch b = POOLMGR__ALLOC_BATCH__INIT;
	uint64_t sizes[2] = {BLK, 0};
	Poolmgr__Reply *r;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[4];
	uint32_t rh;
	int fd, i;

	(void)state;
	open_pool(d.sock, "eva", &c, &p);
	for (i = 0; i < 4; i++) {
		EXPECT_RC(pool_alloc(p, BLK, &o[i]), 0);
		EXPECT_RC(pool_publish_flags(p, o[i], name_of(i),
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(p, o[i]), 0);
	}
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RC(harness_raw_open(fd, "eva", &rh), 0);
	m.handle = rh;
	m.size = BLK;
	m.align = 3 * 4096;
	req.id = 9;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	r = harness_raw_reply(fd, req.id, HARNESS_RAW_WAIT_MS);
	assert_non_null(r);
	assert_int_equal(r->error, -EINVAL);
	poolmgr__reply__free_unpacked(r, NULL);
	assert_int_equal(harness_stats(p).evictions, 0);
	/* A batch with a block of no bytes, after one the limit refuses. */
	b.handle = rh;
	b.n_sizes = 2;
	b.sizes = sizes;
	req.id = 10;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &b;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	r = harness_raw_reply(fd, req.id, HARNESS_RAW_WAIT_MS);
	assert_non_null(r);
	assert_int_equal(r->error, -ENOMEM);	/* the limit's, as before */
	poolmgr__reply__free_unpacked(r, NULL);
	assert_int_equal(harness_stats(p).evictions, 0);
	assert_int_equal(published_of(p, 4), 0xf);
	close(fd);
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_unpublish(p, name_of(i)), 0);
	harness_expect_checked(c, "eva");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- room a waiting allocation may evict ------------------------------ */

/*
 * A raw client's Alloc of one block's room with wait_ms, in pool p, which
 * is full: the request id, once the pool counts it waiting.
 */
static uint64_t
alloc_waiting(struct pool *p, int fd, uint32_t rh, uint32_t wait_ms)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	int i;

	m.handle = rh;
	m.size = BLK;
	m.wait_ms = wait_ms;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	for (i = 0; i < 1000 && harness_stats(p).alloc_waits == 0; i++)
		harness_sleep_ms(5);
	assert_int_equal(harness_stats(p).alloc_waits, 1);
	return req.id;
}

/* The waiting Alloc id is answered well before its wait ends: at x. */
static void
alloc_answered_at(int fd, uint64_t id, pool_off_t x)
{
	Poolmgr__Reply *r = harness_raw_reply(fd, id, 3000);

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->alloc->offset, x);
	poolmgr__reply__free_unpacked(r, NULL);
}

/*
 * A full pool whose names are all held by a reader, or all kept: an
 * Alloc that waits for room finds none to evict.  The reader's release
 * of one, and a replace that makes one evictable, each make an unheld
 * evictable name the allocation may evict: room that it must hear of as
 * it hears of a free, not wait its whole wait_ms (it did: nothing
 * freed, so nothing told it).
 */
static void
evictable_again_wakes_waiting_alloc(void **state)
{
	struct pool_conn *c, *c2;
	struct pool *p, *q;
	pool_off_t offs[NBLK], off;
	uint64_t id;
	uint32_t rh;
	int fd, i;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	open_pool(d.sock, POOL, &c2, &q);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RC(harness_raw_open(fd, POOL, &rh), 0);

	fill(p, 0xff, false, offs);
	for (i = 0; i < NBLK; i++)
		EXPECT_RC(pool_lookup_retain(q, name_of(i), &off, NULL), 0);
	id = alloc_waiting(p, fd, rh, 20000);
	EXPECT_RC(pool_free(q, offs[3]), 0);
	alloc_answered_at(fd, id, offs[3]);
	assert_int_equal(names_left(p, offs), 0xff & ~0x08);
	EXPECT_RC(harness_raw_free(fd, rh, offs[3]), 0);
	for (i = 0; i < NBLK; i++)
		if (i != 3)
			EXPECT_RC(pool_free(q, offs[i]), 0);
	unpublish(p, 0xff & ~0x08);

	fill(p, 0, false, offs);
	id = alloc_waiting(p, fd, rh, 20000);
	EXPECT_RC(pool_publish_flags(p, offs[5], "n5", POOL_PUBLISH_REPLACE |
				     POOL_PUBLISH_EVICTABLE), 0);
	alloc_answered_at(fd, id, offs[5]);
	assert_int_equal(names_left(p, offs), 0xff & ~0x20);
	assert_int_equal(harness_stats(p).evictions, 2);
	assert_int_equal(harness_stats(p).alloc_waits, 0);
	/* Each got its room: no refusal on the way counts. */
	assert_int_equal(harness_stats(p).failed_allocs, 0);
	EXPECT_RC(harness_raw_free(fd, rh, offs[5]), 0);
	unpublish(p, 0xff & ~0x20);
	harness_expect_checked(c, POOL);
	close(fd);
	pool_close(q);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lru_order, evict_setup,
						evict_teardown),
		cmocka_unit_test_setup_teardown(held_never_evicted, evict_setup,
						evict_teardown),
		cmocka_unit_test_setup_teardown(kept_never_evicted, evict_setup,
						evict_teardown),
		cmocka_unit_test_setup_teardown(quota_evicts_own_names,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(too_big, evict_setup,
						evict_teardown),
		cmocka_unit_test_setup_teardown(room_after_a_refusal,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(batch_no_room_evicts_nothing,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(batch_evicts_the_names_it_needs,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(poolctl_shows, evict_setup,
						evict_teardown),
		cmocka_unit_test_setup_teardown(
		    impossible_requests_evict_nothing, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(republish_in_place_is_a_use,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(refused_lookup_is_no_use,
						setup_cap, evict_teardown),
		cmocka_unit_test_setup_teardown(evicts_only_what_is_missing,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(evicts_one_name_a_round,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(
		    evictions_in_steps_wait_few_times, setup_steps,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    batch_in_steps_evicts_in_one_round, setup_steps,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(window_from_the_oldest,
						setup_steps, evict_teardown),
		cmocka_unit_test_setup_teardown(
		    evictable_again_wakes_waiting_alloc, evict_setup,
		    evict_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
