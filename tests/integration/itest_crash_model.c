/*
 * itest_crash_model.c - a seeded random run of persistent blocks and
 * names under systemd's fd store, with crashes of poolmgrd at random
 * points, checked after each recovery against a model of what a crash
 * keeps (docs/design.md, "The crash journal").
 *
 *   random_crashes_against_model  two connections, each with handles on
 *       pool a (no limit) and pool e (made with a limit, so that
 *       allocations and lowered limits evict), make persistent blocks
 *       (Alloc with persist, an AllocBatch with persist, a Persist of a
 *       held block), publish them (kept or evictable, on a new name, over
 *       a name in use, in place with the other flag), unpublish, end
 *       persistent blocks (Free by a handle that holds none, FreeBatch,
 *       FreePersisted), grow them in place, retain and release named
 *       blocks, set e's limit, destroy e and make it again, and restart
 *       the daemon in place; pool f's batches of persistent blocks, made
 *       and ended, bring the journal to its compactions.  Every block's
 *       bytes are a pattern of its tag, written once, before it is
 *       published.  The model holds each pool's persistent blocks
 *       (offset, tag, sizes) and names (offset, evictable, generation)
 *       and e's size and limit; what the daemon lists after each
 *       operation tells it which names the daemon evicted, the sizes of
 *       new blocks and the generations of new names.  Now and then the
 *       daemon is killed between two operations (SIGKILL), or, with
 *       fail_grow.so, at whichever record next grows the journal, the
 *       room left in it brought to a random few hundred bytes (often
 *       right after f's records have begun a compaction): then the
 *       request in flight may or may not have happened, and the model
 *       keeps its state before and after.  One start in five is killed
 *       again as soon as it is ready.  After each recovery the pools
 *       must be one of the two states, whole: every name listed in the
 *       model with its offset, flag, generation and publisher, every
 *       live block one of the model's persistent blocks with its sizes,
 *       persister and bytes, none of them missing but names the daemon
 *       may have evicted (by the request in flight, or in a pool
 *       restored over its limit), the counts and bytes of the
 *       statistics and of pool_persisted the blocks', e's size and limit
 *       the model's, and each pool's check clean.
 *
 * $POOLMGR_MODEL_SEED replays a run (its seed is printed first: the same
 * choices, though a kill may fall on another record where a compaction's
 * steps, which go by the daemon's clock, fall otherwise), and
 * $POOLMGR_MODEL_ROUNDS lengthens it (ROUNDS operations by default).
 */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

/* a and f from the configuration; e made by the test, with a limit. */
#define CONFIG	"[daemon]\nsocket_mode = 0666\n" \
		"[pool a]\nsize = 4M\n" \
		"[pool f]\nsize = 16M\n"

#define ROUNDS	1000		/* operations of a default run */
#define NCONN	2		/* connections, each with a handle per pool */
#define NPOOL	2		/* a and e: the model's pools */
#define POOL_F	NPOOL		/* the journal's filler, counted only */
#define MAXB	96		/* persistent blocks of a pool in the model */
#define MAXN	24		/* names of a pool */
#define MAXH	12		/* references the handles hold */
#define CHURN	8192		/* f's blocks made and ended at a time */
#define REC_PERSIST 64		/* a persist record's bytes */
#define ARMED_MAX 200		/* operations armed before giving up */
#define TRACE	60		/* operations told when the test fails */

static const char *const pool_name[NPOOL + 1] = {"a", "e", "f"};
static const uint64_t limits[] = {192 << 10, 256 << 10, 384 << 10,
				  512 << 10, 768 << 10};
#define NLIMITS	(sizeof(limits) / sizeof(limits[0]))

struct mblock {
	pool_off_t off;
	uint32_t tag, len;	/* len: the bytes of the tag's pattern */
	/*
	 * Its sizes as the daemon lists them (a handle's cache may give a
	 * block of its class for a smaller request); 0 until the daemon is
	 * asked, after each operation that makes one, but the requested
	 * size of a grow.
	 */
	uint64_t requested, usable;
};

struct mname {
	char name[8];
	pool_off_t off;
	bool evictable;
	uint64_t gen;		/* its generation; 0 until listed */
};

struct mpool {
	unsigned nb, nn;
	struct mblock b[MAXB];
	struct mname n[MAXN];
	uint64_t limit, user_quota;
	uint32_t mode;
	uint64_t size;		/* e's, made by the test; 0: not looked at */
	uint64_t max_gen;	/* the highest generation listed */
	bool gone;		/* e destroyed, not made again */
	/* Persistent blocks made by the request in flight, not told where. */
	unsigned unknown;
};

/* What a crash keeps. */
struct model {
	struct mpool p[NPOOL];
	uint64_t in_f;		/* f's persistent blocks */
};

/* A reference a handle holds: gone with a crash. */
struct hold {
	int conn, pool;
	pool_off_t off;
	uint32_t tag, len;
	unsigned since;		/* the round that took it */
};

static struct harness_store st;
static char flag[96];
static struct pool_conn *conn[NCONN];
static struct pool *ph[NCONN][NPOOL + 1];

static struct model m, prev;
static bool pending;		/* a request was in flight at the crash */
static bool dead;		/* the daemon is gone */
static struct hold holds[MAXH];
static unsigned nholds;
static pool_off_t *f_offs;
static size_t f_n, f_cap;
static uint64_t rng, seed;
static uint32_t next_tag = 1;
static unsigned round_no, crashes, kills, as_before, as_after;
static unsigned recreated, found_gone, again, restarts;
static char trace[TRACE][96];
static bool churned;		/* this round made f's records */
static bool no_cache;		/* the handles' caches off, in this run */
static unsigned ntrace;

/* ---- randomness, the trace ---------------------------------------------- */

static uint64_t
rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)(rnd64() % n);
}

static void __attribute__((format(printf, 1, 2)))
note(const char *fmt, ...)
{
	va_list ap;
	char *t = trace[ntrace++ % TRACE];

	va_start(ap, fmt);
	vsnprintf(t, sizeof(trace[0]), fmt, ap);
	va_end(ap);
}

/* The seed and the last operations, then the failure. */
static void __attribute__((format(printf, 1, 2), noreturn))
failed(const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	unsigned i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "seed %" PRIu64 ", round %u; the last operations:\n",
		seed, round_no);
	i = ntrace > TRACE ? ntrace - TRACE : 0;
	for (; i < ntrace; i++)
		fprintf(stderr, "  %s\n", trace[i % TRACE]);
	for (i = 0; i < nholds; i++)
		fprintf(stderr, "held by %d: %s %#" PRIx64 "\n", holds[i].conn,
			pool_name[holds[i].pool], holds[i].off);
	harness_store_print_log(&st);
	fail_msg("seed %" PRIu64 ", round %u: %s", seed, round_no, msg);
	abort();	/* fail_msg does not return */
}

