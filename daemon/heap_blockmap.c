/*
 * heap_blockmap.c - where extents start, and which are live small blocks.
 *
 * Two bits per granule, kept out of band in chunks of CHUNK_GRANULES
 * granules that exist only while one of their bits is set:
 *
 *   start  set at the first granule of every extent (run, live or cached
 *          block, span).  A small block or a short run ends where the next
 *          extent starts, so neither needs a record of its own.
 *   live   set at the first granule of every live small block.  The next
 *          slack_bits = log2(g) bits, inside the block, hold its slack
 *          (rounded size - requested size).  A block shorter than
 *          slack_bits + 1 granules keeps only the high bits of its slack.
 *          A cached block has its own mark here (heap_cache.c).
 *
 * The start word and the live word of each 64 granules are stored side by
 * side, so a free, which reads both at one granule, touches one cache line.
 *
 * Cost: 2 bits per granule, 1.56% of the bytes of 64-byte blocks at the
 * default granularity of 16, plus a few words of header per 64 KiB chunk.
 *
 * The chunk directory is a hash table keyed by chunk index (open addressing,
 * linear probing, backward-shift deletion), so its size follows the chunks
 * in use and not max_size.  In front of it, a direct-mapped table of as many
 * entries, indexed by the chunk index's low bits, answers most lookups with
 * one load: the chunks of a pool are mostly consecutive, because placement
 * prefers low addresses.  Its entries are only hints kept exact: an entry
 * names a live chunk under that chunk's index, or is empty (NO_CHUNK).
 * Strided indices that collide in it just fall through to the hash table,
 * whose multiplicative hash keeps probes short whatever the pattern.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"

static uint64_t
chunk_hash(uint64_t index, uint64_t cap)
{
	return (index * 0x9E3779B97F4A7C15ull) >> 32 & (cap - 1);
}

/* A front table of cap empty entries. */
static struct slot *
front_new(struct heap *h, uint64_t cap)
{
	struct slot *f = heap_meta_alloc(h, cap * sizeof(*f));
	uint64_t i;

	for (i = 0; i < cap; i++) {
		f[i].index = NO_CHUNK;
		f[i].c = NULL;
	}
	return f;
}

static void
front_put(struct chunk_map *m, struct chunk *c)
{
	struct slot *f = &m->front[c->index & (m->cap - 1)];

	f->index = c->index;
	f->c = c;
}

/* Eight slots to start with: up to six chunks (384 KiB of a pool at the
 * default granularity) before the first resize. */
int
bm_init(struct heap *h)
{
	h->chunks.cap = 8;
	h->chunks.slot = heap_meta_alloc(h, h->chunks.cap * sizeof(struct slot));
	memset(h->chunks.slot, 0, h->chunks.cap * sizeof(struct slot));
	h->chunks.front = front_new(h, h->chunks.cap);
	h->chunks.mask = h->chunks.cap - 1;
	return 0;
}

/*
 * The chunk with this index in the hash table, or NULL when none of its
 * bits is set.  The slots carry the index, so a probe reads no chunk.
 */
struct chunk *
bm_chunk_find(const struct heap *h, uint64_t index)
{
	const struct chunk_map *m = &h->chunks;
	uint64_t i;

	for (i = chunk_hash(index, m->cap);; i = (i + 1) & (m->cap - 1)) {
		const struct slot *sl = &m->slot[i];

		if (!sl->c || sl->index == index)
			return sl->c;
	}
}

/*
 * The inline bm_chunk asks here when the front table does not name the
 * chunk; a chunk found takes its front entry.
 */
struct chunk *
bm_chunk_probe(struct heap *h, uint64_t index)
{
	struct chunk *c = bm_chunk_find(h, index);

	if (c)
		front_put(&h->chunks, c);
	return c;
}

static void
map_place(struct chunk_map *m, struct chunk *c)
{
	uint64_t i = chunk_hash(c->index, m->cap);

	while (m->slot[i].c)
		i = (i + 1) & (m->cap - 1);
	m->slot[i].index = c->index;
	m->slot[i].c = c;
}

