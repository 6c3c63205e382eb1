/*
 * pool.c - libpoolclient's API for the single blocks of an open pool, and
 * the call path every request about blocks takes.
 *
 * Allocating and freeing one block at a time, retaining and persisting
 * it, asking its usable size, turning offsets into pointers and back, and
 * the handle's cache (pool_set_cache, pool_flush).  Batches (batch.c),
 * allocations that wait (alloc_wait.c) and reallocs (realloc.c) have
 * files of their own, but go through what is here: client_call, the
 * checks of a block a reply names, a single Alloc, Free, Retain or
 * Persist, and the retry after the cache is given back for room.
 * Connections, opening and closing pools (open.c), and the questions
 * about a whole pool (stats.c: statistics, trim, check; lists.c) are not.
 *
 * Every call is one request and one reply (conn.c), except the small
 * allocations and frees that the handle's cache serves (cache.c); a
 * request through a caching handle carries the cache's size, so the
 * daemon's statistics can tell cached bytes from bytes in use.  The daemon
 * is the authority on every rule, so arguments are checked here only where
 * a bad one could not be sent (a NULL pointer, an overflowing size) or
 * where the header defines the answer.  What the daemon says is checked in
 * turn: a reply that lacks its body or names bytes outside the pool is
 * -EPROTO, never a wild pointer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cache.h"
#include "client_internal.h"

/* The cache's size rides on every request through a caching handle. */
void
client_report(struct pool *p, Poolmgr__Request *req)
{
	if (p->cache != NULL) {
		req->cache_handle = p->handle;
		req->cache_bytes = cache_bytes(p);
	}
}

/* A request about handle p: with its cache's report, if it has a cache. */
int
client_call(struct pool *p, Poolmgr__Request *req,
    Poolmgr__Reply__BodyCase want, Poolmgr__Reply **replyp)
{
	client_report(p, req);
	return conn_call(p->conn, req, want, replyp, NULL);
}

/*
 * Check a block the daemon handed out: inside the pool, at least want
 * bytes, at the start of a granule, and aligned as asked.  Anything else
 * would let pool_ptr point outside the mapping.
 */
int
client_check_block(struct pool *p, const Poolmgr__AllocReply *a,
    uint64_t want, uint64_t align)
{
	/*
	 * An offset past the end would wrap the subtraction.  One at the end
	 * is refused by the usable size alone, whatever it says (more than
	 * the 0 bytes left, or 0, no block): the >= says what is meant.
	 */
	if (a->offset >= p->size || a->usable_size > p->size - a->offset)
		return -EPROTO;
	if (a->usable_size < want || a->usable_size == 0)
		return -EPROTO;
	/*
	 * Every block starts at a granule (the share map has a bit per
	 * granule).  The cache serves pool_alloc_aligned up to the
	 * granularity from blocks of refills, which are checked with no
	 * align: one inside a granule would be handed out misaligned.
	 */
	if ((a->offset & (p->granularity - 1)) != 0)
		return -EPROTO;
	if (align != 0 && (a->offset & (align - 1)) != 0)
		return -EPROTO;
	if (a->usable_size > SIZE_MAX)
		return -EPROTO;
	return 0;
}

/*
 * Alloc{size, align, zero, nmemb} on handle p, with what the caller set
 * in al besides (a wait, persist).  nmemb is 1 for a plain allocation:
 * the daemon multiplies it only with zero, but 1 reads right either way.
 * *persisted (if not NULL): the reply says the block is persistent.
 */
