/*
 * dispatch_refuse.c - why a request on blocks was refused, in words the
 * client can act on, and counted for the operator; and the room a refusal
 * may make before it stands: the pool's work still queued
 * (refused_unsettled), its evictable names (make_room), the asking uid's
 * own names under a quota (make_quota_room).  The handlers of
 * dispatch_block.c and dispatch_batch.c decide; this file words and
 * counts.
 */
#include <errno.h>
#include <stdio.h>

#include "dispatch_internal.h"
#include "log.h"
#include "pool.h"
#include "session.h"

/*
 * A refusal while the pool still holds freed blocks for their release, or
 * closed handles' blocks (pool_release.c, and under the user quota:
 * drops_may_make_room), is not final: the request waits
 * for that work (HELD) and is tried again then.  The limit's refusals too
 * (-ENOMEM, limit_hit): a block held for its release is still allocated
 * in the engine, and counts against the limit until its last step.  Once
 * it has waited settle_wait_ms (others keep queueing work) and what was
 * queued before it is done, the refusal stands.  Only the last answer
 * reaches the client, so the engine's count of a refusal the client never
 * saw is taken back in the statistics.
 */
/*
 * A user quota's refusal while closed handles of the refused uid still
 * drop their references: its count holds those blocks until they are
 * dropped (pool_hold.c), so the drops may be the room it lacks.  Another
 * uid's drops give it none: the refusal stands at once, not after every
 * drop in the pool (settle_wait_ms, or more for work queued before it).
 */
static bool
drops_may_make_room(const struct dpool *p, int rc)
{
	return rc == -EDQUOT && p->user_quota_hit &&
	       session_user_closing(p, p->user_quota_uid);
}

int
refused_unsettled(struct call *c, struct dpool *p, int rc)
{
	/* Kept pages going hold no room: no wait for them alone. */
	if ((rc != -ENOMEM && rc != -EBUSY && rc != -EAGAIN &&
	     !drops_may_make_room(p, rc)) ||
	    !dpool_unsettled(p) || !wait_settled(c, p))
		return 0;
	if (rc == -ENOMEM)
		p->unseen_failures++;
	return HELD;
}

/*
 * A refusal by a quota, which lacks lack bytes of the asking session's or
 * uid's (0: a quota refused another uid's bytes, nothing to evict): the
 * uid's own unheld evictable names are its room, since each is charged
 * to it (the persister of its block), both quotas count what is charged
 * to it (the quota per connection counts the uid's persistent blocks
 * beside the session's, quota_used), and an eviction ends that charge at
 * once.  So they go, its least recently used first, until
 * their bytes reach lack, and the request is tried again (TRY_AGAIN); or
 * none goes if all of them could not make it fit (dpool_evict_user_may_fit),
 * and the refusal stands, as it does with retry_follows (the client's
 * cache counts against the uid too, and goes first).  Another uid's names
 * never go for it: they are charged to their own persister, and would
 * give the asking uid nothing.  A user quota's refusal is counted only
 * when answered (count_quota_refusal), and never in failed_allocs: one
 * the evictions turn into a block has nothing to take back.  The pages
 * of an evicted block may go back in steps: the user quota no longer
 * counts it, but the engine does until they are back, and a try it
 * refuses for room then waits for them (refused_unsettled).  lack is
 * what both quotas lack, the larger of their lacks when both refuse
 * (dpool_quota_check_each): names evicted for the one alone could leave
 * the request refused by the other, their loss for nothing.  Each round
 * evicts a name at least, or ends.
 */
static int
make_quota_room(struct call *c, struct dpool *p, bool retry_follows,
		uint64_t lack)
{
	if (lack == 0 || retry_follows ||
	    !dpool_evict_user_may_fit(p, c->s->uid, lack) ||
	    !dpool_evict_user(p, c->s->uid, lack))
		return 0;
	return TRY_AGAIN;
}

/*
 * Might the engine have a run for heap_alloc(size, align) now, evicting
 * nothing?  A batch is refused for any of its blocks: its largest may lie
 * in a free run no name is beside while a smaller one found no room,
 * which an eviction gives.  A look at the longest free run, which the
 * engine's refusal left with its caches merged; its alignment not
 * weighed, so a yes may be wrong, and the batch then evicts by rounds as
 * it did before windows; a no is sure.
 */
