/*
 * pool_release.c - what clients let go of, given back a step at a time.
 *
 * Each of these would otherwise hold the daemon's thread, the one that
 * serves every other client of every pool, for as long as they take:
 *
 * - Punching a hole costs the kernel about a quarter of a millisecond per
 *   MiB of resident memory, so a client freeing a 1 GiB block would stop
 *   everyone for a quarter of a second.  Instead, a freed block larger
 *   than the release step stays allocated in the engine (nobody can be
 *   handed its pages) while its pages are punched out one step per loop
 *   turn, between other requests; then heap_free_released frees it,
 *   knowing its pages are zero.
 * - Dropping a reference costs about a sixth of a microsecond, so a client
 *   that dies (or closes a handle) holding 10^6 blocks would stop everyone
 *   for 150 ms.  Instead, a closed handle holding more than drop_step
 *   references drops that many per loop turn.  Its blocks stay live in
 *   the engine meanwhile, but nobody can reach them: the handle has left
 *   its session and its pool, and dpool_block does not see a block that
 *   only closed handles hold.
 * - Many blocks, each at most a step, freed in one turn: a FreeBatch of
 *   4096 blocks of 1 MiB (page spans) punched 4 GiB in its turn (1.8 s),
 *   one of 4096 blocks of a page, each past what the pool keeps, punched
 *   4096 holes (30 ms), and so did a drop step of a closed handle.  The
 *   engine's releases count against the turn (freed_at_once, through
 *   the pool's release callback, dpool_released_at_once); once frees
 *   gave back release_step bytes, the turn is spent (dpool_turn_spent):
 *   a span freed after that goes in steps as a big block does, whatever
 *   its size, and a small block's pages only join those the engine keeps
 *   (heap_set_retain_hold, pool_block.c), whose excess over the bound goes
 *   heap_retain_step by step (below).  So a turn gives back at most
 *   release_step and one block's pages because of frees.  A step starts
 *   the count anew; a turn with nothing queued asks for a step at its
 *   end to do so.  Blocks deferred so go a step's worth per turn, one
 *   after the other, not one per turn.  Every step of a punch ends on a
 *   page boundary (step_to_page): a punch of part of a page only zeroes
 *   that part.
 *
 * - A trim, when a pool has been idle (dpool_idle_tick) or when a client
 *   asks (dispatch_upkeep.c), punches out every free page the pool kept for
 *   reuse, which can be gigabytes: it goes through heap_trim_step,
 *   release_step bytes and 1024 free runs per loop turn, behind the work
 *   queued meanwhile after each (a pass held the head of the queue, and
 *   every other pool's work, for its thousands of turns).  Nothing is held
 *   for it, so nothing needs settling.  A pass over the pool does not see
 *   pages freed behind it, nor blocks cached after its first step flushed
 *   the caches: when it reaches the end with either left, the trim goes
 *   over the pool once more, from the back of the queue (and once more
 *   for each Trim that joins it meanwhile); what the last pass leaves is
 *   kept as after any free.  It ended with a whole heap_trim once, which
 *   walked every free run up to the last free page in one turn: 252 ms
 *   with 10^6 free runs and a client freeing blocks all over the pool
 *   meanwhile.  Its last step (or the trim at once) also punches the
 *   memfd from the engine's high-water mark to its end
 *   (dpool_trim_past_top): the pages that mappings faulted in there by
 *   reading, or wrote, where no block was, which the engine takes for
 *   never touched.  In steps of release_step bytes of data each, found
 *   by SEEK_DATA, the mark read again at each: a punch costs 0.05-0.3 ms
 *   per MiB it gives back, and one of a gigabyte a reader faulted in
 *   held everyone 70-330 ms (docs/PERFORMANCE.md); a step over nothing
 *   resident costs a few microseconds, whatever the pool's size.
 *
 * - Copying a block the daemon moves for a plain Realloc costs about
 *   0.4 ms per MiB (2 GiB held everyone for 5 s): a copy of more than
 *   release_step bytes goes that many per loop turn (dpool_move_defer).
 *   The new place is allocated in the engine first; the block stays at
 *   its old place in the books, where nobody else may retain it, until
 *   the copy is done (dpool_move_end moves it and hands the old place to
 *   a stepped release, the move's last part: see heir_of).  Its client
 *   is held meanwhile and answered then; if that client lets go of the
 *   block first (it died), the copy stops and both places are freed.
 * - Zeroing a calloc's new block: the engine zeroes only what may be
 *   dirty, but a stretch at a time, and 131,072 separately dirty pages of
 *   a 1 GiB block took 0.5 s.  A block over release_step is taken plain
 *   and its pages punched release_step bytes per loop turn instead (a
 *   range never touched costs next to nothing), its client held as for a
 *   move (dpool_zero_defer).
 *
 * The client's books change at once: its references, quota and block
 * records (for a free), its whole handle (for a close) are gone when the
 * reply leaves or the connection is noticed closed.
 *
 * - Freeing or shrinking a big block lowers the bound on the free pages
 *   the engine keeps for reuse (a quarter of the live pages): the engine
 *   gives back only retain_cut (release_step) bytes of the excess in the
 *   call itself, and the rest goes heap_retain_step by step
 *   (dpool_retain_check), where 2 GiB once went in one call (0.7 s).
 *
 * A destroyed pool's memfd is not punched: whoever still maps it (a
 * child forked after its parent opened the pool, which the daemon cannot
 * see) would lose its bytes, and on huge pages the pages themselves.  Its
 * last close, which frees its pages as a punch would (about 0.2 s per
 * GiB), happens on a thread of its own (closer.c) instead, and takes
 * nothing from a process that maps it; with release_step = 0 it happens
 * at once, on the daemon's thread, as everything else here does.
 *
 * One queue holds all six kinds, first in, first out, so the blocks a
 * closed handle drops join it behind the handle: right behind it, with
 * its sequence number, as do a move's old place and a zeroed block let
 * go of (heir_of), since they are that work's last part.  What the
 * engine holds back this way is invisible from outside.  A request that
 * reads the pool's state (stats, check, trim, destroy), or that the
 * engine (or the pool's limit, which counts a block held here until its
 * last step) refuses while the pool has such work, waits until the work
 * queued before it is done: dispatch.c holds it and asks
 * dpool_release_passed after each step, so only its own client waits;
 * then it runs (again).  So no
 * request fails, and no statistic differs, because of work queued before
 * it.  Each piece of work has a sequence number, in queue order, so
 * "the work queued before" is a number.  Work queued after it by others
 * holds it for at most a while (dispatch.c), and is never finished at
 * once on the daemon's thread for it.  Kept pages going (RELEASE_RETAIN)
 * are waited for by the requests that read the state, not by refused
 * ones (they hold no room); while pages are left they go behind the work
 * queued meanwhile after each step, since others' frees may keep adding
 * to them.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "closer.h"
#include "log.h"
#include "pool.h"
#include "session.h"

enum release_kind {
	RELEASE_BLOCK,		/* a freed block whose pages go back */
	RELEASE_HANDLE,		/* a closed handle dropping its references */
	RELEASE_TRIM,		/* a pool's kept free pages going back */
	RELEASE_MOVE,		/* a block's contents copied to its new place */
	RELEASE_ZERO,		/* a calloc's new block zeroed */
	RELEASE_RETAIN,		/* kept free pages over their bound going */
};

