/*
 * restore.c - rebuild the daemon from a state a restart in place handed
 * over (restart.c, state_save.c), before anything is served.
 *
 * All or nothing.  The state and every descriptor are checked first
 * (restore_check.c); then every pool is built around its memfd (a new
 * share map: the old one cannot be written from this image, see
 * dpool_share_freeze), its heap by heap_reserve of every block in address
 * order, its books with their persist charges; then every session around
 * its connection, credentials read from it again, its handles with their
 * old ids, their holds in their old order, the cached bytes they
 * reported.  The engine believes every free page never touched and so
 * zero, so every whole page no block touches is punched out.  Last, the
 * checks `poolctl check` makes must pass on every pool.  Only then do the
 * clients get their peers on the loop.  Nothing is served while this
 * runs, so a failure anywhere can still tear down everything built, close
 * every passed descriptor but the listening socket, and let the daemon
 * start fresh from its configuration.  After a crash the state is the
 * crash journal's (recover.c): pools with their persistent blocks only,
 * built the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.pb-c.h"

#include "fdstore.h"
#include "log.h"
#include "pool.h"
#include "pool_names.h"
#include "recover.h"
#include "restore.h"
#include "restore_check.h"
#include "restore_fds.h"
#include "session.h"

/* ms: a hello_timeout's most (a uint32_t of seconds). */
#define HELLO_LEFT_MAX	((uint64_t)UINT32_MAX * 1000)

/* What is being rebuilt, so that a failure can take it all down. */
struct rebuild {
	Poolmgrd__State *st;
	int *fds;		/* passed; -1 once something took it */
	unsigned nfds;
	unsigned nreplies;	/* the last of fds: what replies pass */
	struct dpool **pools;	/* in the state's order; NULL: not made */
	struct session **sessions;
	bool crashed;		/* the state is a crash journal's */
	char why[320];
};

static struct dpool_params
pool_params(const Poolmgrd__PoolState *ps)
{
	struct dpool_params pp = {
		.size = ps->size, .granularity = ps->granularity,
		.page_size = ps->page_size, .uid = ps->uid, .gid = ps->gid, .mode = ps->mode,
		.quota = ps->quota, .user_quota = ps->user_quota,
		.limit = ps->limit, .retain = ps->retain,
	};

	return pp;
}

struct name_rank {
	uint64_t key;
	size_t i;
};

static int
name_rank_cmp(const void *a, const void *b)
{
	const struct name_rank *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Pool p's names of ps, in the order of eviction (named_use_order) if it
 * has one, so that each evictable name joins the list after those used
 * before it; else in the state's own order (an older image's).
 */
static int
build_names(struct rebuild *rb, struct dpool *p,
	    const Poolmgrd__PoolState *ps)
{
	struct name_rank *v;
	size_t i, k;
	int rc = 0;

	if (!(v = calloc(ps->n_named_name + 1, sizeof(*v)))) {
		snprintf(rb->why, sizeof(rb->why), "pool %s: out of memory",
			 p->name);
		return -ENOMEM;
	}
	for (i = 0; i < ps->n_named_name; i++) {
		v[i].key = ps->n_named_use_order ? ps->named_use_order[i] : 0;
		v[i].i = i;
	}
	qsort(v, ps->n_named_name, sizeof(*v), name_rank_cmp);
	for (k = 0; k < ps->n_named_name && rc == 0; k++) {
		i = v[k].i;
		rc = dpool_restore_name(p, ps->named_off[i],
					ps->named_name[i].data,
					ps->named_name[i].len,
					(uid_t)ps->named_publisher[i],
					ps->n_named_flags &&
					(ps->named_flags[i] &
					 POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE),
					ps->n_named_generation ?
					ps->named_generation[i] : 0,
					rb->why, sizeof(rb->why));
	}
	free(v);
	return rc;
}

