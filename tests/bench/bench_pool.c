/*
 * bench_pool.c - poolmgr for the benchmarks (see bench_pool.h).
 *
 * HAVE_POOL_SET_CACHE is set by the Makefile when client/poolclient.h
 * declares pool_set_cache; without it, handles have no client cache and
 * "caches on" and "caches off" are the same thing.
 */
#include <errno.h>
#include <string.h>

#include "bench_pool.h"

bool
pm_has_cache_switch(void)
{
#ifdef HAVE_POOL_SET_CACHE
	return true;
#else
	return false;
#endif
}

/* On is the library's default budget: nothing to do. */
int
pm_set_cache(struct pool *p, bool on)
{
	if (on)
		return 0;
#ifdef HAVE_POOL_SET_CACHE
	return pool_set_cache(p, 0);
#else
	(void)p;
	return -ENOTSUP;
#endif
}

uint64_t
pm_cached_bytes(const struct pool_stats *st)
{
#ifdef HAVE_POOL_SET_CACHE
	return st->client_cached_bytes;
#else
	(void)st;
	return 0;
#endif
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