struct releasing {
	TAILQ_ENTRY(releasing) entry;
	struct dpool *pool;
	enum release_kind kind;
	struct handle *handle;	/* RELEASE_HANDLE */
	struct block *block;	/* RELEASE_MOVE: the block, still at off;
				 * RELEASE_ZERO: the block, at off */
	uint64_t off, len, done; /* RELEASE_BLOCK; RELEASE_MOVE: bytes to
				  * copy, copied; RELEASE_TRIM past the
				  * mark: off, where its punch goes on */
	uint64_t dst;		/* RELEASE_MOVE: the block's new place */
	bool failed;		/* a punch failed: the engine tries again */
	uint64_t released;	/* RELEASE_TRIM: trimmed_bytes at its start */
	bool again;		/* RELEASE_TRIM: go over the pool once more
				 * if free pages or cached blocks are left
				 * at the end */
	bool past;		/* RELEASE_TRIM: the pass is over, the memfd
				 * punched past the mark from off on */
	uint64_t seq;		/* order of queueing: grows along the queue */
	LIST_ENTRY(releasing) of_pool;	/* RELEASE_HANDLE: on its pool's
					 * closing_work, for the Check */
};

static TAILQ_HEAD(, releasing) queue = TAILQ_HEAD_INITIALIZER(queue);
static uint64_t release_step = DPOOL_RELEASE_STEP_DEFAULT;
static uint32_t drop_step = DPOOL_DROP_STEP_DEFAULT;
/*
 * References dropped at once (handles of at most drop_step each) in this
 * loop turn: a client that closes 1023 handles of 4096 blocks each, by
 * disconnecting, must not have all 4 million dropped in one turn.  Past
 * drop_step, the next handles go in steps like big ones.  A step starts
 * the count anew; a turn with nothing queued asks for one at its end, or
 * the count of turns long past made a later close wait for a step.
 */
