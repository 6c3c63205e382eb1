/*
 * test_pool_acl.c - a pool's access control list alone (daemon/pool_acl.c):
 * the rules of pool_acl.h, the lists' building and changing, their words.
 *
 *   grants_follow_the_rules   a table of pools and callers, each case one
 *       rule: the owner's bits win over a user entry naming the owner; a
 *       user entry wins over the group class, and one of no rights
 *       refuses what the other bits would grant; in the group class the
 *       pool's group or a group entry (primary or supplementary) grants
 *       when one of them grants all that is asked, and a caller in any of
 *       them that none grants is refused, whatever the other bits say;
 *       others get the other bits; no entries: the plain mode.  Read,
 *       write and both asked.
 *   build_sorts_and_refuses   users then groups, each by id; a kind and id
 *       twice, a bad kind, id 4294967295, rights 8 or 1: -EINVAL; 33
 *       entries: -ENOSPC (32 fit); the list given back untouched then.
 *   modify_sets_adds_removes  an entry set in place, one added in order,
 *       one removed by kind and id whatever its rights, one absent removed
 *       (no error), one removed and added at once (added), a result of 33
 *       or 33 to add (-ENOSPC) and one of 32 that replaces or removes
 *       first (fine), twice in what is added and bad entries (-EINVAL);
 *       untouched then.
 *   equal_compares_entries    kinds, ids, rights and lengths.
 *   text_says_the_list        "none", the sorted list in words, the
 *       longest list within ACL_TEXT_MAX, and every length of buffer
 *       from 0 up cut without a byte past it (a heap buffer of exactly
 *       that size, for ASan to see).
 *   words_round_trip          each kind, rights and edge id packs into the
 *       documented bits and back; a word with bits above 48, a kind of 0
 *       or 3, rights 8 or 1, id 4294967295: refused, the entry untouched.
 *   check_finds_faults        a good list passes; one too long, out of
 *       order, twice the same, with a bad entry: -EFAULT, saying which.
 *   decider_names_the_rule    the owner, a user entry, the group class
 *       (the pool's group and each group entry the caller is in), the
 *       other bits and unknown groups, each in its words; a caller in 21
 *       refusing groups, at every length of buffer, gets whole pieces and
 *       a count of those left out, never an entry cut into another
 *       ("group:10" of group:1000000000:-), and no byte past the buffer.
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

#include "pool_acl.h"

#define U(n, r)		{.kind = ACL_USER, .id = (n), .rights = (r)}
#define G(n, r)		{.kind = ACL_GROUP, .id = (n), .rights = (r)}
#define R		ACL_READ
#define W		ACL_WRITE
#define RW		(ACL_READ | ACL_WRITE)

#define OWNER		1000
#define GROUP		100u
#define CALLER		2000

/* A list built from entries, or the test fails. */
static struct acl
acl_of(const struct acl_entry *e, size_t n)
{
	struct acl a;
	char why[160] = "";
	int rc = acl_build(&a, e, n, why, sizeof(why));

	if (rc != 0)
		fail_msg("acl_build of %zu entries: %d (%s)", n, rc, why);
	return a;
}

/* ---- the rules --------------------------------------------------------- */

struct grant_case {
	const char *what;
	struct acl_entry e[6];
	size_t n;
	uint32_t mode;		/* owner OWNER, group GROUP */
	uid_t uid;
	gid_t gid;
	gid_t groups[4];
	int ngroups;
	unsigned want;
	bool granted;
	bool unknown;		/* its supplementary groups unknown */
};

