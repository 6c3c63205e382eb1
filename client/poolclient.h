/*
 * poolclient.h - libpoolclient, the client library of poolmgr.
 *
 * A program connects to poolmgrd, opens a named pool (which maps the pool's
 * memory once), and allocates blocks named by offsets: the same offset means
 * the same bytes in every process that has the pool open.  pool_ptr turns an
 * offset into an address in this process.
 *
 * Errors: every int-returning function returns 0 on success or a negative
 * errno code; pool_strerror explains it.
 *   -ENOMEM     the pool is full, or the request would pass its limit
 *   -EDQUOT     over this connection's quota, or its uid's (user quota)
 *   -EINVAL     bad argument / not a live block
 *   -EPERM      not allowed (admin only; another handle's private block)
 *   -EACCES     the pool's mode forbids it (open; write via a read-only handle)
 *   -ENOENT     no such pool              -EEXIST     pool exists
 *   -EOVERFLOW  size overflow             -EFBIG      larger than the pool
 *   -EBUSY      pool in use (destroy)     -ECONNRESET the daemon went away
 *   -EPROTO     malformed reply / protocol error
 *
 * Threads: a pool_conn and every pool opened through it may be used from
 * many threads at once; requests from different threads are pipelined on
 * the one connection and their replies matched by request id.  After fork,
 * the child cannot use its parent's connections or handles (they share
 * the socket, and a handle's cache would give both the same blocks): every
 * call on them there is -ECHILD, pool_ptr aside (the mapping is inherited
 * and stays readable and writable).  pool_close and pool_disconnect in the
 * child free only the child's copies; the parent's handles are untouched,
 * and the child's copy of the socket is closed at fork, so a parent that
 * dies is reclaimed as usual.  The child connects and opens anew.
 * No call is a cancellation point: a thread cancelled while it waits for a
 * reply finishes the call first, so the connection goes on for the others.
 * pool_close(p) must not run while another thread uses p, nor
 * pool_disconnect(c) while another uses c or its pools, and what they
 * closed may not be used again (nor closed twice): they free what the
 * other calls use.  A signal handler may call pool_ptr, pool_offset_of, pool_size and
 * pool_strerror only: the others take locks the interrupted thread may
 * hold.  A signal that interrupts a call (with or without SA_RESTART)
 * does not end it: it goes on until its reply comes.
 *
 * Link with `pkg-config --cflags --libs poolclient` (static: add --static).
 * Everything exported is named pool_*.
 */
#ifndef POOLCLIENT_H
#define POOLCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define POOL_API __attribute__((visibility("default")))
#else
#define POOL_API
#endif

/* An offset into a pool.  POOL_OFF_NONE is the null offset. */
typedef uint64_t pool_off_t;
#define POOL_OFF_NONE UINT64_MAX

/* Default socket, used when neither a path nor $POOLMGRD_SOCKET is given. */
#define POOL_DEFAULT_SOCKET "/run/poolmgrd/poolmgrd.sock"
#define POOL_NAME_MAX 64

struct pool_conn;
struct pool;

struct pool_create_opts {
	uint64_t max_size;	/* bytes, rounded up to pages; required */
	uint32_t granularity;	/* 0 = 16; a power of two, 8 .. page size */
	uint32_t mode;		/* permission bits; 0 = 0600 */
	uint64_t quota;		/* bytes per connection; 0 = no quota */
	/*
	 * Freed small-block pages the daemon keeps for reuse before it gives
	 * them back to the OS, in bytes (rounded up to pages): it keeps this
	 * much, or a quarter of the live pages if that is more.  0 = the
	 * daemon's default (1 MiB); POOL_RETAIN_NONE = keep none, give every
	 * free page back at once.  Large blocks' pages always go back at once.
	 */
	uint64_t retain;
	/*
	 * The page the pool's memory comes in, in bytes: 0 = the system
	 * page; or a huge page size the kernel offers (1 << 21 for 2 MiB,
	 * 1 << 30 for 1 GiB: /sys/kernel/mm/hugepages).  A pool on huge
	 * pages has them all reserved when it is made (pool_create fails
	 * with -ENOMEM, nothing made, if too few are free), keeps them for
	 * its life (retain and pool_trim give nothing back), and max_size
	 * rounds up to the huge page.  Any other size: -EINVAL.
	 */
	uint64_t page_size;
	/*
	 * Where the kernel places the pool's pages, for every process that
	 * maps it: numa_policy is an enum pool_numa_policy, POOL_NUMA_NONE
	 * (0) for no policy, the kernel's default of the faulting CPU's
	 * node (numa_node must then be 0); otherwise numa_node is the node.
	 * A node that does not exist, has no memory or is outside the
	 * daemon's cpuset: -ENODEV, and no pool is made.
	 */
	uint32_t numa_policy;
	uint32_t numa_node;
	/*
	 * POOL_CREATE_* bits: the fields after it that are given.  With
	 * POOL_CREATE_OWNER, uid owns the pool from the start; with
	 * POOL_CREATE_GROUP, gid is its group (numbers: no name is looked
	 * up; neither may be (uint32_t)-1).  Without its bit, uid or gid
	 * must be 0 and the pool is the caller's uid's or gid's.  Creating
	 * needs admin rights either way, so giving a pool away needs no more
	 * than making it; it is made so at once, as if pool_set had followed
	 * with no moment between.  Any other bit: -EINVAL.
	 */
	uint32_t flags;
	uint32_t uid;
	uint32_t gid;
	/*
	 * Room for later options without changing the structure's size; must
	 * be zero (pool_create refuses anything else with -EINVAL, so a
	 * program written for a later library fails clearly here instead of
	 * having an option silently ignored).  Initialize the whole structure,
	 * as in `struct pool_create_opts o = {.max_size = ...};`.
	 */
	uint32_t reserved[1];
};

/* pool_create_opts.retain: give every free page back at once. */
#define POOL_RETAIN_NONE UINT64_MAX

/* pool_create_opts.flags: the options given. */
#define POOL_CREATE_OWNER	0x01u
#define POOL_CREATE_GROUP	0x02u

/* pool_set_opts.which: the settings pool_set changes. */
#define POOL_SET_MODE	0x01u
#define POOL_SET_OWNER	0x02u
#define POOL_SET_GROUP	0x04u
#define POOL_SET_QUOTA	0x08u
#define POOL_SET_RETAIN	0x10u
#define POOL_SET_LIMIT	0x20u
#define POOL_SET_USER_QUOTA	0x40u
#define POOL_SET_ACL		0x80u

/*
 * An entry of a pool's access control list: rights for one user or group
 * beyond the mode's owner, group and other classes.  The rules, as for a
 * file's POSIX ACL without a mask: the owner has the mode's owner bits; a
 * user entry naming the caller's uid gives its rights; else the pool's
 * group (the mode's group bits) and the group entries of the groups the
 * caller is in (its primary or supplementary groups): one of them that
 * grants what is asked grants it, and if the caller is in any of them
 * and none grants it, it is refused; everyone else has the mode's other
 * bits.  Root and the daemon's uid have every right.  Opening a pool
 * read-write needs read and write from one rule (a read-write handle maps
 * the pool readable too), read-only and its statistics need read.
 */
struct pool_acl_entry {
	uint32_t kind;		/* POOL_ACL_USER or POOL_ACL_GROUP */
	uint32_t id;		/* a uid or a gid; not (uint32_t)-1 */
	uint32_t rights;	/* POOL_ACL_READ | POOL_ACL_WRITE, or 0:
				 * an entry that refuses */
	uint32_t reserved;	/* zero */
};

#define POOL_ACL_USER	1u
#define POOL_ACL_GROUP	2u
#define POOL_ACL_READ	4u
#define POOL_ACL_WRITE	2u
#define POOL_ACL_MAX	32	/* entries a pool's list may hold */

/*
 * A uid's own user quota in a pool: the most bytes all connections of uid
 * may hold in the pool together, with the blocks it made persistent, in
 * place of the pool's user quota (pool_set_opts.user_quota, the default)
 * for that uid alone; bytes 0: no user quota for uid, whatever the
 * default.  A uid without an entry is bound by the default.  So "every
 * uid 512 MiB, the trainer 8 GiB, the backup service none" is a default
 * of 512 MiB and two entries, and a default of 0 with entries binds only
 * the uids listed.  A pool holds at most POOL_USER_QUOTA_MAX entries, one
 * per uid, kept sorted by uid.
 */
