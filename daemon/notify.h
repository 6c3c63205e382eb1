/*
 * notify.h - the messages to systemd's notification socket (NOTIFY_SOCKET,
 * sd_notify(3)), sent without ever making the loop wait (notify.c).
 */
#ifndef POOLMGRD_NOTIFY_H
#define POOLMGRD_NOTIFY_H

#include <stdbool.h>

struct event_base;

enum notify_kind {
	NOTIFY_EVERY,		/* each one goes, in order */
	NOTIFY_STATUS,		/* STATUS= alone: only the latest waits */
	NOTIFY_WATCHDOG,	/* WATCHDOG=1: one waiting is enough */
};

/* Is there a NOTIFY_SOCKET to send to? */
bool notify_enabled(void);

/*
 * Send msg, with fd (-1: none) as SCM_RIGHTS, or queue it behind those
 * waiting for the receiver to read; a descriptor waits as a duplicate.
 * 0, or -errno: -ENOTCONN without NOTIFY_SOCKET, -ENOBUFS when a
 * descriptor is to go while NOTIFY_PUSH_MAX messages wait already (see
 * notify_room), -EMFILE and the like if it cannot be duplicated.
 */
int notify_send(const char *msg, int fd, enum notify_kind kind);

/* May descriptors be queued now?  All of one batch go if one may. */
bool notify_room(void);
/*
 * The same for a descriptor as many clients' doings may push (a kept
 * connection, peer_store.c): half the room, the rest left for the crash
 * journal's and a stop's, which those must never find taken.
 */
bool notify_room_spare(void);

/* What waits goes on from the loop of base, once it can. */
void notify_setup(struct event_base *base);

/*
 * Before an exec or an exit: send what waits, waiting at most
 * NOTIFY_EXIT_MS for the receiver to read; what is left is logged and
 * dropped.  notify_teardown also frees the loop's events, and says
 * whether everything went.
 */
void notify_flush(void);
bool notify_teardown(void);

#endif /* POOLMGRD_NOTIFY_H */
