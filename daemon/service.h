/*
 * service.h - the daemon's side of systemd: socket activation, readiness,
 * status, reload and stop notifications, and the watchdog.
 *
 * Built without libsystemd (make SYSTEMD=0) every function is a no-op and
 * service_listen_fd returns -1, so the daemon binds its socket itself.
 * With libsystemd but started by hand (no NOTIFY_SOCKET, no LISTEN_FDS) the
 * calls cost nothing either.
 */
#ifndef POOLMGRD_SERVICE_H
#define POOLMGRD_SERVICE_H

struct event_base;

/* The listening socket systemd passed us, or -1 to bind our own. */
int service_listen_fd(void);

/* READY=1 with a one-line STATUS=. */
void service_ready(const char *status);
void service_status(const char *status);
/* RELOADING=1 with MONOTONIC_USEC=, before a configuration reload. */
void service_reloading(void);
void service_stopping(void);

/* Ping the watchdog from the loop at half of WatchdogSec=, if set. */
void service_watchdog_start(struct event_base *base);
void service_watchdog_stop(void);

#endif /* POOLMGRD_SERVICE_H */
