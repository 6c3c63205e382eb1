/*
 * itest_liar_lists.c - a lying daemon cannot crash or hang a client:
 * listings in pages and a pool's user quota entries, checked; and
 * poolctl against daemons older than what it asks.  The fake daemon is
 * liar_daemon.h's, the code the clients share liar_util.h's.
 *
 * uids' own user quotas (features bit 11): the fakes that say it, those
 * of UQUOTA_NONE and its lies, answer a Stats of the pool with three
 * entries, or with 33, two out of order, a uid twice or nobody's uid:
 * -EPROTO from pool_user_quota_get and pool_stats_by_name alike, each
 * asked once.
 *
 * ListPools, answered in pages (LIST_NONE: LIST_POOLS names, LIST_PAGE a
 * page, each after ListPools.after): pool_list asks from the last name
 * until unlisted is 0 and gets every name once, in order.  A daemon from
 * before paging (LIST_OLD) sends them all at once, not in name order, and
 * is asked once.  Lies, each -EPROTO with nothing kept, no descriptor
 * left open, nothing leaked (the client exits through exit(3), so that
 * LeakSanitizer looks) and a bounded count of requests: a page that does
 * not advance (the first one again, whatever after says), one whose names
 * are not in order, more left out but no entry, and pages that go on
 * without end, each after the last, always one more left out.
 *
 * poolctl against a daemon older than what it asks: `poolctl wait`
 * against one from before waiting lookups (LIE_OLD_LOOKUP) says only
 * --timeout 0 works.  `poolctl create` and `set` say which of a limit and
 * a user quota the daemon is too old for (LIE_OLD_LOOKUP knows neither,
 * LIE_OLD_ALLOC limits only), or that it knows no uids' own user quotas,
 * and `poolctl users` that it cannot list who holds what per uid.
 * `poolctl names` asks a daemon from before paging by name (bit 12) the
 * one reply (NAMES_OLD answers it as such a daemon did: from the first
 * name, some left out): a reply that leaves names out is printed, said on
 * stderr, and exit 1.
 *
 * `poolctl status` against a daemon of DaemonStats from before its fields
 * 23 to 25 (STATUS_OLD), that could not read its resident memory either:
 * the four are "unknown" in the text, null in JSON, and have no kv line
 * or metric, where they once read 0.
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

#include "harness.h"
#include "liar_util.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

/*
 * The entries as a daemon tells them (UQUOTA_NONE), or a lie: with a
 * lie, pool_user_quota_get and pool_stats_by_name are -EPROTO, out[] and
 * the statistics as they were; the truth reads back as told.
 */
struct uquota_client {
	enum lie lie;
	const char *sock;
};

static int
client_uquota_replies(void *arg)
{
	const struct uquota_client *lc = arg;
	struct pool_user_quota out[POOL_USER_QUOTA_MAX + 1];
	struct pool_stats st;
	struct pool_conn *c;
	int i, want = lc->lie == UQUOTA_NONE ? UQUOTA_TOLD : -EPROTO;

	CHECK_RC(pool_connect(lc->sock, &c), 0, 160);
	memset(out, 0xa5, sizeof(out));
	CHECK_RC(pool_user_quota_get(c, FAKE_POOL, out,
				     POOL_USER_QUOTA_MAX + 1), want, 161);
	for (i = 0; want > 0 && i < UQUOTA_TOLD; i++) {
		CHECK(out[i].uid == uquota_told_uid[i], 162);
		CHECK(out[i].bytes == uquota_told_bytes[i], 163);
		CHECK(out[i].reserved == 0, 164);
	}
	if (want < 0)
		CHECK(out[0].uid == 0xa5a5a5a5u, 165);
	memset(&st, 0, sizeof(st));
	CHECK_RC(pool_stats_by_name(c, FAKE_POOL, &st),
		 want > 0 ? 0 : -EPROTO, 166);
	CHECK(st.user_quota_entries == (want > 0 ? UQUOTA_TOLD : 0), 167);
	pool_disconnect(c);
	return 0;
}

