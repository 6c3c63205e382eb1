/*
 * itest_names_wait.c - a Lookup that waits for its name (docs/protocol.md,
 * "Waiting for a name"), between real client processes and raw
 * connections.
 *
 * The daemon logs (at debug, which the tests run with) each lookup that
 * begins to wait, with its pid: a test waits for that line before it
 * publishes, so the publish comes while the lookup waits, not before.
 * A raw connection whose lookup waits is known to be read once another
 * client has made two round trips after it was sent (as in itest_wait.c):
 * it must still be unanswered then.
 *
 *   waiter_gets_publish      a consumer process waits for a name; the
 *       producer publishes: the consumer gets the block, reads its bytes,
 *       and has the name's generation (as pool_names lists it);
 *   others_served_meanwhile  a raw connection's waiting lookup, and a
 *       Stats pipelined behind it: no reply to either while another
 *       client and another raw connection make round trips; the publish
 *       answers both, in order;
 *   replace_wakes_newer      a lookup after the name's generation waits;
 *       a replace answers it with the new block and a newer generation,
 *       and a replace of the block by itself with a newer one still;
 *   timeout_changes_nothing  a waiting lookup (with retain) for no name,
 *       and one after the name's generation, each -ETIMEDOUT: no
 *       reference taken, the pool's statistics as before, and the same
 *       connection is answered after;
 *   ran_out_says_what        a wait's -ETIMEDOUT words say what did not
 *       come, by what it asked: after generation 0 the name, after any
 *       other a generation above it (the name there or not); the longest
 *       name and pool name with a generation of 4 digits or more, which
 *       would leave a wait of 10 digits no room, leave the generation
 *       out;
 *   retain_taken_when_answered  a waiting lookup with retain: once
 *       answered its handle holds the block, which the name's removal
 *       then does not free;
 *   took_says_whose_hold     pool_lookup_wait_took says 1 when its
 *       retain gave the handle its reference, 0 when the handle held the
 *       block already or nothing was retained, and leaves *took alone on
 *       -ETIMEDOUT; a waiting Lookup's reply says retained_now of the
 *       retain taken as its wait ends, both ways;
 *   bound_per_uid            max_name_waits = 4: one uid waits three
 *       times at most in a pool (root's fourth is -EAGAIN, naming the
 *       share), and another uid's lookup still waits;
 *   bound_per_uid_lowered    max_name_waits 12, root's 9 lookups wait,
 *       then a reload to 10 (one uid's share 8): root's next is -EAGAIN,
 *       in words that say root has 9 of them and may have 8;
 *   bound_and_closed_waiter  max_name_waits = 2: a third waiter in the
 *       pool is -EAGAIN; a waiter whose connection closes is dropped
 *       (logged, its place free again), and the third then waits;
 *   pool_destroyed           a forced destroy ends a waiting lookup in
 *       the pool with -ENOENT; also one of the library on a read-write
 *       handle, whose requests carry its cache's report naming the handle
 *       closed with the pool (it was -EBADF);
 *   restart_in_place         SIGUSR2 while a consumer process waits: the
 *       restart does not wait for it (no "waiting for a quiet moment"),
 *       the library asks the new image again, a publish after the restart
 *       answers it, and generations go on from where they were;
 *   poolctl_shows_generation `poolctl names` has a GENERATION column and
 *       --json a "generation" key, each the name's;
 *   consumer_example_waits   client/examples' consumer -w, started before
 *       the producer, prints the block once it is published, and lets
 *       the name go;
 *   consumer_example_pool_gone  the same consumer waiting in a pool that
 *       is destroyed says the pool went, not that the name is missing;
 *   poolctl_wait             `poolctl wait` started before the publish
 *       prints the block with its generation (--json too); --timeout 1
 *       for a name not there exits 1 saying the time ran out, and
 *       --timeout 0 says there is no such name;
 *   waits_checked            the Check request, which walks the waiting
 *       lookups too, passes with two waiting in the pool and one in
 *       another, after a waiter hangs up and after the other pool is
 *       destroyed under its waiter.
 */
#include <errno.h>
#include <poll.h>
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
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define POOL		"names"
#define BOUNDED		"bounded"
#define CONF		"max_name_waits = 2\n" \
			"[pool names]\nsize = 16M\n" \
			"[pool bounded]\nsize = 4M\n"
#define LONG_WAIT_MS	60000	/* only a guard: the tests end the waits */
#define LOG_WAIT_MS	30000
#define WAITS_LINE	"waits for a name"

static struct daemon_proc d;
static struct pool_conn *conn;
static struct pool *pool;

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	if (harness_start(&d, CONF) != 0)
		return -1;
	if (pool_connect(d.sock, &conn) != 0 ||
	    pool_open(conn, POOL, &pool) != 0)
		return -1;
	/* Counted blocks are the test's only: none kept in a cache. */
	return pool_set_cache(pool, 0) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	pool_close(pool);
	pool_disconnect(conn);
	return harness_finish(&d) == 0 ? 0 : -1;
}

/* A block of len bytes of c, published as name (replace: moved there). */
static pool_off_t
published(const char *name, size_t len, int c, bool replace)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(pool, len, &off), 0);
	memset(pool_ptr(pool, off), c, len);
	if (replace)
		EXPECT_RC(pool_publish_replace(pool, off, name), 0);
	else
		EXPECT_RC(pool_publish(pool, off, name), 0);
	/* The name's reference keeps it: ours goes. */
	EXPECT_RC(pool_free(pool, off), 0);
	return off;
}

