/*
 * itest_user_quota.c - a pool's user quota: the most bytes all the
 * connections of one uid may hold in the pool together, with the blocks
 * that uid made persistent (pool_create_set, pool_set, pool_stats,
 * `user_quota =` in the configuration file), through the library.
 *
 *   created_set_and_removed  a user quota given at creation shows in
 *       pool_stats, pool_stats_by_name and pool_list; raised, it lets
 *       more through; lowered below what the uid holds, it takes no
 *       block back and refuses the next allocation with -EDQUOT, whose
 *       pool_last_message names the quota "per user"; removed, the
 *       allocation goes through.  The log line of the pool's making
 *       names it.
 *   owner_may_not_set     the pool's owner, not an admin, gets -EPERM
 *       setting or removing it, and it stays as it was.
 *   shared_by_one_uid     two connections of one uid share the bound:
 *       what one holds, the other may not take; a connection of another
 *       uid has a bound of its own.
 *   persisted_counts_after_close  a block its uid made persistent counts
 *       against that uid's user quota after its connection is gone; the
 *       block ended, the room comes back.
 *   own_evictable_names_make_room  a uid at its user quota whose own
 *       evictable names nobody holds: an allocation, a growing realloc
 *       and a batch each evict the uid's least recently used ones, as
 *       many as the request lacks, and succeed, the evicted names gone;
 *       a name another connection of the uid holds stays, so do another
 *       uid's (older) names, also when only they could make room; a
 *       request the uid's own unheld names cannot make fit evicts
 *       nothing; the order survives a restart in place; the eviction
 *       counters count the names, user_quota_refusals only the
 *       refusals answered; `poolctl check` passes.
 *   own_name_let_go_wakes_waiting_alloc  an allocation that waits under
 *       the user quota while another connection of the uid holds all its
 *       evictable names is answered when they are let go, by evicting
 *       one, long before its wait ends.
 *   names_go_with_their_charge  a name another uid published on a block
 *       the test's uid had made persistent is charged to the test's uid:
 *       its publisher, at its user quota, is refused with the name kept;
 *       the persister's allocation at its own evicts it.
 *   both_quotas_or_none  in a pool with a quota per connection and a
 *       user quota, the uid's evictable names must make room under
 *       both at once: none goes when they would do for the quota per
 *       connection but are too few for the user quota; enough for both,
 *       they go and the allocation is served.
 *   others_persistent_growth_evicts_nothing  a uid growing another
 *       uid's kept block, which the quota per connection refuses on the
 *       persister's persistent blocks, is refused with its own evictable
 *       names all there: they are no room under another's quota.
 *   names_books_under_churn  in a daemon that gives back freed and
 *       evicted blocks' pages in steps of 64K, two uids, two connections
 *       each, at random allocate, publish (kept, evictable, replacing),
 *       look up, retain, grow, persist, unpublish and let go, evicting
 *       under both quotas and for room, some exiting without a close:
 *       `poolctl check`
 *       (each uid's eviction list among the books) passes after each
 *       round, after a limit and quotas set between them (the limit
 *       below what the pool holds, evicting), and after a restart in
 *       place.
 *   names_books_across_crash  the same under systemd's fd store, the
 *       daemon killed after each round: the books recovered from the
 *       journal pass the check.
 *   destroyed_with_names_held  a pool destroyed by force with two
 *       uids' evictable names in it, some held by a connection of the
 *       other uid: made again, it has none, and the check passes.
 *   kept_across_restart   it survives a restart in place and still
 *       refuses.
 *   kept_across_crash     a user quota given at creation, one set later
 *       and one removed survive a crash under systemd's fd store, twice.
 *   file_pool_user_quota  `user_quota =` in a [pool] section, changed by
 *       a reload (logged old -> new), and gone with the key.
 *   shared_growth_per_hold  a block two connections of one uid hold counts
 *       once against the uid's user quota, and so does its growth in
 *       place: a resize past the quota with it counted once is refused,
 *       one within it is served, and the uid never holds more than it;
 *       one connection holding a block through two handles counts it
 *       twice under its quota per connection, and its growth too.
 *   growth_of_a_move_counts_from_its_start  a block the daemon moves in
 *       steps (release_step 4K) holds its growth from the first step: a
 *       connection of the same uid that allocates while it is copied
 *       gets what the quota leaves beside the grown block, not a byte
 *       more, and the uid holds no more than its quota once it is moved.
 *   cache_within_user_quota  a handle's cache keeps no more than 1/8 of
 *       the user quota when it is smaller than the connection's quota:
 *       the room it keeps is the uid's other connections' too.
 *   caches_share_the_user_quota  eight connections of one uid, each with
 *       a handle whose cache has taken and freed many blocks, keep no
 *       more than 1/8 of the user quota cached all together (each a part
 *       of its connection's share of it), so that a ninth connection of
 *       the uid still gets half the quota, which other handles' caches
 *       cannot give back.
 *   handles_share_the_user_quota  the same with eight handles of one
 *       connection: the share is the user quota over the uid's handles.
 *   refusal_said_whole  in a pool whose name is as long as may be, the
 *       daemon's words for a refusal by the user quota end whole, with
 *       what the uid holds and the poolctl command that lists what each
 *       uid holds, even for the longest (a raw batch of 4096 blocks past
 *       2^64 bytes), and so do those of a wait that runs out.
 *   batch_refusal_names_the_batch  a batch refused by the user quota
 *       is named as the batch, its blocks and bytes, in the words.
 *   producer_says_which_bound  the producer example refused by the user
 *       quota, at once or after its wait (-w), says so in the daemon's
 *       words, not only "a quota" or "no room came in time".
 *   refusals_counted  PoolStats' quota_refusals and user_quota_refusals
 *       count each -EDQUOT of its quota once as the client sees it:
 *       through the library with a cache (whose retry after giving the
 *       cache back counts once), an Alloc, AllocBatch, Realloc and Retain
 *       sent raw, a Persist and a Publish past what the uid may persist;
 *       not a raw request with retry_follows, nor a refusal by the blocks
 *       allowed per client, nor the tries of a waiting allocation (one
 *       that runs out, one that gets its room); a Retain of a block its
 *       uid holds already adds nothing to the uid's count, and is served
 *       under the user quota, uncounted.  Kept across a restart in
 *       place, and shown by poolctl stats (text, kv, JSON, Prometheus).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "harness_store.h"
#include "poolclient.h"
#include "quota_util.h"

static struct daemon_proc d;
static struct harness_store st;

static int
set_user_quota(struct pool_conn *c, const char *name, uint64_t uq)
{
	struct pool_set_opts o = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = uq};

	return pool_set(c, name, &o);
}

/* The user quota pool_list reports for name. */
static uint64_t
listed_user_quota(struct pool_conn *c, const char *name)
{
	struct pool_stats *s;
	size_t n, i;
	uint64_t uq = UINT64_MAX;

	EXPECT_RC(pool_list(c, &s, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			uq = s[i].user_quota;
	free(s);
	assert_int_not_equal(uq, UINT64_MAX);
	return uq;
}

/* ---- setting it ---------------------------------------------------------- */

static void
created_set_and_removed(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats ps;
	pool_off_t a, b, x;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(quota_create_user(c, "u", 1 * MiB), 0);
	EXPECT_RC(quota_create_user(c, "none", 0), 0);
	assert_int_equal(harness_stats_of(c, "u").user_quota, 1 * MiB);
	assert_int_equal(harness_stats_of(c, "none").user_quota, 0);
	assert_int_equal(listed_user_quota(c, "u"), 1 * MiB);
	assert_int_equal(listed_user_quota(c, "none"), 0);
	/* The log line of its making names it; of a pool without, none. */
	harness_expect_logged(&d, ", user_quota 1048576\n");
	assert_int_equal(harness_log_count(&d, "user_quota 0"), 0);
	EXPECT_RC(pool_open(c, "u", &p), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	assert_int_equal(ps.user_quota, 1 * MiB);
	assert_int_equal(ps.quota, 0);

	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	quota_expect_refused(p, BIG, NULL);
	EXPECT_RC(set_user_quota(c, "u", 2 * MiB), 0);
	assert_int_equal(listed_user_quota(c, "u"), 2 * MiB);
	EXPECT_RC(pool_alloc(p, 2 * BIG, &b), 0);	/* 1.5 MiB */

	/* Lowered below what the uid holds: nothing taken back. */
	EXPECT_RC(set_user_quota(c, "u", 1 * MiB), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);
	assert_int_equal(ps.user_quota, 1 * MiB);
	assert_int_equal(ps.live_blocks, 2);
	assert_int_equal(ps.allocated_bytes, 1 * MiB + 2 * BIG);
	quota_expect_refused(p, BIG, NULL);
	EXPECT_RC(pool_free(p, b), 0);
	quota_expect_refused(p, BIG, NULL);	/* 1 MiB held: still full */

	EXPECT_RC(set_user_quota(c, "u", 0), 0);
	assert_int_equal(harness_stats_of(c, "u").user_quota, 0);
	EXPECT_RC(pool_alloc(p, 4 * MiB, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	harness_expect_checked(c, "u");
	pool_disconnect(c);
}

static int
owner_child(void *arg)
{
	struct pool_conn *c;
	struct pool_set_opts mode = {.which = POOL_SET_MODE, .mode = 0644};

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(set_user_quota(c, "o", 2 * MiB), -EPERM, 11);
	CHECK_RC(set_user_quota(c, "o", 0), -EPERM, 12);
	/* What the owner may change, it may. */
	CHECK_RC(pool_set(c, "o", &mode), 0, 13);
	pool_disconnect(c);
	return 0;
}

static void
owner_may_not_set(void **state)
{
	struct pool_conn *c;
	struct pool_set_opts o = {.which = POOL_SET_OWNER, .uid = OTHER_UID};
	struct pool_stats ps;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("give a pool to another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(quota_create_user(c, "o", 1 * MiB), 0);
	EXPECT_RC(pool_set(c, "o", &o), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, owner_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	ps = harness_stats_of(c, "o");
	assert_int_equal(ps.user_quota, 1 * MiB);
	assert_int_equal(ps.mode, 0644);
	pool_disconnect(c);
}

/* ---- whose bytes count --------------------------------------------------- */

/*
 * Another uid, while the test's uid holds its whole user quota: a bound
 * of its own, 1 MiB, and not a byte more.
 */
static int
other_uid_child(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 20);
	CHECK_RC(pool_open(c, "s", &p), 0, 21);
	CHECK_RC(pool_alloc(p, 1 * MiB, &a), 0, 22);
	CHECK_RC(pool_alloc(p, BIG, &x), -EDQUOT, 23);
	CHECK(strstr(pool_last_message(-EDQUOT), "per user") != NULL, 24);
	CHECK_RC(pool_free(p, a), 0, 25);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
shared_by_one_uid(void **state)
{
	struct pool_conn *c1, *c2;
	struct pool *p1, *p2;
	pool_off_t a, b, x;
	pid_t pid;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c1), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	EXPECT_RC(quota_create_user(c1, "s", 1 * MiB), 0);
	EXPECT_RC(pool_open(c1, "s", &p1), 0);
	EXPECT_RC(pool_open(c2, "s", &p2), 0);
	EXPECT_RC(pool_alloc(p1, 2 * BIG, &a), 0);
	EXPECT_RC(pool_alloc(p2, 2 * BIG, &b), 0);
	/* Each holds half: the uid holds all of it. */
	quota_expect_refused(p1, BIG, NULL);
	quota_expect_refused(p2, BIG, NULL);
	if (geteuid() == 0) {
		pid = harness_spawn_as(OTHER_UID, OTHER_GID, other_uid_child,
				       NULL);
		assert_true(pid > 0);
		assert_int_equal(harness_wait(pid), 0);
	}
	/* Freed by one connection, the room is the other's. */
	EXPECT_RC(pool_free(p1, a), 0);
	EXPECT_RC(pool_alloc(p2, 2 * BIG, &x), 0);
	quota_expect_refused(p1, BIG, NULL);
	EXPECT_RC(pool_free(p2, x), 0);
	EXPECT_RC(pool_free(p2, b), 0);
	pool_close(p1);
	pool_close(p2);
	harness_expect_checked(c1, "s");
	pool_disconnect(c1);
	pool_disconnect(c2);
}

static void
persisted_counts_after_close(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;

	(void)state;
	quota_fixture_open(&d, "", "p", 1 * MiB, &c, &p);
	EXPECT_RC(pool_alloc(p, 3 * BIG, &a), 0);
	EXPECT_RC(pool_persist(p, a), 0);
	pool_close(p);
	pool_disconnect(c);

	/* A new connection of the same uid: 768 KiB are its uid's yet. */
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(harness_stats_of(c, "p").persistent_blocks, 1);
	EXPECT_RC(pool_open(c, "p", &p), 0);
	EXPECT_RC(pool_alloc(p, 2 * BIG, &x), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), "per user"));
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	quota_expect_refused(p, BIG, NULL);
	EXPECT_RC(pool_free(p, x), 0);
	/* Its persistence ended, the block is gone and its room back. */
	EXPECT_RC(pool_free_persisted(p, a, 0), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	harness_expect_checked(c, "p");
	pool_disconnect(c);
}

/*
 * What ListUsers says the test's uid holds in pool name: its handles'
 * bytes and its persistent ones.
 */
static uint64_t
uid_holds(struct pool_conn *c, const char *name)
{
	uint64_t held, persisted;

	assert_true(quota_uid_usage(c, name, geteuid(), &held, &persisted));
	return held + persisted;
}

static void
shared_growth_per_hold(void **state)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666,
				     .quota = 1 * MiB};
	struct pool_conn *c1, *c2;
	struct pool *p1, *p2, *q1, *q2;
	pool_off_t a, b, x;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c1), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	EXPECT_RC(quota_create_user(c1, "g", 1 * MiB), 0);
	EXPECT_RC(pool_open(c1, "g", &p1), 0);
	EXPECT_RC(pool_open(c2, "g", &p2), 0);
	EXPECT_RC(pool_alloc(p1, BIG, &a), 0);
	EXPECT_RC(pool_retain(p2, a), 0);
	assert_int_equal(uid_holds(c1, "g"), BIG);
	/* 896 KiB more, once: 1.125 MiB. */
	EXPECT_RC(pool_realloc(p1, a, 1152 * KiB, &x), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), "per user"));
	assert_int_equal(uid_holds(c1, "g"), BIG);
	/* 640 KiB more, once: 896 KiB, in place. */
	EXPECT_RC(pool_realloc(p1, a, 896 * KiB, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(uid_holds(c1, "g"), 896 * KiB);
	EXPECT_RC(pool_free(p2, a), 0);
	EXPECT_RC(pool_free(p1, a), 0);
	harness_expect_checked(c1, "g");

	/* One connection, two handles: its quota counts the block twice. */
	EXPECT_RC(pool_create(c1, "h", &o), 0);
	EXPECT_RC(pool_open(c1, "h", &q1), 0);
	EXPECT_RC(pool_open(c1, "h", &q2), 0);
	EXPECT_RC(pool_alloc(q1, BIG, &b), 0);
	EXPECT_RC(pool_retain(q2, b), 0);
	EXPECT_RC(pool_realloc(q1, b, 640 * KiB, &x), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT),
			       "per connection"));
	EXPECT_RC(pool_realloc(q1, b, 448 * KiB, &x), 0);
	assert_int_equal(x, b);
	EXPECT_RC(pool_free(q2, b), 0);
	EXPECT_RC(pool_free(q1, b), 0);
	harness_expect_checked(c1, "h");
	pool_close(q1);
	pool_close(q2);
	pool_close(p1);
	pool_close(p2);
	pool_disconnect(c1);
	pool_disconnect(c2);
}

