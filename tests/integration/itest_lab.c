/*
 * itest_lab.c - the classic lab rules of an allocator, through the API
 * against the real daemon, and every bad input's error code.
 *
 * A 4096-byte pool with granularity 8: one 4096-byte block fits; 512
 * blocks of 8 bytes fit and the 513th is -ENOMEM; a freed block of N1 bytes
 * serves any N2 <= N1 at the same offset and the other N1 - N2 bytes stay
 * available; adjacent free blocks merge so N1 + N2 fits; non-adjacent free
 * blocks do not (a request larger than each is -ENOMEM).
 *
 * The rules hold through the client-side cache too (the suite runs with it
 * on and off): a block freed into the cache is given back before anything
 * is refused, and a block the cache served from a larger one gives its
 * slack back.  Checks of the daemon's books flush the cache first, since
 * cached blocks are the handle's until then.
 *
 * Success paths of the API: pool_alloc_aligned for every alignment from
 * 16 bytes to 64 KiB gives offsets (and addresses) so aligned, inside the
 * pool, whose whole usable size can be written without touching another
 * block; pool_realloc(off, 0) frees the block and stores POOL_OFF_NONE, and
 * pool_realloc(POOL_OFF_NONE, n) allocates; pool_realloc of a block that
 * another handle retained, or that is persistent, grows in place, and is
 * -EBUSY when it would have to move or shrink (the block, its bytes, its
 * size and the other holder's view unchanged); once
 * nobody else holds it, it may move, and its bytes come along.
 *
 * Bad inputs: size 0 and alignment 3 are -EINVAL, larger than the pool
 * -EFBIG, calloc overflow -EOVERFLOW, a double or interior free -EINVAL,
 * freeing POOL_OFF_NONE 0, an unknown pool -ENOENT, creating an existing
 * one -EEXIST, destroying one in use -EBUSY.  Afterwards the pool passes
 * the daemon's check and another client still works.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "poolclient.h"

#define LAB		"lab"
#define LAB_BYTES	4096
#define LAB_G		8
/* The reserved words of a public structure: the last is unknown to all. */
#define NRESERVED(s)	(sizeof (s).reserved / sizeof (s).reserved[0])

static struct daemon_proc daemon_proc;

/* A daemon with the lab pool, and one client with it open. */
struct lab {
	struct pool_conn *c;
	struct pool *p;
};

/* ---- helpers ------------------------------------------------------------ */

