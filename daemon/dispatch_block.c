/*
 * dispatch_block.c - requests on the blocks of an open handle: alloc, free,
 * realloc, their batches, retain, persist and usable_size.
 *
 * Each checks the handle (writable for anything that changes the pool) and
 * the session's limits (blocks held, the pool's quota) before the engine is
 * asked.  A read-only handle may take references (Retain) and drop its own
 * (Free, FreeBatch): a reader keeps the block it reads from being freed
 * under it, which changes no byte of the pool.  A refusal while the pool
 * still has work its clients let go of queued is not final
 * (refused_unsettled): the request is held until that work is done, and
 * tried again then; one that still finds no room evicts what it may
 * (make_room), and one a quota refuses evicts what its uid may of its
 * own (make_quota_room).  An Alloc with wait_ms that still finds no room,
 * or is still over a quota, waits for room (dispatch_room.c).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dispatch_internal.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "session.h"

#define OFF_NONE UINT64_MAX
#define MAX_BATCH 4096

/* A session may hold only so many references (each costs daemon memory). */
int
check_block_cap(struct call *c)
{
	if (dispatch_cf && c->s->nrefs >= dispatch_cf->max_blocks_per_session)
		return refuse(c, -EDQUOT, "this client holds %llu block%s, "
			      "the most allowed",
			      (unsigned long long)c->s->nrefs,
			      log_plural(c->s->nrefs));
	return 0;
}

/*
 * The cap for a retain of off by h: only a retain that would add a
 * reference counts against it.  One of a block h holds already is a
 * no-op, and one of no live block is -EINVAL (dpool_retain says which),
 * whether or not the session is at its cap.
 */
int
check_retain_cap(struct call *c, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(h->pool, off);

	if (!b || dpool_holds(b, h))
		return 0;
	return check_block_cap(c);
}

static Poolmgr__AllocReply alloc_reply;

void
reply_block(struct call *c, uint64_t off, uint64_t size)
{
	poolmgr__alloc_reply__init(&alloc_reply);
	alloc_reply.offset = off;
	alloc_reply.usable_size = size;
	c->rep->body_case = POOLMGR__REPLY__BODY_ALLOC;
	c->rep->alloc = &alloc_reply;
}

/*
 * A refusal while the pool still holds freed blocks for their release, or
 * closed handles' blocks (pool_release.c), is not final: the request waits
 * for that work (HELD) and is tried again then.  The limit's refusals too
 * (-ENOMEM, limit_hit): a block held for its release is still allocated
 * in the engine, and counts against the limit until its last step.  Once
 * it has waited settle_wait_ms (others keep queueing work) and what was
 * queued before it is done, the refusal stands.  Only the last answer
 * reaches the client, so the engine's count of a refusal the client never
 * saw is taken back in the statistics.
 */
static int
refused_unsettled(struct call *c, struct dpool *p, int rc)
{
	/* Kept pages going hold no room: no wait for them alone. */
	if ((rc != -ENOMEM && rc != -EBUSY && rc != -EAGAIN) ||
	    !dpool_unsettled(p) || !wait_settled(c, p))
		return 0;
	if (rc == -ENOMEM)
		p->unseen_failures++;
	return HELD;
}

/*
 * The engine still has no room once the pool is settled: evict its least
 * recently used evictable names (pool_evict.h) and try the request again
 * (TRY_AGAIN); or, if their pages go back in steps, once those are done
 * (HELD: the wait's mark is the work queued by now, so what the evictions
 * queued, not the request's first mark).  need is the least the request
 * could do with, counted the bytes of it the pool's limit counts (all of
 * them but for a realloc that moves, see growth): a round evicts what the
 * request is short of either (dpool_evict_short), since no fewer can do;
 * when it is short of none (the room is there, but in pieces), one name,
 * which the next try may find was enough.  A round whose evictions go
 * back in steps waits for them: so that a request many names short does
 * not wait once a name, such a round takes as many names as those rounds
 * before it took all told (c->evict_names), one at least: 1, 1, 2, 4...
 * unless fewer of them already hold need, the request's own bytes: those
 * could be its run, and the next try tells.  So a request that, once the
 * bytes missing are evicted (a wait), still needs k names for a run, j
 * names holding its bytes, evicts fewer than k + min(j, k) names for it
 * (fewer than 2k), and waits for them 1 + ceil(log2 k) times at most
 * while j >= k, about log2 j + k / j times otherwise, each of those
 * waits being for the pages of at least its own bytes.
 * The refusal the client will not see is taken back in the statistics.
 * 0: the refusal stands, nothing evicted: none is evictable, or the
 * evictable bytes are fewer than the request is short, or the client
 * will try again (retry_follows): it gives back the blocks its cache
 * keeps first, which may be room enough.  -EDQUOT evicts the asking
 * uid's own names alone (make_quota_room), need being what the session
 * or the uid lacks under the quota that refused; others' names are not
 * its room.  A refusal
 * by the pool's limit is the pool's as a whole: an eviction gives bytes
 * back to the limit as to the engine, so the request evicts until it fits
 * under it.
 */
