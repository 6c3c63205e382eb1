/*
 * itest_alloc_wait.c - an allocation that waits for room (pool_alloc_wait;
 * docs/protocol.md, "Waiting for room"), between real client processes.
 *
 * A pool is made full by one process (the test's, or a child's) with
 * blocks of one size, until the daemon refuses the next.  A waiter is a
 * child process with its own connection that calls pool_alloc_wait and
 * writes what came of it on a pipe; it keeps its block until the test
 * lets it go.  The daemon logs (at debug, which the tests run with) each
 * allocation that begins to wait, with its pid: the test makes room only
 * once that line is there, so the room comes while the allocation waits,
 * not before.  No time is asserted but the one ordering fact that a wait
 * that ran out did not end before its time.
 *
 *   woken_by_free           a waiter in a pool another process holds all
 *       of waits (the pool's alloc_waits is 1, the daemon's held counts
 *       it, failed_allocs does not); a free gives it a block inside the
 *       run freed; alloc_waits is 0 again, failed_allocs never moved;
 *   timeout                 a wait that runs out: -ETIMEDOUT, not before
 *       its time, nothing allocated, failed_allocs one more exactly, and
 *       pool_last_message names the pool; one with POOL_ALLOC_PART (a
 *       part of a longer wait) runs out counted in nothing, and, asked
 *       by the client that holds the whole pool, its words say so;
 *   woken_by_each_kind_of_room  a FreeBatch, a shrink by pool_realloc, a
 *       holder SIGKILLed (its blocks reclaimed), a big block released in
 *       steps (release_step below its size: the steps counted), the
 *       pool's limit raised by pool_set, and a shrink by more than
 *       release_step (its tail split off and freed at once, no step
 *       counted): each gives a waiter its block, woken by that room,
 *       not by its deadline's last try (a minute later);
 *   order_and_partial       first come, first tried, each as a whole: with
 *       a big waiter and two small ones, room for the small ones only
 *       serves them while the big one waits on; a FreeBatch that frees a
 *       run the big one fits gives it to the big one, which came first,
 *       whole, and the small one behind it waits for the next free;
 *   bound                   max_alloc_waits = 2: a third waiter is -EAGAIN
 *       at once (an allocation that does not wait is not bounded); a
 *       waiter killed gives its place back, and the next one waits;
 *   bound_per_uid           max_alloc_waits = 4: one uid waits three times
 *       at most (root's fourth is -EAGAIN, naming the share), and another
 *       uid's waiter still waits; all four are served;
 *   bound_per_uid_lowered   max_alloc_waits 12, root's 9 allocations
 *       wait, then a reload to 10 (one uid's share 8): root's next is
 *       -EAGAIN, in words that say root has 9 of them and may have 8;
 *   bound_lowered           max_alloc_waits lowered by a reload below the
 *       allocations waiting (2 wait, the bound 1), then 0: the next is
 *       -EAGAIN, and its message names the bound, not the waits' count
 *       as "the most allowed";
 *   pool_destroyed          a forced destroy ends a wait with -ENOENT;
 *   restart_in_place        SIGUSR2 while one waits (20 s): the library
 *       asks the new image again, which has it waiting, and a free after
 *       the restart gives it its block;
 *   restart_timeout_words   SIGUSR2 while one waits, which then runs out:
 *       pool_last_message names the wait asked for (its milliseconds),
 *       not what was left of it when the library asked the new image;
 *   edge_arguments          -EINVAL (nothing asked, nothing counted) for
 *       an unknown flag, a timeout below -1, an align not a power of two,
 *       POOL_ALLOC_ZERO with align above 1, size 0 and no out; timeout 0
 *       is pool_alloc (-ENOMEM at once, counted; a block if there is
 *       room); POOL_ALLOC_ZERO gets zeroes in a block freed dirty, where
 *       a waiter without it sees the dirt; a connection that holds its
 *       whole quota waits its whole time, then is -EDQUOT;
 *   own_cache_first         blocks the waiter's own cache keeps go back
 *       before it waits: it gets the room they make, without a wait;
 *   waits_checked           the Check request (and `poolctl check`)
 *       passes with waits held in two pools, after a waiter is killed,
 *       after a pool is destroyed under its waiter, and once served;
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
 *   room_for_the_gone       the daemon stopped, a free sent and the only
 *       waiter killed, then the daemon goes on: it takes the free (room,
 *       the pool marked for its waiter) before the waiter's end.  A new
 *       waiter is then woken by the next free (the mark outlived the
 *       waiters it was for, and later frees told nobody: it got its
 *       block only from the last try at its deadline);
 *   producer_example_waits  client/examples' producer -w SECONDS in a
 *       full pool waits, and writes its text once a block is freed; with
 *       a short -w it says no room came in time (exit 1); without -w it
 *       gives up at once; a bad -w is a usage error (exit 2);
 *   served_while_held       a waiter held for its pool to settle, served
 *       by the release step that marks the pool, leaves no mark behind
 *       (Check), and the next waiter there is woken by a free, not by its
 *       deadline's last try;
 *   zeroed_in_steps         a zeroed waiter whose room comes is held while
 *       its block is zeroed in steps (release_step 4K); a free meanwhile
 *       does not answer it early: what it writes to its block then is
 *       still there once the steps are done; its pool destroyed by
 *       force meanwhile, it is told -ENOENT.
 *   waits_under_the_user_quota  an allocation refused by the pool's user
 *       quota waits (the pool has room; failed_allocs never moves): a
 *       reference let go by another connection of the uid (the block
 *       still held by another handle: no free in the pool) gives it its
 *       block, as do a free and a user quota raised by pool_set; one
 *       that runs out says
 *       which quota, "per user"; under the quota per connection, one
 *       whose connection holds that quota itself runs out -EDQUOT.
 *   woken_by_a_close_under_the_user_quota  an allocation waiting under the
 *       user quota is given its block when another handle of the uid is
 *       closed holding a block still held by another (no free in the pool),
 *       as when that handle's reference is let go.
 *   waits_under_the_quota_per_connection  an allocation refused by the
 *       quota per connection, which counts the uid's persistent blocks,
 *       waits (the pool has room; failed_allocs never moves): another
 *       connection of the uid that ends a persistent block (still held by
 *       a handle: no free in the pool) gives it its block, as does the
 *       quota raised by pool_set; one that nothing helps runs out at its
 *       time with -EDQUOT in that quota's words, counted once in
 *       quota_refusals, and a part of a longer wait (POOL_ALLOC_PART)
 *       with -ETIMEDOUT, counted in nothing;
 *   woken_by_a_charge_moved_under_the_quota_per_connection  a connection
 *       that holds its whole quota per connection waits; another uid
 *       retains one of its blocks and persists it: the block's bytes
 *       leave the waiter's connection for that uid's charge, nothing
 *       freed, and the waiter gets its block before its deadline.
 *   parts_keep_their_place  a wait asked in parts (POOL_ALLOC_PART, as
 *       the Python binding asks its quarter seconds) begins, another
 *       waits after it, and its first part runs out: its next part takes
 *       the place the first had, and the next free is its, the other's
 *       the free after (before, each part went to the back, behind the
 *       other: a producer asking in parts lost every frame to one that
 *       asked once).  A next part that asks for another size takes no
 *       kept place: a wait that never fits cannot hold a place for a
 *       request that does.
 *   kept_place_after_room  as parts_keep_their_place, the daemon stopped
 *       once the first part ran out: a free and then the next part are
 *       read in one turn.  The room came between the parts: it goes to
 *       the other, waiting, and the next part waits in its kept place for
 *       the next free (before, it took its place back ahead of the room's
 *       turn, and the room).
 *   kept_place_let_go_by_a_batch  a raw connection's wait part runs out,
 *       its place kept, another waiter (of two blocks) after it; the
 *       connection then gets a block by an AllocBatch, and asks a new
 *       wait of the same size: two blocks side by side freed go to the
 *       other, which came first (before, the batch left the place kept,
 *       and the new wait took it back, ahead of the other, and split its
 *       run).
 *   kept_place_let_go_by_a_realloc  so too when the block comes by a
 *       Realloc of no block, and by a Realloc that moves a small block of
 *       the connection's (before, either left the place kept).
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
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define KiB		((size_t)1 << 10)
#define MiB		((size_t)1 << 20)
#define BLOCK		(64 * KiB)	/* the blocks pools are made full of */
#define SMALL		64		/* what a waiter's cache keeps */
#define BIG		(8 * MiB)	/* freed in steps of RELEASE_STEP */
#define POOLS_CONF	"release_step = 256K\n" \
			"[pool steps]\nsize = 16M\n"
#define CONF		POOLS_CONF
/* Zeroing and a shrink's split in small steps (reloaded by some tests). */
#define STEP_4K_CONF	"release_step = 4K\n" "[pool steps]\nsize = 16M\n"
#define LONG_WAIT_MS	60000	/* only a guard: the tests end the waits */
#define LOG_WAIT_MS	30000
#define SHORT_WAIT_MS	300	/* a wait meant to run out */
#define WAITS_LINE	"waits for room"
#define FILL_MAX	1100
#define REFILLED	256	/* a size a waiting cache refills */
#define REFILLS		256	/* allocations of it, counted */
#define REFILL_POOL	(256 * KiB)	/* refills of one REFILLED block */

static struct daemon_proc d;
static struct pool_conn *conn;

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	if (harness_start(&d, CONF) != 0)
		return -1;
	return pool_connect(d.sock, &conn) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	pool_disconnect(conn);
	return harness_finish(&d) == 0 ? 0 : -1;
}


/* ---- the daemon's configuration ----------------------------------------- */

/* The daemon reloaded with max_alloc_waits = max and the pools of CONF. */
static void
waits_bounded(unsigned max)
{
	char conf[128];

	snprintf(conf, sizeof(conf), "max_alloc_waits = %u\n" POOLS_CONF, max);
	assert_int_equal(harness_reload_with(&d, conf), 0);
}

/*
 * A teardown: the daemon reloaded with the configuration it started
 * with, whatever the test left (one that fails midway leaves its bound,
 * or its release step, to the tests after it otherwise).
 */
static int
conf_restored(void **state)
{
	(void)state;
	return harness_reload_with(&d, CONF) == 0 ? 0 : -1;
}

/* Pool name may be opened by every uid. */
static void
open_to_all(const char *name)
{
	struct pool_set_opts o = {.which = POOL_SET_MODE, .mode = 0666};

	EXPECT_RC(pool_set(conn, name, &o), 0);
}

/* A handle of this process on pool name, without a cache. */
static struct pool *
uncached(const char *name)
{
	struct pool *p;

	EXPECT_RC(pool_open(conn, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	return p;
}

/* ---- a pool this process holds all of ---------------------------------- */

struct full {
	const char *name;
	struct pool *p;
	size_t n, each;
	pool_off_t off[FILL_MAX];	/* POOL_OFF_NONE once freed */
};

/*
 * Pool name (made of max_size bytes, unless 0: one of the configuration
 * or made already), its blocks to be of each bytes, opened by a handle
 * of this process without a cache; none made yet.
 */
static void
full_open(struct full *f, const char *name, size_t max_size, size_t each)
{
	struct pool_create_opts o = {.max_size = max_size};

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->each = each;
	if (max_size)
		EXPECT_RC(pool_create(conn, name, &o), 0);
	f->p = uncached(name);
}

/*
 * Pool name (full_open) filled with blocks of each bytes by that handle,
 * until the daemon refuses one.
 */
static void
full_make(struct full *f, const char *name, size_t max_size, size_t each)
{
	int rc;

	full_open(f, name, max_size, each);
	while ((rc = pool_alloc(f->p, each, &f->off[f->n])) == 0) {
		memset(pool_ptr(f->p, f->off[f->n]), 0xa5, each);
		assert_true(++f->n < FILL_MAX);
	}
	assert_int_equal(rc, -ENOMEM);
	assert_true(f->n > 0);
}

/* Pool name, of a MiB, made full of blocks of BLOCK bytes. */
static void
full_of_blocks(struct full *f, const char *name)
{
	full_make(f, name, MiB, BLOCK);
}

static pool_off_t
full_free(struct full *f, size_t i)
{
	pool_off_t x = f->off[i];

	assert_true(x != POOL_OFF_NONE);
	EXPECT_RC(pool_free(f->p, x), 0);
	f->off[i] = POOL_OFF_NONE;
	return x;
}

/* f's blocks i[0] to i[n - 1] freed in one FreeBatch, at x[0] to x[n - 1]. */
static void
full_free_batch(struct full *f, const size_t *i, size_t n, pool_off_t *x)
{
	size_t j;

	for (j = 0; j < n; j++) {
		x[j] = f->off[i[j]];
		f->off[i[j]] = POOL_OFF_NONE;
	}
	EXPECT_RC(pool_free_batch(f->p, n, x), 0);
}

/* Its blocks freed, its handle closed; the pool destroyed if made. */
static void
full_end(struct full *f, bool destroy)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->off[i] != POOL_OFF_NONE)
			(void)full_free(f, i);
	pool_close(f->p);
	if (destroy)
		EXPECT_RC(pool_destroy_force(conn, f->name), 0);
}

/* The index of the block of f at x. */
static size_t
full_index(const struct full *f, pool_off_t x)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->off[i] == x)
			return i;
	fail_msg("no block of pool %s at %#llx", f->name,
		 (unsigned long long)x);
	return 0;
}

