/*
 * itest_stress.c - many client processes on one pool: random load, random
 * kills, daemon restarts.
 *
 *   many_processes_no_double_booking  POOLMGR_STRESS_PROCS worker processes
 *       (default 4) each do POOLMGR_STRESS_OPS random operations (default
 *       20000) on one 64 MiB pool: alloc (mostly 1-4096 B, some up to
 *       256 KiB), calloc (checked zero), realloc (in place and moving; the
 *       kept bytes are checked), free, usable_size, and retain/release of
 *       blocks other workers publish in shared memory.  Every block carries
 *       a pattern naming its holder (a header with the worker id and block
 *       serial, then bytes derived from them) that is checked before every
 *       free and realloc and after every retain, so two holders of the same
 *       bytes show up as a torn block.  The parent runs the daemon's
 *       invariant check under load; at the end every worker exited 0, the
 *       pool is empty (retained blocks too) and its check passes.
 *   page_granules_no_double_booking  the same on a pool whose granularity
 *       is the page size: blocks start on pages, the client caches' size
 *       classes are all whole pages, and the engine's short runs can hold
 *       spans.
 *   random_kills_lose_nothing  the same load while the parent SIGKILLs a
 *       random worker every 50-300 ms and starts a replacement that goes on
 *       with the slot's remaining operations; workers also leave without
 *       pool_close or pool_disconnect.  Afterwards the pool is empty, its
 *       check passes and the daemon is the same process.
 *   In these three the parent also lists the pool's blocks (pool_blocks,
 *   page after page) under load, as often as it checks it: every page in
 *   order from its cursor, at most 128, each block inside the pool with
 *   no more holders named than it has.
 *   daemon_restart  under load the daemon is stopped twice, first with
 *       SIGTERM, then with SIGKILL, and started again on the same socket
 *       and configuration.  Every call in progress or made afterwards on
 *       the old connection fails with -ECONNRESET (no hang: workers run
 *       under alarm()), the old mapping stays readable (no SIGBUS), after
 *       the SIGKILL every block still holds its pattern, and the workers
 *       reconnect, reopen the recreated pool and go on.
 *   alloc_waits_under_load  the load on a 1 MiB pool, full often, with
 *       random kills and a restart in place (SIGUSR2) halfway: one
 *       allocation in WAIT_EVERY waits 0-WAIT_MAX_MS (0 is pool_alloc),
 *       and every outcome is one it documents: a block inside the pool,
 *       then patterned like any other; -ENOMEM only without a wait;
 *       -ETIMEDOUT only with one, and not before its time; -EAGAIN when
 *       max_alloc_waits (procs / 2) allocations wait already; nothing
 *       else (no -EINTR or -EPROTO from the restart in place, no
 *       -ENOENT: no pool is destroyed).  One operation in GATE_EVERY
 *       waits with no end (-1) in pool "g", which holds a block for
 *       half the workers: a worker waits there only while it holds
 *       none, and frees its own at its next such operation, so room
 *       always comes.  At the end every worker waits with no end in
 *       pool "e", which the test filled itself: once that many wait
 *       (the pool's alloc_waits, the Check passing with them held), the
 *       test frees everything and every one of them must get its block.
 *       Afterwards no allocation waits in any pool, the Checks pass, and
 *       the pool's failed_allocs counts no more than the workers saw:
 *       -ENOMEM, waits that ran out, -EAGAIN, and one call in flight per
 *       kill.
 * Handovers: in all but daemon_restart, one operation in HAND_EVERY makes
 * a block persistent from its allocation (POOL_ALLOC_PERSIST; zeroed one
 * time in four; in alloc_waits_under_load one in two waits 1-WAIT_MAX_MS
 * for room, elsewhere one in HAND_BIG_EVERY is zeroed and over 1 MiB, so
 * zeroed in steps first), patterns it and hands its offset to the other
 * workers in a slot of its own, or takes one another worker handed over:
 * the taker checks it overlaps nothing it holds and holds its maker's
 * pattern, and frees it, which ends it.  At the end the test checks and
 * frees what is still in the slots; every other block left must be
 * persistent, held by nobody, and one whose handover a kill cut short (a
 * maker killed between its allocation and its slot, a taker between its
 * claim and the slot's emptying): counted, bounded by those kills, and
 * freed, before the pool's final checks.
 *
 * Workers report through exit codes (one per kind of failure) and a line on
 * stderr; the parent asserts them and prints operations, rates, kills,
 * refusals and times.  One thing is excused: a daemon stopping on SIGTERM
 * frees all blocks and punches their pages before a worker's next call
 * can fail, so a block reading zero then counts as the reset (and is
 * printed), not as a failure; after the SIGKILL nothing is excused.
 *
 * Published blocks: a worker writes the offset of one of its blocks into a
 * seqlock slot of its own in a MAP_SHARED area made before the fork; a
 * reader retains it and trusts the pattern only if the slot did not
 * change, the owner was not marked for killing and the daemon generation
 * matched, all checked after the retain (then the block was the owner's
 * when the daemon took the reference).  A published block is never resized
 * or written again; its owner clears the slot before freeing it, and
 * before it leaves.
 *
 * Long form: make stress, i.e.
 *   POOLMGR_BUILD=build POOLMGR_STRESS_PROCS=8 POOLMGR_STRESS_OPS=1000000 \
 *     build/tests/itest_stress
 * Also: POOLMGR_STRESS_KILLS (kill budget of the random kills),
 * POOLMGR_STRESS_GRANULARITY (the pool's granularity in the other three
 * tests, default 16) and POOLMGR_STRESS_SEED (repeat a run; the seed is
 * printed).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define POOL_NAME	"s"
#define POOL_CONFIG	"[pool " POOL_NAME "]\nsize = 64M\ngranularity = %u\n"
#define DEFAULT_GRANULARITY 16

#define DEFAULT_PROCS	4
#define DEFAULT_OPS	20000
#define MAX_PROCS	64
#define MAX_LIVE	64	/* own blocks per worker */
#define MAX_HELD	16	/* retained blocks per worker */
#define NPUB		8	/* publication slots per worker */
#define SMALL_MAX	4096
#define LARGE_MAX	(256 * 1024)
#define HDR_BYTES	16
/* One realloc in this many asks for 15/16 of the pool: mostly -ENOMEM. */
#define HUGE_EVERY	50
#define BLOCK_MAGIC	0x53545231u	/* the header's first word */

#define WORKER_ALARM	30	/* s: a call that hangs this long fails */
#define ALARM_EVERY	64	/* ops between alarm() refreshes */
#define CONNECT_S	30	/* s: reconnecting after a restart */
#define STALL_S		90	/* s without progress: the parent gives up */
#define IDLE_MS		2	/* finished workers poll the daemon */
#define RESTARTS	2	/* SIGTERM, then SIGKILL */
#define KILL_MIN_MS	50
#define KILL_MAX_MS	300
#define RECLAIM_MS	10000	/* bounded wait for the daemon to reap */
#define CHECK_EVERY_MS	500	/* invariant check under load */

/* A worker's exit codes. */
enum {
	E_CONNECT = 10,	/* connect, open or stats at start */
	E_ALLOC,	/* an allocation failed otherwise than -ENOMEM */
	E_OFFSET,	/* an offset outside the pool or misaligned */
	E_OVERLAP,	/* a new block overlaps one this worker holds */
	E_CALLOC,	/* calloc memory not zero */
	E_PATTERN,	/* a block lost its pattern while held */
	E_FREE,		/* free of a held block failed */
	E_REALLOC,	/* realloc failed otherwise than -ENOMEM/-EBUSY */
	E_REALLOC_COPY,	/* realloc did not keep the bytes */
	E_RETAIN,	/* retain failed otherwise than -EINVAL */
	E_USABLE,	/* usable_size failed or too small */
	E_RESET,	/* -ECONNRESET with no restart planned */
	E_AFTER_RESET,	/* a call after the reset did not fail with it */
	E_STATS,	/* pool_stats while idle */
	E_WAIT,		/* pool_alloc_wait: an outcome it does not document */
	E_GATE,		/* a block of pool g or e lost its pattern */
	E_HANDOVER,	/* a persistent block handed over went wrong */
};

/* alloc_waits_under_load */
#define WAIT_POOL_CONFIG "max_alloc_waits = %u\n" \
	"[pool " POOL_NAME "]\nsize = 1M\ngranularity = 16\n" \
	"[pool g]\nsize = %u\ngranularity = 16\n" \
	"[pool e]\nsize = %u\ngranularity = 16\n"
#define WAIT_EVERY	4	/* allocations, one of which waits */
#define WAIT_MAX_MS	50
#define WAIT_CACHE	(64 * 1024)	/* odd workers' cache budget */
#define GATE_EVERY	25	/* operations, one of which is on pool g */
#define GATE_BLOCK	4096	/* the blocks of pools g and e */
#define GATE_ALARM	(STALL_S + WORKER_ALARM)	/* s at the end gate */

/*
 * Handovers: one operation in HAND_EVERY makes a block persistent from
 * its allocation (POOL_ALLOC_PERSIST) and hands it to another worker
 * through a slot of its own, or takes one another worker handed over.
 */
#define HAND_EVERY	10
#define NHAND		4	/* handover slots per worker slot */
#define HAND_EMPTY	0
#define HAND_FULL	1
#define HAND_TAKEN	2	/* | the taker's id << 8 */
/*
 * One handover in HAND_BIG_EVERY, in a run that does not wait, is a
 * zeroed block of 1-2 MiB, over the default release_step: zeroed in steps
 * while its maker's request is held, and persistent once ready.
 */
#define HAND_BIG_EVERY	64
#define HAND_BIG	((uint64_t)1 << 20)

/* The operation mix, in percent (cumulative bounds). */
#define MIX_ALLOC	30
#define MIX_CALLOC	38
#define MIX_FREE	63
#define MIX_REALLOC	80
#define MIX_RETAIN	88
#define MIX_RELEASE	93	/* the rest: usable_size + content check */

/* ---- shared memory ------------------------------------------------------ */

/*
 * One published block: a seqlock written only by the slot's worker (or by
 * the parent while no worker runs there).  gen is odd while it is written.
 */
struct pub_slot {
	uint64_t gen;
	uint64_t off;		/* POOL_OFF_NONE: empty */
	uint64_t len;
	uint64_t serial;
	uint64_t owner;		/* worker id */
	uint64_t epoch;		/* daemon generation of the block */
};

/* What a worker slot counted (all its incarnations). */
struct counters {
	uint64_t allocs, callocs, frees, reallocs, moved, usable;
	uint64_t retains, stale, gone, releases;
	uint64_t nomem, busy;
	uint64_t checked_bytes;
	uint64_t excused;	/* torn by a stopping daemon (see block_bad) */
	/* pool_alloc_wait in the pool, in pool g (-1), in pool e (-1) */
	uint64_t waits, served, timed_out, eagain;
	uint64_t g_waits, g_served, g_eagain;
	uint64_t e_served, e_eagain;
	/* handovers: blocks made persistent and handed over, taken */
	uint64_t handed, taken, hand_zeroed, hand_waited, hand_refused;
	uint64_t hand_big;
};

/*
 * A persistent block handed over: written by its maker while EMPTY, then
 * FULL (release); a taker claims it (FULL to TAKEN with its id), checks
 * its bytes, frees it and empties the slot.  A kill between the claim and
 * the emptying leaves the slot TAKEN for good: the test sorts those out
 * at the end (drain_handovers).
 */
struct hand_slot {
	uint64_t state;
	uint64_t off, len, serial, owner;
};

