/*
 * itest_threads.c - many threads on one pool handle.
 *
 * Ten threads share ONE struct pool (and so one connection) and each does
 * POOLMGR_THREAD_OPS (default 10^5; 2 x 10^4 with the client cache off,
 * where each pair is two round trips) alloc/free pairs of 256 bytes.  A shared
 * table of held granules, guarded by a mutex, proves that no byte is ever
 * handed to two holders at once: every granule of a new block must be
 * absent from the table, and present when its block is freed.  Each block
 * also carries its owner's thread id and a fill pattern, checked just
 * before the free, so a reply delivered to the wrong thread or a block
 * given out twice shows up as a torn block.  At the end the pool is empty,
 * the daemon's counters saw every request, and its invariant check passes.
 * The elapsed time and pairs/s are printed for information only.
 *
 * Threads on one handle that free and allocate blocks of a page and more
 * go to the daemon about as seldom as processes with a handle each, and
 * the handle's cache stays within its budget meanwhile.
 *
 * And a thread cancelled while it waits for a reply, or while its free
 * waits for another thread's flush, leaves the connection and the cache
 * working for the others; one cancelled while its lookup waits across a
 * restart in place of the daemon finishes the call first, and so does
 * one whose cancel is pending as it reads or writes a list with names.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define NTHREADS	10
#define BLOCK_SIZE	256
#define DEFAULT_OPS	100000
/*
 * Without the client cache every pair goes to the daemon: 2 x 10^4 pairs
 * a thread still interleave ten threads' requests on the connection
 * 400,000 times.
 */
#define DEFAULT_OPS_NOCACHE 20000
#define POOL_NAME	"threads"
#define BIG_POOL	"big"
#define POOL_CONFIG	"[pool " POOL_NAME "]\nsize = 16M\n" \
			"[pool " BIG_POOL "]\nsize = 256M\n"

/* The table of held granules: one bit per granule of the pool. */
struct held_table {
	pthread_mutex_t lock;
	uint64_t *bits;
	uint64_t ngranules;
	uint32_t granularity;
};

/* One worker: what it was given and what it found. */
struct worker {
	unsigned id;
	unsigned long ops;
	struct pool *pool;
	struct held_table *table;
	unsigned long done;		/* pairs completed */
	unsigned long errors;
	char first_error[200];
};

/* The daemon and the clients of one test, for teardown after a failure. */
struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;
};

static struct fixture fx;

static unsigned long
thread_ops(void)
{
	const char *s = getenv("POOLMGR_THREAD_OPS");
	unsigned long v, dflt = harness_client_cache() ? DEFAULT_OPS :
	    DEFAULT_OPS_NOCACHE;
	char *end;

	if (!s || !*s)
		return dflt;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0)
		return dflt;
	return v;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 2, 3))) static void
worker_error(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
		va_end(ap);
	}
}

/*
 * Mark (take) or unmark (!take) the granules of [off, off + len).  Taking
 * fails if any of them is held already; releasing fails if any is not held.
 * Either way the table is changed only when every granule agrees.
 */
static int
table_update(struct held_table *t, uint64_t off, uint64_t len, int take)
{
	uint64_t first = off / t->granularity;
	uint64_t n = (len + t->granularity - 1) / t->granularity;
	uint64_t i;
	int ok = 1;

	if (off % t->granularity || first + n > t->ngranules)
		return -1;
	pthread_mutex_lock(&t->lock);
	for (i = first; i < first + n; i++) {
		int held = (t->bits[i / 64] >> (i % 64)) & 1;

		if (held == take) {
			ok = 0;
			break;
		}
	}
	if (ok)
		for (i = first; i < first + n; i++)
			t->bits[i / 64] ^= (uint64_t)1 << (i % 64);
	pthread_mutex_unlock(&t->lock);
	return ok ? 0 : -1;
}

/* The fill byte of thread id's blocks (never 0, so zeroes show up). */
static uint8_t
fill_byte(unsigned id)
{
	return (uint8_t)(0x11 * (id % 15 + 1));
}