#define TRY_AGAIN 2

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

static int
make_room(struct call *c, struct dpool *p, int rc, bool retry_follows,
	  uint64_t need, uint64_t counted)
{
	uint32_t names = c->evict_names ? c->evict_names : 1, gone;
	uint32_t releasing = p->releasing;
	uint64_t lack;

	if (rc == -EDQUOT)
		return make_quota_room(c, p, retry_follows, need);
	if (rc != -ENOMEM || retry_follows || p->evict.unheld == 0)
		return 0;
	lack = dpool_evict_short(p, need, counted);
	if (!dpool_evict_may_fit(p, lack) ||
	    !(gone = dpool_evict(p, lack, names, need)))
		return 0;
	p->unseen_failures++;
	if (!dpool_unsettled(p))
		return TRY_AGAIN;
	/* Names evicted are at most the pool's: no overflow. */
	if (lack == 0 && p->releasing > releasing)
		c->evict_names += gone;
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
static uint64_t
own_quota_lack(struct call *c, struct dpool *p, uid_t uid)
{
	if (uid != c->s->uid)
		return 0;
	return p->quota_lack;
}

/* The bytes of a block for size, the least its allocation takes. */
static uint64_t
block_bytes(struct dpool *p, uint64_t size)
{
	uint64_t len = heap_block_size(p->heap, size);

	return len ? len : size;
}

/*
 * What counts against the quota of the asking session in h's pool: the
 * blocks its handles there hold (their running total, session.h), and the
 * persistent blocks its uid made so.
 */
uint64_t
quota_used(struct call *c, struct handle *h)
{
	if (!h->pool->quota)
		return 0;	/* nothing to count against: not counted */
	return handle_session_bytes(h) + dpool_persisted_by(h->pool,
							      c->s->uid);
}

/*
 * A final refusal of an allocation, realloc or batch: the engine counted
 * it in failed_allocs, which the statistics take back when the client said
 * it will try again (retry_follows): only its last answer reaches the
 * program.
 */
static void
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
static int
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
static int
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
 * is that quota's.
 */
int
refuse_persist_quota(struct call *c, struct dpool *p, bool retry_follows)
{
	count_quota_refusal(p, false, retry_follows);
	return refuse(c, -EDQUOT, "uid %u would persist more than the pool's "
		      "quota", (unsigned)c->s->uid);
}

static int
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
 * Whose user quota a resize of the block at off counts against: the
 * persister's, for a persistent block; else the asking uid's.
 */
static uid_t
resize_payer(struct call *c, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(h->pool, off);

	return b && block_persistent(b) ? b->persister : c->s->uid;
}

/* A resize refused by a quota: the persister's, for a persistent block. */
static int
refuse_resize_quota(struct call *c, struct handle *h,
		    const Poolmgr__Realloc *m)
{
	char what[80];

	snprintf(what, sizeof(what), "resizing 0x%llx to %llu byte%s",
		 (unsigned long long)m->offset, (unsigned long long)m->size,
		 log_plural(m->size));
	return refuse_quota(c, h->pool, resize_payer(c, h, m->offset), what,
			    m->retry_follows);
}

int
refuse_retain(struct call *c, struct dpool *p, int rc, uint64_t off)
{
	char what[48];

	snprintf(what, sizeof(what), "retaining 0x%llx",
		 (unsigned long long)off);
	if (rc == -EDQUOT && dpool_has_quota(p))
		return refuse_quota(c, p, c->s->uid, what, false);
	return refuse(c, rc, "cannot retain 0x%llx", (unsigned long long)off);
}

/* dpool_alloc's DPOOL_NO_MEMORY: the daemon's, not the pool's. */
static int
refuse_no_memory(struct call *c)
{
	return refuse(c, -ENOMEM, "poolmgrd is out of memory");
}

static int
refuse_alloc(struct call *c, struct dpool *p, int rc, bool retry_follows,
	     uint64_t size)
{
	if (rc == DPOOL_NO_MEMORY)
		return refuse_no_memory(c);
	uncount_retried(p, rc, retry_follows);
	if (rc == -ENOMEM && p->limit_hit)
		return refuse_limit(c, p);
	if ((rc == -EDQUOT && dpool_has_quota(p)) || rc == -EFBIG)
		return refuse_bound(c, p, rc, size, retry_follows);
	return refuse(c, rc, "allocating %llu byte%s", (unsigned long long)size,
		      log_plural(size));
}

/*
 * A block made ready in steps (DPOOL_IN_STEPS: moved by a Realloc, zeroed
 * for a calloc) goes to its client at c->note once the queue's mark has
 * passed; the client was held meanwhile, and every later request of it, so
 * the block is its own and there still.
 */
static int
held_in_steps(struct call *c, uint64_t off)
{
	c->stage = 1;
	c->note = off;
	return HELD;
}

/*
 * Alloc.persist: the new block goes to the pool as a Persist and a Free by
 * its maker would take it there, in the one request.  The allocation's
 * quota check counted the block against the session's blocks and its
 * uid's persistent ones together, more than the persist counts, so what
 * can refuse it now is the daemon's memory for the uid's charge, or, for
 * a block zeroed in steps meanwhile, the uid's other connections having
 * persisted up to the quota: either way the block goes back to the
 * engine, as if never made, and the refusal is the answer.
 */
static int
persist_new(struct call *c, struct handle *h, struct block *b,
	    bool retry_follows)
{
	uint64_t off = b->off, size = b->size;
	int rc;

	if ((rc = dpool_persist(h->pool, h, off, 0)) != 0) {
		(void)dpool_unalloc(h->pool, h, off);
		if (rc == -EDQUOT)
			return refuse_persist_quota(c, h->pool,
						    retry_follows);
		return refuse_no_memory(c);
	}
	/* Persistent now: dropping the maker's hold leaves it live. */
	rc = dpool_free(h->pool, h, off);
	assert(rc == 0 && dpool_block(h->pool, off) == b);
	(void)rc;
	reply_block(c, off, size);
	alloc_reply.persisted = true;	/* the client need not do it */
	return 0;
}

/*
 * The block of a successful allocation goes to its client; persist: the
 * Alloc that asked it persistent (persist_new), or NULL.
 */
static int
alloc_done(struct call *c, struct handle *h, struct block *b,
	   const Poolmgr__Alloc *persist)
{
	if (persist)
		return persist_new(c, h, b, persist->retry_follows);
	reply_block(c, b->off, b->size);
	return 0;
}

static int
ready_in_steps(struct call *c, struct handle *h, const Poolmgr__Alloc *persist)
{
	struct block *b = dpool_block(h->pool, c->note);

	if (!b || !dpool_holds(b, h))
		return refuse(c, -EIO, "block 0x%llx was lost on its way",
			      (unsigned long long)c->note);
	return alloc_done(c, h, b, persist);
}

/* The Alloc m, if its block is to persist (alloc_done). */
static const Poolmgr__Alloc *
persisting(const Poolmgr__Alloc *m)
{
	return m->persist ? m : NULL;
}

int
do_alloc(struct call *c, const Poolmgr__Alloc *m)
{
	uint64_t size = m->size, need = 0;
	struct block *b;
	struct handle *h;
	int rc, wait;

	/* Its handle was closed with the pool: say why, not -EBADF. */
	if (room_wait_pool_gone(c->s))
		return refuse(c, -ENOENT, "the pool was destroyed while the "
			      "allocation waited for room");
	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (c->stage == 1)	/* held while its block was zeroed */
		return ready_in_steps(c, h, persisting(m));
	/* A block persistent from birth is no reference of the session's. */
	if (!m->persist && (rc = check_block_cap(c)))
		return rc;
	if (m->zero && m->nmemb > 1 &&
	    __builtin_mul_overflow(m->size, m->nmemb, &size))
		return refuse(c, -EOVERFLOW, "nmemb * size overflows");
	/* The engine's calloc takes no alignment: never ignore one. */
	if (m->zero && m->align > 1)
		return refuse(c, -EINVAL, "a zeroed allocation takes no "
			      "alignment");
	do {
		rc = dpool_alloc(h->pool, h, size, m->align, m->zero,
				 quota_used(c, h), &b);
		if ((wait = refused_unsettled(c, h->pool, rc)))
			return wait;
		if (rc == -ENOMEM)
			need = block_bytes(h->pool, size);
		if (rc == -EDQUOT)
			need = own_quota_lack(c, h->pool, c->s->uid);
	} while ((wait = make_room(c, h->pool, rc, m->retry_follows, need,
				   need)) == TRY_AGAIN);
	if (wait)
		return wait;
	if (rc == DPOOL_IN_STEPS)
		return held_in_steps(c, b->off);
	/*
	 * No room, none to be made now: wait for some (dispatch_room.c).
	 * Under either quota too: the uid's other connections make room
	 * under the user quota, as others' frees do in the pool, and under
	 * the quota per connection by ending the uid's persistent blocks,
	 * which it counts beside this connection's own.
	 */
	if ((rc == -ENOMEM || rc == -EDQUOT) && m->wait_ms && !m->retry_follows)
		return room_wait(c, h->pool, m->wait_ms, m->wait_part, size,
				 rc);
	if (rc)
		return refuse_alloc(c, h->pool, rc, m->retry_follows, size);
	return alloc_done(c, h, b, persisting(m));
}

/*
 * A read-only handle's Free drops a reference of its own, nothing else:
 * any other would end a block's persistence, or count as an invalid
 * free, which is writing.  0 for a handle that may write.
 */
static int
reader_holds(struct handle *h, uint64_t off)
{
	struct block *b;

	if (!h->read_only)
		return 0;
	b = dpool_block(h->pool, off);
	return b && dpool_holds(b, h) ? 0 : -EACCES;
}

static int
refuse_reader_free(struct call *c, struct handle *h, uint64_t off)
{
	return refuse(c, -EACCES, "pool %s is open read-only: it frees only "
		      "its own references, and holds none on 0x%llx",
		      h->pool->name, (unsigned long long)off);
}

int
do_free(struct call *c, const Poolmgr__Free *m)
{
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if (m->offset == OFF_NONE)
		return 0;
	if (reader_holds(h, m->offset))
		return refuse_reader_free(c, h, m->offset);
	rc = dpool_free(h->pool, h, m->offset);
	if (rc == -EPERM)
		return refuse(c, rc, "block 0x%llx belongs to another handle",
			      (unsigned long long)m->offset);
	if (rc)
		return refuse(c, rc, "0x%llx is not a live block",
			      (unsigned long long)m->offset);
	return 0;
}

/* Milliseconds as nanoseconds, UINT64_MAX past what 64 bits hold. */
static uint64_t
ms_to_ns(uint64_t ms)
{
	return ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
}

/*
 * A writer's guarded free of what was left behind: only a persistent
 * block persistent for long enough, so that one made at the offset since
 * the operator listed it survives the operator's command.
 */
int
do_free_persisted(struct call *c, const Poolmgr__FreePersisted *m)
{
	static struct log_limit lim;
	unsigned long long off = m->offset;
	struct handle *h;
	uint64_t age_ns;
	uid_t persister;
	int rc;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	rc = dpool_free_persisted(h->pool, m->offset, ms_to_ns(m->min_age_ms),
				  &age_ns, &persister);
	switch (rc) {
	case 0:
		/* An operator's act on what another program left: said. */
		log_limited(&lim, LOG_PRI_INFO, "pool %s: block 0x%llx, "
			    "persistent for %llu s (uid %u's), ended by uid %u "
			    "pid %d", h->pool->name, off,
			    (unsigned long long)(age_ns / 1000000000u),
			    (unsigned)persister, (unsigned)c->s->uid,
			    (int)c->s->pid);
		return 0;
	case -EINVAL:
		return refuse(c, rc, "0x%llx is not a live block", off);
	case -EPERM:
		return refuse(c, rc, "block 0x%llx is not persistent: its "
			      "holders free it", off);
	case -EBUSY:
		return refuse(c, rc, "block 0x%llx is named: unpublish its "
			      "name", off);
	case -ESTALE:
		return refuse(c, rc, "block 0x%llx has been persistent for "
			      "%llu ms, less than the %llu asked: it may be one "
			      "made there since it was listed", off,
			      (unsigned long long)(age_ns / 1000000u),
			      (unsigned long long)m->min_age_ms);
	}
	return refuse(c, rc, "block 0x%llx: %s", off, strerror(-rc));
}

/*
 * Would size make small block b a page span?  The engine never turns a
 * small block into one in place (heap_resize): it moves it, so the free
 * run after it and any block there are no room for it to grow into.
 */
static bool
becomes_span(struct dpool *p, const struct block *b, uint64_t size)
{
	struct heap_block_info bi;

	return size >= p->large_threshold &&
	       heap_block_info(p->heap, b->off, &bi) == 0 && !bi.span;
}

/*
 * Would p's limit take more bytes once the back bytes now going back in
 * steps are back?  They are among the allocated bytes until then.
 */
static bool
limit_takes_once_back(struct dpool *p, uint64_t back, uint64_t more)
{
	uint64_t allocated = heap_allocated_bytes(p->heap);

	assert(p->limit && back <= allocated);
	return more <= p->limit && allocated - back <= p->limit - more;
}

/*
 * The bytes a realloc of the block at off to size needs beyond its own:
 * growing in place takes no more, and if not even they can be had, a move
 * (the whole size) cannot be either.  So a realloc evicts only when they
 * can, a round at a time (make_room), and tries again after each: it
 * stops at the first eviction that lets it grow in place, or move, and
 * never evicts for the whole size what the bytes after the block would
 * have done.  Those are the free run right after it (heap_free_after) and
 * the block that ends the run, if eviction may free it: when the two
 * together are too short, or the run already was long enough and what
 * failed was a move, the block can only move, and then the whole size
 * must be had, or nothing is evicted.  A refusal by the limit (limit_hit)
 * asked the engine nothing: a run long enough may still take the growth
 * in place.  A small block grown to the large threshold can only move
 * whatever follows it (becomes_span).  *counted is what the limit counts:
 * the growth alone, however the block grows (dpool_realloc), since a move
 * gives the old place back.  A look at the run and one block, bounded by
 * the growth.
 *
 * The block ending the run may be one the pool is giving back in steps
 * (a request meets one only once it has stopped waiting for work queued
 * after it, wait_settled): it is no one's, and free once that work is
 * done.  When it and the run hold the growth, no eviction is needed, nor
 * would one help: *soon is set, and the caller waits for that work
 * (held_for_release).  A refusal by the limit waits for it too when its
 * bytes are what the limit lacks (limit_takes_once_back): they count
 * against the limit until their last step, and the growth in place is
 * sure then.  When the limit would lack bytes even then, an eviction may
 * give them: no wait.
 */
static uint64_t
growth(struct dpool *p, uint64_t off, uint64_t size, uint64_t *counted,
       bool *soon)
{
	struct block *b = dpool_block(p, off), *next;
	uint64_t want = heap_block_size(p->heap, size), more, gap, back;

	if (!b || want == 0) {
		*counted = size;
		return size;
	}
	if (want <= b->size) {
		*counted = 0;
		return 0;
	}
	more = *counted = want - b->size;
	if (becomes_span(p, b, size))
		return want;
	if (heap_free_after(p->heap, off, more, &gap))
		return want;
	if (gap >= more)
		return p->limit_hit ? more : want;
	next = dpool_block(p, b->off + b->size + gap);
	back = next ? 0 : dpool_releasing_at(p, b->off + b->size + gap);
	if (back && gap + back >= more &&
	    (!p->limit_hit || limit_takes_once_back(p, back, more))) {
		*soon = true;
		return more;
	}
	if (!next || !(next->evictable && next->nrefs == 0) ||
	    gap + next->size < more)
		return want;
	return more;
}

/*
 * What the realloc lacks comes back with work the pool has queued
 * (growth's soon): held until the work queued by now is done, then tried
 * again, nothing evicted.  The refusal the client will not see is taken
 * back in the statistics.
 */
static int
held_for_release(struct call *c, struct dpool *p)
{
	p->unseen_failures++;
	c->settle = false;
	c->prior_only = false;
	return HELD;
}

int
do_realloc(struct call *c, const Poolmgr__Realloc *m)
{
	struct block *b;
	struct handle *h;
	uint64_t dst, need = 0, counted = 0;
	bool soon = false;
	int rc, wait;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->offset == OFF_NONE) {
		if ((rc = check_block_cap(c)))
			return rc;
		do {
			rc = dpool_alloc(h->pool, h, m->size, 0, false,
					 quota_used(c, h), &b);
			if ((wait = refused_unsettled(c, h->pool, rc)))
				return wait;
			if (rc == -ENOMEM)
				need = block_bytes(h->pool, m->size);
			if (rc == -EDQUOT)
				need = own_quota_lack(c, h->pool, c->s->uid);
		} while ((wait = make_room(c, h->pool, rc, m->retry_follows,
					   need, need)) == TRY_AGAIN);
		if (wait)
			return wait;
		if (rc)
			return refuse_alloc(c, h->pool, rc,
					    m->retry_follows, m->size);
		reply_block(c, b->off, b->size);
		return 0;
	}
	if (m->size == 0) {
		if ((rc = dpool_free(h->pool, h, m->offset)))
			return refuse(c, rc, "cannot free 0x%llx",
				      (unsigned long long)m->offset);
		reply_block(c, OFF_NONE, 0);
		return 0;
	}
	if (c->stage == 1)	/* held while its block moved */
		return ready_in_steps(c, h, NULL);
	do {
		rc = dpool_realloc(h->pool, h, m->offset, m->size,
				   quota_used(c, h), m->in_place, &b, &dst);
		if ((wait = refused_unsettled(c, h->pool, rc)))
			return wait;
		if (rc == -ENOMEM) {
			need = growth(h->pool, m->offset, m->size, &counted,
				      &soon);
			if (soon)
				return held_for_release(c, h->pool);
		}
		if (rc == -EDQUOT)
			need = own_quota_lack(c, h->pool,
					      resize_payer(c, h, m->offset));
	} while ((wait = make_room(c, h->pool, rc, m->retry_follows, need,
				   counted)) == TRY_AGAIN);
	if (wait)
		return wait;
	if (rc == DPOOL_IN_STEPS)
		return held_in_steps(c, dst);
	if (rc == -EBUSY)
		return refuse(c, rc, "block is shared and cannot move");
	if (rc == -EAGAIN)
		return refuse(c, rc, "block cannot change size in place");
	uncount_retried(h->pool, rc, m->retry_follows);
	if (rc == -ENOMEM && h->pool->limit_hit)
		return refuse_limit(c, h->pool);
	if (rc == -EDQUOT)
		return refuse_resize_quota(c, h, m);
	if (rc)
		return refuse(c, rc, "cannot resize 0x%llx to %llu byte%s",
			      (unsigned long long)m->offset,
			      (unsigned long long)m->size,
			      log_plural(m->size));
	reply_block(c, b->off, b->size);
	return 0;
}

