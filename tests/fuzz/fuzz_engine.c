/*
 * fuzz_engine.c - libFuzzer harness for the allocator engine (daemon/heap*.c).
 *
 * WHAT IT COVERS
 *
 * One small heap per input, driven by the input through every public call:
 * heap_alloc (sizes and alignments from the bytes, bad ones included),
 * heap_calloc (with overflowing products), heap_realloc, heap_resize,
 * heap_split (of live blocks at any keep, and of bogus offsets),
 * heap_free of live blocks, of interior, stale and wild offsets (double
 * frees included), heap_free_released of spans the harness "punched out"
 * itself (the daemon's stepped release), heap_usable_size, heap_trim,
 * heap_trim_step (steps of a few pages, other calls in between or not),
 * heap_retain_step, heap_block_size, heap_get_class_stats,
 * heap_block_info (of every block it looks at: what heap_reserve takes
 * back), heap_reserve (of extents at recently freed blocks, maybe
 * cached, next to live blocks, anywhere, and of bad ones) and
 * heap_strerror.  The harness keeps a table of every live block (at most
 * MAX_LIVE; allocations and splits are skipped when it is full) and,
 * after EVERY operation, aborts when:
 *
 *   - heap_check reports a broken invariant;
 *   - a result breaks heap.h: a block outside the pool, misaligned,
 *     overlapping a live block, of the wrong usable size; an error code
 *     other than the documented one; a refused call that changed the
 *     statistics; -ENOMEM although a gap between live blocks could hold the
 *     request (rule 4); -EAGAIN from heap_resize although the space after
 *     the block is free (no blocks cached) or success although it is not;
 *     a split whose result is not exactly the one heap.h defines (the
 *     first piece rounded as a resize, the tail after it, -EINVAL with
 *     nothing changed when there is no tail), or that changed anything
 *     but the count of live blocks, spans and allocations; a block whose
 *     heap_block_info heap_reserve would refuse; a reservation whose
 *     answer is not heap.h's (-EINVAL by the rule, -EBUSY exactly when a
 *     live byte lies under it), a refused one that changed any statistic,
 *     a made one that counted an allocation or gave back more than a
 *     cut;
 *   - a callback misbehaves: release() of a range that is not page-aligned
 *     or covers a live byte; zero() outside calloc or outside the new block,
 *     or not covering every byte of it on a page handed out since its last
 *     release; copy() outside a moving realloc or with the wrong range;
 *   - the statistics disagree with the table (live blocks and bytes, spans,
 *     requested bytes, resident = pages handed out and not released since,
 *     released bytes; per size class after a trim and at the end) or a
 *     trim leaves a wholly free dirty page (a trim in steps too, when no
 *     other call came between its steps), or a step releases more than
 *     its pages (and one short run);
 *   - a walk of the live blocks (heap_next_block) from any offset, in
 *     steps of any bound, finds other than the table's blocks at or after
 *     it in address order, fails to move on when its steps run out, or
 *     changes any statistic;
 *   - a free gives back more than its own pages, the retention cut
 *     (retain_cut) and two queued ranges (a heap_free_released: the cut
 *     and one range); heap_retain_step more than its pages and one range,
 *     or says the pool is within its bound while the statistics say it
 *     keeps more, or the other way round.
 *
 * At the end every block is freed, the heap trimmed and checked whole
 * again, and destroyed (libFuzzer's leak check sees its metadata).
 *
 * HOW THE BYTES ARE READ (reads past the end give 0: every input is valid)
 *
 *   byte 0    bits 0-1 granularity: 8, 16, 64, 16
 *             bit 2    caches off (HEAP_CACHE_NONE)
 *             bits 3-4 retain_pages: default, HEAP_RETAIN_NONE, 1, 16
 *             bits 5-7 large threshold: default (128 KiB), 1 (= g), 4 KiB,
 *                      8 KiB, 512, 64 KiB, 1 MiB, 3000
 *   bytes 1-2 pool pages of 4 KiB - 1, little endian, modulo 4096: 4 KiB
 *             .. 16 MiB (rounded up to the page_size)
 *   byte 3    bit 7: max_size is pages * 4096 minus the low 7 bits (the
 *             engine rounds it back up to pages)
 *   byte 4    0xF0..0xFF: release() fails every (low nibble + 1)th call;
 *             0xE0..0xEF: granularity 512 << (bits 0-1), up to the page,
 *             instead of byte 0's;
 *             0xD0..0xDE: retain_cut (low nibble + 1) pages less 100
 *             bytes (rounded up by the engine); 0xDF: no limit;
 *             0xC0..0xCF: page_size 8 KiB << (low nibble % 9), up to
 *             2 MiB, as a pool on huge pages has (pool.c: their size;
 *             the engine needs no huge page for it); else 4096
 *   then      operations: an opcode byte (low 4 bits: the operation, high
 *             4 bits: a parameter) followed by its arguments:
 *
 *   0-2 alloc      SIZE ALIGN
 *   3   calloc     NMEMB SIZE
 *   4   realloc    INDEX SIZE (a live block)
 *   5   resize     INDEX SIZE (a live block); parameter bit 0: split it
 *                  at SIZE instead; bits 0 and 1: split BOGUS at SIZE
 *   6-7 free       INDEX (a live block); parameter bit 0: free it twice;
 *                  bit 1: a span goes by heap_free_released
 *   8   free       BOGUS (must be -EINVAL; HEAP_OFF_NONE must be 0);
 *                  with a parameter, heap_retain_step of up to parameter
 *                  pages instead (15: steps until it says done)
 *   9   usable     INDEX or BOGUS (parameter bit 0); parameter bit 1:
 *                  reserve KIND ... instead (see op_reserve)
 *   10  trim; with a parameter, a step of a trim in steps of up to
 *       parameter pages
 *   11  realloc or resize (parameter bit 0) of BOGUS or HEAP_OFF_NONE, SIZE;
 *       parameter bit 1: instead, walk the live blocks (heap_next_block)
 *       from WHERE, 4 bytes modulo the pool and a page, in steps of at
 *       most (parameter >> 2) + 1 extents
 *   12  burst      SIZE: up to parameter + 1 allocations of one size
 *   13  free many  every (parameter % 4 + 2)th block of the table
 *   14  alloc      SIZE, aligned to 2^(parameter + 4)
 *   15  calloc     SIZE (nmemb 1)
 *
 *   INDEX  one byte, modulo the number of live blocks
 *   SIZE   a selector byte, then: 1..256 | 1..65536 | 1..16 MiB | around
 *          the threshold | around a page multiple | an edge value (0, the
 *          pool size +-1, 2^48, UINT64_MAX, g +-1, ...) | 1..32 | 1..4096
 *   ALIGN  one byte: < 128 none, < 240 2^(b % 24), else an odd value (3,
 *          24, 2^40, 2^63, ...)
 *   NMEMB  one byte: < 200 its value % 17, else 8 more bytes
 *   BOGUS  a selector byte, then an interior offset of a live block, a
 *          recently freed offset, a granule index, raw 32 or 64 bits, or an
 *          edge value; never the start of a live block
 *
 * Replay with the operations printed: FUZZ_ENGINE_TRACE=1 fuzz_engine FILE
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

#define PAGE 4096u		/* the system page; a pool's may be larger */
#define MAX_PAGES 4096u
#define MAX_LIVE 256
#define MAX_ZEROS 64
#define RECENT 16
#define MAX_OPS 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rd {
	const uint8_t *p;
	size_t n;
};

struct blk {
	uint64_t off, len;	/* len: the usable size */
	uint64_t size;		/* what was asked for */
	bool span;
};

/* What the engine is allowed to do inside the call in progress. */
enum call {
	CALL_NONE,
	CALL_PLAIN,		/* no zero(), no copy() */
	CALL_CALLOC,		/* zero() inside the new block */
	CALL_REALLOC,		/* copy() once, from mv_src */
	CALL_SPLIT,		/* no callback at all */
};

