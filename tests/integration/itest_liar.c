/*
 * itest_liar.c - a lying daemon cannot crash or hang a client: the lies
 * told to opens, allocations, batches, refills and usable sizes, and to
 * the conversation itself; share maps missing or frozen; the cache's
 * budget following the bounds batch replies carry; the connection
 * refused under two threads' calls.  The fake daemon is liar_daemon.h's, which
 * says how it lies and how the clients report; the code the three
 * programs' clients share is liar_util.h's.  (Daemons older than a
 * request, and waits: itest_liar_features; listings, statistics and
 * poolctl: itest_liar_lists.)
 *
 * The fake tells one lie, to the first request of one kind.  Each line
 * below is one lie and what libpoolclient must make of it:
 *
 *   OpenPool  the memfd is not sealed, or lacks F_SEAL_GROW or
 *             F_SEAL_SHRINK; it is smaller or larger than max_size; no fd
 *             comes with the reply; the fd is O_RDONLY for a read-write
 *             open; the fd is a pipe, not a memfd; the handle is 0; the
 *             reply says read-only for a read-write open; the granularity
 *             is 0 or 24, or the page size 0 (the client cache divides by
 *             them: a granularity of 0 once killed the client with
 *             SIGFPE when a share map came too): -EPROTO, no
 *             descriptor kept, the handle given back (ClosePool), and the
 *             next, truthful open works.
 *   Alloc     the offset is at or past the end of the pool, the block runs
 *             past the end, usable_size is smaller than asked or so large
 *             that offset + usable_size wraps, the offset is misaligned
 *             for pool_alloc_aligned (4096) or is not at the start of a
 *             granule (FAKE_G), the reply has no body or the
 *             wrong one, its error is outside -4095..-1 (-4096, INT32_MIN,
 *             5): -EPROTO, *out stays POOL_OFF_NONE, and the next truthful
 *             Alloc on the same connection works.
 *   AllocBatch fewer blocks than asked, one outside the pool, one not
 *             at the start of a granule, one block twice, two blocks that
 *             overlap, or a usable size that runs into the next block:
 *             -EPROTO, out[] as it was, and the next batch works.
 *   refill    the same batch lies told to a caching handle's refill (the
 *             fake sends a share map in use): the refill is refused, the
 *             block asked for comes alone (an Alloc), and no two blocks
 *             the program holds share a byte.
 *   UsableSize the answer is about another offset: -EPROTO, then the
 *             truthful answer.
 *   hang-up   the daemon answers an Open and closes the connection: the
 *             next calls are -ECONNRESET, with no SIGPIPE (the clients do
 *             not ignore it), and the mapping stays readable.
 *   any       a reply with an id nobody asked for, one with id 0 (a
 *             refusal of the connection) but no error, or bytes that do
 *             not decode (the first and last with a stray descriptor
 *             attached): -EPROTO for the call that waited, the connection
 *             is broken and every later call is -ECONNRESET (conn.c), the
 *             descriptors are closed, and closing and disconnecting
 *             return.
 *
 * The client asks for a share map with every read-write open; the fake
 * sends none, and the handle must still work, only without a cache: its
 * frees all reach the daemon and pool_set_cache is -EOPNOTSUPP.  Or the
 * fake sends a map frozen by a restart in place ("replaced") and, asked
 * for the new one, refuses as a daemon that knows no ShareMap does, sends
 * one not sealed, or one frozen in turn: the handle asks once, keeps a
 * frozen map (its allocations and frees all reach the daemon, one by one:
 * no refill to be given straight back) and no descriptor.
 *
 * A pool opened under a limit (with a share map in use, so a cache) whose
 * limit is then removed: a daemon that says its batch replies carry the
 * pool's limit and quota (bit 2) and sends them makes the cache's budget
 * follow, from 1/16 of the limit to 1/16 of the size; one without the
 * bit, whose replies read limit 0, and one with the bit whose replies
 * lack the fields, leave the budget the open gave.
 *
 * The fake refuses the whole connection (an id-0 reply, -EUSERS and words
 * with an escape byte in them, then it closes) while two threads of one
 * client have an Alloc each in flight: once it has read both, or before
 * it reads either, so that a send fails.  Each call is -EUSERS with the
 * words, the escape byte shown as '?', in its own thread's
 * pool_last_message (a call begun once the other thread had found the
 * connection refused may be -ECONNRESET instead, without words); every
 * later call is -ECONNRESET, without them.  And once more, a hundred
 * times over, with one thread's Alloc the one refused while three others
 * keep asking (UsableSize): whichever thread reads the refusal, and
 * whichever send the close makes fail, the refused Alloc is -EUSERS.
 *
 * And the harness's own words: a check numbered above 127 is told from a
 * signal, and a hang from both.
 */

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include "liar_util.h"
#include "poolclient.h"

