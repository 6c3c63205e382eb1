/*
 * bench_rebuild.c - what it costs to rebuild a heap block by block with
 * heap_reserve, as poolmgrd does for every pool when it restarts in place.
 *
 * A heap of 8 GiB gets N blocks of 16..512 B (default 1,500,000), and
 * every third is freed again, so the blocks kept have holes between them
 * and some freed ones sit in the caches.  heap_block_info is read for
 * each block kept; then a fresh heap of the same configuration gets them
 * all by heap_reserve, in address order (the order the daemon's state
 * keeps them in), and is checked.  Printed: the blocks, the wall time of
 * the rebuild (the fastest of three) and per block, and the load average.
 *
 * Instructions are counted, not timed, by running it under callgrind with
 * only the rebuild collected:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *     --toggle-collect=rebuild build/bench/bench_rebuild
 *
 * and dividing the total by the blocks rebuilt, three times over.
 *
 * Usage: bench_rebuild [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "heap.h"

static int
nop_release(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx, (void)off, (void)len;
	return 0;
}

/* The measured part.  noinline: callgrind toggles collection on its name. */
static __attribute__((noinline)) int
rebuild(struct heap *h, const uint64_t *off, const struct heap_block_info *bi,
	size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (heap_reserve(h, off[i], &bi[i]) != 0)
			return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct heap_config cfg = {
		.max_size = 8ull << 30, .release = nop_release,
	};
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1500000, k = 0;
	uint64_t *off = calloc(n ? n : 1, sizeof(*off));
	struct heap_block_info *bi = calloc(n ? n : 1, sizeof(*bi));
	double best = 0, t;
	struct heap *a, *b;
	struct rng rng;
	char msg[256];
	int run;

	if (n == 0 || !off || !bi || heap_create(&cfg, &a) != 0) {
		fprintf(stderr, "bench_rebuild: bad N or out of memory\n");
		return 2;
	}
	rng_seed(&rng, 42, 0);
	for (size_t i = 0; i < n; i++)
		if (heap_alloc(a, 16 + rng_below(&rng, 497), 0, &off[i]) != 0) {
			fprintf(stderr, "bench_rebuild: allocation failed\n");
			return 1;
		}
	/* Blocks were carved in address order: the kept ones stay sorted. */
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 0)
			heap_free(a, off[i]);
		else
			off[k++] = off[i];
	}
	for (size_t i = 0; i < k; i++)
		heap_block_info(a, off[i], &bi[i]);
	for (run = 0; run < 3; run++) {
		if (heap_create(&cfg, &b) != 0)
			return 1;
		t = now_sec();
		if (rebuild(b, off, bi, k) != 0) {
			fprintf(stderr, "bench_rebuild: a reservation failed\n");
			return 1;
		}
		t = now_sec() - t;
		if (run == 0 || t < best)
			best = t;
		if (heap_check(b, msg, sizeof(msg)) != 0) {
			fprintf(stderr, "bench_rebuild: check: %s\n", msg);
			return 1;
		}
		heap_destroy(b);
	}
	printf("rebuilt %zu blocks by heap_reserve: %.1f ms, %.1f ns per block "
	       "(fastest of 3; load %.2f)\n", k, best * 1e3, best * 1e9 / k,
	       load_avg());
	heap_destroy(a);
	free(off);
	free(bi);
	return 0;
}
