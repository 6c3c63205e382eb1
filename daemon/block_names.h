/*
 * block_names.h - a pool's names for its blocks (Publish, Lookup): a
 * red-black tree of names, so that a lookup, a publish and a removal are
 * O(log n), and a listing walks the names of a prefix in order without
 * looking at any other.  The tree knows nothing of pools: pool_names.c
 * keeps the books of what a name holds.
 */
#ifndef POOLMGRD_BLOCK_NAMES_H
#define POOLMGRD_BLOCK_NAMES_H

#include <bsd/sys/tree.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BLOCK_NAME_MAX 255		/* bytes of a name, NUL excluded */
#define POOL_MAX_NAMES 65536		/* names in one pool */

struct block;

struct evict_link;

/*
 * One name: its bytes follow the record, NUL-terminated.  An evictable
 * one has a link on its pool's books of eviction (pool_evict.c), its own
 * allocation, so that a kept name pays one pointer for them.  Each record
 * counts the names of its subtree (itself among them), kept as the tree
 * changes, so that the names of a prefix are counted without a walk
 * (block_names_count_from): in the bits its length leaves, so that a record
 * takes no more room.
 */
struct block_name {
	RB_ENTRY(block_name) entry;
	struct block *block;
	struct evict_link *evict;	/* NULL: not evictable */
	const char *name;	/* the bytes after the record (a key: any) */
	uint32_t len : 8;	/* 1 to BLOCK_NAME_MAX */
	uint32_t subtree : 24;	/* names under it: POOL_MAX_NAMES at most */
	uid_t publisher;
	uint64_t generation;	/* the pool's name_generation it was given */
};
RB_HEAD(block_name_tree, block_name);

struct block_names {
	struct block_name_tree tree;
	uint32_t count;
	uint64_t bytes;		/* malloc'd for the records: books_bytes */
};

void block_names_init(struct block_names *x);
/* Free every record: the pool is going. */
void block_names_free(struct block_names *x);
/* 0, -EINVAL (empty, or a NUL inside) or -ENAMETOOLONG. */
int block_name_valid(const void *name, size_t len);
/* The record of name (len bytes, valid), or NULL. */
struct block_name *block_names_find(struct block_names *x, const void *name,
				    size_t len);
/*
 * A new record of name for b, in no tree yet (a request that fails after
 * frees it, having changed nothing); NULL if out of memory.  Then
 * block_names_insert puts it in x, where no record of its name may be.
 */
struct block_name *block_name_make(const void *name, size_t len,
				   struct block *b, uid_t publisher);
void block_names_insert(struct block_names *x, struct block_name *n);
/* Take record n out of x, and free it (remove) or keep it (unlink). */
void block_names_remove(struct block_names *x, struct block_name *n);
void block_names_unlink(struct block_names *x, struct block_name *n);
/* The first name not before prefix (len bytes; may be 0), or NULL. */
struct block_name *block_names_from(struct block_names *x,
				    const void *prefix, size_t len);
/*
 * Where a page of the names of prefix (plen bytes; may be 0) starts: the
 * first of them strictly after after (alen bytes; 0: none), or NULL if
 * there is none.  O(log n): the names before after are not walked.
 */
struct block_name *block_names_page(struct block_names *x,
				    const void *prefix, size_t plen,
				    const void *after, size_t alen);
/* The name after n, or NULL. */
struct block_name *block_names_next(struct block_names *x,
				    struct block_name *n);
/* Does n begin with prefix? */
int block_name_has_prefix(const struct block_name *n, const void *prefix,
			  size_t len);
/*
 * How many names begin with prefix (len bytes; 0: all of them) from n on,
 * n among them (n must begin with it), in O(log n) steps, whatever their
 * number.
 */
uint32_t block_names_count_from(struct block_names *x,
				const struct block_name *n,
				const void *prefix, size_t len);
/*
 * Does every record count its subtree right?  (A walk of them all; the
 * tree's count against the records is the pool's check's.)
 */
int block_names_counts_ok(struct block_names *x);

#endif /* POOLMGRD_BLOCK_NAMES_H */
