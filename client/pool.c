/*
 * pool.c - libpoolclient's API for the blocks of an open pool.
 *
 * Allocating, reallocating and freeing blocks, one at a time or in batches,
 * retaining and persisting them, and turning offsets into pointers and
 * back.  Connections, opening and closing pools (open.c), and the questions
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
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client_internal.h"

/* Reallocs to this size or more that must move are moved by the library. */
#define CLIENT_MOVE_MIN		((size_t)1 << 20)

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

static int	client_alloc(struct pool *, uint64_t, uint64_t, int, uint64_t,
		    pool_off_t *);
static int	client_block_op(struct pool *, Poolmgr__Request__BodyCase,
		    pool_off_t);

/* The cache's size rides on every request through a caching handle. */
static void
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
 * Which thread's part ran out (part_kept): a number the thread takes on
 * its first part that runs out, never 0, and never another thread's, even
 * one that ended (a thread-local byte's address would be: glibc gives a
 * new thread the stack, and the thread-local bytes, of one that ended).
 */
static __thread uintptr_t	kept_token;
static uintptr_t		kept_tokens;	/* the last one taken */

static uintptr_t
kept_mine(void)
{
	if (kept_token == 0)
		kept_token = __atomic_add_fetch(&kept_tokens, 1,
						__ATOMIC_RELAXED);
	return kept_token;
}

/*
 * A block served by the daemon (an Alloc or an AllocBatch answered with
 * one): it let go of the place a wait part of the connection kept, so a
 * cache hit after it has none to say over, and sends no WaitOver (a
 * round trip for nothing, after every refill that served a part).
 */
static void
client_kept_served(struct pool *p)
{
	if (__atomic_load_n(&p->part_kept, __ATOMIC_RELAXED))
		__atomic_store_n(&p->part_kept, 0, __ATOMIC_RELAXED);
}

/*
 * Alloc{size, align, zero, nmemb} on handle p, with what the caller set
 * in al besides (a wait, persist).  nmemb is 1 for a plain allocation:
 * the daemon multiplies it only with zero, but 1 reads right either way.
 * *persisted (if not NULL): the reply says the block is persistent.
 */
static int
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
static int
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
 * daemon.  Inline, the daemon's part apart: a cache hit makes no more
 * calls than it must.
 */
static inline int
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