/* What the client does to meet the lie. */
enum call {
	CALL_OPEN,		/* pool_open: -EPROTO, then works */
	CALL_ALLOC,		/* pool_alloc: -EPROTO, then works */
	CALL_ALIGNED,		/* pool_alloc_aligned 4096: the same */
	CALL_BATCH,		/* pool_alloc_batch: the same */
	CALL_USABLE,		/* pool_usable_size: the same */
	CALL_REFILL,		/* pool_alloc through a cache: works */
	CALL_BREAKS,		/* pool_alloc: -EPROTO, then -ECONNRESET */
	CALL_GONE,		/* the daemon hung up: -ECONNRESET */
};

struct lie_case {
	enum lie lie;
	enum call call;
	const char *what;
};

static const struct lie_case open_lies[] = {
	{LIE_OPEN_UNSEALED, CALL_OPEN, "an Open memfd without seals"},
	{LIE_OPEN_NO_GROW_SEAL, CALL_OPEN, "an Open memfd without F_SEAL_GROW"},
	{LIE_OPEN_NO_SHRINK_SEAL, CALL_OPEN,
	 "an Open memfd without F_SEAL_SHRINK"},
	{LIE_OPEN_SMALLER, CALL_OPEN, "an Open memfd smaller than max_size"},
	{LIE_OPEN_LARGER, CALL_OPEN, "an Open memfd larger than max_size"},
	{LIE_OPEN_NO_FD, CALL_OPEN, "an Open reply without an fd"},
	{LIE_OPEN_RDONLY_FD, CALL_OPEN,
	 "an O_RDONLY fd for a read-write Open"},
	{LIE_OPEN_PIPE_FD, CALL_OPEN, "an Open reply carrying a pipe"},
	{LIE_OPEN_HANDLE_0, CALL_OPEN, "an Open reply with handle 0"},
	{LIE_OPEN_SAYS_READ_ONLY, CALL_OPEN,
	 "an Open reply saying read-only to a read-write open"},
	{LIE_OPEN_GRANULARITY_0, CALL_OPEN, "an Open reply with granularity 0"},
	{LIE_OPEN_GRANULARITY_24, CALL_OPEN,
	 "an Open reply with granularity 24 (not a power of two)"},
	{LIE_OPEN_PAGE_0, CALL_OPEN, "an Open reply with page size 0"},
};

static const struct lie_case alloc_lies[] = {
	{LIE_ALLOC_AT_END, CALL_ALLOC, "an Alloc offset at the pool's end"},
	{LIE_ALLOC_RUNS_PAST_END, CALL_ALLOC,
	 "an Alloc block running past the end"},
	{LIE_ALLOC_SMALLER, CALL_ALLOC,
	 "an Alloc usable_size smaller than asked"},
	{LIE_ALLOC_WRAPS, CALL_ALLOC,
	 "an Alloc offset + usable_size that wraps"},
	{LIE_ALLOC_MISALIGNED, CALL_ALIGNED,
	 "a misaligned offset for pool_alloc_aligned(4096)"},
	{LIE_ALLOC_OFF_GRANULE, CALL_ALLOC,
	 "an Alloc offset inside a granule"},
	{LIE_ALLOC_NO_BODY, CALL_ALLOC, "an Alloc reply without a body"},
	{LIE_ALLOC_WRONG_BODY, CALL_ALLOC,
	 "an Alloc reply with a Stats body"},
	{LIE_BATCH_SHORT, CALL_BATCH,
	 "an AllocBatch reply with fewer blocks than asked"},
	{LIE_BATCH_OUTSIDE, CALL_BATCH,
	 "an AllocBatch reply with a block outside the pool"},
	{LIE_BATCH_OFF_GRANULE, CALL_BATCH,
	 "an AllocBatch reply with a block inside a granule"},
	{LIE_BATCH_DUPLICATE, CALL_BATCH,
	 "an AllocBatch reply with one block twice"},
	{LIE_BATCH_OVERLAP, CALL_BATCH,
	 "an AllocBatch reply with two blocks that overlap"},
	{LIE_BATCH_USABLE_OVERLAP, CALL_BATCH,
	 "an AllocBatch usable size running into the next block"},
	{LIE_REFILL_DUPLICATE, CALL_REFILL,
	 "a refill with one block twice"},
	{LIE_REFILL_OVERLAP, CALL_REFILL,
	 "a refill with two blocks that overlap"},
	{LIE_USABLE_OTHER_OFFSET, CALL_USABLE,
	 "a UsableSize reply about another offset"},
};

static const struct lie_case conversation_lies[] = {
	{LIE_ALLOC_ERROR_4096, CALL_ALLOC, "error -4096"},
	{LIE_ALLOC_ERROR_INT_MIN, CALL_ALLOC, "error INT32_MIN"},
	{LIE_ALLOC_ERROR_POSITIVE, CALL_ALLOC, "error 5"},
	{LIE_UNKNOWN_ID, CALL_BREAKS, "a reply with an unknown id"},
	{LIE_ID_ZERO, CALL_BREAKS, "a reply with id 0 and no error"},
	{LIE_UNDECODABLE, CALL_BREAKS, "a reply that does not decode"},
	{LIE_HANG_UP, CALL_GONE, "a daemon that hangs up"},
};

