/*
 * itest_quota.c - a session's quota in a pool counts exactly the blocks
 * its open handles there hold, however they come and go.
 *
 *   refusals_follow_the_model   one raw connection opens and closes up to
 *       HANDLES handles on two pools with quotas, and allocates (alone and
 *       in batches), frees and retains on them in a random sequence, some
 *       blocks held by several of its handles; another connection holds
 *       most of its own quota in the first pool all along.  The test keeps
 *       what each open handle holds, and so what counts against the quota
 *       in each pool (a block as many times as it has holders; a closed
 *       handle's blocks no longer), and every request is refused with
 *       -EDQUOT exactly when that count and the block's size pass the
 *       quota, and succeeds otherwise.  Both pools pass their check (which
 *       recounts the daemon's running totals) every CHECK_EVERY steps and
 *       at the end.  Three seeds.
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

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define KiB (1024ull)
#define NPOOLS 2
#define HANDLES 400		/* open at most, over both pools */
#define MAX_BLOCKS 4096		/* live in the model, over both pools */
#define MAX_HOLD 8		/* holders of one block in the model */
#define STEPS 10000
#define CHECK_EVERY 500
#define OTHER_HOLDS (40 * KiB)	/* the other connection's, in pool a */
#define CONF								\
	"[pool a]\nsize = 16M\nquota = 48K\n"				\
	"[pool b]\nsize = 16M\ngranularity = 64\nquota = 100K\n"

static const char *pool_name_of[NPOOLS] = {"a", "b"};
static const uint64_t quotas[NPOOLS] = {48 * KiB, 100 * KiB};
/* What is asked for: every size's usable size is learned first. */
static const uint64_t sizes[] = {16, 24, 100, 256, 1000, 2048, 3000, 4096,
				 6000, 8192};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct mhandle {
	uint32_t id;
	int pool;
};

struct mblock {
	int pool;
	uint64_t off, size;	/* size: usable, what the quota counts */
	uint32_t holders[MAX_HOLD];	/* handle ids, open ones only */
	unsigned nholders;
};

static struct {
	struct daemon_proc d;
	int fd, other;
	uint64_t usable[NPOOLS][NSIZES];
	struct mhandle handles[HANDLES];
	unsigned nhandles;
	struct mblock blocks[MAX_BLOCKS];
	unsigned nblocks;
	uint64_t used[NPOOLS];	/* the model's count against each quota */
	unsigned refused, done;	/* over the run, for its summary */
} fx;

/* ---- the model ------------------------------------------------------ */

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.fd = fx.other = -1;
	return 0;
}

static int
teardown(void **state)
{
	harness_close_fd(&fx.fd);
	harness_close_fd(&fx.other);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	return setup(state);
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(random() % n);
}

/*
 * Each size's usable size in each pool, from an allocation freed again;
 * the engine answers the same size alike every time.
 */
static void
learn_usable(void)
{
	uint64_t off, usable;
	uint32_t h;

	for (int p = 0; p < NPOOLS; p++) {
		h = harness_raw_handle(fx.fd, pool_name_of[p]);
		for (size_t i = 0; i < NSIZES; i++) {
			EXPECT_RAW(harness_raw_alloc(fx.fd, h, sizes[i], &off,
						     &usable), 0);
			assert_true(usable >= sizes[i]);
			fx.usable[p][i] = usable;
			EXPECT_RAW(harness_raw_free(fx.fd, h, off), 0);
		}
		EXPECT_RAW(harness_raw_close(fx.fd, h), 0);
	}
}

static bool
holds(const struct mblock *b, uint32_t id)
{
	for (unsigned i = 0; i < b->nholders; i++)
		if (b->holders[i] == id)
			return true;
	return false;
}

/* Take holder id off b; a block of none leaves the model. */
static void
let_go(unsigned bi, uint32_t id)
{
	struct mblock *b = &fx.blocks[bi];

	for (unsigned i = 0; i < b->nholders; i++) {
		if (b->holders[i] == id) {
			b->holders[i] = b->holders[--b->nholders];
			fx.used[b->pool] -= b->size;
			break;
		}
	}
	if (b->nholders == 0)
		*b = fx.blocks[--fx.nblocks];
}

static void
add_block(int pool, uint32_t id, uint64_t off, uint64_t size)
{
	struct mblock *b = &fx.blocks[fx.nblocks++];

	*b = (struct mblock){.pool = pool, .off = off, .size = size,
			     .holders = {id}, .nholders = 1};
	fx.used[pool] += size;
}

/* The expected answer: -EDQUOT if more on top of the count passes. */
static int
expect(int pool, uint64_t more)
{
	return fx.used[pool] + more > quotas[pool] ? -EDQUOT : 0;
}

static void
answer_is(int got, int want, const char *what, unsigned step,
	  const struct mhandle *h, uint64_t more)
{
	if (got != want)
		fail_msg("step %u: %s of %llu bytes on handle %u (pool %s, "
			 "%llu of %llu counted): %d, expected %d", step, what,
			 (unsigned long long)more, h->id,
			 pool_name_of[h->pool],
			 (unsigned long long)fx.used[h->pool],
			 (unsigned long long)quotas[h->pool], got, want);
	if (got == -EDQUOT)
		fx.refused++;
	else
		fx.done++;
}

static void
step_open(void)
{
	struct mhandle *h = &fx.handles[fx.nhandles++];

	h->pool = (int)pick(NPOOLS);
	h->id = harness_raw_handle(fx.fd, pool_name_of[h->pool]);
}

