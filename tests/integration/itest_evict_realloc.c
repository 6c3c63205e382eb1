/*
 * itest_evict_realloc.c - evictable names (docs/protocol.md, "Eviction")
 * and a realloc: a block grown evicts the names whose room it grows into
 * in place, or as many as a move takes, and none it cannot use: a kept
 * block or a held one after it, a free gap, a shared block that cannot
 * move, a pool's limit and a connection's quota, a block past the large
 * threshold, a release in steps it may wait for.  Which names an
 * allocation evicts is itest_evict.c's, a restart's and a crash's
 * itest_evict_restart.c's; the daemon, its pools and a pool filled with
 * names are evict_util.h's.
 *
 *   shared_resize_past_quota_evicts_nothing  a shared block grown past
 *       its connection's quota, with a held block right after it: the
 *       uid's own names elsewhere could not let it grow, and none goes;
 *   shared_growth_past_quota_evicts_the_name_after_it  a shared block
 *       grown past its connection's quota, the uid's evictable name
 *       right after it: that name's eviction gives the quota its bytes
 *       and the block its room, and it grows in place;
 *   realloc_grows_by_evicting_neighbour  a block with a free run after
 *       it a block short of a grow, the oldest evictable name's block
 *       next: the grow evicts that one, no other, and stays in place; a
 *       grow that must move evicts as many as the move takes, no more;
 *   realloc_evicts_nothing_it_cannot_use  a kept block after it and too
 *       few free and evictable bytes for a move: nothing is evicted;
 *   realloc_in_place_evicts_its_neighbour_alone  the evictable block
 *       after it the newest, older ones between kept blocks elsewhere:
 *       the grow evicts its neighbour, and none of the older ones,
 *       which give a growth in place nothing;
 *   realloc_gap_then_kept_evicts_nothing  a free gap after the block,
 *       then a kept block, and too few free and evictable bytes for a
 *       move: the gap does not count as room to grow, nothing is
 *       evicted;
 *   realloc_in_place_evicts_the_names_after_it  the two evictable
 *       blocks after it hold its growth, no run elsewhere its new size:
 *       the two go, no other, and it grows in place, where looking at
 *       the first alone refused it;
 *   shared_block_grows_by_evicting_the_names_after_it  a block another
 *       handle holds, which cannot move: its growth evicts the name
 *       after it and grows in place, where it was -EBUSY; one a kept
 *       block after the names stops is -EBUSY, nothing evicted;
 *   in_place_that_must_move_evicts_nothing  a pool at its limit, a
 *       block with a held one right after it: a Realloc with in_place
 *       that would have to move is -EAGAIN with no name evicted (the
 *       limit's refusal evicted one, then the block could not move),
 *       and so is one of the block retained by another handle, -EBUSY;
 *       one that may grow into a free run evicts what the limit lacks;
 *   limit_and_room_from_the_name_after  a pool at its limit, an older
 *       evictable name elsewhere: a Realloc with in_place, and one of a
 *       shared block, each evict the name right after the block, which
 *       gives both the limit and the room, and grow in place; the
 *       limit's rounds took the older one, then the block could not
 *       grow;
 *   realloc_in_place_into_a_small_neighbour  the evictable block after
 *       it small, and no room elsewhere: its eviction puts it in the
 *       engine's cache, and the grow takes it back, in place (it was
 *       refused, the name evicted for nothing);
 *   realloc_past_threshold_evicts_nothing  a small block grown past the
 *       large threshold can only move: a free gap and an evictable
 *       block after it, together its growth but too few for a move, do
 *       not count as room to grow, nothing is evicted;
 *   realloc_waits_for_release_after_it  a realloc that lacks what a
 *       block right after it gives back in steps, queued after it (which
 *       it does not wait for): it waits for that release rather than
 *       evict for a move, evicts nothing, and grows in place.
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

/* ---- realloc_grows_by_evicting_neighbour ------------------------------ */

/*
 * NBLK blocks of BLK by ascending offset in o: o[0] held by p, o[1] free,
 * the others named n<i> with mask's flags, published and let go in that
 * order (n2 the least recently used).
 */
