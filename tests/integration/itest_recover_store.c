/*
 * itest_recover_store.c - a crash of poolmgrd under systemd keeps its
 * pools (the crash journal, docs/design.md) as far as the fd store does:
 * a store too small or none, a pool's keep.<n> missing or there twice,
 * and the connections the daemon keeps for a descriptor their clients
 * have not read, in the store from the moment they are kept.  What the
 * journal's records bring back is itest_recover.c's, a crash in the
 * middle of a change itest_recover_midway.c's; the store played as
 * systemd plays it, the daemon on it and the blocks persisted are
 * recover_util.h's.
 *
 *   clean_stop_forgets       a stop that frees everything takes the
 *                            journal out of the store;
 *   no_store_no_journal      without FDSTORE= nothing is pushed;
 *   small_store_compacts     a store that takes few descriptors: pools
 *                            made until it is full, then a compaction
 *                            still finds room for its new journal;
 *   small_store_planned      a planned stop that fills a small store: the
 *                            next start's journal still gets in;
 *   recovered_without_store  the journal passed without FDSTORE=: the
 *                            pools are recovered, nothing is pushed;
 *   keep_twice_by_size       pool a's keep.<n> twice in the store (the
 *                            other a memfd of another pool's, as one
 *                            left by a lost journal beside the next
 *                            image's, found first): the one of the
 *                            size the journal records is taken, and the
 *                            block comes back with its bytes; both of
 *                            that size, neither can be told for its
 *                            memory, and the pool is left out (made
 *                            fresh from the file);
 *   keep_twice_loses_its_pool_alone  the same, both of pool a's size,
 *                            beside pool b and its persisted block: b
 *                            comes back, a is left out and logged, both
 *                            its memfds out of the store (the journal
 *                            was refused whole, and b with it);
 *   keep_missing_loses_its_pool_alone  pool a's keep.<n> gone from the
 *                            store before the start, beside pool b's,
 *                            both with a block persisted and named: b
 *                            comes back with its bytes and its name, a
 *                            is left out and logged, made fresh from the
 *                            file with nothing charged, and a stop after
 *                            exits 0, nothing of a's state leaked (the
 *                            journal was refused whole, and b with it);
 *   keep_missing_then_crash  the same with b's keep.<n>: b, which no file
 *                            declares, is gone, a comes back; b made
 *                            again and blocks named in both, a second
 *                            crash recovers them all from the journal
 *                            the start after the loss wrote;
 *   kept_connection_survives_crashes  a connection kept for a memfd its
 *                            client has not read is in the store as
 *                            unread.0 (FDPOLL=0), counted by the image
 *                            after each of two crashes, after a restart
 *                            in place and after a planned stop; once its
 *                            client closes, it leaves the store;
 *   kept_connection_pushed_after_exec  one kept without the store, its
 *                            room full, and handed over by a restart in
 *                            place once there is room: the new image
 *                            pushes it, and a crash after it keeps it;
 *   kept_connection_pushed_at_stop  one the store dropped unseen is
 *                            pushed again by a planned stop, and the
 *                            start after it counts it;
 *   kept_connections_leave_the_journal_room  100 kept while systemd
 *                            reads no notification take at most half of
 *                            the daemon's queue: a pool made meanwhile
 *                            has its keep.<n> queued, not refused, and
 *                            the refused pushes are said within the
 *                            log's rate limit;
 *   kept_connection_removal_retried  one whose client closes while the
 *                            daemon's queue for systemd is full: its
 *                            removal is refused, asked again later, and
 *                            it leaves the store once systemd reads.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "recover_util.h"

/*
 * fd in the store under the name of keep.<n> (NULL: the first keep, pool
 * a's when it is alone), ahead of it: the store passes them in its
 * order, and the recovery looked no further than the first.
 */
static void
keep_ahead(struct harness_store *st, const char *name, int fd)
{
	int k = name ? harness_store_find(st, name)
		     : harness_store_prefix(st, "keep.");

	assert_true(k >= 0);
	assert_true(st->n < HARNESS_STORE_MAX);
	st->fd[st->n] = st->fd[k];
	memcpy(st->name[st->n], st->name[k], sizeof(st->name[0]));
	st->n++;
	st->fd[k] = fd;
}

