/*
 * itest_sharemap_renew.c - after a restart in place (SIGUSR2) a handle
 * opened before takes up the new image's share map (ShareMap) and caches
 * again; the frozen map goes.  The test process is the caching client;
 * raw clients retain, and ask what a library would not.
 *
 *   caches_again_after_restart        right after the restart the map the
 *       handle maps reads all set, state 0 and "replaced" 1 (what a
 *       library that never asks keeps); the handle's next free renews it:
 *       frees are kept again (the daemon's frees counter stays, with the
 *       cache on), the process maps one share map of the pool, the
 *       daemon's current one, not the frozen one; a block another client
 *       retains is still not handed out again by the holder's cache.
 *   restart_twice_renews_twice        a renewed map frozen by the next
 *       restart is renewed again, and so is one frozen twice before the
 *       handle looked.
 *   threads_renew_once                four threads of the handle free at
 *       once after the restart: one map is mapped after, the daemon's,
 *       and the frees that follow are kept.
 *   exec_failure_then_restart         a restart whose exec fails (the
 *       binary deleted) leaves the handle's map as it was: same map,
 *       "replaced" 0, frees kept; the binary put back, the next restart
 *       is taken up as usual.
 *   share_map_refusals                ShareMap on handle 0, a bogus, a
 *       closed and a read-only handle: -EBADF, -EBADF, -EBADF, -EACCES,
 *       nothing sent with them; on a read-write handle: the map's size;
 *       the daemon serves on.
 *   old_client_carries_on             a raw client that never asks
 *       (another library) allocates, frees and retains across the
 *       restart as before, beside a handle that renews and caches again.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"

#define POOL_SIZE	(4u << 20)
#define GRANULE		16u
#define NBLOCKS		32

static struct {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;
} fx;

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	if (harness_start(&fx.d, "[pool r]\nsize = 4M\n") != 0)
		return -1;
	if (pool_connect(fx.d.sock, &fx.conn) != 0 ||
	    pool_open(fx.conn, "r", &fx.pool) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	int rc;

	(void)state;
	if (fx.pool)
		pool_close(fx.pool);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (!fx.d.pid)
		return -1;
	rc = harness_stop(&fx.d);
	harness_remove_dir(&fx.d);
	return rc == 0 ? 0 : -1;
}

static void
restart(void)
{
	if (harness_restart_in_place(&fx.d) != 0)
		fail_msg("poolmgrd did not restart in place");
}

/* The bytes of the map's bits: the state page follows them. */
static size_t
bits_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return ((POOL_SIZE / GRANULE + 7) / 8 + page - 1) & ~(page - 1);
}

/*
 * The one share map of pool r this process maps must be the daemon's
 * own now, not the one before (old): the frozen map is gone.
 */
static unsigned long
expect_current_map(unsigned long old)
{
	unsigned long ino = 0, daemons = harness_daemon_share_map(fx.d.pid,
								 "r");
	int n = harness_share_maps("r", &ino, NULL);

	print_message("share maps of r mapped: %d, inode %lu (before %lu, "
		      "the daemon's %lu)\n", n, ino, old, daemons);
	assert_int_equal(n, 1);
	assert_true(ino != old);
	assert_int_equal(ino, daemons);
	return ino;
}

/* Frees of blocks the handle holds alone: kept, with the cache on. */
static void
expect_frees_kept(const pool_off_t *off, size_t n)
{
	struct pool_stats s0, s1;
	size_t i;

	EXPECT_RC(pool_stats(fx.pool, &s0), 0);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(fx.pool, off[i]), 0);
	EXPECT_RC(pool_stats(fx.pool, &s1), 0);
	print_message("cache %s: %zu frees, the daemon counted %" PRIu64
		      "\n", harness_client_cache() ? "on" : "off", n,
		      s1.frees - s0.frees);
	if (harness_client_cache())
		assert_int_equal(s1.frees, s0.frees);
	else
		assert_int_equal(s1.frees - s0.frees, n);
}

static void
alloc_blocks(pool_off_t *off, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		EXPECT_RC(pool_alloc(fx.pool, 64, &off[i]), 0);
}

/* Block x of ours, retained by a raw client: never handed out again. */
static void
expect_sharing_works(void)
{
	pool_off_t x;
	uint32_t h;
	int fd = harness_raw_client(fx.d.sock, "retainer");

	h = harness_raw_handle(fd, "r");
	EXPECT_RC(pool_alloc(fx.pool, 64, &x), 0);
	EXPECT_RAW(harness_raw_retain(fd, h, x), 0);
	harness_expect_kept_shared(fx.pool, x, fd, h);
	close(fd);
}