/* Does f hold a block at x? */
static bool
full_holds(const struct full *f, pool_off_t x)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->off[i] == x)
			return true;
	return false;
}

/* Is x inside the run of len bytes at at? */
static bool
inside(uint64_t x, uint64_t at, uint64_t len)
{
	return x >= at && x < at + len;
}

/* ---- waiters: child processes in pool_alloc_wait ------------------------ */

struct want {
	const char *pool;
	size_t size, align;
	unsigned flags;
	int timeout_ms;
	bool scribble;		/* writes its last byte, then reads it back */
	bool gated;		/* its pool open, asks only at a first byte */
	bool cached;		/* its cache kept, a small block freed into it */
	size_t size_then;	/* parted: the size of its second part */
	uid_t uid;		/* the child's, if not 0 (and its gid) */
	int report, stop;	/* the child's ends of its pipes */
	int parent_ends[2];	/* closed in the child */
};

/* A waiter of BLOCK bytes in pool name, for as long as the test lets it. */
#define WANTS_BLOCK(name) \
	{.pool = (name), .size = BLOCK, .timeout_ms = LONG_WAIT_MS}

struct got {
	int rc;
	uint64_t off, elapsed_ms;
	int zeroed;		/* POOL_ALLOC_ZERO: every byte is 0 */
	unsigned char first;	/* the block's first byte */
	int kept;		/* scribble: its last byte held what it wrote */
	char message[256];
};

/*
 * In a child: a connection of its own and a handle on pool whose cache
 * keeps up to cache bytes.  0, or the child's exit status.
 */
static int
child_open(const char *pool, size_t cache, struct pool_conn **c,
	   struct pool **p)
{
	CHECK_RC(pool_connect(d.sock, c), 0, 2);
	CHECK_RC(pool_open(*c, pool, p), 0, 3);
	CHECK_RC(pool_set_cache(*p, cache), 0, 4);
	return 0;
}

/* In a child of w: the test's ends of its pipes closed, and child_open. */
static int
want_open(struct want *w, size_t cache, struct pool_conn **c,
	  struct pool **p)
{
	close(w->parent_ends[0]);
	close(w->parent_ends[1]);
	return child_open(w->pool, cache, c, p);
}

/* In a child: what came of an allocation begun at start: rc, at off. */
static struct got
got_of(int rc, pool_off_t off, uint64_t start)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	g.elapsed_ms = harness_now_ms() - start;
	g.rc = rc;
	g.off = off;
	if (rc != 0)
		snprintf(g.message, sizeof(g.message), "%s",
			 pool_last_message(rc));
	return g;
}

/*
 * In a child of w: g reported, then its block held until the test says
 * go, and its handle and connection closed.  0, or its exit status.
 */
static int
report_and_hold(struct want *w, const struct got *g, struct pool_conn *c,
		struct pool *p)
{
	char go;

	CHECK(harness_write_full(w->report, g, sizeof(*g)) == 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static int
waiter(void *arg)
{
	struct want *w = arg;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	struct pool_stats st;
	pool_off_t off = POOL_OFF_NONE, small;
	unsigned char *b;
	uint64_t start;
	size_t i;
	char go;
	int rc;

	/*
	 * Its frees (none) aside, no cache of its own to give back; or one
	 * of the library's default budget, whatever $POOLMGR_CLIENT_CACHE
	 * says (the tests run with the cache off too).
	 */
	if ((rc = want_open(w, w->cached ? 4 * MiB : 0, &c, &p)))
		return rc;
	CHECK(!w->cached || (pool_alloc(p, SMALL, &small) == 0 &&
			     pool_free(p, small) == 0), 9);
	CHECK(!w->gated || harness_read_full(w->stop, &go, 1) == 0, 8);
	start = harness_now_ms();
	rc = pool_alloc_wait(p, w->size, w->align, w->flags, w->timeout_ms,
			     &off);
	g = got_of(rc, off, start);
	if (g.rc == 0 && w->scribble) {
		/* Its stats wait for the pool's queued work to be done. */
		b = pool_ptr(p, off);
		b[w->size - 1] = 0x5a;
		CHECK_RC(pool_stats(p, &st), 0, 7);
		g.kept = b[w->size - 1] == 0x5a;
	} else if (g.rc == 0) {
		b = pool_ptr(p, off);
		g.first = b[0];
		g.zeroed = 1;
		for (i = 0; i < w->size && g.zeroed; i++)
			g.zeroed = b[i] == 0;
	}
	/* It holds its block until the test says go. */
	return report_and_hold(w, &g, c, p);
}

struct waiter {
	pid_t pid;
	int from;		/* its report */
	int stop;		/* a byte: let go */
};

/* A child of fn (waiter, or another that reports as it does). */
static void
waiter_start_fn(struct waiter *k, struct want *w, int (*fn)(void *))
{
	int rep[2], stop[2];

	assert_int_equal(pipe(rep), 0);
	assert_int_equal(pipe(stop), 0);
	w->report = rep[1];
	w->stop = stop[0];
	w->parent_ends[0] = rep[0];
	w->parent_ends[1] = stop[1];
	k->pid = w->uid ? harness_spawn_as(w->uid, w->uid, fn, w) :
			  harness_spawn(fn, w);
	assert_true(k->pid > 0);
	close(rep[1]);
	close(stop[0]);
	k->from = rep[0];
	k->stop = stop[1];
}

static void
waiter_start(struct waiter *k, struct want *w)
{
	waiter_start_fn(k, w, waiter);
}

/* The words of the daemon's line that pid waits for room, then more. */
static void
waits_words(char *what, size_t len, pid_t pid, const char *more)
{
	snprintf(what, len, "pid %d " WAITS_LINE "%s", (int)pid, more);
}

static int
waits_logged(pid_t pid)
{
	char what[64];

	waits_words(what, sizeof(what), pid, "");
	return harness_log_count(&d, what);
}

/* The daemon logged that one more allocation of pid waits (than before). */
static void
wait_logged(pid_t pid, int before)
{
	char what[64];

	waits_words(what, sizeof(what), pid, "");
	assert_int_equal(harness_log_wait(&d, what, before, LOG_WAIT_MS), 0);
}

static struct got
waiter_got(struct waiter *k)
{
	struct got g;

	assert_int_equal(harness_read_full(k->from, &g, sizeof(g)), 0);
	return g;
}

/* A child of fn for w, once the daemon has it waiting. */
static void
waiting_fn(struct waiter *k, struct want *w, int (*fn)(void *))
{
	char what[64];
	struct got g;

	waiter_start_fn(k, w, fn);
	waits_words(what, sizeof(what), k->pid, "");
	if (harness_log_wait(&d, what, 0, LOG_WAIT_MS) == 0)
		return;
	g = waiter_got(k);
	fail_msg("an allocation of %zu bytes in pool %s did not wait: %d "
		 "(%s) %s", w->size, w->pool, g.rc, pool_strerror(g.rc),
		 g.message);
}

/* A waiter of w, once the daemon has it waiting. */
static void
waiting(struct waiter *k, struct want *w)
{
	waiting_fn(k, w, waiter);
}

/* Its report has not come: it still waits (after our own round trip). */
static void
unanswered(const struct waiter *k, const char *what)
{
	struct pollfd pfd = {.fd = k->from, .events = POLLIN};

	if (poll(&pfd, 1, 0) != 0)
		fail_msg("%s was answered while it should wait", what);
}

/*
 * Until a report has come on one of the n ends in pf (their revents say
 * which); what names those in pool that should answer, should none do.
 */
static void
some_answered(struct pollfd *pf, nfds_t n, const char *pool,
	      const char *what)
{
	nfds_t i;

	for (i = 0; i < n; i++)
		pf[i].events = POLLIN;
	if (poll(pf, n, LOG_WAIT_MS) < 1)
		fail_msg("pool %s: none of %s was answered", pool, what);
}

/* Let it go (its block with it) and see it exit cleanly. */
static void
waiter_end(struct waiter *k)
{
	assert_int_equal(harness_write_full(k->stop, "g", 1), 0);
	harness_close_fd(&k->stop);
	harness_close_fd(&k->from);
	assert_int_equal(harness_wait(k->pid), 0);
}

static void
waiters_end(struct waiter *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		waiter_end(&k[i]);
}

/* What waiter k was answered: rc (0: a block), in words that hold what. */
static struct got
answered(struct waiter *k, int rc, const char *what)
{
	struct got g = waiter_got(k);

	if (g.rc != rc)
		fail_msg("waiter %d: %d (%s) %s; expected %d (%s)",
			 (int)k->pid, g.rc, pool_strerror(g.rc), g.message,
			 rc, pool_strerror(rc));
	if (what && !strstr(g.message, what))
		fail_msg("waiter %d was told \"%s\", not \"%s\"", (int)k->pid,
			 g.message, what);
	return g;
}

/* What a waiter that got a block got, then let go. */
static struct got
served(struct waiter *k)
{
	return answered(k, 0, NULL);
}

/* Served with the block at x. */
static struct got
served_at(struct waiter *k, pool_off_t x)
{
	struct got g = served(k);

	assert_int_equal(g.off, x);
	return g;
}

/* Served with a block inside the one of BLOCK bytes freed at x. */
static struct got
served_within(struct waiter *k, pool_off_t x)
{
	struct got g = served(k);

	assert_true(inside(g.off, x, BLOCK));
	return g;
}

/* Served, a waiter of w, by the room made, not by its deadline's last try. */
static struct got
woken(struct waiter *k, const struct want *w)
{
	struct got g = served(k);

	if (g.elapsed_ms >= (uint64_t)w->timeout_ms)
		fail_msg("waiter %d was served after %llu ms, its whole wait: "
			 "the room made woke nobody", (int)k->pid,
			 (unsigned long long)g.elapsed_ms);
	return g;
}

/*
 * A waiter k of w that gets no block: rc, in words that hold what (if
 * not NULL), at once or once its wait ran out; let go.
 */
static struct got
refused(struct waiter *k, struct want *w, int rc, const char *what)
{
	struct got g;

	waiter_start(k, w);
	g = answered(k, rc, what);
	waiter_end(k);
	return g;
}

static void
waiter_kill(struct waiter *k)
{
	assert_int_equal(kill(k->pid, SIGKILL), 0);
	assert_int_equal(harness_wait(k->pid), 128 + SIGKILL);
	harness_close_fd(&k->stop);
	harness_close_fd(&k->from);
}

/* k, waiting in pool, killed: the daemon has seen it go, left waiting. */
static void
waiter_gone(struct waiter *k, const char *pool, unsigned left)
{
	char went[128];
	int gone;

	snprintf(went, sizeof(went), "went while its allocation waited: pool "
		 "%s has %u allocation%s waiting for room", pool, left,
		 left == 1 ? "" : "s");
	gone = harness_log_count(&d, went);
	waiter_kill(k);
	assert_int_equal(harness_log_wait(&d, went, gone, LOG_WAIT_MS), 0);
}

/* n allocations wait in pool now, and the daemon counts them held. */
static void
held_now(const char *pool, uint32_t n)
{
	struct pool_daemon_stats ds;

	assert_int_equal(harness_stats_of(conn, pool).alloc_waits, n);
	EXPECT_RC(pool_daemon_stats(conn, &ds), 0);
	assert_true(ds.held >= n);
}

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

/* ---- the daemon stopped: requests it reads in one turn ------------------ */

/* Is nr a call libpoolclient waits for an answer in? */
static bool
answer_call(long nr)
{
#ifdef SYS_poll
	if (nr == SYS_poll)
		return true;
#endif
	return nr == SYS_recvmsg || nr == SYS_ppoll;
}

/*
 * Until thread tid of process pid waits in the kernel in a call that
 * answer says is the one (on the call's number, from /proc): no sleep
 * that guesses, for under load a child may take any time to get there.
 */
static void
in_call(pid_t pid, pid_t tid, bool (*answer)(long), const char *what)
{
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	char path[64], text[64], *end;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid,
		 (int)tid);
	for (;;) {
		harness_read_text(path, text, sizeof(text));
		nr = strtol(text, &end, 10);
		if (end != text && answer(nr))
			return;
		if (harness_now_ms() > until)
			fail_msg("pid %d thread %d never %s (%s: %s)", (int)pid,
				 (int)tid, what, path, text);
		harness_sleep_ms(1);
	}
}

/*
 * Thread tid of pid waits for an answer: its request is sent, and with
 * the daemon stopped it stays unread, in line behind those sent before.
 */
static void
asking(pid_t pid, pid_t tid)
{
	in_call(pid, tid, answer_call, "waited for an answer");
}

static bool
gate_call(long nr)
{
	return nr == SYS_read;
}

/*
 * SIGSTOP the daemon, and wait until it is stopped: kill returns before
 * the signal is taken, and a daemon still running would read the next
 * request alone, not in one turn with those after it.
 */
static void
daemon_stop(void)
{
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	char path[64], text[512], *state;

	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)d.pid);
	for (;;) {
		harness_read_text(path, text, sizeof(text));
		/* The state follows the name, which may hold anything. */
		state = strrchr(text, ')');
		if (state && state[1] == ' ' && state[2] == 'T')
			return;
		if (harness_now_ms() > until)
			fail_msg("the daemon never stopped (%s)", text);
		harness_sleep_ms(1);
	}
}

/* The daemon stopped goes on: it reads what was sent meanwhile. */
static void
daemon_goes_on(void)
{
	assert_int_equal(kill(d.pid, SIGCONT), 0);
}

