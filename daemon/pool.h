/*
 * pool.h - a pool: one sealed memfd, the allocator engine over it, and the
 * books of who holds which block.
 *
 * Ownership: every live block has references, one per handle that allocated
 * or retained it, plus the pool's own if it was persisted.  The engine frees
 * the block when the last reference goes.  A block's record holds its first
 * holder's reference itself; only further holders take a struct ref.  Handles are defined in session.h;
 * a pool only keeps the list of its open handles.
 */
#ifndef POOLMGRD_POOL_H
#define POOLMGRD_POOL_H

#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "block_index.h"
#include "block_names.h"
#include "heap.h"
#include "persist_times.h"
#include "pool_acl.h"
#include "pool_evict.h"
#include "pool_uquota.h"
#include "uid_holds.h"

#define POOL_MAX_SIZE (1ull << 46)	/* 64 TiB: fits any address space */
#define POOL_MAX_POOLS 256		/* ListPools pages through them */
#define POOL_MAX_HOLDERS 65536		/* handles holding one block */

struct handle;
struct releasing;

/*
 * One handle's hold on one block, on the handle's list (struct handle's
 * refs).  A block's first holder's hold is in the block itself (its
 * first); every other holder's is the start of a struct ref, which is on
 * the block's list too.  So a block of one holder, nearly every block, is
 * one record, not two (docs/PERFORMANCE.md).
 *
 * handle_bits is the holder's address with HOLD_INLINE set for a block's
 * own hold: a node on a handle's list tells which it is from that word
 * alone, and a flag of its own would pad a hold to 32 bytes, the block to
 * 64.  Handles come from calloc, so the bit is never part of an address.
 */
struct hold {
	LIST_ENTRY(hold) by_handle;
	uintptr_t handle_bits;
};
LIST_HEAD(hold_list, hold);
#define HOLD_INLINE ((uintptr_t)1)

/*
 * A second or later holder's hold, on both lists: each is removed in O(1)
 * (a block held by 100 000 handles once took that many steps per close,
 * and closing them all took minutes).
 */
struct ref {
	struct hold hold;	/* first: a hold that is not inline is this */
	LIST_ENTRY(ref) by_block;
	struct block *block;
};
LIST_HEAD(ref_list, ref);

/*
 * A block the engine gave out, found by its offset in its pool's index
 * (block_index.c) until it is freed.
 */
struct block {
	uint64_t off, size;	/* size: the engine's usable size */
	/*
	 * busy: its contents are being copied to a new place, or zeroed, in
	 * steps (dpool_move_defer, dpool_zero_defer); until that is done
	 * nobody else may retain it, and it is not freed even when its last
	 * holder lets go.  let_go: every holder has closed its handle and
	 * its references wait to be dropped (block_let_go); no request sees
	 * it again.  shared: its bit in the share map is set
	 * (pool_share.c writes the map only when that changes).  named: a
	 * name of the pool's holds it (pool_names.c); it is persistent
	 * then, the name's being the pool's reference.  evictable: its
	 * name was published so (pool_evict.c), which a hold's coming and
	 * going tells.  Bits of nrefs' word (at most POOL_MAX_HOLDERS) so
	 * that a block's record stays 56 bytes.
	 */
	uint32_t nrefs : 27;
	uint32_t named : 1;
	uint32_t evictable : 1;
	uint32_t busy : 1;
	uint32_t let_go : 1;
	uint32_t shared : 1;
	/*
	 * A persistent block's size counts against the quota of the uid that
	 * made it so (dpool_persisted_by), not its holders'; NO_PERSISTER
	 * while it is not persistent.
	 */
	uid_t persister;
	/*
	 * Its holders, nrefs of them: first, held (handle_bits not 0)
	 * exactly while nrefs is not 0, and the other nrefs - 1 on refs.
	 * When first's holder lets go, one from refs takes its place
	 * (pool_hold.c's hold_promote), so a block never pays for a struct
	 * ref while its own slot is empty.
	 */
	struct hold first;
	struct ref_list refs;
};

/* The handle of a hold. */
static inline struct handle *
hold_handle(const struct hold *hd)
{
	return (struct handle *)(hd->handle_bits & ~HOLD_INLINE);
}

/* The block a hold is on: the one it is in, or its ref's. */
static inline struct block *
hold_block(struct hold *hd)
{
	if (hd->handle_bits & HOLD_INLINE)
		return (struct block *)((char *)hd -
					offsetof(struct block, first));
	return ((struct ref *)hd)->block;
}

