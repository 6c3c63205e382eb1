/*
 * pool_names.c - a pool's names and the references they hold
 * (pool_names.h).
 *
 * The name is the pool's reference: a named block is a persistent block
 * whose persistence only the name's removal ends (pool_block.c refuses a
 * Free of it by a handle that does not hold it, -EBUSY).  So everything
 * persistence does, names get for nothing: the share bit, the quota
 * charge of the uid that persisted it, the crash journal's record of the
 * block and a restart's; the journal also records each name (after its
 * block's persist, before its unpersist), which recovery checks the
 * same way.  Each record is written once its change is made, as every
 * journal hook is.  A request's records are one change of the journal's
 * (journal_group_begin): a Publish's persist and name; a replace's name
 * taken from the old block, given to the new one, and the old block's
 * persistence ended; an Unpublish's or an eviction's name and its
 * block's persistence.  A crash in the middle recovers none of it, never
 * a name lost or a block persistent with no name to end it.  A block
 * whose persistence ended is freed only once the group is over: the
 * journal must say it is no longer persistent before its pages can be
 * handed out again.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "journal.h"
#include "log.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_internal.h"
#include "pool_names.h"
#include "session.h"

/* n, on its block now, becomes evictable with link l, or kept (NULL). */
static void
name_flag(struct dpool *p, struct block_name *n, struct evict_link *l)
{
	n->block->evictable = l != NULL;
	if (l)
		evict_add(p, n, l);
}

/*
 * n published again on its own block (a new frame written in place): the
 * pool's next generation, and its newest use.  A change of its flag is
 * journalled as a replace, with the generation; none, the generation
 * alone.  Out of memory changes nothing, the generation neither.  The
 * replace's two records are one change: a crash between them would
 * lose the name.
 */
static int
republish(struct dpool *p, struct block_name *n, bool evictable)
{
	struct evict_link *l = NULL;

	if ((n->evict != NULL) == evictable) {
		n->generation = ++p->name_generation;
		if (n->evict)
			evict_touch(p, n);
		journal_generation(p, n);
		return 0;
	}
	if (evictable && !(l = evict_link_make()))
		return -ENOMEM;
	n->generation = ++p->name_generation;
	if (n->evict)
		evict_remove(p, n);
	journal_group_begin();
	journal_unname(p, n->block);
	name_flag(p, n, l);
	journal_name(p, n);
	journal_group_end(true);
	return 0;
}

int
dpool_publish(struct dpool *p, struct handle *h, uint64_t off,
	      const void *name, size_t len, bool replace, bool evictable)
{
	struct block *b = dpool_block(p, off), *old;
	struct block_name *n, *fresh = NULL;
	struct evict_link *l = NULL;
	uint64_t credit = 0;
	int rc;

	if (!b)
		return -EINVAL;
	n = block_names_find(&p->names, name, len);
	if (n && !replace)
		return -EEXIST;
	if (n && n->block == b)
		return republish(p, n, evictable);
	if (b->named)
		return -EBUSY;
	if (!n && p->names.count >= POOL_MAX_NAMES)
		return -ENOSPC;
	if (!block_persistent(b) && !dpool_holds(b, h))
		return -EPERM;
	/* The records first: out of memory after the persist would undo. */
	if ((evictable && !(l = evict_link_make())) ||
	    (!n && !(fresh = block_name_make(name, len, b,
					     h->session->uid)))) {
		free(l);
		return -ENOMEM;
	}
	/*
	 * A replace ends the old block's charge in the same request: the
	 * quota is checked on the charge after it, not on both frames.
	 */
	if (n && n->block->persister == h->session->uid)
		credit = n->block->size;
	/* The persist (if b was not) and the name: one change. */
	journal_group_begin();
	if ((rc = dpool_persist(p, h, off, credit)) != 0) {
		journal_group_end(false);	/* nothing written */
		free(fresh);
		free(l);
		return rc;
	}
	b->named = 1;
	if (fresh) {
		fresh->generation = ++p->name_generation;
		block_names_insert(&p->names, fresh);
		name_flag(p, fresh, l);
		journal_name(p, fresh);
		journal_group_end(true);
		return 0;
	}
	/* One request: no client sees the name on neither block, or both. */
	old = n->block;
	if (n->evict)
		evict_remove(p, n);	/* keyed by the old block */
	block_names_unlink(&p->names, n);
	old->named = 0;
	old->evictable = 0;
	journal_unname(p, old);
	n->block = b;
	n->publisher = h->session->uid;
	n->generation = ++p->name_generation;
	block_names_insert(&p->names, n);
	name_flag(p, n, l);
	journal_name(p, n);
	unpersist(p, old);
	journal_group_end(true);
	assert(!journal_grouped());	/* its end is committed: free it */
	block_maybe_free(p, old, true);
	return 0;
}

