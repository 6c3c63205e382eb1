/*
 * itest_alloc_persist.c - blocks persistent from their allocation
 * (pool_alloc_wait's POOL_ALLOC_PERSIST, Alloc.persist; docs/protocol.md,
 * "Persistent from the start"), between real client processes.
 *
 *   handed_on              a producer process allocates a block so and
 *       writes it: while it is still connected its handle holds nothing
 *       (pool_clients), the pool counts one persistent block of its uid
 *       (pool_persisted), and its exit leaves the block; a consumer reads
 *       the bytes and frees it, which ends it: nothing live, nothing
 *       persistent, the books checked;
 *   quota                  the persisted bytes count against the uid's
 *       quota as pool_persist's do: a request past it is -EDQUOT and
 *       changes nothing (allocs, bytes, blocks as they were), a plain
 *       allocation past it too; the free of the first makes room again;
 *   not_a_reference        with max_blocks_per_session 4, one connection
 *       makes 12 such blocks (it holds none of them), where its fifth
 *       plain allocation is refused;
 *   cache_neither_way      the handle's cache (when it has one) does not
 *       serve such a request, and its own free of the block goes to the
 *       daemon and ends it instead of keeping it;
 *   waits_for_room         in a pool another process holds all of, a
 *       waiter with POOL_ALLOC_PERSIST waits, gets its block from a free,
 *       holds none, and the block is the pool's;
 *   zeroed_in_steps        POOL_ALLOC_ZERO | POOL_ALLOC_PERSIST of 8 MiB
 *       over dirty pages, zeroed in steps (release_step 256K): zeroes,
 *       persistent, held by nobody;
 *   refusals               a read-only handle is refused (nothing made),
 *       size 0 and unknown flags are -EINVAL; the daemon's check passes;
 *   refused_once_ready     a 128 MiB block zeroed in steps of 4 KiB for
 *       a waiter, while this process (the same uid, another connection)
 *       persists a 64 MiB block of its own: the quota of 160 MiB held both
 *       when each was allocated, not once both are persistent.  The
 *       block, ready, is refused its persist: -EDQUOT (the daemon logs
 *       the quota's words; the library, which gives its cache back and
 *       asks once more after an -EDQUOT, gets the second refusal's), the
 *       block back in the engine (one alloc and one free counted),
 *       nothing else left, the books checked;
 *   killed_while_zeroed    a maker SIGKILLed while its 128 MiB block is
 *       zeroed in steps for it: once the steps are done nothing is live,
 *       nothing persistent, nobody's quota charged, the books checked;
 *   restart_while_waiting  a maker waiting for room with POOL_ALLOC_PERSIST
 *       when the daemon restarts in place is asked again of the new image
 *       (one allocation waiting there), and a free gives it one block,
 *       persistent, held by nobody, charged once; one made before the
 *       restart is still persistent there, its bytes and charge kept;
 *   waiter_killed_or_pool_gone  a maker waiting for room with
 *       POOL_ALLOC_PERSIST is SIGKILLed: nothing waits, nothing is made;
 *       another waits while the pool is destroyed (pool_destroy_force):
 *       -ENOENT, nothing made;
 *   restart_while_zeroed   a restart in place while the maker's 64 MiB
 *       block is zeroed in steps: its reply comes, the block zeroed and
 *       persistent across the restart, its maker holding none;
 *   threads_share_a_handle  four threads on one handle (its cache too)
 *       each make 200 such blocks among plain allocations and frees
 *       (without max_blocks_per_session 4, which those would meet):
 *       800 distinct blocks, all persistent, the handle holding none of
 *       them;
 *   quota_with_a_cache     of a 64 KiB quota, 32 KiB persisted and a
 *       block or two of 4 KiB kept by the handle's cache: a persistent
 *       allocation of 32 KiB is refused by the daemon once (logged), the
 *       library gives the cache back and the second ask gets it (without
 *       a cache there is nothing to give back: the test skips);
 *   bound_keeps_the_cache  max_persistent_blocks_per_uid 2, reached: a
 *       persistent allocation (at once, waiting) and batch of a caching
 *       handle are -EDQUOT in the bound's words, each counted once in
 *       quota_refusals, and the handle's cache keeps its block (before,
 *       the library gave it back and asked again, for nothing);
 *   ended_by_age           pool_free_persisted: a block persistent for
 *       less than the age asked is -ESTALE and stays (listed with its
 *       age by pool_blocks, which grows, and a restart in place keeps);
 *       one old enough ends; -EINVAL (no block), -EPERM (held, not
 *       persistent), -EBUSY (named), -EACCES (a read-only handle) change
 *       nothing; a handle that holds the block keeps its reference;
 *   persist_times_follow_every_path  a block made persistent and ended
 *       each way (a Free or FreePersisted of another handle, a name
 *       unpublished or replaced, a FreeBatch, an eviction, a forced
 *       destroy), before and after a restart in place, and persisted again
 *       at the same offset each time: no persist time is left behind (the
 *       daemon would stop at that persist) and none missing (Check);
 *   crash_keeps_them       under systemd's fd store (played by the test,
 *       harness_store.h), two such blocks, one of them zeroed in steps
 *       after a wait, and a plain one; poolmgrd SIGKILLed and started
 *       again: the two are back at their offsets with their bytes,
 *       persistent and charged to this uid, the plain one gone, and
 *       their frees end them.
 *
 * And a batch of them (pool_alloc_batch_flags's POOL_ALLOC_PERSIST,
 * AllocBatch.persist):
 *
 *   batch_handed_on        a producer process makes 16 blocks so in one
 *       batch (its handle's cache, if any, serving none) and writes
 *       them: while it is connected its handle holds none, the pool and
 *       `poolctl persisted` count 16 persistent blocks of its uid, their
 *       bytes; its exit keeps them; a consumer process reads and frees
 *       each, which ends it: nothing live, nothing persistent;
 *   batch_not_a_reference  with max_blocks_per_session 4, one batch of
 *       12 such blocks, where a plain batch of 5 is refused;
 *   batch_quota            all or nothing under the quota, whose bound
 *       counts the uid's persisted bytes (another connection's too): a
 *       batch past it is -EDQUOT, nothing made, nothing persistent, the
 *       statistics as they were; one within it is made;
 *   batch_no_room          a batch the pool has no room for (its last
 *       block): -ENOMEM, nothing made, nothing persistent;
 *   batch_evicts           a batch the pool has room for once an
 *       evictable name nobody holds is evicted: the name goes, the
 *       batch is made, persistent, held by nobody;
 *   batch_refusals         POOL_ALLOC_ZERO (the daemon's batch zeroes
 *       nothing) and unknown flags are -EINVAL, a read-only handle is
 *       refused, nothing made;
 *   batch_restart          a closed handle and a restart in place keep
 *       the batch persistent, bytes, charge and all;
 *   batch_crash            under systemd's fd store, a batch of 4 such
 *       blocks and a plain one; poolmgrd SIGKILLed and started again:
 *       the 4 are back persistent, their bytes there, the plain one
 *       gone;
 *   batch_crash_midway     under the store, poolmgrd killed (fail_grow.so)
 *       as the crash journal grows in the middle of a batch of 4096
 *       such blocks, a thousand of their records written: started again,
 *       it recovers none of them (nothing live, nothing persistent, no
 *       uid charged, the books checked); the same batch made whole, and
 *       a crash, recovers all 4096, which one FreeBatch ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define KiB		((size_t)1 << 10)
#define MiB		((size_t)1 << 20)
#define CONF		"release_step = 256K\n" \
			"max_blocks_per_session = 4\n" \
			"[pool default]\nsize = 16M\n" \
			"[pool steps]\nsize = 32M\n"
#define LONG_WAIT_MS	60000	/* only a guard: the tests end the waits */
#define LOG_WAIT_MS	30000
#define FILL_MAX	64

static struct daemon_proc d;
static struct pool_conn *conn;

/* A daemon of configuration conf, and a connection to it. */
static int
start_with(const char *conf)
{
	memset(&d, 0, sizeof(d));
	if (harness_start(&d, conf) != 0)
		return -1;
	return pool_connect(d.sock, &conn) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	(void)state;
	return start_with(CONF);
}

static int
teardown(void **state)
{
	(void)state;
	pool_disconnect(conn);
	return harness_finish(&d) == 0 ? 0 : -1;
}

/* The references the handles of process pid hold in pool name. */
static uint64_t
blocks_held_by(const char *name, pid_t pid)
{
	struct pool_client_info *ci;
	size_t n, i;
	uint64_t held = 0;
	bool seen = false;

	EXPECT_RC(pool_clients(conn, name, &ci, &n), 0);
	for (i = 0; i < n; i++)
		if (ci[i].pid == (uint32_t)pid) {
			held += ci[i].blocks;
			seen = true;
		}
	free(ci);
	assert_true(seen);
	return held;
}

