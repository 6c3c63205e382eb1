/*
 * client_internal.h - libpoolclient's private structures.
 *
 * conn.c owns the socket: sending requests and matching replies by id;
 * conn_open.c the making of a connection (connect, Hello, the time bound
 * on both) and the list fork() goes through; conn_words.c what each thread
 * is told of its last call's failure (pool_last_message).  open.c owns
 * connections and open pools: it makes and unmakes struct pool (a handle
 * and its mapping).  admin.c creates, changes and destroys pools; stats.c
 * asks about one whole pool (statistics, trim, check); lists.c lists
 * pools, their clients, persisted blocks' uids and names; blocks.c lists a
 * pool's live blocks, a page at a time.
 * pool.c owns the API for the single blocks of an open pool and the call
 * path all requests about blocks take; batch.c the batches, alloc_wait.c
 * the allocations that wait, realloc.c the reallocs.
 * Nothing here is exported: the version script exports only pool_*, so no
 * internal name may start with "pool_".
 */
#ifndef CLIENT_INTERNAL_H
#define CLIENT_INTERNAL_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdint.h>

#include "poolclient.h"
#include "poolmgr.pb-c.h"

/* The protocol's bound on one datagram, in either direction. */
#define CONN_MAX_MESSAGE	65536

/* The version of the protocol this library speaks. */
#define CONN_VERSION		1
/*
 * The room for a refusal's words (pool_last_message): the library's own
 * for a connect the socket refused name the path, its owner, group and
 * mode, and what lets a client in: conn_denied.c checks that its
 * longest fit.
 */
#define CONN_WORDS_MAX		768
/*
 * The most of a daemon's reply's words kept, with the NUL (conn.c,
 * conn_words.c).
 */
#define CONN_DAEMON_WORDS_MAX	256

/*
 * HelloReply.features: the daemon's optional capabilities, a bit each
 * (docs/protocol.md).  A daemon older than a bit leaves it clear.
 */
#define CONN_FEATURE_LOOKUP_WAIT	(1ULL << 0)	/* Lookup.wait_ms */
#define CONN_FEATURE_POOL_LIMIT		(1ULL << 1)	/* CreatePool.limit,
							 * SetPool.limit */
#define CONN_FEATURE_BATCH_BOUNDS	(1ULL << 2)	/* the batch replies'
							 * limit and quota */
#define CONN_FEATURE_DAEMON_STATS	(1ULL << 3)	/* DaemonStats */
#define CONN_FEATURE_LIST_BLOCKS	(1ULL << 4)	/* ListBlocks */
#define CONN_FEATURE_ALLOC_WAIT		(1ULL << 5)	/* Alloc.wait_ms */
#define CONN_FEATURE_ALLOC_PERSIST	(1ULL << 6)	/* Alloc.persist */
#define CONN_FEATURE_FREE_PERSISTED	(1ULL << 7)	/* FreePersisted */
#define CONN_FEATURE_USER_QUOTA		(1ULL << 8)	/* CreatePool and
							 * SetPool's
							 * user_quota */
#define CONN_FEATURE_ACL		(1ULL << 9)	/* access control
							 * lists */
#define CONN_FEATURE_BATCH_PERSIST	(1ULL << 10)	/* AllocBatch.persist */
#define CONN_FEATURE_USER_QUOTAS	(1ULL << 11)	/* uids' own user
							 * quotas */
#define CONN_FEATURE_NAMES_AFTER	(1ULL << 12)	/* ListNames.after */
#define CONN_FEATURE_RETAINED_NOW	(1ULL << 13)	/* Lookup's retained_now */
#define CONN_FEATURE_BATCH_BEHIND	(1ULL << 14)	/* AllocBatch.
							 * behind_waits */
#define CONN_FEATURE_WAIT_OVER		(1ULL << 15)	/* WaitOver */

/*
 * Descriptors that came with a reply (OpenPool: the memfd, the share map;
 * ShareMap: the share map).
 */
#define CONN_REPLY_FDS		2
struct conn_fds {
	int			 fd[CONN_REPLY_FDS];	/* -1: none */
	int			 dropped;	/* the kernel dropped some: this
						 * process had no descriptor
						 * free (MSG_CTRUNC) */
};

