/*
 * itest_perm.c - who may open, create and destroy pools, and quotas.
 *
 * The test runs as root (trusted) and drops children to uid 65534:
 * - on a 0600 pool such a child's pool_open and pool_open_readonly are
 *   -EACCES, stats by name too, and pool_create / pool_destroy are -EPERM;
 *   each -EACCES says the same words: the pool, its mode (0600), what it
 *   is not (readable, writable) and for which uid;
 *   on a 0644 pool it may read stats and open read-only, but not open
 *   read-write, trim or check (the check is costly: write permission);
 * - a 0660 pool of group 65534 (from the config file) opens read-write for
 *   uid 65534 / gid 65534, and not for uid 65534 with another gid; also
 *   for uid 65534 in 100 supplementary groups, 65534 the last of them;
 * - with admin_group = 65534 that child may create pools (owned by it) and
 *   destroy them, while uid 65534 in another group still may not;
 * - quota = 64K: each session gets 64 KiB of usable bytes, shared by its
 *   handles; the next allocation is -EDQUOT; another session has its own;
 * - a persistent block counts against the quota of its persister's uid in
 *   every session of it, after the persister let it go, after it
 *   reconnects: persisting and freeing in a loop cannot fill the pool
 *   past the quota; once the block is freed, the room is back; and the
 *   blocks one uid persists from many connections share one quota;
 * - a writer of a 0666 pool cannot free, realloc, persist, name or
 *   batch-free another's block (-EPERM; the batch frees nothing of its
 *   own either), and the block stays as it was;
 * - a 0604 pool of group 65534: uid 65534 in that group only as a
 *   supplementary one gets the group's bits, none (open, stats, clients:
 *   -EACCES, unlisted), while uid 65534 in no group of it reads.
 * - a socket whose mode keeps uid 65534 out: pool_connect is -EACCES and
 *   pool_last_message names the socket, its owner, group and mode, and
 *   what lets a client in: membership of a group of clients that may
 *   connect, never group root, which the daemon run by root gives its
 *   socket; else the administrator's settings, when only the owner may;
 *   a directory on the way that uid 65534 may not search is named as
 *   the bar instead.  A socket of mode 0606 keeps its group's members
 *   out and lets others in, and the words say so; root without
 *   CAP_DAC_OVERRIDE is held to the mode, and told it as anyone is.  The longest such words, a path of 107 bytes and
 *   names of 63 (a user and a group of the test's own), are whole.  The
 *   example programs say those words, and of a pool whose mode refuses
 *   them, the daemon's.
 * The uid parts are skipped, with a reason, when not running as root.
 *
 * Children report through their exit codes (each failed check has its own
 * code and a line on stderr); the parent asserts them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ids.h"
#include "poolclient.h"

#define OTHER_UID	65534
#define OTHER_GID	65534
#define STRANGER_GID	65533	/* not the pool's group, not admin */
#define QUOTA		(64 * 1024)
#define CHILD_ALARM	20
#define MANY_GROUPS	100

/* A pool the config file makes: group 65534, rw for the group. */
#define GROUP_POOL_CONF	\
	"[pool grp]\nsize = 1M\nmode = 0660\ngroup = 65534\n"
/* The [daemon] section continues: admin_group before any [pool]. */
#define ADMIN_CONF	"admin_group = 65534\n"
/* Group 65534 may do nothing, others may read: the kernel's order. */
#define DENY_POOL_CONF	\
	"[pool deny]\nsize = 1M\nmode = 0604\ngroup = 65534\n"
#define QUOTA_CONF	"[pool quota]\nsize = 1M\nquota = 64K\n"

static struct daemon_proc daemon_proc;
static pid_t kids[8];
static int nkids;

/* ---- helpers ------------------------------------------------------------ */

