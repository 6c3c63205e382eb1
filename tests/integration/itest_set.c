/*
 * itest_set.c - SetPool (pool_set, `poolctl set`): a live pool's mode,
 * owner, group, quota and retain changed without destroying it.
 *
 *   each_setting_changes        mode, owner, group, quota and retain set
 *       one at a time, each seen in the stats with the others as they
 *       were, and in the log, old -> new; retain to none and back to the
 *       default.
 *   mode_tightened_keeps_handles  a client of another uid opened the
 *       pool under 0666; after a set to 0600 its open handle still
 *       allocates, while its new open is -EACCES; made the owner, it
 *       opens again.
 *   quota_lowered_then_raised   lowered below what a connection holds,
 *       nothing is taken back (its bytes stay) but the next allocation is
 *       -EDQUOT; raised, that same allocation goes through.
 *   refused_without_rights      another uid may change nothing of root's
 *       pool; made its owner, it may change the mode and the group to its
 *       own, not the owner, quota, retain or a group it is not in (all
 *       -EPERM); the stats show only what was allowed.
 *   bad_values_change_nothing   mode 0 or past 0777, uid or gid -1, an
 *       unknown flag or reserved word, retain_default false on the wire,
 *       a good setting beside a bad one: -EINVAL and stats unchanged;
 *       no such pool: -ENOENT.
 *   kept_across_restart         the settings set survive SIGUSR2.
 *   kept_across_crash           and a crash under systemd's fd store,
 *       replayed from the journal, twice.
 *   file_pools_stay_the_files   a pool the file defines: -EROFS, nothing
 *       changed; a pool set and then added to the file takes the file's
 *       settings at the reload and refuses set from then on; one set and
 *       not in the file keeps its settings across a reload.
 *   poolctl_set                 `poolctl set`: usage errors exit 2
 *       before connecting, names resolved to numbers, --json, exit 1 for
 *       a file pool and 77 for another uid.
 *   created_for_another         CreatePool's owner and group: a 0600
 *       pool made for another uid opens read-write for it and not for a
 *       third; a 0060 pool given a group alone, for a member; the stats,
 *       the log and `poolctl stats` show the owner, and no set followed.
 *   create_owner_refused        uid or gid 4294967295, an unknown flag,
 *       a uid without its flag, a reserved word: -EINVAL; a non-admin
 *       giving a pool away: -EPERM; nothing made.
 *   created_owner_kept_across_restart, _crash  the owner and group given
 *       survive SIGUSR2, and a crash under the fd store, twice.
 *   poolctl_create_owner        `poolctl create --owner --group`: names
 *       and numbers; an unknown user or group, or uid 4294967295, exit 2
 *       with nothing made.
 *
 * Tests that drop to another uid skip unless run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define OTHER_UID 65534
#define OTHER_GID 65534
#define STRANGER_GID 65533

static struct daemon_proc d;

/* The settings set can change, as the stats show them, alike. */
static void
expect_same_settings(const struct pool_stats *a, const struct pool_stats *b)
{
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->quota, b->quota);
	assert_int_equal(a->retain_bytes, b->retain_bytes);
}

static void
create_pool(struct pool_conn *c, const char *name, uint32_t mode,
	    uint64_t quota)
{
	struct pool_create_opts o = {.max_size = 16 * MiB, .mode = mode,
				     .quota = quota};

	EXPECT_RC(pool_create(c, name, &o), 0);
}

static int
set_one(struct pool_conn *c, const char *name, uint32_t which, uint64_t v)
{
	struct pool_set_opts o = {.which = which};

	o.mode = o.uid = o.gid = (uint32_t)v;
	o.quota = o.retain = v;
	return pool_set(c, name, &o);
}

/* ---- each setting ------------------------------------------------------- */

