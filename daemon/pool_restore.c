/*
 * pool_restore.c - a pool's books rebuilt after a restart in place or a
 * crash (restart.c saves, restore.c rebuilds; pool.h).
 *
 * The engine is given each block back as it was (heap_reserve), its
 * record, its persistence and then its holds; only once every hold is
 * there does dpool_restore_done check that each block is held or
 * persistent and set its share bit.  A refusal here (a block that
 * overlaps another, a hold twice) fails the whole restore, which then
 * starts the daemon fresh: nothing is undone one block at a time.
 * The engine takes every free page for never touched, so zero:
 * dpool_punch makes it so (a hole), but on huge pages, kept for life and
 * left as they are: a calloc there zeroes its whole block (pool_block.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "pool.h"
#include "pool_internal.h"

int
dpool_restore_block(struct dpool *p, uint64_t off,
		    const struct heap_block_info *bi, uid_t persister,
		    uint64_t persisted_ns)
{
	struct block *b;
	int rc;

	if ((rc = heap_reserve(p->heap, off, bi)) != 0)
		return rc;
	/* A restore that fails for want of memory starts fresh, not dies. */
	if (!(b = records_take(&block_records)))
		return -ENOMEM;
	b->off = off;
	b->size = bi->size;
	b->persister = NO_PERSISTER;
	LIST_INIT(&b->refs);
	block_index_insert(&p->blocks, b);
	if (persister != NO_PERSISTER)
		return persist(p, b, persister, persisted_ns);
	return 0;
}

int
dpool_restore_hold(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = block_index_find(&p->blocks, off);

	if (!b)
		return -ENOENT;
	if (b->nrefs >= POOL_MAX_HOLDERS)
		return -EMLINK;
	if (ref_of(b, h))
		return -EEXIST;
	return ref_add(b, h);
}

int
dpool_restore_done(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct block *b;

	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		if (!b->nrefs && !block_persistent(b)) {
			snprintf(problem, len, "pool %s: block 0x%llx is held "
				 "by nobody and not persistent", p->name,
				 (unsigned long long)b->off);
			return -EINVAL;
		}
		block_share_sync(p, b);
	}
	return 0;
}

int
dpool_punch(struct dpool *p, uint64_t off, uint64_t len)
{
	/*
	 * Huge pages are kept for life (a hole would lose its reservation),
	 * and left as they are: writing zeros over the free ones faulted in
	 * every page never touched, the whole pool (11.6 s for 4 GiB, every
	 * client waiting).  The engine takes them for never touched all the
	 * same; dpool_alloc zeroes a huge-page pool's calloc whole.
	 */
	if (p->huge)
		return 0;
	if (fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == -1)
		return -errno;
	return 0;
}
