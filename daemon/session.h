/*
 * session.h - one connected client: its credentials and its pool handles.
 *
 * A session lives exactly as long as its connection.  When the connection
 * closes for any reason (pool_disconnect, exit, SIGKILL), session_free
 * closes every handle, which drops every reference the client held: at
 * once, or a step per loop turn for a handle that holds thousands
 * (pool_release.c), so a client dying with millions of blocks does not
 * hold up everyone else.
 */
#ifndef POOLMGRD_SESSION_H
#define POOLMGRD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool.h"

#define SESSION_MAX_GROUPS 64
#define SESSION_MAX_HANDLES 1024
#define SESSION_GONE 4		/* handles of destroyed pools remembered */

struct config;
struct session;
struct peer;
struct lookup_wait;
struct room_wait;

/*
 * What one session's open handles on one pool hold: the quota's count,
 * kept as their bytes change (handle_set_bytes), so that an allocation
 * need not walk the session's handles for it.  Made at the first open on
 * the pool, gone with the last close.
 */
struct session_account {
	LIST_ENTRY(session_account) entry;
	struct dpool *pool;
	struct user_account *user;	/* its uid's on pool */
	/*
	 * Its connection's, on its uid's list, and the connection's open
	 * handles on pool: what session_pid_handles walks, rather than
	 * every handle of a process that may hold 256 connections of 1024.
	 */
	struct session *session;
	LIST_ENTRY(session_account) by_user;
	struct handle_list handles;
	uint64_t bytes;		/* of its open handles */
	uint32_t nhandles;	/* open on pool */
	uint64_t check_bytes;	/* session_check_pool's recount */
	uint32_t check_handles;
};

/*
 * What all the sessions of one uid hold in one pool: the user quota's
 * count, with the uid's persistent bytes (dpool_persisted_by), kept as
 * holds come and go (pool_hold.c) so that an allocation need not walk
 * the uid's sessions for it.  A block counts once however many of the
 * uid's handles hold it (struct dpool's uid_holds tells), and until the
 * last of them lets it go: a closed handle's references, dropped a step
 * at a time (pool_release.c), count until they are dropped.  Made with
 * the uid's first account on the pool, gone with its last and its last
 * closed handle's last reference; on the pool's list (struct dpool's
 * users).
 */
struct user_account {
	RB_ENTRY(user_account) entry;	/* in its pool's users */
	struct dpool *pool;
	uid_t uid;
	LIST_HEAD(, session_account) accounts;	/* its connections' there */
	uint32_t naccounts;	/* sessions' accounts on it */
	uint32_t nhandles;	/* their open handles on the pool */
	uint32_t nclosing;	/* closed handles still dropping references */
	/*
	 * Bytes of the blocks its handles hold, open or closing, each once
	 * and none persistent, and the growth its open handles' blocks
	 * being moved hold (struct handle's moving).
	 */
	uint64_t bytes;
	uint64_t check_bytes;	/* dpool_check's recount */
	uint32_t check_handles;
	uint32_t check_closing;
	uint32_t check_holds;	/* ... of its holds on one block */
	uint64_t stamp;		/* the walk of a block's holds that last met
				 * it (user_stamp_next) */
};

/* A pool's uids' accounts by uid, for the files that walk them. */
RB_PROTOTYPE(user_account_tree, user_account, entry, user_account_cmp)

/* Each uid's account u on pool p, by uid; a walk changes nothing, so p
 * and u may be const. */
#define USER_ACCOUNT_FOREACH(u, p)					\
	for ((u) = RB_MIN(user_account_tree,				\
			  (struct user_account_tree *)&(p)->users);	\
	     (u); (u) = RB_NEXT(user_account_tree, NULL,		\
				(struct user_account *)(u)))

