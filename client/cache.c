/*
 * cache.c - per-handle caches of freed small blocks, so that most
 * allocations and frees of a busy program never leave the process.
 *
 * The thread caches of tcmalloc and mimalloc, moved across the process
 * boundary.  A small block the program frees is not sent back to the daemon
 * but kept, still held by this handle in the daemon's books, and handed
 * out again for the next request of its size class.  An empty class is
 * refilled with one AllocBatch; a cache over its byte budget is halved with
 * one FreeBatch.  Since the daemon still counts cached blocks as the
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
 *    is refused with -ENOMEM or -EDQUOT, pool.c flushes the whole cache and
 *    tries again.  Blocks cached by other handles stay theirs until they
 *    flush them (when over budget, on their own -ENOMEM, pool_flush,
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
 *    serves nothing (-ECONNRESET).
 *
 * Structure.  Size classes: each multiple of the granularity up to 512
 * bytes, then four per doubling up to CACHE_MAX_BLOCK; a block serves the
 * largest class not above its usable size.  The cache has CACHE_SHARDS
 * shards, each with a LIFO stack per class and one lock; a thread always
 * uses the same shard, so threads seldom meet.  The block table maps an
 * offset to (usable size, class, live or cached) in CACHE_STRIPES stripes
 * chosen by hash, each an open-addressing table with linear probing and
 * its own lock.  Every operation is O(1) but refills and flushes, which
 * are one round trip for many blocks.
 *
 * Locks: a stripe lock and a shard lock are never held together, and no
 * lock is held across a round trip.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cache_table.h"
#include "client_internal.h"

#define CACHE_SHARDS		8
#define CACHE_SMALL_MAX		512
#define CACHE_MAX_CLASSES	128
#define CACHE_REFILL_MIN	4
#define CACHE_REFILL_MAX	64
#define CACHE_SHED_MAX		16
#define CACHE_REACH		4	/* larger classes an alloc may use */
#define CACHE_SLACK_BATCH	256
/*
 * In a small pool a cache would hold a good part of it and its refills
 * would move where later blocks go: a refill takes at most 1/1024 of the
 * pool (so a pool under a few MiB sees few refills, if any), the cache at
 * most 1/16.
 */
#define CACHE_REFILL_SHARE	1024
#define CACHE_BUDGET_SHARE	16
#define NO_OFF			UINT64_MAX

struct cblock {
	uint64_t	 off;
	uint64_t	 usable;
};

struct bin {
	struct cblock	*b;		/* a stack: the newest on top */
	uint32_t	 n, cap;
	uint32_t	 refill;	/* blocks the next refill asks for */
};

struct shard {
	pthread_mutex_t	 lock;
	uint64_t	 bytes;		/* cached here; others read it unlocked */
	int		 used;		/* a thread has used it */
	struct bin	 bin[CACHE_MAX_CLASSES];
} __attribute__((aligned(64)));

struct cache {
	const uint8_t	*share;
	uint64_t	 share_bits;
	unsigned	 gshift;
	uint32_t	 granularity;
	uint64_t	 pool_size;
	size_t		 budget;	/* atomic */
	unsigned	 shards_used;	/* atomic: the budget is split */

	unsigned	 nclasses;
	uint32_t	 size[CACHE_MAX_CLASSES];
	uint8_t		 lut_small[CACHE_SMALL_MAX / 8 + 1];
	uint8_t		 lut_big[CACHE_MAX_BLOCK / 128 + 1];

	struct ctable	 table;
	struct shard	 shard[CACHE_SHARDS];
};

static unsigned		cache_next_slot;
static __thread unsigned cache_thread_slot;
static __thread int64_t	 cache_thread_probed;

