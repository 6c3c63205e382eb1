/*
 * itest_alloc_wait.c - an allocation that waits for room (pool_alloc_wait;
 * docs/protocol.md, "Waiting for room"), between real client processes:
 * what wakes a wait and what ends it, its bounds, its words and its
 * books.  Who goes first when room comes is itest_alloc_wait_order.c's,
 * a wait in parts and the place it keeps itest_alloc_wait_parts.c's; the
 * pools made full, the waiters and the daemon stopped are
 * alloc_wait_util.h's.
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
 *   restart_in_place        SIGUSR2 while one waits (20 s): the restart
 *       does not wait for it (no "waiting for a quiet moment"), the
 *       library asks the new image again, which has it waiting, and a
 *       free after the restart gives it its block;
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
 *   waits_checked           the Check request (and `poolctl check`)
 *       passes with waits held in two pools, after a waiter is killed,
 *       after a pool is destroyed under its waiter, and once served;
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
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_wait_util.h"

#define BIG		(8 * MiB)	/* freed in steps of RELEASE_STEP */
/* Zeroing and a shrink's split in small steps (reloaded by some tests). */
#define STEP_4K_CONF	"release_step = 4K\n" "[pool steps]\nsize = 16M\n"
#define SHORT_WAIT_MS	300	/* a wait meant to run out */

/* ---- waiters woken, refused or gone ------------------------------------- */

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
 * image again.  The wait was answered as the restart began, so the
 * restart did not wait for it: no "waiting for a quiet moment".
 */
static void
restarted_under(struct waiter *k)
{
	int before = waits_logged(k->pid);
	size_t at = harness_log_mark(&d);

	assert_int_equal(harness_restart_in_place(&d), 0);
	harness_expect_not_logged_since(&d, at, "waiting for a quiet moment",
					"the restart waited for a waiting "
					"allocation");
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

/*
 * out is head, then the milliseconds the daemon was asked to wait, then
 * " ms" and a newline: the library asks for what is left of the call's
 * timeout (ms) when it sends the request, a millisecond or so less on a
 * busy machine.
 */
static void
expect_waited_words(const char *out, const char *head, unsigned ms)
{
	size_t n = strlen(head);
	char *end;
	unsigned long waited;

	if (strncmp(out, head, n) != 0)
		fail_msg("\"%s\" does not begin \"%s\"", out, head);
	waited = strtoul(out + n, &end, 10);
	if (end == out + n || strcmp(end, " ms\n") != 0 || waited > ms ||
	    waited + ms / 10 < ms)
		fail_msg("\"%s\": not a wait of at most %u ms, within a "
			 "tenth of it", out, ms);
}

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
	expect_waited_words(out, "producer: alloc 6 bytes: no room came in "
			    "time; poolmgrd says: no room came for 6 bytes "
			    "in pool example in ", 1000);
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
		/* Review of the waiting allocations' books. */
		cmocka_unit_test(waits_checked),
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
	};

	return cmocka_run_group_tests(tests, alloc_wait_setup,
				      alloc_wait_teardown);
}