/* The hold on b after hd (NULL: the first): its own, then its list. */
static inline struct hold *
block_hold_next(struct block *b, struct hold *hd)
{
	struct ref *r;

	if (hd == NULL)
		return b->first.handle_bits ? &b->first : NULL;
	r = hd == &b->first ? LIST_FIRST(&b->refs) :
			      LIST_NEXT((struct ref *)hd, by_block);
	return r ? &r->hold : NULL;
}
/* Every hold on b; hd is a struct hold *. */
#define BLOCK_FOREACH_HOLD(hd, b)					\
	for ((hd) = block_hold_next((b), NULL); (hd) != NULL;		\
	     (hd) = block_hold_next((b), (hd)))

#define NO_PERSISTER ((uid_t)-1)

static inline bool
block_persistent(const struct block *b)
{
	return b->persister != NO_PERSISTER;
}

/*
 * Persistent blocks charged to one uid, and their bytes (struct dpool);
 * and, of them, the uid's unheld evictable names (pool_evict.c's: its
 * user quota's refusal may evict them).
 */
struct persist_charge {
	uid_t uid;
	uint64_t bytes;
	uint64_t blocks;
	struct evict_uid evict;
};

LIST_HEAD(handle_list, handle);
RB_HEAD(user_account_tree, user_account);

