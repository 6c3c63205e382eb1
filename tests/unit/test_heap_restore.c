/*
 * test_heap_restore.c - heap_block_info and heap_reserve: a heap rebuilt
 * block by block, as the daemon rebuilds its pools after a restart in
 * place, is the heap it was: every invariant holds, every statistic the
 * blocks make is the same, every block frees, new blocks never land on
 * restored ones, and a calloc reusing a restored block's pages zeroes
 * them.  Refused reservations change nothing.  Event counters a save did
 * not make are refused by heap_events_check.
 *
 * The random heaps are seeded; HEAP_RESTORE_SEED picks the seed, and the
 * seed used is printed.  HEAP_RESTORE_CHECK_ALL checks the random heap
 * after every operation instead of every 10000 (to find the one that
 * broke it).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "heap.h"
#include "heap_owner.h"
#include "fail_malloc_beside.h"

#define KiB (1024ull)
#define MiB (1024ull * 1024)

static uint64_t rng;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
seed(const char *test)
{
	const char *env = getenv("HEAP_RESTORE_SEED");
	uint64_t s = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);

	printf("%s: seed %llu\n", test, (unsigned long long)s);
	rng = s * 0x9e3779b97f4a7c15ull | 1;
}

static void
reserve_ok(struct heap *h, uint64_t off, uint64_t size, uint64_t req,
	   int span)
{
	struct heap_block_info bi = {size, req, span};
	int rc = heap_reserve(h, off, &bi);

	if (rc)
		fail_msg("reserve %#llx %llu (%llu, span %d): %s",
			 (unsigned long long)off, (unsigned long long)size,
			 (unsigned long long)req, span, heap_strerror(rc));
}

static struct heap_block_info
info(struct heap *h, uint64_t off)
{
	struct heap_block_info bi;
	int rc = heap_block_info(h, off, &bi);

	if (rc)
		fail_msg("block_info %#llx: %s", (unsigned long long)off,
			 heap_strerror(rc));
	return bi;
}

/* A reservation refused with err: the heap is as it was, to the byte. */
static void
refused(struct heap *h, uint64_t off, uint64_t size, uint64_t req, int span,
	int err)
{
	struct heap_block_info bi = {size, req, span};
	struct heap_stats a = stats(h), b;
	int rc = heap_reserve(h, off, &bi);

	if (rc != err)
		fail_msg("reserve %#llx %llu (%llu, span %d): %d, want %d",
			 (unsigned long long)off, (unsigned long long)size,
			 (unsigned long long)req, span, rc, err);
	b = stats(h);
	assert_memory_equal(&a, &b, sizeof(a));
	check_ok(h);
}

/* What a block of the live set counts, class by class. */
static void
expect_same_classes(struct heap *a, struct heap *b)
{
	struct heap_class_stats ca, cb;
	unsigned i;

	for (i = 0; i < HEAP_NCLASSES; i++) {
		assert_int_equal(heap_get_class_stats(a, i, &ca), 0);
		assert_int_equal(heap_get_class_stats(b, i, &cb), 0);
		assert_int_equal(ca.live_blocks, cb.live_blocks);
		assert_int_equal(ca.live_bytes, cb.live_bytes);
	}
}

/* The statistics the live blocks make, equal in a and b. */
static void
expect_same_live(struct heap *a, struct heap *b)
{
	struct heap_stats sa = stats(a), sb = stats(b);

	assert_int_equal(sa.allocated_bytes, sb.allocated_bytes);
	assert_int_equal(sa.requested_bytes, sb.requested_bytes);
	assert_int_equal(sa.live_blocks, sb.live_blocks);
	assert_int_equal(sa.spans, sb.spans);
	expect_same_classes(a, b);
}

/*
 * A fresh heap takes small blocks, spans and a granule-sized block where
 * it is told: at the pool's start and end, touching each other, with
 * free runs of every kind between.  The statistics count them as
 * allocations but for the event counters; heap_block_info reads them back.
 */
