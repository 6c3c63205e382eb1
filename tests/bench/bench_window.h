/*
 * bench_window.h - the window workload of the shared-heap benchmark, the
 * same for every heap: keep WINDOW blocks live, then again and again free
 * a random one and allocate a new one in its place, writing a few bytes
 * into every block allocated (so the memory is really used).  A heap is
 * reached through two callbacks, so poolmgr, Boost.Interprocess and the
 * in-process allocators run exactly this loop.
 */
#ifndef BENCH_WINDOW_H
#define BENCH_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WINDOW 1000

struct heap_ops {
	void *ctx;
	/* Allocate size bytes: *h names the block to free, *ptr is where
	 * its bytes are in this process.  0 or a negative errno. */
	int (*alloc)(void *ctx, size_t size, uint64_t *h, void **ptr);
	int (*free)(void *ctx, uint64_t h);
};

struct window {
	struct heap_ops ops;
	enum mix mix;
	struct rng rng;
	uint64_t h[WINDOW];
	int filled;
};

/* Start a window of heap ops on mix; stream makes each worker's sizes
 * its own. */
void window_init(struct window *w, const struct heap_ops *ops, enum mix m,
		 uint64_t seed, uint64_t stream);

/* Allocate the WINDOW live blocks.  0 or the heap's error. */
int window_fill(struct window *w);

/* Free-one, allocate-one pairs until seconds have passed; *pairs done. */
int window_run(struct window *w, double seconds, uint64_t *pairs);

/* Free every live block.  0 or the first error. */
int window_drain(struct window *w);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_WINDOW_H */
