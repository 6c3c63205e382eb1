/*
 * test_pool_evict.c - the window an allocation the engine refused evicts
 * (dpool_evict_run), on the daemon's own pool code: a real session over a
 * socketpair, a real pool of 1 MiB, no event loop (release steps off).
 *
 *   random_windows  seeded rounds: blocks of random sizes fill the pool,
 *       each then a hole, a kept name, or an evictable name (held by the
 *       handle or let go), the names touched in a random order; then a
 *       request the engine refuses (random size and alignment).  Either
 *       the window's eviction makes room, and the allocation fits, having
 *       evicted only the names counted; or nothing is evicted, asking
 *       again says no at once, and evicting every unheld evictable name
 *       still leaves the request refused: no eviction could have made
 *       it; nor do other requests the "no" kept answers without a
 *       search.  Neither end of a window but its most recently used name
 *       (the one it needs) is a name the others make the room without.
 *       The pool's Check passes after each.  The seed is printed;
 *       POOLMGR_EVICT_SEED replays one.
 *   every_window  random pools as random_windows makes them, each
 *       window evicted against an oracle that looks at every window of
 *       the unheld names: one is evicted exactly when one holds the
 *       request, its newest name the oldest any window's can be, and
 *       none with that name has fewer names.  Seed 2 by default (round
 *       275: five names evicted where four held it), POOLMGR_EVICT_SEED
 *       another.
 *   oldest_name_first  names in a row, looked up out of order: the
 *       window is the one whose newest name is the oldest it can be,
 *       grown from that name, the older of its two neighbours first.
 *   longer_than_every_stretch  after a refusal, no request longer than
 *       every stretch searches again until room is made, whatever its
 *       size and alignment; one that fits in length does.
 *   batch_rounds_search_once  a batch evicting by rounds, a hundred of
 *       them in one dispatch, searches for its largest block's window
 *       once, not once a round.
 *   aligned_window  a window holds the request where its alignment
 *       lets it start, and older names that would not are kept.
 *   fewest_names_around  a window grown on the older side first over
 *       many small names gives way to one of fewer names, a large one
 *       on the other side.
 *   batch_largest_in_free_run  a batch whose largest block a free run
 *       holds, no name beside it, evicts for its others though no window
 *       holds the largest.
 *   random_batches  seeded rounds as random_windows makes them, and a
 *       batch of two or three blocks the engine refuses, asked for as a
 *       client would: refused, no name is gone, the engine holds what
 *       it held, the one refusal counted, the words saying evicting
 *       would make no room, the "no" kept until room is made, and
 *       evicting every name for real leaves it refused; made, its
 *       blocks are had.  Either way the names gone are the least
 *       recently used, every name's bytes are as written (its block
 *       freed and reserved again by trials), and the Check passes.  A
 *       trial's yes the engine then refuses, and a no every name's
 *       eviction makes, are counted: at most one round in 50.
 *       POOLMGR_EVICT_SEED replays one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_fixture.h"
#include "dispatch_internal.h"
#include "heap.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_names.h"
#include "session.h"

#define KiB 1024ull
#define MAX_BLOCKS 96
#define ROUNDS 400u

enum fate { HOLE, KEPT, EVICTABLE, RETAINED };

struct slot {
	uint64_t off, size;
	enum fate fate;
	char name[24];
};

static uint64_t rng_state;

static uint64_t
rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

static void
check_ok(struct dpool *p)
{
	char problem[256];

	if (dpool_check(p, problem, sizeof(problem)) != 0)
		fail_msg("%s", problem);
}

static uint64_t
block_size(void)
{
	uint64_t r = rnd(100);

	if (r < 50)
		return 16 + rnd(2 * KiB);
	if (r < 90)
		return 2 * KiB + rnd(30 * KiB);
	return 128 * KiB + rnd(96 * KiB);	/* a page span */
}

/* Fill the pool with blocks and give each its fate: how many. */
static size_t
fill(struct daemon_fixture *fx, struct slot *sl)
{
	struct block *b;
	size_t n = 0, i;

	while (n < MAX_BLOCKS &&
	       dpool_alloc(fx->p, fx->h, block_size(), 0, false, 0, &b) == 0) {
		sl[n].off = b->off;
		sl[n].size = b->size;
		/* Its bytes, which no trial may lose (bytes_kept). */
		memset(fx->p->map + b->off, (int)(n + 1), b->size);
		n++;
	}
	for (i = 0; i < n; i++) {
		uint64_t r = rnd(10);

		sl[i].fate = r < 3 ? HOLE : r < 5 ? KEPT : r < 8 ? EVICTABLE
							       : RETAINED;
		snprintf(sl[i].name, sizeof(sl[i].name), "b%zu", i);
		if (sl[i].fate == HOLE) {
			assert_int_equal(dpool_free(fx->p, fx->h, sl[i].off),
					 0);
			continue;
		}
		assert_int_equal(dpool_publish(fx->p, fx->h, sl[i].off,
					       sl[i].name, strlen(sl[i].name),
					       false, sl[i].fate != KEPT), 0);
		if (sl[i].fate != RETAINED)	/* only the name holds it */
			assert_int_equal(dpool_free(fx->p, fx->h, sl[i].off),
					 0);
	}
	return n;
}