static void
reserve_into_a_fresh_heap(void **state)
{
	struct heap *h = make(8 * MiB, 16, 0, 0);
	struct heap_class_stats cs;
	struct heap_stats st;

	(void)state;
	reserve_ok(h, 0, 48, 40, 0);		/* the pool's first byte */
	reserve_ok(h, 48, 16, 16, 0);		/* touching it */
	reserve_ok(h, 4 * KiB, 1008, 1000, 0);
	reserve_ok(h, 128 * KiB, 128 * KiB, 128 * KiB - 5, 1);
	reserve_ok(h, 256 * KiB, 8 * KiB, 5000, 1);	/* a split's tail */
	reserve_ok(h, 3 * MiB + 16, 128 * KiB, 128 * KiB - 15, 0);
	reserve_ok(h, 8 * MiB - 256 * KiB, 256 * KiB, 256 * KiB - 100, 1);
	reserve_ok(h, 8 * MiB - 256 * KiB - 64, 64, 49, 0); /* touching it */
	check_ok(h);

	st = stats(h);
	assert_int_equal(st.live_blocks, 8);
	assert_int_equal(st.spans, 3);
	assert_int_equal(st.allocated_bytes,
			 48 + 16 + 1008 + 128 * KiB + 8 * KiB + 128 * KiB +
			 256 * KiB + 64);
	/* The 64-byte block keeps its slack of 15 in three bits: 14. */
	assert_int_equal(st.requested_bytes,
			 40 + 16 + 1000 + (128 * KiB - 5) + 5000 +
			 (128 * KiB - 15) + (256 * KiB - 100) + 50);
	assert_int_equal(st.allocs, 0);
	assert_int_equal(st.free_bytes + st.allocated_bytes, 8 * MiB);
	assert_int_equal(heap_get_class_stats(h, 17, &cs), 0);
	assert_int_equal(cs.live_blocks, 2);	/* 128 KiB span and block */
	assert_int_equal(cs.allocs, 0);

	assert_int_equal(info(h, 0).size, 48);
	assert_int_equal(info(h, 0).requested, 40);
	assert_int_equal(info(h, 0).span, 0);
	assert_int_equal(info(h, 128 * KiB).size, 128 * KiB);
	assert_int_equal(info(h, 128 * KiB).requested, 128 * KiB - 5);
	assert_int_equal(info(h, 128 * KiB).span, 1);
	assert_int_equal(info(h, 256 * KiB).size, 8 * KiB);
	assert_int_equal(info(h, 3 * MiB + 16).span, 0);
	assert_int_equal(usable(h, 3 * MiB + 16), 128 * KiB);
	assert_int_equal(info(h, 8 * MiB - 256 * KiB).requested,
			 256 * KiB - 100);
	assert_int_equal(info(h, 8 * MiB - 256 * KiB - 64).requested, 50);
	assert_int_equal(heap_block_info(h, 16, &(struct heap_block_info){0}),
			 -EINVAL);
	assert_int_equal(heap_block_info(h, 64 * KiB,
					 &(struct heap_block_info){0}),
			 -EINVAL);
	/* The pages under them were touched: the resident estimate. */
	assert_true(st.resident_bytes >= st.allocated_bytes);
	heap_destroy(h);
}

/*
 * Blocks aligned as heap_alloc's alignment leaves them, reserved in a
 * pool whose granule is larger than the default; the free run between
 * two of them is exactly what is left.
 */
static void
reserve_aligned_blocks(void **state)
{
	struct heap *h = make(4 * MiB, 64, 64 * KiB, 0);
	struct heap_stats st;

	(void)state;
	reserve_ok(h, 64 * KiB, 64, 1, 0);
	reserve_ok(h, 2 * MiB, 2 * MiB, 2 * MiB - 1, 1);
	reserve_ok(h, 1 * MiB, 64 * KiB, 64 * KiB, 1);
	reserve_ok(h, 1 * MiB - 64, 64, 64, 0);
	check_ok(h);
	st = stats(h);
	assert_int_equal(st.live_blocks, 4);
	assert_int_equal(st.free_bytes, 2 * MiB - 64 * KiB - 2 * 64);
	/* Every free byte is in the three runs between them. */
	assert_int_equal(st.free_runs, 3);
	assert_int_equal(st.largest_free, 1 * MiB - 64 * KiB);
	heap_destroy(h);
}