/* Pool k: adopted, its blocks made, its counters as they were. */
static int
build_pool(struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	struct dpool_params pp = pool_params(ps);
	struct heap_events ev = {0};
	struct dpool *p;
	size_t i;
	int rc;

	/* Checked already (state_check): the list as the old image had it. */
	if ((rc = state_acl(ps->name, ps->acl, ps->n_acl, &pp.acl, rb->why,
			    sizeof(rb->why))) != 0 ||
	    (rc = state_uquotas(ps->name, ps->user_quotas,
				ps->n_user_quotas, &pp.uquotas, rb->why,
				sizeof(rb->why))) != 0)
		return rc;
	if ((rc = dpool_adopt(ps->name, &pp, rb->fds[2 + k], &p)) != 0) {
		snprintf(rb->why, sizeof(rb->why), "pool %s: %s", ps->name,
			 strerror(-rc));
		return rc;
	}
	rb->fds[2 + k] = -1;
	rb->pools[k] = p;
	for (i = 0; i < ps->n_block_off; i++) {
		struct heap_block_info bi = {
			.size = ps->block_size[i],
			.requested = ps->block_requested[i],
			.span = ps->block_span[i] ? 1 : 0,
		};

		rc = dpool_restore_block(p, ps->block_off[i], &bi,
					 (uid_t)ps->block_persister[i],
					 ps->n_block_persisted_ns ?
					 ps->block_persisted_ns[i] : 0);
		if (rc) {
			snprintf(rb->why, sizeof(rb->why), "pool %s: block "
				 "0x%llx: %s", p->name,
				 (unsigned long long)ps->block_off[i],
				 rc == -ENOMEM ? "poolmgrd is out of memory "
				 "for its books" : heap_strerror(rc));
			return rc;
		}
	}
	p->name_generation = ps->name_generation;
	if ((rc = build_names(rb, p, ps)))
		return rc;
	ev.allocs = ps->allocs;
	ev.frees = ps->frees;
	ev.cache_hits = ps->cache_hits;
	if (ps->n_class_allocs)
		memcpy(ev.class_allocs, ps->class_allocs,
		       ps->n_class_allocs * sizeof(uint64_t));
	heap_events_restore(p->heap, &ev);
	p->failed_before = ps->failed_allocs;
	p->invalid_frees = ps->invalid_frees;
	p->released_before = ps->released_bytes;
	p->trimmed_bytes = ps->trimmed_bytes;
	p->evict.evictions = ps->evictions;
	p->evict.evicted_bytes = ps->evicted_bytes;
	p->quota_refusals = ps->quota_refusals;
	p->user_quota_refusals = ps->user_quota_refusals;
	return 0;
}

/* Its holds, from its oldest: each goes to the head of its list. */
static int
build_handle(struct rebuild *rb, struct session *s,
	     const Poolmgrd__HandleState *hs)
{
	struct dpool *p = rb->pools[hs->pool];
	struct handle *h;
	size_t i;
	int rc;

	if (!(h = session_open_id(s, p, hs->read_only, hs->id))) {
		snprintf(rb->why, sizeof(rb->why), "pid %d: handle %u cannot "
			 "be opened again", (int)s->pid, hs->id);
		return -EINVAL;
	}
	for (i = hs->n_holds; i-- > 0;) {
		if ((rc = dpool_restore_hold(p, h, hs->holds[i])) != 0) {
			snprintf(rb->why, sizeof(rb->why), "pid %d: handle "
				 "%u: hold of 0x%llx: %s", (int)s->pid, hs->id,
				 (unsigned long long)hs->holds[i],
				 strerror(-rc));
			return rc;
		}
	}
	handle_set_cached(h, hs->cached_bytes);
	return 0;
}

static int
build_session(struct rebuild *rb, unsigned k)
{
	const Poolmgrd__SessionState *ss = rb->st->sessions[k];
	unsigned f = 2 + (unsigned)rb->st->n_pools + k;
	struct session *s;
	size_t i;
	int rc;

	if (!(s = session_new(rb->fds[f]))) {
		snprintf(rb->why, sizeof(rb->why), "client %u: SO_PEERCRED: "
			 "%s", k, strerror(errno));
		return -EINVAL;
	}
	rb->sessions[k] = s;
	s->greeted = ss->greeted;
	snprintf(s->name, sizeof(s->name), "%s", ss->name ? ss->name : "");
	s->next_handle = ss->next_handle;
	/* Saved newest first; each open goes to the head of the list. */
	for (i = ss->n_handles; i-- > 0;)
		if ((rc = build_handle(rb, s, ss->handles[i])) != 0)
			return rc;
	return 0;
}

/*
 * Session k's handles, each at its place in its pool's list (v[pool]):
 * false if a place is out of range or taken.
 */
