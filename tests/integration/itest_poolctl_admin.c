/*
 * itest_poolctl_admin.c - the poolctl command line against a real daemon:
 * the commands that change pools, and the books they change.  What poolctl
 * prints is itest_poolctl.c's, the refusals, their words and exit codes
 * itest_poolctl_errors.c's; the daemon, poolctl run against it and a
 * refused size's words are poolctl_util.h's.
 *
 * Runs build/poolctl (docs/poolctl.md) and checks each command's output and
 * exit status against what the daemon reports through libpoolclient:
 *   create (and bad sizes: exit 2), destroy (and of a busy pool: exit 1,
 *   --force), trim (prints what the daemon released), check (prints ok).
 *   --user-quota of create and set: the daemon's books say it, it bounds
 *   what the uid's connections hold together, stats shows it in every
 *   format and persisted the share of it a uid's persistent bytes take;
 *   bad values (exit 2, named, nothing changed); an owner who is no
 *   admin refused (exit 77).
 *   users: each uid's connections and handles on a pool, the bytes they
 *   hold, its persistent blocks and bytes, its user quota in force and
 *   their share of it, in every format; of every pool; of no pool (exit
 *   1).
 *   --user-quota USER=SIZE of create and set: the uids' own user quotas
 *   the daemon keeps, set's USER=default taking one out, all in one
 *   request with the pool's default; stats POOL shows them (names, -n
 *   numbers, kv numbers, a JSON array), users the bound a uid's own
 *   marks with a '*'; bad words (exit 2, named, nothing changed), the
 *   daemon's refusal of a 33rd entry and of a pool of the file (exit 1).
 *   stats of every pool shows the entries of each pool that has some,
 *   asking those pools alone (the daemon's count of requests says so),
 *   and the count of them beside acl_entries in kv and JSON; Prometheus
 *   has both counts as gauges, a sample a pool.
 *   free: the persistent blocks a program left (one persisted, one
 *   allocated persistent) ended by offset, in hexadecimal and decimal,
 *   beside offsets it refuses, each in its words (no block there, a
 *   block a handle holds, a named one), every one tried (exit 1); bad
 *   offsets (exit 2, nothing done); no such pool (exit 1); --json
 *   prints the pool and the offsets it freed; without it, "freed N
 *   blocks" when it ended any, nothing when it ended none; --older-than
 *   spares a block made since at a listed one's offset while it is
 *   younger than the age given.  sweep --older-than ends the unnamed
 *   persistent blocks old enough that no handle holds, and nothing else.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "poolctl_util.h"

/* ---- create and destroy --------------------------------------------------- */

static void
create_and_bad_sizes(void **state)
{
	static const char *const bad[] = {
		"--size 1.5M", "--size 0", "--size 10KB", "--size -1",
		"--size abc", "--size", "", "--size 1M --retain lots",
		"--size 1M --retain -1",
	};
	struct pool_stats st;
	const char *line;
	unsigned i;

	(void)state;
	start(TWO_POOLS);

	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect(fx.out[0] == '\0', "create prints nothing on success");
	st = stats_of("gamma");
	assert_int_equal(st.max_size, 1 * MiB);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.retain_bytes, 256 * st.page_size);	/* default */
	expect_exit(ctl("list"), 0, "list");
	expect(line_starting(fx.out, "gamma"), "list does not show gamma");

	expect_exit(ctl("create gamma --size 1M"), EXIT_FAILED,
		    "create of an existing pool");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_exit(ctl("create delta %s", bad[i]), EXIT_USAGE,
			    bad[i]);
		assert_false(pool_exists("delta"));
	}

	/* A retain within the size: the daemon caps a larger one to it. */
	expect_exit(ctl("create delta --size 4M --granularity 64 --mode 0640 "
			"--quota 8K --retain 2M"), 0,
		    "create delta with options");
	st = stats_of("delta");
	assert_int_equal(st.max_size, 4 * MiB);
	assert_int_equal(st.granularity, 64);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.quota, 8 * KiB);
	assert_int_equal(st.retain_bytes, 2 * MiB);
	expect_exit(ctl("stats delta"), 0, "stats delta");
	expect(strstr(fx.out, "retain") && strstr(fx.out, "(2097152)"),
	       "stats: no retain line of 2 MiB");
	expect_exit(ctl("create zeta --size 1M --retain 0"), 0,
		    "create zeta --retain 0");
	assert_int_equal(stats_of("zeta").retain_bytes, 0);
	expect_exit(ctl("stats zeta"), 0, "stats zeta");
	line = line_starting(fx.out, "retain");
	expect(line && strncmp(line + 6 + strspn(line + 6, " "), "none", 4) == 0,
	       "stats: retain 0 is not shown as none");
	/* What stats shows is taken back, as for the quota and the limit. */
	expect_exit(ctl("create theta --size 1M --retain none"), 0,
		    "create theta --retain none");
	assert_int_equal(stats_of("theta").retain_bytes, 0);

	expect_exit(ctl("--json=short create eps --size 2MiB"), 0,
		    "--json create");
	expect(strstr(fx.out, "\"created\":true") ||
	       strstr(fx.out, "\"created\": true"),
	       "--json create: no \"created\": true");
	assert_int_equal(stats_of("eps").max_size, 2 * MiB);
	stop();
}

