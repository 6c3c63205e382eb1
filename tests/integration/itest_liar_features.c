/*
 * itest_liar_features.c - a lying daemon cannot crash or hang a client:
 * the library asks a daemon only what its features say it knows, and a
 * wait ends as it must, whatever the daemon answers.  The fake daemon is
 * liar_daemon.h's, the code the clients share liar_util.h's.  (What
 * poolctl says of such a daemon: itest_liar_lists.)
 *
 * The fake's HelloReply announces waiting lookups (features bit 0), and
 * it answers a Lookup that waits with -ETIMEDOUT, as if the wait had run
 * out: at once, which for a wait without end (-1) is a lie, -EPROTO, not
 * a loop asking again.  Or (LIE_LOOKUP_EINTR) it answers -EINTR at once,
 * again and again for LOOKUP_EINTR_MS, as no daemon restarting in place
 * would: the library must ask again after a pause, not spin, and still
 * end a finite wait at its time.  Or (RESTART_THEN_*) it holds a waiting
 * Lookup or Alloc past its deadline and answers -EINTR, as a daemon that
 * restarts in place then does, and answers the next one -EDQUOT, in the
 * words of the quota per connection, -ETIMEDOUT, in those of a wait that
 * ran out, or with a block: the library asks once more, not a part and
 * waiting the least (a wait of 0 would be the plain request, a lookup of
 * any generation), and that answer is the wait's: -EDQUOT or -ETIMEDOUT
 * in the daemon's words, made to say the whole wait, or the block.  One
 * held half its wait only is asked again for the time left, and the
 * -EDQUOT that ends it says the whole wait too.  Or it is a daemon from
 * before them (LIE_OLD_LOOKUP): no feature
 * bits, and every Lookup answered at once, wait_ms or not.  A lookup
 * that would wait is then -EOPNOTSUPP and never sent; one that would not
 * is the plain lookup it always was.  Likewise for allocations that wait
 * (bit 5): the fake answers an Alloc with wait_ms -ETIMEDOUT at once,
 * which for a wait without end is -EPROTO, asked once; a daemon without
 * the bit (LIE_OLD_ALLOC) is never asked to wait (-EOPNOTSUPP, nothing
 * sent), and timeout 0 is a plain Alloc.
 * A fake without bit 6: an allocation made persistent as it is made is
 * -EOPNOTSUPP, never sent, with or without a wait; none says bit 7, so a
 * free of a persistent block by its age is -EOPNOTSUPP, never sent.  Two
 * announce it, as older binaries a restart in place put under a
 * connection: one ignores Alloc.persist (LIE_PERSIST_IGNORED: the library
 * persists the block and drops its reference), one honours it without
 * saying so (LIE_PERSIST_UNSAID: the library's Free must not end the
 * block).
 * A retaining Lookup answered with retained_now (bit 13) by a fake that
 * says the bit (TOOK_SAID) has pool_lookup_wait_took say 1; by one that
 * does not (LIE_TOOK_WITHOUT_BIT), as no daemon without it would, 0: a
 * caller freeing on its word could drop a hold it had before.
 * A batch of such blocks (bit 10) likewise: a fake without the bit is
 * never sent one (-EOPNOTSUPP), and one that says it but ignores
 * AllocBatch.persist (LIE_BATCH_PERSIST_IGNORED) has the library persist
 * each block and drop its references, or, a Persist refused, give every
 * block back, those persisted by a second Free.
 * The fake announces pools' limits too (bit 1), and the daemon from before them
 * does not: a create or a set with a limit is then -EOPNOTSUPP and never
 * sent (the daemon would make or leave the pool without one), one
 * without a limit is sent as ever.  A user quota likewise (bit 8): the
 * fake from before allocations that wait (LIE_OLD_ALLOC) knows limits but
 * not user quotas, and is sent a limit but no user quota.
 * uids' own user quotas likewise (bit 11), which only the fakes of
 * UQUOTA_NONE and its lies say: to the others, pool_user_quota_get,
 * pool_user_quota_modify, pool_create_user_quotas and
 * pool_set_user_quotas with entries are -EOPNOTSUPP, unsent (a create
 * or a set without entries is sent).
 * Names in pages likewise (bit 12), which no fake says: pool_names_after
 * is -EOPNOTSUPP, unsent, with an after or without, while pool_names is
 * sent.
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

/* The waits the RESTART_THEN_* fakes hold past their deadline. */
#define RESTART_WAIT_MS		100

/*
 * A daemon from before waiting lookups: a lookup that would wait is
 * -EOPNOTSUPP, however long or with whatever flags, and a timeout of 0 is
 * the plain lookup.  (The parent checks that only that one was sent.)
 */
