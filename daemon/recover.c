/*
 * recover.c - the crash journal replayed (journal_rec.h) into a state for
 * restore.c.
 *
 * The journal is read to its committed end, record by record, each one
 * checked: its hash, its length for its type, a pool it names that is
 * live, a block it names that is (or, for a persist, is not) persistent,
 * a generation or socket record where journal.c writes one (journal_rec.h:
 * the snapshot's forms only before the first record of a change), and, in
 * a journal of a writer that has generations, a name record followed by
 * its generation's unless it is the last; a pool's access control list
 * and its user quotas of uids each whole and valid (pool_acl.h,
 * pool_uquota.h), never a part of either.
 * Anything wrong refuses the journal whole: a crash then starts fresh,
 * as a refused planned state does, rather than half a pool.  Only a pool
 * whose keep.<n> the store does not hold, or holds twice, neither told
 * for its memory, is left out alone (place): that loss or doubt is the
 * store's, not the journal's.
 * Blocks are found by (pool, offset) in a table of their own; one
 * unpersisted stays in it, dead, so that a persist at the same offset
 * later finds it again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_rec.h"
#include "log.h"
#include "pool.h"
#include "recover.h"
#include "restore_check.h"

struct rblock {
	uint64_t keep, off, size, requested, uid;
	uint32_t pool;		/* index into replay.pools */
	bool span, live;
	/* Its name (JREC_NAME), malloc'd, or NULL. */
	uint8_t *name;
	uint32_t name_len, publisher;
	bool evictable;		/* JREC_NAME_EVICTABLE's */
	uint64_t generation;	/* its name's (JREC_GENERATION); 0: none */
	uint64_t named_at;	/* its name record's place among them */
};

struct rpool {
	uint64_t keep;
	Poolmgrd__PoolState *ps;
	bool live;
	size_t nblocks;
	uint64_t generation;	/* the last it gave (JREC_GENERATION[S]) */
};

struct replay {
	struct rpool *pools;
	size_t npools, pools_cap;
	struct rblock *blocks;
	size_t nblocks, blocks_cap;
	uint32_t *slots;	/* index + 1 into blocks; 0: empty */
	size_t nslots;
	char sock[JREC_SOCKET_MAX + 1];	/* JREC_SOCKET's; "": none */
	uint32_t sock_mode;
	const uint64_t *prev;	/* the record before this one, or NULL */
	bool changes;		/* past the snapshot (journal_rec.h) */
	uint64_t named;		/* name records read */
	bool generations;	/* a record of a writer with generations */
	const uint64_t *bare;	/* the first name record followed by
				 * anything but its generation's, or NULL */
	uint64_t bare_at;	/* its byte in the journal */
	char *why;
	size_t len;
};

/* "<prefix><n>": n, or 0 (no id is 0). */
static uint64_t
name_id(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	uint64_t v;

	if (strncmp(name, prefix, n) != 0 || name[n] < '1' || name[n] > '9')
		return 0;
	v = strtoull(name + n, &end, 10);
	return *end ? 0 : v;
}

bool
recover_wanted(const struct passed_fds *pf)
{
	unsigned i;

	for (i = 0; i < pf->n; i++)
		if (pf->fd[i] >= 0 && name_id(pf->name[i], "journal."))
			return true;
	return false;
}

static size_t
slot_of(const struct replay *r, uint64_t keep, uint64_t off)
{
	uint64_t h = (keep * 0x9e3779b97f4a7c15ull) ^ off;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (size_t)h & (r->nslots - 1);
}

static struct rblock *
block_find(struct replay *r, uint64_t keep, uint64_t off)
{
	size_t s;

	if (!r->nslots)
		return NULL;
	for (s = slot_of(r, keep, off); r->slots[s];
	     s = (s + 1) & (r->nslots - 1)) {
		struct rblock *b = &r->blocks[r->slots[s] - 1];

		if (b->keep == keep && b->off == off)
			return b;
	}
	return NULL;
}

static void
slot_put(struct replay *r, size_t i)
{
	size_t s = slot_of(r, r->blocks[i].keep, r->blocks[i].off);

	while (r->slots[s])
		s = (s + 1) & (r->nslots - 1);
	r->slots[s] = (uint32_t)i + 1;
}

static struct rblock *
block_add(struct replay *r)
{
	size_t i;

	if (r->nblocks >= UINT32_MAX - 1)
		return NULL;
	if (r->nblocks == r->blocks_cap) {
		size_t cap = r->blocks_cap ? 2 * r->blocks_cap : 64;
		void *m = reallocarray(r->blocks, cap, sizeof(*r->blocks));

		if (!m)
			return NULL;
		r->blocks = m;
		r->blocks_cap = cap;
	}
	if (2 * (r->nblocks + 1) > r->nslots) {
		size_t n = r->nslots ? 2 * r->nslots : 128;
		uint32_t *s = calloc(n, sizeof(*s));

		if (!s)
			return NULL;
		free(r->slots);
		r->slots = s;
		r->nslots = n;
		for (i = 0; i < r->nblocks; i++)
			slot_put(r, i);
	}
	r->blocks[r->nblocks] = (struct rblock){0};
	return &r->blocks[r->nblocks++];
}

