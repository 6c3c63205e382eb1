/*
 * pool_hold.c - who holds a pool's blocks: references, holds, the
 * charges of persistent blocks, and persistence itself (pool.h).
 *
 * Ownership (docs/protocol.md): a block's references are its own first
 * hold and a short list of struct ref for any further holders, each hold
 * also on its handle's list so a closing handle finds all of its blocks
 * without a scan.  Nearly every block has one holder, the handle that
 * allocated it, and so costs one record: when that holder lets go while
 * others hold on, one of theirs moves into the block (hold_promote).  The
 * block is freed in the engine when its last reference goes and it is
 * not persistent (pool_block.c).  Requests name blocks by offset, and
 * find them in the pool's index (block_index.c), a hash table that is
 * resized a step per change, so that neither a lookup nor a resize grows
 * with the number of blocks.
 *
 * Invariants (dpool_check): a block's own hold is held exactly while
 * nrefs is not 0, and nrefs holds are on it, each on its handle's list
 * too; a handle's bytes count every block it holds that is not
 * persistent, and its uid's account each such block once however many of
 * its handles hold it (p->uid_holds counts a uid's holds on each block of
 * more than one holder, so that a hold tells at once whether it is its
 * uid's first or last there); a persistent block's bytes are charged to
 * its persister instead (p->charges, sorted by uid, one entry per uid
 * with any); an
 * evictable block's name is off the eviction list exactly while it is
 * held (pool_evict.c), and on its persister's too, which is kept in the
 * persister's charge: a charge goes only with the uid's last persistent
 * block, so never while the uid has an evictable name.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "log.h"
#include "pool.h"
#include "pool_internal.h"
#include "session.h"

/*
 * Does a holder of b have its handle open?  One found on b's list is moved
 * to its head, so that the next look finds it second, after b's own, and
 * it is the one that takes b's own place if that holder lets go.
 */
static bool
open_holder(struct block *b)
{
	struct ref *r;

	if (b->first.handle_bits && hold_handle(&b->first)->session)
		return true;
	LIST_FOREACH(r, &b->refs, by_block)
		if (hold_handle(&r->hold)->session)
			break;
	if (r && r != LIST_FIRST(&b->refs)) {
		LIST_REMOVE(r, by_block);
		LIST_INSERT_HEAD(&b->refs, r, by_block);
	}
	return r != NULL;
}

/*
 * Has every holder let b go (closed its handle)?  Asked on every lookup of
 * a block.  Walking its holders from the newest made each request about a
 * block whose first holder was open, and 50,000 later ones closed, take
 * 80-200 us instead of 13 until they had dropped their references
 * (bench_handles).  A closed holder is a handle still dropping its
 * references in steps (p->closing counts them; one closed at once has
 * dropped them all), and holds b once: a block with more holders than
 * that has an open one.  Else the holders are looked at, at most
 * p->closing of them: once, if they have all let go, which is for good
 * (nobody can reach b to hold it again); else until the open one found,
 * now b's own or first on its list, closes.
 */
static bool
block_let_go(struct dpool *p, struct block *b)
{
	if (block_persistent(b))
		return false;
	if (b->let_go)
		return true;
	if (b->nrefs > p->closing || open_holder(b))
		return false;
	b->let_go = true;
	return true;
}

struct block *
dpool_block(struct dpool *p, uint64_t off)
{
	struct block *b = block_index_find(&p->blocks, off);

	return b && !block_let_go(p, b) ? b : NULL;
}

/*
 * h's reference to b, or NULL: looked for on the shorter of the two lists,
 * so that neither a block held by many handles nor a handle holding many
 * blocks makes every request about them slow.
 */
struct hold *
ref_of(struct block *b, struct handle *h)
{
	struct hold *hd;

	if (b->nrefs <= h->nrefs) {
		BLOCK_FOREACH_HOLD(hd, b)
			if (hold_handle(hd) == h)
				return hd;
	} else {
		LIST_FOREACH(hd, &h->refs, by_handle)
			if (hold_block(hd) == b)
				return hd;
	}
	return NULL;
}

