/*
 * dispatch_block.c - requests on one block of an open handle: alloc,
 * free, realloc, retain, persist and usable_size (their batches:
 * dispatch_batch.c).
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
 * own (dispatch_refuse.c, which also words the refusals that stand).  An
 * Alloc with wait_ms that still finds no room, or is still over a quota,
 * waits for room (dispatch_room.c); one that comes while those waiting
 * have room to try waits behind them before it tries, and so does a
 * Realloc that would take room (an allocation, a growth), which never
 * waits itself.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dispatch_internal.h"
#include "log.h"
#include "pool.h"
#include "session.h"

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

/* The bytes of a block for size, the least its allocation takes. */
uint64_t
block_bytes(struct dpool *p, uint64_t size)
{
	uint64_t len = heap_block_size(p->heap, size);

	return len ? len : size;
}

/* A refused allocation's need: one block of size, aligned to align. */
static struct room_need
block_need(struct dpool *p, uint64_t size, uint64_t align)
{
	uint64_t n = block_bytes(p, size);

	return (struct room_need){.bytes = n, .counted = n, .run = size,
				  .align = align, .whole = true};
}

/* A quota's refusal: lack bytes of the asking uid's (own_quota_lack). */
static struct room_need
quota_need(uint64_t lack)
{
	return (struct room_need){.bytes = lack, .counted = lack};
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
 * Whose user quota a resize of the block at off counts against: the
 * persister's, for a persistent block; else the asking uid's.
 */
static uid_t
resize_payer(struct call *c, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(h->pool, off);

	return b && block_persistent(b) ? b->persister : c->s->uid;
}

/*
 * Which of dpool_realloc's checks refused a resize, where its code alone
 * could be several: no block at the offset, or one the handle does not
 * hold (-EPERM's text speaks of admins too).  "" for the others.
 */
static const char *
resize_why(int rc)
{
	if (rc == -EINVAL)
		return ": no live block starts there";
	if (rc == -EPERM)
		return ": this handle holds no reference to it";
	return "";
}

/* What a refused resize asked for, as its refusal begins. */
static const char *
resize_what(const Poolmgr__Realloc *m, char *what, size_t len)
{
	snprintf(what, len, "resizing 0x%llx to %llu byte%s",
		 (unsigned long long)m->offset, (unsigned long long)m->size,
		 log_plural(m->size));
	return what;
}

/* A resize refused by a quota: the persister's, for a persistent block. */
static int
refuse_resize_quota(struct call *c, struct handle *h,
		    const Poolmgr__Realloc *m)
{
	char what[80];

	return refuse_quota(c, h->pool, resize_payer(c, h, m->offset),
			    resize_what(m, what, sizeof(what)),
			    m->retry_follows);
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
 * dpool_alloc of size (align, zero) for c on h, room made and tried again
 * while making it may help (eviction, make_room): a wait to return as the
 * request's answer, or 0 with the allocation's own result in *rc and its
 * block in *b.
 */
static int
alloc_making_room(struct call *c, struct handle *h, uint64_t size,
		  uint64_t align, bool zero, bool retry_follows,
		  struct block **b, int *rc)
{
	struct room_need need = {0};
	int wait;

	do {
		*rc = dpool_alloc(h->pool, h, size, align, zero,
				  quota_used(c, h), b);
		if ((wait = refused_unsettled(c, h->pool, *rc)))
			return wait;
		if (*rc == -ENOMEM)
			need = block_need(h->pool, size, zero ? 0 : align);
		if (*rc == -EDQUOT)
			need = quota_need(own_quota_lack(c, h->pool,
							 c->s->uid));
	} while ((wait = make_room(c, h->pool, *rc, retry_follows,
				   &need)) == TRY_AGAIN);
	return wait;
}

/*
 * The block of a successful allocation goes to its client; persist: the
 * Alloc that asked it persistent (persist_new), or NULL.
 */
static int
alloc_done(struct call *c, struct handle *h, struct block *b,
	   const Poolmgr__Alloc *persist)
{
	room_kept_served(c->s);
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
	uint64_t size = m->size;
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
	/* ... but one of its uid's in the pool: none made room for in vain. */
	if (m->persist && dpool_persist_check(h->pool, c->s->uid, 1))
		return refuse_persist_quota(c, h->pool, m->retry_follows);
	if (m->zero && m->nmemb > 1 &&
	    __builtin_mul_overflow(m->size, m->nmemb, &size))
		return refuse(c, -EOVERFLOW, "nmemb %llu * size %llu overflows "
			      "64 bits", (unsigned long long)m->nmemb,
			      (unsigned long long)m->size);
	/* The engine's calloc takes no alignment: never ignore one. */
	if (m->zero && m->align > 1)
		return refuse(c, -EINVAL, "a zeroed allocation takes no "
			      "alignment");
	/*
	 * The engine refuses it too, but after the quotas and the limit,
	 * whose refusals evict names first: for a request that cannot be.
	 */
	if (m->align & (m->align - 1))
		return refuse(c, -EINVAL, "an alignment of %llu is no power "
			      "of two", (unsigned long long)m->align);
	/*
	 * Room made for those waiting is theirs to try first: also a try
	 * with retry_follows, a client's before it gives its cache back
	 * (and waits), and one that would not wait, or either would take
	 * the room at once.
	 */
	if ((wait = room_wait_behind(c, h->pool, m, m->wait_ms)))
		return wait;
	if ((wait = alloc_making_room(c, h, size, m->align, m->zero,
				      m->retry_follows, &b, &rc)))
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
		return room_wait(c, h->pool, m, size, rc);
	if (rc)
		return refuse_alloc(c, h->pool, rc, m->retry_follows, size);
	return alloc_done(c, h, b, persisting(m));
}

/*
 * A read-only handle's Free drops a reference of its own, nothing else:
 * any other would end a block's persistence, or count as an invalid
 * free, which is writing.  0 for a handle that may write.
 */
int
reader_holds(struct handle *h, uint64_t off)
{
	struct block *b;

	if (!h->read_only)
		return 0;
	b = dpool_block(h->pool, off);
	return b && dpool_holds(b, h) ? 0 : -EACCES;
}

int
refuse_reader_free(struct call *c, struct handle *h, uint64_t off)
{
	return refuse(c, -EACCES, "pool %s is open read-only: it frees only "
		      "its own references, and holds none on 0x%llx",
		      h->pool->name, (unsigned long long)off);
}

/*
 * dpool_free's refusal of off, in words that say which check it was: for
 * a Free, and for a Realloc to size 0, which frees (it said "cannot free"
 * alone).
 */
static int
refuse_free(struct call *c, uint64_t off, int rc)
{
	unsigned long long o = (unsigned long long)off;

	if (rc == -EPERM)
		return refuse(c, rc, "block 0x%llx belongs to another handle",
			      o);
	/* Live, and the pool's reference is its name's: Unpublish drops it. */
	if (rc == -EBUSY)
		return refuse(c, rc, "block 0x%llx is named: unpublish its "
			      "name", o);
	return refuse(c, rc, "0x%llx is not a live block", o);
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
	return rc ? refuse_free(c, m->offset, rc) : 0;
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
 * can (make_room), and tries again after: it never evicts for the whole
 * size what the bytes after the block would have done.  Those are the
 * free run right after it (heap_free_after) and the unheld evictable
 * blocks after that, each with only free space before it: a growth in
 * place evicts those it needs and no other name (dpool_evict_grow), for
 * a name elsewhere gives it nothing.  When they all are too short, or
 * the run already was long enough and what failed was a move, the block
 * can only move, and then the whole size must be had, or nothing is
 * evicted.  A refusal by the limit (limit_hit) asked the engine nothing:
 * a run long enough may still take the growth in place.  A small block
 * grown to the large threshold can only move whatever follows it
 * (becomes_span).  What the limit counts is the growth alone, however
 * the block grows (dpool_realloc), since a move gives the old place
 * back; a move needs a run of the whole size (the need's run), a growth
 * in place none but the one after the block.  A look at the run and the
 * names after it, bounded by the growth.
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
static struct room_need
growth(struct dpool *p, uint64_t off, uint64_t size, bool *soon)
{
	struct block *b = dpool_block(p, off), *next;
	uint64_t want = heap_block_size(p->heap, size), more, gap, back;
	struct room_need in_place = {0}, move;

	if (!b || want == 0)
		return (struct room_need){.bytes = size, .counted = size};
	if (want <= b->size)
		return in_place;
	more = want - b->size;
	in_place.bytes = in_place.counted = more;
	in_place.grow = true;
	in_place.at = off;
	move = (struct room_need){.bytes = want, .counted = more,
				  .run = size, .whole = true};
	if (becomes_span(p, b, size))
		return move;
	if (heap_free_after(p->heap, off, more, &gap))
		return move;
	if (gap >= more)
		return p->limit_hit ? in_place : move;
	next = dpool_block(p, b->off + b->size + gap);
	back = next ? 0 : dpool_releasing_at(p, b->off + b->size + gap);
	if (back && gap + back >= more &&
	    (!p->limit_hit || limit_takes_once_back(p, back, more))) {
		*soon = true;
		return in_place;
	}
	if (!next || !dpool_evict_may_grow(p, b, more))
		return move;
	return in_place;
}

/*
 * What the realloc lacks comes back with work the pool has queued
 * (growth's soon): held until the work queued by now is done, then tried
 * again, nothing evicted.  The engine's refusal the client will not see
 * is taken back in the statistics (a shared block's -EBUSY counted none).
 */
static int
held_for_release(struct call *c, struct dpool *p, int rc)
{
	if (rc == -ENOMEM)
		p->unseen_failures++;
	return held_for_work(c);
}

/*
 * Was rc a shared block's growth refused in place (dpool_realloc's
 * -EBUSY for a block others hold or the pool persists, which cannot
 * move)?  Not a shrink: nothing gives that room.
 */
static bool
shared_growth_refused(struct dpool *p, const Poolmgr__Realloc *m, int rc)
{
	struct block *b = dpool_block(p, m->offset);

	return rc == -EBUSY && b &&
	       heap_block_size(p->heap, m->size) > b->size;
}

/*
 * A shared block's growth refused in place: its only room is the space
 * right after it, so the unheld evictable names there go when, with the
 * free space between, they make it (growth, dpool_evict_grow), as for any
 * growth in place, and the realloc is tried again (TRY_AGAIN), or once
 * their pages are back (HELD).  retry_follows is not asked: the library
 * tries again only after -ENOMEM or -EDQUOT, so an eviction left to its
 * retry would never come.  0: none would make the room, nothing evicted.
 */
static int
make_shared_room(struct call *c, struct dpool *p, const struct room_need *need)
{
	if (!need->grow || p->limit_hit || p->evict.unheld == 0 ||
	    !dpool_evict_grow(p, need->at, need->bytes))
		return 0;
	return dpool_unsettled(p) ? held_for_work(c) : TRY_AGAIN;
}

/* Is b shared: held by others too, or persistent (it never moves)? */
static bool
block_shared(const struct block *b)
{
	return b->nrefs > 1 || block_persistent(b);
}

/*
 * A resize a quota refused: what the asking uid's own names may give back
 * (own_quota_lack), unless the block may only grow where it is (with
 * in_place, or shared) and cannot grow there: the new size makes it a
 * page span, which is never made in place, or the free run after it
 * cannot take the growth and, for a shared block, neither can the unheld
 * evictable names after it with it (a shared block's growth refused in
 * place evicts those, make_shared_room; an in_place one's -EAGAIN evicts
 * nothing).  Names evicted elsewhere would then leave it refused all the
 * same, -EAGAIN or -EBUSY, so none goes, and the quota's refusal stands.
 */
static struct room_need
resize_quota_need(struct call *c, struct handle *h,
		  const Poolmgr__Realloc *m)
{
	struct dpool *p = h->pool;
	struct block *b = dpool_block(p, m->offset);
	uint64_t want = heap_block_size(p->heap, m->size), more, gap;

	if (b && want > b->size && (m->in_place || block_shared(b))) {
		more = want - b->size;
		if (becomes_span(p, b, m->size) ||
		    heap_free_after(p->heap, b->off, more, &gap) ||
		    (gap < more && !(block_shared(b) &&
				     dpool_evict_may_grow(p, b, more))))
			return quota_need(0);
	}
	return quota_need(own_quota_lack(c, p, resize_payer(c, h,
							    m->offset)));
}

/*
 * A realloc that may only grow where the block is - with in_place, or of
 * a shared block, which never moves (dpool_realloc) - refused for room
 * by the pool's limit, which is looked at before the engine, when only a
 * move could give the growth (growth's need has a run): the engine's own
 * answer at once, -EBUSY for a shared block, -EAGAIN for in_place, and
 * nothing evicted, for no eviction lets the block grow where it is.
 * Evicting for the limit first took names, and then the block still
 * could not move.  Neither answer is a refusal for room: the limit's
 * count of it is taken back.  rc (-ENOMEM) for a block that may move.
 */
static int
refuse_unmovable(struct dpool *p, const Poolmgr__Realloc *m, int rc)
{
	struct block *b = dpool_block(p, m->offset);
	bool shared = b && block_shared(b);

	if (!shared && !m->in_place)
		return rc;
	p->unseen_failures++;
	return shared ? -EBUSY : -EAGAIN;
}

/*
 * A shared block's resize, refused (dpool_realloc's -EBUSY): it neither
 * shrinks (others were told they may use all its bytes) nor moves (from
 * under their mappings), and the words say which of the two it was.
 */
static int
refuse_shared_resize(struct call *c, struct dpool *p,
		     const Poolmgr__Realloc *m)
{
	struct block *b = dpool_block(p, m->offset);
	bool shrink = b && heap_block_size(p->heap, m->size) < b->size;

	return refuse(c, -EBUSY, "block 0x%llx is shared and cannot %s",
		      (unsigned long long)m->offset, shrink ? "shrink" : "move");
}

/*
 * A resize the engine found no run for (-ENOMEM, not the limit's): the
 * room the pool has, as an allocation's refusal says it, since "cannot
 * resize" alone left the program to guess how much room there was.
 */
static int
refuse_resize_no_run(struct call *c, struct dpool *p,
		     const Poolmgr__Realloc *m)
{
	char what[80];

	return refuse_no_run(c, p, resize_what(m, what, sizeof(what)),
			     m->retry_follows);
}

/* A resize past the pool's size, which no block may have (-EFBIG). */
static int
refuse_resize_past_pool(struct call *c, struct dpool *p,
			const Poolmgr__Realloc *m)
{
	char bound[24], what[80];

	return refuse(c, -EFBIG, "%s: more than pool %s's size, %s",
		      resize_what(m, what, sizeof(what)), p->name,
		      bytes_text(p->size, bound, sizeof(bound)));
}

/*
 * Does the Realloc m take room: an allocation (no block), or a growth of
 * its block, in place or by a move?  A growth in place takes the free
 * run after the block, which a free may have just made, and the bytes
 * the pool's limit and the quotas count, as a move's new place does.  A
 * shrink, a resize within the block's bytes and a free take none, nor
 * does a request the engine refuses whatever the room (no live block, a
 * size past the pool's).
 */
static bool
realloc_takes_room(struct dpool *p, const Poolmgr__Realloc *m)
{
	struct block *b;

	if (m->offset == OFF_NONE)
		return true;
	if (m->size == 0 || !(b = dpool_block(p, m->offset)))
		return false;
	return heap_block_size(p->heap, m->size) > b->size;
}

/*
 * The wait a Realloc gone behind those waiting is armed with: as a
 * batch's (dispatch_batch.c), never reached, for it never waits itself;
 * room made for them makes it active after them.
 */
#define REALLOC_BEHIND_MS UINT32_MAX

/* A Realloc of no block: an allocation of m->size, unaligned. */
static int
realloc_none(struct call *c, struct handle *h, const Poolmgr__Realloc *m)
{
	struct block *b;
	int rc, wait;

	if ((wait = alloc_making_room(c, h, m->size, 0, false,
				      m->retry_follows, &b, &rc)))
		return wait;
	if (rc)
		return refuse_alloc(c, h->pool, rc, m->retry_follows, m->size);
	return alloc_done(c, h, b, NULL);
}

int
do_realloc(struct call *c, const Poolmgr__Realloc *m)
{
	struct block *b;
	struct handle *h;
	struct room_need need = {0};
	uint64_t dst;
	bool soon = false, shared, takes;
	int rc, wait;

	/* Gone behind those waiting, its handle closed with the pool. */
	if (room_wait_pool_gone(c->s))
		return refuse(c, -ENOENT, "the pool was destroyed while the "
			      "resize waited behind its waiting allocations");
	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (c->stage == 1)	/* held while its block moved */
		return ready_in_steps(c, h, NULL);
	if (m->offset == OFF_NONE && (rc = check_block_cap(c)))
		return rc;
	/*
	 * Room made for those waiting is theirs to try first: an
	 * allocation by Realloc, or a growth, read in the same turn as the
	 * free would take it, as an Alloc would (dispatch_room.c).  Tried
	 * once behind them, and answered then, served or refused.
	 */
	takes = realloc_takes_room(h->pool, m);
	if (takes && (wait = room_wait_behind(c, h->pool, NULL,
					      REALLOC_BEHIND_MS)))
		return wait;
	if (m->offset == OFF_NONE)
		return realloc_none(c, h, m);
	if (m->size == 0) {
		if ((rc = dpool_free(h->pool, h, m->offset)))
			return refuse_free(c, m->offset, rc);
		reply_block(c, OFF_NONE, 0);
		return 0;
	}
	do {
		rc = dpool_realloc(h->pool, h, m->offset, m->size,
				   quota_used(c, h), m->in_place, &b, &dst);
		if ((wait = refused_unsettled(c, h->pool, rc)))
			return wait;
		shared = shared_growth_refused(h->pool, m, rc);
		if (rc == -ENOMEM || shared) {
			need = growth(h->pool, m->offset, m->size, &soon);
			if (soon)
				return held_for_release(c, h->pool, rc);
			if (rc == -ENOMEM && need.run)
				rc = refuse_unmovable(h->pool, m, rc);
		}
		if (rc == -EDQUOT)
			need = resize_quota_need(c, h, m);
		if (rc == -EBUSY)
			wait = shared ? make_shared_room(c, h->pool, &need) : 0;
		else
			wait = make_room(c, h->pool, rc, m->retry_follows,
					 &need);
	} while (wait == TRY_AGAIN);
	if (wait)
		return wait;
	if (rc == DPOOL_IN_STEPS)	/* moved: alloc_done once there */
		return held_in_steps(c, dst);
	if (rc == -EBUSY)
		return refuse_shared_resize(c, h->pool, m);
	if (rc == -EAGAIN)
		return refuse(c, rc, "block 0x%llx cannot change size in place "
			      "to %llu byte%s: it would have to move",
			      (unsigned long long)m->offset,
			      (unsigned long long)m->size,
			      log_plural(m->size));
	uncount_retried(h->pool, rc, m->retry_follows);
	if (rc == -ENOMEM && h->pool->limit_hit)
		return refuse_limit(c, h->pool);
	if (rc == -EDQUOT)
		return refuse_resize_quota(c, h, m);
	if (rc == -EFBIG)
		return refuse_resize_past_pool(c, h->pool, m);
	if (rc == -ENOMEM)
		return refuse_resize_no_run(c, h->pool, m);
	if (rc)
		return refuse(c, rc, "cannot resize 0x%llx to %llu byte%s%s",
			      (unsigned long long)m->offset,
			      (unsigned long long)m->size,
			      log_plural(m->size), resize_why(rc));
	/*
	 * Grown, in place or moved: room got, as an Alloc's block is, so a
	 * wait part's place kept goes, or the connection's next wait of
	 * that size, a new allocation, would take it back ahead of those
	 * that came before it.
	 */
	if (takes)
		room_kept_served(c->s);
	reply_block(c, b->off, b->size);
	return 0;
}

/*
 * Read-only handles too: a reference is a reader's way to keep what it
 * reads.  Bounded as every reference is: per session (check_block_cap),
 * per block (POOL_MAX_HOLDERS), and a block that is not persistent is
 * charged to each holder, the reader too (quota_used).  A refusal by the
 * user quota while closed handles of the uid still drop references waits
 * for the drops, as an allocation's does (refused_unsettled): the uid's
 * count holds their blocks until then, though nobody can reach them.
 */
int
do_retain(struct call *c, const Poolmgr__Retain *m)
{
	struct handle *h;
	int rc, wait;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if ((rc = check_retain_cap(c, h, m->offset)))
		return rc;
	rc = dpool_retain(h->pool, h, m->offset,
			  quota_used(c, h));
	/* -EDQUOT alone: a busy block's -EBUSY says to ask again. */
	if (rc == -EDQUOT && (wait = refused_unsettled(c, h->pool, rc)))
		return wait;
	return rc ? refuse_retain(c, h->pool, rc, m->offset,
				  m->retry_follows) : 0;
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
		return refuse(c, -EPERM, "only a holder may persist a block, "
			      "and this handle holds no reference to 0x%llx",
			      (unsigned long long)m->offset);
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
