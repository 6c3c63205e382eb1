/*
 * harness_raw.c - the protocol spoken directly: a connection, a round trip
 * and the requests tests send most, without the library.
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
#include "poolclient.h"

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

/*
 * Every descriptor that came with msg: the first max of them in fds[],
 * their count in *nfds (fds NULL: none kept); the rest closed.
 */
static void
raw_take_passed(struct msghdr *msg, int *fds, int max, int *nfds)
{
	struct cmsghdr *c;
	size_t i;
	int passed;

	if (nfds)
		*nfds = 0;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		     i++) {
			memcpy(&passed, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			if (fds && *nfds < max)
				fds[(*nfds)++] = passed;
			else
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
	return harness_raw_reply_fds(fd, id, ms, NULL, 0, NULL);
}

Poolmgr__Reply *
harness_raw_reply_fds(int fd, uint64_t id, int ms, int *fds, int max,
		      int *nfds)
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
	raw_take_passed(&msg, fds, max, nfds);
	rep = NULL;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		fprintf(stderr, "raw request %llu: the reply was cut\n",
			(unsigned long long)id);
	else if (!(rep = poolmgr__reply__unpack(NULL, (size_t)n, buf)))
		fprintf(stderr, "raw request %llu: the reply does not "
			"decode\n", (unsigned long long)id);
	else if (rep->id != id) {
		fprintf(stderr, "raw request %llu: answered as %llu\n",
			(unsigned long long)id, (unsigned long long)rep->id);
		poolmgr__reply__free_unpacked(rep, NULL);
		rep = NULL;
	}
	if (!rep && nfds) {
		while (*nfds > 0)
			close(fds[--*nfds]);
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

/* ---- numbered requests ------------------------------------------------- */

static uint64_t raw_next_id = 1;
static int raw_wait_ms = HARNESS_RAW_WAIT_MS;

const char *
harness_raw_name(const Poolmgr__Request *req)
{
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field(
	    &poolmgr__request__descriptor, (unsigned)req->body_case);
	return f ? f->name : "empty";
}

void
harness_raw_set_wait(int ms)
{
	raw_wait_ms = ms;
}

Poolmgr__Reply *
harness_raw_ask(int fd, Poolmgr__Request *req)
{
	req->id = raw_next_id++;
	return harness_raw_call(fd, req, raw_wait_ms);
}

int
harness_raw_post(int fd, Poolmgr__Request *req)
{
	req->id = raw_next_id++;
	return harness_raw_send(fd, req);
}

int
harness_raw_error(int fd, Poolmgr__Request *req, Poolmgr__Reply **out)
{
	Poolmgr__Reply *rep;
	int err;

	if (!(rep = harness_raw_ask(fd, req)))
		return HARNESS_RAW_LOST;
	err = rep->error;
	if (out && err == 0)
		*out = rep;
	else
		poolmgr__reply__free_unpacked(rep, NULL);
	return err;
}

/* A reply of 0 to req without the body it asks for: dropped and reported. */
static int
raw_lacking(const Poolmgr__Request *req, Poolmgr__Reply *rep)
{
	fprintf(stderr, "raw request %llu (%s): answered 0 without its "
		"reply's body\n", (unsigned long long)req->id,
		harness_raw_name(req));
	poolmgr__reply__free_unpacked(rep, NULL);
	return HARNESS_RAW_LOST;
}

int
harness_raw_greeted(const char *path, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;
	int fd;

	if ((fd = harness_raw_connect(path)) == -1) {
		fprintf(stderr, "raw connection to %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	hello.version = 1;
	hello.client_name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	if (harness_raw_error(fd, &req, NULL) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
harness_raw_open(int fd, const char *pool, uint32_t *h)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep;
	int err;

	m.name = (char *)pool;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	if ((err = harness_raw_error(fd, &req, &rep)) != 0)
		return err;
	if (rep->body_case != POOLMGR__REPLY__BODY_OPEN)
		return raw_lacking(&req, rep);
	*h = rep->open->handle;
	poolmgr__reply__free_unpacked(rep, NULL);
	return 0;
}

int
harness_raw_close(int fd, uint32_t h)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ClosePool m = POOLMGR__CLOSE_POOL__INIT;

	m.handle = h;
	req.body_case = POOLMGR__REQUEST__BODY_CLOSE;
	req.close = &m;
	return harness_raw_error(fd, &req, NULL);
}

/* An Alloc or Realloc's round trip: 0 and *off, *usable (may be NULL). */
static int
raw_alloc_reply(int fd, Poolmgr__Request *req, uint64_t *off,
		uint64_t *usable)
{
	Poolmgr__Reply *rep;
	int err;

	if ((err = harness_raw_error(fd, req, &rep)) != 0)
		return err;
	if (rep->body_case != POOLMGR__REPLY__BODY_ALLOC)
		return raw_lacking(req, rep);
	*off = rep->alloc->offset;
	if (usable)
		*usable = rep->alloc->usable_size;
	poolmgr__reply__free_unpacked(rep, NULL);
	return 0;
}

int
harness_raw_alloc(int fd, uint32_t h, uint64_t size, uint64_t *off,
		  uint64_t *usable)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;

	m.handle = h;
	m.size = size;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	return raw_alloc_reply(fd, &req, off, usable);
}

int
harness_raw_alloc_batch(int fd, uint32_t h, const uint64_t *sizes, size_t n,
			uint64_t *offs)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;
	Poolmgr__Reply *rep;
	int err;

	m.handle = h;
	m.sizes = (uint64_t *)sizes;
	m.n_sizes = n;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &m;
	if ((err = harness_raw_error(fd, &req, &rep)) != 0)
		return err;
	if (rep->body_case != POOLMGR__REPLY__BODY_ALLOC_BATCH ||
	    rep->alloc_batch->n_offsets != n)
		return raw_lacking(&req, rep);
	if (offs)
		memcpy(offs, rep->alloc_batch->offsets, n * sizeof(*offs));
	poolmgr__reply__free_unpacked(rep, NULL);
	return 0;
}

int
harness_raw_alloc_many(int fd, uint32_t h, uint64_t size, size_t n)
{
	static uint64_t sizes[POOL_BATCH_MAX];
	size_t i, k;
	int err;

	for (i = 0; i < n && i < POOL_BATCH_MAX; i++)
		sizes[i] = size;
	for (i = 0; i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		if ((err = harness_raw_alloc_batch(fd, h, sizes, k, NULL)))
			return err;
	}
	return 0;
}

int
harness_raw_realloc(int fd, uint32_t h, uint64_t *off, uint64_t size,
		    bool in_place)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;

	m.handle = h;
	m.offset = *off;
	m.size = size;
	m.in_place = in_place;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &m;
	return raw_alloc_reply(fd, &req, off, NULL);
}

int
harness_raw_block(int fd, Poolmgr__Request__BodyCase what, uint32_t h,
		  uint64_t off)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Free f = POOLMGR__FREE__INIT;
	Poolmgr__Retain r = POOLMGR__RETAIN__INIT;
	Poolmgr__Persist p = POOLMGR__PERSIST__INIT;
	Poolmgr__UsableSize u = POOLMGR__USABLE_SIZE__INIT;

	req.body_case = what;
	switch (what) {
	case POOLMGR__REQUEST__BODY_FREE:
		f.handle = h, f.offset = off, req.free = &f;
		break;
	case POOLMGR__REQUEST__BODY_RETAIN:
		r.handle = h, r.offset = off, req.retain = &r;
		break;
	case POOLMGR__REQUEST__BODY_PERSIST:
		p.handle = h, p.offset = off, req.persist = &p;
		break;
	case POOLMGR__REQUEST__BODY_USABLE_SIZE:
		u.handle = h, u.offset = off, req.usable_size = &u;
		break;
	default:
		fprintf(stderr, "harness_raw_block: %s is no request on a "
			"block\n", harness_raw_name(&req));
		return HARNESS_RAW_LOST;
	}
	return harness_raw_error(fd, &req, NULL);
}