bool
dpool_holds(struct block *b, struct handle *h)
{
	return ref_of(b, h) != NULL;
}

/* Where uid's charge is, or would go, in the sorted array. */
unsigned
charge_index(const struct dpool *p, uid_t uid)
{
	unsigned lo = 0, hi = p->ncharges;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (p->charges[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does uid have a charge in the array? */
static bool
charge_of(const struct dpool *p, uid_t uid)
{
	unsigned i = charge_index(p, uid);

	return i < p->ncharges && p->charges[i].uid == uid;
}

uint64_t
dpool_persisted_by(const struct dpool *p, uid_t uid)
{
	unsigned i = charge_index(p, uid);

	return i < p->ncharges && p->charges[i].uid == uid ?
	       p->charges[i].bytes : 0;
}

struct persist_charge *
dpool_charge(struct dpool *p, uid_t uid)
{
	unsigned i = charge_index(p, uid);

	return i < p->ncharges && p->charges[i].uid == uid ?
	       &p->charges[i] : NULL;
}

/* The uid of the handle holding hd: kept while the handle is closing. */
static uid_t
hold_uid(const struct hold *hd)
{
	return hold_handle(hd)->user->uid;
}

bool
uid_holds_block(struct dpool *p, struct block *b, uid_t uid)
{
	if (b->nrefs <= 1)
		return b->nrefs && hold_uid(&b->first) == uid;
	return uid_holds_count(&p->uid_holds, b, (uint32_t)uid) != 0;
}

uint64_t
user_stamp_next(void)
{
	static uint64_t stamp;

	return ++stamp;
}

/* d bytes (two's complement to take away) join what u's uid holds. */
static void
user_add(struct dpool *p, struct user_account *u, uint64_t d)
{
	u->bytes += d;
	/* Room under its user quota, which a free of another's gives too. */
	if ((int64_t)d < 0 && dpool_has_user_quota(p))
		dpool_room(p);
}

/* dpool_user_used's count, with or without a user quota. */
uint64_t
dpool_user_held(const struct dpool *p, const struct handle *h, uid_t uid)
{
	assert(!h || h->session->uid == uid);
	return (h ? handle_user_bytes(h) : session_user_bytes(p, uid)) +
	       dpool_persisted_by(p, uid);
}

/*
 * Room in the array for a charge of one more uid; false if there is no
 * memory for it (the array as it was).
 */
static bool
charge_room(struct dpool *p)
{
	unsigned cap = p->charges_cap ? 2 * p->charges_cap : 4;
	struct persist_charge *c;

	if (p->ncharges < p->charges_cap)
		return true;
	if (!(c = reallocarray(p->charges, cap, sizeof(*c))))
		return false;
	p->charges = c;
	p->charges_cap = cap;
	return true;
}

/* Add n bytes in blocks blocks (each two's complement to take away) to
 * uid's charge. */
void
charge_add(struct dpool *p, uid_t uid, uint64_t n, uint64_t blocks)
{
	unsigned i = charge_index(p, uid);
	struct persist_charge *c;

	if (i == p->ncharges || p->charges[i].uid != uid) {
		/* A persist made room before it changed anything. */
		if (!charge_room(p))
			fatalx("pool %s: out of memory for the charge of uid "
			       "%u", p->name, (unsigned)uid);
		memmove(&p->charges[i + 1], &p->charges[i],
			(p->ncharges - i) * sizeof(*c));
		p->charges[i] = (struct persist_charge){.uid = uid};
		p->ncharges++;
	}
	c = &p->charges[i];
	c->bytes += n;
	c->blocks += blocks;
	/* Room under both of uid's quotas (see handle_set), whoever ended
	 * it: the quota per connection counts its persistent blocks too. */
	if ((int64_t)n < 0 && dpool_has_quota(p))
		dpool_room(p);
	if (c->blocks == 0) {	/* none left */
		/* An evictable name's block is charged while it is one. */
		assert(c->evict.unheld == 0 && !c->evict.oldest);
		p->ncharges--;
		memmove(c, c + 1, (p->ncharges - i) * sizeof(*c));
	}
}

/*
 * Every holder's bytes, by d (two's complement to take away), and each
 * of their uids' once: an account met before on this walk has its stamp.
 */
void
holders_add(struct block *b, uint64_t d)
{
	uint64_t stamp = user_stamp_next();
	struct handle *h;
	struct hold *hd;

	BLOCK_FOREACH_HOLD(hd, b) {
		h = hold_handle(hd);
		handle_set_bytes(h, h->bytes + d);
		if (h->user->stamp != stamp) {
			h->user->stamp = stamp;
			user_add(h->pool, h->user, d);
		}
	}
}

/*
 * CLOCK_BOOTTIME: the same across a restart in place, which keeps the
 * ages it saved, and, unlike CLOCK_MONOTONIC, going on while the machine
 * is suspended: a block left behind before a suspend is that much older.
 */
uint64_t
dpool_persist_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
persist(struct dpool *p, struct block *b, uid_t uid, uint64_t since_ns)
{
	if (persist_times_add(&p->persist_times, b->off,
			      since_ns ? since_ns : dpool_persist_clock_ns()))
		return -ENOMEM;
	holders_add(b, -b->size);
	b->persister = uid;
	charge_add(p, uid, b->size, 1);
	p->persistent_blocks++;
	journal_persist(p, b);
	return 0;
}

/* Journalled before the engine may hand its pages out again. */
void
unpersist(struct dpool *p, struct block *b)
{
	charge_add(p, b->persister, -b->size, -1);
	persist_times_remove(&p->persist_times, b->off);
	b->persister = NO_PERSISTER;
	holders_add(b, b->size);
	p->persistent_blocks--;
	journal_unpersist(p, b);
}

/*
 * A further hold of uid on b, which holds already: counted in p->uid_holds
 * (its first holder's too if b had one), room for which was made.  Is it
 * the uid's first hold on b?
 */
static bool
uid_hold_add(struct dpool *p, struct block *b, uid_t uid)
{
	if (b->nrefs == 1)
		(void)uid_holds_add(&p->uid_holds, b,
				    (uint32_t)hold_uid(&b->first));
	return uid_holds_add(&p->uid_holds, b, (uint32_t)uid) == 1;
}

/*
 * The entries of p->uid_holds a further hold of uid on b, which holds
 * already, adds: its first holder's and uid's if b had one holder (one if
 * that is uid), else uid's if it is new on b.
 */
static uint64_t
uid_holds_needed(struct dpool *p, struct block *b, uid_t uid)
{
	if (b->nrefs == 1)
		return hold_uid(&b->first) == uid ? 1 : 2;
	return uid_holds_count(&p->uid_holds, b, (uint32_t)uid) ? 0 : 1;
}

/*
 * h holds b: in b's own hold if nobody does, else in a struct ref.  The
 * record first, then the room for the holds' counts, so that a refusal
 * leaves what it took where it came from: a record given back stays in
 * its chunk (a spare chunk at most, records.c), where a table of holds
 * grown for a record that was then lacking stayed larger, or was made
 * with no entry and stayed, until the pool's next shared block.
 */
int
ref_add(struct block *b, struct handle *h)
{
	struct dpool *p = h->pool;
	struct hold *hd = &b->first;
	bool first_of_uid = true;
	struct ref *r;

	if (b->nrefs == 0) {
		if (b->evictable)
			evict_held(h->pool, b);
		hd->handle_bits = (uintptr_t)h | HOLD_INLINE;
	} else {
		if (!(r = records_take(&ref_records)))
			return -ENOMEM;
		if (uid_holds_reserve(&p->uid_holds,
				      uid_holds_needed(p, b, h->user->uid))) {
			records_give(&ref_records, r);
			return -ENOMEM;
		}
		first_of_uid = uid_hold_add(p, b, h->user->uid);
		h->pool->nrefs++;
		r->block = b;
		r->hold.handle_bits = (uintptr_t)h;
		LIST_INSERT_HEAD(&b->refs, r, by_block);
		hd = &r->hold;
	}
	b->nrefs++;
	LIST_INSERT_HEAD(&h->refs, hd, by_handle);
	h->nrefs++;
	h->session->nrefs++;
	if (!block_persistent(b)) {	/* else its persister's (charge) */
		handle_set_bytes(h, h->bytes + b->size);
		if (first_of_uid)
			user_add(p, h->user, b->size);
	}
	return 0;
}

/*
 * b's own holder let go and r's holds on: r's hold moves into b, taking
 * r's place on its handle's list, whose order is the order its references
 * are dropped in when it closes (dpool_drop_refs).  The first on b's list
 * is promoted: the open holder block_let_go found last, if any.
 */
static void
hold_promote(struct block *b, struct ref *r)
{
	LIST_INSERT_AFTER(&r->hold, &b->first, by_handle);
	LIST_REMOVE(&r->hold, by_handle);
	LIST_REMOVE(r, by_block);
	b->first.handle_bits = r->hold.handle_bits | HOLD_INLINE;
	records_give(&ref_records, r);
}

/*
 * Unlink hold hd from b and its handle; b may now be unreferenced.  Its
 * uid's account lets b go with the uid's last hold on it, and a closed
 * handle its uid's account with its last reference.
 */
void
ref_remove(struct block *b, struct hold *hd)
{
	struct handle *h = hold_handle(hd);
	struct dpool *p = h->pool;
	struct user_account *u = h->user;
	bool last_of_uid = true;
	struct ref *r;

	if (b->nrefs > 1)
		last_of_uid = uid_holds_sub(&p->uid_holds, b,
					    (uint32_t)u->uid) == 0;

	LIST_REMOVE(hd, by_handle);
	if (hd != &b->first) {
		r = (struct ref *)hd;
		LIST_REMOVE(r, by_block);
		records_give(&ref_records, r);
	} else if ((r = LIST_FIRST(&b->refs)))
		hold_promote(b, r);
	else
		b->first.handle_bits = 0;
	if (r)			/* a ref's record went back */
		h->pool->nrefs--;
	b->nrefs--;
	h->nrefs--;
	if (h->session)		/* else closed: its session let go */
		h->session->nrefs--;
	/* One holder left: its own hold says whose b is. */
	if (b->nrefs == 1)
		(void)uid_holds_sub(&p->uid_holds, b,
				    (uint32_t)hold_uid(&b->first));
	if (b->nrefs == 0 && b->evictable)
		evict_unheld(h->pool, b);
	if (!block_persistent(b)) {
		handle_set_bytes(h, h->bytes - b->size);
		if (last_of_uid)
			user_add(p, u, -b->size);
	}
	if (!h->session && h->nrefs == 0)
		handle_refs_gone(h);
}

int
dpool_retain(struct dpool *p, struct handle *h, uint64_t off,
	     uint64_t quota_used)
{
	struct block *b = dpool_block(p, off);
	int rc;

	if (!b)
		return -EINVAL;
	if (ref_of(b, h))
		return 0;
	if (b->busy)		/* it would leave from under the new holder */
		return -EBUSY;
	/*
	 * Every request about a block may walk its holders (a reference
	 * looked up, a persist moving their charges): so many, no more.
	 */
	if (b->nrefs >= POOL_MAX_HOLDERS)
		return -EMLINK;
	/* A block its uid holds already through another handle counts
	 * against its user quota once. */
	if (!block_persistent(b) &&
	    (rc = dpool_quota_check_each(p, h->session->uid, quota_used,
					 b->size,
					 dpool_user_used(p, h, h->session->uid),
					 uid_holds_block(p, b, h->session->uid) ?
					 0 : b->size)))
		return rc;
	if (ref_add(b, h))
		return -ENOMEM;
	block_share_sync(p, b);
	return 0;
}

/* max_persistent_blocks_per_uid; 0: none. */
static uint64_t persist_cap;

void
dpool_persist_setup(uint64_t cap)
{
	persist_cap = cap;
}

uint64_t
dpool_persist_cap(void)
{
	return persist_cap;
}

/* n more persistent blocks of uid: a reload may have lowered the cap
 * under what uid has already. */
int
dpool_persist_check(struct dpool *p, uid_t uid, uint64_t n)
{
	const struct persist_charge *c = dpool_charge(p, uid);
	uint64_t has = c ? c->blocks : 0;

	p->persist_cap_hit = persist_cap && (has >= persist_cap ||
					     n > persist_cap - has);
	return p->persist_cap_hit ? -EDQUOT : 0;
}

int
dpool_persist(struct dpool *p, struct handle *h, uint64_t off,
	      uint64_t credit)
{
	struct block *b = dpool_block(p, off);
	uint64_t persisted;

	p->persist_cap_hit = false;
	if (!b)
		return -EINVAL;
	if (block_persistent(b))
		return 0;
	/*
	 * Persistent blocks outlive their connections, so no connection's
	 * bound on references holds them: each uid's are counted in the
	 * pool.  A replace (credit: the uid's own old block goes) adds none.
	 */
	if (credit == 0 && dpool_persist_check(p, h->session->uid, 1))
		return -EDQUOT;
	/*
	 * The charge moves from the holders to the persister, who holds it
	 * (dispatch checks).  What a uid persists stays charged to it after
	 * its connections go: all of it together within one quota, or a uid
	 * could keep a quota's worth per connection it ever made.  The user
	 * quota needs no check: the uid's handle h holds b, so its charge
	 * leaves h's bytes as it comes to the uid's persistent ones, and
	 * the uid holds no more than before.
	 */
	persisted = dpool_persisted_by(p, h->session->uid);
	assert(credit <= persisted);
	if (over_quota(p, persisted - credit, b->size))
		return -EDQUOT;
	if (!charge_of(p, h->session->uid) && !charge_room(p))
		return -ENOMEM;
	if (persist(p, b, h->session->uid, 0))
		return -ENOMEM;
	block_share_sync(p, b);
	return 0;
}

void
dpool_unpersist(struct dpool *p, struct block *b)
{
	unpersist(p, b);
	block_maybe_free(p, b, true);
}

uint64_t
dpool_persisted_for(const struct dpool *p, const struct block *b)
{
	uint64_t since, now;

	if (!block_persistent(b) ||
	    !persist_times_find(&p->persist_times, b->off, &since))
		return 0;
	now = dpool_persist_clock_ns();
	return now > since ? now - since : 0;
}

int
dpool_free_persisted(struct dpool *p, uint64_t off, uint64_t min_ns,
		     uint64_t *age_ns, uid_t *persister)
{
	struct block *b = dpool_block(p, off);

	*age_ns = 0;
	*persister = b ? b->persister : NO_PERSISTER;
	if (!b || (!block_persistent(b) && !b->named)) {
		p->invalid_frees++;
		return b ? -EPERM : -EINVAL;
	}
	if (b->named)	/* its persistence is its name's */
		return -EBUSY;
	*age_ns = dpool_persisted_for(p, b);
	if (*age_ns < min_ns)
		return -ESTALE;
	dpool_unpersist(p, b);
	return 0;
}

bool
dpool_drop_refs(struct dpool *p, struct handle *h, uint64_t max)
{
	struct hold *hd;

	for (; max && (hd = LIST_FIRST(&h->refs)); max--) {
		struct block *b = hold_block(hd);

		ref_remove(b, hd);
		block_maybe_free(p, b, true);
	}
	return LIST_EMPTY(&h->refs);
}

void
dpool_unlink_refs(struct handle *h)
{
	struct hold *hd;

	while ((hd = LIST_FIRST(&h->refs)))
		ref_remove(hold_block(hd), hd);
}
