/*
 * bench_heap.c - the shared heap with many processes.
 *
 * 1, 2 and 4 processes each keep a window of 1000 live blocks and then
 * free a random one and allocate a new one for a fixed time
 * (bench_window.c), on two size mixes, against:
 *   poolmgr   every process its own connection and handle to one fresh
 *             pool, client caches on (the default) and off;
 *   Boost     one managed_shared_memory segment (bench_boost.cpp);
 *   glibc, mimalloc   the same loop in each process on its private heap.
 * Plus 2 threads on one poolmgr handle in one process.  The result is
 * alloc+free pairs per second, all processes together: the median of a
 * few runs (env.heap_runs), each with its own setup, so that a burst of
 * other work on the machine moves one run and not the table.
 *
 * For poolmgr at 4 processes, in the last run, the daemon's utime+stime
 * is read before the start and after the last worker's end (CPU per
 * pair), and the pool's committed bytes with every window live, after the
 * clients have freed everything and gone, and after pool_trim.
 */
#include <stdio.h>
#include <string.h>

#include "bench_inproc.h"
#include "bench_peer.h"
#include "bench_pool.h"
#include "bench_procs.h"
#include "bench_speed.h"

#define HEAP_POOL "heap"
#define MAX_WORKERS 4

const int proc_counts[NCOUNTS] = { 1, 2, 4 };

struct heap_job {
	struct env *e;
	enum mix mix;
	bool poolmgr, cache;
	bool one_handle;	/* threads sharing the caller's handle */
	struct heap_ops ops;	/* the in-process heap */
	struct pm shared;
	struct pm m[MAX_WORKERS];
	struct window w[MAX_WORKERS];
	double cpu0, cpu1;
	uint64_t blocks0, blocks1;	/* the daemon's allocs + frees */
	struct cpu cpu;
	uint64_t blocks, pairs;	/* the last run's daemon blocks and pairs */
	struct mem mem;
};

static int
heap_setup(struct job *j, int idx)
{
	struct heap_job *h = j->arg;
	struct heap_ops ops = h->ops;
	int rc;

	if (h->poolmgr && h->one_handle) {
		pm_heap_ops(&h->shared, &ops);
	} else if (h->poolmgr) {
		rc = pm_open(&h->m[idx], h->e->sock, HEAP_POOL, h->cache);
		if (rc != 0)
			return rc;
		pm_heap_ops(&h->m[idx], &ops);
	}
	window_init(&h->w[idx], &ops, h->mix, h->e->seed, (uint64_t)idx);
	return window_fill(&h->w[idx]);
}

static int
heap_loop(struct job *j, int idx, uint64_t *count)
{
	struct heap_job *h = j->arg;

	return window_run(&h->w[idx], h->e->heap_secs, count);
}

static int
heap_teardown(struct job *j, int idx)
{
	struct heap_job *h = j->arg;
	int rc = window_drain(&h->w[idx]);

	if (h->poolmgr && !h->one_handle)
		pm_close(&h->m[idx]);
	return rc;
}

/* Blocks the daemon allocated and freed in the pool so far. */
static uint64_t
daemon_blocks(struct env *e)
{
	struct pool_stats st;

	if (pool_stats_by_name(e->admin, HEAP_POOL, &st) != 0)
		return 0;
	return st.allocs + st.frees;
}

static uint64_t
committed(struct env *e, uint64_t *cached)
{
	struct pool_stats st;

	if (pool_stats_by_name(e->admin, HEAP_POOL, &st) != 0)
		return 0;
	if (cached)
		*cached = st.client_cached_bytes;
	return st.committed_bytes;
}

static void
heap_ready(struct job *j)
{
	struct heap_job *h = j->arg;

	if (h->poolmgr) {
		h->cpu0 = proc_cpu_sec(h->e->daemon);
		h->blocks0 = daemon_blocks(h->e);
	}
}

static void
heap_live(struct job *j)
{
	struct heap_job *h = j->arg;

	if (!h->poolmgr)
		return;
	h->cpu1 = proc_cpu_sec(h->e->daemon);
	h->blocks1 = daemon_blocks(h->e);
	h->mem.live = committed(h->e, &h->mem.cached);
}

/* One run of the job in n workers: pairs/s, or -1. */
static double
heap_once(struct heap_job *h, int n, bool threads)
{
	struct job j = {
		.arg = h, .setup = heap_setup, .run = heap_loop,
		.teardown = heap_teardown, .ready = heap_ready,
		.live = heap_live,
	};
	struct job_total t;
	int rc;

	rc = threads ? threads_run(&j, n, &t) : procs_run(&j, n, &t);
	if (rc != 0) {
		fprintf(stderr, "bench: shared heap (%s, %d %s): %s\n",
			mix_name(h->mix), n, threads ? "threads" : "processes",
			pool_strerror(t.err));
		return -1;
	}
	if (h->poolmgr && h->cpu0 >= 0 && h->cpu1 >= 0)
		h->cpu = (struct cpu){ .secs = h->cpu1 - h->cpu0,
				       .work = t.count };
	if (h->poolmgr) {
		h->blocks = h->blocks1 - h->blocks0;
		h->pairs = t.count;
	}
	return t.rate;
}

