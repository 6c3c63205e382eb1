/*
 * itest_alloc_wait_parts.c - an allocation that waits in parts
 * (pool_alloc_wait with POOL_ALLOC_PART; docs/protocol.md, "Waiting for
 * room"), and the place the daemon keeps between them: taken back by the
 * next part, let go of when the connection gets its block otherwise (a
 * batch, a Realloc, its own cache), and what a cache hit beside a part
 * asks of the daemon.  The pools made full, the waiters and the daemon
 * stopped are alloc_wait_util.h's.
 *
 *   parts_keep_their_place  a wait asked in parts (POOL_ALLOC_PART, as
 *       the Python binding asks its quarter seconds) begins, another
 *       waits after it, and its first part runs out: its next part takes
 *       the place the first had, and the next free is its, the other's
 *       the free after (before, each part went to the back, behind the
 *       other: a producer asking in parts lost every frame to one that
 *       asked once).  A next part that asks for another size takes no
 *       kept place: a wait that never fits cannot hold a place for a
 *       request that does.
 *   kept_place_after_room  as parts_keep_their_place, the daemon stopped
 *       once the first part ran out: a free and then the next part are
 *       read in one turn.  The room came between the parts: it goes to
 *       the other, waiting, and the next part waits in its kept place for
 *       the next free (before, it took its place back ahead of the room's
 *       turn, and the room).
 *   kept_place_let_go_by_a_batch  a raw connection's wait part runs out,
 *       its place kept, another waiter (of two blocks) after it; the
 *       connection then gets a block by an AllocBatch, and asks a new
 *       wait of the same size: two blocks side by side freed go to the
 *       other, which came first (before, the batch left the place kept,
 *       and the new wait took it back, ahead of the other, and split its
 *       run).
 *   kept_place_let_go_by_a_realloc  so too when the block comes by a
 *       Realloc of no block, and by a Realloc that moves a small block of
 *       the connection's (before, either left the place kept).
 *   kept_place_let_go_by_the_cache  as kept_place_let_go_by_a_batch, the
 *       connection a caching handle's: its first part runs out, its place
 *       kept, another waiter (of two blocks side by side) after it; a
 *       block of its own freed into its cache then serves its next part,
 *       which the daemon never sees, and its new wait of the same size
 *       comes after the other: two blocks side by side freed go to the
 *       other (before, the place stayed kept for its second, the new wait
 *       took it back, ahead of the other, and split its run).
 *   cache_hit_beside_a_part  a caching handle's first part runs out, its
 *       place kept; its next part waits in a thread of its own, and a
 *       block freed into its cache meanwhile serves another allocation of
 *       the handle at once, while that part still waits (before, the hit
 *       said WaitOver for the first part, which stood behind the waiting
 *       part until room came for it).
 *   refill_after_a_part  a caching handle's parts run out, its place
 *       kept; room for one block made, its next part is served by a
 *       refill, which let the place go: the part costs the refill alone
 *       (before, a WaitOver followed it, a round trip for a place the
 *       daemon no longer kept).
 *   wait_over_keeps_the_words  a caching handle's part runs out in this
 *       thread, its place kept; a block freed into its cache then serves
 *       its next wait, and the library tells the daemon the kept place is
 *       over (a WaitOver, the one request the hit makes): the thread's
 *       pool_last_message(-ETIMEDOUT) still has the part's words, as after
 *       any hit, which asks nothing (before, the WaitOver's answer
 *       replaced them with its own, none).
 *   wait_over_by_its_thread  a caching handle's part runs out in a thread
 *       of its own, its place kept; a block freed into the cache serves
 *       another thread's wait, which says no WaitOver (before, it let go
 *       of the place, and the part's thread, when it asked again, went
 *       behind those that came after it); the part's own thread's next
 *       hit says it (a WaitOver, its one request).
 *   wait_over_not_by_a_later_thread  the part's thread ends; a thread
 *       started after it (glibc gives it the ended one's stack, and its
 *       thread-local bytes at the same addresses) hits the cache and says
 *       no WaitOver: it is not the thread whose part ran out.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_wait_util.h"

/* ---- parts_keep_their_place ------------------------------------------- */

