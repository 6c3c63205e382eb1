/*
 * bench_probe.h - the prober of the benchmarks that measure what one
 * client's work costs the others (bench_release, bench_blocks): a process
 * making 64-byte alloc+free round trips on pool "probe" without pause
 * (client cache off), keeping each round trip's time while told to watch.
 * Its record lives in shared memory made before the fork.
 */
#ifndef BENCH_PROBE_H
#define BENCH_PROBE_H

#include <stdint.h>

#define PROBE_SAMPLES (4u << 20)	/* round trips kept, at most */

struct probe {
	volatile int stop;
	volatile int ready;
	volatile int failed;
	volatile int watch;	/* keep round-trip times only while set */
	uint32_t n;
	uint32_t us[];		/* round-trip times, microseconds */
};

#define PROBE_BYTES (sizeof(struct probe) + PROBE_SAMPLES * sizeof(uint32_t))

/*
 * In the forked prober: connect to sock, open "probe" and make round trips
 * until pr->stop; never returns.  pr->ready is set once it runs (or has
 * failed: pr->failed).
 */
void probe_run(const char *sock, struct probe *pr)
	__attribute__((noreturn));

#endif /* BENCH_PROBE_H */
