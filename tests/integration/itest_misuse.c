/*
 * itest_misuse.c - a careless program misuses libpoolclient's API, and
 * gets a clear error each time: nothing it holds is harmed, nothing hangs,
 * no descriptor leaks.  (A lying daemon is itest_liar's; fork is
 * itest_fork's; the daemon's answers to bad requests are itest_badinput*'s.)
 *
 *   over_aligned_allocation_refused   pool_alloc_aligned with an alignment
 *       past the mapping's (which the man page promises the address shares
 *       with the offset) is -EINVAL, nothing allocated: the daemon would
 *       grant offset 0, and the pointer would not be aligned.  Every
 *       alignment up to the mapping's gives an aligned address.
 *   strerror_texts_are_static   pool_strerror of every code the library
 *       returns, of 0, positive, unknown and extreme codes: never NULL or
 *       empty, and a text is not overwritten by the next call (a program
 *       shows two in one printf).
 *   null_and_degenerate_arguments   every function's NULL handle, NULL
 *       out-pointer, empty name and oversized count: -EINVAL or -E2BIG,
 *       before anything is sent; pool_realloc(POOL_OFF_NONE, 0) is
 *       -EINVAL (as the man page says) and leaves *out alone.
 *   double_free_through_two_handles   two handles of one pool: the other
 *       handle's free of a block is -EPERM while it lives, and refused
 *       once freed, even while it sits in the first handle's cache (as
 *       still that handle's: -EPERM); an offset
 *       of another pool is -EINVAL; the pool's check passes.
 *   signals_without_sa_restart   a SIGALRM every 200 us, no SA_RESTART:
 *       thousands of round trips and a waiting lookup all answer right,
 *       none with -EINTR, and the connection stays in step.
 *   descriptors_exhausted   with no descriptor free, pool_connect and
 *       pool_open are -EMFILE, nothing leaks and the daemon holds no
 *       handle for the failed open; with one free, the open works.
 *   daemon_stopped   after the daemon is gone, requests are -ECONNRESET,
 *       closing and disconnecting are clean, a new connect is -ENOENT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define POOL	"misuse"
#define OTHER	"misuse2"
#define CONF	"[pool " POOL "]\nsize = 16M\n[pool " OTHER "]\nsize = 16M\n"
#define MiB	((size_t)1 << 20)
#define MAX_FD	4096

static struct daemon_proc d;
static struct pool_conn *conn;
static struct pool *pool;

static int
setup(void **state)
{
	(void)state;
	harness_fixture_start(&d, CONF);
	if (pool_connect(d.sock, &conn) != 0 ||
	    pool_open(conn, POOL, &pool) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	pool_close(pool);
	pool = NULL;
	pool_disconnect(conn);
	conn = NULL;
	return harness_fixture_teardown(state);
}

static void
over_aligned_allocation_refused(void **state)
{
	struct pool_stats before, after;
	pool_off_t off = 0;
	size_t align;
	uintptr_t a;

	(void)state;
	before = harness_stats(pool);
	/* A 16 MiB pool is mapped at a 16 MiB boundary: no further. */
	EXPECT_RC(pool_alloc_aligned(pool, 64, 32 * MiB, &off), -EINVAL);
	assert_true(off == POOL_OFF_NONE);
	EXPECT_RC(pool_alloc_aligned(pool, 64, (size_t)1 << 62, &off),
		  -EINVAL);
	EXPECT_RC(pool_alloc_aligned(pool, 64, (size_t)1 << 63, &off),
		  -EINVAL);
	after = harness_stats(pool);
	assert_int_equal(after.live_blocks, before.live_blocks);

	for (align = 16; align <= 16 * MiB; align *= 2) {
		off = POOL_OFF_NONE;
		EXPECT_RC(pool_alloc_aligned(pool, 64, align, &off), 0);
		a = (uintptr_t)pool_ptr(pool, off);
		if (a % align != 0)
			fail_msg("align %zu: address %#lx", align,
				 (unsigned long)a);
		EXPECT_RC(pool_free(pool, off), 0);
	}
	harness_expect_checked(conn, POOL);
}