static void
keep_twice_by_size(void **state)
{
	struct harness_store *st = *state;
	char name[64];
	pool_off_t off;
	int k;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	keep_ahead(st, NULL, other_pools_memfd(1 << 20, 'x'));
	k = harness_store_prefix(st, "keep.");
	snprintf(name, sizeof(name), "%s", st->name[k]);
	start(st, STORE_FDS);
	if (!log_has(st, "after a crash: 1 pool") ||
	    !log_has(st, "twice in the fd store")) {
		harness_store_print_log(st);
		fail_msg("not recovered from the keep of its size");
	}
	expect_kept(st, off);
	/* The name out once ready, both descriptors with it. */
	wait_removed(st, name);
	assert_true(harness_store_prefix(st, "keep.") >= 0);

	/* Both of its size: which is its memory is not known.  The pool is
	 * left out, and made fresh from the file. */
	crash(st);
	keep_ahead(st, NULL, other_pools_memfd(4 << 20, 'x'));
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") ||
	    !log_has(st, "the pool is not recovered")) {
		harness_store_print_log(st);
		fail_msg("pool a's keep twice of its size not left out");
	}
	expect_live_blocks(st, 0);
}

/*
 * Pool a's keep.<n> twice in the store, both of its size, beside pool
 * b's: a is left out, and said so; b comes back with its block.
 */
static void
keep_twice_loses_its_pool_alone(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_conn *c;
	struct pool *b;
	pool_off_t off, pb;

	start(st, STORE_FDS);
	/* The start's keep is a's, keep.1; b's comes after the journal. */
	store_drain(st);
	assert_true(harness_store_find(st, "keep.1") >= 0);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(b, 70000, &pb), 0);
	fill(b, pb, 70000, 'r');
	EXPECT_RC(pool_persist(b, pb), 0);
	pool_close(b);
	pool_disconnect(c);
	persist_one(st, &off);
	crash(st);
	keep_ahead(st, "keep.1", other_pools_memfd(4 << 20, 'x'));
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") ||
	    !log_has(st, "pool a: keep.1 twice in the fd store (2 of them, "
		     "2 of its 4194304 bytes): which is its memory is not "
		     "known, and the pool is not recovered") ||
	    !log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered")) {
		harness_store_print_log(st);
		fail_msg("pool b not recovered beside pool a left out");
	}
	expect_live_blocks(st, 0);	/* a: made fresh from the file */
	/* Neither of a's old memfds stays in the store: its fresh memory
	 * is kept under a number above them. */
	wait_removed(st, "keep.1");
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	expect_bytes(b, pb, 70000, 'r');
	assert_int_equal(harness_stats(b).persistent_blocks, 1);
	pool_close(b);
	pool_disconnect(c);
}

/*
 * Pool b made beside a, each with a block persisted and named: a's of
 * persist_one's bytes at *pa, named "a-kept", b's 70000 bytes of 'r' at
 * *pb, named "b-kept".  Everything the daemon sent is applied: a's keep is
 * keep.1 (the start's), b's the other one.
 */
static void
two_named_pools(struct harness_store *st, pool_off_t *pa, pool_off_t *pb)
{
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_conn *c;
	struct pool *a, *b;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(b, 70000, pb), 0);
	fill(b, *pb, 70000, 'r');
	EXPECT_RC(pool_publish(b, *pb, "b-kept"), 0);
	pool_close(b);
	pool_disconnect(c);
	persist_one(st, pa);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_publish(a, *pa, "a-kept"), 0);
	pool_close(a);
	pool_disconnect(c);
	store_drain(st);
	assert_true(harness_store_find(st, "keep.1") >= 0);
}

/* The one keep.<n> in the store but keep.1: pool b's of two_named_pools. */
static int
other_keep(const struct harness_store *st)
{
	unsigned k;
	int at = -1;

	for (k = 0; k < st->n; k++) {
		if (strncmp(st->name[k], "keep.", 5) != 0 ||
		    strcmp(st->name[k], "keep.1") == 0)
			continue;
		assert_int_equal(at, -1);
		at = (int)k;
	}
	assert_true(at >= 0);
	return at;
}

/*
 * Pool name, from c, has its block at off named name with len bytes of
 * byte, persisted by this uid alone: one block, one name.
 */
