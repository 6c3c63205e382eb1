/*
 * harness_raw.c - the protocol spoken directly: a connection and a round
 * trip, without the library.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness_raw.h"

#define RAW_DATAGRAM 65536	/* the most either side sends */
#define RAW_MAX_FDS 4		/* an Open passes one or two */

int
harness_raw_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Close every descriptor that came with msg. */
static void
raw_close_passed(struct msghdr *msg)
{
	struct cmsghdr *c;
	size_t i;
	int passed;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		     i++) {
			memcpy(&passed, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			close(passed);
		}
	}
}

int
harness_raw_send(int fd, Poolmgr__Request *req)
{
	static uint8_t buf[RAW_DATAGRAM];
	size_t len = poolmgr__request__get_packed_size(req);

	if (len > sizeof(buf)) {
		fprintf(stderr, "raw request %llu: %zu bytes, more than a "
			"datagram\n", (unsigned long long)req->id, len);
		return -1;
	}
	poolmgr__request__pack(req, buf);
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "raw request %llu: send: %s\n",
			(unsigned long long)req->id, strerror(errno));
		return -1;
	}
	return 0;
}

Poolmgr__Reply *
harness_raw_reply(int fd, uint64_t id, int ms)
{
	static uint8_t buf[RAW_DATAGRAM];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(RAW_MAX_FDS * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	Poolmgr__Reply *rep;
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1) {
		fprintf(stderr, "raw request %llu: no reply within %d ms\n",
			(unsigned long long)id, ms);
		return NULL;
	}
	if ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) <= 0) {
		fprintf(stderr, "raw request %llu: the daemon closed the "
			"connection instead of answering\n",
			(unsigned long long)id);
		return NULL;
	}
	raw_close_passed(&msg);
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		fprintf(stderr, "raw request %llu: the reply was cut\n",
			(unsigned long long)id);
		return NULL;
	}
	if (!(rep = poolmgr__reply__unpack(NULL, (size_t)n, buf))) {
		fprintf(stderr, "raw request %llu: the reply does not "
			"decode\n", (unsigned long long)id);
		return NULL;
	}
	if (rep->id != id) {
		fprintf(stderr, "raw request %llu: answered as %llu\n",
			(unsigned long long)id, (unsigned long long)rep->id);
		poolmgr__reply__free_unpacked(rep, NULL);
		return NULL;
	}
	return rep;
}

Poolmgr__Reply *
harness_raw_call(int fd, Poolmgr__Request *req, int ms)
{
	if (harness_raw_send(fd, req) != 0)
		return NULL;
	return harness_raw_reply(fd, req->id, ms);
}
