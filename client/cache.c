/*
 * cache.c - per-handle caches of freed small blocks, so that most
 * allocations and frees of a busy program never leave the process.
 *
 * The thread caches of tcmalloc and mimalloc, moved across the process
 * boundary.  A small block the program frees is not sent back to the daemon
 * but kept, still held by this handle in the daemon's books, and handed
 * out again for the next request of its size class.  An empty class is
 * refilled with one AllocBatch; a cache at its byte budget has its fullest
 * shard halved with one FreeBatch.  Since the daemon still counts cached blocks as the
 * handle's, a crash reclaims them like any other block, quotas count them,
 * and the daemon's rules need no exception.
 *
 * What keeps this safe:
 *
 * 1. Only blocks this handle allocated and alone holds are kept.  The
 *    block table knows every block the handle got from the daemon and has
 *    not freed; the free of anything else goes to the daemon, which gives
 *    the real answer (-EINVAL, -EPERM, or drops one reference).  A block
 *    that another handle retained, or that is persistent, has its bit set
 *    in the daemon's share map, a read-only mapping (docs/protocol.md).
 *    The daemon sets the bit before it answers the retain, so a free that
 *    the program makes after the retain (in any order it can observe) sees
 *    the bit and goes to the daemon.  The bit is looked at again when a
 *    cached block is reused: a block retained after it was freed here (a
 *    race in the program) is given up, never handed out twice.
 *
 * 2. The engine's rules still hold for this handle: before an allocation
 *    is refused with -ENOMEM or -EDQUOT, pool.c flushes the whole cache,
 *    waits for the blocks other threads' flushes have on their way (5),
 *    and tries again.  Blocks cached by other handles stay theirs until they
 *    flush them (when at their budget, on their own -ENOMEM, pool_flush,
 *    pool_trim or close): at most one budget per handle.
 *
 * 3. Bad calls get the daemon's answer: a block that sits in the cache is
 *    free as far as the program knows, but live in the daemon's books.  So
 *    a second free of it (or a realloc, retain, ...) first flushes the
 *    cache, then goes to the daemon, which refuses and counts it exactly
 *    as it would without a cache.
 *
 * 4. A dead daemon is noticed: cache hits make no round trip, so once per
 *    tick of the coarse clock (a few milliseconds) a thread that uses the
 *    cache peeks at the socket; once the connection is broken the cache
 *    serves nothing (-ECONNRESET).  A pool destroyed by force under the
 *    handle is noticed at once: the daemon sets the state word that follows
 *    the share map's bits first, and every cache operation reads it
 *    (-EBADF, as the daemon would answer).
 *
 * 5. A flush loses nothing.  A FreeBatch is all or nothing, so after any
 *    refusal but the end of the handle or the connection, its blocks are
 *    still the handle's: dropped, they would be nobody's until it closes,
 *    and count against its quota.  One that could not be sent (-ENOBUFS,
 *    -ENOMEM, -EMSGSIZE) is tried again in halves, down to one block; a
 *    block that cannot go even alone is set aside and the flush goes on
 *    with the others, unless the next block cannot go alone either (then
 *    the kernel refuses them all).  What still cannot go returns to the
 *    bottom of the stacks, where the next flush takes from; a refusal
 *    that names one block drops only that one.  Meanwhile the blocks keep
 *    their entries, busy and marked with the flush that has them, so a
 *    call about one (a double free) waits for the answer, and only that
 *    flush settles them: a block the daemon freed and handed back before
 *    the flush heard back may be freed into the same shard and taken by a
 *    second flush while the first is still on its way.  While the kernel
 *    refuses, a cache at its budget keeps and refills nothing more (frees
 *    go to the daemon), and a shard's evictions are tried again only
 *    after a wait that doubles with each failure.  Since a failed flush puts its blocks
 *    back, a flush that must leave nothing behind (pool_flush,
 *    pool_set_cache(0)) waits for the flushes of others that were on
 *    their way when it took each shard, and flushes again what they put
 *    back: its 0 says that no block the cache had when it was called is
 *    cached or on its way.  So does a flush for room (an allocation
 *    refused for want of it, pool_trim): else the retry could be refused,
 *    or the trim miss pages, for blocks the daemon is about to free.
 *
 * 6. The cache never holds more than its budget, but by blocks that
 *    flushes the daemon did not take brought back; and however many
 *    flushes fail, never more than twice its budget.  Each shard holds
 *    credit, a part of the budget, and keeps a block only within it; the
 *    shards' credit is summed in one word that compare-and-swap keeps
 *    within the budget, so the bound is exact with no lock over the
 *    shards (a free within its shard's credit, the common case, reads
 *    nothing shared).  A shard takes credit as it needs it, not an equal
 *    part: one thread may fill the budget while the others keep nothing.
 *    With none left, a free first takes back the credit other shards hold
 *    beyond their blocks, then has the shard with the most bytes give
 *    back its older half (make_room): one thread's frees evict another's
 *    blocks only while that one holds more.  Blocks taken for a flush
 *    give their credit back at once; those the daemon did not take come
 *    back to their shard however full the cache has grown meanwhile,
 *    with credit beyond the budget (credit_force), and many threads may
 *    flush at once (evictions, pool_flush, sheds), each taking what the
 *    others left: when all fail, each puts back its share.  So credit is
 *    taken only while it and the bytes on their way (flushed, shed, or
 *    asked for by refills) stay within CACHE_BOUND times the budget.
 *    Two limits: refills racing each other may each ask for up to the
 *    bound, and a pool whose large threshold is under CACHE_MAX_BLOCK
 *    rounds the larger blocks up to its pages.
 *
 * 7. A restart in place freezes the share map (every bit set: nothing is
 *    kept, always safe) and sets its "replaced" word after the bits.
 *    conn_check reads it where it reads the state word and has the map
 *    in use mapped over the frozen one (share.c), once per restart.  The
 *    blocks kept before need no care: each is looked up again in the map
 *    when it is reused, and the new daemon's map says who holds it now.
 *    While a map stays frozen (another thread is renewing it, or it could
 *    not be), allocations go to the daemon one by one: a refill's blocks
 *    would all read shared and go straight back.
 *
 * Structure.  Size classes: each multiple of the granularity up to 512
 * bytes, then four per doubling up to CACHE_MAX_BLOCK; a block serves the
 * largest class not above its usable size.  The cache has CACHE_SHARDS
 * shards for the threads and one central shard.  Blocks up to
 * CACHE_LOCAL_MAX are kept in the threads' shards: a thread always uses
 * the same one, and two threads that start at once take two (thread_slot_take).
 * Larger blocks are kept in the central shard, which all threads share:
 * a budget holds few blocks of tens of KiB, and a thread finds one of its
 * size more often among all threads' than among its own.  A block of a
 * page or more costs more to use than the shared lock does.  All shards
 * draw their credit from the one budget (6).
 *
 * A shard has one lock, a LIFO stack of cached blocks per class, and a
 * block table (cache_table.c) of the blocks its threads got: live ones,
 * and the cached ones in its stacks.  A small block freed by the thread
 * that got it - the common case - costs one uncontended lock; one freed by
 * another thread moves to that thread's shard, found by looking at the
 * others.  Every operation is O(1) but refills and flushes, which are one
 * round trip for many blocks.
 *
 * Invariant: a cached block's entry is in the table of the shard whose
 * stack holds it; a block being flushed keeps its entry, busy with the
 * flush's number, in the table of the shard it left.  Locks: two shard
 * locks are never held together, and no lock is held across a round trip.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* A replaced share map's renewal (7). */
#define RENEW_IDLE		0
#define RENEW_BUSY		1
#define RENEW_FAILED		2
/*
 * In a small pool a cache would hold a good part of it and its refills
 * would move where later blocks go: a refill takes at most 1/1024 of the
 * pool (so a pool under a few MiB sees few refills, if any), the cache at
 * most 1/16.  A pool's limit, when smaller than its size, is what it may
 * hold: the shares are of the limit then (pool_room).
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
 * back, at most this many times (empty_all).
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
 * A flush of a shard's blocks on its way, from flight_begin to settle: on
 * the stack of the thread that sends it.
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
	size_t		 want;		/* atomic: the budget asked for */
	size_t		 budget;	/* atomic: want within the bounds
					 * (budget_refresh) */
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
 * Shard slots are handed to threads from a process-wide table: a thread
 * takes the slot with the fewest live threads (the lowest on ties) the first
 * time it uses a cache, and gives it back when it exits.  Threads that come
 * and go (a pool of workers replaced over time, a thread per task) so reuse
 * the shards of those that went, with the blocks cached there.
 */
static unsigned		slot_threads[CACHE_SHARDS];	/* atomic */
static pthread_key_t	slot_key;
static pthread_once_t	slot_once = PTHREAD_ONCE_INIT;
static int		slot_key_ok;
/*
 * The calling thread's slot + 1; 0: none yet.  Initial-exec: the shared
 * library reads it, on every cache hit, without a call to find its
 * thread's block of it (a few bytes of the static TLS, which a library
 * loaded by dlopen can have too).
 */
static __thread unsigned cache_thread_slot
	    __attribute__((tls_model("initial-exec")));