static void
uquota_replies_checked(void **state)
{
	static const enum lie lies[] = {
		UQUOTA_NONE, LIE_UQUOTA_33, LIE_UQUOTA_UNSORTED,
		LIE_UQUOTA_TWICE, LIE_UQUOTA_NOBODY, LIE_UQUOTA_COUNT_33,
		LIE_UQUOTA_COUNT_BELIED,
	};
	struct uquota_client lc;
	struct child_end rc, frc;
	struct fake f;
	char log[LOG_MAX];
	size_t i;
	pid_t pid;

	(void)state;
	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memset(&lc, 0, sizeof(lc));
		lc.lie = lies[i];
		fake_start(&f, lies[i]);
		lc.sock = f.sock;
		fflush(stdout);
		fflush(stderr);
		pid = harness_spawn(client_uquota_replies, &lc);
		assert_true(pid > 0);
		rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
		frc = fake_finish(&f, log, sizeof(log));
		expect_client_passed(rc, "the user quota entries' client",
				     log);
		expect_fake_passed(frc, "the user quota entries' client",
				   log);
		/* Asked once each: a lie is not asked again. */
		assert_int_equal(log_lines(log, "stats "), 2);
	}
}

/*
 * pool_list against the fake: the names it must get (NULL: -EPROTO, and
 * nothing kept), in that order.  Leaves by exit(3), not a return: the
 * child's _exit would spare a leak LeakSanitizer's look.
 */
struct list_client {
	const char *sock;
	const char *want;		/* the names, one letter after 'l' */
};

static int
client_list(void *arg)
{
	const struct list_client *a = arg;
	struct pool_stats *ps = (struct pool_stats *)&ps;
	struct pool_conn *c;
	size_t n = 99, i;
	int fds;

	CHECK_RC(pool_connect(a->sock, &c), 0, 130);
	fds = count_fds();
	if (!a->want) {
		CHECK_RC(pool_list(c, &ps, &n), -EPROTO, 131);
		CHECK(ps == NULL && n == 0, 132);
	} else {
		CHECK_RC(pool_list(c, &ps, &n), 0, 133);
		CHECK(n == strlen(a->want), 134);
		for (i = 0; i < n; i++)
			CHECK(ps[i].name[0] == 'l' &&
			      ps[i].name[1] == a->want[i] &&
			      ps[i].name[2] == '\0' &&
			      ps[i].max_size == FAKE_SIZE, 135);
		free(ps);
	}
	CHECK(count_fds() == fds, 136);
	pool_disconnect(c);
	exit(0);
}

/* client_list against a fake telling lie; the fake's log into log. */
static void
run_list_client(enum lie lie, const char *want, const char *what, char *log,
		size_t cap)
{
	struct list_client a;
	struct fake f;
	struct child_end rc, frc;
	pid_t pid;

	fake_start(&f, lie);
	a.sock = f.sock;
	a.want = want;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_list, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
}

struct list_case {
	enum lie lie;
	const char *want;		/* as list_client's */
	int asked;			/* ListPools requests it takes */
	const char *what;
	const char *saw;		/* in the fake's log, or NULL */
};

static void
list_pages_checked(void **state)
{
	static const struct list_case cases[] = {
		/* Each page from the last name of the one before. */
		{LIST_NONE, "0123456789", 4, "pages of 3 of 10 pools",
		 "\nlist after= paged=1\nlist after=l2 paged=1\n"
		 "list after=l5 paged=1\nlist after=l8 paged=1\n"},
		{LIST_OLD, "5183092746", 1,
		 "all at once, as made (no paging)", NULL},
		{LIE_LIST_STUCK, NULL, 2, "a page that does not advance",
		 NULL},
		{LIE_LIST_UNSORTED, NULL, 1, "a page out of order", NULL},
		{LIE_LIST_EMPTY_MORE, NULL, 1, "more left out, none listed",
		 NULL},
		{LIE_LIST_ENDLESS, NULL, 64, "pages without end", NULL},
	};
	char log[LOG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_list_client(cases[i].lie, cases[i].want, cases[i].what,
				log, sizeof(log));
		printf("liar: ListPools %-36s -> %s, %d requests\n",
		       cases[i].what, cases[i].want ? "listed" : "-EPROTO",
		       log_lines(log, "list "));
		if (log_lines(log, "list ") != cases[i].asked)
			fail_msg("%s: %d ListPools, not %d; the fake saw:\n%s",
				 cases[i].what, log_lines(log, "list "),
				 cases[i].asked, log);
		if (cases[i].saw && !strstr(log, cases[i].saw))
			fail_msg("%s: not asked from the last names; the fake "
				 "saw:\n%s", cases[i].what, log);
	}
}

