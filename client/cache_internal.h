/*
 * cache_internal.h - what the files of a handle's cache share, and nothing
 * outside them sees (cache.h is the library's view of the cache).
 *
 * The structures (a cache, its shards, their stacks, the flushes on their
 * way), the constants, what each file offers the others (named cache_*,
 * after what it does), and the small functions a cache hit calls.  Those
 * are inline, here: a hit is a few hundred instructions, and a call across
 * files on its way would cost every one of them (docs/PERFORMANCE.md
 * counts them).  So are the few that an alloc reaching past the top of its
 * class calls, as most allocs of mixed sizes do.
 *
 * The files, each with what it owns and its invariants in its own header:
 *
 *   cache.c         the design (points 1-7), and most of cache.h:
 *                   allocs and refills, frees, tracking, the cache made
 *                   and unmade
 *   cache_class.c   the size classes
 *   cache_shard.c   the threads' slots, finding a block in the shards, the
 *                   growth of their stacks
 *   cache_budget.c  the budget and its credit (6)
 *   cache_flush.c   flushes and their flights (5), evictions and shrinks
 *                   for room (6)
 *   cache_conn.c    the daemon alive and the share map current (4, 7)
 */
#ifndef CLIENT_CACHE_INTERNAL_H
#define CLIENT_CACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cache.h"
#include "cache_lock.h"
#include "cache_table.h"
#include "client_internal.h"


#define CACHE_SHARDS		8	/* the threads' shards */
#define CACHE_CENTRAL		CACHE_SHARDS	/* the shared shard's index */
#define CACHE_ALL_SHARDS	(CACHE_SHARDS + 1)
/*
 * Blocks larger than this are cached in the shared shard: a page or more
 * costs more to use than its lock does, and a budget holds too few of
 * them for each thread to keep its own.
 */
#define CACHE_LOCAL_MAX		4096
#define CACHE_SMALL_MAX		512
#define CACHE_MAX_CLASSES	128
#define CACHE_REFILL_MIN	4
#define CACHE_REFILL_MAX	64
#define CACHE_SHED_MAX		16
#define CACHE_REACH		4	/* larger classes an alloc may use */
#define CACHE_SLACK_BATCH	256
/*
 * After a refused refill for an allocation that waits, the waiting
 * allocations of its class that ask none: 1, then twice as many after
 * each refusal in a row, up to this (refill_behind_refused, cache.c).  In
 * a pool kept full a refused refill then costs at most one round trip in
 * this many waiting allocations beyond their waits; once the pool has
 * room again, at most this many of them are asked one block at a time
 * before the class refills (fewer if a refill of the class, a pool_
 * alloc's, is had meanwhile).  The number is the one docs/protocol.md,
 * docs/design.md and libpoolclient(3) give: change them with it.
 */
#define CACHE_BEHIND_SKIP_MAX	32

/* A replaced share map's renewal (7). */
#define RENEW_IDLE		0
#define RENEW_BUSY		1
#define RENEW_FAILED		2
/*
 * In a small pool a cache would hold a good part of it and its refills
 * would move where later blocks go: a refill takes at most 1/1024 of the
 * pool (so a pool under a few MiB sees few refills, if any), the cache at
 * most 1/16.  A pool's limit, when smaller than its size, is what it may
 * hold: the shares are of the limit then (cache_pool_room).
 */
#define CACHE_REFILL_SHARE	1024
#define CACHE_BUDGET_SHARE	16
#define CACHE_QUOTA_SHARE	8
/*
 * While the kernel refuses a shard's FreeBatches, an eviction costs about
 * a dozen refused sends (the halving) and a 64 KiB buffer: after a failed
 * one the next waits 1 ms, then twice as long after each failure, up to
 * 100 ms.  pool_flush and the like do not wait.
 */
#define CACHE_RETRY_MIN		((int64_t)1000000)
#define CACHE_RETRY_MAX		((int64_t)100000000)
/*
 * A shard short of credit takes what it needs and this many-th of the
 * budget more, so that the next frees find it at hand (6).
 */
#define CACHE_CREDIT_PIECE	32
/*
 * The cache's blocks, with those its flushes have on their way and those
 * its refills asked for, stay within this many times its budget (6).
 */
#define CACHE_BOUND		2
/*
 * pool_flush flushes a shard again, after flushes of others put blocks
 * back, at most this many times (cache_empty_all).
 */
#define CACHE_EMPTY_TRIES	3
#define NO_OFF			UINT64_MAX

struct cblock {
	uint64_t	 off;
	uint32_t	 usable;
	uint32_t	 slot;		/* where its table entry was when it
					 * was pushed: a hint, checked */
};

/*
 * A flush of a shard's blocks on its way, from cache_flight_begin to
 * settle: on the stack of the thread that sends it.
 */