int
client_alloc_send(struct pool *p, Poolmgr__Alloc *al, uint64_t size,
    uint64_t align, int zero, uint64_t nmemb, pool_off_t *out,
    uint64_t *usable, int *persisted)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	al->handle = p->handle;
	al->size = size;
	al->align = align;
	al->zero = zero;
	al->nmemb = nmemb;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = al;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC, &reply);
	if (error != 0)
		return error;
	client_kept_served(p);

	/* The caller checked that size * nmemb does not overflow. */
	error = client_check_block(p, reply->alloc, size * nmemb, align);
	if (error == 0) {
		*out = reply->alloc->offset;
		*usable = reply->alloc->usable_size;
		if (persisted != NULL)
			*persisted = reply->alloc->persisted;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/* An Alloc that does not wait; retry: the client will ask again. */
int
client_alloc_once(struct pool *p, uint64_t size, uint64_t align, int zero,
    uint64_t nmemb, int retry, pool_off_t *out, uint64_t *usable)
{
	Poolmgr__Alloc	al = POOLMGR__ALLOC__INIT;

	al.retry_follows = retry;
	return client_alloc_send(p, &al, size, align, zero, nmemb, out,
	    usable, NULL);
}

/*
 * Out of room (-ENOMEM, -EDQUOT): give back the room the handle's cache
 * holds, and whether to try again: whenever it has a cache.  That room is
 * its blocks, those other threads' flushes had on their way (one may be
 * in the air with the very blocks the request needs: this waits until the
 * daemon has them, or the flush failed and they are flushed again), and
 * the slack of blocks it served from larger ones.  What the kernel would
 * not let go stays cached, and the retry goes without it.
 */
int
client_flush_for(struct pool *p, int error)
{
	if (p->cache == NULL || (error != -ENOMEM && error != -EDQUOT))
		return 0;
	(void)cache_flush(p);
	(void)cache_give_slack(p);
	return 1;
}

/*
 * Will a request refused for want of room be tried again?  Whenever the
 * handle has a cache: even one empty now may hold blocks by the time the
 * refusal comes back (other threads free into it), or have them on their
 * way, and a retry is only one more round trip on a path that is slow
 * anyway.  The request then says so (retry_follows), so that the daemon
 * does not count a refusal the program never sees.
 */
int
client_will_retry(struct pool *p)
{
	return p->cache != NULL;
}

/*
 * The daemon's words for a refusal at the uid's bound of persistent
 * blocks in the pool (max_persistent_blocks_per_uid), an -EDQUOT as a
 * quota's is, of a persist (Alloc.persist, AllocBatch.persist).
 */
#define CLIENT_PERSIST_BOUND_WORDS	"; max_persistent_blocks_per_uid is "

/*
 * Can giving the cache back help a request refused with error?  Room
 * (-ENOMEM) and the quotas (-EDQUOT): the cache's blocks count in the
 * pool and against them.  Not the bound of persistent blocks: it counts
 * blocks the uid made persistent, none of which a cache keeps, and a
 * flush would only empty the cache (the daemon counts that refusal, as
 * the program sees it, whatever retry_follows said).
 */
static int
client_flush_helps(int error)
{
	if (error == -EDQUOT)
		return strstr(pool_last_message(error),
		    CLIENT_PERSIST_BOUND_WORDS) == NULL;
	return error == -ENOMEM;
}

/* After a refusal: give the cache back, and whether to try again. */
int
client_retry(struct pool *p, int error, int promised)
{
	return promised && client_flush_helps(error) &&
	    client_flush_for(p, error);
}

/*
 * An allocation from the daemon (after flushing the cache, if the daemon
 * finds no room), then known to the cache so that its free can be kept.
 */
static int
client_alloc_daemon(struct pool *p, uint64_t size, uint64_t align, int zero,
    uint64_t nmemb, pool_off_t *out)
{
	uint64_t	usable;
	int		error, retry;

	retry = client_will_retry(p);
	error = client_alloc_once(p, size, align, zero, nmemb, retry, out,
	    &usable);
	if (error != 0 && client_retry(p, error, retry))
		error = client_alloc_once(p, size, align, zero, nmemb, 0, out,
		    &usable);
	if (error == 0)
		cache_track(p, *out, usable);
	return error;
}

/*
 * An allocation: from the cache when it can serve it, else from the
 * daemon.  Inline in this file's entry points, the daemon's part apart:
 * a cache hit makes no more calls than it must.
 */
inline int
client_alloc(struct pool *p, uint64_t size, uint64_t align, int zero,
    uint64_t nmemb, pool_off_t *out)
{
	int	error;

	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if (align <= p->granularity && nmemb == 1 &&
	    (error = cache_alloc(p, size, zero, out)) != 0)
		return error > 0 ? 0 : error;
	return client_alloc_daemon(p, size, align, zero, nmemb, out);
}

/* A Retain that says whether the library will ask again (retry_follows). */
static int
client_retain_once(struct pool *p, pool_off_t off, int retry)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Retain		rt = POOLMGR__RETAIN__INIT;

	rt.handle = p->handle;
	rt.offset = off;
	rt.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_RETAIN;
	req.retain = &rt;
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}

