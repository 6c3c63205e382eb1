/*
 * bench_alloc_wait.c - a producer meeting a full pool: waiting for room
 * (pool_alloc_wait) against polling with pool_alloc (make bench).
 *
 * One real daemon, one pool per frame size (64 KiB, 1 MiB) of FRAMES
 * frames (default 4; the pool's limit makes it exactly that many).  Per
 * row a fresh pair of processes, each on its own connection, client
 * cache off: the producer allocates frames as fast as the pool lets it
 * and writes each offset down a pipe; the consumer reads one, spins WORK
 * microseconds (default 200: the "work"), takes the time and frees it.
 * A handle may free only blocks it holds, so the producer hands each
 * frame over as the library allows without a reply from the consumer:
 * it persists it (the pool's reference) and drops its own, and the
 * consumer's free drops the pool's, which gives the room back.  So a
 * frame costs four requests however it was got: Alloc, Persist, Free,
 * Free; but for the last row, whose frames are persistent from their
 * allocation (POOL_ALLOC_PERSIST): Alloc, Free.
 *
 * How the producer gets a frame when the pool is full is the row:
 *
 *   wait        pool_alloc_wait with timeout -1: the daemon holds the
 *               request and tries it again when room is made
 *   wait, persistent from the start
 *               the same with POOL_ALLOC_PERSIST: no Persist, no Free
 *               of the producer's own
 *   sleep 1ms   pool_alloc; on -ENOMEM sleep 1 ms and ask again
 *   yield       pool_alloc; on -ENOMEM sched_yield and ask again at once
 *   backoff     pool_alloc; on -ENOMEM sleep 50 us, doubled after each
 *               refusal up to 10 ms, back to 50 us after a success
 *
 * The pool holds FRAMES frames, the consumer frees them in the order they
 * came, so frame i (counting from 0) can only be had once the consumer has
 * freed frame i - FRAMES.  Each frame's "room to frame" time is from the
 * later of that free (CLOCK_MONOTONIC, taken just before pool_free, kept
 * in memory both processes share) and the moment the producer began to
 * ask for frame i, to its allocation's success: how long room lay unused
 * while the producer wanted it.  "stalled" is the share of frames whose
 * room came only after the producer began to ask.
 *
 * A second table is of small frames (256 B), the consumer working
 * --cached-work-us microseconds a frame (default 0): in a pool of 16 MiB
 * that the frames in the pipe never fill, and in one of 512 KiB (2048
 * frames, refills of 2) that they keep full, the consumer working 20 us
 * more.  The producer gets each with pool_alloc_wait, its cache off, or
 * on (the library's default budget) as against a daemon without
 * features bit 14 (no refill for an allocation that waits: an Alloc
 * each, as before AllocBatch.behind_waits), or on as it is (a refill
 * behind those waiting, of up to 64 frames).  Printed: frames a second,
 * the producer's requests per frame (its connection's, counted in the
 * library) and, of them, its allocations' (all but its Persist and
 * Free), the daemon's refusals per frame, and CPU.
 *
 * Printed per row (SECONDS each, default 3): frames a second, room to
 * frame median, 99th percentile, worst and how many took over 1 ms, the
 * daemon's CPU time (/proc/PID/stat) as a share of the row's time and per
 * frame, the producer's and consumer's CPU time (their own clocks) as a share of the
 * row's time, the requests the daemon answered (DaemonStats) per frame
 * and how many of them it refused per frame.
 *
 * Usage: bench_alloc_wait [--poolmgrd PATH] [--frames N] [--work-us U]
 *                         [--seconds S] [--cached-work-us U]
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_util.h"
#include "client_internal.h"	/* the "before" rows' features */
#include "poolclient.h"

/* Frames a row may count; a row that gets this far ends early. */
#define MAX_FRAMES (1u << 20)

#define BACKOFF_FIRST_NS 50000ull
#define BACKOFF_LAST_NS 10000000ull

