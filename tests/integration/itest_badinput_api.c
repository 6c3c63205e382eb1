/*
 * itest_badinput_api.c - bad input hurts only the one who sends it: bad
 * calls of the API, and requests sent raw that the library would not
 * send.  What a client sends on the wire is itest_badinput.c's, the words
 * of the daemon's refusals itest_badinput_words.c's; raw connections, the
 * daemon of the test and its normal client are badinput_util.h's.
 *
 * Every bad argument of the API gets its documented code (size 0, bad
 * alignment, larger than the pool, interior and double frees, calloc
 * overflow - also sent raw so the daemon's own check is reached - realloc
 * and usable_size of a non-block), changes nothing, and afterwards a new
 * client works and the check passes; and the refused frees show up in the
 * pool's invalid_frees counter.  A Realloc with in_place never moves a
 * block.  A pool name with a newline and a "<2>" in it stays inside its
 * own log line ('?' for the newline).
 *
 * A pool of no bytes or past 64 TiB, a pool name of 65 bytes and a Trim
 * naming no pool are refused in the daemon's words, a mode of 0 or past
 * 0777 by pool_create_set in the library's, and nothing is made.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "badinput_util.h"

/* ---- bad API input -------------------------------------------------------- */

/* A raw Realloc; returns the reply's error and the offset in *out. */
static int
raw_realloc(int fd, uint64_t id, uint32_t handle, uint64_t off, uint64_t size,
	    int in_place, uint64_t *out)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc ra = POOLMGR__REALLOC__INIT;

	ra.handle = handle;
	ra.offset = off;
	ra.size = size;
	ra.in_place = in_place;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &ra;
	return raw_block_call(fd, &req, out);
}

/* How many pools the daemon lists. */
static size_t
pool_count(struct pool_conn *c)
{
	struct pool_stats *all = NULL;
	size_t n = 0;

	EXPECT_RC(pool_list(c, &all, &n), 0);
	free(all);
	return n;
}

/* The daemon's words for a refusal on raw connection fd, which must be want. */
static void
raw_refused_saying(int fd, Poolmgr__Request *req, int want, const char *words)
{
	Poolmgr__Reply *r = harness_raw_expect(fd, req, want);

	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	assert_non_null(r->message);
	assert_string_equal(r->message, words);
	poolmgr__reply__free_unpacked(r, NULL);
}

/*
 * Requests about pools that cannot be served are refused with their code
 * and the daemon's words, and make nothing: a pool larger than 64 TiB, or
 * of no bytes (only a raw request can ask that: the library refuses it
 * itself), a pool made with a mode of 0 or with bits past 0777 by
 * pool_create_set (refused by the library, nothing sent), a pool named by
 * 65 bytes, a Trim that names no pool at all.
 */
