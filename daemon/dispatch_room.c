/*
 * dispatch_room.c - Allocs that wait for room (docs/protocol.md, "Waiting
 * for room").
 *
 * An Alloc with wait_ms that the pool refuses for want of room (-ENOMEM:
 * the engine found no run, or the pool's limit was in the way; or
 * -EDQUOT by the pool's user quota, under which the uid's other
 * connections make room, or by its quota per connection, which counts
 * the uid's persistent blocks beside the connection's own), after
 * the waits for the pool to settle and the evictions that a refusal goes
 * through anyway (dispatch_refuse.c: under a quota, of the uid's
 * own names alone), is held by its peer as a waiting
 * Lookup is: the connection's later requests wait behind it, nobody
 * else's.  Its record here says in which pool and until when.
 *
 * Room comes when the pool's clients free blocks, shrink them, move them
 * (the old place goes back), when a release's last step frees a big block,
 * or when the pool's limit changes; under a user quota, also when a uid
 * holds less without a block being freed (a reference let go of a block
 * others hold, by a free or by its handle's close, a persistent block's
 * charge ended, an eviction's among them) and when the user quota
 * or the uids' own entries change; under a quota per connection, when a
 * persistent block's charge ends (another connection of the uid frees or
 * unpersists it, a name of the uid's is evicted) and when the quota
 * changes.  An evictable name let go (pool_evict.c's lru_make_room) is
 * room too, for a try may evict it: a wait under a quota tries again
 * then, and evicts it if it is its uid's.  The pool layer says so
 * (dpool_room) only while allocations wait in the pool, and only once
 * until they have tried again: it marks the pool and makes one event of
 * this file's active, whose callback, from the loop, makes the record of
 * every allocation waiting in a marked pool active in turn, in the order
 * they first came.  Each then has its peer dispatch the Alloc again, which
 * is answered, or waits once more with the deadline it had.  Never at once:
 * the free that made the room is another client's request being carried
 * out, and a replay would dispatch inside it.  So a FreeBatch of 4096
 * blocks tries the waiting allocations once, not 4096 times.
 *
 * A new Alloc, waiting or not (with retry_follows too: its client's try
 * before it gives its cache back and perhaps waits), coming while a
 * pool's waiting allocations have room they have not tried yet (the pool
 * marked, or their records made active and not yet run), goes behind
 * them untried (room_wait_behind): else a request read in the same turn
 * as the free would take the room before the allocation that waited for
 * it, and a producer that waits could lose every frame freed to one that
 * asks as the frees come.  One without wait_ms is tried once at its
 * turn, and answered then, served or refused as it would have been: a
 * turn later, not refused for room it fits.  So is an AllocBatch (a
 * cache's refill, for a waiting allocation or not) and a Realloc that
 * takes room (of no block, or a growth, in place or moved): neither
 * ever waits itself (dispatch_block.c, dispatch_batch.c).
 *
 * A wait asked in parts (wait_part: a binding's, so that its signal
 * handlers run) would go to the back at each part, and a producer asking
 * so lose every free to one asking once.  So a part that runs out keeps
 * its record in its place for ROOM_KEPT_MS (kept: no longer waiting, not
 * counted, not tried, its connection's room_wait no longer naming it),
 * and the connection's next waiting Alloc of the same request takes it
 * back (room_kept_take), tried after those waiting if room came between
 * the parts (on_room).  One per connection; let go of at the grace's
 * end, at room served to the connection (a block by an Alloc, an
 * AllocBatch or a Realloc, or one a Realloc grew: room_kept_served),
 * another wait of it, the handle's close, a WaitOver (the next part
 * served from its client's cache, which the daemon never sees), the
 * connection's end, the pool's destruction or a restart in place.
 *
 * What is tried again is the whole request: a smaller one that came later
 * may get room an earlier, bigger one still cannot use.  First come is
 * first tried, not first served; a request that needs more than the pool
 * will ever have free waits its whole wait_ms, and so does one refused by
 * the quota per connection whose connection holds the quota itself (only
 * its own frees, which wait behind it, could make it room): that wait
 * ends -EDQUOT, as the refusal would have, not -ETIMEDOUT.
 *
 * The deadline, the pool's destruction and a restart in place (its state
 * carries no waiting request: -EINTR, and the client asks the new image
 * for the time left) each end a wait, as for a Lookup.  One held for its
 * pool to settle when its deadline comes (dispatch.c) is answered once
 * that hold ends: at most settle_wait_ms late.  One whose try got a block
 * made ready in steps (a big calloc) has its room: what wakes its record
 * meanwhile finds it held for them, and dispatch.c leaves it so, or the
 * steps left would zero what its client wrote to it.
 *
 * Invariants (dispatch_room_check): a pool's alloc_waits is the number of
 * records here in it, each its session's one, on a handle the session has
 * open on the pool (places kept not counted: no connection's room_wait
 * names one, each is on a handle open too, and nkept counts them);
 * nunbounded is the number of records unbounded; a pool
 * is marked (room_made) only while some wait in it: the last to go takes
 * the mark with it, or later frees would see the pool as marked already
 * and tell nobody.
 */
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "config.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "session.h"

