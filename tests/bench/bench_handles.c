/*
 * bench_handles.c - what the daemon's work per request costs when a pool
 * has very many handles, or a block very many holders (make bench).
 *
 * stats: a pool with 0 and with 256,000 open handles (250 connections of
 * 1024, each handle opened by a raw request, its memfd closed unmapped),
 * and 2000 Stats, then 2000 ListPools round trips of one more client.
 * Printed: their median and 99th percentile, and the daemon's CPU time
 * per request (from /proc, over all 2000).
 *
 * holders: one client allocates a 64 B block; 10,000 handles (10
 * connections of 1000), then in another daemon 50,000, retain it, and
 * each allocates 16 blocks of its own, so that with drop_step = 16 each
 * closed handle drops its 17 references in two loop turns
 * (daemon/pool_release.c).  The first client asks for the block's usable
 * size 2000 times while they are all open; then their connections close
 * at once, and it asks again and again until a Stats of another client,
 * which waits for the drops, comes back.  Every request about the block
 * looks up whether any of its holders is still open.  Printed: the round
 * trips' median, 99th percentile and worst, in each phase; how many fell
 * while the handles were dropping, how long that took (from the moment
 * the daemon listed none of them to the Stats' reply), and the daemon's
 * CPU time meanwhile.
 *
 * lookup: one connection opens 1 handle, then in another daemon 1024 (the
 * limit), each allocating a 64 B block; 20,000 UsableSize round trips
 * name the first handle opened, then 20,000 the last.  Every request that
 * names a handle finds it by its id (session_handle).  Printed: the round
 * trips' median and 99th percentile, and the daemon's CPU time per
 * request (from /proc/PID/schedstat, in nanoseconds).
 *
 * quota: the same with a quota on the pool, 1 then 1024 handles; 20,000
 * Alloc round trips of 64 B on the first handle opened, then 20,000 Frees
 * of those blocks.  An allocation in a pool with a quota counts what the
 * session holds there (quota_used); with a user quota instead, what the
 * uid's sessions hold and the blocks it persisted (dpool_user_used); with
 * neither, nothing.  Printed: the Allocs' median and 99th percentile,
 * and the daemon's CPU time per Alloc and per Free.
 *
 * records: one client allocates 1,003,520 blocks of 64 B with
 * pool_alloc_batch (its cache off) in a 1 GiB pool, then frees them all
 * and trims the pool.  The daemon keeps a record of each block and of each
 * holder (daemon/records.c).  Printed: the daemon's VmRSS before, after
 * the allocation and after the free and trim (/proc/PID/status), the
 * growth per block, what stayed per block after the free, the daemon's
 * mappings (lines of /proc/PID/maps) at each point, its CPU time per
 * block allocated and freed (schedstat), and the growth of the pool's
 * books_bytes per block, what the daemon says its books cost, beside the
 * VmRSS it measures.
 *
 * In lookup and quota the client and the daemon are pinned while they
 * are timed: to one CPU, then (another daemon) to two.  A round trip to a
 * daemon on another CPU wakes that CPU from idle and the client's back,
 * and the daemon's CPU time counts its share of those wake-ups (in a VM
 * several times what the request itself costs), so left to the
 * scheduler, which puts them together on a busy machine and apart on an
 * idle one, the figure would follow the machine's load.
 *
 * Usage: bench_handles [--quick] [--poolmgrd PATH] [--only TABLE]
 * TABLE: stats, holders, lookup, quota or records.  --quick: 63,488
 * handles, 3,000 and 10,000 holders, 5,000 lookups and Allocs, 200,704
 * records.
 * Exit status: 0, 1 if a measurement failed, 2 if it could not run.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_util.h"
#include "../integration/harness_raw.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define HANDLES_PER_CONN 1024
#define HOLDERS_PER_CONN 1000
#define OWN_BLOCKS 16		/* each holder's, = drop_step */
#define ASKS 2000
#define MAX_SAMPLES (1u << 22)