/* ---- the uid's own evictable names -------------------------------------- */

/* Names of the test's uid (a0..a3) and of OTHER_UID's (b0, b1). */
static const char *const own_names[] = {"a0", "a1", "a2", "a3"};
static const char *const others_names[] = {"b0", "b1"};

/*
 * Publish n blocks of BIG evictable under names[], each let go at once:
 * the pool's reference alone holds them, charged to the caller's uid.
 * 0, or the first failure.
 */
static int
publish_evictable(struct pool *p, const char *const *names, int n)
{
	pool_off_t o;
	int i, rc;

	for (i = 0; i < n; i++) {
		if ((rc = pool_alloc(p, BIG, &o)) != 0 ||
		    (rc = pool_publish_flags(p, o, names[i],
					     POOL_PUBLISH_EVICTABLE)) != 0 ||
		    (rc = pool_free(p, o)) != 0)
			return rc;
	}
	return 0;
}

/* OTHER_UID's evictable names, published before the test's uid's. */
static int
others_names_child(void *arg)
{
	struct pool_conn *c;
	struct pool *p;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 30);
	CHECK_RC(pool_open(c, "ue", &p), 0, 31);
	CHECK_RC(publish_evictable(p, others_names, 2), 0, 32);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Bit i set: names[i] can be looked up. */
static unsigned
published(struct pool *p, const char *const *names, int n)
{
	unsigned bits = 0;
	pool_off_t off;
	int i, rc;

	for (i = 0; i < n; i++) {
		rc = pool_lookup(p, names[i], &off, NULL);
		if (rc == -ENOENT)
			continue;
		EXPECT_RC(rc, 0);
		bits |= 1u << i;
	}
	return bits;
}

