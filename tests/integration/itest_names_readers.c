/*
 * itest_names_readers.c - readers of published frames on read-only
 * handles hold references: the frame they read stays theirs across a
 * replace, and they drop only their own references.
 *
 * The pool is 0640, group 65534; the test (root) is the producer, and the
 * reader a child process as uid 65534 in group 65534, which may open the
 * pool read-only and not read-write.  Frames are published under one name
 * with the producer's own reference dropped: the name holds them.
 *
 *   hold_across_replace      the reader looks the frame up with retain;
 *       the producer replaces it and allocates a frame's size again: the
 *       old frame stays live, at its place, and the reader reads its bytes
 *       intact; once the reader frees its reference the old frame goes;
 *       its second Free is -EACCES;
 *   hold_across_restart      the same with a restart in place between the
 *       replace and the reader's look: the reader's hold came back;
 *   frees_only_its_own       a reader holding the frame (Lookup with
 *       retain) and a block of the producer's (Retain) may not free a
 *       persistent block it does not hold, nor an offset of no block, nor
 *       a batch with such a block beside one of its own: -EACCES; a batch
 *       naming its own block twice is -EINVAL and counts no invalid free
 *       (where it counted one); the pool's statistics and its holds are
 *       as before; its own references go, by Free and by FreeBatch, once
 *       each;
 *   dropped_on_kill          a reader killed by SIGKILL while holding a
 *       replaced frame and a block the producer freed: both go;
 *   dropped_on_close         the same for a reader that closes its handle
 *       and stays connected;
 *   still_cannot_write       a reader holding references still cannot
 *       allocate, realloc (nor free by a realloc to 0), persist, publish,
 *       replace or unpublish: -EACCES, nothing changed.
 *
 * Each step is skipped, with a reason, when the test is not root.  The
 * reader reports through its exit code (each failed check its own, and a
 * line on stderr); it and the test speak over two pipes.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define POOL		"frames"
#define CONF		"[pool frames]\nsize = 4M\nmode = 0640\n" \
			"group = 65534\n"
#define READER_ID	65534
#define FRAME		8192
#define NAME		"frame"
#define CHILD_ALARM	60
#define POLL_MS		50
#define POLL_TRIES	200	/* 10 s for the daemon to drop a reader's */

static struct daemon_proc d;

/* The reader's pipes: to[1] the test's, from[1] the reader's. */
struct link {
	int to[2], from[2];
	pid_t pid;
	int (*step)(struct link *);	/* what the reader does */
	uint64_t offs[2];		/* offsets the test gives it */
};

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, CONF) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		assert_int_equal(harness_stop(&d), 0);
	return 0;
}

/* A frame of FRAME bytes of fill, published under NAME, held by the name. */
static pool_off_t
publish_frame(struct pool *p, int fill, int replace)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, FRAME, &off), 0);
	memset(pool_ptr(p, off), fill, FRAME);
	if (replace)
		EXPECT_RC(pool_publish_replace(p, off, NAME), 0);
	else
		EXPECT_RC(pool_publish(p, off, NAME), 0);
	EXPECT_RC(pool_free(p, off), 0);
	return off;
}

static void
producer_open(struct pool_conn **c, struct pool **p)
{
	EXPECT_RC(pool_connect(d.sock, c), 0);
	EXPECT_RC(pool_open(*c, POOL, p), 0);
	/* Counted blocks are the test's only: none kept in a cache. */
	EXPECT_RC(pool_set_cache(*p, 0), 0);
}

/* ---- the reader's side ---------------------------------------------- */

static int
tell(struct link *l, uint64_t v)
{
	return harness_write_full(l->from[1], &v, sizeof(v));
}

/* Wait for the test's go; 0, or -1 at its end of the pipe. */
static int
await(struct link *l)
{
	char go;

	return harness_read_full(l->to[0], &go, 1);
}

static int
frame_is(struct pool *p, pool_off_t off, int fill)
{
	const unsigned char *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < FRAME; i++)
		if (b[i] != fill)
			return 0;
	return 1;
}

/* Connect and open read-only, as the pool's mode allows uid 65534. */
static int
reader_open(struct pool_conn **c, struct pool **ro)
{
	struct pool *rw = NULL;

	CHECK_RC(pool_connect(d.sock, c), 0, 2);
	CHECK_RC(pool_open(*c, POOL, &rw), -EACCES, 3);
	CHECK_RC(pool_open_readonly(*c, POOL, ro), 0, 4);
	return 0;
}

static int
reader_main(void *arg)
{
	struct link *l = arg;

	alarm(CHILD_ALARM);
	harness_close_fd(&l->to[1]);
	harness_close_fd(&l->from[0]);
	if (harness_read_full(l->to[0], l->offs, sizeof(l->offs)) != 0)
		return 1;
	return l->step(l);
}

