/*
 * cache_flush.c - giving cached blocks back to the daemon, and losing none
 * of them on the way (point 5 of the design in cache.c); and when a shard
 * must give some back for room (6).
 *
 * A flush takes blocks out of a shard's stacks under its lock, their
 * entries left busy and marked with the number of its flight; sends them
 * with no lock held, in halves while the kernel will not take a batch, a
 * block it will not take even alone set aside; and settles under the lock
 * again: the blocks the daemon freed are forgotten, the others go back
 * under the rest of their class.  Evictions for a free that found no
 * credit (cache_make_room), the shrink to a lowered budget
 * (cache_shrink_to_budget), sheds of blocks not to be kept (shed, in
 * cache_internal.h), the flush before a call about a freed block
 * (cache_flush_for_daemon) and the flush that must leave nothing
 * (cache_empty_all) are made of these.
 *
 * Invariants: an entry busy with a flight is settled by that flight alone;
 * a shard's flights are on its list oldest first, from their beginning
 * until they settle; no lock is held across a round trip, and a wait for
 * flights gives its shard's lock up while it sleeps; a block the handle
 * still holds is dropped only when memory runs out putting it back.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

/*
 * Where a take left its shard (cache_empty_all): every block the shard had
 * then was taken, or is on its way in a flight up to fence; failures as
 * they stood.
 */
struct mark {
	uint32_t	fence;
	uint64_t	failures;
};

/*
 * What a take takes of each of a shard's stacks, the older blocks first:
 * the newer, warmer ones are the next to be handed out.
 */
enum take {
	TAKE_ALL,	/* every block */
	TAKE_HALF,	/* the older half, if the shard is over a bound */
	TAKE_OVER,	/* what the shard holds over a bound, alike from
			 * each stack */
};

/*
 * A flush of sh's blocks begins: f gets a number to mark their entries,
 * and is on its way until cache_give_back settles it.  Locked.
 */
void
cache_flight_begin(struct shard *sh, struct flight *f)
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

/* Where sh is now.  Locked. */
static void
mark_locked(const struct shard *sh, struct mark *m)
{
	m->fence = sh->flights;
	m->failures = sh->failures;
}

/*
 * n * part / whole, rounded down, for part <= whole: never more than n.
 * Both are cut to 32 bits first, which keeps the product within 64.
 */
static uint32_t
share_of(uint32_t n, uint64_t part, uint64_t whole)
{
	assert(part <= whole && whole > 0);
	while (part > UINT32_MAX) {
		part >>= 1;
		whole >>= 1;
	}
	return (uint32_t)((uint64_t)n * part / whole);
}

/*
 * How many of each stack's older blocks a take of sh takes (how, above):
 * for TAKE_OVER, the same share of each stack, rounded down, then one
 * block more from each stack in turn until the bytes over above are
 * taken: at least a block, and less than one too many.  Locked.
 */
static void
take_counts(const struct cache *k, const struct shard *sh, enum take how,
    uint64_t above, uint32_t *count)
{
	const struct bin	*b;
	uint64_t		 over, got = 0;
	uint32_t		 i;
	unsigned		 c;
	int			 more;

	over = sh->bytes > above ? sh->bytes - above : 0;
	for (c = 0; c < k->nclasses; c++) {
		b = &sh->bin[c];
		if (how == TAKE_ALL)
			count[c] = b->n;
		else if (how == TAKE_HALF)
			count[c] = (b->n + 1) / 2;
		else if (over == 0)
			count[c] = 0;
		else {
			count[c] = share_of(b->n, over, sh->bytes);
			for (i = 0; i < count[c]; i++)
				got += b->b[i].usable;
		}
	}
	if (how != TAKE_OVER)
		return;
	do {
		more = 0;
		for (c = 0; c < k->nclasses && got < over; c++) {
			b = &sh->bin[c];
			if (count[c] < b->n) {
				got += b->b[count[c]++].usable;
				more = 1;
			}
		}
	} while (more && got < over);
}

/*
 * Take blocks out of a shard's stacks to be flushed (how): all of them;
 * the older half of each stack if the shard holds more than above bytes;
 * or the older blocks of each stack, alike, that bring it down to above
 * bytes (take_counts).  The newer, warmer blocks stay.  At most max.
 * Their entries stay, busy and marked with *flight, until the daemon has
 * answered (settle).  *m (if not NULL) is where the take left the shard.
 */
static size_t
shard_take(struct cache *k, struct shard *sh, enum take how, uint64_t above,
    uint64_t *offs, uint64_t *usable, size_t max, struct flight *flight,
    struct mark *m)
{
	struct bin	*b;
	size_t		 n = 0;
	uint64_t	 taken = 0, keep;
	uint32_t	 count[CACHE_MAX_CLASSES], take, i;
	unsigned	 c;

