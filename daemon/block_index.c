/*
 * block_index.c - a pool's live blocks by offset.
 *
 * Every request that names a block finds it here (dpool_block), and every
 * allocation, free and move adds or takes one, so this must be O(1) and
 * small: a pool may hold ten million blocks of 64 B.
 *
 * ALGORITHM
 *
 * A hash table of struct block pointers, the offset being read from the
 * block itself: open addressing, linear probing, 2^k slots.  A block's
 * home slot is the low k bits of a mix of its offset (two rounds of
 * multiply and xor-shift, SplitMix64's finalizer).  Offsets are multiples
 * of the granule, and of a page or of 1 MiB for big blocks; a hash whose
 * low bits came from the offset's low bits, or from one multiplication,
 * would put such strided offsets on a few homes or in a few long runs.
 * The mix spreads every bit of the offset over every bit of the hash.
 *
 * Find: probe from the home slot until the block or an empty slot.
 * Insert: into the first empty slot from the home slot.  Remove: find the
 * pointer itself (comparing pointers, reading no other block), then close
 * the gap by backward shift, as daemon/session.c does for handles: each
 * later block of the run moves back into the gap unless its home lies
 * after the gap, the gap moving with it.  No tombstones, so the probes stay
 * as short as the load alone makes them, however many blocks come and go.
 *
 * The load is kept between 1/4 and 3/4: over 3/4 the table doubles, under
 * 1/4 (above BINDEX_MIN_SLOTS) it halves.  A resize does not rehash the
 * table in one go: with 10^7 blocks that would take a request tens of ms,
 * and the memory of the old table, given back in one free, several more.
 * Instead the new table is made empty and the old one kept beside it; each
 * insert and remove then moves BINDEX_STEP slots' worth of blocks from the
 * old to the new.  Meanwhile new blocks go into the new table, finds and
 * removes look in the new one and then, if blocks are left there, the old.
 *
 * The move goes down the old table from just below an empty slot s, once
 * round, to s.  The slot above the one being moved is then always empty:
 * it is s, or it was moved already, and nothing is put into the old table
 * any more; backward shifts of removes only move blocks to lower slots of
 * the run, which ends before the moved part.  So the block being moved
 * ends its run, is on no other block's probe, and its slot is simply
 * cleared: each step is O(1) plus an insert into the new table.  The moved
 * part reads as empty, so probes into the old table stop there correctly.
 * A table of BINDEX_CHUNK slots or more is mapped by itself, and each
 * chunk of it the move has passed is given back at once (madvise; it reads
 * as zeros, empty slots, after that), so that unmapping it at the end
 * frees one chunk, not the whole table.
 *
 * INVARIANTS (block_index_check verifies them all)
 *
 *   1. Every block is in exactly one of the two tables, and every slot
 *      from its home to where it is holds a block.
 *   2. count and old_count are the blocks in each table.
 *   3. Blocks left in the old table lie among the old_left slots from
 *      old_next down; the others are empty.
 *   4. The blocks of both tables fill at most 3/4 of the new one; with no
 *      move under way, the table is at least 1/4 full or of the least size.
 *   5. A resize never finds the last one's move unfinished.
 *
 * Invariant 5 follows from the step: a move passes the old table once,
 * BINDEX_STEP slots per insert or remove.  After growing from C slots at
 * 3/4 C blocks, the next resize needs C/4 removes (to 1/2 C, a quarter of
 * 2C) or 3/4 C inserts; after shrinking from C slots at 1/4 C, C/8 either
 * way; the move takes C / BINDEX_STEP = C/16 of them.
 *
 * GUARANTEES AND COSTS
 *
 * Find, insert and remove take O(1) expected time: probes at load 3/4
 * read 2.5 slots for a found block and 8.5 for a missing one on average
 * (Knuth), and each full slot a find reads costs a load of the block it
 * names (the one found, the caller reads anyway); a remove compares
 * pointers only, but its backward shift reads the blocks after the gap in
 * their run.  An insert or remove moves at most BINDEX_STEP blocks besides.  No call rehashes
 * more than that, none frees more than a chunk's pages: a request never
 * waits for the table's size.  Allocation happens only at a resize, an
 * empty mapping that the kernel fills as slots are written.
 *
 * Memory: 8 bytes per slot, so 10.7 to 32 bytes per block (21 right after
 * a grow, 16 after a shrink), and during a move also the old table's
 * slots not yet given back: up to 32 bytes per block in all while a grow
 * moves, 48 when a shrink's move begins, falling as it goes.  The blocks
 * themselves are the pools' (pool_block.c, pool_hold.c).
 *
 * Rehashing 6.3 million blocks at once took 0.3 s of one request on a
 * loaded 2-CPU machine, and freeing the old table 5.5 ms more.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "block_index.h"
#include "log.h"
#include "pool.h"

#define BINDEX_MIN_SLOTS 16
#define BINDEX_STEP 16		/* old slots moved per insert or remove */
#define BINDEX_CHUNK 8192	/* slots (64 KiB): given back as a whole */