/* 0, or -ECONNRESET when the daemon is gone (see 4 above). */
static int
conn_check(struct pool *p)
{
	struct timespec	ts;
	int64_t		now;
	int		probe;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	probe = now != cache_thread_probed;
	cache_thread_probed = now;
	return conn_alive(p->conn, probe);
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
	/* lut[i]: the smallest class of at least i quanta. */
	for (i = 0, c = 0; i < sizeof k->lut_small; i++) {
		while (c < k->nclasses && k->size[c] < (uint64_t)i * g)
			c++;
		k->lut_small[i] = (uint8_t)c;
	}
	for (i = 0, c = 0; i < sizeof k->lut_big; i++) {
		while (c < k->nclasses && k->size[c] < (uint64_t)i * 128)
			c++;
		k->lut_big[i] = (uint8_t)c;
	}
}

/* The smallest class that holds n bytes, or -1. */
static int
class_of(const struct cache *k, uint64_t n)
{
	unsigned	c;

	if (n == 0 || n > k->size[k->nclasses - 1])
		return -1;
	if (n <= CACHE_SMALL_MAX && k->granularity <= CACHE_SMALL_MAX)
		c = k->lut_small[(n + k->granularity - 1) >> k->gshift];
	else
		c = k->lut_big[(n + 127) / 128];
	return c < k->nclasses ? (int)c : -1;
}

