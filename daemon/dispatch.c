/*
 * dispatch.c - decode a request, authorize it, carry it out, reply.
 *
 * Every request is validated here before anything changes: the session must
 * have said Hello, the handle must be this session's, the handle must allow
 * writing for anything that changes a pool, and the caller must have the
 * rights the pool's mode grants.  A request that fails changes nothing and
 * gets an error reply; only protocol violations (undecodable bytes, a
 * request before Hello) close the connection.
 *
 * A request that reads a pool's state (stats, list, check, trim, a
 * destroy that counts live blocks), or one the engine refused, while work
 * the pool's clients let go of is still queued (pool_release.c) is not
 * carried out (or refused) yet: its peer holds it,
 * with every later request of that client, and it is dispatched again
 * once the work queued before it is done (dispatch_wake, after each step).
 * Only that client waits; the others are served meanwhile.  A request
 * waiting for more than WAIT_SETTLE_MAX_NS (others keep queueing work)
 * settles the pool at once instead.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "session.h"

#define PROTOCOL_VERSION 1
#define OFF_NONE UINT64_MAX
#define MAX_LISTED_CLIENTS 400
#define MAX_BATCH 4096
#define HELD 1			/* a handler's answer: hold the request */
#define RETRY 2			/* refused_unsettled: the pool has settled */
#define WAIT_SETTLE_MAX_NS (2ull * 1000 * 1000 * 1000)

struct call {
	struct peer *peer;
	struct session *s;
	const Poolmgr__Request *req;
	Poolmgr__Reply *rep;
	struct peer_fds fds;	/* descriptors to send with the reply */
	char msg[160];
	/* A held request's progress, kept from one dispatch to the next. */
	uint64_t waited_ns;	/* since it was first held */
	unsigned stage;
	uint64_t note;
	bool settle;		/* held by wait_settled */
};

/* A client whose first unanswered request is held (see the top). */
struct waiter {
	TAILQ_ENTRY(waiter) entry;
	struct session *s;
	struct peer *peer;
	uint64_t mark;		/* dpool_release_passed(mark): go on */
	uint64_t since_ns;
	unsigned stage;
	uint64_t note;
	bool settle;		/* waits for a settled pool: at most
				 * WAIT_SETTLE_MAX_NS */
};

static TAILQ_HEAD(, waiter) waiters = TAILQ_HEAD_INITIALIZER(waiters);

static const struct config *dispatch_cf;

void
dispatch_set_config(const struct config *cf)
{
	dispatch_cf = cf;
}

__attribute__((format(printf, 3, 4))) static int
refuse(struct call *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	return err;
}

