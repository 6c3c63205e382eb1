/*
 * itest_cache.c - the client-side cache keeps every guarantee.
 *
 * A handle keeps small blocks the program frees and hands them out again
 * without a round trip (client/cache.c).  What a flush that cannot be
 * sent keeps is itest_cache_unsent.c's, the flushes of other threads on
 * their way and the calls that wait for them itest_cache_waits.c's; the
 * daemon of each test and the handles it opens are cache_util.h's.
 * Against the real daemon:
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
 *     no words of another pool's refusal; pool_usable_size of a block the
 *     cache knows the size of is refused then too;
 *   - threads started after others ended reuse their shard and its blocks;
 *   - a block freed while the cache gives its slack back is freed only
 *     after the shrink, never shrinking the block that next takes its
 *     offset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cache_util.h"

#define CHILD_ALARM	20

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
	size_t usable = 1;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	EXPECT_RC(pool_alloc(p, 64, &y), 0);
	EXPECT_RC(pool_free(p, x), 0);		/* cached: no round trip */
	assert_int_equal(harness_stop(&daemon_proc), 0);
	/* Within a tick of the coarse clock the cache notices. */
	harness_sleep_ms(20);
	/* y's size is known here, yet the block is gone with the daemon. */
	EXPECT_RC(pool_usable_size(p, y, &usable), -ECONNRESET);
	assert_int_equal(usable, 1);
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
 * is gone), nor take a free, nor say the size of a block the pool freed,
 * though it still has a block cached and the connection is fine.
 */
static void
forced_destroy_stops_the_cache(void **state)
{
	struct pool_conn *c, *admin;
	struct pool *p;
	pool_off_t x, y;
	size_t usable = 1;

	(void)state;
	p = open_ok(&c, "c");
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	EXPECT_RC(pool_alloc(p, 64, &y), 0);
	EXPECT_RC(pool_free(p, x), 0);		/* cached */
	EXPECT_RC(pool_connect(daemon_proc.sock, &admin), 0);
	EXPECT_RC(pool_destroy_force(admin, "c"), 0);
	/* Nor say the size of a block it knows, freed with the pool. */
	EXPECT_RC(pool_usable_size(p, y, &usable), -EBADF);
	assert_int_equal(usable, 1);
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
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("client cache", tests, NULL, NULL);
}
