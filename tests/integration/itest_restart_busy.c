/*
 * itest_restart_busy.c - a restart in place (SIGUSR2) while clients and
 * the daemon are busy: clients connecting, allocating and freeing all
 * along, the daemon's own stepped work (a release, a calloc's zeroing),
 * clients that do not read or never said Hello, signals, descriptors
 * near the limit.  Nobody notices anything but a pause.  The fixture and
 * client processes: harness_restart.c; what a restart keeps:
 * itest_restart.c.
 *
 *   connect_during_restart            a child connecting, allocating and
 *       disconnecting in a loop across the restart is never refused.
 *   work_in_progress                  a 128 MiB block freed (released in
 *       4 KiB steps) right before SIGUSR2, and a 64 MiB calloc being
 *       zeroed in steps during it: the restart comes after; the pages are
 *       gone and counted released, the calloc reads zero, check passes.
 *   unreadable_client_kept            a client with thousands of replies
 *       unread, the last ones passing descriptors (OpenPool): the
 *       restart waits for nobody and drops nobody; another client's
 *       request sent meanwhile waits in its connection and is answered
 *       after; the slow one reads every reply, its blocks still its own
 *       (itest_restart_fds.c: what the descriptors are then).
 *   silent_client_still_timed_out     a connection that never said Hello
 *       is dropped after the restart; one that said it needs not again.
 *   busy_clients_across_restart       clients allocating, writing and
 *       freeing on one connection (one thread, and four) all along: not
 *       one request fails.
 *   stop_right_after_restart          SIGTERM right after SIGUSR2, a
 *       client not reading replies that pass descriptors: exit 0 whether
 *       the restart came first or not, nothing leaked.
 *   stop_while_waiting_for_quiet      a 60 GiB block freed, released in
 *       4 KiB steps (millions of loop turns): SIGUSR2, the log says the
 *       restart waits for that, SIGTERM: exit 0, nothing leaked, and no
 *       restart.
 *   signals_during_restart            SIGHUP every millisecond and a
 *       second SIGUSR2 while it restarts: it survives them all.
 *   restart_near_the_descriptor_limit  40 clients, the daemon using about
 *       51 of 128 descriptors: the restart must not fail for want of them.
 *
 * A daemon without SIGUSR2 handling dies of it: each test then fails at
 * once, saying so, and its client processes are killed.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_restart.h"
#include "poolmgr.pb-c.h"

/*
 * A child that connects, allocates, writes, frees and disconnects over
 * and over until told to stop: every round must succeed.
 */
struct connector {
	struct harness_child ch;	/* a byte after the first round; then
					 * rounds */
};

static int
connector_main(void *arg)
{
	struct connector *k = arg;
	struct pollfd pfd = {.fd = k->ch.stop[0], .events = POLLIN};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint64_t rounds = 0;

	harness_child_ready(&k->ch);
	while (poll(&pfd, 1, 0) == 0) {
		CHECK_RC(pool_connect(rfx.d.sock, &c), 0, 2);
		CHECK_RC(pool_open(c, "p", &p), 0, 3);
		CHECK_RC(pool_alloc(p, 100, &off), 0, 4);
		memset(pool_ptr(p, off), 0x77, 100);
		CHECK_RC(pool_free(p, off), 0, 5);
		pool_close(p);
		pool_disconnect(c);
		if (rounds++ == 0)
			CHECK(harness_write_full(k->ch.out[1], "g", 1) == 0, 6);
	}
	CHECK(harness_write_full(k->ch.out[1], &rounds, sizeof(rounds)) == 0,
	      7);
	return 0;
}

static void
connect_during_restart(void **state)
{
	struct connector k;
	uint64_t rounds;

	(void)state;
	rfx_start("[pool p]\nsize = 16M\n", "p");
	harness_child_start(&k.ch, connector_main, &k);
	if (harness_restart_in_place(&rfx.d) != 0) {
		kill(k.ch.pid, SIGKILL);
		harness_wait(k.ch.pid);
		fail_msg("SIGUSR2: poolmgrd did not restart in place");
	}
	harness_sleep_ms(50);	/* some rounds after it, too */
	if (harness_child_stop(&k.ch, &rounds, sizeof(rounds)))
		fail_msg("the connecting client failed: exit %d",
			 harness_wait(k.ch.pid));
	assert_int_equal(harness_wait(k.ch.pid), 0);
	printf("%" PRIu64 " rounds of connect, alloc, free, disconnect\n",
	       rounds);
	assert_int_equal(rfx_stats().live_blocks, 0);
	rfx_check("p");
}

