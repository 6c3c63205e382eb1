/*
 * bench_engine.c - the poolmgr allocator engine against glibc malloc,
 * jemalloc and mimalloc: throughput and space utilization on five
 * single-threaded workloads, then how the engine's cost per operation grows
 * with the number of live blocks.
 *
 * Every workload is written once against a small allocator vtable and is
 * driven by a PRNG reseeded from --seed for each run, so every allocator
 * sees exactly the same sequence of requests.  Each (workload, allocator)
 * cell runs a measure pass, then TIMED_RUNS timed passes, taken in turns
 * with the other allocators:
 *
 *   measure pass  samples the allocator's footprint to compute utilization
 *                 and, for the engine, asks heap_usable_size after every
 *                 allocation (for its high-water mark) and cross-checks the
 *                 live blocks against heap_get_stats, heap_check and each
 *                 other (no overlaps) before freeing them.
 *   timed pass    the same workload without instrumentation; only its
 *                 steady-state loop is timed, and the fastest pass counts
 *                 (the load of a shared machine only ever slows one down).
 *
 * The measure pass goes first so that the yardsticks' timed pass finds its
 * memory already mapped: the engine never touches memory, so timing the
 * yardsticks' first-touch page faults would flatter it.
 *
 * --count W A runs only the timed pass of workload W (a .. e) on allocator
 * A, and tells callgrind to count just its steady-state loop: started with
 * collection off, callgrind then counts the instructions the loop takes,
 * which the load of a shared machine does not change.  bench_instr.sh
 * runs every cell that way and prints the table.
 *
 * --footprint W A runs only the measure pass of one cell and prints its
 * peak requested bytes and footprint.  The full run starts itself again
 * that way for glibc, whose footprint (its address high-water mark) means
 * something only in a fresh process.
 *
 * Usage: bench_engine [--quick] [--seed N] [--count W A | --footprint W A]
 * Exit status: 0, 1 if the engine returned an unexpected error or failed a
 * check, 2 for a usage error or when the benchmark itself cannot run.
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/callgrind.h>

#include "bench_util.h"
#include "heap.h"

/*
 * glibc's own entry points: they stay glibc's even when something (a
 * preloaded allocator, a sanitizer) interposes malloc.  glibc exports them
 * but no header declares them.
 */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
extern void *__libc_realloc(void *p, size_t size);

/* An empty slot.  Never an engine offset (heap.h) nor a user address. */
#define NONE HEAP_OFF_NONE

#define ENGINE_POOL (8ull << 30)	/* sparse: only metadata is used */
#define WINDOW 1000			/* live blocks in (a) and (b) */
#define TREE_BATCH 2000			/* blocks in (c) */
#define TREE_SMALL 64
#define TREE_BIG 448
#define GROW_BLOCKS 100			/* blocks in (d) */
#define GROW_LIMIT (64u * 1024u)
#define FIXED_SIZE 64			/* (e) and the flatness table */
#define FLAT_GOAL 1.5
#define FLAT_RUNS 3			/* runs per flatness cell, fastest kept */
#define TIMED_RUNS 3			/* timed passes per cell, fastest kept */
#define UTIL_GOAL 0.90
#define SAMPLE_EVERY 4096		/* ops between footprint samples */
#define LOG_SIZES 4096			/* entries of the log-uniform table */

/* ---------------------------------------------------------------- PRNG */

/* rng_seed, rng_next, rng_below: bench_util.h, shared with bench_speed. */

static inline uint64_t
rng_range(struct rng *g, uint64_t lo, uint64_t hi)
{
	return lo + rng_below(g, hi - lo + 1);
}

/*
 * Log-uniform sizes 16 B .. 64 KiB come from a table filled once, so the
 * timed loop pays a load instead of an exp2() per draw.  4096 entries give
 * about 340 distinct sizes per octave.
 */
static uint32_t log_sizes[LOG_SIZES];

static void
log_sizes_init(void)
{
	for (unsigned k = 0; k < LOG_SIZES; k++) {
		double s = 16.0 * exp2(12.0 * (k + 0.5) / LOG_SIZES);

		log_sizes[k] = (uint32_t)lround(s);
	}
}

static inline uint32_t
rng_log_size(struct rng *g)
{
	return log_sizes[rng_next(g) >> 52];
}

/* ------------------------------------------------------------- helpers */

/*
 * The benchmark's own arrays come straight from mmap so that they never
 * sit in (or get counted by) any of the allocators under test.
 */
static void *
big_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("bench_engine: mmap");
		exit(2);
	}
	/* Fewer TLB misses on the 10^7-slot arrays; a hint, may be ignored. */
	madvise(p, bytes ? bytes : 1, MADV_HUGEPAGE);
	return p;
}

static void
big_free(void *p, size_t bytes)
{
	munmap(p, bytes ? bytes : 1);
}

static const char *
fmt_bytes(char *buf, size_t len, uint64_t n)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

/* ------------------------------------------------------- the allocators */

/*
 * One allocator under test.  Blocks are named by a uint64_t: an engine
 * offset or a yardstick's address.  Calls return 0 or a negative errno.
 */
struct allocator {
	const char *name;
	bool usable;		/* false: library missing, column says n/a */
	bool is_engine;
	/*
	 * Its footprint is only right in a fresh process (glibc's: the holes
	 * earlier cells leave in the arena would hide the growth), so the
	 * measure pass is run again by a new instance of the benchmark for it.
	 */
	bool measure_apart;
	char note[160];		/* version, or why it is n/a */
	void *ctx;
	int (*alloc)(void *ctx, uint64_t size, uint64_t *p);
	int (*free)(void *ctx, uint64_t p);
	int (*realloc)(void *ctx, uint64_t p, uint64_t size, uint64_t *np);
	/* A fresh start for one pass: an empty heap, or caches given back. */
	int (*begin)(void *ctx, bool measure);
	void (*end)(void *ctx);
	/* Bytes held for the workload now; false when it cannot be told. */
	bool (*footprint)(void *ctx, uint64_t *bytes);
	/*
	 * Engine only: cross-check the n slots of ptr (NONE = empty; sizes
	 * from size[], or all fixed when size is NULL) that hold req
	 * requested bytes.
	 */
	int (*verify)(void *ctx, const uint64_t *ptr, const uint32_t *size,
		      uint64_t fixed, size_t n, uint64_t req);
};

/* --- the engine --- */

struct engine {
	struct heap *h;
	bool measure;
	uint64_t hwm;		/* max of offset + usable size, measure pass */
	uint64_t max_meta;	/* largest metadata_bytes sampled */
	int err;		/* first failure and what it was */
	char what[256];
};

/* The engine never touches memory; these are its owner's chores. */
static int
nop_release(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx, (void)off, (void)len;
	return 0;
}

static void
nop_zero(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx, (void)off, (void)len;
}

static void
nop_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len)
{
	(void)ctx, (void)dst, (void)src, (void)len;
}