struct proc_slot {
	uint32_t id;		/* the worker running here */
	uint32_t doomed;	/* set by the parent before SIGKILL */
	uint32_t conn_epoch;	/* daemon generation of its connection */
	uint32_t resets;	/* connection resets seen */
	uint32_t at_gate;	/* at the end gate: not to be killed */
	uint32_t handing;	/* between a persistent alloc and its slot */
	uint64_t done;		/* operations of this slot so far */
	struct counters n;
	struct pub_slot pub[NPUB];
	struct hand_slot hand[NHAND];	/* kept across replacements */
};

struct shared {
	uint32_t epoch;		/* daemon generation: restarts bump it */
	uint32_t go_home;	/* workers may finish (restart test) */
	uint32_t restart_sig;	/* the signal of the last restart */
	struct proc_slot slot[MAX_PROCS];
};

/* ---- the parent's state -------------------------------------------------- */

enum finish_mode {
	FIN_FREE_ALL,		/* free everything, close, disconnect */
	FIN_CLOSE,		/* pool_close with blocks live, disconnect */
	FIN_DISCONNECT,		/* pool_disconnect closes the pool */
	FIN_LEAVE,		/* exit with everything open */
};

/* One test's load. */
struct run {
	const char *name;
	unsigned long ops;	/* per worker slot */
	bool random_finish;	/* else FIN_FREE_ALL..FIN_DISCONNECT by id */
	bool restarts;		/* -ECONNRESET is expected */
	bool waits;		/* pool_alloc_wait, pools g and e */
	bool handover;		/* persistent blocks handed over */
};

struct spawn_arg {
	const struct run *run;
	unsigned slot;
};

struct fixture {
	struct daemon_proc d;
	struct shared *sh;
	struct pool_conn *conn;
	pid_t pid[MAX_PROCS];
	unsigned procs;
	unsigned long ops;
	unsigned granularity;	/* of the pool the test runs on */
	unsigned granularity_default;	/* POOLMGR_STRESS_GRANULARITY */
	unsigned kills_max;
	uint64_t seed;
	uint64_t rng;
	uint32_t next_id;
	unsigned hand_cut;	/* kills of a worker while handing */
};

static struct fixture fx;

/* ---- small helpers ------------------------------------------------------ */

static uint64_t
splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long
env_ulong(const char *name, unsigned long def, unsigned long max)
{
	const char *s = getenv(name);
	unsigned long v;
	char *end;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v == 0)
		return def;
	return v > max ? max : v;
}

static const char *
status_text(int rc, char *buf, size_t len)
{
	if (rc == 128 + SIGALRM)
		snprintf(buf, len, "killed by SIGALRM: a call hung");
	else if (rc > 128)
		snprintf(buf, len, "killed by signal %d (%s)", rc - 128,
			 strsignal(rc - 128));
	else
		snprintf(buf, len, "exit %d", rc);
	return buf;
}

/* ---- block patterns ----------------------------------------------------- */

/* Whose block it is: the header bytes and the seed of the rest. */
struct tag {
	uint32_t owner;
	uint64_t serial;
	uint64_t seed;
	uint8_t hdr[HDR_BYTES];
};

static struct tag
make_tag(uint32_t owner, uint64_t serial)
{
	struct tag t = {.owner = owner, .serial = serial};
	uint32_t magic = htole32(BLOCK_MAGIC), o = htole32(owner);
	uint64_t s = htole64(serial), st = ((uint64_t)owner << 40) ^ serial;

	memcpy(t.hdr, &magic, 4);
	memcpy(t.hdr + 4, &o, 4);
	memcpy(t.hdr + 8, &s, 8);
	t.seed = splitmix(&st);
	return t;
}

static uint64_t
pattern_word(const struct tag *t, uint64_t i)
{
	return t->seed + i * 0x9e3779b97f4a7c15ull;
}

static uint8_t
pattern_byte(const struct tag *t, uint64_t k)
{
	if (k < HDR_BYTES)
		return t->hdr[k];
	return (uint8_t)(pattern_word(t, k / 8) >> (8 * (k % 8)));
}

/* Write the pattern into bytes [from, to) of block b. */
static void
pattern_fill(uint8_t *b, const struct tag *t, uint64_t from, uint64_t to)
{
	uint64_t k = from, v;

	for (; k < to && (k < HDR_BYTES || k % 8); k++)
		b[k] = pattern_byte(t, k);
	for (; k + 8 <= to; k += 8) {
		v = htole64(pattern_word(t, k / 8));
		memcpy(b + k, &v, 8);
	}
	for (; k < to; k++)
		b[k] = pattern_byte(t, k);
}

/* The first byte of [from, to) that is not the pattern, or to. */
static uint64_t
pattern_check(const uint8_t *b, const struct tag *t, uint64_t from,
	      uint64_t to)
{
	uint64_t k = from, v;

	for (; k < to && (k < HDR_BYTES || k % 8); k++)
		if (b[k] != pattern_byte(t, k))
			return k;
	for (; k + 8 <= to; k += 8) {
		memcpy(&v, b + k, 8);
		if (v != htole64(pattern_word(t, k / 8)))
			break;
	}
	for (; k < to; k++)
		if (b[k] != pattern_byte(t, k))
			return k;
	return to;
}

/* The first byte that is not zero, or len. */
static uint64_t
first_nonzero(const uint8_t *b, uint64_t len)
{
	uint64_t k = 0, v;

	for (; k + 8 <= len; k += 8) {
		memcpy(&v, b + k, 8);
		if (v)
			break;
	}
	for (; k < len; k++)
		if (b[k])
			return k;
	return len;
}

/* ---- publication slots -------------------------------------------------- */

struct pub_snap {
	uint64_t gen, off, len, serial, owner, epoch;
};

/*
 * A sequence lock without standalone fences (ThreadSanitizer does not
 * model them, and gcc refuses them under -fsanitize=thread): each field is
 * stored with release and loaded with acquire instead.  A reader that sees
 * any field of a write therefore also sees the odd generation stored
 * before it, and its later reload of the generation cannot move above its
 * field loads, so a torn copy never passes the check.  On x86-64 these are
 * plain moves, as the fences were.
 */
static void
slot_write(struct pub_slot *ps, uint64_t off, uint64_t len, uint64_t serial,
	   uint64_t owner, uint64_t epoch)
{
	uint64_t g = __atomic_load_n(&ps->gen, __ATOMIC_RELAXED);

	g = (g | 1) + 1;	/* even, and past anything a reader saw */
	__atomic_store_n(&ps->gen, g - 1, __ATOMIC_RELAXED);
	__atomic_store_n(&ps->off, off, __ATOMIC_RELEASE);
	__atomic_store_n(&ps->len, len, __ATOMIC_RELEASE);
	__atomic_store_n(&ps->serial, serial, __ATOMIC_RELEASE);
	__atomic_store_n(&ps->owner, owner, __ATOMIC_RELEASE);
	__atomic_store_n(&ps->epoch, epoch, __ATOMIC_RELEASE);
	__atomic_store_n(&ps->gen, g, __ATOMIC_RELEASE);
}

/* A consistent copy of a non-empty slot, or false. */
static bool
slot_read(struct pub_slot *ps, struct pub_snap *s)
{
	s->gen = __atomic_load_n(&ps->gen, __ATOMIC_ACQUIRE);
	if (s->gen & 1)
		return false;
	s->off = __atomic_load_n(&ps->off, __ATOMIC_ACQUIRE);
	s->len = __atomic_load_n(&ps->len, __ATOMIC_ACQUIRE);
	s->serial = __atomic_load_n(&ps->serial, __ATOMIC_ACQUIRE);
	s->owner = __atomic_load_n(&ps->owner, __ATOMIC_ACQUIRE);
	s->epoch = __atomic_load_n(&ps->epoch, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&ps->gen, __ATOMIC_RELAXED) == s->gen &&
	       s->off != POOL_OFF_NONE;
}

/* ---- a worker ----------------------------------------------------------- */

struct live_block {
	uint64_t off, len, serial;
	int pub;		/* publication slot, or -1 */
	bool was_pub;		/* ever published: never resized */
};

struct held_block {
	uint64_t off, len, serial;
	uint32_t owner;
};

struct worker {
	const struct run *run;
	struct shared *sh;
	struct proc_slot *me;
	unsigned slot, procs;
	uint32_t id;
	uint64_t rng;
	const char *sock;
	struct pool_conn *c;
	struct pool *p;
	struct pool *pg, *pe;	/* pools g and e (run->waits) */
	uint64_t g_off;		/* our block of pool g, or POOL_OFF_NONE */
	uint64_t g_serial;
	uint32_t epoch;
	uint64_t pool_bytes;
	uint32_t gran;
	uint64_t serial;
	unsigned pub_next;
	unsigned nlive, nheld;
	struct live_block live[MAX_LIVE];
	struct held_block held[MAX_HELD];
};

/* Pseudo-result of an operation: the daemon connection broke. */
#define OP_RESET (-1)

__attribute__((format(printf, 3, 4))) static int
wfail(const struct worker *w, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: worker %u (slot %u, pid %d): %s (exit %d)\n",
		w->run->name, w->id, w->slot, (int)getpid(), msg, code);
	return code;
}

/* A call returned rc: a reset is OP_RESET, anything else failure code. */
static int
call_failed(const struct worker *w, int rc, int code, const char *what,
	    uint64_t arg)
{
	if (rc == -ECONNRESET)
		return OP_RESET;
	return wfail(w, code, "%s(%#" PRIx64 ") = %d (%s)", what, arg, rc,
		     pool_strerror(rc));
}

static uint64_t
rnd(struct worker *w)
{
	return splitmix(&w->rng);
}

/* Mostly 1-4096 bytes, one in ten up to 256 KiB. */
static uint64_t
rand_size(struct worker *w)
{
	if (rnd(w) % 10)
		return 1 + rnd(w) % SMALL_MAX;
	return SMALL_MAX + 1 + rnd(w) % (LARGE_MAX - SMALL_MAX);
}

/*
 * A daemon stopped with SIGTERM frees every block on its way out and
 * punches the freed pages (they read as zero), possibly before this
 * worker's next call finds the connection gone.  A torn block is excused
 * (as a reset) only then: the bad byte is 0, the connection is dead now
 * and the restart in progress is a SIGTERM.
 */
static bool
torn_by_sigterm(const struct worker *w, uint64_t off, uint64_t k)
{
	const uint8_t *b = pool_ptr(w->p, off);
	struct pool_stats st;

	if (!w->run->restarts || b[k] != 0 ||
	    pool_stats(w->p, &st) != -ECONNRESET ||
	    __atomic_load_n(&w->sh->restart_sig, __ATOMIC_ACQUIRE) != SIGTERM)
		return false;
	fprintf(stderr, "%s: worker %u: block %#" PRIx64 " reads zero at "
		"byte %" PRIu64 " while the daemon stops (SIGTERM): excused\n",
		w->run->name, w->id, off, k);
	return true;
}

/* Report a block whose byte k is not its pattern, naming what is there. */
static int
block_bad(const struct worker *w, int code, const char *when, uint64_t off,
	  uint64_t len, const struct tag *t, uint64_t k)
{
	const uint8_t *b = pool_ptr(w->p, off);
	char found[128] = "too short for a header";
	uint32_t magic, owner;
	uint64_t serial;

	if (torn_by_sigterm(w, off, k)) {
		w->me->n.excused++;
		return OP_RESET;
	}
	if (len >= HDR_BYTES) {
		memcpy(&magic, b, 4);
		memcpy(&owner, b + 4, 4);
		memcpy(&serial, b + 8, 8);
		if (le32toh(magic) == BLOCK_MAGIC)
			snprintf(found, sizeof(found), "its header now names "
				 "worker %u serial %" PRIu64, le32toh(owner),
				 le64toh(serial));
		else
			snprintf(found, sizeof(found), "its header is not a "
				 "block header (%08x)", le32toh(magic));
	}
	return wfail(w, code, "%s: block %#" PRIx64 " (%" PRIu64 " B, worker "
		     "%u serial %" PRIu64 "): byte %" PRIu64 " is %#x, "
		     "expected %#x; %s", when, off, len, t->owner, t->serial,
		     k, b[k], pattern_byte(t, k), found);
}