static void
block_write(uint8_t *b, unsigned id, uint32_t seq)
{
	uint32_t hdr[2] = {id, seq};

	memset(b, fill_byte(id), BLOCK_SIZE);
	memcpy(b, hdr, sizeof(hdr));
}

/* 0 if the block still says it belongs to thread id, pass seq. */
static int
block_verify(const uint8_t *b, unsigned id, uint32_t seq, char *why,
	     size_t whylen)
{
	uint32_t hdr[2];
	size_t i;

	memcpy(hdr, b, sizeof(hdr));
	if (hdr[0] != id || hdr[1] != seq) {
		snprintf(why, whylen, "header says thread %u pass %u", hdr[0],
			 hdr[1]);
		return -1;
	}
	for (i = sizeof(hdr); i < BLOCK_SIZE; i++) {
		if (b[i] != fill_byte(id)) {
			snprintf(why, whylen, "byte %zu is %#x, not %#x", i,
				 b[i], fill_byte(id));
			return -1;
		}
	}
	return 0;
}

/* One alloc/free pair; 0 or -1 after recording what went wrong. */
static int
one_pair(struct worker *w, uint32_t seq)
{
	pool_off_t off = POOL_OFF_NONE;
	char why[120];
	uint8_t *b;
	int rc;

	rc = pool_alloc(w->pool, BLOCK_SIZE, &off);
	if (rc) {
		worker_error(w, "pass %u: pool_alloc: %s", seq,
			     pool_strerror(rc));
		return -1;
	}
	b = pool_ptr(w->pool, off);
	if (!b || off + BLOCK_SIZE > pool_size(w->pool)) {
		worker_error(w, "pass %u: offset %#" PRIx64 " outside the pool",
			     seq, off);
		return -1;
	}
	if (table_update(w->table, off, BLOCK_SIZE, 1)) {
		worker_error(w, "pass %u: offset %#" PRIx64 " overlaps a "
			     "block another holder still has", seq, off);
		return -1;
	}
	block_write(b, w->id, seq);
	if (block_verify(b, w->id, seq, why, sizeof(why))) {
		worker_error(w, "pass %u: block %#" PRIx64 " changed under "
			     "its holder: %s", seq, off, why);
		return -1;
	}
	if (table_update(w->table, off, BLOCK_SIZE, 0)) {
		worker_error(w, "pass %u: block %#" PRIx64 " missing from the "
			     "table at free", seq, off);
		return -1;
	}
	rc = pool_free(w->pool, off);
	if (rc) {
		worker_error(w, "pass %u: pool_free(%#" PRIx64 "): %s", seq,
			     off, pool_strerror(rc));
		return -1;
	}
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long i;

	for (i = 0; i < w->ops; i++) {
		if (one_pair(w, (uint32_t)i))
			break;
		w->done++;
	}
	return NULL;
}

static int
teardown(void **state)
{
	(void)state;
	if (fx.pool)
		pool_close(fx.pool);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		harness_stop(&fx.d);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

static void
check_pool(struct pool_conn *c, const char *name)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, name, msg, sizeof(msg));

	if (rc)
		fail_msg("pool_check_by_name(%s): %s: %s", name,
			 pool_strerror(rc), msg);
}

static void
run_workers(struct worker *w, unsigned n)
{
	pthread_t tid[NTHREADS];
	unsigned i;

	for (i = 0; i < n; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, worker_main,
						&w[i]), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
}

