/*
 * stats.c - the questions about one whole pool: its statistics (through a
 * handle or by name), a trim, and the daemon's invariant check; and the
 * copying of a pool's statistics from a reply, which pool_list
 * (lists.c) shares (the count of its access control list's entries
 * too, and of its uids' own user quotas: the entries themselves are
 * pool_acl_get's, acl.c, and pool_user_quota_get's, uquota.c); and the
 * daemon's own statistics.
 *
 * It is apart from the listings because statistics and trims speak for
 * the caller's caches: a Stats carries a cache's report, so that the
 * daemon counts what the caches hold as cached and not as in use, and a
 * trim first gives back what the handle's cache holds.  What the daemon
 * sends is checked as it is copied: a pool name that cannot be one is
 * -EPROTO.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client_internal.h"

_Static_assert(sizeof(struct pool_daemon_stats) == 280, "ABI: daemon stats");
_Static_assert(sizeof(struct pool_stats_1) == 320 &&
    offsetof(struct pool_stats, user_quota) == sizeof(struct pool_stats_1) &&
    offsetof(struct pool_stats, limit) == offsetof(struct pool_stats_1, limit),
    "ABI: the 320-byte pool_stats is the start of the current one");

static int	client_stats(struct pool_conn *, Poolmgr__PoolRef *,
		    uint32_t, uint64_t, struct pool_stats *);
static int	client_trim(struct pool_conn *, Poolmgr__PoolRef *,
		    uint64_t *);

/*
 * Called by pool_stats_by_name once it has read its handles' reports and
 * before it sends the first, so that a test may close one of them there,
 * as another thread of the program may.
 */
void	stats_reports_hook(void) __attribute__((weak, visibility("hidden")));

/* Copy a pool name from a reply; one that cannot be a pool name is a lie. */
int
client_copy_name(char *dst, size_t len, const char *src)
{
	if (src == NULL || strlen(src) >= len)
		return -EPROTO;
	strcpy(dst, src);
	return 0;
}

/*
 * The count of the uids' own user quotas: user_quota_entries, which the
 * daemon says on every path (a list leaves the entries out); a Stats
 * that holds entries but no count is counted by its entries.  m has
 * passed client_uquota_reply, which refuses a count no daemon sends.
 */
static void
client_copy_uquota_count(struct pool_stats *s, const Poolmgr__PoolStats *m)
{
	uint32_t	n = m->user_quota_entries;

	s->user_quota_entries = n != 0 ? n : (uint32_t)m->n_user_quotas;
}

int
client_copy_stats(struct pool_stats *s, const Poolmgr__PoolStats *m)
{
	memset(s, 0, sizeof *s);
	if (m == NULL || client_copy_name(s->name, sizeof s->name,
	    m->name) != 0)
		return -EPROTO;
	s->max_size = m->max_size;
	s->committed_bytes = m->committed_bytes;
	s->allocated_bytes = m->allocated_bytes;
	s->requested_bytes = m->requested_bytes;
	s->free_bytes = m->free_bytes;
	s->largest_free = m->largest_free;
	s->live_blocks = m->live_blocks;
	s->clients = m->clients;
	s->allocs = m->allocs;
	s->frees = m->frees;
	s->failed_allocs = m->failed_allocs;
	s->invalid_frees = m->invalid_frees;
	s->cached_bytes = m->cached_bytes;
	s->metadata_bytes = m->metadata_bytes;
	s->released_bytes = m->released_bytes;
	s->client_cached_bytes = m->client_cached_bytes;
	s->persistent_blocks = m->persistent_blocks;
	s->granularity = m->granularity;
	s->page_size = m->page_size;
	s->mode = m->mode;
	s->uid = m->uid;
	s->gid = m->gid;
	s->alloc_waits = m->alloc_waits;
	s->quota = m->quota;
	s->retain_bytes = m->retain_bytes;
	s->free_resident_bytes = m->free_resident_bytes;
	s->books_bytes = m->books_bytes;
	s->named_blocks = m->named_blocks;
	s->release_steps = m->release_steps;
	s->retain_steps = m->retain_steps;
	s->numa_policy = m->numa_policy;
	s->numa_node = m->numa_node;
	s->evictions = m->evictions;
	s->evicted_bytes = m->evicted_bytes;
	s->limit = m->limit;
	s->user_quota = m->user_quota;
	s->quota_refusals = m->quota_refusals;
	s->user_quota_refusals = m->user_quota_refusals;
	/* No pool's list holds more: a count past it is no daemon's. */
	if (m->acl != NULL && m->acl->n_entries > POOL_ACL_MAX)
		return -EPROTO;
	s->acl_entries = m->acl != NULL ? (uint32_t)m->acl->n_entries : 0;
	if (client_uquota_reply(m) != 0)
		return -EPROTO;
	client_copy_uquota_count(s, m);
	return 0;
}

