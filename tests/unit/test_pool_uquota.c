/*
 * test_pool_uquota.c - a pool's user quotas of uids as plain data
 * (daemon/pool_uquota.c): the list built, modified and searched.
 *
 *   built_sorted_and_found  entries given out of order come back sorted;
 *       each uid's bound is its entry's (0 for an entry of none), a uid
 *       without one gets the default, with own said; every uid of a full
 *       list is found, and none between them.
 *   build_refused  33 entries (-ENOSPC), a uid twice, uid 4294967295
 *       (-EINVAL), each with words, the list unchanged.
 *   modify_removes_then_sets  removal of a uid the list has not is no
 *       error; a set replaces its uid's entry or adds one; the count is
 *       the result's: a full list takes a removal and an addition in one
 *       change, not an addition alone; a uid twice in the change, in
 *       either part or across both, is -EINVAL, and so is a removal of
 *       uid 4294967295; the list is unchanged
 *       after each refusal.
 *   text_and_check  the words of a list ("7:none,1001:4096", "none"),
 *       and uquota_check's faults: out of order, twice, nobody's, 33.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pool_uquota.h"

static void
built_sorted_and_found(void **state)
{
	const struct uquota_entry given[] = {
		{1001, 1 << 20}, {7, 0}, {500, 4096},
	};
	struct uquota_entry full[UQUOTA_MAX];
	struct uquota q;
	char why[160];
	bool own;
	unsigned i;

	(void)state;
	assert_int_equal(uquota_build(&q, given, 3, why, sizeof(why)), 0);
	assert_int_equal(q.n, 3);
	assert_int_equal(q.e[0].uid, 7);
	assert_int_equal(q.e[1].uid, 500);
	assert_int_equal(q.e[2].uid, 1001);
	assert_int_equal(uquota_bound(&q, 99, 7, &own), 0);
	assert_true(own);
	assert_int_equal(uquota_bound(&q, 99, 500, &own), 4096);
	assert_true(own);
	assert_int_equal(uquota_bound(&q, 99, 1001, NULL), 1 << 20);
	assert_int_equal(uquota_bound(&q, 99, 8, &own), 99);
	assert_false(own);

	for (i = 0; i < UQUOTA_MAX; i++) {
		full[i].uid = 10 * (UQUOTA_MAX - i);
		full[i].bytes = i + 1;
	}
	assert_int_equal(uquota_build(&q, full, UQUOTA_MAX, why, sizeof(why)),
			 0);
	for (i = 0; i < UQUOTA_MAX; i++) {
		assert_non_null(uquota_find(&q, 10 * (UQUOTA_MAX - i)));
		assert_int_equal(uquota_find(&q, 10 * (UQUOTA_MAX - i))->bytes,
				 i + 1);
		assert_null(uquota_find(&q, 10 * i + 5));
	}
	assert_null(uquota_find(&q, 0));
	assert_null(uquota_find(&q, UINT32_MAX));
}

static void
build_refused(void **state)
{
	struct uquota_entry many[UQUOTA_MAX + 1];
	const struct uquota_entry twice[] = {{5, 1}, {6, 1}, {5, 2}};
	const struct uquota_entry nobody[] = {{UINT32_MAX, 1}};
	const struct uquota_entry one[] = {{9, 9}};
	struct uquota q;
	char why[160];
	unsigned i;

	(void)state;
	assert_int_equal(uquota_build(&q, one, 1, why, sizeof(why)), 0);
	for (i = 0; i <= UQUOTA_MAX; i++)
		many[i] = (struct uquota_entry){i, 1};
	assert_int_equal(uquota_build(&q, many, UQUOTA_MAX + 1, why,
				      sizeof(why)), -ENOSPC);
	assert_string_equal(why, "a pool holds at most 32 user quota entries, "
			    "not 33");
	assert_int_equal(uquota_build(&q, twice, 3, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "uid 5's user quota entry is given twice");
	assert_int_equal(uquota_build(&q, nobody, 1, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "uid 4294967295 is nobody's: it has no user "
			    "quota entry");
	assert_int_equal(q.n, 1);
	assert_int_equal(q.e[0].uid, 9);
}

static void
modify_removes_then_sets(void **state)
{
	struct uquota_entry full[UQUOTA_MAX];
	const struct uquota_entry set[] = {{3, 30}, {40, 400}};
	const struct uquota_entry add[] = {{1000, 1}};
	const struct uquota_entry twice[] = {{3, 1}, {3, 2}};
	const uint32_t rm[] = {2, 77};
	const uint32_t rm_twice[] = {2, 2};
	const uint32_t rm_one[] = {1};
	struct uquota cur, out, was;
	char why[160];
	unsigned i;

	(void)state;
	for (i = 0; i < 4; i++)
		full[i] = (struct uquota_entry){i + 1, 10 * (i + 1)};
	assert_int_equal(uquota_build(&cur, full, 4, why, sizeof(why)), 0);
	assert_int_equal(uquota_modify(&out, &cur, set, 2, rm, 2, why,
				       sizeof(why)), 0);
	/* 1, 3 (set to 30), 4 and 40; 2 gone, 77 no error. */
	assert_int_equal(out.n, 4);
	assert_int_equal(out.e[0].uid, 1);
	assert_int_equal(out.e[1].uid, 3);
	assert_int_equal(out.e[1].bytes, 30);
	assert_int_equal(out.e[2].uid, 4);
	assert_int_equal(out.e[3].uid, 40);

	was = out;
	assert_int_equal(uquota_modify(&out, &was, twice, 2, NULL, 0, why,
				       sizeof(why)), -EINVAL);
	assert_string_equal(why, "uid 3's user quota entry is given twice in "
			    "one change");
	assert_int_equal(uquota_modify(&out, &was, NULL, 0, rm_twice, 2, why,
				       sizeof(why)), -EINVAL);
	assert_string_equal(why, "uid 2 is removed twice in one change");
	assert_int_equal(uquota_modify(&out, &was, NULL, 0,
				       (const uint32_t[]){UINT32_MAX}, 1, why,
				       sizeof(why)), -EINVAL);
	assert_string_equal(why, "uid 4294967295 is nobody's: it has no user "
			    "quota entry to remove");
	assert_int_equal(uquota_modify(&out, &was, set, 1,
				       (const uint32_t[]){3}, 1, why,
				       sizeof(why)), -EINVAL);
	assert_string_equal(why, "uid 3's user quota entry is both removed "
			    "and set in one change (a set alone replaces it)");
	assert_true(uquota_equal(&out, &was));

	for (i = 0; i < UQUOTA_MAX; i++)
		full[i] = (struct uquota_entry){i + 1, 1};
	assert_int_equal(uquota_build(&cur, full, UQUOTA_MAX, why,
				      sizeof(why)), 0);
	assert_int_equal(uquota_modify(&out, &cur, add, 1, NULL, 0, why,
				       sizeof(why)), -ENOSPC);
	assert_string_equal(why, "a pool holds at most 32 user quota entries: "
			    "this would make 33 (remove some in the same "
			    "change)");
	assert_int_equal(uquota_modify(&out, &cur, add, 1, rm_one, 1, why,
				       sizeof(why)), 0);
	assert_int_equal(out.n, UQUOTA_MAX);
	assert_int_equal(out.e[0].uid, 2);
	assert_int_equal(out.e[UQUOTA_MAX - 1].uid, 1000);
}