static unsigned stats_conns = 250;	/* of HANDLES_PER_CONN handles */
static unsigned lookups = 20000;	/* per handle named */
static unsigned record_batches = 245;	/* of POOL_BATCH_MAX blocks */
/* Connections of HOLDERS_PER_CONN holders, one daemon each. */
static unsigned holder_conns[] = {10, 50};
static const char *only;
/* The CPUs the benchmark may use, and the two it pins to (-1: none). */
static cpu_set_t cpus_all;
static int cpus_pin[2] = {-1, -1};

/* ---- the protocol, spoken directly (harness_raw.h) ------------------ */

static int
raw_greeted(const char *sock)
{
	return harness_raw_greeted(sock, "bench_handles");
}

/* Open pool "p": the handle, or 0. */
static uint32_t
raw_open(int fd)
{
	uint32_t h;

	return harness_raw_open(fd, "p", &h) == 0 ? h : 0;
}

/* A 64 B block of handle h: its offset, or UINT64_MAX. */
static uint64_t
raw_alloc(int fd, uint32_t h)
{
	uint64_t off;

	return harness_raw_alloc(fd, h, 64, &off, NULL) == 0 ? off
							     : UINT64_MAX;
}

static int
raw_usable(int fd, uint32_t h, uint64_t off)
{
	return harness_raw_block(fd, POOLMGR__REQUEST__BODY_USABLE_SIZE, h,
				 off);
}

/* ---- figures -------------------------------------------------------- */

struct rtts {
	uint32_t *us;
	uint32_t n;
};

static void
rtt_add(struct rtts *r, uint64_t t0)
{
	if (r->n < MAX_SAMPLES)
		r->us[r->n++] = (uint32_t)((now_ns() - t0) / 1000);
}

/*
 * Start the daemon with extra settings and create pool "p" of size, with
 * quota (0: none).
 */
static int
start(struct daemon *d, const char *bin, const char *conf, uint64_t size,
      uint64_t quota, struct pool_conn **c)
{
	struct pool_create_opts o = {.max_size = size, .mode = 0600,
				     .quota = quota};

	if (daemon_start_conf(d, bin, conf) != 0) {
		fprintf(stderr, "bench_handles: cannot start %s\n", bin);
		return -1;
	}
	if (pool_connect(d->sock, c) || pool_create(*c, "p", &o)) {
		daemon_stop(d);
		return -1;
	}
	return 0;
}

/* Open n handles of pool "p" over connections of per each; fds kept. */
static int
open_handles(const char *sock, unsigned nconns, unsigned per, int *fds,
	     uint32_t *handles)
{
	for (unsigned i = 0; i < nconns; i++) {
		if ((fds[i] = raw_greeted(sock)) < 0)
			return -1;
		for (unsigned j = 0; j < per; j++)
			if (!(handles[i * per + j] = raw_open(fds[i])))
				return -1;
	}
	return 0;
}

/* ASKS Stats (list: ListPools) by name; median, p99, CPU per request. */
static int
ask_stats(struct daemon *d, struct pool_conn *c, bool list, struct rtts *r,
	  double *cpu_us)
{
	double cpu = proc_cpu_sec(d->pid);

	r->n = 0;
	for (int i = 0; i < ASKS; i++) {
		struct pool_stats st, *all;
		uint64_t t = now_ns();
		size_t n;

		if (list) {
			if (pool_list(c, &all, &n))
				return -1;
			free(all);
		} else if (pool_stats_by_name(c, "p", &st)) {
			return -1;
		}
		rtt_add(r, t);
	}
	*cpu_us = (proc_cpu_sec(d->pid) - cpu) * 1e6 / ASKS;
	return 0;
}