#define ALLOC_WAITS_DEFAULT 256	/* without a configuration */
/*
 * How long the place of a wait part that ran out is kept for the part
 * that follows it: a binding asks its parts one after the other, a round
 * trip and a check for signals apart, so a second is plenty.
 */
#define ROOM_KEPT_MS 1000

/* What an Alloc asks: a part that follows one is the same request. */
struct room_ask {
	uint32_t handle;
	uint64_t size, nmemb, align;
	bool zero, persist;
};

struct room_wait {
	TAILQ_ENTRY(room_wait) entry;
	struct session *s;
	struct peer *peer;
	struct dpool *pool;	/* NULL once the pool is destroyed */
	struct event *ev;	/* the deadline, or made active to go on;
				 * kept: the end of its grace */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC */
	struct room_ask ask;
	bool trying;		/* made active for room, not yet run */
	bool unbounded;		/* behind, its bounds asked at its try */
	bool part_ran_out;	/* answered -ETIMEDOUT, another part follows */
	bool kept;		/* no longer waiting: a place kept (above) */
};

static TAILQ_HEAD(, room_wait) room_waits = TAILQ_HEAD_INITIALIZER(room_waits);
static unsigned nroom_waits;	/* kept places not counted */
static unsigned nunbounded;	/* records unbounded, in every pool */
static unsigned nkept;		/* places kept, one per connection at most */
static struct event_base *room_base;
static struct event *room_ev;	/* made active by room_made */

/*
 * Those held for their pool to settle (dispatch.c's waiters) meanwhile
 * are counted there: a request is held once.  A walk of at most
 * max_alloc_waits per pool, for DaemonStats alone.
 */
unsigned
room_waits_held(void)
{
	const struct room_wait *rw;
	unsigned n = 0;

	TAILQ_FOREACH(rw, &room_waits, entry)
		if (!rw->kept && !rw->s->waiter.held)
			n++;
	return n;
}

static uint32_t
alloc_waits_max(void)
{
	return dispatch_cf ? dispatch_cf->max_alloc_waits : ALLOC_WAITS_DEFAULT;
}

static void room_kept_drop(struct room_wait *rw);

/*
 * From the loop: the peer dispatches its held Alloc again; or a place
 * kept has seen its grace end (or its pool go, or a restart in place
 * begin) unclaimed, and goes.
 */
static void
on_room_wait(evutil_socket_t fd, short what, void *arg)
{
	struct room_wait *rw = arg;

	(void)fd;
	(void)what;
	if (rw->kept) {
		room_kept_drop(rw);
		return;
	}
	rw->trying = false;
	peer_resume(rw->peer);	/* may free rw */
}

/*
 * Those of the records in a marked pool that are unbounded (behind) or
 * not, made active in the order they came.
 */
static void
room_try_marked(bool behind)
{
	struct room_wait *rw;

	TAILQ_FOREACH(rw, &room_waits, entry)
		if (!rw->kept && rw->unbounded == behind && rw->pool &&
		    rw->pool->room_made) {
			rw->trying = true;
			event_active(rw->ev, EV_TIMEOUT, 1);
		}
}

