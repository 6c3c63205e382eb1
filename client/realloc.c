/*
 * realloc.c - libpoolclient's pool_realloc, and the shrink in place that
 * gives back a block's slack for the cache (client_shrink).
 *
 * It has a file apart from the other single-block requests (pool.c)
 * because a realloc may move its block, and a big one the library moves
 * itself, in the calling process, rather than keep the daemon's only
 * thread copying (client_move).
 */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "client_internal.h"

/* Reallocs to this size or more that must move are moved by the library. */
#define CLIENT_MOVE_MIN		((size_t)1 << 20)

static int
client_realloc_once(struct pool *p, pool_off_t off, size_t size, int in_place,
    int retry, pool_off_t *out, uint64_t *usable)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc	 ra = POOLMGR__REALLOC__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	ra.handle = p->handle;
	ra.offset = off;
	ra.size = size;
	ra.in_place = in_place;
	ra.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &ra;
	error = client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, &reply);
	if (error != 0)
		return error;

	/* Size 0 freed the block: the offset in the reply, if any, is NONE. */
	if (size == 0) {
		*out = POOL_OFF_NONE;
		*usable = 0;

	} else if (reply->body_case != POOLMGR__REPLY__BODY_ALLOC ||
	    reply->alloc == NULL)
		error = -EPROTO;
	else if ((error = client_check_block(p, reply->alloc, size, 0)) == 0) {
		*out = reply->alloc->offset;
		*usable = reply->alloc->usable_size;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/*
 * Give back a block's slack: a realloc that must stay in place, and that
 * the daemon refuses (-EBUSY) once another handle holds the block or it is
 * persistent, as it refuses any shrink of such a block: the others were
 * told its whole size.
 */
int
client_shrink(struct pool *p, uint64_t off, uint64_t size, uint64_t *usable)
{
	pool_off_t	noff;
	int		error;

	error = client_realloc_once(p, off, size, 0, 0, &noff, usable);
	if (error == 0 && noff != off)
		error = -EPROTO;	/* a shrink never moves */
	return error;
}

/*
 * A big block that must move is moved here, in the calling process:
 * allocated anew, copied through this mapping, the old one freed.  The
 * daemon could copy it too, but megabytes copied on its only thread would
 * keep every other client waiting (a second for 256 MiB).  When the new
 * block does not fit beside the old one (the quota counts both for a
 * moment, the daemon's move only the growth), the daemon moves it after
 * all, a release step per turn of its loop, so only this caller waits.
 */
static int
client_move(struct pool *p, pool_off_t off, size_t size, int retry,
    pool_off_t *out, uint64_t *usable)
{
	size_t		old;
	int		error;

	if ((error = pool_usable_size(p, off, &old)) != 0)
		return error;
	/* Refused for want of room, the daemon's move follows. */
	error = client_alloc_once(p, size, 0, 0, 1, 1, out, usable);
	if (error == -EDQUOT || error == -ENOMEM)
		return client_realloc_once(p, off, size, 0, retry, out,
		    usable);
	if (error != 0)
		return error;
	memcpy(p->base + *out, p->base + off, old < size ? old : size);
	if ((error = client_block_op(p, POOLMGR__REQUEST__BODY_FREE,
	    off)) != 0) {
		/* Ours a moment ago: leave the old block as it was. */
		(void)client_block_op(p, POOLMGR__REQUEST__BODY_FREE, *out);
		return error;
	}
	return 0;
}

POOL_API int
pool_realloc(struct pool *p, pool_off_t off, size_t size, pool_off_t *out)
{
	pool_off_t	noff;
	uint64_t	usable;
	int		error, retry;

	/* *out is left alone on failure: it may be the caller's only copy. */
	if (p == NULL || out == NULL)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if (off == POOL_OFF_NONE && size != 0) {
		if ((error = client_alloc(p, size, 0, 0, 1, &noff)) == 0)
			*out = noff;
		return error;
	}
	/*
	 * Forgotten before the request, not after: once the daemon has the
	 * old block free, another thread may get (and track) its offset.  A
	 * failed realloc leaves the block live but unknown to the cache,
	 * whose free then goes to the daemon: safe, if not cached.
	 */
	if (off != POOL_OFF_NONE) {
		if ((error = cache_known(p, off, &usable)) != 0)
			return error;
		cache_untrack(p, off);
	}

	retry = client_will_retry(p);
	if (off != POOL_OFF_NONE && size >= CLIENT_MOVE_MIN) {
		error = client_realloc_once(p, off, size, 1, retry, &noff,
		    &usable);
		if (error == -EAGAIN)
			error = client_move(p, off, size, retry, &noff,
			    &usable);
	} else {
		error = client_realloc_once(p, off, size, 0, retry, &noff,
		    &usable);
	}
	if (error != 0 && client_retry(p, error, retry))
		error = client_realloc_once(p, off, size, 0, 0, &noff,
		    &usable);
	if (error != 0)
		return error;
	if (noff != POOL_OFF_NONE)
		cache_track(p, noff, usable);
	*out = noff;
	return 0;
}