/* ---- the test's side ------------------------------------------------ */

/* Start the reader, give it offs (0 where none). */
static void
reader_start(struct link *l, int (*step)(struct link *), uint64_t a,
	     uint64_t b)
{
	harness_skip_unless_root("run a reader as uid 65534");
	assert_int_equal(pipe(l->to), 0);
	assert_int_equal(pipe(l->from), 0);
	l->step = step;
	l->offs[0] = a;
	l->offs[1] = b;
	l->pid = harness_spawn_as(READER_ID, READER_ID, reader_main, l);
	assert_true(l->pid > 0);
	harness_close_fd(&l->to[0]);
	harness_close_fd(&l->from[1]);
	assert_int_equal(harness_write_full(l->to[1], l->offs,
					    sizeof(l->offs)), 0);
}

/* The reader's next word; the test fails, with its exit, if none comes. */
static uint64_t
hear(struct link *l)
{
	uint64_t v;
	int rc;

	if (harness_read_full(l->from[0], &v, sizeof(v)) == 0)
		return v;
	harness_close_fd(&l->to[1]);
	rc = harness_wait(l->pid);
	l->pid = 0;
	fail_msg("the reader ended before its report: exit %d", rc);
	return 0;
}

static void
go(struct link *l)
{
	assert_int_equal(harness_write_full(l->to[1], "g", 1), 0);
}

/* The reader's end: its exit code must be want. */
static void
reader_end(struct link *l, int want)
{
	harness_close_fd(&l->to[1]);
	assert_int_equal(harness_wait(l->pid), want);
	harness_close_fd(&l->from[0]);
	l->pid = 0;
}

/* Poll until the pool has live blocks (the daemon drops a dead
 * reader's references when its loop reads the EOF). */
static void
wait_live(struct pool *p, uint64_t live)
{
	struct pool_stats st;
	int i;

	for (i = 0; i < POLL_TRIES; i++) {
		st = harness_stats(p);
		if (st.live_blocks == live)
			return;
		harness_sleep_ms(POLL_MS);
	}
	fail_msg("after %d ms the pool still has %llu live blocks, "
		 "expected %llu", POLL_TRIES * POLL_MS,
		 (unsigned long long)st.live_blocks,
		 (unsigned long long)live);
}

/* The reader's handle in the clients' listing: its references. */
static uint64_t
reader_blocks(struct pool_conn *c)
{
	struct pool_client_info *ci;
	uint64_t blocks = UINT64_MAX;
	size_t n, i;

	EXPECT_RC(pool_clients(c, POOL, &ci, &n), 0);
	for (i = 0; i < n; i++)
		if (ci[i].uid == READER_ID) {
			assert_true(ci[i].read_only);
			blocks = ci[i].blocks;
		}
	free(ci);
	return blocks;
}

/* ---- hold_across_replace, hold_across_restart ----------------------- */

static int
hold_reader(struct link *l)
{
	struct pool_conn *c;
	struct pool *ro;
	pool_off_t off;
	size_t usable = 0;
	int rc;

	if ((rc = reader_open(&c, &ro)))
		return rc;
	CHECK_RC(pool_lookup_retain(ro, NAME, &off, &usable), 0, 10);
	CHECK(usable >= FRAME && frame_is(ro, off, 'A'), 11);
	CHECK(tell(l, off) == 0, 12);
	CHECK(await(l) == 0, 13);
	/* Replaced meanwhile, its size allocated again: still ours. */
	CHECK(frame_is(ro, off, 'A'), 14);
	CHECK_RC(pool_free(ro, off), 0, 15);
	CHECK_RC(pool_free(ro, off), -EACCES, 16);
	CHECK(tell(l, off) == 0, 17);
	CHECK(await(l) == 0, 18);
	pool_close(ro);
	pool_disconnect(c);
	return 0;
}