static bool
engine_has_run(struct dpool *p, uint64_t size)
{
	return heap_largest_free(p->heap) >= heap_block_size(p->heap, size);
}

/*
 * make_room's evictions for an -ENOMEM, lack bytes short: the names
 * right after the block for a growth in place the engine or the limit
 * refused (dpool_evict_grow); a window (dpool_evict_run) for a request the
 * engine refused that needs one run and nothing more; else, if the
 * engine refused a request whose largest block neither a window nor a
 * free run could hold (engine_has_run, asked only then), none; else, for
 * a batch of several the engine refused, the fewest least recently used
 * names whose eviction trials in the engine say make room for all of
 * its blocks, or none if even all of them would not
 * (dpool_evict_batch): a batch's largest block may have a window while
 * its others find no run however many names go, and rounds then evicted
 * name after name, all of them perhaps, for a batch refused all the
 * same.  The trials are made once a dispatch (c->tried): a batch refused
 * again after their names went (the engine may place it otherwise than
 * a trial did), or one with no memory for them, goes on by rounds.  Else
 * (a refusal by the limit) the least recently used names, by rounds.
 * How many went, and in *by_rounds whether by rounds.  A window or free
 * run found for the largest block stays found for the rounds of the
 * same dispatch (c->window): an eviction never shortens a stretch (the
 * names left and the space freed make the same one, or a free run), and
 * nothing else runs between them; each round searching again walked the
 * names a round, their square for a request that evicts them all.  A
 * round whose pages go back in steps ends the dispatch (HELD), and the
 * next one searches again.
 */
static uint32_t
evict_for(struct call *c, struct dpool *p, const struct room_need *need,
	  uint64_t lack, bool *by_rounds)
{
	uint32_t names = c->evict_names ? c->evict_names : 1, gone;

	*by_rounds = false;
	/*
	 * Under the limit too: the names a growth in place needs give the
	 * limit their bytes as well, where the least recently used names
	 * elsewhere gave it the bytes and the block no room (an in_place or
	 * shared block was then refused, names gone for nothing).  Once the
	 * room is there, what the limit still lacks goes by rounds.
	 */
	if (need->grow && ((gone = dpool_evict_grow(p, need->at,
						    need->bytes)) ||
			   !p->limit_hit))
		return gone;
	if (!p->limit_hit && need->run) {
		if (need->whole)
			return dpool_evict_run(p, need->run, need->align);
		if (!c->window &&
		    !dpool_evict_may_make_run(p, need->run, need->align) &&
		    !engine_has_run(p, need->run))
			return 0;
		c->window = true;
		if (need->sizes && !c->tried) {
			c->tried = true;
			if (dpool_evict_batch(p, need->sizes, need->n, lack,
					      &gone) == 0)
				return gone;
		}
	}
	*by_rounds = true;
	return dpool_evict(p, lack, names, need->bytes);
}

/*
 * The engine still has no room once the pool is settled: evict its
 * evictable names (pool_evict.h) and try the request again (TRY_AGAIN);
 * or, if their pages go back in steps, once those are done (HELD: the
 * wait's mark is the work queued by now, so what the evictions queued,
 * not the request's first mark).  A request that needs one run and
 * nothing more, refused by the engine, evicts a window in one round
 * (evict_for, dpool_evict_run), a growth in place the names right
 * after its block (dpool_evict_grow), and a batch of several the names
 * trials in the engine found it needs, in one round
 * (dpool_evict_batch); the others, and a batch its trials' names left
 * refused, evict the least recently used names by rounds, as follows.
 * need is the least the request could do with, counted the bytes of it
 * the pool's limit counts (all of them but for a realloc that moves, see
 * growth): a round evicts what the request is short of either
 * (dpool_evict_short), since no fewer can do; when it is short of none
 * (the room is there, but in pieces), one name, which the next try may
 * find was enough.  A round
 * whose evictions go back in steps waits for them: so that a request
 * many names short does not wait once a name, such a round takes as many
 * names as those rounds before it took all told (c->evict_names), one at
 * least: 1, 1, 2, 4... unless fewer of them already hold need, the
 * request's own bytes: those could be its run, and the next try tells.
 * So a request that, once the bytes missing are evicted (a wait), still
 * needs k names for a run, j names holding its bytes, evicts fewer than
 * k + min(j, k) names for it (fewer than 2k), and waits for them
 * 1 + ceil(log2 k) times at most while j >= k, about log2 j + k / j times
 * otherwise, each of those waits being for the pages of at least its own
 * bytes.
 * The refusal the client will not see is taken back in the statistics.
 * 0: the refusal stands, nothing evicted: none is evictable, or the
 * evictable bytes are fewer than the request is short, or the engine
 * refused it and no stretch the evictions could free would hold the
 * block it needs whole (need->run, no window: evicting every name would
 * leave it refused, the cache emptied for nothing), or it is a batch of
 * several that trials in the engine found refused even with every name
 * evicted (dpool_evict_batch), or the client will try again
 * (retry_follows): it gives back the blocks its cache keeps
 * first, which may be room enough.  -EDQUOT evicts the asking uid's own
 * names alone (make_quota_room), need being what the session or the uid
 * lacks under the quota that refused; others' names are not its room.
 * A refusal by the pool's limit is the pool's as a whole: an eviction
 * gives bytes back to the limit as to the engine, so the request evicts
 * until it fits under it.
 */
