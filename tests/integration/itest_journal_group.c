/*
 * itest_journal_group.c - a request the crash journal writes as several
 * records is recovered whole or not at all (docs/design.md, "The crash
 * journal").  poolmgrd runs under systemd's fd store played by the test,
 * with fail_grow.so: the journal's memfd is the store's, so the test
 * reads how much room it has left, brings that to the bytes of the first
 * records of the change, and the daemon is killed as the next record
 * grows the journal, in the middle of the change.  Started again, it
 * must recover either none of the change (the names, the persistent
 * blocks and the pool's counts as before it; the check clean) or, when
 * the journal had room for all of it and the crash came after, all of it.
 *
 *   replace_crash_midway    a Publish that moves name n from block X to
 *       a new block Y (persist of Y, n off X, n on Y, its generation, X's
 *       end): a crash after each record but the last recovers n on X,
 *       with X's bytes, and Y gone; after all, n on Y and X gone;
 *   reflag_crash_midway     a Publish in place that makes name r
 *       evictable (r off, r on again, its generation): a crash between
 *       them recovers r kept on its block, never no name;
 *   publish_crash_midway    a Publish of a held block (its persist, its
 *       name, the generation): a crash after the persist recovers
 *       nothing of it, not a persistent block with no name;
 *   unpublish_crash_midway  an Unpublish (u off, its block's end): a
 *       crash between them recovers u on its block;
 *   evict_crash_midway      an Alloc over the pool's limit that evicts
 *       name ev (ev off, its block's end): a crash between them recovers
 *       ev, evictable, on its block with its bytes;
 *   window_crash_midway     an Alloc that evicts a window of two names
 *       (each an unname and its block's end): a crash after three of the
 *       four records recovers both names with their bytes; after all
 *       four, neither;
 *   window_past_a_group     an Alloc that evicts a window of 300 names,
 *       256 a change: a crash in the second change recovers the last 44
 *       with their bytes, the first 256 gone, the counts and the check
 *       as they say;
 *   free_batch_crash_midway a FreeBatch of 8 persistent blocks (8 ends):
 *       a crash after 3 recovers all 8, with their bytes; after all 8,
 *       none.
 *   limit_set_before_evictions  a SetPool that lowers a pool's limit
 *       below its two evictable names: the settings' records come first,
 *       then each eviction, so a crash in the middle of the settings
 *       recovers the old limit and both names, and one after them the
 *       new limit, down to which the recovery evicts, never the old
 *       limit with a name gone.
 *   evicted_at_a_start      a start after a crash, under a limit its
 *       file lowered below what the pool holds, killed as its own
 *       journal grows: the start after it recovers name ev from the
 *       journal before, with its bytes (before, the killed start had
 *       evicted ev and punched its pages, not yet in any journal: ev
 *       came back reading zeroes); a start that lives evicts ev once its
 *       journal is in the store, and a crash after it does not bring ev
 *       back.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

/* a: where the changes are made; f: the journal's filler; e: a limit. */
#define CONFIG	"[daemon]\nsocket_mode = 0666\n" \
		"[pool a]\nsize = 4M\n" \
		"[pool f]\nsize = 16M\n" \
		"[pool e]\nsize = 4M\nlimit = 1M\n"

/* Bytes of the journal's records (journal_rec.h): words + head + sum. */
#define REC_PERSIST	64
#define REC_UNPERSIST	32
#define REC_UNNAME	32
#define REC_NAME1	56	/* a name of 1 to 8 bytes */
#define REC_GENERATION	40
#define STOCK		16	/* persistent blocks of f, an end each */

static struct harness_store st;
static char flag[96];
static struct pool_conn *conn;
static struct pool *pa, *pf;
static pool_off_t stock[STOCK];
static unsigned nstock;
static unsigned pads;

/* Started with fail_grow.so, which kills it while the flag exists. */
static void
start(void)
{
	char *saved = harness_preload("fail_grow.so");

	setenv("POOLMGR_KILL_ON_GROW", flag, 1);
	if (harness_store_start(&st) != 0)
		fail_msg("poolmgrd did not start");
	unsetenv("POOLMGR_KILL_ON_GROW");
	harness_preload_off(saved);
}

static void
open_pools(void)
{
	EXPECT_RC(pool_connect(st.sock, &conn), 0);
	EXPECT_RC(pool_open(conn, "a", &pa), 0);
	EXPECT_RC(pool_open(conn, "f", &pf), 0);
	EXPECT_RC(pool_set_cache(pa, 0), 0);
}

