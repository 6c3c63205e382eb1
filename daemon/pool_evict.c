/*
 * pool_evict.c - a pool's evictable names, and eviction (pool_evict.h).
 *
 * A name's place on the list is kept as holds come and go, so that an
 * eviction never looks at a held block: the first hold of an evictable
 * block takes its name off (found by offset, O(log n)), the last release
 * puts it back at the newest end (that hold was a use).  Blocks that are
 * not evictable pay one bit's test per hold.  A block's name is not in
 * its record: a pointer there would make every block 64 bytes, not 56.
 *
 * The list's every change is made on the name's uid's list too (lru_put,
 * lru_take), a look up of its charge each: that list is the pool's
 * restricted to the uid, so a restart, which rebuilds the pool's list
 * in its order (evict_rank), rebuilds the uid's in theirs, and a user
 * quota's refusal evicts the uid's least recently used names first
 * (dpool_evict_user), never a name of another uid's.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "heap.h"
#include "log.h"
#include "pool.h"
#include "pool_evict.h"
#include "journal.h"
#include "pool_internal.h"
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
	e->no_run = false;
	e->walk = 0;
	e->clock = 0;
	e->no_batch = NULL;
	e->no_batch_n = 0;
	e->trials = 0;
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
	free(e->no_batch);
	evict_init(e);
}

struct evict_link *
evict_link_make(void)
{
	struct evict_link *l = malloc(sizeof(*l));

	if (l) {
		l->on_lru = false;
		l->uid_prev = l->uid_next = NULL;
		l->seen = 0;	/* no walk's: they count from 1 */
		l->used = 0;
		l->run_end = NULL;
	}
	return l;
}

/*
 * The books of l's uid: its block's persister's charge, which a named
 * block has while it is named (pool_evict.h).
 */
static struct evict_uid *
uid_books(struct dpool *p, const struct evict_link *l)
{
	struct persist_charge *c = dpool_charge(p, l->name->block->persister);

	if (!c)
		fatalx("pool %s: evictable name %.64s has no persister's "
		       "charge", p->name, l->name->name);
	return &c->evict;
}

/* l at the newest end of its uid's list. */
static void
uid_put(struct dpool *p, struct evict_link *l)
{
	struct evict_uid *u = uid_books(p, l);

	l->uid_prev = u->newest;
	l->uid_next = NULL;
	if (u->newest)
		u->newest->uid_next = l;
	else
		u->oldest = l;
	u->newest = l;
	u->unheld++;
	u->unheld_bytes += l->name->block->size;
}

static void
uid_take(struct dpool *p, struct evict_link *l)
{
	struct evict_uid *u = uid_books(p, l);

	if (l->uid_prev)
		l->uid_prev->uid_next = l->uid_next;
	else
		u->oldest = l->uid_next;
	if (l->uid_next)
		l->uid_next->uid_prev = l->uid_prev;
	else
		u->newest = l->uid_prev;
	l->uid_prev = l->uid_next = NULL;
	u->unheld--;
	u->unheld_bytes -= l->name->block->size;
}

/*
 * On the pool's list and its uid's, at their newest ends: each uid's
 * list keeps the pool's order, so its oldest is the uid's least
 * recently used name.
 */
static void
lru_put(struct dpool *p, struct evict_link *l)
{
	struct evict_books *e = &p->evict;

	TAILQ_INSERT_TAIL(&e->lru, l, lru);
	l->on_lru = true;
	l->used = ++e->clock;
	e->unheld++;
	e->unheld_bytes += l->name->block->size;
	uid_put(p, l);
}

static void
lru_take(struct dpool *p, struct evict_link *l)
{
	struct evict_books *e = &p->evict;

	TAILQ_REMOVE(&e->lru, l, lru);
	l->on_lru = false;
	e->unheld--;
	e->unheld_bytes -= l->name->block->size;
	uid_take(p, l);
}

/*
 * l's block, unheld, may be evicted from now on: room for the pool's
 * waiting allocations, which try again as for a free, or would wait out
 * their wait_ms beside a block they could evict.
 */
static void
lru_make_room(struct dpool *p, struct evict_link *l)
{
	lru_put(p, l);
	dpool_room(p);
}

