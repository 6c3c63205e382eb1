/*
 * bench_release.c - what one client's big free, its death holding a
 * million blocks, or the idle trim of a pool that kept a gigabyte of free
 * pages, costs every other client (make bench).
 *
 * Giving a freed block's pages back to the OS (a hole punched in the
 * memfd) costs the kernel time in proportion to the pages.  Three daemons
 * run one after the other in one run: release_step = 0, where the free's
 * request punches the whole block out before the daemon serves anyone else
 * (the baseline), the default release_step (1M) and 4M, where the daemon
 * punches a step per loop turn between other requests
 * (daemon/pool_release.c).  In each, a
 * prober process makes 64-byte alloc+free round trips without pause
 * (client cache off, its own pool) while this process allocates a big
 * block, writes every page and frees it, ROUNDS times.  Printed per
 * daemon: the big free's own reply time, how long its pages took to leave
 * the memfd (mincore on our mapping), and the prober's round trips over the
 * whole run: median, 99.9th percentile and worst.
 *
 * Then two more daemons, drop_step = 0 (a closed handle drops all its
 * references inside one loop turn: the baseline) and the default 4096 per
 * turn: a client allocates NDEATH 64-byte blocks and is killed, ROUNDS
 * times, and the prober's round trips are kept from just before each kill
 * until a second after it.
 *
 * Last, release_step = 0 and the default again, with idle_trim = 1: this
 * process fills a pool that keeps up to 2 GiB of free pages for reuse
 * (retain) with BIG bytes of 64 KiB blocks, writes and frees them all,
 * ROUNDS times, and waits without a request until the idle trim has
 * punched them out; the prober's round trips are kept from the last free
 * until 100 ms after the pages are gone.
 *
 * Usage: bench_release [--quick] [--poolmgrd PATH]
 * Exit status: 0, 1 if a measurement failed, 2 if it could not run.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_util.h"
#include "poolclient.h"

#define MiB (1024ull * 1024)
#define MAX_SAMPLES (4u << 20)	/* prober round trips kept */
#define NROWS 3

struct probe {
	volatile int stop;
	volatile int ready;
	volatile int failed;
	volatile int watch;	/* keep round-trip times only while set */
	uint32_t n;
	uint32_t us[];		/* round-trip times, microseconds */
};

struct row {
	const char *name;
	double free_ms, gone_ms;	/* medians over the rounds */
	uint32_t p50, p999, worst;	/* prober, microseconds */
	uint32_t samples;
	bool ok;
};

static uint64_t big = 1024 * MiB;
static int rounds = 5;
static size_t ndeath = 1000000;

/* The prober: round trips until told to stop. */
static void
probe_run(const char *sock, struct probe *pr)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	if (pool_connect(sock, &c) || pool_open(c, "probe", &p) ||
	    pool_set_cache(p, 0)) {
		pr->failed = 1;
		pr->ready = 1;
		_exit(1);
	}
	pr->ready = 1;
	while (!pr->stop && pr->n < MAX_SAMPLES) {
		uint64_t t = now_ns();

		if (pool_alloc(p, 64, &off) || pool_free(p, off)) {
			pr->failed = 1;
			break;
		}
		if (pr->watch)
			pr->us[pr->n++] = (uint32_t)((now_ns() - t) / 1000);
	}
	pool_close(p);
	pool_disconnect(c);
	_exit(0);
}

/* Resident pages of [p, p + len) in the memfd, or -1. */
static long
resident(void *p, size_t len, unsigned char *vec)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page;
	long k = 0;

	if (mincore(p, len, vec) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		k += vec[i] & 1;
	return k;
}

