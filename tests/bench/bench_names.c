/*
 * bench_names.c - what a block's name costs the daemon: publish, lookup
 * (found and missed) and unpublish among N names of one pool, on the
 * daemon's own pool code in this process: no socket, no client.
 *
 * One session opens one handle on a 1 GiB pool and allocates N blocks of
 * 64 B (default 65,536, the most names a pool takes), publishes each
 * under a name of 20 bytes ("camera/%013zu"), in a random order; looks up
 * L names (default 1,000,000) in a random order, and as many names no
 * block has; then unpublishes every name, which frees the blocks (the
 * handle let go of them after publishing).  Printed: N, L, the wall time
 * per publish, lookup, miss and unpublish, with the load average, and
 * the growth of the process's resident memory per name (the name's
 * record, and the block's persistence).
 *
 * Then eviction (pool_evict.c): N blocks again, each published kept and
 * one more evictable (2 N names at most 65,536: N halves), kept and
 * evictable in turns by offset, let go; L retain and free pairs on kept
 * named blocks, then on evictable ones (whose first hold takes the name
 * off the list of eviction, found by offset, and whose last release puts
 * it back); then the look a refused allocation makes before it evicts
 * (dpool_evict_may_make_run), for the whole pool, which no stretch holds:
 * a walk of every evictable name (room counted as made before each, so
 * that none is answered by the last); then every evictable name evicted,
 * oldest first, half of them one per dpool_evict call, the rest one per
 * dpool_evict_run call for a block of theirs (the oldest name its own
 * window).  Printed: the wall time per pair of each kind, per look and per
 * eviction of each way.
 *
 * Then a batch's trials (pool_evict_batch.c): the same names again, and
 * the rest of the pool one held block, so that only evictions make room.
 * A batch of 128 B and 64 B that no eviction helps (no two names' blocks
 * side by side), its trials run to every name, room counted as made
 * before each so that no kept "no" answers it; then batches of two 64 B
 * blocks, each evicting the two names its trials find, then allocated,
 * against as many evicting two names by dpool_evict and allocated.
 * Printed: the wall time per refused batch's trials, and per name, with
 * the trials made; per batch made either way.
 *
 * Instructions are counted, not timed, by running it under callgrind with
 * only the lookup collected:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *     --toggle-collect=block_names_find build/bench/bench_names 65536 100000
 *
 * and dividing the total by 2 L (docs/PERFORMANCE.md); an eviction's
 * with --toggle-collect=dpool_evict, divided by N / 2.
 *
 * Usage: bench_names [N [L]]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_names.h"
#include "session.h"

#define NAME_LEN 20

static void
die(const char *what)
{
	fprintf(stderr, "bench_names: %s\n", what);
	exit(2);
}

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
shuffle(size_t *v, size_t n, struct rng *g)
{
	size_t i, j, t;

	for (i = n - 1; i > 0; i--) {
		j = (size_t)(rng_next(g) % (i + 1));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void
name_of(char *buf, size_t i, bool miss)
{
	snprintf(buf, NAME_LEN + 1, "%s/%013zu", miss ? "nobody" : "camera",
		 i);
}

/* l retain and free pairs over the n blocks at offs, from the first. */
static double
hold_pairs(struct dpool *p, struct handle *h, const uint64_t *offs,
	   size_t n, size_t l)
{
	uint64_t t0 = now_ns();
	size_t i;

	for (i = 0; i < l; i++) {
		if (dpool_retain(p, h, offs[i % n], 0) != 0 ||
		    dpool_free(p, h, offs[i % n]) != 0)
			die("retain or free refused");
	}
	return (double)(now_ns() - t0) / (double)l;
}