struct pool_user_quota {
	uint32_t uid;		/* not (uint32_t)-1 */
	uint32_t reserved;	/* zero */
	uint64_t bytes;		/* 0: no user quota for uid */
};

#define POOL_USER_QUOTA_MAX	32	/* entries a pool may hold */

/*
 * The settings pool_set gives a live pool: only those whose POOL_SET_* bit
 * is in which change; the other fields are not looked at.
 */
struct pool_set_opts {
	uint32_t which;		/* POOL_SET_* bits */
	uint32_t mode;		/* permission bits, 1 to 0777 */
	uint32_t uid;		/* the new owner (a number: no name is
				 * looked up); not (uint32_t)-1 */
	uint32_t gid;		/* the new group; not (uint32_t)-1 */
	uint64_t quota;		/* bytes per connection; 0 = no quota */
	/*
	 * As pool_create_opts.retain: 0 = the daemon's default,
	 * POOL_RETAIN_NONE = keep no free page, else bytes.  A pool on
	 * huge pages keeps them all whatever it says.
	 */
	uint64_t retain;
	/*
	 * The most bytes the pool's live blocks may hold together (usable
	 * sizes, as pool_stats.allocated_bytes counts them); 0 = no limit,
	 * the pool's size bounds it.  0, or a granule to the pool's size
	 * (-EINVAL).  An allocation that would pass it fails with -ENOMEM,
	 * as if the pool had no room (evictable names are evicted for it).
	 * Lowered below what the pool holds, it takes no live block back
	 * but evicts unheld evictable names until the pool holds no more
	 * than it.  On huge pages it gives no page back: those are reserved
	 * whatever the limit.
	 */
	uint64_t limit;
	/*
	 * The most bytes all connections of one uid may hold in the pool
	 * together, with the blocks that uid made persistent; 0 = none.  An
	 * allocation, a growing resize or a retain past it fails with
	 * -EDQUOT.  Lowered below what a uid holds, it takes nothing back.
	 * A uid with an entry of its own (struct pool_user_quota) is bound
	 * by that instead.
	 */
	uint64_t user_quota;
	/*
	 * With POOL_SET_ACL: the pool's access control list, nacl entries
	 * in any order (nacl 0: none; acl may be NULL then), which replaces
	 * its list whole.  At most POOL_ACL_MAX (-ENOSPC), no kind and id
	 * twice (-EINVAL).  To change some entries and keep the others, use
	 * pool_acl_modify, which cannot lose another's change made between
	 * a read and this write.
	 */
	const struct pool_acl_entry *acl;
	uint32_t nacl;
	/* Must be zero, as pool_create_opts.reserved. */
	uint32_t reserved;
};

/* pool_create_opts.numa_policy, pool_stats.numa_policy. */
enum pool_numa_policy {
	POOL_NUMA_NONE = 0,	/* no policy: the faulting CPU's node */
	POOL_NUMA_PREFERRED,	/* numa_node while it has free memory, else
				 * another node */
	POOL_NUMA_BIND,		/* numa_node only: when it is full, the
				 * kernel reclaims there or calls its
				 * OOM killer, never another node */
	POOL_NUMA_OTHER,	/* pool_stats only: a policy the daemon did
				 * not set (a process that maps the pool
				 * called mbind on it) */
};

struct pool_stats {
	char name[POOL_NAME_MAX + 1];
	uint64_t max_size;
	uint64_t committed_bytes;	/* resident in the memfd */
	uint64_t allocated_bytes;	/* live blocks, rounded sizes */
	uint64_t requested_bytes;	/* what callers asked for */
	uint64_t free_bytes;
	uint64_t largest_free;		/* longest free run */
	uint64_t live_blocks;
	uint64_t clients;		/* open handles */
	uint64_t allocs, frees, failed_allocs, invalid_frees;
	uint64_t cached_bytes;		/* the daemon's reuse caches */
	uint64_t metadata_bytes;	/* daemon memory of the allocator */
	uint64_t released_bytes;	/* pool pages given back to the OS so
					 * far (holes punched: counted
					 * whether or not they were ever
					 * written, so it may pass what was
					 * committed) */
	uint64_t persistent_blocks;
	uint32_t granularity, page_size;
	uint32_t mode, uid, gid;
	/*
	 * Allocations waiting for room in the pool now (pool_alloc_wait);
	 * 0 from a daemon without them.  (Where the structure had padding.)
	 */
	uint32_t alloc_waits;
	uint64_t quota;
	/*
	 * Of allocated_bytes: blocks freed by programs but kept in their
	 * handles' client-side caches for reuse (pool_set_cache), as each
	 * handle last told the daemon; for the calling handle, as of this
	 * call (pool_stats_by_name: for every handle of the calling
	 * connection open on the pool): exact while no other thread uses its
	 * cache, and within its budget (but for blocks flushes could not
	 * send) while others do.
	 */
	uint64_t client_cached_bytes;
	/* The pool's retain setting in bytes; 0: free pages go back at once. */
	uint64_t retain_bytes;
	/* Of committed_bytes: wholly free pages kept for reuse; pool_trim
	 * gives them back. */
	uint64_t free_resident_bytes;
	/*
	 * Daemon memory the pool's books take: metadata_bytes, plus a record
	 * per live block and per holder after a block's first, its index of
	 * blocks and its table of persisting uids.  The record chunks' room
	 * not in use is the daemon's, not any pool's.
	 */
	uint64_t books_bytes;
	uint64_t named_blocks;		/* blocks with a name (pool_publish) */
	/*
	 * Loop turns in which the daemon took a step of the pool's work
	 * given back in steps (big frees' pages, closed handles' references,
	 * trims, moves, zeroings, kept pages over their bound), since it
	 * started; of those, the steps of kept pages over their bound.
	 */
	uint64_t release_steps;
	uint64_t retain_steps;
	/*
	 * The pool's NUMA policy (enum pool_numa_policy) as the kernel has
	 * it for the pool's first page, and its node: 0 with POOL_NUMA_NONE,
	 * the lowest of its nodes with POOL_NUMA_OTHER.
	 */
	uint32_t numa_policy;
	uint32_t numa_node;
	/*
	 * Evictable named blocks evicted to make room for an allocation
	 * (POOL_PUBLISH_EVICTABLE), and their usable bytes, since the pool
	 * was made (a crash of the daemon starts them again from 0).
	 */
	uint64_t evictions;
	uint64_t evicted_bytes;
	/* The pool's limit (pool_set_opts.limit); 0: none. */
	uint64_t limit;
	/* The pool's user quota (pool_set_opts.user_quota); 0: none. */
	uint64_t user_quota;
	/*
	 * Requests refused (-EDQUOT) by the quota per connection (its
	 * persist bound too) and by the user quota, as the program saw
	 * them: not a try the library made again after giving its cache
	 * back, nor one that waited for room.  Since the pool was made (a
	 * crash of the daemon starts them again from 0); 0 from a daemon
	 * that does not count them.
	 */
	uint64_t quota_refusals;
	uint64_t user_quota_refusals;
	/*
	 * Entries on the pool's access control list (pool_acl_get reads
	 * them), at most POOL_ACL_MAX; 0: the pool has none, or the daemon
	 * has no lists.  (Taken from the reserved room: a program built
	 * before it has the same structure, and the field reads as zero.)
	 */
	uint32_t acl_entries;
	/*
	 * Entries of the pool's uids' own user quotas (pool_user_quota_get
	 * reads them), at most POOL_USER_QUOTA_MAX; 0: the pool has none,
	 * or the daemon has none.  pool_stats, pool_stats_by_name and
	 * pool_list say it (the daemon's list of pools leaves the entries
	 * out, not their count), so that a program that shows many pools
	 * asks only those whose count is not 0.  (Taken from the reserved
	 * room, as acl_entries.)
	 */
	uint32_t user_quota_entries;
	uint64_t reserved[4];		/* zero: room for later fields */
};

/*
 * The daemon's own statistics, as `poolctl status` shows them
 * (pool_daemon_stats).  "Since the start": since the daemon started; a
 * restart in place keeps started and every total, a start after a crash
 * begins them again.
 */
