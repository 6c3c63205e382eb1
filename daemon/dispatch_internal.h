/*
 * dispatch_internal.h - what dispatch.c shares with the files that carry out
 * the requests: dispatch_strings.c (a request's strings read whole),
 * dispatch_admin.c (pools made, changed and ended: create, destroy, set),
 * dispatch_open.c (handles: open, close, share map; and who may reach a
 * pool), dispatch_inspect.c (stats, list, clients, persisted),
 * dispatch_upkeep.c (trim, check), dispatch_users.c (who holds what, per
 * uid), dispatch_block.c (blocks of an open handle), dispatch_batch.c
 * (their batches), dispatch_refuse.c (refusals of those, and the room
 * they make), dispatch_names.c (names of blocks), dispatch_blocks.c (a
 * pool's blocks listed), dispatch_status.c (the daemon's own
 * statistics), dispatch_wait.c (Lookups that wait for a name),
 * dispatch_room.c (Allocs that wait for room), and dispatch_acl.c and
 * dispatch_uquota.c (a pool's lists on the wire).  Nothing here is seen
 * outside daemon/dispatch*.c.
 *
 * Every do_* handler takes the call and its request's body and returns 0
 * (the reply is filled in), a negative errno (refuse() said why), HELD:
 * the request waits for its pool to settle (dispatch.c holds it and
 * dispatches it again later, with c->stage and c->note as it left them),
 * or WAITING: a Lookup waits for its name (dispatch_wait.c keeps what it
 * waits for; dispatch.c holds it), or an Alloc for room (dispatch_room.c).
 */
#ifndef POOLMGRD_DISPATCH_INTERNAL_H
#define POOLMGRD_DISPATCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "poolmgr.pb-c.h"

#include "peer.h"
#include "pool_acl.h"
#include "pool_uquota.h"

#define HELD 1			/* a handler's answer: hold the request */
#define WAITING 2		/* ... for a name or room (dispatch_wait.c,
				 * dispatch_room.c) */

/* What HelloReply says of the daemon (docs/protocol.md, "Features"). */
#define DISPATCH_SERVER		"poolmgrd 0.1.0"
#define FEATURE_LOOKUP_WAIT	(1ULL << 0)
#define FEATURE_POOL_LIMIT	(1ULL << 1)
#define FEATURE_BATCH_BOUNDS	(1ULL << 2)
#define FEATURE_DAEMON_STATS	(1ULL << 3)
#define FEATURE_LIST_BLOCKS	(1ULL << 4)
#define FEATURE_ALLOC_WAIT	(1ULL << 5)
#define FEATURE_ALLOC_PERSIST	(1ULL << 6)
#define FEATURE_FREE_PERSISTED	(1ULL << 7)
#define FEATURE_USER_QUOTA	(1ULL << 8)
#define FEATURE_ACL		(1ULL << 9)
#define FEATURE_BATCH_PERSIST	(1ULL << 10)
#define FEATURE_USER_QUOTAS	(1ULL << 11)
#define FEATURE_NAMES_AFTER	(1ULL << 12)
#define FEATURE_RETAINED_NOW	(1ULL << 13)
#define FEATURE_BATCH_BEHIND	(1ULL << 14)
#define FEATURE_WAIT_OVER	(1ULL << 15)
#define DISPATCH_FEATURES	(FEATURE_LOOKUP_WAIT | FEATURE_POOL_LIMIT | \
				 FEATURE_BATCH_BOUNDS | FEATURE_DAEMON_STATS | \
				 FEATURE_LIST_BLOCKS | FEATURE_ALLOC_WAIT | \
				 FEATURE_ALLOC_PERSIST | \
				 FEATURE_FREE_PERSISTED | FEATURE_USER_QUOTA | \
				 FEATURE_ACL | FEATURE_BATCH_PERSIST | \
				 FEATURE_USER_QUOTAS | FEATURE_NAMES_AFTER | \
				 FEATURE_RETAINED_NOW | FEATURE_BATCH_BEHIND | \
				 FEATURE_WAIT_OVER)