/*
 * From the loop, once per turn that made room: every allocation waiting in
 * a pool marked tries again, in the order they came (libevent runs active
 * events first in, first out), and then those gone behind them this turn.
 * Most of these are last in the list anyway, but a part that took its
 * kept place back is where that place was: the room came while it was
 * between two parts, and is the others' to try first.  Nothing is
 * dispatched here, so the list stays as it is while it is walked; the
 * marks are cleared after, so that room made by the tries themselves
 * marks the pool anew.
 */
static void
on_room(evutil_socket_t fd, short what, void *arg)
{
	struct room_wait *rw;

	(void)fd;
	(void)what;
	(void)arg;
	room_try_marked(false);
	room_try_marked(true);
	TAILQ_FOREACH(rw, &room_waits, entry)
		if (rw->pool)
			rw->pool->room_made = false;
}

/* dpool_room's hook: p has room for its waiting allocations to try. */
static void
room_made(struct dpool *p)
{
	assert(p->alloc_waits > 0);
	p->room_made = true;
	event_active(room_ev, EV_TIMEOUT, 1);
}

int
dispatch_room_setup(struct event_base *base)
{
	room_base = base;
	if (!(room_ev = event_new(base, -1, 0, on_room, NULL)))
		return -ENOMEM;
	dpool_room_setup(room_made);
	return 0;
}

void
dispatch_room_teardown(void)
{
	dpool_room_setup(NULL);
	if (room_ev)
		event_free(room_ev);
	room_ev = NULL;
}

static void
room_wait_free(struct room_wait *rw)
{
	TAILQ_REMOVE(&room_waits, rw, entry);
	event_free(rw->ev);
	free(rw);
}

static void
room_kept_drop(struct room_wait *rw)
{
	nkept--;
	rw->s->room_kept = NULL;
	room_wait_free(rw);
}

/* The place s keeps, or NULL: named by s, so no served Alloc walks. */
static struct room_wait *
room_kept_of(const struct session *s)
{
	return s->room_kept;
}

/*
 * A part that ran out keeps its place for the part after it, until its
 * grace ends: no longer waiting, it is neither counted nor tried, and the
 * bounds do not see it.  One per connection: a newer one replaces it.  Off
 * libevent's active list first (a record answered the settle way may be
 * on it), or its callback would take the place for an ended grace.
 */
static void
room_keep(struct room_wait *rw)
{
	struct room_wait *old = room_kept_of(rw->s);
	uint64_t now = dispatch_now_ns();

	if (old)
		room_kept_drop(old);
	event_del(rw->ev);
	rw->kept = true;
	rw->s->room_kept = rw;
	rw->unbounded = false;
	rw->part_ran_out = false;
	rw->trying = false;
	nkept++;
	dispatch_arm(rw->ev, now + (uint64_t)ROOM_KEPT_MS * 1000000u, now);
}

void
room_wait_end(struct session *s, bool gone)
{
	struct room_wait *rw = s->room_wait, *kept;

	if (gone && (kept = room_kept_of(s)))
		room_kept_drop(kept);
	if (!rw)
		return;
	s->room_wait = NULL;
	if (rw->pool) {
		/*
		 * The last one gone: a mark on_room has not seen yet (room made
		 * since, its waiters all gone meanwhile) is cleared here, or
		 * the pool's next waiter would never be told of room.
		 */
		if (--rw->pool->alloc_waits == 0)
			rw->pool->room_made = false;
		log_debug("pid %d %s: pool %s has %u allocation%s waiting for "
			  "room", (int)s->pid, gone ? "went while its "
			  "allocation waited" : "is answered", rw->pool->name,
			  rw->pool->alloc_waits,
			  log_plural(rw->pool->alloc_waits));
	}
	nroom_waits--;
	nunbounded -= rw->unbounded;
	if (rw->part_ran_out && !gone && rw->pool)
		room_keep(rw);
	else
		room_wait_free(rw);
}

void
room_kept_closed(struct session *s, uint32_t handle)
{
	struct room_wait *rw = room_kept_of(s);

	if (rw && rw->ask.handle == handle)
		room_kept_drop(rw);
}

void
room_kept_served(struct session *s)
{
	struct room_wait *rw = room_kept_of(s);

	if (rw)
		room_kept_drop(rw);
}

/*
 * WaitOver: the wait on handle m->handle whose part ran out is over, its
 * client having served the next part itself, from its cache.  The place
 * kept for that part goes now: else, for up to ROOM_KEPT_MS, the
 * connection's next wait of the same request, a new allocation, would
 * take it back ahead of those that came after the part.  Answered alike
 * whether a place was kept or not (a refill served let it go already).
 */