/* ---- the clients (run in child processes) ------------------------------- */

struct client_arg {
	const char *sock;
	const struct lie_case *lc;
};

/* The handle works: a block to write and read, freed again. */
static int
use_handle(struct pool *p)
{
	pool_off_t off = POOL_OFF_NONE;
	uint8_t *b;
	int i;

	CHECK_RC(pool_alloc(p, 256, &off), 0, 20);
	CHECK(off < FAKE_SIZE && off % FAKE_G == 0, 21);
	CHECK((b = pool_ptr(p, off)) != NULL, 22);
	memset(b, 0x5a, 256);
	for (i = 0; i < 256; i++)
		CHECK(b[i] == 0x5a, 23);
	CHECK_RC(pool_free(p, off), 0, 24);
	return 0;
}

static int
client_open_lie(struct pool_conn *c)
{
	struct pool *p = (struct pool *)&p;	/* not NULL: must be reset */
	int fds = count_fds(), rc;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), -EPROTO, 30);
	CHECK(p == NULL, 31);
	CHECK(count_fds() == fds, 32);
	/* The connection is fine; the next, truthful, open works. */
	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 33);
	CHECK(pool_size(p) == FAKE_SIZE, 34);
	if ((rc = use_handle(p)))
		return rc;
	pool_close(p);
	return 0;
}

static int
client_block_lie(struct pool_conn *c, enum call call)
{
	size_t sizes[4] = {100, 200, 300, 400}, us = 0;
	pool_off_t off = 1, offs[4] = {1, 1, 1, 1}, good;
	struct pool *p;
	int i, rc;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 40);
	/* The first Alloc is the lie's, when it is an Alloc's. */
	switch (call) {
	case CALL_ALLOC:
		CHECK_RC(pool_alloc(p, 100, &off), -EPROTO, 42);
		CHECK(off == POOL_OFF_NONE, 43);
		break;
	case CALL_ALIGNED:
		CHECK_RC(pool_alloc_aligned(p, 100, 4096, &off), -EPROTO, 44);
		CHECK(off == POOL_OFF_NONE, 45);
		CHECK_RC(pool_alloc_aligned(p, 100, 4096, &off), 0, 46);
		CHECK(off % 4096 == 0, 47);
		break;
	case CALL_BATCH:
		CHECK_RC(pool_alloc_batch(p, 4, sizes, offs), -EPROTO, 48);
		/* Refused: the caller's array is as it was. */
		for (i = 0; i < 4; i++)
			CHECK(offs[i] == 1, 56);
		CHECK_RC(pool_alloc_batch(p, 4, sizes, offs), 0, 49);
		for (i = 0; i < 4; i++)
			CHECK(offs[i] < FAKE_SIZE, 50);
		break;
	case CALL_USABLE:
		CHECK_RC(pool_alloc(p, 64, &good), 0, 41);
		CHECK_RC(pool_usable_size(p, good, &us), -EPROTO, 51);
		CHECK_RC(pool_usable_size(p, good, &us), 0, 52);
		CHECK(us == 64, 53);
		break;
	default:
		return 54;
	}
	/* Same connection, same handle: the next requests are answered. */
	if (call != CALL_USABLE)
		CHECK_RC(pool_alloc(p, 64, &good), 0, 41);
	if ((rc = use_handle(p)))
		return rc;
	CHECK_RC(pool_free(p, good), 0, 55);
	pool_close(p);
	return 0;
}

#define REFILL_BLOCKS	16

/*
 * A caching handle takes REFILL_BLOCKS blocks of 64 bytes, the first
 * refill's a lie: every block it gets is its own, byte for byte.
 */
static int
client_refill_lie(struct pool_conn *c)
{
	pool_off_t offs[REFILL_BLOCKS];
	struct pool *p;
	uint8_t *b;
	int i, j;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 103);
	CHECK_RC(pool_set_cache(p, 1 << 20), 0, 104);	/* whatever the env */
	for (i = 0; i < REFILL_BLOCKS; i++) {
		CHECK_RC(pool_alloc(p, 64, &offs[i]), 0, 105);
		CHECK((b = pool_ptr(p, offs[i])) != NULL, 106);
		memset(b, i, 64);
	}
	for (i = 0; i < REFILL_BLOCKS; i++)
		for (j = 0; j < i; j++)
			CHECK(offs[i] >= offs[j] + 64 ||
			      offs[j] >= offs[i] + 64, 107);
	for (i = 0; i < REFILL_BLOCKS; i++) {
		b = pool_ptr(p, offs[i]);
		for (j = 0; j < 64; j++)
			CHECK(b[j] == i, 108);
	}
	for (i = 0; i < REFILL_BLOCKS; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 109);
	pool_close(p);
	return 0;
}