/* ---- bytes -------------------------------------------------------------- */

/* Byte i of tag's pattern: each word of it depends on all of the tag. */
static unsigned char
pattern(uint32_t tag, size_t i)
{
	uint32_t h = (tag ^ (uint32_t)(i / 4) * 0x9e3779b1u) * 0x85ebca6bu;

	h ^= h >> 13;
	return (unsigned char)(h >> (i % 4 * 8));
}

static void
fill(int pool, pool_off_t off, uint32_t tag, uint32_t len)
{
	unsigned char *b = pool_ptr(ph[0][pool], off);
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = pattern(tag, i);
}

/* The first byte of the block at off that is not its tag's, or -1. */
static long
wrong_byte(int pool, pool_off_t off, uint32_t tag, uint32_t len)
{
	const unsigned char *b = pool_ptr(ph[0][pool], off);
	size_t i;

	if (!b)
		return 0;
	for (i = 0; i < len; i++)
		if (b[i] != pattern(tag, i))
			return (long)i;
	return -1;
}

static uint32_t
random_len(int pool)
{
	return pool == 0 ? 64 + rnd(8192) : 1024 + rnd(48 << 10);
}

/* ---- the model ---------------------------------------------------------- */

static int
block_at(const struct mpool *mp, pool_off_t off)
{
	unsigned i;

	for (i = 0; i < mp->nb; i++)
		if (mp->b[i].off == off)
			return (int)i;
	return -1;
}

static int
name_at(const struct mpool *mp, pool_off_t off)
{
	unsigned i;

	for (i = 0; i < mp->nn; i++)
		if (mp->n[i].off == off)
			return (int)i;
	return -1;
}