struct fz {
	struct heap *h;
	uint64_t pool, g, thr;
	uint64_t page;			/* the engine's page_size */
	struct blk live[MAX_LIVE];
	unsigned n;
	uint64_t dirty[MAX_PAGES / 64];	/* pages handed out, not released */
	uint64_t recent[RECENT];	/* recently freed offsets */
	unsigned nrecent, recent_next;
	uint64_t released;		/* bytes release() accepted */
	unsigned fail_every, release_calls;
	uint64_t cut;			/* bytes a retention cut may release */
	uint64_t range;			/* bytes of the longest queued range */
	bool failed_in_op;
	bool trimming;			/* heap_trim_step said it goes on */
	bool trim_alone;		/* ... and nothing else ran since it began */
	unsigned op;
	const char *opname;
	bool trace;

	/* The call in progress. */
	bool called;			/* the engine was called in this op */
	enum call call;
	int hidden;			/* table index being freed or shrunk */
	uint64_t hidden_keep;		/* bytes of it still live */
	bool extra_live;		/* the new block of a moving realloc */
	uint64_t extra_off, extra_len;
	uint64_t mv_src, mv_len, mv_newlen;
	bool copied;
	struct {
		uint64_t off, len;
	} zeros[MAX_ZEROS];
	unsigned nzeros;
	bool zeros_lost;
};

static struct fz F;

/* ------------------------------------------------------------------ */
/* Failing */

__attribute__((noreturn, format(printf, 2, 3))) static void
die(const struct fz *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_engine: op %u (%s): ", f->op,
		f->opname ? f->opname : "setup");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

static void
trace(const struct fz *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
trace(const struct fz *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->trace)
		return;
	fprintf(stderr, "op %u: ", f->op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/* ------------------------------------------------------------------ */
/* Reading the input */

static uint8_t
rd8(struct rd *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

static uint64_t
rdn(struct rd *r, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < bytes; i++)
		v |= (uint64_t)rd8(r) << (8 * i);
	return v;
}

static uint64_t
round_to(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static bool
pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static uint64_t
edge_value(const struct fz *f, uint8_t k)
{
	const uint64_t v[] = {
		0, f->pool, f->pool + 1, f->pool - 1, f->pool - f->g,
		UINT64_MAX, UINT64_MAX - 1, 1ull << 48, (1ull << 48) + 1,
		f->g, f->g - 1, f->g + 1, f->page, f->page - 1, f->page + 1,
		f->thr, f->thr - 1, f->thr + 1, f->pool / 2, 1ull << 63,
	};

	return v[k % (sizeof(v) / sizeof(v[0]))];
}

static uint64_t
rd_size(const struct fz *f, struct rd *r)
{
	uint8_t sel = rd8(r);
	int8_t d;

	switch (sel & 7) {
	case 0:
		return 1 + (uint64_t)rd8(r);
	case 1:
		return 1 + rdn(r, 2);
	case 2:
		return 1 + rdn(r, 3);
	case 3:
		d = (int8_t)rd8(r);
		return f->thr + (uint64_t)(int64_t)d;
	case 4:
		d = (int8_t)rd8(r);
		return (1 + (uint64_t)(rd8(r) % 64)) * f->page +
		       (uint64_t)(int64_t)d;
	case 5:
		return edge_value(f, rd8(r));
	case 6:
		return 1 + (uint64_t)(sel >> 3);
	default:
		return 1 + rdn(r, 2) % 4096;
	}
}

static uint64_t
rd_align(struct rd *r)
{
	const uint64_t odd[] = {3, 24, 1ull << 40, 1ull << 63, 1, 2, 4,
				PAGE, 1ull << 21, 48, UINT64_MAX, 1ull << 47,
				8, 16, 32, 64};
	uint8_t b = rd8(r);

	if (b < 128)
		return 0;
	if (b < 240)
		return 1ull << (b % 24);
	return odd[b - 240];
}

/* ------------------------------------------------------------------ */
/* The table of live blocks and the page model */

static int
live_index(const struct fz *f, uint64_t off)
{
	unsigned i;

	for (i = 0; i < f->n; i++)
		if (f->live[i].off == off)
			return (int)i;
	return -1;
}

static bool
overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* Does [off, off + len) touch a byte that is live right now? */
static bool
touches_live(const struct fz *f, uint64_t off, uint64_t len, uint64_t *with)
{
	unsigned i;

	for (i = 0; i < f->n; i++) {
		uint64_t l = f->live[i].len;

		if ((int)i == f->hidden)
			l = f->hidden_keep;
		if (overlaps(off, len, f->live[i].off, l)) {
			*with = f->live[i].off;
			return true;
		}
	}
	if (f->extra_live && overlaps(off, len, f->extra_off, f->extra_len)) {
		*with = f->extra_off;
		return true;
	}
	return false;
}

static bool
page_dirty(const struct fz *f, uint64_t p)
{
	return f->dirty[p / 64] >> (p % 64) & 1;
}

static void
pages_set(struct fz *f, uint64_t off, uint64_t len, bool on)
{
	uint64_t p, end = round_to(off + len, f->page) / f->page;

	for (p = off / f->page; p < end; p++) {
		if (on)
			f->dirty[p / 64] |= 1ull << (p % 64);
		else
			f->dirty[p / 64] &= ~(1ull << (p % 64));
	}
}

static uint64_t
dirty_count(const struct fz *f)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < MAX_PAGES / 64; i++)
		n += (uint64_t)__builtin_popcountll(f->dirty[i]);
	return n;
}

static void
remember_freed(struct fz *f, uint64_t off)
{
	f->recent[f->recent_next] = off;
	f->recent_next = (f->recent_next + 1) % RECENT;
	if (f->nrecent < RECENT)
		f->nrecent++;
}

static void
table_remove(struct fz *f, unsigned i)
{
	remember_freed(f, f->live[i].off);
	f->live[i] = f->live[--f->n];
}

/* The length a fresh block for size bytes has. */
static uint64_t
fresh_len(const struct fz *f, uint64_t size)
{
	return size >= f->thr ? round_to(size, f->page) : round_to(size, f->g);
}

static uint64_t
eff_align(const struct fz *f, uint64_t size, uint64_t align)
{
	uint64_t a = align > f->g ? align : f->g;

	if (size >= f->thr && a < f->page)
		a = f->page;
	return a;
}

static int
cmp_blk(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Rule 4: could some gap between live blocks hold len bytes at align? */
static bool
fits_somewhere(const struct fz *f, uint64_t len, uint64_t align)
{
	static struct blk s[MAX_LIVE];
	uint64_t start = 0, end, at;
	unsigned i;

	memcpy(s, f->live, f->n * sizeof(s[0]));
	qsort(s, f->n, sizeof(s[0]), cmp_blk);
	for (i = 0; i <= f->n; i++) {
		end = i < f->n ? s[i].off : f->pool;
		if (start == 0)
			at = 0;
		else if (__builtin_add_overflow(start, align - 1, &at))
			at = UINT64_MAX;
		else
			at &= ~(align - 1);
		if (at <= end && end - at >= len)
			return true;
		if (i < f->n)
			start = s[i].off + s[i].len;
	}
	return false;
}

/* Where the next live block after b starts (the pool's end if none). */
static uint64_t
next_start(const struct fz *f, const struct blk *b)
{
	uint64_t best = f->pool;
	unsigned i;

	for (i = 0; i < f->n; i++)
		if (f->live[i].off > b->off && f->live[i].off < best)
			best = f->live[i].off;
	return best;
}

/* ------------------------------------------------------------------ */
/* Engine callbacks */

static int
cb_release(void *ctx, uint64_t off, uint64_t len)
{
	struct fz *f = ctx;
	uint64_t with;

	if (f->call == CALL_NONE || f->call == CALL_SPLIT)
		die(f, "release(%#" PRIx64 ", %#" PRIx64 ") outside a call "
		    "that may release", off, len);
	if (len == 0 || off % f->page || len % f->page || off >= f->pool ||
	    len > f->pool - off)
		die(f, "release(%#" PRIx64 ", %#" PRIx64 ") not whole pages of "
		    "the pool", off, len);
	if (touches_live(f, off, len, &with))
		die(f, "release(%#" PRIx64 ", %#" PRIx64 ") covers live block "
		    "%#" PRIx64, off, len, with);
	if (f->fail_every && ++f->release_calls % f->fail_every == 0) {
		f->failed_in_op = true;
		return -1;
	}
	pages_set(f, off, len, false);
	f->released += len;
	return 0;
}

static void
cb_zero(void *ctx, uint64_t off, uint64_t len)
{
	struct fz *f = ctx;
	uint64_t with;

	if (f->call != CALL_CALLOC)
		die(f, "zero(%#" PRIx64 ", %#" PRIx64 ") outside calloc", off,
		    len);
	if (len == 0 || off >= f->pool || len > f->pool - off)
		die(f, "zero(%#" PRIx64 ", %#" PRIx64 ") outside the pool", off,
		    len);
	if (touches_live(f, off, len, &with))
		die(f, "zero(%#" PRIx64 ", %#" PRIx64 ") covers live block "
		    "%#" PRIx64, off, len, with);
	if (f->nzeros == MAX_ZEROS) {
		f->zeros_lost = true;
		return;
	}
	f->zeros[f->nzeros].off = off;
	f->zeros[f->nzeros].len = len;
	f->nzeros++;
}

static void
cb_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len)
{
	struct fz *f = ctx;
	uint64_t with;

	if (f->call != CALL_REALLOC || f->copied)
		die(f, "copy(%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ") outside "
		    "a moving realloc", dst, src, len);
	if (src != f->mv_src || len != f->mv_len)
		die(f, "copy from %#" PRIx64 " of %#" PRIx64 " bytes, expected "
		    "%#" PRIx64 " of %#" PRIx64, src, len, f->mv_src, f->mv_len);
	if (dst % f->g || dst >= f->pool || f->mv_newlen > f->pool - dst)
		die(f, "copy to %#" PRIx64 ": not a block of %#" PRIx64
		    " bytes in the pool", dst, f->mv_newlen);
	if (touches_live(f, dst, f->mv_newlen, &with))
		die(f, "copy to %#" PRIx64 " overlaps live block %#" PRIx64,
		    dst, with);
	/* From here on the old block is being freed and the new one lives. */
	f->copied = true;
	f->extra_live = true;
	f->extra_off = dst;
	f->extra_len = f->mv_newlen;
	f->hidden_keep = 0;
}