static uint64_t batch_offsets[MAX_BATCH], batch_sizes[MAX_BATCH];
static struct block *batch_blocks[MAX_BATCH];	/* a FreeBatch's, to free */
static Poolmgr__AllocBatchReply alloc_batch_reply;
static struct heap_events batch_events;

/*
 * The batch's allocations, or none: 0, or the first refusal, with its
 * index in *failed and everything before it undone, counters included.
 */
static int
alloc_batch_try(struct call *c, struct handle *h, const Poolmgr__AllocBatch *m,
		size_t *failed)
{
	struct block *b;
	uint64_t used;
	size_t i, j;
	int rc;

	heap_events_save(h->pool->heap, &batch_events);
	/* Counted once, then kept up as the batch allocates. */
	used = quota_used(c, h);
	for (i = 0; i < m->n_sizes; i++) {
		rc = dpool_alloc(h->pool, h, m->sizes[i], 0, false, used, &b);
		if (rc) {
			for (j = 0; j < i; j++)
				dpool_unalloc(h->pool, h, batch_offsets[j]);
			heap_events_restore(h->pool->heap, &batch_events);
			*failed = i;
			return rc;
		}
		batch_offsets[i] = b->off;
		batch_sizes[i] = b->size;
		used += b->size;
	}
	return 0;
}

