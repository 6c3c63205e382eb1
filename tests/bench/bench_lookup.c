/*
 * bench_lookup.c - what it costs the daemon to find a block by its offset
 * (dpool_block) when a pool has very many live blocks, on the daemon's own
 * pool code in this process: no socket, no client.
 *
 * One session opens one handle on a 1 GiB pool and allocates N blocks of
 * 64 B (default 1,000,000); then it looks up L of them (default
 * 1,000,000) in a random order, and as many offsets where no block starts,
 * and frees them all, in a random order too.  Printed: N, L, the wall
 * time per lookup of a live block and per miss, and per alloc and per free
 * (which insert into and remove from the index), with the load average;
 * and the growth of the process's resident memory per block allocated
 * (the engine's metadata, the block records and the index).
 *
 * Instructions and cache misses are counted, not timed, by running it
 * under callgrind with only dpool_block collected:
 *
 *   valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
 *     --toggle-collect=dpool_block build/bench/bench_lookup
 *
 * and dividing the totals by 2 L (docs/PERFORMANCE.md).
 *
 * Usage: bench_lookup [N [L]]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "pool.h"
#include "session.h"

/* Resident bytes of this process. */
static uint64_t
rss(void)
{
	unsigned long long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%llu %llu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_lookup: %s\n", what);
	exit(2);
}

/* Fisher-Yates. */
static void
shuffle(uint64_t *v, size_t n, struct rng *g)
{
	size_t i, j;
	uint64_t t;

	for (i = n - 1; i > 0; i--) {
		j = (size_t)(rng_next(g) % (i + 1));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

int
main(int argc, char **argv)
{
	struct dpool_params pp = {.size = 1ull << 30, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	size_t l = argc > 2 ? strtoul(argv[2], NULL, 0) : 1000000;
	uint64_t *offs, t0, t1, t2, t3, found = 0, rss0, rss1;
	double load[3] = {0};
	struct session *s;
	struct handle *h;
	struct dpool *p;
	struct block *b;
	struct rng g;
	int sv[2];
	size_t i;

	if (n == 0 || l == 0 || n > (pp.size >> 6))
		die("usage: bench_lookup [N [L]], 0 < N <= 16777216");
	if (!(offs = malloc(n * sizeof(*offs))))
		die("out of memory");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1 ||
	    !(s = session_new(sv[0])) || dpool_create("p", &pp, &p) != 0 ||
	    !(h = session_open(s, p, false)))
		die("no pool");
	for (i = 0; i < n; i++)		/* in memory before rss0 */
		offs[i] = 0;
	rss0 = rss();
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		offs[i] = b->off;
	}
	t1 = now_ns();
	rss1 = rss();
	rng_seed(&g, 1, 0);
	shuffle(offs, n, &g);
	t2 = now_ns();
	for (i = 0; i < l; i++)
		found += dpool_block(p, offs[i % n]) != NULL;
	t3 = now_ns();
	if (found != l)
		die("a live block was not found");
	printf("blocks %zu lookups %zu\n", n, l);
	printf("alloc  %.1f ns\n", (double)(t1 - t0) / (double)n);
	printf("lookup %.1f ns\n", (double)(t3 - t2) / (double)l);
	printf("rss    %.1f bytes per block\n",
	       (double)(rss1 - rss0) / (double)n);
	/* Inside blocks: no block starts there. */
	t0 = now_ns();
	for (i = 0; i < l; i++)
		found += dpool_block(p, offs[i % n] + 16) != NULL;
	t1 = now_ns();
	if (found != l)
		die("a block was found where none starts");
	printf("miss   %.1f ns\n", (double)(t1 - t0) / (double)l);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (dpool_free(p, h, offs[i]) != 0)
			die("free refused");
	t1 = now_ns();
	printf("free   %.1f ns\n", (double)(t1 - t0) / (double)n);
	if (getloadavg(load, 3) == -1)
		load[0] = -1;
	printf("load   %.2f\n", load[0]);
	session_free(s);
	dpool_destroy(p, false);
	close(sv[0]);
	close(sv[1]);
	free(offs);
	return 0;
}