static int
client_stats(struct pool_conn *c, Poolmgr__PoolRef *ref, uint32_t cache_handle,
    uint64_t cached, struct pool_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = ref;
	req.cache_handle = cache_handle;
	req.cache_bytes = cached;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_STATS, &reply, NULL);
	if (error != 0)
		return error;
	error = client_copy_stats(out, reply->stats);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static int
client_trim(struct pool_conn *c, Poolmgr__PoolRef *ref, uint64_t *released)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Trim		 tr = POOLMGR__TRIM__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	tr.pool = ref;
	req.body_case = POOLMGR__REQUEST__BODY_TRIM;
	req.trim = &tr;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_TRIM, &reply, NULL);
	if (error != 0)
		return error;
	if (released != NULL)
		*released = reply->trim->released_bytes;
	poolmgr__reply__free_unpacked(reply, NULL);
	return 0;
}

POOL_API int
pool_stats(struct pool *p, struct pool_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	conn_forget_refusal();
	if (p == NULL || out == NULL)
		return -EINVAL;
	ref.handle = p->handle;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	/* The request carries our cache's size: the answer is exact for us. */
	error = client_call(p, &req, POOLMGR__REPLY__BODY_STATS, &reply);
	if (error != 0)
		return error;
	error = client_copy_stats(out, reply->stats);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/*
 * The cache reports of c's handles open on pool name, as pool_stats sends
 * its handle's: their handles and cached bytes into arrays made here (one
 * allocation, *cached to free), and how many.  Read under the
 * connection's lock, which a closing handle takes before its cache goes.
 * 0 when there is none, or no memory for them: the stats then go without,
 * as the caller's cached bytes as of its last request.
 */
static size_t
client_cache_reports(struct pool_conn *c, const char *name,
    uint32_t **handles, uint64_t **cached)
{
	struct pool	*p;
	size_t		 n = 0, max = 0;
	void		*mem;

	pthread_mutex_lock(&c->lock);
	TAILQ_FOREACH(p, &c->pools, entry)
		if (p->cache != NULL && strcmp(p->name, name) == 0)
			max++;
	pthread_mutex_unlock(&c->lock);
	if (max == 0 ||
	    (mem = malloc(max * (sizeof **handles + sizeof **cached))) == NULL)
		return 0;
	*cached = mem;
	*handles = (uint32_t *)(*cached + max);
	pthread_mutex_lock(&c->lock);
	TAILQ_FOREACH(p, &c->pools, entry) {
		if (p->cache == NULL || strcmp(p->name, name) != 0 || n == max)
			continue;
		(*handles)[n] = p->handle;
		(*cached)[n++] = cache_bytes(p);
	}
	pthread_mutex_unlock(&c->lock);
	if (n == 0)
		free(mem);
	return n;
}

int
client_stats_reply(struct pool_conn *c, const char *name, uint64_t feature,
    Poolmgr__Reply **reply)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;
	int			error;

	if ((error = client_check_name(name)) != 0)
		return error;
	if ((c->features & feature) == 0)
		return -EOPNOTSUPP;
	ref.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	return conn_call(c, &req, POOLMGR__REPLY__BODY_STATS, reply, NULL);
}

POOL_API int
pool_stats_by_name(struct pool_conn *c, const char *name,
    struct pool_stats *out)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;

	uint32_t		*handles = NULL;
	uint64_t		*cached = NULL;
	size_t			 n, i;
	int			 error;

	conn_forget_refusal();
	if (c == NULL || out == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;
	ref.name = (char *)name;
	n = client_cache_reports(c, name, &handles, &cached);
	if (n == 0)
		return client_stats(c, &ref, 0, 0, out);
	if (stats_reports_hook != NULL)
		stats_reports_hook();
	/*
	 * A request has room for one handle's report: with more handles of
	 * the pool, each goes with a Stats of its own, and the last reply,
	 * which the daemon made after every report, is the answer.
	 */
	for (i = 0; i < n; i++) {
		error = client_stats(c, &ref, handles[i], cached[i], out);
		/* Closed meanwhile by another thread: its report went too. */
		if (error == -EBADF)
			error = client_stats(c, &ref, 0, 0, out);
		if (error != 0)
			break;
	}
	free(cached);
	return error;
}

void
client_stats_to_1(struct pool_stats_1 *old, const struct pool_stats *s)
{
	memcpy(old, s, sizeof *old);
}

int	client_pool_stats_1(struct pool *, struct pool_stats_1 *)
	    CLIENT_STATS_1_API;
int	client_pool_stats_by_name_1(struct pool_conn *, const char *,
	    struct pool_stats_1 *) CLIENT_STATS_1_API;