/* Refusals: each changes nothing, not a counter, not a byte of metadata. */
static void
bad_reservations_change_nothing(void **state)
{
	struct heap *h = make(4 * MiB, 16, 0, 0);
	uint64_t a, s;

	(void)state;
	a = alloc_ok(h, 100);			/* [0, 112) */
	s = alloc_ok(h, 200 * KiB);		/* a span */
	check_ok(h);
	/* Live bytes under it, at either end or in the middle. */
	refused(h, a, 112, 112, 0, -EBUSY);
	refused(h, a + 96, 32, 32, 0, -EBUSY);
	refused(h, s - 16, 32, 32, 0, -EBUSY);
	refused(h, s - PAGE, 2 * PAGE, 2 * PAGE, 1, -EBUSY);
	refused(h, s + 196 * KiB, 8 * KiB, 8 * KiB, 1, -EBUSY);
	refused(h, 0, 4 * MiB, 4 * MiB, 1, -EBUSY);
	/* Bad arguments. */
	refused(h, 2 * MiB, 0, 0, 0, -EINVAL);
	refused(h, 2 * MiB, 64, 0, 0, -EINVAL);
	refused(h, 2 * MiB, 64, 65, 0, -EINVAL);	/* requested > size */
	refused(h, 2 * MiB, 64, 48, 0, -EINVAL);	/* a granule short */
	refused(h, 2 * MiB + 8, 64, 64, 0, -EINVAL);	/* off mid-granule */
	refused(h, 2 * MiB, 60, 60, 0, -EINVAL);	/* size mid-granule */
	refused(h, 2 * MiB, 128 * KiB + 16, 128 * KiB + 16, 0, -EINVAL);
	refused(h, 2 * MiB + 16, PAGE, PAGE, 1, -EINVAL); /* span mid-page */
	refused(h, 2 * MiB, PAGE + 16, PAGE + 16, 1, -EINVAL);
	refused(h, 2 * MiB, 2 * PAGE, PAGE, 1, -EINVAL); /* a page short */
	refused(h, 2 * MiB, PAGE, PAGE, 2, -EINVAL);	/* no such kind */
	refused(h, 4 * MiB, 16, 16, 0, -EINVAL);	/* past the end */
	refused(h, 4 * MiB - PAGE, 2 * PAGE, 2 * PAGE, 1, -EINVAL);
	refused(h, 4 * MiB - 16, UINT64_MAX - 15, UINT64_MAX - 15, 1,
		-EINVAL);
	refused(h, UINT64_MAX - 15, 16, 16, 0, -EINVAL);
	/* Then free bytes right next to them are taken. */
	reserve_ok(h, 112, 16, 16, 0);
	reserve_ok(h, s + 200 * KiB, 8 * KiB, 8 * KiB, 1);
	check_ok(h);
	heap_destroy(h);
}

/*
 * Cached blocks are free space: a reservation over one merges it (and
 * only what it covers) into the runs and takes it; one that covers live
 * bytes too is refused and leaves the cache as it was.
 */
static void
cached_blocks_are_free_space(void **state)
{
	struct heap *h = make(4 * MiB, 16, 0, 4);
	uint64_t b[6], i;
	struct heap_stats st;

	(void)state;
	for (i = 0; i < 6; i++)
		b[i] = alloc_ok(h, 64);		/* [64 i, 64 i + 64) */
	assert_int_equal(heap_free(h, b[1]), 0);
	assert_int_equal(heap_free(h, b[4]), 0);
	st = stats(h);
	assert_int_equal(st.cached_blocks, 2);
	/* b[1] and half of b[2] (live): refused, the cache as it was. */
	refused(h, b[1], 96, 96, 0, -EBUSY);
	refused(h, b[1] + 32, 64, 64, 0, -EBUSY);
	/* The middle of b[1]: taken; the rest of it is free runs. */
	reserve_ok(h, b[1] + 16, 32, 20, 0);
	check_ok(h);
	st = stats(h);
	assert_int_equal(st.cached_blocks, 1);
	assert_int_equal(st.live_blocks, 5);
	assert_int_equal(st.free_runs, 3);	/* two in b[1], one at the end */
	/* b[4] and the free run after b[5]: not one extent, all free?  No:
	 * b[5] is live between. */
	refused(h, b[4], 192, 192, 0, -EBUSY);
	assert_int_equal(heap_free(h, b[5]), 0);	/* cached too */
	assert_int_equal(stats(h).cached_blocks, 2);
	/* Two cached blocks and the run after them, in one block. */
	reserve_ok(h, b[4], 256, 256, 0);
	check_ok(h);
	st = stats(h);
	assert_int_equal(st.cached_blocks, 0);
	assert_int_equal(st.cached_bytes, 0);
	assert_int_equal(info(h, b[4]).size, 256);
	heap_destroy(h);
}

