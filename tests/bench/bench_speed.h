/*
 * bench_speed.h - the end-to-end benchmark (make bench): what its sections
 * share, and the results they fill in for the tables.
 */
#ifndef BENCH_SPEED_H
#define BENCH_SPEED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_util.h"
#include "poolclient.h"

#define NCOUNTS 3		/* 1, 2 and 4 processes */
extern const int proc_counts[NCOUNTS];

struct env {
	const char *sock;	/* poolmgrd's socket */
	pid_t daemon;		/* and its pid */
	struct pool_conn *admin;	/* creates, measures, trims pools */
	const char *boost_bin;	/* the Boost.Interprocess program */
	char echo_sock[128];
	double floor_secs;	/* per floor cell */
	double heap_secs;	/* per run of a shared-heap cell */
	int heap_runs;		/* runs per cell: the median is reported */
	uint64_t seed;
};

/* The heaps of the shared-heap table. */
enum heap {
	H_PM_ON,		/* poolmgr, client caches on (default) */
	H_PM_OFF,		/* poolmgr, client caches off */
	H_BOOST,		/* Boost.Interprocess managed_shared_memory */
	H_GLIBC,		/* in-process yardsticks */
	H_MIMALLOC,
	H_COUNT
};

/* Request latency (µs) and throughput of one floor cell. */
struct lat {
	double p50, p99, rate;
	bool ok;
};

/* A server's utime+stime over a run, and the work it did in it. */
struct cpu {
	double secs;		/* < 0: not measured */
	uint64_t work;		/* requests or alloc+free pairs */
};

/* Resident bytes of a heap's memory at three moments. */
struct mem {
	uint64_t live;		/* every window live */
	uint64_t freed;		/* everything freed, the clients gone */
	uint64_t trimmed;	/* then after pool_trim (poolmgr only) */
	uint64_t cached;	/* in client caches, windows live */
	bool ok;
};

struct results {
	/* Floor: [0] 1 client, [1] 4 clients. */
	struct lat echo[2], pm[2];
	struct cpu echo_cpu, pm_cpu;	/* per request, 4 clients */
	/* Shared heap: pairs/s, < 0 when not measured. */
	double rate[MIX_COUNT][H_COUNT][NCOUNTS];
	double threads[MIX_COUNT][2];	/* 2 threads, one handle: on, off */
	/* Blocks the daemon allocated and freed per pair, caches on:
	 * [0] 2 processes, [1] 2 threads on one handle (--threads). */
	double thread_blocks[MIX_COUNT][2];
	struct cpu pair_cpu[MIX_COUNT][2];	/* per pair, 4 procs: on, off */
	struct mem mem_pm[MIX_COUNT][2];	/* 4 processes: on, off */
	struct mem mem_boost[MIX_COUNT];
	double heap_secs;	/* as in env */
	int heap_runs;
	char boost_note[128];
	char mi_note[64];
};

const char *heap_name(enum heap h);

/* The sections. */
void floor_run(struct env *e, struct results *r);
void heap_run(struct env *e, struct results *r);
/* Only 2 processes against 2 threads on one handle, caches on. */
void heap_threads_run(struct env *e, struct results *r);

/* The tables, the goals, the plot's data. */
void report_machine(void);
void report_floor(const struct results *r);
void report_heap(const struct results *r);
void report_cpu(const struct results *r);
void report_memory(const struct results *r);
void report_goals(const struct results *r);
void report_threads(const struct results *r);
int report_data(const struct results *r, const char *path);

#endif /* BENCH_SPEED_H */