static void
strerror_texts_are_static(void **state)
{
	static const int codes[] = {
		0, -EINVAL, -ENOMEM, -EFBIG, -EOVERFLOW, -EDQUOT, -EACCES,
		-EPERM, -ENOENT, -EEXIST, -EBUSY, -EBADF, -EUSERS, -E2BIG,
		-ENOSPC, -EMFILE, -EMLINK, -ENAMETOOLONG, -EPROTONOSUPPORT,
		-EOPNOTSUPP, -EPROTO, -ECONNRESET, -ECHILD, -ECONNREFUSED,
		-EFAULT, -EMSGSIZE, -ENODEV, -EROFS, -ETIMEDOUT, -EAGAIN,
		-ENOBUFS, -EINTR, -ENOTDIR, -ELOOP, -ESRCH, -ESTALE, -EIO,
		EINVAL, 1, -4095, -4096,
		-100000, 100000, INT_MIN, INT_MAX, INT_MIN + 1,
	};
	char first[256];
	const char *t, *u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		t = pool_strerror(codes[i]);
		assert_non_null(t);
		assert_true(t[0] != '\0');
	}
	/* Two unknown codes, as printf("%s, %s") would ask for them. */
	t = pool_strerror(-100000);
	snprintf(first, sizeof(first), "%s", t);
	u = pool_strerror(-100001);
	assert_non_null(u);
	if (strcmp(t, first) != 0)
		fail_msg("pool_strerror(-100000) became \"%s\" (was \"%s\") "
			 "after pool_strerror(-100001)", t, first);
	t = pool_strerror(-ETIMEDOUT);
	snprintf(first, sizeof(first), "%s", t);
	(void)pool_strerror(-100002);
	assert_string_equal(t, first);
}

static void
null_and_degenerate_arguments(void **state)
{
	struct pool_stats st, *list;
	struct pool_client_info *ci;
	struct pool_persisted *pp;
	struct pool_create_opts co = {.max_size = MiB};
	struct pool *q = NULL;
	struct pool_conn *c2 = NULL;
	pool_off_t off = POOL_OFF_NONE, a;
	size_t n, total, sz = 64;

	(void)state;
	EXPECT_RC(pool_alloc(NULL, 64, &off), -EINVAL);
	EXPECT_RC(pool_alloc(pool, 64, NULL), -EINVAL);
	EXPECT_RC(pool_calloc(pool, 0, 8, &off), -EINVAL);
	EXPECT_RC(pool_realloc(pool, POOL_OFF_NONE, 64, NULL), -EINVAL);
	off = 12345;
	EXPECT_RC(pool_realloc(pool, POOL_OFF_NONE, 0, &off), -EINVAL);
	assert_true(off == 12345);
	EXPECT_RC(pool_free(NULL, 0), -EINVAL);
	EXPECT_RC(pool_retain(pool, POOL_OFF_NONE), -EINVAL);
	EXPECT_RC(pool_persist(pool, POOL_OFF_NONE), -EINVAL);
	EXPECT_RC(pool_usable_size(pool, POOL_OFF_NONE, &n), -EINVAL);
	EXPECT_RC(pool_alloc_batch(pool, 0, &sz, &off), -EINVAL);
	EXPECT_RC(pool_alloc_batch(pool, SIZE_MAX, &sz, &off), -E2BIG);
	EXPECT_RC(pool_alloc_batch(pool, POOL_BATCH_MAX + 1, &sz, &off),
		  -E2BIG);
	EXPECT_RC(pool_free_batch(pool, SIZE_MAX, &off), -E2BIG);
	EXPECT_RC(pool_free_batch(pool, 1, NULL), -EINVAL);
	EXPECT_RC(pool_free_batch(pool, 0, NULL), 0);

	EXPECT_RC(pool_alloc(pool, 100, &a), 0);
	EXPECT_RC(pool_publish(pool, a, NULL), -EINVAL);
	EXPECT_RC(pool_publish(pool, a, ""), -EINVAL);
	EXPECT_RC(pool_publish_flags(pool, a, "n", 0x80), -EINVAL);
	EXPECT_RC(pool_lookup(pool, NULL, &off, NULL), -EINVAL);
	EXPECT_RC(pool_lookup(pool, "n", NULL, NULL), -EINVAL);
	EXPECT_RC(pool_lookup_retain(pool, NULL, &off, NULL), -EINVAL);
	EXPECT_RC(pool_lookup_wait(pool, "n", 0, -2, 0, &off, NULL, NULL),
		  -EINVAL);
	EXPECT_RC(pool_lookup_wait(pool, "n", 0, 0, 0x80, &off, NULL, NULL),
		  -EINVAL);
	EXPECT_RC(pool_lookup_wait(pool, "n", 0, 0, 0, NULL, NULL, NULL),
		  -EINVAL);
	EXPECT_RC(pool_unpublish(NULL, "n"), -EINVAL);
	EXPECT_RC(pool_unpublish(pool, NULL), -EINVAL);
	EXPECT_RC(pool_free(pool, a), 0);

	EXPECT_RC(pool_stats(NULL, &st), -EINVAL);
	EXPECT_RC(pool_stats(pool, NULL), -EINVAL);
	EXPECT_RC(pool_stats_by_name(conn, NULL, &st), -EINVAL);
	EXPECT_RC(pool_stats_by_name(NULL, POOL, &st), -EINVAL);
	EXPECT_RC(pool_trim(NULL), -EINVAL);
	EXPECT_RC(pool_trim_by_name(NULL, POOL, NULL), -EINVAL);
	EXPECT_RC(pool_check_by_name(conn, NULL, NULL, 0), -EINVAL);
	EXPECT_RC(pool_check_by_name(conn, POOL, NULL, 0), 0);
	EXPECT_RC(pool_list(conn, NULL, &n), -EINVAL);
	EXPECT_RC(pool_list(conn, &list, NULL), -EINVAL);
	EXPECT_RC(pool_clients(conn, NULL, NULL, &n), -EINVAL);
	EXPECT_RC(pool_clients_total(conn, NULL, &ci, &n, NULL), -EINVAL);
	/*
	 * No pool has an empty name, as for the other calls that name one;
	 * NULL is every pool (on the wire "" is: it was taken for NULL).
	 */
	ci = NULL;
	EXPECT_RC(pool_clients(conn, "", &ci, &n), -ENOENT);
	assert_null(ci);
	assert_int_equal(n, 0);
	assert_non_null(strstr(pool_last_message(-ENOENT), "empty name"));
	EXPECT_RC(pool_stats_by_name(conn, "", &st), -ENOENT);
	/* The daemon's words say so, where they once ended "no pool ". */
	assert_non_null(strstr(pool_last_message(-ENOENT),
			       "no pool has an empty name"));
	EXPECT_RC(pool_open(conn, "", &q), -ENOENT);
	assert_non_null(strstr(pool_last_message(-ENOENT),
			       "no pool has an empty name"));
	EXPECT_RC(pool_persisted(conn, POOL, &pp, &n, NULL), -EINVAL);
	EXPECT_RC(pool_names(conn, POOL, NULL, NULL, &n, &total), -EINVAL);
	EXPECT_RC(pool_create(NULL, "z", &co), -EINVAL);
	EXPECT_RC(pool_create(conn, "z", NULL), -EINVAL);
	EXPECT_RC(pool_create(conn, NULL, &co), -EINVAL);
	EXPECT_RC(pool_set(conn, POOL, NULL), -EINVAL);
	EXPECT_RC(pool_destroy(conn, NULL), -EINVAL);
	EXPECT_RC(pool_destroy_force(NULL, POOL), -EINVAL);
	EXPECT_RC(pool_open(conn, NULL, &q), -EINVAL);
	EXPECT_RC(pool_open(NULL, POOL, &q), -EINVAL);
	EXPECT_RC(pool_open(conn, POOL, NULL), -EINVAL);
	assert_null(q);
	EXPECT_RC(pool_connect(NULL, NULL), -EINVAL);
	EXPECT_RC(pool_connect("", &c2), -EINVAL);
	assert_null(c2);
	EXPECT_RC(pool_set_cache(NULL, 0), -EINVAL);
	EXPECT_RC(pool_flush(NULL), -EINVAL);
	assert_null(pool_ptr(NULL, 0));
	assert_null(pool_ptr(pool, POOL_OFF_NONE));
	assert_null(pool_ptr(pool, pool_size(pool)));
	assert_true(pool_offset_of(pool, (char *)pool_ptr(pool, 0) - 1) ==
		    POOL_OFF_NONE);
	assert_true(pool_size(NULL) == 0);
	pool_close(NULL);
	pool_disconnect(NULL);
	EXPECT_RC(pool_flush(pool), 0);
	assert_int_equal(harness_stats(pool).live_blocks, 0);
	harness_expect_checked(conn, POOL);
}