/* The pool's eviction counters and user quota refusals are these. */
static void
expect_evicted(struct pool_conn *c, uint64_t names, uint64_t bytes,
	       uint64_t refusals)
{
	struct pool_stats s = harness_stats_of(c, "ue");

	assert_int_equal(s.evictions, names);
	assert_int_equal(s.evicted_bytes, bytes);
	assert_int_equal(s.user_quota_refusals, refusals);
}

/*
 * A uid at its user quota with evictable names of its own: an
 * allocation, a growing realloc and a batch each evict the uid's least
 * recently used unheld ones, as many as the request lacks under the
 * quota, and succeed; never a name another connection holds, never
 * another uid's, older as they are; nothing when the uid's own unheld
 * names could not make it fit.  Across a restart in place too.
 */
static void
own_evictable_names_make_room(void **state)
{
	size_t two[2] = {BIG, BIG};
	struct pool_conn *c, *c2;
	struct pool *p, *p2;
	pool_off_t x, y, z, batch[2], held0, held3;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("publish names as another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	EXPECT_RC(quota_create_user(c, "ue", 4 * BIG), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, others_names_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	EXPECT_RC(pool_open(c, "ue", &p), 0);
	EXPECT_RC(pool_open(c2, "ue", &p2), 0);
	/*
	 * The uid's quota, full of its names: b0 b1 a0 a1 a2 a3, oldest
	 * first; another connection of the uid holds a0, and a lookup makes
	 * a1 the newest: b0 b1 a2 a3 a1 unheld.
	 */
	EXPECT_RC(publish_evictable(p, own_names, 4), 0);
	EXPECT_RC(pool_lookup_retain(p2, "a0", &held0, NULL), 0);
	EXPECT_RC(pool_lookup(p, "a1", &y, NULL), 0);
	assert_int_equal(uid_holds(c, "ue"), 4 * BIG);
	/* The order, the uid's own included, comes back whole. */
	assert_int_equal(harness_restart_in_place(&d), 0);
	harness_expect_checked(c, "ue");

	/* a0 is held: a2, the uid's least recently used unheld, goes, and
	 * no other: b0 and b1 are older, but not the uid's. */
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	assert_int_equal(published(p, own_names, 4), 0xb);
	assert_int_equal(published(p, others_names, 2), 0x3);
	EXPECT_RC(pool_lookup(p, "a2", &y, NULL), -ENOENT);
	expect_evicted(c, 1, BIG, 0);
	assert_int_equal(uid_holds(c, "ue"), 4 * BIG);

	/* A realloc that grows x by BIG: a1 goes, looked up before a3. */
	EXPECT_RC(pool_realloc(p, x, 2 * BIG, &x), 0);
	assert_int_equal(published(p, own_names, 4), 0x9);
	expect_evicted(c, 2, 2 * BIG, 0);

	/* 2 * BIG more, a3's BIG all the uid could evict: nothing goes. */
	EXPECT_RC(pool_alloc(p, 2 * BIG, &y), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), "per user"));
	assert_int_equal(published(p, own_names, 4), 0x9);
	assert_int_equal(published(p, others_names, 2), 0x3);
	expect_evicted(c, 2, 2 * BIG, 1);

	/* a3 held too: only the other uid's names could make room, and
	 * they are not the uid's room. */
	EXPECT_RC(pool_lookup_retain(p2, "a3", &held3, NULL), 0);
	EXPECT_RC(pool_alloc(p, BIG, &y), -EDQUOT);
	assert_int_equal(published(p, others_names, 2), 0x3);
	assert_int_equal(published(p, own_names, 4), 0x9);
	expect_evicted(c, 2, 2 * BIG, 2);
	harness_expect_checked(c, "ue");

	/* Let go, a0 and a3 are the uid's room again: a batch of two
	 * blocks evicts both. */
	EXPECT_RC(pool_free(p2, held0), 0);
	EXPECT_RC(pool_free(p2, held3), 0);
	EXPECT_RC(pool_alloc_batch(p, 2, two, batch), 0);
	assert_int_equal(published(p, own_names, 4), 0);
	assert_int_equal(published(p, others_names, 2), 0x3);
	expect_evicted(c, 4, 4 * BIG, 2);
	assert_int_equal(uid_holds(c, "ue"), 4 * BIG);
	/* None of its names left: refused as ever. */
	EXPECT_RC(pool_alloc(p, BIG, &z), -EDQUOT);
	expect_evicted(c, 4, 4 * BIG, 3);
	harness_expect_checked(c, "ue");
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_free(p, batch[0]), 0);
	EXPECT_RC(pool_free(p, batch[1]), 0);
	pool_close(p);
	pool_close(p2);
	pool_disconnect(c);
	pool_disconnect(c2);
}

/*
 * Another connection of the test's uid holds a0 and a1 of pool "uw", says
 * so on the pipe arg points to, and lets them go by exiting 300 ms later.
 */
static int
holder_child(void *arg)
{
	int fd = *(int *)arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	CHECK_RC(pool_connect(NULL, &c), 0, 40);
	CHECK_RC(pool_open(c, "uw", &p), 0, 41);
	CHECK_RC(pool_lookup_retain(p, "a0", &off, NULL), 0, 42);
	CHECK_RC(pool_lookup_retain(p, "a1", &off, NULL), 0, 43);
	CHECK(write(fd, "h", 1) == 1, 44);
	usleep(300 * 1000);
	return 0;	/* the exit closes the connection: its holds go */
}

/*
 * An allocation waiting under the user quota, the uid's names all held:
 * their release is room it may evict, and it is answered then, not at
 * the end of its wait.
 */
static void
own_name_let_go_wakes_waiting_alloc(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	uint64_t t0;
	unsigned left;
	int fds[2];
	char ready;
	pid_t pid;

	(void)state;
	quota_fixture_open(&d, "", "uw", 2 * BIG, &c, &p);
	EXPECT_RC(publish_evictable(p, own_names, 2), 0);
	assert_int_equal(pipe(fds), 0);
	pid = harness_spawn_as(geteuid(), getegid(), holder_child, &fds[1]);
	assert_true(pid > 0);
	assert_int_equal(read(fds[0], &ready, 1), 1);
	close(fds[0]);
	close(fds[1]);
	t0 = harness_now_ms();
	EXPECT_RC(pool_alloc_wait(p, BIG, 0, 0, 10000, &x), 0);
	assert_true(harness_now_ms() - t0 < 5000);
	assert_int_equal(harness_wait(pid), 0);
	left = published(p, own_names, 2);
	assert_true(left == 1 || left == 2);
	assert_int_equal(harness_stats_of(c, "uw").evictions, 1);
	assert_int_equal(harness_stats_of(c, "uw").user_quota_refusals, 0);
	harness_expect_checked(c, "uw");
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * OTHER_UID publishes, evictable, the block at *arg that the test's uid
 * made persistent (one persistent already needs no hold to publish),
 * then fills its own user quota: its next allocation is refused, and the
 * name stays, charged to the persister, not to its publisher.
 */
static int
publish_persisted_child(void *arg)
{
	const pool_off_t *x = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t o[4], y;
	int i;

	CHECK_RC(pool_connect(NULL, &c), 0, 40);
	CHECK_RC(pool_open(c, "uc", &p), 0, 41);
	CHECK_RC(pool_publish_flags(p, *x, "charged", POOL_PUBLISH_EVICTABLE),
		 0, 42);
	for (i = 0; i < 4; i++)
		CHECK_RC(pool_alloc(p, BIG, &o[i]), 0, 43);
	CHECK_RC(pool_alloc(p, BIG, &y), -EDQUOT, 44);
	CHECK_RC(pool_lookup(p, "charged", &y, NULL), 0, 45);
	for (i = 0; i < 4; i++)
		CHECK_RC(pool_free(p, o[i]), 0, 46);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * A name is evicted under the quota of the uid its block is charged to,
 * the uid that made it persistent, whoever published it: the test's
 * uid, at its user quota, evicts the name OTHER_UID gave its block.
 */
static void
names_go_with_their_charge(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, o[4];
	int i;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("publish a name as another uid");
	quota_fixture_open(&d, "", "uc", 4 * BIG, &c, &p);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	EXPECT_RC(pool_persist(p, x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, publish_persisted_child,
			       &x);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	assert_int_equal(harness_stats_of(c, "uc").evictions, 0);
	assert_int_equal(uid_holds(c, "uc"), BIG);

	/* Three fit beside it; the fourth is made room for by the name. */
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_alloc(p, BIG, &o[i]), 0);
	EXPECT_RC(pool_lookup(p, "charged", &x, NULL), -ENOENT);
	assert_int_equal(harness_stats_of(c, "uc").evictions, 1);
	assert_int_equal(uid_holds(c, "uc"), 4 * BIG);
	harness_expect_checked(c, "uc");
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_free(p, o[i]), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A pool with both quotas, each 4 * BIG: what the uid's names must give
 * back is what the quota lacking the more lacks.  All of them too few for
 * it, none goes, though they would have been enough for the other.
 */
static void
both_quotas_or_none(void **state)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666,
				     .quota = 4 * BIG};
	struct pool_set_opts u = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = 4 * BIG};
	struct pool_conn *c, *c2;
	struct pool *p, *p2;
	pool_off_t x, y, z;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	EXPECT_RC(pool_create_set(c, "uq2", &o, &u), 0);
	EXPECT_RC(pool_open(c, "uq2", &p), 0);
	EXPECT_RC(pool_open(c2, "uq2", &p2), 0);
	/* a0 a1 charged to the uid, 2 * BIG held by its other connection. */
	EXPECT_RC(publish_evictable(p, own_names, 2), 0);
	EXPECT_RC(pool_alloc(p2, BIG, &x), 0);
	EXPECT_RC(pool_alloc(p2, BIG, &y), 0);
	/*
	 * 3 * BIG more: the connection (2 * BIG persisted by its uid) lacks
	 * BIG, which a0 would give; the uid (4 * BIG) lacks 3 * BIG, more
	 * than both names: none goes.
	 */
	EXPECT_RC(pool_alloc(p, 3 * BIG, &z), -EDQUOT);
	assert_int_equal(published(p, own_names, 2), 0x3);
	assert_int_equal(harness_stats_of(c, "uq2").evictions, 0);
	assert_int_equal(harness_stats_of(c, "uq2").quota_refusals, 1);
	assert_int_equal(harness_stats_of(c, "uq2").user_quota_refusals, 0);
	harness_expect_checked(c, "uq2");
	/* BIG let go: the uid lacks 2 * BIG, both names, and gets it. */
	EXPECT_RC(pool_free(p2, y), 0);
	EXPECT_RC(pool_alloc(p, 3 * BIG, &z), 0);
	assert_int_equal(published(p, own_names, 2), 0);
	assert_int_equal(harness_stats_of(c, "uq2").evictions, 2);
	assert_int_equal(harness_stats_of(c, "uq2").evicted_bytes, 2 * BIG);
	assert_int_equal(uid_holds(c, "uq2"), 4 * BIG);
	harness_expect_checked(c, "uq2");
	EXPECT_RC(pool_free(p, z), 0);
	EXPECT_RC(pool_free(p2, x), 0);
	pool_close(p);
	pool_close(p2);
	pool_disconnect(c);
	pool_disconnect(c2);
}