static int
measure(const char *bin, const char *extra, struct row *row)
{
	struct pool_create_opts big_o = {.max_size = big + 64 * MiB};
	struct pool_create_opts probe_o = {.max_size = 16 * MiB};
	size_t bytes = sizeof(struct probe) + MAX_SAMPLES * sizeof(uint32_t);
	struct probe *pr = shared_alloc(bytes);
	unsigned char *vec = malloc(big / 4096 + 1);
	double free_ms[16], gone_ms[16];
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct daemon d;
	pid_t kid = -1;
	int r, st, err = -1;

	if (!pr || !vec || daemon_start_conf(&d, bin, extra) != 0) {
		fprintf(stderr, "bench_release: cannot start %s\n", bin);
		free(vec);
		return -1;
	}
	if (pool_connect(d.sock, &c) || pool_create(c, "big", &big_o) ||
	    pool_create(c, "probe", &probe_o) || pool_open(c, "big", &p))
		goto out;
	fflush(NULL);
	if ((kid = fork()) == 0)
		probe_run(d.sock, pr);
	while (!pr->ready)
		usleep(1000);
	if (pr->failed)
		goto out;
	pr->watch = 1;
	for (r = 0; r < rounds; r++) {
		pool_off_t off;
		double t;
		void *m;
		long left;

		if (pool_alloc(p, big, &off))
			goto out;
		m = pool_ptr(p, off);
		memset(m, r + 1, big);
		t = now_sec();
		if (pool_free(p, off))
			goto out;
		free_ms[r] = (now_sec() - t) * 1e3;
		while ((left = resident(m, big, vec)) > 0 &&
		       now_sec() - t < 30)
			usleep(5000);
		if (left != 0)
			goto out;
		gone_ms[r] = (now_sec() - t) * 1e3;
		usleep(50 * 1000);
	}
	err = 0;
out:
	pr->stop = 1;
	if (kid > 0)
		waitpid(kid, &st, 0);
	if (pr->failed)
		err = -1;
	if (err == 0) {
		row->free_ms = median(free_ms, rounds);
		row->gone_ms = median(gone_ms, rounds);
		row->samples = pr->n;
		row->p50 = quantile(pr->us, pr->n, 0.5);
		row->p999 = quantile(pr->us, pr->n, 0.999);
		row->worst = quantile(pr->us, pr->n, 1.0);
		row->ok = true;
	}
	if (p)
		pool_close(p);
	if (c)
		pool_disconnect(c);
	daemon_stop(&d);
	shared_free(pr, bytes);
	free(vec);
	return err;
}

/* A client that allocates ndeath 64-byte blocks, says so, and waits. */
static void
hold_many(const char *sock, volatile int *ready)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	struct pool_conn *c;
	struct pool *p;

	for (size_t i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	if (pool_connect(sock, &c) || pool_open(c, "many", &p) ||
	    pool_set_cache(p, 0))
		_exit(1);
	for (size_t done = 0; done < ndeath; done += POOL_BATCH_MAX)
		if (pool_alloc_batch(p, POOL_BATCH_MAX, sizes, offs))
			_exit(1);
	*ready = 1;
	pause();
	_exit(0);
}

/* The prober's round trips from just before each kill to a second after. */
static int
measure_death(const char *bin, const char *extra, struct row *row)
{
	struct pool_create_opts many_o = {.max_size = 256 * MiB};
	struct pool_create_opts probe_o = {.max_size = 16 * MiB};
	size_t bytes = sizeof(struct probe) + MAX_SAMPLES * sizeof(uint32_t);
	struct probe *pr = shared_alloc(bytes);
	volatile int *ready = shared_alloc(sizeof(int));
	struct pool_conn *c = NULL;
	struct daemon d;
	pid_t kid = -1;
	int r, st, err = -1;

	if (!pr || !ready || daemon_start_conf(&d, bin, extra) != 0) {
		fprintf(stderr, "bench_release: cannot start %s\n", bin);
		return -1;
	}
	if (pool_connect(d.sock, &c) || pool_create(c, "many", &many_o) ||
	    pool_create(c, "probe", &probe_o))
		goto out;
	fflush(NULL);
	if ((kid = fork()) == 0)
		probe_run(d.sock, pr);
	while (!pr->ready)
		usleep(1000);
	for (r = 0; r < rounds && !pr->failed; r++) {
		struct pool_stats ps;
		pid_t holder;

		*ready = 0;
		if ((holder = fork()) == 0)
			hold_many(d.sock, ready);
		while (!*ready && waitpid(holder, &st, WNOHANG) == 0)
			usleep(1000);
		if (!*ready)
			goto out;
		pr->watch = 1;
		usleep(10 * 1000);
		kill(holder, SIGKILL);
		waitpid(holder, &st, 0);
		usleep(1000 * 1000);
		pr->watch = 0;
		/* Settles the pool: every block must be gone. */
		if (pool_stats_by_name(c, "many", &ps) || ps.live_blocks)
			goto out;
	}
	err = pr->failed ? -1 : 0;
out:
	pr->stop = 1;
	if (kid > 0)
		waitpid(kid, &st, 0);
	if (err == 0) {
		row->samples = pr->n;
		row->p50 = quantile(pr->us, pr->n, 0.5);
		row->p999 = quantile(pr->us, pr->n, 0.999);
		row->worst = quantile(pr->us, pr->n, 1.0);
		row->ok = true;
	}
	if (c)
		pool_disconnect(c);
	daemon_stop(&d);
	shared_free(pr, bytes);
	shared_free((void *)ready, sizeof(int));
	return err;
}