static void
expect_named(struct pool_conn *c, const char *pool, const char *name,
	     pool_off_t off, size_t len, int byte)
{
	struct pool_persisted *pp;
	struct pool_stats s;
	struct pool *p;
	size_t n, total;
	pool_off_t at;

	EXPECT_RC(pool_open(c, pool, &p), 0);
	EXPECT_RC(pool_lookup(p, name, &at, NULL), 0);
	assert_int_equal(at, off);
	expect_bytes(p, off, len, byte);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.persistent_blocks, 1);
	assert_int_equal(s.named_blocks, 1);
	pool_close(p);
	EXPECT_RC(pool_persisted(c, pool, &pp, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp[0].uid, getuid());
	assert_int_equal(pp[0].blocks, 1);
	free(pp);
}

/*
 * Pool a's keep.<n> gone from the store before a crash's start (the
 * store full, a push lost, an operator's removal), beside pool b's: a is
 * left out, and said so; b comes back with its block, its bytes and its
 * name.  a, which the file declares, is made fresh: no block, no name,
 * nothing charged to the uid that persisted in it.  Once ready, the old
 * names leave the store, and it holds a keep.<n> of each pool and the
 * journal, nothing else.  The daemon then stops cleanly, its exit status
 * 0: under ASan, a's state, left out, was freed.
 */
static void
keep_missing_loses_its_pool_alone(void **state)
{
	struct harness_store *st = *state;
	struct pool_persisted *pp;
	struct pool_conn *c;
	struct pool *a;
	pool_off_t pa, pb, at;
	size_t n, total;
	char old_journal[64], old_keep[64];
	unsigned k, keeps = 0;

	start(st, STORE_FDS);
	two_named_pools(st, &pa, &pb);
	crash(st);
	snprintf(old_journal, sizeof(old_journal), "%s", journal_in(st));
	snprintf(old_keep, sizeof(old_keep), "%s", st->name[other_keep(st)]);
	harness_store_drop(st, (unsigned)harness_store_find(st, "keep.1"));
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") ||
	    !log_has(st, "after a crash: pool a: keep.1 is not in the fd "
		     "store: its memory is lost, and the pool is not "
		     "recovered") ||
	    !log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered")) {
		harness_store_print_log(st);
		fail_msg("pool b not recovered beside pool a's keep missing");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	expect_named(c, "b", "b-kept", pb, 70000, 'r');
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_lookup(a, "a-kept", &at, NULL), -ENOENT);
	assert_int_equal(harness_stats(a).live_blocks, 0);
	assert_int_equal(harness_stats(a).named_blocks, 0);
	pool_close(a);
	EXPECT_RC(pool_persisted(c, "a", &pp, &n, &total), 0);
	assert_int_equal(n, 0);
	free(pp);
	pool_disconnect(c);
	wait_removed(st, old_journal);
	wait_removed(st, old_keep);
	store_drain(st);
	for (k = 0; k < st->n; k++)
		keeps += strncmp(st->name[k], "keep.", 5) == 0;
	assert_int_equal(keeps, 2);
	assert_int_equal(st->n, 3);
	assert_true(harness_store_journal(st) != NULL);
	/* A stop of its own: nothing of pool a's state leaks (ASan). */
	stop(st);
}

/*
 * Pool b's keep.<n> gone from the store before a crash's start: b, which
 * no file declares, is not there after it, and a is, with its block and
 * its name.  The journal the start wrote is sound: b made again under
 * its name, blocks persisted and named in both, a second crash recovers
 * them all, no keep missing.
 */