static void
start_lab(struct lab *l)
{
	struct pool_create_opts o = {.max_size = LAB_BYTES,
				     .granularity = LAB_G};
	struct pool_stats st;

	if (harness_start(&daemon_proc, NULL) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
	EXPECT_RC(pool_connect(NULL, &l->c), 0);
	EXPECT_RC(pool_create(l->c, LAB, &o), 0);
	EXPECT_RC(pool_open(l->c, LAB, &l->p), 0);
	assert_int_equal(pool_size(l->p), LAB_BYTES);
	EXPECT_RC(pool_stats(l->p, &st), 0);
	assert_int_equal(st.granularity, LAB_G);
	assert_int_equal(st.free_bytes, LAB_BYTES);
	assert_int_equal(st.allocated_bytes, 0);
}

static void
check_lab(struct lab *l)
{
	char msg[256] = "";
	int rc = pool_check_by_name(l->c, LAB, msg, sizeof(msg));

	if (rc)
		fail_msg("pool_check_by_name: %s: %s", pool_strerror(rc), msg);
}

/* The pool is empty again and consistent; close, stop, exit status 0. */
static void
stop_lab(struct lab *l)
{
	struct pool_stats st;

	EXPECT_RC(pool_flush(l->p), 0);
	EXPECT_RC(pool_stats(l->p, &st), 0);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	check_lab(l);
	pool_close(l->p);
	pool_disconnect(l->c);
	l->p = NULL;
	l->c = NULL;
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static pool_off_t
alloc_ok(struct pool *p, size_t size)
{
	pool_off_t off = POOL_OFF_NONE;
	size_t usable;
	int rc = pool_alloc(p, size, &off);

	if (rc)
		fail_msg("pool_alloc(%zu): %s", size, pool_strerror(rc));
	assert_true(off < LAB_BYTES);
	assert_int_equal(off % LAB_G, 0);
	EXPECT_RC(pool_usable_size(p, off, &usable), 0);
	/* Sizes here are multiples of the granule: no rounding. */
	assert_int_equal(usable, size);
	return off;
}

static void
free_ok(struct pool *p, pool_off_t off)
{
	EXPECT_RC(pool_free(p, off), 0);
}

/* Nothing more fits: the pool is full. */
static void
expect_full(struct pool *p)
{
	pool_off_t off = 0;

	EXPECT_RC(pool_alloc(p, LAB_G, &off), -ENOMEM);
}

/* The daemon's books, once this handle's cache has given its blocks back. */
static struct pool_stats
stats(struct pool *p)
{
	struct pool_stats st;

	EXPECT_RC(pool_flush(p), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.client_cached_bytes, 0);
	return st;
}

/*
 * Start a case from one free run: the whole pool must fit in one block
 * (which also makes the daemon merge its reuse caches back into the runs),
 * and it starts at 0.
 */
static void
reset(struct pool *p)
{
	pool_off_t all = alloc_ok(p, LAB_BYTES);

	assert_int_equal(all, 0);
	free_ok(p, all);
	assert_int_equal(stats(p).largest_free, LAB_BYTES);
}

/*
 * Fill the pool with blocks of the given sizes, in order, plus one block
 * for whatever remains; check that the pool is then full.  Returns the
 * number of blocks (n or n + 1).
 */
static unsigned
fill(struct pool *p, const size_t *sizes, unsigned n, pool_off_t *offs)
{
	size_t used = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		offs[i] = alloc_ok(p, sizes[i]);
		used += sizes[i];
	}
	assert_true(used <= LAB_BYTES);
	if (used < LAB_BYTES)
		offs[n++] = alloc_ok(p, LAB_BYTES - used);
	expect_full(p);
	assert_int_equal(stats(p).free_bytes, 0);
	return n;
}

static int
teardown(void **state)
{
	(void)state;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

/* ---- the lab rules ------------------------------------------------------ */

static void
one_4096_block_fits(void **state)
{
	struct lab l;
	struct pool_stats st;
	pool_off_t a;

	(void)state;
	start_lab(&l);
	a = alloc_ok(l.p, LAB_BYTES);
	assert_int_equal(a, 0);
	st = stats(l.p);
	assert_int_equal(st.allocated_bytes, LAB_BYTES);
	assert_int_equal(st.largest_free, 0);
	expect_full(l.p);
	free_ok(l.p, a);
	assert_int_equal(stats(l.p).largest_free, LAB_BYTES);
	/* And again, after a free. */
	a = alloc_ok(l.p, LAB_BYTES);
	free_ok(l.p, a);
	stop_lab(&l);
}

static int
cmp_off(const void *a, const void *b)
{
	pool_off_t x = *(const pool_off_t *)a, y = *(const pool_off_t *)b;

	return x < y ? -1 : x > y;
}

static void
blocks_of_8_fill_the_pool(void **state)
{
	pool_off_t offs[LAB_BYTES / LAB_G], sorted[LAB_BYTES / LAB_G], x;
	unsigned n = LAB_BYTES / LAB_G, i;
	struct pool_stats st;
	struct lab l;

	(void)state;
	start_lab(&l);
	for (i = 0; i < n; i++)
		offs[i] = alloc_ok(l.p, 8);
	/* 512 distinct offsets: every granule of the pool, once. */
	memcpy(sorted, offs, sizeof(offs));
	qsort(sorted, n, sizeof(sorted[0]), cmp_off);
	for (i = 0; i < n; i++)
		assert_int_equal(sorted[i], (pool_off_t)i * LAB_G);
	x = 12345;
	EXPECT_RC(pool_alloc(l.p, 8, &x), -ENOMEM);
	st = stats(l.p);
	assert_int_equal(st.live_blocks, n);
	assert_int_equal(st.allocated_bytes, LAB_BYTES);
	assert_int_equal(st.free_bytes, 0);
	assert_true(st.failed_allocs >= 1);
	check_lab(&l);
	/* Free every other one, then the rest: all merges back. */
	for (i = 0; i < n; i += 2)
		free_ok(l.p, sorted[i]);
	EXPECT_RC(pool_alloc(l.p, 16, &x), -ENOMEM);
	for (i = 1; i < n; i += 2)
		free_ok(l.p, sorted[i]);
	x = alloc_ok(l.p, LAB_BYTES);
	free_ok(l.p, x);
	stop_lab(&l);
}

static void
freed_block_serves_smaller_and_keeps_rest(void **state)
{
	/* {1024, 1000} and {2048, 1800}: the same size class of the cache. */
	static const size_t pairs[][2] = {
		{1024, 600}, {64, 24}, {8, 8}, {2000, 8}, {512, 504},
		{136, 128}, {3000, 1}, {1024, 1000}, {2048, 1800},
	};
	pool_off_t offs[4], m, a, b;
	size_t n1, n2, sizes[2];
	unsigned i, n, k;
	struct lab l;

	(void)state;
	start_lab(&l);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n1 = pairs[i][0];
		n2 = (pairs[i][1] + LAB_G - 1) / LAB_G * LAB_G;
		/* [front][N1][rest of the pool] */
		reset(l.p);
		sizes[0] = 1000 - 1000 % LAB_G;
		sizes[1] = n1;
		n = fill(l.p, sizes, 2, offs);
		m = offs[1];
		free_ok(l.p, m);
		/* The only free bytes are N1 at m: N2 comes from there. */
		EXPECT_RC(pool_alloc(l.p, pairs[i][1], &a), 0);
		if (a != m)
			fail_msg("N1 %zu N2 %zu: block at %#llx, expected the "
				 "freed %#llx", n1, pairs[i][1],
				 (unsigned long long)a, (unsigned long long)m);
		b = POOL_OFF_NONE;
		if (n1 > n2) {
			/* ... and the rest of N1 is still there. */
			b = alloc_ok(l.p, n1 - n2);
			assert_int_equal(b, m + n2);
		}
		expect_full(l.p);
		free_ok(l.p, a);
		if (b != POOL_OFF_NONE)
			free_ok(l.p, b);
		for (k = 0; k < n; k++)
			if (k != 1)
				free_ok(l.p, offs[k]);
		assert_int_equal(stats(l.p).allocated_bytes, 0);
	}
	check_lab(&l);
	stop_lab(&l);
}

/*
 * Two blocks that touch (in either order): returns the lower offset.  Fails
 * the test if they do not touch, since the case then tests nothing.
 */
static pool_off_t
adjacent(pool_off_t a, size_t alen, pool_off_t b, size_t blen)
{
	if (a + alen == b)
		return a;
	if (b + blen == a)
		return b;
	fail_msg("blocks %#llx+%zu and %#llx+%zu do not touch",
		 (unsigned long long)a, alen, (unsigned long long)b, blen);
	return POOL_OFF_NONE;
}

static void
adjacent_free_blocks_merge(void **state)
{
	static const size_t pairs[][2] = {
		{64, 64}, {8, 16}, {1000, 2000}, {24, 40}, {8, 8}, {512, 1024},
	};
	pool_off_t offs[4], a, low;
	size_t sizes[3];
	unsigned i, n, k;
	struct lab l;

	(void)state;
	start_lab(&l);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		/* [front][N1][N2][rest] */
		reset(l.p);
		sizes[0] = 800;
		sizes[1] = pairs[i][0];
		sizes[2] = pairs[i][1];
		n = fill(l.p, sizes, 3, offs);
		low = adjacent(offs[1], pairs[i][0], offs[2], pairs[i][1]);
		/* Free them in both orders across the cases. */
		free_ok(l.p, offs[1 + i % 2]);
		free_ok(l.p, offs[2 - i % 2]);
		a = alloc_ok(l.p, pairs[i][0] + pairs[i][1]);
		assert_int_equal(a, low);
		expect_full(l.p);
		free_ok(l.p, a);
		for (k = 0; k < n; k++)
			if (k != 1 && k != 2)
				free_ok(l.p, offs[k]);
	}
	/* Three in a row (from 0: [128][256][64][rest]), middle freed last. */
	reset(l.p);
	sizes[0] = 128;
	sizes[1] = 256;
	sizes[2] = 64;
	n = fill(l.p, sizes, 3, offs);
	assert_int_equal(n, 4);
	assert_int_equal(offs[0], 0);
	assert_int_equal(adjacent(offs[0], 128, offs[1], 256), 0);
	assert_int_equal(adjacent(offs[1], 256, offs[2], 64), offs[1]);
	free_ok(l.p, offs[0]);
	free_ok(l.p, offs[2]);
	EXPECT_RC(pool_alloc(l.p, 448, &a), -ENOMEM);
	free_ok(l.p, offs[1]);
	a = alloc_ok(l.p, 448);
	assert_int_equal(a, 0);
	free_ok(l.p, a);
	free_ok(l.p, offs[3]);
	check_lab(&l);
	stop_lab(&l);
}

