/*
 * itest_user_quota_entries.c - uids' own user quotas: entries {uid, bytes}
 * that bind a uid in place of the pool's user quota (CreatePool.user_quotas,
 * SetPool.user_quota_modify and user_quota_remove, PoolStats.user_quotas,
 * UserUsage.quota and quota_own), driven through the raw protocol from
 * processes of several uids, as the library has no call for them yet.
 *
 * Each filler is a child of its own uid that opens the pool and allocates
 * blocks of 64 KiB until a user quota refuses one (and checks the words of
 * the refusal) or it has as many as it was told: how many it got says its
 * bound.
 *
 *   features_say_entries  HelloReply.features has bit 11.
 *   entries_bind_their_uids  default 1 MiB; uid A's own 2 MiB, B's
 *       256 KiB, C's none: A gets 32 blocks, B 4, C all it asks, D (no
 *       entry) 16, the refusals saying "uid A's own user quota of
 *       2.0 MiB" and "the pool's quota of 1.0 MiB per user".  A SetPool
 *       lowers A, raises B and removes C's entry: A gets 2, B 8, C 16.
 *   default_none_binds_only_listed  a pool without a default and one
 *       entry: the listed uid gets 4 blocks, another all it asks.
 *   set_semantics_and_refusals  remove then modify, in one request; a
 *       uid removed that has no entry is no error; lowering an entry
 *       below what the uid holds takes nothing back and refuses the next
 *       allocation; 33 entries (-ENOSPC, made by CreatePool or by a
 *       SetPool), a uid twice in the modification, in the removal or in
 *       both, and uid 4294967295, set or removed (-EINVAL), are refused
 *       with words and change nothing, not even the mode sent along;
 *       the pool's owner
 *       who is no admin: -EPERM.  A CreatePool refused makes no pool.
 *       The log names each change, "user_quotas A -> B".
 *   set_refused_last_changes_nothing  a SetPool of a mode, a user
 *       quota, entries removed and set and an access control list that
 *       is refused last: none of it holds, and nothing is logged.
 *   log_names_longest_change  a full list of the longest entries
 *       changed whole in a pool of the longest name: the log line names
 *       both lists, whole, to the new one's last entry.
 *   open_reply_shares_the_bound  OpenReply.quota is the uid's own bound
 *       over its handles, the pool's where it has no entry, and 0 with an
 *       entry of none.
 *   waiting_alloc_wakes_when_raised  an Alloc waiting under its uid's
 *       entry (wait_ms 20 s) is answered as soon as the entry is raised.
 *   wait_runs_out_in_its_words  such a wait that runs out says the
 *       uid's own bound; after the entry's removal, the pool's.
 *   own_names_evicted_under_entry  a uid at its own bound with unheld
 *       evictable names of its own: an allocation evicts the oldest and
 *       is served; the count of evictions says one.
 *   users_say_each_bound  ListUsers gives each uid its bound in force
 *       and whether it is its own.
 *   stats_gated_as_settings  PoolStats.user_quotas comes sorted to a
 *       uid that may read the pool; one that may not gets -EACCES and
 *       does not see the pool listed; ListPools leaves the entries out.
 *   kept_across_restart_in_place  the entries survive a restart in place
 *       and still bind.
 *   kept_across_crash  a list made, changed and emptied survives a
 *       crash under systemd's fd store, each time as it was; a pool
 *       destroyed and made anew under its name has its new list alone.
 *   kept_across_compaction  a list changed after its pool's making,
 *       and a pool with one destroyed: after the journal is compacted
 *       and the daemon crashes, the list is as changed and the pool
 *       destroyed stays so.
 *
 * Check (raw, as `poolctl check` asks it) passes after each that holds
 * blocks.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "harness_store.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)
#define BLOCK (64 * KiB)
#define POOL_SIZE (16 * MiB)
#define UID_A 4001
#define UID_B 4002
#define UID_C 4003
#define UID_D 4004
#define NOBODY 4294967295u

static struct daemon_proc d;
static struct harness_store st;

/* Entries on the wire, with room for them. */
struct wire_uq {
	Poolmgr__UserQuota e[40], *p[40];
};

/* The first n of v ({uid, bytes}) as messages in w: the pointers. */
static Poolmgr__UserQuota **
wire_uq(struct wire_uq *w, const uint64_t (*v)[2], size_t n)
{
	size_t i;

	assert_true(n <= 40);
	for (i = 0; i < n; i++) {
		poolmgr__user_quota__init(&w->e[i]);
		w->e[i].uid = (uint32_t)v[i][0];
		w->e[i].bytes = v[i][1];
		w->p[i] = &w->e[i];
	}
	return w->p;
}

/*
 * req's round trip: the reply's error (HARNESS_RAW_LOST for none), the
 * reply itself in *out whatever its error (NULL for none), to be freed.
 */
static int
asked(int fd, Poolmgr__Request *req, Poolmgr__Reply **out)
{
	*out = harness_raw_ask(fd, req);
	return *out ? (*out)->error : HARNESS_RAW_LOST;
}

/* A raw connection that said Hello, or the test fails. */
static int
greeted(const char *sock)
{
	int fd = harness_raw_greeted(sock, "uq");

	assert_true(fd >= 0);
	return fd;
}

/*
 * CreatePool name (16 MiB, mode) with the default user quota dflt and
 * the n entries of v: the reply's error; its words into why (may be
 * NULL).
 */