/*
 * OTHER_UID, with two evictable names of its own (b0, b1) in pool "ug",
 * retains "k", the test's uid's kept block, and grows it: the quota per
 * connection counts that growth against the persister's persistent
 * blocks, which its own names are no room under: refused.
 */
static int
grower_child(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t k, x;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 50);
	CHECK_RC(pool_open(c, "ug", &p), 0, 51);
	CHECK_RC(publish_evictable(p, others_names, 2), 0, 52);
	CHECK_RC(pool_lookup_retain(p, "k", &k, NULL), 0, 53);
	CHECK_RC(pool_realloc(p, k, 5 * BIG, &x), -EDQUOT, 54);
	CHECK(strstr(pool_last_message(-EDQUOT), "per connection") != NULL,
	      55);
	CHECK_RC(pool_free(p, k), 0, 56);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * A growth of another uid's persistent block that the quota per
 * connection refuses is the persister's lack: the asking uid's own
 * names stay.
 */
static void
others_persistent_growth_evicts_nothing(void **state)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666,
				     .quota = 4 * BIG};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t k;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("grow a block as another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create(c, "ug", &o), 0);
	EXPECT_RC(pool_open(c, "ug", &p), 0);
	EXPECT_RC(pool_alloc(p, 3 * BIG, &k), 0);
	EXPECT_RC(pool_publish(p, k, "k"), 0);
	EXPECT_RC(pool_free(p, k), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, grower_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	/* Its names, which gave the persister nothing, are all there. */
	assert_int_equal(published(p, others_names, 2), 0x3);
	assert_int_equal(harness_stats_of(c, "ug").evictions, 0);
	harness_expect_checked(c, "ug");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- the books under churn ---------------------------------------------- */

#define CHURN_NAMES 12
#define CHURN_HELD 5

/* One worker's state: its pool, the blocks it holds, its random walk. */
struct churn {
	struct pool *p;
	pool_off_t held[CHURN_HELD];
	int nheld;
	unsigned seed;
};

static unsigned
churn_rand(struct churn *w, unsigned n)
{
	w->seed = w->seed * 1103515245u + 12345u;
	return (w->seed >> 16) % n;
}

static void
churn_name(struct churn *w, char *buf, size_t len)
{
	snprintf(buf, len, "c%u", churn_rand(w, CHURN_NAMES));
}

/* Keep off, if there is room in the worker's list; else let it go. */
static void
churn_keep(struct churn *w, pool_off_t off)
{
	if (w->nheld < CHURN_HELD)
		w->held[w->nheld++] = off;
	else
		(void)pool_free(w->p, off);
}

/* A held block, taken off the list (-1 if none). */
static int
churn_pick(struct churn *w)
{
	return w->nheld ? (int)churn_rand(w, (unsigned)w->nheld) : -1;
}

/* One step: whatever it is refused, the daemon answers. */
static void
churn_step(struct churn *w)
{
	static const unsigned flags[] = {
		0, POOL_PUBLISH_EVICTABLE, POOL_PUBLISH_REPLACE,
		POOL_PUBLISH_REPLACE | POOL_PUBLISH_EVICTABLE,
	};
	char name[16];
	pool_off_t off;
	int i;

	switch (churn_rand(w, 9)) {
	case 0:
	case 1:
		if (pool_alloc(w->p, (1 + churn_rand(w, 6)) * 32 * KiB,
			       &off) == 0)
			churn_keep(w, off);
		break;
	case 2:
		if ((i = churn_pick(w)) >= 0) {
			churn_name(w, name, sizeof(name));
			(void)pool_publish_flags(w->p, w->held[i], name,
						 flags[churn_rand(w, 4)]);
		}
		break;
	case 3:
		if ((i = churn_pick(w)) >= 0) {
			/* A persistent block without a name ends too. */
			(void)pool_free_persisted(w->p, w->held[i], 0);
			(void)pool_free(w->p, w->held[i]);
			w->held[i] = w->held[--w->nheld];
		}
		break;
	case 4:
		churn_name(w, name, sizeof(name));
		if (pool_lookup_retain(w->p, name, &off, NULL) == 0)
			churn_keep(w, off);
		break;
	case 5:
		churn_name(w, name, sizeof(name));
		(void)pool_lookup(w->p, name, &off, NULL);
		break;
	case 6:
		churn_name(w, name, sizeof(name));
		(void)pool_unpublish(w->p, name);
		break;
	case 7:
		if ((i = churn_pick(w)) >= 0 &&
		    pool_realloc(w->p, w->held[i],
				 (1 + churn_rand(w, 8)) * 32 * KiB, &off) == 0)
			w->held[i] = off;
		break;
	default:
		if ((i = churn_pick(w)) < 0)
			break;
		if (churn_rand(w, 2))
			(void)pool_persist(w->p, w->held[i]);
		else if (pool_free_persisted(w->p, w->held[i], 0) == 0)
			w->held[i] = w->held[--w->nheld];
		break;
	}
}

/* What a worker is given: its seed, and the daemon's socket (or NULL). */
struct churn_arg {
	unsigned seed;
	const char *sock;
};

/*
 * A worker of pool "uc": steps from its seed, then its connection goes,
 * its holds with it, half the time by a close and half by an exit
 * without one.
 */
static int
churn_child(void *arg)
{
	const struct churn_arg *a = arg;
	struct churn w = {.seed = a->seed};
	struct pool_conn *c;
	int i;

	CHECK_RC(pool_connect(a->sock, &c), 0, 60);
	CHECK_RC(pool_open(c, "uc", &w.p), 0, 61);
	for (i = 0; i < 400; i++)
		churn_step(&w);
	/* Its persistent blocks that no name keeps end with it. */
	for (i = 0; i < w.nheld; i++)
		(void)pool_free_persisted(w.p, w.held[i], 0);
	if (w.seed & 1)
		return 0;
	pool_close(w.p);
	pool_disconnect(c);
	return 0;
}

/*
 * Four workers, two of each uid, from seed on, waited for; under the fd
 * store, what the daemon sends meanwhile is applied as it comes,
 * since the kernel queues only a few of its datagrams.
 */
static void
churn_round(unsigned seed, struct harness_store *store)
{
	struct churn_arg args[4];
	pid_t pids[4];
	int i, left = 4, status;

	for (i = 0; i < 4; i++) {
		args[i] = (struct churn_arg){seed + (unsigned)i,
					     store ? store->sock : NULL};
		pids[i] = harness_spawn_as(i & 1 ? OTHER_UID : 0,
					   i & 1 ? OTHER_GID : 0,
					   churn_child, &args[i]);
		assert_true(pids[i] > 0);
	}
	while (left) {
		if (store)
			harness_store_drain(store);
		for (i = 0; i < 4; i++) {
			if (!pids[i] || waitpid(pids[i], &status,
						store ? WNOHANG : 0) <= 0)
				continue;
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			pids[i] = 0;
			left--;
		}
		if (store && left)
			usleep(2000);
	}
	if (store)
		harness_store_drain(store);
}

/* The churn's pool: small, with a quota per connection and per user. */
static const struct pool_create_opts churn_opts = {
	.max_size = 4 * MiB, .mode = 0666, .quota = 4 * BIG};
static const struct pool_set_opts churn_user_quota = {
	.which = POOL_SET_USER_QUOTA, .user_quota = 6 * BIG};

/*
 * Two uids, two connections each, publishing, replacing, reflagging,
 * retaining, growing and letting go of blocks and names at random in a
 * small pool with both quotas, evicting under each and for room: the
 * pool check passes after each round, across a restart in place too.
 */
static void
names_books_under_churn(void **state)
{
	struct pool_set_opts lim = {.which = POOL_SET_LIMIT | POOL_SET_QUOTA |
						POOL_SET_USER_QUOTA};
	struct pool_stats s;
	struct pool_conn *c;
	unsigned round;

	(void)state;
	harness_skip_unless_root("churn as another uid");
	harness_fixture_start(&d, "release_step = 64K\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create_set(c, "uc", &churn_opts, &churn_user_quota),
		  0);
	for (round = 0; round < 6; round++) {
		churn_round(round * 16 + 1, NULL);
		harness_expect_checked(c, "uc");
		/* A limit below what the pool holds evicts across uids. */
		lim.limit = round & 1 ? 3 * MiB : 2 * BIG;
		lim.quota = round & 1 ? 4 * BIG : 5 * BIG;
		lim.user_quota = round & 1 ? 6 * BIG : 5 * BIG;
		EXPECT_RC(pool_set(c, "uc", &lim), 0);
		harness_expect_checked(c, "uc");
		if (round == 2) {
			assert_int_equal(harness_restart_in_place(&d), 0);
			harness_expect_checked(c, "uc");
		}
	}
	s = harness_stats_of(c, "uc");
	printf("user_quota: churn: %llu evictions, %llu quota and %llu user "
	       "quota refusals; %llu live, %llu persistent blocks\n",
	       (unsigned long long)s.evictions,
	       (unsigned long long)s.quota_refusals,
	       (unsigned long long)s.user_quota_refusals,
	       (unsigned long long)s.live_blocks,
	       (unsigned long long)s.persistent_blocks);
	pool_disconnect(c);
}

/*
 * OTHER_UID publishes b0 and b1 in pool "ud", holds a0 and b1, says so on
 * the pipe arg points to, and waits for the pool to be destroyed: then
 * its handle is closed, and what it held gone with the pool.
 */
static int
destroy_holder_child(void *arg)
{
	int fd = *(int *)arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	int i;

	CHECK_RC(pool_connect(NULL, &c), 0, 70);
	CHECK_RC(pool_open(c, "ud", &p), 0, 71);
	CHECK_RC(publish_evictable(p, others_names, 2), 0, 72);
	CHECK_RC(pool_lookup_retain(p, "a0", &off, NULL), 0, 73);
	CHECK_RC(pool_lookup_retain(p, "b1", &off, NULL), 0, 74);
	CHECK(write(fd, "h", 1) == 1, 75);
	for (i = 0; i < 500; i++) {
		if (pool_lookup(p, "b0", &off, NULL) != 0)
			break;
		usleep(10 * 1000);
	}
	CHECK(i < 500, 76);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * A pool destroyed by force while two uids' evictable names are in it,
 * some held by a connection of the other uid: its eviction books go with
 * it, and a pool made again under its name starts with none.
 */
static void
destroyed_with_names_held(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	int fds[2];
	char ready;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("hold names as another uid");
	quota_fixture_open(&d, "", "ud", 2 * BIG, &c, &p);
	EXPECT_RC(publish_evictable(p, own_names, 2), 0);
	assert_int_equal(pipe(fds), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, destroy_holder_child,
			       &fds[1]);
	assert_true(pid > 0);
	assert_int_equal(read(fds[0], &ready, 1), 1);
	close(fds[0]);
	close(fds[1]);
	harness_expect_checked(c, "ud");
	pool_close(p);
	EXPECT_RC(pool_destroy_force(c, "ud"), 0);
	assert_int_equal(harness_wait(pid), 0);
	EXPECT_RC(quota_create_user(c, "ud", 2 * BIG), 0);
	EXPECT_RC(pool_open(c, "ud", &p), 0);
	EXPECT_RC(pool_alloc(p, 2 * BIG, &x), 0);
	assert_int_equal(harness_stats_of(c, "ud").evictions, 0);
	harness_expect_checked(c, "ud");
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The same under the fd store, crashed after each round: the names and
 * their uids' books the journal gives back pass the pool check.
 */
static void
names_books_across_crash(void **state)
{
	struct pool_conn *c;
	unsigned round;

	(void)state;
	harness_skip_unless_root("churn as another uid");
	/* The store's directory is its creator's: OTHER_UID passes too. */
	assert_int_equal(chmod(st.dir, 0711), 0);
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_create_set(c, "uc", &churn_opts, &churn_user_quota),
		  0);
	pool_disconnect(c);
	for (round = 0; round < 3; round++) {
		churn_round(round * 16 + 7, &st);
		assert_int_equal(harness_store_recover(&st), 0);
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		harness_expect_checked(c, "uc");
		pool_disconnect(c);
	}
}

/* ---- restarts and crashes ----------------------------------------------- */

static void
kept_across_restart(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(quota_create_user(c, "k", 1 * MiB), 0);
	EXPECT_RC(set_user_quota(c, "k", 2 * MiB), 0);
	EXPECT_RC(pool_open(c, "k", &p), 0);
	EXPECT_RC(pool_alloc(p, 2 * MiB, &a), 0);
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(harness_stats_of(c, "k").user_quota, 2 * MiB);
	quota_expect_refused(p, BIG, NULL);
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
kept_across_crash(void **state)
{
	struct pool_conn *c;
	int round;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(quota_create_user(c, "made", 3 * MiB), 0);
	EXPECT_RC(quota_create_user(c, "set", 0), 0);
	EXPECT_RC(set_user_quota(c, "set", 5 * MiB), 0);
	EXPECT_RC(quota_create_user(c, "gone", 7 * MiB), 0);
	EXPECT_RC(set_user_quota(c, "gone", 0), 0);
	pool_disconnect(c);
	for (round = 0; round < 2; round++) {
		assert_int_equal(harness_store_recover(&st), 0);
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		assert_int_equal(harness_stats_of(c, "made").user_quota,
				 3 * MiB);
		assert_int_equal(harness_stats_of(c, "set").user_quota,
				 5 * MiB);
		assert_int_equal(harness_stats_of(c, "gone").user_quota, 0);
		pool_disconnect(c);
	}
}

/* ---- the file ----------------------------------------------------------- */

static void
file_pool_user_quota(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;

	(void)state;
	harness_fixture_start(&d, "[pool f]\nsize = 8M\nuser_quota = 1M\n"
			      "mode = 0666\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(harness_stats_of(c, "f").user_quota, 1 * MiB);
	EXPECT_RC(set_user_quota(c, "f", 2 * MiB), -EROFS);
	EXPECT_RC(pool_open(c, "f", &p), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	quota_expect_refused(p, BIG, NULL);
	assert_int_equal(harness_reload_with(&d, HARNESS_FIXTURE_CONF
		"[pool f]\nsize = 8M\nuser_quota = 2M\nmode = 0666\n"), 0);
	harness_expect_logged(&d, "pool f: user_quota 1048576 -> 2097152");
	assert_int_equal(harness_stats_of(c, "f").user_quota, 2 * MiB);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	/* Without the key: none. */
	assert_int_equal(harness_reload_with(&d, HARNESS_FIXTURE_CONF
		"[pool f]\nsize = 8M\nmode = 0666\n"), 0);
	assert_int_equal(harness_stats_of(c, "f").user_quota, 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a block the daemon moves -------------------------------------------- */

/*
 * A child of the test's uid grows a written 128 MiB block, which a 1 MiB
 * one keeps from growing in place, to 160 MiB under a 200 MiB user
 * quota: old and new together would pass it, so the library leaves the
 * move to the daemon, which copies release_step (4 KiB) a loop turn.
 */
#define MOVE_FROM (128 * MiB)
#define MOVE_TO (160 * MiB)
#define MOVE_USER_QUOTA (200 * MiB)

static int
mover_child(void *arg)
{
	int *to_parent = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, after, out;

	CHECK_RC(pool_connect(d.sock, &c), 0, 30);
	CHECK_RC(pool_open(c, "mv", &p), 0, 31);
	CHECK_RC(pool_alloc(p, MOVE_FROM, &a), 0, 32);
	CHECK_RC(pool_alloc(p, 1 * MiB, &after), 0, 33);
	CHECK(after == a + MOVE_FROM, 34);	/* a cannot grow in place */
	memset(pool_ptr(p, a), 0x5a, MOVE_FROM);
	CHECK(harness_write_full(to_parent[1], &a, sizeof(a)) == 0, 35);
	CHECK_RC(pool_realloc(p, a, MOVE_TO, &out), 0, 36);
	CHECK(out != a, 37);
	/* Its pool stays open until the parent has looked. */
	CHECK(harness_write_full(to_parent[1], &out, sizeof(out)) == 0, 38);
	CHECK(harness_read_full(to_parent[0], &out, 1) == 0, 39);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
growth_of_a_move_counts_from_its_start(void **state)
{
	struct pool_create_opts o = {.max_size = 512 * MiB, .mode = 0666};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = MOVE_USER_QUOTA};
	int to_parent[2], to_child[2], fds[2];
	uint64_t room = MOVE_USER_QUOTA - (MOVE_TO + 1 * MiB);
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, out, x, y;
	size_t pages = 0;
	pid_t pid;
	int i;

	(void)state;
	harness_fixture_start(&d, "release_step = 4K\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create_set(c, "mv", &o, &s), 0);
	EXPECT_RC(pool_open(c, "mv", &p), 0);
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	fds[0] = to_child[0];
	fds[1] = to_parent[1];
	pid = harness_spawn(mover_child, fds);
	assert_true(pid > 0);
	assert_int_equal(harness_read_full(to_parent[0], &a, sizeof(a)), 0);
	/* The copy has begun: more pages resident than the old block's. */
	for (i = 0; i < 2000 && pages <= MOVE_FROM / 4096 + 256; i++) {
		pages = harness_resident_pages(pool_ptr(p, 0), 512 * MiB);
		if (pages <= MOVE_FROM / 4096 + 256)
			harness_sleep_ms(5);
	}
	assert_true(pages > MOVE_FROM / 4096 + 256);
	/* Beside the block as it will be, this much and no more. */
	EXPECT_RC(pool_alloc(p, room, &x), 0);
	EXPECT_RC(pool_alloc(p, BIG, &y), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), "per user"));
	assert_int_equal(harness_read_full(to_parent[0], &out, sizeof(out)),
			 0);
	assert_true(uid_holds(c, "mv") <= MOVE_USER_QUOTA);
	harness_expect_checked(c, "mv");
	assert_int_equal(harness_write_full(to_child[1], "", 1), 0);
	assert_int_equal(harness_wait(pid), 0);
	EXPECT_RC(pool_free(p, x), 0);
	assert_int_equal(uid_holds(c, "mv"), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a client cache ----------------------------------------------------- */

#define SMALL_BLOCKS 2048u
#define SMALL 256u

/*
 * The bytes a handle of pool name keeps cached once it has taken 2048
 * blocks of 256 B (512 KiB) and freed them all, its budget 4 MiB
 * whatever the environment says, so that the pool's bounds alone decide.
 */
static uint64_t
cached_after_cycle(struct pool_conn *c, const char *name)
{
	static pool_off_t offs[SMALL_BLOCKS];
	struct pool_stats ps;
	struct pool *p;
	unsigned i;

	EXPECT_RC(pool_open(c, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_alloc(p, SMALL, &offs[i]), 0);
	for (i = 0; i < SMALL_BLOCKS; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &ps), 0);	/* with the cache's report */
	pool_close(p);
	return ps.client_cached_bytes;
}

static void
cache_within_user_quota(void **state)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666,
				     .quota = 16 * MiB};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = 1 * MiB};
	struct pool_conn *c;
	uint64_t bounded, free_run;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create_set(c, "uq", &o, &s), 0);
	EXPECT_RC(pool_create(c, "q", &o), 0);
	bounded = cached_after_cycle(c, "uq");
	free_run = cached_after_cycle(c, "q");
	printf("user_quota: %u x %u B freed by one handle: %llu B cached "
	       "under a 1 MiB user quota, %llu B under a 16 MiB quota "
	       "alone\n", SMALL_BLOCKS, SMALL, (unsigned long long)bounded,
	       (unsigned long long)free_run);
	assert_true(bounded > 0);
	assert_true(bounded <= 1 * MiB / 8);
	assert_true(free_run >= SMALL_BLOCKS * SMALL);
	harness_expect_checked(c, "uq");
	pool_disconnect(c);
}

#define SHARERS 8u

/*
 * SHARERS handles of pool uq (2 MiB user quota), on SHARERS connections
 * of this uid or on one: each takes and frees 512 KiB in turn, its cache
 * keeping some; all together keep no more than an eighth of the user
 * quota, and a new handle of the uid on c still gets half of it.
 */
static void
caches_of_sharers(bool one_connection)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = 2 * MiB};
	static pool_off_t offs[SMALL_BLOCKS];
	struct pool_conn *c, *conn[SHARERS];
	struct pool *p[SHARERS], *last;
	struct pool_stats ps;
	pool_off_t big;
	unsigned i, k;

	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create_set(c, "uq", &o, &s), 0);
	for (k = 0; k < SHARERS; k++) {
		if (k == 0 || !one_connection)
			assert_int_equal(pool_connect(NULL, &conn[k]), 0);
		else
			conn[k] = conn[0];
		EXPECT_RC(pool_open(conn[k], "uq", &p[k]), 0);
		EXPECT_RC(pool_set_cache(p[k], 4 * MiB), 0);
	}
	for (k = 0; k < SHARERS; k++) {
		for (i = 0; i < SMALL_BLOCKS; i++)
			EXPECT_RC(pool_alloc(p[k], SMALL, &offs[i]), 0);
		for (i = 0; i < SMALL_BLOCKS; i++)
			EXPECT_RC(pool_free(p[k], offs[i]), 0);
	}
	ps = harness_stats_of(c, "uq");
	printf("user_quota: %u handles of one uid on %u connection%s keep "
	       "%llu B cached under a user quota of %u B\n", SHARERS,
	       one_connection ? 1 : SHARERS, one_connection ? "" : "s",
	       (unsigned long long)ps.client_cached_bytes, 2 * MiB);
	assert_true(ps.client_cached_bytes <= 2 * MiB / 8);
	/* What they keep is not in the way of the uid's next handle. */
	EXPECT_RC(pool_open(c, "uq", &last), 0);
	EXPECT_RC(pool_alloc(last, 1 * MiB, &big), 0);
	EXPECT_RC(pool_free(last, big), 0);
	pool_close(last);
	for (k = 0; k < SHARERS; k++) {
		pool_close(p[k]);
		if (!one_connection || k == SHARERS - 1)
			pool_disconnect(conn[k]);
	}
	harness_expect_checked(c, "uq");
	pool_disconnect(c);
}

static void
caches_share_the_user_quota(void **state)
{
	(void)state;
	caches_of_sharers(false);
}

/*
 * As caches_share_the_user_quota, with the eight handles on one
 * connection: each handle's cache is its own, so the share each keeps a
 * part of is the user quota over the uid's handles, not its connections.
 */
static void
handles_share_the_user_quota(void **state)
{
	(void)state;
	caches_of_sharers(true);
}

/*
 * The longest name a pool may have: the daemon's words for a refusal
 * name the pool, and must still say whole what the uid holds, and where
 * to see what each uid holds.
 */
#define LONG_NAME \
	"user-quota-refusals-say-whole-what-the-uid-holds-in-a-long-named"
#define POINTER "; `poolctl users " LONG_NAME "` lists what each uid holds"
#define LONGEST_BATCH 4096

/* words end with end, whole. */
static void
expect_ends_with(const char *words, const char *end)
{
	assert_true(strlen(words) > strlen(end));
	assert_string_equal(words + strlen(words) - strlen(end), end);
}

/*
 * What the words below lack of the longest: a uid of 10 digits, and the
 * bound and what the uid holds ("1.0 MiB" each here) of 10 characters,
 * as "1023.9 KiB".
 */
static size_t
longest_slack(void)
{
	char uid[16];

	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	return (10 - strlen(uid)) + 2 * (10 - strlen("1.0 MiB"));
}

/*
 * The longest words a refusal by the user quota can have: a batch of the
 * most blocks, whose bytes in all pass what 64 bits hold, refused by a
 * raw client; they come whole, within the 255 bytes the library keeps.
 */
static void
longest_refusal_said_whole(void)
{
	static uint64_t sizes[LONGEST_BATCH];
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;
	Poolmgr__Reply *rep;
	uint32_t h;
	size_t i;
	int r;

	sizes[0] = BIG;
	for (i = 1; i < LONGEST_BATCH; i++)
		sizes[i] = UINT64_MAX;
	r = harness_raw_client(d.sock, "longest-refusal");
	h = harness_raw_handle(r, LONG_NAME);
	m.handle = h;
	m.sizes = sizes;
	m.n_sizes = LONGEST_BATCH;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &m;
	rep = harness_raw_expect(r, &req, -EDQUOT);
	printf("user_quota: longest refusal (%zu bytes): %s\n",
	       strlen(rep->message), rep->message);
	assert_true(strlen(rep->message) + longest_slack() <= 255);
	assert_non_null(strstr(rep->message, "a batch of 4096 blocks "
			       "(18446744073709551615 bytes in all)"));
	expect_ends_with(rep->message, POINTER);
	poolmgr__reply__free_unpacked(rep, NULL);
	harness_close_fd(&r);
}

static void
refusal_said_whole(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, x;
	const char *why;

	(void)state;
	assert_int_equal(strlen(LONG_NAME), 64);
	quota_fixture_open(&d, "", LONG_NAME, 1 * MiB, &c, &p);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), -EDQUOT);
	why = pool_last_message(-EDQUOT);
	printf("user_quota: refused: %s\n", why);
	assert_non_null(strstr(why, "holds 1.0 MiB)"));
	expect_ends_with(why, POINTER);
	longest_refusal_said_whole();
	EXPECT_RC(pool_alloc_wait(p, BIG, 0, 0, 50, &x), -ETIMEDOUT);
	why = pool_last_message(-ETIMEDOUT);
	printf("user_quota: wait ran out: %s\n", why);
	assert_non_null(strstr(why, "per user for 262144 bytes more in"));
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	harness_expect_checked(c, LONG_NAME);
	pool_disconnect(c);
}

