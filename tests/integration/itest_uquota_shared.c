/*
 * itest_uquota_shared.c - a block that several handles of one uid hold
 * counts once against the uid's user quota, however many of its handles
 * (in however many connections) hold it: the pattern of a producer that
 * publishes an array and workers of its uid that retain it
 * (client/examples/workers.py), once the array stops being persistent.
 *
 *   replaced_counts_once  a producer publishes a block of 512 KiB and
 *       drops its own hold; three worker processes of its uid retain it
 *       (pool_lookup_retain); the producer publishes a new version of 256
 *       KiB under the name (pool_publish_replace).  ListUsers counts the
 *       old block once (512 KiB held, 256 KiB persisted, not 1.5 MiB
 *       held), so a worker's allocation of 192 KiB, which fits under the
 *       user quota of 1 MiB with it counted once, is served, and one of
 *       320 KiB is refused "per user" with what the uid holds counted
 *       once.  The workers end one by one: the block counts until the
 *       last of them goes, then not at all.  The check passes after each
 *       step.
 *   unpublished_counts_once  the same with the name unpublished, and
 *       workers that hold the block through two handles each: an
 *       allocation of 448 KiB beside it is served; after a restart in
 *       place the uid still holds it once, and the workers' going ends
 *       the charge as before.
 *   two_uids_each_once  a worker of another uid holds the block too,
 *       through two handles: once unpublished each uid is charged it
 *       once, and what one uid lets go leaves the other's charge as it
 *       was.
 *   closed_in_steps  drop_step = 1: a connection holding 32 blocks of
 *       256 KiB that two handles of another connection of its uid
 *       retain closes, its references dropped one per loop turn: once
 *       they are (ListUsers, and a refusal of its uid, wait for them) the
 *       uid holds 8 MiB; one of the two handles closes, in steps too,
 *       and the uid still holds 8 MiB; the last closes, and it holds
 *       nothing.  (What the uid holds between two steps is
 *       test_pool_check's to see.)  An allocation that needs the room of
 *       one block is refused until the last holder has closed, and
 *       served as soon as it has, while its references wait to be
 *       dropped behind those of another pool's handle of 100,000 closed
 *       before it: the allocation waits for them.
 *   retain_waits_for_drops  drop_step = 1: a block another uid holds
 *       alone, and a connection of the test's uid holding 32 blocks of
 *       256 KiB, under a user quota of 8.125 MiB: a retain of the block is
 *       refused.  The connection's handle closes, its references to be
 *       dropped behind those of another pool's handle of 100,000 closed
 *       before it: the retain, past the quota only by the closed handle's
 *       blocks, waits for the drops as an allocation does and is served
 *       (it was refused at once, for blocks nobody could reach any more).
 *   other_uids_drops  drop_step = 1: a handle of another uid holding
 *       100,000 blocks closes, its references dropped one per loop turn;
 *       an allocation of the test's uid past its user quota meanwhile is
 *       refused at once, those drops being no room of its uid, while the
 *       daemon still counts the other uid's blocks (DaemonStats, which
 *       waits for no drop): before, it waited for all of them.
 *   others_growth_charged_unchecked  a block of 256 KiB the test's uid
 *       holds, under a user quota of 1 MiB: another uid retains it, grows
 *       it in place to 896 KiB and lets go.  The test's uid holds 896 KiB
 *       it never asked for, and its allocation of 256 KiB is refused
 *       until it frees the block (docs/security.md, Not protected: a
 *       writer may spend the room of any uid whose block it can hold).
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"
#include "quota_util.h"

#define WORKERS 3
#define MAX_HANDLES 2

static struct daemon_proc d;

/* A worker process: its uid (0: the test's), pool, name and handles. */
struct worker {
	struct harness_child k;
	uid_t uid;
	const char *pool;
	const char *name;
	int handles;
};

/*
 * In the child: connect, open the pool w->handles times and retain the
 * block named w->name through each, say so, and hold it until told to
 * stop; the report is 0 if all went well.  The connection goes with the
 * process, and its references with it.
 */