#define FIRST_PART_MS	500	/* meant to run out, the other waiting */

/*
 * A waiter that asks in parts, as a binding does: a first part of
 * w->size for timeout_ms, which must run out, then at once (gated: at a
 * first byte) another (of w->size_then) for the rest of a long wait; it
 * reports what came of that.
 */
static int
parted(void *arg)
{
	struct want *w = arg;
	pool_off_t off = POOL_OFF_NONE;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	uint64_t start;
	char go;
	int rc;

	if ((rc = want_open(w, 0, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART,
				 w->timeout_ms, &off), -ETIMEDOUT, 7);
	CHECK(!w->gated || harness_read_full(w->stop, &go, 1) == 0, 8);
	start = harness_now_ms();
	rc = pool_alloc_wait(p, w->size_then, 0, POOL_ALLOC_PART,
			     LONG_WAIT_MS, &off);
	g = got_of(rc, off, start);
	return report_and_hold(w, &g, c, p);
}

/*
 * In f's pool, a waiter in parts (its first of first bytes, its next of
 * BLOCK), then another of BLOCK waiting once, after its first part began
 * and before it ran out; once the next part waits, a block is freed.
 * Whether the parted waiter got it (the other is then still waiting);
 * both are let go of.
 */
static bool
parted_first(struct full *f, size_t first)
{
	struct want wp = {.pool = f->name, .size = first,
			  .size_then = BLOCK, .timeout_ms = FIRST_PART_MS};
	struct want wq = WANTS_BLOCK(f->name);
	struct pollfd pf[2];
	struct waiter kp, kq, *second;
	bool first_served;
	pool_off_t x;

	waiting_fn(&kp, &wp, parted);
	waiting(&kq, &wq);
	wait_logged(kp.pid, 1);	/* its next part asks */
	x = full_free(f, 0);
	/* The one served is the first answered: the other still waits. */
	pf[0].fd = kp.from;
	pf[1].fd = kq.from;
	some_answered(pf, 2, f->name, "the two waiters");
	first_served = pf[0].revents & POLLIN;
	(void)served_within(first_served ? &kp : &kq, x);
	second = first_served ? &kq : &kp;
	unanswered(second, "the other waiter");
	(void)served_within(second, full_free(f, 1));
	harness_expect_checked(conn, f->name);
	waiter_end(&kp);
	waiter_end(&kq);
	return first_served;
}

static void
parts_keep_their_place(void **state)
{
	static struct full f;

	(void)state;
	full_of_blocks(&f, "parts");
	if (!parted_first(&f, BLOCK))
		fail_msg("the part that followed one run out went behind the "
			 "allocation that came after it");
	/* Full again (the waiters' blocks went with them). */
	EXPECT_RC(pool_alloc(f.p, BLOCK, &f.off[0]), 0);
	EXPECT_RC(pool_alloc(f.p, BLOCK, &f.off[1]), 0);
	/* A first part that never fits keeps no place for one that does. */
	if (parted_first(&f, 2 * BLOCK))
		fail_msg("a part of another size took the place of the one "
			 "before it");
	harness_expect_checked(conn, "parts");
	full_end(&f, true);
}

/* ---- kept_place_after_room ------------------------------------------- */

/*
 * A waiter in parts came first, another waits once after it, and its
 * first part runs out: its place is kept.  The daemon stopped, a free is
 * sent and then its next part, and the daemon let go reads both in one
 * turn.  The room came while the parted waiter was between its parts: it
 * is the other's, who was waiting (its next part takes its place back,
 * and waits in it, behind those that had room to try).  Before, the part
 * took its place back ahead of the room's turn and was tried first.
 */
static void
kept_place_after_room(void **state)
{
	static struct full f;
	struct want wp = {.pool = "between", .size = BLOCK,
			  .size_then = BLOCK, .timeout_ms = FIRST_PART_MS,
			  .gated = true};
	struct want wq = WANTS_BLOCK("between");
	struct waiter kp, kq;
	struct got g;
	char what[96];
	int again;

	(void)state;
	full_of_blocks(&f, "between");
	waiting_fn(&kp, &wp, parted);
	waiting(&kq, &wq);
	waits_words(what, sizeof(what), kp.pid, " again");
	again = harness_log_count(&d, what);
	/* Its first part runs out (its place kept) as it comes to its gate. */
	if (room_to_the_first(&f, 0, &kq, &kp, &g))
		fail_msg("the part that followed was answered before the "
			 "waiter the room was made for: %d (%s)", g.rc,
			 g.message);
	/* Its next part took its kept place back (within the second). */
	if (harness_log_wait(&d, what, again, LOG_WAIT_MS) != 0)
		fail_msg("the next part did not take its kept place back");
	unanswered(&kp, "the next part");
	harness_expect_checked(conn, "between");
	(void)served_within(&kp, full_free(&f, 1));
	waiter_end(&kp);
	waiter_end(&kq);
	full_end(&f, true);
}

/* ---- kept_place_let_go_by_a_batch ------------------------------------ */

#define KEPT_PART_MS	500	/* meant to run out, another waiting after */

/* The Alloc of raw client fd's handle h for size bytes, waiting wait_ms. */
static uint64_t
raw_alloc_wait_post(int fd, uint32_t h, uint64_t size, uint32_t wait_ms,
		    bool part)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;

	m.handle = h;
	m.size = size;
	m.wait_ms = wait_ms;
	m.wait_part = part;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	return req.id;
}

