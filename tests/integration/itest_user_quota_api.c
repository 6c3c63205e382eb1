/*
 * itest_user_quota_api.c - uids' own user quotas through libpoolclient's
 * API (pool_create_user_quotas, pool_user_quota_get,
 * pool_user_quota_modify, pool_set_user_quotas, struct pool_stats'
 * user_quota_entries, struct pool_user's quota and quota_own), against
 * the real daemon, and what an entry decides for a process of another
 * uid.
 *
 *   created_with_entries      pool_create_user_quotas' entries come back
 *       sorted by uid, with the pool's other settings (s) too; less room
 *       than the entries: the whole count, only max written; max 0 with
 *       out NULL counts; out NULL with max > 0 is -EINVAL; a pool made
 *       without entries (nuq 0, or pool_create_set) has 0; no pool,
 *       -ENOENT.
 *   stats_count_entries       user_quota_entries from pool_stats and
 *       pool_stats_by_name: the count, changing with the entries;
 *       pool_list's the same (ListPools leaves the entries out but says
 *       their count), 0 for a pool without; the reserved room stays
 *       zero.
 *   modify_changes_some       set adds and replaces in place, remove
 *       takes out (a uid without an entry is no error), both in one
 *       request; nothing at all changes nothing; a default pool_set
 *       leaves the entries be; pool_set_user_quotas sets the default
 *       and the entries in one request, all or nothing (a bad limit
 *       beside them changes neither), and needs its settings.
 *   local_refusals_send_nothing  NULL entries with a count, 33 entries
 *       (-ENOSPC), uid 4294967295, a reserved word, a uid twice in set,
 *       in remove or across both, 33 uids to remove (-EINVAL), through
 *       pool_create_user_quotas and pool_user_quota_modify: the daemon
 *       counts no request, no words are left (pool_strerror's text
 *       names the entries), nothing changes.
 *   daemon_refusals           a modify that would pass 32 entries:
 *       -ENOSPC with the daemon's words, nothing changed; room made in
 *       the same request: no refusal; a pool the configuration file
 *       defines: -EROFS; its owner, not an admin: -EPERM (as root).
 *   users_say_the_bound       pool_users: the uid's own quota and
 *       quota_own with an entry, the pool's default without, 0 for an
 *       entry of 0 bytes.
 *   entry_decides_allocation  a child of another uid, under a default
 *       of 1 MiB: its entry of 4 MiB lets 2 MiB through, one of 512 KiB
 *       refuses 1 MiB (-EDQUOT, words naming its own quota), one of 0
 *       lets 2 MiB through, and removed, the default refuses again (the
 *       words naming the pool's); the refusals are counted.
 *   cache_within_own_entry    a handle's cache keeps within an eighth of
 *       its uid's own user quota, from its open and once an entry is
 *       set while it is open, and grows back when the entry goes.
 *
 * Tests that drop to another uid skip unless run as root.
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
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define OTHER_UID 65534		/* nobody */
#define OTHER_GID 65534

static struct daemon_proc d;

static struct pool_user_quota
uq(uint32_t uid, uint64_t bytes)
{
	return (struct pool_user_quota){.uid = uid, .bytes = bytes};
}

/* Pool name's entries must be the n of want, in that order. */
static void
uq_expect(struct pool_conn *c, const char *name,
	  const struct pool_user_quota *want, size_t n)
{
	struct pool_user_quota got[POOL_USER_QUOTA_MAX];
	size_t i;

	EXPECT_RC(pool_user_quota_get(c, name, got, POOL_USER_QUOTA_MAX),
		  (int)n);
	for (i = 0; i < n; i++) {
		assert_int_equal(got[i].uid, want[i].uid);
		assert_int_equal(got[i].bytes, want[i].bytes);
		assert_int_equal(got[i].reserved, 0);
	}
}

