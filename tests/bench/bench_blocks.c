/*
 * bench_blocks.c - what listing a pool's blocks (ListBlocks: `poolctl
 * blocks`, pool_blocks) costs the one who lists and every other client
 * (make bench).
 *
 * One real daemon.  This process fills pool "big" with N blocks of 64 B
 * (default 10^6, in batches of 4096), and a child process holds 3 blocks
 * of its own there, so that a listing by the child's pid keeps 3 blocks
 * of N + 3: the filter's worst case, every page passing over thousands of
 * blocks it does not keep.  A prober process makes 64-byte alloc+free
 * round trips on a pool of its own without pause (client cache off).
 * Each row runs for SECONDS (default 3) while the prober's round trips
 * are kept:
 *
 *   nothing     the prober alone: its baseline
 *   stats       this process asks pool_stats of "big" in a loop: the
 *               cheapest request about a pool, the baseline of a client
 *               asking as fast as it can
 *   list all    pool_blocks from offset 0 until done, again and again
 *   list pid    the same with the child's pid
 *
 * Printed per row: full listings made, pages and blocks per listing, ms
 * per listing and us per request (the lister's round trip), and the
 * prober's round trips: median, 99.9th percentile, worst.
 *
 * Usage: bench_blocks [--poolmgrd PATH] [--blocks N] [--seconds S]
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_probe.h"
#include "bench_util.h"
#include "poolclient.h"

#define BATCH 4096

enum what { NOTHING, STATS, LIST_ALL, LIST_PID };

struct row {
	const char *name;
	enum what what;
	unsigned passes;		/* full listings (or stats asked) */
	uint64_t pages, blocks;		/* over all passes */
	double seconds;
	uint32_t p50, p999, worst;	/* prober, microseconds */
	uint32_t samples;
	bool ok;
};

static size_t nblocks = 1000000;
static double seconds = 3;

/* The child: 3 blocks of "big" held until its stdin closes. */
static void
holder_run(const char *sock, int ready_fd, int stay_fd)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	char b;
	int i;

	if (pool_connect(sock, &c) || pool_open(c, "big", &p) ||
	    pool_set_cache(p, 0))
		_exit(1);
	for (i = 0; i < 3; i++)
		if (pool_alloc(p, 64, &off))
			_exit(1);
	if (write(ready_fd, "", 1) != 1)
		_exit(1);
	while (read(stay_fd, &b, 1) > 0)
		;
	_exit(0);
}

/* N blocks of 64 B in p, a batch at a time. */
static int
fill(struct pool *p, size_t n)
{
	static size_t sizes[BATCH];
	static pool_off_t offs[BATCH];
	size_t i, k;

	for (i = 0; i < BATCH; i++)
		sizes[i] = 64;
	for (i = 0; i < n; i += k) {
		k = n - i < BATCH ? n - i : BATCH;
		if (pool_alloc_batch(p, k, sizes, offs) != 0)
			return -1;
	}
	return 0;
}

/* One full listing of "big": 0, or -1. */
static int
list_once(struct pool_conn *c, uint32_t pid, struct row *r)
{
	struct pool_block_info *b;
	uint64_t from = 0;
	size_t n;
	int done = 0;

	while (!done) {
		if (pool_blocks(c, "big", pid, 0, &from, &b, &n, &done) != 0)
			return -1;
		free(b);
		r->pages++;
		r->blocks += n;
	}
	return 0;
}

static int
run_row(struct pool_conn *c, struct probe *pr, pid_t holder, struct row *r)
{
	struct pool_stats st;
	double t0;
	int rc = 0;

	pr->n = 0;
	pr->watch = 1;
	t0 = now_sec();
	while (rc == 0 && now_sec() - t0 < seconds) {
		switch (r->what) {
		case NOTHING:
			usleep(10000);
			continue;
		case STATS:
			rc = pool_stats_by_name(c, "big", &st);
			r->pages++;
			break;
		case LIST_ALL:
			rc = list_once(c, 0, r);
			break;
		case LIST_PID:
			rc = list_once(c, (uint32_t)holder, r);
			break;
		}
		r->passes++;
	}
	r->seconds = now_sec() - t0;
	pr->watch = 0;
	if (rc != 0 || pr->failed)
		return -1;
	r->samples = pr->n;
	r->p50 = quantile(pr->us, pr->n, 0.5);
	r->p999 = quantile(pr->us, pr->n, 0.999);
	r->worst = quantile(pr->us, pr->n, 1.0);
	r->ok = true;
	return 0;
}