static void
call_begin(struct fz *f, enum call c, int hidden, uint64_t keep)
{
	f->called = true;
	f->call = c;
	f->hidden = hidden;
	f->hidden_keep = keep;
	f->extra_live = false;
	f->copied = false;
	f->nzeros = 0;
	f->zeros_lost = false;
}

static void
call_end(struct fz *f)
{
	f->call = CALL_NONE;
	f->hidden = -1;
	f->extra_live = false;
}

/* ------------------------------------------------------------------ */
/* Checks */

static void
get_stats(struct fz *f, struct heap_stats *st)
{
	heap_get_stats(f->h, st);
}

/* A refused call may bump its failure counter, nothing else. */
static void
expect_unchanged(struct fz *f, const struct heap_stats *a, bool flushed)
{
	struct heap_stats b;

	get_stats(f, &b);
	if (a->allocated_bytes != b.allocated_bytes ||
	    a->requested_bytes != b.requested_bytes ||
	    a->live_blocks != b.live_blocks || a->spans != b.spans ||
	    a->allocs != b.allocs || a->frees != b.frees)
		die(f, "a refused call changed the live blocks");
	/* -ENOMEM may merge the caches and release pages first. */
	if (flushed)
		return;
	if (a->free_bytes != b.free_bytes || a->free_runs != b.free_runs ||
	    a->cached_bytes != b.cached_bytes ||
	    a->cached_blocks != b.cached_blocks ||
	    a->resident_bytes != b.resident_bytes ||
	    a->released_bytes != b.released_bytes ||
	    a->largest_free != b.largest_free)
		die(f, "a refused call changed the free space");
}

static void
check_usable(struct fz *f, uint64_t off, uint64_t want)
{
	uint64_t u = 0;
	int rc = heap_usable_size(f->h, off, &u);

	if (rc != 0 || u != want)
		die(f, "usable_size(%#" PRIx64 ") = %d/%#" PRIx64 ", expected "
		    "%#" PRIx64, off, rc, u, want);
}

static void
check_gone(struct fz *f, uint64_t off)
{
	uint64_t u;
	int rc = heap_usable_size(f->h, off, &u);

	if (rc != -EINVAL)
		die(f, "usable_size(%#" PRIx64 ") of a freed block = %d", off,
		    rc);
}

/* A new block: in the pool, aligned, apart from every live block. */
static void
check_new_block(struct fz *f, uint64_t off, uint64_t len, uint64_t align)
{
	uint64_t with;

	if (off >= f->pool || len > f->pool - off)
		die(f, "block %#" PRIx64 "+%#" PRIx64 " outside the pool of "
		    "%#" PRIx64, off, len, f->pool);
	if (off & (align - 1))
		die(f, "block %#" PRIx64 " not aligned to %#" PRIx64, off, align);
	if (touches_live(f, off, len, &with))
		die(f, "block %#" PRIx64 "+%#" PRIx64 " overlaps live block "
		    "%#" PRIx64, off, len, with);
	check_usable(f, off, len);
}

static void
table_add(struct fz *f, uint64_t off, uint64_t size, uint64_t len, bool span)
{
	struct blk *b = &f->live[f->n++];

	b->off = off;
	b->size = size;
	b->len = len;
	b->span = span;
	pages_set(f, off, len, true);
}

/* Is [a, b) covered by the zero() calls of this calloc? */
static bool
zeroed(const struct fz *f, uint64_t a, uint64_t b)
{
	unsigned i;
	bool moved = true;

	while (a < b && moved) {
		moved = false;
		for (i = 0; i < f->nzeros; i++) {
			uint64_t zo = f->zeros[i].off, ze = zo + f->zeros[i].len;

			if (zo <= a && a < ze) {
				a = ze;
				moved = true;
			}
		}
	}
	return a >= b;
}

/* calloc: every byte on a page handed out since its release is zeroed. */
static void
check_zeroing(struct fz *f, uint64_t off, uint64_t len)
{
	uint64_t p, end = round_to(off + len, f->page) / f->page;
	unsigned i;

	for (i = 0; i < f->nzeros; i++)
		if (f->zeros[i].off < off ||
		    f->zeros[i].off + f->zeros[i].len > off + len)
			die(f, "zero(%#" PRIx64 ", %#" PRIx64 ") outside the new "
			    "block %#" PRIx64 "+%#" PRIx64, f->zeros[i].off,
			    f->zeros[i].len, off, len);
	if (f->zeros_lost)
		return;
	for (p = off / f->page; p < end; p++) {
		uint64_t a = p * f->page, b = a + f->page;

		if (!page_dirty(f, p))
			continue;
		if (a < off)
			a = off;
		if (b > off + len)
			b = off + len;
		if (!zeroed(f, a, b))
			die(f, "calloc block %#" PRIx64 "+%#" PRIx64 " not zeroed "
			    "on dirty page %#" PRIx64, off, len, p);
	}
}