static void
start_daemon(const char *extra)
{
	if (harness_start(&daemon_proc, extra) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
}

static void
stop_daemon(void)
{
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static struct pool_conn *
connect_ok(void)
{
	struct pool_conn *c = NULL;

	EXPECT_RC(pool_connect(NULL, &c), 0);
	return c;
}

static void
create_ok(struct pool_conn *c, const char *name, uint32_t mode)
{
	struct pool_create_opts o = {.max_size = 1024 * 1024, .mode = mode};

	EXPECT_RC(pool_create(c, name, &o), 0);
}

/* Run fn as uid/gid in a child and expect it to succeed. */
static void
run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg, const char *what)
{
	pid_t pid = harness_spawn_as(uid, gid, fn, arg);
	int i, rc;

	assert_true(pid > 0);
	if (nkids < (int)(sizeof(kids) / sizeof(kids[0])))
		kids[nkids++] = pid;
	rc = harness_wait(pid);
	for (i = 0; i < nkids; i++)
		if (kids[i] == pid)
			kids[i] = kids[--nkids];
	if (rc != 0)
		fail_msg("%s (uid %u gid %u) exited with %d%s", what,
			 (unsigned)uid, (unsigned)gid, rc,
			 rc == 126 ? " (could not drop privileges)" : "");
}

/* Is a pool named name in the list the caller gets? */
static int
listed(struct pool_conn *c, const char *name, int *found)
{
	struct pool_stats *all = NULL;
	size_t n = 0, i;
	int rc = pool_list(c, &all, &n);

	*found = 0;
	for (i = 0; rc == 0 && i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			*found = 1;
	free(all);
	return rc;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		harness_wait(kids[i]);
	}
	nkids = 0;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

/* ---- children ----------------------------------------------------------- */

/* Did the last refusal with code rc say exactly want?  Else says what. */
static bool
said(int rc, const char *want)
{
	const char *w = pool_last_message(rc);

	if (w != NULL && strcmp(w, want) == 0)
		return true;
	fprintf(stderr, "child %d: poolmgrd said \"%s\", not \"%s\"\n",
		(int)getpid(), w ? w : "(none)", want);
	return false;
}

/* Allocate, write, read back, free: the handle really works. */
static int
use_pool(struct pool *p, int base)
{
	pool_off_t off;
	uint8_t *b;
	size_t k;

	CHECK_RC(pool_alloc(p, 1000, &off), 0, base);
	CHECK((b = pool_ptr(p, off)) != NULL, base + 1);
	for (k = 0; k < 1000; k++)
		b[k] = (uint8_t)(k * 7);
	for (k = 0; k < 1000; k++)
		CHECK(b[k] == (uint8_t)(k * 7), base + 2);
	CHECK_RC(pool_free(p, off), 0, base + 3);
	return 0;
}

/* uid 65534 against root's 0600 pool "private". */
static int
stranger_on_private_pool(void *arg)
{
	struct pool_create_opts o = {.max_size = 1024 * 1024};
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	int found;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK(geteuid() == OTHER_UID && getegid() == OTHER_GID, 10);
	CHECK_RC(pool_connect(NULL, &c), 0, 11);
	CHECK_RC(pool_open(c, "private", &p), -EACCES, 12);
	CHECK(p == NULL, 13);
	CHECK(said(-EACCES, "pool private (mode 0600) is not writable for "
		   "uid 65534"), 28);
	/* Every request refused by the mode says it the same way. */
	CHECK_RC(pool_open_readonly(c, "private", &p), -EACCES, 14);
	CHECK(said(-EACCES, "pool private (mode 0600) is not readable for "
		   "uid 65534"), 29);
	CHECK_RC(pool_stats_by_name(c, "private", &st), -EACCES, 15);
	CHECK(said(-EACCES, "pool private (mode 0600) is not readable for "
		   "uid 65534"), 41);
	CHECK_RC(listed(c, "private", &found), 0, 16);
	CHECK(!found, 17);
	CHECK_RC(pool_create(c, "mine", &o), -EPERM, 18);
	CHECK_RC(pool_destroy(c, "private"), -EPERM, 19);
	CHECK_RC(pool_destroy_force(c, "private"), -EPERM, 20);
	/* The connection still works after all those refusals. */
	CHECK_RC(pool_open(c, "private", &p), -EACCES, 21);
	/* A 0644 pool: reading is allowed, writing, trim and check not. */
	CHECK_RC(pool_stats_by_name(c, "public", &st), 0, 22);
	CHECK_RC(pool_open_readonly(c, "public", &p), 0, 23);
	CHECK_RC(pool_check_by_name(c, "public", NULL, 0), -EACCES, 24);
	CHECK_RC(pool_trim_by_name(c, "public", NULL), -EACCES, 25);
	CHECK(said(-EACCES, "pool public (mode 0644) is not writable for "
		   "uid 65534"), 42);
	CHECK_RC(pool_trim(p), -EACCES, 26);
	pool_close(p);
	CHECK_RC(pool_open(c, "public", &p), -EACCES, 27);
	pool_disconnect(c);
	return 0;
}

/* uid 65534 gid 65534 on the 0660 pool of group 65534. */
static int
group_member_on_group_pool(void *arg)
{
	struct pool_create_opts o = {.max_size = 1024 * 1024};
	struct pool_conn *c = NULL;
	struct pool *p = NULL, *ro = NULL;
	struct pool_stats st;
	int rc;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK_RC(pool_connect(NULL, &c), 0, 30);
	CHECK_RC(pool_open(c, "grp", &p), 0, 31);
	CHECK_RC(pool_stats(p, &st), 0, 32);
	CHECK(st.mode == 0660 && st.gid == OTHER_GID, 33);
	if ((rc = use_pool(p, 34)))
		return rc;
	CHECK_RC(pool_open_readonly(c, "grp", &ro), 0, 38);
	pool_close(ro);
	/* Group access to a pool is not admin rights. */
	CHECK_RC(pool_create(c, "mine", &o), -EPERM, 39);
	CHECK_RC(pool_destroy(c, "grp"), -EPERM, 40);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* uid 65534 in another group: "other" on the 0660 pool, nothing. */
static int
outsider_on_group_pool(void *arg)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK(getegid() == STRANGER_GID, 50);
	CHECK_RC(pool_connect(NULL, &c), 0, 51);
	CHECK_RC(pool_open(c, "grp", &p), -EACCES, 52);
	CHECK_RC(pool_open_readonly(c, "grp", &p), -EACCES, 53);
	pool_disconnect(c);
	return 0;
}

/* A member of the admin group creates, uses and destroys pools. */
static int
admin_member(void *arg)
{
	struct pool_create_opts o = {.max_size = 512 * 1024};
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	int rc;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK_RC(pool_connect(NULL, &c), 0, 70);
	CHECK_RC(pool_create(c, "made-by-nobody", &o), 0, 71);
	CHECK_RC(pool_create(c, "made-by-nobody", &o), -EEXIST, 72);
	/* The creator owns it: mode 0600 is rw for the creator. */
	CHECK_RC(pool_stats_by_name(c, "made-by-nobody", &st), 0, 73);
	CHECK(st.uid == OTHER_UID && st.gid == OTHER_GID, 74);
	CHECK(st.mode == 0600 && st.max_size == 512 * 1024, 75);
	CHECK_RC(pool_open(c, "made-by-nobody", &p), 0, 76);
	if ((rc = use_pool(p, 77)))
		return rc;
	CHECK_RC(pool_destroy(c, "made-by-nobody"), -EBUSY, 81);
	pool_close(p);
	CHECK_RC(pool_destroy(c, "made-by-nobody"), 0, 82);
	CHECK_RC(pool_stats_by_name(c, "made-by-nobody", &st), -ENOENT, 83);
	/* Admin rights cover pools made by others too. */
	CHECK_RC(pool_destroy(c, "roots"), 0, 84);
	pool_disconnect(c);
	return 0;
}

/* uid 65534 outside the admin group: still no create or destroy. */
static int
admin_outsider(void *arg)
{
	struct pool_create_opts o = {.max_size = 512 * 1024};
	struct pool_conn *c = NULL;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK(getegid() == STRANGER_GID, 90);
	CHECK_RC(pool_connect(NULL, &c), 0, 91);
	CHECK_RC(pool_create(c, "not-allowed", &o), -EPERM, 92);
	CHECK_RC(pool_destroy(c, "roots2"), -EPERM, 93);
	pool_disconnect(c);
	return 0;
}

/* In 100 supplementary groups, the pool's the last: it opens and works. */
static int
member_of_many_groups(void *arg)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	int rc;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK(getgroups(0, NULL) == MANY_GROUPS, 100);
	CHECK_RC(pool_connect(NULL, &c), 0, 101);
	CHECK_RC(pool_open(c, "grp", &p), 0, 102);
	if ((rc = use_pool(p, 103)))
		return rc;
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Root's block in the 0666 pool "open", for a stranger to go after. */
static pool_off_t roots_block;

/*
 * uid 65534 may write pool "open", but holds no reference on roots_block:
 * every request that would end, move, keep or name it is refused, each
 * alone and inside a batch, and the connection still works after.
 */
static int
stranger_on_roots_block(void *arg)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	pool_off_t out = POOL_OFF_NONE, mine, batch[2];
	int rc;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK_RC(pool_connect(NULL, &c), 0, 110);
	CHECK_RC(pool_open(c, "open", &p), 0, 111);
	CHECK_RC(pool_free(p, roots_block), -EPERM, 112);
	CHECK_RC(pool_realloc(p, roots_block, 64, &out), -EPERM, 113);
	CHECK_RC(pool_realloc(p, roots_block, 0, &out), -EPERM, 114);
	CHECK_RC(pool_persist(p, roots_block), -EPERM, 115);
	CHECK_RC(pool_publish(p, roots_block, "taken"), -EPERM, 116);
	CHECK_RC(pool_alloc(p, 100, &mine), 0, 117);
	batch[0] = mine;
	batch[1] = roots_block;
	CHECK_RC(pool_free_batch(p, 2, batch), -EPERM, 118);
	/* All or nothing: its own block of the batch is still its own. */
	CHECK_RC(pool_free(p, mine), 0, 119);
	if ((rc = use_pool(p, 120)))
		return rc;
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * uid 65534 whose supplementary groups hold the 0604 pool's group: as for
 * a file, the group's bits (none) are its rights, not the others' (read),
 * however it names the pool.
 */
static int
member_on_denying_group_pool(void *arg)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	struct pool_client_info *ci = NULL;
	size_t n = 0;
	int found;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK(getegid() == STRANGER_GID && getgroups(0, NULL) == 1, 130);
	CHECK_RC(pool_connect(NULL, &c), 0, 131);
	CHECK_RC(pool_open_readonly(c, "deny", &p), -EACCES, 132);
	CHECK_RC(pool_open(c, "deny", &p), -EACCES, 133);
	CHECK_RC(pool_stats_by_name(c, "deny", &st), -EACCES, 134);
	CHECK_RC(pool_clients(c, "deny", &ci, &n), -EACCES, 135);
	CHECK_RC(listed(c, "deny", &found), 0, 136);
	CHECK(!found, 137);
	pool_disconnect(c);
	return 0;
}

/* uid 65534 in none of the pool's groups: the others' read. */
static int
stranger_on_denying_group_pool(void *arg)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	int found;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK(getgroups(0, NULL) == 0, 140);
	CHECK_RC(pool_connect(NULL, &c), 0, 141);
	CHECK_RC(pool_open_readonly(c, "deny", &p), 0, 142);
	pool_close(p);
	CHECK_RC(pool_open(c, "deny", &p), -EACCES, 143);
	CHECK_RC(pool_stats_by_name(c, "deny", &st), 0, 144);
	CHECK_RC(listed(c, "deny", &found), 0, 145);
	CHECK(found, 146);
	pool_disconnect(c);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void
other_uid_refused_on_private_pool(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon(NULL);
	c = connect_ok();
	create_ok(c, "private", 0600);
	create_ok(c, "public", 0644);
	run_as(OTHER_UID, OTHER_GID, stranger_on_private_pool, NULL,
	       "stranger on a 0600 pool");
	EXPECT_RC(pool_check_by_name(c, "public", NULL, 0), 0);
	/* Nothing changed: the pool is there, nothing was created. */
	EXPECT_RC(pool_stats_by_name(c, "private", &st), 0);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.uid, 0);
	EXPECT_RC(pool_stats_by_name(c, "mine", &st), -ENOENT);
	pool_disconnect(c);
	stop_daemon();
}