/* Look the names up in a random order: the order of use changes. */
static void
touch(struct dpool *p, struct slot *sl, size_t n)
{
	struct block_name *bn;
	size_t k, i;

	for (k = 0; k < n; k++) {
		i = rnd(n);
		if (sl[i].fate != EVICTABLE)
			continue;
		bn = block_names_find(&p->names, sl[i].name,
				      strlen(sl[i].name));
		if (bn)
			evict_touch(p, bn);
	}
}

/* Everything of the round gone: the pool empty again. */
static void
empty(struct daemon_fixture *fx, struct slot *sl, size_t n)
{
	struct heap_stats st;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (sl[i].fate == HOLE)
			continue;
		if (sl[i].fate == RETAINED)
			assert_int_equal(dpool_free(fx->p, fx->h, sl[i].off),
					 0);
		rc = dpool_unpublish(fx->p, sl[i].name, strlen(sl[i].name));
		if (rc != 0 && !(rc == -ENOENT && sl[i].fate == EVICTABLE))
			fail_msg("unpublish %s: %d", sl[i].name, rc);
	}
	heap_get_stats(fx->p->heap, &st);
	assert_int_equal(st.live_blocks, 0);
}

/* A request the engine refuses now, in *size and *align; false if none. */
static bool
refused_request(struct daemon_fixture *fx, uint64_t *size, uint64_t *align)
{
	static const uint64_t aligns[] = {0, 0, 0, 16, 4096, 64 * KiB, 64 * KiB,
					  256 * KiB};
	struct block *b;
	int tries, rc;

	for (tries = 0; tries < 50; tries++) {
		*size = 16 + rnd(rnd(4) ? 64 * KiB : 512 * KiB);
		*align = aligns[rnd(sizeof(aligns) / sizeof(aligns[0]))];
		rc = dpool_alloc(fx->p, fx->h, *size, *align, false, 0, &b);
		if (rc == -ENOMEM)
			return true;
		assert_int_equal(rc, 0);
		assert_int_equal(dpool_free(fx->p, fx->h, b->off), 0);
	}
	return false;
}

/*
 * What each unheld evictable name was before an eviction: its block, the
 * free space around it, its recency; and whether it went.
 */
struct before {
	bool unheld, gone;
	uint64_t off, end, start, stop, used;
};

static struct before was[MAX_BLOCKS];

static void
unheld_before(struct dpool *p, const struct slot *sl, size_t n)
{
	struct block_name *bn;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&was[i], 0, sizeof(was[i]));
		if (sl[i].fate != EVICTABLE)
			continue;
		bn = block_names_find(&p->names, sl[i].name,
				      strlen(sl[i].name));
		if (!bn || !bn->evict || !bn->evict->on_lru)
			continue;
		was[i].unheld = true;
		was[i].off = bn->block->off;
		was[i].end = bn->block->off + bn->block->size;
		was[i].used = bn->evict->used;
		assert_int_equal(heap_free_around(p->heap, was[i].off,
						  &was[i].start,
						  &was[i].stop), 0);
	}
}

/*
 * The names a window's eviction took: none used after a name left that
 * a window could have taken instead is not checked here (the oracle is
 * the search itself); but neither end, unless it is the most recently
 * used name of the window (the one the window needs), is one the rest
 * could do without (the stretch the others free, that end's block kept,
 * would hold the request): no name evicted for nothing.
 */
static void
no_end_for_nothing(struct dpool *p, const struct slot *sl, size_t n,
		   uint64_t size, uint64_t align, unsigned round)
{
	size_t i, lo = n, hi = n, key = n;

	for (i = 0; i < n; i++) {
		if (!was[i].unheld)
			continue;
		was[i].gone = !block_names_find(&p->names, sl[i].name,
						strlen(sl[i].name));
		if (!was[i].gone)
			continue;
		if (lo == n || was[i].off < was[lo].off)
			lo = i;
		if (hi == n || was[i].off > was[hi].off)
			hi = i;
		if (key == n || was[i].used > was[key].used)
			key = i;
	}
	assert_true(lo < n && hi < n);
	if (lo != key && heap_fits(p->heap, size, align, was[lo].end,
				   was[hi].stop))
		fail_msg("round %u: %s evicted for nothing (%llu bytes aligned "
			 "to %llu)", round, sl[lo].name,
			 (unsigned long long)size, (unsigned long long)align);
	if (hi != key && heap_fits(p->heap, size, align, was[lo].start,
				   was[hi].off))
		fail_msg("round %u: %s evicted for nothing (%llu bytes aligned "
			 "to %llu)", round, sl[hi].name,
			 (unsigned long long)size, (unsigned long long)align);
}

