/*
 * bench_cache_hit.c - the instructions of a client cache hit, for
 * callgrind (docs/PERFORMANCE.md).
 *
 * One thread, one handle of a 64 MiB pool with its cache on.  After an
 * untimed warm-up, steady_pairs runs N alloc+free pairs: of 64 B each
 * (--same), or, by default, a window of 1000 live blocks of 16-512 B in
 * which a random one is freed and a new one allocated (seed 42), as
 * bench_speed's window loop.  Nearly every pair is served by the cache;
 * the daemon's allocations and frees meanwhile are printed beside it.
 * Count only the loop:
 *
 *   valgrind --tool=callgrind --toggle-collect=steady_pairs \
 *       build/bench/bench_cache_hit --poolmgrd build/poolmgrd
 *
 * and divide the instructions by the pairs printed.
 *
 * Usage: bench_cache_hit [--poolmgrd PATH] [--pairs N] [--same]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolclient.h"

#include "bench_daemon.h"

#define POOL_BYTES	(64ull << 20)
#define WINDOW		1000
#define MIN_SIZE	16
#define MAX_SIZE	512

static uint64_t seed = 42;
static pool_off_t win[WINDOW];

/* xorshift64*, as the other benchmarks. */
static uint64_t
next(void)
{
	seed ^= seed >> 12;
	seed ^= seed << 25;
	seed ^= seed >> 27;
	return (seed * 0x2545f4914f6cdd1dull) >> 32;
}

static size_t
size_of_next(void)
{
	return MIN_SIZE + next() % (MAX_SIZE - MIN_SIZE + 1);
}

static inline int
run_pairs(struct pool *p, unsigned long pairs, int same)
{
	pool_off_t off;
	unsigned long i;
	unsigned k;

	for (i = 0; i < pairs; i++) {
		if (same) {
			if (pool_alloc(p, 64, &off) || pool_free(p, off))
				return -1;
			continue;
		}
		k = (unsigned)(next() % WINDOW);
		if (pool_free(p, win[k]) || pool_alloc(p, size_of_next(),
		    &win[k]))
			return -1;
	}
	return 0;
}

/* Every class the loop uses refilled, its stacks grown: not counted. */
static __attribute__((noipa)) int
warm_pairs(struct pool *p, unsigned long pairs, int same)
{
	return run_pairs(p, pairs, same);
}

/* The pairs counted: noipa, so that callgrind can toggle on it alone. */
static __attribute__((noipa)) int
steady_pairs(struct pool *p, unsigned long pairs, int same)
{
	return run_pairs(p, pairs, same);
}

int
main(int argc, char **argv)
{
	struct pool_create_opts o = {.max_size = POOL_BYTES, .mode = 0600};
	const char *bin = "build/poolmgrd";
	unsigned long pairs = 300000;
	struct pool_stats s0, s1;
	struct pool_conn *c;
	struct pool *p;
	struct daemon d;
	int i, same = 0, rc = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--poolmgrd") && i + 1 < argc)
			bin = argv[++i];
		else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--same"))
			same = 1;
		else {
			fprintf(stderr, "usage: bench_cache_hit [--poolmgrd "
				"PATH] [--pairs N] [--same]\n");
			return 2;
		}
	}
	if (daemon_start(&d, bin) != 0)
		return 1;
	if (pool_connect(d.sock, &c) || pool_create(c, "p", &o) ||
	    pool_open(c, "p", &p)) {
		fprintf(stderr, "cannot open the pool\n");
		daemon_stop(&d);
		return 1;
	}
	for (i = 0; i < WINDOW; i++)
		if (pool_alloc(p, size_of_next(), &win[i]))
			goto out;
	if (warm_pairs(p, pairs / 10, same) || pool_stats(p, &s0) ||
	    steady_pairs(p, pairs, same) || pool_stats(p, &s1))
		goto out;
	printf("pairs %lu (%s), daemon allocs %llu frees %llu\n", pairs,
	       same ? "64 B" : "window 16-512 B",
	       (unsigned long long)(s1.allocs - s0.allocs),
	       (unsigned long long)(s1.frees - s0.frees));
	rc = 0;
out:
	pool_close(p);
	pool_disconnect(c);
	daemon_stop(&d);
	return rc;
}
