/*
 * blocks.c - a pool's live blocks, a page at a time (pool_blocks).
 *
 * Unlike the listings of lists.c, the caller drives the paging: a pool
 * may hold millions of blocks, too many to gather in one array, so each
 * call returns one page and where the next starts.  Each page is checked
 * against the contract of ListBlocksReply before anything of it is kept:
 * at most a page's worth, in address order from where it was asked,
 * and a next that moves on, else a caller paging to the end would loop
 * for ever on a daemon that lies.  A page that breaks it is -EPROTO, and
 * the caller's cursor stays where it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

_Static_assert(sizeof(struct pool_block_info) == 120, "ABI: block info");

/* The most blocks one ListBlocksReply holds (docs/protocol.md). */
#define BLOCKS_PAGE_MOST	128

/* Copy one block of a page; -EPROTO for one the daemon cannot have meant. */
static int
blocks_copy(struct pool_block_info *b, const Poolmgr__BlockInfo *m)
{
	const Poolmgr__BlockHolder	*h;
	size_t				 i;

	memset(b, 0, sizeof *b);
	if (m == NULL || m->n_first_holders > POOL_BLOCK_HOLDERS_LISTED ||
	    m->n_first_holders > m->holders)
		return -EPROTO;
	b->offset = m->offset;
	b->usable_size = m->usable_size;
	b->requested = m->requested;
	b->holders = m->holders;
	b->flags = (m->named ? POOL_BLOCK_NAMED : 0) |
	    (m->evictable ? POOL_BLOCK_EVICTABLE : 0) |
	    (m->persistent ? POOL_BLOCK_PERSISTENT : 0) |
	    (m->busy ? POOL_BLOCK_BUSY : 0);
	b->persister = m->persistent ? m->persister : 0;
	b->persisted_ms = m->persistent ? m->persisted_ms : 0;
	for (i = 0; i < m->n_first_holders; i++) {
		if ((h = m->first_holders[i]) == NULL)
			return -EPROTO;
		b->first_holders[i].pid = h->pid;
		b->first_holders[i].uid = h->uid;
		b->first_holders[i].handle = h->handle;
	}
	b->nlisted = (uint32_t)m->n_first_holders;
	return 0;
}

/*
 * The page asked from from, into a new array *out: its blocks must start
 * at or after from, each after the one before, and next must be past the
 * last of them (or, with none, past from unless done): a next that does
 * not move on would have the caller ask the same page again and again.
 * Returns 0, -ENOMEM or -EPROTO (nothing kept).
 */
static int
blocks_page(const Poolmgr__ListBlocksReply *page, uint64_t from,
    struct pool_block_info **out)
{
	struct pool_block_info	*b;
	uint64_t		 at = from;
	size_t			 i, n = page->n_blocks;
	int			 error = 0;

	if (n > BLOCKS_PAGE_MOST || page->next < from)
		return -EPROTO;
	if ((b = calloc(n ? n : 1, sizeof *b)) == NULL)
		return -ENOMEM;
	for (i = 0; error == 0 && i < n; i++) {
		error = blocks_copy(&b[i], page->blocks[i]);
		if (error == 0 && (b[i].offset < at ||
		    (i > 0 && b[i].offset == at)))
			error = -EPROTO;
		at = b[i].offset;
	}
	if (error == 0 && (n > 0 ? page->next <= at :
	    !page->done && page->next == from))
		error = -EPROTO;
	if (error != 0) {
		free(b);
		return error;
	}
	*out = b;
	return 0;
}

POOL_API int
pool_blocks(struct pool_conn *c, const char *name, uint32_t pid,
    uint32_t handle, uint64_t *from, struct pool_block_info **out,
    size_t *n, int *done)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListBlocks	 lb = POOLMGR__LIST_BLOCKS__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply		*reply;
	struct pool_block_info	*b;
	int			 error;

	conn_forget_refusal();
	if (c == NULL || from == NULL || out == NULL || n == NULL ||
	    done == NULL || (handle != 0 && pid == 0))
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;
	/* A daemon from before the request would refuse it as unknown. */
	if ((c->features & CONN_FEATURE_LIST_BLOCKS) == 0)
		return conn_local_failure(-EOPNOTSUPP);

	ref.name = (char *)name;
	lb.pool = &ref;
	lb.from = *from;
	lb.pid = pid;
	lb.handle = handle;
	req.body_case = POOLMGR__REQUEST__BODY_LIST_BLOCKS;
	req.list_blocks = &lb;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_BLOCKS, &reply, NULL);
	if (error != 0)
		return error;
	if ((error = blocks_page(reply->blocks, *from, &b)) == 0) {
		*out = b;
		*n = reply->blocks->n_blocks;
		*from = reply->blocks->next;
		*done = reply->blocks->done ? 1 : 0;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}
