/*
 * itest_crash.c - a client that dies does not leak its blocks, and blocks
 * others hold outlive it.
 *
 * A child opens the pool, allocates blocks of several sizes (small blocks
 * and a page span), persists one and sends the offsets through a pipe; the
 * parent retains another; then the child is killed with SIGKILL.  Once the
 * daemon has noticed, the child's private blocks are gone, the persistent
 * and the retained block are intact and allocated_bytes is exactly their
 * usable sizes; freeing them (the retainer its reference, any read-write
 * handle the pool's) empties the pool.  Also: freeing another handle's
 * private block is -EPERM (in one process and across processes), and a
 * client that exits without pool_close or pool_disconnect is cleaned up
 * like one that crashed.
 *
 * Children report through their exit codes (each failed check has its own
 * code and a line on stderr); the parent asserts them.  Counts are of the
 * daemon's books: every handle flushes its client cache (blocks a refill
 * brought along, blocks freed into it) before they are compared.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "poolclient.h"

#define POOL_NAME	"crash"
#define POOL_BYTES	(4 * 1024 * 1024)
#define NBLOCKS		6
#define PERSIST_IDX	2	/* the child persists this one */
#define RETAIN_IDX	5	/* the parent retains this one (a span) */
#define CHILD_ALARM	20	/* seconds: no child may hang the test */
#define POLL_MS		50
#define POLL_TRIES	40	/* ~2 s for the daemon to notice a death */

static const size_t block_sizes[NBLOCKS] = {48, 100, 1000, 4096, 10000,
					    150000};

/* What a child tells the parent about its blocks. */
struct blocks_msg {
	uint64_t off[NBLOCKS];
	uint64_t usable[NBLOCKS];
	uint32_t n;
};

/* to_parent: child -> parent; hold: parent -> child ("go on"). */
struct kid_pipes {
	int to_parent[2];
	int hold[2];
};

static struct daemon_proc daemon_proc;
static pid_t kids[8];
static int nkids;

/* ---- helpers ------------------------------------------------------------ */

static uint8_t
pattern(unsigned blk, size_t k)
{
	return (uint8_t)(0xc3 ^ (blk * 59u) ^ (unsigned)(k * 17u) ^
			 (unsigned)(k >> 8));
}

static void
fill(uint8_t *b, unsigned blk, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		b[k] = pattern(blk, k);
}

/* The index of the first byte that is not the pattern, or len. */
static size_t
first_bad(const uint8_t *b, unsigned blk, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		if (b[k] != pattern(blk, k))
			break;
	return k;
}

static void
make_pipes(struct kid_pipes *kp)
{
	assert_int_equal(pipe2(kp->to_parent, O_CLOEXEC), 0);
	assert_int_equal(pipe2(kp->hold, O_CLOEXEC), 0);
}

/* The child's ends: it writes to_parent and reads hold. */
static void
child_ends(struct kid_pipes *kp)
{
	harness_close_fd(&kp->to_parent[0]);
	harness_close_fd(&kp->hold[1]);
}

/* The parent's ends, after the fork. */
static void
parent_ends(struct kid_pipes *kp)
{
	harness_close_fd(&kp->to_parent[1]);
	harness_close_fd(&kp->hold[0]);
}

static void
close_pipes(struct kid_pipes *kp)
{
	harness_close_fd(&kp->to_parent[0]);
	harness_close_fd(&kp->to_parent[1]);
	harness_close_fd(&kp->hold[0]);
	harness_close_fd(&kp->hold[1]);
}

static pid_t
spawn_kid(int (*fn)(void *), void *arg)
{
	pid_t pid = harness_spawn(fn, arg);

	assert_true(pid > 0);
	if (nkids < (int)(sizeof(kids) / sizeof(kids[0])))
		kids[nkids++] = pid;
	return pid;
}

static int
wait_kid(pid_t pid)
{
	int i;

	for (i = 0; i < nkids; i++) {
		if (kids[i] == pid) {
			kids[i] = kids[--nkids];
			break;
		}
	}
	return harness_wait(pid);
}