/* The persistent blocks and bytes this uid has in pool name. */
static void
persisted_by_me(const char *name, uint64_t *blocks, uint64_t *bytes)
{
	struct pool_persisted *pp;
	size_t n, total, i;

	*blocks = *bytes = 0;
	EXPECT_RC(pool_persisted(conn, name, &pp, &n, &total), 0);
	for (i = 0; i < n; i++)
		if (pp[i].uid == (uint32_t)getuid()) {
			*blocks = pp[i].blocks;
			*bytes = pp[i].bytes;
		}
	free(pp);
}

/* ---- a process that makes one block and reports it ---------------------- */

/*
 * A child's two pipes: it reports what it made on report, then waits,
 * connected and its handle open, until the test writes on go.
 */
struct child_line {
	int report[2], go[2];
};

static pid_t
line_start(struct child_line *l, int (*run)(void *), void *arg)
{
	pid_t pid;

	assert_int_equal(pipe(l->report), 0);
	assert_int_equal(pipe(l->go), 0);
	pid = harness_spawn(run, arg);
	assert_true(pid > 0);
	close(l->report[1]);
	close(l->go[0]);
	return pid;
}

/* In the child: report r, then wait for the test's go (0), or -1. */
static int
line_report(struct child_line *l, const void *r, size_t len)
{
	char go;

	if (harness_write_full(l->report[1], r, len) != 0 ||
	    harness_read_full(l->go[0], &go, 1) != 0)
		return -1;
	return 0;
}

/* The child may go: it must close its handle and exit cleanly. */
static void
line_end(struct child_line *l, pid_t pid)
{
	assert_int_equal(harness_write_full(l->go[1], "g", 1), 0);
	close(l->go[1]);
	close(l->report[0]);
	assert_int_equal(harness_wait(pid), 0);
}

struct maker {
	const char *pool;
	size_t size;
	unsigned flags;
	int timeout_ms;
	unsigned char fill;
	struct child_line line;
};

struct made {
	int rc;
	uint64_t off, usable;
	int zeroed;		/* every byte was 0 before the fill */
	char message[256];	/* pool_last_message of a refusal */
};

static int
maker_run(void *arg)
{
	struct maker *m = arg;
	struct pool_conn *c;
	struct pool *p;
	struct made r;
	pool_off_t off = POOL_OFF_NONE;
	const unsigned char *b;
	size_t i, usable = 0;

	close(m->line.report[0]);
	close(m->line.go[1]);
	memset(&r, 0, sizeof(r));
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, m->pool, &p), 0, 3);
	r.rc = pool_alloc_wait(p, m->size, 0, m->flags, m->timeout_ms, &off);
	r.off = off;
	if (r.rc != 0)
		snprintf(r.message, sizeof(r.message), "%s",
			 pool_last_message(r.rc));
	if (r.rc == 0) {
		b = pool_ptr(p, off);
		r.zeroed = 1;
		for (i = 0; i < m->size && r.zeroed; i++)
			r.zeroed = b[i] == 0;
		memset(pool_ptr(p, off), m->fill, m->size);
		CHECK_RC(pool_usable_size(p, off, &usable), 0, 4);
		r.usable = usable;
	}
	/* Connected, its handle open, until the test says go. */
	CHECK(line_report(&m->line, &r, sizeof(r)) == 0, 5);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static pid_t
maker_start(struct maker *m)
{
	return line_start(&m->line, maker_run, m);
}

static struct made
maker_made(struct maker *m)
{
	struct made r;

	assert_int_equal(harness_read_full(m->line.report[0], &r, sizeof(r)), 0);
	return r;
}

/* Let it close its handle and exit; it must have done so cleanly. */
static void
maker_end(struct maker *m, pid_t pid)
{
	line_end(&m->line, pid);
}

/* ---- the tests ---------------------------------------------------------- */

static void
handed_on(void **state)
{
	struct maker m = {.pool = "default", .size = 1000,
			  .flags = POOL_ALLOC_PERSIST, .fill = 0x5a};
	struct pool_stats st;
	struct made r;
	struct pool *p;
	uint64_t blocks, bytes;
	const unsigned char *b;
	size_t i;
	pid_t pid;

	(void)state;
	pid = maker_start(&m);
	r = maker_made(&m);
	assert_int_equal(r.rc, 0);
	/* Made and persistent, its maker still connected, holding none. */
	assert_int_equal(blocks_held_by("default", pid), 0);
	persisted_by_me("default", &blocks, &bytes);
	assert_int_equal(blocks, 1);
	assert_int_equal(bytes, r.usable);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 1);
	assert_int_equal(st.live_blocks, 1);
	maker_end(&m, pid);
	/* Its maker gone, the block is still there, bytes and all. */
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.live_blocks, 1);
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	b = pool_ptr(p, r.off);
	for (i = 0; i < m.size; i++)
		assert_int_equal(b[i], 0x5a);
	/* The consumer's free ends it. */
	EXPECT_RC(pool_free(p, r.off), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	persisted_by_me("default", &blocks, &bytes);
	assert_int_equal(blocks, 0);
	/* Once ended, it is no block to free. */
	EXPECT_RC(pool_free(p, r.off), -EINVAL);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

static void
quota(void **state)
{
	struct pool_create_opts o = {.max_size = 4 * MiB, .quota = 64 * KiB};
	struct pool_stats before, after;
	struct pool *p;
	pool_off_t a, x = POOL_OFF_NONE;

	(void)state;
	EXPECT_RC(pool_create(conn, "quota", &o), 0);
	EXPECT_RC(pool_open(conn, "quota", &p), 0);
	EXPECT_RC(pool_alloc_wait(p, 40 * KiB, 0, POOL_ALLOC_PERSIST, 0, &a),
		  0);
	before = harness_stats_of(conn, "quota");
	assert_int_equal(before.persistent_blocks, 1);
	/* 40 KiB more would be 80 of the 64: refused, nothing changed. */
	EXPECT_RC(pool_alloc_wait(p, 40 * KiB, 0, POOL_ALLOC_PERSIST, 0, &x),
		  -EDQUOT);
	assert_true(x == POOL_OFF_NONE);
	after = harness_stats_of(conn, "quota");
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.persistent_blocks, 1);
	/* The persisted bytes are the uid's: a plain allocation sees them. */
	EXPECT_RC(pool_alloc(p, 40 * KiB, &x), -EDQUOT);
	/* Waiting is no way round a quota: refused at once. */
	EXPECT_RC(pool_alloc_wait(p, 40 * KiB, 0, POOL_ALLOC_PERSIST, 5000,
				  &x), -EDQUOT);
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_alloc_wait(p, 40 * KiB, 0, POOL_ALLOC_PERSIST, 0, &x),
		  0);
	EXPECT_RC(pool_free(p, x), 0);
	harness_expect_checked(conn, "quota");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "quota"), 0);
}