static struct rpool *
pool_of(struct replay *r, uint64_t keep)
{
	size_t i;

	for (i = 0; i < r->npools; i++)
		if (r->pools[i].keep == keep)
			return r->pools[i].live ? &r->pools[i] : NULL;
	return NULL;
}

static int
do_pool(struct replay *r, const uint64_t *w)
{
	Poolmgrd__PoolState *ps;
	struct rpool *rp;
	char name[JREC_NAME_MAX * 8 + 1];
	size_t i;

	for (i = 0; i < r->npools; i++)
		if (r->pools[i].keep == w[1])
			return state_why(r->why, r->len, "keep.%llu twice",
					 (unsigned long long)w[1]);
	if (w[1] == 0 || w[2] > POOL_MAX_SIZE || w[3] > UINT32_MAX ||
	    w[4] > UINT32_MAX || w[5] > UINT32_MAX || w[6] > UINT32_MAX ||
	    w[7] > 0777)
		return state_why(r->why, r->len, "a pool out of range");
	if (r->npools == r->pools_cap) {
		size_t cap = r->pools_cap ? 2 * r->pools_cap : 16;
		void *m = reallocarray(r->pools, cap, sizeof(*r->pools));

		if (!m)
			return state_why(r->why, r->len, "out of memory");
		r->pools = m;
		r->pools_cap = cap;
	}
	memcpy(name, &w[10], JREC_NAME_MAX * 8);
	name[JREC_NAME_MAX * 8] = '\0';
	if (!(ps = malloc(sizeof(*ps))))
		return state_why(r->why, r->len, "out of memory");
	poolmgrd__pool_state__init(ps);
	if (!(ps->name = strdup(name))) {
		free(ps);
		return state_why(r->why, r->len, "out of memory");
	}
	ps->size = w[2];
	ps->granularity = (uint32_t)w[3];
	ps->page_size = (uint32_t)w[4];
	ps->uid = (uint32_t)w[5];
	ps->gid = (uint32_t)w[6];
	ps->mode = (uint32_t)w[7];
	ps->quota = w[8];
	ps->retain = w[9];
	rp = &r->pools[r->npools++];
	*rp = (struct rpool){.keep = w[1], .ps = ps, .live = true};
	return 0;
}

static int
do_block(struct replay *r, enum jrec_type type, const uint64_t *w)
{
	struct rpool *rp = pool_of(r, w[1]);
	struct rblock *b;

	if (!rp)
		return state_why(r->why, r->len, "a block of no live pool "
				 "(keep.%llu)", (unsigned long long)w[1]);
	b = block_find(r, w[1], w[2]);
	if (type == JREC_PERSIST) {
		if (b && b->live)
			return state_why(r->why, r->len, "pool %s: 0x%llx "
					 "persisted twice", rp->ps->name,
					 (unsigned long long)w[2]);
		if (w[6] >= NO_PERSISTER || w[5] > 1)
			return state_why(r->why, r->len, "pool %s: 0x%llx out "
					 "of range", rp->ps->name,
					 (unsigned long long)w[2]);
		if (!b) {
			if (!(b = block_add(r)))
				return state_why(r->why, r->len, "out of "
						 "memory");
			b->keep = w[1];
			b->off = w[2];
			slot_put(r, (size_t)(b - r->blocks));
		}
		b->pool = (uint32_t)(rp - r->pools);
		b->uid = w[6];
		b->span = w[5] != 0;
		b->live = true;
		rp->nblocks++;
	} else if (!b || !b->live) {
		return state_why(r->why, r->len, "pool %s: 0x%llx is not "
				 "persistent", rp->ps->name,
				 (unsigned long long)w[2]);
	}
	if (type == JREC_UNPERSIST) {
		if (b->name)	/* the daemon takes the name first */
			return state_why(r->why, r->len, "pool %s: 0x%llx "
					 "unpersisted with its name",
					 rp->ps->name,
					 (unsigned long long)w[2]);
		b->live = false;
		rp->nblocks--;
		return 0;
	}
	b->size = w[3];
	b->requested = w[4];
	return 0;
}

/*
 * A name given to, or taken from, a persistent block.  Whether the name is
 * valid and used once in its pool, restore.c checks as for a planned
 * restart's state.
 */