int
harness_raw_free(int fd, uint32_t h, uint64_t off)
{
	return harness_raw_block(fd, POOLMGR__REQUEST__BODY_FREE, h, off);
}

int
harness_raw_retain(int fd, uint32_t h, uint64_t off)
{
	return harness_raw_block(fd, POOLMGR__REQUEST__BODY_RETAIN, h, off);
}

int
harness_raw_flood(int fd, uint32_t h, uint64_t off, int n, uint64_t id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize u = POOLMGR__USABLE_SIZE__INIT;
	uint8_t buf[128];
	size_t len;
	int i;

	u.handle = h;
	u.offset = off;
	req.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	req.usable_size = &u;
	for (i = 0; i < n; i++) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		req.id = id + (uint64_t)i;
		len = poolmgr__request__get_packed_size(&req);
		poolmgr__request__pack(&req, buf);
		while (send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
			if (errno != EAGAIN || poll(&pfd, 1, 5000) != 1)
				return i;
	}
	return i;
}

int
harness_raw_flood_replies(int fd, int n, uint64_t id, uint64_t usable)
{
	static uint8_t buf[65536];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	Poolmgr__Reply *rep;
	ssize_t got;
	int i;

	for (i = 0; i < n; i++) {
		if (poll(&pfd, 1, 10000) != 1 ||
		    (got = recv(fd, buf, sizeof(buf), MSG_TRUNC)) <= 0 ||
		    (size_t)got > sizeof(buf)) {
			fprintf(stderr, "reply %d of the flood: none (%s)\n", i,
				strerror(errno));
			return i;
		}
		rep = poolmgr__reply__unpack(NULL, (size_t)got, buf);
		if (!rep || rep->id != id + (uint64_t)i || rep->error != 0 ||
		    rep->body_case != POOLMGR__REPLY__BODY_ALLOC ||
		    rep->alloc->usable_size != usable) {
			fprintf(stderr, "reply %d of the flood: not the one "
				"owed (id %llu)\n", i,
				rep ? (unsigned long long)rep->id : 0ull);
			if (rep)
				poolmgr__reply__free_unpacked(rep, NULL);
			return i;
		}
		poolmgr__reply__free_unpacked(rep, NULL);
	}
	return i;
}