static int
client_old_lookup(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;
	uint64_t gen = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 90);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, 200, 0, &off, NULL, &gen),
		 -EOPNOTSUPP, 92);
	CHECK_RC(pool_lookup_wait(p, "frame", 3, -1, POOL_LOOKUP_RETAIN, &off,
				  NULL, &gen), -EOPNOTSUPP, 93);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "waits") != NULL, 94);
	/* Bad arguments are still told apart from the daemon's age. */
	CHECK_RC(pool_lookup_wait(p, "", 0, 200, 0, &off, NULL, &gen),
		 -EINVAL, 95);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, 0, 0, &off, NULL, &gen),
		 -ENOENT, 96);
	CHECK_RC(pool_lookup(p, "frame", &off, NULL), -ENOENT, 97);
	fake_pool_close(c, p);
	return 0;
}

/* A daemon that announces waiting lookups is asked to wait. */
static int
client_new_lookup(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 100);
	CHECK_RC(pool_lookup_wait(p, "frame", 2, 200, 0, &off, NULL, NULL),
		 -ETIMEDOUT, 102);
	fake_pool_close(c, p);
	return 0;
}

static void
lookup_wait_needs_the_feature(void **state)
{
	char log[LOG_MAX];
	const char *l;
	int lookups = 0;

	(void)state;
	run_lookup_client(LIE_OLD_LOOKUP, client_old_lookup, log,
			  sizeof(log));
	for (l = log; (l = strstr(l, "\nlookup ")); l++)
		lookups++;
	printf("liar: a daemon without waiting lookups: -EOPNOTSUPP, "
	       "%d lookups sent\n", lookups);
	/* pool_lookup_wait with timeout 0, and pool_lookup: no waits. */
	assert_int_equal(lookups, 2);
	assert_non_null(strstr(log, "lookup frame wait_ms=0 after=0 "
			       "retain=0\n"));
	assert_null(strstr(log, "retain=1"));

	run_lookup_client(LIE_NONE, client_new_lookup, log, sizeof(log));
	l = strstr(log, "lookup frame wait_ms=");
	assert_non_null(l);
	/* What was left of the 200 ms when the request went. */
	assert_true(atoi(l + strlen("lookup frame wait_ms=")) > 0);
	assert_true(atoi(l + strlen("lookup frame wait_ms=")) <= 200);
	assert_non_null(strstr(log, " after=2 retain=0\n"));
	printf("liar: a daemon with waiting lookups was asked to wait\n");
}

/*
 * A daemon without features bit 5 is not asked to wait for room: a wait
 * would be an Alloc it answers -ENOMEM at once, as if no room had come.
 */
static int
client_old_alloc(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 120);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, 200, &off), -EOPNOTSUPP, 122);
	CHECK(off == POOL_OFF_NONE, 123);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_ZERO, -1, &off),
		 -EOPNOTSUPP, 124);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "an allocation that waits")
	      != NULL, 125);
	/* Bad arguments are still told apart from the daemon's age. */
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0x8, 200, &off), -EINVAL, 126);
	/*
	 * Nor can it make a block persistent as it allocates (bit 6): its
	 * block would be the handle's, gone when the program exits.
	 */
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off),
		 -EOPNOTSUPP, 129);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 200, &off),
		 -EOPNOTSUPP, 130);
	CHECK(off == POOL_OFF_NONE, 131);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "blocks persistent from "
		     "their allocation (alone or in a batch)") != NULL, 132);
	/* Timeout 0 does not wait: the plain Alloc it always was. */
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, 0, &off), 0, 127);
	CHECK(off < FAKE_SIZE, 128);
	/* Nor end a persistent block by its age (bit 7): nothing sent. */
	CHECK_RC(pool_free_persisted(p, off, 1000), -EOPNOTSUPP, 133);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "a free of persistent "
		     "blocks by age") != NULL, 134);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that said bit 6 at Hello but ignores Alloc.persist (a restart
 * in place onto an older binary): the reply says nothing of persisted, so
 * the library persists the block and drops its reference itself, and the
 * caller gets what it asked for.  Its Persist refused, the block goes
 * back and the refusal is the answer.
 */
static int
client_persist_ignored(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 140);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off), 0,
		 142);
	CHECK(off < FAKE_SIZE, 143);
	CHECK_RC(pool_alloc_wait(p, PERSIST_REFUSED_SIZE, 0,
				 POOL_ALLOC_PERSIST, 0, &off), -EDQUOT, 144);
	CHECK(off == POOL_OFF_NONE, 145);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that said bit 6 and made the block persistent, but from before
 * AllocReply.persisted: the library's own Persist and Free must not end
 * the block its handle never held.
 */