static bool
may_admin(const struct session *s)
{
	return session_trusted(s) ||
	       (dispatch_cf && dispatch_cf->has_admin_gid &&
		session_in_group(s, dispatch_cf->admin_gid));
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The request reads p's state: HELD while work queued for p is not done
 * (the caller returns it), 0 once p is settled.
 */
static int
wait_settled(struct call *c, struct dpool *p)
{
	if (!dpool_unsettled(p))
		return 0;
	if (c->waited_ns < WAIT_SETTLE_MAX_NS) {
		c->settle = true;
		return HELD;
	}
	dpool_settle(p);
	return 0;
}

/* A session may hold only so many references (each costs daemon memory). */
static int
check_block_cap(struct call *c)
{
	if (dispatch_cf && c->s->nrefs >= dispatch_cf->max_blocks_per_session)
		return refuse(c, -EDQUOT, "this client holds %llu blocks, the "
			      "most allowed",
			      (unsigned long long)c->s->nrefs);
	return 0;
}

/* The session's handle, or NULL with the reason set. */
static struct handle *
get_handle(struct call *c, uint32_t id, bool write, int *err)
{
	struct handle *h = session_handle(c->s, id);

	if (!h) {
		*err = refuse(c, -EBADF, "no pool handle %u", id);
		return NULL;
	}
	if (write && h->read_only) {
		*err = refuse(c, -EACCES, "pool %s is open read-only",
			      h->pool->name);
		return NULL;
	}
	return h;
}

/* What a handle's cache holds, as reported, within what it can hold. */
static uint64_t
handle_cached(const struct handle *h)
{
	return h->cached_bytes < h->bytes ? h->cached_bytes : h->bytes;
}

/* A name to look up: too long is its own error, else any is looked up. */
static int
check_name_length(struct call *c, const char *name)
{
	if (name && strlen(name) > 64)
		return refuse(c, -ENAMETOOLONG, "pool name longer than 64");
	return 0;
}

static int
check_name(struct call *c, const char *name)
{
	if (!name || strlen(name) > 64)
		return refuse(c, -ENAMETOOLONG, "pool name longer than 64");
	if (!config_valid_pool_name(name))
		return refuse(c, -EINVAL, "pool names are [A-Za-z0-9._-], "
			      "not starting with '.'");
	return 0;
}

static int
do_hello(struct call *c, const Poolmgr__Hello *m)
{
	static Poolmgr__HelloReply hr = POOLMGR__HELLO_REPLY__INIT;
	size_t i;

	if (m->version != PROTOCOL_VERSION)
		return refuse(c, -EPROTONOSUPPORT, "protocol version %u, "
			      "daemon speaks %u", m->version,
			      PROTOCOL_VERSION);
	snprintf(c->s->name, sizeof(c->s->name), "%s",
		 m->client_name ? m->client_name : "");
	for (i = 0; c->s->name[i]; i++)
		if (c->s->name[i] < 0x20 || c->s->name[i] > 0x7e)
			c->s->name[i] = '?';
	c->s->greeted = true;
	peer_clear_deadline(c->peer);
	hr.version = PROTOCOL_VERSION;
	hr.max_message = PEER_MAX_MESSAGE;
	hr.server = "poolmgrd 0.1.0";
	c->rep->body_case = POOLMGR__REPLY__BODY_HELLO;
	c->rep->hello = &hr;
	return 0;
}

static int
do_create(struct call *c, const Poolmgr__CreatePool *m)
{
	struct dpool_params pp = {0};
	struct dpool *p;
	int rc;

	if (!may_admin(c->s))
		return refuse(c, -EPERM, "creating pools needs admin rights");
	if ((rc = check_name(c, m->name)))
		return rc;
	if (m->mode & ~0777u)
		return refuse(c, -EINVAL, "mode %o has bits beyond 0777",
			      m->mode);
	if (m->max_size == 0 || m->max_size > POOL_MAX_SIZE)
		return refuse(c, -EINVAL, "size must be 1 byte to 64 TiB");
	pp.size = m->max_size;
	pp.granularity = m->granularity;
	pp.mode = m->mode;
	pp.quota = m->quota;
	if (m->retention_case == POOLMGR__CREATE_POOL__RETENTION_RETAIN)
		pp.retain = m->retain ? m->retain : DPOOL_RETAIN_NONE;
	pp.uid = c->s->uid;
	pp.gid = c->s->gid;
	rc = dpool_create(m->name, &pp, &p);
	if (rc == -EINVAL)
		return refuse(c, rc, "granularity must be a power of two from "
			      "8 to the page size");
	if (rc)
		return refuse(c, rc, "cannot create pool %s", m->name);
	log_info("pool %s created by uid %u: %llu bytes, mode %o", p->name,
		 (unsigned)c->s->uid, (unsigned long long)p->size, p->mode);
	return 0;
}

static uint64_t
live_blocks(struct dpool *p)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	return st.live_blocks;
}

static int
do_destroy(struct call *c, const Poolmgr__DestroyPool *m)
{
	struct dpool *p;
	bool unmapped;
	int rc;

	if (!may_admin(c->s))
		return refuse(c, -EPERM, "destroying pools needs admin rights");
	if ((rc = check_name_length(c, m->name)))
		return rc;
	if (!m->name || !(p = dpool_find(m->name)))
		return refuse(c, -ENOENT, "no pool %s", m->name ? m->name : "");
	/* Blocks freed but still held for their release are not live. */
	if (!m->force && (rc = wait_settled(c, p)))
		return rc;
	if (!m->force && (p->nhandles || live_blocks(p)))
		return refuse(c, -EBUSY, "pool %s has %u open handles and "
			      "%llu live blocks", p->name, p->nhandles,
			      (unsigned long long)live_blocks(p));
	log_info("pool %s destroyed by uid %u", p->name, (unsigned)c->s->uid);
	unmapped = p->nhandles == 0;
	if (!unmapped)
		dpool_mark_destroyed(p);
	session_close_pool_handles(p);
	dpool_destroy(p, unmapped);
	return 0;
}

