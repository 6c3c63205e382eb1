/*
 * batch.c - libpoolclient's batches: pool_alloc_batch,
 * pool_alloc_batch_flags and pool_free_batch, and the AllocBatch and
 * FreeBatch the cache sends past itself for its refills and flushes
 * (cache.c).
 *
 * A batch is one request for up to POOL_BATCH_MAX blocks, all or nothing.
 * It has a file apart from the single blocks (pool.c) because its reply
 * is checked as a whole as well as block by block (no two of its blocks
 * may share a byte), it carries the pool's limit and the connection's
 * quota, which the cache's budget follows, and a FreeBatch refused names
 * the block it failed on.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "cache.h"
#include "client_internal.h"

/*
 * A batch of up to this many blocks is checked for overlaps on the stack
 * (a cache's refill always is); a larger one in memory taken before its
 * request goes, so that running out of it changes nothing.
 */
#define CLIENT_SPANS_ON_STACK	64

/* The bytes of one block of a batch reply: [off, end). */
struct client_span {
	uint64_t	off, end;
};

/*
 * A batch reply's limit and quota, for the cache's budget: from a daemon
 * that says it sends them (features bit 2), and only those present.  A
 * daemon without the bit leaves them 0, which would read "none"; one that
 * a restart in place replaced by an older binary sends none, though the
 * bit, given at Hello, still says it would.  Either way the cache keeps
 * the bounds it last heard.
 */
static void
client_batch_bounds(struct pool *p, int has_limit, uint64_t limit,
    int has_quota, uint64_t quota)
{
	if ((p->conn->features & CONN_FEATURE_BATCH_BOUNDS) == 0)
		return;
	cache_bounds(p, has_limit ? &limit : NULL, has_quota ? &quota : NULL);
}

static int
client_span_order(const void *a, const void *b)
{
	const struct client_span	*x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

/*
 * Do the n blocks of a batch reply, each checked by client_check_block,
 * share no byte?  A block named twice, or two that overlap, would be the
 * same bytes in two allocations.  Each block counts with its usable size,
 * not the size asked for: the program may use it all, and the cache serves
 * later requests up to it.  (It is never less than asked, so this is the
 * stricter test, and no daemon's blocks share a byte.)  Sorted in span[],
 * which holds n: O(n log n), on the way of a round trip, never of a hit.
 */
static int
client_batch_disjoint(const uint64_t *offs, const uint64_t *usable,
    size_t n, struct client_span *span)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		/* client_check_block saw that the block ends in the pool. */
		assert(usable[i] <= UINT64_MAX - offs[i]);
		span[i].off = offs[i];
		span[i].end = offs[i] + usable[i];
	}
	qsort(span, n, sizeof *span, client_span_order);
	for (i = 1; i < n; i++)
		if (span[i - 1].end > span[i].off)
			return -EPROTO;
	return 0;
}

/*
 * One AllocBatch; persist: every block persistent from its allocation
 * (AllocBatch.persist), *persisted then what the reply says of it;
 * behind_ms, unless 0: a refill for an allocation that waits that long
 * at most, which goes behind those waiting in the pool
 * (AllocBatch.behind_waits, only to a daemon of features bit 14) for no
 * longer (AllocBatch.wait_ms).
 */