static void
group_pool_opens_for_its_group(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon(GROUP_POOL_CONF);
	c = connect_ok();
	EXPECT_RC(pool_stats_by_name(c, "grp", &st), 0);
	assert_int_equal(st.mode, 0660);
	assert_int_equal(st.gid, OTHER_GID);
	run_as(OTHER_UID, OTHER_GID, group_member_on_group_pool, NULL,
	       "group member on a 0660 pool");
	run_as(OTHER_UID, STRANGER_GID, outsider_on_group_pool, NULL,
	       "outsider on a 0660 pool");
	EXPECT_RC(pool_stats_by_name(c, "grp", &st), 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.clients, 0);
	EXPECT_RC(pool_stats_by_name(c, "mine", &st), -ENOENT);
	pool_disconnect(c);
	stop_daemon();
}

/*
 * More supplementary groups than the daemon keeps in a session's own room
 * (64): the kernel says ERANGE for that room, and the groups must still
 * count (they once counted for nothing: -EACCES).
 */
static void
group_pool_opens_for_a_member_of_many_groups(void **state)
{
	gid_t groups[MANY_GROUPS];
	pid_t pid;
	int i;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon(GROUP_POOL_CONF);
	for (i = 0; i < MANY_GROUPS - 1; i++)
		groups[i] = 60000 + (gid_t)i;
	groups[MANY_GROUPS - 1] = OTHER_GID;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (setgroups(MANY_GROUPS, groups) == -1 ||
		    setgid(STRANGER_GID) == -1 || setuid(OTHER_UID) == -1)
			_exit(126);
		_exit(member_of_many_groups(NULL));
	}
	assert_true(pid > 0);
	kids[nkids++] = pid;
	i = harness_wait(pid);
	nkids--;
	if (i != 0)
		fail_msg("a member of %d groups exited with %d", MANY_GROUPS,
			 i);
	stop_daemon();
}

