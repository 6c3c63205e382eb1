/*
 * peer_kept.h - connections let go of while their clients had descriptors
 * unread, kept until each client reads them or closes (peer_kept.c).
 */
#ifndef POOLMGRD_PEER_KEPT_H
#define POOLMGRD_PEER_KEPT_H

#include <stdbool.h>
#include <sys/types.h>

struct event_base;

/* Bytes of datagrams sent on fd that its client has not read yet (1 if
 * unknown: a socket is never let go of wrongly). */
int peer_unread_bytes(int fd);
/*
 * Keep fd, uid's connection let go of with descriptors unread: shut down
 * both ways, counted, and pushed to the store.  False, fd left to the
 * caller to close, if out of memory.
 */
bool peer_kept_add(int fd, uid_t uid);
/* A stop: every kept connection closed here, left in the store. */
void peer_kept_close_all(void);
/* The timer that looks at them all while any is kept; false if it
 * cannot be made. */
bool peer_kept_setup(struct event_base *base);
void peer_kept_teardown(void);

/*
 * The connections let go of while their clients had replies unread, and
 * descriptors among them, kept until each client reads them or closes
 * (peer_kept.c): how many, and how many of them are uid's.  With sweep, those
 * the clients are done with are closed first: a system call each, so
 * only when the count matters.  They count as connections
 * (server_accept.c).
 */
unsigned peer_kept(uid_t uid, unsigned *of_uid, bool sweep);
/*
 * The same for anyone who asks (DaemonStats): at most most of them are
 * looked at, in turn from where the last look stopped, and those done
 * with closed; how many are kept.  So a connection whose client is done
 * is counted until enough looks have come round to it (or a refusal
 * looks at them all), and no request costs more than most system calls.
 */
unsigned peer_kept_look(unsigned most);

/*
 * A restart in place: the kept connections go to the new image with the
 * rest ("unread.<id>", restart.c), else it would count none of them while
 * their descriptors stay in flight.  Under systemd's fd store they are in
 * it already, under the same names (peer_store.c), and a crash keeps
 * them too.  peer_kept_fds puts their descriptors in fd and their ids in
 * id (each if not NULL), in the order of the ids, and says how many.  The
 * new image takes each back with peer_keep_taken, under its id, and
 * leaves it in the store.
 */
unsigned peer_kept_fds(int *fd, unsigned *id);
void peer_keep_taken(int fd, unsigned id);
/*
 * Those whose clients are done with them, but whose removal from the
 * store could not be asked for (peer_store.c asks again): each is kept,
 * its id given to no other, and handed to a new image with the rest
 * (which finds it done with and asks again).  peer_kept_leave asks the
 * store once more for each, and closes those it could ask: true while
 * some are left.
 */
bool peer_kept_leave(void);
/*
 * After an exec, each kept connection taken is pushed to the store
 * again: the older image had pushed only those it had room for, and one
 * from before the store held them none.  systemd keeps a descriptor it
 * holds already once, under its first name (sd_notify(3)).
 */
void peer_kept_push(void);
/*
 * The daemon exits freeing everything (no stop to the store): the kept
 * connections leave the store, as the crash journal does, so that a
 * start after it starts fresh.
 */
void peer_kept_forget(void);

#endif
