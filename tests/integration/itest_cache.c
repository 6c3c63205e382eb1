/*
 * itest_cache.c - the client-side cache keeps every guarantee.
 *
 * A handle keeps small blocks the program frees and hands them out again
 * without a round trip (client/cache.c).  Against the real daemon:
 *
 *   - a client killed with blocks in its cache loses them all to the
 *     daemon's reclaim, as it would its live blocks; the daemon showed them
 *     as cached (client_cached_bytes, pool_clients) before;
 *   - the cache holds at most its budget, and a budget of 0 empties it;
 *   - a budget in $POOLMGR_CLIENT_CACHE takes K and M (either case) as
 *     KiB and MiB; an unknown suffix leaves the default;
 *   - a block another handle retained, or a persistent one, is never kept:
 *     the free reaches the daemon, which drops the handle's reference at
 *     once (the other holder's free then ends the block), and the block is
 *     never handed out again while another holds it, even when the retain
 *     came after the free;
 *   - a freed block between two size classes serves the one below its
 *     size: a request of the one above gets a block that holds it all;
 *   - a double free of a cached block is -EINVAL and counted by the daemon;
 *   - a free of an offset inside a live block is -EINVAL, counted, and
 *     changes nothing: the block stays live and the cache as it was;
 *   - a block served from a larger cached one gives its slack back when the
 *     pool is full, so a request that fits in it succeeds, and failed_allocs
 *     counts only the refusals the program saw;
 *   - the share map the daemon sends cannot be made writable;
 *   - a read-only handle has no cache; a dead daemon stops the cache, and
 *     so does a pool destroyed by force under the handle, at once, with
 *     no words of another pool's refusal;
 *   - threads started after others ended reuse their shard and its blocks;
 *   - a block freed while the cache gives its slack back is freed only
 *     after the shrink, never shrinking the block that next takes its
 *     offset;
 *   - a flush whose FreeBatch cannot be sent (ENOBUFS, or too large for
 *     the socket's buffer) loses no block, whichever call flushed: the
 *     blocks stay cached, still the handle's, and a later flush or the
 *     handle's close frees them; they go back under the newer blocks, a
 *     flush of the whole cache still gives back the shards it can, and
 *     while the kernel refuses, a cache over its budget keeps no more
 *     and tries its evictions again only now and then;
 *   - a double free of a block that two flushes of one shard have had on
 *     their way is the daemon's -EINVAL, as any double free;
 *   - a FreeBatch refused for one block it names frees the others, and
 *     only that block leaves the cache; one block that no FreeBatch can
 *     carry stays cached alone, the rest of its flush freed;
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

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define CONFIG	"[pool c]\nsize = 16M\n" \
		"[pool tight]\nsize = 64K\ngranularity = 16\n"
#define CHILD_ALARM	20

static struct daemon_proc daemon_proc;
static pid_t kid;

/*
 * Each test has a daemon of its own, started before it and stopped after
 * it.  The stop is the test's last check: a daemon that does not exit
 * cleanly fails the test (cmocka fails a test whose teardown fails).  A
 * test that stopped its daemon itself has checked that stop.
 */
static int
setup(void **state)
{
	(void)state;
	if (harness_start(&daemon_proc, CONFIG) != 0) {
		/* No teardown follows a failed setup: a daemon begun goes. */
		if (daemon_proc.pid > 0)
			harness_stop(&daemon_proc);
		fail_msg("harness_start failed (build %s)", harness_build());
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	/* A child that a failed test left running does not outlive it. */
	if (kid > 0) {
		kill(kid, SIGKILL);
		harness_wait(kid);
		kid = 0;
	}
	harness_fixture_stop(&daemon_proc);
	return 0;
}

#define CACHE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* A handle with a cache of 1 MiB whatever $POOLMGR_CLIENT_CACHE says. */
static struct pool *
open_ok(struct pool_conn **c, const char *name)
{
	struct pool *p = NULL;

	EXPECT_RC(pool_connect(NULL, c), 0);
	EXPECT_RC(pool_open(*c, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 1 << 20), 0);
	return p;
}

static struct pool_stats
stats(struct pool *p)
{
	struct pool_stats st = {.max_size = 0};

	EXPECT_RC(pool_stats(p, &st), 0);
	return st;
}

static void
check(struct pool_conn *c, const char *name)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, name, msg, sizeof(msg));

	if (rc)
		fail_msg("check %s: %s: %s", name, pool_strerror(rc), msg);
}

/* ---- a killed client's cache -------------------------------------------- */

struct kid_msg {
	uint64_t cached;	/* client_cached_bytes the child saw */
	uint64_t allocated;
};

static int pipe_up[2], pipe_hold[2];

static int
caching_child(void *arg)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	struct kid_msg m;
	pool_off_t offs[200];
	unsigned i;
	char x;

	(void)arg;
	alarm(CHILD_ALARM);
	close(pipe_up[0]);
	close(pipe_hold[1]);
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "c", &p), 0, 11);
	CHECK_RC(pool_set_cache(p, 1 << 20), 0, 12);
	for (i = 0; i < 200; i++) {
		CHECK_RC(pool_alloc(p, 64 + (i % 16) * 60, &offs[i]), 0, 13);
		memset(pool_ptr(p, offs[i]), 0x3c, 64);
	}
	for (i = 0; i < 200; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 14);
	CHECK_RC(pool_stats(p, &st), 0, 15);
	CHECK(st.client_cached_bytes > 0, 16);
	CHECK(st.allocated_bytes >= st.client_cached_bytes, 17);
	m.cached = st.client_cached_bytes;
	m.allocated = st.allocated_bytes;
	CHECK(harness_write_full(pipe_up[1], &m, sizeof(m)) == 0, 18);
	/* Hold the cache until killed. */
	if (harness_read_full(pipe_hold[0], &x, 1) != 0)
		return 19;
	return 20;
}

