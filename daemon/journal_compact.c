/*
 * journal_compact.c - the live set of a crash journal's records
 * (journal_compact.h).
 *
 * Pools in an array in the order they were made (a few hundred at most,
 * and the last one named is looked at first); blocks by (pool, offset)
 * in an open-addressing table sized once, from the bytes of records to
 * come: a persist record is 8 words, so there are at most bytes / 64
 * blocks, and no request ever waits for the table to grow.  The blocks'
 * array is allocated as large but only touched as blocks come.  A block
 * unpersisted stays in the table, dead, so that a persist at its offset
 * later finds it again; a destroyed pool's blocks are left out when the
 * snapshot is read.
 *
 * A block's name is an index into a second array, sized the same way: a
 * name record is 7 words or more, so there are at most bytes / 56 of
 * them, and each takes the next entry (a replace is an unname and a name,
 * so entries are never reused).  The entry holds the record's publisher,
 * length and bytes, malloc'd: a name's bytes are freed when it is taken,
 * a destroyed pool's with the table (they are left out, as its blocks).
 * The snapshot has a named block's name record right after its persist
 * record, which is all recover.c asks: a name of a live block; and the
 * name's generation right after that, and the last generation a pool
 * gave right after its record, before any name's, as recover.c asks; its
 * limit and user quota, if either is not 0, after those; its access
 * control list, if not empty, after those, its entries checked and
 * sorted as recover.c builds them (a list it would refuse gives the
 * compaction up); its user quotas of uids, if any, after those, the same
 * way.
 * The records fed are held to recover.c's rules for where generations
 * go, so that a journal it would refuse is never made into one it takes:
 * among them, that a name record is followed by its generation's unless
 * it is the last, in a journal of a writer with generations (journal_rec.h
 * has the test of both).
 *
 * The journal is this daemon's own, written by journal.c: a record that
 * does not follow (twice persisted, a pool that is not live, a name of a
 * block that is not persistent or has one) means the two files disagree,
 * and the caller then snapshots the pools instead.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "block_names.h"
#include "journal_compact.h"
#include "journal_rec.h"
#include "pool_acl.h"
#include "pool_uquota.h"

#define POOL_WORDS	(10 + JREC_NAME_MAX)	/* a pool's record, no sum */
#define BLOCK_WORDS	7			/* a persist's, no sum */
#define NAME_HEAD	5	/* a name record's words before its bytes */
#define NAME_MIN	(NAME_HEAD + 1)		/* ... with a byte, no sum */
#define NO_UID		((uint64_t)(uid_t)-1)	/* pool.h's NO_PERSISTER */

struct cpool {
	uint64_t w[POOL_WORDS];
	uint64_t generation;		/* the last it gave */
	size_t nblocks;			/* live */
	uint64_t limit;			/* JREC_BOUNDS's; 0: none */
	uint64_t user_quota;		/* ... */
	struct acl acl;			/* JREC_ACL's, built; n 0: none */
	struct uquota uquotas;		/* JREC_USER_QUOTAS', built */
	bool live;
};

struct cblock {
	uint64_t keep, off, size, requested;
	uint32_t pool, uid;
	uint32_t name;			/* index + 1 into names; 0: none */
	bool span, live;
	bool evictable;			/* its name's record is
					 * JREC_NAME_EVICTABLE */
	uint64_t generation;		/* its name's; 0: none */
};

struct jcompact {
	struct cpool *pools;
	size_t npools, pools_cap;
	size_t last;			/* the pool the last record named */
	struct cblock *blocks;
	size_t nblocks, blocks_max;
	uint32_t *slots;		/* index + 1 into blocks; 0: empty */
	size_t mask;
	uint64_t **names;		/* publisher, length, bytes... */
	size_t nnames, names_max;
	size_t out_pool, out_block;	/* where jcompact_next is */
	const struct cblock *named;	/* its name is the next record */
	const struct cblock *gen_of;	/* ... its name's generation */
	const struct cpool *gen_pool;	/* ... the pool's generations */
	const struct cpool *bounds_pool;	/* ... the pool's bounds */
	const struct cpool *acl_pool;	/* ... the pool's list */
	const struct cpool *uq_pool;	/* ... the pool's user quotas */
	/* The record fed before (type, keep, offset); past the snapshot? */
	uint32_t prev_type;
	uint64_t prev_keep, prev_off;
	bool changes;
	/* The bare-name rule (journal_rec.h): a name left bare, not the
	 * last, fed; a record of a writer with generations fed. */
	bool bare, generations;
};