static int
measure_stats(const char *bin, unsigned nconns)
{
	unsigned n = nconns * HANDLES_PER_CONN;
	int *fds = calloc(nconns ? nconns : 1, sizeof(int));
	uint32_t *handles = calloc(n ? n : 1, sizeof(uint32_t));
	struct rtts r = {.us = calloc(ASKS, sizeof(uint32_t))};
	struct pool_conn *c = NULL;
	struct daemon d;
	double cpu[2];
	uint32_t med[2], p99[2];
	int err = -1;

	if (!fds || !handles || !r.us ||
	    start(&d, bin, "max_connections_per_uid = 1024\n", 64 << 20, 0,
		  &c))
		goto out_free;
	for (unsigned i = 0; i < nconns; i++)
		fds[i] = -1;
	if (open_handles(d.sock, nconns, HANDLES_PER_CONN, fds, handles))
		goto out;
	for (int k = 0; k < 2; k++) {
		if (ask_stats(&d, c, k == 1, &r, &cpu[k]))
			goto out;
		med[k] = quantile(r.us, r.n, 0.5);
		p99[k] = quantile(r.us, r.n, 0.99);
	}
	printf("| %u | %u us | %u us | %.0f us | %u us | %u us | %.0f us |\n",
	       n, med[0], p99[0], cpu[0], med[1], p99[1], cpu[1]);
	err = 0;
out:
	for (unsigned i = 0; i < nconns; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pool_disconnect(c);
	daemon_stop(&d);
out_free:
	free(fds);
	free(handles);
	free(r.us);
	return err;
}

/* A client that asks for the pool's stats when told, and says when done. */
struct settle {
	volatile int go, done, failed;
};

static void
settle_run(const char *sock, struct settle *s)
{
	struct pool_conn *c;
	struct pool_stats st;

	if (pool_connect(sock, &c)) {
		s->failed = 1;
		_exit(1);
	}
	while (!s->go)
		usleep(100);
	if (pool_stats_by_name(c, "p", &st))
		s->failed = 1;
	s->done = 1;
	pool_disconnect(c);
	_exit(0);
}

/* Until the daemon lists only the survivor's handle (the holders closed). */
static int
wait_closed(struct pool_conn *c)
{
	for (int tries = 0; tries < 100000; tries++) {
		struct pool_client_info *ci;
		size_t n;

		if (pool_clients(c, "p", &ci, &n))
			return -1;
		free(ci);
		if (n == 1)
			return 0;
		usleep(100);
	}
	return -1;
}

static void
print_rtts(unsigned holders, const char *phase, struct rtts *r,
	   const char *rest)
{
	printf("| %u | %s | %u | %u us | %u us | %u us | %s |\n", holders,
	       phase, r->n, quantile(r->us, r->n, 0.5),
	       quantile(r->us, r->n, 0.99), quantile(r->us, r->n, 1.0), rest);
}

static int
measure_holders(const char *bin, unsigned nconns)
{
	unsigned n = nconns * HOLDERS_PER_CONN;
	int *fds = calloc(nconns, sizeof(int));
	uint32_t *handles = calloc(n, sizeof(uint32_t));
	struct rtts r = {.us = calloc(MAX_SAMPLES, sizeof(uint32_t))};
	struct settle *s = shared_alloc(sizeof(*s));
	struct pool_conn *c = NULL;
	struct daemon d;
	char rest[128];
	uint64_t b;
	double t, cpu;
	uint32_t sh;
	pid_t kid = -1;
	int fs = -1, st, err = -1;

	if (!fds || !handles || !r.us || !s ||
	    start(&d, bin, "drop_step = 16\n", 256 << 20, 0, &c))
		goto out_free;
	for (unsigned i = 0; i < nconns; i++)
		fds[i] = -1;
	/* Forked first: it must not share the holders' connections. */
	fflush(NULL);
	if ((kid = fork()) == 0)
		settle_run(d.sock, s);
	/* Its first holder: the last on its list of holders. */
	if ((fs = raw_greeted(d.sock)) < 0 || !(sh = raw_open(fs)) ||
	    (b = raw_alloc(fs, sh)) == UINT64_MAX ||
	    open_handles(d.sock, nconns, HOLDERS_PER_CONN, fds, handles))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		int fd = fds[i / HOLDERS_PER_CONN];

		if (harness_raw_retain(fd, handles[i], b) ||
		    harness_raw_alloc_many(fd, handles[i], 64, OWN_BLOCKS))
			goto out;
	}
	for (int i = 0; i < ASKS; i++) {
		uint64_t t0 = now_ns();

		if (raw_usable(fs, sh, b))
			goto out;
		rtt_add(&r, t0);
	}
	print_rtts(n, "all open", &r, "- | -");

	for (unsigned i = 0; i < nconns; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
	if (wait_closed(c)) {
		fprintf(stderr, "bench_handles: the holders stay listed\n");
		goto out;
	}
	t = now_sec();
	cpu = proc_cpu_sec(d.pid);
	s->go = 1;
	r.n = 0;
	while (!s->done) {
		uint64_t t0 = now_ns();

		if (raw_usable(fs, sh, b)) {
			fprintf(stderr, "bench_handles: the block was lost\n");
			goto out;
		}
		rtt_add(&r, t0);
	}
	t = now_sec() - t;
	cpu = proc_cpu_sec(d.pid) - cpu;
	if (s->failed) {
		fprintf(stderr, "bench_handles: stats failed\n");
		goto out;
	}
	snprintf(rest, sizeof rest, "%.1f ms | %.0f ms", t * 1e3, cpu * 1e3);
	print_rtts(n, "closed, dropping", &r, rest);
	err = 0;
out:
	if (kid > 0) {
		s->go = 1;
		waitpid(kid, &st, 0);
	}
	for (unsigned i = 0; i < nconns; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (fs >= 0)
		close(fs);
	pool_disconnect(c);
	daemon_stop(&d);
out_free:
	if (s)
		shared_free(s, sizeof(*s));
	free(fds);
	free(handles);
	free(r.us);
	return err;
}

/*
 * The daemon's CPU time so far, in seconds: its main thread's, from
 * schedstat, which counts nanoseconds (stat counts clock ticks).
 */
static double
daemon_cpu_sec(pid_t pid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int n;

	snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fscanf(f, "%llu", &ns);
	fclose(f);
	return n == 1 ? (double)ns / 1e9 : -1;
}

/* The first two CPUs the benchmark may use, in cpus_pin. */
static void
cpus_find(void)
{
	int n = 0;

	if (sched_getaffinity(0, sizeof cpus_all, &cpus_all) != 0)
		return;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &cpus_all))
			cpus_pin[n++] = i;
}