static uint64_t dropped_at_once;
/*
 * Bytes the engine gave back at once since the last step, through frees
 * in requests (and a closed handle's drops) mostly: past release_step,
 * the turn's later frees give nothing back at once (dpool_turn_spent).
 * A FreeBatch of 4096 blocks of 1 MiB each, none over the step, punched
 * 4 GiB in its turn.
 */
static uint64_t freed_at_once;
static bool releasing_off;	/* the daemon is stopping: punch nothing */
static void (*on_queued)(void);
static uint64_t last_seq;
/*
 * The work whose step runs, while that step may free blocks that are its
 * own work's last part: a moved block's old place (or both places, its
 * client gone), a zeroed block its client let go of, the blocks a closed
 * handle held.  Their releases go right behind it, with its number, not
 * at the back of the queue with a new one: a request that waits for the
 * work queued before it waits for them too.  A request held for a move
 * was tried again as soon as the copy was done, found the old place
 * still held, and was refused, since what held it now counted as queued
 * after the request.  NULL between such steps.
 */
static struct releasing *heir_of;

void
dpool_release_setup(uint64_t step, uint32_t drops, void (*queued)(void))
{
	struct dpool *p;

	release_step = step;
	drop_step = drops;
	on_queued = queued;
	/* A reload may change the step: the pools made before follow it. */
	for (p = dpool_first(); p; p = dpool_next(p))
		heap_set_retain_cut(p->heap, dpool_retain_cut());
}

static void
queue_add(struct releasing *r)
{
	r->seq = ++last_seq;
	TAILQ_INSERT_TAIL(&queue, r, entry);
	if (on_queued && TAILQ_FIRST(&queue) == r)
		on_queued();
}

/* Queue r, a release that is heir_of's last part, if any (above). */
static void
queue_add_heir(struct releasing *r)
{
	if (!heir_of) {
		queue_add(r);
		return;
	}
	/* Behind the step's work and its earlier heirs: seq stays in order. */
	r->seq = heir_of->seq;
	TAILQ_INSERT_AFTER(&queue, heir_of, r, entry);
	heir_of = r;
}

static void
queue_remove(struct releasing *r)
{
	if (r->kind == RELEASE_HANDLE)
		LIST_REMOVE(r, of_pool);
	TAILQ_REMOVE(&queue, r, entry);
	free(r);
}

void
dpool_stop_releasing(void)
{
	releasing_off = true;
	closer_stop();	/* destroyed pools' memfds queued there closed */
}

bool
dpool_release_stopped(void)
{
	return releasing_off;
}