struct jcompact *
jcompact_new(uint64_t bytes)
{
	struct jcompact *c = calloc(1, sizeof(*c));
	size_t n = 64;

	if (!c)
		return NULL;
	c->blocks_max = (size_t)(bytes / (8 * (BLOCK_WORDS + 1))) + 1;
	while (n < 2 * c->blocks_max)
		n *= 2;
	c->mask = n - 1;
	c->names_max = (size_t)(bytes / (8 * (NAME_MIN + 1))) + 1;
	c->blocks = malloc(c->blocks_max * sizeof(*c->blocks));
	c->slots = calloc(n, sizeof(*c->slots));
	c->names = malloc(c->names_max * sizeof(*c->names));
	if (!c->blocks || !c->slots || !c->names) {
		jcompact_free(c);
		return NULL;
	}
	return c;
}

void
jcompact_free(struct jcompact *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c->pools);
	free(c->blocks);
	free(c->slots);
	free(c);
}

/* The live pool of keep: its index, or -1. */
static ssize_t
pool_find(struct jcompact *c, uint64_t keep)
{
	size_t i;

	if (c->last < c->npools && c->pools[c->last].w[1] == keep)
		return c->pools[c->last].live ? (ssize_t)c->last : -1;
	for (i = 0; i < c->npools; i++)
		if (c->pools[i].w[1] == keep) {
			c->last = i;
			return c->pools[i].live ? (ssize_t)i : -1;
		}
	return -1;
}

static int
pool_add(struct jcompact *c, const uint64_t *w)
{
	if (w[1] == 0 || pool_find(c, w[1]) >= 0)
		return -EINVAL;
	if (c->npools == c->pools_cap) {
		size_t cap = c->pools_cap ? 2 * c->pools_cap : 16;
		void *m = reallocarray(c->pools, cap, sizeof(*c->pools));

		if (!m)
			return -ENOMEM;
		c->pools = m;
		c->pools_cap = cap;
	}
	memcpy(c->pools[c->npools].w, w, sizeof(c->pools[0].w));
	c->pools[c->npools].generation = 0;
	c->pools[c->npools].nblocks = 0;
	c->pools[c->npools].limit = 0;
	c->pools[c->npools].user_quota = 0;
	c->pools[c->npools].acl.n = 0;
	c->pools[c->npools].uquotas.n = 0;
	c->pools[c->npools++].live = true;
	return 0;
}

static size_t
slot_of(const struct jcompact *c, uint64_t keep, uint64_t off)
{
	uint64_t h = (keep * 0x9e3779b97f4a7c15ull) ^ off;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (size_t)h & c->mask;
}

/* The block at (keep, off), live or dead; made (dead) if none. */
static struct cblock *
block_get(struct jcompact *c, uint64_t keep, uint64_t off, bool make)
{
	struct cblock *b;
	size_t s;

	for (s = slot_of(c, keep, off); c->slots[s]; s = (s + 1) & c->mask) {
		b = &c->blocks[c->slots[s] - 1];
		if (b->keep == keep && b->off == off)
			return b;
	}
	if (!make || c->nblocks == c->blocks_max || c->nblocks >= UINT32_MAX)
		return NULL;
	b = &c->blocks[c->nblocks++];
	*b = (struct cblock){.keep = keep, .off = off};
	c->slots[s] = (uint32_t)c->nblocks;
	return b;
}

