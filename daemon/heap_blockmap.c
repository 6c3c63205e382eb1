/*
 * heap_blockmap.c - where extents start, and which are live small blocks.
 *
 * Two bits per granule, kept out of band in chunks of CHUNK_GRANULES
 * granules that exist only while one of their bits is set:
 *
 *   start  set at the first granule of every extent (run, live or cached
 *          block, span).  A small block ends where the next extent starts,
 *          so its size needs no record of its own.
 *   live   set at the first granule of every live small block.  The next
 *          slack_bits = log2(g) bits, inside the block, hold its slack
 *          (rounded size - requested size).  A block shorter than
 *          slack_bits + 1 granules keeps only the high bits of its slack.
 *
 * Cost: 2 bits per granule, 1.56% of the bytes of 64-byte blocks at the
 * default granularity of 16, plus 32 bytes of header per 64 KiB chunk.
 *
 * The chunk directory is a hash table keyed by chunk index (open addressing,
 * linear probing, backward-shift deletion), so its size follows the chunks
 * in use and not max_size.
 */
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"

static uint64_t
chunk_hash(uint64_t index, uint64_t cap)
{
	return (index * 0x9E3779B97F4A7C15ull) >> 32 & (cap - 1);
}

int
bm_init(struct heap *h)
{
	h->chunks.cap = 16;
	h->chunks.slot = heap_meta_alloc(h, h->chunks.cap * sizeof(void *));
	memset(h->chunks.slot, 0, h->chunks.cap * sizeof(void *));
	return 0;
}

