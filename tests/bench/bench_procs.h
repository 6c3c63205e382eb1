/*
 * bench_procs.h - run one benchmark job in N worker processes (or N
 * threads of this process) that start their timed part together.
 *
 * Every worker sets up (connects, fills its window: untimed), then all
 * start at one signal, run for a fixed time and report how many
 * operations they did.  While the workers still hold what they set up, the
 * caller's live hook runs (to measure memory with the windows live); then
 * they tear down and exit.  Throughput is all the workers' operations over
 * the time from the first start to the last end.
 */
#ifndef BENCH_PROCS_H
#define BENCH_PROCS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct job {
	void *arg;
	/* In the worker: untimed setup, the timed part, the teardown. */
	int (*setup)(struct job *j, int idx);
	int (*run)(struct job *j, int idx, uint64_t *count);
	int (*teardown)(struct job *j, int idx);
	/* In the caller, may be NULL: every worker is set up (just before
	 * the start); every worker has finished its timed part. */
	void (*ready)(struct job *j);
	void (*live)(struct job *j);
};

struct job_total {
	uint64_t count;		/* operations of all workers */
	double secs;		/* first start to last end */
	double rate;		/* count / secs */
	int err;		/* 0, or the first worker's error */
};

/* Run j in n forked processes.  0, or -1 if a worker failed (out->err). */
int procs_run(struct job *j, int n, struct job_total *out);

/* Run j in n threads of this process. */
int threads_run(struct job *j, int n, struct job_total *out);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_PROCS_H */