static void
killed_client_cached_blocks_reclaimed(void **state)
{
	struct pool_client_info *ci = NULL;
	struct pool_conn *c;
	struct pool_stats st;
	struct kid_msg m;
	size_t n, i;
	int found = 0, rc, tries;

	(void)state;
	EXPECT_RC(pool_connect(NULL, &c), 0);
	assert_int_equal(pipe(pipe_up), 0);
	assert_int_equal(pipe(pipe_hold), 0);
	kid = harness_spawn(caching_child, NULL);
	assert_true(kid > 0);
	close(pipe_up[1]);
	close(pipe_hold[0]);
	if (harness_read_full(pipe_up[0], &m, sizeof(m)) != 0)
		fail_msg("the caching child died early (%d)", harness_wait(kid));

	/* The daemon knows the blocks are cached, and whose they are. */
	EXPECT_RC(pool_stats_by_name(c, "c", &st), 0);
	printf("cache: the child holds %" PRIu64 " B, %" PRIu64 " B of it "
	       "in its cache\n", st.allocated_bytes, st.client_cached_bytes);
	assert_int_equal(st.client_cached_bytes, m.cached);
	assert_int_equal(st.allocated_bytes, m.allocated);
	EXPECT_RC(pool_clients(c, "c", &ci, &n), 0);
	for (i = 0; i < n; i++) {
		if (ci[i].pid != (uint32_t)kid)
			continue;
		found = 1;
		assert_int_equal(ci[i].cached_bytes, m.cached);
		assert_int_equal(ci[i].bytes, m.allocated);
	}
	free(ci);
	assert_true(found);

	assert_int_equal(kill(kid, SIGKILL), 0);
	rc = harness_wait(kid);
	kid = 0;
	assert_int_equal(rc, 128 + SIGKILL);
	close(pipe_up[0]);
	close(pipe_hold[1]);
	for (tries = 0; tries < 100; tries++) {
		EXPECT_RC(pool_stats_by_name(c, "c", &st), 0);
		if (st.live_blocks == 0 && st.clients == 0)
			break;
		harness_sleep_ms(20);
	}
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.client_cached_bytes, 0);
	check(c, "c");
	pool_disconnect(c);
}

/* ---- the budget --------------------------------------------------------- */

static void
cache_stays_within_its_budget(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	static pool_off_t offs[2000];
	unsigned i;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_set_cache(p, 64 * 1024), 0);	/* 1/256 of the pool */
	for (i = 0; i < 2000; i++)
		EXPECT_RC(pool_alloc(p, 256, &offs[i]), 0);
	for (i = 0; i < 2000; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	st = stats(p);
	printf("cache: 2000 x 256 B freed with a 64 KiB budget: %" PRIu64
	       " B cached, %" PRIu64 " B allocated\n", st.client_cached_bytes,
	       st.allocated_bytes);
	assert_true(st.client_cached_bytes > 0);
	assert_true(st.client_cached_bytes <= 64 * 1024);
	assert_int_equal(st.allocated_bytes, st.client_cached_bytes);

	/* Budget 0: the cache empties and frees go straight back. */
	EXPECT_RC(pool_set_cache(p, 0), 0);
	st = stats(p);
	assert_int_equal(st.client_cached_bytes, 0);
	assert_int_equal(st.allocated_bytes, 0);
	EXPECT_RC(pool_alloc(p, 256, &offs[0]), 0);
	EXPECT_RC(pool_free(p, offs[0]), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.allocs, st.frees);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- shared blocks ------------------------------------------------------ */

/* n allocations of size through p: none may be at off. */
static void
never_handed_out(struct pool *p, size_t size, pool_off_t off, unsigned n)
{
	pool_off_t got[200];
	unsigned i;

	assert_true(n <= 200);
	for (i = 0; i < n; i++) {
		EXPECT_RC(pool_alloc(p, size, &got[i]), 0);
		if (got[i] == off)
			fail_msg("allocation %u got %#" PRIx64 ", a block "
				 "another holder still has", i, off);
	}
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, got[i]), 0);
}

static void
shared_blocks_are_never_cached(void **state)
{
	struct pool_conn *ca, *cb;
	struct pool *a, *b;
	pool_off_t x, y;
	size_t usable;

	(void)state;
	a = open_ok(&ca, "c");
	b = open_ok(&cb, "c");

	/* Retained by b, then freed by a: the free goes to the daemon. */
	EXPECT_RC(pool_alloc(a, 256, &x), 0);
	memset(pool_ptr(a, x), 0x11, 256);
	EXPECT_RC(pool_retain(b, x), 0);
	EXPECT_RC(pool_free(a, x), 0);
	never_handed_out(a, 256, x, 100);
	assert_int_equal(((uint8_t *)pool_ptr(b, x))[255], 0x11);
	/* b's reference is the last: its free ends the block. */
	EXPECT_RC(pool_free(b, x), 0);
	EXPECT_RC(pool_usable_size(b, x, &usable), -EINVAL);

	/* Persistent, then freed by its holder: the pool still holds it. */
	EXPECT_RC(pool_alloc(a, 512, &y), 0);
	EXPECT_RC(pool_persist(a, y), 0);
	EXPECT_RC(pool_free(a, y), 0);
	never_handed_out(a, 512, y, 100);
	EXPECT_RC(pool_usable_size(b, y, &usable), 0);
	EXPECT_RC(pool_free(b, y), 0);		/* the pool's reference */
	EXPECT_RC(pool_usable_size(b, y, &usable), -EINVAL);

	/*
	 * Freed into a's cache, then retained by b (a race in a program: b
	 * retains a block a already let go).  a must not hand it out again.
	 */
	EXPECT_RC(pool_alloc(a, 128, &x), 0);
	EXPECT_RC(pool_free(a, x), 0);
	EXPECT_RC(pool_retain(b, x), 0);
	never_handed_out(a, 128, x, 100);
	EXPECT_RC(pool_free(b, x), 0);
	EXPECT_RC(pool_flush(a), 0);
	EXPECT_RC(pool_usable_size(b, x, &usable), -EINVAL);
	assert_int_equal(stats(a).allocated_bytes, 0);

	check(ca, "c");
	pool_disconnect(cb);
	pool_disconnect(ca);
}

/*
 * The free of a shared block drops the freer's reference at once, not
 * when its cache next looks at the block: the other holder's free then
 * ends it.  Kept in the cache instead, the block would outlive its last
 * holder, still held by a handle that let it go.  A small block with
 * credit at hand in the freeing thread's shard (the quickest path,
 * free_mine, would keep it), a larger one (kept in the central shard),
 * and a persistent one.
 */
