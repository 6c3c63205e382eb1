/*
 * pool_evict_batch.c - room for an AllocBatch of several blocks that the
 * engine refused (dpool_evict_batch, pool_evict.h).  A window search
 * answers for one block; a batch's blocks may each need a run of their
 * own, where evictable blocks lie between kept ones, so the engine is
 * asked itself.  A trial frees the blocks of the k least recently used
 * unheld evictable names in the engine, allocates the batch's blocks as
 * the batch would (heap_alloc(size, 0), in its order), and undoes both:
 * the batch's blocks freed, each name's block reserved again where it
 * was, as it was (heap_block_info, heap_reserve).  Nothing of the pool's
 * own books is touched (names, journal, charges, block records, the
 * order of use), and nothing runs between a trial's first engine call
 * and its undo: the daemon has one thread.  No page goes back meanwhile:
 * the engine's retention is held (heap_set_retain_hold) and the pool's
 * release callback declines (dpool's trial, pool.c's pool_release), so a
 * freed name's pages keep its bytes, as a huge-page pool's always do.
 *
 * What a trial cannot undo, the engine having no call for it:
 *   - the pages a trial's batch blocks were given count as touched from
 *     then on: those never handed out before, or given back since, add
 *     to the resident estimate (resident_bytes) until the retention or a
 *     trim gives them back (a hole punched where nobody wrote costs
 *     nothing), and a calloc given them zeroes them.  At most the
 *     batch's bytes a trial, and most trials place the batch where the
 *     names' blocks were, whose pages are touched already;
 *   - the high-water mark (top) may rise to a trial block's end; the
 *     engine uses it only to decide when to merge its caches before
 *     placing a block, so later placements may differ, never the room;
 *   - the engine's caches: the names' small blocks go to them when
 *     freed and the reservations take them back, a trial's allocations
 *     may merge them into the runs, and the batch's blocks freed by the
 *     undo stay cached: free space all the same;
 *   - the retention queue may hold entries for the names' pages, stale
 *     once they are live again (the engine drops those as it goes), and
 *     the engine's metadata may have grown for it.
 * The engine's counters are put back (heap_events_restore), and its
 * failed_allocs, which a refused trial allocation raises, is taken back
 * in the statistics (unseen_failures), as for any refusal nobody sees.
 * As the engine places a block by what its caches hold, which a trial
 * changes, the names' real eviction may leave the batch placed otherwise
 * than in the trial: rarely (test_pool_evict's random_batches, 2 of some
 * 4,000 such batches) a trial's yes meets the engine's refusal, and the
 * batch goes on by rounds (evict_for), or a trial's no is a batch that
 * every name's eviction would have made, and it stays refused.
 *
 * The search: k from the fewest names whose bytes cover what the batch
 * lacks, doubling until a trial fits (at most every unheld name: if that
 * fails too, no eviction makes room, and the "no" is kept), then a
 * binary search between the last k that did not fit and the first that
 * did.  The names freed move from one trial to the next (the k oldest
 * are a prefix of the order of use: more are freed, or the newest of
 * them reserved again), so the frees and reservations of names' blocks
 * are at most three times the most names one trial freed, all told: 3N
 * for N unheld names, under 6k for the k evicted (the first k that fit
 * when doubling is under twice those, where more names never fit
 * worse); and the trials of the batch's n allocations 2 log2 N + 2 at
 * most.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "heap.h"
#include "log.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_names.h"

/* A name's block as a trial found it, to reserve it again. */
struct trial_name {
	uint64_t off;
	struct heap_block_info bi;
	bool busy;		/* being zeroed or moved: its eviction
				 * would not free it now, nor does a trial */
};

struct trial {
	struct dpool *p;
	const uint64_t *sizes;
	size_t n;
	uint64_t *offs;		/* a trial's batch blocks */
	struct trial_name *names; /* the oldest names' blocks, in order */
	uint32_t known, cap;	/* names[] filled, and its room */
	struct evict_link *next; /* the name after names[known - 1] */
	uint32_t freed;		/* names[0 .. freed) freed in the engine */
};

/* The next unheld name into names[]: false if out of memory. */
static bool
learn_next(struct trial *t)
{
	struct trial_name *tn;
	struct block *b;
	uint32_t cap;

	if (t->known == t->cap) {
		cap = t->cap ? t->cap * 2 : 64;
		if (cap > t->p->evict.unheld)
			cap = t->p->evict.unheld;
		if (!(tn = realloc(t->names, cap * sizeof(*tn))))
			return false;
		t->names = tn;
		t->cap = cap;
	}
	assert(t->next);
	b = t->next->name->block;
	tn = &t->names[t->known++];
	tn->off = b->off;
	tn->busy = b->busy;
	if (heap_block_info(t->p->heap, b->off, &tn->bi))
		fatalx("pool %s: evictable name %.64s at 0x%llx has no live "
		       "block", t->p->name, t->next->name->name,
		       (unsigned long long)b->off);
	t->next = TAILQ_NEXT(t->next, lru);
	return true;
}

/*
 * The k oldest names' blocks freed in the engine, no other: the next
 * ones freed, or the newest freed reserved again (the batch's blocks
 * are not live then, so their place is free).  false if out of memory
 * to know them.
 */