/*
 * A request of this process's, from a thread of its own, for the test to
 * go on while it waits for its answer: fn(arg) makes it.
 */
struct asked {
	int (*fn)(void *);
	void *arg;
	int rc;
	pid_t tid;		/* its thread's, once it runs */
	pthread_t t;
};

static void *
asked_in_thread(void *arg)
{
	struct asked *a = arg;

	__atomic_store_n(&a->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELEASE);
	a->rc = a->fn(a->arg);
	return NULL;
}

/* fn(arg) in a thread of its own: its request sent once this returns. */
static void
asked_sent(struct asked *a, int (*fn)(void *), void *arg)
{
	pid_t tid;

	a->fn = fn;
	a->arg = arg;
	a->tid = 0;
	assert_int_equal(pthread_create(&a->t, NULL, asked_in_thread, a), 0);
	while (!(tid = __atomic_load_n(&a->tid, __ATOMIC_ACQUIRE)))
		harness_sleep_ms(1);
	asking(getpid(), tid);
}

/* What its call returned, once its answer came. */
static int
asked_answer(struct asked *a)
{
	assert_int_equal(pthread_join(a->t, NULL), 0);
	return a->rc;
}

/* The free of block i of f's, asked from a thread. */
struct freeing {
	struct full *f;
	size_t i;
	pool_off_t off;
	struct asked a;
};

static int
free_it(void *arg)
{
	struct freeing *fr = arg;

	return pool_free(fr->f->p, fr->off);
}

/*
 * The daemon stopped, and f's block i freed: the free sent once this
 * returns, unread.
 */
static void
free_sent_stopped(struct freeing *fr, struct full *f, size_t i)
{
	daemon_stop();
	fr->f = f;
	fr->i = i;
	fr->off = f->off[i];
	asked_sent(&fr->a, free_it, fr);
}

/* The daemon goes on, and the free (read in its turn) is done. */
static void
free_done(struct freeing *fr)
{
	daemon_goes_on();
	EXPECT_RC(asked_answer(&fr->a), 0);
	fr->f->off[fr->i] = POOL_OFF_NONE;
}

/*
 * The gated waiter k waits at its gate: every request before its
 * allocation answered (its open, its cache set), so that the next it
 * waits for an answer to is the allocation.  Before the daemon stops.
 */
static void
at_gate(struct waiter *k)
{
	in_call(k->pid, k->pid, gate_call, "came to its gate");
}

/* The gated waiter k (at_gate) asks: its request sent once this returns. */
static void
ungate(struct waiter *k)
{
	assert_int_equal(harness_write_full(k->stop, "g", 1), 0);
	asking(k->pid, k->pid);
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

/*
 * k waits in f's pool, and k2, gated, is ready to ask for as much: the
 * daemon stopped, a free and then k2's first request are sent, and the
 * daemon let go reads both in one turn.  The room must go to k: it gets
 * a block inside it, and k2, if answered before it, got no block there.
 * Whether k2's answer was read (into *g2).
 */
static bool
room_to_the_first(struct full *f, size_t i, struct waiter *k,
		  struct waiter *k2, struct got *g2)
{
	struct pollfd pf[2];
	bool read = false;
	struct freeing fr;
	struct got g;

	pf[0].fd = k->from;
	pf[1].fd = k2->from;
	at_gate(k2);
	free_sent_stopped(&fr, f, i);
	ungate(k2);
	free_done(&fr);
	some_answered(pf, 2, f->name,
		      "the first waiter and the later allocation");
	if (!(pf[0].revents & POLLIN)) {
		*g2 = waiter_got(k2);
		read = true;
		if (g2->rc == 0 && inside(g2->off, fr.off, f->each))
			fail_msg("pool %s: the later allocation was answered "
				 "first, at 0x%llx; the free was at 0x%llx",
				 f->name, (unsigned long long)g2->off,
				 (unsigned long long)fr.off);
	}
	g = served(k);
	if (!inside(g.off, fr.off, f->each))
		fail_msg("the first waiter got 0x%llx, not the room freed at "
			 "0x%llx", (unsigned long long)g.off,
			 (unsigned long long)fr.off);
	return read;
}

/* ---- woken_by_free ------------------------------------------------------ */

static void
woken_by_free(void **state)
{
	static struct full f;
	struct want w = {.pool = "free", .size = BLOCK, .timeout_ms = 10000};
	struct pool_daemon_stats ds0, ds;
	struct pool_stats before, st;
	struct waiter k;

	(void)state;
	full_of_blocks(&f, "free");
	before = harness_stats(f.p);
	EXPECT_RC(pool_daemon_stats(conn, &ds0), 0);
	waiting(&k, &w);
	held_now("free", 1);
	/* The refusals it met while it waits are not failures. */
	st = harness_stats(f.p);
	assert_int_equal(st.failed_allocs, before.failed_allocs);
	assert_int_equal(st.live_blocks, before.live_blocks);
	unanswered(&k, "an allocation in a full pool");
	(void)served_within(&k, full_free(&f, 3));
	st = harness_stats(f.p);
	assert_int_equal(st.alloc_waits, 0);
	assert_int_equal(st.failed_allocs, before.failed_allocs);
	assert_int_equal(st.live_blocks, before.live_blocks);
	/*
	 * Its empty cache had nothing to give back: it asked to wait at
	 * once, no refusal first (one per wait before).
	 */
	EXPECT_RC(pool_daemon_stats(conn, &ds), 0);
	assert_int_equal(ds.requests_refused, ds0.requests_refused);
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- timeout ------------------------------------------------------------ */

static void
timeout(void **state)
{
	static struct full f;
	struct want w = {.pool = "timeout", .size = BLOCK,
			 .timeout_ms = SHORT_WAIT_MS};
	struct pool_stats before, st;
	struct waiter k;
	pool_off_t off;
	struct got g;

	(void)state;
	full_of_blocks(&f, "timeout");
	before = harness_stats(f.p);
	waiter_start(&k, &w);
	g = answered(&k, -ETIMEDOUT, "no room came for 65536 bytes in pool "
		     "timeout in ");
	/* It did wait, and did not end before its time. */
	assert_true(waits_logged(k.pid) >= 1);
	assert_true(g.elapsed_ms >= SHORT_WAIT_MS);
	assert_int_equal(g.off, POOL_OFF_NONE);
	st = harness_stats(f.p);
	assert_int_equal(st.alloc_waits, 0);
	assert_int_equal(st.live_blocks, before.live_blocks);
	assert_int_equal(st.allocated_bytes, before.allocated_bytes);
	assert_int_equal(st.failed_allocs, before.failed_allocs + 1);
	waiter_end(&k);
	/* A part of a longer wait is asked again: its end is not counted. */
	EXPECT_RC(pool_alloc_wait(f.p, BLOCK, 0, POOL_ALLOC_PART, 50, &off),
		  -ETIMEDOUT);
	assert_int_equal(off, POOL_OFF_NONE);
	/*
	 * This client holds the whole pool: its words say so, for it waits
	 * for room only it could free (the waiter above, holding none, was
	 * told only that no room came).
	 */
	if (!strstr(pool_last_message(-ETIMEDOUT), "no room came for 65536 "
		    "bytes in pool timeout (this client holds 1.0 MiB of its "
		    "1.0 MiB) in 50 ms"))
		fail_msg("the holder's wait: \"%s\"",
			 pool_last_message(-ETIMEDOUT));
	st = harness_stats(f.p);
	assert_int_equal(st.failed_allocs, before.failed_allocs + 1);
	assert_int_equal(st.alloc_waits, 0);
	full_end(&f, true);
}

/* ---- woken_by_each_kind_of_room ----------------------------------------- */

/* A holder of the whole of a pool, in a child, until it is killed. */
static int
holder(void *arg)
{
	struct harness_child *k = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	int rc, n = 0;

	harness_child_ready(k);
	if ((rc = child_open("killed", 0, &c, &p)))
		return rc;
	while ((rc = pool_alloc(p, BLOCK, &off)) == 0)
		n++;
	CHECK_RC(rc, -ENOMEM, 5);
	CHECK(n == (int)(MiB / BLOCK), 6);
	CHECK(harness_write_full(k->out[1], "h", 1) == 0, 7);
	for (;;)
		pause();
	return 0;
}

static void
woken_by_free_batch(void)
{
	static struct full f;
	static const size_t two[2] = {4, 9};
	struct want w = WANTS_BLOCK("batch");
	pool_off_t x[2];
	struct waiter k;
	struct got g;

	full_of_blocks(&f, "batch");
	waiting(&k, &w);
	full_free_batch(&f, two, 2, x);
	g = woken(&k, &w);
	assert_true(g.off == x[0] || g.off == x[1]);
	waiter_end(&k);
	full_end(&f, true);
}

static void
woken_by_shrink(void)
{
	static struct full f;
	struct want w = {.pool = "shrink", .size = 16 * KiB,
			 .timeout_ms = LONG_WAIT_MS};
	struct waiter k;
	struct got g;
	pool_off_t x, n;

	full_of_blocks(&f, "shrink");
	waiting(&k, &w);
	x = f.off[2];
	EXPECT_RC(pool_realloc(f.p, x, 16 * KiB, &n), 0);
	/* A full pool: in place. */
	assert_int_equal(n, x);
	g = woken(&k, &w);
	assert_true(inside(g.off, x + 16 * KiB, BLOCK - 16 * KiB));
	waiter_end(&k);
	full_end(&f, true);
}

/*
 * A shrink by more than release_step (4K here) splits its block: the
 * tail, below the pool's large threshold, goes back at once, not in
 * steps (none counted), and the room it makes wakes the waiter.
 */
static void
woken_by_split_shrink(void)
{
	static struct full f;
	struct want w = {.pool = "split", .size = 16 * KiB,
			 .timeout_ms = LONG_WAIT_MS};
	struct pool_stats before;
	struct waiter k;
	struct got g;
	pool_off_t x, n;

	assert_int_equal(harness_reload_with(&d, STEP_4K_CONF), 0);
	full_of_blocks(&f, "split");
	waiting(&k, &w);
	before = harness_stats(f.p);
	x = f.off[2];
	EXPECT_RC(pool_realloc(f.p, x, 16 * KiB, &n), 0);
	assert_int_equal(n, x);
	g = woken(&k, &w);
	assert_true(inside(g.off, x + 16 * KiB, BLOCK - 16 * KiB));
	assert_int_equal(harness_stats(f.p).release_steps,
			 before.release_steps);
	waiter_end(&k);
	full_end(&f, true);
}

static void
woken_by_kill(void)
{
	struct pool_create_opts o = {.max_size = MiB};
	struct want w = WANTS_BLOCK("killed");
	struct harness_child h;
	struct waiter k;

	EXPECT_RC(pool_create(conn, "killed", &o), 0);
	/* Its first byte comes once it holds the whole pool. */
	harness_child_start(&h, holder, &h);
	assert_int_equal(harness_stats_of(conn, "killed").live_blocks,
			 MiB / BLOCK);
	waiting(&k, &w);
	held_now("killed", 1);
	assert_int_equal(kill(h.pid, SIGKILL), 0);
	assert_int_equal(harness_wait(h.pid), 128 + SIGKILL);
	close(h.stop[1]);
	close(h.out[0]);
	(void)woken(&k, &w);
	/* The holder's blocks went back: the waiter's is the only one. */
	assert_int_equal(harness_stats_of(conn, "killed").live_blocks, 1);
	waiter_end(&k);
	EXPECT_RC(pool_destroy_force(conn, "killed"), 0);
}

static void
woken_by_release_in_steps(void)
{
	static struct full f;
	struct want w = {.pool = "steps", .size = BIG,
			 .timeout_ms = LONG_WAIT_MS};
	struct pool_stats before;
	struct waiter k;
	pool_off_t x;

	full_make(&f, "steps", 0, BIG);
	assert_int_equal(f.n, 2);
	waiting(&k, &w);
	before = harness_stats(f.p);
	x = full_free(&f, 0);
	assert_int_equal(woken(&k, &w).off, x);
	/* Its pages went back in steps, the last of which made the room. */
	assert_true(harness_stats(f.p).release_steps > before.release_steps);
	waiter_end(&k);
	full_end(&f, false);
}

static void
woken_by_limit(void)
{
	static struct full f;
	struct pool_create_opts c = {.max_size = MiB};
	struct pool_set_opts o = {.which = POOL_SET_LIMIT,
				  .limit = 256 * KiB};
	struct want w = WANTS_BLOCK("limited");
	struct waiter k;

	EXPECT_RC(pool_create_set(conn, "limited", &c, &o), 0);
	full_make(&f, "limited", 0, BLOCK);
	assert_int_equal(f.n, 256 * KiB / BLOCK);
	waiting(&k, &w);
	held_now("limited", 1);
	o.limit = 512 * KiB;
	EXPECT_RC(pool_set(conn, "limited", &o), 0);
	(void)woken(&k, &w);
	waiter_end(&k);
	full_end(&f, true);
}

static void
woken_by_each_kind_of_room(void **state)
{
	(void)state;
	woken_by_free_batch();
	woken_by_shrink();
	woken_by_kill();
	woken_by_release_in_steps();
	woken_by_limit();
	woken_by_split_shrink();	/* last: it reloads */
}

/* ---- order_and_partial -------------------------------------------------- */

#define RUN	(4 * BLOCK)	/* what the big waiter asks */

/* The index in f of the first block of the k-th run of RUN bytes. */
static size_t
run_start(const struct full *f, unsigned k)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->off[i] == k * RUN)
			return i;
	fail_msg("no block at %#llx", (unsigned long long)(k * RUN));
	return 0;
}