static void
not_a_reference(void **state)
{
	struct pool_stats st;
	struct pool *p;
	pool_off_t offs[12], held[5], x;
	size_t i, plain = 0;
	int rc;

	(void)state;
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	for (i = 0; i < 12; i++)
		EXPECT_RC(pool_alloc_wait(p, 256, 0, POOL_ALLOC_PERSIST, 0,
					  &offs[i]), 0);
	assert_int_equal(blocks_held_by("default", getpid()), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 12);
	/* The session's own references stop at 4. */
	while ((rc = pool_alloc(p, 256, &x)) == 0) {
		assert_true(plain < 5);
		held[plain++] = x;
	}
	assert_int_equal(rc, -EDQUOT);
	assert_int_equal(plain, 4);
	for (i = 0; i < plain; i++)
		EXPECT_RC(pool_free(p, held[i]), 0);
	for (i = 0; i < 12; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.live_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

static void
cache_neither_way(void **state)
{
	struct pool_stats st;
	struct pool *p;
	pool_off_t a, x;
	uint64_t cached;

	(void)state;
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	/* A block freed into the cache, if the handle has one. */
	EXPECT_RC(pool_alloc(p, 256, &a), 0);
	EXPECT_RC(pool_free(p, a), 0);
	/* It may have fetched more than one for the cache. */
	cached = blocks_held_by("default", getpid());
	assert_true(harness_client_cache() ? cached >= 1 : cached == 0);
	/* Not served from it: the daemon's, and persistent. */
	EXPECT_RC(pool_alloc_wait(p, 256, 0, POOL_ALLOC_PERSIST, 0, &x), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 1);
	assert_int_equal(st.live_blocks, 1 + cached);
	assert_int_equal(blocks_held_by("default", getpid()), cached);
	/* Its free goes to the daemon and ends it; the cache keeps nothing. */
	EXPECT_RC(pool_free(p, x), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.live_blocks, cached);
	assert_int_equal(blocks_held_by("default", getpid()), cached);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

/*
 * Pool "full", of 256 KiB: two blocks of 128 KiB fill it, within
 * max_blocks_per_session.  A handle of it without a cache.
 */
static struct pool *
full_open(void)
{
	struct pool_create_opts o = {.max_size = 256 * KiB};
	struct pool *p;

	EXPECT_RC(pool_create(conn, "full", &o), 0);
	EXPECT_RC(pool_open(conn, "full", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	return p;
}

/*
 * p's pool filled with blocks of 128 KiB (offs: at most FILL_MAX) until
 * the daemon refuses one for room; how many.
 */
static size_t
fill(struct pool *p, pool_off_t *offs)
{
	size_t n = 0;
	int rc;

	while ((rc = pool_alloc(p, 128 * KiB, &offs[n])) == 0)
		assert_true(++n < FILL_MAX);
	assert_int_equal(rc, -ENOMEM);
	return n;
}

static void
waits_for_room(void **state)
{
	struct maker m = {.pool = "full", .size = 128 * KiB,
			  .flags = POOL_ALLOC_PERSIST,
			  .timeout_ms = LONG_WAIT_MS, .fill = 0x11};
	pool_off_t offs[FILL_MAX];
	struct pool_stats st;
	struct made r;
	struct pool *p;
	size_t n, i;
	char what[64];
	pid_t pid;

	(void)state;
	p = full_open();
	n = fill(p, offs);
	pid = maker_start(&m);
	snprintf(what, sizeof(what), "pid %d waits for room", (int)pid);
	assert_int_equal(harness_log_wait(&d, what, 0, LOG_WAIT_MS), 0);
	EXPECT_RC(pool_free(p, offs[n - 1]), 0);
	r = maker_made(&m);
	assert_int_equal(r.rc, 0);
	assert_true(r.off == offs[n - 1]);
	assert_int_equal(blocks_held_by("full", pid), 0);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.persistent_blocks, 1);
	assert_int_equal(st.alloc_waits, 0);
	maker_end(&m, pid);
	/* Ours now to end, as any persistent block. */
	EXPECT_RC(pool_free(p, r.off), 0);
	for (i = 0; i + 1 < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.live_blocks, 0);
	harness_expect_checked(conn, "full");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "full"), 0);
}

static void
zeroed_in_steps(void **state)
{
	struct maker m = {.pool = "steps", .size = 8 * MiB,
			  .flags = POOL_ALLOC_ZERO | POOL_ALLOC_PERSIST,
			  .fill = 0x33};
	struct pool_stats before, st;
	struct made r;
	struct pool *p;
	pool_off_t dirty;
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_open(conn, "steps", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc(p, 8 * MiB, &dirty), 0);
	memset(pool_ptr(p, dirty), 0xee, 8 * MiB);
	EXPECT_RC(pool_free(p, dirty), 0);
	before = harness_stats_of(conn, "steps");
	pid = maker_start(&m);
	r = maker_made(&m);
	assert_int_equal(r.rc, 0);
	assert_true(r.zeroed);
	assert_int_equal(blocks_held_by("steps", pid), 0);
	st = harness_stats_of(conn, "steps");
	assert_int_equal(st.persistent_blocks, 1);
	/* Zeroed over steps, as a big calloc is. */
	assert_true(st.release_steps > before.release_steps);
	maker_end(&m, pid);
	EXPECT_RC(pool_free(p, r.off), 0);
	harness_expect_checked(conn, "steps");
	pool_close(p);
}

static void
refusals(void **state)
{
	struct pool_stats before, after;
	struct pool *ro, *p;
	pool_off_t x = 0;

	(void)state;
	before = harness_stats_of(conn, "default");
	EXPECT_RC(pool_open_readonly(conn, "default", &ro), 0);
	assert_true(pool_alloc_wait(ro, 64, 0, POOL_ALLOC_PERSIST, 0, &x) < 0);
	assert_true(x == POOL_OFF_NONE);
	pool_close(ro);
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	EXPECT_RC(pool_alloc_wait(p, 0, 0, POOL_ALLOC_PERSIST, 0, &x),
		  -EINVAL);
	EXPECT_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST | 0x8, 0, &x),
		  -EINVAL);
	EXPECT_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, NULL),
		  -EINVAL);
	after = harness_stats_of(conn, "default");
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.persistent_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

static int
setup_small_steps(void **state)
{
	(void)state;
	return start_with("release_step = 4K\n");
}

/* Requests the daemon holds now (a block zeroed in steps among them). */
static uint64_t
daemon_held(void)
{
	struct pool_daemon_stats ds;

	EXPECT_RC(pool_daemon_stats(conn, &ds), 0);
	return ds.held;
}

static void
refused_once_ready(void **state)
{
	struct pool_create_opts o = {.max_size = 256 * MiB,
				     .quota = 160 * MiB};
	struct maker m = {.pool = "q", .size = 128 * MiB,
			  .flags = POOL_ALLOC_ZERO | POOL_ALLOC_PERSIST,
			  .fill = 0x77};
	struct pool_stats before, after;
	struct made r;
	struct pool *p;
	pool_off_t mine;
	char what[80];
	uint64_t t0;
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_create(conn, "q", &o), 0);
	EXPECT_RC(pool_open(conn, "q", &p), 0);
	EXPECT_RC(pool_alloc(p, 64 * MiB, &mine), 0);
	before = harness_stats_of(conn, "q");
	pid = maker_start(&m);
	/* Its block is being zeroed, a step a loop turn: 32,768 turns. */
	t0 = harness_now_ms();
	while (daemon_held() == 0) {
		assert_true(harness_now_ms() - t0 < LOG_WAIT_MS);
		harness_sleep_ms(1);
	}
	EXPECT_RC(pool_persist(p, mine), 0);
	r = maker_made(&m);
	assert_int_equal(r.rc, -EDQUOT);
	snprintf(what, sizeof(what), "client pid %d uid %u: request",
		 (int)pid, (unsigned)getuid());
	assert_int_equal(harness_log_wait(&d, "would persist more than the "
					  "pool's quota", 0, LOG_WAIT_MS), 0);
	harness_expect_logged(&d, what);
	after = harness_stats_of(conn, "q");
	printf("refused once ready: allocs +%llu, frees +%llu\n",
	       (unsigned long long)(after.allocs - before.allocs),
	       (unsigned long long)(after.frees - before.frees));
	/* Made, then given back: not refused before it was made. */
	assert_int_equal(after.allocs - before.allocs, 1);
	assert_int_equal(after.frees - before.frees, 1);
	assert_int_equal(after.live_blocks, 1);
	assert_int_equal(after.persistent_blocks, 1);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(blocks_held_by("q", pid), 0);
	maker_end(&m, pid);
	harness_expect_checked(conn, "q");
	EXPECT_RC(pool_free(p, mine), 0);
	pool_close(p);
}

/* Poll (bounded) until pool name has no live block and no handle. */
static struct pool_stats
wait_pool_empty(const char *name)
{
	uint64_t t0 = harness_now_ms();
	struct pool_stats st;

	for (;;) {
		st = harness_stats_of(conn, name);
		if ((st.live_blocks == 0 && st.clients == 0) ||
		    harness_now_ms() - t0 > LOG_WAIT_MS)
			return st;
		harness_sleep_ms(5);
	}
}

/* Wait (bounded) until the daemon holds a request (a block's steps). */
static void
wait_held(void)
{
	uint64_t t0 = harness_now_ms();

	while (daemon_held() == 0) {
		assert_true(harness_now_ms() - t0 < LOG_WAIT_MS);
		harness_sleep_ms(1);
	}
}

static void
killed_while_zeroed(void **state)
{
	struct pool_create_opts o = {.max_size = 256 * MiB};
	struct maker m = {.pool = "k", .size = 128 * MiB,
			  .flags = POOL_ALLOC_ZERO | POOL_ALLOC_PERSIST,
			  .fill = 0x44};
	struct pool_stats st;
	uint64_t blocks, bytes;
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_create(conn, "k", &o), 0);
	pid = maker_start(&m);
	wait_held();
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(harness_wait(pid), 128 + SIGKILL);
	close(m.line.go[1]);
	close(m.line.report[0]);
	st = wait_pool_empty("k");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	persisted_by_me("k", &blocks, &bytes);
	assert_int_equal(blocks, 0);
	assert_int_equal(bytes, 0);
	harness_expect_checked(conn, "k");
	EXPECT_RC(pool_destroy(conn, "k"), 0);
}