/* After every operation: the engine's own walk and its statistics. */
static void
check_all(struct fz *f)
{
	struct heap_stats st;
	uint64_t bytes = 0, req = 0, spans = 0;
	char msg[256];
	unsigned i;

	if (heap_check(f->h, msg, sizeof(msg)) != 0)
		die(f, "heap_check: %s", msg);
	get_stats(f, &st);
	for (i = 0; i < f->n; i++) {
		bytes += f->live[i].len;
		req += f->live[i].size;
		spans += f->live[i].span;
	}
	if (st.live_blocks != f->n || st.allocated_bytes != bytes)
		die(f, "stats: %" PRIu64 " blocks of %" PRIu64 " bytes, table: "
		    "%u of %" PRIu64, st.live_blocks, st.allocated_bytes, f->n,
		    bytes);
	if (st.spans != spans)
		die(f, "stats: %" PRIu64 " spans, table: %" PRIu64, st.spans,
		    spans);
	if (st.requested_bytes < req || st.requested_bytes > bytes)
		die(f, "stats: %" PRIu64 " bytes requested, table: %" PRIu64
		    " of %" PRIu64, st.requested_bytes, req, bytes);
	if (st.max_size != f->pool ||
	    st.free_bytes + st.allocated_bytes + st.cached_bytes != f->pool)
		die(f, "stats: free + allocated + cached != pool");
	if (st.resident_bytes != dirty_count(f) * f->page)
		die(f, "stats: resident %" PRIu64 " bytes, pages handed out and "
		    "not released: %" PRIu64, st.resident_bytes,
		    dirty_count(f) * f->page);
	if (st.released_bytes != f->released)
		die(f, "stats: released %" PRIu64 " bytes, release() accepted "
		    "%" PRIu64, st.released_bytes, f->released);
}

/* ------------------------------------------------------------------ */
/* Operations */

/* heap_alloc, or heap_realloc(HEAP_OFF_NONE), which is the same. */
static void
op_alloc_via(struct fz *f, uint64_t size, uint64_t align, bool realloc)
{
	struct heap_stats before;
	uint64_t off = HEAP_OFF_NONE, len, a;
	int rc, want;

	if (f->n == MAX_LIVE)
		return;
	trace(f, "%s %#" PRIx64 " align %#" PRIx64,
	      realloc ? "realloc NONE" : "alloc", size, align);
	get_stats(f, &before);
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = realloc ? heap_realloc(f->h, HEAP_OFF_NONE, size, &off)
		     : heap_alloc(f->h, size, align, &off);
	call_end(f);
	if (size == 0 || (align && !pow2(align)))
		want = -EINVAL;
	else if (size > f->pool)
		want = -EFBIG;
	else
		want = rc == -ENOMEM ? -ENOMEM : 0;
	if (rc != want)
		die(f, "alloc(%#" PRIx64 ", %#" PRIx64 ") = %d, expected %d",
		    size, align, rc, want);
	len = size && size <= f->pool ? fresh_len(f, size) : 0;
	if (heap_block_size(f->h, size) != len)
		die(f, "heap_block_size(%#" PRIx64 ") = %#" PRIx64 ", expected "
		    "%#" PRIx64, size, heap_block_size(f->h, size), len);
	a = eff_align(f, size, align);
	if (rc == -ENOMEM) {
		if (fits_somewhere(f, len, a))
			die(f, "alloc(%#" PRIx64 ", %#" PRIx64 ") = -ENOMEM but a "
			    "gap holds it", size, align);
		expect_unchanged(f, &before, true);
		return;
	}
	if (rc) {
		expect_unchanged(f, &before, false);
		return;
	}
	check_new_block(f, off, len, a);
	table_add(f, off, size, len, size >= f->thr);
}

static void
op_alloc(struct fz *f, uint64_t size, uint64_t align)
{
	op_alloc_via(f, size, align, false);
}

static void
op_calloc(struct fz *f, uint64_t nmemb, uint64_t size)
{
	struct heap_stats before;
	uint64_t off = HEAP_OFF_NONE, total, len;
	int rc, want;

	if (f->n == MAX_LIVE)
		return;
	trace(f, "calloc %#" PRIx64 " x %#" PRIx64, nmemb, size);
	get_stats(f, &before);
	call_begin(f, CALL_CALLOC, -1, 0);
	rc = heap_calloc(f->h, nmemb, size, &off);
	call_end(f);
	if (__builtin_mul_overflow(nmemb, size, &total))
		want = -EOVERFLOW;
	else if (total == 0)
		want = -EINVAL;
	else if (total > f->pool)
		want = -EFBIG;
	else
		want = rc == -ENOMEM ? -ENOMEM : 0;
	if (rc != want)
		die(f, "calloc(%#" PRIx64 ", %#" PRIx64 ") = %d, expected %d",
		    nmemb, size, rc, want);
	if (rc && f->nzeros)
		die(f, "a refused calloc called zero()");
	if (rc == -ENOMEM) {
		if (fits_somewhere(f, fresh_len(f, total),
				   eff_align(f, total, 0)))
			die(f, "calloc of %#" PRIx64 " = -ENOMEM but a gap "
			    "holds it", total);
		expect_unchanged(f, &before, true);
		return;
	}
	if (rc) {
		expect_unchanged(f, &before, false);
		return;
	}
	len = fresh_len(f, total);
	check_new_block(f, off, len, eff_align(f, total, 0));
	check_zeroing(f, off, len);
	table_add(f, off, total, len, total >= f->thr);
}

enum tri { NO, YES, MAYBE };

/*
 * Can block b become size bytes (0 < size <= pool) in place?  With
 * uncache (heap_resize), cached blocks after it count as the free space
 * they are; heap_realloc may move the block rather than merge them.
 */
static enum tri
in_place(const struct fz *f, const struct blk *b, uint64_t size,
	 uint64_t *nl, bool uncache)
{
	struct heap_stats st;

	if (!b->span && size >= f->thr)
		return NO;	/* it would have to become a span */
	*nl = b->span ? round_to(size, f->page) : round_to(size, f->g);
	if (*nl <= b->len)
		return YES;
	if (next_start(f, b) - b->off < *nl)
		return NO;
	if (uncache)
		return YES;
	heap_get_stats(f->h, &st);
	/* A cached block after it is not a free run (yet). */
	return st.cached_blocks ? MAYBE : YES;
}

static void
op_resize(struct fz *f, unsigned i, uint64_t size)
{
	struct heap_stats before;
	struct blk *b = &f->live[i];
	uint64_t nl = 0;
	enum tri t = NO;
	int rc;

	trace(f, "resize %#" PRIx64 "+%#" PRIx64 " to %#" PRIx64, b->off,
	      b->len, size);
	if (size && size <= f->pool)
		t = in_place(f, b, size, &nl, true);
	get_stats(f, &before);
	call_begin(f, CALL_PLAIN, (int)i,
		   t == YES && nl < b->len ? nl : b->len);
	rc = heap_resize(f->h, b->off, size);
	call_end(f);
	if (size == 0 || size > f->pool) {
		if (rc != (size ? -EFBIG : -EINVAL))
			die(f, "resize to %#" PRIx64 " = %d", size, rc);
		expect_unchanged(f, &before, false);
		return;
	}
	if ((rc != 0 && rc != -EAGAIN) || (t == YES && rc) ||
	    (t == NO && !rc))
		die(f, "resize %#" PRIx64 "+%#" PRIx64 " to %#" PRIx64 " = %d, "
		    "expected %s", b->off, b->len, size, rc,
		    t == YES ? "0" : t == NO ? "-EAGAIN" : "0 or -EAGAIN");
	if (rc) {
		expect_unchanged(f, &before, false);
		return;
	}
	b->len = nl;
	b->size = size;
	pages_set(f, b->off, nl, true);
	check_usable(f, b->off, nl);
}

