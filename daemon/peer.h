/*
 * peer.h - one connection's messaging: datagrams in, datagrams (and passed
 * descriptors) out, on the libevent loop.  Knows nothing of the protocol's
 * meaning; server.c decodes and dispatches.
 */
#ifndef POOLMGRD_PEER_H
#define POOLMGRD_PEER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct peer;

/* The largest datagram either side may send (docs/protocol.md). */
#define PEER_MAX_MESSAGE 65536
/* Replies queued for a client that does not read, before it is dropped. */
#define PEER_MAX_QUEUED (4u * 1024 * 1024)

/*
 * Called for each datagram; buf NULL means the peer is gone (EOF, error,
 * protocol violation or peer_kill) and this is the last call.
 */
typedef void (*peer_dispatch_fn)(struct peer *p, const uint8_t *buf,
				 size_t len, void *arg);

struct peer *peer_new(struct event_base *base, int fd, peer_dispatch_fn fn,
		      void *arg);
int peer_fd(const struct peer *p);
void *peer_arg(const struct peer *p);

/*
 * Queue a datagram.  pass_fd >= 0 travels with it as SCM_RIGHTS; if
 * close_fd, the descriptor is closed once sent (or dropped).
 */
void peer_send(struct peer *p, const void *buf, size_t len, int pass_fd,
	       int close_fd);

/* Send what is queued, then close: dispatch gets its NULL call later. */
void peer_kill(struct peer *p);

/* Close every peer now (shutdown). */
void peer_close_all(void);

#endif /* POOLMGRD_PEER_H */
