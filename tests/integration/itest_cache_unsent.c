/*
 * itest_cache_unsent.c - the client-side cache loses no block to a flush
 * that cannot be sent.
 *
 * A handle gives the blocks it keeps back to the daemon in FreeBatches
 * (client/cache.c); here the kernel will not take them, or the daemon
 * refuses one block of a batch, as the send of cache_util.c makes it
 * (cache_util.h; the daemon of each test and its handles are there too).
 * What the cache keeps while every send goes is itest_cache.c's, the
 * flushes of other threads on their way and the calls that wait for them
 * itest_cache_waits.c's.  Against the real daemon:
 *
 *   - a flush whose FreeBatch cannot be sent (ENOBUFS, or too large for
 *     the socket's buffer) loses no block, whichever call flushed: the
 *     blocks stay cached, still the handle's, and a later flush or the
 *     handle's close frees them; they go back under the newer blocks, a
 *     flush of the whole cache still gives back the shards it can, and
 *     while the kernel refuses, a cache over its budget keeps no more
 *     and tries its evictions again only now and then;
 *   - a ClosePool the kernel does not take at first is sent again;
 *   - a double free of a block that two flushes of one shard have had on
 *     their way is the daemon's -EINVAL, as any double free;
 *   - a FreeBatch refused for one block it names frees the others, and
 *     only that block leaves the cache; one block that no FreeBatch can
 *     carry stays cached alone, the rest of its flush freed.
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
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cache_util.h"

/* ---- flushes that cannot be sent ----------------------------------------- */

/*
 * Every byte p holds is in its cache, want of them: none freed by the
 * failed flush, and none forgotten (neither cached nor freed, a block
 * would be nobody's until the handle closes).
 */
static void
all_still_cached(struct pool *p, uint64_t want, const char *after)
{
	struct pool_stats st = stats(p);

	printf("cache: after %s that could not be sent: %" PRIu64 " B "
	       "allocated, %" PRIu64 " B of it cached\n", after,
	       st.allocated_bytes, st.client_cached_bytes);
	if (st.allocated_bytes != want || st.client_cached_bytes != want)
		fail_msg("after %s: %" PRIu64 " B allocated, %" PRIu64 " B "
			 "cached; %" PRIu64 " B should still be cached (%"
			 PRIu64 " B lost)", after, st.allocated_bytes,
			 st.client_cached_bytes, want,
			 st.allocated_bytes - st.client_cached_bytes);
}

/* n blocks of a few small sizes allocated and freed into p's cache. */
static uint64_t
fill_cache(struct pool *p, pool_off_t *offs, unsigned n)
{
	struct pool_stats st;
	unsigned i;

	for (i = 0; i < n; i++)
		EXPECT_RC(pool_alloc(p, 64 + (i % 8) * 32, &offs[i]), 0);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = stats(p);
	assert_true(st.client_cached_bytes > 0);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	return st.client_cached_bytes;
}

/*
 * pool_flush and pool_set_cache(0) whose FreeBatch cannot be sent: the
 * blocks stay cached and the call says why (-ENOBUFS: it may be tried
 * again); a double free of one meanwhile cannot reach the daemon, which
 * would free the block under the cache; the next flush frees them all.
 * (The library once dropped them from the cache: 0 came back, and the
 * blocks stayed allocated, nobody's, until the handle closed.)
 */
/* A thread that keeps its cache shard; jobs run in it one at a time. */
struct worker {
	pthread_t t;
	sem_t go, done;
	void (*fn)(struct pool *, pool_off_t *);
	struct pool *p;
	pool_off_t *off;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		sem_wait(&w->go);
		if (w->fn == NULL)
			return NULL;
		w->fn(w->p, w->off);
		sem_post(&w->done);
	}
}

static void
worker_post(struct worker *w, void (*fn)(struct pool *, pool_off_t *),
	    struct pool *p, pool_off_t *off)
{
	w->fn = fn;
	w->p = p;
	w->off = off;
	sem_post(&w->go);
}