/*
 * Free, Retain and Persist: the same fields, no reply body.  A Retain is
 * client_retain_once's alone to make, here one that says none follows.
 */
int
client_block_op(struct pool *p, Poolmgr__Request__BodyCase body,
    pool_off_t off)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Free		fr = POOLMGR__FREE__INIT;
	Poolmgr__Persist	ps = POOLMGR__PERSIST__INIT;

	req.body_case = body;
	switch (body) {
	case POOLMGR__REQUEST__BODY_FREE:
		fr.handle = p->handle;
		fr.offset = off;
		req.free = &fr;
		break;
	case POOLMGR__REQUEST__BODY_RETAIN:
		return client_retain_once(p, off, 0);
	case POOLMGR__REQUEST__BODY_PERSIST:
		ps.handle = p->handle;
		ps.offset = off;
		req.persist = &ps;
		break;
	default:
		return -EINVAL;
	}
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}

/*
 * Why the handle no longer works, if it does not; else why blocks stayed
 * in the cache, if they did (a flush may be tried again).
 */
static int
client_flushed(struct pool *p, int error)
{
	int	check = cache_check(p);

	return check != 0 ? check : error;
}

POOL_API int
pool_set_cache(struct pool *p, size_t budget)
{
	if (p == NULL)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	/* No request: the library's own answer, with no earlier words. */
	if (p->cache == NULL)
		return budget == 0 ? 0 : conn_local_failure(-EOPNOTSUPP);
	return client_flushed(p, cache_set_budget(p, budget));
}

POOL_API int
pool_flush(struct pool *p)
{
	if (p == NULL)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	return client_flushed(p, cache_empty(p));
}

POOL_API int
pool_alloc(struct pool *p, size_t size, pool_off_t *out)
{
	if (out == NULL)
		return conn_local_failure(-EINVAL);
	*out = POOL_OFF_NONE;
	if (p == NULL || size == 0)
		return conn_local_failure(-EINVAL);
	return client_alloc(p, size, 0, 0, 1, out);
}

POOL_API int
pool_alloc_aligned(struct pool *p, size_t size, size_t align,
    pool_off_t *out)
{
	if (out == NULL)
		return conn_local_failure(-EINVAL);
	*out = POOL_OFF_NONE;
	if (p == NULL || size == 0)
		return conn_local_failure(-EINVAL);
	if (align == 0 || (align & (align - 1)) != 0)
		return conn_local_failure(-EINVAL);
	/*
	 * Past the mapping's alignment an aligned offset is no aligned
	 * address: the daemon would grant it (offset 0 is aligned to
	 * anything), and the program would get a misaligned pointer.
	 */
	if (align > client_map_align(p->size, p->page_size))
		return conn_local_failure(-EINVAL);
	return client_alloc(p, size, align, 0, 1, out);
}

POOL_API int
pool_calloc(struct pool *p, size_t nmemb, size_t size, pool_off_t *out)
{
	if (out == NULL)
		return conn_local_failure(-EINVAL);
	*out = POOL_OFF_NONE;
	if (p == NULL || nmemb == 0 || size == 0)
		return conn_local_failure(-EINVAL);
	/* Checked here as well: client_alloc multiplies them. */
	if (nmemb > UINT64_MAX / size)
		return conn_local_failure(-EOVERFLOW);
	/* One size for the cache; the daemon checks nmemb * size itself. */
	if (nmemb == 1 || nmemb * size <= CACHE_MAX_BLOCK)
		return client_alloc(p, nmemb * size, 0, 1, 1, out);
	return client_alloc(p, size, 0, 1, nmemb, out);
}