static void
close_pools(void)
{
	pool_close(pa);
	pool_close(pf);
	pool_disconnect(conn);
}

static int
setup(void **state)
{
	size_t sizes[STOCK];
	unsigned i;

	(void)state;
	if (harness_store_open(&st, CONFIG) != 0)
		return -1;
	snprintf(flag, sizeof(flag), "%s/kill-on-grow", st.dir);
	start();
	open_pools();
	for (i = 0; i < STOCK; i++)
		sizes[i] = 64;
	EXPECT_RC(pool_alloc_batch_flags(pf, STOCK, sizes, POOL_ALLOC_PERSIST,
					 stock), 0);
	nstock = STOCK;
	pads = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(flag);
	close_pools();
	harness_store_close(&st);
	return 0;
}

/* Bytes the journal the store holds has left before it grows. */
static uint64_t
journal_room(void)
{
	int64_t room = harness_store_journal_room(&st);

	assert_true(room >= 0);
	return (uint64_t)room;
}

/* n persistent blocks more in f: REC_PERSIST bytes of journal each. */
static void
persist_in_f(uint64_t n)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	size_t i, k;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	for (; n; n -= k) {
		k = n < POOL_BATCH_MAX ? n : POOL_BATCH_MAX;
		EXPECT_RC(pool_alloc_batch_flags(pf, k, sizes,
						 POOL_ALLOC_PERSIST, offs), 0);
	}
}

/*
 * A name of w words published in f on a new block: its persist, its name
 * and its generation, 152 + 8 w bytes of journal, for the room's bytes
 * modulo 32.
 */
static void
pad_in_f(unsigned w)
{
	char name[40];
	pool_off_t off;

	snprintf(name, sizeof(name), "pad%05u%.*s", pads++, (int)(8 * w - 8),
		 "................................");
	assert_int_equal(strlen(name), 8 * w);
	EXPECT_RC(pool_alloc(pf, 64, &off), 0);
	EXPECT_RC(pool_publish(pf, off, name), 0);
	EXPECT_RC(pool_free(pf, off), 0);
}

/*
 * The journal's room brought to want bytes exactly, with records of f's
 * (past a grow first if it is short), so that a change's records after
 * the first want bytes' grow it.
 */
static void
room_to(uint64_t want)
{
	uint64_t r = journal_room(), k;
	unsigned d;

	if (r < want + 512) {
		persist_in_f(r / REC_PERSIST + 1);
		r = journal_room();
		assert_true(r >= want + 512);
	}
	if ((d = (unsigned)((r - want) % 32) / 8)) {
		/* 152 + 8 w = 8 d (mod 32): w = d - 3 (mod 4), 1 to 4. */
		pad_in_f((d + 1) % 4 ? (d + 1) % 4 : 4);
		r = journal_room();
	}
	assert_int_equal((r - want) % 32, 0);
	k = (r - want) / 32;
	if (k % 2) {
		assert_true(nstock > 0);
		EXPECT_RC(pool_free(pf, stock[--nstock]), 0);
		k--;
	}
	persist_in_f(k / 2);
	assert_int_equal(journal_room(), want);
}

static void
arm(void)
{
	int fd = open(flag, O_CREAT | O_WRONLY, 0600);

	assert_true(fd >= 0);
	close(fd);
}

/* The daemon died in the middle of a request: started again from the
 * journal, the pools open anew. */
static void
recover_after_kill(void)
{
	unlink(flag);
	close_pools();
	assert_int_equal(harness_store_crash(&st), 0);
	start();
	if (!harness_store_logged(&st, "after a crash")) {
		harness_store_print_log(&st);
		fail_msg("no recovery");
	}
	open_pools();
}

/* Crashed after a request that went through, and recovered. */
static void
recover_after_crash(void)
{
	close_pools();
	assert_int_equal(harness_store_recover(&st), 0);
	open_pools();
}

static pool_off_t
filled(struct pool *p, size_t len, int c)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, len, &off), 0);
	memset(pool_ptr(p, off), c, len);
	return off;
}

static void
expect_bytes(struct pool *p, pool_off_t off, size_t len, int c)
{
	const unsigned char *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			fail_msg("block %#llx: byte %zu is %#x, not %#x",
				 (unsigned long long)off, i, b[i], c);
}