static void
double_free_through_two_handles(void **state)
{
	struct pool *q, *other;
	pool_off_t a, b;
	int rc;

	(void)state;
	EXPECT_RC(pool_open(conn, POOL, &q), 0);
	EXPECT_RC(pool_open(conn, OTHER, &other), 0);
	EXPECT_RC(pool_alloc(pool, 100, &a), 0);
	EXPECT_RC(pool_free(q, a), -EPERM);
	EXPECT_RC(pool_free(pool, a), 0);	/* into the cache, if any */
	EXPECT_RC(pool_free(q, a), harness_client_cache() ? -EPERM : -EINVAL);
	EXPECT_RC(pool_free(pool, a), -EINVAL);
	rc = pool_free_batch(q, 1, &a);
	if (rc != -EPERM && rc != -EINVAL)
		fail_msg("pool_free_batch of another handle's freed block: "
			 "%d (%s)", rc, pool_strerror(rc));
	EXPECT_RC(pool_alloc(pool, 2 * MiB, &b), 0);
	EXPECT_RC(pool_free(other, b), -EINVAL);
	EXPECT_RC(pool_free(pool, b), 0);
	EXPECT_RC(pool_free(q, b), -EINVAL);
	EXPECT_RC(pool_free(pool, b), -EINVAL);
	pool_close(other);
	pool_close(q);
	EXPECT_RC(pool_flush(pool), 0);
	assert_int_equal(harness_stats(pool).live_blocks, 0);
	harness_expect_checked(conn, POOL);
}