struct dpool {
	TAILQ_ENTRY(dpool) entry;
	char name[65];
	int memfd;
	uint8_t *map;		/* the daemon's own mapping: zeroing, copying */
	/* The memfd again, on a description of the daemon's own: a copy's
	 * SEEK_DATA moves no client's file offset (dpool_copy); -1: not
	 * open yet.  Whether its failure to open was logged. */
	int copy_fd;
	bool copy_fd_said;
	uint64_t size;
	/*
	 * The page its memory comes in.  A pool on huge pages (hugetlbfs)
	 * holds the kernel's reservation of every page from its creation
	 * and never punches a hole: a hole would give its reservation back,
	 * and a later fault there could find no page and SIGBUS a client.
	 * So it never gives a page back: release, trim and retain do
	 * nothing for it (docs/design.md).
	 */
	uint64_t page_size;
	bool huge;
	/*
	 * A batch's trial is under way in its engine (pool_evict_batch.c):
	 * blocks freed there are reserved again, so none of their pages may
	 * go back meanwhile.
	 */
	bool trial;
	/*
	 * The engine's large threshold (heap_config, rounded up to granules
	 * as the engine does): a request at or above it is a page span, and
	 * a small block grown to it can only move.
	 */
	uint64_t large_threshold;
	/*
	 * The share map (docs/protocol.md): one bit per granule, set while the
	 * block starting there is shared (more than one reference, or
	 * persistent).  Clients map it read-only (it is sealed against
	 * writing) and keep a block they free for reuse only while its bit is
	 * clear.  share_fd is -1 if the kernel cannot seal it.
	 */
	int share_fd;
	uint8_t *share_map;
	uint64_t share_size;
	/*
	 * A failed restart found no memory to redo the map: its bits stay
	 * all set (dpool_share_thaw), so a set bit over a block that is not
	 * shared is no error, until the map is redone or replaced.
	 */
	bool share_all_set;
	unsigned granule_shift;
	struct heap *heap;
	uid_t uid;
	gid_t gid;
	uint32_t mode;
	struct acl acl;		/* rights of named users and groups
				 * (pool_acl.h; session_may_access) */
	uint64_t quota;		/* bytes per session; 0 = none */
	uint64_t user_quota;	/* bytes per uid, its sessions' and its
				 * persistent blocks together; 0 = none */
	struct uquota uquotas;	/* ... and uids' own, in place of it
				 * (pool_uquota.h; dpool_user_bound) */
	bool user_quota_hit;	/* the last -EDQUOT was the user quota's
				 * (dpool_quota_check) */
	uid_t user_quota_uid;	/* ... of this uid */
	bool persist_cap_hit;	/* dpool_persist's last -EDQUOT was the
				 * uid's count of persistent blocks */
	uint64_t quota_lack;	/* ... and the bytes the refused holding
				 * (the session's or the uid's) lacked
				 * under its bound: held and asked, less
				 * the bound; the larger if both refused */
	uint64_t limit;		/* bytes of the pool's live blocks; 0 =
				 * none (dpool_over_limit) */
	uint64_t retain;	/* as asked (dpool_params.retain): a reload
				 * compares the file's with it */
	struct block_index blocks;
	struct block_names names;	/* Publish's names (pool_names.c) */
	struct evict_books evict;	/* ... the evictable (pool_evict.c) */
	uint64_t name_generation;	/* the last a Publish gave */
	uint32_t name_waits;	/* Lookups waiting (dispatch_wait.c) */
	uint32_t alloc_waits;	/* Allocs waiting for room (dispatch_room.c) */
	bool room_made;		/* ... and room came since they last tried */
	uint64_t room_count;	/* times room was made, ever (dpool_room) */
	uint64_t persistent_blocks;
	struct persist_times persist_times;	/* since when (pool_hold.c) */
	/*
	 * One per uid with persistent bytes, sorted by uid: a FreeBatch of
	 * persistent blocks of 20,000 uids once searched them all per block.
	 */
	struct persist_charge *charges;
	unsigned ncharges, charges_cap;
	uint64_t nrefs;		/* struct ref records of its blocks' holders
				 * (books_bytes: counted, never walked) */
	/*
	 * Each uid's holds on each block of more than one holder: whether a
	 * hold is its uid's first or last on the block, which the user
	 * quota counts once per uid (pool_hold.c), without a walk of them.
	 */
	struct uid_holds uid_holds;
	uint64_t invalid_frees;	/* refused before reaching the engine */
	struct handle_list handles;
	uint32_t nhandles;
	/* Of the uids with handles open on it, by uid (session.c): a
	 * uid's account is found in O(log uids). */
	struct user_account_tree users;
	uint64_t client_cached;	/* handle_cached over the open handles
				 * (handle_set_bytes): client_cached_bytes */
	uint32_t releasing;	/* freed blocks still held while their pages
				 * go back (pool_release.c) */
	uint32_t closing;	/* closed handles whose references are still
				 * being dropped (pool_release.c) */
	/*
	 * The release queue's work of those: the Check walks them alone,
	 * not the queue of every pool's work (pool_release.c).
	 */
	LIST_HEAD(, releasing) closing_work;
	uint32_t moving;	/* blocks being copied to a new place in
				 * steps (pool_release.c) */
	uint32_t zeroing;	/* new blocks of a calloc being zeroed in
				 * steps (pool_release.c) */
	bool trimming;		/* a trim is under way, in steps */
	bool retaining;		/* kept pages over their bound are going
				 * back, in steps */
	uint64_t trimmed_bytes;	/* given back by trims, ever: a Trim's reply
				 * counts these, not others' frees */
	/* The last Check's length, ns: dispatch_upkeep.c paces costly ones. */
	uint64_t check_ns;
	/*
	 * Loop turns that took a step of the pool's work queued above, and
	 * of those, steps of kept pages going back over their bound: from
	 * outside, whether work went in steps or inside one request can be
	 * told only by these (PoolStats), the steps being too quick to watch.
	 */
	uint64_t release_steps;
	uint64_t retain_steps;
	uint64_t limit_failures; /* refused by the limit: the engine never
				 * saw them (dpool_failed_allocs) */
	bool limit_hit;		/* the last dpool_alloc or dpool_realloc
				 * was refused by the limit, not the engine */
	uint64_t unseen_failures; /* engine refusals answered by a wait (or
				 * a settle) and a retry: the client sees
				 * only the retry */
	/*
	 * -EDQUOT answers of the quota per connection and of the user
	 * quota, since the pool was made: those failed_allocs never sees,
	 * so that an operator can tell a quota is in the way
	 * (dispatch_refuse.c's count_quota_refusal).
	 */
	uint64_t quota_refusals;
	uint64_t user_quota_refusals;
	/*
	 * Counted by the engine of the image before a restart in place,
	 * which the new engine starts from 0: `poolctl stats` adds them.
	 */
	uint64_t failed_before;	/* failed_allocs, as the stats showed it */
	uint64_t released_before; /* released_bytes */
	uint64_t idle_ops;	/* allocs + frees when last seen to move */
	uint64_t idle_since;	/* ... and when (monotonic seconds) */
	uint64_t keep_id;	/* its memfd is "keep.<n>" in systemd's
				 * store (journal.c); 0: not kept */
	bool keep_due;		/* not kept for a passing reason: tried
				 * again (journal.c) */
};

struct dpool_params {
	uint64_t size;
	uint32_t granularity;
	uint64_t page_size;	/* 0 or the system page; or a huge page size
				 * (hugepage_valid) */
	uid_t uid;
	gid_t gid;
	uint32_t mode;
	struct acl acl;		/* checked (acl_build) */
	uint64_t quota;
	uint64_t user_quota;
	struct uquota uquotas;	/* checked (uquota_build) */
	uint64_t limit;		/* 0, or a granule to size (dpool_limit_valid) */
	uint64_t retain;	/* bytes of free pages kept for reuse, rounded
				 * up to pages; 0 = the engine's default,
				 * DPOOL_RETAIN_NONE = none */
	uint32_t numa_policy;	/* DPOOL_NUMA_* (pool_numa.h), for a new
				 * memfd only: an adopted one keeps its own */
	uint32_t numa_node;
};

