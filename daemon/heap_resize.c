/*
 * heap_resize.c - live blocks that change in place or move: heap_resize,
 * heap_realloc and heap_split, and the looks at one live block (its usable
 * size, what the engine knows of it, the free bytes right after it).
 *
 * A block is looked up as the free path looks it up (heap.c): a small one
 * by its start and live bits, its length to the next start bit
 * (heap_small_block), a span by its record (span_at).  heap_realloc looks
 * it up once for all it does.
 *
 * Growing in place takes the bytes from the run right after the block.
 * Runs are maximal (invariant 2), so that run is all the free space there
 * but for cached blocks, which are free space not merged (invariant 4):
 * heap_resize merges those when they make the room, heap_realloc only once
 * a move is refused (grow_into_next says why).  The room is looked at
 * first, so a growth that cannot be made changes nothing.  Shrinking gives
 * the tail to the runs, which merge it with what follows: a span's tail
 * pages go back at once, a small block's are retained as a free's are.  A
 * split releases nothing: the runs, the buddy view, the caches and the
 * dirty pages know nothing of live extents but their start bits
 * (invariant 1), so a start bit, and a span record or a live field, make
 * the tail a block.  Every change keeps the counts as an allocation and a
 * free would (invariant 5) and the high-water mark above every block
 * (invariant 8).
 *
 * A realloc that moves allocates (heap_alloc), copies by the owner's
 * callback and frees the old block by what its look up found
 * (heap_free_span, release_small), the retention held from the move to
 * the growth in place that may follow a refused one.  A failed call
 * changes nothing.
 */
#include <errno.h>

#include "heap_internal.h"

int
heap_usable_size(struct heap *h, uint64_t off, uint64_t *out)
{
	struct span *s;

	if (!plausible(h, off))
		return -EINVAL;
	if (heap_small_block(h, off, out))
		return 0;
	if ((s = span_at(h, off))) {
		*out = s->len;
		return 0;
	}
	return -EINVAL;
}

/* The length of the cached block at off, or 0 if there is none. */
static uint64_t
cached_at(struct heap *h, uint64_t off)
{
	/* A live block's slack bits can look like a cache's mark. */
	if (off >= h->max_size || !bm_is_start(h, off) || bm_is_live(h, off) ||
	    !bm_cached(h, off))
		return 0;
	return cache_len(h, off);
}

/*
 * The free bytes from next on: runs and cached blocks (free space too,
 * only not merged), one after another, counted until they reach max (the
 * last piece may pass it).  A look only.  A step covers at least two
 * granules, so there are at most max / 2g of them.
 */
static uint64_t
free_from(struct heap *h, uint64_t next, uint64_t max)
{
	uint64_t at = next, n;
	struct fit f;

	while (at - next < max) {
		if (runs_at(h, at, &f))
			at += f.len;
		else if ((n = cached_at(h, at)))
			at += n;
		else
			break;
	}
	return at - next;
}

/*
 * Is there room for extra bytes from next on?  A growth that cannot be
 * made changes nothing.
 */
static bool
room_from(struct heap *h, uint64_t next, uint64_t extra)
{
	return free_from(h, next, extra) >= extra;
}

/*
 * Grow the extent [off, off + len) by extra bytes taken from the run right
 * after it, if that run is long enough.  With uncache, cached blocks in
 * the way are free space too: when they make up the room, each is merged
 * into the runs.  heap_resize asks this, since its caller cannot move the
 * block (-EAGAIN would be final: the daemon's shared blocks); heap_realloc
 * does not, before it tries to move: merging the caches there cost the
 * growing-realloc benchmark a quarter more work and 1.6 points of
 * utilization.  It asks it once no run takes the move, not to refuse a
 * growth the cached blocks after the block have room for.
 */
static bool
grow_into_next(struct heap *h, uint64_t off, uint64_t len, uint64_t extra,
	       bool uncache)
{
	uint64_t next = off + len;
	struct fit f;
	bool run = runs_at(h, next, &f), hold = h->retain_hold, merged = false;

	if (!run || f.len < extra) {
		if (!uncache || !room_from(h, next, extra))
			return false;
		/*
		 * Held meanwhile, as heap_reserve does: the pages a merge
		 * makes wholly free are about to be live again, and giving
		 * them back first punched a hole for nothing (at once when
		 * the pool keeps no free page).
		 */
		h->retain_hold = true;
		do
			cache_release(h, run ? next + f.len : next);
		while (!(run = runs_at(h, next, &f)) || f.len < extra);
		h->retain_hold = hold;
		merged = true;
	}
	runs_take(h, &f, next, extra);
	bm_clear_start(h, next);	/* the piece joins the extent at off */
	if (next + extra > h->top)
		h->top = next + extra;
	/* The page of the extent's last byte is dirty already (it is live). */
	if ((next + extra - 1) >> h->pshift != (next - 1) >> h->pshift)
		dirty_mark(h, next, extra);
	/* The merged blocks' pages past the growth may have joined what the
	 * pool keeps: one cut, as a cache flush makes. */
	if (merged)
		dirty_retain_fit_merged(h);
	return true;
}