static bool
place_handles(struct rebuild *rb, unsigned k, struct handle ***v)
{
	const Poolmgrd__SessionState *ss = rb->st->sessions[k];
	struct handle *h;
	size_t i;
	uint32_t r;

	if (ss->n_handle_rank != ss->n_handles)
		return false;
	for (i = 0; i < ss->n_handles; i++) {
		h = session_handle(rb->sessions[k], ss->handles[i]->id);
		r = ss->handle_rank[i];
		if (!h || r >= h->pool->nhandles || v[ss->handles[i]->pool][r])
			return false;
		v[ss->handles[i]->pool][r] = h;
	}
	return true;
}

/*
 * Each pool's handles in the order the old image listed them (ListClients
 * answers in it, and shows the first 400): the opens above put them in
 * the order of the sessions.  A state without the places (an older
 * image's) or with places that do not fit keeps that order: only the
 * listing's order is at stake.
 */
static void
order_handles(struct rebuild *rb)
{
	struct handle ***v = calloc(rb->st->n_pools + 1, sizeof(*v));
	unsigned k, n = (unsigned)rb->st->n_pools;
	bool fits = v != NULL;
	uint32_t r;

	for (k = 0; fits && k < n; k++)
		fits = (v[k] = calloc(rb->pools[k]->nhandles + 1,
				      sizeof(**v))) != NULL;
	for (k = 0; fits && k < rb->st->n_sessions; k++)
		fits = place_handles(rb, k, v);
	for (k = 0; fits && k < n; k++) {
		LIST_INIT(&rb->pools[k]->handles);
		for (r = rb->pools[k]->nhandles; r-- > 0;)
			LIST_INSERT_HEAD(&rb->pools[k]->handles, v[k][r],
					 in_pool);
	}
	for (k = 0; v && k < n; k++)
		free(v[k]);
	free(v);
}

/*
 * Punch every whole page of p that no block touches: the engine takes
 * them for never touched, so zero, and not resident.  What leaves the
 * memfd (the free pages the pool kept for reuse, mostly) went back to
 * the kernel as a trim's pages do: released_bytes counts it.
 */
static int
punch_free(struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	struct dpool *p = rb->pools[k];
	uint64_t page = ps->page_size, from = 0, to, a, b;
	uint64_t resident = dpool_committed(p), now;
	size_t i;
	int rc;

	for (i = 0; i <= ps->n_block_off; i++) {
		to = i < ps->n_block_off ? ps->block_off[i] : p->size;
		a = (from + page - 1) & ~(page - 1);
		b = to & ~(page - 1);
		if (b > a && (rc = dpool_punch(p, a, b - a)) != 0) {
			snprintf(rb->why, sizeof(rb->why), "pool %s: punching "
				 "its free pages: %s", p->name, strerror(-rc));
			return rc;
		}
		if (i < ps->n_block_off)
			from = ps->block_off[i] + ps->block_size[i];
	}
	/* (Clients may write meanwhile: never more than what left.) */
	if ((now = dpool_committed(p)) < resident)
		p->released_before += resident - now;
	return 0;
}

/* The books, the holds, and the checks of `poolctl check`. */
static int
finish_pool(struct rebuild *rb, unsigned k)
{
	struct dpool *p = rb->pools[k];
	char problem[192];
	int rc;

	if ((rc = dpool_restore_done(p, rb->why, sizeof(rb->why))) != 0)
		return rc;
	if ((rc = heap_check(p->heap, problem, sizeof(problem))) != 0 ||
	    (rc = dpool_check(p, problem, sizeof(problem))) != 0) {
		snprintf(rb->why, sizeof(rb->why), "pool %s: the check "
			 "fails: %s", p->name, problem);
		return rc;
	}
	return 0;
}

static int
build(struct rebuild *rb)
{
	unsigned k;
	int rc;

	for (k = 0; k < rb->st->n_pools; k++)
		if ((rc = build_pool(rb, k)) != 0)
			return rc;
	/* From the last: each goes to the head of the list of sessions. */
	for (k = (unsigned)rb->st->n_sessions; k-- > 0;)
		if ((rc = build_session(rb, k)) != 0)
			return rc;
	order_handles(rb);
	for (k = 0; k < rb->st->n_pools; k++)
		if ((rc = finish_pool(rb, k)) != 0)
			return rc;
	/* Only once every pool passed: a refused state punches nothing. */
	for (k = 0; k < rb->st->n_pools; k++)
		if ((rc = punch_free(rb, k)) != 0)
			return rc;
	return 0;
}