static void
restart_while_waiting(void **state)
{
	struct maker m = {.pool = "full", .size = 128 * KiB,
			  .flags = POOL_ALLOC_PERSIST,
			  .timeout_ms = LONG_WAIT_MS, .fill = 0x22};
	pool_off_t offs[FILL_MAX], early;
	uint64_t blocks, bytes, t0;
	size_t early_usable;
	struct pool_stats st;
	struct made r;
	struct pool *p;
	size_t n, i;
	char what[64];
	pid_t pid;

	(void)state;
	p = full_open();
	/* One made before the restart: the new image has it, charged. */
	EXPECT_RC(pool_alloc_wait(p, 1000, 0, POOL_ALLOC_PERSIST, 0, &early),
		  0);
	memset(pool_ptr(p, early), 0x99, 1000);
	EXPECT_RC(pool_usable_size(p, early, &early_usable), 0);
	n = fill(p, offs);
	pid = maker_start(&m);
	snprintf(what, sizeof(what), "pid %d waits for room", (int)pid);
	assert_int_equal(harness_log_wait(&d, what, 0, LOG_WAIT_MS), 0);
	assert_int_equal(harness_restart_in_place(&d), 0);
	/* Asked again of the new image: it waits there. */
	t0 = harness_now_ms();
	while (harness_stats_of(conn, "full").alloc_waits != 1) {
		assert_true(harness_now_ms() - t0 < LOG_WAIT_MS);
		harness_sleep_ms(5);
	}
	EXPECT_RC(pool_free(p, offs[n - 1]), 0);
	r = maker_made(&m);
	assert_int_equal(r.rc, 0);
	assert_true(r.off == offs[n - 1]);
	assert_int_equal(blocks_held_by("full", pid), 0);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.persistent_blocks, 2);
	assert_int_equal(st.live_blocks, n + 1);
	assert_int_equal(st.alloc_waits, 0);
	persisted_by_me("full", &blocks, &bytes);
	assert_int_equal(blocks, 2);
	assert_int_equal(bytes, r.usable + early_usable);
	for (i = 0; i < 1000; i++)
		assert_int_equal(((unsigned char *)pool_ptr(p, early))[i],
				 0x99);
	maker_end(&m, pid);
	EXPECT_RC(pool_free(p, early), 0);
	EXPECT_RC(pool_free(p, r.off), 0);
	for (i = 0; i + 1 < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	harness_expect_checked(conn, "full");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "full"), 0);
}

/* Wait (bounded) until n allocations wait in pool name. */
static void
wait_alloc_waits(const char *name, uint32_t n)
{
	uint64_t t0 = harness_now_ms();

	while (harness_stats_of(conn, name).alloc_waits != n) {
		assert_true(harness_now_ms() - t0 < LOG_WAIT_MS);
		harness_sleep_ms(5);
	}
}

static void
waiter_killed_or_pool_gone(void **state)
{
	struct maker m = {.pool = "full", .size = 128 * KiB,
			  .flags = POOL_ALLOC_PERSIST,
			  .timeout_ms = LONG_WAIT_MS, .fill = 0x55};
	pool_off_t offs[FILL_MAX];
	struct pool_stats before, st;
	struct made r;
	struct pool *p;
	pid_t pid;

	(void)state;
	p = full_open();
	(void)fill(p, offs);
	before = harness_stats_of(conn, "full");
	pid = maker_start(&m);
	wait_alloc_waits("full", 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(harness_wait(pid), 128 + SIGKILL);
	close(m.line.go[1]);
	close(m.line.report[0]);
	wait_alloc_waits("full", 0);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.live_blocks, before.live_blocks);
	assert_int_equal(st.allocs, before.allocs);
	harness_expect_checked(conn, "full");
	/* Another waits; the pool goes meanwhile. */
	pid = maker_start(&m);
	wait_alloc_waits("full", 1);
	EXPECT_RC(pool_destroy_force(conn, "full"), 0);
	r = maker_made(&m);
	assert_int_equal(r.rc, -ENOENT);
	assert_true(r.off == POOL_OFF_NONE);
	maker_end(&m, pid);
	pool_close(p);
}

static void
restart_while_zeroed(void **state)
{
	struct pool_create_opts o = {.max_size = 128 * MiB};
	struct maker m = {.pool = "z", .size = 64 * MiB,
			  .flags = POOL_ALLOC_ZERO | POOL_ALLOC_PERSIST,
			  .fill = 0x66};
	uint64_t blocks, bytes;
	struct pool_stats st;
	struct made r;
	struct pool *p;
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_create(conn, "z", &o), 0);
	pid = maker_start(&m);
	wait_held();
	assert_int_equal(harness_restart_in_place(&d), 0);
	r = maker_made(&m);
	assert_int_equal(r.rc, 0);
	assert_true(r.zeroed);
	assert_int_equal(blocks_held_by("z", pid), 0);
	st = harness_stats_of(conn, "z");
	assert_int_equal(st.persistent_blocks, 1);
	assert_int_equal(st.live_blocks, 1);
	persisted_by_me("z", &blocks, &bytes);
	assert_int_equal(blocks, 1);
	assert_int_equal(bytes, r.usable);
	maker_end(&m, pid);
	EXPECT_RC(pool_open(conn, "z", &p), 0);
	EXPECT_RC(pool_free(p, r.off), 0);
	st = harness_stats_of(conn, "z");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	harness_expect_checked(conn, "z");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "z"), 0);
}

#define THREADS		4
#define PER_THREAD	200

struct thread_arg {
	struct pool *p;
	pool_off_t offs[PER_THREAD];
	int rc;
};

/* PER_THREAD persistent blocks, a plain one made and freed between. */
static void *
thread_run(void *arg)
{
	struct thread_arg *t = arg;
	pool_off_t plain;
	size_t i;

	for (i = 0; i < PER_THREAD && t->rc == 0; i++) {
		t->rc = pool_alloc_wait(t->p, 64 + i, 0, POOL_ALLOC_PERSIST,
					0, &t->offs[i]);
		if (t->rc == 0)
			memset(pool_ptr(t->p, t->offs[i]), (int)i, 64 + i);
		if (t->rc == 0 && (t->rc = pool_alloc(t->p, 64, &plain)) == 0)
			t->rc = pool_free(t->p, plain);
	}
	return NULL;
}

static int
off_order(const void *a, const void *b)
{
	const pool_off_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

static void
threads_share_a_handle(void **state)
{
	struct pool_create_opts o = {.max_size = 16 * MiB};
	static struct thread_arg t[THREADS];
	pthread_t tid[THREADS];
	pool_off_t all[THREADS * PER_THREAD];
	uint64_t cached;
	struct pool_stats st;
	struct pool *p;
	size_t i, j;

	(void)state;
	/* The daemon's default max_blocks_per_session: four threads' own. */
	EXPECT_RC(pool_create(conn, "t", &o), 0);
	EXPECT_RC(pool_open(conn, "t", &p), 0);
	for (i = 0; i < THREADS; i++) {
		t[i] = (struct thread_arg){.p = p};
		assert_int_equal(pthread_create(&tid[i], NULL, thread_run,
						&t[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		EXPECT_RC(t[i].rc, 0);
		for (j = 0; j < PER_THREAD; j++) {
			const unsigned char *b = pool_ptr(p, t[i].offs[j]);

			assert_int_equal(b[0], (unsigned char)j);
			assert_int_equal(b[63 + j], (unsigned char)j);
			all[i * PER_THREAD + j] = t[i].offs[j];
		}
	}
	qsort(all, THREADS * PER_THREAD, sizeof(all[0]), off_order);
	for (i = 1; i < THREADS * PER_THREAD; i++)
		assert_true(all[i] != all[i - 1]);
	st = harness_stats_of(conn, "t");
	assert_int_equal(st.persistent_blocks, THREADS * PER_THREAD);
	/* What the handle holds is its cache's, none of them. */
	cached = blocks_held_by("t", getpid());
	assert_int_equal(st.live_blocks, THREADS * PER_THREAD + cached);
	for (i = 0; i < THREADS * PER_THREAD; i++)
		EXPECT_RC(pool_free(p, all[i]), 0);
	st = harness_stats_of(conn, "t");
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.live_blocks, cached);
	harness_expect_checked(conn, "t");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "t"), 0);
}

#define QC_REFUSED	"refused: allocating 32768 bytes"

static void
quota_with_a_cache(void **state)
{
	struct pool_create_opts o = {.max_size = 4 * MiB, .quota = 64 * KiB};
	pool_off_t plain[2], a, x = POOL_OFF_NONE;
	struct pool_stats st;
	struct pool *p;
	int refused;
	size_t i;

	(void)state;
	if (!harness_client_cache())
		skip();
	EXPECT_RC(pool_create(conn, "qc", &o), 0);
	EXPECT_RC(pool_open(conn, "qc", &p), 0);
	EXPECT_RC(pool_alloc_wait(p, 32 * KiB, 0, POOL_ALLOC_PERSIST, 0, &a),
		  0);
	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_alloc(p, 4 * KiB, &plain[i]), 0);
	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_free(p, plain[i]), 0);
	/* Kept by the cache (an eighth of the quota), still the session's. */
	assert_true(blocks_held_by("qc", getpid()) >= 1);
	refused = harness_log_count(&d, QC_REFUSED);
	/* 32 KiB persisted, 4-8 cached, 32 more: over, until given back. */
	EXPECT_RC(pool_alloc_wait(p, 32 * KiB, 0, POOL_ALLOC_PERSIST, 0, &x),
		  0);
	assert_int_equal(harness_log_wait(&d, QC_REFUSED, refused,
					  LOG_WAIT_MS), 0);
	assert_int_equal(blocks_held_by("qc", getpid()), 0);
	st = harness_stats_of(conn, "qc");
	assert_int_equal(st.persistent_blocks, 2);
	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_free(p, x), 0);
	harness_expect_checked(conn, "qc");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "qc"), 0);
}