static void
destroy_idle_busy_and_forced(void **state)
{
	char forced[160];
	uint64_t live;

	(void)state;
	start(TWO_POOLS);

	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect_exit(ctl("destroy gamma"), 0, "destroy gamma");
	expect(fx.out[0] == '\0', "destroy prints nothing on success");
	assert_false(pool_exists("gamma"));
	expect_exit(ctl("destroy gamma"), EXIT_FAILED, "destroy it again");
	expect_exit(ctl("destroy nosuch"), EXIT_FAILED, "destroy nosuch");

	/* An open handle makes the pool busy. */
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	expect_exit(ctl("destroy alpha"), EXIT_FAILED, "destroy of a busy pool");
	assert_true(pool_exists("alpha"));
	alloc_ok(fx.pool, 64);
	pool_close(fx.pool);
	fx.pool = NULL;
	expect_exit(ctl("destroy alpha"), 0, "destroy after the close");
	assert_false(pool_exists("alpha"));

	/*
	 * --force takes it away from under a holder, and the log says what
	 * it took: the operator reading it when that program complains sees
	 * why, not a destroy like any other.
	 */
	assert_int_equal(pool_open(fx.conn, "beta", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	expect_exit(ctl("destroy beta"), EXIT_FAILED, "destroy of a busy pool");
	/* The client cache may have fetched more than the one asked for. */
	live = stats_of("beta").live_blocks;
	expect_exit(ctl("destroy beta --force"), 0, "destroy --force");
	assert_false(pool_exists("beta"));
	snprintf(forced, sizeof(forced), "pool beta destroyed by uid %u by "
		 "force: 1 open handle closed, %llu live block%s ended (the "
		 "configuration file defines it",
		 (unsigned)geteuid(), (unsigned long long)live,
		 live == 1 ? "" : "s");
	harness_expect_logged(&fx.d, forced);
	/* A destroy that took nothing says nothing of force. */
	expect_exit(ctl("destroy gamma2 --force"), EXIT_FAILED, "no gamma2");
	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma again");
	expect_exit(ctl("destroy gamma --force"), 0, "destroy idle --force");
	snprintf(forced, sizeof(forced), "pool gamma destroyed by uid %u\n",
		 (unsigned)geteuid());
	assert_int_equal(harness_log_count(&fx.d, forced), 2);
	stop();
}

/* ---- trim and check ------------------------------------------------------- */

/* The byte count of "released ... (N bytes)" or "released N bytes". */
static int
released_bytes(const char *out, uint64_t *n)
{
	const char *p = strstr(out, "released");
	const char *paren;

	if (!p)
		return -1;
	paren = strchr(p, '(');
	p = paren ? paren + 1 : p + strlen("released");
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	*n = strtoull(p, NULL, 10);
	return 0;
}

static void
trim_and_check(void **state)
{
	struct pool_stats before, after;
	pool_off_t offs[2000];
	uint64_t n = UINT64_MAX;
	unsigned i;

	(void)state;
	start(TWO_POOLS);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	/* Dirty pages that the frees alone need not give back. */
	for (i = 0; i < 2000; i++)
		offs[i] = alloc_ok(fx.pool, 1000 + (i % 7) * 16);
	for (i = 0; i < 2000; i += 2)
		assert_int_equal(pool_free(fx.pool, offs[i]), 0);
	for (i = 1; i < 2000; i += 2)
		assert_int_equal(pool_free(fx.pool, offs[i]), 0);
	before = stats_of("alpha");

	expect_exit(ctl("trim alpha"), 0, "trim alpha");
	expect(released_bytes(fx.out, &n) == 0, "trim: no \"released\"");
	after = stats_of("alpha");
	printf("poolctl: trim released %" PRIu64 " B; the daemon's "
	       "released_bytes grew by %" PRIu64 ", committed %" PRIu64
	       " -> %" PRIu64 "\n", n, after.released_bytes -
	       before.released_bytes, before.committed_bytes,
	       after.committed_bytes);
	expect(n == after.released_bytes - before.released_bytes,
	       "trim: printed count differs from the daemon's released_bytes");
	expect_exit(ctl("--json=short trim alpha"), 0, "--json trim");
	expect(strstr(fx.out, "\"released_bytes\""), "--json trim");

	expect_exit(ctl("check alpha"), 0, "check alpha");
	expect(strcmp(fx.out, "ok\n") == 0, "check alpha does not print ok");
	expect_exit(ctl("--json=short check alpha"), 0, "--json check");
	expect(strstr(fx.out, "\"ok\":true") || strstr(fx.out, "\"ok\": true"),
	       "--json check: no \"ok\": true");

	expect_exit(ctl("trim nosuch"), EXIT_FAILED, "trim nosuch");
	expect_exit(ctl("check nosuch"), EXIT_FAILED, "check nosuch");
	expect_exit(ctl("trim"), EXIT_USAGE, "trim without a pool");
	expect_exit(ctl("check"), EXIT_USAGE, "check without a pool");
	stop();
}

/* ---- the user quota ------------------------------------------------------ */

/* Every format of stats shows uq's user quota as bytes, as a gauge. */
static void
expect_user_quota_shown(uint64_t bytes)
{
	char want[128];
	const char *l;

	expect_exit(ctl("stats uq --format=kv"), 0, "stats --format=kv");
	snprintf(want, sizeof(want), "uq user_quota %" PRIu64 "\n", bytes);
	expect(strstr(fx.out, want), "--format=kv: no 'uq user_quota N'");

	expect_exit(ctl("--json=short stats uq"), 0, "stats --json");
	snprintf(want, sizeof(want), "\"user_quota\":%" PRIu64 ",", bytes);
	expect(strstr(fx.out, want), "--json: user_quota is not N");

	expect_exit(ctl("stats uq --format=prometheus"), 0,
		    "stats --format=prometheus");
	expect(strstr(fx.out, "# TYPE poolmgr_pool_user_quota_bytes gauge\n"),
	       "prometheus: poolmgr_pool_user_quota_bytes is not a gauge");
	snprintf(want, sizeof(want), "\npoolmgr_pool_user_quota_bytes"
		 "{pool=\"uq\"} %" PRIu64 "\n", bytes);
	expect(strstr(fx.out, want), "prometheus: no user_quota sample of N");

	expect_exit(ctl("stats uq"), 0, "stats uq");
	l = line_starting(fx.out, "quota per user");
	if (bytes == 0)
		snprintf(want, sizeof(want), " none\n");
	else
		snprintf(want, sizeof(want), "  (%" PRIu64 ")\n", bytes);
	expect(l && strncmp(strchr(l, '\n') + 1 - strlen(want), want,
			    strlen(want)) == 0,
	       "text: no 'quota per user' line of N");
}

/*
 * --user-quota of create and set gives the pool the most all the
 * connections of one uid may hold together: the daemon's books say it,
 * a second connection of the uid is refused what would take the two
 * past it though it holds nothing itself (the uid the test runs as, root
 * too: the user quota exempts no one), and set --user-quota 0 lifts it,
 * as "none" does (--quota's too, at create and set).
 * stats shows it in every format; persisted the share of it the uid's
 * persistent bytes take, beside the quota's; --json of create and set
 * name it.
 */
static void
user_quota_set_and_shown(void **state)
{
	struct pool_conn *other;
	struct pool *p2;
	pool_off_t off, off2;
	const char *l;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("--json=short create uq --size 1M --user-quota 64K"),
		    0, "create --user-quota");
	expect(strstr(fx.out, "\"quota\":0,\"user_quota\":65536,"),
	       "--json create: user_quota is not 65536");
	assert_int_equal(stats_of("uq").user_quota, 64 * KiB);
	assert_int_equal(stats_of("uq").quota, 0);
	expect_user_quota_shown(64 * KiB);

	/* 16 KiB persisted: a quarter of the user quota; no quota: "-". */
	assert_int_equal(pool_open(fx.conn, "uq", &fx.pool), 0);
	off = alloc_ok(fx.pool, 16 * KiB);
	assert_int_equal(pool_persist(fx.pool, off), 0);
	expect_exit(ctl("persisted uq"), 0, "persisted uq");
	expect(strstr(fx.out, "OF QUOTA  OF USER QUOTA\n"),
	       "persisted: no OF USER QUOTA column");
	l = line_starting(fx.out, "uq");
	expect(l && strstr(l, " - ") && strstr(l, " 25.0%\n"),
	       "persisted: not 25.0% of the user quota, no quota");
	expect_exit(ctl("--json=short persisted uq"), 0, "persisted --json");
	expect(strstr(fx.out, "\"quota\":0,\"user_quota\":65536,"
		      "\"user_quota_bound\":65536}"),
	       "persisted --json: user_quota is not 65536");

	/* The uid holds 48 KiB: its other connection may not add 32. */
	off2 = alloc_ok(fx.pool, 32 * KiB);
	assert_int_equal(pool_flush(fx.pool), 0);
	assert_int_equal(pool_connect(fx.d.sock, &other), 0);
	assert_int_equal(pool_open(other, "uq", &p2), 0);
	assert_int_equal(pool_alloc(p2, 32 * KiB, &off), -EDQUOT);

	expect_exit(ctl("--json=short set uq --user-quota 0"), 0,
		    "set --user-quota 0");
	assert_string_equal(fx.out, "{\"pool\":\"uq\",\"set\":true,"
			    "\"user_quota\":0}\n");
	assert_int_equal(stats_of("uq").user_quota, 0);
	expect_user_quota_shown(0);
	assert_int_equal(pool_alloc(p2, 32 * KiB, &off), 0);
	assert_int_equal(pool_free(p2, off), 0);

	expect_exit(ctl("set uq --user-quota 1M"), 0, "set --user-quota 1M");
	expect(fx.out[0] == '\0', "set prints nothing on success");
	assert_int_equal(stats_of("uq").user_quota, 1 * MiB);
	assert_int_equal(stats_of("uq").quota, 0);
	expect_user_quota_shown(1 * MiB);

	/* "none", as stats prints no bound, lifts either quota. */
	expect_exit(ctl("set uq --quota 1M"), 0, "set --quota 1M");
	expect_exit(ctl("set uq --user-quota none --quota none"), 0,
		    "set --user-quota none --quota none");
	assert_int_equal(stats_of("uq").user_quota, 0);
	assert_int_equal(stats_of("uq").quota, 0);
	expect_exit(ctl("create uqn --size 1M --user-quota none --quota "
			"none"), 0, "create --user-quota none --quota none");
	assert_int_equal(stats_of("uqn").user_quota, 0);
	expect_exit(ctl("set uq --user-quota nothing"), 2,
		    "set --user-quota nothing");
	expect(strstr(fx.err, "none, or "), "the forms do not name none");
	expect_exit(ctl("destroy uqn"), 0, "destroy uqn");

	assert_int_equal(pool_free(fx.pool, off2), 0);
	pool_close(p2);
	pool_disconnect(other);
	stop();
}

/* Two connections of this uid hold 8 KiB each; it persisted 16 KiB. */
static void
users_lists_who_holds_what(void **state)
{
	struct pool_conn *other;
	struct pool *p2;
	pool_off_t kept, held, held2;
	const char *l;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create uq --size 1M --user-quota 64K"), 0, "create");
	assert_int_equal(pool_open(fx.conn, "uq", &fx.pool), 0);
	kept = alloc_ok(fx.pool, 16 * KiB);
	assert_int_equal(pool_persist(fx.pool, kept), 0);
	held = alloc_ok(fx.pool, 8 * KiB);
	assert_int_equal(pool_flush(fx.pool), 0);
	assert_int_equal(pool_connect(fx.d.sock, &other), 0);
	assert_int_equal(pool_open(other, "uq", &p2), 0);
	assert_int_equal(pool_set_cache(p2, 0), 0);
	held2 = alloc_ok(p2, 8 * KiB);

	/* The tests run as root: uid 0 by its name, and by number (-n). */
	expect_exit(ctl("users uq"), 0, "users uq");
	expect(strstr(fx.out, " UID CONNS HANDLES       HELD PERSISTENT  "
		      "BLOCKS       QUOTA  OF USER QUOTA\n") != NULL,
	       "users: its header");
	l = line_starting(fx.out, "uq");
	expect(l && strstr(l, "uq         root     2       2   16.0 KiB   "
			   "16.0 KiB       1    64.0 KiB          50.0%\n"),
	       "users: not root with 2 connections, 2 handles, 16 KiB held, "
	       "16 KiB in 1 persistent block, 50.0% of the user quota");
	expect_exit(ctl("users uq -n"), 0, "users uq -n");
	l = line_starting(fx.out, "uq");
	expect(l && strstr(l, "uq            0     2       2   16.0 KiB   "
			   "16.0 KiB       1    64.0 KiB          50.0%\n"),
	       "users -n: uid 0 not a number in its column");
	expect_exit(ctl("users uq --format=kv"), 0, "users kv");
	expect(strstr(fx.out, "uq user_connections.0 2\n"
			      "uq user_handles.0 2\n"
			      "uq user_held_bytes.0 16384\n"
			      "uq user_persisted_blocks.0 1\n"
			      "uq user_persisted_bytes.0 16384\n"
			      "uq user_quota_bound.0 65536\n"
			      "uq user_quota_own.0 0\n") != NULL,
	       "users kv");
	expect_exit(ctl("--json=short users uq"), 0, "users --json");
	assert_string_equal(fx.out, "[{\"pool\":\"uq\",\"uid\":0,"
			    "\"user\":\"root\",\"connections\":2,\"handles\":2,"
			    "\"held_bytes\":16384,\"persisted_blocks\":1,"
			    "\"persisted_bytes\":16384,\"user_quota\":65536,"
			    "\"quota\":65536,\"quota_own\":false}]\n");
	expect_exit(ctl("users uq --format=prometheus"), 0, "users prom");
	expect(strstr(fx.out, "poolmgr_pool_user_held_bytes{pool=\"uq\","
			      "uid=\"0\"} 16384\n") != NULL,
	       "users prometheus");
	/* Of every pool: the others have nobody. */
	expect_exit(ctl("users"), 0, "users");
	expect(line_starting(fx.out, "uq") != NULL, "users: uq not listed");
	expect_exit(ctl("users nope"), 1, "users nope");
	expect(strstr(fx.err, "nope") != NULL, "users nope: not named");

	/* The other connection gone, and the persistent block ended. */
	assert_int_equal(pool_free(p2, held2), 0);
	pool_close(p2);
	pool_disconnect(other);
	assert_int_equal(pool_free(fx.pool, held), 0);
	assert_int_equal(pool_free(fx.pool, kept), 0);
	assert_int_equal(pool_free(fx.pool, kept), 0);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_exit(ctl("--json=short users uq"), 0, "users --json");
	assert_string_equal(fx.out, "[{\"pool\":\"uq\",\"uid\":0,"
			    "\"user\":\"root\",\"connections\":1,\"handles\":1,"
			    "\"held_bytes\":0,\"persisted_blocks\":0,"
			    "\"persisted_bytes\":0,\"user_quota\":65536,"
			    "\"quota\":65536,\"quota_own\":false}]\n");
	stop();
}

/*
 * A --user-quota poolctl cannot read is a usage error naming the option
 * and saying what to write, as --quota's (exit 2, nothing made or
 * changed); so is one given twice, or to a command without it.  A
 * pool's owner who is no admin may not change it (exit 77, the daemon's
 * rule named), as the quota.
 */
static void
user_quota_refused(void **state)
{
	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create uq --size 1M --user-quota 1M"), 0, "create");

	expect_refused_saying("create delta --size 1M --user-quota lots",
			      "create: bad user quota 'lots' (none, or "
			      FORMS ")");
	expect_refused_saying("create delta --size 1M --user-quota -1",
			      "create: bad user quota '-1' (none, or "
			      FORMS ")");
	expect_refused_saying("create delta --size 1M --user-quota 8KB",
			      "create: bad user quota '8KB': " POWERS("KB")
			      "write 8K or 8KiB");
	expect_refused_saying("set uq --user-quota 4096B",
			      "set: bad user quota '4096B': " NO_B
			      "write 4096");
	expect_refused_saying("set uq --user-quota 99999999999T",
			      "set: bad user quota '99999999999T': "
			      TOO_LARGE MOST_BYTES);
	expect_refused_saying("set uq --user-quota 1.5M",
			      "set: bad user quota '1.5M' (none, or "
			      FORMS ")");
	expect_refused_saying("set uq --user-quota 1M --user-quota=2M",
			      "set: option --user-quota given twice");
	expect_refused_saying("stats uq --user-quota 1M",
			      "stats: option --user-quota does not apply");
	expect_refused_saying("set uq --user-quota",
			      "option '--user-quota' needs an argument");
	assert_false(pool_exists("delta"));
	assert_int_equal(stats_of("uq").user_quota, 1 * MiB);

	skip_unless_nobody_can_run_poolctl();
	expect_exit(ctl("create mine --size 1M --owner %d --group %d", NOBODY,
			NOBODY), 0, "create mine for nobody");
	expect_exit(ctl_as_nobody("set", "mine", "--user-quota", "1M"),
		    EXIT_NOPERM, "set --user-quota as the owner");
	expect(strcmp(fx.err, "poolctl: cannot set pool mine: not permitted; "
		      "poolmgrd says: the owner of pool mine may change its "
		      "mode, access control list and group; its owner, "
		      "quotas, limit and retain need admin rights\n") == 0,
	       "set --user-quota as the owner: not the daemon's rule");
	assert_int_equal(stats_of("mine").user_quota, 0);
	expect_exit(ctl_as_nobody("create", "zz", "--size", "1M"), EXIT_NOPERM,
		    "create as nobody");
	assert_false(pool_exists("zz"));
	stop();
}

/* ---- uids' own user quotas ------------------------------------------------- */

/* Pool name's entries must be the n of want (uid, bytes), in order. */
static void
expect_entries(const char *name, const struct pool_user_quota *want,
	       size_t n)
{
	struct pool_user_quota got[POOL_USER_QUOTA_MAX];
	size_t i;

	assert_int_equal(pool_user_quota_get(fx.conn, name, got,
					     POOL_USER_QUOTA_MAX), (int)n);
	for (i = 0; i < n; i++) {
		assert_int_equal(got[i].uid, want[i].uid);
		assert_int_equal(got[i].bytes, want[i].bytes);
	}
}

/*
 * --user-quota USER=SIZE of create and set: the entries the daemon keeps
 * (names and numbers, none), one request with the pool's default; set's
 * USER=default takes one out; stats POOL shows them in every format but
 * Prometheus (names where known, numbers under -n and in kv), and not
 * for a pool without; users shows the bound in force, a uid's own
 * marked, in every format; --json of create and set says what they gave.
 */
static void
user_quota_entries_set_and_shown(void **state)
{
	const struct pool_user_quota made[] = {
		{.uid = 0, .bytes = 2 * MiB}, {.uid = NOBODY, .bytes = 0},
	};
	const struct pool_user_quota changed[] = {
		{.uid = 4242, .bytes = 3 * MiB}, {.uid = NOBODY, .bytes = 0},
	};
	const struct pool_user_quota own[] = {
		{.uid = 0, .bytes = 1 * MiB}, {.uid = 4242, .bytes = 3 * MiB},
		{.uid = NOBODY, .bytes = 0},
	};
	const char *l;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create e --size 4M --user-quota 1M --user-quota "
			"root=2M --user-quota %d=none", NOBODY), 0, "create");
	expect_entries("e", made, 2);
	assert_int_equal(stats_of("e").user_quota, 1 * MiB);

	expect_exit(ctl("stats e"), 0, "stats e");
	expect(strstr(fx.out, "\n  user quotas          root:2.0 MiB, "
		      "nobody:none\n") != NULL, "stats: the entries by name");
	expect_exit(ctl("stats e -n"), 0, "stats e -n");
	expect(strstr(fx.out, "\n  user quotas          0:2.0 MiB, "
		      "65534:none\n") != NULL, "stats -n: by number");
	/* Of every pool too, for those with entries (one asks each). */
	expect_exit(ctl("stats"), 0, "stats");
	expect(strstr(fx.out, "\n  user quotas          root:2.0 MiB, "
		      "nobody:none\n") != NULL, "stats: no entries of e");
	expect_exit(ctl("stats e --format=kv"), 0, "stats kv");
	expect(strstr(fx.out, "\ne user_quotas 0:2097152,65534:0\n") != NULL,
	       "stats kv: numbers, 0 for none");
	expect_exit(ctl("--json=short stats e"), 0, "stats --json");
	expect(strstr(fx.out, "\"user_quotas\":[{\"uid\":0,\"user\":\"root\","
		      "\"bytes\":2097152},{\"uid\":65534,\"user\":\"nobody\","
		      "\"bytes\":0}]") != NULL, "stats --json: the array");
	expect_exit(ctl("stats e --format=prometheus"), 0, "stats prom");
	expect(strstr(fx.out, "user_quotas") == NULL, "stats prom: entries");
	/* A pool without: no line, an empty array. */
	expect_exit(ctl("stats alpha"), 0, "stats alpha");
	expect(strstr(fx.out, "user quotas") == NULL, "stats alpha: a line");
	expect_exit(ctl("--json=short stats alpha"), 0, "stats alpha json");
	expect(strstr(fx.out, "\"user_quotas\":[]") != NULL,
	       "stats alpha --json: no empty array");

	/* One request: the default, an entry out, another in. */
	expect_exit(ctl("--json=short set e --user-quota root=default "
			"--user-quota 4242=3M --user-quota 512K"), 0, "set");
	assert_string_equal(fx.out, "{\"pool\":\"e\",\"set\":true,"
			    "\"user_quota\":524288,\"user_quotas\":[{\"uid\":"
			    "4242,\"user\":null,\"bytes\":3145728}],"
			    "\"user_quotas_removed\":[{\"uid\":0,"
			    "\"user\":\"root\"}]}\n");
	expect_entries("e", changed, 2);
	assert_int_equal(stats_of("e").user_quota, 512 * KiB);

	/* users: the bound in force, the pool's, then root's own. */
	assert_int_equal(pool_open(fx.conn, "e", &fx.pool), 0);
	alloc_ok(fx.pool, 64 * KiB);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_exit(ctl("users e"), 0, "users e");
	l = line_starting(fx.out, "e");
	expect(l && strstr(l, "   512.0 KiB          12.5%\n"),
	       "users: the pool's user quota, unmarked");
	expect_exit(ctl("set e --user-quota root=1M"), 0, "set root=1M");
	expect_entries("e", own, 3);
	expect_exit(ctl("users e"), 0, "users e");
	l = line_starting(fx.out, "e");
	expect(l && strstr(l, "    1.0 MiB*           6.2%\n"),
	       "users: root's own, marked");
	expect_exit(ctl("users e --format=kv"), 0, "users kv");
	expect(strstr(fx.out, "e user_quota_bound.0 1048576\n"
		      "e user_quota_own.0 1\n")
	       != NULL, "users kv: the bound and its own");
	expect_exit(ctl("--json=short users e"), 0, "users json");
	expect(strstr(fx.out, "\"user_quota\":524288,\"quota\":1048576,"
		      "\"quota_own\":true}") != NULL, "users json");
	expect_exit(ctl("users e --format=prometheus"), 0, "users prom");
	expect(strstr(fx.out, "poolmgr_pool_user_quota_bound_bytes{pool=\"e\","
		      "uid=\"0\"} 1048576\n") != NULL &&
	       strstr(fx.out, "poolmgr_pool_user_quota_own{pool=\"e\","
		      "uid=\"0\"} 1\n") != NULL, "users prometheus");
	/* none: no user quota for root, whatever the pool's. */
	expect_exit(ctl("set e --user-quota root=0"), 0, "set root=0");
	expect_exit(ctl("users e"), 0, "users e");
	l = line_starting(fx.out, "e");
	expect(l && strstr(l, "          -*              -\n"),
	       "users: root's own none, marked");

	expect_exit(ctl("--json=short create f --size 1M --user-quota "
			"nobody=64K"), 0, "create --json");
	expect(strstr(fx.out, "\"user_quotas\":[{\"uid\":65534,\"user\":"
		      "\"nobody\",\"bytes\":65536}]}\n") != NULL,
	       "create --json: the entries");
	stop();
}

