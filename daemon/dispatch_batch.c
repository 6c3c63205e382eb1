/*
 * dispatch_batch.c - AllocBatch and FreeBatch: up to MAX_BATCH blocks in
 * one request, all or nothing.  An AllocBatch is checked as a whole
 * against the quotas and the limit, its allocations are undone if one is
 * refused (the engine's events saved and put back, so that even its
 * counters are as before), and with persist its persists are one change
 * of the crash journal.  A FreeBatch checks every offset before it frees
 * any; the ends of persistence it makes are journalled as one change
 * before any page goes back (dpool_free_begin, dpool_free_end).  An
 * AllocBatch goes behind the allocations waiting in its pool as an Alloc
 * does (dispatch_room.c), and is tried after them; it never waits itself.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dispatch_internal.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "session.h"

#define MAX_BATCH 4096

static uint64_t batch_offsets[MAX_BATCH], batch_sizes[MAX_BATCH];
static struct block *batch_blocks[MAX_BATCH];	/* a FreeBatch's, to free */
static Poolmgr__AllocBatchReply alloc_batch_reply;
static struct heap_events batch_events;

/*
 * The wait a batch gone behind those waiting is armed with when it says
 * none of its own (AllocBatch.wait_ms 0).  Not reached as things are:
 * room made for them makes it active after them, in the same turn, the
 * pool's end or a restart in place at once, and its client's end takes
 * it away.  A refill for an allocation that waits says the time that
 * allocation has left, and is armed with that instead: it stands behind
 * them no longer than its caller waits.
 */
#define BATCH_BEHIND_MS UINT32_MAX

/* How long the batch m may stand behind those waiting, at most. */
static uint32_t
batch_behind_ms(const Poolmgr__AllocBatch *m)
{
	return m->wait_ms ? m->wait_ms : BATCH_BEHIND_MS;
}

/*
 * Has m a block the engine could never give (no bytes, or more than the
 * pool)?  Such a batch evicts nothing: the quotas and the limit, asked
 * before the engine, refuse its blocks before that one, and names went
 * for them first.  It is refused as before, by the first block refused.
 */
static bool
batch_impossible(struct dpool *p, const Poolmgr__AllocBatch *m)
{
	size_t i;

	for (i = 0; i < m->n_sizes; i++)
		if (heap_block_size(p->heap, m->sizes[i]) == 0)
			return true;
	return false;
}

/*
 * The batch's allocations, or none: 0, or the first refusal, with its
 * index in *failed and everything before it undone, counters included.
 * The undo gives back the room the try took and no more: the pool's
 * count of room made is put back too, or every refused batch would void
 * the "no"s kept until room is made (a window's, a batch's trials').
 */
static int
alloc_batch_try(struct call *c, struct handle *h, const Poolmgr__AllocBatch *m,
		size_t *failed)
{
	uint64_t room_count = h->pool->room_count;
	struct block *b;
	uint64_t used;
	size_t i, j;
	int rc;

	heap_events_save(h->pool->heap, &batch_events);
	/* Counted once, then kept up as the batch allocates. */
	used = quota_used(c, h);
	for (i = 0; i < m->n_sizes; i++) {
		rc = dpool_alloc(h->pool, h, m->sizes[i], 0, false, used, &b);
		if (rc) {
			for (j = 0; j < i; j++)
				dpool_unalloc(h->pool, h, batch_offsets[j]);
			heap_events_restore(h->pool->heap, &batch_events);
			h->pool->room_count = room_count;
			*failed = i;
			return rc;
		}
		batch_offsets[i] = b->off;
		batch_sizes[i] = b->size;
		used += b->size;
	}
	return 0;
}

/* The bytes of a batch's blocks, all told (at most UINT64_MAX). */
static uint64_t
batch_bytes(struct dpool *p, const Poolmgr__AllocBatch *m)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < m->n_sizes; i++)
		if (__builtin_add_overflow(sum, block_bytes(p, m->sizes[i]),
					   &sum))
			return UINT64_MAX;
	return sum;
}