/* name on want, with its bytes, evictable or not. */
static void
expect_named(struct pool *p, const char *name, pool_off_t want, size_t len,
	     int c, bool evictable)
{
	struct pool_named *pn;
	size_t n, total, i;
	pool_off_t off;

	EXPECT_RC(pool_lookup(p, name, &off, NULL), 0);
	assert_int_equal(off, want);
	expect_bytes(p, off, len, c);
	EXPECT_RC(pool_names(conn, p == pa ? "a" : "e", name, &pn, &n,
			     &total), 0);
	for (i = 0; i < n && strcmp(pn[i].name, name); i++)
		;
	assert_true(i < n);
	assert_int_equal(pn[i].evictable, evictable);
	free(pn);
}

/* The counts of p: live, persistent and named blocks, and the check. */
static void
expect_counts(struct pool *p, const char *name, uint64_t live,
	      uint64_t persistent, uint64_t named)
{
	struct pool_stats s;

	EXPECT_RC(pool_stats(p, &s), 0);
	if (s.live_blocks != live || s.persistent_blocks != persistent ||
	    s.named_blocks != named)
		fail_msg("pool %s: %llu live, %llu persistent, %llu named "
			 "blocks; expected %llu, %llu, %llu", name,
			 (unsigned long long)s.live_blocks,
			 (unsigned long long)s.persistent_blocks,
			 (unsigned long long)s.named_blocks,
			 (unsigned long long)live,
			 (unsigned long long)persistent,
			 (unsigned long long)named);
	harness_expect_checked(conn, name);
}

static uint64_t
persistent_in_f(void)
{
	struct pool_stats s;

	EXPECT_RC(pool_stats(pf, &s), 0);
	return s.persistent_blocks;
}

/* ---- replace_crash_midway ---------------------------------------------- */

static void
replace_crash_midway(void **state)
{
	static const uint64_t at[] = {
		REC_PERSIST,
		REC_PERSIST + REC_UNNAME,
		REC_PERSIST + REC_UNNAME + REC_NAME1,
		REC_PERSIST + REC_UNNAME + REC_NAME1 + REC_GENERATION,
	};
	pool_off_t x, y;
	uint64_t in_f;
	unsigned i;

	(void)state;
	x = filled(pa, 1000, 'x');
	EXPECT_RC(pool_publish(pa, x, "n"), 0);
	EXPECT_RC(pool_free(pa, x), 0);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		y = filled(pa, 2000, 'y');
		room_to(at[i]);
		in_f = persistent_in_f();
		arm();
		assert_int_not_equal(pool_publish_replace(pa, y, "n"), 0);
		recover_after_kill();
		/* None of it: n on x, y gone with its holder. */
		expect_named(pa, "n", x, 1000, 'x', false);
		expect_counts(pa, "a", 1, 1, 1);
		assert_int_equal(persistent_in_f(), in_f);
	}
	/* Room for all of it: a crash after recovers all of it. */
	y = filled(pa, 2000, 'y');
	room_to(at[3] + REC_UNPERSIST);
	EXPECT_RC(pool_publish_replace(pa, y, "n"), 0);
	EXPECT_RC(pool_free(pa, y), 0);
	recover_after_crash();
	expect_named(pa, "n", y, 2000, 'y', false);
	expect_counts(pa, "a", 1, 1, 1);
	EXPECT_RC(pool_unpublish(pa, "n"), 0);
	expect_counts(pa, "a", 0, 0, 0);
}

/* ---- reflag_crash_midway ----------------------------------------------- */

static void
reflag_crash_midway(void **state)
{
	static const uint64_t at[] = {
		REC_UNNAME,
		REC_UNNAME + REC_NAME1,
	};
	pool_off_t x;
	unsigned i;

	(void)state;
	x = filled(pa, 1000, 'r');
	EXPECT_RC(pool_publish(pa, x, "r"), 0);
	EXPECT_RC(pool_free(pa, x), 0);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		room_to(at[i]);
		arm();
		assert_int_not_equal(pool_publish_flags(pa, x, "r",
			POOL_PUBLISH_REPLACE | POOL_PUBLISH_EVICTABLE), 0);
		recover_after_kill();
		expect_named(pa, "r", x, 1000, 'r', false);
		expect_counts(pa, "a", 1, 1, 1);
	}
	room_to(at[1] + REC_GENERATION);
	EXPECT_RC(pool_publish_flags(pa, x, "r", POOL_PUBLISH_REPLACE |
				     POOL_PUBLISH_EVICTABLE), 0);
	recover_after_crash();
	expect_named(pa, "r", x, 1000, 'r', true);
	expect_counts(pa, "a", 1, 1, 1);
	EXPECT_RC(pool_unpublish(pa, "r"), 0);
}