int
make_room(struct call *c, struct dpool *p, int rc, bool retry_follows,
	  const struct room_need *need)
{
	uint32_t releasing = p->releasing, gone;
	bool by_rounds;
	uint64_t lack;

	if (rc == -EDQUOT)
		return make_quota_room(c, p, retry_follows, need->bytes);
	if (rc != -ENOMEM || retry_follows || p->evict.unheld == 0)
		return 0;
	lack = dpool_evict_short(p, need->bytes, need->counted);
	if (!dpool_evict_may_fit(p, lack) ||
	    !(gone = evict_for(c, p, need, lack, &by_rounds)))
		return 0;
	p->unseen_failures++;
	if (!dpool_unsettled(p))
		return TRY_AGAIN;
	/* Names evicted are at most the pool's: no overflow. */
	if (by_rounds && lack == 0 && p->releasing > releasing)
		c->evict_names += gone;
	return held_for_work(c);
}

/*
 * The request waits for the work its pool has queued by now (the pages
 * of what was just evicted or freed), then is tried again: the wait's
 * mark is that work, not the request's first mark.
 */
int
held_for_work(struct call *c)
{
	c->settle = false;
	c->prior_only = false;
	return HELD;
}

/*
 * What the last -EDQUOT (dpool_quota_check) lacked under the bound that
 * refused, if the asking uid's own evictable names may give it back:
 * when uid, whose bytes the quotas counted, is the asking one.  0 when
 * they counted another's: a persistent block grown by a uid not its
 * persister is checked against the persister's persistent blocks, under
 * the quota per connection as under the user quota (pool_block.c's
 * growth_check), and the asking uid's names are no room there.
 * make_quota_room's need.
 */
uint64_t
own_quota_lack(struct call *c, struct dpool *p, uid_t uid)
{
	if (uid != c->s->uid)
		return 0;
	return p->quota_lack;
}

/*
 * A final refusal of an allocation, realloc or batch: the engine counted
 * it in failed_allocs, which the statistics take back when the client said
 * it will try again (retry_follows): only its last answer reaches the
 * program.
 */
void
uncount_retried(struct dpool *p, int rc, bool retry_follows)
{
	if (rc == -ENOMEM && retry_follows)
		p->unseen_failures++;
}

const char *
bytes_text(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	unsigned i;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	for (i = 0; i < sizeof(units) - 2 && n >= 1024ull << (10 * (i + 1));
	     i++)
		;
	snprintf(buf, len, "%.1f %ciB", (double)n / (double)(1ull <<
		 (10 * (i + 1))), units[i]);
	return buf;
}

/*
 * The last refusal was the limit's (dpool's limit_hit), not the engine's:
 * say so, with what the pool holds, which is what the operator raises it
 * over.
 */
int
refuse_limit(struct call *c, struct dpool *p)
{
	char held[24], limit[24];

	return refuse(c, -ENOMEM, "pool %s holds %s of its %s limit",
		      p->name, bytes_text(heap_allocated_bytes(p->heap), held,
					  sizeof(held)),
		      bytes_text(p->limit, limit, sizeof(limit)));
}

/*
 * A quota's refusal, counted for the operator, who otherwise sees a quiet
 * pool (failed_allocs counts only the engine's and the limit's): once per
 * request the client sees refused, so not one it said it will try again
 * (retry_follows: its cache given back first), which its retry counts if
 * refused too.
 */