void
evict_add(struct dpool *p, struct block_name *n, struct evict_link *l)
{
	n->evict = l;
	l->name = n;
	l->on_lru = false;
	l->uid_prev = l->uid_next = NULL;
	RB_INSERT(evict_tree, &p->evict.by_off, l);
	p->evict.count++;
	if (n->block->nrefs == 0)
		lru_make_room(p, l);
}

void
evict_remove(struct dpool *p, struct block_name *n)
{
	struct evict_link *l = n->evict;

	if (l->on_lru)
		lru_take(p, l);
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
	lru_take(p, l);
	lru_put(p, l);
}

/* The link of evictable block b's name. */
static struct evict_link *
link_of(struct dpool *p, struct block *b)
{
	struct block_name key_name = {.block = b};
	struct evict_link key = {.name = &key_name}, *l;

	if (!(l = RB_FIND(evict_tree, &p->evict.by_off, &key)))
		fatalx("pool %s: evictable block 0x%llx has no name", p->name,
		       (unsigned long long)b->off);
	return l;
}

void
evict_held(struct dpool *p, struct block *b)
{
	struct evict_link *l = link_of(p, b);

	if (l->on_lru)
		lru_take(p, l);
}

void
evict_unheld(struct dpool *p, struct block *b)
{
	struct evict_link *l = link_of(p, b);

	if (!l->on_lru)
		lru_make_room(p, l);
}

/* Bytes the pool's limit leaves for live blocks: 0 past it. */
static uint64_t
limit_room(struct dpool *p, const struct heap_stats *st)
{
	if (!p->limit)
		return UINT64_MAX;
	return st->allocated_bytes < p->limit ?
	       p->limit - st->allocated_bytes : 0;
}

uint64_t
dpool_evict_short(struct dpool *p, uint64_t need, uint64_t counted)
{
	struct heap_stats st;
	uint64_t room, left, short_room = 0, short_limit = 0;

	heap_get_stats(p->heap, &st);
	room = st.free_bytes + st.cached_bytes;
	left = limit_room(p, &st);
	if (need > room)
		short_room = need - room;
	if (counted > left)
		short_limit = counted - left;
	return short_room > short_limit ? short_room : short_limit;
}

bool
dpool_evict_may_fit(const struct dpool *p, uint64_t lack)
{
	return p->evict.unheld > 0 && lack <= p->evict.unheld_bytes;
}

/*
 * Does the last "no" of dpool_evict_may_make_run still answer?  For a
 * request at least as large and as aligned, and for any whose block is
 * longer than every stretch: waiting allocations of many sizes, each
 * tried again when room is made, would otherwise walk the names one
 * after another.
 */
static bool
no_run_known(const struct dpool *p, uint64_t size, uint64_t align)
{
	const struct evict_books *e = &p->evict;
	uint64_t len = heap_block_size(p->heap, size);

	return e->no_run && e->no_run_at == p->room_count &&
	       ((size >= e->no_run_size && align >= e->no_run_align) ||
		len == 0 || len > e->no_run_longest);
}

/* The free space around l's block, which is live: [*start, *end). */
static void
link_around(struct dpool *p, const struct evict_link *l, uint64_t *start,
	    uint64_t *end)
{
	uint64_t off = l->name->block->off;

	if (heap_free_around(p->heap, off, start, end))
		fatalx("pool %s: evictable name %.64s at 0x%llx has no live "
		       "block", p->name, l->name->name,
		       (unsigned long long)off);
}

/*
 * A window: unheld evictable names lo .. hi, by offset, with only free
 * space between their blocks; [start, end) the stretch their evictions
 * would free, the free space on both sides included.
 */
struct window {
	struct evict_link *lo, *hi;
	uint64_t start, end;
};

/*
 * The name whose block ends where w's stretch begins, or NULL: one this
 * search has taken in (seen == walk), so unheld.
 */
static struct evict_link *
left_of(const struct window *w, uint16_t walk)
{
	struct evict_link *l = evict_tree_RB_PREV(w->lo);
	const struct block *b;

	if (!l || l->seen != walk)
		return NULL;
	b = l->name->block;
	return b->off + b->size == w->start ? l : NULL;
}