/*
 * pool_blocks against a fake telling lie: the truthful one's 10 blocks in
 * pages of 4, each once; a lie -EPROTO with the cursor, array, count and
 * done as they were and no descriptor kept.  A daemon without features
 * bit 4 (LIE_NONE) is not asked: -EOPNOTSUPP.  Ends with exit(), not
 * _exit, so that LeakSanitizer looks for what a refused page left.
 */
struct blocks_client {
	const char *sock;
	enum lie lie;
};

static int
client_blocks(void *arg)
{
	const struct blocks_client *a = arg;
	struct pool_block_info *b = (struct pool_block_info *)&b;
	struct pool_conn *c;
	uint64_t from = a->lie == LIE_BLOCKS_BEHIND ? BLOCKS_STEP : 0;
	size_t n = 99, seen = 0;
	int done = 7, fds, pages = 0;

	CHECK_RC(pool_connect(a->sock, &c), 0, 140);
	fds = count_fds();
	if (a->lie == LIE_NONE) {
		CHECK_RC(pool_blocks(c, "p", 0, 0, &from, &b, &n, &done),
			 -EOPNOTSUPP, 141);
		CHECK(pool_last_message(-EOPNOTSUPP)[0] == '\0', 142);
	} else if (a->lie != BLOCKS_NONE) {
		CHECK_RC(pool_blocks(c, "p", 0, 0, &from, &b, &n, &done),
			 -EPROTO, 143);
	}
	if (a->lie != BLOCKS_NONE) {
		CHECK(b == (struct pool_block_info *)&b && n == 99 &&
		      done == 7, 144);
		CHECK(from == (a->lie == LIE_BLOCKS_BEHIND ? BLOCKS_STEP : 0),
		      145);
	}
	while (a->lie == BLOCKS_NONE && !(pages > 0 && done)) {
		CHECK_RC(pool_blocks(c, "p", 7, 0, &from, &b, &n, &done), 0,
			 146);
		CHECK(n <= BLOCKS_PAGE && pages++ < BLOCKS_TOTAL, 147);
		for (size_t i = 0; i < n; i++, seen++)
			CHECK(b[i].offset == seen * BLOCKS_STEP &&
			      b[i].nlisted == 1 &&
			      b[i].first_holders[0].pid == 4242, 148);
		free(b);
	}
	CHECK(a->lie != BLOCKS_NONE || seen == BLOCKS_TOTAL, 149);
	CHECK(count_fds() == fds, 150);
	pool_disconnect(c);
	exit(0);
}

static void
run_blocks_client(enum lie lie, const char *what, char *log, size_t cap)
{
	struct blocks_client a;
	struct child_end rc, frc;
	struct fake f;
	pid_t pid;

	fake_start(&f, lie);
	a.sock = f.sock;
	a.lie = lie;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_blocks, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
}

