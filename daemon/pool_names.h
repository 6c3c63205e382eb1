/*
 * pool_names.h - names for a pool's blocks (docs/protocol.md, "Named
 * blocks"): what Publish, Lookup and Unpublish do to a pool's books, and
 * how a restart rebuilds and Check verifies them.
 *
 * A name holds the pool's reference of its block: publishing a block
 * persists it (charged to the publisher's uid, as Persist is) unless it
 * is persistent already, and removing the name drops that reference,
 * freeing the block if no handle holds it.  A block has one name at most.
 */
#ifndef POOLMGRD_POOL_NAMES_H
#define POOLMGRD_POOL_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct block_name;
struct dpool;
struct handle;

/*
 * Name the live block at off for handle h (which must hold it, unless it
 * is persistent), or, with replace, move the name there from its block.
 * 0, or: -EINVAL (no live block at off), -EEXIST (the name is in use and
 * not replace), -EBUSY (the block has another name), -ENOSPC (the pool has
 * POOL_MAX_NAMES), -EPERM (h does not hold it), -EDQUOT (the uid's
 * persistent blocks would pass the quota), -ENOMEM.  A failure changes
 * nothing.  name must be valid (block_name_valid).  evictable: the
 * name may be evicted while nobody holds the block (pool_evict.h).  A
 * success gives the name the pool's next generation, a replace by the
 * block it is on too (a new frame written in place, which changes the
 * flag too).
 */
int dpool_publish(struct dpool *p, struct handle *h, uint64_t off,
		  const void *name, size_t len, bool replace, bool evictable);
/* Remove the name and its reference: 0, or -ENOENT. */
int dpool_unpublish(struct dpool *p, const void *name, size_t len);
/* The same, of the pool's name n (an eviction). */
void dpool_name_remove(struct dpool *p, struct block_name *n);
/*
 * dpool_name_remove's first half, within the caller's journal group: the
 * name gone, its unname and its block's end journalled.  The block, for
 * block_maybe_free once the group is committed (its pages may go back
 * then, not before).
 */
struct block *dpool_name_unlink(struct dpool *p, struct block_name *n);

/*
 * A restart: name the restored block at off, with its generation (0: the
 * pool's next; the pool's name_generation follows the highest).  0, or
 * -EINVAL with why in problem: a bad name, no persistent block there, a
 * block named twice, a name twice, too many names, no memory.  An
 * evictable name joins the list of eviction after those restored before
 * it.
 */
int dpool_restore_name(struct dpool *p, uint64_t off, const void *name,
		       size_t len, uid_t publisher, bool evictable,
		       uint64_t generation, char *problem, size_t plen);
/*
 * Check: the names against the blocks (named of them were seen named by
 * the caller's walk): each at a live persistent block marked named, and
 * as many as that.  0, or -EFAULT with the problem.
 */
int dpool_names_check(struct dpool *p, uint64_t named, char *problem,
		      size_t len);

#endif /* POOLMGRD_POOL_NAMES_H */