static int
uq_create(struct pool_conn *c, const char *name, uint64_t dflt,
	  const struct pool_user_quota *e, size_t n)
{
	struct pool_create_opts o = {.max_size = 16 * MiB, .mode = 0666};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = dflt};

	return pool_create_user_quotas(c, name, &o, &s, e, n);
}

/* The daemon's count of requests it has read, asked on c. */
static uint64_t
uq_requests(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	return ds.requests_total;
}

/* ---- reading ------------------------------------------------------------- */

static void
created_with_entries(void **state)
{
	struct pool_user_quota in[] = {
		uq(1002, 8 * MiB), uq(7, 0), uq(1000, 64 * KiB),
	};
	struct pool_user_quota sorted[] = {
		uq(7, 0), uq(1000, 64 * KiB), uq(1002, 8 * MiB),
	};
	struct pool_create_opts o = {.max_size = 4 * MiB};
	struct pool_user_quota out[3];
	struct pool_stats st;
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(uq_create(c, "a", 1 * MiB, in, 3), 0);
	uq_expect(c, "a", sorted, 3);
	/* The settings of s came with them. */
	EXPECT_RC(pool_stats_by_name(c, "a", &st), 0);
	assert_int_equal(st.user_quota, 1 * MiB);
	assert_int_equal(st.mode, 0666);

	/* Room for one: the whole count, one entry written, no more. */
	memset(out, 0xa5, sizeof(out));
	EXPECT_RC(pool_user_quota_get(c, "a", out, 1), 3);
	assert_int_equal(out[0].uid, 7);
	assert_int_equal(out[0].bytes, 0);
	assert_int_equal(out[1].uid, 0xa5a5a5a5u);
	EXPECT_RC(pool_user_quota_get(c, "a", NULL, 0), 3);
	EXPECT_RC(pool_user_quota_get(c, "a", NULL, 1), -EINVAL);
	EXPECT_RC(pool_user_quota_get(NULL, "a", out, 3), -EINVAL);

	EXPECT_RC(pool_create_user_quotas(c, "none", &o, NULL, NULL, 0), 0);
	EXPECT_RC(pool_user_quota_get(c, "none", out, 3), 0);
	EXPECT_RC(pool_create_set(c, "plain", &o, NULL), 0);
	EXPECT_RC(pool_user_quota_get(c, "plain", out, 3), 0);
	EXPECT_RC(pool_user_quota_get(c, "nosuch", out, 3), -ENOENT);
	/* Made as a whole, or not at all: the name was taken. */
	EXPECT_RC(uq_create(c, "a", 0, sorted, 1), -EEXIST);
	uq_expect(c, "a", sorted, 3);
	pool_disconnect(c);
}

static void
uq_expect_count(struct pool_conn *c, struct pool *p, const char *name,
		uint32_t want)
{
	struct pool_stats st, *all = NULL;
	size_t i, n = 0, seen = 0;

	EXPECT_RC(pool_stats_by_name(c, name, &st), 0);
	assert_int_equal(st.user_quota_entries, want);
	for (i = 0; i < sizeof(st.reserved) / sizeof(st.reserved[0]); i++)
		assert_int_equal(st.reserved[i], 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.user_quota_entries, want);
	EXPECT_RC(pool_list(c, &all, &n), 0);
	for (i = 0; i < n; i++) {
		bool ours = strcmp(all[i].name, name) == 0;

		seen += ours;
		if (all[i].user_quota_entries != (ours ? want : 0))
			fail_msg("pool_list: %s has %u user quota entries, "
				 "want %u", all[i].name,
				 (unsigned)all[i].user_quota_entries,
				 ours ? (unsigned)want : 0);
	}
	free(all);
	assert_int_equal(seen, 1);
}

