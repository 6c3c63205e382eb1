/*
 * itest_cache_threads.c - the threads of one handle and its client cache.
 *
 * Against the real daemon, with threads of this process on one handle:
 *
 *   - a thread may keep up to the whole budget while the other threads
 *     keep nothing: the budget is not cut into equal parts, one for each
 *     thread that ever used the cache;
 *   - two threads that start at once take two shards, not one: held
 *     between choosing a shard and taking it (cache_slot_hook), the one
 *     that takes it second chooses again;
 *   - the cache as a whole stays within its budget while threads free
 *     into their shards and no eviction can be sent: a shard that could
 *     not make room does not keep the block, however much the others
 *     hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define CONFIG		"[pool t]\nsize = 64M\n"
#define SMALL		256

static struct daemon_proc daemon_proc;

static int
teardown(void **state)
{
	(void)state;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

static struct pool *
open_with_budget(struct pool_conn **c, size_t budget)
{
	struct pool *p = NULL;

	if (harness_start(&daemon_proc, CONFIG) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
	EXPECT_RC(pool_connect(NULL, c), 0);
	EXPECT_RC(pool_open(*c, "t", &p), 0);
	EXPECT_RC(pool_set_cache(p, budget), 0);
	return p;
}

static struct pool_stats
stats(struct pool *p)
{
	struct pool_stats st = {.max_size = 0};

	EXPECT_RC(pool_stats(p, &st), 0);
	return st;
}

/* Everything back to the daemon, the pool's books sound; then close. */
static void
finish(struct pool_conn *c, struct pool *p)
{
	char msg[256] = "";
	int rc;

	EXPECT_RC(pool_flush(p), 0);
	assert_int_equal(stats(p).allocated_bytes, 0);
	if ((rc = pool_check_by_name(c, "t", msg, sizeof(msg))) != 0)
		fail_msg("check: %s: %s", pool_strerror(rc), msg);
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

/* Run fn(arg) on a thread of its own and wait for it. */
static void
on_a_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* ---- one thread, the whole budget ---------------------------------------- */

#define WHOLE_BUDGET	(1 << 20)
/* Three quarters of the budget in blocks of SMALL bytes. */
#define WHOLE_BLOCKS	(WHOLE_BUDGET / 4 * 3 / SMALL)

struct whole_run {
	struct pool *p;
	pthread_barrier_t used, done;	/* the idle thread's */
	pool_off_t offs[WHOLE_BLOCKS];
	struct pool_stats before, after;
	int rc;
};

/* Uses the cache once, then stays alive doing nothing until told. */
static void *
whole_idle(void *arg)
{
	struct whole_run *w = arg;
	pool_off_t off;

	if ((w->rc = pool_alloc(w->p, SMALL, &off)) == 0)
		w->rc = pool_free(w->p, off);
	pthread_barrier_wait(&w->used);
	pthread_barrier_wait(&w->done);
	return NULL;
}

static void *
whole_busy(void *arg)
{
	struct whole_run *w = arg;
	unsigned i;

	for (i = 0; i < WHOLE_BLOCKS; i++)
		EXPECT_RC(pool_alloc(w->p, SMALL, &w->offs[i]), 0);
	w->before = stats(w->p);
	for (i = 0; i < WHOLE_BLOCKS; i++)
		EXPECT_RC(pool_free(w->p, w->offs[i]), 0);
	w->after = stats(w->p);
	return NULL;
}

/*
 * One thread used the cache once and idles; another frees three quarters
 * of the budget in small blocks.  It keeps them all: no block goes back
 * to the daemon.  (The library once gave each thread that had used the
 * cache an equal part of the budget: the busy thread's half was full
 * after two thirds of its frees, and evictions sent blocks back.)
 */
static void
one_thread_may_keep_the_whole_budget(void **state)
{
	static struct whole_run w;
	struct pool_conn *c;
	pthread_t idle;
	uint64_t freed = (uint64_t)WHOLE_BLOCKS * SMALL;

	(void)state;
	memset(&w, 0, sizeof w);
	w.p = open_with_budget(&c, WHOLE_BUDGET);
	assert_int_equal(pthread_barrier_init(&w.used, NULL, 2), 0);
	assert_int_equal(pthread_barrier_init(&w.done, NULL, 2), 0);
	assert_int_equal(pthread_create(&idle, NULL, whole_idle, &w), 0);
	pthread_barrier_wait(&w.used);
	on_a_thread(whole_busy, &w);
	pthread_barrier_wait(&w.done);
	assert_int_equal(pthread_join(idle, NULL), 0);
	EXPECT_RC(w.rc, 0);

	printf("cache_threads: %" PRIu64 " B freed by one thread of two, a "
	       "%d B budget: %" PRIu64 " blocks went back to the daemon, %"
	       PRIu64 " B cached\n", freed, WHOLE_BUDGET,
	       w.after.frees - w.before.frees, w.after.client_cached_bytes);
	assert_int_equal(w.after.frees, w.before.frees);
	assert_true(w.after.client_cached_bytes >= freed);
	assert_true(w.after.client_cached_bytes <= WHOLE_BUDGET);
	finish(c, w.p);
}

/* ---- two threads starting at once ---------------------------------------- */

/*
 * libpoolclient calls this, when the program defines it, as a thread
 * takes a shard slot: once it chose one (taken false), once it took it.
 * Here the first choice of each of two threads waits for the other's:
 * both choose before either takes.
 */
void cache_slot_hook(unsigned slot, int taken);

static pthread_barrier_t slot_both_chose, slot_both_took;
static bool slot_holding;		/* atomic: the two threads' turn */
static __thread bool slot_waited;
static __thread unsigned slot_taken;

void
cache_slot_hook(unsigned slot, int taken)
{
	if (taken) {
		slot_taken = slot + 1;
		return;
	}
	if (__atomic_load_n(&slot_holding, __ATOMIC_ACQUIRE) &&
	    !slot_waited) {
		slot_waited = true;
		pthread_barrier_wait(&slot_both_chose);
	}
}

struct slot_thread {
	struct pool *p;
	unsigned slot;		/* + 1; 0: none taken */
	int rc;
};

static void *
slot_start(void *arg)
{
	struct slot_thread *s = arg;
	pool_off_t off;

	if ((s->rc = pool_alloc(s->p, SMALL, &off)) == 0)
		s->rc = pool_free(s->p, off);
	s->slot = slot_taken;
	/* Alive until both took theirs: an ended thread gives its slot back. */
	pthread_barrier_wait(&slot_both_took);
	return NULL;
}

/*
 * Two threads that start at once, both choosing the same least used slot
 * before either takes it, end up in two shards.  (The library once took
 * the slot it chose without looking again: both shared one shard, its
 * lock and its part of the budget, for as long as they lived.)
 */
static void
threads_starting_at_once_take_two_shards(void **state)
{
	struct slot_thread s[2];
	struct pool_conn *c;
	struct pool *p;
	pthread_t t[2];
	unsigned i;

	(void)state;
	p = open_with_budget(&c, 1 << 20);
	assert_int_equal(pthread_barrier_init(&slot_both_chose, NULL, 2), 0);
	assert_int_equal(pthread_barrier_init(&slot_both_took, NULL, 2), 0);
	__atomic_store_n(&slot_holding, true, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++) {
		s[i] = (struct slot_thread){.p = p};
		assert_int_equal(pthread_create(&t[i], NULL, slot_start,
						&s[i]), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	__atomic_store_n(&slot_holding, false, __ATOMIC_RELEASE);
	pthread_barrier_destroy(&slot_both_chose);
	pthread_barrier_destroy(&slot_both_took);

	printf("cache_threads: two threads started at once took slots %u "
	       "and %u\n", s[0].slot - 1, s[1].slot - 1);
	for (i = 0; i < 2; i++) {
		EXPECT_RC(s[i].rc, 0);
		assert_true(s[i].slot > 0);
	}
	assert_int_not_equal(s[0].slot, s[1].slot);
	finish(c, p);
}

/* ---- the budget's bound, evictions refused ------------------------------- */

/*
 * While free_batches_fail is set every FreeBatch this process sends fails
 * as a kernel with no buffer space fails it: ENOBUFS, nothing sent.  The
 * test links libpoolclient.a, so its sends come here.
 */
static int free_batches_fail;	/* atomic */
static int free_batches_refused;	/* atomic */

static bool
request_is(const void *buf, size_t len, Poolmgr__Request__BodyCase body)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	bool yes;

	if (req == NULL)
		return false;
	yes = req->body_case == body;
	poolmgr__request__free_unpacked(req, NULL);
	return yes;
}

static void held_send(const void *, size_t);

typedef ssize_t (*send_fn)(int, const void *, size_t, int);

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	static send_fn real;	/* atomic */
	send_fn fn;

	held_send(buf, len);
	if (__atomic_load_n(&free_batches_fail, __ATOMIC_ACQUIRE) &&
	    request_is(buf, len, POOLMGR__REQUEST__BODY_FREE_BATCH)) {
		__atomic_add_fetch(&free_batches_refused, 1,
				   __ATOMIC_RELAXED);
		errno = ENOBUFS;
		return -1;
	}
	if ((fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE)) == NULL) {
		fn = (send_fn)dlsym(RTLD_NEXT, "send");
		__atomic_store_n(&real, fn, __ATOMIC_RELEASE);
	}
	return fn(fd, buf, len, flags);
}