static int
do_open(struct call *c, const Poolmgr__OpenPool *m)
{
	static Poolmgr__OpenReply orep;
	struct heap_stats st;
	struct dpool *p;
	struct handle *h;
	int fd = -1, rc;

	if ((rc = check_name_length(c, m->name)))
		return rc;
	if (!m->name || !(p = dpool_find(m->name)))
		return refuse(c, -ENOENT, "no pool %s", m->name ? m->name : "");
	if (!session_may_access(c->s, p, m->read_only ? 4 : 2))
		return refuse(c, -EACCES, "pool %s (mode %o) is not %s for "
			      "uid %u", p->name, p->mode,
			      m->read_only ? "readable" : "writable",
			      (unsigned)c->s->uid);
	if (m->read_only) {
		char path[64];

		/* A new open file description that only allows reading. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p->memfd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			return refuse(c, -errno, "cannot reopen pool read-only");
	}
	if (!(h = session_open(c->s, p, m->read_only))) {
		if (fd >= 0)
			close(fd);
		return refuse(c, -EMFILE, "too many open pools");
	}
	heap_get_stats(p->heap, &st);
	poolmgr__open_reply__init(&orep);
	orep.handle = h->id;
	orep.max_size = p->size;
	orep.granularity = (uint32_t)st.granularity;
	orep.page_size = (uint32_t)st.page_size;
	orep.read_only = m->read_only;
	orep.quota = p->quota;
	c->rep->body_case = POOLMGR__REPLY__BODY_OPEN;
	c->rep->open = &orep;
	c->fds.fd[0] = m->read_only ? fd : p->memfd;
	c->fds.close[0] = m->read_only;
	c->fds.n = 1;
	/* The share map is for clients that cache, so for writers only. */
	if (m->want_share_map && !m->read_only && p->share_fd >= 0) {
		orep.share_map_size = p->share_size;
		c->fds.fd[1] = p->share_fd;
		c->fds.close[1] = false;
		c->fds.n = 2;
	}
	return 0;
}

static int
do_close(struct call *c, const Poolmgr__ClosePool *m)
{
	int err;
	struct handle *h = get_handle(c, m->handle, false, &err);

	if (!h)
		return err;
	session_close(c->s, h);
	return 0;
}

static Poolmgr__AllocReply alloc_reply;

static void
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
 * for that work (HELD) and is tried again then, or, once it has waited
 * WAIT_SETTLE_MAX_NS, the pool is settled and it is tried again at once
 * (RETRY).  Only the last answer reaches the client, so the engine's count
 * of a refusal the client never saw is taken back in the statistics.
 */
static int
refused_unsettled(struct call *c, struct dpool *p, int rc)
{
	if ((rc != -ENOMEM && rc != -EBUSY && rc != -EAGAIN) ||
	    !dpool_unsettled(p))
		return 0;
	if (rc == -ENOMEM)
		p->unseen_failures++;
	if (wait_settled(c, p))
		return HELD;
	return RETRY;
}

/*
 * What counts against the quota of the asking session in pool p: the
 * blocks its handles hold, and the persistent blocks its uid made so.
 */
static uint64_t
quota_used(struct call *c, struct dpool *p)
{
	return session_pool_bytes(c->s, p) + dpool_persisted_by(p, c->s->uid);
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

static int
refuse_alloc(struct call *c, struct dpool *p, int rc, bool retry_follows,
	     uint64_t size)
{
	uncount_retried(p, rc, retry_follows);
	return refuse(c, rc, "allocating %llu bytes", (unsigned long long)size);
}

static int
do_alloc(struct call *c, const Poolmgr__Alloc *m)
{
	uint64_t size = m->size;
	struct block *b;
	struct handle *h;
	int rc, wait;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if ((rc = check_block_cap(c)))
		return rc;
	if (m->zero && m->nmemb > 1 &&
	    __builtin_mul_overflow(m->size, m->nmemb, &size))
		return refuse(c, -EOVERFLOW, "nmemb * size overflows");
	do
		rc = dpool_alloc(h->pool, h, size, m->align, m->zero,
				 quota_used(c, h->pool), &b);
	while ((wait = refused_unsettled(c, h->pool, rc)) == RETRY);
	if (wait)
		return wait;
	if (rc)
		return refuse_alloc(c, h->pool, rc, m->retry_follows, size);
	reply_block(c, b->off, b->size);
	return 0;
}

static int
do_free(struct call *c, const Poolmgr__Free *m)
{
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->offset == OFF_NONE)
		return 0;
	rc = dpool_free(h->pool, h, m->offset);
	if (rc == -EPERM)
		return refuse(c, rc, "block %#llx belongs to another handle",
			      (unsigned long long)m->offset);
	if (rc)
		return refuse(c, rc, "%#llx is not a live block",
			      (unsigned long long)m->offset);
	return 0;
}

static int
do_realloc(struct call *c, const Poolmgr__Realloc *m)
{
	struct block *b;
	struct handle *h;
	int rc, wait;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->offset == OFF_NONE) {
		if ((rc = check_block_cap(c)))
			return rc;
		do
			rc = dpool_alloc(h->pool, h, m->size, 0, false,
					 quota_used(c, h->pool),
					 &b);
		while ((wait = refused_unsettled(c, h->pool, rc)) == RETRY);
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
			return refuse(c, rc, "cannot free %#llx",
				      (unsigned long long)m->offset);
		reply_block(c, OFF_NONE, 0);
		return 0;
	}
	do
		rc = dpool_realloc(h->pool, h, m->offset, m->size,
				   quota_used(c, h->pool),
				   m->in_place, &b);
	while ((wait = refused_unsettled(c, h->pool, rc)) == RETRY);
	if (wait)
		return wait;
	if (rc == -EBUSY)
		return refuse(c, rc, "block is shared and cannot move");
	if (rc == -EAGAIN)
		return refuse(c, rc, "block cannot change size in place");
	uncount_retried(h->pool, rc, m->retry_follows);
	if (rc)
		return refuse(c, rc, "cannot resize %#llx to %llu bytes",
			      (unsigned long long)m->offset,
			      (unsigned long long)m->size);
	reply_block(c, b->off, b->size);
	return 0;
}