static void
count_quota_refusal(struct dpool *p, bool by_user_quota, bool retry_follows)
{
	if (retry_follows)
		return;
	if (by_user_quota)
		p->user_quota_refusals++;
	else
		p->quota_refusals++;
}

/*
 * A refusal by a quota (dpool_quota_check: the connection's or, as
 * user_quota_hit says, uid's), or by the pool's size: say which bound, and
 * how large it is, since the code alone ("quota or block limit", "larger
 * than the pool") leaves the program's author to look both up.  The user
 * quota's counts what the uid's other connections hold, which this one
 * cannot see: the words point to where that is listed.  They name the
 * pool once, in the command, to stay within the 255 bytes the library
 * keeps: 251 at most, with a pool name of 64, the longest what (a batch
 * of 4096 blocks past 2^64 bytes), a uid of 10 digits and byte counts of
 * 10 characters.  A uid bound by its own entry (pool_uquota.h) is told
 * so, in fewer words: raising the pool's user quota would not help it.
 */
int
refuse_quota(struct call *c, struct dpool *p, uid_t uid, const char *what,
	     bool retry_follows)
{
	char bound[24], held[24];
	uint64_t ubound;
	bool own;

	count_quota_refusal(p, p->user_quota_hit, retry_follows);
	ubound = dpool_user_bound(p, uid, &own);
	if (p->user_quota_hit && own)
		return refuse(c, -EDQUOT, "%s would pass uid %u's own user "
			      "quota of %s (it holds %s); `poolctl users %s` "
			      "lists what each uid holds", what, (unsigned)uid,
			      bytes_text(ubound, bound, sizeof(bound)),
			      bytes_text(dpool_user_used(p, NULL, uid), held,
					 sizeof(held)), p->name);
	if (p->user_quota_hit)
		return refuse(c, -EDQUOT, "%s would pass the pool's quota of "
			      "%s per user (uid %u holds %s); `poolctl users "
			      "%s` lists what each uid holds", what,
			      bytes_text(p->user_quota, bound, sizeof(bound)),
			      (unsigned)uid,
			      bytes_text(dpool_user_used(p, NULL, uid), held,
					 sizeof(held)), p->name);
	return refuse(c, -EDQUOT, "%s would pass pool %s's quota of %s per "
		      "connection (its blocks and its uid's persistent and "
		      "named ones count)", what, p->name,
		      bytes_text(p->quota, bound, sizeof(bound)));
}

/*
 * A persist (Persist, Publish, Alloc.persist) past the bytes the uid may
 * persist: those count against the quota per connection, so the refusal
 * is that quota's, named with its size and what the uid persists (which
 * other connections of its may have made: this one cannot see it); or
 * past the persistent blocks a uid may have in a pool
 * (p->persist_cap_hit), a daemon setting.  That one says the uid's count
 * and the bound apart: a batch is refused below the bound, and a reload
 * may have put the bound below the count.
 */
int
refuse_persist_quota(struct call *c, struct dpool *p, bool retry_follows)
{
	const struct persist_charge *pc;
	char bound[24], held[24];
	uint64_t has;

	/*
	 * No flush of a client's cache makes room under the uid's bound of
	 * persistent blocks (a cache keeps none): libpoolclient does not ask
	 * again, whatever retry_follows said, so this is the refusal its
	 * program sees.
	 */
	count_quota_refusal(p, false, retry_follows && !p->persist_cap_hit);
	if (p->persist_cap_hit) {
		pc = dpool_charge(p, c->s->uid);
		has = pc ? pc->blocks : 0;
		return refuse(c, -EDQUOT, "uid %u has %llu persistent block%s "
			      "in pool %s; max_persistent_blocks_per_uid is "
			      "%llu", (unsigned)c->s->uid,
			      (unsigned long long)has, log_plural(has),
			      p->name,
			      (unsigned long long)dpool_persist_cap());
	}
	return refuse(c, -EDQUOT, "uid %u would persist more than the pool's "
		      "quota: pool %s's is %s per connection, and the uid's "
		      "persistent blocks there hold %s", (unsigned)c->s->uid,
		      p->name, bytes_text(p->quota, bound, sizeof(bound)),
		      bytes_text(dpool_persisted_by(p, c->s->uid), held,
				 sizeof(held)));
}