/* Check a whole block against its holder's pattern. */
static int
verify_block(struct worker *w, const char *when, uint64_t off, uint64_t len,
	     uint32_t owner, uint64_t serial)
{
	struct tag t = make_tag(owner, serial);
	uint64_t k = pattern_check(pool_ptr(w->p, off), &t, 0, len);

	w->me->n.checked_bytes += len;
	if (k < len)
		return block_bad(w, E_PATTERN, when, off, len, &t, k);
	return 0;
}

static int
verify_live(struct worker *w, unsigned i, const char *when)
{
	struct live_block *lb = &w->live[i];

	return verify_block(w, when, lb->off, lb->len, w->id, lb->serial);
}

static int
verify_held(struct worker *w, unsigned i, const char *when)
{
	struct held_block *hb = &w->held[i];

	return verify_block(w, when, hb->off, hb->len, hb->owner, hb->serial);
}

/* Does [off, off + len) overlap a block we hold (but live block skip)? */
static bool
overlap_mine(const struct worker *w, uint64_t off, uint64_t len, int skip,
	     uint64_t *other)
{
	unsigned i;

	for (i = 0; i < w->nlive; i++) {
		if ((int)i == skip)
			continue;
		if (off < w->live[i].off + w->live[i].len &&
		    w->live[i].off < off + len) {
			*other = w->live[i].off;
			return true;
		}
	}
	for (i = 0; i < w->nheld; i++) {
		if (off < w->held[i].off + w->held[i].len &&
		    w->held[i].off < off + len) {
			*other = w->held[i].off;
			return true;
		}
	}
	return false;
}

/* A block the daemon just gave us: inside the pool, aligned, not ours. */
static int
check_new_block(const struct worker *w, const char *what, uint64_t off,
		uint64_t len, int skip)
{
	uint64_t other;

	if (off == POOL_OFF_NONE || off % w->gran || off >= w->pool_bytes ||
	    len > w->pool_bytes - off || !pool_ptr(w->p, off))
		return wfail(w, E_OFFSET, "%s gave offset %#" PRIx64 " for %"
			     PRIu64 " B: outside the %" PRIu64 " B pool or "
			     "not %u-aligned", what, off, len, w->pool_bytes,
			     w->gran);
	if (overlap_mine(w, off, len, skip, &other))
		return wfail(w, E_OVERLAP, "%s gave [%#" PRIx64 ", +%" PRIu64
			     ") which overlaps block %#" PRIx64 " this worker "
			     "still holds", what, off, len, other);
	return 0;
}

/* Is off the start of a block we hold (own or retained)? */
static bool
holds(const struct worker *w, uint64_t off)
{
	unsigned i;

	for (i = 0; i < w->nlive; i++)
		if (w->live[i].off == off)
			return true;
	for (i = 0; i < w->nheld; i++)
		if (w->held[i].off == off)
			return true;
	return false;
}

static void
unpublish(struct worker *w, unsigned i)
{
	struct live_block *lb = &w->live[i];

	if (lb->pub >= 0) {
		slot_write(&w->me->pub[lb->pub], POOL_OFF_NONE, 0, 0, 0, 0);
		lb->pub = -1;
	}
}

static void
unpublish_all(struct worker *w)
{
	unsigned i;

	for (i = 0; i < w->nlive; i++)
		w->live[i].pub = -1;
	for (i = 0; i < NPUB; i++)
		slot_write(&w->me->pub[i], POOL_OFF_NONE, 0, 0, 0, 0);
}

/* Publish live block i in the next slot; the block is never resized now. */
static void
publish(struct worker *w, unsigned i)
{
	unsigned s = w->pub_next++ % NPUB, j;
	struct live_block *lb = &w->live[i];

	for (j = 0; j < w->nlive; j++)
		if (w->live[j].pub == (int)s)
			w->live[j].pub = -1;
	slot_write(&w->me->pub[s], lb->off, lb->len, lb->serial, w->id,
		   w->epoch);
	lb->pub = (int)s;
	lb->was_pub = true;
}

static void
drop_live(struct worker *w, unsigned i)
{
	w->live[i] = w->live[--w->nlive];
}

static void
drop_held(struct worker *w, unsigned i)
{
	w->held[i] = w->held[--w->nheld];
}

static int op_free(struct worker *w);
static int op_release(struct worker *w);

/* A new block of len bytes: checked, patterned, kept; maybe published. */
static int
keep_new_block(struct worker *w, const char *what, uint64_t off, uint64_t len,
	       bool zero)
{
	struct live_block *lb;
	struct tag t;
	uint8_t *b;
	uint64_t k;
	int rc;

	if ((rc = check_new_block(w, what, off, len, -1)))
		return rc;
	b = pool_ptr(w->p, off);
	if (zero && (k = first_nonzero(b, len)) < len)
		return wfail(w, E_CALLOC, "%s(%" PRIu64 " B) block %#" PRIx64
			     ": byte %" PRIu64 " is %#x", what, len, off, k,
			     b[k]);
	t = make_tag(w->id, ++w->serial);
	pattern_fill(b, &t, 0, len);
	lb = &w->live[w->nlive++];
	*lb = (struct live_block){.off = off, .len = len, .serial = w->serial,
				  .pub = -1};
	if (zero)
		w->me->n.callocs++;
	else
		w->me->n.allocs++;
	if (rnd(w) % 6 == 0)
		publish(w, w->nlive - 1);
	return 0;
}

/*
 * A refusal of pool_alloc_wait(len, timeout) after took_ms: 0 if it is one
 * it documents for the timeout (counted), else the worker's failure.  A
 * wait that ran out did not end before its time (1 ms of slack for the
 * rounding of the time left that the library asks for again after a
 * restart in place).
 */
static int
wait_refused(struct worker *w, int rc, uint64_t len, int timeout,
	     double took_ms)
{
	if (rc == -ENOMEM && timeout == 0) {
		w->me->n.nomem++;
		return 0;
	}
	if (rc == -ETIMEDOUT && timeout > 0 && took_ms + 1 >= timeout) {
		w->me->n.timed_out++;
		return 0;
	}
	if (rc == -ETIMEDOUT && timeout > 0)
		return wfail(w, E_WAIT, "pool_alloc_wait(%" PRIu64 " B, %d ms)"
			     " ran out after %.1f ms", len, timeout, took_ms);
	if (rc == -EAGAIN && timeout > 0) {
		w->me->n.eagain++;
		return 0;
	}
	if (rc == -ECONNRESET)
		return OP_RESET;
	return wfail(w, E_WAIT, "pool_alloc_wait(%" PRIu64 " B, %d ms) = %d "
		     "(%s) after %.1f ms", len, timeout, rc, pool_strerror(rc),
		     took_ms);
}

/* pool_alloc_wait for 0-WAIT_MAX_MS: each outcome one it documents. */
static int
op_alloc_wait(struct worker *w, bool zero)
{
	int timeout = (int)(rnd(w) % (WAIT_MAX_MS + 1)), rc;
	uint64_t len = rand_size(w);
	pool_off_t off = POOL_OFF_NONE;
	double t0 = now_s();

	w->me->n.waits++;
	rc = pool_alloc_wait(w->p, len, 0, zero ? POOL_ALLOC_ZERO : 0,
			     timeout, &off);
	if (rc == 0) {
		w->me->n.served++;
		return keep_new_block(w, "pool_alloc_wait", off, len, zero);
	}
	return wait_refused(w, rc, len, timeout, (now_s() - t0) * 1000);
}

/* ---- handovers of persistent blocks ------------------------------------ */

/* One of our handover slots that is empty, or NULL. */
static struct hand_slot *
hand_slot_free(struct worker *w)
{
	unsigned k;

	for (k = 0; k < NHAND; k++)
		if (__atomic_load_n(&w->me->hand[k].state, __ATOMIC_ACQUIRE) ==
		    HAND_EMPTY)
			return &w->me->hand[k];
	return NULL;
}

/*
 * The timeout of a persistent allocation: in a run that waits, one in
 * two waits 1-WAIT_MAX_MS (a persistent block made when room comes).
 */
static int
hand_timeout(struct worker *w)
{
	if (!w->run->waits || rnd(w) % 2)
		return 0;
	return 1 + (int)(rnd(w) % WAIT_MAX_MS);
}

/*
 * Make a block persistent from its allocation (zeroed one time in four),
 * pattern it and hand it over in slot hs.  From the allocation until the
 * slot is full, handing is set: a kill then may leave a persistent block
 * nobody knows of, which the test counts (drain_handovers).
 */
static int
hand_over(struct worker *w, struct hand_slot *hs)
{
	bool big = !w->run->waits && rnd(w) % HAND_BIG_EVERY == 0;
	bool zero = big || rnd(w) % 4 == 0;
	unsigned flags = POOL_ALLOC_PERSIST | (zero ? POOL_ALLOC_ZERO : 0);
	int timeout = hand_timeout(w), rc;
	uint64_t len = (big ? HAND_BIG : 0) + 1 +
		       rnd(w) % (big ? HAND_BIG : SMALL_MAX), k;
	pool_off_t off = POOL_OFF_NONE;
	double t0 = now_s();
	struct tag t;
	uint8_t *b;

	__atomic_store_n(&w->me->handing, 1, __ATOMIC_SEQ_CST);
	rc = pool_alloc_wait(w->p, len, 0, flags, timeout, &off);
	if (rc) {
		__atomic_store_n(&w->me->handing, 0, __ATOMIC_SEQ_CST);
		w->me->n.hand_refused++;
		return wait_refused(w, rc, len, timeout,
				    (now_s() - t0) * 1000);
	}
	if ((rc = check_new_block(w, "pool_alloc_wait(PERSIST)", off, len,
				  -1)))
		return rc;
	b = pool_ptr(w->p, off);
	if (zero && (k = first_nonzero(b, len)) < len)
		return wfail(w, E_CALLOC, "pool_alloc_wait(%" PRIu64 " B, "
			     "ZERO | PERSIST) block %#" PRIx64 ": byte %"
			     PRIu64 " is %#x", len, off, k, b[k]);
	t = make_tag(w->id, ++w->serial);
	pattern_fill(b, &t, 0, len);
	/* Counted before it can be taken: never fewer made than taken. */
	w->me->n.handed++;
	w->me->n.hand_zeroed += zero;
	w->me->n.hand_waited += timeout > 0;
	w->me->n.hand_big += big;
	__atomic_store_n(&hs->off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->serial, w->serial, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->owner, w->id, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->state, HAND_FULL, __ATOMIC_RELEASE);
	__atomic_store_n(&w->me->handing, 0, __ATOMIC_SEQ_CST);
	return 0;
}