/*
 * A refused batch's need: its bytes, and its largest block whole, which
 * a run must hold if the batch is to be had at all (the others need runs
 * too, but no one of them a larger one); all it needs if it is the one,
 * else its sizes, which a trial in the engine allocates in its order
 * (dpool_evict_batch).
 */
static struct room_need
batch_need(struct dpool *p, const Poolmgr__AllocBatch *m)
{
	struct room_need need = {.bytes = batch_bytes(p, m)};
	size_t i;

	need.counted = need.bytes;
	for (i = 0; i < m->n_sizes; i++)
		if (m->sizes[i] > need.run)
			need.run = m->sizes[i];
	need.whole = m->n_sizes == 1;
	if (!need.whole) {
		need.sizes = m->sizes;
		need.n = m->n_sizes;
	}
	return need;
}

/*
 * The engine's refusal of block i of batch m: and, when the pool has
 * evictable names nobody holds and made no room of them (make_room: no
 * eviction of them would make room for the whole batch, or they are too
 * few bytes), that evicting them would not have done, as
 * refuse_no_run's words say it of one block.  Not said of a batch the
 * client will try again (retry_follows): it evicted nothing, without
 * looking.
 */
static int
refuse_batch_room(struct call *c, struct dpool *p,
		  const Poolmgr__AllocBatch *m, size_t i)
{
	char ev[24];

	if (m->retry_follows || p->evict.unheld == 0)
		return refuse(c, -ENOMEM, "allocation %zu of the batch (%llu "
			      "byte%s) failed", i,
			      (unsigned long long)m->sizes[i],
			      log_plural(m->sizes[i]));
	return refuse(c, -ENOMEM, "allocation %zu of the batch (%llu byte%s) "
		      "failed, and evicting pool %s's %u evictable name%s "
		      "nobody holds (%s) would make no room for the batch", i,
		      (unsigned long long)m->sizes[i], log_plural(m->sizes[i]),
		      p->name, p->evict.unheld, log_plural(p->evict.unheld),
		      bytes_text(p->evict.unheld_bytes, ev, sizeof(ev)));
}

/*
 * What the asking uid lacks under the user quota for the whole of batch
 * m, refused at block i: what that block's try lacked (own_quota_lack,
 * the blocks before it held then) and the blocks after it.  0 if that
 * was not the user quota's refusal.  UINT64_MAX past what 64 bits hold.
 */
static uint64_t
batch_quota_lack(struct call *c, struct dpool *p,
		 const Poolmgr__AllocBatch *m, size_t i)
{
	uint64_t lack = own_quota_lack(c, p, c->s->uid);

	if (lack == 0)
		return 0;
	while (++i < m->n_sizes)
		if (__builtin_add_overflow(lack, block_bytes(p, m->sizes[i]),
					   &lack))
			return UINT64_MAX;
	return lack;
}

/*
 * A batch refused by a quota holds none of its blocks then: name them
 * all, which together passed it, not the one that found it passed.
 */
static int
refuse_batch_quota(struct call *c, struct dpool *p,
		   const Poolmgr__AllocBatch *m)
{
	char what[80];

	snprintf(what, sizeof(what), "a batch of %zu block%s (%llu bytes "
		 "in all)", m->n_sizes, log_plural(m->n_sizes),
		 (unsigned long long)batch_bytes(p, m));
	return refuse_quota(c, p, c->s->uid, what, m->retry_follows);
}

/*
 * A batch whose n blocks were all made is taken back: the persistence of
 * its first done blocks ends (the handle still holds them, so none is
 * freed by that), every block goes back to the engine, and the engine's
 * counters are as before the batch (batch_events, saved by the try that
 * made it).
 */
