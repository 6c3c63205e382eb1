/*
 * itest_badinput.c - bad input hurts only the one who sends it.
 *
 * Raw SOCK_SEQPACKET connections send the daemon garbage: random bytes
 * (before and after Hello), every truncation of a valid Hello, a datagram
 * over the 65536-byte bound (before and after Hello), an Alloc before
 * Hello, a Hello of version 99 (answered with -EPROTONOSUPPORT, then
 * closed) and requests with no body or an unknown one (answered with
 * -EOPNOTSUPP, connection kept).  After each: the offending connection is
 * closed within a bounded time, the daemon is alive, a libpoolclient client
 * and a raw connection opened before the garbage still work, and the
 * pool's invariant check passes.
 *
 * Then every bad argument of the API gets its documented code (size 0,
 * bad alignment, larger than the pool, interior and double frees, calloc
 * overflow - also sent raw so the daemon's own check is reached - realloc
 * and usable_size of a non-block), changes nothing, and afterwards a new
 * client works and the check passes; and the refused frees show up in the
 * pool's invalid_frees counter.  A pool name with a newline and a "<2>" in
 * it stays inside its own log line ('?' for the newline).
 *
 * A refusal carries the daemon's own words (pool_last_message): an
 * allocation past a pool's limit says what the pool holds of it, for the
 * code it returned only, in the thread that asked only, until that
 * thread's next request; poolctl ends its error line with them.  One
 * past the quota, or larger than the pool, names that bound and its size.  A call
 * that the library fails itself with that same code (a NULL argument, a
 * reserved word set, an unknown flag) has no words.  The words read as
 * sentences: an existing pool exists, "1 open handle and 1 live block",
 * a mode such as 01000 in octal with its leading 0; a free of a named
 * block by a handle that holds none says the block is named.  A retain
 * of no block, a publish and a persist by a handle that holds none, and a
 * batch of frees each name the block and say which check refused it.
 *
 * -ENOENT says which thing was not found: a connect to a path with no
 * socket has the library's words naming the path (the one given, or
 * $POOLMGRD_SOCKET's), the daemon's name the missing pool or block name;
 * the next request that succeeds clears them.  A block name's refusals
 * (no such name, a name in use) quote it, its odd bytes as \xHH, a long
 * one cut after 128 characters.
 * A name too long, which the library refuses itself (-ENAMETOOLONG) on
 * every call that takes one, has no words, not even right after a
 * connect whose socket path was too long left words for that code.
 *
 * A second Hello is refused and keeps the first one's name (its bytes
 * that are not printable as '?'); a pool of no bytes or past 64 TiB, a
 * pool name of 65 bytes and a Trim naming no pool are refused in the
 * daemon's words, a mode of 0 or past 0777 by pool_create_set in the
 * library's, and nothing is made.  A client that passes the daemon
 * descriptors (1, or 20: more than it has room for) is dropped and the
 * descriptors closed; where the kernel lets the daemon's sockets refuse
 * them (Linux 6.16), its sendmsg fails instead, so that a socket lingering
 * an hour over bytes nobody reads, passed and closed by its sender,
 * holds up no one.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define POOL_NAME	"bad"
#define POOL_CONFIG	"[pool " POOL_NAME "]\nsize = 16M\n"
#define MAX_MESSAGE	65536
#define CLOSE_TIMEOUT_MS 3000
#define REPLY_TIMEOUT_MS 3000
#define KiB (1024ull)
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83	/* Linux 6.16; libc headers may lack it */
#endif
#define MiB (1024ull * KiB)

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;		/* a normal client, opened first */
	struct pool *pool;
	int bystander;			/* a raw connection, greeted */
	int listener;			/* lingering_socket's, or -1 */
	uint64_t next_id;
};

static struct fixture fx = {.bystander = -1, .listener = -1};
static bool quiet;		/* only_sender_dropped prints nothing */

/* ---- raw connections ------------------------------------------------------ */

static int
raw_connect(const char *path)
{
	int fd = harness_raw_connect(path);
	int sndbuf = 512 * 1024;

	if (fd == -1)
		fail_msg("connect %s: %s", path, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return fd;
}

static void
raw_send(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		fail_msg("send of %zu bytes: %s", len, strerror(errno));
	assert_int_equal((size_t)n, len);
}

static void
raw_send_request(int fd, const Poolmgr__Request *r)
{
	size_t len = poolmgr__request__get_packed_size(r);
	uint8_t *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	assert_int_equal(poolmgr__request__pack(r, buf), len);
	raw_send(fd, buf, len);
	free(buf);
}

/* Close every descriptor that came with a message. */
static void
close_passed_fds(struct msghdr *msg)
{
	struct cmsghdr *c;
	size_t i, n;
	int fd;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/*
 * Wait up to timeout_ms for one datagram.  Returns its length, 0 at EOF,
 * -ECONNRESET when the daemon reset the connection, -ETIMEDOUT when
 * nothing came, or another negative errno.  Not harness_raw_reply: these
 * tests tell an end of file, a reset and silence apart, and take replies
 * to requests sent with any id, or none that decodes.
 */
static ssize_t
raw_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	ssize_t n;
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc == -1 && errno == EINTR);
	if (rc == 0)
		return -ETIMEDOUT;
	if (rc < 0)
		return -errno;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	close_passed_fds(&msg);
	return n;
}

/* The next reply, decoded; fails the test on EOF, timeout or garbage. */
static Poolmgr__Reply *
raw_reply(int fd)
{
	static uint8_t buf[MAX_MESSAGE + 1];
	Poolmgr__Reply *r;
	ssize_t n = raw_recv(fd, buf, sizeof(buf), REPLY_TIMEOUT_MS);

	if (n <= 0)
		fail_msg("no reply: %s", n == 0 ? "connection closed" :
			 strerror((int)-n));
	r = poolmgr__reply__unpack(NULL, (size_t)n, buf);
	if (!r)
		fail_msg("a %zd-byte reply that does not decode", n);
	return r;
}

/*
 * Wait until the daemon closes fd: EOF or ECONNRESET.  Datagrams that
 * arrive first are counted in *replies.  Returns 0, or -ETIMEDOUT.
 */
static int
wait_closed(int fd, int timeout_ms, unsigned *replies)
{
	static uint8_t buf[MAX_MESSAGE + 1];
	struct timespec t0, t1;
	long left = timeout_ms;
	ssize_t n;

	*replies = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0) {
		n = raw_recv(fd, buf, sizeof(buf), (int)left);
		if (n == 0 || n == -ECONNRESET)
			return 0;
		if (n == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (n > 0)
			(*replies)++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 +
				     (t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
	return -ETIMEDOUT;
}

static void
raw_hello(int fd, uint32_t version, const char *name, uint64_t id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello h = POOLMGR__HELLO__INIT;

	h.version = version;
	h.client_name = (char *)name;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &h;
	raw_send_request(fd, &req);
}

/* Connect and say a good Hello. */
static int
raw_greeted(const char *name)
{
	int fd = raw_connect(fx.d.sock);
	Poolmgr__Reply *r;

	raw_hello(fd, 1, name, 1);
	r = raw_reply(fd);
	assert_int_equal(r->id, 1);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_HELLO);
	assert_int_equal(r->hello->max_message, MAX_MESSAGE);
	poolmgr__reply__free_unpacked(r, NULL);
	return fd;
}

/* ListPools on a raw connection; the reply must list our pool. */
static void
raw_list_ok(int fd)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools lp = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply *r;
	uint64_t id = ++fx.next_id + 1000;
	size_t i;
	int found = 0;

	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &lp;
	raw_send_request(fd, &req);
	r = raw_reply(fd);
	assert_int_equal(r->id, id);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_LIST);
	for (i = 0; i < r->list->n_pools; i++)
		if (strcmp(r->list->pools[i]->name, POOL_NAME) == 0)
			found = 1;
	poolmgr__reply__free_unpacked(r, NULL);
	assert_true(found);
}

/* OpenPool on a raw connection: returns the handle (the memfd is closed). */
static uint32_t
raw_open(int fd, uint64_t id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool op = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *r;
	uint32_t handle;

	op.name = POOL_NAME;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &op;
	raw_send_request(fd, &req);
	r = raw_reply(fd);
	assert_int_equal(r->id, id);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_OPEN);
	handle = r->open->handle;
	poolmgr__reply__free_unpacked(r, NULL);
	return handle;
}

/* The daemon's words for the last raw_block_call refused, or "". */
static char raw_words[256];

/*
 * Send a request answered by a block (Alloc, Realloc); returns the reply's
 * error and the block's offset in *off.
 */
static int
raw_block_call(int fd, Poolmgr__Request *req, uint64_t *off)
{
	Poolmgr__Reply *r;
	int err;

	raw_send_request(fd, req);
	r = raw_reply(fd);
	assert_int_equal(r->id, req->id);
	err = r->error;
	snprintf(raw_words, sizeof(raw_words), "%s",
		 err && r->message ? r->message : "");
	if (err == 0) {
		assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_ALLOC);
		*off = r->alloc->offset;
	} else {
		assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	}
	poolmgr__reply__free_unpacked(r, NULL);
	return err;
}

/* A raw Alloc; returns the reply's error and the offset in *off. */
static int
raw_alloc(int fd, uint64_t id, uint32_t handle, uint64_t size, int zero,
	  uint64_t nmemb, uint64_t *off)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc al = POOLMGR__ALLOC__INIT;

	al.handle = handle;
	al.size = size;
	al.zero = zero;
	al.nmemb = nmemb;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &al;
	return raw_block_call(fd, &req, off);
}

static int
raw_free(int fd, uint64_t id, uint32_t handle, uint64_t off)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Free fr = POOLMGR__FREE__INIT;
	Poolmgr__Reply *r;
	int err;

	fr.handle = handle;
	fr.offset = off;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_FREE;
	req.free = &fr;
	raw_send_request(fd, &req);
	r = raw_reply(fd);
	assert_int_equal(r->id, id);
	err = r->error;
	poolmgr__reply__free_unpacked(r, NULL);
	return err;
}