struct pool_daemon_stats {
	char server[64];		/* "poolmgrd VERSION" */
	uint32_t pid, uid, gid;		/* the daemon's process and ids */
	uint32_t max_connections;	/* the setting in force */
	uint64_t started;		/* seconds since the epoch */
	uint64_t uptime_ms;		/* since started, monotonic */
	uint64_t restarts;		/* restarts in place since the start */
	uint64_t connections;		/* open now, the caller's among them */
	uint64_t connections_total;	/* accepted since the start */
	uint64_t connections_refused;	/* of those, closed for a limit */
	uint64_t hello_timeouts;	/* dropped for no Hello in time */
	uint64_t requests_total;	/* answered since the start */
	uint64_t requests_refused;	/* of those, with an error */
	uint64_t bad_messages;		/* datagrams that did not decode */
	uint64_t held;			/* requests waiting now: for a pool
					 * to settle, for a name, or for
					 * room */
	uint64_t pools;
	uint64_t live_blocks;		/* over the pools counted */
	uint64_t allocated_bytes;	/* over the pools counted */
	uint64_t rss_bytes;		/* the daemon's resident memory; 0 if
					 * it could not read it */
	uint64_t log_lines_left_out;	/* by the log's rate limits */
	uint64_t features;		/* the daemon's feature bits */
	/*
	 * The other connection limits in force: of max_connections, the
	 * places kept for root, the daemon's uid and its admin group
	 * (admin_connections), and the most of one uid; both 0 from a
	 * daemon older than them.  (Taken from the reserved room: a program
	 * built before them has the same structure.)
	 */
	uint32_t admin_connections;
	uint32_t max_connections_per_uid;
	/*
	 * Connections let go of while their clients had replies unread,
	 * descriptors among them: kept open, shut down, until each client
	 * reads them or closes, and counted in max_connections and
	 * max_connections_per_uid beside connections.  Each such request,
	 * any client's, looks at 16 of them in turn, so one whose client is
	 * done may be counted for a few requests more.  0 from a daemon older than
	 * it.  (Taken from the reserved room, as those above.)
	 */
	uint32_t kept_connections;
	uint32_t reserved32;		/* zero */
	uint64_t reserved[6];		/* zero: room for later fields */
};

/* One open handle, as `poolctl clients` shows it. */
struct pool_client_info {
	uint32_t pid, uid, gid;
	char name[64];			/* the client's Hello name */
	char pool[POOL_NAME_MAX + 1];
	uint32_t handle;
	int read_only;
	uint64_t blocks, bytes;		/* references held, their sizes
					 * (persistent blocks' are their
					 * persister's: not in bytes) */
	uint64_t cached_bytes;		/* of bytes: in its client cache */
	uint64_t reserved[4];		/* zero: room for later fields */
};

/* One uid's persistent blocks in a pool, as `poolctl persisted` shows. */
struct pool_persisted {
	uint32_t uid;
	uint64_t blocks;		/* persistent blocks it made so */
	uint64_t bytes;			/* their usable sizes: against the
					 * quota of each of its sessions */
	uint64_t reserved[2];		/* zero: room for later fields */
};

/* One uid's holdings in a pool, as `poolctl users` shows them. */
struct pool_user {
	uint32_t uid;
	uint32_t connections;		/* its connections with handles
					 * open on the pool */
	uint32_t handles;		/* those handles */
	/*
	 * The usable sizes of the blocks its handles hold, each once however
	 * many of its handles hold it (blocks in client caches too;
	 * persistent blocks are their persister's): with persisted_bytes,
	 * what its user quota counts (pool_set_opts.user_quota).
	 */
	uint64_t held_bytes;
	uint64_t persisted_blocks;	/* persistent blocks it made so */
	uint64_t persisted_bytes;	/* their usable sizes */
	/*
	 * Its user quota in force, 0: none; quota_own 1 when it is the
	 * uid's own (an entry of the pool's, pool_user_quota_get), 0 when it
	 * is the pool's (pool_set_opts.user_quota).  Both 0 from a daemon
	 * without uids' own user quotas.  (Taken from the reserved room.)
	 */
	uint64_t quota;
	uint32_t quota_own;
	uint32_t reserved32;		/* zero */
	uint64_t reserved[2];		/* zero: room for later fields */
};

/* Bytes of a block's name (pool_publish), the terminating NUL excluded. */
#define POOL_BLOCK_NAME_MAX 255

/* One named block, as `poolctl names` shows it. */
struct pool_named {
	char name[POOL_BLOCK_NAME_MAX + 1];	/* NUL-terminated */
	uint64_t offset;
	uint64_t usable_size;
	uint32_t publisher;		/* the uid that gave the name */
	uint64_t evictable;		/* 1: POOL_PUBLISH_EVICTABLE */
	uint64_t generation;		/* see pool_lookup_wait */
};

/* One holder of a block: a handle of an open pool (as pool_clients lists it). */
struct pool_block_holder {
	uint32_t pid, uid;
	uint32_t handle;
};

/* struct pool_block_info's flags. */
#define POOL_BLOCK_NAMED	0x1	/* a name holds it (pool_publish) */
#define POOL_BLOCK_EVICTABLE	0x2	/* ... published evictable */
#define POOL_BLOCK_PERSISTENT	0x4	/* it outlives its holders (persisted,
					 * or named) */
#define POOL_BLOCK_BUSY		0x8	/* being moved or zeroed by the
					 * daemon */

/* How many of a block's holders pool_blocks names. */
#define POOL_BLOCK_HOLDERS_LISTED 4

/* One live block, as `poolctl blocks` shows it. */
struct pool_block_info {
	uint64_t offset, usable_size;
	/*
	 * The bytes asked for when it was made or last resized (a block of
	 * under four granules keeps only the high bits of its slack, so
	 * this may read a little high for it).
	 */
	uint64_t requested;
	uint32_t holders;		/* references held by handles (a
					 * closed one's too, while they
					 * are being dropped) */
	uint32_t flags;			/* POOL_BLOCK_* */
	uint32_t persister;		/* POOL_BLOCK_PERSISTENT: the uid
					 * whose quota it counts in */
	uint32_t nlisted;		/* of first_holders */
	/* The first of its holders, in the order the daemon keeps them. */
	struct pool_block_holder first_holders[POOL_BLOCK_HOLDERS_LISTED];
	/*
	 * POOL_BLOCK_PERSISTENT: for how long it has been, in milliseconds
	 * (since the daemon's start for a block it recovered from its
	 * journal; 0 from a daemon older than pool_free_persisted).
	 */
	uint64_t persisted_ms;
	uint64_t reserved[3];		/* zero: room for later fields */
};

/*
 * pool_connect - connect to poolmgrd at socket_path (NULL: $POOLMGRD_SOCKET,
 * else POOL_DEFAULT_SOCKET) and say hello.  -ENOENT when there is no
 * socket there; pool_last_message(-ENOENT) then names the path, as
 * pool_strerror cannot.  -EACCES when this process may not connect to
 * the socket; pool_last_message(-EACCES) then names the socket, its
 * owner, group and mode, and what lets a client in (or the directory on
 * the way that it may not search).  -ECONNREFUSED when nothing listens
 * there (a socket a daemon that stopped left, or no socket at all but a
 * directory or a file), -EPROTOTYPE for a socket of another type;
 * pool_last_message then names the path and says which.  -EUSERS when
 * the daemon refuses the connection;
 * pool_last_message(-EUSERS) then says which limit ("too many clients of
 * this uid connected").  -ETIMEDOUT when the daemon did not take the
 * connection and answer the hello within $POOLMGR_CONNECT_TIMEOUT seconds
 * (a decimal fraction allowed; 0: no bound; unset, empty or not such a
 * number: 30), as pool_connect_timeout.
 */
POOL_API int pool_connect(const char *socket_path, struct pool_conn **out);

/*
 * pool_connect_timeout - pool_connect within timeout_ms milliseconds (-1:
 * no bound; -EINVAL below -1), $POOLMGR_CONNECT_TIMEOUT not looked at.
 * The bound covers the connect, which waits while the daemon's backlog is
 * full, and the hello's reply: a daemon stopped (SIGSTOP), hung or still
 * starting, or a program on the path that is no daemon, is -ETIMEDOUT,
 * and pool_last_message(-ETIMEDOUT) then names the path and the bound
 * ("poolmgrd at PATH did not answer within 0.5 s").  Nothing is left
 * open.  A signal does not end the wait early, nor make it longer.  The
 * requests made on the connection have no bound: only its making does.
 * 0 gives the daemon no time, so it is -ETIMEDOUT unless an error comes
 * first (-ENOENT ...).
 */