int
do_wait_over(struct call *c, const Poolmgr__WaitOver *m)
{
	int rc;

	if (!get_handle(c, m->handle, false, &rc))
		return rc;
	room_kept_closed(c->s, m->handle);
	return 0;
}

static struct room_ask
room_ask_of(const Poolmgr__Alloc *m)
{
	struct room_ask a = {.handle = m->handle, .size = m->size,
			     .nmemb = m->nmemb, .align = m->align,
			     .zero = m->zero, .persist = m->persist};

	return a;
}

static bool
room_ask_same(const struct room_ask *a, const struct room_ask *b)
{
	return a->handle == b->handle && a->size == b->size &&
	       a->nmemb == b->nmemb && a->align == b->align &&
	       a->zero == b->zero && a->persist == b->persist;
}

/*
 * The place kept for the Alloc m of c in p, taken back, or NULL.  Only
 * the same request on the same handle takes it: else a client could keep
 * a place with a request that never fits, and spend it on another that
 * does, before those that came after it to ask what they need.  Another
 * wait of the connection's lets it go; a try with retry_follows, its
 * client's before it waits, and one that does not wait leave it be.
 */
static struct room_wait *
room_kept_take(struct call *c, struct dpool *p, const Poolmgr__Alloc *m)
{
	struct room_wait *rw = room_kept_of(c->s);
	struct room_ask ask = room_ask_of(m);

	if (!rw || m->retry_follows || !m->wait_ms)
		return NULL;
	if (rw->pool != p || !room_ask_same(&rw->ask, &ask)) {
		room_kept_drop(rw);
		return NULL;
	}
	event_del(rw->ev);
	rw->kept = false;
	c->s->room_kept = NULL;
	nkept--;
	return rw;
}

/*
 * A record for c's request in p, waiting up to wait_ms: the Alloc m's
 * (in the place its last part kept, if it kept one), or, m NULL, a
 * batch's, which keeps no place and takes none.
 */
static struct room_wait *
room_wait_new(struct call *c, struct dpool *p, const Poolmgr__Alloc *m,
	      uint32_t wait_ms, uint64_t now)
{
	struct room_wait *rw;
	bool again = false;

	if (m && (rw = room_kept_take(c, p, m))) {
		again = true;
	} else if (!(rw = calloc(1, sizeof(*rw)))) {
		return NULL;
	} else if (!(rw->ev = evtimer_new(room_base, on_room_wait, rw))) {
		free(rw);
		return NULL;
	} else {
		TAILQ_INSERT_TAIL(&room_waits, rw, entry);
	}
	rw->s = c->s;
	rw->peer = c->peer;
	rw->pool = p;
	rw->ask = m ? room_ask_of(m) : (struct room_ask){0};
	rw->deadline_ns = now + (uint64_t)wait_ms * 1000000u;
	nroom_waits++;
	p->alloc_waits++;
	c->s->room_wait = rw;
	log_debug("pid %d waits for room%s: pool %s has %u allocation%s "
		  "waiting", (int)c->s->pid, again ? " again, in the place "
		  "its last part kept" : "", p->name, p->alloc_waits,
		  log_plural(p->alloc_waits));
	return rw;
}

bool
room_wait_pool_gone(const struct session *s)
{
	return s->room_wait && !s->room_wait->pool;
}

/*
 * A wait the quota per connection held back to its end: -EDQUOT, as that
 * refusal is without a wait (the connection may hold the whole quota
 * itself), counted once as the client sees it; a part of a longer wait
 * is -ETIMEDOUT, for its client to ask again.
 */
static int
refuse_quota_waited(struct call *c, struct dpool *p, uint64_t size,
		    uint32_t wait_ms, bool part)
{
	char bound[24];

	if (part)
		return refuse(c, -ETIMEDOUT, "this connection stayed too near "
			      "pool %s's quota of %s per connection for %llu "
			      "byte%s more in %u ms", p->name,
			      bytes_text(p->quota, bound, sizeof(bound)),
			      (unsigned long long)size, log_plural(size),
			      (unsigned)wait_ms);
	p->quota_refusals++;
	return refuse(c, -EDQUOT, "allocating %llu byte%s would pass pool %s's "
		      "quota of %s per connection (its blocks and its uid's "
		      "persistent and named ones count), still after %u ms",
		      (unsigned long long)size, log_plural(size), p->name,
		      bytes_text(p->quota, bound, sizeof(bound)),
		      (unsigned)wait_ms);
}