static int
make_pool(int fd, const char *name, uint32_t mode, uint64_t dflt,
	  const uint64_t (*v)[2], size_t n, char *why, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__Reply *rep;
	struct wire_uq w;
	int rc;

	m.name = (char *)name;
	m.max_size = POOL_SIZE;
	m.mode = mode;
	m.user_quota = dflt;
	m.n_user_quotas = n;
	m.user_quotas = wire_uq(&w, v, n);
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &m;
	rc = asked(fd, &req, &rep);
	if (why)
		snprintf(why, len, "%s", rep && rep->message ? rep->message
							    : "");
	if (rep)
		poolmgr__reply__free_unpacked(rep, NULL);
	return rc;
}

/* What a SetPool of the entries carries. */
struct uq_set {
	const uint64_t (*mod)[2];
	size_t nmod;
	const uint32_t *rm;
	size_t nrm;
	uint32_t mode;		/* 0: not set */
};

/* SetPool name as s says: the reply's error, its words into why. */
static int
set_pool(int fd, const char *name, const struct uq_set *s, char *why,
	 size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	Poolmgr__Reply *rep;
	struct wire_uq w;
	int rc;

	m.name = (char *)name;
	m.n_user_quota_modify = s->nmod;
	m.user_quota_modify = wire_uq(&w, s->mod, s->nmod);
	m.n_user_quota_remove = s->nrm;
	m.user_quota_remove = (uint32_t *)s->rm;
	if (s->mode) {
		m.set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
		m.mode = s->mode;
	}
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &m;
	rc = asked(fd, &req, &rep);
	if (why)
		snprintf(why, len, "%s", rep && rep->message ? rep->message
							    : "");
	if (rep)
		poolmgr__reply__free_unpacked(rep, NULL);
	return rc;
}

/* set_pool that must succeed. */
static void
set_ok(int fd, const char *name, const struct uq_set *s)
{
	char why[256];
	int rc = set_pool(fd, name, s, why, sizeof(why));

	if (rc != 0)
		fail_msg("SetPool %s: %d: %s", name, rc, why);
}

/*
 * PoolStats of name over fd: its error; with 0, the entries as
 * "uid:bytes,..." ("none" for none) into buf, the mode into *mode.
 */
static int
stats_said(int fd, const char *name, char *buf, size_t len, uint32_t *mode)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	size_t i, at = 0;
	int rc;

	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	if ((rc = asked(fd, &req, &rep)) != 0) {
		if (rep)
			poolmgr__reply__free_unpacked(rep, NULL);
		return rc;
	}
	snprintf(buf, len, "none");
	for (i = 0; i < rep->stats->n_user_quotas; i++) {
		at += (size_t)snprintf(buf + at, len - at, "%s%u:%llu",
				       i ? "," : "",
				       rep->stats->user_quotas[i]->uid,
				       (unsigned long long)
				       rep->stats->user_quotas[i]->bytes);
		if (at >= len)
			break;
	}
	if (mode)
		*mode = rep->stats->mode;
	poolmgr__reply__free_unpacked(rep, NULL);
	return 0;
}

/* name's entries as stats_said says them must be want. */
static void
expect_said(int fd, const char *name, const char *want)
{
	char said[1024];

	assert_int_equal(stats_said(fd, name, said, sizeof(said), NULL), 0);
	assert_string_equal(said, want);
}

/* ---- the fillers --------------------------------------------------------- */

/* What a filler does: in pool, up to most blocks, refused in words. */
struct fill {
	const char *sock;
	const char *pool;
	unsigned most;
	const char *words;	/* the refusal must say this; NULL: none due */
};

/*
 * In the child: blocks of BLOCK until refused or most: how many (under
 * 200), or 200 and up for a failure, said on stderr.
 */
static int
fill_child(void *arg)
{
	const struct fill *f = arg;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply *rep;
	unsigned n;
	uint32_t h;
	int fd, rc;

	if ((fd = harness_raw_greeted(f->sock, "filler")) < 0)
		return 200;
	if (harness_raw_open(fd, f->pool, &h) != 0)
		return 201;
	for (n = 0; n < f->most; n++) {
		m.handle = h;
		m.size = BLOCK;
		req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
		req.alloc = &m;
		rc = asked(fd, &req, &rep);
		if (rc == -EDQUOT) {
			CHECK(f->words != NULL, 202);
			if (!strstr(rep->message, f->words)) {
				fprintf(stderr, "filler: refused in \"%s\", "
					"not \"%s\"\n", rep->message,
					f->words);
				return 203;
			}
			poolmgr__reply__free_unpacked(rep, NULL);
			break;
		}
		CHECK(rc == 0, 204);
		CHECK(rep->alloc->usable_size == BLOCK, 205);
		poolmgr__reply__free_unpacked(rep, NULL);
	}
	if (n == f->most)
		CHECK(f->words == NULL, 206);
	close(fd);
	return (int)n;
}

/*
 * A process of uid fills pool as f says: the blocks it got (the test
 * fails on any other end).
 */
static unsigned
filled(uid_t uid, const char *sock, const char *pool, unsigned most,
       const char *words)
{
	struct fill f = {.sock = sock, .pool = pool, .most = most,
			 .words = words};
	pid_t pid = harness_spawn_as(uid, uid, fill_child, &f);
	int rc;

	assert_true(pid > 0);
	rc = harness_wait(pid);
	if (rc >= 200)
		fail_msg("filler of uid %u in %s: exit %d", (unsigned)uid,
			 pool, rc);
	return (unsigned)rc;
}

