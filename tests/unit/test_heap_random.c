/*
 * test_heap_random.c - randomized differential test of the allocator engine.
 *
 * One heap is driven through a long random sequence of operations (alloc,
 * aligned alloc, calloc, realloc, free, invalid frees, usable-size queries,
 * bad arguments, trims, splits, retention steps) while the test keeps its
 * own reference model: the
 * sorted set of live blocks [off, off + usable).  The model is simple enough
 * to trust, so any disagreement is reported against the engine, with the
 * seed and operation number needed to replay it.
 *
 * What is checked:
 *   - every new block lies in the pool, is aligned as asked, has the rounded
 *     size heap.h promises and overlaps no live block;
 *   - every -ENOMEM from an allocation is honest: no gap between live blocks
 *     could hold the request at its alignment, up to beyond the pool's size
 *     (rule 4: cached blocks count as free, since the engine flushes its
 *     caches before refusing), and it moved no counter but failed_allocs
 *     and no byte between the live set and the free space;
 *   - a realloc is refused, or moves the block, only when the gap after
 *     the block could not hold it grown in place (rule 7), and heap_resize
 *     grows a block exactly when that gap holds the growth;
 *   - a small allocation raises the high-water mark only when best fit
 *     with the caches merged would (rule 5: no gap below the mark that
 *     holds it is shorter than the run above the last live block);
 *   - refused calls (-EINVAL, -EFBIG, -EOVERFLOW) change nothing;
 *   - a split gives exactly the two blocks heap.h defines, or -EINVAL
 *     when no tail is left, and calls back nothing;
 *   - a retention step releases at most its pages and one queued range,
 *     and says what the statistics say (pages kept over the bound or not);
 *   - release() never covers a byte of a live block, never drops data a
 *     moving realloc still has to copy, and never a page under the block
 *     the call hands out (punched out to be faulted in again at once);
 *   - calloc asks for zeroing of every part of the block that lies on a page
 *     handed out since its last release (a shadow page bitmap), and of
 *     nothing on a page that was not (rule 6: only what may be dirty);
 *   - heap_check and the statistics agree with the model: the resident
 *     estimate is the shadow's dirty pages, the free ones among them are
 *     free_resident_bytes, and they stay within the retention bound but
 *     for what retain_excess_bytes reports;
 *   - an allocation, or a realloc or resize that frees nothing, leaves a
 *     pool within its retention bound within it: what a merge of the
 *     caches freed on its way is its own to give back.
 *
 * The run alternates fill phases (allocation-heavy, until a random number
 * of requests has been refused) and drain phases (down to a random level),
 * so refusals are met on full pools of many different layouts.
 *
 * A failed check prints the seed, the operation number and the last
 * operations; so does an assertion that aborts inside the engine.
 * Replay a failure:  POOLMGR_SEED=N build/tests/test_heap_random
 * Shorter or longer: POOLMGR_OPS=M (per test case, default 1000000;
 *                    200000 under AddressSanitizer)
 * Every operation:   POOLMGR_TRACE=1
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "heap.h"

/*
 * The differential test is the plain build's 10^6 operations per case.
 * AddressSanitizer makes each one about 13 times slower; there the run
 * looks for memory errors on the same paths, which a fifth of them walk
 * just as well, and keeps `make test` short.
 */
#ifdef __SANITIZE_ADDRESS__
#define DEFAULT_OPS 200000ull
#else
#define DEFAULT_OPS 1000000ull
#endif
#define CHECK_EVERY 1000	/* heap_check and stats comparison period */
#define OP_RING 32		/* operations shown when a check fails */
#define FREED_RING 64		/* recently freed offsets, for double frees */
/*
 * A ceiling on live blocks.  Once the pool is full, small requests still
 * fit in the fragments and would pile up without bound; reaching the cap
 * ends a fill phase, which keeps the O(n) model operations cheap.
 */
#define LIVE_CAP 8000

/* ------------------------------------------------------------------ */
/* Parameters */

struct case_params {
	const char *name;
	uint64_t max_size;
	uint32_t granularity;
	uint32_t page_size;
	uint64_t large_threshold;
	uint32_t retain_pages;
	uint32_t cache_blocks;
	uint64_t retain_cut;
	/* Size bands, log-uniform inside each: most requests are small. */
	uint64_t small_hi, mid_hi, large_hi;
	unsigned small_pct, mid_pct;	/* the rest is the large band */
};

static uint64_t g_seed;
static uint64_t g_ops = DEFAULT_OPS;
static bool g_trace;
static struct tctx *g_cur;	/* the running case, for the abort handler */

/* ------------------------------------------------------------------ */
/* Random numbers: xoshiro256** seeded through splitmix64, so one printed
 * 64-bit seed replays the whole run on any platform. */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0 (multiply-shift: no modulo bias worth noting). */
static uint64_t
rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static uint64_t
rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static unsigned
ilog2(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

/*
 * Roughly log-uniform in [lo, hi]: a uniform octave, then uniform inside it.
 * Avoids libm, which the test is not linked with.
 */
static uint64_t
rng_log_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	unsigned e = (unsigned)rng_range(r, ilog2(lo), ilog2(hi));
	uint64_t a = 1ull << e, b = e >= 63 ? UINT64_MAX : (2ull << e) - 1;

	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	return rng_range(r, a, b);
}

static uint64_t
round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* ------------------------------------------------------------------ */
/* Reference model: live blocks sorted by offset. */

struct blk {
	uint64_t off, len, req;
	bool span;		/* handed out as a page span */
};

struct model {
	struct blk *v;
	size_t n, cap;
	uint64_t sum_len, sum_req, spans;
};

/* Index of the first block starting at or after off. */
static size_t
model_lower(const struct model *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the block starting exactly at off, or -1. */
static ptrdiff_t
model_find(const struct model *m, uint64_t off)
{
	size_t i = model_lower(m, off);

	return i < m->n && m->v[i].off == off ? (ptrdiff_t)i : -1;
}

static void
model_insert(struct model *m, const struct blk *b)
{
	size_t i;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		assert_non_null(m->v);
	}
	i = model_lower(m, b->off);
	memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
	m->v[i] = *b;
	m->n++;
	m->sum_len += b->len;
	m->sum_req += b->req;
	m->spans += b->span;
}

static void
model_remove(struct model *m, size_t i)
{
	m->sum_len -= m->v[i].len;
	m->sum_req -= m->v[i].req;
	m->spans -= m->v[i].span;
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	m->n--;
}

/*
 * A live block other than the one starting at skip that shares a byte with
 * [off, off + len), or NULL.  Live blocks never overlap each other, so only
 * the block before off and those starting inside the range can.
 */
static const struct blk *
model_overlap(const struct model *m, uint64_t off, uint64_t len, uint64_t skip)
{
	size_t i = model_lower(m, off);

	if (i > 0)
		i--;
	for (; i < m->n && m->v[i].off < off + len; i++) {
		const struct blk *b = &m->v[i];

		if (b->off != skip && b->off + b->len > off)
			return b;
	}
	return NULL;
}

/*
 * The first gap between live blocks (cached blocks count as free) with a
 * start aligned to align from which len bytes fit; false when none.
 */
static bool
model_find_gap(const struct model *m, uint64_t max_size, uint64_t len,
	       uint64_t align, uint64_t *gap_start, uint64_t *gap_end)
{
	uint64_t prev = 0;
	size_t i;

	for (i = 0; i <= m->n; i++) {
		uint64_t end = i < m->n ? m->v[i].off : max_size;

		/* Cheap length test first: most gaps are far too short. */
		if (end > prev && end - prev >= len) {
			uint64_t at = round_up(prev, align);

			if (at >= prev && at <= end && end - at >= len) {
				*gap_start = prev;
				*gap_end = end;
				return true;
			}
		}
		if (i < m->n)
			prev = m->v[i].off + m->v[i].len;
	}
	return false;
}

struct gap_summary {
	uint64_t bytes, count, largest;
};

static void
model_gaps(const struct model *m, uint64_t max_size, struct gap_summary *gs)
{
	uint64_t prev = 0;
	size_t i;

	memset(gs, 0, sizeof(*gs));
	for (i = 0; i <= m->n; i++) {
		uint64_t end = i < m->n ? m->v[i].off : max_size;

		if (end > prev) {
			gs->bytes += end - prev;
			gs->count++;
			if (end - prev > gs->largest)
				gs->largest = end - prev;
		}
		if (i < m->n)
			prev = m->v[i].off + m->v[i].len;
	}
}

/* ------------------------------------------------------------------ */
/* Test state */

enum op_kind {
	OP_ALLOC,
	OP_ALIGNED,
	OP_CALLOC,
	OP_REALLOC,
	OP_FREE,
	OP_BADFREE,
	OP_USABLE,
	OP_BADUSABLE,
	OP_BADARGS,
	OP_TRIM,
	OP_FREENONE,
	OP_SPLIT,
	OP_RETAIN,
	OP_RESIZE,
	OP_FINAL_FREE,
	OP_NKINDS
};

/*
 * Share of each operation, per thousand, in the two phases the run
 * alternates between: filling the pool until enough requests have been
 * refused (so refusals happen on a full, fragmented pool), then draining it
 * to a random level (so the next fill starts from a different layout).
 */
static const unsigned op_weight[2][OP_NKINDS] = {
	{	/* fill */
		[OP_ALLOC] = 330,  [OP_ALIGNED] = 80,	[OP_CALLOC] = 110,
		[OP_REALLOC] = 80, [OP_FREE] = 280,	[OP_BADFREE] = 30,
		[OP_USABLE] = 30,  [OP_BADUSABLE] = 10, [OP_BADARGS] = 5,
		[OP_TRIM] = 1,	   [OP_FREENONE] = 2,	[OP_SPLIT] = 20,
		[OP_RETAIN] = 2,   [OP_RESIZE] = 20,
	},
	{	/* drain */
		[OP_ALLOC] = 160,  [OP_ALIGNED] = 40,	[OP_CALLOC] = 50,
		[OP_REALLOC] = 80, [OP_FREE] = 550,	[OP_BADFREE] = 30,
		[OP_USABLE] = 30,  [OP_BADUSABLE] = 10, [OP_BADARGS] = 5,
		[OP_TRIM] = 1,	   [OP_FREENONE] = 2,	[OP_SPLIT] = 20,
		[OP_RETAIN] = 2,   [OP_RESIZE] = 20,
	},
};

static const char *const op_name[OP_NKINDS] = {
	[OP_ALLOC] = "alloc",	  [OP_ALIGNED] = "aligned-alloc",
	[OP_CALLOC] = "calloc",	  [OP_REALLOC] = "realloc",
	[OP_FREE] = "free",	  [OP_BADFREE] = "invalid-free",
	[OP_USABLE] = "usable",	  [OP_BADUSABLE] = "invalid-usable",
	[OP_BADARGS] = "bad-args", [OP_TRIM] = "trim",
	[OP_FREENONE] = "free-none", [OP_SPLIT] = "split",
	[OP_RETAIN] = "retain-step", [OP_RESIZE] = "resize",
	[OP_FINAL_FREE] = "final-free",
};