static void
blocks_pages_checked(void **state)
{
	static const struct {
		enum lie lie;
		int asked;		/* ListBlocks requests it takes */
		const char *what;
	} cases[] = {
		{LIE_NONE, 0, "a daemon without ListBlocks"},
		{BLOCKS_NONE, 3, "pages of 4 of 10 blocks"},
		{LIE_BLOCKS_STUCK, 1, "an empty page that does not move on"},
		{LIE_BLOCKS_DOWN, 1, "offsets going down"},
		{LIE_BLOCKS_129, 1, "129 blocks in a page"},
		{LIE_BLOCKS_BEHIND, 1, "a block below the page's from"},
		{LIE_BLOCKS_NEXT_BACK, 1, "a next not past the last block"},
		{LIE_BLOCKS_5_HOLDERS, 1, "5 first holders"},
		{LIE_BLOCKS_HOLDERS_OVER, 1, "more holders listed than held"},
	};
	char log[LOG_MAX], unknown[32];
	size_t i;

	(void)state;
	snprintf(unknown, sizeof(unknown), "\nrequest %d\n",
		 (int)POOLMGR__REQUEST__BODY_LIST_BLOCKS);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_blocks_client(cases[i].lie, cases[i].what, log,
				  sizeof(log));
		printf("liar: ListBlocks %-38s -> %s, %d requests\n",
		       cases[i].what, cases[i].lie == BLOCKS_NONE ? "listed" :
		       cases[i].lie == LIE_NONE ? "-EOPNOTSUPP" : "-EPROTO",
		       log_lines(log, "blocks "));
		if (log_lines(log, "blocks ") != cases[i].asked ||
		    strstr(log, unknown))
			fail_msg("%s: %d ListBlocks, not %d; the fake saw:\n%s",
				 cases[i].what, log_lines(log, "blocks "),
				 cases[i].asked, log);
	}
	/* Each page from the last one's next, with the filter asked. */
	run_blocks_client(BLOCKS_NONE, "pages", log, sizeof(log));
	if (!strstr(log, "\nblocks from=0 pid=7 handle=0\n"
			 "blocks from=16384 pid=7 handle=0\n"
			 "blocks from=32768 pid=7 handle=0\n"))
		fail_msg("pages not asked from the last next; the fake "
			 "saw:\n%s", log);
}

/* poolctl blocks against a daemon from before ListBlocks. */
static void
poolctl_blocks_old_daemon(void **state)
{
	struct daemon_proc dp;
	char out[1024], err[1024], log[LOG_MAX];
	struct fake f;
	int rc;

	(void)state;
	fake_start(&f, LIE_NONE);
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
	rc = harness_poolctl(&dp, NULL, out, sizeof(out), err, sizeof(err),
			     "--socket %s blocks " FAKE_POOL, f.sock);
	unlink(strcat(dp.dir, "/poolctl.err"));
	expect_fake_passed(fake_finish(&f, log, sizeof(log)),
			   "poolctl blocks against an old daemon", log);
	if (rc != 1 || out[0] != '\0' ||
	    !strstr(err, "poolctl: blocks " FAKE_POOL ": this poolmgrd "
			 "cannot list blocks"))
		fail_msg("poolctl blocks against an old daemon: exit %d, "
			 "\"%s\"; the fake saw:\n%s", rc, err, log);
	assert_int_equal(log_lines(log, "request "), 0);
}

/* poolctl status in each format against a daemon that sends neither. */
static void
poolctl_status_old_daemon_run(const char *format, char *out, size_t len)
{
	struct daemon_proc dp;
	char err[1024], log[LOG_MAX];
	struct fake f;
	int rc;

	fake_start(&f, STATUS_OLD);
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
	rc = harness_poolctl(&dp, NULL, out, len, err, sizeof(err),
			     "--socket %s status -n %s", f.sock, format);
	unlink(strcat(dp.dir, "/poolctl.err"));
	expect_fake_passed(fake_finish(&f, log, sizeof(log)),
			   "poolctl status against an old daemon", log);
	if (rc != 0 || log_lines(log, "daemon stats") != 1)
		fail_msg("poolctl status %s against an old daemon: exit %d, "
			 "\"%s\"; the fake saw:\n%s", format, rc, err, log);
}

/*
 * poolctl status against a daemon from before admin_connections,
 * max_connections_per_uid and kept_connections, that could not read its
 * resident memory either: each is "unknown" in the text, null in JSON
 * and left out of kv and Prometheus, not a 0 that reads as a setting (no
 * place reserved for the admins), as none kept, or as a daemon of no
 * memory.  What it did send is there.
 */