/* The largest class a block of usable bytes can serve, or -1. */
static int
class_of_block(const struct cache *k, uint64_t usable)
{
	int	c;

	if (usable > CACHE_MAX_BLOCK || usable < k->size[0])
		return -1;
	if (usable >= k->size[k->nclasses - 1])
		return (int)k->nclasses - 1;
	c = class_of(k, usable);
	if (k->size[c] > usable)
		c--;
	return c;
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

/* Enter a block of ours in the table, if it is of a size we keep. */
static void
track(struct cache *k, uint64_t off, uint64_t usable, uint32_t req)
{
	if (class_of_block(k, usable) >= 0)
		ctable_put(&k->table, off, (uint32_t)usable, req);
}

/* Shards and their bins. */

/*
 * The calling thread's shard.  Each shard that threads use gets an equal
 * share of the budget, so the shards never need to look at each other.
 */
static struct shard *
my_shard(struct cache *k)
{
	struct shard	*sh;

	if (cache_thread_slot == 0)
		cache_thread_slot = __atomic_add_fetch(&cache_next_slot, 1,
		    __ATOMIC_RELAXED);
	sh = &k->shard[cache_thread_slot % CACHE_SHARDS];
	if (!__atomic_load_n(&sh->used, __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&sh->used, 1, __ATOMIC_RELAXED))
		__atomic_add_fetch(&k->shards_used, 1, __ATOMIC_RELAXED);
	return sh;
}

/* Push a block; 0 if memory ran out.  Shard locked. */
static int
bin_push(struct bin *b, uint64_t off, uint64_t usable)
{
	struct cblock	*nb;
	uint32_t	 cap;

	if (b->n == b->cap) {
		cap = b->cap ? b->cap * 2 : 16;
		if ((nb = realloc(b->b, cap * sizeof *nb)) == NULL)
			return 0;
		b->b = nb;
		b->cap = cap;
	}
	b->b[b->n].off = off;
	b->b[b->n].usable = usable;
	b->n++;
	return 1;
}

static size_t
budget_of(const struct cache *k)
{
	return __atomic_load_n(&k->budget, __ATOMIC_RELAXED);
}

static size_t
budget_for(const struct cache *k, size_t want)
{
	uint64_t	most = k->pool_size / CACHE_BUDGET_SHARE;

	return want > most ? (size_t)most : want;
}

/* The budget of one shard. */
static size_t
shard_budget(const struct cache *k)
{
	unsigned	n = __atomic_load_n(&k->shards_used, __ATOMIC_RELAXED);

	return budget_of(k) / (n ? n : 1);
}

/* Shard locked; cache_bytes reads it without the lock. */
static void
bytes_add(struct shard *sh, int64_t d)
{
	__atomic_store_n(&sh->bytes, sh->bytes + (uint64_t)d,
	    __ATOMIC_RELAXED);
}

/*
 * Take blocks out of a shard: all of them, or the older half of each stack
 * (the newer, warmer half stays).  At most max; returns how many.
 */
static size_t
shard_take(struct cache *k, struct shard *sh, int all, uint64_t *offs,
    size_t max)
{
	struct bin	*b;
	size_t		 n = 0;
	uint32_t	 take, i;
	unsigned	 c;

	pthread_mutex_lock(&sh->lock);
	for (c = 0; c < k->nclasses && n < max; c++) {
		b = &sh->bin[c];
		take = all ? b->n : (b->n + 1) / 2;
		if (take > max - n)
			take = (uint32_t)(max - n);
		if (take == 0)
			continue;
		for (i = 0; i < take; i++) {
			offs[n++] = b->b[i].off;
			bytes_add(sh, -(int64_t)b->b[i].usable);
		}
		memmove(b->b, b->b + take, (b->n - take) * sizeof *b->b);
		b->n -= take;
		if (!all && b->refill > CACHE_REFILL_MIN)
			b->refill /= 2;
	}
	pthread_mutex_unlock(&sh->lock);
	return n;
}

/*
 * Give blocks back to the daemon in batches: all of every shard's, or the
 * older half of one shard's.  Returns the bytes they held.
 */
static uint64_t
flush_some(struct pool *p, struct shard *only)
{
	struct cache	*k = p->cache;
	uint64_t	*offs, before, after;
	size_t		 n, i;
	unsigned	 s;

	if ((offs = malloc(POOL_BATCH_MAX * sizeof *offs)) == NULL)
		return 0;
	before = cache_bytes(p);
	for (s = 0; s < CACHE_SHARDS; s++) {
		if (only != NULL && only != &k->shard[s])
			continue;
		do {
			n = shard_take(k, &k->shard[s], only == NULL, offs,
			    POOL_BATCH_MAX);
			for (i = 0; i < n; i++)
				ctable_drop_cached(&k->table, offs[i]);
			/*
			 * A failure (the daemon gone, or the handle
			 * destroyed) leaves the blocks to the daemon's books:
			 * they go when the handle closes, as everything it
			 * holds does.
			 */
			if (n > 0)
				(void)client_free_batch(p, n, offs);
			/* Halving takes one pass; emptying may take more. */
		} while (only == NULL && n == POOL_BATCH_MAX);
	}
	free(offs);
	after = cache_bytes(p);
	return before > after ? before - after : 0;
}

/* A shard over its share of the budget gives back its older half. */
static void
flush_if_over(struct pool *p, struct shard *sh)
{
	if (__atomic_load_n(&sh->bytes, __ATOMIC_RELAXED) >
	    shard_budget(p->cache))
		flush_some(p, sh);
}

/* Give up blocks of ours: forget them and drop our references. */
static void
shed(struct pool *p, const uint64_t *offs, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		ctable_remove(&p->cache->table, offs[i]);
	if (n > 0)
		(void)client_free_batch(p, n, offs);
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
	uint64_t	 usable[CACHE_REFILL_MAX];
	uint32_t	 n, i;
	size_t		 cap;

	pthread_mutex_lock(&sh->lock);
	n = sh->bin[c].refill;
	if (n < CACHE_REFILL_MIN)
		n = CACHE_REFILL_MIN;
	/* Never more than a quarter of the budget in one class. */
	cap = shard_budget(k) / 4 / k->size[c];
	if (cap > k->pool_size / CACHE_REFILL_SHARE / k->size[c])
		cap = k->pool_size / CACHE_REFILL_SHARE / k->size[c];
	if (n > cap)
		n = cap > 0 ? (uint32_t)cap : 1;
	if (sh->bin[c].refill < CACHE_REFILL_MAX)
		sh->bin[c].refill = n * 2 > CACHE_REFILL_MAX ?
		    CACHE_REFILL_MAX : n * 2;
	pthread_mutex_unlock(&sh->lock);

	sizes[0] = round_g(k, size);
	for (i = 1; i < n; i++)
		sizes[i] = k->size[c];
	if (client_alloc_batch(p, n, sizes, offs, usable) != 0)
		return 0;
	/* Cached in the table before they are in a stack others pop. */
	track(k, offs[0], usable[0], (uint32_t)usable[0]);
	for (i = 1; i < n; i++)
		track(k, offs[i], usable[i], CTABLE_CACHED);
	/* Lowest offsets on top: the footprint stays compact. */
	pthread_mutex_lock(&sh->lock);
	for (i = n - 1; i >= 1; i--) {
		if (!bin_push(&sh->bin[c], offs[i], usable[i]))
			break;
		bytes_add(sh, (int64_t)usable[i]);
	}
	pthread_mutex_unlock(&sh->lock);
	/* Those that found no room in a stack go straight back. */
	shed(p, offs + 1, i);
	*out = offs[0];
	flush_if_over(p, sh);
	return 1;
}

/* The API for pool.c. */

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
	k->share_bits = share_size * 8;
	k->granularity = p->granularity;
	k->gshift = (unsigned)__builtin_ctz(p->granularity);
	k->pool_size = p->size;
	k->budget = budget_for(k, budget);
	classes_make(k, p->granularity);
	ctable_init(&k->table, k->gshift);
	for (i = 0; i < CACHE_SHARDS; i++)
		pthread_mutex_init(&k->shard[i].lock, NULL);
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
	ctable_destroy(&k->table);
	for (i = 0; i < CACHE_SHARDS; i++) {
		for (c = 0; c < k->nclasses; c++)
			free(k->shard[i].bin[c].b);
		pthread_mutex_destroy(&k->shard[i].lock);
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

	if (v == NULL || *v == '\0')
		return CACHE_DEFAULT_BUDGET;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v)
		return CACHE_DEFAULT_BUDGET;
	switch (*end) {
	case 'k': case 'K':
		n <<= 10, end++;
		break;
	case 'm': case 'M':
		n <<= 20, end++;
		break;
	case 'g': case 'G':
		n <<= 30, end++;
		break;
	}
	if (*end != '\0' || n > SIZE_MAX / 2)
		return CACHE_DEFAULT_BUDGET;
	return (size_t)n;
}