/* The error the reply to request id of raw client fd says. */
static int
raw_answer(int fd, uint64_t id)
{
	Poolmgr__Reply *r = harness_raw_reply(fd, id, LONG_WAIT_MS);
	int rc;

	if (!r)
		fail_msg("request %llu was not answered",
			 (unsigned long long)id);
	rc = r->error;
	poolmgr__reply__free_unpacked(r, NULL);
	return rc;
}

/* How a raw connection gets a block of its own between two waits. */
enum got_by { BY_BATCH, BY_REALLOC_NONE, BY_REALLOC_MOVED };

/* Raw client fd's block of BLOCK bytes through h, got by how. */
static void
raw_got_block(int fd, uint32_t h, enum got_by how, uint64_t small)
{
	uint64_t one = BLOCK, got = POOL_OFF_NONE;

	switch (how) {
	case BY_BATCH:
		EXPECT_RAW(harness_raw_alloc_batch(fd, h, &one, 1, &got), 0);
		break;
	case BY_REALLOC_NONE:
		EXPECT_RAW(harness_raw_realloc(fd, h, &got, BLOCK, false), 0);
		break;
	case BY_REALLOC_MOVED:
		got = small;
		EXPECT_RAW(harness_raw_realloc(fd, h, &got, BLOCK, false), 0);
		assert_true(got != small);
		break;
	}
}

/*
 * A raw connection's wait part for a block runs out, another waiter (of
 * two blocks side by side) having come after it began: its place is
 * kept.  Then the connection gets a block (room only it fits) by how:
 * an AllocBatch, a Realloc of no block, or a Realloc that moves a small
 * block of its own, made before the pool was full.  Within the second it
 * asks a new wait of the same size: a new allocation, which comes after
 * the other.  Two blocks side by side freed, the other is tried first
 * and gets them; the new wait waits on.  Before, the block got left the
 * place kept, the new wait took it back, ahead of the other, and split
 * the run the other needed (by a batch, and by either Realloc).
 */