static void
pool_requests_refused_make_nothing(void **state)
{
	struct pool_create_opts co = {.max_size = (64ull << 40) + 1};
	struct pool_set_opts so = {.which = POOL_SET_MODE};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Trim trim = POOLMGR__TRIM__INIT;
	struct pool_stats st;
	char long_name[66];
	size_t before;
	int fd;

	(void)state;
	before = pool_count(fx.conn);
	expect_rc(pool_create(fx.conn, "huge", &co), -EINVAL,
		  "pool_create of 64 TiB and a byte");
	assert_string_equal(pool_last_message(-EINVAL),
			    "size must be 1 byte to 64 TiB");
	expect_rc(pool_stats_by_name(fx.conn, "huge", &st), -ENOENT,
		  "stats of the pool refused");

	co.max_size = 1 << 20;
	so.mode = 0;
	expect_rc(pool_create_set(fx.conn, "modeless", &co, &so), -EINVAL,
		  "pool_create_set with mode 0");
	so.mode = 01777;
	expect_rc(pool_create_set(fx.conn, "modeless", &co, &so), -EINVAL,
		  "pool_create_set with mode 01777");
	so.mode = 0640;
	so.which |= 1u << 30;
	expect_rc(pool_create_set(fx.conn, "modeless", &co, &so), -EINVAL,
		  "pool_create_set with an unknown setting");
	expect_rc(pool_stats_by_name(fx.conn, "modeless", &st), -ENOENT,
		  "stats of the pool refused");

	fd = raw_greeted("pool-requests");
	cp.name = "empty";
	cp.max_size = 0;
	req.id = 200;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	raw_refused_saying(fd, &req, -EINVAL, "size must be 1 byte to 64 TiB");

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ref.name = long_name;
	req.id = 201;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	raw_refused_saying(fd, &req, -ENAMETOOLONG,
			   "pool name longer than 64");

	req.id = 202;
	req.body_case = POOLMGR__REQUEST__BODY_TRIM;
	req.trim = &trim;
	raw_refused_saying(fd, &req, -EINVAL, "no pool named");

	/* Nothing was made; the connection and the daemon serve on. */
	raw_list_ok(fd);
	close(fd);
	assert_int_equal(pool_count(fx.conn), before);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

static void
bad_api_input_gets_its_code(void **state)
{
	struct pool *p;
	struct pool_stats before, after;
	struct pool_conn *c2 = NULL;
	struct pool *p2 = NULL;
	pool_off_t a, b, out, free_spot;
	size_t us = 0;
	uint8_t *bp;
	size_t i;
	int fd;
	uint32_t handle;
	uint64_t roff = 0;

	(void)state;
	p = fx.pool;
	assert_int_equal(pool_stats(p, &before), 0);

	out = 1;
	expect_rc(pool_alloc(p, 0, &out), -EINVAL, "pool_alloc(0)");
	expect_rc(pool_alloc_aligned(p, 64, 3, &out), -EINVAL,
		  "pool_alloc_aligned(64, 3)");
	expect_rc(pool_alloc_aligned(p, 64, 48, &out), -EINVAL,
		  "pool_alloc_aligned(64, 48)");
	expect_rc(pool_alloc_aligned(p, 64, 0, &out), -EINVAL,
		  "pool_alloc_aligned(64, 0)");
	expect_rc(pool_alloc(p, 32 * MiB, &out), -EFBIG,
		  "pool_alloc(32 MiB) in a 16 MiB pool");

	assert_int_equal(pool_alloc(p, 256, &a), 0);
	assert_int_equal(pool_alloc(p, 256, &b), 0);
	bp = pool_ptr(p, b);
	memset(bp, 0x77, 256);
	free_spot = pool_size(p) / 2;	/* nothing lives there yet */

	expect_rc(pool_free(p, a + 16), -EINVAL, "pool_free(interior + 16)");
	expect_rc(pool_free(p, a + 1), -EINVAL, "pool_free(interior + 1)");
	expect_rc(pool_free(p, free_spot), -EINVAL, "pool_free(free space)");
	expect_rc(pool_free(p, pool_size(p) + 4096), -EINVAL,
		  "pool_free(past the end)");
	expect_rc(pool_usable_size(p, a + 16, &us), -EINVAL,
		  "pool_usable_size(interior)");
	expect_rc(pool_usable_size(p, a, &us), 0, "pool_usable_size(a)");
	assert_true(us >= 256);

	expect_rc(pool_calloc(p, SIZE_MAX / 2 + 1, 2, &out), -EOVERFLOW,
		  "pool_calloc(SIZE_MAX/2 + 1, 2)");
	expect_rc(pool_calloc(p, (size_t)1 << 33, (size_t)1 << 31, &out),
		  -EOVERFLOW, "pool_calloc(2^33, 2^31)");

	out = 0xdead;
	expect_rc(pool_realloc(p, b + 32, 512, &out), -EINVAL,
		  "pool_realloc(interior)");
	expect_rc(pool_realloc(p, free_spot, 512, &out), -EINVAL,
		  "pool_realloc(free space)");
	assert_int_equal(out, 0xdead);
	for (i = 0; i < 256; i++)
		assert_int_equal(bp[i], 0x77);

	/* Double free: the first one is good, the second is not. */
	expect_rc(pool_free(p, a), 0, "pool_free(a)");
	expect_rc(pool_free(p, a), -EINVAL, "pool_free(a) again");
	expect_rc(pool_realloc(p, a, 512, &out), -EINVAL,
		  "pool_realloc(freed block)");
	assert_int_equal(out, 0xdead);

	/* The daemon's own overflow check, without the library's. */
	fd = raw_greeted("raw-calloc");
	handle = raw_open(fd, 2);
	expect_rc(raw_alloc(fd, 3, handle, UINT64_MAX / 2 + 1, 1, 4, &roff),
		  -EOVERFLOW, "raw Alloc{zero, size 2^63, nmemb 4}");
	assert_string_equal(raw_words, "nmemb 4 * size 9223372036854775808 "
			    "overflows 64 bits");
	expect_rc(raw_alloc(fd, 4, handle, 0, 0, 1, &roff), -EINVAL,
		  "raw Alloc{size 0}");
	/* No block to no bytes allocates nothing, nor does a batch of none. */
	expect_rc(raw_realloc(fd, 8, handle, UINT64_MAX, 0, 0, &roff), -EINVAL,
		  "raw Realloc{offset UINT64_MAX, size 0}");
	assert_string_equal(raw_words, "allocating 0 bytes");
	expect_rc(harness_raw_alloc_batch(fd, handle, NULL, 0, NULL), -EINVAL,
		  "raw AllocBatch of no sizes");
	/* Zeroed and aligned: the daemon cannot do both, and says so
	 * (it once gave an unaligned block). */
	{
		Poolmgr__Request req = POOLMGR__REQUEST__INIT;
		Poolmgr__Alloc al = POOLMGR__ALLOC__INIT;

		al.handle = handle;
		al.size = 100;
		al.zero = 1;
		al.nmemb = 1;
		al.align = 4096;
		req.id = 7;
		req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
		req.alloc = &al;
		expect_rc(raw_block_call(fd, &req, &roff), -EINVAL,
			  "raw Alloc{zero, align 4096}");
	}
	expect_rc(raw_free(fd, 5, handle, b), -EPERM,
		  "raw Free of another handle's block");
	expect_rc(raw_free(fd, 6, handle + 100, b), -EBADF,
		  "raw Free on a handle that does not exist");
	close(fd);

	assert_int_equal(pool_stats(p, &after), 0);
	printf("badinput: after bad calls: live blocks %" PRIu64 " (was %"
	       PRIu64 "), invalid_frees %" PRIu64 " (was %" PRIu64 "), "
	       "failed_allocs %" PRIu64 " (was %" PRIu64 ")\n",
	       after.live_blocks, before.live_blocks, after.invalid_frees,
	       before.invalid_frees, after.failed_allocs,
	       before.failed_allocs);
	fflush(stdout);
	assert_int_equal(after.live_blocks, before.live_blocks + 1);
	for (i = 0; i < 256; i++)
		assert_int_equal(bp[i], 0x77);
	expect_rc(pool_free(p, b), 0, "pool_free(b)");

	/* Another client works, and so does this one. */
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, POOL_NAME, &p2), 0);
	client_still_works(p2);
	client_still_works(p);
	check_pool(c2);
	pool_close(p2);
	pool_disconnect(c2);
	assert_true(harness_alive(&fx.d));
	stop_daemon();
}