static void
order_and_partial(void **state)
{
	static struct full f;
	struct want big = {.pool = "order", .size = RUN,
			   .timeout_ms = LONG_WAIT_MS};
	struct want small = WANTS_BLOCK("order");
	struct waiter b, s1, s2, s3;
	pool_off_t run[4], x, y;
	struct got g1, g2;
	size_t at[4];
	unsigned i;

	(void)state;
	full_of_blocks(&f, "order");
	assert_int_equal(f.n, MiB / BLOCK);
	for (i = 0; i < 4; i++)
		assert_true(full_holds(&f, i * RUN) &&
			    full_holds(&f, i * RUN + 3 * BLOCK));
	waiting(&b, &big);
	waiting(&s1, &small);
	waiting(&s2, &small);
	held_now("order", 3);
	/* Room for the small ones only: they are served, the big one waits. */
	x = full_free(&f, run_start(&f, 2));
	y = full_free(&f, run_start(&f, 3));
	g1 = served(&s1);
	g2 = served(&s2);
	assert_true((g1.off == x && g2.off == y) ||
		    (g1.off == y && g2.off == x));
	held_now("order", 1);
	unanswered(&b, "an allocation bigger than the room made");
	/*
	 * A small one behind the big one; then a run the big one fits, freed
	 * in one request: the big one, first, takes it whole, and the small
	 * one (which could have had a part) waits on.
	 */
	waiting(&s3, &small);
	held_now("order", 2);
	for (i = 0; i < 4; i++)
		at[i] = full_index(&f, i * BLOCK);
	full_free_batch(&f, at, 4, run);
	(void)served_at(&b, 0);
	held_now("order", 1);
	unanswered(&s3, "an allocation behind one that took the room");
	x = full_free(&f, run_start(&f, 1));
	(void)served_at(&s3, x);
	held_now("order", 0);
	waiter_end(&b);
	waiter_end(&s1);
	waiter_end(&s2);
	waiter_end(&s3);
	full_end(&f, true);
}

/* ---- bound -------------------------------------------------------------- */

static void
bound(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("bound");
	struct waiter a, b, c, e;
	pool_off_t off;

	(void)state;
	waits_bounded(2);
	full_of_blocks(&f, "bound");
	waiting(&a, &w);
	waiting(&b, &w);
	held_now("bound", 2);
	/* A third is refused at once: it would wait 60 s otherwise. */
	(void)refused(&c, &w, -EAGAIN, "pool bound has 2 allocations "
		      "waiting for room; max_alloc_waits is 2");
	/* The code's own text names the bound too, not "try again". */
	assert_non_null(strstr(pool_strerror(-EAGAIN), "max_alloc_waits"));
	assert_int_equal(waits_logged(c.pid), 0);
	/* One that does not wait is not bounded. */
	EXPECT_RC(pool_alloc_wait(f.p, BLOCK, 0, 0, 0, &off), -ENOMEM);
	/* A waiter killed gives its place back. */
	waiter_gone(&a, "bound", 1);
	held_now("bound", 1);
	waiting(&e, &w);
	held_now("bound", 2);
	(void)full_free(&f, 0);
	(void)full_free(&f, 1);
	(void)served(&b);
	(void)served(&e);
	held_now("bound", 0);
	waiter_end(&b);
	waiter_end(&e);
	full_end(&f, true);
}

/* ---- bound_per_uid ------------------------------------------------------ */

/*
 * max_alloc_waits = 4: one uid holds three at most, so that another uid
 * may still wait: root's fourth is -EAGAIN, in words that name the share;
 * nobody's first waits, and all four are served.
 */
static void
bound_per_uid(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("share");
	struct want other = w;
	struct waiter k[3], extra, theirs;
	int i;

	(void)state;
	harness_skip_unless_root("run a waiter as another uid");
	waits_bounded(4);
	full_of_blocks(&f, "share");
	open_to_all("share");
	for (i = 0; i < 3; i++)
		waiting(&k[i], &w);
	held_now("share", 3);
	(void)refused(&extra, &w, -EAGAIN, "uid 0 has 3 of pool share's "
		      "allocations waiting for room; one uid may have 3 "
		      "(three quarters of max_alloc_waits, 4)");
	other.uid = 65534;
	waiting(&theirs, &other);
	held_now("share", 4);
	for (i = 0; i < 4; i++)
		(void)full_free(&f, (size_t)i);
	for (i = 0; i < 3; i++)
		(void)served(&k[i]);
	(void)served(&theirs);
	held_now("share", 0);
	waiters_end(k, 3);
	waiter_end(&theirs);
	full_end(&f, true);
}

/* ---- bound_lowered ------------------------------------------------------ */

/* The next waiter of w is -EAGAIN at once, in words that hold what. */
static void
refused_by_bound(struct want *w, const char *what)
{
	struct waiter c;

	(void)refused(&c, w, -EAGAIN, what);
}

static void
bound_lowered(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("lowered");
	struct waiter a, b;

	(void)state;
	waits_bounded(2);
	full_of_blocks(&f, "lowered");
	waiting(&a, &w);
	waiting(&b, &w);
	/* Those waiting wait on; the next is refused by the new bound. */
	waits_bounded(1);
	held_now("lowered", 2);
	refused_by_bound(&w, "max_alloc_waits is 1");
	waits_bounded(0);
	refused_by_bound(&w, "max_alloc_waits is 0");
	(void)full_free(&f, 0);
	(void)full_free(&f, 1);
	(void)served(&a);
	(void)served(&b);
	waiter_end(&a);
	waiter_end(&b);
	full_end(&f, true);
}

/* ---- bound_per_uid_lowered ---------------------------------------------- */

#define ROOT_WAITS	9	/* three quarters of 12 */

/*
 * A reload lowers max_alloc_waits from 12 to 10 under root's 9 waiting
 * allocations: one uid's share is 8 now, and root's next is -EAGAIN in
 * words that count root's 9, not the share's 8.  The 9 are served.
 */
static void
bound_per_uid_lowered(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("shrunk");
	struct waiter k[ROOT_WAITS];
	int i;

	(void)state;
	harness_skip_unless_root("count root's waits as uid 0's");
	waits_bounded(12);
	full_of_blocks(&f, "shrunk");
	assert_true(f.n >= ROOT_WAITS);
	for (i = 0; i < ROOT_WAITS; i++)
		waiting(&k[i], &w);
	waits_bounded(10);
	held_now("shrunk", ROOT_WAITS);
	refused_by_bound(&w, "uid 0 has 9 of pool shrunk's allocations "
			 "waiting for room; one uid may have 8 (three "
			 "quarters of max_alloc_waits, 10)");
	for (i = 0; i < ROOT_WAITS; i++)
		(void)full_free(&f, (size_t)i);
	for (i = 0; i < ROOT_WAITS; i++) {
		(void)served(&k[i]);
		waiter_end(&k[i]);
	}
	full_end(&f, true);
}

/* ---- pool_destroyed ----------------------------------------------------- */

static void
pool_destroyed(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("doomed");
	struct waiter k;
	struct got g;

	(void)state;
	full_of_blocks(&f, "doomed");
	waiting(&k, &w);
	EXPECT_RC(pool_destroy_force(conn, "doomed"), 0);
	g = answered(&k, -ENOENT, NULL);
	assert_int_equal(g.off, POOL_OFF_NONE);
	waiter_end(&k);
	pool_close(f.p);
}

/* ---- restart_in_place --------------------------------------------------- */

/*
 * The daemon restarted in place while k waits: k's library asked the new
 * image again.
 */
static void
restarted_under(struct waiter *k)
{
	int before = waits_logged(k->pid);

	assert_int_equal(harness_restart_in_place(&d), 0);
	wait_logged(k->pid, before);
}

static void
restart_in_place(void **state)
{
	static struct full f;
	struct want w = {.pool = "restart", .size = BLOCK,
			 .timeout_ms = 20000};
	struct waiter k;
	pool_off_t x;

	(void)state;
	full_of_blocks(&f, "restart");
	waiting(&k, &w);
	/* The library asked the new image again: the wait goes on there. */
	restarted_under(&k);
	held_now("restart", 1);
	unanswered(&k, "an allocation asked again after a restart");
	x = full_free(&f, 5);
	(void)served_at(&k, x);
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- restart_timeout_words --------------------------------------------- */

static void
restart_timeout_words(void **state)
{
	static struct full f;
	struct want w = {.pool = "restart_words", .size = BLOCK,
			 .timeout_ms = 3000};
	struct waiter k;

	(void)state;
	full_of_blocks(&f, "restart_words");
	waiting(&k, &w);
	restarted_under(&k);
	/* The caller asked for 3000 ms: the words say so, as without a
	 * restart (and as the Python binding's do). */
	(void)answered(&k, -ETIMEDOUT, "in 3000 ms");
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- edge_arguments ----------------------------------------------------- */

/* The refusals the library makes itself: nothing asked, nothing counted. */
static void
refused_unasked(struct full *f)
{
	struct pool_stats before = harness_stats(f->p), st;
	int waited = waits_logged(getpid());
	pool_off_t off = 0;

	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 0, 0x8, 100, &off), -EINVAL);
	assert_int_equal(off, POOL_OFF_NONE);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 0, 0, -2, &off), -EINVAL);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 0, 0, INT32_MIN, &off),
		  -EINVAL);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 3, 0, 100, &off), -EINVAL);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 48, 0, 100, &off), -EINVAL);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 64, POOL_ALLOC_ZERO, 100,
				  &off), -EINVAL);
	EXPECT_RC(pool_alloc_wait(f->p, 0, 0, 0, 100, &off), -EINVAL);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 0, 0, 100, NULL), -EINVAL);
	EXPECT_RC(pool_alloc_wait(NULL, BLOCK, 0, 0, 100, &off), -EINVAL);
	assert_int_equal(off, POOL_OFF_NONE);
	st = harness_stats(f->p);
	assert_int_equal(st.allocs, before.allocs);
	assert_int_equal(st.failed_allocs, before.failed_allocs);
	assert_int_equal(waits_logged(getpid()), waited);
}

/* timeout 0: pool_alloc, refused at once (and counted) or served. */
static void
timeout_zero(struct full *f)
{
	struct pool_stats before = harness_stats(f->p);
	int waited = waits_logged(getpid());
	pool_off_t off, x;

	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 0, 0, 0, &off), -ENOMEM);
	assert_int_equal(off, POOL_OFF_NONE);
	assert_int_equal(harness_stats(f->p).failed_allocs,
			 before.failed_allocs + 1);
	assert_int_equal(waits_logged(getpid()), waited);
	x = full_free(f, 0);
	EXPECT_RC(pool_alloc_wait(f->p, BLOCK, 0, POOL_ALLOC_ZERO, 0, &off),
		  0);
	assert_int_equal(off, x);
	f->off[0] = off;
}

/*
 * A pool full of dirty small blocks: a waiter with POOL_ALLOC_ZERO gets
 * zeroes in one freed; one without it sees the dirt (so the block was
 * not zeroed by being freed).
 */
static void
zeroed_when_asked(void)
{
	static struct full f;
	struct want zero = {.pool = "zero", .size = 256,
			    .flags = POOL_ALLOC_ZERO,
			    .timeout_ms = LONG_WAIT_MS};
	struct want dirty = {.pool = "zero", .size = 256,
			     .timeout_ms = LONG_WAIT_MS};
	struct waiter k, z;
	struct got g;
	pool_off_t x;

	full_make(&f, "zero", 256 * KiB, 256);
	waiting(&k, &dirty);
	x = full_free(&f, 100);
	g = served_at(&k, x);
	assert_int_equal(g.first, 0xa5);
	assert_false(g.zeroed);
	/* It keeps its block: the next waiter waits for another. */
	waiting(&z, &zero);
	x = full_free(&f, 200);
	g = served_at(&z, x);
	assert_true(g.zeroed);
	waiter_end(&k);
	waiter_end(&z);
	full_end(&f, true);
}

/*
 * A connection that holds its whole quota itself, its uid nothing
 * persistent: only its own frees, which would wait behind it, could make
 * it room.  It waits its whole time all the same, then is -EDQUOT.
 */
