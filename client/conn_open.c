/*
 * conn_open.c - the making of a connection to poolmgrd, and its
 * unmaking: the socket connected, the Hello, and every connection's place
 * on the list that fork() goes through.  What a connection carries once
 * it is made is conn.c's.
 *
 * Only the making of a connection has a time bound: connect(2) and the
 * Hello round trip end by a deadline (conn_open), so that a daemon that is
 * stopped, hung or not a daemon at all fails a program's start rather
 * than hang it.  Requests have none: the daemon runs under a watchdog,
 * and some waits (pool_lookup_wait) are long by design.
 *
 * The wait that holds conn.c's send and receive to the deadline
 * (conn_ready) is here too.
 *
 * After fork() the child shares its parent's socket.  A request the child
 * sent on it would be answered to whichever process read first, and its
 * ClosePool would close the parent's handle; and the child's copy of the
 * socket would keep a crashed parent's blocks from being reclaimed.  So
 * every connection is on a list, and the child side of pthread_atfork
 * marks each one forked and closes the child's copy of its socket (the
 * parent's stays open: the daemon sees nothing).  In the child every call
 * on such a connection, or on a pool opened through it, is -ECHILD, and
 * closing them frees only the child's memory.  The prepare side takes the
 * list's lock and every connection's, so the child finds them consistent:
 * both are only ever held for short, non-blocking stretches.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"

static pthread_mutex_t		conns_lock = PTHREAD_MUTEX_INITIALIZER;
TAILQ_HEAD(conn_list, pool_conn);
static struct conn_list		conns = TAILQ_HEAD_INITIALIZER(conns);
static pthread_once_t		conns_once = PTHREAD_ONCE_INIT;
static int			conns_atfork;	/* registered */

static void
conns_prepare(void)
{
	struct pool_conn	*c;

	pthread_mutex_lock(&conns_lock);
	TAILQ_FOREACH(c, &conns, all) {
		pthread_mutex_lock(&c->lock);
	}
}

static void
conns_parent(void)
{
	struct pool_conn	*c;

	TAILQ_FOREACH(c, &conns, all) {
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&conns_lock);
}

/*
 * Only the forking thread lives on in the child: the calls other threads
 * were waiting in are gone with them, so their list is forgotten, not
 * failed (their condition variables may not be touched).
 */
static void
conns_child(void)
{
	struct pool_conn	*c;

	TAILQ_FOREACH(c, &conns, all) {
		c->forked = 1;
		c->broken = 1;
		c->reading = 0;
		TAILQ_INIT(&c->calls);
		/* cppcheck cannot follow TAILQ_FOREACH: c is listed. */
		/* cppcheck-suppress uninitvar */
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&conns_lock);
}

static void
conns_init(void)
{
	conns_atfork = pthread_atfork(conns_prepare, conns_parent,
	    conns_child) == 0;
}

/* Nanoseconds of CLOCK_MONOTONIC: the clock of a connect's deadline. */
static uint64_t
conn_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* What is left of the time until deadline, in ns: 0 once it has passed. */
static uint64_t
conn_ns_left(uint64_t deadline)
{
	uint64_t	now = conn_now_ns();

	return deadline > now ? deadline - now : 0;
}

/*
 * Wait until the socket is ready for events (POLLIN, POLLOUT), or an error
 * or its end is there for the call that follows to find, or c's deadline
 * has passed: 0, or -ETIMEDOUT.  A connection without a deadline (every
 * one once its Hello is answered) returns at once: its calls block as
 * they always did.  A signal does not end the wait, nor move the deadline;
 * nor does a poll that came back a little early, rounding aside.
 */
int
conn_ready(const struct pool_conn *c, short events)
{
	struct pollfd	pfd;
	uint64_t	left;
	int		rc;

	if (c->deadline == 0)
		return 0;
	pfd.fd = c->fd;
	pfd.events = events;
	for (;;) {
		left = conn_ns_left(c->deadline);
		/* Rounded up: no poll ends before the deadline. */
		rc = poll(&pfd, 1, (int)((left + 999999) / 1000000));
		if (rc > 0)
			return 0;
		if (rc == 0 && left == 0)
			return -ETIMEDOUT;
		if (rc == -1 && errno != EINTR)
			return -errno;
	}
}