static void
shared_block_free_drops_the_reference(void **state)
{
	struct pool_conn *ca, *cb;
	struct pool *a, *b;
	pool_off_t w, x, y;
	size_t usable;

	(void)state;
	a = open_ok(&ca, "c");
	b = open_ok(&cb, "c");

	/* A block kept and taken again: a's shard has credit for x. */
	EXPECT_RC(pool_alloc(a, 256, &w), 0);
	EXPECT_RC(pool_free(a, w), 0);
	assert_true(stats(a).client_cached_bytes > 0);
	EXPECT_RC(pool_alloc(a, 256, &x), 0);
	EXPECT_RC(pool_retain(b, x), 0);
	EXPECT_RC(pool_free(a, x), 0);
	EXPECT_RC(pool_usable_size(b, x, &usable), 0);
	EXPECT_RC(pool_free(b, x), 0);
	EXPECT_RC(pool_usable_size(b, x, &usable), -EINVAL);

	/* A larger block, which a free keeps in the central shard. */
	EXPECT_RC(pool_alloc(a, 8192, &x), 0);
	EXPECT_RC(pool_retain(b, x), 0);
	EXPECT_RC(pool_free(a, x), 0);
	EXPECT_RC(pool_free(b, x), 0);
	EXPECT_RC(pool_usable_size(b, x, &usable), -EINVAL);

	/* Persistent: the pool's reference is the last once a's is gone. */
	EXPECT_RC(pool_alloc(a, 128, &y), 0);
	EXPECT_RC(pool_persist(a, y), 0);
	EXPECT_RC(pool_free(a, y), 0);
	EXPECT_RC(pool_free(b, y), 0);		/* the pool's reference */
	EXPECT_RC(pool_usable_size(b, y, &usable), -EINVAL);

	check(ca, "c");
	pool_disconnect(cb);
	pool_disconnect(ca);
}

/* ---- size classes ------------------------------------------------------- */

/*
 * Above 512 bytes the classes are four to a doubling, and a block the
 * program asked for at its own size falls between two: freed, it serves
 * the class below its size, never the one above.  So a request of that
 * class above gets a block the daemon says holds it all, not the freed
 * one, which would end short of what the program writes.  A block kept
 * in a thread's shard (700 bytes, between the classes of 640 and 768)
 * and one kept in the central shard (5000, between 4096 and 5120).
 */
static void
freed_block_serves_the_class_below_its_size(void **state)
{
	static const size_t sizes[][2] = {{700, 768}, {5000, 5120}};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, y;
	size_t usable;
	unsigned i;

	(void)state;
	p = open_ok(&c, "c");
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_set_cache(p, 1 << 20), 0);
		EXPECT_RC(pool_alloc(p, sizes[i][0], &x), 0);
		EXPECT_RC(pool_usable_size(p, x, &usable), 0);
		/* Else the block is of the class above: nothing to see. */
		assert_true(usable < sizes[i][1]);
		EXPECT_RC(pool_free(p, x), 0);
		EXPECT_RC(pool_alloc(p, sizes[i][1], &y), 0);
		/* No longer tracked: the daemon answers for y. */
		EXPECT_RC(pool_set_cache(p, 0), 0);
		EXPECT_RC(pool_usable_size(p, y, &usable), 0);
		if (usable < sizes[i][1])
			fail_msg("pool_alloc(%zu) got %#" PRIx64 ", a block of "
				 "%zu bytes (the one freed at %#" PRIx64 ")",
				 sizes[i][1], y, usable, x);
		EXPECT_RC(pool_free(p, y), 0);
	}
	assert_int_equal(stats(p).allocated_bytes, 0);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- bad frees ---------------------------------------------------------- */

static void
double_free_of_a_cached_block_is_counted(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats before, after;
	pool_off_t x, y;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(p, 100, &x), 0);
	EXPECT_RC(pool_flush(p), 0);
	before = stats(p);
	EXPECT_RC(pool_free(p, x), 0);
	assert_true(stats(p).client_cached_bytes > 0);
	EXPECT_RC(pool_free(p, x), -EINVAL);
	after = stats(p);
	assert_int_equal(after.invalid_frees - before.invalid_frees, 1);
	assert_int_equal(after.allocated_bytes, 0);
	/* Nor does any other call on it find it live. */
	EXPECT_RC(pool_alloc(p, 100, &y), 0);
	EXPECT_RC(pool_free(p, y), 0);
	EXPECT_RC(pool_retain(p, y), -EINVAL);
	EXPECT_RC(pool_realloc(p, y, 200, &x), -EINVAL);
	EXPECT_RC(pool_usable_size(p, y, (size_t[]){0}), -EINVAL);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A free of an offset inside a live block of this thread's shard (the
 * cache's quickest path looks there first) is no block: the daemon's
 * -EINVAL, counted, and nothing else changes.  The block stays live, the
 * cache as it was; the block's own free is then kept, and its second
 * free refused.
 */
static void
free_of_no_block_changes_nothing(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats before, after;
	pool_off_t a, b, d;
	size_t usable;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(p, 64, &a), 0);
	EXPECT_RC(pool_alloc(p, 64, &b), 0);
	EXPECT_RC(pool_alloc(p, 64, &d), 0);
	EXPECT_RC(pool_free(p, b), 0);
	EXPECT_RC(pool_free(p, d), 0);
	/* Taken again: the shard has credit for a block more than it holds. */
	EXPECT_RC(pool_alloc(p, 64, &d), 0);
	before = stats(p);
	assert_true(before.client_cached_bytes > 0);
	EXPECT_RC(pool_free(p, a + 16), -EINVAL);
	after = stats(p);
	printf("cache: a free inside a live block: invalid frees %" PRIu64
	       " -> %" PRIu64 ", requested %" PRIu64 " -> %" PRIu64
	       " B, cached %" PRIu64 " -> %" PRIu64 " B\n",
	       before.invalid_frees, after.invalid_frees,
	       before.requested_bytes, after.requested_bytes,
	       before.client_cached_bytes, after.client_cached_bytes);
	assert_int_equal(after.invalid_frees - before.invalid_frees, 1);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.requested_bytes, before.requested_bytes);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.client_cached_bytes, before.client_cached_bytes);
	EXPECT_RC(pool_usable_size(p, a, &usable), 0);
	assert_true(usable >= 64);
	EXPECT_RC(pool_free(p, a), 0);
	after = stats(p);
	assert_true(after.client_cached_bytes > before.client_cached_bytes);
	assert_int_equal(after.frees, before.frees);
	EXPECT_RC(pool_free(p, a), -EINVAL);
	check(c, "c");
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a tight pool ------------------------------------------------------- */