/* One operation as issued, for the failure report and the trace. */
struct oprec {
	uint64_t op;
	enum op_kind kind;
	uint64_t a, b;		/* arguments; meaning depends on kind */
	int ret;
	uint64_t out;
};

/* What a callback reported during the current engine call. */
struct event {
	uint64_t seq;
	uint64_t a, b, len;	/* release/zero: a = off; copy: a = dst, b = src */
};

struct evlog {
	struct event *v;
	size_t n, cap;
};

enum band { BAND_SMALL, BAND_MID, BAND_LARGE };

struct counters {
	uint64_t allocs, refusals, refusals_checked, attempts;
	uint64_t top_raises_checked;
	uint64_t refused_band[3];
	uint64_t phases, occupancy_sum, occupancy_samples;
	uint64_t invalid_frees, invalid_usable, bad_args, frees, reallocs;
	uint64_t realloc_moves, realloc_refusals, trims, checks;
	uint64_t zero_calls, zero_bytes, calloc_bytes;
	uint64_t releases, released_bytes;
	uint64_t splits, retain_steps, retain_step_bytes;
	uint64_t resizes, resizes_refused;
	uint64_t max_live;
};

struct tctx {
	const struct case_params *p;
	struct heap *h;
	struct heap_config cfg;
	struct rng rng;
	struct model m;
	uint64_t page, g, threshold;

	/* Shadow of the pages that may hold data: handed out since released. */
	uint64_t *dirty;
	uint64_t npages;

	/* Callbacks of the current engine call. */
	struct evlog rel, zero, copy;
	uint64_t seq;
	bool in_calloc, in_realloc;
	uint64_t exempt;	/* live block being freed by this call */
	bool cb_failed;
	char cb_msg[512];

	uint64_t op;
	struct oprec ring[OP_RING];
	unsigned ring_head;

	uint64_t freed[FREED_RING];
	unsigned freed_head, freed_count;

	/* The engine's high-water mark, followed: the highest end of a block
	 * ever handed out, brought down by a trim to the last live block. */
	uint64_t top;

	bool draining;
	bool no_large;		/* this cycle packs the pool with small blocks */
	uint64_t phase_refusals, phase_goal;
	uint64_t drain_to;	/* allocated bytes that end a drain phase */

	struct counters c;
};

/* ------------------------------------------------------------------ */
/* Failure reporting */

static void
describe_op(const struct oprec *r, char *buf, size_t n)
{
	int k = snprintf(buf, n, "op %" PRIu64 ": %s", r->op, op_name[r->kind]);

	switch (r->kind) {
	case OP_ALLOC:
	case OP_ALIGNED:
		k += snprintf(buf + k, n - k, " size=%" PRIu64 " align=%" PRIu64,
			      r->a, r->b);
		break;
	case OP_CALLOC:
		k += snprintf(buf + k, n - k, " nmemb=%" PRIu64 " size=%" PRIu64,
			      r->a, r->b);
		break;
	case OP_REALLOC:
	case OP_RESIZE:
		k += snprintf(buf + k, n - k, " off=%#" PRIx64 " size=%" PRIu64,
			      r->a, r->b);
		break;
	case OP_SPLIT:
		k += snprintf(buf + k, n - k, " off=%#" PRIx64 " keep=%" PRIu64,
			      r->a, r->b);
		break;
	case OP_RETAIN:
		k += snprintf(buf + k, n - k, " max=%" PRIu64, r->a);
		break;
	case OP_BADARGS:
		k += snprintf(buf + k, n - k, " a=%#" PRIx64 " b=%#" PRIx64, r->a,
			      r->b);
		break;
	case OP_TRIM:
	case OP_FREENONE:
		break;
	default:
		k += snprintf(buf + k, n - k, " off=%#" PRIx64, r->a);
		break;
	}
	if (r->ret == INT_MIN)
		snprintf(buf + k, n - k, " -> (did not return)");
	else
		snprintf(buf + k, n - k, " -> %d out=%#" PRIx64, r->ret,
			 r->out);
}

static void
print_recent_ops(const struct tctx *t)
{
	unsigned i, n = t->op < OP_RING ? (unsigned)t->op + 1 : OP_RING;
	char line[256];

	fprintf(stderr, "last %u operations (oldest first):\n", n);
	for (i = 0; i < n; i++) {
		unsigned j = (t->ring_head + OP_RING - n + 1 + i) % OP_RING;

		describe_op(&t->ring[j], line, sizeof(line));
		fprintf(stderr, "  %s\n", line);
	}
}

/* Fail the test case with the context needed to replay it. */
static void __attribute__((format(printf, 2, 3), noreturn))
tfail(struct tctx *t, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The verdict first, then the history that led to it. */
	fprintf(stderr, "[%s] seed %" PRIu64 " op %" PRIu64 ": %s\n",
		t->p->name, g_seed, t->op, msg);
	print_recent_ops(t);
	fail_msg("[%s] seed %" PRIu64 " op %" PRIu64 ": %s", t->p->name,
		 g_seed, t->op, msg);
	abort();	/* fail_msg does not return; this tells the compiler */
}

/*
 * The engine asserts on broken invariants and aborts the whole program,
 * past cmocka: say which case, seed and operation did it before dying.
 */
