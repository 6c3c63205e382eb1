/*
 * pool_block.c - a pool's blocks: allocation, free and resize, on behalf
 * of a handle (pool.h).
 *
 * Each request is checked against the session's quota and the pool's
 * limit before the engine is asked, and a refusal changes no block.  A
 * block that nobody holds any more and that is not persistent leaves the
 * index and is freed in the engine (block_maybe_free), or held there
 * while its pages go back in steps if it is big (pool_release.c); one
 * that is busy stays until the work that made it so ends and frees it.
 * Busy: copied to a new place or zeroed in steps, because that is more
 * than the release step; nobody else may retain it meanwhile, and its
 * client is answered when the work is done.  A free comes in two halves
 * (dpool_free_begin, dpool_free_end) for a FreeBatch: every end of
 * persistence is journalled, as one change, before any page goes back.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "pool.h"
#include "pool_internal.h"
#include "session.h"

static void
block_delete(struct dpool *p, struct block *b)
{
	block_index_remove(&p->blocks, b);
	records_give(&block_records, b);
}

/*
 * heap_free of live block b.  Once the turn has given back its step's
 * worth, a small block's pages only join those the engine keeps, and
 * the excess goes back a step per turn: a FreeBatch of 4096 blocks of a
 * page, each past the bound, punched 4096 holes in its turn (19 ms).
 */
static void
block_engine_free(struct dpool *p, struct block *b)
{
	bool hold = dpool_turn_spent();
	int rc;

	if (hold)
		heap_set_retain_hold(p->heap, 1);
	rc = heap_free(p->heap, b->off);
	if (hold && heap_set_retain_hold(p->heap, 0))
		dpool_retain_check(p);
	if (rc)
		fatalx("pool %s: engine refused to free live block 0x%llx: %s",
		       p->name, (unsigned long long)b->off, heap_strerror(rc));
	dpool_room(p);
}

/*
 * Free the block in the engine if nobody holds it any more; a big one may
 * be held a little longer while its pages go back (pool_release.c).
 */
void
block_maybe_free(struct dpool *p, struct block *b, bool may_defer)
{
	if (b->nrefs || block_persistent(b)) {
		block_share_sync(p, b);
		return;
	}
	if (b->busy)		/* dpool_move_end frees it */
		return;
	block_share_set(p, b, false);
	if (may_defer && dpool_release_defer(p, b->off, b->size)) {
		block_delete(p, b);
		return;
	}
	block_engine_free(p, b);
	if (b->size >= HEAP_DEFAULT_LARGE_THRESHOLD)
		dpool_retain_check(p);
	block_delete(p, b);
}

/*
 * Is copying or zeroing len bytes worth steps?  A move copies about 0.4 ms
 * per MiB (a 2 GiB block held the daemon's thread for 5 s, with the old
 * place's punch); a calloc over pages made dirty one by one punched each
 * alone (1 GiB over 131,072 such stretches: 0.5 s).  Over the release
 * step, either goes in steps, as a big free does.
 */
static bool
in_steps(uint64_t len)
{
	uint64_t step = dpool_release_step_bytes();

	return step && len > step;
}

/*
 * dpool_alloc's zeroing in steps: whole pages punched, release_step bytes
 * a turn, which costs next to nothing where pages were never touched.
 */
static int
zero_begin(struct dpool *p, struct block *b)
{
	b->busy = true;
	if (dpool_zero_defer(p, b))
		return DPOOL_IN_STEPS;
	dpool_zero(p, b->off, b->size);	/* no memory to queue: at once */
	b->busy = false;
	return 0;
}

void
dpool_zero_end(struct dpool *p, struct block *b)
{
	assert(b->busy);
	b->busy = false;
	block_maybe_free(p, b, true);	/* if its holder let go meanwhile */
}

