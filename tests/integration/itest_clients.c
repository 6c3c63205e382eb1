/*
 * itest_clients.c - ListClients, pool_clients and `poolctl clients` when a
 * pool has more open handles than one reply lists.
 *
 *   cut_where_the_datagram_is_full   a client of another uid (nobody),
 *       whose Hello name has 63 bytes, holds 450 handles of a pool whose
 *       name has 64 bytes, each holding the same 48 GiB block (never
 *       written) and 127 small ones of its own, and reporting all of it
 *       cached: entries of about 170 bytes, fewer than 400 of which fill a
 *       datagram.  The raw reply fits one datagram, decodes,
 *       lists as many whole entries as the datagram holds (each with the
 *       holder's pid, uid, gid, name, pool, a handle of its own, 128
 *       blocks and their bytes, all cached) and says how many it left out;
 *       pool_clients_total says the same of the pool and of all pools;
 *       `poolctl clients` prints a line per listed handle, each whole, and
 *       says on stderr how many there are in all; with --json, stdout is
 *       the array of those listed.  (Skipped when not run as root.)
 *   cut_at_400   450 handles with a short name: 400 listed, the reply says
 *       50 left out, and poolctl says 400 of 450.
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
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define GiB (1024ull * 1024 * 1024)
#define NOBODY 65534
#define HANDLES 450
#define MORE_BLOCKS 127		/* 128 blocks: a count of two bytes */
#define BIG_BLOCK (48 * GiB)	/* bytes of six */
#define LISTED_MAX 400		/* docs/protocol.md */
#define DATAGRAM 65536
#define OUT_MAX (1 << 20)
/* 64 and 63 bytes: the longest pool name and client name there are. */
#define LONG_POOL \
	"p123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LONG_NAME \
	"c123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	pid_t holder;
	int release_fd;		/* closing it lets the holder go */
	char out[OUT_MAX];	/* stdout of the last poolctl */
	char err[4096];		/* its stderr */
};

static struct fixture fx = {.release_fd = -1};

/* What the holder was told to do, and what it did. */
struct holder_args {
	const char *sock, *name, *pool;
	uint64_t block;		/* bytes of the block every handle holds */
	size_t more;		/* blocks of 16 bytes each handle has too */
	int ready_fd, release_fd;
	int parents[2];		/* the pipes' other ends: closed in the child */
};

static int
teardown(void **state)
{
	(void)state;
	harness_close_fd(&fx.release_fd);
	if (fx.holder > 0)
		harness_wait(fx.holder);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	fx.release_fd = -1;
	return 0;
}

/* ---- the holder: a raw client (no cmocka in a child) -------------------- */

/*
 * Handle h takes a reference to off (allocates it, if off is UINT64_MAX:
 * then *off is set) and reports all it holds cached; 0 or an error.
 */
static int
raw_hold(int fd, uint32_t h, uint64_t *off, uint64_t size)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Retain r = POOLMGR__RETAIN__INIT;
	int err;

	if (*off == UINT64_MAX)
		err = harness_raw_alloc(fd, h, size, off, NULL);
	else
		err = harness_raw_retain(fd, h, *off);
	if (err)
		return err;
	/* The report rides on a request of its own handle. */
	r.handle = h;
	r.offset = *off;
	req.cache_handle = h;
	req.cache_bytes = UINT64_MAX;	/* all it holds, whatever that is */
	req.body_case = POOLMGR__REQUEST__BODY_RETAIN;	/* held: a no-op */
	req.retain = &r;
	return harness_raw_error(fd, &req, NULL);
}

/* The holder: HANDLES handles, one block, ready, then wait to be let go. */
static int
holder_run(void *arg)
{
	const struct holder_args *a = arg;
	uint64_t off = UINT64_MAX;
	uint32_t h;
	int fd = harness_raw_greeted(a->sock, a->name);
	char c = 'r';

	close(a->parents[0]);
	close(a->parents[1]);	/* else it would never see its release */
	CHECK(fd >= 0, 10);
	for (int i = 0; i < HANDLES; i++) {
		CHECK_RC(harness_raw_open(fd, a->pool, &h), 0, 12);
		CHECK_RC(raw_hold(fd, h, &off, a->block), 0, 13);
		if (a->more)
			CHECK_RC(harness_raw_alloc_many(fd, h, 16, a->more), 0,
				 15);
	}
	CHECK(harness_write_full(a->ready_fd, &c, 1) == 0, 14);
	(void)harness_read_full(a->release_fd, &c, 1);	/* until closed */
	close(fd);
	return 0;
}

