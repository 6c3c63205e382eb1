/*
 * itest_acl_api.c - pools' access control lists through libpoolclient's
 * API (pool_create_set and pool_set with POOL_SET_ACL, pool_acl_get,
 * pool_acl_modify, pool_acl_parse, pool_acl_format), against the real
 * daemon, and what a list decides for a process of another uid.
 *
 *   created_with_a_list       pool_create_set's list comes back sorted
 *       (users, then groups, each by id); pool_acl_get with less room
 *       than the list returns the whole count and writes only max
 *       entries; max 0 with out NULL counts; out NULL with max > 0 is
 *       -EINVAL; a pool without a list has 0; no pool, -ENOENT.
 *   set_replaces_and_clears   POOL_SET_ACL replaces the list whole, beside
 *       another setting too; nacl 0 (acl NULL) clears it; a pool_set
 *       without the bit keeps it.
 *   stats_count_entries       struct pool_stats' acl_entries, from
 *       pool_stats, pool_stats_by_name and pool_list alike: 0 for a pool
 *       without a list, 1 and 32 for those with, and what it is after
 *       pool_set and pool_acl_modify change a list (the reserved room
 *       around it stays zero).
 *   modify_changes_some       pool_acl_modify adds, replaces an entry's
 *       rights in place, takes out one (its rights not looked at), both
 *       in one request, and an absent removal or nothing at all is no
 *       error and no change.
 *   local_refusals_send_nothing  NULL acl with nacl > 0, 33 entries
 *       (-ENOSPC), kind 3, id 4294967295, rights 8, reserved not zero
 *       (-EINVAL), through pool_set, pool_create_set and pool_acl_modify
 *       (its add and its rm): the daemon counts no request, no words are
 *       left (pool_strerror's text names the list), nothing changes.
 *   daemon_refusals           a kind and id twice: -EINVAL with the
 *       daemon's words (pool_last_message); a modify that would pass 32
 *       entries: -ENOSPC with its words; a pool the configuration file
 *       defines: -EROFS; another uid, not the owner: -EPERM; none of them
 *       changes the list.
 *   parse_every_form          pool_acl_parse: user:/group:/u:/g:, names
 *       (root, nobody, the group root) and numbers, rw r w - and rw- r--
 *       -w- ---, commas and white space, "none" and "": the entries; x,
 *       no rights, an unknown kind, an empty who, a who with a colon
 *       (which no name holds), an id past the last: -EINVAL and words
 *       naming the entry; an unknown name: -ENOENT; more than max:
 *       -ENOSPC; POOL_ACL_PARSE_NO_RIGHTS reads user:WHO alone and
 *       refuses rights, and a who with a colon.
 *   format_names_and_cuts     pool_acl_format: numbers, names with
 *       POOL_ACL_FORMAT_NAMES (a number where none is known), "none",
 *       cut at a small len still terminated with the whole length
 *       returned, and what it prints parsed back the same; an entry
 *       whose words would not (rights beyond rw, id 4294967295) is
 *       -EINVAL.
 *   format_reads_back         pool_acl_format with POOL_ACL_FORMAT_NAMES,
 *       where the databases (bound over in a mount namespace of a child's
 *       own) hold names pool_acl_parse would not read back as their ids:
 *       with a comma, a blank, a tab or an escape, of digits ("4313" of
 *       uid 4314, "007"), one name on two uids, and a group's
 *       the same; each such id is written as its number, a plain name
 *       (and "none", which only stands alone as the empty list) as its
 *       name, and the text parses back to the same entries.
 *   too_old_names_lists       pool_strerror(-EOPNOTSUPP), what every
 *       entry point says of a daemon without lists, names them.
 *   names_of_a_big_group      a group whose members take more than
 *       16 KiB in the group database (bound over /etc/group in a mount
 *       namespace of a child's own): pool_acl_parse finds its gid by
 *       name, pool_acl_format names it, as for any other group.
 *   entries_decide_access     a child of another uid, with a
 *       supplementary group: "user:UID:-" refuses it though the other
 *       bits would let it in; granted r, it opens read-only, not
 *       read-write; granted rw, read-write, with a 0600 mode; a group
 *       entry of its supplementary group grants it, and one that refuses
 *       keeps it out though the other bits would let it in; its user
 *       entry comes before its groups'.
 *
 * Tests that drop to another uid skip unless run as root.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_ids.h"
#include "poolclient.h"

#define MiB (1024u * 1024u)
#define OTHER_UID 65534		/* nobody */
#define OTHER_GID 65534
#define OTHER_GROUP 4343	/* the child's supplementary group */

#define RW (POOL_ACL_READ | POOL_ACL_WRITE)

static struct daemon_proc d;

static struct pool_acl_entry
acl_user(uint32_t id, uint32_t rights)
{
	return (struct pool_acl_entry){.kind = POOL_ACL_USER, .id = id,
				       .rights = rights};
}

static struct pool_acl_entry
acl_group(uint32_t id, uint32_t rights)
{
	return (struct pool_acl_entry){.kind = POOL_ACL_GROUP, .id = id,
				       .rights = rights};
}

/* Fail the test unless a and b hold the same n entries in one order. */
static void
acl_expect_entries(const struct pool_acl_entry *a,
		   const struct pool_acl_entry *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(a[i].kind, b[i].kind);
		assert_int_equal(a[i].id, b[i].id);
		assert_int_equal(a[i].rights, b[i].rights);
		assert_int_equal(a[i].reserved, 0);
	}
}

