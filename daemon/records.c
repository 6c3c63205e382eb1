/*
 * records.c - fixed-size records cut from aligned chunks.
 *
 * The daemon keeps a struct block for every live block of every pool and
 * a struct ref for every holder but a block's first (pool.h): a million
 * small blocks are a million records at least.  One malloc each cost 16 bytes of header on top of records of 48
 * and 64 bytes, and what the client let go of stayed in malloc's free
 * lists for good.  This file takes records of one size from chunks of
 * RECORDS_CHUNK bytes instead.
 *
 * The algorithm
 *
 *   A chunk is RECORDS_CHUNK bytes mapped anonymously at an address that
 *   is a multiple of RECORDS_CHUNK, so the chunk of a record is its
 *   address with the low bits cleared: no header per record, no lookup.
 *   The chunk's own header (struct records_chunk) sits at its start and
 *   the records after it, per_chunk of them, stride bytes apart.
 *
 *   Inside a chunk, records [0, carved) have been taken at least once;
 *   those given back are on the chunk's free list, linked through their
 *   first word.  A take pops the free list, else carves the next record:
 *   pages past the last record carved are never touched, so a new chunk
 *   costs resident memory only as it fills.
 *
 *   Chunks with free records and live ones are on one of RECORDS_CLASSES
 *   lists by how full they are: class live * RECORDS_CLASSES / per_chunk.
 *   A take serves from the first chunk of the fullest class that has one,
 *   and that chunk moves to the head of its new class when it crosses
 *   into one, so records keep coming from it until it is full.  A full
 *   chunk is on no list.  A give that makes a chunk cross into a lower
 *   class (or leave full) puts it at the tail of that class.  So records
 *   are taken from the fullest chunks, and the emptiest ones are left to
 *   drain: after churn live records gather in few chunks rather than
 *   every chunk staying a quarter full, and a chunk that empties goes
 *   back.  (Taking from the lowest address would do that exactly, but
 *   needs an ordered structure; the classes need only a few list heads.)
 *
 *   A chunk whose last record is given back is kept as a spare if fewer
 *   than RECORDS_SPARES are, else unmapped.  A take with no partly used
 *   chunk takes a spare, and only with none maps a new chunk.
 *
 *   A new chunk is asked for right under the last one mapped: that
 *   address is aligned already, and the two mappings merge into one.
 *   Only when the kernel puts it elsewhere (something else is there) and
 *   not aligned is twice the size mapped and the ends cut off.
 *
 * Invariants (records_check verifies them)
 *
 *   - every chunk is on the list of all chunks, their number is chunks,
 *     and its owner is this struct records;
 *   - in each chunk, live + the length of its free list == carved <=
 *     per_chunk, and every free record is a distinct carved record;
 *   - a chunk with 0 < live < per_chunk is on lists[live *
 *     RECORDS_CLASSES / per_chunk], a full one on none, an empty one on
 *     the spare list; nspare is that list's length, at most
 *     RECORDS_SPARES unless the kernel refused an unmap;
 *   - the live counts of the chunks sum to live.
 *
 * Guarantees
 *
 *   - records_take and records_give are O(1): each looks at one chunk,
 *     the RECORDS_CLASSES list heads and its list neighbours, and makes
 *     at most a few system calls, only when a chunk is mapped or
 *     unmapped; no operation visits the other chunks.
 *   - memory: a chunk holds per_chunk records and RECORDS_CHUNK bytes;
 *     at most RECORDS_SPARES empty chunks are kept, so once every record
 *     is given back at most RECORDS_SPARES * RECORDS_CHUNK bytes stay.
 *   - no thrash: a chunk is unmapped only while a spare is kept, and one
 *     is mapped only when no chunk has a free record, so between an unmap
 *     and the next map the spare and every partly used chunk fill up:
 *     at least per_chunk takes.
 *   - mappings: a new chunk goes right under the last one when nothing
 *     else is there, and the kernel merges neighbouring mappings, so ten
 *     million records of 64 bytes (2,442 chunks) are a few mappings, not
 *     thousands.  Were none merged, vm.max_map_count (65,530) would still
 *     take 16 GiB of records.
 *   - a taken record reads zero.
 *
 * Under AddressSanitizer a given-back record is poisoned but for its
 * first word (the free list's link), and records not carved yet are
 * poisoned, so a use after give is reported.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "records.h"

#if defined(__SANITIZE_ADDRESS__)
#define RECORDS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RECORDS_ASAN 1
#endif
#endif
#ifdef RECORDS_ASAN
#include <sanitizer/asan_interface.h>
#define poison(a, n) ASAN_POISON_MEMORY_REGION((a), (n))
#define unpoison(a, n) ASAN_UNPOISON_MEMORY_REGION((a), (n))
#else
#define poison(a, n) ((void)(a), (void)(n))
#define unpoison(a, n) ((void)(a), (void)(n))
#endif

#define SPARE RECORDS_CLASSES		/* lists[SPARE]: empty chunks */
#define NO_LIST (-1)			/* full, or being set up */
#define LINK sizeof(void *)		/* a free record's link */

