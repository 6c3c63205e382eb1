/*
 * notify.c - systemd's notification socket, never waited on.
 *
 * NOTIFY_SOCKET names a datagram socket.  The kernel queues at most
 * net.unix.max_dgram_qlen (10 by default) unread datagrams for it, and a
 * blocking send past that, as sd_notify(3) makes, waits until PID 1
 * reads: a manager that is busy or stopped would stall every client.  So
 * the socket is connected once and each message goes with MSG_DONTWAIT;
 * one that finds the receiver's queue full waits in ours, in order, and
 * goes from EV_WRITE, which a connected datagram socket reports once its
 * peer has read.  A socket that fails (a manager re-executed makes its
 * socket again) is made again after RETRY_MS, the messages still waiting.
 *
 * What waits is bounded.  Descriptors (FDSTORE=1) are refused once
 * NOTIFY_PUSH_MAX messages wait (notify_room), and the caller takes the
 * push as failed: the crash journal then says a crash loses the pools
 * instead of believing them kept.  Those clients make as many of as
 * they like (the kept connections) are refused at half that
 * (notify_room_spare), so that they never take the journal's room.  A
 * STATUS= replaces the one waiting and a WATCHDOG=1 joins it; the others
 * (READY=1, RELOADING=1, STOPPING=1, FDSTOREREMOVE=1) each must go, and
 * only past NOTIFY_WAIT_MAX is one dropped (and logged).
 *
 * An exec and an exit first send what waits, for at most NOTIFY_EXIT_MS:
 * a stop's pushes must be in before systemd reaps the daemon, and the
 * image an exec starts has none of our queue.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bsd/sys/queue.h>

#include "log.h"
#include "notify.h"

#define NOTIFY_PUSH_MAX	64	/* waiting: no descriptor is queued */
#define NOTIFY_WAIT_MAX	1024	/* waiting: the next message is dropped */
#define NOTIFY_EXIT_MS	10000	/* an exit's or an exec's wait, at most */
#define RETRY_MS	100	/* a failed socket made again after */

struct note {
	TAILQ_ENTRY(note) entry;
	enum notify_kind kind;
	int fd;			/* our duplicate, or -1 */
	size_t len;
	char text[];
};

static TAILQ_HEAD(, note) waiting = TAILQ_HEAD_INITIALIZER(waiting);
static unsigned nwaiting, nfds;
static int sock = -1;
static struct event_base *loop_base;
static struct event *ev_write, *ev_retry;
static long long stalled_since;	/* ms: 0, nothing waits on the receiver */
static bool exit_hooked;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
notify_enabled(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	return s && *s;
}

bool
notify_room(void)
{
	return nwaiting < NOTIFY_PUSH_MAX;
}

bool
notify_room_spare(void)
{
	return nwaiting < NOTIFY_PUSH_MAX / 2;
}

/*
 * NOTIFY_SOCKET's address: a path, or with '@' first a name in Linux's
 * abstract namespace, the '@' a NUL and no terminator counted.
 */
static int
notify_address(struct sockaddr_un *sun, socklen_t *len)
{
	const char *s = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!s || !*s)
		return -ENOTCONN;
	if (s[0] != '/' && s[0] != '@')
		return -EAFNOSUPPORT;
	if ((n = strlen(s)) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, s, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (s[0] == '@')
		sun->sun_path[0] = '\0';
	else
		(*len)++;
	return 0;
}

static int
notify_connect(void)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, rc;

	if ((rc = notify_address(&sun, &len)) != 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, len) == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	sock = fd;
	return 0;
}

static void
notify_disconnect(void)
{
	if (ev_write)
		event_free(ev_write);
	ev_write = NULL;
	if (sock >= 0)
		close(sock);
	sock = -1;
}