static void
each_setting_changes(void **state)
{
	struct pool_conn *c;
	struct pool_stats was, now;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(c, "s", 0600, 1 * MiB);
	was = harness_stats_of(c, "s");

	EXPECT_RC(set_one(c, "s", POOL_SET_MODE, 0640), 0);
	now = harness_stats_of(c, "s");
	assert_int_equal(now.mode, 0640);
	was.mode = 0640;
	expect_same_settings(&now, &was);
	harness_expect_logged(&d, "pool s set by uid 0: mode 0600 -> 0640");

	EXPECT_RC(set_one(c, "s", POOL_SET_OWNER, 4242), 0);
	was.uid = 4242;
	now = harness_stats_of(c, "s");
	expect_same_settings(&now, &was);
	EXPECT_RC(set_one(c, "s", POOL_SET_GROUP, 4343), 0);
	was.gid = 4343;
	now = harness_stats_of(c, "s");
	expect_same_settings(&now, &was);
	EXPECT_RC(set_one(c, "s", POOL_SET_QUOTA, 3 * MiB), 0);
	was.quota = 3 * MiB;
	now = harness_stats_of(c, "s");
	expect_same_settings(&now, &was);
	harness_expect_logged(&d, "quota 1048576 -> 3145728");

	EXPECT_RC(set_one(c, "s", POOL_SET_RETAIN, 8 * MiB), 0);
	now = harness_stats_of(c, "s");
	assert_int_equal(now.retain_bytes, 8 * MiB);
	was.retain_bytes = 8 * MiB;
	expect_same_settings(&now, &was);
	EXPECT_RC(set_one(c, "s", POOL_SET_RETAIN, POOL_RETAIN_NONE), 0);
	assert_int_equal(harness_stats_of(c, "s").retain_bytes, 0);
	harness_expect_logged(&d, "retain 8388608 -> none");
	/* 0: back to the daemon's default, which keeps some. */
	EXPECT_RC(set_one(c, "s", POOL_SET_RETAIN, 0), 0);
	now = harness_stats_of(c, "s");
	assert_true(now.retain_bytes > 0 && now.retain_bytes < 8 * MiB);
	harness_expect_logged(&d, "retain none -> default");

	/* Several at once; nothing given changes nothing. */
	{
		struct pool_set_opts o = {
			.which = POOL_SET_MODE | POOL_SET_QUOTA,
			.mode = 0660, .quota = 0,
		};

		EXPECT_RC(pool_set(c, "s", &o), 0);
		o.which = 0;
		EXPECT_RC(pool_set(c, "s", &o), 0);
	}
	now = harness_stats_of(c, "s");
	assert_int_equal(now.mode, 0660);
	assert_int_equal(now.quota, 0);
	assert_int_equal(now.uid, 4242);
	assert_int_equal(now.gid, 4343);
	pool_disconnect(c);
}

/* ---- mode and open handles ---------------------------------------------- */

struct pipes {
	int ready[2];	/* child -> parent: its handle is open */
	int go[2];	/* parent -> child: the set is done */
};

static int
opened_before_child(void *arg)
{
	struct pipes *pp = arg;
	struct pool_conn *c;
	struct pool *rw, *again;
	pool_off_t a, b;
	char byte = 0;

	close(pp->ready[0]);
	close(pp->go[1]);
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "m", &rw), 0, 11);
	CHECK_RC(pool_alloc(rw, 4096, &a), 0, 12);
	memset(pool_ptr(rw, a), 0x3c, 4096);
	CHECK(harness_write_full(pp->ready[1], &byte, 1) == 0, 13);
	CHECK(harness_read_full(pp->go[0], &byte, 1) == 0, 14);

	/* The handle keeps its access; a new open is refused. */
	CHECK_RC(pool_alloc(rw, 4096, &b), 0, 15);
	CHECK(((uint8_t *)pool_ptr(rw, a))[4095] == 0x3c, 16);
	CHECK_RC(pool_free(rw, b), 0, 17);
	CHECK_RC(pool_open(c, "m", &again), -EACCES, 18);
	CHECK_RC(pool_open_readonly(c, "m", &again), -EACCES, 19);
	CHECK(harness_write_full(pp->ready[1], &byte, 1) == 0, 20);
	CHECK(harness_read_full(pp->go[0], &byte, 1) == 0, 21);

	/* Its owner now: the 0600 pool opens for it. */
	CHECK_RC(pool_open(c, "m", &again), 0, 22);
	pool_close(again);
	pool_close(rw);
	pool_disconnect(c);
	return 0;
}