/* Requests `poolctl ARGS` made beyond those of `poolctl list`; its
 * output in fx.out and fx.err. */
static uint64_t
requests_beyond_list(const char *args)
{
	return harness_poolctl_requests_beyond_list(&fx.d, fx.conn, args,
						    fx.out, sizeof(fx.out),
						    fx.err, sizeof(fx.err));
}

/*
 * stats of every pool: the list says each pool's count of uids' own
 * user quotas, so that only e and g, which have some, are asked for
 * them (alpha and beta cost nothing); each shows its own, in every
 * format but Prometheus, which has the counts as gauges beside those
 * of the access control lists.
 */
static void
user_quota_entries_of_every_pool(void **state)
{
	uint64_t extra;
	const char *at;

	(void)state;
	start(TWO_POOLS);
	extra = requests_beyond_list("stats");
	if (extra != 1)
		fail_msg("stats without entries: %llu requests beyond the "
			 "listing, want 1 (the first pool's access control "
			 "list alone)", (unsigned long long)extra);
	expect(strstr(fx.out, "user quotas") == NULL,
	       "stats without entries: a user quotas line");

	expect_exit(ctl("create e --size 1M --user-quota root=2M "
			"--user-quota %d=none", NOBODY), 0, "create e");
	expect_exit(ctl("create g --size 1M --user-quota 4242=64K"), 0,
		    "create g");
	/* One for the first pool's list, one each for e's and g's entries. */
	extra = requests_beyond_list("stats -n");
	if (extra != 3)
		fail_msg("stats: %llu requests beyond the listing, want 3",
			 (unsigned long long)extra);
	at = strstr(fx.out, "pool e\n");
	expect(at && strstr(at, "\n  user quotas          0:2.0 MiB, "
			    "65534:none\n") != NULL, "stats: e's entries");
	at = strstr(fx.out, "pool g\n");
	expect(at && strstr(at, "\n  user quotas          4242:64.0 KiB\n")
	       != NULL, "stats: g's entries");
	/* alpha and beta come first, with no such line. */
	at = strstr(fx.out, "pool e\n");
	expect(at && strstr(fx.out, "user quotas") > at,
	       "stats: alpha or beta with a user quotas line");

	expect_exit(ctl("stats --format=kv"), 0, "stats kv");
	expect(strstr(fx.out, "\ne acl_entries 0\ne user_quota_entries 2\n")
	       && strstr(fx.out, "\ng user_quota_entries 1\n")
	       && strstr(fx.out, "\nalpha user_quota_entries 0\n"),
	       "stats kv: user_quota_entries beside acl_entries");
	expect(strstr(fx.out, "\ne user_quotas 0:2097152,65534:0\n") &&
	       strstr(fx.out, "\ng user_quotas 4242:65536\n") &&
	       !strstr(fx.out, "alpha user_quotas"),
	       "stats kv: the entries of e and g alone");

	expect_exit(ctl("--json=short stats"), 0, "stats --json");
	expect(strstr(fx.out, "\"acl_entries\":0,\"user_quota_entries\":2,")
	       && strstr(fx.out, "\"acl_entries\":0,\"user_quota_entries\""
			 ":0,"), "stats --json: user_quota_entries");
	expect(strstr(fx.out, "\"user_quotas\":[{\"uid\":4242,\"user\":"
		      "null,\"bytes\":65536}]") != NULL,
	       "stats --json: g's entries");
	expect_exit(ctl("--json=short list"), 0, "list --json");
	expect(strstr(fx.out, "\"acl_entries\":0,\"user_quota_entries\":1,")
	       != NULL, "list --json: g's user_quota_entries");

	/* Counts alone: Prometheus asks nothing beyond the listing. */
	extra = requests_beyond_list("stats --format=prometheus");
	if (extra != 0)
		fail_msg("stats prom: %llu requests beyond the listing, "
			 "want 0", (unsigned long long)extra);
	expect(strstr(fx.out, "# HELP poolmgr_pool_user_quota_entries ") &&
	       strstr(fx.out, "\n# TYPE poolmgr_pool_user_quota_entries "
		      "gauge\n") &&
	       strstr(fx.out, "\npoolmgr_pool_user_quota_entries{pool=\"e\"} "
		      "2\n") &&
	       strstr(fx.out, "\npoolmgr_pool_user_quota_entries{pool=\"g\"} "
		      "1\n") &&
	       strstr(fx.out, "\npoolmgr_pool_user_quota_entries{pool=\""
		      "alpha\"} 0\n"), "stats prom: user_quota_entries");
	expect(strstr(fx.out, "# HELP poolmgr_pool_acl_entries ") &&
	       strstr(fx.out, "\n# TYPE poolmgr_pool_acl_entries gauge\n") &&
	       strstr(fx.out, "\npoolmgr_pool_acl_entries{pool=\"beta\"} "
		      "0\n"), "stats prom: acl_entries");
	expect(strstr(fx.out, "user_quotas") == NULL,
	       "stats prom: the entries themselves");
	stop();
}

