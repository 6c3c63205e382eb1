/*
 * test_uid_holds.c - the count of each uid's holds on a pool's shared
 * blocks (uid_holds.c) against a model: an array of counts.
 *
 *   agrees_with_the_model  random adds and subs over 5000 blocks and 4
 *       uids, in phases that fill the table up to about 20,000 entries
 *       and empty it again, twice, so that it grows and shrinks through
 *       tables of 16 to 65,536 slots.  Each add and sub returns the
 *       model's count, the table counts the model's entries, and every
 *       1009 steps a look at every seventh block's counts agrees; while a
 *       resize's move is under way, and every 97 steps otherwise,
 *       uid_holds_check verifies the tables.  No resize finds the last
 *       one's move unfinished.  Emptied, the table is gone, its bytes 0.
 *   grows_in_steps  the add past half full begins a grow and moves no
 *       more than 16 of the old table's slots; each further add moves at
 *       most as many, until the old table is gone; the counts are found
 *       in either table meanwhile, and a sub of an entry still in the
 *       old table takes it from there.
 *   no_table_without_entries  the table goes with its last entry: one
 *       made by a reserve and given no entry (as a change refused after
 *       its reserve would leave it) fails uid_holds_check, which names
 *       it; with an entry it passes, and its last sub takes the table.
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

#include "uid_holds.h"

#define BLOCKS 5000
#define UIDS 4
#define PHASE 60000
#define ROUNDS 2

/* Stand-ins for blocks: only their addresses are keys. */
static char blocks[BLOCKS];
static uint32_t model[BLOCKS][UIDS];

#define BLOCK(i) ((const struct block *)(const void *)&blocks[i])

static void
check_ok(const struct uid_holds *t)
{
	char problem[256];

	if (uid_holds_check(t, problem, sizeof(problem)))
		fail_msg("%s", problem);
}

/* One random change, adding with odds in 4 of adding (else a sub). */
static void
change(struct uid_holds *t, int odds, uint64_t *entries)
{
	int b = (int)(random() % BLOCKS), u = (int)(random() % UIDS);

	if ((int)(random() % 4) < odds) {
		assert_int_equal(uid_holds_reserve(t, model[b][u] ? 0 : 1), 0);
		assert_int_equal(uid_holds_add(t, BLOCK(b), (uint32_t)u),
				 ++model[b][u]);
		*entries += model[b][u] == 1;
	} else if (model[b][u]) {
		assert_int_equal(uid_holds_sub(t, BLOCK(b), (uint32_t)u),
				 --model[b][u]);
		*entries -= model[b][u] == 0;
	}
}

/* The table counts block b's holds of each uid as the model does. */
static void
agrees(const struct uid_holds *t, int b)
{
	uint32_t u;

	for (u = 0; u < UIDS; u++)
		assert_int_equal(uid_holds_count(t, BLOCK(b), u), model[b][u]);
}

static void
agrees_with_the_model(void **state)
{
	struct uid_holds t;
	uint64_t entries = 0, moving = 0, most = 0, i;
	int round, phase, b, u;

	(void)state;
	srandom(7);
	uid_holds_init(&t);
	for (round = 0; round < ROUNDS; round++) {
		for (phase = 0; phase < 4; phase++) {
			for (i = 0; i < PHASE; i++) {
				/* Fill, churn, empty, churn. */
				change(&t, phase == 0 ? 3 : phase == 2 ? 1 : 2,
				       &entries);
				assert_int_equal(t.count, entries);
				if (t.mask + 1 > most)
					most = t.mask + 1;
				moving += t.old != NULL;
				if (t.old || i % 97 == 0)
					check_ok(&t);
				if (i % 1009)
					continue;
				for (b = 0; b < BLOCKS; b += 7)
					agrees(&t, b);
			}
		}
		for (b = 0; b < BLOCKS; b++)
			for (u = 0; u < UIDS; u++)
				while (model[b][u])
					assert_int_equal(uid_holds_sub(&t,
						BLOCK(b), (uint32_t)u),
						--model[b][u]);
		assert_null(t.slot);
		assert_null(t.old);
		assert_int_equal(t.count, 0);
		assert_int_equal(t.bytes, 0);
		entries = 0;
	}
	printf("uid_holds: tables of up to %llu slots, %llu steps mid-move\n",
	       (unsigned long long)most, (unsigned long long)moving);
	assert_true(most >= 32768);
	assert_true(moving > 0);
	assert_int_equal(t.hurried, 0);
}