/* Zeroed ranges as the engine asks for them. */
static uint64_t zeroed[64][2];
static unsigned nzeroed;

static void
record_zero(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx;
	if (nzeroed < 64) {
		zeroed[nzeroed][0] = off;
		zeroed[nzeroed][1] = len;
	}
	nzeroed++;
}

static bool
was_zeroed(uint64_t off, uint64_t len)
{
	unsigned i;

	for (i = 0; i < nzeroed && i < 64; i++)
		if (zeroed[i][0] <= off && off + len <= zeroed[i][0] + zeroed[i][1])
			return true;
	return false;
}

/*
 * A restored block's pages held data before the restart: freed and taken
 * again by calloc, they are zeroed, with the cache (the block comes back
 * from it) and without it (from the runs); the pages beyond them, never
 * touched, are not.
 */
static void
calloc_zeroes_restored_pages(void **state)
{
	struct heap_config cfg = {
		.max_size = 4 * MiB, .page_size = PAGE, .zero = record_zero,
	};
	uint32_t caches[2] = {0, HEAP_CACHE_NONE};
	struct heap *h;
	uint64_t off;
	unsigned k;

	(void)state;
	for (k = 0; k < 2; k++) {
		cfg.cache_blocks = caches[k];
		assert_int_equal(heap_create(&cfg, &h), 0);
		reserve_ok(h, 0, 1008, 1000, 0);
		assert_int_equal(heap_free(h, 0), 0);
		assert_int_equal(stats(h).cached_blocks, k == 0);
		nzeroed = 0;
		assert_int_equal(heap_calloc(h, 1, 1000, &off), 0);
		assert_int_equal(off, 0);
		assert_int_equal(nzeroed, 1);
		assert_true(was_zeroed(0, 1008));
		/* The rest of the restored block's page, and only it. */
		nzeroed = 0;
		assert_int_equal(heap_calloc(h, 1, 2 * PAGE, &off), 0);
		assert_int_equal(off, 1008);
		assert_int_equal(nzeroed, 1);
		assert_int_equal(zeroed[0][0], 1008);
		assert_int_equal(zeroed[0][1], PAGE - 1008);
		check_ok(h);
		heap_destroy(h);
	}
}

/* ------------------------------------------------- the restored heap */

struct ext {
	uint64_t off, len;
};

static int
ext_cmp(const void *a, const void *b)
{
	const struct ext *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* The live blocks of the model, in a growable list. */
struct live {
	uint64_t *off;
	size_t n, cap;
};

static void
live_add(struct live *l, uint64_t off)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->off = realloc(l->off, l->cap * sizeof(*l->off));
		assert_non_null(l->off);
	}
	l->off[l->n++] = off;
}

static uint64_t
live_take(struct live *l, size_t i)
{
	uint64_t off = l->off[i];

	l->off[i] = l->off[--l->n];
	return off;
}

static uint64_t
rand_size(void)
{
	uint64_t r = rnd() % 100;

	if (r < 70)
		return 1 + rnd() % 1024;
	if (r < 90)
		return 1 + rnd() % (64 * KiB);
	if (r < 98)
		return 1 + rnd() % (1 * MiB);
	return 1 + rnd() % (4 * MiB);
}

/* The large threshold of the heap random_op works on. */
static uint64_t threshold;
/* Reservations random_reserve made, refused, and made over cached blocks. */
static unsigned nmade, nbusy, nuncached;
/* The blocks random_op freed last: a reservation there may meet cached
 * blocks. */
static uint64_t freed[16];
static unsigned nfreed;

/*
 * A reservation of a random extent of h, a valid one but for its end,
 * which may lie past the pool: refused with -EBUSY exactly when a live
 * block of the model overlaps it (cached blocks are free space), else
 * made, and then one of the model's live blocks.
 */