static void
non_adjacent_free_blocks_do_not_merge(void **state)
{
	static const size_t pairs[][2] = {
		{64, 64}, {8, 16}, {1000, 1200}, {24, 40}, {8, 8},
	};
	pool_off_t offs[5], a, b, x;
	size_t n1, n2, big, sizes[4];
	struct pool_stats st;
	unsigned i, n, k;
	struct lab l;

	(void)state;
	start_lab(&l);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n1 = pairs[i][0];
		n2 = pairs[i][1];
		big = n1 > n2 ? n1 : n2;
		/* [front][N1][8 live bytes][N2][rest] */
		reset(l.p);
		sizes[0] = 400;
		sizes[1] = n1;
		sizes[2] = LAB_G;
		sizes[3] = n2;
		n = fill(l.p, sizes, 4, offs);
		/* Apart: the live 8 bytes between them. */
		assert_true(offs[1] + n1 + LAB_G == offs[3] ||
			    offs[3] + n2 + LAB_G == offs[1]);
		free_ok(l.p, offs[1]);
		free_ok(l.p, offs[3]);
		/* Free runs and the reuse caches hold exactly N1 + N2. */
		st = stats(l.p);
		assert_int_equal(st.free_bytes + st.cached_bytes, n1 + n2);
		assert_true(st.largest_free <= big);
		x = 1;
		EXPECT_RC(pool_alloc(l.p, big + LAB_G, &x), -ENOMEM);
		EXPECT_RC(pool_alloc(l.p, n1 + n2, &x), -ENOMEM);
		/* Each still serves its own size, in its own place. */
		a = alloc_ok(l.p, big);
		assert_true((a == offs[1] && n1 == big) ||
			    (a == offs[3] && n2 == big));
		b = alloc_ok(l.p, a == offs[1] ? n2 : n1);
		assert_true(b == (a == offs[1] ? offs[3] : offs[1]));
		expect_full(l.p);
		free_ok(l.p, a);
		free_ok(l.p, b);
		for (k = 0; k < n; k++)
			if (k != 1 && k != 3)
				free_ok(l.p, offs[k]);
	}
	check_lab(&l);
	stop_lab(&l);
}