/* Rehash into cap slots: twice as many when full, half when sparse. */
static void
map_resize(struct heap *h, uint64_t cap)
{
	struct chunk_map *m = &h->chunks;
	struct slot *old = m->slot;
	uint64_t oldcap = m->cap, i;

	m->cap = cap;
	m->slot = heap_meta_alloc(h, m->cap * sizeof(struct slot));
	memset(m->slot, 0, m->cap * sizeof(struct slot));
	heap_meta_free(h, m->front, oldcap * sizeof(struct slot));
	m->front = front_new(h, m->cap);
	m->mask = m->cap - 1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].c) {
			map_place(m, old[i].c);
			front_put(m, old[i].c);
		}
	}
	heap_meta_free(h, old, oldcap * sizeof(struct slot));
}

/*
 * map_resize to twice the slots with allocations that may fail (bm_make):
 * -ENOMEM, the map as it was, when one does.  Apart from map_resize, on
 * every chunk's way in: sharing its body cost the allocations' steady
 * loops instructions.
 */
static int
map_grow_try(struct heap *h)
{
	struct chunk_map *m = &h->chunks;
	uint64_t oldcap = m->cap, cap = 2 * oldcap, i;
	struct slot *old = m->slot, *slot, *front;

	slot = meta_try_alloc(h, cap * sizeof(struct slot));
	front = slot ? meta_try_alloc(h, cap * sizeof(struct slot)) : NULL;
	if (!front) {
		if (slot)
			heap_meta_free(h, slot, cap * sizeof(struct slot));
		return -ENOMEM;
	}
	memset(slot, 0, cap * sizeof(struct slot));
	for (i = 0; i < cap; i++) {
		front[i].index = NO_CHUNK;
		front[i].c = NULL;
	}
	heap_meta_free(h, m->front, oldcap * sizeof(struct slot));
	m->cap = cap;
	m->slot = slot;
	m->front = front;
	m->mask = cap - 1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].c) {
			map_place(m, old[i].c);
			front_put(m, old[i].c);
		}
	}
	heap_meta_free(h, old, oldcap * sizeof(struct slot));
	return 0;
}

/*
 * The chunks of the given offsets' granules that do not exist yet, made
 * now, empty, with allocations that may fail, the map grown first if it
 * must (heap_reserve, before its block's bits go in): their pointers in
 * made[], *nmade of them.  n is at most 3.  -ENOMEM when an allocation
 * fails, nothing made (the map may have grown).  The caller drops those
 * left empty (bm_drop_if_empty).
 */
int
bm_make(struct heap *h, const uint64_t *offs, unsigned n, struct chunk **made,
	unsigned *nmade)
{
	struct chunk_map *m = &h->chunks;
	uint64_t want[3];
	unsigned i, j, k = 0;

	assert(n <= 3);
	*nmade = 0;
	for (i = 0; i < n; i++) {
		uint64_t idx = (offs[i] >> h->gshift) >> CHUNK_SHIFT;

		for (j = 0; j < k && want[j] != idx; j++)
			;
		if (j == k && !bm_chunk(h, idx))
			want[k++] = idx;
	}
	if (k && (m->count + k) * 4 > m->cap * 3 && map_grow_try(h))
		return -ENOMEM;
	for (i = 0; i < k; i++) {
		if (!(made[i] = meta_try_alloc(h, sizeof(struct chunk)))) {
			while (i-- > 0)
				heap_meta_free(h, made[i], sizeof(struct chunk));
			return -ENOMEM;
		}
	}
	/* All or none: the map has room for them all. */
	for (i = 0; i < k; i++) {
		memset(made[i], 0, sizeof(*made[i]));
		made[i]->index = want[i];
		map_place(m, made[i]);
		front_put(m, made[i]);
		m->count++;
	}
	*nmade = k;
	return 0;
}

