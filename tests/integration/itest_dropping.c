/*
 * itest_dropping.c - while a closed handle of many small blocks drops its
 * references a step per loop turn (daemon/pool_release.c), the daemon
 * serves everyone else, and at the end every one of its blocks is free.
 * The daemon runs with drop_step = 8, so a handle of 400,000 blocks of
 * 64 B takes 50,000 loop turns.
 *
 * How the drop is seen from outside: a Stats of the pool waits until the
 * references queued before it are dropped (docs/protocol.md, "Requests
 * that wait"), so an observer sends one just after the drop began, and
 * another client counts its own round trips (UsableSize of the one block
 * it holds) until the observer's reply comes.  release_step = 0 gives the
 * freed pages back inside the drop, so that nothing else is queued for the
 * Stats to wait for.  All at once (drop_step = 0), the drop takes a single
 * turn, and the reply comes after one of them.
 *
 *   closed_handle_drops_while_others_are_served   a raw connection
 *       allocates 400,000 blocks with one handle and closes it: at least
 *       100 round trips of another client are answered before the Stats,
 *       which then counts one live block of 64 B and one open handle (the
 *       other client's), where it counted 400,001 blocks before; the pool
 *       passes its check.
 *   dead_clients_handle_drops_while_others_are_served   the same, the
 *       holder a child process killed (SIGKILL) instead, its handle closed
 *       by the daemon when it sees the hang-up (the Stats is sent once
 *       the client list no longer shows the handle).
 */
#include <errno.h>
#include <poll.h>
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
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define CONF "drop_step = 8\nrelease_step = 0\n[pool p]\nsize = 64M\n"
#define NBLOCKS 400000
#define SERVED_MIN 100
#define SERVED_MAX 1000000	/* only so that a lost reply fails */

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;	/* asks for stats, the clients and checks */
	int other;		/* raw: the other client, served meanwhile */
	uint32_t other_h;	/* its handle, */
	uint64_t other_off;	/* which holds one block of 64 B */
	int observer;		/* raw: its Stats waits for the drop */
	pid_t holder;
};

static struct fixture fx = {.other = -1, .observer = -1};

static int
teardown(void **state)
{
	(void)state;
	if (fx.holder > 0) {
		kill(fx.holder, SIGKILL);
		harness_wait(fx.holder);
	}
	harness_close_fd(&fx.observer);
	harness_close_fd(&fx.other);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	fx.other = fx.observer = -1;
	return 0;
}

/* ---- raw requests (harness_raw.h) -------------------------------------- */

/* Open pool "p" and allocate n blocks of 64 B: the handle, or 0. */
static uint32_t
raw_hold_blocks(int fd, size_t n)
{
	uint32_t h;

	if (harness_raw_open(fd, "p", &h) != 0 ||
	    harness_raw_alloc_many(fd, h, 64, n) != 0)
		return 0;
	return h;
}

/* ---- the holder child ------------------------------------------------- */

struct holder_args {
	const char *sock;
	int ready_fd;
};

/* Hold the blocks, say so, and wait to be killed. */
static int
holder_run(void *arg)
{
	const struct holder_args *a = arg;
	int fd = harness_raw_greeted(a->sock, "dropping");
	char c = 'r';

	CHECK(fd >= 0, 10);
	CHECK(raw_hold_blocks(fd, NBLOCKS) != 0, 11);
	CHECK(harness_write_full(a->ready_fd, &c, 1) == 0, 12);
	for (;;)
		pause();
}

/* ---- what the others see ---------------------------------------------- */

/*
 * The daemon, and the other client: a raw connection whose handle holds
 * one block, so that its round trips (UsableSize of that block) change
 * nothing the observer's Stats counts.
 */
static void
start(void)
{
	assert_int_equal(harness_start(&fx.d, CONF), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	fx.observer = harness_raw_client(fx.d.sock, "dropping");
	fx.other = harness_raw_client(fx.d.sock, "dropping");
	assert_true((fx.other_h = raw_hold_blocks(fx.other, 0)) != 0);
	EXPECT_RAW(harness_raw_alloc(fx.other, fx.other_h, 64, &fx.other_off,
				     NULL), 0);
}

static struct pool_stats
stats(void)
{
	struct pool_stats st;

	assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
	return st;
}

/* The observer's Stats of pool "p", sent now: its request id. */
static uint64_t
observer_asks(void)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;

	ref.name = "p";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	assert_int_equal(harness_raw_post(fx.observer, &req), 0);
	return req.id;
}

static bool
readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

/*
 * The drop began just now: the observer asks for the stats, and the other
 * client's round trips are counted until the answer comes, which must
 * find every block free.
 */
static void
served_while_dropping(void)
{
	Poolmgr__Reply *rep;
	char msg[256] = "";
	uint64_t id = observer_asks();
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize m = POOLMGR__USABLE_SIZE__INIT;
	int served = 0;

	m.handle = fx.other_h;
	m.offset = fx.other_off;
	req.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	req.usable_size = &m;
	while (!readable(fx.observer) && served < SERVED_MAX) {
		EXPECT_RAW(harness_raw_error(fx.other, &req, NULL), 0);
		served++;
	}
	printf("%d round trips of another client answered while %d "
	       "references were dropped\n", served, NBLOCKS);
	assert_true(served >= SERVED_MIN);
	assert_non_null(rep = harness_raw_reply(fx.observer, id,
						 HARNESS_RAW_WAIT_MS));
	assert_int_equal(rep->error, 0);
	assert_non_null(rep->stats);
	assert_int_equal(rep->stats->live_blocks, 1);
	assert_int_equal(rep->stats->allocated_bytes, 64);
	assert_int_equal(rep->stats->clients, 1);
	poolmgr__reply__free_unpacked(rep, NULL);
	if (pool_check_by_name(fx.conn, "p", msg, sizeof(msg)))
		fail_msg("check: %s", msg);
}

static void
closed_handle_drops_while_others_are_served(void **state)
{
	uint32_t h;
	int fd;

	(void)state;
	start();
	fd = harness_raw_client(fx.d.sock, "dropping");
	assert_true((h = raw_hold_blocks(fd, NBLOCKS)) != 0);
	assert_int_equal(stats().live_blocks, NBLOCKS + 1);
	EXPECT_RAW(harness_raw_close(fd, h), 0);
	served_while_dropping();
	close(fd);
}

static void
dead_clients_handle_drops_while_others_are_served(void **state)
{
	struct holder_args a;
	struct pool_client_info *ci;
	size_t n = 0;
	int ready[2];
	char c;

	(void)state;
	start();
	assert_int_equal(pipe(ready), 0);
	a.sock = fx.d.sock;
	a.ready_fd = ready[1];
	fx.holder = harness_spawn(holder_run, &a);
	close(ready[1]);
	if (harness_read_full(ready[0], &c, 1) != 0)
		fail_msg("the holder failed: exit %d", harness_wait(fx.holder));
	close(ready[0]);
	assert_int_equal(stats().live_blocks, NBLOCKS + 1);
	kill(fx.holder, SIGKILL);
	assert_int_equal(harness_wait(fx.holder), 128 + SIGKILL);
	fx.holder = 0;
	/* The daemon notices the hang-up in its own time. */
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(pool_clients(fx.conn, "p", &ci, &n), 0);
		free(ci);
		if (n == 1)	/* the other client's */
			break;
		harness_sleep_ms(1);
	}
	assert_int_equal(n, 1);
	served_while_dropping();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    closed_handle_drops_while_others_are_served, teardown),
		cmocka_unit_test_teardown(
		    dead_clients_handle_drops_while_others_are_served,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