bool
dpool_release_defer(struct dpool *p, uint64_t off, uint64_t len)
{
	struct releasing *r;

	/*
	 * Only page spans (large blocks) can be freed as released; a pool
	 * on huge pages releases nothing (pool.h).
	 */
	if (release_step == 0 || releasing_off || p->huge ||
	    len < p->large_threshold ||
	    (len <= release_step && !dpool_turn_spent()))
		return false;
	if (!(r = calloc(1, sizeof(*r))))
		return false;	/* then at once, as with no step */
	r->pool = p;
	r->off = off;
	r->len = len;
	p->releasing++;
	queue_add_heir(r);
	return true;
}

uint64_t
dpool_releasing_at(struct dpool *p, uint64_t off)
{
	struct heap_block_info bi;

	/*
	 * Out of the index yet live in the engine: a freed block held for
	 * its steps, or a moving block's new place, which stays taken.
	 * Only the first while nothing moves.
	 */
	if (!p->releasing || p->moving || block_index_find(&p->blocks, off) ||
	    heap_block_info(p->heap, off, &bi))
		return 0;
	return bi.size;
}

/*
 * A turn's first count (bytes freed or references dropped at once): the
 * counts are for one turn, and a step, due at its end, starts them anew.
 */
static void
turn_count_begins(void)
{
	if (!freed_at_once && !dropped_at_once && TAILQ_EMPTY(&queue) &&
	    on_queued)
		on_queued();
}

void
dpool_released_at_once(uint64_t len)
{
	turn_count_begins();
	freed_at_once += len;
}

bool
dpool_turn_spent(void)
{
	return release_step && !releasing_off && freed_at_once >= release_step;
}

uint64_t
dpool_release_step_bytes(void)
{
	return releasing_off ? 0 : release_step;
}

uint64_t
dpool_retain_cut(void)
{
	return release_step ? release_step : UINT64_MAX; /* no steps: at once */
}

/*
 * A step's bytes from at: at least max, ending on a page boundary.  The
 * file takes any release_step, and a punch that ends inside a page only
 * zeroes its part of it; the next step's punch, starting there, zeroed
 * the rest, so the page stayed in the memfd, taken for given back: 6000
 * byte steps left 43.5 MiB of a freed 64 MiB block, which no trim could
 * find.  On hugetlbfs nothing short of a huge page goes at all.
 */
static uint64_t
step_to_page(uint64_t at, uint64_t max, uint64_t page)
{
	uint64_t end = at + max;

	if (max == UINT64_MAX || end < at)
		return max;	/* no steps: the rest at once */
	return ((end + page - 1) & ~(page - 1)) - at;
}

/* Queue work on busy block b: a copy to dst (RELEASE_MOVE) or a zeroing. */
static bool
busy_defer(struct dpool *p, struct block *b, enum release_kind kind,
	   uint64_t dst, uint64_t len)
{
	struct releasing *r;

	if (release_step == 0 || releasing_off ||
	    !(r = calloc(1, sizeof(*r))))
		return false;
	r->pool = p;
	r->kind = kind;
	r->block = b;
	r->off = b->off;
	r->len = len;
	r->dst = dst;
	if (kind == RELEASE_MOVE)
		p->moving++;
	else
		p->zeroing++;
	queue_add(r);
	return true;
}

bool
dpool_move_defer(struct dpool *p, struct block *b, uint64_t dst,
		 uint64_t len)
{
	return busy_defer(p, b, RELEASE_MOVE, dst, len);
}

bool
dpool_zero_defer(struct dpool *p, struct block *b)
{
	return busy_defer(p, b, RELEASE_ZERO, 0, b->size);
}

/*
 * Copy (or zero) up to max more bytes of r's block; when all are done,
 * the block moves (or is ready).  A block nobody holds any more (its
 * client died) is not worked on further.  Still at the head of the queue
 * at the end, whose releases (the old place's) go right behind it, as its
 * heirs.
 */