static void
poolctl_status_old_daemon(void **state)
{
	char out[8192];

	(void)state;
	poolctl_status_old_daemon_run("", out, sizeof(out));
	if (!strstr(out, "\n  reserved for admins  unknown\n") ||
	    !strstr(out, "\n  max per uid          unknown\n") ||
	    !strstr(out, "\n  kept for unread fds  unknown\n") ||
	    !strstr(out, "\n  resident memory      unknown\n") ||
	    !strstr(out, "\n  max connections      1024\n") ||
	    !strstr(out, "\n  requests answered    7\n"))
		fail_msg("poolctl status against an old daemon:\n%s", out);
	poolctl_status_old_daemon_run("--json", out, sizeof(out));
	if (!strstr(out, "\"admin_connections\": null") ||
	    !strstr(out, "\"max_connections_per_uid\": null") ||
	    !strstr(out, "\"kept_connections\": null") ||
	    !strstr(out, "\"rss_bytes\": null") ||
	    !strstr(out, "\"max_connections\": 1024"))
		fail_msg("poolctl status --json against an old daemon:\n%s",
			 out);
	poolctl_status_old_daemon_run("--format kv", out, sizeof(out));
	if (strstr(out, "admin_connections") ||
	    strstr(out, "max_connections_per_uid") || strstr(out, "rss_") ||
	    strstr(out, "kept_connections") ||
	    !strstr(out, "\nmax_connections 1024\n"))
		fail_msg("poolctl status --kv against an old daemon:\n%s",
			 out);
	poolctl_status_old_daemon_run("--format prometheus", out, sizeof(out));
	if (strstr(out, "poolmgr_daemon_admin_connections") ||
	    strstr(out, "poolmgr_daemon_max_connections_per_uid") ||
	    strstr(out, "poolmgr_daemon_resident_memory_bytes") ||
	    strstr(out, "poolmgr_daemon_kept_connections") ||
	    !strstr(out, "\npoolmgr_daemon_max_connections 1024\n"))
		fail_msg("poolctl status --prometheus against an old "
			 "daemon:\n%s", out);
}

/* poolctl wait against a daemon from before waiting lookups. */
static void
poolctl_wait_old_daemon(void **state)
{
	struct daemon_proc dp;
	char out[1024], err[1024], log[LOG_MAX];
	struct fake f;
	int rc;

	(void)state;
	fake_start(&f, LIE_OLD_LOOKUP);
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
	rc = harness_poolctl(&dp, NULL, out, sizeof(out), err, sizeof(err),
			     "--socket %s wait " FAKE_POOL " frame --timeout 5",
			     f.sock);
	unlink(strcat(dp.dir, "/poolctl.err"));
	expect_fake_passed(fake_finish(&f, log, sizeof(log)),
			   "poolctl wait against an old daemon", log);
	if (rc != 1 || !strstr(err, "poolctl: wait " FAKE_POOL ": poolmgrd "
			       "is older than lookups that wait: only "
			       "--timeout 0 works"))
		fail_msg("poolctl wait against an old daemon: exit %d, "
			 "\"%s\"; the fake saw:\n%s", rc, err, log);
	assert_null(strstr(log, "lookup "));
}

/*
 * poolctl names against a daemon from before paging by name: no page is
 * asked for, one ListNames is sent, without an after.  A prefix whose
 * names fit the one reply lists them all, exit 0, nothing on stderr.
 * A reply that leaves names out prints those listed, as a table or a
 * JSON array, says on stderr how many of how many, and exits 1: a script
 * that took the output for every name (to unpublish each, or to look
 * for one) would go on wrong, and a warning alone it does not read.
 */
static void
poolctl_names_old_daemon(void **state)
{
	static const char cut[] =
		"poolctl: names " FAKE_POOL ": 3 of 5 names listed: poolmgrd "
		"is older than paging by name, and one reply holds at most "
		"1000, fewer with long names (a longer prefix lists the "
		"rest)\n";
	static const struct {
		const char *args, *prefix;
		int rc;
		const char *listed, *unlisted, *words;
	} cases[] = {
		{"names " FAKE_POOL " a/", "a/", 0, "a/1", "b/0", ""},
		{"names " FAKE_POOL, "", 1, "b/0", "b/1", cut},
		{"--json names " FAKE_POOL, "", 1, "\"b/0\"", "\"b/1\"", cut},
	};
	struct daemon_proc dp;
	char out[4096], err[1024], log[LOG_MAX], asked[64];
	struct fake f;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&f, NAMES_OLD);
		memset(&dp, 0, sizeof(dp));
		snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
		rc = harness_poolctl(&dp, NULL, out, sizeof(out), err,
				     sizeof(err), "--socket %s -n %s", f.sock,
				     cases[i].args);
		unlink(strcat(dp.dir, "/poolctl.err"));
		expect_fake_passed(fake_finish(&f, log, sizeof(log)),
				   cases[i].args, log);
		printf("liar: poolctl %s against a daemon from before paging "
		       "by name: exit %d, stderr \"%s\"\n", cases[i].args, rc,
		       err);
		if (rc != cases[i].rc || !strstr(out, "a/0") ||
		    !strstr(out, cases[i].listed) ||
		    strstr(out, cases[i].unlisted) ||
		    strcmp(err, cases[i].words) != 0)
			fail_msg("poolctl %s against an old daemon: exit %d, "
				 "stdout:\n%s\nstderr \"%s\"; the fake saw:\n%s",
				 cases[i].args, rc, out, err, log);
		snprintf(asked, sizeof(asked), "names pool=" FAKE_POOL
			 " prefix=%s after=0\n", cases[i].prefix);
		if (log_lines(log, "names ") != 1 || !strstr(log, asked))
			fail_msg("poolctl %s: not one ListNames without an "
				 "after; the fake saw:\n%s", cases[i].args, log);
		assert_int_equal(log_lines(log, "request "), 0);
	}
}