/*
 * After a search found no window: other requests the kept "no" answers
 * without a search (the walk unchanged) have none either when searched
 * for anew (room_count moved on, as room made would).
 */
static void
no_kept_is_no(struct dpool *p, unsigned round)
{
	static const uint64_t aligns[] = {0, 16, 4096, 64 * KiB, 256 * KiB};
	uint64_t size, align;
	uint16_t walk;
	int k;

	for (k = 0; k < 8; k++) {
		size = 16 + rnd(rnd(2) ? 64 * KiB : 768 * KiB);
		align = aligns[rnd(sizeof(aligns) / sizeof(aligns[0]))];
		walk = p->evict.walk;
		if (dpool_evict_may_make_run(p, size, align) ||
		    p->evict.walk != walk)
			continue;	/* searched: not the kept answer */
		p->room_count++;
		if (dpool_evict_may_make_run(p, size, align))
			fail_msg("round %u: no window kept for %llu bytes "
				 "aligned to %llu, but a search finds one",
				 round, (unsigned long long)size,
				 (unsigned long long)align);
		p->room_count--;	/* the kept "no" again */
	}
}

static void
random_windows(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	struct slot sl[MAX_BLOCKS];
	const char *env = getenv("POOLMGR_EVICT_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x9e3779b97f4a7c15ull;
	uint64_t size, align, before;
	unsigned round, yes = 0, no = 0;
	struct block *b;
	uint32_t n;
	size_t count;

	printf("seed %#llx (POOLMGR_EVICT_SEED replays it)\n",
	       (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	for (round = 0; round < ROUNDS; round++) {
		count = fill(fx, sl);
		touch(p, sl, count);
		check_ok(p);
		if (!refused_request(fx, &size, &align)) {
			empty(fx, sl, count);
			continue;
		}
		before = p->evict.evictions;
		unheld_before(p, sl, count);
		n = dpool_evict_run(p, size, align);
		assert_int_equal(p->evict.evictions - before, n);
		check_ok(p);
		if (n) {
			yes++;
			no_end_for_nothing(p, sl, count, size, align, round);
			if (dpool_alloc(p, fx->h, size, align, false, 0, &b))
				fail_msg("round %u: %u names evicted for %llu "
					 "bytes aligned to %llu, still refused",
					 round, n, (unsigned long long)size,
					 (unsigned long long)align);
			assert_int_equal(dpool_free(p, fx->h, b->off), 0);
		} else {
			no++;
			assert_int_equal(dpool_evict_run(p, size, align), 0);
			no_kept_is_no(p, round);
			dpool_evict(p, UINT64_MAX, UINT32_MAX, UINT64_MAX);
			assert_int_equal(p->evict.unheld, 0);
			if (dpool_alloc(p, fx->h, size, align, false, 0, &b) !=
			    -ENOMEM)
				fail_msg("round %u: no window for %llu bytes "
					 "aligned to %llu, but evicting every "
					 "name made room", round,
					 (unsigned long long)size,
					 (unsigned long long)align);
		}
		check_ok(p);
		empty(fx, sl, count);
	}
	printf("%u rounds: %u windows evicted and fitted, %u refusals "
	       "that no eviction could help\n", ROUNDS, yes, no);
	assert_true(yes > ROUNDS / 10 && no > ROUNDS / 10);
}

/*
 * The oracle: every window of the names unheld before (was[]), each run
 * of them side by side by offset with only free space between their
 * blocks, whose stretch holds the request.  Of those, in *used the least
 * most recent use, and in *fewest the fewest names of a window with it;
 * false if none holds it.
 */
static bool
best_window(size_t n, struct dpool *p, uint64_t size, uint64_t align,
	    uint64_t *used, size_t *fewest)
{
	size_t by_off[MAX_BLOCKS], k = 0, i, j, t;
	uint64_t newest;
	bool any = false;

	for (i = 0; i < n; i++) {
		if (!was[i].unheld)
			continue;
		for (j = k; j > 0 && was[by_off[j - 1]].off > was[i].off; j--)
			by_off[j] = by_off[j - 1];
		by_off[j] = i;
		k++;
	}
	for (i = 0; i < k; i++) {
		newest = 0;
		for (j = i; j < k; j++) {
			t = by_off[j];
			if (j > i && was[by_off[j - 1]].stop != was[t].off)
				break;	/* a live block between */
			if (was[t].used > newest)
				newest = was[t].used;
			if (!heap_fits(p->heap, size, align,
				       was[by_off[i]].start, was[t].stop))
				continue;
			if (!any || newest < *used ||
			    (newest == *used && j - i + 1 < *fewest)) {
				*used = newest;
				*fewest = j - i + 1;
			}
			any = true;
			break;	/* longer ones from i: no better */
		}
	}
	return any;
}

/*
 * Random pools as random_windows makes them, each refusal's eviction
 * against the oracle (best_window): a window is evicted exactly when one
 * holds the request, its newest name the oldest that any window's can
 * be, and no window with that one has fewer names.
 */
static void
every_window(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	struct slot sl[MAX_BLOCKS];
	uint64_t size, align, best_used = 0, newest;
	size_t count, fewest = 0, i, gone;
	unsigned round, yes = 0;
	uint32_t n;
	bool any;

	const char *env = getenv("POOLMGR_EVICT_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 2;

	printf("seed %#llx (POOLMGR_EVICT_SEED replays it)\n",
	       (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	for (round = 0; round < ROUNDS; round++) {
		count = fill(fx, sl);
		touch(p, sl, count);
		if (!refused_request(fx, &size, &align)) {
			empty(fx, sl, count);
			continue;
		}
		unheld_before(p, sl, count);
		any = best_window(count, p, size, align, &best_used, &fewest);
		n = dpool_evict_run(p, size, align);
		if (!any && n)
			fail_msg("round %u: no window holds %llu bytes aligned "
				 "to %llu, %u names evicted", round,
				 (unsigned long long)size,
				 (unsigned long long)align, n);
		if (any && !n)
			fail_msg("round %u: a window holds %llu bytes aligned "
				 "to %llu, none evicted", round,
				 (unsigned long long)size,
				 (unsigned long long)align);
		newest = 0;
		gone = 0;
		for (i = 0; i < count; i++) {
			if (!was[i].unheld || block_names_find(&p->names,
			    sl[i].name, strlen(sl[i].name)))
				continue;
			gone++;
			if (was[i].used > newest)
				newest = was[i].used;
		}
		if (any && newest != best_used)
			fail_msg("round %u: the window's newest name was used "
				 "at %llu, a window's could be at %llu", round,
				 (unsigned long long)newest,
				 (unsigned long long)best_used);
		if (any && gone != fewest)
			fail_msg("round %u: %zu names evicted for %llu bytes "
				 "aligned to %llu, a window of %zu holds it",
				 round, gone, (unsigned long long)size,
				 (unsigned long long)align, fewest);
		yes += any;
		check_ok(p);
		empty(fx, sl, count);
	}
	printf("%u rounds, %u windows as the oracle's\n", ROUNDS, yes);
	assert_true(yes > ROUNDS / 10);
}

/*
 * Eight evictable names n0..n7 of 64 KiB in a row from 0, then a kept
 * block and the rest of the pool taken, so that only evictions make
 * room; looked up in order[], the first of it the least recently used.
 * The kept block's offset and the rest's, for the end.
 */
static void
names_in_a_row(struct daemon_fixture *fx, const int *order, uint64_t *kept,
	       uint64_t *rest)
{
	struct dpool *p = fx->p;
	struct block_name *bn;
	struct block *b;
	char name[16];
	int i;

	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	for (i = 0; i < 8; i++) {
		assert_int_equal(dpool_alloc(p, fx->h, 64 * KiB, 0, false, 0,
					     &b), 0);
		assert_int_equal(b->off, (uint64_t)i * 64 * KiB);
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(dpool_publish(p, fx->h, b->off, name, 2,
					       false, true), 0);
		assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	}
	assert_int_equal(dpool_alloc(p, fx->h, 64 * KiB, 0, false, 0, &b), 0);
	*kept = b->off;
	assert_int_equal(dpool_alloc(p, fx->h, 1024 * KiB - 9 * 64 * KiB, 0,
				     false, 0, &b), 0);
	*rest = b->off;
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d", order[i]);
		assert_non_null(bn = block_names_find(&p->names, name, 2));
		evict_touch(p, bn);
	}
}

/* Bit i: n<i> is still a name. */
static unsigned
names_left(struct dpool *p)
{
	unsigned left = 0;
	char name[16];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		if (block_names_find(&p->names, name, 2))
			left |= 1u << i;
	}
	return left;
}

/* The names left, the kept block and the rest gone: the pool empty. */
static void
names_in_a_row_end(struct daemon_fixture *fx, uint64_t kept, uint64_t rest)
{
	char name[16];
	int i;

	assert_int_equal(dpool_free(fx->p, fx->h, kept), 0);
	assert_int_equal(dpool_free(fx->p, fx->h, rest), 0);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		if (block_names_find(&fx->p->names, name, 2))
			assert_int_equal(dpool_unpublish(fx->p, name, 2), 0);
	}
	check_ok(fx->p);
}

/*
 * The order of use 5, 2, 6, 4, 7, 3, 0, 1.  128 KiB: 5 and 2 alone do
 * not hold it, 6 with 5 does: those two.  Then 192 KiB: 2, 4 and 7 do
 * not (the 128 KiB block now lies between 4 and 7), 3 joins 2 and 4:
 * from 3, the older of 2 and 4 first (2), then 4.
 */
static void
oldest_name_first(void **state)
{
	static const int order[] = {5, 2, 6, 4, 7, 3, 0, 1};
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uint64_t kept, rest;
	struct block *b;

	names_in_a_row(fx, order, &kept, &rest);
	assert_int_equal(dpool_evict_run(p, 128 * KiB, 0), 2);
	assert_int_equal(names_left(p), 0x9f);
	assert_int_equal(dpool_alloc(p, fx->h, 128 * KiB, 0, false, 0, &b),
			 0);
	assert_int_equal(b->off, 5 * 64 * KiB);
	assert_int_equal(dpool_evict_run(p, 192 * KiB, 0), 3);
	assert_int_equal(names_left(p), 0x83);
	check_ok(p);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	names_in_a_row_end(fx, kept, rest);
}

/*
 * From 0: a held block of 64 KiB, names l3, l2, l1 of 32 KiB, k of 96
 * KiB, r of 128 KiB, a held block of 64 KiB and the rest held; used in
 * the order l1, l2, l3, r, k.  192 KiB: k completes the window, and with
 * it r alone holds it (224 KiB), while its older side takes all three
 * small names (192 KiB): k and r go, two names, not four.
 */
static void
fewest_names_around(void **state)
{
	static const char *const names[] = {"l3", "l2", "l1", "k", "r"};
	static const uint64_t sizes[] = {32 * KiB, 32 * KiB, 32 * KiB,
					 96 * KiB, 128 * KiB};
	static const int order[] = {2, 1, 0, 4, 3};
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	struct block_name *bn;
	uint64_t held[3], at = 64 * KiB;
	struct block *b;
	int i;

	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	assert_int_equal(dpool_alloc(p, fx->h, 64 * KiB, 0, false, 0, &b), 0);
	assert_int_equal(b->off, 0);
	held[0] = b->off;
	for (i = 0; i < 5; i++) {
		assert_int_equal(dpool_alloc(p, fx->h, sizes[i], 0, false, 0,
					     &b), 0);
		assert_int_equal(b->off, at);
		at += sizes[i];
		assert_int_equal(dpool_publish(p, fx->h, b->off, names[i],
					       strlen(names[i]), false, true),
				 0);
		assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	}
	assert_int_equal(dpool_alloc(p, fx->h, 64 * KiB, 0, false, 0, &b), 0);
	held[1] = b->off;
	assert_int_equal(dpool_alloc(p, fx->h, 1024 * KiB - at - 64 * KiB, 0,
				     false, 0, &b), 0);
	held[2] = b->off;
	for (i = 0; i < 5; i++) {
		bn = block_names_find(&p->names, names[order[i]],
				      strlen(names[order[i]]));
		assert_non_null(bn);
		evict_touch(p, bn);
	}
	assert_int_equal(dpool_evict_run(p, 192 * KiB, 0), 2);
	for (i = 0; i < 5; i++)
		assert_int_equal(block_names_find(&p->names, names[i],
						  strlen(names[i])) != NULL,
				 i < 3);
	assert_int_equal(dpool_alloc(p, fx->h, 192 * KiB, 0, false, 0, &b), 0);
	assert_int_equal(b->off, 160 * KiB);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(dpool_free(p, fx->h, held[i]), 0);
		assert_int_equal(dpool_unpublish(p, names[i],
						 strlen(names[i])), 0);
	}
	check_ok(p);
}

/*
 * 64 KiB aligned to 256 KiB, the order of use 5, 6, 4...: n5's block
 * holds 64 KiB but not on 256 KiB, nor do n5's and n6's; n4's does, at
 * 256 KiB: it goes alone, though n5 and n6 are older (evicting them too
 * would make no room the request can use).
 */
static void
aligned_window(void **state)
{
	static const int order[] = {5, 6, 4, 2, 7, 3, 0, 1};
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uint64_t kept, rest;
	struct block *b;

	names_in_a_row(fx, order, &kept, &rest);
	assert_int_equal(dpool_evict_run(p, 64 * KiB, 256 * KiB), 1);
	assert_int_equal(names_left(p), 0xef);
	assert_int_equal(dpool_alloc(p, fx->h, 64 * KiB, 256 * KiB, false, 0,
				     &b), 0);
	assert_int_equal(b->off, 256 * KiB);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	names_in_a_row_end(fx, kept, rest);
}

/*
 * Eight names in a row: a stretch of 512 KiB, the pool's only one.  A
 * refusal of 1 MiB walks the names; until room is made no request
 * longer than 512 KiB walks them again, smaller or aligned otherwise
 * than the one refused (each walk was the whole names' again, and
 * waiting allocations of other sizes, tried again for every room made,
 * walked them one after another).  512 KiB is looked for, and found.
 */
static void
longer_than_every_stretch(void **state)
{
	static const int order[] = {0, 1, 2, 3, 4, 5, 6, 7};
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uint64_t kept, rest;
	struct block *b;
	uint16_t walk;

	names_in_a_row(fx, order, &kept, &rest);
	assert_int_equal(dpool_evict_run(p, 1024 * KiB, 0), 0);
	walk = p->evict.walk;
	assert_int_equal(dpool_evict_run(p, 768 * KiB, 0), 0);
	assert_int_equal(dpool_evict_run(p, 600 * KiB, 4096), 0);
	assert_false(dpool_evict_may_make_run(p, 513 * KiB, 0));
	assert_int_equal(p->evict.walk, walk);
	assert_int_equal(dpool_evict_run(p, 512 * KiB, 0), 8);
	assert_int_equal(p->evict.walk, (uint16_t)(walk + 1));
	assert_int_equal(dpool_alloc(p, fx->h, 512 * KiB, 0, false, 0, &b), 0);
	assert_int_equal(b->off, 0);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	names_in_a_row_end(fx, kept, rest);
}

#define SMALL_BLK (4 * KiB)
#define NSMALL ((int)(1024 * KiB / SMALL_BLK))
#define NEWEST 224	/* from here on, the newest names, side by side */

/*
 * 4 KiB blocks filling the pool: below NEWEST an evictable name, the
 * least recently used, between each two kept ones; from NEWEST on the
 * newest names, side by side, 128 KiB.  A batch of 100 KiB and 4 KiB,
 * refused, evicts by rounds, one name a round once the bytes are there,
 * the isolated names first, until the newest make its run: a hundred
 * rounds, and one search for a window of 100 KiB, the first (evictions
 * never shorten a stretch, and nothing else runs between the rounds of
 * one dispatch).  Each round searched anew, walking the isolated names
 * left: the rounds' walks were the square of the names.
 */
static void
batch_rounds_search_once(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;
	uint64_t off[NSMALL], sizes[2] = {100 * KiB, SMALL_BLK};
	struct call c = {.s = fx->s, .rep = &rep};
	struct block *b;
	char name[16];
	uint16_t walk;
	size_t k;
	int i;

	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	for (i = 0; i < NSMALL; i++) {
		assert_int_equal(dpool_alloc(p, fx->h, SMALL_BLK, 0, false, 0,
					     &b), 0);
		off[i] = b->off;
		assert_int_equal(off[i], (uint64_t)i * SMALL_BLK);
	}
	for (i = 0; i < NSMALL; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(dpool_publish(p, fx->h, off[i], name,
					       strlen(name), false,
					       i >= NEWEST || i % 2 == 0), 0);
		assert_int_equal(dpool_free(p, fx->h, off[i]), 0);
	}
	m.handle = fx->h->id;
	m.n_sizes = 2;
	m.sizes = sizes;
	walk = p->evict.walk;
	assert_int_equal(do_alloc_batch(&c, &m), 0);
	assert_int_equal(p->evict.walk, (uint16_t)(walk + 1));
	assert_int_equal(p->evict.evictions, NEWEST / 2 + 25);
	check_ok(p);
	for (k = 0; k < rep.alloc_batch->n_offsets; k++)
		assert_int_equal(dpool_free(p, fx->h,
					    rep.alloc_batch->offsets[k]), 0);
	for (i = 0; i < NSMALL; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		(void)dpool_unpublish(p, name, strlen(name));
	}
	check_ok(p);
}

#define ISOLATED 100	/* the one evictable name, between kept blocks */

/*
 * 4 KiB blocks filling the pool, held, but for a free run of 64 KiB
 * between two of them that no name is beside, and one evictable name
 * let go, ISOLATED, between two others.  A batch of 64 KiB and 4 KiB is
 * refused by the engine: the free run holds its largest block, and the
 * name's eviction gives the other.  No window holds 64 KiB, but none is
 * needed: the batch evicts the name and is had.
 */
static void
batch_largest_in_free_run(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;
	uint64_t off[NSMALL], sizes[2] = {64 * KiB, SMALL_BLK};
	struct call c = {.s = fx->s, .rep = &rep};
	struct block *b;
	size_t k;
	int i;

	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	for (i = 0; i < NSMALL; i++) {
		assert_int_equal(dpool_alloc(p, fx->h, SMALL_BLK, 0, false, 0,
					     &b), 0);
		off[i] = b->off;
	}
	for (i = 16; i < 32; i++)
		assert_int_equal(dpool_free(p, fx->h, off[i]), 0);
	assert_int_equal(dpool_publish(p, fx->h, off[ISOLATED], "n", 1,
				       false, true), 0);
	assert_int_equal(dpool_free(p, fx->h, off[ISOLATED]), 0);
	m.handle = fx->h->id;
	m.n_sizes = 2;
	m.sizes = sizes;
	assert_int_equal(do_alloc_batch(&c, &m), 0);
	assert_int_equal(rep.body_case, POOLMGR__REPLY__BODY_ALLOC_BATCH);
	assert_int_equal(p->evict.evictions, 1);
	check_ok(p);
	for (k = 0; k < rep.alloc_batch->n_offsets; k++)
		assert_int_equal(dpool_free(p, fx->h,
					    rep.alloc_batch->offsets[k]), 0);
	for (i = 0; i < NSMALL; i++)
		if ((i < 16 || i >= 32) && i != ISOLATED)
			assert_int_equal(dpool_free(p, fx->h, off[i]), 0);
	check_ok(p);
}

/* Sizes of a batch of 2 or 3 blocks the engine refuses now: how many. */
static size_t
refused_batch(struct daemon_fixture *fx, uint64_t *sizes)
{
	struct block *b;
	uint64_t offs[3];
	size_t n, i, k;
	int tries, rc = 0;

	for (tries = 0; tries < 50; tries++) {
		n = 2 + rnd(2);
		for (i = 0; i < n; i++)
			sizes[i] = block_size();
		for (i = 0; i < n; i++) {
			rc = dpool_alloc(fx->p, fx->h, sizes[i], 0, false, 0,
					 &b);
			if (rc)
				break;
			offs[i] = b->off;
		}
		for (k = 0; k < i; k++)
			assert_int_equal(dpool_free(fx->p, fx->h, offs[k]), 0);
		if (rc == -ENOMEM)
			return n;
		assert_int_equal(rc, 0);
	}
	return 0;
}

/* The unheld evictable names, least recently used first, into order. */
static size_t
lru_names(struct dpool *p, char (*order)[24])
{
	struct evict_link *l;
	size_t n = 0;

	TAILQ_FOREACH(l, &p->evict.lru, lru)
		snprintf(order[n++], sizeof(order[0]), "%.*s",
			 (int)l->name->len, l->name->name);
	return n;
}

static bool
named(struct dpool *p, const char *name)
{
	return block_names_find(&p->names, name, strlen(name)) != NULL;
}

/* The engine's counts a trial must leave as they were. */
static void
expect_engine_as(struct dpool *p, const struct heap_stats *then,
		 unsigned round)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	if (st.allocated_bytes != then->allocated_bytes ||
	    st.requested_bytes != then->requested_bytes ||
	    st.live_blocks != then->live_blocks ||
	    st.allocs != then->allocs || st.frees != then->frees ||
	    st.cache_hits != then->cache_hits)
		fail_msg("round %u: the engine's counts moved under a refused "
			 "batch: allocated %llu, was %llu; requested %llu, was "
			 "%llu; live %llu, was %llu; allocs %llu, was %llu; "
			 "frees %llu, was %llu; cache hits %llu, was %llu",
			 round,
			 (unsigned long long)st.allocated_bytes,
			 (unsigned long long)then->allocated_bytes,
			 (unsigned long long)st.requested_bytes,
			 (unsigned long long)then->requested_bytes,
			 (unsigned long long)st.live_blocks,
			 (unsigned long long)then->live_blocks,
			 (unsigned long long)st.allocs,
			 (unsigned long long)then->allocs,
			 (unsigned long long)st.frees,
			 (unsigned long long)then->frees,
			 (unsigned long long)st.cache_hits,
			 (unsigned long long)then->cache_hits);
}

/*
 * Every name left holds the bytes fill wrote: a trial freed and reserved
 * its block again, no page of it given back.
 */
static void
bytes_kept(struct dpool *p, const struct slot *sl, size_t n, unsigned round)
{
	size_t i;
	uint64_t k;

	for (i = 0; i < n; i++) {
		if (sl[i].fate == HOLE || !named(p, sl[i].name))
			continue;
		for (k = 0; k < sl[i].size; k++)
			if (p->map[sl[i].off + k] != (uint8_t)(i + 1))
				fail_msg("round %u: %s's byte %llu reads %u, "
					 "not %u", round, sl[i].name,
					 (unsigned long long)k,
					 p->map[sl[i].off + k],
					 (unsigned)(uint8_t)(i + 1));
	}
}

/*
 * A refused batch, evicting nothing: if trials said so (tried), asking
 * again makes none (the "no" kept), and once room is counted as made it
 * tries again, and it is still no.  Then every unheld name is evicted
 * for real: is the batch had now?  It should not be, but for what the
 * engine's caches hold (pool_evict_batch.c).
 */
static bool
no_then_made(struct daemon_fixture *fx, const Poolmgr__AllocBatch *m,
	     bool tried)
{
	struct dpool *p = fx->p;
	uint64_t trials = p->evict.trials, offs[3];
	struct block *b;
	size_t i, k;
	int rc = 0;

	if (tried) {
		Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
		struct call c = {.s = fx->s, .rep = &rep};
		struct call c2 = {.s = fx->s, .rep = &rep};

		assert_int_equal(do_alloc_batch(&c, m), -ENOMEM);
		assert_int_equal(p->evict.trials, trials);
		p->room_count++;
		assert_int_equal(do_alloc_batch(&c2, m), -ENOMEM);
		assert_true(p->evict.trials > trials);
	}
	dpool_evict(p, UINT64_MAX, UINT32_MAX, UINT64_MAX);
	for (i = 0; i < m->n_sizes; i++) {
		if ((rc = dpool_alloc(p, fx->h, m->sizes[i], 0, false, 0, &b)))
			break;
		offs[i] = b->off;
	}
	for (k = 0; k < i; k++)
		assert_int_equal(dpool_free(p, fx->h, offs[k]), 0);
	assert_true(rc == 0 || rc == -ENOMEM);
	return rc == 0;
}

/*
 * The names gone are the n least recently used of order's (the trials',
 * and the rounds', are those), gone of them.
 */
static void
oldest_gone(struct dpool *p, char (*order)[24], size_t n, size_t gone,
	    unsigned round)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (named(p, order[k]) == (k < gone))
			fail_msg("round %u: name %zu of %zu by use %s, %zu "
				 "evicted", round, k, n, k < gone ? "kept" :
				 "gone", gone);
}

