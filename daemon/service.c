/*
 * service.c - systemd integration: socket activation and the watchdog's
 * period through libsystemd (sd-daemon(3)), the notifications through
 * notify.c, which never waits for systemd to read them.
 *
 * The watchdog is pinged from a libevent timer, so a wedged event loop
 * stops the pings and systemd restarts the daemon; a loop that runs but
 * never reaches the timer is exactly what WatchdogSec= is meant to catch.
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "notify.h"
#include "service.h"

#ifdef HAVE_SYSTEMD

#include <event2/event.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

static struct event *watchdog_ev;

int
service_listen_fd(void)
{
	int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START, flags;

	if (n <= 0)
		return -1;
	if (n > 1)
		log_warnx("systemd passed %d sockets; using the first", n);
	if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
		fatalx("the socket systemd passed is not a listening "
		       "SOCK_SEQPACKET Unix socket (ListenSequentialPacket=)");
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("fcntl on the passed socket");
	return fd;
}

void
service_ready(const char *status)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	(void)notify_send(msg, -1, NOTIFY_EVERY);
}

void
service_status(const char *status)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	(void)notify_send(msg, -1, NOTIFY_STATUS);
}

void
service_reloading(void)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=reloading\n"
		 "MONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec *
		 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	(void)notify_send(msg, -1, NOTIFY_EVERY);
}

void
service_stopping(void)
{
	(void)notify_send("STOPPING=1\nSTATUS=stopping", -1, NOTIFY_EVERY);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)notify_send("WATCHDOG=1", -1, NOTIFY_WATCHDOG);
}

void
service_watchdog_start(struct event_base *base)
{
	uint64_t usec;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
	if (!watchdog_ev)
		fatalx("event_new failed");
	event_add(watchdog_ev, &tv);
	log_info("watchdog: pinging every %llu ms",
		 (unsigned long long)usec / 1000);
}

void
service_watchdog_stop(void)
{
	if (watchdog_ev) {
		event_free(watchdog_ev);
		watchdog_ev = NULL;
	}
}

#else /* !HAVE_SYSTEMD */

int
service_listen_fd(void)
{
	return -1;
}

void
service_ready(const char *status)
{
	(void)status;
}

void
service_status(const char *status)
{
	(void)status;
}

void
service_reloading(void)
{
}

void
service_stopping(void)
{
}

void
service_watchdog_start(struct event_base *base)
{
	(void)base;
}

void
service_watchdog_stop(void)
{
}

#endif /* HAVE_SYSTEMD */