static void
stats_count_entries(void **state)
{
	struct pool_user_quota e[POOL_USER_QUOTA_MAX];
	uint32_t rm[] = {100};
	struct pool_conn *c;
	struct pool *p;
	uint32_t i;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	for (i = 0; i < POOL_USER_QUOTA_MAX; i++)
		e[i] = uq(100 + i, (i + 1) * MiB);
	EXPECT_RC(uq_create(c, "s", 0, e, 1), 0);
	EXPECT_RC(pool_open(c, "s", &p), 0);
	uq_expect_count(c, p, "s", 1);
	/* A pool without entries beside it lists 0. */
	EXPECT_RC(uq_create(c, "t", 0, NULL, 0), 0);
	EXPECT_RC(pool_user_quota_modify(c, "s", e, POOL_USER_QUOTA_MAX,
					 NULL, 0), 0);
	uq_expect_count(c, p, "s", POOL_USER_QUOTA_MAX);
	EXPECT_RC(pool_user_quota_modify(c, "s", NULL, 0, rm, 1), 0);
	uq_expect_count(c, p, "s", POOL_USER_QUOTA_MAX - 1);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- changing ------------------------------------------------------------ */

static void
modify_changes_some(void **state)
{
	struct pool_user_quota start[] = { uq(10, 1 * MiB), uq(20, 2 * MiB) };
	struct pool_user_quota set1[] = { uq(30, 3 * MiB), uq(10, 0) };
	struct pool_user_quota want1[] = {
		uq(10, 0), uq(20, 2 * MiB), uq(30, 3 * MiB),
	};
	struct pool_user_quota set2[] = { uq(40, 4 * MiB) };
	uint32_t rm2[] = { 20, 99 };
	struct pool_user_quota want2[] = {
		uq(10, 0), uq(30, 3 * MiB), uq(40, 4 * MiB),
	};
	struct pool_user_quota set3[] = { uq(50, 5 * MiB) };
	uint32_t rm3[] = { 40 };
	struct pool_user_quota want3[] = {
		uq(10, 0), uq(30, 3 * MiB), uq(50, 5 * MiB),
	};
	struct pool_set_opts dflt = {.which = POOL_SET_USER_QUOTA,
				     .user_quota = 5 * MiB};
	struct pool_stats st;
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(uq_create(c, "m", 0, start, 2), 0);
	/* An added uid and one replaced in place, 0 bytes: none for it. */
	EXPECT_RC(pool_user_quota_modify(c, "m", set1, 2, NULL, 0), 0);
	uq_expect(c, "m", want1, 3);
	/* Set and remove in one request; uid 99 has none: no error. */
	EXPECT_RC(pool_user_quota_modify(c, "m", set2, 1, rm2, 2), 0);
	uq_expect(c, "m", want2, 3);
	EXPECT_RC(pool_user_quota_modify(c, "m", NULL, 0, NULL, 0), 0);
	uq_expect(c, "m", want2, 3);
	/* The default changes alone. */
	EXPECT_RC(pool_set(c, "m", &dflt), 0);
	uq_expect(c, "m", want2, 3);
	EXPECT_RC(pool_stats_by_name(c, "m", &st), 0);
	assert_int_equal(st.user_quota, 5 * MiB);

	/* With other settings, in one request: all of it... */
	dflt.user_quota = 7 * MiB;
	EXPECT_RC(pool_set_user_quotas(c, "m", &dflt, set3, 1, rm3, 1), 0);
	uq_expect(c, "m", want3, 3);
	EXPECT_RC(pool_stats_by_name(c, "m", &st), 0);
	assert_int_equal(st.user_quota, 7 * MiB);
	/* ... or none: a limit below a granule refuses the entries too. */
	dflt.which |= POOL_SET_LIMIT;
	dflt.limit = 1;
	dflt.user_quota = 9 * MiB;
	EXPECT_RC(pool_set_user_quotas(c, "m", &dflt, set2, 1, rm2, 1),
		  -EINVAL);
	uq_expect(c, "m", want3, 3);
	EXPECT_RC(pool_stats_by_name(c, "m", &st), 0);
	assert_int_equal(st.user_quota, 7 * MiB);
	EXPECT_RC(pool_set_user_quotas(c, "m", NULL, set2, 1, NULL, 0),
		  -EINVAL);
	pool_disconnect(c);
}

/*
 * bad (n entries) and rm (nrm uids) must be refused with want by the
 * library alone, through both entry points, sending the daemon nothing
 * and leaving pool name's one entry was as it was.
 */
static void
uq_expect_local_refusal(struct pool_conn *c, const char *name,
			const struct pool_user_quota *bad, size_t n,
			const uint32_t *rm, size_t nrm, int want,
			const struct pool_user_quota *was)
{
	uint64_t before = uq_requests(c);

	EXPECT_RC(pool_user_quota_modify(c, name, bad, n, rm, nrm), want);
	assert_string_equal(pool_last_message(want), "");
	if (nrm == 0) {
		EXPECT_RC(uq_create(c, "new", 0, bad, n), want);
		assert_string_equal(pool_last_message(want), "");
	}
	/* The one request since: uq_requests's own. */
	assert_int_equal(uq_requests(c), before + 1);
	uq_expect(c, name, was, 1);
	EXPECT_RC(pool_user_quota_get(c, "new", NULL, 0), -ENOENT);
}

static void
local_refusals_send_nothing(void **state)
{
	struct pool_user_quota was[] = { uq(1000, 1 * MiB) };
	struct pool_user_quota many[POOL_USER_QUOTA_MAX + 1];
	struct pool_user_quota bad[2];
	uint32_t rm[POOL_USER_QUOTA_MAX + 1];
	struct pool_conn *c;
	uint32_t i;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(uq_create(c, "l", 0, was, 1), 0);

	uq_expect_local_refusal(c, "l", NULL, 1, NULL, 0, -EINVAL, was);
	for (i = 0; i < POOL_USER_QUOTA_MAX + 1; i++) {
		many[i] = uq(100 + i, MiB);
		rm[i] = 200 + i;
	}
	uq_expect_local_refusal(c, "l", many, POOL_USER_QUOTA_MAX + 1, NULL,
				0, -ENOSPC, was);
	/* No words: the code's text alone must say what was too long. */
	assert_non_null(strstr(pool_strerror(-ENOSPC), "user quotas"));
	bad[0] = uq(UINT32_MAX, MiB);
	uq_expect_local_refusal(c, "l", bad, 1, NULL, 0, -EINVAL, was);
	bad[0] = uq(5, MiB);
	bad[0].reserved = 1;
	uq_expect_local_refusal(c, "l", bad, 1, NULL, 0, -EINVAL, was);
	bad[0] = uq(5, MiB);
	bad[1] = uq(5, 2 * MiB);
	uq_expect_local_refusal(c, "l", bad, 2, NULL, 0, -EINVAL, was);

	/* Removals: nobody, twice, across both, too many, NULL. */
	rm[0] = UINT32_MAX;
	uq_expect_local_refusal(c, "l", NULL, 0, rm, 1, -EINVAL, was);
	rm[0] = rm[1] = 1000;
	uq_expect_local_refusal(c, "l", NULL, 0, rm, 2, -EINVAL, was);
	uq_expect_local_refusal(c, "l", was, 1, rm, 1, -EINVAL, was);
	rm[0] = 300;
	rm[1] = 301;
	uq_expect_local_refusal(c, "l", NULL, 0, rm, POOL_USER_QUOTA_MAX + 1,
				-EINVAL, was);
	uq_expect_local_refusal(c, "l", NULL, 0, NULL, 1, -EINVAL, was);
	EXPECT_RC(pool_user_quota_modify(NULL, "l", NULL, 0, NULL, 0),
		  -EINVAL);
	pool_disconnect(c);
}

/* In a child of another uid, pool "o"'s owner: every change is -EPERM. */
static int
uq_not_admin_child(void *arg)
{
	struct pool_user_quota mine[] = { uq(OTHER_UID, 0) };
	uint32_t rm[] = { 1000 };
	struct pool_conn *c;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_user_quota_modify(c, "o", mine, 1, NULL, 0), -EPERM,
		 11);
	CHECK_RC(pool_user_quota_modify(c, "o", NULL, 0, rm, 1), -EPERM, 12);
	CHECK(strstr(pool_last_message(-EPERM), "admin rights") != NULL, 13);
	/* Reading them needs the read right, which other (0666) gives. */
	CHECK_RC(pool_user_quota_get(c, "o", NULL, 0), 1, 14);
	pool_disconnect(c);
	return 0;
}

