/*
 * pool_internal.h - what the files of a pool share, and nothing else in
 * the daemon sees: pool.h stays the rest of the daemon's view of pools.
 *
 *   pool.c          the registry, the memfd and the engine over it, the
 *                   settings, and the records blocks and refs come from
 *   pool_share.c    the share map
 *   pool_hold.c     references, holds, persist charges, persistence
 *   pool_block.c    allocation, free and resize of blocks
 *   pool_check.c    the books against what they sum up
 *   pool_restore.c  the books rebuilt after a restart
 *
 * (pool_names.c, pool_evict.c and pool_release.c go through pool.h.)
 */
#ifndef POOLMGRD_POOL_INTERNAL_H
#define POOLMGRD_POOL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "pool.h"
#include "records.h"

/* pool.c: the records of every pool's blocks and further holders. */
extern struct records block_records;
extern struct records ref_records;

/* Would more bytes take one holding used past quota (0: none)? */
static inline bool
over_bound(uint64_t quota, uint64_t used, uint64_t more)
{
	return quota && (more > quota || used > quota - more);
}

/* Would more bytes take a session holding used past the pool's quota? */
static inline bool
over_quota(const struct dpool *p, uint64_t used, uint64_t more)
{
	return over_bound(p->quota, used, more);
}

/*
 * What one holding used lacks for more bytes under quota (over_bound
 * says it does): used + more - quota, UINT64_MAX past what 64 bits hold.
 */
static inline uint64_t
bound_lack(uint64_t quota, uint64_t used, uint64_t more)
{
	uint64_t sum;

	if (__builtin_add_overflow(used, more, &sum))
		return UINT64_MAX;
	return sum - quota;
}

/*
 * 0, or -EDQUOT if more bytes would take a session holding used past the
 * pool's quota, or user_more would take uid holding user_used
 * (dpool_user_used) past its user quota (dpool_user_bound: its own
 * entry's, or the pool's); p->user_quota_hit says which (and
 * p->user_quota_uid whose), the quota per connection being looked at
 * first, for the refusal's words.  p->quota_lack says by how much: what
 * the uid's own evictable names must give back (dispatch_refuse.c's
 * make_quota_room).  Both counts hold its persistent blocks, so an
 * eviction gives back as much under each: the lack is the larger of the
 * two bounds' lacks, or names evicted for the one would leave the
 * request refused by the other.  A request that adds nothing to what the
 * uid holds (user_more 0: a retain of a block another of its handles
 * holds) is never the user quota's to refuse, even of a uid over it.
 */
static inline int
dpool_quota_check_each(struct dpool *p, uid_t uid, uint64_t used,
		       uint64_t more, uint64_t user_used, uint64_t user_more)
{
	uint64_t bound = dpool_has_user_quota(p) ?
			 dpool_user_bound(p, uid, NULL) : 0;
	bool by_quota = over_quota(p, used, more);
	bool by_user = user_more && over_bound(bound, user_used, user_more);
	uint64_t lack;

	p->user_quota_hit = !by_quota && by_user;
	p->user_quota_uid = uid;
	p->quota_lack = by_quota ? bound_lack(p->quota, used, more) : 0;
	if (by_user) {
		lack = bound_lack(bound, user_used, user_more);
		if (lack > p->quota_lack)
			p->quota_lack = lack;
	}
	return by_quota || by_user ? -EDQUOT : 0;
}

/* dpool_quota_check_each of bytes both bounds count once. */
static inline int
dpool_quota_check(struct dpool *p, uid_t uid, uint64_t used,
		  uint64_t user_used, uint64_t more)
{
	return dpool_quota_check_each(p, uid, used, more, user_used, more);
}

/* pool_share.c */
/* The map, sealed: 0 or -errno (the pool goes without one). */
int make_share_map(struct dpool *p);
/* Set b's bit to on, writing the map only if it changes. */
void block_share_set(struct dpool *p, struct block *b, bool on);
/* Publish whether b is shared; called after every change to its refs. */
void block_share_sync(struct dpool *p, struct block *b);
/* The map's bit for the block at off (false without a map). */
bool share_bit_get(const struct dpool *p, uint64_t off);
/* Do b's bit or the map's say other than its holders do? */
bool share_bit_wrong(const struct dpool *p, const struct block *b);

/* pool_hold.c */
/* h's hold on b, or NULL. */
struct hold *ref_of(struct block *b, struct handle *h);
/*
 * h holds b from now on: 0, or -ENOMEM, nothing changed, if there is no
 * memory for a further holder's record (b's first holder needs none).
 * ref_remove undoes one hold, b may be unheld.
 */
int ref_add(struct block *b, struct handle *h);
void ref_remove(struct block *b, struct hold *hd);
/* Has uid a hold on b, through any of its handles?  O(1). */
bool uid_holds_block(struct dpool *p, struct block *b, uid_t uid);
/*
 * A stamp no user account has yet: a walk of a block's holds marks each
 * account it meets with it, to count each uid once (holders_add, Check).
 */
uint64_t user_stamp_next(void);
/* Where uid's charge is, or would go, in p->charges. */
unsigned charge_index(const struct dpool *p, uid_t uid);
/* uid's charge grows by n bytes in blocks blocks (two's complement to
 * take away). */
void charge_add(struct dpool *p, uid_t uid, uint64_t n, uint64_t blocks);
/* Every holder's bytes, by d (two's complement to take away). */
void holders_add(struct block *b, uint64_t d);
/*
 * b becomes persistent, charged to uid, since since_ns (dpool_persist_clock_ns;
 * 0: now): 0, or -ENOMEM with nothing changed.  unpersist ends it.
 */
int persist(struct dpool *p, struct block *b, uid_t uid, uint64_t since_ns);
void unpersist(struct dpool *p, struct block *b);

/* pool_block.c */
/*
 * Free b in the engine if nobody holds it and it is not persistent (or
 * defer it to a stepped release, may_defer); else sync its share bit.
 */
void block_maybe_free(struct dpool *p, struct block *b, bool may_defer);

#endif /* POOLMGRD_POOL_INTERNAL_H */