/*
 * A batch is all or nothing: refused, it holds none of its blocks, so
 * words that named one block's size against what the uid holds after
 * ("allocating 300000 bytes ... holds 0 B") would not add up.
 */
static void
batch_refusal_names_the_batch(void **state)
{
	static const size_t sizes[5] = {300000, 300000, 300000, 300000,
					300000};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[5];
	const char *why;

	(void)state;
	quota_fixture_open(&d, "", "ub", 1 * MiB, &c, &p);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc_batch(p, 5, sizes, offs), -EDQUOT);
	why = pool_last_message(-EDQUOT);
	printf("user_quota: batch refused: %s\n", why);
	assert_non_null(strstr(why, "a batch of 5 blocks ("));
	assert_non_null(strstr(why, "per user (uid "));
	assert_int_equal(harness_stats_of(c, "ub").live_blocks, 0);
	pool_close(p);
	harness_expect_checked(c, "ub");
	pool_disconnect(c);
}

/* The producer example's output, run as this uid with args, and its exit. */
static int
run_producer(const char *args, char *out, size_t len)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/examples/producer "
		 "%s 2>&1", d.sock, harness_build(), args);
	return harness_run(cmd, out, len);
}

static void
producer_says_which_bound(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a;
	char out[512], *at, *end;
	unsigned long waited;

	(void)state;
	quota_fixture_open(&d, "", "ex", 1 * MiB, &c, &p);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	assert_int_equal(run_producer("ex hello", out, sizeof(out)), 1);
	printf("user_quota: producer: %s", out);
	assert_non_null(strstr(out, "producer: alloc 6 bytes: "));
	assert_non_null(strstr(out, "per user (uid "));
	assert_int_equal(run_producer("-w 1 ex hello", out, sizeof(out)), 1);
	printf("user_quota: producer -w 1: %s", out);
	assert_non_null(strstr(out, "producer: alloc 6 bytes: "));
	/* What is left of the call's second when the library asks: 1000
	 * ms, or a little less on a busy machine. */
	assert_non_null(at = strstr(out, "per user for 6 bytes more in "));
	waited = strtoul(at + strlen("per user for 6 bytes more in "), &end,
			 10);
	assert_true(waited <= 1000 && waited >= 900);
	assert_true(strncmp(end, " ms", 3) == 0);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	harness_expect_checked(c, "ex");
	pool_disconnect(c);
}