struct flight {
	TAILQ_ENTRY(flight) link;
	uint32_t	 n;		/* its number, marking its entries */
};
TAILQ_HEAD(flight_list, flight);

struct bin {
	struct cblock	*b;		/* a stack: the newest on top */
	uint32_t	 n, cap;
	uint32_t	 refill;	/* blocks the next refill asks for */
	uint32_t	 behind_skip;	/* waiting allocations to go without
					 * a refill (cache.c) */
	uint32_t	 behind_backoff; /* what the last refusal set it to */
};

struct shard {
	struct cache_lock lock;		/* its waits: for a shrink or a
					 * flush here to end */
	uint64_t	 bytes;		/* cached here; others read it unlocked */
	uint64_t	 credit;	/* of the budget, held here (6); others
					 * read it unlocked */
	int		 used;		/* a thread has used it */
	uint32_t	 flights;	/* flushes begun here: their numbers */
	struct flight_list flying;	/* of them, unsettled: oldest first */
	uint64_t	 failures;	/* settles that put blocks back */
	int		 failure;	/* why the last of them did */
	int64_t		 retry_wait;	/* ns: after the last failed flush */
	int64_t		 retry_at;	/* ns: no eviction before; atomic */
	struct ctable	 table;
	struct bin	 bin[CACHE_MAX_CLASSES];
} __attribute__((aligned(64)));

struct cache {
	const uint8_t	*share;
	uint64_t	 share_bits;
	const uint64_t	*state;		/* the pool's, after the bits */
	const uint64_t	*replaced;	/* the map's, after the state */
	int		 renew;		/* atomic: RENEW_* */
	unsigned	 gshift;
	uint32_t	 granularity;
	uint64_t	 pool_size;
	uint64_t	 quota;		/* atomic: the connection's, as last
					 * heard (cache_bounds); 0: none */
	uint64_t	 limit;		/* atomic: the pool's, likewise */
	struct cache_lock bounds_lock;	/* over the two below, and the
					 * stores of the two above */
	uint64_t	 quota_heard;	/* the reply quota came with: its
					 * conn_reply_arrival; 0: OpenReply */
	uint64_t	 limit_heard;	/* likewise for limit */
	size_t		 want;		/* atomic: the budget asked for */
	size_t		 budget;	/* atomic: want within the bounds
					 * (cache_budget_refresh) */
	int		 shrink_due;	/* atomic: lowered bounds left more
					 * credit than budget (bounds_settle) */
	uint64_t	 reserved;	/* atomic: the shards' credit, summed */
	uint64_t	 out;		/* atomic: on their way, all shards'
					 * flushes and refills (6) */
	unsigned	 central_class;	/* the first class kept centrally */

	unsigned	 nclasses;
	uint32_t	 size[CACHE_MAX_CLASSES];
	uint32_t	 small_max;	/* a class each granule up to this;
					 * 0: none (a granularity above
					 * CACHE_SMALL_MAX) */
	uint8_t		 lut_big[CACHE_MAX_BLOCK / 128 + 1];
	uint8_t		 reach[CACHE_MAX_CLASSES];	/* the largest class
					 * an alloc of each may use */

	struct shard	 shard[CACHE_ALL_SHARDS];	/* the central last */
};

/*
 * The calling thread's slot + 1; 0: none yet (cache_shard.c).  Initial-exec:
 * the shared library reads it, on every cache hit, without a call to find
 * its thread's block of it (a few bytes of the static TLS, which a library
 * loaded by dlopen can have too).
 */
extern __thread unsigned cache_thread_slot
	    __attribute__((tls_model("initial-exec"), visibility("hidden")));
/*
 * When this thread last probed the socket (4, cache_conn.c); initial-exec
 * as above.
 */
extern __thread int64_t	 cache_thread_probed
	    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* cache_conn.c: conn_check past its fast case */
int	cache_conn_check_slow(struct pool *, int64_t);

/*
 * cache_class.c.  A block's class beyond the small ones only reads the
 * classes (pure): a free that may ask need not load again what it read
 * before the call, as it must after a call that could write.
 */
void	cache_classes_make(struct cache *, uint32_t);
int	cache_class_of_block_big(const struct cache *, uint64_t)
	    __attribute__((pure));

/* cache_shard.c */
unsigned cache_thread_slot_take(void);
void	cache_track_locked(struct cache *, struct shard *, uint64_t, uint64_t,
	    uint32_t);
int	cache_find_in(struct shard *, uint64_t, struct ctable_entry *,
	    size_t *, enum ctable_found *);
struct shard *cache_find_elsewhere(struct cache *, struct shard *, uint64_t,
	    struct ctable_entry *, size_t *, enum ctable_found *);
struct shard *cache_find_anywhere(struct cache *, uint64_t,
	    struct ctable_entry *, enum ctable_found *);