/* One message on the socket: 0, or -errno (-EAGAIN: its queue is full). */
static int
note_send(const struct note *n)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {(void *)n->text, n->len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (n->fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &n->fd, sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		return -errno;
	return 0;
}

static void
note_free(struct note *n)
{
	TAILQ_REMOVE(&waiting, n, entry);
	nwaiting--;
	if (n->fd >= 0) {
		close(n->fd);
		nfds--;
	}
	free(n);
}

/*
 * Send from the head on: 0 once nothing waits, -EAGAIN while the
 * receiver's queue is full, another -errno when the socket failed (it is
 * made again at the next try; the message stays first).
 */
static int
pump(void)
{
	static struct log_limit failed;
	struct note *n;
	int rc;

	while ((n = TAILQ_FIRST(&waiting))) {
		if (sock < 0 && (rc = notify_connect()) != 0) {
			log_limited(&failed, LOG_PRI_WARNING, "systemd's "
				    "notification socket: %s", strerror(-rc));
			return rc;
		}
		if ((rc = note_send(n)) == -EINTR)
			continue;
		if (rc == -EAGAIN)
			return rc;
		if (rc != 0) {
			log_limited(&failed, LOG_PRI_WARNING, "a notification "
				    "to systemd: %s", strerror(-rc));
			notify_disconnect();
			return rc;
		}
		note_free(n);
	}
	return 0;
}

static void on_writable(evutil_socket_t, short, void *);

/* Try again from the loop: once the receiver has read, or after a while. */
static void
schedule(int rc)
{
	struct timeval tv = {0, RETRY_MS * 1000};

	if (!loop_base)
		return;
	if (rc != -EAGAIN) {
		evtimer_add(ev_retry, &tv);
		return;
	}
	if (!ev_write && !(ev_write = event_new(loop_base, sock,
						 EV_WRITE | EV_PERSIST,
						 on_writable, NULL))) {
		/* No memory to hear the receiver read: try after a while. */
		evtimer_add(ev_retry, &tv);
		return;
	}
	event_add(ev_write, NULL);
}

static void
go(void)
{
	int rc = pump();

	if (rc == 0) {
		if (ev_write)
			event_del(ev_write);
		if (stalled_since)
			log_info("systemd reads notifications again, after "
				 "%lld ms", now_ms() - stalled_since);
		stalled_since = 0;
		return;
	}
	if (!stalled_since) {
		stalled_since = now_ms();
		log_warnx("notifications wait: systemd reads none (%s); %u "
			  "queued, serving on", rc == -EAGAIN ?
			  "its socket's queue is full" : strerror(-rc),
			  nwaiting);
	}
	schedule(rc);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	go();
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	go();
}

int
notify_send(const char *msg, int fd, enum notify_kind kind)
{
	static struct log_limit dropped;
	struct note *n, *old = NULL;
	size_t len = strlen(msg);
	int rc;

	if (!notify_enabled())
		return -ENOTCONN;
	if (kind != NOTIFY_EVERY)
		TAILQ_FOREACH(old, &waiting, entry)
			if (old->kind == kind)
				break;
	if (kind == NOTIFY_WATCHDOG && old)
		return 0;
	if (fd < 0 && !old && nwaiting >= NOTIFY_WAIT_MAX) {
		log_limited(&dropped, LOG_PRI_WARNING, "%u notifications wait "
			    "for systemd; \"%.40s\" dropped", nwaiting, msg);
		return -ENOBUFS;
	}
	if (!(n = malloc(sizeof(*n) + len + 1)))
		return -ENOMEM;
	n->fd = -1;
	if (fd >= 0 && (n->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		rc = -errno;
		free(n);
		return rc;
	}
	nfds += n->fd >= 0;
	n->kind = kind;
	n->len = len;
	memcpy(n->text, msg, len + 1);
	/* Behind whatever came since: only the newest status counts. */
	if (old)
		note_free(old);
	TAILQ_INSERT_TAIL(&waiting, n, entry);
	nwaiting++;
	if (!exit_hooked && atexit(notify_flush) == 0)
		exit_hooked = true;
	/* Stalled, it goes when the loop hears the receiver has read. */
	if (!stalled_since || !loop_base)
		go();
	return 0;
}

void
notify_setup(struct event_base *base)
{
	loop_base = base;
	if (!(ev_retry = evtimer_new(base, on_retry, NULL)))
		fatalx("evtimer_new failed");
	if (!TAILQ_EMPTY(&waiting))
		go();
}

static void
sleep_ms(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* notify_flush, and whether everything waiting went. */
static bool
flush(void)
{
	struct pollfd pfd = {.events = POLLOUT};
	long long end = now_ms() + NOTIFY_EXIT_MS, left;
	int rc;

	while ((rc = pump()) != 0 && (left = end - now_ms()) > 0) {
		if (rc == -EAGAIN) {
			pfd.fd = sock;
			(void)poll(&pfd, 1, (int)left);
		} else
			sleep_ms(left < RETRY_MS ? left : RETRY_MS);
	}
	if (rc != 0)
		log_warnx("%u notification%s to systemd not sent, %u with a "
			  "descriptor for its fd store: it read none for %d ms",
			  nwaiting, nwaiting == 1 ? "" : "s", nfds,
			  NOTIFY_EXIT_MS);
	else if (stalled_since)
		log_info("systemd reads notifications again, after %lld ms",
			 now_ms() - stalled_since);
	while (!TAILQ_EMPTY(&waiting))
		note_free(TAILQ_FIRST(&waiting));
	if (ev_write)
		event_del(ev_write);
	if (ev_retry)
		event_del(ev_retry);
	stalled_since = 0;
	return rc == 0;
}

void
notify_flush(void)
{
	(void)flush();
}

bool
notify_teardown(void)
{
	bool sent = flush();

	notify_disconnect();
	if (ev_retry)
		event_free(ev_retry);
	ev_retry = NULL;
	loop_base = NULL;
	return sent;
}