/* Remember the first failing call so main can name it; returns err. */
static int __attribute__((format(printf, 3, 4), noinline, cold))
engine_failed(struct engine *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e->err == 0) {
		e->err = err;
		va_start(ap, fmt);
		vsnprintf(e->what, sizeof e->what, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Measure pass: raise the high-water mark to the end of the new block. */
static int __attribute__((noinline))
engine_track(struct engine *e, uint64_t off)
{
	uint64_t usable;
	int err = heap_usable_size(e->h, off, &usable);

	if (err < 0)
		return engine_failed(e, err, "heap_usable_size(off=%#" PRIx64
				     ") of a block it just returned", off);
	if (off + usable > e->hwm)
		e->hwm = off + usable;
	return 0;
}

static int
engine_alloc(void *ctx, uint64_t size, uint64_t *p)
{
	struct engine *e = ctx;
	int err = heap_alloc(e->h, size, 0, p);

	if (__builtin_expect(err < 0, 0))
		return engine_failed(e, err, "heap_alloc(size=%" PRIu64 ")",
				     size);
	if (e->measure)
		return engine_track(e, *p);
	return 0;
}

static int
engine_free(void *ctx, uint64_t p)
{
	struct engine *e = ctx;
	int err = heap_free(e->h, p);

	if (__builtin_expect(err < 0, 0))
		return engine_failed(e, err, "heap_free(off=%#" PRIx64 ")", p);
	return 0;
}

static int
engine_realloc(void *ctx, uint64_t p, uint64_t size, uint64_t *np)
{
	struct engine *e = ctx;
	int err = heap_realloc(e->h, p, size, np);

	if (__builtin_expect(err < 0, 0))
		return engine_failed(e, err, "heap_realloc(off=%#" PRIx64
				     ", size=%" PRIu64 ")", p, size);
	if (e->measure)
		return engine_track(e, *np);
	return 0;
}

static int
engine_begin(void *ctx, bool measure)
{
	struct engine *e = ctx;
	struct heap_config cfg = {
		.max_size = ENGINE_POOL,
		.release = nop_release,
		.zero = nop_zero,
		.copy = nop_copy,
	};
	int err;

	e->measure = measure;
	e->hwm = 0;
	e->max_meta = 0;
	e->err = 0;
	e->what[0] = '\0';
	err = heap_create(&cfg, &e->h);
	if (err < 0) {
		e->h = NULL;
		return engine_failed(e, err, "heap_create(max_size=%llu)",
				     ENGINE_POOL);
	}
	return 0;
}

static void
engine_end(void *ctx)
{
	struct engine *e = ctx;

	heap_destroy(e->h);
	e->h = NULL;
}

/* High-water mark plus metadata: what the pool and the daemon give up. */
static bool
engine_footprint(void *ctx, uint64_t *bytes)
{
	struct engine *e = ctx;
	struct heap_stats st;

	heap_get_stats(e->h, &st);
	if (st.metadata_bytes > e->max_meta)
		e->max_meta = st.metadata_bytes;
	*bytes = e->hwm + st.metadata_bytes;
	return true;
}

/*
 * Mark the granules of one block in a bitmap of the pool up to the
 * high-water mark; a granule already marked means two live blocks overlap.
 */
static bool
mark_granules(uint64_t *map, uint64_t first, uint64_t end)
{
	for (uint64_t k = first; k < end; k++) {
		uint64_t bit = 1ull << (k & 63);

		if (map[k >> 6] & bit)
			return false;
		map[k >> 6] |= bit;
	}
	return true;
}

/*
 * Every live block: usable size, alignment, bounds, no overlap.  Adds up
 * the usable sizes into *usable_sum.
 */
static int
engine_check_blocks(struct engine *e, uint64_t g, const uint64_t *ptr,
		    const uint32_t *size, uint64_t fixed, size_t n,
		    uint64_t *usable_sum)
{
	size_t words = (size_t)(e->hwm / g / 64 + 1);
	uint64_t *map = big_alloc(words * sizeof *map);
	int err = 0;

	*usable_sum = 0;
	for (size_t i = 0; i < n && err == 0; i++) {
		uint64_t off = ptr[i], want = size ? size[i] : fixed, usable;

		if (off == NONE)
			continue;
		err = heap_usable_size(e->h, off, &usable);
		if (err < 0)
			err = engine_failed(e, err, "check: heap_usable_size"
					    "(off=%#" PRIx64 ") of a live "
					    "block", off);
		else if (off % g || usable < want || off + usable > e->hwm)
			err = engine_failed(e, -EFAULT, "check: block at %#"
					    PRIx64 " has usable size %" PRIu64
					    " for %" PRIu64 " requested bytes "
					    "(granularity %" PRIu64 ", high-"
					    "water %#" PRIx64 ")", off, usable,
					    want, g, e->hwm);
		else if (!mark_granules(map, off / g, (off + usable) / g))
			err = engine_failed(e, -EFAULT, "check: block at %#"
					    PRIx64 " (usable %" PRIu64 ") "
					    "overlaps another live block", off,
					    usable);
		*usable_sum += usable;
	}
	big_free(map, words * sizeof *map);
	return err;
}

/*
 * requested_bytes is only bounded, not compared: a block of a few granules
 * keeps only the high bits of its slack (heap_blockmap.c), so the engine
 * may count a little more than was asked for, never less, and never more
 * than the usable size.
 */
static int
engine_verify(void *ctx, const uint64_t *ptr, const uint32_t *size,
	      uint64_t fixed, size_t n, uint64_t req)
{
	struct engine *e = ctx;
	struct heap_stats st;
	uint64_t live = 0, usable;
	char msg[256] = "";
	int err;

	heap_get_stats(e->h, &st);
	for (size_t i = 0; i < n; i++)
		live += ptr[i] != NONE;
	if (st.live_blocks != live)
		return engine_failed(e, -EFAULT, "check: heap_get_stats "
				     "counts %" PRIu64 " live blocks, the "
				     "benchmark holds %" PRIu64,
				     st.live_blocks, live);
	err = engine_check_blocks(e, st.granularity, ptr, size, fixed, n,
				  &usable);
	if (err < 0)
		return err;
	if (st.allocated_bytes != usable)
		return engine_failed(e, -EFAULT, "check: heap_get_stats "
				     "counts %" PRIu64 " allocated bytes, the "
				     "usable sizes add up to %" PRIu64,
				     st.allocated_bytes, usable);
	if (st.requested_bytes < req || st.requested_bytes > usable)
		return engine_failed(e, -EFAULT, "check: heap_get_stats "
				     "counts %" PRIu64 " requested bytes, the "
				     "benchmark asked for %" PRIu64 " in "
				     "blocks of %" PRIu64 " usable bytes",
				     st.requested_bytes, req, usable);
	err = heap_check(e->h, msg, sizeof msg);
	if (err < 0)
		return engine_failed(e, err, "check: heap_check: %s", msg);
	return 0;
}

static struct engine engine;

/* --- glibc --- */

/*
 * glibc's footprint is its address high-water mark, as the engine's is:
 * the highest block end the main arena handed out (tracked at every
 * allocation), over the program break at the start, plus the bytes in
 * mmapped chunks over the baseline.  Chunk headers, free holes and the
 * arena's own tcache record count, as the engine's metadata does.  The
 * pass runs in a fresh process (measure_apart) so that the arena starts
 * empty at the break; the break itself is no measure, since glibc moves
 * it 128 KiB ahead of need (M_TOP_PAD).
 */
#define GLIBC_MMAPPED 0x2	/* size-field bit of an mmapped chunk */

static bool glibc_measure;
static uintptr_t glibc_base, glibc_hi;
static uint64_t glibc_mmap_base;

static inline void
glibc_track(char *m)
{
	if (__builtin_expect(glibc_measure, 0)) {
		uintptr_t hi = (uintptr_t)m + malloc_usable_size(m);

		if (!(((const size_t *)(void *)m)[-1] & GLIBC_MMAPPED) &&
		    hi > glibc_hi)
			glibc_hi = hi;
	}
}

/*
 * Each yardstick writes one byte into every block it hands out, as any
 * real caller would: an allocator that keeps its free lists inside the
 * freed blocks pays a cache miss there, and that is part of its cost.  The
 * engine has no memory to write.
 */
static int
glibc_alloc(void *ctx, uint64_t size, uint64_t *p)
{
	char *m = __libc_malloc(size);

	(void)ctx;
	if (m == NULL)
		return -ENOMEM;
	m[0] = 1;
	*p = (uintptr_t)m;
	glibc_track(m);
	return 0;
}

static int
glibc_free(void *ctx, uint64_t p)
{
	(void)ctx;
	__libc_free((void *)(uintptr_t)p);
	return 0;
}

static int
glibc_realloc(void *ctx, uint64_t p, uint64_t size, uint64_t *np)
{
	char *m = __libc_realloc((void *)(uintptr_t)p, size);

	(void)ctx;
	if (m == NULL)
		return -ENOMEM;
	m[0] = 1;
	*np = (uintptr_t)m;
	glibc_track(m);
	return 0;
}

/*
 * Measure pass: give back what earlier runs left so the baseline is only
 * what is live.  The timed pass keeps what the measure pass left mapped.
 */
static int
glibc_begin(void *ctx, bool measure)
{
	(void)ctx;
	glibc_measure = measure;
	if (!measure)
		return 0;
	malloc_trim(0);
	glibc_base = glibc_hi = (uintptr_t)sbrk(0);
	glibc_mmap_base = mallinfo2().hblkhd;
	return 0;
}

static void
glibc_end(void *ctx)
{
	(void)ctx;
	glibc_measure = false;
}

static bool
glibc_footprint(void *ctx, uint64_t *bytes)
{
	uint64_t mmapped = mallinfo2().hblkhd;

	(void)ctx;
	*bytes = (glibc_hi - glibc_base) +
		 (mmapped > glibc_mmap_base ? mmapped - glibc_mmap_base : 0);
	return true;
}

/* --- jemalloc, loaded with dlopen --- */

typedef void *(*mallocx_fn)(size_t size, int flags);
typedef void (*dallocx_fn)(void *p, int flags);
typedef void *(*rallocx_fn)(void *p, size_t size, int flags);
typedef int (*mallctl_fn)(const char *name, void *old, size_t *oldlen,
			  void *new, size_t newlen);

static mallocx_fn je_mallocx;
static dallocx_fn je_dallocx;
static rallocx_fn je_rallocx;
static mallctl_fn je_mallctl;	/* NULL: utilization n/a */
static uint64_t je_base;

static int
je_alloc(void *ctx, uint64_t size, uint64_t *p)
{
	char *m = je_mallocx(size, 0);

	(void)ctx;
	if (m == NULL)
		return -ENOMEM;
	m[0] = 1;
	*p = (uintptr_t)m;
	return 0;
}

static int
je_free(void *ctx, uint64_t p)
{
	(void)ctx;
	je_dallocx((void *)(uintptr_t)p, 0);
	return 0;
}

static int
je_realloc(void *ctx, uint64_t p, uint64_t size, uint64_t *np)
{
	char *m = je_rallocx((void *)(uintptr_t)p, size, 0);

	(void)ctx;
	if (m == NULL)
		return -ENOMEM;
	m[0] = 1;
	*np = (uintptr_t)m;
	return 0;
}

/* stats.* are snapshots: writing "epoch" refreshes them. */
static bool
je_resident(uint64_t *out)
{
	uint64_t epoch = 1;
	size_t res, len = sizeof epoch;

	if (je_mallctl == NULL ||
	    je_mallctl("epoch", &epoch, &len, &epoch, len) != 0)
		return false;
	len = sizeof res;
	if (je_mallctl("stats.resident", &res, &len, NULL, 0) != 0)
		return false;
	*out = res;
	return true;
}

/*
 * Measure pass: flush the thread cache and purge every arena (4096 is
 * MALLCTL_ARENAS_ALL), so dirty pages from earlier runs do not count.
 */
static int
je_begin(void *ctx, bool measure)
{
	(void)ctx;
	if (!measure)
		return 0;
	if (je_mallctl != NULL) {
		je_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
		je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	}
	if (!je_resident(&je_base))
		je_base = 0;
	return 0;
}

static bool
je_footprint(void *ctx, uint64_t *bytes)
{
	uint64_t res;

	(void)ctx;
	if (!je_resident(&res))
		return false;
	*bytes = res > je_base ? res - je_base : 0;
	return true;
}

/* --- mimalloc, loaded with dlopen --- */

typedef void *(*mi_malloc_fn)(size_t size);
typedef void (*mi_free_fn)(void *p);
typedef void *(*mi_realloc_fn)(void *p, size_t size);
typedef void (*mi_collect_fn)(bool force);
typedef int (*mi_version_fn)(void);

/* The leading fields of mimalloc's mi_heap_area_t, all we read. */
struct mi_area {
	void *blocks;
	size_t reserved;	/* bytes of blocks the page could hold */
	size_t committed;	/* bytes of blocks set up so far */
	size_t used;		/* blocks in use */
	size_t block_size;
};
typedef bool (*mi_visit_fn)(const void *heap, const struct mi_area *area,
			    void *block, size_t block_size, void *arg);
typedef void *(*mi_heap_get_default_fn)(void);
typedef bool (*mi_heap_visit_blocks_fn)(const void *heap, bool all_blocks,
					mi_visit_fn visit, void *arg);

static mi_malloc_fn mi_malloc_p;
static mi_free_fn mi_free_p;
static mi_realloc_fn mi_realloc_p;
static mi_collect_fn mi_collect_p;
static mi_heap_get_default_fn mi_heap_get_default_p;
static mi_heap_visit_blocks_fn mi_heap_visit_blocks_p;	/* NULL: n/a */

static int
mi_alloc(void *ctx, uint64_t size, uint64_t *p)
{
	char *m = mi_malloc_p(size);

	(void)ctx;
	if (m == NULL)
		return -ENOMEM;
	m[0] = 1;
	*p = (uintptr_t)m;
	return 0;
}

static int
mi_free(void *ctx, uint64_t p)
{
	(void)ctx;
	mi_free_p((void *)(uintptr_t)p);
	return 0;
}

static int
mi_realloc(void *ctx, uint64_t p, uint64_t size, uint64_t *np)
{
	char *m = mi_realloc_p((void *)(uintptr_t)p, size);

	(void)ctx;
	if (m == NULL)
		return -ENOMEM;
	m[0] = 1;
	*np = (uintptr_t)m;
	return 0;
}

static bool
mi_add_area(const void *heap, const struct mi_area *area, void *block,
	    size_t block_size, void *arg)
{
	(void)heap, (void)block, (void)block_size;
	*(uint64_t *)arg += area->committed;
	return true;
}

/*
 * mimalloc's own figure for committed memory counts whole segments it has
 * merely reserved address space for (32 MiB for a 270 KiB workload), which
 * says nothing about use.  The page areas of the thread's heap say how much
 * of each page has been carved into blocks, which is the memory it has
 * actually touched.  Segment metadata and pages parked in its caches are not
 * counted.
 */
static bool
mi_footprint(void *ctx, uint64_t *bytes)
{
	uint64_t sum = 0;

	(void)ctx;
	if (mi_heap_visit_blocks_p == NULL || mi_heap_get_default_p == NULL)
		return false;
	if (!mi_heap_visit_blocks_p(mi_heap_get_default_p(), false,
				    mi_add_area, &sum))
		return false;
	*bytes = sum;
	return true;
}

/* Measure pass: give back the empty pages earlier runs left. */
static int
mi_begin(void *ctx, bool measure)
{
	(void)ctx;
	if (measure && mi_collect_p != NULL)
		mi_collect_p(true);
	return 0;
}

static void
nop_end(void *ctx)
{
	(void)ctx;
}

/*
 * --- a null allocator ---
 *
 * Hands out numbers and forgets them.  The flatness loop run over it shows
 * what the benchmark itself (PRNG, handle array, indirect calls) costs per
 * pair at each size, so that cost is not blamed on the engine.
 */
static uint64_t null_next;

static int
null_alloc(void *ctx, uint64_t size, uint64_t *p)
{
	(void)ctx, (void)size;
	*p = null_next++;
	return 0;
}

static int
null_free(void *ctx, uint64_t p)
{
	(void)ctx, (void)p;
	return 0;
}

static int
null_realloc(void *ctx, uint64_t p, uint64_t size, uint64_t *np)
{
	(void)ctx, (void)size;
	*np = p;
	return 0;
}

static int
null_begin(void *ctx, bool measure)
{
	(void)ctx, (void)measure;
	null_next = 0;
	return 0;
}

static bool
null_footprint(void *ctx, uint64_t *bytes)
{
	(void)ctx, (void)bytes;
	return false;
}

static struct allocator null_allocator = {
	.name = "null", .usable = true, .alloc = null_alloc,
	.free = null_free, .realloc = null_realloc, .begin = null_begin,
	.end = nop_end, .footprint = null_footprint,
};

/*
 * --- a metadata-touch baseline ---
 *
 * The least any allocator that keeps its metadata out of band must do in
 * the flatness loop: a free reaches the freed block's own metadata wherever
 * it lies, and the allocation that follows reuses that block (LIFO, as the
 * engine's reuse cache does).  Here the metadata is one byte per block,
 * which is the density of the engine's block map for 64-byte blocks (two
 * bits per 16-byte granule), in plain 4 KiB pages like the engine's.  At
 * 10^7 live blocks those bytes span 10 MB, so each free misses the caches
 * and the TLB; the flatness table shows this cost next to the engine's, so
 * that what grows with the number of blocks can be told apart from what
 * the engine itself does.
 */
#define TOUCH_MAX 16000000	/* blocks; more than the largest level */

static uint8_t *touch_map;
static uint64_t touch_next, touch_top, touch_stack[64];

static int
touch_alloc(void *ctx, uint64_t size, uint64_t *p)
{
	(void)ctx, (void)size;
	if (touch_top)
		*p = touch_stack[--touch_top];
	else if (touch_next < TOUCH_MAX)
		*p = touch_next++;
	else
		return -ENOMEM;
	touch_map[*p] = 1;
	return 0;
}

static int
touch_free(void *ctx, uint64_t p)
{
	(void)ctx;
	if (p >= TOUCH_MAX || !touch_map[p])
		return -EINVAL;
	touch_map[p] = 0;
	if (touch_top < 64)
		touch_stack[touch_top++] = p;
	return 0;
}

static int
touch_begin(void *ctx, bool measure)
{
	void *m;

	(void)ctx, (void)measure;
	m = mmap(NULL, TOUCH_MAX, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	touch_map = m;
	touch_next = touch_top = 0;
	return 0;
}

static void
touch_end(void *ctx)
{
	(void)ctx;
	munmap(touch_map, TOUCH_MAX);
	touch_map = NULL;
}

static struct allocator touch_allocator = {
	.name = "touch", .usable = true, .alloc = touch_alloc,
	.free = touch_free, .realloc = null_realloc, .begin = touch_begin,
	.end = touch_end, .footprint = null_footprint,
};

/* --- loading --- */

/*
 * libjemalloc.so.2 uses initial-exec TLS (about 2.6 KiB) and glibc keeps
 * only 512 bytes of static TLS for libraries opened later, so its dlopen
 * fails with "cannot allocate memory in static TLS block".  That reserve is
 * a tunable read at startup, so run ourselves again with a larger one; it
 * changes nothing else about the process.  The variable already being set
 * stops a loop.
 */
static void
reexec_for_static_tls(char **argv)
{
	static const char tun[] = "glibc.rtld.optional_static_tls=16384";
	const char *old = getenv("GLIBC_TUNABLES");
	char buf[1024];

	if (old != NULL && strstr(old, "glibc.rtld.optional_static_tls"))
		return;
	snprintf(buf, sizeof buf, "%s%s%s", old ? old : "", old ? ":" : "",
		 tun);
	if (setenv("GLIBC_TUNABLES", buf, 1) != 0)
		return;
	fflush(NULL);
	execv("/proc/self/exe", argv);
	/* exec failed: carry on, jemalloc will be n/a */
}

static void *
sym(void *lib, const char *name, bool *ok)
{
	void *p = dlsym(lib, name);

	if (p == NULL)
		*ok = false;
	return p;
}

static void
setup_engine(struct allocator *a)
{
	*a = (struct allocator){
		.name = "poolmgr", .usable = true, .is_engine = true,
		.ctx = &engine, .alloc = engine_alloc, .free = engine_free,
		.realloc = engine_realloc, .begin = engine_begin,
		.end = engine_end, .footprint = engine_footprint,
		.verify = engine_verify,
	};
	snprintf(a->note, sizeof a->note, "engine (metadata only)");
}

static void
setup_glibc(struct allocator *a)
{
	*a = (struct allocator){
		.name = "glibc", .usable = true, .alloc = glibc_alloc,
		.free = glibc_free, .realloc = glibc_realloc,
		.begin = glibc_begin, .end = glibc_end,
		.footprint = glibc_footprint, .measure_apart = true,
	};
	snprintf(a->note, sizeof a->note, "glibc %s", gnu_get_libc_version());
}

static void
setup_jemalloc(struct allocator *a, char **argv)
{
	const char *version = "?";
	size_t len = sizeof version;
	bool ok = true;
	void *lib;

	*a = (struct allocator){
		.name = "jemalloc", .alloc = je_alloc, .free = je_free,
		.realloc = je_realloc, .begin = je_begin, .end = nop_end,
		.footprint = je_footprint,
	};
	lib = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		const char *why = dlerror();

		if (why != NULL && strstr(why, "static TLS") != NULL)
			reexec_for_static_tls(argv);
		snprintf(a->note, sizeof a->note, "jemalloc n/a (%s)",
			 why ? why : "dlopen failed");
		return;
	}
	je_mallocx = (mallocx_fn)sym(lib, "mallocx", &ok);
	je_dallocx = (dallocx_fn)sym(lib, "dallocx", &ok);
	je_rallocx = (rallocx_fn)sym(lib, "rallocx", &ok);
	if (!ok) {
		snprintf(a->note, sizeof a->note, "jemalloc n/a (no mallocx)");
		return;
	}
	je_mallctl = (mallctl_fn)dlsym(lib, "mallctl");
	if (je_mallctl != NULL)
		je_mallctl("version", &version, &len, NULL, 0);
	a->usable = true;
	snprintf(a->note, sizeof a->note, "jemalloc %.40s", version);
}

static void
setup_mimalloc(struct allocator *a)
{
	mi_version_fn version;
	bool ok = true;
	void *lib;
	int v;

	*a = (struct allocator){
		.name = "mimalloc", .alloc = mi_alloc, .free = mi_free,
		.realloc = mi_realloc, .begin = mi_begin, .end = nop_end,
		.footprint = mi_footprint,
	};
	lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		lib = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		const char *why = dlerror();

		snprintf(a->note, sizeof a->note, "mimalloc n/a (%s)",
			 why ? why : "dlopen failed");
		return;
	}
	mi_malloc_p = (mi_malloc_fn)sym(lib, "mi_malloc", &ok);
	mi_free_p = (mi_free_fn)sym(lib, "mi_free", &ok);
	mi_realloc_p = (mi_realloc_fn)sym(lib, "mi_realloc", &ok);
	if (!ok) {
		snprintf(a->note, sizeof a->note, "mimalloc n/a (no mi_malloc)");
		return;
	}
	mi_collect_p = (mi_collect_fn)dlsym(lib, "mi_collect");
	mi_heap_get_default_p =
		(mi_heap_get_default_fn)dlsym(lib, "mi_heap_get_default");
	mi_heap_visit_blocks_p =
		(mi_heap_visit_blocks_fn)dlsym(lib, "mi_heap_visit_blocks");
	version = (mi_version_fn)dlsym(lib, "mi_version");
	v = version ? version() : 0;
	a->usable = true;
	snprintf(a->note, sizeof a->note, "mimalloc %d.%d.%d", v / 100,
		 v / 10 % 10, v % 10);
}

/* --------------------------------------------------------- workloads */

struct params {
	bool quick;
	uint64_t seed;
	uint64_t pairs;		/* steady-state ops of (a)-(d) */
	uint64_t big_live;	/* live blocks of (e) */
	uint64_t big_pairs;	/* steady-state pairs of (e) */
	uint64_t flat_pairs;	/* pairs per flatness level */
	unsigned flat_levels;	/* 10^3 .. 10^(2 + flat_levels) */
	bool count;		/* --count: one cell's timed pass */
	bool footprint;		/* --footprint: one cell's measure pass */
	unsigned count_work;	/* their workload, 0 = (a) */
	const char *count_alloc; /* and their allocator's name */
	const char *self;	/* argv[0], passed on by --footprint */
};

/* State of one pass of one workload on one allocator. */
struct run {
	struct allocator *a;
	const struct params *pm;
	bool measure;
	uint64_t ops;		/* steady-state ops done */
	double secs;		/* and the time they took */
	uint64_t req;		/* requested bytes live now */
	/* measure pass only */
	bool steady;		/* setup done: sample at every new peak */
	uint64_t peak_req;
	uint64_t next_sample;	/* in setup, sample when req reaches this */
	uint64_t tick;
	uint64_t peak_foot;
	bool foot_ok;
	int check_err;		/* the engine failed its cross-check */
};

static void
sample(struct run *r)
{
	uint64_t f;

	if (!r->a->footprint(r->a->ctx, &f))
		r->foot_ok = false;
	else if (f > r->peak_foot)
		r->peak_foot = f;
}

/*
 * The footprint is sampled every SAMPLE_EVERY ops, and whenever requested
 * bytes reach a new peak, so that peak requested bytes never meet a
 * footprint from another moment.  During setup every op is a new peak, so
 * there only each 1/64 rise is sampled (keeping jemalloc's epoch refresh
 * from dominating a 10^7-block setup); setup ends at its peak anyway and
 * setup_done samples it.
 */
static void __attribute__((noinline))
measure_point(struct run *r)
{
	bool due = (++r->tick % SAMPLE_EVERY) == 0;

	if (r->req > r->peak_req) {
		r->peak_req = r->req;
		if (r->steady || r->req >= r->next_sample)
			due = true;
	}
	if (due) {
		sample(r);
		r->next_sample = r->peak_req + r->peak_req / 64;
	}
}

static void
setup_done(struct run *r)
{
	if (r->measure)
		sample(r);
	r->steady = true;
}

static inline void
track(struct run *r)
{
	if (__builtin_expect(r->measure, 0))
		measure_point(r);
}

/*
 * The steady-state loop of a pass: timed, and with --count the only part of
 * the run that callgrind counts (its client requests do nothing outside
 * valgrind).
 */
static double
steady_begin(struct run *r)
{
	if (r->pm->count)
		CALLGRIND_TOGGLE_COLLECT;
	return now_sec();
}

static void
steady_end(struct run *r, double t0, uint64_t ops)
{
	r->secs = now_sec() - t0;
	if (r->pm->count)
		CALLGRIND_TOGGLE_COLLECT;
	r->ops = ops;
}

/*
 * End of a workload: a last sample and the engine's cross-check while the
 * blocks are still live, then free them all.  Returns the first error of
 * an allocator call; a failed cross-check goes to r->check_err so that the
 * cell's figures are still reported.
 */
static int
finish(struct run *r, int err, uint64_t *ptr, const uint32_t *size,
       uint64_t fixed, size_t n)
{
	struct allocator *a = r->a;

	if (r->measure && err == 0) {
		sample(r);
		if (a->verify != NULL)
			r->check_err = a->verify(a->ctx, ptr, size, fixed, n,
						 r->req);
	}
	for (size_t i = 0; i < n; i++) {
		int e;

		if (ptr[i] == NONE)
			continue;
		e = a->free(a->ctx, ptr[i]);
		if (e < 0 && err == 0)
			err = e;
		ptr[i] = NONE;
	}
	return err;
}

enum size_kind { SIZES_UNIFORM, SIZES_LOG };

static inline uint32_t
draw_size(struct rng *g, enum size_kind kind)
{
	return kind == SIZES_UNIFORM ? (uint32_t)rng_range(g, 16, 512)
				     : rng_log_size(g);
}

/* (a), (b): a window of live blocks, each pair replacing a random one. */
static int
window(struct run *r, unsigned stream, enum size_kind kind)
{
	struct allocator *a = r->a;
	uint64_t *ptr = big_alloc(WINDOW * sizeof *ptr);
	uint32_t *size = big_alloc(WINDOW * sizeof *size);
	uint64_t npairs = r->pm->pairs;
	struct rng g;
	size_t n;
	double t0;
	int err = 0;

	rng_seed(&g, r->pm->seed, stream);
	for (n = 0; n < WINDOW && err == 0; n++) {
		size[n] = draw_size(&g, kind);
		err = a->alloc(a->ctx, size[n], &ptr[n]);
		if (err < 0) {
			ptr[n] = NONE;
			break;
		}
		r->req += size[n];
		track(r);
	}
	setup_done(r);
	t0 = steady_begin(r);
	for (uint64_t i = 0; i < npairs && err == 0; i++) {
		size_t j = rng_below(&g, WINDOW);
		uint32_t s = draw_size(&g, kind);

		err = a->free(a->ctx, ptr[j]);
		if (err < 0)
			break;
		r->req -= size[j];
		size[j] = s;
		err = a->alloc(a->ctx, s, &ptr[j]);
		if (err < 0) {
			ptr[j] = NONE;
			break;
		}
		r->req += s;
		track(r);
	}
	steady_end(r, t0, npairs);
	err = finish(r, err, ptr, size, 0, n);
	big_free(ptr, WINDOW * sizeof *ptr);
	big_free(size, WINDOW * sizeof *size);
	return err;
}

static int
wl_uniform(struct run *r)
{
	return window(r, 1, SIZES_UNIFORM);
}

static int
wl_mixed(struct run *r)
{
	return window(r, 2, SIZES_LOG);
}

/*
 * (c): a batch of blocks alternating 64 B and 448 B.  Each round frees
 * every other block (even slots, then odd ones) and allocates them again
 * with the other size, so the sizes cycle through a period of four rounds:
 * the 64 B holes must take 448 B blocks, then 448 B holes take 64 B ones.
 * One freed-and-reallocated slot is one pair.
 */
static int
tree_round(struct run *r, uint64_t *ptr, uint32_t *size, unsigned parity)
{
	struct allocator *a = r->a;
	int err;

	for (size_t i = parity; i < TREE_BATCH; i += 2) {
		err = a->free(a->ctx, ptr[i]);
		if (err < 0)
			return err;
		ptr[i] = NONE;
		r->req -= size[i];
	}
	for (size_t i = parity; i < TREE_BATCH; i += 2) {
		size[i] = size[i] == TREE_SMALL ? TREE_BIG : TREE_SMALL;
		err = a->alloc(a->ctx, size[i], &ptr[i]);
		if (err < 0)
			return err;
		r->req += size[i];
		track(r);
	}
	return 0;
}

static int
wl_tree(struct run *r)
{
	struct allocator *a = r->a;
	uint64_t *ptr = big_alloc(TREE_BATCH * sizeof *ptr);
	uint32_t *size = big_alloc(TREE_BATCH * sizeof *size);
	uint64_t rounds = r->pm->pairs / (TREE_BATCH / 2), done = 0;
	size_t n;
	double t0;
	int err = 0;

	for (n = 0; n < TREE_BATCH; n++)
		ptr[n] = NONE;
	for (n = 0; n < TREE_BATCH && err == 0; n++) {
		size[n] = n % 2 ? TREE_BIG : TREE_SMALL;
		err = a->alloc(a->ctx, size[n], &ptr[n]);
		if (err < 0)
			break;
		r->req += size[n];
		track(r);
	}
	n = TREE_BATCH;		/* slots not reached are NONE */
	setup_done(r);
	t0 = steady_begin(r);
	for (; done < rounds && err == 0; done++)
		err = tree_round(r, ptr, size, (unsigned)(done & 1));
	steady_end(r, t0, rounds * (TREE_BATCH / 2));
	err = finish(r, err, ptr, size, 0, n);
	big_free(ptr, TREE_BATCH * sizeof *ptr);
	big_free(size, TREE_BATCH * sizeof *size);
	return err;
}

/*
 * (d): blocks grown by realloc in random steps of 16-256 B; a block that
 * would pass 64 KiB is freed and started again small.  Growing blocks are
 * picked at random so that neighbours get in each other's way.  One realloc
 * (or one restart) is one op.
 */
static int
grow_step(struct run *r, struct rng *g, uint64_t *ptr, uint32_t *size)
{
	struct allocator *a = r->a;
	size_t j = rng_below(g, GROW_BLOCKS);
	uint32_t s = size[j] + (uint32_t)rng_range(g, 16, 256);
	int err;

	if (s > GROW_LIMIT) {
		err = a->free(a->ctx, ptr[j]);
		if (err < 0)
			return err;
		ptr[j] = NONE;
		r->req -= size[j];
		size[j] = (uint32_t)rng_range(g, 16, 256);
		err = a->alloc(a->ctx, size[j], &ptr[j]);
		if (err < 0) {
			ptr[j] = NONE;
			return err;
		}
		r->req += size[j];
	} else {
		uint64_t np;

		err = a->realloc(a->ctx, ptr[j], s, &np);
		if (err < 0)
			return err;	/* the old block is still live */
		ptr[j] = np;
		r->req += s - size[j];
		size[j] = s;
	}
	track(r);
	return 0;
}

static int
wl_grow(struct run *r)
{
	struct allocator *a = r->a;
	uint64_t ptr[GROW_BLOCKS];
	uint32_t size[GROW_BLOCKS];
	uint64_t nops = r->pm->pairs;
	struct rng g;
	double t0;
	int err = 0;

	rng_seed(&g, r->pm->seed, 4);
	for (size_t i = 0; i < GROW_BLOCKS; i++)
		ptr[i] = NONE;
	for (size_t i = 0; i < GROW_BLOCKS && err == 0; i++) {
		size[i] = (uint32_t)rng_range(&g, 16, 256);
		err = a->alloc(a->ctx, size[i], &ptr[i]);
		if (err < 0) {
			ptr[i] = NONE;
			break;
		}
		r->req += size[i];
		track(r);
	}
	setup_done(r);
	t0 = steady_begin(r);
	for (uint64_t i = 0; i < nops && err == 0; i++)
		err = grow_step(r, &g, ptr, size);
	steady_end(r, t0, nops);
	return finish(r, err, ptr, size, 0, GROW_BLOCKS);
}

/*
 * (e) and the flatness table: live blocks of one size, each pair freeing a
 * random one and allocating its replacement.  Slots are drawn PREFETCH
 * pairs ahead and prefetched, so that the benchmark's own array of handles
 * (80 MB at 10^7) does not add a DRAM miss of its own to every pair: one
 * pair ahead is too short to hide it.
 */
#define PREFETCH 16		/* power of two */

static int
fixed_window(struct run *r, unsigned stream, size_t live, uint64_t npairs)
{
	struct allocator *a = r->a;
	size_t bytes = live * sizeof(uint64_t);
	uint64_t *ptr = big_alloc(bytes);
	size_t ahead[PREFETCH], n;
	struct rng g;
	double t0;
	int err = 0;

	rng_seed(&g, r->pm->seed, stream);
	for (n = 0; n < live; n++) {
		err = a->alloc(a->ctx, FIXED_SIZE, &ptr[n]);
		if (err < 0) {
			ptr[n] = NONE;
			break;
		}
		r->req += FIXED_SIZE;
		track(r);
	}
	for (unsigned k = 0; k < PREFETCH; k++) {
		ahead[k] = rng_below(&g, live);
		__builtin_prefetch(&ptr[ahead[k]], 1);
	}
	setup_done(r);
	t0 = steady_begin(r);
	for (uint64_t i = 0; i < npairs && err == 0; i++) {
		size_t *slot = &ahead[i & (PREFETCH - 1)], j = *slot;

		*slot = rng_below(&g, live);
		__builtin_prefetch(&ptr[*slot], 1);
		err = a->free(a->ctx, ptr[j]);
		if (err < 0)
			break;
		err = a->alloc(a->ctx, FIXED_SIZE, &ptr[j]);
		if (err < 0) {
			ptr[j] = NONE;
			r->req -= FIXED_SIZE;
			break;
		}
		track(r);
	}
	steady_end(r, t0, npairs);
	err = finish(r, err, ptr, NULL, FIXED_SIZE, n);
	big_free(ptr, bytes);
	return err;
}

static int
wl_big(struct run *r)
{
	return fixed_window(r, 5, (size_t)r->pm->big_live, r->pm->big_pairs);
}

struct workload {
	const char *label;
	int (*fn)(struct run *r);
	bool util_goal;		/* counts toward the utilization goal */
};

static struct workload workloads[] = {
	{ "(a) uniform 16-512", wl_uniform, true },
	{ "(b) mixed 16B-64KiB", wl_mixed, true },
	{ "(c) tree 64/448", wl_tree, true },
	{ "(d) growing realloc", wl_grow, true },
	{ "(e) 1e7 live 64B", wl_big, false },	/* 1e6 with --quick */
};
#define NWORK (sizeof workloads / sizeof workloads[0])
#define NALLOC 4

/* ------------------------------------------------------------ running */

struct result {
	bool measured;		/* the measure pass ran without error */
	bool done;		/* and the timed passes too */
	bool check_failed;	/* engine: cross-check failed, see stderr */
	double mops;		/* timed pass: million ops per second */
	uint64_t ops;
	bool util_ok;
	double util;
	uint64_t peak_req, peak_foot;
	uint64_t hwm, meta;	/* engine only */
};

static struct allocator allocs[NALLOC];
static struct result results[NWORK][NALLOC];

static int
run_pass(const struct workload *w, struct allocator *a,
	 const struct params *pm, bool measure, struct run *r)
{
	int err;

	*r = (struct run){ .a = a, .pm = pm, .measure = measure,
			   .foot_ok = true };
	err = a->begin(a->ctx, measure);
	if (err < 0)
		return err;
	err = w->fn(r);
	a->end(a->ctx);
	return err;
}

static void
report_failure(const struct workload *w, const struct allocator *a,
	       bool measure, int err)
{
	const char *pass = measure ? "measure" : "timed";

	if (a->is_engine)
		fprintf(stderr, "\npoolmgr: %s: %s (%d), in %s, %s pass\n",
			engine.what, heap_strerror(err), err, w->label, pass);
	else
		fprintf(stderr, "\n%s: allocation failed (%s) in %s, %s "
			"pass; reported as n/a\n", a->name, strerror(-err),
			w->label, pass);
}

/*
 * The measure pass of one cell in a new instance of the benchmark
 * (--footprint), for an allocator whose footprint needs a fresh process.
 * False, with the reason on stderr, if that fails.
 */
static bool
measure_apart(const struct workload *w, const struct allocator *a,
	      const struct params *pm, uint64_t *peak_req, uint64_t *peak_foot)
{
	char work[2] = { (char)('a' + (w - workloads)), '\0' };
	char seed[24], line[256];
	char *argv[] = { (char *)pm->self, "--footprint", work,
			 (char *)a->name, "--seed", seed,
			 pm->quick ? "--quick" : NULL, NULL };
	int fd[2], status;
	bool ok = false;
	pid_t pid;
	FILE *f;

	snprintf(seed, sizeof seed, "%" PRIu64, pm->seed);
	fflush(NULL);
	if (pipe(fd) < 0) {
		fprintf(stderr, "\nbench_engine: --footprint: %s\n",
			strerror(errno));
		return false;
	}
	if ((pid = fork()) < 0) {
		fprintf(stderr, "\nbench_engine: --footprint: %s\n",
			strerror(errno));
		close(fd[0]);
		close(fd[1]);
		return false;
	}
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "footprint %" SCNu64 " %" SCNu64, peak_req,
			   peak_foot) == 2)
			ok = true;
	if (f != NULL)
		fclose(f);
	else
		close(fd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "\nbench_engine: --footprint %s %s gave no "
			"footprint; reported as n/a\n", work, a->name);
	return ok;
}