/* The bytes of a batch's blocks, all told (at most UINT64_MAX). */
static uint64_t
batch_bytes(struct dpool *p, const Poolmgr__AllocBatch *m)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < m->n_sizes; i++)
		if (__builtin_add_overflow(sum, block_bytes(p, m->sizes[i]),
					   &sum))
			return UINT64_MAX;
	return sum;
}

/*
 * What the asking uid lacks under the user quota for the whole of batch
 * m, refused at block i: what that block's try lacked (own_quota_lack,
 * the blocks before it held then) and the blocks after it.  0 if that
 * was not the user quota's refusal.  UINT64_MAX past what 64 bits hold.
 */
static uint64_t
batch_quota_lack(struct call *c, struct dpool *p,
		 const Poolmgr__AllocBatch *m, size_t i)
{
	uint64_t lack = own_quota_lack(c, p, c->s->uid);

	if (lack == 0)
		return 0;
	while (++i < m->n_sizes)
		if (__builtin_add_overflow(lack, block_bytes(p, m->sizes[i]),
					   &lack))
			return UINT64_MAX;
	return lack;
}

/*
 * A batch refused by a quota holds none of its blocks then: name them
 * all, which together passed it, not the one that found it passed.
 */
static int
refuse_batch_quota(struct call *c, struct dpool *p,
		   const Poolmgr__AllocBatch *m)
{
	char what[80];

	snprintf(what, sizeof(what), "a batch of %zu block%s (%llu bytes "
		 "in all)", m->n_sizes, log_plural(m->n_sizes),
		 (unsigned long long)batch_bytes(p, m));
	return refuse_quota(c, p, c->s->uid, what, m->retry_follows);
}