static void
text_and_check(void **state)
{
	const struct uquota_entry given[] = {{1001, 4096}, {7, 0}};
	struct uquota q;
	char buf[UQUOTA_TEXT_MAX], why[160];

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_string_equal(uquota_text(&q, buf, sizeof(buf)), "none");
	assert_int_equal(uquota_check(&q, why, sizeof(why)), 0);
	assert_int_equal(uquota_build(&q, given, 2, why, sizeof(why)), 0);
	assert_string_equal(uquota_text(&q, buf, sizeof(buf)),
			    "7:none,1001:4096");
	assert_int_equal(uquota_check(&q, why, sizeof(why)), 0);

	q.e[1].uid = 7;
	assert_int_equal(uquota_check(&q, why, sizeof(why)), -EFAULT);
	assert_string_equal(why, "user quota entries 0 and 1 are out of order "
			    "or the same");
	q.e[1].uid = UINT32_MAX;
	assert_int_equal(uquota_check(&q, why, sizeof(why)), -EFAULT);
	assert_string_equal(why, "user quota entry 1 is of uid 4294967295, "
			    "nobody's");
	q.n = UQUOTA_MAX + 1;
	assert_int_equal(uquota_check(&q, why, sizeof(why)), -EFAULT);
	assert_string_equal(why, "user quota list of 33 entries, more than 32");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(built_sorted_and_found),
		cmocka_unit_test(build_refused),
		cmocka_unit_test(modify_removes_then_sets),
		cmocka_unit_test(text_and_check),
	};

	return cmocka_run_group_tests_name("pool_uquota", tests, NULL, NULL);
}