static void
slack_is_given_back_when_the_pool_is_full(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, rest, small, again;
	size_t usable;

	(void)state;
	p = open_ok(&c, "tight");
	/* [x: 1024][rest: 64512]: full. */
	EXPECT_RC(pool_alloc(p, 1024, &x), 0);
	EXPECT_RC(pool_alloc(p, 65536 - 1024, &rest), 0);
	assert_int_equal(x, 0);
	EXPECT_RC(pool_alloc(p, 16, &small), -ENOMEM);
	/* x goes into the cache and comes back for a 1000-byte request. */
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_alloc(p, 1000, &again), 0);
	assert_int_equal(again, x);
	EXPECT_RC(pool_usable_size(p, again, &usable), 0);
	assert_int_equal(usable, 1008);
	/* The 16 bytes beyond 1008 are free as far as the program knows. */
	EXPECT_RC(pool_alloc(p, 16, &small), 0);
	assert_int_equal(small, 1008);
	EXPECT_RC(pool_alloc(p, 16, &x), -ENOMEM);
	assert_int_equal(stats(p).free_bytes, 0);
	/*
	 * Two refusals reached the program; the refills refused before them
	 * and the try before the slack came back did not, and are not
	 * counted.
	 */
	assert_int_equal(stats(p).failed_allocs, 2);
	check(c, "tight");
	EXPECT_RC(pool_free(p, small), 0);
	EXPECT_RC(pool_free(p, again), 0);
	EXPECT_RC(pool_free(p, rest), 0);
	EXPECT_RC(pool_flush(p), 0);
	assert_int_equal(stats(p).allocated_bytes, 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- the share map ------------------------------------------------------ */

/* The address range of the share map of pool name in /proc/self/maps. */
static int
find_share_map(const char *name, uintptr_t *lo, uintptr_t *hi)
{
	char line[512], want[96];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	snprintf(want, sizeof(want), "poolmgr:%s:shared", name);
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (strstr(line, want) &&
		    sscanf(line, "%" SCNxPTR "-%" SCNxPTR, lo, hi) == 2)
			found = 1;
	fclose(f);
	return found;
}

static void
share_map_cannot_be_made_writable(void **state)
{
	struct pool_conn *c;
	struct pool *p, *ro;
	uintptr_t lo = 0, hi = 0;
	char path[128];
	int fd;

	(void)state;
	p = open_ok(&c, "c");
	if (!find_share_map("c", &lo, &hi))
		fail_msg("no share map mapped for pool c");
	errno = 0;
	assert_int_equal(mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE),
			 -1);
	assert_int_equal(errno, EACCES);
	/* Not through the file either (root may open map_files). */
	snprintf(path, sizeof(path), "/proc/self/map_files/%" PRIxPTR "-%"
		 PRIxPTR, lo, hi);
	fd = open(path, O_RDWR);
	if (fd >= 0) {
		errno = 0;
		assert_int_equal(pwrite(fd, "x", 1, 0), -1);
		assert_int_equal(errno, EPERM);
		close(fd);
	}

	/* A read-only handle has no cache to set. */
	EXPECT_RC(pool_open_readonly(c, "c", &ro), 0);
	EXPECT_RC(pool_set_cache(ro, 1 << 20), -EOPNOTSUPP);
	EXPECT_RC(pool_set_cache(ro, 0), 0);
	EXPECT_RC(pool_flush(ro), 0);
	pool_close(ro);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a dead daemon ------------------------------------------------------ */

static void
dead_daemon_stops_the_cache(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, y;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	EXPECT_RC(pool_alloc(p, 64, &y), 0);
	EXPECT_RC(pool_free(p, x), 0);		/* cached: no round trip */
	assert_int_equal(harness_stop(&daemon_proc), 0);
	/* Within a tick of the coarse clock the cache notices. */
	harness_sleep_ms(20);
	EXPECT_RC(pool_alloc(p, 64, &x), -ECONNRESET);
	EXPECT_RC(pool_free(p, y), -ECONNRESET);
	/* These have nothing to send, and still say so (they said 0). */
	EXPECT_RC(pool_flush(p), -ECONNRESET);
	EXPECT_RC(pool_set_cache(p, 1 << 20), -ECONNRESET);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * Another client destroys the pool by force: the cache must not hand out
 * one more block of it (a producer would pass on offsets into a pool that
 * is gone), nor take a free, though it still has a block cached and the
 * connection is fine.
 */
static void
forced_destroy_stops_the_cache(void **state)
{
	struct pool_conn *c, *admin;
	struct pool *p;
	pool_off_t x, y;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	EXPECT_RC(pool_alloc(p, 64, &y), 0);
	EXPECT_RC(pool_free(p, x), 0);		/* cached */
	EXPECT_RC(pool_connect(daemon_proc.sock, &admin), 0);
	EXPECT_RC(pool_destroy_force(admin, "c"), 0);
	EXPECT_RC(pool_alloc(p, 64, &x), -EBADF);
	EXPECT_RC(pool_free(p, y), -EBADF);
	EXPECT_RC(pool_alloc(p, 1 << 20, &x), -EBADF);
	/* The daemon's words say why. */
	if (!strstr(pool_last_message(-EBADF), "pool c was destroyed by "
		    "force"))
		fail_msg("-EBADF: %s", pool_last_message(-EBADF));
	EXPECT_RC(pool_flush(p), -EBADF);
	EXPECT_RC(pool_set_cache(p, 0), -EBADF);
	pool_close(p);
	/* The connection itself still serves. */
	EXPECT_RC(pool_open(c, "tight", &p), 0);
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	pool_close(p);
	pool_disconnect(admin);
	pool_disconnect(c);
}

/*
 * Two pools destroyed by force under their handles: a request on one
 * asks the daemon, whose words name that pool; the other handle's cache
 * then refuses an allocation itself (-EBADF, from the state word), and
 * must not pass those words off as its own: they name another pool.
 */
static void
forced_destroy_words_are_not_another_pools(void **state)
{
	struct pool_conn *c, *admin;
	struct pool *p, *q;
	pool_off_t x;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_open(c, "tight", &q), 0);
	EXPECT_RC(pool_set_cache(q, 1 << 20), 0);
	EXPECT_RC(pool_alloc(q, 64, &x), 0);
	EXPECT_RC(pool_free(q, x), 0);
	EXPECT_RC(pool_connect(daemon_proc.sock, &admin), 0);
	EXPECT_RC(pool_destroy_force(admin, "c"), 0);
	EXPECT_RC(pool_destroy_force(admin, "tight"), 0);
	/* Too large to cache: the daemon answers, and says why. */
	EXPECT_RC(pool_alloc(p, 1 << 20, &x), -EBADF);
	if (!strstr(pool_last_message(-EBADF), "pool c was destroyed by "
		    "force"))
		fail_msg("-EBADF: %s", pool_last_message(-EBADF));
	EXPECT_RC(pool_alloc(q, 64, &x), -EBADF);
	if (strstr(pool_last_message(-EBADF), "pool c "))
		fail_msg("pool tight's -EBADF has pool c's words: %s",
			 pool_last_message(-EBADF));
	pool_close(q);
	pool_close(p);
	pool_disconnect(admin);
	pool_disconnect(c);
}

/*
 * A retain counts against the quota like an allocation, so the cache gives
 * way to it the same way: 30000 bytes live and a few KB cached under a 64
 * KiB quota, and a retain of another session's 32 KiB block still succeeds
 * (as it would with no cache); with the cache flushed it fits.  So does
 * a lookup that retains.  Neither first refusal, which the library takes
 * back with its flush, counts in quota_refusals.
 */
static void
retain_flushes_the_cache_at_the_quota(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20, .mode = 0666,
				     .quota = 64 << 10};
	struct pool_conn *c, *c2;
	struct pool *a, *b;
	pool_off_t blocks[8], theirs, mine, off;
	int i;

	(void)state;
	EXPECT_RC(pool_connect(NULL, &c2), 0);
	EXPECT_RC(pool_create(c2, "q", &o), 0);
	EXPECT_RC(pool_open(c2, "q", &b), 0);
	EXPECT_RC(pool_alloc(b, 32 << 10, &theirs), 0);
	a = open_ok(&c, "q");
	EXPECT_RC(pool_alloc(a, 30000, &mine), 0);
	for (i = 0; i < 8; i++)
		EXPECT_RC(pool_alloc(a, 1000, &blocks[i]), 0);
	for (i = 0; i < 8; i++)
		EXPECT_RC(pool_free(a, blocks[i]), 0);
	/* 30000 live + 32768 retained fit; with 3000 more cached, not. */
	assert_true(stats(a).client_cached_bytes >= 3000);
	EXPECT_RC(pool_retain(a, theirs), 0);
	/* The refusal before the flush was the library's to take back. */
	assert_int_equal(stats(a).quota_refusals, 0);
	EXPECT_RC(pool_free(a, theirs), 0);
	/* The same for a lookup that retains. */
	for (i = 0; i < 8; i++)
		EXPECT_RC(pool_alloc(a, 1000, &blocks[i]), 0);
	for (i = 0; i < 8; i++)
		EXPECT_RC(pool_free(a, blocks[i]), 0);
	assert_true(stats(a).client_cached_bytes >= 3000);
	EXPECT_RC(pool_publish(b, theirs, "theirs"), 0);
	EXPECT_RC(pool_lookup_retain(a, "theirs", &off, NULL), 0);
	assert_int_equal(off, theirs);
	assert_int_equal(stats(a).quota_refusals, 0);
	EXPECT_RC(pool_free(a, theirs), 0);
	EXPECT_RC(pool_unpublish(b, "theirs"), 0);
	EXPECT_RC(pool_free(b, theirs), 0);
	EXPECT_RC(pool_free(a, mine), 0);
	pool_close(a);
	pool_close(b);
	pool_disconnect(c);
	pool_disconnect(c2);
}