static const struct grant_case grant_cases[] = {
	/* 1. The owner: the owner bits, whatever an entry naming it says. */
	{"owner's r wins over user:owner:rw (w)", {U(OWNER, RW)}, 1, 0466,
	 OWNER, GROUP, {0}, 0, W, false, false},
	{"owner's r wins over user:owner:rw (r)", {U(OWNER, RW)}, 1, 0466,
	 OWNER, GROUP, {0}, 0, R, true, false},
	{"owner's rw wins over user:owner:-", {U(OWNER, 0)}, 1, 0600,
	 OWNER, 5, {0}, 0, RW, true, false},
	{"owner's none wins over the group's and other's rw", {G(GROUP, RW)},
	 1, 0066, OWNER, GROUP, {0}, 0, R, false, false},
	/* 2. A user entry naming the caller: that entry. */
	{"user:r wins over the pool's group rw (w)", {U(CALLER, R)}, 1, 0660,
	 CALLER, GROUP, {0}, 0, W, false, false},
	{"user:r wins over the pool's group rw (r)", {U(CALLER, R)}, 1, 0660,
	 CALLER, GROUP, {0}, 0, R, true, false},
	{"user:rw wins over a group entry that refuses",
	 {U(CALLER, RW), G(300, 0)}, 2, 0600, CALLER, 300, {0}, 0, RW, true, false},
	{"user:- refuses what other would grant", {U(CALLER, 0)}, 1, 0666,
	 CALLER, 5, {0}, 0, R, false, false},
	{"user:- refuses what the pool's group would grant", {U(CALLER, 0)},
	 1, 0660, CALLER, GROUP, {0}, 0, R, false, false},
	{"user:w grants write", {U(CALLER, W)}, 1, 0600, CALLER, 5, {0}, 0,
	 W, true, false},
	{"user:w is no read", {U(CALLER, W)}, 1, 0644, CALLER, 5, {0}, 0, R,
	 false, false},
	{"user:w is not both", {U(CALLER, W)}, 1, 0600, CALLER, 5, {0}, 0,
	 RW, false, false},
	{"user:rw grants both", {U(CALLER, RW)}, 1, 0600, CALLER, 5, {0}, 0,
	 RW, true, false},
	{"another uid's entry is not the caller's", {U(CALLER + 1, 0)}, 1,
	 0604, CALLER, 5, {0}, 0, R, true, false},
	/* 3. The group class. */
	{"the pool's group grants (primary)", {G(300, 0)}, 1, 0640, CALLER,
	 GROUP, {0}, 0, R, true, false},
	{"the pool's group grants (supplementary)", {{0}}, 0, 0640, CALLER, 5,
	 {7, GROUP}, 2, R, true, false},
	{"a group entry grants (primary)", {G(300, RW)}, 1, 0600, CALLER,
	 300, {0}, 0, W, true, false},
	{"a group entry grants (supplementary, last)", {G(300, RW)}, 1, 0600,
	 CALLER, 5, {7, 8, 9, 300}, 4, RW, true, false},
	{"a group entry grants where the pool's group does not",
	 {G(300, R)}, 1, 0600, CALLER, GROUP, {300}, 1, R, true, false},
	{"the pool's group grants where a group entry does not",
	 {G(300, 0)}, 1, 0640, CALLER, 300, {GROUP}, 1, R, true, false},
	{"the pool's group matched, none grants, other would", {{0}}, 0, 0606,
	 CALLER, GROUP, {0}, 0, R, false, false},
	{"a group entry matched, none grants, other would", {G(300, 0)}, 1,
	 0606, CALLER, 5, {300}, 1, R, false, false},
	{"group entries matched, none grants write, other would",
	 {G(300, R), G(301, R)}, 2, 0646, CALLER, GROUP, {300, 301}, 2, W,
	 false, false},
	{"the same callers may read", {G(300, R), G(301, R)}, 2, 0646,
	 CALLER, GROUP, {300, 301}, 2, R, true, false},
	{"r from one and w from another is not both",
	 {G(300, R), G(301, W)}, 2, 0606, CALLER, 300, {301}, 1, RW, false, false},
	{"one group of rw grants both among others",
	 {G(300, R), G(301, W), G(302, RW)}, 3, 0600, CALLER, 300,
	 {301, 302}, 2, RW, true, false},
	{"group:w grants write, not read", {G(300, W)}, 1, 0600, CALLER, 300,
	 {0}, 0, W, true, false},
	{"group:w is no read", {G(300, W)}, 1, 0604, CALLER, 300, {0}, 0, R,
	 false, false},
	/* 4. Everyone else. */
	{"a group entry of another group: other's bits", {G(300, 0)}, 1,
	 0604, CALLER, 5, {6}, 1, R, true, false},
	{"other's r is no write", {G(300, RW)}, 1, 0604, CALLER, 5, {0}, 0,
	 W, false, false},
	{"no entries: other's bits", {{0}}, 0, 0606, CALLER, 5, {0}, 0, RW,
	 true, false},
	{"no entries: other's none", {{0}}, 0, 0660, CALLER, 5, {0}, 0, R,
	 false, false},
	{"no entries: the owner's bits", {{0}}, 0, 0200, OWNER, 5, {0}, 0, W,
	 true, false},
	{"no entries: the group's bits", {{0}}, 0, 0620, CALLER, GROUP, {0}, 0,
	 R, false, false},
	/* Supplementary groups unknown (SO_PEERGROUPS failed): fail closed. */
	{"unknown groups: a refusing group entry it may be in",
	 {G(300, 0)}, 1, 0604, CALLER, 5, {0}, 0, R, false, true},
	{"unknown groups: the pool's group granting less than other",
	 {{0}}, 0, 0604, CALLER, 5, {0}, 0, R, false, true},
	{"unknown groups: the pool's group granting as much as other",
	 {{0}}, 0, 0644, CALLER, 5, {0}, 0, R, true, true},
	{"unknown groups: every group grants, other too",
	 {G(300, R)}, 1, 0644, CALLER, 5, {0}, 0, R, true, true},
	{"unknown groups: other refuses all the same",
	 {G(300, RW)}, 1, 0660, CALLER, 5, {0}, 0, R, false, true},
	{"unknown groups: its primary group's entry grants",
	 {G(300, R), G(301, 0)}, 2, 0600, CALLER, 300, {0}, 0, R, true, true},
	{"unknown groups: a user entry comes first",
	 {U(CALLER, R), G(300, 0)}, 2, 0600, CALLER, 5, {0}, 0, R, true,
	 true},
	{"unknown groups: the owner's bits come first",
	 {G(300, 0)}, 1, 0400, OWNER, 5, {0}, 0, R, true, true},
};