static void
admin_group_may_create_and_destroy(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon(ADMIN_CONF GROUP_POOL_CONF);
	c = connect_ok();
	create_ok(c, "roots", 0600);
	create_ok(c, "roots2", 0600);
	run_as(OTHER_UID, OTHER_GID, admin_member, NULL,
	       "admin group member");
	run_as(OTHER_UID, STRANGER_GID, admin_outsider, NULL,
	       "uid 65534 outside the admin group");
	EXPECT_RC(pool_stats_by_name(c, "made-by-nobody", &st), -ENOENT);
	EXPECT_RC(pool_stats_by_name(c, "roots", &st), -ENOENT);
	EXPECT_RC(pool_stats_by_name(c, "roots2", &st), 0);
	EXPECT_RC(pool_stats_by_name(c, "not-allowed", &st), -ENOENT);
	EXPECT_RC(pool_stats_by_name(c, "grp", &st), 0);
	pool_disconnect(c);
	stop_daemon();
}

/*
 * Allocate blocks of size bytes until the session's quota refuses one.
 * Returns how many fit; *used is the sum of their usable sizes.
 */
static unsigned
fill_quota(struct pool *p, size_t size, pool_off_t *offs, unsigned max,
	   uint64_t *used)
{
	size_t usable;
	unsigned n;
	int rc = 0;

	*used = 0;
	for (n = 0; n < max; n++) {
		rc = pool_alloc(p, size, &offs[n]);
		if (rc)
			break;
		EXPECT_RC(pool_usable_size(p, offs[n], &usable), 0);
		assert_true(usable >= size);
		*used += usable;
	}
	if (n == max)
		fail_msg("%u blocks of %zu bytes fit under a %d-byte quota",
			 max, size, QUOTA);
	EXPECT_RC(rc, -EDQUOT);
	return n;
}

static void
quota_is_per_session(void **state)
{
	struct pool_conn *c1, *c2;
	struct pool *a, *a2, *b;
	pool_off_t offs_a[64], offs_b[64], x, two_offs[2];
	const size_t two_sizes[2] = {4000, 4000};
	struct pool_stats st;
	uint64_t used_a, used_b, each;
	unsigned na, nb, i;

	(void)state;
	start_daemon(QUOTA_CONF);
	c1 = connect_ok();
	c2 = connect_ok();
	EXPECT_RC(pool_open(c1, "quota", &a), 0);
	EXPECT_RC(pool_open(c2, "quota", &b), 0);
	EXPECT_RC(pool_stats(a, &st), 0);
	assert_int_equal(st.quota, QUOTA);

	/* One block larger than the quota never fits (the pool would). */
	EXPECT_RC(pool_alloc(a, QUOTA + 16, &x), -EDQUOT);

	/* Session 1 fills its 64 KiB with 4000-byte blocks. */
	na = fill_quota(a, 4000, offs_a, 64, &used_a);
	each = used_a / na;
	assert_true(used_a <= QUOTA);
	assert_true(used_a + each > QUOTA);
	/* Another handle of the same session shares the quota. */
	EXPECT_RC(pool_open(c1, "quota", &a2), 0);
	EXPECT_RC(pool_alloc(a2, 4000, &x), -EDQUOT);
	/* A batch is refused in the same words: which bound, how large. */
	EXPECT_RC(pool_alloc_batch(a2, 2, two_sizes, two_offs), -EDQUOT);
	if (!strstr(pool_last_message(-EDQUOT), "would pass pool quota's "
		    "quota of 64.0 KiB per connection"))
		fail_msg("batch refusal: %s", pool_last_message(-EDQUOT));

	/* Session 2 has its own 64 KiB: the same number of blocks fit. */
	nb = fill_quota(b, 4000, offs_b, 64, &used_b);
	assert_int_equal(nb, na);
	assert_int_equal(used_b, used_a);
	EXPECT_RC(pool_stats(a, &st), 0);
	assert_int_equal(st.allocated_bytes, used_a + used_b);
	assert_true(st.allocated_bytes > QUOTA);

	/* Up to exactly the quota is allowed, one granule more is not. */
	if (used_a < QUOTA) {
		EXPECT_RC(pool_alloc(a2, QUOTA - used_a + 16, &x), -EDQUOT);
		EXPECT_RC(pool_alloc(a2, QUOTA - used_a, &x), 0);
		EXPECT_RC(pool_alloc(a, 16, &offs_a[na]), -EDQUOT);
		EXPECT_RC(pool_free(a2, x), 0);
	}

	/* Freeing gives the session room again. */
	EXPECT_RC(pool_free(a, offs_a[0]), 0);
	EXPECT_RC(pool_alloc(a, 4000, &offs_a[0]), 0);
	EXPECT_RC(pool_alloc(a, 4000, &x), -EDQUOT);

	for (i = 0; i < na; i++)
		EXPECT_RC(pool_free(a, offs_a[i]), 0);
	for (i = 0; i < nb; i++)
		EXPECT_RC(pool_free(b, offs_b[i]), 0);
	/* Blocks freed into the client caches are the handles' till now. */
	EXPECT_RC(pool_flush(a), 0);
	EXPECT_RC(pool_flush(a2), 0);
	EXPECT_RC(pool_flush(b), 0);
	EXPECT_RC(pool_stats(a, &st), 0);
	assert_int_equal(st.allocated_bytes, 0);
	pool_close(a2);
	pool_close(a);
	pool_close(b);
	pool_disconnect(c2);
	pool_disconnect(c1);
	stop_daemon();
}