static void
batch_undo(struct handle *h, size_t n, size_t done)
{
	size_t i;

	for (i = 0; i < done; i++)
		dpool_unpersist(h->pool, dpool_block(h->pool,
						     batch_offsets[i]));
	for (i = 0; i < n; i++)
		(void)dpool_unalloc(h->pool, h, batch_offsets[i]);
	heap_events_restore(h->pool->heap, &batch_events);
}

/*
 * AllocBatch.persist: each block of the batch goes to the pool as
 * Alloc.persist's does (persist_new).  The allocations' quota checks
 * counted the batch against the session's blocks and the uid's
 * persistent ones together, more than the persists count, so what can
 * refuse one is the daemon's memory (for the uid's charge, or the
 * block's persist time): then the persists done end and the blocks go
 * back (batch_undo), as if the batch was never made, and the refusal is
 * the answer.  The crash journal takes the persists as one change
 * (journal_group_begin): a crash before the last of them recovers none
 * of the batch, which its client was never told of, and an undone batch
 * leaves it nothing to read.  Only once all are persistent do the
 * maker's holds go: until then, nothing is out of reach of the undo.
 */
static int
batch_persist(struct call *c, struct handle *h, const Poolmgr__AllocBatch *m)
{
	size_t i;
	int rc;

	journal_group_begin();
	for (i = 0; i < m->n_sizes; i++)
		if ((rc = dpool_persist(h->pool, h, batch_offsets[i], 0))) {
			batch_undo(h, m->n_sizes, i);
			journal_group_end(false);
			if (rc == -EDQUOT)
				return refuse_persist_quota(c, h->pool,
							    m->retry_follows);
			return refuse_no_memory(c);
		}
	journal_group_end(true);
	/* Persistent now: dropping the maker's holds leaves them live. */
	for (i = 0; i < m->n_sizes; i++) {
		rc = dpool_free(h->pool, h, batch_offsets[i]);
		assert(rc == 0);
		(void)rc;
	}
	return 0;
}