static void
hold_across(int restart)
{
	struct pool_conn *c;
	struct pool *p;
	struct link l;
	pool_off_t a, b, x;
	size_t usable;

	producer_open(&c, &p);
	a = publish_frame(p, 'A', 0);
	reader_start(&l, hold_reader, 0, 0);
	assert_int_equal(hear(&l), a);
	assert_int_equal(reader_blocks(c), 1);

	b = publish_frame(p, 'B', 1);
	/* The old frame's place is taken by nobody: the reader holds it. */
	EXPECT_RC(pool_alloc(p, FRAME, &x), 0);
	assert_true(x != a);
	memset(pool_ptr(p, x), 'X', FRAME);
	if (restart) {
		assert_int_equal(harness_restart_in_place(&d), 0);
		assert_int_equal(reader_blocks(c), 1);
	}
	assert_int_equal(harness_stats(p).live_blocks, 3);
	assert_int_equal(harness_stats(p).named_blocks, 1);
	EXPECT_RC(pool_usable_size(p, a, &usable), 0);
	go(&l);
	assert_int_equal(hear(&l), a);
	/* Its last reference went: the old frame is gone. */
	EXPECT_RC(pool_usable_size(p, a, &usable), -EINVAL);
	assert_int_equal(harness_stats(p).live_blocks, 2);
	assert_int_equal(reader_blocks(c), 0);
	EXPECT_RC(pool_lookup(p, NAME, &x, NULL), 0);
	assert_int_equal(x, b);
	go(&l);
	reader_end(&l, 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

static void
hold_across_replace(void **state)
{
	(void)state;
	hold_across(0);
}

static void
hold_across_restart(void **state)
{
	(void)state;
	hold_across(1);
}

/* ---- frees_only_its_own --------------------------------------------- */

static int
same_stats(const struct pool_stats *a, const struct pool_stats *b)
{
	return a->live_blocks == b->live_blocks &&
	       a->persistent_blocks == b->persistent_blocks &&
	       a->named_blocks == b->named_blocks &&
	       a->allocated_bytes == b->allocated_bytes &&
	       a->frees == b->frees && a->invalid_frees == b->invalid_frees;
}

static int
own_reader(struct link *l)
{
	struct pool_conn *c;
	struct pool *ro;
	struct pool_stats before, after;
	pool_off_t a, held = l->offs[0], kept = l->offs[1], two[2];
	int rc;

	if ((rc = reader_open(&c, &ro)))
		return rc;
	CHECK_RC(pool_lookup_retain(ro, NAME, &a, NULL), 0, 10);
	CHECK_RC(pool_retain(ro, held), 0, 11);
	CHECK_RC(pool_stats(ro, &before), 0, 12);

	/* A persistent block it does not hold: a writer's Free would end
	 * its persistence. */
	CHECK_RC(pool_free(ro, kept), -EACCES, 20);
	CHECK_RC(pool_free(ro, a + 16), -EACCES, 21);
	CHECK_RC(pool_free(ro, 1 << 20), -EACCES, 22);
	two[0] = a;
	two[1] = kept;
	CHECK_RC(pool_free_batch(ro, 2, two), -EACCES, 23);
	/* Its own block twice: refused as a writer's double free is, but
	 * counted as none, which would be writing the pool's books. */
	two[1] = a;
	CHECK_RC(pool_free_batch(ro, 2, two), -EINVAL, 24);
	CHECK_RC(pool_stats(ro, &after), 0, 25);
	CHECK(same_stats(&before, &after), 26);

	/* Its own go, once each: the batch dropped none above. */
	CHECK_RC(pool_free(ro, a), 0, 30);
	CHECK_RC(pool_free(ro, a), -EACCES, 31);
	CHECK_RC(pool_free_batch(ro, 1, &held), 0, 32);
	CHECK_RC(pool_free(ro, held), -EACCES, 33);
	CHECK(tell(l, 0) == 0, 34);
	CHECK(await(l) == 0, 35);
	pool_close(ro);
	pool_disconnect(c);
	return 0;
}

static void
frees_only_its_own(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct link l;
	pool_off_t a, held, kept, x;
	size_t usable;

	(void)state;
	producer_open(&c, &p);
	a = publish_frame(p, 'A', 0);
	EXPECT_RC(pool_alloc(p, 100, &held), 0);
	EXPECT_RC(pool_alloc(p, 200, &kept), 0);
	EXPECT_RC(pool_persist(p, kept), 0);
	EXPECT_RC(pool_free(p, kept), 0);	/* its reference: kept stays */
	reader_start(&l, own_reader, held, kept);
	hear(&l);
	assert_int_equal(reader_blocks(c), 0);
	assert_int_equal(harness_stats(p).live_blocks, 3);
	assert_int_equal(harness_stats(p).persistent_blocks, 2);
	EXPECT_RC(pool_lookup(p, NAME, &x, NULL), 0);
	assert_int_equal(x, a);
	/* held is the producer's alone again: its Free frees it. */
	EXPECT_RC(pool_free(p, held), 0);
	EXPECT_RC(pool_usable_size(p, held, &usable), -EINVAL);
	go(&l);
	reader_end(&l, 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- dropped_on_kill, dropped_on_close ------------------------------ */

/* Hold the frame and offs[0]; at the go, close (offs[1] set) and say so. */
static int
dying_reader(struct link *l)
{
	struct pool_conn *c;
	struct pool *ro;
	pool_off_t a;
	int rc;

	if ((rc = reader_open(&c, &ro)))
		return rc;
	CHECK_RC(pool_lookup_retain(ro, NAME, &a, NULL), 0, 10);
	CHECK_RC(pool_retain(ro, l->offs[0]), 0, 11);
	CHECK(tell(l, a) == 0, 12);
	CHECK(await(l) == 0, 13);	/* killed here, or told to close */
	pool_close(ro);
	CHECK(tell(l, 0) == 0, 14);
	CHECK(await(l) == 0, 15);
	pool_disconnect(c);
	return 0;
}

static void
dropped_when(int kill_it)
{
	struct pool_conn *c;
	struct pool *p;
	struct link l;
	pool_off_t a, held;

	producer_open(&c, &p);
	a = publish_frame(p, 'A', 0);
	EXPECT_RC(pool_alloc(p, 100, &held), 0);
	reader_start(&l, dying_reader, held, 0);
	assert_int_equal(hear(&l), a);
	assert_int_equal(reader_blocks(c), 2);
	/* Replaced and freed by the producer: the reader's keep them. */
	publish_frame(p, 'B', 1);
	EXPECT_RC(pool_free(p, held), 0);
	assert_int_equal(harness_stats(p).live_blocks, 3);
	if (kill_it) {
		assert_int_equal(kill(l.pid, SIGKILL), 0);
		reader_end(&l, 128 + SIGKILL);
	} else {
		go(&l);
		hear(&l);
		assert_int_equal(reader_blocks(c), UINT64_MAX);
	}
	wait_live(p, 1);
	assert_int_equal(harness_stats(p).named_blocks, 1);
	if (!kill_it) {
		go(&l);
		reader_end(&l, 0);
	}
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

static void
dropped_on_kill(void **state)
{
	(void)state;
	dropped_when(1);
}

static void
dropped_on_close(void **state)
{
	(void)state;
	dropped_when(0);
}

/* ---- still_cannot_write --------------------------------------------- */

static int
writing_reader(struct link *l)
{
	struct pool_conn *c;
	struct pool *ro;
	struct pool_stats before, after;
	pool_off_t a, x = 0, held = l->offs[0], outs[2];
	size_t sizes[2] = {64, 64};
	int rc;

	if ((rc = reader_open(&c, &ro)))
		return rc;
	CHECK_RC(pool_lookup_retain(ro, NAME, &a, NULL), 0, 10);
	CHECK_RC(pool_retain(ro, held), 0, 11);
	CHECK_RC(pool_stats(ro, &before), 0, 12);
	CHECK_RC(pool_alloc(ro, 64, &x), -EACCES, 20);
	CHECK_RC(pool_calloc(ro, 4, 16, &x), -EACCES, 21);
	CHECK_RC(pool_alloc_batch(ro, 2, sizes, outs), -EACCES, 22);
	CHECK_RC(pool_realloc(ro, held, 4000, &x), -EACCES, 23);
	CHECK_RC(pool_realloc(ro, held, 0, &x), -EACCES, 24);
	CHECK_RC(pool_persist(ro, held), -EACCES, 25);
	CHECK_RC(pool_publish(ro, held, "mine"), -EACCES, 26);
	CHECK_RC(pool_publish_replace(ro, held, NAME), -EACCES, 27);
	CHECK_RC(pool_unpublish(ro, NAME), -EACCES, 28);
	CHECK_RC(pool_stats(ro, &after), 0, 29);
	CHECK(same_stats(&before, &after), 30);
	CHECK(after.allocs == before.allocs, 31);
	CHECK_RC(pool_lookup(ro, NAME, &x, NULL), 0, 32);
	CHECK(x == a, 33);
	CHECK_RC(pool_lookup(ro, "mine", &x, NULL), -ENOENT, 34);
	CHECK_RC(pool_free(ro, a), 0, 35);
	CHECK_RC(pool_free(ro, held), 0, 36);
	pool_close(ro);
	pool_disconnect(c);
	return 0;
}

static void
still_cannot_write(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct link l;
	pool_off_t held;

	(void)state;
	producer_open(&c, &p);
	publish_frame(p, 'A', 0);
	EXPECT_RC(pool_alloc(p, 100, &held), 0);
	reader_start(&l, writing_reader, held, 0);
	reader_end(&l, 0);
	assert_int_equal(harness_stats(p).live_blocks, 2);
	assert_int_equal(harness_stats(p).persistent_blocks, 1);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hold_across_replace, setup,
						teardown),
		cmocka_unit_test_setup_teardown(hold_across_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(frees_only_its_own, setup,
						teardown),
		cmocka_unit_test_setup_teardown(dropped_on_kill, setup,
						teardown),
		cmocka_unit_test_setup_teardown(dropped_on_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(still_cannot_write, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