#define BOUND_BUDGET	(256 << 10)
#define BOUND_LARGE	(8 << 10)
#define BOUND_NLARGE	(BOUND_BUDGET / BOUND_LARGE)
#define BOUND_NSMALL	512

struct bound_run {
	struct pool *p;
	pool_off_t offs[BOUND_NSMALL];
	int step;		/* 0: allocate, 1: free */
};

static void *
bound_small(void *arg)
{
	struct bound_run *b = arg;
	unsigned i;

	for (i = 0; i < BOUND_NSMALL; i++) {
		if (b->step == 0)
			EXPECT_RC(pool_alloc(b->p, SMALL, &b->offs[i]), 0);
		else
			EXPECT_RC(pool_free(b->p, b->offs[i]), 0);
	}
	return NULL;
}

static void *
bound_large(void *arg)
{
	struct bound_run *b = arg;
	pool_off_t offs[BOUND_NLARGE];
	unsigned i;

	for (i = 0; i < BOUND_NLARGE; i++)
		EXPECT_RC(pool_alloc(b->p, BOUND_LARGE, &offs[i]), 0);
	for (i = 0; i < BOUND_NLARGE; i++)
		EXPECT_RC(pool_free(b->p, offs[i]), 0);
	return NULL;
}

/*
 * One thread holds small blocks, another fills the cache with large ones
 * (the shard all threads share), then no FreeBatch can be sent and the
 * first thread frees its small blocks.  The cache stays within its
 * budget: a free that finds no room and cannot make any goes to the
 * daemon.  (The library once let a thread's shard take its equal part
 * of the budget whatever the shared shard held, counting on the shared
 * one to give way; its eviction refused, the cache held its budget and
 * half of it again.)
 */