static uint64_t batch_offsets[MAX_BATCH], batch_sizes[MAX_BATCH];
static Poolmgr__AllocBatchReply alloc_batch_reply;
static struct heap_events batch_events;

/* Many allocations, all or nothing. */
static int
do_alloc_batch(struct call *c, const Poolmgr__AllocBatch *m)
{
	struct handle *h;
	struct block *b;
	size_t i, j;
	int rc, wait;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->n_sizes == 0 || m->n_sizes > MAX_BATCH)
		return refuse(c, m->n_sizes ? -E2BIG : -EINVAL, "a batch holds "
			      "1 to %d sizes, not %zu", MAX_BATCH, m->n_sizes);
	if (dispatch_cf && c->s->nrefs + m->n_sizes >
	    dispatch_cf->max_blocks_per_session)
		return refuse(c, -EDQUOT, "the batch would pass the blocks "
			      "allowed per client");
again:
	heap_events_save(h->pool->heap, &batch_events);
	for (i = 0; i < m->n_sizes; i++) {
		rc = dpool_alloc(h->pool, h, m->sizes[i], 0, false,
				 quota_used(c, h->pool), &b);
		if (rc) {
			/* Undo: the request changes nothing, counters included. */
			for (j = 0; j < i; j++)
				dpool_unalloc(h->pool, h, batch_offsets[j]);
			heap_events_restore(h->pool->heap, &batch_events);
			if ((wait = refused_unsettled(c, h->pool, rc)) == RETRY)
				goto again;
			if (wait)
				return wait;
			uncount_retried(h->pool, rc, m->retry_follows);
			return refuse(c, rc, "allocation %zu of the batch "
				      "(%llu bytes) failed", i,
				      (unsigned long long)m->sizes[i]);
		}
		batch_offsets[i] = b->off;
		batch_sizes[i] = b->size;
	}
	poolmgr__alloc_batch_reply__init(&alloc_batch_reply);
	alloc_batch_reply.n_offsets = m->n_sizes;
	alloc_batch_reply.offsets = batch_offsets;
	alloc_batch_reply.n_usable_sizes = m->n_sizes;
	alloc_batch_reply.usable_sizes = batch_sizes;
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