/* The measure pass of one cell.  Returns 0 or the error already reported. */
static int
measure_cell(const struct workload *w, struct allocator *a,
	     const struct params *pm, struct result *res)
{
	struct run r;
	int err;

	err = run_pass(w, a, pm, true, &r);
	if (err < 0) {
		report_failure(w, a, true, err);
		return err;
	}
	if (r.check_err < 0) {
		report_failure(w, a, true, r.check_err);
		res->check_failed = true;
	}
	res->peak_req = r.peak_req;
	res->peak_foot = r.peak_foot;
	if (a->measure_apart)
		r.foot_ok = r.foot_ok &&
			    measure_apart(w, a, pm, &res->peak_req,
					  &res->peak_foot);
	res->util_ok = r.foot_ok && res->peak_foot > 0;
	res->util = res->util_ok ? (double)res->peak_req / res->peak_foot : 0;
	if (a->is_engine) {
		res->hwm = engine.hwm;
		res->meta = engine.max_meta;
	}
	res->measured = true;
	return 0;
}

/*
 * One timed pass of one cell; the fastest pass counts.  Returns 0 or the
 * error already reported.
 */
static int
time_cell(const struct workload *w, struct allocator *a,
	  const struct params *pm, struct result *res)
{
	struct run r;
	double mops;
	int err;

	err = run_pass(w, a, pm, false, &r);
	if (err < 0) {
		report_failure(w, a, false, err);
		res->done = false;
		res->measured = false;
		return err;
	}
	mops = r.secs > 0 ? r.ops / r.secs / 1e6 : 0;
	if (mops > res->mops)
		res->mops = mops;
	res->ops = r.ops;
	res->done = true;
	return 0;
}

