/*
 * cache_shard.c - the shards of a cache: which one a thread uses, finding a
 * block in them, and room in their stacks (the "Structure" paragraph of
 * the design in cache.c, and the wait for a busy block of 5).
 *
 * A thread takes a slot the first time it uses any cache and keeps it until
 * it exits; the slot is its shard in every handle's cache.  A block is
 * looked for in the thread's own shard, then in every other shard a thread
 * has used, the central one first: a block freed by another thread than
 * the one that got it, or handed out again by the daemon after a flush, may
 * be in any.  A lookup that finds the block busy (being shrunk or flushed)
 * waits, under that shard's lock, until the daemon has answered.  The
 * stacks' push and pop, and the thread's shard, are on every hit's way:
 * inline, in cache_internal.h.
 *
 * Invariants: slot_threads[s] is the number of live threads on slot s
 * (without the thread key, a slot is never given back: the count only runs
 * high, which is safe); a lookup holds one shard lock at a time, and
 * returns with the lock of the shard it found the block in, only then.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

/*
 * Shard slots are handed to threads from a process-wide table: a thread
 * takes the slot with the fewest live threads (the lowest on ties) the first
 * time it uses a cache, and gives it back when it exits.  Threads that come
 * and go (a pool of workers replaced over time, a thread per task) so reuse
 * the shards of those that went, with the blocks cached there.
 */
static unsigned		slot_threads[CACHE_SHARDS];	/* atomic */
static pthread_key_t	slot_key;
static pthread_once_t	slot_once = PTHREAD_ONCE_INIT;
static int		slot_key_ok;

/* The calling thread's slot + 1; cache_internal.h. */
__thread unsigned cache_thread_slot
	    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/*
 * A test may define this to watch, and to hold, a thread taking a slot:
 * it is called once the slot is chosen (taken 0) and once it is taken.
 * Programs do not define it: a weak symbol, null.  Hidden: the shared
 * library neither looks for it in others nor offers it.
 */
void	cache_slot_hook(unsigned slot, int taken)
	    __attribute__((weak, visibility("hidden")));

/* A thread ends: its slot has one live thread less. */
static void
slot_release(void *arg)
{
	unsigned	s = (unsigned)(uintptr_t)arg - 1;

	__atomic_sub_fetch(&slot_threads[s], 1, __ATOMIC_RELAXED);
}

static void
slot_init(void)
{
	__atomic_store_n(&slot_key_ok, pthread_key_create(&slot_key,
	    slot_release) == 0, __ATOMIC_RELEASE);
}

/*
 * The library unloaded (dlclose, of a plugin that used it) or the process
 * ending: the key goes first.  A thread that took a slot and exits after
 * the unload would otherwise have slot_release called, in code no longer
 * mapped.  A slot taken afterwards (a thread still calling in as the
 * process ends) is never given back: still correct.
 */
static void __attribute__((destructor))
slot_fini(void)
{
	if (__atomic_exchange_n(&slot_key_ok, 0, __ATOMIC_ACQ_REL))
		(void)pthread_key_delete(slot_key);
}

/*
 * The calling thread's slot, taken on its first use of a cache.  The count
 * of the slot chosen is raised only if it is still what the choice saw:
 * two threads that start at once and choose the same slot do not both
 * take it, the second chooses again.  No lock, so a child forked while
 * another thread chooses cannot find one held.
 */