/*
 * A test may define this to watch, and to hold, a thread taking a slot:
 * it is called once the slot is chosen (taken 0) and once it is taken.
 * Programs do not define it: a weak symbol, null.  Hidden: the shared
 * library neither looks for it in others nor offers it.
 */
void	cache_slot_hook(unsigned slot, int taken)
	    __attribute__((weak, visibility("hidden")));
/*
 * The same for cache_bytes: called after it read each shard's count, so
 * that a test may move blocks between shards meanwhile.  On the way of a
 * request, never of a cache hit.
 */
void	cache_bytes_hook(unsigned shard)
	    __attribute__((weak, visibility("hidden")));
/* When this thread last probed the socket (4); initial-exec as above. */
static __thread int64_t	 cache_thread_probed
	    __attribute__((tls_model("initial-exec")));

/* The coarse clock, in ns: a few ms a tick, and cheap. */
static int64_t
now_coarse(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The share map after a restart in place (7): one thread asks for the new
 * one; the others go on meanwhile with the frozen one, which is safe.  A
 * map that could not be had is not asked for again: the handle goes on
 * with the frozen one, every free to the daemon.  Nor is one after a new
 * map that says "replaced" already: a restart in the microseconds since
 * the reply, or a daemon that would be asked on every call.
 */
static void
renew_map(struct pool *p)
{
	struct cache	*k = p->cache;
	int		 idle = RENEW_IDLE, ok, cancel;

	if (!__atomic_compare_exchange_n(&k->renew, &idle, RENEW_BUSY, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	/* Not a cancellation point (close): the state would stay busy. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	ok = client_share_renew(p) == 0 &&
	    __atomic_load_n(k->replaced, __ATOMIC_ACQUIRE) == 0;
	__atomic_store_n(&k->renew, ok ? RENEW_IDLE : RENEW_FAILED,
	    __ATOMIC_RELEASE);
	pthread_setcancelstate(cancel, NULL);
}

/*
 * conn_check once this thread's tick is over, or when something is amiss:
 * the checks in full, in their order, and a peek at the socket.
 */
static int
conn_check_slow(struct pool *p, int64_t now)
{
	int	probe, error;

	if (__atomic_load_n(p->cache->state, __ATOMIC_ACQUIRE) != 0)
		return -EBADF;

	probe = now != cache_thread_probed;
	cache_thread_probed = now;
	if ((error = conn_alive(p->conn, probe)) != 0)
		return error;
	if (__atomic_load_n(p->cache->replaced, __ATOMIC_ACQUIRE) != 0)
		renew_map(p);
	return 0;
}

/*
 * 0; -EBADF once the pool is destroyed under the handle (the daemon says so
 * in the share map's state word); -ECONNRESET when the daemon is gone (see
 * 4 above).  A map the daemon replaced is renewed first (7).  Inline: every
 * cache hit asks, and within a tick already probed, with nothing amiss,
 * the answer is a few loads.
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
	return conn_check_slow(p, now);
}

/* Size classes. */

static void
classes_make(struct cache *k, uint32_t g)
{
	uint64_t	s, base;
	unsigned	q, i, c;

	k->nclasses = 0;
	for (s = g; s <= CACHE_SMALL_MAX && s <= CACHE_MAX_BLOCK; s += g)
		k->size[k->nclasses++] = (uint32_t)s;
	for (base = CACHE_SMALL_MAX; base < CACHE_MAX_BLOCK; base *= 2) {
		for (q = 5; q <= 8; q++) {
			s = (base * q / 4 + g - 1) / g * g;
			if (s > CACHE_MAX_BLOCK)
				break;
			if (k->nclasses > 0 && s <= k->size[k->nclasses - 1])
				continue;
			if (k->nclasses == CACHE_MAX_CLASSES)
				break;
			k->size[k->nclasses++] = (uint32_t)s;
		}
	}
	k->small_max = g <= CACHE_SMALL_MAX ? CACHE_SMALL_MAX : 0;
	/* A few larger classes, up to twice the size: see alloc_reach. */
	for (c = 0; c < k->nclasses; c++) {
		for (i = c; i + 1 < k->nclasses && i + 1 - c <= CACHE_REACH &&
		    k->size[i + 1] <= 2 * (uint64_t)k->size[c]; i++)
			;
		k->reach[c] = (uint8_t)i;
	}
	/* lut_big[i]: the smallest class of at least i * 128 bytes. */
	for (i = 0, c = 0; i < sizeof k->lut_big; i++) {
		while (c < k->nclasses && k->size[c] < (uint64_t)i * 128)
			c++;
		k->lut_big[i] = (uint8_t)c;
	}
}

/* class_of beyond the small classes. */
static int
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

/* class_of_block beyond the small classes. */
static int
class_of_block_big(const struct cache *k, uint64_t usable)
{
	int	c;

	if (usable > CACHE_MAX_BLOCK || usable < k->size[0])
		return -1;
	if (usable >= k->size[k->nclasses - 1])
		return (int)k->nclasses - 1;
	if ((c = class_of(k, usable)) < 0)
		return -1;	/* not reached: size[0] <= usable < the last */
	if (k->size[c] > usable)
		c--;
	return c;
}

/* The largest class a block of usable bytes can serve, or -1. */
static inline int
class_of_block(const struct cache *k, uint64_t usable)
{
	if (usable >= k->granularity && usable <= k->small_max)
		return (int)(usable >> k->gshift) - 1;
	return class_of_block_big(k, usable);
}

/* n rounded up to the granularity: what the program may use. */
static uint32_t
round_g(const struct cache *k, uint64_t n)
{
	return (uint32_t)((n + k->granularity - 1) & ~(uint64_t)(k->granularity - 1));
}

/* The share map: is the block at off held by others or persistent? */
static int
is_shared(const struct cache *k, uint64_t off)
{
	uint64_t	bit = off >> k->gshift;

	if (bit >= k->share_bits)
		return 1;	/* cannot tell: treat as shared */
	return (__atomic_load_n(&k->share[bit >> 3], __ATOMIC_ACQUIRE) >>
	    (bit & 7)) & 1;
}

/* Shards, their stacks and their tables. */

/* A thread ends: its slot has one live thread less. */
static void
slot_release(void *arg)
{
	unsigned	s = (unsigned)(uintptr_t)arg - 1;

	__atomic_sub_fetch(&slot_threads[s], 1, __ATOMIC_RELAXED);
}

static void
slot_init(void)
{
	slot_key_ok = pthread_key_create(&slot_key, slot_release) == 0;
}

/*
 * The calling thread's slot, taken on its first use of a cache.  The count
 * of the slot chosen is raised only if it is still what the choice saw:
 * two threads that start at once and choose the same slot do not both
 * take it, the second chooses again.  No lock, so a child forked while
 * another thread chooses cannot find one held.
 */
static unsigned
thread_slot_take(void)
{
	unsigned	s, best, fewest, n;

	pthread_once(&slot_once, slot_init);
	do {
		best = 0;
		fewest = __atomic_load_n(&slot_threads[0], __ATOMIC_RELAXED);
		for (s = 1; s < CACHE_SHARDS; s++) {
			n = __atomic_load_n(&slot_threads[s], __ATOMIC_RELAXED);
			if (n < fewest) {
				fewest = n;
				best = s;
			}
		}
		if (cache_slot_hook != NULL)
			cache_slot_hook(best, 0);
	} while (!__atomic_compare_exchange_n(&slot_threads[best], &fewest,
	    fewest + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	if (cache_slot_hook != NULL)
		cache_slot_hook(best, 1);
	/* Without the key the slot is never given back: still correct. */
	if (slot_key_ok)
		(void)pthread_setspecific(slot_key, (void *)(uintptr_t)(best + 1));
	cache_thread_slot = best + 1;
	return best;
}

/*
 * The calling thread's shard, marked used: searches for a block look in
 * the shards used only.  Inline: every cache hit asks.
 */
static inline struct shard *
my_shard(struct cache *k)
{
	struct shard	*sh;
	unsigned	 s = cache_thread_slot;

	sh = &k->shard[s != 0 ? s - 1 : thread_slot_take()];
	if (!__atomic_load_n(&sh->used, __ATOMIC_RELAXED))
		__atomic_store_n(&sh->used, 1, __ATOMIC_RELAXED);
	return sh;
}

/* Where blocks of class c are kept: the calling thread's shard or the
 * central one. */
static struct shard *
class_shard(struct cache *k, int c)
{
	if (c >= 0 && (unsigned)c >= k->central_class)
		return &k->shard[CACHE_CENTRAL];
	return my_shard(k);
}

/* The most the pool may hold under limit (0: none). */
static uint64_t
room_under(const struct cache *k, uint64_t limit)
{
	return limit && limit < k->pool_size ? limit : k->pool_size;
}

/* The most the pool may hold, as the handle last heard. */
static uint64_t
pool_room(const struct cache *k)
{
	return room_under(k, __atomic_load_n(&k->limit, __ATOMIC_RELAXED));
}

static size_t
budget_of(const struct cache *k)
{
	return __atomic_load_n(&k->budget, __ATOMIC_RELAXED);
}

/*
 * The most a cache may hold: a small part of the pool, and of the
 * connection's quota.  Under a limit the pool is no larger than it: the
 * bytes cached here count against it, and other clients' allocations
 * refused by it cannot make this handle give them back.
 *
 * The limit and the quota are those OpenReply gave, then those each
 * refill (AllocBatchReply) and each shed or eviction (FreeBatchReply)
 * brings, from a daemon that sends them (features bit 2; else, or when
 * a reply lacks them, the last heard stand).  So a SetPool reaches the
 * budget at the cache's next round trip, across a restart in place too:
 * the default budget, or the one pool_set_cache asked for, kept within
 * the new bounds (grown back up to what was asked when they grow), and
 * a cache over a lowered bound sheds down to it (bounds_settle).  A
 * cache that only hits, allocating what it holds and freeing within its
 * budget, makes no round trip and keeps the budget it last heard.  That
 * costs the pool nothing: its cached blocks are live in the daemon's
 * books, counted against the limit as when the handle allocated them,
 * and it can neither take a byte more from the pool nor keep more than
 * that budget without a refill or an eviction, the first of which
 * brings the new bounds.  Replies of two threads may arrive in either
 * order; an older bound taken last holds until the next reply.
 *
 * Bounds that leave nothing (a quota under 8 bytes, a limit under 16)
 * make a budget of 1 byte, not 0, unless 0 was asked: a cache that keeps
 * nothing still allocates by refills of one block, so it hears when the
 * bounds grow again; 0 would stop those, and the cache would not.
 */
static size_t
budget_within(const struct cache *k, size_t want, uint64_t limit,
    uint64_t quota)
{
	uint64_t	most = room_under(k, limit) / CACHE_BUDGET_SHARE;

	/*
	 * The quota is the connection's, but each handle's cache is its own
	 * and gives way only to its own handle's refusals: keep it to a small
	 * part of the quota, so that little of it sits where a sibling
	 * handle cannot reach it.
	 */
	if (quota && quota / CACHE_QUOTA_SHARE < most)
		most = quota / CACHE_QUOTA_SHARE;
	if (most == 0)
		most = 1;

	return want > most ? (size_t)most : want;
}

/*
 * The budget made again of what was asked and the bounds last heard.
 * pool_set_cache and the batch replies of other threads may change them
 * at once: each stores its part first, then the budget, then checks that
 * the parts are still those it made it of, and makes it again if not.
 * So the last budget stored is made of the parts as they stand, with no
 * lock on the way of a reply.  Returns it.
 */
static size_t
budget_refresh(struct cache *k)
{
	size_t		want, budget;
	uint64_t	limit, quota;

	do {
		want = __atomic_load_n(&k->want, __ATOMIC_SEQ_CST);
		limit = __atomic_load_n(&k->limit, __ATOMIC_SEQ_CST);
		quota = __atomic_load_n(&k->quota, __ATOMIC_SEQ_CST);
		budget = budget_within(k, want, limit, quota);
		__atomic_store_n(&k->budget, budget, __ATOMIC_SEQ_CST);
	} while (want != __atomic_load_n(&k->want, __ATOMIC_SEQ_CST) ||
	    limit != __atomic_load_n(&k->limit, __ATOMIC_SEQ_CST) ||
	    quota != __atomic_load_n(&k->quota, __ATOMIC_SEQ_CST));
	return budget;
}

/* Credit (6). */

/* Bytes on their way (6), d of them more. */
static void
out_add(struct cache *k, int64_t d)
{
	__atomic_add_fetch(&k->out, (uint64_t)d, __ATOMIC_RELAXED);
}

/*
 * Take credit for sh: at least need bytes, up to want if the budget has
 * them, and only while the credit and what is on its way stay within
 * CACHE_BOUND times the budget.  0 if there is not need; else what was
 * taken.  Locked.
 */
static uint64_t
credit_take(struct cache *k, struct shard *sh, uint64_t need, uint64_t want)
{
	uint64_t	r, left, bound, out, take;

	r = __atomic_load_n(&k->reserved, __ATOMIC_RELAXED);
	do {
		out = __atomic_load_n(&k->out, __ATOMIC_RELAXED);
		bound = CACHE_BOUND * (uint64_t)budget_of(k);
		left = r < budget_of(k) ? budget_of(k) - r : 0;
		if (r + out >= bound)
			left = 0;
		else if (bound - r - out < left)
			left = bound - r - out;
		if (left < need || left == 0)
			return 0;
		take = want < left ? want : left;
	} while (!__atomic_compare_exchange_n(&k->reserved, &r, r + take, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	__atomic_store_n(&sh->credit, sh->credit + take, __ATOMIC_RELAXED);
	return take;
}

/*
 * Credit for blocks a flush brings back, budget or not: they are the
 * handle's and cached again.  Locked.
 */
static void
credit_force(struct cache *k, struct shard *sh, uint64_t n)
{
	__atomic_add_fetch(&k->reserved, n, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->credit, sh->credit + n, __ATOMIC_RELAXED);
}

/* Give back sh's credit above keep bytes.  Locked. */
static void
credit_trim(struct cache *k, struct shard *sh, uint64_t keep)
{
	uint64_t	give;

	if (sh->credit <= keep)
		return;
	give = sh->credit - keep;
	/* Lowered first: the shards' credit never passes reserved. */
	__atomic_store_n(&sh->credit, keep, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&k->reserved, give, __ATOMIC_RELAXED);
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
	return credit_take(k, sh, need, need +
	    budget_of(k) / CACHE_CREDIT_PIECE) != 0;
}

/*
 * A flush of sh's blocks begins: f gets a number to mark their entries,
 * and is on its way until give_back settles it.  Locked.
 */
static void
flight_begin(struct shard *sh, struct flight *f)
{
	f->n = ++sh->flights;
	TAILQ_INSERT_TAIL(&sh->flying, f, link);
}

/* Flight numbers wrap: a before b, or b itself. */
static int
flight_upto(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) >= 0;
}

/* Shard locked; cache_bytes reads it without the lock. */
static void
bytes_add(struct shard *sh, int64_t d)
{
	__atomic_store_n(&sh->bytes, sh->bytes + (uint64_t)d,
	    __ATOMIC_RELAXED);
}

/* Enter a block in sh's table, if it is of a size we keep.  Locked. */
static void
track_locked(struct cache *k, struct shard *sh, uint64_t off,
    uint64_t usable, uint32_t req)
{
	if (class_of_block(k, usable) >= 0)
		ctable_put(&sh->table, off, (uint32_t)usable, req);
}

static enum ctable_found wait_not_busy(struct shard *, uint64_t,
		    struct ctable_entry *, size_t *, enum ctable_found);

/*
 * Look off up in sh, waiting while it is busy; sh locked on return if off
 * is there (*r not busy, *slot its entry's), unlocked if not.
 */
static inline int
find_in(struct shard *sh, uint64_t off, struct ctable_entry *e,
    size_t *slot, enum ctable_found *r)
{
	cache_lock(&sh->lock);
	*r = wait_not_busy(sh, off, e, slot,
	    ctable_find(&sh->table, off, e, slot));
	if (*r != CTABLE_ABSENT)
		return 1;
	cache_unlock(&sh->lock);
	return 0;
}

/*
 * Find off in any shard but skip, lock the shard it is in and return it
 * with the entry (the lock is held, *r not busy), or NULL.  An entry that
 * is gone once its flush is answered does not end the search: the daemon
 * may have freed the block and handed its offset out again, to a thread
 * of another shard, before the flushing shard heard back.
 */
static struct shard *
find_elsewhere(struct cache *k, struct shard *skip, uint64_t off,
    struct ctable_entry *e, size_t *slot, enum ctable_found *r)
{
	struct shard	*sh;
	unsigned	 s;

	/* The central shard first: it has the larger blocks of all threads. */
	for (s = 0; s < CACHE_ALL_SHARDS; s++) {
		sh = &k->shard[(s + CACHE_CENTRAL) % CACHE_ALL_SHARDS];
		if (sh == skip || !__atomic_load_n(&sh->used, __ATOMIC_RELAXED))
			continue;
		if (find_in(sh, off, e, slot, r))
			return sh;
	}
	*r = CTABLE_ABSENT;
	return NULL;
}

/*
 * A block being shrunk (cache_give_slack) must not be freed, moved or
 * retained until the shrink has reached the daemon: freed first, its offset
 * could go to another thread, whose block the shrink would then resize.
 * A block being flushed is not known to be free or still ours until the
 * daemon has answered (give_back).  So whoever finds one busy waits here,
 * shard locked, and looks again.
 */
static enum ctable_found
wait_not_busy(struct shard *sh, uint64_t off, struct ctable_entry *e,
    size_t *slot, enum ctable_found r)
{
	/* No cancellation point (cache_lock.h): the shard stays ours. */
	while (r == CTABLE_BUSY) {
		cache_lock_wait(&sh->lock);
		r = ctable_find(&sh->table, off, e, slot);
	}
	return r;
}

/* Room for one more block in b; 0 if memory ran out.  Locked. */
static int
bin_grow(struct bin *b)
{
	struct cblock	*nb;
	uint32_t	 cap;

	cap = b->cap ? b->cap * 2 : 16;
	if ((nb = realloc(b->b, cap * sizeof *nb)) == NULL)
		return 0;
	b->b = nb;
	b->cap = cap;
	return 1;
}

/*
 * Push a block; 0 if memory ran out.  Shard locked.  Inline: every kept
 * free pushes, and a stack seldom grows.
 */
static inline int
bin_push(struct bin *b, uint64_t off, uint64_t usable, size_t slot)
{
	if (b->n == b->cap && !bin_grow(b))
		return 0;
	b->b[b->n].off = off;
	b->b[b->n].usable = (uint32_t)usable;
	b->b[b->n].slot = (uint32_t)slot;
	b->n++;
	return 1;
}

/* Room for n blocks at the bottom of b; 0 if memory ran out.  Locked. */
static int
bin_open_bottom(struct bin *b, uint32_t n)
{
	struct cblock	*nb;
	uint32_t	 cap = b->cap ? b->cap : 16;

	while (cap < b->n + n)
		cap *= 2;
	if (cap != b->cap) {
		if ((nb = realloc(b->b, cap * sizeof *nb)) == NULL)
			return 0;
		b->b = nb;
		b->cap = cap;
	}
	memmove(b->b + n, b->b, b->n * sizeof *b->b);
	b->n += n;
	return 1;
}

/* Of the room for n opened at the bottom of b only put were filled. */
static void
bin_close_bottom(struct bin *b, uint32_t put, uint32_t n)
{
	memmove(b->b + put, b->b + n, (b->n - n) * sizeof *b->b);
	b->n -= n - put;
}

/*
 * Where a take left its shard (empty_all): every block the shard had
 * then was taken, or is on its way in a flight up to fence; failures as
 * they stood.
 */
struct mark {
	uint32_t	fence;
	uint64_t	failures;
};

/* Where sh is now.  Locked. */
static void
mark_locked(const struct shard *sh, struct mark *m)
{
	m->fence = sh->flights;
	m->failures = sh->failures;
}

/*
 * Take blocks out of a shard's stacks to be flushed: all of them, or the
 * older half of each stack (the newer, warmer half stays) if the shard
 * holds more than above bytes.  At most max.  Their entries stay, busy
 * and marked with *flight, until the daemon has answered (settle).  *m
 * (if not NULL) is where the take left the shard.
 */
static size_t
shard_take(struct cache *k, struct shard *sh, int all, uint64_t above,
    uint64_t *offs, uint64_t *usable, size_t max, struct flight *flight,
    struct mark *m)
{
	struct bin	*b;
	size_t		 n = 0;
	uint64_t	 taken = 0, keep;
	uint32_t	 take, i;
	unsigned	 c;

	cache_lock(&sh->lock);
	/*
	 * Checked again under the lock: threads that found the central
	 * shard over at once halve it once, not once each.
	 */
	if (!all && sh->bytes <= above)
		max = 0;
	for (c = 0; c < k->nclasses && n < max; c++) {
		b = &sh->bin[c];
		take = all ? b->n : (b->n + 1) / 2;
		if (take > max - n)
			take = (uint32_t)(max - n);
		if (take == 0)
			continue;
		if (n == 0)
			flight_begin(sh, flight);
		for (i = 0; i < take; i++) {
			offs[n] = b->b[i].off;
			usable[n++] = b->b[i].usable;
			bytes_add(sh, -(int64_t)b->b[i].usable);
			taken += b->b[i].usable;
			ctable_set_flushing(&sh->table, b->b[i].off,
			    flight->n);
		}
		memmove(b->b, b->b + take, (b->n - take) * sizeof *b->b);
		b->n -= take;
		if (!all && b->refill > CACHE_REFILL_MIN)
			b->refill /= 2;
	}
	/* On their way before their credit goes: the bound (6) holds. */
	out_add(k, (int64_t)taken);
	keep = sh->credit > taken ? sh->credit - taken : 0;
	/*
	 * With the budget at 0 the shard keeps no credit beyond its blocks,
	 * in this same locked pass: a free, or a refill on its way, that
	 * takes the lock after it finds no room and none to be had, so
	 * nothing is cached here once the flush has passed.  (Trimmed
	 * later, the credit of a refill on its way would hold its blocks.)
	 */
	if (budget_of(k) == 0)
		keep = sh->bytes;
	credit_trim(k, sh, keep);
	if (m != NULL)
		mark_locked(sh, m);
	cache_unlock(&sh->lock);
	return n;
}

/*
 * Put back n blocks of flight that a FreeBatch did not free: still the
 * handle's, and free as far as the program knows.  They go under the
 * others of their class, in their order, where a flush takes from: the
 * next eviction tries them first and allocations get them last.  (On top
 * they would be handed out first, cold, and the next eviction would take
 * the newer half instead.)  One that finds no memory stays the handle's,
 * unknown to the cache, until the handle closes.  Shard locked.
 */
static void
unflush_locked(struct cache *k, struct shard *sh, uint32_t flight,
    const uint64_t *offs, const uint64_t *usable, size_t n)
{
	uint32_t	 want[CACHE_MAX_CLASSES] = {0};
	uint32_t	 put[CACHE_MAX_CLASSES] = {0};
	struct cblock	*to;
	size_t		 i;
	unsigned	 c;
	int		 ci;

	for (i = 0; i < n; i++)
		if ((ci = class_of_block(k, usable[i])) >= 0)
			want[ci]++;
	for (c = 0; c < k->nclasses; c++)
		if (want[c] > 0 && !bin_open_bottom(&sh->bin[c], want[c]))
			want[c] = 0;
	for (i = 0; i < n; i++) {
		ci = class_of_block(k, usable[i]);
		if (ci < 0 || put[ci] == want[ci] ||
		    !ctable_put(&sh->table, offs[i], (uint32_t)usable[i],
		    CTABLE_CACHED)) {
			ctable_flushed(&sh->table, offs[i], flight);
			continue;
		}
		to = &sh->bin[ci].b[put[ci]++];
		to->off = offs[i];
		to->usable = (uint32_t)usable[i];
		to->slot = 0;
		bytes_add(sh, (int64_t)usable[i]);
	}
	for (c = 0; c < k->nclasses; c++)
		if (put[c] < want[c])
			bin_close_bottom(&sh->bin[c], put[c], want[c]);
}

/*
 * After a flush of sh: one that could not send everything (failed) makes
 * the next eviction wait CACHE_RETRY_MIN, twice as long after each failure
 * in a row; one that went lets it go at once.  Locked.
 */
static void
retry_locked(struct shard *sh, int failed)
{
	int64_t	wait = 0;

	if (failed) {
		wait = sh->retry_wait == 0 ? CACHE_RETRY_MIN :
		    2 * sh->retry_wait;
		if (wait > CACHE_RETRY_MAX)
			wait = CACHE_RETRY_MAX;
	}
	sh->retry_wait = wait;
	__atomic_store_n(&sh->retry_at, failed ? now_coarse() + wait : 0,
	    __ATOMIC_RELAXED);
}

/*
 * The daemon has answered for the blocks of flight, a flush of sh: the
 * first done of them are no longer the handle's, the others still are and
 * go back into the stacks (error kept them).  Whoever waits for one of
 * them, or for the flight (flights_settled), looks again.  An entry
 * another flush has marked since is that flush's to settle: the daemon
 * freed the block, handed it back, and it was freed into the cache and
 * taken again.
 */
static void
settle(struct cache *k, struct shard *sh, struct flight *flight,
    const uint64_t *offs, const uint64_t *usable, size_t done, size_t n,
    int error)
{
	uint64_t	sent = 0;
	size_t		i;

	cache_lock(&sh->lock);
	for (i = 0; i < n; i++)
		sent += usable[i];
	for (i = 0; i < done; i++)
		ctable_flushed(&sh->table, offs[i], flight->n);
	unflush_locked(k, sh, flight->n, offs + done, usable + done, n - done);
	if (sh->bytes > sh->credit)
		credit_force(k, sh, sh->bytes - sh->credit);
	out_add(k, -(int64_t)sent);
	retry_locked(sh, done < n);
	if (done < n) {
		sh->failures++;
		sh->failure = error;
	}
	TAILQ_REMOVE(&sh->flying, flight, link);
	cache_lock_wake(&sh->lock);
	cache_unlock(&sh->lock);
}

/*
 * Wait until every flight of sh up to fence has settled.  Flushes begun
 * later never hold it up, however many begin meanwhile: flights are
 * numbered in the order they begin, and the oldest on its way is first.
 * Locked.
 */
static void
flights_settled(struct shard *sh, uint32_t fence)
{
	struct flight	*f;

	/* No cancellation point (cache_lock.h): the shard stays ours. */
	while ((f = TAILQ_FIRST(&sh->flying)) != NULL &&
	    flight_upto(f->n, fence))
		cache_lock_wait(&sh->lock);
}

/*
 * After which refusals of a FreeBatch are its blocks no longer the
 * handle's?  When the connection or the handle is gone (the daemon let go
 * of its blocks with it), or the reply cannot be trusted.  A FreeBatch is
 * all or nothing: after any other refusal every block is still the
 * handle's, and forgetting it would keep it from everyone (and count it
 * against the quota) until the handle closes.
 */
static int
batch_lost(int error)
{
	return error == -ECONNRESET || error == -EBADF || error == -ECHILD ||
	    error == -EPROTO;
}

static void
swap_blocks(uint64_t *offs, uint64_t *usable, size_t i, size_t j)
{
	uint64_t	o = offs[i], u = usable[i];

	offs[i] = offs[j];
	usable[i] = usable[j];
	offs[j] = o;
	usable[j] = u;
}

/* Reverse the blocks i .. j - 1. */
static void
reverse_blocks(uint64_t *offs, uint64_t *usable, size_t i, size_t j)
{
	for (; i + 1 < j; i++, j--)
		swap_blocks(offs, usable, i, j - 1);
}

/*
 * The m blocks after the kept ones at done have gone: move them before
 * the kept, each run in its order, so that the kept and the untried stay
 * in the order they were taken (settle puts them back so).
 */
static void
went_before_kept(uint64_t *offs, uint64_t *usable, size_t done, size_t kept,
    size_t m)
{
	if (kept == 0)
		return;
	reverse_blocks(offs, usable, done, done + kept);
	reverse_blocks(offs, usable, done + kept, done + kept + m);
	reverse_blocks(offs, usable, done, done + kept + m);
}

/*
 * Free n blocks of shard sh in the daemon (their entries busy with flight,
 * or none), reordering offs and usable.  A refusal naming one block
 * (failed_index) is the daemon's answer about it: it is dropped, as the
 * handle does not hold it, and the others go again.  One that says
 * nothing was sent (-ENOBUFS, -ENOMEM, -EMSGSIZE: the socket buffer,
 * memory) is tried again with half as many blocks, which may fit where
 * the whole did not.  A batch of one block that cannot go is kept aside
 * and the next block tried alone: if it goes, the fault was that block's
 * and the rest go on in one batch; if it fails too, nothing goes (a
 * refusing kernel costs two sends more than the halving).  What was not
 * freed goes back to the cache in its order, for the next flush.  Returns
 * 0, or the error that kept blocks in the cache; *left (if not NULL) is
 * how many.
 */
static int
give_back(struct pool *p, struct shard *sh, struct flight *flight,
    uint64_t *offs, uint64_t *usable, size_t n, size_t *left)
{
	size_t	done = 0, kept = 0, chunk = n, at, m, bad;
	int	error = 0, e, alone = 0;

	/* offs: the freed (done), the kept aside, the untried. */
	while (done + kept < n) {
		at = done + kept;
		m = n - at < chunk ? n - at : chunk;
		if ((e = client_free_batch(p, m, offs + at, &bad)) == 0) {
			went_before_kept(offs, usable, done, kept, m);
			done += m;
		} else if (bad < m) {
			swap_blocks(offs, usable, at, at + bad);
			went_before_kept(offs, usable, done, kept, 1);
			done++;
		} else if (batch_lost(e)) {
			/* The kept ones went with the handle too. */
			done = n;
			kept = 0;
		} else {
			error = e;
			if (m > 1)
				chunk = (m + 1) / 2;
			else if (!alone) {
				kept++;
				alone = 1;
			} else
				break;
			continue;
		}
		/* The daemon answered: the sends work. */
		if (alone)
			chunk = n;
		alone = 0;
	}
	settle(p->cache, sh, flight, offs, usable, done, n, error);
	if (left != NULL)
		*left = n - done;
	return done < n ? error : 0;
}

/*
 * Give blocks back to the daemon in batches: all of every shard's (only
 * NULL) or of one shard's (all), or the older half of one shard's if it
 * holds more than above bytes.  *errorp (if not NULL) is 0, or the first
 * error that kept blocks in the cache: the next flush tries them again.
 * A shard whose blocks cannot go does not keep the others': whoever
 * flushes wants all it can get (room for an allocation, a double-freed
 * block that may be in any shard), and smaller batches may go where one
 * did not.  marks (if not NULL, one a shard) get where each shard's last
 * take left it.
 */
static void
flush_marked(struct pool *p, struct shard *only, int all, uint64_t above,
    int *errorp, struct mark *marks)
{
	struct cache	*k = p->cache;
	uint64_t	*offs, *usable;
	size_t		 n, left;
	unsigned	 s;
	struct flight	 flight;
	int		 error = 0, e;

	/* On the heap: 64 KiB, too much for a small thread stack. */
	if ((offs = malloc(2 * POOL_BATCH_MAX * sizeof *offs)) == NULL) {
		/* Nothing taken: the shards are marked where they are. */
		for (s = 0; marks != NULL && s < CACHE_ALL_SHARDS; s++) {
			if (only != NULL && only != &k->shard[s])
				continue;
			cache_lock(&k->shard[s].lock);
			mark_locked(&k->shard[s], &marks[s]);
			cache_unlock(&k->shard[s].lock);
		}
		if (errorp != NULL)
			*errorp = -ENOMEM;
		return;
	}
	usable = offs + POOL_BATCH_MAX;
	if (only == NULL)
		all = 1;
	for (s = 0; s < CACHE_ALL_SHARDS; s++) {
		if (only != NULL && only != &k->shard[s])
			continue;
		do {
			n = shard_take(k, &k->shard[s], all, above, offs,
			    usable, POOL_BATCH_MAX, &flight,
			    marks != NULL ? &marks[s] : NULL);
			/*
			 * A dead daemon, or the handle destroyed, takes the
			 * blocks off the daemon's books with the handle:
			 * give_back forgets them.
			 */
			left = 0;
			e = n > 0 ? give_back(p, &k->shard[s], &flight, offs,
			    usable, n, &left) : 0;
			if (error == 0)
				error = e;
			/*
			 * Halving takes one pass; emptying may take more,
			 * while a batch frees something: one whose blocks
			 * all came back would be taken again, but the few a
			 * batch kept back go with the next one's others.
			 */
		} while (all && n == POOL_BATCH_MAX && left < n);
	}
	free(offs);
	if (errorp != NULL)
		*errorp = error;
}

/*
 * All of every shard's blocks, or the older half of one shard's if it
 * holds more than above bytes.
 */
static void
flush_some(struct pool *p, struct shard *only, uint64_t above, int *errorp)
{
	flush_marked(p, only, 0, above, errorp, NULL);
}

/*
 * Give back every block the cache has when called, those that flushes of
 * other threads have on their way included: 0 once none of them is left,
 * cached or on its way; else the error that kept some.  A flush that is
 * on its way when this one takes a shard may have blocks of the shard,
 * and may fail and put them back after this one has gone: so each shard's
 * flights up to the take are waited for, and if any flight failed
 * meanwhile the shard is flushed again and waited for again.  Failures of
 * flights that have only blocks freed since count too (the shard cannot
 * tell); a thread that keeps freeing into a shard whose flushes keep
 * failing is not chased: after CACHE_EMPTY_TRIES flushes again, the last
 * failure's error.  Once blocks are known to stay, nothing is flushed
 * again; nor waited for, unless every: whoever wants room, not an answer,
 * still gains the blocks that others' flushes free.
 *
 * No deadlock: the waits hold no lock (flights_settled gives the shard's
 * up while it sleeps), and a flight settles under its shard's lock alone.
 * Nor does a thread wait for itself: every flight begins and settles
 * within one call of this file, and this runs in none of them.
 */
static int
empty_all(struct pool *p, int every)
{
	struct cache	*k = p->cache;
	struct mark	 marks[CACHE_ALL_SHARDS];
	struct shard	*sh;
	unsigned	 s, tries;
	int		 error, e, back, failure;

	flush_marked(p, NULL, 1, 0, &error, marks);
	for (s = 0; s < CACHE_ALL_SHARDS && (error == 0 || every); s++) {
		sh = &k->shard[s];
		for (tries = 0;; tries++) {
			cache_lock(&sh->lock);
			flights_settled(sh, marks[s].fence);
			back = sh->failures != marks[s].failures;
			failure = sh->failure;
			cache_unlock(&sh->lock);
			if (!back || error != 0)
				break;
			if (tries == CACHE_EMPTY_TRIES) {
				error = failure;
				break;
			}
			flush_marked(p, sh, 1, 0, &e, marks);
			if (e != 0) {
				error = e;
				break;
			}
		}
	}
	return error;
}

/*
 * The older half of sh if it holds more than above bytes, unless a flush
 * of sh could not be sent a moment ago (retry_locked).
 */
static inline void
evict_above(struct pool *p, struct shard *sh, uint64_t above)
{
	int64_t	at = __atomic_load_n(&sh->retry_at, __ATOMIC_RELAXED);

	if (__atomic_load_n(&sh->bytes, __ATOMIC_RELAXED) > above &&
	    (at == 0 || now_coarse() >= at))
		flush_some(p, sh, above, NULL);
}

/*
 * Get credit back from the shards other than sh that hold more than
 * their blocks: a thread that allocated its cached blocks again holds
 * room it does not use.  The shard with the
 * most bytes, sh included, is *fullest.  Each lock in turn, never two.
 */
static void
credit_reclaim(struct cache *k, struct shard *sh, struct shard **fullest)
{
	struct shard	*o;
	uint64_t	 b, most;
	unsigned	 s;

	*fullest = sh;
	most = sh != NULL ? __atomic_load_n(&sh->bytes, __ATOMIC_RELAXED) : 0;
	for (s = 0; s < CACHE_ALL_SHARDS; s++) {
		o = &k->shard[s];
		if (o == sh || !__atomic_load_n(&o->used, __ATOMIC_RELAXED))
			continue;
		cache_lock(&o->lock);
		credit_trim(k, o, o->bytes);
		b = o->bytes;
		cache_unlock(&o->lock);
		if (b > most || *fullest == NULL) {
			most = b;
			*fullest = o;
		}
	}
}

/* Has the budget credit left for need bytes more? */
static int
budget_has(const struct cache *k, uint64_t need)
{
	uint64_t	r = __atomic_load_n(&k->reserved, __ATOMIC_RELAXED);

	return r < budget_of(k) && budget_of(k) - r >= need;
}

/*
 * sh has no room for need bytes more and the budget has no credit left:
 * make some.  The credit others hold beyond their blocks first, no round
 * trip; if that is not enough, the shard with the most bytes gives back
 * its older half, and with it their credit.  So one thread's frees evict
 * another's blocks only while that one holds more than this one.  But
 * for the central shard, the threads' shards that hold more than an
 * eighth of an equal part give back their older half first: small
 * blocks that refills brought and nobody asked for again must not keep
 * the larger blocks of every thread out.  (Without that, 2 threads on
 * the 16 B-64 KiB mix went to the daemon for 0.106 blocks a pair against
 * 0.035.)
 */
static void
make_room(struct pool *p, struct shard *sh, uint64_t need)
{
	struct cache	*k = p->cache;
	struct shard	*fullest;
	unsigned	 s, used = 0;
	uint64_t	 eighth;

	/* A block larger than the budget is never kept: nothing to gain. */
	if (need > budget_of(k))
		return;
	credit_reclaim(k, sh, &fullest);
	if (budget_has(k, need))
		return;
	if (sh == &k->shard[CACHE_CENTRAL]) {
		for (s = 0; s < CACHE_SHARDS; s++)
			used += __atomic_load_n(&k->shard[s].used,
			    __ATOMIC_RELAXED);
		eighth = budget_of(k) / 8 / (used ? used : 1);
		for (s = 0; s < CACHE_SHARDS; s++)
			if (__atomic_load_n(&k->shard[s].used,
			    __ATOMIC_RELAXED))
				evict_above(p, &k->shard[s], eighth);
		if (budget_has(k, need))
			return;
	}
	evict_above(p, fullest, 0);
}

/*
 * A budget made smaller: the shards give back the credit they do not
 * use, and while they hold more than the budget the fullest gives back
 * all its blocks.  One shard's refusal does not keep the others over:
 * the next fullest goes on.  0, or the first error that kept blocks.
 */
static int
shrink_to_budget(struct pool *p)
{
	struct cache	*k = p->cache;
	struct shard	*sh, *fullest;
	uint64_t	 most, b;
	unsigned	 s, failed = 0;
	int		 error = 0, e;

	for (;;) {
		credit_reclaim(k, NULL, &fullest);
		if (__atomic_load_n(&k->reserved, __ATOMIC_RELAXED) <=
		    budget_of(k))
			break;
		for (s = 0, fullest = NULL, most = 0; s < CACHE_ALL_SHARDS;
		    s++) {
			sh = &k->shard[s];
			b = __atomic_load_n(&sh->bytes, __ATOMIC_RELAXED);
			if ((failed & (1u << s)) == 0 && b > most) {
				most = b;
				fullest = sh;
			}
		}
		if (fullest == NULL)
			break;
		flush_marked(p, fullest, 1, 0, &e, NULL);
		if (e != 0) {
			failed |= 1u << (fullest - k->shard);
			if (error == 0)
				error = e;
		}
	}
	return error;
}

/*
 * A batch reply lowered the bounds below the credit the shards hold
 * (cache_bounds): shed down to the new budget.  Run where a call that
 * may have heard returns, never within a flush or a refill: cache_bounds
 * is called from within them, and only marks the shrink due, so a shed
 * never sheds again from inside itself.  A shrink that hears of a bound
 * lowered again reads the budget anew at each turn; the mark it leaves
 * costs the next call one look at the credit.
 */
static void
bounds_settle(struct pool *p)
{
	struct cache	*k = p->cache;

	if (__atomic_load_n(&k->shrink_due, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&k->shrink_due, 0, __ATOMIC_ACQ_REL))
		(void)shrink_to_budget(p);
}

/*
 * Give up blocks of sh not to be kept: shared ones found in a stack
 * (entries busy with flight), or ones a refill found no room for (no
 * entries).  Those that cannot be sent now go into the stacks, for the
 * next pop or flush.
 */
static void
shed(struct pool *p, struct shard *sh, struct flight *flight, uint64_t *offs,
    uint64_t *usable, size_t n)
{
	if (n > 0)
		(void)give_back(p, sh, flight, offs, usable, n, NULL);
}

/*
 * Fill class c with one batch and serve a request of size bytes from it.
 * The block for the request is asked for at its own size (rounded to the
 * granularity only), the others at the class size, so a refill never gives
 * the program a larger block than it asked for.  1 served, 0 not.
 */
static int
refill(struct pool *p, struct shard *sh, int c, uint64_t size, uint64_t *out)
{
	struct cache	*k = p->cache;
	uint64_t	 sizes[CACHE_REFILL_MAX], offs[CACHE_REFILL_MAX];
	uint64_t	 usable[CACHE_REFILL_MAX], asked, room, held, shed_bytes;
	uint32_t	 n, i, j, fit, back;
	struct flight	 flight;
	size_t		 cap, budget;

	cache_lock(&sh->lock);
	n = sh->bin[c].refill;
	if (n < CACHE_REFILL_MIN)
		n = CACHE_REFILL_MIN;
	budget = budget_of(k);
	/* Never more than a quarter of the budget in one class. */
	cap = budget / 4 / k->size[c];
	if (cap > pool_room(k) / CACHE_REFILL_SHARE / k->size[c])
		cap = pool_room(k) / CACHE_REFILL_SHARE / k->size[c];
	if (n > cap)
		n = cap > 0 ? (uint32_t)cap : 1;
	if (sh->bin[c].refill < CACHE_REFILL_MAX)
		sh->bin[c].refill = n * 2 > CACHE_REFILL_MAX ?
		    CACHE_REFILL_MAX : n * 2;
	/*
	 * Counted as the shard's from now, within its credit (6): what the
	 * budget has left, and other refills and flushes on their way, may
	 * leave room for fewer blocks, or none (the batch then brings the
	 * request's block alone).
	 */
	held = sh->bytes;
	asked = (uint64_t)(n - 1) * k->size[c];
	if (held + asked > sh->credit)
		(void)credit_take(k, sh, 0, held + asked - sh->credit);
	room = held < sh->credit ? (sh->credit - held) / k->size[c] : 0;
	if (n - 1 > room)
		n = (uint32_t)room + 1;
	asked = (uint64_t)(n - 1) * k->size[c];
	out_add(k, (int64_t)asked);
	cache_unlock(&sh->lock);

	sizes[0] = round_g(k, size);
	for (i = 1; i < n; i++)
		sizes[i] = k->size[c];
	/* Refused, the caller asks for its one block alone: a retry. */
	if (client_alloc_batch(p, n, sizes, 1, offs, usable) != 0) {
		out_add(k, -(int64_t)asked);
		return 0;
	}
	cache_lock(&sh->lock);
	track_locked(k, sh, offs[0], usable[0], (uint32_t)usable[0]);
	/*
	 * Frees and other threads' refills may have used the room while this
	 * one was on its way, and a pool whose large threshold is under
	 * CACHE_MAX_BLOCK gives the larger blocks whole pages: only those
	 * that fit in the shard's credit are kept, the lowest offsets first.
	 */
	for (fit = 1, held = sh->bytes; fit < n; fit++) {
		if (held + usable[fit] > sh->credit &&
		    credit_take(k, sh, held + usable[fit] - sh->credit,
		    held + usable[fit] - sh->credit) == 0)
			break;
		held += usable[fit];
	}
	/* Lowest offsets on top: the footprint stays compact. */
	for (i = fit - 1; i >= 1; i--) {
		if (!bin_push(&sh->bin[c], offs[i], usable[i], 0))
			break;
		track_locked(k, sh, offs[i], usable[i], CTABLE_CACHED);
		bytes_add(sh, (int64_t)usable[i]);
	}
	/* Those without room, in a stack or the budget, go straight back. */
	memmove(offs + i + 1, offs + fit, (n - fit) * sizeof *offs);
	memmove(usable + i + 1, usable + fit, (n - fit) * sizeof *usable);
	back = i + n - fit;
	if (back > 0)
		flight_begin(sh, &flight);
	for (j = 1, shed_bytes = 0; j <= back; j++)
		shed_bytes += usable[j];	/* on their way back */
	/* Asked for until here: the blocks are cached, or shed. */
	out_add(k, (int64_t)shed_bytes - (int64_t)asked);
	cache_unlock(&sh->lock);
	shed(p, sh, &flight, offs + 1, usable + 1, back);
	*out = offs[0];
	return 1;
}

/* The API for pool.c and admin.c. */

int
cache_create(struct pool *p, const uint8_t *share_map, uint64_t share_size,
    size_t budget)
{
	struct cache	*k;
	int		 i;

	if (p->granularity == 0 ||
	    (p->granularity & (p->granularity - 1)) != 0 ||
	    p->granularity > CACHE_MAX_BLOCK)
		return -EOPNOTSUPP;
	if ((k = calloc(1, sizeof *k)) == NULL)
		return -ENOMEM;
	k->share = share_map;
	k->share_bits = (share_size - client_share_page()) * 8;
	k->state = (const uint64_t *)(share_map + share_size -
	    client_share_page());
	k->replaced = k->state + 1;
	k->granularity = p->granularity;
	k->gshift = (unsigned)__builtin_ctz(p->granularity);
	k->pool_size = p->size;
	k->quota = p->quota;
	k->limit = p->limit;
	k->want = budget;
	k->budget = budget_within(k, budget, k->limit, k->quota);
	classes_make(k, p->granularity);
	while (k->central_class < k->nclasses &&
	    k->size[k->central_class] <= CACHE_LOCAL_MAX)
		k->central_class++;
	for (i = 0; i < CACHE_ALL_SHARDS; i++) {
		cache_lock_init(&k->shard[i].lock);
		TAILQ_INIT(&k->shard[i].flying);
		ctable_init(&k->shard[i].table, k->gshift);
	}
	/* No thread's: looked in by every search from the start. */
	k->shard[CACHE_CENTRAL].used = 1;
	p->cache = k;
	return 0;
}

void
cache_destroy(struct pool *p)
{
	struct cache	*k = p->cache;
	unsigned	 i, c;

	if (k == NULL)
		return;
	for (i = 0; i < CACHE_ALL_SHARDS; i++) {
		for (c = 0; c < k->nclasses; c++)
			free(k->shard[i].bin[c].b);
		/*
		 * The locks need no destroying: in a forked child, copies of
		 * the parent's perhaps held by threads the child does not
		 * have, they simply go with the memory.
		 */
		ctable_destroy(&k->shard[i].table);
	}
	free(k);
	p->cache = NULL;
}

size_t
cache_env_budget(void)
{
	const char		*v = getenv("POOLMGR_CLIENT_CACHE");
	char			*end;
	unsigned long long	 n;
	unsigned		 shift = 0;

	if (v == NULL || *v == '\0')
		return CACHE_DEFAULT_BUDGET;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v)
		return CACHE_DEFAULT_BUDGET;
	switch (*end) {
	case 'k': case 'K':
		shift = 10, end++;
		break;
	case 'm': case 'M':
		shift = 20, end++;
		break;
	case 'g': case 'G':
		shift = 30, end++;
		break;
	}
	/* Checked before the shift, which would wrap a huge value small. */
	if (*end != '\0' || n > (SIZE_MAX / 2) >> shift)
		return CACHE_DEFAULT_BUDGET;
	n <<= shift;
	return (size_t)n;
}

int
cache_set_budget(struct pool *p, size_t budget)
{
	struct cache	*k = p->cache;
	int		 i, error = 0;

	if (k == NULL)
		return 0;
	__atomic_store_n(&k->want, budget, __ATOMIC_SEQ_CST);
	budget = budget_refresh(k);
	/* Shrunk here, to the budget as it stands when it is read. */
	__atomic_store_n(&k->shrink_due, 0, __ATOMIC_RELAXED);
	if (budget == 0) {
		error = empty_all(p, 0);
		cache_give_slack(p);
		/*
		 * Live blocks are no longer tracked; cached ones that the
		 * flush could not send keep their entries, so that a free of
		 * one is still known for a double free, until a flush.  The
		 * flush left each shard no credit beyond its blocks
		 * (shard_take); one that could not take (no memory for its
		 * list) is trimmed here.
		 */
		for (i = 0; i < CACHE_ALL_SHARDS; i++) {
			cache_lock(&k->shard[i].lock);
			ctable_clear_live(&k->shard[i].table);
			credit_trim(k, &k->shard[i], k->shard[i].bytes);
			cache_unlock(&k->shard[i].lock);
		}
	} else
		error = shrink_to_budget(p);
	return error;
}

/*
 * Pop a block of bin b that nobody else holds (*hint: its entry's slot
 * hint); the shared ones found on the way (retained after they were freed
 * here) go to sheds, their entries busy with *flight until the daemon has
 * them.  Shard locked.
 */
static uint64_t
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
			flight_begin(sh, flight);
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

/*
 * cache_alloc past the top of its class's stack: a few larger classes,
 * then a refill.  Entered with sh locked; 1 served (*out set), 0 not.
 */
static int
alloc_reach(struct pool *p, struct shard *sh, int c, size_t size,
    uint64_t *out)
{
	struct cache	*k = p->cache;
	uint64_t	 sheds[CACHE_SHED_MAX], shed_usable[CACHE_SHED_MAX];
	uint64_t	 off = NO_OFF;
	size_t		 nshed = 0;
	struct flight	 flight;
	uint32_t	 hint = 0;
	unsigned	 r;

	/*
	 * The request's own class first, then a few larger ones (up to twice
	 * its size): a hit there costs some slack, a miss a round trip.
	 */
	for (r = (unsigned)c; off == NO_OFF && r <= k->reach[c]; r++)
		off = bin_pop(sh, &sh->bin[r], k, sheds, shed_usable,
		    &nshed, &flight, &hint);
	if (off != NO_OFF)
		set_live(sh, off, hint, round_g(k, size));
	cache_unlock(&sh->lock);
	/* Retained by someone after it was freed here: not ours to reuse. */
	shed(p, sh, &flight, sheds, shed_usable, nshed);

	if (off == NO_OFF && !refill(p, sh, c, size, &off))
		return 0;
	*out = off;
	return 1;
}

int
cache_alloc(struct pool *p, size_t size, int zero, pool_off_t *out)
{
	struct cache	*k = p->cache;
	struct shard	*sh;
	struct bin	*b;
	uint64_t	 off;
	int		 c, error, served;

	if (k == NULL || budget_of(k) == 0 || (c = class_of(k, size)) < 0)
		return 0;
	if ((error = conn_check(p)) != 0)
		return error;
	/*
	 * A frozen map, not renewed (yet): every block reads shared, so a
	 * refill would be given straight back, a batch each way per call.
	 */
	if (__atomic_load_n(k->replaced, __ATOMIC_ACQUIRE) != 0)
		return 0;
	sh = class_shard(k, c);
	cache_lock(&sh->lock);
	/* The common case: the top of its class's stack, ours alone. */
	b = &sh->bin[c];
	if (b->n > 0 && !is_shared(k, b->b[b->n - 1].off)) {
		b->n--;
		off = b->b[b->n].off;
		bytes_add(sh, -(int64_t)b->b[b->n].usable);
		set_live(sh, off, b->b[b->n].slot, round_g(k, size));
		cache_unlock(&sh->lock);
	} else {
		served = alloc_reach(p, sh, c, size, &off);
		/* The refill's reply may have brought lower bounds. */
		bounds_settle(p);
		if (!served)
			return 0;
	}
	if (zero)
		memset(p->base + off, 0, size);
	*out = off;
	return 1;
}

/* off's shard, locked, and what it is there (not busy); NULL if nowhere. */
static struct shard *
find_anywhere(struct cache *k, uint64_t off, struct ctable_entry *e,
    enum ctable_found *r)
{
	struct shard	*sh = my_shard(k);
	size_t		 slot;

	if (find_in(sh, off, e, &slot, r))
		return sh;
	return find_elsewhere(k, sh, off, e, &slot, r);
}

/*
 * A call about a block that sits freed in the cache (3): flush, so that
 * the daemon knows the block free and gives the answer.  0: ask it.  Else
 * the error that kept the block in the cache (nothing could be sent): the
 * daemon, which has the block live for this handle, would take the call,
 * and a double free would free the block under the cache.
 */
static int
flush_for_daemon(struct pool *p, uint64_t off)
{
	struct ctable_entry	 e;
	enum ctable_found	 r;
	struct shard		*sh;
	int			 error, tries;

	/*
	 * Looked for again even after a flush that sent everything it took:
	 * another thread's flush may have had the block on its way, failed,
	 * and put it back.
	 */
	for (tries = 0; tries < 3; tries++) {
		flush_some(p, NULL, 0, &error);
		if ((sh = find_anywhere(p->cache, off, &e, &r)) == NULL)
			return 0;
		cache_unlock(&sh->lock);
		if (r != CTABLE_WAS_CACHED)
			return 0;
		if (error != 0)
			return error;
	}
	return -ENOBUFS;	/* others' flushes keep failing to send it */
}

/*
 * cache_free's common case, tried first: a live small block in this
 * thread's shard, kept there within the shard's credit.  1 kept; 0 not,
 * with nothing changed, and cache_free goes the whole way.
 */
static inline int
free_mine(struct cache *k, uint64_t off)
{
	struct shard		*sh = my_shard(k);
	struct ctable_entry	 e;
	size_t			 slot;
	int			 c;

	cache_lock(&sh->lock);
	if (ctable_find(&sh->table, off, &e, &slot) != CTABLE_LIVE ||
	    (c = class_of_block(k, e.usable)) < 0 ||
	    (unsigned)c >= k->central_class ||
	    sh->bytes + e.usable > sh->credit ||
	    sh->bin[c].n == sh->bin[c].cap) {
		cache_unlock(&sh->lock);
		return 0;
	}
	ctable_set_req_at(&sh->table, slot, CTABLE_CACHED);
	(void)bin_push(&sh->bin[c], off, e.usable, slot);
	bytes_add(sh, e.usable);
	cache_unlock(&sh->lock);
	return 1;
}

/* cache_free past free_mine: the block elsewhere, or no room for it. */
static int
free_slow(struct pool *p, pool_off_t off)
{
	struct cache		*k = p->cache;
	struct shard		*sh, *mine, *home;
	struct ctable_entry	 e;
	enum ctable_found	 r;
	size_t			 slot;
	int			 c, keep, made = 0;

again:
	keep = budget_of(k) > 0 && !is_shared(k, off);
	mine = my_shard(k);
	if (find_in(mine, off, &e, &slot, &r))
		sh = mine;
	else if ((sh = find_elsewhere(k, mine, off, &e, &slot, &r)) == NULL)
		return 0;	/* not ours: the daemon frees it, or drops a ref */
	if (r == CTABLE_WAS_CACHED) {
		/* A double free: the daemon's answer, after a flush (3). */
		cache_unlock(&sh->lock);
		return flush_for_daemon(p, off);
	}
	if (r != CTABLE_LIVE || !keep) {
		if (r == CTABLE_LIVE)
			(void)ctable_remove(&sh->table, off);
		cache_unlock(&sh->lock);
		return 0;
	}
	/*
	 * Kept where blocks of its size are: a small one in this thread's
	 * shard, whichever thread got it; a larger one in the central shard.
	 */
	c = class_of_block(k, e.usable);
	home = c >= 0 && (unsigned)c >= k->central_class ?
	    &k->shard[CACHE_CENTRAL] : mine;
	/*
	 * No credit for it, and the budget has none left (6): room is made
	 * once, the block still live, and it is looked up again.
	 */
	if (home == sh && c >= 0 && !made && !shard_room(k, sh, e.usable)) {
		cache_unlock(&sh->lock);
		make_room(p, sh, e.usable);
		made = 1;
		goto again;
	}
	if (home != sh) {
		(void)ctable_remove(&sh->table, off);
		cache_unlock(&sh->lock);
		sh = home;
		cache_lock(&sh->lock);
		if (!ctable_put(&sh->table, off, e.usable, CTABLE_CACHED)) {
			cache_unlock(&sh->lock);
			return 0;
		}
	} else
		ctable_set_req_at(&sh->table, slot, CTABLE_CACHED);
	/*
	 * No room for it, and none to be had (6): the daemon frees this
	 * one.  While the kernel refuses, the cache grows only by what
	 * flushes put back.
	 */
	if (c < 0 || !shard_room(k, sh, e.usable) ||
	    !bin_push(&sh->bin[c], off, e.usable, 0)) {
		(void)ctable_remove(&sh->table, off);
		cache_unlock(&sh->lock);
		if (c >= 0 && !made)
			make_room(p, sh, e.usable);
		return 0;
	}
	bytes_add(sh, e.usable);
	cache_unlock(&sh->lock);
	return 1;
}

int
cache_free(struct pool *p, pool_off_t off)
{
	struct cache	*k = p->cache;
	int		 error, kept;

	if (k == NULL)
		return 0;
	if ((error = conn_check(p)) != 0)
		return error;
	if (budget_of(k) > 0 && !is_shared(k, off) && free_mine(k, off))
		return 1;
	kept = free_slow(p, off);
	/* An eviction's reply may have brought lower bounds. */
	bounds_settle(p);
	return kept;
}

void
cache_bounds(struct pool *p, const uint64_t *limit, const uint64_t *quota)
{
	struct cache	*k = p->cache;
	int		 changed = 0;

	if (k == NULL)
		return;
	if (limit != NULL &&
	    *limit != __atomic_load_n(&k->limit, __ATOMIC_RELAXED)) {
		__atomic_store_n(&k->limit, *limit, __ATOMIC_SEQ_CST);
		changed = 1;
	}
	if (quota != NULL &&
	    *quota != __atomic_load_n(&k->quota, __ATOMIC_RELAXED)) {
		__atomic_store_n(&k->quota, *quota, __ATOMIC_SEQ_CST);
		changed = 1;
	}
	if (changed && budget_refresh(k) <
	    __atomic_load_n(&k->reserved, __ATOMIC_RELAXED))
		__atomic_store_n(&k->shrink_due, 1, __ATOMIC_RELEASE);
}

void
cache_settle(struct pool *p)
{
	if (p->cache != NULL)
		bounds_settle(p);
}

void
cache_track(struct pool *p, pool_off_t off, uint64_t usable)
{
	struct cache	*k = p->cache;
	struct shard	*sh;

	if (k == NULL || budget_of(k) == 0)
		return;
	sh = class_shard(k, class_of_block(k, usable));
	cache_lock(&sh->lock);
	track_locked(k, sh, off, usable, (uint32_t)usable);
	cache_unlock(&sh->lock);
}

void
cache_untrack(struct pool *p, pool_off_t off)
{
	struct ctable_entry	 e;
	enum ctable_found	 r;
	struct shard		*sh;

	if (p->cache == NULL ||
	    (sh = find_anywhere(p->cache, off, &e, &r)) == NULL)
		return;
	(void)ctable_remove(&sh->table, off);
	cache_unlock(&sh->lock);
}

int
cache_known(struct pool *p, pool_off_t off, uint64_t *usable)
{
	struct ctable_entry	 e;
	enum ctable_found	 r;
	struct shard		*sh;

	*usable = 0;
	if (p->cache == NULL ||
	    (sh = find_anywhere(p->cache, off, &e, &r)) == NULL)
		return 0;
	cache_unlock(&sh->lock);
	switch (r) {
	case CTABLE_WAS_CACHED:
		/* Freed into the cache: let the daemon answer (3). */
		return flush_for_daemon(p, off);
	case CTABLE_LIVE:
		*usable = e.req;
		return 0;
	default:
		return 0;
	}
}

uint64_t
cache_give_slack(struct pool *p)
{
	struct cache		*k = p->cache;
	struct ctable_slack	 s[CACHE_SLACK_BATCH];
	struct shard		*sh;
	uint64_t		 given = 0, usable;
	size_t			 n, i;
	unsigned		 j;
	int			 error;

	if (k == NULL)
		return 0;
	for (j = 0; j < CACHE_ALL_SHARDS; j++) {
		sh = &k->shard[j];
		do {
			if (__atomic_load_n(&sh->table.slack,
			    __ATOMIC_RELAXED) == 0)
				break;
			cache_lock(&sh->lock);
			n = ctable_slack_take(&sh->table, s, CACHE_SLACK_BATCH);
			cache_unlock(&sh->lock);
			error = 0;
			for (i = 0; i < n; i++) {
				/* A dead daemon: the rest are not shrunk. */
				if (error != -ECONNRESET)
					error = client_shrink(p, s[i].off,
					    s[i].req, &usable);
				cache_lock(&sh->lock);
				ctable_shrunk(&sh->table, s[i].off,
				    error == 0 ? (uint32_t)usable : 0);
				/* Requests about it wait for this (busy). */
				cache_lock_wake(&sh->lock);
				cache_unlock(&sh->lock);
				if (error == 0)
					given++;
			}
			if (error == -ECONNRESET)
				return given;
		} while (n == CACHE_SLACK_BATCH);
	}
	return given;
}

int
cache_check(struct pool *p)
{
	if (p->cache == NULL)
		return conn_alive(p->conn, 1);
	return conn_check(p);
}

int
cache_flush(struct pool *p)
{
	if (p->cache == NULL)
		return 0;
	return empty_all(p, 1);
}

int
cache_empty(struct pool *p)
{
	if (p->cache == NULL)
		return 0;
	return empty_all(p, 0);
}

/*
 * The shards' counts, each read without its lock: exact while no other
 * thread uses the cache.  While others do, a block that an alloc takes
 * from a shard already read and a free puts into one not read yet counts
 * twice, and the sum could pass the budget; so it is held to the shards'
 * credit, read after them: that covers every block cached at the moment
 * it is read, and stays within the budget but for blocks that failed
 * flushes brought back (6).  One load more, on the way of a request.
 */
uint64_t
cache_bytes(const struct pool *p)
{
	const struct cache	*k = p->cache;
	uint64_t		 sum = 0, credit;
	int			 i;

	if (k == NULL)
		return 0;
	for (i = 0; i < CACHE_ALL_SHARDS; i++) {
		/* Acquire: the credit is read after every count. */
		sum += __atomic_load_n(&k->shard[i].bytes, __ATOMIC_ACQUIRE);
		if (cache_bytes_hook != NULL)
			cache_bytes_hook((unsigned)i);
	}
	credit = __atomic_load_n(&k->reserved, __ATOMIC_RELAXED);
	return sum < credit ? sum : credit;
}