/*
 * Both kinds of pass for every allocator on one workload: the measure
 * passes, then TIMED_RUNS rounds of one timed pass each, the allocators in
 * turn.  The load of a shared machine comes and goes over seconds to
 * minutes and can only slow a pass down, so taking turns and keeping each
 * one's fastest pass compares them at the same moments.  Returns 1 if the
 * engine failed, else 0.
 */
static int
run_workload(const struct workload *w, const struct params *pm,
	     struct result *res)
{
	int status = 0;

	for (unsigned i = 0; i < NALLOC; i++) {
		if (!allocs[i].usable)
			continue;
		if (measure_cell(w, &allocs[i], pm, &res[i]) < 0 &&
		    allocs[i].is_engine)
			status = 1;
	}
	for (unsigned t = 0; t < TIMED_RUNS; t++) {
		for (unsigned i = 0; i < NALLOC; i++) {
			if (!res[i].measured)
				continue;
			if (t == 0)
				fprintf(stderr, " %s", allocs[i].name);
			if (time_cell(w, &allocs[i], pm, &res[i]) < 0 &&
			    allocs[i].is_engine)
				status = 1;
		}
	}
	for (unsigned i = 0; i < NALLOC; i++)
		if (res[i].check_failed)
			status = 1;
	return status;
}