/* Say hello: version 1 and our name, shown by `poolctl clients`. */
static int
conn_hello(struct pool_conn *c)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello		 hello = POOLMGR__HELLO__INIT;
	Poolmgr__Reply		*reply;
	char			 name[64];
	int			 error;

	/* Bounded: the daemon shows it in a fixed-size field. */
	snprintf(name, sizeof name, "%s", program_invocation_short_name);

	hello.version = CONN_VERSION;
	hello.client_name = name;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;

	error = conn_call(c, &req, POOLMGR__REPLY__BODY_HELLO, &reply, NULL);
	if (error != 0)
		return error;

	if (reply->hello->version != CONN_VERSION)
		error = -EPROTONOSUPPORT;
	else if (reply->hello->max_message != 0 &&
	    reply->hello->max_message < c->max_send)
		c->max_send = reply->hello->max_message;
	/* Set once, before any other thread can see the connection. */
	c->features = reply->hello->features;
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/*
 * Bound fd's blocking connect (or sends) to ns nanoseconds, rounded up to
 * a microsecond; 0 takes the bound away (SO_SNDTIMEO's zero is none).
 */
static int
conn_send_timeout(int fd, uint64_t ns)
{
	struct timeval	tv;

	ns += 999;
	tv.tv_sec = (time_t)(ns / 1000000000);
	tv.tv_usec = (suseconds_t)(ns % 1000000000 / 1000);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1)
		return -errno;
	return 0;
}

/*
 * Connect to the listening socket sun.  A connect waits while the daemon's
 * backlog is full, and a signal then fails it with EINTR, the socket
 * still unconnected (AF_UNIX connects at once or not at all): it is tried
 * again, as every other wait of the library goes on through a signal.
 *
 * With a deadline (not 0), SO_SNDTIMEO bounds that wait: it is what bounds
 * a blocking connect of AF_UNIX, whose nonblocking connect fails EAGAIN at
 * once on a full backlog rather than wait, and whose poll cannot say when
 * the backlog has room.  It is set to the time left before each try (the
 * first try is made even with none left, so that a missing socket is
 * still -ENOENT), a try that ran out fails EAGAIN, and it is taken away
 * once connected: the requests that follow block as they always did.
 */
static int
conn_connect(int fd, const struct sockaddr_un *sun, uint64_t deadline)
{
	uint64_t	left;
	int		error;

	for (;;) {
		if (deadline != 0) {
			left = conn_ns_left(deadline);
			error = conn_send_timeout(fd, left > 0 ? left : 1);
			if (error != 0)
				return error;
		}
		if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0)
			break;
		if (errno != EINTR && (errno != EAGAIN || deadline == 0))
			return -errno;
		if (deadline != 0 && conn_ns_left(deadline) == 0)
			return -ETIMEDOUT;
	}
	return deadline != 0 ? conn_send_timeout(fd, 0) : 0;
}

/*
 * The bound of pool_connect: $POOLMGR_CONNECT_TIMEOUT, seconds with an
 * optional decimal fraction ("0.5"), read here rather than by strtod,
 * whose decimal point is the locale's; what is finer than a millisecond
 * rounds up, so that no bound asked for becomes none.  0 is no bound
 * (-1), and so is one past what an int of milliseconds holds (24 days);
 * unset, empty or not such a number is the default, as a bad
 * $POOLMGR_CLIENT_CACHE is (cache_env_budget).
 */
int
conn_env_timeout(void)
{
	const char	*v = getenv("POOLMGR_CONNECT_TIMEOUT");
	uint64_t	 ms = 0;
	unsigned	 scale = 1000;
	int		 digits = 0, finer = 0;

	if (v == NULL)
		return CONN_TIMEOUT_MS;
	for (; *v >= '0' && *v <= '9'; v++, digits++) {
		ms = ms * 10 + (uint64_t)(*v - '0') * 1000;
		if (ms > INT_MAX)
			ms = (uint64_t)INT_MAX + 1;	/* and it stays over */
	}
	if (*v == '.') {
		for (v++; *v >= '0' && *v <= '9'; v++, digits++) {
			scale /= 10;
			if (scale > 0)
				ms += (uint64_t)(*v - '0') * scale;
			else if (*v != '0')
				finer = 1;
		}
	}
	if (*v != '\0' || digits == 0)
		return CONN_TIMEOUT_MS;
	ms += finer;
	if (ms == 0 || ms > INT_MAX)
		return -1;
	return (int)ms;
}