/*
 * poolctl create and set against daemons from before user quotas (and
 * limits), or uids' own user quotas: exit 1, nothing sent, the words
 * naming what the daemon lacks.
 */
static void
poolctl_user_quota_old_daemon(void **state)
{
	static const struct {
		enum lie lie;
		const char *args, *words;
	} cases[] = {
		{LIE_OLD_ALLOC, "set " FAKE_POOL " --user-quota 1M",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for a user quota\n"},
		{LIE_OLD_ALLOC, "create uq --size 1M --user-quota 1M",
		 "poolctl: cannot create pool uq: not supported: the daemon "
		 "is too old for a user quota\n"},
		{LIE_OLD_LOOKUP, "set " FAKE_POOL " --limit 1M --user-quota 1M",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for a limit or a user quota\n"},
		/* uids' own user quotas: the newest, named alone. */
		{LIE_NONE, "set " FAKE_POOL " --user-quota root=1M",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for per-user quotas (--user-quota "
		 "USER=SIZE)\n"},
		{LIE_NONE, "set " FAKE_POOL " --limit 1M --user-quota 0=default",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for per-user quotas (--user-quota "
		 "USER=SIZE)\n"},
		{LIE_OLD_ALLOC, "create uq --size 1M --user-quota 1M "
		 "--user-quota 0=2M",
		 "poolctl: cannot create pool uq: not supported: the daemon "
		 "is too old for per-user quotas (--user-quota USER=SIZE)\n"},
		/* Its pools listed, the first asked: nothing sent. */
		{LIE_OLD_ALLOC, "users",
		 "poolctl: users l0: this poolmgrd has no user quotas, and "
		 "cannot list who holds what per uid\n"},
	};
	struct daemon_proc dp;
	char out[1024], err[1024], log[LOG_MAX];
	struct fake f;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&f, cases[i].lie);
		memset(&dp, 0, sizeof(dp));
		snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
		rc = harness_poolctl(&dp, NULL, out, sizeof(out), err,
				     sizeof(err), "--socket %s %s", f.sock,
				     cases[i].args);
		unlink(strcat(dp.dir, "/poolctl.err"));
		expect_fake_passed(fake_finish(&f, log, sizeof(log)),
				   cases[i].args, log);
		if (rc != 1 || out[0] != '\0' ||
		    strcmp(err, cases[i].words) != 0)
			fail_msg("poolctl %s against an old daemon: exit %d, "
				 "\"%s\"; the fake saw:\n%s", cases[i].args, rc,
				 err, log);
		assert_int_equal(log_lines(log, "request "), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uquota_replies_checked),
		cmocka_unit_test(poolctl_wait_old_daemon),
		cmocka_unit_test(list_pages_checked),
		cmocka_unit_test(blocks_pages_checked),
		cmocka_unit_test(poolctl_blocks_old_daemon),
		cmocka_unit_test(poolctl_status_old_daemon),
		cmocka_unit_test(poolctl_user_quota_old_daemon),
		cmocka_unit_test(poolctl_names_old_daemon),
	};

	/* SIGPIPE keeps its default: a client that got one would show it. */
	return cmocka_run_group_tests_name("a lying daemon's listings",
					   tests, NULL, NULL);
}
