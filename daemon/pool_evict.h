/*
 * pool_evict.h - evictable names (docs/protocol.md, "Eviction"): a pool
 * that is full gives up the blocks of names published evictable that no
 * handle holds, least recently used first, rather than refuse an
 * allocation; a uid at its user quota gives up its own such names, and
 * only those.
 *
 * Two structures per pool, over a link per evictable name (its own
 * allocation: a kept name pays only its pointer): every evictable name by
 * its block's offset (a red-black tree, so that a block's first hold and
 * its last release find their name in O(log n)), and the evictable names
 * whose blocks nobody holds, oldest use first (a list: a use and an
 * eviction are O(1) there).  A use is a publish, a lookup, or the end of
 * the last hold.
 *
 * And the unheld ones again per uid, on a list of each uid's own in the
 * same order (struct evict_uid): the names a refusal by the pool's user
 * quota may evict for that uid, its oldest first, without a walk past
 * others' names.  A named block is persistent, the name being the pool's
 * reference, and its persister stays until the name goes (only the
 * name's removal ends its persistence, and a persist of a persistent
 * block changes nothing): so each evictable name is charged to exactly
 * one uid, which has a persist charge (pool.h's struct persist_charge)
 * for as long as the name is there.  The uid's list lives in that
 * charge, found by uid in O(log u) (the charges are sorted by uid):
 * there is nothing to allocate as a name joins the list, which happens
 * where nothing may fail (a hold's end).  The charges move in their
 * array as uids come and go, so the list has no head a link points back
 * to: its ends are NULL, and the charge keeps its oldest and newest.
 */
#ifndef POOLMGRD_POOL_EVICT_H
#define POOLMGRD_POOL_EVICT_H

#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct block;
struct block_name;
struct dpool;

/* An evictable name's place on its pool's books of eviction. */
struct evict_link {
	RB_ENTRY(evict_link) by_off;
	TAILQ_ENTRY(evict_link) lru;
	struct block_name *name;
	/* On its persister's list (struct evict_uid) exactly while on lru. */
	struct evict_link *uid_prev, *uid_next;
	bool on_lru;
	uint16_t seen;		/* the books' walk that last took it in */
	uint32_t rank;		/* evict_rank's */
	uint64_t used;		/* the books' clock when it last went on
				 * lru: lower, less recently used */
	/* In a search, at either end of a run taken in: its other end. */
	struct evict_link *run_end;
};
TAILQ_HEAD(evict_lru, evict_link);
RB_HEAD(evict_tree, evict_link);

/*
 * One uid's unheld evictable names, oldest use first, and their bytes:
 * the pool's list's links of names charged to the uid, in its order.
 * Part of the uid's persist charge (pool.h), which is all zeros when made.
 */
struct evict_uid {
	struct evict_link *oldest, *newest;
	uint32_t unheld;
	uint64_t unheld_bytes;
};

struct evict_books {
	struct evict_lru lru;	/* evictable and unheld, oldest use first */
	struct evict_tree by_off; /* every evictable name, by its block */
	uint32_t count;		/* names in by_off (links malloc'd:
				 * books_bytes) */
	uint32_t unheld;	/* names on lru */
	uint64_t unheld_bytes;	/* their blocks' usable sizes */
	uint64_t evictions;	/* names evicted, ever (PoolStats) */
	uint64_t evicted_bytes;	/* ... their blocks' usable sizes */
	/*
	 * The least request (size, align) dpool_evict_run's search last
	 * found no stretch for, and the pool's room_count then: until room
	 * is made again no request at least as large and as aligned has one,
	 * nor one whose block is longer than no_run_longest, the longest
	 * stretch that search met (it met them all).
	 */
	uint64_t no_run_size, no_run_align, no_run_at, no_run_longest;
	bool no_run;
	uint16_t walk;		/* searches for a window, mod 2^16 (links'
				 * seen) */
	uint64_t clock;		/* names put on lru, ever (links' used) */
	/*
	 * The last batch whose trial with every unheld name evicted did not
	 * fit (dpool_evict_batch): its blocks' sizes as the engine rounds
	 * them (malloc'd, no_batch_n of them, or NULL), and the pool's
	 * room_count, the engine's allocations and the unheld names then.
	 */
	uint64_t *no_batch;
	size_t no_batch_n;
	uint64_t no_batch_at, no_batch_allocs;
	uint32_t no_batch_unheld;
	uint64_t trials;	/* a batch's trials in the engine, ever */
};

