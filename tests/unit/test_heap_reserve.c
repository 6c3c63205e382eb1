/*
 * test_heap_reserve.c - heap_reserve out of memory, at random.
 *
 * heap_reserve makes what its block's books may need before it touches
 * anything, with allocations that may fail: the bins' room, the tree nodes
 * (a bound computed from the run it cuts the block from), the block map's
 * chunks.  Everything after is the engine's own, whose allocations abort.
 * So every allocation a reservation makes must be one it can refuse: this
 * test reserves blocks in random order, into fresh heaps and into heaps
 * random allocations and frees have used, and each reservation first in
 * children of the test whose (j+1)th allocation fails, j = 0, 1, ...:
 * each must be refused -ENOMEM with the heap as it was (heap_check clean,
 * every statistic but metadata_bytes the same), until the one with room
 * for all its allocations succeeds.  One made after the stock was made,
 * failing, aborts the child.
 *
 * The test replaces malloc, calloc and realloc (passing to the C
 * library's) to fail them.  A realloc fails in turn too when it shrinks
 * the block, or grows it within its usable size: the C library's never
 * does, but nothing promises it, and a bin's stack compacted during a
 * reservation shrinks (the stack as it was must serve then).
 * AddressSanitizer's allocator comes first: there the test is skipped.
 *
 * HEAP_RESERVE_SEED picks the seed; the seed used is printed.
 */
#include <errno.h>
#include <setjmp.h>
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

#define KiB (1024ull)
#define MiB (1024ull * 1024)
#define PAGE 4096ull
#define MAX_TRIES 64		/* allocations one reservation may make */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* ------------------------------------------------ failing allocations */

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);

/* Allocations that succeed before all fail; -1: none fails. */
static long fail_after = -1;

static bool
fail_now(void)
{
	if (fail_after < 0)
		return false;
	if (fail_after > 0) {
		fail_after--;
		return false;
	}
	errno = ENOMEM;
	return true;
}

void *
malloc(size_t size)
{
	return fail_now() ? NULL : __libc_malloc(size);
}

void *
calloc(size_t nmemb, size_t size)
{
	return fail_now() ? NULL : __libc_calloc(nmemb, size);
}

void *
realloc(void *p, size_t size)
{
	return fail_now() ? NULL : __libc_realloc(p, size);
}

void
free(void *p)
{
	__libc_free(p);
}

/* ------------------------------------------------ random blocks */

static uint64_t rng;
static unsigned long nreserved, nrefused;	/* for the summary */

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t
rnd_below(uint64_t n)
{
	return rnd() % n;
}

static void
seed(const char *test)
{
	const char *env = getenv("HEAP_RESERVE_SEED");
	uint64_t s = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);

	printf("%s: seed %llu\n", test, (unsigned long long)s);
	rng = s * 0x9e3779b97f4a7c15ull | 1;
}

struct shape {
	uint32_t g;
	uint64_t threshold;	/* 0: the default */
	uint64_t max_size;
};

static struct heap *
make(const struct shape *sh)
{
	struct heap_config cfg = {
		.max_size = sh->max_size,
		.granularity = sh->g,
		.page_size = PAGE,
		.large_threshold = sh->threshold,
		.cache_blocks = HEAP_CACHE_NONE,	/* no merge in a reserve */
	};
	struct heap *h;

	assert_int_equal(heap_create(&cfg, &h), 0);
	return h;
}

/* A block the engine could have made, of about len bytes. */
static void
random_block(struct heap *h, uint64_t len, struct heap_block_info *bi)
{
	struct heap_stats st;
	uint64_t unit;

	heap_get_stats(h, &st);
	bi->span = len >= st.large_threshold || rnd_below(4) == 0;
	unit = bi->span ? st.page_size : st.granularity;
	if (!bi->span && len > st.large_threshold)
		len = st.large_threshold;
	bi->size = len / unit * unit;
	if (bi->size == 0)
		bi->size = unit;
	bi->requested = bi->size - rnd_below(unit);
}

/* A length, log-uniform from a granule to a few megabytes. */
static uint64_t
random_len(void)
{
	return 1ull << rnd_below(23) | rnd_below(1ull << 12);
}

/*
 * The child: heap_reserve with the (j+1)th allocation failing; its exit
 * status says what it got (10 + errno), 4 and 5 what it saw wrong after a
 * refusal.
 */
static __attribute__((noreturn)) void
reserve_child(struct heap *h, uint64_t off, const struct heap_block_info *bi,
	      long j)
{
	struct heap_stats a, b;
	char msg[256];
	int rc;

	heap_get_stats(h, &a);
	fail_after = j;
	rc = heap_reserve(h, off, bi);
	fail_after = -1;
	if (rc != -ENOMEM)
		_exit(10 - rc);
	heap_get_stats(h, &b);
	a.metadata_bytes = b.metadata_bytes;
	if (memcmp(&a, &b, sizeof(a)))
		_exit(4);
	if (heap_check(h, msg, sizeof(msg))) {
		fprintf(stderr, "refused: %s\n", msg);
		_exit(5);
	}
	_exit(10 + ENOMEM);
}

/*
 * Reserve [off, off + bi->size) if it is free, after every allocation it
 * makes, failed in a child, was refused: true when it was reserved.
 */