static int
resize_span(struct heap *h, struct span *s, uint64_t size, bool uncache)
{
	uint64_t nl = round_up(size, h->page), old = s->len, pf, pe;

	if (nl > old && !grow_into_next(h, s->start, old, nl - old, uncache))
		return -EAGAIN;
	heap_count_out(h, old, s->requested);
	s->len = nl;
	s->requested = size;
	heap_count_in(h, nl, size);
	if (nl < old) {
		runs_give(h, s->start + nl, old - nl, &pf, &pe);
		if (pe > pf)
			dirty_release_now(h, pf, pe);
		/* Fewer live pages: the retention bound fell, as after a
		 * free, and the pool may keep too many; a cut. */
		dirty_retain_fit(h);
	}
	return 0;
}

static int
resize_small(struct heap *h, uint64_t off, uint64_t len, uint64_t size,
	     bool uncache)
{
	uint64_t nl = round_up(size, h->g), slack, pf, pe;

	if (size >= h->threshold)
		return -EAGAIN;	/* it would have to become a page span */
	if (nl > len && !grow_into_next(h, off, len, nl - len, uncache))
		return -EAGAIN;
	slack = bm_clear_live(h, off, len);
	heap_count_out(h, len, len - slack);
	/* Live again before the tail goes: the tail must not merge with it. */
	bm_set_live(h, off, nl, nl - size);
	heap_count_in(h, nl, nl - bm_stored_slack(h, nl, nl - size));
	if (nl < len) {
		runs_give(h, off + nl, len - nl, &pf, &pe);
		if (pe > pf)
			dirty_retain(h, pf, pe);
	}
	return 0;
}

/*
 * The live block at off: a small one (*s NULL, *len its length) or a span;
 * -EINVAL when off is neither.
 */
static int
live_block(struct heap *h, uint64_t off, uint64_t *len, struct span **s)
{
	*s = NULL;
	if (!plausible(h, off))
		return -EINVAL;
	if (heap_small_block(h, off, len))
		return 0;
	if ((*s = span_at(h, off))) {
		*len = (*s)->len;
		return 0;
	}
	return -EINVAL;
}

int
heap_block_info(struct heap *h, uint64_t off, struct heap_block_info *out)
{
	struct span *s;
	uint64_t len;
	int rc;

	if ((rc = live_block(h, off, &len, &s)))
		return rc;
	out->size = len;
	out->requested = s ? s->requested : len - bm_slack(h, off, len);
	out->span = s != NULL;
	return 0;
}

int
heap_free_after(struct heap *h, uint64_t off, uint64_t max, uint64_t *out)
{
	struct span *s;
	uint64_t len;
	int rc;

	if ((rc = live_block(h, off, &len, &s)))
		return rc;
	*out = free_from(h, off + len, max);
	return 0;
}

int
heap_resize(struct heap *h, uint64_t off, uint64_t size)
{
	struct span *s;
	uint64_t len;
	int rc;

	if (size == 0)
		return -EINVAL;
	if (size > h->max_size)
		return -EFBIG;
	if ((rc = live_block(h, off, &len, &s)))
		return rc;
	return s ? resize_span(h, s, size, true)
		 : resize_small(h, off, len, size, true);
}

/*
 * heap_split of a span: its record keeps the first nl bytes, and a new one
 * takes the tail with the part of the request that lies there.  The tail
 * gets its start bit; nothing else changes: the runs, the buddy view and
 * the dirty pages know nothing of live extents but their start bits.
 * Every span asked for more than its length minus a page (its length is
 * the request rounded up to pages), so both halves still do.
 */
static void
split_span(struct heap *h, struct span *s, uint64_t nl, uint64_t keep)
{
	uint64_t tail = s->start + nl, tlen = s->len - nl;
	uint64_t treq = s->requested - nl;

	assert(nl % h->page == 0 && nl > 0 && nl < s->len);
	assert(s->requested > s->len - h->page && keep > nl - h->page);
	heap_count_out(h, s->len, s->requested);
	s->len = nl;
	s->requested = keep;
	heap_count_in(h, nl, keep);
	bm_set_start(h, tail);
	spans_insert(h, tail, tlen, treq);
	heap_count_in(h, tlen, treq);
}

