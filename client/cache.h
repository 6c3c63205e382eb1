/*
 * cache.h - libpoolclient's per-handle caches of freed small blocks.
 *
 * See cache.c for the design.  pool.c (and batch.c, alloc_wait.c,
 * realloc.c), open.c and stats.c call these around their requests; a
 * handle without a cache (read-only, no share map, budget 0) has
 * p->cache == NULL and every call goes to the daemon as before.
 */
#ifndef CLIENT_CACHE_H
#define CLIENT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "poolclient.h"

struct pool;
struct cache;

/* Default byte budget of one handle's cache; $POOLMGR_CLIENT_CACHE sets it. */
#define CACHE_DEFAULT_BUDGET	((size_t)4 << 20)
/* Blocks larger than this are never cached. */
#define CACHE_MAX_BLOCK		((size_t)64 << 10)

/*
 * Make p's cache over the daemon's share map (mapped read-only, share_size
 * bytes), with the given byte budget (0: off until cache_set_budget).
 * 0, -ENOMEM, or -EOPNOTSUPP when no block size can be cached.
 */
int	cache_create(struct pool *, const uint8_t *share_map,
	    uint64_t share_size, size_t budget);
/*
 * Change the budget; 0 empties the cache as cache_empty does and stops
 * tracking live blocks: once it has returned 0 nothing is cached, and
 * nothing is until the budget is raised (but for blocks that failed
 * flushes bring back).  0, or the error that kept blocks in the cache.
 */
int	cache_set_budget(struct pool *, size_t budget);
/*
 * The pool's limit and the connection's quota as a batch reply gave them
 * (NULL: not sent, the last heard stand): the budget follows them.  Never
 * flushes (it is called from within flushes and refills): a cache left
 * over the new budget sheds down to it when the call that heard returns,
 * or at cache_settle.
 */
void	cache_bounds(struct pool *, const uint64_t *limit,
	    const uint64_t *quota);
/* Shed down to a budget that cache_bounds lowered, if it is due. */
void	cache_settle(struct pool *);
/* Forget the cache (the handle is closing: the daemon drops its blocks). */
void	cache_destroy(struct pool *);
/* The budget from $POOLMGR_CLIENT_CACHE, or the default. */
size_t	cache_env_budget(void);

/*
 * Serve an allocation of size bytes from the cache, refilling it in one
 * batch if the size class is empty.  1 served (*out set), 0 not (go to the
 * daemon), -ECONNRESET the daemon is gone.
 */
int	cache_alloc(struct pool *, size_t size, int zero, pool_off_t *out);
/*
 * As cache_alloc, for an allocation that waits (pool_alloc_wait) up to
 * wait_ms (UINT32_MAX: without end): its refill goes behind the
 * allocations waiting in the pool, as the wait would, for wait_ms at most
 * (docs/protocol.md, "Waiting for room"); a daemon that cannot (features
 * bit 14) is asked none, and the cache serves from the blocks it keeps
 * alone.
 */
int	cache_alloc_waiting(struct pool *, size_t size, int zero,
	    uint32_t wait_ms, pool_off_t *out);
/*
 * Take a freed block into the cache.  1 taken, 0 not one to keep (send the
 * free to the daemon), -ECONNRESET the daemon is gone.  A block already
 * in the cache (a double free) flushes the cache and gets 0: the daemon
 * gives the answer; or, if the flush could not send it, the flush's error.
 */
int	cache_free(struct pool *, pool_off_t off);
/* Remember a block the daemon gave this handle, so its free can be kept. */
void	cache_track(struct pool *, pool_off_t off, uint64_t usable);
/* Forget a block the daemon freed or moved. */
void	cache_untrack(struct pool *, pool_off_t off);
/*
 * Before a request about off goes to the daemon: *usable is what the
 * program may use of the block if this handle holds it alone, else 0.  A
 * block sitting freed in the cache flushes the cache first, so that the
 * daemon knows it free.  0, or the error that kept it in the cache: the
 * request must not go (the daemon would take the block as live).
 */
int	cache_known(struct pool *, pool_off_t off, uint64_t *usable);
/*
 * Free every cached block in the daemon, for room (an allocation refused
 * for want of it, pool_trim).  The blocks that other threads' flushes have
 * on their way are waited for, in every shard, and flushed again if they
 * come back.  Blocks a FreeBatch could not carry (nothing sent: -ENOBUFS,
 * -ENOMEM, -EMSGSIZE) stay in the cache for the next flush; none is
 * dropped while the handle still holds it, unless memory runs out putting
 * it back.  0, or the first error that kept blocks in the cache.
 */
int	cache_flush(struct pool *);
/*
 * The same for an answer (pool_flush): 0 when no block the cache had is
 * left in it or on its way; else the error that kept blocks in the
 * cache, returned as soon as it is known, without waiting for others.
 */
int	cache_empty(struct pool *);
/*
 * 0 while the handle works; else why not: -EBADF (its pool was destroyed),
 * -ECONNRESET (the daemon is gone), -ECHILD (opened before fork()).
 */
int cache_check(struct pool *);
/*
 * Shrink in place every live block that is larger than the program asked
 * for (served from a larger cached block): the pool is tight.  The number
 * of blocks shrunk.
 */
uint64_t cache_give_slack(struct pool *);
/*
 * Bytes held in the cache now: exact while no other thread uses it; while
 * others do, no more than the shards' credit (cache.c).
 */
uint64_t cache_bytes(const struct pool *);

#endif /* CLIENT_CACHE_H */