enum how { WAIT, SLEEP_1MS, YIELD, BACKOFF, WAIT_PERSIST, HOW_COUNT,
	   /* the small frames' rows, after the others */
	   WAIT_CACHED_BEFORE = HOW_COUNT, WAIT_CACHED, HOW_ALL };

static const char *const how_name[HOW_ALL] = {
	"wait (pool_alloc_wait, -1)",
	"poll, sleep 1 ms",
	"poll, sched_yield",
	"poll, backoff 50 us..10 ms",
	"wait, persistent from the start",
	"wait, cache on, before (no refill)",
	"wait, cache on (refills behind waits)",
};

/*
 * The small frames' pools: refills of up to 64 frames (1/1024 of it) in
 * one the pipe never fills, of 2 in one it keeps full.
 */
#define SMALL_FRAME 256
#define SMALL_CACHE ((size_t)4 << 20)	/* the library's default budget */
#define SMALL_FULL_WORK 20	/* us more a frame: the pool stays full */

static const struct small_pool {
	const char *name, *what;
	uint64_t size;
	unsigned work_more;
} small_pools[] = {
	{ "f256", "16 MiB, never full", (uint64_t)16 << 20, 0 },
	{ "f256full", "512 KiB, kept full", (uint64_t)512 << 10,
	  SMALL_FULL_WORK },
};
#define SMALL_POOLS (sizeof small_pools / sizeof small_pools[0])
#define SMALL_HOWS 3

/* What the parent and one row's two children share. */
struct shared {
	volatile int ready, go, stop, failed;
	uint64_t frames;		/* the producer's, while !stop */
	uint64_t producer_requests;	/* its connection's, go to stop */
	uint64_t stalled;
	double producer_cpu, consumer_cpu;	/* seconds, go to stop */
	uint64_t free_ns[MAX_FRAMES];	/* consumer: just before each free */
	uint32_t lat_ns[MAX_FRAMES];	/* producer: room to frame */
};

/* One frame handed down the pipe. */
struct handed {
	uint64_t seq;
	pool_off_t off;
};

struct row {
	size_t frame;
	enum how how;
	double secs, fps, p50_us, p99_us, worst_us, stalled;
	double daemon_cpu, producer_cpu, consumer_cpu;
	uint64_t requests, refused, over_1ms, producer_requests;
	unsigned work_more;	/* us a frame the consumer works more */
	const char *pool_what;
	bool ok;
};

static unsigned nframes = 4;
static unsigned work_us = 200;
static unsigned cached_work_us = 0;
static unsigned row_work_us;	/* the consumer's, this row */
static double seconds = 3;