/*
 * Realloc with in_place (what libpoolclient sends for big blocks, which it
 * then moves itself) never moves a block: -EAGAIN, in words that name the
 * block and the size, and the block is as it was; shrinking and growing into free room still work in place, and the
 * same request without the flag moves it.
 */
static void
realloc_in_place_never_moves(void **state)
{
	struct pool_stats before, after;
	uint64_t a, b, out = 0;
	char want[128];
	uint32_t handle;
	int fd;

	(void)state;
	fd = raw_greeted("in-place");
	handle = raw_open(fd, 2);
	assert_int_equal(raw_alloc(fd, 3, handle, 256 << 10, 0, 1, &a), 0);
	assert_int_equal(raw_alloc(fd, 4, handle, 256 << 10, 0, 1, &b), 0);
	assert_int_equal(b, a + (256 << 10));	/* nothing free after a */
	assert_int_equal(pool_stats(fx.pool, &before), 0);

	assert_int_equal(raw_realloc(fd, 5, handle, a, 300 << 10, 1, &out),
			 -EAGAIN);
	snprintf(want, sizeof(want), "block 0x%llx cannot change size in "
		 "place to 307200 bytes: it would have to move",
		 (unsigned long long)a);
	assert_string_equal(raw_words, want);
	assert_int_equal(pool_stats(fx.pool, &after), 0);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.failed_allocs, before.failed_allocs);

	assert_int_equal(raw_realloc(fd, 6, handle, a, 128 << 10, 1, &out), 0);
	assert_int_equal(out, a);		/* shrunk where it is */
	assert_int_equal(raw_realloc(fd, 7, handle, a, 256 << 10, 1, &out), 0);
	assert_int_equal(out, a);		/* and grown back into it */
	assert_int_equal(raw_realloc(fd, 8, handle, a, 300 << 10, 0, &out), 0);
	assert_true(out != a);			/* moved without the flag */
	assert_int_equal(raw_free(fd, 9, handle, a), -EINVAL);
	assert_int_equal(raw_free(fd, 10, handle, out), 0);
	assert_int_equal(raw_free(fd, 11, handle, b), 0);
	close(fd);
	check_pool(fx.conn);
}