static int
client_broken_by_lie(struct pool_conn *c)
{
	struct pool_stats st;
	pool_off_t off = 1;
	struct pool *p;
	int fds;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 60);
	fds = count_fds();
	CHECK_RC(pool_alloc(p, 100, &off), -EPROTO, 61);
	CHECK(off == POOL_OFF_NONE, 62);
	/* The descriptor that came with the lie was closed. */
	CHECK(count_fds() == fds, 63);
	/* Nobody can tell whose reply is next: the connection is done. */
	CHECK_RC(pool_alloc(p, 100, &off), -ECONNRESET, 64);
	CHECK_RC(pool_stats(p, &st), -ECONNRESET, 65);
	CHECK_RC(pool_free(p, 0), -ECONNRESET, 66);
	pool_close(p);
	return 0;
}

static int
client_daemon_gone(struct pool_conn *c)
{
	struct pool_stats st;
	pool_off_t off = 1;
	struct pool *p;

	/* The Open was answered before the daemon went. */
	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 80);
	harness_sleep_ms(50);	/* its close has arrived */
	/* A send to a closed socket: no SIGPIPE (not ignored here). */
	CHECK_RC(pool_alloc(p, 100, &off), -ECONNRESET, 81);
	CHECK(off == POOL_OFF_NONE, 82);
	CHECK_RC(pool_stats(p, &st), -ECONNRESET, 83);
	/* The mapping stays readable. */
	CHECK(((volatile uint8_t *)pool_ptr(p, 0))[FAKE_SIZE - 1] == 0, 84);
	pool_close(p);
	return 0;
}

static int
client_main(void *arg)
{
	const struct client_arg *a = arg;
	struct pool_conn *c;
	int rc;

	CHECK_RC(pool_connect(a->sock, &c), 0, 10);
	switch (a->lc->call) {
	case CALL_OPEN:
		rc = client_open_lie(c);
		break;
	case CALL_BREAKS:
		rc = client_broken_by_lie(c);
		break;
	case CALL_GONE:
		rc = client_daemon_gone(c);
		break;
	case CALL_REFILL:
		rc = client_refill_lie(c);
		break;
	default:
		rc = client_block_lie(c, a->lc->call);
		break;
	}
	pool_disconnect(c);
	return rc;
}

/* ---- the tests ---------------------------------------------------------- */

/*
 * Tell one lie to a client: it must neither crash nor hang, and it must
 * pass its checks.  The fake's log goes to log.
 */
static void
run_lie(const struct lie_case *lc, char *log, size_t cap)
{
	struct client_arg a;
	struct child_end rc, frc;
	struct fake f;
	pid_t pid;

	fake_start(&f, lc->lie);
	a.sock = f.sock;
	a.lc = lc;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_main, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, lc->what, log);
	expect_fake_passed(frc, lc->what, log);
	printf("liar: %-52s -> %s, client fine\n", lc->what,
	       lc->call == CALL_GONE ? "-ECONNRESET" :
	       lc->call == CALL_REFILL ? "refused, the block asked alone" :
	       lc->call == CALL_BREAKS ? "-EPROTO, then -ECONNRESET" :
	       "-EPROTO");
}

static void
run_lies(const struct lie_case *cases, size_t n)
{
	char log[LOG_MAX], close_line[32];
	size_t i;

	for (i = 0; i < n; i++) {
		run_lie(&cases[i], log, sizeof(log));
		/* The connection ended with the client's hang-up. */
		if (cases[i].call != CALL_GONE && !strstr(log, "eof\n"))
			fail_msg("%s: the fake saw no hang-up:\n%s",
				 cases[i].what, log);
		/* A refused refill: the block asked for came alone. */
		if (cases[i].call == CALL_REFILL &&
		    (!strstr(log, "\nalloc_batch ") ||
		     !strstr(log, "\nalloc 64 align 0\n")))
			fail_msg("%s: no refill, or no Alloc after it; the "
				 "fake saw:\n%s", cases[i].what, log);
		if (cases[i].call != CALL_OPEN ||
		    cases[i].lie == LIE_OPEN_HANDLE_0)
			continue;
		/* A handle it was given with a bad Open was given back. */
		snprintf(close_line, sizeof(close_line), "close %u\n",
			 (unsigned)FAKE_HANDLE);
		if (!strstr(log, close_line))
			fail_msg("%s: the handle of the refused open was not "
				 "closed; the fake saw:\n%s", cases[i].what,
				 log);
	}
}

static void
open_reply_lies_are_refused(void **state)
{
	(void)state;
	run_lies(open_lies, sizeof(open_lies) / sizeof(open_lies[0]));
}