/* Free, Retain and Persist: the same fields, no reply body. */
static int
client_block_op(struct pool *p, Poolmgr__Request__BodyCase body,
    pool_off_t off)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Free		fr = POOLMGR__FREE__INIT;
	Poolmgr__Retain		rt = POOLMGR__RETAIN__INIT;
	Poolmgr__Persist	ps = POOLMGR__PERSIST__INIT;

	req.body_case = body;
	switch (body) {
	case POOLMGR__REQUEST__BODY_FREE:
		fr.handle = p->handle;
		fr.offset = off;
		req.free = &fr;
		break;
	case POOLMGR__REQUEST__BODY_RETAIN:
		rt.handle = p->handle;
		rt.offset = off;
		req.retain = &rt;
		break;
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

/* What pool_alloc_wait asks. */
struct client_alloc_wait {
	uint64_t	 size, align;
	int		 zero;
	int		 part;		/* POOL_ALLOC_PART */
	int		 persist;	/* POOL_ALLOC_PERSIST */
	pool_off_t	*out;
};

/*
 * The reply did not say the block is persistent: a restart in place
 * replaced the daemon by an older binary, though its Hello said bit 6.
 * Either it ignored persist (the handle holds the block), or it made the
 * block persistent but predates AllocReply.persisted (the handle holds
 * none of it).  Persist it, and drop the handle's reference, as the
 * daemon would have, so that the caller gets what it asked for.  The
 * reference dropped is one a Retain made sure of first: a Free of a
 * persistent block by a handle that holds none of it ends the block.
 * Refused its Persist, the block was the handle's: it goes back, and the
 * refusal is the answer (*out POOL_OFF_NONE).
 */
static int
client_persist_late(struct pool *p, pool_off_t *out)
{
	int	error;

	error = client_block_op(p, POOLMGR__REQUEST__BODY_PERSIST, *out);
	if (error == 0) {
		/* Refused, the handle holds none: nothing to drop. */
		if (client_block_op(p, POOLMGR__REQUEST__BODY_RETAIN,
		    *out) != 0)
			return 0;
		return client_block_op(p, POOLMGR__REQUEST__BODY_FREE, *out);
	}
	(void)client_block_op(p, POOLMGR__REQUEST__BODY_FREE, *out);
	*out = POOL_OFF_NONE;
	return error;
}

/*
 * One Alloc of pool_alloc_wait's, waiting up to wait_ms for room (0: not
 * at all); retry: the client will ask again after a refusal for room, and
 * the request waits for none, though with wait_ms it goes behind those
 * waiting as a wait would (docs/protocol.md, "Waiting for room").
 * The handle holds the block it gets, and its cache may keep it once
 * freed, unless it was made persistent: the pool holds that one, and
 * whoever frees it ends it.
 */
static int
client_alloc_wait_once(struct pool *p, const struct client_alloc_wait *aw,
    uint32_t wait_ms, int part, int retry)
{
	Poolmgr__Alloc	al = POOLMGR__ALLOC__INIT;
	uint64_t	usable;
	int		error, persisted = 0;

	al.retry_follows = retry;
	al.wait_ms = wait_ms;
	al.wait_part = part;
	al.persist = aw->persist;
	/*
	 * A wait takes back, or lets go of, the place an earlier part kept
	 * as soon as the daemon reads it: from then on there is none to say
	 * over.  A WaitOver another thread's cache hit sent meanwhile would
	 * stand behind this wait (replies come in the order of requests),
	 * that hit kept waiting as long, and then let go of the place this
	 * part may keep.  Once answered, the daemon keeps one only if this
	 * part ran out.
	 */
	if (wait_ms != 0 && !retry)
		__atomic_store_n(&p->part_kept, 0, __ATOMIC_RELAXED);
	error = client_alloc_send(p, &al, aw->size, aw->align, aw->zero, 1,
	    aw->out, &usable, &persisted);
	if (wait_ms != 0 && !retry && part && error == -ETIMEDOUT)
		__atomic_store_n(&p->part_kept, kept_mine(), __ATOMIC_RELAXED);
	if (error == 0 && !aw->persist)
		cache_track(p, *aw->out, usable);
	else if (error == 0 && !persisted)
		error = client_persist_late(p, aw->out);
	return error;
}

/*
 * client_wait's try: the allocation, waiting up to wait_ms for room.  A
 * wait that is a part of a longer one, the library's or the caller's,
 * says so: its -ETIMEDOUT is not the answer, and not a failure.
 */
static int
client_alloc_wait_try(struct pool *p, void *arg, uint32_t wait_ms, int more)
{
	struct client_alloc_wait	*aw = arg;

	return client_alloc_wait_once(p, aw, wait_ms, more || aw->part, 0);
}

/*
 * A block persistent from its allocation, not waiting: always the
 * daemon's (the cache's blocks are the handle's own), after the cache is
 * given back if the first answer is a refusal for room.
 */
static int
client_alloc_persist(struct pool *p, const struct client_alloc_wait *aw)
{
	int	error, retry;

	retry = client_will_retry(p);
	error = client_alloc_wait_once(p, aw, 0, 0, retry);
	if (error != 0 && client_retry(p, error, retry))
		error = client_alloc_wait_once(p, aw, 0, 0, 0);
	return error;
}

/*
 * A part of this handle's wait ran out, its place kept by the daemon, and
 * the next was served by the cache, which the daemon may never hear of:
 * tell it the wait is over (WaitOver, features bit 15).  Else, for up to
 * a second, the handle's next wait of the same size, a new allocation,
 * would take that place back, ahead of those that came after the part.
 * Only then: a cache hit otherwise costs one load.  A refill that served
 * the part let the place go already, and this finds none.  Only the
 * thread whose part ran out says so: another thread's hit is not that
 * wait's end, and would put its next part behind those that came after
 * it (the daemon lets the place go at any other wait of the connection
 * it sees, but a hit it never sees).  The flag is a
 * hint about the daemon's books, and publishes no memory: relaxed.  The
 * answer changes nothing for the caller, whose block it is either way,
 * nor the thread's words (pool_last_message): the caller asked nothing,
 * and a hit that needs no WaitOver leaves them as they were.
 */
static void
client_wait_over(struct pool *p)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__WaitOver	wo = POOLMGR__WAIT_OVER__INIT;
	struct conn_words	words;
	uintptr_t		mine = __atomic_load_n(&p->part_kept,
						       __ATOMIC_RELAXED);

	/* kept_token, not kept_mine(): a thread with none kept nothing. */
	if (mine == 0 || mine != kept_token ||
	    !__atomic_compare_exchange_n(&p->part_kept, &mine, 0, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED) ||
	    (p->conn->features & CONN_FEATURE_WAIT_OVER) == 0)
		return;
	wo.handle = p->handle;
	req.body_case = POOLMGR__REQUEST__BODY_WAIT_OVER;
	req.wait_over = &wo;
	conn_words_save(&words);
	(void)client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
	conn_words_restore(&words);
}