static int
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p[MAX_HANDLES];
	struct pool_conn *c;
	pool_off_t off;
	char x;
	int i, report = 0;

	harness_child_ready(&w->k);
	if (w->uid && (setgroups(0, NULL) == -1 || setgid(OTHER_GID) == -1 ||
		       setuid(w->uid) == -1))
		return 10;
	CHECK_RC(pool_connect(NULL, &c), 0, 11);
	for (i = 0; i < w->handles; i++) {
		CHECK_RC(pool_open(c, w->pool, &p[i]), 0, 12);
		CHECK_RC(pool_lookup_retain(p[i], w->name, &off, NULL), 0, 13);
	}
	CHECK(harness_write_full(w->k.out[1], "r", 1) == 0, 14);
	CHECK(harness_read_full(w->k.stop[0], &x, 1) == 0, 15);
	CHECK(harness_write_full(w->k.out[1], &report, sizeof(report)) == 0,
	      16);
	return 0;
}

static void
worker_start(struct worker *w, uid_t uid, const char *pool,
	     const char *name, int handles)
{
	w->uid = uid;
	w->pool = pool;
	w->name = name;
	w->handles = handles;
	harness_child_start(&w->k, worker_main, w);
}

/* WORKERS workers of the test's uid, each holding "arr" of pool name
 * through handles handles. */
static void
workers_start(struct worker *w, const char *name, int handles)
{
	for (int i = 0; i < WORKERS; i++)
		worker_start(&w[i], 0, name, "arr", handles);
}

static void
worker_stop(struct worker *w)
{
	int report = -1;

	assert_int_equal(harness_child_stop(&w->k, &report, sizeof(report)),
			 0);
	assert_int_equal(report, 0);
	assert_int_equal(harness_wait(w->k.pid), 0);
}

/*
 * Wait until the daemon lists uid in pool name with connections and
 * handles open (a process's exit, a close, reaches it after the test
 * goes on).
 */
static void
wait_listed(struct pool_conn *c, const char *name, uid_t uid,
	    uint32_t connections, uint32_t handles)
{
	struct pool_user *u;
	size_t n, total, i;
	bool there;

	for (int tries = 0; tries < 30000; tries++) {
		EXPECT_RC(pool_users(c, name, &u, &n, &total), 0);
		there = connections == 0 && handles == 0;
		for (i = 0; i < n; i++)
			if (u[i].uid == uid)
				there = u[i].connections == connections &&
					u[i].handles == handles;
		free(u);
		if (there)
			return;
		harness_sleep_ms(1);
	}
	fail_msg("uid %u is not listed with %u connections and %u handles "
		 "after 30 s", (unsigned)uid, connections, handles);
}

static void
expect_usage(struct pool_conn *c, const char *name, uid_t uid, uint64_t held,
	     uint64_t persisted)
{
	uint64_t h, p;

	/* Not listed, it holds nothing. */
	(void)quota_uid_usage(c, name, uid, &h, &p);
	assert_int_equal(h, held);
	assert_int_equal(p, persisted);
	harness_expect_checked(c, name);
}

/* The producer's block of size bytes, published as name, its own hold
 * dropped: the name's reference keeps it. */
static pool_off_t
publish_dropped(struct pool *p, size_t size, const char *name, bool replace)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, size, &off), 0);
	if (replace)
		EXPECT_RC(pool_publish_replace(p, off, name), 0);
	else
		EXPECT_RC(pool_publish(p, off, name), 0);
	EXPECT_RC(pool_free(p, off), 0);
	return off;
}

/*
 * The producer's opening: pool name with a user quota of 1 MiB, opened
 * on *c as *p, and its array "arr" of 512 KiB published there, its own
 * hold dropped.
 */
static void
producer_start(const char *name, struct pool_conn **c, struct pool **p)
{
	quota_fixture_open(&d, "", name, 1 * MiB, c, p);
	(void)publish_dropped(*p, 2 * BIG, "arr", false);
}