/*
 * heap_split of a small block [off, off + len): its live field is made
 * again for nl bytes, keep of them asked for, and the tail gets a start
 * bit and a live field with the slack the block had (the bytes past the
 * request were at its end, so in the tail).  The old field goes first:
 * its slack bits may lie where the tail's field goes.
 */
static void
split_small(struct heap *h, uint64_t off, uint64_t len, uint64_t nl,
	    uint64_t keep)
{
	uint64_t slack = bm_clear_live(h, off, len), tail = off + nl;
	uint64_t tlen = len - nl;

	assert(nl % h->g == 0 && nl > 0 && nl < len && slack < h->g);
	heap_count_out(h, len, len - slack);
	bm_set_start(h, tail);
	bm_set_live(h, off, nl, nl - keep);
	heap_count_in(h, nl, nl - bm_stored_slack(h, nl, nl - keep));
	bm_set_live(h, tail, tlen, slack);
	heap_count_in(h, tlen, tlen - bm_stored_slack(h, tlen, slack));
}

int
heap_split(struct heap *h, uint64_t off, uint64_t keep, uint64_t *tail_off,
	   uint64_t *tail_len)
{
	uint64_t len, nl;
	struct span *s;
	int rc;

	if (keep == 0)
		return -EINVAL;
	if ((rc = live_block(h, off, &len, &s)))
		return rc;
	if (keep >= len)
		return -EINVAL;
	nl = s ? round_up(keep, h->page) : round_up(keep, h->g);
	if (nl >= len)
		return -EINVAL;	/* nothing left at this granularity */
	if (s)
		split_span(h, s, nl, keep);
	else
		split_small(h, off, len, nl, keep);
	/*
	 * Counted as the tail's allocation: allocs - frees stays live.  Its
	 * class by log2_floor itself, which is all heap_class_of does: with
	 * a second caller in this file gcc splits log2_floor's assertion
	 * off, as in heap.c, and the counts inlined into resize_small and
	 * resize_span keep heap.c's layout (inlined whole, they cost (d) 1.6
	 * instructions per realloc more).
	 */
	heap_cls_allocs(h, log2_floor(len - nl))++;
	*tail_off = off + nl;
	*tail_len = len - nl;
	return 0;
}

/*
 * The block is looked up once: in place if it can be, else a new block,
 * the copy, and the old block freed by what is already known of it.
 */
int
heap_realloc(struct heap *h, uint64_t off, uint64_t size, uint64_t *out)
{
	uint64_t len, noff;
	bool hold, cached, grown;
	struct span *s;
	int rc;

	if (off == HEAP_OFF_NONE)
		return heap_alloc(h, size, 0, out);
	if (size == 0) {
		rc = heap_free(h, off);
		if (rc == 0)
			*out = HEAP_OFF_NONE;
		return rc;
	}
	if (size > h->max_size)
		return -EFBIG;
	if ((rc = live_block(h, off, &len, &s))) {
		h->st.invalid_frees++;	/* as heap_free counts it */
		return rc;
	}
	rc = s ? resize_span(h, s, size, false)
	       : resize_small(h, off, len, size, false);
	if (rc == 0) {
		*out = off;
		return 0;
	}
	if (rc != -EAGAIN)
		return rc;
	/*
	 * The retention is held while the move is tried and, refused, the
	 * growth in place: the move may merge the caches, and the growth
	 * take the pages that freed, which a refusal's cut gave back first.
	 * One cut after, when cached blocks were merged: all of them (a
	 * flush empties the caches), or those the growth went over.
	 */
	hold = h->retain_hold;
	cached = h->st.cached_bytes != 0;
	h->retain_hold = true;
	rc = heap_alloc(h, size, 0, &noff);
	/*
	 * No run to move to: the cached blocks after it may be the room to
	 * grow in place, merged now (only here, where it costs nothing to
	 * the realloc that moves).  The refusal counted was not the answer.
	 */
	grown = rc == -ENOMEM && (s ? resize_span(h, s, size, true)
				    : resize_small(h, off, len, size, true)) == 0;
	h->retain_hold = hold;
	if (grown || (cached && h->st.cached_bytes == 0))
		dirty_retain_fit_merged(h);
	if (grown) {
		h->st.failed_allocs--;
		*out = off;
		return 0;
	}
	if (rc)
		return rc;	/* the old block is untouched */
	if (h->cfg.copy)
		h->cfg.copy(h->cfg.ctx, noff, off, len < size ? len : size);
	/* Neither the block nor its span record moved during the alloc. */
	if (s)
		heap_free_span(h, s, false);
	else
		release_small(h, bm_chunk_at(h, off), off, len);
	*out = noff;
	return 0;
}
