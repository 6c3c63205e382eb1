/*
 * bench_pool.c - poolmgr for the benchmarks (see bench_pool.h).
 *
 * "Caches on" leaves the handle as pool_open made it: the library's
 * default budget, or the one $POOLMGR_CLIENT_CACHE sets.
 */
#include <errno.h>
#include <string.h>

#include "bench_pool.h"

int
pm_set_cache(struct pool *p, bool on)
{
	return on ? 0 : pool_set_cache(p, 0);
}

int
pm_open(struct pm *m, const char *sock, const char *pool, bool cache)
{
	int rc;

	memset(m, 0, sizeof *m);
	if ((rc = pool_connect(sock, &m->c)) != 0)
		return rc;
	if ((rc = pool_open(m->c, pool, &m->p)) == 0 &&
	    (rc = pm_set_cache(m->p, cache)) == 0)
		return 0;
	pm_close(m);
	return rc;
}

void
pm_close(struct pm *m)
{
	pool_close(m->p);
	pool_disconnect(m->c);
	m->p = NULL;
	m->c = NULL;
}

static int
pm_alloc(void *ctx, size_t size, uint64_t *h, void **ptr)
{
	struct pool *p = ctx;
	pool_off_t off;
	int rc = pool_alloc(p, size, &off);

	if (rc != 0)
		return rc;
	*h = off;
	*ptr = pool_ptr(p, off);
	return *ptr != NULL ? 0 : -EFAULT;
}

static int
pm_free(void *ctx, uint64_t h)
{
	return pool_free(ctx, h);
}

void
pm_heap_ops(struct pm *m, struct heap_ops *ops)
{
	ops->ctx = m->p;
	ops->alloc = pm_alloc;
	ops->free = pm_free;
}

int
pm_create(struct pool_conn *c, const char *name)
{
	struct pool_create_opts o = { .max_size = BENCH_POOL_SIZE };

	return pool_create(c, name, &o);
}

int
pm_destroy(struct pool_conn *c, const char *name)
{
	return pool_destroy_force(c, name);
}
