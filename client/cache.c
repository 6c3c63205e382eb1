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
 *    back its older half (cache_make_room): one thread's frees evict another's
 *    blocks only while that one holds more.  Blocks taken for a flush
 *    give their credit back at once; those the daemon did not take come
 *    back to their shard however full the cache has grown meanwhile,
 *    with credit beyond the budget (cache_credit_force), and many threads may
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
 * the same one, and two threads that start at once take two
 * (cache_thread_slot_take).
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
 *
 * Files.  Each of these owns one concern, and says in its header which of
 * the points above it keeps: cache_class.c the size classes; cache_shard.c
 * the threads' slots and the search of the shards; cache_budget.c the
 * budget and its credit (6); cache_flush.c flushes, evictions and shrinks
 * (5, 6); cache_conn.c the checks of the connection and the share map (4,
 * 7).  cache_internal.h holds what they share, and the small functions
 * of a cache hit, inline.  This file has the rest of cache.h: allocs and
 * refills, frees, tracking, and the cache's making and unmaking.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

/*
 * The same as cache_slot_hook (cache_shard.c) for cache_bytes: called
 * after it read each shard's count, so that a test may move blocks between
 * shards meanwhile.  On the way of a request, never of a cache hit.
 */
void	cache_bytes_hook(unsigned shard)
	    __attribute__((weak, visibility("hidden")));

/*
 * A refill for an allocation that waits (behind_ms) was refused, most
 * likely for want of room, and the allocation then waits alone: in a pool
 * kept full, each would cost a refused batch and the wait, two round
 * trips where the wait alone is one.  So the next waiting allocations of
 * the class go without one, twice as many after each refusal in a row (up
 * to CACHE_BEHIND_SKIP_MAX; a refill of the class had meanwhile ends
 * that), and the class's next refill asks for the fewest blocks, which
 * room trickling back fits first.  Locked.
 */
static void
refill_behind_refused(struct bin *b)
{
	b->behind_backoff = b->behind_backoff == 0 ? 1 :
	    b->behind_backoff * 2 > CACHE_BEHIND_SKIP_MAX ?
	    CACHE_BEHIND_SKIP_MAX : b->behind_backoff * 2;
	b->behind_skip = b->behind_backoff;
	b->refill = CACHE_REFILL_MIN;
}

/*
 * Fill class c with one batch and serve a request of size bytes from it.
 * The block for the request is asked for at its own size (rounded to the
 * granularity only), the others at the class size, so a refill never gives
 * the program a larger block than it asked for.  behind_ms, unless 0: the
 * refill is for an allocation that waits that long at most, and goes
 * behind those waiting in the pool (AllocBatch.behind_waits) for no
 * longer (AllocBatch.wait_ms), or not at all while the class skips them
 * (refill_behind_refused).  1 served, 0 not.
 */
static int
refill(struct pool *p, struct shard *sh, int c, uint64_t size,
    uint32_t behind_ms, uint64_t *out)
{
	struct cache	*k = p->cache;
	uint64_t	 sizes[CACHE_REFILL_MAX], offs[CACHE_REFILL_MAX];
	uint64_t	 usable[CACHE_REFILL_MAX], asked, room, held, shed_bytes;
	uint32_t	 n, i, j, fit, back;
	struct flight	 flight;
	size_t		 cap, budget;

	cache_lock(&sh->lock);
	if (behind_ms != 0 && sh->bin[c].behind_skip > 0) {
		sh->bin[c].behind_skip--;
		cache_unlock(&sh->lock);
		return 0;
	}
	n = sh->bin[c].refill;
	if (n < CACHE_REFILL_MIN)
		n = CACHE_REFILL_MIN;
	budget = budget_of(k);
	/* Never more than a quarter of the budget in one class. */
	cap = budget / 4 / k->size[c];
	if (cap > cache_pool_room(k) / CACHE_REFILL_SHARE / k->size[c])
		cap = cache_pool_room(k) / CACHE_REFILL_SHARE / k->size[c];
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
		(void)cache_credit_take(k, sh, 0, held + asked - sh->credit);
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
	if (client_alloc_batch(p, n, sizes, 1, behind_ms, offs, usable) != 0) {
		out_add(k, -(int64_t)asked);
		if (behind_ms != 0) {
			cache_lock(&sh->lock);
			refill_behind_refused(&sh->bin[c]);
			cache_unlock(&sh->lock);
		}
		return 0;
	}
	cache_lock(&sh->lock);
	/* The pool had room for a batch: waiting allocations refill again. */
	sh->bin[c].behind_skip = 0;
	sh->bin[c].behind_backoff = 0;
	cache_track_locked(k, sh, offs[0], usable[0], (uint32_t)usable[0]);
	/*
	 * Frees and other threads' refills may have used the room while this
	 * one was on its way, and a pool whose large threshold is under
	 * CACHE_MAX_BLOCK gives the larger blocks whole pages: only those
	 * that fit in the shard's credit are kept, the lowest offsets first.
	 */
	for (fit = 1, held = sh->bytes; fit < n; fit++) {
		if (held + usable[fit] > sh->credit &&
		    cache_credit_take(k, sh, held + usable[fit] - sh->credit,
		    held + usable[fit] - sh->credit) == 0)
			break;
		held += usable[fit];
	}
	/* Lowest offsets on top: the footprint stays compact. */
	for (i = fit - 1; i >= 1; i--) {
		if (!bin_push(&sh->bin[c], offs[i], usable[i], 0))
			break;
		cache_track_locked(k, sh, offs[i], usable[i], CTABLE_CACHED);
		bytes_add(sh, (int64_t)usable[i]);
	}
	/* Those without room, in a stack or the budget, go straight back. */
	memmove(offs + i + 1, offs + fit, (n - fit) * sizeof *offs);
	memmove(usable + i + 1, usable + fit, (n - fit) * sizeof *usable);
	back = i + n - fit;
	if (back > 0)
		cache_flight_begin(sh, &flight);
	for (j = 1, shed_bytes = 0; j <= back; j++)
		shed_bytes += usable[j];	/* on their way back */
	/* Asked for until here: the blocks are cached, or shed. */
	out_add(k, (int64_t)shed_bytes - (int64_t)asked);
	cache_unlock(&sh->lock);
	shed(p, sh, &flight, offs + 1, usable + 1, back);
	*out = offs[0];
	return 1;
}