/* Start the holder (as uid, unless 0): false if it cannot be (not root). */
static bool
holder_start(uid_t uid, const char *name, const char *pool, uint64_t block,
	     size_t more)
{
	struct holder_args a = {.sock = fx.d.sock, .name = name, .pool = pool,
				.block = block, .more = more};
	int ready[2], release[2];
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	a.ready_fd = ready[1];
	a.release_fd = release[0];
	a.parents[0] = ready[0];
	a.parents[1] = release[1];
	fx.holder = uid ? harness_spawn_as(uid, uid, holder_run, &a)
			: harness_spawn(holder_run, &a);
	close(ready[1]);
	close(release[0]);
	fx.release_fd = release[1];
	if (fx.holder <= 0) {
		fx.holder = 0;
		close(ready[0]);
		return false;
	}
	if (harness_read_full(ready[0], &c, 1) != 0)
		fail_msg("the holder failed: exit %d", harness_wait(fx.holder));
	close(ready[0]);
	return true;
}

/* ---- what the reader sees --------------------------------------------- */

/*
 * ListClients of pool (NULL: all) as a raw datagram: checked to fit one.
 * Received here, not by harness_raw_reply: the test wants the datagram's
 * length, and MSG_TRUNC's to see a reply longer than a datagram.
 */
static Poolmgr__ListClientsReply *
raw_list(const char *pool, Poolmgr__Reply **rep, size_t *len)
{
	static uint8_t buf[DATAGRAM + 1];
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListClients lc = POOLMGR__LIST_CLIENTS__INIT;
	struct pollfd pfd = {.events = POLLIN};
	size_t out;
	ssize_t n;
	int fd = harness_raw_client(fx.d.sock, "reader");

	lc.pool = (char *)(pool ? pool : "");
	req.id = 7;
	req.body_case = POOLMGR__REQUEST__BODY_CLIENTS;
	req.clients = &lc;
	out = poolmgr__request__pack(&req, buf);
	assert_int_equal(send(fd, buf, out, MSG_NOSIGNAL), (ssize_t)out);
	pfd.fd = fd;
	assert_int_equal(poll(&pfd, 1, 30000), 1);
	n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	close(fd);
	assert_true(n > 0 && n <= DATAGRAM);
	*len = (size_t)n;
	*rep = poolmgr__reply__unpack(NULL, (size_t)n, buf);
	assert_non_null(*rep);
	assert_int_equal((*rep)->error, 0);
	assert_int_equal((*rep)->body_case, POOLMGR__REPLY__BODY_CLIENTS);
	return (*rep)->clients;
}

/* Run "poolctl ARGS" (harness_poolctl): output in fx.out and fx.err. */
#define ctl(...) harness_poolctl(&fx.d, NULL, fx.out, sizeof(fx.out), fx.err, \
				 sizeof(fx.err), __VA_ARGS__)

