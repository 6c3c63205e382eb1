/*
 * peer_store.h - the connections kept for the descriptors their clients
 * have not read (peer_kept.c), kept in systemd's fd store too (peer_store.c).
 */
#ifndef POOLMGRD_PEER_STORE_H
#define POOLMGRD_PEER_STORE_H

#include <stdbool.h>

struct event_base;

/* How many kept connections the store may hold; 0: it is not used. */
unsigned peer_store_room(void);

/*
 * Push fd as "unread.<id>", stored being how many kept connections the
 * store holds already: 0, or -errno (none stored: the store unused, its
 * room for them full, or a refusal, logged).
 */
int peer_store_push(unsigned id, int fd, unsigned stored);

/*
 * Take "unread.<id>" out of the store: 0, or -errno when the store could
 * not be asked (logged): the caller keeps the connection and calls
 * peer_store_again.
 */
int peer_store_remove(unsigned id);
/*
 * peer_kept_leave (peer.c) once more after a wait, unless one is due
 * already: 100 ms, doubled while it leaves some, up to 10 s.
 */
void peer_store_again(void);

/* The timer of those tries, on base's loop: false if it cannot be made. */
bool peer_store_setup(struct event_base *base);
/* Before the loop is freed: no try more. */
void peer_store_teardown(void);

#endif /* POOLMGRD_PEER_STORE_H */