POOL_API int
pool_free(struct pool *p, pool_off_t off)
{
	int	error;

	if (p == NULL)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if (off == POOL_OFF_NONE)
		return 0;
	if ((error = cache_free(p, off)) != 0)
		return error > 0 ? 0 : error;
	return client_block_op(p, POOLMGR__REQUEST__BODY_FREE, off);
}

/*
 * What a call about block off of handle p checks first: both given, and
 * a connection not inherited across fork.
 */
static int
client_block_args(struct pool *p, pool_off_t off)
{
	if (p == NULL || off == POOL_OFF_NONE)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	return 0;
}

POOL_API int
pool_retain(struct pool *p, pool_off_t off)
{
	uint64_t	usable;
	int		error, retry;

	if ((error = client_block_args(p, off)) != 0 ||
	    (error = cache_known(p, off, &usable)) != 0)
		return error;
	/* A retain counts against the quota: the cache gives way first. */
	retry = client_will_retry(p);
	error = client_retain_once(p, off, retry);
	if (error != 0 && client_retry(p, error, retry))
		error = client_retain_once(p, off, 0);
	return error;
}

POOL_API int
pool_free_persisted(struct pool *p, pool_off_t off, uint64_t min_age_ms)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__FreePersisted	fp = POOLMGR__FREE_PERSISTED__INIT;
	int			error;

	if ((error = client_block_args(p, off)) != 0)
		return error;
	/* An older daemon would refuse it as unknown: ask it nothing. */
	if ((p->conn->features & CONN_FEATURE_FREE_PERSISTED) == 0)
		return conn_local_failure(-EOPNOTSUPP);
	fp.handle = p->handle;
	fp.offset = off;
	fp.min_age_ms = min_age_ms;
	req.body_case = POOLMGR__REQUEST__BODY_FREE_PERSISTED;
	req.free_persisted = &fp;
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}

POOL_API int
pool_persist(struct pool *p, pool_off_t off)
{
	uint64_t	usable;
	int		error;

	if ((error = client_block_args(p, off)) != 0 ||
	    (error = cache_known(p, off, &usable)) != 0)
		return error;
	return client_block_op(p, POOLMGR__REQUEST__BODY_PERSIST, off);
}

POOL_API int
pool_usable_size(struct pool *p, pool_off_t off, size_t *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize	 us = POOLMGR__USABLE_SIZE__INIT;
	Poolmgr__Reply		*reply;
	uint64_t		 usable;
	int			 error;

	if (out == NULL)
		return conn_local_failure(-EINVAL);
	/*
	 * A block this handle holds alone is known here, size and all; but
	 * answered as a cache hit is, only while the handle works: a pool
	 * destroyed under it (-EBADF) or a daemon gone (-ECONNRESET) ends
	 * what the table remembers, as the daemon would say.
	 */
	if ((error = client_block_args(p, off)) != 0 ||
	    (error = cache_known(p, off, &usable)) != 0)
		return error;
	if (usable != 0) {
		if ((error = cache_check(p)) != 0)
			return error;
		*out = usable;
		return 0;
	}

	us.handle = p->handle;
	us.offset = off;
	req.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	req.usable_size = &us;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC, &reply);
	if (error != 0)
		return error;

	/* The answer must be about the block we asked about. */
	if (reply->alloc->offset != off)
		error = -EPROTO;
	else if ((error = client_check_block(p, reply->alloc, 1, 0)) == 0)
		*out = reply->alloc->usable_size;
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

POOL_API void *
pool_ptr(struct pool *p, pool_off_t off)
{
	if (p == NULL || off == POOL_OFF_NONE || off >= p->size)
		return NULL;
	return p->base + off;
}

POOL_API pool_off_t
pool_offset_of(struct pool *p, const void *ptr)
{
	uintptr_t	a = (uintptr_t)ptr, base;

	if (p == NULL || ptr == NULL)
		return POOL_OFF_NONE;
	base = (uintptr_t)p->base;
	if (a < base || a - base >= p->size)
		return POOL_OFF_NONE;
	return a - base;
}

POOL_API uint64_t
pool_size(struct pool *p)
{
	if (p == NULL)
		return 0;
	return p->size;
}