/* Flatness: ns per pair of one allocator at one live-block count. */
static int
flat_level(const struct params *pm, struct allocator *a, size_t live,
	   double *ns)
{
	static const struct workload w = { "flatness", NULL, false };
	struct run r = { .a = a, .pm = pm, .foot_ok = true };
	int err;

	err = a->begin(a->ctx, false);
	if (err == 0)
		err = fixed_window(&r, 100 + (unsigned)live % 97, live,
				   pm->flat_pairs);
	a->end(a->ctx);
	if (err < 0) {
		report_failure(&w, a, false, err);
		return err;
	}
	*ns = r.secs * 1e9 / r.ops;
	return 0;
}

/* ------------------------------------------------------------ output */

static void
cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

/* 1-minute load average, or -1: other busy processes skew the timings. */
static double
load_average(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double load = -1;

	if (f != NULL) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

static void
print_load(const char *when)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double load = load_average();

	if (load < 0)
		return;
	printf("load average %s: %.2f%s\n", when, load,
	       load > 0.5 * (double)cpus
	       ? " (other processes are busy: timings may be noisy)" : "");
}

static void
print_header(const struct params *pm)
{
	struct utsname u;
	char model[256];

	cpu_model(model, sizeof model);
	if (uname(&u) != 0)
		memset(&u, 0, sizeof u);
	printf("poolmgr engine benchmark (single thread)\n");
	printf("machine: %s %s %s, %s, %ld CPUs\n", u.sysname, u.release,
	       u.machine, model, sysconf(_SC_NPROCESSORS_ONLN));
	printf("seed: %" PRIu64 ", mode: %s\n", pm->seed,
	       pm->quick ? "quick" : "full");
	print_load("at start");
	printf("allocators:");
	for (unsigned i = 0; i < NALLOC; i++)
		printf("%s %s", i ? "," : "", allocs[i].note);
	printf("\n\n");
}