static bool
free_oldest(struct trial *t, uint32_t k)
{
	struct trial_name *tn;
	int rc;

	while (t->freed < k) {
		if (t->freed == t->known && !learn_next(t))
			return false;
		tn = &t->names[t->freed++];
		if (!tn->busy && (rc = heap_free(t->p->heap, tn->off)))
			fatalx("pool %s: engine refused to free live block "
			       "0x%llx in a trial: %s", t->p->name,
			       (unsigned long long)tn->off, heap_strerror(rc));
	}
	while (t->freed > k) {
		tn = &t->names[--t->freed];
		if (!tn->busy && (rc = heap_reserve(t->p->heap, tn->off,
						    &tn->bi)))
			fatalx("pool %s: engine refused to reserve block "
			       "0x%llx again after a trial: %s", t->p->name,
			       (unsigned long long)tn->off, heap_strerror(rc));
	}
	return true;
}

/* Does the whole batch fit now?  Its blocks are freed again either way. */
static bool
batch_fits(struct trial *t)
{
	size_t i, j;
	int rc = 0;

	t->p->evict.trials++;
	for (i = 0; i < t->n; i++)
		if ((rc = heap_alloc(t->p->heap, t->sizes[i], 0, &t->offs[i])))
			break;
	if (rc == -ENOMEM)
		t->p->unseen_failures++;	/* the engine counted it */
	for (j = 0; j < i; j++) {
		int freed = heap_free(t->p->heap, t->offs[j]);

		assert(freed == 0);
		(void)freed;
	}
	return rc == 0;
}

/* Does the k oldest names' eviction make room?  -1: out of memory. */
static int
fits_with(struct trial *t, uint32_t k)
{
	if (!free_oldest(t, k))
		return -1;
	return batch_fits(t);
}

/* The fewest oldest names whose bytes reach lack: 1 at least. */
static uint32_t
fewest_for(struct dpool *p, uint64_t lack)
{
	struct evict_link *l;
	uint64_t bytes = 0;
	uint32_t k = 0;

	TAILQ_FOREACH(l, &p->evict.lru, lru) {
		k++;
		bytes += l->name->block->size;
		if (bytes >= lack)
			break;
	}
	return k ? k : 1;
}

/*
 * The fewest k the trials found, 0 if every name would not do, or -1
 * out of memory; t's names are all reserved again on return.
 */
static int64_t
search(struct trial *t, uint64_t lack)
{
	uint32_t all = t->p->evict.unheld, lo, hi = 0, k, mid;
	int fit;

	/* Fewer names than k hold too few bytes: they cannot fit. */
	k = fewest_for(t->p, lack);
	lo = k - 1;
	for (;;) {
		if ((fit = fits_with(t, k)) < 0) {
			(void)free_oldest(t, 0);
			return -1;
		}
		if (fit) {
			hi = k;
			break;
		}
		lo = k;
		if (k == all)
			break;
		k = k > all / 2 ? all : 2 * k;
	}
	/* The names up to hi are known now: no memory is needed. */
	while (hi && hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (fits_with(t, mid) > 0)
			hi = mid;
		else
			lo = mid;
	}
	(void)free_oldest(t, 0);	/* reserves only: needs no memory */
	return hi;
}

/*
 * Is the batch the one the books keep a "no" for, with no room made, no
 * block allocated and no name held in the pool since?  A trial's answer
 * follows the engine's placements, which need not say no for less room
 * where they said no for more: the "no" holds for the engine as it was.
 */
static bool
no_room_known(struct dpool *p, const uint64_t *sizes, size_t n,
	      uint64_t allocs)
{
	const struct evict_books *e = &p->evict;
	size_t i;

	if (!e->no_batch || e->no_batch_n != n ||
	    e->no_batch_at != p->room_count || e->no_batch_allocs != allocs ||
	    e->no_batch_unheld != e->unheld)
		return false;
	for (i = 0; i < n; i++)
		if (e->no_batch[i] != heap_block_size(p->heap, sizes[i]))
			return false;
	return true;
}

/* Keep the "no" (none kept if out of memory for it). */
static void
no_room_keep(struct dpool *p, const uint64_t *sizes, size_t n,
	     uint64_t allocs)
{
	struct evict_books *e = &p->evict;
	size_t i;

	free(e->no_batch);
	e->no_batch_n = 0;
	if (!(e->no_batch = malloc(n * sizeof(*e->no_batch))))
		return;
	for (i = 0; i < n; i++)
		e->no_batch[i] = heap_block_size(p->heap, sizes[i]);
	e->no_batch_n = n;
	e->no_batch_at = p->room_count;
	e->no_batch_allocs = allocs;
	e->no_batch_unheld = e->unheld;
}

int
dpool_evict_batch(struct dpool *p, const uint64_t *sizes, size_t n,
		  uint64_t lack, uint32_t *gone)
{
	struct trial t = {.p = p, .sizes = sizes, .n = n};
	struct heap_events ev;
	int64_t k;

	*gone = 0;
	heap_events_save(p->heap, &ev);
	if (no_room_known(p, sizes, n, ev.allocs))
		return 0;
	if (p->evict.unheld == 0)
		return 0;
	if (!(t.offs = malloc(n * sizeof(*t.offs))))
		return -ENOMEM;
	t.next = TAILQ_FIRST(&p->evict.lru);
	/* Off before: only a free holds it, for its own call. */
	heap_set_retain_hold(p->heap, 1);
	p->trial = true;
	k = search(&t, lack);
	p->trial = false;
	if (heap_set_retain_hold(p->heap, 0))
		dpool_retain_check(p);
	heap_events_restore(p->heap, &ev);
	free(t.names);
	free(t.offs);
	if (k < 0)
		return -ENOMEM;
	if (k == 0) {
		no_room_keep(p, sizes, n, ev.allocs);
		return 0;
	}
	*gone = dpool_evict(p, 0, (uint32_t)k, UINT64_MAX);
	assert(*gone == (uint32_t)k);
	return 0;
}