/* ---- success paths through the API -------------------------------------- */

#define ALIGNED		"aligned"
#define ALIGNED_BYTES	(2u << 20)
#define N_ALIGNS	13		/* 16 << 0 .. 16 << 12 = 64 KiB */
#define PER_ALIGN	3

struct span {
	pool_off_t off;
	size_t len;
	uint8_t tag;
};

static int
cmp_span(const void *a, const void *b)
{
	return cmp_off(&((const struct span *)a)->off,
		       &((const struct span *)b)->off);
}

static void
aligned_allocations_are_aligned_and_usable(void **state)
{
	struct pool_create_opts o = {.max_size = ALIGNED_BYTES};
	struct span sp[N_ALIGNS * PER_ALIGN + 1];
	struct pool_stats st;
	char msg[256] = "";
	unsigned n = 0, k, j, i, exact = 0;
	struct pool *p;
	struct lab l;
	uint8_t *b;
	size_t i2;

	(void)state;
	start_lab(&l);
	EXPECT_RC(pool_create(l.c, ALIGNED, &o), 0);
	EXPECT_RC(pool_open(l.c, ALIGNED, &p), 0);
	/* A small block first: the next free byte is aligned to 16 only. */
	EXPECT_RC(pool_alloc(p, 16, &sp[n].off), 0);
	EXPECT_RC(pool_usable_size(p, sp[n].off, &sp[n].len), 0);
	sp[n].tag = 0xee;
	memset(pool_ptr(p, sp[n].off), sp[n].tag, sp[n].len);
	n++;
	for (k = 0; k < N_ALIGNS; k++) {
		size_t align = (size_t)16 << k;
		size_t sizes[PER_ALIGN] = {1, align / 2 + 3, align + 5};

		for (j = 0; j < PER_ALIGN; j++, n++) {
			pool_off_t off = POOL_OFF_NONE;
			int rc = pool_alloc_aligned(p, sizes[j], align, &off);

			if (rc)
				fail_msg("pool_alloc_aligned(%zu, %zu): %s",
					 sizes[j], align, pool_strerror(rc));
			if (off % align)
				fail_msg("pool_alloc_aligned(%zu, %zu) = %#llx:"
					 " not aligned", sizes[j], align,
					 (unsigned long long)off);
			assert_true(off < ALIGNED_BYTES);
			b = pool_ptr(p, off);
			assert_non_null(b);
			assert_int_equal((uintptr_t)b % align, 0);
			EXPECT_RC(pool_usable_size(p, off, &sp[n].len), 0);
			assert_true(sp[n].len >= sizes[j]);
			assert_true(off + sp[n].len <= ALIGNED_BYTES);
			exact += off % (2 * align) != 0;
			sp[n].off = off;
			sp[n].tag = (uint8_t)(n + 1);
			/* All of the usable size is the caller's to write. */
			memset(b, sp[n].tag, sp[n].len);
		}
	}
	/* No two blocks overlap, and no write reached another block. */
	qsort(sp, n, sizeof(sp[0]), cmp_span);
	for (i = 0; i + 1 < n; i++)
		if (sp[i].off + sp[i].len > sp[i + 1].off)
			fail_msg("blocks %#llx+%zu and %#llx overlap",
				 (unsigned long long)sp[i].off, sp[i].len,
				 (unsigned long long)sp[i + 1].off);
	for (i = 0; i < n; i++) {
		b = pool_ptr(p, sp[i].off);
		for (i2 = 0; i2 < sp[i].len; i2++)
			if (b[i2] != sp[i].tag)
				fail_msg("block %#llx byte %zu is %#x, not "
					 "%#x", (unsigned long long)sp[i].off,
					 i2, b[i2], sp[i].tag);
	}
	printf("lab: %u aligned blocks, 16 B to 64 KiB alignment, %u of "
	       "them not aligned to twice their alignment\n", n - 1, exact);
	if (pool_check_by_name(l.c, ALIGNED, msg, sizeof(msg)))
		fail_msg("check of %s: %s", ALIGNED, msg);
	for (i = 0; i < n; i++)
		free_ok(p, sp[i].off);
	EXPECT_RC(pool_flush(p), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	pool_close(p);
	EXPECT_RC(pool_destroy(l.c, ALIGNED), 0);
	stop_lab(&l);
}

static void
realloc_to_zero_frees(void **state)
{
	pool_off_t x, out;
	struct pool_stats st;
	size_t us;
	struct lab l;

	(void)state;
	start_lab(&l);
	reset(l.p);
	x = alloc_ok(l.p, 200);
	memset(pool_ptr(l.p, x), 0x11, 200);
	out = 5;
	EXPECT_RC(pool_realloc(l.p, x, 0, &out), 0);
	assert_int_equal(out, POOL_OFF_NONE);
	/* The block is gone: not a block any more, and the pool is empty. */
	st = stats(l.p);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.allocated_bytes, 0);
	EXPECT_RC(pool_usable_size(l.p, x, &us), -EINVAL);
	EXPECT_RC(pool_free(l.p, x), -EINVAL);
	/* Its bytes are free again: the whole pool fits in one block. */
	reset(l.p);

	/* realloc of POOL_OFF_NONE allocates; then 0 frees that one too. */
	out = POOL_OFF_NONE;
	EXPECT_RC(pool_realloc(l.p, POOL_OFF_NONE, 300, &out), 0);
	assert_true(out < LAB_BYTES);
	EXPECT_RC(pool_usable_size(l.p, out, &us), 0);
	assert_true(us >= 300);
	x = out;
	EXPECT_RC(pool_realloc(l.p, x, 0, &out), 0);
	assert_int_equal(out, POOL_OFF_NONE);
	assert_int_equal(stats(l.p).live_blocks, 0);
	stop_lab(&l);
}