static void
print_columns(const char *first, const char *second)
{
	printf("%-22s %12s", first, second);
	for (unsigned i = 0; i < NALLOC; i++)
		printf(" %10s", allocs[i].name);
	printf("\n");
}

static void
print_throughput(void)
{
	printf("Throughput: million pairs per second ((d): reallocs per "
	       "second); higher is better\n");
	print_columns("workload", "ops");
	for (unsigned w = 0; w < NWORK; w++) {
		uint64_t ops = 0;

		for (unsigned i = 0; i < NALLOC; i++)
			if (results[w][i].done)
				ops = results[w][i].ops;
		printf("%-22s %12" PRIu64, workloads[w].label, ops);
		for (unsigned i = 0; i < NALLOC; i++) {
			const struct result *res = &results[w][i];

			if (res->done)
				printf(" %10.2f", res->mops);
			else
				printf(" %10s", allocs[i].usable ? "error"
								 : "n/a");
		}
		printf("\n");
	}
	printf("  The fastest of %u timed passes of the steady-state loop "
	       "(CLOCK_MONOTONIC),\n"
	       "  after an untimed measure pass of the same workload.  glibc, "
	       "jemalloc and\n"
	       "  mimalloc write one byte into every block they return; "
	       "poolmgr has no memory,\n"
	       "  so it writes none and its realloc copy callback is a no-op, "
	       "while the others\n"
	       "  copy the data.\n\n", TIMED_RUNS);
}