/* The name's generation now, as a lookup that does not wait has it. */
static uint64_t
generation_of(const char *name)
{
	pool_off_t off;
	uint64_t g = 0;

	EXPECT_RC(pool_lookup_wait(pool, name, 0, 0, 0, &off, NULL, &g), 0);
	assert_true(g > 0);
	return g;
}

/* The name's generation as pool_names lists it. */
static uint64_t
listed_generation(const char *name)
{
	struct pool_named *pn;
	size_t n, total;
	uint64_t g;

	EXPECT_RC(pool_names(conn, POOL, name, &pn, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pn[0].name, name);
	g = pn[0].generation;
	free(pn);
	return g;
}

/* The daemon logged that one more lookup of pid waits (than before). */
static void
wait_logged(pid_t pid, int before)
{
	char what[64];

	snprintf(what, sizeof(what), "pid %d " WAITS_LINE, (int)pid);
	assert_int_equal(harness_log_wait(&d, what, before, LOG_WAIT_MS), 0);
}

static int
waits_logged_of(pid_t pid)
{
	char what[64];

	snprintf(what, sizeof(what), "pid %d " WAITS_LINE, (int)pid);
	return harness_log_count(&d, what);
}

/* ---- raw requests ------------------------------------------------------ */

static int
raw_client(const char *pool_name, uint32_t *h)
{
	int fd = harness_raw_client(d.sock, "waiter");

	assert_true(fd >= 0);
	*h = harness_raw_handle(fd, pool_name);
	return fd;
}

static void
raw_lookup(int fd, uint64_t id, uint32_t h, const char *name,
	   uint32_t wait_ms, uint64_t after, bool retain)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Lookup lu = POOLMGR__LOOKUP__INIT;

	lu.handle = h;
	lu.name.data = (uint8_t *)name;
	lu.name.len = strlen(name);
	lu.wait_ms = wait_ms;
	lu.after_generation = after;
	lu.retain = retain;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
	req.lookup = &lu;
	assert_int_equal(harness_raw_send(fd, &req), 0);
}

static void
raw_stats(int fd, uint64_t id, uint32_t h)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;

	ref.handle = h;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	assert_int_equal(harness_raw_send(fd, &req), 0);
}

static Poolmgr__Reply *
raw_reply(int fd, uint64_t id)
{
	Poolmgr__Reply *r = harness_raw_reply(fd, id, LONG_WAIT_MS);

	if (!r)
		fail_msg("no reply to request %llu", (unsigned long long)id);
	return r;
}

/* The reply to lookup id: the block at off, with its generation. */
static uint64_t
raw_found(int fd, uint64_t id, pool_off_t off)
{
	Poolmgr__Reply *r = raw_reply(fd, id);
	uint64_t g;

	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_ALLOC);
	assert_int_equal(r->alloc->offset, off);
	g = r->alloc->generation;
	poolmgr__reply__free_unpacked(r, NULL);
	return g;
}

static void
raw_refused(int fd, uint64_t id, int err)
{
	Poolmgr__Reply *r = raw_reply(fd, id);

	if (r->error != err)
		fail_msg("request %llu: %d (%s), expected %d",
			 (unsigned long long)id, r->error,
			 r->message ? r->message : "", err);
	poolmgr__reply__free_unpacked(r, NULL);
}

/*
 * Two round trips of our own, after fd's request was sent: it was read
 * by then, and must not be answered.
 */
static void
unanswered(int fd, const char *what)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	(void)harness_stats(pool);
	(void)harness_stats(pool);
	if (poll(&pfd, 1, 0) != 0)
		fail_msg("%s was answered while it should wait", what);
}

/* ---- waiter_gets_publish ----------------------------------------------- */

struct seen {
	int rc;
	uint64_t off, gen;
	int bytes_ok;
};

static int report_fd = -1;

static int
consumer(void *arg)
{
	const char *name = arg;
	struct pool_conn *c;
	struct pool *p;
	struct seen s = {0};
	pool_off_t off = POOL_OFF_NONE;
	size_t usable = 0, i;
	const unsigned char *b;

	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open_readonly(c, POOL, &p), 0, 3);
	s.rc = pool_lookup_wait(p, name, 0, LONG_WAIT_MS, 0, &off, &usable,
				&s.gen);
	s.off = off;
	if (s.rc == 0) {
		b = pool_ptr(p, off);
		s.bytes_ok = usable >= 3000;
		for (i = 0; i < 3000 && s.bytes_ok; i++)
			s.bytes_ok = b[i] == 'w';
	}
	CHECK(harness_write_full(report_fd, &s, sizeof(s)) == 0, 4);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* A consumer process of name, and the pipe its report comes on. */
static pid_t
consumer_start(const char *name, int *from)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	report_fd = fds[1];
	pid = harness_spawn(consumer, (void *)name);
	close(fds[1]);
	report_fd = -1;
	*from = fds[0];
	return pid;
}

static struct seen
consumer_end(pid_t pid, int from)
{
	struct seen s;

	assert_int_equal(harness_read_full(from, &s, sizeof(s)), 0);
	close(from);
	assert_int_equal(harness_wait(pid), 0);
	return s;
}

static void
waiter_gets_publish(void **state)
{
	struct seen s;
	pool_off_t off;
	pid_t pid;
	int from;

	(void)state;
	pid = consumer_start("a/frame", &from);
	wait_logged(pid, 0);
	off = published("a/frame", 3000, 'w', false);
	s = consumer_end(pid, from);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.off, off);
	assert_true(s.bytes_ok);
	assert_true(s.gen > 0);
	assert_int_equal(s.gen, listed_generation("a/frame"));
	assert_int_equal(s.gen, generation_of("a/frame"));
	EXPECT_RC(pool_unpublish(pool, "a/frame"), 0);
}