static int
name_called(const struct mpool *mp, const char *name)
{
	unsigned i;

	for (i = 0; i < mp->nn; i++)
		if (strcmp(mp->n[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
add_block(struct mpool *mp, pool_off_t off, uint32_t tag, uint32_t len)
{
	if (block_at(mp, off) >= 0)
		failed("block %#" PRIx64 " made persistent twice", off);
	assert_true(mp->nb < MAXB);
	mp->b[mp->nb++] = (struct mblock){off, tag, len, 0, 0};
}

static void
drop_block(struct mpool *mp, pool_off_t off)
{
	int i = block_at(mp, off);

	assert_true(i >= 0);
	mp->b[i] = mp->b[--mp->nb];
}

static void
add_name(struct mpool *mp, const char *name, pool_off_t off, bool evictable)
{
	struct mname *n;

	assert_true(mp->nn < MAXN);
	n = &mp->n[mp->nn++];
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->off = off;
	n->evictable = evictable;
	n->gen = 0;
}

static void
drop_name(struct mpool *mp, unsigned i)
{
	mp->n[i] = mp->n[--mp->nn];
}

/* A name of pool's not in use, in buf; false if all are. */
static bool
free_name(const struct mpool *mp, char *buf, size_t len)
{
	unsigned k, start = rnd(MAXN);

	for (k = 0; k < MAXN; k++) {
		snprintf(buf, len, "n%u", (start + k) % MAXN);
		if (name_called(mp, buf) < 0)
			return true;
	}
	return false;
}

static int
hold_of(int c, int pool, pool_off_t off)
{
	unsigned i;

	for (i = 0; i < nholds; i++)
		if (holds[i].conn == c && holds[i].pool == pool &&
		    holds[i].off == off)
			return (int)i;
	return -1;
}

/*
 * Was the block at off held before this round?  A block of this round
 * may be at the offset of a name its allocation evicted.
 */
static bool
held_before(int pool, pool_off_t off)
{
	unsigned i;

	for (i = 0; i < nholds; i++)
		if (holds[i].pool == pool && holds[i].off == off &&
		    holds[i].since != round_no)
			return true;
	return false;
}

static void
add_hold(int c, int pool, pool_off_t off, uint32_t tag, uint32_t len)
{
	assert_true(nholds < MAXH);
	holds[nholds++] = (struct hold){c, pool, off, tag, len, round_no};
}

static void
drop_hold(unsigned i)
{
	holds[i] = holds[--nholds];
}

/* The bytes a block of the model takes, as far as the model knows. */
static uint64_t
extent(const struct mblock *b)
{
	if (b->usable)
		return b->usable;
	return b->requested > b->len ? b->requested : b->len;
}

/*
 * A new block at off: a block of the model it overlaps must be an
 * evictable name's that nothing held, which its allocation evicted.
 */
static void
evicted_for(int pool, pool_off_t off, uint32_t len)
{
	struct mpool *mp = &m.p[pool];
	unsigned i;
	int n;

	for (i = mp->nb; i-- > 0;) {
		if (mp->b[i].off >= off + len ||
		    off >= mp->b[i].off + extent(&mp->b[i]))
			continue;
		n = name_at(mp, mp->b[i].off);
		if (n < 0 || !mp->n[n].evictable ||
		    held_before(pool, mp->b[i].off))
			failed("new block %#" PRIx64 " of pool %s over "
			       "persistent block %#" PRIx64 "%s%s", off,
			       pool_name[pool], mp->b[i].off,
			       n < 0 ? "" : ", named ", n < 0 ? "" :
			       mp->n[n].name);
		note("  %s evicted", mp->n[n].name);
		drop_name(mp, (unsigned)n);
		drop_block(mp, mp->b[i].off);
	}
}

/* A persistent block of mp with no name (and not held by c, if c >= 0). */
static int
pick_unnamed(const struct mpool *mp, int pool, int c)
{
	unsigned k, i, start;

	if (!mp->nb)
		return -1;
	start = rnd(mp->nb);
	for (k = 0; k < mp->nb; k++) {
		i = (start + k) % mp->nb;
		if (name_at(mp, mp->b[i].off) < 0 &&
		    (c < 0 || hold_of(c, pool, mp->b[i].off) < 0))
			return (int)i;
	}
	return -1;
}

/*
 * Name i of mp listed with generation gen: the one it had, or, after a
 * publish, a higher one than any listed in the pool before.
 */
static bool
gen_agrees(struct mpool *mp, unsigned i, uint64_t gen)
{
	if (mp->n[i].gen)
		return gen == mp->n[i].gen;
	if (gen <= mp->max_gen)
		return false;
	mp->n[i].gen = mp->max_gen = gen;
	return true;
}

/* ---- requests ----------------------------------------------------------- */

/* Before a request: what the model is if it does not happen. */
static void
begin(void)
{
	prev = m;
}

/*
 * rc of a request: true if the daemon is gone (then the model holds the
 * state after the request, prev the state before).  A lost connection
 * reaches the client as the kernel closes the daemon's sockets, a moment
 * before the daemon is a zombie to wait for.
 */
static bool
died(int rc)
{
	siginfo_t si;
	uint64_t end;

	if (rc != -ECONNRESET)
		return false;
	end = harness_now_ms() + 10000;
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)st.pid, &si,
			   WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			break;
		if (harness_now_ms() > end)
			failed("a connection lost with the daemon running");
		harness_sleep_ms(1);
	}
	if (si.si_code != CLD_KILLED || si.si_status != SIGKILL)
		failed("the daemon ended, not killed (code %d, status %d)",
		       si.si_code, si.si_status);
	dead = pending = true;
	return true;
}

/*
 * The outcome of a request other than death: 0 if it succeeded, 1 if it
 * was refused with one of the codes a random run may meet (then the model
 * is put back), else the test fails.
 */
static int
outcome(int rc, const char *what, int ok1, int ok2)
{
	if (rc == 0)
		return 0;
	if (rc == ok1 || rc == ok2) {
		m = prev;
		note("  refused: %s", pool_strerror(rc));
		return 1;
	}
	failed("%s: %s (%s)", what, pool_strerror(rc), pool_last_message(rc));
}

/* ---- operations --------------------------------------------------------- */

static void
op_alloc_persist(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	uint32_t len = random_len(pool);
	pool_off_t off;
	int rc;

	if (mp->nb >= MAXB)
		return;
	note("alloc persist %d %s %u", c, pool_name[pool], len);
	begin();
	rc = pool_alloc_wait(ph[c][pool], len, 0, POOL_ALLOC_PERSIST, 0, &off);
	if (died(rc)) {
		mp->unknown = 1;
		return;
	}
	if (outcome(rc, "alloc persist", -ENOMEM, -ENOMEM))
		return;
	evicted_for(pool, off, len);
	fill(pool, off, next_tag, len);
	add_block(mp, off, next_tag++, len);
	note("  at %#" PRIx64, off);
}

static void
op_batch_persist(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	size_t sizes[5], n = 2 + rnd(4), i;
	pool_off_t offs[5];
	int rc;

	if (mp->nb + n > MAXB)
		return;
	for (i = 0; i < n; i++)
		sizes[i] = random_len(pool) / 2;
	note("batch persist %d %s %zu", c, pool_name[pool], n);
	begin();
	rc = pool_alloc_batch_flags(ph[c][pool], n, sizes, POOL_ALLOC_PERSIST,
				    offs);
	if (died(rc)) {
		mp->unknown = (unsigned)n;
		return;
	}
	if (outcome(rc, "alloc batch persist", -ENOMEM, -ENOMEM))
		return;
	for (i = 0; i < n; i++) {
		evicted_for(pool, offs[i], (uint32_t)sizes[i]);
		fill(pool, offs[i], next_tag, (uint32_t)sizes[i]);
		add_block(mp, offs[i], next_tag++, (uint32_t)sizes[i]);
	}
}

/* A new block that handle c holds, with its bytes: its hold, or -1. */
static int
new_held(int c, int pool, uint32_t len)
{
	pool_off_t off;
	int rc;

	if (nholds >= MAXH)
		return -1;
	begin();
	rc = pool_alloc(ph[c][pool], len, &off);
	if (died(rc) || outcome(rc, "alloc", -ENOMEM, -ENOMEM))
		return -1;
	evicted_for(pool, off, len);
	fill(pool, off, next_tag, len);
	add_hold(c, pool, off, next_tag++, len);
	note("  new %#" PRIx64 " held by %d", off, c);
	return (int)nholds - 1;
}

static void
op_alloc_hold(int c, int pool)
{
	uint32_t len = random_len(pool) * (1 + rnd(3));

	note("alloc %d %s %u", c, pool_name[pool], len);
	new_held(c, pool, len);
}

static void
op_persist_held(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	unsigned i;
	int rc;

	for (i = 0; i < nholds; i++)
		if (holds[i].conn == c && holds[i].pool == pool &&
		    block_at(mp, holds[i].off) < 0)
			break;
	if (i == nholds || mp->nb >= MAXB)
		return;
	note("persist %d %s %#" PRIx64, c, pool_name[pool], holds[i].off);
	begin();
	add_block(mp, holds[i].off, holds[i].tag, holds[i].len);
	rc = pool_persist(ph[c][pool], holds[i].off);
	if (!died(rc))
		outcome(rc, "persist", 0, 0);
}

/* Handle c lets go of hold i: a Free, which changes no persistence. */
static void
release(unsigned i)
{
	struct hold h = holds[i];
	int rc;

	note("release %d %s %#" PRIx64, h.conn, pool_name[h.pool], h.off);
	begin();
	drop_hold(i);
	rc = pool_free(ph[h.conn][h.pool], h.off);
	if (!died(rc))
		outcome(rc, "free of a hold", 0, 0);
}

/* Maybe let go of what handle c holds of off, once it is named. */
static void
maybe_release(int c, int pool, pool_off_t off)
{
	int i;

	if (!dead && rnd(2) && (i = hold_of(c, pool, off)) >= 0)
		release((unsigned)i);
}

static void
op_publish(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	char name[8];
	pool_off_t off = POOL_OFF_NONE;
	uint32_t tag = 0, len = 0;
	bool evictable = rnd(3) == 0;
	unsigned i;
	int b, rc;

	if (mp->nn >= MAXN || mp->nb >= MAXB || !free_name(mp, name,
							   sizeof(name)))
		return;
	if (rnd(3)) {		/* a block c holds, with no name */
		for (i = 0; i < nholds; i++)
			if (holds[i].conn == c && holds[i].pool == pool &&
			    name_at(mp, holds[i].off) < 0)
				break;
		if (i < nholds) {
			off = holds[i].off;
			tag = holds[i].tag;
			len = holds[i].len;
		}
	}
	if (off == POOL_OFF_NONE && (b = pick_unnamed(mp, pool, -1)) >= 0)
		off = mp->b[b].off;
	if (off == POOL_OFF_NONE)
		return;
	note("publish %d %s %s on %#" PRIx64 "%s", c, pool_name[pool], name,
	     off, evictable ? " evictable" : "");
	begin();
	if (block_at(mp, off) < 0)
		add_block(mp, off, tag, len);
	add_name(mp, name, off, evictable);
	rc = pool_publish_flags(ph[c][pool], off, name,
				evictable ? POOL_PUBLISH_EVICTABLE : 0);
	if (died(rc) || outcome(rc, "publish", 0, 0))
		return;
	maybe_release(c, pool, off);
}

static void
op_replace(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	bool evictable = rnd(3) == 0;
	pool_off_t off, old;
	uint32_t tag = 0, len = 0;
	int n, b, h, rc;

	if (!mp->nn || mp->nb >= MAXB)
		return;
	note("replace %d %s%s", c, pool_name[pool],
	     evictable ? " evictable" : "");
	if (rnd(4) == 0 && (b = pick_unnamed(mp, pool, -1)) >= 0) {
		off = mp->b[b].off;
	} else {
		if ((h = new_held(c, pool, random_len(pool))) < 0)
			return;
		off = holds[h].off;
		tag = holds[h].tag;
		len = holds[h].len;
	}
	/* The name, once the allocation has evicted what it did. */
	if (!mp->nn)
		return;
	n = (int)rnd(mp->nn);
	old = mp->n[n].off;
	note("  %s from %#" PRIx64 " to %#" PRIx64, mp->n[n].name, old, off);
	/* The name moves; its old block's persistence was the name's. */
	begin();
	drop_block(mp, old);
	if (block_at(mp, off) < 0)
		add_block(mp, off, tag, len);
	mp->n[n].off = off;
	mp->n[n].evictable = evictable;
	mp->n[n].gen = 0;
	rc = pool_publish_flags(ph[c][pool], off, mp->n[n].name,
				POOL_PUBLISH_REPLACE |
				(evictable ? POOL_PUBLISH_EVICTABLE : 0));
	if (died(rc) || outcome(rc, "replace", 0, 0))
		return;
	maybe_release(c, pool, off);
}

static void
op_reflag(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	struct mname *n;
	int rc;

	if (!mp->nn)
		return;
	n = &mp->n[rnd(mp->nn)];
	note("reflag %d %s %s to %s", c, pool_name[pool], n->name,
	     n->evictable ? "kept" : "evictable");
	begin();
	n->evictable = !n->evictable;
	n->gen = 0;
	rc = pool_publish_flags(ph[c][pool], n->off, n->name,
				POOL_PUBLISH_REPLACE |
				(n->evictable ? POOL_PUBLISH_EVICTABLE : 0));
	if (!died(rc))
		outcome(rc, "publish in place", 0, 0);
}

static void
op_unpublish(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	char name[8];
	unsigned n;
	int rc;

	if (!mp->nn)
		return;
	n = rnd(mp->nn);
	snprintf(name, sizeof(name), "%s", mp->n[n].name);
	note("unpublish %d %s %s", c, pool_name[pool], name);
	begin();
	drop_block(mp, mp->n[n].off);
	drop_name(mp, n);
	rc = pool_unpublish(ph[c][pool], name);
	if (!died(rc))
		outcome(rc, "unpublish", 0, 0);
}

/* Free by a handle that holds none: the end of its persistence. */
static void
op_free_persistent(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	pool_off_t off;
	int b, rc;

	if ((b = pick_unnamed(mp, pool, c)) < 0)
		return;
	off = mp->b[b].off;
	note("free persistent %d %s %#" PRIx64, c, pool_name[pool], off);
	begin();
	drop_block(mp, off);
	rc = pool_free(ph[c][pool], off);
	if (!died(rc))
		outcome(rc, "free of a persistent block", 0, 0);
}

static void
op_free_batch(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	pool_off_t offs[4];
	unsigned n = 0, want = 2 + rnd(3), i;
	int rc;

	for (i = 0; i < mp->nb && n < want; i++)
		if (name_at(mp, mp->b[i].off) < 0 &&
		    hold_of(c, pool, mp->b[i].off) < 0)
			offs[n++] = mp->b[i].off;
	if (n < 2)
		return;
	note("free batch %d %s %u from %#" PRIx64, c, pool_name[pool], n,
	     offs[0]);
	begin();
	for (i = 0; i < n; i++)
		drop_block(mp, offs[i]);
	rc = pool_free_batch(ph[c][pool], n, offs);
	if (!died(rc))
		outcome(rc, "free batch", 0, 0);
}

/*
 * FreePersisted: of a block persistent for an hour at least, refused
 * (-ESTALE, nothing changed); of any age, its end.
 */
static void
op_free_persisted(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	uint64_t age = rnd(4) ? 0 : 3600 * 1000;
	pool_off_t off;
	int b, rc;

	if ((b = pick_unnamed(mp, pool, -1)) < 0)
		return;
	off = mp->b[b].off;
	note("free persisted %d %s %#" PRIx64 " of age %" PRIu64 " ms", c,
	     pool_name[pool], off, age);
	begin();
	drop_block(mp, off);
	rc = pool_free_persisted(ph[c][pool], off, age);
	if (died(rc))
		return;
	if (age && rc != -ESTALE)
		failed("free persisted of a block persistent for less than "
		       "%" PRIu64 " ms: %s", age, pool_strerror(rc));
	outcome(rc, "free persisted", -ESTALE, -ESTALE);
}

/*
 * A persistent block grown in place (Realloc by a holder: retained first
 * if need be); -EBUSY when the run after it is taken.
 */
static void
op_grow(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	struct mblock *b;
	pool_off_t off, out = POOL_OFF_NONE;
	uint64_t size;
	int i, rc;

	if (!mp->nb)
		return;
	i = (int)rnd(mp->nb);
	off = mp->b[i].off;
	size = mp->b[i].requested + 1 + rnd((unsigned)mp->b[i].requested);
	note("grow %d %s %#" PRIx64 " to %" PRIu64, c, pool_name[pool], off,
	     size);
	if (hold_of(c, pool, off) < 0) {
		if (nholds >= MAXH)
			return;
		begin();
		rc = pool_retain(ph[c][pool], off);
		if (died(rc) || outcome(rc, "retain", 0, 0))
			return;
		add_hold(c, pool, off, mp->b[i].tag, mp->b[i].len);
	}
	begin();
	b = &mp->b[block_at(mp, off)];
	b->requested = size;
	b->usable = 0;
	rc = pool_realloc(ph[c][pool], off, size, &out);
	if (died(rc) || outcome(rc, "grow", -EBUSY, -ENOMEM))
		return;
	if (out != off)
		failed("a persistent block moved from %#" PRIx64 " to %#"
		       PRIx64, off, out);
	maybe_release(c, pool, off);
}

static void
op_retain(int c, int pool)
{
	struct mpool *mp = &m.p[pool];
	pool_off_t off;
	int n, b, rc;

	if (!mp->nn || nholds >= MAXH)
		return;
	n = (int)rnd(mp->nn);
	note("retain %d %s %s", c, pool_name[pool], mp->n[n].name);
	begin();
	rc = pool_lookup_retain(ph[c][pool], mp->n[n].name, &off, NULL);
	if (died(rc) || outcome(rc, "lookup retain", 0, 0))
		return;
	if (off != mp->n[n].off)
		failed("%s is on %#" PRIx64 ", not %#" PRIx64, mp->n[n].name,
		       off, mp->n[n].off);
	/* A handle holds a block once: a retain by its holder is none. */
	b = block_at(mp, off);
	if (hold_of(c, pool, off) < 0)
		add_hold(c, pool, off, mp->b[b].tag, mp->b[b].len);
}

static void
op_release(void)
{
	if (nholds)
		release(rnd(nholds));
}

/* A SetPool of e: its limit (lowering it evicts), its mode, its user quota. */
static void
op_set(int c)
{
	static const uint32_t modes[] = {0600, 0640, 0660};
	struct pool_set_opts o = {.which = POOL_SET_LIMIT};
	struct mpool *mp = &m.p[1];
	int rc;

	o.limit = limits[rnd(NLIMITS)];
	if (rnd(2)) {
		o.which |= POOL_SET_MODE;
		o.mode = modes[rnd(3)];
	}
	if (rnd(3) == 0) {
		o.which |= POOL_SET_USER_QUOTA;
		o.user_quota = rnd(2) ? 16 << 20 : 0;
	}
	note("set %d e limit %" PRIu64 "%s %o, user quota %s %" PRIu64, c,
	     o.limit, o.which & POOL_SET_MODE ? ", mode" : ", mode kept",
	     o.mode, o.which & POOL_SET_USER_QUOTA ? "" : "kept",
	     o.user_quota);
	begin();
	mp->limit = o.limit;
	if (o.which & POOL_SET_MODE)
		mp->mode = o.mode;
	if (o.which & POOL_SET_USER_QUOTA)
		mp->user_quota = o.user_quota;
	rc = pool_set(conn[c], "e", &o);
	if (!died(rc))
		outcome(rc, "set", 0, 0);
}

static int open_pool(int c, int i);

/*
 * Pool e made (again) on connection c, of a random size and limit, and
 * opened on every connection.
 */
static void
create_e(int c)
{
	struct pool_create_opts o = {.max_size = (1 + rnd(2)) << 20};
	struct pool_set_opts lim = {.which = POOL_SET_LIMIT};
	int k, rc;

	lim.limit = limits[rnd(NLIMITS)];
	note("create %d e of %" PRIu64 " bytes, limit %" PRIu64, c,
	     o.max_size, lim.limit);
	begin();
	m.p[1] = (struct mpool){.limit = lim.limit, .mode = 0600,
				.size = o.max_size};
	rc = pool_create_set(conn[c], "e", &o, &lim);
	if (died(rc) || outcome(rc, "create", 0, 0))
		return;
	for (k = 0; k < NCONN; k++) {
		begin();
		rc = open_pool(k, 1);
		if (died(rc) || outcome(rc, "open", 0, 0))
			return;
	}
}

/*
 * Pool e destroyed with its blocks and names (its handles closed first),
 * and made again: a crash between recovers no e.
 */
static void
op_recreate(int c)
{
	unsigned i;
	int k, rc;

	note("destroy %d e", c);
	for (k = 0; k < NCONN; k++) {
		pool_close(ph[k][1]);
		ph[k][1] = NULL;
	}
	for (i = nholds; i-- > 0;)
		if (holds[i].pool == 1)
			drop_hold(i);
	begin();
	m.p[1] = (struct mpool){.gone = true};
	rc = pool_destroy_force(conn[c], "e");
	if (died(rc) || outcome(rc, "destroy", 0, 0))
		return;
	recreated++;
	create_e(c);
}

/*
 * A restart in place (SIGUSR2): the connections and what they hold go
 * on, and the new image starts a journal of its own, which the next
 * crash recovers from.
 */
static void
op_restart(void)
{
	note("restart in place");
	restarts++;
	harness_store_drain(&st);
	if (kill(st.pid, SIGUSR2) != 0 ||
	    harness_store_wait(&st, "READY=1", HARNESS_RESTART_WAIT_MS) != 0)
		failed("no restart in place");
}

/* ---- pool f: the journal's filler --------------------------------------- */

/* Room in f_offs for n offsets more. */
static void
room_in_f(size_t n)
{
	pool_off_t *more;

	if (f_n + n <= f_cap)
		return;
	assert_non_null(more = realloc(f_offs, (f_n + n) * 2 *
				       sizeof(*f_offs)));
	f_offs = more;
	f_cap = (f_n + n) * 2;
}

/* n persistent blocks more in f, remembered in f_offs. */
static void
persist_in_f(size_t n)
{
	static size_t sizes[POOL_BATCH_MAX];
	size_t k, i;
	int rc;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	for (; n && !dead; n -= k) {
		k = n < POOL_BATCH_MAX ? n : POOL_BATCH_MAX;
		room_in_f(k);
		harness_store_drain(&st);
		begin();
		m.in_f += k;
		rc = pool_alloc_batch_flags(ph[0][POOL_F], k, sizes,
					    POOL_ALLOC_PERSIST, f_offs + f_n);
		if (died(rc) || outcome(rc, "persist in f", 0, 0))
			return;
		f_n += k;
	}
}

/* End every persistent block of f, a batch at a time. */
static void
clear_f(void)
{
	size_t k;
	int rc;

	while (f_n && !dead) {
		k = f_n < POOL_BATCH_MAX ? f_n : POOL_BATCH_MAX;
		harness_store_drain(&st);
		begin();
		m.in_f -= k;
		rc = pool_free_batch(ph[0][POOL_F], k, f_offs + f_n - k);
		if (died(rc) || outcome(rc, "free batch in f", 0, 0))
			return;
		f_n -= k;
	}
}

/* Records enough to bring the journal on towards its compaction. */
static void
op_churn(void)
{
	note("churn f (%zu blocks)", f_n);
	persist_in_f(CHURN);
	clear_f();
	churned = true;
}

/* Bytes the journal the store holds has left before it grows. */
static uint64_t
journal_room(void)
{
	int64_t room = harness_store_journal_room(&st);

	assert_true(room >= 0);
	return (uint64_t)room;
}

/*
 * The journal's room brought to a random few hundred bytes, and
 * fail_grow.so armed: the record that grows it next kills the daemon,
 * in whatever request or compaction step writes it.
 */
static void
arm(void)
{
	uint64_t room, want = rnd(400);
	int fd;

	/* f's blocks of the arms before first: f and the snapshots small. */
	if (f_n > CHURN)
		clear_f();
	if (dead)
		return;
	room = journal_room();
	if (room > want)
		persist_in_f((size_t)((room - want) / REC_PERSIST));
	if (dead)
		return;
	note("armed, %" PRIu64 " bytes of room", journal_room());
	fd = open(flag, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
}

/* ---- the daemon --------------------------------------------------------- */

static void
start(void)
{
	char *saved = harness_preload("fail_grow.so");

	setenv("POOLMGR_KILL_ON_GROW", flag, 1);
	if (harness_store_start(&st) != 0)
		failed("poolmgrd did not start");
	unsetenv("POOLMGR_KILL_ON_GROW");
	harness_preload_off(saved);
}

/*
 * Handle c on pool i, its cache off in a run without; e may be gone
 * (destroyed by a request a crash may have let through): NULL.  Else
 * the request's outcome.
 */
static int
open_pool(int c, int i)
{
	int rc;

	ph[c][i] = NULL;
	rc = pool_open(conn[c], pool_name[i], &ph[c][i]);
	if (rc == -ENOENT && i == 1)
		return 0;
	if (rc == 0 && no_cache)
		rc = pool_set_cache(ph[c][i], 0);
	return rc;
}

static void
open_all(void)
{
	int c, i;

	for (c = 0; c < NCONN; c++) {
		EXPECT_RC(pool_connect(st.sock, &conn[c]), 0);
		for (i = 0; i <= NPOOL; i++)
			EXPECT_RC(open_pool(c, i), 0);
	}
}

static void
close_all(void)
{
	int c, i;

	for (c = 0; c < NCONN; c++) {
		for (i = 0; i <= NPOOL; i++) {
			pool_close(ph[c][i]);
			ph[c][i] = NULL;
		}
		pool_disconnect(conn[c]);
	}
}

/* ---- the check after a recovery ----------------------------------------- */

struct seen {
	bool missing;		/* no such pool */
	uint64_t pers_blocks, pers_bytes;	/* pool_persisted's sums */
	struct pool_named *names;
	size_t nnames;
	struct pool_block_info *blocks;
	size_t nblocks;
	struct pool_stats s;
};

static void
look(int pool, struct seen *d)
{
	struct pool_block_info *b, *more;
	struct pool_persisted *pp;
	size_t i;
	size_t n, total;
	uint64_t from = 0;
	int done = 0;

	int rc;

	d->blocks = NULL;
	d->nblocks = 0;
	d->names = NULL;
	d->nnames = 0;
	rc = pool_names(conn[0], pool_name[pool], NULL, &d->names, &d->nnames,
			&total);
	if ((d->missing = rc == -ENOENT && pool == 1))
		return;
	EXPECT_RC(rc, 0);
	assert_int_equal(d->nnames, total);
	while (!done) {
		EXPECT_RC(pool_blocks(conn[0], pool_name[pool], 0, 0, &from,
				      &b, &n, &done), 0);
		assert_non_null(more = realloc(d->blocks,
					       (d->nblocks + n + 1) *
					       sizeof(*b)));
		d->blocks = more;
		memcpy(d->blocks + d->nblocks, b, n * sizeof(*b));
		d->nblocks += n;
		free(b);
	}
	EXPECT_RC(pool_stats_by_name(conn[0], pool_name[pool], &d->s), 0);
	EXPECT_RC(pool_persisted(conn[0], pool_name[pool], &pp, &n, &total),
		  0);
	assert_int_equal(n, total);
	d->pers_blocks = d->pers_bytes = 0;
	for (i = 0; i < n; i++) {
		d->pers_blocks += pp[i].blocks;
		d->pers_bytes += pp[i].bytes;
	}
	free(pp);
}

/*
 * The sizes of block b as listed (i): its requested size the model's,
 * its usable size the one the model last learnt, or learnt now.
 */
static bool
sizes_agree(int pool, struct mblock *b, const struct pool_block_info *i,
	    char *why, size_t len)
{
	if ((!b->requested || i->requested == b->requested) &&
	    i->usable_size >= i->requested && i->requested >= b->len &&
	    (!b->usable || i->usable_size == b->usable)) {
		b->requested = i->requested;
		b->usable = i->usable_size;
		return true;
	}
	snprintf(why, len, "pool %s: block %#" PRIx64 " of %" PRIu64 " bytes "
		 "(%" PRIu64 " usable), the model %" PRIu64 " (%" PRIu64 ")",
		 pool_name[pool], b->off, i->requested, i->usable_size,
		 b->requested, b->usable);
	return false;
}

/*
 * Does what the daemon shows of pool (d) agree with mp?  If so, mp is
 * made what it shows (evicted names dropped, the request's blocks that
 * were made unseen taken in as extra) and true is returned; else why in
 * why.  may_evict: an evictable name of mp may be gone.
 */
static bool
agrees(int pool, struct mpool *mp, const struct seen *d, bool may_evict,
       pool_off_t *extra, unsigned *nextra, char *why, size_t len)
{
	struct mpool out = *mp;
	uint64_t usable = 0, requested = 0;
	unsigned i, k;
	uint32_t f;
	size_t j;
	long bad;
	int n;

	*nextra = 0;
	if (mp->gone || d->missing) {
		snprintf(why, len, "pool %s is %s, the model's %s",
			 pool_name[pool], d->missing ? "gone" : "there",
			 mp->gone ? "gone" : "there");
		return mp->gone == d->missing;
	}
	for (j = 0; j < d->nnames; j++) {
		n = name_called(&out, d->names[j].name);
		if (n < 0 || out.n[n].off != d->names[j].offset ||
		    out.n[n].evictable != (d->names[j].evictable != 0) ||
		    d->names[j].publisher != getuid() ||
		    !gen_agrees(&out, (unsigned)n, d->names[j].generation)) {
			snprintf(why, len, "pool %s: name %s on %#" PRIx64
				 "%s, generation %" PRIu64 ", not as the "
				 "model has it", pool_name[pool],
				 d->names[j].name, d->names[j].offset,
				 d->names[j].evictable ? " evictable" : "",
				 d->names[j].generation);
			return false;
		}
	}
	for (i = out.nn; i-- > 0;) {
		for (j = 0; j < d->nnames; j++)
			if (strcmp(d->names[j].name, out.n[i].name) == 0)
				break;
		if (j < d->nnames)
			continue;
		if (!out.n[i].evictable || !may_evict) {
			snprintf(why, len, "pool %s: name %s (on %#" PRIx64
				 "%s) is gone", pool_name[pool],
				 out.n[i].name, out.n[i].off,
				 out.n[i].evictable ? ", evictable" : "");
			return false;
		}
		drop_block(&out, out.n[i].off);
		drop_name(&out, i);
	}
	for (j = 0; j < d->nblocks; j++) {
		if ((n = block_at(&out, d->blocks[j].offset)) >= 0) {
			if (!sizes_agree(pool, &out.b[n], &d->blocks[j], why,
					 len))
				return false;
			continue;
		}
		if (*nextra >= out.unknown) {
			snprintf(why, len, "pool %s: block %#" PRIx64 " (%s) "
				 "is no persistent block of the model",
				 pool_name[pool], d->blocks[j].offset,
				 d->blocks[j].flags & POOL_BLOCK_NAMED ?
				 "named" : "no name");
			return false;
		}
		extra[(*nextra)++] = d->blocks[j].offset;
	}
	if (*nextra && *nextra != out.unknown) {
		snprintf(why, len, "pool %s: %u of the %u blocks of one "
			 "request made", pool_name[pool], *nextra,
			 out.unknown);
		return false;
	}
	if (d->nblocks != out.nb + *nextra) {
		snprintf(why, len, "pool %s: %zu live blocks, the model %u",
			 pool_name[pool], d->nblocks, out.nb + *nextra);
		return false;
	}
	for (k = 0; k < out.nb; k++)
		if ((bad = wrong_byte(pool, out.b[k].off, out.b[k].tag,
				      out.b[k].len)) >= 0) {
			snprintf(why, len, "pool %s: block %#" PRIx64 " (tag "
				 "%u): byte %ld is not its tag's",
				 pool_name[pool], out.b[k].off, out.b[k].tag,
				 bad);
			return false;
		}
	/* No handle is left after a crash: each block is the pool's. */
	for (j = 0; j < d->nblocks; j++) {
		f = d->blocks[j].flags;
		usable += d->blocks[j].usable_size;
		requested += d->blocks[j].requested;
		if (!(f & POOL_BLOCK_PERSISTENT) || d->blocks[j].holders ||
		    d->blocks[j].persister != getuid() ||
		    !(f & POOL_BLOCK_NAMED) !=
		    (name_at(&out, d->blocks[j].offset) < 0)) {
			snprintf(why, len, "pool %s: block %#" PRIx64 " has "
				 "flags %#x and %u holders", pool_name[pool],
				 d->blocks[j].offset, f,
				 d->blocks[j].holders);
			return false;
		}
	}
	if (d->s.live_blocks != d->nblocks ||
	    d->s.persistent_blocks != d->nblocks ||
	    d->s.named_blocks != d->nnames || d->nnames != out.nn) {
		snprintf(why, len, "pool %s: %" PRIu64 " live, %" PRIu64
			 " persistent, %" PRIu64 " named blocks; listed %zu "
			 "and %zu names, the model %u names", pool_name[pool],
			 d->s.live_blocks, d->s.persistent_blocks,
			 d->s.named_blocks, d->nblocks, d->nnames, out.nn);
		return false;
	}
	if (d->s.allocated_bytes != usable ||
	    d->s.requested_bytes != requested ||
	    d->pers_blocks != d->nblocks || d->pers_bytes != usable) {
		snprintf(why, len, "pool %s: %" PRIu64 " bytes allocated, %"
			 PRIu64 " requested, %" PRIu64 " blocks of %" PRIu64
			 " bytes persisted; the blocks listed are %" PRIu64
			 " bytes, %" PRIu64 " requested", pool_name[pool],
			 d->s.allocated_bytes, d->s.requested_bytes,
			 d->pers_blocks, d->pers_bytes, usable, requested);
		return false;
	}
	if (d->s.limit != out.limit || d->s.user_quota != out.user_quota ||
	    (d->s.mode & 07777) != out.mode ||
	    (out.size && d->s.max_size != out.size)) {
		snprintf(why, len, "pool %s: limit %" PRIu64 ", user quota %"
			 PRIu64 ", mode %o, %" PRIu64 " bytes; the model %"
			 PRIu64 ", %" PRIu64 ", %o, %" PRIu64,
			 pool_name[pool], d->s.limit, d->s.user_quota,
			 d->s.mode, d->s.max_size, out.limit, out.user_quota,
			 out.mode, out.size);
		return false;
	}
	out.unknown = 0;
	*mp = out;
	return true;
}

/* The pools against the model cand: true (cand made what they show). */
static bool
all_agree(struct model *cand, struct seen *d, bool may_evict,
	  pool_off_t extra[NPOOL][8], unsigned nextra[NPOOL], uint64_t in_f,
	  char *why, size_t len)
{
	struct model out = *cand;
	int i;

	if (in_f != out.in_f) {
		snprintf(why, len, "pool f: %" PRIu64 " persistent blocks, "
			 "the model %" PRIu64, in_f, out.in_f);
		return false;
	}
	for (i = 0; i < NPOOL; i++)
		if (!agrees(i, &out.p[i], &d[i], may_evict, extra[i],
			    &nextra[i], why, len))
			return false;
	*cand = out;
	return true;
}

/* f's persistent blocks, listed anew: those of a request in flight too. */
static uint64_t
relist_f(void)
{
	struct pool_block_info *b;
	size_t n, i;
	uint64_t from = 0;
	int done = 0;

	f_n = 0;
	while (!done) {
		EXPECT_RC(pool_blocks(conn[0], "f", 0, 0, &from, &b, &n,
				      &done), 0);
		room_in_f(n);
		for (i = 0; i < n; i++)
			f_offs[f_n++] = b[i].offset;
		free(b);
	}
	return f_n;
}

/*
 * The daemon is gone (killed by us or at a record): start it from what
 * the store holds and hold the pools against the model, the state before
 * the request in flight too if there was one.
 */
static void
recover_and_check(void)
{
	struct seen d[NPOOL];
	pool_off_t extra[NPOOL][8];
	unsigned nextra[NPOOL], recovered, over;
	char why_after[640] = "", why_before[640] = "";
	uint64_t in_f;
	bool may_evict;
	int i;
	unsigned k;

	unlink(flag);
	close_all();
	recovered = harness_store_log_count(&st, " recovered");
	over = harness_store_log_count(&st, "restored over its limit");
	if (harness_store_crash(&st) != 0)
		failed("the daemon could not be killed and waited for");
	start();
	if (rnd(5) == 0) {
		/* Again, from the snapshot that start wrote. */
		note("  crash again");
		again++;
		if (harness_store_crash(&st) != 0)
			failed("the daemon could not be killed again");
		start();
		recovered++;
	}
	if (harness_store_log_count(&st, " recovered") != recovered + 1 ||
	    harness_store_log_count(&st, "journal is refused"))
		failed("no recovery");
	open_all();
	nholds = 0;
	dead = false;
	/* Names evicted by the request in flight or by the recovery. */
	may_evict = pending ||
		harness_store_log_count(&st, "restored over its limit") > over;
	for (i = 0; i < NPOOL; i++)
		look(i, &d[i]);
	in_f = relist_f();
	if (!all_agree(&m, d, may_evict, extra, nextra, in_f, why_after,
		       sizeof(why_after))) {
		if (!pending || !all_agree(&prev, d, may_evict, extra, nextra,
					   in_f, why_before,
					   sizeof(why_before)))
			failed("the pools after a crash are not the model's: "
			       "%s%s%s", why_after, pending ? "; nor as "
			       "before the request in flight: " : "",
			       why_before);
		m = prev;
		as_before++;
		note("  recovered as before the request");
	} else {
		as_after += pending;
		note("  recovered%s", pending ? " as after the request" : "");
	}
	pending = false;
	for (i = 0; i < NPOOL; i++) {
		free(d[i].names);
		free(d[i].blocks);
		if (!m.p[i].gone)
			harness_expect_checked(conn[0], pool_name[i]);
	}
	harness_expect_checked(conn[0], "f");
	/* Blocks made by the request whose reply was lost: ended. */
	for (i = 0; i < NPOOL; i++)
		for (k = 0; k < nextra[i]; k++)
			EXPECT_RC(pool_free(ph[0][i], extra[i][k]), 0);
	if (m.p[1].gone) {
		found_gone++;
		create_e(0);
	}
}

/* After each request: the names each pool lists tell the evictions. */
static void
learn_evictions(void)
{
	struct pool_named *pn;
	size_t n, total, j;
	unsigned i;
	int pool, rc;

	for (pool = 0; pool < NPOOL && !dead; pool++) {
		struct mpool *mp = &m.p[pool];

		begin();
		rc = pool_names(conn[0], pool_name[pool], NULL, &pn, &n,
				&total);
		if (died(rc))
			return;
		outcome(rc, "names", 0, 0);
		for (i = mp->nn; i-- > 0;) {
			for (j = 0; j < n; j++)
				if (strcmp(pn[j].name, mp->n[i].name) == 0)
					break;
			if (j < n) {
				if (pn[j].offset != mp->n[i].off)
					failed("%s moved to %#" PRIx64,
					       mp->n[i].name, pn[j].offset);
				if (!gen_agrees(mp, i, pn[j].generation))
					failed("%s has generation %" PRIu64
					       ", the model %" PRIu64 " (the "
					       "pool's highest %" PRIu64 ")",
					       mp->n[i].name,
					       pn[j].generation, mp->n[i].gen,
					       mp->max_gen);
				continue;
			}
			if (!mp->n[i].evictable ||
			    held_before(pool, mp->n[i].off))
				failed("name %s of pool %s is gone",
				       mp->n[i].name, pool_name[pool]);
			note("  %s evicted", mp->n[i].name);
			drop_block(mp, mp->n[i].off);
			drop_name(mp, i);
		}
		if (n != mp->nn)
			failed("pool %s lists %zu names, the model %u",
			       pool_name[pool], n, mp->nn);
		free(pn);
	}
}

/* The sizes of the model's blocks that it has not asked yet. */
static void
learn_sizes(void)
{
	struct pool_block_info *bi;
	struct mblock *b;
	uint64_t from;
	size_t n;
	unsigned i;
	int pool, done, rc;

	for (pool = 0; pool < NPOOL; pool++)
		for (i = 0; i < m.p[pool].nb && !dead; i++) {
			b = &m.p[pool].b[i];
			if (b->usable)
				continue;
			from = b->off;
			begin();
			rc = pool_blocks(conn[0], pool_name[pool], 0, 0, &from,
					 &bi, &n, &done);
			if (died(rc))
				return;
			outcome(rc, "blocks", 0, 0);
			if (!n || bi[0].offset != b->off)
				failed("pool %s: no block at %#" PRIx64,
				       pool_name[pool], b->off);
			b->requested = bi[0].requested;
			b->usable = bi[0].usable_size;
			free(bi);
		}
}

/* One operation, drawn at random. */
static void
random_op(bool armed)
{
	int c = (int)rnd(NCONN), pool = (int)rnd(NPOOL);
	unsigned r = rnd(100);

	if (r < 12)
		op_alloc_persist(c, pool);
	else if (r < 18)
		op_batch_persist(c, pool);
	else if (r < 28)
		op_alloc_hold(c, pool);
	else if (r < 33)
		op_persist_held(c, pool);
	else if (r < 47)
		op_publish(c, pool);
	else if (r < 57)
		op_replace(c, pool);
	else if (r < 62)
		op_reflag(c, pool);
	else if (r < 68)
		op_unpublish(c, pool);
	else if (r < 73)
		op_free_persistent(c, pool);
	else if (r < 77)
		op_free_batch(c, pool);
	else if (r < 80)
		op_free_persisted(c, pool);
	else if (r < 83)
		op_retain(c, pool);
	else if (r < 86)
		op_grow(c, pool);
	else if (r < 90)
		op_release();
	else if (r < 92)
		op_set(c);
	else if (r < 93)
		op_recreate(c);
	else if (r < 94 && !armed)
		op_restart();
	else
		op_churn();
}

static uint64_t
env_number(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void
random_crashes_against_model(void **state)
{
	unsigned rounds, armed = 0;

	(void)state;
	seed = env_number("POOLMGR_MODEL_SEED",
			  (uint64_t)harness_now_ms() ^ (uint64_t)getpid() << 20);
	rounds = (unsigned)env_number("POOLMGR_MODEL_ROUNDS", ROUNDS);
	printf("seed %" PRIu64 " (POOLMGR_MODEL_SEED replays it), %u "
	       "rounds\n", seed, rounds);
	fflush(stdout);
	rng = seed * 0x9e3779b97f4a7c15ull | 1;

	/* Half the runs with the handles' caches, half without. */
	no_cache = rnd(2);
	m.p[0].mode = 0600;
	start();
	open_all();
	create_e(0);
	if (dead)
		failed("the daemon died making pool e");

	for (round_no = 0; round_no < rounds; round_no++) {
		if (!armed && rnd(40) == 0) {
			note("crash");
			crashes++;
			dead = true;
			pending = false;
		} else if (!armed && (rnd(40) == 0 || (churned && rnd(2)))) {
			/* After a churn: in a compaction, often. */
			arm();
			armed = 1;
		}
		churned = false;
		if (!dead)
			random_op(armed);
		if (!dead)
			learn_evictions();
		if (!dead)
			learn_sizes();
		if (!dead && armed && ++armed > ARMED_MAX) {
			unlink(flag);	/* no record grew it: never mind */
			armed = 0;
		}
		if (dead) {
			kills += armed > 0;
			armed = 0;
			recover_and_check();
		}
		harness_store_drain(&st);
	}
	/* And a last crash, after the last request. */
	pending = false;
	recover_and_check();
	printf("%u rounds, %u crashes between requests, %u kills at a "
	       "record (%u recovered as before the request in flight, %u as "
	       "after it), %u crashes right after a start, %u compactions "
	       "begun, %u done, %u evictions at a recovery; e destroyed %u "
	       "times, found gone %u; %u restarts in place\n", rounds,
	       crashes, kills, as_before, as_after, again,
	       harness_store_log_count(&st, "crash journal: compacting"),
	       harness_store_log_count(&st, "compacted into"),
	       harness_store_log_count(&st, "restored over its limit"),
	       recreated, found_gone, restarts);
	/* The sanitizers' reports of a daemon that goes on, or was killed. */
	if (harness_store_log_count(&st, "Sanitizer") ||
	    harness_store_log_count(&st, "runtime error"))
		failed("the daemon's log has a sanitizer's report");
	close_all();
}

static int
setup(void **state)
{
	(void)state;
	if (harness_store_open(&st, CONFIG) != 0)
		return -1;
	snprintf(flag, sizeof(flag), "%s/kill-on-grow", st.dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(flag);
	harness_store_close(&st);
	free(f_offs);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(random_crashes_against_model,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("crashes at random against a "
					   "model of what they keep", tests,
					   NULL, NULL);
}