static void
kept_place_let_go(const char *name, enum got_by how)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = MiB};
	struct want w = {.pool = name, .size = 2 * BLOCK,
			 .timeout_ms = LONG_WAIT_MS};
	struct pollfd pf[2];
	struct waiter k;
	uint64_t small, id;
	pool_off_t two[2];
	size_t i, pair[2];
	uint32_t h;
	int fd, before;

	EXPECT_RC(pool_create(conn, name, &o), 0);
	fd = harness_raw_client(d.sock, "parts");
	h = harness_raw_handle(fd, name);
	EXPECT_RAW(harness_raw_alloc(fd, h, RAW_SMALL, &small, NULL), 0);
	full_make(&f, name, 0, BLOCK);
	/* Not next to the small block, which may move. */
	i = adjacent_pair(&f, 1);
	assert_true(i + 2 < f.n);
	before = waits_logged(getpid());
	id = raw_alloc_wait_post(fd, h, BLOCK, KEPT_PART_MS, true);
	wait_logged(getpid(), before);
	waiting(&k, &w);
	assert_int_equal(raw_answer(fd, id), -ETIMEDOUT);
	/*
	 * Room for one block alone, which the other cannot use: the raw's.
	 * Not right after the small block, which would grow in place.
	 */
	(void)full_free(&f, i + 2);
	raw_got_block(fd, h, how, small);
	id = raw_alloc_wait_post(fd, h, BLOCK, LONG_WAIT_MS, false);
	wait_logged(getpid(), before + 1);
	pair[0] = i;
	pair[1] = i + 1;
	full_free_batch(&f, pair, 2, two);
	/* The first answered is the one tried first: the other waits on. */
	pf[0].fd = k.from;
	pf[1].fd = fd;
	some_answered(pf, 2, name, "the waiter and the new wait");
	if (pf[1].revents & POLLIN)
		fail_msg("pool %s: the new wait was tried before the waiter "
			 "that came before it: %d", name, raw_answer(fd, id));
	(void)served_at(&k, two[0]);
	harness_expect_checked(conn, name);
	close(fd);	/* its wait and its blocks go with it */
	waiter_end(&k);
	full_end(&f, true);
}

static void
kept_place_let_go_by_a_batch(void **state)
{
	(void)state;
	kept_place_let_go("letgo", BY_BATCH);
}

static void
kept_place_let_go_by_a_realloc(void **state)
{
	(void)state;
	kept_place_let_go("letgo2", BY_REALLOC_NONE);
	kept_place_let_go("letgo3", BY_REALLOC_MOVED);
}

/* ---- kept_place_let_go_by_the_cache ----------------------------------- */

#define CACHE_PARTS_POOL	(2 * MiB)	/* its cache keeps a BLOCK */

/*
 * In a child: a caching handle makes a block of w->size (a refill of that
 * block alone: the pool is too small for more) and, once the pool is full
 * (a first byte), asks a part of w->timeout_ms, which runs out, and
 * reports it.  At a second byte it frees its block into its cache, asks
 * its next part, which the cache serves with that block, then a new wait
 * of the same size, and reports what came of that.
 */
static int
cached_parts(void *arg)
{
	struct want *w = arg;
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;
	struct got g;
	char go;

	close(w->parent_ends[0]);
	close(w->parent_ends[1]);
	memset(&g, 0, sizeof(g));
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, w->pool, &p), 0, 3);
	CHECK_RC(pool_set_cache(p, 4 * MiB), 0, 4);
	CHECK_RC(pool_alloc(p, w->size, &mine), 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	g.rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			       &off);
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 7);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 8);
	CHECK_RC(pool_free(p, mine), 0, 9);
	CHECK_RC(pool_stats(p, &st), 0, 10);
	CHECK(st.client_cached_bytes >= w->size, 11);
	CHECK_RC(pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, LONG_WAIT_MS,
				 &off), 0, 12);
	CHECK(off == mine, 13);
	g.rc = pool_alloc_wait(p, w->size, 0, 0, LONG_WAIT_MS, &off);
	g.off = off;
	if (g.rc != 0)
		snprintf(g.message, sizeof(g.message), "%s",
			 pool_last_message(g.rc));
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 14);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 15);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
kept_place_let_go_by_the_cache(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	struct want wp = {.pool = "letgocache", .size = BLOCK,
			  .timeout_ms = KEPT_PART_MS};
	struct want wq = {.pool = "letgocache", .size = 2 * BLOCK,
			  .timeout_ms = LONG_WAIT_MS};
	struct pollfd pf[2] = {{.events = POLLIN}, {.events = POLLIN}};
	struct waiter kp, kq;
	pool_off_t two[2];
	struct got g;
	size_t i;

	(void)state;
	EXPECT_RC(pool_create(conn, "letgocache", &o), 0);
	waiter_start_fn(&kp, &wp, cached_parts);
	cached_waiter_live("letgocache");
	full_make(&f, "letgocache", 0, BLOCK);
	i = adjacent_pair(&f, 0);
	assert_int_equal(harness_write_full(kp.stop, "g", 1), 0);
	wait_logged(kp.pid, 0);
	waiting(&kq, &wq);
	g = waiter_got(&kp);
	if (g.rc != -ETIMEDOUT)
		fail_msg("the first part: %d (%s)", g.rc, pool_strerror(g.rc));
	/* Its next part from its cache, then a new wait: within the second. */
	assert_int_equal(harness_write_full(kp.stop, "g", 1), 0);
	wait_logged(kp.pid, 1);
	two[0] = f.off[i];
	two[1] = f.off[i + 1];
	EXPECT_RC(pool_free_batch(f.p, 2, two), 0);
	f.off[i] = f.off[i + 1] = POOL_OFF_NONE;
	/* The first answered is the one tried first: the other waits on. */
	pf[0].fd = kq.from;
	pf[1].fd = kp.from;
	if (poll(pf, 2, LOG_WAIT_MS) < 1)
		fail_msg("neither allocation was answered");
	if (pf[1].revents & POLLIN) {
		g = waiter_got(&kp);
		fail_msg("the new wait was tried before the waiter that came "
			 "before it: %d, at 0x%llx", g.rc,
			 (unsigned long long)g.off);
	}
	g = served(&kq);
	assert_int_equal(g.off, two[0]);
	unanswered(&kp, "the new wait");
	harness_expect_checked(conn, "letgocache");
	(void)full_free(&f, i + 2 < f.n ? i + 2 : 0);
	(void)served(&kp);
	waiter_end(&kp);
	waiter_end(&kq);
	full_end(&f, true);
}