static int
pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof set, &set);
}

/*
 * Pin this process to the first CPU and the daemon to the same one, or
 * (apart) to the second: 0, or -1 if that cannot be done.
 */
static int
place(pid_t daemon, bool apart)
{
	int cpu = cpus_pin[apart ? 1 : 0];

	if (cpu < 0 || pin(0, cpus_pin[0]) != 0 || pin(daemon, cpu) != 0) {
		fprintf(stderr, "bench_handles: cannot pin to CPU %d\n", cpu);
		return -1;
	}
	return 0;
}

/* Back to all the CPUs this process started with. */
static void
unplace(void)
{
	sched_setaffinity(0, sizeof cpus_all, &cpus_all);
}

/* lookups UsableSize of handle h's block b; median, p99, CPU per request. */
static int
ask_usable(struct daemon *d, int fd, uint32_t h, uint64_t b, struct rtts *r,
	   double *cpu_ns)
{
	double cpu = daemon_cpu_sec(d->pid);

	r->n = 0;
	for (unsigned i = 0; i < lookups; i++) {
		uint64_t t0 = now_ns();

		if (raw_usable(fd, h, b))
			return -1;
		rtt_add(r, t0);
	}
	*cpu_ns = (daemon_cpu_sec(d->pid) - cpu) * 1e9 / lookups;
	return 0;
}