unsigned
cache_thread_slot_take(void)
{
	unsigned	s, best, fewest, n;

	pthread_once(&slot_once, slot_init);
	do {
		best = 0;
		fewest = __atomic_load_n(&slot_threads[0], __ATOMIC_RELAXED);
		for (s = 1; s < CACHE_SHARDS; s++) {
			n = __atomic_load_n(&slot_threads[s], __ATOMIC_RELAXED);
			if (n < fewest) {
				fewest = n;
				best = s;
			}
		}
		if (cache_slot_hook != NULL)
			cache_slot_hook(best, 0);
	} while (!__atomic_compare_exchange_n(&slot_threads[best], &fewest,
	    fewest + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	if (cache_slot_hook != NULL)
		cache_slot_hook(best, 1);
	/* Without the key the slot is never given back: still correct. */
	if (__atomic_load_n(&slot_key_ok, __ATOMIC_ACQUIRE))
		(void)pthread_setspecific(slot_key, (void *)(uintptr_t)(best + 1));
	cache_thread_slot = best + 1;
	return best;
}

/* Enter a block in sh's table, if it is of a size we keep.  Locked. */
void
cache_track_locked(struct cache *k, struct shard *sh, uint64_t off,
    uint64_t usable, uint32_t req)
{
	if (class_of_block(k, usable) >= 0)
		ctable_put(&sh->table, off, (uint32_t)usable, req);
}

static enum ctable_found wait_not_busy(struct shard *, uint64_t,
		    struct ctable_entry *, size_t *, enum ctable_found);

/*
 * Look off up in sh, waiting while it is busy; sh locked on return if off
 * is there (*r not busy, *slot its entry's), unlocked if not.
 */
int
cache_find_in(struct shard *sh, uint64_t off, struct ctable_entry *e,
    size_t *slot, enum ctable_found *r)
{
	cache_lock(&sh->lock);
	*r = wait_not_busy(sh, off, e, slot,
	    ctable_find(&sh->table, off, e, slot));
	if (*r != CTABLE_ABSENT)
		return 1;
	cache_unlock(&sh->lock);
	return 0;
}

/*
 * Find off in any shard but skip, lock the shard it is in and return it
 * with the entry (the lock is held, *r not busy), or NULL.  An entry that
 * is gone once its flush is answered does not end the search: the daemon
 * may have freed the block and handed its offset out again, to a thread
 * of another shard, before the flushing shard heard back.
 */
struct shard *
cache_find_elsewhere(struct cache *k, struct shard *skip, uint64_t off,
    struct ctable_entry *e, size_t *slot, enum ctable_found *r)
{
	struct shard	*sh;
	unsigned	 s;

	/* The central shard first: it has the larger blocks of all threads. */
	for (s = 0; s < CACHE_ALL_SHARDS; s++) {
		sh = &k->shard[(s + CACHE_CENTRAL) % CACHE_ALL_SHARDS];
		if (sh == skip || !__atomic_load_n(&sh->used, __ATOMIC_RELAXED))
			continue;
		if (cache_find_in(sh, off, e, slot, r))
			return sh;
	}
	*r = CTABLE_ABSENT;
	return NULL;
}

/*
 * A block being shrunk (cache_give_slack) must not be freed, moved or
 * retained until the shrink has reached the daemon: freed first, its offset
 * could go to another thread, whose block the shrink would then resize.
 * A block being flushed is not known to be free or still ours until the
 * daemon has answered (cache_give_back).  So whoever finds one busy waits
 * here, shard locked, and looks again.
 */
static enum ctable_found
wait_not_busy(struct shard *sh, uint64_t off, struct ctable_entry *e,
    size_t *slot, enum ctable_found r)
{
	/* No cancellation point (cache_lock.h): the shard stays ours. */
	while (r == CTABLE_BUSY) {
		cache_lock_wait(&sh->lock);
		r = ctable_find(&sh->table, off, e, slot);
	}
	return r;
}

/* off's shard, locked, and what it is there (not busy); NULL if nowhere. */
struct shard *
cache_find_anywhere(struct cache *k, uint64_t off, struct ctable_entry *e,
    enum ctable_found *r)
{
	struct shard	*sh = my_shard(k);
	size_t		 slot;

	if (cache_find_in(sh, off, e, &slot, r))
		return sh;
	return cache_find_elsewhere(k, sh, off, e, &slot, r);
}

/* Room for one more block in b; 0 if memory ran out.  Locked. */
int
cache_bin_grow(struct bin *b)
{
	struct cblock	*nb;
	uint32_t	 cap;

	cap = b->cap ? b->cap * 2 : 16;
	if ((nb = realloc(b->b, cap * sizeof *nb)) == NULL)
		return 0;
	b->b = nb;
	b->cap = cap;
	return 1;
}

/* Room for n blocks at the bottom of b; 0 if memory ran out.  Locked. */
int
cache_bin_open_bottom(struct bin *b, uint32_t n)
{
	struct cblock	*nb;
	uint32_t	 cap = b->cap ? b->cap : 16;

	while (cap < b->n + n)
		cap *= 2;
	if (cap != b->cap) {
		if ((nb = realloc(b->b, cap * sizeof *nb)) == NULL)
			return 0;
		b->b = nb;
		b->cap = cap;
	}
	memmove(b->b + n, b->b, b->n * sizeof *b->b);
	b->n += n;
	return 1;
}

/* Of the room for n opened at the bottom of b only put were filled. */
void
cache_bin_close_bottom(struct bin *b, uint32_t put, uint32_t n)
{
	memmove(b->b + put, b->b + n, (b->n - n) * sizeof *b->b);
	b->n -= n - put;
}