#define DPOOL_RETAIN_NONE UINT64_MAX

/* The registry of pools. */
struct dpool *dpool_find(const char *name);
struct dpool *dpool_first(void);
struct dpool *dpool_next(struct dpool *p);
unsigned dpool_count(void);

/*
 * Called about once a second while it says so: a pool with no allocation
 * or free for idle_trim seconds (0: never) gives back the free pages it
 * keeps for reuse, and its cached blocks' (heap_trim).  True while some
 * pool still has a trim to come or under way, so needs a further tick;
 * false when only an allocation or a free could give one something to do.
 */
bool dpool_idle_tick(uint64_t now, uint32_t idle_trim);

/*
 * A new pool: 0, or -EEXIST, -ENOSPC (too many pools), -EINVAL (a bad
 * size, granularity or page size), -ENOMEM (for huge pages: the kernel
 * would not reserve enough of them to back the whole pool), ...
 */
int dpool_create(const char *name, const struct dpool_params *params,
		 struct dpool **out);
/*
 * dpool_create over an existing memfd of the pool's size, which the pool
 * takes on success (a restart in place, restore.c); a new share map.  The
 * memfd's own page size must be params' (-EINVAL).
 */
int dpool_adopt(const char *name, const struct dpool_params *params,
		int memfd, struct dpool **out);
/*
 * May a pool of size bytes and granules of granularity have limit?  0
 * (none), or a granule to its size: one below a granule could hold
 * nothing, one above the size would bound nothing.
 */
static inline bool
dpool_limit_valid(uint64_t limit, uint64_t size, uint64_t granularity)
{
	return limit == 0 || (limit >= granularity && limit <= size);
}
/*
 * Would more bytes of live blocks take pool p over its limit?  The
 * engine's count of what the live blocks hold, one comparison: no walk.
 */
bool dpool_over_limit(const struct dpool *p, uint64_t more);
/*
 * failed_allocs as the statistics show it: the engine's, the limit's
 * refusals, those before a restart in place, less those retried.
 */
uint64_t dpool_failed_allocs(const struct dpool *p);
/*
 * Give live pool p the owner, group, mode, ACL, quotas, limit and retain of
 * params (a reload of the file; its size and granularity are not looked
 * at: a live pool's cannot change), and write what changed, "mode 0660 ->
 * 0640, quota ...", to changed ("" if nothing did).  Rights are checked
 * at each open and request by name, so the new ones hold from the next; a
 * handle keeps the access it was opened with.  A quota or a limit is
 * checked at each request that would hold more, so nothing held is taken
 * back (but for unheld evictable names: see dpool_evict_to_limit).
 * Free pages kept over a lowered retain go back a step per loop turn
 * (dpool_retain_check).
 */
void dpool_apply_settings(struct dpool *p, const struct dpool_params *params,
			  char *changed, size_t len);

/*
 * After dpool_apply_settings and the journal's record of them: evict the
 * unheld evictable names over p's limit, least recently used first, and
 * add "evicted N names of B bytes" to changed.  Each eviction is a change
 * of the journal's after the settings': a crash between recovers the new
 * limit with the names not yet evicted, which the limit never took back
 * anyway, rather than the old limit with some of its cache gone.
 */
void dpool_evict_to_limit(struct dpool *p, char *changed, size_t len);
/*
 * p's bounds for the log line of its making, as a reload's or a set's
 * line names them: ", quota N, user_quota N, limit N, user_quotas LIST",
 * each only if set; "" for none.  Into buf (DPOOL_BOUNDS_TEXT_MAX holds
 * the longest), which it returns.
 */
#define DPOOL_BOUNDS_TEXT_MAX	(96 + UQUOTA_TEXT_MAX)
const char *dpool_bounds_text(const struct dpool *p, char *buf, size_t len);
/*
 * ", acl LIST" for a pool that has one, for the line of its making; ""
 * for one without (the line as it always was).  Into buf, which it returns.
 */
const char *dpool_acl_made_text(const struct dpool *p, char *buf, size_t len);
/*
 * Destroy a pool; its handles must be closed already.  unmapped: no
 * process is known to map it (it had no handles), so the close of its
 * memfd may free its pages, which takes long: it is closed off the loop
 * (dpool_release_file); otherwise it is closed at once and the pages stay
 * with the other processes' mappings, whose last unmap frees them.  Its
 * pages are never punched: a process the daemon does not know of (a
 * client's child forked after the open) may still map them.
 */