/* The name taken in whose block begins where w's stretch ends, or NULL. */
static struct evict_link *
right_of(const struct window *w, uint16_t walk)
{
	struct evict_link *l = evict_tree_RB_NEXT(w->hi);

	if (!l || l->seen != walk)
		return NULL;
	return l->name->block->off == w->end ? l : NULL;
}

/* This search's mark; the links' marks cleared when it comes round. */
static uint16_t
next_walk(struct dpool *p)
{
	struct evict_link *l;

	if (++p->evict.walk == 0) {
		RB_FOREACH(l, evict_tree, &p->evict.by_off)
			l->seen = 0;
		p->evict.walk = 1;
	}
	return p->evict.walk;
}

/*
 * Take l in: its run, the names taken in beside it with only free space
 * between their blocks, joined with those on its left and right (a run's
 * two ends point at each other, run_end), in *w with its stretch.
 */
static void
take_in(struct dpool *p, struct evict_link *l, uint16_t walk,
	struct window *w)
{
	struct evict_link *left, *right;
	uint64_t s, e;

	l->seen = walk;
	l->run_end = l;
	w->lo = w->hi = l;
	link_around(p, l, &w->start, &w->end);
	left = left_of(w, walk);
	right = right_of(w, walk);
	if (left) {
		w->lo = left->run_end;
		link_around(p, w->lo, &w->start, &e);
	}
	if (right) {
		w->hi = right->run_end;
		link_around(p, w->hi, &s, &w->end);
	}
	w->lo->run_end = w->hi;
	w->hi->run_end = w->lo;
}

/*
 * Can w do without its end name l (w->lo or w->hi, not the only one)?
 * Kept, l's block bounds the stretch the others free.
 */
static bool
end_spared(struct dpool *p, const struct window *w,
	   const struct evict_link *l, uint64_t size, uint64_t align)
{
	const struct block *b = l->name->block;

	if (l == w->lo)
		return heap_fits(p->heap, size, align, b->off + b->size,
				 w->end);
	return heap_fits(p->heap, size, align, w->start, b->off);
}

/*
 * Give back the names at w's ends, never key, that the others make the
 * room without: the side grown first may have been the one that did not
 * help (an aligned request fitting the other way), and its names would
 * go for nothing.  The more recently used end first.
 */
static void
trim_window(struct dpool *p, const struct evict_link *key, uint64_t size,
	    uint64_t align, struct window *w)
{
	struct evict_link *lo, *hi;
	bool lo_spared, hi_spared;

	for (;;) {
		lo = w->lo;
		hi = w->hi;
		lo_spared = lo != key && end_spared(p, w, lo, size, align);
		hi_spared = hi != key && end_spared(p, w, hi, size, align);
		if (lo_spared && hi_spared && lo->used < hi->used)
			lo_spared = false;
		if (lo_spared) {
			w->start = lo->name->block->off + lo->name->block->size;
			w->lo = evict_tree_RB_NEXT(lo);
		} else if (hi_spared) {
			w->end = hi->name->block->off;
			w->hi = evict_tree_RB_PREV(hi);
		} else {
			return;
		}
	}
}

/* The names of window w, lo to hi. */
static uint32_t
names_in(const struct window *w)
{
	struct evict_link *l;
	uint32_t n = 1;

	for (l = w->lo; l != w->hi; l = evict_tree_RB_NEXT(l))
		n++;
	return n;
}

/*
 * A window around l of fewer names than w, in *w, if one holds
 * heap_alloc(size, align): growing from one side first may take many
 * small names there where one large one on the other side would do.
 * For each count of names on l's left, the fewest on its right that then
 * hold it, which are no more as the left grows: each side walked once,
 * no further than w's count of names allows.  Of the fewest, the one
 * with the fewest names on the left.
 */