static int
client_persist_unsaid(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 150);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off), 0,
		 152);
	CHECK(off < FAKE_SIZE, 153);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that says bit 6 but not bit 10 is never sent a batch of
 * persistent blocks: its blocks would be the handle's, gone when the
 * program exits.  Bad flags are still told apart from its age.
 */
static int
client_batch_persist_old(void *arg)
{
	size_t sizes[2] = {64, 64};
	pool_off_t offs[2] = {1, 1};
	struct pool_conn *c;
	struct pool *p;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 160);
	CHECK_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST, offs),
		 -EOPNOTSUPP, 162);
	CHECK(offs[0] == 1 && offs[1] == 1, 163);
	CHECK_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_ZERO, offs),
		 -EINVAL, 164);
	CHECK_RC(pool_alloc_batch_flags(p, 2, sizes, 0, offs), 0, 165);
	CHECK(offs[0] < FAKE_SIZE && offs[1] < FAKE_SIZE, 166);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that said bit 10 at Hello but ignores AllocBatch.persist: the
 * reply says nothing of persisted, so the library persists each block
 * and drops its references itself.  A Persist refused, every block goes
 * back (a second Free for those persisted) and the refusal is the answer.
 */
static int
client_batch_persist_ignored(void *arg)
{
	size_t sizes[3] = {64, 64, 64};
	size_t refused[3] = {64, PERSIST_REFUSED_SIZE, 64};
	pool_off_t offs[3];
	struct pool_conn *c;
	struct pool *p;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 170);
	CHECK_RC(pool_alloc_batch_flags(p, 3, sizes, POOL_ALLOC_PERSIST, offs),
		 0, 172);
	CHECK(offs[2] < FAKE_SIZE, 173);
	CHECK_RC(pool_alloc_batch_flags(p, 3, refused, POOL_ALLOC_PERSIST,
					offs), -EDQUOT, 174);
	fake_pool_close(c, p);
	return 0;
}

static void
batch_persist_needs_the_feature(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(LIE_PERSIST_IGNORED, client_batch_persist_old, log,
			  sizeof(log));
	printf("liar: a daemon without persistent batches: -EOPNOTSUPP, %d "
	       "batches sent, %d of them persistent\n",
	       log_lines(log, "alloc_batch "),
	       log_lines(log, "alloc_batch_persist"));
	assert_int_equal(log_lines(log, "alloc_batch "), 1);
	assert_int_equal(log_lines(log, "alloc_batch_persist"), 0);

	run_lookup_client(LIE_BATCH_PERSIST_IGNORED,
			  client_batch_persist_ignored, log, sizeof(log));
	printf("liar: a daemon that ignores AllocBatch.persist: %d persistent "
	       "batches, %d persists and %d frees sent by the library\n",
	       log_lines(log, "alloc_batch_persist"),
	       log_lines(log, "persist "), log_lines(log, "free "));
	assert_int_equal(log_lines(log, "alloc_batch_persist"), 2);
	/* 3 persisted; then the first, and the second refused. */
	assert_int_equal(log_lines(log, "persist "), 5);
	/* 3 handles' references; then 3 of them and the one persisted. */
	assert_int_equal(log_lines(log, "free "), 7);
}

/*
 * A wait for room without end answered -ETIMEDOUT at once is a lie:
 * -EPROTO, not a loop asking again.  A finite wait ends -ETIMEDOUT.
 */
static int
client_alloc_wait_forever_timed_out(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 130);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, -1, &off), -EPROTO, 132);
	CHECK(off == POOL_OFF_NONE, 133);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, 100, &off), -ETIMEDOUT, 134);
	CHECK(off == POOL_OFF_NONE, 135);
	fake_pool_close(c, p);
	return 0;
}