static void
mode_tightened_keeps_handles(void **state)
{
	struct pool_conn *c;
	struct pipes pp;
	char byte = 1;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(c, "m", 0666, 0);
	assert_int_equal(pipe(pp.ready), 0);
	assert_int_equal(pipe(pp.go), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, opened_before_child, &pp);
	assert_true(pid > 0);
	close(pp.ready[1]);
	close(pp.go[0]);
	assert_int_equal(harness_read_full(pp.ready[0], &byte, 1), 0);
	EXPECT_RC(set_one(c, "m", POOL_SET_MODE, 0600), 0);
	assert_int_equal(harness_write_full(pp.go[1], &byte, 1), 0);
	assert_int_equal(harness_read_full(pp.ready[0], &byte, 1), 0);
	EXPECT_RC(set_one(c, "m", POOL_SET_OWNER, OTHER_UID), 0);
	assert_int_equal(harness_write_full(pp.go[1], &byte, 1), 0);
	assert_int_equal(harness_wait(pid), 0);
	close(pp.ready[0]);
	close(pp.go[1]);
	assert_int_equal(harness_stats_of(c, "m").mode, 0600);
	pool_disconnect(c);
}

/* ---- quota -------------------------------------------------------------- */

static void
quota_lowered_then_raised(void **state)
{
	struct pool_conn *c, *admin;
	struct pool *p;
	pool_off_t b[3], off;
	const uint8_t *bytes;
	int i;
	size_t j;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &admin), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(admin, "q", 0600, 1 * MiB);
	EXPECT_RC(pool_open(c, "q", &p), 0);
	/* Counted exactly: no block kept back in a client-side cache. */
	EXPECT_RC(pool_set_cache(p, 0), 0);
	for (i = 0; i < 3; i++) {
		EXPECT_RC(pool_alloc(p, 256 * KiB, &b[i]), 0);
		memset(pool_ptr(p, b[i]), 0x51 + i, 256 * KiB);
	}

	EXPECT_RC(set_one(admin, "q", POOL_SET_QUOTA, 512 * KiB), 0);
	EXPECT_RC(pool_alloc(p, 128 * KiB, &off), -EDQUOT);
	assert_int_equal(harness_stats_of(admin, "q").live_blocks, 3);
	for (i = 0; i < 3; i++) {
		bytes = pool_ptr(p, b[i]);
		for (j = 0; j < 256 * KiB; j += 4096)
			assert_int_equal(bytes[j], 0x51 + i);
	}

	/* Raised: the allocation refused goes through. */
	EXPECT_RC(set_one(admin, "q", POOL_SET_QUOTA, 2 * MiB), 0);
	EXPECT_RC(pool_alloc(p, 128 * KiB, &off), 0);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	pool_disconnect(admin);
}

/* ---- rights ------------------------------------------------------------- */

static int
stranger_child(void *arg)
{
	struct pool_conn *c;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(set_one(c, "r", POOL_SET_MODE, 0666), -EPERM, 11);
	CHECK_RC(set_one(c, "r", POOL_SET_QUOTA, 0), -EPERM, 12);
	CHECK_RC(set_one(c, "r", POOL_SET_OWNER, OTHER_UID), -EPERM, 13);
	pool_disconnect(c);
	return 0;
}