static void
busy_some(struct releasing *r, uint64_t max)
{
	struct dpool *p = r->pool;
	struct block *b = r->block;
	uint64_t n = r->len - r->done;

	if (!b->nrefs && !block_persistent(b))
		n = 0, r->done = r->len;
	/*
	 * Whole pages punched, none written over where a step ends.  Not on
	 * huge pages, which are zeroed by writing: a step of a 1 GiB page
	 * would hold the loop for all of it.
	 */
	if (r->kind == RELEASE_ZERO && !p->huge)
		max = step_to_page(r->off + r->done, max, p->page_size);
	if (n > max)
		n = max;
	if (r->kind == RELEASE_MOVE)
		dpool_copy(p, r->dst + r->done, r->off + r->done, n);
	else
		dpool_zero(p, r->off + r->done, n);
	r->done += n;
	if (r->done < r->len)
		return;
	assert(heir_of == NULL);
	heir_of = r;
	if (r->kind == RELEASE_MOVE) {
		p->moving--;
		dpool_move_end(p, b, r->dst);
	} else {
		p->zeroing--;
		dpool_zero_end(p, b);
	}
	heir_of = NULL;
	queue_remove(r);
}

/*
 * A handle with no reference has nothing to drop, and its uid's account
 * does not count it as closing (account_leave): never queued, though the
 * turn may have dropped more than drop_step already (a reload lowered
 * it, or a handle was dropped at once for want of memory to queue it).
 */
void
dpool_close_handle(struct dpool *p, struct handle *h)
{
	struct releasing *r;

	if (drop_step && h->nrefs && (h->nrefs > drop_step ||
			  dropped_at_once + h->nrefs > drop_step) &&
	    (r = calloc(1, sizeof(*r)))) {
		r->pool = p;
		r->kind = RELEASE_HANDLE;
		r->handle = h;
		p->closing++;
		LIST_INSERT_HEAD(&p->closing_work, r, of_pool);
		queue_add(r);
		return;
	}
	if (h->nrefs)
		turn_count_begins();
	dropped_at_once += h->nrefs;
	dpool_drop_refs(p, h, UINT64_MAX);	/* few, or no memory to wait */
	free(h);
}

/*
 * Drop up to max more of r's handle's references; done when none is left.
 * The blocks nobody holds then that go back in steps are r's heirs.
 */
static void
drop_some(struct releasing *r, uint64_t max)
{
	bool done;

	assert(heir_of == NULL);
	heir_of = r;
	done = dpool_drop_refs(r->pool, r->handle, max);
	heir_of = NULL;
	if (!done)
		return;
	free(r->handle);
	r->pool->closing--;
	queue_remove(r);
}

/* The whole block is punched out (or failed to be): free it. */
static void
release_finish(struct releasing *r)
{
	struct dpool *p = r->pool;
	int rc = r->failed ? -EAGAIN : heap_free_released(p->heap, r->off);

	if (rc)		/* the engine asks for the release itself */
		rc = heap_free(p->heap, r->off);
	if (rc)
		fatalx("pool %s: engine refused to free held block 0x%llx: %s",
		       p->name, (unsigned long long)r->off, heap_strerror(rc));
	p->releasing--;
	queue_remove(r);
	dpool_retain_check(p);	/* the bound fell with the live pages */
	dpool_room(p);
}

/* Punch up to max more bytes of r's block; free it when all are done. */
static void
release_some(struct releasing *r, uint64_t max)
{
	uint64_t n = r->len - r->done;

	if (n > max)
		n = max;
	if (!releasing_off && !r->failed &&
	    fallocate(r->pool->memfd, FALLOC_FL_PUNCH_HOLE |
		      FALLOC_FL_KEEP_SIZE, (off_t)(r->off + r->done),
		      (off_t)n) == -1) {
		log_warn("pool %s: punching a hole", r->pool->name);
		r->failed = true;
	}
	r->done += n;
	if (r->done == r->len)
		release_finish(r);
}

/*
 * Punch up to max bytes of the blocks at the front of the queue: the
 * blocks a spent turn deferred, each under the step, go a step's worth
 * per turn, not one per turn.
 */