/* Many allocations, all or nothing. */
int
do_alloc_batch(struct call *c, const Poolmgr__AllocBatch *m)
{
	struct handle *h;
	size_t i = 0;
	struct room_need need = {0};
	bool impossible;
	int rc, wait = 0;

	/* Gone behind those waiting, its handle closed with the pool. */
	if (room_wait_pool_gone(c->s))
		return refuse(c, -ENOENT, "the pool was destroyed while the "
			      "batch waited behind its waiting allocations");
	if (!(h = get_handle(c, m->handle, true, &rc)))
		return rc;
	if (m->n_sizes == 0 || m->n_sizes > MAX_BATCH)
		return refuse(c, m->n_sizes ? -E2BIG : -EINVAL, "a batch holds "
			      "1 to %d sizes, not %zu", MAX_BATCH, m->n_sizes);
	/* Blocks persistent from birth are no references of the session's. */
	if (!m->persist && dispatch_cf && c->s->nrefs + m->n_sizes >
	    dispatch_cf->max_blocks_per_session)
		return refuse(c, -EDQUOT, "a batch of %zu block%s would pass "
			      "the %llu blocks allowed per client: this "
			      "client holds %llu", m->n_sizes,
			      log_plural(m->n_sizes), (unsigned long long)
			      dispatch_cf->max_blocks_per_session,
			      (unsigned long long)c->s->nrefs);
	/* ... but the uid's in the pool: none made room for in vain. */
	if (m->persist &&
	    dpool_persist_check(h->pool, c->s->uid, m->n_sizes))
		return refuse_persist_quota(c, h->pool, m->retry_follows);
	/*
	 * Room made for those waiting is theirs to try first, or every
	 * batch read in the same turn as a free would take it: a refill for
	 * an allocation that waits (behind_waits), as for the Alloc it
	 * stands for, and any other too, a cache's refill on the fast path
	 * among them, as an Alloc that does not wait goes behind.  A turn
	 * later only while room is untried; when nobody waits in the pool
	 * this is a look at its count of waits (room_untried).
	 */
	wait = room_wait_behind(c, h->pool, NULL, batch_behind_ms(m));
	if (wait == WAITING)
		log_debug("pid %d's batch of %zu goes behind the allocations "
			  "waiting in pool %s, for %u ms at most",
			  (int)c->s->pid, m->n_sizes, h->pool->name,
			  (unsigned)batch_behind_ms(m));
	if (wait)
		return wait;
	impossible = batch_impossible(h->pool, m);
	do {
		rc = alloc_batch_try(c, h, m, &i);
		if ((wait = refused_unsettled(c, h->pool, rc)))
			return wait;
		if (rc == -ENOMEM)
			need = batch_need(h->pool, m);
		if (rc == -EDQUOT) {
			need = (struct room_need){0};
			need.bytes = need.counted =
				batch_quota_lack(c, h->pool, m, i);
		}
	} while (!impossible && (wait = make_room(c, h->pool, rc,
						  m->retry_follows, &need)) ==
		 TRY_AGAIN);
	if (wait)
		return wait;
	if (rc == DPOOL_NO_MEMORY)
		return refuse_no_memory(c);
	if (rc) {
		uncount_retried(h->pool, rc, m->retry_follows);
		if (rc == -ENOMEM && h->pool->limit_hit)
			return refuse_limit(c, h->pool);
		if (rc == -EDQUOT && dpool_has_quota(h->pool))
			return refuse_batch_quota(c, h->pool, m);
		if (rc == -EFBIG)
			return refuse_bound(c, h->pool, rc, m->sizes[i],
					    m->retry_follows);
		if (rc == -ENOMEM)
			return refuse_batch_room(c, h->pool, m, i);
		return refuse(c, rc, "allocation %zu of the batch (%llu "
			      "byte%s) failed", i,
			      (unsigned long long)m->sizes[i],
			      log_plural(m->sizes[i]));
	}
	if (m->persist && (rc = batch_persist(c, h, m)))
		return rc;
	/*
	 * Blocks got, as an Alloc's: a wait part's place kept goes, or the
	 * connection's next wait of that size, a new allocation, would take
	 * it back ahead of those that came before it.
	 */
	room_kept_served(c->s);
	poolmgr__alloc_batch_reply__init(&alloc_batch_reply);
	alloc_batch_reply.persisted = m->persist; /* the client need not */
	alloc_batch_reply.n_offsets = m->n_sizes;
	alloc_batch_reply.offsets = batch_offsets;
	alloc_batch_reply.n_usable_sizes = m->n_sizes;
	alloc_batch_reply.usable_sizes = batch_sizes;
	alloc_batch_reply.pool_limit_case =
	    POOLMGR__ALLOC_BATCH_REPLY__POOL_LIMIT_LIMIT;
	alloc_batch_reply.limit = h->pool->limit;
	alloc_batch_reply.pool_quota_case =
	    POOLMGR__ALLOC_BATCH_REPLY__POOL_QUOTA_QUOTA;
	alloc_batch_reply.quota = handle_quota_share(h);
	c->rep->body_case = POOLMGR__REPLY__BODY_ALLOC_BATCH;
	c->rep->alloc_batch = &alloc_batch_reply;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A client cache sheds with FreeBatch: the pool's limit and quota as they
 * are now ride on the reply, so that a SetPool since the open reaches the
 * cache's budget (HelloReply.features bit 2).  Refusals carry only their
 * failed_index: the cache hears at its next batch that goes through.
 */
static void
free_batch_bounds(struct call *c, const struct handle *h,
		  Poolmgr__FreeBatchReply *fbr)
{
	fbr->pool_limit_case = POOLMGR__FREE_BATCH_REPLY__POOL_LIMIT_LIMIT;
	fbr->limit = h->pool->limit;
	fbr->pool_quota_case = POOLMGR__FREE_BATCH_REPLY__POOL_QUOTA_QUOTA;
	fbr->quota = handle_quota_share(h);
	c->rep->body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
	c->rep->free_batch = fbr;
}

/*
 * A checked batch's frees, in two rounds: every hold dropped and every
 * persistence ended first, which the crash journal takes as one change
 * (a crash in the middle recovers the batch's blocks all persistent, as
 * they were), then the blocks nobody holds any more are freed, once the
 * journal says none of them is persistent.
 */
static void
free_batch_all(struct handle *h, const Poolmgr__FreeBatch *m)
{
	size_t i, n = 0;

	journal_group_begin();
	for (i = 0; i < m->n_offsets; i++)
		if (m->offsets[i] != OFF_NONE &&
		    dpool_free_begin(h->pool, h, m->offsets[i],
				     &batch_blocks[n]) == 0)
			n++;
	journal_group_end(true);
	for (i = 0; i < n; i++)
		dpool_free_end(h->pool, batch_blocks[i]);
}

/*
 * Why offset i of a FreeBatch cannot be freed (dpool_may_free's rc), as a
 * Free of it would say: the code alone left a program to guess which of
 * the checks refused it.
 */
static int
refuse_batch_free(struct call *c, size_t i, uint64_t off, int rc)
{
	const char *why = "";

	if (rc == -EINVAL)
		why = ": no live block starts there";
	else if (rc == -EPERM)
		why = ": the block belongs to another handle";
	else if (rc == -EBUSY)
		why = ": the block is named; unpublish its name first";
	return refuse(c, rc, "offset %zu of the batch (0x%llx) cannot be "
		      "freed%s", i, (unsigned long long)off, why);
}

/* Many frees, all or nothing: every offset is checked before any goes. */
int
do_free_batch(struct call *c, const Poolmgr__FreeBatch *m)
{
	static Poolmgr__FreeBatchReply fbr;
	struct handle *h;
	size_t i;
	int rc;

	if (!(h = get_handle(c, m->handle, false, &rc)))
		return rc;
	if (m->n_offsets > MAX_BATCH)
		return refuse(c, -E2BIG, "a batch holds at most %d offsets",
			      MAX_BATCH);
	if (m->n_offsets == 0)
		return 0;	/* offsets is NULL then: nothing to copy or sort */
	poolmgr__free_batch_reply__init(&fbr);
	/*
	 * The same block twice would be a double free halfway through; and
	 * checked first, since each check below may walk a block's holders:
	 * 4096 times the same block would walk them 4096 times.
	 */
	memcpy(batch_offsets, m->offsets, m->n_offsets * sizeof(uint64_t));
	qsort(batch_offsets, m->n_offsets, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < m->n_offsets; i++)
		if (batch_offsets[i] == batch_offsets[i - 1] &&
		    batch_offsets[i] != OFF_NONE) {
			/* A double free; a reader's counts none, as its
			 * Free of a block it does not hold: counting is
			 * writing the pool's books. */
			if (!h->read_only)
				h->pool->invalid_frees++;
			return refuse(c, -EINVAL, "offset 0x%llx appears twice",
				      (unsigned long long)batch_offsets[i]);
		}
	for (i = 0; i < m->n_offsets; i++) {
		if (m->offsets[i] == OFF_NONE)
			continue;
		if ((rc = reader_holds(h, m->offsets[i])) == 0)
			rc = dpool_may_free(h->pool, h, m->offsets[i]);
		if (rc) {
			/* One refused free, as a Free of it would count. */
			if (rc == -EINVAL || rc == -EPERM)
				h->pool->invalid_frees++;
			fbr.failed_index = (uint32_t)i;
			c->rep->body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
			c->rep->free_batch = &fbr;
			if (rc == -EACCES)
				return refuse_reader_free(c, h,
							  m->offsets[i]);
			return refuse_batch_free(c, i, m->offsets[i], rc);
		}
	}
	free_batch_all(h, m);
	free_batch_bounds(c, h, &fbr);
	return 0;
}