static void
ten_threads_share_one_handle(void **state)
{
	struct worker w[NTHREADS];
	struct held_table table = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct pool_stats before, after;
	unsigned long ops = thread_ops(), total = 0, errors = 0;
	double t0, elapsed;
	unsigned i;

	(void)state;
	assert_int_equal(harness_start(&fx.d, POOL_CONFIG), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, POOL_NAME, &fx.pool), 0);
	assert_int_equal(pool_stats(fx.pool, &before), 0);
	assert_true(before.granularity >= 8);

	table.granularity = before.granularity;
	table.ngranules = pool_size(fx.pool) / before.granularity;
	table.bits = calloc((table.ngranules + 63) / 64, sizeof(uint64_t));
	assert_non_null(table.bits);

	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].id = i + 1;
		w[i].ops = ops;
		w[i].pool = fx.pool;
		w[i].table = &table;
	}
	printf("threads: %d threads x %lu alloc/free pairs of %d B on one "
	       "handle\n", NTHREADS, ops, BLOCK_SIZE);
	t0 = now_seconds();
	run_workers(w, NTHREADS);
	elapsed = now_seconds() - t0;

	for (i = 0; i < NTHREADS; i++) {
		total += w[i].done;
		errors += w[i].errors;
		if (w[i].errors)
			printf("threads: thread %u: %lu errors, first: %s\n",
			       w[i].id, w[i].errors, w[i].first_error);
	}
	printf("threads: %lu pairs in %.2f s: %.0f pairs/s\n", total, elapsed,
	       elapsed > 0 ? (double)total / elapsed : 0.0);
	free(table.bits);
	assert_int_equal(errors, 0);
	assert_int_equal(total, (unsigned long)NTHREADS * ops);

	/* What the handle's cache kept goes back before the count. */
	assert_int_equal(pool_flush(fx.pool), 0);
	assert_int_equal(pool_stats(fx.pool, &after), 0);
	printf("threads: after: allocated %" PRIu64 " B, live blocks %" PRIu64
	       ", allocs +%" PRIu64 ", frees +%" PRIu64 ", committed %" PRIu64
	       " B\n", after.allocated_bytes, after.live_blocks,
	       after.allocs - before.allocs, after.frees - before.frees,
	       after.committed_bytes);
	assert_int_equal(after.allocated_bytes, 0);
	assert_int_equal(after.live_blocks, 0);
	if (harness_client_cache()) {
		/* The cache served most pairs without the daemon. */
		printf("threads: the daemon saw %.2f %% of the pairs\n",
		       100.0 * (double)(after.allocs - before.allocs) /
		       (double)total);
		assert_true(after.allocs - before.allocs <= total);
		assert_int_equal(after.allocs - before.allocs,
				 after.frees - before.frees);
	} else {
		assert_int_equal(after.allocs - before.allocs, total);
		assert_int_equal(after.frees - before.frees, total);
	}
	assert_int_equal(after.invalid_frees, before.invalid_frees);
	check_pool(fx.conn, POOL_NAME);

	pool_close(fx.pool);
	fx.pool = NULL;
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

/* ---- large blocks: threads on one handle against processes -------------- */

#define BIG_WORKERS	4
#define BIG_WINDOW	256		/* live blocks per worker */
#define BIG_PAIRS	20000		/* free-one, allocate-one per worker */
#define BIG_MIN		(8u << 10)
#define BIG_MAX		(64u << 10)	/* the largest block a cache keeps */
#define BIG_BUDGET	((size_t)1 << 20)
/*
 * Threads may go to the daemon this many times as often as processes
 * (they went about 1.6 times as often, and 6 times before the central
 * shard): threads that share one cache also meet in it, and the refills
 * and evictions one has on their way leave less room to the others.
 */
#define BIG_FACTOR	3

/* What the workers and the one that counts for them share. */
struct big_run {
	pthread_barrier_t bar;		/* process-shared */
	int rc[BIG_WORKERS];
	int done;			/* atomic: the pairs are over */
};

struct big_worker {
	struct big_run *run;
	struct pool *p;			/* NULL: a process, opens its own */
	unsigned id;
};

/* xorshift64*: the same sizes in the same order for threads and processes. */
static uint64_t
big_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 0x2545f4914f6cdd1dull) >> 32;
}

static uint32_t
big_size(uint64_t *s)
{
	return BIG_MIN + (uint32_t)(big_next(s) % (BIG_MAX - BIG_MIN + 1));
}

static int
big_alloc(struct pool *p, uint64_t *s, pool_off_t *off)
{
	uint32_t size = big_size(s);
	uint8_t *b;
	int rc;

	if ((rc = pool_alloc(p, size, off)) != 0)
		return rc;
	if ((b = pool_ptr(p, *off)) == NULL)
		return -EFAULT;
	b[0] = b[size - 1] = 1;		/* used, as a program would */
	return 0;
}

