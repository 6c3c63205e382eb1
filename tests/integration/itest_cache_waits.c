/*
 * itest_cache_waits.c - the client-side cache's flushes on their way in
 * other threads: those that fail, and the calls that wait for them.
 *
 * A flush is held or failed by the send of cache_util.c (cache_util.h;
 * the daemon of each test and its handles are there too).  What the cache
 * keeps while every send goes is itest_cache.c's, what a flush that
 * cannot be sent keeps itest_cache_unsent.c's.  Against the real daemon:
 *
 *   - threads that allocate and free while, now and then, no FreeBatch
 *     can be sent lose no block: one flush at the end gives every one
 *     back;
 *   - flushes of one shard that are on their way at once and all fail
 *     leave the cache at most twice its budget;
 *   - pool_flush and pool_set_cache(0) say 0 only when no block the cache
 *     had is left in it or on its way: they wait for another thread's
 *     flush, and give back what it could not send;
 *   - so do an allocation or realloc refused for want of room, before
 *     they try again, and pool_trim, before the daemon trims: no refusal
 *     and no page left behind for blocks another thread's flush has on
 *     their way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_util.h"

/* ---- threads while flushes fail ------------------------------------------ */

#define CHURN_THREADS	4
#define CHURN_OPS	20000
#define CHURN_LIVE	64

static struct pool *churn_pool;
static pthread_mutex_t churn_lock = PTHREAD_MUTEX_INITIALIZER;
static pool_off_t churn_handoff = POOL_OFF_NONE;	/* under churn_lock */

/* Swap a block for the one another thread left: frees cross shards. */
static pool_off_t
churn_swap(pool_off_t off)
{
	pool_off_t other;

	pthread_mutex_lock(&churn_lock);
	other = churn_handoff;
	churn_handoff = off;
	pthread_mutex_unlock(&churn_lock);
	return other;
}

static void *
churn(void *arg)
{
	pool_off_t live[CHURN_LIVE], off;
	unsigned seed = (unsigned)(uintptr_t)arg, i, j, n = 0;
	int rc, bad = 0;

	for (i = 0; i < CHURN_OPS && !bad; i++) {
		if (n == CHURN_LIVE || (n > 0 && rand_r(&seed) % 3 == 0)) {
			j = (unsigned)rand_r(&seed) % n;
			off = live[j];
			live[j] = live[--n];
			/* Freed here, or by the thread that takes it. */
			if (i % 7 == 0)
				off = churn_swap(off);
			if (off != POOL_OFF_NONE &&
			    (rc = pool_free(churn_pool, off)) != 0)
				bad = rc;
			continue;
		}
		rc = pool_alloc(churn_pool, 16 + rand_r(&seed) % 2000, &off);
		if (rc != 0)
			bad = rc;
		else
			live[n++] = off;
		if (i % 997 == 0 && (rc = pool_flush(churn_pool)) != 0 &&
		    rc != -ENOBUFS)
			bad = rc;
	}
	while (n > 0 && !bad)
		if ((rc = pool_free(churn_pool, live[--n])) != 0)
			bad = rc;
	return (void *)(intptr_t)bad;
}

/*
 * Threads allocate and free (some blocks in another thread than the one
 * that got them) through a small cache while, now and then, no FreeBatch
 * can be sent: the flushes of the budget, of pool_flush and of the sheds
 * fail and are tried again, and in the end one flush gives every block
 * back, none lost.
 */
static void
threads_lose_nothing_while_flushes_fail(void **state)
{
	pthread_t t[CHURN_THREADS];
	struct pool_conn *c;
	struct pool_stats st;
	void *ret;
	int i, round;

	(void)state;
	churn_pool = open_ok(&c, "c");
	EXPECT_RC(pool_set_cache(churn_pool, 64 * 1024), 0);
	fail_free_batches();
	for (i = 0; i < CHURN_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn,
						(void *)(uintptr_t)(i + 1)), 0);
	/* Fail FreeBatches for a millisecond in every two. */
	for (round = 0; round < 200; round++) {
		__atomic_store_n(&freebatch_failing, round % 2 == 0,
				 __ATOMIC_RELEASE);
		harness_sleep_ms(1);
	}
	for (i = 0; i < CHURN_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		if (ret != NULL)
			fail_msg("thread %d: %s", i,
				 pool_strerror((int)(intptr_t)ret));
	}
	send_free_batches();
	if (churn_handoff != POOL_OFF_NONE)
		EXPECT_RC(pool_free(churn_pool, churn_handoff), 0);
	churn_handoff = POOL_OFF_NONE;
	EXPECT_RC(pool_flush(churn_pool), 0);
	st = stats(churn_pool);
	printf("cache: %d threads, %u operations each, %d FreeBatches "
	       "refused: %" PRIu64 " B left allocated\n", CHURN_THREADS,
	       CHURN_OPS, __atomic_load_n(&freebatch_refused, __ATOMIC_RELAXED),
	       st.allocated_bytes);
	assert_int_equal(st.allocated_bytes, 0);
	check(c, "c");
	pool_close(churn_pool);
	pool_disconnect(c);
}