static int
client_alloc_batch_send(struct pool *p, size_t n, const uint64_t *sizes,
    int retry, int persist, uint32_t behind_ms, uint64_t *out,
    uint64_t *usable, int *persisted)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch	 ab = POOLMGR__ALLOC_BATCH__INIT;
	Poolmgr__Reply		*reply;
	struct client_span	 on_stack[CLIENT_SPANS_ON_STACK], *span;
	size_t			 i;
	int			 error;

	span = on_stack;
	if (n > CLIENT_SPANS_ON_STACK &&
	    (span = malloc(n * sizeof *span)) == NULL)
		return conn_local_failure(-ENOMEM);
	ab.handle = p->handle;
	ab.n_sizes = n;
	ab.sizes = (uint64_t *)sizes;
	ab.retry_follows = retry;
	ab.persist = persist;
	ab.behind_waits = behind_ms != 0;
	ab.wait_ms = behind_ms;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &ab;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC_BATCH, &reply);
	if (error != 0)
		goto out;
	client_kept_served(p);
	/* Every block must be where a block can be, as for pool_alloc. */
	if (reply->alloc_batch->n_offsets != n ||
	    reply->alloc_batch->n_usable_sizes != n)
		error = -EPROTO;
	for (i = 0; error == 0 && i < n; i++) {
		Poolmgr__AllocReply a = POOLMGR__ALLOC_REPLY__INIT;

		a.offset = reply->alloc_batch->offsets[i];
		a.usable_size = reply->alloc_batch->usable_sizes[i];
		error = client_check_block(p, &a, sizes[i], 0);
	}
	/*
	 * And no two in one place.  Refused, the reply's blocks are neither
	 * used nor freed, as those of any reply that lies: which of them
	 * are this handle's is anyone's guess.
	 */
	if (error == 0 && n > 1)
		error = client_batch_disjoint(reply->alloc_batch->offsets,
		    reply->alloc_batch->usable_sizes, n, span);
	for (i = 0; error == 0 && i < n; i++) {
		out[i] = reply->alloc_batch->offsets[i];
		usable[i] = reply->alloc_batch->usable_sizes[i];
	}
	if (error == 0)
		client_batch_bounds(p, reply->alloc_batch->pool_limit_case ==
		    POOLMGR__ALLOC_BATCH_REPLY__POOL_LIMIT_LIMIT,
		    reply->alloc_batch->limit,
		    reply->alloc_batch->pool_quota_case ==
		    POOLMGR__ALLOC_BATCH_REPLY__POOL_QUOTA_QUOTA,
		    reply->alloc_batch->quota);
	if (error == 0)
		*persisted = reply->alloc_batch->persisted;
	poolmgr__reply__free_unpacked(reply, NULL);
out:
	if (span != on_stack)
		free(span);
	return error;
}

int
client_alloc_batch(struct pool *p, size_t n, const uint64_t *sizes,
    int retry, uint32_t behind_ms, uint64_t *out, uint64_t *usable)
{
	int	persisted;

	return client_alloc_batch_send(p, n, sizes, retry, 0, behind_ms, out,
	    usable, &persisted);
}

/*
 * FreeBatch, all or nothing.  *bad is the index of the block a refusal
 * names (failed_index), else n: the cache drops that block and sends the
 * others again.  Hence conn_request, not conn_call, which keeps no reply
 * of a refusal.
 */
int
client_free_batch(struct pool *p, size_t n, const uint64_t *offs,
    size_t *bad)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__FreeBatch	 fb = POOLMGR__FREE_BATCH__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	*bad = n;
	fb.handle = p->handle;
	fb.n_offsets = n;
	fb.offsets = (uint64_t *)offs;
	req.body_case = POOLMGR__REQUEST__BODY_FREE_BATCH;
	req.free_batch = &fb;
	client_report(p, &req);
	if ((error = conn_request(p->conn, &req, &reply, NULL)) != 0)
		return error;
	/* Errno values are 1 .. 4095, as conn_call checks. */
	if (reply->error > 0 || reply->error < -4095)
		error = -EPROTO;
	else
		error = reply->error;
	if (error != 0 && error != -EPROTO &&
	    reply->body_case == POOLMGR__REPLY__BODY_FREE_BATCH &&
	    reply->free_batch != NULL && reply->free_batch->failed_index < n)
		*bad = reply->free_batch->failed_index;
	if (error == 0 &&
	    reply->body_case == POOLMGR__REPLY__BODY_FREE_BATCH &&
	    reply->free_batch != NULL)
		client_batch_bounds(p, reply->free_batch->pool_limit_case ==
		    POOLMGR__FREE_BATCH_REPLY__POOL_LIMIT_LIMIT,
		    reply->free_batch->limit,
		    reply->free_batch->pool_quota_case ==
		    POOLMGR__FREE_BATCH_REPLY__POOL_QUOTA_QUOTA,
		    reply->free_batch->quota);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/*
 * The reply to a persist batch did not say its blocks are persistent: a
 * restart in place replaced the daemon by an older binary, though its
 * Hello said bit 10, and it ignored persist (no daemon honoured it without
 * saying so: the field came with AllocBatchReply.persisted), so the
 * handle holds every block.  Persist each and drop the handle's
 * references, as the daemon would have.  All or nothing still: a Persist
 * refused, every block goes back, those persisted by a second Free (the
 * first drops the handle's reference, the second the pool's), and the
 * refusal is the answer.
 */
static int
client_batch_persist_late(struct pool *p, size_t n, const pool_off_t *offs)
{
	size_t	i, j;
	int	error = 0;

	for (i = 0; i < n; i++)
		if ((error = client_block_op(p, POOLMGR__REQUEST__BODY_PERSIST,
		    offs[i])) != 0)
			break;
	for (j = 0; j < n; j++)
		(void)client_block_op(p, POOLMGR__REQUEST__BODY_FREE, offs[j]);
	for (j = 0; error != 0 && j < i; j++)
		(void)client_block_op(p, POOLMGR__REQUEST__BODY_FREE, offs[j]);
	return error;
}