	cache_lock(&sh->lock);
	/*
	 * Checked again under the lock: threads that found the central
	 * shard over at once halve it once, not once each.
	 */
	if (how != TAKE_ALL && sh->bytes <= above)
		max = 0;
	else
		take_counts(k, sh, how, above, count);
	for (c = 0; c < k->nclasses && n < max; c++) {
		b = &sh->bin[c];
		take = count[c];
		if (take > max - n)
			take = (uint32_t)(max - n);
		if (take == 0)
			continue;
		if (n == 0)
			cache_flight_begin(sh, flight);
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
		if (how != TAKE_ALL && b->refill > CACHE_REFILL_MIN)
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
	cache_credit_trim(k, sh, keep);
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
		if (want[c] > 0 &&
		    !cache_bin_open_bottom(&sh->bin[c], want[c]))
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
			cache_bin_close_bottom(&sh->bin[c], put[c], want[c]);
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
		cache_credit_force(k, sh, sh->bytes - sh->credit);
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
int
cache_give_back(struct pool *p, struct shard *sh, struct flight *flight,
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
 * NULL), or of one shard's what shard_take takes (how, above): the
 * blocks taken, or 0 if none.  *errorp (if not NULL) is 0, or the first
 * error that kept blocks in the cache: the next flush tries them again.
 * A shard whose blocks cannot go does not keep the others': whoever
 * flushes wants all it can get (room for an allocation, a double-freed
 * block that may be in any shard), and smaller batches may go where one
 * did not.  marks (if not NULL, one a shard) get where each shard's last
 * take left it.
 */
static size_t
flush_marked(struct pool *p, struct shard *only, enum take how,
    uint64_t above, int *errorp, struct mark *marks)
{
	struct cache	*k = p->cache;
	uint64_t	*offs, *usable;
	size_t		 n, left, taken = 0;
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
		return 0;
	}
	usable = offs + POOL_BATCH_MAX;
	if (only == NULL)
		how = TAKE_ALL;
	for (s = 0; s < CACHE_ALL_SHARDS; s++) {
		if (only != NULL && only != &k->shard[s])
			continue;
		do {
			n = shard_take(k, &k->shard[s], how, above, offs,
			    usable, POOL_BATCH_MAX, &flight,
			    marks != NULL ? &marks[s] : NULL);
			taken += n;
			/*
			 * A dead daemon, or the handle destroyed, takes the
			 * blocks off the daemon's books with the handle:
			 * cache_give_back forgets them.
			 */
			left = 0;
			e = n > 0 ? cache_give_back(p, &k->shard[s], &flight,
			    offs, usable, n, &left) : 0;
			if (error == 0)
				error = e;
			/*
			 * Halving takes one pass, and so does a cut (its
			 * caller looks again); emptying may take more,
			 * while a batch frees something: one whose blocks
			 * all came back would be taken again, but the few a
			 * batch kept back go with the next one's others.
			 */
		} while (how == TAKE_ALL && n == POOL_BATCH_MAX && left < n);
	}
	free(offs);
	if (errorp != NULL)
		*errorp = error;
	return taken;
}

/*
 * All of every shard's blocks, or the older half of one shard's if it
 * holds more than above bytes.
 */
static void
flush_some(struct pool *p, struct shard *only, uint64_t above, int *errorp)
{
	(void)flush_marked(p, only, TAKE_HALF, above, errorp, NULL);
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
 * within one call of cache.h's, and this runs in none of them.
 */
int
cache_empty_all(struct pool *p, int every)
{
	struct cache	*k = p->cache;
	struct mark	 marks[CACHE_ALL_SHARDS];
	struct shard	*sh;
	unsigned	 s, tries;
	int		 error, e, back, failure;

	(void)flush_marked(p, NULL, TAKE_ALL, 0, &error, marks);
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
			(void)flush_marked(p, sh, TAKE_ALL, 0, &e, marks);
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
void
cache_make_room(struct pool *p, struct shard *sh, uint64_t need)
{
	struct cache	*k = p->cache;
	struct shard	*fullest;
	unsigned	 s, used = 0;
	uint64_t	 eighth;

	/* A block larger than the budget is never kept: nothing to gain. */
	if (need > budget_of(k))
		return;
	cache_credit_reclaim(k, sh, &fullest);
	if (cache_budget_has(k, need))
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
		if (cache_budget_has(k, need))
			return;
	}
	evict_above(p, fullest, 0);
}

/*
 * What a cache over budget is cut down to: a credit piece below it, the
 * credit a shard short of room takes beside what it needs (shard_room).
 */
static inline uint64_t
cut_room(uint64_t budget)
{
	return budget - budget / CACHE_CREDIT_PIECE;
}

/* What the shards hold when each is cut down to level. */
static uint64_t
held_under(const uint64_t *bytes, unsigned n, uint64_t level)
{
	uint64_t	sum = 0;
	unsigned	s;

	for (s = 0; s < n; s++)
		sum += bytes[s] < level ? bytes[s] : level;
	return sum;
}

/*
 * The level that n shards holding bytes are cut down to so that they
 * hold no more than room: the highest at which they do.  The shards under
 * it keep all they have, those over it keep it alike.  Found by halving
 * the range: at most 64 sums of a few shards, beside a round trip for
 * each shard cut.
 */
static uint64_t
level_within(const uint64_t *bytes, unsigned n, uint64_t room)
{
	uint64_t	lo = 0, hi = 0, mid;
	unsigned	s;

	for (s = 0; s < n; s++)
		if (bytes[s] > hi)
			hi = bytes[s];
	if (held_under(bytes, n, hi) <= room)
		return hi;
	/* Within room at lo, over it at hi. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (held_under(bytes, n, mid) <= room)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A budget made smaller: the shards give back the credit they do not
 * use, and while they hold more than the budget, those that hold the
 * most give back what they hold over one level, at which together they
 * fit (level_within): the older blocks of each of their stacks, so that
 * the warm ones within the budget stay and the next allocations find
 * them, and one thread's blocks go only while it holds more than the
 * others, as with evictions (cache_make_room).  One shard's refusal does
 * not keep the others over: what it keeps leaves them less room, and
 * they go on without it.  Each turn takes a block or more, a shard
 * fails, or the loop ends.  0, or the first error that kept blocks.
 *
 * A cache over its budget is cut a credit piece below it (cut_room): cut
 * to the budget itself, it would be full, and the next free that needs
 * credit would evict the older half of a shard (cache_make_room), the
 * warm blocks the cut just kept among them.  With the piece free, a
 * program that frees and allocates in turn right after keeps them all,
 * with no round trip (itest_limit's lowered_live_then_steady: half of a
 * 256 KiB cache was evicted by the first of such frees).  A cache within
 * its budget is not cut at all (pool_set_cache with the budget it has).
 */
int
cache_shrink_to_budget(struct pool *p)
{
	struct cache	*k = p->cache;
	struct shard	*fullest;
	uint64_t	 bytes[CACHE_ALL_SHARDS], reserved, room, level;
	unsigned	 s, failed = 0;
	size_t		 taken;
	int		 error = 0, e, cutting = 0;

	for (;;) {
		cache_credit_reclaim(k, NULL, &fullest);
		reserved = __atomic_load_n(&k->reserved, __ATOMIC_RELAXED);
		room = budget_of(k);
		if (cutting || reserved > room)
			room = cut_room(room);
		if (reserved <= room)
			break;
		cutting = 1;
		for (s = 0; s < CACHE_ALL_SHARDS; s++) {
			bytes[s] = __atomic_load_n(&k->shard[s].bytes,
			    __ATOMIC_RELAXED);
			if ((failed & (1u << s)) != 0) {
				room -= room < bytes[s] ? room : bytes[s];
				bytes[s] = 0;
			}
		}
		level = level_within(bytes, CACHE_ALL_SHARDS, room);
		for (s = 0, taken = 0; s < CACHE_ALL_SHARDS; s++) {
			if (bytes[s] <= level)
				continue;
			taken += flush_marked(p, &k->shard[s], TAKE_OVER,
			    level, &e, NULL);
			if (e != 0) {
				failed |= 1u << s;
				if (error == 0)
					error = e;
			}
		}
		/*
		 * None over the level, or none by the time its lock was
		 * taken: what is left over the budget is blocks that could
		 * not be sent, or credit that the next reclaim trims.
		 */
		if (taken == 0)
			break;
	}
	return error;
}

/*
 * A call about a block that sits freed in the cache (3): flush, so that
 * the daemon knows the block free and gives the answer.  0: ask it.  Else
 * the error that kept the block in the cache (nothing could be sent): the
 * daemon, which has the block live for this handle, would take the call,
 * and a double free would free the block under the cache.
 */
int
cache_flush_for_daemon(struct pool *p, uint64_t off)
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
		if ((sh = cache_find_anywhere(p->cache, off, &e, &r)) == NULL)
			return 0;
		cache_unlock(&sh->lock);
		if (r != CTABLE_WAS_CACHED)
			return 0;
		if (error != 0)
			return error;
	}
	return -ENOBUFS;	/* others' flushes keep failing to send it */
}