/* Many frees, all or nothing: every offset is checked before any goes. */
static int
do_free_batch(struct call *c, const Poolmgr__FreeBatch *m)
{
	static Poolmgr__FreeBatchReply fbr;
	struct handle *h;
	size_t i;
	int rc;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->n_offsets > MAX_BATCH)
		return refuse(c, -E2BIG, "a batch holds at most %d offsets",
			      MAX_BATCH);
	if (m->n_offsets == 0)
		return 0;	/* offsets is NULL then: nothing to copy or sort */
	poolmgr__free_batch_reply__init(&fbr);
	for (i = 0; i < m->n_offsets; i++) {
		if (m->offsets[i] == OFF_NONE)
			continue;
		if ((rc = dpool_may_free(h->pool, h, m->offsets[i]))) {
			fbr.failed_index = (uint32_t)i;
			c->rep->body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
			c->rep->free_batch = &fbr;
			return refuse(c, rc, "offset %zu of the batch (%#llx) "
				      "cannot be freed", i,
				      (unsigned long long)m->offsets[i]);
		}
	}
	/* The same block twice would be a double free halfway through. */
	memcpy(batch_offsets, m->offsets, m->n_offsets * sizeof(uint64_t));
	qsort(batch_offsets, m->n_offsets, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < m->n_offsets; i++)
		if (batch_offsets[i] == batch_offsets[i - 1] &&
		    batch_offsets[i] != OFF_NONE)
			return refuse(c, -EINVAL, "offset %#llx appears twice",
				      (unsigned long long)batch_offsets[i]);
	for (i = 0; i < m->n_offsets; i++)
		if (m->offsets[i] != OFF_NONE)
			dpool_free(h->pool, h, m->offsets[i]);
	return 0;
}

static int
do_retain(struct call *c, const Poolmgr__Retain *m)
{
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if ((rc = check_block_cap(c)))
		return rc;
	rc = dpool_retain(h->pool, h, m->offset,
			  quota_used(c, h->pool));
	return rc ? refuse(c, rc, "cannot retain %#llx",
			   (unsigned long long)m->offset) : 0;
}

static int
do_persist(struct call *c, const Poolmgr__Persist *m)
{
	struct block *b;
	struct handle *h;
	struct ref *r;
	int rc;

	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (!(b = dpool_block(h->pool, m->offset)))
		return refuse(c, -EINVAL, "%#llx is not a live block",
			      (unsigned long long)m->offset);
	for (r = b->refs; r && r->handle != h; r = r->next_in_block)
		;
	if (!r && !block_persistent(b))
		return refuse(c, -EPERM, "only a holder may persist a block");
	return dpool_persist(h->pool, h, m->offset);
}

static int
do_usable_size(struct call *c, const Poolmgr__UsableSize *m)
{
	struct block *b;
	struct handle *h;
	int rc;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if (!(b = dpool_block(h->pool, m->offset)))
		return refuse(c, -EINVAL, "%#llx is not a live block",
			      (unsigned long long)m->offset);
	reply_block(c, b->off, b->size);
	return 0;
}

/* The pool a PoolRef names, if the caller may read (or write) it. */
static struct dpool *
get_pool(struct call *c, const Poolmgr__PoolRef *ref, bool write, int *err)
{
	struct dpool *p;
	struct handle *h;

	if (!ref) {
		*err = refuse(c, -EINVAL, "no pool named");
		return NULL;
	}
	if (ref->handle) {
		h = get_handle(c, ref->handle, write, err);
		return h ? h->pool : NULL;
	}
	if ((*err = check_name_length(c, ref->name)))
		return NULL;
	if (!ref->name || !(p = dpool_find(ref->name))) {
		*err = refuse(c, -ENOENT, "no pool %s",
			      ref->name ? ref->name : "");
		return NULL;
	}
	if (!session_may_access(c->s, p, write ? 2 : 4)) {
		*err = refuse(c, -EACCES, "pool %s is not %s for uid %u",
			      p->name, write ? "writable" : "readable",
			      (unsigned)c->s->uid);
		return NULL;
	}
	return p;
}