/* For how long the block at off has been persistent, as listed (ms). */
static uint64_t
listed_age(const char *pool, pool_off_t off, bool *persistent)
{
	struct pool_block_info *b;
	uint64_t from = off, age = 0;
	size_t n;
	int done;

	EXPECT_RC(pool_blocks(conn, pool, 0, 0, &from, &b, &n, &done), 0);
	assert_true(n > 0 && b[0].offset == off);
	*persistent = (b[0].flags & POOL_BLOCK_PERSISTENT) != 0;
	age = b[0].persisted_ms;
	free(b);
	return age;
}

static void
ended_by_age(void **state)
{
	struct pool_stats before, after;
	pool_off_t young, old, held, named, mine;
	struct pool *p, *ro;
	uint64_t age, age2;
	bool persistent;
	size_t usable;

	(void)state;
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &old), 0);
	usleep(300 * 1000);
	EXPECT_RC(pool_alloc_wait(p, 200, 0, POOL_ALLOC_PERSIST, 0, &young),
		  0);
	EXPECT_RC(pool_alloc(p, 300, &held), 0);
	EXPECT_RC(pool_alloc(p, 400, &named), 0);
	EXPECT_RC(pool_publish(p, named, "kept"), 0);
	EXPECT_RC(pool_free(p, named), 0);

	age = listed_age("default", old, &persistent);
	assert_true(persistent && age >= 300);
	assert_true(listed_age("default", young, &persistent) < age);
	assert_int_equal(listed_age("default", held, &persistent), 0);
	assert_false(persistent);

	/* Refusals change nothing. */
	before = harness_stats_of(conn, "default");
	EXPECT_RC(pool_free_persisted(p, young, 250), -ESTALE);
	EXPECT_RC(pool_free_persisted(p, old, UINT64_MAX), -ESTALE);
	EXPECT_RC(pool_free_persisted(p, named, 0), -EBUSY);
	after = harness_stats_of(conn, "default");
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.persistent_blocks, 3);
	assert_int_equal(after.invalid_frees, before.invalid_frees);
	EXPECT_RC(pool_free_persisted(p, held, 0), -EPERM);
	EXPECT_RC(pool_free_persisted(p, old + 16, 0), -EINVAL);
	EXPECT_RC(pool_free_persisted(p, POOL_OFF_NONE, 0), -EINVAL);
	EXPECT_RC(pool_open_readonly(conn, "default", &ro), 0);
	EXPECT_RC(pool_free_persisted(ro, old, 0), -EACCES);
	pool_close(ro);
	after = harness_stats_of(conn, "default");
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.persistent_blocks, 3);
	assert_int_equal(after.invalid_frees, before.invalid_frees + 2);
	assert_true(strstr(pool_strerror(-ESTALE), "since it was listed"));

	/* A restart in place keeps the ages. */
	assert_int_equal(harness_restart_in_place(&d), 0);
	age2 = listed_age("default", old, &persistent);
	assert_true(persistent && age2 >= age);

	/* Old enough: ended, and gone, since no handle holds it. */
	EXPECT_RC(pool_free_persisted(p, old, 300), 0);
	EXPECT_RC(pool_usable_size(p, old, &usable), -EINVAL);
	/* A block this handle holds and persisted: its reference stays. */
	EXPECT_RC(pool_alloc(p, 64, &mine), 0);
	EXPECT_RC(pool_persist(p, mine), 0);
	EXPECT_RC(pool_free_persisted(p, mine, 0), 0);
	EXPECT_RC(pool_usable_size(p, mine, &usable), 0);
	assert_int_equal(listed_age("default", mine, &persistent), 0);
	assert_false(persistent);
	after = harness_stats_of(conn, "default");
	assert_int_equal(after.persistent_blocks, 2);	/* young, named */
	harness_expect_checked(conn, "default");

	EXPECT_RC(pool_free(p, mine), 0);
	EXPECT_RC(pool_free(p, held), 0);
	EXPECT_RC(pool_free(p, young), 0);
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	after = harness_stats_of(conn, "default");
	assert_int_equal(after.live_blocks, 0);
	assert_int_equal(after.persistent_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

/* The default pool without max_blocks_per_session, which the next needs. */
static int
setup_unbounded(void **state)
{
	(void)state;
	return start_with("[pool default]\nsize = 16M\n");
}

static int
setup_persist_bound(void **state)
{
	(void)state;
	return start_with("max_persistent_blocks_per_uid = 2\n"
			  "[pool default]\nsize = 16M\n");
}

#define BOUND_WORDS	"; max_persistent_blocks_per_uid is 2"

/*
 * The uid at its bound of persistent blocks, which a flush of the cache
 * cannot help: each persistent request is refused once, in the bound's
 * words, and the cache keeps what it had.
 */
static void
bound_keeps_the_cache(void **state)
{
	struct pool_create_opts o = {.max_size = 4 * MiB};
	struct pool_stats before, after;
	size_t size = 64;
	pool_off_t off, kept;
	struct pool *p;
	int i;

	(void)state;
	EXPECT_RC(pool_create(conn, "pb", &o), 0);
	EXPECT_RC(pool_open(conn, "pb", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0,
					  &off), 0);
	EXPECT_RC(pool_alloc(p, 64, &kept), 0);
	EXPECT_RC(pool_free(p, kept), 0);
	before = harness_stats(p);
	assert_true(before.client_cached_bytes > 0);
	EXPECT_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off),
		  -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), BOUND_WORDS));
	EXPECT_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, LONG_WAIT_MS,
				  &off), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), BOUND_WORDS));
	EXPECT_RC(pool_alloc_batch_flags(p, 1, &size, POOL_ALLOC_PERSIST,
					 &off), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), BOUND_WORDS));
	after = harness_stats(p);
	assert_int_equal(after.client_cached_bytes, before.client_cached_bytes);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.quota_refusals, before.quota_refusals + 3);
	/* The kept block is the cache's still: served without a request. */
	EXPECT_RC(pool_alloc(p, 64, &off), 0);
	assert_int_equal(off, kept);
	harness_expect_checked(conn, "pb");
	pool_close(p);
	EXPECT_RC(pool_destroy_force(conn, "pb"), 0);
}

/* A block of size made and persisted by p, which keeps its reference. */
static pool_off_t
persisted_block(struct pool *p, size_t size)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, size, &off), 0);
	EXPECT_RC(pool_persist(p, off), 0);
	return off;
}

/* Ended by a Free of a handle holding none, made again there, persisted. */
static void
again_after_free(struct pool *p, struct pool *other)
{
	pool_off_t a = persisted_block(p, 4096), again;

	EXPECT_RC(pool_free(p, a), 0);
	EXPECT_RC(pool_free(other, a), 0);
	EXPECT_RC(pool_alloc(p, 4096, &again), 0);
	assert_int_equal(again, a);
	EXPECT_RC(pool_persist(p, again), 0);
	EXPECT_RC(pool_free_persisted(other, again, 0), 0);
	EXPECT_RC(pool_persist(p, again), 0);
	harness_expect_checked(conn, "default");
	EXPECT_RC(pool_free_persisted(other, again, 0), 0);
	EXPECT_RC(pool_free(p, again), 0);
}

/* Persisted by a name, ended by its unpublish or its replacement. */
static void
again_after_names(struct pool *p)
{
	pool_off_t x, y;

	EXPECT_RC(pool_alloc(p, 100, &x), 0);
	EXPECT_RC(pool_alloc(p, 100, &y), 0);
	EXPECT_RC(pool_publish(p, x, "n"), 0);
	EXPECT_RC(pool_unpublish(p, "n"), 0);
	EXPECT_RC(pool_persist(p, x), 0);
	EXPECT_RC(pool_free_persisted(p, x, 0), 0);
	EXPECT_RC(pool_publish(p, x, "n"), 0);
	EXPECT_RC(pool_publish_replace(p, y, "n"), 0);	/* x ends */
	EXPECT_RC(pool_persist(p, x), 0);
	EXPECT_RC(pool_publish_replace(p, x, "n"), 0);	/* y ends */
	EXPECT_RC(pool_persist(p, y), 0);
	harness_expect_checked(conn, "default");
	EXPECT_RC(pool_unpublish(p, "n"), 0);
	EXPECT_RC(pool_free_persisted(p, y, 0), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_free(p, y), 0);
}