/* The block at off holds len bytes of value v, for handle p. */
static void
expect_bytes(struct pool *p, pool_off_t off, size_t len, uint8_t v)
{
	uint8_t *b = pool_ptr(p, off);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++)
		if (b[i] != v)
			fail_msg("byte %zu of %#llx is %#x, not %#x", i,
				 (unsigned long long)off, b[i], v);
}

static void
expect_usable(struct pool *p, pool_off_t off, size_t want)
{
	size_t us = 0;

	EXPECT_RC(pool_usable_size(p, off, &us), 0);
	assert_int_equal(us, want);
}

/*
 * Realloc of a block that is not the caller's alone, where growing would
 * have to move it (its neighbour is live, room elsewhere): -EBUSY, *out
 * untouched, the block as it was.
 */
static void
expect_busy_unchanged(struct lab *l, struct pool *other, pool_off_t x,
		      size_t len, uint8_t v)
{
	pool_off_t out = 0xabcd;

	EXPECT_RC(pool_realloc(l->p, x, len * 2, &out), -EBUSY);
	assert_int_equal(out, 0xabcd);
	EXPECT_RC(pool_realloc(l->p, x, LAB_BYTES / 2, &out), -EBUSY);
	assert_int_equal(out, 0xabcd);
	expect_bytes(l->p, x, len, v);
	expect_usable(l->p, x, len);
	if (other) {
		expect_bytes(other, x, len, v);
		expect_usable(other, x, len);
	}
}

