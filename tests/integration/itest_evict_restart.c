/*
 * itest_evict_restart.c - evictable names (docs/protocol.md, "Eviction")
 * across a restart in place (SIGUSR2) and a crash under systemd's fd
 * store (SIGKILL): the flags, the counters and the order of use come
 * back, and a pool restored over its limit evicts down to it.  Which
 * names an allocation evicts is itest_evict.c's, a realloc's
 * itest_evict_realloc.c's; the daemon, its pools and a pool filled with
 * names are evict_util.h's.
 *
 *   restart_keeps_flag  SIGUSR2: the flags and counters come back, and
 *       eviction goes on;
 *   crash_keeps_flag    under systemd's fd store, SIGKILL: the start
 *       after finds the evictable names evictable and the others kept,
 *       and evicts only the former;
 *   restart_keeps_order  names looked up out of their order, SIGUSR2:
 *       an allocation of one block's room evicts the least recently
 *       used, not the first by name;
 *   crash_keeps_order   under the fd store, names published again out
 *       of their order, SIGKILL: the start after evicts the least
 *       recently published, not the first by offset;
 *   restart_evicts_over_limit  a limit lowered while the evictable names
 *       were held, two of them let go of since: a restart in place
 *       restores the pool over its limit and evicts those two down to
 *       it, logged; the held one and the kept one stay;
 *   crash_evicts_over_limit  the same under the fd store, SIGKILL: every
 *       hold goes with the crash, and the start after evicts all three
 *       evictable names, the kept one staying.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evict_util.h"
#include "harness_store.h"

#define STORE_CONF	"[daemon]\nsocket_mode = 0666\n[pool ev]\nsize = 4M\n"

static struct harness_store st;

/* ---- restart_keeps_flag --------------------------------------------- */

static void
restart_keeps_flag(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_named *pn;
	struct pool_stats s;
	pool_off_t offs[NBLK], a, b;
	size_t n, total;
	int i;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0x33, false, offs);	/* n0, n1, n4, n5 evictable */
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);	/* evicts n0 */

	assert_int_equal(harness_restart_in_place(&d), 0);

	EXPECT_RC(pool_names(c, POOL, NULL, &pn, &n, &total), 0);
	assert_int_equal(n, NBLK - 1);
	for (i = 0; i < (int)n; i++)
		assert_int_equal(pn[i].evictable,
				 (0x33 >> (pn[i].name[1] - '0')) & 1);
	free(pn);
	s = harness_stats(p);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.evicted_bytes, BLK);
	/* Eviction goes on: evictable names only, whatever their order. */
	EXPECT_RC(pool_alloc(p, BLK, &b), 0);
	assert_int_equal(harness_stats(p).evictions, 2);
	assert_int_equal(names_left(p, offs) & 0xcc, 0xcc);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- crash_keeps_flag ----------------------------------------------- */

static int
store_setup(void **state)
{
	(void)state;
	return harness_store_open(&st, STORE_CONF);
}

static int
store_teardown(void **state)
{
	(void)state;
	harness_store_close(&st);
	return 0;
}