/*
 * The quota is the connection's; each handle's cache is its own and gives
 * way only to that handle's refusals.  So a cache keeps at most an eighth
 * of the quota: what one handle freed does not sit where another handle of
 * the same connection needs the room.
 */
static void
sibling_handles_share_the_quota(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20, .mode = 0600,
				     .quota = 64 << 10};
	struct pool_conn *c;
	struct pool *a, *b;
	pool_off_t big, blocks[60], x;
	int i;

	(void)state;
	a = open_ok(&c, "c");
	EXPECT_RC(pool_create(c, "q", &o), 0);
	pool_close(a);
	EXPECT_RC(pool_open(c, "q", &a), 0);
	EXPECT_RC(pool_open(c, "q", &b), 0);
	EXPECT_RC(pool_set_cache(a, 1 << 20), 0);
	/* One big block freed by a: b gets the room. */
	EXPECT_RC(pool_alloc(a, 60000, &big), 0);
	EXPECT_RC(pool_free(a, big), 0);
	EXPECT_RC(pool_alloc(b, 60000, &x), 0);
	EXPECT_RC(pool_free(b, x), 0);
	EXPECT_RC(pool_flush(b), 0);
	/* Many small ones: a keeps at most 8 KiB of them. */
	for (i = 0; i < 60; i++)
		EXPECT_RC(pool_alloc(a, 1000, &blocks[i]), 0);
	for (i = 0; i < 60; i++)
		EXPECT_RC(pool_free(a, blocks[i]), 0);
	assert_true(stats(a).client_cached_bytes <= 8 << 10);
	EXPECT_RC(pool_alloc(b, 56 << 10, &x), 0);
	EXPECT_RC(pool_free(b, x), 0);
	pool_close(a);
	pool_close(b);
	pool_disconnect(c);
}

/*
 * Eight sibling handles, each a cache that took and freed many blocks:
 * each keeps a part of its share of the quota (the quota over the
 * connection's handles on the pool), so together they keep an eighth of
 * it, and a ninth handle of the connection gets half the quota, which
 * the others' caches could not give back.
 */
#define SIBLINGS 8
#define SIBLING_BLOCKS 2048

static void
many_sibling_handles_share_the_quota(void **state)
{
	struct pool_create_opts o = {.max_size = 64 << 20, .mode = 0600,
				     .quota = 2 << 20};
	static pool_off_t offs[SIBLING_BLOCKS];
	struct pool *p[SIBLINGS], *last;
	struct pool_conn *c;
	pool_off_t big;
	uint64_t cached;
	int i, k;

	(void)state;
	last = open_ok(&c, "c");
	pool_close(last);
	EXPECT_RC(pool_create(c, "q", &o), 0);
	for (k = 0; k < SIBLINGS; k++) {
		EXPECT_RC(pool_open(c, "q", &p[k]), 0);
		EXPECT_RC(pool_set_cache(p[k], 4 << 20), 0);
	}
	for (k = 0; k < SIBLINGS; k++) {
		for (i = 0; i < SIBLING_BLOCKS; i++)
			EXPECT_RC(pool_alloc(p[k], 256, &offs[i]), 0);
		for (i = 0; i < SIBLING_BLOCKS; i++)
			EXPECT_RC(pool_free(p[k], offs[i]), 0);
	}
	cached = stats(p[0]).client_cached_bytes;
	printf("cache: %d handles of one connection keep %" PRIu64 " B "
	       "cached under a quota of 2 MiB\n", SIBLINGS, cached);
	assert_true(cached <= (2 << 20) / 8);
	EXPECT_RC(pool_open(c, "q", &last), 0);
	EXPECT_RC(pool_alloc(last, 1 << 20, &big), 0);
	EXPECT_RC(pool_free(last, big), 0);
	pool_close(last);
	for (k = 0; k < SIBLINGS; k++)
		pool_close(p[k]);
	pool_disconnect(c);
}

