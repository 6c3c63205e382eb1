/*
 * bench_probe.c - the prober (bench_probe.h).
 */
#include <unistd.h>

#include "bench_probe.h"
#include "bench_util.h"
#include "poolclient.h"

void
probe_run(const char *sock, struct probe *pr)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	if (pool_connect(sock, &c) || pool_open(c, "probe", &p) ||
	    pool_set_cache(p, 0)) {
		pr->failed = 1;
		pr->ready = 1;
		_exit(1);
	}
	pr->ready = 1;
	while (!pr->stop && pr->n < PROBE_SAMPLES) {
		uint64_t t = now_ns();

		if (pool_alloc(p, 64, &off) || pool_free(p, off)) {
			pr->failed = 1;
			break;
		}
		if (pr->watch)
			pr->us[pr->n++] = (uint32_t)((now_ns() - t) / 1000);
	}
	pool_close(p);
	pool_disconnect(c);
	_exit(0);
}
