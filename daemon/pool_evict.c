/*
 * pool_evict.c - a pool's evictable names, and eviction (pool_evict.h).
 *
 * A name's place on the list is kept as holds come and go, so that an
 * eviction never looks at a held block: the first hold of an evictable
 * block takes its name off (found by offset, O(log n)), the last release
 * puts it back at the newest end (that hold was a use).  Blocks that are
 * not evictable pay one bit's test per hold.  A block's name is not in
 * its record: a pointer there would make every block 64 bytes, not 56.
 */
#include <errno.h>
#include <stdio.h>

#include "heap.h"
#include "log.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_names.h"

static int
off_cmp(const struct block_name *a, const struct block_name *b)
{
	return a->block->off < b->block->off ? -1 :
	       a->block->off > b->block->off;
}

/* Not _STATIC: see block_names.c. */
RB_PROTOTYPE(evict_tree, block_name, by_off, off_cmp)
RB_GENERATE(evict_tree, block_name, by_off, off_cmp)

void
evict_init(struct evict_books *e)
{
	TAILQ_INIT(&e->lru);
	RB_INIT(&e->by_off);
	e->count = e->unheld = 0;
	e->unheld_bytes = 0;
}

static void
lru_put(struct evict_books *e, struct block_name *n)
{
	TAILQ_INSERT_TAIL(&e->lru, n, lru);
	n->on_lru = true;
	e->unheld++;
	e->unheld_bytes += n->block->size;
}

static void
lru_take(struct evict_books *e, struct block_name *n)
{
	TAILQ_REMOVE(&e->lru, n, lru);
	n->on_lru = false;
	e->unheld--;
	e->unheld_bytes -= n->block->size;
}

void
evict_add(struct dpool *p, struct block_name *n)
{
	RB_INSERT(evict_tree, &p->evict.by_off, n);
	p->evict.count++;
	if (n->block->nrefs == 0)
		lru_put(&p->evict, n);
}

void
evict_remove(struct dpool *p, struct block_name *n)
{
	if (n->on_lru)
		lru_take(&p->evict, n);
	RB_REMOVE(evict_tree, &p->evict.by_off, n);
	p->evict.count--;
}

void
evict_touch(struct dpool *p, struct block_name *n)
{
	if (!n->on_lru)
		return;
	TAILQ_REMOVE(&p->evict.lru, n, lru);
	TAILQ_INSERT_TAIL(&p->evict.lru, n, lru);
}

/* The name of evictable block b. */
static struct block_name *
name_of(struct dpool *p, struct block *b)
{
	struct block_name key = {.block = b}, *n;

	if (!(n = RB_FIND(evict_tree, &p->evict.by_off, &key)))
		fatalx("pool %s: evictable block %#llx has no name", p->name,
		       (unsigned long long)b->off);
	return n;
}

void
evict_held(struct dpool *p, struct block *b)
{
	struct block_name *n = name_of(p, b);

	if (n->on_lru)
		lru_take(&p->evict, n);
}

void
evict_unheld(struct dpool *p, struct block *b)
{
	struct block_name *n = name_of(p, b);

	if (!n->on_lru)
		lru_put(&p->evict, n);
}

bool
dpool_evict_may_fit(struct dpool *p, uint64_t need)
{
	struct heap_stats st;

	if (p->evict.unheld == 0)
		return false;
	heap_get_stats(p->heap, &st);
	return st.free_bytes + st.cached_bytes + p->evict.unheld_bytes >= need;
}

uint32_t
dpool_evict(struct dpool *p, uint64_t need)
{
	struct block_name *n;
	uint64_t gone = 0, size;
	uint32_t count = 0;

	while (gone < need && (n = TAILQ_FIRST(&p->evict.lru))) {
		size = n->block->size;
		dpool_name_remove(p, n);
		p->evict.evictions++;
		p->evict.evicted_bytes += size;
		gone += size;
		count++;
	}
	return count;
}

int
evict_check(struct dpool *p, char *problem, size_t len)
{
	struct block_name *n;
	uint64_t bytes = 0;
	uint32_t count = 0, unheld = 0;

	RB_FOREACH(n, evict_tree, &p->evict.by_off) {
		if (!n->evictable || !n->block->evictable ||
		    n->on_lru != (n->block->nrefs == 0)) {
			snprintf(problem, len, "pool %s: evictable name %.64s "
				 "at %#llx: flagged %d, its block %d, %s the "
				 "list with %u holders", p->name, n->name,
				 (unsigned long long)n->block->off,
				 n->evictable, n->block->evictable,
				 n->on_lru ? "on" : "off", n->block->nrefs);
			return -EFAULT;
		}
		count++;
	}
	TAILQ_FOREACH(n, &p->evict.lru, lru) {
		unheld++;
		bytes += n->block->size;
	}
	if (count == p->evict.count && unheld == p->evict.unheld &&
	    bytes == p->evict.unheld_bytes)
		return 0;
	snprintf(problem, len, "pool %s: %u evictable names, %u unheld of "
		 "%llu bytes; the books say %u, %u, %llu", p->name, count,
		 unheld, (unsigned long long)bytes, p->evict.count,
		 p->evict.unheld, (unsigned long long)p->evict.unheld_bytes);
	return -EFAULT;
}