static void
alloc_wait_needs_the_feature(void **state)
{
	char log[LOG_MAX];
	const char *l;

	(void)state;
	run_lookup_client(LIE_OLD_ALLOC, client_old_alloc, log, sizeof(log));
	printf("liar: a daemon without waiting allocations: -EOPNOTSUPP, "
	       "%d allocations sent, %d of them waiting\n",
	       log_lines(log, "alloc "), log_lines(log, "alloc_wait "));
	assert_int_equal(log_lines(log, "alloc "), 1);
	assert_int_equal(log_lines(log, "alloc_wait "), 0);
	assert_int_equal(log_lines(log, "request "), 0);	/* unknown ones */

	run_lookup_client(LIE_PERSIST_IGNORED, client_persist_ignored, log,
			  sizeof(log));
	printf("liar: a daemon that ignores Alloc.persist: %d persistent "
	       "allocations, %d persists and %d frees sent by the library\n",
	       log_lines(log, "alloc_persist"), log_lines(log, "persist "),
	       log_lines(log, "free "));
	assert_int_equal(log_lines(log, "alloc_persist"), 2);
	assert_int_equal(log_lines(log, "persist "), 2);
	assert_int_equal(log_lines(log, "free "), 2);

	run_lookup_client(LIE_PERSIST_UNSAID, client_persist_unsaid, log,
			  sizeof(log));
	printf("liar: a daemon that made the block persistent, unsaid: %d "
	       "persists, %d retains, %d frees, %d of them ending it\n",
	       log_lines(log, "persist "), log_lines(log, "retain "),
	       log_lines(log, "free "), log_lines(log, "free_ends"));
	assert_int_equal(log_lines(log, "free_ends"), 0);
	assert_int_equal(log_lines(log, "free "), 1);

	run_lookup_client(LIE_NONE, client_alloc_wait_forever_timed_out, log,
			  sizeof(log));
	printf("liar: a wait for room without end answered -ETIMEDOUT at "
	       "once: -EPROTO, %d waiting allocations sent\n",
	       log_lines(log, "alloc_wait "));
	assert_int_equal(log_lines(log, "alloc_wait "), 2);
	l = strstr(log, "\nalloc_wait ");
	assert_non_null(l);
	/* The part of a wait without end: all the wire's 32 bits hold. */
	assert_true(strtoul(l + strlen("\nalloc_wait "), NULL, 10) ==
		    UINT32_MAX);
	l = strstr(l + 1, "\nalloc_wait ");
	assert_non_null(l);
	assert_true(strtoul(l + strlen("\nalloc_wait "), NULL, 10) <= 100);
}

/*
 * A daemon without features bit 3 is not asked for its statistics: it
 * would refuse the request as unknown, which must not look like a
 * refusal of it.  The connection goes on serving.
 */
static int
client_daemon_stats(void *arg)
{
	const char *sock = arg;
	struct pool_daemon_stats ds;
	struct pool_conn *c;
	struct pool *p;

	memset(&ds, 0xa5, sizeof(ds));
	CHECK_RC(pool_connect(sock, &c), 0, 110);
	CHECK_RC(pool_daemon_stats(c, &ds), -EOPNOTSUPP, 111);
	CHECK(ds.pid == 0 && ds.requests_total == 0 && ds.server[0] == '\0',
	      112);
	CHECK(pool_last_message(-EOPNOTSUPP)[0] == '\0', 113);
	CHECK_RC(pool_daemon_stats(c, NULL), -EINVAL, 114);
	CHECK_RC(pool_daemon_stats(NULL, &ds), -EINVAL, 115);
	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 116);
	fake_pool_close(c, p);
	return 0;
}

static void
daemon_stats_needs_the_feature(void **state)
{
	char log[LOG_MAX], unknown[32];

	(void)state;
	run_lookup_client(LIE_NONE, client_daemon_stats, log, sizeof(log));
	snprintf(unknown, sizeof(unknown), "\nrequest %d\n",
		 (int)POOLMGR__REQUEST__BODY_DAEMON_STATS);
	printf("liar: a daemon without DaemonStats: -EOPNOTSUPP, %s sent\n",
	       strstr(log, unknown) ? "a request" : "none");
	assert_null(strstr(log, unknown));
	assert_int_equal(log_lines(log, "request "), 0);
	assert_non_null(strstr(log, "open " FAKE_POOL " "));
}

/*
 * A wait without end answered -ETIMEDOUT at once: the daemon cannot have
 * waited the 49 days asked, so the answer is a lie (-EPROTO), not a cue
 * to ask again, and again.  The connection goes on: a finite wait is
 * answered as ever.  (The parent counts the lookups sent.)
 */
static int
client_wait_forever_timed_out(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 115);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, -1, 0, &off, NULL, NULL),
		 -EPROTO, 117);
	CHECK(off == POOL_OFF_NONE, 118);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, 100, 0, &off, NULL, NULL),
		 -ETIMEDOUT, 119);
	fake_pool_close(c, p);
	return 0;
}

static void
lookup_wait_forever_timed_out_is_a_lie(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(LIE_NONE, client_wait_forever_timed_out, log,
			  sizeof(log));
	printf("liar: a wait without end answered -ETIMEDOUT at once: "
	       "-EPROTO, %d lookups sent\n", log_lines(log, "lookup "));
	assert_int_equal(log_lines(log, "lookup "), 2);
}

/*
 * Waits answered -EINTR at once for LOOKUP_EINTR_MS: a finite one a fifth
 * as long still ends at its time (-ETIMEDOUT), then one without end is
 * answered once the fake stops interrupting.  (The parent counts the
 * interruptions: a client that asks again at once asks thousands of
 * times.)
 */