/* ---- cache_hit_beside_a_part ------------------------------------------ */

/* The other thread's part of cached_beside_a_part: it waits for room. */
struct part_beside {
	struct pool *p;
	size_t size;
	struct got g;
};

static void *
part_beside(void *arg)
{
	struct part_beside *pb = arg;
	pool_off_t off = POOL_OFF_NONE;
	uint64_t start = harness_now_ms();
	int rc;

	rc = pool_alloc_wait(pb->p, pb->size, 0, POOL_ALLOC_PART,
			     LONG_WAIT_MS, &off);
	pb->g = got_of(rc, off, start);
	return NULL;
}

/*
 * In a child: as cached_parts, its first part of w->timeout_ms runs out
 * at a first byte, and is reported; then its next part waits in a thread
 * of its own.  At a second byte (the daemon has that part waiting) it
 * frees its block into its cache and asks a wait of the same size, which
 * the cache serves, and reports it; then what the part got once room came.
 */
static int
cached_beside_a_part(void *arg)
{
	struct want *w = arg;
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	struct part_beside pb;
	struct pool_conn *c;
	struct pool *p;
	pthread_t t;
	struct got g;
	char go;
	int rc;

	if ((rc = want_open(w, 4 * MiB, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc(p, w->size, &mine), 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			     &off);
	g = got_of(rc, off, harness_now_ms());
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 7);
	pb.p = p;
	pb.size = w->size;
	CHECK(pthread_create(&t, NULL, part_beside, &pb) == 0, 8);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 9);
	CHECK_RC(pool_free(p, mine), 0, 10);
	rc = pool_alloc_wait(p, w->size, 0, 0, LONG_WAIT_MS, &off);
	g = got_of(rc, off, harness_now_ms());
	CHECK(g.rc != 0 || g.off == mine, 11);
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 12);
	CHECK(pthread_join(t, NULL) == 0, 13);
	return report_and_hold(w, &pb.g, c, p);
}