/* ---- others_served_meanwhile ------------------------------------------- */

static void
others_served_meanwhile(void **state)
{
	Poolmgr__Reply *r;
	uint32_t h, h2;
	pool_off_t off;
	int fd, fd2;

	(void)state;
	fd = raw_client(POOL, &h);
	fd2 = raw_client(POOL, &h2);
	raw_lookup(fd, 2, h, "b/frame", LONG_WAIT_MS, 0, false);
	raw_stats(fd, 3, h);
	unanswered(fd, "a lookup of a name not there");
	/* Another raw connection is served too. */
	raw_stats(fd2, 2, h2);
	r = raw_reply(fd2, 2);
	assert_int_equal(r->error, 0);
	poolmgr__reply__free_unpacked(r, NULL);
	unanswered(fd, "a lookup of a name not there");
	off = published("b/frame", 100, 'b', false);
	assert_int_equal(raw_found(fd, 2, off), generation_of("b/frame"));
	/* The Stats behind it, answered after it. */
	r = raw_reply(fd, 3);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_STATS);
	poolmgr__reply__free_unpacked(r, NULL);
	close(fd);
	close(fd2);
	EXPECT_RC(pool_unpublish(pool, "b/frame"), 0);
}

/* ---- replace_wakes_newer ----------------------------------------------- */

static void
replace_wakes_newer(void **state)
{
	pool_off_t a, b, off;
	uint64_t g1, g2, g3, g;
	uint32_t h;
	int fd;

	(void)state;
	fd = raw_client(POOL, &h);
	a = published("c/frame", 100, 'a', false);
	g1 = generation_of("c/frame");
	/* Asked for any generation, or an older one: no wait. */
	EXPECT_RC(pool_lookup_wait(pool, "c/frame", g1 - 1, 1000, 0, &off,
				   NULL, &g), 0);
	assert_int_equal(off, a);
	assert_int_equal(g, g1);
	raw_lookup(fd, 2, h, "c/frame", LONG_WAIT_MS, g1, false);
	unanswered(fd, "a lookup after the name's generation");
	b = published("c/frame", 200, 'b', true);
	g2 = raw_found(fd, 2, b);
	assert_true(g2 > g1);
	assert_int_equal(g2, listed_generation("c/frame"));
	/* A replace by the same block: a new frame written in place. */
	raw_lookup(fd, 3, h, "c/frame", LONG_WAIT_MS, g2, false);
	unanswered(fd, "a lookup after the name's generation");
	EXPECT_RC(pool_publish_replace(pool, b, "c/frame"), 0);
	g3 = raw_found(fd, 3, b);
	assert_true(g3 > g2);
	assert_int_equal(g3, listed_generation("c/frame"));
	close(fd);
	EXPECT_RC(pool_unpublish(pool, "c/frame"), 0);
}

/* ---- timeout_changes_nothing ------------------------------------------- */

static void
timeout_changes_nothing(void **state)
{
	struct pool_stats before, after;
	Poolmgr__Reply *r;
	pool_off_t a, off = POOL_OFF_NONE;
	char want[128];
	uint64_t g;
	uint32_t h;
	int fd;

	(void)state;
	a = published("d/frame", 100, 'd', false);
	g = generation_of("d/frame");
	before = harness_stats(pool);
	fd = raw_client(POOL, &h);
	raw_lookup(fd, 2, h, "d/none", 200, 0, true);
	raw_refused(fd, 2, -ETIMEDOUT);
	raw_lookup(fd, 3, h, "d/frame", 200, g, true);
	raw_refused(fd, 3, -ETIMEDOUT);
	/* The connection goes on. */
	raw_stats(fd, 4, h);
	r = raw_reply(fd, 4);
	assert_int_equal(r->error, 0);
	poolmgr__reply__free_unpacked(r, NULL);
	/* And so does the library's. */
	EXPECT_RC(pool_lookup_wait(pool, "d/frame", g, 100,
				   POOL_LOOKUP_RETAIN, &off, NULL, NULL),
		  -ETIMEDOUT);
	assert_int_equal(off, POOL_OFF_NONE);
	/* Its words name the name and the pool, as a wait for room's
	 * name the pool. */
	snprintf(want, sizeof(want), "no generation of 'd/frame' above %llu "
		 "came in pool " POOL " in 100 ms", (unsigned long long)g);
	assert_string_equal(pool_last_message(-ETIMEDOUT), want);
	after = harness_stats(pool);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.named_blocks, before.named_blocks);
	/* No handle took a reference: the name's is the only one. */
	EXPECT_RC(pool_free(pool, a), -EBUSY);
	EXPECT_RAW(harness_raw_free(fd, h, a), -EBUSY);
	assert_int_equal(generation_of("d/frame"), g);
	close(fd);
	EXPECT_RC(pool_unpublish(pool, "d/frame"), 0);
}

/* ---- ran_out_says_what ------------------------------------------------- */

/* A wait of 100 ms on p for name after after runs out, in words want. */
static void
expect_ran_out(struct pool *p, const char *name, uint64_t after,
	       const char *want)
{
	pool_off_t off = POOL_OFF_NONE;

	EXPECT_RC(pool_lookup_wait(p, name, after, 100, 0, &off, NULL, NULL),
		  -ETIMEDOUT);
	assert_int_equal(off, POOL_OFF_NONE);
	assert_string_equal(pool_last_message(-ETIMEDOUT), want);
}