static void
worker_run(struct worker *w, void (*fn)(struct pool *, pool_off_t *),
	   struct pool *p, pool_off_t *off)
{
	worker_post(w, fn, p, off);
	sem_wait(&w->done);
}

static void
job_touch(struct pool *p, pool_off_t *off)
{
	(void)off;		/* takes a shard: one cache call */
	if (pool_alloc(p, 16, off) == 0)
		(void)pool_free(p, *off);
}

static void
job_alloc256(struct pool *p, pool_off_t *off)
{
	if (pool_alloc(p, 256, off) != 0)
		*off = POOL_OFF_NONE;
}

static void
job_free(struct pool *p, pool_off_t *off)
{
	(void)pool_free(p, *off);
}

static void *
job_flush(void *arg)
{
	(void)pool_flush(arg);
	return NULL;
}

/*
 * Thread F flushes shard 0's 64 cached blocks and is held after the send:
 * the daemon has freed them and hands one out again to thread B (shard
 * 1), which gives it to thread C (shard 2) to free.  C may meet shard 0's
 * entry of that offset, still on its way; once F hears back, C must find
 * B's live entry and free that, not stop at the vanished one and leave B's
 * entry behind, which would make the library take the offset for a live
 * block of this handle while the daemon has it free.
 */
static void
flush_in_flight_keeps_no_stale_entry(void **state)
{
	static pool_off_t offs[64];
	struct worker b, c;
	struct pool_conn *conn;
	struct pool *p;
	pthread_t f;
	pool_off_t y = POOL_OFF_NONE, o;
	size_t usable;
	bool in_set = false;
	int i;

	(void)state;
	p = open_ok(&conn, "c");
	sem_init(&freebatch_sent, 0, 0);
	sem_init(&freebatch_go, 0, 0);
	sem_init(&b.go, 0, 0);
	sem_init(&b.done, 0, 0);
	sem_init(&c.go, 0, 0);
	sem_init(&c.done, 0, 0);
	assert_int_equal(pthread_create(&b.t, NULL, worker_main, &b), 0);
	assert_int_equal(pthread_create(&c.t, NULL, worker_main, &c), 0);
	/* Twice through this thread's shard (0) and the daemon: the offsets
	 * the daemon hands out next are these. */
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	worker_run(&b, job_touch, p, &o);	/* shard 1 */
	worker_run(&c, job_touch, p, &o);	/* shard 2 */
	EXPECT_RC(pool_flush(p), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);

	__atomic_store_n(&freebatch_hold, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&f, NULL, job_flush, p), 0);
	sem_wait(&freebatch_sent);
	/* After the FreeBatch on the same socket: one of them comes back. */
	worker_run(&b, job_alloc256, p, &y);
	for (i = 0; i < 64; i++)
		in_set |= offs[i] == y;
	if (!in_set) {
		sem_post(&freebatch_go);
		pthread_join(f, NULL);
		skip();		/* the daemon chose another block */
	}
	worker_post(&c, job_free, p, &y);
	harness_sleep_ms(50);		/* C meets shard 0's entry */
	sem_post(&freebatch_go);
	pthread_join(f, NULL);
	sem_wait(&c.done);
	/* Freed once, by C: this handle holds no such live block. */
	EXPECT_RC(pool_usable_size(p, y, &usable), -EINVAL);
	EXPECT_RC(pool_free(p, y), -EINVAL);
	worker_post(&b, NULL, NULL, NULL);
	worker_post(&c, NULL, NULL, NULL);
	pthread_join(b.t, NULL);
	pthread_join(c.t, NULL);
	pool_close(p);
	pool_disconnect(conn);
}

static struct thread_hold hold_c;
static int rc_double_free;

static void
job_fill256(struct pool *p, pool_off_t *off)
{
	if (pool_alloc(p, 256, off) == 0)
		(void)pool_free(p, *off);
}