static void
cache_hit_beside_a_part(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	struct want w = {.pool = "hitbeside", .size = BLOCK,
			 .timeout_ms = KEPT_PART_MS};
	struct pollfd pf = {.events = POLLIN};
	struct waiter k;
	struct got g;

	(void)state;
	EXPECT_RC(pool_create(conn, "hitbeside", &o), 0);
	waiter_start_fn(&k, &w, cached_beside_a_part);
	cached_waiter_live("hitbeside");
	full_make(&f, "hitbeside", 0, BLOCK);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	g = waiter_got(&k);
	if (g.rc != -ETIMEDOUT)
		fail_msg("the first part: %d (%s)", g.rc, pool_strerror(g.rc));
	/* Its next part waits: the second wait the daemon logs of it. */
	wait_logged(k.pid, 1);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	pf.fd = k.from;
	if (poll(&pf, 1, LOG_WAIT_MS) < 1)
		fail_msg("a block in the cache waited for another thread's "
			 "part to be answered");
	g = waiter_got(&k);
	if (g.rc != 0)
		fail_msg("the cache hit: %d (%s) %s", g.rc,
			 pool_strerror(g.rc), g.message);
	unanswered(&k, "the part beside the cache hit");
	(void)full_free(&f, 0);
	(void)served(&k);
	harness_expect_checked(conn, "hitbeside");
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- refill_after_a_part --------------------------------------------- */

/* The daemon's requests answered so far, asked on c. */
static uint64_t
requests_answered(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	if (pool_daemon_stats(c, &ds) != 0)
		return 0;
	return ds.requests_total;
}

/*
 * In a child: as cached_parts, its parts of w->timeout_ms run out at a
 * first byte, and the last is reported.  At a second (room made for a block,
 * nobody waiting) it asks its next part, and reports in g.off how many
 * requests the daemon answered for it: those across the part, less those
 * across a pool_daemon_stats alone (the test's process asks nothing
 * meanwhile).
 */
static int
refilled_part(void *arg)
{
	struct want *w = arg;
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	uint64_t a, b, z;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	char go;
	int rc;

	if ((rc = want_open(w, 4 * MiB, &c, &p)))
		return rc;
	CHECK_RC(pool_alloc(p, w->size, &mine), 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	/* The first part's refill is refused, and the next skips its own
	 * (CACHE_BEHIND_SKIP_MAX's backoff): two parts, the second's rc. */
	(void)pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			      &off);
	rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, w->timeout_ms,
			     &off);
	g = got_of(rc, off, harness_now_ms());
	CHECK(harness_write_full(w->report, &g, sizeof(g)) == 0, 7);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 8);
	CHECK((z = requests_answered(c)) != 0, 9);
	CHECK((a = requests_answered(c)) != 0, 10);
	rc = pool_alloc_wait(p, w->size, 0, POOL_ALLOC_PART, LONG_WAIT_MS,
			     &off);
	CHECK((b = requests_answered(c)) != 0, 11);
	g = got_of(rc, off, harness_now_ms());
	g.off = (b - a) - (a - z);
	return report_and_hold(w, &g, c, p);
}

static void
refill_after_a_part(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	struct want w = {.pool = "refillpart", .size = BLOCK,
			 .timeout_ms = KEPT_PART_MS};
	struct waiter k;
	struct got g;

	(void)state;
	EXPECT_RC(pool_create(conn, "refillpart", &o), 0);
	waiter_start_fn(&k, &w, refilled_part);
	cached_waiter_live("refillpart");
	full_make(&f, "refillpart", 0, BLOCK);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	g = waiter_got(&k);
	if (g.rc != -ETIMEDOUT)
		fail_msg("the first part: %d (%s)", g.rc, pool_strerror(g.rc));
	(void)full_free(&f, 0);
	assert_int_equal(harness_write_full(k.stop, "g", 1), 0);
	g = served(&k);
	if (g.off != 1)
		fail_msg("the part a refill served made %llu requests, not "
			 "the refill alone", (unsigned long long)g.off);
	harness_expect_checked(conn, "refillpart");
	waiter_end(&k);
	full_end(&f, true);
}

/* ---- wait_over_keeps_the_words ---------------------------------------- */

/* requests_answered, asked by a thread of its own: this one's words stay. */
static void *
answered_apart(void *arg)
{
	*(uint64_t *)arg = requests_answered(conn);
	return NULL;
}

static uint64_t
requests_answered_apart(void)
{
	uint64_t n = 0;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, answered_apart, &n), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return n;
}