/*
 * Connect to the daemon at path and say hello, within timeout_ms (-1: no
 * bound).  A daemon that is not there is the errno of connect, negated
 * (-ENOENT, -EACCES, -ECONNREFUSED, ...); for -ENOENT, pool_last_message
 * says it was the socket, for -EACCES what refused and what lets a client
 * in (conn_note_denied), for -ECONNREFUSED and -EPROTOTYPE what is at the
 * path (conn_note_refused).  One that did not take the connection or answer
 * the Hello in time is -ETIMEDOUT, and pool_last_message says where and
 * which bound.  Nothing is left behind: the socket is closed, and no
 * thread was started.
 */
int
conn_open(const char *path, int timeout_ms, struct pool_conn **out)
{
	struct sockaddr_un	 sun;
	struct pool_conn	*c;
	uint64_t		 deadline = 0;
	int			 error;

	*out = NULL;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	/* Words of their own: the codes' texts name other cases first. */
	if (*path == '\0') {
		conn_note_words(-EINVAL, "the socket path is empty");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof sun.sun_path) {
		conn_note_words(-ENAMETOOLONG, "the socket path is longer "
		    "than a socket address holds (107 bytes)");
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path));

	pthread_once(&conns_once, conns_init);
	if (!conns_atfork)
		return -ENOMEM;	/* pthread_atfork's only failure */
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->rbuf = malloc(CONN_MAX_MESSAGE)) == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->fd = -1;
	c->next_id = 1;
	c->max_send = CONN_MAX_MESSAGE;
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->pools);
	pthread_mutex_init(&c->lock, NULL);
	/* From here: the socket's creation counts too. */
	if (timeout_ms >= 0)
		deadline = conn_now_ns() + (uint64_t)timeout_ms * 1000000;

	/*
	 * Listed, and its lock held, before the socket exists: a fork in
	 * another thread then either comes before the socket (the child has
	 * none) or waits for it to be known (the child closes its copy).
	 * Not across the connect, which may wait up to the bound (for ever
	 * without one): a fork would wait as long.
	 */
	pthread_mutex_lock(&conns_lock);
	TAILQ_INSERT_TAIL(&conns, c, all);
	pthread_mutex_lock(&c->lock);
	pthread_mutex_unlock(&conns_lock);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0);
	error = c->fd == -1 ? -errno : 0;
	pthread_mutex_unlock(&c->lock);
	if (error == 0)
		error = conn_connect(c->fd, &sun, deadline);
	if (error == -ENOENT)
		conn_note_missing_socket(path);
	if (error == -EACCES)
		conn_note_denied(path);
	if (error == -ECONNREFUSED || error == -EPROTOTYPE)
		conn_note_refused(path, error);
	if (error == 0) {
		/* Set and cleared before any other thread sees c. */
		c->deadline = deadline;
		error = conn_hello(c);
		c->deadline = 0;
	}
	/* Ours, not a (lying) daemon's Hello refused with the code. */
	if (error == -ETIMEDOUT && deadline != 0 &&
	    conn_ns_left(deadline) == 0)
		conn_note_timeout(path, timeout_ms);
	if (error != 0) {
		conn_free(c);
		return error;
	}
	*out = c;
	return 0;
}

/*
 * Close the socket and free the connection; no call may be in progress.
 * The socket goes while the connection is still listed (for fork, as in
 * conn_open); in a forked child it is closed already.
 */
void
conn_free(struct pool_conn *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&conns_lock);
	TAILQ_REMOVE(&conns, c, all);
	pthread_mutex_unlock(&conns_lock);
	pthread_mutex_destroy(&c->lock);
	free(c->rbuf);
	free(c);
}
