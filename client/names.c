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

#include "cache.h"
#include "client_internal.h"

/*
 * A name a request may carry: 0, or the library's own failure, which
 * leaves no earlier refusal's words (pool_last_message) for its code.
 */
static int
names_check(const char *name)
{
	size_t	len;

	if (name == NULL)
		return conn_local_failure(-EINVAL);
	len = strnlen(name, POOL_BLOCK_NAME_MAX + 1);
	if (len == 0)
		return conn_local_failure(-EINVAL);
	if (len > POOL_BLOCK_NAME_MAX)
		return conn_local_failure(-ENAMETOOLONG);
	return 0;
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
	int		*took;		/* pool_lookup_wait_took's, or NULL */
};

/*
 * Did this lookup's retain give the handle its reference?  Only a daemon
 * of the feature says so; from any other 0, which frees nothing: a free
 * of a block the handle held before would drop that hold.
 */
static int
names_took(const struct pool *p, const struct names_query *q,
    const Poolmgr__AllocReply *a)
{
	if (!q->retain || (p->conn->features & CONN_FEATURE_RETAINED_NOW) == 0)
		return 0;
	return a->retained_now ? 1 : 0;
}

static int
names_lookup_once(struct pool *p, const struct names_query *q,
    uint32_t wait_ms, int retry)
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
	lu.retry_follows = retry;
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
		if (q->took != NULL)
			*q->took = names_took(p, q, reply->alloc);
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static int
names_lookup_try(struct pool *p, const struct names_query *q,
    uint32_t wait_ms)
{
	int	error, retry;

	/* A retain counts against the quota: the cache gives way first. */
	retry = q->retain && client_will_retry(p);
	error = names_lookup_once(p, q, wait_ms, retry);
	if (error != 0 && client_retry(p, error, retry))
		error = names_lookup_once(p, q, wait_ms, 0);
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
	struct names_query	q = { name, 0, 0, off, usable, NULL, NULL };

	return names_lookup(p, &q);
}

POOL_API int
pool_lookup_retain(struct pool *p, const char *name, pool_off_t *off,
    size_t *usable)
{
	struct names_query	q = { name, 1, 0, off, usable, NULL, NULL };

	return names_lookup(p, &q);
}

/* client_wait's try: the lookup, waiting up to wait_ms. */
static int
names_wait_try(struct pool *p, void *arg, uint32_t wait_ms, int more)
{
	(void)more;	/* a lookup's timeout counts nothing */
	return names_lookup_try(p, arg, wait_ms);
}

POOL_API int
pool_lookup_wait(struct pool *p, const char *name, uint64_t after_generation,
    int timeout_ms, unsigned flags, pool_off_t *off, size_t *usable,
    uint64_t *generation)
{
	return pool_lookup_wait_took(p, name, after_generation, timeout_ms,
	    flags, off, usable, generation, NULL);
}

POOL_API int
pool_lookup_wait_took(struct pool *p, const char *name,
    uint64_t after_generation, int timeout_ms, unsigned flags,
    pool_off_t *off, size_t *usable, uint64_t *generation, int *took)
{
	struct names_query	q = { name, (flags & POOL_LOOKUP_RETAIN) != 0,
				    after_generation, off, usable, generation,
				    took };
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
	return client_wait(p, timeout_ms, names_wait_try, &q);
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