/*
 * Random pools as random_windows makes them, and a batch of two or three
 * blocks the engine refuses, asked for as a client would
 * (do_alloc_batch).  Refused with no eviction: no name is gone, the
 * engine holds what it held, the pool's failed allocations count the one
 * refusal, the words say that evicting would make no room, and
 * no_then_made.  Made: its blocks are the handle's, the names gone are
 * the least recently used, as many as were evicted, and the refusal
 * before it is not counted.  Every name's bytes are as written and the
 * pool's Check passes after each (the trials' reservations with it).
 * The engine's placements follow what its caches hold, which a trial
 * changes (pool_evict_batch.c): the trials' yes may meet the engine's
 * refusal (the batch then goes on by rounds), and their no may be a
 * batch every name's eviction would have made; both are counted, and
 * must stay rare.
 */
static void
random_batches(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	struct slot sl[MAX_BLOCKS];
	char order[MAX_BLOCKS][24];
	const char *env = getenv("POOLMGR_EVICT_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x2545f4914f6cdd1dull;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;
	uint64_t sizes[3], before, failed, trials;
	struct heap_stats then;
	unsigned round, yes = 0, no = 0, yes_refused = 0, no_made = 0;
	size_t count, n, gone;
	int rc;

	printf("seed %#llx (POOLMGR_EVICT_SEED replays it)\n",
	       (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	dpool_release_setup(0, DPOOL_DROP_STEP_DEFAULT, NULL);
	m.handle = fx->h->id;
	m.sizes = sizes;
	for (round = 0; round < ROUNDS; round++) {
		Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
		struct call c = {.s = fx->s, .rep = &rep};

		count = fill(fx, sl);
		touch(p, sl, count);
		if (!(m.n_sizes = refused_batch(fx, sizes))) {
			empty(fx, sl, count);
			continue;
		}
		n = lru_names(p, order);
		before = p->evict.evictions;
		failed = dpool_failed_allocs(p);
		trials = p->evict.trials;
		heap_get_stats(p->heap, &then);
		rc = do_alloc_batch(&c, &m);
		check_ok(p);
		bytes_kept(p, sl, count, round);
		gone = p->evict.evictions - before;
		assert_true(rc == 0 || rc == -ENOMEM);
		assert_true(gone <= n);
		oldest_gone(p, order, n, gone, round);
		if (rc == -ENOMEM && gone) {
			yes_refused++;
		} else if (rc == -ENOMEM) {
			no++;
			expect_engine_as(p, &then, round);
			assert_int_equal(dpool_failed_allocs(p) - failed, 1);
			if (n && !strstr(c.msg, "would make no room for the "
					 "batch"))
				fail_msg("round %u: words \"%s\"", round,
					 c.msg);
			no_made += no_then_made(fx, &m,
						p->evict.trials > trials);
		} else {
			/*
			 * With no eviction: the try refused_batch made may
			 * have merged the caches, and this one's blocks fit.
			 */
			yes += gone > 0;
			assert_int_equal(dpool_failed_allocs(p), failed);
			assert_int_equal(rep.alloc_batch->n_offsets,
					 m.n_sizes);
			for (gone = 0; gone < m.n_sizes; gone++)
				assert_int_equal(dpool_free(p, fx->h,
				    rep.alloc_batch->offsets[gone]), 0);
		}
		check_ok(p);
		empty(fx, sl, count);
	}
	printf("%u rounds: %u batches made by evictions, %u refused with "
	       "none; %u refused after the trials' names went, %u refused "
	       "that every name's eviction made\n", ROUNDS, yes, no,
	       yes_refused, no_made);
	assert_true(yes > ROUNDS / 10 && no > ROUNDS / 10);
	assert_true(yes_refused + no_made <= ROUNDS / 50);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(random_windows,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(every_window,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(oldest_name_first,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(longer_than_every_stretch,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(batch_rounds_search_once,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(aligned_window,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(fewest_names_around,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(batch_largest_in_free_run,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(random_batches,
						daemon_fixture_setup_open,
						daemon_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