static volatile sig_atomic_t ticks;

static void
on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void
signals_without_sa_restart(void **state)
{
	struct sigaction sa, old;
	struct itimerval it = {{0, 200}, {0, 200}}, stop = {{0, 0}, {0, 0}};
	pool_off_t off, named, got = POOL_OFF_NONE;
	size_t us;
	uint64_t gen = 0;
	int i;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	ticks = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (i = 0; i < 5000; i++) {
		size_t size = 100 + (size_t)i * 37 % 200000;

		EXPECT_RC(pool_alloc(pool, size, &off), 0);
		us = 0;
		EXPECT_RC(pool_usable_size(pool, off, &us), 0);
		assert_true(us >= size);
		EXPECT_RC(pool_free(pool, off), 0);
	}
	EXPECT_RC(pool_alloc(pool, 100, &named), 0);
	EXPECT_RC(pool_publish(pool, named, "tick"), 0);
	EXPECT_RC(pool_lookup_wait(pool, "tick", 0, 0, 0, &got, NULL, &gen),
		  0);
	/* Nothing newer comes: the wait ends at its time, not at a tick. */
	EXPECT_RC(pool_lookup_wait(pool, "tick", gen, 200, 0, &got, NULL,
				   NULL), -ETIMEDOUT);
	setitimer(ITIMER_REAL, &stop, NULL);
	sigaction(SIGALRM, &old, NULL);
	printf("misuse: %d SIGALRMs during the calls\n", (int)ticks);
	assert_true(ticks > 0);
	EXPECT_RC(pool_lookup(pool, "tick", &got, NULL), 0);
	assert_true(got == named);
	EXPECT_RC(pool_unpublish(pool, "tick"), 0);
	EXPECT_RC(pool_free(pool, named), 0);
	EXPECT_RC(pool_flush(pool), 0);
	assert_int_equal(harness_stats(pool).live_blocks, 0);
	harness_expect_checked(conn, POOL);
}

static int
open_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < MAX_FD; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

static void
descriptors_exhausted(void **state)
{
	struct rlimit rl, low;
	struct pool_conn *c2 = NULL;
	struct pool *q = NULL;
	pool_off_t off;
	int fill[MAX_FD], nf = 0, k, base;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	base = open_fds();
	low = rl;
	low.rlim_cur = (rlim_t)base + 16;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nf < MAX_FD && (fill[nf] = dup(0)) != -1)
		nf++;
	assert_int_equal(errno, EMFILE);

	EXPECT_RC(pool_connect(d.sock, &c2), -EMFILE);
	assert_null(c2);
	EXPECT_RC(pool_open(conn, OTHER, &q), -EMFILE);
	assert_null(q);
	assert_int_equal(open_fds(), base + nf);
	/* One free: the pool is mapped (if without its share map). */
	close(fill[--nf]);
	EXPECT_RC(pool_open(conn, OTHER, &q), 0);
	EXPECT_RC(pool_alloc(q, 100, &off), 0);
	EXPECT_RC(pool_free(q, off), 0);
	pool_close(q);
	for (k = 0; k < nf; k++)
		close(fill[k]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(open_fds(), base);
	assert_int_equal(harness_stats_of(conn, OTHER).clients, 0);
	harness_expect_checked(conn, OTHER);
}

static void
daemon_stopped(void **state)
{
	struct pool_conn *c2 = NULL;
	struct pool *q = NULL;
	struct pool_stats st;
	pool_off_t off;
	int base;

	(void)state;
	EXPECT_RC(pool_flush(pool), 0);
	base = open_fds();
	assert_int_equal(harness_stop(&d), 0);
	EXPECT_RC(pool_alloc(pool, 200000, &off), -ECONNRESET);
	EXPECT_RC(pool_stats(pool, &st), -ECONNRESET);
	EXPECT_RC(pool_flush(pool), -ECONNRESET);
	EXPECT_RC(pool_open(conn, POOL, &q), -ECONNRESET);
	assert_null(q);
	EXPECT_RC(pool_connect(d.sock, &c2), -ENOENT);
	assert_null(c2);
	pool_close(pool);
	pool = NULL;
	pool_disconnect(conn);
	conn = NULL;
	/* The fixture's daemon is gone: no socket, no mapping left. */
	assert_int_equal(open_fds(), base - 1);
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, \
		teardown, &d)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(over_aligned_allocation_refused),
		T(strerror_texts_are_static),
		T(null_and_degenerate_arguments),
		T(double_free_through_two_handles),
		T(signals_without_sa_restart),
		T(descriptors_exhausted),
		T(daemon_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