/* ---- a shrink racing a free ---------------------------------------------- */

#define SLACK_BLOCKS 2000

static struct pool *slack_pool;
static int slack_go;	/* atomic */

static void *
give_slack_back(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&slack_go, __ATOMIC_ACQUIRE))
		;
	/* Flushes, then shrinks each slack block: a round trip each. */
	(void)pool_set_cache(slack_pool, 0);
	return NULL;
}

/*
 * Blocks served from larger cached ones have slack, which the cache gives
 * back (an in-place shrink per block) when its budget goes to 0.  Another
 * thread meanwhile frees those blocks and allocates at once: the daemon
 * hands out the offsets just freed.  A shrink that reached the daemon after
 * the free resized somebody else's block (found by a stress test: 49-65 of
 * 2000 new blocks shrunk under their owner in 4 runs of 6); a free of a
 * block being shrunk must wait for the shrink.
 */
static void
shrink_waits_for_nothing_freed(void **state)
{
	static pool_off_t a[SLACK_BLOCKS], b[SLACK_BLOCKS];
	struct pool_conn *c;
	pthread_t t;
	size_t usable;
	int i, round, bad = 0;

	(void)state;
	for (round = 0; round < 3; round++) {
		slack_pool = open_ok(&c, "c");
		for (i = 0; i < SLACK_BLOCKS; i++)
			EXPECT_RC(pool_alloc(slack_pool, 128, &a[i]), 0);
		for (i = 0; i < SLACK_BLOCKS; i++)
			EXPECT_RC(pool_free(slack_pool, a[i]), 0);
		/* 100-byte requests served by the 128-byte blocks. */
		for (i = 0; i < SLACK_BLOCKS; i++)
			EXPECT_RC(pool_alloc(slack_pool, 100, &a[i]), 0);
		__atomic_store_n(&slack_go, 0, __ATOMIC_RELEASE);
		assert_int_equal(pthread_create(&t, NULL, give_slack_back,
						NULL), 0);
		__atomic_store_n(&slack_go, 1, __ATOMIC_RELEASE);
		for (i = 0; i < SLACK_BLOCKS; i++) {
			EXPECT_RC(pool_free(slack_pool, a[i]), 0);
			EXPECT_RC(pool_alloc(slack_pool, 128, &b[i]), 0);
		}
		assert_int_equal(pthread_join(t, NULL), 0);
		for (i = 0; i < SLACK_BLOCKS; i++) {
			EXPECT_RC(pool_usable_size(slack_pool, b[i], &usable),
				  0);
			bad += usable < 128;
		}
		for (i = 0; i < SLACK_BLOCKS; i++)
			EXPECT_RC(pool_free(slack_pool, b[i]), 0);
		assert_int_equal(stats(slack_pool).allocated_bytes, 0);
		pool_close(slack_pool);
		pool_disconnect(c);
	}
	if (bad)
		fail_msg("%d blocks were shrunk under their owner", bad);
}

/* ---- threads that come and go ------------------------------------------- */

struct round {
	struct pool *p;
	pool_off_t off;
	int rc;
};

static void *
alloc_and_free(void *arg)
{
	struct round *r = arg;

	r->rc = pool_alloc(r->p, 64, &r->off);
	if (r->rc == 0)
		r->rc = pool_free(r->p, r->off);
	return NULL;
}

/*
 * Threads started one after another reuse the shard, and so the cached
 * blocks, of those that ended: after the first thread's refill, twenty
 * more threads each take the block the one before freed, with no round
 * trip; the budget is not split among threads long gone.
 */
static void
new_threads_reuse_the_cache_of_ended_ones(void **state)
{
	struct round r = {.rc = -1};
	struct pool_conn *c;
	struct pool_stats st;
	uint64_t allocs = 0;
	pool_off_t first = POOL_OFF_NONE;
	pthread_t t;
	int i;

	(void)state;
	r.p = open_ok(&c, "c");
	for (i = 0; i <= 20; i++) {
		assert_int_equal(pthread_create(&t, NULL, alloc_and_free, &r), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		EXPECT_RC(r.rc, 0);
		st = stats(r.p);
		if (i == 0) {
			first = r.off;
			allocs = st.allocs;
			assert_true(st.client_cached_bytes > 0);
			continue;
		}
		assert_int_equal(r.off, first);
		assert_int_equal(st.allocs, allocs);	/* served by the cache */
	}
	pool_close(r.p);
	check(c, "c");
	pool_disconnect(c);
}

/*
 * The cache serves a 100-byte request from a freed 160-byte block, which
 * another connection then retains and is told is 160 bytes long.  When the
 * cache gives slack back (pool_set_cache 0 here; a refusal for room does
 * the same), that block keeps its 160 bytes: the retainer may use them
 * all, and nobody is given any of them.  (The cache once shrank it to 112
 * under the retainer, and a third client's blocks landed in its tail.)
 */
static void
slack_of_a_shared_block_is_kept(void **state)
{
	struct pool_conn *c, *c2, *c3;
	struct pool *a, *b, *o;
	pool_off_t x, y, z[4];
	size_t usable;
	int i;

	(void)state;
	a = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(a, 160, &x), 0);
	EXPECT_RC(pool_free(a, x), 0);		/* cached */
	EXPECT_RC(pool_alloc(a, 100, &y), 0);
	assert_int_equal(y, x);			/* from the cache, with slack */
	EXPECT_RC(pool_connect(daemon_proc.sock, &c2), 0);
	EXPECT_RC(pool_open(c2, "c", &b), 0);
	EXPECT_RC(pool_retain(b, y), 0);
	EXPECT_RC(pool_usable_size(b, y, &usable), 0);
	assert_int_equal(usable, 160);
	EXPECT_RC(pool_set_cache(a, 0), 0);
	EXPECT_RC(pool_usable_size(b, y, &usable), 0);
	assert_int_equal(usable, 160);
	EXPECT_RC(pool_connect(daemon_proc.sock, &c3), 0);
	EXPECT_RC(pool_open(c3, "c", &o), 0);
	EXPECT_RC(pool_set_cache(o, 0), 0);
	for (i = 0; i < 4; i++) {
		EXPECT_RC(pool_alloc(o, 16, &z[i]), 0);
		if (z[i] >= y && z[i] < y + 160)
			fail_msg("a 16-byte block at %llu, inside the retained "
				 "block [%llu, %llu)", (unsigned long long)z[i],
				 (unsigned long long)y,
				 (unsigned long long)y + 160);
	}
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_free(o, z[i]), 0);
	EXPECT_RC(pool_free(a, y), 0);
	EXPECT_RC(pool_free(b, y), 0);
	check(c, "c");
	pool_close(o);
	pool_disconnect(c3);
	pool_close(b);
	pool_disconnect(c2);
	pool_close(a);
	pool_disconnect(c);
}