static void
crash_keeps_flag(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_named *pn;
	pool_off_t offs[NBLK], a, x;
	size_t n, total;
	int i;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	open_pool(st.sock, POOL, &c, &p);
	fill(p, 0x0a, false, offs);	/* n1, n3 evictable */
	/* n1 made kept, n2 evictable, in place: a replace by itself. */
	EXPECT_RC(pool_publish_flags(p, offs[1], "n1", POOL_PUBLISH_REPLACE),
		  0);
	EXPECT_RC(pool_publish_flags(p, offs[2], "n2", POOL_PUBLISH_REPLACE |
				     POOL_PUBLISH_EVICTABLE), 0);
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	open_pool(st.sock, POOL, &c, &p);
	EXPECT_RC(pool_names(c, POOL, NULL, &pn, &n, &total), 0);
	assert_int_equal(n, NBLK);
	for (i = 0; i < NBLK; i++)
		assert_int_equal(pn[i].evictable, i == 2 || i == 3);
	free(pn);
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	EXPECT_RC(pool_alloc(p, BLK, &x), -ENOMEM);
	assert_int_equal(names_left(p, offs), 0xf3);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- restart_keeps_order / crash_keeps_order ------------------------- */

static void
restart_keeps_order(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a, off;

	(void)state;
	open_pool(d.sock, POOL, &c, &p);
	fill(p, 0xff, true, offs);
	/* n2 is the least recently used now; by name or offset, n0. */
	EXPECT_RC(pool_lookup(p, "n0", &off, NULL), 0);
	EXPECT_RC(pool_lookup(p, "n1", &off, NULL), 0);

	assert_int_equal(harness_restart_in_place(&d), 0);

	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(a, offs[2]);
	assert_int_equal(names_left(p, offs), 0xfb);
	harness_expect_checked(c, POOL);
	EXPECT_RC(pool_free(p, a), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
crash_keeps_order(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[NBLK], a;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	open_pool(st.sock, POOL, &c, &p);
	fill(p, 0xff, true, offs);
	/* New frames of n1, then n0, in place: n2 is the oldest publish. */
	EXPECT_RC(pool_publish_flags(p, offs[1], "n1", POOL_PUBLISH_REPLACE |
				     POOL_PUBLISH_EVICTABLE), 0);
	EXPECT_RC(pool_publish_flags(p, offs[0], "n0", POOL_PUBLISH_REPLACE |
				     POOL_PUBLISH_EVICTABLE), 0);
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	open_pool(st.sock, POOL, &c, &p);
	EXPECT_RC(pool_alloc(p, BLK, &a), 0);
	assert_int_equal(harness_stats(p).evictions, 1);
	assert_int_equal(a, offs[2]);
	assert_int_equal(names_left(p, offs), 0xfb);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- a restore over the pool's limit --------------------------------- */

#define LPOOL		"evl"

#define QTR		(BLK / 2)	/* not kept by a client cache */

static int
set_limit(struct pool_conn *c, uint64_t limit)
{
	struct pool_set_opts o = {.which = POOL_SET_LIMIT, .limit = limit};

	return pool_set(c, LPOOL, &o);
}

/*
 * Pool evl under a limit of 1 MiB: n0, n1, n2 evictable and n3 kept,
 * QTR each, the names' alone; n0, n1 and n2 then held by lookups, in
 * *held.  The limit lowered to QTR evicts nothing (every evictable name
 * is held); n0 and n1 let go of after it stay, the pool over its limit,
 * until a request evicts them.
 */
static void
over_limit_unheld(struct pool_conn *c, struct pool **p, pool_off_t *held)
{
	struct pool_create_opts co = {.max_size = NBLK * BLK, .mode = 0666};
	struct pool_set_opts so = {.which = POOL_SET_LIMIT, .limit = 2 * BLK};
	pool_off_t o;
	int i;

	EXPECT_RC(pool_create_set(c, LPOOL, &co, &so), 0);
	EXPECT_RC(pool_open(c, LPOOL, p), 0);
	for (i = 0; i < 4; i++) {
		EXPECT_RC(pool_alloc(*p, QTR, &o), 0);
		EXPECT_RC(pool_publish_flags(*p, o, name_of(i), i < 3 ?
					     POOL_PUBLISH_EVICTABLE : 0), 0);
		EXPECT_RC(pool_free(*p, o), 0);
	}
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_lookup_retain(*p, name_of(i), &held[i], NULL),
			  0);
	EXPECT_RC(set_limit(c, QTR), 0);
	EXPECT_RC(pool_free(*p, held[0]), 0);
	EXPECT_RC(pool_free(*p, held[1]), 0);
	assert_int_equal(harness_stats(*p).evictions, 0);
	assert_int_equal(harness_stats(*p).allocated_bytes, 4 * QTR);
}

/*
 * A restart in place restores evl over its limit: its unheld evictable
 * names, n0 and n1, go down to it as a lowered limit's do, logged so;
 * n2 (still held by the client across the restart) and n3 (kept) stay.
 */
static void
restart_evicts_over_limit(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t held[3];
	struct pool_stats s;

	(void)state;
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	over_limit_unheld(c, &p, held);

	assert_int_equal(harness_restart_in_place(&d), 0);
	/* Answered: the start's evictions, after its ready, are done. */
	s = harness_stats(p);
	if (harness_log_count(&d, "pool evl restored over its limit of "
			      "262144: evicted 2 names of 524288 bytes") != 1)
		fail_msg("no eviction logged by the restore");
	assert_int_equal(s.evictions, 2);
	assert_int_equal(s.evicted_bytes, 2 * QTR);
	assert_int_equal(s.allocated_bytes, 2 * QTR);
	assert_int_equal(published_of(p, 4), 0x0c);
	harness_expect_checked(c, LPOOL);
	EXPECT_RC(pool_free(p, held[2]), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * Under the fd store, SIGKILL with evl over its limit: the start after
 * recovers it with every hold gone, so n0, n1 and n2 are unheld, and
 * evicts them down to the limit, as far as they go (n3 is kept).
 */
static void
crash_evicts_over_limit(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t held[3];
	struct pool_stats s;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	over_limit_unheld(c, &p, held);
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	/* Answered: the start's evictions, after its ready, are done. */
	open_pool(st.sock, LPOOL, &c, &p);
	s = harness_stats(p);
	if (!harness_store_logged(&st, "pool evl restored over its limit of "
				  "262144: evicted 3 names of 786432 bytes"))
		fail_msg("no eviction logged by the restore");
	assert_int_equal(s.allocated_bytes, QTR);
	assert_int_equal(published_of(p, 4), 0x08);
	harness_expect_checked(c, LPOOL);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(restart_keeps_flag, evict_setup,
						evict_teardown),
		cmocka_unit_test_setup_teardown(crash_keeps_flag, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(restart_keeps_order,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(crash_keeps_order, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(restart_evicts_over_limit,
						evict_setup, evict_teardown),
		cmocka_unit_test_setup_teardown(crash_evicts_over_limit,
						store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
