/*
 * pool_release.c - big freed blocks given back to the OS a step at a time.
 *
 * Punching a hole costs the kernel about a quarter of a millisecond per MiB
 * of resident memory, so a client freeing a 1 GiB block would hold the
 * daemon's only thread, and every other client of every pool, for a
 * quarter of a second.  Instead, a freed block larger than the release
 * step stays allocated in the engine (nobody can be handed its pages) while
 * its pages are punched out one step per loop turn, between other
 * requests; then heap_free_released frees it, knowing its pages are zero.
 * The client's books change at once: its reference, quota and the block
 * record are gone when the free's reply leaves.
 *
 * What the engine holds back this way is invisible from outside: a pool
 * settles (finishes its queue at once) before anything reads or needs its
 * free space: stats, check, trim, destroy, and an allocation the engine
 * would refuse.  So no request fails, and no statistic differs, because
 * of a release still in progress; only the waiting moves to the rare
 * request that needs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "log.h"
#include "pool.h"

struct releasing {
	TAILQ_ENTRY(releasing) entry;
	struct dpool *pool;
	uint64_t off, len, done;
	bool failed;		/* a punch failed: the engine tries again */
};

static TAILQ_HEAD(, releasing) queue = TAILQ_HEAD_INITIALIZER(queue);
static uint64_t release_step = DPOOL_RELEASE_STEP_DEFAULT;
static bool releasing_off;	/* the daemon is stopping: punch nothing */
static void (*on_queued)(void);

void
dpool_release_setup(uint64_t step, void (*queued)(void))
{
	release_step = step;
	on_queued = queued;
}

void
dpool_stop_releasing(void)
{
	releasing_off = true;
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

	/* Only page spans (large blocks) can be freed as released. */
	if (release_step == 0 || len <= release_step || releasing_off ||
	    len < HEAP_DEFAULT_LARGE_THRESHOLD)
		return false;
	if (!(r = calloc(1, sizeof(*r))))
		return false;	/* then at once, as with no step */
	r->pool = p;
	r->off = off;
	r->len = len;
	TAILQ_INSERT_TAIL(&queue, r, entry);
	p->releasing++;
	if (on_queued && TAILQ_FIRST(&queue) == r)
		on_queued();
	return true;
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
		fatalx("pool %s: engine refused to free held block %#llx: %s",
		       p->name, (unsigned long long)r->off, heap_strerror(rc));
	TAILQ_REMOVE(&queue, r, entry);
	p->releasing--;
	free(r);
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

bool
dpool_release_step(void)
{
	struct releasing *r = TAILQ_FIRST(&queue);

	if (r)
		release_some(r, release_step ? release_step : UINT64_MAX);
	return !TAILQ_EMPTY(&queue);
}

void
dpool_release_forget(struct dpool *p)
{
	struct releasing *r, *next;

	for (r = TAILQ_FIRST(&queue); r && p->releasing; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->pool == p) {
			TAILQ_REMOVE(&queue, r, entry);
			p->releasing--;
			free(r);
		}
	}
}

void
dpool_settle(struct dpool *p)
{
	struct releasing *r, *next;

	for (r = TAILQ_FIRST(&queue); r && p->releasing; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->pool == p)
			release_some(r, UINT64_MAX);
	}
}