/* The second part (see the top): n kept and n evictable names. */
static void
evict_bench(struct dpool *p, struct handle *h, size_t n, size_t l,
	    uint64_t *offs)
{
	char name[NAME_LEN + 1];
	struct block *b;
	double kept, evictable, look;
	uint64_t t0, t1, t2;
	size_t i, k, looks = 20;
	bool ev;

	for (i = 0; i < 2 * n; i++) {
		ev = i & 1;	/* kept and evictable in turns */
		k = ev ? n + i / 2 : i / 2;
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		offs[k] = b->off;
		name_of(name, k, ev);
		if (dpool_publish(p, h, b->off, name, NAME_LEN, false,
				  ev) != 0 || dpool_free(p, h, b->off))
			die("publish refused");
	}
	kept = hold_pairs(p, h, offs, n, l);
	evictable = hold_pairs(p, h, offs + n, n, l);
	t0 = now_ns();
	for (i = 0; i < looks; i++) {
		p->room_count++;	/* as if room came: the look walks */
		if (dpool_evict_may_make_run(p, p->size, 0))
			die("a stretch holds the whole pool");
	}
	look = (double)(now_ns() - t0) / (double)looks;
	t0 = now_ns();
	for (i = 0; i < n / 2; i++)
		if (dpool_evict(p, 64, 1, 64) != 1)
			die("nothing evicted");
	t1 = now_ns();
	for (; i < n; i++)
		if (dpool_evict_run(p, 64, 0) != 1)
			die("no window");
	t2 = now_ns();
	if (p->evict.count != 0 || p->names.count != n)
		die("names left");
	printf("evict: %zu kept and %zu evictable names\n", n, n);
	printf("hold kept      %.1f ns (retain and free)\n", kept);
	printf("hold evictable %.1f ns\n", evictable);
	printf("look for a run %.1f us (a walk of %zu names)\n", look / 1000,
	       n);
	printf("evict          %.1f ns (each frees its block)\n",
	       (double)(t1 - t0) / (double)(n / 2));
	printf("evict a window %.1f ns (the oldest name, its own window)\n",
	       (double)(t2 - t1) / (double)(n - n / 2));
	for (i = 0; i < n; i++) {
		name_of(name, i, false);
		if (dpool_unpublish(p, name, NAME_LEN) != 0)
			die("unpublish refused");
	}
}

/*
 * The third part (see the top): n kept and n evictable names of 64 B in
 * turns, the rest of the pool one held block.  20 refused batches of
 * 128 B and 64 B, which no eviction makes room for (the names' blocks
 * lie between kept ones), room counted as made before each so that none
 * is answered by the last; then rounds batches of two 64 B blocks (at
 * most n / 4), each evicting the two names its trials find and
 * allocated, against as many evicting two names by dpool_evict alone
 * and allocated.
 */
static void
trial_bench(struct dpool *p, struct handle *h, size_t n, size_t rounds,
	    uint64_t *offs)
{
	const uint64_t no[2] = {128, 64}, yes[2] = {64, 64};
	char name[NAME_LEN + 1];
	struct block *b;
	uint64_t t0, t1, t2, rest, trials, *made;
	uint32_t gone;
	size_t i, k, m = 0, nos = 20;
	bool ev;

	/* The caches merged: the blocks go one after another by offset. */
	(void)heap_trim(p->heap);
	for (i = 0; i < 2 * n; i++) {
		ev = i & 1;
		k = ev ? n + i / 2 : i / 2;
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		offs[k] = b->off;
		name_of(name, k, ev);
		if (dpool_publish(p, h, b->off, name, NAME_LEN, false,
				  ev) != 0 || dpool_free(p, h, b->off))
			die("publish refused");
	}
	if (dpool_alloc(p, h, heap_largest_free(p->heap), 0, false, 0,
			&b) != 0 || heap_largest_free(p->heap) != 0)
		die("the rest of the pool not held");
	rest = b->off;
	if (rounds > n / 4)
		rounds = n / 4;
	if (!(made = calloc(4 * rounds, sizeof(*made))))
		die("out of memory");
	trials = p->evict.trials;
	t0 = now_ns();
	for (i = 0; i < nos; i++) {
		p->room_count++;	/* as if room came: no "no" kept */
		if (dpool_evict_batch(p, no, 2, dpool_evict_short(p, 192, 192),
				      &gone) != 0 || gone != 0)
			die("a trial made room");
	}
	t1 = now_ns();
	printf("trial no       %.1f us (%zu names; %.1f trials a batch)\n",
	       (double)(t1 - t0) / (double)nos / 1000, n,
	       (double)(p->evict.trials - trials) / (double)nos);
	printf("trial no       %.1f ns per name\n",
	       (double)(t1 - t0) / (double)nos / (double)n);
	trials = p->evict.trials;
	t0 = now_ns();
	for (i = 0; i < rounds; i++) {
		if (dpool_evict_batch(p, yes, 2, dpool_evict_short(p, 128, 128),
				      &gone) != 0 || gone != 2)
			die("the trials did not find two names");
		for (k = 0; k < 2; k++) {
			if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
				die("batch refused after its trials");
			made[m++] = b->off;
		}
	}
	t1 = now_ns();
	for (i = 0; i < rounds; i++) {
		if (dpool_evict(p, 128, 2, 128) != 2)
			die("nothing evicted");
		for (k = 0; k < 2; k++) {
			if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
				die("batch refused after its evictions");
			made[m++] = b->off;
		}
	}
	t2 = now_ns();
	printf("trial yes      %.1f ns (two names evicted, %.1f trials)\n",
	       (double)(t1 - t0) / (double)rounds,
	       (double)(p->evict.trials - trials) / (double)rounds);
	printf("rounds         %.1f ns (two names evicted by dpool_evict)\n",
	       (double)(t2 - t1) / (double)rounds);
	(void)dpool_evict(p, UINT64_MAX, UINT32_MAX, UINT64_MAX);
	for (i = 0; i < m; i++)
		if (dpool_free(p, h, made[i]) != 0)
			die("free refused");
	if (dpool_free(p, h, rest) != 0)
		die("free refused");
	free(made);
	for (i = 0; i < n; i++) {
		name_of(name, i, false);
		if (dpool_unpublish(p, name, NAME_LEN) != 0)
			die("unpublish refused");
	}
}