static void
keep_missing_then_crash(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_stats s;
	struct pool_conn *c;
	struct pool *a, *b;
	pool_off_t pa, pb, qa, qb;
	char lost[192];
	int k;

	start(st, STORE_FDS);
	two_named_pools(st, &pa, &pb);
	crash(st);
	k = other_keep(st);
	snprintf(lost, sizeof(lost), "after a crash: pool b: %s is not in "
		 "the fd store: its memory is lost, and the pool is not "
		 "recovered", st->name[k]);
	harness_store_drop(st, (unsigned)k);
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") || !log_has(st, lost) ||
	    !log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered")) {
		harness_store_print_log(st);
		fail_msg("pool a not recovered beside pool b's keep missing");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &s), -ENOENT);
	expect_named(c, "a", "a-kept", pa, 100000, 'z');

	/* b again, a block of each named, and a crash with nothing lost. */
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(b, 30000, &qb), 0);
	fill(b, qb, 30000, 'u');
	EXPECT_RC(pool_publish(b, qb, "b-again"), 0);
	pool_close(b);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 20000, &qa), 0);
	fill(a, qa, 20000, 'v');
	EXPECT_RC(pool_publish(a, qa, "a-more"), 0);
	pool_close(a);
	pool_disconnect(c);
	crash_recover(st, STORE_FDS, "after a crash: 2 pools and 3 persistent "
		      "blocks recovered", "the second crash not recovered");
	if (harness_store_log_count(st, "the pool is not recovered") != 1 ||
	    log_has(st, "the journal is refused")) {
		harness_store_print_log(st);
		fail_msg("the second crash lost a pool");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	expect_named(c, "b", "b-again", qb, 30000, 'u');
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_lookup(a, "a-kept", &pb, NULL), 0);
	assert_int_equal(pb, pa);
	expect_bytes(a, pa, 100000, 'z');
	EXPECT_RC(pool_lookup(a, "a-more", &pb, NULL), 0);
	assert_int_equal(pb, qa);
	expect_bytes(a, qa, 20000, 'v');
	assert_int_equal(harness_stats(a).persistent_blocks, 2);
	pool_close(a);
	pool_disconnect(c);
}

/*
 * A stop that frees everything (the store too small for a planned stop's
 * descriptors, big enough for the journal's) takes the journal out of
 * the store: a unit restarted after it (Restart=always) starts fresh.
 */
static void
clean_stop_forgets(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, "4");
	persist_one(st, &off);
	(void)journal_in(st);
	stop(st);
	assert_true(log_has(st, "nothing left in the fd store"));
	assert_int_equal(st->n, 0);
	start(st, "4");
	expect_live_blocks(st, 0);
}

static void
no_store_no_journal(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, NULL);
	persist_one(st, &off);
	store_drain(st);
	assert_int_equal(st->n, 0);
	crash(st);
	start(st, NULL);
	expect_live_blocks(st, 0);
}

/*
 * FDSTORE=6: pool a's keep.<n> and the journal, and room for as many
 * again (a restart writes its own before the old ones leave).  Pools are
 * made until the store would be full; then a compaction's new journal
 * must still go in (a store that is full drops it without a word, and
 * the old one has left by then): after a crash, a and b come back, with
 * a's persistent block.
 */
static void
small_store_compacts(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 1 << 20};
	static const char *more[] = {"b", "c", "d", "e"};
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;
	pool_off_t keep, x;
	unsigned i;

	start(st, "6");
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		EXPECT_RC(pool_create(c, more[i], &o), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 5000, &keep), 0);
	fill(a, keep, 5000, 'k');
	EXPECT_RC(pool_persist(a, keep), 0);
	store_drain(st);
	assert_true(st->n <= 6);
	for (i = 0; i < 12000; i++) {
		EXPECT_RC(pool_alloc(a, 64, &x), 0);
		EXPECT_RC(pool_persist(a, x), 0);
		EXPECT_RC(pool_free(a, x), 0);
		EXPECT_RC(pool_free(a, x), 0);
	}
	store_drain(st);
	if (harness_store_prefix(st, "journal.") < 0) {
		harness_store_print_log(st);
		fail_msg("the compaction's journal did not fit the store");
	}
	crash_recover(st, "6", "2 pools and 1 persistent block recovered",
		      "not pools a and b and a's block");
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &s), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	expect_bytes(a, keep, 5000, 'k');
	pool_close(a);
	pool_disconnect(c);
}

/*
 * FDSTORE=6: a planned stop leaves the state, the daemon's own socket,
 * pool.0, keep.<n> and the journal, 5.  The next start's keep.<n> and
 * journal go in while those are still there (they leave once it is
 * ready): a push to the full store is dropped without a word, and the
 * start must not count on it.  A crash after it still recovers a's block.
 */
