/*
 * test_pool_check.c - what a pool's Check (dpool_check) catches, on the
 * daemon's own session and pool code: a real session over a socketpair,
 * a real pool.  A fault no request can make is planted in the pool's
 * records directly, the Check must name it, and the fault is taken out
 * again before the pool goes.
 *
 *   unnamed_evictable_block   a block marked evictable that no name
 *       holds (its first hold or last release would find no name on the
 *       eviction's books): -EFAULT, the block named in the problem; the
 *       mark taken off, the Check passes.
 *   kept_name_on_evictable_block  the mark on a block whose name is
 *       kept: -EFAULT too.
 *   counts_of_one_in_the_singular  books one off where the count found
 *       is 1 (one name, one evictable name, one holder): the problem
 *       says "1 name", "1 evictable name", "of 1 holder", and the count
 *       of 2 beside it is still plural; the books put back, it passes.
 *   uid_books_checked  an evictable name's uid's list of unheld names:
 *       its bytes one off, or its order not the pool's, fail the Check
 *       with the uid named; the uid's own eviction (dpool_evict_user)
 *       counts only its own bytes, takes its oldest name first and no
 *       more than asked, none of another uid's, and its last name with
 *       its charge, the Check passing after each.
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
#include "pool.h"
#include "pool_names.h"
#include "session.h"

/* The Check passes, failing the test with its problem if not. */
static void
check_ok(struct dpool *p)
{
	char problem[256];

	if (dpool_check(p, problem, sizeof(problem)) != 0)
		fail_msg("%s", problem);
}

/*
 * The Check with block b marked evictable: it fails, and its problem has
 * want in it.  The mark is taken off before anything is asserted: a
 * failed test's teardown drops b's hold, which must find the books whole.
 */
static void
check_fails_marked(struct dpool *p, struct block *b, const char *want)
{
	char problem[256];
	int rc;

	b->evictable = 1;
	rc = dpool_check(p, problem, sizeof(problem));
	b->evictable = 0;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
}

/*
 * The Check with *count one more than it should be: it fails, and its
 * problem has want in it.  The count is put back before anything is
 * asserted, as in check_fails_marked.
 */
static void
check_fails_counted(struct dpool *p, uint32_t *count, const char *want)
{
	char problem[256];
	int rc;

	(*count)++;
	rc = dpool_check(p, problem, sizeof(problem));
	(*count)--;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
}

static void
unnamed_evictable_block(void **state)
{
	struct daemon_fixture *fx = *state;
	struct block *a, *b;
	char where[32];

	/* Two blocks, so that the one marked is not at 0 ("0" is anywhere). */
	assert_int_equal(dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &a), 0);
	assert_int_equal(dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &b), 0);
	assert_int_not_equal(b->off, 0);
	check_ok(fx->p);
	snprintf(where, sizeof(where), "0x%llx", (unsigned long long)b->off);
	check_fails_marked(fx->p, b, where);
	check_fails_marked(fx->p, b, "evictable");
	check_ok(fx->p);
	assert_int_equal(dpool_free(fx->p, fx->h, b->off), 0);
	assert_int_equal(dpool_free(fx->p, fx->h, a->off), 0);
}

static void
kept_name_on_evictable_block(void **state)
{
	struct daemon_fixture *fx = *state;
	struct block *b;
	uint64_t off;

	assert_int_equal(dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &b), 0);
	off = b->off;
	assert_int_equal(dpool_publish(fx->p, fx->h, off, "kept", 4, false,
				       false), 0);
	check_ok(fx->p);
	check_fails_marked(fx->p, b, "kept");
	check_ok(fx->p);
	assert_int_equal(dpool_free(fx->p, fx->h, off), 0);
	assert_int_equal(dpool_unpublish(fx->p, "kept", 4), 0);
	check_ok(fx->p);
}

