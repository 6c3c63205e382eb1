/*
 * alloc_wait_util.h - what the tests of allocations that wait for room
 * (itest_alloc_wait, itest_alloc_wait_order, itest_alloc_wait_parts)
 * make and look for alike.  In the test process a failure fails the test;
 * in a child (said so below) a CHECK's code is its exit status.
 *
 * A pool is made full by one process (the test's, or a child's) with
 * blocks of one size, until the daemon refuses the next.  A waiter is a
 * child process with its own connection that calls pool_alloc_wait and
 * writes what came of it on a pipe; it keeps its block until the test
 * lets it go.  The daemon logs (at debug, which the tests run with) each
 * allocation that begins to wait, with its pid: the test makes room only
 * once that line is there, so the room comes while the allocation waits,
 * not before.  No time is asserted but the one ordering fact that a wait
 * that ran out did not end before its time.  To have the daemon read
 * several requests in one turn, the test stops it (SIGSTOP), sends them,
 * each once the one before is seen sent, and lets it go on.
 */
#ifndef POOLMGR_ALLOC_WAIT_UTIL_H
#define POOLMGR_ALLOC_WAIT_UTIL_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "poolclient.h"

#define KiB		((size_t)1 << 10)
#define MiB		((size_t)1 << 20)
#define BLOCK		(64 * KiB)	/* the blocks pools are made full of */
#define LONG_WAIT_MS	60000	/* only a guard: the tests end the waits */
#define LOG_WAIT_MS	30000
#define WAITS_LINE	"waits for room"
#define FILL_MAX	1100
/*
 * A raw client's small block, made first in its pool: a page, so that
 * the blocks after it keep to pages, and two side by side hold a block
 * of twice their size (a page span).
 */
#define RAW_SMALL	4096

/*
 * The daemon the program's fixture started, with the release step and
 * pools the tests expect, and the test process's connection to it.
 */
extern struct daemon_proc d;
extern struct pool_conn *conn;

/* The group's setup and teardown: d started and conn made; both ended. */
int alloc_wait_setup(void **state);
int alloc_wait_teardown(void **state);

/* ---- the daemon's configuration ----------------------------------------- */

/* The daemon reloaded with max_alloc_waits = max, its pools as they began. */
void waits_bounded(unsigned max);
/*
 * A teardown: the daemon reloaded with the configuration it started
 * with, whatever the test left (one that fails midway leaves its bound,
 * or its release step, to the tests after it otherwise).
 */
int conf_restored(void **state);
/* Pool name may be opened by every uid. */
void open_to_all(const char *name);
/* A handle of this process on pool name, without a cache. */
struct pool *uncached(const char *name);

/* ---- a pool this process holds all of ---------------------------------- */

struct full {
	const char *name;
	struct pool *p;
	size_t n, each;
	pool_off_t off[FILL_MAX];	/* POOL_OFF_NONE once freed */
};

/*
 * Pool name (made of max_size bytes, unless 0: one of the configuration
 * or made already), its blocks to be of each bytes, opened by a handle
 * of this process without a cache; none made yet.
 */
void full_open(struct full *f, const char *name, size_t max_size,
	       size_t each);
/*
 * Pool name (full_open) filled with blocks of each bytes by that handle,
 * until the daemon refuses one.
 */
void full_make(struct full *f, const char *name, size_t max_size,
	       size_t each);
/* Pool name, of a MiB, made full of blocks of BLOCK bytes. */
void full_of_blocks(struct full *f, const char *name);
/* f's block i freed (it must be held): where it was. */
pool_off_t full_free(struct full *f, size_t i);
/* f's blocks i[0] to i[n - 1] freed in one FreeBatch, at x[0] to x[n - 1]. */
void full_free_batch(struct full *f, const size_t *i, size_t n,
		     pool_off_t *x);
/* Its blocks freed, its handle closed; the pool destroyed if made. */
void full_end(struct full *f, bool destroy);
/* Is x inside the run of len bytes at at? */
bool inside(uint64_t x, uint64_t at, uint64_t len);
/* Indexes i of f's blocks with the block at i + 1 right after it. */
size_t adjacent_pair(const struct full *f, size_t from);

/* ---- waiters: child processes in pool_alloc_wait ------------------------ */

struct want {
	const char *pool;
	size_t size, align;
	unsigned flags;
	int timeout_ms;
	bool scribble;		/* writes its last byte, then reads it back */
	bool gated;		/* its pool open, asks only at a first byte */
	bool cached;		/* its cache kept, a small block freed into it */
	size_t size_then;	/* parted: the size of its second part */
	uid_t uid;		/* the child's, if not 0 (and its gid) */
	int report, stop;	/* the child's ends of its pipes */
	int parent_ends[2];	/* closed in the child */
};

/* A waiter of BLOCK bytes in pool name, for as long as the test lets it. */
#define WANTS_BLOCK(name) \
	{.pool = (name), .size = BLOCK, .timeout_ms = LONG_WAIT_MS}

struct got {
	int rc;
	uint64_t off, elapsed_ms;
	int zeroed;		/* POOL_ALLOC_ZERO: every byte is 0 */
	unsigned char first;	/* the block's first byte */
	int kept;		/* scribble: its last byte held what it wrote */
	char message[256];
};