struct records_chunk {
	TAILQ_ENTRY(records_chunk) entry;	/* on lists[list] */
	TAILQ_ENTRY(records_chunk) all;
	struct records *owner;
	void *free;		/* records given back, by their first word */
	uint32_t live;
	uint32_t carved;	/* records [0, carved) were taken once */
	int list;		/* a class, SPARE or NO_LIST */
};

/* Records start here in a chunk: past the header, 16-byte aligned. */
#define HEAD ((sizeof(struct records_chunk) + 15) & ~(size_t)15)

static inline struct records_chunk *
chunk_of(const void *rec)
{
	return (struct records_chunk *)((uintptr_t)rec &
					~(uintptr_t)(RECORDS_CHUNK - 1));
}

static inline uint8_t *
chunk_record(const struct records *r, struct records_chunk *c, uint32_t i)
{
	return (uint8_t *)c + HEAD + (size_t)i * r->stride;
}

static void
records_setup(struct records *r)
{
	assert(r->size > 0 && r->size <= RECORDS_MAX_SIZE);
	r->stride = records_stride(r->size);
	r->per_chunk = (uint32_t)((RECORDS_CHUNK - HEAD) / r->stride);
	for (int k = 0; k <= SPARE; k++)
		TAILQ_INIT(&r->lists[k]);
	TAILQ_INIT(&r->all);
}

/* Where c belongs by its live records: a class, SPARE or NO_LIST. */
static int
chunk_place(const struct records *r, const struct records_chunk *c)
{
	if (c->live == 0)
		return SPARE;
	if (c->live == r->per_chunk)
		return NO_LIST;
	return (int)(c->live * RECORDS_CLASSES / r->per_chunk);
}

/* Move c to list to (a class, SPARE or NO_LIST), at its head or tail. */
static void
chunk_move(struct records *r, struct records_chunk *c, int to, bool head)
{
	if (c->list == to)
		return;
	if (c->list != NO_LIST)
		TAILQ_REMOVE(&r->lists[c->list], c, entry);
	if (c->list == SPARE)
		r->nspare--;
	c->list = to;
	if (to == NO_LIST)
		return;
	if (head)
		TAILQ_INSERT_HEAD(&r->lists[to], c, entry);
	else
		TAILQ_INSERT_TAIL(&r->lists[to], c, entry);
	if (to == SPARE)
		r->nspare++;
}