/* The daemon of the fixture with its directory open to the other uids. */
static void
start(void)
{
	harness_fixture_start(&d, "");
	assert_int_equal(chmod(d.dir, 0755), 0);
}

/* ---- what is honoured ---------------------------------------------------- */

static void
features_say_entries(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;
	Poolmgr__Reply *rep;
	int fd;

	(void)state;
	start();
	assert_true((fd = harness_raw_connect(d.sock)) >= 0);
	hello.version = 1;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	assert_true(rep->hello->features & (1ull << 11));
	poolmgr__reply__free_unpacked(rep, NULL);
	close(fd);
}

/* ---- who is bound by what ------------------------------------------------ */

static void
entries_bind_their_uids(void **state)
{
	static const uint64_t made[][2] = {
		{UID_C, 0}, {UID_A, 2 * MiB}, {UID_B, 256 * KiB},
	};
	static const uint64_t mod[][2] = {
		{UID_A, 128 * KiB}, {UID_B, 512 * KiB},
	};
	static const uint32_t rm[] = {UID_C};
	struct uq_set s = {.mod = mod, .nmod = 2, .rm = rm, .nrm = 1};
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "e", 0666, 1 * MiB, made, 3, NULL, 0),
			 0);
	expect_said(fd, "e", "4001:2097152,4002:262144,4003:0");
	assert_int_equal(filled(UID_A, d.sock, "e", 100,
				"uid 4001's own user quota of 2.0 MiB"), 32);
	assert_int_equal(filled(UID_B, d.sock, "e", 100,
				"uid 4002's own user quota of 256.0 KiB"), 4);
	assert_int_equal(filled(UID_C, d.sock, "e", 100, NULL), 100);
	assert_int_equal(filled(UID_D, d.sock, "e", 100,
				"the pool's quota of 1.0 MiB per user"), 16);

	set_ok(fd, "e", &s);
	expect_said(fd, "e", "4001:131072,4002:524288");
	harness_expect_logged(&d, "user_quotas 4001:2097152,4002:262144,"
			      "4003:none -> 4001:131072,4002:524288");
	assert_int_equal(filled(UID_A, d.sock, "e", 100, "own user quota"),
			 2);
	assert_int_equal(filled(UID_B, d.sock, "e", 100, "own user quota"),
			 8);
	assert_int_equal(filled(UID_C, d.sock, "e", 100, "per user"), 16);
	assert_int_equal(filled(UID_D, d.sock, "e", 100, "per user"), 16);
	harness_raw_check(fd, "e");
	close(fd);
}

static void
default_none_binds_only_listed(void **state)
{
	static const uint64_t made[][2] = {{UID_B, 256 * KiB}};
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "n", 0666, 0, made, 1, NULL, 0), 0);
	assert_int_equal(filled(UID_B, d.sock, "n", 100, "own user quota"),
			 4);
	assert_int_equal(filled(UID_A, d.sock, "n", 100, NULL), 100);
	harness_raw_check(fd, "n");
	close(fd);
}

/* ---- changing them ------------------------------------------------------- */

/* A SetPool s of pool r must be refused with rc, saying words, and
 * change nothing: the entries stay was, the mode 0666. */
static void
refused_unchanged(int fd, const struct uq_set *s, int rc, const char *words,
		  const char *was)
{
	char why[256], said[1024];
	uint32_t mode;

	assert_int_equal(set_pool(fd, "r", s, why, sizeof(why)), rc);
	printf("user_quota_entries: refused: %s\n", why);
	assert_non_null(strstr(why, words));
	assert_int_equal(stats_said(fd, "r", said, sizeof(said), &mode), 0);
	assert_string_equal(said, was);
	assert_int_equal(mode, 0666);
}

/* The 33 entries of uids 5000 to 5032, 1 MiB each. */
static void
many_entries(uint64_t (*v)[2], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		v[i][0] = 5000 + i;
		v[i][1] = 1 * MiB;
	}
}

/* Raw allocations of BLOCK through h until refused: how many. */
static unsigned
raw_fill(int fd, uint32_t h, unsigned most, const char *words)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply *rep;
	unsigned n;
	int rc;

	for (n = 0; n < most; n++) {
		m.handle = h;
		m.size = BLOCK;
		req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
		req.alloc = &m;
		rc = asked(fd, &req, &rep);
		if (rc == -EDQUOT) {
			printf("user_quota_entries: refused: %s\n",
			       rep->message);
			assert_non_null(strstr(rep->message, words));
			poolmgr__reply__free_unpacked(rep, NULL);
			break;
		}
		assert_int_equal(rc, 0);
		poolmgr__reply__free_unpacked(rep, NULL);
	}
	return n;
}

/* The pool's owner, no admin, may not change its entries. */
static int
owner_child(void *arg)
{
	static const uint64_t mod[][2] = {{UID_A, 0}};
	struct uq_set s = {.mod = mod, .nmod = 1};
	int fd = harness_raw_greeted(arg, "owner");
	char why[256];

	CHECK(fd >= 0, 20);
	CHECK_RC(set_pool(fd, "r", &s, why, sizeof(why)), -EPERM, 21);
	CHECK(strstr(why, "admin") != NULL, 22);
	close(fd);
	return 0;
}

