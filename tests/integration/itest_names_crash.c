/*
 * itest_names_crash.c - names survive a crash of poolmgrd under systemd's
 * fd store (the crash journal, docs/design.md), as persistent blocks do.
 *
 *   crash_keeps_names   names given, moved by a replace, and removed;
 *       SIGKILL; the start after finds the names that were there, at
 *       their blocks with their bytes and publishers, and not the removed
 *       one; the blocks the names let go of are free.  A second crash,
 *       right after, recovers them again from the journal that start
 *       wrote whole (its snapshot).
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
#include "harness_store.h"
#include "poolclient.h"

#define CONFIG	"[daemon]\nsocket_mode = 0666\n[pool a]\nsize = 4M\n"

static struct harness_store st;

static int
setup(void **state)
{
	(void)state;
	return harness_store_open(&st, CONFIG);
}

static int
teardown(void **state)
{
	(void)state;
	harness_store_close(&st);
	return 0;
}

static pool_off_t
filled(struct pool *p, size_t len, int c)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, len, &off), 0);
	memset(pool_ptr(p, off), c, len);
	return off;
}

static void
expect_named(struct pool *p, const char *name, pool_off_t want, size_t len,
	     int c)
{
	const unsigned char *b;
	pool_off_t off;
	size_t i;

	EXPECT_RC(pool_lookup(p, name, &off, NULL), 0);
	assert_int_equal(off, want);
	b = pool_ptr(p, off);
	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			fail_msg("%s: byte %zu is %#x, not %#x", name, i, b[i],
				 c);
}

/* After a start: the names x and y, nothing else named, and the check. */
static void
expect_recovered(pool_off_t x, pool_off_t y2, pool_off_t w)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	struct pool_named *pn;
	size_t n, total, usable;
	pool_off_t off;
	char msg[256] = "";

	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	expect_named(p, "x", x, 3000, 'x');
	expect_named(p, "y", y2, 20000, '2');
	EXPECT_RC(pool_lookup(p, "z", &off, NULL), -ENOENT);
	EXPECT_RC(pool_usable_size(p, w, &usable), 0);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.named_blocks, 2);
	assert_int_equal(s.persistent_blocks, 3);
	assert_int_equal(s.live_blocks, 3);
	EXPECT_RC(pool_names(c, "a", NULL, &pn, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_string_equal(pn[0].name, "x");
	assert_int_equal(pn[0].publisher, getuid());
	assert_string_equal(pn[1].name, "y");
	free(pn);
	if (pool_check_by_name(c, "a", msg, sizeof(msg)) != 0)
		fail_msg("check: %s", msg);
	pool_close(p);
	pool_disconnect(c);
}

static void
crash_keeps_names(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, y1, y2, z, w;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	x = filled(p, 3000, 'x');
	y1 = filled(p, 20000, '1');
	y2 = filled(p, 20000, '2');
	z = filled(p, 100, 'z');
	w = filled(p, 500, 'w');
	EXPECT_RC(pool_publish(p, x, "x"), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_publish(p, y1, "y"), 0);
	EXPECT_RC(pool_publish_replace(p, y2, "y"), 0);
	EXPECT_RC(pool_publish(p, z, "z"), 0);
	EXPECT_RC(pool_unpublish(p, "z"), 0);
	EXPECT_RC(pool_persist(p, w), 0);
	/* The crash takes the handle's references: y1 and z go with them. */
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	expect_recovered(x, y2, w);
	assert_int_equal(harness_store_crash(&st), 0);
	assert_int_equal(harness_store_start(&st), 0);
	expect_recovered(x, y2, w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(crash_keeps_names, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