static int
client_wait_interrupted(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;
	uint64_t start, gen = 0;
	size_t us = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 85);
	start = harness_now_ms();
	CHECK_RC(pool_lookup_wait(p, "frame", 0, LOOKUP_EINTR_MS / 5, 0, &off,
				  NULL, NULL), -ETIMEDOUT, 87);
	CHECK(harness_now_ms() - start >= LOOKUP_EINTR_MS / 5, 88);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, -1, 0, &off, &us, &gen), 0,
		 89);
	CHECK(off < FAKE_SIZE && us == 64 && gen == 1, 98);
	fake_pool_close(c, p);
	return 0;
}

/* Fewer than this many -EINTRs in LOOKUP_EINTR_MS: asked after pauses. */
#define LOOKUP_EINTR_MAX	100

static void
lookup_wait_interrupted_backs_off(void **state)
{
	char log[LOG_MAX];
	const char *l;
	int n;

	(void)state;
	run_lookup_client(LIE_LOOKUP_EINTR, client_wait_interrupted, log,
			  sizeof(log));
	l = strstr(log, "lookup interrupted ");
	assert_non_null(l);
	n = atoi(l + strlen("lookup interrupted "));
	printf("liar: waits answered -EINTR at once for %d ms: asked %d "
	       "times, then answered\n", LOOKUP_EINTR_MS, n);
	assert_in_range(n, 2, LOOKUP_EINTR_MAX - 1);
}

/*
 * A wait whose deadline passes while the daemon restarts in place (the
 * fake holds it, then says -EINTR): the library asks once more, and its
 * answer is the wait's.  The -EDQUOT of the quota per connection that held
 * an allocation back to its end, in the daemon's words, which say the
 * whole wait; one that found no room, or no newer generation, -ETIMEDOUT
 * likewise; one that found them, the block, the caller's.  (The parent
 * checks what was asked.)
 */
static int
client_restart_then_edquot(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;
	char want[256];

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 180);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, RESTART_WAIT_MS, &off), -EDQUOT,
		 182);
	CHECK(off == POOL_OFF_NONE, 183);
	snprintf(want, sizeof(want), "allocating 64 bytes would pass pool %s's "
		 "quota of 4.0 KiB per connection (its blocks and its uid's "
		 "persistent and named ones count), still after %d ms",
		 FAKE_POOL, RESTART_WAIT_MS);
	CHECK(strcmp(pool_last_message(-EDQUOT), want) == 0, 184);
	fake_pool_close(c, p);
	return 0;
}

static int
client_restart_then_timedout(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;
	char want[128];

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 185);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, RESTART_WAIT_MS, &off),
		 -ETIMEDOUT, 187);
	CHECK(off == POOL_OFF_NONE, 188);
	snprintf(want, sizeof(want), "no room came for 64 bytes in pool %s "
		 "in %d ms", FAKE_POOL, RESTART_WAIT_MS);
	CHECK(strcmp(pool_last_message(-ETIMEDOUT), want) == 0, 189);
	off = POOL_OFF_NONE;
	CHECK_RC(pool_lookup_wait(p, "frame", 3, RESTART_WAIT_MS, 0, &off,
				  NULL, NULL), -ETIMEDOUT, 190);
	snprintf(want, sizeof(want), "no generation of 'frame' above 3 came "
		 "in pool %s in %d ms", FAKE_POOL, RESTART_WAIT_MS);
	CHECK(strcmp(pool_last_message(-ETIMEDOUT), want) == 0, 191);
	fake_pool_close(c, p);
	return 0;
}

static int
client_restart_then_block(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE, named = POOL_OFF_NONE;
	uint64_t gen = 0;
	size_t us = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 192);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, RESTART_WAIT_MS, &off), 0, 194);
	CHECK(off < FAKE_SIZE, 195);
	CHECK_RC(pool_usable_size(p, off, &us), 0, 196);
	CHECK(us >= 64, 197);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, RESTART_WAIT_MS, 0, &named,
				  NULL, &gen), 0, 198);
	CHECK(named < FAKE_SIZE && named != off && gen == 1, 199);
	CHECK_RC(pool_free(p, off), 0, 200);
	fake_pool_close(c, p);
	return 0;
}

/*
 * Run client against the fake of lie, its log into log: waits requests
 * held, each asked again as the last try of its wait, a wait of 1 ms
 * that is not a part.
 */
static void
restart_then(enum lie lie, int (*client)(void *), int waits,
	     const char *what, char *log, size_t cap)
{
	run_lookup_client(lie, client, log, cap);
	printf("liar: a wait outlived by a restart in place, then %s: %d "
	       "held, %d asked again as a wait's last try\n", what,
	       log_lines(log, "held "),
	       log_lines(log, "asked again wait_ms=1 part=0\n"));
	assert_int_equal(log_lines(log, "held "), waits);
	assert_int_equal(log_lines(log, "asked again "), waits);
	assert_int_equal(log_lines(log, "asked again wait_ms=1 part=0\n"),
			 waits);
}

