/*
 * itest_alloc_wait_order.c - who goes first when room comes for
 * allocations that wait (pool_alloc_wait; docs/protocol.md, "Waiting for
 * room"): a client's own cache before its wait, the waiters before what
 * the daemon reads in the turn the room was made (a later wait, a plain
 * allocation, a cache's refill, a Realloc, a batch), and those behind in
 * the order they came.  The pools made full, the waiters and the daemon
 * stopped are alloc_wait_util.h's.
 *
 *   own_cache_first         blocks the waiter's own cache keeps go back
 *       before it waits: it gets the room they make, without a wait;
 *   later_one_behind        the daemon stopped, a free sent, then the
 *       first request of a second waiter: the daemon reads both in one
 *       turn, and the room goes to the allocation that waited for it,
 *       not to the later one, which waits behind it and is served by the
 *       next free (before, it took the room, the first waiting on);
 *   cached_one_behind       so too when the second waiter keeps a cache
 *       with a small block in it, for a size its cache has a class for
 *       and one above them: its refill (a batch) and its first try
 *       (retry_follows, before it gives its cache back) go behind the
 *       first waiter (before, each took the room); and for a small size
 *       whose refill is one block, which the room freed would hold;
 *   plain_one_behind        so too when the later allocation is a plain
 *       one (no wait): tried after the waiter, it is -ENOMEM, counted
 *       once in failed_allocs (before, it took the room);
 *   refills_while_waiting   a caching handle waits for 256 bytes in a
 *       full pool; once every block is freed, its next 256 waiting
 *       allocations take a few requests (refills that go behind those
 *       waiting), not one each (before: 256 Allocs);
 *   share_one_behind        max_alloc_waits 4: another uid's waiter
 *       came first, root's three after, and root's fourth (past its
 *       share) asks as a free comes: the room goes to the first, and the
 *       fourth, tried after those waiting, is -EAGAIN naming the share
 *       (before, it was tried at once and took the room);
 *   behind_in_their_order   max_alloc_waits 4: two of this uid's
 *       allocations wait, and three more of it ask in turn as room is
 *       made for the first: they are tried behind those waiting in the
 *       order they came, the first two wait, and the third, past the
 *       uid's share, is -EAGAIN (before, the first of them was, the two
 *       behind it counted as waiting before they had tried);
 *   counted_within_the_bound  max_alloc_waits 2, two waiting: a third
 *       that comes with room (the limit raised), behind them for a turn,
 *       is not counted in alloc_waits, which reads 2, not 3 (before, 3,
 *       above the bound);
 *   realloc_none_behind     the daemon stopped, a free sent, then a raw
 *       client's Realloc of no block (an allocation, which does not
 *       wait): read in one turn, the room goes to the allocation that
 *       waited for it, and the Realloc, tried after it, is -ENOMEM,
 *       counted once in failed_allocs (before, it took the room);
 *   realloc_moved_behind    so too for a Realloc that moves a small block
 *       to a size only the room fits;
 *   realloc_grown_behind    so too for a Realloc that grows a block into
 *       the room freed right after it;
 *   batch_behind            so too for a plain AllocBatch (no
 *       behind_waits: a cache's refill not for a waiting allocation).
 *       The raw client's blocks are where they were, their sizes too.
 *   refill_behind_bounded  a caching handle's refill for a wait of
 *       BEHIND_BOUND_MS, read with the free that made room for a waiter,
 *       goes behind it for that long at most, as the daemon logs (before,
 *       for UINT32_MAX ms, whatever its caller had left).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_wait_util.h"

#define REFILLED	256	/* a size a waiting cache refills */
#define REFILLS		256	/* allocations of it, counted */
#define REFILL_POOL	(256 * KiB)	/* refills of one REFILLED block */

/* ---- what the pool counts ----------------------------------------------- */

/*
 * p's pool counts one failed allocation more than before, and none
 * waits there.
 */
static void
failed_once_since(struct pool *p, const struct pool_stats *before)
{
	assert_int_equal(harness_stats(p).failed_allocs,
			 before->failed_allocs + 1);
	assert_int_equal(harness_stats(p).alloc_waits, 0);
}

