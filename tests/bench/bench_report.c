/*
 * bench_report.c - the end-to-end benchmark's tables (Markdown, so a run
 * can go into docs/PERFORMANCE.md as printed), the goals against the
 * results, and the data file the plot is drawn from.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_speed.h"

#define P50_GOAL 1.2		/* poolmgr p50 ÷ floor p50, at most */
#define RATE_GOAL 0.85		/* poolmgr req/s ÷ floor req/s, 4 clients */
#define BOOST_SMALL_GOAL 3.0	/* poolmgr ÷ Boost pairs/s, small mix */
#define BOOST_LARGE_GOAL 1.0	/* ahead on the large mix */
#define BUSY_LOAD 1.0		/* a load average above this: say so */

const char *
heap_name(enum heap h)
{
	static const char *names[H_COUNT] = {
		"poolmgr, caches on", "poolmgr, caches off", "Boost.Interprocess",
		"glibc (in-process)", "mimalloc (in-process)",
	};

	return names[h];
}

static const char *
fmt_rate(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "n/a");
	else if (v >= 1e6)
		snprintf(buf, len, "%.2f M", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1f k", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
	return buf;
}

static const char *
fmt_bytes(char *buf, size_t len, uint64_t n)
{
	if (n >= 10ull << 20)
		snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
	else if (n >= 10ull << 10)
		snprintf(buf, len, "%.1f KiB", (double)n / (1 << 10));
	else
		snprintf(buf, len, "%" PRIu64 " B", n);
	return buf;
}

static const char *
fmt_ratio(char *buf, size_t len, double a, double b)
{
	if (a < 0 || b <= 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.2f×", a / b);
	return buf;
}

static void
first_line_of(const char *path, const char *key, char *out, size_t len)
{
	char line[256];
	FILE *f = fopen(path, "r");

	snprintf(out, len, "?");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		char *v;

		if (strncmp(line, key, strlen(key)) != 0 ||
		    (v = strchr(line, ':')) == NULL)
			continue;
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		break;
	}
	fclose(f);
}

void
report_machine(void)
{
	char cpu[128], mem[64], when[64];
	struct utsname u;
	time_t t = time(NULL);

	uname(&u);
	first_line_of("/proc/cpuinfo", "model name", cpu, sizeof cpu);
	first_line_of("/proc/meminfo", "MemTotal", mem, sizeof mem);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M %Z", localtime(&t));
	printf("# poolmgr end to end: %s\n\n", when);
	printf("Machine: %s %s %s, %s, %ld CPUs, %s; load average %.2f at "
	       "start%s.\n\n", u.sysname, u.release, u.machine, cpu,
	       sysconf(_SC_NPROCESSORS_ONLN), mem, load_avg(),
	       load_avg() > BUSY_LOAD ? " (other processes are busy: "
	       "timings may be noisy)" : "");
}

static void
lat_cells(const struct lat *l)
{
	char b[32];

	if (!l->ok)
		printf(" n/a | n/a | n/a |");
	else
		printf(" %.1f | %.1f | %s |", l->p50, l->p99,
		       fmt_rate(b, sizeof b, l->rate));
}

void
report_floor(const struct results *r)
{
	static const int clients[2] = { 1, 4 };
	char a[32], b[32];

	printf("## 1. Floor: request/reply over a SOCK_SEQPACKET Unix socket\n\n"
	       "Echo: a 16-byte request sent back by a libevent server with "
	       "no logic.  poolmgr: pool_alloc of 64 B or pool_free of it, "
	       "client caches off, each one round trip.  Latency per "
	       "request (µs), requests per second from all clients.\n\n");
	printf("| clients | echo p50 | echo p99 | echo req/s | poolmgr p50 | "
	       "poolmgr p99 | poolmgr req/s | p50 ÷ floor | req/s ÷ floor "
	       "|\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < 2; i++) {
		printf("| %d |", clients[i]);
		lat_cells(&r->echo[i]);
		lat_cells(&r->pm[i]);
		printf(" %s | %s |\n",
		       fmt_ratio(a, sizeof a, r->pm[i].ok ? r->pm[i].p50 : -1,
				 r->echo[i].ok ? r->echo[i].p50 : -1),
		       fmt_ratio(b, sizeof b, r->pm[i].ok ? r->pm[i].rate : -1,
				 r->echo[i].ok ? r->echo[i].rate : -1));
	}
	printf("\n");
}

