/*
 * test_notify.c - the daemon's sender to systemd's notification socket
 * (notify.c), on a datagram socket of the test's own that reads only when
 * the test says so.
 *
 *   full_socket_queues_in_order  with the socket's queue full, messages
 *       wait in the daemon, the call never blocking: a STATUS= replaces
 *       the one waiting (behind what came since), a WATCHDOG=1 is not
 *       added while one waits, every other goes; notify_flush then sends
 *       what waits, in order, while a thread reads as systemd would.  A
 *       descriptor queued arrives as the same open file, its caller's
 *       closed long before.  While 64 wait, notify_room says no.
 *   abstract_address  "@name" is Linux's abstract namespace; the socket
 *       connected to the first test's receiver, gone now, is made again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

/* Our receiver at path ("@..." abstract): its descriptor. */
static int
receiver(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    strlen(path) + (path[0] != '@'));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	else
		unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	return fd;
}

/* The next message, its descriptor (if any) at *fd: its length, or -1. */
static ssize_t
next(int sock, char *buf, size_t len, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {buf, len - 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *cm;
	ssize_t got;

	*fd = -1;
	if ((got = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0)
		return -1;
	buf[got] = '\0';
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return got;
}

static void
expect_next(int sock, const char *want)
{
	char buf[256];
	int fd;

	assert_true(next(sock, buf, sizeof(buf), &fd) >= 0);
	assert_string_equal(buf, want);
	assert_int_equal(fd, -1);
}

#define MAX_READ 256

/* What a reader thread got: each message and its descriptor. */
static struct {
	int sock;
	char text[MAX_READ][64];
	int fd[MAX_READ];
	unsigned n;
} got;

/* Read until READY=1 or a second of nothing, as systemd would. */
static void *
reader(void *arg)
{
	struct pollfd pfd = {.fd = got.sock, .events = POLLIN};
	char buf[256];

	(void)arg;
	while (got.n < MAX_READ && poll(&pfd, 1, 1000) == 1 &&
	       next(got.sock, buf, sizeof(buf), &got.fd[got.n]) >= 0) {
		snprintf(got.text[got.n], sizeof(got.text[0]), "%.63s", buf);
		if (strcmp(got.text[got.n++], "READY=1") == 0)
			break;
	}
	return NULL;
}

static void
full_socket_queues_in_order(void **state)
{
	char path[64], msg[32], c;
	int pfd[2], sent = 0, i;
	pthread_t t;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_notify.%d", (int)getpid());
	got.sock = receiver(path);
	/* The socket's queue fills, then ours: each call returns at once. */
	while (notify_room() && sent < 1000) {
		snprintf(msg, sizeof(msg), "X=%d", sent++);
		assert_int_equal(notify_send(msg, -1, NOTIFY_EVERY), 0);
	}
	printf("%d messages sent until 64 waited\n", sent);
	assert_true(sent < 1000);

	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(notify_send("STATUS=a", -1, NOTIFY_STATUS), 0);
	assert_int_equal(notify_send("WATCHDOG=1", -1, NOTIFY_WATCHDOG), 0);
	assert_int_equal(notify_send("STATUS=b", -1, NOTIFY_STATUS), 0);
	assert_int_equal(notify_send("WATCHDOG=1", -1, NOTIFY_WATCHDOG), 0);
	assert_int_equal(notify_send("FDSTORE=1\nFDNAME=p", pfd[1],
				     NOTIFY_EVERY), 0);
	close(pfd[1]);
	assert_int_equal(notify_send("STATUS=c", -1, NOTIFY_STATUS), 0);
	assert_int_equal(notify_send("READY=1", -1, NOTIFY_EVERY), 0);

	/* The receiver reads again: everything, in order. */
	assert_int_equal(pthread_create(&t, NULL, reader, NULL), 0);
	notify_flush();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(got.n, (unsigned)sent + 4);
	for (i = 0; i < sent; i++) {
		snprintf(msg, sizeof(msg), "X=%d", i);
		assert_string_equal(got.text[i], msg);
	}
	assert_string_equal(got.text[i], "WATCHDOG=1");
	assert_string_equal(got.text[i + 1], "FDSTORE=1\nFDNAME=p");
	assert_string_equal(got.text[i + 2], "STATUS=c");
	assert_string_equal(got.text[i + 3], "READY=1");
	/* The same pipe, though its sender closed its descriptor. */
	assert_true(got.fd[i + 1] >= 0);
	assert_int_equal(write(got.fd[i + 1], "!", 1), 1);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, '!');
	close(got.fd[i + 1]);
	assert_true(notify_room());
	close(pfd[0]);
	close(got.sock);
	unlink(path);
}

static void
abstract_address(void **state)
{
	char path[64];
	int sock;

	(void)state;
	snprintf(path, sizeof(path), "@test_notify.%d", (int)getpid());
	sock = receiver(path);
	assert_int_equal(notify_send("READY=1", -1, NOTIFY_EVERY), 0);
	notify_flush();
	expect_next(sock, "READY=1");
	close(sock);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_socket_queues_in_order),
		cmocka_unit_test(abstract_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