/* Handles open on pool p's pool, as its statistics count them, are n. */
static void
clients_are(struct pool *p, uint64_t n)
{
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;

	while (harness_stats(p).clients != n) {
		if (harness_now_ms() > until)
			fail_msg("the pool never had %llu handles open",
				 (unsigned long long)n);
		harness_sleep_ms(10);
	}
}

/* ---- own_cache_first ---------------------------------------------------- */

#define CACHED		(32 * KiB)	/* blocks the cache keeps */

/*
 * In a child: it fills the pool itself through a cache, frees two
 * neighbours into the cache (kept: the daemon still has them allocated),
 * and asks for both their bytes at once, which the cache cannot serve.
 */
static int
own_cache(void *arg)
{
	static pool_off_t offs[FILL_MAX];
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;
	pool_off_t a = POOL_OFF_NONE, off;
	size_t n = 0, i, j;
	int rc;

	(void)arg;
	if ((rc = child_open("cache", 8 * CACHED, &c, &p)))
		return rc;
	while ((rc = pool_alloc(p, CACHED, &offs[n])) == 0)
		CHECK(++n < FILL_MAX, 5);
	CHECK_RC(rc, -ENOMEM, 6);
	for (i = 0; i < n && a == POOL_OFF_NONE; i++)
		for (j = 0; j < n && offs[i] % (2 * CACHED) == 0; j++)
			if (offs[j] == offs[i] + CACHED)
				a = offs[i];
	CHECK(a != POOL_OFF_NONE, 7);
	CHECK_RC(pool_free(p, a), 0, 8);
	CHECK_RC(pool_free(p, a + CACHED), 0, 9);
	CHECK_RC(pool_stats(p, &st), 0, 10);
	CHECK(st.client_cached_bytes >= 2 * CACHED, 11);
	CHECK(st.free_bytes < 2 * CACHED, 12);
	CHECK_RC(pool_alloc_wait(p, 2 * CACHED, 0, 0, LONG_WAIT_MS, &off), 0,
		 13);
	CHECK(off == a, 14);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
own_cache_first(void **state)
{
	struct pool_create_opts o = {.max_size = 4 * MiB};
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_create(conn, "cache", &o), 0);
	pid = harness_spawn(own_cache, NULL);
	assert_int_equal(harness_wait(pid), 0);
	/* Served from the room its cache gave back: it never waited. */
	assert_int_equal(waits_logged(pid), 0);
	EXPECT_RC(pool_destroy_force(conn, "cache"), 0);
}

/* ---- later_one_behind --------------------------------------------------- */

static void
later_one_behind(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("behind");
	struct want w2 = WANTS_BLOCK("behind");
	struct waiter k, k2;
	struct got g;

	(void)state;
	w2.gated = true;
	full_of_blocks(&f, "behind");
	waiting(&k, &w);
	waiter_start(&k2, &w2);
	clients_are(f.p, 3);
	if (room_to_the_first(&f, 0, &k, &k2, &g))
		fail_msg("the later allocation was answered before the "
			 "first: %d (%s)", g.rc, g.message);
	/* The later one waits, behind it, and the next free is its. */
	wait_logged(k2.pid, 0);
	unanswered(&k2, "the later allocation");
	harness_expect_checked(conn, "behind");
	(void)served_within(&k2, full_free(&f, 1));
	waiter_end(&k);
	waiter_end(&k2);
	full_end(&f, true);
}

/* ---- cached_one_behind -------------------------------------------------- */

/*
 * As later_one_behind, the later waiter (of pool name, of max_size
 * bytes, made full of blocks of size) keeping a cache, a small block
 * freed into it.  Its library then asks the daemon first what does not
 * wait: for a size its cache has a class for, a refill (an AllocBatch
 * with behind_waits), then a plain try with retry_follows before it
 * gives its cache back and waits.  Each came as the room was made for
 * the first waiter, and took it, until they went behind those waiting.
 */