/*
 * One request waiting for its reply.  It lives on the stack of the thread
 * that made the request and sits on the connection's list until the reply
 * (or the news that none will come) is delivered into it.
 */
struct conn_call {
	uint64_t		 id;
	int			 done;
	int			 error;	/* 0, or why no reply came */
	Poolmgr__Reply		*reply;
	struct conn_fds		 fds;	/* SCM_RIGHTS with the reply */
	uint64_t		 arrival; /* the reply's place (conn.c) */
	pthread_cond_t		 cond;	/* signalled when done or to read */

	TAILQ_ENTRY(conn_call)	 entry;
};
TAILQ_HEAD(conn_calls, conn_call);

/*
 * An open pool: a handle number on one connection, a mapping, and, for a
 * read-write handle, the daemon's share map and the cache (cache.c).
 */
struct pool {
	struct pool_conn	*conn;
	uint32_t		 handle;
	char			 name[POOL_NAME_MAX + 1];	/* as pool_open
							 * was given it */
	int			 read_only;
	uint8_t			*base;
	uint64_t		 size;
	uint32_t		 granularity;
	uint32_t		 page_size;
	uint64_t		 quota;		/* per connection, at open;
						 * 0: none */
	uint64_t		 limit;		/* the pool's at open; 0: none
						 * (the cache keeps up with
						 * later ones: cache_bounds) */
	const uint8_t		*share_map;	/* NULL: none */
	uint64_t		 share_size;
	struct cache		*cache;		/* NULL: none */
	uintptr_t		 part_kept;	/* the thread (alloc_wait.c's
						 * token) whose wait part of
						 * this handle ran out, the
						 * daemon keeping its place
						 * for the next; 0: none;
						 * atomic */

	TAILQ_ENTRY(pool)	 entry;
};
TAILQ_HEAD(conn_pools, pool);

struct pool_conn {
	int			 fd;		/* -1: closed in a forked child */
	int			 forked;	/* inherited across fork(): this
						 * process may not use it */
	TAILQ_ENTRY(pool_conn)	 all;		/* conn_open.c's list,
						 * for fork */

	/*
	 * lock protects everything below.  At most one thread reads the
	 * socket at a time (reading is set); it does so without the lock
	 * and delivers what it reads to the call with the matching id.
	 */
	pthread_mutex_t		 lock;
	uint64_t		 next_id;
	int			 reading;
	int			 broken;	/* no more requests */
	struct conn_calls	 calls;		/* sent, not yet answered */
	struct conn_pools	 pools;		/* open through this conn */

	/*
	 * The daemon's words when it refused the whole connection (an id-0
	 * reply: too many clients), for every call that fails of it.
	 */
	int			 refusal_code;
	char			 refusal_words[CONN_DAEMON_WORDS_MAX];

	/*
	 * Nanoseconds of CLOCK_MONOTONIC by which the Hello must be answered
	 * (conn_open); 0: no bound, as for every request once it is.
	 */
	uint64_t		 deadline;
	size_t			 max_send;	/* from HelloReply */
	uint64_t		 features;	/* CONN_FEATURE_* bits */
	uint8_t			*rbuf;		/* the reader's buffer */
};

/*
 * No call of the library is a cancellation point (pthread_cancel): one
 * cancelled in a close() or connect() of its own would leave a handle open
 * that nothing lists, or a connection half made.  Entry points that can
 * reach one turn cancellation off for their length.
 */