/* ---- refusals counted ----------------------------------------------------- */

/*
 * Few blocks per client, so that a refusal by that bound (-EDQUOT too,
 * but not a quota's) is in reach.
 */
#define REFUSALS_CONFIG "max_blocks_per_session = 16\n"
#define PERSISTED (768 * KiB)	/* two of them pass a quota of 1 MiB */

/* Its two refusal counters, as pool_stats_by_name has them. */
static void
expect_refusals(struct pool_conn *c, const char *name, uint64_t quota,
		uint64_t user_quota)
{
	struct pool_stats s = harness_stats_of(c, name);

	assert_int_equal(s.quota_refusals, quota);
	assert_int_equal(s.user_quota_refusals, user_quota);
}

/*
 * An Alloc as a client may send it: retry (retry_follows: it will ask
 * again), waiting up to wait_ms for room.
 */
static int
raw_alloc_as(int fd, uint32_t h, uint64_t size, bool retry, uint32_t wait_ms)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;

	m.handle = h;
	m.size = size;
	m.retry_follows = retry;
	m.wait_ms = wait_ms;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	return harness_raw_error(fd, &req, NULL);
}

static int
raw_batch_as(int fd, uint32_t h, const uint64_t *sizes, size_t n, bool retry)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;

	m.handle = h;
	m.sizes = (uint64_t *)sizes;
	m.n_sizes = n;
	m.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &m;
	return harness_raw_error(fd, &req, NULL);
}

