/*
 * test_block_index.c - a pool's index of blocks by offset (block_index.c)
 * against a model: which of a universe of blocks are in it.
 *
 *   agrees_with_the_model_*   random inserts, removes and finds of the
 *       blocks of a universe whose offsets lie every 16 B, every 4 KiB,
 *       every 1 MiB, or anywhere (on a granule), in phases that fill the
 *       index up to 20,000 blocks and empty it again, twice, so that it
 *       grows and shrinks through tables of 16 to 32,768 slots, and the
 *       bigger ones are given back a chunk at a time.  After every step the
 *       touched block is found if it is in, and not if it is out, and so is
 *       another block of each kind; while a resize's move is under way,
 *       and every 256 steps otherwise, block_index_check verifies the
 *       whole table, its count, and that no probe for a block reads more
 *       than MAX_PROBE slots: a hash that kept strided offsets close would
 *       make runs far longer.  Every 4096 steps an iteration must meet each
 *       block in exactly once.  Emptied, the index is back to a table of
 *       at most EMPTY_SLOTS slots: its memory went back.
 *   moves_and_reinserts   a block taken out under one offset and put back
 *       under another (what a moved block does) is found under the new
 *       offset only, during a move too.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "block_index.h"
#include "pool.h"

#define UNIVERSE 65536
#define MAX_FILL 20000
#define ROUNDS 2
/*
 * The longest probe allowed.  With the index's hash the longest seen in
 * these runs is 98-111 slots, strides and random offsets alike: at load
 * 3/4, and the more as a move puts a run's blocks into the new table from
 * its end, so that its first comes last (the mean probe does not change
 * with the order).  An offset itself as its hash, or one multiplication's
 * low bits, puts the 4 KiB and 1 MiB strides on a few homes: probes of
 * 500 slots among the first 1024 blocks, of thousands after.
 */
#define MAX_PROBE 512
#define EMPTY_SLOTS 64