void dpool_destroy(struct dpool *p, bool unmapped);
/*
 * Tell the clients that still map the pool that it is gone: the state word
 * after the share map's bits (docs/protocol.md), which their caches read
 * before serving anything, so a forced destroy stops cache hits at once.
 */
#define DPOOL_STATE_DESTROYED 1
/* The page's words: the state, then "replaced" (dpool_share_freeze). */
#define DPOOL_WORD_STATE 0
#define DPOOL_WORD_REPLACED 1
void dpool_mark_destroyed(struct dpool *p);

/*
 * Operations on behalf of handle h; each returns 0 or -errno, or
 * DPOOL_IN_STEPS (see dpool_realloc).  A zeroed block whose zeroing
 * would punch more than the release step is zeroed in steps
 * (dpool_zero_defer): DPOOL_IN_STEPS, *out the block, which the caller
 * hands out once the queue's mark has passed.  dpool_alloc's
 * DPOOL_NO_MEMORY: the daemon has no memory for the block's record or
 * its place in the index, nothing done; unlike the pool's -ENOMEM, no
 * wait or eviction can help, and the client is told -ENOMEM.
 */
#define DPOOL_NO_MEMORY (-ENOBUFS)
int dpool_alloc(struct dpool *p, struct handle *h, uint64_t size,
		uint64_t align, bool zero, uint64_t quota_used,
		struct block **out);
int dpool_free(struct dpool *p, struct handle *h, uint64_t off);
/*
 * dpool_free in two halves, for a change of many frees that the crash
 * journal takes as one (FreeBatch): dpool_free_begin drops h's hold or
 * ends the block's persistence (journalled), and gives the block, which
 * stays in the index; dpool_free_end frees it if nobody holds it, once
 * the journal's group has ended.  Nothing else may come between.
 */
int dpool_free_begin(struct dpool *p, struct handle *h, uint64_t off,
		     struct block **out);
void dpool_free_end(struct dpool *p, struct block *b);
/* Take back a block h was just given, at once: the undo of a refused
 * request, which must leave nothing behind. */
int dpool_unalloc(struct dpool *p, struct handle *h, uint64_t off);
/* Would dpool_free succeed?  The same answer, nothing changed. */
int dpool_may_free(struct dpool *p, struct handle *h, uint64_t off);
/*
 * in_place: -EAGAIN rather than move the block.  A move that would copy
 * more than the release step is not made at once: the new block is taken
 * and the copy queued (dpool_move_defer), and DPOOL_IN_STEPS returned with
 * *out the block, still at off, and *dst where it will be.  The caller
 * waits for the queue's mark (dpool_release_mark) before it replies, and
 * finds the block at *dst then.
 */
#define DPOOL_IN_STEPS 1
int dpool_realloc(struct dpool *p, struct handle *h, uint64_t off,
		  uint64_t size, uint64_t quota_used, bool in_place,
		  struct block **out, uint64_t *dst);
int dpool_retain(struct dpool *p, struct handle *h, uint64_t off,
		 uint64_t quota_used);
/*
 * Make the block at off persistent, charged to h's uid.  credit: bytes of
 * that uid's charge the same request takes away once this is done (the
 * old block of a replace, pool_names.c), which the quota's check counts
 * as gone already; at most what the uid has persisted.  -EDQUOT past the
 * quota, or past the uid's count of persistent blocks (dpool_persist_cap;
 * p->persist_cap_hit), which a replace (credit) does not grow.
 */
int dpool_persist(struct dpool *p, struct handle *h, uint64_t off,
		  uint64_t credit);
/*
 * Drop the pool's reference of persistent block b, freeing it if no
 * handle holds it (a name going, pool_names.c).
 */
void dpool_unpersist(struct dpool *p, struct block *b);
/* The clock of persist times (CLOCK_BOOTTIME), in ns. */
uint64_t dpool_persist_clock_ns(void);
/* For how long b has been persistent, in ns; 0 if it is not. */
uint64_t dpool_persisted_for(const struct dpool *p, const struct block *b);
/*
 * FreePersisted: drop the pool's reference of the persistent block at off
 * (freeing it if no handle holds it) if it has been persistent for at
 * least min_ns.  0; -EINVAL (no live block there) or -EPERM (not
 * persistent), each counted as an invalid free; -EBUSY (a name holds it);
 * -ESTALE (persistent for less, *age_ns that long).  *persister: whose
 * it was (NO_PERSISTER for no block).  Nothing changes but on 0.
 */
int dpool_free_persisted(struct dpool *p, uint64_t off, uint64_t min_ns,
			 uint64_t *age_ns, uid_t *persister);
