/*
 * peer_socket.h - what peer.c asks of and sets on a connection's socket
 * (peer_socket.c).  peer_uid and peer_refuse_fds, which the rest of the
 * daemon calls too, are in peer.h.
 */
#ifndef POOLMGRD_PEER_SOCKET_H
#define POOLMGRD_PEER_SOCKET_H

#include <stdbool.h>

struct msghdr;

/*
 * Make fd's send buffer PEER_SNDBUF, where the machine's default is
 * larger and the kernel's cap leaves room for the largest reply.
 */
void peer_bound_sndbuf(int fd);
/* Close descriptors a client tried to pass us; true if there were any. */
bool drop_passed_fds(struct msghdr *msg);

#endif /* POOLMGRD_PEER_SOCKET_H */