static int
over_quota(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, b, off;
	uint64_t start;
	int rc;

	(void)arg;
	if ((rc = child_open("quota", 0, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc(p, BLOCK, &a), 0, 5);
	CHECK_RC(pool_alloc(p, BLOCK, &b), 0, 6);
	start = harness_now_ms();
	CHECK_RC(pool_alloc_wait(p, BLOCK, 0, 0, SHORT_WAIT_MS, &off), -EDQUOT,
		 7);
	CHECK(harness_now_ms() - start >= SHORT_WAIT_MS, 8);
	CHECK(off == POOL_OFF_NONE, 9);
	CHECK(strstr(pool_last_message(-EDQUOT), "per connection") != NULL,
	      10);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
quota_waited_out(void)
{
	struct pool_create_opts o = {.max_size = MiB, .quota = 2 * BLOCK};
	pid_t pid;

	EXPECT_RC(pool_create(conn, "quota", &o), 0);
	pid = harness_spawn(over_quota, NULL);
	assert_int_equal(harness_wait(pid), 0);
	assert_int_equal(waits_logged(pid), 1);
	EXPECT_RC(pool_destroy_force(conn, "quota"), 0);
}

static void
edge_arguments(void **state)
{
	static struct full f;

	(void)state;
	full_of_blocks(&f, "edge");
	refused_unasked(&f);
	timeout_zero(&f);
	full_end(&f, true);
	zeroed_when_asked();
	quota_waited_out();
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

/* ---- waits_checked ------------------------------------------------------ */

static void
poolctl_checked(const char *pool)
{
	char out[1024], err[1024];

	if (harness_poolctl(&d, NULL, out, sizeof(out), err, sizeof(err),
			    "check %s", pool) != 0)
		fail_msg("poolctl check %s: %s%s", pool, out, err);
}

static void
waits_checked(void **state)
{
	static struct full f, f2;
	struct want w = WANTS_BLOCK("checked");
	struct want w2 = WANTS_BLOCK("checked2");
	struct waiter a, b, c;

	(void)state;
	full_of_blocks(&f, "checked");
	full_of_blocks(&f2, "checked2");
	waiting(&a, &w);
	waiting(&b, &w);
	waiting(&c, &w2);
	harness_expect_checked(conn, "checked");
	harness_expect_checked(conn, "checked2");
	poolctl_checked("checked");
	poolctl_checked("checked2");
	waiter_gone(&a, "checked", 1);
	harness_expect_checked(conn, "checked");
	EXPECT_RC(pool_destroy_force(conn, "checked2"), 0);
	(void)answered(&c, -ENOENT, NULL);
	waiter_end(&c);
	pool_close(f2.p);
	harness_expect_checked(conn, "checked");
	(void)full_free(&f, 0);
	(void)served(&b);
	harness_expect_checked(conn, "checked");
	poolctl_checked("checked");
	waiter_end(&b);
	full_end(&f, true);
}

/* ---- room_for_the_gone --------------------------------------------------- */

static void
room_for_the_gone(void **state)
{
	static struct full f;
	struct want w = WANTS_BLOCK("gone");
	struct want w2 = {.pool = "gone", .size = BLOCK, .timeout_ms = 20000};
	struct freeing fr;
	struct waiter k, k2;
	pool_off_t y, x;
	struct got g;

	(void)state;
	full_of_blocks(&f, "gone");
	waiting(&k, &w);
	/* The free and the waiter's end reach the daemon in one turn. */
	free_sent_stopped(&fr, &f, 0);
	assert_int_equal(kill(k.pid, SIGKILL), 0);
	assert_int_equal(harness_wait(k.pid), 128 + SIGKILL);
	free_done(&fr);
	harness_close_fd(&k.stop);
	harness_close_fd(&k.from);
	/* Nobody took that room: fill it again, then wait anew. */
	EXPECT_RC(pool_alloc(f.p, BLOCK, &y), 0);
	f.off[0] = y;
	harness_expect_checked(conn, "gone");
	waiting(&k2, &w2);
	x = full_free(&f, 1);
	/* Woken by the free, not by its deadline's last try. */
	g = woken(&k2, &w2);
	assert_true(inside(g.off, x, BLOCK));
	waiter_end(&k2);
	full_end(&f, true);
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
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	struct waiter k, k2;
	struct got g2 = {.rc = 1};	/* not read */

	EXPECT_RC(pool_create(conn, name, &o), 0);
	waiter_start(&k2, &w2);
	/*
	 * Its small block (and the rest of its cache's refill) is live
	 * before the pool is made full; the free into its cache is its own.
	 */
	while (harness_stats_of(conn, name).live_blocks == 0) {
		if (harness_now_ms() > until)
			fail_msg("the cached waiter's block never came");
		harness_sleep_ms(10);
	}
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

/* ---- served_while_held -------------------------------------------------- */

/*
 * A waiter held for the pool to settle is served by the step that ends
 * the settling, which also marks the pool: its wait ends before the
 * mark's callback runs.  The next waiter there must still be woken by a
 * free, not only by its deadline's last try.
 */
static void
served_while_held(void **state)
{
	static struct full f;
	struct want big = {.pool = "held", .size = BIG,
			   .timeout_ms = LONG_WAIT_MS};
	struct want small = {.pool = "held", .size = BLOCK,
			     .timeout_ms = 20000};
	struct waiter k, k2;
	pool_off_t two[2], x;
	struct got g;
	int rc;

	(void)state;
	full_open(&f, "held", 16 * MiB, BLOCK);
	EXPECT_RC(pool_alloc(f.p, BIG, &two[0]), 0);
	while ((rc = pool_alloc(f.p, BLOCK, &f.off[f.n])) == 0)
		assert_true(++f.n < FILL_MAX);
	assert_int_equal(rc, -ENOMEM);
	waiting(&k, &big);
	/*
	 * The big block goes back in steps; the small one at once marks the
	 * pool, and the waiter, refused while the steps go on, is held for
	 * them.  The last step marks the pool again and serves it.
	 */
	two[1] = f.off[0];
	EXPECT_RC(pool_free_batch(f.p, 2, two), 0);
	g = served_at(&k, two[0]);
	held_now("held", 0);
	/* No mark is left on a pool nobody waits in. */
	harness_expect_checked(conn, "held");
	/* Full again: the small block's place taken back. */
	EXPECT_RC(pool_alloc(f.p, BLOCK, &f.off[0]), 0);
	assert_int_equal(f.off[0], two[1]);
	waiting(&k2, &small);
	x = full_free(&f, 7);
	/* Woken by the free: its deadline's last try is not what served it. */
	g = woken(&k2, &small);
	assert_int_equal(g.off, x);
	waiter_end(&k);
	waiter_end(&k2);
	full_end(&f, true);
}

/* ---- zeroed_in_steps ---------------------------------------------------- */

#define ZERO_SIZE	(256 * MiB)	/* zeroed 4 KiB a loop turn */
#define ZERO_SMALL	(4 * KiB)	/* freed at once, not in steps */

/*
 * Pool name full of ZERO_SMALL blocks under a limit, a waiter w (k) for a
 * zeroed ZERO_SIZE block in it, and then the limit lifted: its block is
 * made, and zeroed in steps.
 */
static void
steps_begin(struct full *f, const char *name, struct waiter *k,
	    struct want *w)
{
	struct pool_create_opts c = {.max_size = 2 * ZERO_SIZE};
	struct pool_set_opts o = {.which = POOL_SET_LIMIT,
				  .limit = 16 * ZERO_SMALL};

	*w = (struct want){.pool = name, .size = ZERO_SIZE,
			   .flags = POOL_ALLOC_ZERO,
			   .timeout_ms = LONG_WAIT_MS, .scribble = true};
	assert_int_equal(harness_reload_with(&d, STEP_4K_CONF), 0);
	EXPECT_RC(pool_create_set(conn, name, &c, &o), 0);
	full_make(f, name, 0, ZERO_SMALL);
	waiting(k, w);
	o.limit = 0;	/* none: its block is made, zeroed in steps */
	EXPECT_RC(pool_set(conn, name, &o), 0);
}

/*
 * A waiter's room comes for a zeroed block that is zeroed in steps: it
 * is held for them.  Room made meanwhile (a small free) must not answer
 * it before they are done, or the steps left zero what it wrote since.
 */
static void
zeroed_in_steps(void **state)
{
	static struct full f;
	struct waiter k;
	struct want w;
	struct got g;

	(void)state;
	steps_begin(&f, "zsteps", &k, &w);
	(void)full_free(&f, 0);
	g = served(&k);
	if (!g.kept)
		fail_msg("a zeroed block was answered before its steps were "
			 "done: they zeroed what the waiter wrote after");
	waiter_end(&k);
	harness_expect_checked(conn, "zsteps");
	full_end(&f, true);
}

/*
 * Destroyed while the block its room gave is zeroed in steps: held on
 * for the steps, which go with the pool, it is told -ENOENT.
 */
static void
zeroed_in_steps_destroyed(void **state)
{
	static struct full f;
	struct waiter k;
	struct want w;

	(void)state;
	steps_begin(&f, "zdest", &k, &w);
	EXPECT_RC(pool_destroy_force(conn, "zdest"), 0);
	(void)answered(&k, -ENOENT, NULL);
	waiter_end(&k);
	pool_close(f.p);
}

/* ---- producer_example_waits --------------------------------------------- */

static void
producer_example_waits(void **state)
{
	static struct full f;
	char cmd[512], out[256];
	const char *b = harness_build();
	int before, rc;
	pool_off_t x, off;
	FILE *pr;

	(void)state;
	full_of_blocks(&f, "example");
	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/examples/producer "
		 "-w 1 example hello 2>&1", d.sock, b);
	assert_int_equal(harness_run(cmd, out, sizeof(out)), 1);
	assert_string_equal(out, "producer: alloc 6 bytes: no room came in "
			    "time; poolmgrd says: no room came for 6 bytes "
			    "in pool example in 1000 ms\n");
	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/examples/producer "
		 "example hello 2>&1", d.sock, b);
	assert_int_equal(harness_run(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "producer: alloc 6 bytes: the pool is "
			       "full"));
	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/examples/producer "
		 "-w -1 example hello 2>&1", d.sock, b);
	assert_int_equal(harness_run(cmd, out, sizeof(out)), 2);
	assert_string_equal(out, "producer: -w: bad SECONDS '-1' (a whole "
			    "number from 0 to 2147483)\nusage: producer [-n "
			    "NAME] [-w SECONDS] POOL TEXT...\n");

	before = harness_log_count(&d, WAITS_LINE);
	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/examples/producer "
		 "-w 60 example hello", d.sock, b);
	assert_non_null(pr = popen(cmd, "r"));
	assert_int_equal(harness_log_wait(&d, WAITS_LINE, before,
					  LOG_WAIT_MS), 0);
	x = full_free(&f, 2);
	assert_non_null(fgets(out, sizeof(out), pr));
	rc = pclose(pr);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	off = strtoull(out, NULL, 0);
	assert_true(inside(off, x, BLOCK));
	assert_string_equal((const char *)pool_ptr(f.p, off), "hello");
	/* Persisted by the producer: the pool's reference goes. */
	EXPECT_RC(pool_free(f.p, off), 0);
	full_end(&f, true);
}

/*
 * Another uid (65534) holds a block of the uid's too, so that the uid's
 * reference can go without freeing it: the user quota counts a block
 * once per uid that holds it, so only another uid's hold keeps it alive
 * when this uid lets go.  The holder retains the block at other_off in
 * pool other_pool, says so with a byte, and lets go (closing) at a byte.
 */
struct other_hold {
	const char *pool;
	pool_off_t off;
	int ready[2], stop[2];
	pid_t pid;
};

static int
other_uid_holds(void *arg)
{
	struct other_hold *o = arg;
	struct pool_conn *c;
	struct pool *p;
	char go = 1;

	close(o->ready[0]);
	close(o->stop[1]);
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, o->pool, &p), 0, 3);
	CHECK_RC(pool_retain(p, o->off), 0, 4);
	CHECK(write(o->ready[1], &go, 1) == 1, 5);
	CHECK(harness_read_full(o->stop[0], &go, 1) == 0, 6);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Start o's holder (skipping the test where no other uid can be had). */
static void
other_hold_start(struct other_hold *o)
{
	char go;

	assert_int_equal(pipe(o->ready), 0);
	assert_int_equal(pipe(o->stop), 0);
	o->pid = harness_spawn_as(65534, 65534, other_uid_holds, o);
	close(o->ready[1]);
	close(o->stop[0]);
	if (o->pid == -1) {
		close(o->ready[0]);
		close(o->stop[1]);
		skip();
	}
	assert_int_equal(harness_read_full(o->ready[0], &go, 1), 0);
}

static void
other_hold_end(struct other_hold *o)
{
	char go = 1;

	assert_int_equal(write(o->stop[1], &go, 1), 1);
	assert_int_equal(harness_wait(o->pid), 0);
	close(o->ready[0]);
	close(o->stop[1]);
}

/* ---- waits_under_the_user_quota ---------------------------------------- */

static void
waits_under_the_user_quota(void **state)
{
	struct pool_create_opts o = {.max_size = 8 * MiB, .mode = 0666};
	struct pool_set_opts uq = {.which = POOL_SET_USER_QUOTA,
				   .user_quota = 4 * BLOCK};
	struct want w = WANTS_BLOCK("uq");
	struct other_hold oh = {.pool = "uq"};
	struct pool_stats before, st;
	pool_off_t off[4], x;
	struct waiter k;
	struct pool *p;
	int i;

	(void)state;
	EXPECT_RC(pool_create_set(conn, "uq", &o, &uq), 0);
	p = uncached("uq");
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_alloc(p, BLOCK, &off[i]), 0);
	EXPECT_RC(pool_alloc(p, BLOCK, &x), -EDQUOT);
	before = harness_stats(p);

	/*
	 * Woken by a reference let go that frees no block: another uid
	 * holds block 3 too.
	 */
	oh.off = off[3];
	other_hold_start(&oh);
	waiting(&k, &w);
	held_now("uq", 1);
	unanswered(&k, "an allocation past the user quota");
	EXPECT_RC(pool_free(p, off[3]), 0);
	(void)woken(&k, &w);
	waiter_end(&k);
	other_hold_end(&oh);

	/* Woken by a free, which gives it the block's place. */
	EXPECT_RC(pool_alloc(p, BLOCK, &off[3]), 0);
	waiting(&k, &w);
	EXPECT_RC(pool_free(p, off[0]), 0);
	(void)served_at(&k, off[0]);
	waiter_end(&k);

	/* Woken by the user quota raised. */
	EXPECT_RC(pool_alloc(p, BLOCK, &off[0]), 0);
	waiting(&k, &w);
	uq.user_quota = 5 * BLOCK;
	EXPECT_RC(pool_set(conn, "uq", &uq), 0);
	(void)woken(&k, &w);
	waiter_end(&k);

	/* Its time runs out, in the user quota's words. */
	uq.user_quota = 4 * BLOCK;
	EXPECT_RC(pool_set(conn, "uq", &uq), 0);
	w.timeout_ms = SHORT_WAIT_MS;
	(void)refused(&k, &w, -ETIMEDOUT, "per user");

	/* None of it was the pool's failure: it had room all along. */
	st = harness_stats(p);
	assert_int_equal(st.failed_allocs, before.failed_allocs);
	assert_int_equal(st.alloc_waits, 0);

	/*
	 * The quota per connection, which this one holds itself: nobody
	 * else's free makes room, and the wait runs out -EDQUOT.
	 */
	uq.which = POOL_SET_USER_QUOTA | POOL_SET_QUOTA;
	uq.user_quota = 0;
	uq.quota = 4 * BLOCK;
	EXPECT_RC(pool_set(conn, "uq", &uq), 0);
	EXPECT_RC(pool_alloc_wait(p, BLOCK, 0, 0, SHORT_WAIT_MS, &x), -EDQUOT);
	for (i = 0; i < 4; i++)
		EXPECT_RC(pool_free(p, off[i]), 0);
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "uq"), 0);
}