static int
owner_child(void *arg)
{
	struct pool_conn *c;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(set_one(c, "r", POOL_SET_MODE, 0640), 0, 11);
	CHECK_RC(set_one(c, "r", POOL_SET_GROUP, OTHER_GID), 0, 12);
	CHECK_RC(set_one(c, "r", POOL_SET_GROUP, STRANGER_GID), -EPERM, 13);
	CHECK_RC(set_one(c, "r", POOL_SET_QUOTA, 0), -EPERM, 14);
	CHECK_RC(set_one(c, "r", POOL_SET_RETAIN, POOL_RETAIN_NONE), -EPERM,
		 15);
	CHECK_RC(set_one(c, "r", POOL_SET_OWNER, 0), -EPERM, 16);
	/* All or nothing: the mode allowed, beside the quota, stays. */
	{
		struct pool_set_opts o = {
			.which = POOL_SET_MODE | POOL_SET_QUOTA,
			.mode = 0600, .quota = 0,
		};

		CHECK_RC(pool_set(c, "r", &o), -EPERM, 17);
	}
	pool_disconnect(c);
	return 0;
}

static void
refused_without_rights(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(c, "r", 0600, 1 * MiB);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, stranger_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	st = harness_stats_of(c, "r");
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.uid, 0);
	assert_int_equal(st.quota, 1 * MiB);

	EXPECT_RC(set_one(c, "r", POOL_SET_OWNER, OTHER_UID), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, owner_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	st = harness_stats_of(c, "r");
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.uid, OTHER_UID);
	assert_int_equal(st.gid, OTHER_GID);
	assert_int_equal(st.quota, 1 * MiB);
	pool_disconnect(c);
}

/* ---- bad values --------------------------------------------------------- */

/* SetPool of pool b on the wire, with a retain_default of false. */
static int
raw_retain_default_false(void)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool sp = POOLMGR__SET_POOL__INIT;
	int fd, rc;

	assert_true((fd = harness_raw_greeted(d.sock, "raw")) >= 0);
	sp.name = "b";
	sp.set_retain_case = POOLMGR__SET_POOL__SET_RETAIN_RETAIN_DEFAULT;
	sp.retain_default = 0;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &sp;
	rc = harness_raw_error(fd, &req, NULL);
	close(fd);
	return rc;
}

static void
bad_values_change_nothing(void **state)
{
	struct pool_conn *c;
	struct pool_stats was, now;
	struct pool_set_opts o;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(c, "b", 0640, 1 * MiB);
	was = harness_stats_of(c, "b");

	EXPECT_RC(set_one(c, "b", POOL_SET_MODE, 0), -EINVAL);
	EXPECT_RC(set_one(c, "b", POOL_SET_MODE, 01000), -EINVAL);
	EXPECT_RC(set_one(c, "b", POOL_SET_MODE, 04640), -EINVAL);
	EXPECT_RC(set_one(c, "b", POOL_SET_OWNER, UINT32_MAX), -EINVAL);
	EXPECT_RC(set_one(c, "b", POOL_SET_GROUP, UINT32_MAX), -EINVAL);
	EXPECT_RC(set_one(c, "b", 0x100, 0600), -EINVAL);
	memset(&o, 0, sizeof(o));
	o.which = POOL_SET_MODE;
	o.mode = 0600;
	o.reserved = 1;
	EXPECT_RC(pool_set(c, "b", &o), -EINVAL);
	EXPECT_RC(pool_set(c, "b", NULL), -EINVAL);
	/* A good quota and owner beside a bad mode: none of them. */
	memset(&o, 0, sizeof(o));
	o.which = POOL_SET_QUOTA | POOL_SET_OWNER | POOL_SET_MODE;
	o.quota = 7 * MiB;
	o.uid = 77;
	o.mode = 02600;
	EXPECT_RC(pool_set(c, "b", &o), -EINVAL);
	EXPECT_RC(raw_retain_default_false(), -EINVAL);
	EXPECT_RC(set_one(c, "nosuch", POOL_SET_MODE, 0600), -ENOENT);
	EXPECT_RC(set_one(c, ".bad", POOL_SET_MODE, 0600), -ENOENT);

	now = harness_stats_of(c, "b");
	expect_same_settings(&now, &was);
	assert_int_equal(now.mode, 0640);
	assert_int_equal(harness_log_count(&d, "pool b set by"), 0);
	pool_disconnect(c);
}