/* The pool is settled (wait_settled): no statistic shows work under way. */
static void
fill_stats(Poolmgr__PoolStats *ps, struct dpool *p)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	poolmgr__pool_stats__init(ps);
	ps->name = p->name;
	ps->max_size = st.max_size;
	ps->committed_bytes = dpool_committed(p);
	ps->allocated_bytes = st.allocated_bytes;
	ps->requested_bytes = st.requested_bytes;
	ps->free_bytes = st.free_bytes;
	ps->largest_free = st.largest_free;
	ps->live_blocks = st.live_blocks;
	ps->clients = p->nhandles;
	ps->allocs = st.allocs;
	ps->frees = st.frees;
	ps->failed_allocs = st.failed_allocs - p->unseen_failures;
	ps->invalid_frees = st.invalid_frees + p->invalid_frees;
	ps->cached_bytes = st.cached_bytes;
	ps->metadata_bytes = st.metadata_bytes + dpool_share_resident(p);
	{
		struct handle *h;

		LIST_FOREACH(h, &p->handles, in_pool)
			ps->client_cached_bytes += handle_cached(h);
	}
	ps->granularity = (uint32_t)st.granularity;
	ps->page_size = (uint32_t)st.page_size;
	ps->mode = p->mode;
	ps->uid = p->uid;
	ps->gid = p->gid;
	ps->quota = p->quota;
	ps->persistent_blocks = p->persistent_blocks;
	ps->released_bytes = st.released_bytes;
	ps->retain_bytes = st.retain_bytes;
	/*
	 * The engine counts the pages it handed out, some of which nobody
	 * wrote (a client cache's refill): what the memfd holds bounds it.
	 */
	ps->free_resident_bytes = st.free_resident_bytes < ps->committed_bytes
				  ? st.free_resident_bytes : ps->committed_bytes;
}

static Poolmgr__PoolStats one_stats;