/*
 * heap.h defines invalid_frees as the frees refused with -EINVAL, and
 * poolctl exports it as poolmgr_pool_invalid_frees_total: every refused
 * free through the API must count.
 */
static void
invalid_frees_are_counted(void **state)
{
	struct pool_stats before, after;
	pool_off_t a = POOL_OFF_NONE, batch[2];
	struct pool *p = fx.pool;
	int refused = 0;

	(void)state;
	assert_int_equal(pool_alloc(p, 256, &a), 0);
	/* Blocks a cache refill brought along go now, not in the count. */
	assert_int_equal(pool_flush(p), 0);
	assert_int_equal(pool_stats(p, &before), 0);
	refused += pool_free(p, a + 16) == -EINVAL;
	refused += pool_free(p, pool_size(p) / 2) == -EINVAL;
	assert_int_equal(pool_free(p, a), 0);
	refused += pool_free(p, a) == -EINVAL;
	/* A realloc frees its block: one of no live block is a bad free. */
	refused += pool_realloc(p, a, 512, &batch[0]) == -EINVAL;
	assert_int_equal(refused, 4);
	assert_int_equal(pool_stats(p, &after), 0);
	printf("badinput: 4 frees refused with -EINVAL: invalid_frees %"
	       PRIu64 " -> %" PRIu64 ", frees %" PRIu64 " -> %" PRIu64 "\n",
	       before.invalid_frees, after.invalid_frees, before.frees,
	       after.frees);
	fflush(stdout);
	assert_int_equal(after.frees - before.frees, 1);
	assert_int_equal(after.invalid_frees - before.invalid_frees, 4);
	/*
	 * A FreeBatch refused for an offset no live block starts at, or for
	 * a block twice (a double free in one request), is one refused free
	 * too, and frees nothing.
	 */
	assert_int_equal(pool_alloc(p, 256, &batch[0]), 0);
	assert_int_equal(pool_flush(p), 0);
	assert_int_equal(pool_stats(p, &before), 0);
	batch[1] = batch[0] + 16;
	assert_int_equal(pool_free_batch(p, 2, batch), -EINVAL);
	batch[1] = batch[0];
	assert_int_equal(pool_free_batch(p, 2, batch), -EINVAL);
	assert_int_equal(pool_stats(p, &after), 0);
	assert_int_equal(after.invalid_frees - before.invalid_frees, 2);
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(pool_free_batch(p, 1, batch), 0);
	check_pool(fx.conn);
	stop_daemon();
}

/*
 * A pool name that holds a newline and a priority: the daemon quotes it in
 * its (debug) log, and it must not start a line of its own there, which
 * journald would file as a record of the priority the client chose.  The
 * words of the refusal show the newline as \x0a.
 */
static void
names_cannot_forge_log_lines(void **state)
{
	static char log[256 * 1024];
	const char *forged = "x\n<2>poolmgrd: pool " POOL_NAME ": FORGED";
	struct pool *p = NULL;

	(void)state;
	assert_int_equal(pool_open(fx.conn, forged, &p), -ENOENT);
	assert_null(p);
	client_still_works(fx.pool);
	harness_read_text(fx.d.log, log, sizeof(log));
	if (!strstr(log, "x\\x0a<2>poolmgrd: pool " POOL_NAME ": FORGED"))
		fail_msg("the name is not in the log as one line:\n%s", log);
	if (strstr(log, "\n<2>"))
		fail_msg("a client's name made a line of its own:\n%s", log);
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    pool_requests_refused_make_nothing, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    bad_api_input_gets_its_code, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    invalid_frees_are_counted, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    realloc_in_place_never_moves, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    names_cannot_forge_log_lines, badinput_setup,
		    badinput_teardown),
	};

	return cmocka_run_group_tests_name("integration: bad API input", tests,
					   NULL, NULL);
}
