/*
 * names.c - libpoolclient's named blocks: publish (with its flags), lookup
 * (and retain, and wait), unpublish.  The listing by pool name, pool_names,
 * is lists.c's.
 *
 * A name goes on the wire as bytes, without its NUL; the daemon checks it
 * again.  A block looked up is checked as any block the daemon hands out
 * (client_check_block), so pool_ptr of it stays inside the mapping.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "client_internal.h"

static int
names_check(const char *name)
{
	size_t	len;

	if (name == NULL)
		return conn_local_failure(-EINVAL);
	len = strnlen(name, POOL_BLOCK_NAME_MAX + 1);
	if (len == 0)
		return conn_local_failure(-EINVAL);
	return len > POOL_BLOCK_NAME_MAX ? -ENAMETOOLONG : 0;
}

static ProtobufCBinaryData
names_bytes(const char *name)
{
	ProtobufCBinaryData	b;

	b.data = (uint8_t *)name;
	b.len = strlen(name);
	return b;
}

POOL_API int
pool_publish_flags(struct pool *p, pool_off_t off, const char *name,
    unsigned flags)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Publish	pu = POOLMGR__PUBLISH__INIT;
	uint64_t		usable;
	int			error;

	if (p == NULL || off == POOL_OFF_NONE ||
	    (flags & ~(POOL_PUBLISH_REPLACE | POOL_PUBLISH_EVICTABLE)) != 0)
		return conn_local_failure(-EINVAL);
	if ((error = names_check(name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	/* As pool_persist: a block freed into the cache goes back first. */
	if ((error = cache_known(p, off, &usable)) != 0)
		return error;
	pu.handle = p->handle;
	pu.name = names_bytes(name);
	pu.offset = off;
	pu.replace = (flags & POOL_PUBLISH_REPLACE) != 0;
	pu.evictable = (flags & POOL_PUBLISH_EVICTABLE) != 0;
	req.body_case = POOLMGR__REQUEST__BODY_PUBLISH;
	req.publish = &pu;
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}

POOL_API int
pool_publish(struct pool *p, pool_off_t off, const char *name)
{
	return pool_publish_flags(p, off, name, 0);
}

POOL_API int
pool_publish_replace(struct pool *p, pool_off_t off, const char *name)
{
	return pool_publish_flags(p, off, name, POOL_PUBLISH_REPLACE);
}

/* What a lookup asks, and where its answer goes. */
struct names_query {
	const char	*name;
	int		 retain;
	uint64_t	 after;		/* after_generation */
	pool_off_t	*off;
	size_t		*usable;
	uint64_t	*generation;
};