static double
cpu_self_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull),
			       (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

/* A connection and a handle on the pool with its cache off; 0 or -1. */
static int
open_frames(const char *sock, const char *pool, struct pool_conn **c,
	    struct pool **p)
{
	int rc;

	if ((rc = pool_connect(sock, c)) == 0 &&
	    (rc = pool_open(*c, pool, p)) == 0)
		rc = pool_set_cache(*p, 0);
	if (rc != 0)
		fprintf(stderr, "bench_alloc_wait: pool %s: %s\n", pool,
			pool_strerror(rc));
	return rc;
}

/* One frame, got the row's way; 0 or a negative errno. */
static int
get_frame(struct pool *p, size_t size, enum how how, uint64_t *backoff,
	  pool_off_t *off)
{
	int rc;

	if (how == WAIT || how == WAIT_CACHED || how == WAIT_CACHED_BEFORE)
		return pool_alloc_wait(p, size, 0, 0, -1, off);
	if (how == WAIT_PERSIST)
		return pool_alloc_wait(p, size, 0, POOL_ALLOC_PERSIST, -1,
				       off);
	while ((rc = pool_alloc(p, size, off)) == -ENOMEM) {
		switch (how) {
		case SLEEP_1MS:
			sleep_ns(1000000);
			break;
		case YIELD:
			sched_yield();
			break;
		default:
			sleep_ns(*backoff);
			if ((*backoff *= 2) > BACKOFF_LAST_NS)
				*backoff = BACKOFF_LAST_NS;
			break;
		}
	}
	if (rc == 0)
		*backoff = BACKOFF_FIRST_NS;
	return rc;
}

/*
 * The producer: frames as fast as the pool lets it, until told to stop;
 * then it closes the pipe, and the consumer frees what is left.
 */
static void
producer_run(const char *sock, const char *pool, size_t size, enum how how,
	     struct shared *sh, int out_fd)
{
	uint64_t i, ask, ok, room, backoff = BACKOFF_FIRST_NS, id0;
	struct pool_conn *c;
	struct pool *p;
	struct handed h;
	double cpu0;
	int rc;

	if (open_frames(sock, pool, &c, &p) != 0 ||
	    ((how == WAIT_CACHED || how == WAIT_CACHED_BEFORE) &&
	    pool_set_cache(p, SMALL_CACHE) != 0)) {
		sh->failed = 1;
		_exit(1);
	}
	/* The library as against a daemon that cannot put refills behind. */
	if (how == WAIT_CACHED_BEFORE)
		c->features &= ~CONN_FEATURE_BATCH_BEHIND;
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!sh->go)
		usleep(100);
	cpu0 = cpu_self_sec();
	id0 = c->next_id;	/* a request each */
	for (i = 0; !sh->stop && i < MAX_FRAMES; i++) {
		ask = now_ns();
		if ((rc = get_frame(p, size, how, &backoff, &h.off)) != 0) {
			fprintf(stderr, "bench_alloc_wait: producer: %s\n",
				pool_strerror(rc));
			sh->failed = 1;
			break;
		}
		ok = now_ns();
		if (how != WAIT_PERSIST &&
		    ((rc = pool_persist(p, h.off)) != 0 ||
		     (rc = pool_free(p, h.off)) != 0)) {
			fprintf(stderr, "bench_alloc_wait: handing over: %s\n",
				pool_strerror(rc));
			sh->failed = 1;
			break;
		}
		if (i >= nframes) {
			room = __atomic_load_n(&sh->free_ns[i - nframes],
					       __ATOMIC_ACQUIRE);
			if (room > ask)
				sh->stalled++;
			else
				room = ask;
			sh->lat_ns[i - nframes] = (uint32_t)(ok - room);
		}
		h.seq = i;
		if (write(out_fd, &h, sizeof h) != (ssize_t)sizeof h) {
			sh->failed = 1;
			break;
		}
	}
	sh->frames = i;
	sh->producer_requests = c->next_id - id0;
	sh->producer_cpu = cpu_self_sec() - cpu0;
	close(out_fd);
	pool_close(p);
	pool_disconnect(c);
	_exit(0);
}

static void
spin_us(unsigned us)
{
	uint64_t end = now_ns() + (uint64_t)us * 1000;

	while (now_ns() < end)
		;
}

/* The consumer: each frame read is worked on, then freed, until EOF. */
static void
consumer_run(const char *sock, const char *pool, struct shared *sh,
	     int in_fd)
{
	struct pool_conn *c;
	struct pool *p;
	struct handed h;
	double cpu0 = 0;
	bool timing = false;
	int rc;

	if (open_frames(sock, pool, &c, &p) != 0) {
		sh->failed = 1;
		_exit(1);
	}
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (read(in_fd, &h, sizeof h) == (ssize_t)sizeof h) {
		if (!timing && sh->go) {
			cpu0 = cpu_self_sec();
			timing = true;
		}
		spin_us(row_work_us);
		if (h.seq < MAX_FRAMES)
			__atomic_store_n(&sh->free_ns[h.seq], now_ns(),
					 __ATOMIC_RELEASE);
		if ((rc = pool_free(p, h.off)) != 0) {
			fprintf(stderr, "bench_alloc_wait: consumer: %s\n",
				pool_strerror(rc));
			sh->failed = 1;
			break;
		}
		if (timing && sh->stop && sh->consumer_cpu == 0)
			sh->consumer_cpu = cpu_self_sec() - cpu0;
	}
	if (sh->consumer_cpu == 0)
		sh->consumer_cpu = cpu_self_sec() - cpu0;
	pool_close(p);
	pool_disconnect(c);
	_exit(0);
}