/*
 * Fill a window, wait while the pool is counted, free one and allocate
 * one BIG_PAIRS times, wait while it is counted again, free the window.
 * After an error (rc, or one on the way) the waits are still met, so
 * that the others do not wait for this worker forever.
 */
static int
big_work(struct big_worker *w, struct pool *p, int rc)
{
	pool_off_t win[BIG_WINDOW];
	uint64_t s = 0x9e3779b97f4a7c15ull * (w->id + 1);
	unsigned i, k;

	for (i = 0; i < BIG_WINDOW && rc == 0; i++)
		rc = big_alloc(p, &s, &win[i]);
	pthread_barrier_wait(&w->run->bar);	/* filled */
	pthread_barrier_wait(&w->run->bar);	/* counted: go */
	for (i = 0; i < BIG_PAIRS && rc == 0; i++) {
		k = (unsigned)(big_next(&s) % BIG_WINDOW);
		if ((rc = pool_free(p, win[k])) == 0)
			rc = big_alloc(p, &s, &win[k]);
	}
	pthread_barrier_wait(&w->run->bar);	/* pairs done */
	pthread_barrier_wait(&w->run->bar);	/* counted */
	for (k = 0; k < BIG_WINDOW && rc == 0; k++)
		rc = pool_free(p, win[k]);
	return rc;
}

static void *
big_thread(void *arg)
{
	struct big_worker *w = arg;

	w->run->rc[w->id] = big_work(w, w->p, 0);
	return NULL;
}

static int
big_process(void *arg)
{
	struct big_worker *w = arg;
	struct pool_conn *c;
	struct pool *p;
	int rc;

	if ((rc = pool_connect(NULL, &c)) == 0) {
		if ((rc = pool_open(c, BIG_POOL, &p)) == 0) {
			rc = big_work(w, p, pool_set_cache(p, BIG_BUDGET));
			pool_close(p);
		} else
			(void)big_work(w, NULL, rc);
		pool_disconnect(c);
	} else
		(void)big_work(w, NULL, rc);
	if (rc != 0) {
		fprintf(stderr, "threads: process %u: %s\n", w->id,
			pool_strerror(rc));
		return 1;
	}
	return 0;
}

/*
 * The largest cache its handle reported until the pairs were over.  The
 * first sample is taken before the pairs begin (first is posted then, or
 * at a failure): a sampler a loaded machine ran only once they were over
 * took none at all.
 */
struct big_sampler {
	struct big_run *run;
	struct pool *p;
	uint64_t most;
	unsigned long samples;
	int rc;
	sem_t first;
};

static void *
big_sample(void *arg)
{
	struct big_sampler *m = arg;
	struct pool_stats st;

	do {
		if ((m->rc = pool_stats(m->p, &st)) != 0)
			break;
		if (st.client_cached_bytes > m->most)
			m->most = st.client_cached_bytes;
		if (m->samples++ == 0)
			sem_post(&m->first);
	} while (!__atomic_load_n(&m->run->done, __ATOMIC_ACQUIRE));
	if (m->samples == 0)
		sem_post(&m->first);
	return NULL;
}

/*
 * Blocks the daemon allocated and freed per pair while BIG_WORKERS workers
 * ran their pairs: as threads on handle p, or (p NULL) as processes with
 * a handle each.
 */
static double
big_daemon_blocks_per_pair(struct big_run *run, struct pool_conn *c,
			   struct pool *p, struct big_sampler *m)
{
	struct big_worker w[BIG_WORKERS];
	pthread_t tid[BIG_WORKERS], sampler;
	pid_t pid[BIG_WORKERS];
	struct pool_stats before, after;
	unsigned i;