/* The median of the cell's runs; CPU and memory are the last run's. */
static double
heap_cell(struct heap_job *h, int n, bool threads)
{
	double rates[8];
	int runs = h->e->heap_runs < 8 ? h->e->heap_runs : 8;

	for (int i = 0; i < runs; i++)
		if ((rates[i] = heap_once(h, n, threads)) < 0)
			return -1;
	return median(rates, runs);
}

/* One poolmgr cell on a fresh pool; fills cpu and mem when given. */
static double
pm_cell(struct env *e, enum mix m, int n, bool cache, bool threads,
	struct cpu *cpu, struct mem *mem, double *blocks)
{
	struct heap_job h = { .e = e, .mix = m, .poolmgr = true,
			      .cache = cache, .one_handle = threads,
			      .cpu = { .secs = -1 } };
	double rate = -1;
	int rc;

	if ((rc = pm_create(e->admin, HEAP_POOL)) != 0) {
		fprintf(stderr, "bench: create pool: %s\n", pool_strerror(rc));
		return -1;
	}
	if (threads)
		rc = pm_open(&h.shared, e->sock, HEAP_POOL, cache);
	if (rc == 0)
		rate = heap_cell(&h, n, threads);
	if (threads && rc == 0)
		pm_close(&h.shared);
	if (cpu)
		*cpu = h.cpu;
	if (blocks)
		*blocks = rate >= 0 && h.pairs > 0 ?
			(double)h.blocks / (double)h.pairs : -1;
	if (mem && rate >= 0) {
		*mem = h.mem;
		mem->freed = committed(e, NULL);
		pool_trim_by_name(e->admin, HEAP_POOL, NULL);
		mem->trimmed = committed(e, NULL);
		mem->ok = true;
	}
	pm_destroy(e->admin, HEAP_POOL);
	return rate;
}

static double
inproc_cell(struct env *e, enum mix m, int n, const struct heap_ops *ops)
{
	struct heap_job h = { .e = e, .mix = m, .ops = *ops };

	return heap_cell(&h, n, false);
}

/* Every heap at one process count; at the last, CPU and memory too. */
/* Boost's runs, as heap_cell's. */
static double
boost_cell(struct env *e, enum mix m, int n, struct mem *mem, char *note,
	   size_t len)
{
	double rates[8];
	int runs = e->heap_runs < 8 ? e->heap_runs : 8;

	for (int i = 0; i < runs; i++)
		if (boost_run(e, m, n, &rates[i], mem, note, len) != 0)
			return -1;
	return median(rates, runs);
}

static void
heap_count(struct env *e, struct results *r, enum mix m, int k,
	   const struct heap_ops *glibc, const struct heap_ops *mi)
{
	double (*rate)[NCOUNTS] = r->rate[m];
	bool last = k == NCOUNTS - 1;
	int n = proc_counts[k];
	struct mem scratch;

	fprintf(stderr, "  shared heap, %s, %d process%s\n", mix_name(m), n,
		n > 1 ? "es" : "");
	rate[H_PM_ON][k] = pm_cell(e, m, n, true, false,
		last ? &r->pair_cpu[m][0] : NULL,
		last ? &r->mem_pm[m][0] : NULL, NULL);
	rate[H_PM_OFF][k] = pm_cell(e, m, n, false, false,
		last ? &r->pair_cpu[m][1] : NULL,
		last ? &r->mem_pm[m][1] : NULL, NULL);
	rate[H_BOOST][k] = boost_cell(e, m, n,
				      last ? &r->mem_boost[m] : &scratch,
				      r->boost_note, sizeof r->boost_note);
	rate[H_GLIBC][k] = inproc_cell(e, m, n, glibc);
	rate[H_MIMALLOC][k] = mi ? inproc_cell(e, m, n, mi) : -1;
}

void
heap_run(struct env *e, struct results *r)
{
	struct heap_ops glibc, mi;
	bool have_mi = mimalloc_load(r->mi_note, sizeof r->mi_note);

	glibc_heap_ops(&glibc);
	mimalloc_heap_ops(&mi);
	for (int m = 0; m < MIX_COUNT; m++) {
		for (int k = 0; k < NCOUNTS; k++)
			heap_count(e, r, (enum mix)m, k, &glibc,
				   have_mi ? &mi : NULL);
		fprintf(stderr, "  shared heap, %s, 2 threads\n",
			mix_name((enum mix)m));
		r->threads[m][0] = pm_cell(e, (enum mix)m, 2, true, true,
					   NULL, NULL, NULL);
		r->threads[m][1] = pm_cell(e, (enum mix)m, 2, false, true,
					   NULL, NULL, NULL);
	}
}

void
heap_threads_run(struct env *e, struct results *r)
{
	for (int m = 0; m < MIX_COUNT; m++) {
		fprintf(stderr, "  shared heap, %s, 2 processes and 2 threads, "
			"caches on\n", mix_name((enum mix)m));
		r->rate[m][H_PM_ON][1] = pm_cell(e, (enum mix)m, 2, true,
			false, NULL, NULL, &r->thread_blocks[m][0]);
		r->threads[m][0] = pm_cell(e, (enum mix)m, 2, true, true,
			NULL, NULL, &r->thread_blocks[m][1]);
	}
}