/* One round of measure_idle: fill, write, free, wait for the idle trim. */
static int
idle_round(struct pool *p, struct probe *pr, unsigned char *vec,
	   double *gone_ms)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	size_t n = big / (64 * 1024), k, i;
	uint8_t *base = pool_ptr(p, 0);
	pool_off_t *all = malloc(n * sizeof(*all));
	double t;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64 * 1024;
	for (i = 0; all && i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		if (pool_alloc_batch(p, k, sizes, offs))
			goto fail;
		memcpy(all + i, offs, k * sizeof(*offs));
	}
	for (i = 0; all && i < n; i++)
		memset(base + all[i], (int)i, 64 * 1024);
	for (i = 0; all && i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		if (pool_free_batch(p, k, all + i))
			goto fail;
	}
	if (!all || resident(base, big, vec) < (long)(big / 4096 / 2))
		goto fail;	/* the pool should have kept them */
	pr->watch = 1;
	t = now_sec();
	while (resident(base, big, vec) > 0 && now_sec() - t < 30)
		usleep(5000);
	*gone_ms = (now_sec() - t) * 1e3;
	usleep(100 * 1000);
	pr->watch = 0;
	free(all);
	return resident(base, big, vec) == 0 ? 0 : -1;
fail:
	free(all);
	return -1;
}

/* The prober's round trips while an idle pool gives back what it kept. */
static int
measure_idle(const char *bin, const char *extra, struct row *row)
{
	struct pool_create_opts kept_o = {.max_size = big + 64 * MiB,
					  .retain = 2048 * MiB};
	struct pool_create_opts probe_o = {.max_size = 16 * MiB};
	size_t bytes = sizeof(struct probe) + MAX_SAMPLES * sizeof(uint32_t);
	struct probe *pr = shared_alloc(bytes);
	unsigned char *vec = malloc(big / 4096 + 1);
	double gone_ms[16];
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct daemon d;
	pid_t kid = -1;
	int r, st, err = -1;

	if (!pr || !vec || daemon_start_conf(&d, bin, extra) != 0) {
		fprintf(stderr, "bench_release: cannot start %s\n", bin);
		free(vec);
		return -1;
	}
	if (pool_connect(d.sock, &c) || pool_create(c, "kept", &kept_o) ||
	    pool_create(c, "probe", &probe_o) || pool_open(c, "kept", &p) ||
	    pool_set_cache(p, 0))
		goto out;
	fflush(NULL);
	if ((kid = fork()) == 0)
		probe_run(d.sock, pr);
	while (!pr->ready)
		usleep(1000);
	for (r = 0; r < rounds && !pr->failed; r++)
		if (idle_round(p, pr, vec, &gone_ms[r]))
			goto out;
	err = pr->failed ? -1 : 0;
out:
	pr->stop = 1;
	if (kid > 0)
		waitpid(kid, &st, 0);
	if (err == 0) {
		row->gone_ms = median(gone_ms, rounds);
		row->samples = pr->n;
		row->p50 = quantile(pr->us, pr->n, 0.5);
		row->p999 = quantile(pr->us, pr->n, 0.999);
		row->worst = quantile(pr->us, pr->n, 1.0);
		row->ok = true;
	}
	if (p)
		pool_close(p);
	if (c)
		pool_disconnect(c);
	daemon_stop(&d);
	shared_free(pr, bytes);
	free(vec);
	return err;
}

