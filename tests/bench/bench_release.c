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
 * the memfd (mincore on our mapping), and the prober's round trips from
 * just before each free to 100 ms after its pages are gone (not while
 * this process writes the next block, when the daemon is idle): median,
 * 99.9th percentile and worst.
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
 * The same with an explicit trim (pool_trim) right after the last free,
 * release_step = 0 against the default: the trim's reply comes when the
 * pages are gone either way; in steps nobody else waits for it.
 *
 * Then the big free again, release_step = 0 against the default, but each
 * free followed at once by a Stats request of the same client (as an
 * operator's `poolctl stats` would be): the stats may show nothing under
 * way, so it waits for the release (daemon/dispatch.c); what matters is
 * that nobody else waits with it.  Printed: the free's and the stats'
 * reply times together.
 *
 * And the destroy of a pool nobody maps, holding BIG written bytes in a
 * persisted block, ROUNDS times, release_step = 0 (the memfd closed at
 * once on the daemon's thread, which frees its pages there) against the
 * default (closed on a thread of its own, daemon/closer.c); the prober's
 * round trips kept from just before each destroy to a second after.
 *
 * And a move the daemon makes itself, release_step = 0 (the whole copy
 * inside the request) against the default (release_step bytes copied per
 * loop turn, this client's request held meanwhile): a written 256 MiB
 * block with a MiB allocated right after it is grown to 300 MiB, ROUNDS
 * times, in a pool whose quota cannot hold the old and the new block at
 * once, so that libpoolclient asks the daemon to move it instead of
 * copying it in the caller (client/realloc.c, client_move).  Printed: the
 * realloc's reply time, how long the old place's pages took to leave the
 * memfd (from the realloc's start) and the prober's round trips, kept
 * from just before each realloc to 100 ms after the old place is gone.
 *
 * Then the same move of a block of 3 GiB (768 MiB with --quick), which
 * takes the daemon longer than settle_wait_ms (2 s) in steps, while a
 * third client asks for the pool's stats 50 ms into each move: the stats
 * waits for the move queued before it, and nobody else may wait with it
 * (a daemon that finished the copy at once for a request that had waited
 * 2 s held everyone for the rest of it).  Printed: the realloc's and the
 * stats' reply times.
 *
 * Last, a trim of a pool of 10^6 free runs (250,000 with --quick), each
 * holding a page, between 16-byte blocks that a third client holds and
 * frees, one every TRIM_FREE_US, spread over the pool, while the trim
 * goes on: release_step = 0 (the trim whole inside the request) against
 * the default.  Its steps walk the runs in address order, 1024 a turn;
 * the frees make free pages behind them, which the trim must still find.
 * Printed: the trim's reply time, and the prober's round trips from just
 * before each trim to 100 ms after its reply, ROUNDS times.
 *
 * And many blocks at once, each no bigger than a release step (batch):
 * one client frees POOL_BATCH_MAX written blocks of 1 MiB (page spans) in
 * one FreeBatch, or of 4 KiB (small blocks, far past what the pool keeps
 * for reuse), or is killed holding the 1 MiB ones, ROUNDS times,
 * release_step = 0 against the default.  No block is over the step, so
 * none went in steps once, and the whole batch's pages went back inside
 * the one request (or the one turn of the dead client's references).
 * Printed: the free's (or kill's) reply time, the time until a Stats
 * request of this client, which waits for queued work, answers, and the
 * prober's round trips from just before each free (or kill) to 100 ms
 * after that.
 *
 * Usage: bench_release [--quick] [--poolmgrd PATH] [--only TABLE]
 * TABLE: free, death, idle, trim, stats, destroy, move, move-stats,
 * trim-frees or batch.
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
#include "bench_probe.h"
#include "bench_util.h"
#include "poolclient.h"

#define MiB (1024ull * 1024)
struct row {
	const char *name;
	const char *conf;		/* the daemon's extra settings */
	double free_ms, gone_ms;	/* medians over the rounds */
	uint32_t p50, p999, worst;	/* prober, microseconds */
	uint32_t samples;
	bool ok;
};

/* One daemon, the prober making round trips on it, our connection and
 * the pool we work in (client cache off). */
struct run {
	struct daemon d;
	struct pool_conn *c;
	struct pool *p;
	struct probe *pr;
	pid_t kid;
};

/*
 * measure_move's block, what it grows to (MOVE_GROWTH more), and the
 * quota of its pool (MOVE_ROOM more): the old block, the MiB after it and
 * the new block at once are over it, so libpoolclient leaves the move to
 * the daemon; the old two and the growth are not.
 */
#define MOVE_GROWTH (44 * MiB)
#define MOVE_ROOM (144 * MiB)
static uint64_t move_from = 256 * MiB;
static bool stats_in_move;	/* a third client asks for Stats in each */

static uint64_t big = 1024 * MiB;
static bool stats_after_free;	/* measure_free asks for Stats at once */
static bool trim_now;		/* measure_idle asks for a trim at once */
static int rounds = 5;
static const char *only;	/* --only: the one table to measure */
static size_t ndeath = 1000000;
static size_t nruns = 1000000;
static uint64_t batch_block = MiB;	/* measure_batch's block size */
static bool batch_kill;		/* measure_batch kills the holder instead */
#define TRIM_FREE_US 200	/* the freeing client's pause between frees */

/*
 * Start bin with row's settings, create and open the pool this process
 * works in (name, o), create the prober's and start it (not yet watching).
 * On failure, run_end cleans up.
 */
static int
run_start(struct run *u, const char *bin, const struct row *row,
	  const char *name, const struct pool_create_opts *o)
{
	struct pool_create_opts probe_o = {.max_size = 16 * MiB};

	memset(u, 0, sizeof(*u));
	u->kid = -1;
	if (!(u->pr = shared_alloc(PROBE_BYTES)) ||
	    daemon_start_conf(&u->d, bin, row->conf) != 0) {
		fprintf(stderr, "bench_release: cannot start %s\n", bin);
		if (u->pr)
			shared_free(u->pr, PROBE_BYTES);
		u->pr = NULL;	/* nothing for run_end to stop */
		return -1;
	}
	if (pool_connect(u->d.sock, &u->c) || pool_create(u->c, name, o) ||
	    pool_create(u->c, "probe", &probe_o) ||
	    pool_open(u->c, name, &u->p) || pool_set_cache(u->p, 0))
		return -1;
	fflush(NULL);
	if ((u->kid = fork()) == 0)
		probe_run(u->d.sock, u->pr);
	while (!u->pr->ready)
		usleep(1000);
	return u->pr->failed ? -1 : 0;
}

/* Stop the prober and the daemon; its figures go into row if all went well. */
static int
run_end(struct run *u, int err, struct row *row)
{
	struct probe *pr = u->pr;
	int st;

	if (!pr)
		return -1;	/* the daemon did not start */
	pr->stop = 1;
	if (u->kid > 0)
		waitpid(u->kid, &st, 0);
	if (pr->failed)
		err = -1;
	if (err == 0) {
		row->samples = pr->n;
		row->p50 = quantile(pr->us, pr->n, 0.5);
		row->p999 = quantile(pr->us, pr->n, 0.999);
		row->worst = quantile(pr->us, pr->n, 1.0);
		row->ok = true;
	}
	if (u->p)
		pool_close(u->p);
	if (u->c)
		pool_disconnect(u->c);
	daemon_stop(&u->d);
	shared_free(pr, PROBE_BYTES);
	return err;
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

/*
 * Wait up to 30 s for [m, m + len) to leave the memfd; ms taken, or -1.
 * Pages before the first one still resident are not asked about again
 * (nothing here touches a released page): mincore costs a page cache
 * lookup for each page this process no longer maps, which made every
 * poll of a half-punched 256 MiB take 2-5 ms of CPU (8 ms for 1 GiB),
 * every 5 ms, next to the daemon and the prober on this 2-CPU VM.
 */
static double
wait_gone(void *m, size_t len, unsigned char *vec)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), from = 0, i;
	double t = now_sec();
	long left;

	while ((left = resident((char *)m + from, len - from, vec)) > 0 &&
	       now_sec() - t < 30) {
		for (i = 0; !(vec[i] & 1); i++)
			;
		from += i * page;
		usleep(5000);
	}
	return left == 0 ? (now_sec() - t) * 1e3 : -1;
}

/* A big block written and freed, rounds times; the prober watches all. */
static int
measure_free(const char *bin, struct row *row)
{
	struct pool_create_opts big_o = {.max_size = big + 64 * MiB};
	unsigned char *vec = malloc(big / 4096 + 1);
	double free_ms[16], gone_ms[16];
	struct pool *p;
	struct run u = {.kid = -1};
	int r, err = -1;

	if (!vec || run_start(&u, bin, row, "big", &big_o))
		goto out;
	p = u.p;
	for (r = 0; r < rounds; r++) {
		pool_off_t off;
		double t;
		void *m;

		if (pool_alloc(p, big, &off))
			goto out;
		m = pool_ptr(p, off);
		memset(m, r + 1, big);
		u.pr->watch = 1;
		usleep(10 * 1000);
		t = now_sec();
		if (pool_free(p, off))
			goto out;
		if (stats_after_free) {
			struct pool_stats st;

			if (pool_stats(p, &st) || st.allocated_bytes != 0)
				goto out;
		}
		free_ms[r] = (now_sec() - t) * 1e3;
		if ((gone_ms[r] = wait_gone(m, big, vec)) < 0)
			goto out;
		gone_ms[r] += free_ms[r];
		usleep(100 * 1000);
		u.pr->watch = 0;
	}
	row->free_ms = median(free_ms, rounds);
	row->gone_ms = median(gone_ms, rounds);
	err = 0;
out:
	free(vec);
	return run_end(&u, err, row);
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

/* A client holding ndeath blocks killed; watched to a second after. */
static int
measure_death(const char *bin, struct row *row)
{
	struct pool_create_opts many_o = {.max_size = 256 * MiB};
	volatile int *ready = shared_alloc(sizeof(int));
	struct run u = {.kid = -1};
	int r, st, err = -1;

	if (!ready || run_start(&u, bin, row, "many", &many_o))
		goto out;
	for (r = 0; r < rounds && !u.pr->failed; r++) {
		struct pool_stats ps;
		pid_t holder;

		*ready = 0;
		if ((holder = fork()) == 0)
			hold_many(u.d.sock, ready);
		while (!*ready && waitpid(holder, &st, WNOHANG) == 0)
			usleep(1000);
		if (!*ready)
			goto out;
		u.pr->watch = 1;
		usleep(10 * 1000);
		kill(holder, SIGKILL);
		waitpid(holder, &st, 0);
		usleep(1000 * 1000);
		u.pr->watch = 0;
		/* Settles the pool: every block must be gone. */
		if (pool_stats_by_name(u.c, "many", &ps) || ps.live_blocks)
			goto out;
	}
	err = 0;
out:
	if (ready)
		shared_free((void *)ready, sizeof(int));
	return run_end(&u, err, row);
}

/* One round of measure_idle: fill, write, free, wait for the idle trim. */
static int
idle_round(struct pool *p, struct probe *pr, unsigned char *vec,
	   double *gone_ms, double *trim_ms)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	size_t n = big / (64 * 1024), k, i;
	uint8_t *base = pool_ptr(p, 0);
	pool_off_t *all = malloc(n * sizeof(*all));
	int err = -1;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64 * 1024;
	for (i = 0; all && i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		if (pool_alloc_batch(p, k, sizes, offs))
			goto out;
		memcpy(all + i, offs, k * sizeof(*offs));
	}
	for (i = 0; all && i < n; i++)
		memset(base + all[i], (int)i, 64 * 1024);
	for (i = 0; all && i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		if (pool_free_batch(p, k, all + i))
			goto out;
	}
	if (!all || resident(base, big, vec) < (long)(big / 4096 / 2))
		goto out;	/* the pool should have kept them */
	pr->watch = 1;
	if (trim_now) {
		double t = now_sec();

		if (pool_trim(p))
			goto out;
		*trim_ms = (now_sec() - t) * 1e3;
	}
	*gone_ms = wait_gone(base, big, vec);
	if (trim_now)
		*gone_ms += *trim_ms;
	usleep(100 * 1000);
	pr->watch = 0;
	err = *gone_ms < 0 ? -1 : 0;
out:
	free(all);
	return err;
}

/* An idle pool giving back what it kept; watched from the last free. */
static int
measure_idle(const char *bin, struct row *row)
{
	struct pool_create_opts kept_o = {.max_size = big + 64 * MiB,
					  .retain = 2048 * MiB};
	unsigned char *vec = malloc(big / 4096 + 1);
	double gone_ms[16], trim_ms[16];
	struct run u = {.kid = -1};
	int r, err = -1;

	if (!vec || run_start(&u, bin, row, "kept", &kept_o))
		goto out;
	for (r = 0; r < rounds && !u.pr->failed; r++)
		if (idle_round(u.p, u.pr, vec, &gone_ms[r], &trim_ms[r]))
			goto out;
	row->gone_ms = median(gone_ms, rounds);
	if (trim_now)
		row->free_ms = median(trim_ms, rounds);
	err = 0;
out:
	free(vec);
	return run_end(&u, err, row);
}

/*
 * A pool nobody maps, holding BIG written bytes (one persisted block), is
 * destroyed, rounds times; watched from just before to a second after.
 */
static int
measure_destroy(const char *bin, struct row *row)
{
	struct pool_create_opts gone_o = {.max_size = big + 64 * MiB};
	struct pool_create_opts run_o = {.max_size = 16 * MiB};
	double ms[16];
	struct run u = {.kid = -1};
	int r, err = -1;

	if (run_start(&u, bin, row, "unused", &run_o))
		goto out;
	for (r = 0; r < rounds && !u.pr->failed; r++) {
		struct pool *p;
		pool_off_t off;
		double t;

		if (pool_create(u.c, "gone", &gone_o) ||
		    pool_open(u.c, "gone", &p))
			goto out;
		if (pool_alloc(p, big, &off) == 0) {
			memset(pool_ptr(p, off), r + 1, big);
			off = pool_persist(p, off);
		}
		pool_close(p);
		if (off != 0)
			goto out;
		u.pr->watch = 1;
		usleep(10 * 1000);
		t = now_sec();
		if (pool_destroy_force(u.c, "gone"))
			goto out;
		ms[r] = (now_sec() - t) * 1e3;
		usleep(1000 * 1000);
		u.pr->watch = 0;
	}
	row->free_ms = median(ms, rounds);
	err = 0;
out:
	return run_end(&u, err, row);
}

/* Does the block at m hold what move_round wrote, a byte per MiB? */
static bool
move_kept(const uint8_t *m, int r)
{
	uint8_t want = (uint8_t)(r + 1);

	for (uint64_t i = 0; i < move_from; i += MiB)
		if (m[i] != want || m[i + MiB - 1] != want)
			return false;
	return true;
}

static const char *stats_sock;	/* measure_move's daemon */
static pid_t stats_kid = -1;
static volatile double *stats_ms;	/* shared with it: its reply time */

/*
 * A third client, connected to measure_move's pool: told to go (a byte on
 * the descriptor returned), it asks for the pool's stats 50 ms later and
 * puts the reply's time in *stats_ms (-1 if it failed).  -1 if it could
 * not start.
 */
static int
stats_kid_start(void)
{
	int go[2], ready[2];
	char x;

	if (!stats_ms && !(stats_ms = shared_alloc(sizeof(*stats_ms))))
		return -1;
	if (pipe(go) || pipe(ready))
		return -1;
	*stats_ms = -1;
	fflush(NULL);
	if ((stats_kid = fork()) == 0) {
		struct pool_conn *c;
		struct pool *p;
		struct pool_stats st;
		double t;

		close(go[1]);
		close(ready[0]);
		if (pool_connect(stats_sock, &c) || pool_open(c, "moved", &p))
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &x, 1) != 1)
			_exit(1);
		usleep(50 * 1000);
		t = now_sec();
		if (pool_stats(p, &st) == 0)
			*stats_ms = (now_sec() - t) * 1e3;
		pool_close(p);
		pool_disconnect(c);
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	if (stats_kid < 0 || read(ready[0], &x, 1) != 1) {
		close(ready[0]);
		close(go[1]);
		return -1;
	}
	close(ready[0]);
	return go[1];
}

/* Wait for the third client: its stats' reply time, or -1. */
static double
stats_kid_end(void)
{
	int st;

	if (stats_kid < 0 || waitpid(stats_kid, &st, 0) != stats_kid)
		return -1;
	stats_kid = -1;
	return *stats_ms;
}

/*
 * One round of measure_move: a written move_from block, which the MiB
 * allocated right after it keeps from growing in place, grown by
 * MOVE_GROWTH by the daemon.  Watched from 10 ms before the realloc to
 * 100 ms after the old place has left the memfd; both blocks are then
 * freed, unwatched (the big free's own cost is the first table's), and
 * their pages waited for, so that no release is left over for the next
 * round.  With stats_in_move, a third client asks for Stats 50 ms into
 * the move, and *gone_ms is its reply's time instead.
 */
static int
move_round(struct pool *p, struct probe *pr, unsigned char *vec, int r,
	   double *move_ms, double *gone_ms)
{
	uint64_t move_to = move_from + MOVE_GROWTH;
	pool_off_t a, after, out;
	uint8_t *old, *moved;
	int go = -1;
	double t;

	if (pool_alloc(p, move_from, &a) || pool_alloc(p, 1 * MiB, &after))
		return -1;
	if (after != a + move_from)
		return -1;	/* it could grow in place: nothing to move */
	old = pool_ptr(p, a);
	memset(old, r + 1, move_from);
	if (stats_in_move && (go = stats_kid_start()) < 0)
		return -1;
	pr->watch = 1;
	usleep(10 * 1000);
	t = now_sec();
	if (go >= 0 && (write(go, "g", 1) != 1 || close(go) != 0))
		return -1;
	if (pool_realloc(p, a, move_to, &out) || out == a)
		return -1;
	*move_ms = (now_sec() - t) * 1e3;
	if (stats_in_move) {	/* its reply, then, in place of the pages */
		if ((*gone_ms = stats_kid_end()) < 0)
			return -1;
	} else {
		if ((*gone_ms = wait_gone(old, move_from, vec)) < 0)
			return -1;
		*gone_ms += *move_ms;
	}
	usleep(100 * 1000);
	pr->watch = 0;
	moved = pool_ptr(p, out);
	if (!move_kept(moved, r) || pool_free(p, out) || pool_free(p, after))
		return -1;
	if (stats_in_move && wait_gone(old, move_from, vec) < 0)
		return -1;
	return wait_gone(moved, move_to, vec) < 0 ? -1 : 0;
}

/* A big block the daemon must move, rounds times; watched per move. */
static int
measure_move(const char *bin, struct row *row)
{
	struct pool_create_opts move_o = {.max_size = MiB,
					  .quota = move_from + MOVE_ROOM};
	unsigned char *vec = malloc((move_from + MOVE_GROWTH) / 4096 + 1);
	double move_ms[16], gone_ms[16];
	struct run u = {.kid = -1};
	int r, err = -1;

	/*
	 * Room for both places, a power of two: the MiB after the block
	 * then goes right behind it, the start of the one free run (best
	 * fit would put it in a smaller run at the pool's end).
	 */
	while (move_o.max_size < 2 * move_from + MOVE_ROOM)
		move_o.max_size *= 2;

	if (!vec || run_start(&u, bin, row, "moved", &move_o))
		goto out;
	stats_sock = u.d.sock;
	for (r = 0; r < rounds && !u.pr->failed; r++) {
		if (move_round(u.p, u.pr, vec, r, &move_ms[r], &gone_ms[r]))
			goto out;
		usleep(50 * 1000);
	}
	row->free_ms = median(move_ms, rounds);
	row->gone_ms = median(gone_ms, rounds);
	err = 0;
out:
	free(vec);
	return run_end(&u, err, row);
}

/* What measure_trim_frees shares with its freeing client. */
struct freer {
	volatile int ready, go, stop, failed;
	volatile uint32_t frees;
};

/*
 * The freeing client: nruns 16-byte blocks, each followed by a block of
 * 8176 bytes that it frees again, so that each free run holds a page
 * between two live blocks; then, told to go, it frees its 16-byte blocks
 * one at a time, a large prime stride apart (all over the pool), until
 * told to stop.  Its death gives back the rest.
 */
static void
freer_run(const char *sock, struct freer *fr)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	pool_off_t *live = malloc(nruns * sizeof(*live));
	pool_off_t *gap = malloc(nruns * sizeof(*gap));
	struct pool_conn *c;
	struct pool *p;
	size_t i, k, n;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = i % 2 ? 8176 : 16;
	if (!live || !gap || pool_connect(sock, &c) ||
	    pool_open(c, "runs", &p) || pool_set_cache(p, 0))
		goto fail;
	for (i = 0; i < nruns; i += n) {
		n = nruns - i < POOL_BATCH_MAX / 2 ? nruns - i
						   : POOL_BATCH_MAX / 2;
		if (pool_alloc_batch(p, 2 * n, sizes, offs))
			goto fail;
		for (k = 0; k < n; k++) {
			live[i + k] = offs[2 * k];
			gap[i + k] = offs[2 * k + 1];
		}
	}
	for (i = 0; i < nruns; i += n) {
		n = nruns - i < POOL_BATCH_MAX ? nruns - i : POOL_BATCH_MAX;
		if (pool_free_batch(p, n, gap + i))
			goto fail;
	}
	fr->ready = 1;
	while (!fr->go)
		usleep(1000);
	for (i = 0; !fr->stop && fr->frees < nruns; fr->frees++) {
		i = (i + 611953) % nruns;	/* a prime: every block once */
		if (pool_free(p, live[i]))
			goto fail;
		usleep(TRIM_FREE_US);
	}
	_exit(0);
fail:
	fr->failed = 1;
	fr->ready = 1;
	_exit(1);
}

/*
 * A trim of a pool of nruns free runs while another client frees blocks
 * between them, rounds times; watched from just before each trim to 100
 * ms after its reply.
 */
static int
measure_trim_frees(const char *bin, struct row *row)
{
	struct pool_create_opts runs_o = {.max_size = nruns * 8192 + 64 * MiB};
	struct freer *fr = shared_alloc(sizeof(*fr));
	struct run u = {.kid = -1};
	double trim_ms[16];
	int r, st, err = -1;

	if (!fr || run_start(&u, bin, row, "runs", &runs_o))
		goto out;
	for (r = 0; r < rounds && !u.pr->failed; r++) {
		struct pool_stats ps;
		pid_t kid;
		double t;

		memset((void *)fr, 0, sizeof(*fr));
		fflush(NULL);
		if ((kid = fork()) == 0)
			freer_run(u.d.sock, fr);
		while (!fr->ready && waitpid(kid, &st, WNOHANG) == 0)
			usleep(1000);
		if (!fr->ready || fr->failed)
			goto out;
		u.pr->watch = 1;
		fr->go = 1;
		usleep(10 * 1000);
		t = now_sec();
		if (pool_trim(u.p))
			goto out;
		trim_ms[r] = (now_sec() - t) * 1e3;
		usleep(100 * 1000);
		u.pr->watch = 0;
		fr->stop = 1;
		waitpid(kid, &st, 0);
		printf("  round %d: trim %.1f ms, %u blocks freed meanwhile\n",
		       r + 1, trim_ms[r], fr->frees);
		if (fr->failed)
			goto out;
		/* Settles the pool: the dead client's blocks are all gone. */
		if (pool_stats(u.p, &ps) || ps.live_blocks)
			goto out;
	}
	row->free_ms = median(trim_ms, rounds);
	err = 0;
out:
	if (fr)
		shared_free((void *)fr, sizeof(*fr));
	return run_end(&u, err, row);
}

/*
 * A client that allocates POOL_BATCH_MAX blocks of batch_block bytes,
 * writes them, says so and waits, for a kill or to free them all in one
 * FreeBatch when told to (go), and says when that was answered (done).
 */
struct batcher {
	volatile int ready, go, done, failed;
};

static void
batcher_run(const char *sock, struct batcher *bt)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	struct pool_conn *c;
	struct pool *p;
	size_t i;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = batch_block;
	if (pool_connect(sock, &c) || pool_open(c, "batch", &p) ||
	    pool_set_cache(p, 0) ||
	    pool_alloc_batch(p, POOL_BATCH_MAX, sizes, offs))
		goto fail;
	for (i = 0; i < POOL_BATCH_MAX; i++)
		memset(pool_ptr(p, offs[i]), (int)i + 1, batch_block);
	bt->ready = 1;
	while (!bt->go)
		usleep(1000);
	if (pool_free_batch(p, POOL_BATCH_MAX, offs))
		goto fail;
	bt->done = 1;
	pause();
	_exit(0);
fail:
	bt->failed = 1;
	bt->ready = 1;
	_exit(1);
}