static void
job_double_free(struct pool *p, pool_off_t *off)
{
	my_hold = &hold_c;
	rc_double_free = pool_free(p, *off);
	my_hold = NULL;
}

/*
 * Thread C frees block x a second time while x sits in thread B's shard:
 * its flush (to let the daemon answer) is held at another shard's batch
 * while thread T's flush takes x and is held too, then fails.  C must not
 * reach the daemon while x is back in the cache: its flush finds x again,
 * sends it, and the daemon says -EINVAL, as for any double free.  (Taken
 * as sent, C's Free would have freed x under the cache, which would then
 * hand x out again while the daemon hands it to others.)
 */
static void
double_free_racing_a_failing_flush(void **state)
{
	static pool_off_t offs[32];
	struct worker b, c;
	struct pool_conn *conn;
	struct pool *p;
	pthread_t t;
	pool_off_t x = POOL_OFF_NONE, o;
	size_t usable;
	int i;

	(void)state;
	p = open_ok(&conn, "c");
	memset(&hold_c, 0, sizeof(hold_c));
	memset(&hold_t, 0, sizeof(hold_t));
	hold_t.fail = true;
	sem_init(&hold_c.sent, 0, 0);
	sem_init(&hold_c.go, 0, 0);
	sem_init(&hold_t.sent, 0, 0);
	sem_init(&hold_t.go, 0, 0);
	sem_init(&b.go, 0, 0);
	sem_init(&b.done, 0, 0);
	sem_init(&c.go, 0, 0);
	sem_init(&c.done, 0, 0);
	assert_int_equal(pthread_create(&b.t, NULL, worker_main, &b), 0);
	assert_int_equal(pthread_create(&c.t, NULL, worker_main, &c), 0);
	for (i = 0; i < 32; i++)	/* this thread: shard 0 */
		EXPECT_RC(pool_alloc(p, 128, &offs[i]), 0);
	worker_run(&b, job_touch, p, &o);	/* shard 1 */
	worker_run(&c, job_touch, p, &o);	/* shard 2 */
	EXPECT_RC(pool_flush(p), 0);
	for (i = 0; i < 32; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	worker_run(&b, job_fill256, p, &x);	/* x cached in shard 1 */
	assert_true(x != POOL_OFF_NONE);

	worker_post(&c, job_double_free, p, &x);
	sem_wait(&hold_c.sent);		/* C's flush: shard 0's batch */
	assert_int_equal(pthread_create(&t, NULL, job_failing_flush, p), 0);
	sem_wait(&hold_t.sent);		/* T's flush: shard 1's, x in it */
	sem_post(&hold_c.go);
	harness_sleep_ms(100);		/* C looks for x: on its way */
	sem_post(&hold_t.go);		/* T's fails: x back in the cache */
	sem_wait(&c.done);
	pthread_join(t, NULL);
	EXPECT_RC(rc_failed_flush, -ENOBUFS);
	EXPECT_RC(rc_double_free, -EINVAL);
	EXPECT_RC(pool_usable_size(p, x, &usable), -EINVAL);
	worker_post(&b, NULL, NULL, NULL);
	worker_post(&c, NULL, NULL, NULL);
	pthread_join(b.t, NULL);
	pthread_join(c.t, NULL);
	pool_close(p);
	pool_disconnect(conn);
}

static int rc_free_y;

static void
job_free_rc(struct pool *p, pool_off_t *off)
{
	rc_free_y = pool_free(p, *off);
}

/*
 * Two flushes of one shard with the same block on their way: F takes
 * shard 0's blocks and is held after the send (the daemon has freed them);
 * this thread gets some of them back from the daemon, frees them into
 * shard 0 again, and T's flush takes them and is held before its send,
 * which then fails.  F hears back first: it must leave T's busy entries
 * alone.  Then a second free of such a block y (thread C) waits for T,
 * finds y back in the cache, flushes it and gets the daemon's -EINVAL.
 * (When F took T's entries away, C's free reached the daemon while T had
 * y on its way: 0, and y freed under the cache, which then put it back.)
 */
static void
double_free_across_two_flushes_of_a_shard(void **state)
{
	static pool_off_t offs[64], again[64];
	static struct worker c;		/* outlives a failed run */
	struct pool_conn *conn;
	struct pool_stats st;
	struct pool *p;
	pthread_t f, t;
	pool_off_t y = POOL_OFF_NONE, o;
	size_t usable;
	int i, j;

	(void)state;
	p = open_ok(&conn, "c");
	memset(&hold_t, 0, sizeof(hold_t));
	hold_t.fail = true;
	sem_init(&hold_t.sent, 0, 0);
	sem_init(&hold_t.go, 0, 0);
	sem_init(&freebatch_sent, 0, 0);
	sem_init(&freebatch_go, 0, 0);
	sem_init(&c.go, 0, 0);
	sem_init(&c.done, 0, 0);
	assert_int_equal(pthread_create(&c.t, NULL, worker_main, &c), 0);
	worker_run(&c, job_touch, p, &o);	/* C: shard 1 */
	/* Twice through shard 0 and the daemon, as above. */
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);

	__atomic_store_n(&freebatch_hold, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&f, NULL, job_flush, p), 0);
	sem_wait(&freebatch_sent);	/* F's blocks are free in the daemon */
	for (i = 0; i < 64; i++) {
		EXPECT_RC(pool_alloc(p, 256, &again[i]), 0);
		for (j = 0; j < 64 && y == POOL_OFF_NONE; j++)
			if (again[i] == offs[j])
				y = again[i];
	}
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, again[i]), 0);
	if (y == POOL_OFF_NONE) {
		sem_post(&freebatch_go);
		pthread_join(f, NULL);
		skip();		/* the daemon chose other blocks */
	}
	assert_int_equal(pthread_create(&t, NULL, job_failing_flush, p), 0);
	sem_wait(&hold_t.sent);		/* T has y on its way */
	sem_post(&freebatch_go);	/* F hears back first */
	pthread_join(f, NULL);
	worker_post(&c, job_free_rc, p, &y);	/* the second free of y */
	harness_sleep_ms(100);
	sem_post(&hold_t.go);		/* T's send fails: y back */
	pthread_join(t, NULL);
	sem_wait(&c.done);
	EXPECT_RC(rc_failed_flush, -ENOBUFS);
	EXPECT_RC(rc_free_y, -EINVAL);
	EXPECT_RC(pool_usable_size(p, y, &usable), -EINVAL);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	assert_int_equal(st.invalid_frees, 1);
	EXPECT_RC(pool_flush(p), 0);
	assert_int_equal(stats(p).allocated_bytes, 0);
	check(conn, "c");
	worker_post(&c, NULL, NULL, NULL);
	pthread_join(c.t, NULL);
	pool_close(p);
	pool_disconnect(conn);
}