static bool
reserve_checked(struct heap *h, uint64_t off, const struct heap_block_info *bi)
{
	char msg[256];
	long j;
	int status;

	for (j = 0; j < MAX_TRIES; j++) {
		pid_t pid;

		fflush(stdout);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			reserve_child(h, off, bi, j);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			fail_msg("reserving %#llx, %llu bytes (%s): allocation "
				 "%ld failing killed it (signal %d): one made "
				 "after the reservation's stock",
				 (unsigned long long)off,
				 (unsigned long long)bi->size,
				 bi->span ? "span" : "small", j + 1,
				 WTERMSIG(status));
		assert_true(WIFEXITED(status));
		status = WEXITSTATUS(status);
		if (status == 4 || status == 5)
			fail_msg("reserving %#llx, %llu bytes: refused at "
				 "allocation %ld, %s", (unsigned long long)off,
				 (unsigned long long)bi->size, j + 1,
				 status == 4 ? "the stats changed"
					     : "heap_check failed");
		if (status == 10 + EBUSY && j == 0)
			return false;	/* not free: no block to look at */
		if (status == 10)
			break;		/* room for all it made */
		if (status != 10 + ENOMEM)
			fail_msg("reserving %#llx, %llu bytes, allocation %ld "
				 "failing: %s", (unsigned long long)off,
				 (unsigned long long)bi->size, j + 1,
				 heap_strerror(10 - status));
		nrefused++;
	}
	assert_true(j < MAX_TRIES);
	assert_int_equal(heap_reserve(h, off, bi), 0);
	nreserved++;
	if (heap_check(h, msg, sizeof(msg)))
		fail_msg("after reserving %#llx: %s", (unsigned long long)off,
			 msg);
	return true;
}

/* ------------------------------------------------ the cases */

#define LAYOUT_MAX 96

struct placed {
	uint64_t off;
	struct heap_block_info bi;
};

static void
shuffle(struct placed *p, unsigned n)
{
	unsigned i;

	for (i = n; i > 1; i--) {
		unsigned k = (unsigned)rnd_below(i);
		struct placed t = p[i - 1];

		p[i - 1] = p[k];
		p[k] = t;
	}
}

/*
 * A fresh heap, as the daemon's restore has it: blocks laid out with
 * random gaps over the pool, reserved in random order.
 */
static void
reserve_fresh(const struct shape *sh)
{
	struct heap *h = make(sh);
	struct placed p[LAYOUT_MAX];
	uint64_t at = 0;
	unsigned n = 0, i;

	while (n < LAYOUT_MAX) {
		struct heap_block_info bi;

		random_block(h, random_len(), &bi);
		at += rnd_below(3) ? random_len() : 0;
		at = (at + (bi.span ? PAGE : sh->g) - 1) &
		     ~(uint64_t)((bi.span ? PAGE : sh->g) - 1);
		if (at + bi.size > sh->max_size)
			break;
		p[n].off = at;
		p[n++].bi = bi;
		at += bi.size;
	}
	shuffle(p, n);
	for (i = 0; i < n; i++)
		assert_true(reserve_checked(h, p[i].off, &p[i].bi));
	heap_destroy(h);
}

/*
 * A used heap: random blocks allocated, a random half freed, and blocks
 * reserved in random order at random places of what was freed, among
 * the runs the frees left.
 */
static void
reserve_used(const struct shape *sh)
{
	struct heap *h = make(sh);
	uint64_t live[400], freed[200];
	unsigned nlive = 0, nfreed = 0, i, reserved = 0;

	while (nlive < 400) {
		uint64_t off;

		if (heap_alloc(h, random_len() % (sh->max_size / 64) + 1, 0,
			       &off))
			break;
		live[nlive++] = off;
	}
	for (i = 0; i < nlive && nfreed < 200; i++) {
		if (rnd_below(2))
			continue;
		assert_int_equal(heap_free(h, live[i]), 0);
		freed[nfreed++] = live[i];
	}
	for (i = 0; i < 4 * nfreed; i++) {
		uint64_t base = freed[rnd_below(nfreed)], off;
		struct heap_block_info bi;

		random_block(h, random_len() >> rnd_below(8), &bi);
		off = base + rnd_below(4) * (rnd_below(2) ? PAGE : sh->g);
		off &= ~(uint64_t)((bi.span ? PAGE : sh->g) - 1);
		if (off + bi.size > sh->max_size)
			continue;
		reserved += reserve_checked(h, off, &bi);
	}
	assert_true(reserved > 0);
	heap_destroy(h);
}

static const struct shape shapes[] = {
	{16, 0, 64 * MiB},		/* the daemon's default */
	{16, 2 * PAGE, 64 * MiB},	/* spans from two pages: buddy pieces */
	{8, 3 * PAGE, 32 * MiB},
	{64, 0, 256 * MiB},
	{1024, 8 * PAGE, 128 * MiB},
	{4096, PAGE, 64 * MiB},
};
#define SHAPES (sizeof(shapes) / sizeof(shapes[0]))
#endif /* !UNDER_ASAN */

#ifndef UNDER_ASAN
/* rounds of each shape reserved by each (fresh or used heaps), counted. */
static void
reserve_rounds(const char *what, unsigned rounds,
	       void (*each)(const struct shape *))
{
	unsigned i, round;

	nreserved = nrefused = 0;
	seed(what);
	for (round = 0; round < rounds; round++)
		for (i = 0; i < SHAPES; i++)
			each(&shapes[i]);
	printf("%s: %lu blocks reserved, %lu refusals\n", what, nreserved,
	       nrefused);
}
#endif

static void
fresh_heaps_reserve_only_what_was_made(void **state)
{
	(void)state;
#ifdef UNDER_ASAN
	skip();
#else
	reserve_rounds("fresh_heaps_reserve_only_what_was_made", 3,
		       reserve_fresh);
#endif
}

static void
used_heaps_reserve_only_what_was_made(void **state)
{
	(void)state;
#ifdef UNDER_ASAN
	skip();
#else
	reserve_rounds("used_heaps_reserve_only_what_was_made", 2,
		       reserve_used);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_heaps_reserve_only_what_was_made),
		cmocka_unit_test(used_heaps_reserve_only_what_was_made),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