static void
print_utilization(void)
{
	char buf[32];

	printf("Utilization: peak requested bytes / footprint; higher is "
	       "better\n");
	print_columns("workload", "peak req");
	for (unsigned w = 0; w < NWORK; w++) {
		uint64_t peak = 0;

		for (unsigned i = 0; i < NALLOC; i++)
			if (results[w][i].done)
				peak = results[w][i].peak_req;
		printf("%-22s %12s", workloads[w].label,
		       fmt_bytes(buf, sizeof buf, peak));
		for (unsigned i = 0; i < NALLOC; i++) {
			const struct result *res = &results[w][i];

			if (res->done && res->util_ok)
				printf(" %9.1f%%", 100 * res->util);
			else
				printf(" %10s", res->done || !allocs[i].usable
						? "n/a" : "error");
		}
		printf("\n");
	}
	printf("  poolmgr:  footprint = address high-water mark (max of "
	       "offset + heap_usable_size)\n"
	       "            + metadata_bytes from heap_get_stats.\n"
	       "  glibc:    address high-water mark too, measured in a fresh "
	       "process: highest\n"
	       "            block end over the program break at the start "
	       "(headers, holes and\n"
	       "            tcache count) + mallinfo2() hblkhd (mmapped "
	       "chunks) over a baseline.\n"
	       "  jemalloc: peak of mallctl stats.resident over a purged "
	       "baseline (resident pages,\n"
	       "            metadata and unpurged dirty pages included).\n"
	       "  mimalloc: peak of the bytes its heap's pages have carved "
	       "into blocks (sum of\n"
	       "            mi_heap_visit_blocks area.committed) after "
	       "mi_collect(true); segment\n"
	       "            metadata and cached empty pages not counted.\n"
	       "  Yardstick footprints are sampled at every new peak of "
	       "requested bytes (each 1/64\n"
	       "  rise during setup) and every %u ops.\n\n", SAMPLE_EVERY);
}

static void
print_engine_detail(void)
{
	char a[32], b[32], c[32];
	const struct result *res;

	printf("poolmgr detail (measure pass)\n");
	printf("%-22s %12s %12s %12s %8s\n", "workload", "peak req",
	       "high-water", "metadata", "check");
	for (unsigned w = 0; w < NWORK; w++) {
		res = &results[w][0];
		if (!res->done) {
			printf("%-22s %12s\n", workloads[w].label, "error");
			continue;
		}
		printf("%-22s %12s %12s %12s %8s\n", workloads[w].label,
		       fmt_bytes(a, sizeof a, res->peak_req),
		       fmt_bytes(b, sizeof b, res->hwm),
		       fmt_bytes(c, sizeof c, res->meta),
		       res->check_failed ? "FAILED" : "ok");
	}
	printf("  check: before freeing, every live block's usable size, "
	       "alignment and bounds,\n"
	       "  no two blocks overlapping, heap_get_stats against the "
	       "benchmark's own counts,\n"
	       "  and heap_check.  A FAILED row has its message on stderr.\n\n");
}

#define FLAT_MAX_LEVELS 5
enum { FLAT_NULL, FLAT_TOUCH, FLAT_ENGINE, FLAT_KINDS };

/*
 * Every cell of the flatness table, FLAT_RUNS times, the fastest run of
 * each kept in ns[level][kind] (INFINITY: failed).  On a shared machine a
 * run can only be slowed by others, so the minimum is the closest to the
 * cost itself; and since the load comes and goes over seconds to minutes,
 * each round runs every level and kind in turn, so that a slow spell does
 * not fall on one level alone and read as growth.
 */
static void
flat_measure(const struct params *pm, double ns[][FLAT_KINDS])
{
	struct allocator *kinds[FLAT_KINDS] = {
		[FLAT_NULL] = &null_allocator, [FLAT_TOUCH] = &touch_allocator,
		[FLAT_ENGINE] = &allocs[0]
	};

	for (unsigned l = 0; l < pm->flat_levels; l++)
		for (unsigned k = 0; k < FLAT_KINDS; k++)
			ns[l][k] = INFINITY;
	for (unsigned r = 0; r < FLAT_RUNS; r++) {
		size_t live = 1000;

		for (unsigned l = 0; l < pm->flat_levels; l++, live *= 10) {
			for (unsigned k = 0; k < FLAT_KINDS; k++) {
				double t;

				/* Still INFINITY after round 0: it failed. */
				if (r > 0 && isinf(ns[l][k]))
					continue;
				if (flat_level(pm, kinds[k], live, &t) < 0)
					ns[l][k] = INFINITY;
				else if (t < ns[l][k])
					ns[l][k] = t;
			}
		}
	}
}

/*
 * Returns whether the flatness goal was met: on ns/pair as measured (*raw)
 * and on ns/pair beyond the metadata-touch baseline (the return value).
 */
