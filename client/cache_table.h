/*
 * cache_table.h - the block table of a handle's cache: every block the
 * handle got from the daemon and may keep when it is freed, by offset.
 *
 * An entry is live (the program holds it; req is what the program asked
 * for, rounded to the granularity, and all it may use of the block), cached
 * (freed by the program, kept by the cache), or being shrunk (its slack is
 * being given back to the daemon).  The slack of a live block is usable
 * minus req: bytes the block has only because the cache served the request
 * from a larger block of its size class; the table keeps their sum.
 *
 * Every function takes the lock of the entry's stripe itself, so each is
 * atomic for that entry; none blocks on anything else.
 */
#ifndef CLIENT_CACHE_TABLE_H
#define CLIENT_CACHE_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define CTABLE_STRIPES		16

struct ctable_entry {
	uint64_t	 off;		/* UINT64_MAX: an empty slot */
	uint32_t	 usable;	/* the block's size in the daemon */
	uint32_t	 req;		/* CTABLE_CACHED, or the program's size,
					 * with CTABLE_SHRINKING while shrunk */
};
#define CTABLE_CACHED		0u
#define CTABLE_SHRINKING	0x80000000u

struct ctable_stripe {
	pthread_mutex_t		 lock;
	struct ctable_entry	*e;
	size_t			 cap, n;	/* cap: 0 or a power of two */
	uint64_t		 slack;		/* of its live blocks */
} __attribute__((aligned(64)));

struct ctable {
	unsigned		 gshift;
	struct ctable_stripe	 stripe[CTABLE_STRIPES];
};

/* What ctable_free found. */
enum ctable_found {
	CTABLE_ABSENT,		/* not ours to keep: the daemon decides */
	CTABLE_WAS_CACHED,	/* freed already: a double free */
	CTABLE_DROPPED,		/* live, now forgotten: the daemon frees it */
	CTABLE_KEPT,		/* live, now cached */
};

/* A block with slack, to be shrunk to req. */
struct ctable_slack {
	uint64_t	 off;
	uint32_t	 req;
};

void	ctable_init(struct ctable *, unsigned gshift);
void	ctable_destroy(struct ctable *);
void	ctable_clear(struct ctable *);

/* Enter a block, live (req) or cached (CTABLE_CACHED); replaces any. */
void	ctable_put(struct ctable *, uint64_t off, uint32_t usable,
	    uint32_t req);
/* The program frees off: cache it if keep, else forget it. */
enum ctable_found ctable_free(struct ctable *, uint64_t off, int keep,
	    uint32_t *usable);
/* A cached block is handed out again for req bytes; 0 if it was not. */
int	ctable_revive(struct ctable *, uint64_t off, uint32_t req);
/* Forget off if it is cached (the cache gives it back). */
void	ctable_drop_cached(struct ctable *, uint64_t off);
/* Forget off whatever its state (the daemon freed or moved it). */
void	ctable_remove(struct ctable *, uint64_t off);
/*
 * Look off up: CTABLE_ABSENT, CTABLE_WAS_CACHED, or CTABLE_KEPT with *req
 * set to what the program may use of the live block.
 */
enum ctable_found ctable_lookup(struct ctable *, uint64_t off,
	    uint32_t *req);
/* Mark up to max live blocks with slack as being shrunk; how many. */
size_t	ctable_slack_take(struct ctable *, struct ctable_slack *, size_t max);
/* Shrinking off is over: its new usable size, or 0 if it failed. */
void	ctable_shrunk(struct ctable *, uint64_t off, uint32_t usable);
/* The sum of the slack of live blocks. */
uint64_t ctable_slack(struct ctable *);

#endif /* CLIENT_CACHE_TABLE_H */