static int
feed_block(struct jcompact *c, enum jrec_type type, const uint64_t *w)
{
	ssize_t p = pool_find(c, w[1]);
	struct cblock *b;

	if (p < 0)
		return -EINVAL;
	/* What recover.c refuses, before a block is made for it. */
	if (type == JREC_PERSIST && (w[6] >= NO_UID || w[5] > 1))
		return -EINVAL;
	b = block_get(c, w[1], w[2], type == JREC_PERSIST);
	if (!b || b->live != (type != JREC_PERSIST))
		return -EINVAL;
	switch (type) {
	case JREC_PERSIST:
		b->pool = (uint32_t)p;
		b->span = w[5] != 0;
		b->uid = (uint32_t)w[6];
		b->live = true;
		c->pools[p].nblocks++;
		/* FALLTHROUGH */
	case JREC_RESIZE:
		b->size = w[3];
		b->requested = w[4];
		return 0;
	default:
		/* The daemon takes a name first: recover.c refuses this. */
		if (b->name)
			return -EINVAL;
		b->live = false;
		c->pools[p].nblocks--;
		return 0;
	}
}

/* A name record's words: a length recover.c takes, and words to match. */
static bool
name_fits(const uint64_t *w, unsigned n)
{
	return n >= NAME_MIN && w[4] != 0 && w[4] <= BLOCK_NAME_MAX &&
	    n == NAME_HEAD + (w[4] + 7) / 8 && w[3] < NO_UID;
}

/*
 * A name given to, or taken from, a live block, under recover.c's rules:
 * a record it would refuse gives the compaction up, never a snapshot it
 * refuses.
 */
static int
feed_name(struct jcompact *c, enum jrec_type type, const uint64_t *w,
	  unsigned n)
{
	bool naming = type != JREC_UNNAME;
	struct cblock *b;
	uint64_t *v;

	if (naming ? !name_fits(w, n) : n != 3)
		return -EINVAL;
	if (pool_find(c, w[1]) < 0 ||
	    !(b = block_get(c, w[1], w[2], false)) || !b->live ||
	    naming == (b->name != 0))
		return -EINVAL;
	if (type == JREC_UNNAME) {
		free(c->names[b->name - 1]);
		c->names[b->name - 1] = NULL;
		b->name = 0;
		return 0;
	}
	if (c->nnames == c->names_max || c->nnames >= UINT32_MAX)
		return -EINVAL;
	if (!(v = malloc((n - 3) * sizeof(*v))))
		return -ENOMEM;
	memcpy(v, &w[3], (n - 3) * sizeof(*v));
	c->names[c->nnames++] = v;
	b->name = (uint32_t)c->nnames;
	b->evictable = type == JREC_NAME_EVICTABLE;
	b->generation = 0;
	return 0;
}

/*
 * A generation record, under recover.c's rules (journal_rec.h): a pool's
 * last in the snapshot only, for the pool made last, before its blocks,
 * once; a name's the pool's next (which ends the snapshot) or, in the
 * snapshot right after the name's record, one the pool gave.
 */
static int
feed_generation(struct jcompact *c, enum jrec_type type, const uint64_t *w,
		unsigned n)
{
	struct cpool *p;
	struct cblock *b;
	ssize_t i;

	if (n != (type == JREC_GENERATIONS ? 3u : 4u) ||
	    (i = pool_find(c, w[1])) < 0)
		return -EINVAL;
	p = &c->pools[i];
	if (type == JREC_GENERATIONS) {
		if (w[2] == 0 || c->changes || p->generation || p->nblocks ||
		    (size_t)i != c->npools - 1)
			return -EINVAL;
		p->generation = w[2];
		return 0;
	}
	if (!(b = block_get(c, w[1], w[2], false)) || !b->live || !b->name ||
	    w[3] == 0 || w[3] - 1 > p->generation)
		return -EINVAL;
	if (w[3] - 1 == p->generation) {
		p->generation = w[3];
		c->changes = true;
	} else if (c->changes || !jrec_after_its_name(c->prev_type,
						      c->prev_keep,
						      c->prev_off, w))
		return -EINVAL;
	b->generation = w[3];
	return 0;
}

/*
 * A pool's access control list, n - 2 entries a word: each one acl_word
 * could make, the whole one acl_build takes (at most ACL_MAX, no kind and
 * id twice), as recover.c asks.  An emptied list is a record of none.
 */
static int
feed_acl(struct jcompact *c, const uint64_t *w, unsigned n)
{
	struct acl_entry e[ACL_MAX];
	ssize_t p;
	unsigned i;

	if (n < 2 || n - 2 > ACL_MAX || (p = pool_find(c, w[1])) < 0)
		return -EINVAL;
	for (i = 0; i < n - 2; i++)
		if (!acl_unword(w[2 + i], &e[i]))
			return -EINVAL;
	if (acl_build(&c->pools[p].acl, e, n - 2, NULL, 0) != 0)
		return -EINVAL;
	return 0;
}