static void
cached_behind(const char *name, size_t max_size, size_t size)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = max_size};
	struct want w = {.pool = name, .size = size,
			 .timeout_ms = LONG_WAIT_MS};
	struct want w2 = {.pool = name, .size = size,
			  .timeout_ms = LONG_WAIT_MS, .gated = true,
			  .cached = true};
	struct waiter k, k2;
	struct got g2 = {.rc = 1};	/* not read */

	EXPECT_RC(pool_create(conn, name, &o), 0);
	waiter_start(&k2, &w2);
	/*
	 * Its small block (and the rest of its cache's refill) is live
	 * before the pool is made full; the free into its cache is its own.
	 */
	cached_waiter_live(name);
	full_make(&f, name, 0, size);
	waiting(&k, &w);
	clients_are(f.p, 3);
	/* Its cache given back, it is served: by that room, or a free's. */
	if (room_to_the_first(&f, 0, &k, &k2, &g2) && g2.rc != 0)
		fail_msg("pool %s: the later allocation: %d (%s)", name,
			 g2.rc, g2.message);
	else if (g2.rc != 0) {
		(void)full_free(&f, 1);
		(void)served(&k2);
	}
	harness_expect_checked(conn, name);
	waiter_end(&k);
	waiter_end(&k2);
	full_end(&f, true);
}

static void
cached_one_behind(void **state)
{
	(void)state;
	cached_behind("cached", MiB, BLOCK);	/* a class of its cache */
	cached_behind("cached2", MiB, 2 * BLOCK);	/* above them all */
	/* A refill of one block, which the room freed would hold. */
	cached_behind("cached3", REFILL_POOL, REFILLED);
}

/* ---- refills_while_waiting ---------------------------------------------- */

struct refilling {
	int report;		/* the requests its allocations took */
	int go;			/* a byte: the room is all made */
};

/*
 * In a child: a caching handle waits for REFILLED bytes in the full pool
 * "refills", then, once served, allocates REFILLS more with pool_alloc_
 * wait, counting the daemon's requests meanwhile (DaemonStats, its own
 * first one not counted), and reports them.  No other client asks
 * anything meanwhile.
 */