static void
set_semantics_and_refusals(void **state)
{
	static const uint64_t made[][2] = {{0, 1 * MiB}, {UID_A, 64 * KiB}};
	static const uint64_t low[][2] = {{0, 256 * KiB}};
	static const uint64_t twice[][2] = {{UID_B, 1}, {UID_B, 2}};
	static const uint64_t nobody[][2] = {{NOBODY, 1}};
	static const uint64_t b_set[][2] = {{UID_B, 1}};
	static const uint32_t rm_twice[] = {UID_A, UID_A};
	static const uint32_t rm_b[] = {UID_B};
	static const uint32_t rm_a[] = {UID_A};
	static const uint32_t rm_nobody[] = {NOBODY};
	static const uint32_t rm_a_absent[] = {UID_A, UID_D};
	static const uint64_t re_a[][2] = {{UID_A, 192 * KiB}};
	uint64_t many[33][2];
	struct uq_set s = {0};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool own = POOLMGR__SET_POOL__INIT;
	char why[256], said[1024];
	const char *was = "0:1048576,4001:65536";
	uint32_t h;
	pid_t pid;
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	many_entries(many, 33);
	/* Refused at creation: nothing made. */
	assert_int_equal(make_pool(fd, "r", 0666, 0, many, 33, why,
				   sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "at most 32"));
	assert_int_equal(make_pool(fd, "r", 0666, 0, twice, 2, why,
				   sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(make_pool(fd, "r", 0666, 0, nobody, 1, why,
				   sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "nobody"));
	assert_int_equal(stats_said(fd, "r", said, sizeof(said), NULL),
			 -ENOENT);
	assert_int_equal(make_pool(fd, "r", 0666, 0, made, 2, NULL, 0), 0);
	expect_said(fd, "r", was);

	/* The test's own uid under its entry; lowered, nothing goes back. */
	h = harness_raw_handle(fd, "r");
	assert_int_equal(raw_fill(fd, h, 100, "uid 0's own user quota of "
				  "1.0 MiB"), 16);
	s = (struct uq_set){.mod = low, .nmod = 1};
	set_ok(fd, "r", &s);
	assert_int_equal(raw_fill(fd, h, 100, "uid 0's own user quota of "
				  "256.0 KiB (it holds 1.0 MiB)"), 0);
	s = (struct uq_set){.mod = made, .nmod = 1};
	set_ok(fd, "r", &s);
	expect_said(fd, "r", was);

	/* Refusals change nothing, not the mode sent along either. */
	s = (struct uq_set){.mod = twice, .nmod = 2, .mode = 0600};
	refused_unchanged(fd, &s, -EINVAL, "given twice", was);
	s = (struct uq_set){.rm = rm_twice, .nrm = 2, .mode = 0600};
	refused_unchanged(fd, &s, -EINVAL, "removed twice", was);
	s = (struct uq_set){.mod = b_set, .nmod = 1, .rm = rm_b, .nrm = 1,
			    .mode = 0600};
	refused_unchanged(fd, &s, -EINVAL, "both removed and set", was);
	s = (struct uq_set){.mod = nobody, .nmod = 1, .mode = 0600};
	refused_unchanged(fd, &s, -EINVAL, "nobody", was);
	s = (struct uq_set){.rm = rm_nobody, .nrm = 1, .mode = 0600};
	refused_unchanged(fd, &s, -EINVAL, "nobody", was);
	s = (struct uq_set){.mod = many, .nmod = 31, .mode = 0600};
	refused_unchanged(fd, &s, -ENOSPC, "would make 33", was);
	s = (struct uq_set){.mod = many, .nmod = 33, .mode = 0600};
	refused_unchanged(fd, &s, -ENOSPC, "at most 32", was);

	/* 32 is the most; remove then modify, a uid absent no error. */
	s = (struct uq_set){.mod = many, .nmod = 30};
	set_ok(fd, "r", &s);
	s = (struct uq_set){.rm = rm_a_absent, .nrm = 2};
	set_ok(fd, "r", &s);
	assert_int_equal(stats_said(fd, "r", said, sizeof(said), NULL), 0);
	assert_null(strstr(said, "4001:"));
	assert_non_null(strstr(said, "5029:1048576"));
	s = (struct uq_set){.mod = re_a, .nmod = 1};
	set_ok(fd, "r", &s);	/* the 32nd */
	s = (struct uq_set){.mod = b_set, .nmod = 1};
	assert_int_equal(set_pool(fd, "r", &s, why, sizeof(why)), -ENOSPC);
	/* One SetPool: A removed, 5030 added: still 32. */
	s = (struct uq_set){.mod = many + 30, .nmod = 1, .rm = rm_a,
			    .nrm = 1};
	set_ok(fd, "r", &s);
	assert_int_equal(stats_said(fd, "r", said, sizeof(said), NULL), 0);
	assert_null(strstr(said, "4001:"));
	assert_non_null(strstr(said, "0:1048576,5000:1048576"));
	assert_non_null(strstr(said, "5030:1048576"));

	/* The owner who is no admin. */
	own.name = "r";
	own.set_uid_case = POOLMGR__SET_POOL__SET_UID_UID;
	own.uid = UID_D;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &own;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
	pid = harness_spawn_as(UID_D, UID_D, owner_child, d.sock);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	harness_raw_check(fd, "r");
	close(fd);
}

/*
 * The longest list there is: 32 entries of 10-digit uids and 20-digit
 * bytes, each uid's bytes 18446744073709551615 less k.
 */
static void
longest_entries(uint64_t (*v)[2], uint64_t k)
{
	size_t i;

	for (i = 0; i < 32; i++) {
		v[i][0] = 4000000000u + i;
		v[i][1] = UINT64_MAX - k;
	}
}

/*
 * A change of a full list of the longest entries into another in a pool
 * of the longest name: the log line names both lists whole, the new
 * one's last entry at its end (the line is longer than two full access
 * control lists).
 */
static void
log_names_longest_change(void **state)
{
	static const char name[] = "L1234567890123456789012345678901"
				   "12345678901234567890123456789012";
	static char log[256 * 1024];
	uint64_t was[32][2], now[32][2];
	const char *line, *end, *at;
	struct uq_set s = {0};
	char tail[64];
	int fd;

	(void)state;
	assert_int_equal(strlen(name), 64);
	start();
	fd = greeted(d.sock);
	longest_entries(was, 0);
	longest_entries(now, 1);
	assert_int_equal(make_pool(fd, name, 0600, 0, was, 32, NULL, 0), 0);
	s = (struct uq_set){.mod = now, .nmod = 32};
	set_ok(fd, name, &s);
	snprintf(tail, sizeof(tail), ",4000000031:%llu\n",
		 (unsigned long long)(UINT64_MAX - 1));
	harness_read_text(d.log, log, sizeof(log));
	/* The line of the change, whole: the new list's last entry ends it. */
	assert_non_null(line = strstr(log, "user_quotas 4000000000:"
				      "18446744073709551615,"));
	assert_non_null(line = strstr(line, "-> 4000000000:"
				      "18446744073709551614,"));
	end = strchr(line, '\n');
	assert_non_null(end);
	printf("user_quota_entries: the line's end: %.60s\n",
	       end - 60 > line ? end - 59 : line);
	assert_non_null(at = strstr(line, tail));
	assert_ptr_equal(at + strlen(tail) - 1, end);
	harness_raw_check(fd, name);
	close(fd);
}

/*
 * A SetPool of a mode, a user quota, entries removed and set, and an
 * access control list, whose list it refuses last (an entry of
 * rights past read and write): -EINVAL, and nothing of it holds,
 * nothing is logged.
 */
static void
set_refused_last_changes_nothing(void **state)
{
	static const uint64_t made[][2] = {{UID_A, 2 * MiB}};
	static const uint64_t mod[][2] = {{UID_B, 1 * MiB}};
	static uint32_t rm[] = {UID_A};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Acl acl = POOLMGR__ACL__INIT;
	Poolmgr__AclEntry e = POOLMGR__ACL_ENTRY__INIT, *ep = &e;
	Poolmgr__Reply *rep;
	struct wire_uq w;
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "t", 0666, 1 * MiB, made, 1, NULL, 0),
			 0);
	m.name = (char *)"t";
	m.set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
	m.mode = 0600;
	m.set_user_quota_case = POOLMGR__SET_POOL__SET_USER_QUOTA_USER_QUOTA;
	m.user_quota = 5 * MiB;
	m.n_user_quota_modify = 1;
	m.user_quota_modify = wire_uq(&w, mod, 1);
	m.n_user_quota_remove = 1;
	m.user_quota_remove = rm;
	e.kind = 1;
	e.id = UID_C;
	e.rights = 8;
	acl.n_entries = 1;
	acl.entries = &ep;
	m.acl_modify = &acl;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &m;
	assert_int_equal(asked(fd, &req, &rep), -EINVAL);
	printf("user_quota_entries: refused: %s\n", rep->message);
	poolmgr__reply__free_unpacked(rep, NULL);

	ref.name = (char *)"t";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	assert_int_equal(asked(fd, &req, &rep), 0);
	assert_int_equal(rep->stats->mode, 0666);
	assert_int_equal(rep->stats->user_quota, 1 * MiB);
	assert_null(rep->stats->acl);
	poolmgr__reply__free_unpacked(rep, NULL);
	expect_said(fd, "t", "4001:2097152");
	assert_int_equal(harness_log_count(&d, "pool t set by"), 0);
	close(fd);
}

