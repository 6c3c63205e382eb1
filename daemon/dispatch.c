/*
 * dispatch.c - decode a request, authorize it, carry it out, reply.
 *
 * Every request is validated before anything changes: the session must
 * have said Hello, the handle must be this session's, the handle must allow
 * writing for anything that changes a pool, and the caller must have the
 * rights the pool's mode and access control list grant.  A request that
 * fails changes nothing and gets an error reply; only protocol violations
 * (undecodable bytes, a request before Hello) close the connection.
 *
 * This file decodes the request (its strings whole: dispatch_strings.c),
 * says Hello, checks the handle a request names (get_handle), picks the
 * handler and sends its reply, and holds the requests that wait.  The
 * handlers, each checking what is its own to check, are in
 * dispatch_admin.c (pools: create, destroy, set),
 * dispatch_open.c (handles: open, close), dispatch_inspect.c (stats,
 * list, clients), dispatch_upkeep.c (trim, check), dispatch_block.c
 * (blocks of an open handle: alloc, free, realloc, retain, persist,
 * usable_size), dispatch_batch.c (their batches) and the others
 * dispatch_internal.h names; dispatch_internal.h is what they share.
 *
 * A request that reads a pool's state (stats, list, check, trim, a
 * destroy that counts live blocks), or one the engine or the pool's limit
 * refused, while work the pool's clients let go of is still queued
 * (pool_release.c; a move's old place and a closed handle's blocks count
 * as part of the work that freed them) is not carried out (or refused)
 * yet: its peer holds it,
 * with every later request of that client, and it is dispatched again
 * once the work queued before it is done (dispatch_wake, after each step).
 * Only that client waits; the others are served meanwhile.  If others
 * keep queueing work for the pool, it may never settle: a request that has
 * waited settle_wait_ms (2 s) waits only for the work queued before it
 * first came, and is then carried out as things stand, the work queued
 * after it still under way.  Nothing is finished on the daemon's thread
 * for it: the work before it may be a copy of gigabytes.
 *
 * A Lookup that waits for a name (dispatch_wait.c) is held the same way,
 * with the connection's later requests, until the name comes, its time
 * is up, its pool goes, or a restart in place asks it to be sent again;
 * so is an Alloc that waits for room (dispatch_room.c), until the pool's
 * clients free blocks.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "poolmgr.pb-c.h"

#include "arena.h"
#include "config.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "log.h"
#include "memtrim.h"
#include "peer.h"
#include "pool.h"
#include "session.h"

#define PROTOCOL_VERSION 1
#define SETTLE_WAIT_MS_DEFAULT 2000	/* without a configuration */

static TAILQ_HEAD(, waiter) waiters = TAILQ_HEAD_INITIALIZER(waiters);
static unsigned nwaiters;

/* What DaemonStats says of the requests, since this image started. */
static struct {
	uint64_t answered, refused, bad;
} counts;

void
dispatch_counts(uint64_t *answered, uint64_t *refused, uint64_t *bad)
{
	*answered = counts.answered;
	*refused = counts.refused;
	*bad = counts.bad;
}

unsigned
dispatch_held(void)
{
	return nwaiters + lookup_waits_held() + room_waits_held();
}

const struct config *dispatch_cf;

void
dispatch_set_config(const struct config *cf)
{
	dispatch_cf = cf;
}