static int
raw_realloc_as(int fd, uint32_t h, uint64_t off, uint64_t size, bool retry)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;

	m.handle = h;
	m.offset = off;
	m.size = size;
	m.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &m;
	return harness_raw_error(fd, &req, NULL);
}

static int
raw_publish(int fd, uint32_t h, uint64_t off, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Publish m = POOLMGR__PUBLISH__INIT;

	m.handle = h;
	m.offset = off;
	m.name.data = (uint8_t *)name;
	m.name.len = strlen(name);
	req.body_case = POOLMGR__REQUEST__BODY_PUBLISH;
	req.publish = &m;
	return harness_raw_error(fd, &req, NULL);
}

/* Pool qc: a quota of 1 MiB per connection, no user quota. */
static void
refuse_per_connection(struct pool_conn *c)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666,
				     .quota = 1 * MiB};
	static const size_t two[2] = {BIG, BIG};
	static const uint64_t two_raw[2] = {BIG, BIG};
	uint64_t tiny[17], held, x, y;
	pool_off_t a, offs[2], moved;
	struct pool *p;
	uint32_t h1, h2;
	int r1, r2, i;

	EXPECT_RC(pool_create(c, "qc", &o), 0);
	EXPECT_RC(pool_open(c, "qc", &p), 0);
	/* A cache, whatever the run: its retry must count once. */
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &a), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), -EDQUOT);
	expect_refusals(c, "qc", 1, 0);
	EXPECT_RC(pool_alloc_batch(p, 2, two, offs), -EDQUOT);
	expect_refusals(c, "qc", 2, 0);
	EXPECT_RC(pool_realloc(p, a, 1 * MiB + BIG, &moved), -EDQUOT);
	expect_refusals(c, "qc", 3, 0);

	/* Raw: told a retry follows, the daemon counts only the retry. */
	r1 = harness_raw_client(d.sock, "refusals-1");
	h1 = harness_raw_handle(r1, "qc");
	EXPECT_RAW(harness_raw_alloc(r1, h1, 1 * MiB, &held, NULL), 0);
	EXPECT_RAW(raw_alloc_as(r1, h1, BIG, true, 0), -EDQUOT);
	EXPECT_RAW(raw_batch_as(r1, h1, two_raw, 2, true), -EDQUOT);
	EXPECT_RAW(raw_realloc_as(r1, h1, held, 1 * MiB + BIG, true),
		   -EDQUOT);
	expect_refusals(c, "qc", 3, 0);
	EXPECT_RAW(raw_alloc_as(r1, h1, BIG, false, 0), -EDQUOT);
	EXPECT_RAW(raw_batch_as(r1, h1, two_raw, 2, false), -EDQUOT);
	EXPECT_RAW(raw_realloc_as(r1, h1, held, 1 * MiB + BIG, false),
		   -EDQUOT);
	expect_refusals(c, "qc", 6, 0);
	/* The library's block, a reference more for r1: past its quota. */
	EXPECT_RAW(harness_raw_retain(r1, h1, a), -EDQUOT);
	expect_refusals(c, "qc", 7, 0);
	EXPECT_RAW(harness_raw_free(r1, h1, held), 0);

	/* The blocks allowed per client refuse with -EDQUOT, no quota. */
	for (i = 0; i < 17; i++)
		tiny[i] = 16;
	EXPECT_RAW(raw_batch_as(r1, h1, tiny, 17, false), -EDQUOT);
	EXPECT_RAW(harness_raw_alloc_many(r1, h1, 16, 16), 0);
	EXPECT_RAW(raw_alloc_as(r1, h1, 16, false, 0), -EDQUOT);
	expect_refusals(c, "qc", 7, 0);
	harness_close_fd(&r1);

	/*
	 * What a uid persists counts against each of its connections'
	 * quotas: two connections' blocks, each within its own, are more
	 * than the quota persisted together.
	 */
	r1 = harness_raw_client(d.sock, "refusals-1");
	h1 = harness_raw_handle(r1, "qc");
	r2 = harness_raw_client(d.sock, "refusals-2");
	h2 = harness_raw_handle(r2, "qc");
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RAW(harness_raw_alloc(r1, h1, PERSISTED, &x, NULL), 0);
	EXPECT_RAW(harness_raw_alloc(r2, h2, PERSISTED, &y, NULL), 0);
	EXPECT_RAW(harness_raw_block(r1, POOLMGR__REQUEST__BODY_PERSIST, h1,
				     x), 0);
	EXPECT_RAW(harness_raw_block(r2, POOLMGR__REQUEST__BODY_PERSIST, h2,
				     y), -EDQUOT);
	expect_refusals(c, "qc", 8, 0);
	EXPECT_RAW(raw_publish(r2, h2, y, "y"), -EDQUOT);
	expect_refusals(c, "qc", 9, 0);
	EXPECT_RC(pool_free(p, x), 0);	/* ends its persistence */
	harness_close_fd(&r1);
	harness_close_fd(&r2);
	pool_close(p);
}