POOL_API int pool_connect_timeout(const char *socket_path, int timeout_ms,
				  struct pool_conn **out);

/*
 * pool_disconnect - close the connection; pools still open are closed.
 * The thread's pool_last_message stays as it was, as for pool_close.
 */
POOL_API void pool_disconnect(struct pool_conn *c);

/* pool_create - create a pool (the daemon's uid, root or the admin group). */
POOL_API int pool_create(struct pool_conn *c, const char *name,
			 const struct pool_create_opts *o);

/*
 * pool_create_set - make a pool as pool_create does, with the settings s
 * names (its which bits: mode, owner, group, quota, retain, limit, user
 * quota, access control list) given from the start in the same request:
 * all or nothing, so no process can open the pool before its list holds.
 * s's settings stand over o's; s NULL is pool_create.  The same rights
 * and errors as pool_create and pool_set; -EOPNOTSUPP, nothing sent, for
 * a limit, a user quota (not 0) or a list (not empty) to a daemon that
 * does not know them (it would make a pool without one).
 */
POOL_API int pool_create_set(struct pool_conn *c, const char *name,
			     const struct pool_create_opts *o,
			     const struct pool_set_opts *s);

/*
 * pool_set - change the mode, owner, group, quota, retain, limit, user
 * quota or access control list of the live pool name: those o->which
 * names, all or nothing (a refusal changes nothing).  The daemon's uid,
 * root and the admin group may change any; the pool's owner its mode and
 * list, and its group to one of its own groups (-EPERM otherwise).  The change holds from the next open and the next
 * request by name: handles opened before keep the access they were opened
 * with, and a quota lowered below what a connection holds (a user quota,
 * below what a uid holds) takes nothing back but refuses it more
 * (-EDQUOT).  It is journaled: a restart in place
 * and a crash with systemd's fd store keep it.
 *
 * Returns 0; -EINVAL for a bad o (an unknown which bit, reserved words not
 * zero, mode 0 or beyond 0777, uid or gid (uint32_t)-1); -ENOENT for no
 * such pool; -EROFS for a pool the daemon's configuration file defines
 * (edit the file and reload it instead); -ENOSPC for a list of more
 * than POOL_ACL_MAX entries; -EOPNOTSUPP, nothing sent, for
 * POOL_SET_LIMIT, POOL_SET_USER_QUOTA or POOL_SET_ACL to a daemon that
 * does not know them (an empty list excepted: it is sent, and such a
 * daemon, whose pools have no list, changes nothing for it); or a
 * connection error.  A limit and a user quota are admin-only,
 * as the owner and the quota are.
 */
POOL_API int pool_set(struct pool_conn *c, const char *name,
		      const struct pool_set_opts *o);

/*
 * pool_acl_get - the access control list of the pool name: up to max
 * entries into out, sorted (users, then groups, each by id).  Returns how
 * many the list has (more than max: call again with room for that many;
 * out may be NULL when max is 0), or -ENOENT (no such pool), -EACCES (no
 * read right on it), -EOPNOTSUPP (a daemon without lists: nothing sent),
 * or a connection error.  Anyone who may read the pool's statistics may
 * read its list.
 */
POOL_API int pool_acl_get(struct pool_conn *c, const char *name,
			  struct pool_acl_entry *out, size_t max);

/*
 * pool_acl_modify - change some entries of the pool's list in one
 * request, keeping the others: take out the entries of the kinds and ids
 * of rm's nrm entries (their rights are not looked at; one the list does
 * not have is no error), then set each of add's nadd entries (in place
 * of the entry of its kind and id, or added).  All or nothing, and no
 * other change to the list made meanwhile is lost, as a pool_acl_get then
 * pool_set could lose it.  Who may: as for pool_set's POOL_SET_ACL (the
 * pool's owner, or an admin).  Returns 0; -EINVAL (a kind that is
 * neither, an id of (uint32_t)-1, rights beyond read and write, reserved
 * not zero, add naming a kind and id twice); -ENOSPC (the list would hold
 * more than POOL_ACL_MAX); -EPERM; -ENOENT; -EROFS (the configuration
 * file defines the pool); -EOPNOTSUPP (nothing sent); or a connection
 * error.
 */
POOL_API int pool_acl_modify(struct pool_conn *c, const char *name,
			     const struct pool_acl_entry *add, size_t nadd,
			     const struct pool_acl_entry *rm, size_t nrm);

/* pool_acl_parse's flags. */
#define POOL_ACL_PARSE_NO_RIGHTS 0x1	/* "user:alice" entries, rights
					 * left out (0), as for rm */

/*
 * pool_acl_parse - a list in words, as poolctl and poolmgrd.conf(5) take
 * it, into out (room for max entries): entries separated by commas or
 * white space, each user:WHO:RIGHTS or group:WHO:RIGHTS (u: and g: too),
 * WHO a name from the password or group database or a decimal id, RIGHTS
 * rw, r, w or - (none: an entry that refuses), or rw-, r--, -w-, ---.
 * "" and "none" are the empty list.  With POOL_ACL_PARSE_NO_RIGHTS the
 * entries are user:WHO and group:WHO.  Returns the number of entries, or
 * -EINVAL (what is wrong and where said into err, errlen bytes, if err is
 * not NULL; a name with a colon, which no user or group has, among
 * them), -ENOENT (a name no user or group has, said the same way),
 * -ENOSPC (more than max) or -ENOMEM.  Looks names up (getpwnam_r,
 * getgrnam_r, with room for a group of any number of members); sends
 * nothing.
 */
POOL_API int pool_acl_parse(const char *text, int flags,
			    struct pool_acl_entry *out, size_t max,
			    char *err, size_t errlen);

/* pool_acl_format's flags. */
#define POOL_ACL_FORMAT_NAMES	0x1	/* a user's or group's name for
					 * its id where the database has
					 * one that reads back as it */

/*
 * pool_acl_format - n entries in words, as pool_acl_parse reads them:
 * "user:1000:rw,group:20:r" ("none" for n 0), with names for ids under
 * POOL_ACL_FORMAT_NAMES.  A name pool_acl_parse would not read back as
 * its id is written as the number: one holding a comma, a colon, a blank
 * or a control character, one of digits (with a sign or not), or one the
 * database gives another id for by name; so the text always parses back
 * to the same entries.  Writes at most len bytes, always terminated when
 * len > 0, and returns the length the whole text needs (as snprintf), or
 * -EINVAL for an entry whose words would not read back as it (of no
 * kind, an id of (uint32_t)-1, rights beyond read and write), or
 * -EOVERFLOW for a text longer than an int counts.
 */
POOL_API int pool_acl_format(const struct pool_acl_entry *e, size_t n,
			     int flags, char *buf, size_t len);

/*
 * pool_create_user_quotas - make a pool as pool_create_set does, with the
 * uids' own user quotas of the nuq entries uq (any order; nuq 0: none, uq
 * may be NULL then) in the same request: all or nothing, so that no
 * process of a listed uid allocates under the pool's default before its
 * entry holds.  An entry point of its own because struct pool_set_opts
 * has no room left for a list.  The same rights and errors as
 * pool_create_set; -EINVAL, nothing sent, for an entry of uid
 * (uint32_t)-1, a reserved word not zero, a uid twice, or uq NULL with
 * nuq not 0; -ENOSPC for more than POOL_USER_QUOTA_MAX; -EOPNOTSUPP,
 * nothing sent, for entries to a daemon without them (it would make the
 * pool without them).
 */
POOL_API int pool_create_user_quotas(struct pool_conn *c, const char *name,
				     const struct pool_create_opts *o,
				     const struct pool_set_opts *s,
				     const struct pool_user_quota *uq,
				     size_t nuq);

/*
 * pool_user_quota_get - the uids' own user quotas of the pool name: up to
 * max entries into out, sorted by uid.  Returns how many the pool has
 * (more than max: call again with room for that many; out may be NULL
 * when max is 0), or -EINVAL (c NULL, or out NULL with max not 0),
 * -ENOENT (no such pool), -EACCES (no read right on it), -EOPNOTSUPP (a
 * daemon without them: nothing sent), -EPROTO (a reply of more than
 * POOL_USER_QUOTA_MAX entries, not sorted by uid with none twice, or
 * with uid (uint32_t)-1), or a connection error.  Anyone who may read
 * the pool's statistics may read them.
 */