static int
do_stats(struct call *c, const Poolmgr__PoolRef *m)
{
	struct dpool *p;
	int rc;

	if (!(p = get_pool(c, m, false, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	fill_stats(&one_stats, p);
	c->rep->body_case = POOLMGR__REPLY__BODY_STATS;
	c->rep->stats = &one_stats;
	return 0;
}

static Poolmgr__ListPoolsReply list_reply;
static Poolmgr__PoolStats list_stats[CONFIG_MAX_POOLS];
static Poolmgr__PoolStats *list_ptrs[CONFIG_MAX_POOLS];

static int
do_list(struct call *c)
{
	struct dpool *p;
	size_t n = 0;
	int rc;

	for (p = dpool_first(); p; p = dpool_next(p))
		if (session_may_access(c->s, p, 4) &&
		    (rc = wait_settled(c, p)))
			return rc;
	for (p = dpool_first(); p && n < CONFIG_MAX_POOLS; p = dpool_next(p)) {
		if (!session_may_access(c->s, p, 4))
			continue;
		fill_stats(&list_stats[n], p);
		list_ptrs[n] = &list_stats[n];
		n++;
	}
	poolmgr__list_pools_reply__init(&list_reply);
	list_reply.n_pools = n;
	list_reply.pools = list_ptrs;
	c->rep->body_case = POOLMGR__REPLY__BODY_LIST;
	c->rep->list = &list_reply;
	return 0;
}

/*
 * Settled first (stage 0), then trimmed in steps while the client waits
 * (stage 1); the reply counts what trims of the pool gave back meanwhile
 * (this one, and any it joined), not the releases of others' frees.
 */
static int
do_trim(struct call *c, const Poolmgr__Trim *m)
{
	static Poolmgr__TrimReply tr;
	struct dpool *p;
	uint64_t now;
	int rc;

	if (!(p = get_pool(c, m->pool, true, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if (c->stage == 0) {
		c->stage = 1;
		c->note = p->trimmed_bytes;
		if (dpool_trim_begin(p))
			return HELD;
	} else if (p->trimming) {
		return HELD;
	}
	(void)dpool_trim(p);	/* what is left, if anything, at once */
	now = p->trimmed_bytes;
	poolmgr__trim_reply__init(&tr);
	/* (A pool destroyed and made again meanwhile starts from 0.) */
	tr.released_bytes = now > c->note ? now - c->note : 0;
	c->rep->body_case = POOLMGR__REPLY__BODY_TRIM;
	c->rep->trim = &tr;
	return 0;
}

static int
do_check(struct call *c, const Poolmgr__Check *m)
{
	static Poolmgr__CheckReply cr;
	static char problem[256];
	struct dpool *p;
	int rc;

	/*
	 * Write permission, as for Trim: the check walks every block on the
	 * daemon's only thread (about 15 ms per million), so it is not for
	 * every reader to ask for.
	 */
	if (!(p = get_pool(c, m->pool, true, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	poolmgr__check_reply__init(&cr);
	cr.ok = heap_check(p->heap, problem, sizeof(problem)) == 0;
	cr.problem = problem;
	if (!cr.ok)
		log_msg(LOG_PRI_ERR, "pool %s: check failed: %s", p->name,
			problem);
	c->rep->body_case = POOLMGR__REPLY__BODY_CHECK;
	c->rep->check = &cr;
	return 0;
}

static Poolmgr__ClientInfo client_info[MAX_LISTED_CLIENTS];
static Poolmgr__ClientInfo *client_ptrs[MAX_LISTED_CLIENTS];
static Poolmgr__ListClientsReply clients_reply;

static int
do_clients(struct call *c, const Poolmgr__ListClients *m)
{
	const char *want = m->pool && m->pool[0] ? m->pool : NULL;
	struct dpool *p;
	struct handle *h;
	size_t n = 0;
	int rc;

	if ((rc = check_name_length(c, want)))
		return rc;
	if (want && !(p = dpool_find(want)))
		return refuse(c, -ENOENT, "no pool %s", want);
	if (want && !session_may_access(c->s, p, 4))
		return refuse(c, -EACCES, "pool %s is not readable for uid %u",
			      want, (unsigned)c->s->uid);
	for (p = dpool_first(); p; p = dpool_next(p)) {
		if ((want && strcmp(p->name, want) != 0) ||
		    !session_may_access(c->s, p, 4))
			continue;
		LIST_FOREACH(h, &p->handles, in_pool) {
			Poolmgr__ClientInfo *ci = &client_info[n];

			if (n == MAX_LISTED_CLIENTS)
				break;
			poolmgr__client_info__init(ci);
			ci->pid = (uint32_t)h->session->pid;
			ci->uid = h->session->uid;
			ci->gid = h->session->gid;
			ci->name = h->session->name;
			ci->pool = p->name;
			ci->handle = h->id;
			ci->read_only = h->read_only;
			ci->blocks = h->nrefs;
			ci->bytes = h->bytes;
			ci->cached_bytes = handle_cached(h);
			client_ptrs[n++] = ci;
		}
	}
	poolmgr__list_clients_reply__init(&clients_reply);
	clients_reply.n_clients = n;
	clients_reply.clients = client_ptrs;
	c->rep->body_case = POOLMGR__REPLY__BODY_CLIENTS;
	c->rep->clients = &clients_reply;
	return 0;
}

/*
 * A client cache's report rides on any request: the handle's cached bytes,
 * which can only be a part of what the handle holds.
 */
static int
take_cache_report(struct call *c)
{
	const Poolmgr__Request *r = c->req;
	struct handle *h;
	int rc;

	if (r->cache_handle == 0)
		return 0;
	if (!(h = get_handle(c, r->cache_handle, false, &rc)))
		return rc;
	h->cached_bytes = r->cache_bytes;
	return 0;
}

static int
dispatch_body(struct call *c)
{
	const Poolmgr__Request *r = c->req;
	int rc;

	if ((rc = take_cache_report(c)))
		return rc;

	switch (r->body_case) {
	case POOLMGR__REQUEST__BODY_HELLO:
		return refuse(c, -EINVAL, "Hello was already said");
	case POOLMGR__REQUEST__BODY_CREATE:
		return do_create(c, r->create);
	case POOLMGR__REQUEST__BODY_DESTROY:
		return do_destroy(c, r->destroy);
	case POOLMGR__REQUEST__BODY_OPEN:
		return do_open(c, r->open);
	case POOLMGR__REQUEST__BODY_CLOSE:
		return do_close(c, r->close);
	case POOLMGR__REQUEST__BODY_ALLOC:
		return do_alloc(c, r->alloc);
	case POOLMGR__REQUEST__BODY_FREE:
		return do_free(c, r->free);
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
	default:
		return refuse(c, -EOPNOTSUPP, "unknown request type");
	}
}

static void
send_reply(struct call *c)
{
	static uint8_t out[PEER_MAX_MESSAGE];
	size_t len;
	bool big = c->rep->body_case == POOLMGR__REPLY__BODY_LIST ||
		   c->rep->body_case == POOLMGR__REPLY__BODY_CLIENTS ||
		   c->rep->body_case == POOLMGR__REPLY__BODY_ALLOC_BATCH;

	/*
	 * Only listings (and, in theory, a batch) could outgrow a datagram:
	 * say so rather than send it torn.  The rest are a few dozen bytes.
	 */
	if (big && poolmgr__reply__get_packed_size(c->rep) > sizeof(out)) {
		int i;

		for (i = 0; i < c->fds.n; i++)
			if (c->fds.close[i])
				close(c->fds.fd[i]);
		c->fds.n = 0;
		c->rep->body_case = POOLMGR__REPLY__BODY__NOT_SET;
		c->rep->error = -EMSGSIZE;
		c->rep->message = "reply too large";
	}
	len = poolmgr__reply__pack(c->rep, out);
	peer_send(c->peer, out, len, &c->fds);
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
waiter_free(struct waiter *w)
{
	w->s->waiter = NULL;
	TAILQ_REMOVE(&waiters, w, entry);
	free(w);
}

/* Hold c's request (buf, len) until the work queued so far is done. */
static void
hold(struct call *c, struct waiter *w, const uint8_t *buf, size_t len)
{
	if (!w) {
		if (!(w = calloc(1, sizeof(*w))))
			fatalx("out of memory");
		w->s = c->s;
		w->peer = c->peer;
		w->since_ns = now_ns();
		TAILQ_INSERT_TAIL(&waiters, w, entry);
		c->s->waiter = w;
	}
	w->mark = dpool_release_mark();
	w->stage = c->stage;
	w->note = c->note;
	w->settle = c->settle;
	peer_hold(c->peer, buf, len);
}

/*
 * Each waiter goes on when the work queued before it is done, or, if it
 * waits for a settled pool, once it has waited WAIT_SETTLE_MAX_NS: work
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
		    (w->settle && (now ? now : (now = now_ns())) - w->since_ns
		     >= WAIT_SETTLE_MAX_NS))
			peer_resume(w->peer);	/* may free w, only w */
	}
}

void
dispatch_forget(struct session *s)
{
	if (s->waiter)
		waiter_free(s->waiter);
}

void
dispatch_message(struct peer *peer, struct session *s, const uint8_t *buf,
		 size_t len)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	struct call c = {.peer = peer, .s = s, .rep = &rep};
	Poolmgr__Request *req = poolmgr__request__unpack(&arena_allocator,
							  len, buf);
	struct waiter *w = s->waiter;
	int rc;

	if (w) {	/* the held request, again */
		c.waited_ns = now_ns() - w->since_ns;
		c.stage = w->stage;
		c.note = w->note;
	}
	if (!req) {
		arena_reset();
		log_warnx("pid %d sent a message that does not decode; "
			  "closing", (int)s->pid);
		peer_kill(peer);
		return;
	}
	c.req = req;
	rep.id = req->id;
	if (!s->greeted) {
		if (req->body_case != POOLMGR__REQUEST__BODY_HELLO) {
			log_warnx("pid %d sent a request before Hello; closing",
				  (int)s->pid);
			peer_kill(peer);
			goto out;
		}
		rc = do_hello(&c, req->hello);
	} else {
		rc = dispatch_body(&c);
	}
	if (rc == HELD) {
		hold(&c, w, buf, len);
		goto out;
	}
	if (w)
		waiter_free(w);
	rep.error = rc;
	if (rc) {
		rep.message = c.msg;
		if (rep.body_case != POOLMGR__REPLY__BODY_FREE_BATCH)
			rep.body_case = POOLMGR__REPLY__BODY__NOT_SET;
		log_debug("pid %d: request %llu: %s", (int)s->pid,
			  (unsigned long long)req->id, c.msg);
	}
	send_reply(&c);
	if (rc == -EPROTONOSUPPORT)
		peer_kill(peer);
out:
	/* Every part of req is in the arena: emptying it frees them all. */
	arena_reset();
}