static void
op_realloc(struct fz *f, unsigned i, uint64_t size)
{
	struct heap_stats before;
	struct blk old = f->live[i];
	uint64_t nl = 0, out = 12345, newlen = fresh_len(f, size);
	enum tri t = NO;
	int rc;

	trace(f, "realloc %#" PRIx64 "+%#" PRIx64 " to %#" PRIx64, old.off,
	      old.len, size);
	if (size && size <= f->pool)
		t = in_place(f, &old, size, &nl, false);
	get_stats(f, &before);
	call_begin(f, CALL_REALLOC, (int)i,
		   size == 0 ? 0 : t == YES && nl < old.len ? nl : old.len);
	f->mv_src = old.off;
	f->mv_len = old.len < size ? old.len : size;
	f->mv_newlen = newlen;
	rc = heap_realloc(f->h, old.off, size, &out);
	call_end(f);
	if (size == 0) {
		if (rc || out != HEAP_OFF_NONE || f->copied)
			die(f, "realloc to 0 = %d, out %#" PRIx64, rc, out);
		table_remove(f, i);
		check_gone(f, old.off);
		return;
	}
	if (size > f->pool) {
		if (rc != -EFBIG)
			die(f, "realloc to %#" PRIx64 " = %d", size, rc);
		expect_unchanged(f, &before, false);
		return;
	}
	if (rc == -ENOMEM) {
		if (t == YES || f->copied)
			die(f, "realloc = -ENOMEM after copy or although it fits "
			    "in place");
		if (fits_somewhere(f, newlen, eff_align(f, size, 0)))
			die(f, "realloc to %#" PRIx64 " = -ENOMEM but a gap holds "
			    "it", size);
		expect_unchanged(f, &before, true);
		check_usable(f, old.off, old.len);
		return;
	}
	if (rc)
		die(f, "realloc to %#" PRIx64 " = %d", size, rc);
	if (out == old.off) {
		if (t == NO || f->copied)
			die(f, "realloc stayed in place, expected a move");
		f->live[i].len = nl;
		f->live[i].size = size;
		pages_set(f, old.off, nl, true);
		check_usable(f, old.off, nl);
		return;
	}
	if (t == YES || !f->copied || f->extra_off != out)
		die(f, "realloc moved to %#" PRIx64 " (in place: %d, copied: %d)",
		    out, (int)t, (int)f->copied);
	table_remove(f, i);
	check_gone(f, old.off);
	check_new_block(f, out, newlen, eff_align(f, size, 0));
	table_add(f, out, size, newlen, size >= f->thr);
}

/*
 * heap_split of block i at keep: exactly the pieces heap.h defines, or
 * -EINVAL with nothing changed; no callback either way, and nothing but
 * the counts of live blocks, spans and allocations moves.  The tail joins
 * the table with the part of the request that lay in it.
 */
static void
op_split(struct fz *f, unsigned i, uint64_t keep)
{
	struct heap_stats a, b;
	struct blk old = f->live[i];
	uint64_t nl = 0, t = 1, tl = 1;
	int rc, want = -EINVAL;

	if (f->n == MAX_LIVE)
		return;
	trace(f, "split %#" PRIx64 "+%#" PRIx64 " at %#" PRIx64, old.off,
	      old.len, keep);
	if (keep && keep < old.len) {
		nl = round_to(keep, old.span ? f->page : f->g);
		if (nl < old.len)
			want = 0;
	}
	get_stats(f, &a);
	call_begin(f, CALL_SPLIT, -1, 0);
	rc = heap_split(f->h, old.off, keep, &t, &tl);
	call_end(f);
	if (rc != want)
		die(f, "split %#" PRIx64 "+%#" PRIx64 " at %#" PRIx64 " = %d, "
		    "expected %d", old.off, old.len, keep, rc, want);
	get_stats(f, &b);
	if (rc) {
		if (t != 1 || tl != 1 || memcmp(&a, &b, sizeof(a)))
			die(f, "a refused split changed something");
		return;
	}
	if (t != old.off + nl || tl != old.len - nl)
		die(f, "split %#" PRIx64 "+%#" PRIx64 " at %#" PRIx64 ": tail "
		    "%#" PRIx64 "+%#" PRIx64 ", expected %#" PRIx64 "+%#" PRIx64,
		    old.off, old.len, keep, t, tl, old.off + nl, old.len - nl);
	if (b.live_blocks != a.live_blocks + 1 ||
	    b.spans != a.spans + old.span || b.allocs != a.allocs + 1 ||
	    b.frees != a.frees || b.allocated_bytes != a.allocated_bytes ||
	    b.free_bytes != a.free_bytes || b.free_runs != a.free_runs ||
	    b.largest_free != a.largest_free ||
	    b.cached_bytes != a.cached_bytes ||
	    b.cached_blocks != a.cached_blocks ||
	    b.resident_bytes != a.resident_bytes ||
	    b.released_bytes != a.released_bytes ||
	    b.free_resident_bytes != a.free_resident_bytes ||
	    b.retain_excess_bytes != a.retain_excess_bytes ||
	    b.invalid_frees != a.invalid_frees)
		die(f, "a split changed more than the block counts");
	/* A span's first piece asks keep and its tail the rest: exact.  A
	 * small block's slack may be kept rounded (check_all's bounds). */
	if (old.span && b.requested_bytes != a.requested_bytes - (nl - keep))
		die(f, "split span: requested %" PRIu64 " -> %" PRIu64 ", "
		    "expected %" PRIu64, a.requested_bytes, b.requested_bytes,
		    a.requested_bytes - (nl - keep));
	/* A block asks more than its length less a granule (a page for a
	 * span): the tail holds the rest of the request. */
	f->live[i].len = nl;
	f->live[i].size = keep;
	table_add(f, t, old.size - nl, tl, old.span);
	check_usable(f, old.off, nl);
	check_usable(f, t, tl);
}

/*
 * One heap_retain_step of pages pages: at most that many and one queued
 * range released, no live block touched, and its answer the statistics'
 * (over the bound with pages queued, or not).  Steps until done end.
 */
static void
op_retain_step(struct fz *f, unsigned pages, bool until_done)
{
	struct heap_stats a, b;
	unsigned steps = 0;
	uint64_t rel0;
	int rc;

	trace(f, "retain step of %u pages%s", pages,
	      until_done ? " until done" : "");
	get_stats(f, &a);
	do {
		rel0 = f->released;
		call_begin(f, CALL_PLAIN, -1, 0);
		rc = heap_retain_step(f->h, (uint64_t)pages * f->page);
		call_end(f);
		if (rc != 0 && rc != 1)
			die(f, "retain step = %d", rc);
		if (f->released - rel0 > (uint64_t)pages * f->page + f->range)
			die(f, "a retain step of %u pages released %" PRIu64
			    " bytes", pages, f->released - rel0);
		get_stats(f, &b);
		if ((rc == 1) != (b.retain_excess_bytes != 0))
			die(f, "retain step = %d, %" PRIu64 " bytes kept over "
			    "the bound", rc, b.retain_excess_bytes);
	} while (rc && until_done && ++steps < 100000);
	if (rc && until_done)
		die(f, "100000 retain steps and not done");
	if (a.allocated_bytes != b.allocated_bytes ||
	    a.live_blocks != b.live_blocks || a.free_bytes != b.free_bytes ||
	    a.cached_blocks != b.cached_blocks || a.allocs != b.allocs ||
	    a.frees != b.frees)
		die(f, "a retain step changed the blocks");
	if (b.retain_excess_bytes > a.retain_excess_bytes)
		die(f, "a retain step raised the pages kept over the bound");
}

/*
 * Free block i; with owner_released, a span is freed the way the daemon
 * frees a big one after punching its pages out itself (heap_free_released):
 * its pages are clean first, and the engine may release only the others.
 */