/* A raw Realloc; returns the reply's error and the offset in *out. */
static int
raw_realloc(int fd, uint64_t id, uint32_t handle, uint64_t off, uint64_t size,
	    int in_place, uint64_t *out)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc ra = POOLMGR__REALLOC__INIT;

	ra.handle = handle;
	ra.offset = off;
	ra.size = size;
	ra.in_place = in_place;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &ra;
	return raw_block_call(fd, &req, out);
}

/* ---- the fixture ---------------------------------------------------------- */

static void
release_clients(void)
{
	if (fx.bystander >= 0)
		close(fx.bystander);
	fx.bystander = -1;
	if (fx.pool)
		pool_close(fx.pool);
	fx.pool = NULL;
	if (fx.conn)
		pool_disconnect(fx.conn);
	fx.conn = NULL;
}

/* Only after a failure: the test itself stops the daemon and checks it. */
static int
teardown(void **state)
{
	(void)state;
	/* A daemon stuck in a lingering close goes on once it is reset. */
	harness_close_fd(&fx.listener);
	release_clients();
	if (fx.d.pid > 0)
		harness_stop(&fx.d);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.bystander = -1;
	fx.listener = -1;
	quiet = false;
	if (harness_start(&fx.d, POOL_CONFIG) != 0) {
		fprintf(stderr, "harness_start failed\n");
		teardown(state);
		return -1;
	}
	if (pool_connect(fx.d.sock, &fx.conn) != 0 ||
	    pool_open(fx.conn, POOL_NAME, &fx.pool) != 0) {
		fprintf(stderr, "the normal client cannot open %s\n",
			POOL_NAME);
		teardown(state);
		return -1;
	}
	return 0;
}

static void
stop_daemon(void)
{
	release_clients();
	assert_int_equal(harness_stop(&fx.d), 0);
}

static void
check_pool(struct pool_conn *c)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, POOL_NAME, msg, sizeof(msg));

	if (rc)
		fail_msg("pool_check_by_name: %s: %s", pool_strerror(rc), msg);
}

/* The normal client allocates, writes, reads back and frees. */
static void
client_still_works(struct pool *p)
{
	pool_off_t off = POOL_OFF_NONE;
	uint8_t *b;
	int rc = pool_alloc(p, 1000, &off);
	size_t i;

	if (rc)
		fail_msg("pool_alloc after bad input: %s", pool_strerror(rc));
	b = pool_ptr(p, off);
	assert_non_null(b);
	memset(b, 0x3c, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(b[i], 0x3c);
	assert_int_equal(pool_free(p, off), 0);
}

/*
 * The connection that sent the bad input must be closed; everyone else
 * carries on.
 */
static void
only_sender_dropped(int fd, const char *what)
{
	unsigned replies = 0;
	int rc = wait_closed(fd, CLOSE_TIMEOUT_MS, &replies);

	close(fd);
	if (rc)
		fail_msg("%s: connection still open after %d ms", what,
			 CLOSE_TIMEOUT_MS);
	if (!harness_alive(&fx.d))
		fail_msg("%s: the daemon died", what);
	client_still_works(fx.pool);
	if (fx.bystander >= 0)
		raw_list_ok(fx.bystander);
	check_pool(fx.conn);
	if (!quiet)
		printf("badinput: %s: closed (%u replies first), others "
		       "fine\n", what, replies);
	fflush(stdout);
}

/* ---- garbage -------------------------------------------------------------- */

/* Random bytes that do not decode as a Request. */
static size_t
random_garbage(uint8_t *buf, size_t cap)
{
	Poolmgr__Request *r;
	size_t len, i;

	for (;;) {
		len = 1 + (size_t)random() % cap;
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)random();
		r = poolmgr__request__unpack(NULL, len, buf);
		if (!r)
			return len;
		poolmgr__request__free_unpacked(r, NULL);
	}
}

static unsigned
seed_from_env(void)
{
	const char *s = getenv("POOLMGR_SEED");

	return s && *s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)time(NULL);
}

static void
random_bytes_close_only_that_connection(void **state)
{
	uint8_t buf[4096];
	char what[80];
	unsigned seed = seed_from_env(), i;
	size_t len;
	int fd;

	(void)state;
	fx.bystander = raw_greeted("bystander");
	srandom(seed);
	printf("badinput: random garbage, seed %u\n", seed);
	for (i = 0; i < 16; i++) {
		len = random_garbage(buf, sizeof(buf));
		fd = raw_connect(fx.d.sock);
		raw_send(fd, buf, len);
		snprintf(what, sizeof(what), "%zu random bytes first", len);
		only_sender_dropped(fd, what);
	}
	for (i = 0; i < 4; i++) {
		len = random_garbage(buf, sizeof(buf));
		fd = raw_greeted("garbage-after-hello");
		raw_send(fd, buf, len);
		snprintf(what, sizeof(what), "%zu random bytes after Hello",
			 len);
		only_sender_dropped(fd, what);
	}
	stop_daemon();
}

static void
truncated_hello_closes_connection(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello h = POOLMGR__HELLO__INIT;
	Poolmgr__Request *dec;
	uint8_t buf[256];
	char what[80];
	size_t len, cut;
	unsigned undecodable = 0;
	int fd;

	(void)state;
	fx.bystander = raw_greeted("bystander");
	h.version = 1;
	h.client_name = "itest_badinput, a Hello cut short";
	req.id = 0x1234567;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &h;
	len = poolmgr__request__get_packed_size(&req);
	assert_true(len <= sizeof(buf));
	poolmgr__request__pack(&req, buf);
	/* Every cut: undecodable ones and ones that lost the Hello body. */
	quiet = true;
	for (cut = 1; cut < len; cut++) {
		dec = poolmgr__request__unpack(NULL, cut, buf);
		if (dec) {
			assert_int_not_equal(dec->body_case,
					     POOLMGR__REQUEST__BODY_HELLO);
			poolmgr__request__free_unpacked(dec, NULL);
		} else {
			undecodable++;
		}
		fd = raw_connect(fx.d.sock);
		raw_send(fd, buf, cut);
		snprintf(what, sizeof(what), "Hello cut to %zu of %zu bytes%s",
			 cut, len, dec ? " (no body left)" : "");
		only_sender_dropped(fd, what);
	}
	quiet = false;
	printf("badinput: a %zu-byte Hello cut at each of %zu places (%u "
	       "undecodable, %zu without a body): every one closed, others "
	       "fine\n", len, len - 1, undecodable, len - 1 - undecodable);
	assert_true(undecodable > 0);
	stop_daemon();
}

/* A valid Hello whose client name makes it len bytes or a little more. */
static uint8_t *
big_hello(size_t len, size_t *outlen)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello h = POOLMGR__HELLO__INIT;
	char *name = malloc(len + 1);
	uint8_t *buf;

	assert_non_null(name);
	memset(name, 'x', len);
	name[len] = '\0';
	h.version = 1;
	h.client_name = name;
	req.id = 9;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &h;
	*outlen = poolmgr__request__get_packed_size(&req);
	buf = malloc(*outlen);
	assert_non_null(buf);
	poolmgr__request__pack(&req, buf);
	free(name);
	return buf;
}

/* A valid Hello of exactly total bytes. */
static uint8_t *
hello_of_size(size_t total)
{
	size_t name, len;
	uint8_t *buf;

	for (name = total - 16; name < total; name++) {
		buf = big_hello(name, &len);
		if (len == total)
			return buf;
		free(buf);
	}
	fail_msg("no Hello packs to %zu bytes", total);
	return NULL;
}

static void
oversized_datagram_closes_connection(void **state)
{
	size_t len;
	uint8_t *buf = big_hello(70000, &len);
	uint8_t *junk = malloc(70000);
	uint8_t *edge;
	Poolmgr__Reply *r;
	int fd;

	(void)state;
	assert_non_null(junk);
	fx.bystander = raw_greeted("bystander");
	assert_true(len > MAX_MESSAGE);

	/* Well-formed but too long, as the first message. */
	fd = raw_connect(fx.d.sock);
	raw_send(fd, buf, len);
	only_sender_dropped(fd, "a 70000-byte Hello");

	/* Too long after a good Hello. */
	memset(junk, 0, 70000);
	fd = raw_greeted("oversized-after-hello");
	raw_send(fd, junk, 70000);
	only_sender_dropped(fd, "70000 bytes after Hello");
	/* The bound itself: 65536 bytes are fine, 65537 are not. */
	edge = hello_of_size(MAX_MESSAGE);
	fd = raw_connect(fx.d.sock);
	raw_send(fd, edge, MAX_MESSAGE);
	r = raw_reply(fd);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_HELLO);
	poolmgr__reply__free_unpacked(r, NULL);
	raw_list_ok(fd);
	close(fd);
	free(edge);
	edge = hello_of_size(MAX_MESSAGE + 1);
	fd = raw_connect(fx.d.sock);
	raw_send(fd, edge, MAX_MESSAGE + 1);
	only_sender_dropped(fd, "a 65537-byte Hello");
	free(edge);

	free(buf);
	free(junk);
	stop_daemon();
}

static void
alloc_before_hello_closes_connection(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc al = POOLMGR__ALLOC__INIT;
	struct pool_stats before, after;
	unsigned replies = 0;
	int fd;

	(void)state;
	fx.bystander = raw_greeted("bystander");
	assert_int_equal(pool_stats(fx.pool, &before), 0);
	fd = raw_connect(fx.d.sock);
	al.handle = 1;
	al.size = 64;
	req.id = 5;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &al;
	raw_send_request(fd, &req);
	/* Nothing was allocated (counted before the others allocate). */
	assert_int_equal(wait_closed(fd, CLOSE_TIMEOUT_MS, &replies), 0);
	assert_int_equal(pool_stats(fx.pool, &after), 0);
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.live_blocks, before.live_blocks);
	only_sender_dropped(fd, "Alloc before Hello");
	stop_daemon();
}