/*
 * Bytes of the pool's persistent blocks that uid made persistent: they
 * count against the quota of each of its sessions in the pool.
 */
uint64_t dpool_persisted_by(const struct dpool *p, uid_t uid);
/* uid's persist charge in p, or NULL if it has none: O(log u).  Valid
 * until the next charge comes or goes (they move in their array). */
struct persist_charge *dpool_charge(struct dpool *p, uid_t uid);
/*
 * Has p a user quota for some uid: a default, or entries of uids' own?
 * (An entry may be of none, 0 bytes: the uids are counted all the same,
 * which costs a look at a running total, never a walk.)
 */
static inline bool
dpool_has_user_quota(const struct dpool *p)
{
	return p->user_quota || p->uquotas.n;
}
/* Has p a quota, per connection or per user? */
static inline bool
dpool_has_quota(const struct dpool *p)
{
	return p->quota || dpool_has_user_quota(p);
}
/*
 * uid's user quota in p: its own entry's bytes (*own true) or the pool's
 * default (*own false); 0 is none.  A binary search of the entries, O(log
 * n), none without any.  own may be NULL.
 */
static inline uint64_t
dpool_user_bound(const struct dpool *p, uid_t uid, bool *own)
{
	return uquota_bound(&p->uquotas, p->user_quota, (uint32_t)uid, own);
}
/*
 * What counts against uid's user quota in p: the bytes of the blocks its
 * sessions' handles hold there, each once however many of them hold it,
 * and its persistent blocks' (dpool_user_held); 0
 * when p has no user quota for any uid (not counted).  h, if not NULL, is an open handle
 * of one of uid's sessions: its running total is read instead of looking
 * the uid up.
 */
uint64_t dpool_user_held(const struct dpool *p, const struct handle *h,
			 uid_t uid);

static inline uint64_t
dpool_user_used(const struct dpool *p, const struct handle *h, uid_t uid)
{
	/* Inline: every allocation asks, most pools have no user quota. */
	return dpool_has_user_quota(p) ? dpool_user_held(p, h, uid) : 0;
}
/* Does h hold a reference to b? */
bool dpool_holds(struct block *b, struct handle *h);
/*
 * The live block at off, or NULL.  A block whose every holder has closed
 * its handle is not live, though its references may not be dropped yet.
 * Whether it is, is known at once unless the pool has closed handles
 * dropping references in steps, and the block at most as many holders
 * (block_let_go).
 */
struct block *dpool_block(struct dpool *p, uint64_t off);

/*
 * Drop up to max of the references closed handle h holds, freeing every
 * block nobody holds any more; true when h holds none.
 */
bool dpool_drop_refs(struct dpool *p, struct handle *h, uint64_t max);
/* Unlink all of h's references and free no block: the pool is going. */
void dpool_unlink_refs(struct handle *h);

uint64_t dpool_committed(const struct dpool *p);
/*
 * The end of a trim: punch p's memfd from the engine's high-water mark
 * (heap_top), rounded up to the pool's page, to its end, where pages
 * that mappings faulted in by reading, or wrote where no block is, stay
 * resident and the engine's own trim never looks.  A step of it: from
 * *at (0 to begin), or the mark if that is higher now, the next data
 * found (SEEK_DATA) and at most max bytes of it punched; *at is set past
 * them, to p->size when nothing is left.  max UINT64_MAX: all of it in
 * one fallocate, whatever the pool's size.  Returns the bytes the memfd
 * holds less after it than before (st_blocks), never below 0; 0, *at
 * p->size and nothing done where pool_release gives nothing back (huge
 * pages, a trial, the daemon stopping).
 */
uint64_t dpool_trim_past_top(struct dpool *p, uint64_t *at, uint64_t max);
/*
 * The pool's own books against what they sum up (Check, after the
 * engine's): the cached bytes of its open handles, its index of blocks
 * (block_index_check), each block's holds, and the blocks taken for let
 * go.  0, or -EFAULT
 * with the problem in problem.
 */
int dpool_check(struct dpool *p, char *problem, size_t len);
/* Resident bytes of the share map (daemon metadata, counted as such). */
uint64_t dpool_share_resident(const struct dpool *p);

/*
 * The daemon is stopping: free pages are no longer punched out, so clients
 * that still map a pool keep seeing their bytes until they notice the
 * connection is gone (the memfd itself goes with the last mapping); the
 * memfds of destroyed pools still queued for their close are closed now.
 */
void dpool_stop_releasing(void);