static void
ran_out_says_what(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	char big[POOL_NAME_MAX + 1], name[POOL_BLOCK_NAME_MAX + 1];
	char shown[160], want[384];
	struct pool *p;
	uint64_t g;

	(void)state;
	expect_ran_out(pool, "d/never", 0, "no name 'd/never' came in pool "
		       POOL " in 100 ms");
	(void)published("d/words", 100, 'w', false);
	g = generation_of("d/words");
	snprintf(want, sizeof(want), "no generation of 'd/words' above %llu "
		 "came in pool " POOL " in 100 ms", (unsigned long long)g);
	expect_ran_out(pool, "d/words", g, want);
	/* Gone when the wait began, it waited for one above g all the
	 * same. */
	EXPECT_RC(pool_unpublish(pool, "d/words"), 0);
	expect_ran_out(pool, "d/words", g, want);

	/* The longest name and pool name leave a generation 3 digits at
	 * most, with room for a wait of 10 (the library's whole wait). */
	memset(big, 'p', POOL_NAME_MAX);
	big[POOL_NAME_MAX] = '\0';
	memset(name, 'n', POOL_BLOCK_NAME_MAX);
	name[POOL_BLOCK_NAME_MAX] = '\0';
	snprintf(shown, sizeof(shown), "'%.128s'...", name);
	EXPECT_RC(pool_create(conn, big, &o), 0);
	EXPECT_RC(pool_open_readonly(conn, big, &p), 0);
	snprintf(want, sizeof(want), "no generation of %s above 999 came in "
		 "pool %s in 100 ms", shown, big);
	expect_ran_out(p, name, 999, want);
	snprintf(want, sizeof(want), "no newer generation of %s came in pool "
		 "%s in 100 ms", shown, big);
	expect_ran_out(p, name, 1000, want);
	expect_ran_out(p, name, UINT64_MAX, want);
	pool_close(p);
	EXPECT_RC(pool_destroy(conn, big), 0);
}

/* ---- retain_taken_when_answered ---------------------------------------- */

/*
 * A read-only handle's wait with POOL_LOOKUP_RETAIN holds the block too
 * (poolclient.h): the name goes, the block stays until it lets go.
 */
static void
retain_read_only(void)
{
	struct pool_conn *c;
	struct pool *ro;
	pool_off_t off, found = POOL_OFF_NONE;

	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open_readonly(c, POOL, &ro), 0);
	off = published("e/ro", 100, 'r', false);
	EXPECT_RC(pool_lookup_wait(ro, "e/ro", 0, 1000, POOL_LOOKUP_RETAIN,
				   &found, NULL, NULL), 0);
	assert_int_equal(found, off);
	EXPECT_RC(pool_unpublish(pool, "e/ro"), 0);
	assert_int_equal(harness_stats(pool).live_blocks, 1);
	assert_memory_equal(pool_ptr(ro, off), "rrrr", 4);
	EXPECT_RC(pool_free(ro, off), 0);
	assert_int_equal(harness_stats(pool).live_blocks, 0);
	pool_close(ro);
	pool_disconnect(c);
}

static void
retain_taken_when_answered(void **state)
{
	struct pool_stats st;
	pool_off_t off;
	uint32_t h;
	int fd;

	(void)state;
	fd = raw_client(POOL, &h);
	raw_lookup(fd, 2, h, "e/frame", LONG_WAIT_MS, 0, true);
	unanswered(fd, "a lookup of a name not there");
	off = published("e/frame", 5000, 'e', false);
	(void)raw_found(fd, 2, off);
	/* The name goes; the waiter's reference keeps the block. */
	EXPECT_RC(pool_unpublish(pool, "e/frame"), 0);
	st = harness_stats(pool);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(st.named_blocks, 0);
	assert_memory_equal(pool_ptr(pool, off), "eeee", 4);
	EXPECT_RAW(harness_raw_free(fd, h, off), 0);
	st = harness_stats(pool);
	assert_int_equal(st.live_blocks, 0);
	close(fd);
	retain_read_only();
}

/* ---- took_says_whose_hold ---------------------------------------------- */

/* The waiting lookup id's reply: the block at off; its retained_now. */
static bool
raw_found_took(int fd, uint64_t id, pool_off_t off)
{
	Poolmgr__Reply *r = raw_reply(fd, id);
	bool took;

	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_ALLOC);
	assert_int_equal(r->alloc->offset, off);
	took = r->alloc->retained_now;
	poolmgr__reply__free_unpacked(r, NULL);
	return took;
}

/* pool_lookup_wait_took of name after g, waiting up to ms: its *took. */
static int
took_of(const char *name, uint64_t g, int ms, unsigned flags,
	pool_off_t want)
{
	pool_off_t off = POOL_OFF_NONE;
	int took = -1;

	EXPECT_RC(pool_lookup_wait_took(pool, name, g, ms, flags, &off, NULL,
					NULL, &took), 0);
	assert_int_equal(off, want);
	return took;
}

/*
 * A handle holds a block once, so a retain of one it holds adds nothing:
 * the answer says whether this lookup's retain took the reference, so
 * that a caller that gives back what it took frees exactly that.
 */
