/*
 * harness_restart.h - what the tests of a restart in place (itest_restart*.c)
 * share: one daemon and our handle on it, client processes driven through
 * pipes, the book of the blocks they hold and wrote, SIGUSR2 and its log
 * lines, and what operators see before and after (poolctl's outputs).
 */
#ifndef POOLMGR_HARNESS_RESTART_H
#define POOLMGR_HARNESS_RESTART_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "harness.h"
#include "poolclient.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

/*
 * A client process driven through pipes: it connects, opens one pool and
 * then does what each command says, so the test decides when it acts
 * (before, across and after a restart) on the same connection and handle.
 */
enum op {
	OP_ALLOC,	/* len bytes, filled from seed (0: left alone) */
	OP_CALLOC,	/* len bytes; -EILSEQ if a byte is not zero */
	OP_FILL,	/* off, len, seed */
	OP_VERIFY,	/* off, len, seed: -EILSEQ if a byte differs */
	OP_FREE,
	OP_RETAIN,
	OP_PERSIST,
	OP_REALLOC,	/* off to len bytes; -EILSEQ if the bytes kept differ */
	OP_USABLE,
	OP_STATS,	/* the answer is followed by a struct pool_stats */
	OP_OPEN2,	/* a second handle on the pool, kept open; in it a
			 * block of len bytes filled from seed */
	OP_EXIT,	/* close, disconnect, exit 0 */
};

struct cmd {
	int op;
	uint64_t off, len, seed;
};

struct ans {
	int rc;
	uint64_t off, usable;
};

struct remote {
	pid_t pid;
	int to, from;		/* commands to it, answers from it */
};

#define MAX_REMOTES 4
#define MAX_BLOCKS 1024

/* A block some client holds, as written: what it must read back. */
struct blk {
	uint64_t off, len, seed;
};

struct restart_fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;		/* ours, on pool "p" unless said */
	struct remote r[MAX_REMOTES];
	struct blk book[MAX_BLOCKS];
	int nbook;
	uint64_t seed;
	char bindir[64];		/* a copy of the daemon's binary */
};

/* The daemon has taken SIGUSR2: from this line on it reads no request. */
#define RESTART_WANTED "restarting in place at the first quiet moment"

/* What operators see of every pool and client, and the socket file. */
struct snap {
	char kv[16384];
	char clients[16384];
	char persisted[4096];
	struct stat sock;
};

/*
 * Two clients of pool "p": A holds blocks of several kinds and sizes,
 * persists two of them and frees some small ones (into its cache, when
 * the cache is on); B retains two of A's and holds its own.  What each
 * holds is in the book; offsets of A's in a[], of B's own in b[].
 */
struct scene {
	struct remote *A, *B;
	uint64_t a[8], b[2], small[16];
};

/* The fixture of the test that runs: one at a time, zeroed by teardown. */
extern struct restart_fixture rfx;

/* Bytes of a block filled from seed (its byte at pool offset at). */
void pattern_fill(uint8_t *base, uint64_t off, uint64_t len, uint64_t seed);
bool pattern_intact(const uint8_t *base, uint64_t off, uint64_t len,
		    uint64_t seed);
bool all_zero(const uint8_t *b, uint64_t len);

/*
 * Client i (0 .. MAX_REMOTES - 1) on pool, with its cache budget (-1: the
 * library's default), read-only or not, as uid (0: ours); the test fails
 * if it cannot connect and open.
 */
struct remote *remote_start_as(int i, const char *pool, long cache,
			       bool read_only, uid_t uid);
struct remote *remote_start(int i, const char *pool, long cache);
/* A command sent, its answer received (the test fails if r died). */
void remote_send(struct remote *r, int op, uint64_t off, uint64_t len,
		 uint64_t seed);
struct ans remote_recv(struct remote *r);
struct ans remote_ask(struct remote *r, int op, uint64_t off, uint64_t len,
		      uint64_t seed);
/* The command must succeed, else the test fails naming the line. */
struct ans remote_ok(struct remote *r, int op, uint64_t off, uint64_t len,
		     uint64_t seed, int line);
#define REMOTE_OK(r, op, off, len, seed)				\
	remote_ok((r), (op), (off), (len), (seed), __LINE__)
/* OP_EXIT and a clean exit; or SIGKILL. */
void remote_exit(struct remote *r);
void remote_kill(struct remote *r);

/* The book: every block someone holds, with the seed it was filled from. */
void book_add(uint64_t off, uint64_t len, uint64_t seed);
void book_drop(uint64_t off);
/* A new block of client r, written (calloc: zero first), in the book. */
uint64_t remote_block(struct remote *r, int op, uint64_t len);
/* Every block in the book reads as written, through our own mapping. */
void book_verify(const char *when);
/* Client r reads block off back through its own mapping. */
void remote_verify(struct remote *r, uint64_t off);

/* The daemon on conf, our handle on pool (cache off); and its end. */
void rfx_start(const char *conf, const char *pool);
int rfx_teardown(void **state);
struct pool_stats rfx_stats(void);
/* poolctl check of pool must pass. */
void rfx_check(const char *pool);
/* The configuration file, as harness_start writes it, without a SIGHUP. */
void rfx_write_conf(const char *text);

/* A line of the log since byte at tells of a restart that failed. */
bool rfx_failure_logged(size_t at);
/*
 * SIGUSR2: true once the daemon has restarted in place, false if it
 * logged that the restart failed (and goes on); the test fails if it
 * died, or said nothing in HARNESS_RESTART_WAIT_MS.
 */
bool rfx_restart_or_not(void);
/* Restart in place, or fail the test saying why not. */
void rfx_restart(void);
/* SIGTERM: exit 0 and no sanitizer's word, or the test fails. */
void rfx_stop_cleanly(void);
/* The daemon's descriptors, once the last poolctl's is closed. */
int rfx_daemon_fds(void);

void snap_take(struct snap *s);
/* Both texts the same, or the test fails showing them. */
void snap_same_text(const char *what, const char *before, const char *after);
void snap_same(const struct snap *a, const struct snap *b);

void scene_start(struct scene *s);
void scene_carry_on(struct scene *s);

/* Pages written and freed before; callocs over them must read zero. */
void dirty_free_pages(void);
void callocs_read_zero(void);

#endif /* POOLMGR_HARNESS_RESTART_H */
