/*
 * bench_speed.c - the end-to-end benchmark of poolmgr (make bench): the
 * socket floor against poolmgr's round trip, the shared heap with many
 * processes against Boost.Interprocess and the in-process allocators, the
 * daemon's CPU per request and the pool's memory, printed as tables with
 * the goals beside the results, and the shared-heap numbers written to a
 * data file for the plot.
 *
 * It starts its own poolmgrd (the one built beside it) on a temporary
 * socket and creates a fresh pool for each measurement.
 *
 * Usage: bench_speed [--quick] [--threads] [--seconds S] [--seed N]
 *                    [--data FILE] [--poolmgrd PATH] [--boost PATH]
 * --threads measures only 2 processes against 2 threads on one handle,
 * caches on, with the daemon's blocks per pair.
 * Exit status: 0, 1 if a measurement failed, 2 if it could not run.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_pool.h"
#include "bench_speed.h"

/* Runs of each shared-heap cell; their median goes into the table. */
#define HEAP_RUNS 3

struct opts {
	double secs;
	uint64_t seed;
	const char *data;
	bool threads;		/* only the threads against processes */
	char poolmgrd[PATH_MAX];
	char boost[PATH_MAX];
};

static void
usage(void)
{
	fprintf(stderr, "usage: bench_speed [--quick] [--threads] "
		"[--seconds S] [--seed N] [--data FILE] [--poolmgrd PATH] "
		"[--boost PATH]\n");
	exit(2);
}

/* Defaults: the programs built beside this one. */
static void
default_paths(struct opts *o)
{
	char self[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n < 0)
		n = 0;
	self[n] = '\0';
	dir = dirname(self);
	snprintf(o->poolmgrd, sizeof o->poolmgrd, "%s/../poolmgrd", dir);
	snprintf(o->boost, sizeof o->boost, "%s/bench_boost", dir);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "threads", no_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ "data", required_argument, NULL, 'd' },
		{ "poolmgrd", required_argument, NULL, 'p' },
		{ "boost", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .secs = 2.0, .seed = 42 };
	default_paths(o);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': o->secs = 0.2; break;
		case 't': o->threads = true; break;
		case 's': o->secs = atof(optarg); break;
		case 'r': o->seed = strtoull(optarg, NULL, 0); break;
		case 'd': o->data = optarg; break;
		case 'p': snprintf(o->poolmgrd, sizeof o->poolmgrd, "%s",
				   optarg); break;
		case 'b': snprintf(o->boost, sizeof o->boost, "%s", optarg);
			  break;
		default: usage();
		}
	}
	if (optind != argc || !(o->secs > 0))
		usage();
}

static void
results_init(struct results *r)
{
	memset(r, 0, sizeof *r);
	r->echo_cpu.secs = r->pm_cpu.secs = -1;
	for (int m = 0; m < MIX_COUNT; m++) {
		for (int h = 0; h < H_COUNT; h++)
			for (int k = 0; k < NCOUNTS; k++)
				r->rate[m][h][k] = -1;
		for (int c = 0; c < 2; c++) {
			r->threads[m][c] = -1;
			r->pair_cpu[m][c].secs = -1;
		}
	}
}

/* Any cell that should have been measured and was not. */
static bool
any_failed(const struct results *r)
{
	if (!r->echo[0].ok || !r->echo[1].ok || !r->pm[0].ok || !r->pm[1].ok)
		return true;
	for (int m = 0; m < MIX_COUNT; m++)
		for (int h = 0; h < H_COUNT; h++)
			for (int k = 0; k < NCOUNTS; k++)
				if (r->rate[m][h][k] < 0)
					return true;
	return false;
}

int
main(int argc, char **argv)
{
	static struct results r;
	struct daemon d;
	struct opts o;
	struct env e;
	double t0 = now_sec();
	int rc;

	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	results_init(&r);
	report_machine();

	if (daemon_start(&d, o.poolmgrd) != 0) {
		fprintf(stderr, "bench: cannot start %s\n", o.poolmgrd);
		return 2;
	}
	e = (struct env){ .sock = d.sock, .daemon = d.pid,
			  .boost_bin = o.boost, .floor_secs = o.secs,
			  .heap_secs = o.secs / HEAP_RUNS,
			  .heap_runs = HEAP_RUNS, .seed = o.seed };
	r.heap_secs = e.heap_secs;
	r.heap_runs = e.heap_runs;
	if ((rc = pool_connect(e.sock, &e.admin)) != 0) {
		fprintf(stderr, "bench: connect: %s\n", pool_strerror(rc));
		daemon_stop(&d);
		return 2;
	}
	if (getenv("POOLMGR_CLIENT_CACHE") != NULL)
		printf("Client caches on: $POOLMGR_CLIENT_CACHE=%s per "
		       "handle.\n\n", getenv("POOLMGR_CLIENT_CACHE"));
	else
		printf("Client caches on: libpoolclient's default budget per "
		       "handle.\n\n");

	if (o.threads) {
		fprintf(stderr, "bench_speed: threads\n");
		heap_threads_run(&e, &r);
		report_threads(&r);
		pool_disconnect(e.admin);
		daemon_stop(&d);
		printf("%.1f s in all; load average %.2f at the end.\n",
		       now_sec() - t0, load_avg());
		return r.rate[MIX_SMALL][H_PM_ON][1] < 0 ||
		    r.threads[MIX_SMALL][0] < 0 ||
		    r.rate[MIX_LARGE][H_PM_ON][1] < 0 ||
		    r.threads[MIX_LARGE][0] < 0 ? 1 : 0;
	}
	fprintf(stderr, "bench_speed: floor\n");
	floor_run(&e, &r);
	report_floor(&r);
	fprintf(stderr, "bench_speed: shared heap\n");
	heap_run(&e, &r);
	report_heap(&r);
	report_cpu(&r);
	report_memory(&r);
	report_goals(&r);

	pool_disconnect(e.admin);
	daemon_stop(&d);
	if (o.data != NULL && report_data(&r, o.data) != 0)
		return 1;
	printf("%.1f s in all; load average %.2f at the end.\n",
	       now_sec() - t0, load_avg());
	return any_failed(&r) ? 1 : 0;
}