static void
fewer_names(struct dpool *p, struct evict_link *l, uint64_t size,
	    uint64_t align, uint16_t walk, struct window *w)
{
	struct evict_link *next;
	struct window c;
	uint32_t best = names_in(w), left = 0, right = 0;
	uint64_t s, e;

	c.lo = c.hi = l;
	link_around(p, l, &c.start, &c.end);
	for (;;) {
		while (!heap_fits(p->heap, size, align, c.start, c.end) &&
		       left + right + 2 < best && (next = right_of(&c, walk))) {
			link_around(p, next, &s, &c.end);
			c.hi = next;
			right++;
		}
		if (left + right + 1 < best &&
		    heap_fits(p->heap, size, align, c.start, c.end)) {
			best = left + right + 1;
			*w = c;
		}
		if (left + 2 >= best || !(next = left_of(&c, walk)))
			return;
		link_around(p, next, &c.start, &e);
		c.lo = next;
		left++;
		while (right > 0 && heap_fits(p->heap, size, align, c.start,
					      c.hi->name->block->off)) {
			c.end = c.hi->name->block->off;
			c.hi = evict_tree_RB_PREV(c.hi);
			right--;
		}
	}
}

/*
 * The fewest names around l, within its run (all taken in), that hold
 * heap_alloc(size, align), which the run does: grown from l, the less
 * recently used of the two sides first, then the ends it can do without
 * given back (trim_window); then a window of fewer names, if there is
 * one (fewer_names).  Any window of the run that holds it has l in it:
 * the run's parts on either side of l did not.
 */
static void
shrink_to(struct dpool *p, struct evict_link *l, uint64_t size,
	  uint64_t align, uint16_t walk, struct window *w)
{
	struct evict_link *left, *right;
	uint64_t s, e;

	w->lo = w->hi = l;
	link_around(p, l, &w->start, &w->end);
	while (!heap_fits(p->heap, size, align, w->start, w->end)) {
		left = left_of(w, walk);
		right = right_of(w, walk);
		assert(left || right);
		if (left && right && right->used < left->used)
			left = NULL;
		if (left) {
			link_around(p, left, &s, &e);
			w->lo = left;
			w->start = s;
		} else {
			link_around(p, right, &s, &e);
			w->hi = right;
			w->end = e;
		}
	}
	trim_window(p, l, size, align, w);
	fewer_names(p, l, size, align, walk, w);
}

/*
 * The window for heap_alloc(size, align), such that no name in it was
 * used more recently than need be: the unheld names are taken in oldest
 * first (take_in), and once a run of them holds the request, the name
 * just taken in is the newest any window needs (none held it before),
 * and the fewest names around it that hold it are the window.  Each name
 * is taken in once, with a look at the free space around it and its
 * run's ends (heap_free_around).  A "no" is kept (no_run_known).
 */
static bool
find_window(struct dpool *p, uint64_t size, uint64_t align, struct window *w)
{
	struct evict_books *e = &p->evict;
	struct evict_link *l;
	uint64_t longest = 0;
	uint16_t walk;

	if (no_run_known(p, size, align))
		return false;
	walk = next_walk(p);
	TAILQ_FOREACH(l, &e->lru, lru) {
		take_in(p, l, walk, w);
		if (heap_fits(p->heap, size, align, w->start, w->end)) {
			shrink_to(p, l, size, align, walk, w);
			return true;
		}
		if (w->end - w->start > longest)	/* runs only grow */
			longest = w->end - w->start;
	}
	e->no_run = true;
	e->no_run_size = size;
	e->no_run_align = align;
	e->no_run_at = p->room_count;
	e->no_run_longest = longest;
	return false;
}

bool
dpool_evict_may_make_run(struct dpool *p, uint64_t size, uint64_t align)
{
	struct window w;

	return find_window(p, size, align, &w);
}

/*
 * The names one call evicts are one change of the journal (the first
 * evict_one opens it, group_end commits it): a crash in the middle
 * recovers all of them, a window as it was.  Their blocks are freed once
 * the change is committed, as an Unpublish's is (pool_names.c: a block's
 * pages may go back only then); up to EVICT_GROUP of them, after which
 * the change so far is committed and another begins, so that no call
 * needs memory for its blocks.
 */
#define EVICT_GROUP 256
static struct block *group_blocks[EVICT_GROUP];
static uint32_t group_n;
static bool group_open;

