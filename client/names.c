/*
 * names.c - libpoolclient's named blocks: publish (with its flags), lookup
 * (and retain),
 * unpublish.  The listing by pool name, pool_names, is admin.c's.
 *
 * A name goes on the wire as bytes, without its NUL; the daemon checks it
 * again.  A block looked up is checked as any block the daemon hands out
 * (client_check_block), so pool_ptr of it stays inside the mapping.
 */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "client_internal.h"

static int
names_check(const char *name)
{
	size_t	len;

	if (name == NULL)
		return -EINVAL;
	len = strnlen(name, POOL_BLOCK_NAME_MAX + 1);
	if (len == 0)
		return -EINVAL;
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
		return -EINVAL;
	if ((error = names_check(name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return -ECHILD;
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

static int
names_lookup_once(struct pool *p, const char *name, int retain,
    pool_off_t *off, size_t *usable)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Lookup		 lu = POOLMGR__LOOKUP__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	lu.handle = p->handle;
	lu.name = names_bytes(name);
	lu.retain = retain;
	req.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
	req.lookup = &lu;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC, &reply);
	if (error != 0)
		return error;
	if ((error = client_check_block(p, reply->alloc, 1, 0)) == 0) {
		*off = reply->alloc->offset;
		if (usable != NULL)
			*usable = (size_t)reply->alloc->usable_size;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static int
names_lookup(struct pool *p, const char *name, int retain, pool_off_t *off,
    size_t *usable)
{
	int	error;

	if (p == NULL || off == NULL)
		return -EINVAL;
	if ((error = names_check(name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return -ECHILD;
	error = names_lookup_once(p, name, retain, off, usable);
	/* A retain counts against the quota: the cache gives way first. */
	if (retain && error != 0 && client_flush_for(p, error))
		error = names_lookup_once(p, name, retain, off, usable);
	return error;
}

POOL_API int
pool_lookup(struct pool *p, const char *name, pool_off_t *off,
    size_t *usable)
{
	return names_lookup(p, name, 0, off, usable);
}

POOL_API int
pool_lookup_retain(struct pool *p, const char *name, pool_off_t *off,
    size_t *usable)
{
	return names_lookup(p, name, 1, off, usable);
}

POOL_API int
pool_unpublish(struct pool *p, const char *name)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Unpublish	un = POOLMGR__UNPUBLISH__INIT;
	int			error;

	if (p == NULL)
		return -EINVAL;
	if ((error = names_check(name)) != 0)
		return error;
	if (conn_forked(p->conn))
		return -ECHILD;
	un.handle = p->handle;
	un.name = names_bytes(name);
	req.body_case = POOLMGR__REQUEST__BODY_UNPUBLISH;
	req.unpublish = &un;
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}