static void
took_says_whose_hold(void **state)
{
	pool_off_t off, none = POOL_OFF_NONE;
	uint64_t g;
	uint32_t h;
	int fd, took = 7;

	(void)state;
	off = published("t/frame", 100, 't', false);
	g = generation_of("t/frame");
	assert_int_equal(took_of("t/frame", 0, 0, 0, off), 0);
	assert_int_equal(took_of("t/frame", 0, 0, POOL_LOOKUP_RETAIN, off),
			 1);
	/* Held now: the same lookup takes nothing, waiting or not. */
	assert_int_equal(took_of("t/frame", 0, 0, POOL_LOOKUP_RETAIN, off),
			 0);
	assert_int_equal(took_of("t/frame", 0, 1000, POOL_LOOKUP_RETAIN,
				 off), 0);
	EXPECT_RC(pool_free(pool, off), 0);
	EXPECT_RC(pool_free(pool, off), -EBUSY);
	/* Kept: only a holder may publish the block again, below. */
	assert_int_equal(took_of("t/frame", g - 1, 1000, POOL_LOOKUP_RETAIN,
				 off), 1);
	/* A wait that runs out retained nothing: *took is left alone. */
	EXPECT_RC(pool_lookup_wait_took(pool, "t/frame", g, 100,
					POOL_LOOKUP_RETAIN, &none, NULL, NULL,
					&took), -ETIMEDOUT);
	assert_int_equal(took, 7);
	assert_int_equal(none, POOL_OFF_NONE);

	/* The retain taken as a wait ends says it too. */
	fd = raw_client(POOL, &h);
	raw_lookup(fd, 2, h, "t/frame", LONG_WAIT_MS, g, true);
	unanswered(fd, "a lookup after the name's generation");
	EXPECT_RC(pool_publish_replace(pool, off, "t/frame"), 0);
	assert_true(raw_found_took(fd, 2, off));
	g = generation_of("t/frame");
	raw_lookup(fd, 3, h, "t/frame", LONG_WAIT_MS, g, true);
	unanswered(fd, "a lookup after the name's generation");
	EXPECT_RC(pool_publish_replace(pool, off, "t/frame"), 0);
	assert_false(raw_found_took(fd, 3, off));
	/* One reference, the first lookup's: one free drops it. */
	EXPECT_RAW(harness_raw_free(fd, h, off), 0);
	EXPECT_RAW(harness_raw_free(fd, h, off), -EBUSY);
	close(fd);
	EXPECT_RC(pool_free(pool, off), 0);
	EXPECT_RC(pool_unpublish(pool, "t/frame"), 0);
	assert_int_equal(harness_stats(pool).live_blocks, 0);
}

/* ---- bound_per_uid ------------------------------------------------------ */

#define SHARED		"shared"
#define CONF_SHARE	"max_name_waits = 4\n" \
			"[pool names]\nsize = 16M\n" \
			"[pool bounded]\nsize = 4M\n" \
			"[pool shared]\nsize = 1M\nmode = 0666\n"
#define OTHER_WAIT_MS	300

/* As uid 65534: a lookup of a name not there waits, and runs out. */
static int
other_uid_waits(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)arg;
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, SHARED, &p), 0, 3);
	CHECK_RC(pool_lookup_wait(p, "s/frame", 0, OTHER_WAIT_MS, 0, &off,
				  NULL, NULL), -ETIMEDOUT, 4);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * max_name_waits = 4: one uid waits three times at most in a pool, so that
 * another uid may still wait there: root's fourth is -EAGAIN, in words
 * that name the share, and nobody's lookup waits (its time runs out).
 */
static void
bound_per_uid(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint32_t h[4];
	int fd[4], i;

	(void)state;
	harness_skip_unless_root("run a waiter as another uid");
	assert_int_equal(harness_reload_with(&d, CONF_SHARE), 0);
	for (i = 0; i < 4; i++)
		fd[i] = raw_client(SHARED, &h[i]);
	for (i = 0; i < 3; i++) {
		raw_lookup(fd[i], 2, h[i], "s/frame", LONG_WAIT_MS, 0, false);
		unanswered(fd[i], "one of root's three waiters");
	}
	raw_lookup(fd[3], 2, h[3], "s/frame", LONG_WAIT_MS, 0, false);
	raw_refused(fd[3], 2, -EAGAIN);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, SHARED, &p), 0);
	EXPECT_RC(pool_lookup_wait(p, "s/frame", 0, LONG_WAIT_MS, 0, &off,
				   NULL, NULL), -EAGAIN);
	assert_non_null(strstr(pool_last_message(-EAGAIN), "uid 0 has 3 of "
			       "pool " SHARED "'s waiting lookups; one uid "
			       "may have 3 (three quarters of "
			       "max_name_waits, 4)"));
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(harness_wait(harness_spawn_as(65534, 65534,
						       other_uid_waits, NULL)),
			 0);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	assert_int_equal(harness_reload_with(&d, CONF), 0);
}

/* ---- bound_per_uid_lowered --------------------------------------------- */

#define CONF_SHARE_N(n)	"max_name_waits = " #n "\n" \
			"[pool names]\nsize = 16M\n" \
			"[pool bounded]\nsize = 4M\n" \
			"[pool shared]\nsize = 1M\nmode = 0666\n"
#define ROOT_WAITS	9	/* three quarters of 12 */

/*
 * A reload lowers max_name_waits from 12 to 10 under root's 9 waiting
 * lookups: one uid's share is 8 now, and root's next is -EAGAIN in words
 * that count root's 9, not the share's 8.
 */