struct config;
struct dpool;
struct handle;
struct session;

/* One request being carried out: who asked, the reply, why it failed. */
struct call {
	struct peer *peer;
	struct session *s;
	const Poolmgr__Request *req;
	Poolmgr__Reply *rep;
	struct peer_fds fds;	/* descriptors to send with the reply */
	char msg[256];	/* as long as libpoolclient keeps (conn.c) */
	/* A held request's progress, kept from one dispatch to the next. */
	uint64_t waited_ns;	/* since it was first held */
	uint64_t prior;		/* the work queued before it first came, as
				 * a release mark */
	unsigned stage;
	uint64_t note;
	bool settle;		/* held by wait_settled for a settled pool */
	bool prior_only;	/* held by wait_settled for prior alone */
	uint32_t evict_names;	/* names its eviction rounds that waited
				 * for pages took, all told (make_room) */
	bool window;		/* this dispatch's rounds found its largest
				 * block a window (evict_for) */
	bool tried;		/* ... and a batch's trials were made in
				 * this dispatch (evict_for) */
};

/* dispatch.c */
extern const struct config *dispatch_cf;	/* in force, or NULL */
/* CLOCK_MONOTONIC in ns, the clock of the waits' deadlines. */
uint64_t dispatch_now_ns(void);
/* Timer ev due at deadline_ns (after now), rounded up to a microsecond. */
struct event;
void dispatch_arm(struct event *ev, uint64_t deadline_ns, uint64_t now);
/* Puts why in c's reply message; returns err, for the handler to return. */
int refuse(struct call *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The session's handle id (writable if write), or NULL with *err set. */
struct handle *get_handle(struct call *c, uint32_t id, bool write, int *err);
/*
 * 0 once p is settled, or once c has waited settle_wait_ms and the
 * work queued before it is done; else HELD.
 */
int wait_settled(struct call *c, struct dpool *p);
/*
 * Requests answered since this image started, those of them answered
 * with an error, and datagrams that did not decode.
 */
void dispatch_counts(uint64_t *answered, uint64_t *refused, uint64_t *bad);
/* Requests held now: for a settled pool, or for a name. */
unsigned dispatch_held(void);

/* dispatch_admin.c */
/* Is s an admin of the daemon, by the configuration in force? */
bool may_admin(const struct session *s);
int do_create(struct call *c, const Poolmgr__CreatePool *m);
int do_destroy(struct call *c, const Poolmgr__DestroyPool *m);
int do_set(struct call *c, const Poolmgr__SetPool *m);

/* dispatch_open.c */
/* A name to look up: too long is its own error, else any is looked up. */
int check_name_length(struct call *c, const char *name);
/*
 * The refusal of the rights want (4 read, 2 write) in p by its mode, or
 * by the rule of its access control list that decided: -EACCES.
 */
int refuse_access(struct call *c, const struct dpool *p, unsigned want);
/* -ENOENT: no pool has name (an empty one said so). */
int refuse_no_pool(struct call *c, const char *name);

/* dispatch_strings.c */
/*
 * 0, or -EINVAL with the reason set when a string field of the request
 * encoded in buf (len bytes, decoded already) holds a NUL byte.
 */
int check_request_strings(struct call *c, const uint8_t *buf, size_t len);
/* The pool ref names, if the caller may read (or write) it; else NULL. */
struct dpool *get_pool(struct call *c, const Poolmgr__PoolRef *ref,
		       bool write, int *err);
int do_open(struct call *c, const Poolmgr__OpenPool *m);
int do_close(struct call *c, const Poolmgr__ClosePool *m);
int do_share_map(struct call *c, const Poolmgr__ShareMap *m);

/* dispatch_inspect.c */
int do_stats(struct call *c, const Poolmgr__PoolRef *m);
int do_list(struct call *c);
int do_clients(struct call *c, const Poolmgr__ListClients *m);
int do_persisted(struct call *c, const Poolmgr__ListPersisted *m);

/* dispatch_upkeep.c */
int do_trim(struct call *c, const Poolmgr__Trim *m);
int do_check(struct call *c, const Poolmgr__Check *m);

/* dispatch_users.c */
int do_users(struct call *c, const Poolmgr__ListUsers *m);

/* No block: an offset no request names (UINT64_MAX). */
#define OFF_NONE UINT64_MAX

/* dispatch_block.c */
/* -EDQUOT if the session holds as many references as it may, else 0. */
int check_block_cap(struct call *c);
/* check_block_cap, for a retain of off that would add a reference only. */
int check_retain_cap(struct call *c, struct handle *h, uint64_t off);
/* What counts against the quota of c's session in h's pool. */
uint64_t quota_used(struct call *c, struct handle *h);
/* The bytes of a block for size in p, the least its allocation takes. */
uint64_t block_bytes(struct dpool *p, uint64_t size);
/* A free of off by h: 0 if h may, -EACCES for a reader not holding it. */
int reader_holds(struct handle *h, uint64_t off);
/* A read-only handle's free of a block it does not hold: -EACCES. */
int refuse_reader_free(struct call *c, struct handle *h, uint64_t off);
/* The reply is alloc{off, size}. */
void reply_block(struct call *c, uint64_t off, uint64_t size);
int do_alloc(struct call *c, const Poolmgr__Alloc *m);
int do_free(struct call *c, const Poolmgr__Free *m);
int do_free_persisted(struct call *c, const Poolmgr__FreePersisted *m);
int do_realloc(struct call *c, const Poolmgr__Realloc *m);
int do_retain(struct call *c, const Poolmgr__Retain *m);
int do_persist(struct call *c, const Poolmgr__Persist *m);
int do_usable_size(struct call *c, const Poolmgr__UsableSize *m);

/* dispatch_batch.c */
int do_alloc_batch(struct call *c, const Poolmgr__AllocBatch *m);
int do_free_batch(struct call *c, const Poolmgr__FreeBatch *m);

/* dispatch_refuse.c: refusals of requests on blocks, and room they make */
/* A handler's answer after make_room made room: try the request again. */
#define TRY_AGAIN 2
/* rc while p still has work queued: HELD until it is done, else 0. */
int refused_unsettled(struct call *c, struct dpool *p, int rc);
/* Held (HELD) until the work its pool has queued by now is done. */
int held_for_work(struct call *c);
/*
 * What a refused request needs of its pool (make_room): bytes, the least
 * it could do with (under -EDQUOT: what the asking uid lacks); counted,
 * of them what the pool's limit counts; run and align, heap_alloc's
 * arguments for the largest block it must have whole, run 0 when there
 * is none (a growth in place); whole, that block is all it needs (an
 * allocation, a move; not a batch of several); grow, a growth in place
 * of the block at at by bytes, which only the names right after it can
 * give (dpool_evict_grow); sizes, the n sizes of a batch of several,
 * which a trial in the engine allocates (dpool_evict_batch), else NULL.
 */
struct room_need {
	uint64_t bytes, counted;
	uint64_t run, align;
	bool whole;
	bool grow;
	uint64_t at;
	const uint64_t *sizes;
	size_t n;
};
/*
 * Evictions for a refusal rc (-ENOMEM: the pool's least recently used
 * names; -EDQUOT: the asking uid's own): TRY_AGAIN, HELD for their pages
 * going back in steps, or 0: the refusal stands.
 */
int make_room(struct call *c, struct dpool *p, int rc, bool retry_follows,
	      const struct room_need *need);
/* What the last -EDQUOT lacked that uid's own names may give back. */
uint64_t own_quota_lack(struct call *c, struct dpool *p, uid_t uid);
/* A final -ENOMEM the client will try again: not counted as seen. */
void uncount_retried(struct dpool *p, int rc, bool retry_follows);
/* n bytes for a message, in buf: "1.0 GiB", "512 B". */
const char *bytes_text(uint64_t n, char *buf, size_t len);
/* A quota's refusal of what, by uid's bound or the connection's. */
int refuse_quota(struct call *c, struct dpool *p, uid_t uid, const char *what,
		 bool retry_follows);
/* A refused retain of off in p (dpool_retain's rc), its quota named. */
int refuse_retain(struct call *c, struct dpool *p, int rc, uint64_t off,
		  bool retry_follows);
/* A persist refused by the quota (dpool_persist's -EDQUOT), counted. */
int refuse_persist_quota(struct call *c, struct dpool *p, bool retry_follows);
/* A refusal by p's limit (limit_hit): what the pool holds, and of what. */
int refuse_limit(struct call *c, struct dpool *p);
/* An allocation of size refused by a quota (-EDQUOT) or p's size. */
int refuse_bound(struct call *c, struct dpool *p, int rc, uint64_t size,
		 bool retry_follows);
/* The daemon's own memory ran out (DPOOL_NO_MEMORY). */
int refuse_no_memory(struct call *c);
/* The engine found no run for what (-ENOMEM): the room the pool has. */
int refuse_no_run(struct call *c, struct dpool *p, const char *what,
		  bool retry_follows);
/* An allocation of size refused (rc): which bound, in words, counted. */
int refuse_alloc(struct call *c, struct dpool *p, int rc, bool retry_follows,
		 uint64_t size);

/* dispatch_names.c */
int do_publish(struct call *c, const Poolmgr__Publish *m);
int do_lookup(struct call *c, const Poolmgr__Lookup *m);
int do_unpublish(struct call *c, const Poolmgr__Unpublish *m);
int do_list_names(struct call *c, const Poolmgr__ListNames *m);
/*
 * A name the client gave, as a refusal shows it: quoted, printable ASCII
 * as it is, and the quote, the backslash and every other byte as \xHH,
 * which printf '%b' reads back (poolctl names shows a name so too): a
 * name may hold any byte but NUL, and the words go to terminals and logs,
 * in the protocol's string field, as ASCII.  At most NAME_SHOWN_MAX
 * characters of it, never half an escape; a name cut short has "..."
 * after its quote.  The longest words that show one, "the name '...'...
 * is in use in pool " and a pool name of 64, are then 225 bytes, within
 * the 255 that libpoolclient keeps (struct call's msg).
 */
#define NAME_SHOWN_MAX 128
struct name_shown {
	char s[NAME_SHOWN_MAX + sizeof("''...")];
};

struct name_shown name_shown(const ProtobufCBinaryData *name);

/* dispatch_blocks.c */
int do_list_blocks(struct call *c, const Poolmgr__ListBlocks *m);

/* dispatch_status.c */
int do_daemon_stats(struct call *c, const Poolmgr__DaemonStats *m);

/* dispatch_wait.c */
/* Lookups waiting for a name now. */
unsigned lookup_waits_held(void);
/*
 * Lookup m must wait for its name in p: WAITING, or -EINTR (a restart in
 * place is under way), -EAGAIN (max_name_waits wait in p, or
 * dispatch_uid_waits_max of them are of c's uid), -ETIMEDOUT
 * (its wait_ms has passed since it first came), -ENOMEM.
 */
int lookup_wait(struct call *c, struct dpool *p, const Poolmgr__Lookup *m);
/* Of a pool's max waits (lookups, allocations), the most one uid holds. */
unsigned dispatch_uid_waits_max(unsigned max);
/* Was the pool that s's lookup waits in destroyed meanwhile? */
bool lookup_wait_pool_gone(const struct session *s);
/* s's lookup is answered (or s is gone): forget what it waited for. */
void lookup_wait_end(struct session *s, bool gone);
/* name (len bytes) was given a block in p: its lookups go on. */
void lookup_waits_published(struct dpool *p, const void *name, size_t len);
/* p is being destroyed: its lookups go on, to be told so. */
void lookup_waits_pool_gone(struct dpool *p);

/* dispatch_room.c */
/* Allocs waiting for room now (not held for their pool to settle). */
unsigned room_waits_held(void);
/*
 * The Alloc m of c for size bytes was refused (why: -ENOMEM for want of
 * room in p, -EDQUOT by p's user quota) and may wait m->wait_ms: WAITING, or
 * -EINTR (a restart in place is under way), -EAGAIN (max_alloc_waits
 * wait in p, or dispatch_uid_waits_max of them are c's uid's),
 * -ETIMEDOUT (wait_ms has passed since it first waited; not counted as a
 * failure if part), -ENOMEM.
 */
int room_wait(struct call *c, struct dpool *p, const Poolmgr__Alloc *m,
	      uint64_t size, int why);
/*
 * A new Alloc m of c in p (waiting or not, up to wait_ms, its own), or,
 * m NULL, an AllocBatch or a Realloc that takes room (neither waits
 * itself: wait_ms is never reached), while p's waiting allocations
 * have room they have not tried yet: WAITING behind them, untried, so
 * that the room goes to them first (past the bounds too: they are met if
 * its try is refused); 0 when it is to be tried now (none such, or a
 * restart in place is under way).
 */
int room_wait_behind(struct call *c, struct dpool *p, const Poolmgr__Alloc *m,
		     uint32_t wait_ms);
/*
 * Allocations waiting for room in p as max_alloc_waits bounds them
 * (PoolStats.alloc_waits): those gone behind them untried not counted.
 */
unsigned room_waits_in(const struct dpool *p);
/* s got a block: the place its last wait part kept is let go. */
void room_kept_served(struct session *s);
/*
 * s closes its handle, or says its wait there is over (WaitOver): the
 * place a wait part on it kept is let go.
 */
void room_kept_closed(struct session *s, uint32_t handle);
int do_wait_over(struct call *c, const Poolmgr__WaitOver *m);
/* Was the pool that s's allocation waits in destroyed meanwhile? */
bool room_wait_pool_gone(const struct session *s);
/* s's allocation is answered (or s is gone): forget its wait. */
void room_wait_end(struct session *s, bool gone);
/* p is being destroyed: its waiting allocations go on, to be told so. */
void room_waits_pool_gone(struct dpool *p);

/*
 * Access control lists (dispatch_acl.c).  CreatePool's list into pp->acl,
 * checked; SetPool's over p's into pp->acl (p's own if m changes none),
 * checked; 0 or refused (the reply says why).  dispatch_fill_acl points
 * ps->acl into room (NULL for an empty list): room lives as long as ps.
 */
struct dpool_params;
struct stats_acl {
	Poolmgr__Acl acl;
	Poolmgr__AclEntry e[ACL_MAX];
	Poolmgr__AclEntry *ptr[ACL_MAX];
};
int dispatch_create_acl(struct call *c, const Poolmgr__CreatePool *m,
			struct dpool_params *pp);
int dispatch_set_acl(struct call *c, const Poolmgr__SetPool *m,
		     const struct dpool *p, struct dpool_params *pp);
void dispatch_fill_acl(Poolmgr__PoolStats *ps, const struct dpool *p,
		       struct stats_acl *room);

/*
 * uids' own user quotas (dispatch_uquota.c), as the lists above:
 * CreatePool's into pp->uquotas, SetPool's remove then modify over p's
 * (p's own if m changes none), each checked; 0 or refused.
 * dispatch_fill_uquotas points ps->user_quotas into room (none for an
 * empty list): room lives as long as ps.
 */
struct stats_uquotas {
	Poolmgr__UserQuota e[UQUOTA_MAX];
	Poolmgr__UserQuota *ptr[UQUOTA_MAX];
};
int dispatch_create_uquotas(struct call *c, const Poolmgr__CreatePool *m,
			    struct dpool_params *pp);
int dispatch_set_uquotas(struct call *c, const Poolmgr__SetPool *m,
			 const struct dpool *p, struct dpool_params *pp);
void dispatch_fill_uquotas(Poolmgr__PoolStats *ps, const struct dpool *p,
			   struct stats_uquotas *room);

#endif /* POOLMGRD_DISPATCH_INTERNAL_H */