/* OpenReply.quota of a new handle of the test's on name. */
static uint64_t
open_share(int fd, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep;
	uint64_t q;

	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	q = rep->open->quota;
	poolmgr__reply__free_unpacked(rep, NULL);
	return q;
}

static void
open_reply_shares_the_bound(void **state)
{
	static const uint64_t own[][2] = {{0, 2 * MiB}};
	static const uint64_t none[][2] = {{0, 0}};
	static const uint32_t rm[] = {0};
	struct uq_set s = {0};
	int fd, fd2;

	(void)state;
	start();
	fd = greeted(d.sock);
	fd2 = greeted(d.sock);
	assert_int_equal(make_pool(fd, "o", 0666, 1 * MiB, own, 1, NULL, 0),
			 0);
	assert_int_equal(open_share(fd, "o"), 2 * MiB);
	/* Two handles of the uid: half each. */
	assert_int_equal(open_share(fd2, "o"), 1 * MiB);
	s = (struct uq_set){.mod = none, .nmod = 1};
	set_ok(fd, "o", &s);
	assert_int_equal(open_share(fd, "o"), 0);
	s = (struct uq_set){.rm = rm, .nrm = 1};
	set_ok(fd, "o", &s);
	assert_int_equal(open_share(fd, "o"), 1 * MiB / 4);
	close(fd);
	close(fd2);
}