/*
 * Clients busy on one connection across the restart, one with a thread
 * and one with four sharing it (their requests pipelined): allocate,
 * write, read back, free, and now and then a batch, until told to stop.
 * Not one request may fail, nor one byte read back differ.
 */
static void *
busy_thread(void *arg)
{
	struct harness_busy *b = arg;
	size_t sizes[64];
	pool_off_t offs[64], off;
	unsigned seed = (unsigned)b->id * 7919u + (unsigned)getpid();
	uint64_t len, tag;
	int rc;

	for (int i = 0; i < 64; i++)
		sizes[i] = 100;
	while (!__atomic_load_n(b->stop, __ATOMIC_RELAXED)) {
		len = 16 + (uint64_t)rand_r(&seed) % 100000;
		tag = ((uint64_t)getpid() << 8) + (uint64_t)b->id;
		if ((rc = pool_alloc(b->p, len, &off)) != 0) {
			harness_busy_error(b, "alloc", rc);
			continue;
		}
		pattern_fill(pool_ptr(b->p, 0), off, len, tag);
		if (!pattern_intact(pool_ptr(b->p, 0), off, len, tag))
			harness_busy_error(b, "read back", -EILSEQ);
		if ((rc = pool_free(b->p, off)) != 0)
			harness_busy_error(b, "free", rc);
		if (b->rounds++ % 16 == 0) {
			if ((rc = pool_alloc_batch(b->p, 64, sizes, offs)) != 0)
				harness_busy_error(b, "alloc_batch", rc);
			else if ((rc = pool_free_batch(b->p, 64, offs)) != 0)
				harness_busy_error(b, "free_batch", rc);
		}
	}
	return NULL;
}

struct busy_child {
	int nthreads;
	struct harness_child ch;	/* report: rounds, errors */
};