/* Why the wait of an allocation of size bytes in p ran out. */
/*
 * " (this client holds X of its Y)" when c's own blocks are half the
 * pool or more, else "": a producer that keeps every block it made (a
 * reference not freed after a publish, say) waits for room only it could
 * free, and the words should say so.  Before "in N ms", which the
 * libraries read the time from.
 */
static const char *
own_share_text(const struct call *c, const struct dpool *p, char *buf,
	       size_t len)
{
	uint64_t held = session_pool_bytes(c->s, p);
	char a[24], b[24];

	if (!held || held < p->size / 2)
		return "";
	snprintf(buf, len, " (this client holds %s of its %s)",
		 bytes_text(held, a, sizeof(a)),
		 bytes_text(p->size, b, sizeof(b)));
	return buf;
}

static int
refuse_timed_out(struct call *c, struct dpool *p, uint64_t size,
		 uint32_t wait_ms, bool part, int why)
{
	char bound[24], held[64];
	uint64_t ubound;
	bool own;

	if (why == -EDQUOT && !p->user_quota_hit)
		return refuse_quota_waited(c, p, size, wait_ms, part);
	ubound = dpool_user_bound(p, c->s->uid, &own);
	if (why == -EDQUOT && own)
		return refuse(c, -ETIMEDOUT, "uid %u stayed too near its own "
			      "user quota of %s in pool %s for %llu byte%s "
			      "more in %u ms", (unsigned)c->s->uid,
			      bytes_text(ubound, bound, sizeof(bound)),
			      p->name, (unsigned long long)size,
			      log_plural(size), (unsigned)wait_ms);
	if (why == -EDQUOT)
		return refuse(c, -ETIMEDOUT, "uid %u stayed too near pool %s's "
			      "quota of %s per user for %llu byte%s more in "
			      "%u ms", (unsigned)c->s->uid, p->name,
			      bytes_text(p->user_quota, bound, sizeof(bound)),
			      (unsigned long long)size, log_plural(size),
			      (unsigned)wait_ms);
	if (p->limit_hit)
		return refuse(c, -ETIMEDOUT, "pool %s stayed too near its "
			      "limit for %llu byte%s more in %u ms", p->name,
			      (unsigned long long)size, log_plural(size),
			      (unsigned)wait_ms);
	return refuse(c, -ETIMEDOUT, "no room came for %llu byte%s in pool "
		      "%s%s in %u ms", (unsigned long long)size,
		      log_plural(size), p->name,
		      own_share_text(c, p, held, sizeof(held)),
		      (unsigned)wait_ms);
}

/*
 * How many allocations wait for room in p, self not counted, as the
 * bounds count them: those gone behind them untried (unbounded) are not
 * waiting yet, and meet the bounds at their own tries, in the order they
 * came; counted, the first of them to try would be refused for those
 * after it, which may be served or refused in turn.  p's count, without
 * a walk, while no record is unbounded.
 */
static unsigned
room_bounded_waits(const struct dpool *p, const struct room_wait *self)
{
	const struct room_wait *rw;
	unsigned n = 0;

	if (!nunbounded)
		return p->alloc_waits - (self != NULL);
	TAILQ_FOREACH(rw, &room_waits, entry)
		n += rw->pool == p && !rw->kept && !rw->unbounded &&
		     rw != self;
	return n;
}

/*
 * What PoolStats.alloc_waits says: those waiting as the bounds count
 * them, so that it never reads above max_alloc_waits (but after a reload
 * that lowered it).  Those gone behind them for a turn, untried, are
 * held (DaemonStats.held counts them) but not waiting yet.
 */
unsigned
room_waits_in(const struct dpool *p)
{
	return room_bounded_waits(p, NULL);
}

/*
 * How many of p's allocations waiting for room (waiting in all, self
 * and the unbounded not counted) are of uid's connections, once they may
 * be share or more; 0 before, without a walk.  The count, not the share,
 * is what a refusal says: a reload may have lowered the share below what
 * the uid holds.
 */