int
dpool_alloc(struct dpool *p, struct handle *h, uint64_t size, uint64_t align,
	    bool zero, uint64_t quota_used, struct block **out)
{
	uint64_t off, usable;
	struct block *b;
	bool steps, whole;
	int rc;

	usable = heap_block_size(p->heap, size);
	if (usable &&
	    (rc = dpool_quota_check(p, h->session->uid, quota_used,
				    dpool_user_used(p, h, h->session->uid),
				    usable)))
		return rc;
	/* As if the pool had no room: the same waits, retries, evictions. */
	if ((p->limit_hit = usable && dpool_over_limit(p, usable))) {
		p->limit_failures++;
		return -ENOMEM;
	}
	/*
	 * The index's room and the block's record before the engine counts
	 * an allocation the client may not get.
	 */
	if (block_index_reserve(&p->blocks) ||
	    !(b = records_take(&block_records)))
		return DPOOL_NO_MEMORY;
	steps = zero && in_steps(size);
	/*
	 * A pool on huge pages zeroes the whole block: a restore leaves its
	 * free pages as they were (dpool_punch), which the engine takes for
	 * never touched, so it zeroes none of them.
	 */
	whole = zero && !steps && p->huge;
	rc = zero && !steps && !whole ? heap_calloc(p->heap, 1, size, &off)
				      : heap_alloc(p->heap, size, align, &off);
	if (rc) {
		records_give(&block_records, b);
		return rc;
	}
	heap_usable_size(p->heap, off, &usable);
	b->off = off;
	b->size = usable;
	b->persister = NO_PERSISTER;
	LIST_INIT(&b->refs);
	block_index_insert(&p->blocks, b);
	(void)ref_add(b, h);	/* its first holder: no record to take */
	*out = b;
	if (whole)
		dpool_zero(p, off, usable);
	return steps ? zero_begin(p, b) : 0;
}

int
dpool_may_free(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(p, off);

	if (!b)
		return -EINVAL;
	if (ref_of(b, h))
		return 0;
	if (b->named)
		return -EBUSY;
	return block_persistent(b) ? 0 : -EPERM;
}

int
dpool_free_begin(struct dpool *p, struct handle *h, uint64_t off,
		 struct block **out)
{
	struct block *b = dpool_block(p, off);
	struct hold *hd;

	if (!b) {
		p->invalid_frees++;
		return -EINVAL;
	}
	if ((hd = ref_of(b, h)))
		ref_remove(b, hd);
	else if (b->named) {
		/* The pool's reference is its name's: Unpublish drops it. */
		return -EBUSY;
	} else if (block_persistent(b)) {
		unpersist(p, b);
	} else {
		p->invalid_frees++;
		return -EPERM;
	}
	*out = b;
	return 0;
}

void
dpool_free_end(struct dpool *p, struct block *b)
{
	assert(!journal_grouped());	/* the ends are in, as one change */
	block_maybe_free(p, b, true);
}

int
dpool_free(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b;
	int rc;

	if ((rc = dpool_free_begin(p, h, off, &b)) == 0)
		block_maybe_free(p, b, true);
	return rc;
}

int
dpool_unalloc(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(p, off);
	struct hold *hd;

	if (!b || !(hd = ref_of(b, h)))
		return -EINVAL;
	ref_remove(b, hd);
	block_maybe_free(p, b, false);
	return 0;
}

/* The block's size changed in the engine: fix the books of whoever pays. */
static void
block_resized(struct dpool *p, struct block *b, uint64_t size)
{
	if (block_persistent(b))
		charge_add(p, b->persister, size - b->size, 0);
	else
		holders_add(b, size - b->size);
	b->size = size;
	if (block_persistent(b))
		journal_resize(p, b);
}

/* A move's new place at dst: by how much it is larger than b (or 0). */
static uint64_t
move_growth(struct dpool *p, const struct block *b, uint64_t dst)
{
	uint64_t usable;

	heap_usable_size(p->heap, dst, &usable);
	return usable > b->size ? usable - b->size : 0;
}

