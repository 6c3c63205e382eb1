/*
 * itest_handles.c - a connection's pool handles, found by their ids on
 * every request, as they open and close up to the limit of 1024 and again.
 *
 *   lookups_survive_churn_across_the_limit   one raw connection opens 1024
 *       handles, each allocating a block of its own (the 1025th open is
 *       -EMFILE), then 16 times closes some (in a shuffled order; every
 *       fourth time all but three, so that the daemon's table of them
 *       shrinks, and grows again) and opens up to the limit again.  After
 *       each close and each reopen: every open handle is the one its id
 *       names (an in-place Realloc of its own block to its own size, which
 *       only the holder may make, answers 0 and the same offset; a handle
 *       the lookup confused with another would get -EPERM, a lost one
 *       -EBADF), its cache report is taken, and an id that was closed
 *       (those of this round, and a sample of the older ones) or never
 *       handed out is -EBADF for UsableSize, ClosePool and a cache report,
 *       and changes nothing.  A new handle's id is never 0 and greater
 *       than every id before it (ids are never used twice on a
 *       connection); another connection's ids are its own.  At the end
 *       the pool holds nothing and passes its check.
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
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define CONF "[pool p]\nsize = 64M\n"
#define MAX_HANDLES 1024	/* per connection: docs/protocol.md */
#define ROUNDS 16
#define OLD_SAMPLE 256		/* older closed ids checked per round */
#define MAX_IDS (MAX_HANDLES * (ROUNDS + 1))

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;	/* asks for stats and checks */
	int fd;			/* the raw connection of the handles */
};

static struct fixture fx = {.fd = -1};

/* The connection's handles: open ones with their block, closed ids. */
struct open_handle {
	uint32_t id;
	uint64_t off;
};
static struct open_handle open_h[MAX_HANDLES];
static unsigned nopen;
static uint32_t closed[MAX_IDS];
static unsigned nclosed, closed_this_round;
static uint32_t last_id;	/* the greatest handed out */

static int
teardown(void **state)
{
	(void)state;
	harness_close_fd(&fx.fd);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	fx.fd = -1;
	nopen = nclosed = closed_this_round = last_id = 0;
	return 0;
}

/* ---- raw requests (harness_raw.h) ------------------------------------ */

static int
raw_greeted(void)
{
	int fd = harness_raw_greeted(fx.d.sock, "handles");

	assert_true(fd >= 0);
	return fd;
}

/* Alloc (off UINT64_MAX) or an in-place Realloc of 64 B: 0 and *off. */
static int
raw_alloc64(int fd, uint32_t h, uint64_t *off)
{
	if (*off == UINT64_MAX)
		return harness_raw_alloc(fd, h, 64, off, NULL);
	return harness_raw_realloc(fd, h, off, 64, true);
}

static int
raw_usable(int fd, uint32_t h, uint64_t off)
{
	return harness_raw_block(fd, POOLMGR__REQUEST__BODY_USABLE_SIZE, h,
				 off);
}

/* A cache report for handle cached on a UsableSize of h's block off. */
static int
raw_report(int fd, uint32_t h, uint64_t off, uint32_t cached)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize m = POOLMGR__USABLE_SIZE__INIT;

	m.handle = h;
	m.offset = off;
	req.cache_handle = cached;
	req.cache_bytes = 0;
	req.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	req.usable_size = &m;
	return harness_raw_error(fd, &req, NULL);
}

/* ---- the handles --------------------------------------------------------- */

/* Open handles up to the limit, each with a block; the next is -EMFILE. */
static void
open_to_limit(void)
{
	uint32_t h = 0;

	while (nopen < MAX_HANDLES) {
		struct open_handle *o = &open_h[nopen];

		EXPECT_RAW(harness_raw_open(fx.fd, "p", &o->id), 0);
		if (o->id == 0 || o->id <= last_id)
			fail_msg("handle %u opened after handle %u", o->id,
				 last_id);
		last_id = o->id;
		o->off = UINT64_MAX;
		EXPECT_RAW(raw_alloc64(fx.fd, o->id, &o->off), 0);
		nopen++;
	}
	EXPECT_RAW(harness_raw_open(fx.fd, "p", &h), -EMFILE);
}

/* Close n of the open handles, picked at random. */
static void
close_some(unsigned n)
{
	closed_this_round = 0;
	while (n--) {
		unsigned i = (unsigned)rand() % nopen;

		EXPECT_RAW(harness_raw_close(fx.fd, open_h[i].id), 0);
		assert_true(nclosed < MAX_IDS);
		closed[nclosed++] = open_h[i].id;
		closed_this_round++;
		open_h[i] = open_h[--nopen];
	}
}

/* id is no handle of the connection, and asking changes nothing. */
static void
expect_no_handle(uint32_t id)
{
	uint64_t off = open_h[0].off;

	if (raw_usable(fx.fd, id, off) != -EBADF ||
	    raw_report(fx.fd, open_h[0].id, off, id) != -EBADF ||
	    harness_raw_close(fx.fd, id) != -EBADF)
		fail_msg("handle %u, closed or never opened, was found", id);
}

/* Every open id names its own handle, and no other id names any. */
static void
check_lookups(const char *when)
{
	unsigned i, n;

	for (i = 0; i < nopen; i++) {
		uint64_t off = open_h[i].off;
		int rc = raw_alloc64(fx.fd, open_h[i].id, &off);

		if (rc != 0 || off != open_h[i].off)
			fail_msg("%s: handle %u (of %u open): %d (%s), offset "
				 "%llu for its block at %llu", when,
				 open_h[i].id, nopen, rc, pool_strerror(rc),
				 (unsigned long long)off,
				 (unsigned long long)open_h[i].off);
		assert_int_equal(raw_report(fx.fd, open_h[i].id, off,
					    open_h[i].id), 0);
	}
	for (i = nclosed - closed_this_round; i < nclosed; i++)
		expect_no_handle(closed[i]);
	n = nclosed - closed_this_round;
	for (i = 0; n && i < OLD_SAMPLE; i++)
		expect_no_handle(closed[(unsigned)rand() % n]);
	expect_no_handle(last_id + 1);
	expect_no_handle(last_id + 1000);
	expect_no_handle(UINT32_MAX);
}

static void
lookups_survive_churn_across_the_limit(void **state)
{
	struct pool_stats st;
	char msg[256] = "", when[64];
	uint32_t other;
	int fd2;

	(void)state;
	srand(1);
	assert_int_equal(harness_start(&fx.d, CONF), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	fx.fd = raw_greeted();
	open_to_limit();
	check_lookups("opened");
	for (int r = 0; r < ROUNDS; r++) {
		close_some(r % 4 == 0 ? nopen - 3
				      : 1 + (unsigned)rand() % (nopen - 1));
		snprintf(when, sizeof(when), "round %d, %u closed", r,
			 closed_this_round);
		check_lookups(when);
		open_to_limit();
		closed_this_round = 0;
		snprintf(when, sizeof(when), "round %d, reopened", r);
		check_lookups(when);
	}
	/* Another connection's ids are its own: it has none of ours. */
	fd2 = raw_greeted();
	EXPECT_RAW(harness_raw_open(fd2, "p", &other), 0);
	assert_int_equal(raw_usable(fd2, open_h[0].id, open_h[0].off),
			 -EBADF);
	close(fd2);

	harness_close_fd(&fx.fd);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
		if (st.clients == 0)
			break;
		harness_sleep_ms(10);
	}
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	if (pool_check_by_name(fx.conn, "p", msg, sizeof(msg)))
		fail_msg("check: %s", msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    lookups_survive_churn_across_the_limit, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