/* ---- woken_by_a_close_under_the_user_quota ----------------------------- */

static void
woken_by_a_close_under_the_user_quota(void **state)
{
	struct pool_create_opts o = {.max_size = 8 * MiB, .mode = 0666};
	struct pool_set_opts uq = {.which = POOL_SET_USER_QUOTA,
				   .user_quota = 4 * BLOCK};
	struct want w = WANTS_BLOCK("uqc");
	struct other_hold oh = {.pool = "uqc"};
	struct pool_stats st;
	pool_off_t off[3];
	struct waiter k;
	struct pool *p, *p2;
	int i;

	(void)state;
	EXPECT_RC(pool_create_set(conn, "uqc", &o, &uq), 0);
	p = uncached("uqc");
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_alloc(p, BLOCK, &off[i]), 0);
	/* The uid's fourth block, on a second handle; another uid holds it
	 * too. */
	p2 = uncached("uqc");
	EXPECT_RC(pool_alloc(p2, BLOCK, &oh.off), 0);
	other_hold_start(&oh);
	waiting(&k, &w);
	unanswered(&k, "an allocation past the user quota");
	/* Its handle closed, the block still the other uid's: nothing
	 * freed. */
	pool_close(p2);
	(void)woken(&k, &w);
	waiter_end(&k);
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 4);
	other_hold_end(&oh);
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_free(p, off[i]), 0);
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "uqc"), 0);
}

/* ---- waits_under_the_quota_per_connection ------------------------------ */

static void
waits_under_the_quota_per_connection(void **state)
{
	struct pool_create_opts o = {.max_size = 8 * MiB, .quota = 4 * BLOCK};
	struct pool_set_opts q = {.which = POOL_SET_QUOTA, .quota = 4 * BLOCK};
	struct want w = {.pool = "qw", .size = 3 * BLOCK,
			 .timeout_ms = LONG_WAIT_MS};
	struct pool_stats before, st;
	pool_off_t kept[2];
	struct waiter k;
	struct pool *p, *p2;
	struct got g;
	int i;

	(void)state;
	EXPECT_RC(pool_create(conn, "qw", &o), 0);
	p = uncached("qw");
	/*
	 * Two blocks of this uid persistent, held by p2 too: they count
	 * against every connection of the uid, the waiter's among them,
	 * which has 2 blocks of room under its quota, not 3.
	 */
	p2 = uncached("qw");
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_alloc_wait(p, BLOCK, 0, POOL_ALLOC_PERSIST, 0,
					  &kept[i]), 0);
		EXPECT_RC(pool_retain(p2, kept[i]), 0);
	}
	before = harness_stats(p);

	/* Woken by a persistent block ended that frees nothing. */
	waiting(&k, &w);
	held_now("qw", 1);
	unanswered(&k, "an allocation past the quota per connection");
	EXPECT_RC(pool_free(p, kept[0]), 0);
	(void)woken(&k, &w);
	waiter_end(&k);
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 1);
	assert_int_equal(st.live_blocks, 2);

	/* Woken by the quota raised. */
	w.size = 4 * BLOCK;
	waiting(&k, &w);
	unanswered(&k, "an allocation past the quota per connection");
	q.quota = 5 * BLOCK;
	EXPECT_RC(pool_set(conn, "qw", &q), 0);
	(void)woken(&k, &w);
	waiter_end(&k);

	/* Nothing helps: -EDQUOT at its time, in that quota's words. */
	w.size = 5 * BLOCK;
	w.timeout_ms = SHORT_WAIT_MS;
	g = refused(&k, &w, -EDQUOT, "per connection");
	assert_true(g.elapsed_ms >= SHORT_WAIT_MS);
	if (!strstr(g.message, "after 300 ms"))
		fail_msg("the wait's end says: %s", g.message);
	st = harness_stats(p);
	assert_int_equal(st.quota_refusals, before.quota_refusals + 1);

	/* A part of a longer wait: -ETIMEDOUT, its client asks again. */
	w.flags = POOL_ALLOC_PART;
	(void)refused(&k, &w, -ETIMEDOUT, "per connection");

	/* None of it was the pool's failure: it had room all along. */
	st = harness_stats(p);
	assert_int_equal(st.failed_allocs, before.failed_allocs);
	assert_int_equal(st.quota_refusals, before.quota_refusals + 1);
	assert_int_equal(st.alloc_waits, 0);
	harness_expect_checked(conn, "qw");
	EXPECT_RC(pool_free(p2, kept[0]), 0);
	EXPECT_RC(pool_free(p, kept[1]), 0);
	EXPECT_RC(pool_free(p2, kept[1]), 0);
	pool_close(p2);
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "qw"), 0);
}

/* ---- woken_by_a_charge_moved_under_the_quota_per_connection ----------- */

/*
 * A waiter that holds its whole quota per connection itself: 4 blocks,
 * the second's offset on its report pipe, then as waiter does.
 */
static int
quota_holder(void *arg)
{
	struct want *w = arg;
	pool_off_t off[4], x = POOL_OFF_NONE;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	uint64_t start;
	int i, rc;

	if ((rc = want_open(w, 0, &c, &p)))
		return rc;
	for (i = 0; i < 4; i++)
		CHECK_RC(pool_alloc(p, w->size, &off[i]), 0, 7);
	CHECK(harness_write_full(w->report, &off[1], sizeof(off[1])) == 0, 8);
	start = harness_now_ms();
	rc = pool_alloc_wait(p, w->size, 0, 0, w->timeout_ms, &x);
	g = got_of(rc, x, start);
	return report_and_hold(w, &g, c, p);
}

static pool_off_t shared_off;

/* Another uid holds the block at shared_off too, and persists it. */
static int
other_uid_persists(void *arg)
{
	struct pool_conn *c;
	struct pool *p;

	(void)arg;
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "qm", &p), 0, 3);
	CHECK_RC(pool_retain(p, shared_off), 0, 4);
	CHECK_RC(pool_persist(p, shared_off), 0, 5);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
woken_by_a_charge_moved_under_the_quota_per_connection(void **state)
{
	struct pool_create_opts o = {.max_size = 8 * MiB, .quota = 4 * BLOCK,
				     .mode = 0666};
	struct want w = WANTS_BLOCK("qm");
	struct pool_stats st;
	struct waiter k;
	struct pool *p;
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_create(conn, "qm", &o), 0);
	waiter_start_fn(&k, &w, quota_holder);
	assert_int_equal(harness_read_full(k.from, &shared_off,
					   sizeof(shared_off)), 0);
	wait_logged(k.pid, 0);
	unanswered(&k, "an allocation past the quota per connection");
	/*
	 * Persisted by another uid: the block leaves the waiter's held
	 * bytes for that uid's charge, nothing freed, and the waiter has a
	 * block's room.
	 */
	pid = harness_spawn_as(65534, 65534, other_uid_persists, NULL);
	if (pid == -1)
		skip();
	assert_int_equal(harness_wait(pid), 0);
	(void)woken(&k, &w);
	waiter_end(&k);

	EXPECT_RC(pool_open(conn, "qm", &p), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.persistent_blocks, 1);
	harness_expect_checked(conn, "qm");
	EXPECT_RC(pool_free(p, shared_off), 0);
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, "qm"), 0);
}

/* ---- parts_keep_their_place ------------------------------------------- */

#define FIRST_PART_MS	500	/* meant to run out, the other waiting */

/*
 * A waiter that asks in parts, as a binding does: a first part of
 * w->size for timeout_ms, which must run out, then at once (gated: at a
 * first byte) another (of w->size_then) for the rest of a long wait; it
 * reports what came of that.
 */
static int
parted(void *arg)
{
	struct want *w = arg;
	pool_off_t off = POOL_OFF_NONE;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	uint64_t start;
	char go;
	int rc;

	if ((rc = want_open(w, 0, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART,
				 w->timeout_ms, &off), -ETIMEDOUT, 7);
	CHECK(!w->gated || harness_read_full(w->stop, &go, 1) == 0, 8);
	start = harness_now_ms();
	rc = pool_alloc_wait(p, w->size_then, 0, POOL_ALLOC_PART,
			     LONG_WAIT_MS, &off);
	g = got_of(rc, off, start);
	return report_and_hold(w, &g, c, p);
}

/*
 * In f's pool, a waiter in parts (its first of first bytes, its next of
 * BLOCK), then another of BLOCK waiting once, after its first part began
 * and before it ran out; once the next part waits, a block is freed.
 * Whether the parted waiter got it (the other is then still waiting);
 * both are let go of.
 */
static bool
parted_first(struct full *f, size_t first)
{
	struct want wp = {.pool = f->name, .size = first,
			  .size_then = BLOCK, .timeout_ms = FIRST_PART_MS};
	struct want wq = WANTS_BLOCK(f->name);
	struct pollfd pf[2];
	struct waiter kp, kq, *second;
	bool first_served;
	pool_off_t x;

	waiting_fn(&kp, &wp, parted);
	waiting(&kq, &wq);
	wait_logged(kp.pid, 1);	/* its next part asks */
	x = full_free(f, 0);
	/* The one served is the first answered: the other still waits. */
	pf[0].fd = kp.from;
	pf[1].fd = kq.from;
	some_answered(pf, 2, f->name, "the two waiters");
	first_served = pf[0].revents & POLLIN;
	(void)served_within(first_served ? &kp : &kq, x);
	second = first_served ? &kq : &kp;
	unanswered(second, "the other waiter");
	(void)served_within(second, full_free(f, 1));
	harness_expect_checked(conn, f->name);
	waiter_end(&kp);
	waiter_end(&kq);
	return first_served;
}

static void
parts_keep_their_place(void **state)
{
	static struct full f;

	(void)state;
	full_of_blocks(&f, "parts");
	if (!parted_first(&f, BLOCK))
		fail_msg("the part that followed one run out went behind the "
			 "allocation that came after it");
	/* Full again (the waiters' blocks went with them). */
	EXPECT_RC(pool_alloc(f.p, BLOCK, &f.off[0]), 0);
	EXPECT_RC(pool_alloc(f.p, BLOCK, &f.off[1]), 0);
	/* A first part that never fits keeps no place for one that does. */
	if (parted_first(&f, 2 * BLOCK))
		fail_msg("a part of another size took the place of the one "
			 "before it");
	harness_expect_checked(conn, "parts");
	full_end(&f, true);
}

/* ---- kept_place_after_room ------------------------------------------- */

/*
 * A waiter in parts came first, another waits once after it, and its
 * first part runs out: its place is kept.  The daemon stopped, a free is
 * sent and then its next part, and the daemon let go reads both in one
 * turn.  The room came while the parted waiter was between its parts: it
 * is the other's, who was waiting (its next part takes its place back,
 * and waits in it, behind those that had room to try).  Before, the part
 * took its place back ahead of the room's turn and was tried first.
 */
static void
kept_place_after_room(void **state)
{
	static struct full f;
	struct want wp = {.pool = "between", .size = BLOCK,
			  .size_then = BLOCK, .timeout_ms = FIRST_PART_MS,
			  .gated = true};
	struct want wq = WANTS_BLOCK("between");
	struct waiter kp, kq;
	struct got g;
	char what[96];
	int again;

	(void)state;
	full_of_blocks(&f, "between");
	waiting_fn(&kp, &wp, parted);
	waiting(&kq, &wq);
	waits_words(what, sizeof(what), kp.pid, " again");
	again = harness_log_count(&d, what);
	/* Its first part runs out (its place kept) as it comes to its gate. */
	if (room_to_the_first(&f, 0, &kq, &kp, &g))
		fail_msg("the part that followed was answered before the "
			 "waiter the room was made for: %d (%s)", g.rc,
			 g.message);
	/* Its next part took its kept place back (within the second). */
	if (harness_log_wait(&d, what, again, LOG_WAIT_MS) != 0)
		fail_msg("the next part did not take its kept place back");
	unanswered(&kp, "the next part");
	harness_expect_checked(conn, "between");
	(void)served_within(&kp, full_free(&f, 1));
	waiter_end(&kp);
	waiter_end(&kq);
	full_end(&f, true);
}

/* ---- kept_place_let_go_by_a_batch ------------------------------------ */

#define KEPT_PART_MS	500	/* meant to run out, another waiting after */
/*
 * A raw client's small block, made first in its pool: a page, so that
 * the blocks after it keep to pages, and two side by side hold a block
 * of twice their size (a page span).
 */
#define RAW_SMALL	4096

/* The Alloc of raw client fd's handle h for size bytes, waiting wait_ms. */
static uint64_t
raw_alloc_wait_post(int fd, uint32_t h, uint64_t size, uint32_t wait_ms,
		    bool part)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;

	m.handle = h;
	m.size = size;
	m.wait_ms = wait_ms;
	m.wait_part = part;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	return req.id;
}

