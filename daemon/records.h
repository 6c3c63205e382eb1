/*
 * records.h - fixed-size records for the daemon's books (pool.h's struct
 * block and struct ref, persist_times.h's struct persist_time), cut from
 * large chunks with no header per record, taken and given back in O(1),
 * and given back to the kernel a chunk at a time.  records.c explains how.
 *
 * One struct records per record size, defined with RECORDS_INIT; it needs
 * no other setup.  Single-threaded, as the daemon is.
 */
#ifndef POOLMGRD_RECORDS_H
#define POOLMGRD_RECORDS_H

#include <bsd/sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDS_CHUNK (256u << 10)	/* bytes of a chunk, aligned to it */
#define RECORDS_CLASSES 4		/* partly used chunks, by fullness */
#define RECORDS_SPARES 1		/* empty chunks kept, at most */
#define RECORDS_MAX_SIZE 4096		/* bytes of the largest record */

struct records_chunk;
TAILQ_HEAD(records_list, records_chunk);

struct records {
	size_t size;		/* asked for; the rest is set at first take */
	size_t stride;		/* size rounded up to 8 */
	uint32_t per_chunk;
	/*
	 * lists[k], k < RECORDS_CLASSES: chunks with free records and live
	 * ones, k by how full; lists[RECORDS_CLASSES]: the empty ones kept.
	 */
	struct records_list lists[RECORDS_CLASSES + 1];
	struct records_list all;	/* every chunk mapped */
	uint32_t nspare;
	uint64_t live;		/* records taken and not given back */
	uint64_t chunks;	/* chunks mapped now */
	uint64_t mapped;	/* chunks ever mapped */
	uint64_t unmapped;	/* ... and given back */
	uint64_t refused;	/* unmaps the kernel refused: kept as spares */
	void *last;		/* the chunk mapped last: the next goes under */
};

#define RECORDS_INIT(bytes) { .size = (bytes) }

/*
 * The bytes a record of size bytes takes in its chunk: what a pool's
 * statistics charge it for each record it has in use (books_bytes).
 */
static inline size_t
records_stride(size_t size)
{
	return (size + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
}

/* A zeroed record, or NULL if no memory could be mapped for it. */
void *records_take(struct records *r);
/* Give back a record records_take gave. */
void records_give(struct records *r, void *rec);
/* Unmap the empty chunks kept as spares. */
void records_trim(struct records *r);

struct records_stats {
	uint64_t live;		/* records in use */
	uint64_t capacity;	/* records the mapped chunks hold */
	uint64_t chunks;	/* mapped now, spares included */
	uint64_t spares;	/* empty chunks kept */
	uint64_t mapped;	/* chunks mapped, ever */
	uint64_t unmapped;	/* chunks given back, ever */
	uint64_t bytes;		/* mapped now */
};
void records_stats(const struct records *r, struct records_stats *st);

/*
 * Walk every chunk and record list and verify the invariants records.c
 * states: 0, or -EFAULT with the first problem found in problem.  O(all
 * records): for tests and Check, not the request path.
 */
int records_check(const struct records *r, char *problem, size_t len);

#endif /* POOLMGRD_RECORDS_H */