/* dpool_realloc's stepped move: a new block, and the copy queued. */
static int
move_begin(struct dpool *p, struct block *b, uint64_t size,
	   struct block **out, uint64_t *dst)
{
	struct handle *holder;
	uint64_t noff, len;
	int rc;

	if ((rc = heap_alloc(p->heap, size, 0, &noff)))
		return rc;	/* the block is untouched */
	heap_usable_size(p->heap, noff, &len);
	if (len > b->size)
		len = b->size;
	b->busy = true;
	*out = b;
	/*
	 * Its holder is held until the copy is done, but the other
	 * connections of its uid are not: the growth the quotas let through
	 * is counted now, or they could take its room meanwhile and the uid
	 * end past its user quota.  dpool_move_end takes it back.
	 */
	holder = hold_handle(&b->first);
	handle_set_moving(holder, holder->moving + move_growth(p, b, noff));
	if (dpool_move_defer(p, b, noff, len)) {
		*dst = noff;
		return DPOOL_IN_STEPS;
	}
	/* No memory for the queue's record: at once, as before. */
	dpool_copy(p, noff, b->off, len);
	dpool_move_end(p, b, noff);
	return 0;
}

void
dpool_move_end(struct dpool *p, struct block *b, uint64_t dst)
{
	uint64_t src = b->off, len = b->size, usable;
	struct handle *holder;

	assert(b->busy);
	b->busy = false;
	heap_usable_size(p->heap, dst, &usable);
	if (!b->nrefs && !block_persistent(b)) {
		/*
		 * Its holder let go meanwhile: nobody wants either copy.
		 * Closed, it took the growth move_begin counted out of its
		 * accounts with the rest of its bytes.
		 */
		if (!dpool_release_defer(p, dst, usable) &&
		    heap_free(p->heap, dst))
			fatalx("pool %s: engine refused to free moved block "
			       "0x%llx", p->name, (unsigned long long)dst);
		/*
		 * Mostly block_maybe_free's word says it too: it frees b at
		 * once and tells of room, or both places go in steps and
		 * their last steps tell (release_finish).  But with no
		 * memory for dst's record dst was freed at once while b's
		 * may go in steps: then this is the word of dst's room,
		 * which b's last step would give only turns later.
		 */
		dpool_room(p);
		block_maybe_free(p, b, true);
		return;
	}
	/*
	 * Nobody could come to share it meanwhile: dpool_retain refuses.
	 * The growth move_begin counted gives way to the new size.
	 */
	assert(b->nrefs == 1 && !block_persistent(b));
	holder = hold_handle(&b->first);
	handle_set_moving(holder, holder->moving - move_growth(p, b, dst));
	block_index_remove(&p->blocks, b);
	b->off = dst;
	block_index_insert(&p->blocks, b);
	block_resized(p, b, usable);
	if (!dpool_release_defer(p, src, len) && heap_free(p->heap, src))
		fatalx("pool %s: engine refused to free moved block 0x%llx",
		       p->name, (unsigned long long)src);
	dpool_room(p);
}

/*
 * A big shrink: the tail is split off and given back in steps, like a big
 * free, where heap_resize would punch it out inside this call (4 GiB: 1 s).
 * Nonzero if the engine cannot split it so: then heap_resize does.
 */
static int
shrink_in_steps(struct dpool *p, struct block *b, uint64_t size)
{
	uint64_t toff, tlen, usable;
	int rc;

	if ((rc = heap_split(p->heap, b->off, size, &toff, &tlen)))
		return rc;
	if (!dpool_release_defer(p, toff, tlen)) {
		if ((rc = heap_free(p->heap, toff)))
			fatalx("pool %s: engine refused to free split tail "
			       "0x%llx: %s", p->name, (unsigned long long)toff,
			       heap_strerror(rc));
		dpool_retain_check(p);
		dpool_room(p);
	}
	heap_usable_size(p->heap, b->off, &usable);
	block_resized(p, b, usable);
	return 0;
}

