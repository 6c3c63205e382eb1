/*
 * alloc_wait.c - libpoolclient's pool_alloc_wait: allocations that wait
 * for room, and those persistent from their allocation
 * (POOL_ALLOC_PERSIST), waiting or not.
 *
 * The cache serves a wait first if it can (a refill that goes behind
 * those waiting), then the daemon waits, in parts (wait.c, which the
 * lookups that wait share).  It has a file apart from the plain
 * allocations (pool.c) for what only waits have: the place the daemon
 * keeps for a part that ran out, which thread's part that was
 * (kept_token), and the WaitOver that lets the place go when the cache
 * serves that thread's next allocation.
 */
#include <errno.h>
#include <stdint.h>

#include "cache.h"
#include "client_internal.h"

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
void
client_kept_served(struct pool *p)
{
	if (__atomic_load_n(&p->part_kept, __ATOMIC_RELAXED))
		__atomic_store_n(&p->part_kept, 0, __ATOMIC_RELAXED);
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