static void
caches_again_after_restart(void **state)
{
	pool_off_t off[NBLOCKS];
	const uint8_t *map;
	const uint64_t *words;
	unsigned long ino0 = 0, ino;
	void *at = NULL;
	size_t i;

	(void)state;
	alloc_blocks(off, NBLOCKS);
	/* Half freed before: kept, and reused after. */
	for (i = 0; i < NBLOCKS / 2; i++)
		EXPECT_RC(pool_free(fx.pool, off[i]), 0);
	assert_int_equal(harness_share_maps("r", &ino0, &at), 1);
	map = at;
	words = (const uint64_t *)(map + bits_len());
	assert_int_equal(words[1], 0);

	restart();
	/* Nothing asked yet: what a library that never asks keeps. */
	for (i = 0; i < bits_len(); i++)
		if (map[i] != 0xff)
			fail_msg("byte %zu of the frozen map: %#x", i, map[i]);
	assert_int_equal(words[0], 0);
	assert_int_equal(words[1], 1);

	expect_frees_kept(off + NBLOCKS / 2, NBLOCKS / 2);
	ino = expect_current_map(ino0);
	assert_int_equal(words[1], 0);
	/* Whatever the cache kept is still there to use, and to free. */
	alloc_blocks(off, NBLOCKS);
	expect_frees_kept(off, NBLOCKS);
	expect_sharing_works();
	assert_int_equal(harness_share_maps("r", NULL, NULL), 1);
	assert_int_equal(harness_daemon_share_map(fx.d.pid, "r"), ino);
}

static void
restart_twice_renews_twice(void **state)
{
	pool_off_t off[NBLOCKS];
	unsigned long ino0 = 0, ino1, ino2;

	(void)state;
	alloc_blocks(off, NBLOCKS);
	assert_int_equal(harness_share_maps("r", &ino0, NULL), 1);
	restart();
	expect_frees_kept(off, NBLOCKS);
	ino1 = expect_current_map(ino0);

	/* The renewed map frozen in turn. */
	alloc_blocks(off, NBLOCKS);
	restart();
	expect_frees_kept(off, NBLOCKS);
	ino2 = expect_current_map(ino1);
	assert_true(ino2 != ino0);

	/* Frozen twice before the handle looked. */
	alloc_blocks(off, NBLOCKS);
	restart();
	restart();
	expect_frees_kept(off, NBLOCKS);
	expect_current_map(ino2);
	expect_sharing_works();
}

#define NTHREADS	4

struct freer {
	pthread_barrier_t *go;
	pool_off_t off[NBLOCKS];
	int rc;
};

static void *
freer_main(void *arg)
{
	struct freer *f = arg;
	size_t i;

	pthread_barrier_wait(f->go);
	for (i = 0; i < NBLOCKS && f->rc == 0; i++)
		f->rc = pool_free(fx.pool, f->off[i]);
	return NULL;
}

static void
threads_renew_once(void **state)
{
	static struct freer f[NTHREADS];
	pthread_barrier_t go;
	pthread_t t[NTHREADS];
	pool_off_t off[NBLOCKS];
	unsigned long ino0 = 0;
	size_t i;

	(void)state;
	assert_int_equal(harness_share_maps("r", &ino0, NULL), 1);
	assert_int_equal(pthread_barrier_init(&go, NULL, NTHREADS), 0);
	for (i = 0; i < NTHREADS; i++) {
		f[i].go = &go;
		f[i].rc = 0;
		alloc_blocks(f[i].off, NBLOCKS);
	}
	restart();
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, freer_main,
						&f[i]), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		EXPECT_RC(f[i].rc, 0);
	}
	pthread_barrier_destroy(&go);
	/* Some frees went to the daemon while one thread renewed. */
	expect_current_map(ino0);
	alloc_blocks(off, NBLOCKS);
	expect_frees_kept(off, NBLOCKS);
	expect_sharing_works();
}

static void
exec_failure_then_restart(void **state)
{
	char dir[64], bin[128], script[160], cmd[300], swap[700];
	pool_off_t off[NBLOCKS];
	const uint64_t *words;
	unsigned long ino0 = 0, ino;
	void *at = NULL;
	int before;

	(void)state;
	/* The fixture's daemon runs the build's binary: one of our own. */
	pool_close(fx.pool);
	pool_disconnect(fx.conn);
	fx.pool = NULL;
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
	harness_remove_dir(&fx.d);
	harness_copy_binary(dir, sizeof(dir), bin, sizeof(bin));
	assert_int_equal(harness_start_from(&fx.d, bin, "[pool r]\n"
					    "size = 4M\n"), 0);
	EXPECT_RC(pool_connect(fx.d.sock, &fx.conn), 0);
	EXPECT_RC(pool_open(fx.conn, "r", &fx.pool), 0);
	alloc_blocks(off, NBLOCKS);
	assert_int_equal(harness_share_maps("r", &ino0, &at), 1);
	words = (const uint64_t *)((const uint8_t *)at + bits_len());

	/*
	 * The exec must fail after the probe passed (a failed probe freezes
	 * nothing): at the path, a program that answers the probe as the
	 * daemon does and deletes itself on the way.
	 */
	snprintf(script, sizeof(script), "%s.new", bin);
	snprintf(swap, sizeof(swap), "printf '#!/bin/sh\\nrm -f \"$0\"\\n"
		 "exec %s/poolmgrd \"$@\"\\n' > %s && chmod 755 %s && "
		 "mv %s %s", harness_build(), script, script, script, bin);
	assert_int_equal(harness_run(swap, NULL, 0), 0);
	before = harness_log_count(&fx.d, "not executed");
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	assert_int_equal(harness_log_wait(&fx.d, "not executed", before,
					  HARNESS_RESTART_WAIT_MS), 0);
	assert_int_equal(words[1], 0);
	expect_frees_kept(off, NBLOCKS);
	assert_int_equal(harness_share_maps("r", &ino, NULL), 1);
	assert_int_equal(ino, ino0);

	/* The real binary back at the path: the next restart renews. */
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(), bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	alloc_blocks(off, NBLOCKS);
	restart();
	expect_frees_kept(off, NBLOCKS);
	expect_current_map(ino0);
	harness_remove_binary(dir);
}