/*
 * A batch whose n blocks were all made is taken back: the persistence of
 * its first done blocks ends (the handle still holds them, so none is
 * freed by that), every block goes back to the engine, and the engine's
 * counters are as before the batch (batch_events, saved by the try that
 * made it).
 */
static void
batch_undo(struct handle *h, size_t n, size_t done)
{
	size_t i;

	for (i = 0; i < done; i++)
		dpool_unpersist(h->pool, dpool_block(h->pool,
						     batch_offsets[i]));
	for (i = 0; i < n; i++)
		(void)dpool_unalloc(h->pool, h, batch_offsets[i]);
	heap_events_restore(h->pool->heap, &batch_events);
}

/*
 * AllocBatch.persist: each block of the batch goes to the pool as
 * Alloc.persist's does (persist_new).  The allocations' quota checks
 * counted the batch against the session's blocks and the uid's
 * persistent ones together, more than the persists count, so what can
 * refuse one is the daemon's memory (for the uid's charge, or the
 * block's persist time): then the persists done end and the blocks go
 * back (batch_undo), as if the batch was never made, and the refusal is
 * the answer.  The crash journal takes the persists as one change
 * (journal_group_begin): a crash before the last of them recovers none
 * of the batch, which its client was never told of, and an undone batch
 * leaves it nothing to read.  Only once all are persistent do the
 * maker's holds go: until then, nothing is out of reach of the undo.
 */
