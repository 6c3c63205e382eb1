/*
 * cache_budget.c - a cache's budget and the credit its shards hold of it
 * (point 6 of the design in cache.c).
 *
 * The budget is what was asked (pool_set_cache, $POOLMGR_CLIENT_CACHE)
 * kept within a part of the pool's room and of the connection's quota, as
 * the daemon last told them (cache_bounds).  A shard keeps blocks only
 * within credit it took from the budget; the credit of all shards is
 * summed in one word that compare-and-swap keeps within the budget, with no
 * lock over the shards.  The bytes on their way (flushed, shed, or asked for
 * by refills) are summed in another: credit is taken only while the two
 * stay within CACHE_BOUND times the budget.  The evictions that make room
 * when no credit is left are cache_flush.c's.
 *
 * Invariants: the shards' credit never passes the sum (a shard's is lowered
 * before the sum, and raised after it); credit beyond the budget comes only
 * from blocks a flush brings back (cache_credit_force); a shard's credit
 * changes only under its lock.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "cache_internal.h"

/*
 * Called as a reply's bounds are about to be taken, so that a test may
 * hold one thread's there while another's later reply is taken first.
 * On the way of a batch reply, never of a cache hit.
 */
void	cache_bounds_hook(void) __attribute__((weak, visibility("hidden")));

/* The most the pool may hold under limit (0: none). */
static uint64_t
room_under(const struct cache *k, uint64_t limit)
{
	return limit && limit < k->pool_size ? limit : k->pool_size;
}