static void
hello_version_99_refused_then_closed(void **state)
{
	Poolmgr__Reply *r;
	int fd;

	(void)state;
	fx.bystander = raw_greeted("bystander");
	fd = raw_connect(fx.d.sock);
	raw_hello(fd, 99, "from-the-future", 4242);
	r = raw_reply(fd);
	printf("badinput: version 99: reply id %" PRIu64 ", error %d (%s)\n",
	       r->id, r->error, r->message ? r->message : "");
	assert_int_equal(r->id, 4242);
	assert_int_equal(r->error, -EPROTONOSUPPORT);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	poolmgr__reply__free_unpacked(r, NULL);
	only_sender_dropped(fd, "Hello version 99");
	stop_daemon();
}

/* Request{id} followed by field 40, length 0: a body from a newer client. */
static size_t
request_with_unknown_field(uint64_t id, uint8_t *buf, size_t cap)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	const uint32_t tag = 40 << 3 | 2;	/* field 40, length-delimited */
	size_t len;

	req.id = id;
	len = poolmgr__request__get_packed_size(&req);
	assert_true(len + 3 <= cap);
	poolmgr__request__pack(&req, buf);
	buf[len++] = (uint8_t)(0x80 | (tag & 0x7f));	/* varint tag */
	buf[len++] = (uint8_t)(tag >> 7);
	buf[len++] = 0;					/* length 0 */
	return len;
}

static void
expect_eopnotsupp(int fd, uint64_t id)
{
	Poolmgr__Reply *r = raw_reply(fd);

	assert_int_equal(r->id, id);
	assert_int_equal(r->error, -EOPNOTSUPP);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	poolmgr__reply__free_unpacked(r, NULL);
}

static void
unknown_body_refused_connection_kept(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	uint8_t buf[64];
	size_t len;
	uint64_t off = 0;
	uint32_t handle;
	int fd;

	(void)state;
	fd = raw_greeted("newer-client");

	/* No body at all. */
	req.id = 77;
	raw_send_request(fd, &req);
	expect_eopnotsupp(fd, 77);

	/* A body this daemon does not know. */
	len = request_with_unknown_field(78, buf, sizeof(buf));
	raw_send(fd, buf, len);
	expect_eopnotsupp(fd, 78);

	/* The connection is still good for real work. */
	raw_list_ok(fd);
	handle = raw_open(fd, 80);
	assert_int_equal(raw_alloc(fd, 81, handle, 4096, 0, 1, &off), 0);
	assert_int_equal(raw_free(fd, 82, handle, off), 0);
	assert_true(harness_alive(&fx.d));
	client_still_works(fx.pool);
	check_pool(fx.conn);
	close(fd);
	stop_daemon();
}

/* The Hello name of the client holding handle h of POOL_NAME, or fail. */
static void
client_name_of(uint32_t h, char *name, size_t len)
{
	struct pool_client_info *ci = NULL;
	size_t i, n = 0;

	EXPECT_RC(pool_clients(fx.conn, POOL_NAME, &ci, &n), 0);
	for (i = 0; i < n && ci[i].handle != h; i++)
		;
	if (i == n)
		fail_msg("handle %u is not among the %zu clients of %s", h, n,
			 POOL_NAME);
	snprintf(name, len, "%s", ci[i].name);
	free(ci);
}

/*
 * A second Hello on a greeted connection is refused (-EINVAL, saying
 * so) and changes nothing: the name the first one gave stays, and the
 * connection goes on working.  A name with bytes that are not printable
 * (a newline, DEL, a byte above 0x7e) is kept with '?' for each of them,
 * so that what `poolctl clients` and the log show stays on one line.
 */
static void
hello_twice_refused_connection_kept(void **state)
{
	Poolmgr__Reply *r;
	uint64_t off = 0;
	uint32_t handle;
	char name[64];
	int fd;

	(void)state;
	fd = raw_greeted("first\nname\x7f\xc3\xa9");
	raw_hello(fd, 1, "second-name", 90);
	r = raw_reply(fd);
	assert_int_equal(r->id, 90);
	assert_int_equal(r->error, -EINVAL);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	assert_string_equal(r->message, "Hello was already said");
	poolmgr__reply__free_unpacked(r, NULL);

	handle = raw_open(fd, 91);
	assert_int_equal(raw_alloc(fd, 92, handle, 4096, 0, 1, &off), 0);
	client_name_of(handle, name, sizeof(name));
	assert_string_equal(name, "first?name???");
	assert_int_equal(raw_free(fd, 93, handle, off), 0);
	assert_true(harness_alive(&fx.d));
	client_still_works(fx.pool);
	check_pool(fx.conn);
	close(fd);
	stop_daemon();
}

/* ---- descriptors sent to the daemon ---------------------------------------- */

/*
 * req packed and sent on fd with the n descriptors of fds beside it: 0,
 * or -EPERM if the daemon's socket refuses descriptors (SO_PASSRIGHTS).
 */
static int
raw_send_with_fds(int fd, const Poolmgr__Request *req, const int *fds,
		  size_t n)
{
	size_t len = poolmgr__request__get_packed_size(req);
	size_t space = CMSG_SPACE(n * sizeof(int));
	uint8_t buf[256];
	char *control = calloc(1, space);
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = control, .msg_controllen = space};
	struct cmsghdr *c;

	assert_non_null(control);
	assert_true(len <= sizeof(buf));
	assert_int_equal(poolmgr__request__pack(req, buf), len);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)len) {
		if (errno == EPERM) {
			free(control);
			return -EPERM;
		}
		fail_msg("sendmsg with %zu descriptors: %s", n, strerror(errno));
	}
	free(control);
	return 0;
}

/*
 * Does the read end of a pipe see its end of file within CLOSE_TIMEOUT_MS:
 * has every copy of the write end been closed?
 */
static bool
pipe_ends_within_timeout(int rd)
{
	struct pollfd pfd = {.fd = rd, .events = POLLIN};
	char c;

	if (poll(&pfd, 1, CLOSE_TIMEOUT_MS) != 1)
		return false;
	return read(rd, &c, 1) == 0;
}

/* The descriptors the daemon has open. */
static int
daemon_fds(void)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)fx.d.pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * A client that passes the daemon descriptors (the protocol has the daemon
 * send them, never take them) is dropped, with the descriptors closed:
 * one beside a ListPools, and 20 beside another (more than the daemon's
 * room for them: the kernel cuts them short).  The write ends of pipes
 * go, so the read ends here see their end of file once the daemon's
 * copies are closed too.  The daemon's descriptor count is what it was,
 * the log says why the client went, and the others carry on.  Where the
 * kernel lets the daemon's sockets refuse descriptors (Linux 6.16), the
 * sendmsg fails with EPERM instead, nothing reaches the daemon and the
 * sender is served as before.
 */
static void
passed_descriptors_closed_sender_dropped(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools lp = POOLMGR__LIST_POOLS__INIT;
	int rd[20], wr[20], fd, i, before, k, refused = 0;
	size_t counts[] = {1, 20};

	(void)state;
	fx.bystander = raw_greeted("bystander");
	before = daemon_fds();
	for (k = 0; k < 2; k++) {
		size_t n = counts[k];

		for (i = 0; i < (int)n; i++) {
			int pfd[2];

			assert_int_equal(pipe(pfd), 0);
			rd[i] = pfd[0];
			wr[i] = pfd[1];
		}
		fd = raw_greeted("passes-descriptors");
		req.id = 300 + (uint64_t)k;
		req.body_case = POOLMGR__REQUEST__BODY_LIST;
		req.list = &lp;
		if (raw_send_with_fds(fd, &req, wr, n) == -EPERM) {
			raw_list_ok(fd);
			close(fd);
			for (i = 0; i < (int)n; i++) {
				close(wr[i]);
				close(rd[i]);
			}
			refused++;
			continue;
		}
		for (i = 0; i < (int)n; i++)
			close(wr[i]);
		only_sender_dropped(fd, n == 1 ? "a descriptor passed" :
				    "20 descriptors passed");
		for (i = 0; i < (int)n; i++) {
			if (!pipe_ends_within_timeout(rd[i]))
				fail_msg("descriptor %d of %zu passed is still "
					 "open in the daemon", i, n);
			close(rd[i]);
		}
	}
	/* A connection closed by its client goes when the daemon sees it. */
	for (i = 0; i < 500 && daemon_fds() != before; i++)
		harness_sleep_ms(10);
	assert_int_equal(daemon_fds(), before);
	assert_int_equal(harness_log_count(&fx.d, "sent descriptors; "
					   "dropping it"), 2 - refused);
	stop_daemon();
}

/*
 * Does this kernel let a socket refuse descriptors (SO_PASSRIGHTS, Linux
 * 6.16)?  Asked of a socket pair of its own.
 */
static bool
kernel_refuses_descriptors(void)
{
	int sv[2], off = 0;
	bool can;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				    sv), 0);
	can = setsockopt(sv[1], SOL_SOCKET, SO_PASSRIGHTS, &off,
			 sizeof(off)) == 0;
	close(sv[0]);
	close(sv[1]);
	return can;
}

/*
 * A TCP connection over the loopback whose peer reads nothing, with bytes
 * it cannot send and SO_LINGER of an hour: the last close of it waits
 * for them, an hour at most.  Its peer is still in the backlog of the
 * listener in *lfd; closing that resets the connection.
 */