static void
cache_stays_within_its_budget_across_threads(void **state)
{
	static struct bound_run b;
	struct pool_conn *c;
	struct pool_stats st;
	int refused;

	(void)state;
	memset(&b, 0, sizeof b);
	b.p = open_with_budget(&c, BOUND_BUDGET);
	on_a_thread(bound_small, &b);
	on_a_thread(bound_large, &b);
	__atomic_store_n(&free_batches_refused, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&free_batches_fail, 1, __ATOMIC_RELEASE);
	b.step = 1;
	on_a_thread(bound_small, &b);
	__atomic_store_n(&free_batches_fail, 0, __ATOMIC_RELEASE);
	refused = __atomic_load_n(&free_batches_refused, __ATOMIC_RELAXED);
	st = stats(b.p);

	printf("cache_threads: a %d B budget, large blocks cached by one "
	       "thread, %d B of small ones freed by another while %d "
	       "FreeBatches were refused: %" PRIu64 " B cached\n",
	       BOUND_BUDGET, BOUND_NSMALL * SMALL, refused,
	       st.client_cached_bytes);
	assert_true(refused > 0);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);
	assert_true(st.client_cached_bytes <= BOUND_BUDGET);
	finish(c, b.p);
}

/* ---- a refill on its way while the budget changes ------------------------ */