static void
replaced_counts_once(void **state)
{
	struct worker w[WORKERS];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	uid_t me = geteuid();
	int i;

	(void)state;
	producer_start("w", &c, &p);
	workers_start(w, "w", 1);
	/* Persistent: charged once, to its persister. */
	expect_usage(c, "w", me, 0, 2 * BIG);

	/* A new version: the old one is the workers' alone. */
	(void)publish_dropped(p, BIG, "arr", true);
	/* 768 KiB and 192 KiB fit under 1 MiB; 320 KiB do not. */
	EXPECT_RC(pool_alloc(p, 3 * BIG / 4, &x), 0);
	expect_usage(c, "w", me, 2 * BIG + 3 * BIG / 4, BIG);
	EXPECT_RC(pool_free(p, x), 0);
	expect_usage(c, "w", me, 2 * BIG, BIG);
	quota_expect_refused(p, 5 * BIG / 4, "holds 768.0 KiB");

	/* The workers go one by one: the block counts until the last. */
	for (i = 0; i < WORKERS - 1; i++) {
		worker_stop(&w[i]);
		wait_listed(c, "w", me, WORKERS - i, WORKERS - i);
		expect_usage(c, "w", me, 2 * BIG, BIG);
	}
	worker_stop(&w[WORKERS - 1]);
	wait_listed(c, "w", me, 1, 1);
	expect_usage(c, "w", me, 0, BIG);
	assert_int_equal(harness_stats_of(c, "w").live_blocks, 1);
	EXPECT_RC(pool_alloc(p, 3 * BIG, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_unpublish(p, "arr"), 0);
	expect_usage(c, "w", me, 0, 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
unpublished_counts_once(void **state)
{
	struct worker w[WORKERS];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	uid_t me = geteuid();
	int i;

	(void)state;
	producer_start("u", &c, &p);
	workers_start(w, "u", MAX_HANDLES);
	EXPECT_RC(pool_unpublish(p, "arr"), 0);
	/* Six handles hold it: 512 KiB, once; 448 KiB more fit. */
	EXPECT_RC(pool_alloc(p, 7 * BIG / 4, &x), 0);
	expect_usage(c, "u", me, 2 * BIG + 7 * BIG / 4, 0);
	quota_expect_refused(p, BIG, "holds 960.0 KiB");
	EXPECT_RC(pool_free(p, x), 0);
	/* The books rebuilt by the next image count it once too. */
	assert_int_equal(harness_restart_in_place(&d), 0);
	expect_usage(c, "u", me, 2 * BIG, 0);
	quota_expect_refused(p, 2 * BIG + 4 * KiB, "holds 512.0 KiB");
	for (i = 0; i < WORKERS; i++) {
		expect_usage(c, "u", me, 2 * BIG, 0);
		worker_stop(&w[i]);
		wait_listed(c, "u", me, WORKERS - i,
			    1 + (WORKERS - i - 1) * MAX_HANDLES);
	}
	expect_usage(c, "u", me, 0, 0);
	assert_int_equal(harness_stats_of(c, "u").live_blocks, 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
two_uids_each_once(void **state)
{
	struct worker mine[2], other;
	struct pool_conn *c;
	struct pool *p;
	uid_t me = geteuid();

	(void)state;
	harness_skip_unless_root("become another uid");
	producer_start("t", &c, &p);
	worker_start(&mine[0], 0, "t", "arr", 1);
	worker_start(&mine[1], 0, "t", "arr", MAX_HANDLES);
	worker_start(&other, OTHER_UID, "t", "arr", MAX_HANDLES);
	expect_usage(c, "t", OTHER_UID, 0, 0);
	EXPECT_RC(pool_unpublish(p, "arr"), 0);
	expect_usage(c, "t", me, 2 * BIG, 0);
	expect_usage(c, "t", OTHER_UID, 2 * BIG, 0);
	/* One uid's going leaves the other's charge whole. */
	worker_stop(&other);
	wait_listed(c, "t", OTHER_UID, 0, 0);
	expect_usage(c, "t", OTHER_UID, 0, 0);
	expect_usage(c, "t", me, 2 * BIG, 0);
	worker_stop(&mine[0]);
	wait_listed(c, "t", me, 2, 1 + MAX_HANDLES);
	expect_usage(c, "t", me, 2 * BIG, 0);
	worker_stop(&mine[1]);
	wait_listed(c, "t", me, 1, 1);
	expect_usage(c, "t", me, 0, 0);
	assert_int_equal(harness_stats_of(c, "t").live_blocks, 0);
	pool_close(p);
	pool_disconnect(c);
}

#define STEPPED 32
#define BALLAST 100000	/* references of a handle closed first */

static void
closed_in_steps(void **state)
{
	struct pool_create_opts ko = {.max_size = 16 * MiB, .mode = 0600};
	struct pool_conn *c, *owner, *holder;
	struct pool *p, *po, *h1, *h2;
	pool_off_t off[STEPPED], x;
	uid_t me = geteuid();
	uint32_t k;
	int i, fk;

	(void)state;
	harness_fixture_start(&d, "drop_step = 1\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_connect(NULL, &owner), 0);
	assert_int_equal(pool_connect(NULL, &holder), 0);
	EXPECT_RC(quota_create_user(c, "s", STEPPED * BIG + BIG / 2), 0);
	EXPECT_RC(pool_open(c, "s", &p), 0);
	EXPECT_RC(pool_open(owner, "s", &po), 0);
	EXPECT_RC(pool_open(holder, "s", &h1), 0);
	EXPECT_RC(pool_open(holder, "s", &h2), 0);
	for (i = 0; i < STEPPED; i++) {
		EXPECT_RC(pool_alloc(po, BIG, &off[i]), 0);
		EXPECT_RC(pool_retain(h1, off[i]), 0);
		EXPECT_RC(pool_retain(h2, off[i]), 0);
	}
	expect_usage(c, "s", me, STEPPED * BIG, 0);
	quota_expect_refused(p, BIG, "holds 8.0 MiB");

	/* 32 references, dropped one per loop turn. */
	pool_close(po);
	pool_disconnect(owner);
	wait_listed(c, "s", me, 2, 3);
	expect_usage(c, "s", me, STEPPED * BIG, 0);
	quota_expect_refused(p, BIG, "holds 8.0 MiB");
	pool_close(h1);
	wait_listed(c, "s", me, 2, 2);
	expect_usage(c, "s", me, STEPPED * BIG, 0);
	quota_expect_refused(p, BIG, "holds 8.0 MiB");
	/*
	 * Its references are still going when the allocation comes, behind
	 * another pool's closed handle of many: it waits for them rather
	 * than be refused.
	 */
	EXPECT_RC(pool_create(c, "k", &ko), 0);
	fk = harness_raw_client(d.sock, "ballast");
	k = harness_raw_handle(fk, "k");
	EXPECT_RAW(harness_raw_alloc_many(fk, k, 16, BALLAST), 0);
	EXPECT_RAW(harness_raw_close(fk, k), 0);
	pool_close(h2);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	wait_listed(c, "s", me, 1, 1);
	expect_usage(c, "s", me, 0, 0);
	assert_int_equal(harness_stats_of(c, "s").live_blocks, 0);
	harness_close_fd(&fk);
	pool_disconnect(holder);
	pool_close(p);
	pool_disconnect(c);
}

static void
retain_waits_for_drops(void **state)
{
	struct pool_create_opts ko = {.max_size = 16 * MiB, .mode = 0600};
	struct pool_conn *c, *owner;
	struct pool *p, *po;
	struct worker other;
	pool_off_t off, x;
	uid_t me = geteuid();
	uint32_t k;
	int i, fk;

	(void)state;
	harness_skip_unless_root("become another uid");
	quota_fixture_open(&d, "drop_step = 1\n", "r", STEPPED * BIG + BIG / 2,
			   &c, &p);
	/* A block of the other uid's alone. */
	off = publish_dropped(p, BIG, "arr", false);
	worker_start(&other, OTHER_UID, "r", "arr", 1);
	EXPECT_RC(pool_unpublish(p, "arr"), 0);
	expect_usage(c, "r", OTHER_UID, BIG, 0);
	assert_int_equal(pool_connect(NULL, &owner), 0);
	EXPECT_RC(pool_open(owner, "r", &po), 0);
	for (i = 0; i < STEPPED; i++)
		EXPECT_RC(pool_alloc(po, BIG, &x), 0);
	expect_usage(c, "r", me, STEPPED * BIG, 0);
	EXPECT_RC(pool_retain(p, off), -EDQUOT);

	/* The closed handle's references go behind another pool's many. */
	EXPECT_RC(pool_create(c, "k", &ko), 0);
	fk = harness_raw_client(d.sock, "ballast");
	k = harness_raw_handle(fk, "k");
	EXPECT_RAW(harness_raw_alloc_many(fk, k, 16, BALLAST), 0);
	EXPECT_RAW(harness_raw_close(fk, k), 0);
	pool_close(po);
	EXPECT_RC(pool_retain(p, off), 0);
	expect_usage(c, "r", me, BIG, 0);
	expect_usage(c, "r", OTHER_UID, BIG, 0);
	EXPECT_RC(pool_free(p, off), 0);
	expect_usage(c, "r", me, 0, 0);
	worker_stop(&other);
	harness_close_fd(&fk);
	pool_disconnect(owner);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * In the child, as w->uid: a raw connection's handle on w->pool holding
 * BALLAST blocks, closed, its references to be dropped in steps; says so
 * and waits to be told to stop.
 */
static int
ballast_main(void *arg)
{
	struct worker *w = arg;
	uint32_t k;
	int fd, report = 0;
	char x;

	harness_child_ready(&w->k);
	if (setgroups(0, NULL) == -1 || setgid(OTHER_GID) == -1 ||
	    setuid(w->uid) == -1)
		return 10;
	CHECK((fd = harness_raw_greeted(d.sock, "ballast")) != -1, 11);
	CHECK_RC(harness_raw_open(fd, w->pool, &k), 0, 12);
	CHECK_RC(harness_raw_alloc_many(fd, k, 16, BALLAST), 0, 13);
	CHECK_RC(harness_raw_close(fd, k), 0, 14);
	CHECK(harness_write_full(w->k.out[1], "r", 1) == 0, 15);
	CHECK(harness_read_full(w->k.stop[0], &x, 1) == 0, 16);
	CHECK(harness_write_full(w->k.out[1], &report, sizeof(report)) == 0,
	      17);
	return 0;
}

static void
other_uids_drops(void **state)
{
	struct pool_daemon_stats ds;
	struct worker other;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;

	(void)state;
	harness_skip_unless_root("become another uid");
	quota_fixture_open(&d, "drop_step = 1\n", "o", 8 * MiB, &c, &p);
	EXPECT_RC(pool_alloc(p, 8 * MiB, &x), 0);
	other.uid = OTHER_UID;
	other.pool = "o";
	harness_child_start(&other.k, ballast_main, &other);
	/* Its references go one per loop turn from now. */
	quota_expect_refused(p, BIG, "holds 8.0 MiB");
	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	printf("uquota_shared: %llu blocks live at the refusal\n",
	       (unsigned long long)ds.live_blocks);
	assert_true(ds.live_blocks > 1);
	worker_stop(&other);
	expect_usage(c, "o", OTHER_UID, 0, 0);
	expect_usage(c, "o", geteuid(), 8 * MiB, 0);
	assert_int_equal(harness_stats_of(c, "o").live_blocks, 1);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(c);
}

#define GROWN (7 * BIG / 2)

/* In the child, as another uid: retain the block at *arg, grow it in
 * place to GROWN and let it go. */
static int
grower_main(void *arg)
{
	pool_off_t off = *(pool_off_t *)arg, out = POOL_OFF_NONE;
	struct pool_conn *c;
	struct pool *p;

	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "g", &p), 0, 11);
	CHECK_RC(pool_retain(p, off), 0, 12);
	CHECK_RC(pool_realloc(p, off, GROWN, &out), 0, 13);
	CHECK(out == off, 14);
	CHECK_RC(pool_free(p, off), 0, 15);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
others_growth_charged_unchecked(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	uid_t me = geteuid();
	pid_t pid;

	(void)state;
	harness_skip_unless_root("become another uid");
	quota_fixture_open(&d, "", "g", 1 * MiB, &c, &p);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, grower_main, &x);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	wait_listed(c, "g", OTHER_UID, 0, 0);
	/* Its growth is the holder's now, past what the holder asked. */
	expect_usage(c, "g", OTHER_UID, 0, 0);
	expect_usage(c, "g", me, GROWN, 0);
	quota_expect_refused(p, BIG, "holds 896.0 KiB");
	EXPECT_RC(pool_free(p, x), 0);
	expect_usage(c, "g", me, 0, 0);
	EXPECT_RC(pool_alloc(p, BIG, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(replaced_counts_once, &d),
		HARNESS_FIXTURE_TEST(unpublished_counts_once, &d),
		HARNESS_FIXTURE_TEST(two_uids_each_once, &d),
		HARNESS_FIXTURE_TEST(closed_in_steps, &d),
		HARNESS_FIXTURE_TEST(retain_waits_for_drops, &d),
		HARNESS_FIXTURE_TEST(other_uids_drops, &d),
		HARNESS_FIXTURE_TEST(others_growth_charged_unchecked, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