static void
random_reserve(struct heap *h, struct live *l)
{
	struct heap_stats st = stats(h);
	struct heap_block_info bi;
	uint64_t g = st.granularity, page = st.page_size, off, end, b;
	int want = 0, rc;
	size_t i;

	bi.span = rnd() % 4 == 0;
	if (bi.span) {
		bi.size = (1 + rnd() % 64) * page;
		off = rnd() % (st.max_size / page) * page;
		bi.requested = bi.size - rnd() % page;
	} else {
		/* Small blocks reach the threshold rounded up to a granule. */
		b = (threshold + g - 1) / g;
		b = b < 64 ? b : 64;
		bi.size = (1 + rnd() % b) * g;
		off = rnd() % (st.max_size / g) * g;
		if (nfreed && rnd() % 2)
			off = freed[rnd() % (nfreed < 16 ? nfreed : 16)] +
			      rnd() % 4 * g;
		bi.requested = bi.size - rnd() % g;
	}
	end = off + bi.size;
	if (end > st.max_size)
		want = -EINVAL;
	for (i = 0; i < l->n && !want; i++)
		if (l->off[i] < end && off < l->off[i] + usable(h, l->off[i]))
			want = -EBUSY;
	rc = heap_reserve(h, off, &bi);
	nbusy += rc == -EBUSY;
	nmade += rc == 0;
	nuncached += rc == 0 && stats(h).cached_blocks < st.cached_blocks;
	if (rc != want)
		fail_msg("reserve %#llx %llu (span %d): %d, want %d",
			 (unsigned long long)off, (unsigned long long)bi.size,
			 bi.span, rc, want);
	if (rc == 0)
		live_add(l, off);
}

/* One random operation on h, whose live blocks l lists. */
static void
random_op(struct heap *h, struct live *l)
{
	uint64_t r = rnd() % 100, off, tail, tlen, len;
	size_t i;
	int rc;

	if (l->n > 0 && (r < 35 || l->n > 3000)) {
		i = rnd() % l->n;
		off = live_take(l, i);
		assert_int_equal(heap_free(h, off), 0);
		freed[nfreed++ % 16] = off;
		return;
	}
	if (l->n > 0 && r < 50) {
		i = rnd() % l->n;
		rc = heap_realloc(h, l->off[i], rand_size(), &off);
		if (rc == 0)
			l->off[i] = off;
		else
			assert_int_equal(rc, -ENOMEM);
		return;
	}
	if (l->n > 0 && r < 54) {
		i = rnd() % l->n;
		len = usable(h, l->off[i]);
		rc = heap_split(h, l->off[i], 1 + rnd() % len, &tail, &tlen);
		if (rc == 0)
			live_add(l, tail);
		else
			assert_int_equal(rc, -EINVAL);
		return;
	}
	if (r < 56) {
		random_reserve(h, l);
		return;
	}
	if (r < 64)
		rc = heap_alloc(h, rand_size(), 1ull << (rnd() % 17), &off);
	else if (r < 74)
		rc = heap_calloc(h, 1 + rnd() % 4, rand_size() / 4 + 1, &off);
	else
		rc = heap_alloc(h, rand_size(), 0, &off);
	if (rc == 0)
		live_add(l, off);
	else
		assert_int_equal(rc, -ENOMEM);
}