/* Ended by a FreeBatch of another handle, made again, persisted. */
static void
again_after_batch(struct pool *p, struct pool *other)
{
	pool_off_t b[3], again;
	size_t i;

	for (i = 0; i < 3; i++) {
		b[i] = persisted_block(p, 200);
		EXPECT_RC(pool_free(p, b[i]), 0);
	}
	EXPECT_RC(pool_free_batch(other, 3, b), 0);
	for (i = 0; i < 3; i++) {
		EXPECT_RC(pool_alloc(p, 200, &again), 0);
		EXPECT_RC(pool_persist(p, again), 0);
		EXPECT_RC(pool_free(p, again), 0);
		b[i] = again;
	}
	harness_expect_checked(conn, "default");
	EXPECT_RC(pool_free_batch(other, 3, b), 0);
}

/* An evictable name evicted for an allocation's room: its place again. */
static void
again_after_eviction(void)
{
	struct pool_create_opts o = {.max_size = 4 * MiB};
	pool_off_t big, room, again;
	struct pool *q;
	size_t usable;

	EXPECT_RC(pool_create(conn, "ev", &o), 0);
	EXPECT_RC(pool_open(conn, "ev", &q), 0);
	EXPECT_RC(pool_set_cache(q, 0), 0);
	EXPECT_RC(pool_alloc(q, 3 * MiB, &big), 0);
	EXPECT_RC(pool_publish_flags(q, big, "e", POOL_PUBLISH_EVICTABLE), 0);
	EXPECT_RC(pool_free(q, big), 0);
	EXPECT_RC(pool_alloc(q, 2 * MiB, &room), 0);
	EXPECT_RC(pool_lookup(q, "e", &again, &usable), -ENOENT);
	EXPECT_RC(pool_free(q, room), 0);
	EXPECT_RC(pool_alloc(q, 3 * MiB, &again), 0);
	assert_int_equal(again, big);
	EXPECT_RC(pool_persist(q, again), 0);
	harness_expect_checked(conn, "ev");
	/* Destroyed with it by force, and made again: a pool of its own. */
	EXPECT_RC(pool_destroy_force(conn, "ev"), 0);
	pool_close(q);
	EXPECT_RC(pool_create(conn, "ev", &o), 0);
	EXPECT_RC(pool_open(conn, "ev", &q), 0);
	EXPECT_RC(pool_alloc(q, 3 * MiB, &again), 0);
	EXPECT_RC(pool_persist(q, again), 0);
	harness_expect_checked(conn, "ev");
	pool_close(q);
	EXPECT_RC(pool_destroy_force(conn, "ev"), 0);
}

/*
 * Each way a block becomes persistent and stops, then a persist at the
 * same offset, across a restart in place too: the daemon keeps one persist
 * time per persistent block and no other (a time left behind would stop
 * it at the next persist there, one missing fails Check).
 */
static void
persist_times_follow_every_path(void **state)
{
	struct pool *p, *other;

	(void)state;
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_open(conn, "default", &other), 0);
	EXPECT_RC(pool_set_cache(other, 0), 0);
	again_after_free(p, other);
	again_after_names(p);
	again_after_batch(p, other);
	again_after_eviction();
	assert_int_equal(harness_restart_in_place(&d), 0);
	harness_expect_checked(conn, "default");
	again_after_free(p, other);
	again_after_batch(p, other);
	assert_int_equal(harness_stats_of(conn, "default").live_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(other);
	pool_close(p);
}

static struct harness_store store;

static int
store_setup(void **state)
{
	memset(&store, 0, sizeof(store));
	*state = &store;
	return harness_store_open(&store, HARNESS_STORE_CONF
				  "release_step = 256K\n");
}

static int
store_teardown(void **state)
{
	harness_store_close(*state);
	return 0;
}

static void
expect_filled(struct pool *p, pool_off_t off, size_t len, int c)
{
	const unsigned char *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			fail_msg("block %#llx: byte %zu is %#x, not %#x",
				 (unsigned long long)off, i, b[i], c);
}

static void
crash_keeps_them(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 32 * MiB};
	pool_off_t small, zeroed, plain;
	struct pool_persisted *pp;
	struct pool_conn *c;
	struct pool_stats s;
	size_t us, uz, n, total;
	struct pool *p;

	assert_int_equal(harness_store_start(st), 0);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "c", &o), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	EXPECT_RC(pool_alloc_wait(p, 1000, 0, POOL_ALLOC_PERSIST, 0, &small),
		  0);
	EXPECT_RC(pool_alloc_wait(p, 8 * MiB, 0, POOL_ALLOC_ZERO |
				  POOL_ALLOC_PERSIST, 1000, &zeroed), 0);
	EXPECT_RC(pool_alloc(p, 5000, &plain), 0);
	memset(pool_ptr(p, small), 'p', 1000);
	memset(pool_ptr(p, zeroed), 'z', 8 * MiB);
	memset(pool_ptr(p, plain), 'n', 5000);
	EXPECT_RC(pool_usable_size(p, small, &us), 0);
	EXPECT_RC(pool_usable_size(p, zeroed, &uz), 0);
	assert_int_equal(harness_store_recover(st), 0);
	assert_true(harness_store_logged(st, "after a crash: 1 pool and 2 "
					 "persistent blocks recovered"));
	pool_disconnect(c);	/* its connection died with the daemon */
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	expect_filled(p, small, 1000, 'p');
	expect_filled(p, zeroed, 8 * MiB, 'z');
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.live_blocks, 2);
	assert_int_equal(s.persistent_blocks, 2);
	assert_int_equal(s.allocated_bytes, us + uz);
	EXPECT_RC(pool_persisted(c, "c", &pp, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp[0].uid, getuid());
	assert_int_equal(pp[0].blocks, 2);
	assert_int_equal(pp[0].bytes, us + uz);
	free(pp);
	EXPECT_RC(pool_free(p, small), 0);
	EXPECT_RC(pool_free(p, zeroed), 0);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.live_blocks, 0);
	assert_int_equal(s.persistent_blocks, 0);
	harness_expect_checked(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- batches of them ---------------------------------------------------- */

#define BATCH_MAX	16

/* A process that makes one batch and reports it. */
struct batcher {
	const char *pool;
	size_t n, size;
	unsigned flags;
	struct child_line line;
};

struct batch_made {
	int rc;
	uint64_t offs[BATCH_MAX];
	uint64_t usable;	/* all told */
};

static int
batcher_run(void *arg)
{
	struct batcher *m = arg;
	struct batch_made r;
	pool_off_t offs[BATCH_MAX];
	size_t sizes[BATCH_MAX], i, usable;
	struct pool_conn *c;
	struct pool *p;

	close(m->line.report[0]);
	close(m->line.go[1]);
	memset(&r, 0, sizeof(r));
	for (i = 0; i < m->n; i++)
		sizes[i] = m->size;
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, m->pool, &p), 0, 3);
	r.rc = pool_alloc_batch_flags(p, m->n, sizes, m->flags, offs);
	for (i = 0; r.rc == 0 && i < m->n; i++) {
		r.offs[i] = offs[i];
		memset(pool_ptr(p, offs[i]), 0x40 + (int)i, m->size);
		CHECK_RC(pool_usable_size(p, offs[i], &usable), 0, 4);
		r.usable += usable;
	}
	/* Connected, its handle open, until the test says go. */
	CHECK(line_report(&m->line, &r, sizeof(r)) == 0, 5);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static pid_t
batcher_start(struct batcher *m)
{
	return line_start(&m->line, batcher_run, m);
}

static struct batch_made
batcher_made(struct batcher *m)
{
	struct batch_made r;

	assert_int_equal(harness_read_full(m->line.report[0], &r, sizeof(r)), 0);
	return r;
}

static void
batcher_end(struct batcher *m, pid_t pid)
{
	line_end(&m->line, pid);
}

/* A consumer: reads each block of the batch, then frees it. */
struct consumer {
	const char *pool;
	const struct batch_made *made;
	size_t n, size;
};