static void
op_free(struct fz *f, unsigned i, bool twice, bool owner_released)
{
	uint64_t off = f->live[i].off, len = f->live[i].len, rel0, most;
	struct heap_stats before;
	int rc;

	owner_released = owner_released && f->live[i].span;
	trace(f, "free%s %#" PRIx64 "+%#" PRIx64,
	      owner_released ? " released" : "", off, len);
	if (owner_released) {
		uint64_t p, invalid;

		/* Inside the span: refused, nothing changed, not even the
		 * count of invalid frees. */
		if (len > f->g) {
			get_stats(f, &before);
			invalid = before.invalid_frees;
			call_begin(f, CALL_PLAIN, -1, 0);
			rc = heap_free_released(f->h, off + f->g);
			call_end(f);
			if (rc != -EINVAL)
				die(f, "free_released inside %#" PRIx64
				    " = %d", off, rc);
			expect_unchanged(f, &before, false);
			get_stats(f, &before);
			if (before.invalid_frees != invalid)
				die(f, "free_released counted an invalid "
				    "free");
		}
		/* The owner punches the pages out, then frees. */
		for (p = off / f->page; p < (off + len) / f->page; p++)
			if (page_dirty(f, p))
				f->released += f->page;
		pages_set(f, off, len, false);
		rel0 = f->released;
		call_begin(f, CALL_PLAIN, (int)i, 0);
		rc = heap_free_released(f->h, off);
		call_end(f);
		most = f->cut + f->range;
	} else {
		rel0 = f->released;
		call_begin(f, CALL_PLAIN, (int)i, 0);
		rc = heap_free(f->h, off);
		call_end(f);
		/* Its pages and the two it shares, the cut, the range a full
		 * ring makes room by and the one the cut ends with. */
		most = len + 2 * f->page + f->cut + 2 * f->range;
	}
	if (rc)
		die(f, "free of live block %#" PRIx64 " = %d", off, rc);
	if (f->released - rel0 > most)
		die(f, "free of %#" PRIx64 "+%#" PRIx64 " released %" PRIu64
		    " bytes, at most %" PRIu64, off, len, f->released - rel0,
		    most);
	table_remove(f, i);
	check_gone(f, off);
	if (!twice)
		return;
	get_stats(f, &before);
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = heap_free(f->h, off);
	call_end(f);
	if (rc != -EINVAL)
		die(f, "double free of %#" PRIx64 " = %d", off, rc);
	expect_unchanged(f, &before, false);
}

/* An offset that is not the start of a live block (nor HEAP_OFF_NONE). */
static bool
rd_bogus(struct fz *f, struct rd *r, uint64_t *out)
{
	uint8_t k = rd8(r);
	uint64_t off;

	switch (k % 6) {
	case 0: {
		const struct blk *b;

		if (!f->n)
			return false;
		b = &f->live[rd8(r) % f->n];
		off = b->off + 1 + rdn(r, 3) % (b->len - 1);
		if (k & 0x80)
			off &= ~(f->g - 1);
		break;
	}
	case 1:
		if (!f->nrecent)
			return false;
		off = f->recent[rd8(r) % f->nrecent];
		break;
	case 2:
		off = rdn(r, 2) * f->g;
		break;
	case 3:
		off = rdn(r, 4);
		break;
	case 4:
		off = edge_value(f, rd8(r));
		break;
	default:
		off = rdn(r, 8);
		break;
	}
	if (off == HEAP_OFF_NONE || live_index(f, off) >= 0)
		return false;
	*out = off;
	return true;
}

static void
op_free_bogus(struct fz *f, struct rd *r)
{
	struct heap_stats before;
	uint64_t off = HEAP_OFF_NONE;
	int rc;

	if (rd8(r) > 16 && !rd_bogus(f, r, &off))
		return;
	trace(f, "free bogus %#" PRIx64, off);
	get_stats(f, &before);
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = heap_free(f->h, off);
	call_end(f);
	if (rc != (off == HEAP_OFF_NONE ? 0 : -EINVAL))
		die(f, "free(%#" PRIx64 ") = %d", off, rc);
	expect_unchanged(f, &before, false);
}

/* heap_split of an offset that is no live block's start: -EINVAL. */
static void
op_split_bogus(struct fz *f, struct rd *r)
{
	struct heap_stats a, b;
	uint64_t off, keep, t = 1, tl = 1;
	int rc;

	if (!rd_bogus(f, r, &off))
		return;
	keep = rd_size(f, r);
	trace(f, "split bogus %#" PRIx64 " at %#" PRIx64, off, keep);
	get_stats(f, &a);
	call_begin(f, CALL_SPLIT, -1, 0);
	rc = heap_split(f->h, off, keep, &t, &tl);
	call_end(f);
	get_stats(f, &b);
	if (rc != -EINVAL || t != 1 || tl != 1 || memcmp(&a, &b, sizeof(a)))
		die(f, "split of no block %#" PRIx64 " = %d, or it changed "
		    "something", off, rc);
}

/*
 * heap.h's rule for the blocks heap_reserve makes: 0, or -EINVAL.  Written
 * out here from the header, not from the engine's code.
 */
static int
reserve_rule(const struct fz *f, uint64_t off, const struct heap_block_info *bi)
{
	uint64_t unit = bi->span ? f->page : f->g;

	if ((bi->span != 0 && bi->span != 1) || bi->size == 0 ||
	    bi->requested == 0 || bi->requested > bi->size ||
	    off % unit || bi->size % unit || off >= f->pool ||
	    bi->size > f->pool - off || bi->size - bi->requested >= unit)
		return -EINVAL;
	if (!bi->span && bi->size > round_to(f->thr, f->g))
		return -EINVAL;
	return 0;
}

/*
 * heap_block_info of the live block b: its usable size and kind, what it
 * asked for (a small block may round that up a little), and a block
 * heap_reserve takes back.  want: the request it must report exactly, or
 * 0 for "at least b's".
 */
static void
check_info(struct fz *f, const struct blk *b, uint64_t want)
{
	struct heap_block_info bi;
	int rc = heap_block_info(f->h, b->off, &bi);

	if (rc || bi.size != b->len || bi.span != b->span ||
	    (want && bi.requested != want) || bi.requested < b->size ||
	    reserve_rule(f, b->off, &bi))
		die(f, "block_info(%#" PRIx64 ") = %d: %#" PRIx64 " bytes, %#"
		    PRIx64 " asked, span %d; table: %#" PRIx64 ", %#" PRIx64
		    ", span %d", b->off, rc, bi.size, bi.requested, bi.span,
		    b->len, b->size, b->span);
}

static void
op_usable(struct fz *f, struct rd *r, bool bogus)
{
	uint64_t off, u;
	int rc;

	f->called = true;
	if (!bogus) {
		if (!f->n)
			return;
		off = f->live[rd8(r) % f->n].off;
		trace(f, "usable %#" PRIx64, off);
		check_usable(f, off, f->live[live_index(f, off)].len);
		check_info(f, &f->live[live_index(f, off)], 0);
		return;
	}
	if (!rd_bogus(f, r, &off))
		return;
	trace(f, "usable bogus %#" PRIx64, off);
	rc = heap_usable_size(f->h, off, &u);
	if (rc != -EINVAL)
		die(f, "usable_size(%#" PRIx64 ") of no block = %d", off, rc);
	rc = heap_block_info(f->h, off, &(struct heap_block_info){0});
	if (rc != -EINVAL)
		die(f, "block_info(%#" PRIx64 ") of no block = %d", off, rc);
}

/*
 * heap_reserve of an extent: KIND (bit 0 a span, bits 1-2 where, bit 7
 * arbitrary size and request, and then bit 6 an arbitrary offset and
 * bits 3-4 an arbitrary kind), then where: a recently freed block's
 * offset (it may be cached), the end of a live block, or any unit of the
 * pool; then SIZE and REQUEST bytes.  Most are refused.
 */
static void
op_reserve(struct fz *f, struct rd *r)
{
	struct heap_block_info bi;
	struct heap_stats a, b;
	uint8_t k = rd8(r);
	uint64_t off, unit, with, released = f->released;
	unsigned k2;
	int rc, want;

	if (f->n == MAX_LIVE)
		return;
	bi.span = k & 1;
	unit = bi.span ? f->page : f->g;
	switch (k >> 1 & 3) {
	case 0:
		if (!f->nrecent)
			return;
		off = f->recent[rd8(r) % f->nrecent];
		break;
	case 1:
		if (!f->n)
			return;
		k2 = rd8(r) % f->n;
		off = f->live[k2].off + f->live[k2].len;
		break;
	default:
		off = rdn(r, 3) * unit % f->pool;
		break;
	}
	off -= off % unit;
	bi.size = (1 + rd8(r) % (bi.span ? 16 : 64)) * unit;
	bi.requested = bi.size - rdn(r, 2) % unit;
	if (k & 0x80) {
		bi.size = rd_size(f, r);
		bi.requested = rd_size(f, r);
		if (k & 0x40)
			off = rdn(r, 8);
		if (k & 0x18)
			bi.span = (int)(k >> 3 & 3) - 1;
	}
	want = reserve_rule(f, off, &bi);
	if (!want && touches_live(f, off, bi.size, &with))
		want = -EBUSY;
	trace(f, "reserve %#" PRIx64 " %#" PRIx64 " (%#" PRIx64 ", span %d)",
	      off, bi.size, bi.requested, bi.span);
	get_stats(f, &a);
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = heap_reserve(f->h, off, &bi);
	call_end(f);
	get_stats(f, &b);
	if (rc != want)
		die(f, "reserve(%#" PRIx64 ", %#" PRIx64 ", span %d) = %d, "
		    "expected %d", off, bi.size, bi.span, rc, want);
	if (rc) {
		if (memcmp(&a, &b, sizeof(a)))
			die(f, "a refused reserve changed the statistics");
		return;
	}
	if (b.allocs != a.allocs || b.failed_allocs != a.failed_allocs)
		die(f, "a reserve counted as an allocation");
	/* Merged cached blocks may make pages free: one cut at most. */
	if (f->released - released > f->cut + f->range)
		die(f, "a reserve gave back %#" PRIx64 " bytes",
		    f->released - released);
	table_add(f, off, bi.requested, bi.size, bi.span);
	check_usable(f, off, bi.size);
	check_info(f, &f->live[f->n - 1], bi.span ? bi.requested : 0);
}