static void
wait_over_keeps_the_words(void **state)
{
	static struct full f;
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	pool_off_t mine = POOL_OFF_NONE, off = POOL_OFF_NONE;
	char said[256];
	uint64_t a, b, z;
	struct pool *p;

	(void)state;
	EXPECT_RC(pool_create(conn, "overwords", &o), 0);
	EXPECT_RC(pool_open(conn, "overwords", &p), 0);
	EXPECT_RC(pool_set_cache(p, 4 * MiB), 0);
	EXPECT_RC(pool_alloc(p, BLOCK, &mine), 0);
	full_make(&f, "overwords", 0, BLOCK);
	EXPECT_RC(pool_alloc_wait(p, BLOCK, 0, POOL_ALLOC_PART, KEPT_PART_MS,
				  &off), -ETIMEDOUT);
	snprintf(said, sizeof(said), "%s", pool_last_message(-ETIMEDOUT));
	if (!strstr(said, "no room came for 65536 bytes in pool overwords"))
		fail_msg("the part's words: \"%s\"", said);
	EXPECT_RC(pool_free(p, mine), 0);
	assert_true((z = requests_answered_apart()) != 0);
	assert_true((a = requests_answered_apart()) != 0);
	EXPECT_RC(pool_alloc_wait(p, BLOCK, 0, 0, LONG_WAIT_MS, &off), 0);
	assert_int_equal(off, mine);
	if (strcmp(pool_last_message(-ETIMEDOUT), said) != 0)
		fail_msg("after a cache hit, the thread's words were \"%s\", "
			 "not the part's \"%s\"",
			 pool_last_message(-ETIMEDOUT), said);
	assert_true((b = requests_answered_apart()) != 0);
	if ((b - a) - (a - z) != 1)
		fail_msg("the cache hit after a part made %llu requests, not "
			 "its WaitOver alone",
			 (unsigned long long)((b - a) - (a - z)));
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	full_end(&f, true);
}

/* ---- wait_over_by_its_thread ------------------------------------------ */

struct part_thread {
	struct pool *p;
	pthread_t t;
	pthread_barrier_t ran_out, go;
	int part_rc, hit_rc;
	pool_off_t off;
};

static void *
part_then_hit(void *arg)
{
	struct part_thread *pt = arg;
	pool_off_t off = POOL_OFF_NONE;

	pt->part_rc = pool_alloc_wait(pt->p, BLOCK, 0, POOL_ALLOC_PART,
				      KEPT_PART_MS, &off);
	pthread_barrier_wait(&pt->ran_out);
	pthread_barrier_wait(&pt->go);
	pt->hit_rc = pool_alloc_wait(pt->p, BLOCK, 0, 0, LONG_WAIT_MS,
				     &pt->off);
	return NULL;
}

/* The requests the daemon answered across fn(arg), beyond counting them. */
static uint64_t
requests_across(void (*fn)(void *), void *arg)
{
	uint64_t z, a, b;

	assert_true((z = requests_answered_apart()) != 0);
	assert_true((a = requests_answered_apart()) != 0);
	fn(arg);
	assert_true((b = requests_answered_apart()) != 0);
	return (b - a) - (a - z);
}

struct hit {
	struct pool *p;
	pool_off_t off;
	int rc;
};

static void
hit_here(void *arg)
{
	struct hit *h = arg;

	h->rc = pool_alloc_wait(h->p, BLOCK, 0, 0, LONG_WAIT_MS, &h->off);
}

static void
hit_in_part_thread(void *arg)
{
	struct part_thread *pt = arg;

	pthread_barrier_wait(&pt->go);
	assert_int_equal(pthread_join(pt->t, NULL), 0);
}

/*
 * Pool name, full but for one BLOCK the handle pt->p (with a cache) holds
 * in *mine, for a part of it to run out in a thread; the test skipped
 * where the cache is off (the connection's budget bounds the handle's:
 * no cache, no hit).
 */
static void
cached_pool_full(const char *name, struct full *f, struct part_thread *pt,
		 pool_off_t *mine)
{
	struct pool_create_opts o = {.max_size = CACHE_PARTS_POOL};
	const char *budget = getenv("POOLMGR_CLIENT_CACHE");

	if (budget && strcmp(budget, "0") == 0)
		skip();
	EXPECT_RC(pool_create(conn, name, &o), 0);
	EXPECT_RC(pool_open(conn, name, &pt->p), 0);
	EXPECT_RC(pool_set_cache(pt->p, 4 * MiB), 0);
	EXPECT_RC(pool_alloc(pt->p, BLOCK, mine), 0);
	full_make(f, name, 0, BLOCK);
}