/*
 * pool_release.c: what clients let go of is given back a step per call of
 * dpool_release_step, which the server makes once per loop turn while it
 * returns true: freed blocks larger than the release step (bytes; default
 * 1 MiB; 0: none) are punched out step bytes at a time, and a closed
 * handle holding more than drop_step references (default 4096; 0: none)
 * drops that many per step.  queued is called when the queue stops being
 * empty.
 */
#define DPOOL_RELEASE_STEP_DEFAULT (1ull << 20)
#define DPOOL_DROP_STEP_DEFAULT 4096
void dpool_release_setup(uint64_t step, uint32_t drop_step,
			 void (*queued)(void));

/*
 * pool_hold.c: how many persistent blocks one uid may have in a pool
 * (max_persistent_blocks_per_uid; 0: no bound).  Each costs the daemon
 * memory and outlives every connection, so no connection's bound holds
 * them; past it dpool_persist is -EDQUOT (p->persist_cap_hit).  A reload
 * lowering it ends none: only new persists are refused.
 */
void dpool_persist_setup(uint64_t cap);
uint64_t dpool_persist_cap(void);

/*
 * -EDQUOT (p->persist_cap_hit) if n more persistent blocks of uid would
 * pass the bound, else 0: asked by a request that makes its blocks
 * persistent from birth before it allocates them, so that one refused
 * makes no room (evicts no name) for blocks it could not keep.
 */
int dpool_persist_check(struct dpool *p, uid_t uid, uint64_t n);

/*
 * Room was made in p: bytes went back to the engine (a free, a shrink, a
 * move's old place, a release's last step) or its limit changed.  While
 * allocations wait for room in p (p->alloc_waits), made(p) is called
 * (dispatch_room.c sets it), at most once per loop turn and pool, as it
 * marks p and wakes its waiters later, from the loop.
 */
void dpool_room_setup(void (*made)(struct dpool *p));
void dpool_room_tell(struct dpool *p);
static inline void
dpool_room(struct dpool *p)
{
	p->room_count++;
	if (p->alloc_waits && !p->room_made)
		dpool_room_tell(p);
}
/*
 * Handle h was closed (unlinked from its session and pool, h->session
 * NULL): drop its references now, or a step at a time if it holds many.
 * Takes h, and frees it when they are gone.
 */
void dpool_close_handle(struct dpool *p, struct handle *h);
/*
 * Hold the freed block [off, off + len) for a stepped release, or false:
 * the caller frees it in the engine at once.  A span goes in steps when
 * it is over the release step, or when frees gave back a step's worth at
 * once in this loop turn already (dpool_turn_spent).
 */
bool dpool_release_defer(struct dpool *p, uint64_t off, uint64_t len);
/*
 * The bytes of the block at off if it is a freed block held while its
 * pages go back in steps (dpool_release_defer): free once the work queued
 * now is done.  0 if it is not, and whenever a block is being moved in
 * steps (its new place is held the same way, and stays taken).  O(1).
 */
uint64_t dpool_releasing_at(struct dpool *p, uint64_t off);
/* The engine gave len bytes back at once (its release callback). */
void dpool_released_at_once(uint64_t len);
/*
 * Did this loop turn give back a release step's worth at once?  Then
 * frees in it give nothing more back at once: spans are deferred, small
 * blocks' pages held in the engine for dpool_retain_check.
 */
bool dpool_turn_spent(void);
/* Make [off, off + len) of the pool read zero: whole pages punched. */
void dpool_zero(struct dpool *p, uint64_t off, uint64_t len);
/*
 * Copy [src, src + len) of the pool to dst, which it does not overlap.
 * Its holes (but small ones between data) are not read, which would give
 * each page a page, charged to the daemon, and the copy one more: dst
 * reads zero there (dpool_zero).
 */
void dpool_copy(struct dpool *p, uint64_t dst, uint64_t src, uint64_t len);
/*
 * A big block was freed or shrunk, so the bound on the free pages the
 * engine keeps fell: give back what it keeps over it, a step per turn.
 */
void dpool_retain_check(struct dpool *p);
/* The release step in force (bytes), or 0 if releases go at once. */
uint64_t dpool_release_step_bytes(void);
/*
 * What a free may give back at once of the kept pages over their bound
 * (the engine's retain_cut): the release step, all of it if that is 0.
 */
uint64_t dpool_retain_cut(void);
/*
 * Copy len bytes of live block b to dst, a block just allocated in the
 * engine for it, release_step bytes per step; then dpool_move_end.  False
 * if it cannot be queued (or moves go at once): the caller moves it now.
 */
bool dpool_move_defer(struct dpool *p, struct block *b, uint64_t dst,
		      uint64_t len);