static int
consumer_run(void *arg)
{
	const struct consumer *k = arg;
	const unsigned char *b;
	struct pool_conn *c;
	struct pool *p;
	size_t i, j;

	CHECK_RC(pool_connect(d.sock, &c), 0, 20);
	CHECK_RC(pool_open(c, k->pool, &p), 0, 21);
	for (i = 0; i < k->n; i++) {
		b = pool_ptr(p, k->made->offs[i]);
		for (j = 0; j < k->size; j++)
			CHECK(b[j] == 0x40 + i, 22);
		CHECK_RC(pool_free(p, k->made->offs[i]), 0, 23);
	}
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
batch_handed_on(void **state)
{
	struct batcher m = {.pool = "default", .n = BATCH_MAX, .size = 1000,
			    .flags = POOL_ALLOC_PERSIST};
	struct consumer k = {.pool = "default", .n = BATCH_MAX,
			     .size = 1000};
	struct pool_stats st;
	struct batch_made r;
	uint64_t blocks, bytes;
	char out[4096], err[1024], want[64];
	pid_t pid;

	(void)state;
	pid = batcher_start(&m);
	r = batcher_made(&m);
	assert_int_equal(r.rc, 0);
	/* Made and persistent, its maker still connected, holding none. */
	assert_int_equal(blocks_held_by("default", pid), 0);
	persisted_by_me("default", &blocks, &bytes);
	assert_int_equal(blocks, BATCH_MAX);
	assert_int_equal(bytes, r.usable);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, BATCH_MAX);
	assert_int_equal(st.live_blocks, BATCH_MAX);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "--json=short persisted "
					 "default"), 0);
	snprintf(want, sizeof(want), "\"blocks\":%d", BATCH_MAX);
	if (!strstr(out, want))
		fail_msg("poolctl persisted: no %s in %s", want, out);
	/* Its maker gone, handle closed, the blocks are still there. */
	batcher_end(&m, pid);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.live_blocks, BATCH_MAX);
	assert_int_equal(st.persistent_blocks, BATCH_MAX);
	/* Another process reads them and frees them: that ends them. */
	k.made = &r;
	assert_int_equal(harness_wait(harness_spawn(consumer_run, &k)), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	persisted_by_me("default", &blocks, &bytes);
	assert_int_equal(blocks, 0);
	harness_expect_checked(conn, "default");
}

static void
batch_not_a_reference(void **state)
{
	size_t sizes[12] = {256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
			    256, 256};
	struct pool_stats st;
	pool_off_t offs[12], x[5];
	struct pool *p;
	uint64_t cached;
	size_t i;

	(void)state;
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	/* A block freed into the cache, if the handle has one. */
	EXPECT_RC(pool_alloc(p, 256, &x[0]), 0);
	EXPECT_RC(pool_free(p, x[0]), 0);
	cached = blocks_held_by("default", getpid());
	assert_true(harness_client_cache() ? cached >= 1 : cached == 0);
	EXPECT_RC(pool_alloc_batch_flags(p, 12, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	/* None served by the cache, none held: the daemon's, the pool's. */
	assert_int_equal(blocks_held_by("default", getpid()), cached);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 12);
	assert_int_equal(st.live_blocks, 12 + cached);
	/* The session's own references stop at 4: a plain batch of 5. */
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc_batch(p, 5, sizes, x), -EDQUOT);
	/* Their frees go to the daemon and end them; the cache keeps none. */
	for (i = 0; i < 12; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.live_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

/* Nothing made, freed or persisted between before and after. */
static void
expect_unchanged(const struct pool_stats *before,
		 const struct pool_stats *after)
{
	assert_int_equal(after->allocs, before->allocs);
	assert_int_equal(after->frees, before->frees);
	assert_int_equal(after->allocated_bytes, before->allocated_bytes);
	assert_int_equal(after->live_blocks, before->live_blocks);
	assert_int_equal(after->persistent_blocks, before->persistent_blocks);
}

static void
batch_quota(void **state)
{
	struct pool_create_opts o = {.max_size = 4 * MiB, .quota = 64 * KiB};
	size_t sizes[3] = {16 * KiB, 16 * KiB, 16 * KiB};
	struct pool_stats before, after;
	pool_off_t offs[3], more[3] = {1, 2, 3}, early;
	struct pool_conn *c2;
	struct pool *p, *p2;
	uint64_t blocks, bytes;
	size_t i;

	(void)state;
	EXPECT_RC(pool_create(conn, "quota", &o), 0);
	EXPECT_RC(pool_open(conn, "quota", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	/* 16 KiB persisted by another connection of this uid. */
	EXPECT_RC(pool_connect(d.sock, &c2), 0);
	EXPECT_RC(pool_open(c2, "quota", &p2), 0);
	EXPECT_RC(pool_alloc_wait(p2, 16 * KiB, 0, POOL_ALLOC_PERSIST, 0,
				  &early), 0);
	pool_close(p2);
	pool_disconnect(c2);
	/* 16 + 48: the quota, not past it. */
	EXPECT_RC(pool_alloc_batch_flags(p, 3, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	before = harness_stats_of(conn, "quota");
	assert_int_equal(before.persistent_blocks, 4);
	/* Any more is past it: refused whole, nothing changed. */
	EXPECT_RC(pool_alloc_batch_flags(p, 1, sizes, POOL_ALLOC_PERSIST,
					 more), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT), "quota"));
	after = harness_stats_of(conn, "quota");
	expect_unchanged(&before, &after);
	assert_int_equal(after.quota_refusals, before.quota_refusals + 1);
	assert_true(more[0] == 1 && more[1] == 2 && more[2] == 3);
	/* Two freed: room for one batch of two, not of three. */
	EXPECT_RC(pool_free(p, offs[0]), 0);
	EXPECT_RC(pool_free(p, early), 0);
	before = harness_stats_of(conn, "quota");
	EXPECT_RC(pool_alloc_batch_flags(p, 3, sizes, POOL_ALLOC_PERSIST,
					 more), -EDQUOT);
	after = harness_stats_of(conn, "quota");
	expect_unchanged(&before, &after);
	persisted_by_me("quota", &blocks, &bytes);
	assert_int_equal(blocks, 2);
	assert_int_equal(bytes, 32 * KiB);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST,
					 more), 0);
	persisted_by_me("quota", &blocks, &bytes);
	assert_int_equal(blocks, 4);
	assert_int_equal(bytes, 64 * KiB);
	EXPECT_RC(pool_free(p, offs[1]), 0);
	EXPECT_RC(pool_free(p, offs[2]), 0);
	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_free(p, more[i]), 0);
	after = harness_stats_of(conn, "quota");
	assert_int_equal(after.live_blocks, 0);
	assert_int_equal(after.persistent_blocks, 0);
	harness_expect_checked(conn, "quota");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "quota"), 0);
}

static void
batch_no_room(void **state)
{
	size_t sizes[3] = {64 * KiB, 32 * KiB, 128 * KiB};
	struct pool_stats before, after;
	pool_off_t held, offs[3];
	uint64_t blocks, bytes;
	struct pool *p;

	(void)state;
	p = full_open();
	EXPECT_RC(pool_alloc(p, 128 * KiB, &held), 0);
	before = harness_stats_of(conn, "full");
	/* The first two fit, the third does not: none is made. */
	EXPECT_RC(pool_alloc_batch_flags(p, 3, sizes, POOL_ALLOC_PERSIST,
					 offs), -ENOMEM);
	after = harness_stats_of(conn, "full");
	expect_unchanged(&before, &after);
	assert_int_equal(after.persistent_blocks, 0);
	persisted_by_me("full", &blocks, &bytes);
	assert_int_equal(blocks, 0);
	/* The two that fit are made, once asked alone. */
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	after = harness_stats_of(conn, "full");
	assert_int_equal(after.persistent_blocks, 2);
	EXPECT_RC(pool_free(p, offs[0]), 0);
	EXPECT_RC(pool_free(p, offs[1]), 0);
	EXPECT_RC(pool_free(p, held), 0);
	harness_expect_checked(conn, "full");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "full"), 0);
}

static void
batch_evicts(void **state)
{
	size_t sizes[2] = {64 * KiB, 64 * KiB};
	pool_off_t old, held, offs[2], x;
	struct pool_stats st;
	struct pool *p;

	(void)state;
	p = full_open();
	EXPECT_RC(pool_alloc(p, 128 * KiB, &old), 0);
	EXPECT_RC(pool_publish_flags(p, old, "old", POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(p, old), 0);	/* the name's alone now */
	EXPECT_RC(pool_alloc(p, 64 * KiB, &held), 0);
	/* 64 KiB free, 128 asked: the name goes for the batch. */
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	EXPECT_RC(pool_lookup(p, "old", &x, NULL), -ENOENT);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.persistent_blocks, 2);
	assert_int_equal(st.live_blocks, 3);
	assert_int_equal(blocks_held_by("full", getpid()), 1);
	EXPECT_RC(pool_free(p, offs[0]), 0);
	EXPECT_RC(pool_free(p, offs[1]), 0);
	EXPECT_RC(pool_free(p, held), 0);
	st = harness_stats_of(conn, "full");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	harness_expect_checked(conn, "full");
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "full"), 0);
}