static inline int
client_nocancel(void)
{
	int	old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static inline void
client_cancel_restore(int old)
{
	pthread_setcancelstate(old, NULL);
}

/*
 * Inherited across fork(): this process may not use it.  Inline, as
 * conn_usable: every call asks, those the cache serves too.
 */
static inline int
conn_forked(const struct pool_conn *c)
{
	return __atomic_load_n(&c->forked, __ATOMIC_RELAXED);
}

/* Neither inherited nor broken: conn_alive's 0, without a probe. */
static inline int
conn_usable(const struct pool_conn *c)
{
	return !conn_forked(c) && !__atomic_load_n(&c->broken,
	    __ATOMIC_ACQUIRE);
}

/*
 * How long pool_connect waits for the daemon to take the connection and
 * answer its Hello, unless $POOLMGR_CONNECT_TIMEOUT says otherwise: 30 s.
 * A socket-activated daemon's start, the restore of a large state
 * included, takes well under that; a running daemon silent that long is
 * one its systemd watchdog (WatchdogSec=30s) would take for hung; and a
 * person who runs poolctl against a stopped daemon hears why before
 * giving up.
 */
#define CONN_TIMEOUT_MS	30000

/* conn_open.c */
int	conn_open(const char *, int, struct pool_conn **);
/* pool_connect's bound in ms: $POOLMGR_CONNECT_TIMEOUT, or the default. */
int	conn_env_timeout(void);
void	conn_free(struct pool_conn *);
/*
 * For conn.c's send and receive: the socket ready for events, or the
 * deadline of a connection being made passed (-ETIMEDOUT).
 */
int	conn_ready(const struct pool_conn *, short);

/* conn.c */
int	conn_request(struct pool_conn *, Poolmgr__Request *,
	    Poolmgr__Reply **, struct conn_fds *);
int	conn_call(struct pool_conn *, Poolmgr__Request *,
	    Poolmgr__Reply__BodyCase, Poolmgr__Reply **, struct conn_fds *);
/*
 * The Stats reply of pool name, for what only a daemon with feature (a
 * CONN_FEATURE_* bit) says in it: 0 with *reply, which the caller frees;
 * or a bad name's error, -EOPNOTSUPP with nothing sent, or the call's.
 */
int	client_stats_reply(struct pool_conn *, const char *, uint64_t,
	    Poolmgr__Reply **);
int	conn_alive(struct pool_conn *, int);
/*
 * Where the reply to the calling thread's last round trip came among all
 * replies read (from 1): of two replies on one connection, the later has
 * the larger number, and tells of the later state (cache_bounds).
 */
uint64_t conn_reply_arrival(void);
void	conn_fds_init(struct conn_fds *);
void	conn_fds_close(struct conn_fds *);

/* conn_words.c: the calling thread's words (pool_last_message) */
/*
 * The calling thread's call will have no words of the daemon's
 * (pool_last_message): called where a call may fail without asking it (an
 * argument refused here, a feature the daemon lacks, a connection lost),
 * so that an earlier refusal's words, perhaps of the same code, do not
 * pass for its.  A request made afterwards notes its own.
 */
void	conn_forget_refusal(void);
/* err, a failure found here, its thread's words forgotten as above. */
int	conn_local_failure(int err);
/* The calling thread's words for code (pool_last_message) are m. */
void	conn_note_words(int code, const char *m);
/*
 * For conn_request, once a round trip ends: the words of reply (none for
 * NULL, or a reply that refused nothing); or, when no reply came (error),
 * the daemon's refusal of the whole connection c if it had that code.
 */
void	conn_note_refusal(const Poolmgr__Reply *);
void	conn_note_broken(struct pool_conn *, int);
/*
 * For conn_open, a connect to path that failed: no socket there
 * (-ENOENT); refused (-ECONNREFUSED, -EPROTOTYPE), the words saying what
 * is there; no answer within timeout_ms (-ETIMEDOUT).
 */
void	conn_note_missing_socket(const char *path);
void	conn_note_refused(const char *path, int error);
void	conn_note_timeout(const char *path, int timeout_ms);
/*
 * conn_denied.c: connect(2) to path said EACCES; the words name what
 * refused (the socket, by its owner, group and mode, or a directory on
 * the way) and what lets a client in.
 */
void	conn_note_denied(const char *path);
/*
 * The calling thread's words (pool_last_message), kept across a call
 * that returns nothing (pool_close, pool_disconnect): no caller could ask
 * for words of its own, and one that closes what it opened before it
 * reports a failure (or a collector closing a dropped handle meanwhile)
 * would find them gone.
 */
struct conn_words {
	int	code;
	char	message[CONN_WORDS_MAX];
};
void	conn_words_save(struct conn_words *);
void	conn_words_restore(const struct conn_words *);

/* admin.c: a pool name given to a request (for open.c, stats.c, lists.c,
 * blocks.c) */
int	client_check_name(const char *);

/*
 * Access control lists on the wire (acl.c).  client_acl_check: n entries
 * a request may carry (0, -EINVAL, -ENOSPC); rights_matter 0 for a
 * removal's, whose rights are not looked at.  client_acl_encode: them
 * into m's message, which it returns (m must outlive the request).
 */
struct client_acl_msg {
	Poolmgr__Acl		 acl;
	Poolmgr__AclEntry	 e[POOL_ACL_MAX];
	Poolmgr__AclEntry	*ptr[POOL_ACL_MAX];
};
int	client_acl_check(const struct pool_acl_entry *, size_t, int);
Poolmgr__Acl *client_acl_encode(struct client_acl_msg *,
	    const struct pool_acl_entry *, size_t);

/*
 * uids' own user quotas on the wire (uquota.c).  client_uquota_check: n
 * entries a request may carry (0, -EINVAL, -ENOSPC), no uid twice nor
 * any of the nrm uids of rm.  client_uquota_encode: them into m's
 * messages, whose array it returns (m must outlive the request).
 * client_uquota_reply: the entries of a PoolStats and their count, as a
 * daemon can have sent them (at most POOL_USER_QUOTA_MAX, sorted by uid,
 * none twice, the count theirs when both are said): 0 or -EPROTO.
 */
struct client_uquota_msg {
	Poolmgr__UserQuota	 e[POOL_USER_QUOTA_MAX];
	Poolmgr__UserQuota	*ptr[POOL_USER_QUOTA_MAX];
};
int	client_uquota_check(const struct pool_user_quota *, size_t,
	    const uint32_t *, size_t);
Poolmgr__UserQuota **client_uquota_encode(struct client_uquota_msg *,
	    const struct pool_user_quota *, size_t);
int	client_uquota_reply(const Poolmgr__PoolStats *);

/*
 * admin.c: pool_create_set with nuq entries of uids' own user quotas, and
 * pool_set (its settings NULL: none) with some set and some removed, the
 * last argument 1 when they need the feature even if none are given (for
 * uquota.c's pool_create_user_quotas, pool_set_user_quotas and
 * pool_user_quota_modify).
 */
int	client_create(struct pool_conn *, const char *,
	    const struct pool_create_opts *, const struct pool_set_opts *,
	    const struct pool_user_quota *, size_t);
int	client_set(struct pool_conn *, const char *,
	    const struct pool_set_opts *, const struct pool_user_quota *,
	    size_t, const uint32_t *, size_t, int);

/*
 * open.c: a memfd's seals and size, before it is mapped (for share.c); a
 * mapping's alignment (for pool.c, alloc_wait.c)
 */
int	client_memfd_check(int, int, uint64_t);
size_t	client_map_align(uint64_t, uint64_t);

/* stats.c: a pool name and a pool's statistics from a reply (for lists.c) */
int	client_copy_name(char *, size_t, const char *);
/* conn_words.c: the daemon's words for a person, control bytes as '?' */
void	client_copy_words(char *, size_t, const char *);
int	client_copy_stats(struct pool_stats *, const Poolmgr__PoolStats *);

/*
 * struct pool_stats as libpoolclient.so.1 first had it, 320 bytes ending
 * at limit: what programs built before user_quota pass and are given
 * (pool_stats, pool_stats_by_name and pool_list at LIBPOOLCLIENT_1; see
 * admin.c).  It is the new structure's start, so copying that much of a
 * new one makes an old one.
 */
struct pool_stats_1 {
	char name[POOL_NAME_MAX + 1];
	uint64_t max_size;
	uint64_t committed_bytes, allocated_bytes, requested_bytes;
	uint64_t free_bytes, largest_free, live_blocks, clients;
	uint64_t allocs, frees, failed_allocs, invalid_frees;
	uint64_t cached_bytes, metadata_bytes, released_bytes;
	uint64_t persistent_blocks;
	uint32_t granularity, page_size;
	uint32_t mode, uid, gid;
	uint32_t alloc_waits;
	uint64_t quota, client_cached_bytes, retain_bytes;
	uint64_t free_resident_bytes, books_bytes, named_blocks;
	uint64_t release_steps, retain_steps;
	uint32_t numa_policy, numa_node;
	uint64_t evictions, evicted_bytes, limit;
};

/*
 * impl as name@LIBPOOLCLIENT_1, the entry point programs linked against
 * the 320-byte struct pool_stats bind to; the unversioned name is the
 * current one, at LIBPOOLCLIENT_1.13.  impl is exported only under that
 * versioned name: the version script keeps client_* local.
 */
#define CLIENT_STATS_1(impl, name)					\
	__asm__(".symver " #impl ", " #name "@LIBPOOLCLIENT_1")
#define CLIENT_STATS_1_API	__attribute__((visibility("default")))

/* stats.c: the old layout of s (for lists.c) */
void	client_stats_to_1(struct pool_stats_1 *, const struct pool_stats *);

/*
 * share.c: the share map's checks, and its renewal after a restart.  Its
 * pages are the system's whatever the pool's are (huge pages): the map
 * is daemon memory, not the pool's.
 */
uint64_t	client_share_page(void);
int	client_share_check(const struct pool *, int, uint64_t);
int	client_share_renew(struct pool *);

/* pool.c: a request about a handle, with its cache's size (for stats.c,
 * names.c and the block API's other files); the cache's size alone put in
 * a request (for batch.c's FreeBatch, which keeps a refusal's reply) */
int	client_call(struct pool *, Poolmgr__Request *,
	    Poolmgr__Reply__BodyCase, Poolmgr__Reply **);
void	client_report(struct pool *, Poolmgr__Request *);

/* pool.c: a block's reply checked; the cache given back for room, and
 * whether a refused request will be asked again so (for names.c,
 * batch.c, alloc_wait.c, realloc.c) */
int	client_check_block(struct pool *, const Poolmgr__AllocReply *,
	    uint64_t, uint64_t);
int	client_flush_for(struct pool *, int);
int	client_will_retry(struct pool *);
int	client_retry(struct pool *, int, int);

/*
 * pool.c: one block, for the block API's other files (alloc_wait.c,
 * realloc.c, batch.c).  client_alloc: the cache's, else the daemon's
 * (size, align, zero, nmemb).  client_alloc_send: one Alloc with what the
 * caller set in its message besides, *persisted (if not NULL) what the
 * reply says.  client_alloc_once: one Alloc that does not wait, retry
 * saying the library will ask again.  client_block_op: a Free, Retain or
 * Persist of one block.
 */
int	client_alloc(struct pool *, uint64_t, uint64_t, int, uint64_t,
	    pool_off_t *);
int	client_alloc_send(struct pool *, Poolmgr__Alloc *, uint64_t, uint64_t,
	    int, uint64_t, pool_off_t *, uint64_t *, int *);
int	client_alloc_once(struct pool *, uint64_t, uint64_t, int, uint64_t,
	    int, pool_off_t *, uint64_t *);
int	client_block_op(struct pool *, Poolmgr__Request__BodyCase, pool_off_t);

/*
 * alloc_wait.c: the daemon served a block (an Alloc, or an AllocBatch
 * answered with one), and so let go of any place a wait part of the
 * handle kept (for pool.c and batch.c)
 */
void	client_kept_served(struct pool *);

/*
 * wait.c: ask try(p, arg, wait_ms, more) until it answers, in parts of at
 * most UINT32_MAX ms (more: another part follows if this one runs out),
 * for timeout_ms in all (-1: without end, > 0), asking again, for the
 * time left, when the daemon restarts in place (-EINTR).
 */
typedef int (*client_wait_try)(struct pool *, void *, uint32_t, int);
int	client_wait(struct pool *, int, client_wait_try, void *);

/*
 * batch.c: batches straight to the daemon, past the cache (for cache.c).
 * client_alloc_batch's behind_ms: 0, tried at once; else a refill for an
 * allocation that waits, behind those waiting for at most that long.
 */
int	client_alloc_batch(struct pool *, size_t, const uint64_t *, int,
	    uint32_t, uint64_t *, uint64_t *);
int	client_free_batch(struct pool *, size_t, const uint64_t *, size_t *);
/* realloc.c: a block's slack given back in place (for cache.c) */
int	client_shrink(struct pool *, uint64_t, uint64_t, uint64_t *);

#endif /* CLIENT_INTERNAL_H */