static void
block_reply_lies_are_refused(void **state)
{
	(void)state;
	run_lies(alloc_lies, sizeof(alloc_lies) / sizeof(alloc_lies[0]));
}

static void
conversation_lies_are_refused(void **state)
{
	(void)state;
	run_lies(conversation_lies,
		 sizeof(conversation_lies) / sizeof(conversation_lies[0]));
}

/* The truthful fake, which sends no share map. */
static int
client_without_share_map(void *arg)
{
	struct pool_conn *c;
	struct pool *p, *ro;
	pool_off_t offs[8];
	int i, rc;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 70);
	/* No share map, no cache: a budget cannot be set... */
	CHECK_RC(pool_set_cache(p, 1 << 20), -EOPNOTSUPP, 72);
	CHECK_RC(pool_set_cache(p, 0), 0, 73);
	CHECK_RC(pool_flush(p), 0, 74);
	/* ...and every free reaches the daemon (the fake counts them). */
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_alloc(p, 48, &offs[i]), 0, 75);
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 76);
	if ((rc = use_handle(p)))
		return rc;
	/* A read-only open gets its O_RDONLY descriptor and works. */
	CHECK_RC(pool_open_readonly(c, FAKE_POOL, &ro), 0, 77);
	CHECK(pool_size(ro) == FAKE_SIZE, 78);
	CHECK(pool_ptr(ro, 0) != NULL, 79);
	pool_close(ro);
	fake_pool_close(c, p);
	return 0;
}

static void
fake_without_share_map_works(void **state)
{
	char log[LOG_MAX];
	const char *l;
	struct child_end rc, frc;
	struct fake f;
	int frees = 0;
	pid_t pid;

	(void)state;
	fake_start(&f, LIE_NONE);
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_without_share_map, f.sock);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, sizeof(log));
	expect_client_passed(rc, "a fake without share map", log);
	expect_fake_passed(frc, "a fake without share map", log);
	/* Read-write opens ask for the share map, read-only ones do not. */
	assert_non_null(strstr(log, "open " FAKE_POOL " rw share_map=1\n"));
	assert_non_null(strstr(log, "open " FAKE_POOL " ro share_map=0\n"));
	for (l = log; (l = strstr(l, "\nfree ")); l++)
		frees++;
	/* 8 blocks and use_handle's one: none kept in a cache. */
	assert_int_equal(frees, 9);
	assert_non_null(strstr(log, "close 7\n"));
	assert_non_null(strstr(log, "close 8\n"));
	printf("liar: no share map: the handle works without a cache, "
	       "%d frees reached the daemon\n", frees);
}

/*
 * A handle whose share map a restart in place froze, from a daemon that
 * gives it no new one: it asks once, keeps the frozen map (every free to
 * the daemon) and no descriptor, and works on.
 */
static int
client_frozen_map(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[8];
	int i, fds, rc;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 80);
	fds = count_fds();
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_alloc(p, 48, &offs[i]), 0, 82);
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 83);
	if ((rc = use_handle(p)))
		return rc;
	CHECK(count_fds() == fds, 84);
	fake_pool_close(c, p);
	return 0;
}

static void
frozen_map_not_renewed(enum lie lie, const char *what)
{
	char log[LOG_MAX];
	const char *l;
	struct child_end rc, frc;
	struct fake f;
	int frees = 0, asked = 0;
	pid_t pid;

	fake_start(&f, lie);
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_frozen_map, f.sock);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, sizeof(log));
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
	for (l = log; (l = strstr(l, "\nfree ")); l++)
		frees++;
	for (l = log; (l = strstr(l, "\nshare_map ")); l++)
		asked++;
	printf("liar: %s: %d ShareMap asked, %d frees reached the daemon\n",
	       what, asked, frees);
	assert_int_equal(asked, 1);
	/* 8 blocks and use_handle's one: the map says every one shared. */
	assert_int_equal(frees, 9);
	/* Nor is a refill asked for, to be given straight back. */
	assert_null(strstr(log, "alloc_batch"));
	assert_null(strstr(log, "free_batch"));
}

static void
frozen_map_old_daemon(void **state)
{
	(void)state;
	frozen_map_not_renewed(LIE_MAP_OLD_DAEMON, "a daemon without "
			       "ShareMap");
}

static void
frozen_map_unsealed_renewal(void **state)
{
	(void)state;
	frozen_map_not_renewed(LIE_MAP_UNSEALED, "an unsealed new map");
}

static void
frozen_map_renewed_frozen(void **state)
{
	(void)state;
	frozen_map_not_renewed(LIE_MAP_FROZEN_AGAIN, "a new map frozen "
			       "already");
}

#define BOUNDS_BLOCKS	100
#define BOUNDS_BLOCK	1024