int
main(int argc, char **argv)
{
	struct dpool_params pp = {.size = 1ull << 30, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : POOL_MAX_NAMES;
	size_t l = argc > 2 ? strtoul(argv[2], NULL, 0) : 1000000;
	uint64_t *offs, t0, t1, t2, t3, rss0, rss1, found = 0;
	double load[3] = {0};
	char name[NAME_LEN + 1];
	struct session *s;
	struct handle *h;
	struct dpool *p;
	struct block *b;
	struct rng g;
	size_t *order, i;
	int sv[2];

	if (n == 0 || l == 0 || n > POOL_MAX_NAMES)
		die("usage: bench_names [N [L]], 0 < N <= 65536");
	if (!(offs = calloc(n, sizeof(*offs))) ||
	    !(order = calloc(n, sizeof(*order))))
		die("out of memory");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1 ||
	    !(s = session_new(sv[0])) || dpool_create("p", &pp, &p) != 0 ||
	    !(h = session_open(s, p, false)))
		die("no pool");
	for (i = 0; i < n; i++) {
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		offs[i] = b->off;
		order[i] = i;
	}
	rng_seed(&g, 1, 0);
	shuffle(order, n, &g);
	rss0 = rss();
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		name_of(name, order[i], false);
		if (dpool_publish(p, h, offs[order[i]], name, NAME_LEN,
				  false, false) != 0)
			die("publish refused");
	}
	t1 = now_ns();
	rss1 = rss();
	for (i = 0; i < n; i++)		/* the names hold them now */
		if (dpool_free(p, h, offs[i]) != 0)
			die("free refused");
	shuffle(order, n, &g);
	t2 = now_ns();
	for (i = 0; i < l; i++) {
		name_of(name, order[i % n], false);
		found += block_names_find(&p->names, name, NAME_LEN) != NULL;
	}
	t3 = now_ns();
	if (found != l)
		die("a name was not found");
	printf("names %zu lookups %zu\n", n, l);
	printf("publish   %.1f ns\n", (double)(t1 - t0) / (double)n);
	printf("lookup    %.1f ns\n", (double)(t3 - t2) / (double)l);
	printf("rss       %.1f bytes per name\n",
	       (double)(rss1 - rss0) / (double)n);
	t0 = now_ns();
	for (i = 0; i < l; i++) {
		name_of(name, order[i % n], true);
		found += block_names_find(&p->names, name, NAME_LEN) != NULL;
	}
	t1 = now_ns();
	if (found != l)
		die("a name was found that nobody has");
	printf("miss      %.1f ns\n", (double)(t1 - t0) / (double)l);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		name_of(name, order[i], false);
		if (dpool_unpublish(p, name, NAME_LEN) != 0)
			die("unpublish refused");
	}
	t1 = now_ns();
	printf("unpublish %.1f ns (each frees its block)\n",
	       (double)(t1 - t0) / (double)n);
	if (block_index_count(&p->blocks) != 0)
		die("blocks left");
	evict_bench(p, h, n / 2, l, offs);
	trial_bench(p, h, n / 2, 1000, offs);
	if (getloadavg(load, 3) == -1)
		load[0] = -1;
	printf("load      %.2f\n", load[0]);
	session_free(s);
	dpool_destroy(p, false);
	close(sv[0]);
	close(sv[1]);
	free(order);
	free(offs);
	return 0;
}
