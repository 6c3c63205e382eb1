/*
 * peer.h - one connection's messaging: datagrams in, datagrams (and passed
 * descriptors) out, on the libevent loop.  Knows nothing of the protocol's
 * meaning; dispatch.c decodes and dispatches what server_accept.c's
 * callback hands it.
 */
#ifndef POOLMGRD_PEER_H
#define POOLMGRD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct peer;

/* The largest datagram either side may send (docs/protocol.md). */
#define PEER_MAX_MESSAGE 65536
/*
 * The send buffer of every connection, as the kernel counts it (skbs'
 * truesize; SO_SNDBUF asks for half): room for the largest reply (the
 * kernel refuses a datagram over the buffer less 32 bytes) and for a
 * read batch of small ones (64 of some 800 bytes each), and what bounds
 * the descriptors one connection holds in flight (peer.c).
 */
#define PEER_SNDBUF (2 * PEER_MAX_MESSAGE)
/* Replies queued for a client that does not read, before it is dropped. */
#define PEER_MAX_QUEUED (4u * 1024 * 1024)
/* The descriptors those replies may pass, likewise. */
#define PEER_MAX_QUEUED_FDS 8
/*
 * The replies queued for all the connections of one uid, before the one
 * whose reply would pass it is dropped: a uid may open
 * max_connections_per_uid connections (256), and PEER_MAX_QUEUED for each
 * would be a gigabyte.
 */
#define PEER_MAX_QUEUED_UID (64u * 1024 * 1024)

/*
 * Called for each datagram; buf NULL means the peer is gone (EOF, error,
 * protocol violation or peer_kill) and this is the last call.
 */
typedef void (*peer_dispatch_fn)(struct peer *p, const uint8_t *buf,
				 size_t len, void *arg);

/*
 * Make socket fd refuse descriptors sent to it (the sender's sendmsg
 * fails with EPERM); a listener's connections inherit it at connect.
 * Kernels before Linux 6.16 take them all the same (peer.c).
 */
void peer_refuse_fds(int fd);
/* A peer on fd; NULL, nothing kept and fd left open, if out of memory. */
struct peer *peer_new(struct event_base *base, int fd, peer_dispatch_fn fn,
		      void *arg);
int peer_fd(const struct peer *p);
void *peer_arg(const struct peer *p);

/* Descriptors that travel with one datagram as SCM_RIGHTS. */
#define PEER_MAX_FDS 2
struct peer_fds {
	int n;
	int fd[PEER_MAX_FDS];
	bool close[PEER_MAX_FDS];	/* close it once sent (or dropped) */
};

/*
 * Send a datagram, with fds (NULL: none).  Replies made while the peer's
 * requests are being read are sent together when the read batch ends.
 */
void peer_send(struct peer *p, const void *buf, size_t len,
	       const struct peer_fds *fds);

/*
 * Keep the datagram being dispatched (buf, len), and every one after it,
 * for later, and stop reading: the request must wait.  Called from the
 * dispatch function (again from a resumed one: the datagram stays first).
 */
void peer_hold(struct peer *p, const uint8_t *buf, size_t len);
bool peer_holding(const struct peer *p);

/*
 * Dispatch the held datagrams again, in order, until one is held again;
 * then, if none is, read on.  Not from inside the peer's own callbacks.
 */
void peer_resume(struct peer *p);

/*
 * Give back the pages of the read and reply buffers (memtrim.c).  Not
 * from inside a peer's callbacks: they must be empty.
 */
void peer_buffers_release(void);

/* Send what is queued, then close: dispatch gets its NULL call later. */
void peer_kill(struct peer *p);

/* Drop the peer if it is still here in seconds (0: never); or stop that. */
void peer_set_deadline(struct peer *p, unsigned seconds);
/* The same in ms, 0 being at once: the time a restart carried over. */
void peer_set_deadline_ms(struct peer *p, uint64_t ms);
void peer_clear_deadline(struct peer *p);
/*
 * Peers dropped at their deadline since this image started: the Hello
 * timeout's, the only deadline a peer has (DaemonStats).
 */
uint64_t peer_deadline_drops(void);

/*
 * The uid of the client on fd, as the kernel says; one no uid has if it
 * will not say, so that such clients share one bound.
 */
uid_t peer_uid(int fd);

/* Close every peer now (shutdown), and every connection kept (peer_kept.h). */
void peer_close_all(void);

/*
 * A restart in place (restart.c).  Every peer, in no particular order.
 * peer_all_quiet: no peer holds a request or is being closed.
 * peer_drop_closing drops those being closed at once, and says how many
 * lost replies with them.
 */
struct peer *peer_first(void);
struct peer *peer_next(struct peer *p);
bool peer_all_quiet(void);
unsigned peer_drop_closing(void);

/*
 * The replies queued for p and not sent yet, oldest first: whole
 * datagrams, carried over a restart as they are, each with the
 * descriptors it passes (the reply's own: they stay p's).
 */
typedef void (*peer_unsent_fn)(const void *buf, size_t len,
			       const struct peer_fds *fds, void *arg);
void peer_unsent_each(const struct peer *p, peer_unsent_fn fn, void *arg);
/*
 * The new image: queue a carried reply on p before anything it reads, as
 * if the socket had been full, with fds (NULL: none) as peer_send takes
 * them; false if that went over the queue's limits or the daemon has no
 * descriptor to spare, or one of fds is -1, which could not be had (the
 * peer is dropped, as any that does not read).
 */
bool peer_carry(struct peer *p, const void *buf, size_t len,
		const struct peer_fds *fds);
/* What a queued reply of len bytes counts against PEER_MAX_QUEUED. */
size_t peer_out_cost(size_t len);

/*
 * While a restart waits (pause true), no peer reads a request, a new one
 * neither: they wait in the connections for the new image.  What was read
 * already is still served.  false: every peer reads again.
 */
void peer_pause_reads(bool pause);
/* Is a restart waiting, with reads paused? */
bool peer_reads_are_paused(void);

#endif /* POOLMGRD_PEER_H */