/* ---- room ---------------------------------------------------------------- */

/*
 * An Alloc of h's that waits wait_ms under a user quota and runs out:
 * -ETIMEDOUT, in words that say words.
 */
static void
wait_runs_out(int fd, uint32_t h, uint32_t wait_ms, const char *words)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply *rep;

	m.handle = h;
	m.size = BLOCK;
	m.wait_ms = wait_ms;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(asked(fd, &req, &rep), -ETIMEDOUT);
	printf("user_quota_entries: ran out: %s\n", rep->message);
	assert_non_null(strstr(rep->message, words));
	poolmgr__reply__free_unpacked(rep, NULL);
}

/*
 * A wait under the uid's own entry that runs out says its own bound; one
 * under the pool's, after the entry is removed, the pool's.
 */
static void
wait_runs_out_in_its_words(void **state)
{
	static const uint64_t made[][2] = {{0, 256 * KiB}};
	static const uint32_t rm[] = {0};
	struct uq_set s = {.rm = rm, .nrm = 1};
	uint32_t h;
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "o", 0666, 128 * KiB, made, 1, NULL,
				   0), 0);
	h = harness_raw_handle(fd, "o");
	assert_int_equal(raw_fill(fd, h, 100, "own user quota"), 4);
	wait_runs_out(fd, h, 200, "uid 0 stayed too near its own user quota "
		      "of 256.0 KiB in pool o");
	set_ok(fd, "o", &s);
	wait_runs_out(fd, h, 200, "uid 0 stayed too near pool o's quota of "
		      "128.0 KiB per user");
	harness_raw_check(fd, "o");
	close(fd);
}

static void
waiting_alloc_wakes_when_raised(void **state)
{
	static const uint64_t made[][2] = {{0, 256 * KiB}};
	static const uint64_t raised[][2] = {{0, 512 * KiB}};
	struct uq_set s = {.mod = raised, .nmod = 1};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply *rep;
	uint64_t t0;
	uint32_t h;
	int fd, admin;

	(void)state;
	start();
	fd = greeted(d.sock);
	admin = greeted(d.sock);
	assert_int_equal(make_pool(admin, "w", 0666, 0, made, 1, NULL, 0), 0);
	h = harness_raw_handle(fd, "w");
	assert_int_equal(raw_fill(fd, h, 100, "own user quota"), 4);
	m.handle = h;
	m.size = BLOCK;
	m.wait_ms = 20000;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	/* Still waiting a while later: nothing else makes room. */
	harness_sleep_ms(300);
	t0 = harness_now_ms();
	set_ok(admin, "w", &s);
	rep = harness_raw_reply(fd, req.id, 10000);
	assert_non_null(rep);
	assert_int_equal(rep->error, 0);
	poolmgr__reply__free_unpacked(rep, NULL);
	assert_true(harness_now_ms() - t0 < 5000);
	harness_raw_check(admin, "w");
	close(fd);
	close(admin);
}

/* Publish the block at off through h as name, evictable. */
static void
publish_evictable(int fd, uint32_t h, const char *name, uint64_t off)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Publish m = POOLMGR__PUBLISH__INIT;

	m.handle = h;
	m.name.data = (uint8_t *)name;
	m.name.len = strlen(name);
	m.offset = off;
	m.evictable = true;
	req.body_case = POOLMGR__REQUEST__BODY_PUBLISH;
	req.publish = &m;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
}

/* The pool's evictions, from its PoolStats. */
static uint64_t
evictions(int fd, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	uint64_t n;

	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	n = rep->stats->evictions;
	poolmgr__reply__free_unpacked(rep, NULL);
	return n;
}

static void
own_names_evicted_under_entry(void **state)
{
	static const uint64_t made[][2] = {{0, 256 * KiB}};
	char name[16];
	uint64_t off, x;
	uint32_t h;
	int fd, i;

	(void)state;
	start();
	fd = greeted(d.sock);
	/* A default that would leave room: the entry is what binds. */
	assert_int_equal(make_pool(fd, "v", 0666, 8 * MiB, made, 1, NULL, 0),
			 0);
	h = harness_raw_handle(fd, "v");
	for (i = 0; i < 4; i++) {
		EXPECT_RAW(harness_raw_alloc(fd, h, BLOCK, &off, NULL), 0);
		snprintf(name, sizeof(name), "n%d", i);
		publish_evictable(fd, h, name, off);
		EXPECT_RAW(harness_raw_free(fd, h, off), 0);
	}
	assert_int_equal(evictions(fd, "v"), 0);
	EXPECT_RAW(harness_raw_alloc(fd, h, BLOCK, &x, NULL), 0);
	assert_int_equal(evictions(fd, "v"), 1);
	harness_raw_check(fd, "v");
	close(fd);
}

/* ---- what is said -------------------------------------------------------- */