struct handle {
	LIST_ENTRY(handle) in_pool;
	LIST_ENTRY(handle) in_session;
	LIST_ENTRY(handle) in_account;	/* while open */
	uint32_t id;
	struct session *session; /* NULL once closed, while its references
				  * are dropped (pool_release.c) */
	struct dpool *pool;
	struct session_account *account; /* its session's on pool; NULL
					   * once closed */
	struct user_account *user;	/* its uid's on pool, kept once closed
					 * until its references are dropped */
	bool read_only;
	uint32_t rank;		/* state_save.c's, while it saves: its
				 * place in its pool's list (0: the head) */
	struct hold_list refs;	/* its references' holds, newest first */
	uint64_t nrefs;
	/*
	 * Both change only through handle_set_bytes and handle_set_cached,
	 * which keep the pool's sum of what its open handles have cached and
	 * the account's bytes.
	 */
	uint64_t bytes;		/* sizes of the blocks referenced */
	uint64_t cached_bytes;	/* of bytes: in the client's cache, as it
				 * last reported (docs/protocol.md) */
	/*
	 * The growth of a block it holds that the daemon is moving in
	 * steps: its accounts count it with bytes from the move's start,
	 * when the quotas let it through, not from its end (pool_block.c).
	 */
	uint64_t moving;
};

/* What a handle's cache holds, as reported, within what it can hold. */
static inline uint64_t
handle_cached(const struct handle *h)
{
	return h->cached_bytes < h->bytes ? h->cached_bytes : h->bytes;
}

/*
 * dispatch.c's: the session's first unanswered request, held until the
 * work queued before it is done.  Part of the session rather than
 * allocated at the hold, so that a hold never fails: by then the request
 * may have begun what an -ENOMEM could not take back (a block zeroed or
 * moved in steps, a trim's first stage, names evicted for its room).
 */
struct waiter {
	TAILQ_ENTRY(waiter) entry;
	bool held;		/* on dispatch.c's list: the rest is set */
	struct session *s;
	struct peer *peer;
	uint64_t mark;		/* dpool_release_passed(mark): go on */
	uint64_t prior;		/* the work queued before it first came */
	uint64_t since_ns;
	unsigned stage;
	uint64_t note;
	bool settle;		/* waits for a settled pool: at most
				 * settle_wait_ns() */
	uint32_t evict_names;	/* the call's */
};

struct session {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t *groups;		/* supplementary: group_room, or the heap
				 * for more than SESSION_MAX_GROUPS */
	int ngroups;
	bool groups_unknown;	/* SO_PEERGROUPS failed: it may be in
				 * groups not in groups (pool_acl.h) */
	gid_t group_room[SESSION_MAX_GROUPS];
	char name[64];
	bool greeted;		/* Hello done */
	/* Not greeted yet: when hello_timeout drops it (CLOCK_MONOTONIC,
	 * ns; 0: never), kept by a restart in place. */
	uint64_t hello_deadline_ns;
	uint64_t nrefs;		/* references held over all handles */
	uint32_t next_handle;
	struct handle_list handles;
	uint32_t nhandles;
	/* One per pool with open handles (few: walked only at open). */
	LIST_HEAD(, session_account) accounts;
	/*
	 * The open handles again, by id, for session_handle: open addressing,
	 * linear probing, at most half full and (but at its smallest) at
	 * least an eighth; NULL until the first open.
	 */
	struct handle **handle_slots;
	uint32_t handle_mask;	/* slots - 1; slots a power of two */
	struct waiter waiter;	/* dispatch.c's: its held request */
	/* dispatch_wait.c's: the name its held Lookup waits for, or NULL */
	struct lookup_wait *lookup_wait;
	/* dispatch_room.c's: the room its held Alloc waits for, or NULL */
	struct room_wait *room_wait;
	/* dispatch_room.c's: the place its last wait part kept, or NULL */
	struct room_wait *room_kept;
	/*
	 * The last handles a forced destroy of their pool closed, so that
	 * the -EBADF its client meets next says why: a program told only
	 * "no such pool handle" would look for a bug of its own.
	 */
	struct {
		uint32_t id;
		char pool[65];
	} gone[SESSION_GONE];
	uint32_t ngone;		/* recorded, ever; the last SESSION_GONE kept */
};

struct session *session_new(int fd);
/* The pool whose forced destroy closed s's handle id, or NULL. */
const char *session_gone_pool(const struct session *s, uint32_t id);
void session_free(struct session *s);

/* A new handle on p; NULL with errno EMFILE (too many) or ENOMEM. */
struct handle *session_open(struct session *s, struct dpool *p,
			    bool read_only);