/*
 * What poolctl refuses of --user-quota USER=SIZE before asking (exit 2,
 * the word named, nothing changed): a user no database knows, nobody's
 * uid, no user, a bad size, a size too large, a uid given twice (by name
 * and number too), default to create, more than 32 entries or 32
 * removals; and what the daemon
 * refuses (exit 1, its words): more than 32 entries in the pool, a pool
 * the configuration file defines.
 */
static void
user_quota_entries_refused(void **state)
{
	const struct pool_user_quota was[] = { {.uid = 0, .bytes = 1 * MiB} };
	char many[4096];
	size_t at = 0;
	int i;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create r --size 1M --user-quota root=1M"), 0,
		    "create");
	expect_refused_saying("set r --user-quota nosuchuser=1M",
			      "set: --user-quota nosuchuser=1M: no such user "
			      "'nosuchuser' (a user name, or a uid below "
			      "4294967295)");
	expect_refused_saying("set r --user-quota 4294967295=1M",
			      "set: --user-quota 4294967295=1M: no such user "
			      "'4294967295' (a user name, or a uid below "
			      "4294967295)");
	expect_refused_saying("set r --user-quota =1M",
			      "set: --user-quota =1M: no user before '=' "
			      "(USER=SIZE: a user name or a uid)");
	expect_refused_saying("set r --user-quota root=lots",
			      "set: --user-quota root=lots: bad size 'lots' "
			      "(none or 0 for no user quota, or " FORMS
			      "; default takes the entry out)");
	expect_refused_saying("create x --size 1M --user-quota root=",
			      "create: --user-quota root=: bad size '' (none "
			      "or 0 for no user quota, or " FORMS ")");
	expect_refused_saying("set r --user-quota root=99999999999T",
			      "set: --user-quota root=99999999999T: size too "
			      "large (at most " MOST_BYTES);
	expect_refused_saying("set r --user-quota root=2M --user-quota 0=3M",
			      "set: --user-quota 0=3M: user root (uid 0) given "
			      "twice (one entry each)");
	expect_refused_saying("set r --user-quota root=2M --user-quota "
			      "root=default", "set: --user-quota root=default: "
			      "user root (uid 0) given twice (one entry each)");
	expect_refused_saying("create x --size 1M --user-quota root=default",
			      "create: --user-quota root=default: default is "
			      "for set, which takes a pool's entry out (a new "
			      "pool has none)");
	expect_refused_saying("stats r --user-quota root=1M",
			      "stats: option --user-quota does not apply");
	/* --us: getopt's abbreviation keeps 33 within the harness's line. */
	for (i = 0; i < POOL_USER_QUOTA_MAX + 1; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
				       " --us=%d=1M", 100 + i);
	snprintf(many + at, sizeof(many) - at, " r");
	expect_exit(ctl("set%s", many), EXIT_USAGE, "set 33 entries");
	expect(strstr(fx.err, "set: --user-quota: more than 32 USER=SIZE "
		      "entries (a pool holds at most 32)") != NULL,
	       "set 33 entries: the words");
	/* As many removals: 32 at most, as the daemon takes (--u: 33 fit). */
	at = 0;
	for (i = 0; i < POOL_USER_QUOTA_MAX + 1; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
				       " --u=%d=default", i);
	snprintf(many + at, sizeof(many) - at, " r");
	expect_exit(ctl("set%s", many), EXIT_USAGE, "set 33 removals");
	expect(strstr(fx.err, "set: --user-quota 32=default: more than 32 "
		      "USER=default removals (a pool holds at most 32 "
		      "entries)") != NULL,
	       "set 33 removals: the words");
	assert_false(pool_exists("x"));
	expect_entries("r", was, 1);

	/* 32 new ones beside root's: the daemon's -ENOSPC, nothing set. */
	at = 0;
	for (i = 0; i < POOL_USER_QUOTA_MAX; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
				       " --us=%d=1M", 100 + i);
	snprintf(many + at, sizeof(many) - at, " --user-quota 2M r");
	expect_exit(ctl("set%s", many), 1, "set to 33 entries");
	expect(strcmp(fx.err, "poolctl: cannot set pool r: too many user "
		      "quota entries; poolmgrd says: a pool holds at most 32 "
		      "user quota entries: this would make 33 (remove some in "
		      "the same change)\n") == 0,
	       "set to 33 entries: the words");
	expect_entries("r", was, 1);
	assert_int_equal(stats_of("r").user_quota, 0);

	expect_exit(ctl("set alpha --user-quota root=1M"), 1, "set alpha");
	expect(strstr(fx.err, "poolctl: cannot set pool alpha: the daemon's "
		      "configuration file defines it") != NULL,
	       "set alpha: the file's pool");
	stop();
}