static struct chunk *
chunk_lookup(struct heap *h, uint64_t index)
{
	struct chunk_map *m = &h->chunks;
	uint64_t i;

	if (m->last && m->last->index == index)
		return m->last;
	for (i = chunk_hash(index, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct chunk *c = m->slot[i];

		if (!c)
			return NULL;
		if (c->index == index)
			return m->last = c;
	}
}

static void
map_place(struct chunk_map *m, struct chunk *c)
{
	uint64_t i = chunk_hash(c->index, m->cap);

	while (m->slot[i])
		i = (i + 1) & (m->cap - 1);
	m->slot[i] = c;
}

static void
map_grow(struct heap *h)
{
	struct chunk_map *m = &h->chunks;
	struct chunk **old = m->slot;
	uint64_t oldcap = m->cap, i;

	m->cap *= 2;
	m->slot = heap_meta_alloc(h, m->cap * sizeof(void *));
	memset(m->slot, 0, m->cap * sizeof(void *));
	for (i = 0; i < oldcap; i++)
		if (old[i])
			map_place(m, old[i]);
	heap_meta_free(h, old, oldcap * sizeof(void *));
}

static struct chunk *
chunk_get(struct heap *h, uint64_t index)
{
	struct chunk *c = chunk_lookup(h, index);

	if (c)
		return c;
	if ((h->chunks.count + 1) * 4 > h->chunks.cap * 3)
		map_grow(h);
	c = heap_meta_alloc(h, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->index = index;
	map_place(&h->chunks, c);
	h->chunks.count++;
	return h->chunks.last = c;
}

static void
chunk_drop(struct heap *h, struct chunk *c)
{
	struct chunk_map *m = &h->chunks;
	uint64_t i = chunk_hash(c->index, m->cap), j;

	while (m->slot[i] != c)
		i = (i + 1) & (m->cap - 1);
	/* Backward-shift deletion keeps every probe sequence unbroken. */
	for (j = (i + 1) & (m->cap - 1); m->slot[j]; j = (j + 1) & (m->cap - 1)) {
		uint64_t home = chunk_hash(m->slot[j]->index, m->cap);

		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i] = NULL;
	m->count--;
	if (m->last == c)
		m->last = NULL;
	heap_meta_free(h, c, sizeof(*c));
}

static void
chunk_maybe_drop(struct heap *h, struct chunk *c)
{
	if (c->nstart == 0 && c->nlive == 0)
		chunk_drop(h, c);
}

/* Granule number of off, split into chunk index and bit. */
#define GRANULE(h, off) ((off) >> (h)->gshift)
#define CHUNK_OF(gi) ((gi) / CHUNK_GRANULES)
#define BIT_OF(gi) ((gi) % CHUNK_GRANULES)

static bool
bit_get(const uint64_t *w, uint64_t bit)
{
	return w[bit / 64] >> (bit % 64) & 1;
}

bool
bm_is_start(struct heap *h, uint64_t off)
{
	uint64_t gi = GRANULE(h, off);
	struct chunk *c = chunk_lookup(h, CHUNK_OF(gi));

	return c && bit_get(c->start, BIT_OF(gi));
}

void
bm_set_start(struct heap *h, uint64_t off)
{
	uint64_t gi = GRANULE(h, off), bit = BIT_OF(gi);
	struct chunk *c = chunk_get(h, CHUNK_OF(gi));

	if (!bit_get(c->start, bit)) {
		c->start[bit / 64] |= 1ull << (bit % 64);
		c->nstart++;
	}
}

void
bm_clear_start(struct heap *h, uint64_t off)
{
	uint64_t gi = GRANULE(h, off), bit = BIT_OF(gi);
	struct chunk *c = chunk_lookup(h, CHUNK_OF(gi));

	if (c && bit_get(c->start, bit)) {
		c->start[bit / 64] &= ~(1ull << (bit % 64));
		c->nstart--;
		chunk_maybe_drop(h, c);
	}
}

static void
live_put(struct heap *h, uint64_t gi, bool on)
{
	uint64_t bit = BIT_OF(gi);
	struct chunk *c = on ? chunk_get(h, CHUNK_OF(gi))
			     : chunk_lookup(h, CHUNK_OF(gi));

	if (!c || bit_get(c->live, bit) == on)
		return;
	if (on) {
		c->live[bit / 64] |= 1ull << (bit % 64);
		c->nlive++;
	} else {
		c->live[bit / 64] &= ~(1ull << (bit % 64));
		c->nlive--;
		chunk_maybe_drop(h, c);
	}
}

static bool
live_get(struct heap *h, uint64_t gi)
{
	struct chunk *c = chunk_lookup(h, CHUNK_OF(gi));

	return c && bit_get(c->live, BIT_OF(gi));
}

bool
bm_is_live(struct heap *h, uint64_t off)
{
	return live_get(h, GRANULE(h, off));
}

/* How many slack bits a block of len bytes has room for. */
static unsigned
slack_room(const struct heap *h, uint64_t len)
{
	uint64_t n = (len >> h->gshift) - 1;

	return n < h->slack_bits ? (unsigned)n : h->slack_bits;
}

/* The slack as the block's bits can hold it (high bits kept). */
uint64_t
bm_stored_slack(const struct heap *h, uint64_t len, uint64_t slack)
{
	unsigned drop = h->slack_bits - slack_room(h, len);

	return slack >> drop << drop;
}

/* n < 64 bits at bit b of w, which may straddle two words. */
static uint64_t
field_get(const uint64_t *w, uint64_t b, unsigned n)
{
	uint64_t i = b / 64;
	unsigned sh = (unsigned)(b % 64);
	uint64_t v = w[i] >> sh;

	if (sh + n > 64)
		v |= w[i + 1] << (64 - sh);
	return v & ((1ull << n) - 1);
}

static void
field_put(uint64_t *w, uint64_t b, unsigned n, uint64_t v)
{
	uint64_t i = b / 64, mask = (1ull << n) - 1;
	unsigned sh = (unsigned)(b % 64);

	w[i] = (w[i] & ~(mask << sh)) | (v << sh);
	if (sh + n > 64) {
		unsigned lo = 64 - sh;

		w[i + 1] = (w[i + 1] & ~(mask >> lo)) | (v >> lo);
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
	return make ? chunk_get(h, CHUNK_OF(gi)) : chunk_lookup(h, CHUNK_OF(gi));
}

void
bm_set_live(struct heap *h, uint64_t off, uint64_t len, uint64_t slack)
{
	uint64_t gi = GRANULE(h, off);
	unsigned room = slack_room(h, len);
	uint64_t field = 1 | (slack >> (h->slack_bits - room)) << 1;
	struct chunk *c = live_field_chunk(h, gi, room + 1, true);
	unsigned i;

	if (c) {
		uint64_t old = field_get(c->live, BIT_OF(gi), room + 1);

		/*
		 * In one chunk, nlive counts only the live bit: the slack
		 * bits share its chunk, so they never outlive it.
		 */
		field_put(c->live, BIT_OF(gi), room + 1, field);
		c->nlive += (uint32_t)(~old & 1);
		return;
	}
	for (i = 0; i <= room; i++)
		live_put(h, gi + i, field >> i & 1);
}

uint64_t
bm_slack(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t gi = GRANULE(h, off), field = 0;
	unsigned room = slack_room(h, len), i;
	struct chunk *c = live_field_chunk(h, gi, room + 1, false);

	if (c)
		field = field_get(c->live, BIT_OF(gi), room + 1);
	else
		for (i = 0; i <= room; i++)
			field |= (uint64_t)live_get(h, gi + i) << i;
	return field >> 1 << (h->slack_bits - room);
}

/* Clear a block's live bits; returns the slack they held. */
uint64_t
bm_clear_live(struct heap *h, uint64_t off, uint64_t len)
{
	uint64_t gi = GRANULE(h, off), slack;
	unsigned room = slack_room(h, len), i;
	struct chunk *c = live_field_chunk(h, gi, room + 1, false);

	if (c) {
		uint64_t old = field_get(c->live, BIT_OF(gi), room + 1);

		slack = old >> 1 << (h->slack_bits - room);
		field_put(c->live, BIT_OF(gi), room + 1, 0);
		c->nlive -= (uint32_t)(old & 1);
		chunk_maybe_drop(h, c);
		return slack;
	}
	slack = bm_slack(h, off, len);
	for (i = 0; i <= room; i++)
		live_put(h, gi + i, false);
	return slack;
}

/*
 * Is a live small block at off?  If so its length: the distance to the next
 * extent start before limit.  One chunk lookup in the common case.
 */
bool
bm_live_block(struct heap *h, uint64_t off, uint64_t limit, uint64_t *len)
{
	uint64_t gi = GRANULE(h, off), bit = BIT_OF(gi), w, bits;
	uint64_t gend = GRANULE(h, limit), base, found;
	struct chunk *c = chunk_lookup(h, CHUNK_OF(gi));

	if (!c || !bit_get(c->start, bit) || !bit_get(c->live, bit))
		return false;
	base = CHUNK_OF(gi) * CHUNK_GRANULES;
	w = (bit + 1) / 64;
	if (bit + 1 < CHUNK_GRANULES) {
		bits = c->start[w] & (~0ull << ((bit + 1) % 64));
		for (;;) {
			if (bits) {
				found = base + w * 64 +
					(uint64_t)__builtin_ctzll(bits);
				*len = (found < gend ? found << h->gshift
						     : limit) - off;
				return true;
			}
			if (++w == CHUNK_WORDS)
				break;
			bits = c->start[w];
		}
	}
	/* The block runs past its chunk: carry on in the next ones. */
	*len = bm_next_start(h, ((base + CHUNK_GRANULES - 1) << h->gshift),
			     limit) - off;
	return true;
}

/*
 * The first extent start after off and before limit (exclusive), or limit.
 * Chunks that do not exist hold no starts and are skipped whole.
 */
uint64_t
bm_next_start(struct heap *h, uint64_t off, uint64_t limit)
{
	uint64_t gi = GRANULE(h, off) + 1, gend = GRANULE(h, limit);

	while (gi < gend) {
		struct chunk *c = chunk_lookup(h, CHUNK_OF(gi));
		uint64_t bit = BIT_OF(gi);
		uint64_t cend = (CHUNK_OF(gi) + 1) * CHUNK_GRANULES;

		if (c) {
			uint64_t w = bit / 64;
			uint64_t bits = c->start[w] & (~0ull << (bit % 64));

			for (;;) {
				if (bits) {
					uint64_t found = CHUNK_OF(gi) * CHUNK_GRANULES +
						w * 64 + (uint64_t)__builtin_ctzll(bits);

					return found < gend ? found << h->gshift
							    : limit;
				}
				if (++w == CHUNK_WORDS)
					break;
				bits = c->start[w];
			}
		}
		gi = cend;
	}
	return limit;
}

/*
 * The start of the extent that ends at off (off > 0), if it lies in the same
 * chunk as off - 1; false when the search would leave that chunk.
 */
bool
bm_prev_start(struct heap *h, uint64_t off, uint64_t *prev, bool *live)
{
	uint64_t gi = GRANULE(h, off) - 1, bit = BIT_OF(gi);
	struct chunk *c = chunk_lookup(h, CHUNK_OF(gi));
	uint64_t w = bit / 64, bits;

	if (!c)
		return false;
	bits = c->start[w] & (~0ull >> (63 - bit % 64));
	for (;;) {
		if (bits) {
			uint64_t b = w * 64 + 63 -
				(uint64_t)__builtin_clzll(bits);

			*prev = (CHUNK_OF(gi) * CHUNK_GRANULES + b) << h->gshift;
			*live = bit_get(c->live, b);
			return true;
		}
		if (w == 0)
			return false;
		bits = c->start[--w];
	}
}

/* Total start bits: check compares it with the number of extents. */
uint64_t
bm_count_starts(struct heap *h)
{
	uint64_t i, n = 0;

	for (i = 0; i < h->chunks.cap; i++)
		if (h->chunks.slot[i])
			n += h->chunks.slot[i]->nstart;
	return n;
}

void
bm_destroy(struct heap *h)
{
	uint64_t i;

	for (i = 0; i < h->chunks.cap; i++)
		if (h->chunks.slot[i])
			heap_meta_free(h, h->chunks.slot[i], sizeof(struct chunk));
	heap_meta_free(h, h->chunks.slot, h->chunks.cap * sizeof(void *));
}