POOL_API int pool_user_quota_get(struct pool_conn *c, const char *name,
				 struct pool_user_quota *out, size_t max);

/*
 * pool_user_quota_modify - change some uids' own user quotas of the pool
 * in one request, keeping the others: take out the entries of the nremove
 * uids remove_uids (each then bound by the pool's user quota again; one
 * without an entry is no error), then set each of set's nset entries (in
 * place of its uid's, or added).  All or nothing, and no other change
 * made meanwhile is lost.  Admin rights, as the user quota (the pool's
 * owner may not).  Returns 0; -EINVAL, nothing sent (a uid of
 * (uint32_t)-1, a reserved word not zero, a uid twice in set, in
 * remove_uids or across both, more than POOL_USER_QUOTA_MAX uids to
 * remove, set or remove_uids NULL with its count not 0); -ENOSPC (set's
 * more than POOL_USER_QUOTA_MAX, nothing sent, or the pool's entries
 * would be); -EPERM; -ENOENT; -EROFS (the configuration file defines the
 * pool); -EOPNOTSUPP (a daemon without them: nothing sent); or a
 * connection error.
 */
POOL_API int pool_user_quota_modify(struct pool_conn *c, const char *name,
				    const struct pool_user_quota *set,
				    size_t nset, const uint32_t *remove_uids,
				    size_t nremove);

/*
 * pool_set_user_quotas - pool_set of o's settings and
 * pool_user_quota_modify of the entries in one request: all or nothing,
 * so that a new default and the uids' own bounds beside it hold from the
 * same moment.  o is required (its which may be 0: the entries alone);
 * the errors of both, -EOPNOTSUPP, nothing sent, when entries are set or
 * removed on a daemon without them.
 */
POOL_API int pool_set_user_quotas(struct pool_conn *c, const char *name,
				  const struct pool_set_opts *o,
				  const struct pool_user_quota *set,
				  size_t nset, const uint32_t *remove_uids,
				  size_t nremove);

/* pool_destroy - destroy an unused pool; -EBUSY while it is in use. */
POOL_API int pool_destroy(struct pool_conn *c, const char *name);

/* pool_destroy_force - destroy a pool even with live blocks and handles. */
POOL_API int pool_destroy_force(struct pool_conn *c, const char *name);

/* pool_open - open a pool read-write and map it. */
POOL_API int pool_open(struct pool_conn *c, const char *name,
		       struct pool **out);

/* pool_open_readonly - open a pool read-only: a PROT_READ mapping. */
POOL_API int pool_open_readonly(struct pool_conn *c, const char *name,
				struct pool **out);

/*
 * pool_close - drop this handle's references and unmap.  NULL: no-op.
 * The thread's pool_last_message stays as it was: a program may close
 * what it opened before it reports the failure that made it stop.
 */
POOL_API void pool_close(struct pool *p);

/*
 * Client-side cache.  A read-write handle keeps small blocks (up to 64 KiB)
 * that the program frees and reuses them for later allocations of their
 * size class without asking the daemon; empty classes are refilled and a
 * full cache is halved in batches.  Cached blocks stay this handle's in
 * the daemon's books (a crash reclaims them; quotas count them) and are
 * given back before this handle reports -ENOMEM or -EDQUOT, by pool_flush,
 * pool_trim and pool_close.  A block that another handle retained, or
 * that is persistent, is never cached.  Blocks cached by *other* handles
 * are theirs until they flush them: at most each one's budget, which is
 * never more than 1/16 of the pool (of its limit, if smaller) nor 1/8 of
 * its quota (and blocks that flushes the kernel would not send kept in
 * the cache: at most that budget again, however many threads flush at
 * once).  The limit and quota are those of the open, then those the
 * cache's refills and evictions bring back from a daemon that sends them:
 * a pool_set or a restart in place reaches the budget at the cache's
 * next round trip, growing it back up to what was asked or shedding the
 * blocks over it.  A cache that serves every call from what it holds
 * keeps the budget it last heard (docs/protocol.md).
 *
 * pool_set_cache - set this handle's cache budget in bytes; 0 turns the
 * cache off and gives its blocks back, as pool_flush does (and answers
 * as it does).  Once it has returned 0 for a budget of 0, the cache holds
 * no block and keeps none, whatever other threads free or allocate at
 * the time, until the budget is raised again; only blocks that a flush
 * the kernel would not send brings back are kept (see pool_flush).  A
 * smaller budget holds likewise once it has returned 0.  The default is
 * 4 MiB, or
 * $POOLMGR_CLIENT_CACHE (bytes, with an optional K, M or G) when set at
 * pool_open.  -EOPNOTSUPP for a budget on a handle that cannot cache
 * (read-only).
 */
POOL_API int pool_set_cache(struct pool *p, size_t budget);

/*
 * pool_flush - give every block of this handle's cache back now; then 0,
 * or why the handle no longer works (-EBADF, -ECONNRESET), as
 * pool_set_cache also answers (a handle without a cache learns of a
 * destroyed pool at its next request), or why blocks stayed in the cache
 * (-ENOBUFS, -ENOMEM: the kernel would not send them; try again later).
 * Blocks that other threads are giving back from the cache at the time
 * count as cached: it waits for them, and gives back itself those that
 * could not go.  So 0 says that no block the cache had when it was called
 * is still there or on its way; blocks freed into it meanwhile may be.
 */
POOL_API int pool_flush(struct pool *p);

/* pool_alloc - allocate size bytes (size 0 is -EINVAL). */
POOL_API int pool_alloc(struct pool *p, size_t size, pool_off_t *out);

/*
 * pool_alloc_aligned - allocate aligned to align, a power of two no larger
 * than the mapping's alignment (the largest power of two not larger than
 * the pool, up to 1 GiB; at least a page): the offset and the address are
 * aligned alike.  A larger align is -EINVAL.
 */
POOL_API int pool_alloc_aligned(struct pool *p, size_t size, size_t align,
				pool_off_t *out);

/* pool_calloc - allocate nmemb * size zero bytes; overflow is -EOVERFLOW. */
POOL_API int pool_calloc(struct pool *p, size_t nmemb, size_t size,
			 pool_off_t *out);

/* pool_alloc_wait's flags. */
#define POOL_ALLOC_ZERO		0x1	/* the bytes are zero, as pool_calloc */
#define POOL_ALLOC_PART		0x2	/* a part of a longer wait (below) */
#define POOL_ALLOC_PERSIST	0x4	/* the pool holds it, not the handle */