static int
lingering_socket(int *lfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct linger lg = {.l_onoff = 1, .l_linger = 3600};
	struct pollfd pfd = {.events = POLLOUT};
	socklen_t alen = sizeof(a);
	static char junk[64 * 1024];
	int fd, small = 4096;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((*lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
				   0)) >= 0);
	setsockopt(*lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(bind(*lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*lfd, 1), 0);
	assert_int_equal(getsockname(*lfd, (struct sockaddr *)&a, &alen), 0);
	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
				 SOCK_CLOEXEC, 0)) >= 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
		assert_int_equal(errno, EINPROGRESS);
	pfd.fd = fd;
	assert_int_equal(poll(&pfd, 1, REPLY_TIMEOUT_MS), 1);
	while (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg)), 0);
	return fd;
}

/*
 * A client that passes the daemon a socket whose close waits (a TCP
 * connection whose peer reads nothing, lingering an hour) and closes its
 * own copy must not hold the daemon's only thread in that close.  The
 * daemon is stopped while the client sends and closes, so that what the
 * daemon takes in is the last copy.  Its sockets refuse descriptors: the
 * sendmsg fails with EPERM, the daemon never holds the socket, and its
 * sender is still served, as is everyone else.  (The old daemon took it,
 * dropped its sender and closed it: every other client waited until the
 * connection was reset here.)
 */
static void
lingering_socket_passed_stalls_nobody(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools lp = POOLMGR__LIST_POOLS__INIT;
	uint8_t buf[256];
	struct iovec iov = {.iov_base = buf};
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c;
	int sock, fd, sent;

	(void)state;
	if (!kernel_refuses_descriptors()) {
		fprintf(stderr, "skipped: the kernel has no SO_PASSRIGHTS\n");
		skip();
	}
	fx.bystander = raw_greeted("bystander");
	sock = lingering_socket(&fx.listener);
	fd = raw_greeted("passes-a-socket");
	req.id = 400;
	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &lp;
	iov.iov_len = poolmgr__request__pack(&req, buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sock, sizeof(int));
	assert_int_equal(kill(fx.d.pid, SIGSTOP), 0);
	sent = sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ?
	       0 : -errno;
	if (sent) {
		/* Nothing went: this copy is the last one, not to linger. */
		struct linger off = {.l_onoff = 0};

		setsockopt(sock, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
	}
	close(sock);
	assert_int_equal(kill(fx.d.pid, SIGCONT), 0);
	/* Answered at once, whatever became of the socket passed. */
	raw_list_ok(fx.bystander);
	client_still_works(fx.pool);
	assert_int_equal(sent, -EPERM);
	raw_list_ok(fd);
	close(fd);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- bad API input -------------------------------------------------------- */

static void
expect_rc(int got, int want, const char *call)
{
	if (got != want)
		fail_msg("%s: got %d (%s), want %d (%s)", call, got,
			 pool_strerror(got), want, pool_strerror(want));
}

/* How many pools the daemon lists. */
static size_t
pool_count(struct pool_conn *c)
{
	struct pool_stats *all = NULL;
	size_t n = 0;

	EXPECT_RC(pool_list(c, &all, &n), 0);
	free(all);
	return n;
}

/* The daemon's words for a refusal on raw connection fd, which must be want. */
static void
raw_refused_saying(int fd, Poolmgr__Request *req, int want, const char *words)
{
	Poolmgr__Reply *r = harness_raw_expect(fd, req, want);

	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	assert_non_null(r->message);
	assert_string_equal(r->message, words);
	poolmgr__reply__free_unpacked(r, NULL);
}

/*
 * Requests about pools that cannot be served are refused with their code
 * and the daemon's words, and make nothing: a pool larger than 64 TiB, or
 * of no bytes (only a raw request can ask that: the library refuses it
 * itself), a pool made with a mode of 0 or with bits past 0777 by
 * pool_create_set (refused by the library, nothing sent), a pool named by
 * 65 bytes, a Trim that names no pool at all.
 */
static void
pool_requests_refused_make_nothing(void **state)
{
	struct pool_create_opts co = {.max_size = (64ull << 40) + 1};
	struct pool_set_opts so = {.which = POOL_SET_MODE};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Trim trim = POOLMGR__TRIM__INIT;
	struct pool_stats st;
	char long_name[66];
	size_t before;
	int fd;

	(void)state;
	before = pool_count(fx.conn);
	expect_rc(pool_create(fx.conn, "huge", &co), -EINVAL,
		  "pool_create of 64 TiB and a byte");
	assert_string_equal(pool_last_message(-EINVAL),
			    "size must be 1 byte to 64 TiB");
	expect_rc(pool_stats_by_name(fx.conn, "huge", &st), -ENOENT,
		  "stats of the pool refused");

	co.max_size = 1 << 20;
	so.mode = 0;
	expect_rc(pool_create_set(fx.conn, "modeless", &co, &so), -EINVAL,
		  "pool_create_set with mode 0");
	so.mode = 01777;
	expect_rc(pool_create_set(fx.conn, "modeless", &co, &so), -EINVAL,
		  "pool_create_set with mode 01777");
	so.mode = 0640;
	so.which |= 1u << 30;
	expect_rc(pool_create_set(fx.conn, "modeless", &co, &so), -EINVAL,
		  "pool_create_set with an unknown setting");
	expect_rc(pool_stats_by_name(fx.conn, "modeless", &st), -ENOENT,
		  "stats of the pool refused");

	fd = raw_greeted("pool-requests");
	cp.name = "empty";
	cp.max_size = 0;
	req.id = 200;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	raw_refused_saying(fd, &req, -EINVAL, "size must be 1 byte to 64 TiB");

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ref.name = long_name;
	req.id = 201;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	raw_refused_saying(fd, &req, -ENAMETOOLONG,
			   "pool name longer than 64");

	req.id = 202;
	req.body_case = POOLMGR__REQUEST__BODY_TRIM;
	req.trim = &trim;
	raw_refused_saying(fd, &req, -EINVAL, "no pool named");

	/* Nothing was made; the connection and the daemon serve on. */
	raw_list_ok(fd);
	close(fd);
	assert_int_equal(pool_count(fx.conn), before);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

static void
bad_api_input_gets_its_code(void **state)
{
	struct pool *p;
	struct pool_stats before, after;
	struct pool_conn *c2 = NULL;
	struct pool *p2 = NULL;
	pool_off_t a, b, out, free_spot;
	size_t us = 0;
	uint8_t *bp;
	size_t i;
	int fd;
	uint32_t handle;
	uint64_t roff = 0;

	(void)state;
	p = fx.pool;
	assert_int_equal(pool_stats(p, &before), 0);

	out = 1;
	expect_rc(pool_alloc(p, 0, &out), -EINVAL, "pool_alloc(0)");
	expect_rc(pool_alloc_aligned(p, 64, 3, &out), -EINVAL,
		  "pool_alloc_aligned(64, 3)");
	expect_rc(pool_alloc_aligned(p, 64, 48, &out), -EINVAL,
		  "pool_alloc_aligned(64, 48)");
	expect_rc(pool_alloc_aligned(p, 64, 0, &out), -EINVAL,
		  "pool_alloc_aligned(64, 0)");
	expect_rc(pool_alloc(p, 32 * MiB, &out), -EFBIG,
		  "pool_alloc(32 MiB) in a 16 MiB pool");

	assert_int_equal(pool_alloc(p, 256, &a), 0);
	assert_int_equal(pool_alloc(p, 256, &b), 0);
	bp = pool_ptr(p, b);
	memset(bp, 0x77, 256);
	free_spot = pool_size(p) / 2;	/* nothing lives there yet */

	expect_rc(pool_free(p, a + 16), -EINVAL, "pool_free(interior + 16)");
	expect_rc(pool_free(p, a + 1), -EINVAL, "pool_free(interior + 1)");
	expect_rc(pool_free(p, free_spot), -EINVAL, "pool_free(free space)");
	expect_rc(pool_free(p, pool_size(p) + 4096), -EINVAL,
		  "pool_free(past the end)");
	expect_rc(pool_usable_size(p, a + 16, &us), -EINVAL,
		  "pool_usable_size(interior)");
	expect_rc(pool_usable_size(p, a, &us), 0, "pool_usable_size(a)");
	assert_true(us >= 256);

	expect_rc(pool_calloc(p, SIZE_MAX / 2 + 1, 2, &out), -EOVERFLOW,
		  "pool_calloc(SIZE_MAX/2 + 1, 2)");
	expect_rc(pool_calloc(p, (size_t)1 << 33, (size_t)1 << 31, &out),
		  -EOVERFLOW, "pool_calloc(2^33, 2^31)");

	out = 0xdead;
	expect_rc(pool_realloc(p, b + 32, 512, &out), -EINVAL,
		  "pool_realloc(interior)");
	expect_rc(pool_realloc(p, free_spot, 512, &out), -EINVAL,
		  "pool_realloc(free space)");
	assert_int_equal(out, 0xdead);
	for (i = 0; i < 256; i++)
		assert_int_equal(bp[i], 0x77);

	/* Double free: the first one is good, the second is not. */
	expect_rc(pool_free(p, a), 0, "pool_free(a)");
	expect_rc(pool_free(p, a), -EINVAL, "pool_free(a) again");
	expect_rc(pool_realloc(p, a, 512, &out), -EINVAL,
		  "pool_realloc(freed block)");
	assert_int_equal(out, 0xdead);

	/* The daemon's own overflow check, without the library's. */
	fd = raw_greeted("raw-calloc");
	handle = raw_open(fd, 2);
	expect_rc(raw_alloc(fd, 3, handle, UINT64_MAX / 2 + 1, 1, 4, &roff),
		  -EOVERFLOW, "raw Alloc{zero, size 2^63, nmemb 4}");
	assert_string_equal(raw_words, "nmemb 4 * size 9223372036854775808 "
			    "overflows 64 bits");
	expect_rc(raw_alloc(fd, 4, handle, 0, 0, 1, &roff), -EINVAL,
		  "raw Alloc{size 0}");
	/* Zeroed and aligned: the daemon cannot do both, and says so
	 * (it once gave an unaligned block). */
	{
		Poolmgr__Request req = POOLMGR__REQUEST__INIT;
		Poolmgr__Alloc al = POOLMGR__ALLOC__INIT;

		al.handle = handle;
		al.size = 100;
		al.zero = 1;
		al.nmemb = 1;
		al.align = 4096;
		req.id = 7;
		req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
		req.alloc = &al;
		expect_rc(raw_block_call(fd, &req, &roff), -EINVAL,
			  "raw Alloc{zero, align 4096}");
	}
	expect_rc(raw_free(fd, 5, handle, b), -EPERM,
		  "raw Free of another handle's block");
	expect_rc(raw_free(fd, 6, handle + 100, b), -EBADF,
		  "raw Free on a handle that does not exist");
	close(fd);

	assert_int_equal(pool_stats(p, &after), 0);
	printf("badinput: after bad calls: live blocks %" PRIu64 " (was %"
	       PRIu64 "), invalid_frees %" PRIu64 " (was %" PRIu64 "), "
	       "failed_allocs %" PRIu64 " (was %" PRIu64 ")\n",
	       after.live_blocks, before.live_blocks, after.invalid_frees,
	       before.invalid_frees, after.failed_allocs,
	       before.failed_allocs);
	fflush(stdout);
	assert_int_equal(after.live_blocks, before.live_blocks + 1);
	for (i = 0; i < 256; i++)
		assert_int_equal(bp[i], 0x77);
	expect_rc(pool_free(p, b), 0, "pool_free(b)");

	/* Another client works, and so does this one. */
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, POOL_NAME, &p2), 0);
	client_still_works(p2);
	client_still_works(p);
	check_pool(c2);
	pool_close(p2);
	pool_disconnect(c2);
	assert_true(harness_alive(&fx.d));
	stop_daemon();
}

/*
 * Realloc with in_place (what libpoolclient sends for big blocks, which it
 * then moves itself) never moves a block: -EAGAIN, in words that name the
 * block and the size, and the block is as it was; shrinking and growing into free room still work in place, and the
 * same request without the flag moves it.
 */
static void
realloc_in_place_never_moves(void **state)
{
	struct pool_stats before, after;
	uint64_t a, b, out = 0;
	char want[128];
	uint32_t handle;
	int fd;

	(void)state;
	fd = raw_greeted("in-place");
	handle = raw_open(fd, 2);
	assert_int_equal(raw_alloc(fd, 3, handle, 256 << 10, 0, 1, &a), 0);
	assert_int_equal(raw_alloc(fd, 4, handle, 256 << 10, 0, 1, &b), 0);
	assert_int_equal(b, a + (256 << 10));	/* nothing free after a */
	assert_int_equal(pool_stats(fx.pool, &before), 0);

	assert_int_equal(raw_realloc(fd, 5, handle, a, 300 << 10, 1, &out),
			 -EAGAIN);
	snprintf(want, sizeof(want), "block 0x%llx cannot change size in "
		 "place to 307200 bytes: it would have to move",
		 (unsigned long long)a);
	assert_string_equal(raw_words, want);
	assert_int_equal(pool_stats(fx.pool, &after), 0);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.failed_allocs, before.failed_allocs);

	assert_int_equal(raw_realloc(fd, 6, handle, a, 128 << 10, 1, &out), 0);
	assert_int_equal(out, a);		/* shrunk where it is */
	assert_int_equal(raw_realloc(fd, 7, handle, a, 256 << 10, 1, &out), 0);
	assert_int_equal(out, a);		/* and grown back into it */
	assert_int_equal(raw_realloc(fd, 8, handle, a, 300 << 10, 0, &out), 0);
	assert_true(out != a);			/* moved without the flag */
	assert_int_equal(raw_free(fd, 9, handle, a), -EINVAL);
	assert_int_equal(raw_free(fd, 10, handle, out), 0);
	assert_int_equal(raw_free(fd, 11, handle, b), 0);
	close(fd);
	check_pool(fx.conn);
}