static void
heap_table(const struct results *r, enum mix m)
{
	char b[32];

	printf("| processes |");
	for (int h = 0; h < H_COUNT; h++)
		printf(" %s |", heap_name((enum heap)h));
	printf(" caches on ÷ Boost |\n|---:|");
	for (int h = 0; h <= H_COUNT; h++)
		printf("---:|");
	printf("\n");
	for (int k = 0; k < NCOUNTS; k++) {
		printf("| %d |", proc_counts[k]);
		for (int h = 0; h < H_COUNT; h++)
			printf(" %s |", fmt_rate(b, sizeof b, r->rate[m][h][k]));
		printf(" %s |\n", fmt_ratio(b, sizeof b, r->rate[m][H_PM_ON][k],
					    r->rate[m][H_BOOST][k]));
	}
	printf("| 2 threads, one handle | %s |",
	       fmt_rate(b, sizeof b, r->threads[m][0]));
	printf(" %s | | | | |\n\n", fmt_rate(b, sizeof b, r->threads[m][1]));
}

void
report_heap(const struct results *r)
{
	printf("## 2, 3. Shared heap, many processes: alloc+free pairs per "
	       "second, all processes together\n\n"
	       "Each process keeps 1000 live blocks, frees a random one and "
	       "allocates a new one, writing 16 bytes into each block; "
	       "poolmgr processes share one pool, Boost processes one "
	       "segment (%s); glibc and mimalloc (%s) run the same loop in "
	       "each process on its own heap, as a yardstick.  Each cell is "
	       "the median of %d runs of %.2f s.\n\n",
	       r->boost_note[0] ? r->boost_note : "n/a", r->mi_note,
	       r->heap_runs, r->heap_secs);
	for (int m = 0; m < MIX_COUNT; m++) {
		printf("### Sizes uniform %s\n\n", mix_name((enum mix)m));
		heap_table(r, (enum mix)m);
	}
}

static void
cpu_row(const char *what, const char *unit, const struct cpu *c)
{
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);

	if (c->secs < 0 || c->work == 0)
		printf("| %s | n/a | | |\n", what);
	else if (c->secs < tick)	/* less than the clock can see */
		printf("| %s | < %.2f | %" PRIu64 " %s | < %.3f |\n", what,
		       tick, c->work, unit, tick * 1e6 / (double)c->work);
	else
		printf("| %s | %.2f | %" PRIu64 " %s | %.2f |\n", what, c->secs,
		       c->work, unit, c->secs * 1e6 / (double)c->work);
}

void
report_cpu(const struct results *r)
{
	char what[160];

	printf("## 4. Server CPU at saturation\n\nutime+stime of the "
	       "server process (/proc/PID/stat, %ld ticks a second) from "
	       "just before the clients start to just after the last one "
	       "ends, divided by the work done.\n\n| server, load | CPU s | "
	       "work | CPU µs each |\n|---|---:|---:|---:|\n",
	       sysconf(_SC_CLK_TCK));
	cpu_row("echo server, 4 clients", "requests", &r->echo_cpu);
	cpu_row("poolmgrd, 4 clients, single alloc or free, caches off",
		"requests", &r->pm_cpu);
	for (int m = 0; m < MIX_COUNT; m++)
		for (int c = 0; c < 2; c++) {
			snprintf(what, sizeof what, "poolmgrd, 4 processes, "
				 "window %s, caches %s", mix_name((enum mix)m),
				 c ? "off" : "on");
			cpu_row(what, "pairs", &r->pair_cpu[m][c]);
		}
	printf("\n");
}

static void
mem_row(const char *mix, const char *heap, const struct mem *m, bool trim)
{
	char a[32], b[32], c[32], d[32];

	if (!m->ok) {
		printf("| %s | %s | n/a | n/a | n/a |\n", mix, heap);
		return;
	}
	fmt_bytes(a, sizeof a, m->live);
	if (m->cached)
		snprintf(a + strlen(a), sizeof a - strlen(a), " (%s cached)",
			 fmt_bytes(d, sizeof d, m->cached));
	printf("| %s | %s | %s | %s | %s |\n", mix, heap, a,
	       fmt_bytes(b, sizeof b, m->freed),
	       trim ? fmt_bytes(c, sizeof c, m->trimmed) : "no trim");
}

void
report_memory(const struct results *r)
{
	printf("## 5. Memory: resident bytes, 4 processes with 1000 live "
	       "blocks each\n\npoolmgr: the pool's committed_bytes "
	       "(pool_stats); Boost: the blocks of the segment's file in "
	       "/dev/shm.\n\n| sizes | heap | windows live | all freed, "
	       "clients gone | after pool_trim |\n|---|---|---:|---:|---:|\n");
	for (int m = 0; m < MIX_COUNT; m++) {
		const char *mix = mix_name((enum mix)m);

		mem_row(mix, "poolmgr, caches on", &r->mem_pm[m][0], true);
		mem_row(mix, "poolmgr, caches off", &r->mem_pm[m][1], true);
		mem_row(mix, "Boost segment", &r->mem_boost[m], false);
	}
	printf("\n");
}