/* Pool name's list must be the n entries of want, in that order. */
static void
acl_expect_list(struct pool_conn *c, const char *name,
		const struct pool_acl_entry *want, size_t n)
{
	struct pool_acl_entry got[POOL_ACL_MAX];

	EXPECT_RC(pool_acl_get(c, name, got, POOL_ACL_MAX), (int)n);
	acl_expect_entries(got, want, n);
}

static void
acl_create(struct pool_conn *c, const char *name, uint32_t mode,
	   const struct pool_acl_entry *acl, uint32_t n)
{
	struct pool_create_opts o = {.max_size = 4 * MiB, .mode = mode};
	struct pool_set_opts s = {.which = POOL_SET_ACL, .acl = acl,
				  .nacl = n};

	EXPECT_RC(pool_create_set(c, name, &o, &s), 0);
}

static int
acl_set(struct pool_conn *c, const char *name,
	const struct pool_acl_entry *acl, uint32_t n)
{
	struct pool_set_opts o = {.which = POOL_SET_ACL, .acl = acl,
				  .nacl = n};

	return pool_set(c, name, &o);
}

/* The daemon's count of requests it has read, asked on c. */
static uint64_t
acl_requests(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	return ds.requests_total;
}

/* ---- reading a list ------------------------------------------------------ */

static void
created_with_a_list(void **state)
{
	struct pool_acl_entry in[] = {
		acl_group(20, POOL_ACL_READ), acl_user(1000, RW),
		acl_user(7, 0), acl_group(5, POOL_ACL_WRITE),
	};
	struct pool_acl_entry sorted[] = {
		acl_user(7, 0), acl_user(1000, RW),
		acl_group(5, POOL_ACL_WRITE), acl_group(20, POOL_ACL_READ),
	};
	struct pool_acl_entry out[3];
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	acl_create(c, "a", 0600, in, 4);
	acl_expect_list(c, "a", sorted, 4);

	/* Room for one: the whole count, one entry written, no more. */
	memset(out, 0xa5, sizeof(out));
	EXPECT_RC(pool_acl_get(c, "a", out, 1), 4);
	acl_expect_entries(out, sorted, 1);
	assert_int_equal(out[1].kind, 0xa5a5a5a5u);
	assert_int_equal(out[2].id, 0xa5a5a5a5u);
	EXPECT_RC(pool_acl_get(c, "a", NULL, 0), 4);
	EXPECT_RC(pool_acl_get(c, "a", NULL, 1), -EINVAL);
	EXPECT_RC(pool_acl_get(NULL, "a", out, 3), -EINVAL);

	acl_create(c, "plain", 0600, NULL, 0);
	EXPECT_RC(pool_acl_get(c, "plain", out, 3), 0);
	EXPECT_RC(pool_acl_get(c, "nosuch", out, 3), -ENOENT);
	pool_disconnect(c);
}

/* ---- replacing it -------------------------------------------------------- */

static void
set_replaces_and_clears(void **state)
{
	struct pool_acl_entry first[] = {
		acl_user(1000, RW), acl_group(20, POOL_ACL_READ),
	};
	struct pool_acl_entry second[] = {
		acl_group(30, 0), acl_user(2000, POOL_ACL_READ),
	};
	struct pool_acl_entry second_sorted[] = {
		acl_user(2000, POOL_ACL_READ), acl_group(30, 0),
	};
	struct pool_set_opts both = {.which = POOL_SET_ACL | POOL_SET_MODE,
				     .mode = 0640, .acl = second, .nacl = 2};
	struct pool_set_opts mode = {.which = POOL_SET_MODE, .mode = 0600};
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	acl_create(c, "s", 0600, NULL, 0);
	EXPECT_RC(acl_set(c, "s", first, 2), 0);
	acl_expect_list(c, "s", first, 2);

	EXPECT_RC(pool_set(c, "s", &both), 0);
	acl_expect_list(c, "s", second_sorted, 2);
	assert_int_equal(harness_stats_of(c, "s").mode, 0640);

	/* Without the bit the list stays, whatever acl points to. */
	mode.acl = first;
	mode.nacl = 0;
	EXPECT_RC(pool_set(c, "s", &mode), 0);
	acl_expect_list(c, "s", second_sorted, 2);

	EXPECT_RC(acl_set(c, "s", NULL, 0), 0);
	EXPECT_RC(pool_acl_get(c, "s", NULL, 0), 0);
	pool_disconnect(c);
}

/* ---- the count in a pool's statistics ------------------------------------ */

/*
 * The room beside acl_entries: zero, as the header promises (these pools
 * have no uids' own user quotas, whose count took its first word).
 */
static void
acl_expect_reserved_zero(const struct pool_stats *s)
{
	size_t i;

	assert_int_equal(s->user_quota_entries, 0);
	for (i = 0; i < sizeof(s->reserved) / sizeof(s->reserved[0]); i++)
		assert_int_equal(s->reserved[i], 0);
}

/*
 * Pool name's acl_entries must be want by every way of asking: by name,
 * through a handle (when p is not NULL) and in the listing of every pool.
 */