/*
 * held_send holds a thread at its next request of one kind: the first
 * AllocBatch of a thread that set hold_refill (a refill, its credit taken,
 * the daemon not yet asked) until refill_go; the first Realloc of a thread
 * that set hold_shrink (pool_set_cache(0) giving back the slack of a live
 * block, every shard emptied already) until the refill has gone its whole
 * way.
 */
static __thread bool hold_refill, hold_shrink;
static sem_t refill_held, refill_go, refill_done;

static void
held_send(const void *buf, size_t len)
{
	if (hold_refill &&
	    request_is(buf, len, POOLMGR__REQUEST__BODY_ALLOC_BATCH)) {
		hold_refill = false;
		sem_post(&refill_held);
		while (sem_wait(&refill_go) != 0)
			;
	}
	if (hold_shrink &&
	    request_is(buf, len, POOLMGR__REQUEST__BODY_REALLOC)) {
		hold_shrink = false;
		sem_post(&refill_go);
		while (sem_wait(&refill_done) != 0)
			;
	}
}

struct refill_run {
	struct pool *p;
	pool_off_t off;
	int rc;
};

/* An allocation of a class this thread never had: a refill, held. */
static void *
refill_held_thread(void *arg)
{
	struct refill_run *r = arg;

	hold_refill = true;
	r->rc = pool_alloc(r->p, SMALL, &r->off);
	sem_post(&refill_done);
	return NULL;
}

static void
refill_sems(bool init)
{
	if (init) {
		assert_int_equal(sem_init(&refill_held, 0, 0), 0);
		assert_int_equal(sem_init(&refill_go, 0, 0), 0);
		assert_int_equal(sem_init(&refill_done, 0, 0), 0);
		return;
	}
	sem_destroy(&refill_held);
	sem_destroy(&refill_go);
	sem_destroy(&refill_done);
}

/*
 * A thread's refill is on its way (its credit taken) when another thread
 * turns the cache off; the refill's answer comes after the flush emptied
 * the refilling thread's shard, before pool_set_cache returns.  Once it
 * has returned 0 nothing is cached, and frees after it go to the daemon.
 * (The library once trimmed the shards' credit only after the flush and
 * the shrinks of slack: the refill kept its blocks in the credit it had
 * taken, and the trim then kept that credit for them - 768 B cached with
 * the cache off, found as 128 B left allocated by a test under TSan.)
 */