/* The call's change so far committed, its blocks freed; none: nothing. */
static void
group_end(struct dpool *p)
{
	uint32_t i, n = group_n;

	if (!group_open)
		return;
	journal_group_end(true);
	assert(!journal_grouped());
	group_open = false;
	group_n = 0;
	for (i = 0; i < n; i++)
		block_maybe_free(p, group_blocks[i], true);
}

/*
 * Evict l's name, within the call's group: unpublished as an Unpublish
 * would (the name and its block's end journalled, its block's charge
 * ended, the block freed at the group's end), and counted.  Its bytes.
 */
static uint64_t
evict_one(struct dpool *p, struct evict_link *l)
{
	uint64_t size = l->name->block->size;

	if (group_n == EVICT_GROUP)
		group_end(p);
	if (!group_open) {
		journal_group_begin();
		group_open = true;
	}
	group_blocks[group_n++] = dpool_name_unlink(p, l->name);
	p->evict.evictions++;
	p->evict.evicted_bytes += size;
	return size;
}

uint32_t
dpool_evict(struct dpool *p, uint64_t need, uint32_t names, uint64_t enough)
{
	struct evict_link *l;
	uint64_t gone = 0;
	uint32_t count = 0;

	while ((gone < need || (count < names && gone < enough)) &&
	       (l = TAILQ_FIRST(&p->evict.lru))) {
		gone += evict_one(p, l);
		count++;
	}
	group_end(p);
	return count;
}

uint32_t
dpool_evict_run(struct dpool *p, uint64_t size, uint64_t align)
{
	struct evict_link *l, *next, *end;
	struct window w;
	uint32_t count = 0;

	if (!find_window(p, size, align, &w))
		return 0;
	end = RB_NEXT(evict_tree, &p->evict.by_off, w.hi);
	for (l = w.lo; l != end; l = next) {
		next = RB_NEXT(evict_tree, &p->evict.by_off, l);
		assert(l->on_lru);
		evict_one(p, l);
		count++;
	}
	group_end(p);
	return count;
}

/*
 * The unheld evictable names right after live block b, each with only
 * free space before it, that b's growth in place by more bytes needs
 * gone: the first and the last of them (NULL: none, the free space is
 * there).  false if all of them together would not give it: the block
 * after them kept or held, or the pool's end.  The free space after b
 * looked up once, and once after each name (heap_free_around).
 */
static bool
names_after(struct dpool *p, const struct block *b, uint64_t more,
	    struct evict_link **first, struct evict_link **last)
{
	struct block key_block = {.off = 0};
	struct block_name key_name = {.block = &key_block};
	struct evict_link key = {.name = &key_name}, *l;
	uint64_t end = b->off + b->size, start, stop;

	*first = *last = NULL;
	if (heap_free_around(p->heap, b->off, &start, &stop))
		fatalx("pool %s: block 0x%llx has no live block", p->name,
		       (unsigned long long)b->off);
	while (stop - end < more) {
		key_block.off = stop;
		l = RB_FIND(evict_tree, &p->evict.by_off, &key);
		if (!l || !l->on_lru)
			return false;
		link_around(p, l, &start, &stop);
		if (!*first)
			*first = l;
		*last = l;
	}
	return true;
}

bool
dpool_evict_may_grow(struct dpool *p, const struct block *b, uint64_t more)
{
	struct evict_link *first, *last;

	return names_after(p, b, more, &first, &last);
}

uint32_t
dpool_evict_grow(struct dpool *p, uint64_t off, uint64_t more)
{
	struct block *b = dpool_block(p, off);
	struct evict_link *l, *next, *first, *last, *end;
	uint32_t count = 0;

	if (!b || !names_after(p, b, more, &first, &last) || !first)
		return 0;
	end = RB_NEXT(evict_tree, &p->evict.by_off, last);
	for (l = first; l != end; l = next) {
		next = RB_NEXT(evict_tree, &p->evict.by_off, l);
		evict_one(p, l);
		count++;
	}
	group_end(p);
	return count;
}

bool
dpool_evict_user_may_fit(struct dpool *p, uid_t uid, uint64_t lack)
{
	struct persist_charge *c = dpool_charge(p, uid);

	return c && c->evict.unheld > 0 && lack <= c->evict.unheld_bytes;
}