struct waiter {
	pid_t pid;
	int from;		/* its report */
	int stop;		/* a byte: let go */
};

/*
 * In a child: a connection of its own and a handle on pool whose cache
 * keeps up to cache bytes.  0, or the child's exit status.
 */
int child_open(const char *pool, size_t cache, struct pool_conn **c,
	       struct pool **p);
/* In a child of w: the test's ends of its pipes closed, and child_open. */
int want_open(struct want *w, size_t cache, struct pool_conn **c,
	      struct pool **p);
/* In a child: what came of an allocation begun at start: rc, at off. */
struct got got_of(int rc, pool_off_t off, uint64_t start);
/*
 * In a child of w: g reported, then its block held until the test says
 * go, and its handle and connection closed.  0, or its exit status.
 */
int report_and_hold(struct want *w, const struct got *g, struct pool_conn *c,
		    struct pool *p);

/* A child of fn (waiter, or another that reports as it does). */
void waiter_start_fn(struct waiter *k, struct want *w, int (*fn)(void *));
/* A waiter of w: a child that asks pool_alloc_wait as w says. */
void waiter_start(struct waiter *k, struct want *w);
/* The words of the daemon's line that pid waits for room, then more. */
void waits_words(char *what, size_t len, pid_t pid, const char *more);
/* How many times the daemon logged that an allocation of pid waits. */
int waits_logged(pid_t pid);
/* The daemon logged that one more allocation of pid waits (than before). */
void wait_logged(pid_t pid, int before);
/* k's report, read (it must come). */
struct got waiter_got(struct waiter *k);
/* A child of fn for w, once the daemon has it waiting. */
void waiting_fn(struct waiter *k, struct want *w, int (*fn)(void *));
/* A waiter of w, once the daemon has it waiting. */
void waiting(struct waiter *k, struct want *w);
/* Its report has not come: it still waits (after our own round trip). */
void unanswered(const struct waiter *k, const char *what);
/*
 * Until a report has come on one of the n ends in pf (their revents say
 * which); what names those in pool that should answer, should none do.
 */
void some_answered(struct pollfd *pf, nfds_t n, const char *pool,
		   const char *what);
/* Let it go (its block with it) and see it exit cleanly. */
void waiter_end(struct waiter *k);
/* waiter_end of k[0] to k[n - 1]. */
void waiters_end(struct waiter *k, size_t n);
/* What waiter k was answered: rc (0: a block), in words that hold what. */
struct got answered(struct waiter *k, int rc, const char *what);
/* What a waiter that got a block got, then let go. */
struct got served(struct waiter *k);
/* Served with the block at x. */
struct got served_at(struct waiter *k, pool_off_t x);
/* Served with a block inside the one of BLOCK bytes freed at x. */
struct got served_within(struct waiter *k, pool_off_t x);
/* n allocations wait in pool now, and the daemon counts them held. */
void held_now(const char *pool, uint32_t n);
/*
 * Wait (LOG_WAIT_MS at most, else fail) until pool has a live block: a
 * caching waiter's own, with its refill, before the pool is made full.
 */
void cached_waiter_live(const char *pool);

/* ---- the daemon stopped: requests it reads in one turn ------------------ */

/*
 * SIGSTOP the daemon, and wait until it is stopped: kill returns before
 * the signal is taken, and a daemon still running would read the next
 * request alone, not in one turn with those after it.
 */
void daemon_stop(void);
/* The daemon stopped goes on: it reads what was sent meanwhile. */
void daemon_goes_on(void);

/*
 * A request of this process's, from a thread of its own, for the test to
 * go on while it waits for its answer: fn(arg) makes it.
 */
struct asked {
	int (*fn)(void *);
	void *arg;
	int rc;
	pid_t tid;		/* its thread's, once it runs */
	pthread_t t;
};

/* fn(arg) in a thread of its own: its request sent once this returns. */
void asked_sent(struct asked *a, int (*fn)(void *), void *arg);
/* What its call returned, once its answer came. */
int asked_answer(struct asked *a);

/* The free of block i of f's, asked from a thread. */
struct freeing {
	struct full *f;
	size_t i;
	pool_off_t off;
	struct asked a;
};

/*
 * The daemon stopped, and f's block i freed: the free sent once this
 * returns, unread.
 */
void free_sent_stopped(struct freeing *fr, struct full *f, size_t i);
/* The daemon goes on, and the free (read in its turn) is done. */
void free_done(struct freeing *fr);
/*
 * The gated waiter k waits at its gate: every request before its
 * allocation answered (its open, its cache set), so that the next it
 * waits for an answer to is the allocation.  Before the daemon stops.
 */
void at_gate(struct waiter *k);
/* The gated waiter k (at_gate) asks: its request sent once this returns. */
void ungate(struct waiter *k);
/*
 * k waits in f's pool, and k2, gated, is ready to ask for as much: the
 * daemon stopped, a free and then k2's first request are sent, and the
 * daemon let go reads both in one turn.  The room must go to k: it gets
 * a block inside it, and k2, if answered before it, got no block there.
 * Whether k2's answer was read (into *g2).
 */
bool room_to_the_first(struct full *f, size_t i, struct waiter *k,
		       struct waiter *k2, struct got *g2);

#endif /* POOLMGR_ALLOC_WAIT_UTIL_H */