static void
persisted_bytes_count_against_the_quota(void **state)
{
	struct pool_conn *c1, *c2;
	struct pool *a, *b;
	pool_off_t x, y, offs[64];
	struct pool_stats st;
	unsigned n;

	(void)state;
	start_daemon(QUOTA_CONF);
	c1 = connect_ok();
	c2 = connect_ok();
	EXPECT_RC(pool_open(c1, "quota", &a), 0);
	EXPECT_RC(pool_set_cache(a, 0), 0);

	/* 40000 bytes persisted, then let go: still this uid's. */
	EXPECT_RC(pool_alloc(a, 40000, &x), 0);
	EXPECT_RC(pool_persist(a, x), 0);
	EXPECT_RC(pool_alloc(a, 20000, &y), 0);	/* 60000 in all: fits */
	EXPECT_RC(pool_free(a, y), 0);
	EXPECT_RC(pool_free(a, x), 0);		/* our reference only */
	EXPECT_RC(pool_stats(a, &st), 0);
	assert_int_equal(st.persistent_blocks, 1);
	EXPECT_RC(pool_alloc(a, 30000, &y), -EDQUOT);
	/* Another session of the same uid, and after a reconnect. */
	EXPECT_RC(pool_open(c2, "quota", &b), 0);
	EXPECT_RC(pool_set_cache(b, 0), 0);
	EXPECT_RC(pool_alloc(b, 30000, &y), -EDQUOT);
	pool_close(a);
	pool_disconnect(c1);
	c1 = connect_ok();
	EXPECT_RC(pool_open(c1, "quota", &a), 0);
	EXPECT_RC(pool_set_cache(a, 0), 0);
	EXPECT_RC(pool_alloc(a, 30000, &y), -EDQUOT);
	EXPECT_RC(pool_alloc(a, 20000, &y), 0);
	EXPECT_RC(pool_free(a, y), 0);

	/* Persist and free in a loop: the quota still bounds it. */
	for (n = 0; n < 64; n++) {
		int rc = pool_alloc(a, 4000, &offs[n]);

		if (rc == -EDQUOT)
			break;
		EXPECT_RC(rc, 0);
		EXPECT_RC(pool_persist(a, offs[n]), 0);
		EXPECT_RC(pool_free(a, offs[n]), 0);
	}
	EXPECT_RC(pool_stats(a, &st), 0);
	printf("quota: %u blocks of 4000 persisted after the 40000, %llu "
	       "bytes live\n", n, (unsigned long long)st.allocated_bytes);
	assert_true(n < 64);
	assert_true(st.allocated_bytes <= QUOTA);

	/* A persistent block freed (by any writer) gives the room back. */
	EXPECT_RC(pool_free(b, x), 0);
	while (n--)
		EXPECT_RC(pool_free(b, offs[n]), 0);
	EXPECT_RC(pool_stats(a, &st), 0);
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	EXPECT_RC(pool_alloc(a, 60000, &y), 0);
	EXPECT_RC(pool_free(a, y), 0);
	pool_close(a);
	pool_close(b);
	pool_disconnect(c2);
	pool_disconnect(c1);
	stop_daemon();
}

/*
 * Each of 4 connections of one uid allocates 40000 bytes, within its own
 * quota (64 KiB per connection), and only then persists it: persisting is
 * where the uid's charge grows, so the second persist, which would take
 * it to 80000, is -EDQUOT, and after all four let go the uid keeps 40000
 * bytes, not 160000.  (Persists once never failed for the quota, and one
 * uid kept a quota's worth per connection it had made.)
 */
static void
persists_of_one_uid_share_one_quota(void **state)
{
	struct pool_conn *c[4];
	struct pool *p[4];
	pool_off_t x[4];
	struct pool_stats st;
	int i;

	(void)state;
	start_daemon(QUOTA_CONF);
	for (i = 0; i < 4; i++) {
		c[i] = connect_ok();
		EXPECT_RC(pool_open(c[i], "quota", &p[i]), 0);
		EXPECT_RC(pool_alloc(p[i], 40000, &x[i]), 0);
	}
	EXPECT_RC(pool_persist(p[0], x[0]), 0);
	for (i = 1; i < 4; i++)
		EXPECT_RC(pool_persist(p[i], x[i]), -EDQUOT);
	for (i = 0; i < 4; i++) {
		pool_close(p[i]);
		pool_disconnect(c[i]);
	}
	c[0] = connect_ok();
	EXPECT_RC(pool_stats_by_name(c[0], "quota", &st), 0);
	assert_int_equal(st.persistent_blocks, 1);
	assert_true(st.allocated_bytes < QUOTA);
	EXPECT_RC(pool_open(c[0], "quota", &p[0]), 0);
	EXPECT_RC(pool_free(p[0], x[0]), 0);
	pool_close(p[0]);
	pool_disconnect(c[0]);
	stop_daemon();
}

/*
 * A writer of the pool cannot free, move, persist or name a block it
 * holds no reference on; the block stays live, of its size, and root's.
 */