/*
 * As client_alloc, but the last request to the daemon waits: the cache
 * serves it if it can, from what it keeps or from a refill that goes
 * behind those waiting for room as the wait would (a batch tried at once
 * would take room made for them before they try it: a daemon without
 * features bit 14 is asked none), else its blocks go back first (they may
 * be the room), and only then is the daemon asked to wait, so that a
 * refusal the program never sees is not counted among the pool's
 * failures.  So a producer whose blocks another process frees makes a
 * round trip per refill, not per block, while the pool has room.  An
 * empty cache has only the slack of blocks it served from larger ones to
 * give back (no request if there is none): the wait is asked at once, not
 * after a refusal, a round trip and a refused request in the daemon's
 * counts each time the pool is full.  Blocks other threads free into the
 * cache meanwhile are not room the daemon sees in either case.  The
 * refill stands behind those waiting no longer than the caller waits.
 */
static int
client_alloc_waiting(struct pool *p, struct client_alloc_wait *aw,
    int timeout_ms)
{
	int	error;

	if (!aw->persist && aw->align <= p->granularity &&
	    (error = cache_alloc_waiting(p, aw->size, aw->zero,
	    timeout_ms < 0 ? UINT32_MAX : (uint32_t)timeout_ms,
	    aw->out)) != 0) {
		if (error > 0)
			client_wait_over(p);
		return error > 0 ? 0 : error;
	}
	if (client_will_retry(p) && cache_bytes(p) == 0)
		(void)cache_give_slack(p);
	else if (client_will_retry(p)) {
		/* Its wait said: the room made for others is not its. */
		error = client_alloc_wait_once(p, aw, timeout_ms < 0 ?
		    UINT32_MAX : (uint32_t)timeout_ms, 0, 1);
		if (error == 0 || !client_retry(p, error, 1))
			return error;
	}
	return client_wait(p, timeout_ms, client_alloc_wait_try, aw);
}

POOL_API int
pool_alloc_wait(struct pool *p, size_t size, size_t align, unsigned flags,
    int timeout_ms, pool_off_t *out)
{
	struct client_alloc_wait	aw = { size, align,
					    (flags & POOL_ALLOC_ZERO) != 0,
					    (flags & POOL_ALLOC_PART) != 0,
					    (flags & POOL_ALLOC_PERSIST) != 0,
					    out };

	if (out == NULL)
		return conn_local_failure(-EINVAL);
	*out = POOL_OFF_NONE;
	if (p == NULL || size == 0 || timeout_ms < -1 ||
	    (flags & ~(POOL_ALLOC_ZERO | POOL_ALLOC_PART |
	    POOL_ALLOC_PERSIST)) != 0)
		return conn_local_failure(-EINVAL);
	if (align != 0 && ((align & (align - 1)) != 0 ||
	    align > client_map_align(p->size, p->page_size)))
		return conn_local_failure(-EINVAL);
	/* The daemon zeroes a block it hands out unaligned only. */
	if (aw.zero && align > 1)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if (timeout_ms == 0 && !aw.persist)
		return client_alloc(p, size, align, aw.zero, 1, out);
	/*
	 * A daemon from before either ignores the field: its block would be
	 * the handle's, freed when the program exits, and its -ENOMEM
	 * would read "no room came in time".  Say instead that it cannot,
	 * and ask nothing.
	 */
	if (aw.persist &&
	    (p->conn->features & CONN_FEATURE_ALLOC_PERSIST) == 0)
		return conn_local_failure(-EOPNOTSUPP);
	if (timeout_ms == 0)
		return client_alloc_persist(p, &aw);
	if ((p->conn->features & CONN_FEATURE_ALLOC_WAIT) == 0)
		return conn_local_failure(-EOPNOTSUPP);
	return client_alloc_waiting(p, &aw, timeout_ms);
}

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

POOL_API int
pool_retain(struct pool *p, pool_off_t off)
{
	uint64_t	usable;
	int		error, retry;

	if (p == NULL || off == POOL_OFF_NONE)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if ((error = cache_known(p, off, &usable)) != 0)
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

	if (p == NULL || off == POOL_OFF_NONE)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
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

	if (p == NULL || off == POOL_OFF_NONE)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if ((error = cache_known(p, off, &usable)) != 0)
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

	if (p == NULL || out == NULL || off == POOL_OFF_NONE)
		return conn_local_failure(-EINVAL);
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	/* A block this handle holds alone is known here, size and all. */
	if ((error = cache_known(p, off, &usable)) != 0)
		return error;
	if (usable != 0) {
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
