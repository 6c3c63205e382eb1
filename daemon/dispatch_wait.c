/*
 * dispatch_wait.c - Lookups that wait for a name (docs/protocol.md,
 * "Waiting for a name").
 *
 * A Lookup with wait_ms whose name is not there, or not newer than the
 * generation it names, is held by its peer as any held request is
 * (peer_hold), with the connection's later requests behind it: replies
 * come in order, so the connection waits with it, and nobody else does.
 * So a session waits for one name at most, and its record here says
 * which, in which pool, and until when.
 *
 * A Publish of the name, the deadline, the pool's destruction and a
 * restart in place each make the lookup go on.  Never at once: a Publish
 * is another client's request being carried out, and the peer's replay
 * would dispatch inside it.  The record's event is made active instead,
 * and the loop has the peer dispatch the lookup again, which do_lookup
 * answers, or holds once more (the name unpublished again meanwhile)
 * with the deadline it had.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "config.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "session.h"

#define NAME_WAITS_DEFAULT 256	/* without a configuration */
/* A wait after a generation that ran out (lookup_ran_out). */
#define RAN_OUT_ABOVE "no generation of %s above %llu came in pool %s in " \
	"%u ms"

struct lookup_wait {
	TAILQ_ENTRY(lookup_wait) entry;
	struct session *s;
	struct peer *peer;
	struct dpool *pool;	/* NULL once the pool is destroyed */
	struct event *ev;	/* the deadline, or made active to go on */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC */
	uint32_t len;
	uint8_t name[BLOCK_NAME_MAX];
};

static TAILQ_HEAD(, lookup_wait) lookup_waits =
	TAILQ_HEAD_INITIALIZER(lookup_waits);
static unsigned nlookup_waits;
static struct event_base *wait_base;

unsigned
lookup_waits_held(void)
{
	return nlookup_waits;
}

void
dispatch_wait_setup(struct event_base *base)
{
	wait_base = base;
}

static uint32_t
name_waits_max(void)
{
	return dispatch_cf ? dispatch_cf->max_name_waits : NAME_WAITS_DEFAULT;
}

/* From the loop: the peer dispatches its held lookup again. */
static void
on_lookup_wait(evutil_socket_t fd, short what, void *arg)
{
	struct lookup_wait *lw = arg;

	(void)fd;
	(void)what;
	peer_resume(lw->peer);	/* may free lw */
}

void
lookup_wait_end(struct session *s, bool gone)
{
	struct lookup_wait *lw = s->lookup_wait;

	if (!lw)
		return;
	s->lookup_wait = NULL;
	if (lw->pool) {
		lw->pool->name_waits--;
		log_debug("pid %d %s: pool %s has %u waiting lookup%s",
			  (int)s->pid, gone ? "went while its lookup waited" :
			  "is answered", lw->pool->name, lw->pool->name_waits,
			  log_plural(lw->pool->name_waits));
	}
	TAILQ_REMOVE(&lookup_waits, lw, entry);
	nlookup_waits--;
	event_free(lw->ev);
	free(lw);
}

static struct lookup_wait *
lookup_wait_new(struct call *c, struct dpool *p, const Poolmgr__Lookup *m,
		uint64_t now)
{
	struct lookup_wait *lw;

	if (!(lw = calloc(1, sizeof(*lw))))
		return NULL;
	if (!(lw->ev = evtimer_new(wait_base, on_lookup_wait, lw))) {
		free(lw);
		return NULL;
	}
	lw->s = c->s;
	lw->peer = c->peer;
	lw->pool = p;
	lw->deadline_ns = now + (uint64_t)m->wait_ms * 1000000u;
	lw->len = (uint32_t)m->name.len;
	memcpy(lw->name, m->name.data, m->name.len);
	TAILQ_INSERT_TAIL(&lookup_waits, lw, entry);
	nlookup_waits++;
	p->name_waits++;
	c->s->lookup_wait = lw;
	log_debug("pid %d waits for a name: pool %s has %u waiting lookup%s",
		  (int)c->s->pid, p->name, p->name_waits,
		  log_plural(p->name_waits));
	return lw;
}

bool
lookup_wait_pool_gone(const struct session *s)
{
	return s->lookup_wait && !s->lookup_wait->pool;
}

/*
 * The most of a pool's max waits one uid may hold: three quarters, so
 * that one uid that may wait there (a reader may) cannot leave the
 * others none.  All of them when max is below 4.
 */
unsigned
dispatch_uid_waits_max(unsigned max)
{
	return max - max / 4;
}

/*
 * How many of p's waiting lookups (waiting in all) are of uid's
 * sessions, once they may be share or more; 0 before, without a walk.
 * The count, not the share, is what a refusal says: a reload may have
 * lowered the share below what the uid holds.
 */
static unsigned
lookup_uid_waits(const struct dpool *p, uid_t uid, unsigned waiting,
		 unsigned share)
{
	const struct lookup_wait *lw;
	unsigned n = 0;

	if (waiting < share)
		return 0;
	TAILQ_FOREACH(lw, &lookup_waits, entry)
		n += lw->pool == p && lw->s->uid == uid;
	return n;
}