static void
acl_expect_count(struct pool_conn *c, struct pool *p, const char *name,
		 uint32_t want)
{
	struct pool_stats s, *all = NULL;
	size_t i, n = 0;
	bool listed = false;

	EXPECT_RC(pool_stats_by_name(c, name, &s), 0);
	if (s.acl_entries != want)
		fail_msg("pool_stats_by_name(%s): acl_entries %u, want %u",
			 name, (unsigned)s.acl_entries, (unsigned)want);
	acl_expect_reserved_zero(&s);
	if (p != NULL) {
		EXPECT_RC(pool_stats(p, &s), 0);
		if (s.acl_entries != want)
			fail_msg("pool_stats(%s): acl_entries %u, want %u",
				 name, (unsigned)s.acl_entries,
				 (unsigned)want);
		acl_expect_reserved_zero(&s);
	}
	EXPECT_RC(pool_list(c, &all, &n), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(all[i].name, name) != 0)
			continue;
		listed = true;
		if (all[i].acl_entries != want)
			fail_msg("pool_list: %s's acl_entries %u, want %u",
				 name, (unsigned)all[i].acl_entries,
				 (unsigned)want);
		acl_expect_reserved_zero(&all[i]);
	}
	free(all);
	if (!listed)
		fail_msg("pool_list: %s not listed", name);
}

static void
stats_count_entries(void **state)
{
	struct pool_acl_entry one[] = { acl_group(20, POOL_ACL_READ) };
	struct pool_acl_entry full[POOL_ACL_MAX], more[] = {
		acl_user(3000, RW),
	};
	struct pool_acl_entry rm[] = { acl_user(1000, 0) };
	struct pool *p0, *p1, *p32;
	struct pool_conn *c;
	uint32_t i;

	(void)state;
	for (i = 0; i < POOL_ACL_MAX; i++)
		full[i] = acl_user(1000 + i, i % 2 ? RW : POOL_ACL_READ);
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	acl_create(c, "none", 0600, NULL, 0);
	acl_create(c, "one", 0600, one, 1);
	acl_create(c, "full", 0600, full, POOL_ACL_MAX);
	EXPECT_RC(pool_open(c, "none", &p0), 0);
	EXPECT_RC(pool_open(c, "one", &p1), 0);
	EXPECT_RC(pool_open(c, "full", &p32), 0);
	acl_expect_count(c, p0, "none", 0);
	acl_expect_count(c, p1, "one", 1);
	acl_expect_count(c, p32, "full", POOL_ACL_MAX);

	/* Changes show at the next request, through a handle too. */
	EXPECT_RC(pool_acl_modify(c, "none", more, 1, NULL, 0), 0);
	acl_expect_count(c, p0, "none", 1);
	EXPECT_RC(pool_acl_modify(c, "one", more, 1, NULL, 0), 0);
	acl_expect_count(c, p1, "one", 2);
	EXPECT_RC(pool_acl_modify(c, "full", NULL, 0, rm, 1), 0);
	acl_expect_count(c, p32, "full", POOL_ACL_MAX - 1);
	/* A refused change (a 33rd entry) leaves the count as it was. */
	EXPECT_RC(acl_set(c, "full", full, POOL_ACL_MAX), 0);
	EXPECT_RC(pool_acl_modify(c, "full", more, 1, NULL, 0), -ENOSPC);
	acl_expect_count(c, p32, "full", POOL_ACL_MAX);
	EXPECT_RC(acl_set(c, "one", NULL, 0), 0);
	acl_expect_count(c, p1, "one", 0);
	acl_expect_count(c, NULL, "none", 1);

	pool_close(p0);
	pool_close(p1);
	pool_close(p32);
	pool_disconnect(c);
}

/* ---- changing some entries ----------------------------------------------- */

static void
modify_changes_some(void **state)
{
	struct pool_acl_entry start[] = {
		acl_user(1000, RW), acl_group(20, POOL_ACL_READ),
	};
	struct pool_acl_entry add[] = {
		acl_user(500, POOL_ACL_READ), acl_group(20, RW),
	};
	struct pool_acl_entry after_add[] = {
		acl_user(500, POOL_ACL_READ), acl_user(1000, RW),
		acl_group(20, RW),
	};
	/* Rights in a removal are not looked at. */
	struct pool_acl_entry rm[] = { acl_user(1000, POOL_ACL_READ) };
	struct pool_acl_entry after_rm[] = {
		acl_user(500, POOL_ACL_READ), acl_group(20, RW),
	};
	struct pool_acl_entry absent[] = { acl_group(99, 0) };
	struct pool_acl_entry swap_rm[] = { acl_group(20, 0) };
	struct pool_acl_entry swap_add[] = {
		acl_group(21, POOL_ACL_WRITE), acl_user(500, 0),
	};
	struct pool_acl_entry after_swap[] = {
		acl_user(500, 0), acl_group(21, POOL_ACL_WRITE),
	};
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	acl_create(c, "m", 0600, start, 2);

	EXPECT_RC(pool_acl_modify(c, "m", add, 2, NULL, 0), 0);
	acl_expect_list(c, "m", after_add, 3);
	EXPECT_RC(pool_acl_modify(c, "m", NULL, 0, rm, 1), 0);
	acl_expect_list(c, "m", after_rm, 2);
	EXPECT_RC(pool_acl_modify(c, "m", NULL, 0, absent, 1), 0);
	EXPECT_RC(pool_acl_modify(c, "m", NULL, 0, NULL, 0), 0);
	acl_expect_list(c, "m", after_rm, 2);

	/* Both in one request: the removal first, then the additions. */
	EXPECT_RC(pool_acl_modify(c, "m", swap_add, 2, swap_rm, 1), 0);
	acl_expect_list(c, "m", after_swap, 2);
	/* An entry both taken out and set is set. */
	EXPECT_RC(pool_acl_modify(c, "m", swap_rm, 1, swap_rm, 1), 0);
	EXPECT_RC(pool_acl_get(c, "m", NULL, 0), 3);
	EXPECT_RC(pool_acl_modify(c, "nosuch", add, 1, NULL, 0), -ENOENT);
	pool_disconnect(c);
}

/* ---- refusals ------------------------------------------------------------ */