/* ---- restart and crash -------------------------------------------------- */

/* Every setting of pool name away from create_pool's. */
static struct pool_stats
set_all(struct pool_conn *c, const char *name)
{
	struct pool_set_opts o = {
		.which = POOL_SET_MODE | POOL_SET_OWNER | POOL_SET_GROUP |
			 POOL_SET_QUOTA | POOL_SET_RETAIN,
		.mode = 0604, .uid = 4242, .gid = 4343, .quota = 5 * MiB,
		.retain = 6 * MiB,
	};
	struct pool_stats st;

	EXPECT_RC(pool_set(c, name, &o), 0);
	st = harness_stats_of(c, name);
	assert_int_equal(st.mode, 0604);
	assert_int_equal(st.retain_bytes, 6 * MiB);
	return st;
}

static void
kept_across_restart(void **state)
{
	struct pool_conn *c;
	struct pool_stats was, now;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(c, "k", 0600, 1 * MiB);
	was = set_all(c, "k");
	pool_disconnect(c);
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	now = harness_stats_of(c, "k");
	expect_same_settings(&now, &was);
	pool_disconnect(c);
}

static struct harness_store st;

static void
kept_across_crash(void **state)
{
	struct pool_conn *c;
	struct pool_stats was, now;
	int round;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	create_pool(c, "k", 0600, 1 * MiB);
	was = set_all(c, "k");
	pool_disconnect(c);
	for (round = 0; round < 2; round++) {
		assert_int_equal(harness_store_recover(&st), 0);
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		now = harness_stats_of(c, "k");
		expect_same_settings(&now, &was);
		pool_disconnect(c);
	}
}

/* ---- the file's pools --------------------------------------------------- */

/* The file's pools f (and, with g, g) after the [daemon] section. */
static void
reload_with(bool g)
{
	FILE *f = fopen(d.conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s"
		"[pool f]\nsize = 4M\nmode = 0640\nquota = 1M\n%s",
		HARNESS_FIXTURE_CONF,
		g ? "[pool g]\nsize = 4M\nmode = 0660\n" : "");
	assert_int_equal(fclose(f), 0);
	harness_reload(&d);
	if (!harness_alive(&d))
		fail_msg("the daemon died at the SIGHUP");
}

static void
file_pools_stay_the_files(void **state)
{
	struct pool_conn *c;
	struct pool_stats was, now;

	(void)state;
	harness_fixture_start(&d,
			      "[pool f]\nsize = 4M\nmode = 0640\nquota = 1M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	was = harness_stats_of(c, "f");
	EXPECT_RC(set_one(c, "f", POOL_SET_MODE, 0600), -EROFS);
	EXPECT_RC(set_one(c, "f", POOL_SET_QUOTA, 2 * MiB), -EROFS);
	now = harness_stats_of(c, "f");
	expect_same_settings(&now, &was);

	/* Made by poolctl and set: a reload leaves it be ... */
	create_pool(c, "g", 0600, 0);
	EXPECT_RC(set_one(c, "g", POOL_SET_QUOTA, 3 * MiB), 0);
	EXPECT_RC(set_one(c, "h", POOL_SET_QUOTA, 3 * MiB), -ENOENT);
	create_pool(c, "h", 0600, 0);
	EXPECT_RC(set_one(c, "h", POOL_SET_MODE, 0644), 0);
	reload_with(false);
	assert_int_equal(harness_stats_of(c, "g").quota, 3 * MiB);
	assert_int_equal(harness_stats_of(c, "h").mode, 0644);
	/* ... until the file defines it: then the file's, and only there. */
	reload_with(true);
	now = harness_stats_of(c, "g");
	assert_int_equal(now.mode, 0660);
	assert_int_equal(now.quota, 0);
	EXPECT_RC(set_one(c, "g", POOL_SET_QUOTA, 3 * MiB), -EROFS);
	assert_int_equal(harness_stats_of(c, "g").quota, 0);
	EXPECT_RC(set_one(c, "h", POOL_SET_MODE, 0600), 0);
	assert_int_equal(harness_stats_of(c, "h").mode, 0600);
	pool_disconnect(c);
}

/* ---- poolctl ------------------------------------------------------------ */

/* As another uid, which cannot write the daemon's directory: 2>&1. */
static int
poolctl_stranger_child(void *arg)
{
	char cmd[512], out[1024];
	int rc;

	(void)arg;
	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/poolctl set p "
		 "--mode 0666 2>&1", d.sock, harness_build());
	rc = harness_run(cmd, out, sizeof(out));
	CHECK(rc == 77, 10);
	CHECK(strstr(out, "not permitted") != NULL, 11);
	return 0;
}