static void
grows_in_steps(void **state)
{
	struct uid_holds t;
	uint64_t n, i, left, slots;
	struct uid_hold e;
	uint32_t u;

	(void)state;
	uid_holds_init(&t);
	/* 2048 entries fill a table of 4096 slots to its half. */
	for (n = 0; n < 2048; n++) {
		assert_int_equal(uid_holds_reserve(&t, 1), 0);
		assert_int_equal(uid_holds_add(&t, BLOCK(n), 1), 1);
	}
	assert_null(t.old);
	slots = t.mask + 1;
	assert_int_equal(slots, 4096);
	check_ok(&t);
	/* The next begins a grow: nothing moved yet but a step's worth. */
	assert_int_equal(uid_holds_reserve(&t, 1), 0);
	assert_non_null(t.old);
	assert_int_equal(t.mask + 1, 2 * slots);
	assert_int_equal(t.old_count, 2048);
	assert_int_equal(uid_holds_add(&t, BLOCK(2048), 1), 1);
	assert_true(t.old_count >= 2048 - 16);
	check_ok(&t);
	/* Every count is found meanwhile, in either table. */
	for (n = 0; n <= 2048; n++)
		assert_int_equal(uid_holds_count(&t, BLOCK(n), 1), 1);
	/*
	 * A sub of an entry in the old table, past what the sub's own step
	 * moves, takes it from there; it comes back into the new one.
	 */
	for (i = 0; i <= t.old_mask; i++)
		if (t.old[i].block && ((t.old_next - i) & t.old_mask) >= 16 &&
		    ((t.old_next - i) & t.old_mask) < t.old_left)
			break;
	assert_true(i <= t.old_mask);
	e = t.old[i];
	left = t.old_count;
	assert_int_equal(uid_holds_sub(&t, e.block, e.uid), 0);
	/* Its slot may hold the next entry of its run now, never it. */
	assert_false(t.old[i].block == e.block && t.old[i].uid == e.uid);
	assert_true(left - t.old_count <= 16 + 1);
	assert_int_equal(uid_holds_count(&t, e.block, e.uid), 0);
	assert_int_equal(t.count, 2048);
	check_ok(&t);
	assert_int_equal(uid_holds_reserve(&t, 1), 0);
	assert_int_equal(uid_holds_add(&t, e.block, e.uid), 1);
	check_ok(&t);
	for (u = 2; t.old; u++) {
		left = t.old_count;
		assert_int_equal(uid_holds_reserve(&t, 1), 0);
		assert_int_equal(uid_holds_add(&t, BLOCK(u % BLOCKS), u), 1);
		if (t.old)
			assert_true(left - t.old_count <= 16);
		check_ok(&t);
		assert_int_equal(uid_holds_sub(&t, BLOCK(u % BLOCKS), u), 0);
		check_ok(&t);
	}
	assert_int_equal(t.count, 2049);
	for (n = 0; n <= 2048; n++)
		assert_int_equal(uid_holds_count(&t, BLOCK(n), 1), 1);
	assert_int_equal(t.hurried, 0);
	uid_holds_free(&t);
}

static void
no_table_without_entries(void **state)
{
	struct uid_holds t;
	char problem[256];

	(void)state;
	uid_holds_init(&t);
	check_ok(&t);
	assert_int_equal(uid_holds_reserve(&t, 1), 0);
	assert_non_null(t.slot);
	assert_int_equal(uid_holds_check(&t, problem, sizeof(problem)),
			 -EFAULT);
	if (!strstr(problem, "uid holds: a table of 16 slots with no entry"))
		fail_msg("the problem: %s", problem);
	assert_int_equal(uid_holds_add(&t, BLOCK(0), 1), 1);
	check_ok(&t);
	assert_int_equal(uid_holds_sub(&t, BLOCK(0), 1), 0);
	assert_null(t.slot);
	assert_int_equal(t.bytes, 0);
	check_ok(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agrees_with_the_model),
		cmocka_unit_test(grows_in_steps),
		cmocka_unit_test(no_table_without_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