static void
small_store_planned(void **state)
{
	struct harness_store *st = *state;
	char old[HARNESS_STORE_MAX][64];
	pool_off_t off;
	long long end;
	unsigned i, n;

	start(st, "6");
	persist_one(st, &off);
	stop(st);
	assert_true(log_has(st, "to keep in systemd's fd store"));
	n = st->n;
	memcpy(old, st->name, sizeof(old));
	start(st, "6");
	assert_true(log_has(st, "restored from systemd's fd store: 1 pool"));
	for (i = 0; i < n; i++)
		wait_removed(st, old[i]);
	/* Then a journal, which may come after the old names left. */
	end = now_ms() + WAIT_MS;
	while (harness_store_prefix(st, "journal.") < 0 && now_ms() < end)
		(void)store_recv(st, 100, NULL);
	if (harness_store_prefix(st, "journal.") < 0) {
		harness_store_print_log(st);
		fail_msg("the restored daemon's journal is not in the store");
	}
	crash_recover(st, "6", "1 pool and 1 persistent block recovered",
		      "no recovery after the planned restart");
	expect_kept(st, off);
}

/*
 * The store's journal and keeps passed by hand, FDSTORE= unset: the pools
 * are recovered (they are all there), and nothing goes to a store that
 * is not there to keep it.
 */
static void
recovered_without_store(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, STORE_FDS);
	persist_one(st, &off);
	(void)journal_in(st);
	crash(st);
	st->pushed = 0;
	start(st, NULL);
	if (!log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered") ||
	    !log_has(st, "no fd store (FDSTORE= unset)")) {
		harness_store_print_log(st);
		fail_msg("not recovered without FDSTORE=");
	}
	expect_kept(st, off);
	persist_one(st, &off);
	store_drain(st);
	assert_int_equal(st->pushed, 0);
}

/* The daemon's kept connections, as its statistics say them. */
static uint32_t
kept_now(const struct harness_store *st)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	pool_disconnect(c);
	return ds.kept_connections;
}

/*
 * A connection that opens pool a, reads none of the reply (its memfd in
 * flight) and sends what does not decode: the daemon lets it go, and
 * keeps it.  Its socket, which the caller closes.
 */
static int
kept_connection(const struct harness_store *st)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	struct pollfd pfd;
	int fd = harness_raw_greeted(st->sock, "held");

	assert_true(fd >= 0);
	o.name = "a";
	o.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);	/* left unread */
	assert_int_equal(send(fd, "\xff\xff\xff", 3, MSG_NOSIGNAL), 3);
	pfd = (struct pollfd){.fd = fd, .events = POLLRDHUP};
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);	/* let go of */
	return fd;
}

/*
 * Is the kept connection in the store, once what the daemon sent is
 * applied?  A round trip first: the daemon has sent what came before.
 */
static bool
kept_in_store(struct harness_store *st, uint32_t *kept)
{
	*kept = kept_now(st);
	store_drain(st);
	return harness_store_find(st, "unread.0") >= 0;
}

/* The daemon counts n kept connections, and unread.0 is stored or not. */
static void
expect_kept_count(struct harness_store *st, bool stored, uint32_t n)
{
	uint32_t kept;

	if (stored)
		assert_true(kept_in_store(st, &kept));
	else
		assert_false(kept_in_store(st, &kept));
	assert_int_equal(kept, n);
}

/*
 * A start on the store (FDSTORE= STORE_FDS) and a connection it keeps,
 * which is in the store: its socket, and the kept connections the daemon
 * counts in *kept.
 */
static int
start_with_kept(struct harness_store *st, uint32_t *kept)
{
	int fd;

	start(st, STORE_FDS);
	fd = kept_connection(st);
	assert_true(kept_in_store(st, kept));
	return fd;
}

/*
 * A connection let go of while its client had a descriptor unread is
 * kept, counted as its uid's, for the kernel counts the descriptor
 * against the daemon's uid until it is read.  A crash closed it, and the
 * next image counted nothing while the descriptor stayed in flight: its
 * client could connect again and leave as many more.  Now it is in the
 * store from the moment it is kept, and every image after takes it back
 * and leaves it there: after a crash, another crash, a restart in place
 * and a planned stop.  When its client closes, it leaves the store.
 */