int
refuse(struct call *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* How long a request waits for work queued after it (see the top). */
static uint64_t
settle_wait_ns(void)
{
	return (dispatch_cf ? dispatch_cf->settle_wait_ms :
		SETTLE_WAIT_MS_DEFAULT) * 1000000ull;
}

uint64_t
dispatch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
dispatch_arm(struct event *ev, uint64_t deadline_ns, uint64_t now)
{
	uint64_t left = deadline_ns - now;
	struct timeval tv;

	tv.tv_sec = (time_t)(left / 1000000000u);
	/* Rounded up: a wake a microsecond early would only wait again. */
	tv.tv_usec = (suseconds_t)((left % 1000000000u + 999) / 1000);
	evtimer_add(ev, &tv);
}

/*
 * The request reads p's state: HELD while work queued for p is not done
 * (the caller returns it), 0 once p is settled, or once the request has
 * waited settle_wait_ms and what was queued before it is done.
 */
int
wait_settled(struct call *c, struct dpool *p)
{
	/* Kept pages over their bound going too: frees past a spent turn
	 * hold theirs for those steps, and stats must not show it. */
	if (!dpool_unsettled(p) && !p->retaining)
		return 0;
	if (c->waited_ns < settle_wait_ns()) {
		c->settle = true;
		return HELD;
	}
	if (!dpool_release_passed(c->prior)) {
		c->prior_only = true;
		return HELD;
	}
	return 0;
}

/* The session's handle, or NULL with the reason set. */
struct handle *
get_handle(struct call *c, uint32_t id, bool write, int *err)
{
	struct handle *h = session_handle(c->s, id);

	if (!h) {
		const char *gone = session_gone_pool(c->s, id);

		*err = gone ? refuse(c, -EBADF, "pool handle %u was closed: "
				     "pool %s was destroyed by force", id,
				     gone) :
			      refuse(c, -EBADF, "no pool handle %u", id);
		return NULL;
	}
	if (write && h->read_only) {
		*err = refuse(c, -EACCES, "pool %s is open read-only",
			      h->pool->name);
		return NULL;
	}
	return h;
}

static int
do_hello(struct call *c, const Poolmgr__Hello *m, const uint8_t *buf,
	 size_t len)
{
	static Poolmgr__HelloReply hr = POOLMGR__HELLO_REPLY__INIT;
	size_t i;
	int rc;

	if (m->version != PROTOCOL_VERSION)
		return refuse(c, -EPROTONOSUPPORT, "protocol version %u, "
			      "daemon speaks %u", m->version,
			      PROTOCOL_VERSION);
	if ((rc = check_request_strings(c, buf, len)))
		return rc;
	snprintf(c->s->name, sizeof(c->s->name), "%s",
		 m->client_name ? m->client_name : "");
	for (i = 0; c->s->name[i]; i++)
		if (c->s->name[i] < 0x20 || c->s->name[i] > 0x7e)
			c->s->name[i] = '?';
	c->s->greeted = true;
	peer_clear_deadline(c->peer);
	hr.version = PROTOCOL_VERSION;
	hr.max_message = PEER_MAX_MESSAGE;
	hr.server = DISPATCH_SERVER;
	hr.features = DISPATCH_FEATURES;
	c->rep->body_case = POOLMGR__REPLY__BODY_HELLO;
	c->rep->hello = &hr;
	return 0;
}

/*
 * A client cache's report rides on any request: the handle's cached bytes,
 * which can only be a part of what the handle holds.  A held request whose
 * pool was destroyed while it waited names a handle closed with the pool:
 * no report to take, and the handler says why (-ENOENT), not -EBADF.
 */
static int
take_cache_report(struct call *c)
{
	const Poolmgr__Request *r = c->req;
	struct handle *h;
	int rc;

	if (r->cache_handle == 0 || lookup_wait_pool_gone(c->s) ||
	    room_wait_pool_gone(c->s))
		return 0;
	if (!(h = get_handle(c, r->cache_handle, false, &rc)))
		return rc;
	handle_set_cached(h, r->cache_bytes);
	return 0;
}

static int
dispatch_body(struct call *c, const uint8_t *buf, size_t len)
{
	const Poolmgr__Request *r = c->req;
	int rc;

	if ((rc = take_cache_report(c)) ||
	    (rc = check_request_strings(c, buf, len)))
		return rc;

	switch (r->body_case) {
	case POOLMGR__REQUEST__BODY_HELLO:
		return refuse(c, -EINVAL, "Hello was already said");
	case POOLMGR__REQUEST__BODY_CREATE:
		return do_create(c, r->create);
	case POOLMGR__REQUEST__BODY_DESTROY:
		return do_destroy(c, r->destroy);
	case POOLMGR__REQUEST__BODY_SET:
		return do_set(c, r->set);
	case POOLMGR__REQUEST__BODY_OPEN:
		return do_open(c, r->open);
	case POOLMGR__REQUEST__BODY_CLOSE:
		return do_close(c, r->close);
	case POOLMGR__REQUEST__BODY_ALLOC:
		return do_alloc(c, r->alloc);
	case POOLMGR__REQUEST__BODY_FREE:
		return do_free(c, r->free);
	case POOLMGR__REQUEST__BODY_FREE_PERSISTED:
		return do_free_persisted(c, r->free_persisted);
	case POOLMGR__REQUEST__BODY_REALLOC:
		return do_realloc(c, r->realloc);
	case POOLMGR__REQUEST__BODY_RETAIN:
		return do_retain(c, r->retain);
	case POOLMGR__REQUEST__BODY_PERSIST:
		return do_persist(c, r->persist);
	case POOLMGR__REQUEST__BODY_USABLE_SIZE:
		return do_usable_size(c, r->usable_size);
	case POOLMGR__REQUEST__BODY_STATS:
		return do_stats(c, r->stats);
	case POOLMGR__REQUEST__BODY_LIST:
		return do_list(c);
	case POOLMGR__REQUEST__BODY_TRIM:
		return do_trim(c, r->trim);
	case POOLMGR__REQUEST__BODY_CHECK:
		return do_check(c, r->check);
	case POOLMGR__REQUEST__BODY_CLIENTS:
		return do_clients(c, r->clients);
	case POOLMGR__REQUEST__BODY_ALLOC_BATCH:
		return do_alloc_batch(c, r->alloc_batch);
	case POOLMGR__REQUEST__BODY_FREE_BATCH:
		return do_free_batch(c, r->free_batch);
	case POOLMGR__REQUEST__BODY_PERSISTED:
		return do_persisted(c, r->persisted);
	case POOLMGR__REQUEST__BODY_USERS:
		return do_users(c, r->users);
	case POOLMGR__REQUEST__BODY_SHARE_MAP:
		return do_share_map(c, r->share_map);
	case POOLMGR__REQUEST__BODY_PUBLISH:
		return do_publish(c, r->publish);
	case POOLMGR__REQUEST__BODY_LOOKUP:
		return do_lookup(c, r->lookup);
	case POOLMGR__REQUEST__BODY_UNPUBLISH:
		return do_unpublish(c, r->unpublish);
	case POOLMGR__REQUEST__BODY_NAMES:
		return do_list_names(c, r->names);
	case POOLMGR__REQUEST__BODY_DAEMON_STATS:
		return do_daemon_stats(c, r->daemon_stats);
	case POOLMGR__REQUEST__BODY_LIST_BLOCKS:
		return do_list_blocks(c, r->list_blocks);
	case POOLMGR__REQUEST__BODY_WAIT_OVER:
		return do_wait_over(c, r->wait_over);
	default:
		return refuse(c, -EOPNOTSUPP, "unknown request type");
	}
}

/* A reply, packed; peer_send copies it at once. */
static uint8_t reply_out[PEER_MAX_MESSAGE]
    __attribute__((aligned(MEMTRIM_ALIGN)));

static void
send_reply(struct call *c)
{
	size_t len;
	bool big = c->rep->body_case == POOLMGR__REPLY__BODY_LIST ||
		   c->rep->body_case == POOLMGR__REPLY__BODY_CLIENTS ||
		   c->rep->body_case == POOLMGR__REPLY__BODY_PERSISTED ||
		   c->rep->body_case == POOLMGR__REPLY__BODY_USERS ||
		   c->rep->body_case == POOLMGR__REPLY__BODY_ALLOC_BATCH;

	/*
	 * Only listings (and, in theory, a batch) could outgrow a datagram:
	 * say so rather than send it torn.  The rest are a few dozen bytes.
	 */
	if (big && poolmgr__reply__get_packed_size(c->rep) >
	    sizeof(reply_out)) {
		int i;

		for (i = 0; i < c->fds.n; i++)
			if (c->fds.close[i])
				close(c->fds.fd[i]);
		c->fds.n = 0;
		c->rep->body_case = POOLMGR__REPLY__BODY__NOT_SET;
		c->rep->error = -EMSGSIZE;
		c->rep->message = "reply too large";
	}
	len = poolmgr__reply__pack(c->rep, reply_out);
	peer_send(c->peer, reply_out, len, &c->fds);
}

/*
 * Refuse a connection before it is served: one Reply with id 0 and the
 * error, sent at once (the socket is new, so it has room), then the caller
 * closes it.  Clients take an id-0 reply as the connection's answer.
 */
void
dispatch_refuse_connection(int fd, int err, const char *why)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	uint8_t out[256];
	size_t len;

	rep.id = 0;
	rep.error = err;
	rep.message = (char *)why;
	len = poolmgr__reply__get_packed_size(&rep);
	if (len > sizeof(out))
		return;
	poolmgr__reply__pack(&rep, out);
	(void)send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
waiter_end(struct waiter *w)
{
	assert(w->held);
	w->held = false;
	TAILQ_REMOVE(&waiters, w, entry);
	nwaiters--;
}

/* Hold c's request (buf, len) until the work queued so far is done. */
static void
hold(struct call *c, const uint8_t *buf, size_t len)
{
	struct waiter *w = &c->s->waiter;

	if (!w->held) {
		w->held = true;
		w->s = c->s;
		w->peer = c->peer;
		w->since_ns = dispatch_now_ns();
		w->prior = c->prior;
		TAILQ_INSERT_TAIL(&waiters, w, entry);
		nwaiters++;
	}
	w->mark = c->prior_only ? w->prior : dpool_release_mark();
	w->stage = c->stage;
	w->note = c->note;
	w->settle = c->settle;
	w->evict_names = c->evict_names;
	peer_hold(c->peer, buf, len);
}

/*
 * Each waiter goes on when the work queued before it is done, or, if it
 * waits for a settled pool, once it has waited settle_wait_ms: work
 * queued after it could otherwise hold it for as long as others keep
 * queueing faster than the steps go.
 */
void
dispatch_wake(void)
{
	struct waiter *w, *next;
	uint64_t now = 0;

	for (w = TAILQ_FIRST(&waiters); w; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (dpool_release_passed(w->mark) ||
		    (w->settle && (now ? now : (now = dispatch_now_ns())) -
		     w->since_ns >= settle_wait_ns())) {
			/* May end w, or hold it again where it is; its
			 * session stays (peer_resume frees no peer). */
			peer_resume(w->peer);
		}
	}
}

void
dispatch_forget(struct session *s)
{
	if (s->waiter.held)
		waiter_end(&s->waiter);
	lookup_wait_end(s, true);
	room_wait_end(s, true);
}

/* Between requests the reply buffer holds nothing: give its pages back. */
void
dispatch_buffers_release(void)
{
	memtrim_pages(reply_out, sizeof(reply_out));
}

void
dispatch_message(struct peer *peer, struct session *s, const uint8_t *buf,
		 size_t len)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	struct call c = {.peer = peer, .s = s, .rep = &rep};
	Poolmgr__Request *req = poolmgr__request__unpack(&arena_allocator,
							  len, buf);
	struct waiter *w = s->waiter.held ? &s->waiter : NULL;
	int rc;

	/*
	 * A block made ready in steps goes to its client once they are done
	 * (dispatch_wake): a waiting Alloc's record may wake it before, for
	 * room in its pool, and the steps left would zero or overwrite what
	 * the client wrote to its block meanwhile.  Held on, as it was.
	 */
	if (w && w->stage && !dpool_release_passed(w->mark)) {
		peer_hold(peer, buf, len);
		goto out;
	}
	if (w) {	/* the held request, again */
		c.waited_ns = dispatch_now_ns() - w->since_ns;
		c.prior = w->prior;
		c.stage = w->stage;
		c.note = w->note;
		c.evict_names = w->evict_names;
	} else {
		c.prior = dpool_release_mark();
	}
	if (!req) {
		static struct log_limit lim;
		bool short_of_memory = arena_failed();

		/* Undecoded, it has no id to answer: only closing is left. */
		counts.bad++;
		arena_reset();
		log_limited(&lim, LOG_PRI_WARNING, "client pid %d uid %u sent "
			    "a message that %s; closing it", (int)s->pid,
			    (unsigned)s->uid, short_of_memory ? "there is no "
			    "memory to decode" : "does not decode");
		peer_kill(peer);
		return;
	}
	c.req = req;
	rep.id = req->id;
	if (!s->greeted) {
		if (req->body_case != POOLMGR__REQUEST__BODY_HELLO) {
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "client pid %d uid "
				    "%u sent a request before Hello; closing "
				    "it",
				    (int)s->pid, (unsigned)s->uid);
			peer_kill(peer);
			goto out;
		}
		rc = do_hello(&c, req->hello, buf, len);
	} else {
		rc = dispatch_body(&c, buf, len);
	}
	if (rc == HELD) {
		hold(&c, buf, len);
		goto out;
	}
	if (rc == WAITING) {
		/* Held for settling before, it now waits for room only. */
		if (w)
			waiter_end(w);
		peer_hold(peer, buf, len);
		goto out;
	}
	if (w)
		waiter_end(w);
	lookup_wait_end(s, false);
	room_wait_end(s, false);
	rep.error = rc;
	if (rc) {
		rep.message = c.msg;
		if (rep.body_case != POOLMGR__REPLY__BODY_FREE_BATCH)
			rep.body_case = POOLMGR__REPLY__BODY__NOT_SET;
		log_debug("client pid %d uid %u: request %llu refused: %s",
			  (int)s->pid, (unsigned)s->uid,
			  (unsigned long long)req->id,
			  c.msg[0] ? c.msg : strerror(-rc));
	}
	send_reply(&c);
	counts.answered++;
	if (rc)
		counts.refused++;
	if (rc == -EPROTONOSUPPORT)
		peer_kill(peer);
out:
	/* Every part of req is in the arena: emptying it frees them all. */
	arena_reset();
}