static int
measure_lookup(const char *bin, unsigned nhandles, bool apart)
{
	uint32_t *handles = calloc(nhandles, sizeof(uint32_t));
	uint64_t *blocks = calloc(nhandles, sizeof(uint64_t));
	struct rtts r = {.us = calloc(lookups, sizeof(uint32_t))};
	struct pool_conn *c = NULL;
	struct daemon d;
	unsigned which[2] = {0, nhandles - 1};
	double cpu;
	int fd = -1, err = -1;

	if (!handles || !blocks || !r.us ||
	    start(&d, bin, "", 64 << 20, 0, &c))
		goto out_free;
	if ((fd = raw_greeted(d.sock)) < 0)
		goto out;
	for (unsigned i = 0; i < nhandles; i++)
		if (!(handles[i] = raw_open(fd)) ||
		    (blocks[i] = raw_alloc(fd, handles[i])) == UINT64_MAX)
			goto out;
	if (place(d.pid, apart))
		goto out;
	for (int k = 0; k < (nhandles > 1 ? 2 : 1); k++) {
		if (ask_usable(&d, fd, handles[which[k]], blocks[which[k]],
			       &r, &cpu))
			goto out;
		printf("| %u | %s | %s | %u | %u us | %u us | %.0f ns |\n",
		       nhandles, k ? "last" : "first", apart ? "two" : "one",
		       r.n, quantile(r.us, r.n, 0.5),
		       quantile(r.us, r.n, 0.99), cpu);
	}
	err = 0;
out:
	unplace();
	if (fd >= 0)
		close(fd);
	pool_disconnect(c);
	daemon_stop(&d);
out_free:
	free(handles);
	free(blocks);
	free(r.us);
	return err;
}

/*
 * lookups Allocs of 64 B on handle h, their offsets in offs; median, p99,
 * CPU per request.
 */
static int
ask_alloc(struct daemon *d, int fd, uint32_t h, uint64_t *offs,
	  struct rtts *r, double *cpu_ns)
{
	double cpu = daemon_cpu_sec(d->pid);

	r->n = 0;
	for (unsigned i = 0; i < lookups; i++) {
		uint64_t t0 = now_ns();

		if ((offs[i] = raw_alloc(fd, h)) == UINT64_MAX)
			return -1;
		rtt_add(r, t0);
	}
	*cpu_ns = (daemon_cpu_sec(d->pid) - cpu) * 1e9 / lookups;
	return 0;
}

/* Free the lookups blocks of handle h at offs; CPU per request. */
static int
ask_free(struct daemon *d, int fd, uint32_t h, const uint64_t *offs,
	 double *cpu_ns)
{
	double cpu = daemon_cpu_sec(d->pid);

	for (unsigned i = 0; i < lookups; i++)
		if (harness_raw_free(fd, h, offs[i]) != 0)
			return -1;
	*cpu_ns = (daemon_cpu_sec(d->pid) - cpu) * 1e9 / lookups;
	return 0;
}

/* The bound measure_quota's pool has. */
enum bound { BOUND_NONE, BOUND_QUOTA, BOUND_USER_QUOTA };

static const char *const bound_names[] = {"none", "quota",
					  "user quota"};

/* Give pool "p" a user quota of bytes. */
static int
set_user_quota(struct pool_conn *c, uint64_t bytes)
{
	struct pool_set_opts o = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = bytes};

	return pool_set(c, "p", &o);
}

/*
 * One connection opens nhandles handles of a pool with the bound, each
 * allocating a 64 B block, then allocates more on the first.
 */
static int
measure_quota(const char *bin, unsigned nhandles, bool apart,
	      enum bound bound)
{
	struct rtts r = {.us = calloc(lookups, sizeof(uint32_t))};
	uint64_t *offs = calloc(lookups, sizeof(uint64_t));
	struct pool_conn *c = NULL;
	struct daemon d;
	uint32_t first = 0, h;
	double cpu, cpu_free;
	int fd = -1, err = -1;

	if (!r.us || !offs || start(&d, bin, "", 64 << 20,
				    bound == BOUND_QUOTA ? 32 << 20 : 0, &c))
		goto out_free;
	if (bound == BOUND_USER_QUOTA && set_user_quota(c, 32 << 20))
		goto out;
	if ((fd = raw_greeted(d.sock)) < 0)
		goto out;
	for (unsigned i = 0; i < nhandles; i++) {
		if (!(h = raw_open(fd)) || raw_alloc(fd, h) == UINT64_MAX)
			goto out;
		if (!first)
			first = h;
	}
	if (place(d.pid, apart) || ask_alloc(&d, fd, first, offs, &r, &cpu) ||
	    ask_free(&d, fd, first, offs, &cpu_free))
		goto out;
	printf("| %s | %u | %s | %u | %u us | %u us | %.0f ns | %.0f ns |\n",
	       bound_names[bound], nhandles, apart ? "two" : "one", r.n,
	       quantile(r.us, r.n, 0.5), quantile(r.us, r.n, 0.99), cpu,
	       cpu_free);
	err = 0;
out:
	unplace();
	if (fd >= 0)
		close(fd);
	pool_disconnect(c);
	daemon_stop(&d);
out_free:
	free(offs);
	free(r.us);
	return err;
}