static bool
print_flatness(const struct params *pm, int *status, bool *raw)
{
	size_t live = 1000;
	double base = 0, worst = 0, base_net = 0, worst_net = 0;
	double cell[FLAT_MAX_LEVELS][FLAT_KINDS];
	bool ok = true;

	printf("poolmgr flatness: %d B blocks, random free+alloc pairs\n",
	       FIXED_SIZE);
	printf("%14s %12s %10s %10s %10s %10s %10s %10s\n", "live blocks",
	       "pairs", "ns/pair", "vs 10^3", "harness", "touch",
	       "beyond", "vs 10^3");
	fflush(stdout);
	flat_measure(pm, cell);
	for (unsigned l = 0; l < pm->flat_levels; l++, live *= 10) {
		double ns = cell[l][FLAT_ENGINE], null_ns = cell[l][FLAT_NULL];
		double touch_ns = cell[l][FLAT_TOUCH], net;

		if (isinf(null_ns))
			null_ns = NAN;
		if (isinf(touch_ns))
			touch_ns = NAN;
		if (isinf(ns)) {
			printf("%14zu %12s %10s\n", live, "-", "error");
			*status = 1;
			ok = false;
			continue;
		}
		net = ns - touch_ns;
		if (l == 0) {
			base = ns;
			base_net = net;
		}
		if (base > 0 && ns / base > worst)
			worst = ns / base;
		if (base_net > 0 && net / base_net > worst_net)
			worst_net = net / base_net;
		printf("%14zu %12" PRIu64 " %10.1f %9.2fx %10.1f %10.1f %10.1f "
		       "%9.2fx\n", live, pm->flat_pairs, ns,
		       base > 0 ? ns / base : 0, null_ns, touch_ns, net,
		       base_net > 0 ? net / base_net : 0);
		fflush(stdout);
	}
	if (pm->quick)
		printf("  (10^7 skipped in --quick mode)\n");
	printf("  each cell: the fastest of %d runs of %" PRIu64 " pairs, "
	       "taken in %d rounds\n"
	       "  that each run every cell once.\n",
	       FLAT_RUNS, pm->flat_pairs, FLAT_RUNS);
	printf("  harness: ns/pair of the same loop over a null allocator "
	       "(included in ns/pair).\n"
	       "  touch:   the same loop over an allocator that only reaches "
	       "each freed block's\n"
	       "           metadata (one byte per block, the engine's "
	       "density) and reuses it:\n"
	       "           the cache and TLB misses any out-of-band allocator "
	       "pays per pair.\n"
	       "  beyond:  ns/pair - touch, the engine's own work.\n\n");
	*raw = ok && base > 0 && worst <= FLAT_GOAL;
	return ok && base_net > 0 && worst_net <= FLAT_GOAL;
}

static void
print_goals(bool flat_ok, bool flat_raw)
{
	bool tp = true, ut = true;
	char miss_tp[256] = "", miss_ut[256] = "", goal[80];

	for (unsigned w = 0; w < NWORK; w++) {
		const struct result *e = &results[w][0], *g = &results[w][1];
		char *m;

		if (!e->done || !g->done || e->mops < g->mops) {
			tp = false;
			m = miss_tp + strlen(miss_tp);
			snprintf(m, sizeof miss_tp - (size_t)(m - miss_tp),
				 " %.3s", workloads[w].label);
		}
		if (workloads[w].util_goal &&
		    (!e->done || !e->util_ok || e->util < UTIL_GOAL)) {
			ut = false;
			m = miss_ut + strlen(miss_ut);
			snprintf(m, sizeof miss_ut - (size_t)(m - miss_ut),
				 " %.3s", workloads[w].label);
		}
	}
	printf("Goals\n");
	printf("  %-52s %s%s\n", "poolmgr throughput >= glibc on every "
	       "workload:", tp ? "met" : "NOT met:", miss_tp);
	snprintf(goal, sizeof goal, "poolmgr utilization >= %.0f%% on "
		 "(a)-(d):", 100 * UTIL_GOAL);
	printf("  %-52s %s%s\n", goal, ut ? "met" : "NOT met:", miss_ut);
	snprintf(goal, sizeof goal, "poolmgr ns/pair within %.1fx of the "
		 "10^3 figure:", FLAT_GOAL);
	printf("  %-52s %s\n", goal, flat_raw ? "met" : "NOT met");
	snprintf(goal, sizeof goal, "... beyond the metadata-touch baseline:");
	printf("  %-52s %s\n", goal, flat_ok ? "met" : "NOT met");
}

/* ------------------------------------------------------------- main */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_engine [--quick] [--seed N] "
		"[--count W A | --footprint W A]\n"
		"  --quick       a much shorter run (10^6 instead of 10^7 live "
		"blocks)\n"
		"  --seed N      PRNG seed (default 42)\n"
		"  --count W A   only the timed pass of workload W (a-e) on "
		"allocator A\n"
		"                (poolmgr, glibc, jemalloc, mimalloc), its "
		"steady loop\n"
		"                counted under valgrind --tool=callgrind "
		"--collect-atstart=no\n"
		"  --footprint W A  only the measure pass of that cell: "
		"prints its peak\n"
		"                requested bytes and peak footprint\n");
}

static int
parse_args(int argc, char **argv, struct params *pm)
{
	*pm = (struct params){ .seed = 42, .self = argv[0] };
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--quick") == 0) {
			pm->quick = true;
		} else if (strncmp(argv[i], "--seed", 6) == 0 &&
			   (argv[i][6] == '=' ||
			    (argv[i][6] == '\0' && i + 1 < argc))) {
			const char *v = argv[i][6] ? argv[i] + 7 : argv[++i];

			errno = 0;
			pm->seed = strtoull(v, &end, 0);
			if (errno || *end != '\0' || end == v || *v == '-') {
				usage();
				return -1;
			}
		} else if ((strcmp(argv[i], "--count") == 0 ||
			    strcmp(argv[i], "--footprint") == 0) &&
			   i + 2 < argc &&
			   argv[i + 1][0] >= 'a' && argv[i + 1][0] <= 'e' &&
			   argv[i + 1][1] == '\0') {
			if (argv[i][2] == 'c')
				pm->count = true;
			else
				pm->footprint = true;
			pm->count_work = (unsigned)(argv[i + 1][0] - 'a');
			pm->count_alloc = argv[i + 2];
			i += 2;
		} else {
			usage();
			return -1;
		}
	}
	/* Sized so a full run stays within about three minutes on 2 cores. */
	pm->pairs = pm->quick ? 200000 : 5000000;
	pm->big_live = pm->quick ? 1000000 : 10000000;
	pm->big_pairs = pm->quick ? 200000 : 5000000;
	pm->flat_pairs = pm->quick ? 200000 : 3000000;
	pm->flat_levels = pm->quick ? 4 : 5;
	return 0;
}

/*
 * --count: the timed pass of one cell, its steady loop counted by
 * callgrind.  Prints the workload, the allocator and the operations done.
 * --footprint: the measure pass of one cell; prints its peak requested
 * bytes and peak footprint.
 */
static int
count_cell(const struct params *pm)
{
	const struct workload *w = &workloads[pm->count_work];
	struct run r;

	for (unsigned i = 0; i < NALLOC; i++) {
		struct allocator *a = &allocs[i];
		int err;

		if (a->name == NULL || strcmp(a->name, pm->count_alloc) != 0)
			continue;
		if (!a->usable) {
			fprintf(stderr, "bench_engine: %s\n", a->note);
			return 2;
		}
		err = run_pass(w, a, pm, pm->footprint, &r);
		if (err < 0) {
			report_failure(w, a, pm->footprint, err);
			return 1;
		}
		if (pm->footprint)
			printf("footprint %" PRIu64 " %" PRIu64 "\n",
			       r.peak_req, r.foot_ok ? r.peak_foot : 0);
		else
			printf("count\t%s\t%s\t%" PRIu64 "\n", w->label,
			       a->name, r.ops);
		return 0;
	}
	fprintf(stderr, "bench_engine: no allocator named %s\n",
		pm->count_alloc);
	return 2;
}

/* Is allocator name part of this run (all are, unless one cell is asked)? */
static bool
wanted(const struct params *pm, const char *name)
{
	return !(pm->count || pm->footprint) ||
	       strcmp(pm->count_alloc, name) == 0;
}

int
main(int argc, char **argv)
{
	struct params pm;
	double t0 = now_sec();
	int status = 0;
	bool flat_ok, flat_raw;

	if (parse_args(argc, argv, &pm) < 0)
		return 2;
	/* Load first: jemalloc may need the process started again. */
	setup_engine(&allocs[0]);
	setup_glibc(&allocs[1]);
	/* One cell alone: loading the others would only use glibc's heap. */
	if (wanted(&pm, "jemalloc"))
		setup_jemalloc(&allocs[2], argv);
	if (wanted(&pm, "mimalloc"))
		setup_mimalloc(&allocs[3]);
	log_sizes_init();
	if (pm.quick)
		workloads[NWORK - 1].label = "(e) 1e6 live 64B";
	if (pm.count || pm.footprint)
		return count_cell(&pm);
	print_header(&pm);
	fflush(stdout);

	for (unsigned w = 0; w < NWORK; w++) {
		fprintf(stderr, "running %s:", workloads[w].label);
		if (run_workload(&workloads[w], &pm, results[w]))
			status = 1;
		fprintf(stderr, "\n");
	}
	print_throughput();
	print_utilization();
	print_engine_detail();
	fflush(stdout);
	flat_ok = print_flatness(&pm, &status, &flat_raw);
	print_goals(flat_ok, flat_raw);
	printf("\n");
	print_load("at end");
	printf("total time %.1f s\n", now_sec() - t0);
	return status;
}
