/*
 * itest_badinput.c - bad input hurts only the one who sends it: what a
 * client sends on the wire.  Bad calls of the API, their codes and the
 * books they leave are itest_badinput_api.c's, the words of the daemon's
 * refusals itest_badinput_words.c's; raw connections, the daemon of the
 * test and its normal client are badinput_util.h's.
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
 * A second Hello is refused and keeps the first one's name (its bytes
 * that are not printable as '?').  A string with a NUL inside (a pool's
 * name in an open, a create or a Stats, a Hello's client name) is
 * refused -EINVAL, nothing done, the connection kept: the daemon would
 * read it cut at the NUL, another pool's name.  Ids are not looked at:
 * one used twice, or 0, is answered in order as any other, but an empty
 * Request of id 0 is an empty datagram, the end of the connection.  A
 * client that passes the daemon descriptors (1, or 20: more than it has
 * room for) is dropped and the descriptors closed; where the kernel lets
 * the daemon's sockets refuse them (Linux 6.16), its sendmsg fails
 * instead, so that a socket lingering an hour over bytes nobody reads,
 * passed and closed by its sender, holds up no one.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "badinput_util.h"

#define CLOSE_TIMEOUT_MS 3000
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83	/* Linux 6.16; libc headers may lack it */
#endif

/* ---- the sender dropped, the others served ---------------------------- */

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

/* ---- request ids -------------------------------------------------------- */

/*
 * The daemon does not look at ids: requests pipelined with one id twice,
 * and with id 0, are answered in the order sent, each with its own id.
 * But a Request of id 0 with nothing else packs to no bytes, an empty
 * datagram, which reads as the end of the connection: it is closed.
 */
static void
request_ids_not_looked_at(void **state)
{
	static const uint64_t ids[] = {5, 5, 0, 6};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *r;
	size_t i;
	int fd;

	(void)state;
	fx.bystander = raw_greeted("bystander");
	fd = raw_greeted("ids");
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		req.id = ids[i];
		/* Every other one refused: the errors say which is which. */
		ref.name = i % 2 ? "nosuch" : POOL_NAME;
		req.body_case = POOLMGR__REQUEST__BODY_STATS;
		req.stats = &ref;
		raw_send_request(fd, &req);
	}
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r = raw_reply(fd);
		assert_int_equal(r->id, ids[i]);
		assert_int_equal(r->error, i % 2 ? -ENOENT : 0);
		assert_int_equal(r->body_case, i % 2 ?
				 POOLMGR__REPLY__BODY__NOT_SET :
				 POOLMGR__REPLY__BODY_STATS);
		poolmgr__reply__free_unpacked(r, NULL);
	}
	req.id = 0;
	req.body_case = POOLMGR__REQUEST__BODY__NOT_SET;
	assert_int_equal(poolmgr__request__get_packed_size(&req), 0);
	raw_send(fd, "", 0);
	only_sender_dropped(fd, "an empty Request of id 0");
	stop_daemon();
}

/* ---- strings with a NUL inside ------------------------------------------ */

/*
 * req packed and sent on fd with its first '@' made a NUL (protobuf-c
 * packs a string only up to one), then its reply: -EINVAL, naming the
 * field, with no body.
 */
static void
expect_nul_refused(int fd, Poolmgr__Request *req, const char *field)
{
	uint8_t buf[256];
	uint8_t *at;
	size_t len = poolmgr__request__get_packed_size(req);
	Poolmgr__Reply *r;
	char want[128];

	assert_true(len <= sizeof(buf));
	poolmgr__request__pack(req, buf);
	at = memchr(buf, '@', len);
	assert_non_null(at);
	*at = '\0';
	raw_send(fd, buf, len);
	r = raw_reply(fd);
	snprintf(want, sizeof(want), "%s holds a NUL byte, which no string "
		 "of the protocol may", field);
	printf("badinput: %s with a NUL: %d (%s)\n", field, r->error,
	       r->message ? r->message : "");
	assert_int_equal(r->id, req->id);
	assert_int_equal(r->error, -EINVAL);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY__NOT_SET);
	assert_string_equal(r->message, want);
	poolmgr__reply__free_unpacked(r, NULL);
}

/*
 * A string may hold a NUL as protobuf has it, but the daemon would read
 * it cut there: "bad\0x" would name pool bad, and a create of "made\0x"
 * would make pool made, where a pool's name is of [A-Za-z0-9._-].  Each
 * such request is refused -EINVAL, nothing done, the connection kept: an
 * open, a create, statistics by name, and a Hello (the connection then
 * says a good one).
 */
static void
string_with_nul_refused_connection_kept(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool op = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Hello h = POOLMGR__HELLO__INIT;
	struct pool_stats st;
	struct pool_stats *pools = NULL;
	size_t n = 0;
	Poolmgr__Reply *r;
	int fd;

	(void)state;
	fd = raw_greeted("nul-in-strings");
	op.name = POOL_NAME "@x";
	req.id = 60;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &op;
	expect_nul_refused(fd, &req, "OpenPool.name");

	cp.name = "made@x";
	cp.max_size = MiB;
	req.id = 61;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	expect_nul_refused(fd, &req, "CreatePool.name");
	EXPECT_RC(pool_stats_by_name(fx.conn, "made", &st), -ENOENT);

	ref.name = POOL_NAME "@x";
	req.id = 62;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	expect_nul_refused(fd, &req, "PoolRef.name");
	raw_list_ok(fd);
	EXPECT_RC(pool_list(fx.conn, &pools, &n), 0);
	assert_int_equal(n, 1);
	free(pools);
	close(fd);

	/* Before Hello: refused, not greeted, and a good Hello then is. */
	fd = raw_connect(fx.d.sock);
	h.version = 1;
	h.client_name = "cut@here";
	req.id = 63;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &h;
	expect_nul_refused(fd, &req, "Hello.client_name");
	raw_hello(fd, 1, "whole", 64);
	r = raw_reply(fd);
	assert_int_equal(r->id, 64);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_HELLO);
	poolmgr__reply__free_unpacked(r, NULL);
	raw_list_ok(fd);
	close(fd);
	assert_true(harness_alive(&fx.d));
	client_still_works(fx.pool);
	check_pool(fx.conn);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    random_bytes_close_only_that_connection, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    truncated_hello_closes_connection, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    oversized_datagram_closes_connection, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    alloc_before_hello_closes_connection, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    hello_version_99_refused_then_closed, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    unknown_body_refused_connection_kept, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    request_ids_not_looked_at, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    string_with_nul_refused_connection_kept, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    hello_twice_refused_connection_kept, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    passed_descriptors_closed_sender_dropped, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    lingering_socket_passed_stalls_nobody, badinput_setup,
		    badinput_teardown),
	};

	return cmocka_run_group_tests_name("integration: bad input", tests,
					   NULL, NULL);
}