/*
 * The quotas' check of b growing by more bytes, asked through h: each
 * holder's handle is charged the whole block (holders_add), so a session
 * holding b through several open handles pays the growth once per hold
 * under its quota per connection; its uid pays it once under the user
 * quota, which counts b once however many of its handles hold it.  A
 * persistent block's persister pays it once.  The other sessions and
 * uids holding b are charged the growth unchecked (docs/protocol.md): a
 * check of each would let a holder near its quota refuse the asker,
 * whose eviction and wait could make no room under it.
 */
static int
growth_check(struct dpool *p, struct handle *h, struct block *b,
	     uint64_t quota_used, uint64_t more)
{
	struct hold *hd;
	uint64_t by_session = 0;
	const struct session *s;

	if (block_persistent(b))
		return dpool_quota_check(p, b->persister,
					 dpool_persisted_by(p, b->persister),
					 dpool_user_used(p, NULL, b->persister),
					 more);
	BLOCK_FOREACH_HOLD(hd, b) {
		if (!(s = hold_handle(hd)->session))
			continue;	/* closed: counted by nobody now */
		by_session += s == h->session;
	}
	/* At most POOL_MAX_HOLDERS times a pool's size: no overflow. */
	return dpool_quota_check_each(p, h->session->uid, quota_used,
				      by_session * more,
				      dpool_user_used(p, h, h->session->uid),
				      more);
}

int
dpool_realloc(struct dpool *p, struct handle *h, uint64_t off, uint64_t size,
	      uint64_t quota_used, bool in_place, struct block **out,
	      uint64_t *dst)
{
	struct block *b = dpool_block(p, off);
	uint64_t want, noff;
	bool shared;
	int rc;

	/* A realloc frees its old block: a bad one counts as a bad free. */
	if (!b) {
		p->invalid_frees++;
		return -EINVAL;
	}
	if (!ref_of(b, h)) {
		p->invalid_frees++;
		return -EPERM;
	}
	if (size == 0)
		return -EINVAL;	/* a free is the caller's to make */
	/* Past the pool: no block may have it, shared or not. */
	if ((want = heap_block_size(p->heap, size)) == 0)
		return -EFBIG;
	if (want > b->size &&
	    (rc = growth_check(p, h, b, quota_used, want - b->size)))
		return rc;
	/* Its growth: a move's old place goes with it, so is not counted. */
	if ((p->limit_hit = want > b->size &&
			    dpool_over_limit(p, want - b->size))) {
		p->limit_failures++;
		return -ENOMEM;
	}
	/*
	 * Moving a block others can see would pull it from under them, and
	 * shrinking it would give away bytes they were told they may use: a
	 * shared block grows in place or not at all.  Any other is resized
	 * in place if it can be, else moved, in one engine call.
	 */
	shared = b->nrefs > 1 || block_persistent(b);
	if (shared && want < b->size)
		return -EBUSY;
	if (want < b->size && in_steps(b->size - want) &&
	    shrink_in_steps(p, b, size) == 0) {
		*out = b;
		return 0;
	}
	noff = off;
	if (shared || in_place) {
		rc = heap_resize(p->heap, off, size);
		if (rc == -EAGAIN && shared)
			return -EBUSY;
	} else if (in_steps(b->size < want ? b->size : want)) {
		rc = heap_resize(p->heap, off, size);
		if (rc == -EAGAIN)
			return move_begin(p, b, size, out, dst);
	} else {
		rc = heap_realloc(p->heap, off, size, &noff);
	}
	if (rc)
		return rc;
	if (noff != off) {
		block_index_remove(&p->blocks, b);
		b->off = noff;
		block_index_insert(&p->blocks, b);
	}
	heap_usable_size(p->heap, noff, &want);
	/* A shrink, or a move: bytes went back, which a waiter may want. */
	if (want < b->size || noff != off)
		dpool_room(p);
	block_resized(p, b, want);
	*out = b;
	return 0;
}