static void
kept_connection_survives_crashes(void **state)
{
	struct harness_store *st = *state;
	uint32_t kept;
	int fd;

	fd = start_with_kept(st, &kept);
	assert_int_equal(kept, 1);

	for (int i = 0; i < 2; i++) {
		crash(st);
		start(st, STORE_FDS);
		expect_kept_count(st, true, 1);
	}

	assert_int_equal(kill(st->pid, SIGUSR2), 0);
	assert_int_equal(harness_store_wait(st, "READY=1", WAIT_MS), 0);
	expect_kept_count(st, true, 1);

	stop(st);
	assert_true(harness_store_find(st, "state") >= 0);
	assert_true(harness_store_find(st, "unread.0") >= 0);
	start(st, STORE_FDS);
	assert_true(log_has(st, "restored from systemd's fd store: 1 pool"));
	wait_removed(st, "state");
	expect_kept_count(st, true, 1);

	close(fd);
	expect_kept_count(st, false, 0);
	crash(st);
	start(st, STORE_FDS);
	assert_int_equal(kept_now(st), 0);
}

/*
 * FDSTORE= that leaves the kept connections room for one: what a stop
 * and the crash journal may need of the store (daemon/peer_store.c),
 * and one.
 */
#define KEPT_ROOM_1	"773"

/*
 * Two connections kept where the store has room for one: the second is
 * kept without the store, and the log says a crash forgets it.  Its
 * client closes the first, which leaves the store, and a restart in
 * place hands the second to the new image.  That image took every kept
 * connection an exec handed it for stored, so a crash then forgot the
 * second though the store had room for it.  Now the new image pushes
 * them, and the one after the crash counts it.
 */
static void
kept_connection_pushed_after_exec(void **state)
{
	struct harness_store *st = *state;
	int first, second;

	start(st, KEPT_ROOM_1);
	first = kept_connection(st);
	second = kept_connection(st);
	expect_kept_count(st, true, 2);
	assert_int_equal(harness_store_find(st, "unread.1"), -1);
	assert_true(log_has(st, "is not in the fd store"));

	close(first);
	expect_kept_count(st, false, 1);

	assert_int_equal(kill(st->pid, SIGUSR2), 0);
	assert_int_equal(harness_store_wait(st, "READY=1", WAIT_MS), 0);
	assert_int_equal(kept_now(st), 1);
	store_drain(st);
	assert_true(harness_store_find(st, "unread.1") >= 0);

	crash(st);
	start(st, KEPT_ROOM_1);
	assert_int_equal(kept_now(st), 1);
	close(second);
	assert_int_equal(kept_now(st), 0);
	store_drain(st);
	assert_int_equal(harness_store_find(st, "unread.1"), -1);
}

/*
 * systemd drops, without a word, a descriptor pushed to a full store: a
 * kept connection the daemon took for stored may not be there (a unit
 * whose FileDescriptorStoreMax= is below the FDSTORE= it sets, or a store
 * fuller than the daemon counts).  A planned stop pushed only those it
 * took for missing, and the start after it counted none.  Now the stop
 * pushes every one; the store keeps what it holds already once.
 */
static void
kept_connection_pushed_at_stop(void **state)
{
	struct harness_store *st = *state;
	uint32_t kept;
	int fd;

	fd = start_with_kept(st, &kept);
	harness_store_drop(st, (unsigned)harness_store_find(st, "unread.0"));

	stop(st);
	assert_true(harness_store_find(st, "unread.0") >= 0);
	start(st, STORE_FDS);
	assert_int_equal(kept_now(st), 1);
	close(fd);
	assert_int_equal(kept_now(st), 0);
}

/*
 * Kept connections made while systemd reads no notification: the kernel
 * queues 10, the daemon 64 more (notify.c), and every push after those
 * is refused.
 */
#define KEPT_FLOOD	100

/*
 * While systemd reads no notification, the daemon queues what it would
 * send, and refuses a descriptor once 64 wait (notify.c).  Each kept
 * connection's push took a place there, as many as clients cared to
 * misbehave: a pool made meanwhile found none for its keep.<n> (a crash
 * would lose it), as a stop's pushes would have (and the stop freed
 * everything).  Now the kept connections take at most half of those
 * places.  Those refused are said within the log's rate limit (10 lines
 * a kind in 10 s, then a count), where each took a line of its own.
 */