static void
poolctl_set(void **state)
{
	struct pool_conn *c;
	struct pool_stats was, now;
	char out[1024], err[1024];
	pid_t pid;

	(void)state;
	harness_fixture_start(&d, "[pool f]\nsize = 4M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	create_pool(c, "p", 0600, 0);
	was = harness_stats_of(c, "p");

	/* Usage errors: exit 2, nothing asked of the daemon. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p"), 2);
	assert_non_null(strstr(err, "nothing to change"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --mode 0"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --mode 0800"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --owner no-such-user-here"), 2);
	assert_non_null(strstr(err, "no such user"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --group no-such-group-here"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --quota 1X"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --retain lots"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --size 1M"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set --mode 0644"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set .p --mode 0644"), 2);
	now = harness_stats_of(c, "p");
	expect_same_settings(&now, &was);

	/* Names to numbers, every setting, JSON of what was set. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "--json=short set p --mode 0644 --owner nobody "
		"--group nogroup --quota 2M --retain 0"), 0);
	assert_non_null(strstr(out, "\"pool\":\"p\""));
	assert_non_null(strstr(out, "\"mode\":\"0644\""));
	assert_non_null(strstr(out, "\"uid\":65534"));
	assert_non_null(strstr(out, "\"retain\":0"));
	now = harness_stats_of(c, "p");
	assert_int_equal(now.mode, 0644);
	assert_int_equal(now.uid, OTHER_UID);
	assert_int_equal(now.gid, OTHER_GID);
	assert_int_equal(now.quota, 2 * MiB);
	assert_int_equal(now.retain_bytes, 0);
	/* Numbers as they are; without --json, nothing on stdout. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set p --owner 0 --group 0 --retain default"), 0);
	assert_string_equal(out, "");
	now = harness_stats_of(c, "p");
	assert_int_equal(now.uid, 0);
	assert_int_equal(now.gid, 0);
	assert_true(now.retain_bytes > 0);

	/* Refusals: exit 1 with the reason. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set f --mode 0644"), 1);
	assert_non_null(strstr(err, "configuration file"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "set nosuch --mode 0644"), 1);
	assert_non_null(strstr(err, "no such pool"));

	if (geteuid() == 0) {
		pid = harness_spawn_as(OTHER_UID, STRANGER_GID,
				       poolctl_stranger_child, NULL);
		assert_true(pid > 0);
		assert_int_equal(harness_wait(pid), 0);
		assert_int_equal(harness_stats_of(c, "p").mode, 0644);
	}
	pool_disconnect(c);
}

/* ---- created for another: CreatePool's owner and group ----------------- */

#define THIRD_UID 4242

/* Pool name made owned by uid and gid from the start. */
static int
create_for(struct pool_conn *c, const char *name, uint32_t mode,
	   uint32_t uid, uint32_t gid)
{
	struct pool_create_opts o = {
		.max_size = 4 * MiB, .mode = mode,
		.flags = POOL_CREATE_OWNER | POOL_CREATE_GROUP,
		.uid = uid, .gid = gid,
	};

	return pool_create(c, name, &o);
}

static void
expect_owned(struct pool_conn *c, const char *name, uint32_t uid,
	     uint32_t gid)
{
	struct pool_stats ps = harness_stats_of(c, name);

	assert_int_equal(ps.uid, uid);
	assert_int_equal(ps.gid, gid);
}

/* The owner given: a read-write open of its 0600 pool, and a block. */
static int
given_owner_child(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "o", &p), 0, 11);
	CHECK_RC(pool_alloc(p, 4096, &off), 0, 12);
	memset(pool_ptr(p, off), 0x6f, 4096);
	CHECK_RC(pool_free(p, off), 0, 13);
	pool_close(p);
	/* In the group given: the 0060 pool is open to it too. */
	CHECK_RC(pool_open(c, "g", &p), 0, 14);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Neither the owner nor in the group: no open of either kind. */
static int
third_uid_child(void *arg)
{
	struct pool_conn *c;
	struct pool *p;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "o", &p), -EACCES, 11);
	CHECK_RC(pool_open_readonly(c, "o", &p), -EACCES, 12);
	CHECK_RC(pool_open(c, "g", &p), -EACCES, 13);
	pool_disconnect(c);
	return 0;
}

