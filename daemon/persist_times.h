/*
 * persist_times.h - when each of a pool's persistent blocks became so:
 * the age `poolctl blocks` shows, and what FreePersisted's guard reads so
 * that an operator ending a block left behind long ago cannot end a new
 * one made at the same offset since it was listed.
 *
 * Beside the block records, not in them: struct block has no room for
 * eight more bytes, and in most pools few blocks are persistent.  A
 * red-black tree by offset (a persistent block never moves: a realloc
 * that would move one is refused), a record from records.c per block, so
 * adding, finding and removing are O(log n) and nothing is ever resized
 * at once.  The tree knows nothing of pools: pool_hold.c keeps it in step
 * with the blocks' persistence.
 */
#ifndef POOLMGRD_PERSIST_TIMES_H
#define POOLMGRD_PERSIST_TIMES_H

#include <bsd/sys/tree.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct persist_time {
	RB_ENTRY(persist_time) entry;
	uint64_t off;
	uint64_t since_ns;	/* when it became persistent (CLOCK_BOOTTIME) */
};
RB_HEAD(persist_time_tree, persist_time);

struct persist_times {
	struct persist_time_tree tree;
	uint64_t count;
};

void persist_times_init(struct persist_times *x);
/* Give back every record: the pool is going. */
void persist_times_free(struct persist_times *x);
/* off became persistent at since_ns: 0, or -ENOMEM (nothing changed). */
int persist_times_add(struct persist_times *x, uint64_t off,
		      uint64_t since_ns);
/* off, which has a record, is no longer persistent. */
void persist_times_remove(struct persist_times *x, uint64_t off);
/* When off became persistent; false if it has no record. */
bool persist_times_find(const struct persist_times *x, uint64_t off,
			uint64_t *since_ns);
/* The bytes its records take: what a pool's statistics charge for them. */
uint64_t persist_times_bytes(const struct persist_times *x);

/* The records of every pool's tree (persist_times.c's). */
struct records;
extern struct records persist_time_records;

#endif