void
cache_set_budget(struct pool *p, size_t budget)
{
	struct cache	*k = p->cache;
	int		 i;

	if (k == NULL)
		return;
	budget = budget_for(k, budget);
	__atomic_store_n(&k->budget, budget, __ATOMIC_RELAXED);
	if (budget == 0) {
		flush_some(p, NULL);
		cache_give_slack(p);
		ctable_clear(&k->table);
	} else {
		for (i = 0; i < CACHE_SHARDS; i++)
			flush_if_over(p, &k->shard[i]);
	}
}

/*
 * Pop a block of bin b that nobody else holds; the shared ones found on the
 * way (retained after they were freed here) are put in sheds.  Shard locked.
 */
static uint64_t
bin_pop(struct shard *sh, struct bin *b, const struct cache *k,
    uint64_t *sheds, size_t *nshed)
{
	uint64_t	off;

	while (b->n > 0 && *nshed < CACHE_SHED_MAX) {
		b->n--;
		bytes_add(sh, -(int64_t)b->b[b->n].usable);
		off = b->b[b->n].off;
		if (!is_shared(k, off))
			return off;
		sheds[(*nshed)++] = off;
	}
	return NO_OFF;
}

int
cache_alloc(struct pool *p, size_t size, int zero, pool_off_t *out)
{
	struct cache	*k = p->cache;
	struct shard	*sh;
	uint64_t	 sheds[CACHE_SHED_MAX], off = NO_OFF;
	size_t		 nshed = 0;
	unsigned	 r;
	int		 c, error;

	if (k == NULL || budget_of(k) == 0 || (c = class_of(k, size)) < 0)
		return 0;
	if ((error = conn_check(p)) != 0)
		return error;
	sh = my_shard(k);
	pthread_mutex_lock(&sh->lock);
	/*
	 * The request's own class first, then a few larger ones (up to twice
	 * its size): a hit there costs some slack, a miss a round trip.
	 */
	for (r = 0; off == NO_OFF && r <= CACHE_REACH &&
	    (unsigned)c + r < k->nclasses &&
	    k->size[c + r] <= 2 * (uint64_t)k->size[c]; r++)
		off = bin_pop(sh, &sh->bin[c + r], k, sheds, &nshed);
	pthread_mutex_unlock(&sh->lock);
	/* Retained by someone after it was freed here: not ours to reuse. */
	shed(p, sheds, nshed);

	if (off != NO_OFF)
		(void)ctable_revive(&k->table, off, round_g(k, size));
	else if (!refill(p, sh, c, size, &off))
		return 0;
	if (zero)
		memset(p->base + off, 0, size);
	*out = off;
	return 1;
}