static int
do_name(struct replay *r, enum jrec_type type, const uint64_t *w, unsigned n)
{
	struct rpool *rp = pool_of(r, w[1]);
	bool naming = type != JREC_UNNAME;
	struct rblock *b;

	if (n < 4 || (!naming && n != 4) ||
	    (naming && (n < 7 || w[4] == 0 || w[4] > BLOCK_NAME_MAX ||
			n != 6 + (w[4] + 7) / 8 || w[3] >= NO_PERSISTER)))
		return state_why(r->why, r->len, "a name record of %u "
				 "word%s", n, log_plural(n));
	if (!rp)
		return state_why(r->why, r->len, "a name of no live pool "
				 "(keep.%llu)", (unsigned long long)w[1]);
	b = block_find(r, w[1], w[2]);
	if (!b || !b->live || naming == (b->name != NULL))
		return state_why(r->why, r->len, "pool %s: 0x%llx %s",
				 rp->ps->name, (unsigned long long)w[2],
				 naming ? "cannot take a name" :
				 "has no name");
	if (type == JREC_UNNAME) {
		free(b->name);
		b->name = NULL;
		return 0;
	}
	if (!(b->name = malloc(w[4])))
		return state_why(r->why, r->len, "out of memory");
	memcpy(b->name, &w[5], w[4]);
	b->name_len = (uint32_t)w[4];
	b->publisher = (uint32_t)w[3];
	b->evictable = type == JREC_NAME_EVICTABLE;
	b->generation = 0;
	b->named_at = ++r->named;
	return 0;
}

/*
 * The last generation a pool gave: journal.c writes it in the snapshot
 * only, right after the pool's record.  Taken before any change, for the
 * pool made last, before any block of it, once: another record of the
 * pool's own may come between.
 */
static int
do_generations(struct replay *r, struct rpool *rp, const uint64_t *w)
{
	if (w[2] == 0 || r->changes || rp->generation || rp->nblocks ||
	    rp != &r->pools[r->npools - 1])
		return state_why(r->why, r->len, "pool %s: a count of "
				 "generations (%llu) out of place",
				 rp->ps->name, (unsigned long long)w[2]);
	rp->generation = w[2];
	return 0;
}

/* Is the record before this one the name record of w's block? */
static bool
after_its_name(const struct replay *r, const uint64_t *w)
{
	const uint64_t *p = r->prev;

	return p && jrec_after_its_name((uint32_t)p[0], p[1], p[2], w);
}

/*
 * A name's generation: the pool's next (a publish after its name record,
 * or in place, alone), which it then gave and which ends the snapshot; or
 * one it gave already, only where a snapshot puts a name's, right after
 * its name record, before any change.
 */
static int
do_generation(struct replay *r, enum jrec_type type, const uint64_t *w,
	      unsigned n)
{
	struct rpool *rp;
	struct rblock *b;

	if (n != (type == JREC_GENERATIONS ? 4u : 5u))
		return state_why(r->why, r->len, "a generation record of %u "
				 "word%s", n, log_plural(n));
	if (!(rp = pool_of(r, w[1])))
		return state_why(r->why, r->len, "a generation of no live "
				 "pool (keep.%llu)", (unsigned long long)w[1]);
	if (type == JREC_GENERATIONS)
		return do_generations(r, rp, w);
	b = block_find(r, w[1], w[2]);
	if (!b || !b->live || !b->name)
		return state_why(r->why, r->len, "pool %s: 0x%llx has no name",
				 rp->ps->name, (unsigned long long)w[2]);
	if (w[3] == 0 || w[3] - 1 > rp->generation)
		return state_why(r->why, r->len, "pool %s: 0x%llx: generation "
				 "%llu, the last given %llu", rp->ps->name,
				 (unsigned long long)w[2],
				 (unsigned long long)w[3],
				 (unsigned long long)rp->generation);
	if (w[3] - 1 == rp->generation) {
		rp->generation = w[3];
		r->changes = true;
	} else if (r->changes || !after_its_name(r, w))
		return state_why(r->why, r->len, "pool %s: 0x%llx: generation "
				 "%llu, not the next (%llu), %s", rp->ps->name,
				 (unsigned long long)w[2],
				 (unsigned long long)w[3],
				 (unsigned long long)rp->generation + 1,
				 r->changes ? "after the snapshot" :
				 "apart from its name record");
	b->generation = w[3];
	return 0;
}

/*
 * The socket the crashed daemon bound itself: a path a bind takes (no
 * NUL, not empty) and a mode a configuration could give, once, at the
 * end of the snapshot (the daemon binds one socket a run, and a reload
 * does not move it).
 */
static int
do_socket(struct replay *r, const uint64_t *w, unsigned n)
{
	if (n < 5 || w[2] == 0 || w[2] > JREC_SOCKET_MAX ||
	    n != 4 + (w[2] + 7) / 8 || w[1] > 0777 ||
	    memchr(&w[3], '\0', w[2]) != NULL)
		return state_why(r->why, r->len, "a socket record of %u "
				 "word%s", n, log_plural(n));
	if (r->changes)
		return state_why(r->why, r->len, "a socket record past the "
				 "snapshot (a second one, or after a change)");
	memcpy(r->sock, &w[3], w[2]);
	r->sock[w[2]] = '\0';
	r->sock_mode = (uint32_t)w[1];
	r->changes = true;
	return 0;
}

