/*
 * bench_hugepage.c - what a pool on 2 MiB huge pages costs and saves
 * against one on system pages (make bench).
 *
 * For each kind, a pool of POOL_MIB is created (the daemon's CPU time for
 * the create: on huge pages it reserves every page), one block over most
 * of it is allocated and written once by a client (its page faults and
 * CPU time: first touch), and then read at random, 8 bytes at a time,
 * READS times (its CPU time: what missing the TLB costs).  CPU times, not
 * wall clock (getrusage, /proc/PID/schedstat), so the machine's load moves
 * them little; the load is printed too.
 *
 * It raises the kernel's count of 2 MiB pages by what it needs (as root)
 * and puts it back; without them, only the system pages are measured.
 * Then the same on one 1 GiB page where the kernel offers them (the pool
 * rounds up to that one page), raising and restoring that count too: the
 * kernel needs a free, contiguous GiB for it.
 *
 * Usage: bench_hugepage [--poolmgrd PATH] [--reads N]
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolclient.h"

#include "bench_daemon.h"
#include "bench_util.h"

#define POOL_MIB 512
#define BLOCK_BYTES ((POOL_MIB - 2) * (1ull << 20))
#define HUGE (2ull << 20)
#define NR_HUGE "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define GIANT (1ull << 30)
#define NR_GIANT "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

static double
cpu_sec(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

static long
read_count(const char *path)
{
	long n = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static int
write_count(const char *path, long n)
{
	FILE *f = fopen(path, "w");
	int bad;

	if (!f)
		return -1;
	bad = fprintf(f, "%ld\n", n) < 0;
	return fclose(f) != 0 || bad ? -1 : 0;
}

/* One kind of pool: create, first touch, random reads; one line. */
static int
run(struct pool_conn *c, pid_t daemon, const char *name, uint64_t page,
    unsigned long reads)
{
	struct pool_create_opts o = {
		.max_size = (uint64_t)POOL_MIB << 20, .page_size = page,
	};
	struct rusage r0, r1, r2;
	double d0, create_cpu, load = load_avg();
	volatile uint64_t sum = 0;
	struct rng g;
	struct pool *p;
	pool_off_t off;
	uint64_t *w;
	unsigned long i;

	d0 = proc_cpu_sec(daemon);
	if (pool_create(c, name, &o) != 0)
		return -1;
	create_cpu = proc_cpu_sec(daemon) - d0;
	if (pool_open(c, name, &p) != 0 ||
	    pool_alloc(p, BLOCK_BYTES, &off) != 0)
		return -1;
	w = pool_ptr(p, off);
	getrusage(RUSAGE_SELF, &r0);
	memset(w, 1, BLOCK_BYTES);
	getrusage(RUSAGE_SELF, &r1);
	rng_seed(&g, 42, 0);
	for (i = 0; i < reads; i++)
		sum += w[rng_below(&g, BLOCK_BYTES / 8)];
	getrusage(RUSAGE_SELF, &r2);
	printf("%-10s %10.4f %10ld %10.3f %12.3f %8.2f\n", name, create_cpu,
	       r1.ru_minflt - r0.ru_minflt, cpu_sec(&r1) - cpu_sec(&r0),
	       cpu_sec(&r2) - cpu_sec(&r1), load);
	fflush(stdout);
	pool_free(p, off);
	pool_close(p);
	return pool_destroy(c, name);
}

int
main(int argc, char **argv)
{
	const char *bin = "build/poolmgrd";
	unsigned long reads = 20000000;
	long old, old_giant, need = POOL_MIB / 2;
	struct pool_conn *c;
	struct daemon d;
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--poolmgrd") && i + 1 < argc)
			bin = argv[++i];
		else if (!strcmp(argv[i], "--reads") && i + 1 < argc)
			reads = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_hugepage [--poolmgrd "
				"PATH] [--reads N]\n");
			return 2;
		}
	}
	old = read_count(NR_HUGE);
	if (old >= 0 && write_count(NR_HUGE, old + need) != 0)
		old = -1;
	if (daemon_start(&d, bin) != 0)
		goto out;
	if (pool_connect(d.sock, &c) != 0)
		goto stop;
	printf("a %d MiB pool, one block of %llu MiB written once, then %lu "
	       "random 8-byte reads:\n", POOL_MIB,
	       (unsigned long long)(BLOCK_BYTES >> 20), reads);
	printf("%-10s %10s %10s %10s %12s %8s\n", "pages", "create s",
	       "faults", "touch s", "reads s", "load");
	if (run(c, d.pid, "system", 0, reads) != 0)
		goto done;
	if (old < 0 || read_count(NR_HUGE) < old + need)
		printf("%-10s (no %ld free 2 MiB pages: not measured)\n",
		       "2MiB", need);
	else if (run(c, d.pid, "2MiB", HUGE, reads) != 0)
		goto done;
	if (old >= 0) {			/* the 2 MiB pages are done with */
		write_count(NR_HUGE, old);
		old = -1;
	}
	old_giant = read_count(NR_GIANT);
	if (old_giant >= 0 && write_count(NR_GIANT, old_giant + 1) != 0)
		old_giant = -1;
	if (old_giant < 0 || read_count(NR_GIANT) < old_giant + 1)
		printf("%-10s (no free 1 GiB page: not measured)\n", "1GiB");
	else if (run(c, d.pid, "1GiB", GIANT, reads) != 0)
		printf("%-10s (the pool could not be made or used)\n",
		       "1GiB");
	if (old_giant >= 0)
		write_count(NR_GIANT, old_giant);
	rc = 0;
done:
	pool_disconnect(c);
stop:
	daemon_stop(&d);
out:
	if (old >= 0)
		write_count(NR_HUGE, old);
	return rc;
}