int
cache_free(struct pool *p, pool_off_t off)
{
	struct cache	*k = p->cache;
	struct shard	*sh;
	uint32_t	 usable = 0;
	int		 c, keep, error;

	if (k == NULL)
		return 0;
	if ((error = conn_check(p)) != 0)
		return error;
	keep = budget_of(k) > 0 && !is_shared(k, off);
	switch (ctable_free(&k->table, off, keep, &usable)) {
	case CTABLE_ABSENT:
	case CTABLE_DROPPED:
		return 0;
	case CTABLE_WAS_CACHED:
		/* A double free: the daemon's answer, after a flush (3). */
		flush_some(p, NULL);
		return 0;
	case CTABLE_KEPT:
		break;
	}

	c = class_of_block(k, usable);
	sh = my_shard(k);
	pthread_mutex_lock(&sh->lock);
	keep = c >= 0 && bin_push(&sh->bin[c], off, usable);
	if (keep)
		bytes_add(sh, usable);
	pthread_mutex_unlock(&sh->lock);
	if (!keep) {
		ctable_remove(&k->table, off);
		return 0;
	}
	flush_if_over(p, sh);
	return 1;
}

void
cache_track(struct pool *p, pool_off_t off, uint64_t usable)
{
	if (p->cache != NULL && budget_of(p->cache) > 0)
		track(p->cache, off, usable, (uint32_t)usable);
}

void
cache_untrack(struct pool *p, pool_off_t off)
{
	if (p->cache != NULL)
		ctable_remove(&p->cache->table, off);
}

uint64_t
cache_known(struct pool *p, pool_off_t off)
{
	uint32_t	req = 0;

	if (p->cache == NULL)
		return 0;
	switch (ctable_lookup(&p->cache->table, off, &req)) {
	case CTABLE_WAS_CACHED:
		/* Freed into the cache: let the daemon answer (3). */
		flush_some(p, NULL);
		return 0;
	case CTABLE_KEPT:
		return req;
	default:
		return 0;
	}
}

uint64_t
cache_give_slack(struct pool *p)
{
	struct cache		*k = p->cache;
	struct ctable_slack	 s[CACHE_SLACK_BATCH];
	uint64_t		 given = 0, usable;
	size_t			 n, i;
	int			 error;

	if (k == NULL)
		return 0;
	while (ctable_slack(&k->table) > 0 &&
	    (n = ctable_slack_take(&k->table, s, CACHE_SLACK_BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			error = client_shrink(p, s[i].off, s[i].req, &usable);
			ctable_shrunk(&k->table, s[i].off,
			    error == 0 ? (uint32_t)usable : 0);
			if (error == 0)
				given++;
			else if (error == -ECONNRESET)
				return given;
		}
		if (n < CACHE_SLACK_BATCH)
			break;
	}
	return given;
}

uint64_t
cache_flush(struct pool *p)
{
	if (p->cache == NULL)
		return 0;
	return flush_some(p, NULL);
}

uint64_t
cache_bytes(const struct pool *p)
{
	uint64_t	sum = 0;
	int		i;

	if (p->cache == NULL)
		return 0;
	for (i = 0; i < CACHE_SHARDS; i++)
		sum += __atomic_load_n(&p->cache->shard[i].bytes,
		    __ATOMIC_RELAXED);
	return sum;
}