static void
start_daemon(void)
{
	if (harness_start(&daemon_proc, NULL) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
}

static void
stop_daemon(void)
{
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static struct pool_conn *
connect_ok(void)
{
	struct pool_conn *c = NULL;

	EXPECT_RC(pool_connect(NULL, &c), 0);
	return c;
}

static struct pool *
open_ok(struct pool_conn *c)
{
	struct pool *p = NULL;

	EXPECT_RC(pool_open(c, POOL_NAME, &p), 0);
	return p;
}

/* Create the pool as root (trusted): 4 MiB, mode 0600. */
static void
create_pool(struct pool_conn *c)
{
	struct pool_create_opts o = {.max_size = POOL_BYTES};

	EXPECT_RC(pool_create(c, POOL_NAME, &o), 0);
}

static struct pool_stats
stats(struct pool *p)
{
	struct pool_stats st;

	EXPECT_RC(pool_flush(p), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	return st;
}

static void
check_pool(struct pool_conn *c)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, POOL_NAME, msg, sizeof(msg));

	if (rc)
		fail_msg("pool_check_by_name: %s: %s", pool_strerror(rc), msg);
}

/*
 * Poll the stats until live_blocks and clients reach what we expect (the
 * daemon sees a dead client when its event loop reads the EOF); ~2 s.
 */
static struct pool_stats
wait_for_reclaim(struct pool *p, uint64_t live, uint64_t clients)
{
	struct pool_stats st;
	int i;

	for (i = 0; i < POLL_TRIES; i++) {
		st = stats(p);
		if (st.live_blocks == live && st.clients == clients)
			return st;
		harness_sleep_ms(POLL_MS);
	}
	fail_msg("after %d ms the pool still has %llu live blocks and %llu "
		 "clients; expected %llu and %llu", POLL_TRIES * POLL_MS,
		 (unsigned long long)st.live_blocks,
		 (unsigned long long)st.clients, (unsigned long long)live,
		 (unsigned long long)clients);
	return st;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		harness_wait(kids[i]);
	}
	nkids = 0;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

/* ---- children ----------------------------------------------------------- */

/*
 * Allocate every size, fill each block, persist one, tell the parent, then
 * wait on the hold pipe (for SIGKILL: the parent never writes to it).
 */
static int
crash_child(void *arg)
{
	struct kid_pipes *kp = arg;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct blocks_msg m = {.n = NBLOCKS};
	size_t usable;
	uint8_t *b, x;
	unsigned i;

	alarm(CHILD_ALARM);
	child_ends(kp);
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, POOL_NAME, &p), 0, 11);
	for (i = 0; i < NBLOCKS; i++) {
		CHECK_RC(pool_alloc(p, block_sizes[i], &m.off[i]), 0, 12);
		CHECK_RC(pool_usable_size(p, m.off[i], &usable), 0, 13);
		CHECK(usable >= block_sizes[i], 14);
		m.usable[i] = usable;
		CHECK((b = pool_ptr(p, m.off[i])) != NULL, 15);
		fill(b, i, block_sizes[i]);
	}
	CHECK_RC(pool_persist(p, m.off[PERSIST_IDX]), 0, 16);
	/* Persisting twice is a no-op. */
	CHECK_RC(pool_persist(p, m.off[PERSIST_IDX]), 0, 17);
	CHECK_RC(pool_flush(p), 0, 21);
	CHECK(harness_write_full(kp->to_parent[1], &m, sizeof(m)) == 0, 18);
	/* Hold everything until killed; EOF means the parent gave up. */
	if (harness_read_full(kp->hold[0], &x, 1) != 0)
		return 19;
	return 20;	/* the parent never says go: it kills */
}

