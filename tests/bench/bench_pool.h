/*
 * bench_pool.h - poolmgr as a heap of the benchmarks: one client's
 * connection and handle, the window workload's callbacks over it, and the
 * client cache switch.
 */
#ifndef BENCH_POOL_H
#define BENCH_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "bench_window.h"
#include "poolclient.h"

/* The benchmark's pools: sparse, so only what is used costs memory. */
#define BENCH_POOL_SIZE (1ull << 30)

struct pm {
	struct pool_conn *c;
	struct pool *p;
};

/* Connect to sock, open pool, turn the handle's client cache on or off.
 * 0 or a negative errno. */
int pm_open(struct pm *m, const char *sock, const char *pool, bool cache);
void pm_close(struct pm *m);

/* The client cache of a handle: on (as pool_open leaves it) or off. */
int pm_set_cache(struct pool *p, bool on);

/* Window callbacks over m->p. */
void pm_heap_ops(struct pm *m, struct heap_ops *ops);

/* A fresh pool for one measurement, and away with it. */
int pm_create(struct pool_conn *c, const char *name);
int pm_destroy(struct pool_conn *c, const char *name);

#endif /* BENCH_POOL_H */