/*
 * heap.h defines invalid_frees as the frees refused with -EINVAL, and
 * poolctl exports it as poolmgr_pool_invalid_frees_total: every refused
 * free through the API must count.
 */
static void
invalid_frees_are_counted(void **state)
{
	struct pool_stats before, after;
	pool_off_t a = POOL_OFF_NONE, batch[2];
	struct pool *p = fx.pool;
	int refused = 0;

	(void)state;
	assert_int_equal(pool_alloc(p, 256, &a), 0);
	/* Blocks a cache refill brought along go now, not in the count. */
	assert_int_equal(pool_flush(p), 0);
	assert_int_equal(pool_stats(p, &before), 0);
	refused += pool_free(p, a + 16) == -EINVAL;
	refused += pool_free(p, pool_size(p) / 2) == -EINVAL;
	assert_int_equal(pool_free(p, a), 0);
	refused += pool_free(p, a) == -EINVAL;
	/* A realloc frees its block: one of no live block is a bad free. */
	refused += pool_realloc(p, a, 512, &batch[0]) == -EINVAL;
	assert_int_equal(refused, 4);
	assert_int_equal(pool_stats(p, &after), 0);
	printf("badinput: 4 frees refused with -EINVAL: invalid_frees %"
	       PRIu64 " -> %" PRIu64 ", frees %" PRIu64 " -> %" PRIu64 "\n",
	       before.invalid_frees, after.invalid_frees, before.frees,
	       after.frees);
	fflush(stdout);
	assert_int_equal(after.frees - before.frees, 1);
	assert_int_equal(after.invalid_frees - before.invalid_frees, 4);
	/*
	 * A FreeBatch refused for an offset no live block starts at, or for
	 * a block twice (a double free in one request), is one refused free
	 * too, and frees nothing.
	 */
	assert_int_equal(pool_alloc(p, 256, &batch[0]), 0);
	assert_int_equal(pool_flush(p), 0);
	assert_int_equal(pool_stats(p, &before), 0);
	batch[1] = batch[0] + 16;
	assert_int_equal(pool_free_batch(p, 2, batch), -EINVAL);
	batch[1] = batch[0];
	assert_int_equal(pool_free_batch(p, 2, batch), -EINVAL);
	assert_int_equal(pool_stats(p, &after), 0);
	assert_int_equal(after.invalid_frees - before.invalid_frees, 2);
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(pool_free_batch(p, 1, batch), 0);
	check_pool(fx.conn);
	stop_daemon();
}

/*
 * A pool name that holds a newline and a priority: the daemon quotes it in
 * its (debug) log, and it must not start a line of its own there, which
 * journald would file as a record of the priority the client chose.
 */
static void
names_cannot_forge_log_lines(void **state)
{
	static char log[256 * 1024];
	const char *forged = "x\n<2>poolmgrd: pool " POOL_NAME ": FORGED";
	struct pool *p = NULL;

	(void)state;
	assert_int_equal(pool_open(fx.conn, forged, &p), -ENOENT);
	assert_null(p);
	client_still_works(fx.pool);
	harness_read_text(fx.d.log, log, sizeof(log));
	if (!strstr(log, "x?<2>poolmgrd: pool " POOL_NAME ": FORGED"))
		fail_msg("the name is not in the log as one line:\n%s", log);
	if (strstr(log, "\n<2>"))
		fail_msg("a client's name made a line of its own:\n%s", log);
	stop_daemon();
}

/* ---- refusals_carry_the_daemons_words ------------------------------------ */

static const char *other_thread_words;

static void *
read_words(void *arg)
{
	(void)arg;
	other_thread_words = pool_last_message(-ENOMEM);
	return NULL;
}

static void
refusals_carry_the_daemons_words(void **state)
{
	struct pool_create_opts co = {.max_size = 16 * MiB, .mode = 0600};
	struct pool_set_opts so = {.which = POOL_SET_LIMIT, .limit = MiB};
	char out[4096], err[4096];
	struct pool *p = NULL;
	pool_off_t a, b;
	pthread_t t;
	const char *w;

	(void)state;
	assert_int_equal(pool_create_set(fx.conn, "lim", &co, &so), 0);
	assert_int_equal(pool_open(fx.conn, "lim", &p), 0);
	assert_int_equal(pool_alloc(p, 768 * KiB, &a), 0);
	expect_rc(pool_alloc(p, 768 * KiB, &b), -ENOMEM,
		  "pool_alloc(768 KiB) past a 1 MiB limit");
	w = pool_last_message(-ENOMEM);
	if (!strstr(w, "pool lim holds 768.0 KiB of its 1.0 MiB limit"))
		fail_msg("the refusal's words: \"%s\"", w);
	assert_string_equal(pool_last_message(-EINVAL), "");
	assert_int_equal(pthread_create(&t, NULL, read_words, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(other_thread_words, "");
	/* The next request of the thread, answered: no words left over. */
	assert_int_equal(pool_free(p, a), 0);
	assert_string_equal(pool_last_message(-ENOMEM), "");
	pool_close(p);

	assert_int_equal(harness_poolctl(&fx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "set lim --limit 1T"),
			 1);
	if (!strstr(err, "; poolmgrd says: a limit above the pool's size: "
			 "1099511627776 of 16777216 bytes\n"))
		fail_msg("poolctl said: %s", err);
	assert_int_equal(pool_destroy(fx.conn, "lim"), 0);
	stop_daemon();
}

/* ---- bounds_are_named_in_the_words ---------------------------------------- */

/*
 * An allocation past the connection's quota, or larger than the whole
 * pool, is refused in words that name the pool and the bound with its
 * size, which the code's text alone does not give; so is a persist past
 * what the uid may persist under that quota.
 */
static void
bounds_are_named_in_the_words(void **state)
{
	struct pool_create_opts co = {.max_size = MiB, .mode = 0600,
				      .quota = 256 * KiB};
	struct pool *p = NULL, *p2 = NULL;
	struct pool_conn *c2 = NULL;
	pool_off_t a, b;
	char want[256];
	const char *w;

	(void)state;
	assert_int_equal(pool_create(fx.conn, "quo", &co), 0);
	assert_int_equal(pool_open(fx.conn, "quo", &p), 0);
	assert_int_equal(pool_alloc(p, 200 * KiB, &a), 0);
	expect_rc(pool_alloc(p, 100 * KiB, &b), -EDQUOT,
		  "pool_alloc(100 KiB) past a 256 KiB quota");
	w = pool_last_message(-EDQUOT);
	if (!strstr(w, "allocating 102400 bytes would pass pool quo's quota "
		       "of 256.0 KiB per connection"))
		fail_msg("the quota's refusal: \"%s\"", w);
	expect_rc(pool_alloc(p, 2 * MiB, &b), -EFBIG,
		  "pool_alloc(2 MiB) in a pool of 1 MiB");
	w = pool_last_message(-EFBIG);
	if (!strstr(w, "allocating 2097152 bytes: more than pool quo's size, "
		       "1.0 MiB"))
		fail_msg("the size's refusal: \"%s\"", w);
	/*
	 * What the uid persists counts against each of its connections'
	 * quotas: another connection's 200 KiB persisted, this one's 200
	 * KiB would pass 256 KiB.  The words name the pool, the quota's
	 * size and what the uid persists, which this connection cannot see.
	 */
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, "quo", &p2), 0);
	assert_int_equal(pool_alloc(p2, 200 * KiB, &b), 0);
	assert_int_equal(pool_persist(p2, b), 0);
	expect_rc(pool_persist(p, a), -EDQUOT,
		  "pool_persist past what the uid may persist");
	snprintf(want, sizeof(want), "uid %u would persist more than the "
		 "pool's quota: pool quo's is 256.0 KiB per connection, and "
		 "the uid's persistent blocks there hold 200.0 KiB",
		 (unsigned)getuid());
	w = pool_last_message(-EDQUOT);
	if (strcmp(w, want) != 0)
		fail_msg("the persist's refusal: \"%s\"", w);
	assert_int_equal(pool_free(p2, b), 0);
	assert_int_equal(pool_free_persisted(p2, b, 0), 0);
	pool_close(p2);
	pool_disconnect(c2);
	assert_int_equal(pool_free(p, a), 0);
	pool_close(p);
	assert_int_equal(pool_destroy(fx.conn, "quo"), 0);
	stop_daemon();
}

