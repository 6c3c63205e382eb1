/*
 * cache_util.h - what the tests of the client-side cache (itest_cache,
 * itest_cache_unsent, itest_cache_waits) start, open and look at alike:
 * a daemon of their own for each test, a handle with a cache of 1 MiB,
 * the statistics and the Check of a pool, and the send this process's
 * libpoolclient makes, which a test may fail or hold.  In the test
 * process a failure fails the test.
 *
 * Each test has a daemon of its own (CACHE_TEST: cache_setup and
 * cache_teardown), with pools c (16 MiB) and tight (64 KiB, granularity
 * 16); the stop is the test's last check.
 */
#ifndef POOLMGR_CACHE_UTIL_H
#define POOLMGR_CACHE_UTIL_H

#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"
#include "poolclient.h"

/* The daemon of the test, and a child that the teardown must not leave. */
extern struct daemon_proc daemon_proc;
extern pid_t kid;

/* Each test's setup and teardown: its daemon started, then stopped. */
int cache_setup(void **state);
int cache_teardown(void **state);

#define CACHE_TEST(fn) \
	cmocka_unit_test_setup_teardown(fn, cache_setup, cache_teardown)

/* A handle with a cache of 1 MiB whatever $POOLMGR_CLIENT_CACHE says. */
struct pool *open_ok(struct pool_conn **c, const char *name);
/* p's statistics: the daemon's, with what its cache holds. */
struct pool_stats stats(struct pool *p);
/* Pool name passes the daemon's Check, else the test fails saying why. */
void check(struct pool_conn *c, const char *name);
/* n allocations of size through p: none may be at off. */
void never_handed_out(struct pool *p, size_t size, pool_off_t off,
		      unsigned n);

/* ---- flushes that cannot be sent ----------------------------------------- */

/*
 * cache_util.c defines send: libpoolclient's send comes there (the tests
 * link libpoolclient.a, and a send defined in the program wins over
 * libc's).  What the tests set below fails or holds the requests it
 * names; with nothing set (itest_cache sets nothing), every send goes
 * straight to libc's.
 */

/* atomic: every FreeBatch fails with ENOBUFS, nothing sent. */
extern int freebatch_failing;
/* atomic: sends failed so far. */
extern int freebatch_refused;
/* atomic: ClosePools to fail, from now. */
extern int closes_to_fail;
/*
 * atomic: hold the next FreeBatch after it is sent (the daemon gets it),
 * as a thread preempted before it hears back would be: posts
 * freebatch_sent, waits for freebatch_go.
 */
extern int freebatch_hold;
extern sem_t freebatch_sent, freebatch_go;
/* atomic: a FreeBatch naming this block fails with ENOBUFS. */
extern pool_off_t freebatch_poison;
/*
 * atomic: the next FreeBatch naming this block goes with an offset inside
 * it instead, which is no block: the daemon refuses the batch (-EINVAL)
 * and names that offset's index (failed_index), as it does for a block the
 * handle does not hold.  Then back to POOL_OFF_NONE.
 */
extern pool_off_t freebatch_refuse;

/*
 * One thread's own hold: its first FreeBatch waits (posts sent, waits for
 * go) before it is sent, then it and every later one fails with ENOBUFS
 * if fail is set, else goes.
 */
struct thread_hold {
	sem_t sent, go;
	bool fail, done;
};
/* The calling thread's hold, if it has one. */
extern __thread struct thread_hold *my_hold;

/* Every FreeBatch fails from now, none refused so far. */
void fail_free_batches(void);
/* Send FreeBatches again; fails the test if none was refused meanwhile. */
void send_free_batches(void);

/* Thread T's hold, and what its pool_flush (job_failing_flush) said. */
extern struct thread_hold hold_t;
extern int rc_failed_flush;
/* A thread's body: pool_flush of the pool arg under hold_t. */
void *job_failing_flush(void *arg);

#endif /* POOLMGR_CACHE_UTIL_H */
