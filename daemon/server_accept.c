/*
 * server_accept.c - a new connection: accepted, held to the connection
 * limits, and given its peer.
 *
 * The connection limits are checked with the new client counted, and one
 * past them is told why and closed at once.  One spare descriptor is kept
 * so that when accept fails for lack of descriptors the daemon can still
 * accept the connection, tell it why (-EUSERS) and close it, instead of
 * spinning on it.  Apart from server.c, which knows neither the clients'
 * records nor the limits: it says where connections go (accept_setup,
 * accept_start) and hears of each (served).
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "log.h"
#include "peer.h"
#include "peer_kept.h"
#include "server.h"
#include "server_internal.h"
#include "session.h"

static struct event_base *base;
static const struct config *server_cf;
static int reserve_fd = -1;
static struct event *ev_accept, *ev_accept_again;

/* DaemonStats' connections, since this image started (server.h). */
static uint64_t conns_accepted, conns_refused;

uint64_t
server_connections_accepted(void)
{
	return conns_accepted;
}

uint64_t
server_connections_refused(void)
{
	return conns_refused;
}

void
peer_dispatch(struct peer *p, const uint8_t *buf, size_t len, void *arg)
{
	struct session *s = arg;

	served();
	if (!buf) {
		log_debug("client pid %d uid %u disconnected", (int)s->pid,
			  (unsigned)s->uid);
		dispatch_forget(s);
		session_free(s);
		return;
	}
	dispatch_message(p, s, buf, len);
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
accept_one(int fd)
{
	struct session *s = session_new(fd);
	const char *why = NULL, *limit = NULL;
	unsigned max = 0, reserved, kept, kept_uid = 0, unread = 0;
	char also[96] = "";
	struct peer *p;

	served();
	conns_accepted++;
	if (!s) {
		static struct log_limit lim;

		if (errno == ENOMEM)
			log_limited(&lim, LOG_PRI_WARNING, "a new connection: "
				    "out of memory for its session; closing "
				    "it");
		else
			log_limited(&lim, LOG_PRI_WARNING, "a new connection: "
				    "SO_PEERCRED does not name its process "
				    "(%s); closing it", strerror(errno));
		close(fd);
		return;
	}
	log_debug("client pid %d uid %u connected", (int)s->pid,
		  (unsigned)s->uid);
	/*
	 * Counted with s itself: the one that goes over is told why and
	 * closed at once, so refused clients never hold a descriptor.  The
	 * last admin_connections places (below max_connections, config_read.c)
	 * are the admins': however many others connect, root and poolctl
	 * still get in to look.  Of max_connections, not past it, so that
	 * it stays the most descriptors connections take (raise_nofile).
	 * The connections kept for the descriptors their clients have not
	 * read (peer_kept.c) are still theirs: else a uid could pile those up.
	 * They are swept (a system call each) only when they would refuse.
	 */
	reserved = session_admin(s, server_cf) ? 0 :
	    server_cf->admin_connections;
	kept = peer_kept(s->uid, &kept_uid, false);
	if (kept && (session_count() + kept > server_cf->max_connections -
		     reserved || session_count_uid(s->uid) + kept_uid >
		     server_cf->max_connections_per_uid))
		kept = peer_kept(s->uid, &kept_uid, true);
	if (session_count() + kept > server_cf->max_connections - reserved) {
		why = "too many clients connected";
		limit = "max_connections";
		max = server_cf->max_connections;
		unread = kept;
		if (reserved)
			snprintf(also, sizeof(also), ", admin_connections %u",
				 reserved);
	} else if (session_count_uid(s->uid) + kept_uid >
		   server_cf->max_connections_per_uid) {
		why = "too many clients of this uid connected";
		limit = "max_connections_per_uid";
		max = server_cf->max_connections_per_uid;
		unread = kept_uid;
	}
	/* No listing shows the kept ones: said, else the count puzzles. */
	if (why && unread)
		snprintf(also + strlen(also), sizeof(also) - strlen(also),
			 "; %u of them kept until their clients read or close "
			 "them", unread);
	if (why) {
		static struct log_limit lim;

		/* The settings named: the operator's to change, or not. */
		log_limited(&lim, LOG_PRI_WARNING, "client pid %d uid %u: %s; "
			    "refusing it (%s %u%s)", (int)s->pid,
			    (unsigned)s->uid, why, limit, max, also);
		dispatch_refuse_connection(fd, -EUSERS, why);
		conns_refused++;
		session_free(s);
		close(fd);
		return;
	}
	if (!(p = peer_new(base, fd, peer_dispatch, s))) {
		static struct log_limit lim;

		log_limited(&lim, LOG_PRI_WARNING, "client pid %d uid %u: out "
			    "of memory for its connection; closing it",
			    (int)s->pid, (unsigned)s->uid);
		session_free(s);
		close(fd);
		return;
	}
	/* A client that never says Hello does not keep its descriptor. */
	peer_set_deadline(p, server_cf->hello_timeout);
	if (server_cf->hello_timeout)
		s->hello_deadline_ns = mono_ns() +
		    server_cf->hello_timeout * 1000000000ull;
}

static void
on_accept_again(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	event_add(ev_accept, NULL);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	int fd;

	(void)what;
	(void)arg;
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			accept_one(fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: refuse this one politely. */
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "out of file "
				    "descriptors; refusing a client");
			if (reserve_fd >= 0) {
				close(reserve_fd);
				fd = accept4(lfd, NULL, NULL,
					     SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd >= 0) {
					/* Told why, as a client past
					 * max_connections is. */
					dispatch_refuse_connection(fd, -EUSERS,
						"the daemon is out of "
						"descriptors");
					conns_accepted++;
					conns_refused++;
					close(fd);
				}
				reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			}
			/*
			 * Without a spare descriptor the waiting client stays
			 * in the backlog and the socket stays readable: stop
			 * listening for a second rather than spin on it.
			 */
			if (reserve_fd < 0) {
				struct timeval second = {1, 0};

				event_del(ev_accept);
				evtimer_add(ev_accept_again, &second);
			}
		} else if (errno != EAGAIN && errno != EINTR &&
			   errno != ECONNABORTED) {
			/* Short of memory, a flood fails each so. */
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "accepting a "
				    "connection: %s; trying again at the next",
				    strerror(errno));
		}
		return;
	}
}

void
accept_setup(struct event_base *loop, const struct config *cf)
{
	base = loop;
	server_cf = cf;
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void
accept_start(int lfd)
{
	ev_accept = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	ev_accept_again = evtimer_new(base, on_accept_again, NULL);
	if (!ev_accept || !ev_accept_again)
		fatalx("event_new failed");
	event_add(ev_accept, NULL);
}

void
accept_teardown(void)
{
	event_free(ev_accept);
	event_free(ev_accept_again);
	if (reserve_fd >= 0)
		close(reserve_fd);
}