static void
print_rows(const struct row *rows, size_t n)
{
	size_t i;

	printf("\n%zu blocks of 64 B in the pool, 3 of them a child's; "
	       "%.0f s a row; load average %.2f\n", nblocks + 3, seconds,
	       load_avg());
	printf("| what runs | listings | pages a listing | blocks a "
	       "listing | ms a listing | us a request | prober p50 us | "
	       "p99.9 us | worst us |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		if (!r->ok) {
			printf("| %s | failed |||||||\n", r->name);
			continue;
		}
		if (r->what == NOTHING)
			printf("| %s | | | | | |", r->name);
		else if (r->what == STATS)
			printf("| %s | | | | | %.1f |", r->name,
			       r->seconds * 1e6 / (double)r->pages);
		else
			printf("| %s | %u | %.0f | %.0f | %.1f | %.1f |",
			       r->name, r->passes,
			       (double)r->pages / r->passes,
			       (double)r->blocks / r->passes,
			       r->seconds * 1e3 / r->passes,
			       r->seconds * 1e6 / (double)r->pages);
		printf(" %u | %u | %u |\n", r->p50, r->p999, r->worst);
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "poolmgrd", required_argument, NULL, 'p' },
		{ "blocks", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct row rows[] = {
		{ .name = "nothing (the prober alone)", .what = NOTHING },
		{ .name = "stats of the pool, in a loop", .what = STATS },
		{ .name = "list all blocks, in a loop", .what = LIST_ALL },
		{ .name = "list the child's 3 blocks (by pid), in a loop",
		  .what = LIST_PID },
	};
	struct pool_create_opts big_o = {.max_size = 1ull << 30};
	struct pool_create_opts probe_o = {.max_size = 16ull << 20};
	const char *bin = "build/poolmgrd";
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct probe *pr;
	struct daemon d;
	pid_t prober = -1, holder = -1;
	int ready[2], stay[2], opt, st, rc = 1;
	size_t i;
	char b;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'p')
			bin = optarg;
		else if (opt == 'n')
			nblocks = strtoull(optarg, NULL, 0);
		else if (opt == 's')
			seconds = strtod(optarg, NULL);
		else {
			fprintf(stderr, "usage: bench_blocks [--poolmgrd PATH] "
				"[--blocks N] [--seconds S]\n");
			return 2;
		}
	}
	if (!(pr = shared_alloc(PROBE_BYTES)) || daemon_start(&d, bin) != 0) {
		fprintf(stderr, "bench_blocks: cannot start %s\n", bin);
		return 1;
	}
	if (pool_connect(d.sock, &c) || pool_create(c, "big", &big_o) ||
	    pool_create(c, "probe", &probe_o) || pool_open(c, "big", &p) ||
	    pool_set_cache(p, 0) || fill(p, nblocks) ||
	    pipe(ready) || pipe(stay)) {
		fprintf(stderr, "bench_blocks: cannot set the pools up\n");
		goto out;
	}
	fflush(NULL);
	if ((holder = fork()) == 0) {
		close(ready[0]);
		close(stay[1]);
		holder_run(d.sock, ready[1], stay[0]);
	}
	close(ready[1]);
	close(stay[0]);
	if (holder < 0 || read(ready[0], &b, 1) != 1) {
		fprintf(stderr, "bench_blocks: the holder did not start\n");
		goto out;
	}
	if ((prober = fork()) == 0)
		probe_run(d.sock, pr);
	while (!pr->ready)
		usleep(1000);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (run_row(c, pr, holder, &rows[i]) != 0)
			fprintf(stderr, "bench_blocks: %s failed\n",
				rows[i].name);
	print_rows(rows, sizeof(rows) / sizeof(rows[0]));
	rc = 0;
out:
	pr->stop = 1;
	if (prober > 0)
		waitpid(prober, &st, 0);
	if (holder > 0) {
		close(stay[1]);
		waitpid(holder, &st, 0);
	}
	if (p)
		pool_close(p);
	if (c)
		pool_disconnect(c);
	daemon_stop(&d);
	shared_free(pr, PROBE_BYTES);
	return rc;
}