/*
 * A batch of blocks persistent from their allocation: always the daemon's
 * (the cache's blocks are the handle's own, and it tracks none of these),
 * after the cache is given back if the first answer is a refusal for
 * room.
 */
static int
client_alloc_batch_persist(struct pool *p, size_t n, const uint64_t *wire,
    pool_off_t *out, uint64_t *usable)
{
	int	error, retry, persisted = 0;

	retry = client_will_retry(p);
	error = client_alloc_batch_send(p, n, wire, retry, 1, 0, out, usable,
	    &persisted);
	if (error != 0 && client_retry(p, error, retry))
		error = client_alloc_batch_send(p, n, wire, 0, 1, 0, out,
		    usable, &persisted);
	if (error == 0 && !persisted)
		error = client_batch_persist_late(p, n, out);
	return error;
}

/* pool_alloc_batch_flags's one flag. */
#define CLIENT_BATCH_FLAGS	POOL_ALLOC_PERSIST

POOL_API int
pool_alloc_batch(struct pool *p, size_t n, const size_t *sizes,
    pool_off_t *out)
{
	return pool_alloc_batch_flags(p, n, sizes, 0, out);
}

POOL_API int
pool_alloc_batch_flags(struct pool *p, size_t n, const size_t *sizes,
    unsigned flags, pool_off_t *out)
{
	uint64_t	*wire, *usable;
	size_t		 i;
	int		 error, retry;

	/* The daemon's batch zeroes nothing: POOL_ALLOC_ZERO is refused. */
	if (p == NULL || sizes == NULL || out == NULL || n == 0 ||
	    (flags & ~CLIENT_BATCH_FLAGS) != 0)
		return conn_local_failure(-EINVAL);
	if (n > POOL_BATCH_MAX)
		return conn_local_failure(-E2BIG);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	for (i = 0; i < n; i++)
		if (sizes[i] == 0)
			return conn_local_failure(-EINVAL);
	/*
	 * A daemon from before would ignore persist: its blocks would be
	 * the handle's, gone when the program exits.  Say instead that it
	 * cannot, and ask nothing.
	 */
	if ((flags & POOL_ALLOC_PERSIST) != 0 &&
	    (p->conn->features & CONN_FEATURE_BATCH_PERSIST) == 0)
		return conn_local_failure(-EOPNOTSUPP);
	/* On the heap: 64 KiB at most, too much for a small thread stack. */
	if ((wire = malloc(2 * n * sizeof *wire)) == NULL)
		return conn_local_failure(-ENOMEM);
	usable = wire + n;
	for (i = 0; i < n; i++)
		wire[i] = sizes[i];
	if ((flags & POOL_ALLOC_PERSIST) != 0)
		error = client_alloc_batch_persist(p, n, wire, out, usable);
	else {
		retry = client_will_retry(p);
		error = client_alloc_batch(p, n, wire, retry, 0, out, usable);
		if (error != 0 && client_retry(p, error, retry))
			error = client_alloc_batch(p, n, wire, 0, 0, out,
			    usable);
		for (i = 0; error == 0 && i < n; i++)
			cache_track(p, out[i], usable[i]);
	}
	free(wire);
	cache_settle(p);	/* the reply may have lowered the bounds */
	return error;
}

POOL_API int
pool_free_batch(struct pool *p, size_t n, const pool_off_t *offs)
{
	uint64_t	usable;
	size_t		i, bad;
	int		error;

	if (p == NULL || (offs == NULL && n != 0))
		return conn_local_failure(-EINVAL);
	if (n > POOL_BATCH_MAX)
		return conn_local_failure(-E2BIG);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if (n == 0)
		return 0;
	/*
	 * Forgotten first, as in pool_realloc: after, they may be others'.
	 * Those forgotten before a failure are live blocks the cache no
	 * longer knows: their frees go to the daemon, which is safe.
	 */
	for (i = 0; i < n; i++)
		if (offs[i] != POOL_OFF_NONE) {
			if ((error = cache_known(p, offs[i], &usable)) != 0)
				return error;
			cache_untrack(p, offs[i]);
		}
	error = client_free_batch(p, n, offs, &bad);
	cache_settle(p);	/* the reply may have lowered the bounds */
	return error;
}