/*
 * A restart in place: open handle id again, as it was (s->next_handle
 * already the old session's), or NULL if the session cannot have it
 * (0, not given out yet, open already, too many: errno EINVAL) or there
 * is no memory for it (ENOMEM).
 */
struct handle *session_open_id(struct session *s, struct dpool *p,
			       bool read_only, uint32_t id);
struct handle *session_handle(struct session *s, uint32_t id);
void session_close(struct session *s, struct handle *h);
/*
 * Set a handle's bytes, or its cached bytes (a cache report): while it is
 * open, its pool's client_cached follows its handle_cached.
 */
void handle_set_bytes(struct handle *h, uint64_t bytes);
void handle_set_cached(struct handle *h, uint64_t cached);
/* Set a handle's moving bytes: while it is open, its accounts follow. */
void handle_set_moving(struct handle *h, uint64_t moving);
/* Closed handle h has dropped its last reference: it leaves its uid's
 * account, the account's last going with it. */
void handle_refs_gone(struct handle *h);
/* Close every handle of every session on pool p (forced destroy). */
void session_close_pool_handles(struct dpool *p);

/* Has s a handle open on p?  A walk of s's handles. */
bool session_has_pool(const struct session *s, const struct dpool *p);

/* Sessions connected now: in all, and of one uid. */
unsigned session_count(void);
unsigned session_count_uid(uid_t uid);
/*
 * The open handles on p of process pid's sessions (numbered id, if id is
 * not 0): the first max of them in out[], and how many there are, max + 1
 * for more.  Linear in the connections with handles on p (at most
 * max_connections), and in the handles on p of pid's that it looks at:
 * not in p's handles, so a pool open a million times over costs the
 * question nothing more, nor in pid's handles on other pools.
 */
unsigned session_pid_handles(const struct dpool *p, pid_t pid, uint32_t id,
			     const struct handle **out, unsigned max);

/*
 * Bytes this session holds in pool p, over all its open handles (quota):
 * of the session and pool, or of open handle h's.
 */
uint64_t session_pool_bytes(const struct session *s, const struct dpool *p);
uint64_t handle_session_bytes(const struct handle *h);
/*
 * Bytes the handles of uid's sessions hold in pool p, each block once (the
 * user quota's count, without the uid's persistent blocks): of the uid and
 * pool, or of open handle h's session's uid.
 */
uint64_t session_user_bytes(const struct dpool *p, uid_t uid);
uint64_t handle_user_bytes(const struct handle *h);
/*
 * uid's closed handles on p still dropping their references, which its
 * account counts until they are dropped.
 */
uint32_t session_user_closing(const struct dpool *p, uid_t uid);
/*
 * What a client cache of open handle h budgets against (OpenReply.quota,
 * the batch replies'): h's share of the pool's quota per connection (the
 * quota over its connection's handles on the pool), or its share of the
 * user quota if that is smaller (the user quota over the uid's handles on
 * the pool).  The handles share each: each handle's cache gives way only
 * to its own handle's refusals, so all the caches of a connection, or of
 * a uid, together keep a small part of its quota, however many handles
 * it opens; 0: no bound.
 */
uint64_t handle_quota_share(const struct handle *h);
/*
 * Do the accounts of the sessions with handles open on p hold what those
 * handles hold, and count them?  0, or -EFAULT with the first difference
 * in problem.  (The uids' bytes are dpool_check's to recount, from the
 * blocks.)
 */
int session_check_pool(struct dpool *p, char *problem, size_t len);

/* Authorization. */
bool session_trusted(const struct session *s);
/* s's credentials, as the access control rules take them (pool_acl.h). */
struct acl_caller session_caller(const struct session *s);
bool session_in_group(const struct session *s, gid_t gid);
/*
 * An admin of the daemon: trusted, or of cf's admin_group (cf NULL: none).
 * It may create, destroy and set any pool, and connect into the places
 * kept for the admins (admin_connections).
 */
bool session_admin(const struct session *s, const struct config *cf);
/*
 * want: 4 read, 2 write, as in file modes: the pool's mode and access
 * control list (pool_acl.h's rules) for the session's uid, gid and
 * supplementary groups; root and the daemon's uid may do anything.
 */
bool session_may_access(const struct session *s, const struct dpool *p,
			unsigned want);

#endif /* POOLMGRD_SESSION_H */
