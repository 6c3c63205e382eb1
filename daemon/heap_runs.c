/*
 * heap_runs.c - free runs: size bins, best fit, split and coalesce.
 *
 * Every free byte of the pool belongs to exactly one run or one cached block
 * (heap_cache.c), and runs are maximal: when a block is freed it merges with
 * the run that ends where it starts and the run that starts where it ends.
 * So "some free, suitably aligned stretch of the pool could hold this
 * request" is the same as "some run could hold it" once the caches are
 * flushed, and the bins below find such a run whenever one exists.
 *
 * SHORT RUNS (at most SHORT_MAX granules, 4 KiB at the default granularity)
 * have no record.  The block map already says everything about them: a start
 * bit with a clear live bit and no cache mark, and the next start bit
 * SHORT_MAX granules away at most.  Their index is one bin per length:
 *
 *   count   how many short runs of that length exist (exact);
 *   stack   offsets where such a run may start.  Every short run of the
 *           length has an entry; entries go stale when their run is merged
 *           or taken, and are checked against the block map when popped.
 *
 * Freeing a block between two live neighbours is then a push, and taking a
 * run of the right length a pop: no tree, no record, no lookup by address.
 * Stale entries are bounded: a bin whose count drops to zero forgets its
 * whole stack, and a stack that grows past twice its count (plus a margin)
 * is compacted, which is amortized O(1) per push.
 *
 * LONG RUNS (more than SHORT_MAX granules) are few by construction (each
 * covers more than 4 KiB) and keep a record in two red-black trees: by
 * address, to find the run that ends where a freed block starts, and by
 * (length, address) for best fit.  The run last made or resized is
 * remembered (h->lhint) and asked before the address tree: blocks freed in
 * address order grow one run, and blocks carved in order shrink one.  A
 * resized run moves in the size tree only when it passes its neighbour on
 * the side it moved to (a run that shrinks can only pass the one before).
 *
 * NEIGHBOURS of a freed block [off, off + len) are found in the block map:
 * the last start bit before off (at most SHORT_MAX granules back) names the
 * extent ending at off, and its live bit and cache mark say whether it is
 * a run; when no start bit is that close, only a long run can be free there
 * and the address tree is asked.  The extent at off + len is read the same
 * way forwards.  So a free next to live blocks costs a few word operations.
 *
 * PLACEMENT is best fit: the smallest run that holds the request, carved
 * from its low end (Johnstone and Wilson found best fit among the least
 * fragmenting policies).  Among short runs of one length the most recently
 * freed is taken (its bin is a stack); among long runs of one length the
 * lowest address.  An aligned request first looks for a run of at least
 * size + align - g (any such run fits); only when there is none does it try,
 * in order, the shorter runs whose start happens to suit - the one search
 * whose cost is bounded by the number of runs in that narrow length window.
 *
 * Whenever the whole buddy units of a run change, the buddy view is told
 * (buddy_add/buddy_remove), so it always equals the union of W(run).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"

/*
 * A bin's stack may hold up to SBIN_STALE entries more than twice its runs
 * before it is compacted, and holds at least SBIN_MIN.  Small numbers keep
 * a small heap's bins small (the bins of a 1000-block heap of 16-512 B
 * blocks held 23 KiB of stacks with 64 and 8, 14.8 KiB with 8 and 4, 12.2
 * KiB with these, for the same instructions per operation); compaction
 * stays amortized O(1) per entry either way.
 */
#define SBIN_STALE 4
#define SBIN_MIN 2