/*
 * POOL_BATCH_MAX written blocks of batch_block bytes freed in one
 * FreeBatch (or their holder killed), rounds times; watched from just
 * before each to 100 ms after this client's Stats, which waits for the
 * work queued, is answered.
 */
static int
measure_batch(const char *bin, struct row *row)
{
	struct pool_create_opts batch_o = {
		.max_size = POOL_BATCH_MAX * batch_block + 64 * MiB };
	struct batcher *bt = shared_alloc(sizeof(*bt));
	struct run u = {.kid = -1};
	double free_ms[16], settled_ms[16];
	int r, st, err = -1;

	if (!bt || run_start(&u, bin, row, "batch", &batch_o))
		goto out;
	for (r = 0; r < rounds && !u.pr->failed; r++) {
		struct pool_stats ps;
		pid_t kid;
		double t;

		memset((void *)bt, 0, sizeof(*bt));
		fflush(NULL);
		if ((kid = fork()) == 0)
			batcher_run(u.d.sock, bt);
		while (!bt->ready && waitpid(kid, &st, WNOHANG) == 0)
			usleep(1000);
		if (!bt->ready || bt->failed)
			goto out;
		u.pr->watch = 1;
		usleep(10 * 1000);
		t = now_sec();
		if (batch_kill) {
			kill(kid, SIGKILL);
			waitpid(kid, &st, 0);
		} else {
			bt->go = 1;
			while (!bt->done && !bt->failed)
				usleep(50);
		}
		free_ms[r] = (now_sec() - t) * 1e3;
		if (bt->failed ||
		    pool_stats_by_name(u.c, "batch", &ps) || ps.live_blocks)
			goto out;
		settled_ms[r] = (now_sec() - t) * 1e3;
		usleep(100 * 1000);
		u.pr->watch = 0;
		if (!batch_kill) {
			kill(kid, SIGKILL);
			waitpid(kid, &st, 0);
		}
	}
	row->free_ms = median(free_ms, rounds);
	row->gone_ms = median(settled_ms, rounds);
	err = 0;
out:
	if (bt)
		shared_free((void *)bt, sizeof(*bt));
	return run_end(&u, err, row);
}