struct block *
dpool_name_unlink(struct dpool *p, struct block_name *n)
{
	struct block *b = n->block;

	assert(journal_grouped());
	if (n->evict)
		evict_remove(p, n);
	b->named = 0;
	b->evictable = 0;
	block_names_remove(&p->names, n);
	journal_unname(p, b);
	unpersist(p, b);
	return b;
}

void
dpool_name_remove(struct dpool *p, struct block_name *n)
{
	struct block *b;

	journal_group_begin();
	b = dpool_name_unlink(p, n);
	journal_group_end(true);
	/*
	 * Its pages may go back now, so its end must be in the journal:
	 * within another group it would not be yet.
	 */
	assert(!journal_grouped());
	block_maybe_free(p, b, true);
}

int
dpool_unpublish(struct dpool *p, const void *name, size_t len)
{
	struct block_name *n = block_names_find(&p->names, name, len);

	if (!n)
		return -ENOENT;
	dpool_name_remove(p, n);
	return 0;
}

/* Why the name at b (of the state) cannot be restored, or NULL. */
static const char *
restore_name_wrong(struct dpool *p, struct block *b, const void *name,
		   size_t len)
{
	if (block_name_valid(name, len) != 0)
		return "a bad name";
	if (!b || !block_persistent(b))
		return "no persistent block there";
	if (b->named)
		return "its block has a name already";
	if (block_names_find(&p->names, name, len))
		return "the name is there twice";
	if (p->names.count >= POOL_MAX_NAMES)
		return "too many names";
	return NULL;
}

int
dpool_restore_name(struct dpool *p, uint64_t off, const void *name,
		   size_t len, uid_t publisher, bool evictable,
		   uint64_t generation, char *problem, size_t plen)
{
	struct block *b = block_index_find(&p->blocks, off);
	const char *why = restore_name_wrong(p, b, name, len);
	struct evict_link *l = NULL;
	struct block_name *n;

	if (!why) {
		if ((!evictable || (l = evict_link_make())) &&
		    (n = block_name_make(name, len, b, publisher))) {
			/* An older image's: generations given anew. */
			if (!generation)
				generation = p->name_generation + 1;
			if (generation > p->name_generation)
				p->name_generation = generation;
			n->generation = generation;
			block_names_insert(&p->names, n);
			b->named = 1;
			name_flag(p, n, l);
			return 0;
		}
		free(l);
		why = "out of memory";
	}
	snprintf(problem, plen, "pool %s: the name at 0x%llx: %s", p->name,
		 (unsigned long long)off, why);
	return -EINVAL;
}

int
dpool_names_check(struct dpool *p, uint64_t named, char *problem, size_t len)
{
	struct block_name *n;
	uint64_t count = 0;

	for (n = block_names_from(&p->names, "", 0); n;
	     n = block_names_next(&p->names, n)) {
		struct block *b = n->block;

		if (block_index_find(&p->blocks, b->off) != b ||
		    !block_persistent(b) || !b->named) {
			snprintf(problem, len, "pool %s: name %.64s: its block "
				 "0x%llx is not a live, persistent, named one",
				 p->name, n->name, (unsigned long long)b->off);
			return -EFAULT;
		}
		if ((n->evict != NULL) != b->evictable) {
			snprintf(problem, len, "pool %s: name %.64s is %s, its "
				 "block is not", p->name, n->name,
				 n->evict ? "evictable" : "kept");
			return -EFAULT;
		}
		count++;
	}
	if (evict_check(p, problem, len))
		return -EFAULT;
	if (!block_names_counts_ok(&p->names)) {
		snprintf(problem, len, "pool %s: a name's count of the names "
			 "under it is wrong", p->name);
		return -EFAULT;
	}
	if (count == p->names.count && count == named)
		return 0;
	snprintf(problem, len, "pool %s: %llu name%s, %llu named block%s, the "
		 "books say %u name%s", p->name, (unsigned long long)count,
		 log_plural(count), (unsigned long long)named,
		 log_plural(named), p->names.count,
		 log_plural(p->names.count));
	return -EFAULT;
}