/*
 * The words of a wait that ran out say what did not come, as the lookup
 * asked it.  After generation 0 it waited for the name itself: every
 * generation is above 0, so the name was not there at the end.  After
 * any other, for a generation above that one, whether the name was there
 * when it began or not: a pool made again counts from 1, and a consumer
 * that saw generation 7 before may wait after it for a name that comes
 * back as 2.  The rule is the request's alone, so a client that ends a
 * wait in its own words (the Python binding, a restart in place having
 * taken the daemon's) says the same without the daemon's books.  The
 * longest name, pool name and generation together would be cut before
 * the " in N ms" that libpoolclient makes the whole wait's (a time of 10
 * digits at most, measured so here): such words go without the
 * generation, which the client knows.
 */
static int
lookup_ran_out(struct call *c, const struct dpool *p,
	       const Poolmgr__Lookup *m)
{
	struct name_shown n = name_shown(&m->name);
	unsigned long long after = m->after_generation;
	unsigned ms = m->wait_ms;

	if (!after)
		return refuse(c, -ETIMEDOUT, "no name %s came in pool %s in "
			      "%u ms", n.s, p->name, ms);
	if (snprintf(NULL, 0, RAN_OUT_ABOVE, n.s, after, p->name,
		     UINT32_MAX) < (int)sizeof(c->msg))
		return refuse(c, -ETIMEDOUT, RAN_OUT_ABOVE, n.s, after,
			      p->name, ms);
	return refuse(c, -ETIMEDOUT, "no newer generation of %s came in pool "
		      "%s in %u ms", n.s, p->name, ms);
}

/*
 * The lookup m of c, in pool p, must wait: WAITING with its deadline
 * armed (the first time, a record made), or why it cannot.  Every refusal
 * leaves nothing behind (dispatch.c ends the record of any request not
 * held).
 */
int
lookup_wait(struct call *c, struct dpool *p, const Poolmgr__Lookup *m)
{
	struct lookup_wait *lw = c->s->lookup_wait;
	uint64_t now = dispatch_now_ns();
	unsigned share, mine;

	/* The state carries no waiting lookup: the client asks again. */
	if (peer_reads_are_paused())
		return refuse(c, -EINTR, "the daemon restarts in place: ask "
			      "again for the time left");
	if (!lw) {
		/* The bound named: a reload may have put it below those
		 * waiting, or at 0. */
		if (p->name_waits >= name_waits_max())
			return refuse(c, -EAGAIN, "pool %s has %u waiting "
				      "lookup%s; max_name_waits is %u", p->name,
				      p->name_waits, log_plural(p->name_waits),
				      name_waits_max());
		share = dispatch_uid_waits_max(name_waits_max());
		if ((mine = lookup_uid_waits(p, c->s->uid, p->name_waits,
					     share)) >= share)
			return refuse(c, -EAGAIN, "uid %u has %u of pool %s's "
				      "waiting lookups; one uid may have %u "
				      "(three quarters of max_name_waits, %u)",
				      (unsigned)c->s->uid, mine, p->name,
				      share, name_waits_max());
		if (!(lw = lookup_wait_new(c, p, m, now)))
			return refuse(c, -ENOMEM, "out of memory");
	}
	if (now >= lw->deadline_ns)
		return lookup_ran_out(c, p, m);
	dispatch_arm(lw->ev, lw->deadline_ns, now);
	return WAITING;
}

void
lookup_waits_published(struct dpool *p, const void *name, size_t len)
{
	struct lookup_wait *lw;

	if (!p->name_waits)
		return;
	TAILQ_FOREACH(lw, &lookup_waits, entry)
		if (lw->pool == p && lw->len == len &&
		    memcmp(lw->name, name, len) == 0)
			event_active(lw->ev, EV_TIMEOUT, 1);
}

void
lookup_waits_pool_gone(struct dpool *p)
{
	struct lookup_wait *lw;

	if (!p->name_waits)
		return;
	TAILQ_FOREACH(lw, &lookup_waits, entry)
		if (lw->pool == p) {
			lw->pool = NULL;
			event_active(lw->ev, EV_TIMEOUT, 1);
		}
	p->name_waits = 0;
}

void
dispatch_wait_interrupt(void)
{
	struct lookup_wait *lw;

	TAILQ_FOREACH(lw, &lookup_waits, entry)
		event_active(lw->ev, EV_TIMEOUT, 1);
}

int
dispatch_wait_check(const struct dpool *p, char *problem, size_t len)
{
	const struct lookup_wait *lw;
	uint32_t n = 0;

	TAILQ_FOREACH(lw, &lookup_waits, entry) {
		if (lw->s->lookup_wait != lw) {
			snprintf(problem, len, "pid %d: its waiting lookup is "
				 "not the one its session names",
				 (int)lw->s->pid);
			return -EFAULT;
		}
		if (lw->pool != p)
			continue;
		if (!session_has_pool(lw->s, p) || lw->len == 0 ||
		    lw->len > BLOCK_NAME_MAX) {
			snprintf(problem, len, "pool %s: pid %d waits for a "
				 "name of %u byte%s %s a handle on it",
				 p->name, (int)lw->s->pid, lw->len,
				 log_plural(lw->len),
				 session_has_pool(lw->s, p) ? "with" :
				 "without");
			return -EFAULT;
		}
		n++;
	}
	if (n == p->name_waits)
		return 0;
	snprintf(problem, len, "pool %s: %u waiting lookup%s in it, the books "
		 "say %u", p->name, n, log_plural(n), p->name_waits);
	return -EFAULT;
}