static int
batch_persist(struct call *c, struct handle *h, const Poolmgr__AllocBatch *m)
{
	size_t i;
	int rc;

	journal_group_begin();
	for (i = 0; i < m->n_sizes; i++)
		if ((rc = dpool_persist(h->pool, h, batch_offsets[i], 0))) {
			batch_undo(h, m->n_sizes, i);
			journal_group_end(false);
			if (rc == -EDQUOT)
				return refuse_persist_quota(c, h->pool,
							    m->retry_follows);
			return refuse_no_memory(c);
		}
	journal_group_end(true);
	/* Persistent now: dropping the maker's holds leaves them live. */
	for (i = 0; i < m->n_sizes; i++) {
		rc = dpool_free(h->pool, h, batch_offsets[i]);
		assert(rc == 0);
		(void)rc;
	}
	return 0;
}

/* Many allocations, all or nothing. */
int
do_alloc_batch(struct call *c, const Poolmgr__AllocBatch *m)
{
	struct handle *h;
	size_t i = 0;
	uint64_t need = 0;
	int rc, wait;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->n_sizes == 0 || m->n_sizes > MAX_BATCH)
		return refuse(c, m->n_sizes ? -E2BIG : -EINVAL, "a batch holds "
			      "1 to %d sizes, not %zu", MAX_BATCH, m->n_sizes);
	/* Blocks persistent from birth are no references of the session's. */
	if (!m->persist && dispatch_cf && c->s->nrefs + m->n_sizes >
	    dispatch_cf->max_blocks_per_session)
		return refuse(c, -EDQUOT, "the batch would pass the blocks "
			      "allowed per client");
	do {
		rc = alloc_batch_try(c, h, m, &i);
		if ((wait = refused_unsettled(c, h->pool, rc)))
			return wait;
		if (rc == -ENOMEM)
			need = batch_bytes(h->pool, m);
		if (rc == -EDQUOT)
			need = batch_quota_lack(c, h->pool, m, i);
	} while ((wait = make_room(c, h->pool, rc, m->retry_follows, need,
				   need)) == TRY_AGAIN);
	if (wait)
		return wait;
	if (rc == DPOOL_NO_MEMORY)
		return refuse_no_memory(c);
	if (rc) {
		uncount_retried(h->pool, rc, m->retry_follows);
		if (rc == -ENOMEM && h->pool->limit_hit)
			return refuse_limit(c, h->pool);
		if (rc == -EDQUOT && dpool_has_quota(h->pool))
			return refuse_batch_quota(c, h->pool, m);
		if (rc == -EFBIG)
			return refuse_bound(c, h->pool, rc, m->sizes[i],
					    m->retry_follows);
		return refuse(c, rc, "allocation %zu of the batch (%llu "
			      "byte%s) failed", i,
			      (unsigned long long)m->sizes[i],
			      log_plural(m->sizes[i]));
	}
	if (m->persist && (rc = batch_persist(c, h, m)))
		return rc;
	poolmgr__alloc_batch_reply__init(&alloc_batch_reply);
	alloc_batch_reply.persisted = m->persist; /* the client need not */
	alloc_batch_reply.n_offsets = m->n_sizes;
	alloc_batch_reply.offsets = batch_offsets;
	alloc_batch_reply.n_usable_sizes = m->n_sizes;
	alloc_batch_reply.usable_sizes = batch_sizes;
	alloc_batch_reply.pool_limit_case =
	    POOLMGR__ALLOC_BATCH_REPLY__POOL_LIMIT_LIMIT;
	alloc_batch_reply.limit = h->pool->limit;
	alloc_batch_reply.pool_quota_case =
	    POOLMGR__ALLOC_BATCH_REPLY__POOL_QUOTA_QUOTA;
	alloc_batch_reply.quota = handle_quota_share(h);
	c->rep->body_case = POOLMGR__REPLY__BODY_ALLOC_BATCH;
	c->rep->alloc_batch = &alloc_batch_reply;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A client cache sheds with FreeBatch: the pool's limit and quota as they
 * are now ride on the reply, so that a SetPool since the open reaches the
 * cache's budget (HelloReply.features bit 2).  Refusals carry only their
 * failed_index: the cache hears at its next batch that goes through.
 */