static uint64_t
bindex_hash(uint64_t off)
{
	off ^= off >> 30;
	off *= 0xbf58476d1ce4e5b9ull;
	off ^= off >> 27;
	off *= 0x94d049bb133111ebull;
	off ^= off >> 31;
	return off;
}

/*
 * n empty slots: a mapping of its own if it is to be given back in chunks.
 * NULL if there is no memory for them.
 */
static struct block **
slots_new(uint64_t n)
{
	void *p;

	if (n < BINDEX_CHUNK)
		return calloc(n, sizeof(struct block *));
	p = mmap(NULL, n * sizeof(struct block *), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void
slots_free(struct block **slot, uint64_t n)
{
	if (n < BINDEX_CHUNK)
		free(slot);
	else
		munmap(slot, n * sizeof(*slot));
}

static void
table_put(struct block **slot, uint64_t mask, uint64_t hash,
	  struct block *b)
{
	uint64_t i;

	for (i = hash & mask; slot[i]; i = (i + 1) & mask)
		;
	slot[i] = b;
}

static struct block *
table_find(struct block **slot, uint64_t mask, uint64_t hash, uint64_t off)
{
	struct block *b;
	uint64_t i;

	for (i = hash & mask; (b = slot[i]); i = (i + 1) & mask)
		if (b->off == off)
			return b;
	return NULL;
}

/* Take b out of the table and close the gap (see above); false if absent. */
static bool
table_take(struct block **slot, uint64_t mask, uint64_t hash,
	   struct block *b)
{
	struct block *e;
	uint64_t i, j, home;

	for (i = hash & mask; slot[i] != b; i = (i + 1) & mask)
		if (!slot[i])
			return false;
	for (j = (i + 1) & mask; (e = slot[j]); j = (j + 1) & mask) {
		home = bindex_hash(e->off) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			slot[i] = e;
			i = j;
		}
	}
	slot[i] = NULL;
	return true;
}

void
block_index_init(struct block_index *x)
{
	*x = (struct block_index){0};
}

void
block_index_free(struct block_index *x)
{
	if (x->slot)
		slots_free(x->slot, x->mask + 1);
	if (x->old)
		slots_free(x->old, x->old_mask + 1);
	block_index_init(x);
}

/*
 * Take up to BINDEX_STEP slots' blocks out of the old table (see above)
 * into moved; how many.  Their blocks are fetched meanwhile: a block read
 * for its offset is mostly a cache miss, and these overlap.
 */
static uint64_t
index_take_step(struct block_index *x, struct block **moved)
{
	struct block *b;
	uint64_t i, n, m = 0;

	for (n = 0; x->old && n < BINDEX_STEP; n++) {
		i = x->old_next;
		if ((b = x->old[i])) {
			__builtin_prefetch(b);
			x->old[i] = NULL;
			x->old_count--;
			moved[m++] = b;
		}
		if (i % BINDEX_CHUNK == 0 && i / BINDEX_CHUNK != x->old_skip &&
		    x->old_mask + 1 >= BINDEX_CHUNK) {
			(void)madvise(&x->old[i], BINDEX_CHUNK * sizeof(*x->old),
				      MADV_DONTNEED);
			x->bytes -= BINDEX_CHUNK * sizeof(*x->old);
			x->old_given += BINDEX_CHUNK * sizeof(*x->old);
		}
		x->old_next = (i - 1) & x->old_mask;
		if (--x->old_left == 0) {
			assert(x->old_count == 0);
			slots_free(x->old, x->old_mask + 1);
			x->bytes -= (x->old_mask + 1) * sizeof(*x->old) -
				    x->old_given;
			x->old_given = 0;
			x->old = NULL;
			x->old_mask = x->old_next = x->old_skip = 0;
		}
	}
	return m;
}

/* Move steps of the old table into the new one while there is one. */
static void
index_move(struct block_index *x, uint64_t steps)
{
	struct block *moved[BINDEX_STEP];
	uint64_t hash[BINDEX_STEP], k, m;

	for (; x->old && steps; steps--) {
		m = index_take_step(x, moved);
		for (k = 0; k < m; k++) {
			hash[k] = bindex_hash(moved[k]->off);
			__builtin_prefetch(&x->slot[hash[k] & x->mask], 1);
		}
		for (k = 0; k < m; k++)
			table_put(x->slot, x->mask, hash[k], moved[k]);
		x->count += m;
	}
}

/*
 * Begin moving the blocks into a table of nslots; false, the tables as
 * they were, if there is no memory for it.
 */
static bool
index_resize(struct block_index *x, uint64_t nslots)
{
	struct block **slot = slots_new(nslots);
	uint64_t s;

	if (!slot) {
		x->starved = true;
		return false;
	}
	x->starved = false;
	if (x->old) {
		x->hurried++;
		index_move(x, UINT64_MAX);
	}
	x->old = x->slot;
	x->old_mask = x->mask;
	x->old_count = x->count;
	x->slot = slot;
	x->mask = nslots - 1;
	x->count = 0;
	x->bytes += nslots * sizeof(*x->slot);
	/* An empty slot to start below: at most 3/4 of them are full. */
	for (s = 0; x->old[s]; s++)
		;
	x->old_next = (s - 1) & x->old_mask;
	x->old_left = x->old_mask;	/* all but s, which stays empty */
	x->old_skip = s / BINDEX_CHUNK;
	return true;
}

struct block *
block_index_find(const struct block_index *x, uint64_t off)
{
	uint64_t hash = bindex_hash(off);
	struct block *b;

	if (!x->slot)
		return NULL;
	if ((b = table_find(x->slot, x->mask, hash, off)))
		return b;
	if (x->old_count)
		return table_find(x->old, x->old_mask, hash, off);
	return NULL;
}

/*
 * A table that cannot grow for want of memory takes blocks on past 3/4
 * full, the next insert trying again, while one slot stays empty (lookups
 * stop at it, and so does index_resize's scan).
 */
int
block_index_reserve(struct block_index *x)
{
	uint64_t n = block_index_count(x) + 1;

	if (!x->slot) {
		if (!(x->slot = slots_new(BINDEX_MIN_SLOTS)))
			return -ENOMEM;
		x->mask = BINDEX_MIN_SLOTS - 1;
		x->bytes = BINDEX_MIN_SLOTS * sizeof(*x->slot);
	} else if (n * 4 > (x->mask + 1) * 3 &&
		   !index_resize(x, (x->mask + 1) * 2) && n > x->mask) {
		return -ENOMEM;
	}
	return 0;
}

void
block_index_insert(struct block_index *x, struct block *b)
{
	index_move(x, 1);
	if (block_index_reserve(x))
		fatalx("no memory for the index of block 0x%llx",
		       (unsigned long long)b->off);
	table_put(x->slot, x->mask, bindex_hash(b->off), b);
	x->count++;
}

void
block_index_remove(struct block_index *x, struct block *b)
{
	uint64_t hash = bindex_hash(b->off);

	if (x->slot && table_take(x->slot, x->mask, hash, b))
		x->count--;
	else if (x->old_count && table_take(x->old, x->old_mask, hash, b))
		x->old_count--;
	else
		fatalx("block 0x%llx is not in its pool's index",
		       (unsigned long long)b->off);
	index_move(x, 1);
	/* Without memory for a smaller table, the larger one does. */
	if (!x->old && x->mask + 1 > BINDEX_MIN_SLOTS &&
	    x->count * 4 < x->mask + 1)
		(void)index_resize(x, (x->mask + 1) / 2);
}

struct block *
block_index_first(const struct block_index *x, struct block_index_iter *it)
{
	it->table = 0;
	it->slot = 0;
	return block_index_next(x, it);
}

struct block *
block_index_next(const struct block_index *x, struct block_index_iter *it)
{
	struct block **slot;
	uint64_t n;

	for (;;) {
		slot = it->table ? x->old : x->slot;
		n = !slot ? 0 : (it->table ? x->old_mask : x->mask) + 1;
		while (it->slot < n)
			if (slot[it->slot++])
				return slot[it->slot - 1];
		if (it->table)
			return NULL;
		it->table = 1;
		it->slot = 0;
	}
}

/* Invariants 1 and 3 for one table, and its share of 2; the longest probe. */
static int
table_check(const struct block_index *x, bool old,
	    struct block_index_stats *st, char *problem, size_t len)
{
	struct block **slot = old ? x->old : x->slot;
	uint64_t mask = old ? x->old_mask : x->mask;
	uint64_t want = old ? x->old_count : x->count;
	uint64_t i, j, home, n = 0;
	struct block *b;

	for (i = 0; i <= mask; i++) {
		if (!(b = slot[i]))
			continue;
		n++;
		if (old && ((x->old_next - i) & mask) >= x->old_left) {
			snprintf(problem, len, "block 0x%llx at slot %llu of "
				 "the old table, which was moved already",
				 (unsigned long long)b->off,
				 (unsigned long long)i);
			return -EFAULT;
		}
		home = bindex_hash(b->off) & mask;
		for (j = home; j != i; j = (j + 1) & mask) {
			if (!slot[j]) {
				snprintf(problem, len, "block 0x%llx at slot "
					 "%llu of %llu, its home %llu, past "
					 "the empty slot %llu",
					 (unsigned long long)b->off,
					 (unsigned long long)i,
					 (unsigned long long)mask + 1,
					 (unsigned long long)home,
					 (unsigned long long)j);
				return -EFAULT;
			}
		}
		if (((i - home) & mask) + 1 > st->longest)
			st->longest = ((i - home) & mask) + 1;
		if (block_index_find(x, b->off) != b) {
			snprintf(problem, len, "block 0x%llx at slot %llu%s "
				 "is not what a find of its offset gives",
				 (unsigned long long)b->off,
				 (unsigned long long)i, old ? " (old)" : "");
			return -EFAULT;
		}
	}
	if (n != want) {
		snprintf(problem, len, "%llu block%s in the %stable, counted "
			 "%llu", (unsigned long long)n, log_plural(n),
			 old ? "old " : "", (unsigned long long)want);
		return -EFAULT;
	}
	return 0;
}

/* What x->bytes should read: the tables, less what the move gave back. */
static uint64_t
table_bytes(const struct block_index *x)
{
	uint64_t n = (x->mask + 1) * sizeof(*x->slot);

	if (x->old)
		n += (x->old_mask + 1) * sizeof(*x->old) - x->old_given;
	return n;
}

int
block_index_check(const struct block_index *x, struct block_index_stats *st,
		  char *problem, size_t len)
{
	uint64_t nslots = x->slot ? x->mask + 1 : 0;
	uint64_t n = block_index_count(x);
	int rc;

	*st = (struct block_index_stats){.count = n, .slots = nslots};
	if (!x->slot) {
		if (n || x->old || x->bytes) {
			snprintf(problem, len, "no table, but %llu block%s",
				 (unsigned long long)n, log_plural(n));
			return -EFAULT;
		}
		return 0;
	}
	if (x->hurried) {
		snprintf(problem, len, "%llu resize%s found the last move "
			 "unfinished", (unsigned long long)x->hurried,
			 log_plural(x->hurried));
		return -EFAULT;
	}
	if (x->bytes != table_bytes(x)) {
		snprintf(problem, len, "the tables counted as %llu bytes, "
			 "not %llu", (unsigned long long)x->bytes,
			 (unsigned long long)table_bytes(x));
		return -EFAULT;
	}
	if (n >= nslots || (!x->starved && (n * 4 > nslots * 3 ||
	    (!x->old && nslots > BINDEX_MIN_SLOTS && n * 4 < nslots)))) {
		snprintf(problem, len, "%llu block%s in %llu slots%s",
			 (unsigned long long)n, log_plural(n),
			 (unsigned long long)nslots,
			 x->old ? " while a move is under way" : "");
		return -EFAULT;
	}
	if ((rc = table_check(x, false, st, problem, len)))
		return rc;
	if (!x->old)
		return 0;
	st->old_slots = x->old_mask + 1;
	if (st->old_slots != nslots * 2 && st->old_slots * 2 != nslots) {
		snprintf(problem, len, "an old table of %llu slots beside "
			 "one of %llu", (unsigned long long)st->old_slots,
			 (unsigned long long)nslots);
		return -EFAULT;
	}
	return table_check(x, true, st, problem, len);
}