static void
stranger_cannot_touch_anothers_block(void **state)
{
	struct pool_conn *c;
	struct pool *p = NULL;
	struct pool_stats st;
	pool_off_t off;
	uint8_t *b;
	size_t usable = 0;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon(NULL);
	c = connect_ok();
	create_ok(c, "open", 0666);
	EXPECT_RC(pool_open(c, "open", &p), 0);
	EXPECT_RC(pool_alloc(p, 4000, &off), 0);
	b = pool_ptr(p, off);
	memset(b, 0x5a, 4000);
	roots_block = off;
	run_as(OTHER_UID, OTHER_GID, stranger_on_roots_block, NULL,
	       "a writer on another's block");
	EXPECT_RC(pool_usable_size(p, off, &usable), 0);
	assert_true(usable >= 4000);
	assert_int_equal(b[0], 0x5a);
	assert_int_equal(b[3999], 0x5a);
	EXPECT_RC(pool_lookup(p, "taken", &off, NULL), -ENOENT);
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(st.persistent_blocks, 0);
	EXPECT_RC(pool_free(p, roots_block), 0);
	pool_close(p);
	pool_disconnect(c);
	stop_daemon();
}

/*
 * Pool "deny" is 0604 of group 65534: a member by a supplementary group
 * gets the group's bits (nothing), a stranger the others' (read).
 */
static void
group_bits_rule_a_supplementary_member(void **state)
{
	gid_t member = OTHER_GID;
	pid_t pid;
	int rc;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon(DENY_POOL_CONF);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (setgroups(1, &member) == -1 ||
		    setgid(STRANGER_GID) == -1 || setuid(OTHER_UID) == -1)
			_exit(126);
		_exit(member_on_denying_group_pool(NULL));
	}
	assert_true(pid > 0);
	kids[nkids++] = pid;
	rc = harness_wait(pid);
	nkids--;
	if (rc != 0)
		fail_msg("a supplementary member of a 0604 pool's group "
			 "exited with %d", rc);
	run_as(OTHER_UID, STRANGER_GID, stranger_on_denying_group_pool, NULL,
	       "a stranger on a 0604 pool");
	stop_daemon();
}

/* ---- refused by the socket ---------------------------------------------- */

/* What lets clients in where the socket's group is none of theirs. */
#define SOCKET_SETTINGS "to let clients in, an administrator gives the " \
	"socket a group of theirs with mode 0660 (SocketGroup= and " \
	"SocketMode= in poolmgrd.socket, or, where poolmgrd binds the " \
	"socket itself, the group it runs as and socket_mode in " \
	"poolmgrd.conf)"

/* The name of a uid (or of a gid: group), else its number, into buf. */
static const char *
id_name(bool group, unsigned id, char *buf, size_t len)
{
	const struct passwd *pw = group ? NULL : getpwuid(id);
	const struct group *gr = group ? getgrgid(id) : NULL;

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", id);
	return buf;
}

/* Kept out by the socket: -EACCES, and the words arg. */
static int
refused_by_socket(void *arg)
{
	struct pool_conn *c = (struct pool_conn *)&c;

	alarm(CHILD_ALARM);
	CHECK_RC(pool_connect(NULL, &c), -EACCES, 140);
	CHECK(c == NULL, 141);
	CHECK(said(-EACCES, arg), 142);
	return 0;
}

/* Let in by the socket: the words' remedy works. */
static int
let_in_by_socket(void *arg)
{
	struct pool_conn *c = NULL;

	(void)arg;
	alarm(CHILD_ALARM);
	CHECK_RC(pool_connect(NULL, &c), 0, 145);
	pool_disconnect(c);
	return 0;
}

/*
 * The socket keeps uid 65534 out.  The daemon, root's, binds it root's
 * with group root, mode 0660: nobody is to join group root, so the
 * words say who may connect and the settings that let clients in.  A
 * socket of group 65534 names that group, to run as a member of (and
 * one is let in).  Mode 0600 lets only the owner in: the settings
 * again.  A socket that may be written but lies in a directory uid
 * 65534 may not search names the directory, not the socket's mode.
 * Before, each was -EACCES with no words: pool_strerror's text names
 * pools and handles first, the socket's permissions last.
 */
static void
socket_refusal_says_what_lets_in(void **state)
{
	const char *sock = daemon_proc.sock;
	char want[1024], root[64], rootgrp[64], others[64];

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	/* Appended to [daemon]: the later socket_mode wins. */
	start_daemon("socket_mode = 0660\n");
	id_name(false, 0, root, sizeof(root));
	id_name(true, 0, rootgrp, sizeof(rootgrp));
	id_name(true, OTHER_GID, others, sizeof(others));

	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner %s, group %s, mode 0660): only its owner and group %s "
		 "may connect; " SOCKET_SETTINGS, sock, root, rootgrp, rootgrp);
	run_as(OTHER_UID, OTHER_GID, refused_by_socket, want,
	       "uid 65534 on root's 0660 socket of group root");

	assert_int_equal(chown(sock, 0, OTHER_GID), 0);
	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner %s, group %s, mode 0660): run as a member of group %s "
		 "(an administrator adds a user with usermod -aG %s NAME; it "
		 "takes a new login)", sock, root, others, others, others);
	run_as(OTHER_UID, STRANGER_GID, refused_by_socket, want,
	       "uid 65534 outside the socket's group 65534");
	run_as(OTHER_UID, OTHER_GID, let_in_by_socket, NULL,
	       "uid 65534 in the socket's group 65534");

	assert_int_equal(chmod(sock, 0600), 0);
	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner %s, group %s, mode 0600): only its owner may "
		 "connect; " SOCKET_SETTINGS, sock, root, others);
	run_as(OTHER_UID, OTHER_GID, refused_by_socket, want,
	       "uid 65534 in the group of a 0600 socket");

	assert_int_equal(chmod(sock, 0666), 0);
	assert_int_equal(chmod(daemon_proc.dir, 0700), 0);
	snprintf(want, sizeof(want), "permission denied on the way to the "
		 "socket %s: a directory on it is not searchable by uid 65534",
		 sock);
	run_as(OTHER_UID, OTHER_GID, refused_by_socket, want,
	       "uid 65534 before a directory it may not search");
	assert_int_equal(chmod(daemon_proc.dir, 0755), 0);
	run_as(OTHER_UID, OTHER_GID, let_in_by_socket, NULL,
	       "uid 65534 on a 0666 socket");
	stop_daemon();
}