static struct chunk *
chunk_get(struct heap *h, uint64_t index)
{
	struct chunk *c = bm_chunk(h, index);

	if (c)
		return c;
	if ((h->chunks.count + 1) * 4 > h->chunks.cap * 3)
		map_resize(h, h->chunks.cap * 2);
	c = heap_meta_alloc(h, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->index = index;
	map_place(&h->chunks, c);
	front_put(&h->chunks, c);
	h->chunks.count++;
	return c;
}

static void
chunk_drop(struct heap *h, struct chunk *c)
{
	struct chunk_map *m = &h->chunks;
	uint64_t i = chunk_hash(c->index, m->cap), j;

	while (m->slot[i].c != c)
		i = (i + 1) & (m->cap - 1);
	/* Backward-shift deletion keeps every probe sequence unbroken. */
	for (j = (i + 1) & (m->cap - 1); m->slot[j].c;
	     j = (j + 1) & (m->cap - 1)) {
		uint64_t home = chunk_hash(m->slot[j].index, m->cap);

		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i].c = NULL;
	m->count--;
	if (m->front[c->index & (m->cap - 1)].c == c) {
		m->front[c->index & (m->cap - 1)].index = NO_CHUNK;
		m->front[c->index & (m->cap - 1)].c = NULL;
	}
	heap_meta_free(h, c, sizeof(*c));
	if (m->cap > 8 && m->count * 8 < m->cap)
		map_resize(h, m->cap / 2);
}

/*
 * A chunk goes when it holds no bit.  Live bits without a start bit in
 * the same chunk are rare (a slack field spilling over from the chunk
 * before), so they are looked for only when the last start bit goes.
 */
void
bm_drop_if_empty(struct heap *h, struct chunk *c)
{
	unsigned w;

	if (c->nstart)
		return;
	for (w = 0; w < CHUNK_WORDS; w++)
		if (LW(c, w))
			return;
	chunk_drop(h, c);
}

/* Granule number of off, split into chunk index and bit. */
#define GRANULE(h, off) ((off) >> (h)->gshift)
#define CHUNK_OF(gi) ((gi) >> CHUNK_SHIFT)
#define BIT_OF(gi) ((gi) & (CHUNK_GRANULES - 1))

static bool
live_get_bit(const struct chunk *c, uint64_t bit)
{
	return LW(c, bit / 64) >> (bit % 64) & 1;
}

/* bm_set_start for an offset whose chunk does not exist yet. */
void
bm_set_start_slow(struct heap *h, uint64_t off)
{
	uint64_t gi = GRANULE(h, off), bit = BIT_OF(gi);
	struct chunk *c = chunk_get(h, CHUNK_OF(gi));

	sw_set(c, (unsigned)(bit / 64), 1ull << (bit % 64));
}

static void
live_put(struct heap *h, uint64_t gi, bool on)
{
	uint64_t bit = BIT_OF(gi);
	struct chunk *c = on ? chunk_get(h, CHUNK_OF(gi))
			     : bm_chunk(h, CHUNK_OF(gi));

	if (!c || live_get_bit(c, bit) == on)
		return;
	if (on) {
		LW(c, bit / 64) |= 1ull << (bit % 64);
	} else {
		LW(c, bit / 64) &= ~(1ull << (bit % 64));
		bm_drop_if_empty(h, c);
	}
}

static bool
live_get(struct heap *h, uint64_t gi)
{
	struct chunk *c = bm_chunk(h, CHUNK_OF(gi));

	return c && live_get_bit(c, BIT_OF(gi));
}


/* n < 64 live bits at bit b of chunk c, which may straddle two words. */
static uint64_t
field_get(const struct chunk *c, uint64_t b, unsigned n)
{
	uint64_t i = b / 64;
	unsigned sh = (unsigned)(b % 64);
	uint64_t v = LW(c, i) >> sh;

	if (sh + n > 64)
		v |= LW(c, i + 1) << (64 - sh);
	return v & ((1ull << n) - 1);
}

static void
field_put(struct chunk *c, uint64_t b, unsigned n, uint64_t v)
{
	uint64_t i = b / 64, mask = (1ull << n) - 1;
	unsigned sh = (unsigned)(b % 64);

	LW(c, i) = (LW(c, i) & ~(mask << sh)) | (v << sh);
	if (sh + n > 64) {
		unsigned lo = 64 - sh;

		LW(c, i + 1) = (LW(c, i + 1) & ~(mask >> lo)) | (v >> lo);
	}
}

/*
 * A block's live field: its live bit and slack bits, room + 1 bits from its
 * first granule.  Returns the chunk holding all of them, or NULL when they
 * straddle two chunks (rare: then the bits are handled one by one).
 */
static struct chunk *
live_field_chunk(struct heap *h, uint64_t gi, unsigned nbits, bool make)
{
	if (BIT_OF(gi) + nbits > CHUNK_GRANULES)
		return NULL;
	return make ? chunk_get(h, CHUNK_OF(gi)) : bm_chunk(h, CHUNK_OF(gi));
}

void
bm_set_live_slow(struct heap *h, uint64_t off, uint64_t len, uint64_t slack)
{
	uint64_t gi = GRANULE(h, off);
	unsigned room = bm_room(h, len);
	uint64_t field = 1 | (slack >> (h->slack_bits - room)) << 1;
	struct chunk *c = live_field_chunk(h, gi, room + 1, true);
	unsigned i;

	if (c) {
		field_put(c, BIT_OF(gi), room + 1, field);
		return;
	}
	for (i = 0; i <= room; i++)
		live_put(h, gi + i, field >> i & 1);
}

uint64_t
bm_slack(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t gi = GRANULE(h, off), field = 0;
	unsigned room = bm_room(h, len), i;
	struct chunk *c = live_field_chunk(h, gi, room + 1, false);

	if (c)
		field = field_get(c, BIT_OF(gi), room + 1);
	else
		for (i = 0; i <= room; i++)
			field |= (uint64_t)live_get(h, gi + i) << i;
	return field >> 1 << (h->slack_bits - room);
}

/* Clear a block's live bits; returns the slack they held. */
uint64_t
bm_clear_live_slow(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t gi = GRANULE(h, off), slack;
	unsigned room = bm_room(h, len), i;
	struct chunk *c = live_field_chunk(h, gi, room + 1, false);

	if (c) {
		uint64_t old = field_get(c, BIT_OF(gi), room + 1);

		slack = old >> 1 << (h->slack_bits - room);
		field_put(c, BIT_OF(gi), room + 1, 0);
		return slack;	/* the block's start bit keeps c */
	}
	slack = bm_slack(h, off, len);
	for (i = 0; i <= room; i++)
		live_put(h, gi + i, false);
	return slack;
}

/*
 * The first start bit at granule gi or after it, below granule gend:
 * returns its granule, or gend.  Chunks that do not exist hold no starts
 * and are skipped whole.
 */
uint64_t
bm_scan_forward(struct heap *h, uint64_t gi, uint64_t gend)
{
	while (gi < gend) {
		uint64_t ci = CHUNK_OF(gi), base = ci << CHUNK_SHIFT;
		struct chunk *c = bm_chunk(h, ci);

		if (c) {
			unsigned w = (unsigned)(BIT_OF(gi) / 64);
			uint64_t bits = SW(c, w) & (~0ull << (gi % 64));

			/* The summary word skips empty start words. */
			if (!bits && (w = sw_next(c, w)) < CHUNK_WORDS)
				bits = SW(c, w);
			if (bits) {
				uint64_t f = base + (uint64_t)w * 64 +
					(uint64_t)__builtin_ctzll(bits);

				return f < gend ? f : gend;
			}
		}
		gi = base + CHUNK_GRANULES;
	}
	return gend;
}

/*
 * The last start bit below granule gi and at or above granule gfloor:
 * returns its granule (and whether a live block starts there), or
 * UINT64_MAX.
 */
uint64_t
bm_scan_backward(struct heap *h, uint64_t gi, uint64_t gfloor, bool *live)
{
	while (gi > gfloor) {
		uint64_t top = gi - 1, ci = CHUNK_OF(top);
		uint64_t base = ci << CHUNK_SHIFT;
		struct chunk *c = bm_chunk(h, ci);

		if (c) {
			unsigned w = (unsigned)(BIT_OF(top) / 64);
			uint64_t bits = SW(c, w) & (~0ull >> (63 - top % 64));

			if (!bits && (w = sw_prev(c, w)) < CHUNK_WORDS)
				bits = SW(c, w);
			if (bits) {
				uint64_t b = 63 - (uint64_t)__builtin_clzll(bits);
				uint64_t f = base + (uint64_t)w * 64 + b;

				if (f < gfloor)
					return UINT64_MAX;
				*live = LW(c, w) >> b & 1;
				return f;
			}
		}
		gi = base;
	}
	return UINT64_MAX;
}

/* Total start bits: check compares it with the number of extents. */
uint64_t
bm_count_starts(struct heap *h)
{
	uint64_t i, n = 0;

	for (i = 0; i < h->chunks.cap; i++)
		if (h->chunks.slot[i].c)
			n += h->chunks.slot[i].c->nstart;
	return n;
}

void
bm_destroy(struct heap *h)
{
	uint64_t i;

	for (i = 0; i < h->chunks.cap; i++)
		heap_meta_free(h, h->chunks.slot[i].c, sizeof(struct chunk));
	heap_meta_free(h, h->chunks.slot, h->chunks.cap * sizeof(struct slot));
	heap_meta_free(h, h->chunks.front, h->chunks.cap * sizeof(struct slot));
}
