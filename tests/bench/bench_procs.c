/*
 * bench_procs.c - workers as processes (pipes carry the start and finish
 * signals down and the reports up) or as threads (barriers).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_procs.h"
#include "bench_util.h"

#define MAX_WORKERS 64
#define REPORT_TIMEOUT_MS 120000	/* a worker that hangs ends the run */

/* What a worker sends up: once when set up, once when timed. */
struct report {
	int idx;
	int err;
	uint64_t count;
	double t0, t1;
};

static void
total_add(struct job_total *t, const struct report *r, double *t0,
	  double *t1)
{
	t->count += r->count;
	if (r->err != 0 && t->err == 0)
		t->err = r->err;
	if (r->t0 < *t0)
		*t0 = r->t0;
	if (r->t1 > *t1)
		*t1 = r->t1;
}

static void
total_end(struct job_total *t, double t0, double t1)
{
	t->secs = t1 > t0 ? t1 - t0 : 0;
	t->rate = t->secs > 0 ? (double)t->count / t->secs : 0;
}

/* ------------------------------------------------------------ processes */

static int
write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (timeout_ms >= 0 && poll(&pfd, 1, timeout_ms) == 0)
			return -1;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
worker_main(struct job *j, int idx, int up, int down)
{
	struct report r = { .idx = idx };
	char c;

	r.err = j->setup ? j->setup(j, idx) : 0;
	if (write_full(up, &r, sizeof r) != 0 || read_full(down, &c, 1, -1))
		_exit(3);
	if (r.err == 0) {
		r.t0 = now_sec();
		r.err = j->run(j, idx, &r.count);
		r.t1 = now_sec();
	}
	if (write_full(up, &r, sizeof r) != 0 || read_full(down, &c, 1, -1))
		_exit(3);
	if (j->teardown != NULL) {
		int rc = j->teardown(j, idx);

		if (rc != 0)
			fprintf(stderr, "bench: worker %d: teardown: %d\n",
				idx, rc);
	}
	_exit(r.err == 0 ? 0 : 1);
}

/* Read one report from each of n workers; -1 if one did not come. */
static int
collect(int up, int n, struct job_total *t, double *t0, double *t1)
{
	for (int i = 0; i < n; i++) {
		struct report r;

		if (read_full(up, &r, sizeof r, REPORT_TIMEOUT_MS) != 0)
			return -1;
		total_add(t, &r, t0, t1);
	}
	return 0;
}

static int
signal_all(int down, int n)
{
	char go[MAX_WORKERS];

	memset(go, 'g', sizeof go);
	return write_full(down, go, (size_t)n);
}

int
procs_run(struct job *j, int n, struct job_total *out)
{
	pid_t pids[MAX_WORKERS];
	int up[2], down[2], rc = 0, started = 0;
	double t0 = 1e300, t1 = 0;
	struct job_total ready = { 0 };

	memset(out, 0, sizeof *out);
	if (n < 1 || n > MAX_WORKERS || pipe(up) != 0)
		return -1;
	if (pipe(down) != 0) {
		close(up[0]), close(up[1]);
		return -1;
	}
	fflush(NULL);
	for (; started < n; started++) {
		pids[started] = fork();
		if (pids[started] == 0) {
			close(up[0]), close(down[1]);
			worker_main(j, started, up[1], down[0]);
		}
		if (pids[started] < 0)
			break;
	}
	close(up[1]), close(down[0]);
	if (started < n) {
		rc = -1;
		goto reap;
	}
	/* Set up: the setup error, if any, travels in ready.err. */
	if (collect(up[0], n, &ready, &t0, &t1) != 0) {
		rc = -1;
		goto reap;
	}
	t0 = 1e300, t1 = 0;
	if (j->ready)
		j->ready(j);
	if (signal_all(down[1], n) != 0 ||
	    collect(up[0], n, out, &t0, &t1) != 0) {
		rc = -1;
		goto reap;
	}
	total_end(out, t0, t1);
	if (ready.err != 0)
		out->err = ready.err;
	if (j->live)
		j->live(j);
	if (signal_all(down[1], n) != 0)
		rc = -1;
reap:
	if (rc != 0)
		for (int i = 0; i < started; i++)
			kill(pids[i], SIGKILL);
	close(down[1]);
	for (int i = 0; i < started; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 &&
				       WEXITSTATUS(st) != 1))
			rc = -1;
	}
	close(up[0]);
	if (rc == 0 && out->err != 0)
		rc = -1;
	if (rc != 0 && out->err == 0)
		out->err = -ECHILD;
	return rc;
}

/* -------------------------------------------------------------- threads */

struct thread_arg {
	struct job *j;
	int idx;
	pthread_barrier_t *bar;
	struct report r;
};

static void *
thread_main(void *arg)
{
	struct thread_arg *a = arg;
	struct job *j = a->j;

	a->r.idx = a->idx;
	a->r.err = j->setup ? j->setup(j, a->idx) : 0;
	pthread_barrier_wait(a->bar);	/* set up */
	pthread_barrier_wait(a->bar);	/* go */
	if (a->r.err == 0) {
		a->r.t0 = now_sec();
		a->r.err = j->run(j, a->idx, &a->r.count);
		a->r.t1 = now_sec();
	}
	pthread_barrier_wait(a->bar);	/* timed part done */
	pthread_barrier_wait(a->bar);	/* live hook done */
	if (j->teardown != NULL)
		j->teardown(j, a->idx);
	return NULL;
}

int
threads_run(struct job *j, int n, struct job_total *out)
{
	struct thread_arg args[MAX_WORKERS];
	pthread_t tids[MAX_WORKERS];
	pthread_barrier_t bar;
	double t0 = 1e300, t1 = 0;

	memset(out, 0, sizeof *out);
	if (n < 1 || n > MAX_WORKERS ||
	    pthread_barrier_init(&bar, NULL, (unsigned)n + 1) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		args[i] = (struct thread_arg){ .j = j, .idx = i, .bar = &bar };
		if (pthread_create(&tids[i], NULL, thread_main, &args[i])) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(2);
		}
	}
	pthread_barrier_wait(&bar);
	if (j->ready)
		j->ready(j);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	for (int i = 0; i < n; i++)
		total_add(out, &args[i].r, &t0, &t1);
	total_end(out, t0, t1);
	if (j->live)
		j->live(j);
	pthread_barrier_wait(&bar);
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&bar);
	return out->err == 0 ? 0 : -1;
}