static void
batch_refusals(void **state)
{
	size_t sizes[2] = {64, 64}, zero[2] = {64, 0};
	struct pool_stats before, after;
	pool_off_t offs[2] = {7, 7};
	struct pool *ro, *p;

	(void)state;
	before = harness_stats_of(conn, "default");
	EXPECT_RC(pool_open_readonly(conn, "default", &ro), 0);
	assert_true(pool_alloc_batch_flags(ro, 2, sizes, POOL_ALLOC_PERSIST,
					   offs) < 0);
	pool_close(ro);
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_ZERO, offs),
		  -EINVAL);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST |
					 POOL_ALLOC_ZERO, offs), -EINVAL);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST |
					 0x8, offs), -EINVAL);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, zero, POOL_ALLOC_PERSIST, offs),
		  -EINVAL);
	EXPECT_RC(pool_alloc_batch_flags(p, 0, sizes, POOL_ALLOC_PERSIST, offs),
		  -EINVAL);
	EXPECT_RC(pool_alloc_batch_flags(p, POOL_BATCH_MAX + 1, sizes,
					 POOL_ALLOC_PERSIST, offs), -E2BIG);
	assert_true(offs[0] == 7 && offs[1] == 7);
	after = harness_stats_of(conn, "default");
	expect_unchanged(&before, &after);
	assert_int_equal(after.persistent_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

static void
batch_restart(void **state)
{
	size_t sizes[8] = {100, 200, 300, 400, 500, 600, 700, 800};
	uint64_t blocks, bytes, usable = 0;
	struct pool_stats st;
	pool_off_t offs[8];
	struct pool *p;
	size_t i, u;

	(void)state;
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	EXPECT_RC(pool_alloc_batch_flags(p, 8, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	for (i = 0; i < 8; i++) {
		memset(pool_ptr(p, offs[i]), 'a' + (int)i, sizes[i]);
		EXPECT_RC(pool_usable_size(p, offs[i], &u), 0);
		usable += u;
	}
	/* The handle that made them closed: they stay, the pool's. */
	pool_close(p);
	assert_int_equal(harness_restart_in_place(&d), 0);
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 8);
	assert_int_equal(st.live_blocks, 8);
	persisted_by_me("default", &blocks, &bytes);
	assert_int_equal(blocks, 8);
	assert_int_equal(bytes, usable);
	EXPECT_RC(pool_open(conn, "default", &p), 0);
	for (i = 0; i < 8; i++) {
		expect_filled(p, offs[i], sizes[i], 'a' + (int)i);
		EXPECT_RC(pool_free(p, offs[i]), 0);
	}
	st = harness_stats_of(conn, "default");
	assert_int_equal(st.persistent_blocks, 0);
	assert_int_equal(st.live_blocks, 0);
	harness_expect_checked(conn, "default");
	pool_close(p);
}

static void
batch_crash(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 4 * MiB};
	size_t sizes[4] = {1000, 2000, 3000, 4000}, u, usable = 0, i;
	struct pool_persisted *pp;
	pool_off_t offs[4], plain;
	struct pool_conn *c;
	struct pool_stats s;
	size_t n, total;
	struct pool *p;

	assert_int_equal(harness_store_start(st), 0);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "c", &o), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	EXPECT_RC(pool_alloc_batch_flags(p, 4, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	EXPECT_RC(pool_alloc(p, 5000, &plain), 0);
	for (i = 0; i < 4; i++) {
		memset(pool_ptr(p, offs[i]), 'A' + (int)i, sizes[i]);
		EXPECT_RC(pool_usable_size(p, offs[i], &u), 0);
		usable += u;
	}
	assert_int_equal(harness_store_recover(st), 0);
	assert_true(harness_store_logged(st, "after a crash: 1 pool and 4 "
					 "persistent blocks recovered"));
	pool_disconnect(c);	/* its connection died with the daemon */
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	for (i = 0; i < 4; i++)
		expect_filled(p, offs[i], sizes[i], 'A' + (int)i);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.live_blocks, 4);
	assert_int_equal(s.persistent_blocks, 4);
	assert_int_equal(s.allocated_bytes, usable);
	EXPECT_RC(pool_persisted(c, "c", &pp, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp[0].blocks, 4);
	assert_int_equal(pp[0].bytes, usable);
	free(pp);
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.live_blocks, 0);
	assert_int_equal(s.persistent_blocks, 0);
	harness_expect_checked(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/* A batch of POOL_BATCH_MAX persistent blocks of 64 B in p: 0 or why. */
static int
batch_of_all(struct pool *p, pool_off_t *offs)
{
	static size_t sizes[POOL_BATCH_MAX];
	size_t i;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	return pool_alloc_batch_flags(p, POOL_BATCH_MAX, sizes,
				      POOL_ALLOC_PERSIST, offs);
}

/* Pool c holds nothing, and nobody's persistent blocks. */
static void
expect_nothing_in(struct pool_conn *c, struct pool *p)
{
	struct pool_persisted *pp;
	struct pool_stats s;
	size_t n, total;

	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.live_blocks, 0);
	assert_int_equal(s.persistent_blocks, 0);
	assert_int_equal(s.allocated_bytes, 0);
	EXPECT_RC(pool_persisted(c, "c", &pp, &n, &total), 0);
	assert_int_equal(n, 0);
	free(pp);
	harness_expect_checked(c, "c");
}

static void
batch_crash_midway(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 4 * MiB};
	static pool_off_t offs[POOL_BATCH_MAX];
	char flag[96], *saved;
	struct pool_stats s;
	struct pool_conn *c;
	struct pool *p;
	int fd;

	snprintf(flag, sizeof(flag), "%s/kill-on-grow", st->dir);
	saved = harness_preload("fail_grow.so");
	setenv("POOLMGR_KILL_ON_GROW", flag, 1);
	assert_int_equal(harness_store_start(st), 0);
	unsetenv("POOLMGR_KILL_ON_GROW");
	harness_preload_off(saved);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "c", &o), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);

	/*
	 * The journal's first 64 KiB take about a thousand records of a
	 * persist (64 B each) after the pool's: the grow, and the kill,
	 * come in the middle of the batch's 4096.
	 */
	assert_true((fd = open(flag, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_not_equal(batch_of_all(p, offs), 0);
	unlink(flag);
	pool_disconnect(c);	/* its connection died with the daemon */
	assert_int_equal(harness_store_crash(st), 0);
	assert_int_equal(harness_store_start(st), 0);
	if (!harness_store_logged(st, "after a crash: 1 pool and 0 "
				  "persistent blocks recovered")) {
		harness_store_print_log(st);
		fail_msg("not recovered without the batch");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	expect_nothing_in(c, p);

	/* Whole, across the journal's grows: every block of it kept. */
	EXPECT_RC(batch_of_all(p, offs), 0);
	assert_int_equal(harness_store_recover(st), 0);
	assert_true(harness_store_logged(st, "after a crash: 1 pool and 4096 "
					 "persistent blocks recovered"));
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.persistent_blocks, POOL_BATCH_MAX);
	EXPECT_RC(pool_free_batch(p, POOL_BATCH_MAX, offs), 0);
	expect_nothing_in(c, p);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(handed_on, setup, teardown),
		cmocka_unit_test_setup_teardown(quota, setup, teardown),
		cmocka_unit_test_setup_teardown(not_a_reference, setup,
						teardown),
		cmocka_unit_test_setup_teardown(cache_neither_way, setup,
						teardown),
		cmocka_unit_test_setup_teardown(waits_for_room, setup,
						teardown),
		cmocka_unit_test_setup_teardown(zeroed_in_steps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_once_ready,
						setup_small_steps, teardown),
		cmocka_unit_test_setup_teardown(killed_while_zeroed,
						setup_small_steps, teardown),
		cmocka_unit_test_setup_teardown(restart_while_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(waiter_killed_or_pool_gone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(restart_while_zeroed,
						setup_small_steps, teardown),
		cmocka_unit_test_setup_teardown(threads_share_a_handle,
						setup_small_steps, teardown),
		cmocka_unit_test_setup_teardown(bound_keeps_the_cache,
						setup_persist_bound, teardown),
		cmocka_unit_test_setup_teardown(quota_with_a_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(ended_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(persist_times_follow_every_path,
						setup_unbounded, teardown),
		cmocka_unit_test_setup_teardown(crash_keeps_them, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(batch_handed_on, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_not_a_reference, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_no_room, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_evicts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(batch_crash, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(batch_crash_midway, store_setup,
						store_teardown),
	};

	return cmocka_run_group_tests_name("blocks persistent from their "
					   "allocation", tests, NULL, NULL);
}