/* ---- publish_crash_midway ---------------------------------------------- */

static void
publish_crash_midway(void **state)
{
	static const uint64_t at[] = {
		REC_PERSIST,
		REC_PERSIST + REC_NAME1,
	};
	pool_off_t x, off;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		x = filled(pa, 1000, 'p');
		room_to(at[i]);
		arm();
		assert_int_not_equal(pool_publish(pa, x, "p"), 0);
		recover_after_kill();
		EXPECT_RC(pool_lookup(pa, "p", &off, NULL), -ENOENT);
		expect_counts(pa, "a", 0, 0, 0);
	}
	x = filled(pa, 1000, 'p');
	room_to(at[1] + REC_GENERATION);
	EXPECT_RC(pool_publish(pa, x, "p"), 0);
	EXPECT_RC(pool_free(pa, x), 0);
	recover_after_crash();
	expect_named(pa, "p", x, 1000, 'p', false);
	expect_counts(pa, "a", 1, 1, 1);
	EXPECT_RC(pool_unpublish(pa, "p"), 0);
}

/* ---- unpublish_crash_midway -------------------------------------------- */

static void
unpublish_crash_midway(void **state)
{
	pool_off_t x, off;

	(void)state;
	x = filled(pa, 1000, 'u');
	EXPECT_RC(pool_publish(pa, x, "u"), 0);
	EXPECT_RC(pool_free(pa, x), 0);
	room_to(REC_UNNAME);
	arm();
	assert_int_not_equal(pool_unpublish(pa, "u"), 0);
	recover_after_kill();
	expect_named(pa, "u", x, 1000, 'u', false);
	expect_counts(pa, "a", 1, 1, 1);

	room_to(REC_UNNAME + REC_UNPERSIST);
	EXPECT_RC(pool_unpublish(pa, "u"), 0);
	recover_after_crash();
	EXPECT_RC(pool_lookup(pa, "u", &off, NULL), -ENOENT);
	expect_counts(pa, "a", 0, 0, 0);
}

/* ---- evict_crash_midway ------------------------------------------------ */

static void
evict_crash_midway(void **state)
{
	struct pool *pe;
	pool_off_t x, y, off;

	(void)state;
	EXPECT_RC(pool_open(conn, "e", &pe), 0);
	EXPECT_RC(pool_set_cache(pe, 0), 0);
	x = filled(pe, 600 * 1024, 'v');
	EXPECT_RC(pool_publish_flags(pe, x, "ev", POOL_PUBLISH_EVICTABLE), 0);
	EXPECT_RC(pool_free(pe, x), 0);
	room_to(REC_UNNAME);
	arm();
	/* Past the limit of 1 MiB with ev's 600 KiB: ev goes for room. */
	assert_int_not_equal(pool_alloc(pe, 600 * 1024, &y), 0);
	pool_close(pe);
	recover_after_kill();
	EXPECT_RC(pool_open(conn, "e", &pe), 0);
	expect_named(pe, "ev", x, 600 * 1024, 'v', true);
	expect_counts(pe, "e", 1, 1, 1);

	room_to(REC_UNNAME + REC_UNPERSIST);
	EXPECT_RC(pool_alloc(pe, 600 * 1024, &y), 0);
	EXPECT_RC(pool_lookup(pe, "ev", &off, NULL), -ENOENT);
	pool_close(pe);
	recover_after_crash();
	EXPECT_RC(pool_open(conn, "e", &pe), 0);
	EXPECT_RC(pool_lookup(pe, "ev", &off, NULL), -ENOENT);
	expect_counts(pe, "e", 0, 0, 0);
	pool_close(pe);
}

/* ---- window_crash_midway ----------------------------------------------- */

#define WBLK	(512 * 1024)

/*
 * Pool a full: w1 and w2 evictable side by side at its start, six kept
 * names after them.  An allocation of 1 MiB evicts the window w1, w2
 * (each an unname and its block's end): a crash after three of the four
 * records recovers both names with their bytes, not w1 gone and w2 kept;
 * after all four, neither.
 */