static void
step_close(unsigned hi)
{
	uint32_t id = fx.handles[hi].id;

	EXPECT_RAW(harness_raw_close(fx.fd, id), 0);
	/* Backwards: let_go moves the last block into a gap. */
	for (unsigned bi = fx.nblocks; bi-- > 0;)
		if (holds(&fx.blocks[bi], id))
			let_go(bi, id);
	fx.handles[hi] = fx.handles[--fx.nhandles];
}

static void
step_alloc(unsigned step, const struct mhandle *h)
{
	size_t si = pick(NSIZES);
	uint64_t more = fx.usable[h->pool][si], off, usable;
	int rc;

	if (fx.nblocks == MAX_BLOCKS)
		return;
	rc = harness_raw_alloc(fx.fd, h->id, sizes[si], &off, &usable);
	answer_is(rc, expect(h->pool, more), "alloc", step, h, more);
	if (rc == 0) {
		assert_int_equal(usable, more);
		add_block(h->pool, h->id, off, usable);
	}
}

/* All or nothing: refused if the batch in all passes the quota. */
static void
step_batch(unsigned step, const struct mhandle *h)
{
	uint64_t sz[4], offs[4], more = 0;
	size_t n = 2 + pick(3), si[4];
	int rc;

	if (fx.nblocks + n > MAX_BLOCKS)
		return;
	for (size_t i = 0; i < n; i++) {
		si[i] = pick(NSIZES);
		sz[i] = sizes[si[i]];
		more += fx.usable[h->pool][si[i]];
	}
	rc = harness_raw_alloc_batch(fx.fd, h->id, sz, n, offs);
	answer_is(rc, expect(h->pool, more), "batch", step, h, more);
	if (rc == 0)
		for (size_t i = 0; i < n; i++)
			add_block(h->pool, h->id, offs[i],
				  fx.usable[h->pool][si[i]]);
}

/* A block of h's pool; NULL if there is none. */
static struct mblock *
block_of_pool(int pool, unsigned *bi)
{
	unsigned start = pick(fx.nblocks ? fx.nblocks : 1);

	for (unsigned k = 0; k < fx.nblocks; k++) {
		*bi = (start + k) % fx.nblocks;
		if (fx.blocks[*bi].pool == pool)
			return &fx.blocks[*bi];
	}
	return NULL;
}

/* Retain a block of the pool; one h holds already is no change. */
static void
step_retain(unsigned step, const struct mhandle *h)
{
	struct mblock *b;
	unsigned bi;
	int rc, want;

	if (!(b = block_of_pool(h->pool, &bi)))
		return;
	if (holds(b, h->id)) {
		EXPECT_RAW(harness_raw_retain(fx.fd, h->id, b->off), 0);
		return;
	}
	if (b->nholders == MAX_HOLD)
		return;		/* the model has no room for another holder */
	want = expect(h->pool, b->size);
	rc = harness_raw_retain(fx.fd, h->id, b->off);
	answer_is(rc, want, "retain", step, h, b->size);
	if (rc == 0) {
		b->holders[b->nholders++] = h->id;
		fx.used[h->pool] += b->size;
	}
}

/* Free one of h's blocks: its reference goes, others' stay. */
static void
step_free(const struct mhandle *h)
{
	unsigned start = pick(fx.nblocks ? fx.nblocks : 1);

	for (unsigned k = 0; k < fx.nblocks; k++) {
		unsigned bi = (start + k) % fx.nblocks;

		if (holds(&fx.blocks[bi], h->id)) {
			EXPECT_RAW(harness_raw_free(fx.fd, h->id,
						    fx.blocks[bi].off), 0);
			let_go(bi, h->id);
			return;
		}
	}
}

static void
check_pools(void)
{
	for (int p = 0; p < NPOOLS; p++)
		harness_raw_check(fx.fd, pool_name_of[p]);
}

static void
run_seed(unsigned seed)
{
	uint64_t off, usable;
	uint32_t oh;

	assert_int_equal(harness_start(&fx.d, CONF), 0);
	fx.fd = harness_raw_client(fx.d.sock, "itest_quota");
	/* Another session's blocks count against its own quota only. */
	fx.other = harness_raw_client(fx.d.sock, "itest_quota");
	oh = harness_raw_handle(fx.other, "a");
	for (uint64_t held = 0; held + 4 * KiB <= OTHER_HOLDS; held += usable)
		EXPECT_RAW(harness_raw_alloc(fx.other, oh, 4 * KiB, &off,
					     &usable), 0);
	learn_usable();
	srandom(seed);
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned r = pick(100);
		const struct mhandle *h;

		if (fx.nhandles == 0 || (r < 8 && fx.nhandles < HANDLES)) {
			step_open();
			continue;
		}
		h = &fx.handles[pick(fx.nhandles)];
		if (r < 12)
			step_close((unsigned)(h - fx.handles));
		else if (r < 45)
			step_alloc(step, h);
		else if (r < 55)
			step_batch(step, h);
		else if (r < 75)
			step_retain(step, h);
		else
			step_free(h);
		if (step % CHECK_EVERY == 0)
			check_pools();
	}
	check_pools();
	print_message("seed %u: %u handles and %u blocks open at the end, "
		      "%u requests granted, %u refused with -EDQUOT\n", seed,
		      fx.nhandles, fx.nblocks, fx.done, fx.refused);
	/* Both answers came, often enough to mean something. */
	assert_true(fx.refused > STEPS / 20);
	assert_true(fx.done > STEPS / 5);
}

static void
refusals_follow_the_model(void **state)
{
	static const unsigned seeds[] = {1, 2, 3};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		run_seed(seeds[i]);
		teardown(state);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(refusals_follow_the_model,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