/*
 * pool_alloc_wait - allocate size bytes (aligned to align if it is not 0,
 * as pool_alloc_aligned; zeroed with POOL_ALLOC_ZERO, which takes no
 * align above 1), and if the pool has no room for them (neither the
 * engine nor the pool's limit), wait up to timeout_ms (-1: for as long as
 * it takes) for another client to free, shrink or move blocks, or for
 * the pool's limit to be raised: the daemon tries the allocation again
 * each time, and answers when it succeeds.  Blocks this handle's cache
 * keeps are given back before the wait, as for any allocation that finds
 * no room; the evictable names a refusal would evict go first (see
 * pool_publish_flags).  timeout_ms 0 is pool_alloc (aligned or zeroed as
 * asked), which does not wait.
 *
 * POOL_ALLOC_PERSIST makes the block persistent as it is made, and the
 * handle holds no reference to it: as pool_alloc, pool_persist and
 * pool_free would leave it, in one request.  The block outlives this
 * process, counts against its uid's quota in the pool as pool_persist's
 * do, and is ended by whoever frees it, such as the process it is handed
 * to.  For a producer that hands each block on as soon as it is written
 * (a crash before the handover leaves the block persistent: `poolctl
 * persisted` lists it); -EOPNOTSUPP from a daemon without it.
 *
 * Requests that wait are tried again in the order they first waited, but
 * each as a whole: a smaller one may get room that an earlier, bigger
 * one cannot use yet.  One that comes as room is made for those waiting
 * goes behind them, and gets what they leave (an allocation that does
 * not wait is tried at once); so does the refill of this handle's cache
 * that serves it (one request for many small blocks), from a daemon that
 * can put it behind them (else the cache serves only what it keeps).
 *
 * A caller that waits in parts, asking again each time a part runs out
 * (a binding that must run signal handlers meanwhile), passes
 * POOL_ALLOC_PART: a part's -ETIMEDOUT is then not counted in the pool's
 * failed_allocs, which counts a wait that runs out once.  Each part waits
 * in the order it came, not the first part's.
 *
 * -ETIMEDOUT if no room came in time (nothing allocated); -ENOENT if the
 * pool was destroyed meanwhile; -EAGAIN if as many allocations as the
 * daemon allows (max_alloc_waits) wait in the pool, or three quarters of
 * them of the caller's uid.  A refusal by the
 * user quota waits as one for room does (the uid's other connections'
 * frees make room under it), and so does one by the quota per
 * connection, which counts the uid's persistent blocks: another
 * connection of the uid that ends one makes room under it.  A wait that
 * quota holds back to its end is -EDQUOT (a part's, with POOL_ALLOC_PART,
 * -ETIMEDOUT): so is one whose connection holds the whole quota itself,
 * once its time has passed; one the user quota (the pool's, or the uid's
 * own) holds back to its end is -ETIMEDOUT, in that quota's words
 * (pool_last_message);
 * -EOPNOTSUPP if timeout_ms is not 0 and the daemon cannot wait (nothing
 * asked); -EINVAL for a size of 0, an unknown flag, a timeout below -1,
 * an align pool_alloc_aligned would refuse, or POOL_ALLOC_ZERO with an
 * align above 1.  A restart of the daemon in place goes
 * unnoticed: the wait goes on for the time left, and ends as it would
 * have without it.  A wait whose time runs out while the daemon restarts
 * is asked of it once more, waiting 1 ms (not as a part, unless
 * POOL_ALLOC_PART says it is one), and that answer is the call's: the
 * block if room came, -EDQUOT if the quota per connection held it back,
 * -ETIMEDOUT if nothing came, in words that say the whole wait.
 *
 * The wait holds back the other requests made on the same connection
 * meanwhile, as replies come in order: a program whose other threads use
 * the daemon (or free into this handle's cache, whose blocks the waiting
 * request cannot see) while one waits gives the waiting one its own
 * connection (pool_connect and pool_open).
 */
POOL_API int pool_alloc_wait(struct pool *p, size_t size, size_t align,
			     unsigned flags, int timeout_ms, pool_off_t *out);

/*
 * pool_realloc - resize the block at off, in place when possible, else move
 * it (the bytes are copied: for sizes of 1 MiB or more by this call, in the
 * calling process, otherwise by the daemon).  off == POOL_OFF_NONE
 * allocates; size 0 frees and stores POOL_OFF_NONE (both: -EINVAL).  A
 * resize is a write, size 0 too: -EACCES on a read-only handle (where
 * pool_free drops its own reference).  On
 * failure the old block is unchanged.  The handle must hold a reference
 * (-EPERM); a block other handles hold, or a persistent one, only grows,
 * in place (-EBUSY for a shrink or a move: the others may use all of it).
 */
POOL_API int pool_realloc(struct pool *p, pool_off_t off, size_t size,
			  pool_off_t *out);

/*
 * pool_free - drop this handle's reference to the block (or the pool's
 * reference of a persistent block).  POOL_OFF_NONE is a no-op; a double or
 * invalid free is -EINVAL; another handle's private block is -EPERM; a
 * named block this handle holds no reference to is -EBUSY.  A read-only
 * handle drops only its own reference: any other off is -EACCES.
 */
POOL_API int pool_free(struct pool *p, pool_off_t off);

/* Most blocks one batch call may allocate or free. */
#define POOL_BATCH_MAX 4096

/*
 * pool_alloc_batch - allocate n blocks (sizes[i] bytes each) in one round
 * trip, all or nothing: on failure none of them is allocated.  out[i]
 * receives block i.  n is 1 .. POOL_BATCH_MAX (-E2BIG above).  A reply
 * naming a block twice, or two blocks that share a byte (by their usable
 * sizes), is -EPROTO: none of its blocks is used, out[] is as it was.
 */
POOL_API int pool_alloc_batch(struct pool *p, size_t n, const size_t *sizes,
			      pool_off_t *out);

/*
 * pool_alloc_batch_flags - pool_alloc_batch, with flags of pool_alloc_wait.
 * POOL_ALLOC_PERSIST makes every block of the batch persistent as it is
 * made, and the handle holds no reference to any: as pool_alloc_wait's
 * POOL_ALLOC_PERSIST does for one block, for up to POOL_BATCH_MAX blocks
 * in one round trip.  All or nothing still: on failure no block is made
 * and none is persistent.  The blocks count against the uid's quota in
 * the pool as pool_persist's do, never against the handle's cache, which
 * serves none of them; whoever frees a block ends it.  -EOPNOTSUPP from a
 * daemon without it (nothing asked).  The daemon's batch zeroes nothing:
 * POOL_ALLOC_ZERO, like any other flag, is -EINVAL.  flags 0 is
 * pool_alloc_batch.
 */
POOL_API int pool_alloc_batch_flags(struct pool *p, size_t n,
				    const size_t *sizes, unsigned flags,
				    pool_off_t *out);

/*
 * pool_free_batch - pool_free of n offsets in one round trip, all or
 * nothing: if any of them could not be freed (or appears twice), none is
 * freed and the error is returned.  POOL_OFF_NONE entries are skipped.
 */
POOL_API int pool_free_batch(struct pool *p, size_t n, const pool_off_t *offs);

/*
 * pool_retain - take a reference: the block lives while this handle does.
 * A handle holds a block once: retaining one it holds already does nothing
 * (0).  It counts against this connection's quota (-EDQUOT past it); a
 * block has at most 65536 holders (-EMLINK past them).
 */
POOL_API int pool_retain(struct pool *p, pool_off_t off);

/*
 * pool_free_persisted - end what a program left behind: drop the pool's
 * reference of the persistent block at off (freeing it if no handle holds
 * it), as pool_free by a handle holding none would, but only if it has
 * been persistent for at least min_age_ms.  -ESTALE, nothing changed, if
 * it became persistent more recently: it may be a block made at the same
 * offset since it was listed (pool_blocks' persisted_ms), whose producer
 * and consumer are still using it.  -EPERM if the block is not persistent
 * (its holders free it), -EBUSY if a name holds it (pool_unpublish),
 * -EINVAL if no live block starts at off, -EACCES on a read-only handle,
 * -EOPNOTSUPP from a daemon older than this call (nothing is sent).  The
 * handle's own reference, if it holds one, stays.
 */
POOL_API int pool_free_persisted(struct pool *p, pool_off_t off,
    uint64_t min_age_ms);

/*
 * pool_persist - give the pool a reference: the block outlives all handles
 * (but not the daemon).  The handle must hold a reference (-EPERM); -EDQUOT
 * if the blocks the caller's uid persisted in the pool would pass its
 * quota, or their count the daemon's max_persistent_blocks_per_uid.
 */
POOL_API int pool_persist(struct pool *p, pool_off_t off);

/*
 * Named blocks.  A name is 1 to POOL_BLOCK_NAME_MAX bytes (-EINVAL for an
 * empty one, -ENAMETOOLONG for a longer one), unique in its pool, and
 * holds the pool's reference of its block, as pool_persist does: the
 * block outlives every handle (and, under systemd's fd store, a restart
 * or crash of the daemon) until the name is removed, and counts against
 * the quota of the uid that persisted it: the publisher's, unless the
 * block was persistent before.  A name and its block are found by
 * any handle of the pool, read-only ones too.
 *
 * pool_publish - give the block at off the name.  The handle must hold
 * the block (-EPERM) unless it is persistent already, and be read-write
 * (-EACCES).  -EEXIST if the name is in use, -EBUSY if the block has
 * another name (a block has one at most), -ENOSPC if the pool has the
 * most names it allows (65536), -EDQUOT as pool_persist.  A named block
 * is freed only by pool_unpublish (or a replace): pool_free of it by a
 * handle that holds no reference is -EBUSY.
 */
POOL_API int pool_publish(struct pool *p, pool_off_t off, const char *name);

/*
 * pool_publish_replace - as pool_publish, but a name in use moves to the
 * block at off in one step, and its old block loses the name's
 * reference: freed if nobody else holds it, kept for those who retained
 * it (double buffering: readers that looked the name up with
 * pool_lookup_retain keep the old block until they free it).
 *
 * Under a quota of the pool (the user quota, or the quota per connection,
 * which counts the uid's persistent blocks) the new value is allocated
 * before the replace, so old and new count together until it: a uid whose
 * kept values fill its quota cannot allocate the next one (-EDQUOT), even
 * of the same size.  Leave room of one value under the quota, or publish
 * the values evictable (POOL_PUBLISH_EVICTABLE): the allocation then
 * evicts the uid's least recently used unheld one (not always the one to
 * be replaced), and the replace gives the old value's charge back.
 */