static void
daemon_refusals(void **state)
{
	struct pool_user_quota was[] = { uq(1000, 1 * MiB) };
	struct pool_user_quota fill[POOL_USER_QUOTA_MAX];
	struct pool_user_quota one_more[] = { uq(99999, MiB) };
	struct pool_create_opts oo = {.max_size = 4 * MiB, .mode = 0666,
				      .flags = POOL_CREATE_OWNER,
				      .uid = OTHER_UID};
	uint32_t rm_fill[] = { 100 };
	struct pool_conn *c;
	pid_t pid;
	uint32_t i;

	(void)state;
	harness_fixture_start(&d, "[pool f]\nsize = 4M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(uq_create(c, "p", 0, was, 1), 0);

	/* 31 more make 32; one more than that is refused, as a whole. */
	for (i = 0; i < POOL_USER_QUOTA_MAX - 1; i++)
		fill[i] = uq(100 + i, MiB);
	EXPECT_RC(pool_user_quota_modify(c, "p", fill,
					 POOL_USER_QUOTA_MAX - 1, NULL, 0), 0);
	EXPECT_RC(pool_user_quota_get(c, "p", NULL, 0), POOL_USER_QUOTA_MAX);
	EXPECT_RC(pool_user_quota_modify(c, "p", one_more, 1, NULL, 0),
		  -ENOSPC);
	assert_non_null(strstr(pool_last_message(-ENOSPC), "at most 32"));
	EXPECT_RC(pool_user_quota_get(c, "p", fill, POOL_USER_QUOTA_MAX),
		  POOL_USER_QUOTA_MAX);
	assert_int_equal(fill[0].uid, 100);
	/* Room made in the same request: no refusal. */
	EXPECT_RC(pool_user_quota_modify(c, "p", one_more, 1, rm_fill, 1), 0);
	EXPECT_RC(pool_user_quota_get(c, "p", fill, POOL_USER_QUOTA_MAX),
		  POOL_USER_QUOTA_MAX);
	assert_int_equal(fill[0].uid, 101);
	assert_int_equal(fill[POOL_USER_QUOTA_MAX - 1].uid, 99999);

	/* The configuration file's pool: its entries are the file's. */
	EXPECT_RC(pool_user_quota_modify(c, "f", was, 1, NULL, 0), -EROFS);
	EXPECT_RC(pool_user_quota_get(c, "f", NULL, 0), 0);

	if (geteuid() == 0) {
		/* Pool "o", the child's own: owning is no admin right. */
		EXPECT_RC(pool_create_user_quotas(c, "o", &oo, NULL, was, 1),
			  0);
		pid = harness_spawn_as(OTHER_UID, OTHER_GID,
				       uq_not_admin_child, NULL);
		assert_true(pid > 0);
		assert_int_equal(harness_wait(pid), 0);
		uq_expect(c, "o", was, 1);
	} else {
		fprintf(stderr, "daemon_refusals: not root: cannot drop to "
			"another uid; -EPERM not tried\n");
	}
	pool_disconnect(c);
}

/* ---- what they bind ------------------------------------------------------ */

/* The row of uid in pool name's users: quota and quota_own as want. */
static void
uq_expect_user(struct pool_conn *c, const char *name, uint32_t uid,
	       uint64_t quota, uint32_t own)
{
	struct pool_user *u = NULL;
	size_t i, n, total;
	bool found = false;

	EXPECT_RC(pool_users(c, name, &u, &n, &total), 0);
	for (i = 0; i < n; i++) {
		if (u[i].uid != uid)
			continue;
		found = true;
		assert_int_equal(u[i].quota, quota);
		assert_int_equal(u[i].quota_own, own);
		assert_int_equal(u[i].reserved32, 0);
		assert_int_equal(u[i].reserved[0], 0);
		assert_int_equal(u[i].reserved[1], 0);
	}
	free(u);
	assert_true(found);
}

static void
users_say_the_bound(void **state)
{
	struct pool_user_quota mine[] = { uq((uint32_t)geteuid(), 3 * MiB) };
	struct pool_user_quota none[] = { uq((uint32_t)geteuid(), 0) };
	uint32_t rm[] = { (uint32_t)geteuid() };
	struct pool_conn *c;
	struct pool *p;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(uq_create(c, "u", 1 * MiB, NULL, 0), 0);
	EXPECT_RC(pool_open(c, "u", &p), 0);
	uq_expect_user(c, "u", (uint32_t)geteuid(), 1 * MiB, 0);
	EXPECT_RC(pool_user_quota_modify(c, "u", mine, 1, NULL, 0), 0);
	uq_expect_user(c, "u", (uint32_t)geteuid(), 3 * MiB, 1);
	EXPECT_RC(pool_user_quota_modify(c, "u", none, 1, NULL, 0), 0);
	uq_expect_user(c, "u", (uint32_t)geteuid(), 0, 1);
	EXPECT_RC(pool_user_quota_modify(c, "u", NULL, 0, rm, 1), 0);
	uq_expect_user(c, "u", (uint32_t)geteuid(), 1 * MiB, 0);
	pool_close(p);
	pool_disconnect(c);
}

/* In a child of OTHER_UID: allocate arg's bytes of pool "x", as want. */
struct uq_try {
	uint64_t bytes;
	int want;
	const char *words;	/* in the refusal's, if not NULL */
};

static int
uq_alloc_child(void *arg)
{
	const struct uq_try *t = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_RC(pool_connect(NULL, &c), 0, 30);
	CHECK_RC(pool_open(c, "x", &p), 0, 31);
	CHECK_RC(pool_alloc(p, t->bytes, &off), t->want, 32);
	if (t->words != NULL)
		CHECK(strstr(pool_last_message(-EDQUOT), t->words) != NULL,
		      33);
	if (t->want == 0) {
		/* Really there: the bytes written. */
		memset(pool_ptr(p, off), 1, t->bytes);
		CHECK_RC(pool_free(p, off), 0, 34);
	}
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
uq_expect_alloc(uint64_t bytes, int want, const char *words)
{
	struct uq_try t = {.bytes = bytes, .want = want, .words = words};
	pid_t pid;

	pid = harness_spawn_as(OTHER_UID, OTHER_GID, uq_alloc_child, &t);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
}

static void
entry_decides_allocation(void **state)
{
	struct pool_user_quota big[] = { uq(OTHER_UID, 4 * MiB) };
	struct pool_user_quota small[] = { uq(OTHER_UID, 512 * KiB) };
	struct pool_user_quota none[] = { uq(OTHER_UID, 0) };
	uint32_t rm[] = { OTHER_UID };
	struct pool_stats st;
	struct pool_conn *c;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	/* Made with its entry: 2 MiB passes the default of 1 MiB. */
	EXPECT_RC(uq_create(c, "x", 1 * MiB, big, 1), 0);
	uq_expect_alloc(2 * MiB, 0, NULL);
	EXPECT_RC(pool_user_quota_modify(c, "x", small, 1, NULL, 0), 0);
	uq_expect_alloc(1 * MiB, -EDQUOT, "uid 65534's own user quota of "
			"512.0 KiB");
	uq_expect_alloc(256 * KiB, 0, NULL);
	EXPECT_RC(pool_user_quota_modify(c, "x", none, 1, NULL, 0), 0);
	uq_expect_alloc(2 * MiB, 0, NULL);
	/* Removed: the default binds it again. */
	EXPECT_RC(pool_user_quota_modify(c, "x", NULL, 0, rm, 1), 0);
	uq_expect_alloc(2 * MiB, -EDQUOT, "the pool's quota of 1.0 MiB per "
			"user");
	uq_expect_alloc(512 * KiB, 0, NULL);
	EXPECT_RC(pool_stats_by_name(c, "x", &st), 0);
	assert_int_equal(st.user_quota_refusals, 2);
	harness_expect_checked(c, "x");
	pool_disconnect(c);
}

/* ---- a client cache ----------------------------------------------------- */

#define SMALL_BLOCKS 2048u
#define SMALL 256u

/*
 * Take 2048 blocks of size bytes on p and free them all: the bytes p's
 * cache keeps then, as the daemon counts them.  A size the cache holds
 * none of makes it refill, and so hear the bounds in force.
 */
static uint64_t
uq_cached_after_cycle(struct pool *p, size_t size)
{
	static pool_off_t offs[SMALL_BLOCKS];
	struct pool_stats ps;
	unsigned i;

	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_alloc(p, size, &offs[i]), 0);
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);	/* with the cache's report */
	return ps.client_cached_bytes;
}