static void
free_batch_bounds(struct call *c, const struct handle *h,
		  Poolmgr__FreeBatchReply *fbr)
{
	fbr->pool_limit_case = POOLMGR__FREE_BATCH_REPLY__POOL_LIMIT_LIMIT;
	fbr->limit = h->pool->limit;
	fbr->pool_quota_case = POOLMGR__FREE_BATCH_REPLY__POOL_QUOTA_QUOTA;
	fbr->quota = handle_quota_share(h);
	c->rep->body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
	c->rep->free_batch = fbr;
}

/*
 * A checked batch's frees, in two rounds: every hold dropped and every
 * persistence ended first, which the crash journal takes as one change
 * (a crash in the middle recovers the batch's blocks all persistent, as
 * they were), then the blocks nobody holds any more are freed, once the
 * journal says none of them is persistent.
 */
static void
free_batch_all(struct handle *h, const Poolmgr__FreeBatch *m)
{
	size_t i, n = 0;

	journal_group_begin();
	for (i = 0; i < m->n_offsets; i++)
		if (m->offsets[i] != OFF_NONE &&
		    dpool_free_begin(h->pool, h, m->offsets[i],
				     &batch_blocks[n]) == 0)
			n++;
	journal_group_end(true);
	for (i = 0; i < n; i++)
		dpool_free_end(h->pool, batch_blocks[i]);
}