static unsigned
room_uid_waits(const struct dpool *p, uid_t uid, unsigned waiting,
	       unsigned share, const struct room_wait *self)
{
	const struct room_wait *rw;
	unsigned n = 0;

	if (waiting < share)
		return 0;
	TAILQ_FOREACH(rw, &room_waits, entry)
		n += rw->pool == p && rw->s->uid == uid && rw != self &&
		     !rw->kept && !rw->unbounded;
	return n;
}

/*
 * May the Alloc of c wait in p, beside those waiting there (but rw, its
 * own record if it went behind them untried)?  0, or the bound's -EAGAIN.
 */
static int
room_wait_bounds(struct call *c, struct dpool *p, const struct room_wait *rw)
{
	unsigned waiting = room_bounded_waits(p, rw), share, mine;

	/* The bound named: a reload may have put it below those waiting,
	 * or at 0. */
	if (waiting >= alloc_waits_max())
		return refuse(c, -EAGAIN, "pool %s has %u allocation%s "
			      "waiting for room; max_alloc_waits is %u",
			      p->name, waiting, log_plural(waiting),
			      alloc_waits_max());
	share = dispatch_uid_waits_max(alloc_waits_max());
	if ((mine = room_uid_waits(p, c->s->uid, waiting, share, rw)) >=
	    share)
		return refuse(c, -EAGAIN, "uid %u has %u of pool %s's "
			      "allocations waiting for room; one uid may "
			      "have %u (three quarters of max_alloc_waits, "
			      "%u)", (unsigned)c->s->uid, mine, p->name,
			      share, alloc_waits_max());
	return 0;
}

/*
 * The Alloc of c, for size bytes in p, was refused for want of room and
 * may wait wait_ms: WAITING with its deadline armed (the first time, a
 * record made), or why it cannot.  Every refusal leaves nothing behind
 * (dispatch.c ends the record of any request not held).  The engine (or
 * the limit) counted a refusal for room as a failed allocation: one the
 * client does not see (it waits, or asks again after a restart or after a
 * part of a longer wait) is taken back.  A user quota's refusal was never
 * counted: nothing to take back.
 */
int
room_wait(struct call *c, struct dpool *p, const Poolmgr__Alloc *m,
	  uint64_t size, int why)
{
	struct room_wait *rw = c->s->room_wait;
	uint32_t wait_ms = m->wait_ms;
	bool part = m->wait_part;
	uint64_t now = dispatch_now_ns();
	uint64_t uncount = why == -ENOMEM;
	int rc;

	if (peer_reads_are_paused()) {
		p->unseen_failures += uncount;
		return refuse(c, -EINTR, "the daemon restarts in place: ask "
			      "again for the time left");
	}
	if ((!rw || rw->unbounded) && (rc = room_wait_bounds(c, p, rw)))
		return rc;
	if (rw && rw->unbounded) {
		rw->unbounded = false;
		nunbounded--;
	}
	if (!rw && !(rw = room_wait_new(c, p, m, m->wait_ms, now)))
		return refuse(c, -ENOMEM, "poolmgrd is out of memory");
	if (now >= rw->deadline_ns) {
		/* The client asks again: its next part takes this place. */
		if (part) {
			p->unseen_failures += uncount;
			rw->part_ran_out = true;
		}
		return refuse_timed_out(c, p, size, wait_ms, part, why);
	}
	p->unseen_failures += uncount;
	/*
	 * Re-armed, a record made active for room (on_room) and resumed
	 * another way first leaves libevent's active list: it is no longer
	 * trying, or newcomers would go behind it for nothing.
	 */
	rw->trying = false;
	dispatch_arm(rw->ev, rw->deadline_ns, now);
	return WAITING;
}

/*
 * Has p room its waiting allocations have not tried yet?  Marked, or some
 * of them made active for it and not yet run.  A walk of those waiting,
 * only while some wait in p.
 */
static bool
room_untried(const struct dpool *p)
{
	const struct room_wait *rw;

	if (!p->alloc_waits)
		return false;
	if (p->room_made)
		return true;
	TAILQ_FOREACH(rw, &room_waits, entry)
		if (rw->pool == p && rw->trying)
			return true;
	return false;
}