static void
wait_outlived_by_a_restart_asks_once_more(void **state)
{
	char log[LOG_MAX];

	(void)state;
	restart_then(RESTART_THEN_EDQUOT, client_restart_then_edquot, 1,
		     "-EDQUOT", log, sizeof(log));
	restart_then(RESTART_THEN_TIMEDOUT, client_restart_then_timedout, 2,
		     "-ETIMEDOUT", log, sizeof(log));
	/* The lookup asked again still wants a newer generation. */
	assert_non_null(strstr(log, "\nlookup frame wait_ms=1 after=3 "));
	restart_then(RESTART_THEN_BLOCK, client_restart_then_block, 2,
		     "a block", log, sizeof(log));
}

/*
 * A restart in place half way through a wait that the quota per connection
 * then holds back to its end: the library asks the new image for the time
 * left, which answers -EDQUOT "still after" that time; the words say the
 * whole wait, as those of -ETIMEDOUT do.
 */
static void
wait_interrupted_ends_in_the_quota_words(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(RESTART_EARLY_THEN_EDQUOT, client_restart_then_edquot,
			  log, sizeof(log));
	printf("liar: a wait interrupted half way, then -EDQUOT: %d held, %d "
	       "asked again\n", log_lines(log, "held "),
	       log_lines(log, "asked again "));
	assert_int_equal(log_lines(log, "held "), 1);
	assert_int_equal(log_lines(log, "asked again "), 1);
}

/*
 * Creates and sets, with and without a limit: -EOPNOTSUPP either way (the
 * fake knows neither request), but from the library, unsent, for a limit
 * to a daemon without them.  (The parent counts what was sent.)
 */
static int
client_limit(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_set_opts s = {.which = POOL_SET_LIMIT, .limit = 1 << 16};
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 110);
	CHECK_RC(pool_create_set(c, "lim", &o, &s), -EOPNOTSUPP, 111);
	CHECK_RC(pool_set(c, "lim", &s), -EOPNOTSUPP, 112);
	/* A limit of 0 is no limit: sent to either. */
	s.limit = 0;
	CHECK_RC(pool_create_set(c, "nolim", &o, &s), -EOPNOTSUPP, 113);
	CHECK_RC(pool_create(c, "plain", &o), -EOPNOTSUPP, 114);
	pool_disconnect(c);
	return 0;
}

static void
limit_needs_the_feature(void **state)
{
	char log[LOG_MAX], create[32], set[32];

	(void)state;
	snprintf(create, sizeof(create), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_CREATE);
	snprintf(set, sizeof(set), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_SET);
	run_lookup_client(LIE_OLD_LOOKUP, client_limit, log, sizeof(log));
	printf("liar: a daemon without limits: %d creates and %d sets sent\n",
	       log_lines(log, create), log_lines(log, set));
	assert_int_equal(log_lines(log, create), 2);
	assert_int_equal(log_lines(log, set), 0);
	run_lookup_client(LIE_NONE, client_limit, log, sizeof(log));
	assert_int_equal(log_lines(log, create), 3);
	assert_int_equal(log_lines(log, set), 1);
}

/*
 * Creates and sets with a user quota, as client_limit's with a limit: to
 * a daemon without user quotas, -EOPNOTSUPP from the library, unsent,
 * while a limit beside none is sent.  (The parent counts what was sent.)
 */
static int
client_user_quota(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = 1 << 16};
	struct pool_user *u = NULL;
	size_t n = 1, total = 1;
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 140);
	CHECK_RC(pool_create_set(c, "uq", &o, &s), -EOPNOTSUPP, 141);
	CHECK_RC(pool_set(c, "uq", &s), -EOPNOTSUPP, 142);
	s.which |= POOL_SET_LIMIT;
	s.limit = 1 << 16;
	CHECK_RC(pool_set(c, "uq", &s), -EOPNOTSUPP, 143);
	/* A user quota of 0 is none: a create may say it to either. */
	s.which = POOL_SET_USER_QUOTA;
	s.user_quota = 0;
	CHECK_RC(pool_create_set(c, "nouq", &o, &s), -EOPNOTSUPP, 144);
	s.which = POOL_SET_LIMIT;
	CHECK_RC(pool_set(c, "lim", &s), -EOPNOTSUPP, 145);
	/* Who holds what per uid comes with user quotas. */
	CHECK_RC(pool_users(c, "uq", &u, &n, &total), -EOPNOTSUPP, 146);
	CHECK(u == NULL && n == 0 && total == 0, 147);
	pool_disconnect(c);
	return 0;
}