/* Pool uq: a user quota of 1 MiB, no quota per connection. */
static void
refuse_per_user(struct pool_conn *c)
{
	static const size_t two[2] = {BIG, BIG};
	pool_off_t b, offs[2], moved, x;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply *rep;
	struct pool *p;
	uint32_t h;
	int r;

	EXPECT_RC(quota_create_user(c, "uq", 1 * MiB), 0);
	EXPECT_RC(pool_open(c, "uq", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	EXPECT_RC(pool_alloc(p, 1 * MiB, &b), 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), -EDQUOT);
	expect_refusals(c, "uq", 0, 1);
	EXPECT_RC(pool_alloc_batch(p, 2, two, offs), -EDQUOT);
	expect_refusals(c, "uq", 0, 2);
	EXPECT_RC(pool_realloc(p, b, 1 * MiB + BIG, &moved), -EDQUOT);
	expect_refusals(c, "uq", 0, 3);

	r = harness_raw_client(d.sock, "refusals-uid");
	h = harness_raw_handle(r, "uq");
	EXPECT_RAW(raw_alloc_as(r, h, BIG, true, 0), -EDQUOT);
	expect_refusals(c, "uq", 0, 3);
	EXPECT_RAW(raw_alloc_as(r, h, BIG, false, 0), -EDQUOT);
	expect_refusals(c, "uq", 0, 4);
	/* A block its uid holds already: the Retain adds nothing. */
	EXPECT_RAW(harness_raw_retain(r, h, b), 0);
	expect_refusals(c, "uq", 0, 4);
	EXPECT_RAW(harness_raw_free(r, h, b), 0);

	/* A wait that runs out is -ETIMEDOUT, its tries not counted. */
	EXPECT_RC(pool_alloc_wait(p, BIG, 0, 0, 50, &x), -ETIMEDOUT);
	EXPECT_RAW(raw_alloc_as(r, h, BIG, false, 50), -ETIMEDOUT);
	expect_refusals(c, "uq", 0, 4);
	/* Nor those of one that waits until room comes. */
	m.handle = h;
	m.size = BIG;
	m.wait_ms = 30000;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(harness_raw_post(r, &req), 0);
	while (harness_stats_of(c, "uq").alloc_waits == 0)
		harness_sleep_ms(5);
	EXPECT_RC(pool_free(p, b), 0);
	rep = harness_raw_reply(r, req.id, 30000);
	assert_non_null(rep);
	assert_int_equal(rep->error, 0);
	poolmgr__reply__free_unpacked(rep, NULL);
	expect_refusals(c, "uq", 0, 4);
	harness_close_fd(&r);
	pool_close(p);
}

/* poolctl stats shows what pool_stats has, in each of its formats. */
static void
poolctl_shows_refusals(void)
{
	char out[16384], err[1024];

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats qc --format=kv"),
			 0);
	assert_non_null(strstr(out, "qc quota_refusals 9\n"));
	assert_non_null(strstr(out, "qc user_quota_refusals 0\n"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats uq --format=kv"),
			 0);
	assert_non_null(strstr(out, "uq quota_refusals 0\n"));
	assert_non_null(strstr(out, "uq user_quota_refusals 4\n"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "--json=short stats uq"),
			 0);
	assert_non_null(strstr(out, "\"quota_refusals\":0"));
	assert_non_null(strstr(out, "\"user_quota_refusals\":4"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats qc"), 0);
	assert_non_null(strstr(out, "quota refusals"));
	assert_non_null(strstr(out, "user quota refusals"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats qc "
					 "--format=prometheus"), 0);
	assert_non_null(strstr(out, "# TYPE poolmgr_pool_quota_refusals_total "
			       "counter\n"));
	assert_non_null(strstr(out, "poolmgr_pool_quota_refusals_total"
			       "{pool=\"qc\"} 9\n"));
	assert_non_null(strstr(out, "poolmgr_pool_user_quota_refusals_total"
			       "{pool=\"qc\"} 0\n"));
}

/*
 * Refusals by each quota are counted, each kind of request once as its
 * client sees it, and kept across a restart in place.
 */
static void
refusals_counted(void **state)
{
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, REFUSALS_CONFIG);
	assert_int_equal(pool_connect(NULL, &c), 0);
	refuse_per_connection(c);
	refuse_per_user(c);
	assert_int_equal(harness_restart_in_place(&d), 0);
	expect_refusals(c, "qc", 9, 0);
	expect_refusals(c, "uq", 0, 4);
	poolctl_shows_refusals();
	harness_expect_checked(c, "qc");
	harness_expect_checked(c, "uq");
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(created_set_and_removed, &d),
		HARNESS_FIXTURE_TEST(owner_may_not_set, &d),
		HARNESS_FIXTURE_TEST(shared_by_one_uid, &d),
		HARNESS_FIXTURE_TEST(persisted_counts_after_close, &d),
		HARNESS_FIXTURE_TEST(shared_growth_per_hold, &d),
		HARNESS_FIXTURE_TEST(own_evictable_names_make_room, &d),
		HARNESS_FIXTURE_TEST(own_name_let_go_wakes_waiting_alloc, &d),
		HARNESS_FIXTURE_TEST(names_go_with_their_charge, &d),
		HARNESS_FIXTURE_TEST(both_quotas_or_none, &d),
		HARNESS_FIXTURE_TEST(others_persistent_growth_evicts_nothing,
				     &d),
		HARNESS_FIXTURE_TEST(names_books_under_churn, &d),
		HARNESS_STORE_TEST(names_books_across_crash, &st),
		HARNESS_FIXTURE_TEST(destroyed_with_names_held, &d),
		HARNESS_FIXTURE_TEST(kept_across_restart, &d),
		HARNESS_STORE_TEST(kept_across_crash, &st),
		HARNESS_FIXTURE_TEST(file_pool_user_quota, &d),
		HARNESS_FIXTURE_TEST(growth_of_a_move_counts_from_its_start, &d),
		HARNESS_FIXTURE_TEST(cache_within_user_quota, &d),
		HARNESS_FIXTURE_TEST(caches_share_the_user_quota, &d),
		HARNESS_FIXTURE_TEST(handles_share_the_user_quota, &d),
		HARNESS_FIXTURE_TEST(refusal_said_whole, &d),
		HARNESS_FIXTURE_TEST(producer_says_which_bound, &d),
		HARNESS_FIXTURE_TEST(batch_refusal_names_the_batch, &d),
		HARNESS_FIXTURE_TEST(refusals_counted, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