static int
busy_main(void *arg)
{
	struct busy_child *k = arg;
	struct harness_busy b[4];
	uint64_t sum[2] = {0, 0};
	struct pool_conn *c;
	struct pool *p;
	int rc;

	harness_child_ready(&k->ch);
	CHECK_RC(pool_connect(rfx.d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "p", &p), 0, 3);
	if ((rc = harness_busy_run(b, k->nthreads, p, busy_thread,
				   k->ch.out[1], k->ch.stop[0], sum, 4)) != 0)
		return rc;
	CHECK(harness_write_full(k->ch.out[1], sum, sizeof(sum)) == 0, 7);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
busy_clients_across_restart(void **state)
{
	struct busy_child k[2] = {{.nthreads = 1}, {.nthreads = 4}};
	uint64_t res[2][2];

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	for (int i = 0; i < 2; i++)
		harness_child_start(&k[i].ch, busy_main, &k[i]);
	harness_sleep_ms(20);
	rfx_restart();
	harness_sleep_ms(50);
	for (int i = 0; i < 2; i++) {
		if (harness_child_stop(&k[i].ch, res[i], sizeof(res[i])))
			fail_msg("busy client %d failed: exit %d", i,
				 harness_wait(k[i].ch.pid));
		assert_int_equal(harness_wait(k[i].ch.pid), 0);
		printf("busy client with %d thread%s: %" PRIu64 " rounds, %"
		       PRIu64 " errors\n", k[i].nthreads,
		       k[i].nthreads == 1 ? "" : "s", res[i][0], res[i][1]);
		assert_int_equal(res[i][1], 0);
	}
	assert_int_equal(rfx_stats().live_blocks, 0);
	rfx_check("p");
}

/* The pages of [p, p + len) resident: 0 once all went back. */
static size_t
resident_after(void *p, size_t len, int ms)
{
	size_t left = harness_resident_pages(p, len);

	for (; left && ms > 0; ms -= 10) {
		harness_sleep_ms(10);
		left = harness_resident_pages(p, len);
	}
	return left;
}

static void
work_in_progress(void **state)
{
	enum { NDIRTY = 4096 };
	static pool_off_t offs[NDIRTY];
	static size_t sizes[NDIRTY];
	struct pool_stats st0, st1;
	uint64_t big, small, cal;
	size_t usable, dirty;
	struct remote *Z;
	uint8_t *base;
	struct ans a;
	int i;

	(void)state;
	rfx_start("release_step = 4K\n[pool big]\nsize = 160M\nretain = 160M\n",
	      "big");
	base = pool_ptr(rfx.pool, 0);
	assert_int_equal(pool_alloc(rfx.pool, 100, &small), 0);
	pattern_fill(base, small, 100, ++rfx.seed);
	book_add(small, 100, rfx.seed);

	/* A freed 128 MiB block goes back in 4 KiB steps... */
	assert_int_equal(pool_alloc(rfx.pool, 128 * MiB, &big), 0);
	memset(base + big, 0x5a, 128 * MiB);
	st0 = rfx_stats();
	assert_int_equal(pool_free(rfx.pool, big), 0);
	/* ...and is on its way when the signal comes. */
	rfx_restart();
	assert_int_equal(resident_after(base + big, 128 * MiB, 10000), 0);
	st1 = rfx_stats();
	assert_int_equal(pool_usable_size(rfx.pool, small, &usable), 0);
	assert_int_equal(st1.allocated_bytes, usable);
	assert_int_equal(st1.live_blocks, 1);
	assert_int_equal(st1.frees, st0.frees + 1);
	printf("released_bytes %" PRIu64 " before the free, %" PRIu64
	       " after the restart\n", st0.released_bytes,
	       st1.released_bytes);
	assert_true(st1.released_bytes >= st0.released_bytes + 128 * MiB);
	book_verify("after a restart during a release");
	rfx_check("big");

	/*
	 * 128 MiB of written small blocks freed, kept for reuse, dirty: the
	 * pool has no 64 MiB of clean room left.
	 */
	for (i = 0; i < NDIRTY; i++)
		sizes[i] = 32 * KiB;
	for (i = 0; i < NDIRTY; i += 1024)
		assert_int_equal(pool_alloc_batch(rfx.pool, 1024, sizes + i,
						  offs + i), 0);
	for (i = 0; i < NDIRTY; i++)
		memset(base + offs[i], 0xee, 32 * KiB);
	for (i = 0; i < NDIRTY; i += 1024)
		assert_int_equal(pool_free_batch(rfx.pool, 1024, offs + i), 0);
	dirty = harness_resident_pages(base, pool_size(rfx.pool));
	assert_true(dirty * 4096 >= 64 * MiB);

	/* A calloc over them is zeroed 4 KiB a turn: restart meanwhile. */
	Z = remote_start(0, "big", 0);
	remote_send(Z, OP_CALLOC, 0, 64 * MiB, 0);
	for (i = 0; i < 2000 && harness_resident_pages(base,
	     pool_size(rfx.pool)) > dirty - dirty / 20; i++)
		harness_sleep_ms(2);
	printf("calloc %s when the signal came\n",
	       i < 2000 ? "zeroing" : "maybe done");
	rfx_restart();
	a = remote_recv(Z);
	if (a.rc)
		fail_msg("calloc across the restart: %s", pool_strerror(a.rc));
	st1 = rfx_stats();
	assert_int_equal(st1.live_blocks, 2);
	assert_int_equal(st1.allocated_bytes, usable + a.usable);
	cal = a.off;
	assert_true(all_zero(base + cal, 64 * MiB));
	pattern_fill(base, cal, 64 * MiB, ++rfx.seed);
	book_add(cal, 64 * MiB, rfx.seed);
	REMOTE_OK(Z, OP_VERIFY, cal, 64 * MiB, rfx.seed);
	book_verify("after a restart during a calloc");
	rfx_check("big");
}

#define RESTART_WAITING "restart: waiting for a quiet moment: released " \
	"memory still going back"

/*
 * SIGTERM while the restart waits for the daemon's own work: a 60 GiB
 * block freed with release_step = 4K goes back in 15 million steps, one
 * per loop turn, whose pages were never touched, so nothing is really
 * punched.  The free's reply means the work is queued; the log says when
 * the restart waits for it.  The stop must not wait for the work (nor be
 * lost in the wait, to stop the new image no more than this one), nor
 * restart first.
 */
static void
stop_while_waiting_for_quiet(void **state)
{
	static char log[256 * 1024];
	uint64_t big;

	(void)state;
	rfx_start("release_step = 4K\n[pool p]\nsize = 64G\n", "p");
	assert_int_equal(pool_alloc(rfx.pool, 60 * 1024 * MiB, &big), 0);
	assert_int_equal(pool_free(rfx.pool, big), 0);
	assert_int_equal(kill(rfx.d.pid, SIGUSR2), 0);
	if (harness_log_wait(&rfx.d, RESTART_WAITING, 0,
			     HARNESS_RESTART_WAIT_MS) != 0)
		fail_msg("SIGUSR2 with 60 GiB going back: no wait logged");
	rfx_stop_cleanly();
	harness_read_text(rfx.d.log, log, sizeof(log));
	if (strstr(log, "restarting in place: executing"))
		fail_msg("restarted although stopped during the wait:\n%s",
			 log);
	assert_int_equal(harness_log_count(&rfx.d, RESTART_WANTED), 1);
}

/*
 * Signals sent while the daemon restarts: SIGHUP every millisecond for
 * 300 ms from another process, and a second SIGUSR2 right after the
 * first.  A signal that arrives between the exec and the new image's
 * handlers must wait for them, not take the default action (which kills
 * the daemon, and every pool with it).
 */
static int
signaller_main(void *arg)
{
	pid_t pid = *(pid_t *)arg;

	for (int i = 0; i < 300; i++) {
		if (kill(pid, SIGHUP) == -1)
			return 1;
		harness_sleep_ms(1);
	}
	return 0;
}

static void
signals_during_restart(void **state)
{
	static struct snap before, after;
	struct scene s;
	pid_t sig;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	snap_take(&before);
	sig = harness_spawn(signaller_main, &rfx.d.pid);
	assert_true(sig > 0);
	rfx_restart();
	assert_int_equal(kill(rfx.d.pid, SIGUSR2), 0);
	assert_int_equal(harness_wait(sig), 0);
	harness_sleep_ms(100);
	if (!harness_alive(&rfx.d)) {
		rfx.d.pid = 0;
		fail_msg("poolmgrd died of a signal sent while it restarted");
	}
	rfx_restart();
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
}

/*
 * Then n OpenPool requests of pool, unread too: their replies pass
 * descriptors, which go over a restart as the pool's.  How many went.
 */
static int
flood_opens(int fd, const char *pool, int n)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	int i;

	o.name = (char *)pool;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	for (i = 0; i < n; i++) {
		req.id = 2000000 + (uint64_t)i;
		if (harness_raw_send(fd, &req) != 0)
			return i;
	}
	return i;
}