/* Claim a block another worker slot handed over, or NULL. */
static struct hand_slot *
hand_claim(struct worker *w)
{
	struct hand_slot *hs;
	uint64_t full;
	unsigned tries, j;

	for (tries = 0; tries < 4; tries++) {
		j = (unsigned)(rnd(w) % w->procs);
		if (j == w->slot)
			continue;
		hs = &w->sh->slot[j].hand[rnd(w) % NHAND];
		full = HAND_FULL;
		if (__atomic_compare_exchange_n(&hs->state, &full, HAND_TAKEN |
						(uint64_t)w->id << 8, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return hs;
	}
	return NULL;
}

/*
 * Take a block handed over in hs: nobody else's block here, its maker's
 * pattern, and our free ends it (we hold no reference; the pool does).
 */
static int
hand_take(struct worker *w, struct hand_slot *hs)
{
	uint64_t off = __atomic_load_n(&hs->off, __ATOMIC_RELAXED);
	uint64_t len = __atomic_load_n(&hs->len, __ATOMIC_RELAXED);
	uint64_t serial = __atomic_load_n(&hs->serial, __ATOMIC_RELAXED);
	uint32_t owner = (uint32_t)__atomic_load_n(&hs->owner,
						   __ATOMIC_RELAXED);
	int rc;

	if ((rc = check_new_block(w, "a handed-over block", off, len, -1)) ||
	    (rc = verify_block(w, "a handed-over persistent block", off, len,
			       owner, serial)))
		return rc;
	if ((rc = pool_free(w->p, off)))
		return call_failed(w, rc, E_HANDOVER,
				   "pool_free(handed over)", off);
	__atomic_store_n(&hs->state, HAND_EMPTY, __ATOMIC_RELEASE);
	w->me->n.taken++;
	return 0;
}

/* Take a block handed over, or hand one over: half and half. */
static int
op_handover(struct worker *w)
{
	struct hand_slot *hs;

	if (rnd(w) % 2 && (hs = hand_claim(w)))
		return hand_take(w, hs);
	if ((hs = hand_slot_free(w)))
		return hand_over(w, hs);
	if ((hs = hand_claim(w)))
		return hand_take(w, hs);
	return 0;
}

/* alloc, calloc (zero) or realloc(NONE, size); fill; maybe publish. */
static int
op_alloc(struct worker *w, bool zero)
{
	const char *what = zero ? "pool_calloc" : "pool_alloc";
	uint64_t len = rand_size(w), nmemb = 1;
	pool_off_t off = POOL_OFF_NONE;
	int rc;

	if (w->nlive == MAX_LIVE)
		return op_free(w);
	if (w->run->waits && rnd(w) % WAIT_EVERY == 0)
		return op_alloc_wait(w, zero);
	if (zero) {
		nmemb = 1 + rnd(w) % 4;
		len = (len + nmemb - 1) / nmemb * nmemb;
		rc = pool_calloc(w->p, nmemb, len / nmemb, &off);
	} else if (rnd(w) % 10 == 0) {
		what = "pool_realloc(NONE)";
		rc = pool_realloc(w->p, POOL_OFF_NONE, len, &off);
	} else {
		rc = pool_alloc(w->p, len, &off);
	}
	if (rc == -ENOMEM) {
		w->me->n.nomem++;
		return 0;
	}
	if (rc)
		return call_failed(w, rc, E_ALLOC, what, len);
	return keep_new_block(w, what, off, len, zero);
}

static int
op_free(struct worker *w)
{
	unsigned i;
	uint64_t off;
	int rc;

	if (!w->nlive)
		return op_alloc(w, false);
	i = (unsigned)(rnd(w) % w->nlive);
	if ((rc = verify_live(w, i, "before pool_free")))
		return rc;
	unpublish(w, i);
	off = w->live[i].off;
	drop_live(w, i);
	if ((rc = pool_free(w->p, off)))
		return call_failed(w, rc, E_FREE, "pool_free", off);
	w->me->n.frees++;
	return 0;
}

/* The new size of a realloc: grow a little, halve, or anything. */
static uint64_t
realloc_size(struct worker *w, uint64_t len)
{
	switch (rnd(w) % 3) {
	case 0:
		return len + 1 + rnd(w) % 64;
	case 1:
		return len / 2 + 1;
	default:
		return rand_size(w);
	}
}

static int
op_realloc(struct worker *w)
{
	struct live_block *lb;
	pool_off_t nw = POOL_OFF_NONE;
	uint64_t len, keep, k;
	struct tag t;
	unsigned i;
	int rc;

	if (!w->nlive)
		return op_alloc(w, false);
	i = (unsigned)(rnd(w) % w->nlive);
	lb = &w->live[i];
	if (lb->was_pub)	/* a retainer may still be checking it */
		return op_free(w);
	if ((rc = verify_live(w, i, "before pool_realloc")))
		return rc;
	if (rnd(w) % HUGE_EVERY == 0)
		len = w->pool_bytes - w->pool_bytes / 16;
	else
		len = rnd(w) % 10 ? realloc_size(w, lb->len) : 0;
	rc = pool_realloc(w->p, lb->off, len, &nw);
	if (rc == -ENOMEM || rc == -EBUSY) {
		/* -EBUSY: a stale retain holds it.  Either way: unchanged. */
		if (rc == -ENOMEM)
			w->me->n.nomem++;
		else
			w->me->n.busy++;
		return verify_live(w, i, "after a refused pool_realloc");
	}
	if (rc) {
		uint64_t off = lb->off;

		drop_live(w, i);	/* in flight: maybe freed */
		return call_failed(w, rc, E_REALLOC, "pool_realloc", off);
	}
	if (len == 0) {
		if (nw != POOL_OFF_NONE)
			return wfail(w, E_REALLOC, "pool_realloc(%#" PRIx64
				     ", 0) gave %#" PRIx64 ", not NONE",
				     lb->off, nw);
		drop_live(w, i);
		w->me->n.frees++;
		return 0;
	}
	if ((rc = check_new_block(w, "pool_realloc", nw, len, (int)i)))
		return rc;
	t = make_tag(w->id, lb->serial);
	keep = len < lb->len ? len : lb->len;
	k = pattern_check(pool_ptr(w->p, nw), &t, 0, keep);
	if (k < keep)
		return block_bad(w, E_REALLOC_COPY, nw == lb->off ?
				 "kept bytes after an in-place pool_realloc" :
				 "bytes copied by a moving pool_realloc",
				 nw, len, &t, k);
	if (len > lb->len)
		pattern_fill(pool_ptr(w->p, nw), &t, lb->len, len);
	w->me->n.reallocs++;
	w->me->n.moved += nw != lb->off;
	lb->off = nw;
	lb->len = len;
	return 0;
}

/* Find a block another worker publishes in our daemon generation. */
static struct pub_slot *
find_published(struct worker *w, struct pub_snap *s, unsigned *owner_slot)
{
	struct pub_slot *ps;
	unsigned tries, j;

	for (tries = 0; tries < 4; tries++) {
		j = (unsigned)(rnd(w) % w->procs);
		if (j == w->slot)
			continue;
		ps = &w->sh->slot[j].pub[rnd(w) % NPUB];
		if (!slot_read(ps, s))
			continue;
		if (s->epoch != w->epoch || s->owner == w->id ||
		    holds(w, s->off))
			continue;
		*owner_slot = j;
		return ps;
	}
	return NULL;
}

/*
 * Retain a published block.  Afterwards the slot must be unchanged, its
 * worker not doomed and still the one running there: then the block was
 * the owner's when the daemon gave us the reference, and must hold the
 * owner's pattern now and until we release it.  Otherwise the offset may
 * have been anybody's by then: drop the reference again.
 */
static int
op_retain(struct worker *w)
{
	struct pub_slot *ps;
	struct proc_slot *os;
	struct pub_snap s;
	struct held_block *hb;
	unsigned j = 0;
	bool sure;
	int rc;

	if (w->nheld == MAX_HELD)
		return op_release(w);
	if (w->procs < 2 || !(ps = find_published(w, &s, &j)))
		return op_alloc(w, false);
	os = &w->sh->slot[j];
	rc = pool_retain(w->p, s.off);
	if (rc == -EINVAL) {	/* freed meanwhile */
		w->me->n.gone++;
		return 0;
	}
	if (rc)
		return call_failed(w, rc, E_RETAIN, "pool_retain", s.off);
	sure = __atomic_load_n(&ps->gen, __ATOMIC_ACQUIRE) == s.gen &&
	       __atomic_load_n(&os->doomed, __ATOMIC_ACQUIRE) == 0 &&
	       __atomic_load_n(&os->id, __ATOMIC_ACQUIRE) == s.owner;
	if (!sure) {
		w->me->n.stale++;
		if ((rc = pool_free(w->p, s.off)))
			return call_failed(w, rc, E_FREE, "pool_free(stale)",
					   s.off);
		return 0;
	}
	if ((rc = check_new_block(w, "a published block", s.off, s.len, -1)))
		return rc;
	hb = &w->held[w->nheld++];
	*hb = (struct held_block){.off = s.off, .len = s.len,
				  .serial = s.serial,
				  .owner = (uint32_t)s.owner};
	if ((rc = verify_held(w, w->nheld - 1, "after pool_retain")))
		return rc;
	w->me->n.retains++;
	return 0;
}

/* Check a retained block and drop our reference. */
static int
op_release(struct worker *w)
{
	uint64_t off;
	unsigned i;
	int rc;

	if (!w->nheld)
		return op_retain(w);
	i = (unsigned)(rnd(w) % w->nheld);
	if ((rc = verify_held(w, i, "before releasing a retained block")))
		return rc;
	off = w->held[i].off;
	drop_held(w, i);
	if ((rc = pool_free(w->p, off)))
		return call_failed(w, rc, E_FREE, "pool_free(retained)", off);
	w->me->n.releases++;
	return 0;
}

/* Check any held block's bytes and ask the daemon for its usable size. */
static int
op_usable(struct worker *w)
{
	uint64_t off, len;
	size_t usable = 0;
	unsigned i;
	int rc;

	if (!w->nlive && !w->nheld)
		return op_alloc(w, false);
	i = (unsigned)(rnd(w) % (w->nlive + w->nheld));
	if (i < w->nlive) {
		rc = verify_live(w, i, "before pool_usable_size");
		off = w->live[i].off;
		len = w->live[i].len;
	} else {
		i -= w->nlive;
		rc = verify_held(w, i, "before pool_usable_size");
		off = w->held[i].off;
		len = w->held[i].len;
	}
	if (rc)
		return rc;
	if ((rc = pool_usable_size(w->p, off, &usable)))
		return call_failed(w, rc, E_USABLE, "pool_usable_size", off);
	if (usable < len || usable > w->pool_bytes - off)
		return wfail(w, E_USABLE, "pool_usable_size(%#" PRIx64 ") = %zu"
			     " for a block of %" PRIu64 " B", off, usable,
			     len);
	w->me->n.usable++;
	return 0;
}

static const char *
gate_name(const struct worker *w, const struct pool *p)
{
	return p == w->pg ? "g" : "e";
}

/* A block of pool g or e (GATE_BLOCK bytes at off) must be ours. */
static int
gate_check(const struct worker *w, struct pool *p, const char *when,
	   uint64_t off, uint64_t serial)
{
	struct tag t = make_tag(w->id, serial);
	const uint8_t *b = pool_ptr(p, off);
	uint64_t k = pattern_check(b, &t, 0, GATE_BLOCK);

	if (k < GATE_BLOCK)
		return wfail(w, E_GATE, "%s: block %#" PRIx64 " of pool %s: "
			     "byte %" PRIu64 " is %#x, expected %#x", when,
			     off, gate_name(w, p), k, b[k], pattern_byte(&t, k));
	return 0;
}

/* A block pool_alloc_wait gave in pool g or e: inside it; patterned. */
static int
gate_take(struct worker *w, struct pool *p, uint64_t off, uint64_t *serial)
{
	struct tag t;

	if (off == POOL_OFF_NONE || off % 16 || off >= pool_size(p) ||
	    GATE_BLOCK > pool_size(p) - off)
		return wfail(w, E_OFFSET, "pool_alloc_wait(-1) in pool %s gave "
			     "offset %#" PRIx64 ", outside it or not aligned",
			     gate_name(w, p), off);
	*serial = ++w->serial;
	t = make_tag(w->id, *serial);
	pattern_fill(pool_ptr(p, off), &t, 0, GATE_BLOCK);
	return 0;
}

/* Give our block of pool g back (after checking it), if we have one. */
static int
gate_free(struct worker *w)
{
	uint64_t off = w->g_off;
	int rc;

	if (off == POOL_OFF_NONE)
		return 0;
	if ((rc = gate_check(w, w->pg, "before freeing", off, w->g_serial)))
		return rc;
	w->g_off = POOL_OFF_NONE;
	if ((rc = pool_free(w->pg, off)))
		return call_failed(w, rc, E_FREE, "pool_free(g)", off);
	return 0;
}

/*
 * Pool g: free our block, or (holding none) wait for one with no end.
 * Its holders all free theirs at their next operation here and wait
 * nowhere without an end meanwhile, or are killed: room comes.
 */
static int
op_gate(struct worker *w)
{
	pool_off_t off = POOL_OFF_NONE;
	int rc;

	if (w->g_off != POOL_OFF_NONE)
		return gate_free(w);
	w->me->n.g_waits++;
	rc = pool_alloc_wait(w->pg, GATE_BLOCK, 0, 0, -1, &off);
	if (rc == -EAGAIN) {
		w->me->n.g_eagain++;
		return 0;
	}
	if (rc)
		return call_failed(w, rc, E_WAIT, "pool_alloc_wait(g, -1)",
				   GATE_BLOCK);
	w->me->n.g_served++;
	w->g_off = off;
	return gate_take(w, w->pg, off, &w->g_serial);
}

/*
 * Done: wait with no end in pool e, which the test keeps full until every
 * worker is here.  From here on the test kills nobody: at_gate is stored
 * before doomed is read, and the test stores doomed before it reads
 * at_gate, so one of the two sees the other (a worker that sees doomed
 * stays until it is killed or spared).
 */
static int
gate_end(struct worker *w)
{
	pool_off_t off = POOL_OFF_NONE;
	uint64_t serial;
	int rc;

	if ((rc = gate_free(w)))
		return rc;
	__atomic_store_n(&w->me->at_gate, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&w->me->doomed, __ATOMIC_SEQ_CST))
		harness_sleep_ms(1);
	alarm(GATE_ALARM);
	while ((rc = pool_alloc_wait(w->pe, GATE_BLOCK, 0, 0, -1, &off)) ==
	       -EAGAIN) {
		w->me->n.e_eagain++;
		harness_sleep_ms(1);
	}
	if (rc)
		return call_failed(w, rc, E_WAIT, "pool_alloc_wait(e, -1)",
				   GATE_BLOCK);
	w->me->n.e_served++;
	alarm(WORKER_ALARM);
	if ((rc = gate_take(w, w->pe, off, &serial)) ||
	    (rc = gate_check(w, w->pe, "before freeing", off, serial)))
		return rc;
	if ((rc = pool_free(w->pe, off)))
		return call_failed(w, rc, E_FREE, "pool_free(e)", off);
	return 0;
}

static int
one_op(struct worker *w)
{
	unsigned r = (unsigned)(rnd(w) % 100);

	if (w->run->waits && rnd(w) % GATE_EVERY == 0)
		return op_gate(w);
	if (w->run->handover && rnd(w) % HAND_EVERY == 0)
		return op_handover(w);

	if (r < MIX_ALLOC)
		return op_alloc(w, false);
	if (r < MIX_CALLOC)
		return op_alloc(w, true);
	if (r < MIX_FREE)
		return op_free(w);
	if (r < MIX_REALLOC)
		return op_realloc(w);
	if (r < MIX_RETAIN)
		return op_retain(w);
	if (r < MIX_RELEASE)
		return op_release(w);
	return op_usable(w);
}

/*
 * Pools g and e without a cache: a block freed there goes back to the
 * daemon at once, the room that ends other workers' waits.  In the pool,
 * even workers keep no cache and odd ones a small one: the room their
 * frees make reaches the waiters too, now or at a flush.  (A budget on a
 * handle without a cache, $POOLMGR_CLIENT_CACHE=0, is -EOPNOTSUPP.)
 */
static int
open_wait_pools(struct worker *w, struct pool_conn *c, struct pool *p)
{
	int rc;

	w->g_off = POOL_OFF_NONE;
	rc = pool_set_cache(p, w->id % 2 ? WAIT_CACHE : 0);
	if (rc == -EOPNOTSUPP && w->id % 2)
		rc = 0;
	if (rc == 0)
		rc = pool_open(c, "g", &w->pg);
	if (rc == 0)
		rc = pool_set_cache(w->pg, 0);
	if (rc == 0)
		rc = pool_open(c, "e", &w->pe);
	if (rc == 0)
		rc = pool_set_cache(w->pe, 0);
	return rc;
}

/*
 * Connect and open the pool.  The daemon generation is read before and
 * after the connect: if it did not change, the connection is to the daemon
 * of that generation (the old one was dead before the bump, the new one is
 * started after it).  During a restart the daemon may be away for a while:
 * keep trying, within CONNECT_S, when restarts are part of the run.
 */
static int
worker_connect(struct worker *w)
{
	double deadline = now_s() + CONNECT_S;
	struct pool_stats st;
	struct pool_conn *c;
	struct pool *p;
	uint32_t e1, e2;
	bool connected;
	int rc;

	for (;;) {
		alarm(WORKER_ALARM);
		c = NULL;
		p = NULL;
		e1 = __atomic_load_n(&w->sh->epoch, __ATOMIC_ACQUIRE);
		rc = pool_connect(w->sock, &c);
		e2 = __atomic_load_n(&w->sh->epoch, __ATOMIC_ACQUIRE);
		if (rc == 0 && e1 != e2)
			rc = -EAGAIN;
		if (rc == 0)
			rc = pool_open(c, POOL_NAME, &p);
		if (rc == 0)
			rc = pool_stats(p, &st);
		if (rc == 0 && w->run->waits)
			rc = open_wait_pools(w, c, p);
		if (rc == 0)
			break;
		connected = c != NULL;
		pool_disconnect(c);
		/* Retry only what a restart explains. */
		if (!w->run->restarts || now_s() > deadline ||
		    (connected && rc != -ECONNRESET && rc != -EAGAIN))
			return wfail(w, E_CONNECT, "connecting to %s and "
				     "opening %s: %d (%s)", w->sock, POOL_NAME,
				     rc, pool_strerror(rc));
		harness_sleep_ms(5);
	}
	w->c = c;
	w->p = p;
	w->epoch = e1;
	w->pool_bytes = pool_size(p);
	w->gran = st.granularity ? st.granularity : 1;
	__atomic_store_n(&w->me->conn_epoch, e1, __ATOMIC_RELEASE);
	return 0;
}

/* Read every page of a block: the mapping must still be there. */
static void
touch_block(const struct worker *w, uint64_t off, uint64_t len)
{
	const volatile uint8_t *b = pool_ptr(w->p, off);
	uint64_t k;
	uint8_t sum = 0;

	for (k = 0; k < len; k += 512)
		sum ^= b[k];
	sum ^= b[len - 1];
	(void)sum;
}

/*
 * The daemon went away.  Later calls on the old connection fail at once;
 * the old mapping stays readable; after a SIGKILL nobody touched it, so
 * every block we hold still has its pattern (after a SIGTERM the daemon
 * freed everything on its way out and may have punched the pages: only
 * read them).  Then reconnect to the new daemon and start afresh.
 */
static int
worker_reset(struct worker *w)
{
	struct pool_stats st;
	pool_off_t off;
	bool strict;
	unsigned i;
	int rc;

	if (!w->run->restarts)
		return wfail(w, E_RESET, "a call failed with -ECONNRESET "
			     "but the daemon was not restarted");
	if ((rc = pool_alloc(w->p, 64, &off)) != -ECONNRESET)
		return wfail(w, E_AFTER_RESET, "pool_alloc after a reset = "
			     "%d (%s), expected -ECONNRESET", rc,
			     pool_strerror(rc));
	if ((rc = pool_stats(w->p, &st)) != -ECONNRESET)
		return wfail(w, E_AFTER_RESET, "pool_stats after a reset = "
			     "%d (%s), expected -ECONNRESET", rc,
			     pool_strerror(rc));
	strict = __atomic_load_n(&w->sh->restart_sig, __ATOMIC_ACQUIRE) ==
		 SIGKILL;
	for (i = 0; i < w->nlive; i++) {
		if (strict && (rc = verify_live(w, i, "in the old mapping "
						"after the daemon was killed")))
			return rc;
		touch_block(w, w->live[i].off, w->live[i].len);
	}
	for (i = 0; i < w->nheld; i++) {
		if (strict && (rc = verify_held(w, i, "in the old mapping "
						"after the daemon was killed")))
			return rc;
		touch_block(w, w->held[i].off, w->held[i].len);
	}
	unpublish_all(w);
	pool_close(w->p);
	pool_disconnect(w->c);
	w->p = NULL;
	w->c = NULL;
	w->nlive = 0;
	w->nheld = 0;
	__atomic_add_fetch(&w->me->resets, 1, __ATOMIC_RELEASE);
	return worker_connect(w);
}

/* Done with the operations, waiting for the parent: keep a call going. */
static int
idle_call(struct worker *w)
{
	struct pool_stats st;
	int rc = pool_stats(w->p, &st);

	if (rc)
		return call_failed(w, rc, E_STATS, "pool_stats", 0);
	harness_sleep_ms(IDLE_MS);
	return 0;
}

/* Check everything we hold, then leave the way mode says. */
static int
worker_finish(struct worker *w, enum finish_mode mode)
{
	unsigned i;
	int rc;

	unpublish_all(w);
	for (i = 0; i < w->nlive; i++)
		if ((rc = verify_live(w, i, "at the end")))
			return rc;
	for (i = 0; i < w->nheld; i++)
		if ((rc = verify_held(w, i, "at the end")))
			return rc;
	switch (mode) {
	case FIN_FREE_ALL:
		while (w->nheld)
			if ((rc = op_release(w)))
				return rc;
		while (w->nlive)
			if ((rc = op_free(w)))
				return rc;
		pool_close(w->p);
		pool_disconnect(w->c);
		break;
	case FIN_CLOSE:
		pool_close(w->p);
		pool_disconnect(w->c);
		break;
	case FIN_DISCONNECT:
		pool_disconnect(w->c);
		break;
	case FIN_LEAVE:
		break;	/* the exit closes the socket */
	}
	return 0;
}

static int
worker_main(void *arg)
{
	const struct spawn_arg *a = arg;
	struct worker *w;
	unsigned long n;
	uint64_t done;
	int rc;

	if (!(w = calloc(1, sizeof(*w))))
		return 2;
	w->run = a->run;
	w->sh = fx.sh;
	w->slot = a->slot;
	w->procs = fx.procs;
	w->me = &fx.sh->slot[a->slot];
	w->id = __atomic_load_n(&w->me->id, __ATOMIC_ACQUIRE);
	w->rng = fx.seed ^ ((uint64_t)w->id << 32);
	w->sock = fx.d.sock;
	if ((rc = worker_connect(w)))
		return rc;
	for (n = 0;; n++) {
		if (n % ALARM_EVERY == 0)
			alarm(WORKER_ALARM);
		done = __atomic_load_n(&w->me->done, __ATOMIC_RELAXED);
		if (done >= w->run->ops) {
			if (!w->run->restarts ||
			    __atomic_load_n(&w->sh->go_home, __ATOMIC_ACQUIRE))
				break;
			rc = idle_call(w);
		} else {
			rc = one_op(w);
			if (rc == 0)
				__atomic_store_n(&w->me->done, done + 1,
						 __ATOMIC_RELAXED);
		}
		if (rc == OP_RESET)
			rc = worker_reset(w);
		if (rc)
			return rc == OP_RESET ? E_RESET : rc;
	}
	if (w->run->waits && (rc = gate_end(w)))
		return rc == OP_RESET ? E_RESET : rc;
	rc = worker_finish(w, w->run->random_finish ?
			   (enum finish_mode)(rnd(w) % 4) :
			   (enum finish_mode)(w->id % 3));
	alarm(0);
	return rc == OP_RESET ? E_RESET : rc;
}

/* ---- the parent --------------------------------------------------------- */

/* A fresh shared area: every slot empty. */
static void
shared_map(void)
{
	unsigned i, k;

	fx.sh = mmap(NULL, sizeof(*fx.sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(fx.sh != MAP_FAILED);
	for (i = 0; i < MAX_PROCS; i++)
		for (k = 0; k < NPUB; k++)
			slot_write(&fx.sh->slot[i].pub[k], POOL_OFF_NONE, 0, 0,
				   0, 0);
}

/* Ready slot i for a new worker (none runs there now). */
static void
slot_prepare(unsigned i)
{
	struct proc_slot *ps = &fx.sh->slot[i];
	unsigned k;

	for (k = 0; k < NPUB; k++)
		slot_write(&ps->pub[k], POOL_OFF_NONE, 0, 0, 0, 0);
	__atomic_store_n(&ps->doomed, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ps->at_gate, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ps->handing, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ps->id, ++fx.next_id, __ATOMIC_SEQ_CST);
}

static void
spawn_worker(const struct run *run, unsigned i)
{
	struct spawn_arg a = {.run = run, .slot = i};

	slot_prepare(i);
	fflush(stdout);
	fflush(stderr);
	fx.pid[i] = harness_spawn(worker_main, &a);
	assert_true(fx.pid[i] > 0);
}

/* The exit code of slot i's worker (128 + signal), or -1 if it runs. */
static int
reap(unsigned i, bool block)
{
	int status;
	pid_t r;

	do
		r = waitpid(fx.pid[i], &status, block ? 0 : WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return -1;
	assert_int_equal(r, fx.pid[i]);
	fx.pid[i] = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static void
worker_failed(const char *test, unsigned i, int rc)
{
	char buf[80];

	fail_msg("%s: the worker in slot %u (id %u) ended with %s%s", test, i,
		 fx.sh->slot[i].id, status_text(rc, buf, sizeof(buf)),
		 rc < 128 ? "; its line on stderr says why" : "");
}

static unsigned
running(void)
{
	unsigned i, n = 0;

	for (i = 0; i < fx.procs; i++)
		n += fx.pid[i] > 0;
	return n;
}

/* Reap workers that ended; any that did not exit 0 fails the test. */
static void
reap_finished(const char *test)
{
	unsigned i;
	int rc;

	for (i = 0; i < fx.procs; i++)
		if (fx.pid[i] > 0 && (rc = reap(i, false)) >= 0 && rc != 0)
			worker_failed(test, i, rc);
}

static uint64_t
total_done(void)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < fx.procs; i++)
		n += __atomic_load_n(&fx.sh->slot[i].done, __ATOMIC_RELAXED);
	return n;
}

/* Fail when the operations stop moving for STALL_S seconds. */
struct progress {
	uint64_t done;
	double since;
};

static void
watch_progress(const char *test, struct progress *pr)
{
	uint64_t d = total_done();
	double t = now_s();

	if (d != pr->done || pr->since == 0) {
		pr->done = d;
		pr->since = t;
	} else if (t - pr->since > STALL_S) {
		fail_msg("%s: no progress for %d s at %" PRIu64 " operations",
			 test, STALL_S, d);
	}
}

static void
sum_counters(struct counters *out)
{
	const uint64_t *f;
	uint64_t *o = (uint64_t *)out;
	unsigned i, k;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < fx.procs; i++) {
		f = (const uint64_t *)&fx.sh->slot[i].n;
		for (k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
			o[k] += f[k];
	}
}

static void
print_summary(const char *test, unsigned workers, double elapsed)
{
	struct counters n;
	uint64_t total = total_done();

	sum_counters(&n);
	printf("%s: %" PRIu64 " operations by %u worker process(es) in %.2f s: "
	       "%.0f ops/s\n", test, total, workers, elapsed,
	       elapsed > 0 ? (double)total / elapsed : 0.0);
	printf("%s: alloc %" PRIu64 ", calloc %" PRIu64 ", realloc %" PRIu64
	       " (%" PRIu64 " moved), free %" PRIu64 ", usable_size %" PRIu64
	       "; retain %" PRIu64 " checked + %" PRIu64 " stale dropped + %"
	       PRIu64 " already gone, release %" PRIu64 "\n", test, n.allocs,
	       n.callocs, n.reallocs, n.moved, n.frees, n.usable, n.retains,
	       n.stale, n.gone, n.releases);
	printf("%s: refusals: -ENOMEM %" PRIu64 ", -EBUSY %" PRIu64 "; %.1f "
	       "MiB of patterns checked\n", test, n.nomem, n.busy,
	       (double)n.checked_bytes / (1024.0 * 1024.0));
	if (n.excused)
		printf("%s: %" PRIu64 " blocks found torn while a SIGTERM'd "
		       "daemon was tearing down (excused)\n", test, n.excused);
}

static void
check_pool_named(const char *test, const char *name)
{
	char msg[256] = "";
	int rc = pool_check_by_name(fx.conn, name, msg, sizeof(msg));

	if (rc)
		fail_msg("%s: pool_check_by_name(%s): %s: %s", test, name,
			 pool_strerror(rc), msg);
}

static void
check_pool(const char *test)
{
	check_pool_named(test, POOL_NAME);
}

/*
 * Every block of the pool, page after page, while the workers go on: each
 * page as pool_blocks promises (its blocks in order from the cursor, the
 * cursor moving on), each block inside the pool.  The number listed.
 */
static size_t
list_pool(const char *test)
{
	struct pool_block_info *b;
	uint64_t from = 0, last = 0;
	size_t n, i, total = 0;
	int done = 0, rc;

	while (!done) {
		uint64_t was = from;

		if ((rc = pool_blocks(fx.conn, POOL_NAME, 0, 0, &from, &b, &n,
				      &done)) != 0)
			fail_msg("%s: pool_blocks: %s", test,
				 pool_strerror(rc));
		for (i = 0; i < n; i++, total++) {
			if ((total > 0 && b[i].offset <= last) ||
			    b[i].offset < was || b[i].offset >= from ||
			    b[i].usable_size == 0 ||
			    b[i].offset + b[i].usable_size > (64u << 20) ||
			    b[i].nlisted > b[i].holders)
				fail_msg("%s: listed block %#" PRIx64 " (%" PRIu64
					 " B, %u holders) out of order or "
					 "place", test, b[i].offset,
					 b[i].usable_size, b[i].holders);
			last = b[i].offset;
		}
		free(b);
		if (n > 128 || (!done && from <= was))
			fail_msg("%s: a page of %zu blocks, from %#" PRIx64
				 " to %#" PRIx64, test, n, was, from);
	}
	return total;
}

static struct pool_stats
stats_of(const char *name)
{
	struct pool_stats st;

	EXPECT_RC(pool_stats_by_name(fx.conn, name, &st), 0);
	return st;
}

static struct pool_stats
stats_now(void)
{
	return stats_of(POOL_NAME);
}

/*
 * A worker was just killed in slot i: was it between a persistent
 * allocation and its handover slot?  (Read before a replacement starts.)
 */
static void
note_hand_cut(unsigned i)
{
	if (__atomic_load_n(&fx.sh->slot[i].handing, __ATOMIC_ACQUIRE))
		fx.hand_cut++;
}

/* Poll (bounded) until only persistent blocks are left, no handle open. */
static struct pool_stats
wait_only_persistent(void)
{
	double t0 = now_s();
	struct pool_stats st;

	for (;;) {
		st = stats_now();
		if ((st.live_blocks == st.persistent_blocks &&
		     st.clients == 0) || now_s() - t0 > RECLAIM_MS / 1000.0)
			return st;
		harness_sleep_ms(10);
	}
}

/* Does the block at off hold the pattern of owner's block serial? */
static bool
hand_bytes_ok(struct pool *p, uint64_t off, uint64_t len, uint64_t owner,
	      uint64_t serial)
{
	struct tag t = make_tag((uint32_t)owner, serial);

	return off < pool_size(p) && len <= pool_size(p) - off &&
	       pattern_check(pool_ptr(p, off), &t, 0, len) == len;
}

/* Is off the block a slot left TAKEN by a killed taker names? */
static const struct hand_slot *
hand_taken_at(uint64_t off)
{
	const struct hand_slot *hs;
	unsigned i, k;

	for (i = 0; i < fx.procs; i++)
		for (k = 0; k < NHAND; k++) {
			hs = &fx.sh->slot[i].hand[k];
			if ((hs->state & 0xff) == HAND_TAKEN && hs->off == off)
				return hs;
		}
	return NULL;
}

/*
 * Every worker has ended: take what is left of the handovers.  A block
 * still in a FULL slot must hold its maker's pattern, and this process
 * frees it as a taker would.  Then every block left must be persistent
 * and held by nobody, and is one whose handover a kill cut short: a maker
 * killed between its allocation and its slot (fx.hand_cut), or a taker
 * killed between its claim and the slot's emptying (the slot stays TAKEN;
 * such a block, if its free did not happen, still has its pattern).
 * Those are counted, bounded by those kills, and freed: the pool's final
 * checks then find it empty.
 */
static void
drain_handovers(const char *test)
{
	struct pool_block_info *b;
	const struct hand_slot *hs;
	struct hand_slot *full;
	struct pool_stats st = wait_only_persistent();
	struct counters n;
	uint64_t from = 0, *left = NULL, *grown;
	size_t nb, i, nleft = 0;
	unsigned slot, k, drained = 0, taken_stuck = 0, cut_taker = 0;
	struct pool *p;
	int done = 0, rc;

	assert_int_equal(st.clients, 0);
	assert_int_equal(st.live_blocks, st.persistent_blocks);
	EXPECT_RC(pool_open(fx.conn, POOL_NAME, &p), 0);
	rc = pool_set_cache(p, 0);
	assert_true(rc == 0 || rc == -EOPNOTSUPP);
	for (slot = 0; slot < fx.procs; slot++)
		for (k = 0; k < NHAND; k++) {
			full = &fx.sh->slot[slot].hand[k];
			if ((full->state & 0xff) == HAND_TAKEN)
				taken_stuck++;
			if (full->state != HAND_FULL)
				continue;
			if (!hand_bytes_ok(p, full->off, full->len,
					   full->owner, full->serial))
				fail_msg("%s: block %#" PRIx64 " handed over "
					 "by worker %" PRIu64 " lost its "
					 "pattern", test, full->off,
					 full->owner);
			EXPECT_RC(pool_free(p, full->off), 0);
			full->state = HAND_EMPTY;
			drained++;
		}
	while (!done) {
		EXPECT_RC(pool_blocks(fx.conn, POOL_NAME, 0, 0, &from, &b, &nb,
				      &done), 0);
		for (i = 0; i < nb; i++) {
			if (!(b[i].flags & POOL_BLOCK_PERSISTENT) ||
			    b[i].holders != 0)
				fail_msg("%s: block %#" PRIx64 " left with %u "
					 "holders, flags %#x", test,
					 b[i].offset, b[i].holders,
					 b[i].flags);
			grown = realloc(left, (nleft + 1) * sizeof(*left));
			assert_non_null(grown);
			left = grown;
			left[nleft++] = b[i].offset;
		}
		free(b);
	}
	for (i = 0; i < nleft; i++) {
		hs = hand_taken_at(left[i]);
		if (hs && hand_bytes_ok(p, hs->off, hs->len, hs->owner,
					hs->serial))
			cut_taker++;
		EXPECT_RC(pool_free(p, left[i]), 0);
	}
	free(left);
	pool_close(p);
	sum_counters(&n);
	printf("%s: handovers: %" PRIu64 " persistent blocks made (%" PRIu64
	       " zeroed, %" PRIu64 " of them over 1 MiB, %" PRIu64 " with a "
	       "wait; %" PRIu64 " refused), %"
	       PRIu64 " taken and freed by another worker, %u by the test at "
	       "the end; %zu left by kills (%u of them a killed taker's, "
	       "whose slot stayed taken: %u slots), %u makers killed while "
	       "handing\n", test, n.handed, n.hand_zeroed, n.hand_big,
	       n.hand_waited,
	       n.hand_refused, n.taken, drained, nleft, cut_taker,
	       taken_stuck, fx.hand_cut);
	assert_true(n.handed >= n.taken + drained);
	assert_true(nleft <= (size_t)fx.hand_cut + taken_stuck);
}

/* Poll until nothing is live and nobody has the pool open (bounded). */
static struct pool_stats
wait_empty(double *waited)
{
	double t0 = now_s();
	struct pool_stats st;

	for (;;) {
		st = stats_now();
		if ((st.live_blocks == 0 && st.clients == 0) ||
		    now_s() - t0 > RECLAIM_MS / 1000.0)
			break;
		harness_sleep_ms(10);
	}
	*waited = now_s() - t0;
	return st;
}

/* The pool is empty: no bytes, no blocks, no handles, no bad frees. */
static void
assert_empty(const char *test, const struct pool_stats *st,
	     const struct pool_stats *before)
{
	printf("%s: pool after: allocated %" PRIu64 " B, live blocks %" PRIu64
	       ", handles %" PRIu64 ", committed %" PRIu64 " B; daemon: "
	       "allocs +%" PRIu64 ", frees +%" PRIu64 ", failed allocs +%"
	       PRIu64 ", invalid frees +%" PRIu64 "\n", test,
	       st->allocated_bytes, st->live_blocks, st->clients,
	       st->committed_bytes, st->allocs - before->allocs,
	       st->frees - before->frees,
	       st->failed_allocs - before->failed_allocs,
	       st->invalid_frees - before->invalid_frees);
	assert_int_equal(st->allocated_bytes, 0);
	assert_int_equal(st->requested_bytes, 0);
	assert_int_equal(st->live_blocks, 0);
	assert_int_equal(st->clients, 0);
	assert_int_equal(st->persistent_blocks, 0);
	assert_int_equal(st->invalid_frees, before->invalid_frees);
	check_pool(test);
}

static void
start_daemon_with(const char *config)
{
	fx.hand_cut = 0;
	if (harness_start(&fx.d, config) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
	EXPECT_RC(pool_connect(fx.d.sock, &fx.conn), 0);
	shared_map();
}

static void
start_daemon(void)
{
	char config[128];

	snprintf(config, sizeof(config), POOL_CONFIG, fx.granularity);
	start_daemon_with(config);
}

/* Disconnect and stop the daemon, which must exit cleanly. */
static void
stop_daemon(void)
{
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

static void
dump_log(const struct daemon_proc *d)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "echo '--- %s:' >&2; cat %s >&2", d->log,
		 d->log);
	if (system(cmd) == -1)
		perror("system");
}

/* Stop the daemon with sig and reap it: its exit code or 128 + signal. */
static int
daemon_kill(struct daemon_proc *d, int sig)
{
	int status;

	assert_true(d->pid > 0);
	assert_int_equal(kill(d->pid, sig), 0);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static bool
sock_accepts(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	bool ok;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return false;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

/*
 * Start poolmgrd again on the same socket and configuration (harness_start
 * would make a new directory); its stderr is appended to the same log.
 */
static int
daemon_respawn(struct daemon_proc *d)
{
	char bin[256];
	int i, fd;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		execl(bin, "poolmgrd", "--verbose", "--socket", d->sock,
		      "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	for (i = 0; i < 1000; i++) {
		if (sock_accepts(d->sock))
			return 0;
		if (!harness_alive(d)) {
			d->pid = 0;
			return -1;
		}
		harness_sleep_ms(10);
	}
	return -1;
}

static int
teardown(void **state)
{
	char cmd[200];
	unsigned i;

	(void)state;
	fx.granularity = fx.granularity_default;
	for (i = 0; i < MAX_PROCS; i++) {
		if (fx.pid[i] > 0) {
			kill(fx.pid[i], SIGKILL);
			waitpid(fx.pid[i], NULL, 0);
			fx.pid[i] = 0;
		}
	}
	if (fx.conn)
		pool_disconnect(fx.conn);
	fx.conn = NULL;
	if (fx.d.pid > 0) {
		harness_stop(&fx.d);
	} else if (fx.d.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.d.dir);
		if (system(cmd) == -1)
			perror("system");
	}
	memset(&fx.d, 0, sizeof(fx.d));
	if (fx.sh)
		munmap(fx.sh, sizeof(*fx.sh));
	fx.sh = NULL;
	return 0;
}

/* ---- the tests ---------------------------------------------------------- */

/* The random load of fx.procs workers on a pool of fx.granularity. */
static void
no_double_booking(const char *test)
{
	struct run run = {.name = test, .ops = fx.ops, .handover = true};
	struct pool_stats before, after;
	struct progress pr = {0};
	double t0, elapsed, next_check;
	unsigned i, checks = 0;
	size_t listed = 0;

	start_daemon();
	before = stats_now();
	t0 = now_s();
	for (i = 0; i < fx.procs; i++)
		spawn_worker(&run, i);
	next_check = t0 + CHECK_EVERY_MS / 1000.0;
	while (running()) {
		reap_finished(test);
		if (now_s() >= next_check && running()) {
			check_pool(test);	/* under load */
			listed += list_pool(test);
			checks++;
			next_check = now_s() + CHECK_EVERY_MS / 1000.0;
		}
		watch_progress(test, &pr);
		harness_sleep_ms(10);
	}
	elapsed = now_s() - t0;
	print_summary(test, fx.procs, elapsed);
	printf("%s: %u invariant checks and as many listings passed under "
	       "load (%zu blocks listed)\n", test, checks, listed);
	assert_int_equal(total_done(), (uint64_t)fx.procs * fx.ops);

	/* Every worker closed its handle with a round trip: empty now. */
	drain_handovers(test);
	after = stats_now();
	assert_empty(test, &after, &before);
	stop_daemon();
}

static void
many_processes_no_double_booking(void **state)
{
	(void)state;
	no_double_booking("no-double-booking");
}

/*
 * The same load on a pool whose granule is a whole page: every block
 * starts on a page, the client caches' size classes are all whole pages,
 * short runs can hold page spans, and each granule of the share map is a
 * page.
 */
static void
page_granules_no_double_booking(void **state)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)state;
	assert_true(page > 0);
	fx.granularity = (unsigned)page;
	no_double_booking("page-granules");
}

/* Pick a running slot at random (there is one). */
static unsigned
random_running(void)
{
	unsigned i, k = (unsigned)(splitmix(&fx.rng) % running());

	for (i = 0; i < fx.procs; i++)
		if (fx.pid[i] > 0 && k-- == 0)
			return i;
	fail_msg("no running worker");
	return 0;
}

static double
kill_gap(void)
{
	return (KILL_MIN_MS + (double)(splitmix(&fx.rng) %
				       (KILL_MAX_MS - KILL_MIN_MS + 1))) /
	       1000.0;
}

static void
random_kills_lose_nothing(void **state)
{
	const char *test = "random-kills";
	struct run run = {.name = test, .ops = fx.ops, .random_finish = true,
			  .handover = true};
	struct pool_stats before, after;
	struct progress pr = {0};
	double t0, elapsed, next_kill, next_list, waited;
	unsigned i, kills = 0, spawned, listings = 0;
	size_t listed = 0;
	pid_t daemon_pid;
	int rc;

	(void)state;
	start_daemon();
	daemon_pid = fx.d.pid;
	before = stats_now();
	t0 = now_s();
	for (i = 0; i < fx.procs; i++)
		spawn_worker(&run, i);
	spawned = fx.procs;
	next_kill = t0 + kill_gap();
	next_list = t0 + CHECK_EVERY_MS / 1000.0;
	while (running()) {
		reap_finished(test);
		if (now_s() >= next_list && running()) {
			listed += list_pool(test);	/* kills or not */
			listings++;
			next_list = now_s() + CHECK_EVERY_MS / 1000.0;
		}
		if (kills < fx.kills_max && running() && now_s() >= next_kill) {
			i = random_running();
			/* Before the kill: its publications are void now. */
			__atomic_store_n(&fx.sh->slot[i].doomed, 1,
					 __ATOMIC_SEQ_CST);
			kill(fx.pid[i], SIGKILL);
			rc = reap(i, true);
			if (rc == 128 + SIGKILL) {
				kills++;
				note_hand_cut(i);
				if (fx.sh->slot[i].done < fx.ops) {
					spawn_worker(&run, i);
					spawned++;
				}
			} else if (rc != 0) {
				worker_failed(test, i, rc);
			}
			next_kill = now_s() + kill_gap();
		}
		watch_progress(test, &pr);
		harness_sleep_ms(5);
	}
	elapsed = now_s() - t0;
	print_summary(test, spawned, elapsed);
	printf("%s: kills survived: %u (SIGKILL at random moments, each "
	       "worker replaced); daemon pid %d throughout\n", test, kills,
	       (int)daemon_pid);
	printf("%s: %u listings of the pool under load, %zu blocks in all\n",
	       test, listings, listed);
	assert_true(total_done() >= (uint64_t)fx.procs * fx.ops);
	assert_true(kills > 0 || fx.kills_max == 0);

	drain_handovers(test);
	after = wait_empty(&waited);
	printf("%s: the daemon reclaimed everything %.0f ms after the last "
	       "worker ended\n", test, waited * 1000);
	assert_empty(test, &after, &before);
	assert_int_equal(fx.d.pid, daemon_pid);
	assert_true(harness_alive(&fx.d));
	stop_daemon();
}

/* Wait until every worker is connected to daemon generation epoch. */
static double
wait_reconnected(const char *test, uint32_t epoch)
{
	double t0 = now_s();
	unsigned i, n;

	for (;;) {
		reap_finished(test);
		if (running() != fx.procs)
			fail_msg("%s: a worker ended before it was told to",
				 test);
		for (i = n = 0; i < fx.procs; i++)
			n += __atomic_load_n(&fx.sh->slot[i].conn_epoch,
					     __ATOMIC_ACQUIRE) == epoch;
		if (n == fx.procs)
			return now_s() - t0;
		if (now_s() - t0 > CONNECT_S + 10)
			fail_msg("%s: after %d s only %u of %u workers are "
				 "back on the restarted daemon", test,
				 CONNECT_S + 10, n, fx.procs);
		harness_sleep_ms(5);
	}
}

/* Wait until every worker has done an operation. */
static void
wait_working(const char *test)
{
	double t0 = now_s();
	unsigned i, n;

	for (;;) {
		reap_finished(test);
		if (running() != fx.procs)
			fail_msg("%s: a worker ended early", test);
		for (i = n = 0; i < fx.procs; i++)
			n += __atomic_load_n(&fx.sh->slot[i].done,
					     __ATOMIC_ACQUIRE) > 0;
		if (n == fx.procs)
			return;
		if (now_s() - t0 > CONNECT_S + 10)
			fail_msg("%s: after %d s only %u of %u workers are at "
				 "work", test, CONNECT_S + 10, n, fx.procs);
		harness_sleep_ms(1);
	}
}

static void
daemon_restart(void **state)
{
	const char *test = "daemon-restart";
	unsigned long ops = fx.ops / 4 > 500 ? fx.ops / 4 : 500;
	struct run run = {.name = test, .ops = ops, .restarts = true};
	struct pool_stats before = {0}, after;
	struct progress pr = {0};
	double t0, t_kill, t_up, elapsed, waited;
	uint64_t total = (uint64_t)fx.procs * ops;
	unsigned i, r;
	int sig, rc, want;

	(void)state;
	start_daemon();
	/* The test keeps no connection of its own across the restarts. */
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	t0 = now_s();
	for (i = 0; i < fx.procs; i++)
		spawn_worker(&run, i);
	/*
	 * Every worker on the first daemon before it goes: one still making
	 * its first connection then would meet the restart inside it, and
	 * count one reset fewer.
	 */
	wait_working(test);
	for (r = 0; r < RESTARTS; r++) {
		while (total_done() < total * (r + 1) / (RESTARTS + 1)) {
			reap_finished(test);
			if (running() != fx.procs)
				fail_msg("%s: a worker ended early", test);
			watch_progress(test, &pr);
			harness_sleep_ms(5);
		}
		sig = r % 2 ? SIGKILL : SIGTERM;
		want = sig == SIGTERM ? 0 : 128 + SIGKILL;
		__atomic_store_n(&fx.sh->restart_sig, sig, __ATOMIC_SEQ_CST);
		t_kill = now_s();
		rc = daemon_kill(&fx.d, sig);
		if (rc != want) {
			dump_log(&fx.d);
			fail_msg("%s: poolmgrd stopped by signal %d ended with "
				 "%d, expected %d", test, sig, rc, want);
		}
		/* Between the old daemon's death and the new one's start. */
		__atomic_add_fetch(&fx.sh->epoch, 1, __ATOMIC_SEQ_CST);
		if (daemon_respawn(&fx.d) != 0) {
			dump_log(&fx.d);
			fail_msg("%s: poolmgrd did not start again", test);
		}
		t_up = now_s();
		wait_reconnected(test, r + 1);
		printf("%s: restart %u (%s) at %" PRIu64 " operations: the "
		       "new daemon answered %.0f ms after the signal; every "
		       "worker saw -ECONNRESET and was back on it %.0f ms "
		       "after the signal\n", test, r + 1, strsignal(sig),
		       total_done(), (t_up - t_kill) * 1000,
		       (now_s() - t_kill) * 1000);
	}
	__atomic_store_n(&fx.sh->go_home, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < fx.procs; i++)
		if ((rc = reap(i, true)) != 0)
			worker_failed(test, i, rc);
	elapsed = now_s() - t0;
	print_summary(test, fx.procs, elapsed);
	assert_int_equal(total_done(), total);
	for (i = 0; i < fx.procs; i++)
		if (fx.sh->slot[i].resets != RESTARTS)
			fail_msg("%s: worker slot %u saw %u connection resets, "
				 "expected %d", test, i, fx.sh->slot[i].resets,
				 RESTARTS);

	EXPECT_RC(pool_connect(fx.d.sock, &fx.conn), 0);
	after = wait_empty(&waited);
	/* A new daemon: its counters started at 0. */
	assert_empty(test, &after, &before);
	assert_true(harness_alive(&fx.d));
	stop_daemon();
}

/* ---- alloc_waits_under_load --------------------------------------------- */

/*
 * SIGKILL a random worker that is not at the end gate (see gate_end) and
 * start a replacement, which goes on with the slot's operations, or goes
 * to the gate if they are done.  Whether one was killed.
 */
static bool
kill_not_at_gate(const char *test, const struct run *run, unsigned *spawned)
{
	unsigned i = random_running();
	struct proc_slot *ps = &fx.sh->slot[i];
	int rc;

	__atomic_store_n(&ps->doomed, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ps->at_gate, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&ps->doomed, 0, __ATOMIC_SEQ_CST);
		return false;
	}
	kill(fx.pid[i], SIGKILL);
	if ((rc = reap(i, true)) != 128 + SIGKILL)
		worker_failed(test, i, rc);
	note_hand_cut(i);
	spawn_worker(run, i);
	(*spawned)++;
	return true;
}

static unsigned
at_gate(void)
{
	unsigned i, n = 0;

	for (i = 0; i < fx.procs; i++)
		n += __atomic_load_n(&fx.sh->slot[i].at_gate,
				     __ATOMIC_ACQUIRE) != 0;
	return n;
}

/* Wait (bounded) until n allocations wait in pool name. */
static void
wait_alloc_waits(const char *test, const char *name, uint32_t n)
{
	double t0 = now_s();
	struct pool_stats st;

	for (;;) {
		reap_finished(test);
		st = stats_of(name);
		if (st.alloc_waits == n)
			return;
		if (st.alloc_waits > n || now_s() - t0 > CONNECT_S + 10)
			fail_msg("%s: %u allocations wait in pool %s, expected "
				 "%u", test, st.alloc_waits, name, n);
		harness_sleep_ms(5);
	}
}

/* After the run: pool name holds nothing, nobody waits there, it checks. */
static void
assert_no_waits(const char *test, const char *name)
{
	struct pool_stats st = stats_of(name);

	printf("%s: pool %s after: live blocks %" PRIu64 ", handles %" PRIu64
	       ", allocations waiting %u, failed allocs %" PRIu64 "\n", test,
	       name, st.live_blocks, st.clients, st.alloc_waits,
	       st.failed_allocs);
	assert_int_equal(st.alloc_waits, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.clients, 0);
	check_pool_named(test, name);
}

static void
check_all_pools(const char *test)
{
	check_pool(test);
	check_pool_named(test, "g");
	check_pool_named(test, "e");
}

static void
alloc_waits_under_load(void **state)
{
	const char *test = "alloc-waits";
	unsigned long ops = fx.ops / 10 > 200 ? fx.ops / 10 : 200;
	struct run run = {.name = test, .ops = ops, .random_finish = true,
			  .waits = true, .handover = true};
	uint32_t maxw = fx.procs / 2 ? fx.procs / 2 : 1;
	uint64_t total = (uint64_t)fx.procs * ops, failed, bound;
	pool_off_t fill[MAX_PROCS], off;
	struct pool_stats before, after;
	struct progress pr = {0};
	double t0, t_restart = 0, next_kill, elapsed, waited;
	unsigned i, nfill = 0, kills = 0, spawned, restarts = 0;
	uint32_t waiting = 0;
	struct counters n;
	char config[512];
	struct pool *pe;
	int rc;

	(void)state;
	snprintf(config, sizeof(config), WAIT_POOL_CONFIG, maxw,
		 GATE_BLOCK * maxw, GATE_BLOCK * fx.procs);
	start_daemon_with(config);
	/* Pool e full of the test's blocks: the end gate is shut. */
	EXPECT_RC(pool_open(fx.conn, "e", &pe), 0);
	EXPECT_RC(pool_set_cache(pe, 0), 0);
	while ((rc = pool_alloc(pe, GATE_BLOCK, &off)) == 0) {
		assert_true(nfill < MAX_PROCS);
		fill[nfill++] = off;
	}
	assert_int_equal(rc, -ENOMEM);
	assert_int_equal(nfill, fx.procs);
	before = stats_now();
	t0 = now_s();
	for (i = 0; i < fx.procs; i++)
		spawn_worker(&run, i);
	spawned = fx.procs;
	next_kill = t0 + kill_gap();
	while (at_gate() < fx.procs) {
		reap_finished(test);
		if (running() != fx.procs)
			fail_msg("%s: a worker ended before the end gate "
				 "opened", test);
		if (!restarts && total_done() >= total / 2) {
			/* Those still waiting at SIGUSR2 are asked again. */
			waiting = stats_now().alloc_waits +
				  stats_of("g").alloc_waits;
			t_restart = now_s();
			if (harness_restart_in_place(&fx.d) != 0)
				fail_msg("%s: poolmgrd did not restart in "
					 "place", test);
			t_restart = now_s() - t_restart;
			restarts++;
			check_all_pools(test);	/* under load, after it */
		}
		if (kills < fx.kills_max && now_s() >= next_kill) {
			kills += kill_not_at_gate(test, &run, &spawned);
			next_kill = now_s() + kill_gap();
		}
		watch_progress(test, &pr);
		harness_sleep_ms(5);
	}
	/*
	 * Everyone at the gate: as many wait there as may, and it checks.
	 * The workers are one uid, which may have three quarters of the
	 * places (dispatch_uid_waits_max): 3 of 4 with 8 workers.
	 */
	wait_alloc_waits(test, "e", maxw - maxw / 4);
	check_pool_named(test, "e");
	for (i = 0; i < nfill; i++)
		EXPECT_RC(pool_free(pe, fill[i]), 0);
	/* Now every waiter with no end must get its block, and finish. */
	for (i = 0; i < fx.procs; i++)
		if ((rc = reap(i, true)) != 0)
			worker_failed(test, i, rc);
	elapsed = now_s() - t0;
	pool_close(pe);
	print_summary(test, spawned, elapsed);
	sum_counters(&n);
	printf("%s: waiting allocations %" PRIu64 " (0-%d ms, one in %d): "
	       "served %" PRIu64 ", ran out %" PRIu64 ", -EAGAIN %" PRIu64
	       "; with no end in pool g: %" PRIu64 " (served %" PRIu64
	       ", -EAGAIN %" PRIu64 "); at the end gate: served %" PRIu64
	       ", -EAGAIN %" PRIu64 "\n", test, n.waits, WAIT_MAX_MS,
	       WAIT_EVERY, n.served, n.timed_out, n.eagain, n.g_waits,
	       n.g_served, n.g_eagain, n.e_served, n.e_eagain);
	printf("%s: kills %u, restarts in place %u (%u allocations waiting "
	       "just before; %.0f ms from SIGUSR2 to the new image's log "
	       "line), max_alloc_waits %u\n", test, kills, restarts, waiting,
	       t_restart * 1000, maxw);
	assert_true(total_done() >= total);
	assert_int_equal(restarts, 1);
	assert_int_equal(n.e_served, fx.procs);

	drain_handovers(test);
	after = wait_empty(&waited);
	/* Counted by the daemon: no more refusals than the workers saw. */
	failed = after.failed_allocs - before.failed_allocs;
	bound = n.nomem + n.timed_out + n.eagain + kills;
	printf("%s: failed allocs +%" PRIu64 ", at most -ENOMEM + ran out + "
	       "-EAGAIN + kills = %" PRIu64 "\n", test, failed, bound);
	assert_true(failed <= bound);
	assert_empty(test, &after, &before);
	assert_int_equal(after.alloc_waits, 0);
	assert_no_waits(test, "g");
	assert_no_waits(test, "e");
	assert_true(harness_alive(&fx.d));
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(many_processes_no_double_booking,
					  teardown),
		cmocka_unit_test_teardown(page_granules_no_double_booking,
					  teardown),
		cmocka_unit_test_teardown(random_kills_lose_nothing, teardown),
		cmocka_unit_test_teardown(daemon_restart, teardown),
		cmocka_unit_test_teardown(alloc_waits_under_load, teardown),
	};

	fx.procs = (unsigned)env_ulong("POOLMGR_STRESS_PROCS", DEFAULT_PROCS,
				       MAX_PROCS);
	fx.ops = env_ulong("POOLMGR_STRESS_OPS", DEFAULT_OPS, 1ul << 40);
	fx.kills_max = (unsigned)env_ulong("POOLMGR_STRESS_KILLS",
					   3 * fx.procs + fx.ops / 5000,
					   1u << 30);
	fx.seed = env_ulong("POOLMGR_STRESS_SEED",
			    (unsigned long)time(NULL) ^
			    ((unsigned long)getpid() << 20), ~0ul);
	fx.granularity_default = (unsigned)env_ulong(
		"POOLMGR_STRESS_GRANULARITY", DEFAULT_GRANULARITY, 1u << 16);
	fx.granularity = fx.granularity_default;
	fx.rng = fx.seed;
	printf("stress: %u worker processes x %lu operations, up to %u kills, "
	       "granularity %u, seed %#lx (set POOLMGR_STRESS_SEED to "
	       "repeat)\n", fx.procs, fx.ops, fx.kills_max, fx.granularity,
	       (unsigned long)fx.seed);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("integration: stress", tests, NULL,
					   NULL);
}