/* Allocate one block, tell the parent, free it ourselves when told to. */
static int
owner_child(void *arg)
{
	struct kid_pipes *kp = arg;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct blocks_msg m = {.n = 1};
	size_t usable;
	uint8_t x;

	alarm(CHILD_ALARM);
	child_ends(kp);
	CHECK_RC(pool_connect(NULL, &c), 0, 30);
	CHECK_RC(pool_open(c, POOL_NAME, &p), 0, 31);
	CHECK_RC(pool_alloc(p, 256, &m.off[0]), 0, 32);
	CHECK_RC(pool_usable_size(p, m.off[0], &usable), 0, 33);
	m.usable[0] = usable;
	fill(pool_ptr(p, m.off[0]), 0, 256);
	CHECK_RC(pool_flush(p), 0, 39);
	CHECK(harness_write_full(kp->to_parent[1], &m, sizeof(m)) == 0, 34);
	CHECK(harness_read_full(kp->hold[0], &x, 1) == 0 && x == 'G', 35);
	/* The parent's failed free changed nothing: still ours, intact. */
	CHECK(first_bad(pool_ptr(p, m.off[0]), 0, 256) == 256, 36);
	CHECK_RC(pool_free(p, m.off[0]), 0, 37);
	CHECK_RC(pool_free(p, m.off[0]), -EINVAL, 38);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * Two handles on one connection; blocks through both, one retained by the
 * other handle too.  Tell the parent, wait for go, then leave with no
 * pool_close and no pool_disconnect.
 */
static int
leaver_child(void *arg)
{
	struct kid_pipes *kp = arg;
	struct pool_conn *c = NULL;
	struct pool *p1 = NULL, *p2 = NULL;
	struct blocks_msg m = {.n = 4};
	size_t usable;
	unsigned i;
	uint8_t x;

	alarm(CHILD_ALARM);
	child_ends(kp);
	CHECK_RC(pool_connect(NULL, &c), 0, 50);
	CHECK_RC(pool_open(c, POOL_NAME, &p1), 0, 51);
	CHECK_RC(pool_open(c, POOL_NAME, &p2), 0, 52);
	for (i = 0; i < 3; i++)
		CHECK_RC(pool_alloc(p1, block_sizes[i + 2], &m.off[i]), 0, 53);
	CHECK_RC(pool_alloc(p2, 200000, &m.off[3]), 0, 54);
	CHECK_RC(pool_retain(p2, m.off[0]), 0, 55);
	for (i = 0; i < 4; i++) {
		CHECK_RC(pool_usable_size(p1, m.off[i], &usable), 0, 56);
		m.usable[i] = usable;
	}
	CHECK_RC(pool_flush(p1), 0, 59);
	CHECK_RC(pool_flush(p2), 0, 60);
	CHECK(harness_write_full(kp->to_parent[1], &m, sizeof(m)) == 0, 57);
	CHECK(harness_read_full(kp->hold[0], &x, 1) == 0 && x == 'G', 58);
	return 0;	/* exit with both handles and the connection open */
}

/* ---- tests -------------------------------------------------------------- */

static void
killed_client_blocks_reclaimed_shared_survive(void **state)
{
	struct pool_conn *c1, *c2;
	struct pool *p, *q;
	struct kid_pipes kp;
	struct blocks_msg m;
	struct pool_stats st;
	uint64_t all = 0, survivors;
	size_t usable;
	unsigned i;
	pid_t pid;
	int rc;

	(void)state;
	start_daemon();
	c1 = connect_ok();
	create_pool(c1);
	p = open_ok(c1);	/* the retainer */
	c2 = connect_ok();
	q = open_ok(c2);	/* a bystander with a read-write handle */

	make_pipes(&kp);
	pid = spawn_kid(crash_child, &kp);
	parent_ends(&kp);
	if (harness_read_full(kp.to_parent[0], &m, sizeof(m)) != 0)
		fail_msg("crash child died before sending its offsets (%d)",
			 wait_kid(pid));
	assert_int_equal(m.n, NBLOCKS);
	EXPECT_RC(pool_retain(p, m.off[RETAIN_IDX]), 0);
	/* Retaining twice is a no-op: one reference per handle. */
	EXPECT_RC(pool_retain(p, m.off[RETAIN_IDX]), 0);

	for (i = 0; i < NBLOCKS; i++)
		all += m.usable[i];
	survivors = m.usable[PERSIST_IDX] + m.usable[RETAIN_IDX];
	st = stats(p);
	assert_int_equal(st.live_blocks, NBLOCKS);
	assert_int_equal(st.allocated_bytes, all);
	assert_int_equal(st.persistent_blocks, 1);
	assert_int_equal(st.clients, 3);

	/* The child's private blocks are not ours to free. */
	EXPECT_RC(pool_free(p, m.off[0]), -EPERM);
	EXPECT_RC(pool_free(q, m.off[4]), -EPERM);
	assert_int_equal(stats(p).allocated_bytes, all);

	assert_int_equal(kill(pid, SIGKILL), 0);
	rc = wait_kid(pid);
	if (rc != 128 + SIGKILL)
		fail_msg("crash child ended with %d before it was killed", rc);
	close_pipes(&kp);

	st = wait_for_reclaim(p, 2, 2);
	assert_int_equal(st.allocated_bytes, survivors);
	assert_int_equal(st.persistent_blocks, 1);
	check_pool(c1);

	/* The survivors are live, the same size, and hold their bytes. */
	for (i = 0; i < NBLOCKS; i++) {
		rc = pool_usable_size(p, m.off[i], &usable);
		if (i == PERSIST_IDX || i == RETAIN_IDX) {
			EXPECT_RC(rc, 0);
			assert_int_equal(usable, m.usable[i]);
			assert_int_equal(first_bad(pool_ptr(p, m.off[i]), i,
						   block_sizes[i]),
					 block_sizes[i]);
			assert_int_equal(first_bad(pool_ptr(q, m.off[i]), i,
						   block_sizes[i]),
					 block_sizes[i]);
		} else {
			EXPECT_RC(rc, -EINVAL);	/* reclaimed */
		}
	}

	/* The bystander holds no reference to the retained block. */
	EXPECT_RC(pool_free(q, m.off[RETAIN_IDX]), -EPERM);
	/* The retainer drops its reference: the block goes. */
	EXPECT_RC(pool_free(p, m.off[RETAIN_IDX]), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, m.usable[PERSIST_IDX]);
	assert_int_equal(st.live_blocks, 1);
	EXPECT_RC(pool_free(p, m.off[RETAIN_IDX]), -EINVAL);

	/* Any read-write handle may drop the pool's reference. */
	EXPECT_RC(pool_free(q, m.off[PERSIST_IDX]), 0);
	st = stats(p);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	EXPECT_RC(pool_free(q, m.off[PERSIST_IDX]), -EINVAL);
	check_pool(c1);

	pool_close(q);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c1);
	stop_daemon();
}