static void
window_crash_midway(void **state)
{
	pool_off_t o[8], y, off;
	char name[8];
	int i;

	(void)state;
	for (i = 0; i < 8; i++)
		o[i] = filled(pa, WBLK, '0' + i);
	for (i = 1; i < 8; i++)
		assert_true(o[i] > o[i - 1]);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), i < 2 ? "w%d" : "k%d", i + 1);
		EXPECT_RC(pool_publish_flags(pa, o[i], name, i < 2 ?
					     POOL_PUBLISH_EVICTABLE : 0), 0);
		EXPECT_RC(pool_free(pa, o[i]), 0);
	}
	room_to(2 * REC_UNNAME + REC_UNPERSIST);
	arm();
	assert_int_not_equal(pool_alloc(pa, 2 * WBLK, &y), 0);
	recover_after_kill();
	expect_named(pa, "w1", o[0], WBLK, '0', true);
	expect_named(pa, "w2", o[1], WBLK, '1', true);
	expect_counts(pa, "a", 8, 8, 8);

	room_to(2 * (REC_UNNAME + REC_UNPERSIST));
	EXPECT_RC(pool_alloc(pa, 2 * WBLK, &y), 0);
	assert_int_equal(y, o[0]);
	EXPECT_RC(pool_free(pa, y), 0);
	recover_after_crash();
	EXPECT_RC(pool_lookup(pa, "w1", &off, NULL), -ENOENT);
	EXPECT_RC(pool_lookup(pa, "w2", &off, NULL), -ENOENT);
	expect_counts(pa, "a", 6, 6, 6);
}

/* ---- window_past_a_group ----------------------------------------------- */

#define GROUP		256	/* names a change of evictions holds, at most */
#define NWIN		300
#define SBLK		4096

/*
 * Pool a: NWIN evictable names of a page side by side at its start, the
 * rest of it kept.  An allocation of all their bytes evicts the window,
 * by offset: its first GROUP names are a change, committed and freed
 * before the rest begins.  A crash in the second change recovers the
 * names after the first GROUP with their bytes, the pool's counts and
 * check as they say; the first GROUP stay gone.
 */
static void
window_past_a_group(void **state)
{
	static pool_off_t o[NWIN];
	pool_off_t k, y, off;
	char name[16];
	int i;

	(void)state;
	for (i = 0; i < NWIN; i++) {
		o[i] = filled(pa, SBLK, 'a' + i % 26);
		assert_true(i == 0 || o[i] == o[i - 1] + SBLK);
		snprintf(name, sizeof(name), "n%03d", i);
		EXPECT_RC(pool_publish_flags(pa, o[i], name,
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(pa, o[i]), 0);
	}
	k = filled(pa, 4 * 1024 * 1024 - NWIN * SBLK, 'k');
	EXPECT_RC(pool_publish(pa, k, "k"), 0);
	EXPECT_RC(pool_free(pa, k), 0);
	room_to(GROUP * (REC_UNNAME + REC_UNPERSIST) + REC_UNNAME);
	arm();
	assert_int_not_equal(pool_alloc(pa, NWIN * SBLK, &y), 0);
	recover_after_kill();
	for (i = 0; i < NWIN; i++) {
		snprintf(name, sizeof(name), "n%03d", i);
		if (i < GROUP)
			EXPECT_RC(pool_lookup(pa, name, &off, NULL), -ENOENT);
		else
			expect_named(pa, name, o[i], SBLK, 'a' + i % 26,
				     true);
	}
	expect_counts(pa, "a", NWIN - GROUP + 1, NWIN - GROUP + 1,
		      NWIN - GROUP + 1);
}

/* ---- free_batch_crash_midway ------------------------------------------- */

static void
free_batch_crash_midway(void **state)
{
	size_t sizes[8];
	pool_off_t offs[8];
	unsigned i;

	(void)state;
	for (i = 0; i < 8; i++)
		sizes[i] = 512;
	EXPECT_RC(pool_alloc_batch_flags(pa, 8, sizes, POOL_ALLOC_PERSIST,
					 offs), 0);
	for (i = 0; i < 8; i++)
		memset(pool_ptr(pa, offs[i]), 'a' + i, 512);
	room_to(3 * REC_UNPERSIST);
	arm();
	assert_int_not_equal(pool_free_batch(pa, 8, offs), 0);
	recover_after_kill();
	/* All 8 still persistent, with their bytes. */
	expect_counts(pa, "a", 8, 8, 0);
	for (i = 0; i < 8; i++)
		expect_bytes(pa, offs[i], 512, 'a' + i);

	room_to(8 * REC_UNPERSIST);
	EXPECT_RC(pool_free_batch(pa, 8, offs), 0);
	recover_after_crash();
	expect_counts(pa, "a", 0, 0, 0);
}

/* ---- limit_set_before_evictions --------------------------------------- */

#define REC_SET		64
#define REC_BOUNDS	32	/* a limit and no user quota */

static void
expect_limit_and_names(struct pool *p, uint64_t limit, const pool_off_t *x)
{
	struct pool_stats s;
	pool_off_t off;

	EXPECT_RC(pool_lookup(p, "ev1", &off, NULL), 0);
	assert_int_equal(off, x[0]);
	expect_bytes(p, off, 300 * 1024, '1');
	EXPECT_RC(pool_lookup(p, "ev2", &off, NULL), 0);
	assert_int_equal(off, x[1]);
	expect_bytes(p, off, 300 * 1024, '2');
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.limit, limit);
	assert_int_equal(s.named_blocks, 2);
	harness_expect_checked(conn, "s");
}