static void
user_quota_needs_the_feature(void **state)
{
	char log[LOG_MAX], create[32], set[32], users[32];

	(void)state;
	snprintf(create, sizeof(create), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_CREATE);
	snprintf(set, sizeof(set), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_SET);
	snprintf(users, sizeof(users), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_USERS);
	run_lookup_client(LIE_OLD_ALLOC, client_user_quota, log, sizeof(log));
	printf("liar: a daemon without user quotas: %d creates, %d sets and "
	       "%d user listings sent\n", log_lines(log, create),
	       log_lines(log, set), log_lines(log, users));
	assert_int_equal(log_lines(log, create), 1);
	assert_int_equal(log_lines(log, set), 1);
	assert_int_equal(log_lines(log, users), 0);
	run_lookup_client(LIE_NONE, client_user_quota, log, sizeof(log));
	assert_int_equal(log_lines(log, create), 2);
	assert_int_equal(log_lines(log, set), 3);
	assert_int_equal(log_lines(log, users), 1);
}

/*
 * uids' own user quotas to a daemon without them (bit 11): reading,
 * changing, a create and a set with entries are -EOPNOTSUPP from the
 * library, unsent, while a create or a set without entries is sent;
 * a bad argument is still -EINVAL first.  (The parent counts what was
 * sent.)
 */
static int
client_old_user_quotas(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_user_quota e[1] = {{.uid = 1000, .bytes = 1 << 20}};
	struct pool_set_opts so = {.which = POOL_SET_MODE, .mode = 0600};
	uint32_t rm[1] = {1001};
	struct pool_user_quota out[4];
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 150);
	CHECK_RC(pool_user_quota_get(c, FAKE_POOL, out, 4), -EOPNOTSUPP,
		 151);
	CHECK_RC(pool_user_quota_modify(c, FAKE_POOL, e, 1, NULL, 0),
		 -EOPNOTSUPP, 152);
	CHECK_RC(pool_user_quota_modify(c, FAKE_POOL, NULL, 0, rm, 1),
		 -EOPNOTSUPP, 153);
	CHECK_RC(pool_create_user_quotas(c, "uq", &o, NULL, e, 1),
		 -EOPNOTSUPP, 154);
	CHECK(strcmp(pool_last_message(-EOPNOTSUPP), "") == 0, 155);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "uids' own user quotas") !=
	      NULL, 159);
	CHECK_RC(pool_set_user_quotas(c, FAKE_POOL, &so, e, 1, NULL, 0),
		 -EOPNOTSUPP, 170);
	CHECK_RC(pool_set_user_quotas(c, FAKE_POOL, &so, NULL, 0, rm, 1),
		 -EOPNOTSUPP, 171);
	/* No entries: the set the daemon always knew (it refuses). */
	CHECK_RC(pool_set_user_quotas(c, FAKE_POOL, &so, NULL, 0, NULL, 0),
		 -EOPNOTSUPP, 172);
	e[0].uid = UINT32_MAX;
	CHECK_RC(pool_user_quota_modify(c, FAKE_POOL, e, 1, NULL, 0),
		 -EINVAL, 156);
	CHECK_RC(pool_create_user_quotas(c, "uq", &o, NULL, e, 1), -EINVAL,
		 157);
	/* No entries: the create the daemon always knew (it refuses). */
	CHECK_RC(pool_create_user_quotas(c, "uq", &o, NULL, NULL, 0),
		 -EOPNOTSUPP, 158);
	pool_disconnect(c);
	return 0;
}

static void
user_quotas_need_the_feature(void **state)
{
	char log[LOG_MAX], create[32], set[32];

	(void)state;
	snprintf(create, sizeof(create), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_CREATE);
	snprintf(set, sizeof(set), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_SET);
	run_lookup_client(LIE_NONE, client_old_user_quotas, log, sizeof(log));
	printf("liar: a daemon without uids' own user quotas: %d creates, "
	       "%d sets and %d stats sent\n", log_lines(log, create),
	       log_lines(log, set), log_lines(log, "stats "));
	assert_int_equal(log_lines(log, create), 1);
	assert_int_equal(log_lines(log, set), 1);
	assert_int_equal(log_lines(log, "stats "), 0);
	assert_int_equal(log_lines(log, "request "), 2);
}

/*
 * Names in pages to a daemon without them (bit 12): pool_names_after is
 * -EOPNOTSUPP from the library, unsent, from the first page on, while
 * pool_names is sent (the fake knows no ListNames: -EOPNOTSUPP in its
 * words); a bad argument is still -EINVAL, an after too long
 * -ENAMETOOLONG, first.  (The parent counts what was sent.)
 */