void evict_init(struct evict_books *e);
/* Free every link: the pool is going (before its names). */
void evict_free(struct evict_books *e);
/*
 * A link for a name about to be made evictable, or NULL if out of memory
 * (a request that fails after frees it, having changed nothing).
 */
struct evict_link *evict_link_make(void);
/*
 * Name n (on n->block, which has no other name) becomes evictable with
 * link l: on the list, at its newest end, if nobody holds its block.
 * evict_remove takes it off both structures and frees its link (it is
 * unpublished, or moves to another block, or is kept from now on).
 */
void evict_add(struct dpool *p, struct block_name *n, struct evict_link *l);
void evict_remove(struct dpool *p, struct block_name *n);
/* A lookup of evictable name n: the newest use. */
void evict_touch(struct dpool *p, struct block_name *n);
/*
 * Evictable block b (named) gets its first holder (evict_held, before
 * its count goes up) or loses its last one (evict_unheld, after).  A
 * name put on the list, here or by evict_add, is room for the pool's
 * waiting allocations (dpool_room): a try may evict it.
 */
void evict_held(struct dpool *p, struct block *b);
void evict_unheld(struct dpool *p, struct block *b);
/*
 * The bytes to evict before a request could fit in pool p: one that
 * needs need bytes of the engine's room (its free and cached bytes), of
 * which counted (no more than need) count against the pool's limit (a
 * block that moves holds its old place only for the move: its growth
 * counts, docs/protocol.md, "A pool's limit").  An eviction gives its
 * bytes back to the engine and the limit alike, so the request lacks
 * the more of need less the engine's room and counted less what the
 * limit leaves (0 past it); 0 if it lacks neither.  O(1).
 */
uint64_t dpool_evict_short(struct dpool *p, uint64_t need, uint64_t counted);
/*
 * Could evicting every unheld evictable block make room for a request
 * lack bytes short (dpool_evict_short): are their bytes at least that?
 * If not, no eviction can help, and none is made.  Takes what is short
 * rather than the request, so that a round reads the engine's totals
 * once.
 */
bool dpool_evict_may_fit(const struct dpool *p, uint64_t lack);
/*
 * Room for heap_alloc(size, align), which the engine refused, made by
 * evicting a window: unheld evictable names side by side, with only free
 * space between their blocks, whose evictions would make one run, with
 * the free space around it, that holds the request - the window whose
 * most recently used name is the least recently used it can be, and of
 * those the fewest names around that one, the less recently used of the
 * two sides first.  So no name goes that was used after one that could
 * have gone instead.  How many names went; 0 if no window could hold the
 * request: no eviction can make it fit, and none is made (a refused
 * request changes nothing).  Free runs with no such block beside them
 * are not looked at: the engine, which flushes its caches before it
 * refuses, found none of them long enough.  The search takes the unheld
 * names in, oldest first, and stops at the first that completes a
 * window; each name is taken in once at most, with a look at the free
 * space around it and its run's ends (heap_free_around, O(log n)):
 * about 33 ns a name (docs/PERFORMANCE.md).  A "no" is kept for requests
 * at least as large and as aligned, and for those longer than every
 * stretch it met, until room is made in the pool (dpool_room counts every
 * free, shrink, release and name let go, each of which could lengthen a
 * stretch; allocations only shorten them).
 */
uint32_t dpool_evict_run(struct dpool *p, uint64_t size, uint64_t align);
/*
 * Room for the live block at off to grow in place by more bytes, which
 * the engine refused: the unheld evictable names right after it, each
 * with only free space before it, evicted in offset order, as many as
 * make the free space after it hold more, and no other (those elsewhere
 * give a growth in place nothing).  How many went; 0, none evicted, if
 * all of them would not do (dpool_evict_may_grow).  A look at the free
 * space after the block and after each name, O(log n) each.
 */