/* The most the pool may hold, as the handle last heard. */
uint64_t
cache_pool_room(const struct cache *k)
{
	return room_under(k, __atomic_load_n(&k->limit, __ATOMIC_RELAXED));
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
 * a cache over a lowered bound sheds down to a little under it
 * (bounds_settle, cache_shrink_to_budget).  A cache that only hits,
 * allocating what it holds and freeing within its budget, makes no round
 * trip and keeps the budget it last heard.  That costs the pool
 * nothing: its cached blocks are live in the daemon's books, counted
 * against the limit as when the handle allocated them, and it can
 * neither take a byte more from the pool nor keep more than that budget
 * without a refill or an eviction, the first of which brings the new
 * bounds.  Threads may take their replies' bounds in any order, but a
 * bound is taken only from a reply read after the one that brought the
 * bound in force (cache_bounds): the daemon answers a connection in
 * order, so the budget always follows the latest word it read, never an
 * older reply whose thread was slower to get to it.
 *
 * Bounds that leave nothing (a quota under 8 bytes, a limit under 16)
 * make a budget of 1 byte, not 0, unless 0 was asked: a cache that keeps
 * nothing still allocates by refills of one block, so it hears when the
 * bounds grow again; 0 would stop those, and the cache would not.
 */
size_t
cache_budget_within(const struct cache *k, size_t want, uint64_t limit,
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
size_t
cache_budget_refresh(struct cache *k)
{
	size_t		want, budget;
	uint64_t	limit, quota;

	do {
		want = __atomic_load_n(&k->want, __ATOMIC_SEQ_CST);
		limit = __atomic_load_n(&k->limit, __ATOMIC_SEQ_CST);
		quota = __atomic_load_n(&k->quota, __ATOMIC_SEQ_CST);
		budget = cache_budget_within(k, want, limit, quota);
		__atomic_store_n(&k->budget, budget, __ATOMIC_SEQ_CST);
	} while (want != __atomic_load_n(&k->want, __ATOMIC_SEQ_CST) ||
	    limit != __atomic_load_n(&k->limit, __ATOMIC_SEQ_CST) ||
	    quota != __atomic_load_n(&k->quota, __ATOMIC_SEQ_CST));
	return budget;
}

/* Credit (6). */

/*
 * Take credit for sh: at least need bytes, up to want if the budget has
 * them, and only while the credit and what is on its way stay within
 * CACHE_BOUND times the budget.  0 if there is not need; else what was
 * taken.  Locked.
 */
uint64_t
cache_credit_take(struct cache *k, struct shard *sh, uint64_t need,
    uint64_t want)
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
void
cache_credit_force(struct cache *k, struct shard *sh, uint64_t n)
{
	__atomic_add_fetch(&k->reserved, n, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->credit, sh->credit + n, __ATOMIC_RELAXED);
}

/* Give back sh's credit above keep bytes.  Locked. */
void
cache_credit_trim(struct cache *k, struct shard *sh, uint64_t keep)
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
 * Get credit back from the shards other than sh that hold more than
 * their blocks: a thread that allocated its cached blocks again holds
 * room it does not use.  The shard with the
 * most bytes, sh included, is *fullest.  Each lock in turn, never two.
 */
void
cache_credit_reclaim(struct cache *k, struct shard *sh, struct shard **fullest)
{
	struct shard	*o;
	uint64_t	 b, most;
	unsigned	 s;

	*fullest = sh;
	most = sh != NULL ? __atomic_load_n(&sh->bytes, __ATOMIC_RELAXED) : 0;
	for (s = 0; s < CACHE_ALL_SHARDS; s++) {
		o = &k->shard[s];
		/*
		 * Unordered, and harmless if stale: both sides are atomic
		 * (no data race, nothing for TSan), and used only goes from
		 * 0 to 1, set before its thread takes credit.  A shard read
		 * as unused began as this scan went by: its spare credit
		 * waits for the next reclaim, as if it had begun a moment
		 * later, which no ordering here could rule out.  Meanwhile
		 * an eviction gives back blocks instead, and a shrink cuts
		 * the shards by their bytes, read used or not.
		 */
		if (o == sh || !__atomic_load_n(&o->used, __ATOMIC_RELAXED))
			continue;
		cache_lock(&o->lock);
		cache_credit_trim(k, o, o->bytes);
		b = o->bytes;
		cache_unlock(&o->lock);
		if (b > most || *fullest == NULL) {
			most = b;
			*fullest = o;
		}
	}
}

/* Has the budget credit left for need bytes more? */
int
cache_budget_has(const struct cache *k, uint64_t need)
{
	uint64_t	r = __atomic_load_n(&k->reserved, __ATOMIC_RELAXED);

	return r < budget_of(k) && budget_of(k) - r >= need;
}

/*
 * Take a bound *bound came with the reply numbered *bound_heard, from the
 * reply numbered heard: only if that one was read later.  Each bound has
 * its own number, as a reply may bring one and not the other.  Bounds
 * locked.  1 if the bound changed.
 */
static int
bound_take(uint64_t *bound, uint64_t *bound_heard, uint64_t v, uint64_t heard)
{
	if (heard < *bound_heard)
		return 0;
	*bound_heard = heard;
	if (v == __atomic_load_n(bound, __ATOMIC_RELAXED))
		return 0;
	__atomic_store_n(bound, v, __ATOMIC_SEQ_CST);
	return 1;
}

/*
 * Called by the thread whose round trip brought the bounds, before it
 * makes another: conn_reply_arrival then names the reply they came with.
 */
void
cache_bounds(struct pool *p, const uint64_t *limit, const uint64_t *quota)
{
	struct cache	*k = p->cache;
	uint64_t	 heard = conn_reply_arrival();
	int		 changed = 0;

	if (k == NULL)
		return;
	/* The caller's reply is the last its thread got: it has a number. */
	assert(heard != 0);
	if (cache_bounds_hook != NULL)
		cache_bounds_hook();
	/*
	 * The comparison and the store under one lock: without it a thread
	 * could find its reply newer, be overtaken by a still newer one,
	 * and store its own over it.  Only replies take it, never a hit.
	 */
	cache_lock(&k->bounds_lock);
	if (limit != NULL)
		changed |= bound_take(&k->limit, &k->limit_heard, *limit, heard);
	if (quota != NULL)
		changed |= bound_take(&k->quota, &k->quota_heard, *quota, heard);
	cache_unlock(&k->bounds_lock);
	if (changed && cache_budget_refresh(k) <
	    __atomic_load_n(&k->reserved, __ATOMIC_RELAXED))
		__atomic_store_n(&k->shrink_due, 1, __ATOMIC_RELEASE);
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