/*
 * The charge is looked up again for each name: the eviction of the
 * uid's last persistent block takes its charge out of the array.
 */
uint32_t
dpool_evict_user(struct dpool *p, uid_t uid, uint64_t need)
{
	struct persist_charge *c;
	uint64_t gone = 0;
	uint32_t count = 0;

	while (gone < need && (c = dpool_charge(p, uid)) && c->evict.oldest) {
		gone += evict_one(p, c->evict.oldest);
		count++;
	}
	group_end(p);
	return count;
}

static bool over_limit_held;	/* dpool_evict_over_limit_hold */

uint32_t
dpool_evict_over_limit(struct dpool *p, uint64_t *bytes)
{
	uint64_t held = heap_allocated_bytes(p->heap);
	uint64_t before = p->evict.evicted_bytes;
	uint32_t n = 0;

	if (p->limit && held > p->limit && !over_limit_held)
		n = dpool_evict(p, held - p->limit, 0, 0);
	*bytes = p->evict.evicted_bytes - before;
	return n;
}

void
dpool_evict_over_limit_hold(bool hold)
{
	over_limit_held = hold;
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

/* Why link l, met in the tree after prev, is wrong, or NULL. */
static const char *
tree_link_wrong(struct dpool *p, const struct evict_link *l,
		const struct evict_link *prev)
{
	struct block_name *n = l->name;

	if (prev && prev->name->block->off >= n->block->off)
		return "out of order in the tree, or in it twice";
	if (n->evict != l)
		return "another's link";
	if (block_names_find(&p->names, n->name, n->len) != n)
		return "not one of the pool's names";
	if (!n->block->named || !n->block->evictable)
		return "its block is not named evictable";
	if (l->on_lru != (n->block->nrefs == 0))
		return l->on_lru ? "on the list, its block held" :
		    "off the list, its block unheld";
	if (!l->on_lru && (l->uid_prev || l->uid_next))
		return "off the list, but linked on its uid's";
	return NULL;
}

/* Why link l, met on the list, is wrong, or NULL. */
static const char *
list_link_wrong(struct dpool *p, struct evict_link *l)
{
	if (*l->lru.tqe_prev != l)
		return "not linked back to its place";
	if (!l->on_lru)
		return "not marked on it";
	if (RB_FIND(evict_tree, &p->evict.by_off, l) != l)
		return "not in the tree by its block";
	return NULL;
}

static int
link_problem(struct dpool *p, const struct evict_link *l, const char *where,
	     const char *why, char *problem, size_t len)
{
	snprintf(problem, len, "pool %s: the eviction %s: name %.64s at "
		 "0x%llx: %s", p->name, where, l->name->name,
		 (unsigned long long)l->name->block->off, why);
	return -EFAULT;
}

/* uids_check's walk of one uid's list: where it is, what it counted. */
struct uid_walk {
	const struct evict_link *next, *last;
	uint32_t unheld;
	uint64_t bytes;
};

/* Why link l, met on the pool's list, is wrong for its uid's, or NULL. */
static const char *
uid_link_wrong(struct dpool *p, const struct evict_link *l,
	       struct uid_walk *w, struct uid_walk **at)
{
	struct persist_charge *c = dpool_charge(p, l->name->block->persister);

	if (!c)
		return "its persister has no charge";
	*at = &w[c - p->charges];
	if ((*at)->next != l)
		return "not next on its uid's list";
	if (l->uid_prev != (*at)->last)
		return "not linked back to the one before it on its uid's list";
	return NULL;
}

static int
uid_books_problem(struct dpool *p, const struct persist_charge *c,
		  const struct uid_walk *w, char *problem, size_t len)
{
	snprintf(problem, len, "pool %s: uid %u has %u unheld evictable "
		 "name%s of %llu bytes on the pool's eviction list; its own "
		 "%s, and says %u of %llu", p->name, (unsigned)c->uid,
		 w->unheld, log_plural(w->unheld),
		 (unsigned long long)w->bytes, w->next ? "goes on past them" :
		 w->last != c->evict.newest ? "ends elsewhere" : "ends there",
		 c->evict.unheld, (unsigned long long)c->evict.unheld_bytes);
	return -EFAULT;
}

/*
 * Each uid's list against the pool's, once the pool's is known to be
 * sound (no loop, as long as the tree says): the pool's links of a uid
 * come in the order of the uid's list, linked both ways, and the uid's
 * books count them, the list ending with them.  So the uid's lists hold
 * the unheld names and nothing else, each on its persister's.  A walk
 * of the list, a look up of a charge per link; 0 also if there is no
 * memory to walk in.
 */
static int
uids_check(struct dpool *p, char *problem, size_t len)
{
	struct uid_walk *w, *at = NULL;
	struct evict_link *l;
	const char *why;
	unsigned i;
	int rc = 0;

	if (!(w = calloc(p->ncharges ? p->ncharges : 1, sizeof(*w))))
		return 0;
	for (i = 0; i < p->ncharges; i++)
		w[i].next = p->charges[i].evict.oldest;
	TAILQ_FOREACH(l, &p->evict.lru, lru) {
		if ((why = uid_link_wrong(p, l, w, &at))) {
			rc = link_problem(p, l, "list", why, problem, len);
			goto out;
		}
		at->last = l;
		at->next = l->uid_next;
		at->unheld++;
		at->bytes += l->name->block->size;
	}
	for (i = 0; i < p->ncharges; i++) {
		const struct evict_uid *u = &p->charges[i].evict;

		if (w[i].next || w[i].last != u->newest ||
		    w[i].unheld != u->unheld || w[i].bytes != u->unheld_bytes) {
			rc = uid_books_problem(p, &p->charges[i], &w[i],
					       problem, len);
			break;
		}
	}
out:
	free(w);
	return rc;
}

/*
 * Every evictable name once in the tree, by its block; nothing else; the
 * unheld ones once on the list, nothing else, as many and as many bytes
 * as the books say; then each uid's list (uids_check).  A list that
 * loops or holds a link twice walks past the tree's count, and is
 * stopped there.
 */
int
evict_check(struct dpool *p, char *problem, size_t len)
{
	struct evict_link *l, *prev = NULL;
	struct block_name *n;
	const char *why;
	uint64_t bytes = 0;
	uint32_t count = 0, unheld = 0, listed = 0, evictable = 0;

	RB_FOREACH(l, evict_tree, &p->evict.by_off) {
		if ((why = tree_link_wrong(p, l, prev)))
			return link_problem(p, l, "tree", why, problem, len);
		unheld += l->on_lru;
		count++;
		prev = l;
	}
	prev = NULL;
	TAILQ_FOREACH(l, &p->evict.lru, lru) {
		if (++listed > count)
			why = "the list is longer than the tree";
		else
			why = list_link_wrong(p, l);
		if (why)
			return link_problem(p, l, "list", why, problem, len);
		bytes += l->name->block->size;
		prev = l;
	}
	if (p->evict.lru.tqh_last !=
	    (prev ? &prev->lru.tqe_next : &p->evict.lru.tqh_first)) {
		snprintf(problem, len, "pool %s: the eviction list's end is "
			 "not its last link", p->name);
		return -EFAULT;
	}
	for (n = block_names_from(&p->names, "", 0); n;
	     n = block_names_next(&p->names, n)) {
		if (!n->evict)
			continue;
		if (RB_FIND(evict_tree, &p->evict.by_off, n->evict) !=
		    n->evict) {
			snprintf(problem, len, "pool %s: evictable name %.64s "
				 "is not in the eviction tree", p->name,
				 n->name);
			return -EFAULT;
		}
		evictable++;
	}
	if (count == evictable && count == p->evict.count &&
	    listed == unheld && unheld == p->evict.unheld &&
	    bytes == p->evict.unheld_bytes)
		return uids_check(p, problem, len);
	snprintf(problem, len, "pool %s: %u evictable name%s, %u in the tree, "
		 "%u of them unheld, %u on the list of %llu bytes; the books "
		 "say %u, %u, %llu", p->name, evictable, log_plural(evictable),
		 count, unheld, listed, (unsigned long long)bytes,
		 p->evict.count, p->evict.unheld,
		 (unsigned long long)p->evict.unheld_bytes);
	return -EFAULT;
}