/*
 * Every call on c must return want for each bad list (n entries), ask the
 * daemon nothing and leave pool name's list as it was (the one entry of
 * was).
 */
static void
acl_expect_local_refusal(struct pool_conn *c, const char *name,
			 const struct pool_acl_entry *bad, uint32_t n, int want,
			 const struct pool_acl_entry *was)
{
	struct pool_create_opts co = {.max_size = 4 * MiB};
	struct pool_set_opts so = {.which = POOL_SET_ACL, .acl = bad,
				   .nacl = n};
	uint64_t before = acl_requests(c);

	EXPECT_RC(pool_set(c, name, &so), want);
	assert_string_equal(pool_last_message(want), "");
	EXPECT_RC(pool_create_set(c, "new", &co, &so), want);
	assert_string_equal(pool_last_message(want), "");
	EXPECT_RC(pool_acl_modify(c, name, bad, n, NULL, 0), want);
	assert_string_equal(pool_last_message(want), "");
	/* The one request since: acl_requests's own. */
	assert_int_equal(acl_requests(c), before + 1);
	acl_expect_list(c, name, was, 1);
	EXPECT_RC(pool_acl_get(c, "new", NULL, 0), -ENOENT);
}

static void
local_refusals_send_nothing(void **state)
{
	struct pool_acl_entry was[] = { acl_user(1000, RW) };
	struct pool_acl_entry many[POOL_ACL_MAX + 1];
	struct pool_acl_entry bad;
	struct pool_conn *c;
	uint64_t before;
	uint32_t i;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	acl_create(c, "l", 0600, was, 1);

	acl_expect_local_refusal(c, "l", NULL, 1, -EINVAL, was);
	for (i = 0; i < POOL_ACL_MAX + 1; i++)
		many[i] = acl_user(100 + i, POOL_ACL_READ);
	acl_expect_local_refusal(c, "l", many, POOL_ACL_MAX + 1, -ENOSPC, was);
	/* No words: the code's text alone must say what was too long. */
	assert_non_null(strstr(pool_strerror(-ENOSPC), "access control list"));
	bad = acl_user(1, POOL_ACL_READ);
	bad.kind = 3;
	acl_expect_local_refusal(c, "l", &bad, 1, -EINVAL, was);
	bad = acl_group(UINT32_MAX, POOL_ACL_READ);
	acl_expect_local_refusal(c, "l", &bad, 1, -EINVAL, was);
	bad = acl_user(1, 8);
	acl_expect_local_refusal(c, "l", &bad, 1, -EINVAL, was);
	bad = acl_user(1, POOL_ACL_READ);
	bad.reserved = 1;
	acl_expect_local_refusal(c, "l", &bad, 1, -EINVAL, was);

	/* A removal's kind, id and reserved word count; its rights do not. */
	before = acl_requests(c);
	bad = acl_user(1, 0);
	bad.kind = 3;
	EXPECT_RC(pool_acl_modify(c, "l", NULL, 0, &bad, 1), -EINVAL);
	bad = acl_user(UINT32_MAX, 0);
	EXPECT_RC(pool_acl_modify(c, "l", NULL, 0, &bad, 1), -EINVAL);
	EXPECT_RC(pool_acl_modify(c, "l", NULL, 0, NULL, 1), -EINVAL);
	EXPECT_RC(pool_acl_modify(c, "l", NULL, 0, many, POOL_ACL_MAX + 1),
		  -ENOSPC);
	EXPECT_RC(pool_acl_modify(NULL, "l", NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(acl_requests(c), before + 1);
	bad = acl_user(1000, 0xff);
	EXPECT_RC(pool_acl_modify(c, "l", NULL, 0, &bad, 1), 0);
	EXPECT_RC(pool_acl_get(c, "l", NULL, 0), 0);
	pool_disconnect(c);
}

/* In a child of another uid: every change to pool "p"'s list is -EPERM. */
static int
acl_not_owner_child(void *arg)
{
	struct pool_acl_entry mine[] = { acl_user(OTHER_UID, RW) };
	struct pool_set_opts o = {.which = POOL_SET_ACL, .acl = mine,
				  .nacl = 1};
	struct pool_conn *c;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_set(c, "p", &o), -EPERM, 11);
	CHECK_RC(pool_acl_modify(c, "p", mine, 1, NULL, 0), -EPERM, 12);
	CHECK_RC(pool_acl_modify(c, "p", NULL, 0, mine, 1), -EPERM, 13);
	o.nacl = 0;
	CHECK_RC(pool_set(c, "p", &o), -EPERM, 14);
	/* Reading it needs the read right, which other (0604) gives. */
	CHECK_RC(pool_acl_get(c, "p", NULL, 0), 1, 15);
	pool_disconnect(c);
	return 0;
}

static void
daemon_refusals(void **state)
{
	struct pool_acl_entry was[] = { acl_group(20, POOL_ACL_READ) };
	struct pool_acl_entry twice[] = {
		acl_user(8, POOL_ACL_READ), acl_group(8, RW),
		acl_user(8, POOL_ACL_WRITE),
	};
	struct pool_acl_entry fill[POOL_ACL_MAX];
	struct pool_acl_entry one_more[] = { acl_user(99999, RW) };
	struct pool_acl_entry rm_fill[] = { acl_user(100, 0) };
	struct pool_conn *c;
	pid_t pid;
	uint32_t i;

	(void)state;
	harness_fixture_start(&d, "[pool f]\nsize = 4M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	acl_create(c, "p", 0604, was, 1);

	EXPECT_RC(acl_set(c, "p", twice, 3), -EINVAL);
	assert_non_null(strstr(pool_last_message(-EINVAL),
			       "user 8 is given twice"));
	EXPECT_RC(pool_acl_modify(c, "p", twice, 3, NULL, 0), -EINVAL);
	assert_non_null(strstr(pool_last_message(-EINVAL),
			       "user 8 is given twice"));
	acl_expect_list(c, "p", was, 1);

	/* 31 more make 32; one more than that is refused, as a whole. */
	for (i = 0; i < POOL_ACL_MAX - 1; i++)
		fill[i] = acl_user(100 + i, POOL_ACL_READ);
	EXPECT_RC(pool_acl_modify(c, "p", fill, POOL_ACL_MAX - 1, NULL, 0), 0);
	EXPECT_RC(pool_acl_get(c, "p", NULL, 0), POOL_ACL_MAX);
	EXPECT_RC(pool_acl_modify(c, "p", one_more, 1, NULL, 0), -ENOSPC);
	assert_non_null(strstr(pool_last_message(-ENOSPC),
			       "at most 32 entries"));
	EXPECT_RC(pool_acl_get(c, "p", fill, POOL_ACL_MAX), POOL_ACL_MAX);
	assert_int_equal(fill[0].id, 100);
	/* Room made in the same request: no refusal. */
	EXPECT_RC(pool_acl_modify(c, "p", one_more, 1, rm_fill, 1), 0);
	EXPECT_RC(pool_acl_get(c, "p", fill, POOL_ACL_MAX), POOL_ACL_MAX);
	assert_int_equal(fill[0].id, 101);
	EXPECT_RC(acl_set(c, "p", was, 1), 0);

	/* The configuration file's pool: its list is the file's to give. */
	EXPECT_RC(acl_set(c, "f", was, 1), -EROFS);
	EXPECT_RC(pool_acl_modify(c, "f", was, 1, NULL, 0), -EROFS);
	EXPECT_RC(pool_acl_get(c, "f", NULL, 0), 0);

	if (geteuid() == 0) {
		pid = harness_spawn_as(OTHER_UID, OTHER_GID,
				       acl_not_owner_child, NULL);
		assert_true(pid > 0);
		assert_int_equal(harness_wait(pid), 0);
		acl_expect_list(c, "p", was, 1);
	} else {
		fprintf(stderr, "daemon_refusals: not root: cannot drop to "
			"another uid; -EPERM not tried\n");
	}
	pool_disconnect(c);
}

/* ---- words --------------------------------------------------------------- */

static void
parse_every_form(void **state)
{
	struct pool_acl_entry e[POOL_ACL_MAX + 1];
	struct pool_acl_entry want[] = {
		acl_user(0, RW), acl_user(65534, POOL_ACL_READ),
		acl_group(0, POOL_ACL_WRITE), acl_group(20, 0),
		acl_user(1000, RW), acl_group(7, POOL_ACL_READ),
		acl_user(5, POOL_ACL_WRITE), acl_group(6, 0),
	};
	struct pool_acl_entry names[] = {
		acl_user(0, 0), acl_group(0, 0), acl_user(65534, 0),
	};
	char err[256], text[POOL_ACL_MAX * 16 + 1];
	size_t at = 0;
	int i;

	(void)state;
	EXPECT_RC(pool_acl_parse("user:root:rw,u:nobody:r group:root:w "
				 "g:20:-,\tuser:1000:rw- group:7:r--,"
				 "u:5:-w-\ng:6:---", 0, e, POOL_ACL_MAX,
				 err, sizeof(err)), 8);
	acl_expect_entries(e, want, 8);
	assert_string_equal(err, "");
	EXPECT_RC(pool_acl_parse("none", 0, e, 4, err, sizeof(err)), 0);
	EXPECT_RC(pool_acl_parse(" none\n", 0, e, 4, err, sizeof(err)), 0);
	EXPECT_RC(pool_acl_parse("none,user:1:r", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "none stands alone"));
	EXPECT_RC(pool_acl_parse("user:1:r none", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "none stands alone"));
	EXPECT_RC(pool_acl_parse("", 0, NULL, 0, err, sizeof(err)), 0);
	EXPECT_RC(pool_acl_parse(" , ,", 0, e, 4, NULL, 0), 0);
	EXPECT_RC(pool_acl_parse("user:4294967294:r", 0, e, 1, NULL, 0), 1);
	assert_int_equal(e[0].id, 4294967294u);

	EXPECT_RC(pool_acl_parse("user:1:rwx", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "user:1:rwx: x (execute)"));
	EXPECT_RC(pool_acl_parse("user:1:q", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "user:1:q: rights are rw, r, w or -"));
	EXPECT_RC(pool_acl_parse("g:1:r,user:1", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "user:1: no rights"));
	EXPECT_RC(pool_acl_parse("other:1:r", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "'other': an entry is of a user or a "
			       "group"));
	EXPECT_RC(pool_acl_parse("alice", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "'alice'"));
	EXPECT_RC(pool_acl_parse("group::r", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_non_null(strstr(err, "no group named"));
	/*
	 * No name holds a colon, the fields' separator of /etc/passwd and
	 * /etc/group: refused as poolmgrd.conf(5) refuses it, not looked up.
	 */
	EXPECT_RC(pool_acl_parse("user:a:b:rw", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_string_equal(err, "user:a:b:rw: no user name holds a colon");
	EXPECT_RC(pool_acl_parse("u:1:r,g:root:x:r", 0, e, 4, err,
				 sizeof(err)), -EINVAL);
	assert_string_equal(err, "g:root:x:r: no group name holds a colon");
	EXPECT_RC(pool_acl_parse("user:::rw", 0, e, 4, err, sizeof(err)),
		  -EINVAL);
	assert_string_equal(err, "user:::rw: no user name holds a colon");
	EXPECT_RC(pool_acl_parse("user:4294967295:r", 0, e, 4, err,
				 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "below 4294967295"));
	EXPECT_RC(pool_acl_parse("user:no-such-user-here:r", 0, e, 4, err,
				 sizeof(err)), -ENOENT);
	assert_string_equal(err, "user:no-such-user-here: no such user");
	EXPECT_RC(pool_acl_parse("g:no-such-group-here:r", 0, e, 4, err,
				 sizeof(err)), -ENOENT);
	assert_string_equal(err, "g:no-such-group-here: no such group");
	/* No err: the code alone. */
	EXPECT_RC(pool_acl_parse("user:1:x", 0, e, 4, NULL, 0), -EINVAL);
	EXPECT_RC(pool_acl_parse(NULL, 0, e, 4, NULL, 0), -EINVAL);
	EXPECT_RC(pool_acl_parse("u:1:r", 0, NULL, 4, NULL, 0), -EINVAL);
	EXPECT_RC(pool_acl_parse("u:1:r", 0x4, e, 4, NULL, 0), -EINVAL);

	/* More than max. */
	for (i = 0; i <= POOL_ACL_MAX; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%su:%d:r",
				       i ? "," : "", i);
	EXPECT_RC(pool_acl_parse(text, 0, e, POOL_ACL_MAX + 1, NULL, 0),
		  POOL_ACL_MAX + 1);
	EXPECT_RC(pool_acl_parse(text, 0, e, POOL_ACL_MAX, err, sizeof(err)),
		  -ENOSPC);
	assert_string_equal(err, "more than 32 entries");
	EXPECT_RC(pool_acl_parse("u:1:r", 0, NULL, 0, NULL, 0), -ENOSPC);

	/* Entries without rights, as a removal names them. */
	EXPECT_RC(pool_acl_parse("user:root group:root,u:nobody",
				 POOL_ACL_PARSE_NO_RIGHTS, e, 4, err,
				 sizeof(err)), 3);
	acl_expect_entries(e, names, 3);
	EXPECT_RC(pool_acl_parse("user:root:rw", POOL_ACL_PARSE_NO_RIGHTS, e,
				 4, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "user:root:rw: a removal names the user "
			    "alone, without rights");
	/* The words name the kind, not the letter it was written as. */
	EXPECT_RC(pool_acl_parse("g:root:r", POOL_ACL_PARSE_NO_RIGHTS, e, 4,
				 err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "g:root:r: a removal names the group "
			    "alone, without rights");
	/* Two colons past the kind: a name with a colon, rights or not. */
	EXPECT_RC(pool_acl_parse("user:a:b:rw", POOL_ACL_PARSE_NO_RIGHTS, e,
				 4, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "user:a:b:rw: no user name holds a colon");
}

static void
format_names_and_cuts(void **state)
{
	struct pool_acl_entry e[] = {
		acl_user(0, RW), acl_user(4294967294u, 0),
		acl_group(0, POOL_ACL_READ), acl_group(65534, POOL_ACL_WRITE),
	};
	struct pool_acl_entry back[4];
	const char *numbers = "user:0:rw,user:4294967294:-,group:0:r,"
			      "group:65534:w";
	char buf[256], small[8];
	struct group *g = getgrgid(65534);
	char named[256];

	(void)state;
	EXPECT_RC(pool_acl_format(e, 4, 0, buf, sizeof(buf)),
		  (int)strlen(numbers));
	assert_string_equal(buf, numbers);
	snprintf(named, sizeof(named), "user:root:rw,user:4294967294:-,"
		 "group:root:r,group:%s:w", g != NULL ? g->gr_name : "65534");
	EXPECT_RC(pool_acl_format(e, 4, POOL_ACL_FORMAT_NAMES, buf,
				  sizeof(buf)), (int)strlen(named));
	assert_string_equal(buf, named);
	EXPECT_RC(pool_acl_parse(buf, 0, back, 4, NULL, 0), 4);
	acl_expect_entries(back, e, 4);

	/* Cut, terminated, the whole length returned. */
	memset(small, 'z', sizeof(small));
	EXPECT_RC(pool_acl_format(e, 4, 0, small, sizeof(small)),
		  (int)strlen(numbers));
	assert_string_equal(small, "user:0:");
	EXPECT_RC(pool_acl_format(e, 4, 0, small, 1), (int)strlen(numbers));
	assert_string_equal(small, "");
	EXPECT_RC(pool_acl_format(e, 4, 0, NULL, 0), (int)strlen(numbers));

	EXPECT_RC(pool_acl_format(NULL, 0, 0, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "none");
	EXPECT_RC(pool_acl_format(e, 0, 0, small, 3), 4);
	assert_string_equal(small, "no");
	EXPECT_RC(pool_acl_format(NULL, 1, 0, buf, sizeof(buf)), -EINVAL);
	EXPECT_RC(pool_acl_format(e, 1, 0, NULL, 4), -EINVAL);
	EXPECT_RC(pool_acl_format(e, 1, 0x2, buf, sizeof(buf)), -EINVAL);
	back[0] = e[0];
	back[0].kind = 3;
	EXPECT_RC(pool_acl_format(back, 1, 0, buf, sizeof(buf)), -EINVAL);
	/*
	 * Nor an entry whose words would read back as another, or not at
	 * all: rights beyond read and write, the id no one has.
	 */
	back[0] = acl_user(5, POOL_ACL_READ | 8);
	EXPECT_RC(pool_acl_format(back, 1, 0, buf, sizeof(buf)), -EINVAL);
	back[0] = acl_user(5, 8);
	EXPECT_RC(pool_acl_format(back, 1, 0, buf, sizeof(buf)), -EINVAL);
	back[0] = acl_group(UINT32_MAX, POOL_ACL_READ);
	EXPECT_RC(pool_acl_format(back, 1, 0, buf, sizeof(buf)), -EINVAL);
}

/* ---- names that would not read back ----------------------------------- */

/* Users and groups whose names pool_acl_parse would misread, and two not. */
#define ODD_PASSWD							\
	"pm,comma:x:4311:4311::/:/bin/false\n"				\
	"pm blank:x:4312:4312::/:/bin/false\n"				\
	"4313:x:4314:4314::/:/bin/false\n"				\
	"007:x:4316:4316::/:/bin/false\n"				\
	"none:x:4317:4317::/:/bin/false\n"				\
	"pmdup:x:4318:4318::/:/bin/false\n"				\
	"pmdup:x:4319:4319::/:/bin/false\n"				\
	"pm\ttab:x:4320:4320::/:/bin/false\n"				\
	"pm\033esc:x:4321:4321::/:/bin/false\n"			\
	"pmplain:x:4323:4323::/:/bin/false\n"
#define ODD_GROUP							\
	"pm blank:x:4331:\n"						\
	"pm,comma:x:4332:\n"						\
	"4333:x:4334:\n"						\
	"pmgplain:x:4335:\n"

/* The child's checks: 0, or the number of the first that failed. */
static int
format_reads_back_child(void *arg)
{
	static const uint32_t users[] = {
		4311, 4312, 4314, 4316, 4317, 4318, 4319, 4320, 4321,
	};
	static const uint32_t groups[] = { 4331, 4332, 4334, 4335 };
	const char *want = "user:4311:r,user:4312:r,user:4314:r,"
			   "user:4316:r,user:none:r,"
			   "user:pmdup:r,user:4319:r,user:4320:r,user:4321:r,"
			   "user:pmplain:rw,group:4331:r,group:4332:r,"
			   "group:4334:r,group:pmgplain:w";
	struct pool_acl_entry e[16], back[16];
	char buf[1024], err[256];
	size_t i, n = 0;
	int rc;

	(void)arg;
	if ((rc = harness_ids_bind(ODD_PASSWD, ODD_GROUP, "pmplain")) != 0)
		return rc;
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		e[n++] = acl_user(users[i], POOL_ACL_READ);
	e[n++] = acl_user(4323, RW);
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		e[n++] = acl_group(groups[i], i == 3 ? POOL_ACL_WRITE :
				   POOL_ACL_READ);
	rc = pool_acl_format(e, n, POOL_ACL_FORMAT_NAMES, buf, sizeof(buf));
	if (rc != (int)strlen(want) || strcmp(buf, want) != 0) {
		fprintf(stderr, "pool_acl_format wrote \"%s\"\n", buf);
		return 1;
	}
	if (pool_acl_parse(buf, 0, back, 16, err, sizeof(err)) != (int)n) {
		fprintf(stderr, "pool_acl_parse: %s\n", err);
		return 2;
	}
	for (i = 0; i < n; i++)
		if (back[i].kind != e[i].kind || back[i].id != e[i].id ||
		    back[i].rights != e[i].rights)
			return 3;
	return 0;
}

static void
format_reads_back(void **state)
{
	pid_t pid;
	int rc;

	(void)state;
	harness_skip_unless_root("bind password and group databases of its "
				 "own");
	pid = harness_spawn(format_reads_back_child, NULL);
	assert_true(pid > 0);
	rc = harness_wait(pid);
	if (rc == 99)
		skip();		/* no mount namespace, or NSS before files */
	if (rc == 1)
		fail_msg("pool_acl_format wrote a name that does not read "
			 "back as its id (stderr has the text)");
	if (rc == 2 || rc == 3)
		fail_msg("what pool_acl_format wrote did not parse back to "
			 "the same entries");
	assert_int_equal(rc, 0);
}

static void
too_old_names_lists(void **state)
{
	(void)state;
	assert_non_null(strstr(pool_strerror(-EOPNOTSUPP),
			       "an access control list"));
}

/* ---- a group too big for a small buffer ---------------------------------- */

#define BIG_GID 43210
#define BIG_MEMBERS 3000	/* "memberNNNN," each: some 33 KiB */

/* The child's checks: 0, or the number of the first that failed. */
static int
big_group_child(void *arg)
{
	struct pool_acl_entry e[2];
	char err[256], buf[128];
	int rc;

	(void)arg;
	if ((rc = harness_big_group(BIG_GID, BIG_MEMBERS)) != 0)
		return rc;
	if (pool_acl_parse("group:pmbig:r", 0, e, 2, err, sizeof(err)) != 1)
		return 1;
	if (e[0].kind != POOL_ACL_GROUP || e[0].id != BIG_GID)
		return 2;
	if (pool_acl_parse("g:pmbig", POOL_ACL_PARSE_NO_RIGHTS, e, 2, err,
			   sizeof(err)) != 1 || e[0].id != BIG_GID)
		return 3;
	e[0].rights = POOL_ACL_READ;
	if (pool_acl_format(e, 1, POOL_ACL_FORMAT_NAMES, buf, sizeof(buf)) < 0
	    || strcmp(buf, "group:pmbig:r") != 0)
		return 4;
	return 0;
}

static void
names_of_a_big_group(void **state)
{
	pid_t pid;
	int rc;

	(void)state;
	harness_skip_unless_root("bind a group database of its own");
	pid = harness_spawn(big_group_child, NULL);
	assert_true(pid > 0);
	rc = harness_wait(pid);
	if (rc == 99)
		skip();		/* no mount namespace here */
	if (rc == 1 || rc == 3)
		fail_msg("pool_acl_parse found no group pmbig by its name");
	if (rc == 4)
		fail_msg("pool_acl_format did not name the group pmbig");
	assert_int_equal(rc, 0);
}

/* ---- what a list decides ------------------------------------------------- */

/* What the child must get from opening pool "x" read-write and read-only. */
struct acl_want {
	int rw;
	int ro;
};

static int
acl_open_child(void *arg)
{
	const struct acl_want *w = arg;
	struct pool_conn *c;
	struct pool *p = NULL;
	pool_off_t off;

	CHECK_RC(pool_connect(NULL, &c), 0, 20);
	CHECK_RC(pool_open(c, "x", &p), w->rw, 21);
	if (w->rw == 0) {
		/* Really writable: an allocation and a write to it. */
		CHECK_RC(pool_alloc(p, 64, &off), 0, 22);
		memset(pool_ptr(p, off), 1, 64);
		CHECK_RC(pool_free(p, off), 0, 23);
		pool_close(p);
	}
	CHECK_RC(pool_open_readonly(c, "x", &p), w->ro, 24);
	if (w->ro == 0)
		pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * Run acl_open_child as OTHER_UID, primary group OTHER_GID and
 * supplementary group OTHER_GROUP: each open must give what w says.
 */
static void
acl_expect_child(int rw, int ro)
{
	struct acl_want w = {.rw = rw, .ro = ro};
	gid_t groups[] = { OTHER_GROUP };
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(1, groups) == -1 || setgid(OTHER_GID) == -1 ||
		    setuid(OTHER_UID) == -1)
			_exit(126);
		_exit(acl_open_child(&w));
	}
	assert_int_equal(harness_wait(pid), 0);
}

static int
acl_modify_one(struct pool_conn *c, struct pool_acl_entry e)
{
	return pool_acl_modify(c, "x", &e, 1, NULL, 0);
}

static void
entries_decide_access(void **state)
{
	struct pool_acl_entry refuse[] = { acl_user(OTHER_UID, 0) };
	struct pool_acl_entry mine = acl_group(OTHER_GROUP, POOL_ACL_READ);
	struct pool_set_opts mode = {.which = POOL_SET_MODE};
	struct pool_conn *c;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);

	/* Other may read and write; the user entry says no. */
	acl_create(c, "x", 0606, refuse, 1);
	acl_expect_child(-EACCES, -EACCES);
	EXPECT_RC(acl_modify_one(c, acl_user(OTHER_UID, POOL_ACL_READ)), 0);
	acl_expect_child(-EACCES, 0);
	EXPECT_RC(acl_modify_one(c, acl_user(OTHER_UID, RW)), 0);
	acl_expect_child(0, 0);

	/* Owner only in the mode: the entry alone lets it in. */
	mode.mode = 0600;
	EXPECT_RC(pool_set(c, "x", &mode), 0);
	acl_expect_child(0, 0);
	/* Write alone opens nothing: a read-write handle reads too. */
	EXPECT_RC(acl_modify_one(c, acl_user(OTHER_UID, POOL_ACL_WRITE)), 0);
	acl_expect_child(-EACCES, -EACCES);
	EXPECT_RC(pool_acl_modify(c, "x", NULL, 0, refuse, 1), 0);
	acl_expect_child(-EACCES, -EACCES);

	/* Its supplementary group's entry grants, or keeps it out. */
	EXPECT_RC(acl_modify_one(c, acl_group(OTHER_GROUP, POOL_ACL_READ)), 0);
	acl_expect_child(-EACCES, 0);
	EXPECT_RC(acl_modify_one(c, acl_group(OTHER_GROUP, RW)), 0);
	acl_expect_child(0, 0);
	mode.mode = 0606;
	EXPECT_RC(pool_set(c, "x", &mode), 0);
	EXPECT_RC(acl_modify_one(c, acl_group(OTHER_GROUP, 0)), 0);
	acl_expect_child(-EACCES, -EACCES);
	/* A group of another's entry: it is in none, so other applies. */
	EXPECT_RC(pool_acl_modify(c, "x", NULL, 0, &mine, 1), 0);
	EXPECT_RC(acl_modify_one(c, acl_group(OTHER_GROUP + 1, 0)), 0);
	acl_expect_child(0, 0);
	/* Its user entry comes first, before a group entry that grants. */
	EXPECT_RC(acl_modify_one(c, acl_group(OTHER_GROUP, RW)), 0);
	EXPECT_RC(acl_modify_one(c, acl_user(OTHER_UID, 0)), 0);
	acl_expect_child(-EACCES, -EACCES);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(created_with_a_list, &d),
		HARNESS_FIXTURE_TEST(set_replaces_and_clears, &d),
		HARNESS_FIXTURE_TEST(stats_count_entries, &d),
		HARNESS_FIXTURE_TEST(modify_changes_some, &d),
		HARNESS_FIXTURE_TEST(local_refusals_send_nothing, &d),
		HARNESS_FIXTURE_TEST(daemon_refusals, &d),
		cmocka_unit_test(parse_every_form),
		cmocka_unit_test(format_names_and_cuts),
		cmocka_unit_test(format_reads_back),
		cmocka_unit_test(too_old_names_lists),
		cmocka_unit_test(names_of_a_big_group),
		HARNESS_FIXTURE_TEST(entries_decide_access, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
