/*
 * itest_limits.c - the daemon's bounds hold and every refusal is clean:
 * connections in all and per uid (-EUSERS at Hello), references per session
 * (-EDQUOT), a client that never reads its replies (dropped once its queue
 * passes the bound; the daemon does not grow), and running out of file
 * descriptors (the daemon refuses the excess and keeps serving).
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
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

static int
raw_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one request; 0, or -errno (EAGAIN when the socket is full). */
static int
raw_send(int fd, Poolmgr__Request *req)
{
	uint8_t buf[256];
	size_t len = poolmgr__request__get_packed_size(req);

	assert_true(len <= sizeof(buf));
	poolmgr__request__pack(req, buf);
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 ? -errno : 0;
}

static int
raw_hello(int fd)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;

	hello.version = 1;
	req.id = 1;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	return raw_send(fd, &req);
}

/* Wait up to ms for a reply; its error code, 1 on EOF, 2 on timeout. */
static int
raw_reply(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t buf[65536];
	Poolmgr__Reply *rep;
	ssize_t n;
	int err;

	if (poll(&pfd, 1, ms) != 1)
		return 2;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return 1;
	rep = poolmgr__reply__unpack(NULL, (size_t)n, buf);
	assert_non_null(rep);
	err = rep->error;
	poolmgr__reply__free_unpacked(rep, NULL);
	return err;
}

static void
connections_per_uid_and_in_all(void **state)
{
	struct pool_conn *c[4], *extra;
	struct daemon_proc d;
	int i;

	(void)state;
	assert_int_equal(harness_start(&d, "max_connections = 100\n"
				       "max_connections_per_uid = 3\n"), 0);
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_connect(NULL, &c[i]), 0);
	EXPECT_RC(pool_connect(NULL, &extra), -EUSERS);
	pool_disconnect(c[0]);
	harness_sleep_ms(100);	/* the daemon sees the close */
	EXPECT_RC(pool_connect(NULL, &c[0]), 0);
	for (i = 0; i < 3; i++)
		pool_disconnect(c[i]);
	assert_int_equal(harness_stop(&d), 0);

	assert_int_equal(harness_start(&d, "max_connections = 2\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c[0]), 0);
	EXPECT_RC(pool_connect(NULL, &c[1]), 0);
	EXPECT_RC(pool_connect(NULL, &extra), -EUSERS);
	pool_disconnect(c[0]);
	pool_disconnect(c[1]);
	assert_int_equal(harness_stop(&d), 0);
}

static void
blocks_per_session(void **state)
{
	struct pool_conn *c, *other;
	struct pool *p, *q;
	struct daemon_proc d;
	pool_off_t off[10], extra;
	int i;

	(void)state;
	assert_int_equal(harness_start(&d, "max_blocks_per_session = 10\n"
				       "[pool b]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "b", &p), 0);
	for (i = 0; i < 10; i++)
		EXPECT_RC(pool_alloc(p, 32, &off[i]), 0);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);
	EXPECT_RC(pool_free(p, off[0]), 0);
	EXPECT_RC(pool_alloc(p, 32, &off[0]), 0);
	/* Another client has its own allowance. */
	EXPECT_RC(pool_connect(NULL, &other), 0);
	EXPECT_RC(pool_open(other, "b", &q), 0);
	EXPECT_RC(pool_alloc(q, 32, &extra), 0);
	pool_disconnect(other);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
client_that_never_reads_is_dropped(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	struct pool_stats st;
	struct pool_conn *c;
	struct daemon_proc d;
	int fd, i, rc = 0, sent = 0;
	char log[65536], cmd[512];

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fd = raw_connect(d.sock);
	assert_true(fd >= 0);
	assert_int_equal(raw_hello(fd), 0);
	ref.name = "s";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	/* ~200-byte replies; 4 MiB of them is ~20000: send up to 200000. */
	for (i = 0; i < 200000 && rc != -EPIPE && rc != -ECONNRESET; i++) {
		req.id = (uint64_t)i + 2;
		rc = raw_send(fd, &req);
		if (rc == -EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (poll(&pfd, 1, 2000) != 1)
				break;	/* the daemon stopped reading us */
			i--;
			continue;
		}
		if (rc == 0)
			sent++;
	}
	printf("sent %d requests without reading; last send: %s\n", sent,
	       rc ? strerror(-rc) : "ok");
	/* The daemon closed the connection rather than queue without end. */
	assert_true(rc == -EPIPE || rc == -ECONNRESET);
	assert_true(harness_alive(&d));
	/* Another client is served all along. */
	EXPECT_RC(pool_stats_by_name(c, "s", &st), 0);
	snprintf(cmd, sizeof(cmd), "cat %s", d.log);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "does not read its replies"));
	close(fd);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
out_of_descriptors(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct daemon_proc d;
	int fds[80], i, served = 0, refused = 0;

	(void)state;
	setenv("HARNESS_NOFILE", "40", 1);
	assert_int_equal(harness_start(&d, "[pool f]\nsize = 1M\n"), 0);
	unsetenv("HARNESS_NOFILE");
	for (i = 0; i < 80; i++) {
		fds[i] = raw_connect(d.sock);
		if (fds[i] >= 0)
			raw_hello(fds[i]);
	}
	for (i = 0; i < 80; i++) {
		int rc = fds[i] >= 0 ? raw_reply(fds[i], 2000) : 1;

		if (rc == 0)
			served++;
		else
			refused++;
	}
	printf("descriptor limit 40: %d clients served, %d refused\n", served,
	       refused);
	assert_true(served > 0);
	assert_true(refused > 0);
	assert_true(harness_alive(&d));
	for (i = 0; i < 80; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	harness_sleep_ms(200);
	/* With descriptors free again, clients are served as before. */
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "f", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connections_per_uid_and_in_all),
		cmocka_unit_test(blocks_per_session),
		cmocka_unit_test(client_that_never_reads_is_dropped),
		cmocka_unit_test(out_of_descriptors),
	};

	return cmocka_run_group_tests_name("poolmgrd limits", tests, NULL,
					   NULL);
}