int	cache_bin_grow(struct bin *);
int	cache_bin_open_bottom(struct bin *, uint32_t);
void	cache_bin_close_bottom(struct bin *, uint32_t, uint32_t);

/* cache_budget.c */
uint64_t cache_pool_room(const struct cache *);
size_t	cache_budget_within(const struct cache *, size_t, uint64_t, uint64_t);
size_t	cache_budget_refresh(struct cache *);
uint64_t cache_credit_take(struct cache *, struct shard *, uint64_t,
	    uint64_t);
void	cache_credit_force(struct cache *, struct shard *, uint64_t);
void	cache_credit_trim(struct cache *, struct shard *, uint64_t);
void	cache_credit_reclaim(struct cache *, struct shard *, struct shard **);
int	cache_budget_has(const struct cache *, uint64_t);

/* cache_flush.c */
void	cache_flight_begin(struct shard *, struct flight *);
int	cache_empty_all(struct pool *, int);
void	cache_make_room(struct pool *, struct shard *, uint64_t);
int	cache_shrink_to_budget(struct pool *);
int	cache_give_back(struct pool *, struct shard *, struct flight *,
	    uint64_t *, uint64_t *, size_t, size_t *);
int	cache_flush_for_daemon(struct pool *, uint64_t);

/* The connection and the pool (4, 7): cache_conn.c. */