static void *
map_at(void *hint, size_t len)
{
	void *m = mmap(hint, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

/*
 * RECORDS_CHUNK bytes at a multiple of RECORDS_CHUNK, or NULL: asked for
 * right under the last chunk mapped, where the kernel's top-down search
 * would look too, but not only if nothing else was mapped meanwhile.
 */
static void *
map_aligned(struct records *r)
{
	size_t over = 2 * (size_t)RECORDS_CHUNK, lead;
	uintptr_t last = (uintptr_t)r->last;
	uint8_t *m;

	m = map_at(last > RECORDS_CHUNK ? (void *)(last - RECORDS_CHUNK) : NULL,
		   RECORDS_CHUNK);
	if (m == NULL)
		return NULL;
	if (((uintptr_t)m & (RECORDS_CHUNK - 1)) == 0)
		return r->last = m;
	munmap(m, RECORDS_CHUNK);
	if ((m = map_at(NULL, over)) == NULL)
		return NULL;
	lead = (RECORDS_CHUNK - ((uintptr_t)m & (RECORDS_CHUNK - 1))) &
	       (RECORDS_CHUNK - 1);
	if (lead)
		munmap(m, lead);
	munmap(m + lead + RECORDS_CHUNK, over - lead - RECORDS_CHUNK);
	return r->last = m + lead;
}

static struct records_chunk *
chunk_map(struct records *r)
{
	struct records_chunk *c = map_aligned(r);

	if (c == NULL)
		return NULL;
	/* The kernel's zeros: free NULL, live and carved 0. */
	c->owner = r;
	c->list = NO_LIST;
	TAILQ_INSERT_TAIL(&r->all, c, all);
	r->chunks++;
	r->mapped++;
	poison(chunk_record(r, c, 0), (size_t)r->per_chunk * r->stride);
	return c;
}

/* Unmap empty chunk c, on no list; kept as a spare if the kernel won't. */
static void
chunk_unmap(struct records *r, struct records_chunk *c)
{
	assert(c->live == 0 && c->list == NO_LIST);
	unpoison(chunk_record(r, c, 0), (size_t)r->per_chunk * r->stride);
	TAILQ_REMOVE(&r->all, c, all);
	if (munmap(c, RECORDS_CHUNK) != 0) {
		/* Splitting a merged mapping needs one more: none left. */
		poison(chunk_record(r, c, 0),
		       (size_t)r->per_chunk * r->stride);
		TAILQ_INSERT_TAIL(&r->all, c, all);
		r->refused++;
		chunk_move(r, c, SPARE, false);
		return;
	}
	r->chunks--;
	r->unmapped++;
	/*
	 * The next chunk is asked for right under the last: were the last
	 * the one unmapped, a daemon that maps a chunk and gives it back
	 * again and again (a pool made and destroyed, a burst of blocks)
	 * would walk down the address space a chunk a time, never using an
	 * address twice.  That costs nothing but addresses, except under
	 * AddressSanitizer, whose shadow of each address ever poisoned stays
	 * resident: a long fuzzing run grew by gigabytes so.  Asked for at
	 * this one's place instead, the next chunk takes it again.
	 */
	if (r->last == (void *)c)
		r->last = (uint8_t *)c + RECORDS_CHUNK;
}

/* The first chunk of the fullest class that has one, or NULL. */
static struct records_chunk *
fullest(struct records *r)
{
	for (int k = RECORDS_CLASSES - 1; k >= 0; k--)
		if (!TAILQ_EMPTY(&r->lists[k]))
			return TAILQ_FIRST(&r->lists[k]);
	return NULL;
}

void *
records_take(struct records *r)
{
	struct records_chunk *c;
	uint8_t *rec;

	if (r->per_chunk == 0)
		records_setup(r);
	if ((c = fullest(r)) == NULL &&
	    (c = TAILQ_FIRST(&r->lists[SPARE])) == NULL &&
	    (c = chunk_map(r)) == NULL)
		return NULL;
	assert(c->live < r->per_chunk);
	if ((rec = c->free) != NULL) {
		unpoison(rec, r->stride);
		c->free = *(void **)rec;
		memset(rec, 0, r->size);
	} else {
		/* Never written: still the kernel's zeros. */
		assert(c->carved < r->per_chunk);
		rec = chunk_record(r, c, c->carved++);
		unpoison(rec, r->stride);
	}
	c->live++;
	r->live++;
	chunk_move(r, c, chunk_place(r, c), true);
	return rec;
}

void
records_give(struct records *r, void *rec)
{
	struct records_chunk *c = chunk_of(rec);
	size_t at = (size_t)((uint8_t *)rec - chunk_record(r, c, 0));

	assert(c->owner == r);
	assert(at % r->stride == 0 && at / r->stride < c->carved);
	assert(c->live > 0 && r->live > 0);
	*(void **)rec = c->free;
	c->free = rec;
	poison((uint8_t *)rec + LINK, r->stride - LINK);
	c->live--;
	r->live--;
	if (c->live == 0 && r->nspare >= RECORDS_SPARES) {
		chunk_move(r, c, NO_LIST, false);
		chunk_unmap(r, c);
		return;
	}
	chunk_move(r, c, chunk_place(r, c), false);
}

void
records_trim(struct records *r)
{
	struct records_chunk *c;
	uint64_t n = r->nspare;

	/* A spare the kernel will not unmap goes back on the list: once. */
	while (n-- > 0 && (c = TAILQ_FIRST(&r->lists[SPARE])) != NULL) {
		chunk_move(r, c, NO_LIST, false);
		chunk_unmap(r, c);
	}
}

void
records_stats(const struct records *r, struct records_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->live = r->live;
	st->capacity = r->chunks * r->per_chunk;
	st->chunks = r->chunks;
	st->spares = r->nspare;
	st->mapped = r->mapped;
	st->unmapped = r->unmapped;
	st->bytes = r->chunks * RECORDS_CHUNK;
}

/* One chunk's free list and counts; the problem, or NULL. */
static const char *
check_chunk(const struct records *r, struct records_chunk *c, uint8_t *seen)
{
	uint32_t nfree = 0;

	if (((uintptr_t)c & (RECORDS_CHUNK - 1)) != 0)
		return "chunk not aligned";
	if (c->owner != r)
		return "chunk of another owner";
	if (c->carved > r->per_chunk || c->live > c->carved)
		return "live > carved > per_chunk";
	memset(seen, 0, (r->per_chunk + 7) / 8);
	for (uint8_t *f = c->free; f != NULL; f = *(uint8_t **)f) {
		size_t at;

		if (f < chunk_record(r, c, 0) ||
		    f >= chunk_record(r, c, c->carved))
			return "free record outside the carved ones";
		at = (size_t)(f - chunk_record(r, c, 0));
		if (at % r->stride != 0)
			return "free record not on a record boundary";
		at /= r->stride;
		if (seen[at / 8] & (1u << (at % 8)))
			return "record twice on the free list";
		seen[at / 8] |= (uint8_t)(1u << (at % 8));
		nfree++;
	}
	if (c->live + nfree != c->carved)
		return "live + free != carved";
	if (c->list != chunk_place(r, c))
		return "chunk on the wrong list for its fullness";
	return NULL;
}

int
records_check(const struct records *r, char *problem, size_t len)
{
	static uint8_t seen[RECORDS_CHUNK / 8 / 8 + 1];
	struct records_chunk *c;
	uint64_t chunks = 0, live = 0, listed = 0, onlists = 0, nspare = 0;
	const char *why = NULL;

	if (r->per_chunk == 0)
		return 0;	/* never taken from */
	TAILQ_FOREACH(c, &r->all, all) {
		if ((why = check_chunk(r, c, seen)) != NULL) {
			snprintf(problem, len, "records of %zu B: chunk %p: %s",
				 r->size, (void *)c, why);
			return -EFAULT;
		}
		chunks++;
		live += c->live;
		listed += c->list != NO_LIST;
	}
	for (int k = 0; k <= SPARE; k++)
		TAILQ_FOREACH(c, &r->lists[k], entry) {
			if (c->list != k)
				why = "chunk on a list it does not name";
			onlists++;
			nspare += k == SPARE;
		}
	if (why == NULL && chunks != r->chunks)
		why = "chunks mapped != chunks counted";
	if (why == NULL && live != r->live)
		why = "live records of the chunks != live";
	if (why == NULL && onlists != listed)
		why = "a chunk on two lists, or on none it names";
	if (why == NULL && nspare != r->nspare)
		why = "spares on the list != nspare";
	if (why == NULL && r->nspare > RECORDS_SPARES + r->refused)
		why = "more spares kept than RECORDS_SPARES";
	if (why == NULL && r->mapped - r->unmapped != r->chunks)
		why = "mapped - unmapped != chunks";
	if (why != NULL) {
		snprintf(problem, len, "records of %zu B: %s", r->size, why);
		return -EFAULT;
	}
	return 0;
}