/* Does page p hold a byte of a live block? */
static bool
page_in_use(const struct fz *f, uint64_t p)
{
	unsigned i;

	for (i = 0; i < f->n; i++)
		if (overlaps(p * f->page, f->page, f->live[i].off, f->live[i].len))
			return true;
	return false;
}

/* Per size class: what the table holds, and nothing past the last class. */
static void
check_classes(struct fz *f)
{
	uint64_t blocks[HEAP_NCLASSES] = {0}, bytes[HEAP_NCLASSES] = {0};
	struct heap_class_stats cs;
	unsigned i, k;

	for (i = 0; i < f->n; i++) {
		k = 63 - (unsigned)__builtin_clzll(f->live[i].len);
		blocks[k]++;
		bytes[k] += f->live[i].len;
	}
	for (k = 0; k < HEAP_NCLASSES; k++) {
		if (heap_get_class_stats(f->h, k, &cs) != 0)
			die(f, "class stats %u refused", k);
		if (cs.live_blocks != blocks[k] || cs.live_bytes != bytes[k] ||
		    cs.min_size != 1ull << k ||
		    cs.max_size != (k < 63 ? (2ull << k) - 1 : UINT64_MAX))
			die(f, "class %u: %" PRIu64 " blocks of %" PRIu64 " bytes, "
			    "table: %" PRIu64 " of %" PRIu64, k, cs.live_blocks,
			    cs.live_bytes, blocks[k], bytes[k]);
	}
	if (heap_get_class_stats(f->h, HEAP_NCLASSES, &cs) != -EINVAL)
		die(f, "class stats past the last class accepted");
}

static void
op_trim(struct fz *f)
{
	uint64_t before = f->released, p;
	struct heap_stats st;
	int64_t rc;

	trace(f, "trim");
	f->failed_in_op = false;
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = heap_trim(f->h);
	call_end(f);
	if (rc < 0 || (uint64_t)rc != f->released - before)
		die(f, "trim = %" PRId64 ", release() accepted %" PRIu64, rc,
		    f->released - before);
	get_stats(f, &st);
	if (st.cached_blocks || st.cached_bytes)
		die(f, "trim left %" PRIu64 " blocks cached", st.cached_blocks);
	check_classes(f);
	if (f->failed_in_op)
		return;
	for (p = 0; p < f->pool / f->page; p++)
		if (page_dirty(f, p) && !page_in_use(f, p))
			die(f, "trim left free page %#" PRIx64 " dirty", p);
}

/*
 * One step of a trim in steps, of at most pages pages: it releases no more
 * than that (a short run, up to 256 granules, goes whole), and a trim that
 * ran with nothing else between its steps ends as op_trim does, with no
 * free page dirty and nothing cached.
 */
static void
op_trim_step(struct fz *f, unsigned pages)
{
	uint64_t before = f->released, p, most;
	bool first = !f->trimming;
	int rc;

	trace(f, "trim step of %u pages", pages);
	if (first) {
		f->trim_alone = true;
		f->failed_in_op = false;
	}
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = heap_trim_step(f->h, (uint64_t)pages * f->page);
	call_end(f);
	most = (uint64_t)pages * f->page + 256 * f->g;
	if (!first && f->released - before > most)
		die(f, "a trim step of %u pages released %" PRIu64 " bytes",
		    pages, f->released - before);
	if (first && rc != 1)
		die(f, "the first trim step = %d, not 1", rc);
	f->trimming = rc == 1;
	if (rc == 1 || !f->trim_alone || f->failed_in_op)
		return;
	for (p = 0; p < f->pool / f->page; p++)
		if (page_dirty(f, p) && !page_in_use(f, p))
			die(f, "a trim in steps left free page %#" PRIx64
			    " dirty", p);
}

/* realloc or resize of HEAP_OFF_NONE or of no block at all. */
static void
op_bogus_resize(struct fz *f, struct rd *r, bool resize)
{
	struct heap_stats before;
	uint64_t off = HEAP_OFF_NONE, size, out = 0;
	int rc, want;

	if (rd8(r) > 64 && !rd_bogus(f, r, &off))
		return;
	size = rd_size(f, r);
	if (!resize && off == HEAP_OFF_NONE) {
		op_alloc_via(f, size, 0, true);
		return;
	}
	trace(f, "%s bogus %#" PRIx64 " to %#" PRIx64,
	      resize ? "resize" : "realloc", off, size);
	get_stats(f, &before);
	call_begin(f, CALL_PLAIN, -1, 0);
	rc = resize ? heap_resize(f->h, off, size)
		    : heap_realloc(f->h, off, size, &out);
	call_end(f);
	want = size > f->pool ? -EFBIG : -EINVAL;
	if (rc != want)
		die(f, "%s(%#" PRIx64 ", %#" PRIx64 ") = %d, expected %d",
		    resize ? "resize" : "realloc", off, size, rc, want);
	expect_unchanged(f, &before, false);
}