static void
created_for_another(void **state)
{
	struct pool_conn *c;
	char out[4096], err[1024];
	pid_t pid;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_for(c, "o", 0600, OTHER_UID, OTHER_GID), 0);
	expect_owned(c, "o", OTHER_UID, OTHER_GID);
	assert_int_equal(harness_stats_of(c, "o").mode, 0600);
	/* The group alone: the owner stays the creator's. */
	{
		struct pool_create_opts o = {
			.max_size = 4 * MiB, .mode = 0060,
			.flags = POOL_CREATE_GROUP, .gid = OTHER_GID,
		};

		EXPECT_RC(pool_create(c, "g", &o), 0);
	}
	expect_owned(c, "g", 0, OTHER_GID);

	pid = harness_spawn_as(OTHER_UID, OTHER_GID, given_owner_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	pid = harness_spawn_as(THIRD_UID, STRANGER_GID, third_uid_child,
			       NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);

	/* Made so: no set followed, and poolctl shows the owner. */
	assert_int_equal(harness_log_count(&d, "pool o set by"), 0);
	harness_expect_logged(&d, "pool o created by uid 0: 4194304 bytes, "
			      "mode 0600, owner 65534:65534");
	/* A mode is written as octal with its 0, whatever its digits. */
	harness_expect_logged(&d, "pool g created by uid 0: 4194304 bytes, "
			      "mode 0060, owner 0:65534");
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "stats o --format=kv"), 0);
	assert_non_null(strstr(out, "o uid 65534\n"));
	assert_non_null(strstr(out, "o gid 65534\n"));
	pool_disconnect(c);
}

/* Not an admin: may not create, for itself or for anyone. */
static int
create_for_child(void *arg)
{
	struct pool_conn *c;
	struct pool_stats ps;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(create_for(c, "n", 0666, OTHER_UID, OTHER_GID), -EPERM, 11);
	CHECK_RC(create_for(c, "n", 0666, 0, 0), -EPERM, 12);
	CHECK_RC(pool_stats_by_name(c, "n", &ps), -ENOENT, 13);
	pool_disconnect(c);
	return 0;
}

static void
create_owner_refused(void **state)
{
	struct pool_conn *c;
	struct pool_create_opts o;
	struct pool_stats ps;
	pid_t pid;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_for(c, "x", 0600, UINT32_MAX, 0), -EINVAL);
	EXPECT_RC(create_for(c, "x", 0600, 0, UINT32_MAX), -EINVAL);
	EXPECT_RC(create_for(c, "x", 0600, OTHER_UID, UINT32_MAX), -EINVAL);
	/* A flag this library does not know, or a number without its flag. */
	memset(&o, 0, sizeof(o));
	o.max_size = 4 * MiB;
	o.flags = 0x04;
	EXPECT_RC(pool_create(c, "x", &o), -EINVAL);
	o.flags = POOL_CREATE_GROUP;
	o.uid = OTHER_UID;
	EXPECT_RC(pool_create(c, "x", &o), -EINVAL);
	o.flags = 0;
	o.uid = 0;
	o.reserved[0] = 1;
	EXPECT_RC(pool_create(c, "x", &o), -EINVAL);
	EXPECT_RC(pool_stats_by_name(c, "x", &ps), -ENOENT);
	assert_int_equal(harness_log_count(&d, "pool x created"), 0);

	if (geteuid() == 0) {
		pid = harness_spawn_as(OTHER_UID, OTHER_GID, create_for_child,
				       NULL);
		assert_true(pid > 0);
		assert_int_equal(harness_wait(pid), 0);
		EXPECT_RC(pool_stats_by_name(c, "n", &ps), -ENOENT);
	}
	pool_disconnect(c);
}