int
refuse_bound(struct call *c, struct dpool *p, int rc, uint64_t size,
	     bool retry_follows)
{
	char bound[24], what[48];

	snprintf(what, sizeof(what), "allocating %llu byte%s",
		 (unsigned long long)size, log_plural(size));
	if (rc == -EDQUOT)
		return refuse_quota(c, p, c->s->uid, what, retry_follows);
	return refuse(c, rc, "%s: more than pool %s's size, %s", what,
		      p->name, bytes_text(p->size, bound, sizeof(bound)));
}

/*
 * A refused retain (Retain, Lookup with retain); a quota's refusal the
 * client will try again after giving back its cache (retry_follows) is
 * not counted: only its retry's answer reaches the program.  Each of
 * dpool_retain's refusals says which it was: -EBUSY's text in
 * pool_strerror speaks of other requests' cases, and "cannot retain"
 * alone left a program to guess between a block gone, one with every
 * holder it may have, and one on its way.
 */
int
refuse_retain(struct call *c, struct dpool *p, int rc, uint64_t off,
	      bool retry_follows)
{
	unsigned long long o = (unsigned long long)off;
	char what[48];

	snprintf(what, sizeof(what), "retaining 0x%llx", o);
	if (rc == -EDQUOT && dpool_has_quota(p))
		return refuse_quota(c, p, c->s->uid, what, retry_follows);
	switch (rc) {
	case -EINVAL:
		return refuse(c, rc, "0x%llx is not a live block", o);
	case -EMLINK:
		return refuse(c, rc, "block 0x%llx has %d holders, the most "
			      "it may have", o, POOL_MAX_HOLDERS);
	case -EBUSY:
		return refuse(c, rc, "block 0x%llx is being zeroed or moved "
			      "for its holder: ask again once that is done",
			      o);
	case -ENOMEM:
		return refuse_no_memory(c);
	default:
		return refuse(c, rc, "cannot retain 0x%llx", o);
	}
}

/* dpool_alloc's DPOOL_NO_MEMORY: the daemon's, not the pool's. */
int
refuse_no_memory(struct call *c)
{
	return refuse(c, -ENOMEM, "poolmgrd is out of memory");
}

/*
 * The engine's own refusal of what (an allocation, a resize): what room
 * the pool has, its longest free run and its free bytes (the engine
 * merged its caches before it refused), and, when it has evictable names
 * nobody holds and made no room of them (make_room: none of their
 * windows holds the request, or all of them are too few bytes), that
 * evicting them would not have done.  Not said of a request the client
 * will try again (retry_follows): it evicted nothing, without looking.
 */
int
refuse_no_run(struct call *c, struct dpool *p, const char *what,
	      bool retry_follows)
{
	char run[24], all[24], ev[24];
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	bytes_text(st.largest_free, run, sizeof(run));
	bytes_text(st.free_bytes + st.cached_bytes, all, sizeof(all));
	if (retry_follows || p->evict.unheld == 0)
		return refuse(c, -ENOMEM, "%s: pool %s's longest free run is "
			      "%s (%s free in all)", what, p->name, run, all);
	return refuse(c, -ENOMEM, "%s: pool %s's longest free run is %s (%s "
		      "free in all), and evicting its %u evictable name%s "
		      "nobody holds (%s) would make no room for it", what,
		      p->name, run, all, p->evict.unheld,
		      log_plural(p->evict.unheld),
		      bytes_text(p->evict.unheld_bytes, ev, sizeof(ev)));
}

int
refuse_alloc(struct call *c, struct dpool *p, int rc, bool retry_follows,
	     uint64_t size)
{
	char what[48];

	if (rc == DPOOL_NO_MEMORY)
		return refuse_no_memory(c);
	uncount_retried(p, rc, retry_follows);
	if (rc == -ENOMEM && p->limit_hit)
		return refuse_limit(c, p);
	if ((rc == -EDQUOT && dpool_has_quota(p)) || rc == -EFBIG)
		return refuse_bound(c, p, rc, size, retry_follows);
	snprintf(what, sizeof(what), "allocating %llu byte%s",
		 (unsigned long long)size, log_plural(size));
	if (rc == -ENOMEM)
		return refuse_no_run(c, p, what, retry_follows);
	return refuse(c, rc, "%s", what);
}