/*
 * A handle of the pool opened under FAKE_LIMIT takes BOUNDS_BLOCKS blocks
 * of 1 KiB, one refill each, and frees them all: its cache keeps what its
 * budget holds, the rest reach the fake.  (The parent counts them.)
 */
static int
client_bounds(void *arg)
{
	static pool_off_t offs[BOUNDS_BLOCKS];
	struct pool_conn *c;
	struct pool *p;
	int i;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 120);
	CHECK_RC(pool_set_cache(p, 4 << 20), 0, 122);	/* whatever the env */
	for (i = 0; i < BOUNDS_BLOCKS; i++)
		CHECK_RC(pool_alloc(p, BOUNDS_BLOCK, &offs[i]), 0, 123);
	for (i = 0; i < BOUNDS_BLOCKS; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 124);
	fake_pool_close(c, p);
	return 0;
}

/* Blocks the fake saw freed: in batches, and one by one. */
static int
freed_blocks(const char *log)
{
	const char *l;
	int n = 0;

	for (l = log; (l = strstr(l, "\nfree_batch ")); l++)
		n += atoi(l + strlen("\nfree_batch "));
	return n + log_lines(log, "free ");
}

static void
bounds_need_the_feature(void **state)
{
	char log[LOG_MAX];
	int without, absent, sent;

	(void)state;
	run_lookup_client(LIE_BOUNDS_WITHOUT_BIT, client_bounds, log,
			  sizeof(log));
	without = freed_blocks(log);
	run_lookup_client(LIE_BOUNDS_ABSENT, client_bounds, log, sizeof(log));
	absent = freed_blocks(log);
	run_lookup_client(BOUNDS_SENT, client_bounds, log, sizeof(log));
	sent = freed_blocks(log);
	printf("liar: %d blocks of %d B freed under a %llu KiB limit since "
	       "removed; given back: %d without bit 2, %d with the fields "
	       "absent, %d with them sent\n", BOUNDS_BLOCKS, BOUNDS_BLOCK,
	       (unsigned long long)FAKE_LIMIT >> 10, without, absent, sent);
	/*
	 * The open's 16 KiB budget keeps 8 to 16 blocks (an eviction
	 * halves it); 64 KiB, 32 to 64.
	 */
	assert_in_range(without, BOUNDS_BLOCKS - 16, BOUNDS_BLOCKS - 8);
	assert_in_range(absent, BOUNDS_BLOCKS - 16, BOUNDS_BLOCKS - 8);
	assert_in_range(sent, BOUNDS_BLOCKS - 64, BOUNDS_BLOCKS - 32);
}

/*
 * One thread's part in a refused connection: an Alloc when the barrier
 * lets both threads go, then one more on the broken connection, each
 * with what pool_last_message says of it in this thread (the words are
 * the thread's own, so they are read here, not by whoever joins it).
 */
struct refused_call {
	struct pool *p;
	pthread_barrier_t *go;
	int rc, later_rc;
	pool_off_t off;
	char words[256], later_words[256];
};

static void *
refused_call_thread(void *arg)
{
	struct refused_call *rc = arg;
	pool_off_t off = 1;

	pthread_barrier_wait(rc->go);
	rc->off = 1;
	rc->rc = pool_alloc(rc->p, 64, &rc->off);
	snprintf(rc->words, sizeof(rc->words), "%s",
		 pool_last_message(rc->rc));
	rc->later_rc = pool_alloc(rc->p, 64, &off);
	snprintf(rc->later_words, sizeof(rc->later_words), "%s",
		 pool_last_message(rc->later_rc));
	return NULL;
}

/*
 * A call the refusal failed: -EUSERS, no block, and the fake's words in
 * the thread's pool_last_message, the control byte shown as '?'.  Or,
 * if in_flight is false (the call may have begun after another thread
 * had found the connection refused), -ECONNRESET with no words at all.
 * Either way the next call is -ECONNRESET, with no words: the refusal's
 * are not that failure's.
 */
static int
check_refused_call(const struct refused_call *rc, bool in_flight)
{
	if (rc->rc == -EUSERS || in_flight) {
		CHECK_RC(rc->rc, -EUSERS, 130);
		if (strcmp(rc->words, REFUSAL_SHOWN) != 0) {
			fprintf(stderr, "child %d: the refused call's words: "
				"\"%s\"\n", (int)getpid(), rc->words);
			return 131;
		}
	} else {
		CHECK_RC(rc->rc, -ECONNRESET, 132);
		CHECK(rc->words[0] == '\0', 133);
	}
	CHECK(rc->off == POOL_OFF_NONE, 134);
	CHECK_RC(rc->later_rc, -ECONNRESET, 135);
	CHECK(rc->later_words[0] == '\0', 136);
	return 0;
}