/* The API for pool.c (and batch.c, alloc_wait.c, realloc.c), open.c and
 * stats.c. */

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
	cache_lock_init(&k->bounds_lock);
	k->want = budget;
	k->budget = cache_budget_within(k, budget, k->limit, k->quota);
	cache_classes_make(k, p->granularity);
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

int
cache_set_budget(struct pool *p, size_t budget)
{
	struct cache	*k = p->cache;
	int		 i, error = 0;

	if (k == NULL)
		return 0;
	__atomic_store_n(&k->want, budget, __ATOMIC_SEQ_CST);
	budget = cache_budget_refresh(k);
	/* Shrunk here, to the budget as it stands when it is read. */
	__atomic_store_n(&k->shrink_due, 0, __ATOMIC_RELAXED);
	if (budget == 0) {
		error = cache_empty_all(p, 0);
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
			cache_credit_trim(k, &k->shard[i], k->shard[i].bytes);
			cache_unlock(&k->shard[i].lock);
		}
	} else
		error = cache_shrink_to_budget(p);
	return error;
}

/* How an allocation the cache cannot serve from its stacks refills. */
enum refill_how {
	REFILL_NONE,		/* it does not: the daemon is asked alone */
	REFILL_NOW,		/* a batch, tried at once */
	REFILL_BEHIND,		/* a batch behind those waiting for room */
};

/*
 * cache_alloc past the top of its class's stack: a few larger classes,
 * then a refill, as how says (behind those waiting: for wait_ms at most).
 * Entered with sh locked; 1 served (*out set), 0 not.
 */
static int
alloc_reach(struct pool *p, struct shard *sh, int c, size_t size,
    enum refill_how how, uint32_t wait_ms, uint64_t *out)
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

	if (off == NO_OFF && (how == REFILL_NONE ||
	    !refill(p, sh, c, size, how == REFILL_BEHIND ? wait_ms : 0, &off)))
		return 0;
	*out = off;
	return 1;
}

static int
cache_alloc_as(struct pool *p, size_t size, int zero, enum refill_how how,
    uint32_t wait_ms, pool_off_t *out)
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
		served = alloc_reach(p, sh, c, size, how, wait_ms, &off);
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

int
cache_alloc(struct pool *p, size_t size, int zero, pool_off_t *out)
{
	return cache_alloc_as(p, size, zero, REFILL_NOW, 0, out);
}

/*
 * A daemon without features bit 14 would try the refill at once, ahead
 * of those waiting: the cache then serves from what it keeps alone.  A
 * wait_ms of 0 would read as a refill tried at once (refill's behind_ms):
 * the least wait, 1 ms, is asked instead.
 */
int
cache_alloc_waiting(struct pool *p, size_t size, int zero, uint32_t wait_ms,
    pool_off_t *out)
{
	return cache_alloc_as(p, size, zero,
	    (p->conn->features & CONN_FEATURE_BATCH_BEHIND) != 0 ?
	    REFILL_BEHIND : REFILL_NONE, wait_ms > 0 ? wait_ms : 1, out);
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
	if (cache_find_in(mine, off, &e, &slot, &r))
		sh = mine;
	else if ((sh = cache_find_elsewhere(k, mine, off, &e, &slot,
	    &r)) == NULL)
		return 0;	/* not ours: the daemon frees it, or drops a ref */
	if (r == CTABLE_WAS_CACHED) {
		/* A double free: the daemon's answer, after a flush (3). */
		cache_unlock(&sh->lock);
		return cache_flush_for_daemon(p, off);
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
		cache_make_room(p, sh, e.usable);
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
			cache_make_room(p, sh, e.usable);
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
	cache_track_locked(k, sh, off, usable, (uint32_t)usable);
	cache_unlock(&sh->lock);
}

void
cache_untrack(struct pool *p, pool_off_t off)
{
	struct ctable_entry	 e;
	enum ctable_found	 r;
	struct shard		*sh;

	if (p->cache == NULL ||
	    (sh = cache_find_anywhere(p->cache, off, &e, &r)) == NULL)
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
	    (sh = cache_find_anywhere(p->cache, off, &e, &r)) == NULL)
		return 0;
	cache_unlock(&sh->lock);
	switch (r) {
	case CTABLE_WAS_CACHED:
		/* Freed into the cache: let the daemon answer (3). */
		return cache_flush_for_daemon(p, off);
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
cache_flush(struct pool *p)
{
	if (p->cache == NULL)
		return 0;
	return cache_empty_all(p, 1);
}

int
cache_empty(struct pool *p)
{
	if (p->cache == NULL)
		return 0;
	return cache_empty_all(p, 0);
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