	memset(run->rc, 0, sizeof run->rc);
	run->done = 0;
	for (i = 0; i < BIG_WORKERS; i++) {
		w[i] = (struct big_worker){.run = run, .p = p, .id = i};
		if (p != NULL)
			assert_int_equal(pthread_create(&tid[i], NULL,
						big_thread, &w[i]), 0);
		else
			assert_true((pid[i] = harness_spawn(big_process,
						&w[i])) > 0);
	}
	pthread_barrier_wait(&run->bar);	/* filled */
	EXPECT_RC(pool_stats_by_name(c, BIG_POOL, &before), 0);
	if (m != NULL) {
		assert_int_equal(sem_init(&m->first, 0, 0), 0);
		assert_int_equal(pthread_create(&sampler, NULL, big_sample,
						m), 0);
		while (sem_wait(&m->first) != 0)
			assert_int_equal(errno, EINTR);
	}
	pthread_barrier_wait(&run->bar);	/* go */
	pthread_barrier_wait(&run->bar);	/* pairs done */
	EXPECT_RC(pool_stats_by_name(c, BIG_POOL, &after), 0);
	__atomic_store_n(&run->done, 1, __ATOMIC_RELEASE);
	if (m != NULL) {
		assert_int_equal(pthread_join(sampler, NULL), 0);
		sem_destroy(&m->first);
	}
	pthread_barrier_wait(&run->bar);	/* counted */
	for (i = 0; i < BIG_WORKERS; i++) {
		if (p != NULL) {
			assert_int_equal(pthread_join(tid[i], NULL), 0);
			EXPECT_RC(run->rc[i], 0);
		} else
			assert_int_equal(harness_wait(pid[i]), 0);
	}
	return (double)(after.allocs - before.allocs + after.frees -
			before.frees) / (BIG_WORKERS * BIG_PAIRS);
}

/*
 * BIG_WORKERS workers each keep BIG_WINDOW blocks of 8 to 64 KiB live and
 * free one and allocate another, the same sizes in the same order, first
 * as processes with a handle each, then as threads on one handle with the
 * same budget.  The threads' cache once gave each thread's shard an equal
 * part of the budget, too little for blocks this large: they went to the
 * daemon six times as often as the processes.  Now they go at most
 * BIG_FACTOR times as often, and the handle's cache, sampled meanwhile by
 * another thread, stays within its budget.  (It once went over it by the
 * block a free kept just before the eviction it set off, one per thread
 * at most.)
 */