/*
 * Two threads of one process, each an Alloc on one handle (no share map:
 * no cache, so both reach the fake), and the connection refused.  With
 * REFUSE_TWO_ALLOCS both were read by the fake before it refused, so one
 * thread reads the refusal and fails both calls with it.  With
 * REFUSE_AFTER_OPEN the refusal is waiting when the threads send: a send
 * fails and that thread reads the refusal itself; a call that began once
 * the connection was known refused is -ECONNRESET, but one of the two
 * was the first.
 */
static int
client_refused_two_threads(void *arg)
{
	const struct client_arg *a = arg;
	struct refused_call calls[2];
	pthread_barrier_t go;
	pthread_t t[2];
	struct pool_stats st;
	struct pool_conn *c;
	struct pool *p;
	bool in_flight = a->lc->lie == REFUSE_TWO_ALLOCS;
	int i, rc;

	CHECK_FAKE_POOL_OPEN(a->sock, &c, &p, 120);
	if (!in_flight)
		harness_sleep_ms(50);	/* the refusal and close are in */
	CHECK(pthread_barrier_init(&go, NULL, 2) == 0, 122);
	memset(calls, 0, sizeof(calls));
	for (i = 0; i < 2; i++) {
		calls[i].p = p;
		calls[i].go = &go;
		CHECK(pthread_create(&t[i], NULL, refused_call_thread,
				     &calls[i]) == 0, 123);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < 2; i++)
		if ((rc = check_refused_call(&calls[i], in_flight)))
			return rc;
	CHECK(calls[0].rc == -EUSERS || calls[1].rc == -EUSERS, 137);
	/* This thread made no call the refusal failed: no words here. */
	CHECK_RC(pool_stats(p, &st), -ECONNRESET, 138);
	CHECK(pool_last_message(-EUSERS)[0] == '\0', 139);
	CHECK(pool_last_message(-ECONNRESET)[0] == '\0', 140);
	fake_pool_close(c, p);
	return 0;
}

static void
run_refusal(enum lie lie, const char *what)
{
	struct lie_case lc = {lie, CALL_ALLOC, what};
	struct client_arg a = {NULL, &lc};
	struct child_end rc, frc;
	char log[LOG_MAX];
	struct fake f;
	pid_t pid;

	fake_start(&f, lie);
	a.sock = f.sock;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_refused_two_threads, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, sizeof(log));
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
	if (!strstr(log, "refused\nhung up\n"))
		fail_msg("%s: the fake did not refuse; it saw:\n%s", what,
			 log);
	if (lie == REFUSE_TWO_ALLOCS &&
	    !strstr(log, "\nalloc 64 align 0\nalloc 64 align 0\nrefused\n"))
		fail_msg("%s: the fake did not read both Allocs first; it "
			 "saw:\n%s", what, log);
	if (lie == REFUSE_AFTER_OPEN && strstr(log, "\nalloc "))
		fail_msg("%s: the fake read an Alloc; it saw:\n%s", what,
			 log);
	printf("liar: %-52s -> -EUSERS and its words in each thread\n",
	       what);
}

/*
 * The daemon refusing a connection two threads have calls in flight on:
 * each call is -EUSERS with the daemon's words in its own thread, read
 * there by the thread that read the refusal or by the other, and every
 * later call -ECONNRESET without them.
 */
static void
refusal_fails_both_threads_calls(void **state)
{
	(void)state;
	run_refusal(REFUSE_TWO_ALLOCS, "a refusal after two threads' Allocs");
	run_refusal(REFUSE_AFTER_OPEN, "a refusal waiting for two senders");
}

#define AMID_THREADS	4	/* one Alloc, the rest asking and asking */
#define AMID_ROUNDS	100

/*
 * A thread that keeps asking for the usable size of a block that is not
 * there (-EINVAL, the connection fine) until the refusal ends it.
 */
static void *
asking_thread(void *arg)
{
	struct refused_call *rc = arg;
	size_t us;

	pthread_barrier_wait(rc->go);
	rc->off = POOL_OFF_NONE;
	while ((rc->rc = pool_usable_size(rc->p, 0, &us)) == -EINVAL)
		;
	snprintf(rc->words, sizeof(rc->words), "%s",
		 pool_last_message(rc->rc));
	rc->later_rc = pool_usable_size(rc->p, 0, &us);
	snprintf(rc->later_words, sizeof(rc->later_words), "%s",
		 pool_last_message(rc->later_rc));
	return NULL;
}

/*
 * The Alloc the fake read and refused is -EUSERS with its words, whoever
 * read the refusal: the thread waiting in recvmsg, or one whose send the
 * close made fail.  The others' last calls were either in flight then
 * (-EUSERS) or begun after (-ECONNRESET).
 */
