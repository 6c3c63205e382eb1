/*
 * bench_floor.c - the floor and poolmgr's single-block round trip.
 *
 * Floor: 1 and 4 client processes send a 16-byte request to the echo
 * server (bench_echo.c) and wait for the reply, again and again for a
 * fixed time.  Beside it the same clients against poolmgrd, each request
 * a pool_alloc of 64 B or the pool_free of that block, with the client
 * cache off, so each is one round trip.  Every request is timed alone:
 * p50 and p99 of all of them, and requests per second in all.  The 4-client
 * runs also read each server's utime+stime from /proc before and after:
 * server CPU per request at saturation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_echo.h"
#include "bench_pool.h"
#include "bench_procs.h"
#include "bench_speed.h"

#define FLOOR_POOL "floor"
#define FLOOR_BLOCK 64
#define WARMUP 200
#define MAX_CLIENTS 4
#define SAMPLE_CAP (4u << 20)	/* per client */

struct floor_job {
	struct env *e;
	bool echo;		/* else poolmgr */
	pid_t server;
	uint32_t *samples;	/* shared: SAMPLE_CAP per client, ns */
	uint64_t *nsamples;	/* shared: per client */
	double cpu0, cpu1;
	/* the worker's own (each is its own process) */
	int fd;
	struct pm m;
};

static int
floor_setup(struct job *j, int idx)
{
	struct floor_job *f = j->arg;
	char msg[ECHO_MSG] = { 0 }, reply[ECHO_MSG];
	pool_off_t off;
	int rc;

	(void)idx;
	if (f->echo) {
		if ((f->fd = echo_connect(f->e->echo_sock)) < 0)
			return -errno;
		for (int i = 0; i < WARMUP; i++)
			if (echo_call(f->fd, msg, reply) != 0)
				return -EPROTO;
		return 0;
	}
	rc = pm_open(&f->m, f->e->sock, FLOOR_POOL, false);
	for (int i = 0; i < WARMUP && rc == 0; i++)
		if ((rc = pool_alloc(f->m.p, FLOOR_BLOCK, &off)) == 0)
			rc = pool_free(f->m.p, off);
	return rc;
}

/* Time one request into the client's sample slice. */
#define TIMED(f, idx, n, call, rc)					\
	do {								\
		uint64_t t_ = now_ns();					\
		(rc) = (call);						\
		t_ = now_ns() - t_;					\
		if ((n) < SAMPLE_CAP)					\
			(f)->samples[(size_t)(idx) * SAMPLE_CAP + (n)] =\
				t_ > UINT32_MAX ? UINT32_MAX : (uint32_t)t_;\
		(n)++;							\
	} while (0)

static int
floor_loop(struct job *j, int idx, uint64_t *count)
{
	struct floor_job *f = j->arg;
	double end = now_sec() + f->e->floor_secs;
	char msg[ECHO_MSG] = { 1 }, reply[ECHO_MSG];
	uint64_t n = 0;
	pool_off_t off;
	int rc = 0;

	while (rc == 0 && now_sec() < end) {
		if (f->echo) {
			TIMED(f, idx, n, echo_call(f->fd, msg, reply), rc);
			continue;
		}
		TIMED(f, idx, n, pool_alloc(f->m.p, FLOOR_BLOCK, &off), rc);
		if (rc == 0)
			TIMED(f, idx, n, pool_free(f->m.p, off), rc);
	}
	f->nsamples[idx] = n < SAMPLE_CAP ? n : SAMPLE_CAP;
	*count = n;
	return rc;
}

static int
floor_teardown(struct job *j, int idx)
{
	struct floor_job *f = j->arg;

	(void)idx;
	if (f->echo)
		close(f->fd);
	else
		pm_close(&f->m);
	return 0;
}

static void
floor_ready(struct job *j)
{
	struct floor_job *f = j->arg;

	f->cpu0 = proc_cpu_sec(f->server);
}

static void
floor_done(struct job *j)
{
	struct floor_job *f = j->arg;

	f->cpu1 = proc_cpu_sec(f->server);
}

/* Gather every client's samples into one run and take the quantiles. */
static void
floor_quantiles(struct floor_job *f, int n, struct lat *l)
{
	size_t all = 0;

	for (int i = 0; i < n; i++) {
		memmove(f->samples + all, f->samples + (size_t)i * SAMPLE_CAP,
			f->nsamples[i] * sizeof *f->samples);
		all += f->nsamples[i];
	}
	l->p50 = quantile(f->samples, all, 0.50) / 1e3;
	l->p99 = quantile(f->samples, all, 0.99) / 1e3;
}

/* One cell, and the server's CPU over it. */
static void
floor_cell(struct floor_job *f, int clients, struct lat *l, struct cpu *c)
{
	struct job j = {
		.arg = f, .setup = floor_setup, .run = floor_loop,
		.teardown = floor_teardown, .ready = floor_ready,
		.live = floor_done,
	};
	struct job_total t;

	memset(f->nsamples, 0, MAX_CLIENTS * sizeof *f->nsamples);
	if (procs_run(&j, clients, &t) != 0) {
		fprintf(stderr, "bench: floor (%s, %d clients): %s\n",
			f->echo ? "echo" : "poolmgr", clients,
			pool_strerror(t.err));
		l->ok = false;
		return;
	}
	l->rate = t.rate;
	l->ok = true;
	floor_quantiles(f, clients, l);
	if (c != NULL && f->cpu0 >= 0 && f->cpu1 >= 0)
		*c = (struct cpu){ .secs = f->cpu1 - f->cpu0, .work = t.count };
}

void
floor_run(struct env *e, struct results *r)
{
	size_t bytes = (size_t)MAX_CLIENTS * SAMPLE_CAP * sizeof(uint32_t);
	struct floor_job f = { .e = e };
	int rc;

	f.samples = shared_alloc(bytes);
	f.nsamples = shared_alloc(MAX_CLIENTS * sizeof *f.nsamples);

	snprintf(e->echo_sock, sizeof e->echo_sock, "%s.echo", e->sock);
	f.echo = true;
	if ((f.server = echo_start(e->echo_sock)) < 0) {
		fprintf(stderr, "bench: the echo server did not start\n");
	} else {
		floor_cell(&f, 1, &r->echo[0], NULL);
		floor_cell(&f, MAX_CLIENTS, &r->echo[1], &r->echo_cpu);
		echo_stop(f.server);
	}

	f.echo = false;
	f.server = e->daemon;
	if ((rc = pm_create(e->admin, FLOOR_POOL)) != 0) {
		fprintf(stderr, "bench: create pool: %s\n", pool_strerror(rc));
	} else {
		floor_cell(&f, 1, &r->pm[0], NULL);
		floor_cell(&f, MAX_CLIENTS, &r->pm[1], &r->pm_cpu);
		pm_destroy(e->admin, FLOOR_POOL);
	}
	shared_free(f.samples, bytes);
	shared_free(f.nsamples, MAX_CLIENTS * sizeof *f.nsamples);
}