uint32_t dpool_evict_grow(struct dpool *p, uint64_t off, uint64_t more);
/* Would dpool_evict_grow make room for live block b?  Evicts nothing. */
bool dpool_evict_may_grow(struct dpool *p, const struct block *b,
			  uint64_t more);
/*
 * Would dpool_evict_run find a window?  Evicts nothing.  A batch asks
 * it of its largest block: if none, no eviction can give it that block.
 */
bool dpool_evict_may_make_run(struct dpool *p, uint64_t size,
			      uint64_t align);
/*
 * Room for an AllocBatch of n blocks of sizes (n > 1), which the engine
 * refused, lack bytes short (dpool_evict_short): the fewest least
 * recently used unheld evictable names whose eviction lets the engine
 * allocate every block, heap_alloc(size, 0) in the batch's order, are
 * evicted in one call (one change of the crash journal per 256, as a
 * window's), *gone of them.
 * Found by trials in the engine itself, each undone: a trial frees the
 * names' blocks there (no page given back: the pool's trial), allocates
 * the batch and frees it, and reserves the names' blocks again; the
 * pool's books are not touched (pool_evict_batch.c says what of the
 * engine's a trial leaves changed).  *gone is 0, nothing evicted, when
 * even every unheld name's eviction would leave the batch refused (a
 * refused request changes nothing); that "no" is kept for the same
 * batch until room is made in the pool, or a block allocated or a name
 * held there.
 * At most 3N frees and reservations of names' blocks for N unheld names
 * (three times the most one trial freed), and 2 log2 N + 2 trials of the
 * batch's allocations.  0, or -ENOMEM, nothing evicted: no memory for a
 * trial.
 */
int dpool_evict_batch(struct dpool *p, const uint64_t *sizes, size_t n,
		      uint64_t lack, uint32_t *gone);
/*
 * Evict the least recently used unheld evictable names, unpublishing
 * them and freeing their blocks, until their bytes reach need and they
 * are at least names many or their bytes reach enough too, or none is
 * left: how many went.
 */
uint32_t dpool_evict(struct dpool *p, uint64_t need, uint32_t names,
		     uint64_t enough);
/*
 * A refusal by p's user quota lacks lack bytes of uid's (what the uid
 * holds and the request would add, past the quota): could evicting every
 * unheld evictable name charged to uid give them back?  Others' names
 * are no room under uid's quota.  O(log u), u the uids with persistent
 * blocks in p.
 */
bool dpool_evict_user_may_fit(struct dpool *p, uid_t uid, uint64_t lack);
/*
 * Evict the least recently used unheld evictable names charged to uid,
 * as dpool_evict does, until their bytes reach need or none is left: how
 * many went.  O(log u) per name.
 */
uint32_t dpool_evict_user(struct dpool *p, uid_t uid, uint64_t need);
/*
 * Pool p holds more than its limit: evict its unheld evictable names,
 * least recently used first, until it holds no more or none is left
 * (what the next allocation would evict first).  How many went, their
 * bytes in *bytes; none if p is within its limit.  Held and kept blocks
 * stay: a limit takes nothing else back.  None while held back
 * (dpool_evict_over_limit_hold).
 */
uint32_t dpool_evict_over_limit(struct dpool *p, uint64_t *bytes);
/*
 * Hold back dpool_evict_over_limit (hold true), or let it evict again.
 * A start holds it until its crash journal is in the fd store
 * (server.c): the journal the store holds until then (the one the start
 * recovered from, or the image's before a restart) still names what an
 * eviction would take, whose pages go back as it goes, and a crash then
 * would bring those names back on pages that read zero.
 */
void dpool_evict_over_limit_hold(bool hold);
/*
 * Number the evictable names in the order of eviction, for a restart's
 * state: those on the list from 1, oldest first, then the held ones, as
 * their release would put them.
 */
void evict_rank(struct dpool *p);
/*
 * Check: both structures against the names (each evictable name once in
 * the tree, each unheld one once on the list, nothing else, the counts
 * and bytes as the books say), and each uid's list against the pool's
 * (the pool's links of that uid, in its order, as many and as many bytes
 * as the uid's books say).  0, or -EFAULT with the problem.
 */
int evict_check(struct dpool *p, char *problem, size_t len);

#endif /* POOLMGRD_POOL_EVICT_H */