/* A kB figure of /proc/PID/status (key with its colon), or -1. */
static long
status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t len = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, len) == 0) {
			kb = strtol(line + len, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* The number of mappings of process pid, or -1. */
static long
maps_count(pid_t pid)
{
	char path[64];
	long n = 0;
	FILE *f;
	int ch;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Allocate (or free) record_batches batches of 64 B blocks at offs. */
static int
records_batches(struct pool *p, pool_off_t *offs, bool alloc)
{
	static size_t sizes[POOL_BATCH_MAX];

	for (size_t i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	for (unsigned i = 0; i < record_batches; i++) {
		pool_off_t *o = offs + (size_t)i * POOL_BATCH_MAX;
		int rc = alloc ? pool_alloc_batch(p, POOL_BATCH_MAX, sizes, o)
			       : pool_free_batch(p, POOL_BATCH_MAX, o);

		if (rc) {
			fprintf(stderr, "bench_handles: %s batch: %s\n",
				alloc ? "alloc" : "free", pool_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/*
 * The daemon's resident memory for its records of many small blocks:
 * before, with them all live, and after they were freed and the pool
 * trimmed.
 */
static int
measure_records(const char *bin)
{
	size_t n = (size_t)record_batches * POOL_BATCH_MAX;
	pool_off_t *offs = calloc(n, sizeof(*offs));
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st[2];
	struct daemon d;
	long rss[3], maps[3];
	double cpu[3];
	int err = -1;

	if (!offs || start(&d, bin, "", 1ull << 30, 0, &c))
		goto out_free;
	if (pool_open(c, "p", &p) || pool_set_cache(p, 0) ||
	    pool_stats(p, &st[0]))
		goto out;
	rss[0] = status_kb(d.pid, "VmRSS:");
	maps[0] = maps_count(d.pid);
	cpu[0] = daemon_cpu_sec(d.pid);
	if (records_batches(p, offs, true))
		goto out;
	cpu[1] = daemon_cpu_sec(d.pid);
	rss[1] = status_kb(d.pid, "VmRSS:");
	maps[1] = maps_count(d.pid);
	if (pool_stats(p, &st[1]))
		goto out;
	if (records_batches(p, offs, false))
		goto out;
	cpu[2] = daemon_cpu_sec(d.pid);
	if (pool_trim(p))
		goto out;
	rss[2] = status_kb(d.pid, "VmRSS:");
	maps[2] = maps_count(d.pid);
	if (rss[0] < 0 || rss[1] < 0 || rss[2] < 0) {
		fprintf(stderr, "bench_handles: no VmRSS of the daemon\n");
		goto out;
	}
	printf("| %zu | %ld kB | %ld kB | %.1f B | %ld kB | %.1f B | "
	       "%ld / %ld / %ld | %.0f ns | %.0f ns | %.1f B |\n", n, rss[0],
	       rss[1], (double)(rss[1] - rss[0]) * 1024 / (double)n, rss[2],
	       (double)(rss[2] - rss[0]) * 1024 / (double)n, maps[0], maps[1],
	       maps[2], (cpu[1] - cpu[0]) * 1e9 / (double)n,
	       (cpu[2] - cpu[1]) * 1e9 / (double)n,
	       (double)(st[1].books_bytes - st[0].books_bytes) / (double)n);
	err = 0;
out:
	pool_close(p);
	pool_disconnect(c);
	daemon_stop(&d);
out_free:
	free(offs);
	return err;
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
	char bin[PATH_MAX], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int c, failed = 0;

	self[n > 0 ? n : 0] = '\0';
	snprintf(bin, sizeof bin, "%s/../poolmgrd", dirname(self));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q':
			stats_conns = 62;
			holder_conns[0] = 3;
			holder_conns[1] = 10;
			lookups = 5000;
			record_batches = 49;
			break;
		case 'p': snprintf(bin, sizeof bin, "%s", optarg); break;
		case 'o': only = optarg; break;
		default:
			fprintf(stderr, "usage: bench_handles [--quick] "
				"[--poolmgrd PATH] [--only TABLE]\n");
			return 2;
		}
	}
	if (only && strcmp(only, "stats") && strcmp(only, "holders") &&
	    strcmp(only, "lookup") && strcmp(only, "quota") &&
	    strcmp(only, "records")) {
		fprintf(stderr, "bench_handles: no table '%s'\n", only);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_raw_set_wait(-1);	/* a loaded machine is slow, not wrong */
	cpus_find();
	printf("daemon: %s\n", bin);
	if (!only || !strcmp(only, "stats")) {
		printf("\n%d Stats, then %d ListPools round trips, one pool "
		       "with N open handles\n\n", ASKS, ASKS);
		printf("| handles | Stats: median | 99 %% | daemon CPU | "
		       "ListPools: median | 99 %% | daemon CPU |\n");
		printf("|---:|---:|---:|---:|---:|---:|---:|\n");
		if (measure_stats(bin, 0) || measure_stats(bin, stats_conns))
			failed = 1;
	}
	if (!only || !strcmp(only, "holders")) {
		printf("\nUsableSize of a block N handles retained (each "
		       "with %d blocks of its own, drop_step = %d): while "
		       "they are open, then while they drop their references "
		       "after their connections closed\n\n", OWN_BLOCKS,
		       OWN_BLOCKS);
		printf("| holders | phase | round trips | median | 99 %% | "
		       "worst | dropping for | daemon CPU meanwhile |\n");
		printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
		for (int i = 0; i < 2; i++)
			if (measure_holders(bin, holder_conns[i]))
				failed = 1;
	}
	if (!only || !strcmp(only, "lookup")) {
		printf("\nUsableSize round trips naming the first or the "
		       "last of N handles one connection opened; client and "
		       "daemon on one CPU or two\n\n");
		printf("| handles | handle named | CPUs | round trips | median | "
		       "99 %% | daemon CPU per request |\n");
		printf("|---:|---|---|---:|---:|---:|---:|\n");
		for (int k = 0; k < (cpus_pin[1] < 0 ? 1 : 2); k++)
			if (measure_lookup(bin, 1, k) ||
			    measure_lookup(bin, HANDLES_PER_CONN, k))
				failed = 1;
	}
	if (!only || !strcmp(only, "quota")) {
		printf("\n64 B Alloc round trips on the first of N handles "
		       "one connection opened on a pool with a bound (none, "
		       "a quota per connection, a user quota), then Frees of "
		       "those blocks; client and daemon on one CPU or two\n\n");
		printf("| bound | handles | CPUs | Allocs | median | 99 %% | "
		       "daemon CPU per Alloc | per Free |\n");
		printf("|---|---:|---|---:|---:|---:|---:|---:|\n");
		for (int k = 0; k < (cpus_pin[1] < 0 ? 1 : 2); k++)
			for (int b = BOUND_NONE; b <= BOUND_USER_QUOTA; b++)
				if (measure_quota(bin, 1, k, b) ||
				    measure_quota(bin, HANDLES_PER_CONN, k,
						  b))
					failed = 1;
	}
	if (!only || !strcmp(only, "records")) {
		printf("\nThe daemon's VmRSS as one client allocates N blocks "
		       "of 64 B with pool_alloc_batch (cache off, 1 GiB "
		       "pool), then frees them all and trims; its mappings "
		       "at each point, its CPU time per block allocated and "
		       "freed, and books_bytes' growth per block\n\n");
		printf("| blocks | VmRSS before | with them | per block | "
		       "after free + trim | kept per block | mappings | "
		       "CPU per alloc | per free | books_bytes per block |\n");
		printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		if (measure_records(bin))
			failed = 1;
	}
	printf("\nload average %.2f at the end.\n", load_avg());
	return failed;
}