/*
 * A pool's limit and user quota, as a CreatePool or SetPool would take
 * them: a record without the user quota's word says it has none.
 */
static int
do_bounds(struct replay *r, const uint64_t *w, unsigned n)
{
	struct rpool *rp;

	if (n != 4 && n != 5)
		return state_why(r->why, r->len, "a limit record of %u "
				 "word%s", n, log_plural(n));
	if (!(rp = pool_of(r, w[1])))
		return state_why(r->why, r->len, "a limit of no live pool "
				 "(keep.%llu)", (unsigned long long)w[1]);
	if (!dpool_limit_valid(w[2], rp->ps->size, rp->ps->granularity))
		return state_why(r->why, r->len, "pool %s: a limit of %llu "
				 "bytes", rp->ps->name,
				 (unsigned long long)w[2]);
	rp->ps->limit = w[2];
	rp->ps->user_quota = n == 5 ? w[3] : 0;
	return 0;
}

/*
 * A pool's access control list, replacing the one before (none: emptied):
 * each word one acl_word could make, the whole a list acl_build takes,
 * kept in the state as the words of what it built, for restore.c to
 * check and build again as a planned restart's.
 */
static int
do_acl(struct replay *r, const uint64_t *w, unsigned n)
{
	Poolmgrd__PoolState *ps;
	struct rpool *rp;
	struct acl acl;
	uint64_t *words = NULL;
	unsigned i;
	int rc;

	if (n < 3)
		return state_why(r->why, r->len, "an access control record "
				 "of %u word%s", n, log_plural(n));
	if (!(rp = pool_of(r, w[1])))
		return state_why(r->why, r->len, "an access control list of "
				 "no live pool (keep.%llu)",
				 (unsigned long long)w[1]);
	ps = rp->ps;
	if ((rc = state_acl(ps->name, &w[2], n - 3, &acl, r->why, r->len)))
		return rc;
	if (acl.n && !(words = calloc(acl.n, sizeof(*words))))
		return state_why(r->why, r->len, "out of memory");
	for (i = 0; i < acl.n; i++)
		words[i] = acl_word(&acl.e[i]);
	free(ps->acl);
	ps->acl = words;
	ps->n_acl = acl.n;
	return 0;
}

/*
 * A pool's user quotas of uids, replacing those before (none: emptied):
 * two words an entry, the whole a list uquota_build takes, kept in the
 * state as the words of what it built, sorted, for restore.c to check and
 * build again as a planned restart's.
 */
static int
do_user_quotas(struct replay *r, const uint64_t *w, unsigned n)
{
	Poolmgrd__PoolState *ps;
	struct rpool *rp;
	struct uquota uq;
	uint64_t *words = NULL;
	unsigned i;
	int rc;

	if (n < 3)
		return state_why(r->why, r->len, "a user quota record of %u "
				 "word%s", n, log_plural(n));
	if (!(rp = pool_of(r, w[1])))
		return state_why(r->why, r->len, "user quotas of no live pool "
				 "(keep.%llu)", (unsigned long long)w[1]);
	ps = rp->ps;
	if ((rc = state_uquotas(ps->name, &w[2], n - 3, &uq, r->why,
				r->len)))
		return rc;
	if (uq.n && !(words = calloc(2 * uq.n, sizeof(*words))))
		return state_why(r->why, r->len, "out of memory");
	for (i = 0; i < uq.n; i++) {
		words[2 * i] = uq.e[i].uid;
		words[2 * i + 1] = uq.e[i].bytes;
	}
	free(ps->user_quotas);
	ps->user_quotas = words;
	ps->n_user_quotas = 2 * uq.n;
	return 0;
}

