/*
 * cache_table.h - a block table of a handle's cache: blocks the handle got
 * from the daemon and may keep when they are freed, by offset.
 *
 * An entry is live (the program holds it; req is what the program asked
 * for, rounded to the granularity, and all it may use of the block), cached
 * (freed by the program, kept by the cache), being shrunk (its slack is
 * being given back to the daemon), or being flushed (a cached block whose
 * free is on its way to the daemon).  The last two are busy: what the
 * daemon makes of them is not known yet.  The slack of a live block is usable
 * minus req: bytes the block has only because the cache served the request
 * from a larger block; the table keeps their sum.
 *
 * A table has no lock of its own: each belongs to one shard of the cache
 * (cache.c), whose lock the caller holds.
 */
#ifndef CLIENT_CACHE_TABLE_H
#define CLIENT_CACHE_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct ctable_entry {
	uint64_t	 off;		/* UINT64_MAX: an empty slot */
	/*
	 * A block being flushed has its size in the flush's own list; its
	 * entry says which flush has it, so that no other settles it.
	 */
	union {
		uint32_t usable;	/* the block's size in the daemon */
		uint32_t flight;	/* CTABLE_FLUSHING: by which flush */
	};
	uint32_t	 req;		/* CTABLE_CACHED, CTABLE_FLUSHING,
					 * or the program's size, with
					 * CTABLE_SHRINKING while shrunk */
};
#define CTABLE_CACHED		0u
#define CTABLE_SHRINKING	0x80000000u
/* Cached, and busy until the daemon has answered its FreeBatch. */
#define CTABLE_FLUSHING		(CTABLE_SHRINKING | CTABLE_CACHED)

struct ctable {
	struct ctable_entry	*e;
	size_t			 cap, n;	/* cap: 0 or a power of two */
	uint64_t		 slack;		/* of its live blocks; others
						 * read it without the lock */
	unsigned		 gshift;
};

#define CTABLE_EMPTY		UINT64_MAX
/* Where off's probe starts: a multiplicative hash of its granule. */
#define CTABLE_HOME(t, off)						\
	((size_t)(((off) >> (t)->gshift) * 0x9e3779b97f4a7c15ull) &	\
	    ((t)->cap - 1))

/* What a lookup found. */
enum ctable_found {
	CTABLE_ABSENT,		/* not here */
	CTABLE_WAS_CACHED,	/* freed already */
	CTABLE_LIVE,		/* held by the program */
	CTABLE_BUSY,		/* being shrunk or flushed */
};

/* A block with slack, to be shrunk to req. */
struct ctable_slack {
	uint64_t	 off;
	uint32_t	 req;
};

/*
 * The slot of off, or -1.  Inline: a cache hit looks its block up on
 * both its alloc and its free.
 */
static inline long
ctable_slot(const struct ctable *t, uint64_t off)
{
	size_t	i, mask;

	if (t->cap == 0)
		return -1;
	mask = t->cap - 1;
	for (i = CTABLE_HOME(t, off); t->e[i].off != CTABLE_EMPTY;
	    i = (i + 1) & mask)
		if (t->e[i].off == off)
			return (long)i;
	return -1;
}

void	ctable_init(struct ctable *, unsigned gshift);
void	ctable_destroy(struct ctable *);
void	ctable_clear(struct ctable *);
/* Forget the live and shrinking entries; cached and flushing ones stay. */
void	ctable_clear_live(struct ctable *);

/*
 * Enter a block, live (req), cached (CTABLE_CACHED) or being flushed;
 * replaces any.  0 if it is not here: a new entry found no memory.
 */
int	ctable_put(struct ctable *, uint64_t off, uint32_t usable,
	    uint32_t req);
/*
 * What off is here; *e gets the entry and *slot where it is, if it is
 * here.  The slot stays off's until the table is changed otherwise than
 * by ctable_set_req_at.  Inline, as the two below: every cache hit.
 */
static inline enum ctable_found
ctable_find(const struct ctable *t, uint64_t off, struct ctable_entry *e,
    size_t *slot)
{
	long	i;

	if ((i = ctable_slot(t, off)) < 0)
		return CTABLE_ABSENT;
	*e = t->e[i];
	*slot = (size_t)i;
	if (e->req == CTABLE_CACHED)
		return CTABLE_WAS_CACHED;
	return (e->req & CTABLE_SHRINKING) ? CTABLE_BUSY : CTABLE_LIVE;
}

/* An entry's slack: what the program holds of it beyond req. */
static inline uint32_t
ctable_slack_of(const struct ctable_entry *e)
{
	uint32_t	req = e->req & ~CTABLE_SHRINKING;

	/* Cached or being flushed: the program holds none of it. */
	return req == CTABLE_CACHED || req >= e->usable ? 0 :
	    e->usable - req;
}

/* Set the req of the entry in slot, as ctable_find gave it. */
static inline void
ctable_set_req_at(struct ctable *t, size_t slot, uint32_t req)
{
	int64_t	d = -(int64_t)ctable_slack_of(&t->e[slot]);

	t->e[slot].req = req;
	d += ctable_slack_of(&t->e[slot]);
	/* Others read the sum without the lock. */
	if (d != 0)
		__atomic_store_n(&t->slack, t->slack + (uint64_t)d,
		    __ATOMIC_RELAXED);
}

/* Set a present entry's req (CTABLE_CACHED: it is freed into the cache). */
void	ctable_set_req(struct ctable *, uint64_t off, uint32_t req);
/* A present cached entry is being flushed, by flight. */
void	ctable_set_flushing(struct ctable *, uint64_t off, uint32_t flight);
/* Forget off; 0 if it was not here. */
int	ctable_remove(struct ctable *, uint64_t off);
/*
 * Forget off if flight is flushing it: not a later block at its offset,
 * nor the same block taken again by a later flush after the daemon freed
 * it and handed it back.
 */
void	ctable_flushed(struct ctable *, uint64_t off, uint32_t flight);
/* Mark up to max live blocks with slack as being shrunk; how many. */
size_t	ctable_slack_take(struct ctable *, struct ctable_slack *, size_t max);
/* Shrinking off is over: its new usable size, or 0 if it failed. */
void	ctable_shrunk(struct ctable *, uint64_t off, uint32_t usable);

#endif /* CLIENT_CACHE_TABLE_H */