/*
 * SIGTERM right after SIGUSR2, with a client that does not read replies
 * passing descriptors: the daemon stops as on any SIGTERM (exit 0,
 * nothing leaked), the restart having come first or not.
 */
static void
stop_right_after_restart(void **state)
{
	uint64_t off;
	uint32_t h;
	int fd;

	(void)state;
	rfx_start("[pool p]\nsize = 16M\n", "p");
	fd = harness_raw_client(rfx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	EXPECT_RAW(harness_raw_alloc(fd, h, 1000, &off, NULL), 0);
	assert_int_equal(harness_raw_flood(fd, h, off, 5000, 1000000), 5000);
	assert_int_equal(flood_opens(fd, "p", 3), 3);
	harness_sleep_ms(200);
	assert_int_equal(kill(rfx.d.pid, SIGUSR2), 0);
	rfx_stop_cleanly();
	close(fd);
}

/* Read what is there until the daemon hangs up: false if it does not. */
static bool
hung_up(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t buf[65536];

	while (poll(&pfd, 1, ms) == 1)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			return true;
	return false;
}

/*
 * hello_timeout = 2: a connection that said nothing before the restart
 * is still dropped after it; one that said Hello (and has no handle) is
 * not, and opens a pool without saying it again.
 */
static void
silent_client_still_timed_out(void **state)
{
	int greeted, silent;
	uint32_t h;

	(void)state;
	rfx_start("hello_timeout = 2\n[pool p]\nsize = 8M\n", "p");
	greeted = harness_raw_client(rfx.d.sock, "greeted");
	silent = harness_raw_connect(rfx.d.sock);
	assert_true(silent >= 0);
	rfx_restart();
	if (!hung_up(silent, 10000)) {
		close(silent);
		close(greeted);
		fail_msg("a client that never said Hello is still connected "
			 "10 s after the restart");
	}
	close(silent);
	EXPECT_RAW(harness_raw_open(greeted, "p", &h), 0);
	EXPECT_RAW(harness_raw_close(greeted, h), 0);
	close(greeted);
	rfx_check("p");
}

/*
 * With 128 descriptors (HARNESS_NOFILE) and 40 clients, the daemon uses
 * less than half of them: the new image needs no more than that (each
 * client's connection, each pool's memfd, the socket, the state and its
 * own few), and the handover as many again at most, so the restart must
 * not fail for want of descriptors.
 */
#define NOFILE_CLIENTS 40

static void
restart_near_the_descriptor_limit(void **state)
{
	int fd[NOFILE_CLIENTS], used, i;
	uint64_t off[NOFILE_CLIENTS];
	struct pool_stats st0, st1;
	uint32_t h[NOFILE_CLIENTS];

	(void)state;
	setenv("HARNESS_NOFILE", "128", 1);
	rfx_start("[pool p]\nsize = 16M\n", "p");
	unsetenv("HARNESS_NOFILE");
	for (i = 0; i < NOFILE_CLIENTS; i++) {
		fd[i] = harness_raw_client(rfx.d.sock, "many");
		h[i] = harness_raw_handle(fd[i], "p");
		EXPECT_RAW(harness_raw_alloc(fd[i], h[i], 64, &off[i], NULL),
			   0);
	}
	used = rfx_daemon_fds();
	printf("the daemon has %d of its 128 descriptors open\n", used);
	assert_true(used < 64);
	st0 = rfx_stats();
	rfx_restart();
	st1 = rfx_stats();
	assert_int_equal(st1.live_blocks, st0.live_blocks);
	for (i = 0; i < NOFILE_CLIENTS; i++) {
		EXPECT_RAW(harness_raw_free(fd[i], h[i], off[i]), 0);
		close(fd[i]);
	}
	rfx_check("p");
}

static void
unreadable_client_kept(void **state)
{
	struct pool_stats st0, st1;
	struct timespec t0, t1;
	uint64_t off, usable, add;
	int fd, before, sent, wanted;
	struct remote *A;
	uint32_t h;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	A = remote_start(0, "p", 0);	/* it holds just what it allocates */
	remote_block(A, OP_ALLOC, 5000);
	remote_block(A, OP_ALLOC, 2 * MiB);
	fd = harness_raw_client(rfx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	for (int i = 0; i < 10; i++)
		EXPECT_RAW(harness_raw_alloc(fd, h, 1000 + 100 * (uint64_t)i,
					     &off, &usable), 0);
	st0 = rfx_stats();
	sent = harness_raw_flood(fd, h, off, 5000, 1000000);
	printf("%d requests sent, their replies unread\n", sent);
	assert_int_equal(sent, 5000);
	assert_int_equal(flood_opens(fd, "p", 3), 3);
	harness_sleep_ms(200);	/* the daemon answers what it read */

	before = harness_log_count(&rfx.d, HARNESS_RESTARTED);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wanted = harness_log_count(&rfx.d, RESTART_WANTED);
	assert_int_equal(kill(rfx.d.pid, SIGUSR2), 0);
	/*
	 * Nothing is read from the signal on: this request, sent once the
	 * daemon has taken it, waits in A's connection for the new image to
	 * serve it.
	 */
	assert_int_equal(harness_log_wait(&rfx.d, RESTART_WANTED, wanted,
					  HARNESS_RESTART_WAIT_MS), 0);
	add = remote_block(A, OP_ALLOC, 300);
	if (harness_log_wait(&rfx.d, HARNESS_RESTARTED, before, 0) != 0) {
		close(fd);
		fail_msg("SIGUSR2: A was answered, but there was no restart");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("restarted %.3f s after SIGUSR2\n",
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_int_equal(harness_log_count(&rfx.d, "dropping client"), 0);
	assert_int_equal(harness_raw_flood_replies(fd, 5000, 1000000, usable),
			 5000);
	for (int i = 0; i < 3; i++) {
		Poolmgr__Reply *rep = harness_raw_reply(fd, 2000000 +
							(uint64_t)i, 10000);

		assert_non_null(rep);
		assert_int_equal(rep->error, 0);
		assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_OPEN);
		poolmgr__reply__free_unpacked(rep, NULL);
	}
	st1 = rfx_stats();
	assert_int_equal(st1.live_blocks, st0.live_blocks + 1);
	assert_int_equal(st1.allocated_bytes, st0.allocated_bytes +
			 REMOTE_OK(A, OP_USABLE, add, 0, 0).usable);
	EXPECT_RAW(harness_raw_free(fd, h, off), 0);
	close(fd);
	for (int i = 0; i < rfx.nbook; i++)
		remote_verify(A, rfx.book[i].off);
	remote_block(A, OP_ALLOC, 1 * MiB);
	book_verify("after the restart");
	rfx_check("p");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(connect_during_restart,
					  rfx_teardown),
		cmocka_unit_test_teardown(work_in_progress, rfx_teardown),
		cmocka_unit_test_teardown(unreadable_client_kept,
					  rfx_teardown),
		cmocka_unit_test_teardown(silent_client_still_timed_out,
					  rfx_teardown),
		cmocka_unit_test_teardown(busy_clients_across_restart,
					  rfx_teardown),
		cmocka_unit_test_teardown(stop_right_after_restart,
					  rfx_teardown),
		cmocka_unit_test_teardown(stop_while_waiting_for_quiet,
					  rfx_teardown),
		cmocka_unit_test_teardown(signals_during_restart,
					  rfx_teardown),
		cmocka_unit_test_teardown(restart_near_the_descriptor_limit,
					  rfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