static void
shuffle(uint64_t *v, size_t n)
{
	size_t i, j;
	uint64_t t;

	for (i = n; i > 1; i--) {
		j = rnd() % i;
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Restore the blocks of orig (offsets in l, reserved in that order) into a
 * fresh heap of cfg, and check it against orig: then make new blocks in
 * it, which must miss every restored one, and free everything.
 */
static void
restore_and_compare(const struct heap_config *cfg, struct heap *orig,
		    const struct live *l)
{
	struct ext *ex = calloc(l->n + 2000, sizeof(*ex));
	struct heap_block_info bi, bo;
	struct heap *h;
	struct heap_stats st;
	size_t i, n = 0;
	uint64_t off;

	assert_non_null(ex);
	assert_int_equal(heap_create(cfg, &h), 0);
	for (i = 0; i < l->n; i++) {
		bi = info(orig, l->off[i]);
		assert_int_equal(heap_reserve(h, l->off[i], &bi), 0);
		/* Once there, it is not free any more. */
		assert_int_equal(heap_reserve(h, l->off[i], &bi), -EBUSY);
		ex[n].off = l->off[i];
		ex[n++].len = bi.size;
	}
	check_ok(h);
	expect_same_live(orig, h);
	st = stats(h);
	assert_int_equal(st.allocs, 0);
	assert_int_equal(st.frees, 0);
	for (i = 0; i < l->n; i++) {
		bi = info(orig, l->off[i]);
		bo = info(h, l->off[i]);
		assert_memory_equal(&bi, &bo, sizeof(bi));
	}
	/* New blocks land in the free space the restored ones left. */
	for (i = 0; i < 2000; i++) {
		if (heap_alloc(h, rand_size(), rnd() % 4 ? 0 : PAGE, &off))
			continue;
		ex[n].off = off;
		ex[n++].len = usable(h, off);
	}
	check_ok(h);
	qsort(ex, n, sizeof(*ex), ext_cmp);
	for (i = 1; i < n; i++)
		if (ex[i - 1].off + ex[i - 1].len > ex[i].off)
			fail_msg("blocks %#llx+%llu and %#llx overlap",
				 (unsigned long long)ex[i - 1].off,
				 (unsigned long long)ex[i - 1].len,
				 (unsigned long long)ex[i].off);
	for (i = 0; i < n; i++)
		assert_int_equal(heap_free(h, ex[i].off), 0);
	heap_trim(h);
	check_ok(h);
	st = stats(h);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.spans, 0);
	assert_int_equal(st.requested_bytes, 0);
	assert_int_equal(st.free_bytes, st.max_size);
	assert_int_equal(st.free_runs, 1);
	assert_int_equal(st.free_resident_bytes, 0);
	heap_destroy(h);
	free(ex);
}

/*
 * THE MAIN TEST: a heap made by many random allocations, aligned ones,
 * callocs, reallocs, splits, frees and reservations of random extents
 * (checked against the model: refused where a live block lies), rebuilt
 * by heap_reserve of every live block in address order and in a random
 * order.
 */
static void
restore_random_heap(const char *name, struct heap_config cfg, unsigned ops)
{
	struct live l = {0};
	struct heap_stats st;
	struct heap *orig;
	unsigned i;

	seed(name);
	nmade = nbusy = nuncached = nfreed = 0;
	cfg.release = on_release;
	cfg.zero = on_zero;
	cfg.copy = on_copy;
	cfg.ctx = &own;
	if (!cfg.page_size)
		cfg.page_size = PAGE;
	assert_int_equal(heap_create(&cfg, &orig), 0);
	threshold = cfg.large_threshold ? cfg.large_threshold
					: HEAP_DEFAULT_LARGE_THRESHOLD;
	for (i = 0; i < ops; i++) {
		random_op(orig, &l);
		if (i % 10000 == 0 || getenv("HEAP_RESTORE_CHECK_ALL"))
			check_ok(orig);
	}
	check_ok(orig);
	st = stats(orig);
	printf("%s: %zu blocks, %llu spans, %llu of %llu bytes live; "
	       "%u reserved (%u over cached blocks), %u refused\n", name,
	       l.n, (unsigned long long)st.spans,
	       (unsigned long long)st.allocated_bytes,
	       (unsigned long long)st.max_size, nmade, nuncached, nbusy);
	qsort(l.off, l.n, sizeof(*l.off), u64_cmp);
	restore_and_compare(&cfg, orig, &l);
	shuffle(l.off, l.n);
	restore_and_compare(&cfg, orig, &l);
	heap_destroy(orig);
	free(l.off);
}

static void
restore_random_default(void **state)
{
	struct heap_config cfg = {.max_size = 64 * MiB};

	(void)state;
	restore_random_heap("restore_random_default", cfg, 200000);
}

/* Granule 8, spans from 64 KiB, pages given back at once. */
static void
restore_random_fine(void **state)
{
	struct heap_config cfg = {
		.max_size = 24 * MiB, .granularity = 8,
		.large_threshold = 64 * KiB, .retain_pages = HEAP_RETAIN_NONE,
	};

	(void)state;
	restore_random_heap("restore_random_fine", cfg, 100000);
}

/* Granule 1 KiB (short runs can hold a span), 16 cached blocks a size,
 * a pool that ends inside a bitmap chunk. */
static void
restore_random_coarse(void **state)
{
	struct heap_config cfg = {
		.max_size = 40 * MiB + 12 * KiB, .granularity = 1024,
		.cache_blocks = 16,
	};

	(void)state;
	restore_random_heap("restore_random_coarse", cfg, 100000);
}

/* One granule a page, spans from 64 KiB, 8 pages kept. */
static void
restore_random_page_granule(void **state)
{
	struct heap_config cfg = {
		.max_size = 48 * MiB, .granularity = 4096,
		.large_threshold = 64 * KiB, .retain_pages = 8,
	};

	(void)state;
	restore_random_heap("restore_random_page_granule", cfg, 100000);
}

/* Pages of 256 KiB, and granules as large: the default threshold (128
 * KiB) lies inside one, so a small block is one granule, above it. */
static void
restore_random_huge_granule(void **state)
{
	struct heap_config cfg = {
		.max_size = 256 * MiB, .granularity = 256 * KiB,
		.page_size = 256 * KiB,
	};

	(void)state;
	restore_random_heap("restore_random_huge_granule", cfg, 50000);
}

/*
 * Event counters as heap_events_save makes them pass heap_events_check;
 * ones that do not add up, or count a class the engine has not, are
 * refused (heap_events_restore asserts on them).
 */
static void
events_checked(void **state)
{
	struct heap_config cfg = {.max_size = 4 * MiB};
	struct heap_events ev, bad;
	struct heap *h;
	uint64_t off;
	unsigned i;

	(void)state;
	assert_int_equal(heap_create(&cfg, &h), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(heap_alloc(h, 16 << (i % 12), 0, &off), 0);
	heap_events_save(h, &ev);
	assert_int_equal(ev.allocs, 100);
	assert_int_equal(heap_events_check(&ev), 0);
	bad = ev;
	bad.allocs++;
	assert_int_equal(heap_events_check(&bad), -EINVAL);
	bad = ev;
	bad.class_allocs[0] = 1;	/* a class of 1-byte blocks: none */
	bad.allocs++;
	assert_int_equal(heap_events_check(&bad), -EINVAL);
	/* A sum that wraps around to allocs, in the classes of 16 and 32
	 * bytes (the engine has them: it counted blocks there). */
	assert_true(ev.class_allocs[4] != 0 && ev.class_allocs[5] != 0);
	memset(&bad, 0, sizeof(bad));
	bad.class_allocs[4] = UINT64_MAX;
	bad.class_allocs[5] = 6;
	bad.allocs = 5;
	assert_int_equal(heap_events_check(&bad), -EINVAL);
	heap_events_restore(h, &ev);
	heap_destroy(h);
}

/*
 * Out of memory, a reservation is refused and the heap is as it was.
 * Each child runs the reservations below into a fresh heap under
 * fail_malloc.so (tests/integration/fail_malloc.c), its (m+1)th
 * allocation failing, the first, the second, ... until none fails: the
 * engine's own metadata allocations, fatal by design, are spared, and
 * what heap_reserve makes ahead is not.  The blocks need new chunks of
 * the block map and its growth, room in a bin for a short run left, a
 * long run's record and buddy blocks left on both sides of a span.  The
 * refused reservation must leave every statistic as it was (the daemon
 * memory counted aside: what was made ahead stays), heap_check clean, and
 * succeed once memory is back; the heap in the end is the one the same
 * reservations made with no failure.  Without memory made ahead nothing
 * could be refused: the engine's allocations aborted.
 */
#define OOM_FLAG "--reserve-oom"

static const struct {
	uint64_t off, size, req;
	int span;
} oom_blocks[] = {
	{1 * MiB + 64, 1008, 1000, 0},		/* chunks made */
	{1 * MiB + 1104, 32, 20, 0},		/* a short run before it */
	{2 * MiB + 512 * KiB, 64, 64, 0},
	{3 * MiB + 16, 2000, 1990, 0},
	{4 * MiB + 48 * KiB, 128 * KiB, 128 * KiB, 0},
	{6 * MiB + 99 * 16, 16, 1, 0},
	{8 * MiB + 3 * PAGE, 256 * KiB, 255 * KiB, 1},	/* buddy pieces */
	{12 * MiB + 7 * PAGE, 3 * PAGE, 3 * PAGE, 1},
	{20 * MiB + 8 * 16, 512, 500, 0},	/* the map grows */
	{24 * MiB + 32, 48, 40, 0},
	{28 * MiB + 5 * PAGE, 64, 60, 0},
	{40 * MiB + 999 * 16, 4000, 4000, 0},
	{60 * MiB + 11 * PAGE, 2 * MiB, 2 * MiB, 1},
};
#define OOM_BLOCKS (sizeof(oom_blocks) / sizeof(oom_blocks[0]))

static int
oom_reserve(struct heap *h, unsigned i)
{
	struct heap_block_info bi = {oom_blocks[i].size, oom_blocks[i].req,
				     oom_blocks[i].span};

	return heap_reserve(h, oom_blocks[i].off, &bi);
}

/*
 * The child: 0 when one reservation was refused and all went as it must,
 * 2 when none was refused, anything else a failure (said on stderr).
 */
static int
reserve_oom_child(void)
{
	struct heap_config cfg = {.max_size = 64 * MiB, .page_size = PAGE};
	struct heap_stats a, b;
	struct heap *h, *ref;
	unsigned i, refused = 0;
	char msg[256];
	int rc;

	if (heap_create(&cfg, &h) || heap_create(&cfg, &ref))
		return 3;
	for (i = 0; i < OOM_BLOCKS; i++)
		if (oom_reserve(ref, i))
			return 4;
	raise(SIGRTMIN + 5);		/* fail_malloc.so: failures on */
	for (i = 0; i < OOM_BLOCKS; i++) {
		heap_get_stats(h, &a);
		rc = oom_reserve(h, i);
		if (rc == 0)
			continue;
		raise(SIGRTMIN + 6);	/* off */
		if (rc != -ENOMEM) {
			fprintf(stderr, "block %u: %s\n", i, heap_strerror(rc));
			return 5;
		}
		heap_get_stats(h, &b);
		a.metadata_bytes = b.metadata_bytes;
		if (memcmp(&a, &b, sizeof(a))) {
			fprintf(stderr, "block %u: refused, stats changed\n", i);
			return 6;
		}
		if (heap_check(h, msg, sizeof(msg))) {
			fprintf(stderr, "block %u: refused: %s\n", i, msg);
			return 7;
		}
		if ((rc = oom_reserve(h, i))) {
			fprintf(stderr, "block %u again: %s\n", i,
				heap_strerror(rc));
			return 8;
		}
		refused++;
	}
	raise(SIGRTMIN + 6);
	heap_get_stats(h, &a);
	heap_get_stats(ref, &b);
	a.metadata_bytes = b.metadata_bytes;
	if (memcmp(&a, &b, sizeof(a)) || heap_check(h, msg, sizeof(msg))) {
		fprintf(stderr, "the heap is not the one made without failures\n");
		return 9;
	}
	heap_destroy(h);
	heap_destroy(ref);
	return refused ? 0 : 2;
}

#ifndef UNDER_ASAN
/* The child's exit status with the (m+1)th allocation failing. */
static int
reserve_oom_run(const char *self, const char *so, unsigned m)
{
	char rule[64];
	pid_t pid;
	int status;

	snprintf(rule, sizeof(rule), "every=1,after=%u,times=1", m);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("LD_PRELOAD", so, 1);
		setenv("POOLMGR_FAIL_MALLOC", rule, 1);
		execl(self, self, OOM_FLAG, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("%s: the child died of signal %d", rule,
			 WTERMSIG(status));
	return WEXITSTATUS(status);
}
#endif

static void
reserve_out_of_memory_changes_nothing(void **state)
{
#ifdef UNDER_ASAN
	(void)state;
	skip();
#else
	char self[4096], so[4200];
	unsigned m;
	int rc;

	(void)state;
	fail_malloc_beside(self, sizeof(self), so, sizeof(so));
	for (m = 0; (rc = reserve_oom_run(self, so, m)) == 0; m++)
		;
	if (rc != 2)
		fail_msg("allocation %u failing: the child said %d", m + 1, rc);
	/* The chunks, the map, a bin, a long run, the buddy pieces: more
	 * than a few of the allocations can fail, each on its own. */
	if (m < 8)
		fail_msg("only %u allocations of heap_reserve could fail", m);
	printf("reserve_out_of_memory_changes_nothing: %u refusals\n", m);
#endif
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reserve_into_a_fresh_heap),
		cmocka_unit_test(reserve_aligned_blocks),
		cmocka_unit_test(bad_reservations_change_nothing),
		cmocka_unit_test(cached_blocks_are_free_space),
		cmocka_unit_test(calloc_zeroes_restored_pages),
		cmocka_unit_test(restore_random_default),
		cmocka_unit_test(restore_random_fine),
		cmocka_unit_test(restore_random_coarse),
		cmocka_unit_test(restore_random_page_granule),
		cmocka_unit_test(restore_random_huge_granule),
		cmocka_unit_test(events_checked),
		cmocka_unit_test(reserve_out_of_memory_changes_nothing),
	};

	if (argc == 2 && strcmp(argv[1], OOM_FLAG) == 0)
		return reserve_oom_child();

	return cmocka_run_group_tests(tests, NULL, NULL);
}