/* The error the reply to request id of raw client fd says. */
static int
raw_answer(int fd, uint64_t id)
{
	Poolmgr__Reply *r = harness_raw_reply(fd, id, LONG_WAIT_MS);
	int rc;

	if (!r)
		fail_msg("request %llu was not answered",
			 (unsigned long long)id);
	rc = r->error;
	poolmgr__reply__free_unpacked(r, NULL);
	return rc;
}

/* Indexes i of f's blocks with the block at i + 1 right after it. */
static size_t
adjacent_pair(const struct full *f, size_t from)
{
	size_t i;

	for (i = from; i + 1 < f->n; i++)
		if (f->off[i + 1] == f->off[i] + f->each)
			return i;
	fail_msg("pool %s has no two blocks side by side", f->name);
	return 0;
}

/* How a raw connection gets a block of its own between two waits. */
enum got_by { BY_BATCH, BY_REALLOC_NONE, BY_REALLOC_MOVED };

/* Raw client fd's block of BLOCK bytes through h, got by how. */
static void
raw_got_block(int fd, uint32_t h, enum got_by how, uint64_t small)
{
	uint64_t one = BLOCK, got = POOL_OFF_NONE;

	switch (how) {
	case BY_BATCH:
		EXPECT_RAW(harness_raw_alloc_batch(fd, h, &one, 1, &got), 0);
		break;
	case BY_REALLOC_NONE:
		EXPECT_RAW(harness_raw_realloc(fd, h, &got, BLOCK, false), 0);
		break;
	case BY_REALLOC_MOVED:
		got = small;
		EXPECT_RAW(harness_raw_realloc(fd, h, &got, BLOCK, false), 0);
		assert_true(got != small);
		break;
	}
}

/*
 * A raw connection's wait part for a block runs out, another waiter (of
 * two blocks side by side) having come after it began: its place is
 * kept.  Then the connection gets a block (room only it fits) by how:
 * an AllocBatch, a Realloc of no block, or a Realloc that moves a small
 * block of its own, made before the pool was full.  Within the second it
 * asks a new wait of the same size: a new allocation, which comes after
 * the other.  Two blocks side by side freed, the other is tried first
 * and gets them; the new wait waits on.  Before, the block got left the
 * place kept, the new wait took it back, ahead of the other, and split
 * the run the other needed (by a batch, and by either Realloc).
 */
static void
kept_place_let_go(const char *name, enum got_by how)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = MiB};
	struct want w = {.pool = name, .size = 2 * BLOCK,
			 .timeout_ms = LONG_WAIT_MS};
	struct pollfd pf[2];
	struct waiter k;
	uint64_t small, id;
	pool_off_t two[2];
	size_t i, pair[2];
	uint32_t h;
	int fd, before;

	EXPECT_RC(pool_create(conn, name, &o), 0);
	fd = harness_raw_client(d.sock, "parts");
	h = harness_raw_handle(fd, name);
	EXPECT_RAW(harness_raw_alloc(fd, h, RAW_SMALL, &small, NULL), 0);
	full_make(&f, name, 0, BLOCK);
	/* Not next to the small block, which may move. */
	i = adjacent_pair(&f, 1);
	assert_true(i + 2 < f.n);
	before = waits_logged(getpid());
	id = raw_alloc_wait_post(fd, h, BLOCK, KEPT_PART_MS, true);
	wait_logged(getpid(), before);
	waiting(&k, &w);
	assert_int_equal(raw_answer(fd, id), -ETIMEDOUT);
	/*
	 * Room for one block alone, which the other cannot use: the raw's.
	 * Not right after the small block, which would grow in place.
	 */
	(void)full_free(&f, i + 2);
	raw_got_block(fd, h, how, small);
	id = raw_alloc_wait_post(fd, h, BLOCK, LONG_WAIT_MS, false);
	wait_logged(getpid(), before + 1);
	pair[0] = i;
	pair[1] = i + 1;
	full_free_batch(&f, pair, 2, two);
	/* The first answered is the one tried first: the other waits on. */
	pf[0].fd = k.from;
	pf[1].fd = fd;
	some_answered(pf, 2, name, "the waiter and the new wait");
	if (pf[1].revents & POLLIN)
		fail_msg("pool %s: the new wait was tried before the waiter "
			 "that came before it: %d", name, raw_answer(fd, id));
	(void)served_at(&k, two[0]);
	harness_expect_checked(conn, name);
	close(fd);	/* its wait and its blocks go with it */
	waiter_end(&k);
	full_end(&f, true);
}

static void
kept_place_let_go_by_a_batch(void **state)
{
	(void)state;
	kept_place_let_go("letgo", BY_BATCH);
}

static void
kept_place_let_go_by_a_realloc(void **state)
{
	(void)state;
	kept_place_let_go("letgo2", BY_REALLOC_NONE);
	kept_place_let_go("letgo3", BY_REALLOC_MOVED);
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

/* ---- kept_place_let_go_by_the_cache ----------------------------------- */

/*
 *   kept_place_let_go_by_the_cache  as kept_place_let_go_by_a_batch, the
 *       connection a caching handle's: its first part runs out, its place
 *       kept, another waiter (of two blocks side by side) after it; a
 *       block of its own freed into its cache then serves its next part,
 *       which the daemon never sees, and its new wait of the same size
 *       comes after the other: two blocks side by side freed go to the
 *       other (before, the place stayed kept for its second, the new wait
 *       took it back, ahead of the other, and split its run).
 *   refill_behind_bounded  a caching handle's refill for a wait of
 *       BEHIND_BOUND_MS, read with the free that made room for a waiter,
 *       goes behind it for that long at most, as the daemon logs (before,
 *       for UINT32_MAX ms, whatever its caller had left).
 */

#define CACHE_PARTS_POOL	(2 * MiB)	/* its cache keeps a BLOCK */

/*
 * In a child: a caching handle makes a block of w->size (a refill of that
 * block alone: the pool is too small for more) and, once the pool is full
 * (a first byte), asks a part of w->timeout_ms, which runs out, and
 * reports it.  At a second byte it frees its block into its cache, asks
 * its next part, which the cache serves with that block, then a new wait
 * of the same size, and reports what came of that.
 */
static int
cached_parts(void *arg)
{
	struct want *w = arg;
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;
	struct got g;
	char go;

	close(w->parent_ends[0]);
	close(w->parent_ends[1]);
	memset(&g, 0, sizeof(g));
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, w->pool, &p), 0, 3);
	CHECK_RC(pool_set_cache(p, 4 * MiB), 0, 4);
	CHECK_RC(pool_alloc(p, w->size, &mine), 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	g.rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			       &off);
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 7);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 8);
	CHECK_RC(pool_free(p, mine), 0, 9);
	CHECK_RC(pool_stats(p, &st), 0, 10);
	CHECK(st.client_cached_bytes >= w->size, 11);
	CHECK_RC(pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, LONG_WAIT_MS,
				 &off), 0, 12);
	CHECK(off == mine, 13);
	g.rc = pool_alloc_wait(p, w->size, 0, 0, LONG_WAIT_MS, &off);
	g.off = off;
	if (g.rc != 0)
		snprintf(g.message, sizeof(g.message), "%s",
			 pool_last_message(g.rc));
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 14);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 15);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
kept_place_let_go_by_the_cache(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	struct want wp = {.pool = "letgocache", .size = BLOCK,
			  .timeout_ms = KEPT_PART_MS};
	struct want wq = {.pool = "letgocache", .size = 2 * BLOCK,
			  .timeout_ms = LONG_WAIT_MS};
	struct pollfd pf[2] = {{.events = POLLIN}, {.events = POLLIN}};
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	struct waiter kp, kq;
	pool_off_t two[2];
	struct got g;
	size_t i;

	(void)state;
	EXPECT_RC(pool_create(conn, "letgocache", &o), 0);
	waiter_start_fn(&kp, &wp, cached_parts);
	while (harness_stats_of(conn, "letgocache").live_blocks == 0) {
		if (harness_now_ms() > until)
			fail_msg("the caching waiter's block never came");
		harness_sleep_ms(10);
	}
	full_make(&f, "letgocache", 0, BLOCK);
	i = adjacent_pair(&f, 0);
	assert_int_equal(harness_write_full(kp.stop, "g", 1), 0);
	wait_logged(kp.pid, 0);
	waiting(&kq, &wq);
	g = waiter_got(&kp);
	if (g.rc != -ETIMEDOUT)
		fail_msg("the first part: %d (%s)", g.rc, pool_strerror(g.rc));
	/* Its next part from its cache, then a new wait: within the second. */
	assert_int_equal(harness_write_full(kp.stop, "g", 1), 0);
	wait_logged(kp.pid, 1);
	two[0] = f.off[i];
	two[1] = f.off[i + 1];
	EXPECT_RC(pool_free_batch(f.p, 2, two), 0);
	f.off[i] = f.off[i + 1] = POOL_OFF_NONE;
	/* The first answered is the one tried first: the other waits on. */
	pf[0].fd = kq.from;
	pf[1].fd = kp.from;
	if (poll(pf, 2, LOG_WAIT_MS) < 1)
		fail_msg("neither allocation was answered");
	if (pf[1].revents & POLLIN) {
		g = waiter_got(&kp);
		fail_msg("the new wait was tried before the waiter that came "
			 "before it: %d, at 0x%llx", g.rc,
			 (unsigned long long)g.off);
	}
	g = served(&kq);
	assert_int_equal(g.off, two[0]);
	unanswered(&kp, "the new wait");
	harness_expect_checked(conn, "letgocache");
	(void)full_free(&f, i + 2 < f.n ? i + 2 : 0);
	(void)served(&kp);
	waiter_end(&kp);
	waiter_end(&kq);
	full_end(&f, true);
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
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	struct got g2 = {.rc = 1};	/* not read */
	struct waiter k, k2;
	unsigned long ms;
	long mark;

	(void)state;
	EXPECT_RC(pool_create(conn, "refillbound", &o), 0);
	waiter_start(&k2, &w2);
	while (harness_stats_of(conn, "refillbound").live_blocks == 0) {
		if (harness_now_ms() > until)
			fail_msg("the cached waiter's block never came");
		harness_sleep_ms(10);
	}
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

/* ---- cache_hit_beside_a_part ------------------------------------------ */

/*
 *   cache_hit_beside_a_part  a caching handle's first part runs out, its
 *       place kept; its next part waits in a thread of its own, and a
 *       block freed into its cache meanwhile serves another allocation of
 *       the handle at once, while that part still waits (before, the hit
 *       said WaitOver for the first part, which stood behind the waiting
 *       part until room came for it).
 */

/* The other thread's part of cached_beside_a_part: it waits for room. */
struct part_beside {
	struct pool *p;
	size_t size;
	struct got g;
};

static void *
part_beside(void *arg)
{
	struct part_beside *pb = arg;
	pool_off_t off = POOL_OFF_NONE;
	uint64_t start = harness_now_ms();
	int rc;

	rc = pool_alloc_wait(pb->p, pb->size, 0, POOL_ALLOC_PART,
			     LONG_WAIT_MS, &off);
	pb->g = got_of(rc, off, start);
	return NULL;
}

/*
 * In a child: as cached_parts, its first part of w->timeout_ms runs out
 * at a first byte, and is reported; then its next part waits in a thread
 * of its own.  At a second byte (the daemon has that part waiting) it
 * frees its block into its cache and asks a wait of the same size, which
 * the cache serves, and reports it; then what the part got once room came.
 */
static int
cached_beside_a_part(void *arg)
{
	struct want *w = arg;
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	struct part_beside pb;
	struct pool_conn *c;
	struct pool *p;
	pthread_t t;
	struct got g;
	char go;
	int rc;

	if ((rc = want_open(w, 4 * MiB, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc(p, w->size, &mine), 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			     &off);
	g = got_of(rc, off, harness_now_ms());
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 7);
	pb.p = p;
	pb.size = w->size;
	CHECK(pthread_create(&t, NULL, part_beside, &pb) == 0, 8);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 9);
	CHECK_RC(pool_free(p, mine), 0, 10);
	rc = pool_alloc_wait(p, w->size, 0, 0, LONG_WAIT_MS, &off);
	g = got_of(rc, off, harness_now_ms());
	CHECK(g.rc != 0 || g.off == mine, 11);
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 12);
	CHECK(pthread_join(t, NULL) == 0, 13);
	return report_and_hold(w, &pb.g, c, p);
}

