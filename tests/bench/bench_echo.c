/*
 * bench_echo.c - the floor's echo server and client (see bench_echo.h).
 * The server reads up to 64 datagrams per wakeup from a connection, like
 * poolmgrd, and sends each one straight back.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_daemon.h"
#include "bench_echo.h"

#define READ_BATCH 64

static struct event_base *echo_base;

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];
	struct event *ev = arg;

	(void)what;
	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			event_free(ev);
			close(fd);
			return;
		}
		send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what, (void)arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct event *ev;

		if (fd < 0)
			return;
		ev = event_new(echo_base, fd, EV_READ | EV_PERSIST, on_read,
			       event_self_cbarg());
		if (ev == NULL || event_add(ev, NULL) != 0)
			_exit(2);
	}
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what, (void)arg;
	event_base_loopbreak(echo_base);
}

static int
echo_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(fd, 128) != 0)
		return -1;
	return fd;
}

static void
echo_serve(const char *path)
{
	struct event *lev, *tev;
	int lfd = echo_listen(path);

	if (lfd < 0 || (echo_base = event_base_new()) == NULL)
		_exit(2);
	lev = event_new(echo_base, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	tev = evsignal_new(echo_base, SIGTERM, on_term, NULL);
	if (lev == NULL || tev == NULL || event_add(lev, NULL) ||
	    event_add(tev, NULL))
		_exit(2);
	event_base_dispatch(echo_base);
	unlink(path);
	_exit(0);
}

pid_t
echo_start(const char *path)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == 0)
		echo_serve(path);
	if (pid < 0)
		return -1;
	if (wait_for_socket(path, pid) != 0) {
		echo_stop(pid);
		return -1;
	}
	return pid;
}

void
echo_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

int
echo_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
echo_call(int fd, const void *msg, void *reply)
{
	ssize_t n;

	if (send(fd, msg, ECHO_MSG, MSG_NOSIGNAL) != ECHO_MSG)
		return -1;
	do
		n = recv(fd, reply, ECHO_MSG, 0);
	while (n < 0 && errno == EINTR);
	return n == ECHO_MSG ? 0 : -1;
}