static int
client_refused_amid_others(void *arg)
{
	const struct client_arg *a = arg;
	struct refused_call calls[AMID_THREADS];
	pthread_t t[AMID_THREADS];
	pthread_barrier_t go;
	struct pool_conn *c;
	struct pool *p;
	int i, rc;

	CHECK_FAKE_POOL_OPEN(a->sock, &c, &p, 150);
	CHECK(pthread_barrier_init(&go, NULL, AMID_THREADS) == 0, 152);
	memset(calls, 0, sizeof(calls));
	for (i = 0; i < AMID_THREADS; i++) {
		calls[i].p = p;
		calls[i].go = &go;
		CHECK(pthread_create(&t[i], NULL, i == 0 ? refused_call_thread
				     : asking_thread, &calls[i]) == 0, 153);
	}
	for (i = 0; i < AMID_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < AMID_THREADS; i++)
		if ((rc = check_refused_call(&calls[i], i == 0)))
			return rc;
	fake_pool_close(c, p);
	return 0;
}

/*
 * The refusal read by a sender while another thread waits in recvmsg:
 * the call the daemon read and refused must still be -EUSERS.  A race,
 * so many rounds.
 */
static void
refusal_amid_other_threads_calls(void **state)
{
	struct lie_case lc = {REFUSE_AMID_OTHERS, CALL_ALLOC,
			      "a refusal amid other threads' calls"};
	struct client_arg a = {NULL, &lc};
	struct child_end rc, frc;
	char log[LOG_MAX];
	struct fake f;
	pid_t pid;
	int round;

	(void)state;
	for (round = 0; round < AMID_ROUNDS; round++) {
		fake_start(&f, lc.lie);
		a.sock = f.sock;
		pid = harness_spawn(client_refused_amid_others, &a);
		assert_true(pid > 0);
		rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
		frc = fake_finish(&f, log, sizeof(log));
		if (!child_passed(rc))
			fprintf(stderr, "round %d of %d\n", round + 1,
				AMID_ROUNDS);
		expect_client_passed(rc, lc.what, log);
		expect_fake_passed(frc, lc.what, log);
		if (!strstr(log, "alloc 64 align 0\nrefused\nhung up\n"))
			fail_msg("%s: the fake did not refuse the Alloc; it "
				 "saw:\n%s", lc.what, log);
	}
	printf("liar: %-52s -> -EUSERS for the Alloc, %d rounds\n",
	       lc.what, AMID_ROUNDS);
}

/* ---- the harness's own words -------------------------------------------- */

static int
child_fails_check_137(void *arg)
{
	(void)arg;
	return 137;
}

static int
child_killed_by_sigkill(void *arg)
{
	(void)arg;
	kill(getpid(), SIGKILL);
	return 0;
}

static int
child_hangs(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* wait_at_most's end of fn's child, waiting up to ms, in words. */
static struct child_end
child_end_of(int (*fn)(void *), long ms, char *words, size_t len)
{
	struct child_end e;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(fn, NULL);
	assert_true(pid > 0);
	e = wait_at_most(pid, ms);
	child_end_words(e, "failed its check", words, len);
	return e;
}

/*
 * A client's check numbered above 127 is a failed check, not a signal: the
 * exit code 137 and SIGKILL (9) once both read 137, and the check was
 * reported as "crashed with signal 9".
 */
static void
harness_tells_a_check_from_a_signal(void **state)
{
	char words[128];
	struct child_end e;

	(void)state;
	e = child_end_of(child_fails_check_137, CLIENT_TIMEOUT_MS, words,
			 sizeof(words));
	assert_int_equal(e.how, CHILD_EXITED);
	assert_int_equal(e.code, 137);
	assert_string_equal(words, "failed its check 137");

	e = child_end_of(child_killed_by_sigkill, CLIENT_TIMEOUT_MS, words,
			 sizeof(words));
	assert_int_equal(e.how, CHILD_KILLED);
	assert_int_equal(e.code, SIGKILL);
	assert_non_null(strstr(words, "crashed with signal 9 ("));

	e = child_end_of(child_hangs, 50, words, sizeof(words));
	assert_int_equal(e.how, CHILD_HUNG);
	assert_string_equal(words, "hung (killed after 50 ms)");
	printf("liar: exit 137 is check 137, SIGKILL is signal 9, a hang is "
	       "a hang\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(harness_tells_a_check_from_a_signal),
		cmocka_unit_test(fake_without_share_map_works),
		cmocka_unit_test(open_reply_lies_are_refused),
		cmocka_unit_test(block_reply_lies_are_refused),
		cmocka_unit_test(conversation_lies_are_refused),
		cmocka_unit_test(frozen_map_old_daemon),
		cmocka_unit_test(frozen_map_unsealed_renewal),
		cmocka_unit_test(frozen_map_renewed_frozen),
		cmocka_unit_test(bounds_need_the_feature),
		cmocka_unit_test(refusal_fails_both_threads_calls),
		cmocka_unit_test(refusal_amid_other_threads_calls),
	};

	/* SIGPIPE keeps its default: a client that got one would show it. */
	return cmocka_run_group_tests_name("a lying daemon", tests, NULL,
					   NULL);
}
