/*
 * cost_driver.c - the engine's steady state at a given number of live
 * blocks, for test_cost_flat.sh to count the instructions of.
 *
 * Usage: cost_driver fixed|mixed|varied|restore LIVE PAIRS
 *   fixed  LIVE blocks of 64 B; each pair frees a random one and allocates
 *          64 B again (the benchmark's flatness loop).
 *   mixed  LIVE blocks of 16..512 B; each pair frees a random one and
 *          allocates a new random size (the benchmark's workload (a)).
 *   varied as mixed, but the new block comes in turn from heap_alloc, an
 *          aligned heap_alloc (64, 128 or 256), heap_calloc, or a heap_realloc
 *          of the old block to 16..1024 B (in place or moved).
 *   restore as mixed, but each pair reads a random block's heap_block_info,
 *          frees it (into its cache, mostly) and heap_reserve makes it
 *          again where it was: the daemon's rebuild of a heap after a
 *          restart, block by block, in a heap of LIVE blocks.
 * Setup and teardown are outside steady_loop(), the only function the
 * test counts; callgrind instruments nothing but it (run with
 * --instr-atstart=no), so that setting up 10^7 blocks runs at the speed
 * of valgrind's plain translation instead of its instrumented one.  The
 * heap is checked at the end.  Exit 0, 1 if the engine fails or its check
 * does, 2 for a usage error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/callgrind.h>

#include "../bench/bench_util.h"	/* the benchmarks' PRNG */
#include "heap.h"

static struct rng rng;

enum work { FIXED, MIXED, VARIED, RESTORE };

static uint64_t
draw_size(enum work w)
{
	return w == FIXED ? 64 : 16 + rng_below(&rng, 512 - 16 + 1);
}

/* Replace the block at *slot the way step i of workload w does. */
static int
replace(struct heap *h, uint64_t *slot, uint64_t i, enum work w)
{
	struct heap_block_info bi;
	int rc;

	if (w == RESTORE) {
		if ((rc = heap_block_info(h, *slot, &bi)) != 0 ||
		    (rc = heap_free(h, *slot)) != 0)
			return rc;
		return heap_reserve(h, *slot, &bi);
	}
	if (w != VARIED || i % 4 == 0) {
		if ((rc = heap_free(h, *slot)) != 0)
			return rc;
		return heap_alloc(h, draw_size(w), 0, slot);
	}
	if (i % 4 == 3)
		return heap_realloc(h, *slot, 16 + rng_below(&rng, 1024 - 16 + 1),
				    slot);
	if ((rc = heap_free(h, *slot)) != 0)
		return rc;
	if (i % 4 == 1)
		return heap_alloc(h, draw_size(w), 64u << rng_below(&rng, 3), slot);
	return heap_calloc(h, 1, draw_size(w), slot);
}

static int
nop_release(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx, (void)off, (void)len;
	return 0;
}

/* The counted part.  noinline: callgrind toggles collection on its name. */
static __attribute__((noinline)) int
steady_loop(struct heap *h, uint64_t *blocks, size_t live, uint64_t pairs,
	    enum work w)
{
	for (uint64_t i = 0; i < pairs; i++)
		if (replace(h, &blocks[rng_below(&rng, live)], i, w) != 0)
			return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct heap_config cfg = {
		.max_size = 8ull << 30, .release = nop_release,
	};
	struct heap *h;
	uint64_t *blocks, pairs;
	size_t live;
	char msg[256];
	enum work w;
	int rc;

	rng_seed(&rng, 42, 0);
	if (argc != 4) {
		fprintf(stderr, "usage: cost_driver fixed|mixed|varied|restore "
			"LIVE PAIRS\n");
		return 2;
	}
	if (!strcmp(argv[1], "fixed"))
		w = FIXED;
	else if (!strcmp(argv[1], "mixed"))
		w = MIXED;
	else if (!strcmp(argv[1], "varied"))
		w = VARIED;
	else if (!strcmp(argv[1], "restore"))
		w = RESTORE;
	else {
		fprintf(stderr, "cost_driver: unknown workload %s\n", argv[1]);
		return 2;
	}
	live = strtoull(argv[2], NULL, 10);
	pairs = strtoull(argv[3], NULL, 10);
	if (live == 0 || !(blocks = calloc(live, sizeof(*blocks)))) {
		fprintf(stderr, "cost_driver: bad LIVE or out of memory\n");
		return 2;
	}
	if (heap_create(&cfg, &h) != 0) {
		fprintf(stderr, "cost_driver: heap_create failed\n");
		return 1;
	}
	for (size_t i = 0; i < live; i++)
		if (heap_alloc(h, draw_size(w), 0, &blocks[i]) != 0) {
			fprintf(stderr, "cost_driver: setup allocation failed\n");
			return 1;
		}
	CALLGRIND_START_INSTRUMENTATION;
	rc = steady_loop(h, blocks, live, pairs, w);
	CALLGRIND_STOP_INSTRUMENTATION;
	if (rc != 0) {
		fprintf(stderr, "cost_driver: a pair failed\n");
		return 1;
	}
	if (heap_check(h, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "cost_driver: check: %s\n", msg);
		return 1;
	}
	for (size_t i = 0; i < live; i++)
		heap_free(h, blocks[i]);
	heap_destroy(h);
	free(blocks);
	return 0;
}