/*
 * Measure each row with fn, then print them under title (unless --only
 * names another key); reply: the name
 * of a column for free_ms (NULL: none); gone_col: a column for gone_ms.
 */
static void
table(const char *key, const char *bin,
      int (*fn)(const char *, struct row *), struct row *rows, int n,
      const char *reply, const char *gone, int *failed, const char *title)
{
	bool free_col = reply != NULL, gone_col = gone != NULL;

	if (only && strcmp(only, key) != 0)
		return;
	for (int i = 0; i < n; i++)
		if (fn(bin, &rows[i]) != 0)
			*failed = 1;
	printf("\n## %s\n\n| daemon |%s%s%s%s%s%s other client: median | "
	       "99.9 %% | worst | round trips |\n|---|%s%s---:|---:|---:|---:|\n",
	       title, free_col ? " " : "", free_col ? reply : "",
	       free_col ? " |" : "", gone_col ? " " : "",
	       gone_col ? gone : "", gone_col ? " |" : "",
	       free_col ? "---:|" : "", gone_col ? "---:|" : "");
	for (int i = 0; i < n; i++) {
		const struct row *w = &rows[i];

		printf("| %s |", w->name);
		if (!w->ok) {
			printf("%s%s n/a | n/a | n/a | n/a |\n",
			       free_col ? " n/a |" : "",
			       gone_col ? " n/a |" : "");
			continue;
		}
		if (free_col)
			printf(" %.1f ms |", w->free_ms);
		if (gone_col)
			printf(" %.1f ms |", w->gone_ms);
		printf(" %u us | %u us | %.1f ms | %u |\n", w->p50, w->p999,
		       w->worst / 1000.0, w->samples);
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "poolmgrd", required_argument, NULL, 'p' },
		{ "only", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct row frees[] = {
		{ .name = "release_step = 0 (punched inside the free)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
		{ .name = "release_step = 4M", .conf = "release_step = 4M\n" },
	};
	struct row trims[] = {
		{ .name = "release_step = 0 (trimmed inside the request)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row stats_frees[] = {
		{ .name = "release_step = 0 (punched inside the free)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row deaths[] = {
		{ .name = "drop_step = 0 (all inside one loop turn)",
		  .conf = "drop_step = 0\n" },
		{ .name = "drop_step = 4096 (the default)", .conf = "" },
	};
	struct row destroys[] = {
		{ .name = "release_step = 0 (closed at once)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row moves[] = {
		{ .name = "release_step = 0 (copied inside the realloc)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row moves_stats[] = {
		{ .name = "release_step = 0 (copied inside the realloc)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row trim_frees[] = {
		{ .name = "release_step = 0 (trimmed inside the request)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row idles[] = {
		{ .name = "release_step = 0 (trimmed inside one loop turn)",
		  .conf = "idle_trim = 1\nrelease_step = 0\n" },
		{ .name = "release_step = 1M (the default)",
		  .conf = "idle_trim = 1\n" },
	};
	struct row batch_spans[] = {
		{ .name = "release_step = 0 (all inside the request)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row batch_pages[] = {
		{ .name = "release_step = 0 (all inside the request)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	struct row batch_deaths[] = {
		{ .name = "release_step = 0 (all inside the drop)",
		  .conf = "release_step = 0\n" },
		{ .name = "release_step = 1M (the default)", .conf = "" },
	};
	char bin[PATH_MAX], self[PATH_MAX], title[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int c, failed = 0;

	self[n > 0 ? n : 0] = '\0';
	snprintf(bin, sizeof bin, "%s/../poolmgrd", dirname(self));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q':
			big = 256 * MiB;
			rounds = 3;
			ndeath = 250000;
			nruns = 250000;
			break;
		case 'p': snprintf(bin, sizeof bin, "%s", optarg); break;
		case 'o': only = optarg; break;
		default:
			fprintf(stderr, "usage: bench_release [--quick] "
				"[--poolmgrd PATH] [--only TABLE]\n");
			return 2;
		}
	}
	snprintf(title, sizeof title, " %s ", only ? only : "");
	if (only && !strstr(" free death idle trim stats destroy move "
			    "move-stats trim-frees batch ", title)) {
		fprintf(stderr, "bench_release: no table '%s'\n", only);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(title, sizeof title, "One client frees a %llu MiB block "
		 "(written), %d times; another makes 64 B alloc+free round "
		 "trips meanwhile (kept from just before each free to 100 ms "
		 "after its pages are gone)", (unsigned long long)(big / MiB),
		 rounds);
	table("free", bin, measure_free, frees, 3, "free's reply",
	      "pages gone after", &failed, title);
	snprintf(title, sizeof title, "A client holding %zu blocks of 64 B "
		 "is killed, %d times; another makes 64 B alloc+free round "
		 "trips meanwhile (kept from just before each kill to 1 s "
		 "after)", ndeath, rounds);
	table("death", bin, measure_death, deaths, 2, NULL, NULL, &failed,
	      title);
	snprintf(title, sizeof title, "A pool keeps %llu MiB of written, "
		 "freed 64 KiB blocks until its idle trim (idle_trim = 1), %d "
		 "times; another client makes 64 B round trips meanwhile (kept "
		 "from the last free to 100 ms after the pages are gone)",
		 (unsigned long long)(big / MiB), rounds);
	table("idle", bin, measure_idle, idles, 2, NULL, "pages gone after",
	      &failed, title);
	snprintf(title, sizeof title, "The same, but the client asks for a "
		 "trim right after its last free (pool_trim), %d times",
		 rounds);
	trim_now = true;
	table("trim", bin, measure_idle, trims, 2, "trim's reply",
	      "pages gone after", &failed, title);
	trim_now = false;
	snprintf(title, sizeof title, "One client frees a %llu MiB block "
		 "(written) and at once asks for the pool's stats, %d times; "
		 "another makes 64 B round trips meanwhile (kept as above)",
		 (unsigned long long)(big / MiB), rounds);
	stats_after_free = true;
	table("stats", bin, measure_free, stats_frees, 2, "free + stats reply",
	      "pages gone after", &failed, title);
	stats_after_free = false;
	snprintf(title, sizeof title, "A pool nobody maps, with %llu MiB "
		 "written (persisted), is destroyed, %d times; another client "
		 "makes 64 B round trips meanwhile (kept from just before each "
		 "destroy to 1 s after)", (unsigned long long)(big / MiB), rounds);
	table("destroy", bin, measure_destroy, destroys, 2, "destroy's reply",
	      NULL, &failed, title);
	snprintf(title, sizeof title, "One client grows a %llu MiB block "
		 "(written) to %llu MiB, which the daemon must move (quota "
		 "%llu MiB), %d times; another makes 64 B round trips "
		 "meanwhile (kept from just before each realloc to 100 ms "
		 "after the old place's pages are gone)",
		 (unsigned long long)(move_from / MiB),
		 (unsigned long long)((move_from + MOVE_GROWTH) / MiB),
		 (unsigned long long)((move_from + MOVE_ROOM) / MiB), rounds);
	table("move", bin, measure_move, moves, 2, "realloc's reply",
	      "pages gone after", &failed, title);
	move_from = big * 3;
	stats_in_move = true;
	snprintf(title, sizeof title, "The same with a %llu MiB block, "
		 "while a third client asks for the pool's stats 50 ms into "
		 "each move, %d times", (unsigned long long)(move_from / MiB),
		 rounds);
	table("move-stats", bin, measure_move, moves_stats, 2,
	      "realloc's reply", "stats' reply", &failed, title);
	snprintf(title, sizeof title, "A client asks for a trim of a pool of "
		 "%zu free runs of a page and a half between 16-byte blocks, "
		 "which a third client frees meanwhile, one every %d us all "
		 "over the pool, %d times; another makes 64 B round trips "
		 "(kept from just before each trim to 100 ms after its reply)",
		 nruns, TRIM_FREE_US, rounds);
	table("trim-frees", bin, measure_trim_frees, trim_frees, 2,
	      "trim's reply", NULL, &failed, title);
	snprintf(title, sizeof title, "One client frees %d written blocks of "
		 "1 MiB in one FreeBatch, %d times; another makes 64 B round "
		 "trips meanwhile (kept from just before each free to 100 ms "
		 "after a Stats of the pool, which waits for queued work, is "
		 "answered)", POOL_BATCH_MAX, rounds);
	table("batch", bin, measure_batch, batch_spans, 2, "free's reply",
	      "stats answered after", &failed, title);
	batch_block = 4096;
	snprintf(title, sizeof title, "The same with %d blocks of 4 KiB "
		 "(small blocks, past the pages the pool keeps for reuse)",
		 POOL_BATCH_MAX);
	table("batch", bin, measure_batch, batch_pages, 2, "free's reply",
	      "stats answered after", &failed, title);
	batch_block = MiB;
	batch_kill = true;
	snprintf(title, sizeof title, "A client holding %d written blocks of "
		 "1 MiB is killed, %d times (kept from just before each kill "
		 "to 100 ms after a Stats is answered)", POOL_BATCH_MAX,
		 rounds);
	table("batch", bin, measure_batch, batch_deaths, 2, "kill noticed",
	      "stats answered after", &failed, title);
	batch_kill = false;
	printf("\nload average %.2f at the end.\n", load_avg());
	return failed;
}