static int
lrun_addr_cmp(struct lrun *a, struct lrun *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

static int
lrun_size_cmp(struct lrun *a, struct lrun *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE(lrun_addr_tree, lrun, by_addr, lrun_addr_cmp)
RB_GENERATE(lrun_size_tree, lrun, by_size, lrun_size_cmp)

bool
runs_is_short(const struct heap *h, uint64_t len)
{
	return len <= (uint64_t)SHORT_MAX << h->gshift;
}

/* ---------------------------------------------------------- the extents */

/*
 * The length of the extent starting at p if it is at most SHORT_MAX
 * granules long, else 0.  p must be an extent start.
 */
static inline uint64_t
short_extent(struct heap *h, uint64_t p)
{
	uint64_t lim = p + ((uint64_t)(SHORT_MAX + 1) << h->gshift);
	uint64_t q;

	if (lim > h->max_size)
		lim = h->max_size;
	q = bm_next_start(h, p, lim);
	return q - p <= (uint64_t)SHORT_MAX << h->gshift ? q - p : 0;
}

/* short_extent with p's chunk c in hand: no second lookup of it. */
static inline uint64_t
short_extent_in(struct heap *h, const struct chunk *c, uint64_t p)
{
	uint64_t lim = p + ((uint64_t)(SHORT_MAX + 1) << h->gshift);
	uint64_t gend, q;

	assert(c && c->index == p >> h->gshift >> CHUNK_SHIFT);
	if (lim > h->max_size)
		lim = h->max_size;
	gend = lim >> h->gshift;
	q = bm_next_start_in(h, c, p >> h->gshift, gend);
	q = q < gend ? q << h->gshift : lim;
	return q - p <= (uint64_t)SHORT_MAX << h->gshift ? q - p : 0;
}

/* An extent start with a clear live bit and no cache mark: run or span. */
static inline bool
free_start(struct heap *h, uint64_t p, bool live)
{
	return !live && !bm_cached(h, p);
}

/* ----------------------------------------------------------- short runs */

static inline void
sbin_set_nonempty(struct heap *h, unsigned n, bool on)
{
	if (on) {
		h->sbin_nonempty[n / 64] |= 1ull << (n % 64);
		h->sbin_words |= 1ull << (n / 64);
	} else {
		h->sbin_nonempty[n / 64] &= ~(1ull << (n % 64));
		if (!h->sbin_nonempty[n / 64])
			h->sbin_words &= ~(1ull << (n / 64));
	}
}

/* First non-empty bin >= n, or 0: its word, else the next non-empty word. */
static inline unsigned
sbin_next(const struct heap *h, unsigned n)
{
	unsigned w = n / 64;
	uint64_t bits;

	if (n > SHORT_MAX)
		return 0;
	bits = h->sbin_nonempty[w] & (~0ull << (n % 64));
	if (bits == 0) {
		uint64_t words = h->sbin_words & (~1ull << w);

		if (!words)
			return 0;
		w = (unsigned)__builtin_ctzll(words);
		bits = h->sbin_nonempty[w];
	}
	return w * 64 + (unsigned)__builtin_ctzll(bits);
}

/*
 * Is a short run of exactly n granules at p?  The truth behind an entry.
 * The general case, for short_run_is below.
 */
static __attribute__((noinline)) bool
short_run_is_any(struct heap *h, uint64_t p, unsigned n)
{
	uint64_t gi = p >> h->gshift, end = gi + n, m, lim;
	struct chunk *c;
	unsigned w;

	if (p >= h->max_size || (h->max_size >> h->gshift) - gi < n)
		return false;
	c = bm_chunk(h, gi >> CHUNK_SHIFT);
	if (!c)
		return false;
	w = (unsigned)(gi & (CHUNK_GRANULES - 1)) / 64;
	m = 1ull << (gi & 63);
	if ((SW(c, w) & m) == 0 || (LW(c, w) & m) != 0)
		return false;
	if (bm_cached_in(h, c, p))
		return false;
	/* The next start must be exactly n granules on (or the pool end). */
	if ((end >> CHUNK_SHIFT) == (gi >> CHUNK_SHIFT)) {
		unsigned we = (unsigned)(end & (CHUNK_GRANULES - 1)) / 64;
		uint64_t em = 1ull << (end & 63);
		uint64_t bits = SW(c, w) & ~(m | (m - 1));

		if (end << h->gshift == h->max_size)
			em = 0;
		for (; w < we; bits = SW(c, ++w))
			if (bits)
				return false;
		if ((bits & ((em - 1) | em)) != em)
			return false;
	} else {
		lim = (end + 1) << h->gshift;
		if (lim > h->max_size)
			lim = h->max_size;
		if (bm_next_start(h, p, lim) != end << h->gshift)
			return false;
	}
	return !span_start(h, p);
}

/*
 * short_run_is for the common entry: its chunk in the directory's front
 * table, the run ending inside that chunk and no page spans in the pool.
 * That case makes no call, so it saves and restores no registers (the
 * general one did, about 20 instructions of the 97 per check on (a));
 * any other goes to short_run_is_any as a tail call.
 */
static __attribute__((noinline)) bool
short_run_is(struct heap *h, uint64_t p, unsigned n)
{
	uint64_t gi = p >> h->gshift, end = gi + n, idx = gi >> CHUNK_SHIFT;
	const struct slot *f;
	const struct chunk *c;
	uint64_t m, em, bits;
	unsigned w, we;

	if (p >= h->max_size || (h->max_size >> h->gshift) - gi < n)
		return false;
	if ((end >> CHUNK_SHIFT) != idx || end << h->gshift == h->max_size ||
	    h->st.spans)
		return short_run_is_any(h, p, n);
	f = &h->chunks.front[idx & h->chunks.mask];
	if (f->index != idx)
		return short_run_is_any(h, p, n);
	c = f->c;
	assert(c && c->index == idx);
	w = (unsigned)(gi & (CHUNK_GRANULES - 1)) / 64;
	m = 1ull << (gi & 63);
	if ((SW(c, w) & m) == 0 || (LW(c, w) & m) != 0 ||
	    bm_cached_in(h, c, p))
		return false;
	/* The next start must be exactly n granules on. */
	we = (unsigned)(end & (CHUNK_GRANULES - 1)) / 64;
	em = 1ull << (end & 63);
	bits = SW(c, w) & ~(m | (m - 1));
	for (; w < we; bits = SW(c, ++w))
		if (bits)
			return false;
	return (bits & ((em - 1) | em)) == em;
}

static int
off_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline uint32_t
sbin_cap(const struct sbin *sb)
{
	return sb->v ? (uint32_t)sb->v[-1] : 0;
}

/*
 * Give a bin's stack room for cap entries (0: none); v[-1] is cap.  A
 * stack that shrinks stays as it was if realloc refuses: the C library's
 * never does, but nothing promises it, and a reservation (heap_reserve.c)
 * compacts stacks after its stock is made, where only a refusal of its
 * own may stop it.
 */
static __attribute__((noinline)) void
sbin_resize(struct heap *h, struct sbin *sb, uint32_t cap)
{
	uint32_t old = sbin_cap(sb);
	uint64_t *base = sb->v ? sb->v - 1 : NULL;

	assert(cap >= sb->len);
	if (!cap) {
		heap_meta_free(h, base, (old + 1) * sizeof(*base));
		sb->v = NULL;
		return;
	}
	if (cap < old) {
		base = meta_try_realloc(h, base, (old + 1) * sizeof(*base),
					(cap + 1) * sizeof(*base));
		if (!base)
			return;	/* the old stack serves, cap and all */
	} else {
		base = heap_meta_realloc(h, base,
					 base ? (old + 1) * sizeof(*base) : 0,
					 (cap + 1) * sizeof(*base));
	}
	base[0] = cap;
	sb->v = base + 1;
}

/*
 * Keep only the entries that name a run, in their order.  Every run of the
 * length has an entry; a piece being allocated right now may still look
 * like a run and keep one too, which is harmless.  Entries beyond the count
 * are duplicates (a run merged away and made again at the same place);
 * when they are many, they go too.
 */
static __attribute__((noinline, cold)) void
sbin_compact(struct heap *h, unsigned n)
{
	struct sbin *sb = &h->sbin[n];
	uint32_t i, k = 0;

	for (i = 0; i < sb->len; i++)
		if (short_run_is(h, sb->v[i], n))
			sb->v[k++] = sb->v[i];
	assert(k >= sb->count);
	if (k >= sb->count + SBIN_STALE) {
		uint32_t j = 0;

		qsort(sb->v, k, sizeof(*sb->v), off_cmp);
		for (i = 0; i < k; i++)
			if (!j || sb->v[j - 1] != sb->v[i])
				sb->v[j++] = sb->v[i];
		k = j;
	}
	sb->len = k;
	if (sbin_cap(sb) > SBIN_MIN && sb->len * 4 < sbin_cap(sb))
		sbin_resize(h, sb, sbin_cap(sb) / 2);
}

/* sbin_add's push onto a full stack: it grows first. */
static __attribute__((noinline, cold)) void
sbin_push_grown(struct heap *h, uint64_t p, unsigned n)
{
	struct sbin *sb = &h->sbin[n];

	if (sb->len >= UINT32_MAX / 2)
		abort();
	sbin_resize(h, sb, sb->len ? sb->len * 2 : SBIN_MIN);
	sb->v[sb->len++] = p;
	if (sb->len >= 2 * sb->count + SBIN_STALE)
		sbin_compact(h, n);
}

/*
 * A short run of n granules starts at p now.  The growth and compaction
 * of the stack are tail calls, so that the push itself saves no registers.
 */
static void
sbin_add(struct heap *h, uint64_t p, unsigned n)
{
	struct sbin *sb = &h->sbin[n];

	assert(n >= 1 && n <= SHORT_MAX);
	if (sb->count++ == 0)
		sbin_set_nonempty(h, n, true);
	assert(sb->count != 0);	/* no wrap: every run has an 8-byte entry */
	if (sb->len == sbin_cap(sb)) {
		sbin_push_grown(h, p, n);
		return;
	}
	sb->v[sb->len++] = p;
	if (sb->len >= 2 * sb->count + SBIN_STALE)
		sbin_compact(h, n);
}

/*
 * The short run of n granules at p is gone.  Its entry goes too when it is
 * on top of the stack (a run freed last is often the one merged next);
 * otherwise it goes stale.
 */
static inline void
sbin_del(struct heap *h, uint64_t p, unsigned n)
{
	struct sbin *sb = &h->sbin[n];

	assert(sb->count > 0);
	if (sb->len && sb->v[sb->len - 1] == p)
		sb->len--;
	if (--sb->count)
		return;
	/* No run of this length is left: every entry is stale. */
	sbin_set_nonempty(h, n, false);
	sb->len = 0;
	if (sbin_cap(sb) > 8)
		sbin_resize(h, sb, 0);
}

/* Pop the entry of some short run of n granules (the bin is not empty). */
static inline uint64_t
sbin_pop(struct heap *h, unsigned n)
{
	struct sbin *sb = &h->sbin[n];

	assert(sb->count > 0);
	while (sb->len) {
		uint64_t p = sb->v[--sb->len];

		if (short_run_is(h, p, n))
			return p;
	}
	abort();	/* a counted run without an entry: broken books */
}

/* Debug: has the short run [start, start + len) an entry?  For heap_check. */
bool
sbin_holds(struct heap *h, uint64_t start, uint64_t len)
{
	const struct sbin *sb = &h->sbin[len >> h->gshift];
	uint32_t i;

	for (i = 0; i < sb->len; i++)
		if (sb->v[i] == start)
			return true;
	return false;
}

/* ------------------------------------------------------------ long runs */

static struct lrun *
lrun_new(struct heap *h, uint64_t start, uint64_t len)
{
	struct lrun *r = heap_node_alloc(h, sizeof(*r));

	r->start = start;
	r->len = len;
	RB_INSERT(lrun_addr_tree, &h->lruns, r);
	RB_INSERT(lrun_size_tree, &h->lsize, r);
	h->lmin = NULL;
	h->lhint = r;
	h->nlong++;
	return r;
}

static void
lrun_delete(struct heap *h, struct lrun *r)
{
	RB_REMOVE(lrun_size_tree, &h->lsize, r);
	RB_REMOVE(lrun_addr_tree, &h->lruns, r);
	h->lmin = NULL;
	if (h->lhint == r)
		h->lhint = NULL;
	h->nlong--;
	heap_node_free(h, r, sizeof(*r));
}

/*
 * A resized run that passes its neighbour in the size tree moves there.  Out
 * of line, and reached by a tail call: the common resize, which keeps its
 * rank, then saves no registers for the tree's calls.
 */
static __attribute__((noinline)) void
lrun_reorder(struct heap *h, struct lrun *r, uint64_t start, uint64_t len)
{
	RB_REMOVE(lrun_size_tree, &h->lsize, r);
	r->start = start;
	r->len = len;
	RB_INSERT(lrun_size_tree, &h->lsize, r);
	h->lmin = NULL;
}

/*
 * The new start stays between the neighbours: no reordering by address.
 * In the size tree the run is moved only when its rank changes, and only
 * the neighbour on the side it moves to can be passed: a run that shrinks
 * (the smallest long run being carved, most often) is compared with the one
 * before it, a run that grows (a freed block merged into it) with the one
 * after it.  dir is -1 for a run that shrinks, 1 for one that grows, 0 when
 * the caller cannot tell (a spare record reused for another run): a caller
 * that knows saves the comparison.  Returns false, having changed nothing,
 * when the run must move in the size tree.
 */
static inline __attribute__((always_inline)) bool
lrun_keeps_rank(struct heap *h, struct lrun *r, uint64_t start, uint64_t len,
		int dir)
{
	struct lrun key = {.start = start, .len = len}, *nb;

	if (dir == 0)	/* not known to the caller */
		dir = lrun_size_cmp(&key, r);
	if (dir < 0)
		nb = r == h->lmin ? NULL : RB_PREV(lrun_size_tree, &h->lsize, r);
	else
		nb = RB_NEXT(lrun_size_tree, &h->lsize, r);
	h->lhint = r;
	if (!nb || (dir < 0 ? lrun_size_cmp(nb, &key) < 0
			    : lrun_size_cmp(&key, nb) < 0)) {
		r->start = start;
		r->len = len;
		return true;
	}
	return false;
}

/* runs_alloc's carve from the low end of a long run that stays long. */
static inline __attribute__((always_inline)) void
lrun_shrink_inline(struct heap *h, struct lrun *r, uint64_t start, uint64_t len)
{
	assert(len < r->len);	/* a carve from its low end */
	if (lrun_keeps_rank(h, r, start, len, -1))
		return;
	RB_REMOVE(lrun_size_tree, &h->lsize, r);
	r->start = start;
	r->len = len;
	RB_INSERT(lrun_size_tree, &h->lsize, r);
	h->lmin = NULL;
}

/*
 * Any resize, out of line, for the merges and splits off the hot path:
 * inlined into all of them it cost (b) and (d) 9-13 instructions per
 * operation in the registers their callers then had to save.
 */
static __attribute__((noinline)) void
lrun_resize(struct heap *h, struct lrun *r, uint64_t start, uint64_t len)
{
	if (!lrun_keeps_rank(h, r, start, len, 0))
		lrun_reorder(h, r, start, len);
}

/*
 * lrun_resize for a run that a merge made longer: only the run after it in
 * the size tree can be passed, and the comparison that says so is skipped.
 */
static __attribute__((noinline)) void
lrun_grow(struct heap *h, struct lrun *r, uint64_t start, uint64_t len)
{
	assert(len > r->len);
	if (!lrun_keeps_rank(h, r, start, len, 1))
		lrun_reorder(h, r, start, len);
}

static struct lrun *
lrun_find(struct heap *h, uint64_t start)
{
	struct lrun key = {.start = start};

	if (h->lhint && h->lhint->start == start)
		return h->lhint;
	return h->nlong ? RB_FIND(lrun_addr_tree, &h->lruns, &key) : NULL;
}

/* The long run with the greatest start <= off, if it holds off. */
static struct lrun *
lrun_containing(struct heap *h, uint64_t off)
{
	struct lrun key = {.start = off + 1};
	struct lrun *r = h->lhint;

	if (r && off - r->start < r->len)
		return r;
	if (!h->nlong)
		return NULL;
	r = RB_NFIND(lrun_addr_tree, &h->lruns, &key);
	r = r ? RB_PREV(lrun_addr_tree, &h->lruns, r)
	      : RB_MAX(lrun_addr_tree, &h->lruns);
	return r && off - r->start < r->len ? r : NULL;
}

static struct lrun *
lrun_ending_at(struct heap *h, uint64_t end)
{
	struct lrun *r = lrun_containing(h, end - 1);

	return r && r->start + r->len == end ? r : NULL;
}

/*
 * The smallest long run of at least len bytes (lowest address on ties).
 * The smallest long run of all is remembered (h->lmin, NULL when the tree
 * changed shape): a short request that no bin serves takes it.
 */
static struct lrun *
lrun_fit(struct heap *h, uint64_t len)
{
	struct lrun key = {.len = len, .start = 0};

	if (!h->nlong)
		return NULL;
	if (!h->lmin)
		h->lmin = RB_MIN(lrun_size_tree, &h->lsize);
	if (h->lmin->len >= len)
		return h->lmin;
	return RB_NFIND(lrun_size_tree, &h->lsize, &key);
}

/* ---------------------------------------------------- finding the runs */

static inline bool
fit_short(struct fit *f, uint64_t start, uint64_t len)
{
	f->start = start;
	f->len = len;
	f->lr = NULL;
	return true;
}

static inline bool
fit_long(struct fit *f, struct lrun *r)
{
	if (!r)
		return false;
	f->start = r->start;
	f->len = r->len;
	f->lr = r;
	return true;
}

/* The run starting at start, if any. */
bool
runs_at(struct heap *h, uint64_t start, struct fit *f)
{
	struct chunk *c;
	uint64_t len, m;
	unsigned w;

	if (start >= h->max_size || !(c = bm_chunk_at(h, start)))
		return false;
	w = bm_word(h, start);
	m = bm_mask(h, start);
	/* A start bit with no live bit and no cache mark: run or span. */
	if (!(SW(c, w) & m) || (LW(c, w) & m) || bm_cached_in(h, c, start))
		return false;
	len = short_extent_in(h, c, start);
	if (len)
		return !span_start(h, start) && fit_short(f, start, len);
	return fit_long(f, lrun_find(h, start));
}

/*
 * runs_cover_in's way when the extent over off does not start in off's
 * chunk: within two chunks before it, on the block map; else it is longer
 * than any short run, and a long run's record holds off or no run does.
 */
bool
runs_cover_before(struct heap *h, uint64_t off)
{
	uint64_t reach = (uint64_t)2 * CHUNK_GRANULES << h->gshift;
	uint64_t top = off + h->g;
	uint64_t base = (off >> h->gshift) & ~(uint64_t)(CHUNK_GRANULES - 1);
	uint64_t p;
	bool live;

	p = bm_scan_backward(h, base, (top > reach ? top - reach : 0) >>
					     h->gshift, &live);
	if (p == UINT64_MAX)
		return lrun_containing(h, off) != NULL;
	p <<= h->gshift;
	return free_start(h, p, live) && !span_start(h, p);
}

/* The run holding the byte at off, if any. */
bool
runs_containing(struct heap *h, uint64_t off, struct fit *f)
{
	uint64_t span = (uint64_t)SHORT_MAX << h->gshift, top = off + h->g;
	uint64_t p, len;
	bool live;

	p = bm_prev_start(h, top, top > span ? top - span : 0, &live);
	if (p == HEAP_OFF_NONE)
		return fit_long(f, lrun_containing(h, off));
	if (!free_start(h, p, live))
		return false;
	len = short_extent(h, p);
	if (len)
		return p + len > off && !span_start(h, p) &&
		       fit_short(f, p, len);
	return fit_long(f, lrun_containing(h, off));
}

/* The smallest run of at least len bytes: a short bin, else a long run. */
static inline bool
smallest_from(struct heap *h, uint64_t len, struct fit *f)
{
	uint64_t n = len >> h->gshift;
	unsigned b;

	if (n <= SHORT_MAX && (b = sbin_next(h, (unsigned)n)) != 0)
		return fit_short(f, sbin_pop(h, b), (uint64_t)b << h->gshift);
	return fit_long(f, lrun_fit(h, len));
}

static bool
run_fits(uint64_t start, uint64_t rlen, uint64_t len, uint64_t align)
{
	uint64_t at = round_up(start, align);

	return at - start <= rlen && rlen - (at - start) >= len;
}

/* Aligned requests: the short runs in [len, sure) whose start suits. */
static bool
short_aligned(struct heap *h, uint64_t len, uint64_t align, uint64_t sure,
	      struct fit *f)
{
	uint64_t n = len >> h->gshift, top = sure >> h->gshift, b;

	for (b = n; b <= SHORT_MAX && b < top; b++) {
		struct sbin *sb = &h->sbin[b];
		uint64_t blen = b << h->gshift;
		uint32_t i;

		if (!sb->count)
			continue;
		for (i = sb->len; i-- > 0;) {
			uint64_t p = sb->v[i];

			if (!run_fits(p, blen, len, align) ||
			    !short_run_is(h, p, (unsigned)b))
				continue;
			sb->v[i] = sb->v[--sb->len];
			return fit_short(f, p, blen);
		}
	}
	return false;
}

/*
 * Best fit for len bytes at the given alignment (a power of two >= g).
 * With sure_only, only runs that fit wherever they start are considered.
 * A short run found is popped from its bin: the caller takes it.
 */
bool
runs_best_fit(struct heap *h, uint64_t len, uint64_t align, bool sure_only,
	      struct fit *f)
{
	uint64_t sure = len + (align - h->g);	/* any run this long fits */
	struct lrun *r;

	if (align <= h->g)
		return smallest_from(h, len, f);
	/* Aligned: first the smallest run that fits whatever its start ... */
	if (sure <= h->max_size && smallest_from(h, sure, f))
		return true;
	if (sure_only)
		return false;
	/* ... then the shorter runs whose start happens to suit. */
	if (short_aligned(h, len, align, sure, f))
		return true;
	for (r = lrun_fit(h, len); r && r->len < sure;
	     r = RB_NEXT(lrun_size_tree, &h->lsize, r))
		if (run_fits(r->start, r->len, len, align))
			return fit_long(f, r);
	return false;
}

/* ------------------------------------------------ split and coalesce */

/* The whole units of 2^kmin pages inside [x, y) that overlap [a, b). */
static inline void
units_touched(const struct heap *h, uint64_t x, uint64_t y, uint64_t a,
	      uint64_t b, uint64_t *first, uint64_t *end)
{
	uint64_t unit = h->page << h->kmin;
	uint64_t wf, we, tf, te, f, e;

	if (y - x < unit) {	/* most runs: shorter than any whole unit */
		*first = *end = 0;
		return;
	}
	wf = round_up(x, unit), we = round_down(y, unit);
	tf = round_down(a, unit), te = round_up(b, unit);
	f = wf > tf ? wf : tf, e = we < te ? we : te;
	*first = f >> h->pshift;
	*end = e > f ? e >> h->pshift : *first;
}

/* The whole pages inside [x, y) that overlap [a, b). */
static inline void
pages_touched(const struct heap *h, uint64_t x, uint64_t y, uint64_t a,
	      uint64_t b, uint64_t *first, uint64_t *end)
{
	uint64_t wf = round_up(x, h->page), we = round_down(y, h->page);
	uint64_t tf = round_down(a, h->page), te = round_up(b, h->page);
	uint64_t f = wf > tf ? wf : tf, e = we < te ? we : te;

	*first = f >> h->pshift;
	*end = e > f ? e >> h->pshift : *first;
}

/*
 * free_dirty follows the pages that lie wholly in runs: a piece [a, b)
 * taken from the run [x, y) takes the run's whole pages under it out.  It
 * counts them all as dirty; those that were clean become dirty when the
 * caller marks the piece, and dirty_mark counts them back in.
 */
static inline void
free_dirty_take(struct heap *h, uint64_t x, uint64_t y, uint64_t a,
		uint64_t b)
{
	uint64_t f, e;

	if (y - x < h->page || round_up(x, h->page) >= b)
		return;		/* no whole page of the run under the piece */
	/* Pages from max(ceil(x), floor(a)) to min(floor(y), ceil(b)). */
	f = (x + h->page - 1 > a ? x + h->page - 1 : a) >> h->pshift;
	e = (y < b + h->page - 1 ? y : b + h->page - 1) >> h->pshift;
	if (e > f)
		h->free_dirty -= e - f;
}

/*
 * File the run [start, start + len) under its length; *spare is a long-run
 * record that may be reused (and is used up if so).
 */
static inline void
run_file(struct heap *h, uint64_t start, uint64_t len, struct lrun **spare)
{
	if (runs_is_short(h, len)) {
		sbin_add(h, start, (unsigned)(len >> h->gshift));
	} else if (*spare) {
		lrun_resize(h, *spare, start, len);
		*spare = NULL;
	} else {
		lrun_new(h, start, len);
	}
}

/*
 * A run found by a placement but not taken after all: a short one gets back
 * the bin entry its search popped (there is room: it was just popped).
 */
void
runs_unpick(struct heap *h, const struct fit *f)
{
	struct sbin *sb;

	if (f->lr)
		return;
	sb = &h->sbin[f->len >> h->gshift];
	assert(sb->len < sbin_cap(sb));
	sb->v[sb->len++] = f->start;
}

/* Forget a run (its bytes are being merged or taken). */
static inline void
run_unfile(struct heap *h, const struct fit *f)
{
	if (!f->lr)
		sbin_del(h, f->start, (unsigned)(f->len >> h->gshift));
}

/*
 * Take [off, off + len) out of run f, which holds it.  What is left on
 * either side stays free.  The taken piece becomes one extent: its start bit
 * is set, and so is the start bit of a remainder after it.
 */
void
runs_take(struct heap *h, const struct fit *f, uint64_t off, uint64_t len)
{
	uint64_t x = f->start, y = f->start + f->len, uf, ue;
	struct lrun *spare = f->lr;

	assert(off >= x && off + len <= y && len > 0);
	free_dirty_take(h, x, y, off, off + len);
	units_touched(h, x, y, off, off + len, &uf, &ue);
	if (ue > uf)
		buddy_remove(h, uf, ue);
	h->st.free_bytes -= len;
	run_unfile(h, f);
	if (off > x)
		bm_set_start(h, off);
	if (off + len < y)
		bm_set_start(h, off + len);
	if (off > x)
		run_file(h, x, off - x, &spare);
	if (off + len < y)
		run_file(h, off + len, y - off - len, &spare);
	if (spare)
		lrun_delete(h, spare);
}

/*
 * Room on the stack of bin n for k more entries, made with an allocation
 * that may fail (runs_take_stock).
 */
static __attribute__((noinline)) int
sbin_room(struct heap *h, unsigned n, uint32_t k)
{
	struct sbin *sb = &h->sbin[n];
	uint32_t old = sbin_cap(sb), cap = old;
	uint64_t *base = sb->v ? sb->v - 1 : NULL;

	if (sb->len + k <= old)
		return 0;
	if (sb->len >= UINT32_MAX / 2)
		return -ENOMEM;
	while (cap < sb->len + k)
		cap = cap ? cap * 2 : SBIN_MIN;
	base = meta_try_realloc(h, base, base ? (old + 1) * sizeof(*base) : 0,
				(cap + 1) * sizeof(*base));
	if (!base)
		return -ENOMEM;
	base[0] = cap;
	sb->v = base + 1;
	return 0;
}

/*
 * What runs_take of [off, off + len) from run f may allocate, made now
 * (heap_reserve): room on the stacks of the bins its pieces go to, and in
 * need[] the tree nodes it may take: a long-run record when both pieces
 * are long, and the buddy blocks left of the ones it takes apart.  A block
 * of order k taken apart at page p leaves the pieces of [start, p), as
 * many as the bits of p mod 2^k, and those of [p, end), the bits of -p
 * mod 2^k; only the first and the last block taken have such pieces.
 * -ENOMEM, the bins' room made so far kept, when an allocation fails.
 */
int
runs_take_stock(struct heap *h, const struct fit *f, uint64_t off,
		uint64_t len, unsigned need[NODE_KINDS])
{
	uint64_t x = f->start, y = f->start + f->len, uf, ue;
	uint64_t m = (1ull << (BUDDY_ORDERS - 1)) - 1;
	uint64_t piece[2] = {off - x, y - off - len};
	unsigned i, n[2] = {0, 0};
	int rc;

	for (i = 0; i < 2; i++)
		if (piece[i] && runs_is_short(h, piece[i]))
			n[i] = (unsigned)(piece[i] >> h->gshift);
	if (n[0] && n[0] == n[1])
		rc = sbin_room(h, n[0], 2);
	else
		rc = (n[0] ? sbin_room(h, n[0], 1) : 0) ||
		     (n[1] ? sbin_room(h, n[1], 1) : 0) ? -ENOMEM : 0;
	if (rc)
		return rc;
	if (f->lr && piece[0] && piece[1] && !n[0] && !n[1])
		need[NODE_KIND(sizeof(struct lrun))]++;
	units_touched(h, x, y, off, off + len, &uf, &ue);
	if (ue > uf)
		need[NODE_KIND(sizeof(struct bblock))] +=
			(unsigned)(__builtin_popcountll(uf & m) +
				   __builtin_popcountll(-ue & m));
	return 0;
}

/*
 * The common small allocation in one call: best fit for len bytes with no
 * alignment beyond the granule, carved from the low end of the run.
 */
bool
runs_alloc(struct heap *h, uint64_t len, uint64_t limit, uint64_t *off)
{
	struct fit f;
	uint64_t uf, ue;
	struct lrun *spare;

	if (!smallest_from(h, len, &f))
		return false;
	if (f.start + len > limit) {
		runs_unpick(h, &f);
		return false;
	}
	*off = f.start;
	free_dirty_take(h, f.start, f.start + f.len, f.start, f.start + len);
	if (f.len >= h->page << h->kmin) {
		units_touched(h, f.start, f.start + f.len, f.start,
			      f.start + len, &uf, &ue);
		if (ue > uf)
			buddy_remove(h, uf, ue);
	}
	h->st.free_bytes -= len;
	run_unfile(h, &f);
	spare = f.lr;
	if (f.len > len) {
		bm_set_start(h, f.start + len);
		/*
		 * A long run carved from its low end stays long most often
		 * (the smallest long run serving small requests): its record
		 * is resized here, without a call.
		 */
		if (spare && !runs_is_short(h, f.len - len)) {
			lrun_shrink_inline(h, spare, f.start + len,
					   f.len - len);
			return true;
		}
		run_file(h, f.start + len, f.len - len, &spare);
	}
	if (spare)
		lrun_delete(h, spare);
	return true;
}

/* The run ending at off, if any. */
static bool
run_ending_at(struct heap *h, uint64_t off, struct fit *f)
{
	uint64_t span = (uint64_t)SHORT_MAX << h->gshift, p;
	bool live;

	if (off == 0)
		return false;
	p = bm_prev_start(h, off, off > span ? off - span : 0, &live);
	if (p == HEAP_OFF_NONE)
		return fit_long(f, lrun_ending_at(h, off));
	/* Within SHORT_MAX granules: a short extent [p, off). */
	return free_start(h, p, live) && !span_start(h, p) &&
	       fit_short(f, p, off - p);
}

/* run_ending_at, for the look back of heap_walk.c (heap_free_around). */
bool
runs_ending_at(struct heap *h, uint64_t off, struct fit *f)
{
	return run_ending_at(h, off, f);
}

/* Where the free run ending at the pool's end starts, or max_size. */
uint64_t
runs_tail(struct heap *h)
{
	struct fit f;

	return run_ending_at(h, h->max_size, &f) ? f.start : h->max_size;
}

/* Is the free extent starting at chunk bit b of c (live bit clear) a run? */
static inline bool
free_bit_is_run(struct heap *h, struct chunk *c, uint64_t b)
{
	uint64_t off = ((c->index << CHUNK_SHIFT) + b) << h->gshift;

	return !bm_cached_in(h, c, off) && !span_start(h, off);
}

/* The last start bit of chunk c below bit b, if any. */
static inline bool
prev_bit(const struct chunk *c, uint64_t b, uint64_t *pb)
{
	unsigned w = (unsigned)(b / 64);
	uint64_t bits = SW(c, w) & ((1ull << (b & 63)) - 1);

	if (!bits) {
		if ((w = sw_prev(c, w)) == CHUNK_WORDS)
			return false;
		bits = SW(c, w);
	}
	*pb = (uint64_t)w * 64 + 63 - (uint64_t)__builtin_clzll(bits);
	return true;
}

/* The first start bit of chunk c above bit b, if any. */
static inline bool
next_bit(const struct chunk *c, uint64_t b, uint64_t *nb)
{
	unsigned w = (unsigned)(b / 64);
	uint64_t bits = SW(c, w) & (~1ull << (b & 63));

	if (!bits) {
		if ((w = sw_next(c, w)) == CHUNK_WORDS)
			return false;
		bits = SW(c, w);
	}
	*nb = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
	return true;
}

/*
 * give_in_chunk's case with a long run on one side or both (lr, rr), or a
 * short run (left at chunk bit lb, right ending at chunk bit rb): the
 * merged run reuses a long record.  The block's first granule and the one
 * after it are bits of c, so their start bits are set and cleared there
 * without looking the chunk up again.
 */
static bool
give_long(struct heap *h, struct chunk *c, uint64_t off, uint64_t len,
	  struct lrun *lr, bool left, uint64_t lb, struct lrun *rr, bool right,
	  uint64_t rb, uint64_t *new_first, uint64_t *new_end)
{
	uint64_t base = c->index << CHUNK_SHIFT;
	uint64_t bit = (off >> h->gshift) - base, ebit = bit + (len >> h->gshift);
	uint64_t x = off, y = off + len, uf, ue;
	struct fit f;

	assert(bit < CHUNK_GRANULES && ebit < CHUNK_GRANULES);
	if (left)	/* a short run [lb, off) */
		lr = NULL, x = (base + lb) << h->gshift;
	if (right)
		rr = NULL, y = (base + rb) << h->gshift;
	h->st.free_bytes += len;
	/* The block's start bit stays only if nothing merges from before. */
	if (lr || left) {
		if (left)
			sbin_del(h, x, (unsigned)((off - x) >> h->gshift));
		else
			x = lr->start;
		sw_clear(c, (unsigned)(bit / 64), 1ull << (bit & 63));
	} else {
		sw_set(c, (unsigned)(bit / 64), 1ull << (bit & 63));
	}
	if (rr || right) {
		if (right)
			sbin_del(h, off + len, (unsigned)((y - off - len) >>
							   h->gshift));
		else
			y = rr->start + rr->len;
		sw_clear(c, (unsigned)(ebit / 64), 1ull << (ebit & 63));
	}
	/* Runs on both sides that start and end outside c may empty it. */
	if (c->nstart == 0)
		bm_drop_if_empty(h, c);
	if (lr && rr)
		lrun_delete(h, rr);
	f.lr = lr ? lr : rr;
	if (f.lr)
		lrun_grow(h, f.lr, x, y - x);
	else
		run_file(h, x, y - x, &f.lr);
	pages_touched(h, x, y, off, off + len, new_first, new_end);
	units_touched(h, x, y, off, off + len, &uf, &ue);
	if (ue > uf)
		buddy_add(h, uf, ue);
	return true;
}

/*
 * runs_give for the common case, read and written inside one chunk: the
 * extent before the block starts in it, the extent after it ends in it,
 * and both are short.  Returns false, having changed nothing, otherwise.
 */
static bool
give_in_chunk(struct heap *h, uint64_t off, uint64_t len, uint64_t *new_first,
	      uint64_t *new_end)
{
	uint64_t gi = off >> h->gshift, bit = gi & (CHUNK_GRANULES - 1);
	uint64_t ebit = bit + (len >> h->gshift), base, lb = 0, rb = 0, uf, ue;
	bool left = false, right = false;
	struct lrun *lr = NULL, *rr = NULL;
	struct chunk *c;

	if (bit == 0 || ebit >= CHUNK_GRANULES)
		return false;
	c = bm_chunk(h, gi >> CHUNK_SHIFT);
	/*
	 * No chunk: nothing starts in it, as inside a page span whose tail a
	 * shrinking realloc gives back.  The general path makes the chunk.
	 */
	if (!c)
		return false;
	/* The extent before: short (a bin's run), long (a record), or live. */
	if (!prev_bit(c, bit, &lb)) {
		if (bit < SHORT_MAX)
			return false;	/* it starts before c, maybe short */
		lr = lrun_ending_at(h, off);
	} else if (!(LW(c, lb / 64) >> (lb & 63) & 1)) {
		if (lb + SHORT_MAX >= bit)
			left = free_bit_is_run(h, c, lb);
		else
			lr = lrun_find(h, (c->index << CHUNK_SHIFT | lb)
					  << h->gshift);
	}
	/* The extent after, the same way; it ends at the pool's end at most. */
	if (off + len < h->max_size && !(LW(c, ebit / 64) >> (ebit & 63) & 1)) {
		uint64_t top = (h->max_size >> h->gshift) -
			       (c->index << CHUNK_SHIFT);
		bool found = next_bit(c, ebit, &rb);

		if (!found || rb > top)
			rb = top < CHUNK_GRANULES ? top : CHUNK_GRANULES;
		if (rb <= ebit + SHORT_MAX && (found || top <= CHUNK_GRANULES))
			right = free_bit_is_run(h, c, ebit);
		else if (found || top <= CHUNK_GRANULES ||
			 ebit + SHORT_MAX < CHUNK_GRANULES)
			rr = lrun_find(h, off + len);
		else
			return false;	/* it may end past c, maybe short */
	}
	if (lr || rr)
		return give_long(h, c, off, len, lr, left, lb, rr, right, rb,
				 new_first, new_end);
	base = c->index << CHUNK_SHIFT;
	h->st.free_bytes += len;
	sw_set(c, (unsigned)(bit / 64), 1ull << (bit & 63));
	if (left) {
		sbin_del(h, (base + lb) << h->gshift, (unsigned)(bit - lb));
		sw_clear(c, (unsigned)(bit / 64), 1ull << (bit & 63));
	} else {
		lb = bit;
	}
	if (right) {
		sbin_del(h, (base + ebit) << h->gshift, (unsigned)(rb - ebit));
		sw_clear(c, (unsigned)(ebit / 64), 1ull << (ebit & 63));
	} else {
		rb = ebit;
	}
	if (rb - lb <= SHORT_MAX)
		sbin_add(h, (base + lb) << h->gshift, (unsigned)(rb - lb));
	else
		lrun_new(h, (base + lb) << h->gshift, (rb - lb) << h->gshift);
	pages_touched(h, (base + lb) << h->gshift, (base + rb) << h->gshift,
		      off, off + len, new_first, new_end);
	units_touched(h, (base + lb) << h->gshift, (base + rb) << h->gshift,
		      off, off + len, &uf, &ue);
	if (ue > uf)
		buddy_add(h, uf, ue);
	return true;
}

/*
 * Make [off, off + len) free, merging with the runs on both sides.  The
 * caller has cleared the live bits of what was there; the start bit at off
 * is set.  Returns in [*new_first, *new_end) the pages that became wholly
 * free.
 */
void
runs_give(struct heap *h, uint64_t off, uint64_t len, uint64_t *new_first,
	  uint64_t *new_end)
{
	uint64_t x = off, y = off + len, uf, ue;
	struct lrun *spare = NULL;
	struct fit left, right;

	if (give_in_chunk(h, off, len, new_first, new_end))
		goto done;
	h->st.free_bytes += len;
	bm_set_start(h, off);
	if (run_ending_at(h, off, &left)) {
		run_unfile(h, &left);
		spare = left.lr;
		bm_clear_start(h, off);
		x = left.start;
	}
	if (runs_at(h, y, &right)) {
		run_unfile(h, &right);
		if (right.lr && spare)
			lrun_delete(h, right.lr);
		else if (right.lr)
			spare = right.lr;
		bm_clear_start(h, y);
		y = right.start + right.len;
	}
	run_file(h, x, y - x, &spare);
	assert(spare == NULL);

	pages_touched(h, x, y, off, off + len, new_first, new_end);
	units_touched(h, x, y, off, off + len, &uf, &ue);
	if (ue > uf)
		buddy_add(h, uf, ue);
done:
	/* The pages that became wholly free held the extent: dirty. */
	h->free_dirty += *new_end - *new_first;
}

/*
 * Call fn on every run of at least min bytes, until it returns false: the
 * long runs in address order, then the short ones from their bins (an
 * entry is checked on the block map; a duplicate may be visited twice).
 * O(runs), for heap_trim.
 */
void
runs_each(struct heap *h, uint64_t min,
	  bool (*fn)(struct heap *h, uint64_t start, uint64_t len))
{
	struct runs_cursor at = {0, 0, 0};
	uint64_t looks = UINT64_MAX;

	runs_each_from(h, min, &at, &looks, fn);
}

/* The long run that holds off or, if none does, the first after it. */
static struct lrun *
lrun_from(struct heap *h, uint64_t off)
{
	struct lrun key = {.start = off};
	struct lrun *r = RB_NFIND(lrun_addr_tree, &h->lruns, &key);
	struct lrun *prev = r ? RB_PREV(lrun_addr_tree, &h->lruns, r)
			      : RB_MAX(lrun_addr_tree, &h->lruns);

	return prev && prev->start + prev->len > off ? prev : r;
}

/*
 * runs_each, from a cursor that survives any change to the heap: the long
 * runs from at->off (one that holds at->off is cut to start there), then
 * the short runs from bin at->bin, entry at->entry.  When fn returns false
 * the cursor is left past the run it was given (past at->off for a long
 * run: fn may move at->off back into it, to come back to its rest), and
 * runs_each_from returns false; true when every run was visited.  Between
 * calls runs may be merged, split or taken: a long run is found again by
 * its address; a short run may then be missed, or visited twice.
 *
 * Every run the walk passes takes one of *looks, whether fn is given it
 * or not: a long run shorter than min (at granularity 8 a long run can be
 * shorter than a page) and a stale bin entry cost a look as a run does,
 * and a walk bounded only by fn's runs would pass any number of them.
 * When *looks is spent the walk stops as if fn had said so, past the run
 * or entry it counted last.
 */
bool
runs_each_from(struct heap *h, uint64_t min, struct runs_cursor *at,
	       uint64_t *looks,
	       bool (*fn)(struct heap *h, uint64_t start, uint64_t len))
{
	struct lrun *r;
	unsigned n;

	assert(*looks > 0);
	for (r = at->bin ? NULL : lrun_from(h, at->off); r;
	     r = RB_NEXT(lrun_addr_tree, &h->lruns, r)) {
		uint64_t start = r->start > at->off ? r->start : at->off;
		uint64_t len = r->start + r->len - start;

		at->off = start + len;
		if ((len >= min && !fn(h, start, len)) || --*looks == 0)
			return false;
	}
	n = (unsigned)((min + h->g - 1) >> h->gshift);
	if (at->bin < n) {
		at->bin = n ? n : 1;
		at->entry = 0;
	}
	for (; at->bin <= SHORT_MAX; at->bin++, at->entry = 0) {
		const struct sbin *sb = &h->sbin[at->bin];

		while (sb->count && at->entry < sb->len) {
			uint64_t p = sb->v[at->entry++];

			if ((short_run_is(h, p, at->bin) &&
			     !fn(h, p, (uint64_t)at->bin << h->gshift)) ||
			    --*looks == 0)
				return false;
		}
	}
	return true;
}

void
runs_destroy(struct heap *h)
{
	struct lrun *r, *next;
	unsigned n;

	for (r = RB_MIN(lrun_addr_tree, &h->lruns); r; r = next) {
		next = RB_NEXT(lrun_addr_tree, &h->lruns, r);
		RB_REMOVE(lrun_addr_tree, &h->lruns, r);
		heap_node_free(h, r, sizeof(*r));
	}
	for (n = 1; n <= SHORT_MAX; n++) {
		h->sbin[n].len = 0;
		sbin_resize(h, &h->sbin[n], 0);
	}
}
