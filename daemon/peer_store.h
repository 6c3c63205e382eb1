/*
 * peer_store.h - the connections kept for the descriptors their clients
 * have not read (peer.c), kept in systemd's fd store too (peer_store.c).
 */
#ifndef POOLMGRD_PEER_STORE_H
#define POOLMGRD_PEER_STORE_H

/* How many kept connections the store may hold; 0: it is not used. */
unsigned peer_store_room(void);

/*
 * Push fd as "unread.<id>", stored being how many kept connections the
 * store holds already: 0, or -errno (none stored: the store unused, its
 * room for them full, or a refusal, logged).
 */
int peer_store_push(unsigned id, int fd, unsigned stored);

/* Take "unread.<id>" out of the store (a refusal is logged). */
void peer_store_remove(unsigned id);

#endif /* POOLMGRD_PEER_STORE_H */