/* ---- free --------------------------------------------------------------- */

static void
free_ends_what_was_left(void **state)
{
	static const char *const bad[] = {"+1", "0x", "12abc", "0x1g",
					  "' 12'", "0x0x10",
					  "18446744073709551615"};
	struct pool_conn *gone;
	struct pool *p, *q;
	struct pool_stats st;
	pool_off_t left1, left2, held, named;
	char want[64];
	size_t i;
	int rc;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	/* What a program left: it persisted one, allocated one persistent. */
	assert_int_equal(pool_connect(fx.d.sock, &gone), 0);
	EXPECT_RC(pool_open(gone, "p", &q), 0);
	EXPECT_RC(pool_alloc(q, 100, &left1), 0);
	EXPECT_RC(pool_persist(q, left1), 0);
	EXPECT_RC(pool_alloc_wait(q, 200, 0, POOL_ALLOC_PERSIST, 0, &left2),
		  0);
	pool_close(q);
	pool_disconnect(gone);
	/* Not poolctl's to free: a block a handle holds, a named one. */
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc(p, 300, &held), 0);
	EXPECT_RC(pool_alloc(p, 400, &named), 0);
	EXPECT_RC(pool_publish(p, named, "kept"), 0);
	EXPECT_RC(pool_free(p, named), 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = ctl("free p %s", bad[i]);
		expect_exit(rc, EXIT_USAGE, bad[i]);
		expect(strstr(fx.err, "bad offset") != NULL, bad[i]);
	}
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 4);

	rc = ctl("free p %#llx 0x7 %#llx %#llx %llu",
		 (unsigned long long)left1, (unsigned long long)held,
		 (unsigned long long)named, (unsigned long long)left2);
	expect_exit(rc, EXIT_FAILED, "free of two left and three refused");
	expect(strstr(fx.err, "0x7: no live block starts there") != NULL,
	       "no block");
	expect(strstr(fx.err, "held by handles and not persistent") != NULL,
	       "held");
	expect(strstr(fx.err, "a name holds it: `poolctl unpublish` removes "
		      "the name") != NULL, "named");
	/* What it ended is said, as sweep says it, beside the refusals. */
	expect(strcmp(fx.out, "freed 2 blocks\n") == 0, "the two it ended");
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 2);
	assert_int_equal(st.persistent_blocks, 1);	/* the named one */
	EXPECT_RC(pool_usable_size(p, left1, &i), -EINVAL);
	EXPECT_RC(pool_usable_size(p, left2, &i), -EINVAL);

	/* --json says what it ended, as every command changing a pool. */
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &left1),
		  0);
	rc = ctl("--json=short free p %llu 0x7", (unsigned long long)left1);
	expect_exit(rc, EXIT_FAILED, "--json free of one left, one refused");
	snprintf(want, sizeof(want), "{\"pool\":\"p\",\"freed\":[%llu]}",
		 (unsigned long long)left1);
	expect(strstr(fx.out, want) != NULL, "--json free: the offset freed");
	EXPECT_RC(pool_usable_size(p, left1, &i), -EINVAL);

	/* One ended: one block; none ended, nothing on stdout. */
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &left1),
		  0);
	rc = ctl("free p %#llx", (unsigned long long)left1);
	expect_exit(rc, 0, "free of one left");
	expect(strcmp(fx.out, "freed 1 block\n") == 0 && fx.err[0] == '\0',
	       "free of one: said");
	rc = ctl("free p %#llx", (unsigned long long)left1);
	expect_exit(rc, EXIT_FAILED, "free of one gone");
	expect(fx.out[0] == '\0', "free of none: nothing said freed");

	rc = ctl("free nope 0x10");
	expect_exit(rc, EXIT_FAILED, "free in no pool");
	expect(strstr(fx.err, "no such pool: nope") != NULL, "no pool");
	harness_expect_checked(fx.conn, "p");
	EXPECT_RC(pool_free(p, held), 0);
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	pool_close(p);
	stop();
}