/* ---- local_failures_leave_no_words ---------------------------------------- */

#define TOO_LARGE_WORDS "a limit above the pool's size"

/*
 * The daemon refuses a limit past pool name's size with -EINVAL, and says
 * so in its words; the test fails if they are not there.
 */
static void
refused_with_words(struct pool_conn *c, const char *name)
{
	struct pool_set_opts so = {.which = POOL_SET_LIMIT,
				   .limit = 1ull << 40};
	const char *w;

	expect_rc(pool_set(c, name, &so), -EINVAL,
		  "pool_set of a limit past the pool's size");
	w = pool_last_message(-EINVAL);
	if (!strstr(w, TOO_LARGE_WORDS))
		fail_msg("the refusal's words: \"%s\"", w);
}

/* After a -EINVAL the library found itself, what words are left for it. */
static void
expect_no_words(const char *call)
{
	const char *w = pool_last_message(-EINVAL);

	if (w != NULL && *w != '\0')
		fail_msg("%s, refused without asking poolmgrd, has an earlier "
			 "refusal's words: \"%s\"", call, w);
}

/*
 * A call the library fails itself, with the code of the daemon's last
 * refusal of the thread's requests, must not be given that refusal's
 * words: each call here follows a refusal with words, of the same code.
 */
static void
local_failures_leave_no_words(void **state)
{
	struct pool_create_opts co = {.max_size = 16 * MiB, .mode = 0600};
	struct pool_set_opts so = {.which = POOL_SET_MODE, .mode = 0600};
	struct pool_stats st;
	struct pool *p = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(pool_create(fx.conn, "lw", &co), 0);

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_set(fx.conn, "lw", NULL), -EINVAL, "pool_set(NULL)");
	expect_no_words("pool_set(NULL)");

	refused_with_words(fx.conn, "lw");
	so.reserved = 1;
	expect_rc(pool_set(fx.conn, "lw", &so), -EINVAL,
		  "pool_set with a reserved word set");
	expect_no_words("pool_set with a reserved word set");

	refused_with_words(fx.conn, "lw");
	co.flags = 0x80;
	expect_rc(pool_create(fx.conn, "lw2", &co), -EINVAL,
		  "pool_create with an unknown flag");
	expect_no_words("pool_create with an unknown flag");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_stats_by_name(fx.conn, NULL, &st), -EINVAL,
		  "pool_stats_by_name(NULL)");
	expect_no_words("pool_stats_by_name(NULL)");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_open(fx.conn, NULL, &p), -EINVAL, "pool_open(NULL)");
	expect_no_words("pool_open(NULL)");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_list(fx.conn, NULL, &n), -EINVAL, "pool_list(NULL)");
	expect_no_words("pool_list(NULL)");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_connect(fx.d.sock, NULL), -EINVAL,
		  "pool_connect(NULL)");
	expect_no_words("pool_connect(NULL)");

	/*
	 * The lists in words ask the daemon nothing: what is wrong with
	 * the text is in err, never the last refusal's words.
	 */
	{
		struct pool_acl_entry e = {.kind = 9, .id = 1};
		char err[128], text[64];

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_acl_parse("user:1:rwx", 0, &e, 1, err,
					 sizeof(err)), -EINVAL,
			  "pool_acl_parse of rights it cannot read");
		expect_no_words("pool_acl_parse of rights it cannot read");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_acl_parse(NULL, 0, &e, 1, err, sizeof(err)),
			  -EINVAL, "pool_acl_parse(NULL)");
		expect_no_words("pool_acl_parse(NULL)");

		e.kind = 9;	/* the parse may have begun to fill it */
		refused_with_words(fx.conn, "lw");
		expect_rc(pool_acl_format(&e, 1, 0, text, sizeof(text)),
			  -EINVAL, "pool_acl_format of an entry of no kind");
		expect_no_words("pool_acl_format of an entry of no kind");
	}

	/* The calls on an open pool's blocks and names. */
	assert_int_equal(pool_open(fx.conn, "lw", &p), 0);
	{
		pool_off_t off;

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_alloc(p, 0, &off), -EINVAL, "pool_alloc(0)");
		expect_no_words("pool_alloc(0)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_alloc_aligned(p, 64, 3, &off), -EINVAL,
			  "pool_alloc_aligned(3)");
		expect_no_words("pool_alloc_aligned(3)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_calloc(p, 0, 8, &off), -EINVAL,
			  "pool_calloc(0, 8)");
		expect_no_words("pool_calloc(0, 8)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_alloc_batch(p, 1, NULL, &off), -EINVAL,
			  "pool_alloc_batch without sizes");
		expect_no_words("pool_alloc_batch without sizes");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_usable_size(p, 0, NULL), -EINVAL,
			  "pool_usable_size(NULL)");
		expect_no_words("pool_usable_size(NULL)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_publish(p, 0, ""), -EINVAL,
			  "pool_publish of an empty name");
		expect_no_words("pool_publish of an empty name");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_lookup(p, NULL, &off, NULL), -EINVAL,
			  "pool_lookup(NULL)");
		expect_no_words("pool_lookup(NULL)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_unpublish(p, NULL), -EINVAL,
			  "pool_unpublish(NULL)");
		expect_no_words("pool_unpublish(NULL)");
	}
	pool_close(p);

	/* Asked again, the daemon's refusal still has its words. */
	refused_with_words(fx.conn, "lw");
	assert_int_equal(pool_destroy(fx.conn, "lw"), 0);
	expect_rc(pool_stats_by_name(fx.conn, "lw2", &st), -ENOENT,
		  "pool_stats_by_name of a pool never made");
	stop_daemon();
}

/* ---- refusals_say_what_they_mean ------------------------------------------ */

/* The words of the thread's last refusal with code rc are exactly want. */
static void
expect_words(int rc, const char *want, const char *call)
{
	const char *w = pool_last_message(rc);

	if (w == NULL || strcmp(w, want) != 0)
		fail_msg("%s: poolmgrd said \"%s\", not \"%s\"", call,
			 w ? w : "(none)", want);
}

/*
 * The words say what is wrong as a sentence would: an existing pool is
 * said to exist, a count of one takes the singular, a mode is octal with
 * its leading 0.  Each refused request changed nothing.
 */