static void
bound_per_uid_lowered(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint32_t h[ROOT_WAITS];
	int fd[ROOT_WAITS], i;

	(void)state;
	harness_skip_unless_root("count root's waits as uid 0's");
	assert_int_equal(harness_reload_with(&d, CONF_SHARE_N(12)), 0);
	for (i = 0; i < ROOT_WAITS; i++) {
		fd[i] = raw_client(SHARED, &h[i]);
		raw_lookup(fd[i], 2, h[i], "s/frame", LONG_WAIT_MS, 0, false);
		unanswered(fd[i], "one of root's nine waiters");
	}
	assert_int_equal(harness_reload_with(&d, CONF_SHARE_N(10)), 0);
	unanswered(fd[0], "a waiter of before the reload");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, SHARED, &p), 0);
	EXPECT_RC(pool_lookup_wait(p, "s/frame", 0, LONG_WAIT_MS, 0, &off,
				   NULL, NULL), -EAGAIN);
	if (!strstr(pool_last_message(-EAGAIN), "uid 0 has 9 of pool "
		    SHARED "'s waiting lookups; one uid may have 8 (three "
		    "quarters of max_name_waits, 10)"))
		fail_msg("root's tenth: %s", pool_last_message(-EAGAIN));
	pool_close(p);
	pool_disconnect(c);
	for (i = 0; i < ROOT_WAITS; i++)
		close(fd[i]);
	assert_int_equal(harness_reload_with(&d, CONF), 0);
}

/* ---- bound_and_closed_waiter ------------------------------------------- */

static void
bound_and_closed_waiter(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint32_t ha, hb, hc;
	int a, b, k, gone;

	(void)state;
	a = raw_client(BOUNDED, &ha);
	b = raw_client(BOUNDED, &hb);
	k = raw_client(BOUNDED, &hc);
	raw_lookup(a, 2, ha, "f/frame", LONG_WAIT_MS, 0, false);
	raw_lookup(b, 2, hb, "f/frame", LONG_WAIT_MS, 0, false);
	unanswered(a, "the first waiter");
	unanswered(b, "the second waiter");
	raw_lookup(k, 2, hc, "f/frame", LONG_WAIT_MS, 0, false);
	raw_refused(k, 2, -EAGAIN);
	/* Its words name the bound, not the count as "the most allowed". */
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, BOUNDED, &p), 0);
	EXPECT_RC(pool_lookup_wait(p, "f/frame", 0, LONG_WAIT_MS, 0, &off,
				   NULL, NULL), -EAGAIN);
	assert_non_null(strstr(pool_last_message(-EAGAIN), "pool " BOUNDED
			       " has 2 waiting lookups; max_name_waits is 2"));
	pool_close(p);
	pool_disconnect(c);
	/* A lookup that does not wait is not bounded. */
	raw_lookup(k, 3, hc, "f/frame", 0, 0, false);
	raw_refused(k, 3, -ENOENT);
	/* A's connection closes: its lookup is dropped, its place freed. */
	gone = harness_log_count(&d, "went while its lookup waited: pool "
				 BOUNDED " has 1 waiting lookup\n");
	close(a);
	assert_int_equal(harness_log_wait(&d, "went while its lookup "
					  "waited: pool " BOUNDED " has 1 "
					  "waiting lookup\n", gone, LOG_WAIT_MS),
			 0);
	raw_lookup(k, 4, hc, "f/frame", LONG_WAIT_MS, 0, false);
	unanswered(k, "a waiter in the place freed");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, BOUNDED, &p), 0);
	EXPECT_RC(pool_alloc(p, 64, &off), 0);
	EXPECT_RC(pool_publish(p, off, "f/frame"), 0);
	(void)raw_found(b, 2, off);
	(void)raw_found(k, 4, off);
	assert_true(harness_log_count(&d, "is answered: pool " BOUNDED
				      " has 0 waiting lookups") >= 1);
	EXPECT_RC(pool_unpublish(p, "f/frame"), 0);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	close(b);
	close(k);
}

/* ---- pool_destroyed ---------------------------------------------------- */

/* In a child: a lookup through the library, on a read-write handle. */
static int
doomed_waiter(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)arg;
	CHECK_RC(pool_connect(d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "doomed", &p), 0, 3);
	CHECK_RC(pool_lookup_wait(p, "g/frame", 0, LONG_WAIT_MS, 0, &off,
				  NULL, NULL), -ENOENT, 4);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Until the daemon holds n requests (a waiting lookup is held). */
static void
held_until(uint64_t n)
{
	struct pool_daemon_stats ds;
	uint64_t start = harness_now_ms();

	do {
		EXPECT_RC(pool_daemon_stats(conn, &ds), 0);
		if (ds.held >= n)
			return;
		harness_sleep_ms(5);
	} while (harness_now_ms() - start < LONG_WAIT_MS);
	fail_msg("the daemon holds %llu requests, not %llu",
		 (unsigned long long)ds.held, (unsigned long long)n);
}

static void
pool_destroyed(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	uint32_t h;
	pid_t pid;
	int fd;

	(void)state;
	EXPECT_RC(pool_create(conn, "doomed", &o), 0);
	fd = raw_client("doomed", &h);
	raw_lookup(fd, 2, h, "g/frame", LONG_WAIT_MS, 0, false);
	unanswered(fd, "a lookup in a pool still there");
	EXPECT_RC(pool_destroy_force(conn, "doomed"), 0);
	raw_refused(fd, 2, -ENOENT);
	close(fd);

	EXPECT_RC(pool_create(conn, "doomed", &o), 0);
	pid = harness_spawn(doomed_waiter, NULL);
	held_until(1);
	EXPECT_RC(pool_destroy_force(conn, "doomed"), 0);
	assert_int_equal(harness_wait(pid), 0);
}