static void
realloc_of_block_others_hold_stays_or_ebusy(void **state)
{
	struct pool_conn *c2;
	struct pool *q;
	pool_off_t x, y, out;
	struct lab l;

	(void)state;
	start_lab(&l);
	reset(l.p);
	/* [x 256][y 256][free ...]: x cannot grow where it is. */
	x = alloc_ok(l.p, 256);
	y = alloc_ok(l.p, 256);
	if (y != x + 256)
		fail_msg("y at %#llx does not follow x at %#llx: nothing "
			 "would force a move", (unsigned long long)y,
			 (unsigned long long)x);
	memset(pool_ptr(l.p, x), 0x3e, 256);
	EXPECT_RC(pool_connect(NULL, &c2), 0);
	EXPECT_RC(pool_open(c2, LAB, &q), 0);
	EXPECT_RC(pool_retain(q, x), 0);

	/* Retained by another handle: it would have to move, so -EBUSY. */
	expect_busy_unchanged(&l, q, x, 256, 0x3e);
	assert_int_equal(stats(l.p).live_blocks, 2);

	/*
	 * Nor may it shrink: q was told 256 bytes and may use them all (a
	 * shrink once went through, and the tail went to the next
	 * allocation of anyone).
	 */
	out = POOL_OFF_NONE;
	EXPECT_RC(pool_realloc(l.p, x, 128, &out), -EBUSY);
	assert_int_equal(out, POOL_OFF_NONE);
	expect_usable(l.p, x, 256);
	expect_usable(q, x, 256);
	expect_bytes(q, x, 256, 0x3e);

	/* With room behind it (y freed, not cached), it grows in place. */
	free_ok(l.p, y);
	EXPECT_RC(pool_flush(l.p), 0);
	EXPECT_RC(pool_realloc(l.p, x, 512, &out), 0);
	assert_int_equal(out, x);
	expect_usable(q, x, 512);
	expect_bytes(q, x, 256, 0x3e);
	y = alloc_ok(l.p, 256);
	if (y != x + 512)
		fail_msg("y at %#llx does not follow x at %#llx: nothing "
			 "would force a move", (unsigned long long)y,
			 (unsigned long long)x);

	/* Once the other handle lets go, x is ours alone and may move. */
	EXPECT_RC(pool_free(q, x), 0);
	pool_close(q);
	pool_disconnect(c2);
	EXPECT_RC(pool_realloc(l.p, x, 1024, &out), 0);
	assert_true(out != x);
	expect_bytes(l.p, out, 256, 0x3e);
	x = out;

	/* Persistent: the pool holds it too, so again only in place. */
	free_ok(l.p, x);
	free_ok(l.p, y);
	reset(l.p);
	x = alloc_ok(l.p, 256);
	y = alloc_ok(l.p, 256);
	assert_int_equal(y, x + 256);
	memset(pool_ptr(l.p, x), 0x5d, 256);
	EXPECT_RC(pool_persist(l.p, x), 0);
	expect_busy_unchanged(&l, NULL, x, 256, 0x5d);
	EXPECT_RC(pool_realloc(l.p, x, 128, &out), -EBUSY);
	expect_usable(l.p, x, 256);
	/* Drop our reference, then the pool's: then it is gone. */
	free_ok(l.p, x);
	expect_bytes(l.p, x, 256, 0x5d);
	assert_int_equal(stats(l.p).persistent_blocks, 1);
	free_ok(l.p, x);
	free_ok(l.p, y);
	stop_lab(&l);
}