/*
 * b's copy to dst is done (or abandoned: nobody holds b any more): b is
 * now at dst and its old place is freed, or, if abandoned, both go.
 */
void dpool_move_end(struct dpool *p, struct block *b, uint64_t dst);
/*
 * Zero new block b (the engine has it, as dirty) release_step bytes per
 * step, then dpool_zero_end; false as dpool_move_defer.
 */
bool dpool_zero_defer(struct dpool *p, struct block *b);
/* b is zeroed (or abandoned: then it is freed). */
void dpool_zero_end(struct dpool *p, struct block *b);
bool dpool_release_step(void);
/*
 * Give back the free pages the pool keeps for reuse, and its cached
 * blocks: in steps of release_step bytes, one per loop turn, while
 * p->trimming.  False if it was all done at once (release_step 0), or
 * there is nothing to do: a pool on huge pages keeps its pages.  A
 * trim under way is joined: it then goes over the pool once more if free
 * pages or cached blocks are left when it gets to the end, so that those
 * free now and behind it go back too.  Blocks still held for their
 * release are not free yet: their own steps give them back.
 */
bool dpool_trim_begin(struct dpool *p);

/* Is anything the pool's clients let go of still being given back, or a
 * block still being moved? */
static inline bool
dpool_unsettled(const struct dpool *p)
{
	return p->releasing || p->closing || p->moving || p->zeroing;
}
/*
 * The work queued so far, as a mark; has all of it been done?  A request
 * that needs a settled pool waits for the mark instead of settling it.
 */
uint64_t dpool_release_mark(void);
bool dpool_release_passed(uint64_t mark);
/* Drop the pool's queue unfinished, freeing no block: it is being
 * destroyed. */
void dpool_release_forget(struct dpool *p);
/*
 * For Check: the closed handles of p still dropping their references (the
 * p->closing that the queue holds), one a call from *at (NULL at first),
 * NULL after the last.  A walk of p's own entries in the queue, one per
 * closed handle of p holding references, which the Check walks anyway:
 * never of every pool's queued work.
 */
struct handle *dpool_closing_next(const struct dpool *p, const void **at);
/*
 * Close a destroyed pool's memfd, whose last close may free gigabytes:
 * on the closer's thread (closer.c), or at once with release_step 0 or
 * once the daemon is stopping.  Takes fd.
 */
void dpool_release_file(int fd);
/* Has dpool_stop_releasing been called? */
bool dpool_release_stopped(void);

/*
 * Restarting in place (restart.c, restore.c).  dpool_restore_block makes
 * the live block [off, off + bi->size) in the engine (heap_reserve) and
 * the books, persistent if persister is not NO_PERSISTER since
 * persisted_ns (dpool_persist_clock_ns; 0: now, as for a state saved without
 * it, or the journal's, which has none): 0 or -errno.
 * dpool_restore_hold gives open handle h a hold on the block at off, at
 * the head of its list (so a handle's holds go from its oldest): 0,
 * -ENOENT (no such block), -EEXIST (h holds it), -EMLINK.  Then
 * dpool_restore_done: every block must be held or persistent (-EINVAL,
 * with why in problem), and its share bit is set as its holders say.
 * dpool_punch punches [off, off + len), whole pages: 0 or -errno; on huge
 * pages (kept for life) it leaves them as they are, and answers 0.
 */
int dpool_restore_block(struct dpool *p, uint64_t off,
			const struct heap_block_info *bi, uid_t persister,
			uint64_t persisted_ns);
int dpool_restore_hold(struct dpool *p, struct handle *h, uint64_t off);
int dpool_restore_done(struct dpool *p, char *problem, size_t len);
int dpool_punch(struct dpool *p, uint64_t off, uint64_t len);
/*
 * The next image cannot write the share map the clients map now (it is
 * sealed against new writable mappings): dpool_share_freeze sets its
 * every bit just before the exec, so that those clients give back what
 * they free rather than keep it (always right), then its "replaced" word,
 * which tells the clients that read it to ask the next image for its map
 * (ShareMap) and cache again on that.  0, or -errno if the pages could
 * not be had.  dpool_share_thaw undoes it (the exec failed): every bit as
 * the books say, none cleared on its way, then "replaced" cleared.
 */
int dpool_share_freeze(struct dpool *p);
void dpool_share_thaw(struct dpool *p);
/*
 * A frozen map handed on (to systemd's store, the next start to follow):
 * this image lets it go, so that closing the clients' handles as it
 * exits writes no bit of it.
 */
void dpool_share_detach(struct dpool *p);

#endif /* POOLMGRD_POOL_H */