/* ---- restart_in_place -------------------------------------------------- */

static void
restart_in_place(void **state)
{
	struct seen s;
	pool_off_t off;
	uint64_t g0;
	size_t at;
	pid_t pid;
	int from, before;

	(void)state;
	(void)published("h/old", 100, 'o', false);
	g0 = generation_of("h/old");
	pid = consumer_start("h/frame", &from);
	wait_logged(pid, 0);
	before = waits_logged_of(pid);
	at = harness_log_mark(&d);
	assert_int_equal(harness_restart_in_place(&d), 0);
	/* Answered as the restart began: it did not wait for the lookup. */
	harness_expect_not_logged_since(&d, at, "waiting for a quiet moment",
					"the restart waited for a waiting "
					"lookup");
	/* The library asked the new image again: the wait goes on there. */
	wait_logged(pid, before);
	assert_int_equal(listed_generation("h/old"), g0);
	off = published("h/frame", 3000, 'w', false);
	s = consumer_end(pid, from);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.off, off);
	assert_true(s.bytes_ok);
	assert_true(s.gen > g0);
	assert_int_equal(s.gen, listed_generation("h/frame"));
	EXPECT_RC(pool_unpublish(pool, "h/frame"), 0);
	EXPECT_RC(pool_unpublish(pool, "h/old"), 0);
}

/* ---- poolctl_shows_generation ----------------------------------------- */

static void
poolctl_shows_generation(void **state)
{
	char out[4096], err[1024], want[64], compact[64];
	uint64_t g;

	(void)state;
	(void)published("i/frame", 100, 'i', false);
	(void)published("i/frame", 100, 'j', true);
	g = generation_of("i/frame");
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "names %s i/", POOL), 0);
	assert_non_null(strstr(out, "GENERATION"));
	snprintf(want, sizeof(want), " %llu no\n", (unsigned long long)g);
	if (!strstr(out, want))
		fail_msg("no generation %llu in %s", (unsigned long long)g,
			 out);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "--json names %s i/",
					 POOL), 0);
	/* Pretty-printed or not. */
	snprintf(want, sizeof(want), "\"generation\": %llu\n",
		 (unsigned long long)g);
	snprintf(compact, sizeof(compact), "\"generation\":%llu",
		 (unsigned long long)g);
	if (!strstr(out, want) && !strstr(out, compact))
		fail_msg("no generation %llu in %s", (unsigned long long)g,
			 out);
	EXPECT_RC(pool_unpublish(pool, "i/frame"), 0);
}

/* ---- consumer_example_waits ------------------------------------------- */

static int
example_consumer(void *arg)
{
	char cmd[512], out[256];

	(void)arg;
	snprintf(cmd, sizeof(cmd), "%s/examples/consumer -w 60 %s j/late",
		 harness_build(), POOL);
	CHECK_RC(harness_run(cmd, out, sizeof(out)), 0, 2);
	CHECK(strcmp(out, "late\n") == 0, 3);
	return 0;
}

static void
consumer_example_waits(void **state)
{
	const char *line = WAITS_LINE ": pool " POOL " has 1 waiting lookup\n";
	char cmd[512], out[512];
	pool_off_t off;
	pid_t pid;
	int before;

	(void)state;
	before = harness_log_count(&d, line);
	pid = harness_spawn(example_consumer, NULL);
	assert_int_equal(harness_log_wait(&d, line, before, LOG_WAIT_MS), 0);
	EXPECT_RC(pool_alloc(pool, 16, &off), 0);
	memcpy(pool_ptr(pool, off), "late", 5);
	EXPECT_RC(pool_publish(pool, off, "j/late"), 0);
	EXPECT_RC(pool_free(pool, off), 0);
	assert_int_equal(harness_wait(pid), 0);
	/* The consumer unpublished it, and with it the block went. */
	EXPECT_RC(pool_lookup(pool, "j/late", &off, NULL), -ENOENT);
	assert_int_equal(harness_stats(pool).live_blocks, 0);

	/* SECONDS that are none: said, with what they may be. */
	snprintf(cmd, sizeof(cmd), "%s/examples/consumer -w 1.5 %s j/late "
		 "2>&1", harness_build(), POOL);
	assert_int_equal(harness_run(cmd, out, sizeof(out)), 2);
	assert_string_equal(out, "consumer: -w: bad SECONDS '1.5' (a whole "
			    "number from 0 to 2147483)\nusage: consumer [-w "
			    "SECONDS] POOL [OFFSET|NAME...]\n");
}

/* ---- consumer_example_pool_gone ------------------------------------------ */

static int
example_consumer_of_gone(void *arg)
{
	const char *want = "consumer: l/never: pool gone was destroyed "
			   "while waiting\n";
	char cmd[512], out[512];

	(void)arg;
	snprintf(cmd, sizeof(cmd), "%s/examples/consumer -w 60 gone "
		 "l/never 2>&1", harness_build());
	CHECK_RC(harness_run(cmd, out, sizeof(out)), 1, 2);
	CHECK(strncmp(out, want, strlen(want)) == 0, 3);
	return 0;
}

/*
 * The example consumer waiting for a name in a pool that is destroyed:
 * the wait ends with -ENOENT, which is the pool's, not the name's (a name
 * that is not there is waited for), and the consumer says so.
 */
