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
#include <stdlib.h>

#include "heap.h"
#include "log.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_names.h"

static int
off_cmp(const struct evict_link *a, const struct evict_link *b)
{
	uint64_t x = a->name->block->off, y = b->name->block->off;

	return x < y ? -1 : x > y;
}

/* Not _STATIC: see block_names.c. */
RB_PROTOTYPE(evict_tree, evict_link, by_off, off_cmp)
RB_GENERATE(evict_tree, evict_link, by_off, off_cmp)

void
evict_init(struct evict_books *e)
{
	TAILQ_INIT(&e->lru);
	RB_INIT(&e->by_off);
	e->count = e->unheld = 0;
	e->unheld_bytes = 0;
}

void
evict_free(struct evict_books *e)
{
	struct evict_link *l, *next;

	RB_FOREACH_SAFE(l, evict_tree, &e->by_off, next) {
		RB_REMOVE(evict_tree, &e->by_off, l);
		l->name->evict = NULL;
		free(l);
	}
	evict_init(e);
}

struct evict_link *
evict_link_make(void)
{
	struct evict_link *l = malloc(sizeof(*l));

	if (l)
		l->on_lru = false;
	return l;
}

static void
lru_put(struct evict_books *e, struct evict_link *l)
{
	TAILQ_INSERT_TAIL(&e->lru, l, lru);
	l->on_lru = true;
	e->unheld++;
	e->unheld_bytes += l->name->block->size;
}

static void
lru_take(struct evict_books *e, struct evict_link *l)
{
	TAILQ_REMOVE(&e->lru, l, lru);
	l->on_lru = false;
	e->unheld--;
	e->unheld_bytes -= l->name->block->size;
}

void
evict_add(struct dpool *p, struct block_name *n, struct evict_link *l)
{
	n->evict = l;
	l->name = n;
	l->on_lru = false;
	RB_INSERT(evict_tree, &p->evict.by_off, l);
	p->evict.count++;
	if (n->block->nrefs == 0)
		lru_put(&p->evict, l);
}

void
evict_remove(struct dpool *p, struct block_name *n)
{
	struct evict_link *l = n->evict;

	if (l->on_lru)
		lru_take(&p->evict, l);
	RB_REMOVE(evict_tree, &p->evict.by_off, l);
	p->evict.count--;
	n->evict = NULL;
	free(l);
}

void
evict_touch(struct dpool *p, struct block_name *n)
{
	struct evict_link *l = n->evict;

	if (!l->on_lru)
		return;
	TAILQ_REMOVE(&p->evict.lru, l, lru);
	TAILQ_INSERT_TAIL(&p->evict.lru, l, lru);
}

/* The link of evictable block b's name. */
static struct evict_link *
link_of(struct dpool *p, struct block *b)
{
	struct block_name key_name = {.block = b};
	struct evict_link key = {.name = &key_name}, *l;

	if (!(l = RB_FIND(evict_tree, &p->evict.by_off, &key)))
		fatalx("pool %s: evictable block %#llx has no name", p->name,
		       (unsigned long long)b->off);
	return l;
}

void
evict_held(struct dpool *p, struct block *b)
{
	struct evict_link *l = link_of(p, b);

	if (l->on_lru)
		lru_take(&p->evict, l);
}

void
evict_unheld(struct dpool *p, struct block *b)
{
	struct evict_link *l = link_of(p, b);

	if (!l->on_lru)
		lru_put(&p->evict, l);
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
	struct evict_link *l;
	uint64_t gone = 0, size;
	uint32_t count = 0;

	while (gone < need && (l = TAILQ_FIRST(&p->evict.lru))) {
		size = l->name->block->size;
		dpool_name_remove(p, l->name);
		p->evict.evictions++;
		p->evict.evicted_bytes += size;
		gone += size;
		count++;
	}
	return count;
}

void
evict_rank(struct dpool *p)
{
	struct evict_link *l;
	uint32_t rank = 0;

	TAILQ_FOREACH(l, &p->evict.lru, lru)
		l->rank = ++rank;
	RB_FOREACH(l, evict_tree, &p->evict.by_off)
		if (!l->on_lru)
			l->rank = rank + 1;
}

int
evict_check(struct dpool *p, char *problem, size_t len)
{
	struct evict_link *l;
	struct block_name *n;
	uint64_t bytes = 0;
	uint32_t count = 0, unheld = 0;

	RB_FOREACH(l, evict_tree, &p->evict.by_off) {
		n = l->name;
		if (n->evict != l || !n->block->evictable ||
		    l->on_lru != (n->block->nrefs == 0)) {
			snprintf(problem, len, "pool %s: evictable name %.64s "
				 "at %#llx: its link %s, its block %s, %s the "
				 "list with %u holders", p->name, n->name,
				 (unsigned long long)n->block->off,
				 n->evict == l ? "its own" : "another's",
				 n->block->evictable ? "evictable" : "kept",
				 l->on_lru ? "on" : "off", n->block->nrefs);
			return -EFAULT;
		}
		count++;
	}
	TAILQ_FOREACH(l, &p->evict.lru, lru) {
		unheld++;
		bytes += l->name->block->size;
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