/* A process of another uid that persists a block and goes. */
static int
persister_child(void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	uint32_t h;
	int fd = harness_raw_greeted(arg, "persister");

	CHECK(fd >= 0, 20);
	CHECK_RC(harness_raw_open(fd, "u", &h), 0, 21);
	m.handle = h;
	m.size = BLOCK;
	m.persist = true;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	CHECK_RC(harness_raw_error(fd, &req, NULL), 0, 22);
	close(fd);
	return 0;
}

static void
users_say_each_bound(void **state)
{
	static const uint64_t made[][2] = {{0, 3 * MiB}, {UID_B, 0}};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListUsers m = POOLMGR__LIST_USERS__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	bool seen[3] = {false};
	size_t i;
	pid_t pid;
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "u", 0666, 1 * MiB, made, 2, NULL, 0),
			 0);
	(void)harness_raw_handle(fd, "u");
	pid = harness_spawn_as(UID_A, UID_A, persister_child, d.sock);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	pid = harness_spawn_as(UID_B, UID_B, persister_child, d.sock);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	ref.name = "u";
	m.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_USERS;
	req.users = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	assert_int_equal(rep->users->n_users, 3);
	for (i = 0; i < rep->users->n_users; i++) {
		const Poolmgr__UserUsage *u = rep->users->users[i];

		if (u->uid == 0) {
			assert_int_equal(u->quota, 3 * MiB);
			assert_true(u->quota_own);
			seen[0] = true;
		} else if (u->uid == UID_A) {
			assert_int_equal(u->quota, 1 * MiB);
			assert_false(u->quota_own);
			seen[1] = true;
		} else if (u->uid == UID_B) {
			assert_int_equal(u->quota, 0);
			assert_true(u->quota_own);
			seen[2] = true;
		}
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	poolmgr__reply__free_unpacked(rep, NULL);
	harness_raw_check(fd, "u");
	close(fd);
}

/* What a uid sees of pool g: 0 and the list, or the refusal. */
static int
reader_child(void *arg)
{
	char said[256];
	int fd = harness_raw_greeted(arg, "reader"), rc;

	CHECK(fd >= 0, 20);
	rc = stats_said(fd, "g", said, sizeof(said), NULL);
	close(fd);
	if (rc == -EACCES)
		return 13;
	CHECK_RC(rc, 0, 21);
	CHECK(strcmp(said, "4001:65536,4003:0") == 0, 22);
	return 0;
}

static void
stats_gated_as_settings(void **state)
{
	static const uint64_t made[][2] = {{UID_C, 0}, {UID_A, 64 * KiB}};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools m = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply *rep;
	static const uint32_t readable = 0604;
	struct uq_set s = {.mode = readable};
	pid_t pid;
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "g", 0600, 0, made, 2, NULL, 0), 0);
	expect_said(fd, "g", "4001:65536,4003:0");
	pid = harness_spawn_as(UID_D, UID_D, reader_child, d.sock);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 13);
	set_ok(fd, "g", &s);
	pid = harness_spawn_as(UID_D, UID_D, reader_child, d.sock);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	/* ListPools lists the pool without them. */
	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	assert_int_equal(rep->list->n_pools, 1);
	assert_int_equal(rep->list->pools[0]->n_user_quotas, 0);
	poolmgr__reply__free_unpacked(rep, NULL);
	close(fd);
}

/* ---- kept ---------------------------------------------------------------- */

static void
kept_across_restart_in_place(void **state)
{
	static const uint64_t made[][2] = {{UID_B, 256 * KiB}, {UID_C, 0}};
	int fd;

	(void)state;
	start();
	fd = greeted(d.sock);
	assert_int_equal(make_pool(fd, "k", 0666, 1 * MiB, made, 2, NULL, 0),
			 0);
	close(fd);
	assert_int_equal(harness_restart_in_place(&d), 0);
	fd = greeted(d.sock);
	expect_said(fd, "k", "4002:262144,4003:0");
	assert_int_equal(filled(UID_B, d.sock, "k", 100, "own user quota"),
			 4);
	assert_int_equal(filled(UID_C, d.sock, "k", 40, NULL), 40);
	harness_raw_check(fd, "k");
	close(fd);
}

/* DestroyPool name, which holds no block. */
static void
destroyed(int fd, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__DestroyPool m = POOLMGR__DESTROY_POOL__INIT;

	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_DESTROY;
	req.destroy = &m;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
}

/* Crash the store's daemon and start it from its journal. */
static void
recovered(void)
{
	assert_int_equal(harness_store_recover(&st), 0);
}