/*
 * A socket of mode 0606 keeps the members of its group out and lets
 * everyone else in: the kernel takes the group's bits for a member and
 * looks no further.  The words say so of uid 65534 in group 65534, and
 * uid 65534 in another group connects.  They said "only its owner may
 * connect" before.
 */
static void
socket_refusal_of_a_group_kept_out(void **state)
{
	const char *sock = daemon_proc.sock;
	char want[1024], root[64], others[64];

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon("socket_mode = 0660\n");
	id_name(false, 0, root, sizeof(root));
	id_name(true, OTHER_GID, others, sizeof(others));
	assert_int_equal(chown(sock, 0, OTHER_GID), 0);
	assert_int_equal(chmod(sock, 0606), 0);

	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner %s, group %s, mode 0606): uid 65534 is of group %s, "
		 "whose bits keep it out, though others may connect; "
		 SOCKET_SETTINGS, sock, root, others, others);
	run_as(OTHER_UID, OTHER_GID, refused_by_socket, want,
	       "uid 65534 in the group of a 0606 socket");
	run_as(OTHER_UID, STRANGER_GID, let_in_by_socket, NULL,
	       "uid 65534 outside the group of a 0606 socket");
	stop_daemon();
}

/*
 * Root without CAP_DAC_OVERRIDE (its effective set only: as a unit's
 * CapabilityBoundingSet= or a container may leave it) is held to the
 * socket's mode like anyone else: -EACCES, and the words of the mode.
 */
static int
root_without_dac_override(void *arg)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) != 0)
		return 126;
	data[CAP_TO_INDEX(CAP_DAC_OVERRIDE)].effective &=
		~CAP_TO_MASK(CAP_DAC_OVERRIDE);
	if (syscall(SYS_capset, &hdr, data) != 0)
		return 126;
	return refused_by_socket(arg);
}

/*
 * A socket of uid 65534's, mode 0600, keeps out root that lacks
 * CAP_DAC_OVERRIDE: the words say who may connect, as to anyone the mode
 * keeps out.  They said the mode let uid 0 in and something else refused,
 * as if any root passed any mode.
 */
static void
socket_refusal_of_root_without_override(void **state)
{
	const char *sock = daemon_proc.sock;
	char want[1024], other[64], others[64];
	pid_t pid;
	int rc;

	(void)state;
	harness_skip_unless_root("drop a capability of root's");
	start_daemon("socket_mode = 0660\n");
	id_name(false, OTHER_UID, other, sizeof(other));
	id_name(true, OTHER_GID, others, sizeof(others));
	assert_int_equal(chown(sock, OTHER_UID, OTHER_GID), 0);
	assert_int_equal(chmod(sock, 0600), 0);

	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner %s, group %s, mode 0600): only its owner may "
		 "connect; " SOCKET_SETTINGS, sock, other, others);
	fflush(NULL);
	pid = harness_spawn(root_without_dac_override, want);
	assert_true(pid > 0);
	kids[nkids++] = pid;
	rc = harness_wait(pid);
	nkids--;
	if (rc == 126)
		skip();		/* no capabilities to drop here */
	if (rc != 0)
		fail_msg("root without CAP_DAC_OVERRIDE exited with %d", rc);
	stop_daemon();
}

/* A socket path to connect to and the words its refusal is to have. */
struct refusal {
	const char *path;
	const char *want;
};

/* Kept out by the socket at r->path: -EACCES, and the words r->want. */
static int
refused_at_path(void *arg)
{
	const struct refusal *r = arg;
	struct pool_conn *c = (struct pool_conn *)&c;

	alarm(CHILD_ALARM);
	CHECK_RC(pool_connect(r->path, &c), -EACCES, 150);
	CHECK(c == NULL, 151);
	CHECK(said(-EACCES, r->want), 152);
	return 0;
}

/*
 * A user and a group of the test's own whose names are 63 bytes, the
 * most the words hold of a name (harness_ids.h).
 */
#define LONG_UID	4390
#define LONG_GID	4391
/* 51 bytes: with "pmlonguser-" and "u", or "pmlonggroup-", 63. */
#define LONG_PAD	"012345678901234567890123456789012345678901234567890"
#define LONG_USER	"pmlonguser-" LONG_PAD "u"
#define LONG_GROUP	"pmlonggroup-" LONG_PAD

/* Root, where the databases name LONG_UID and LONG_GID: as uid 65534. */
static int
refused_with_long_names(void *arg)
{
	gid_t gid = OTHER_GID;
	int rc;

	rc = harness_ids_bind(LONG_USER ":x:4390:4390::/:/bin/false\n",
			      LONG_GROUP ":x:4391:\n", LONG_USER);
	if (rc != 0)
		return rc;
	if (setgroups(1, &gid) == -1 || setgid(OTHER_GID) == -1 ||
	    setuid(OTHER_UID) == -1)
		return 126;
	return refused_at_path(arg);
}

/* Run refused_with_long_names(r) in a child; false: it cannot be run. */
static bool
run_with_long_names(const struct refusal *r, const char *what)
{
	pid_t pid;
	int rc;

	fflush(NULL);
	pid = harness_spawn(refused_with_long_names, (void *)r);
	assert_true(pid > 0);
	kids[nkids++] = pid;
	rc = harness_wait(pid);
	nkids--;
	if (rc == 99)
		return false;	/* no mount namespace, or NSS before files */
	if (rc != 0)
		fail_msg("%s exited with %d", what, rc);
	return true;
}

/*
 * The longest words: the longest socket path, 107 bytes (a link to the
 * daemon's socket), and an owner and a group of names of 63 bytes.  The
 * words name them whole and end with what lets a client in, whether the
 * group may connect (be a member) or only the owner may (the settings).
 * In a room of 512 bytes they were cut short of their end.
 */
