/*
 * bench_renew.c - what a caching handle opened before a restart in place
 * (SIGUSR2) costs after it (make bench).
 *
 * One handle of a 64 MiB pool, its cache on, allocates and frees a block
 * of 64 B PAIRS times: before the restart, then right after it (the
 * first call takes up the new map, or, with a daemon that cannot send
 * it, finds the map frozen).  Printed for each: the client's and the
 * daemon's CPU time (getrusage, /proc/PID/schedstat: CPU, not wall
 * clock, so the machine's load moves them little), the allocations and
 * frees the daemon counted (its round trips' work), and the load.
 *
 * Usage: bench_renew [--poolmgrd PATH] [--pairs N]
 */
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolclient.h"

#include "bench_daemon.h"
#include "bench_util.h"

#define POOL_BYTES (64ull << 20)
#define WAIT_MS 30000

static double
self_cpu_sec(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Has the daemon logged its restart in place? */
static int
restarted(const char *log)
{
	char line[512];
	int found = 0;
	FILE *f = fopen(log, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "restarted in place"))
			found = 1;
	fclose(f);
	return found;
}

/* PAIRS allocations and frees through p; one line of what they cost. */
static int
run(const char *what, struct pool *p, pid_t daemon, unsigned long pairs)
{
	struct pool_stats s0, s1;
	double c0, d0, load = load_avg();
	pool_off_t off;
	unsigned long i;

	if (pool_stats(p, &s0))
		return -1;
	c0 = self_cpu_sec();
	d0 = proc_cpu_sec(daemon);
	for (i = 0; i < pairs; i++)
		if (pool_alloc(p, 64, &off) || pool_free(p, off))
			return -1;
	if (pool_stats(p, &s1))
		return -1;
	printf("%-16s %12.2f %12.2f %14llu %14llu %8.2f\n", what,
	       self_cpu_sec() - c0, proc_cpu_sec(daemon) - d0,
	       (unsigned long long)(s1.allocs - s0.allocs),
	       (unsigned long long)(s1.frees - s0.frees), load);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct pool_create_opts o = {.max_size = POOL_BYTES, .mode = 0600};
	const char *bin = "build/poolmgrd";
	unsigned long pairs = 200000;
	struct pool_conn *c;
	struct pool *p;
	struct daemon d;
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--poolmgrd") && i + 1 < argc)
			bin = argv[++i];
		else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_renew [--poolmgrd PATH] "
				"[--pairs N]\n");
			return 2;
		}
	}
	if (daemon_start(&d, bin) != 0)
		return 1;
	if (pool_connect(d.sock, &c) || pool_create(c, "p", &o) ||
	    pool_open(c, "p", &p)) {
		fprintf(stderr, "cannot open the pool\n");
		daemon_stop(&d);
		return 1;
	}
	printf("a handle with its cache, %lu allocs and frees of 64 B:\n",
	       pairs);
	printf("%-16s %12s %12s %14s %14s %8s\n", "", "client cpu s",
	       "daemon cpu s", "daemon allocs", "daemon frees", "load");
	if (run("before restart", p, d.pid, pairs))
		goto out;
	kill(d.pid, SIGUSR2);
	for (i = 0; i < WAIT_MS / 10 && !restarted(d.log); i++)
		usleep(10000);
	if (!restarted(d.log)) {
		fprintf(stderr, "no restart in place logged\n");
		goto out;
	}
	if (run("after restart", p, d.pid, pairs))
		goto out;
	rc = 0;
out:
	pool_close(p);
	pool_disconnect(c);
	daemon_stop(&d);
	return rc;
}
