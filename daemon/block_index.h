/*
 * block_index.h - a pool's live blocks by offset: a hash table of
 * struct block pointers, resized a few slots per change so that no request
 * waits for a whole table (block_index.c says how, and what it costs).
 */
#ifndef POOLMGRD_BLOCK_INDEX_H
#define POOLMGRD_BLOCK_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct block;

struct block_index {
	struct block **slot;	/* mask + 1 slots; NULL before the first */
	uint64_t mask;
	uint64_t count;		/* blocks in slot */
	/*
	 * The table a resize is moving out of, or NULL: old_count blocks are
	 * left in it, all among the old_left slots from old_next down
	 * (cyclically); old_skip is the chunk of slots not given back as the
	 * move passes it, since the move began there (block_index.c).
	 */
	struct block **old;
	uint64_t old_mask;
	uint64_t old_count;
	uint64_t old_next;
	uint64_t old_left;
	uint64_t old_skip;
	/* Resizes that found the last one's move unfinished and finished it
	 * at once: never, unless block_index.c's arithmetic is wrong. */
	uint64_t hurried;
	/*
	 * Bytes of both tables, less the old one's chunks given back as the
	 * move passed them (old_given of them): what a pool's statistics
	 * count for its index (books_bytes), kept as the tables change.
	 */
	uint64_t bytes;
	uint64_t old_given;
	/* A resize was put off for want of memory: the load may be past its
	 * bounds (never the last empty slot) until one is made. */
	bool starved;
};

/* Where an iteration is: in the table (0) or the old one (1), at slot. */
struct block_index_iter {
	int table;
	uint64_t slot;
};

/* What block_index_check found. */
struct block_index_stats {
	uint64_t count;		/* blocks, in both tables */
	uint64_t slots;		/* of the table */
	uint64_t old_slots;	/* of the old one, 0 if none */
	uint64_t longest;	/* slots the longest probe for a block reads */
};

void block_index_init(struct block_index *x);
/* Free the tables, not the blocks. */
void block_index_free(struct block_index *x);
struct block *block_index_find(const struct block_index *x, uint64_t off);
/*
 * Room in x for one more block: 0, or -ENOMEM if there is no memory for a
 * table with room for it (nothing a lookup sees changed).
 */
int block_index_reserve(struct block_index *x);
/*
 * b->off must be set, and no other block in x have it.  Ends the daemon if
 * there is no room for b: it must follow a block_index_reserve, or the
 * removal of a block from x (whose slot stays free).
 */
void block_index_insert(struct block_index *x, struct block *b);
/* b must be in x, under the b->off it went in with. */
void block_index_remove(struct block_index *x, struct block *b);

static inline uint64_t
block_index_count(const struct block_index *x)
{
	return x->count + x->old_count;
}

/*
 * Every block, in no particular order; x must not change meanwhile (to
 * empty x, free the blocks as they come, then block_index_free).
 */
struct block *block_index_first(const struct block_index *x,
				struct block_index_iter *it);
struct block *block_index_next(const struct block_index *x,
			       struct block_index_iter *it);
#define BLOCK_INDEX_FOREACH(b, x, it)					\
	for ((b) = block_index_first((x), (it)); (b);			\
	     (b) = block_index_next((x), (it)))

/*
 * Is x what block_index.c promises?  Every block findable by its offset,
 * the counts right, every block on its probe's way, the load in bounds,
 * the old table's moved part empty.  0 and *st filled in, or -EFAULT with
 * the problem in problem.  O(slots).
 */
int block_index_check(const struct block_index *x,
		      struct block_index_stats *st, char *problem,
		      size_t len);

#endif /* POOLMGRD_BLOCK_INDEX_H */
