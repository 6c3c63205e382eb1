/*
 * cache_table.c - the block table of a handle's cache (cache_table.h).
 *
 * A hash of offset -> entry in CTABLE_STRIPES stripes, the stripe chosen by
 * the top bits of a multiplicative hash of the granule number, each stripe
 * an open-addressing table with linear probing and its own lock.  Load stays
 * at most 3/4, so a probe always ends at an empty slot; removal shifts the
 * entries behind the hole back instead of leaving tombstones, so lookups
 * stay short however long the table lives.  A stripe that cannot grow (no
 * memory) simply does not take the entry: the block is then not cached,
 * which costs a round trip and nothing else.
 */
#include <stdlib.h>

#include "cache_table.h"

#define CTABLE_MIN	64
#define NO_OFF		UINT64_MAX

static uint64_t
hash(const struct ctable *t, uint64_t off)
{
	return (off >> t->gshift) * 0x9e3779b97f4a7c15ull;
}

static struct ctable_stripe *
stripe_of(struct ctable *t, uint64_t off)
{
	return &t->stripe[hash(t, off) >> 60];
}

static uint32_t
slack_of(const struct ctable_entry *e)
{
	uint32_t	req = e->req & ~CTABLE_SHRINKING;

	return e->req == CTABLE_CACHED || req >= e->usable ? 0 :
	    e->usable - req;
}

/* Stripe locked; others read it without the lock (ctable_slack). */
static void
slack_add(struct ctable_stripe *st, int64_t d)
{
	if (d != 0)
		__atomic_store_n(&st->slack, st->slack + (uint64_t)d,
		    __ATOMIC_RELAXED);
}

/* The slot of off, or -1.  Stripe locked. */
static long
find(const struct ctable *t, const struct ctable_stripe *st, uint64_t off)
{
	size_t	i, mask;

	if (st->cap == 0)
		return -1;
	mask = st->cap - 1;
	for (i = hash(t, off) & mask; st->e[i].off != NO_OFF;
	    i = (i + 1) & mask)
		if (st->e[i].off == off)
			return (long)i;
	return -1;
}

static void
place(const struct ctable *t, struct ctable_stripe *st,
    const struct ctable_entry *e)
{
	size_t	i, mask = st->cap - 1;

	for (i = hash(t, e->off) & mask; st->e[i].off != NO_OFF;
	    i = (i + 1) & mask)
		;
	st->e[i] = *e;
	st->n++;
}

/* Room for one more entry; 0 if memory ran out.  Stripe locked. */
static int
reserve(const struct ctable *t, struct ctable_stripe *st)
{
	struct ctable_entry	*old = st->e, *e;
	size_t			 oldcap = st->cap, cap, i;

	if ((st->n + 1) * 4 <= st->cap * 3)
		return 1;
	cap = oldcap ? oldcap * 2 : CTABLE_MIN;
	if ((e = malloc(cap * sizeof *e)) == NULL)
		return 0;
	for (i = 0; i < cap; i++)
		e[i].off = NO_OFF;
	st->e = e;
	st->cap = cap;
	st->n = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i].off != NO_OFF)
			place(t, st, &old[i]);
	free(old);
	return 1;
}