/* ---- bad inputs --------------------------------------------------------- */

/* Another client, on its own connection: open, allocate, write, free. */
static void
another_client_works(void)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	pool_off_t off;
	uint8_t *b;

	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, LAB, &p), 0);
	EXPECT_RC(pool_alloc(p, 100, &off), 0);
	assert_non_null(b = pool_ptr(p, off));
	memset(b, 0x42, 100);
	assert_int_equal(b[99], 0x42);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
bad_inputs_give_their_codes(void **state)
{
	char name[POOL_NAME_MAX + 2];
	struct pool_create_opts o = {.max_size = LAB_BYTES,
				     .granularity = LAB_G};
	struct pool_stats before, st;
	struct pool *p2 = NULL;
	pool_off_t keep, x, y;
	struct lab l;

	(void)state;
	start_lab(&l);
	keep = alloc_ok(l.p, 200);	/* a live block through it all */
	before = stats(l.p);

	x = 7;
	EXPECT_RC(pool_alloc(l.p, 0, &x), -EINVAL);
	EXPECT_RC(pool_alloc(l.p, LAB_BYTES + 1, &x), -EFBIG);
	EXPECT_RC(pool_alloc(l.p, 1 << 20, &x), -EFBIG);
	EXPECT_RC(pool_calloc(l.p, 2, LAB_BYTES, &x), -EFBIG);
	EXPECT_RC(pool_calloc(l.p, SIZE_MAX / 2 + 1, 2, &x), -EOVERFLOW);
	EXPECT_RC(pool_calloc(l.p, (size_t)1 << 33, (size_t)1 << 33, &x),
		  -EOVERFLOW);
	EXPECT_RC(pool_alloc_aligned(l.p, 8, 3, &x), -EINVAL);
	EXPECT_RC(pool_alloc_aligned(l.p, 8, 24, &x), -EINVAL);
	/* Not too big for the pool, just no room left with keep in it. */
	EXPECT_RC(pool_alloc(l.p, LAB_BYTES, &x), -ENOMEM);

	/* Frees that name no live block. */
	x = alloc_ok(l.p, 64);
	y = alloc_ok(l.p, 64);
	free_ok(l.p, x);
	EXPECT_RC(pool_free(l.p, x), -EINVAL);		/* double */
	EXPECT_RC(pool_free(l.p, y + 8), -EINVAL);	/* interior */
	EXPECT_RC(pool_free(l.p, y + 1), -EINVAL);	/* not a granule */
	EXPECT_RC(pool_free(l.p, LAB_BYTES + 64), -EINVAL); /* outside */
	EXPECT_RC(pool_free(l.p, POOL_OFF_NONE), 0);
	free_ok(l.p, y);
	EXPECT_RC(pool_free(l.p, y), -EINVAL);

	/* Names. */
	EXPECT_RC(pool_open(l.c, "no-such-pool", &p2), -ENOENT);
	assert_null(p2);
	EXPECT_RC(pool_open_readonly(l.c, "no-such-pool", &p2), -ENOENT);
	EXPECT_RC(pool_stats_by_name(l.c, "no-such-pool", &st), -ENOENT);
	EXPECT_RC(pool_destroy(l.c, "no-such-pool"), -ENOENT);
	EXPECT_RC(pool_create(l.c, LAB, &o), -EEXIST);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';		/* 65 bytes */
	EXPECT_RC(pool_create(l.c, name, &o), -ENAMETOOLONG);
	EXPECT_RC(pool_create(l.c, ".hidden", &o), -EINVAL);
	o.granularity = 3;
	EXPECT_RC(pool_create(l.c, "badgran", &o), -EINVAL);
	EXPECT_RC(pool_stats_by_name(l.c, "badgran", &st), -ENOENT);
	o.granularity = LAB_G;
	/* An option this library does not know: refused, not ignored. */
	o.reserved[NRESERVED(o) - 1] = 1;
	EXPECT_RC(pool_create(l.c, "badopt", &o), -EINVAL);
	EXPECT_RC(pool_stats_by_name(l.c, "badopt", &st), -ENOENT);
	o.reserved[NRESERVED(o) - 1] = 0;

	/* In use: a handle is open (and keep is live). */
	EXPECT_RC(pool_destroy(l.c, LAB), -EBUSY);

	/* None of that changed anything. */
	st = stats(l.p);
	assert_int_equal(st.limit, 0);
	assert_int_equal(st.allocated_bytes, before.allocated_bytes);
	assert_int_equal(st.live_blocks, 1);
	EXPECT_RC(pool_usable_size(l.p, keep, (size_t[]){0}), 0);
	check_lab(&l);
	another_client_works();
	/* This connection still works too. */
	x = alloc_ok(l.p, 48);
	free_ok(l.p, x);

	/* No handles, but a persistent block: still in use. */
	EXPECT_RC(pool_persist(l.p, keep), 0);
	pool_close(l.p);
	EXPECT_RC(pool_stats_by_name(l.c, LAB, &st), 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.live_blocks, 1);
	EXPECT_RC(pool_destroy(l.c, LAB), -EBUSY);
	EXPECT_RC(pool_open(l.c, LAB, &l.p), 0);
	free_ok(l.p, keep);
	check_lab(&l);
	pool_close(l.p);

	/* Now unused: it goes, and then it is unknown. */
	EXPECT_RC(pool_destroy(l.c, LAB), 0);
	EXPECT_RC(pool_destroy(l.c, LAB), -ENOENT);
	EXPECT_RC(pool_open(l.c, LAB, &p2), -ENOENT);

	/* Recreate it so stop_lab finds it empty and consistent. */
	EXPECT_RC(pool_create(l.c, LAB, &o), 0);
	EXPECT_RC(pool_open(l.c, LAB, &l.p), 0);
	another_client_works();
	stop_lab(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(one_4096_block_fits, teardown),
		cmocka_unit_test_teardown(blocks_of_8_fill_the_pool, teardown),
		cmocka_unit_test_teardown(
			freed_block_serves_smaller_and_keeps_rest, teardown),
		cmocka_unit_test_teardown(adjacent_free_blocks_merge,
					  teardown),
		cmocka_unit_test_teardown(
			non_adjacent_free_blocks_do_not_merge, teardown),
		cmocka_unit_test_teardown(
			aligned_allocations_are_aligned_and_usable, teardown),
		cmocka_unit_test_teardown(realloc_to_zero_frees, teardown),
		cmocka_unit_test_teardown(
			realloc_of_block_others_hold_stays_or_ebusy, teardown),
		cmocka_unit_test_teardown(bad_inputs_give_their_codes,
					  teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("lab", tests, NULL, NULL);
}