/*
 * A pool's user quotas of uids, (n - 2) / 2 entries of two words: each
 * uid below 2^32, the whole a list uquota_build takes (at most
 * UQUOTA_MAX, no uid twice, none of nobody's), as recover.c asks.
 * Emptied: a record of none.
 */
static int
feed_user_quotas(struct jcompact *c, const uint64_t *w, unsigned n)
{
	struct uquota_entry e[UQUOTA_MAX];
	ssize_t p;
	unsigned i;

	if (n < 2 || (n - 2) % 2 || (n - 2) / 2 > UQUOTA_MAX ||
	    (p = pool_find(c, w[1])) < 0)
		return -EINVAL;
	for (i = 0; i < (n - 2) / 2; i++) {
		if (w[2 + 2 * i] > UINT32_MAX)
			return -EINVAL;
		e[i].uid = (uint32_t)w[2 + 2 * i];
		e[i].bytes = w[3 + 2 * i];
	}
	if (uquota_build(&c->pools[p].uquotas, e, (n - 2) / 2, NULL, 0) != 0)
		return -EINVAL;
	return 0;
}

static int
feed(struct jcompact *c, const uint64_t *w, unsigned n)
{
	static const unsigned words[] = {
		[JREC_POOL] = POOL_WORDS, [JREC_SET] = 7, [JREC_GONE] = 2,
		[JREC_PERSIST] = BLOCK_WORDS, [JREC_RESIZE] = 5,
		[JREC_UNPERSIST] = 3,
	};
	enum jrec_type type = (enum jrec_type)(uint32_t)w[0];
	ssize_t p;

	if (type == JREC_BOUNDS) {	/* keep, limit[, user quota] */
		if ((n != 3 && n != 4) || (p = pool_find(c, w[1])) < 0)
			return -EINVAL;
		c->pools[p].limit = w[2];
		c->pools[p].user_quota = n == 4 ? w[3] : 0;
		return 0;
	}
	if (type == JREC_ACL)
		return feed_acl(c, w, n);
	if (type == JREC_USER_QUOTAS)
		return feed_user_quotas(c, w, n);
	if (type == JREC_NAME || type == JREC_UNNAME ||
	    type == JREC_NAME_EVICTABLE)
		return feed_name(c, type, w, n);
	if (type == JREC_GENERATIONS || type == JREC_GENERATION)
		return feed_generation(c, type, w, n);
	if (type < JREC_POOL || type > JREC_UNPERSIST || n != words[type])
		return -EINVAL;
	switch (type) {
	case JREC_POOL:
		return pool_add(c, w);
	case JREC_SET:
	case JREC_GONE:
		if ((p = pool_find(c, w[1])) < 0)
			return -EINVAL;
		if (type == JREC_GONE)
			c->pools[p].live = false;
		else	/* uid, gid, mode, quota, retain */
			memcpy(&c->pools[p].w[5], &w[2], 5 * sizeof(*w));
		return 0;
	default:
		return feed_block(c, type, w);
	}
}

int
jcompact_feed(struct jcompact *c, const uint64_t *w, unsigned n)
{
	uint32_t type = (uint32_t)w[0];
	bool bare, generations;
	int rc;

	/*
	 * recover.c refuses a journal with generations and a bare name
	 * before its last record, whichever of the two comes first: the
	 * record that makes both so is refused.  A name left bare as the
	 * last record fed (a crash between the two) is taken.  (w[2] is at
	 * most the sum: the test reads no further.)
	 */
	bare = c->bare || (n >= 2 && jrec_leaves_name_bare(c->prev_type,
	    c->prev_keep, c->prev_off, w));
	generations = c->generations || jrec_of_generations(type);
	if (bare && generations)
		return -EINVAL;
	if ((rc = feed(c, w, n)) != 0)
		return rc;
	c->bare = bare;
	c->generations = generations;
	/* Records only a change writes: the snapshot is over. */
	if (type == JREC_SET || type == JREC_GONE || type == JREC_RESIZE ||
	    type == JREC_UNPERSIST || type == JREC_UNNAME)
		c->changes = true;
	c->prev_type = type;
	c->prev_keep = w[1];
	c->prev_off = n > 2 ? w[2] : 0;
	return 0;
}