/* Empty slot i, moving back the entries whose probe passed it. */
static void
remove_at(struct ctable *t, struct ctable_stripe *st, size_t i)
{
	size_t	j, home, mask = st->cap - 1;

	slack_add(st, -(int64_t)slack_of(&st->e[i]));
	st->e[i].off = NO_OFF;
	st->n--;
	for (j = (i + 1) & mask; st->e[j].off != NO_OFF; j = (j + 1) & mask) {
		home = hash(t, st->e[j].off) & mask;
		/* The hole lies on e[j]'s probe path: e[j] moves into it. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			st->e[i] = st->e[j];
			st->e[j].off = NO_OFF;
			i = j;
		}
	}
}

void
ctable_init(struct ctable *t, unsigned gshift)
{
	int	i;

	t->gshift = gshift;
	for (i = 0; i < CTABLE_STRIPES; i++) {
		pthread_mutex_init(&t->stripe[i].lock, NULL);
		t->stripe[i].e = NULL;
		t->stripe[i].cap = t->stripe[i].n = 0;
		t->stripe[i].slack = 0;
	}
}

void
ctable_destroy(struct ctable *t)
{
	int	i;

	for (i = 0; i < CTABLE_STRIPES; i++) {
		free(t->stripe[i].e);
		pthread_mutex_destroy(&t->stripe[i].lock);
	}
}

void
ctable_clear(struct ctable *t)
{
	struct ctable_stripe	*st;
	size_t			 i;
	int			 s;

	for (s = 0; s < CTABLE_STRIPES; s++) {
		st = &t->stripe[s];
		pthread_mutex_lock(&st->lock);
		for (i = 0; i < st->cap; i++)
			if (st->e[i].off != NO_OFF)
				slack_add(st, -(int64_t)slack_of(&st->e[i]));
		free(st->e);
		st->e = NULL;
		st->cap = st->n = 0;
		pthread_mutex_unlock(&st->lock);
	}
}

void
ctable_put(struct ctable *t, uint64_t off, uint32_t usable, uint32_t req)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	struct ctable_entry	 e = {.off = off, .usable = usable, .req = req};
	long			 i;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) >= 0) {
		slack_add(st, -(int64_t)slack_of(&st->e[i]));
		st->e[i] = e;
		slack_add(st, slack_of(&e));
	} else if (reserve(t, st)) {
		place(t, st, &e);
		slack_add(st, slack_of(&e));
	}
	pthread_mutex_unlock(&st->lock);
}

enum ctable_found
ctable_free(struct ctable *t, uint64_t off, int keep, uint32_t *usable)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	enum ctable_found	 r;
	long			 i;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) < 0)
		r = CTABLE_ABSENT;
	else if (st->e[i].req == CTABLE_CACHED)
		r = CTABLE_WAS_CACHED;
	else if (!keep || (st->e[i].req & CTABLE_SHRINKING)) {
		remove_at(t, st, (size_t)i);
		r = CTABLE_DROPPED;
	} else {
		slack_add(st, -(int64_t)slack_of(&st->e[i]));
		st->e[i].req = CTABLE_CACHED;
		*usable = st->e[i].usable;
		r = CTABLE_KEPT;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int
ctable_revive(struct ctable *t, uint64_t off, uint32_t req)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	long			 i;
	int			 r = 0;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) >= 0 && st->e[i].req == CTABLE_CACHED) {
		st->e[i].req = req;
		slack_add(st, slack_of(&st->e[i]));
		r = 1;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

void
ctable_drop_cached(struct ctable *t, uint64_t off)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	long			 i;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) >= 0 && st->e[i].req == CTABLE_CACHED)
		remove_at(t, st, (size_t)i);
	pthread_mutex_unlock(&st->lock);
}

void
ctable_remove(struct ctable *t, uint64_t off)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	long			 i;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) >= 0)
		remove_at(t, st, (size_t)i);
	pthread_mutex_unlock(&st->lock);
}

enum ctable_found
ctable_lookup(struct ctable *t, uint64_t off, uint32_t *req)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	enum ctable_found	 r = CTABLE_ABSENT;
	long			 i;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) >= 0) {
		if (st->e[i].req == CTABLE_CACHED)
			r = CTABLE_WAS_CACHED;
		else {
			*req = st->e[i].req & ~CTABLE_SHRINKING;
			r = CTABLE_KEPT;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

size_t
ctable_slack_take(struct ctable *t, struct ctable_slack *out, size_t max)
{
	struct ctable_stripe	*st;
	struct ctable_entry	*e;
	size_t			 n = 0, i;
	int			 s;

	for (s = 0; s < CTABLE_STRIPES && n < max; s++) {
		st = &t->stripe[s];
		pthread_mutex_lock(&st->lock);
		for (i = 0; i < st->cap && n < max; i++) {
			e = &st->e[i];
			if (e->off == NO_OFF || e->req == CTABLE_CACHED ||
			    (e->req & CTABLE_SHRINKING) || slack_of(e) == 0)
				continue;
			e->req |= CTABLE_SHRINKING;
			out[n].off = e->off;
			out[n].req = e->req & ~CTABLE_SHRINKING;
			n++;
		}
		pthread_mutex_unlock(&st->lock);
	}
	return n;
}

void
ctable_shrunk(struct ctable *t, uint64_t off, uint32_t usable)
{
	struct ctable_stripe	*st = stripe_of(t, off);
	struct ctable_entry	*e;
	long			 i;

	pthread_mutex_lock(&st->lock);
	if ((i = find(t, st, off)) >= 0 &&
	    (st->e[i].req & CTABLE_SHRINKING)) {
		e = &st->e[i];
		slack_add(st, -(int64_t)slack_of(e));
		e->req &= ~CTABLE_SHRINKING;
		if (usable != 0)
			e->usable = usable;
		slack_add(st, slack_of(e));
	}
	pthread_mutex_unlock(&st->lock);
}

uint64_t
ctable_slack(struct ctable *t)
{
	uint64_t	sum = 0;
	int		i;

	for (i = 0; i < CTABLE_STRIPES; i++)
		sum += __atomic_load_n(&t->stripe[i].slack, __ATOMIC_RELAXED);
	return sum;
}