static void
freeing_another_handles_block_is_eperm(void **state)
{
	struct pool_conn *c1, *c2;
	struct pool *a, *a2, *b;
	struct kid_pipes kp;
	struct blocks_msg m;
	pool_off_t x;
	size_t usable;
	pid_t pid;
	int rc;

	(void)state;
	start_daemon();
	c1 = connect_ok();
	create_pool(c1);
	a = open_ok(c1);
	a2 = open_ok(c1);	/* another handle on the same connection */
	c2 = connect_ok();
	b = open_ok(c2);

	/* In one process: handles, not processes or connections, own. */
	EXPECT_RC(pool_alloc(a, 500, &x), 0);
	EXPECT_RC(pool_free(b, x), -EPERM);
	EXPECT_RC(pool_free(a2, x), -EPERM);
	/* A retainer frees only its own reference. */
	EXPECT_RC(pool_retain(b, x), 0);
	EXPECT_RC(pool_free(b, x), 0);
	EXPECT_RC(pool_usable_size(b, x, &usable), 0);
	assert_true(usable >= 500);
	EXPECT_RC(pool_free(b, x), -EPERM);
	assert_int_equal(stats(a).live_blocks, 1);
	EXPECT_RC(pool_free(a, x), 0);
	EXPECT_RC(pool_free(a, x), -EINVAL);
	assert_int_equal(stats(a).allocated_bytes, 0);

	/* Across processes. */
	make_pipes(&kp);
	pid = spawn_kid(owner_child, &kp);
	parent_ends(&kp);
	if (harness_read_full(kp.to_parent[0], &m, sizeof(m)) != 0)
		fail_msg("owner child died before sending its offset (%d)",
			 wait_kid(pid));
	EXPECT_RC(pool_free(b, m.off[0]), -EPERM);
	EXPECT_RC(pool_free(a, m.off[0]), -EPERM);
	assert_int_equal(stats(a).allocated_bytes, m.usable[0]);
	assert_int_equal(harness_write_full(kp.hold[1], "G", 1), 0);
	rc = wait_kid(pid);
	if (rc != 0)
		fail_msg("owner child exited with %d", rc);
	close_pipes(&kp);
	assert_int_equal(stats(a).allocated_bytes, 0);
	assert_int_equal(stats(a).live_blocks, 0);
	check_pool(c1);

	pool_close(b);
	pool_disconnect(c2);
	pool_close(a2);
	pool_close(a);
	pool_disconnect(c1);
	stop_daemon();
}

static void
client_exiting_without_close_is_reclaimed(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct kid_pipes kp;
	struct blocks_msg m;
	struct pool_stats st;
	uint64_t all = 0;
	unsigned i;
	pid_t pid;
	int rc;

	(void)state;
	start_daemon();
	c = connect_ok();
	create_pool(c);
	p = open_ok(c);

	make_pipes(&kp);
	pid = spawn_kid(leaver_child, &kp);
	parent_ends(&kp);
	if (harness_read_full(kp.to_parent[0], &m, sizeof(m)) != 0)
		fail_msg("leaving child died before sending its offsets (%d)",
			 wait_kid(pid));
	assert_int_equal(m.n, 4);
	for (i = 0; i < m.n; i++)
		all += m.usable[i];
	st = stats(p);
	assert_int_equal(st.live_blocks, 4);
	assert_int_equal(st.allocated_bytes, all);
	assert_int_equal(st.clients, 3);

	assert_int_equal(harness_write_full(kp.hold[1], "G", 1), 0);
	rc = wait_kid(pid);
	if (rc != 0)
		fail_msg("leaving child exited with %d", rc);
	close_pipes(&kp);

	st = wait_for_reclaim(p, 0, 1);
	assert_int_equal(st.allocated_bytes, 0);
	for (i = 0; i < m.n; i++) {
		size_t usable;

		EXPECT_RC(pool_usable_size(p, m.off[i], &usable), -EINVAL);
	}
	check_pool(c);

	/* The space is usable again: the largest block fits once more. */
	EXPECT_RC(pool_alloc(p, 200000, &m.off[0]), 0);
	EXPECT_RC(pool_free(p, m.off[0]), 0);

	pool_close(p);
	pool_disconnect(c);
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			killed_client_blocks_reclaimed_shared_survive,
			teardown),
		cmocka_unit_test_teardown(
			freeing_another_handles_block_is_eperm, teardown),
		cmocka_unit_test_teardown(
			client_exiting_without_close_is_reclaimed, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
