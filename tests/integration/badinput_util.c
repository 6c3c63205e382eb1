/*
 * badinput_util.c - the bad input tests' raw connections, their daemon
 * and its normal client (badinput_util.h).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "badinput_util.h"

#define POOL_CONFIG	"[pool " POOL_NAME "]\nsize = 16M\n"

struct fixture fx = {.bystander = -1, .listener = -1};
bool quiet;

/* ---- raw connections ------------------------------------------------------ */

int
raw_connect(const char *path)
{
	int fd = harness_raw_connect(path);
	int sndbuf = 512 * 1024;

	if (fd == -1)
		fail_msg("connect %s: %s", path, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return fd;
}

void
raw_send(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		fail_msg("send of %zu bytes: %s", len, strerror(errno));
	assert_int_equal((size_t)n, len);
}

void
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

ssize_t
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

Poolmgr__Reply *
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

void
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

int
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

void
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

uint32_t
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

char raw_words[256];

int
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

int
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

int
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

int
badinput_teardown(void **state)
{
	(void)state;
	/* A daemon stuck in a lingering close goes on once it is reset. */
	harness_close_fd(&fx.listener);
	release_clients();
	if (fx.d.pid > 0)
		harness_stop(&fx.d);
	return 0;
}

int
badinput_setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.bystander = -1;
	fx.listener = -1;
	quiet = false;
	if (harness_start(&fx.d, POOL_CONFIG) != 0) {
		fprintf(stderr, "harness_start failed\n");
		badinput_teardown(state);
		return -1;
	}
	if (pool_connect(fx.d.sock, &fx.conn) != 0 ||
	    pool_open(fx.conn, POOL_NAME, &fx.pool) != 0) {
		fprintf(stderr, "the normal client cannot open %s\n",
			POOL_NAME);
		badinput_teardown(state);
		return -1;
	}
	return 0;
}

void
stop_daemon(void)
{
	release_clients();
	assert_int_equal(harness_stop(&fx.d), 0);
}

void
check_pool(struct pool_conn *c)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, POOL_NAME, msg, sizeof(msg));

	if (rc)
		fail_msg("pool_check_by_name: %s: %s", pool_strerror(rc), msg);
}

void
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

/* ---- bad API input -------------------------------------------------------- */

void
expect_rc(int got, int want, const char *call)
{
	if (got != want)
		fail_msg("%s: got %d (%s), want %d (%s)", call, got,
			 pool_strerror(got), want, pool_strerror(want));
}