#define AT_ONCE		8
#define AT_ONCE_BUDGET	(64 * 1024)

static struct pool *at_once_pool;
static struct thread_hold at_once_hold[AT_ONCE];

/* A pool_flush held before its first FreeBatch, which then fails. */
static void *
job_held_failing_flush(void *arg)
{
	my_hold = arg;
	(void)pool_flush(at_once_pool);
	my_hold = NULL;
	return NULL;
}

/*
 * Flushes of one shard on their way at once, which all fail, put back no
 * more than the cache may hold: twice its budget, counting what they
 * have on their way.  This thread frees a budget's worth of blocks into
 * its shard, another thread's pool_flush takes them and is held before
 * its send; eight times, then once more; an allocation of an empty class
 * meanwhile is refilled; then the sends all fail.  Once the flushes on
 * their way fill the bound, the frees go to the daemon: a pool_flush
 * then finds nothing to take and waits for the held ones, and flushes
 * again (and fails) what they put back.  (The old library let the shard
 * fill again behind each flush: every flush put its budget's worth back,
 * nine times the budget in all, and the refill added its blocks on top.)
 */
static void
failed_flushes_at_once_keep_twice_the_budget(void **state)
{
	static pool_off_t offs[(AT_ONCE + 1) * 256];
	pthread_t t[AT_ONCE];
	struct pool_conn *c;
	struct pool_stats st;
	pool_off_t extra;
	unsigned i, j;
	bool held;

	(void)state;
	at_once_pool = open_ok(&c, "c");
	EXPECT_RC(pool_set_cache(at_once_pool, AT_ONCE_BUDGET), 0);
	for (i = 0; i < (AT_ONCE + 1) * 256; i++)
		EXPECT_RC(pool_alloc(at_once_pool, 256, &offs[i]), 0);
	EXPECT_RC(pool_flush(at_once_pool), 0);
	for (i = 0; i <= AT_ONCE; i++) {
		/* 256 blocks of 256 B: the budget, not over it. */
		for (j = 0; j < 256; j++)
			EXPECT_RC(pool_free(at_once_pool, offs[i * 256 + j]),
				  0);
		if (i == 0)
			assert_int_equal(stats(at_once_pool).client_cached_bytes,
					 AT_ONCE_BUDGET);
		if (i == AT_ONCE)
			break;
		memset(&at_once_hold[i], 0, sizeof(at_once_hold[i]));
		at_once_hold[i].fail = true;
		sem_init(&at_once_hold[i].sent, 0, 0);
		sem_init(&at_once_hold[i].go, 0, 0);
		held = stats(at_once_pool).client_cached_bytes > 0;
		assert_int_equal(pthread_create(&t[i], NULL,
						job_held_failing_flush,
						&at_once_hold[i]), 0);
		if (held)
			sem_wait(&at_once_hold[i].sent);
	}
	EXPECT_RC(pool_alloc(at_once_pool, 1000, &extra), 0);
	EXPECT_RC(pool_free(at_once_pool, extra), 0);
	for (i = 0; i < AT_ONCE; i++)
		sem_post(&at_once_hold[i].go);
	for (i = 0; i < AT_ONCE; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	st = stats(at_once_pool);
	printf("cache: a %d B budget, %d flushes of its shard failed at "
	       "once: %" PRIu64 " B allocated, %" PRIu64 " B of it cached\n",
	       AT_ONCE_BUDGET, AT_ONCE, st.allocated_bytes,
	       st.client_cached_bytes);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	if (st.client_cached_bytes > 2 * AT_ONCE_BUDGET)
		fail_msg("%" PRIu64 " B cached, over twice the budget (%d B)",
			 st.client_cached_bytes, 2 * AT_ONCE_BUDGET);
	EXPECT_RC(pool_flush(at_once_pool), 0);
	st = stats(at_once_pool);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	check(c, "c");
	pool_close(at_once_pool);
	pool_disconnect(c);
}

/* ---- a flush that says 0 leaves nothing behind --------------------------- */

static struct pool *behind_pool;
static bool behind_by_budget;	/* pool_set_cache(0), not pool_flush */
static int rc_behind;
static sem_t behind_done;

static void *
job_flush_all(void *arg)
{
	(void)arg;
	rc_behind = behind_by_budget ? pool_set_cache(behind_pool, 0) :
		    pool_flush(behind_pool);
	sem_post(&behind_done);
	return NULL;
}

/* Wait for sem at most ms milliseconds; whether it came. */
static bool
sem_wait_ms(sem_t *sem, long ms)
{
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while ((rc = sem_timedwait(sem, &ts)) != 0 && errno == EINTR)
		;
	return rc == 0;
}

/*
 * pool_flush's 0 says that no block the cache had is cached or on its way
 * any more, those another thread's flush has on its way included: thread
 * T's flush takes every block of this thread's shard and is held before
 * its send; thread M's pool_flush (or pool_set_cache(0)) finds nothing to
 * take; then T's send fails and T puts the blocks back.  M must not have
 * said 0 while that could happen: it waits for T and gives the blocks
 * back itself, or says why it could not.  M is given a second to return
 * before T is let go, which a flush that does not wait needs.  (The old
 * library's M returned 0 at once, and the blocks were back in the cache
 * after it: a program that flushed before reading its statistics, or
 * before it forked, found them still cached.)
 */
static void
flush_leaves_nothing_behind(bool by_budget)
{
	static pool_off_t offs[64];
	struct pool_conn *c;
	struct pool_stats st;
	pthread_t t, m;
	uint64_t cached;
	bool early;
	int i;

	behind_pool = open_ok(&c, "c");
	behind_by_budget = by_budget;
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(behind_pool, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(behind_pool, offs[i]), 0);
	cached = stats(behind_pool).client_cached_bytes;
	assert_true(cached >= 64 * 256);
	memset(&hold_t, 0, sizeof(hold_t));
	hold_t.fail = true;
	sem_init(&hold_t.sent, 0, 0);
	sem_init(&hold_t.go, 0, 0);
	sem_init(&behind_done, 0, 0);

	assert_int_equal(pthread_create(&t, NULL, job_failing_flush,
					behind_pool), 0);
	sem_wait(&hold_t.sent);		/* T has every block on its way */
	assert_int_equal(pthread_create(&m, NULL, job_flush_all, NULL), 0);
	early = sem_wait_ms(&behind_done, 1000);
	sem_post(&hold_t.go);		/* T's send fails: the blocks back */
	assert_int_equal(pthread_join(t, NULL), 0);
	if (!early)
		sem_wait(&behind_done);
	assert_int_equal(pthread_join(m, NULL), 0);
	EXPECT_RC(rc_failed_flush, -ENOBUFS);
	st = stats(behind_pool);
	printf("cache: %s while another flush had %" PRIu64 " B on its way, "
	       "which failed: %s (%s T failed), then %" PRIu64 " B "
	       "allocated, %" PRIu64 " B of it cached\n",
	       by_budget ? "pool_set_cache(0)" : "pool_flush", cached,
	       pool_strerror(rc_behind), early ? "before" : "after",
	       st.allocated_bytes, st.client_cached_bytes);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	if (rc_behind == 0 && st.client_cached_bytes != 0)
		fail_msg("%s returned 0, and then %" PRIu64 " B it had were "
			 "back in the cache", by_budget ? "pool_set_cache(0)" :
			 "pool_flush", st.client_cached_bytes);
	if (rc_behind != 0)
		EXPECT_RC(rc_behind, -ENOBUFS);
	EXPECT_RC(pool_flush(behind_pool), 0);
	st = stats(behind_pool);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	check(c, "c");
	pool_close(behind_pool);
	pool_disconnect(c);
}

static void
flush_waits_for_flushes_on_their_way(void **state)
{
	(void)state;
	flush_leaves_nothing_behind(false);
}

static void
cache_off_waits_for_flushes_on_their_way(void **state)
{
	(void)state;
	flush_leaves_nothing_behind(true);
}

/* ---- a flush for room waits for flushes on their way --------------------- */

enum room_job { ROOM_ALLOC, ROOM_REALLOC, ROOM_TRIM };

#define ROOM_QUOTA	(1 << 20)
#define ROOM_ASK	(128 << 10)

static struct pool *room_pool;
static enum room_job room_job;
static pool_off_t room_small, room_got;
static int rc_room;
static sem_t room_done;

static void *
job_room(void *arg)
{
	(void)arg;
	switch (room_job) {
	case ROOM_ALLOC:
		rc_room = pool_alloc(room_pool, ROOM_ASK, &room_got);
		break;
	case ROOM_REALLOC:
		room_got = room_small;
		rc_room = pool_realloc(room_pool, room_small, ROOM_ASK,
				       &room_got);
		break;
	case ROOM_TRIM:
		rc_room = pool_trim(room_pool);
		break;
	}
	sem_post(&room_done);
	return NULL;
}

static const char *
room_job_name(void)
{
	return room_job == ROOM_ALLOC ? "pool_alloc" :
	       room_job == ROOM_REALLOC ? "pool_realloc" : "pool_trim";
}

/*
 * Thread T flushes room_pool's cache and is held before its first
 * FreeBatch, which then goes, or fails (fail) and T puts the blocks back;
 * meanwhile thread M runs room_job, and is given a second to return
 * before T is let go, which a call that does not wait for T needs.
 * Whether M returned before T was let go.
 */
static bool
room_job_while_a_flush_is_held(bool fail)
{
	pthread_t t, m;
	bool early;

	memset(&hold_t, 0, sizeof(hold_t));
	hold_t.fail = fail;
	sem_init(&hold_t.sent, 0, 0);
	sem_init(&hold_t.go, 0, 0);
	sem_init(&room_done, 0, 0);
	assert_int_equal(pthread_create(&t, NULL, job_failing_flush,
					room_pool), 0);
	sem_wait(&hold_t.sent);		/* T has every block on its way */
	assert_int_equal(pthread_create(&m, NULL, job_room, NULL), 0);
	early = sem_wait_ms(&room_done, 1000);
	sem_post(&hold_t.go);		/* T's send goes, or fails */
	assert_int_equal(pthread_join(t, NULL), 0);
	if (!early)
		sem_wait(&room_done);
	assert_int_equal(pthread_join(m, NULL), 0);
	EXPECT_RC(rc_failed_flush, fail ? -ENOBUFS : 0);
	return early;
}

/*
 * A request refused for want of room is tried again only after the
 * blocks that another thread's flush has on their way are settled.  Pool
 * "room" has a quota of 1 MiB; 64 blocks of 1 KiB sit in this thread's
 * cache and a large block leaves 64 to 68 KiB of the quota free.  Thread
 * T's pool_flush takes the cached blocks and is held before its send;
 * thread M asks for 128 KiB (pool_alloc, or pool_realloc of a live 1 KiB
 * block), which fits only once the cached blocks are freed.  The daemon
 * refuses M's first try; M must not give up while T has the blocks: it
 * waits, and gets its 128 KiB once T's send has freed them, or, when the
 * send fails, once M has flushed again what T put back.  (The old
 * library's M flushed a cache that T had emptied, tried again at once
 * and returned -EDQUOT, before T's send.)
 */
static void
refusal_waits_for_flushes_on_their_way(enum room_job job, bool fail)
{
	struct pool_create_opts o = {.max_size = 16 << 20, .mode = 0600,
				     .quota = ROOM_QUOTA};
	static pool_off_t offs[64];
	struct pool_conn *c;
	struct pool_stats st;
	pool_off_t big;
	uint64_t cached, room, size;
	bool early;
	int i;

	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create(c, "room", &o), 0);
	EXPECT_RC(pool_open(c, "room", &room_pool), 0);
	EXPECT_RC(pool_set_cache(room_pool, 1 << 20), 0); /* 128 KiB: 1/8 */
	room_job = job;
	room_small = room_got = POOL_OFF_NONE;
	if (job == ROOM_REALLOC)
		EXPECT_RC(pool_alloc(room_pool, 1024, &room_small), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(room_pool, 1024, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(room_pool, offs[i]), 0);
	st = stats(room_pool);
	cached = st.client_cached_bytes;
	assert_true(cached >= 64 << 10);
	/* Pages, so that it holds what it asks for. */
	size = (ROOM_QUOTA - st.allocated_bytes - (64 << 10)) &
	       ~(uint64_t)(st.page_size - 1);
	EXPECT_RC(pool_alloc(room_pool, size, &big), 0);
	st = stats(room_pool);
	room = ROOM_QUOTA - st.allocated_bytes;
	assert_true(room < ROOM_ASK - 1024);
	assert_true(room + cached >= ROOM_ASK);

	early = room_job_while_a_flush_is_held(fail);
	st = stats(room_pool);
	printf("cache: %s of %d B with %" PRIu64 " B of the quota free while "
	       "another flush had %" PRIu64 " B on its way, which %s: %s (%s "
	       "T was let go), then %" PRIu64 " B allocated, %" PRIu64
	       " B of it cached\n", room_job_name(), ROOM_ASK, room, cached,
	       fail ? "failed" : "went", pool_strerror(rc_room),
	       early ? "before" : "after", st.allocated_bytes,
	       st.client_cached_bytes);
	if (rc_room != 0)
		fail_msg("%s refused (%s) while the room it needed was on its "
			 "way to the daemon", room_job_name(),
			 pool_strerror(rc_room));
	assert_false(early);
	assert_int_equal(st.client_cached_bytes, 0);
	EXPECT_RC(pool_free(room_pool, room_got), 0);
	EXPECT_RC(pool_free(room_pool, big), 0);
	EXPECT_RC(pool_flush(room_pool), 0);
	assert_int_equal(stats(room_pool).allocated_bytes, 0);
	check(c, "room");
	pool_close(room_pool);
	pool_disconnect(c);
}

static void
alloc_retry_waits_for_a_flush_on_its_way(void **state)
{
	(void)state;
	refusal_waits_for_flushes_on_their_way(ROOM_ALLOC, false);
}

static void
realloc_retry_waits_for_a_failing_flush(void **state)
{
	(void)state;
	refusal_waits_for_flushes_on_their_way(ROOM_REALLOC, true);
}

/*
 * pool_trim gives back the pages of blocks that another thread's flush
 * has on their way: it waits for that flush, and gives back itself what
 * the flush put back.  16 blocks of 32 KiB, written to, sit in this
 * thread's cache; thread T's pool_flush takes them and is held; thread
 * M's pool_trim runs; then T's send goes (or fails).  Once both are done
 * no block may be held and no free page resident.  (The old library's
 * trim went at once, while the blocks were live in the daemon's books:
 * when T's send went, their 512 KiB of pages stayed resident, kept for
 * reuse; when it failed, the blocks were back in the cache.)
 */
static void
trim_waits_for_flushes_on_their_way(bool fail)
{
	static pool_off_t offs[16];
	struct pool_conn *c;
	struct pool_stats st;
	uint64_t cached;
	bool early;
	int i;

	room_pool = open_ok(&c, "c");
	room_job = ROOM_TRIM;
	for (i = 0; i < 16; i++) {
		EXPECT_RC(pool_alloc(room_pool, 32 << 10, &offs[i]), 0);
		memset(pool_ptr(room_pool, offs[i]), 0x5a, 32 << 10);
	}
	for (i = 0; i < 16; i++)
		EXPECT_RC(pool_free(room_pool, offs[i]), 0);
	st = stats(room_pool);
	cached = st.client_cached_bytes;
	assert_int_equal(cached, 16 * (32 << 10));
	assert_int_equal(st.allocated_bytes, cached);

	early = room_job_while_a_flush_is_held(fail);
	st = stats(room_pool);
	printf("cache: pool_trim while another flush had %" PRIu64 " B on its "
	       "way, which %s: %s (%s T was let go), then %" PRIu64 " B "
	       "allocated, %" PRIu64 " B of it cached, %" PRIu64 " B of free "
	       "pages resident\n", cached, fail ? "failed" : "went",
	       pool_strerror(rc_room), early ? "before" : "after",
	       st.allocated_bytes, st.client_cached_bytes,
	       st.free_resident_bytes);
	EXPECT_RC(rc_room, 0);
	if (st.allocated_bytes != 0 || st.free_resident_bytes != 0)
		fail_msg("after pool_trim: %" PRIu64 " B still allocated, %"
			 PRIu64 " B of free pages resident", st.allocated_bytes,
			 st.free_resident_bytes);
	assert_false(early);
	check(c, "c");
	pool_close(room_pool);
	pool_disconnect(c);
}

static void
trim_waits_for_a_flush_on_its_way(void **state)
{
	(void)state;
	trim_waits_for_flushes_on_their_way(false);
}

static void
trim_waits_for_a_failing_flush(void **state)
{
	(void)state;
	trim_waits_for_flushes_on_their_way(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CACHE_TEST(threads_lose_nothing_while_flushes_fail),
		CACHE_TEST(failed_flushes_at_once_keep_twice_the_budget),
		CACHE_TEST(flush_waits_for_flushes_on_their_way),
		CACHE_TEST(cache_off_waits_for_flushes_on_their_way),
		CACHE_TEST(alloc_retry_waits_for_a_flush_on_its_way),
		CACHE_TEST(realloc_retry_waits_for_a_failing_flush),
		CACHE_TEST(trim_waits_for_a_flush_on_its_way),
		CACHE_TEST(trim_waits_for_a_failing_flush),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("client cache: flushes on their way",
					   tests, NULL, NULL);
}