POOL_API int pool_publish_replace(struct pool *p, pool_off_t off,
				  const char *name);

/* Flags of pool_publish_flags. */
#define POOL_PUBLISH_REPLACE	0x1u	/* as pool_publish_replace */
#define POOL_PUBLISH_EVICTABLE	0x2u	/* the pool may evict it */

/*
 * pool_publish_flags - pool_publish with flags (any other bit: -EINVAL).
 * POOL_PUBLISH_REPLACE: as pool_publish_replace; the name on the block at
 * off already takes the new flags.  POOL_PUBLISH_EVICTABLE: the name may
 * be evicted - unpublished, its block freed - when an allocation in the
 * pool (pool_alloc, pool_calloc, pool_alloc_batch, a pool_realloc that
 * must grow or move) finds no room, while no handle holds the block: the
 * least recently used such name where room can be made, with as few of
 * its neighbours as make it, a use being the publish, a pool_lookup or
 * pool_lookup_retain, or the end of the last hold.  Nothing is evicted
 * when no eviction could make the room (-ENOMEM).  One a
 * quota of the pool refuses (-EDQUOT) evicts only names whose blocks are
 * charged to its uid (the uid that persisted each: its publisher, unless
 * the block was persistent before), whoever published them, as few as
 * make it fit (none if all would not).  A
 * lookup of an evicted name is -ENOENT.  Hold the block (it was
 * allocated, or pool_lookup_retain) for as long as its bytes are read.
 */
POOL_API int pool_publish_flags(struct pool *p, pool_off_t off,
				const char *name, unsigned flags);

/*
 * pool_lookup - the block named name: its offset in *off and its usable
 * size in *usable (may be NULL); -ENOENT if no such name.  The block is
 * not held: it may be unpublished and its bytes reused at any time after
 * (an evictable one too: evicted).
 */
POOL_API int pool_lookup(struct pool *p, const char *name, pool_off_t *off,
			 size_t *usable);

/*
 * pool_lookup_retain - pool_lookup and pool_retain in one request: the
 * handle holds the block before the answer comes, so it cannot be
 * unpublished, freed and given to someone else between the two (as it
 * could between a pool_lookup and a pool_retain).  Free it with pool_free
 * when done.  Read-only handles too: a reader keeps the block it reads
 * this way, and drops it with pool_free.  -EDQUOT and -EMLINK as
 * pool_retain.
 *
 * A handle holds a block once (pool_retain): a lookup of a block the
 * handle holds already takes no second reference, and one pool_free
 * drops it, however many lookups found it.  So threads that share a
 * handle share its one reference: when one frees the block, another that
 * looked it up too may have it evicted, or freed and reused, under it.
 * Give each thread that holds blocks a handle of its own (pool_open of
 * the same pool again), or count the holds in the program and free a
 * block once its count is back to 0.
 */
POOL_API int pool_lookup_retain(struct pool *p, const char *name,
				pool_off_t *off, size_t *usable);

/* pool_lookup_wait's flags. */
#define POOL_LOOKUP_RETAIN	0x1	/* as pool_lookup_retain */

/*
 * pool_lookup_wait - the block named name once its generation is above
 * after_generation, waiting for it up to timeout_ms (-1: for as long as
 * it takes): its offset in *off, its usable size in *usable and its
 * generation in *generation (both may be NULL).  Each pool_publish and
 * pool_publish_replace gives the name the pool's next generation, so a
 * consumer passes the generation of the block it has and is answered
 * with the next one published (the latest, if several were meanwhile);
 * 0 takes any.  With POOL_LOOKUP_RETAIN the handle holds the block, taken
 * in the same step as the answer (as pool_lookup_retain; read-only
 * handles too).  timeout_ms 0 does not wait: pool_lookup with the
 * generation, after_generation not looked at.
 *
 * -ETIMEDOUT if no newer generation came in time (nothing changed);
 * -ENOENT if the pool was destroyed meanwhile; -EAGAIN if as many
 * lookups as the daemon allows (max_name_waits) wait in the pool, or
 * three quarters of them of the caller's uid;
 * -EINVAL for an unknown flag or a timeout below -1.  An unpublished name
 * is waited for until it is published again.  A restart of the daemon in
 * place goes unnoticed: the wait goes on for the time left, and one
 * whose time runs out while the daemon restarts is asked of it once more,
 * waiting 1 ms: a newer generation published meanwhile is the answer,
 * else -ETIMEDOUT.  A daemon that answers -EINTR at once, again and
 * again, is asked again after pauses growing from 2 ms to 1 s (a finite
 * wait still ends at its time);
 * with timeout_ms -1, its -ETIMEDOUT long before the part of the wait it
 * was asked for (the most the wire carries, about 49 days) is -EPROTO.
 *
 * The wait holds back the other requests made on the same connection
 * meanwhile, as replies come in order: a program whose other threads use
 * the daemon while one waits gives the waiting one its own connection
 * (pool_connect and pool_open).
 */
POOL_API int pool_lookup_wait(struct pool *p, const char *name,
			      uint64_t after_generation, int timeout_ms,
			      unsigned flags, pool_off_t *off, size_t *usable,
			      uint64_t *generation);

/*
 * pool_lookup_wait_took - pool_lookup_wait, and in *took (may be NULL)
 * whether its POOL_LOOKUP_RETAIN gave the handle its reference to the
 * block: 1 if the handle held none of it before, so that a pool_free
 * gives back exactly what this lookup took (a caller interrupted as the
 * answer came, that will not use the block, frees it then only); 0 if
 * the handle held it already (a handle holds a block once, and a free
 * would drop that hold too), without POOL_LOOKUP_RETAIN, or from a
 * daemon that does not say (one from before it did, HelloReply.features
 * bit 13): free nothing then.  *took is set with *off, on success only.
 */
POOL_API int pool_lookup_wait_took(struct pool *p, const char *name,
				   uint64_t after_generation, int timeout_ms,
				   unsigned flags, pool_off_t *off,
				   size_t *usable, uint64_t *generation,
				   int *took);

/*
 * pool_unpublish - remove the name and its reference: the block is freed
 * if nobody else holds it.  -ENOENT if no such name; read-write only.
 */
POOL_API int pool_unpublish(struct pool *p, const char *name);

/* pool_usable_size - the real (rounded) size of the block at off. */
POOL_API int pool_usable_size(struct pool *p, pool_off_t off, size_t *out);

/* pool_ptr - the address of offset off in this process (NULL if outside). */
POOL_API void *pool_ptr(struct pool *p, pool_off_t off);

/* pool_offset_of - the offset of an address in the mapping, or NONE. */
POOL_API pool_off_t pool_offset_of(struct pool *p, const void *ptr);

/* pool_size - the pool's size in bytes (the length of the mapping). */
POOL_API uint64_t pool_size(struct pool *p);

/*
 * pool_stats - statistics of an open pool.  It, pool_stats_by_name and
 * pool_list fill the 384-byte struct pool_stats from LIBPOOLCLIENT_1.13
 * on; a program built before then is bound to their LIBPOOLCLIENT_1
 * versions, which fill the 320 bytes it knows (up to limit).
 */
POOL_API int pool_stats(struct pool *p, struct pool_stats *out);

/* pool_stats_by_name - statistics of a pool by name (read permission). */
POOL_API int pool_stats_by_name(struct pool_conn *c, const char *name,
				struct pool_stats *out);

/*
 * pool_trim - give every free page of the pool back to the OS now: those
 * blocks held and none holds now, and every page past the pool's
 * high-water mark (the end of its last live block), where a mapping's
 * read or stray write made one resident (libpoolclient(3)).
 */
POOL_API int pool_trim(struct pool *p);

/*
 * pool_trim_by_name - the same, by name; *released (may be NULL) gets the
 * bytes the trim gave back, not those other clients' frees gave back while
 * it ran.
 */
POOL_API int pool_trim_by_name(struct pool_conn *c, const char *name,
			       uint64_t *released);