static void
on_abort(int sig)
{
	if (g_cur) {
		fprintf(stderr, "[%s] seed %" PRIu64 " op %" PRIu64
				": the program aborted inside the engine\n",
			g_cur->p->name, g_seed, g_cur->op);
		print_recent_ops(g_cur);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A callback found a problem: keep the first, report it after the call. */
static void __attribute__((format(printf, 2, 3)))
cb_fail(struct tctx *t, const char *fmt, ...)
{
	va_list ap;

	if (t->cb_failed)
		return;
	t->cb_failed = true;
	va_start(ap, fmt);
	vsnprintf(t->cb_msg, sizeof(t->cb_msg), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Shadow dirty pages */

static void
dirty_set(struct tctx *t, uint64_t off, uint64_t len, bool on)
{
	uint64_t p, end = (off + len + t->page - 1) / t->page;

	for (p = off / t->page; p < end; p++) {
		if (on)
			t->dirty[p / 64] |= 1ull << (p % 64);
		else
			t->dirty[p / 64] &= ~(1ull << (p % 64));
	}
}

static bool
dirty_test(const struct tctx *t, uint64_t p)
{
	return t->dirty[p / 64] >> (p % 64) & 1;
}

static uint64_t
dirty_count(const struct tctx *t)
{
	uint64_t i, n = 0;

	for (i = 0; i < (t->npages + 63) / 64; i++)
		n += (uint64_t)__builtin_popcountll(t->dirty[i]);
	return n;
}

/* ------------------------------------------------------------------ */
/* Callbacks */

static void
ev_push(struct evlog *l, uint64_t seq, uint64_t a, uint64_t b, uint64_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	l->v[l->n++] = (struct event){.seq = seq, .a = a, .b = b, .len = len};
}

static int
cb_release(void *ctx, uint64_t off, uint64_t len)
{
	struct tctx *t = ctx;
	const struct blk *b;

	t->seq++;
	if (len == 0 || off % t->page || len % t->page)
		cb_fail(t, "release [%#" PRIx64 ", +%#" PRIx64
			   ") is not page-aligned or empty", off, len);
	else if (off >= t->cfg.max_size || t->cfg.max_size - off < len)
		cb_fail(t, "release [%#" PRIx64 ", +%#" PRIx64
			   ") is outside the pool", off, len);
	else if ((b = model_overlap(&t->m, off, len, t->exempt)))
		cb_fail(t, "release [%#" PRIx64 ", %#" PRIx64
			   ") covers live block [%#" PRIx64 ", %#" PRIx64
			   ") (req %" PRIu64 ")", off, off + len, b->off,
			b->off + b->len, b->req);
	else
		dirty_set(t, off, len, false);
	ev_push(&t->rel, t->seq, off, 0, len);
	t->c.releases++;
	t->c.released_bytes += len;
	return 0;
}

static void
cb_zero(void *ctx, uint64_t off, uint64_t len)
{
	struct tctx *t = ctx;

	t->seq++;
	if (!t->in_calloc)
		cb_fail(t, "zero [%#" PRIx64 ", +%#" PRIx64 ") outside calloc",
			off, len);
	ev_push(&t->zero, t->seq, off, 0, len);
	t->c.zero_calls++;
	t->c.zero_bytes += len;
}

static void
cb_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len)
{
	struct tctx *t = ctx;

	t->seq++;
	if (!t->in_realloc)
		cb_fail(t, "copy %#" PRIx64 " <- %#" PRIx64 " len %" PRIu64
			   " outside realloc", dst, src, len);
	ev_push(&t->copy, t->seq, dst, src, len);
}

/* Start of every engine call: forget the previous call's events. */
static void
call_begin(struct tctx *t, uint64_t exempt)
{
	t->rel.n = t->zero.n = t->copy.n = 0;
	t->exempt = exempt;
	t->in_calloc = t->in_realloc = false;
}

static void
call_end(struct tctx *t)
{
	t->exempt = HEAP_OFF_NONE;
	t->in_calloc = t->in_realloc = false;
	if (t->cb_failed)
		tfail(t, "%s", t->cb_msg);
}

/* A call that failed must not have asked the owner to do anything. */
static void
expect_no_callbacks(struct tctx *t, const char *what)
{
	if (t->rel.n || t->zero.n || t->copy.n)
		tfail(t, "%s made callbacks: %zu release, %zu zero, %zu copy",
		      what, t->rel.n, t->zero.n, t->copy.n);
}

static bool
ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* ------------------------------------------------------------------ */
/* Operation log */

static struct oprec *
op_start(struct tctx *t, enum op_kind kind, uint64_t a, uint64_t b)
{
	struct oprec *r;

	t->ring_head = (t->ring_head + 1) % OP_RING;
	r = &t->ring[t->ring_head];
	*r = (struct oprec){.op = t->op, .kind = kind, .a = a, .b = b,
			    .ret = INT_MIN, .out = HEAP_OFF_NONE};
	return r;
}

static void
op_done(struct oprec *r, int ret, uint64_t out)
{
	char line[256];

	r->ret = ret;
	r->out = out;
	if (g_trace) {
		describe_op(r, line, sizeof(line));
		printf("%s\n", line);
	}
}

static void
remember_freed(struct tctx *t, uint64_t off)
{
	t->freed[t->freed_head] = off;
	t->freed_head = (t->freed_head + 1) % FREED_RING;
	if (t->freed_count < FREED_RING)
		t->freed_count++;
}

/* ------------------------------------------------------------------ */
/* Request shapes */

static uint64_t
random_size(struct tctx *t)
{
	const struct case_params *p = t->p;
	uint64_t pick = rng_below(&t->rng, 100);

	/* Packing cycles: the pool fills with small and middle blocks, so
	 * requests the bins serve get refused too, not only page spans. */
	if (t->no_large)
		pick = pick < 40 ? 0 : p->small_pct;
	if (pick < p->small_pct)
		return rng_log_range(&t->rng, 1, p->small_hi);
	if (pick < p->small_pct + p->mid_pct)
		return rng_log_range(&t->rng, p->small_hi + 1, p->mid_hi);
	return rng_log_range(&t->rng, p->mid_hi + 1, p->large_hi);
}

static enum band
band_of(const struct tctx *t, uint64_t req)
{
	if (req <= t->p->small_hi)
		return BAND_SMALL;
	return req <= t->p->mid_hi ? BAND_MID : BAND_LARGE;
}

/* Requests at or above the threshold become page spans. */
static bool
is_large(const struct tctx *t, uint64_t req)
{
	return req >= t->threshold;
}

/*
 * heap.h does not say whether a request just below the threshold whose
 * granule rounding reaches it becomes a span.  Its rounded size is the same
 * either way (the threshold is a page multiple); only the alignment could
 * differ, so the rule 4 check treats it as a span to stay on the safe side.
 */
static bool
maybe_large(const struct tctx *t, uint64_t req)
{
	return is_large(t, req) || round_up(req, t->g) >= t->threshold;
}

static uint64_t
rounded_size(const struct tctx *t, uint64_t req)
{
	return is_large(t, req) ? round_up(req, t->page) : round_up(req, t->g);
}

/* ------------------------------------------------------------------ */
/* Checks on results */

/*
 * Rule 4: a refused request must not fit any gap of the model.  realloc
 * passes its old block, which stays live during the attempt; it needs no
 * special handling because the model still holds it.
 */
static void
check_refusal(struct tctx *t, uint64_t req, uint64_t align, const char *what)
{
	uint64_t len = round_up(req, t->g);
	uint64_t a = align > t->g ? align : t->g;
	uint64_t gs, ge;

	if (maybe_large(t, req)) {
		len = round_up(req, t->page);
		if (a < t->page)
			a = t->page;
	}
	t->c.refusals_checked++;
	if (model_find_gap(&t->m, t->cfg.max_size, len, a, &gs, &ge))
		tfail(t, "%s of %" PRIu64 " bytes (rounded %" PRIu64
			 ", align %" PRIu64 ") refused with -ENOMEM, but the "
			 "free gap [%#" PRIx64 ", %#" PRIx64 ") (%" PRIu64
			 " bytes) holds it at %#" PRIx64 "; %zu live blocks",
		      what, req, len, a, gs, ge, ge - gs, round_up(gs, a),
		      t->m.n);
}

/*
 * A refused allocation moved no counter but failed_allocs, and no byte
 * between the live blocks and the free space: on the way its cached
 * blocks may have been merged into the runs (rule 4) and pages given
 * back, so only free plus cached bytes stay as they were.
 */
static void
check_refusal_stats(struct tctx *t, const struct heap_stats *a,
		    const struct heap_stats *b, const char *what)
{
	if (b->failed_allocs != a->failed_allocs + 1 ||
	    b->allocs != a->allocs || b->frees != a->frees ||
	    b->cache_hits != a->cache_hits ||
	    b->invalid_frees != a->invalid_frees ||
	    b->live_blocks != a->live_blocks || b->spans != a->spans ||
	    b->allocated_bytes != a->allocated_bytes ||
	    b->requested_bytes != a->requested_bytes ||
	    b->free_bytes + b->cached_bytes != a->free_bytes + a->cached_bytes)
		tfail(t, "%s refused with -ENOMEM changed the stats: failed "
			 "%" PRIu64 " -> %" PRIu64 ", allocs %" PRIu64 " -> %"
			 PRIu64 ", frees %" PRIu64 " -> %" PRIu64 ", hits %"
			 PRIu64 " -> %" PRIu64 ", live %" PRIu64 " -> %" PRIu64
			 ", allocated %" PRIu64 " -> %" PRIu64 ", requested %"
			 PRIu64 " -> %" PRIu64 ", free+cached %" PRIu64 " -> %"
			 PRIu64, what, a->failed_allocs, b->failed_allocs,
		      a->allocs, b->allocs, a->frees, b->frees,
		      a->cache_hits, b->cache_hits, a->live_blocks,
		      b->live_blocks, a->allocated_bytes, b->allocated_bytes,
		      a->requested_bytes, b->requested_bytes,
		      a->free_bytes + a->cached_bytes,
		      b->free_bytes + b->cached_bytes);
}

/*
 * Could live block i hold size bytes in place, grown over the gap after
 * it (cached blocks there are free space)?  A span stays whole pages
 * whatever the size; a small block cannot become a span.
 */
static bool
grows_in_place(const struct tctx *t, size_t i, uint64_t size)
{
	const struct blk *b = &t->m.v[i];
	uint64_t end = i + 1 < t->m.n ? t->m.v[i + 1].off : t->cfg.max_size;
	uint64_t len = b->span ? round_up(size, t->page) : round_up(size, t->g);

	if (!b->span && is_large(t, size))
		return false;
	return len <= end - b->off;
}

/*
 * No page the call gave back lies under the block it handed out: such a
 * page was punched out only to be faulted in again at once (a merge of
 * cached blocks on the way must not give back what the block takes).
 */
static void
check_no_release_under(struct tctx *t, uint64_t off, uint64_t len,
		       const char *what)
{
	size_t k;

	for (k = 0; k < t->rel.n; k++)
		if (ranges_meet(t->rel.v[k].a, t->rel.v[k].len, off, len))
			tfail(t, "%s of [%#" PRIx64 ", +%" PRIu64 ") released [%#"
				 PRIx64 ", +%#" PRIx64 ") under it", what, off,
			      len, t->rel.v[k].a, t->rel.v[k].len);
}

/* The engine's usable size for a block it just handed out. */
static uint64_t
usable_of(struct tctx *t, uint64_t off)
{
	uint64_t u = 0;
	int ret = heap_usable_size(t->h, off, &u);

	if (ret != 0)
		tfail(t, "heap_usable_size(%#" PRIx64 ") of a new block: %d",
		      off, ret);
	return u;
}

/*
 * Everything a new block must satisfy: inside the pool, aligned, rounded as
 * heap.h says, disjoint from the live set.  skip is a live block the new one
 * may overlap (realloc in place), else HEAP_OFF_NONE.
 */
static void
check_new_block(struct tctx *t, uint64_t off, uint64_t usable, uint64_t req,
		uint64_t align, uint64_t skip)
{
	const struct blk *b;

	if (off == HEAP_OFF_NONE || off >= t->cfg.max_size ||
	    usable > t->cfg.max_size - off)
		tfail(t, "block [%#" PRIx64 ", +%" PRIu64
			 ") is not inside the pool of %#" PRIx64, off, usable,
		      t->cfg.max_size);
	if (off % t->g)
		tfail(t, "block %#" PRIx64 " not aligned to granularity %" PRIu64,
		      off, t->g);
	if (align && off % align)
		tfail(t, "block %#" PRIx64 " not aligned to requested %" PRIu64,
		      off, align);
	if (is_large(t, req) && off % t->page)
		tfail(t, "span %#" PRIx64 " (req %" PRIu64
			 ") not page-aligned", off, req);
	if (usable < req || usable % t->g)
		tfail(t, "usable size %" PRIu64 " for request %" PRIu64
			 " is short or not a granule multiple", usable, req);
	b = model_overlap(&t->m, off, usable, skip);
	if (b)
		tfail(t, "new block [%#" PRIx64 ", %#" PRIx64
			 ") (req %" PRIu64 ") overlaps live block [%#" PRIx64
			 ", %#" PRIx64 ") (req %" PRIu64 ")", off, off + usable,
		      req, b->off, b->off + b->len, b->req);
}

/*
 * Rule 5's footprint: a small request at the granule raises the high-water
 * mark only when best fit, with the caches merged, would place it there.
 * Merged, every gap between live blocks (cached blocks count as free) that
 * could hold the request is one run, and best fit takes the shortest run
 * that holds it; every gap lies below the mark, and the run above the last
 * live block is the only one that reaches past it.  So no gap may hold the
 * request and be shorter than that last run.
 */
static void
check_footprint(struct tctx *t, uint64_t off, uint64_t len, uint64_t old_top)
{
	uint64_t prev = 0, tail_len;
	size_t i;

	if (off + len <= old_top)
		return;
	t->c.top_raises_checked++;
	tail_len = t->cfg.max_size -
		   (t->m.n ? t->m.v[t->m.n - 1].off + t->m.v[t->m.n - 1].len
			   : 0);
	for (i = 0; i < t->m.n; i++) {
		uint64_t gap = t->m.v[i].off - prev;

		if (gap >= len && gap < tail_len)
			tfail(t, "block [%#" PRIx64 ", +%" PRIu64 ") raised the "
				 "high-water mark from %#" PRIx64 ", but the "
				 "gap [%#" PRIx64 ", %#" PRIx64 ") below it "
				 "holds it and is shorter than the last run "
				 "(%" PRIu64 " bytes)", off, len, old_top,
			      prev, t->m.v[i].off, tail_len);
		prev = t->m.v[i].off + t->m.v[i].len;
	}
}

/* A fresh allocation has exactly the rounded size of its request. */
static void
check_fresh_size(struct tctx *t, uint64_t off, uint64_t usable, uint64_t req)
{
	if (usable != rounded_size(t, req))
		tfail(t, "block %#" PRIx64 ": usable size %" PRIu64
			 " for request %" PRIu64 ", expected %" PRIu64, off,
		      usable, req, rounded_size(t, req));
}

static void
add_block(struct tctx *t, uint64_t off, uint64_t usable, uint64_t req,
	  bool span)
{
	struct blk b = {.off = off, .len = usable, .req = req, .span = span};

	model_insert(&t->m, &b);
	if (off + usable > t->top)
		t->top = off + usable;
	/* The owner may write anything it was given. */
	dirty_set(t, off, usable, true);
	t->c.allocs++;
	if (t->m.n > t->c.max_live)
		t->c.max_live = t->m.n;
}

static int
event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	return x->a < y->a ? -1 : x->a > y->a;
}

/*
 * calloc: every zero call lies in the block, and together they cover each
 * requested byte that sits on a page the shadow knows may hold data.
 */
static void
check_zeroing(struct tctx *t, uint64_t off, uint64_t usable, uint64_t req)
{
	struct event *z = t->zero.v;
	size_t i, k = 0, n = t->zero.n;
	uint64_t p, last = (off + req - 1) / t->page;

	for (i = 0; i < n; i++)
		if (z[i].a < off || z[i].len > usable ||
		    z[i].a - off > usable - z[i].len)
			tfail(t, "calloc block [%#" PRIx64 ", +%" PRIu64
				 "): zero [%#" PRIx64 ", +%" PRIu64
				 ") lies outside it", off, usable, z[i].a,
			      z[i].len);
	/* Rule 6's "only": a page never handed out, or released since,
	 * reads as zero already. */
	for (i = 0; i < n; i++)
		for (p = z[i].a / t->page;
		     p < (z[i].a + z[i].len + t->page - 1) / t->page; p++)
			if (!dirty_test(t, p))
				tfail(t, "calloc block [%#" PRIx64 ", +%" PRIu64
					 "): zero [%#" PRIx64 ", +%" PRIu64
					 ") covers page %" PRIu64 ", which "
					 "holds no data", off, usable, z[i].a,
				      z[i].len, p);
	if (n)	/* z is NULL before the first zero call */
		qsort(z, n, sizeof(*z), event_cmp);
	/* Merge touching calls so one need is inside one merged range. */
	for (i = 1; i < n; i++) {
		if (z[i].a <= z[k].a + z[k].len) {
			if (z[i].a + z[i].len > z[k].a + z[k].len)
				z[k].len = z[i].a + z[i].len - z[k].a;
		} else {
			z[++k] = z[i];
		}
	}
	n = n ? k + 1 : 0;
	k = 0;
	for (p = off / t->page; p <= last; p++) {
		uint64_t a = p * t->page, b = a + t->page;

		if (!dirty_test(t, p))
			continue;
		if (a < off)
			a = off;
		if (b > off + req)
			b = off + req;
		while (k < n && z[k].a + z[k].len <= a)
			k++;
		if (k == n || z[k].a > a || z[k].a + z[k].len < b)
			tfail(t, "calloc block [%#" PRIx64 ", +%" PRIu64
				 "): bytes [%#" PRIx64 ", %#" PRIx64
				 ") lie on dirty page %" PRIu64
				 " but were not zeroed (%zu zero calls)", off,
			      req, a, b, p, t->zero.n);
	}
}

/* ------------------------------------------------------------------ */
/* Operations */

static void
do_alloc_common(struct tctx *t, enum op_kind kind, uint64_t req,
		uint64_t align, uint64_t nmemb, uint64_t size)
{
	struct oprec *r;
	uint64_t off = HEAP_OFF_NONE, usable;
	struct heap_stats before, after;
	int ret;

	t->c.attempts++;
	heap_get_stats(t->h, &before);
	if (kind == OP_CALLOC) {
		r = op_start(t, kind, nmemb, size);
		call_begin(t, HEAP_OFF_NONE);
		t->in_calloc = true;
		ret = heap_calloc(t->h, nmemb, size, &off);
	} else {
		r = op_start(t, kind, req, align);
		call_begin(t, HEAP_OFF_NONE);
		ret = heap_alloc(t->h, req, align, &off);
	}
	op_done(r, ret, off);
	call_end(t);

	if (t->copy.n)
		tfail(t, "%s made %zu copy calls", op_name[kind], t->copy.n);
	if (ret == -ENOMEM) {
		t->c.refusals++;
		t->phase_refusals++;
		t->c.refused_band[band_of(t, req)]++;
		if (t->zero.n)
			tfail(t, "refused calloc made %zu zero calls",
			      t->zero.n);
		check_refusal(t, req, align, op_name[kind]);
		heap_get_stats(t->h, &after);
		check_refusal_stats(t, &before, &after, op_name[kind]);
		return;
	}
	if (ret != 0)
		tfail(t, "%s of %" PRIu64 " bytes align %" PRIu64
			 " failed: %d (%s)", op_name[kind], req, align, ret,
		      heap_strerror(ret));
	usable = usable_of(t, off);
	check_new_block(t, off, usable, req, align, HEAP_OFF_NONE);
	check_fresh_size(t, off, usable, req);
	check_no_release_under(t, off, usable, op_name[kind]);
	if (align == 0 && !is_large(t, req))
		check_footprint(t, off, usable, t->top);
	if (kind == OP_CALLOC) {
		t->c.calloc_bytes += req;
		check_zeroing(t, off, usable, req);
	}
	add_block(t, off, usable, req, is_large(t, req));
}

static void
op_alloc(struct tctx *t)
{
	do_alloc_common(t, OP_ALLOC, random_size(t), 0, 0, 0);
}

static void
op_aligned(struct tctx *t)
{
	/* Now and then far beyond the page, up to past the pool's size. */
	unsigned most = rng_below(&t->rng, 4) ? 16 : ilog2(t->cfg.max_size) + 1;
	uint64_t align = 1ull << rng_range(&t->rng, 4, most);

	do_alloc_common(t, OP_ALIGNED, random_size(t), align, 0, 0);
}

static void
op_calloc(struct tctx *t)
{
	uint64_t total = random_size(t);
	uint64_t nmemb = 1ull << rng_below(&t->rng, 6);
	uint64_t size;

	/* Split the request in various shapes: 1 x n, 8 x n/8, n x 1 ... */
	if (rng_below(&t->rng, 8) == 0) {
		nmemb = total;
		size = 1;
	} else {
		size = (total + nmemb - 1) / nmemb;
	}
	do_alloc_common(t, OP_CALLOC, nmemb * size, 0, nmemb, size);
}

/* The new request of a realloc: grow or shrink, sometimes a lot. */
static uint64_t
realloc_size(struct tctx *t, const struct blk *b)
{
	switch (rng_below(&t->rng, 6)) {
	case 0:		/* shrink */
		return rng_range(&t->rng, 1, b->req);
	case 1:		/* small growth, often in place */
		return b->req + rng_range(&t->rng, 1, b->req / 4 + t->g);
	case 2:		/* double */
		return b->req * 2;
	case 3:		/* within the slack of the rounded size */
		return rng_range(&t->rng, 1, b->len);
	default:	/* anything */
		return random_size(t);
	}
}

/*
 * heap_resize's promise, which realloc inherits: shrinking (to a rounded
 * size the block already has) always works in place, except that a small
 * block cannot turn into a page span.
 */
static bool
fits_in_place(const struct tctx *t, const struct blk *b, uint64_t size)
{
	return rounded_size(t, size) <= b->len &&
	       (b->span || !is_large(t, size));
}

/* realloc moved the block: the copy must carry the old contents over
 * before the old pages are released and after the new ones last were. */
static void
check_moved_copy(struct tctx *t, const struct blk *old, uint64_t noff,
		 uint64_t nlen, uint64_t need)
{
	uint64_t first = UINT64_MAX, last = 0, covered = 0;
	size_t i;

	/* Calls in the order made; each continues the previous one. */
	for (i = 0; i < t->copy.n; i++) {
		const struct event *e = &t->copy.v[i];

		if (e->b < old->off || e->b - old->off != e->a - noff ||
		    e->b - old->off + e->len > old->len ||
		    e->a - noff + e->len > nlen)
			tfail(t, "realloc %#" PRIx64 " -> %#" PRIx64
				 ": copy %#" PRIx64 " <- %#" PRIx64
				 " len %" PRIu64 " is outside the blocks",
			      old->off, noff, e->a, e->b, e->len);
		if (e->b - old->off <= covered &&
		    e->b - old->off + e->len > covered)
			covered = e->b - old->off + e->len;
		if (e->seq < first)
			first = e->seq;
		if (e->seq > last)
			last = e->seq;
	}
	if (covered < need)
		tfail(t, "realloc %#" PRIx64 " -> %#" PRIx64 ": copied %" PRIu64
			 " bytes, the old contents are %" PRIu64, old->off,
		      noff, covered, need);
	for (i = 0; i < t->rel.n; i++) {
		const struct event *e = &t->rel.v[i];

		if (ranges_meet(e->a, e->len, old->off, need) && e->seq < last)
			tfail(t, "realloc %#" PRIx64 " -> %#" PRIx64
				 ": release [%#" PRIx64 ", +%#" PRIx64
				 ") of the old data before the copy",
			      old->off, noff, e->a, e->len);
		if (ranges_meet(e->a, e->len, noff, need) && e->seq > first)
			tfail(t, "realloc %#" PRIx64 " -> %#" PRIx64
				 ": release [%#" PRIx64 ", +%#" PRIx64
				 ") of the copied data", old->off, noff, e->a,
			      e->len);
	}
}

static void
realloc_success(struct tctx *t, size_t i, uint64_t size, uint64_t noff)
{
	struct blk old = t->m.v[i];
	uint64_t need = old.req < size ? old.req : size;
	uint64_t nlen = usable_of(t, noff);
	bool span = is_large(t, size);
	size_t k;

	/* A moved block is allocated while the old one is still live. */
	check_new_block(t, noff, nlen, size, 0,
			noff == old.off ? old.off : HEAP_OFF_NONE);
	check_no_release_under(t, noff, nlen, "realloc");
	if (noff == old.off) {
		/* In place: a shrinking span may stay whole pages. */
		if (old.span && !is_large(t, size) &&
		    nlen == round_up(size, t->page))
			span = true;
		else
			check_fresh_size(t, noff, nlen, size);
		for (k = 0; k < t->rel.n; k++)
			if (ranges_meet(t->rel.v[k].a, t->rel.v[k].len, noff,
					need))
				tfail(t, "realloc in place at %#" PRIx64
					 ": release [%#" PRIx64 ", +%#" PRIx64
					 ") of kept data", noff,
				      t->rel.v[k].a, t->rel.v[k].len);
	} else {
		check_fresh_size(t, noff, nlen, size);
		if (fits_in_place(t, &old, size))
			tfail(t, "realloc of [%#" PRIx64 ", +%" PRIu64
				 ") to %" PRIu64 " moved to %#" PRIx64
				 " although it fits in place", old.off,
			      old.len, size, noff);
		check_moved_copy(t, &old, noff, nlen, need);
		t->c.realloc_moves++;
		remember_freed(t, old.off);
	}
	model_remove(&t->m, i);
	t->c.allocs--;	/* add_block counts it; a realloc is not an alloc */
	add_block(t, noff, nlen, size, span);
}

static void
op_realloc(struct tctx *t)
{
	size_t i = rng_below(&t->rng, t->m.n);
	struct blk old = t->m.v[i];
	uint64_t size = realloc_size(t, &old), noff = HEAP_OFF_NONE;
	bool to_zero = rng_below(&t->rng, 50) == 0;
	struct heap_stats before, after;
	struct oprec *r;
	int ret;

	if (to_zero)
		size = 0;
	t->c.reallocs++;
	heap_get_stats(t->h, &before);
	r = op_start(t, OP_REALLOC, old.off, size);
	call_begin(t, old.off);
	t->in_realloc = true;
	ret = heap_realloc(t->h, old.off, size, &noff);
	op_done(r, ret, noff);
	call_end(t);

	if (t->zero.n)
		tfail(t, "realloc made %zu zero calls", t->zero.n);
	if (size == 0) {
		/* realloc to 0 is a free. */
		if (ret != 0 || noff != HEAP_OFF_NONE)
			tfail(t, "realloc(%#" PRIx64 ", 0) returned %d out %#"
				 PRIx64, old.off, ret, noff);
		model_remove(&t->m, i);
		remember_freed(t, old.off);
		t->c.frees++;
		return;
	}
	if (ret == -ENOMEM) {
		uint64_t u = usable_of(t, old.off);

		t->c.realloc_refusals++;
		t->phase_refusals++;
		if (t->copy.n)
			tfail(t, "refused realloc made %zu copy calls",
			      t->copy.n);
		if (u != old.len)
			tfail(t, "refused realloc changed the usable size of "
				 "%#" PRIx64 ": %" PRIu64 " -> %" PRIu64,
			      old.off, old.len, u);
		if (fits_in_place(t, &old, size))
			tfail(t, "realloc of [%#" PRIx64 ", +%" PRIu64
				 ") shrinking to %" PRIu64 " refused",
			      old.off, old.len, size);
		for (size_t k = 0; k < t->rel.n; k++)
			if (ranges_meet(t->rel.v[k].a, t->rel.v[k].len,
					old.off, old.len))
				tfail(t, "refused realloc released [%#" PRIx64
					 ", +%#" PRIx64 ") of its live block",
				      t->rel.v[k].a, t->rel.v[k].len);
		/* Rule 7: growing in place comes first, over cached blocks
		 * too before a refusal. */
		if (grows_in_place(t, i, size))
			tfail(t, "realloc of [%#" PRIx64 ", +%" PRIu64 ") to %"
				 PRIu64 " refused, but the gap after it holds "
				 "it in place", old.off, old.len, size);
		/* The engine would have had to move it: rule 4 applies. */
		check_refusal(t, size, 0, "realloc");
		heap_get_stats(t->h, &after);
		check_refusal_stats(t, &before, &after, "realloc");
		return;
	}
	if (ret != 0)
		tfail(t, "realloc(%#" PRIx64 ", %" PRIu64 ") failed: %d (%s)",
		      old.off, size, ret, heap_strerror(ret));
	/* With nothing cached the gap after the block is one run, which a
	 * realloc grows into before it thinks of moving. */
	if (noff != old.off && before.cached_bytes == 0 &&
	    grows_in_place(t, i, size))
		tfail(t, "realloc of [%#" PRIx64 ", +%" PRIu64 ") to %" PRIu64
			 " moved to %#" PRIx64 ", but the run after it holds "
			 "it in place", old.off, old.len, size, noff);
	realloc_success(t, i, size, noff);
}

static void
op_free(struct tctx *t)
{
	size_t i = rng_below(&t->rng, t->m.n);
	uint64_t off = t->m.v[i].off;
	struct oprec *r = op_start(t, OP_FREE, off, 0);
	int ret;

	call_begin(t, off);
	ret = heap_free(t->h, off);
	op_done(r, ret, HEAP_OFF_NONE);
	call_end(t);
	if (ret != 0)
		tfail(t, "free of live block [%#" PRIx64 ", +%" PRIu64
			 ") failed: %d", off, t->m.v[i].len, ret);
	if (t->zero.n || t->copy.n)
		tfail(t, "free made zero or copy calls");
	model_remove(&t->m, i);
	remember_freed(t, off);
	t->c.frees++;
}

/* An offset that is not the start of a live block, of several kinds. */
static uint64_t
invalid_offset(struct tctx *t)
{
	for (;;) {
		uint64_t off;

		switch (rng_below(&t->rng, 5)) {
		case 0:	/* inside a live block */
			if (t->m.n) {
				const struct blk *b =
					&t->m.v[rng_below(&t->rng, t->m.n)];

				off = b->off + rng_range(&t->rng, 1,
							 b->len - 1);
				break;
			}
			continue;
		case 1:	/* a block freed earlier (maybe in a cache) */
			if (t->freed_count) {
				off = t->freed[rng_below(&t->rng,
							 t->freed_count)];
				break;
			}
			continue;
		case 2:	/* the start of a free gap: an extent, not live */
			if (t->m.n) {
				const struct blk *b =
					&t->m.v[rng_below(&t->rng, t->m.n)];

				off = b->off + b->len;
				break;
			}
			continue;
		case 3:	/* anywhere in or past the pool, granule-aligned */
			off = rng_below(&t->rng, t->cfg.max_size * 2) &
			      ~(t->g - 1);
			break;
		default: /* anything at all */
			off = rng_next(&t->rng);
			break;
		}
		if (off != HEAP_OFF_NONE && model_find(&t->m, off) < 0)
			return off;
	}
}

#define STAT_SAME(f)                                                        \
	do {                                                                \
		if (a->f != b->f)                                           \
			tfail(t, "%s changed stats." #f ": %" PRIu64      \
				 " -> %" PRIu64, what, a->f, b->f);         \
	} while (0)

/* A refused call changes nothing; invalid frees are counted, though. */
static void
expect_stats_unchanged(struct tctx *t, const struct heap_stats *a,
		       const struct heap_stats *b, uint64_t invalid_delta,
		       const char *what)
{
	STAT_SAME(max_size);
	STAT_SAME(allocated_bytes);
	STAT_SAME(requested_bytes);
	STAT_SAME(live_blocks);
	STAT_SAME(cached_bytes);
	STAT_SAME(cached_blocks);
	STAT_SAME(free_bytes);
	STAT_SAME(free_runs);
	STAT_SAME(largest_free);
	STAT_SAME(resident_bytes);
	STAT_SAME(released_bytes);
	STAT_SAME(metadata_bytes);
	STAT_SAME(allocs);
	STAT_SAME(frees);
	STAT_SAME(failed_allocs);
	STAT_SAME(cache_hits);
	STAT_SAME(spans);
	if (b->invalid_frees != a->invalid_frees + invalid_delta)
		tfail(t, "%s: stats.invalid_frees %" PRIu64 " -> %" PRIu64
			 ", expected +%" PRIu64, what, a->invalid_frees,
		      b->invalid_frees, invalid_delta);
}

static void
op_badfree(struct tctx *t)
{
	uint64_t off = invalid_offset(t);
	struct heap_stats before, after;
	struct oprec *r = op_start(t, OP_BADFREE, off, 0);
	int ret;

	heap_get_stats(t->h, &before);
	call_begin(t, HEAP_OFF_NONE);
	ret = heap_free(t->h, off);
	op_done(r, ret, HEAP_OFF_NONE);
	call_end(t);
	heap_get_stats(t->h, &after);
	if (ret != -EINVAL)
		tfail(t, "free of %#" PRIx64 " (not a live block start) "
			 "returned %d, expected -EINVAL", off, ret);
	expect_no_callbacks(t, "invalid free");
	expect_stats_unchanged(t, &before, &after, 1, "invalid free");
	t->c.invalid_frees++;
}

static void
op_usable(struct tctx *t)
{
	const struct blk *b = &t->m.v[rng_below(&t->rng, t->m.n)];
	struct oprec *r = op_start(t, OP_USABLE, b->off, 0);
	uint64_t u = 0;
	int ret = heap_usable_size(t->h, b->off, &u);

	op_done(r, ret, u);
	if (ret != 0 || u != b->len)
		tfail(t, "usable size of [%#" PRIx64 ", +%" PRIu64
			 "): ret %d size %" PRIu64, b->off, b->len, ret, u);
}

static void
op_badusable(struct tctx *t)
{
	uint64_t off = invalid_offset(t), u = 0;
	struct heap_stats before, after;
	struct oprec *r = op_start(t, OP_BADUSABLE, off, 0);
	int ret;

	heap_get_stats(t->h, &before);
	call_begin(t, HEAP_OFF_NONE);
	ret = heap_usable_size(t->h, off, &u);
	op_done(r, ret, u);
	call_end(t);
	heap_get_stats(t->h, &after);
	if (ret != -EINVAL)
		tfail(t, "usable size of %#" PRIx64 " (not a live block "
			 "start) returned %d (size %" PRIu64
			 "), expected -EINVAL", off, ret, u);
	expect_no_callbacks(t, "invalid usable size");
	expect_stats_unchanged(t, &before, &after, 0, "invalid usable size");
	t->c.invalid_usable++;
}

/* Arguments every call must refuse without touching anything. */
static void
op_badargs(struct tctx *t)
{
	uint64_t a = 0, b = 0, off = HEAP_OFF_NONE;
	struct heap_stats before, after;
	struct oprec *r;
	int ret, want;
	unsigned kind = (unsigned)rng_below(&t->rng, 6);

	heap_get_stats(t->h, &before);
	call_begin(t, HEAP_OFF_NONE);
	switch (kind) {
	case 0:	/* size 0 */
		r = op_start(t, OP_BADARGS, 0, 0);
		ret = heap_alloc(t->h, 0, 0, &off);
		want = -EINVAL;
		break;
	case 1:	/* alignment not a power of two */
		a = random_size(t);
		b = (rng_range(&t->rng, 1, 1000) * 2 + 1)
		    << rng_below(&t->rng, 12);
		r = op_start(t, OP_BADARGS, a, b);
		ret = heap_alloc(t->h, a, b, &off);
		want = -EINVAL;
		break;
	case 2:	/* more than the pool */
		a = t->cfg.max_size + rng_range(&t->rng, 1, t->cfg.max_size);
		r = op_start(t, OP_BADARGS, a, 0);
		ret = heap_alloc(t->h, a, 0, &off);
		want = -EFBIG;
		break;
	case 3:	/* a size whose rounding overflows */
		a = UINT64_MAX - rng_below(&t->rng, 2 * t->page);
		r = op_start(t, OP_BADARGS, a, 0);
		ret = heap_alloc(t->h, a, 0, &off);
		want = -EFBIG;
		break;
	case 4:	/* nmemb * size overflows */
		a = (1ull << 32) + rng_below(&t->rng, 1000);
		b = (1ull << 32) + rng_below(&t->rng, 1000);
		r = op_start(t, OP_BADARGS, a, b);
		t->in_calloc = true;
		ret = heap_calloc(t->h, a, b, &off);
		want = -EOVERFLOW;
		break;
	default: /* calloc of nothing */
		a = rng_below(&t->rng, 2) ? 0 : rng_range(&t->rng, 1, 100);
		b = a ? 0 : rng_range(&t->rng, 1, 100);
		r = op_start(t, OP_BADARGS, a, b);
		t->in_calloc = true;
		ret = heap_calloc(t->h, a, b, &off);
		want = -EINVAL;
		break;
	}
	op_done(r, ret, off);
	call_end(t);
	heap_get_stats(t->h, &after);
	if (ret != want)
		tfail(t, "bad arguments (case %u: %#" PRIx64 ", %#" PRIx64
			 ") returned %d, expected %d", kind, a, b, ret, want);
	expect_no_callbacks(t, "refused call");
	expect_stats_unchanged(t, &before, &after, 0, "refused call");
	t->c.bad_args++;
}

static void
op_freenone(struct tctx *t)
{
	struct heap_stats before, after;
	struct oprec *r = op_start(t, OP_FREENONE, HEAP_OFF_NONE, 0);
	int ret;

	heap_get_stats(t->h, &before);
	call_begin(t, HEAP_OFF_NONE);
	ret = heap_free(t->h, HEAP_OFF_NONE);
	op_done(r, ret, HEAP_OFF_NONE);
	call_end(t);
	heap_get_stats(t->h, &after);
	if (ret != 0)
		tfail(t, "heap_free(HEAP_OFF_NONE) returned %d", ret);
	expect_no_callbacks(t, "free of HEAP_OFF_NONE");
	expect_stats_unchanged(t, &before, &after, 0, "free of HEAP_OFF_NONE");
}

/*
 * heap_split of a live block: mostly somewhere inside it, sometimes where
 * nothing is left for a tail (0, its length, a keep that rounds up to it).
 * The pieces are exactly those heap.h defines, nothing is called back, and
 * only the counts of blocks and spans move; the model takes the tail with
 * the part of the request that lay in it.
 */
static void
op_split(struct tctx *t)
{
	size_t i = rng_below(&t->rng, t->m.n);
	struct blk old = t->m.v[i], tail;
	uint64_t unit = old.span ? t->page : t->g, keep, nl = 0;
	uint64_t toff = 1, tlen = 1;
	struct heap_stats before, after;
	struct oprec *r;
	int ret, want = -EINVAL;

	switch (rng_below(&t->rng, 8)) {
	case 0:
		keep = 0;
		break;
	case 1:
		keep = old.len - rng_below(&t->rng, unit);
		break;
	case 2:
		keep = old.len + rng_below(&t->rng, 2 * unit);
		break;
	default:
		keep = rng_range(&t->rng, 1, old.len);
		break;
	}
	if (keep && keep < old.len) {
		nl = round_up(keep, unit);
		if (nl < old.len)
			want = 0;
	}
	heap_get_stats(t->h, &before);
	r = op_start(t, OP_SPLIT, old.off, keep);
	call_begin(t, HEAP_OFF_NONE);
	ret = heap_split(t->h, old.off, keep, &toff, &tlen);
	op_done(r, ret, toff);
	call_end(t);
	heap_get_stats(t->h, &after);
	expect_no_callbacks(t, "split");
	if (ret != want)
		tfail(t, "split of [%#" PRIx64 ", +%" PRIu64 ") at %" PRIu64
			 " returned %d, expected %d", old.off, old.len, keep,
		      ret, want);
	if (ret) {
		expect_stats_unchanged(t, &before, &after, 0, "refused split");
		return;
	}
	if (toff != old.off + nl || tlen != old.len - nl)
		tfail(t, "split of [%#" PRIx64 ", +%" PRIu64 ") at %" PRIu64
			 ": tail [%#" PRIx64 ", +%" PRIu64 "), expected [%#"
			 PRIx64 ", +%" PRIu64 ")", old.off, old.len, keep, toff,
		      tlen, old.off + nl, old.len - nl);
	if (after.live_blocks != before.live_blocks + 1 ||
	    after.spans != before.spans + old.span ||
	    after.allocated_bytes != before.allocated_bytes ||
	    after.free_bytes != before.free_bytes ||
	    after.free_runs != before.free_runs ||
	    after.cached_bytes != before.cached_bytes ||
	    after.resident_bytes != before.resident_bytes ||
	    after.released_bytes != before.released_bytes ||
	    after.allocs != before.allocs + 1 || after.frees != before.frees)
		tfail(t, "split of [%#" PRIx64 ", +%" PRIu64 ") at %" PRIu64
			 " changed more than the counts of blocks", old.off,
		      old.len, keep);
	model_remove(&t->m, i);
	old.len = nl;
	tail = (struct blk){.off = toff, .len = tlen, .req = old.req - nl,
			    .span = old.span};
	old.req = keep;
	model_insert(&t->m, &old);
	model_insert(&t->m, &tail);
	t->c.splits++;
	if (usable_of(t, old.off) != nl || usable_of(t, toff) != tlen)
		tfail(t, "split pieces of %#" PRIx64 ": usable sizes %" PRIu64
			 " and %" PRIu64, old.off, usable_of(t, old.off),
		      usable_of(t, toff));
}

/*
 * heap_resize: the block stays where it is or the call is refused with
 * -EAGAIN.  It grows exactly when the gap after it holds the growth
 * (cached blocks there are merged: the owner cannot move the block) and
 * shrinks always, but a small block never becomes a span; its only
 * callbacks are releases of pages the shrink left free, none of them
 * under the kept bytes.  A refusal changes nothing.
 */
static void
op_resize(struct tctx *t)
{
	size_t i = rng_below(&t->rng, t->m.n);
	struct blk old = t->m.v[i];
	uint64_t size = realloc_size(t, &old), nlen, unit;
	struct heap_stats before, after;
	struct oprec *r;
	int ret, want;

	unit = old.span ? t->page : t->g;
	want = size > t->cfg.max_size	 ? -EFBIG
	       : grows_in_place(t, i, size) ? 0
					    : -EAGAIN;
	heap_get_stats(t->h, &before);
	r = op_start(t, OP_RESIZE, old.off, size);
	call_begin(t, old.off);
	ret = heap_resize(t->h, old.off, size);
	op_done(r, ret, old.off);
	call_end(t);
	heap_get_stats(t->h, &after);
	t->c.resizes++;
	if (t->zero.n || t->copy.n)
		tfail(t, "resize made zero or copy calls");
	if (ret != want)
		tfail(t, "resize of [%#" PRIx64 ", +%" PRIu64 ") (%s) to %"
			 PRIu64 " returned %d, expected %d", old.off, old.len,
		      old.span ? "span" : "small", size, ret, want);
	if (ret) {
		t->c.resizes_refused++;
		expect_no_callbacks(t, "refused resize");
		expect_stats_unchanged(t, &before, &after, 0, "refused resize");
		return;
	}
	nlen = usable_of(t, old.off);
	if (nlen != round_up(size, unit))
		tfail(t, "resize of [%#" PRIx64 ", +%" PRIu64 ") to %" PRIu64
			 ": usable size %" PRIu64, old.off, old.len, size,
		      nlen);
	check_no_release_under(t, old.off, nlen, "resize");
	if (after.live_blocks != before.live_blocks ||
	    after.allocs != before.allocs || after.frees != before.frees ||
	    after.spans != before.spans ||
	    after.allocated_bytes != before.allocated_bytes + nlen - old.len)
		tfail(t, "resize of [%#" PRIx64 ", +%" PRIu64 ") to %" PRIu64
			 " bytes changed more than its size", old.off, old.len,
		      nlen);
	model_remove(&t->m, i);
	t->c.allocs--;	/* add_block counts it; a resize is not an alloc */
	add_block(t, old.off, nlen, size, old.span);
}

/*
 * One step of heap_retain_step: at most its pages, rounded up, and one
 * queued range (a small block's pages and the two it shares) released,
 * no live byte touched (cb_release), nothing else called back, and its
 * answer the statistics' answer.
 */
static void
op_retain_step(struct tctx *t)
{
	uint64_t max = rng_range(&t->rng, 1, 64 * t->page), released = 0;
	uint64_t most = round_up(max, t->page) + round_up(t->threshold,
							  t->page) +
			2 * t->page;
	struct oprec *r = op_start(t, OP_RETAIN, max, 0);
	struct heap_stats before, after;
	size_t i;
	int ret;

	heap_get_stats(t->h, &before);
	call_begin(t, HEAP_OFF_NONE);
	ret = heap_retain_step(t->h, max);
	op_done(r, ret, 0);
	call_end(t);
	heap_get_stats(t->h, &after);
	for (i = 0; i < t->rel.n; i++)
		released += t->rel.v[i].len;
	if (t->zero.n || t->copy.n)
		tfail(t, "heap_retain_step made zero or copy calls");
	if ((ret != 0 && ret != 1) ||
	    (ret == 1) != (after.retain_excess_bytes != 0))
		tfail(t, "heap_retain_step returned %d with %" PRIu64
			 " bytes kept over the bound", ret,
		      after.retain_excess_bytes);
	if (released > most)
		tfail(t, "heap_retain_step(%" PRIu64 ") released %" PRIu64
			 " bytes", max, released);
	if (after.live_blocks != before.live_blocks ||
	    after.allocated_bytes != before.allocated_bytes ||
	    after.free_bytes != before.free_bytes)
		tfail(t, "heap_retain_step changed the blocks");
	t->c.retain_steps++;
	t->c.retain_step_bytes += released;
}

/* ------------------------------------------------------------------ */
/* Whole-heap checks */

static void
run_heap_check(struct tctx *t)
{
	char msg[512] = "";
	int ret = heap_check(t->h, msg, sizeof(msg));

	t->c.checks++;
	if (ret != 0)
		tfail(t, "heap_check returned %d: %s", ret, msg);
}

/* The shadow's dirty pages wholly inside gaps between live blocks. */
static uint64_t
model_free_dirty(const struct tctx *t)
{
	uint64_t prev = 0, p, n = 0;
	size_t i;

	for (i = 0; i <= t->m.n; i++) {
		uint64_t end = i < t->m.n ? t->m.v[i].off : t->cfg.max_size;

		for (p = (prev + t->page - 1) / t->page; p < end / t->page; p++)
			n += dirty_test(t, p);
		if (i < t->m.n)
			prev = t->m.v[i].off + t->m.v[i].len;
	}
	return n;
}

/*
 * The pages the statistics say hold data: resident_bytes is the shadow's
 * dirty pages exactly; free_resident_bytes those of them wholly free (in
 * runs: cached blocks are not, so with any cached it may be fewer); and
 * these stay within the retention bound, the larger of retain_pages and a
 * quarter of the live pages, but for what retain_excess_bytes owns up to
 * (rule 5: small bounded retention).
 */
static void
check_resident(struct tctx *t, const struct heap_stats *s)
{
	uint64_t free_dirty = model_free_dirty(t) * t->page;
	uint64_t share = s->allocated_bytes / t->page / 4 * t->page, bound;

	if (s->resident_bytes != dirty_count(t) * t->page)
		tfail(t, "stats.resident_bytes %" PRIu64 ", the shadow has %"
			 PRIu64 " dirty pages", s->resident_bytes,
		      dirty_count(t));
	if (s->free_resident_bytes > free_dirty ||
	    (s->cached_blocks == 0 && s->free_resident_bytes != free_dirty))
		tfail(t, "stats.free_resident_bytes %" PRIu64 ", the shadow "
			 "has %" PRIu64 " dirty bytes in gaps (%" PRIu64
			 " cached blocks)", s->free_resident_bytes, free_dirty,
		      s->cached_blocks);
	bound = s->retain_bytes == 0	   ? 0
		: share > s->retain_bytes ? share
					  : s->retain_bytes;
	if (s->free_resident_bytes > bound + s->retain_excess_bytes)
		tfail(t, "%" PRIu64 " free bytes kept dirty, over the bound "
			 "of %" PRIu64 " by more than the %" PRIu64 " reported",
		      s->free_resident_bytes, bound, s->retain_excess_bytes);
}

/* The statistics against the model. */
static void
check_stats(struct tctx *t)
{
	struct heap_stats s;
	struct gap_summary gs;

	heap_get_stats(t->h, &s);
	model_gaps(&t->m, t->cfg.max_size, &gs);
	if (s.max_size != t->cfg.max_size || s.page_size != t->page ||
	    s.granularity != t->g)
		tfail(t, "stats geometry %" PRIu64 "/%" PRIu64 "/%" PRIu64,
		      s.max_size, s.page_size, s.granularity);
	if (s.live_blocks != t->m.n || s.allocated_bytes != t->m.sum_len ||
	    s.spans != t->m.spans)
		tfail(t, "stats: %" PRIu64 " live blocks, %" PRIu64
			 " bytes, %" PRIu64 " spans; model: %zu, %" PRIu64
			 ", %" PRIu64, s.live_blocks, s.allocated_bytes,
		      s.spans, t->m.n, t->m.sum_len, t->m.spans);
	/* The engine may keep the slack of tiny blocks rounded: bounds only. */
	if (s.requested_bytes < t->m.sum_req ||
	    s.requested_bytes > t->m.sum_len)
		tfail(t, "stats.requested_bytes %" PRIu64
			 " outside [%" PRIu64 ", %" PRIu64 "]",
		      s.requested_bytes, t->m.sum_req, t->m.sum_len);
	if (s.allocated_bytes + s.cached_bytes + s.free_bytes != s.max_size)
		tfail(t, "stats: allocated %" PRIu64 " + cached %" PRIu64
			 " + free %" PRIu64 " != pool %" PRIu64,
		      s.allocated_bytes, s.cached_bytes, s.free_bytes,
		      s.max_size);
	if (s.largest_free > s.free_bytes || s.largest_free > gs.largest)
		tfail(t, "stats.largest_free %" PRIu64 " but free %" PRIu64
			 ", largest gap %" PRIu64, s.largest_free,
		      s.free_bytes, gs.largest);
	if (s.invalid_frees != t->c.invalid_frees)
		tfail(t, "stats.invalid_frees %" PRIu64 ", made %" PRIu64,
		      s.invalid_frees, t->c.invalid_frees);
	if (s.released_bytes != t->c.released_bytes)
		tfail(t, "stats.released_bytes %" PRIu64 ", release() saw %"
			 PRIu64, s.released_bytes, t->c.released_bytes);
	/* With nothing cached, runs are exactly the model's gaps. */
	if (s.cached_blocks == 0 &&
	    (s.free_bytes != gs.bytes || s.free_runs != gs.count ||
	     s.largest_free != gs.largest))
		tfail(t, "no cache, yet stats free %" PRIu64 " in %" PRIu64
			 " runs, largest %" PRIu64 "; gaps: %" PRIu64
			 " in %" PRIu64 ", largest %" PRIu64, s.free_bytes,
		      s.free_runs, s.largest_free, gs.bytes, gs.count,
		      gs.largest);
	if (s.cached_blocks == 0 && s.cached_bytes != 0)
		tfail(t, "stats: 0 cached blocks but %" PRIu64 " bytes",
		      s.cached_bytes);
	check_resident(t, &s);
}

static void
op_trim(struct tctx *t)
{
	struct oprec *r = op_start(t, OP_TRIM, 0, 0);
	struct heap_stats s;
	uint64_t released = 0;
	int64_t ret;
	size_t i;

	call_begin(t, HEAP_OFF_NONE);
	ret = heap_trim(t->h);
	op_done(r, (int)(ret < 0 ? ret : 0), (uint64_t)ret);
	call_end(t);
	for (i = 0; i < t->rel.n; i++)
		released += t->rel.v[i].len;
	if (ret < 0 || (uint64_t)ret != released)
		tfail(t, "heap_trim returned %" PRId64 ", release() saw %"
			 PRIu64 " bytes", ret, released);
	if (t->zero.n || t->copy.n)
		tfail(t, "heap_trim made zero or copy calls");
	t->c.trims++;
	if (!t->m.n)
		t->top = 0;
	else if (t->top > t->m.v[t->m.n - 1].off + t->m.v[t->m.n - 1].len)
		t->top = t->m.v[t->m.n - 1].off + t->m.v[t->m.n - 1].len;
	/* A trim flushes the caches: check_stats compares runs exactly. */
	heap_get_stats(t->h, &s);
	if (s.cached_blocks != 0)
		tfail(t, "heap_trim left %" PRIu64 " blocks in the caches",
		      s.cached_blocks);
	check_stats(t);
}

/* ------------------------------------------------------------------ */
/* Driver */

static void
start_fill(struct tctx *t)
{
	t->draining = false;
	t->phase_refusals = 0;
	t->phase_goal = rng_range(&t->rng, 20, 400);
	t->no_large = rng_below(&t->rng, 10) < 3;
	t->c.phases++;
}

/* Switch phases: fill until refusals pile up, drain to 20..80% full. */
static void
update_phase(struct tctx *t)
{
	if (!t->draining) {
		if (t->phase_refusals >= t->phase_goal || t->m.n >= LIVE_CAP) {
			t->draining = true;
			t->drain_to = t->cfg.max_size / 100 *
				      rng_range(&t->rng, 20, 80);
		}
	} else if (t->m.sum_len <= t->drain_to) {
		start_fill(t);
	}
}

static enum op_kind
pick_op(struct tctx *t)
{
	const unsigned *w = op_weight[t->draining];
	uint64_t x = rng_below(&t->rng, 1000);
	enum op_kind k;

	for (k = 0; k < OP_FINAL_FREE; k++) {
		if (x < w[k])
			break;
		x -= w[k];
	}
	/* Operations on live blocks need one; allocate instead. */
	if (t->m.n == 0 && (k == OP_REALLOC || k == OP_FREE ||
			    k == OP_USABLE || k == OP_SPLIT || k == OP_RESIZE))
		k = OP_ALLOC;
	return k;
}

/*
 * The calls that take memory: a realloc or a resize may also shrink a
 * block, which lowers the bound by a quarter of its pages, more than a cut
 * may give back; the check below looks at those that took.
 */
static bool
op_takes(enum op_kind k)
{
	return k == OP_ALLOC || k == OP_ALIGNED || k == OP_CALLOC ||
	       k == OP_REALLOC || k == OP_RESIZE;
}

static void
run_op_kind(struct tctx *t, enum op_kind k)
{
	switch (k) {
	case OP_ALLOC:
		op_alloc(t);
		break;
	case OP_ALIGNED:
		op_aligned(t);
		break;
	case OP_CALLOC:
		op_calloc(t);
		break;
	case OP_REALLOC:
		op_realloc(t);
		break;
	case OP_FREE:
		op_free(t);
		break;
	case OP_BADFREE:
		op_badfree(t);
		break;
	case OP_USABLE:
		op_usable(t);
		break;
	case OP_BADUSABLE:
		op_badusable(t);
		break;
	case OP_BADARGS:
		op_badargs(t);
		break;
	case OP_TRIM:
		op_trim(t);
		break;
	case OP_SPLIT:
		op_split(t);
		break;
	case OP_RETAIN:
		op_retain_step(t);
		break;
	case OP_RESIZE:
		op_resize(t);
		break;
	default:
		op_freenone(t);
		break;
	}
}

/*
 * A realloc that moved its block freed the old one, into its cache maybe,
 * which lowers the bound with no cut, as any free into a cache does.
 */
static bool
op_moved(const struct tctx *t, enum op_kind k)
{
	const struct oprec *r = &t->ring[t->ring_head];

	return k == OP_REALLOC && r->ret == 0 && r->a != HEAP_OFF_NONE &&
	       r->out != r->a;
}

/*
 * One operation.  One that takes memory and frees none, leaving no fewer
 * bytes live, leaves a pool within its retention bound within it: the
 * pages a merge of the caches freed on its way are its own to give back,
 * and go once the block's pages are marked (heap.c's rules).
 */
static void
run_op(struct tctx *t, enum op_kind k)
{
	struct heap_stats a, b;

	if (!op_takes(k)) {
		run_op_kind(t, k);
		return;
	}
	heap_get_stats(t->h, &a);
	run_op_kind(t, k);
	heap_get_stats(t->h, &b);
	if (a.retain_excess_bytes == 0 && b.retain_excess_bytes != 0 &&
	    b.allocated_bytes >= a.allocated_bytes && !op_moved(t, k))
		tfail(t, "the pool was within its retention bound and keeps "
			 "%" PRIu64 " bytes over it after the call",
		      b.retain_excess_bytes);
}

/* Free everything, trim, and expect an empty, fully released pool. */
static void
drain(struct tctx *t)
{
	struct heap_stats s;

	while (t->m.n) {
		size_t i = rng_below(&t->rng, t->m.n);
		uint64_t off = t->m.v[i].off;
		struct oprec *r = op_start(t, OP_FINAL_FREE, off, 0);
		int ret;

		call_begin(t, off);
		ret = heap_free(t->h, off);
		op_done(r, ret, HEAP_OFF_NONE);
		call_end(t);
		if (ret != 0)
			tfail(t, "final free of %#" PRIx64 ": %d", off, ret);
		model_remove(&t->m, i);
		t->op++;
	}
	run_heap_check(t);
	op_trim(t);
	run_heap_check(t);
	heap_get_stats(t->h, &s);
	if (s.live_blocks != 0 || s.allocated_bytes != 0 ||
	    s.requested_bytes != 0)
		tfail(t, "empty heap: %" PRIu64 " live blocks, %" PRIu64
			 " bytes, %" PRIu64 " requested", s.live_blocks,
		      s.allocated_bytes, s.requested_bytes);
	if (s.free_bytes + s.cached_bytes != s.max_size ||
	    s.largest_free != s.max_size || s.cached_blocks != 0)
		tfail(t, "empty heap after trim: free %" PRIu64 " + cached %"
			 PRIu64 " (%" PRIu64 " blocks), largest %" PRIu64
			 ", pool %" PRIu64, s.free_bytes, s.cached_bytes,
		      s.cached_blocks, s.largest_free, s.max_size);
	/* Trim releases every dirty free page, and now every page is free. */
	if (dirty_count(t) != 0 || s.resident_bytes != 0)
		tfail(t, "after trim: %" PRIu64 " pages never released, "
			 "resident estimate %" PRIu64, dirty_count(t),
		      s.resident_bytes);
}

static void
print_summary(const struct tctx *t, double secs)
{
	const struct counters *c = &t->c;

	printf("[%s] %" PRIu64 " ops in %.2f s: %" PRIu64 " allocs, %" PRIu64
	       " of %" PRIu64 " refused (%.1f%%; small/mid/large %" PRIu64
	       "/%" PRIu64 "/%" PRIu64 "), %" PRIu64 " refusals checked, %"
	       PRIu64 " invalid frees\n",
	       t->p->name, g_ops, secs, c->allocs, c->refusals, c->attempts,
	       c->attempts ? 100.0 * (double)c->refusals / (double)c->attempts
			   : 0.0,
	       c->refused_band[BAND_SMALL], c->refused_band[BAND_MID],
	       c->refused_band[BAND_LARGE], c->refusals_checked,
	       c->invalid_frees);
	printf("[%s] %" PRIu64 " reallocs (%" PRIu64 " moved, %" PRIu64
	       " refused), %" PRIu64 " frees, %" PRIu64 " invalid usable, %"
	       PRIu64 " bad args; %" PRIu64 " fill phases, mean %" PRIu64
	       "%% full\n",
	       t->p->name, c->reallocs, c->realloc_moves, c->realloc_refusals,
	       c->frees, c->invalid_usable, c->bad_args, c->phases,
	       c->occupancy_samples ? c->occupancy_sum / c->occupancy_samples
				    : 0);
	printf("[%s] peak %" PRIu64 " live blocks; %" PRIu64
	       " releases (%" PRIu64 " MiB); calloc %" PRIu64 " MiB, zeroed %"
	       PRIu64 " MiB in %" PRIu64 " calls; %" PRIu64
	       " heap_checks, %" PRIu64 " trims; %" PRIu64
	       " raises of the high-water mark checked\n",
	       t->p->name, c->max_live, c->releases, c->released_bytes >> 20,
	       c->calloc_bytes >> 20, c->zero_bytes >> 20, c->zero_calls,
	       c->checks, c->trims, c->top_raises_checked);
	printf("[%s] %" PRIu64 " splits; %" PRIu64 " retention steps "
	       "released %" PRIu64 " KiB; %" PRIu64 " resizes (%" PRIu64
	       " refused)\n", t->p->name, c->splits, c->retain_steps,
	       c->retain_step_bytes >> 10, c->resizes, c->resizes_refused);
	fflush(stdout);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Each case gets its own stream from the one printed seed. */
static uint64_t
case_seed(const struct case_params *p)
{
	uint64_t x = g_seed;
	const char *s;

	for (s = p->name; *s; s++)
		x = (x ^ (uint8_t)*s) * 0x100000001B3ull;
	return x;
}

static void
run_case(struct tctx *t)
{
	double start = now_seconds();
	uint64_t i;

	start_fill(t);
	for (i = 0; i < g_ops; i++) {
		t->op = i;
		run_op(t, pick_op(t));
		update_phase(t);
		if ((i + 1) % CHECK_EVERY == 0) {
			run_heap_check(t);
			check_stats(t);
			t->c.occupancy_sum += t->m.sum_len * 100 / t->cfg.max_size;
			t->c.occupancy_samples++;
		}
	}
	t->op = i;
	drain(t);
	print_summary(t, now_seconds() - start);
}

static int
setup_case(void **state, const struct case_params *p)
{
	struct tctx *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -1;
	t->p = p;
	t->page = p->page_size;
	t->g = p->granularity;
	t->threshold = p->large_threshold;
	t->exempt = HEAP_OFF_NONE;
	t->npages = p->max_size / p->page_size;
	t->dirty = calloc((t->npages + 63) / 64, sizeof(uint64_t));
	rng_seed(&t->rng, case_seed(p));
	t->cfg = (struct heap_config){
		.max_size = p->max_size,
		.granularity = p->granularity,
		.page_size = p->page_size,
		.large_threshold = p->large_threshold,
		.retain_pages = p->retain_pages,
		.cache_blocks = p->cache_blocks,
		.retain_cut = p->retain_cut,
		.release = cb_release,
		.zero = cb_zero,
		.copy = cb_copy,
		.ctx = t,
	};
	*state = t;
	g_cur = t;
	if (!t->dirty)
		return -1;
	ret = heap_create(&t->cfg, &t->h);
	if (ret != 0) {
		fprintf(stderr, "[%s] heap_create: %d\n", p->name, ret);
		return -1;
	}
	return 0;
}

static int
teardown_case(void **state)
{
	struct tctx *t = *state;

	if (!t)
		return 0;
	g_cur = NULL;
	heap_destroy(t->h);
	free(t->m.v);
	free(t->rel.v);
	free(t->zero.v);
	free(t->copy.v);
	free(t->dirty);
	free(t);
	return 0;
}

/*
 * Granularity 16, default threshold, default retention and caches.  64 MiB
 * against requests up to 4 MiB: a few dozen large blocks fill it, so
 * refusals are common and rule 4 is exercised on a fragmented pool.
 */
static const struct case_params case_g16 = {
	.name = "g16-64MiB",
	.max_size = 64ull << 20,
	.granularity = 16,
	.page_size = 4096,
	.large_threshold = HEAP_DEFAULT_LARGE_THRESHOLD,
	.retain_pages = 0,
	.cache_blocks = 0,
	.small_hi = 512,
	.mid_hi = 64 << 10,
	.large_hi = 4 << 20,
	.small_pct = 70,
	.mid_pct = 20,
};

/*
 * Granularity 8 on a smaller pool with a lower threshold, immediate page
 * release and short caches: many more release() calls to check.
 */
static const struct case_params case_g8 = {
	.name = "g8-16MiB",
	.max_size = 16ull << 20,
	.granularity = 8,
	.page_size = 4096,
	.large_threshold = 64 << 10,
	.retain_pages = HEAP_RETAIN_NONE,
	.cache_blocks = 4,
	.small_hi = 256,
	.mid_hi = 16 << 10,
	.large_hi = 1 << 20,
	.small_pct = 70,
	.mid_pct = 20,
};

/*
 * Granularity 64 on a pool of 2 MiB and 5 pages (so that it ends inside a
 * bitmap chunk) with a threshold of one page and a small retention: page
 * spans of one page sit among short runs, short runs reach the pool's end,
 * blocks of one granule end bitmap words, and the pool fills often.  A
 * retention cut of two pages leaves the pages kept over the bound after a
 * span's free to later frees and to the retention steps.
 */
static const struct case_params case_g64 = {
	.name = "g64-2MiB",
	.max_size = (2ull << 20) + 5 * 4096,
	.granularity = 64,
	.page_size = 4096,
	.large_threshold = 4096,
	.retain_pages = 16,
	.cache_blocks = 2,
	.retain_cut = 2 * 4096,
	.small_hi = 1024,
	.mid_hi = 4095,
	.large_hi = 256 << 10,
	.small_pct = 75,
	.mid_pct = 15,
};

/*
 * Granularity 1024 on 32 MiB: a page holds four granules, a bitmap chunk
 * covers 4 MiB, and a short run (up to 256 granules, 256 KiB) can hold a
 * page span (the default threshold, 128 KiB), so the buddy finds spans
 * inside short runs and the caches (up to 64 granules) hold 64 KiB blocks.
 * Default retention and caches.
 */
static const struct case_params case_g1024 = {
	.name = "g1024-32MiB",
	.max_size = 32ull << 20,
	.granularity = 1024,
	.page_size = 4096,
	.large_threshold = HEAP_DEFAULT_LARGE_THRESHOLD,
	.retain_pages = 0,
	.cache_blocks = 0,
	.small_hi = 8 << 10,
	.mid_hi = 127 << 10,
	.large_hi = 2 << 20,
	.small_pct = 60,
	.mid_pct = 30,
};

/*
 * Granularity of a whole page on 64 MiB: every extent starts on a page, so
 * no page is ever shared by two extents and every free is a candidate for
 * release; a threshold of 16 pages, a retention of 8 pages and a cut of
 * 4 pages (a byte less: the engine rounds it up).
 */
static const struct case_params case_g4096 = {
	.name = "g4096-64MiB",
	.max_size = 64ull << 20,
	.granularity = 4096,
	.page_size = 4096,
	.large_threshold = 64 << 10,
	.retain_pages = 8,
	.cache_blocks = 0,
	.retain_cut = 4 * 4096 - 1,
	.small_hi = 16 << 10,
	.mid_hi = 64 << 10,
	.large_hi = 4 << 20,
	.small_pct = 60,
	.mid_pct = 25,
};

static int
setup_g16(void **state)
{
	return setup_case(state, &case_g16);
}

static int
setup_g8(void **state)
{
	return setup_case(state, &case_g8);
}

static int
setup_g64(void **state)
{
	return setup_case(state, &case_g64);
}

static int
setup_g1024(void **state)
{
	return setup_case(state, &case_g1024);
}

static int
setup_g4096(void **state)
{
	return setup_case(state, &case_g4096);
}

static void
test_random_g1024(void **state)
{
	run_case(*state);
}

static void
test_random_g4096(void **state)
{
	run_case(*state);
}

static void
test_random_g64(void **state)
{
	run_case(*state);
}

static void
test_random_g16(void **state)
{
	run_case(*state);
}

static void
test_random_g8(void **state)
{
	run_case(*state);
}

static uint64_t
env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return dflt;
	v = strtoull(s, &end, 0);
	if (*end) {
		fprintf(stderr, "%s=%s: not a number, using %" PRIu64 "\n",
			name, s, dflt);
		return dflt;
	}
	return v;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_g16, setup_g16,
						teardown_case),
		cmocka_unit_test_setup_teardown(test_random_g8, setup_g8,
						teardown_case),
		cmocka_unit_test_setup_teardown(test_random_g64, setup_g64,
						teardown_case),
		cmocka_unit_test_setup_teardown(test_random_g1024, setup_g1024,
						teardown_case),
		cmocka_unit_test_setup_teardown(test_random_g4096, setup_g4096,
						teardown_case),
	};
	struct timespec ts;
	const char *trace = getenv("POOLMGR_TRACE");

	clock_gettime(CLOCK_REALTIME, &ts);
	g_seed = env_u64("POOLMGR_SEED",
			 (uint64_t)ts.tv_sec * 1000000007ull ^
				 (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32);
	g_ops = env_u64("POOLMGR_OPS", DEFAULT_OPS);
	g_trace = trace && *trace && strcmp(trace, "0") != 0;
	signal(SIGABRT, on_abort);
	printf("seed: %" PRIu64 "\n", g_seed);
	printf("ops per case: %" PRIu64 " (POOLMGR_SEED / POOLMGR_OPS to "
	       "replay)\n", g_ops);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