struct model {
	struct block *blk;	/* the universe */
	bool *in;
	uint32_t *live;		/* indices of the blocks in, any order */
	uint32_t *pos;		/* of each block in live */
	uint32_t nlive;
	uint64_t longest;	/* the longest probe seen */
	uint64_t steps;
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
model_init(struct model *m, uint64_t stride)
{
	uint64_t i;

	memset(m, 0, sizeof(*m));
	assert_non_null(m->blk = calloc(UNIVERSE, sizeof(*m->blk)));
	assert_non_null(m->in = calloc(UNIVERSE, sizeof(*m->in)));
	assert_non_null(m->live = calloc(UNIVERSE, sizeof(*m->live)));
	assert_non_null(m->pos = calloc(UNIVERSE, sizeof(*m->pos)));
	for (i = 0; i < UNIVERSE; i++) {
		/* stride 0: anywhere under 2^46, on a granule, each apart */
		m->blk[i].off = stride ? i * stride :
		    ((i * 0x9e3779b97f4a7c15ull) & ((1ull << 42) - 1)) << 4;
	}
}

static void
model_free(struct model *m)
{
	free(m->blk);
	free(m->in);
	free(m->live);
	free(m->pos);
}

static void
check(const struct block_index *x, struct model *m)
{
	struct block_index_stats st;
	char why[256];

	if (block_index_check(x, &st, why, sizeof(why)) != 0)
		fail_msg("step %" PRIu64 ": %s", m->steps, why);
	if (st.count != m->nlive)
		fail_msg("step %" PRIu64 ": %" PRIu64 " blocks, the model "
			 "has %u", m->steps, st.count, m->nlive);
	if (st.longest > m->longest)
		m->longest = st.longest;
	if (st.longest > MAX_PROBE)
		fail_msg("step %" PRIu64 ": a probe of %" PRIu64 " slots "
			 "among %" PRIu64 " blocks in %" PRIu64 " slots",
			 m->steps, st.longest, st.count, st.slots);
}

/* Each block in is met once, and nothing else. */
static void
check_iteration(const struct block_index *x, struct model *m)
{
	struct block_index_iter it;
	struct block *b;
	bool *seen = calloc(UNIVERSE, sizeof(*seen));
	uint32_t n = 0;
	size_t i;

	assert_non_null(seen);
	BLOCK_INDEX_FOREACH(b, x, &it) {
		i = (size_t)(b - m->blk);
		if (i >= UNIVERSE || !m->in[i] || seen[i])
			fail_msg("step %" PRIu64 ": iteration met block %#"
				 PRIx64 " %s", m->steps, b->off,
				 i >= UNIVERSE ? "from nowhere" : seen[i] ?
				 "twice" : "not in");
		seen[i] = true;
		n++;
	}
	if (n != m->nlive)
		fail_msg("step %" PRIu64 ": iteration met %u blocks of %u",
			 m->steps, n, m->nlive);
	free(seen);
}

static void
expect(const struct block_index *x, struct model *m, uint32_t i)
{
	struct block *b = block_index_find(x, m->blk[i].off);

	if (m->in[i] && b != &m->blk[i])
		fail_msg("step %" PRIu64 ": block %#" PRIx64 " in, but %s",
			 m->steps, m->blk[i].off, b ? "another found" :
			 "not found");
	if (!m->in[i] && b)
		fail_msg("step %" PRIu64 ": block %#" PRIx64 " out, but found",
			 m->steps, m->blk[i].off);
}

static void
put(struct block_index *x, struct model *m, uint32_t i)
{
	block_index_insert(x, &m->blk[i]);
	m->in[i] = true;
	m->pos[i] = m->nlive;
	m->live[m->nlive++] = i;
}

static void
take(struct block_index *x, struct model *m, uint32_t i)
{
	uint32_t last = m->live[--m->nlive];

	block_index_remove(x, &m->blk[i]);
	m->in[i] = false;
	m->live[m->pos[i]] = last;
	m->pos[last] = m->pos[i];
}

static void
run_model(uint64_t stride, uint64_t seed)
{
	struct block_index x;
	struct block_index_stats st;
	struct model m;
	uint32_t i, j;
	int round;
	char why[256];

	model_init(&m, stride);
	block_index_init(&x);
	for (round = 0; round < ROUNDS; round++) {
		/* Fill: 3 inserts to 1 remove; then empty: the reverse. */
		for (int filling = 1; filling >= 0; filling--) {
			while (filling ? m.nlive < MAX_FILL : m.nlive > 0) {
				m.steps++;
				if (m.nlive == 0 || (rnd(&seed) % 4 <
						     (filling ? 3u : 1u))) {
					do
						i = (uint32_t)(rnd(&seed) %
							       UNIVERSE);
					while (m.in[i]);
					put(&x, &m, i);
				} else {
					i = m.live[rnd(&seed) % m.nlive];
					take(&x, &m, i);
				}
				expect(&x, &m, i);
				expect(&x, &m, (uint32_t)(rnd(&seed) %
							  UNIVERSE));
				if (m.nlive) {
					j = m.live[rnd(&seed) % m.nlive];
					expect(&x, &m, j);
				}
				if (x.old || m.steps % 256 == 0)
					check(&x, &m);
				if (m.steps % 4096 == 0)
					check_iteration(&x, &m);
			}
			check(&x, &m);
			check_iteration(&x, &m);
		}
		assert_int_equal(block_index_check(&x, &st, why, sizeof(why)),
				 0);
		if (st.slots + st.old_slots > EMPTY_SLOTS)
			fail_msg("emptied, the index keeps %" PRIu64 " + %"
				 PRIu64 " slots", st.slots, st.old_slots);
	}
	print_message("stride %" PRIu64 ": %" PRIu64 " steps, longest probe "
		      "%" PRIu64 " slots\n", stride, m.steps, m.longest);
	block_index_free(&x);
	model_free(&m);
}

static void
agrees_with_the_model_16(void **state)
{
	(void)state;
	run_model(16, 1);
}

static void
agrees_with_the_model_4k(void **state)
{
	(void)state;
	run_model(4096, 2);
}

static void
agrees_with_the_model_1m(void **state)
{
	(void)state;
	run_model(1 << 20, 3);
}

static void
agrees_with_the_model_anywhere(void **state)
{
	(void)state;
	run_model(0, 4);
}

static void
moves_and_reinserts(void **state)
{
	struct block_index x;
	struct model m;
	uint64_t seed = 5, off;
	uint32_t i, k;

	(void)state;
	model_init(&m, 64);
	block_index_init(&x);
	/* Half the universe in, then blocks moved to offsets above it. */
	for (i = 0; i < UNIVERSE / 2; i++)
		put(&x, &m, i);
	for (k = 0; k < 20000; k++) {
		m.steps++;
		i = m.live[rnd(&seed) % m.nlive];
		off = m.blk[i].off;
		block_index_remove(&x, &m.blk[i]);
		m.blk[i].off = off + UNIVERSE * 64;
		block_index_insert(&x, &m.blk[i]);
		assert_ptr_equal(block_index_find(&x, m.blk[i].off),
				 &m.blk[i]);
		assert_null(block_index_find(&x, off));
		if (k % 2 == 0)		/* it shrinks as it goes */
			take(&x, &m, m.live[rnd(&seed) % m.nlive]);
		if (x.old || k % 256 == 0)
			check(&x, &m);
	}
	check_iteration(&x, &m);
	block_index_free(&x);
	model_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agrees_with_the_model_16),
		cmocka_unit_test(agrees_with_the_model_4k),
		cmocka_unit_test(agrees_with_the_model_1m),
		cmocka_unit_test(agrees_with_the_model_anywhere),
		cmocka_unit_test(moves_and_reinserts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