static void
release_blocks(uint64_t max)
{
	struct releasing *r;

	while (max && (r = TAILQ_FIRST(&queue)) && r->kind == RELEASE_BLOCK) {
		uint64_t n = step_to_page(r->off + r->done, max,
					  r->pool->page_size);

		if (n > r->len - r->done)
			n = r->len - r->done;
		release_some(r, n);
		max -= n < max ? n : max;
	}
}

static uint64_t
released_bytes(struct dpool *p)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	return st.released_bytes;
}

uint64_t
dpool_release_mark(void)
{
	return last_seq;
}

bool
dpool_release_passed(uint64_t mark)
{
	struct releasing *r = TAILQ_FIRST(&queue);

	return !r || r->seq > mark;
}

/* The trim under way in p's queue (p->trimming). */
static struct releasing *
trim_of(struct dpool *p)
{
	struct releasing *r;

	TAILQ_FOREACH(r, &queue, entry)
		if (r->pool == p && r->kind == RELEASE_TRIM)
			return r;
	fatalx("pool %s: trimming, but no trim is queued", p->name);
}

bool
dpool_trim_begin(struct dpool *p)
{
	struct releasing *r;

	if (p->trimming) {
		/* Its pass may have gone past pages free now: one more. */
		trim_of(p)->again = true;
		return true;
	}
	if (p->huge)
		return false;	/* its pages are kept for life: none goes */
	if (release_step == 0 || releasing_off || !(r = calloc(1, sizeof(*r)))) {
		uint64_t n = (uint64_t)heap_trim(p->heap);

		uint64_t at = 0;

		/* Then the mark as the trim left it, in its turn. */
		n += dpool_trim_past_top(p, &at, UINT64_MAX);
		p->trimmed_bytes += n;
		log_debug("pool %s: trimmed, %llu bytes given back", p->name,
			  (unsigned long long)n);
		return false;
	}
	r->pool = p;
	r->kind = RELEASE_TRIM;
	r->released = p->trimmed_bytes;
	r->again = true;
	p->trimming = true;
	queue_add(r);
	return true;
}

static void
trim_remove(struct releasing *r)
{
	r->pool->trimming = false;
	queue_remove(r);
}

/*
 * One step of a trim.  While its pass goes on it goes behind the work
 * queued meanwhile after each step, as kept pages going do: a pass may
 * take thousands of turns, and a release of another pool queued after
 * it, with the requests waiting for that, waited for all of them.  At
 * the end of a pass, free pages left (freed behind it, or in a short run
 * that changed under it) or blocks cached since its first step flushed
 * the caches take one more pass if the trim may make it; a trim always
 * ends: each pass after the first was asked for by a Trim (or began it).
 */
static void
trim_some(struct releasing *r)
{
	struct dpool *p = r->pool;
	struct heap_stats st;
	uint64_t before;
	int more;

	if (r->past) {
		p->trimmed_bytes += dpool_trim_past_top(p, &r->off,
			release_step ? release_step : UINT64_MAX);
		if (r->off < p->size) {
			;	/* more past the mark, in a later turn */
		} else if (r->again) {
			r->past = false;	/* a Trim since: a pass more */
		} else {
			log_debug("pool %s: trimmed, %llu bytes given back",
				  p->name, (unsigned long long)
				  (p->trimmed_bytes - r->released));
			trim_remove(r);
			return;
		}
		TAILQ_REMOVE(&queue, r, entry);
		queue_add(r);
		return;
	}
	before = released_bytes(p);
	more = heap_trim_step(p->heap, release_step ? release_step
					: UINT64_MAX);
	/* Only the step runs here: the difference is the trim's own. */
	p->trimmed_bytes += released_bytes(p) - before;
	if (!more) {
		heap_get_stats(p->heap, &st);
		if (!r->again || (!st.free_resident_bytes &&
				  !st.cached_bytes)) {
			/*
			 * Then past the mark, in steps of its own; a Trim
			 * meanwhile (again) makes one pass more after it.
			 */
			r->past = true;
			r->off = 0;
		}
		r->again = false;
	}
	TAILQ_REMOVE(&queue, r, entry);
	queue_add(r);
}