static void
limit_set_before_evictions(void **state)
{
	struct pool_create_opts o = {.max_size = 4 * 1024 * 1024};
	struct pool_set_opts lim = {.which = POOL_SET_LIMIT,
				    .limit = 1024 * 1024};
	struct pool_stats s;
	struct pool *ps;
	pool_off_t x[2], off;

	(void)state;
	EXPECT_RC(pool_create_set(conn, "s", &o, &lim), 0);
	EXPECT_RC(pool_open(conn, "s", &ps), 0);
	EXPECT_RC(pool_set_cache(ps, 0), 0);
	x[0] = filled(ps, 300 * 1024, '1');
	EXPECT_RC(pool_publish_flags(ps, x[0], "ev1", POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(ps, x[0]), 0);
	x[1] = filled(ps, 300 * 1024, '2');
	EXPECT_RC(pool_publish_flags(ps, x[1], "ev2", POOL_PUBLISH_EVICTABLE),
		  0);
	EXPECT_RC(pool_free(ps, x[1]), 0);

	/* Killed in the middle of the settings: none of the change. */
	lim.limit = 256 * 1024;
	room_to(REC_SET);
	arm();
	assert_int_not_equal(pool_set(conn, "s", &lim), 0);
	pool_close(ps);
	recover_after_kill();
	EXPECT_RC(pool_open(conn, "s", &ps), 0);
	expect_limit_and_names(ps, 1024 * 1024, x);

	/*
	 * Killed at the first eviction: the new limit, which the recovery
	 * then evicts down to as the SetPool would have.
	 */
	room_to(REC_SET + REC_BOUNDS);
	arm();
	assert_int_not_equal(pool_set(conn, "s", &lim), 0);
	pool_close(ps);
	recover_after_kill();
	EXPECT_RC(pool_open(conn, "s", &ps), 0);
	EXPECT_RC(pool_stats(ps, &s), 0);
	/* Logged before the first request is served. */
	if (!harness_store_logged(&st, "pool s restored over its limit of "
				  "262144: evicted 2 names of 614400 bytes")) {
		harness_store_print_log(&st);
		fail_msg("the recovery did not evict to the new limit");
	}
	assert_int_equal(s.limit, 256 * 1024);
	EXPECT_RC(pool_lookup(ps, "ev1", &off, NULL), -ENOENT);
	EXPECT_RC(pool_lookup(ps, "ev2", &off, NULL), -ENOENT);
	expect_counts(ps, "s", 0, 0, 0);
	pool_close(ps);
	EXPECT_RC(pool_destroy(conn, "s"), 0);
}

/* ---- evicted_at_a_start ------------------------------------------------- */

/*
 * Pool v alone: its first block, at offset 0, is ev, and blocks of 64
 * bytes fill the rest of it, so that a start punches no free page of it
 * (fail_grow.so kills at a punch past offset 0 as at a grow) and its
 * journal's snapshot is past what a new journal holds before it grows.
 */
#define CONFIG_V	"[daemon]\nsocket_mode = 0666\n" \
			"[pool v]\nsize = 2M\n"
#define CONFIG_V_LIMIT	CONFIG_V "limit = 1M\n"
#define EV_SIZE		(256 * 1024)	/* large: its pages go at its free */

static void
write_config(const char *text)
{
	FILE *f = fopen(st.conf, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
setup_v(void **state)
{
	(void)state;
	if (harness_store_open(&st, CONFIG_V) != 0)
		return -1;
	snprintf(flag, sizeof(flag), "%s/kill-on-grow", st.dir);
	start();
	EXPECT_RC(pool_connect(st.sock, &conn), 0);
	return 0;
}

static int
teardown_v(void **state)
{
	(void)state;
	unlink(flag);
	pool_disconnect(conn);
	harness_store_close(&st);
	return 0;
}

/* Started again after a crash, v reopened: ev's offset, or -ENOENT. */
static int
ev_after_start(struct pool **pv, pool_off_t *off)
{
	pool_disconnect(conn);
	EXPECT_RC(pool_connect(st.sock, &conn), 0);
	EXPECT_RC(pool_open(conn, "v", pv), 0);
	return pool_lookup(*pv, "ev", off, NULL);
}

static void
evicted_at_a_start(void **state)
{
	static size_t sizes[POOL_BATCH_MAX];
	static pool_off_t offs[POOL_BATCH_MAX];
	struct pool *pv;
	pool_off_t ev, off;
	size_t i, k;
	int rc;

	(void)state;
	EXPECT_RC(pool_open(conn, "v", &pv), 0);
	EXPECT_RC(pool_set_cache(pv, 0), 0);
	EXPECT_RC(pool_alloc(pv, EV_SIZE, &ev), 0);
	assert_int_equal(ev, 0);
	memset(pool_ptr(pv, ev), 'e', EV_SIZE);
	EXPECT_RC(pool_publish_flags(pv, ev, "ev", POOL_PUBLISH_EVICTABLE), 0);
	/* Held while the rest fills: no allocation evicts it for room. */
	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	for (k = POOL_BATCH_MAX; k > 0;) {
		if (pool_alloc_batch_flags(pv, k, sizes, POOL_ALLOC_PERSIST,
					   offs) != 0)
			k /= 2;
		harness_store_drain(&st);
	}
	EXPECT_RC(pool_free(pv, ev), 0);
	pool_close(pv);

	/* Its file's limit lowered; the start killed as its journal grows. */
	write_config(CONFIG_V_LIMIT);
	assert_int_equal(harness_store_crash(&st), 0);
	arm();
	{
		char *saved = harness_preload("fail_grow.so");

		setenv("POOLMGR_KILL_ON_GROW", flag, 1);
		rc = harness_store_start(&st);
		unsetenv("POOLMGR_KILL_ON_GROW");
		harness_preload_off(saved);
	}
	assert_int_not_equal(rc, 0);
	unlink(flag);

	/* Started from the journal before it, the file's limit gone: ev. */
	write_config(CONFIG_V);
	start();
	EXPECT_RC(ev_after_start(&pv, &off), 0);
	assert_int_equal(off, ev);
	expect_bytes(pv, off, EV_SIZE, 'e');
	harness_expect_checked(conn, "v");
	pool_close(pv);

	/*
	 * A start that lives evicts it, once its journal is in the store
	 * (after its ready: the lookup's answer comes after), and that
	 * journal says so.
	 */
	write_config(CONFIG_V_LIMIT);
	assert_int_equal(harness_store_crash(&st), 0);
	start();
	EXPECT_RC(ev_after_start(&pv, &off), -ENOENT);
	pool_close(pv);
	if (!harness_store_logged(&st, "pool v restored over its limit of "
				  "1048576: evicted 1 name of 262144 bytes"))
		fail_msg("no eviction logged by the start");
	write_config(CONFIG_V);
	assert_int_equal(harness_store_crash(&st), 0);
	start();
	EXPECT_RC(ev_after_start(&pv, &off), -ENOENT);
	harness_expect_checked(conn, "v");
	pool_close(pv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(replace_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reflag_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(publish_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unpublish_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(evict_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(window_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(window_past_a_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(free_batch_crash_midway, setup,
						teardown),
		cmocka_unit_test_setup_teardown(limit_set_before_evictions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(evicted_at_a_start, setup_v,
						teardown_v),
	};

	return cmocka_run_group_tests_name("a change of several journal "
					   "records, whole or none after a "
					   "crash", tests, NULL, NULL);
}