static const char *
verdict(bool ok, bool known)
{
	return !known ? "**not measured**" : ok ? "**met**" : "**missed**";
}

void
report_goals(const struct results *r)
{
	const double (*rate)[H_COUNT][NCOUNTS] = r->rate;
	int k4 = NCOUNTS - 1;

	printf("## Goals\n\n| goal | result |\n|---|---|\n");
	for (int i = 0; i < 2; i++) {
		bool known = r->pm[i].ok && r->echo[i].ok;
		double q = known ? r->pm[i].p50 / r->echo[i].p50 : 0;

		printf("| p50 within %.1f× of the floor, %d client%s | %s: "
		       "%.2f× (%.1f µs against %.1f µs) |\n", P50_GOAL,
		       i ? 4 : 1, i ? "s" : "", verdict(q <= P50_GOAL, known),
		       q, r->pm[i].p50, r->echo[i].p50);
	}
	{
		bool known = r->pm[1].ok && r->echo[1].ok && r->echo[1].rate > 0;
		double q = known ? r->pm[1].rate / r->echo[1].rate : 0;

		printf("| requests/s with 4 clients ≥ %.2f× the floor | %s: "
		       "%.2f× (%.0f against %.0f) |\n", RATE_GOAL,
		       verdict(q >= RATE_GOAL, known), q, r->pm[1].rate,
		       r->echo[1].rate);
	}
	for (int m = 0; m < MIX_COUNT; m++) {
		double goal = m == MIX_SMALL ? BOOST_SMALL_GOAL
					     : BOOST_LARGE_GOAL;
		double pm = rate[m][H_PM_ON][k4], bo = rate[m][H_BOOST][k4];
		bool known = pm >= 0 && bo > 0;
		double q = known ? pm / bo : 0;
		bool met = m == MIX_SMALL ? q >= goal : q > goal;

		printf("| %s Boost's pairs/s at 4 processes, %s | %s: %.2f× "
		       "(%.0f against %.0f pairs/s) |\n",
		       m == MIX_SMALL ? "≥ 3×" : "ahead of", mix_name((enum mix)m),
		       verdict(met, known),
		       q, pm, bo);
	}
	printf("\n");
}

int
report_data(const struct results *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	fprintf(f, "# pairs/s against processes; index 0: sizes %s, "
		"index 1: sizes %s\n", mix_name(MIX_SMALL),
		mix_name(MIX_LARGE));
	for (int m = 0; m < MIX_COUNT; m++) {
		fprintf(f, "processes");
		for (int h = 0; h < H_COUNT; h++)
			fprintf(f, " \"%s\"", heap_name((enum heap)h));
		fprintf(f, "\n");
		for (int k = 0; k < NCOUNTS; k++) {
			fprintf(f, "%d", proc_counts[k]);
			for (int h = 0; h < H_COUNT; h++) {
				double v = r->rate[m][h][k];

				if (v < 0)
					fprintf(f, " NaN");
				else
					fprintf(f, " %.0f", v);
			}
			fprintf(f, "\n");
		}
		fprintf(f, "\n\n");
	}
	return fclose(f) == 0 ? 0 : -1;
}

void
report_threads(const struct results *r)
{
	char a[32], b[32], c[32];

	printf("## Threads: 2 processes with a handle each against 2 threads "
	       "on one handle, caches on\n\n"
	       "Pairs per second as in the shared-heap table, and the blocks "
	       "the daemon allocated and freed per pair (refills, evictions, "
	       "requests the cache did not serve) in the last run.\n\n");
	printf("| sizes | 2 processes | 2 threads | threads ÷ processes | "
	       "daemon blocks/pair, processes | threads |\n"
	       "|---|---:|---:|---:|---:|---:|\n");
	for (int m = 0; m < MIX_COUNT; m++) {
		printf("| %s | %s |", mix_name((enum mix)m),
		       fmt_rate(a, sizeof a, r->rate[m][H_PM_ON][1]));
		printf(" %s | %s |", fmt_rate(b, sizeof b, r->threads[m][0]),
		       fmt_ratio(c, sizeof c, r->threads[m][0],
				 r->rate[m][H_PM_ON][1]));
		printf(" %.4f | %.4f |\n", r->thread_blocks[m][0],
		       r->thread_blocks[m][1]);
	}
	printf("\n");
}