static void
socket_refusal_of_long_names_is_whole(void **state)
{
	char path[108], want[1024];
	struct refusal r = {path, want};
	size_t n;

	(void)state;
	harness_skip_unless_root("bind password and group databases of its "
				 "own");
	start_daemon("socket_mode = 0660\n");
	n = (size_t)snprintf(path, sizeof(path), "%s/", daemon_proc.dir);
	assert_true(n < sizeof(path) - 1);
	memset(path + n, 's', sizeof(path) - 1 - n);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(symlink(daemon_proc.sock, path), 0);
	assert_int_equal(chown(daemon_proc.sock, LONG_UID, LONG_GID), 0);

	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner " LONG_USER ", group " LONG_GROUP ", mode 0660): run "
		 "as a member of group " LONG_GROUP " (an administrator adds "
		 "a user with usermod -aG " LONG_GROUP " NAME; it takes a new "
		 "login)", path);
	if (!run_with_long_names(&r, "uid 65534 outside a long group"))
		skip();

	assert_int_equal(chmod(daemon_proc.sock, 0600), 0);
	snprintf(want, sizeof(want), "permission denied by the socket %s "
		 "(owner " LONG_USER ", group " LONG_GROUP ", mode 0600): only "
		 "its owner may connect; " SOCKET_SETTINGS, path);
	run_with_long_names(&r, "uid 65534 on a 0600 socket of long names");
	stop_daemon();
}

/* An example program, its arguments, and where its stderr goes. */
struct example {
	const char *argv[4];
	int err;		/* the write end of a pipe */
};

/* In the child, already uid 65534: run the example, stderr to the pipe. */
static int
exec_example(void *arg)
{
	struct example *e = arg;

	if (dup2(e->err, 2) == -1 || !freopen("/dev/null", "r", stdin) ||
	    !freopen("/dev/null", "w", stdout))
		return 125;
	execv(e->argv[0], (char *const *)e->argv);
	return 127;
}

/*
 * Run this build's example prog with a1 and a2 as uid 65534: its stderr
 * into err (of len bytes); returns its exit status.
 */
static int
example_as_other(const char *prog, const char *a1, const char *a2, char *err,
		 size_t len)
{
	struct example e = {.err = -1};
	char bin[256];
	size_t n = 0;
	ssize_t r;
	int fds[2];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/examples/%s", harness_build(), prog);
	e.argv[0] = bin;
	e.argv[1] = a1;
	e.argv[2] = a2;
	assert_int_equal(pipe(fds), 0);
	e.err = fds[1];
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, exec_example, &e);
	close(fds[1]);
	assert_true(pid > 0);
	while (n < len - 1 && (r = read(fds[0], err + n, len - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = '\0';
	close(fds[0]);
	return harness_wait(pid);
}

/*
 * The example programs, as uid 65534: kept out by the socket, each says
 * the library's words (pool_last_message), as poolctl does, where it
 * said pool_strerror's text, which names pools, handles and the socket's
 * permissions alike; refused a pool by its mode, the pool's mode and
 * the daemon's words, which name the right it lacks.  Exit status 1.
 */
static void
examples_say_what_refused(void **state)
{
	static const char *const progs[] = {"producer", "consumer"};
	static const char *const lacks[] = {"writable", "readable"};
	char err[2048], want[1024], root[64], rootgrp[64];
	size_t i;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start_daemon("socket_mode = 0660\n[pool private]\nsize = 1M\n"
		     "mode = 0600\n");
	id_name(false, 0, root, sizeof(root));
	id_name(true, 0, rootgrp, sizeof(rootgrp));
	for (i = 0; i < 2; i++) {
		assert_int_equal(example_as_other(progs[i], "private", "0x0",
						  err, sizeof(err)), 1);
		snprintf(want, sizeof(want), "%s: cannot connect: permission "
			 "denied by the socket %s (owner %s, group %s, mode "
			 "0660): only its owner and group %s may connect; "
			 SOCKET_SETTINGS "\n", progs[i], daemon_proc.sock,
			 root, rootgrp, rootgrp);
		assert_string_equal(err, want);
	}
	assert_int_equal(chmod(daemon_proc.sock, 0666), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(example_as_other(progs[i], "private", "0x0",
						  err, sizeof(err)), 1);
		snprintf(want, sizeof(want), "%s: private: permission denied "
			 "by the pool's mode or access control list; poolmgrd "
			 "says: pool private (mode 0600) is not %s for uid "
			 "65534\n", progs[i], lacks[i]);
		assert_string_equal(err, want);
	}
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(other_uid_refused_on_private_pool,
					  teardown),
		cmocka_unit_test_teardown(group_pool_opens_for_its_group,
					  teardown),
		cmocka_unit_test_teardown(
			group_pool_opens_for_a_member_of_many_groups,
			teardown),
		cmocka_unit_test_teardown(admin_group_may_create_and_destroy,
					  teardown),
		cmocka_unit_test_teardown(quota_is_per_session, teardown),
		cmocka_unit_test_teardown(
			persisted_bytes_count_against_the_quota, teardown),
		cmocka_unit_test_teardown(
			persists_of_one_uid_share_one_quota, teardown),
		cmocka_unit_test_teardown(
			stranger_cannot_touch_anothers_block, teardown),
		cmocka_unit_test_teardown(
			group_bits_rule_a_supplementary_member, teardown),
		cmocka_unit_test_teardown(socket_refusal_says_what_lets_in,
					  teardown),
		cmocka_unit_test_teardown(socket_refusal_of_a_group_kept_out,
					  teardown),
		cmocka_unit_test_teardown(
			socket_refusal_of_root_without_override, teardown),
		cmocka_unit_test_teardown(
			socket_refusal_of_long_names_is_whole, teardown),
		cmocka_unit_test_teardown(examples_say_what_refused, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("perm", tests, NULL, NULL);
}