/* The coarse clock, in ns: a few ms a tick, and cheap. */
static inline int64_t
now_coarse(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * 0; -EBADF once the pool is destroyed under the handle (the daemon says so
 * in the share map's state word); -ECONNRESET when the daemon is gone (see
 * 4 in cache.c).  A map the daemon replaced is renewed first (7).
 * Inline: every cache hit asks, and within a tick already probed, with
 * nothing amiss, the answer is a few loads.
 */
static inline int
conn_check(struct pool *p)
{
	const struct cache	*k = p->cache;
	int64_t			 now = now_coarse();

	if (__builtin_expect(now == cache_thread_probed &&
	    __atomic_load_n(k->state, __ATOMIC_ACQUIRE) == 0 &&
	    __atomic_load_n(k->replaced, __ATOMIC_ACQUIRE) == 0 &&
	    conn_usable(p->conn), 1))
		return 0;
	return cache_conn_check_slow(p, now);
}

/* Size classes: cache_class.c. */

/* class_of beyond the small classes. */
static inline int
class_of_big(const struct cache *k, uint64_t n)
{
	unsigned	c;

	if (n == 0 || n > k->size[k->nclasses - 1])
		return -1;
	c = k->lut_big[(n + 127) / 128];
	return c < k->nclasses ? (int)c : -1;
}

/*
 * The smallest class that holds n bytes, or -1.  Inline: every cached
 * alloc asks, and up to small_max class i is i + 1 granules.
 */
static inline int
class_of(const struct cache *k, uint64_t n)
{
	if (n - 1 < k->small_max)
		return (int)((n - 1) >> k->gshift);
	return class_of_big(k, n);
}

/* The largest class a block of usable bytes can serve, or -1. */
static inline int
class_of_block(const struct cache *k, uint64_t usable)
{
	if (usable >= k->granularity && usable <= k->small_max)
		return (int)(usable >> k->gshift) - 1;
	return cache_class_of_block_big(k, usable);
}

/* n rounded up to the granularity: what the program may use. */
static inline uint32_t
round_g(const struct cache *k, uint64_t n)
{
	return (uint32_t)((n + k->granularity - 1) & ~(uint64_t)(k->granularity - 1));
}

/* The share map: is the block at off held by others or persistent? */
static inline int
is_shared(const struct cache *k, uint64_t off)
{
	uint64_t	bit = off >> k->gshift;

	if (bit >= k->share_bits)
		return 1;	/* cannot tell: treat as shared */
	return (__atomic_load_n(&k->share[bit >> 3], __ATOMIC_ACQUIRE) >>
	    (bit & 7)) & 1;
}

/* The budget (6): cache_budget.c. */

static inline size_t
budget_of(const struct cache *k)
{
	return __atomic_load_n(&k->budget, __ATOMIC_RELAXED);
}

/* Bytes on their way (6), d of them more. */
static inline void
out_add(struct cache *k, int64_t d)
{
	__atomic_add_fetch(&k->out, (uint64_t)d, __ATOMIC_RELAXED);
}

/*
 * Room in sh for more bytes within its credit, taken from the budget if
 * it has some left.  Locked.  Inline: every kept free asks.
 */
static inline int
shard_room(struct cache *k, struct shard *sh, uint64_t more)
{
	uint64_t	need;

	if (sh->bytes + more <= sh->credit)
		return 1;
	need = sh->bytes + more - sh->credit;
	return cache_credit_take(k, sh, need, need +
	    budget_of(k) / CACHE_CREDIT_PIECE) != 0;
}

/* Flushes (5, 6): cache_flush.c. */

/*
 * A batch reply lowered the bounds below the credit the shards hold
 * (cache_bounds): shed down to the new budget.  Run where a call that
 * may have heard returns, never within a flush or a refill: cache_bounds
 * is called from within them, and only marks the shrink due, so a shed
 * never sheds again from inside itself.  A shrink that hears of a bound
 * lowered again reads the budget anew at each turn; the mark it leaves
 * costs the next call one look at the credit.
 */
static inline void
bounds_settle(struct pool *p)
{
	struct cache	*k = p->cache;

	if (__atomic_load_n(&k->shrink_due, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&k->shrink_due, 0, __ATOMIC_ACQ_REL))
		(void)cache_shrink_to_budget(p);
}

/*
 * Give up blocks of sh not to be kept: shared ones found in a stack
 * (entries busy with flight), or ones a refill found no room for (no
 * entries).  Those that cannot be sent now go into the stacks, for the
 * next pop or flush.  Inline: an alloc that reaches past the top of its
 * class asks, and mostly has nothing to shed.
 */
static inline void
shed(struct pool *p, struct shard *sh, struct flight *flight, uint64_t *offs,
    uint64_t *usable, size_t n)
{
	if (n > 0)
		(void)cache_give_back(p, sh, flight, offs, usable, n, NULL);
}

/* Shards and their stacks: cache_shard.c. */

/*
 * The calling thread's shard, marked used: searches for a block look in
 * the shards used only.  Inline: every cache hit asks.
 */
static inline struct shard *
my_shard(struct cache *k)
{
	struct shard	*sh;
	unsigned	 s = cache_thread_slot;

	sh = &k->shard[s != 0 ? s - 1 : cache_thread_slot_take()];
	if (!__atomic_load_n(&sh->used, __ATOMIC_RELAXED))
		__atomic_store_n(&sh->used, 1, __ATOMIC_RELAXED);
	return sh;
}

/* Where blocks of class c are kept: the calling thread's shard or the
 * central one. */
static inline struct shard *
class_shard(struct cache *k, int c)
{
	if (c >= 0 && (unsigned)c >= k->central_class)
		return &k->shard[CACHE_CENTRAL];
	return my_shard(k);
}

/* Shard locked; cache_bytes reads it without the lock. */
static inline void
bytes_add(struct shard *sh, int64_t d)
{
	__atomic_store_n(&sh->bytes, sh->bytes + (uint64_t)d,
	    __ATOMIC_RELAXED);
}

/*
 * Push a block; 0 if memory ran out.  Shard locked.  Inline: every kept
 * free pushes, and a stack seldom grows.
 */
static inline int
bin_push(struct bin *b, uint64_t off, uint64_t usable, size_t slot)
{
	if (b->n == b->cap && !cache_bin_grow(b))
		return 0;
	b->b[b->n].off = off;
	b->b[b->n].usable = (uint32_t)usable;
	b->b[b->n].slot = (uint32_t)slot;
	b->n++;
	return 1;
}

/*
 * Pop a block of bin b that nobody else holds (*hint: its entry's slot
 * hint); the shared ones found on the way (retained after they were freed
 * here) go to sheds, their entries busy with *flight until the daemon has
 * them.  Shard locked.
 */
static inline uint64_t
bin_pop(struct shard *sh, struct bin *b, struct cache *k,
    uint64_t *sheds, uint64_t *shed_usable, size_t *nshed,
    struct flight *flight, uint32_t *hint)
{
	uint64_t	off;

	while (b->n > 0 && *nshed < CACHE_SHED_MAX) {
		b->n--;
		bytes_add(sh, -(int64_t)b->b[b->n].usable);
		off = b->b[b->n].off;
		*hint = b->b[b->n].slot;
		if (!is_shared(k, off))
			return off;
		if (*nshed == 0)
			cache_flight_begin(sh, flight);
		ctable_set_flushing(&sh->table, off, flight->n);
		out_add(k, (int64_t)b->b[b->n].usable);
		shed_usable[*nshed] = b->b[b->n].usable;
		sheds[(*nshed)++] = off;
	}
	return NO_OFF;
}

/*
 * A block popped from sh's stacks is live, for req bytes: its entry is
 * where the hint says, unless the table has moved it since.  Locked.
 */
static inline void
set_live(struct shard *sh, uint64_t off, uint32_t hint, uint32_t req)
{
	long	slot = hint;

	if ((hint >= sh->table.cap || sh->table.e[hint].off != off) &&
	    (slot = ctable_slot(&sh->table, off)) < 0)
		return;
	ctable_set_req_at(&sh->table, (size_t)slot, req);
}

#endif /* CLIENT_CACHE_INTERNAL_H */