static void
refusals_say_what_they_mean(void **state)
{
	struct pool_create_opts co = {.max_size = MiB, .mode = 0600};
	struct pool_stats st;
	pool_off_t off;

	(void)state;
	expect_rc(pool_create(fx.conn, POOL_NAME, &co), -EEXIST,
		  "pool_create of an existing pool");
	expect_words(-EEXIST, "pool " POOL_NAME " exists",
		     "pool_create of an existing pool");
	assert_int_equal(pool_stats_by_name(fx.conn, POOL_NAME, &st), 0);
	assert_int_equal(st.max_size, 16 * MiB);

	co.mode = 01000;
	expect_rc(pool_create(fx.conn, "sticky", &co), -EINVAL,
		  "pool_create with mode 01000");
	expect_words(-EINVAL, "mode 01000 has bits beyond 0777",
		     "pool_create with mode 01000");
	expect_rc(pool_stats_by_name(fx.conn, "sticky", &st), -ENOENT,
		  "pool_stats_by_name of a pool refused");

	/* One handle (the fixture's) and one block: both singular. */
	assert_int_equal(pool_alloc(fx.pool, 64, &off), 0);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_rc(pool_destroy(fx.conn, POOL_NAME), -EBUSY,
		  "pool_destroy of a pool in use");
	expect_words(-EBUSY, "pool " POOL_NAME " has 1 open handle and 1 "
		     "live block", "pool_destroy of a pool in use");
	assert_int_equal(pool_free(fx.pool, off), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- free_of_a_named_block_says_so ---------------------------------------- */

/*
 * A free of a named block by a handle that holds none of it is -EBUSY,
 * and the words say why: the block is live, its name holds it (they once
 * said it was no live block, as for an offset of nothing).  The block
 * stays, found by its name, until it is unpublished.
 */
static void
free_of_a_named_block_says_so(void **state)
{
	char want[128];
	pool_off_t off, found;

	(void)state;
	assert_int_equal(pool_alloc(fx.pool, 64, &off), 0);
	assert_int_equal(pool_publish(fx.pool, off, "kept"), 0);
	assert_int_equal(pool_free(fx.pool, off), 0);	/* its own */
	expect_rc(pool_free(fx.pool, off), -EBUSY,
		  "pool_free of a named block the handle holds none of");
	snprintf(want, sizeof(want), "block 0x%llx is named: unpublish its "
		 "name", (unsigned long long)off);
	expect_words(-EBUSY, want,
		     "pool_free of a named block the handle holds none of");
	assert_int_equal(pool_lookup(fx.pool, "kept", &found, NULL), 0);
	assert_int_equal(found, off);
	assert_int_equal(pool_unpublish(fx.pool, "kept"), 0);
	expect_rc(pool_free(fx.pool, off), -EINVAL,
		  "pool_free of a block its name's unpublish freed");
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- shared_resize_says_which ------------------------------------------- */

/*
 * A shared block (named: persistent) neither shrinks nor moves, -EBUSY
 * both, and the words say which: a shrink was refused with words about
 * moving, though nothing would have moved.  Grown past the pool's size,
 * a block is -EFBIG, shared or not, with words naming that size: a
 * shared one was -EBUSY, "cannot shrink", for a size no block may have.
 */
static void
shared_resize_says_which(void **state)
{
	char want[128];
	pool_off_t off, next, out;

	(void)state;
	assert_int_equal(pool_alloc(fx.pool, 4096, &off), 0);
	assert_int_equal(pool_alloc(fx.pool, 4096, &next), 0);
	assert_int_equal(pool_publish(fx.pool, off, "shared"), 0);
	expect_rc(pool_realloc(fx.pool, off, 64, &out), -EBUSY,
		  "pool_realloc shrinking a shared block");
	snprintf(want, sizeof(want), "block 0x%llx is shared and cannot "
		 "shrink", (unsigned long long)off);
	expect_words(-EBUSY, want, "pool_realloc shrinking a shared block");
	if (next == off + 4096) {	/* no room to grow in place */
		expect_rc(pool_realloc(fx.pool, off, 8192, &out), -EBUSY,
			  "pool_realloc moving a shared block");
		snprintf(want, sizeof(want), "block 0x%llx is shared and "
			 "cannot move", (unsigned long long)off);
		expect_words(-EBUSY, want, "pool_realloc moving a shared "
			     "block");
	}
	expect_rc(pool_realloc(fx.pool, off, 32 * MiB, &out), -EFBIG,
		  "pool_realloc of a shared block past the pool's size");
	snprintf(want, sizeof(want), "resizing 0x%llx to %llu bytes: more "
		 "than pool " POOL_NAME "'s size, 16.0 MiB",
		 (unsigned long long)off, 32 * MiB);
	expect_words(-EFBIG, want, "pool_realloc of a shared block past the "
		     "pool's size");
	expect_rc(pool_realloc(fx.pool, next, 32 * MiB, &out), -EFBIG,
		  "pool_realloc of a block past the pool's size");
	snprintf(want, sizeof(want), "resizing 0x%llx to %llu bytes: more "
		 "than pool " POOL_NAME "'s size, 16.0 MiB",
		 (unsigned long long)next, 32 * MiB);
	expect_words(-EFBIG, want, "pool_realloc of a block past the pool's "
		     "size");
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_unpublish(fx.pool, "shared"), 0);
	assert_int_equal(pool_free(fx.pool, next), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- missing_things_are_named ------------------------------------------- */

/*
 * pool_connect to where there is no socket: -ENOENT, *out NULL, and
 * words that name the path and no pool.
 */
static void
expect_no_socket(const char *path, const char *call)
{
	struct pool_conn *c = fx.conn;	/* to see it set to NULL */
	char want[512];

	expect_rc(pool_connect(path, &c), -ENOENT, call);
	assert_null(c);
	snprintf(want, sizeof(want), "no poolmgrd socket at %s (is poolmgrd "
		 "running? $POOLMGRD_SOCKET names its socket)",
		 path ? path : getenv("POOLMGRD_SOCKET"));
	expect_words(-ENOENT, want, call);
	assert_int_equal(pool_message_adds(-ENOENT), 1);
}

static void
missing_things_are_named(void **state)
{
	char gone[sizeof(fx.d.dir) + 16], saved[sizeof(fx.d.sock)];
	struct pool_stats st;
	struct pool *p = NULL;
	pool_off_t off;

	(void)state;
	snprintf(gone, sizeof(gone), "%s/gone.sock", fx.d.dir);
	expect_no_socket(gone, "pool_connect to a missing socket");
	/* The words are for -ENOENT only. */
	assert_string_equal(pool_last_message(-ECONNREFUSED), "");

	/* A request that succeeds clears them. */
	assert_int_equal(pool_stats_by_name(fx.conn, POOL_NAME, &st), 0);
	assert_string_equal(pool_last_message(-ENOENT), "");

	/* The socket of the environment, when none is given. */
	snprintf(saved, sizeof(saved), "%s", getenv("POOLMGRD_SOCKET"));
	setenv("POOLMGRD_SOCKET", gone, 1);
	expect_no_socket(NULL, "pool_connect(NULL) with $POOLMGRD_SOCKET "
			 "missing");
	setenv("POOLMGRD_SOCKET", saved, 1);

	/* The daemon's -ENOENT: a pool, a name. */
	expect_rc(pool_open(fx.conn, "nosuch", &p), -ENOENT,
		  "pool_open of no such pool");
	expect_words(-ENOENT, "no pool nosuch", "pool_open of no such pool");
	expect_rc(pool_stats_by_name(fx.conn, "nosuch", &st), -ENOENT,
		  "pool_stats_by_name of no such pool");
	expect_words(-ENOENT, "no pool nosuch",
		     "pool_stats_by_name of no such pool");
	expect_rc(pool_lookup(fx.pool, "nosuch", &off, NULL), -ENOENT,
		  "pool_lookup of no such name");
	expect_words(-ENOENT, "no such name 'nosuch' in pool " POOL_NAME,
		     "pool_lookup of no such name");
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- block_names_are_named ---------------------------------------------- */

/*
 * Each refusal of a block name names it: a lookup and an unpublish of
 * no such name, a publish of a name in use.  A name's bytes that are not
 * printable ASCII, its quote and its backslash show as \xHH; a long name
 * shows its first 128 characters, never half an escape, and "..." after
 * the quote, so that the words, the pool's name with them, fit.
 */
static void
block_names_are_named(void **state)
{
	char name[256], want[256];
	pool_off_t a, b, off;
	size_t i;

	(void)state;
	expect_rc(pool_unpublish(fx.pool, "cam/left"), -ENOENT,
		  "pool_unpublish of no such name");
	expect_words(-ENOENT, "no such name 'cam/left' in pool " POOL_NAME,
		     "pool_unpublish of no such name");

	assert_int_equal(pool_alloc(fx.pool, 64, &a), 0);
	assert_int_equal(pool_alloc(fx.pool, 64, &b), 0);
	assert_int_equal(pool_publish(fx.pool, a, "taken"), 0);
	expect_rc(pool_publish(fx.pool, b, "taken"), -EEXIST,
		  "pool_publish of a name in use");
	expect_words(-EEXIST, "the name 'taken' is in use in pool " POOL_NAME,
		     "pool_publish of a name in use");

	expect_rc(pool_lookup(fx.pool, "it's a \\ \x1b[2J\xc3\xa9\x7f", &off,
			      NULL), -ENOENT,
		  "pool_lookup of a name of odd bytes");
	expect_words(-ENOENT, "no such name 'it\\x27s a \\x5c "
		     "\\x1b[2J\\xc3\\xa9\\x7f' in pool " POOL_NAME,
		     "pool_lookup of a name of odd bytes");

	memset(name, 'n', 255);
	name[255] = '\0';
	expect_rc(pool_lookup(fx.pool, name, &off, NULL), -ENOENT,
		  "pool_lookup of a name of 255 bytes");
	snprintf(want, sizeof(want), "no such name '%.128s'... in pool "
		 POOL_NAME, name);
	expect_words(-ENOENT, want, "pool_lookup of a name of 255 bytes");
	/* A letter and 31 escapes: a 32nd would pass 128 characters. */
	memset(name, 0xff, 255);
	name[0] = 'n';
	expect_rc(pool_unpublish(fx.pool, name), -ENOENT,
		  "pool_unpublish of a name of 255 bytes to escape");
	strcpy(want, "no such name 'n");
	for (i = 0; i < 31; i++)
		strcat(want, "\\xff");
	strcat(want, "'... in pool " POOL_NAME);
	expect_words(-ENOENT, want,
		     "pool_unpublish of a name of 255 bytes to escape");

	assert_int_equal(pool_free(fx.pool, a), 0);
	assert_int_equal(pool_unpublish(fx.pool, "taken"), 0);
	assert_int_equal(pool_free(fx.pool, b), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- block_refusals_say_why ---------------------------------------------- */

/*
 * Refusals about a block name it and say which check refused it: a
 * retain of no block (it said "cannot retain"), a publish and a persist
 * by a handle that holds no reference (they named no block), a realloc
 * to 0 (it said "cannot free") and one to 128 bytes of another handle's
 * block or of none ("cannot resize" alone), and each offset a batch of
 * frees cannot free: no block, another handle's, a named one (it said
 * "cannot be freed" of each).  Nothing changes.
 */
static void
block_refusals_say_why(void **state)
{
	struct pool_conn *c2;
	struct pool *p2;
	pool_off_t mine, theirs, named, batch[2], out;
	char want[160];

	(void)state;
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, POOL_NAME, &p2), 0);
	assert_int_equal(pool_alloc(p2, 64, &theirs), 0);
	assert_int_equal(pool_alloc(fx.pool, 64, &mine), 0);
	assert_int_equal(pool_alloc(fx.pool, 64, &named), 0);
	assert_int_equal(pool_publish(fx.pool, named, "named"), 0);
	assert_int_equal(pool_free(fx.pool, named), 0);

	expect_rc(pool_retain(fx.pool, mine + 16), -EINVAL,
		  "pool_retain inside a block");
	snprintf(want, sizeof(want), "0x%llx is not a live block",
		 (unsigned long long)(mine + 16));
	expect_words(-EINVAL, want, "pool_retain inside a block");

	expect_rc(pool_publish(fx.pool, theirs, "theirs"), -EPERM,
		  "pool_publish of another handle's block");
	snprintf(want, sizeof(want), "only a holder may publish a block, "
		 "and this handle holds no reference to 0x%llx",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_publish of another handle's block");
	expect_rc(pool_persist(fx.pool, theirs), -EPERM,
		  "pool_persist of another handle's block");
	snprintf(want, sizeof(want), "only a holder may persist a block, "
		 "and this handle holds no reference to 0x%llx",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_persist of another handle's block");

	expect_rc(pool_realloc(fx.pool, theirs, 0, &out), -EPERM,
		  "pool_realloc to 0 of another handle's block");
	snprintf(want, sizeof(want), "block 0x%llx belongs to another handle",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_realloc to 0 of another handle's "
		     "block");
	expect_rc(pool_realloc(fx.pool, theirs, 128, &out), -EPERM,
		  "pool_realloc of another handle's block");
	snprintf(want, sizeof(want), "cannot resize 0x%llx to 128 bytes: this "
		 "handle holds no reference to it", (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_realloc of another handle's block");
	expect_rc(pool_realloc(fx.pool, mine + 16, 128, &out), -EINVAL,
		  "pool_realloc inside a block");
	snprintf(want, sizeof(want), "cannot resize 0x%llx to 128 bytes: no "
		 "live block starts there", (unsigned long long)(mine + 16));
	expect_words(-EINVAL, want, "pool_realloc inside a block");

	batch[0] = mine;
	batch[1] = mine + 16;
	expect_rc(pool_free_batch(fx.pool, 2, batch), -EINVAL,
		  "pool_free_batch with no block at its second offset");
	snprintf(want, sizeof(want), "offset 1 of the batch (0x%llx) cannot "
		 "be freed: no live block starts there",
		 (unsigned long long)(mine + 16));
	expect_words(-EINVAL, want, "pool_free_batch with no block at its "
		     "second offset");
	batch[1] = theirs;
	expect_rc(pool_free_batch(fx.pool, 2, batch), -EPERM,
		  "pool_free_batch of another handle's block");
	snprintf(want, sizeof(want), "offset 1 of the batch (0x%llx) cannot "
		 "be freed: the block belongs to another handle",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_free_batch of another handle's "
		     "block");
	batch[0] = named;
	batch[1] = mine;
	expect_rc(pool_free_batch(fx.pool, 2, batch), -EBUSY,
		  "pool_free_batch of a named block held by none");
	snprintf(want, sizeof(want), "offset 0 of the batch (0x%llx) cannot "
		 "be freed: the block is named; unpublish its name first",
		 (unsigned long long)named);
	expect_words(-EBUSY, want, "pool_free_batch of a named block held "
		     "by none");

	assert_int_equal(pool_free(fx.pool, mine), 0);
	assert_int_equal(pool_unpublish(fx.pool, "named"), 0);
	assert_int_equal(pool_free(p2, theirs), 0);
	pool_close(p2);
	pool_disconnect(c2);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- long_names_leave_no_words -------------------------------------------- */

/*
 * Words of the library's own for -ENAMETOOLONG, as a connect to a socket
 * path longer than a socket address holds leaves them: the test fails if
 * they are not there.
 */
static void
said_too_long(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct pool_conn *c = fx.conn;	/* to see it set to NULL */

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	expect_rc(pool_connect(path, &c), -ENAMETOOLONG,
		  "pool_connect to a path too long for a socket address");
	assert_null(c);
	if (*pool_last_message(-ENAMETOOLONG) == '\0')
		fail_msg("pool_connect to a path too long left no words");
}

/* call, refused -ENAMETOOLONG by the library itself, has no words. */
static void
too_long_without_words(int rc, const char *call)
{
	expect_rc(rc, -ENAMETOOLONG, call);
	expect_words(-ENAMETOOLONG, "", call);
}

/*
 * A block name or a prefix of 256 bytes, a pool name of 65: -ENAMETOOLONG
 * from the library, which asks the daemon nothing, so the call has no
 * words; not those an earlier failure of the same code left (here, the
 * library's own for a socket path too long), which would say the wrong
 * thing was too long.
 */
static void
long_names_leave_no_words(void **state)
{
	char block[POOL_BLOCK_NAME_MAX + 2], pool[POOL_NAME_MAX + 2];
	struct pool_named *named = NULL;
	struct pool_stats st;
	struct pool *p = NULL;
	pool_off_t off, got;
	size_t n, total;

	(void)state;
	memset(block, 'b', sizeof(block) - 1);
	block[sizeof(block) - 1] = '\0';
	memset(pool, 'p', sizeof(pool) - 1);
	pool[sizeof(pool) - 1] = '\0';
	assert_int_equal(pool_alloc(fx.pool, 64, &off), 0);

	said_too_long();
	too_long_without_words(pool_publish(fx.pool, off, block),
			       "pool_publish of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_publish_flags(fx.pool, off, block,
						  POOL_PUBLISH_EVICTABLE),
			       "pool_publish_flags of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_lookup(fx.pool, block, &got, NULL),
			       "pool_lookup of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_lookup_retain(fx.pool, block, &got, NULL),
			       "pool_lookup_retain of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_lookup_wait(fx.pool, block, 0, 100, 0,
						&got, NULL, NULL),
			       "pool_lookup_wait of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_unpublish(fx.pool, block),
			       "pool_unpublish of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_open(fx.conn, pool, &p),
			       "pool_open of a 65-byte name");
	assert_null(p);
	said_too_long();
	too_long_without_words(pool_stats_by_name(fx.conn, pool, &st),
			       "pool_stats_by_name of a 65-byte name");
	said_too_long();
	too_long_without_words(pool_names(fx.conn, POOL_NAME, block, &named,
					  &n, &total),
			       "pool_names with a 256-byte prefix");

	assert_int_equal(pool_free(fx.pool, off), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- closing_keeps_the_words -------------------------------------------- */

/*
 * pool_close and pool_disconnect return nothing, so no words of theirs
 * could be asked for: they leave the thread's last refusal's words as
 * they were.  A program that closes what it opened before it reports a
 * failure (and Python's collector, which may close a dropped pool between
 * a failed call and the PoolError it raises) reports the failure's words.
 */
static void
closing_keeps_the_words(void **state)
{
	struct pool_conn *c2 = NULL;
	struct pool *p2 = NULL, *p3 = NULL;
	pool_off_t off;
	char want[256];

	(void)state;
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, POOL_NAME, &p2), 0);
	assert_int_equal(pool_open(fx.conn, POOL_NAME, &p3), 0);
	expect_rc(pool_alloc(fx.pool, (size_t)1 << 40, &off), -EFBIG,
		  "pool_alloc(1 TiB)");
	snprintf(want, sizeof(want), "%s", pool_last_message(-EFBIG));
	if (!strstr(want, "more than pool " POOL_NAME "'s size"))
		fail_msg("the refusal's words: \"%s\"", want);
	pool_close(p3);
	expect_words(-EFBIG, want, "pool_close after pool_alloc(1 TiB)");
	pool_close(p2);
	pool_disconnect(c2);
	expect_words(-EFBIG, want, "pool_disconnect after pool_alloc(1 TiB)");
	/* A request replaces them, as ever. */
	client_still_works(fx.pool);
	assert_string_equal(pool_last_message(-EFBIG), "");
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			random_bytes_close_only_that_connection, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			truncated_hello_closes_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
			oversized_datagram_closes_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
			alloc_before_hello_closes_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
			hello_version_99_refused_then_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(
			unknown_body_refused_connection_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
			hello_twice_refused_connection_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
			pool_requests_refused_make_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
			passed_descriptors_closed_sender_dropped, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			lingering_socket_passed_stalls_nobody, setup,
			teardown),
		cmocka_unit_test_setup_teardown(bad_api_input_gets_its_code,
						setup, teardown),
		cmocka_unit_test_setup_teardown(invalid_frees_are_counted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(realloc_in_place_never_moves,
						setup, teardown),
		cmocka_unit_test_setup_teardown(names_cannot_forge_log_lines,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			refusals_carry_the_daemons_words, setup, teardown),
		cmocka_unit_test_setup_teardown(
			bounds_are_named_in_the_words, setup, teardown),
		cmocka_unit_test_setup_teardown(
			local_failures_leave_no_words, setup, teardown),
		cmocka_unit_test_setup_teardown(
			refusals_say_what_they_mean, setup, teardown),
		cmocka_unit_test_setup_teardown(
			free_of_a_named_block_says_so, setup, teardown),
		cmocka_unit_test_setup_teardown(
			shared_resize_says_which, setup, teardown),
		cmocka_unit_test_setup_teardown(
			missing_things_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(
			block_names_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(
			block_refusals_say_why, setup, teardown),
		cmocka_unit_test_setup_teardown(
			long_names_leave_no_words, setup, teardown),
		cmocka_unit_test_setup_teardown(
			closing_keeps_the_words, setup, teardown),
	};

	return cmocka_run_group_tests_name("integration: bad input", tests,
					   NULL, NULL);
}