static int
cmp_off(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * heap_next_block from where, in steps of at most max extents: exactly the
 * table's blocks that start at or after where, in address order, and no
 * statistic moved.
 */
static void
op_walk(struct fz *f, struct rd *r, unsigned max)
{
	uint64_t where = rdn(r, 4) % (f->pool + f->page), at = where;
	uint64_t want[MAX_LIVE] = {0};
	struct heap_stats before, after;
	unsigned i, n = 0, found = 0;
	int rc;

	f->called = true;
	trace(f, "walk from %#" PRIx64 " by %u", where, max);
	for (i = 0; i < f->n; i++)
		if (f->live[i].off >= where)
			want[n++] = f->live[i].off;
	qsort(want, n, sizeof(*want), cmp_off);
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	get_stats(f, &before);
	for (;;) {
		unsigned steps = max;
		uint64_t from = at;

		rc = heap_next_block(f->h, &at, &steps);
		if (rc == -EAGAIN) {
			if (steps != 0 || at <= from)
				die(f, "walk from %#" PRIx64 ": stopped at %#"
				    PRIx64 " with %u steps left", from, at,
				    steps);
			continue;
		}
		if (rc == 0)
			break;
		if (rc != 1 || found == n || at != want[found])
			die(f, "walk from %#" PRIx64 ": block %u at %#" PRIx64
			    " (%d), expected %#" PRIx64, where, found, at, rc,
			    found < n ? want[found] : 0);
		found++;
		at++;
	}
	if (found != n)
		die(f, "walk from %#" PRIx64 ": %u blocks of %u", where, found,
		    n);
	get_stats(f, &after);
	if (memcmp(&before, &after, sizeof(before)) != 0)
		die(f, "a walk changed the statistics");
}

static void
op_free_many(struct fz *f, unsigned every)
{
	unsigned i;

	for (i = f->n; i-- > 0;)
		if (i % every == 0)
			op_free(f, i, false, false);
}

static void
run_op(struct fz *f, struct rd *r)
{
	uint8_t code = rd8(r);
	unsigned param = code >> 4, k;
	uint64_t size, nmemb;

	f->called = false;

	switch (code & 15) {
	case 0: case 1: case 2:
		f->opname = "alloc";
		size = rd_size(f, r);
		op_alloc(f, size, rd_align(r));
		break;
	case 3:
		f->opname = "calloc";
		nmemb = rd8(r);
		nmemb = nmemb < 200 ? nmemb % 17 : rdn(r, 8);
		op_calloc(f, nmemb, rd_size(f, r));
		break;
	case 4:
		f->opname = "realloc";
		if (f->n) {
			k = rd8(r) % f->n;
			op_realloc(f, k, rd_size(f, r));
		}
		break;
	case 5:
		if ((param & 3) == 3) {
			f->opname = "split bogus";
			op_split_bogus(f, r);
		} else if (param & 1) {
			f->opname = "split";
			if (f->n) {
				k = rd8(r) % f->n;
				op_split(f, k, rd_size(f, r));
			}
		} else {
			f->opname = "resize";
			if (f->n) {
				k = rd8(r) % f->n;
				op_resize(f, k, rd_size(f, r));
			}
		}
		break;
	case 6: case 7:
		f->opname = "free";
		if (f->n)
			op_free(f, rd8(r) % f->n, param & 1, param & 2);
		break;
	case 8:
		if (param) {
			f->opname = "retain step";
			op_retain_step(f, param, param == 15);
			break;
		}
		f->opname = "free bogus";
		op_free_bogus(f, r);
		break;
	case 9:
		if (param & 2) {
			f->opname = "reserve";
			f->called = true;
			op_reserve(f, r);
			break;
		}
		f->opname = "usable_size";
		op_usable(f, r, param & 1);
		break;
	case 10:
		if (param == 0) {
			f->opname = "trim";
			op_trim(f);
			f->trimming = false;
		} else {
			f->opname = "trim step";
			op_trim_step(f, param);
			break;	/* not "something else": the trim's own */
		}
		break;
	case 11:
		if (param & 2) {
			f->opname = "walk";
			op_walk(f, r, (param >> 2) + 1);
			break;
		}
		f->opname = "bogus realloc/resize";
		op_bogus_resize(f, r, param & 1);
		break;
	case 12:
		f->opname = "burst";
		size = rd_size(f, r);
		for (k = 0; k <= param && f->n < MAX_LIVE; k++) {
			unsigned n = f->n;

			op_alloc(f, size, 0);
			check_all(f);
			if (f->n == n)
				break;
		}
		break;
	case 13:
		f->opname = "free many";
		op_free_many(f, param % 4 + 2);
		break;
	case 14:
		f->opname = "aligned alloc";
		op_alloc(f, rd_size(f, r), 1ull << (param + 4));
		break;
	default:
		f->opname = "calloc 1";
		op_calloc(f, 1, rd_size(f, r));
		break;
	}
	/* Operations that never reached the engine (full table...) skip it. */
	if (f->called) {
		if ((code & 15) != 10 || param == 0)
			f->trim_alone = false;
		check_all(f);
	}
}

/* ------------------------------------------------------------------ */
/* Setup and teardown */

static void
make_config(struct fz *f, struct rd *r, struct heap_config *hc)
{
	const uint32_t gran[4] = {8, 16, 64, 16};
	const uint32_t retain[4] = {0, HEAP_RETAIN_NONE, 1, 16};
	const uint64_t thr[8] = {0, 1, 4096, 8192, 512, 65536, 1 << 20, 3000};
	uint8_t b0 = rd8(r), b3, b4;
	uint64_t pages = 1 + rdn(r, 2) % MAX_PAGES;

	b3 = rd8(r);
	b4 = rd8(r);
	memset(hc, 0, sizeof(*hc));
	/* A huge page's size needs no huge pages: the engine keeps offsets. */
	f->page = (b4 & 0xf0) == 0xc0 ? 8192u << (b4 & 0x0f) % 9 : PAGE;
	hc->granularity = (b4 & 0xf0) == 0xe0 ? 512u << (b4 & 3)
					      : gran[b0 & 3];
	hc->cache_blocks = b0 & 4 ? HEAP_CACHE_NONE : 0;
	hc->retain_pages = retain[(b0 >> 3) & 3];
	hc->large_threshold = thr[b0 >> 5];
	hc->page_size = (uint32_t)f->page;
	hc->max_size = pages * PAGE;
	if ((b3 & 0x80) && (b3 & 0x7f) && pages > 1)
		hc->max_size -= b3 & 0x7f;
	hc->release = cb_release;
	hc->zero = cb_zero;
	hc->copy = cb_copy;
	hc->ctx = f;
	f->pool = round_to(pages * PAGE, f->page);
	f->g = hc->granularity;
	f->thr = hc->large_threshold ? round_to(hc->large_threshold, f->g)
				     : HEAP_DEFAULT_LARGE_THRESHOLD;
	f->fail_every = (b4 & 0xf0) == 0xf0 ? (b4 & 0x0f) + 1u : 0;
	if ((b4 & 0xf0) == 0xd0)
		hc->retain_cut = (b4 & 0x0f) == 0x0f
					 ? UINT64_MAX
					 : ((b4 & 0x0f) + 1u) * f->page - 100;
	/* What a cut may release (no limit: more than the pool), and the
	 * longest range the queue holds: a small block's pages and the two
	 * it shares. */
	f->cut = hc->retain_cut == UINT64_MAX ? 4 * f->pool
		 : round_to(hc->retain_cut ? hc->retain_cut : 4u << 20, f->page);
	f->range = round_to(f->thr, f->page) + 2 * f->page;
}

/* Free everything: the pool must be one clean run again. */
static void
finish(struct fz *f)
{
	const int codes[] = {0, -EINVAL, -ENOMEM, -EFBIG, -EOVERFLOW, -EAGAIN,
			     -EBUSY, -EFAULT, -12345};
	struct heap_stats st;
	unsigned i;

	check_classes(f);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!heap_strerror(codes[i]) || !heap_strerror(codes[i])[0])
			die(f, "heap_strerror(%d) has no text", codes[i]);

	f->opname = "final free";
	while (f->n) {
		op_free(f, f->n - 1, false, false);
		f->op++;
	}
	f->opname = "final trim";
	op_trim(f);
	check_all(f);
	get_stats(f, &st);
	if (st.live_blocks || st.allocated_bytes || st.free_bytes != f->pool ||
	    st.free_runs != 1 || st.spans || st.largest_free != f->pool)
		die(f, "the empty heap is not one free run: %" PRIu64 " runs, "
		    "%" PRIu64 " free bytes", st.free_runs, st.free_bytes);
	if (!f->fail_every && st.resident_bytes)
		die(f, "the trimmed empty heap keeps %" PRIu64 " resident bytes",
		    st.resident_bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = &F;
	struct rd r = {data, size};
	struct heap_config hc;
	int rc;

	memset(f, 0, sizeof(*f));
	f->hidden = -1;
	f->trace = getenv("FUZZ_ENGINE_TRACE") != NULL;
	make_config(f, &r, &hc);
	rc = heap_create(&hc, &f->h);
	if (rc)
		die(f, "heap_create(size %#" PRIx64 ", g %u, threshold %#" PRIx64
		    ") = %d", hc.max_size, hc.granularity, hc.large_threshold,
		    rc);
	trace(f, "heap: pool %#" PRIx64 " (asked %#" PRIx64 "), g %" PRIu64
	      ", threshold %#" PRIx64 ", retain %u, cache %s, release fails "
	      "every %u", f->pool, hc.max_size, f->g, f->thr, hc.retain_pages,
	      hc.cache_blocks ? "off" : "on", f->fail_every);
	check_all(f);
	while (r.n > 0 && f->op < MAX_OPS) {
		f->op++;
		run_op(f, &r);
	}
	finish(f);
	heap_destroy(f->h);
	f->h = NULL;
	return 0;
}