static void
cache_off_keeps_no_refill_on_its_way(void **state)
{
	struct refill_run r = {.rc = -1};
	struct pool_conn *c;
	struct pool_stats st;
	pool_off_t slack;
	pthread_t t;
	int rc;

	(void)state;
	refill_sems(true);
	r.p = open_with_budget(&c, 1 << 20);
	/* A 100-byte block served by a cached 128-byte one: slack. */
	EXPECT_RC(pool_alloc(r.p, 128, &slack), 0);
	EXPECT_RC(pool_free(r.p, slack), 0);
	EXPECT_RC(pool_alloc(r.p, 100, &slack), 0);
	assert_int_equal(pthread_create(&t, NULL, refill_held_thread, &r), 0);
	while (sem_wait(&refill_held) != 0)
		;
	hold_shrink = true;
	rc = pool_set_cache(r.p, 0);
	hold_shrink = false;
	assert_int_equal(pthread_join(t, NULL), 0);
	EXPECT_RC(r.rc, 0);
	st = stats(r.p);

	printf("cache_threads: a refill answered while the cache was turned "
	       "off: pool_set_cache(0) %d, then %" PRIu64 " B cached\n", rc,
	       st.client_cached_bytes);
	EXPECT_RC(rc, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	EXPECT_RC(pool_free(r.p, r.off), 0);
	EXPECT_RC(pool_free(r.p, slack), 0);
	st = stats(r.p);
	assert_int_equal(st.client_cached_bytes, 0);
	assert_int_equal(st.allocated_bytes, 0);
	refill_sems(false);
	finish(c, r.p);
}

#define SHRUNK_BUDGET	512

/*
 * The same refill on its way while another thread makes the budget
 * smaller, answered after pool_set_cache returned: the refill keeps only
 * what the new budget holds.
 */
static void
shrink_keeps_a_refill_on_its_way_within_the_budget(void **state)
{
	struct refill_run r = {.rc = -1};
	struct pool_conn *c;
	struct pool_stats st;
	pthread_t t;

	(void)state;
	refill_sems(true);
	r.p = open_with_budget(&c, 1 << 20);
	assert_int_equal(pthread_create(&t, NULL, refill_held_thread, &r), 0);
	while (sem_wait(&refill_held) != 0)
		;
	EXPECT_RC(pool_set_cache(r.p, SHRUNK_BUDGET), 0);
	sem_post(&refill_go);
	assert_int_equal(pthread_join(t, NULL), 0);
	EXPECT_RC(r.rc, 0);
	st = stats(r.p);

	printf("cache_threads: a refill answered after the budget went to "
	       "%d B: %" PRIu64 " B cached\n", SHRUNK_BUDGET,
	       st.client_cached_bytes);
	assert_true(st.client_cached_bytes <= SHRUNK_BUDGET);
	EXPECT_RC(pool_free(r.p, r.off), 0);
	refill_sems(false);
	finish(c, r.p);
}

/* ---- the cache's size, read while blocks move ---------------------------- */

/*
 * A thread that runs the allocations or frees it is told to, one batch at
 * a time, and stays alive between them: its shard stays its own.
 */
#define MOVE_ALLOC	0
#define MOVE_FREE	1
#define MOVE_QUIT	2

struct mover {
	struct pool *p;
	pthread_t t;
	sem_t go, done;
	int cmd;		/* MOVE_* */
	unsigned n;
	pool_off_t *offs;
	unsigned slot;		/* + 1, as slot_taken */
	int rc;
};

static void *
mover_main(void *arg)
{
	struct mover *m = arg;
	unsigned i;

	for (;;) {
		while (sem_wait(&m->go) != 0)
			;
		if (m->cmd == MOVE_QUIT)
			return NULL;
		for (i = 0; i < m->n && m->rc == 0; i++)
			m->rc = m->cmd == MOVE_ALLOC ?
			    pool_alloc(m->p, SMALL, &m->offs[i]) :
			    pool_free(m->p, m->offs[i]);
		m->slot = slot_taken;
		sem_post(&m->done);
	}
}

static void
mover_run(struct mover *m, int cmd, unsigned n)
{
	m->cmd = cmd;
	m->n = n;
	sem_post(&m->go);
	if (cmd == MOVE_QUIT) {
		assert_int_equal(pthread_join(m->t, NULL), 0);
		sem_destroy(&m->go);
		sem_destroy(&m->done);
		return;
	}
	while (sem_wait(&m->done) != 0)
		;
	EXPECT_RC(m->rc, 0);
}

#define READ_BUDGET	(16 << 10)
#define READ_FILL	36	/* blocks: more than half the budget */
#define READ_MOVED	32	/* of them, moved between two shards */

/*
 * libpoolclient calls this, when the program defines it, after it read
 * each shard's count for the cache's size.  Here, once, on the thread
 * that set moving_at, after the count of the shard moving_from uses: that
 * thread allocates READ_MOVED of its cached blocks, and moving_to frees
 * them into its own shard, not read yet.
 */
void cache_bytes_hook(unsigned shard);

static __thread unsigned moving_at;	/* the shard + 1; 0: not here */
static struct mover *moving_from, *moving_to;

void
cache_bytes_hook(unsigned shard)
{
	if (moving_at != shard + 1)
		return;
	moving_at = 0;
	mover_run(moving_from, MOVE_ALLOC, READ_MOVED);
	mover_run(moving_to, MOVE_FREE, READ_MOVED);
}

/*
 * One thread's shard holds more than half the budget; while the size of
 * the cache is read for a request (here pool_stats), it allocates most of
 * those blocks and another thread, whose shard is read later, frees them
 * into its own.  The figure the request carries stays within the budget.
 * (The library summed the shards' counts, each read once without its
 * lock: the moved blocks counted twice, and a 16 KiB cache reported
 * more than its budget.)
 */
static void
cache_size_read_while_blocks_move_stays_within_the_budget(void **state)
{
	static pool_off_t offs[READ_FILL];
	struct mover m[2], *lo, *hi;
	struct pool_conn *c;
	struct pool_stats quiet, read, after;
	pool_off_t big;
	unsigned i;

	(void)state;
	memset(m, 0, sizeof m);
	m[0].p = m[1].p = open_with_budget(&c, READ_BUDGET);
	/* The handle holds more than any report: the daemon keeps each. */
	EXPECT_RC(pool_alloc(m[0].p, 1 << 20, &big), 0);
	for (i = 0; i < 2; i++) {
		m[i].offs = offs;
		assert_int_equal(sem_init(&m[i].go, 0, 0), 0);
		assert_int_equal(sem_init(&m[i].done, 0, 0), 0);
		assert_int_equal(pthread_create(&m[i].t, NULL, mover_main,
						&m[i]), 0);
		/* Each takes a shard of its own while both live. */
		mover_run(&m[i], MOVE_ALLOC, 1);
		mover_run(&m[i], MOVE_FREE, 1);
	}
	assert_int_not_equal(m[0].slot, m[1].slot);
	lo = m[0].slot < m[1].slot ? &m[0] : &m[1];
	hi = lo == &m[0] ? &m[1] : &m[0];
	mover_run(lo, MOVE_ALLOC, READ_FILL);
	mover_run(lo, MOVE_FREE, READ_FILL);
	quiet = stats(lo->p);
	moving_from = lo;
	moving_to = hi;
	moving_at = lo->slot;
	read = stats(lo->p);
	assert_int_equal(moving_at, 0);
	after = stats(lo->p);

	printf("cache_threads: a %d B budget, %" PRIu64 " B cached; %d B "
	       "moved between two threads' shards while its size was read: "
	       "%" PRIu64 " B reported, %" PRIu64 " B cached after\n",
	       READ_BUDGET, quiet.client_cached_bytes, READ_MOVED * SMALL,
	       read.client_cached_bytes, after.client_cached_bytes);
	assert_true(quiet.client_cached_bytes > READ_BUDGET / 2);
	assert_true(quiet.client_cached_bytes <= READ_BUDGET);
	assert_true(after.client_cached_bytes <= READ_BUDGET);
	assert_true(read.client_cached_bytes <= READ_BUDGET);
	for (i = 0; i < 2; i++)
		mover_run(&m[i], MOVE_QUIT, 0);
	EXPECT_RC(pool_free(lo->p, big), 0);
	finish(c, lo->p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(one_thread_may_keep_the_whole_budget,
					  teardown),
		cmocka_unit_test_teardown(
			threads_starting_at_once_take_two_shards, teardown),
		cmocka_unit_test_teardown(
			cache_stays_within_its_budget_across_threads,
			teardown),
		cmocka_unit_test_teardown(
			cache_off_keeps_no_refill_on_its_way, teardown),
		cmocka_unit_test_teardown(
			shrink_keeps_a_refill_on_its_way_within_the_budget,
			teardown),
		cmocka_unit_test_teardown(
			cache_size_read_while_blocks_move_stays_within_the_budget,
			teardown),
	};

	return cmocka_run_group_tests_name("integration: cache threads",
					   tests, NULL, NULL);
}