static void
counts_of_one_in_the_singular(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	char problem[256], want[64];
	struct block *b;
	uint64_t off;
	int rc;

	assert_int_equal(dpool_alloc(p, fx->h, 4096, 0, false, 0, &b), 0);
	off = b->off;
	assert_int_equal(dpool_publish(p, fx->h, off, "one", 3, false, true),
			 0);
	check_ok(p);
	/* Names are counted after the eviction's books are checked. */
	check_fails_counted(p, &p->evict.count, "pool p: 1 evictable name, "
			    "1 in the tree");
	check_fails_counted(p, &p->names.count, "pool p: 1 name, 1 named "
			    "block, the books say 2 names");

	/* Persistent (named), the block is shared, if by one holder. */
	assert_int_equal(b->nrefs, 1);
	assert_int_equal(b->shared, 1);
	b->shared = 0;
	rc = dpool_check(p, problem, sizeof(problem));
	b->shared = 1;
	assert_int_equal(rc, -EFAULT);
	snprintf(want, sizeof(want), "block 0x%llx of 1 holder, persistent: "
		 "its share bit is clear", (unsigned long long)off);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
	check_ok(p);

	assert_int_equal(dpool_free(p, fx->h, off), 0);
	assert_int_equal(dpool_unpublish(p, "one", 3), 0);
	check_ok(p);
}

/*
 * Two evictable names of the fixture's uid, nobody holding their blocks:
 * on the uid's list too, oldest first.  Faults planted in it are named
 * by the Check; the uid's eviction takes its oldest, then the rest, and
 * the books stay whole as its charge goes with its last block.
 */
static void
uid_books_checked(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uid_t uid = fx->s->uid, other = uid + 1;
	struct evict_link *l1, *l2;
	struct persist_charge *c;
	struct block *a, *b;
	char problem[256], want[64];
	int rc;

	assert_int_equal(dpool_alloc(p, fx->h, 4096, 0, false, 0, &a), 0);
	assert_int_equal(dpool_alloc(p, fx->h, 8192, 0, false, 0, &b), 0);
	assert_int_equal(dpool_publish(p, fx->h, a->off, "one", 3, false,
				       true), 0);
	assert_int_equal(dpool_publish(p, fx->h, b->off, "two", 3, false,
				       true), 0);
	assert_int_equal(dpool_free(p, fx->h, a->off), 0);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	check_ok(p);
	assert_non_null(c = dpool_charge(p, uid));
	assert_int_equal(c->evict.unheld, 2);
	assert_int_equal(c->evict.unheld_bytes, a->size + b->size);
	l1 = c->evict.oldest;
	l2 = c->evict.newest;
	assert_ptr_equal(l1->name->block, a);
	assert_ptr_equal(l2->name->block, b);

	/* Its bytes one off. */
	c->evict.unheld_bytes++;
	rc = dpool_check(p, problem, sizeof(problem));
	c->evict.unheld_bytes--;
	assert_int_equal(rc, -EFAULT);
	snprintf(want, sizeof(want), "uid %u has 2 unheld evictable names",
		 (unsigned)uid);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);

	/* Its order other than the pool's. */
	c->evict.oldest = l2;
	c->evict.newest = l1;
	l2->uid_prev = NULL;
	l2->uid_next = l1;
	l1->uid_prev = l2;
	l1->uid_next = NULL;
	rc = dpool_check(p, problem, sizeof(problem));
	c->evict.oldest = l1;
	c->evict.newest = l2;
	l1->uid_prev = NULL;
	l1->uid_next = l2;
	l2->uid_prev = l1;
	l2->uid_next = NULL;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, "not next on its uid's list"))
		fail_msg("no order fault in: %s", problem);
	check_ok(p);

	/* Only the uid's own bytes count, and only while they suffice. */
	assert_true(dpool_evict_user_may_fit(p, uid, a->size + b->size));
	assert_false(dpool_evict_user_may_fit(p, uid, a->size + b->size + 1));
	assert_false(dpool_evict_user_may_fit(p, other, 1));
	assert_int_equal(dpool_evict_user(p, other, 1), 0);
	/* Its oldest first, no more than asked. */
	assert_int_equal(dpool_evict_user(p, uid, 1), 1);
	assert_null(block_names_find(&p->names, "one", 3));
	assert_non_null(block_names_find(&p->names, "two", 3));
	assert_int_equal(p->evict.evictions, 1);
	check_ok(p);
	/* The last: its charge goes with it, looked up again each name. */
	assert_int_equal(dpool_evict_user(p, uid, UINT64_MAX), 1);
	assert_null(dpool_charge(p, uid));
	assert_int_equal(p->evict.count, 0);
	check_ok(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unnamed_evictable_block,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(kept_name_on_evictable_block,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(counts_of_one_in_the_singular,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(uid_books_checked,
			daemon_fixture_setup_open, daemon_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