static void
created_owner_kept_across_restart(void **state)
{
	struct pool_conn *c;

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(create_for(c, "k", 0640, 4242, 4343), 0);
	pool_disconnect(c);
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	expect_owned(c, "k", 4242, 4343);
	assert_int_equal(harness_stats_of(c, "k").mode, 0640);
	pool_disconnect(c);
}

static void
created_owner_kept_across_crash(void **state)
{
	struct pool_conn *c;
	int round;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(create_for(c, "k", 0640, 4242, 4343), 0);
	pool_disconnect(c);
	for (round = 0; round < 2; round++) {
		assert_int_equal(harness_store_recover(&st), 0);
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		expect_owned(c, "k", 4242, 4343);
		assert_int_equal(harness_stats_of(c, "k").mode, 0640);
		pool_disconnect(c);
	}
}

static void
poolctl_create_owner(void **state)
{
	struct pool_conn *c;
	struct pool_stats ps;
	char out[1024], err[1024];

	(void)state;
	harness_fixture_start(&d, "");
	assert_int_equal(pool_connect(NULL, &c), 0);

	/* Names resolved here, numbers as they are. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c1 --size 1M --mode 0640 --owner nobody "
		"--group nogroup"), 0);
	expect_owned(c, "c1", OTHER_UID, OTHER_GID);
	assert_int_equal(harness_stats_of(c, "c1").mode, 0640);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c2 --size 1M --owner 4242"), 0);
	expect_owned(c, "c2", 4242, 0);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c3 --group 4343 --size 1M"), 0);
	expect_owned(c, "c3", 0, 4343);
	/* JSON says the owner given, and no owner when none was. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "--json=short create c5 --size 1M --owner 4242"),
		0);
	assert_non_null(strstr(out, "\"uid\":4242"));
	assert_null(strstr(out, "\"gid\""));

	/* Usage errors: exit 2, nothing made. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c4 --size 1M --owner no-such-user-here"),
		2);
	assert_non_null(strstr(err, "no such user"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c4 --size 1M --group no-such-group-here"),
		2);
	assert_non_null(strstr(err, "no such group"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c4 --size 1M --owner 4294967295"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
		sizeof(err), "create c4 --size 1M --owner ''"), 2);
	EXPECT_RC(pool_stats_by_name(c, "c4", &ps), -ENOENT);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(each_setting_changes, &d),
		HARNESS_FIXTURE_TEST(mode_tightened_keeps_handles, &d),
		HARNESS_FIXTURE_TEST(quota_lowered_then_raised, &d),
		HARNESS_FIXTURE_TEST(refused_without_rights, &d),
		HARNESS_FIXTURE_TEST(bad_values_change_nothing, &d),
		HARNESS_FIXTURE_TEST(kept_across_restart, &d),
		HARNESS_STORE_TEST(kept_across_crash, &st),
		HARNESS_FIXTURE_TEST(file_pools_stay_the_files, &d),
		HARNESS_FIXTURE_TEST(poolctl_set, &d),
		HARNESS_FIXTURE_TEST(created_for_another, &d),
		HARNESS_FIXTURE_TEST(create_owner_refused, &d),
		HARNESS_FIXTURE_TEST(created_owner_kept_across_restart, &d),
		HARNESS_STORE_TEST(created_owner_kept_across_crash, &st),
		HARNESS_FIXTURE_TEST(poolctl_create_owner, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