static int
do_record(struct replay *r, enum jrec_type type, const uint64_t *w,
	  unsigned n)
{
	static const unsigned words[] = {
		[JREC_POOL] = 11 + JREC_NAME_MAX, [JREC_SET] = 8,
		[JREC_GONE] = 3, [JREC_PERSIST] = 8, [JREC_RESIZE] = 6,
		[JREC_UNPERSIST] = 4,
	};
	struct rpool *rp;

	if (type == JREC_NAME || type == JREC_UNNAME ||
	    type == JREC_NAME_EVICTABLE)
		return do_name(r, type, w, n);
	if (type == JREC_SOCKET)
		return do_socket(r, w, n);
	if (type == JREC_BOUNDS)
		return do_bounds(r, w, n);
	if (type == JREC_ACL)
		return do_acl(r, w, n);
	if (type == JREC_USER_QUOTAS)
		return do_user_quotas(r, w, n);
	if (type == JREC_GENERATIONS || type == JREC_GENERATION)
		return do_generation(r, type, w, n);
	if (type < JREC_POOL || type > JREC_UNPERSIST || n != words[type])
		return state_why(r->why, r->len, "a record of type %u and %u "
				 "word%s", type, n, log_plural(n));
	switch (type) {
	case JREC_POOL:
		return do_pool(r, w);
	case JREC_SET:
	case JREC_GONE:
		if (!(rp = pool_of(r, w[1])))
			return state_why(r->why, r->len, "keep.%llu: no live "
					 "pool", (unsigned long long)w[1]);
		if (type == JREC_GONE) {
			rp->live = false;
			return 0;
		}
		if (w[2] > UINT32_MAX || w[3] > UINT32_MAX || w[4] > 0777)
			return state_why(r->why, r->len, "pool %s: settings "
					 "out of range", rp->ps->name);
		rp->ps->uid = (uint32_t)w[2];
		rp->ps->gid = (uint32_t)w[3];
		rp->ps->mode = (uint32_t)w[4];
		rp->ps->quota = w[5];
		rp->ps->retain = w[6];
		return 0;
	default:
		return do_block(r, type, w);
	}
}

/*
 * Records journal.c writes for a change only, never in a snapshot: past
 * one, the snapshot is over.
 */
static bool
only_a_change(uint32_t type)
{
	return type == JREC_SET || type == JREC_GONE ||
	    type == JREC_RESIZE || type == JREC_UNPERSIST ||
	    type == JREC_UNNAME;
}

/*
 * Is the record before w a name record that w, just taken, is not the
 * generation of?  journal.c writes the two together, so only a crash
 * between them parts them, and then the name is the journal's last.
 */
static bool
name_left_bare(const struct replay *r, const uint64_t *w)
{
	const uint64_t *p = r->prev;

	return p && jrec_leaves_name_bare((uint32_t)p[0], p[1], p[2], w);
}

/*
 * A name record with no generation after it, not the last: refused in a
 * journal of a writer with generations, which has a record of them or of
 * a type after them (JREC_BOUNDS, JREC_ACL, JREC_USER_QUOTAS) somewhere;
 * those of an image
 * before them have none, and every name of theirs is bare.
 */
static int
bare_name(struct replay *r, uint64_t id)
{
	const uint64_t *w = r->bare;
	size_t i;

	if (!w || !r->generations)
		return 0;
	for (i = 0; i < r->npools && r->pools[i].keep != w[1]; i++)
		;
	return state_why(r->why, r->len, "journal.%llu: pool %s: 0x%llx: a "
			 "name record with no generation after it, at %llu, "
			 "not the last", (unsigned long long)id,
			 i < r->npools ? r->pools[i].ps->name : "?",
			 (unsigned long long)w[2],
			 (unsigned long long)r->bare_at);
}

/* Every record to the committed end. */
static int
replay(struct replay *r, const uint64_t *m, uint64_t size, uint64_t id)
{
	uint64_t end, at;
	int rc;

	if (size >= JREC_HEADER && m[JH_MAGIC] == JREC_WITHDRAWN)
		return state_why(r->why, r->len, "journal.%llu was taken out "
				 "of the fd store (a write to it failed, or "
				 "the daemon stopped), though systemd kept it",
				 (unsigned long long)id);
	if (size < JREC_HEADER || m[JH_MAGIC] != JREC_MAGIC ||
	    m[JH_ID] != id || m[JH_SUM] != jrec_sum(m, 2))
		return state_why(r->why, r->len, "journal.%llu: a bad header",
				 (unsigned long long)id);
	end = __atomic_load_n(&m[JH_END], __ATOMIC_ACQUIRE);
	if (end < JREC_HEADER || end > size || end % 8)
		return state_why(r->why, r->len, "journal.%llu: its end %llu "
				 "is out of place", (unsigned long long)id,
				 (unsigned long long)end);
	for (at = JREC_HEADER; at < end;) {
		const uint64_t *w = &m[at / 8];
		unsigned n = (unsigned)(w[0] >> 32);

		if (n < 2 || n > JREC_MAX_WORDS || at + 8ull * n > end ||
		    w[n - 1] != jrec_sum(w, n - 1))
			return state_why(r->why, r->len, "journal.%llu: the "
					 "record at %llu is corrupt",
					 (unsigned long long)id,
					 (unsigned long long)at);
		if ((rc = do_record(r, (enum jrec_type)(uint32_t)w[0], w, n)))
			return rc;
		if (only_a_change((uint32_t)w[0]))
			r->changes = true;
		if (jrec_of_generations((uint32_t)w[0]))
			r->generations = true;
		if (!r->bare && name_left_bare(r, w)) {
			r->bare = r->prev;
			r->bare_at = at - 8ull * (r->prev[0] >> 32);
		}
		r->prev = w;
		at += 8ull * n;
	}
	return bare_name(r, id);
}