/* The name record of b, just read out. */
static int
next_name(struct jcompact *c, uint64_t *w, unsigned *n)
{
	const struct cblock *b = c->named;
	const uint64_t *v = c->names[b->name - 1];

	c->named = NULL;
	if (b->generation)
		c->gen_of = b;
	w[1] = b->keep;
	w[2] = b->off;
	*n = NAME_HEAD + (unsigned)(v[1] + 7) / 8;
	memcpy(&w[3], v, (*n - 3) * sizeof(*w));
	return b->evictable ? JREC_NAME_EVICTABLE : JREC_NAME;
}

/* The generation record that follows a pool's or a name's. */
static int
next_generation(struct jcompact *c, uint64_t *w, unsigned *n)
{
	if (c->gen_pool) {
		w[1] = c->gen_pool->w[1];
		w[2] = c->gen_pool->generation;
		c->gen_pool = NULL;
		*n = 3;
		return JREC_GENERATIONS;
	}
	w[1] = c->gen_of->keep;
	w[2] = c->gen_of->off;
	w[3] = c->gen_of->generation;
	c->gen_of = NULL;
	*n = 4;
	return JREC_GENERATION;
}

/* The list record that follows a pool's (and its bounds'). */
static int
next_acl(struct jcompact *c, uint64_t *w, unsigned *n)
{
	const struct cpool *p = c->acl_pool;
	uint32_t i;

	w[1] = p->w[1];
	for (i = 0; i < p->acl.n; i++)
		w[2 + i] = acl_word(&p->acl.e[i]);
	*n = 2 + p->acl.n;
	c->acl_pool = NULL;
	return JREC_ACL;
}

/* The user quota record that follows a pool's (and its list's). */
static int
next_user_quotas(struct jcompact *c, uint64_t *w, unsigned *n)
{
	const struct cpool *p = c->uq_pool;
	uint32_t i;

	w[1] = p->w[1];
	for (i = 0; i < p->uquotas.n; i++) {
		w[2 + 2 * i] = p->uquotas.e[i].uid;
		w[3 + 2 * i] = p->uquotas.e[i].bytes;
	}
	*n = 2 + 2 * p->uquotas.n;
	c->uq_pool = NULL;
	return JREC_USER_QUOTAS;
}

int
jcompact_next(struct jcompact *c, uint64_t *w, unsigned *n)
{
	const struct cblock *b;

	if (c->named)
		return next_name(c, w, n);
	if (c->gen_pool || c->gen_of)
		return next_generation(c, w, n);
	if (c->bounds_pool) {
		w[1] = c->bounds_pool->w[1];
		w[2] = c->bounds_pool->limit;
		w[3] = c->bounds_pool->user_quota;
		*n = w[3] ? 4 : 3;
		c->bounds_pool = NULL;
		return JREC_BOUNDS;
	}
	if (c->acl_pool)
		return next_acl(c, w, n);
	if (c->uq_pool)
		return next_user_quotas(c, w, n);
	while (c->out_pool < c->npools) {
		const struct cpool *p = &c->pools[c->out_pool++];

		if (!p->live)
			continue;
		if (p->generation)
			c->gen_pool = p;
		if (p->limit || p->user_quota)
			c->bounds_pool = p;
		if (p->acl.n)
			c->acl_pool = p;
		if (p->uquotas.n)
			c->uq_pool = p;
		memcpy(w, p->w, sizeof(p->w));
		*n = POOL_WORDS;
		return JREC_POOL;
	}
	while (c->out_block < c->nblocks) {
		b = &c->blocks[c->out_block++];
		if (!b->live || !c->pools[b->pool].live)
			continue;
		w[1] = b->keep;
		w[2] = b->off;
		w[3] = b->size;
		w[4] = b->requested;
		w[5] = b->span;
		w[6] = b->uid;
		*n = BLOCK_WORDS;
		if (b->name)
			c->named = b;
		return JREC_PERSIST;
	}
	return 0;
}