/* Many frees, all or nothing: every offset is checked before any goes. */
int
do_free_batch(struct call *c, const Poolmgr__FreeBatch *m)
{
	static Poolmgr__FreeBatchReply fbr;
	struct handle *h;
	size_t i;
	int rc;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if (m->n_offsets > MAX_BATCH)
		return refuse(c, -E2BIG, "a batch holds at most %d offsets",
			      MAX_BATCH);
	if (m->n_offsets == 0)
		return 0;	/* offsets is NULL then: nothing to copy or sort */
	poolmgr__free_batch_reply__init(&fbr);
	/*
	 * The same block twice would be a double free halfway through; and
	 * checked first, since each check below may walk a block's holders:
	 * 4096 times the same block would walk them 4096 times.
	 */
	memcpy(batch_offsets, m->offsets, m->n_offsets * sizeof(uint64_t));
	qsort(batch_offsets, m->n_offsets, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < m->n_offsets; i++)
		if (batch_offsets[i] == batch_offsets[i - 1] &&
		    batch_offsets[i] != OFF_NONE)
			return refuse(c, -EINVAL, "offset 0x%llx appears twice",
				      (unsigned long long)batch_offsets[i]);
	for (i = 0; i < m->n_offsets; i++) {
		if (m->offsets[i] == OFF_NONE)
			continue;
		if ((rc = reader_holds(h, m->offsets[i])) == 0)
			rc = dpool_may_free(h->pool, h, m->offsets[i]);
		if (rc) {
			fbr.failed_index = (uint32_t)i;
			c->rep->body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
			c->rep->free_batch = &fbr;
			if (rc == -EACCES)
				return refuse_reader_free(c, h,
							  m->offsets[i]);
			return refuse(c, rc, "offset %zu of the batch (0x%llx) "
				      "cannot be freed", i,
				      (unsigned long long)m->offsets[i]);
		}
	}
	free_batch_all(h, m);
	free_batch_bounds(c, h, &fbr);
	return 0;
}

/*
 * Read-only handles too: a reference is a reader's way to keep what it
 * reads.  Bounded as every reference is: per session (check_block_cap),
 * per block (POOL_MAX_HOLDERS), and a block that is not persistent is
 * charged to each holder, the reader too (quota_used).
 */
int
do_retain(struct call *c, const Poolmgr__Retain *m)
{
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if ((rc = check_retain_cap(c, h, m->offset)))
		return rc;
	rc = dpool_retain(h->pool, h, m->offset,
			  quota_used(c, h));
	return rc ? refuse_retain(c, h->pool, rc, m->offset) : 0;
}

int
do_persist(struct call *c, const Poolmgr__Persist *m)
{
	struct block *b;
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (!(b = dpool_block(h->pool, m->offset)))
		return refuse(c, -EINVAL, "0x%llx is not a live block",
			      (unsigned long long)m->offset);
	if (block_persistent(b))
		return 0;	/* the pool holds it already */
	if (!dpool_holds(b, h))
		return refuse(c, -EPERM, "only a holder may persist a block");
	if ((rc = dpool_persist(h->pool, h, m->offset, 0)) == -EDQUOT)
		return refuse_persist_quota(c, h->pool, false);
	if (rc == -ENOMEM)
		return refuse_no_memory(c);
	return rc;
}

int
do_usable_size(struct call *c, const Poolmgr__UsableSize *m)
{
	struct block *b;
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if (!(b = dpool_block(h->pool, m->offset)))
		return refuse(c, -EINVAL, "0x%llx is not a live block",
			      (unsigned long long)m->offset);
	reply_block(c, b->off, b->size);
	return 0;
}
