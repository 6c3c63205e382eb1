/*
 * uid_holds.h - how many holds each uid has on a pool's shared blocks:
 * a hash table of (block, uid) -> count, so that a hold coming or going
 * tells at once whether it is its uid's first or last on the block, the
 * user quota counting a block once per uid that holds it (pool_hold.c).
 *
 * Only blocks of more than one holder have entries, one per uid among
 * their holders: a block of one holder, nearly every block, needs none
 * (its own hold says whose it is) and costs nothing here.  Open
 * addressing with linear probing, at most half full; a removal shifts
 * the entries after it back, so no slot is ever a tombstone.  Resized as
 * a pool's index of blocks is (block_index.c): a new table made empty
 * beside the old one, a few of the old one's slots moved into it at each
 * change, so that no request rehashes the whole table (2^20 entries, 32
 * MiB, took a retain 75 ms at once).  The table goes with its last
 * entry.  uid_holds_reserve makes the room a change needs before it is
 * made: an add never fails.
 */
#ifndef POOLMGRD_UID_HOLDS_H
#define POOLMGRD_UID_HOLDS_H

#include <stddef.h>
#include <stdint.h>

struct block;

#define UID_HOLDS_MIN 16	/* slots of the smallest table */

struct uid_hold {
	const struct block *block;	/* NULL: the slot is empty */
	uint32_t uid;
	uint32_t count;			/* the uid's holds on block, >= 1 */
};

struct uid_holds {
	struct uid_hold *slot;		/* mask + 1 slots; NULL before the first */
	uint64_t mask;
	uint64_t count;			/* entries, in both tables */
	/*
	 * The table a resize is moving out of, or NULL: old_count of the
	 * entries are left in it, all among the old_left slots from
	 * old_next down (cyclically), as in block_index.c.
	 */
	struct uid_hold *old;
	uint64_t old_mask;
	uint64_t old_count;
	uint64_t old_next;
	uint64_t old_left;
	/* Resizes that found the last one's move unfinished and finished it
	 * at once: never, unless uid_holds.c's arithmetic is wrong. */
	uint64_t hurried;
	uint64_t bytes;			/* of both tables: books_bytes */
};

void uid_holds_init(struct uid_holds *t);
void uid_holds_free(struct uid_holds *t);
/*
 * Room for n more entries: 0, or -ENOMEM if there is no memory for a
 * larger table (the entries as they were).
 */
int uid_holds_reserve(struct uid_holds *t, uint64_t n);
/* uid's holds on b as counted, 0 if it has no entry. */
uint32_t uid_holds_count(const struct uid_holds *t, const struct block *b,
			 uint32_t uid);
/* One more hold of uid on b, its count now (1: a new entry, which a
 * uid_holds_reserve made room for). */
uint32_t uid_holds_add(struct uid_holds *t, const struct block *b,
		       uint32_t uid);
/* One hold of uid on b fewer, its count now (0: the entry is gone).  The
 * entry must be there. */
uint32_t uid_holds_sub(struct uid_holds *t, const struct block *b,
		       uint32_t uid);
/*
 * Are the tables as uid_holds.c says: every entry found where a probe
 * looks for it, counted, the load and the move within their bounds, and
 * no table without an entry?  0, or -EFAULT with the first problem.
 * O(slots): for Check.
 */
int uid_holds_check(const struct uid_holds *t, char *problem, size_t len);

#endif /* POOLMGRD_UID_HOLDS_H */