static void
kept_connections_leave_the_journal_room(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct harness_store *st = *state;
	struct pool_conn *c;
	int fd[KEPT_FLOOD];
	unsigned i, lines;

	start(st, STORE_FDS);
	/* From here the store reads nothing. */
	for (i = 0; i < KEPT_FLOOD; i++)
		fd[i] = kept_connection(st);
	assert_int_equal(kept_now(st), KEPT_FLOOD);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	pool_disconnect(c);
	assert_int_equal(kept_now(st), KEPT_FLOOD);
	if (log_has(st, "pool b: not kept")) {
		harness_store_print_log(st);
		fail_msg("pool b's keep found no room");
	}
	lines = harness_store_log_count(st, "not pushed") +
	    harness_store_log_count(st, "is not in the fd store");
	if (lines > 2 * 10)
		fail_msg("%u lines of refused pushes", lines);

	harness_store_drain(st);
	assert_true(harness_store_prefix(st, "keep.") >= 0);
	for (i = 0; i < KEPT_FLOOD; i++)
		close(fd[i]);
	/* Each request looks at 16 of them, in turn (dispatch_status.c). */
	for (i = 0; i < KEPT_FLOOD / 16; i++)
		(void)kept_now(st);
	assert_int_equal(kept_now(st), 0);
}

/*
 * SIGHUPs, each applied before the next, until the daemon drops a
 * notification: the store reads none, and the daemon's queue for it is
 * full (1024 wait, notify.c), so that each removal is refused.  A reload
 * is two notifications (RELOADING=1, READY=1) that each must go.
 */
static void
notifications_full(struct harness_store *st)
{
	FILE *log = fopen(st->log, "r");
	unsigned sent = 0, applied = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	assert_non_null(log);
	for (;;) {
		if (applied == sent) {
			assert_int_equal(kill(st->pid, SIGHUP), 0);
			sent++;
		}
		/* The log read on as it grows; a line is taken whole. */
		if ((len = getline(&line, &cap, log)) <= 0 ||
		    line[len - 1] != '\n') {
			if (len > 0)
				assert_int_equal(fseek(log, -len, SEEK_CUR), 0);
			clearerr(log);
			(void)poll(NULL, 0, 1);
			continue;
		}
		if (strstr(line, "notifications wait for systemd"))
			break;
		applied += strstr(line, "SIGHUP: reloading") != NULL;
	}
	free(line);
	fclose(log);
}

/*
 * A kept connection whose client closed while the daemon's queue for
 * systemd was full: its removal from the store was refused, and nothing
 * asked again, so unread.<id> stayed there, its socket held by systemd,
 * until a later start swept it; meanwhile its id was free again, and the
 * next kept connection was pushed under the same name, which a removal
 * takes out whole.  Now the daemon asks again after a wait, and keeps
 * the id until the store has been asked: once systemd reads, unread.0
 * leaves the store.
 */
static void
kept_connection_removal_retried(void **state)
{
	struct harness_store *st = *state;
	uint32_t kept;
	int fd;

	fd = start_with_kept(st, &kept);
	assert_int_equal(kept, 1);

	/* From here the store reads nothing. */
	notifications_full(st);
	close(fd);
	assert_int_equal(kept_now(st), 0);
	expect_logged(st, "cannot remove unread.0",
		      "the removal of unread.0 was not refused");

	wait_removed(st, "unread.0");
	assert_int_equal(kept_now(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(clean_stop_forgets,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(no_store_no_journal,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(small_store_compacts,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(small_store_planned,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(recovered_without_store,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(keep_twice_by_size,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(keep_twice_loses_its_pool_alone,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(
			keep_missing_loses_its_pool_alone,
			recover_setup, recover_teardown),
		cmocka_unit_test_setup_teardown(keep_missing_then_crash,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(
			kept_connection_survives_crashes,
			recover_setup, recover_teardown),
		cmocka_unit_test_setup_teardown(
			kept_connection_pushed_after_exec,
			recover_setup, recover_teardown),
		cmocka_unit_test_setup_teardown(kept_connection_pushed_at_stop,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(
			kept_connections_leave_the_journal_room,
			recover_setup, recover_teardown),
		cmocka_unit_test_setup_teardown(kept_connection_removal_retried,
						recover_setup,
						recover_teardown),
	};

	return cmocka_run_group_tests_name("a crash under systemd: the store",
					   tests, NULL, NULL);
}