static void
fill_after_free(struct pool *p, unsigned mask, pool_off_t *o)
{
	int i;

	alloc_all(p, true, o);
	for (i = 2; i < NBLK; i++) {
		memset(pool_ptr(p, o[i]), '0' + i, BLK);
		EXPECT_RC(pool_publish_flags(p, o[i], name_of(i),
					     (mask >> i) & 1 ?
					     POOL_PUBLISH_EVICTABLE : 0), 0);
	}
	for (i = 1; i < NBLK; i++)
		EXPECT_RC(pool_free(p, o[i]), 0);
	assert_int_equal(harness_stats(p).free_bytes +
			 harness_stats(p).cached_bytes, BLK);
}

static void
realloc_grows_by_evicting_neighbour(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	pool_off_t o[NBLK], r;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill_after_free(p, 0xfc, o);
	/* o[1] free, and n2's block: the grow needs no more. */
	EXPECT_RC(pool_realloc(p, o[0], 3 * BLK, &r), 0);
	assert_int_equal(r, o[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	assert_int_equal(names_left(p, o), 0xf8);
	EXPECT_RC(pool_free(p, r), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

static void
realloc_moves_by_evicting_enough(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	pool_off_t o[NBLK], r, x;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill_after_free(p, 0xfc, o);
	/* A kept block after o[0]: it can only move, to 1 MiB of room. */
	EXPECT_RC(pool_alloc(p, BLK, &x), 0);
	assert_int_equal(x, o[1]);
	EXPECT_RC(pool_publish(p, x, "kept"), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_realloc(p, o[0], 2 * BLK, &r), 0);
	assert_int_not_equal(r, o[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 2);
	assert_int_equal(s.evicted_bytes, 2 * BLK);
	assert_int_equal(names_left(p, o), 0xf0);
	EXPECT_RC(pool_free(p, r), 0);
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A kept block right after o[0], and fewer free and evictable bytes than
 * the new size: the block can neither grow in place nor move, so nothing
 * is evicted for it.
 */
static void
realloc_evicts_nothing_it_cannot_use(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	pool_off_t o[NBLK], r = POOL_OFF_NONE, x;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill_after_free(p, 0x04, o);	/* n2 alone evictable */
	EXPECT_RC(pool_alloc(p, BLK, &x), 0);
	assert_int_equal(x, o[1]);
	EXPECT_RC(pool_publish(p, x, "kept"), 0);
	EXPECT_RC(pool_free(p, x), 0);
	/* Under 1 MiB, so the daemon's own Realloc, not the library's move. */
	EXPECT_RC(pool_realloc(p, o[0], 2 * BLK - 4096, &r), -ENOMEM);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 0);
	assert_int_equal(names_left(p, o), 0xfc);
	EXPECT_RC(pool_free(p, o[0]), 0);
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * o[0] held, n1 after it, the newest evictable name, then kept blocks
 * with the older evictable names n3 and n5 between them: the grow of
 * o[0] to two blocks' room takes n1's block in place; n3's and n5's
 * evictions, which give it no run for a move, are for nothing.
 */
static void
realloc_in_place_evicts_its_neighbour_alone(void **state)
{
	static const int kept[] = {2, 4, 6, 7};
	static const int freed[] = {3, 5, 1};	/* the order of use */
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	pool_off_t o[NBLK], r;
	size_t k;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	alloc_all(p, true, o);
	for (k = 0; k < sizeof(kept) / sizeof(kept[0]); k++) {
		memset(pool_ptr(p, o[kept[k]]), '0' + kept[k], BLK);
		EXPECT_RC(pool_publish(p, o[kept[k]], name_of(kept[k])), 0);
		EXPECT_RC(pool_free(p, o[kept[k]]), 0);
	}
	for (k = 0; k < sizeof(freed) / sizeof(freed[0]); k++) {
		memset(pool_ptr(p, o[freed[k]]), '0' + freed[k], BLK);
		EXPECT_RC(pool_publish_flags(p, o[freed[k]], name_of(freed[k]),
					     POOL_PUBLISH_EVICTABLE), 0);
	}
	for (k = 0; k < sizeof(freed) / sizeof(freed[0]); k++)
		EXPECT_RC(pool_free(p, o[freed[k]]), 0);
	assert_int_equal(harness_stats(p).free_bytes +
			 harness_stats(p).cached_bytes, 0);
	/* Under 1 MiB, so the daemon's own Realloc, not the library's move. */
	EXPECT_RC(pool_realloc(p, o[0], 2 * BLK - 4096, &r), 0);
	assert_int_equal(r, o[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(names_left(p, o), 0xfc);
	EXPECT_RC(pool_free(p, r), 0);
	for (k = 0; k < sizeof(kept) / sizeof(kept[0]); k++)
		EXPECT_RC(pool_unpublish(p, name_of(kept[k])), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * o[0] held by another handle too, so shared: it cannot move, and grows
 * in place or not at all.  o[1] free and n2's block after it hold its
 * growth to three blocks: n2 goes, no other, and it grows in place.  A
 * growth past n2 to n3, a kept block after them, is -EBUSY with nothing
 * evicted: the names after it could not make the room.
 */
static void
shared_block_grows_by_evicting_the_names_after_it(void **state)
{
	struct pool_conn *c, *c2;
	struct pool *p, *p2;
	struct pool_stats s;
	pool_off_t o[NBLK], r;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	open_pool(d.sock, POOL, &c2, &p2);
	fill_after_free(p, 0xf4, o);	/* n3 kept, the others evictable */
	EXPECT_RC(pool_retain(p2, o[0]), 0);
	/* Under 1 MiB, so the daemon's own Realloc, not the library's move. */
	EXPECT_RC(pool_realloc(p, o[0], 2 * BLK - 4096, &r), 0);
	assert_int_equal(r, o[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 0);	/* o[1] was enough */
	EXPECT_RC(pool_realloc(p, o[0], 3 * BLK, &r), 0);
	assert_int_equal(r, o[0]);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	assert_int_equal(names_left(p, o), 0xf8);
	/* n3 kept right after it now: no name could give it room. */
	EXPECT_RC(pool_realloc(p, o[0], 4 * BLK, &r), -EBUSY);
	expect_in(pool_last_message(-EBUSY), "is shared and cannot move");
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(names_left(p, o), 0xf8);
	EXPECT_RC(pool_free(p, o[0]), 0);
	EXPECT_RC(pool_free(p2, o[0]), 0);
	EXPECT_RC(pool_unpublish(p, name_of(3)), 0);
	harness_expect_checked(c, POOL);
	pool_close(p2);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * In pool eva (limit 2M): raw x and k, one after the other, both held,
 * then n0 and n1, evictable, only their names holding them: the pool at
 * its limit.  A Realloc of x with in_place can only grow into k's place,
 * which k keeps: nothing evicted could let it, and it would have to move,
 * which in_place forbids.  The limit refused it first, and a name went
 * for the limit before the engine said so.  A block another handle holds
 * too never moves, in_place or not: the same.  Once k is freed, a run
 * follows x, and the same request evicts the one name the limit lacks
 * and grows in place.
 */
static void
in_place_that_must_move_evicts_nothing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[2];
	uint64_t x, k, r;
	uint32_t rh;
	int fd, i;

	(void)state;
	open_pool(d.sock, "eva", &c, &p);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RAW(harness_raw_open(fd, "eva", &rh), 0);
	EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &x, NULL), 0);
	EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &k, NULL), 0);
	assert_int_equal(k, x + BLK);
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_alloc(p, BLK, &o[i]), 0);
		EXPECT_RC(pool_publish_flags(p, o[i], name_of(i),
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(p, o[i]), 0);
	}
	r = x;
	EXPECT_RAW(harness_raw_realloc(fd, rh, &r, 2 * BLK, true), -EAGAIN);
	assert_int_equal(harness_stats(p).evictions, 0);
	assert_int_equal(harness_stats(p).failed_allocs, 0);
	assert_int_equal(harness_stats(p).named_blocks, 2);
	/* Shared, it never moves: -EBUSY, again with nothing evicted. */
	EXPECT_RC(pool_retain(p, x), 0);
	EXPECT_RAW(harness_raw_realloc(fd, rh, &r, 2 * BLK, false), -EBUSY);
	assert_int_equal(harness_stats(p).evictions, 0);
	assert_int_equal(harness_stats(p).failed_allocs, 0);
	EXPECT_RC(pool_free(p, x), 0);

	EXPECT_RAW(harness_raw_free(fd, rh, k), 0);
	EXPECT_RAW(harness_raw_realloc(fd, rh, &r, 3 * BLK, true), 0);
	assert_int_equal(r, x);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(harness_stats(p).named_blocks, 1);
	harness_expect_checked(c, "eva");
	close(fd);
	for (i = 0; i < 2; i++)
		(void)pool_unpublish(p, name_of(i));
	pool_close(p);
	pool_disconnect(c);
}

/*
 * In pool eva (limit 2M): raw x, then n0 and n1, evictable, n1 the
 * older, then raw k, kept: the pool at its limit.  A Realloc of x with
 * in_place to two blocks is refused by the limit first; n0, right after
 * x, is the one name whose eviction gives both the limit its bytes and x
 * its room, so it goes and x grows in place.  The limit's rounds took
 * n1, the least recently used, then the engine's -EAGAIN stood: a name
 * gone for a refusal.  The same for a shared x (-EBUSY before).
 */
static void
limit_and_room_from_the_name_after(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[2];
	uint64_t x, k, r;
	uint32_t rh;
	int fd, i, shared;

	(void)state;
	open_pool(d.sock, "eva", &c, &p);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RAW(harness_raw_open(fd, "eva", &rh), 0);
	for (shared = 0; shared < 2; shared++) {
		EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &x, NULL), 0);
		for (i = 0; i < 2; i++)
			EXPECT_RC(pool_alloc(p, BLK, &o[i]), 0);
		EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &k, NULL), 0);
		assert_true(o[0] == x + BLK && o[1] == x + 2 * BLK &&
			    k == x + 3 * BLK);
		for (i = 1; i >= 0; i--) {	/* n1 the older */
			EXPECT_RC(pool_publish_flags(p, o[i], name_of(i),
						     POOL_PUBLISH_EVICTABLE),
				  0);
			EXPECT_RC(pool_free(p, o[i]), 0);
		}
		if (shared)
			EXPECT_RC(pool_retain(p, x), 0);
		r = x;
		EXPECT_RAW(harness_raw_realloc(fd, rh, &r, 2 * BLK, !shared),
			   0);
		assert_int_equal(r, x);
		assert_int_equal(harness_stats(p).evictions, shared + 1);
		EXPECT_RC(pool_lookup(p, name_of(1), &r, NULL), 0);
		EXPECT_RC(pool_lookup(p, name_of(0), &r, NULL), -ENOENT);
		harness_expect_checked(c, "eva");
		if (shared)
			EXPECT_RC(pool_free(p, x), 0);
		EXPECT_RAW(harness_raw_free(fd, rh, x), 0);
		EXPECT_RAW(harness_raw_free(fd, rh, k), 0);
		EXPECT_RC(pool_unpublish(p, name_of(1)), 0);
	}
	close(fd);
	pool_close(p);
	pool_disconnect(c);
}

#define TINY		512u		/* a size the engine caches */

#define NTINY		8	/* of TINY: the pool's first page */

/*
 * Small blocks in the pool's first page, all held but o[1], which only
 * its evictable name holds, and one span over the rest: o[0] grown by a
 * TINY evicts n and grows into its place.  n's block goes to the
 * engine's cache of its size, which a growth in place must take back.
 */
static void
realloc_in_place_into_a_small_neighbour(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[NTINY], rest, r;
	int i;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	EXPECT_RC(pool_set_cache(p, 0), 0);	/* frees to the daemon */
	for (i = 0; i < NTINY; i++) {
		EXPECT_RC(pool_alloc(p, TINY, &o[i]), 0);
		assert_int_equal(o[i], (pool_off_t)i * TINY);
	}
	EXPECT_RC(pool_alloc(p, NBLK * BLK - NTINY * TINY, &rest), 0);
	assert_int_equal(harness_stats(p).free_bytes, 0);
	EXPECT_RC(pool_publish_flags(p, o[1], "n", POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(p, o[1]), 0);	/* the name's alone */
	EXPECT_RC(pool_realloc(p, o[0], 2 * TINY, &r), 0);
	assert_int_equal(r, o[0]);
	assert_int_equal(harness_stats(p).evictions, 1);
	for (i = 0; i < NTINY; i++)
		if (i != 1)
			EXPECT_RC(pool_free(p, o[i]), 0);
	EXPECT_RC(pool_free(p, rest), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A free gap of half a block after o[0], then a kept block: o[0] cannot
 * grow in place, and the gap and n2's block (the only evictable one,
 * apart) are too few bytes for a move.  Counting the gap as room to grow
 * would evict n2 for nothing.
 */
static void
realloc_gap_then_kept_evicts_nothing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[NBLK], r = POOL_OFF_NONE, gap, kept;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill_after_free(p, 0x04, o);	/* n2 alone evictable */
	EXPECT_RC(pool_alloc(p, BLK / 2, &gap), 0);
	EXPECT_RC(pool_alloc(p, BLK / 2, &kept), 0);
	assert_int_equal(gap, o[1]);
	assert_int_equal(kept, o[1] + BLK / 2);
	EXPECT_RC(pool_publish(p, kept, "kept"), 0);
	EXPECT_RC(pool_free(p, kept), 0);
	EXPECT_RC(pool_free(p, gap), 0);
	/* Under 1 MiB, so the daemon's own Realloc, not the library's move. */
	EXPECT_RC(pool_realloc(p, o[0], 2 * BLK - 4096, &r), -ENOMEM);
	assert_int_equal(harness_stats(p).evictions, 0);
	assert_int_equal(names_left(p, o), 0xfc);
	EXPECT_RC(pool_free(p, o[0]), 0);
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * Sixteen blocks of QBLK: o[0] held, q1 and q2 after it the newest
 * evictable names, then kept blocks with the older evictable names q4,
 * q6 ... q14 between them.  o[0] grown to three QBLKs can only take q1's
 * and q2's blocks in place, no run elsewhere holding it: the two go, and
 * no other.  Looking at q1's block alone, the grow was taken for a move
 * that no window could give, and refused with nothing evicted.
 */
static void
realloc_in_place_evicts_the_names_after_it(void **state)
{
	static const int order[] = {4, 6, 8, 10, 12, 14, 1, 2};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[NQBLK], r;
	char name[16];
	bool kept;
	size_t k;
	int i;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	alloc_blocks(p, NQBLK, QBLK, true, o);
	for (i = 1; i < NQBLK; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		kept = i >= 3 && i % 2;
		EXPECT_RC(pool_publish_flags(p, o[i], name, kept ? 0 :
					     POOL_PUBLISH_EVICTABLE), 0);
		if (kept)
			EXPECT_RC(pool_free(p, o[i]), 0);
	}
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		EXPECT_RC(pool_free(p, o[order[k]]), 0);
	assert_int_equal(harness_stats(p).free_bytes +
			 harness_stats(p).cached_bytes, 0);
	/* Under 1 MiB, so the daemon's own Realloc, not the library's move. */
	EXPECT_RC(pool_realloc(p, o[0], 3 * QBLK - 4096, &r), 0);
	assert_int_equal(r, o[0]);
	assert_int_equal(harness_stats(p).evictions, 2);
	assert_int_equal(sixteen_left(p, false), 0x7ff8);
	EXPECT_RC(pool_free(p, r), 0);
	assert_int_equal(sixteen_left(p, true), 0x7ff8);
	EXPECT_RC(pool_unpublish(p, "q15"), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a shared block grown past its connection's quota ------------- */

/*
 * A block that may only grow where it is, refused by the quota: the
 * uid's own names evicted elsewhere make it no room beside the block.
 * In evq (3.5 MiB per connection): raw x and k, one after the other,
 * held (1 MiB), x retained by another connection too (shared: it never
 * moves), and n0, the uid's evictable name (512 KiB persisted).  x grown
 * to 3 MiB would pass the raw connection's quota by 512 KiB, which n0
 * gives back; but k keeps the room x would grow into.  It evicted n0,
 * and was then -EBUSY: now the quota's -EDQUOT stands, n0 kept.
 */
static void
shared_resize_past_quota_evicts_nothing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o;
	uint64_t x, k, r;
	uint32_t rh;
	int fd;

	(void)state;
	open_pool(d.sock, "evq", &c, &p);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RAW(harness_raw_open(fd, "evq", &rh), 0);
	EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &x, NULL), 0);
	EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &k, NULL), 0);
	assert_int_equal(k, x + BLK);
	EXPECT_RC(pool_alloc(p, BLK, &o), 0);
	EXPECT_RC(pool_publish_flags(p, o, name_of(0), POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(p, o), 0);
	EXPECT_RC(pool_retain(p, x), 0);

	r = x;
	EXPECT_RAW(harness_raw_realloc(fd, rh, &r, 6 * BLK, false), -EDQUOT);
	assert_int_equal(harness_stats(p).evictions, 0);
	EXPECT_RC(pool_lookup(p, name_of(0), &r, NULL), 0);
	assert_int_equal(r, o);
	harness_expect_checked(c, "evq");
	close(fd);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_unpublish(p, name_of(0)), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The same quota, but the room is the uid's own name right after the
 * block.  In evq (3.5 MiB per connection): raw x, then n0's block right
 * after it (the uid's evictable name, 512 KiB persisted), then raw y of
 * 2.5 MiB, all three together the raw connection's 3.5 MiB; x retained
 * by another connection too (shared).  x grown to 1 MiB passes the quota
 * by 512 KiB, which n0 gives back, and n0's block is the room x grows
 * into: n0 goes, and x grows in place.  It was -EDQUOT, n0 kept: the
 * free run after x alone was taken for all the room it could have,
 * where a shared block's growth evicts the names after it.
 */
static void
shared_growth_past_quota_evicts_the_name_after_it(void **state)
{
	struct pool_stats s;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o;
	uint64_t x, y, r;
	uint32_t rh;
	int fd;

	(void)state;
	open_pool(d.sock, "evq", &c, &p);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RAW(harness_raw_open(fd, "evq", &rh), 0);
	EXPECT_RAW(harness_raw_alloc(fd, rh, BLK, &x, NULL), 0);
	EXPECT_RC(pool_alloc(p, BLK, &o), 0);
	assert_int_equal(o, x + BLK);
	EXPECT_RC(pool_publish_flags(p, o, name_of(0), POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(p, o), 0);
	EXPECT_RAW(harness_raw_alloc(fd, rh, 5 * BLK, &y, NULL), 0);
	assert_int_equal(y, o + BLK);
	EXPECT_RC(pool_retain(p, x), 0);

	r = x;
	EXPECT_RAW(harness_raw_realloc(fd, rh, &r, 2 * BLK, false), 0);
	assert_int_equal(r, x);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	assert_int_equal(s.quota_refusals, 0);
	EXPECT_RC(pool_lookup(p, name_of(0), &r, NULL), -ENOENT);
	harness_expect_checked(c, "evq");
	close(fd);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a small block grown past the large threshold ------------------- */

#define SMALL		(64u << 10)	/* below the large threshold */

#define NSMALL		((int)(NBLK * BLK / SMALL))

/*
 * A small block grown past the large threshold (128 KiB) becomes a page
 * span, which the engine makes elsewhere: it can only move.  o[0] of
 * SMALL, a free gap of SMALL after it, then n's block of SMALL, the only
 * evictable one, and every other byte held: the gap and n's block are
 * the growth to three SMALLs, but a move needs three in a run, which
 * evicting n cannot make.  Counting the gap as room to grow evicted n
 * for nothing.
 */
static void
realloc_past_threshold_evicts_nothing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[NSMALL], r = POOL_OFF_NONE, t;
	struct pool_stats s;
	int i, j;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	EXPECT_RC(pool_set_cache(p, 0), 0);	/* every free to the daemon */
	for (i = 0; i < NSMALL; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &o[i]), 0);
	for (i = 0; i < NSMALL; i++)
		for (j = i + 1; j < NSMALL; j++)
			if (o[j] < o[i]) {
				t = o[i];
				o[i] = o[j];
				o[j] = t;
			}
	assert_int_equal(o[1], o[0] + SMALL);
	assert_int_equal(o[2], o[1] + SMALL);
	EXPECT_RC(pool_publish_flags(p, o[2], "n", POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(p, o[2]), 0);	/* the name's alone */
	EXPECT_RC(pool_free(p, o[1]), 0);
	s = harness_stats(p);
	assert_int_equal(s.free_bytes + s.cached_bytes, SMALL);

	EXPECT_RC(pool_realloc(p, o[0], 3 * SMALL, &r), -ENOMEM);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 0);
	EXPECT_RC(pool_lookup(p, "n", &t, NULL), 0);
	assert_int_equal(t, o[2]);

	EXPECT_RC(pool_unpublish(p, "n"), 0);
	for (i = 0; i < NSMALL; i++)
		if (i != 1 && i != 2)
			EXPECT_RC(pool_free(p, o[i]), 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a realloc next to a block going back in steps -------------------- */

#define MiB		(1024u * 1024u)

/* Pages go back 4 KiB a loop turn; nothing waits for work queued after. */
#define RELEASE_CONF	"release_step = 4K\nsettle_wait_ms = 0\n" \
			"[pool evr]\nsize = 1G\n"

static int
setup_release(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, RELEASE_CONF) == 0 ? 0 : -1;
}

/*
 * Two round trips of p that wait for nothing and take no room (the pool
 * is full): what was sent before them has been read.
 */
static void
round_trips(struct pool *p)
{
	pool_off_t off;
	int i;

	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_lookup(p, "n0", &off, NULL), 0);
}

/*
 * A raw client's s (256 MiB), n (128 MiB) right after it, evictable
 * names n0 and n1 (128 MiB each), x (128 MiB) and a filler, the whole
 * pool.  x is freed, its pages going back 4 KiB a turn (32768 turns),
 * and s asked to grow by n's bytes: refused (n is live), the Realloc is
 * held for x's release, queued before it.  Then n is freed, its release
 * queued after the Realloc's, which it does not wait for (settle_wait_ms
 * is 0): tried again once x is back, the Realloc finds n's block still
 * going back, and too little room to move.  What it lacks comes back
 * with n's last step, in place; evicting n0 and n1 for a move it then
 * does not make (it grows in place, n being gone by the time it is
 * tried) was evicting for nothing.  It waits for n's release instead,
 * evicting nothing, and grows in place; failed_allocs stays 0.
 */
static void
realloc_waits_for_release_after_it(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t n, e[2], x, f;
	uint64_t s;
	uint32_t rh;
	int fd, i;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;
	Poolmgr__Reply *r;

	(void)state;
	open_pool(d.sock, "evr", &c, &p);
	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	EXPECT_RC(harness_raw_open(fd, "evr", &rh), 0);
	EXPECT_RC(harness_raw_alloc(fd, rh, 256 * MiB, &s, NULL), 0);
	EXPECT_RC(pool_alloc(p, 128 * MiB, &n), 0);
	assert_int_equal(n, s + 256 * MiB);
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_alloc(p, 128 * MiB, &e[i]), 0);
		EXPECT_RC(pool_publish_flags(p, e[i], name_of(i),
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(p, e[i]), 0);
	}
	EXPECT_RC(pool_alloc(p, 128 * MiB, &x), 0);
	EXPECT_RC(pool_alloc(p, 256 * MiB, &f), 0);
	assert_int_equal(harness_stats(p).free_bytes, 0);

	EXPECT_RC(pool_free(p, x), 0);
	m.handle = rh;
	m.offset = s;
	m.size = 384 * MiB;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &m;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	round_trips(p);
	EXPECT_RC(pool_free(p, n), 0);

	r = harness_raw_reply(fd, req.id, HARNESS_RAW_WAIT_MS);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->alloc->offset, s);
	poolmgr__reply__free_unpacked(r, NULL);
	assert_int_equal(harness_stats(p).evictions, 0);
	/* The refusals before it were the daemon's, not the client's. */
	assert_int_equal(harness_stats(p).failed_allocs, 0);
	assert_int_equal(published_of(p, 2), 0x3);

	EXPECT_RC(harness_raw_free(fd, rh, s), 0);
	EXPECT_RC(pool_free(p, f), 0);
	unpublish(p, 0x3);
	harness_expect_checked(c, "evr");
	close(fd);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    realloc_grows_by_evicting_neighbour, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_moves_by_evicting_enough, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_evicts_nothing_it_cannot_use, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_in_place_evicts_its_neighbour_alone, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_in_place_evicts_the_names_after_it, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_in_place_into_a_small_neighbour, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    shared_block_grows_by_evicting_the_names_after_it,
		    evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(
		    in_place_that_must_move_evicts_nothing, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    limit_and_room_from_the_name_after, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    shared_resize_past_quota_evicts_nothing, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    shared_growth_past_quota_evicts_the_name_after_it,
		    evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_gap_then_kept_evicts_nothing, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_past_threshold_evicts_nothing, evict_setup,
		    evict_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_waits_for_release_after_it, setup_release,
		    evict_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
