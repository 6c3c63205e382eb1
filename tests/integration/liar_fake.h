/*
 * liar_fake.h - what the fake daemon's own files share (liar_daemon.c,
 * liar_pool.c, liar_lists.c): its state through its connection, which
 * request it lies to, how it sends, and the replies each file makes.
 * The tests see liar_daemon.h only.
 */
#ifndef POOLMGR_LIAR_FAKE_H
#define POOLMGR_LIAR_FAKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "liar_daemon.h"
#include "poolmgr.pb-c.h"

#define FAKE_MAX_BLOCKS	256

/* HelloReply.features: the bits the fake can announce. */
#define FEATURE_LOOKUP_WAIT	((uint64_t)1 << 0)
#define FEATURE_POOL_LIMIT	((uint64_t)1 << 1)
#define FEATURE_BATCH_BOUNDS	((uint64_t)1 << 2)
#define FEATURE_DAEMON_STATS	((uint64_t)1 << 3)
#define FEATURE_LIST_BLOCKS	((uint64_t)1 << 4)
#define FEATURE_ALLOC_WAIT	((uint64_t)1 << 5)
#define FEATURE_ALLOC_PERSIST	((uint64_t)1 << 6)
#define FEATURE_USER_QUOTA	((uint64_t)1 << 8)
#define FEATURE_BATCH_PERSIST	((uint64_t)1 << 10)
#define FEATURE_USER_QUOTAS	((uint64_t)1 << 11)
#define FEATURE_RETAINED_NOW	((uint64_t)1 << 13)

/* The fake through its one connection; log, its log's write end. */
struct fake_state {
	enum lie lie;
	bool lied;
	uint32_t next_handle;
	uint64_t next_off;
	uint64_t off[FAKE_MAX_BLOCKS], usable[FAKE_MAX_BLOCKS];
	unsigned nblocks;
	unsigned allocs_held;		/* REFUSE_TWO_ALLOCS: unanswered */
	uint64_t last_size;		/* the last Alloc's size */
	uint64_t unheld_off;		/* LIE_PERSIST_UNSAID's block, */
	bool unheld;			/* ... while the handle holds none */
	uint64_t refused_off;		/* the batch's PERSIST_REFUSED_SIZE */
	bool refused_set;		/* ... block, if it had one */
	uint64_t first_wait_ms;		/* LIE_LOOKUP_EINTR's first, or 0 */
	bool wait_held;			/* RESTART_THEN_*: the last waiting
					 * request was held, then -EINTR */
	unsigned endless;		/* LIE_LIST_ENDLESS's pools so far */
	unsigned interrupted;		/* and how many it interrupted */
	FILE *log;
};

/* ---- which request it lies to (liar_daemon.c) --------------------------- */

/* Does the fake open its pool under FAKE_LIMIT, with a share map? */
bool bounds_case(enum lie lie);
/* Does the fake lie to a refill (so send a share map in use)? */
bool refill_case(enum lie lie);
/* Does the fake hold waiting requests past their deadline, then -EINTR? */
bool restart_case(enum lie lie);
/* Is this request the one to lie to? */
bool lie_now(struct fake_state *fs, Poolmgr__Request__BodyCase body);

/* ---- what it sends (liar_daemon.c) -------------------------------------- */

/* rep on fd, with nfds descriptors from fds (at most 2): 0, or -1. */
int fake_send(int fd, const Poolmgr__Reply *rep, const int *fds, int nfds);
/* The reply to req, its body and error yet to be set. */
Poolmgr__Reply fake_reply(const Poolmgr__Request *req);
/* The daemon refusing the whole connection, as poolmgrd past a limit. */
int fake_refuse(struct fake_state *fs, int cfd);

/*
 * The replies: each answers req on the connection cfd, or tells the lie,
 * and logs it.  0, 1 to hang up, or -1 to stop.
 */

/* ---- about the pool and its blocks (liar_pool.c) ------------------------ */

/*
 * OpenPool: a sealed memfd of max_size bytes, and a share map only for
 * the fakes of a frozen map, the bounds cases and the refills; or the
 * lie.  Hangs up after it for LIE_HANG_UP, refuses the connection after
 * it for REFUSE_AFTER_OPEN.
 */
int fake_open(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/* ShareMap: an old daemon's refusal, an unsealed map, or a frozen one. */
int fake_share_map(struct fake_state *fs, int cfd,
		   const Poolmgr__Request *req);
/* Alloc, and the lies told in reply to one. */
int fake_alloc(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/* AllocBatch, and the lies told to one of two blocks or more. */
int fake_alloc_batch(struct fake_state *fs, int cfd,
		     const Poolmgr__Request *req);
/* FreeBatch: every block freed; the bounds as fake_alloc_batch's. */
int fake_free_batch(struct fake_state *fs, int cfd,
		    const Poolmgr__Request *req);
/* UsableSize of a block the fake gave; the lie, another offset's. */
int fake_usable_size(struct fake_state *fs, int cfd,
		     const Poolmgr__Request *req);
/*
 * Lookup: no name is ever published here.  A daemon that can wait says the
 * wait ran out; one from before waiting lookups says -ENOENT at once.
 */
int fake_lookup(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/*
 * A Free, logged: "free_ends_persistent" for LIE_PERSIST_UNSAID's block
 * while the handle holds none of it, which a daemon would end.
 */
void fake_free_logged(struct fake_state *fs, uint64_t off);
/*
 * Persist (-EDQUOT for a block of PERSIST_REFUSED_SIZE bytes, where
 * persist was ignored) and Retain, which gives LIE_PERSIST_UNSAID's
 * block a holder.
 */
int fake_persist_op(struct fake_state *fs, int cfd,
		    const Poolmgr__Request *req);

/* ---- listings and statistics (liar_lists.c) ----------------------------- */

/*
 * A ListPools: LIST_PAGE of the truthful pools after req's after when
 * paged, else all of them; or the lie.  Its names are "l0".."l9"; a
 * daemon from before paging made them in another order.
 */
int fake_list(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/*
 * A ListNames, as NAMES_OLD answers it: logged with its prefix and the
 * bytes of its after, which no client may send to such a daemon.
 */
int fake_names(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/*
 * A ListBlocks: the truthful fake's blocks at k * BLOCKS_STEP from req's
 * from on, BLOCKS_PAGE a page, each with one holder; or the lie, told of
 * the first page.
 */
int fake_blocks(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/*
 * A Stats of the pool, by name: its statistics with the entries the lie
 * says (the truthful ones for every other fake that says bit 11).
 */
int fake_stats(struct fake_state *fs, int cfd, const Poolmgr__Request *req);
/* STATUS_OLD: the figures of a daemon before fields 23 to 25, no
 * resident memory read. */
int fake_daemon_stats(struct fake_state *fs, int cfd,
		      const Poolmgr__Request *req);

#endif