static size_t
count(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/*
 * `poolctl clients [pool]`: a header and a line per listed handle, each
 * naming the holder and the pool whole, and on stderr, listed of total;
 * with --json, an array of the listed alone.
 */
static void
expect_poolctl(const char *pool, const char *name, size_t listed,
	       size_t total)
{
	char said[128];

	snprintf(said, sizeof(said), "%zu of %zu open handles listed",
		 listed, total);
	assert_int_equal(ctl("clients %s", pool ? pool : ""), 0);
	if (count(fx.out, "\n") != listed + 1 ||
	    count(fx.out, name) != listed || !strstr(fx.err, said))
		fail_msg("poolctl clients %s: want %zu lines of %s and \"%s\""
			 "\n--- stdout:\n%s--- stderr:\n%s", pool ? pool : "",
			 listed, name, said, fx.out, fx.err);
	assert_int_equal(ctl("--json clients %s", pool ? pool : ""), 0);
	if (fx.out[0] != '[' || count(fx.out, "\"handle\"") != listed ||
	    !strstr(fx.err, said))
		fail_msg("poolctl --json clients %s: want %zu entries and "
			 "\"%s\"\n--- stdout:\n%.2000s\n--- stderr:\n%s",
			 pool ? pool : "", listed, said, fx.out, fx.err);
}

/* The library's view: n listed, total in all, of pool and of all pools. */
static void
expect_library(const char *pool, size_t listed, size_t total)
{
	const char *which[2] = {pool, NULL};

	for (int i = 0; i < 2; i++) {
		struct pool_client_info *ci;
		size_t n, all;

		assert_int_equal(pool_clients_total(fx.conn, which[i], &ci, &n,
						    &all), 0);
		free(ci);
		assert_int_equal(n, listed);
		assert_int_equal(all, total);
		assert_int_equal(pool_clients(fx.conn, which[i], &ci, &n), 0);
		free(ci);
		assert_int_equal(n, listed);
	}
}

static void
cut_where_the_datagram_is_full(void **state)
{
	Poolmgr__ListClientsReply *lr;
	Poolmgr__Reply *rep;
	uint64_t usable = 0;
	bool seen[HANDLES + 1] = {false};
	size_t len, i;

	(void)state;
	/* Never written: the pool and its share map stay sparse. */
	assert_int_equal(harness_start(&fx.d, "[pool " LONG_POOL "]\n"
				       "size = 64G\nmode = 0666\n"), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	if (!holder_start(NOBODY, LONG_NAME, LONG_POOL, BIG_BLOCK, MORE_BLOCKS))
		skip();		/* another uid needs root */

	lr = raw_list(LONG_POOL, &rep, &len);
	printf("%zu of %d handles listed in a reply of %zu bytes\n",
	       lr->n_clients, HANDLES, len);
	/* Cut by the datagram, not by the count. */
	assert_true(lr->n_clients > 300 && lr->n_clients < LISTED_MAX);
	assert_true(len > DATAGRAM - 2048);
	for (i = 0; i < lr->n_clients; i++) {
		const Poolmgr__ClientInfo *ci = lr->clients[i];

		assert_int_equal(ci->pid, fx.holder);
		assert_int_equal(ci->uid, NOBODY);
		assert_int_equal(ci->gid, NOBODY);
		assert_string_equal(ci->name, LONG_NAME);
		assert_string_equal(ci->pool, LONG_POOL);
		assert_true(ci->handle >= 1 && ci->handle <= HANDLES);
		assert_false(seen[ci->handle]);
		seen[ci->handle] = true;
		assert_false(ci->read_only);
		assert_int_equal(ci->blocks, 1 + MORE_BLOCKS);
		if (!usable)
			usable = ci->bytes;
		assert_true(usable >= BIG_BLOCK + MORE_BLOCKS * 16);
		assert_int_equal(ci->bytes, usable);
		assert_int_equal(ci->cached_bytes, usable);
	}
	if (lr->unlisted != HANDLES - lr->n_clients)
		fail_msg("%zu of %d handles listed; the reply says %u left out",
			 lr->n_clients, HANDLES, lr->unlisted);
	expect_library(LONG_POOL, lr->n_clients, HANDLES);
	expect_poolctl(LONG_POOL, LONG_NAME, lr->n_clients, HANDLES);
	expect_poolctl(NULL, LONG_NAME, lr->n_clients, HANDLES);
	poolmgr__reply__free_unpacked(rep, NULL);
}

static void
cut_at_400(void **state)
{
	Poolmgr__ListClientsReply *lr;
	Poolmgr__Reply *rep;
	size_t len;

	(void)state;
	assert_int_equal(harness_start(&fx.d, "[pool s]\nsize = 64M\n"), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_true(holder_start(0, "short", "s", 64, 0));
	lr = raw_list("s", &rep, &len);
	assert_int_equal(lr->n_clients, LISTED_MAX);
	assert_int_equal(lr->unlisted, HANDLES - LISTED_MAX);
	poolmgr__reply__free_unpacked(rep, NULL);
	expect_library("s", LISTED_MAX, HANDLES);
	expect_poolctl("s", "short", LISTED_MAX, HANDLES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(cut_where_the_datagram_is_full,
					  teardown),
		cmocka_unit_test_teardown(cut_at_400, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