static void
consumer_example_pool_gone(void **state)
{
	const char *line = WAITS_LINE ": pool gone has 1 waiting lookup\n";
	struct pool_create_opts co = {.max_size = 1 << 20};
	pid_t pid;
	int before;

	(void)state;
	EXPECT_RC(pool_create(conn, "gone", &co), 0);
	before = harness_log_count(&d, line);
	pid = harness_spawn(example_consumer_of_gone, NULL);
	assert_int_equal(harness_log_wait(&d, line, before, LOG_WAIT_MS), 0);
	EXPECT_RC(pool_destroy_force(conn, "gone"), 0);
	assert_int_equal(harness_wait(pid), 0);
}

/* ---- poolctl_wait ----------------------------------------------------- */

static int
poolctl_waiter(void *arg)
{
	char out[1024], err[256], want[128];
	const uint64_t *off = arg;

	CHECK(harness_poolctl(&d, NULL, out, sizeof(out), err, sizeof(err),
			      "--json wait %s k/late --timeout 60", POOL) == 0,
	      2);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)*off);
	CHECK(strstr(out, "\"generation\"") != NULL, 3);
	CHECK(strstr(out, want) != NULL, 4);
	return 0;
}

static void
poolctl_wait(void **state)
{
	const char *line = WAITS_LINE ": pool " POOL " has 1 waiting lookup\n";
	char out[1024], err[256], want[128];
	uint64_t off;
	pid_t pid;
	int before;

	(void)state;
	/* The block the waiter is to print: made now, published once it waits. */
	EXPECT_RC(pool_alloc(pool, 16, &off), 0);
	before = harness_log_count(&d, line);
	pid = harness_spawn(poolctl_waiter, &off);
	assert_int_equal(harness_log_wait(&d, line, before, LOG_WAIT_MS), 0);
	EXPECT_RC(pool_publish(pool, off, "k/late"), 0);
	EXPECT_RC(pool_free(pool, off), 0);
	assert_int_equal(harness_wait(pid), 0);
	/* There now: printed at once, as `names` prints it. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "wait %s k/late", POOL),
			 0);
	snprintf(want, sizeof(want), "k/late 0x%llx ",
		 (unsigned long long)off);
	if (strncmp(out, want, strlen(want)) != 0)
		fail_msg("poolctl wait printed \"%s\", not \"%s...\"", out,
			 want);
	snprintf(want, sizeof(want), " %llu\n",
		 (unsigned long long)generation_of("k/late"));
	assert_non_null(strstr(out, want));
	EXPECT_RC(pool_unpublish(pool, "k/late"), 0);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "wait %s k/late "
					 "--timeout 1", POOL), 1);
	assert_non_null(strstr(err, "k/late was not published in " POOL
				" within 1 s"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "wait %s k/late "
					 "--timeout 0", POOL), 1);
	assert_non_null(strstr(err, "no such name: k/late"));
}

/* ---- review of the waiting lookups' books -------------------------------- */

/*
 * The Check request walks the waiting lookups too (dispatch_wait_check):
 * it passes with two of them waiting in the pool and one in another, as
 * a waiter hangs up, and after the other pool is destroyed under its
 * waiter; the one left is answered by a publish after all that.
 */
static void
waits_checked(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	uint32_t h1, h2, h3;
	pool_off_t off;
	int fd1, fd2, fd3;

	(void)state;
	EXPECT_RC(pool_create(conn, "checked", &o), 0);
	fd1 = raw_client(POOL, &h1);
	fd2 = raw_client(POOL, &h2);
	fd3 = raw_client("checked", &h3);
	raw_lookup(fd1, 2, h1, "m/frame", LONG_WAIT_MS, 0, false);
	raw_lookup(fd2, 2, h2, "m/other", LONG_WAIT_MS, 0, true);
	raw_lookup(fd3, 2, h3, "m/frame", LONG_WAIT_MS, 0, false);
	unanswered(fd1, "a lookup for a name not published");
	harness_expect_checked(conn, POOL);
	harness_expect_checked(conn, "checked");
	close(fd2);
	harness_expect_checked(conn, POOL);
	EXPECT_RC(pool_destroy_force(conn, "checked"), 0);
	raw_refused(fd3, 2, -ENOENT);
	harness_expect_checked(conn, POOL);
	off = published("m/frame", 64, 'm', false);
	(void)raw_found(fd1, 2, off);
	harness_expect_checked(conn, POOL);
	close(fd1);
	close(fd3);
	EXPECT_RC(pool_unpublish(pool, "m/frame"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(waiter_gets_publish),
		cmocka_unit_test(others_served_meanwhile),
		cmocka_unit_test(replace_wakes_newer),
		cmocka_unit_test(timeout_changes_nothing),
		cmocka_unit_test(ran_out_says_what),
		cmocka_unit_test(retain_taken_when_answered),
		cmocka_unit_test(took_says_whose_hold),
		cmocka_unit_test(bound_and_closed_waiter),
		cmocka_unit_test(bound_per_uid),
		cmocka_unit_test(bound_per_uid_lowered),
		cmocka_unit_test(pool_destroyed),
		cmocka_unit_test(restart_in_place),
		cmocka_unit_test(poolctl_shows_generation),
		cmocka_unit_test(consumer_example_waits),
		cmocka_unit_test(consumer_example_pool_gone),
		cmocka_unit_test(poolctl_wait),
		/* Review of the waiting lookups' books. */
		cmocka_unit_test(waits_checked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