static int
refilling(void *arg)
{
	struct refilling *r = arg;
	struct pool_daemon_stats ds0, ds1;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint64_t requests;
	char go;
	int i, rc;

	if ((rc = child_open("refills", 4 * MiB, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc_wait(p, REFILLED, 0, 0, LONG_WAIT_MS, &off), 0,
		 5);
	CHECK(harness_read_full(r->go, &go, 1) == 0, 10);
	CHECK_RC(pool_daemon_stats(c, &ds0), 0, 6);
	for (i = 0; i < REFILLS; i++)
		CHECK_RC(pool_alloc_wait(p, REFILLED, 0, 0, LONG_WAIT_MS,
					 &off), 0, 7);
	CHECK_RC(pool_daemon_stats(c, &ds1), 0, 8);
	requests = ds1.requests_total - ds0.requests_total - 1;
	CHECK(harness_write_full(r->report, &requests, sizeof(requests)) ==
	      0, 9);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * A caching handle's pool_alloc_wait of a small size waits in a full
 * pool; room comes (every block freed), and its next REFILLS allocations
 * take a few requests, refills of up to 64 blocks that go behind those
 * waiting (none wait now), not one request each.  (Before, its cache
 * asked no refill for an allocation that waits: each was an Alloc.)
 */
static void
refills_while_waiting(void **state)
{
	static struct full f;
	struct refilling r;
	uint64_t requests;
	int fds[2], go[2];
	size_t i;
	pid_t pid;

	(void)state;
	full_make(&f, "refills", 16 * MiB, BLOCK);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(go), 0);
	r.report = fds[1];
	r.go = go[0];
	pid = harness_spawn(refilling, &r);
	assert_true(pid > 0);
	close(fds[1]);
	close(go[0]);
	wait_logged(pid, 0);
	for (i = 0; i < f.n; i++)
		(void)full_free(&f, i);
	/* Our frees done: its count is of its own requests. */
	assert_int_equal(harness_write_full(go[1], "g", 1), 0);
	assert_int_equal(harness_read_full(fds[0], &requests,
					   sizeof(requests)), 0);
	close(fds[0]);
	close(go[1]);
	assert_int_equal(harness_wait(pid), 0);
	if (requests > REFILLS / 16)
		fail_msg("%d allocations of %d bytes that waited took %llu "
			 "requests", REFILLS, REFILLED,
			 (unsigned long long)requests);
	harness_expect_checked(conn, "refills");
	full_end(&f, true);
}

/* ---- plain_one_behind --------------------------------------------------- */

/*
 * As later_one_behind, the later allocation a plain one (no wait_ms):
 * read in the same turn as the free, it is tried after the waiter, and
 * refused for want of room, counted once in failed_allocs, as it would
 * have been a moment later.  Before, it took the room.
 */
static void
plain_one_behind(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("plain");
	struct want w2 = {.pool = "plain", .size = BLOCK, .gated = true};
	struct pool_stats before;
	struct waiter k, k2;
	struct got g;

	(void)state;
	full_of_blocks(&f, "plain");
	waiting(&k, &w);
	waiter_start(&k2, &w2);
	clients_are(f.p, 3);
	before = harness_stats(f.p);
	if (!room_to_the_first(&f, 0, &k, &k2, &g))
		g = waiter_got(&k2);
	if (g.rc != -ENOMEM)
		fail_msg("the plain allocation: %d (%s)", g.rc, g.message);
	failed_once_since(f.p, &before);
	harness_expect_checked(conn, "plain");
	waiter_end(&k);
	waiter_end(&k2);
	full_end(&f, true);
}

/* ---- share_one_behind --------------------------------------------------- */

/*
 * max_alloc_waits 4 (a uid's share 3): another uid's waiter came first,
 * then root's three, and root's fourth asks as room is made.  The room
 * goes to the first; root's fourth, which may not wait, tries after those
 * waiting and is -EAGAIN in the share's words, and root's three are
 * served by the frees after.  (Before, the fourth, past its uid's share,
 * was tried at once and took the room: the uid with the most waiting
 * went ahead of them all.)
 */
static void
share_one_behind(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("sharebehind");
	struct want other = w, fourth = w;
	struct waiter k[3], extra, theirs;
	struct got g;
	int i;

	(void)state;
	harness_skip_unless_root("run a waiter as another uid");
	waits_bounded(4);
	full_of_blocks(&f, "sharebehind");
	open_to_all("sharebehind");
	other.uid = 65534;
	waiting(&theirs, &other);
	for (i = 0; i < 3; i++)
		waiting(&k[i], &w);
	fourth.gated = true;
	waiter_start(&extra, &fourth);
	clients_are(f.p, 6);
	if (!room_to_the_first(&f, 0, &theirs, &extra, &g))
		g = waiter_got(&extra);
	if (g.rc != -EAGAIN ||
	    !strstr(g.message, "uid 0 has 3 of pool sharebehind's "
		    "allocations waiting for room; one uid may have 3"))
		fail_msg("root's fourth: %d (%s)", g.rc, g.message);
	waiter_end(&extra);
	held_now("sharebehind", 3);
	for (i = 0; i < 3; i++) {
		(void)full_free(&f, (size_t)i + 1);
		(void)served(&k[i]);
	}
	harness_expect_checked(conn, "sharebehind");
	waiters_end(k, 3);
	waiter_end(&theirs);
	full_end(&f, true);
}

/* ---- behind_in_their_order --------------------------------------------- */

/*
 * Where, past from, the daemon logged that pid waits for room (first,
 * behind those waiting or not); -1 if it has not.  The daemon logs it as
 * it reads the request: the order of these lines is the order it read
 * the requests in, whatever order epoll gave it their sockets in.
 */
static long
wait_logged_at(long from, pid_t pid)
{
	char line[512], what[64];
	long at = -1, pos = from;
	FILE *f;

	waits_words(what, sizeof(what), pid, "");
	if (!(f = fopen(d.log, "r")))
		return -1;
	if (fseek(f, from, SEEK_SET) == 0)
		for (; fgets(line, sizeof(line), f); pos = ftell(f))
			if (strstr(line, what)) {
				at = pos;
				break;
			}
	fclose(f);
	return at;
}

/*
 * The order the daemon read the first requests of waiters k[0] to
 * k[n - 1] in, past from in its log (each has begun to wait): indexes
 * into k, in order[0] to order[n - 1].
 */
static void
read_order(long from, const struct waiter *k, size_t n, size_t *order)
{
	long at[8];
	size_t i, j, tmp;

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		wait_logged(k[i].pid, 0);
		at[i] = wait_logged_at(from, k[i].pid);
		assert_true(at[i] >= 0);
		order[i] = i;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (at[order[j]] < at[order[i]]) {
				tmp = order[i];
				order[i] = order[j];
				order[j] = tmp;
			}
}

/*
 * max_alloc_waits 4 (a uid's share 3): two of this uid's allocations
 * wait, and three more of it ask as room is made for the first: the
 * daemon, stopped, is sent the free and then the three, each once the
 * one before it is sent (the thread or child waits for its answer), and
 * let go reads them in one turn.  The three go behind those waiting,
 * untried, and are tried in the order the daemon read them (its log
 * says which: not necessarily the order they were sent in, which is
 * epoll's to keep): the first two of them begin to wait (the uid then
 * has 3 waiting, its share), and the last read is the one refused,
 * -EAGAIN in the share's words.  (Before, the first of the three was
 * refused: the two behind it, not yet tried, were counted as waiting,
 * and it was told the uid had 3 waiting when it had 1.)
 */
static void
behind_in_their_order(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("behindorder");
	struct want later = w;
	struct waiter first, second, k[3];
	struct pollfd pf[3];
	struct freeing fr;
	char words[128];
	size_t order[3];
	long mark;
	struct got g;
	int i;

	(void)state;
	waits_bounded(4);
	full_of_blocks(&f, "behindorder");
	waiting(&first, &w);
	waiting(&second, &w);
	later.gated = true;
	for (i = 0; i < 3; i++) {
		waiter_start(&k[i], &later);
		pf[i].fd = k[i].from;
	}
	clients_are(f.p, 6);
	for (i = 0; i < 3; i++)
		at_gate(&k[i]);
	mark = (long)harness_log_mark(&d);
	/* The free, then the three in turn: the daemon reads all in one. */
	free_sent_stopped(&fr, &f, 0);
	for (i = 0; i < 3; i++)
		ungate(&k[i]);
	free_done(&fr);
	(void)served_within(&first, fr.off);
	read_order(mark, k, 3, order);
	/* One of the three is answered: the last read. */
	some_answered(pf, 3, "behindorder", "the three later allocations");
	for (i = 0; i < 2; i++)
		if (pf[order[i]].revents & POLLIN) {
			g = waiter_got(&k[order[i]]);
			fail_msg("later allocation %d of 3 read was answered "
				 "before the last: %d (%s)", i + 1, g.rc,
				 g.message);
		}
	snprintf(words, sizeof(words), "uid %u has 3 of pool behindorder's "
		 "allocations waiting for room; one uid may have 3",
		 (unsigned)getuid());
	(void)answered(&k[order[2]], -EAGAIN, words);
	waiter_end(&k[order[2]]);
	unanswered(&second, "the second waiter");
	unanswered(&k[order[0]], "the first later allocation read");
	unanswered(&k[order[1]], "the second later allocation read");
	held_now("behindorder", 3);
	harness_expect_checked(conn, "behindorder");
	/* In the order they waited, a free each. */
	(void)full_free(&f, 1);
	(void)served(&second);
	for (i = 0; i < 2; i++) {
		(void)full_free(&f, (size_t)i + 2);
		(void)served(&k[order[i]]);
	}
	waiter_end(&first);
	waiter_end(&second);
	for (i = 0; i < 2; i++)
		waiter_end(&k[order[i]]);
	full_end(&f, true);
}

/* ---- counted_within_the_bound ------------------------------------------ */

struct stating {
	struct pool *p;
	struct pool_stats st;
};

static int
stats_of(void *arg)
{
	struct stating *sg = arg;

	return pool_stats(sg->p, &sg->st);
}

struct setting {
	const char *pool;
	struct pool_set_opts o;
};

static int
set_it(void *arg)
{
	struct setting *st = arg;

	return pool_set(conn, st->pool, &st->o);
}

/*
 * max_alloc_waits 2: two allocations wait in a pool full by its limit,
 * and the daemon, stopped, is sent the limit raised by a block, a third
 * allocation and then a stats request, each once the one before is sent,
 * and let go reads them in one turn.  The third goes behind the two,
 * untried, and the stats read meanwhile say 2 waiting, not 3 above the
 * bound (before, they said 3).  Then the first is served, and the third,
 * tried, waits: 2 again.  Room made by a raised limit, not a free: the
 * pages a free lets go of are work queued, which the stats would wait
 * for, past the tries.
 */
static void
counted_within_the_bound(void **state)
{
	static struct full f;
	struct pool_create_opts co = {.max_size = MiB};
	struct setting raise = {.pool = "counted",
				.o = {.which = POOL_SET_LIMIT,
				      .limit = 256 * KiB}};
	struct want w = WANTS_BLOCK("counted");
	struct want later = w;
	struct waiter first, second, k;
	struct stating sg = {0};
	struct asked set, stats;
	struct pool_conn *c2;

	(void)state;
	waits_bounded(2);
	EXPECT_RC(pool_create_set(conn, "counted", &co, &raise.o), 0);
	full_make(&f, "counted", 0, BLOCK);
	waiting(&first, &w);
	waiting(&second, &w);
	later.gated = true;
	waiter_start(&k, &later);
	clients_are(f.p, 4);
	EXPECT_RC(pool_connect(d.sock, &c2), 0);
	EXPECT_RC(pool_open(c2, "counted", &sg.p), 0);
	at_gate(&k);
	daemon_stop();
	raise.o.limit += BLOCK;
	asked_sent(&set, set_it, &raise);
	ungate(&k);
	asked_sent(&stats, stats_of, &sg);
	daemon_goes_on();
	EXPECT_RC(asked_answer(&set), 0);
	EXPECT_RC(asked_answer(&stats), 0);
	if (sg.st.alloc_waits != 2)
		fail_msg("alloc_waits read %u with one behind those waiting; "
			 "max_alloc_waits is 2", sg.st.alloc_waits);
	(void)served(&first);
	harness_expect_checked(conn, "counted");
	unanswered(&k, "the third allocation");
	held_now("counted", 2);
	(void)full_free(&f, 0);
	(void)served(&second);
	(void)full_free(&f, 1);
	(void)served(&k);
	pool_close(sg.p);
	pool_disconnect(c2);
	waiter_end(&first);
	waiter_end(&second);
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- realloc_none_behind, and others sent raw ------------------------ */

/*
 * k waits in f's pool.  The daemon stopped, block i of f is freed and
 * then raw client fd's req sent (one that takes room and does not wait),
 * and the daemon let go reads both in one turn.  The room must go to k,
 * which waited for it: req, tried after it, finds none, and its error is
 * what this returns.  Before, req took the room, and k waited on.
 */
static int
raw_room_to_the_first(struct full *f, size_t i, struct waiter *k, int fd,
		      Poolmgr__Request *req)
{
	struct freeing fr;
	Poolmgr__Reply *r;
	struct got g;
	int rc;

	free_sent_stopped(&fr, f, i);
	assert_int_equal(harness_raw_post(fd, req), 0);
	free_done(&fr);
	if (!(r = harness_raw_reply(fd, req->id, LONG_WAIT_MS)))
		fail_msg("pool %s: the %s was not answered", f->name,
			 harness_raw_name(req));
	rc = r->error;
	poolmgr__reply__free_unpacked(r, NULL);
	if (rc == 0)
		fail_msg("pool %s: the %s read with the free was served, the "
			 "allocation that waited for the room waiting on",
			 f->name, harness_raw_name(req));
	g = served(k);
	if (!inside(g.off, fr.off, f->each))
		fail_msg("the waiter got 0x%llx, not the room freed at 0x%llx",
			 (unsigned long long)g.off,
			 (unsigned long long)fr.off);
	return rc;
}

/*
 * A waiter of f's pool waits, and raw client fd's req comes in the turn
 * of the free of block i (raw_room_to_the_first): -ENOMEM, as it would
 * have been a moment later, counted once in failed_allocs.
 */
static void
raw_one_behind(struct full *f, size_t i, int fd, Poolmgr__Request *req)
{
	struct want w = WANTS_BLOCK(f->name);
	struct pool_stats before;
	struct waiter k;

	waiting(&k, &w);
	before = harness_stats(f->p);
	assert_int_equal(raw_room_to_the_first(f, i, &k, fd, req), -ENOMEM);
	failed_once_since(f->p, &before);
	harness_expect_checked(conn, f->name);
	waiter_end(&k);
}

/*
 * A pool full of f's blocks but for two of a raw client's: one small,
 * made first, and one of BLOCK (mine) with one of f's (next) right after
 * it.  The raw client's requests come in the turn of a free of next, or
 * of other, another block of f's.
 */
struct raw_full {
	struct full f;
	int fd;
	uint32_t h;
	uint64_t small, mine;
	size_t next, other;
};

static void
raw_full_make(struct raw_full *r, const char *name)
{
	struct pool_create_opts o = {.max_size = MiB};
	size_t i;

	EXPECT_RC(pool_create(conn, name, &o), 0);
	r->fd = harness_raw_client(d.sock, "raw");
	r->h = harness_raw_handle(r->fd, name);
	EXPECT_RAW(harness_raw_alloc(r->fd, r->h, RAW_SMALL, &r->small,
				     NULL), 0);
	full_make(&r->f, name, 0, BLOCK);
	i = adjacent_pair(&r->f, 0);
	r->mine = full_free(&r->f, i);
	EXPECT_RAW(harness_raw_alloc(r->fd, r->h, BLOCK, &r->mine, NULL), 0);
	assert_int_equal(r->mine, r->f.off[i + 1] - BLOCK);
	r->next = i + 1;
	r->other = i + 2 < r->f.n ? i + 2 : 0;
	assert_true(r->other != i && r->other != i + 1);
}

/* Its raw client's blocks as they were (nothing moved, nothing grew). */
static void
raw_full_end(struct raw_full *r)
{
	uint64_t off = r->small;

	EXPECT_RAW(harness_raw_realloc(r->fd, r->h, &off, RAW_SMALL, true),
		   0);
	assert_int_equal(off, r->small);
	off = r->mine;
	EXPECT_RAW(harness_raw_realloc(r->fd, r->h, &off, BLOCK, true), 0);
	assert_int_equal(off, r->mine);
	close(r->fd);
	full_end(&r->f, true);
}

/* A Realloc of raw client r's handle, of off to size, in *req. */
static void
raw_realloc_req(Poolmgr__Request *req, Poolmgr__Realloc *m,
		const struct raw_full *r, uint64_t off, uint64_t size)
{
	m->handle = r->h;
	m->offset = off;
	m->size = size;
	req->body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req->realloc = m;
}

/*
 * What takes room and does not wait, read in the turn of a free, goes
 * behind the allocations waiting for that room, as an Alloc without
 * wait_ms does, and is -ENOMEM, the waiter served by the room (before,
 * each took it).  A raw client sends them: libpoolclient allocates with
 * Alloc.  A Realloc of no block (an allocation):
 */
static void
realloc_none_behind(void **state)
{
	static struct raw_full r;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;

	(void)state;
	raw_full_make(&r, "reallocnone");
	raw_realloc_req(&req, &m, &r, POOL_OFF_NONE, BLOCK);
	raw_one_behind(&r.f, r.other, r.fd, &req);
	raw_full_end(&r);
}

/* A Realloc that moves a small block to a size only the room fits: */
static void
realloc_moved_behind(void **state)
{
	static struct raw_full r;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;

	(void)state;
	raw_full_make(&r, "reallocmoved");
	raw_realloc_req(&req, &m, &r, r.small, BLOCK);
	raw_one_behind(&r.f, r.other, r.fd, &req);
	raw_full_end(&r);
}

/* A Realloc that grows a block into the room right after it: */
static void
realloc_grown_behind(void **state)
{
	static struct raw_full r;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;

	(void)state;
	raw_full_make(&r, "reallocgrown");
	/* Below the large threshold (128 KiB): grown in place, not moved. */
	raw_realloc_req(&req, &m, &r, r.mine, BLOCK + BLOCK / 2);
	raw_one_behind(&r.f, r.next, r.fd, &req);
	raw_full_end(&r);
}

/* A plain AllocBatch (a cache's refill not for a waiting allocation): */
static void
batch_behind(void **state)
{
	static struct raw_full r;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;
	uint64_t one = BLOCK;

	(void)state;
	raw_full_make(&r, "batchbehind");
	m.handle = r.h;
	m.n_sizes = 1;
	m.sizes = &one;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &m;
	raw_one_behind(&r.f, r.other, r.fd, &req);
	raw_full_end(&r);
}

/* ---- refill_behind_bounded -------------------------------------------- */

#define BEHIND_BOUND_MS	45000	/* a caching waiter's: not meant to end */

/*
 * The bound the daemon logged, past mark, for the batch of pid gone
 * behind those waiting (in ms; UINT32_MAX said so); fails the test if it
 * logged none.
 */
static unsigned long
batch_behind_logged(long mark, pid_t pid)
{
	char line[512], what[64], *at;
	unsigned long ms = 0;
	bool found = false;
	FILE *f;

	snprintf(what, sizeof(what), "pid %d's batch of ", (int)pid);
	assert_int_equal(harness_log_wait(&d, what, 0, LOG_WAIT_MS), 0);
	assert_non_null(f = fopen(d.log, "r"));
	assert_int_equal(fseek(f, mark, SEEK_SET), 0);
	while (!found && fgets(line, sizeof(line), f))
		if (strstr(line, what) && (at = strstr(line, " for ")))
			found = sscanf(at, " for %lu ms at most", &ms) == 1;
	fclose(f);
	if (!found)
		fail_msg("pid %d's batch behind those waiting: no bound logged",
			 (int)pid);
	return ms;
}

/*
 * As cached_one_behind, the later waiter's wait BEHIND_BOUND_MS: its
 * refill, read with the free, goes behind the first waiter for that long
 * at most, the time its caller waits.  Before, the daemon armed it for
 * UINT32_MAX ms: a refill that could stand there longer than the
 * allocation it stood for was to wait.
 */
static void
refill_behind_bounded(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = MiB};
	struct want w = {.pool = "refillbound", .size = BLOCK,
			 .timeout_ms = LONG_WAIT_MS};
	struct want w2 = {.pool = "refillbound", .size = BLOCK,
			  .timeout_ms = BEHIND_BOUND_MS, .gated = true,
			  .cached = true};
	struct got g2 = {.rc = 1};	/* not read */
	struct waiter k, k2;
	unsigned long ms;
	long mark;

	(void)state;
	EXPECT_RC(pool_create(conn, "refillbound", &o), 0);
	waiter_start(&k2, &w2);
	cached_waiter_live("refillbound");
	full_make(&f, "refillbound", 0, BLOCK);
	waiting(&k, &w);
	clients_are(f.p, 3);
	mark = (long)harness_log_mark(&d);
	if (room_to_the_first(&f, 0, &k, &k2, &g2) && g2.rc != 0)
		fail_msg("the later allocation: %d (%s)", g2.rc, g2.message);
	ms = batch_behind_logged(mark, k2.pid);
	if (ms == 0 || ms > BEHIND_BOUND_MS)
		fail_msg("a refill for a wait of %d ms went behind those "
			 "waiting for %lu ms at most", BEHIND_BOUND_MS, ms);
	if (g2.rc != 0) {
		(void)full_free(&f, 1);
		(void)served(&k2);
	}
	harness_expect_checked(conn, "refillbound");
	waiter_end(&k);
	waiter_end(&k2);
	full_end(&f, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(own_cache_first),
		cmocka_unit_test(later_one_behind),
		cmocka_unit_test(cached_one_behind),
		cmocka_unit_test(plain_one_behind),
		cmocka_unit_test(refills_while_waiting),
		cmocka_unit_test_teardown(share_one_behind, conf_restored),
		cmocka_unit_test_teardown(behind_in_their_order,
					  conf_restored),
		cmocka_unit_test_teardown(counted_within_the_bound,
					  conf_restored),
		cmocka_unit_test(realloc_none_behind),
		cmocka_unit_test(realloc_moved_behind),
		cmocka_unit_test(realloc_grown_behind),
		cmocka_unit_test(batch_behind),
		cmocka_unit_test(refill_behind_bounded),
	};

	return cmocka_run_group_tests(tests, alloc_wait_setup,
				      alloc_wait_teardown);
}