static int
by_place(const void *a, const void *b)
{
	const struct rblock *x = *(struct rblock *const *)a;
	const struct rblock *y = *(struct rblock *const *)b;

	if (x->pool != y->pool)
		return x->pool < y->pool ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int
by_naming(const void *a, const void *b)
{
	const struct rblock *x = *(struct rblock *const *)a;
	const struct rblock *y = *(struct rblock *const *)b;

	return x->named_at < y->named_at ? -1 : x->named_at > y->named_at;
}

/*
 * The names of the n blocks v with no generation (an older image's
 * journal, or a crash between a name's record and its generation's) are
 * given the pool's next ones in the order of their name records, which
 * is the order they were published.
 */
static int
number_names(struct replay *r, struct rpool *rp, struct rblock **v, size_t n)
{
	struct rblock **u;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += v[i]->name && !v[i]->generation;
	if (k == 0)
		return 0;
	if (!(u = calloc(k, sizeof(*u))))
		return state_why(r->why, r->len, "out of memory");
	for (i = k = 0; i < n; i++)
		if (v[i]->name && !v[i]->generation)
			u[k++] = v[i];
	qsort(u, k, sizeof(*u), by_naming);
	for (i = 0; i < k; i++)
		u[i]->generation = ++rp->generation;
	free(u);
	return 0;
}

/*
 * A pool's state takes the names of its n blocks v, which give them up,
 * with their generations (number_names gives those with none).  Lookups
 * are not journalled, so the order of eviction is the order of
 * publishing: by generation.  Two names of one generation, state_check
 * refuses.
 */
static int
pool_names(struct replay *r, struct rpool *rp, struct rblock **v, size_t n)
{
	Poolmgrd__PoolState *ps = rp->ps;
	size_t i, k = 0;
	int rc;

	if ((rc = number_names(r, rp, v, n)) != 0)
		return rc;
	ps->name_generation = rp->generation;
	for (i = 0; i < n; i++)
		k += v[i]->name != NULL;
	if (k == 0)
		return 0;
	ps->named_name = calloc(k, sizeof(ProtobufCBinaryData));
	ps->named_off = calloc(k, sizeof(uint64_t));
	ps->named_publisher = calloc(k, sizeof(uint32_t));
	ps->named_flags = calloc(k, sizeof(uint32_t));
	ps->named_generation = calloc(k, sizeof(uint64_t));
	ps->named_use_order = calloc(k, sizeof(uint64_t));
	if (!ps->named_name || !ps->named_off || !ps->named_publisher ||
	    !ps->named_flags || !ps->named_generation || !ps->named_use_order)
		return state_why(r->why, r->len, "out of memory");
	for (i = k = 0; i < n; i++) {
		if (!v[i]->name)
			continue;
		ps->named_name[k].data = v[i]->name;
		ps->named_name[k].len = v[i]->name_len;
		v[i]->name = NULL;
		ps->named_off[k] = v[i]->off;
		ps->named_flags[k] = v[i]->evictable ?
				     POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE : 0;
		ps->named_generation[k] = v[i]->generation;
		ps->named_use_order[k] = v[i]->generation;
		ps->named_publisher[k++] = v[i]->publisher;
	}
	ps->n_named_name = ps->n_named_off = ps->n_named_publisher = k;
	ps->n_named_flags = ps->n_named_generation = k;
	ps->n_named_use_order = k;
	ps->name_generation = rp->generation;
	return 0;
}

/* A pool's state takes its n blocks v, by ascending offset. */
static int
pool_blocks(struct replay *r, struct rpool *rp, struct rblock **v, size_t n)
{
	Poolmgrd__PoolState *ps = rp->ps;
	size_t i, cap = n ? n : 1;

	ps->block_off = calloc(cap, sizeof(uint64_t));
	ps->block_size = calloc(cap, sizeof(uint64_t));
	ps->block_requested = calloc(cap, sizeof(uint64_t));
	ps->block_span = calloc(cap, sizeof(protobuf_c_boolean));
	ps->block_persister = calloc(cap, sizeof(uint32_t));
	if (!ps->block_off || !ps->block_size || !ps->block_requested ||
	    !ps->block_span || !ps->block_persister)
		return state_why(r->why, r->len, "out of memory");
	for (i = 0; i < n; i++) {
		ps->block_off[i] = v[i]->off;
		ps->block_size[i] = v[i]->size;
		ps->block_requested[i] = v[i]->requested;
		ps->block_span[i] = v[i]->span;
		ps->block_persister[i] = (uint32_t)v[i]->uid;
	}
	ps->n_block_off = ps->n_block_size = ps->n_block_requested = n;
	ps->n_block_span = ps->n_block_persister = n;
	return pool_names(r, rp, v, n);
}

/* The live blocks of live pools, by pool and offset (one sort). */
static struct rblock **
live_blocks(struct replay *r, size_t *n)
{
	struct rblock **v = calloc(r->nblocks + 1, sizeof(*v));
	size_t i;

	*n = 0;
	if (!v)
		return NULL;
	for (i = 0; i < r->nblocks; i++)
		if (r->blocks[i].live && r->pools[r->blocks[i].pool].live)
			v[(*n)++] = &r->blocks[i];
	qsort(v, *n, sizeof(*v), by_place);
	return v;
}

/* The state of the live pools, which it takes from r. */
static Poolmgrd__State *
make_state(struct replay *r, int listen)
{
	Poolmgrd__State *st = malloc(sizeof(*st));
	Poolmgrd__PoolState **pools = calloc(r->npools + 1, sizeof(*pools));
	struct rblock **v = NULL;
	size_t i, n = 0, at = 0;
	int rc;

	if (!st || !pools || !(v = live_blocks(r, &n))) {
		free(st);
		free(pools);
		state_why(r->why, r->len, "out of memory");
		return NULL;
	}
	poolmgrd__state__init(st);
	st->pools = pools;
	st->version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	st->socket_activated = listen >= 0;
	/* Systemd's socket, if it passed one, else the daemon's own. */
	if (listen < 0 && r->sock[0]) {
		if (!(st->socket_path = strdup(r->sock))) {
			free(v);
			poolmgrd__state__free_unpacked(st, NULL);
			state_why(r->why, r->len, "out of memory");
			return NULL;
		}
		st->socket_mode = r->sock_mode;
	}
	for (i = 0; i < r->npools; i++) {
		struct rpool *rp = &r->pools[i];

		if (!rp->live)
			continue;
		st->pools[st->n_pools++] = rp->ps;
		rc = pool_blocks(r, rp, v + at, rp->nblocks);
		rp->ps = NULL;		/* st's now */
		if (rc != 0) {
			free(v);
			poolmgrd__state__free_unpacked(st, NULL);
			return NULL;
		}
		at += rp->nblocks;
	}
	free(v);
	return st;
}

static void
replay_free(struct replay *r)
{
	size_t i;

	for (i = 0; i < r->npools; i++)
		if (r->pools[i].ps)
			poolmgrd__pool_state__free_unpacked(r->pools[i].ps,
							    NULL);
	free(r->pools);
	for (i = 0; i < r->nblocks; i++)
		free(r->blocks[i].name);
	free(r->blocks);
	free(r->slots);
}

/* The newest journal's index in pf, or -1. */
static int
newest(const struct passed_fds *pf, uint64_t *id)
{
	unsigned i;
	int best = -1;
	uint64_t v;

	*id = 0;
	for (i = 0; i < pf->n; i++)
		if (pf->fd[i] >= 0 &&
		    (v = name_id(pf->name[i], "journal.")) > *id) {
			*id = v;
			best = (int)i;
		}
	return best;
}

/* Where a pool's keep.<n> is among the descriptors the store passed. */
struct kept {
	unsigned named;		/* descriptors under its name */
	unsigned sized;		/* of them, memfds of its sealed size */
	int first, at;		/* the first of each, or -1 */
};

static void
kept_find(const struct passed_fds *pf, uint64_t keep,
	  const Poolmgrd__PoolState *ps, struct kept *k)
{
	unsigned i;

	*k = (struct kept){.first = -1, .at = -1};
	for (i = 0; i < pf->n; i++) {
		if (pf->fd[i] < 0 || name_id(pf->name[i], "keep.") != keep)
			continue;
		if (k->named++ == 0)
			k->first = (int)i;
		if (is_pool_memfd(pf->fd[i], ps->size) && k->sized++ == 0)
			k->at = (int)i;
	}
}

/*
 * The index in pf of keep.<keep>, pool ps's memory; -ENOENT if the store
 * holds none, -EEXIST if which it is cannot be told (kept_lost says
 * either).  The store may hold the name twice: a keep whose removal failed
 * and that no image named for the next (journal.c names the 256
 * highest numbered, and forgets one only when memory is short; an image
 * older than that named none), beside a
 * keep of the next image's under the same number (journal.c numbers its
 * keeps above the names it knows).  The memory of another pool taken
 * for this one's would come back as its blocks.  A pool's memfd is
 * sealed at its size, so of several only one of that size can be its
 * own: that one is taken, and logged.  Several of its size, or none,
 * cannot be told apart.
 */
static int
kept_fd(const struct passed_fds *pf, uint64_t keep,
	const Poolmgrd__PoolState *ps)
{
	struct kept k;

	kept_find(pf, keep, ps, &k);
	if (k.named == 1)
		return k.first;	/* restore_check checks it as any */
	if (k.named == 0)
		return -ENOENT;
	if (k.sized != 1)
		return -EEXIST;
	log_warnx("after a crash: pool %s: keep.%llu twice in the fd store "
		  "(%u of them); the one of its %llu bytes taken", ps->name,
		  (unsigned long long)keep, k.named,
		  (unsigned long long)ps->size);
	return k.at;
}

/*
 * A pool whose memory the store does not hold or cannot be told (kept_fd's
 * rc), logged.
 */
static void
kept_lost(const struct passed_fds *pf, uint64_t keep,
	  const Poolmgrd__PoolState *ps, int rc)
{
	struct kept k;

	if (rc == -ENOENT) {
		log_warnx("after a crash: pool %s: keep.%llu is not in the fd "
			  "store: its memory is lost, and the pool is not "
			  "recovered", ps->name, (unsigned long long)keep);
		return;
	}
	kept_find(pf, keep, ps, &k);
	log_warnx("after a crash: pool %s: keep.%llu twice in the fd store "
		  "(%u of them, %u of its %llu bytes): which is its memory "
		  "is not known, and the pool is not recovered", ps->name,
		  (unsigned long long)keep, k.named, k.sized,
		  (unsigned long long)ps->size);
}

/*
 * The descriptors in the state's order, taken from pf.  A pool whose
 * keep.<n> is missing or ambiguous (kept_fd) is left out of the state
 * alone: the journal is whole and agrees with itself, each pool is its
 * own memfd and its own records (nothing of one pool's refers to
 * another's: its blocks, names, persisters' charges, limit and lists
 * are all in its PoolState, which goes with it), and the store's loss
 * or ambiguity is about that pool's memory only, so the others are as
 * sound as without it.  Refusing them all lost every pool for one: a
 * store drops a push past its FileDescriptorStoreMax= without a word,
 * and an operator may remove a name.  A keep.<n> that is there but not
 * the pool's memfd (restore_check) still refuses the journal whole, as
 * anything else wrong with what the journal says the store holds.  The
 * pools left out are logged only once the rest is known to be taken.
 */
static int
place(struct passed_fds *pf, Poolmgrd__State *st, const struct replay *r,
      int j, int **fds, unsigned *nfds)
{
	unsigned n, k = 0, i, kept;
	uint64_t keep[POOL_MAX_POOLS];
	int *f, at[POOL_MAX_POOLS + 1];

	if (st->n_pools > POOL_MAX_POOLS)
		return state_why(r->why, r->len, "%zu pools", st->n_pools);
	for (i = 0; i < r->npools; i++) {
		if (!r->pools[i].live)
			continue;
		keep[k] = r->pools[i].keep;
		at[k] = kept_fd(pf, keep[k], st->pools[k]);
		k++;
	}
	if (!(f = malloc((2 + st->n_pools) * sizeof(int))))
		return state_why(r->why, r->len, "out of memory");
	for (k = kept = 0; k < st->n_pools; k++) {
		if (at[k] < 0) {
			kept_lost(pf, keep[k], st->pools[k], at[k]);
			poolmgrd__pool_state__free_unpacked(st->pools[k], NULL);
			continue;
		}
		at[kept] = at[k];
		st->pools[kept++] = st->pools[k];
	}
	st->n_pools = kept;
	n = 2 + kept;
	f[0] = pf->listen;
	f[1] = pf->fd[j];
	pf->fd[j] = -1;
	for (k = 0; k < kept; k++) {
		f[2 + k] = pf->fd[at[k]];
		pf->fd[at[k]] = -1;
	}
	*fds = f;
	*nfds = n;
	return 0;
}

Poolmgrd__State *
recover_state(struct passed_fds *pf, int **fds, unsigned *nfds, char *why,
	      size_t len)
{
	struct replay r = {.why = why, .len = len};
	Poolmgrd__State *st = NULL;
	struct stat sb;
	uint64_t id;
	void *m = MAP_FAILED;
	int j = newest(pf, &id);

	if (j < 0) {
		state_why(why, len, "no journal");
		return NULL;
	}
	if (fstat(pf->fd[j], &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size < JREC_HEADER ||
	    (m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED,
		      pf->fd[j], 0)) == MAP_FAILED) {
		state_why(why, len, "journal.%llu is not a memfd",
			  (unsigned long long)id);
		return NULL;
	}
	if (replay(&r, m, (uint64_t)sb.st_size, id) == 0 &&
	    (st = make_state(&r, pf->listen)) != NULL &&
	    place(pf, st, &r, j, fds, nfds) != 0) {
		poolmgrd__state__free_unpacked(st, NULL);
		st = NULL;
	}
	munmap(m, (size_t)sb.st_size);
	replay_free(&r);
	return st;
}