CLIENT_STATS_1(client_pool_stats_1, pool_stats);
CLIENT_STATS_1(client_pool_stats_by_name_1, pool_stats_by_name);

/*
 * pool_stats and pool_stats_by_name for a 320-byte *out: asked into the
 * current structure, then its start copied out.  On failure *out is left
 * as it was: no caller may read it then.
 */
int
client_pool_stats_1(struct pool *p, struct pool_stats_1 *out)
{
	struct pool_stats	s;
	int			error;

	if (out == NULL)
		return pool_stats(p, NULL);
	if ((error = pool_stats(p, &s)) == 0)
		client_stats_to_1(out, &s);
	return error;
}

int
client_pool_stats_by_name_1(struct pool_conn *c, const char *name,
    struct pool_stats_1 *out)
{
	struct pool_stats	s;
	int			error;

	if (out == NULL)
		return pool_stats_by_name(c, name, NULL);
	if ((error = pool_stats_by_name(c, name, &s)) == 0)
		client_stats_to_1(out, &s);
	return error;
}

POOL_API int
pool_trim(struct pool *p)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;

	conn_forget_refusal();
	if (p == NULL)
		return -EINVAL;
	if (conn_forked(p->conn))
		return -ECHILD;
	/*
	 * Every free page: the blocks our cache holds go back first, and
	 * those other threads' flushes have on their way are freed (or
	 * flushed again) before the Trim goes.  Blocks the kernel would not
	 * let go stay cached and do not fail the trim: pool_flush says why.
	 */
	(void)cache_flush(p);
	ref.handle = p->handle;
	return client_trim(p->conn, &ref, NULL);
}

POOL_API int
pool_trim_by_name(struct pool_conn *c, const char *name, uint64_t *released)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;
	int			error;

	conn_forget_refusal();
	if (released != NULL)
		*released = 0;
	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;
	ref.name = (char *)name;
	return client_trim(c, &ref, released);
}

POOL_API int
pool_check_by_name(struct pool_conn *c, const char *name, char *msg,
    size_t msglen)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Check		 ck = POOLMGR__CHECK__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply		*reply;
	const char		*problem;
	int			 error;

	conn_forget_refusal();
	if (msg != NULL && msglen != 0)
		*msg = '\0';
	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;

	ref.name = (char *)name;
	ck.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_CHECK;
	req.check = &ck;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_CHECK, &reply, NULL);
	if (error != 0)
		return error;

	if (!reply->check->ok) {
		problem = reply->check->problem;
		if (problem == NULL || *problem == '\0')
			problem = "invariant check failed";
		if (msg != NULL && msglen != 0)
			client_copy_words(msg, msglen, problem);
		error = -EFAULT;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static void
client_copy_daemon_stats(struct pool_daemon_stats *s,
    const Poolmgr__DaemonStatsReply *m)
{
	client_copy_words(s->server, sizeof s->server,
	    m->server != NULL ? m->server : "");
	s->pid = m->pid;
	s->uid = m->uid;
	s->gid = m->gid;
	s->max_connections = m->max_connections;
	s->started = m->started;
	s->uptime_ms = m->uptime_ms;
	s->restarts = m->restarts;
	s->connections = m->connections;
	s->connections_total = m->connections_total;
	s->connections_refused = m->connections_refused;
	s->hello_timeouts = m->hello_timeouts;
	s->requests_total = m->requests_total;
	s->requests_refused = m->requests_refused;
	s->bad_messages = m->bad_messages;
	s->held = m->held;
	s->pools = m->pools;
	s->live_blocks = m->live_blocks;
	s->allocated_bytes = m->allocated_bytes;
	s->rss_bytes = m->rss_bytes;
	s->log_lines_left_out = m->log_lines_left_out;
	s->features = m->features;
	s->admin_connections = m->admin_connections;
	s->max_connections_per_uid = m->max_connections_per_uid;
	s->kept_connections = m->kept_connections;
}

POOL_API int
pool_daemon_stats(struct pool_conn *c, struct pool_daemon_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__DaemonStats	 ds = POOLMGR__DAEMON_STATS__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	conn_forget_refusal();
	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (c == NULL || out == NULL)
		return -EINVAL;
	/*
	 * A daemon from before the request would refuse it as unknown: say
	 * so without the round trip, as for the other features.
	 */
	if ((c->features & CONN_FEATURE_DAEMON_STATS) == 0)
		return conn_local_failure(-EOPNOTSUPP);
	req.body_case = POOLMGR__REQUEST__BODY_DAEMON_STATS;
	req.daemon_stats = &ds;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_DAEMON_STATS, &reply,
	    NULL);
	if (error != 0)
		return error;
	client_copy_daemon_stats(out, reply->daemon_stats);
	poolmgr__reply__free_unpacked(reply, NULL);
	return 0;
}