/*
 * A ClosePool the kernel does not take at first is sent again: the
 * daemon drops the handle and its blocks, not at the disconnect.
 */
static void
unsent_close_is_sent_again(void **state)
{
	static pool_off_t offs[200];
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;

	(void)state;
	p = open_ok(&c, "c");
	(void)fill_cache(p, offs, 200);
	for (int i = 0; i < 200; i += 2)	/* some live, some cached */
		assert_int_equal(pool_alloc(p, 100, &offs[i]), 0);
	__atomic_store_n(&closes_to_fail, 3, __ATOMIC_RELEASE);
	pool_close(p);
	assert_int_equal(__atomic_load_n(&closes_to_fail, __ATOMIC_ACQUIRE), 0);
	EXPECT_RC(pool_stats_by_name(c, "c", &st), 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	pool_disconnect(c);
}

static void
unsent_flush_loses_no_block(void **state)
{
	static pool_off_t offs[200];
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	uint64_t cached;
	int rc;

	(void)state;
	p = open_ok(&c, "c");

	cached = fill_cache(p, offs, 200);
	fail_free_batches();
	rc = pool_flush(p);
	send_free_batches();
	all_still_cached(p, cached, "pool_flush");
	EXPECT_RC(rc, -ENOBUFS);
	EXPECT_RC(pool_flush(p), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);

	cached = fill_cache(p, offs, 200);
	fail_free_batches();
	rc = pool_set_cache(p, 0);
	/* Freed twice: the daemon cannot be asked while it is cached. */
	EXPECT_RC(pool_free(p, offs[0]), -ENOBUFS);
	send_free_batches();
	all_still_cached(p, cached, "pool_set_cache(0)");
	EXPECT_RC(rc, -ENOBUFS);
	EXPECT_RC(pool_free(p, offs[0]), -EINVAL);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	assert_int_equal(st.invalid_frees, 1);

	/* Blocks still cached when the handle closes go with it. */
	EXPECT_RC(pool_set_cache(p, 1 << 20), 0);
	cached = fill_cache(p, offs, 200);
	fail_free_batches();
	EXPECT_RC(pool_flush(p), -ENOBUFS);
	send_free_batches();
	all_still_cached(p, cached, "pool_flush before pool_close");
	pool_close(p);
	EXPECT_RC(pool_stats_by_name(c, "c", &st), 0);
	assert_int_equal(st.allocated_bytes, 0);
	check(c, "c");
	pool_disconnect(c);
}

/*
 * A cache over its budget gives its older half back on the next free; if
 * that FreeBatch cannot be sent, the blocks stay rather than being lost,
 * and a later flush frees them.  Meanwhile the cache keeps no more: frees
 * go to the daemon one by one, and classes that run empty are not
 * refilled.  With one thread it stays over its budget by the block whose
 * free found it full; with more, by at most the budget again (blocks a
 * failed flush put back while frees filled the room it had made).  (The
 * library once cached every block freed and refilled other classes on
 * top: 1,118,080 B here; 104,704 B with the frees kept out alone.)
 */
static void
unsent_eviction_loses_no_block(void **state)
{
	static const size_t sizes[8] = {1000, 1500, 2000, 3000, 4000, 6000,
					8000, 12000};
	static pool_off_t offs[2000], big[8 * 16];
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	unsigned i;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_set_cache(p, 64 * 1024), 0);
	for (i = 0; i < 2000; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	fail_free_batches();
	for (i = 0; i < 2000; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	for (i = 0; i < 8 * 16; i++)	/* empty classes: refills */
		EXPECT_RC(pool_alloc(p, sizes[i / 16], &big[i]), 0);
	for (i = 0; i < 8 * 16; i++)
		EXPECT_RC(pool_free(p, big[i]), 0);
	send_free_batches();
	st = stats(p);
	printf("cache: a 64 KiB budget, evictions that could not be sent: %"
	       PRIu64 " B allocated, %" PRIu64 " B of it cached\n",
	       st.allocated_bytes, st.client_cached_bytes);
	assert_true(st.client_cached_bytes >= 64 * 1024);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	assert_true(st.client_cached_bytes <= 64 * 1024 + 256);
	EXPECT_RC(pool_flush(p), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/*
 * While FreeBatches cannot be sent, frees do not try to give the cache back
 * each time: after a failed try the next waits a while, longer after each
 * failure.  (The old library tried at every free over the budget, about 9
 * refused sends each: 18,160 for these 2000 frees.)
 */
static void
unsent_eviction_backs_off(void **state)
{
	static pool_off_t offs[2000];
	struct pool_conn *c;
	struct pool *p;
	int refused;
	unsigned i;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_set_cache(p, 64 * 1024), 0);
	for (i = 0; i < 2000; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	fail_free_batches();
	for (i = 0; i < 2000; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	refused = __atomic_load_n(&freebatch_refused, __ATOMIC_RELAXED);
	send_free_batches();
	printf("cache: 2000 frees over a 64 KiB budget while FreeBatches "
	       "fail: %d refused\n", refused);
	assert_true(refused < 2000 / 4);
	EXPECT_RC(pool_flush(p), 0);
	assert_int_equal(stats(p).allocated_bytes, 0);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The older half that an eviction could not send goes back under the newer
 * half, where it was: the block the cache kept last is still the next one
 * handed out, and the next eviction tries the old ones again.  (The free
 * that set the eviction off found no room after it and went to the
 * daemon.)  (The old library
 * put them on top: the next allocation got one of the coldest blocks, and
 * the next eviction would have taken the newer half.)
 */
static void
unsent_eviction_keeps_the_newest_on_top(void **state)
{
	static pool_off_t offs[400];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t last = POOL_OFF_NONE, y;
	unsigned i;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_set_cache(p, 64 * 1024), 0);
	for (i = 0; i < 400; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	fail_free_batches();
	/* Up to the free whose eviction failed. */
	for (i = 0; i < 400 &&
	     __atomic_load_n(&freebatch_refused, __ATOMIC_RELAXED) == 0; i++) {
		EXPECT_RC(pool_free(p, offs[i]), 0);
		if (__atomic_load_n(&freebatch_refused, __ATOMIC_RELAXED) == 0)
			last = offs[i];
	}
	send_free_batches();
	EXPECT_RC(pool_alloc(p, 256, &y), 0);
	if (y != last)
		fail_msg("after the failed eviction at free %u the cache handed "
			 "out %#" PRIx64 ", not %#" PRIx64 ", the block it kept "
			 "last", i, y, last);
	EXPECT_RC(pool_free(p, y), 0);
	for (; i < 400; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	assert_int_equal(stats(p).allocated_bytes, 0);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

static void
job_fill1024(struct pool *p, pool_off_t *off)
{
	static pool_off_t got[64];
	int i;

	(void)off;
	for (i = 0; i < 64; i++)
		if (pool_alloc(p, 1024, &got[i]) != 0)
			got[i] = POOL_OFF_NONE;
	for (i = 0; i < 64; i++)
		(void)pool_free(p, got[i]);
}

/*
 * A flush of the whole cache that cannot send one shard's blocks still
 * gives the other shards' back: here a block of shard 0 cannot go, and
 * shard 1's 64 KiB must.  (The old library stopped at shard 0.)
 */
static void
flush_tries_every_shard(void **state)
{
	static pool_off_t offs[64];
	static struct worker b;		/* outlives a failed run */
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	uint64_t cached0;
	pool_off_t o;
	int i, rc;

	(void)state;
	p = open_ok(&c, "c");
	sem_init(&b.go, 0, 0);
	sem_init(&b.done, 0, 0);
	assert_int_equal(pthread_create(&b.t, NULL, worker_main, &b), 0);
	worker_run(&b, job_touch, p, &o);	/* B: shard 1 */
	for (i = 0; i < 64; i++)		/* this thread: shard 0 */
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	cached0 = stats(p).client_cached_bytes;
	worker_run(&b, job_fill1024, p, &o);
	assert_true(stats(p).client_cached_bytes >= cached0 + 64 * 1024);

	__atomic_store_n(&freebatch_poison, offs[0], __ATOMIC_RELEASE);
	rc = pool_flush(p);
	__atomic_store_n(&freebatch_poison, POOL_OFF_NONE, __ATOMIC_RELEASE);
	st = stats(p);
	printf("cache: after a flush that could not send a block of shard 0 "
	       "(%" PRIu64 " B): %" PRIu64 " B cached\n", cached0,
	       st.client_cached_bytes);
	EXPECT_RC(rc, -ENOBUFS);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	assert_true(st.client_cached_bytes > 0);
	assert_true(st.client_cached_bytes <= cached0);
	EXPECT_RC(pool_flush(p), 0);
	assert_int_equal(stats(p).allocated_bytes, 0);
	check(c, "c");
	worker_post(&b, NULL, NULL, NULL);
	pthread_join(b.t, NULL);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A FreeBatch the daemon refuses for one block it names (failed_index)
 * frees the others at once, sent again without it, and only that block
 * leaves the cache: the daemon said the handle does not hold it.  Here the
 * daemon is sent an offset inside block x in x's place, which it refuses
 * with -EINVAL and its index, as it would x if the handle did not hold
 * it; x itself, never sent, is then still the handle's, unknown to the
 * cache: its free goes to the daemon.
 */
static void
refused_block_is_dropped_alone(void **state)
{
	static pool_off_t offs[64];
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	pool_off_t x;
	size_t usable;
	int i;

	(void)state;
	p = open_ok(&c, "c");
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	x = offs[20];
	__atomic_store_n(&freebatch_refuse, x, __ATOMIC_RELEASE);
	EXPECT_RC(pool_flush(p), 0);
	if (__atomic_load_n(&freebatch_refuse, __ATOMIC_ACQUIRE) != POOL_OFF_NONE)
		fail_msg("no FreeBatch named %#" PRIx64, x);
	st = stats(p);
	EXPECT_RC(pool_usable_size(p, x, &usable), 0);	/* asks the daemon */
	printf("cache: after a FreeBatch refused for one of its blocks: %"
	       PRIu64 " B allocated (that block: %zu B), %" PRIu64 " B "
	       "cached\n", st.allocated_bytes, usable, st.client_cached_bytes);
	assert_int_equal(st.client_cached_bytes, 0);
	assert_int_equal(st.allocated_bytes, usable);
	EXPECT_RC(pool_free(p, x), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/*
 * One block the kernel will not take in any FreeBatch holds back no other:
 * the flush sends the rest of its batch and goes on to the rest of the
 * shard, and only that block stays cached.  5000 blocks of one class take
 * two batches, the unsendable one in the first.  (The old library stopped
 * the flush at that block: every block stayed cached.)
 */
static void
unsendable_block_holds_back_no_other(void **state)
{
	static pool_off_t offs[5000];
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	uint64_t cached;
	size_t usable;
	unsigned i;
	int rc;

	(void)state;
	p = open_ok(&c, "c");
	for (i = 0; i < 5000; i++)
		EXPECT_RC(pool_alloc(p, 64, &offs[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	for (i = 0; i < 5000; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	cached = stats(p).client_cached_bytes;
	assert_true(cached >= 5000 * 64);
	/* Freed first: at the bottom, the first a flush takes. */
	__atomic_store_n(&freebatch_poison, offs[0], __ATOMIC_RELEASE);
	rc = pool_flush(p);
	__atomic_store_n(&freebatch_poison, POOL_OFF_NONE, __ATOMIC_RELEASE);
	st = stats(p);
	printf("cache: a flush of %" PRIu64 " B that could not send one "
	       "block: %" PRIu64 " B allocated, %" PRIu64 " B of it cached\n",
	       cached, st.allocated_bytes, st.client_cached_bytes);
	EXPECT_RC(rc, -ENOBUFS);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	assert_int_equal(st.client_cached_bytes, 64);
	EXPECT_RC(pool_flush(p), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	EXPECT_RC(pool_usable_size(p, offs[0], &usable), -EINVAL);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A block freed into a's cache and then retained by b is shed when a's
 * allocation comes upon it: a FreeBatch of a's reference.  If that cannot
 * be sent the block must stay a's to free later, never dropped: else a's
 * reference would outlive b's, and the block would stay allocated after
 * b frees it.
 */
static void
unsent_shed_loses_no_block(void **state)
{
	struct pool_conn *ca, *cb;
	struct pool *a, *b;
	pool_off_t x, y;
	size_t usable;

	(void)state;
	a = open_ok(&ca, "c");
	b = open_ok(&cb, "c");
	EXPECT_RC(pool_alloc(a, 128, &x), 0);
	EXPECT_RC(pool_free(a, x), 0);		/* cached */
	EXPECT_RC(pool_retain(b, x), 0);
	fail_free_batches();
	EXPECT_RC(pool_alloc(a, 128, &y), 0);	/* comes upon x: shed */
	send_free_batches();
	assert_true(y != x);
	EXPECT_RC(pool_free(a, y), 0);
	never_handed_out(a, 128, x, 100);
	EXPECT_RC(pool_flush(a), 0);
	EXPECT_RC(pool_free(b, x), 0);		/* the last reference */
	EXPECT_RC(pool_usable_size(b, x, &usable), -EINVAL);
	assert_int_equal(stats(a).allocated_bytes, 0);
	check(ca, "c");
	pool_disconnect(cb);
	pool_disconnect(ca);
}

/* The descriptor of the connection to the daemon at path, or -1. */
static int
conn_socket(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, type, found = -1;

	for (fd = 3; fd < 1024; fd++) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_SEQPACKET)
			continue;
		len = sizeof(sun);
		memset(&sun, 0, sizeof(sun));
		if (getpeername(fd, (struct sockaddr *)&sun, &len) == 0 &&
		    sun.sun_family == AF_UNIX &&
		    strcmp(sun.sun_path, path) == 0) {
			if (found != -1)
				return -1;	/* more than one: which? */
			found = fd;
		}
	}
	return found;
}

/*
 * The kernel's own refusal: a send buffer shrunk to its least (4608 bytes
 * on Linux) takes no datagram larger than about 4.5 KB, and a FreeBatch of
 * 3000 blocks is twice that (-EMSGSIZE, nothing sent).  The flush must
 * still give every block back, in smaller batches.
 */
static void
flush_too_large_to_send_is_split(void **state)
{
	static pool_off_t offs[3000];
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	int fd, one = 1, sndbuf = 0;
	socklen_t len = sizeof(sndbuf);
	unsigned i;

	(void)state;
	p = open_ok(&c, "c");
	for (i = 0; i < 3000; i++)
		EXPECT_RC(pool_alloc(p, 64, &offs[i]), 0);
	for (i = 0; i < 3000; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = stats(p);
	assert_true(st.client_cached_bytes >= 3000 * 64);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	if ((fd = conn_socket(daemon_proc.sock)) == -1)
		fail_msg("cannot find the connection's socket");
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one,
				    sizeof(one)), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len),
			 0);
	printf("cache: %" PRIu64 " B cached, a send buffer of %d B\n",
	       st.client_cached_bytes, sndbuf);
	assert_true(sndbuf < 8192);
	EXPECT_RC(pool_flush(p), 0);
	st = stats(p);
	if (st.allocated_bytes != 0 || st.client_cached_bytes != 0)
		fail_msg("after the flush: %" PRIu64 " B allocated, %" PRIu64
			 " B of it cached (%" PRIu64 " B lost)",
			 st.allocated_bytes, st.client_cached_bytes,
			 st.allocated_bytes - st.client_cached_bytes);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CACHE_TEST(unsent_close_is_sent_again),
		CACHE_TEST(flush_in_flight_keeps_no_stale_entry),
		CACHE_TEST(double_free_racing_a_failing_flush),
		CACHE_TEST(double_free_across_two_flushes_of_a_shard),
		CACHE_TEST(unsent_flush_loses_no_block),
		CACHE_TEST(unsent_eviction_loses_no_block),
		CACHE_TEST(unsent_eviction_backs_off),
		CACHE_TEST(unsent_eviction_keeps_the_newest_on_top),
		CACHE_TEST(flush_tries_every_shard),
		CACHE_TEST(refused_block_is_dropped_alone),
		CACHE_TEST(unsendable_block_holds_back_no_other),
		CACHE_TEST(unsent_shed_loses_no_block),
		CACHE_TEST(flush_too_large_to_send_is_split),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("client cache: unsent flushes",
					   tests, NULL, NULL);
}