/*
 * A block listed as left behind, freed by its consumer meanwhile, and a
 * new one made at its offset: `free --older-than` spares the new one
 * while it is younger than the age given, and ends it once it is older
 * (the age is checked at the free, not at the listing: the limit the
 * manual states).  `blocks` shows for how long each has been persistent.
 */
static void
free_older_than_spares_a_new_block(void **state)
{
	static const char *const bad[] = {"-1", "1.5", "x", "''", "1s",
					  "18446744073709552"};
	struct pool_stats st;
	pool_off_t left, again;
	struct pool *p;
	const char *at;
	char want[96];
	size_t i;
	int rc;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_alloc_wait(p, 4096, 0, POOL_ALLOC_PERSIST, 0, &left),
		  0);
	usleep(1100 * 1000);
	rc = ctl("blocks p");
	expect_exit(rc, 0, "blocks");
	expect(strstr(fx.out, "PERSISTED") != NULL, "the column");
	/* Seconds, not milliseconds, and no holder after them. */
	expect(strstr(fx.out, "s -\n") && !strstr(fx.out, "ms -\n"),
	       "its age");
	rc = ctl("blocks p --format=kv");
	expect_exit(rc, 0, "blocks kv");
	snprintf(want, sizeof(want), "p 0x%llx persisted_ms ",
		 (unsigned long long)left);
	expect((at = strstr(fx.out, want)) &&
	       strtoull(at + strlen(want), NULL, 10) >= 1000,
	       "kv persisted_ms");
	rc = ctl("--json=short blocks p");
	expect_exit(rc, 0, "blocks json");
	expect((at = strstr(fx.out, "\"persisted_ms\":")) &&
	       strtoull(at + strlen("\"persisted_ms\":"), NULL, 10) >= 1000,
	       "json persisted_ms");

	/* Its consumer frees it; the producer's next lands at its place. */
	EXPECT_RC(pool_free(p, left), 0);
	EXPECT_RC(pool_alloc_wait(p, 4096, 0, POOL_ALLOC_PERSIST, 0, &again),
		  0);
	assert_int_equal(again, left);
	rc = ctl("free p --older-than 1 %#llx", (unsigned long long)left);
	expect_exit(rc, EXIT_FAILED, "a new block at the offset");
	/* With the new block's age, which tells it from the one listed. */
	expect(strstr(fx.err, "ms, less than --older-than says") != NULL,
	       "the refusal, with the block's age now");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 1);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = ctl("free p --older-than %s %#llx", bad[i],
			 (unsigned long long)left);
		expect_exit(rc, EXIT_USAGE, bad[i]);
		expect(strstr(fx.err, "bad --older-than") != NULL, bad[i]);
	}
	rc = ctl("blocks p --older-than 1");
	expect_exit(rc, EXIT_USAGE, "--older-than is free's");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 1);

	/* The new block itself, a second later: older than asked now. */
	usleep(1100 * 1000);
	rc = ctl("--json=short free p --older-than 1 %#llx",
		 (unsigned long long)left);
	expect_exit(rc, 0, "old enough now");
	snprintf(want, sizeof(want), "\"freed\":[%llu]",
		 (unsigned long long)left);
	expect(strstr(fx.out, want) != NULL, "freed");
	/* Who ended whose block is in the daemon's log. */
	snprintf(want, sizeof(want), "pool p: block 0x%llx, persistent for ",
		 (unsigned long long)left);
	assert_int_equal(harness_log_count(&fx.d, want), 1);
	snprintf(want, sizeof(want), "(uid %u's), ended by uid %u pid ",
		 (unsigned)getuid(), (unsigned)getuid());
	assert_int_equal(harness_log_count(&fx.d, want), 1);
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	harness_expect_checked(fx.conn, "p");
	pool_close(p);
	stop();
}