/*
 * Wait for a child to end; one still there after 10 s (its partner
 * failed: a producer waiting for room nobody will free) is killed.
 * 0 if it exited with 0.
 */
static int
reap(pid_t pid)
{
	double t0 = now_sec();
	int st;

	int rc;

	while ((rc = waitpid(pid, &st, WNOHANG)) == 0) {
		if (now_sec() - t0 > 10) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(1000);
	}
	return rc == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int
daemon_counts(struct pool_conn *c, uint64_t *requests, uint64_t *refused)
{
	struct pool_daemon_stats ds;

	if (pool_daemon_stats(c, &ds) != 0)
		return -1;
	*requests = ds.requests_total;
	*refused = ds.requests_refused;
	return 0;
}

static int
run_row(const struct daemon *d, struct pool_conn *c, const char *pool,
	struct shared *sh, struct row *r)
{
	uint64_t req0 = 0, ref0 = 0, req1 = 0, ref1 = 0;
	double cpu0, cpu1, t0;
	pid_t prod = -1, cons;
	int fds[2], bad = 0;
	uint64_t n, i;

	memset(sh, 0, offsetof(struct shared, free_ns));
	row_work_us = (r->frame == SMALL_FRAME ? cached_work_us : work_us) +
	    r->work_more;
	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	if ((cons = fork()) == 0) {
		close(fds[1]);
		consumer_run(d->sock, pool, sh, fds[0]);
	}
	if (cons > 0 && (prod = fork()) == 0) {
		close(fds[0]);
		producer_run(d->sock, pool, r->frame, r->how, sh, fds[1]);
	}
	close(fds[0]);
	close(fds[1]);
	if (cons < 0 || prod < 0)
		return -1;
	t0 = now_sec();
	while (sh->ready < 2 && !sh->failed && now_sec() - t0 < 10)
		usleep(1000);
	if (sh->ready < 2) {
		sh->stop = 1;
		reap(prod);
		reap(cons);
		return -1;
	}
	if (daemon_counts(c, &req0, &ref0) != 0)
		bad = 1;
	cpu0 = proc_cpu_sec(d->pid);
	t0 = now_sec();
	sh->go = 1;
	usleep((useconds_t)(seconds * 1e6));
	sh->stop = 1;
	r->secs = now_sec() - t0;
	cpu1 = proc_cpu_sec(d->pid);
	if (daemon_counts(c, &req1, &ref1) != 0)
		bad = 1;
	bad |= reap(prod) | reap(cons);
	if (bad || sh->failed || sh->frames <= nframes)
		return -1;
	n = sh->frames - nframes;
	for (i = 0; i < n; i++)
		r->over_1ms += sh->lat_ns[i] > 1000000;
	r->fps = (double)sh->frames / r->secs;
	r->p50_us = quantile(sh->lat_ns, n, 0.5) / 1e3;
	r->p99_us = quantile(sh->lat_ns, n, 0.99) / 1e3;
	r->worst_us = quantile(sh->lat_ns, n, 1.0) / 1e3;
	r->stalled = (double)sh->stalled / (double)n;
	r->daemon_cpu = (cpu1 - cpu0) / r->secs;
	r->producer_cpu = sh->producer_cpu / r->secs;
	r->consumer_cpu = sh->consumer_cpu / r->secs;
	/* Less the DaemonStats request that read the first count. */
	r->requests = req1 - req0 - 1;
	r->producer_requests = sh->producer_requests;
	r->refused = ref1 - ref0;
	r->ok = true;
	return 0;
}

/* A pool of nframes frames of size bytes, its limit at exactly that. */
static int
make_pool(struct pool_conn *c, const char *name, size_t size)
{
	struct pool_create_opts o = {
		.max_size = (uint64_t)size * (nframes + 1),
		.retain = POOL_RETAIN_NONE,
	};
	struct pool_set_opts s = {
		.which = POOL_SET_LIMIT,
		.limit = (uint64_t)size * nframes,
	};

	if (pool_create(c, name, &o) != 0 || pool_set(c, name, &s) != 0)
		return -1;
	return 0;
}

/* How many frames the pool really takes before -ENOMEM. */
static unsigned
frames_fit(struct pool_conn *c, const char *name, size_t size)
{
	pool_off_t offs[64];
	struct pool *p;
	unsigned n = 0, i;

	if (pool_open(c, name, &p) != 0 || pool_set_cache(p, 0) != 0)
		return 0;
	while (n < 64 && pool_alloc(p, size, &offs[n]) == 0)
		n++;
	for (i = 0; i < n; i++)
		pool_free(p, offs[i]);
	pool_close(p);
	return n;
}

static void
print_rows(const struct row *rows, size_t n)
{
	size_t i;

	printf("\n%u frames fit in each pool; the consumer works %u us a "
	       "frame; %.0f s a row; load average %.2f\n", nframes, work_us,
	       seconds, load_avg());
	printf("| frame | producer | frames/s | stalled | room to frame "
	       "p50 us | p99 us | worst us | over 1 ms | daemon CPU | daemon us/frame | "
	       "producer CPU | consumer CPU | requests/frame | "
	       "refused/frame |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	       "---:|---:|\n");
	for (i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		const char *f = r->frame >= (1u << 20) ? "1 MiB" : "64 KiB";
		double frames;

		if (!r->ok) {
			printf("| %s | %s | failed ||||||||||||\n", f,
			       how_name[r->how]);
			continue;
		}
		frames = r->fps * r->secs;
		printf("| %s | %s | %.0f | %.0f %% | %.1f | %.1f | %.0f | %llu | "
		       "%.0f %% | %.1f | %.0f %% | %.0f %% | %.2f | %.2f |\n",
		       f, how_name[r->how], r->fps, r->stalled * 100,
		       r->p50_us, r->p99_us, r->worst_us,
		       (unsigned long long)r->over_1ms, r->daemon_cpu * 100,
		       r->daemon_cpu * 1e6 / r->fps, r->producer_cpu * 100,
		       r->consumer_cpu * 100, (double)r->requests / frames,
		       (double)r->refused / frames);
	}
}

/* The small frames: their own table, the allocations' requests apart. */
static void
print_small_rows(const struct row *rows, size_t n)
{
	size_t i;

	printf("\n%u B frames; the consumer works %u us a frame (%u more in "
	       "the pool kept full); %.0f s a row\n", SMALL_FRAME,
	       cached_work_us, SMALL_FULL_WORK, seconds);
	printf("| pool | producer | frames/s | producer requests/frame | "
	       "allocation requests/frame | refused/frame | daemon CPU | "
	       "producer CPU | consumer CPU |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		double frames = r->fps * r->secs, per;

		if (!r->ok) {
			printf("| %s | %s | failed |||||||\n", r->pool_what,
			       how_name[r->how]);
			continue;
		}
		per = (double)r->producer_requests / frames;
		/* All but its Persist and Free of each frame. */
		printf("| %s | %s | %.0f | %.2f | %.3f | %.3f | %.0f %% | "
		       "%.0f %% | %.0f %% |\n", r->pool_what, how_name[r->how],
		       r->fps, per, per - 2,
		       (double)r->refused / frames, r->daemon_cpu * 100,
		       r->producer_cpu * 100, r->consumer_cpu * 100);
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "poolmgrd", required_argument, NULL, 'p' },
		{ "frames", required_argument, NULL, 'n' },
		{ "work-us", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ "cached-work-us", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *pool;
		size_t size;
	} kinds[] = { { "f64k", 64u << 10 }, { "f1m", 1u << 20 } };
	static const enum how small_hows[SMALL_HOWS] = {
		WAIT, WAIT_CACHED_BEFORE, WAIT_CACHED };
	struct pool_create_opts small = { .retain = POOL_RETAIN_NONE };
	struct row rows[2 * HOW_COUNT], small_rows[SMALL_POOLS * SMALL_HOWS];
	size_t m = 0, j;
	const char *bin = "build/poolmgrd";
	struct pool_conn *c = NULL;
	struct shared *sh;
	struct daemon d;
	unsigned fit;
	size_t k, i, n = 0;
	int opt, h, rc = 1;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'p')
			bin = optarg;
		else if (opt == 'n')
			nframes = (unsigned)strtoul(optarg, NULL, 0);
		else if (opt == 'w')
			work_us = (unsigned)strtoul(optarg, NULL, 0);
		else if (opt == 's')
			seconds = strtod(optarg, NULL);
		else if (opt == 'c')
			cached_work_us = (unsigned)strtoul(optarg, NULL, 0);
		else {
			fprintf(stderr, "usage: bench_alloc_wait [--poolmgrd "
				"PATH] [--frames N] [--work-us U] "
				"[--seconds S] [--cached-work-us U]\n");
			return 2;
		}
	}
	if (nframes < 1 || nframes > 64 || seconds <= 0) {
		fprintf(stderr, "bench_alloc_wait: frames 1..64, seconds > 0\n");
		return 2;
	}
	sh = shared_alloc(sizeof *sh);
	if (daemon_start(&d, bin) != 0) {
		fprintf(stderr, "bench_alloc_wait: cannot start %s\n", bin);
		return 1;
	}
	if (pool_connect(d.sock, &c) != 0)
		goto out;
	for (k = 0; k < 2; k++) {
		if (make_pool(c, kinds[k].pool, kinds[k].size) != 0 ||
		    (fit = frames_fit(c, kinds[k].pool, kinds[k].size)) !=
		    nframes) {
			fprintf(stderr, "bench_alloc_wait: pool %s does not "
				"hold exactly %u frames\n", kinds[k].pool,
				nframes);
			goto out;
		}
		for (h = 0; h < HOW_COUNT; h++, n++) {
			rows[n] = (struct row){ .frame = kinds[k].size,
						.how = (enum how)h };
			if (run_row(&d, c, kinds[k].pool, sh, &rows[n]) != 0)
				fprintf(stderr, "bench_alloc_wait: %s, %s "
					"failed\n", kinds[k].pool, how_name[h]);
		}
	}
	for (k = 0; k < SMALL_POOLS; k++) {
		const struct small_pool *sp = &small_pools[k];

		small.max_size = sp->size;
		if (pool_create(c, sp->name, &small) != 0) {
			fprintf(stderr, "bench_alloc_wait: pool %s not made\n",
				sp->name);
			goto out;
		}
		for (j = 0; j < SMALL_HOWS; j++, m++) {
			small_rows[m] = (struct row){
				.frame = SMALL_FRAME, .how = small_hows[j],
				.work_more = sp->work_more,
				.pool_what = sp->what };
			if (run_row(&d, c, sp->name, sh, &small_rows[m]) != 0)
				fprintf(stderr, "bench_alloc_wait: %s, %s "
					"failed\n", sp->name,
					how_name[small_hows[j]]);
		}
	}
	print_rows(rows, n);
	print_small_rows(small_rows, m);
	for (i = 0; i < n; i++)
		if (!rows[i].ok)
			goto out;
	for (i = 0; i < m; i++)
		if (!small_rows[i].ok)
			goto out;
	rc = 0;
out:
	if (c)
		pool_disconnect(c);
	daemon_stop(&d);
	shared_free(sh, sizeof *sh);
	return rc;
}
