/*
 * itest_drop.c - a handle closed holding many blocks (pool_close, or its
 * client disconnecting or dying) drops its references a step at a time
 * (daemon/pool_release.c), and nothing outside can tell, except that other
 * clients are not kept waiting.  The daemon runs with drop_step = 64, so a
 * handle of 20,000 blocks takes about 300 loop turns.
 *
 *   dead_clients_blocks_are_gone      a child holding 20,000 blocks, one of
 *       them retained by us and one persisted, is killed.  As soon as
 *       poolctl's client list no longer shows it: its blocks are no blocks
 *       (usable size and retain say -EINVAL), ours and the persisted one
 *       are whole, and once we free ours the pool holds just the persisted
 *       block and passes its check.
 *   full_pool_waits_for_the_dead      a child fills a 4 MiB pool with 64 B
 *       blocks and is killed; a 3 MiB allocation right after succeeds and
 *       failed_allocs counts only the child's own refusals.
 *   closed_handle_frees_its_session   with a 1 MiB quota and
 *       max_blocks_per_session = 12000, 12,000 blocks allocated and the
 *       handle closed: a new handle on the same connection gets 12,000
 *       blocks again at once (the session's quota and block count let go
 *       with the close), and the pool settles to nothing.
 *   destroy_and_stop_while_dropping   a force-destroy of a pool whose dead
 *       client's handle is still dropping, then the daemon stopped right
 *       after another client disconnects holding 20,000 blocks: both
 *       succeed and the daemon exits cleanly (no leak under ASan).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define NBLOCKS 20000
#define DROP_CONF "drop_step = 64\n"

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;
};

static struct fixture fx;

static void
start(const char *conf)
{
	assert_int_equal(harness_start(&fx.d, conf), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, "p", &fx.pool), 0);
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
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
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/*
 * Allocate n 64-byte blocks in batches of up to max (n = 0: until the pool
 * is full); the first two offsets in first[0], first[1].  0 or -errno.
 */
static int
alloc_many(struct pool *p, size_t n, size_t max, pool_off_t first[2])
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	size_t done = 0;

	for (size_t i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	while (n == 0 || done < n) {
		size_t k = n && n - done < max ? n - done : max;
		int rc = pool_alloc_batch(p, k, sizes, offs);

		if (rc == -ENOMEM && n == 0 && max > 1) {
			max /= 2;	/* the last few, in smaller batches */
			continue;
		}
		if (rc)
			return n == 0 && rc == -ENOMEM && done >= 2 ? 0 : rc;
		if (done == 0) {
			first[0] = offs[0];
			first[1] = k > 1 ? offs[1] : POOL_OFF_NONE;
		}
		done += k;
	}
	return 0;
}

/*
 * A child that opens pool "p", allocates and persists one block, then
 * allocates n more (as many as fit if n is 0), sends the first two of
 * those and the persisted one's offsets down the pipe (offs[0..2]) and
 * waits to be killed.
 */
static pid_t
holder_start(size_t n, pool_off_t offs[3])
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct pool_conn *c;
		struct pool *p;

		close(fds[0]);
		if (pool_connect(fx.d.sock, &c) || pool_open(c, "p", &p) ||
		    pool_set_cache(p, 0))
			_exit(1);
		if (pool_alloc(p, 64, &offs[2]) || pool_persist(p, offs[2]) ||
		    alloc_many(p, n, POOL_BATCH_MAX, offs))
			_exit(2);
		if (harness_write_full(fds[1], offs, 3 * sizeof(*offs)))
			_exit(3);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(harness_read_full(fds[0], offs, 3 * sizeof(*offs)),
			 0);
	close(fds[0]);
	return pid;
}

/* Kill the child and wait until the daemon has closed its session. */
static void
holder_kill(pid_t pid)
{
	struct pool_client_info *ci;
	size_t n, i;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	for (int tries = 0; tries < 5000; tries++) {
		assert_int_equal(pool_clients(fx.conn, "p", &ci, &n), 0);
		for (i = 0; i < n && ci[i].pid != (uint32_t)pid; i++)
			;
		free(ci);
		if (i == n)
			return;
		harness_sleep_ms(1);
	}
	fail_msg("the daemon still lists client %d after 5 s", (int)pid);
}

static struct pool_stats
stats(void)
{
	struct pool_stats st;

	assert_int_equal(pool_stats(fx.pool, &st), 0);
	return st;
}