/*
 * A budget in $POOLMGR_CLIENT_CACHE too large for size_t once its suffix
 * is applied (2^34 G wraps to 0) is not taken: the default is.  (The shift
 * once came before the check, and the wrapped budget turned the cache off.)
 */
static void
huge_budget_in_the_environment_is_ignored(void **state)
{
	const char *was = getenv("POOLMGR_CLIENT_CACHE");
	char *saved = was ? strdup(was) : NULL;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, y;

	(void)state;
	setenv("POOLMGR_CLIENT_CACHE", "17179869184G", 1);
	EXPECT_RC(pool_connect(daemon_proc.sock, &c), 0);
	EXPECT_RC(pool_open(c, "c", &p), 0);
	if (saved)
		setenv("POOLMGR_CLIENT_CACHE", saved, 1);
	else
		unsetenv("POOLMGR_CLIENT_CACHE");
	free(saved);
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	EXPECT_RC(pool_alloc(p, 64, &y), 0);
	EXPECT_RC(pool_free(p, x), 0);
	assert_true(stats(p).client_cached_bytes >= 64);
	EXPECT_RC(pool_free(p, y), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The bytes this process's handle of pool name, opened with
 * $POOLMGR_CLIENT_CACHE set to budget (NULL: unset), holds in its cache
 * once n blocks of size bytes are freed; the environment is put back.
 */
static uint64_t
cached_under_env_budget(const char *name, const char *budget, size_t n,
			size_t size)
{
	const char *was = getenv("POOLMGR_CLIENT_CACHE");
	char *saved = was ? strdup(was) : NULL;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t *offs;
	uint64_t cached;
	size_t i;

	if (budget)
		setenv("POOLMGR_CLIENT_CACHE", budget, 1);
	else
		unsetenv("POOLMGR_CLIENT_CACHE");
	EXPECT_RC(pool_connect(daemon_proc.sock, &c), 0);
	EXPECT_RC(pool_open(c, name, &p), 0);
	if (saved)
		setenv("POOLMGR_CLIENT_CACHE", saved, 1);
	else
		unsetenv("POOLMGR_CLIENT_CACHE");
	free(saved);
	assert_non_null(offs = calloc(n, sizeof(*offs)));
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_alloc(p, size, &offs[i]), 0);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	cached = stats(p).client_cached_bytes;
	free(offs);
	pool_close(p);
	pool_disconnect(c);
	return cached;
}

/*
 * A budget in $POOLMGR_CLIENT_CACHE with a K or M suffix (either case) is
 * that many KiB or MiB: 2 MiB of blocks freed into a handle opened with
 * "8k" leave at most 8 KiB cached, with "1M" at most 1 MiB, while the
 * default (4 MiB, in a pool of 64 MiB whose sixteenth bounds nothing
 * less) keeps them all, and so does a budget with an unknown suffix.
 */
static void
budget_suffixes_in_the_environment(void **state)
{
	struct pool_create_opts o = {.max_size = 64 << 20, .mode = 0600};
	struct pool_conn *c;
	uint64_t cached;

	(void)state;
	EXPECT_RC(pool_connect(daemon_proc.sock, &c), 0);
	EXPECT_RC(pool_create(c, "big", &o), 0);

	/* At least the freed blocks: refills may have brought more. */
	cached = cached_under_env_budget("big", NULL, 512, 4096);
	assert_true(cached >= 2 << 20);
	cached = cached_under_env_budget("big", "8k", 512, 4096);
	assert_true(cached > 0 && cached <= 8 << 10);
	cached = cached_under_env_budget("big", "8K", 512, 4096);
	assert_true(cached > 0 && cached <= 8 << 10);
	cached = cached_under_env_budget("big", "1M", 512, 4096);
	assert_true(cached > 8 << 10 && cached <= 1 << 20);
	cached = cached_under_env_budget("big", "1m", 512, 4096);
	assert_true(cached > 8 << 10 && cached <= 1 << 20);
	/* A suffix that is none of them: the default, as for any bad value. */
	cached = cached_under_env_budget("big", "1X", 512, 4096);
	assert_true(cached >= 2 << 20);

	harness_expect_checked(c, "big");
	EXPECT_RC(pool_destroy(c, "big"), 0);
	pool_disconnect(c);
}

/* ---- flushes that cannot be sent ----------------------------------------- */

/*
 * While freebatch_failing is set, every FreeBatch this process sends fails
 * as the kernel fails a send with no buffer space: ENOBUFS, nothing sent,
 * the connection fine.  libpoolclient's send comes here: the test links
 * libpoolclient.a, and a send defined in the program wins over libc's.
 */
static int freebatch_failing;	/* atomic */
static int freebatch_refused;	/* atomic: sends failed so far */
static int closes_to_fail;	/* atomic: ClosePools to fail, from now */
/*
 * atomic: hold the next FreeBatch after it is sent (the daemon gets it),
 * as a thread preempted before it hears back would be: posts
 * freebatch_sent, waits for freebatch_go.
 */
static int freebatch_hold;
static sem_t freebatch_sent, freebatch_go;
/* atomic: a FreeBatch naming this block fails with ENOBUFS. */
static pool_off_t freebatch_poison = POOL_OFF_NONE;
/*
 * atomic: the next FreeBatch naming this block goes with an offset inside
 * it instead, which is no block: the daemon refuses the batch (-EINVAL)
 * and names that offset's index (failed_index), as it does for a block the
 * handle does not hold.  Then back to POOL_OFF_NONE.
 */
static pool_off_t freebatch_refuse = POOL_OFF_NONE;

/*
 * One thread's own hold: its first FreeBatch waits (posts sent, waits for
 * go) before it is sent, then it and every later one fails with ENOBUFS
 * if fail is set, else goes.
 */
struct thread_hold {
	sem_t sent, go;
	bool fail, done;
};
static __thread struct thread_hold *my_hold;

/* The body of the request in buf, or not set. */
static Poolmgr__Request__BodyCase
body_of(const void *buf, size_t len)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	Poolmgr__Request__BodyCase body = POOLMGR__REQUEST__BODY__NOT_SET;

	if (req != NULL) {
		body = req->body_case;
		poolmgr__request__free_unpacked(req, NULL);
	}
	return body;
}