int
room_wait_behind(struct call *c, struct dpool *p, const Poolmgr__Alloc *m,
		 uint32_t wait_ms)
{
	struct room_wait *rw;
	uint64_t now;

	/*
	 * None goes behind while a restart in place is under way (it asks
	 * the new image).  One past the bounds goes behind all the same,
	 * for one turn, or the uid with the most waiting would go before
	 * them all: its try, if refused, meets the bounds then (unbounded).
	 * A try with retry_follows goes behind too: its client waits once
	 * it has given its cache back, and so does one without wait_ms,
	 * tried then once, as it would have been now (refused, it is
	 * answered then, and counted as any refusal).  Never refused here,
	 * so no failure is counted to take back.
	 */
	if (c->s->room_wait || !room_untried(p) || peer_reads_are_paused())
		return 0;
	/* Read only now: every Alloc and AllocBatch comes this way. */
	now = dispatch_now_ns();
	if (!(rw = room_wait_new(c, p, m, wait_ms, now)))
		return refuse(c, -ENOMEM, "poolmgrd is out of memory");
	rw->unbounded = true;
	nunbounded++;
	dispatch_arm(rw->ev, rw->deadline_ns, now);
	/*
	 * Marked, on_room makes it active after those waiting, and after
	 * those gone behind before it in the list; else they are active
	 * already, and it goes after them.
	 */
	if (!p->room_made) {
		rw->trying = true;
		event_active(rw->ev, EV_TIMEOUT, 1);
	}
	return WAITING;
}

void
room_waits_pool_gone(struct dpool *p)
{
	struct room_wait *rw;

	/* A place kept in p goes too, from the loop (on_room_wait). */
	if (!p->alloc_waits && !nkept)
		return;
	TAILQ_FOREACH(rw, &room_waits, entry)
		if (rw->pool == p) {
			rw->pool = NULL;
			event_active(rw->ev, EV_TIMEOUT, 1);
		}
	p->alloc_waits = 0;
	p->room_made = false;
}

void
dispatch_room_interrupt(void)
{
	struct room_wait *rw;

	TAILQ_FOREACH(rw, &room_waits, entry)
		event_active(rw->ev, EV_TIMEOUT, 1);
}

int
dispatch_room_check(const struct dpool *p, char *problem, size_t len)
{
	const struct room_wait *rw;
	uint32_t n = 0;
	unsigned unbounded = 0, kept = 0;

	TAILQ_FOREACH(rw, &room_waits, entry) {
		unbounded += rw->unbounded;
		kept += rw->kept;
		if (rw->kept ? rw->s->room_wait == rw ||
		    rw->s->room_kept != rw : rw->s->room_wait != rw ||
		    rw->s->room_kept == rw) {
			snprintf(problem, len, "pid %d: its allocation waiting "
				 "for room is not the one its session names",
				 (int)rw->s->pid);
			return -EFAULT;
		}
		if (rw->pool != p)
			continue;
		if (!session_has_pool(rw->s, p)) {
			snprintf(problem, len, "pool %s: pid %d %s without a "
				 "handle on it", p->name, (int)rw->s->pid,
				 rw->kept ? "keeps a place among those waiting "
				 "for room" : "waits for room");
			return -EFAULT;
		}
		n += !rw->kept;
	}
	/* Else a connection could keep more than its one place. */
	if (kept != nkept) {
		snprintf(problem, len, "%u place%s kept for a wait's next "
			 "part; the books say %u", kept, log_plural(kept),
			 nkept);
		return -EFAULT;
	}
	/* Else the bounds would count, or skip, records they should not. */
	if (unbounded != nunbounded) {
		snprintf(problem, len, "%u allocation%s behind those waiting, "
			 "untried; the books say %u", unbounded,
			 log_plural(unbounded), nunbounded);
		return -EFAULT;
	}
	if (n == 0 && p->room_made) {
		snprintf(problem, len, "pool %s: marked as having room for "
			 "waiting allocations, and none waits", p->name);
		return -EFAULT;
	}
	if (n == p->alloc_waits)
		return 0;
	snprintf(problem, len, "pool %s: %u allocation%s waiting for room in "
		 "it, the books say %u", p->name, n, log_plural(n),
		 p->alloc_waits);
	return -EFAULT;
}
