/*
 * bench_util.h - small helpers shared by the end-to-end benchmarks (C and
 * the C++ Boost program): clocks, a PRNG and the two size mixes,
 * percentiles, a process's CPU time from /proc, the load average.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The two size mixes of the window workload. */
enum mix {
	MIX_SMALL,	/* uniform 16 .. 512 B */
	MIX_LARGE,	/* uniform 16 B .. 64 KiB */
	MIX_COUNT
};

/* xorshift64*: fast, good enough to pick sizes and slots. */
struct rng {
	uint64_t s;
};

double now_sec(void);
uint64_t now_ns(void);

/* One stream per (seed, stream); never the all-zero state. */
void rng_seed(struct rng *g, uint64_t seed, uint64_t stream);

static inline uint64_t
rng_next(struct rng *g)
{
	uint64_t x = g->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n), n < 2^32. */
static inline uint64_t
rng_below(struct rng *g, uint64_t n)
{
	return ((rng_next(g) >> 32) * n) >> 32;
}

/* A block size drawn from the mix. */
size_t mix_size(struct rng *g, enum mix m);
const char *mix_name(enum mix m);

/* Sort n samples and return the q-quantile (0 <= q <= 1); 0 if n == 0. */
uint32_t quantile(uint32_t *v, size_t n, double q);

/* The median of n values (sorts them). */
double median(double *v, int n);

/* utime + stime of a process in seconds, or -1 if it cannot be read. */
double proc_cpu_sec(pid_t pid);

/* The 1-minute load average, or -1. */
double load_avg(void);

/* Memory that is anonymous shared and outside every allocator. */
void *shared_alloc(size_t bytes);
void shared_free(void *p, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_UTIL_H */