void
dpool_retain_check(struct dpool *p)
{
	struct heap_stats st;
	struct releasing *r;

	if (p->retaining || releasing_off || p->huge)
		return;
	if (release_step == 0) {
		/*
		 * All at once, as the step says, with what cuts under an
		 * earlier step left (a reload set it to 0).
		 */
		while (heap_retain_step(p->heap, UINT64_MAX))
			;
		return;
	}
	heap_get_stats(p->heap, &st);
	if (!st.retain_excess_bytes || !(r = calloc(1, sizeof(*r))))
		return;		/* else later frees, or the idle trim */
	r->pool = p;
	r->kind = RELEASE_RETAIN;
	p->retaining = true;
	queue_add(r);
}

/*
 * One step of kept pages going.  While more are left it goes behind the
 * work queued meanwhile: frees that others keep making may keep the pool
 * over its bound, and a request waiting for the work queued before it
 * must not wait for theirs.
 */
static void
retain_some(struct releasing *r)
{
	if (heap_retain_step(r->pool->heap, release_step)) {
		TAILQ_REMOVE(&queue, r, entry);
		queue_add(r);
		return;
	}
	r->pool->retaining = false;
	queue_remove(r);
}

void
dpool_release_file(int fd)
{
	if (release_step == 0 || releasing_off)
		close(fd);	/* at once, as the step says */
	else
		closer_close(fd);
}

bool
dpool_release_step(void)
{
	struct releasing *r = TAILQ_FIRST(&queue);

	dropped_at_once = 0;	/* a new turn */
	if (!r) {
		freed_at_once = 0;
		return false;
	}
	r->pool->release_steps++;
	if (r->kind == RELEASE_RETAIN)
		r->pool->retain_steps++;
	switch (r->kind) {
	case RELEASE_BLOCK:
		release_blocks(release_step ? release_step : UINT64_MAX);
		break;
	case RELEASE_HANDLE:
		drop_some(r, drop_step ? drop_step : UINT64_MAX);
		break;
	case RELEASE_TRIM:
		trim_some(r);
		break;
	case RELEASE_MOVE:
		/*
		 * Copying a MiB into fresh pages costs about 0.8 ms, twice a
		 * punch of one: a quarter step keeps the turn short.
		 */
		busy_some(r, !release_step ? UINT64_MAX :
			  release_step >= 16384 ? release_step / 4 :
			  release_step);
		break;
	case RELEASE_ZERO:
		busy_some(r, release_step ? release_step : UINT64_MAX);
		break;
	case RELEASE_RETAIN:
		retain_some(r);
		break;
	}
	/* The step's own punches are its own: the turn's frees start anew. */
	freed_at_once = 0;
	return !TAILQ_EMPTY(&queue);
}

struct handle *
dpool_closing_next(const struct dpool *p, const void **at)
{
	const struct releasing *r = *at;

	if (!(r = r ? LIST_NEXT(r, of_pool) : LIST_FIRST(&p->closing_work)))
		return NULL;
	*at = r;
	return r->handle;
}

void
dpool_release_forget(struct dpool *p)
{
	struct releasing *r, *next;

	for (r = TAILQ_FIRST(&queue);
	     r && (dpool_unsettled(p) || p->trimming || p->retaining);
	     r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->pool != p)
			continue;
		switch (r->kind) {
		case RELEASE_HANDLE:
			dpool_unlink_refs(r->handle);
			free(r->handle);
			p->closing--;
			break;
		case RELEASE_BLOCK:
			p->releasing--;
			break;
		case RELEASE_TRIM:
			p->trimming = false;
			break;
		case RELEASE_MOVE:	/* the engine goes with the pool */
			r->block->busy = false;
			p->moving--;
			break;
		case RELEASE_ZERO:
			r->block->busy = false;
			p->zeroing--;
			break;
		case RELEASE_RETAIN:
			p->retaining = false;
			break;
		}
		queue_remove(r);
	}
	/*
	 * Requests waiting for this work go on at the next step's turn: a
	 * step is due whenever the queue was not empty.
	 */
}