/*
 * `sweep --older-than`, which a timer runs, ends the unnamed persistent
 * blocks old enough that no handle holds, and nothing else: not a block
 * a live program persisted and holds yet.
 */
static void
sweep_ends_what_was_left(void **state)
{
	pool_off_t old1, old2, young, named, held;
	struct pool_stats st;
	struct passwd *pw;
	struct pool *p;
	char want[128];
	size_t usable1, usable2;
	int rc;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &old1), 0);
	EXPECT_RC(pool_alloc_wait(p, 5000, 0, POOL_ALLOC_PERSIST, 0, &old2),
		  0);
	EXPECT_RC(pool_alloc(p, 300, &named), 0);
	EXPECT_RC(pool_publish(p, named, "kept"), 0);
	EXPECT_RC(pool_free(p, named), 0);
	/* Persistent, but this live program holds it yet: not left. */
	EXPECT_RC(pool_alloc(p, 400, &held), 0);
	EXPECT_RC(pool_persist(p, held), 0);
	EXPECT_RC(pool_usable_size(p, old1, &usable1), 0);
	EXPECT_RC(pool_usable_size(p, old2, &usable2), 0);
	/*
	 * Two seconds old, against --older-than 2; the young block is made
	 * just before the sweeps that must spare it, which have 2 s to run
	 * however loaded the machine.
	 */
	usleep(2100 * 1000);

	rc = ctl("sweep p");
	expect_exit(rc, EXIT_USAGE, "sweep without --older-than");
	expect(strstr(fx.err, "missing --older-than") != NULL, "why");
	rc = ctl("sweep p --older-than 1 %llu", (unsigned long long)old1);
	expect_exit(rc, EXIT_USAGE, "sweep with an offset");
	rc = ctl("sweep p --older-than 1s");
	expect_exit(rc, EXIT_USAGE, "a bad age");
	rc = ctl("sweep nope --older-than 1");
	expect_exit(rc, EXIT_FAILED, "no such pool");
	rc = ctl("sweep p --older-than 3600");
	expect_exit(rc, 0, "nothing that old");
	expect(strstr(fx.out, "freed 0 blocks") != NULL, "none");
	EXPECT_RC(pool_alloc_wait(p, 200, 0, POOL_ALLOC_PERSIST, 0, &young),
		  0);
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 5);

	/* A dry run lists what it would end, and ends nothing. */
	rc = ctl("sweep p --older-than 2 --dry-run");
	expect_exit(rc, 0, "dry run");
	/* The persister by name, as blocks names it; -n: the number. */
	pw = getpwuid(getuid());
	snprintf(want, sizeof(want), "0x%llx 112 B user %s ",
		 (unsigned long long)old1, pw != NULL ? pw->pw_name : "?");
	if (pw != NULL)
		expect(strstr(fx.out, want) != NULL, "the first listed");
	expect(strstr(fx.out, "would free 2 blocks (") != NULL, "dry count");
	rc = ctl("sweep p --older-than 2 --dry-run -n");
	expect_exit(rc, 0, "dry run -n");
	snprintf(want, sizeof(want), "0x%llx 112 B user %u ",
		 (unsigned long long)old1, (unsigned)getuid());
	expect(strstr(fx.out, want) != NULL, "-n: the first listed");
	rc = ctl("--json=short sweep p --older-than 2 --dry-run");
	expect_exit(rc, 0, "dry run, JSON");
	snprintf(want, sizeof(want), "\"would_free\":[%llu,%llu]",
		 (unsigned long long)old1, (unsigned long long)old2);
	expect(strstr(fx.out, want) != NULL, "dry JSON");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 5);

	rc = ctl("--json=short sweep p --older-than 2");
	expect_exit(rc, 0, "the sweep");
	snprintf(want, sizeof(want), "{\"pool\":\"p\",\"freed\":[%llu,%llu],"
		 "\"bytes\":%zu}", (unsigned long long)old1,
		 (unsigned long long)old2, usable1 + usable2);
	expect(strstr(fx.out, want) != NULL, "what it ended");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 3);	/* young, named, held */
	assert_int_equal(st.live_blocks, 3);
	EXPECT_RC(pool_usable_size(p, young, &usable1), 0);
	EXPECT_RC(pool_usable_size(p, named, &usable1), 0);
	harness_expect_checked(fx.conn, "p");

	rc = ctl("sweep p --older-than 0");
	expect_exit(rc, 0, "all of them now");
	expect(strstr(fx.out, "freed 1 block (") != NULL, "the young one");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 2);	/* named, held */
	EXPECT_RC(pool_free(p, held), 0);	/* this handle's reference */
	EXPECT_RC(pool_free(p, held), 0);	/* the pool's */
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	pool_close(p);
	stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(create_and_bad_sizes,
					  poolctl_teardown),
		cmocka_unit_test_teardown(destroy_idle_busy_and_forced,
					  poolctl_teardown),
		cmocka_unit_test_teardown(trim_and_check, poolctl_teardown),
		cmocka_unit_test_teardown(user_quota_set_and_shown,
					  poolctl_teardown),
		cmocka_unit_test_teardown(user_quota_refused, poolctl_teardown),
		cmocka_unit_test_teardown(user_quota_entries_set_and_shown,
					  poolctl_teardown),
		cmocka_unit_test_teardown(user_quota_entries_refused,
					  poolctl_teardown),
		cmocka_unit_test_teardown(user_quota_entries_of_every_pool,
					  poolctl_teardown),
		cmocka_unit_test_teardown(users_lists_who_holds_what,
					  poolctl_teardown),
		cmocka_unit_test_teardown(free_ends_what_was_left,
					  poolctl_teardown),
		cmocka_unit_test_teardown(free_older_than_spares_a_new_block,
					  poolctl_teardown),
		cmocka_unit_test_teardown(sweep_ends_what_was_left,
					  poolctl_teardown),
	};

	return cmocka_run_group_tests_name("integration: poolctl admin", tests,
					   NULL, NULL);
}