static void
threads_on_one_handle_reach_the_daemon_as_seldom_as_processes(void **state)
{
	struct big_run *run;
	struct big_sampler m = {0};
	pthread_barrierattr_t ba;
	struct pool_stats st;
	double procs, threads;

	(void)state;
	run = mmap(NULL, sizeof *run, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(run != MAP_FAILED);
	assert_int_equal(pthread_barrierattr_init(&ba), 0);
	assert_int_equal(pthread_barrierattr_setpshared(&ba,
					PTHREAD_PROCESS_SHARED), 0);
	assert_int_equal(pthread_barrier_init(&run->bar, &ba,
					      BIG_WORKERS + 1), 0);
	assert_int_equal(harness_start(&fx.d, POOL_CONFIG), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);

	procs = big_daemon_blocks_per_pair(run, fx.conn, NULL, NULL);

	assert_int_equal(pool_open(fx.conn, BIG_POOL, &fx.pool), 0);
	EXPECT_RC(pool_set_cache(fx.pool, BIG_BUDGET), 0);
	m.run = run;
	m.p = fx.pool;
	threads = big_daemon_blocks_per_pair(run, fx.conn, fx.pool, &m);
	EXPECT_RC(m.rc, 0);
	EXPECT_RC(pool_stats(fx.pool, &st), 0);

	printf("threads: %d workers, %d blocks of 8-64 KiB live each, %d "
	       "pairs each, a %zu KiB cache a handle: the daemon allocated "
	       "and freed %.4f blocks a pair for processes, %.4f for threads "
	       "on one handle (%.2f times)\n", BIG_WORKERS, BIG_WINDOW,
	       BIG_PAIRS, BIG_BUDGET >> 10, procs, threads,
	       procs > 0 ? threads / procs : 0.0);
	printf("threads: the handle's cache held at most %" PRIu64 " B in %lu "
	       "samples, %" PRIu64 " B at the end\n", m.most, m.samples,
	       st.client_cached_bytes);
	assert_true(m.samples > 0);
	assert_true(procs > 0);
	assert_true(threads <= BIG_FACTOR * procs);
	assert_true(m.most <= BIG_BUDGET);
	assert_true(st.client_cached_bytes <= BIG_BUDGET);

	/* Everything went back: the cache's blocks with the flush. */
	EXPECT_RC(pool_flush(fx.pool), 0);
	EXPECT_RC(pool_stats(fx.pool, &st), 0);
	assert_int_equal(st.allocated_bytes, 0);
	check_pool(fx.conn, BIG_POOL);
	pthread_barrier_destroy(&run->bar);
	munmap(run, sizeof *run);
	pool_close(fx.pool);
	fx.pool = NULL;
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

static void *
stats_caller(void *arg)
{
	struct pool_stats st;

	(void)pool_stats(arg, &st);
	return NULL;
}

/*
 * A thread cancelled while it waits for a reply (the daemon stopped with
 * SIGSTOP, so it waits in recvmsg) must not leave the connection behind it
 * marked as being read, with its call on its gone stack in the list: the
 * next call from another thread then waited forever.  The library's calls
 * are no cancellation points: the cancelled call ends when its reply
 * comes, and the connection goes on.
 */
static void
cancelled_caller_leaves_the_connection_working(void **state)
{
	struct pool_stats st;
	pthread_t t;

	(void)state;
	assert_int_equal(harness_start(&fx.d, POOL_CONFIG), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, POOL_NAME, &fx.pool), 0);
	assert_int_equal(kill(fx.d.pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&t, NULL, stats_caller, fx.pool), 0);
	harness_sleep_ms(100);
	assert_int_equal(pthread_cancel(t), 0);
	harness_sleep_ms(100);
	assert_int_equal(kill(fx.d.pid, SIGCONT), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	alarm(20);	/* a hang kills the test, and says so */
	assert_int_equal(pool_stats(fx.pool, &st), 0);
	alarm(0);
	assert_int_equal(st.clients, 1);
	pool_close(fx.pool);
	fx.pool = NULL;
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

struct opener {
	struct pool_conn *c;
	int go;			/* atomic */
	int opened;
};

/* Spins (no cancellation point) until go, then opens and closes once. */
static void *
open_when_told(void *arg)
{
	struct opener *o = arg;
	struct pool *p;

	while (!__atomic_load_n(&o->go, __ATOMIC_ACQUIRE))
		;
	if (pool_open(o->c, POOL_NAME, &p) == 0) {
		o->opened = 1;
		pool_close(p);
	}
	pthread_testcancel();
	return NULL;
}

/*
 * A cancel already pending when a thread calls pool_open: the call must
 * not act on it halfway (it once did, at a close() after the daemon had
 * opened the handle, which then stayed open with nothing listing it).
 */
static void
pending_cancel_does_not_cut_pool_open(void **state)
{
	struct opener o = {0};
	struct pool_stats st;
	pthread_t t;
	void *ret;

	(void)state;
	assert_int_equal(harness_start(&fx.d, POOL_CONFIG), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	o.c = fx.conn;
	assert_int_equal(pthread_create(&t, NULL, open_when_told, &o), 0);
	assert_int_equal(pthread_cancel(t), 0);
	__atomic_store_n(&o.go, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_true(ret == PTHREAD_CANCELED);
	assert_int_equal(o.opened, 1);
	assert_int_equal(pool_stats_by_name(fx.conn, POOL_NAME, &st), 0);
	assert_int_equal(st.clients, 0);
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

struct freer {
	struct pool *p;
	pool_off_t off;
	int rc;
	int started;		/* atomic */
};

static void *
flush_caller(void *arg)
{
	struct freer *f = arg;

	f->rc = pool_flush(f->p);
	return NULL;
}

/* Frees a block, then acts on a pending cancel. */
static void *
free_caller(void *arg)
{
	struct freer *f = arg;

	__atomic_store_n(&f->started, 1, __ATOMIC_RELEASE);
	f->rc = pool_free(f->p, f->off);
	pthread_testcancel();
	return NULL;
}

/*
 * A thread cancelled while its free waits for a flush of the same block
 * (a double free during another thread's pool_flush, the daemon stopped
 * so that the flush stays on its way) waits with the cache's shard
 * locked: cancelled there, it would leave the lock held and the flush,
 * and every call after it, would hang.  The free ends when the flush is
 * answered, with the daemon's answer to a double free.
 */
static void
cancelled_free_waiting_for_a_flush(void **state)
{
	struct freer fl = {0}, fr = {0};
	struct pool_stats st;
	pthread_t tf, tr;
	pool_off_t off;
	void *ret;

	(void)state;
	assert_int_equal(harness_start(&fx.d, POOL_CONFIG), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, POOL_NAME, &fx.pool), 0);
	EXPECT_RC(pool_set_cache(fx.pool, 1 << 20), 0);
	EXPECT_RC(pool_alloc(fx.pool, 64, &off), 0);
	EXPECT_RC(pool_free(fx.pool, off), 0);
	EXPECT_RC(pool_stats(fx.pool, &st), 0);
	assert_int_not_equal(st.client_cached_bytes, 0);

	assert_int_equal(kill(fx.d.pid, SIGSTOP), 0);
	fl.p = fr.p = fx.pool;
	fr.off = off;
	assert_int_equal(pthread_create(&tf, NULL, flush_caller, &fl), 0);
	harness_sleep_ms(100);		/* the FreeBatch is on its way */
	assert_int_equal(pthread_create(&tr, NULL, free_caller, &fr), 0);
	while (!__atomic_load_n(&fr.started, __ATOMIC_ACQUIRE))
		harness_sleep_ms(1);
	harness_sleep_ms(100);		/* waiting for the flush's answer */
	assert_int_equal(pthread_cancel(tr), 0);
	harness_sleep_ms(100);
	assert_int_equal(kill(fx.d.pid, SIGCONT), 0);
	alarm(20);	/* a hang kills the test, and says so */
	assert_int_equal(pthread_join(tf, NULL), 0);
	assert_int_equal(pthread_join(tr, &ret), 0);
	EXPECT_RC(pool_stats(fx.pool, &st), 0);
	alarm(0);
	printf("threads: a free cancelled while it waited for a flush: "
	       "flush %d, free %d (%s), the thread %s\n", fl.rc, fr.rc,
	       pool_strerror(fr.rc),
	       ret == PTHREAD_CANCELED ? "cancelled after" : "not cancelled");
	EXPECT_RC(fl.rc, 0);
	EXPECT_RC(fr.rc, -EINVAL);
	assert_true(ret == PTHREAD_CANCELED);
	assert_int_equal(st.client_cached_bytes, 0);
	assert_int_equal(st.allocated_bytes, 0);
	check_pool(fx.conn, POOL_NAME);
	pool_close(fx.pool);
	fx.pool = NULL;
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

struct waiter {
	struct pool *p;
	int rc;			/* the call's answer, once it returned */
	int asked;		/* atomic */
};

/* Waits for a name nobody publishes, then acts on a pending cancel. */
static void *
lookup_waiter(void *arg)
{
	struct waiter *w = arg;
	pool_off_t off;

	__atomic_store_n(&w->asked, 1, __ATOMIC_RELEASE);
	w->rc = pool_lookup_wait(w->p, "never", 0, 2000, 0, &off, NULL,
				 NULL);
	pthread_testcancel();
	return NULL;
}

/*
 * A thread cancelled while its pool_lookup_wait waits, across a restart
 * in place: the daemon answers the wait -EINTR, and the library asks the
 * new image again after a short pause.  The call is no cancellation point
 * there either (it once was, at that pause's nanosleep): it goes on for
 * the time left and ends -ETIMEDOUT, and only then is the thread
 * cancelled.
 */
static void
pending_cancel_does_not_cut_a_wait_across_a_restart(void **state)
{
	struct waiter w = {.rc = 1};
	struct pool_stats st;
	pthread_t t;
	void *ret;

	(void)state;
	assert_int_equal(harness_start(&fx.d, POOL_CONFIG), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, POOL_NAME, &fx.pool), 0);
	w.p = fx.pool;
	assert_int_equal(pthread_create(&t, NULL, lookup_waiter, &w), 0);
	while (!__atomic_load_n(&w.asked, __ATOMIC_ACQUIRE))
		harness_sleep_ms(1);
	harness_sleep_ms(100);		/* the wait is with the daemon */
	assert_int_equal(pthread_cancel(t), 0);
	assert_int_equal(harness_restart_in_place(&fx.d), 0);
	alarm(20);	/* a hang kills the test, and says so */
	assert_int_equal(pthread_join(t, &ret), 0);
	alarm(0);
	if (w.rc == 1)
		printf("threads: a lookup wait cancelled across a restart in "
		       "place: the thread %s inside the call\n",
		       ret == PTHREAD_CANCELED ? "cancelled" : "ended");
	else
		printf("threads: a lookup wait cancelled across a restart in "
		       "place: %d (%s), the thread %s\n", w.rc,
		       pool_strerror(w.rc), ret == PTHREAD_CANCELED ?
		       "cancelled after" : "not cancelled");
	assert_true(ret == PTHREAD_CANCELED);
	EXPECT_RC(w.rc, -ETIMEDOUT);
	EXPECT_RC(pool_stats(fx.pool, &st), 0);
	assert_int_equal(st.clients, 1);
	pool_close(fx.pool);
	fx.pool = NULL;
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

struct acl_words {
	int parsed;		/* pool_acl_parse's answer, once it returned */
	int formatted;		/* pool_acl_format's, likewise */
};

/*
 * Cancels itself (pending: deferred), then reads and writes a list with
 * names, which look the password and group databases up, and only then
 * acts on the cancel.
 */
static void *
acl_words_caller(void *arg)
{
	struct acl_words *a = arg;
	struct pool_acl_entry e[4];
	char err[128], text[256];

	pthread_cancel(pthread_self());
	a->parsed = pool_acl_parse("user:root:rw,group:root:r", 0, e, 4, err,
				   sizeof(err));
	a->formatted = pool_acl_format(e, 2, POOL_ACL_FORMAT_NAMES, text,
				       sizeof(text));
	pthread_testcancel();
	return NULL;
}

/*
 * pool_acl_parse and pool_acl_format look names up (getpwnam_r and the
 * like, which open the databases' files: cancellation points).  A cancel
 * pending when they are called must not end the thread inside them,
 * where it would leave their buffers behind: both return, and the thread
 * is cancelled after.
 */
static void
pending_cancel_does_not_cut_acl_words(void **state)
{
	struct acl_words a = {1, 1};
	pthread_t t;
	void *ret;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, acl_words_caller, &a), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	printf("threads: a list read and written with a cancel pending: "
	       "parse %d, format %d, the thread %s\n", a.parsed, a.formatted,
	       ret == PTHREAD_CANCELED ? "cancelled" : "not cancelled");
	assert_true(ret == PTHREAD_CANCELED);
	assert_int_equal(a.parsed, 2);
	assert_int_equal(a.formatted, (int)strlen("user:root:rw,group:root:r"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(ten_threads_share_one_handle,
					  teardown),
		cmocka_unit_test_teardown(
	threads_on_one_handle_reach_the_daemon_as_seldom_as_processes,
			teardown),
		cmocka_unit_test_teardown(
			cancelled_caller_leaves_the_connection_working,
			teardown),
		cmocka_unit_test_teardown(
			pending_cancel_does_not_cut_pool_open, teardown),
		cmocka_unit_test_teardown(
			cancelled_free_waiting_for_a_flush, teardown),
		cmocka_unit_test_teardown(
			pending_cancel_does_not_cut_a_wait_across_a_restart,
			teardown),
		cmocka_unit_test_teardown(
			pending_cancel_does_not_cut_acl_words, teardown),
	};

	return cmocka_run_group_tests_name("integration: threads", tests,
					   NULL, NULL);
}