/* ShareMap{handle} through fd must be refused with want. */
static void
expect_share_map(int fd, uint32_t h, int want)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap sm = POOLMGR__SHARE_MAP__INIT;
	Poolmgr__Reply *rep;

	sm.handle = h;
	req.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	req.share_map = &sm;
	rep = harness_raw_expect(fd, &req, want);
	if (want == 0) {
		assert_int_equal(rep->body_case,
				 POOLMGR__REPLY__BODY_SHARE_MAP);
		assert_int_equal(rep->share_map->share_map_size,
				 bits_len() + (size_t)sysconf(_SC_PAGESIZE));
	} else
		assert_int_equal(rep->body_case,
				 POOLMGR__REPLY__BODY__NOT_SET);
	poolmgr__reply__free_unpacked(rep, NULL);
}

static uint32_t
raw_open_read_only(int fd, const char *pool)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool op = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep;
	uint32_t h;

	op.name = (char *)pool;
	op.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &op;
	rep = harness_raw_expect(fd, &req, 0);
	h = rep->open->handle;
	poolmgr__reply__free_unpacked(rep, NULL);
	return h;
}

static void
share_map_refusals(void **state)
{
	uint32_t rw, ro, closed;
	uint64_t off;
	int fd = harness_raw_client(fx.d.sock, "asker");

	(void)state;
	rw = harness_raw_handle(fd, "r");
	ro = raw_open_read_only(fd, "r");
	closed = harness_raw_handle(fd, "r");
	EXPECT_RAW(harness_raw_close(fd, closed), 0);

	expect_share_map(fd, 0, -EBADF);
	expect_share_map(fd, 4242, -EBADF);
	expect_share_map(fd, closed, -EBADF);
	expect_share_map(fd, ro, -EACCES);
	expect_share_map(fd, rw, 0);
	/* Any time, not only after a restart; and again after one. */
	expect_share_map(fd, rw, 0);
	restart();
	expect_share_map(fd, ro, -EACCES);
	expect_share_map(fd, rw, 0);

	EXPECT_RAW(harness_raw_alloc(fd, rw, 100, &off, NULL), 0);
	EXPECT_RAW(harness_raw_free(fd, rw, off), 0);
	EXPECT_RAW(harness_raw_free(fd, rw, off), -EINVAL);
	close(fd);
	expect_sharing_works();
}

static void
old_client_carries_on(void **state)
{
	uint64_t a, b, c;
	uint32_t h;
	pool_off_t x, off[NBLOCKS];
	int fd = harness_raw_client(fx.d.sock, "old");

	(void)state;
	h = harness_raw_handle(fd, "r");
	alloc_blocks(off, NBLOCKS);
	EXPECT_RAW(harness_raw_alloc(fd, h, 64, &a, NULL), 0);
	EXPECT_RAW(harness_raw_alloc(fd, h, 64, &b, NULL), 0);
	EXPECT_RC(pool_alloc(fx.pool, 64, &x), 0);
	EXPECT_RAW(harness_raw_retain(fd, h, x), 0);
	restart();
	EXPECT_RAW(harness_raw_free(fd, h, a), 0);
	/* Side by side: the library's handle renews and caches again. */
	expect_frees_kept(off, NBLOCKS);
	EXPECT_RAW(harness_raw_alloc(fd, h, 64, &c, NULL), 0);
	EXPECT_RAW(harness_raw_free(fd, h, c), 0);
	EXPECT_RAW(harness_raw_free(fd, h, b), 0);
	/* x: the old client's retain holds across the renewal too. */
	harness_expect_kept_shared(fx.pool, x, fd, h);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(caches_again_after_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(restart_twice_renews_twice,
						setup, teardown),
		cmocka_unit_test_setup_teardown(threads_renew_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_failure_then_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(share_map_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(old_client_carries_on, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