/*
 * A handle's cache keeps within an eighth of its uid's own user quota
 * as within the pool's: at its open, and on a handle already open once
 * the entry changes (the next refill, of a size it holds none of,
 * brings the new share), growing back when the entry is taken out and
 * no default binds.
 */
static void
cache_within_own_entry(void **state)
{
	struct pool_user_quota mine[] = { uq((uint32_t)geteuid(), 2 * MiB) };
	uint32_t rm[] = { (uint32_t)geteuid() };
	struct pool_conn *c;
	struct pool *p;
	uint64_t at_open, free_run, changed, removed;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(uq_create(c, "k", 0, mine, 1), 0);
	EXPECT_RC(pool_open(c, "k", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	at_open = uq_cached_after_cycle(p, SMALL);
	pool_close(p);

	EXPECT_RC(pool_user_quota_modify(c, "k", NULL, 0, rm, 1), 0);
	EXPECT_RC(pool_open(c, "k", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	free_run = uq_cached_after_cycle(p, SMALL);
	EXPECT_RC(pool_user_quota_modify(c, "k", mine, 1, NULL, 0), 0);
	changed = uq_cached_after_cycle(p, 2 * SMALL);
	EXPECT_RC(pool_user_quota_modify(c, "k", NULL, 0, rm, 1), 0);
	removed = uq_cached_after_cycle(p, 4 * SMALL);
	printf("user_quota_api: %u x %u B freed by one handle: %llu B cached "
	       "under its own 2 MiB from the open, %llu B under none, %llu B "
	       "once its own 2 MiB is set, %llu B once taken out\n",
	       SMALL_BLOCKS, SMALL, (unsigned long long)at_open,
	       (unsigned long long)free_run, (unsigned long long)changed,
	       (unsigned long long)removed);
	assert_true(at_open > 0 && at_open <= 2 * MiB / 8);
	assert_true(free_run >= SMALL_BLOCKS * SMALL);
	assert_true(changed > 0 && changed <= 2 * MiB / 8);
	assert_true(removed >= SMALL_BLOCKS * SMALL);
	pool_close(p);
	harness_expect_checked(c, "k");
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(created_with_entries, &d),
		HARNESS_FIXTURE_TEST(stats_count_entries, &d),
		HARNESS_FIXTURE_TEST(modify_changes_some, &d),
		HARNESS_FIXTURE_TEST(local_refusals_send_nothing, &d),
		HARNESS_FIXTURE_TEST(daemon_refusals, &d),
		HARNESS_FIXTURE_TEST(users_say_the_bound, &d),
		HARNESS_FIXTURE_TEST(entry_decides_allocation, &d),
		HARNESS_FIXTURE_TEST(cache_within_own_entry, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