static void
measure_idles(const char *bin, int *failed)
{
	struct row rows[2] = {
		{ .name = "release_step = 0 (trimmed inside one loop turn)" },
		{ .name = "release_step = 1M (the default)" },
	};
	const char *extra[2] = { "idle_trim = 1\nrelease_step = 0\n",
				 "idle_trim = 1\n" };

	for (int i = 0; i < 2; i++)
		if (measure_idle(bin, extra[i], &rows[i]) != 0)
			*failed = 1;
	printf("\n## A pool keeps %llu MiB of written, freed 64 KiB blocks "
	       "until its idle trim (idle_trim = 1), %d times; another client "
	       "makes 64 B round trips meanwhile (kept from the last free to "
	       "100 ms after the pages are gone)\n\n",
	       (unsigned long long)(big / MiB), rounds);
	printf("| daemon | pages gone after | other client: median | 99.9 %% "
	       "| worst | round trips |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < 2; i++) {
		if (!rows[i].ok) {
			printf("| %s | n/a | n/a | n/a | n/a | n/a |\n",
			       rows[i].name);
			continue;
		}
		printf("| %s | %.0f ms | %u us | %u us | %.1f ms | %u |\n",
		       rows[i].name, rows[i].gone_ms, rows[i].p50,
		       rows[i].p999, rows[i].worst / 1000.0, rows[i].samples);
	}
}

static void
measure_deaths(const char *bin, int *failed)
{
	struct row rows[2] = {
		{ .name = "drop_step = 0 (all inside one loop turn)" },
		{ .name = "drop_step = 4096 (the default)" },
	};
	const char *extra[2] = { "drop_step = 0\n", "" };

	for (int i = 0; i < 2; i++)
		if (measure_death(bin, extra[i], &rows[i]) != 0)
			*failed = 1;
	printf("\n## A client holding %zu blocks of 64 B is killed, %d times; "
	       "another makes 64 B alloc+free round trips meanwhile (kept "
	       "from just before each kill to 1 s after)\n\n", ndeath,
	       rounds);
	printf("| daemon | other client: median | 99.9 %% | worst | "
	       "round trips |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (int i = 0; i < 2; i++) {
		if (!rows[i].ok) {
			printf("| %s | n/a | n/a | n/a | n/a |\n",
			       rows[i].name);
			continue;
		}
		printf("| %s | %u us | %u us | %.1f ms | %u |\n",
		       rows[i].name, rows[i].p50, rows[i].p999,
		       rows[i].worst / 1000.0, rows[i].samples);
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "poolmgrd", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct row rows[NROWS] = {
		{ .name = "release_step = 0 (punched inside the free)" },
		{ .name = "release_step = 1M (the default)" },
		{ .name = "release_step = 4M" },
	};
	const char *extra[NROWS] = {
		"release_step = 0\n", "", "release_step = 4M\n",
	};
	char bin[PATH_MAX], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int c, failed = 0;

	self[n > 0 ? n : 0] = '\0';
	snprintf(bin, sizeof bin, "%s/../poolmgrd", dirname(self));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': big = 256 * MiB; rounds = 3; ndeath = 250000; break;
		case 'p': snprintf(bin, sizeof bin, "%s", optarg); break;
		default:
			fprintf(stderr, "usage: bench_release [--quick] "
				"[--poolmgrd PATH]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < NROWS; i++)
		if (measure(bin, extra[i], &rows[i]) != 0)
			failed = 1;

	printf("\n## One client frees a %llu MiB block (written), %d times; "
	       "another makes 64 B alloc+free round trips meanwhile\n\n",
	       (unsigned long long)(big / MiB), rounds);
	printf("| daemon | free's reply | pages gone after | other client: "
	       "median | 99.9 %% | worst | round trips |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < NROWS; i++) {
		if (!rows[i].ok) {
			printf("| %s | n/a | n/a | n/a | n/a | n/a | n/a |\n",
			       rows[i].name);
			continue;
		}
		printf("| %s | %.1f ms | %.1f ms | %u us | %u us | %.1f ms "
		       "| %u |\n", rows[i].name, rows[i].free_ms,
		       rows[i].gone_ms, rows[i].p50, rows[i].p999,
		       rows[i].worst / 1000.0, rows[i].samples);
	}
	measure_deaths(bin, &failed);
	measure_idles(bin, &failed);
	printf("\nload average %.2f at the end.\n", load_avg());
	return failed;
}