/*
 * pool_check_by_name - run the daemon's invariant check on a pool.  Returns
 * 0 when it passes, -EFAULT with the problem in msg when it does not (the
 * daemon's words, cut to msglen, bytes a terminal would act on as '?').
 */
POOL_API int pool_check_by_name(struct pool_conn *c, const char *name,
				char *msg, size_t msglen);

/*
 * pool_daemon_stats - the daemon's own statistics: how long it has run,
 * its connections and requests, the held ones, its memory (struct
 * pool_daemon_stats).  Anyone connected may ask.  -EOPNOTSUPP, without
 * asking, from a daemon older than the request.
 */
POOL_API int pool_daemon_stats(struct pool_conn *c,
			       struct pool_daemon_stats *out);

/* pool_list - every pool the caller may read; free *out with free(). */
POOL_API int pool_list(struct pool_conn *c, struct pool_stats **out,
		       size_t *n);

/*
 * pool_clients - open handles (of one pool, or all if pool is NULL), at
 * most 400 (fewer if their names are long: as many as one message holds);
 * free *out with free().  An empty name is no pool's: -ENOENT.
 */
POOL_API int pool_clients(struct pool_conn *c, const char *pool,
			  struct pool_client_info **out, size_t *n);

/*
 * pool_clients_total - as pool_clients, and *total: how many open handles
 * there are, listed or not (more than *n when the list was cut).
 */
POOL_API int pool_clients_total(struct pool_conn *c, const char *pool,
				struct pool_client_info **out, size_t *n,
				size_t *total);

/*
 * pool_persisted - the uids with persistent blocks in pool name (read
 * permission), the most bytes first: at most 1000, those persisting most;
 * *total is how many uids there are, listed or not.  Persistent blocks
 * outlive every handle, and count against the quota of each session of
 * the uid that persisted them.  free *out with free().
 */
POOL_API int pool_persisted(struct pool_conn *c, const char *name,
			    struct pool_persisted **out, size_t *n,
			    size_t *total);

/*
 * pool_users - who holds what in pool name (read permission), per uid:
 * every uid with a handle open on it or persistent blocks there, the
 * most bytes (held and persistent together) first: at most 1000; *total
 * is how many uids there are, listed or not, each with the user quota
 * that binds it (its own or the pool's: quota, quota_own).  What an
 * operator reads when a user quota refuses.  -EOPNOTSUPP, nothing sent,
 * from a daemon without user quotas.  free *out with free().
 */
POOL_API int pool_users(struct pool_conn *c, const char *name,
			struct pool_user **out, size_t *n, size_t *total);

/*
 * pool_names - the names in pool name (read permission) that begin with
 * prefix (NULL or "": all), in byte order: as many as one message holds
 * (at least 200); *total is how many have the prefix, listed or not.
 * free *out with free().
 */
POOL_API int pool_names(struct pool_conn *c, const char *name,
			const char *prefix, struct pool_named **out,
			size_t *n, size_t *total);

/*
 * pool_names_after - a page of pool_names: the names with prefix that
 * sort strictly after after (NULL or "": from the first), in byte order,
 * as many as one message holds.  *total is *n and how many of the
 * prefix's names sort after the page's last; when the two are equal the
 * listing is done, else ask again with after the last name of *out.
 * after need not still be a name: one unpublished since its page was
 * listed still says where the next starts.  A name published or
 * removed between pages is listed, or not, by where it sorts; no name is
 * listed twice, none before after.  free *out with free().
 *
 * Errors: -EINVAL (c, name, out, n or total NULL), -ENAMETOOLONG (a
 * pool name, prefix or after longer than its most), -EOPNOTSUPP (a
 * daemon without paging by name: nothing sent), -ENOENT (no such pool,
 * a name no pool can have too), -EACCES (no read permission), -EPROTO
 * (a page out of order, or one that says more are left but lists none),
 * -ENOMEM, or a connection error.
 */
POOL_API int pool_names_after(struct pool_conn *c, const char *name,
			      const char *prefix, const char *after,
			      struct pool_named **out, size_t *n,
			      size_t *total);

/*
 * pool_blocks - one page of the live blocks of pool name (read
 * permission), in address order from *from on: start with *from 0.  pid
 * (0: any) keeps only the blocks a handle of that process holds, and
 * handle (0: any of its handles; needs pid) only those of its handles
 * with that number, as pool_clients lists them (a process with two
 * connections may have a handle 1 on each: both are kept).  On 0, *out (free() it, never
 * NULL) holds *n blocks, 0 to 128, *from is where the next page starts
 * and *done is 1 when no live block starts at or after it.  A page holds
 * blocks from a bounded stretch of the pool, so one of 0 blocks does not
 * mean the end (a filter that passes over many blocks meets such pages):
 * ask again from *from until *done.  Blocks made, freed or moved while
 * the listing goes on may be listed or not; none is listed twice at one
 * offset.
 *
 * -ENOENT: no such pool; -EACCES: the pool's mode does not let the
 * caller read it; -ESRCH: the process has no handle (or no such handle)
 * on the pool; -EINVAL: a handle without a pid; -EOPNOTSUPP, without
 * asking, from a daemon older than the request; -EPROTO: a reply that
 * breaks the contract above.  A failed call leaves *from, *out, *n and
 * *done as they were.
 */
POOL_API int pool_blocks(struct pool_conn *c, const char *name, uint32_t pid,
			 uint32_t handle, uint64_t *from,
			 struct pool_block_info **out, size_t *n, int *done);

/*
 * pool_strerror - text for a code returned by this library (any other
 * errno's text, negated or not; "unknown error" for a code no errno has).
 * The text is static: it stays valid, whatever is called next.
 */
POOL_API const char *pool_strerror(int err);

/*
 * pool_last_message - the daemon's own words for its refusal of the last
 * request this thread sent, when that refusal was err: "pool cam holds
 * 1.0 MiB of its 1.0 MiB limit", "a limit above the pool's size".  They
 * say which case of pool_strerror(err) it was, and with what numbers.
 * "" when the last request was not refused with err, or refused without
 * words, or when this thread sent none.  Call it right after the call
 * that returned err: the next request of the thread replaces it (but
 * pool_close's and pool_disconnect's, which return nothing), and a
 * call that fails before asking the daemon (an argument the library
 * refuses itself, a feature the daemon lacks, a connection already lost)
 * clears it, so that an older refusal's words never pass for a failure
 * of the same code that had none.  The string is the thread's own, valid
 * until its next call.
 *
 * The words are the daemon's but for a connect's that no daemon answered,
 * which the library words itself where its code alone cannot say which
 * case it was: pool_connect's (and pool_connect_timeout's) -ENOENT, "no
 * poolmgrd socket at PATH (is poolmgrd running? $POOLMGRD_SOCKET names
 * its socket)", PATH being where it looked; its -EACCES, "permission
 * denied by the socket PATH (owner poolmgr, group poolmgr, mode 0660):
 * run as a member of group poolmgr (...)", or, where the socket's group
 * is root's or may not connect, who may and the settings that let
 * clients in; its -ETIMEDOUT, "poolmgrd at PATH did not answer within
 * 30 s"; and, for a path it cannot try, its -EINVAL, "the socket path is
 * empty", and -ENAMETOOLONG, "the socket path is longer than a socket
 * address holds (107 bytes)".  pool_connect's other words (-EUSERS: which
 * limit) are the daemon's.  A wait asked in several parts (a restart in
 * place came meanwhile) that runs out, -ETIMEDOUT from pool_lookup_wait
 * or pool_alloc_wait, has the daemon's words with the whole wait's time
 * put in them, or "the wait ran out in N ms" where the daemon's last
 * answer had none.  So the call and the code tell whose words they are,
 * and no other call is needed for it: a program that shows them as the
 * daemon's ("poolmgrd says: ...", as poolctl and the Python binding do)
 * shows a failed connect's as its own text instead.
 */
POOL_API const char *pool_last_message(int err);

/*
 * pool_message_adds - whether the daemon's words for a refusal with err
 * (pool_last_message) can add to pool_strerror(err): 0 when that text
 * names the one case err can mean, so that the words could only say it
 * again (-EROFS: the configuration file defines the pool), 1 for every
 * other code, whose words say which case it was and with what numbers.
 * A program that shows both, as poolctl and the Python binding do, adds
 * the words only when this is 1.
 */
POOL_API int pool_message_adds(int err);

#ifdef __cplusplus
}
#endif

#endif /* POOLCLIENT_H */