static void
cache_hit_beside_a_part(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	struct want w = {.pool = "hitbeside", .size = BLOCK,
			 .timeout_ms = KEPT_PART_MS};
	struct pollfd pf = {.events = POLLIN};
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	struct waiter k;
	struct got g;

	(void)state;
	EXPECT_RC(pool_create(conn, "hitbeside", &o), 0);
	waiter_start_fn(&k, &w, cached_beside_a_part);
	while (harness_stats_of(conn, "hitbeside").live_blocks == 0) {
		if (harness_now_ms() > until)
			fail_msg("the caching waiter's block never came");
		harness_sleep_ms(10);
	}
	full_make(&f, "hitbeside", 0, BLOCK);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	g = waiter_got(&k);
	if (g.rc != -ETIMEDOUT)
		fail_msg("the first part: %d (%s)", g.rc, pool_strerror(g.rc));
	/* Its next part waits: the second wait the daemon logs of it. */
	wait_logged(k.pid, 1);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	pf.fd = k.from;
	if (poll(&pf, 1, LOG_WAIT_MS) < 1)
		fail_msg("a block in the cache waited for another thread's "
			 "part to be answered");
	g = waiter_got(&k);
	if (g.rc != 0)
		fail_msg("the cache hit: %d (%s) %s", g.rc,
			 pool_strerror(g.rc), g.message);
	unanswered(&k, "the part beside the cache hit");
	(void)full_free(&f, 0);
	(void)served(&k);
	harness_expect_checked(conn, "hitbeside");
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- refill_after_a_part --------------------------------------------- */

/*
 *   refill_after_a_part  a caching handle's parts run out, its place
 *       kept; room for one block made, its next part is served by a
 *       refill, which let the place go: the part costs the refill alone
 *       (before, a WaitOver followed it, a round trip for a place the
 *       daemon no longer kept).
 */

/* The daemon's requests answered so far, asked on c. */
static uint64_t
requests_answered(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	if (pool_daemon_stats(c, &ds) != 0)
		return 0;
	return ds.requests_total;
}

/*
 * In a child: as cached_parts, its parts of w->timeout_ms run out at a
 * first byte, and the last is reported.  At a second (room made for a block,
 * nobody waiting) it asks its next part, and reports in g.off how many
 * requests the daemon answered for it: those across the part, less those
 * across a pool_daemon_stats alone (the test's process asks nothing
 * meanwhile).
 */
static int
refilled_part(void *arg)
{
	struct want *w = arg;
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	uint64_t a, b, z;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	char go;
	int rc;

	if ((rc = want_open(w, 4 * MiB, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc(p, w->size, &mine), 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	/* The first part's refill is refused, and the next skips its own
	 * (CACHE_BEHIND_SKIP_MAX's backoff): two parts, the second's rc. */
	(void)pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			      &off);
	rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			     &off);
	g = got_of(rc, off, harness_now_ms());
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 7);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 8);
	CHECK((z = requests_answered(c)) != 0, 9);
	CHECK((a = requests_answered(c)) != 0, 10);
	rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, LONG_WAIT_MS,
			     &off);
	CHECK((b = requests_answered(c)) != 0, 11);
	g = got_of(rc, off, harness_now_ms());
	g.off = (b - a) - (a - z);
	return report_and_hold(w, &g, c, p);
}

static void
refill_after_a_part(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	struct want w = {.pool = "refillpart", .size = BLOCK,
			 .timeout_ms = KEPT_PART_MS};
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	struct waiter k;
	struct got g;

	(void)state;
	EXPECT_RC(pool_create(conn, "refillpart", &o), 0);
	waiter_start_fn(&k, &w, refilled_part);
	while (harness_stats_of(conn, "refillpart").live_blocks == 0) {
		if (harness_now_ms() > until)
			fail_msg("the caching waiter's block never came");
		harness_sleep_ms(10);
	}
	full_make(&f, "refillpart", 0, BLOCK);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	g = waiter_got(&k);
	if (g.rc != -ETIMEDOUT)
		fail_msg("the first part: %d (%s)", g.rc, pool_strerror(g.rc));
	(void)full_free(&f, 0);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	g = served(&k);
	if (g.off != 1)
		fail_msg("the part a refill served made %llu requests, not "
			 "the refill alone", (unsigned long long)g.off);
	harness_expect_checked(conn, "refillpart");
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- wait_over_keeps_the_words ---------------------------------------- */

/*
 *   wait_over_keeps_the_words  a caching handle's part runs out in this
 *       thread, its place kept; a block freed into its cache then serves
 *       its next wait, and the library tells the daemon the kept place is
 *       over (a WaitOver, the one request the hit makes): the thread's
 *       pool_last_message(-ETIMEDOUT) still has the part's words, as after
 *       any hit, which asks nothing (before, the WaitOver's answer
 *       replaced them with its own, none).
 */

/* requests_answered, asked by a thread of its own: this one's words stay. */
static void *
answered_apart(void *arg)
{
	*(uint64_t *)arg = requests_answered(conn);
	return NULL;
}

static uint64_t
requests_answered_apart(void)
{
	uint64_t n = 0;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, answered_apart, &n), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return n;
}

static void
wait_over_keeps_the_words(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	char said[256];
	uint64_t a, b, z;
	struct pool *p;

	(void)state;
	EXPECT_RC(pool_create(conn, "overwords", &o), 0);
	EXPECT_RC(pool_open(conn, "overwords", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	EXPECT_RC(pool_alloc(p, BLOCK, &mine), 0);
	full_make(&f, "overwords", 0, BLOCK);
	EXPECT_RC(pool_alloc_wait(p, BLOCK, 0, POOL_ALLOC_PART, KEPT_PART_MS,
				  &off), -ETIMEDOUT);
	snprintf(said, sizeof(said), "%s", pool_last_message(-ETIMEDOUT));
	if (!strstr(said, "no room came for 65536 bytes in pool overwords"))
		fail_msg("the part's words: \"%s\"", said);
	EXPECT_RC(pool_free(p, mine), 0);
	assert_true((z = requests_answered_apart()) != 0);
	assert_true((a = requests_answered_apart()) != 0);
	EXPECT_RC(pool_alloc_wait(p, BLOCK, 0, 0, LONG_WAIT_MS, &off), 0);
	assert_int_equal(off, mine);
	if (strcmp(pool_last_message(-ETIMEDOUT), said) != 0)
		fail_msg("after a cache hit, the thread's words were \"%s\", "
			 "not the part's \"%s\"",
			 pool_last_message(-ETIMEDOUT), said);
	assert_true((b = requests_answered_apart()) != 0);
	if ((b - a) - (a - z) != 1)
		fail_msg("the cache hit after a part made %llu requests, not "
			 "its WaitOver alone",
			 (unsigned long long)((b - a) - (a - z)));
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	full_end(&f, true);
}

/* ---- wait_over_by_its_thread ------------------------------------------ */

/*
 *   wait_over_by_its_thread  a caching handle's part runs out in a thread
 *       of its own, its place kept; a block freed into the cache serves
 *       another thread's wait, which says no WaitOver (before, it let go
 *       of the place, and the part's thread, when it asked again, went
 *       behind those that came after it); the part's own thread's next
 *       hit says it (a WaitOver, its one request).
 */

struct part_thread {
	struct pool *p;
	pthread_t t;
	pthread_barrier_t ran_out, go;
	int part_rc, hit_rc;
	pool_off_t off;
};

static void *
part_then_hit(void *arg)
{
	struct part_thread *pt = arg;
	pool_off_t off = POOL_OFF_NONE;

	pt->part_rc = pool_alloc_wait(pt->p, BLOCK, 0, POOL_ALLOC_PART,
				      KEPT_PART_MS, &off);
	pthread_barrier_wait(&pt->ran_out);
	pthread_barrier_wait(&pt->go);
	pt->hit_rc = pool_alloc_wait(pt->p, BLOCK, 0, 0, LONG_WAIT_MS,
				     &pt->off);
	return NULL;
}

/* The requests the daemon answered across fn(arg), beyond counting them. */
static uint64_t
requests_across(void (*fn)(void *), void *arg)
{
	uint64_t z, a, b;

	assert_true((z = requests_answered_apart()) != 0);
	assert_true((a = requests_answered_apart()) != 0);
	fn(arg);
	assert_true((b = requests_answered_apart()) != 0);
	return (b - a) - (a - z);
}

struct hit {
	struct pool *p;
	pool_off_t off;
	int rc;
};

static void
hit_here(void *arg)
{
	struct hit *h = arg;

	h->rc = pool_alloc_wait(h->p, BLOCK, 0, 0, LONG_WAIT_MS, &h->off);
}

static void
hit_in_part_thread(void *arg)
{
	struct part_thread *pt = arg;

	pthread_barrier_wait(&pt->go);
	assert_int_equal(pthread_join(pt->t, NULL), 0);
}

static void
wait_over_by_its_thread(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	static struct part_thread pt;
	pool_off_t mine = POOL_OFF_NONE;
	struct hit h = {0};
	const char *budget = getenv("POOLMGR_CLIENT_CACHE");
	uint64_t n;

	(void)state;
	/* The connection's budget bounds the handle's: no cache, no hit. */
	if (budget && strcmp(budget, "0") == 0)
		skip();
	EXPECT_RC(pool_create(conn, "overthread", &o), 0);
	EXPECT_RC(pool_open(conn, "overthread", &pt.p), 0);
	EXPECT_RC(pool_set_cache(pt.p, 4 * MiB), 0);
	EXPECT_RC(pool_alloc(pt.p, BLOCK, &mine), 0);
	full_make(&f, "overthread", 0, BLOCK);
	assert_int_equal(pthread_barrier_init(&pt.ran_out, NULL, 2), 0);
	assert_int_equal(pthread_barrier_init(&pt.go, NULL, 2), 0);
	assert_int_equal(pthread_create(&pt.t, NULL, part_then_hit, &pt), 0);
	pthread_barrier_wait(&pt.ran_out);
	EXPECT_RC(pt.part_rc, -ETIMEDOUT);

	EXPECT_RC(pool_free(pt.p, mine), 0);
	h.p = pt.p;
	n = requests_across(hit_here, &h);
	EXPECT_RC(h.rc, 0);
	assert_int_equal(h.off, mine);
	if (n != 0)
		fail_msg("another thread's cache hit made %llu requests (a "
			 "WaitOver for the part's place), not none",
			 (unsigned long long)n);

	EXPECT_RC(pool_free(pt.p, h.off), 0);
	n = requests_across(hit_in_part_thread, &pt);
	EXPECT_RC(pt.hit_rc, 0);
	assert_int_equal(pt.off, mine);
	if (n != 1)
		fail_msg("the part's own thread's cache hit made %llu "
			 "requests, not its WaitOver alone",
			 (unsigned long long)n);
	pthread_barrier_destroy(&pt.ran_out);
	pthread_barrier_destroy(&pt.go);
	EXPECT_RC(pool_free(pt.p, pt.off), 0);
	pool_close(pt.p);
	full_end(&f, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(woken_by_free),
		cmocka_unit_test(timeout),
		cmocka_unit_test_teardown(woken_by_each_kind_of_room,
					  conf_restored),
		cmocka_unit_test(order_and_partial),
		cmocka_unit_test_teardown(bound, conf_restored),
		cmocka_unit_test_teardown(bound_per_uid, conf_restored),
		cmocka_unit_test_teardown(bound_lowered, conf_restored),
		cmocka_unit_test_teardown(bound_per_uid_lowered,
					  conf_restored),
		cmocka_unit_test(pool_destroyed),
		cmocka_unit_test(restart_in_place),
		cmocka_unit_test(restart_timeout_words),
		cmocka_unit_test(edge_arguments),
		cmocka_unit_test(own_cache_first),
		/* Review of the waiting allocations' books. */
		cmocka_unit_test(waits_checked),
		cmocka_unit_test(later_one_behind),
		cmocka_unit_test(cached_one_behind),
		cmocka_unit_test(plain_one_behind),
		cmocka_unit_test(refills_while_waiting),
		cmocka_unit_test_teardown(share_one_behind, conf_restored),
		cmocka_unit_test_teardown(behind_in_their_order,
					  conf_restored),
		cmocka_unit_test_teardown(counted_within_the_bound,
					  conf_restored),
		cmocka_unit_test(room_for_the_gone),
		cmocka_unit_test(producer_example_waits),
		cmocka_unit_test(served_while_held),
		cmocka_unit_test(waits_under_the_user_quota),
		cmocka_unit_test(woken_by_a_close_under_the_user_quota),
		cmocka_unit_test(waits_under_the_quota_per_connection),
		cmocka_unit_test(
			woken_by_a_charge_moved_under_the_quota_per_connection),
		cmocka_unit_test_teardown(zeroed_in_steps, conf_restored),
		cmocka_unit_test_teardown(zeroed_in_steps_destroyed,
					  conf_restored),
		cmocka_unit_test(parts_keep_their_place),
		cmocka_unit_test(kept_place_after_room),
		cmocka_unit_test(kept_place_let_go_by_a_batch),
		cmocka_unit_test(kept_place_let_go_by_a_realloc),
		cmocka_unit_test(realloc_none_behind),
		cmocka_unit_test(realloc_moved_behind),
		cmocka_unit_test(realloc_grown_behind),
		cmocka_unit_test(batch_behind),
		cmocka_unit_test(kept_place_let_go_by_the_cache),
		cmocka_unit_test(refill_behind_bounded),
		cmocka_unit_test(cache_hit_beside_a_part),
		cmocka_unit_test(refill_after_a_part),
		cmocka_unit_test(wait_over_keeps_the_words),
		cmocka_unit_test(wait_over_by_its_thread),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
