/*
 * cache_table.c - a block table of a handle's cache (cache_table.h).
 *
 * An open-addressing hash of offset -> entry with linear probing, keyed by
 * a multiplicative hash of the granule number.  Load stays at most 3/4, so
 * a probe always ends at an empty slot; removal shifts the entries behind
 * the hole back instead of leaving tombstones, so lookups stay short
 * however long the table lives.  A table that cannot grow (no memory)
 * simply does not take the entry: the block is then not cached, which costs
 * a round trip and nothing else.
 */
#include <stdlib.h>

#include "cache_table.h"

#define CTABLE_MIN	64
#define NO_OFF		CTABLE_EMPTY

static size_t
home(const struct ctable *t, uint64_t off)
{
	return CTABLE_HOME(t, off);
}

static uint32_t
slack_of(const struct ctable_entry *e)
{
	return ctable_slack_of(e);
}

static void
slack_add(struct ctable *t, int64_t d)
{
	if (d != 0)
		__atomic_store_n(&t->slack, t->slack + (uint64_t)d,
		    __ATOMIC_RELAXED);
}

static long
slot_of(const struct ctable *t, uint64_t off)
{
	return ctable_slot(t, off);
}

static void
place(struct ctable *t, const struct ctable_entry *e)
{
	size_t	i, mask = t->cap - 1;

	for (i = home(t, e->off); t->e[i].off != NO_OFF; i = (i + 1) & mask)
		;
	t->e[i] = *e;
	t->n++;
}

/* Room for one more entry; 0 if memory ran out. */
static int
reserve(struct ctable *t)
{
	struct ctable_entry	*old = t->e, *e;
	size_t			 oldcap = t->cap, cap, i;

	if ((t->n + 1) * 4 <= t->cap * 3)
		return 1;
	cap = oldcap ? oldcap * 2 : CTABLE_MIN;
	if ((e = malloc(cap * sizeof *e)) == NULL)
		return 0;
	for (i = 0; i < cap; i++)
		e[i].off = NO_OFF;
	t->e = e;
	t->cap = cap;
	t->n = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i].off != NO_OFF)
			place(t, &old[i]);
	free(old);
	return 1;
}

/* Empty slot i, moving back the entries whose probe passed it. */
static void
remove_at(struct ctable *t, size_t i)
{
	size_t	j, h, mask = t->cap - 1;

	slack_add(t, -(int64_t)slack_of(&t->e[i]));
	t->e[i].off = NO_OFF;
	t->n--;
	for (j = (i + 1) & mask; t->e[j].off != NO_OFF; j = (j + 1) & mask) {
		h = home(t, t->e[j].off);
		/* The hole lies on e[j]'s probe path: e[j] moves into it. */
		if (((j - h) & mask) >= ((j - i) & mask)) {
			t->e[i] = t->e[j];
			t->e[j].off = NO_OFF;
			i = j;
		}
	}
}

void
ctable_init(struct ctable *t, unsigned gshift)
{
	t->e = NULL;
	t->cap = t->n = 0;
	t->slack = 0;
	t->gshift = gshift;
}

void
ctable_destroy(struct ctable *t)
{
	free(t->e);
	ctable_init(t, t->gshift);
}

void
ctable_clear(struct ctable *t)
{
	free(t->e);
	t->e = NULL;
	t->cap = t->n = 0;
	__atomic_store_n(&t->slack, 0, __ATOMIC_RELAXED);
}

void
ctable_clear_live(struct ctable *t)
{
	size_t	i = 0;

	/*
	 * remove_at moves into slot i only entries of slots not looked at
	 * yet, or kept already: so slot i is looked at again.
	 */
	while (i < t->cap) {
		if (t->e[i].off != NO_OFF &&
		    (t->e[i].req & ~CTABLE_SHRINKING) != CTABLE_CACHED)
			remove_at(t, i);
		else
			i++;
	}
	if (t->n == 0)
		ctable_clear(t);
}

int
ctable_put(struct ctable *t, uint64_t off, uint32_t usable, uint32_t req)
{
	struct ctable_entry	 e = {.off = off, .usable = usable, .req = req};
	long			 i;

	if ((i = slot_of(t, off)) >= 0) {
		slack_add(t, -(int64_t)slack_of(&t->e[i]));
		t->e[i] = e;
	} else if (reserve(t))
		place(t, &e);
	else
		return 0;
	slack_add(t, slack_of(&e));
	return 1;
}

void
ctable_set_req(struct ctable *t, uint64_t off, uint32_t req)
{
	long	i;

	if ((i = slot_of(t, off)) >= 0)
		ctable_set_req_at(t, (size_t)i, req);
}

void
ctable_set_flushing(struct ctable *t, uint64_t off, uint32_t flight)
{
	long	i;

	if ((i = slot_of(t, off)) < 0)
		return;
	slack_add(t, -(int64_t)slack_of(&t->e[i]));
	t->e[i].req = CTABLE_FLUSHING;
	t->e[i].flight = flight;
}

int
ctable_remove(struct ctable *t, uint64_t off)
{
	long	i;

	if ((i = slot_of(t, off)) < 0)
		return 0;
	remove_at(t, (size_t)i);
	return 1;
}

void
ctable_flushed(struct ctable *t, uint64_t off, uint32_t flight)
{
	long	i;

	if ((i = slot_of(t, off)) >= 0 && t->e[i].req == CTABLE_FLUSHING &&
	    t->e[i].flight == flight)
		remove_at(t, (size_t)i);
}

size_t
ctable_slack_take(struct ctable *t, struct ctable_slack *out, size_t max)
{
	struct ctable_entry	*e;
	size_t			 n = 0, i;

	for (i = 0; i < t->cap && n < max; i++) {
		e = &t->e[i];
		if (e->off == NO_OFF || (e->req & CTABLE_SHRINKING) ||
		    slack_of(e) == 0)
			continue;
		e->req |= CTABLE_SHRINKING;
		out[n].off = e->off;
		out[n].req = e->req & ~CTABLE_SHRINKING;
		n++;
	}
	return n;
}

void
ctable_shrunk(struct ctable *t, uint64_t off, uint32_t usable)
{
	struct ctable_entry	*e;
	long			 i;

	if ((i = slot_of(t, off)) < 0 || !(t->e[i].req & CTABLE_SHRINKING) ||
	    t->e[i].req == CTABLE_FLUSHING)
		return;
	e = &t->e[i];
	slack_add(t, -(int64_t)slack_of(e));
	e->req &= ~CTABLE_SHRINKING;
	if (usable != 0)
		e->usable = usable;
	slack_add(t, slack_of(e));
}