/*
 * A pool restored holding more than its limit (lowered while what it
 * holds was held, let go of since; or its holders gone with a crash; or
 * by the configuration file since) gives up its unheld evictable names
 * down to it, as a SetPool lowering it does: the next allocation would
 * evict them first anyway, and until then a Lookup would find names the
 * limit no longer leaves room for.  Held and kept blocks stay.  Only
 * once the start's crash journal is in the fd store, the state and the
 * journal the start came from out of it (pool_evict.h's
 * dpool_evict_over_limit_hold): an eviction gives its block's pages
 * back, and a crash before would find the names again in what the store
 * held, on pages that read zero.
 */
void
restore_evict_over_limits(void)
{
	struct dpool *p;
	uint64_t bytes;
	uint32_t n;

	dpool_evict_over_limit_hold(false);
	for (p = dpool_first(); p; p = dpool_next(p))
		if ((n = dpool_evict_over_limit(p, &bytes)))
			log_info("pool %s restored over its limit of %llu: "
				 "evicted %u name%s of %llu bytes", p->name,
				 (unsigned long long)p->limit, n, log_plural(n),
				 (unsigned long long)bytes);
}

/*
 * Undo build: no block is freed (that would punch pages the clients
 * still map), no memfd punched; every descriptor but the listening
 * socket is closed.
 */
static void
teardown(struct rebuild *rb)
{
	struct handle *h;
	unsigned k;

	for (k = 0; rb->sessions && rb->st && k < rb->st->n_sessions; k++) {
		struct session *s = rb->sessions[k];

		if (!s)
			continue;
		LIST_FOREACH(h, &s->handles, in_session)
			dpool_unlink_refs(h);
		session_free(s);
	}
	for (k = 0; rb->pools && rb->st && k < rb->st->n_pools; k++)
		if (rb->pools[k])
			dpool_destroy(rb->pools[k], false);
	for (k = 1; rb->fds && k < rb->nfds; k++)
		if (rb->fds[k] >= 0)
			close(rb->fds[k]);
}

/*
 * The descriptors unsent reply i passes, this image's of the same pools
 * (the same memory: the memfd passed over; the pool's new share map, for
 * the old one is frozen), or those passed as they were.  One that cannot
 * be had is -1, and the client is dropped for it (peer_carry).  A share
 * map the pool has no more is left out, as when the kernel cannot make
 * one (the client does not cache).
 */
static void
carried_fds(struct rebuild *rb, const Poolmgrd__SessionState *ss,
	    size_t i, size_t *next, struct peer_fds *fds)
{
	unsigned base = 2 + (unsigned)(rb->st->n_pools + rb->st->n_sessions);
	size_t j, n = ss->n_unsent_nfds ? ss->unsent_nfds[i] : 0;
	char path[64];
	int fd;

	fds->n = 0;
	for (j = *next; j < *next + n; j++) {
		uint32_t ref = ss->unsent_fd_ref[j];
		bool own = false;

		switch (ss->unsent_fd_kind[j]) {
		case POOLMGRD__CARRIED_FD__CARRIED_FD_POOL:
			fd = rb->pools[ref]->memfd;
			break;
		case POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY:
			/* As OpenPool makes one: a file that only reads. */
			snprintf(path, sizeof(path), "/proc/self/fd/%d",
				 rb->pools[ref]->memfd);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			own = fd >= 0;
			break;
		case POOLMGRD__CARRIED_FD__CARRIED_FD_SHARE_MAP:
			if ((fd = rb->pools[ref]->share_fd) < 0)
				continue;
			break;
		default:	/* _PASSED: state_check saw to the rest */
			fd = rb->fds[base + ref];
			break;
		}
		fds->fd[fds->n] = fd;
		fds->close[fds->n++] = own;
	}
	*next += n;
}

/*
 * The replies the old image had queued and the client not read yet, on
 * its new peer before the loop runs, with their descriptors: so they
 * leave first, in order, and whatever it is answered next goes behind
 * them.  The checks bounded them by what the queue takes.
 */
static size_t
carry_unsent(struct rebuild *rb, struct peer *pe,
	     const Poolmgrd__SessionState *ss)
{
	struct peer_fds fds;
	size_t i, next = 0;

	for (i = 0; i < ss->n_unsent; i++) {
		carried_fds(rb, ss, i, &next, &fds);
		if (!peer_carry(pe, ss->unsent[i].data, ss->unsent[i].len,
				&fds))
			break;
	}
	return i;
}