static void
grants_follow_the_rules(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(grant_cases) / sizeof(grant_cases[0]); i++) {
		const struct grant_case *t = &grant_cases[i];
		struct acl a = acl_of(t->e, t->n);
		struct acl_caller who = {
			.uid = t->uid, .gid = t->gid, .groups = t->groups,
			.ngroups = t->ngroups, .groups_unknown = t->unknown,
		};
		bool got = acl_grants(&a, OWNER, GROUP, t->mode, &who,
				      t->want);

		if (got != t->granted) {
			print_error("case %zu, %s: %s, not %s\n", i, t->what,
				    got ? "granted" : "refused",
				    t->granted ? "granted" : "refused");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* ---- building ---------------------------------------------------------- */

/* A list filled with a pattern no call makes, to see it untouched. */
static void
acl_scribble(struct acl *a)
{
	memset(a, 0xa5, sizeof(*a));
}

static void
expect_untouched(const struct acl *a)
{
	struct acl was;

	acl_scribble(&was);
	assert_memory_equal(a, &was, sizeof(was));
}

static void
expect_entry(const struct acl *a, uint32_t i, unsigned kind, uint32_t id,
	     unsigned rights)
{
	assert_true(i < a->n);
	assert_int_equal(a->e[i].kind, kind);
	assert_int_equal(a->e[i].id, id);
	assert_int_equal(a->e[i].rights, rights);
}

/* acl_build of n entries must fail with want, saying words, out intact. */
static void
expect_build_refused(const struct acl_entry *e, size_t n, int want,
		     const char *words)
{
	struct acl out;
	char why[160] = "";

	acl_scribble(&out);
	assert_int_equal(acl_build(&out, e, n, why, sizeof(why)), want);
	if (!strstr(why, words))
		fail_msg("acl_build said \"%s\", nothing of \"%s\"", why,
			 words);
	expect_untouched(&out);
}

static void
build_sorts_and_refuses(void **state)
{
	const struct acl_entry mixed[] = {
		G(5, R), U(9, RW), U(1, 0), G(2, W), U(4294967294u, R),
		G(0, RW), U(5, W),
	};
	struct acl_entry many[ACL_MAX + 1];
	struct acl a;
	size_t i;

	(void)state;
	a = acl_of(mixed, 7);
	assert_int_equal(a.n, 7);
	expect_entry(&a, 0, ACL_USER, 1, 0);
	expect_entry(&a, 1, ACL_USER, 5, W);
	expect_entry(&a, 2, ACL_USER, 9, RW);
	expect_entry(&a, 3, ACL_USER, 4294967294u, R);
	expect_entry(&a, 4, ACL_GROUP, 0, RW);
	expect_entry(&a, 5, ACL_GROUP, 2, W);
	expect_entry(&a, 6, ACL_GROUP, 5, R);

	a = acl_of(NULL, 0);
	assert_int_equal(a.n, 0);
	/* Without room for words it still decides. */
	assert_int_equal(acl_build(&a, mixed, 1, NULL, 0), 0);

	{
		const struct acl_entry twice[] = {U(3, R), G(3, R), U(3, W)};
		const struct acl_entry gtwice[] = {G(8, 0), U(8, 0), G(8, 0)};
		const struct acl_entry kind0[] = {U(1, R), {.kind = 0, .id = 2}};
		const struct acl_entry kind3[] = {{.kind = 3, .id = 2}};
		const struct acl_entry nobody[] = {G(4294967295u, R)};
		const struct acl_entry rights8[] = {U(6, 8)};
		const struct acl_entry rights1[] = {G(6, 1)};

		expect_build_refused(twice, 3, -EINVAL, "user 3 is given twice");
		expect_build_refused(gtwice, 3, -EINVAL,
				     "group 8 is given twice");
		expect_build_refused(kind0, 2, -EINVAL, "kind 0");
		expect_build_refused(kind3, 1, -EINVAL, "kind 3");
		expect_build_refused(nobody, 1, -EINVAL,
				     "group 4294967295 is nobody's");
		expect_build_refused(rights8, 1, -EINVAL, "rights 0x8");
		expect_build_refused(rights1, 1, -EINVAL, "rights 0x1");
	}

	/* 32 fit, in reverse; 33 do not. */
	for (i = 0; i <= ACL_MAX; i++)
		many[i] = (struct acl_entry)G((uint32_t)(ACL_MAX - i), R);
	a = acl_of(many, ACL_MAX);
	assert_int_equal(a.n, ACL_MAX);
	for (i = 0; i < ACL_MAX; i++)
		expect_entry(&a, (uint32_t)i, ACL_GROUP, (uint32_t)i + 1, R);
	expect_build_refused(many, ACL_MAX + 1, -ENOSPC, "at most 32");
}

/* ---- modifying --------------------------------------------------------- */

static void
expect_modify_refused(const struct acl *cur, const struct acl_entry *add,
		      size_t nadd, const struct acl_entry *rm, size_t nrm,
		      int want, const char *words)
{
	struct acl out;
	char why[160] = "";

	acl_scribble(&out);
	assert_int_equal(acl_modify(&out, cur, add, nadd, rm, nrm, why,
				    sizeof(why)), want);
	if (!strstr(why, words))
		fail_msg("acl_modify said \"%s\", nothing of \"%s\"", why,
			 words);
	expect_untouched(&out);
}

static struct acl
modified(const struct acl *cur, const struct acl_entry *add, size_t nadd,
	 const struct acl_entry *rm, size_t nrm)
{
	struct acl out;
	char why[160] = "";
	int rc = acl_modify(&out, cur, add, nadd, rm, nrm, why, sizeof(why));

	if (rc != 0)
		fail_msg("acl_modify: %d (%s)", rc, why);
	assert_int_equal(acl_check(&out, why, sizeof(why)), 0);
	return out;
}

static void
modify_sets_adds_removes(void **state)
{
	const struct acl_entry start[] = {U(5, R), U(9, RW), G(20, R)};
	struct acl cur = acl_of(start, 3), out, full;
	struct acl_entry many[ACL_MAX + 1];
	size_t i;

	(void)state;
	{
		const struct acl_entry set[] = {U(5, RW)};

		out = modified(&cur, set, 1, NULL, 0);
		assert_int_equal(out.n, 3);
		expect_entry(&out, 0, ACL_USER, 5, RW);
		expect_entry(&out, 1, ACL_USER, 9, RW);
		expect_entry(&out, 2, ACL_GROUP, 20, R);
	}
	{
		const struct acl_entry add[] = {G(7, W), U(6, 0)};

		out = modified(&cur, add, 2, NULL, 0);
		assert_int_equal(out.n, 5);
		expect_entry(&out, 0, ACL_USER, 5, R);
		expect_entry(&out, 1, ACL_USER, 6, 0);
		expect_entry(&out, 2, ACL_USER, 9, RW);
		expect_entry(&out, 3, ACL_GROUP, 7, W);
		expect_entry(&out, 4, ACL_GROUP, 20, R);
	}
	{
		/* By kind and id: the rights given to remove do not matter,
		 * and user 20 is not group 20. */
		const struct acl_entry rm[] = {U(9, 0), U(20, RW), G(99, R)};

		out = modified(&cur, NULL, 0, rm, 3);
		assert_int_equal(out.n, 2);
		expect_entry(&out, 0, ACL_USER, 5, R);
		expect_entry(&out, 1, ACL_GROUP, 20, R);
	}
	{
		const struct acl_entry both[] = {G(20, W)};

		out = modified(&cur, both, 1, both, 1);
		assert_false(acl_equal(&out, &cur));
		assert_int_equal(out.n, 3);
		expect_entry(&out, 2, ACL_GROUP, 20, W);
	}
	/* Nothing to do: the same list. */
	out = modified(&cur, NULL, 0, NULL, 0);
	assert_true(acl_equal(&out, &cur));

	/* A full list: one more is -ENOSPC; set in place or swapped is not. */
	for (i = 0; i < ACL_MAX; i++)
		many[i] = (struct acl_entry)U((uint32_t)i + 100, R);
	full = acl_of(many, ACL_MAX);
	{
		const struct acl_entry more[] = {G(1, R)};
		const struct acl_entry same[] = {U(100, RW)};
		const struct acl_entry gone[] = {U(131, 0)};

		expect_modify_refused(&full, more, 1, NULL, 0, -ENOSPC,
				      "this would make 33");
		out = modified(&full, same, 1, NULL, 0);
		assert_int_equal(out.n, ACL_MAX);
		expect_entry(&out, 0, ACL_USER, 100, RW);
		out = modified(&full, more, 1, gone, 1);
		assert_int_equal(out.n, ACL_MAX);
		expect_entry(&out, ACL_MAX - 1, ACL_GROUP, 1, R);
		expect_entry(&out, ACL_MAX - 2, ACL_USER, 130, R);
	}
	{
		const struct acl_entry twice[] = {G(1, R), U(2, R), G(1, W)};
		const struct acl_entry bad_add[] = {U(4294967295u, R)};
		const struct acl_entry bad_rights[] = {U(2, 0x10)};
		const struct acl_entry bad_rm[] = {{.kind = 7, .id = 1}};

		expect_modify_refused(&cur, twice, 3, NULL, 0, -EINVAL,
				      "group 1 is given twice");
		expect_modify_refused(&cur, bad_add, 1, NULL, 0, -EINVAL,
				      "nobody's");
		expect_modify_refused(&cur, bad_rights, 1, NULL, 0, -EINVAL,
				      "rights 0x10");
		expect_modify_refused(&cur, NULL, 0, bad_rm, 1, -EINVAL,
				      "kind 7");
		/* More to add than a list holds: refused before looking. */
		many[ACL_MAX] = (struct acl_entry)G(1, R);
		expect_modify_refused(&cur, many, ACL_MAX + 1, NULL, 0,
				      -ENOSPC, "not 33");
	}
}

/* ---- comparing, words -------------------------------------------------- */

static void
equal_compares_entries(void **state)
{
	const struct acl_entry x[] = {U(1, R), G(2, RW)};
	const struct acl_entry y[] = {G(2, RW), U(1, R)};
	const struct acl_entry r[] = {U(1, R), G(2, R)};
	const struct acl_entry k[] = {G(1, R), G(2, RW)};
	const struct acl_entry i[] = {U(1, R), G(3, RW)};
	struct acl a = acl_of(x, 2), b = acl_of(y, 2), c;

	(void)state;
	assert_true(acl_equal(&a, &b));
	c = acl_of(r, 2);
	assert_false(acl_equal(&a, &c));
	c = acl_of(k, 2);
	assert_false(acl_equal(&a, &c));
	c = acl_of(i, 2);
	assert_false(acl_equal(&a, &c));
	c = acl_of(x, 1);
	assert_false(acl_equal(&a, &c));
	assert_false(acl_equal(&c, &a));
	b = acl_of(NULL, 0);
	c = acl_of(NULL, 0);
	assert_true(acl_equal(&b, &c));
}

static void
text_says_the_list(void **state)
{
	const struct acl_entry e[] = {G(20, R), U(1000, RW), U(7, 0), G(3, W)};
	const char *want = "user:7:-,user:1000:rw,group:3:w,group:20:r";
	struct acl_entry longest[ACL_MAX];
	struct acl a = acl_of(e, 4), none = acl_of(NULL, 0);
	char buf[ACL_TEXT_MAX];
	size_t len, i;

	(void)state;
	assert_string_equal(acl_text(&none, buf, sizeof(buf)), "none");
	assert_ptr_equal(acl_text(&a, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want);

	/* Every length cut, and not a byte past it. */
	for (len = 0; len <= strlen(want) + 1; len++) {
		char *b = malloc(len ? len : 1);

		assert_non_null(b);
		b[0] = 'X';
		acl_text(&a, b, len);
		if (len == 0) {
			assert_int_equal(b[0], 'X');
		} else {
			assert_true(strlen(b) == (len - 1 < strlen(want) ?
						  len - 1 : strlen(want)));
			assert_memory_equal(b, want, strlen(b));
		}
		free(b);
	}
	for (len = 1; len <= 5; len++) {
		char *b = malloc(len);

		assert_non_null(b);
		acl_text(&none, b, len);
		assert_memory_equal(b, "none", len - 1);
		assert_int_equal(b[len - 1], '\0');
		free(b);
	}

	/* The longest words there are fit the room the header says. */
	for (i = 0; i < ACL_MAX; i++)
		longest[i] = (struct acl_entry)G(4294967294u - (uint32_t)i, RW);
	a = acl_of(longest, ACL_MAX);
	acl_text(&a, buf, sizeof(buf));
	assert_int_equal(strlen(buf), ACL_MAX * 20 - 1);
	assert_true(strlen(buf) < ACL_TEXT_MAX);
	assert_memory_equal(buf, "group:4294967263:rw,", 20);
}

static void
words_round_trip(void **state)
{
	const struct acl_entry e[] = {
		U(0, 0), U(1000, RW), U(4294967294u, R), G(0, W),
		G(20, R), G(4294967294u, RW),
	};
	const uint64_t refused[] = {
		1ull << 48 | 1ull << 40 | 4ull << 32 | 5,	/* bit 48 */
		1ull << 63 | 2ull << 40 | 5,			/* bit 63 */
		0ull << 40 | 4ull << 32 | 5,			/* kind 0 */
		3ull << 40 | 4ull << 32 | 5,			/* kind 3 */
		255ull << 40 | 5,				/* kind 255 */
		1ull << 40 | 8ull << 32 | 5,			/* rights 8 */
		2ull << 40 | 1ull << 32 | 5,			/* rights 1 */
		1ull << 40 | 0xffffffffull,			/* nobody */
		0,						/* nothing */
	};
	struct acl_entry back, keep = G(77, R);
	size_t i;

	(void)state;
	/* The bits the journal and a restart in place keep: fixed. */
	assert_true(acl_word(&e[1]) == (1ull << 40 | 6ull << 32 | 1000));
	assert_true(acl_word(&e[5]) == (2ull << 40 | 6ull << 32 |
					4294967294u));
	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		memset(&back, 0, sizeof(back));
		assert_true(acl_unword(acl_word(&e[i]), &back));
		assert_int_equal(back.kind, e[i].kind);
		assert_int_equal(back.id, e[i].id);
		assert_int_equal(back.rights, e[i].rights);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		back = keep;
		if (acl_unword(refused[i], &back))
			fail_msg("word %zu (%#llx) taken", i,
				 (unsigned long long)refused[i]);
		assert_memory_equal(&back, &keep, sizeof(back));
	}
}

static void
expect_check_fault(const struct acl *a, const char *words)
{
	char why[160] = "";

	assert_int_equal(acl_check(a, why, sizeof(why)), -EFAULT);
	if (!strstr(why, words))
		fail_msg("acl_check said \"%s\", nothing of \"%s\"", why,
			 words);
}

static void
check_finds_faults(void **state)
{
	const struct acl_entry e[] = {U(1, R), U(2, RW), G(1, W), G(9, 0)};
	struct acl good = acl_of(e, 4), a;
	char why[160] = "";

	(void)state;
	assert_int_equal(acl_check(&good, why, sizeof(why)), 0);
	a = acl_of(NULL, 0);
	assert_int_equal(acl_check(&a, NULL, 0), 0);

	a = good;
	a.n = ACL_MAX + 1;
	expect_check_fault(&a, "33 entries");
	a = good;
	a.e[1] = good.e[2];
	a.e[2] = good.e[1];
	expect_check_fault(&a, "entries 1 and 2 are out of order");
	a = good;
	a.e[3].id = 1;
	expect_check_fault(&a, "entries 2 and 3 are out of order or the same");
	a = good;
	a.e[0].kind = 0;
	expect_check_fault(&a, "entry 0 is not valid");
	a = good;
	a.e[2].rights = 0x80;
	expect_check_fault(&a, "entry 2 is not valid (kind 2, id 1, rights "
			   "0x80)");
	a = good;
	a.e[3].id = 4294967295u;
	expect_check_fault(&a, "entry 3 is not valid");
}

/* ---- which rule decided -------------------------------------------------- */

static struct acl_caller
caller_of(uid_t uid, gid_t gid, const gid_t *groups, int n)
{
	struct acl_caller who = {.uid = uid, .gid = gid, .groups = groups,
				 .ngroups = n};

	return who;
}

static void
expect_decider(const struct acl *a, uint32_t mode, const struct acl_caller *w,
	       const char *want)
{
	char buf[600];

	assert_ptr_equal(acl_decider(a, OWNER, GROUP, mode, w, buf,
				     sizeof(buf)), buf);
	assert_string_equal(buf, want);
}

#define CROWD		20	/* group entries of the crowded caller */
#define CROWD_GID	1000000000u

/*
 * The group class's words for the crowded caller (the pool's group and
 * CROWD entries) when only the first k pieces are said.
 */
static void
crowd_words(char *out, size_t len, unsigned k)
{
	size_t at;
	unsigned i;

	at = (size_t)snprintf(out, len, "the group class:");
	for (i = 0; i < k; i++) {
		if (i == 0)
			at += (size_t)snprintf(out + at, len - at,
					       " group %u (mode 0640)", GROUP);
		else
			at += (size_t)snprintf(out + at, len - at,
					       ", group:%u:-",
					       CROWD_GID + i - 1);
	}
	if (k < CROWD + 1)
		snprintf(out + at, len - at, "%s%u more", k ? " and " : " ",
			 CROWD + 1 - k);
}

static void
decider_names_the_rule(void **state)
{
	const struct acl_entry e[] = {U(OWNER, RW), U(CALLER, R), G(3000, 0),
				      G(3001, RW)};
	const gid_t in_3000[] = {3000};
	gid_t crowd_groups[CROWD];
	struct acl_entry crowd_e[CROWD];
	struct acl a = acl_of(e, 4), crowd;
	struct acl_caller w;
	char want[600];
	size_t len, k;

	(void)state;
	w = caller_of(OWNER, 1, NULL, 0);
	expect_decider(&a, 0640, &w, "uid 1000 owns it (mode 0640)");
	w = caller_of(CALLER, 1, NULL, 0);
	expect_decider(&a, 0640, &w, "its entry user:2000:r");
	w = caller_of(CALLER + 1, GROUP, in_3000, 1);
	expect_decider(&a, 0640, &w, "the group class: group 100 (mode "
		       "0640), group:3000:-");
	w = caller_of(CALLER + 1, 1, NULL, 0);
	expect_decider(&a, 0640, &w, "the other bits (mode 0640)");
	w.groups_unknown = true;
	expect_decider(&a, 0640, &w, "its groups unknown: a group it may be "
		       "in, or the other bits (mode 0640)");

	for (k = 0; k < CROWD; k++) {
		crowd_groups[k] = CROWD_GID + (gid_t)k;
		crowd_e[k] = (struct acl_entry)G(CROWD_GID + (uint32_t)k, 0);
	}
	crowd = acl_of(crowd_e, CROWD);
	w = caller_of(CALLER + 1, GROUP, crowd_groups, CROWD);
	crowd_words(want, sizeof(want), CROWD + 1);
	expect_decider(&crowd, 0640, &w, want);

	/* Cut short: whole pieces and how many were left out, or none. */
	for (len = 32; len <= strlen(want) + 1; len++) {
		char *b = malloc(len), cut[600];
		bool seen = false;

		assert_non_null(b);
		acl_decider(&crowd, OWNER, GROUP, 0640, &w, b, len);
		assert_true(strlen(b) < len);
		for (k = 0; k <= CROWD + 1 && !seen; k++) {
			crowd_words(cut, sizeof(cut), (unsigned)k);
			seen = strcmp(b, cut) == 0;
		}
		if (!seen)
			fail_msg("%zu bytes: \"%s\": a piece cut short", len,
				 b);
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grants_follow_the_rules),
		cmocka_unit_test(build_sorts_and_refuses),
		cmocka_unit_test(modify_sets_adds_removes),
		cmocka_unit_test(equal_compares_entries),
		cmocka_unit_test(text_says_the_list),
		cmocka_unit_test(words_round_trip),
		cmocka_unit_test(check_finds_faults),
		cmocka_unit_test(decider_names_the_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