static void
check_ok(void)
{
	char msg[256] = "";

	assert_int_equal(pool_check_by_name(fx.conn, "p", msg, sizeof(msg)),
			 0);
}

static void
dead_clients_blocks_are_gone(void **state)
{
	pool_off_t offs[3], mine;
	struct pool_stats st;
	size_t usable;
	pid_t pid;

	(void)state;
	start(DROP_CONF "[pool p]\nsize = 64M\n");
	pid = holder_start(NBLOCKS, offs);
	/* The child's first block, shared with us. */
	assert_int_equal(pool_retain(fx.pool, offs[0]), 0);
	mine = offs[0];
	holder_kill(pid);

	/* Its last-allocated blocks go first: look at one of its earliest. */
	EXPECT_RC(pool_usable_size(fx.pool, offs[1], &usable), -EINVAL);
	EXPECT_RC(pool_retain(fx.pool, offs[1]), -EINVAL);
	assert_int_equal(pool_usable_size(fx.pool, offs[2], &usable), 0);
	assert_int_equal(usable, 64);
	assert_int_equal(pool_usable_size(fx.pool, mine, &usable), 0);
	memset(pool_ptr(fx.pool, mine), 0x5a, 64);
	assert_int_equal(pool_free(fx.pool, mine), 0);

	st = stats();
	assert_int_equal(st.live_blocks, 1);	/* the persisted one */
	assert_int_equal(st.allocated_bytes, 64);
	assert_int_equal(st.failed_allocs, 0);
	check_ok();
}

static void
full_pool_waits_for_the_dead(void **state)
{
	pool_off_t offs[3], off;
	struct pool_stats st;
	uint64_t failed;
	pid_t pid;

	(void)state;
	start(DROP_CONF "[pool p]\nsize = 4M\nretain = 0\n");
	pid = holder_start(0, offs);
	failed = stats().failed_allocs;	/* the child's, filling the pool */
	holder_kill(pid);
	assert_int_equal(pool_alloc(fx.pool, 3 << 20, &off), 0);
	memset(pool_ptr(fx.pool, off), 1, 3 << 20);
	st = stats();
	assert_int_equal(st.failed_allocs, failed);
	assert_int_equal(st.live_blocks, 2);	/* ours and the persisted */
	assert_int_equal(pool_free(fx.pool, off), 0);
	check_ok();
}

static void
closed_handle_frees_its_session(void **state)
{
	pool_off_t first[2];
	struct pool_stats st;

	(void)state;
	start(DROP_CONF "max_blocks_per_session = 12000\n"
	      "[pool p]\nsize = 8M\nquota = 1M\n");
	assert_int_equal(alloc_many(fx.pool, 12000, POOL_BATCH_MAX, first),
			 0);
	EXPECT_RC(pool_alloc(fx.pool, 64, &first[0]), -EDQUOT);
	pool_close(fx.pool);
	assert_int_equal(pool_open(fx.conn, "p", &fx.pool), 0);
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	assert_int_equal(alloc_many(fx.pool, 12000, POOL_BATCH_MAX, first),
			 0);
	st = stats();
	assert_int_equal(st.live_blocks, 12000);
	pool_close(fx.pool);
	assert_int_equal(pool_open(fx.conn, "p", &fx.pool), 0);
	st = stats();
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	check_ok();
}

static void
destroy_and_stop_while_dropping(void **state)
{
	struct pool_create_opts o = {.max_size = 16 << 20};
	pool_off_t offs[3];
	struct pool *p;
	pid_t pid;

	(void)state;
	start(DROP_CONF "[pool p]\nsize = 64M\n");
	pid = holder_start(NBLOCKS, offs);
	holder_kill(pid);
	assert_int_equal(pool_destroy_force(fx.conn, "p"), 0);
	pool_close(fx.pool);	/* its handle went with the pool */
	fx.pool = NULL;

	assert_int_equal(pool_create(fx.conn, "q", &o), 0);
	assert_int_equal(pool_open(fx.conn, "q", &p), 0);
	assert_int_equal(pool_set_cache(p, 0), 0);
	assert_int_equal(alloc_many(p, NBLOCKS, POOL_BATCH_MAX, offs), 0);
	pool_close(p);
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
	fx.d.pid = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(dead_clients_blocks_are_gone,
					  teardown),
		cmocka_unit_test_teardown(full_pool_waits_for_the_dead,
					  teardown),
		cmocka_unit_test_teardown(closed_handle_frees_its_session,
					  teardown),
		cmocka_unit_test_teardown(destroy_and_stop_while_dropping,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