/*
 * As at accept: a client that never says Hello goes, at the deadline its
 * accept set if the state has it (the time the restart took counts), else
 * a full hello_timeout from now.
 */
static void
hello_deadline(struct peer *pe, struct session *s,
	       const Poolmgrd__SessionState *ss, unsigned timeout)
{
	struct timespec ts;
	uint64_t now, left;

	if (s->greeted)
		return;
	if (!ss->hello_deadline_ns) {
		peer_set_deadline(pe, timeout);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->hello_deadline_ns = ss->hello_deadline_ns;
	left = ss->hello_deadline_ns > now ?
	       (ss->hello_deadline_ns - now + 999999) / 1000000 : 0;
	/* No more than any hello_timeout could have set. */
	peer_set_deadline_ms(pe, left < HELLO_LEFT_MAX ? left : HELLO_LEFT_MAX);
}

/* From the last: each peer goes to the head of the list of peers. */
static void
publish(struct rebuild *rb, const struct restore_env *env)
{
	size_t carried = 0;
	unsigned k, slow = 0;

	for (k = (unsigned)rb->st->n_sessions; k-- > 0;) {
		struct session *s = rb->sessions[k];
		unsigned f = 2 + (unsigned)rb->st->n_pools + k;
		struct peer *pe;

		if (!(pe = peer_new(env->base, rb->fds[f], env->dispatch, s)))
			fatalx("restoring: out of memory for the connection "
			       "of client pid %d uid %u", (int)s->pid,
			       (unsigned)s->uid);
		rb->fds[f] = -1;
		if (rb->st->sessions[k]->n_unsent) {
			carried += carry_unsent(rb, pe, rb->st->sessions[k]);
			slow++;
		}
		hello_deadline(pe, s, rb->st->sessions[k], env->hello_timeout);
	}
	if (slow)
		log_info("restart in place: %zu unsent repl%s to %u client%s "
			 "carried over, sent first", carried,
			 carried == 1 ? "y" : "ies", slow, slow == 1 ? "" : "s");
}

/* Room for what the state's pools and sessions become. */
static int
make_room(struct rebuild *rb)
{
	rb->pools = calloc(rb->st->n_pools + 1, sizeof(*rb->pools));
	rb->sessions = calloc(rb->st->n_sessions + 1, sizeof(*rb->sessions));
	if (!rb->pools || !rb->sessions) {
		snprintf(rb->why, sizeof(rb->why), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* After a crash: the journal's pools, as a state (recover.c). */
static int
load_recovered(struct rebuild *rb, struct passed_fds *pf)
{
	rb->crashed = true;
	rb->st = recover_state(pf, &rb->fds, &rb->nfds, rb->why,
			       sizeof(rb->why));
	if (!rb->st || make_room(rb) != 0)
		return -EINVAL;
	return state_check(rb->st, rb->fds, rb->nfds, rb->why,
			   sizeof(rb->why)) ? -EINVAL : 0;
}

/* The state, its descriptors in its order, and its checks. */
static int
load(struct rebuild *rb, struct passed_fds *pf)
{
	/*
	 * A journal passed is recovered even without the store to keep a
	 * new one in (the descriptors passed by hand): the pools are there.
	 */
	if (pf->state < 0 && recover_wanted(pf))
		return load_recovered(rb, pf);
	if (pf->state < 0) {
		snprintf(rb->why, sizeof(rb->why), "no state among the "
			 "descriptors");
		return -EINVAL;
	}
	rb->st = state_load(pf->state, rb->why, sizeof(rb->why));
	if (!rb->st)
		return -EINVAL;
	if (rb->st->n_pools > POOL_MAX_POOLS ||
	    rb->st->n_sessions > 1 << 24) {
		snprintf(rb->why, sizeof(rb->why), "%zu pool%s, %zu client%s",
			 rb->st->n_pools, log_plural(rb->st->n_pools),
			 rb->st->n_sessions, log_plural(rb->st->n_sessions));
		return -EINVAL;
	}
	if (state_replies(rb->st, &rb->nreplies) != 0) {
		snprintf(rb->why, sizeof(rb->why), "unsent replies pass "
			 "descriptor %u, but not as many", rb->nreplies - 1);
		return -EINVAL;
	}
	rb->nfds = 2 + (unsigned)rb->st->n_pools +
	    (unsigned)rb->st->n_sessions + rb->nreplies;
	rb->fds = malloc(rb->nfds * sizeof(int));
	if (!rb->fds) {
		rb->nfds = 0;
		snprintf(rb->why, sizeof(rb->why), "out of memory");
		return -ENOMEM;
	}
	if (make_room(rb) != 0)
		return -ENOMEM;
	if (restore_fds_place(pf, (unsigned)rb->st->n_pools,
			      (unsigned)rb->st->n_sessions, rb->nreplies,
			      rb->fds, rb->why, sizeof(rb->why)) != 0 ||
	    state_check(rb->st, rb->fds, rb->nfds, rb->why,
			sizeof(rb->why)) != 0)
		return -EINVAL;
	return 0;
}

/*
 * The daemon's totals the old image counted (DaemonStats), for this one
 * to count on from; none in a crash recovery's state, nor in an older
 * image's, and the counts then start afresh.
 */
static void
restored_totals(const Poolmgrd__State *st, struct restored *out)
{
	const Poolmgrd__DaemonTotals *t = st->totals;

	if (!t)
		return;
	out->has_totals = true;
	out->totals = (struct daemon_totals){
		.started = t->started, .started_ns = t->started_ns,
		.restarts = t->restarts, .connections = t->connections,
		.connections_refused = t->connections_refused,
		.hello_timeouts = t->hello_timeouts, .requests = t->requests,
		.requests_refused = t->requests_refused,
		.bad_messages = t->bad_messages,
		.log_lines_left_out = t->log_lines_left_out,
	};
}

int
restore_incoming(const struct restore_env *env, struct restored *out)
{
	struct rebuild rb = {0};
	struct passed_fds pf;
	int rc;

	memset(out, 0, sizeof(*out));
	out->listen_fd = -1;
	if (restore_fds_take(&pf) != 0)
		return -1;
	if (fdstore_max() > 0)
		out->stored = restore_fds_ours(&pf);
	if ((rc = load(&rb, &pf)) == 0)
		rc = build(&rb);
	if (rc == 0) {
		publish(&rb, env);
		out->socket_activated = rb.st->socket_activated;
		snprintf(out->socket_path, sizeof(out->socket_path), "%s",
			 rb.st->socket_path ? rb.st->socket_path : "");
		out->socket_mode = rb.st->socket_mode;
		out->npools = (unsigned)rb.st->n_pools;
		out->nsessions = (unsigned)rb.st->n_sessions;
		for (unsigned k = 0; k < rb.st->n_pools; k++)
			out->nblocks += rb.st->pools[k]->n_block_off;
		out->saved_at_ns = rb.st->saved_at_ns;
		out->crashed = rb.crashed;
		out->from_store = rb.st->from_store;
		restored_totals(rb.st, out);
		close(rb.fds[1]);
		/* The replies that pass them have their own now. */
		for (unsigned k = rb.nfds - rb.nreplies; k < rb.nfds; k++)
			close(rb.fds[k]);
	} else if (rb.crashed) {
		log_warnx("after a crash: the journal is refused (%s); "
			  "starting fresh from the configuration", rb.why);
		teardown(&rb);
	} else {
		log_warnx("restart in place: the state handed over is "
			  "refused (%s); starting fresh from the "
			  "configuration, its clients disconnected", rb.why);
		teardown(&rb);
	}
	/* The listening socket is kept whatever else failed, if it is one. */
	if (pf.listen >= 0 && state_check_listener(pf.listen)) {
		int fl = fcntl(pf.listen, F_GETFL);

		/* systemd's socket comes blocking; accept must not block. */
		if (fl == -1 || fcntl(pf.listen, F_SETFL, fl | O_NONBLOCK) == -1)
			fatal("fcntl on the passed socket");
		out->listen_fd = pf.listen;
		if (rb.st)
			out->socket_activated = rb.st->socket_activated;
	} else if (pf.listen >= 0)
		close(pf.listen);
	restore_fds_free(&pf);
	if (rb.st)
		poolmgrd__state__free_unpacked(rb.st, NULL);
	free(rb.pools);
	free(rb.sessions);
	free(rb.fds);
	return rc == 0 ? 1 : 0;
}