static int
names_lookup_once(struct pool *p, const struct names_query *q,
    uint32_t wait_ms)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Lookup		 lu = POOLMGR__LOOKUP__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	lu.handle = p->handle;
	lu.name = names_bytes(q->name);
	lu.retain = q->retain;
	lu.wait_ms = wait_ms;
	lu.after_generation = q->after;
	req.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
	req.lookup = &lu;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC, &reply);
	if (error != 0)
		return error;
	if ((error = client_check_block(p, reply->alloc, 1, 0)) == 0) {
		*q->off = reply->alloc->offset;
		if (q->usable != NULL)
			*q->usable = (size_t)reply->alloc->usable_size;
		if (q->generation != NULL)
			*q->generation = reply->alloc->generation;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static int
names_lookup_try(struct pool *p, const struct names_query *q,
    uint32_t wait_ms)
{
	int	error;

	error = names_lookup_once(p, q, wait_ms);
	/* A retain counts against the quota: the cache gives way first. */
	if (q->retain && error != 0 && client_flush_for(p, error))
		error = names_lookup_once(p, q, wait_ms);
	return error;
}

static int
names_lookup(struct pool *p, const struct names_query *q)
{
	int	error;

	if (p == NULL || q->off == NULL)
		return conn_local_failure(-EINVAL);
	if ((error = names_check(q->name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	return names_lookup_try(p, q, 0);
}

POOL_API int
pool_lookup(struct pool *p, const char *name, pool_off_t *off,
    size_t *usable)
{
	struct names_query	q = { name, 0, 0, off, usable, NULL };

	return names_lookup(p, &q);
}

POOL_API int
pool_lookup_retain(struct pool *p, const char *name, pool_off_t *off,
    size_t *usable)
{
	struct names_query	q = { name, 1, 0, off, usable, NULL };

	return names_lookup(p, &q);
}

static uint64_t
names_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
names_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void
names_sleep_ms(uint64_t ms)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	/* A signal only makes the pause shorter: the loop asks again. */
	(void)nanosleep(&ts, NULL);
}

/*
 * The pauses between -EINTRs answered at once: from the first, doubled
 * each time up to the last.  A daemon restarts in place in well under a
 * second, and the request asked again waits unread until it is back, so
 * a real restart costs one short pause; only a daemon that says -EINTR at
 * once, again and again, sees them grow, and is asked once a second.
 */
#define NAMES_PAUSE_FIRST_MS	2
#define NAMES_PAUSE_LAST_MS	1000

/*
 * A wait without end is asked for in parts of UINT32_MAX ms, and a
 * daemon says -ETIMEDOUT only once the part is over by its clock, the
 * same monotonic clock as ours.  Ours, read in whole milliseconds, may
 * see up to one less; this much earlier, the answer is a lie.
 */
#define NAMES_PART_SLACK_MS	1000

/*
 * The daemon answers -EINTR when it restarts in place while the lookup
 * waits (its state carries no waiting request): ask the new image again,
 * for the time left, at once if the lookup had waited, else after a
 * pause (above), so that a daemon answering -EINTR at once is not asked
 * thousands of times a second.  A wait longer than the wire's 32 bits of
 * milliseconds (or without end) is asked for in parts; a part said to
 * have run out long before its end is -EPROTO, not a cue to ask again
 * (and again, at once).  A finite wait ends at its time, pauses or not.
 */
static int
names_wait(struct pool *p, const struct names_query *q, int timeout_ms)
{
	uint64_t	deadline = 0, now, part, sent, pause = 0, nap;
	int		error;

	if (timeout_ms > 0)
		deadline = names_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		part = UINT32_MAX;
		now = names_now_ms();
		if (timeout_ms > 0) {
			if (now >= deadline)
				return conn_local_failure(-ETIMEDOUT);
			if (deadline - now < part)
				part = deadline - now;
		}
		sent = now;
		error = names_lookup_try(p, q, (uint32_t)part);
		now = names_now_ms();
		if (error == -ETIMEDOUT && timeout_ms < 0) {
			if (now - sent + NAMES_PART_SLACK_MS < part)
				return conn_local_failure(-EPROTO);
			continue;
		}
		if (error != -EINTR)
			return error;
		if (now - sent >= NAMES_PAUSE_LAST_MS)
			pause = 0;	/* it waited: a restart, ask at once */
		else if (pause == 0)
			pause = NAMES_PAUSE_FIRST_MS;
		else if ((pause *= 2) > NAMES_PAUSE_LAST_MS)
			pause = NAMES_PAUSE_LAST_MS;
		nap = pause;
		if (timeout_ms > 0 && nap > 0)
			nap = deadline > now ? names_min(nap, deadline - now) : 0;
		if (nap > 0)
			names_sleep_ms(nap);
	}
}

POOL_API int
pool_lookup_wait(struct pool *p, const char *name, uint64_t after_generation,
    int timeout_ms, unsigned flags, pool_off_t *off, size_t *usable,
    uint64_t *generation)
{
	struct names_query	q = { name, (flags & POOL_LOOKUP_RETAIN) != 0,
				    after_generation, off, usable, generation };
	int			error;

	if (p == NULL || off == NULL || timeout_ms < -1 ||
	    (flags & ~POOL_LOOKUP_RETAIN) != 0)
		return conn_local_failure(-EINVAL);
	if ((error = names_check(name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	if (timeout_ms == 0)
		return names_lookup_try(p, &q, 0);
	/*
	 * A daemon from before waiting lookups ignores wait_ms and answers
	 * at once: the caller would take its -ENOENT for "not published in
	 * time".  Say instead that it cannot wait, and ask nothing.
	 */
	if ((p->conn->features & CONN_FEATURE_LOOKUP_WAIT) == 0)
		return conn_local_failure(-EOPNOTSUPP);
	return names_wait(p, &q, timeout_ms);
}

POOL_API int
pool_unpublish(struct pool *p, const char *name)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Unpublish	un = POOLMGR__UNPUBLISH__INIT;
	int			error;

	if (p == NULL)
		return conn_local_failure(-EINVAL);
	if ((error = names_check(name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return conn_local_failure(-ECHILD);
	un.handle = p->handle;
	un.name = names_bytes(name);
	req.body_case = POOLMGR__REQUEST__BODY_UNPUBLISH;
	req.unpublish = &un;
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}