/* The index of off in the FreeBatch in buf, or -1. */
static long
batch_index_of(const void *buf, size_t len, pool_off_t off)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	long found = -1;
	size_t i;

	if (req == NULL)
		return -1;
	if (req->body_case == POOLMGR__REQUEST__BODY_FREE_BATCH)
		for (i = 0; i < req->free_batch->n_offsets && found < 0; i++)
			if (req->free_batch->offsets[i] == off)
				found = (long)i;
	poolmgr__request__free_unpacked(req, NULL);
	return found;
}

/* Fail this send as the kernel does when it has no buffer for it? */
static bool
send_fails(const void *buf, size_t len)
{
	Poolmgr__Request__BodyCase body = body_of(buf, len);
	pool_off_t poison = __atomic_load_n(&freebatch_poison,
					    __ATOMIC_ACQUIRE);

	if (body == POOLMGR__REQUEST__BODY_FREE_BATCH)
		return __atomic_load_n(&freebatch_failing, __ATOMIC_ACQUIRE) ||
		       (poison != POOL_OFF_NONE &&
			batch_index_of(buf, len, poison) >= 0);
	if (body == POOLMGR__REQUEST__BODY_CLOSE)
		return __atomic_fetch_sub(&closes_to_fail, 1,
					  __ATOMIC_ACQ_REL) > 0;
	return false;
}

typedef ssize_t (*send_fn)(int, const void *, size_t, int);

/*
 * Send the FreeBatch in buf with an offset inside block off in place of
 * off (at index i); the length of buf, as if buf went.
 */
static ssize_t
send_refused(send_fn fn, int fd, const void *buf, size_t len, int flags,
	     pool_off_t off, long i)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	uint8_t *out;
	ssize_t n = -1;

	if (req == NULL)
		return -1;
	req->free_batch->offsets[i] = off + 1;
	if ((out = malloc(poolmgr__request__get_packed_size(req))) != NULL) {
		n = fn(fd, out, poolmgr__request__pack(req, out), flags);
		free(out);
	}
	poolmgr__request__free_unpacked(req, NULL);
	return n < 0 ? n : (ssize_t)len;
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	static send_fn real;	/* atomic */
	send_fn fn;
	pool_off_t refuse;
	long i;

	if ((__atomic_load_n(&freebatch_failing, __ATOMIC_ACQUIRE) ||
	     __atomic_load_n(&freebatch_poison, __ATOMIC_ACQUIRE) !=
	     POOL_OFF_NONE ||
	     __atomic_load_n(&closes_to_fail, __ATOMIC_ACQUIRE) > 0) &&
	    send_fails(buf, len)) {
		__atomic_add_fetch(&freebatch_refused, 1, __ATOMIC_RELAXED);
		errno = ENOBUFS;
		return -1;
	}
	if (my_hold != NULL &&
	    body_of(buf, len) == POOLMGR__REQUEST__BODY_FREE_BATCH) {
		if (!my_hold->done) {
			my_hold->done = true;
			sem_post(&my_hold->sent);
			sem_wait(&my_hold->go);
		}
		if (my_hold->fail) {
			errno = ENOBUFS;
			return -1;
		}
	}
	if ((fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE)) == NULL) {
		fn = (send_fn)dlsym(RTLD_NEXT, "send");
		__atomic_store_n(&real, fn, __ATOMIC_RELEASE);
	}
	if ((refuse = __atomic_load_n(&freebatch_refuse, __ATOMIC_ACQUIRE)) !=
	    POOL_OFF_NONE && (i = batch_index_of(buf, len, refuse)) >= 0 &&
	    __atomic_exchange_n(&freebatch_refuse, POOL_OFF_NONE,
				__ATOMIC_ACQ_REL) == refuse)
		return send_refused(fn, fd, buf, len, flags, refuse, i);
	if (__atomic_load_n(&freebatch_hold, __ATOMIC_ACQUIRE) &&
	    body_of(buf, len) == POOLMGR__REQUEST__BODY_FREE_BATCH &&
	    __atomic_exchange_n(&freebatch_hold, 0, __ATOMIC_ACQ_REL)) {
		ssize_t n = fn(fd, buf, len, flags);

		sem_post(&freebatch_sent);
		sem_wait(&freebatch_go);
		return n;
	}
	return fn(fd, buf, len, flags);
}

static void
fail_free_batches(void)
{
	__atomic_store_n(&freebatch_refused, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&freebatch_failing, 1, __ATOMIC_RELEASE);
}

/* Send FreeBatches again; fails the test if none was refused meanwhile. */
static void
send_free_batches(void)
{
	__atomic_store_n(&freebatch_failing, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&freebatch_refused, __ATOMIC_RELAXED) == 0)
		fail_msg("no FreeBatch was sent while they were to fail");
}

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

static struct thread_hold hold_c, hold_t;
static int rc_double_free, rc_failed_flush;

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

static void *
job_failing_flush(void *arg)
{
	my_hold = &hold_t;
	rc_failed_flush = pool_flush(arg);
	my_hold = NULL;
	return NULL;
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
		CACHE_TEST(killed_client_cached_blocks_reclaimed),
		CACHE_TEST(cache_stays_within_its_budget),
		CACHE_TEST(shared_blocks_are_never_cached),
		CACHE_TEST(shared_block_free_drops_the_reference),
		CACHE_TEST(freed_block_serves_the_class_below_its_size),
		CACHE_TEST(double_free_of_a_cached_block_is_counted),
		CACHE_TEST(free_of_no_block_changes_nothing),
		CACHE_TEST(slack_is_given_back_when_the_pool_is_full),
		CACHE_TEST(share_map_cannot_be_made_writable),
		CACHE_TEST(dead_daemon_stops_the_cache),
		CACHE_TEST(forced_destroy_stops_the_cache),
		CACHE_TEST(forced_destroy_words_are_not_another_pools),
		CACHE_TEST(retain_flushes_the_cache_at_the_quota),
		CACHE_TEST(many_sibling_handles_share_the_quota),
		CACHE_TEST(sibling_handles_share_the_quota),
		CACHE_TEST(shrink_waits_for_nothing_freed),
		CACHE_TEST(new_threads_reuse_the_cache_of_ended_ones),
		CACHE_TEST(slack_of_a_shared_block_is_kept),
		CACHE_TEST(huge_budget_in_the_environment_is_ignored),
		CACHE_TEST(budget_suffixes_in_the_environment),
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
	return cmocka_run_group_tests_name("client cache", tests, NULL, NULL);
}