static void
kept_across_crash(void **state)
{
	static const uint64_t made[][2] = {
		{UID_C, 0}, {UID_A, 2 * MiB}, {UID_B, 256 * KiB},
	};
	static const uint64_t mod[][2] = {{UID_D, 128 * KiB}};
	static const uint32_t rm[] = {UID_A, UID_B, UID_C};
	struct uq_set s = {.mod = mod, .nmod = 1, .rm = rm, .nrm = 1};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool q = POOLMGR__SET_POOL__INIT;
	int fd;

	(void)state;
	assert_int_equal(chmod(st.dir, 0755), 0);
	assert_int_equal(harness_store_start(&st), 0);
	fd = greeted(st.sock);
	assert_int_equal(make_pool(fd, "c", 0666, 1 * MiB, made, 3, NULL, 0),
			 0);
	assert_int_equal(make_pool(fd, "plain", 0666, 1 * MiB, NULL, 0, NULL,
				   0), 0);
	close(fd);
	recovered();
	fd = greeted(st.sock);
	expect_said(fd, "c", "4001:2097152,4002:262144,4003:0");
	expect_said(fd, "plain", "none");
	assert_int_equal(filled(UID_B, st.sock, "c", 100, "own user quota"),
			 4);

	/* Changed, then another setting changed alone. */
	set_ok(fd, "c", &s);
	q.name = "c";
	q.set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
	q.quota = 8 * MiB;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &q;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
	close(fd);
	recovered();
	fd = greeted(st.sock);
	expect_said(fd, "c", "4002:262144,4003:0,4004:131072");
	assert_int_equal(filled(UID_D, st.sock, "c", 100, "own user quota"),
			 2);

	/* Emptied. */
	s = (struct uq_set){.rm = (const uint32_t[]){UID_B, UID_C, UID_D},
			    .nrm = 3};
	set_ok(fd, "c", &s);
	close(fd);
	recovered();
	fd = greeted(st.sock);
	expect_said(fd, "c", "none");
	assert_int_equal(filled(UID_B, st.sock, "c", 100, "per user"), 16);
	harness_raw_check(fd, "c");

	/* "plain" given entries, destroyed and made anew with others. */
	s = (struct uq_set){.mod = made, .nmod = 3};
	set_ok(fd, "plain", &s);
	destroyed(fd, "plain");
	assert_int_equal(make_pool(fd, "plain", 0666, 1 * MiB, mod, 1, NULL,
				   0), 0);
	close(fd);
	recovered();
	fd = greeted(st.sock);
	expect_said(fd, "plain", "4004:131072");
	close(fd);
}

/*
 * Pool k's entries changed after its making, pool gone's made and
 * destroyed; then enough persist and free rounds that the journal is
 * compacted (a new journal.<n> in place of the old): after a crash, k
 * has its list as changed, and gone stays gone.
 */
static void
kept_across_compaction(void **state)
{
	static const uint64_t made[][2] = {
		{UID_C, 0}, {UID_A, 2 * MiB}, {UID_B, 256 * KiB},
	};
	static const uint64_t mod[][2] = {{UID_D, 128 * KiB}};
	static const uint32_t rm[] = {UID_C};
	struct uq_set s = {.mod = mod, .nmod = 1, .rm = rm, .nrm = 1};
	struct pool_conn *c;
	struct pool *a;
	pool_off_t x;
	char first[64], said[64];
	unsigned i;
	int fd;

	(void)state;
	assert_int_equal(chmod(st.dir, 0755), 0);
	assert_int_equal(harness_store_start(&st), 0);
	fd = greeted(st.sock);
	assert_int_equal(make_pool(fd, "k", 0666, 1 * MiB, made, 3, NULL, 0),
			 0);
	assert_int_equal(make_pool(fd, "gone", 0666, 0, made, 3, NULL, 0), 0);
	destroyed(fd, "gone");
	set_ok(fd, "k", &s);
	harness_store_drain(&st);
	assert_non_null(harness_store_journal(&st));
	snprintf(first, sizeof(first), "%s", harness_store_journal(&st));
	assert_int_equal(pool_connect(st.sock, &c), 0);
	assert_int_equal(pool_open(c, "k", &a), 0);
	for (i = 0; i < 12000; i++) {
		assert_int_equal(pool_alloc(a, 64, &x), 0);
		assert_int_equal(pool_persist(a, x), 0);
		assert_int_equal(pool_free(a, x), 0);	/* the reference */
		assert_int_equal(pool_free(a, x), 0);	/* the block */
	}
	pool_close(a);
	pool_disconnect(c);
	harness_store_drain(&st);
	printf("user_quota_entries: journal %s, then %s\n", first,
	       harness_store_journal(&st));
	assert_int_equal(harness_store_find(&st, first), -1);
	close(fd);
	recovered();
	fd = greeted(st.sock);
	expect_said(fd, "k", "4001:2097152,4002:262144,4004:131072");
	assert_int_equal(stats_said(fd, "gone", said, sizeof(said), NULL),
			 -ENOENT);
	assert_int_equal(filled(UID_D, st.sock, "k", 100, "own user quota"),
			 2);
	harness_raw_check(fd, "k");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(features_say_entries, &d),
		HARNESS_FIXTURE_TEST(entries_bind_their_uids, &d),
		HARNESS_FIXTURE_TEST(default_none_binds_only_listed, &d),
		HARNESS_FIXTURE_TEST(set_semantics_and_refusals, &d),
		HARNESS_FIXTURE_TEST(log_names_longest_change, &d),
		HARNESS_FIXTURE_TEST(set_refused_last_changes_nothing, &d),
		HARNESS_FIXTURE_TEST(open_reply_shares_the_bound, &d),
		HARNESS_FIXTURE_TEST(waiting_alloc_wakes_when_raised, &d),
		HARNESS_FIXTURE_TEST(wait_runs_out_in_its_words, &d),
		HARNESS_FIXTURE_TEST(own_names_evicted_under_entry, &d),
		HARNESS_FIXTURE_TEST(users_say_each_bound, &d),
		HARNESS_FIXTURE_TEST(stats_gated_as_settings, &d),
		HARNESS_FIXTURE_TEST(kept_across_restart_in_place, &d),
		HARNESS_STORE_TEST(kept_across_crash, &st),
		HARNESS_STORE_TEST(kept_across_compaction, &st),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