static void
wait_over_by_its_thread(void **state)
{
	static struct full f;
	static struct part_thread pt;
	pool_off_t mine = POOL_OFF_NONE;
	struct hit h = {0};
	uint64_t n;

	(void)state;
	cached_pool_full("overthread", &f, &pt, &mine);
	assert_int_equal(pthread_barrier_init(&pt.ran_out, NULL, 2), 0);
	assert_int_equal(pthread_barrier_init(&pt.go, NULL, 2), 0);
	assert_int_equal(pthread_create(&pt.t, NULL, part_then_hit, &pt), 0);
	pthread_barrier_wait(&pt.ran_out);
	EXPECT_RC(pt.part_rc, -ETIMEDOUT);

	EXPECT_RC(pool_free(pt.p, mine), 0);
	h.p = pt.p;
	n = requests_across(hit_here, &h);
	EXPECT_RC(h.rc, 0);
	assert_int_equal(h.off, mine);
	if (n != 0)
		fail_msg("another thread's cache hit made %llu requests (a "
			 "WaitOver for the part's place), not none",
			 (unsigned long long)n);

	EXPECT_RC(pool_free(pt.p, h.off), 0);
	n = requests_across(hit_in_part_thread, &pt);
	EXPECT_RC(pt.hit_rc, 0);
	assert_int_equal(pt.off, mine);
	if (n != 1)
		fail_msg("the part's own thread's cache hit made %llu "
			 "requests, not its WaitOver alone",
			 (unsigned long long)n);
	pthread_barrier_destroy(&pt.ran_out);
	pthread_barrier_destroy(&pt.go);
	EXPECT_RC(pool_free(pt.p, pt.off), 0);
	pool_close(pt.p);
	full_end(&f, true);
}

static void *
part_only(void *arg)
{
	struct part_thread *pt = arg;
	pool_off_t off = POOL_OFF_NONE;

	pt->part_rc = pool_alloc_wait(pt->p, BLOCK, 0, POOL_ALLOC_PART,
				      KEPT_PART_MS, &off);
	return NULL;
}

static void *
hit_only(void *arg)
{
	struct hit *h = arg;

	hit_here(h);
	return NULL;
}

/* hit_here in a thread started for it, once the part's thread ended. */
static void
hit_in_later_thread(void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, hit_only, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void
wait_over_not_by_a_later_thread(void **state)
{
	static struct full f;
	static struct part_thread pt;
	pool_off_t mine = POOL_OFF_NONE;
	struct hit h = {0};
	uint64_t n;

	(void)state;
	cached_pool_full("overlater", &f, &pt, &mine);
	assert_int_equal(pthread_create(&pt.t, NULL, part_only, &pt), 0);
	assert_int_equal(pthread_join(pt.t, NULL), 0);
	EXPECT_RC(pt.part_rc, -ETIMEDOUT);

	EXPECT_RC(pool_free(pt.p, mine), 0);
	h.p = pt.p;
	n = requests_across(hit_in_later_thread, &h);
	EXPECT_RC(h.rc, 0);
	assert_int_equal(h.off, mine);
	if (n != 0)
		fail_msg("a thread started after the part's ended made %llu "
			 "requests on a cache hit (a WaitOver for a place "
			 "not its own), not none", (unsigned long long)n);
	EXPECT_RC(pool_free(pt.p, h.off), 0);
	pool_close(pt.p);
	full_end(&f, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parts_keep_their_place),
		cmocka_unit_test(kept_place_after_room),
		cmocka_unit_test(kept_place_let_go_by_a_batch),
		cmocka_unit_test(kept_place_let_go_by_a_realloc),
		cmocka_unit_test(kept_place_let_go_by_the_cache),
		cmocka_unit_test(cache_hit_beside_a_part),
		cmocka_unit_test(refill_after_a_part),
		cmocka_unit_test(wait_over_keeps_the_words),
		cmocka_unit_test(wait_over_by_its_thread),
		cmocka_unit_test(wait_over_not_by_a_later_thread),
	};

	return cmocka_run_group_tests(tests, alloc_wait_setup,
				      alloc_wait_teardown);
}
