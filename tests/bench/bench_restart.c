/*
 * bench_restart.c - how long clients wait while poolmgrd restarts in
 * place (SIGUSR2) with many live blocks (make bench).
 *
 * A 1 GiB pool; CLIENTS connections each allocate BLOCKS / CLIENTS blocks
 * of 64 B (AllocBatch) and keep them.  A probe client holds one block.
 * Then, three times: SIGUSR2, and the probe's UsableSize of its block
 * round trip after round trip until the new image has logged that it
 * restarted.  Printed per restart: the longest round trip (the clients'
 * pause), what the daemon logged
 * as its own count (from the old image's save to the new one's first
 * serve), the daemon's CPU time over the restart (/proc/PID/schedstat:
 * the pid stays), and the load average, since the pause is wall-clock.
 *
 * Usage: bench_restart [--poolmgrd PATH] [--blocks N] [--clients K]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolclient.h"

#include "../integration/harness_raw.h"
#include "bench_daemon.h"
#include "bench_util.h"

#define POOL_BYTES (1ull << 30)
#define RESTARTS 3

/* The number the daemon logged for its count'th restart, or -1. */
static long
logged_ms(const char *log, int count)
{
	char line[512];
	const char *p;
	long ms = -1;
	FILE *f = fopen(log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "restarted in place")) && count-- == 1 &&
		    (p = strstr(p, ", in ")))
			ms = atol(p + 5);
	fclose(f);
	return ms;
}

static int
usable(int fd, uint32_t h, uint64_t off)
{
	return harness_raw_block(fd, POOLMGR__REQUEST__BODY_USABLE_SIZE, h,
				 off);
}

int
main(int argc, char **argv)
{
	struct pool_create_opts o = {.max_size = POOL_BYTES, .mode = 0600};
	const char *bin = "build/poolmgrd";
	struct pool_conn *admin;
	struct daemon d;
	unsigned long blocks = 1000000, clients = 4, i;
	uint64_t probe_off;
	uint32_t h, probe_h;
	int probe, *fds, r;

	for (i = 1; i < (unsigned long)argc; i++) {
		if (!strcmp(argv[i], "--poolmgrd") && i + 1 < (unsigned long)argc)
			bin = argv[++i];
		else if (!strcmp(argv[i], "--blocks") &&
			 i + 1 < (unsigned long)argc)
			blocks = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--clients") &&
			 i + 1 < (unsigned long)argc)
			clients = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_restart [--poolmgrd "
				"PATH] [--blocks N] [--clients K]\n");
			return 2;
		}
	}
	if (clients == 0 || !(fds = calloc(clients, sizeof(int))))
		return 2;
	if (daemon_start(&d, bin) != 0)
		return 1;
	if (pool_connect(d.sock, &admin) || pool_create(admin, "p", &o)) {
		fprintf(stderr, "cannot create the pool\n");
		daemon_stop(&d);
		return 1;
	}
	for (i = 0; i < clients; i++) {
		if ((fds[i] = harness_raw_greeted(d.sock, "holder")) < 0 ||
		    harness_raw_open(fds[i], "p", &h) != 0 ||
		    harness_raw_alloc_many(fds[i], h, 64, blocks / clients)) {
			fprintf(stderr, "client %lu cannot allocate\n", i);
			daemon_stop(&d);
			return 1;
		}
	}
	if ((probe = harness_raw_greeted(d.sock, "probe")) < 0 ||
	    harness_raw_open(probe, "p", &probe_h) != 0 ||
	    harness_raw_alloc(probe, probe_h, 64, &probe_off, NULL) != 0) {
		daemon_stop(&d);
		return 1;
	}
	printf("restart in place: %lu blocks of 64 B held by %lu clients, "
	       "one probe\n", blocks / clients * clients, clients);
	printf("%-8s %12s %12s %12s %8s\n", "restart", "pause ms",
	       "logged ms", "cpu ms", "load");
	for (r = 1; r <= RESTARTS; r++) {
		double t0, t1, c0, c1, worst, load = load_avg();
		int rc, n;

		c0 = proc_cpu_sec(d.pid);
		t0 = now_sec();
		kill(d.pid, SIGUSR2);
		/*
		 * Round trips until the new image has answered: the
		 * longest is the pause (the first may come before the
		 * signal is seen).
		 */
		for (n = 0, worst = 0; n < 20 || logged_ms(d.log, r) < 0;
		     n++) {
			double a = now_sec();

			if ((rc = usable(probe, probe_h, probe_off)) != 0) {
				fprintf(stderr, "the probe's request failed: "
					"%d\n", rc);
				daemon_stop(&d);
				return 1;
			}
			t1 = now_sec();
			if (t1 - a > worst)
				worst = t1 - a;
		}
		c1 = proc_cpu_sec(d.pid);
		(void)t0;
		printf("%-8d %12.1f %12ld %12.1f %8.2f\n", r, worst * 1e3,
		       logged_ms(d.log, r), (c1 - c0) * 1e3, load);
		fflush(stdout);
	}
	for (i = 0; i < clients; i++)
		close(fds[i]);
	close(probe);
	pool_disconnect(admin);
	daemon_stop(&d);
	free(fds);
	return 0;
}