static int
client_old_names(void *arg)
{
	char too_long[POOL_BLOCK_NAME_MAX + 2];
	struct pool_named *pn = NULL;
	struct pool_conn *c;
	size_t n = 1, total = 1;

	memset(too_long, 'z', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	CHECK_RC(pool_connect(arg, &c), 0, 180);
	CHECK_RC(pool_names_after(c, FAKE_POOL, NULL, NULL, &pn, &n, &total),
		 -EOPNOTSUPP, 181);
	CHECK(pn == NULL && n == 0 && total == 0, 182);
	CHECK(strcmp(pool_last_message(-EOPNOTSUPP), "") == 0, 183);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "names listed in pages") !=
	      NULL, 188);
	CHECK_RC(pool_names_after(c, FAKE_POOL, "cam/", "cam/left", &pn, &n,
				  &total), -EOPNOTSUPP, 184);
	CHECK_RC(pool_names_after(c, FAKE_POOL, NULL, too_long, &pn, &n,
				  &total), -ENAMETOOLONG, 185);
	CHECK_RC(pool_names_after(c, FAKE_POOL, NULL, NULL, NULL, &n,
				  &total), -EINVAL, 186);
	CHECK_RC(pool_names(c, FAKE_POOL, NULL, &pn, &n, &total),
		 -EOPNOTSUPP, 187);
	pool_disconnect(c);
	return 0;
}

static void
names_after_needs_the_feature(void **state)
{
	char log[LOG_MAX], names[32];

	(void)state;
	snprintf(names, sizeof(names), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_NAMES);
	run_lookup_client(LIE_NONE, client_old_names, log, sizeof(log));
	printf("liar: a daemon without names in pages: %d listings sent\n",
	       log_lines(log, names));
	/* pool_names alone. */
	assert_int_equal(log_lines(log, names), 1);
	assert_int_equal(log_lines(log, "request "), 1);
}

/*
 * A retaining lookup of the fake's (at sock), not waiting and waiting:
 * its block, and *took want (1 only from the fake that says bit 13).
 * Without the flag nothing is retained: 0 either way.
 */
static int
lookups_took(const char *sock, int want)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint64_t gen;
	int took, i;

	CHECK_FAKE_POOL_OPEN(sock, &c, &p, 210);
	for (i = 0; i < 2; i++) {
		off = POOL_OFF_NONE;
		gen = 0;
		took = -1;
		CHECK_RC(pool_lookup_wait_took(p, "frame", 0, i ? 200 : 0,
					       POOL_LOOKUP_RETAIN, &off, NULL,
					       &gen, &took), 0, 212);
		CHECK(off < FAKE_SIZE && gen == 1, 213);
		CHECK(took == want, 214);
	}
	took = -1;
	CHECK_RC(pool_lookup_wait_took(p, "frame", 0, 0, 0, &off, NULL, NULL,
				       &took), -ENOENT, 215);
	CHECK(took == -1, 216);
	fake_pool_close(c, p);
	return 0;
}

/* Against TOOK_SAID: took 1. */
static int
client_took_said(void *arg)
{
	return lookups_took(arg, 1);
}

/* Against LIE_TOOK_WITHOUT_BIT: not believed, took 0. */
static int
client_took_unsaid(void *arg)
{
	return lookups_took(arg, 0);
}

static void
took_needs_the_feature(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(TOOK_SAID, client_took_said, log, sizeof(log));
	assert_int_equal(log_lines(log, "lookup frame wait_ms=0 after=0 "
				   "retain=1"), 1);
	printf("liar: a daemon with bit 13 said its lookups took the "
	       "reference\n");
	run_lookup_client(LIE_TOOK_WITHOUT_BIT, client_took_unsaid, log,
			  sizeof(log));
	assert_int_equal(log_lines(log, "lookup frame wait_ms=0 after=0 "
				   "retain=1"), 1);
	printf("liar: a daemon without bit 13 that said so was not "
	       "believed\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookup_wait_needs_the_feature),
		cmocka_unit_test(daemon_stats_needs_the_feature),
		cmocka_unit_test(lookup_wait_forever_timed_out_is_a_lie),
		cmocka_unit_test(lookup_wait_interrupted_backs_off),
		cmocka_unit_test(wait_outlived_by_a_restart_asks_once_more),
		cmocka_unit_test(wait_interrupted_ends_in_the_quota_words),
		cmocka_unit_test(alloc_wait_needs_the_feature),
		cmocka_unit_test(batch_persist_needs_the_feature),
		cmocka_unit_test(limit_needs_the_feature),
		cmocka_unit_test(user_quota_needs_the_feature),
		cmocka_unit_test(user_quotas_need_the_feature),
		cmocka_unit_test(names_after_needs_the_feature),
		cmocka_unit_test(took_needs_the_feature),
	};

	/* SIGPIPE keeps its default: a client that got one would show it. */
	return cmocka_run_group_tests_name("a daemon older than a request",
					   tests, NULL, NULL);
}
